//! The relay's daemon: its socket and the directory that holds it, the
//! start from `tent enter`/`tent run`, and the accept loop with its limits
//! (32 calls at once, an idle hour, a removed socket or state directory).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::engines::Engines;
use super::handle::{REQUEST_TIMEOUT, handle};
use super::protocol::FromRelay;
use super::requests::Relay;
use crate::error::{Error, Result};
use crate::paths::Paths;

/// Calls running at once; more are refused.
const MAX_CALLS: usize = 32;

/// How long an unused relay stays.
const IDLE: Duration = Duration::from_secs(3600);
/// How often an idle relay wakes to see whether it should exit.
const WAKE: Duration = Duration::from_secs(10);

/// Checks (creating it when missing, mode 0700) the directory that holds the
/// socket: it must be a real directory of ours that nobody else can enter, or
/// another user could stand in for the relay.
fn check_socket_dir(dir: &Path) -> Result<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::io(dir, e)),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| Error::io(dir, e))?;
    let problem = if meta.file_type().is_symlink() {
        Some("is a symbolic link".to_string())
    } else if !meta.is_dir() {
        Some("is not a directory".to_string())
    } else if meta.uid() != rustix::process::getuid().as_raw() {
        Some(format!("belongs to uid {}, not to you", meta.uid()))
    } else if meta.mode() & 0o7777 != 0o700 {
        Some(format!("has mode {:04o}, not 0700", meta.mode() & 0o7777))
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(Error::Export {
            message: format!("the relay's directory {} {problem}", dir.display()),
            hint: Some(format!(
                "tent will not put its relay where others can reach it; remove {} (tent makes it again)",
                dir.display()
            )),
        }),
    }
}

/// Starts the relay in the background when none answers. Called on the host
/// before `enter`/`run` exec into the engine; a failure only means exported
/// commands will not work from other boxes, so it is not an error.
pub(crate) fn ensure_running(paths: &Paths, engine: &crate::engine::Engine) {
    let Some(path) = paths.relay_socket() else { return };
    if UnixStream::connect(&path).is_ok() {
        return;
    }
    if path.parent().is_none_or(|dir| check_socket_dir(dir).is_err()) {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let mut command = Command::new(exe);
    command
        .arg("relay")
        .arg("--socket")
        .arg(&path)
        // The engine this tent chose (its --engine, TENT_ENGINE or config):
        // the relay's commands use it, never an engine named in a file.
        .env(crate::env_vars::TENT_ENGINE, &engine.path)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: only setsid and close_range run between fork and exec, both
    // plain system calls, async-signal-safe. The relay must not die with the
    // terminal session of the tent that started it, nor hold that tent's
    // descriptors (a pipe it keeps open would make a reader wait an hour).
    unsafe {
        command.pre_exec(|| {
            let _ = rustix::process::setsid();
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            Ok(())
        });
    }
    let Ok(mut child) = command.spawn() else { return };
    // Wait (briefly) until it answers: a box's first `tent host` may come
    // right after this tent execs into the engine.
    let deadline = Instant::now() + RELAY_START;
    while Instant::now() < deadline {
        if UnixStream::connect(&path).is_ok() || child.try_wait().is_ok_and(|s| s.is_some()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// How long `ensure_running` waits for a relay it started to answer.
const RELAY_START: Duration = Duration::from_secs(1);

/// Makes this process a daemon's: in `/`, stdio on /dev/null, no other
/// descriptors from whoever started it.
fn detach() {
    let _ = rustix::process::chdir("/");
    if let Ok(null) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null") {
        let _ = rustix::stdio::dup2_stdin(&null);
        let _ = rustix::stdio::dup2_stdout(&null);
        let _ = rustix::stdio::dup2_stderr(&null);
    }
    // Collect first: closing while reading /proc/self/fd would close its own.
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: single-threaded at this point and nothing in this process
        // owns these descriptors yet (the read_dir handle is closed: closing it
        // again only fails with EBADF).
        unsafe {
            libc::close(fd);
        }
    }
}

/// `tent relay`: serves requests until idle for an hour with none running.
pub(crate) fn serve(path: &Path) -> Result<()> {
    detach();
    let path = path.to_path_buf();
    let dir = path.parent().ok_or_else(|| Error::Usage { message: "no socket directory".into(), hint: None })?;
    check_socket_dir(dir)?;
    if UnixStream::connect(&path).is_ok() {
        return Ok(()); // another relay won the race
    }
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).map_err(|e| Error::io(&path, e))?;
    let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    let exe = std::env::current_exe().map_err(|e| Error::io("/proc/self/exe", e))?;
    let paths = Paths::from_env()?;
    // The engine tent chose for the tent that started this relay; nothing a
    // box writes later changes it.
    let chosen = std::env::var(crate::env_vars::TENT_ENGINE).ok().filter(|v| !v.is_empty());
    let relay = Arc::new(Relay { exe, engines: Engines::choose(chosen.as_deref()), paths });
    let paths = &relay.paths;
    listener.set_nonblocking(true).map_err(|e| Error::io(&path, e))?;
    let running = Arc::new(AtomicUsize::new(0));
    let mut idle = Instant::now();
    let had_state = paths.state.exists();
    loop {
        // Asleep in poll until a caller comes, or every WAKE to see whether
        // the relay is still wanted: an idle relay costs no CPU (a laptop's
        // battery), where a short sleep-and-retry loop woke it all the time.
        let mut fds = [rustix::event::PollFd::new(&listener, rustix::event::PollFlags::IN)];
        let wake = rustix::event::Timespec { tv_sec: WAKE.as_secs() as _, tv_nsec: 0 };
        let _ = rustix::event::poll(&mut fds, Some(&wake));
        match listener.accept() {
            Ok((stream, _)) => {
                idle = Instant::now();
                let _ = stream.set_nonblocking(false);
                // Nothing a caller does may stall this loop: the answer is
                // small, but a caller that never reads gets no more than this.
                let _ = stream.set_write_timeout(Some(REQUEST_TIMEOUT));
                if running.load(Ordering::SeqCst) >= MAX_CALLS {
                    let message = format!("the host's tent relay is busy ({MAX_CALLS} calls running); try again");
                    let _ = (&stream).write_all(&FromRelay::Refused(message).encode());
                    continue;
                }
                running.fetch_add(1, Ordering::SeqCst);
                let (relay, done) = (relay.clone(), running.clone());
                let spawned = std::thread::Builder::new().spawn(move || {
                    handle(stream, &relay);
                    done.fetch_sub(1, Ordering::SeqCst);
                });
                if spawned.is_err() {
                    running.fetch_sub(1, Ordering::SeqCst);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if running.load(Ordering::SeqCst) > 0 {
                    idle = Instant::now();
                }
                // Idle for long, its socket removed, or tent's state gone
                // (a deleted home): nobody can call it any more.
                if idle.elapsed() > IDLE || !path.exists() || (had_state && !paths.state.exists()) {
                    let _ = std::fs::remove_file(&path);
                    return Ok(());
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_directory_must_be_ours_and_private() {
        let root = tempfile::tempdir().unwrap();
        let fresh = root.path().join("tent");
        check_socket_dir(&fresh).unwrap();
        assert_eq!(std::fs::metadata(&fresh).unwrap().mode() & 0o7777, 0o700, "made 0700");
        check_socket_dir(&fresh).unwrap();

        let open = root.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = check_socket_dir(&open).unwrap_err().to_string();
        assert!(err.contains("0755") && err.contains(open.to_str().unwrap()), "{err}");

        let link = root.path().join("link");
        std::os::unix::fs::symlink(&fresh, &link).unwrap();
        let err = check_socket_dir(&link).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
    }
}
