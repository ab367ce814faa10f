//! The front ends' side of MPRIS: what the desktop is shown ([`state_of`]) and what a desktop
//! request does ([`apply`]). Requests go through the same [`Controller`] calls as the player's
//! keys, tagged [`ControlSource::Mpris`], so the skip rule and the log treat a media-key skip
//! like any other and record where it came from.

use std::time::Duration;

use super::autoplay::{Autoplay, FromNothing};
use super::controller::Controller;
use super::queue::Repeat;
use crate::app::library::{nothing_at, tracks_at};
use crate::mpris::{Loop, PlayerState, Request, Status};
use crate::play::{ControlSource, PlaySource};
use crate::player::SeekTo;
use crate::track::Track;

/// What the front end still has to do after [`apply`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Applied {
    Done,
    /// The desktop asked the player to quit: the front end quits as on its own quit command.
    Quit,
    /// Something to tell the listener (the status line, or stderr in the headless player).
    Notice(String),
    /// The repeat mode was set: what that means for autoplay is the front end's to say.
    Repeat(Repeat),
}

/// Whether the engine is going from one track to the next (a play has ended, or is asked for,
/// and has not started): the desktop keeps showing what it showed (`Mpris::publish`).
pub fn between_tracks(controller: &Controller) -> bool {
    controller.now.is_none() && controller.has_play()
}

/// The player's state as MPRIS shows it.
pub fn state_of(controller: &Controller) -> PlayerState {
    let now = controller.now.as_ref();
    PlayerState {
        status: match now {
            None => Status::Stopped,
            Some(n) if n.paused => Status::Paused,
            Some(_) => Status::Playing,
        },
        track: now.map(|n| Track {
            duration_ms: n.duration_ms,
            ..n.entry.track.clone()
        }),
        position_ms: now.map_or(0, |n| n.position_ms),
        volume: controller.volume,
        can_go_next: controller.queue.skip_index().is_some(),
        can_go_previous: controller.queue.previous_index().is_some(),
        can_play: now.is_some() || !controller.queue.entries().is_empty(),
        loop_status: match controller.queue.repeat {
            Repeat::Off => Loop::None,
            Repeat::One => Loop::Track,
            Repeat::All => Loop::Playlist,
        },
    }
}

/// The repeat mode a `LoopStatus` asks for.
fn repeat_of(status: Loop) -> Repeat {
    match status {
        Loop::None => Repeat::Off,
        Loop::Track => Repeat::One,
        Loop::Playlist => Repeat::All,
    }
}

/// Carries out one request from the desktop; play with nothing queued goes to `autoplay`'s
/// picks when it is `picking`, as the keys do.
pub(crate) fn apply(
    controller: &mut Controller,
    autoplay: Option<&mut Autoplay>,
    picking: bool,
    request: Request,
) -> Applied {
    const BY: ControlSource = ControlSource::Mpris;
    if matches!(request, Request::PlayPause | Request::Play | Request::Next) {
        match FromNothing::press(controller, autoplay, picking) {
            FromNothing::NotEmpty => {}
            FromNothing::Picking => return Applied::Notice(FromNothing::PICKING.into()),
            FromNothing::NothingQueued => return Applied::Done,
        }
    }
    let now = controller.now.clone();
    match request {
        Request::PlayPause => controller.toggle(BY),
        Request::Play if now.as_ref().is_some_and(|n| !n.paused) => {}
        Request::Play => controller.resume(BY),
        Request::Pause => controller.pause(),
        Request::Stop => controller.stop(BY),
        Request::Next => controller.next(BY),
        Request::Previous => controller.previous(BY),
        Request::Seek { offset_us } => {
            let Some(now) = now else { return Applied::Done };
            let target_us = i128::from(now.position_ms) * 1000 + i128::from(offset_us);
            let past_the_end = now.duration_ms.is_some_and(|d| target_us > i128::from(d) * 1000);
            // The specification: seeking past the end acts like Next, before the start goes to 0.
            if past_the_end {
                controller.next(BY);
            } else if offset_us >= 0 {
                controller.seek(SeekTo::Forward(Duration::from_micros(offset_us.unsigned_abs())));
            } else {
                controller.seek(SeekTo::Backward(Duration::from_micros(offset_us.unsigned_abs())));
            }
        }
        Request::SetPosition { track_id, position_us } => {
            let Some(now) = now.filter(|n| n.entry.track.id == track_id) else {
                return Applied::Done;
            };
            let within = position_us >= 0
                && now
                    .duration_ms
                    .is_none_or(|d| i128::from(position_us) <= i128::from(d) * 1000);
            if within {
                controller.seek(SeekTo::Absolute(Duration::from_micros(position_us.unsigned_abs())));
            }
        }
        Request::Open(path) => return open(controller, &path),
        Request::Volume(percent) => controller.set_volume(percent),
        Request::Loop(status) => {
            let repeat = repeat_of(status);
            controller.set_repeat(repeat);
            return Applied::Repeat(repeat);
        }
        Request::Quit => return Applied::Quit,
    }
    Applied::Done
}

/// `OpenUri`: plays a file (or a folder) of the library in place of the queue (the tracks queued
/// and not heard yet follow it), as choosing it in the player does.
fn open(controller: &mut Controller, path: &std::path::Path) -> Applied {
    match tracks_at(controller.recorder().database(), path) {
        Ok(tracks) if !tracks.is_empty() => {
            controller.play_tracks(tracks, 0, PlaySource::User, ControlSource::Mpris);
            Applied::Done
        }
        Ok(_) => Applied::Notice(match nothing_at(controller.recorder().database(), path) {
            Ok(said) => said,
            Err(e) => e.to_string(),
        }),
        Err(e) => Applied::Notice(e.to_string()),
    }
}
