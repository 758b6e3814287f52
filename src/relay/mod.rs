//! The relay: how an exported command runs from inside *another* box.
//!
//! Inside box B the host's engine cannot be reached, so a wrapper exported
//! from box A cannot run `tent run A` there. Every box shares the user's
//! `$XDG_RUNTIME_DIR`, so tent keeps a small relay on the host listening on
//! `$XDG_RUNTIME_DIR/tent/relay-KEY.sock`. The wrapper in box B runs the host's
//! own tent binary (through the host's dynamic loader under /run/host) as
//! `tent relay-call --socket SOCKET -- ARGS...`, which hands the relay its
//! argv, directory, session variables and its stdin, stdout and stderr themselves (SCM_RIGHTS),
//! so terminals, pipes and bytes pass exactly; the relay runs `tent ARGS...`
//! on the host with those descriptors and sends back the exit status.
//!
//! The relay is started by `tent enter`/`tent run` on the host when it is not
//! answering (one `connect` on the warm path), and exits after an idle hour.
//! Descriptor passing is rustix's `sendmsg`/`recvmsg` (`fds`); the wire
//! format is `protocol`.

mod fds;
mod protocol;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::paths::Paths;
use fds::{recv_with_fds, send_with_fds};
pub use protocol::Request;

/// The largest request the relay reads.
const MAX_REQUEST: usize = 1 << 20;

/// How long an unused relay stays.
const IDLE: Duration = Duration::from_secs(3600);

/// Starts the relay in the background when none answers. Called on the host
/// before `enter`/`run` exec into the engine; a failure only means exported
/// commands will not work from other boxes, so it is not an error.
pub fn ensure_running(paths: &Paths) {
    let Some(path) = paths.relay_socket() else { return };
    if UnixStream::connect(&path).is_ok() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let mut command = Command::new(exe);
    command.arg("relay").arg("--socket").arg(&path).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    // SAFETY: only setsid runs between fork and exec, and it is
    // async-signal-safe; the relay must not die with the terminal session of
    // the tent that started it.
    unsafe {
        command.pre_exec(|| {
            let _ = rustix::process::setsid();
            Ok(())
        });
    }
    let _ = command.spawn();
}

/// `tent relay-call ARGS...`, in a box: runs `tent ARGS...` on the host with
/// this process's stdio, and returns its exit status.
pub fn call(path: &std::path::Path, args: Vec<OsString>) -> Result<i32> {
    let stream = UnixStream::connect(path).map_err(|e| Error::Export {
        message: format!("the host's tent relay does not answer at {}: {e}", path.display()),
        hint: Some("run `tent enter` or `tent run` once on the host (it starts the relay), then try again".into()),
    })?;
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    let request = Request {
        args,
        cwd: std::env::current_dir().map(PathBuf::into_os_string).unwrap_or_default(),
        env: crate::boxes::host::PASSTHROUGH_ENV
            .iter()
            .filter_map(|k| std::env::var_os(k).map(|v| (OsString::from(k), v)))
            .collect(),
    };
    send_with_fds(&stream, &request.encode(), &[stdin.as_fd(), stdout.as_fd(), stderr.as_fd()])
        .map_err(|e| Error::io(path, e))?;
    let mut status = [0u8; 4];
    (&stream).read_exact(&mut status).map_err(|e| Error::io(path, e))?;
    Ok(i32::from_le_bytes(status))
}

/// `tent relay`: serves requests until idle for an hour.
pub fn serve(path: &std::path::Path) -> Result<()> {
    let path = path.to_path_buf();
    let dir = path.parent().expect("socket has a parent");
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    if UnixStream::connect(&path).is_ok() {
        return Ok(()); // another relay won the race
    }
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).map_err(|e| Error::io(&path, e))?;
    let exe = std::env::current_exe().map_err(|e| Error::io("/proc/self/exe", e))?;
    listener.set_nonblocking(true).map_err(|e| Error::io(&path, e))?;
    let mut idle = std::time::Instant::now();
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                idle = std::time::Instant::now();
                let exe = exe.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_nonblocking(false);
                    let _ = handle(stream, &exe);
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if idle.elapsed() > IDLE || !path.exists() {
                    let _ = std::fs::remove_file(&path);
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn handle(stream: UnixStream, exe: &std::path::Path) -> std::io::Result<()> {
    let (body, fds) = recv_with_fds(&stream, MAX_REQUEST)?;
    let request =
        Request::decode(&body).ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "bad request"))?;
    let mut fds = fds.into_iter();
    let (Some(stdin), Some(stdout), Some(stderr)) = (fds.next(), fds.next(), fds.next()) else {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "three descriptors expected"));
    };
    let mut command = Command::new(exe);
    command.args(&request.args).stdin(Stdio::from(stdin)).stdout(Stdio::from(stdout)).stderr(Stdio::from(stderr));
    for (k, v) in &request.env {
        command.env(k, v);
    }
    let cwd = PathBuf::from(&request.cwd);
    if cwd.is_dir() {
        command.current_dir(cwd);
    }
    let status = match command.status() {
        Ok(s) => s.code().unwrap_or(128 + 9),
        Err(_) => crate::error::exit::ENGINE,
    };
    (&stream).write_all(&status.to_le_bytes())
}
