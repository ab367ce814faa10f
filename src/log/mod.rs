//! The listening log: engine events become play rows ([`Recorder`]), judged by the
//! [`SkipRule`](crate::play::SkipRule) and grouped into sessions. Rows are written so that a crash loses nothing
//! committed: a play is inserted when it starts, its progress saved every few seconds, and
//! it is completed when it ends; an open play found at start-up is closed as `interrupted`. Plays
//! the database will not take when the player goes are kept in a file beside it and written at
//! the next start ([`kept`](self::kept)).

mod kept;
mod recorder;

pub use recorder::{Clock, Recorded, Recorder, SystemClock};
