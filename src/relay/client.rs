//! The client: what `tent relay-call`, `tent host` and `tent ARGS` in a box
//! send the host's relay, with this process's stdio attached, and the
//! signals they pass on while the call runs.

use std::ffi::OsString;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};

use super::fds::{read_frame, send_with_fds};
use super::protocol::{FORWARDED, FromRelay, HostCommand, MAX_REQUEST, Request, RunExport, ToRelay};
use crate::error::{Error, Result};

/// What `tent relay-call` was asked for.
pub(crate) struct Call {
    pub socket: PathBuf,
    pub scope: String,
    pub box_name: String,
    pub export: String,
    pub args: Vec<OsString>,
}

/// The write end of the self-pipe the caller's signal handler writes to.
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signal: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::SeqCst);
    if fd >= 0 {
        let byte = signal as u8;
        // SAFETY: write(2) is async-signal-safe; the pipe outlives the call.
        unsafe {
            libc::write(fd, (&raw const byte).cast(), 1);
        }
    }
}

/// From now on the forwarded signals are written to a pipe, whose other end
/// is returned, instead of ending this process.
fn catch_forwarded_signals() -> std::io::Result<std::io::PipeReader> {
    let (reader, writer) = std::io::pipe()?;
    let fd: OwnedFd = writer.into();
    SIGNAL_PIPE.store(std::os::fd::IntoRawFd::into_raw_fd(fd), Ordering::SeqCst);
    for signal in FORWARDED {
        // libc's signal(): rustix has no handler API (see crate::interrupt).
        // SAFETY: the handler only does an atomic load and write(2).
        unsafe {
            libc::signal(signal, on_signal as *const () as libc::sighandler_t);
        }
    }
    Ok(reader)
}

fn unreachable_relay(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Export {
        message: format!("the host's tent relay does not answer at {}: {e}", path.display()),
        hint: Some("run `tent enter` or `tent run` once on the host (it starts the relay), then try again".into()),
    }
}

/// `tent relay-call`, in a box: asks the host's relay to run an exported
/// command with this process's stdio, passes on signals, and returns the
/// command's exit status.
pub(crate) fn call(call: Call) -> Result<i32> {
    let request = Request::RunExport(RunExport {
        scope: call.scope,
        box_name: call.box_name,
        export: call.export,
        args: call.args,
        cwd: std::env::current_dir().map(PathBuf::into_os_string).unwrap_or_default(),
        env: caller_env(),
    });
    call_raw(&call.socket, &request.encode())
}

/// The caller's session variables, as a request carries them.
fn caller_env() -> Vec<(OsString, OsString)> {
    crate::boxes::host::PASSTHROUGH_ENV
        .iter()
        .filter_map(|k| std::env::var_os(k).map(|v| (OsString::from(k), v)))
        .collect()
}

/// `tent host -- CMD ARGS` in a box (`tent: false`), or `tent ARGS` typed in
/// a box (`tent: true`): asks the relay to run it on the host with this
/// process's stdio, cwd and session variables; returns its exit status.
pub(crate) fn host_call(socket: &Path, tent: bool, args: Vec<OsString>) -> Result<i32> {
    let command = HostCommand {
        args,
        cwd: std::env::current_dir().map(PathBuf::into_os_string).unwrap_or_default(),
        env: caller_env(),
    };
    let request = if tent { Request::HostTent(command) } else { Request::HostExec(command) };
    call_raw(socket, &request.encode())
}

/// Sends one framed request as it is and waits for the answer. `call` uses
/// it; `relay-call --request-file` too, to show that the relay judges the
/// bytes it gets, not the client that sent them.
pub(crate) fn call_raw(path: &Path, framed: &[u8]) -> Result<i32> {
    let stream = UnixStream::connect(path).map_err(|e| unreachable_relay(path, e))?;
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    send_with_fds(&stream, framed, &[stdin.as_fd(), stdout.as_fd(), stderr.as_fd()])
        .map_err(|e| unreachable_relay(path, e))?;
    if let (Ok(signals), Ok(sender)) = (catch_forwarded_signals(), stream.try_clone()) {
        std::thread::spawn(move || {
            let mut signals = signals;
            let mut byte = [0u8; 1];
            while std::io::Read::read(&mut signals, &mut byte).is_ok_and(|n| n == 1) {
                if (&sender).write_all(&ToRelay::Signal(byte[0]).encode()).is_err() {
                    break;
                }
            }
        });
    }
    let answer = read_frame(&stream, MAX_REQUEST).ok().and_then(|body| FromRelay::decode(&body));
    match answer {
        Some(FromRelay::Exit(code)) => Ok(code),
        Some(FromRelay::Refused(message)) => Err(Error::Export { message, hint: None }),
        None => Err(Error::Export {
            message: format!("the host's tent relay at {} ended the call without an answer", path.display()),
            hint: Some(
                "a relay from an older tent may still be running: it exits after an idle hour, or end it on the host"
                    .into(),
            ),
        }),
    }
}
