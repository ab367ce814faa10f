//! Running third-party parsers on untrusted files ([`guarded`]).
//!
//! symphonia and lofty can panic on damaged input (an index out of range, an arithmetic
//! overflow, an `unwrap` on a field the file got wrong). At the boundary where skipless hands
//! them a file, [`guarded`] turns such a panic into an error for that one file. A panic caught
//! there is expected, so the panic hook stays quiet about it; every other panic is reported as
//! before.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    static GUARDED: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread is inside [`guarded`]: panic hooks use it to stay quiet.
pub(crate) fn is_guarded() -> bool {
    GUARDED.with(Cell::get)
}

/// Runs `f`; a panic inside becomes `Err` with the panic's message.
pub(crate) fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    static QUIET_HOOK: Once = Once::new();
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !is_guarded() {
                previous(info);
            }
        }));
    });
    let outer = GUARDED.with(|g| g.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(outer));
    result.map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        message.lines().next().unwrap_or_default().to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message() {
        let v: Vec<u8> = Vec::new();
        let err = guarded(|| v[3]).unwrap_err();
        assert!(err.contains("index out of bounds"), "{err}");
        assert!(!is_guarded());
        assert_eq!(guarded(|| 7), Ok(7));
    }
}
