//! Desktop control over D-Bus: the MPRIS interfaces `org.mpris.MediaPlayer2` and
//! `org.mpris.MediaPlayer2.Player` on the session bus, so media keys, desktop widgets and
//! `playerctl` drive skipless like any other Linux player.
//!
//! Core types: [`Mpris`] (a front end's handle: requests in, state out), [`Request`] (what the
//! desktop asked for), [`PlayerState`] (what the desktop is shown).
//!
//! The D-Bus side runs on its own thread (`service`): it connects, serves the interfaces from
//! the last [`PlayerState`] it was sent, and turns method calls into [`Request`]s on a channel.
//! It never touches the controller. The front end (TUI or headless player) selects on
//! [`Mpris::requests`] beside its other channels, applies each request through the same
//! controller calls as its keys (`app::mpris_bridge::apply`), and
//! publishes the resulting state with [`Mpris::publish`], which only queues a message, so the
//! UI thread never waits on D-Bus. With no session bus named no thread starts (one line in the
//! log); a bus that refuses the connection ends it. The player goes on without MPRIS.

mod cover;
mod service;

use std::path::PathBuf;

use crossbeam_channel::{Receiver, Sender};

use crate::track::Track;

/// The well-known bus name; a second player on the same bus takes `…skipless.instance<pid>`.
pub(crate) const BUS_NAME: &str = "org.mpris.MediaPlayer2.skipless";
/// The object path that MPRIS clients look at.
pub(crate) const OBJECT_PATH: &str = "/org/mpris/MediaPlayer2";

/// What a desktop client asked for through MPRIS.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    PlayPause,
    Play,
    Pause,
    Stop,
    Next,
    Previous,
    /// Move by this many microseconds (negative: back).
    Seek {
        offset_us: i64,
    },
    /// Go to `position_us` in the track `track_id`, if it is still the current one.
    SetPosition {
        track_id: i64,
        position_us: i64,
    },
    /// Play this file (from `OpenUri`), if it is in the library.
    Open(PathBuf),
    /// Volume in percent, 0-100.
    Volume(u8),
    /// `LoopStatus` set: repeat nothing, the track or the whole queue.
    Loop(Loop),
    /// End the player (`Quit` on the root interface).
    Quit,
}

/// `PlaybackStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Status {
    Playing,
    Paused,
    #[default]
    Stopped,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Playing => "Playing",
            Status::Paused => "Paused",
            Status::Stopped => "Stopped",
        }
    }
}

/// `LoopStatus`: what repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Loop {
    #[default]
    None,
    Track,
    Playlist,
}

impl Loop {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Loop::None => "None",
            Loop::Track => "Track",
            Loop::Playlist => "Playlist",
        }
    }

    fn parse(text: &str) -> Option<Loop> {
        [Loop::None, Loop::Track, Loop::Playlist]
            .into_iter()
            .find(|l| l.as_str() == text)
    }
}

/// Everything the MPRIS properties are made of, as the front end last saw it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlayerState {
    pub status: Status,
    pub track: Option<Track>,
    pub position_ms: u64,
    /// Percent, 0-100.
    pub volume: u8,
    pub can_go_next: bool,
    pub can_go_previous: bool,
    pub can_play: bool,
    pub loop_status: Loop,
}

/// A message from the front end to the D-Bus thread.
#[derive(Debug, Clone, PartialEq)]
enum Update {
    State(Box<PlayerState>),
    /// A seek landed: the `Seeked` signal.
    Seeked {
        position_ms: u64,
    },
}

/// Why the D-Bus side could not start, or a track's cover could not be had (the track is then
/// shown without one); logged, never shown on screen.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MprisError {
    #[error(transparent)]
    ReadCover(#[from] crate::library::LibraryError),
    #[error("{}: cannot write the cover: {source}", path.display())]
    WriteCover {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("no session bus ({0})")]
    NoBus(zbus::Error),
    #[error("cannot serve the MPRIS interfaces: {0}")]
    Serve(zbus::Error),
    #[error("cannot take a bus name: {0}")]
    Name(zbus::Error),
    #[error("cannot start the MPRIS thread: {0}")]
    Thread(std::io::Error),
}

/// A front end's end of MPRIS: requests from the desktop in, player state out.
pub(crate) struct Mpris {
    requests: Receiver<Request>,
    updates: Sender<Update>,
    /// The state last sent, so an unchanged state is not sent again.
    published: Option<PlayerState>,
}

/// Whether there is a session bus to try, where the D-Bus library would look: the address in
/// `DBUS_SESSION_BUS_ADDRESS`, else the socket `$XDG_RUNTIME_DIR/bus`.
fn session_bus_named() -> bool {
    match std::env::var_os("DBUS_SESSION_BUS_ADDRESS") {
        Some(address) => !address.is_empty(),
        None => std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|dir| std::path::Path::new(&dir).join("bus").exists()),
    }
}

impl Mpris {
    /// Starts the D-Bus thread, or says in the log why MPRIS is off. `enabled` is the config
    /// switch; `cache_dir` receives extracted cover pictures. Returns at once: connecting
    /// happens on the thread, so a slow or missing bus never delays the player.
    pub(crate) fn start(enabled: bool, cache_dir: PathBuf) -> Option<Mpris> {
        if !enabled {
            tracing::info!("MPRIS is off: disabled in the config ([mpris] enabled = false)");
            return None;
        }
        if !session_bus_named() {
            // Trying anyway would leave a thread of the D-Bus library waking twice a second.
            tracing::info!(
                "MPRIS is off: no session bus (DBUS_SESSION_BUS_ADDRESS is not set and $XDG_RUNTIME_DIR/bus is not there)"
            );
            return None;
        }
        let (request_tx, requests) = crossbeam_channel::unbounded();
        let (updates, update_rx) = crossbeam_channel::unbounded();
        match service::spawn(request_tx, update_rx, cache_dir) {
            Ok(()) => Some(Mpris {
                requests,
                updates,
                published: None,
            }),
            Err(e) => {
                tracing::info!("MPRIS is off: {e}");
                None
            }
        }
    }

    /// Requests from the desktop. Disconnected once the D-Bus thread has ended (no bus).
    pub(crate) fn requests(&self) -> Receiver<Request> {
        self.requests.clone()
    }

    /// Sends the player's state to the D-Bus side if it changed; never blocks.
    /// Shows `state`, unless the player is `between_tracks` and a state is shown already: that
    /// one stays until the next track starts, as a status bar would otherwise flash "Stopped"
    /// and an empty title at every track. At start, with nothing shown, the state is (its
    /// volume, repeat mode and what can be played are true before any track starts).
    pub(crate) fn publish(&mut self, state: PlayerState, between_tracks: bool) {
        if self.published.as_ref() == Some(&state) || (between_tracks && self.published.is_some()) {
            return;
        }
        self.published = Some(state.clone());
        // A send only fails when the D-Bus thread has ended (no bus); MPRIS is then simply off.
        let _ = self.updates.send(Update::State(Box::new(state)));
    }

    /// Tells MPRIS clients that the position jumped (the `Seeked` signal).
    pub(crate) fn seeked(&self, position_ms: u64) {
        let _ = self.updates.send(Update::Seeked { position_ms });
    }
}
