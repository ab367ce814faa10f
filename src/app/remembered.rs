//! What the player remembers from one run to the next ([`Remembered`]): the volume, the repeat
//! mode and whether autoplay is on, in `state.json` beside the database. The config's values
//! are those of the first run.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::queue::Repeat;

/// The player's settings as the listener left them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Remembered {
    pub volume: u8,
    pub repeat: Repeat,
    pub autoplay: bool,
}

impl Remembered {
    /// The settings saved at `path`; `None` before the first run ends. A file that cannot be
    /// read is noted in the log and left for the next save to replace: the config's values
    /// serve meanwhile.
    pub(crate) fn load(path: &Path) -> Option<Self> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!("{}: cannot read: {e}; the config's settings are used", path.display());
                return None;
            }
        };
        match serde_json::from_slice::<Self>(&bytes) {
            Ok(remembered) => Some(Self {
                volume: remembered.volume.min(100),
                ..remembered
            }),
            Err(e) => {
                tracing::warn!(
                    "{}: not the player's settings ({e}); the config's are used",
                    path.display()
                );
                None
            }
        }
    }

    /// Writes the settings to `path` whole or not at all.
    pub(crate) fn save(&self, path: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::atomic_file::write_atomic(path, &json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_settings_load_as_they_were_and_a_garbled_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(Remembered::load(&path), None);
        let settings = Remembered {
            volume: 35,
            repeat: Repeat::One,
            autoplay: false,
        };
        settings.save(&path).unwrap();
        assert_eq!(Remembered::load(&path), Some(settings));
        std::fs::write(&path, b"{\"volume\": 250, \"repeat\": \"all\", \"autoplay\": true}").unwrap();
        assert_eq!(Remembered::load(&path).map(|r| r.volume), Some(100));
        std::fs::write(&path, b"{\"volume\": ").unwrap();
        assert_eq!(Remembered::load(&path), None);
    }
}
