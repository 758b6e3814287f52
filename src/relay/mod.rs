//! The relay: how an exported command runs from inside *another* box.
//!
//! Inside box B the host's engine cannot be reached, so a wrapper exported
//! from box A cannot run `tent run A` there. Every box shares the user's
//! `$XDG_RUNTIME_DIR`, so tent keeps a small relay on the host listening on
//! `$XDG_RUNTIME_DIR/tent/relay-KEY.sock`. The wrapper in box B runs the host's
//! own tent binary (through the host's dynamic loader under /run/host) as
//! `tent relay-call --socket SOCKET --scope S --box A --export NAME -- ARGS...`,
//! which sends the relay a *request* (`protocol`) with its stdin, stdout and
//! stderr attached (SCM_RIGHTS, `fds`), so terminals, pipes and bytes pass
//! exactly.
//!
//! Trust: every process in every box can reach the socket, and a box is not
//! a sandbox but tent never widens it, so the relay trusts nothing the caller
//! says about what to run or how:
//! - It takes a request kind, never an argv. `RunExport` names an export; the
//!   relay looks it up in that box's receipt and builds
//!   `tent --engine E [--root] run A -- TARGET ARGS...` itself, with E the
//!   engine tent chose when the relay started (`Engines`: the starting tent's
//!   own engine, else the scope's engine by name on PATH), never the engine a
//!   receipt names. A name not in the receipts is refused.
//!   `HostExec` (`tent host -- CMD` in a box) runs CMD on the host, and
//!   `HostTent` (`tent ARGS` in a box) the relay's own tent in the caller's
//!   engine scope. All three only for a caller the relay has placed in a box
//!   (or the host) *and* confirmed with the engine, whose spec label does not
//!   say `--no-host` (`host_policy`): receipts are in the shared state, so any
//!   box can write one naming any target in any box, which makes an export
//!   call as strong as a host command. Nothing a box can write decides this:
//!   the state dirs and the home are shared with boxes, the engine's label is
//!   not.
//! - The caller's identity comes from the kernel (SO_PEERCRED): another uid is
//!   refused, and the caller is pinned at once (`Peer`: its pidfd from
//!   SO_PEERPIDFD, and its `/proc/PID` directory opened while that pidfd says
//!   it runs), so a caller that exits and whose pid is reused is never taken
//!   for the new process. Its box is found by comparing its mount namespace
//!   with each box's init (boxes run with `--pid host`, and the kernel gives
//!   the peer's pid in the relay's namespace anyway); the pid files that name
//!   the inits are the boxes' to write, so they are read bounded, without
//!   following links or waiting on a FIFO. A caller that is neither the host
//!   nor a confirmed tent box is refused. Docker runs every box's init as root: for host requests a Docker
//!   caller is confirmed by the engine through its cgroup instead, which names
//!   the container it was `docker exec`ed into and which a box cannot change
//!   (Docker mounts the cgroup tree read-only without `--privileged`).
//!   The box is passed on as `TENT_CALLER_BOX`, for information only.
//! - The command gets a clean environment: the relay's own HOME, USER,
//!   LOGNAME, PATH, runtime and XDG base directories and engine connection
//!   variables (so it reaches the same store), plus the caller's session
//!   variables from `PASSTHROUGH_ENV` (terminal, display, locale...) but never
//!   `TENT_*`, `LD_*`, `XDG_*_HOME` or `XDG_RUNTIME_DIR`, which would change what
//!   tent runs or where it keeps its state.
//! - Bounded: 1 MiB frames, 5 seconds to send the whole request (one deadline,
//!   however it is trickled in), 32 calls at once, each in its own thread, so
//!   a stuck caller or a hostile file holds one call, never the others; the
//!   relay's own messages to a caller's stderr wait at most a second.
//!
//! During a call the caller forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT and
//! SIGWINCH (the new size itself is on the shared terminal) as small frames;
//! the relay signals the command's process group. A caller that disconnects
//! gets its command hung up (SIGHUP, then SIGKILL). The answer is the exit
//! status, 128+N for a death by signal N.
//!
//! The relay is started by `tent enter`/`tent run` on the host when it is not
//! answering (one `connect` on the warm path), in `/` with no inherited
//! descriptors, and exits after an idle hour with no call running, or soon
//! after its socket or tent's state directory is removed. Idle, it sleeps in
//! poll(2), waking every 10 seconds. It refuses a socket directory that is
//! not the user's own with mode 0700.

mod fds;
mod protocol;

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::paths::Paths;
use fds::{read_frame, recv_with_fds, send_with_fds};
pub use protocol::{DecodeError, FromRelay, HostCommand, Request, RunExport, ToRelay};

/// The largest frame the relay reads.
const MAX_REQUEST: usize = 1 << 20;

/// How long a caller has to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Calls running at once; more are refused.
const MAX_CALLS: usize = 32;

/// How long an unused relay stays.
const IDLE: Duration = Duration::from_secs(3600);
/// How often an idle relay wakes to see whether it should exit.
const WAKE: Duration = Duration::from_secs(10);

/// The signals a caller forwards.
const FORWARDED: [i32; 5] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT, libc::SIGWINCH];

/// The relay's own variables its commands get: who and where the user is,
/// and how the engine is reached, so `tent run` finds the same boxes.
const OWN_ENV: &[&str] = &[
    "HOME",
    "USER",
    "LOGNAME",
    "PATH",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "XDG_CACHE_HOME",
    "CONTAINERS_CONF",
    "CONTAINERS_STORAGE_CONF",
    "CONTAINERS_REGISTRIES_CONF",
    "CONTAINER_HOST",
    "CONTAINER_CONNECTION",
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_CONFIG",
    "DOCKER_CERT_PATH",
    "DOCKER_TLS_VERIFY",
];

/// Whether a caller's variable may reach the command: a session variable
/// (terminal, display, locale...), but nothing that steers tent, the dynamic
/// loader or where state lives.
pub fn caller_var_allowed(key: &OsStr, value: &OsStr) -> bool {
    let Some(key) = key.to_str() else { return false };
    crate::boxes::host::PASSTHROUGH_ENV.contains(&key)
        && !key.starts_with("TENT_")
        && !key.starts_with("LD_")
        && (!key.starts_with("XDG_") || !key.ends_with("_HOME"))
        && key != "XDG_RUNTIME_DIR"
        && !OWN_ENV.contains(&key)
        && !value.as_encoded_bytes().contains(&0)
}

/// The command's whole environment: the relay's own `OWN_ENV` (from `own`),
/// the caller's allowed variables, and the caller's box for information.
pub fn child_env(
    own: impl Fn(&str) -> Option<OsString>,
    caller: &[(OsString, OsString)],
    caller_box: Option<&str>,
) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> =
        OWN_ENV.iter().filter_map(|k| own(k).map(|v| (OsString::from(k), v))).collect();
    for (k, v) in caller {
        if caller_var_allowed(k, v) && !env.iter().any(|(have, _)| have == k) {
            env.push((k.clone(), v.clone()));
        }
    }
    if let Some(name) = caller_box {
        env.push((crate::env_vars::TENT_CALLER_BOX.into(), name.into()));
    }
    env
}

/// A command's status as a shell reports it: the exit code, or 128+N for a
/// death by signal N.
pub fn status_code(status: ExitStatus) -> i32 {
    status.code().or_else(|| status.signal().map(|n| 128 + n)).unwrap_or(crate::error::exit::FAILURE)
}

/// Checks (creating it when missing, mode 0700) the directory that holds the
/// socket: it must be a real directory of ours that nobody else can enter, or
/// another user could stand in for the relay.
pub fn check_socket_dir(dir: &Path) -> Result<()> {
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
pub fn ensure_running(paths: &Paths, engine: &crate::engine::Engine) {
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

/// What `tent relay-call` was asked for.
pub struct Call {
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
pub fn call(call: Call) -> Result<i32> {
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
pub fn host_call(socket: &Path, tent: bool, args: Vec<OsString>) -> Result<i32> {
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
pub fn call_raw(path: &Path, framed: &[u8]) -> Result<i32> {
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

/// A mount namespace's identity: the device and inode of `/proc/PID/ns/mnt`.
fn mount_ns(pid: u32) -> std::io::Result<(u64, u64)> {
    let st = rustix::fs::stat(format!("/proc/{pid}/ns/mnt"))?;
    Ok((st.st_dev, st.st_ino))
}

/// `SO_PEERPIDFD` (Linux 6.5): a pidfd of the very process that connected.
/// The generic value; architectures with their own socket numbers fall back
/// to `pidfd_open`.
const SO_PEERPIDFD: Option<libc::c_int> = if cfg!(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "riscv64",
    target_arch = "loongarch64",
    target_arch = "s390x"
)) {
    Some(77)
} else {
    None
};

/// The pidfd of the process at the other end of `stream`, from the kernel.
fn peer_pidfd(stream: &UnixStream) -> std::io::Result<OwnedFd> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let option = SO_PEERPIDFD.ok_or(std::io::ErrorKind::Unsupported)?;
    let mut fd: libc::c_int = -1;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // libc: rustix has no SO_PEERPIDFD. SAFETY: the kernel writes at most
    // `len` bytes into `fd`, which outlives the call.
    let r =
        unsafe { libc::getsockopt(stream.as_raw_fd(), libc::SOL_SOCKET, option, (&raw mut fd).cast(), &raw mut len) };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if fd < 0 || len as usize != size_of::<libc::c_int>() {
        return Err(std::io::ErrorKind::InvalidData.into());
    }
    // SAFETY: getsockopt made this descriptor for us alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Whether the process behind `pidfd` has ended (its pidfd is readable).
fn pidfd_ended(pidfd: &OwnedFd) -> bool {
    let mut fds = [rustix::event::PollFd::new(pidfd, rustix::event::PollFlags::IN)];
    let now = rustix::event::Timespec { tv_sec: 0, tv_nsec: 0 };
    match rustix::event::poll(&mut fds, Some(&now)) {
        Ok(n) => n > 0 && !fds[0].revents().is_empty(),
        Err(_) => true,
    }
}

/// The calling process, pinned: its `/proc/PID` directory, opened while a
/// pidfd of that very process says it still runs. Everything the relay
/// learns about the caller (its mount namespace, its cgroup) is read through
/// that directory, which keeps naming that process after it exits (reads then
/// fail), so a caller that exits and whose pid is reused by another process
/// is never mistaken for the new one.
#[derive(Debug)]
pub struct Peer {
    pub pid: u32,
    dir: OwnedFd,
}

impl Peer {
    /// The process at the other end of `stream`, whose pid SO_PEERCRED said
    /// is `pid`. Its pidfd comes from the kernel (SO_PEERPIDFD) where it can;
    /// on kernels before 6.5 from `pidfd_open` at once, which leaves only the
    /// moment between the caller's connect and the relay's accept.
    pub fn of_stream(stream: &UnixStream, pid: u32) -> std::io::Result<Peer> {
        let pidfd = match peer_pidfd(stream) {
            Ok(fd) => fd,
            Err(_) => Self::open_pidfd(pid)?,
        };
        Self::pin(pid, &pidfd)
    }

    /// A process by its pid (the relay itself, tests).
    pub fn of_pid(pid: u32) -> std::io::Result<Peer> {
        let pidfd = Self::open_pidfd(pid)?;
        Self::pin(pid, &pidfd)
    }

    fn open_pidfd(pid: u32) -> std::io::Result<OwnedFd> {
        let raw = rustix::process::Pid::from_raw(pid as i32).ok_or(std::io::ErrorKind::InvalidInput)?;
        Ok(rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty())?)
    }

    /// Opens `/proc/PID`, then checks the pidfd's process still runs: it held
    /// `pid` all along, so the directory is its own.
    fn pin(pid: u32, pidfd: &OwnedFd) -> std::io::Result<Peer> {
        use rustix::fs::{Mode, OFlags};
        let dir = rustix::fs::open(
            format!("/proc/{pid}"),
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )?;
        if pidfd_ended(pidfd) {
            return Err(std::io::Error::new(std::io::ErrorKind::NotFound, "the calling process has ended"));
        }
        Ok(Peer { pid, dir })
    }

    /// The caller's mount namespace.
    fn mount_ns(&self) -> std::io::Result<(u64, u64)> {
        let st = rustix::fs::statat(&self.dir, "ns/mnt", rustix::fs::AtFlags::empty())?;
        Ok((st.st_dev, st.st_ino))
    }

    /// The caller's `/proc/PID/cgroup`, bounded.
    fn cgroup(&self) -> Option<String> {
        use std::io::Read;
        let fd = rustix::fs::openat(
            &self.dir,
            "cgroup",
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .ok()?;
        let mut text = String::new();
        std::fs::File::from(fd).take(64 * 1024).read_to_string(&mut text).ok()?;
        Some(text)
    }
}

/// The most box state directories the relay looks at per engine scope: a
/// box can make any number of them, and every request would walk them all.
const MAX_BOXES_SCANNED: usize = 4096;

/// The most of a pid file the relay reads (`PID STARTTIME`).
const PID_FILE_LIMIT: u64 = 4096;

/// A box whose init (by the pid file in its state dir) shares the caller's
/// mount namespace. The state dirs are writable from boxes, so this is a
/// claim until the engine confirms it (`host_policy`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Candidate {
    scope: crate::engine::Scope,
    name: String,
    pid: u32,
    start: u64,
    /// The init's namespaces could not be read (Docker runs it as root): the
    /// engine must confirm the caller by the container's cgroup instead.
    by_cgroup: bool,
}

/// Every box whose init shares `peer`'s mount namespace, and whether some
/// box could not be checked. The state dirs and their pid files are the
/// boxes' to write: pid files are read bounded and without waiting (a FIFO or
/// a link to /dev/zero is skipped), names must be box names, and at most
/// `MAX_BOXES_SCANNED` directories per scope are looked at.
fn candidates(paths: &Paths, peer: (u64, u64)) -> (Vec<Candidate>, bool) {
    let mut found = Vec::new();
    let mut unsure = false;
    // The local scopes only: a remote endpoint's boxes are on another machine.
    for scope in crate::engine::Scope::ALL {
        let dir = paths.scope_dir(scope);
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten().take(MAX_BOXES_SCANNED) {
            let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
            if crate::boxes::validate_name(&name).is_err() {
                continue;
            }
            let Some((pid, start)) = crate::files::read_text_bounded(&entry.path().join("pid"), PID_FILE_LIMIT)
                .and_then(|text| crate::runtime::state::parse_pid_line(&text))
            else {
                continue;
            };
            if crate::runtime::state::process_start_time(pid) != Some(start) {
                continue; // not running
            }
            let candidate = |by_cgroup| Candidate { scope, name: name.clone(), pid, start, by_cgroup };
            match mount_ns(pid) {
                Ok(ns) if ns == peer => found.push(candidate(false)),
                Ok(_) => {}
                // Docker's init is root's: its namespaces are not ours to
                // read, but the caller's cgroup names its container.
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied && scope == crate::engine::Scope::Docker => {
                    found.push(candidate(true));
                }
                Err(_) => unsure = true,
            }
        }
    }
    (found, unsure)
}

/// What the relay knows for sure about a box that asks for the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    pub scope: crate::engine::Scope,
    pub name: String,
    /// The box was created with `--no-host`.
    pub no_host: bool,
    /// The container's full id: a caller known only by its cgroup is checked
    /// against it on every request, cached or not.
    pub container_id: String,
}

/// The engine's verdicts, by box and init (a restarted box is asked again):
/// one engine call per box start, not per request.
type PolicyCache = std::collections::HashMap<(crate::engine::Scope, String, u32, u64), Confirmed>;
static POLICY: Mutex<Option<PolicyCache>> = Mutex::new(None);

/// Asks the engine about one candidate: is it a tent box of this user whose
/// running init shares the caller's mount namespace (so a pid file forged by
/// another box does not pass), and what does its spec label say?
fn confirm(c: &Candidate, peer_ns: (u64, u64), peer: &Peer, engines: &Engines) -> Option<Confirmed> {
    let key = (c.scope, c.name.clone(), c.pid, c.start);
    if let Some(hit) = POLICY.lock().unwrap_or_else(|e| e.into_inner()).as_ref().and_then(|m| m.get(&key)) {
        // The cache knows the box, not this caller: one known by its cgroup
        // must be in that very container (a forged pid file names another's init).
        if c.by_cgroup && !in_container_cgroup(peer, &hit.container_id) {
            return None;
        }
        return Some(hit.clone());
    }
    crate::boxes::validate_name(&c.name).ok()?;
    // Through sudo the relay would have to ask for a password; such a box is
    // never identified anyway (root's namespaces are not readable).
    let engine = engines.get(c.scope).filter(|e| !e.through_sudo())?;
    let container = engine.inspect(&c.name).ok()??;
    container.label(crate::boxes::labels::FORMAT)?;
    let me = rustix::process::getuid().as_raw().to_string();
    if container.label(crate::boxes::labels::UID).is_some_and(|uid| uid != me) {
        return None;
    }
    let same_box = if c.by_cgroup {
        // The engine put the caller (a `docker exec` of this container) in the
        // container's cgroup, which the box cannot leave: Docker mounts the
        // cgroup tree read-only in boxes without --privileged.
        in_container_cgroup(peer, &container.id)
    } else {
        mount_ns(container.pid?).ok()? == peer_ns
    };
    if !same_box {
        return None;
    }
    let spec = crate::boxes::BoxSpec::from_label(container.label(crate::boxes::labels::SPEC))?;
    let confirmed =
        Confirmed { scope: c.scope, name: c.name.clone(), no_host: spec.no_host, container_id: container.id };
    POLICY.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_default().insert(key, confirmed.clone());
    Some(confirmed)
}

/// Whether `/proc/PID/cgroup` places the process in the container `id` (the
/// full id, as `docker`/`podman inspect` give it).
fn in_container_cgroup(peer: &Peer, id: &str) -> bool {
    peer.cgroup().is_some_and(|text| cgroup_names_container(&text, id))
}

/// Whether a cgroup file's lines name container `id`: cgroupfs drivers put it
/// as a path component (`/docker/ID`), systemd ones as `docker-ID.scope`.
fn cgroup_names_container(text: &str, id: &str) -> bool {
    if id.len() < 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return false;
    }
    text.lines().filter_map(|line| line.splitn(3, ':').nth(2)).any(|path| {
        path.split('/').any(|part| {
            part == id
                || part.strip_suffix(".scope").and_then(|p| p.rsplit_once('-')).is_some_and(|(_, tail)| tail == id)
        })
    })
}

/// Whether the process `peer` may run host commands, or exported commands of
/// other boxes: the host may; a box may when the engine confirms it and it
/// was not made with `--no-host`; anything else may not. Ok carries the
/// confirmed box (None: the host).
///
/// Exported commands need this too: the receipt that names an export is in
/// the shared state, so any box can write one for any box and target, and a
/// call to it runs what that box wrote in another box (which may reach the
/// host): as strong as a host command.
pub fn host_policy(paths: &Paths, engines: &Engines, peer: &Peer) -> std::result::Result<Option<Confirmed>, String> {
    let peer_pid = peer.pid;
    let peer_ns = peer.mount_ns().map_err(|e| format!("cannot tell which box process {peer_pid} is in: {e}"))?;
    if mount_ns(std::process::id()).is_ok_and(|own| own == peer_ns) {
        return Ok(None);
    }
    let (found, _) = candidates(paths, peer_ns);
    let Some(confirmed) = found.iter().find_map(|c| confirm(c, peer_ns, peer, engines)) else {
        return Err(format!(
            "process {peer_pid} is not in a tent box the relay can confirm with its engine, so it may not run host \
             commands or other boxes' exported commands (rootful boxes of a plain user cannot be confirmed)"
        ));
    };
    if confirmed.no_host {
        return Err(no_host_message(&confirmed.name));
    }
    Ok(Some(confirmed))
}

/// The refusal for a box made with `--no-host`.
pub fn no_host_message(name: &str) -> String {
    format!(
        "box {name} was created with --no-host: it may not run host commands or other boxes' exported commands; \
         recreate it without --no-host to allow it"
    )
}

/// The host tent's argv for `tent ARGS` typed in a box of `scope`: the
/// scope's engine flags first (`scope_flags`), unless the user gave their own.
pub fn host_tent_argv(scope_flags: &[OsString], args: &[OsString]) -> Vec<OsString> {
    let chose = args
        .iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "--root" || a == "--engine" || a.as_encoded_bytes().starts_with(b"--engine="));
    let flags = if chose { &[][..] } else { scope_flags };
    flags.iter().cloned().chain(args.iter().cloned()).collect()
}

/// The engines the relay's commands use, one per scope, chosen once when the
/// relay starts from what tent itself chose (the starting tent's engine,
/// passed as TENT_ENGINE), else each scope's engine by name on the relay's
/// PATH. Never an engine named in a receipt or any other file a box can write.
#[derive(Debug, Clone, Default)]
pub struct Engines(Vec<crate::engine::Engine>);

impl Engines {
    pub fn choose(chosen: Option<&str>) -> Self {
        Engines(
            crate::engine::Scope::ALL.into_iter().filter_map(|s| crate::engine::Engine::for_scope(chosen, s)).collect(),
        )
    }

    pub fn get(&self, scope: crate::engine::Scope) -> Option<&crate::engine::Engine> {
        self.0.iter().find(|e| e.scope() == scope)
    }

    /// `--engine PATH [--root]` for tent commands in `scope`; Err says why not.
    fn flags(&self, scope: crate::engine::Scope) -> std::result::Result<Vec<OsString>, String> {
        let engine = self.get(scope).ok_or_else(|| {
            format!("the host's tent relay found no engine for {scope} boxes; is it installed on the host's PATH?")
        })?;
        let mut flags = vec![OsString::from("--engine"), engine.path.clone().into_os_string()];
        if scope == crate::engine::Scope::PodmanRoot {
            flags.push("--root".into());
        }
        Ok(flags)
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
pub fn serve(path: &Path) -> Result<()> {
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

/// What every call of one relay shares: its own tent, the user's paths, and
/// the engines it chose at start.
pub struct Relay {
    pub exe: PathBuf,
    pub paths: Paths,
    pub engines: Engines,
}

/// Serves one call; whatever happens, the caller gets an answer when it is
/// still there to read one (within `REQUEST_TIMEOUT`: a caller that does not
/// read it holds nothing). A connection closed before it sent a byte is
/// tent's own "is the relay up?" (`ensure_running`): nothing to answer or log.
fn handle(stream: UnixStream, relay: &Relay) {
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

fn serve_call(stream: &UnixStream, relay: &Relay) -> std::result::Result<Option<FromRelay>, String> {
    let (exe, paths) = (relay.exe.as_path(), &relay.paths);
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
    // What to run: (program, argv after it, cwd, the caller's variables, the
    // caller's box for TENT_CALLER_BOX).
    let (program, argv, cwd, env, caller_box): Planned = match request {
        Request::RunExport(run) => {
            let confirmed = host_policy(paths, &relay.engines, &peer)?;
            let argv = export_argv(paths, &relay.engines, &run)?;
            (exe.to_path_buf(), argv, run.cwd, run.env, confirmed.map(|c| c.name))
        }
        Request::HostExec(host) | Request::HostTent(host) if host.args.is_empty() => {
            let _ = host;
            return Err("no command given".into());
        }
        Request::HostExec(host) => {
            let confirmed = host_policy(paths, &relay.engines, &peer)?;
            let mut args = host.args.into_iter();
            let program = PathBuf::from(args.next().expect("not empty"));
            (program, args.collect(), host.cwd, host.env, confirmed.map(|c| c.name))
        }
        Request::HostTent(host) => {
            let confirmed = host_policy(paths, &relay.engines, &peer)?;
            let argv = match &confirmed {
                Some(c) => host_tent_argv(&relay.engines.flags(c.scope)?, &host.args),
                None => host.args,
            };
            (exe.to_path_buf(), argv, host.cwd, host.env, confirmed.map(|c| c.name))
        }
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

/// What a request runs: program, argv after it, cwd, the caller's
/// variables, and the caller's box (for TENT_CALLER_BOX).
type Planned = (PathBuf, Vec<OsString>, OsString, Vec<(OsString, OsString)>, Option<String>);

/// The program a host command names: a path as it is, a bare name on `path`.
/// Err is the shell's status: 127 not found, 126 not executable.
fn resolve(program: &Path, path: Option<&OsStr>) -> std::result::Result<PathBuf, i32> {
    use crate::error::exit::{NOT_EXECUTABLE, NOT_FOUND};
    let executable = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if program.as_os_str().as_encoded_bytes().contains(&b'/') {
        return if !program.exists() {
            Err(NOT_FOUND)
        } else if executable(program) {
            Ok(program.to_path_buf())
        } else {
            Err(NOT_EXECUTABLE)
        };
    }
    if program.as_os_str().is_empty() {
        return Err(NOT_FOUND);
    }
    let mut seen = false;
    for dir in std::env::split_paths(path.unwrap_or(OsStr::new("/usr/local/bin:/usr/bin:/bin"))) {
        let candidate = dir.join(program);
        if executable(&candidate) {
            return Ok(candidate);
        }
        seen |= candidate.exists();
    }
    Err(if seen { NOT_EXECUTABLE } else { NOT_FOUND })
}

/// The host argv for an exported command, from the box's receipt alone.
fn export_argv(paths: &Paths, engines: &Engines, run: &RunExport) -> std::result::Result<Vec<OsString>, String> {
    let scope = crate::engine::Scope::parse(&run.scope);
    let refuse = || {
        format!(
            "box {:?} has no exported command {:?}; see `{} export {} --list` on the host",
            run.box_name,
            run.export,
            scope.map_or("tent", |s| s.tent_command()),
            run.box_name
        )
    };
    // Only a local scope's: a remote endpoint's boxes are not this relay's.
    let Some(scope) = scope.filter(|s| !s.is_remote()) else { return Err(refuse()) };
    if crate::boxes::validate_name(&run.box_name).is_err()
        || crate::export::wrapper::validate_command_name(&run.export).is_err()
    {
        return Err(refuse());
    }
    let receipt = crate::export::receipt::Receipt::load(&paths.receipt(scope, &run.box_name))
        .map_err(|e| e.to_string())?
        .ok_or_else(refuse)?;
    let export = receipt
        .exports
        .iter()
        .find(|e| e.kind == crate::export::receipt::Kind::Bin && e.name == run.export)
        .ok_or_else(refuse)?;
    // The engine is the relay's own for that scope: the receipt's `engine`
    // is a box's to write, and is never run.
    let mut argv = engines.flags(scope)?;
    argv.extend(["run".into(), run.box_name.clone().into(), "--".into(), export.target.clone().into()]);
    argv.extend(run.args.iter().cloned());
    Ok(argv)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_session_variables_cross() {
        let caller: Vec<(OsString, OsString)> = [
            ("TERM", "xterm-256color"),
            ("LANG", "de_DE.UTF-8"),
            ("TENT_ENGINE", "/tmp/evil/podman"),
            ("TENT_CONFIG", "/tmp/evil.toml"),
            ("LD_PRELOAD", "/tmp/evil.so"),
            ("XDG_STATE_HOME", "/tmp/evil-state"),
            ("XDG_CONFIG_HOME", "/tmp/evil-config"),
            ("XDG_RUNTIME_DIR", "/tmp/evil-run"),
            ("HOME", "/tmp/evil-home"),
            ("PATH", "/tmp/evil:/usr/bin"),
            ("BASH_ENV", "/tmp/evil.sh"),
            ("TENT_CALLER_BOX", "forged"),
        ]
        .iter()
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .collect();
        let own = |k: &str| match k {
            "HOME" => Some(OsString::from("/home/u")),
            "PATH" => Some(OsString::from("/usr/bin:/bin")),
            "XDG_RUNTIME_DIR" => Some(OsString::from("/run/user/1000")),
            _ => None,
        };
        let env = child_env(own, &caller, Some("b"));
        let get = |k: &str| env.iter().find(|(key, _)| key == k).map(|(_, v)| v.to_str().unwrap().to_string());
        assert_eq!(get("TERM").as_deref(), Some("xterm-256color"));
        assert_eq!(get("LANG").as_deref(), Some("de_DE.UTF-8"));
        assert_eq!(get("HOME").as_deref(), Some("/home/u"));
        assert_eq!(get("PATH").as_deref(), Some("/usr/bin:/bin"));
        assert_eq!(get("XDG_RUNTIME_DIR").as_deref(), Some("/run/user/1000"));
        assert_eq!(get("TENT_CALLER_BOX").as_deref(), Some("b"));
        for dropped in ["TENT_ENGINE", "TENT_CONFIG", "LD_PRELOAD", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "BASH_ENV"] {
            assert_eq!(get(dropped), None, "{dropped}");
        }
        assert_eq!(env.iter().filter(|(k, _)| k == "TENT_CALLER_BOX").count(), 1, "never the caller's own claim");
        assert!(!caller_var_allowed(OsStr::new("TERM"), OsStr::new("a\0b")));
    }

    #[test]
    fn signal_deaths_are_128_plus_n() {
        assert_eq!(status_code(ExitStatus::from_raw(15)), 143);
        assert_eq!(status_code(ExitStatus::from_raw(9)), 137);
        assert_eq!(status_code(ExitStatus::from_raw(2)), 130);
        assert_eq!(status_code(ExitStatus::from_raw(42 << 8)), 42);
        assert_eq!(status_code(ExitStatus::from_raw(0)), 0);
    }

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

    fn paths(root: &Path) -> Paths {
        Paths {
            config: root.join("config/tent"),
            data: root.join("data/tent"),
            state: root.join("state/tent"),
            data_home: root.join("data"),
            bin: root.join("bin"),
            home: root.to_path_buf(),
        }
    }

    fn run_export(scope: &str, name: &str) -> RunExport {
        RunExport {
            scope: scope.into(),
            box_name: "dev".into(),
            export: name.into(),
            args: vec!["a b".into(), OsString::from_vec(vec![0xff])],
            cwd: "/".into(),
            env: vec![],
        }
    }

    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn only_exported_commands_run_and_the_relay_builds_the_argv() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        // The receipt names an engine a box put there: it is never used.
        let mut receipt =
            crate::export::receipt::Receipt::new("dev", crate::engine::Scope::PodmanRoot, "/home/u/evil/podman");
        receipt.exports.push(crate::export::receipt::Export {
            kind: crate::export::receipt::Kind::Bin,
            name: "rg".into(),
            title: None,
            request: "rg".into(),
            target: "/usr/bin/rg".into(),
            files: vec!["/h/.local/bin/rg".into()],
            dir: Some("/h/.local/bin".into()),
            tent: "/usr/bin/tent".into(),
        });
        let mut app = receipt.exports[0].clone();
        app.kind = crate::export::receipt::Kind::App;
        app.name = "xterm".into();
        app.files = vec!["/h/.local/share/applications/tent-dev-xterm.desktop".into()];
        app.dir = None;
        receipt.exports.push(app);
        receipt.save(&p.receipt(crate::engine::Scope::PodmanRoot, "dev")).unwrap();

        let engines = test_engines();
        let argv = export_argv(&p, &engines, &run_export("podman-root", "rg")).unwrap();
        let expected: Vec<OsString> =
            ["--engine", "/usr/lib/tent-test/podman", "--root", "run", "dev", "--", "/usr/bin/rg", "a b"]
                .iter()
                .map(OsString::from)
                .chain([OsString::from_vec(vec![0xff])])
                .collect();
        assert_eq!(argv, expected);
        for (scope, name) in [("podman-root", "cat"), ("podman-root", "xterm"), ("podman", "rg"), ("../x", "rg")] {
            let err = export_argv(&p, &engines, &run_export(scope, name)).unwrap_err();
            assert!(err.contains("has no exported command"), "{scope} {name}: {err}");
        }
        let mut bad_box = run_export("podman-root", "rg");
        bad_box.box_name = "../dev".into();
        assert!(export_argv(&p, &engines, &bad_box).is_err());
        // A relay without an engine for the scope says so.
        let err = export_argv(&p, &Engines::default(), &run_export("podman-root", "rg")).unwrap_err();
        assert!(err.contains("no engine for podman-root boxes"), "{err}");
    }

    /// The engines a relay chose at start, as tests need them (no PATH lookups).
    fn test_engines() -> Engines {
        use crate::engine::{Engine, EngineKind, Via};
        let engine = |kind, path: &str, via| Engine {
            kind,
            path: path.into(),
            via,
            rootless: false,
            sudo: vec!["sudo".into(), "--".into()],
            endpoint: Default::default(),
        };
        Engines(vec![
            engine(EngineKind::Podman, "/usr/lib/tent-test/podman", Via::Direct),
            engine(EngineKind::Podman, "/usr/lib/tent-test/podman", Via::Sudo),
            engine(EngineKind::Docker, "/usr/lib/tent-test/docker", Via::Direct),
        ])
    }

    #[test]
    fn the_relay_chooses_its_engines_once_from_tents_own_choice() {
        let w = |s: &[&str]| s.iter().map(OsString::from).collect::<Vec<_>>();
        let engines = test_engines();
        assert_eq!(
            engines.flags(crate::engine::Scope::parse("docker").unwrap()).unwrap(),
            w(&["--engine", "/usr/lib/tent-test/docker"])
        );
        assert_eq!(
            engines.flags(crate::engine::Scope::parse("podman-root").unwrap()).unwrap(),
            w(&["--engine", "/usr/lib/tent-test/podman", "--root"])
        );
        // A remote endpoint's scope is never the relay's.
        assert!(engines.flags(crate::engine::Scope::parse("podman@0123456789ab").unwrap()).is_err());
        // Tent's own choice serves its scope; other scopes get their engine
        // by name, never the chosen binary of another kind.
        let chosen = Engines::choose(Some("/opt/tent-test/podman"));
        assert_eq!(
            chosen.get(crate::engine::Scope::parse("podman").unwrap()).unwrap().path,
            Path::new("/opt/tent-test/podman")
        );
        assert!(
            chosen
                .get(crate::engine::Scope::parse("docker").unwrap())
                .is_none_or(|e| e.kind == crate::engine::EngineKind::Docker)
        );
    }

    #[test]
    fn tent_in_a_box_runs_in_the_boxs_scope() {
        let w = |s: &[&str]| s.iter().map(OsString::from).collect::<Vec<_>>();
        let e = test_engines();
        let flags = |scope: &str| e.flags(crate::engine::Scope::parse(scope).unwrap()).unwrap();
        assert_eq!(
            host_tent_argv(&flags("docker"), &w(&["list"])),
            w(&["--engine", "/usr/lib/tent-test/docker", "list"])
        );
        assert_eq!(
            host_tent_argv(&flags("podman-root"), &w(&["stop", "x"])),
            w(&["--engine", "/usr/lib/tent-test/podman", "--root", "stop", "x"])
        );
        assert_eq!(host_tent_argv(&flags("podman"), &w(&["--engine=docker", "list"])), w(&["--engine=docker", "list"]));
        assert_eq!(
            host_tent_argv(&flags("podman"), &w(&["run", "b", "--", "--root"])),
            w(&["--engine", "/usr/lib/tent-test/podman", "run", "b", "--", "--root"]),
            "words after -- are the command's"
        );
    }

    #[test]
    fn host_commands_resolve_on_the_relays_path() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("tool");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "").unwrap();
        let path = dir.path().as_os_str();
        assert_eq!(resolve(Path::new("tool"), Some(path)), Ok(exe.clone()));
        assert_eq!(resolve(&exe, None), Ok(exe.clone()));
        assert_eq!(resolve(Path::new("plain"), Some(path)), Err(126));
        assert_eq!(resolve(Path::new("nope"), Some(path)), Err(127));
        assert_eq!(resolve(&dir.path().join("nope"), None), Err(127));
        assert_eq!(resolve(Path::new(""), Some(path)), Err(127));
    }

    #[test]
    fn the_no_host_refusal_names_the_box_and_the_way_out() {
        let m = no_host_message("dev");
        assert!(m.contains("box dev was created with --no-host") && m.contains("recreate it without --no-host"), "{m}");
    }

    #[test]
    fn docker_callers_are_known_by_their_containers_cgroup() {
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let v1 = format!("12:pids:/docker/{id}\n11:memory:/docker/{id}\n0::/\n");
        assert!(cgroup_names_container(&v1, id));
        let systemd = format!("0::/system.slice/docker-{id}.scope\n");
        assert!(cgroup_names_container(&systemd, id));
        let other = "12:pids:/docker/fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210\n";
        assert!(!cgroup_names_container(other, id));
        assert!(!cgroup_names_container(&format!("1:name=x:/user/{id}-evil\n"), id));
        assert!(!cgroup_names_container("0::/docker/\n", ""), "an empty id names nothing");
        assert!(!cgroup_names_container(&format!("0::/docker/{id}\n"), "0123"), "short ids are refused");
    }

    #[test]
    fn the_host_is_the_host() {
        let dir = tempfile::tempdir().unwrap();
        let me = Peer::of_pid(std::process::id()).unwrap();
        assert_eq!(host_policy(&paths(dir.path()), &Engines::default(), &me), Ok(None));
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

    /// Issue 19, finding 4: a box turns its pid file into a FIFO or a link to
    /// /dev/zero. The scan for the caller's box neither waits nor reads
    /// without end: it skips them, and still finds the real box.
    #[test]
    fn hostile_pid_files_are_skipped_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        let boxes = p.state.join("boxes/podman");
        for name in ["fifo", "zero", "real", "-bad", "big"] {
            std::fs::create_dir_all(boxes.join(name)).unwrap();
        }
        rustix::fs::mkfifoat(rustix::fs::CWD, boxes.join("fifo/pid"), rustix::fs::Mode::from_raw_mode(0o600)).unwrap();
        std::os::unix::fs::symlink("/dev/zero", boxes.join("zero/pid")).unwrap();
        std::fs::write(boxes.join("big/pid"), vec![b'1'; 1 << 20]).unwrap();
        let me = std::process::id();
        let start = crate::runtime::state::process_start_time(me).unwrap();
        std::fs::write(boxes.join("real/pid"), format!("{me} {start}\n")).unwrap();
        std::fs::write(boxes.join("-bad/pid"), format!("{me} {start}\n")).unwrap();
        let ns = mount_ns(me).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(candidates(&p, ns)).unwrap());
        let (found, _) = rx.recv_timeout(Duration::from_secs(10)).expect("the scan waited on a hostile pid file");
        let names: Vec<&str> = found.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["real"], "only the real box; a name that is no box name is skipped");
    }

    /// Finding 8: a caller that has exited is refused, not looked up by a pid
    /// that another process may get next.
    #[test]
    fn a_caller_that_has_exited_is_not_pinned() {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        let pidfd = Peer::open_pidfd(pid).unwrap();
        assert!(!pidfd_ended(&pidfd) || child.try_wait().unwrap().is_some());
        child.wait().unwrap();
        assert!(pidfd_ended(&pidfd), "a reaped process's pidfd says so");
        assert!(Peer::pin(pid, &pidfd).is_err(), "its pid is no longer its own");
        // A live process is pinned, and read through its own /proc directory.
        let me = Peer::of_pid(std::process::id()).unwrap();
        assert_eq!(me.mount_ns().unwrap(), mount_ns(std::process::id()).unwrap());
        assert!(me.cgroup().is_some_and(|c| !c.is_empty()));
    }

    /// The peer's pidfd comes from the kernel with the connection.
    #[test]
    fn the_peer_is_the_process_that_connected() {
        let (a, _b) = UnixStream::pair().unwrap();
        let peer = Peer::of_stream(&a, std::process::id()).unwrap();
        assert_eq!(peer.pid, std::process::id());
        if SO_PEERPIDFD.is_some() {
            // Linux 6.5 and later give it; older kernels fall back to pidfd_open.
            if let Ok(fd) = peer_pidfd(&a) {
                use std::os::fd::AsRawFd;
                let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).unwrap();
                let pid = info.lines().find_map(|l| l.strip_prefix("Pid:")).map(str::trim);
                assert_eq!(pid, Some(std::process::id().to_string().as_str()), "{info}");
            }
        }
    }
}
