//! The recommender: a self-attentive sequence model whose score contains the listening history's
//! features (`Σ_k w_k(h) f_k + h · e`), trained with negative feedback from skips, and the offline
//! evaluation that judges it.
//!
//! Core types: [`RecommendError`]; [`data::Vocab`] and [`data::Session`] (training data);
//! [`features::HistoryStats`] and [`features::Timeline`] (the history features, live and as they
//! were); [`model::SeqModel`] and [`model::Scorer`] (the network, its losses and its scoring);
//! [`train::train_model`]; [`rank::served_scores`] (the one served ranking); [`eval::run_eval`]
//! (the fixed evaluation protocol).

pub(crate) mod baselines;
pub mod checkpoint;
pub mod data;
pub(crate) mod eval;
pub mod features;
pub(crate) mod fused;
pub mod infer;
pub mod log;
pub mod metrics;
pub mod model;
pub mod rank;
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
