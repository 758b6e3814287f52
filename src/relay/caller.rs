//! Who calls: the caller pinned by its pidfd (`Peer`), its box found by mount
//! namespace (or, for Docker, by cgroup) among the boxes' pid files, and
//! confirmed with the engine before it may reach the host (`host_policy`).

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::Mutex;

use super::engines::Engines;
use crate::paths::Paths;

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
pub(super) struct Peer {
    pub(super) pid: u32,
    dir: OwnedFd,
}

impl Peer {
    /// The process at the other end of `stream`, whose pid SO_PEERCRED said
    /// is `pid`. Its pidfd comes from the kernel (SO_PEERPIDFD) where it can;
    /// on kernels before 6.5 from `pidfd_open` at once, which leaves only the
    /// moment between the caller's connect and the relay's accept.
    pub(super) fn of_stream(stream: &UnixStream, pid: u32) -> std::io::Result<Peer> {
        let pidfd = match peer_pidfd(stream) {
            Ok(fd) => fd,
            Err(_) => Self::open_pidfd(pid)?,
        };
        Self::pin(pid, &pidfd)
    }

    /// A process by its pid (tests).
    #[cfg(test)]
    pub(super) fn of_pid(pid: u32) -> std::io::Result<Peer> {
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
pub(super) struct Confirmed {
    pub(super) scope: crate::engine::Scope,
    pub(super) name: String,
    /// The box was created with `--no-host`.
    pub(super) no_host: bool,
    /// The container's full id: a caller known only by its cgroup is checked
    /// against it on every request, cached or not.
    pub(super) container_id: String,
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
pub(super) fn host_policy(paths: &Paths, engines: &Engines, peer: &Peer) -> Result<Option<Confirmed>, String> {
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
fn no_host_message(name: &str) -> String {
    format!(
        "box {name} was created with --no-host: it may not run host commands or other boxes' exported commands; \
         recreate it without --no-host to allow it"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::test_support::paths;
    use std::process::Command;
    use std::time::Duration;

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
