//! The recommender: a self-attentive sequence model trained with the skip-contrastive loss, the
//! history signals it is blended with, and the offline evaluation that judges it.
//!
//! Core types: [`RecommendError`]; [`data::Vocab`] and [`data::Session`] (training data);
//! [`model::SeqModel`] (the network and its losses); [`train::train_model`]; [`eval::run_eval`]
//! (the protocol of `docs/method.md`); [`signals::HistoryStats`] (co-occurrence, recency,
//! popularity).

pub(crate) mod baselines;
pub mod checkpoint;
pub mod data;
pub(crate) mod eval;
pub(crate) mod fused;
pub mod infer;
pub mod log;
pub mod metrics;
pub mod model;
pub mod signals;
pub mod step;
pub mod train;

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RecommendError {
    #[error("model computation failed: {0}")]
    Tensor(#[from] candle_core::Error),
    #[error("{path}: checkpoint refused: {reason}")]
    Checkpoint { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("not enough listening data: {0}")]
    NotEnoughData(String),
    #[error("training was cancelled")]
    Cancelled,
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error(transparent)]
    History(#[from] crate::history::HistoryError),
}
