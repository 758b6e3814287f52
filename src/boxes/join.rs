//! Joining a running box without its engine: the namespaces of the box's init
//! (docs/internals.md, "Joining"), and finding every process that lives in a
//! box's mount namespace so `stop` can end them.
//!
//! A join costs what a `setns` and an `exec` cost; the engine's exec costs a
//! client, a daemon or conmon round trip and a runtime. Everything here that
//! can refuse does so before the first irrevocable step, so the caller can
//! still fall back to the engine.

use std::ffi::OsString;
use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use rustix::process::{Pid, PidfdFlags, Signal};
use rustix::thread::ThreadNameSpaceType;

use super::state::{BoxState, process_start_time};

/// The namespaces a box may have of its own. Boxes share the host's network
/// and IPC namespaces unless made with `--unshare-netns`/`--unshare-ipc`;
/// each is joined only when it differs.
const SPACES: &[(&str, ThreadNameSpaceType)] = &[
    ("user", ThreadNameSpaceType::USER),
    ("mnt", ThreadNameSpaceType::MOUNT),
    ("uts", ThreadNameSpaceType::HOST_NAME_AND_NIS_DOMAIN_NAME),
    ("cgroup", ThreadNameSpaceType::CONTROL_GROUP),
    ("ipc", ThreadNameSpaceType::INTER_PROCESS_COMMUNICATION),
    ("net", ThreadNameSpaceType::NETWORK),
];

/// A box's init, pinned by a pidfd, and which of its namespaces differ from ours.
#[derive(Debug)]
pub struct Target {
    pub pid: u32,
    pidfd: OwnedFd,
    spaces: ThreadNameSpaceType,
}

/// Everything that can refuse a join, checked without changing anything.
/// The error is a short reason for `-v`.
pub fn prepare(state: &BoxState) -> Result<Target, String> {
    let (pid, start) = state.ready_line().ok_or("the box's state names no ready init")?;
    // The pidfd pins the process: a pid reused after this check would change
    // the start time, which is checked again with the pidfd held.
    let raw = Pid::from_raw(pid as i32).ok_or("the box's state names pid 0")?;
    let pidfd = rustix::process::pidfd_open(raw, PidfdFlags::empty()).map_err(|e| format!("pidfd_open: {e}"))?;
    if process_start_time(pid) != Some(start) {
        return Err(format!("the box's init (pid {pid}) is gone"));
    }
    let mut spaces = ThreadNameSpaceType::empty();
    for (name, flag) in SPACES {
        let theirs =
            fs::metadata(format!("/proc/{pid}/ns/{name}")).map_err(|e| format!("/proc/{pid}/ns/{name}: {e}"))?;
        let ours = fs::metadata(format!("/proc/self/ns/{name}")).map_err(|e| format!("/proc/self/ns/{name}: {e}"))?;
        if (theirs.dev(), theirs.ino()) != (ours.dev(), ours.ino()) {
            spaces |= *flag;
        }
    }
    if !spaces.contains(ThreadNameSpaceType::MOUNT) {
        return Err("the box shares tent's mount namespace".into());
    }
    // A PID namespace of its own (`--init`, `--unshare-process`) is entered
    // only by children, and tent execs: the command would stay outside it,
    // where the box's /proc does not show it. The engine's exec gets it right.
    let (theirs, ours) = (fs::metadata(format!("/proc/{pid}/ns/pid")), fs::metadata("/proc/self/ns/pid"));
    if let (Ok(theirs), Ok(ours)) = (theirs, ours)
        && (theirs.dev(), theirs.ino()) != (ours.dev(), ours.ino())
    {
        return Err("the box has a PID namespace of its own (--init or --unshare-process)".into());
    }
    // Without a user namespace of the box's own, joining takes root.
    if !spaces.contains(ThreadNameSpaceType::USER) && !rustix::process::geteuid().is_root() {
        return Err("joining a box without a user namespace of its own needs root".into());
    }
    // setns into a user or mount namespace is refused to a process with threads.
    if thread_count() != Some(1) {
        return Err("tent runs more than one thread".into());
    }
    Ok(Target { pid, pidfd, spaces })
}

impl Target {
    /// Moves tent into the box's namespaces, all at once or not at all: on an
    /// error nothing has changed. Afterwards `/` and the working directory are
    /// the box's root.
    pub fn join(&self) -> std::io::Result<()> {
        use std::os::fd::AsFd;
        rustix::thread::move_into_thread_name_spaces(self.pidfd.as_fd(), self.spaces)?;
        Ok(())
    }

    /// The init's environment: the container's environment, as the engine's
    /// exec starts from it. Read once joined: a rootless box's init is
    /// another user's until tent is in the box's user namespace.
    pub fn environ(&self) -> std::io::Result<Vec<(OsString, OsString)>> {
        Ok(parse_environ(&fs::read(format!("/proc/{}/environ", self.pid))?))
    }
}

/// Becomes `uid:gid` with `groups`, and drops the capabilities a user
/// namespace gave on joining (a plain user's command has none on the engine's
/// path either). Only for a single-threaded process: these are per thread.
pub fn become_user(uid: u32, gid: u32, groups: &[u32]) -> std::io::Result<()> {
    use rustix::process::{Gid, Uid};
    use rustix::thread::{self, CapabilitySet, CapabilitySets};
    let gids: Vec<Gid> = groups.iter().map(|g| Gid::from_raw(*g)).collect();
    thread::set_thread_groups(&gids)?;
    let gid = Gid::from_raw(gid);
    thread::set_thread_res_gid(gid, gid, gid)?;
    let uid = Uid::from_raw(uid);
    thread::set_thread_res_uid(uid, uid, uid)?;
    if !uid.is_root() {
        let none = CapabilitySet::empty();
        thread::set_capabilities(None, CapabilitySets { effective: none, permitted: none, inheritable: none })?;
    }
    Ok(())
}

/// Puts every signal back to its default and unblocks all, as the engine's
/// exec starts a command. exec itself resets handlers, but a signal tent's
/// caller ignored would stay ignored: a shell's background job or a script
/// started with SIGINT ignored would give a joined command that Ctrl-C on
/// its own terminal cannot reach, unlike the same command on the engine path.
pub fn reset_signals() {
    // libc: rustix has no API for signal dispositions (see interrupt.rs).
    for sig in 1..libc::SIGRTMIN() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: setting a disposition to SIG_DFL has no memory preconditions.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    // SAFETY: the set is initialised by sigemptyset before use, and the old
    // mask is not asked for (null).
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// The gids of a user: their primary group, then every group of /etc/group
/// (text given) that lists them as a member, in file order, without repeats.
pub fn groups_of(user: &str, gid: u32, group_file: &str) -> Vec<u32> {
    let mut out = vec![gid];
    for line in group_file.lines() {
        let mut fields = line.split(':');
        let (Some(_name), Some(_pw), Some(id), Some(members)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let Ok(id) = id.trim().parse::<u32>() else { continue };
        if members.split(',').any(|m| m.trim() == user) && !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// NUL-separated `KEY=VALUE` pairs, as in /proc/PID/environ.
pub fn parse_environ(bytes: &[u8]) -> Vec<(OsString, OsString)> {
    bytes
        .split(|b| *b == 0)
        .filter(|entry| !entry.is_empty())
        .filter_map(|entry| {
            // A key never starts with '=' and holds none.
            let eq = entry.iter().skip(1).position(|b| *b == b'=')? + 1;
            Some((OsString::from_vec(entry[..eq].to_vec()), OsString::from_vec(entry[eq + 1..].to_vec())))
        })
        .collect()
}

fn thread_count() -> Option<usize> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("Threads:")).and_then(|n| n.trim().parse().ok())
}

/// A mount namespace, by the device and inode of its nsfs file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MountNs(u64, u64);

/// The mount namespace of a process, when tent may see it.
pub fn mount_ns_of(pid: u32) -> Option<MountNs> {
    fs::metadata(format!("/proc/{pid}/ns/mnt")).ok().map(|m| MountNs(m.dev(), m.ino()))
}

/// Every process (as pid and start time) in the mount namespace of the init
/// `pid` that is not the init or one of its descendants: the commands tent
/// started in the box, whether through a join or the engine's exec. Processes
/// tent may not inspect (another user's) are not listed.
pub fn box_processes(ns: MountNs, init: u32) -> Vec<(u32, u64)> {
    let me = std::process::id();
    let Ok(dir) = fs::read_dir("/proc") else { return Vec::new() };
    let mut found = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        if pid == init || pid == me {
            continue;
        }
        let Ok(theirs) = fs::metadata(format!("/proc/{pid}/ns/mnt")) else { continue };
        if MountNs(theirs.dev(), theirs.ino()) != ns || descends_from(pid, init) {
            continue;
        }
        if let Some(start) = process_start_time(pid) {
            found.push((pid, start));
        }
    }
    found
}

fn descends_from(mut pid: u32, ancestor: u32) -> bool {
    // The chain to pid 1 is short; the bound guards against a race making a loop.
    for _ in 0..64 {
        match parent_of(pid) {
            Some(p) if p == ancestor => return true,
            Some(p) if p > 1 => pid = p,
            _ => return false,
        }
    }
    false
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_ppid(&stat)
}

/// Field 4 of /proc/PID/stat.
pub fn parse_stat_ppid(stat: &str) -> Option<u32> {
    stat[stat.rfind(')')? + 1..].split_whitespace().nth(1)?.parse().ok()
}

/// Ends the box's processes: SIGTERM, up to `grace` to exit, then SIGKILL.
/// Signals go through pidfds, so a pid reused meanwhile is never hit. Returns
/// how many processes were signalled.
pub fn end_box_processes(ns: MountNs, init: u32, grace: Duration) -> usize {
    let pinned: Vec<(u32, u64, OwnedFd)> = box_processes(ns, init)
        .into_iter()
        .filter_map(|(pid, start)| {
            let fd = rustix::process::pidfd_open(Pid::from_raw(pid as i32)?, PidfdFlags::empty()).ok()?;
            (process_start_time(pid) == Some(start)).then_some((pid, start, fd))
        })
        .filter(|(_, _, fd)| rustix::process::pidfd_send_signal(fd, Signal::TERM).is_ok())
        .collect();
    let alive = |(pid, start, _): &&(u32, u64, OwnedFd)| running(*pid, *start);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && pinned.iter().any(|p| alive(&p)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    for (_, _, fd) in pinned.iter().filter(alive) {
        let _ = rustix::process::pidfd_send_signal(fd, Signal::KILL);
    }
    pinned.len()
}

/// Whether that process still runs: it exists with that start time and is
/// not a zombie waiting for its parent.
fn running(pid: u32, start: u64) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    let state = stat.rfind(')').and_then(|i| stat[i + 1..].split_whitespace().next());
    super::state::parse_stat_start_time(&stat) == Some(start) && state != Some("Z") && state != Some("X")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_come_from_membership() {
        let file = "root:x:0:\nsudo:x:27:alice,bob\nvideo:x:44:bob\naudio:x:29: alice \nalice:x:1000:\nbad line\n";
        assert_eq!(groups_of("alice", 1000, file), vec![1000, 27, 29]);
        assert_eq!(groups_of("carol", 1001, file), vec![1001]);
        assert_eq!(groups_of("bob", 27, file), vec![27, 44]);
    }

    #[test]
    fn environ_splits_on_the_first_equals() {
        let env = parse_environ(b"A=1\0B=x=y\0=odd\0C=\0\0");
        let pairs: Vec<(String, String)> =
            env.into_iter().map(|(k, v)| (k.into_string().unwrap(), v.into_string().unwrap())).collect();
        assert_eq!(pairs, vec![("A".into(), "1".into()), ("B".into(), "x=y".into()), ("C".into(), String::new())]);
    }

    #[test]
    fn ppid_survives_odd_names() {
        assert_eq!(parse_stat_ppid("42 (a) b (c)) S 7 42 42 0"), Some(7));
        assert_eq!(parse_stat_ppid("nonsense"), None);
    }

    #[test]
    fn we_are_single_threaded_or_counted() {
        assert!(thread_count().is_some_and(|n| n >= 1));
    }

    #[test]
    fn box_processes_never_list_tent() {
        assert!(mount_ns_of(u32::MAX).is_none());
        // Our own namespace holds other processes maybe, never ourselves.
        let ours = mount_ns_of(std::process::id()).unwrap();
        assert!(!box_processes(ours, 1).iter().any(|(pid, _)| *pid == std::process::id()));
    }
}
