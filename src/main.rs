//! tent's entry point. It skips the Rust runtime's own start-up (`no_main`):
//! on Linux that start-up reads `/proc/self/maps` through glibc to find the
//! main thread's stack (for the stack-overflow message) and maps a signal
//! stack, work that every exported command and `tent enter` paid before
//! tent did anything (issue 24: start-up is budgeted at 2.5× `/bin/true`).
//! What of it tent relies on is done here: standard descriptors that are
//! closed are opened on /dev/null (so no file tent opens becomes its
//! stdout), and SIGPIPE is ignored (a closed pipe is an `EPIPE` error, as
//! under std's start-up; children get the default back, as std's `Command`
//! resets it). A stack overflow still ends the process (SIGSEGV), without
//! std's message. `std::env::args` needs no start-up on glibc.
// The test harness of this file (`cargo test` builds one for every
// binary) brings its own `main`.
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
use std::ffi::{c_char, c_int};

#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    standard_descriptors();
    // SAFETY: setting a signal's disposition to SIG_IGN installs no handler
    // code; rustix has no safe sigaction outside its `runtime` feature.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    std::process::exit(tent::run())
}

/// Opens /dev/null on each of descriptors 0, 1 and 2 that is closed, as
/// std's start-up does.
#[cfg(not(test))]
fn standard_descriptors() {
    use std::os::fd::{AsRawFd, BorrowedFd, IntoRawFd};
    for fd in 0..3 {
        // SAFETY: the descriptor is only asked about, never closed or kept.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        if rustix::io::fcntl_getfd(borrowed) != Err(rustix::io::Errno::BADF) {
            continue;
        }
        // The lowest free descriptor: this one, as the lower ones are open.
        match rustix::fs::open("/dev/null", rustix::fs::OFlags::RDWR, rustix::fs::Mode::empty()) {
            Ok(null) if null.as_raw_fd() == fd => {
                let _ = null.into_raw_fd();
            }
            _ => std::process::abort(),
        }
    }
}

/// `pow` for the one caller tent has, indicatif's rate estimate
/// (`f64::powf`): the only symbol tent took from libm.so.6. Defined here, it
/// lets the linker (`--as-needed`) drop that library, which the loader
/// otherwise found, mapped and relocated at every start of tent: 12 page
/// faults and about 5 % of a `tent run` (issue 24, docs/performance.md). The
/// `libm` crate is the Rust project's port of musl's.
#[unsafe(no_mangle)]
extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

#[cfg(test)]
mod tests {
    #[test]
    fn pow_is_the_power() {
        let (x, y) = std::hint::black_box((0.1_f64, 2.5_f64));
        // 10^-2.5, within an ulp; and through the symbol std's powf calls.
        assert!((super::pow(x, y) - 0.003_162_277_660_168_379_4).abs() < 1e-18);
        assert!((x.powf(y) - 0.003_162_277_660_168_379_4).abs() < 1e-18);
        assert_eq!(super::pow(2.0, 10.0), 1024.0);
    }
}
