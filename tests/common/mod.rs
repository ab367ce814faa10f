//! Helpers shared by the integration tests: the real binary, the real corpus, temp dirs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The 12-track corpus shared by every developer and CI run.
pub fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/tiny")
}

/// The real `skipless` binary with its own data dir and no user config.
pub fn skipless(data_dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("skipless").expect("the skipless binary is built");
    cmd.arg("--data-dir").arg(data_dir);
    cmd.arg("--config").arg(data_dir.join("config.toml"));
    cmd.env_remove("SKIPLESS_DATA_DIR");
    cmd
}

/// Copies the corpus into `dir` (so tests may change files).
pub fn copy_corpus(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for entry in std::fs::read_dir(corpus()).unwrap() {
        let entry = entry.unwrap();
        let to = dir.join(entry.file_name());
        std::fs::copy(entry.path(), &to).unwrap();
        let mut perms = std::fs::metadata(&to).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        std::fs::set_permissions(&to, perms).unwrap();
    }
}

/// Runs a command expected to succeed and returns its stdout.
pub fn stdout_of(cmd: &mut Command) -> String {
    let output = cmd.output().unwrap();
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Parses JSON lines.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `skipless scan --json PATHS` parsed.
pub fn scan_json(data_dir: &Path, paths: &[&Path]) -> serde_json::Value {
    let mut cmd = skipless(data_dir);
    cmd.arg("scan").arg("--json").args(paths);
    serde_json::from_str(stdout_of(&mut cmd).trim()).unwrap()
}

/// `skipless library --json` parsed.
pub fn library(data_dir: &Path) -> Vec<serde_json::Value> {
    json_lines(&stdout_of(skipless(data_dir).args(["library", "--json"])))
}
