//! The D-Bus thread: the two MPRIS interfaces ([`Root`], [`Player`]) served with zbus, and the
//! loop that shows each new [`PlayerState`] and signals what changed.
//!
//! Method calls run on zbus's own executor thread and only put a [`Request`] on an unbounded
//! channel, so they answer at once whatever the front end is doing. Properties are read from
//! [`Shown`], which this thread replaces whenever the front end publishes a new state.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crossbeam_channel::{Receiver, Sender};
use zbus::fdo;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::{ObjectPath, Value};

use super::cover::cover_file;
use super::{Loop, MprisError, PlayerState, Request, Update, BUS_NAME, OBJECT_PATH};
use crate::track::Track;
use crate::uri::{file_uri, path_of_file_uri};

const PLAYER_INTERFACE: &str = "org.mpris.MediaPlayer2.Player";
/// The `mpris:trackid` of "no track", fixed by the specification.
const NO_TRACK: &str = "/org/mpris/MediaPlayer2/TrackList/NoTrack";

/// Starts the D-Bus thread. Connecting happens on it; if that fails, it logs one line and ends,
/// which disconnects the request channel.
pub(super) fn spawn(
    requests: Sender<Request>,
    updates: Receiver<Update>,
    cache_dir: PathBuf,
) -> Result<(), MprisError> {
    std::thread::Builder::new()
        .name("mpris".into())
        .spawn(move || match Service::connect(requests, cache_dir) {
            Ok(service) => service.run(&updates),
            Err(e) => tracing::info!("MPRIS is off: {e}"),
        })
        .map_err(MprisError::Thread)?;
    Ok(())
}

/// What the properties show: the last published state and its cover.
#[derive(Debug, Clone, Default, PartialEq)]
struct Shown {
    state: PlayerState,
    art_url: Option<String>,
}

type SharedShown = Arc<Mutex<Shown>>;

fn lock(shown: &SharedShown) -> MutexGuard<'_, Shown> {
    // Nothing can be half-written under this lock (it only swaps whole values), so a panic
    // elsewhere leaves it usable.
    shown.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Service {
    connection: zbus::blocking::Connection,
    shown: SharedShown,
    cache_dir: PathBuf,
    /// The track whose cover was looked up last, and its URL: a cover is extracted once per track.
    cover: Option<(i64, Option<String>)>,
}

impl Service {
    fn connect(requests: Sender<Request>, cache_dir: PathBuf) -> Result<Self, MprisError> {
        let shown = SharedShown::default();
        let root = Root {
            requests: requests.clone(),
        };
        let player = Player {
            requests,
            shown: shown.clone(),
        };
        let connection = zbus::blocking::connection::Builder::session()
            .map_err(MprisError::NoBus)?
            .serve_at(OBJECT_PATH, root)
            .map_err(MprisError::Serve)?
            .serve_at(OBJECT_PATH, player)
            .map_err(MprisError::Serve)?
            .build()
            .map_err(MprisError::NoBus)?;
        let name = take_name(&connection)?;
        tracing::info!("MPRIS is on: {name} on the session bus");
        Ok(Self {
            connection,
            shown,
            cache_dir,
            cover: None,
        })
    }

    /// Blocks on the front end's updates until it drops its end (the player is quitting).
    fn run(mut self, updates: &Receiver<Update>) {
        for update in updates {
            let sent = match update {
                Update::State(state) => self.show(*state),
                Update::Seeked { position_ms } => self.connection.emit_signal(
                    None::<&str>,
                    OBJECT_PATH,
                    PLAYER_INTERFACE,
                    "Seeked",
                    &(micros(position_ms),),
                ),
            };
            if let Err(e) = sent {
                tracing::warn!("MPRIS: cannot send a signal: {e}");
            }
        }
    }

    /// Shows `state` and sends one `PropertiesChanged` with every property that changed.
    fn show(&mut self, state: PlayerState) -> zbus::Result<()> {
        let art_url = self.art_url(state.track.as_ref());
        let new = Shown { state, art_url };
        let old = std::mem::replace(&mut *lock(&self.shown), new.clone());
        let changed = changed_properties(&old, &new);
        if changed.is_empty() {
            return Ok(());
        }
        let invalidated: Vec<&str> = Vec::new();
        self.connection.emit_signal(
            None::<&str>,
            OBJECT_PATH,
            "org.freedesktop.DBus.Properties",
            "PropertiesChanged",
            &(PLAYER_INTERFACE, changed, invalidated),
        )
    }

    /// The cover URL of `track`, looked up (and an embedded picture extracted) the first time
    /// the track is shown.
    fn art_url(&mut self, track: Option<&Track>) -> Option<String> {
        let track = track?;
        if let Some((id, url)) = &self.cover {
            if *id == track.id {
                return url.clone();
            }
        }
        let url = match cover_file(&track.path, &self.cache_dir) {
            Ok(file) => file.map(|f| file_uri(&f)),
            Err(e) => {
                tracing::warn!("MPRIS: {e}");
                None
            }
        };
        self.cover = Some((track.id, url.clone()));
        url
    }
}

/// Takes `org.mpris.MediaPlayer2.skipless`, or, when another player holds it, the per-process
/// name the specification prescribes for a second instance.
fn take_name(connection: &zbus::blocking::Connection) -> Result<String, MprisError> {
    use fdo::{RequestNameFlags, RequestNameReply};
    let reply = connection
        .request_name_with_flags(BUS_NAME, RequestNameFlags::DoNotQueue.into())
        .map_err(MprisError::Name)?;
    match reply {
        RequestNameReply::PrimaryOwner | RequestNameReply::AlreadyOwner => Ok(BUS_NAME.to_owned()),
        RequestNameReply::Exists | RequestNameReply::InQueue => {
            let instance = format!("{BUS_NAME}.instance{}", std::process::id());
            connection.request_name(instance.as_str()).map_err(MprisError::Name)?;
            Ok(instance)
        }
    }
}

/// The properties of the Player interface that differ between `old` and `new`, with their new
/// values. `Position` is left out: the specification has clients extrapolate it and listen
/// for `Seeked` instead.
fn changed_properties(old: &Shown, new: &Shown) -> HashMap<&'static str, Value<'static>> {
    let mut changed = HashMap::new();
    let (o, n) = (&old.state, &new.state);
    if o.status != n.status {
        changed.insert("PlaybackStatus", Value::from(n.status.as_str()));
    }
    if o.track != n.track || old.art_url != new.art_url {
        changed.insert("Metadata", Value::from(metadata(new)));
    }
    if o.volume != n.volume {
        changed.insert("Volume", Value::from(volume(n)));
    }
    if o.loop_status != n.loop_status {
        changed.insert("LoopStatus", Value::from(n.loop_status.as_str()));
    }
    for (name, before, after) in [
        ("CanGoNext", o.can_go_next, n.can_go_next),
        ("CanGoPrevious", o.can_go_previous, n.can_go_previous),
        ("CanPlay", o.can_play, n.can_play),
        ("CanPause", o.track.is_some(), n.track.is_some()),
        ("CanSeek", can_seek(o), can_seek(n)),
    ] {
        if before != after {
            changed.insert(name, Value::from(after));
        }
    }
    changed
}

fn micros(ms: u64) -> i64 {
    i64::try_from(ms.saturating_mul(1000)).unwrap_or(i64::MAX)
}

fn volume(state: &PlayerState) -> f64 {
    f64::from(state.volume) / 100.0
}

fn can_seek(state: &PlayerState) -> bool {
    state.track.as_ref().is_some_and(|t| t.duration_ms.is_some())
}

/// `/org/skipless/track/<id>`: the `mpris:trackid` of a library track.
fn track_object_path(track_id: i64) -> ObjectPath<'static> {
    ObjectPath::try_from(format!("/org/skipless/track/{}", track_id.max(0)))
        .unwrap_or_else(|_| ObjectPath::from_static_str_unchecked(NO_TRACK))
}

/// The `Metadata` map (xesam and mpris keys) of the shown track.
fn metadata(shown: &Shown) -> HashMap<String, Value<'static>> {
    let mut map: HashMap<String, Value<'static>> = HashMap::new();
    let Some(track) = &shown.state.track else {
        map.insert(
            "mpris:trackid".into(),
            Value::from(ObjectPath::from_static_str_unchecked(NO_TRACK)),
        );
        return map;
    };
    map.insert("mpris:trackid".into(), Value::from(track_object_path(track.id)));
    map.insert("xesam:title".into(), Value::from(track.title.clone()));
    map.insert("xesam:url".into(), Value::from(file_uri(&track.path)));
    if let Some(artist) = &track.artist {
        map.insert("xesam:artist".into(), Value::from(vec![artist.clone()]));
    }
    if let Some(album) = &track.album {
        map.insert("xesam:album".into(), Value::from(album.clone()));
    }
    if let Some(album_artist) = &track.album_artist {
        map.insert("xesam:albumArtist".into(), Value::from(vec![album_artist.clone()]));
    }
    if let Some(genre) = &track.genre {
        map.insert("xesam:genre".into(), Value::from(vec![genre.clone()]));
    }
    if let Some(n) = track.track_no.map(i32::from) {
        map.insert("xesam:trackNumber".into(), Value::from(n));
    }
    if let Some(n) = track.disc_no.map(i32::from) {
        map.insert("xesam:discNumber".into(), Value::from(n));
    }
    if let Some(ms) = track.duration_ms {
        map.insert("mpris:length".into(), Value::from(micros(ms)));
    }
    if let Some(url) = &shown.art_url {
        map.insert("mpris:artUrl".into(), Value::from(url.clone()));
    }
    map
}

fn ask(requests: &Sender<Request>, request: Request) -> fdo::Result<()> {
    requests
        .send(request)
        .map_err(|_| fdo::Error::Failed("skipless is shutting down".into()))
}

/// `org.mpris.MediaPlayer2`: the application.
struct Root {
    requests: Sender<Request>,
}

#[zbus::interface(name = "org.mpris.MediaPlayer2")]
impl Root {
    /// A terminal program has no window to raise (`CanRaise` is false).
    fn raise(&self) {}

    fn quit(&self) -> fdo::Result<()> {
        ask(&self.requests, Request::Quit)
    }

    #[zbus(property(emits_changed_signal = "const"))]
    fn can_quit(&self) -> bool {
        true
    }

    #[zbus(property(emits_changed_signal = "const"))]
    fn can_raise(&self) -> bool {
        false
    }

    #[zbus(property(emits_changed_signal = "const"))]
    fn has_track_list(&self) -> bool {
        false
    }

    #[zbus(property(emits_changed_signal = "const"))]
    fn identity(&self) -> &str {
        "skipless"
    }

    #[zbus(property(emits_changed_signal = "const"))]
    fn supported_uri_schemes(&self) -> Vec<String> {
        vec!["file".into()]
    }

    #[zbus(property(emits_changed_signal = "const"))]
    fn supported_mime_types(&self) -> Vec<String> {
        [
            "audio/flac",
            "audio/x-flac",
            "audio/mpeg",
            "audio/ogg",
            "audio/x-vorbis+ogg",
            "audio/opus",
            "audio/x-opus+ogg",
            "audio/mp4",
            "audio/x-m4a",
            "audio/aac",
            "audio/wav",
            "audio/x-wav",
        ]
        .map(String::from)
        .to_vec()
    }
}

/// `org.mpris.MediaPlayer2.Player`: playback.
struct Player {
    requests: Sender<Request>,
    shown: SharedShown,
}

#[zbus::interface(name = "org.mpris.MediaPlayer2.Player")]
impl Player {
    fn next(&self) -> fdo::Result<()> {
        ask(&self.requests, Request::Next)
    }

    fn previous(&self) -> fdo::Result<()> {
        ask(&self.requests, Request::Previous)
    }

    fn pause(&self) -> fdo::Result<()> {
        ask(&self.requests, Request::Pause)
    }

    fn play_pause(&self) -> fdo::Result<()> {
        ask(&self.requests, Request::PlayPause)
    }

    fn stop(&self) -> fdo::Result<()> {
        ask(&self.requests, Request::Stop)
    }

    fn play(&self) -> fdo::Result<()> {
        ask(&self.requests, Request::Play)
    }

    /// Moves by `offset` microseconds.
    fn seek(&self, offset: i64) -> fdo::Result<()> {
        ask(&self.requests, Request::Seek { offset_us: offset })
    }

    /// Goes to `position` (microseconds) if `track_id` is still the current track; a call about
    /// a track that has since changed is stale and, as the specification says, ignored.
    fn set_position(&self, track_id: ObjectPath<'_>, position: i64) -> fdo::Result<()> {
        let current = lock(&self.shown).state.track.as_ref().map(|t| t.id);
        match current {
            Some(id) if track_object_path(id) == track_id => ask(
                &self.requests,
                Request::SetPosition {
                    track_id: id,
                    position_us: position,
                },
            ),
            _ => Ok(()),
        }
    }

    /// Plays a library file given as a `file://` URI.
    fn open_uri(&self, uri: &str) -> fdo::Result<()> {
        let path = path_of_file_uri(uri.as_bytes())
            .ok_or_else(|| fdo::Error::InvalidArgs(format!("not a local file:// URI: {uri}")))?;
        ask(&self.requests, Request::Open(path))
    }

    /// Declared so that introspection lists it; sent by [`Service::run`] from the front end's
    /// `Seeked` updates.
    #[zbus(signal)]
    async fn seeked(emitter: &SignalEmitter<'_>, position: i64) -> zbus::Result<()>;

    #[zbus(property)]
    fn playback_status(&self) -> &'static str {
        lock(&self.shown).state.status.as_str()
    }

    /// skipless plays at normal speed only; the specification still asks for the rate properties.
    #[zbus(property(emits_changed_signal = "const"))]
    fn rate(&self) -> f64 {
        1.0
    }

    #[zbus(property(emits_changed_signal = "const"))]
    fn minimum_rate(&self) -> f64 {
        1.0
    }

    #[zbus(property(emits_changed_signal = "const"))]
    fn maximum_rate(&self) -> f64 {
        1.0
    }

    #[zbus(property)]
    fn metadata(&self) -> HashMap<String, Value<'static>> {
        metadata(&lock(&self.shown))
    }

    #[zbus(property)]
    fn volume(&self) -> f64 {
        volume(&lock(&self.shown).state)
    }

    /// Sets the volume (0.0-1.0; below 0 is 0, above 1 is full volume). The new value is shown
    /// at once, so the `PropertiesChanged` sent for this call already carries it.
    #[zbus(property)]
    fn set_volume(&self, volume: f64) -> fdo::Result<()> {
        if volume.is_nan() {
            return Err(fdo::Error::InvalidArgs("the volume is not a number".into()));
        }
        let percent = (volume.clamp(0.0, 1.0) * 100.0).round() as u8;
        lock(&self.shown).state.volume = percent;
        ask(&self.requests, Request::Volume(percent))
    }

    #[zbus(property)]
    fn loop_status(&self) -> &'static str {
        lock(&self.shown).state.loop_status.as_str()
    }

    /// Sets the repeat mode ("None", "Track" or "Playlist"), shown at once as the volume is.
    #[zbus(property)]
    fn set_loop_status(&self, status: &str) -> fdo::Result<()> {
        let status = Loop::parse(status)
            .ok_or_else(|| fdo::Error::InvalidArgs(format!("{status}: a loop status is None, Track or Playlist")))?;
        lock(&self.shown).state.loop_status = status;
        ask(&self.requests, Request::Loop(status))
    }

    /// Microseconds into the track, as of the player's last position report (4 a second).
    #[zbus(property(emits_changed_signal = "false"))]
    fn position(&self) -> i64 {
        micros(lock(&self.shown).state.position_ms)
    }

    #[zbus(property)]
    fn can_go_next(&self) -> bool {
        lock(&self.shown).state.can_go_next
    }

    #[zbus(property)]
    fn can_go_previous(&self) -> bool {
        lock(&self.shown).state.can_go_previous
    }

    #[zbus(property)]
    fn can_play(&self) -> bool {
        lock(&self.shown).state.can_play
    }

    #[zbus(property)]
    fn can_pause(&self) -> bool {
        lock(&self.shown).state.track.is_some()
    }

    #[zbus(property)]
    fn can_seek(&self) -> bool {
        can_seek(&lock(&self.shown).state)
    }

    #[zbus(property(emits_changed_signal = "const"))]
    fn can_control(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mpris::Status;

    fn track(id: i64) -> Track {
        Track {
            id,
            path: format!("/m/{id} x.ogg").into(),
            title: format!("Song {id}"),
            artist: Some("Artist".into()),
            album: Some("Album".into()),
            duration_ms: Some(180_000),
            ..Track::default()
        }
    }

    #[test]
    fn only_what_changed_is_signalled_and_position_never() {
        let playing = Shown {
            state: PlayerState {
                status: Status::Playing,
                track: Some(track(1)),
                position_ms: 1_000,
                volume: 100,
                can_go_next: true,
                can_go_previous: true,
                can_play: true,
                loop_status: Loop::None,
            },
            art_url: None,
        };
        let mut later = playing.clone();
        later.state.position_ms = 2_000;
        assert!(changed_properties(&playing, &later).is_empty());

        later.state.status = Status::Paused;
        later.state.volume = 50;
        later.state.loop_status = Loop::Track;
        let changed = changed_properties(&playing, &later);
        let mut names: Vec<&str> = changed.keys().copied().collect();
        names.sort_unstable();
        assert_eq!(names, ["LoopStatus", "PlaybackStatus", "Volume"]);
        assert_eq!(changed["LoopStatus"], Value::from("Track"));
        assert_eq!(changed["Volume"], Value::from(0.5));

        later.state.track = Some(track(2));
        assert!(changed_properties(&playing, &later).contains_key("Metadata"));
    }

    #[test]
    fn metadata_carries_the_tags_length_and_ids() {
        let shown = Shown {
            state: PlayerState {
                track: Some(track(7)),
                ..PlayerState::default()
            },
            art_url: Some("file:///c/1.jpg".into()),
        };
        let map = metadata(&shown);
        assert_eq!(
            map["mpris:trackid"],
            Value::from(ObjectPath::try_from("/org/skipless/track/7").unwrap())
        );
        assert_eq!(map["xesam:title"], Value::from("Song 7"));
        assert_eq!(map["xesam:artist"], Value::from(vec!["Artist".to_owned()]));
        assert_eq!(map["mpris:length"], Value::from(180_000_000i64));
        assert_eq!(map["xesam:url"], Value::from("file:///m/7%20x.ogg"));
        assert_eq!(map["mpris:artUrl"], Value::from("file:///c/1.jpg"));
        let empty = metadata(&Shown::default());
        assert_eq!(empty.len(), 1);
        assert_eq!(
            empty["mpris:trackid"],
            Value::from(ObjectPath::from_static_str_unchecked(NO_TRACK))
        );
    }
}
