//! `skipless lyrics PATH` on real files: a `.lrc` beside the file (in Latin-1), lyrics written
//! into the tags with lofty (ID3 `USLT` and `SYLT`, Vorbis `LYRICS`), the configured lyrics
//! folder, and a file with none.

use std::path::Path;

use lofty::config::WriteOptions;
use lofty::id3::v2::{
    BinaryFrame, Frame, FrameId, Id3v2Tag, SyncTextContentType, SynchronizedTextFrame, TimestampFormat,
};
use lofty::prelude::{TagExt, TaggedFileExt};
use lofty::tag::{ItemKey, Tag};
use lofty::TextEncoding;

use crate::common::{corpus, skipless, stdout_of};

fn lyrics_of(data: &Path, file: &Path) -> String {
    stdout_of(skipless(data).arg("lyrics").arg(file))
}

#[test]
fn lyrics_come_from_a_sidecar_lrc_then_the_tags_then_the_lyrics_folder() {
    let data = tempfile::tempdir().unwrap();
    let music = data.path().join("music");
    std::fs::create_dir_all(&music).unwrap();

    // A .lrc beside the file, written in Latin-1, with a bad line.
    let sad = music.join("sad.ogg");
    std::fs::copy(corpus().join("sad.ogg"), &sad).unwrap();
    std::fs::write(
        music.join("sad.lrc"),
        b"[ar:Tyler Johnson]\n[00:01.50]caf\xe9 cr\xe8me\n[oops]\n[00:03.00][00:00.50]twice\n",
    )
    .unwrap();
    assert_eq!(
        lyrics_of(data.path(), &sad),
        "[00:00.50] twice\n[00:01.50] café crème\n[00:03.00] twice\n"
    );
    // A broken time stamp is named by its line; the good lines are shown.
    std::fs::write(
        music.join("sad.lrc"),
        "[00:01.00]one\n[00:99.00]bad seconds\n[00:02.00]two\n",
    )
    .unwrap();
    let out = skipless(data.path()).arg("lyrics").arg(&sad).output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[00:01.00] one\n[00:02.00] two\n");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "skipless: sad.lrc: line 2: bad time stamp [00:99.00]; 1 line with a bad stamp left out"
    );
    std::fs::write(
        music.join("sad.lrc"),
        b"[ar:Tyler Johnson]\n[00:01.50]caf\xe9 cr\xe8me\n[oops]\n[00:03.00][00:00.50]twice\n",
    )
    .unwrap();
    // Its extension in any case.
    let mixed = music.join("mixed.ogg");
    std::fs::copy(corpus().join("sad.ogg"), &mixed).unwrap();
    std::fs::write(music.join("mixed.Lrc"), "[00:02.00]a mixed case\n").unwrap();
    assert_eq!(lyrics_of(data.path(), &mixed), "[00:02.00] a mixed case\n");
    // An escape sequence in a lyric does not reach the terminal.
    std::fs::write(music.join("sad.lrc"), "[00:01.00]\x1b[2J\x1b]0;title\x07clear\n").unwrap();
    assert_eq!(
        lyrics_of(data.path(), &sad),
        "[00:01.00] \u{fffd}[2J\u{fffd}]0;title\u{fffd}clear\n"
    );

    // Vorbis LYRICS holding LRC text.
    let victory = music.join("victory.ogg");
    std::fs::copy(corpus().join("victory.ogg"), &victory).unwrap();
    let file = lofty::read_from_path(&victory).unwrap();
    let mut tag = file
        .primary_tag()
        .cloned()
        .unwrap_or_else(|| Tag::new(file.primary_tag_type()));
    tag.insert_text(ItemKey::Lyrics, "[00:02.00]we won\n[00:04.00]again".into());
    tag.save_to_path(&victory, WriteOptions::default()).unwrap();
    assert_eq!(
        lyrics_of(data.path(), &victory),
        "[00:02.00] we won\n[00:04.00] again\n"
    );

    // ID3 USLT (plain lyrics) in an MP3.
    let mp3 = music.join("transience.mp3");
    std::fs::copy(corpus().join("transience.id3v24.mp3"), &mp3).unwrap();
    let file = lofty::read_from_path(&mp3).unwrap();
    let mut tag = file.primary_tag().cloned().unwrap();
    tag.insert_text(ItemKey::UnsyncLyrics, "first verse\nsecond line\n".into());
    tag.save_to_path(&mp3, WriteOptions::default()).unwrap();
    assert_eq!(lyrics_of(data.path(), &mp3), "first verse\nsecond line\n");

    // An ID3 SYLT frame (milliseconds) comes before the USLT.
    // The USLT written above stays.
    let mut id3: Id3v2Tag = tag.clone().into();
    let sylt = SynchronizedTextFrame::new(
        TextEncoding::UTF8,
        *b"eng",
        TimestampFormat::MS,
        SyncTextContentType::Lyrics,
        None,
        vec![(1_000, "one".into()), (61_250, "two".into())],
    );
    id3.insert(Frame::Binary(BinaryFrame::new(
        FrameId::new("SYLT").unwrap(),
        sylt.as_bytes(WriteOptions::default()).unwrap(),
    )));
    id3.save_to_path(&mp3, WriteOptions::default()).unwrap();
    assert_eq!(lyrics_of(data.path(), &mp3), "[00:01.00] one\n[01:01.25] two\n");

    // The lyrics folder: "Artist - Title.lrc", whatever its case.
    let defeat = music.join("defeat.flac");
    std::fs::copy(corpus().join("defeat.flac"), &defeat).unwrap();
    let folder = data.path().join("lyrics");
    std::fs::create_dir_all(&folder).unwrap();
    let out = skipless(data.path()).arg("lyrics").arg(&defeat).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("defeat.flac: no lyrics"), "{stderr}");
    let out = skipless(data.path()).arg("lyrics").arg(&music).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("a folder, not a track"), "{stderr}");
    // A .lrc beside it that is of no use is named, not passed over in silence.
    for (make, why) in [
        (
            Box::new(|p: &Path| std::fs::write(p, "")) as Box<dyn Fn(&Path) -> std::io::Result<()>>,
            "holds no lyrics",
        ),
        (Box::new(|p: &Path| std::fs::create_dir(p)), "is a folder"),
        (
            Box::new(|p: &Path| std::fs::write(p, crate::common::noise_bytes(3000))),
            "is not text",
        ),
    ] {
        let lrc = music.join("defeat.lrc");
        make(&lrc).unwrap();
        let out = skipless(data.path()).arg("lyrics").arg(&defeat).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(why) && stderr.contains("defeat.lrc"), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        let _ = std::fs::remove_file(&lrc).or_else(|_| std::fs::remove_dir(&lrc));
    }

    let tags = lofty::read_from_path(&defeat).unwrap();
    let tag = tags.primary_tag().unwrap();
    let (artist, title) = (
        tag.get_string(ItemKey::TrackArtist).unwrap(),
        tag.get_string(ItemKey::TrackTitle).unwrap(),
    );
    std::fs::write(
        folder.join(format!("{} - {}.LRC", artist.to_uppercase(), title)),
        "[00:10.00]from the folder\n",
    )
    .unwrap();
    std::fs::write(
        data.path().join("config.toml"),
        format!("[lyrics]\nfolder = {:?}\n", folder.display().to_string()),
    )
    .unwrap();
    assert_eq!(lyrics_of(data.path(), &defeat), "[00:10.00] from the folder\n");
    // A relative folder lies beside the config file, wherever the command runs.
    std::fs::write(data.path().join("config.toml"), "[lyrics]\nfolder = \"lyrics\"\n").unwrap();
    assert_eq!(lyrics_of(data.path(), &defeat), "[00:10.00] from the folder\n");
    // A folder that is not there is named as such.
    std::fs::write(data.path().join("config.toml"), "[lyrics]\nfolder = \"gone\"\n").unwrap();
    let out = skipless(data.path()).arg("lyrics").arg(&defeat).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the [lyrics] folder") && stderr.contains("cannot be read"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    std::fs::write(
        data.path().join("config.toml"),
        format!("[lyrics]\nfolder = {:?}\n", folder.display().to_string()),
    )
    .unwrap();

    // Letters a file name cannot hold are saved as `_`, as lyrics tools save them.
    let slashed = music.join("slashed.flac");
    std::fs::copy(&defeat, &slashed).unwrap();
    let mut tagged = lofty::read_from_path(&slashed).unwrap();
    let tag = tagged.primary_tag_mut().unwrap();
    tag.insert_text(ItemKey::TrackArtist, "AC/DC".into());
    tag.insert_text(ItemKey::TrackTitle, "Why? Because".into());
    lofty::file::AudioFile::save_to_path(&tagged, &slashed, WriteOptions::default()).unwrap();
    std::fs::write(folder.join("ac_dc - Why_ Because.lrc"), "[00:01.00]saved by a tool\n").unwrap();
    assert_eq!(lyrics_of(data.path(), &slashed), "[00:01.00] saved by a tool\n");
}
