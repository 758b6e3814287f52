//! Ctrl-C during slow steps: a flag the loops check, so a half-made box can be
//! removed before tent exits instead of dying mid-way.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// From now on SIGINT and SIGTERM set the flag instead of killing tent.
/// Child engine processes in the foreground group still receive Ctrl-C.
pub(crate) fn catch() {
    // libc's signal(): rustix has no handler API, and a crate (signal-hook)
    // for two handlers that set one flag is not worth it.
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
}

pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Also treat SIGHUP (the terminal was closed) as an interruption, for
/// commands that must clean up after themselves (`tent ephemeral`).
pub(crate) fn catch_hangup() {
    // SAFETY: as in `catch`: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGHUP, on_signal as *const () as libc::sighandler_t);
    }
}
