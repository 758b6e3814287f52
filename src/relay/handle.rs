//! One call, from request to exit status: the caller's credentials, the
//! bounded read, the handler for its kind (`requests`), the command started
//! in its own process group with the caller's stdio, and the signals the
//! caller forwards while it runs.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::caller::Peer;
use super::env::child_env;
use super::fds::{self, read_frame, recv_with_fds};
use super::protocol::{DecodeError, FORWARDED, FromRelay, MAX_REQUEST, Request, ToRelay};
use super::requests::{self, Planned, Relay, resolve};
use crate::paths::Paths;

/// How long a caller has to send its request.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves one call; whatever happens, the caller gets an answer when it is
/// still there to read one (within `REQUEST_TIMEOUT`: a caller that does not
/// read it holds nothing). A connection closed before it sent a byte is
/// tent's own "is the relay up?" (`ensure_running`): nothing to answer or log.
pub(super) fn handle(stream: UnixStream, relay: &Relay) {
    let _ = stream.set_write_timeout(Some(REQUEST_TIMEOUT));
    let answer = match serve_call(&stream, relay) {
        Ok(Some(answer)) => answer,
        Ok(None) => return,
        Err(message) => {
            log(&relay.paths, &format!("refused: {message}"));
            FromRelay::Refused(message)
        }
    };
    let _ = (&stream).write_all(&answer.encode());
}

/// Writes a short message to a descriptor the caller sent (its stderr),
/// when it takes one within a second: a caller's full pipe or stopped
/// terminal must not hold the relay.
fn tell(fd: OwnedFd, text: &str) {
    let mut fds = [rustix::event::PollFd::new(&fd, rustix::event::PollFlags::OUT)];
    let second = rustix::event::Timespec { tv_sec: 1, tv_nsec: 0 };
    if rustix::event::poll(&mut fds, Some(&second)).is_ok_and(|n| n > 0)
        && fds[0].revents().contains(rustix::event::PollFlags::OUT)
    {
        // One write, at most PIPE_BUF bytes: a pipe that polled writable takes it whole.
        let bytes = text.as_bytes();
        let _ = rustix::io::write(&fd, &bytes[..bytes.len().min(4096)]);
    }
}

/// Reads, checks and runs one request; Ok(None) for a probe.
fn serve_call(stream: &UnixStream, relay: &Relay) -> Result<Option<FromRelay>, String> {
    let paths = &relay.paths;
    let cred = rustix::net::sockopt::socket_peercred(stream).map_err(|e| format!("no peer credentials: {e}"))?;
    if cred.uid != rustix::process::getuid() {
        return Err(format!("uid {} may not use this user's tent relay", cred.uid.as_raw()));
    }
    let pid = cred.pid.as_raw_pid() as u32;
    // Pinned at once: the caller may exit and its pid be reused.
    let peer = Peer::of_stream(stream, pid).map_err(|e| format!("cannot tell who process {pid} is: {e}"))?;
    // One deadline for the whole request, however the caller trickles it in.
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let (body, fds) = match recv_with_fds(stream, MAX_REQUEST, deadline) {
        Ok(request) => request,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && fds::closed_before_sending(&e) => return Ok(None),
        Err(e) => return Err(format!("could not read the request: {e}")),
    };
    let request = match Request::decode(&body) {
        Ok(request) => request,
        Err(DecodeError::Unversioned) => {
            // A version 1 wrapper reads a bare status: tell its user on its
            // stderr, and end it with "cannot execute".
            if let Some(stderr) = fds.into_iter().nth(2) {
                tell(
                    stderr,
                    "tent: this command was exported by an older tent, whose calls from other boxes the relay no \
                     longer serves; on the host, export it again (`tent export BOX --bin NAME`)\n",
                );
            }
            log(paths, &format!("refused: pid {pid}: a version 1 request"));
            let _ = (&*stream).write_all(&crate::error::exit::NOT_EXECUTABLE.to_le_bytes());
            return Err("version 1 request".into());
        }
        Err(e) => return Err(format!("{e}; the wrapper and the relay must come from the same tent")),
    };
    // What to run, one handler per request kind.
    let Planned { program, argv, cwd, env, caller_box } = match request {
        Request::RunExport(run) => requests::run_export(relay, &peer, run)?,
        Request::HostExec(host) => requests::host_exec(relay, &peer, host)?,
        Request::HostTent(host) => requests::host_tent(relay, &peer, host)?,
    };
    let mut fds = fds.into_iter();
    let (Some(stdin), Some(stdout), Some(stderr)) = (fds.next(), fds.next(), fds.next()) else {
        return Err("a request needs the caller's stdin, stdout and stderr".into());
    };
    let cwd = PathBuf::from(&cwd);
    let cwd = if cwd.is_absolute() && cwd.is_dir() { cwd } else { paths.home.clone() };
    let env = child_env(|k| std::env::var_os(k), &env, caller_box.as_deref());
    // A bare name is looked up on the relay's own PATH (the child's), not on
    // the caller's.
    let program = match resolve(&program, env.iter().find(|(k, _)| k == "PATH").map(|(_, v)| v.as_os_str())) {
        Ok(program) => program,
        Err(code) => {
            let what = if code == crate::error::exit::NOT_FOUND { "command not found" } else { "permission denied" };
            tell(stderr, &format!("tent host: {}: {what} on the host\n", program.display()));
            return Ok(Some(FromRelay::Exit(code)));
        }
    };
    let mut command = Command::new(&program);
    command
        .args(&argv)
        .env_clear()
        .envs(env)
        .current_dir(cwd)
        .process_group(0)
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr));
    let _ = stream.set_read_timeout(None);
    let mut child = command.spawn().map_err(|e| format!("could not start {}: {e}", program.display()))?;
    let group = rustix::process::Pid::from_child(&child);
    // Set once the child has exited, before it is reaped: from then on its
    // process group id may be reused, so nothing signals it.
    let exited = Arc::new(Mutex::new(false));
    if let Ok(reader) = stream.try_clone() {
        let exited = exited.clone();
        std::thread::spawn(move || forward_signals(&reader, group, &exited));
    }
    // Wait for the exit without reaping (NOWAIT), retrying on EINTR.
    while let Err(rustix::io::Errno::INTR) = rustix::process::waitid(
        rustix::process::WaitId::Pid(group),
        rustix::process::WaitIdOptions::EXITED | rustix::process::WaitIdOptions::NOWAIT,
    ) {}
    *exited.lock().unwrap_or_else(|e| e.into_inner()) = true;
    let status = child.wait().map_err(|e| format!("lost the command: {e}"))?;
    Ok(Some(FromRelay::Exit(status_code(status))))
}

/// A command's status as a shell reports it: the exit code, or 128+N for a
/// death by signal N.
fn status_code(status: ExitStatus) -> i32 {
    status.code().or_else(|| status.signal().map(|n| 128 + n)).unwrap_or(crate::error::exit::FAILURE)
}

/// Passes the caller's signals to the command's process group until the
/// caller is gone; a caller that vanishes mid-call gets its command hung up.
fn forward_signals(stream: &UnixStream, group: rustix::process::Pid, exited: &Mutex<bool>) {
    let signal = |n: i32| {
        let done = exited.lock().unwrap_or_else(|e| e.into_inner());
        if !*done && let Some(signal) = rustix::process::Signal::from_named_raw(n) {
            let _ = rustix::process::kill_process_group(group, signal);
        }
        !*done
    };
    loop {
        match read_frame(stream, 16).ok().and_then(|body| ToRelay::decode(&body)) {
            Some(ToRelay::Signal(n)) if FORWARDED.contains(&i32::from(n)) => {
                signal(i32::from(n));
            }
            Some(ToRelay::Signal(_)) => {}
            None => {
                if signal(libc::SIGHUP) {
                    let deadline = Instant::now() + Duration::from_secs(3);
                    while Instant::now() < deadline {
                        if *exited.lock().unwrap_or_else(|e| e.into_inner()) {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    signal(libc::SIGKILL);
                }
                return;
            }
        }
    }
}

/// The bounded refusal log, `$XDG_STATE_HOME/tent/relay.log`: the relay has
/// no terminal, and a refused call is worth finding later. The state is the
/// boxes' to change too: never through a link, never waiting on a FIFO.
fn log(paths: &Paths, line: &str) {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let line = line.replace(['\n', '\r'], " ");
    let _ = crate::files::append_line(&paths.state.join("relay.log"), &format!("{secs} {line}"), MAX_REQUEST as u64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::fds::send_with_fds;
    use crate::relay::protocol::HostCommand;
    use crate::relay::test_support::{paths, run_export, test_engines};
    use std::os::fd::AsFd;

    #[test]
    fn signal_deaths_are_128_plus_n() {
        assert_eq!(status_code(ExitStatus::from_raw(15)), 143);
        assert_eq!(status_code(ExitStatus::from_raw(9)), 137);
        assert_eq!(status_code(ExitStatus::from_raw(2)), 130);
        assert_eq!(status_code(ExitStatus::from_raw(42 << 8)), 42);
        assert_eq!(status_code(ExitStatus::from_raw(0)), 0);
    }

    /// A real relay on a socket pair: a host exec request and a request for a
    /// name nobody exported are refused with a message.
    #[test]
    fn requests_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        for (request, expected) in [
            (Request::HostExec(HostCommand { args: vec![], cwd: "/".into(), env: vec![] }), "no command given"),
            (Request::RunExport(run_export("podman", "rm")), "has no exported command \"rm\""),
        ] {
            let (a, b) = UnixStream::pair().unwrap();
            let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
            send_with_fds(&a, &request.encode(), &[stdin.as_fd(), stdout.as_fd(), stderr.as_fd()]).unwrap();
            handle(b, &Relay { exe: "/bin/false".into(), paths: p.clone(), engines: test_engines() });
            let answer = FromRelay::decode(&read_frame(&a, 1 << 16).unwrap()).unwrap();
            assert!(matches!(&answer, FromRelay::Refused(m) if m.contains(expected)), "{answer:?}");
        }
    }

    /// tent's own "is the relay up?" connect is neither answered nor logged
    /// as a refusal; a request that stops half-way is.
    #[test]
    fn probes_are_not_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let relay = Relay { exe: "/bin/false".into(), paths: paths(dir.path()), engines: test_engines() };
        let log = relay.paths.state.join("relay.log");
        let (a, b) = UnixStream::pair().unwrap();
        drop(a);
        handle(b, &relay);
        assert!(!log.exists(), "a probe was logged");
        let (a, b) = UnixStream::pair().unwrap();
        (&a).write_all(&[9, 0]).unwrap();
        a.shutdown(std::net::Shutdown::Write).unwrap();
        handle(b, &relay);
        let answer = FromRelay::decode(&read_frame(&a, 1 << 16).unwrap()).unwrap();
        assert!(matches!(&answer, FromRelay::Refused(m) if m.contains("could not read the request")), "{answer:?}");
        assert!(std::fs::read_to_string(&log).unwrap().contains("refused: could not read the request"));
    }
}
