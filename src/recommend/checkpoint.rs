//! Saved models ([`Checkpoint`], [`CheckpointMeta`]): one safetensors file whose header carries the
//! JSON metadata (format version, vocabulary, hyperparameters, validation metrics, whether
//! the Transformer was kept, training time, plays seen), plus a `model.json` copy of that metadata for people to read.
//!
//! Files are written to a temporary name, synced and renamed, so a crash never leaves a half
//! model; a checkpoint that is corrupt or of another format version is refused with one line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::Device;
use serde::{Deserialize, Serialize};

use super::data::Vocab;
use super::metrics::Metrics;
use super::model::SeqModel;
use super::train::TrainConfig;
use super::RecommendError;
use crate::atomic_file::write_atomic;

/// Bumped whenever the saved layout or the meaning of a field changes. 2: the history-feature
/// model (feature weights in the model, gap embedding, cross-session input). 3: the feature
/// weights are trained under the finish prior (a version-2 model would be served a finish term
/// it did not learn with). 4: seventeen features, the artist and album ones added. 5: albums are
/// keyed by their album artist where the tags name one (a version-4 vocabulary keys a
/// compilation once per track artist, so its albums would not be found for new tracks).
pub const FORMAT_VERSION: u32 = 5;
/// Marks the safetensors header entry that holds the metadata.
const META_KEY: &str = "skipless";
pub const MODEL_FILE: &str = "model.safetensors";
pub(crate) const META_FILE: &str = "model.json";

/// Everything about a model except its weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub format_version: u32,
    pub vocab: Vocab,
    pub config: TrainConfig,
    /// The served ranking's metrics on the training run's validation slice.
    pub validation: Metrics,
    pub best_epoch: usize,
    /// Whether the Transformer's terms beat the history features alone on validation (when not,
    /// the model scores with the features alone).
    pub transformer_kept: bool,
    /// RFC 3339, UTC.
    pub trained_at: String,
    pub plays_seen: u64,
}

/// A model and its metadata.
pub struct Checkpoint {
    pub meta: CheckpointMeta,
    pub model: SeqModel,
}

impl Checkpoint {
    /// The checkpoint's path inside `models_dir`.
    pub fn path(models_dir: &Path) -> PathBuf {
        models_dir.join(MODEL_FILE)
    }

    /// Loads the model in `models_dir`; `Ok(None)` when there is none yet.
    pub fn load(models_dir: &Path) -> Result<Option<Checkpoint>, RecommendError> {
        let path = Self::path(models_dir);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(RecommendError::Io { path, source }),
        };
        Self::from_bytes(&bytes, &path).map(Some)
    }

    /// Parses a checkpoint file's bytes; `path` only names it in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Checkpoint, RecommendError> {
        let refuse = |reason: String| RecommendError::Checkpoint {
            path: path.to_path_buf(),
            reason,
        };
        let (_, header) = safetensors::SafeTensors::read_metadata(bytes)
            .map_err(|e| refuse(format!("not a readable safetensors file ({e})")))?;
        let json = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get(META_KEY))
            .ok_or_else(|| refuse("no skipless metadata: not a skipless model".into()))?;
        let version: serde_json::Value =
            serde_json::from_str(json).map_err(|e| refuse(format!("metadata is not JSON ({e})")))?;
        let found = version.get("format_version").and_then(|v| v.as_u64());
        if found != Some(u64::from(FORMAT_VERSION)) {
            return Err(refuse(format!(
                "format version {}, this build reads version {FORMAT_VERSION}",
                found.map_or("missing".to_owned(), |v| v.to_string())
            )));
        }
        let mut meta: CheckpointMeta =
            serde_json::from_value(version).map_err(|e| refuse(format!("metadata is incomplete ({e})")))?;
        meta.vocab.reindex();
        let tensors: HashMap<String, candle_core::Tensor> = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
            .map_err(|e| refuse(format!("weights are unreadable ({e})")))?;
        let model = SeqModel::from_tensors(meta.config.model, &meta.vocab, tensors, &Device::Cpu).map_err(refuse)?;
        Ok(Checkpoint { meta, model })
    }

    /// Writes the checkpoint into `models_dir` atomically, replacing the previous one only once
    /// the new file is complete on disk.
    pub fn save(&self, models_dir: &Path) -> Result<PathBuf, RecommendError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RecommendError::Io { path, source }
        };
        std::fs::create_dir_all(models_dir).map_err(io(models_dir))?;
        let json = serde_json::to_string(&self.meta).map_err(|e| RecommendError::Checkpoint {
            path: models_dir.to_path_buf(),
            reason: format!("cannot encode metadata: {e}"),
        })?;
        let tensors: Vec<(&str, &candle_core::Tensor)> = self.model.named_tensors().collect();
        let bytes = safetensors::serialize(tensors, Some(HashMap::from([(META_KEY.to_owned(), json.clone())])))
            .map_err(|e| RecommendError::Checkpoint {
                path: models_dir.to_path_buf(),
                reason: format!("cannot encode weights: {e}"),
            })?;
        let path = Self::path(models_dir);
        write_atomic(&path, &bytes).map_err(io(&path))?;
        let pretty = serde_json::to_vec_pretty(&self.meta).unwrap_or_else(|_| json.into_bytes());
        let meta_path = models_dir.join(META_FILE);
        write_atomic(&meta_path, &pretty).map_err(io(&meta_path))?;
        Ok(path)
    }
}

/// A hold on a models folder, for one training run at a time to compare its model with the
/// saved one and save it (the player's and `skipless train`'s alike); released when dropped.
pub(crate) struct ModelsLock {
    _held: std::fs::File,
}

impl ModelsLock {
    /// Waits for the hold: another run keeps it only while it judges and saves a model. `None`
    /// where the folder cannot be written and holds no lock file: such a run saves nothing, and
    /// says why when it tries.
    pub(crate) fn take(models_dir: &Path) -> Option<Self> {
        let path = models_dir.join("settle.lock");
        let file = std::fs::create_dir_all(models_dir)
            .and_then(|()| {
                std::fs::File::options()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
            })
            // A lock file is held by reading it as well as by writing it.
            .or_else(|_| std::fs::File::open(&path))
            .ok()?;
        file.lock().ok()?;
        // What a run killed while it saved left, which a run that keeps the saved model would
        // never replace.
        for saved in [Checkpoint::path(models_dir), models_dir.join(META_FILE)] {
            crate::atomic_file::remove_orphans_of(&saved);
        }
        Some(Self { _held: file })
    }
}

/// Now, as RFC 3339 UTC.
pub(crate) fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run killed while it saved left half a model beside the saved one; the next run's hold
    /// on the folder clears it, whether or not that run saves a model.
    #[test]
    fn the_next_runs_hold_clears_what_a_killed_save_left() {
        let models = tempfile::tempdir().unwrap();
        // Beyond the largest pid Linux hands out (2^22), so no process has it.
        let left = [
            models.path().join(format!(".{MODEL_FILE}.tmp99999999.0")),
            models.path().join(format!(".{META_FILE}.tmp99999999.3")),
        ];
        for file in &left {
            std::fs::write(file, b"half").unwrap();
        }
        let _held = ModelsLock::take(models.path()).unwrap();
        assert!(left.iter().all(|file| !file.exists()));
    }
}
