//! The fuzzing corpus as regression tests: every file in `tests/fuzz_corpus/<target>/` goes
//! through the same entry point as the cargo-fuzz target of that name (`fuzz/fuzz_targets/`),
//! with the same checks. The files are the seeds plus the inputs the fuzzer found interesting
//! (each crash it found, once fixed, and a minimised corpus); none may panic.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use skipless::history::{parse_bytes, Format};
use skipless::recommend::checkpoint::Checkpoint;

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: no inputs", dir.display());
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

/// Runs `check` on every input, naming the input that panics or takes over 20 seconds (libFuzzer
/// found a 33-byte file that kept lofty reading forever).
fn each(target: &str, check: fn(&[u8])) {
    for (path, bytes) in inputs(target) {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let result = std::panic::catch_unwind(|| check(&bytes));
            let _ = tx.send(result.is_ok());
        });
        match rx.recv_timeout(std::time::Duration::from_secs(20)) {
            Ok(true) => {}
            Ok(false) => panic!("{} panicked", path.display()),
            Err(_) => panic!("{} did not finish in 20 s", path.display()),
        }
    }
}

#[test]
fn config_inputs() {
    each("config", |data| {
        if let Ok(text) = std::str::from_utf8(data) {
            if let Err(e) = skipless::config::Config::parse(text, Path::new("config.toml")) {
                let message = e.to_string();
                assert_eq!(message.lines().count(), 1, "{message}");
            }
        }
    });
}

#[test]
fn history_inputs() {
    each("history", |data| {
        let Some((&which, bytes)) = data.split_first() else {
            return;
        };
        let format = match which % 3 {
            0 => Format::Extended,
            1 => Format::Basic,
            _ => Format::Mssd,
        };
        if let Err(e) = parse_bytes(format, bytes, Path::new("history")) {
            assert!(!e.to_string().is_empty());
        }
    });
}

#[test]
fn checkpoint_inputs() {
    each("checkpoint", |data| {
        let Some((&which, rest)) = data.split_first() else {
            return;
        };
        let path = Path::new("model.safetensors");
        if which % 2 == 0 {
            let _ = Checkpoint::from_bytes(rest, path);
            return;
        }
        let Ok(json) = std::str::from_utf8(rest) else { return };
        let no_tensors: Vec<(&str, safetensors::tensor::TensorView)> = Vec::new();
        let Ok(bytes) = safetensors::serialize(
            no_tensors,
            Some(HashMap::from([("skipless".to_owned(), json.to_owned())])),
        ) else {
            return;
        };
        let _ = Checkpoint::from_bytes(&bytes, path);
    });
}

#[test]
fn tags_inputs() {
    each("tags", |data| {
        let path = Path::new("/music/03_Some_Song.flac");
        match skipless::library::tags::read_tags_from_bytes(data, path) {
            Ok(tags) => assert!(!tags.title.is_empty()),
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    });
}
