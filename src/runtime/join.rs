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
///
/// The box can write its `ready` file (its state directory is shared with
/// it, and every box can write every other box's through the home), so the
/// pid there is joined only once it is proven to be box `name`'s init
/// (`prove_init_of`): else a box could send the user's commands into a host
/// process's namespaces or into another box.
pub fn prepare(name: &str, state: &BoxState) -> Result<Target, String> {
    let (pid, start) = state.ready_line().ok_or("the box's state names no ready init")?;
    // The pidfd pins the process: a pid reused after this check would change
    // the start time, which is checked again with the pidfd held.
    let raw = Pid::from_raw(pid as i32).ok_or("the box's state names pid 0")?;
    let pidfd = rustix::process::pidfd_open(raw, PidfdFlags::empty()).map_err(|e| format!("pidfd_open: {e}"))?;
    if process_start_time(pid) != Some(start) {
        return Err(format!("the box's init (pid {pid}) is gone"));
    }
    prove_init_of(pid, name)?;
    let mut spaces = ThreadNameSpaceType::empty();
    for (space, flag) in SPACES {
        let theirs =
            fs::metadata(format!("/proc/{pid}/ns/{space}")).map_err(|e| format!("/proc/{pid}/ns/{space}: {e}"))?;
        let ours = fs::metadata(format!("/proc/self/ns/{space}")).map_err(|e| format!("/proc/self/ns/{space}: {e}"))?;
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
    // Everything above read the process the pidfd holds only if it is still
    // the one `ready` named.
    if process_start_time(pid) != Some(start) {
        return Err(format!("the box's init (pid {pid}) is gone"));
    }
    Ok(Target { pid, pidfd, spaces })
}

/// Proves, without asking the engine, that `pid` is the init of box `name`:
/// its parent is podman's container monitor for that very container
/// (`conmon ... -n NAME ...`: podman names the container in the monitor's
/// argv, which the box cannot change), the monitor runs as tent's user, and
/// it runs outside every box: in tent's own user namespace or one directly
/// below it (rootless podman's), where no process of a box can be (a box's
/// processes are in its own user namespace, below podman's, or share the
/// host's only when the box is rootful, whose root is the host's root).
///
/// What it cannot rule out: a process that already runs as the user on the
/// host (a box's `tent host` command, or anything that can ptrace the user's
/// processes) can make a lookalike monitor; such a process can do anything
/// the user can anyway. Docker's monitor (containerd's shim) does not name
/// the container, so Docker boxes take the engine's exec.
pub fn prove_init_of(pid: u32, name: &str) -> Result<(), String> {
    let monitor = parent_of(pid).ok_or_else(|| format!("pid {pid} has no parent tent can read"))?;
    let not_monitor = |why: String| format!("pid {pid} is not box {name:?}'s init: {why}");
    let argv =
        read_cmdline(monitor).ok_or_else(|| not_monitor(format!("its parent {monitor} has no readable argv")))?;
    if !is_monitor_of(&argv, name) {
        return Err(not_monitor(format!("its parent {monitor} is not podman's conmon of container {name:?}")));
    }
    let owner = fs::metadata(format!("/proc/{monitor}")).map_err(|e| not_monitor(format!("/proc/{monitor}: {e}")))?;
    if owner.uid() != rustix::process::geteuid().as_raw() {
        return Err(not_monitor(format!("its parent {monitor} runs as uid {}, not as tent's user", owner.uid())));
    }
    outside_boxes(monitor).map_err(not_monitor)?;
    // A monitor that died meanwhile has its children taken by another
    // process; the same parent now means the same monitor all along.
    if parent_of(pid) != Some(monitor) {
        return Err(not_monitor(format!("its parent changed while checked (was {monitor})")));
    }
    Ok(())
}

/// The most of a /proc/PID/cmdline read: conmon's is about 3 KiB.
const CMDLINE_LIMIT: u64 = 64 * 1024;

fn read_cmdline(pid: u32) -> Option<Vec<Vec<u8>>> {
    use std::io::Read;
    let file = fs::File::open(format!("/proc/{pid}/cmdline")).ok()?;
    let mut bytes = Vec::new();
    file.take(CMDLINE_LIMIT + 1).read_to_end(&mut bytes).ok()?;
    if bytes.len() as u64 > CMDLINE_LIMIT {
        return None;
    }
    if bytes.last() == Some(&0) {
        bytes.pop();
    }
    Some(bytes.split(|b| *b == 0).map(<[u8]>::to_vec).collect())
}

/// Whether `argv` is an engine's monitor of the container whose full id is
/// `id`: podman's conmon (`-c ID`, `--cid ID`, `--cid=ID`) or containerd's
/// runc shim, which Docker runs (`containerd-shim… -id ID`).
pub fn monitor_names_container(argv: &[Vec<u8>], id: &str) -> bool {
    let Some(program) = argv.first() else { return false };
    let program = program.rsplit(|b| *b == b'/').next().unwrap_or_default();
    let flags: &[&[u8]] = if program == b"conmon" {
        &[b"-c", b"--cid"]
    } else if program.starts_with(b"containerd-shim") {
        &[b"-id", b"--id"]
    } else {
        return false;
    };
    if id.len() < 12 {
        return false;
    }
    let id = id.as_bytes();
    let mut words = argv[1..].iter();
    while let Some(word) = words.next() {
        if flags.contains(&word.as_slice()) {
            if words.next().is_some_and(|value| value.as_slice() == id) {
                return true;
            }
        } else if let Some(value) = word.strip_prefix(b"--cid=")
            && program == b"conmon"
            && value == id
        {
            return true;
        }
    }
    false
}

/// Whether `argv` is podman's container monitor of container `name`: the
/// program is `conmon`, and it names the container (`-n NAME`, `--name NAME`
/// or `--name=NAME`) once, or only ever as that name.
pub fn is_monitor_of(argv: &[Vec<u8>], name: &str) -> bool {
    let Some(program) = argv.first() else { return false };
    if program.rsplit(|b| *b == b'/').next() != Some(&b"conmon"[..]) {
        return false;
    }
    let mut named = false;
    let mut args = argv[1..].iter();
    while let Some(arg) = args.next() {
        let value = match arg.as_slice() {
            b"-n" | b"--name" => match args.next() {
                Some(value) => value.as_slice(),
                None => return false,
            },
            other => match other.strip_prefix(b"--name=") {
                Some(value) => value,
                None => continue,
            },
        };
        if value != name.as_bytes() {
            return false;
        }
        named = true;
    }
    named
}

/// `NS_GET_PARENT` (linux/nsfs.h, `_IO(0xb7, 0x2)`): the parent of a user
/// namespace, as a new descriptor.
struct NsGetParent;

// SAFETY: NS_GET_PARENT takes no argument and returns a new file descriptor
// (or fails), which `output_from_ptr` takes ownership of.
unsafe impl rustix::ioctl::Ioctl for NsGetParent {
    type Output = OwnedFd;
    const IS_MUTATING: bool = false;

    fn opcode(&self) -> rustix::ioctl::Opcode {
        rustix::ioctl::opcode::none(0xb7, 0x2)
    }

    fn as_ptr(&mut self) -> *mut std::ffi::c_void {
        std::ptr::null_mut()
    }

    unsafe fn output_from_ptr(
        out: rustix::ioctl::IoctlOutput,
        _: *mut std::ffi::c_void,
    ) -> rustix::io::Result<OwnedFd> {
        use std::os::fd::FromRawFd;
        // SAFETY: on success the ioctl's return value is a new descriptor
        // that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(out) })
    }
}

/// A namespace by the device and inode of its nsfs file.
fn ns_id(meta: &fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

/// Ok when process `pid` runs in tent's own user namespace or in one whose
/// parent is tent's: never inside a box, whose user namespace is deeper
/// (rootless podman makes each box's below its own) or which, rootful,
/// shares the host's.
fn outside_boxes(pid: u32) -> Result<(), String> {
    use std::os::fd::AsFd;
    let ours = fs::metadata("/proc/self/ns/user").map_err(|e| format!("/proc/self/ns/user: {e}"))?;
    let path = format!("/proc/{pid}/ns/user");
    let theirs = fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
    let their_id = ns_id(&theirs.metadata().map_err(|e| format!("{path}: {e}"))?);
    if their_id == ns_id(&ours) {
        return Ok(());
    }
    // SAFETY: NS_GET_PARENT on an nsfs descriptor; `NsGetParent` describes
    // its argument (none) and its result (a descriptor) as the kernel has them.
    let parent = unsafe { rustix::ioctl::ioctl(theirs.as_fd(), NsGetParent) }
        .map_err(|e| format!("the parent of {path}: {e}"))?;
    let parent_id = ns_id(&fs::File::from(parent).metadata().map_err(|e| format!("{path}'s parent: {e}"))?);
    if parent_id == ns_id(&ours) {
        Ok(())
    } else {
        Err(format!("pid {pid} runs in a nested user namespace (inside a box)"))
    }
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

/// Becomes `uid:gid`, keeping the caller's supplementary groups, and drops
/// the capabilities a user namespace gave on joining (a plain user's command
/// has none on the engine's path either). Only for a single-threaded
/// process: these are per thread.
///
/// The groups are the ones the user has on the host (`dialout`, `kvm`,
/// `render`, `video`, `lp`...), as with crun's
/// `run.oci.keep_original_groups` on the engine's path: the kernel checks
/// them whatever the box's /etc/group says, so serial ports and device
/// nodes open in the box as on the host. tent never calls setgroups here:
/// in a rootless user namespace the host's groups could not be named again
/// (they are not mapped; they show as the overflow gid), and replacing them
/// would only take access away.
pub fn become_user(uid: u32, gid: u32) -> std::io::Result<()> {
    use rustix::process::{Gid, Uid};
    use rustix::thread::{self, CapabilitySet, CapabilitySets};
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

/// A running box's init as its engine reports it (`inspect`'s `State.Pid`,
/// which no box can write), and the mount namespace that makes a process one
/// of the box's. Never from the box's own `pid` file: a box can name any
/// process there, a host process or another box's init.
///
/// It holds the mount namespace open: a namespace's inode number is what
/// tells a box's processes apart, and the kernel gives a freed namespace's
/// number to the next one made. Without the pin, a look after the init has
/// exited (the stragglers of a stop or a removal) could take a newer box's
/// processes, or an engine helper's, for this box's (seen in a CI run: a
/// box being provisioned and a `podman commit` were terminated).
#[derive(Debug)]
pub struct EngineInit {
    pid: u32,
    ns: MountNs,
    _pin: fs::File,
}

impl EngineInit {
    /// The init `pid` the engine reported, when tent may see its mount
    /// namespace; the error says why not: the init is another user's (Docker
    /// runs it as root; a rootful box reached through sudo is root's), or it
    /// is gone, or it shares tent's own mount namespace (no box does: the
    /// host's processes, the relay among them, must never be taken for the
    /// box's).
    ///
    /// The pid must still be container `id`'s init: its parent is the
    /// engine's monitor of that very container (podman's conmon `-c ID`,
    /// containerd's shim `-id ID`). An engine's answer can be stale, and
    /// pids are reused (32768 of them on many machines): a pid that now names
    /// a process of another box, or one of the engine's own, would make
    /// `end_box_processes` end that box's processes or the engine's (seen in
    /// a CI run: another box's init and a `podman commit` were terminated).
    pub fn new(pid: u32, id: &str) -> Result<Self, String> {
        let cannot_see =
            |e: std::io::Error| format!("tent cannot see the mount namespace of the box's init (pid {pid}): {e}");
        let pin = fs::File::open(format!("/proc/{pid}/ns/mnt")).map_err(cannot_see)?;
        let ns = pin.metadata().map(|m| MountNs(m.dev(), m.ino())).map_err(cannot_see)?;
        if Some(ns) == mount_ns_of(std::process::id()) {
            return Err(format!("the box's init (pid {pid}) shares tent's own mount namespace"));
        }
        let monitor = parent_of(pid).ok_or_else(|| format!("the box's init (pid {pid}) is gone"))?;
        if !read_cmdline(monitor).is_some_and(|argv| monitor_names_container(&argv, id)) {
            return Err(format!(
                "pid {pid} is no longer the init of container {}: its parent {monitor} is not the engine's monitor of it",
                &id[..id.len().min(12)]
            ));
        }
        // The same parent after the check: the same process all along.
        if mount_ns_of(pid) != Some(ns) || parent_of(pid) != Some(monitor) {
            return Err(format!("the box's init (pid {pid}) changed while checked"));
        }
        Ok(EngineInit { pid, ns, _pin: pin })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }
}

/// Every process (as pid and start time) in the mount namespace of the box's
/// init that is not the init or one of its descendants (the engine's stop
/// ends those): the commands tent started in the box, whether through a join
/// or the engine's exec. Never tent itself or one of its ancestors (a `tent
/// stop` run from a shell in the box), and never a process of tent's own
/// mount namespace (`EngineInit` refuses an init there). Processes tent may
/// not inspect (another user's) are not listed.
pub fn box_processes(init: &EngineInit) -> Vec<(u32, u64)> {
    let spared = ancestors_of(std::process::id());
    let Ok(dir) = fs::read_dir("/proc") else { return Vec::new() };
    let mut found = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        if pid == init.pid || spared.contains(&pid) {
            continue;
        }
        let Ok(theirs) = fs::metadata(format!("/proc/{pid}/ns/mnt")) else { continue };
        if MountNs(theirs.dev(), theirs.ino()) != init.ns || descends_from(pid, init.pid) {
            continue;
        }
        if let Some(start) = process_start_time(pid) {
            found.push((pid, start));
        }
    }
    found
}

/// `pid` and the chain of its parents up to pid 1 (bounded: a race cannot
/// make it loop).
fn ancestors_of(pid: u32) -> Vec<u32> {
    let mut chain = vec![pid];
    let mut current = pid;
    for _ in 0..64 {
        match parent_of(current) {
            Some(parent) if parent > 0 && !chain.contains(&parent) => {
                chain.push(parent);
                current = parent;
            }
            _ => break,
        }
    }
    chain
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
    parse_stat_ppid(&super::state::proc_stat(pid)?)
}

/// Field 4 of /proc/PID/stat.
pub fn parse_stat_ppid(stat: &str) -> Option<u32> {
    stat[stat.rfind(')')? + 1..].split_whitespace().nth(1)?.parse().ok()
}

/// Ends the box's processes: SIGTERM, up to `grace` to exit, then SIGKILL.
/// Signals go through pidfds, so a pid reused meanwhile is never hit. Returns
/// how many processes were signalled.
pub fn end_box_processes(init: &EngineInit, grace: Duration) -> usize {
    let pinned: Vec<(u32, u64, OwnedFd)> = box_processes(init)
        .into_iter()
        .filter_map(|(pid, start)| {
            let fd = rustix::process::pidfd_open(Pid::from_raw(pid as i32)?, PidfdFlags::empty()).ok()?;
            (process_start_time(pid) == Some(start)).then_some((pid, start, fd))
        })
        .filter(|(_, _, fd)| rustix::process::pidfd_send_signal(fd, Signal::TERM).is_ok())
        .collect();
    let alive = |(pid, start, _): &&(u32, u64, OwnedFd)| super::state::process_runs(*pid, *start);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && pinned.iter().any(|p| alive(&p)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    for (_, _, fd) in pinned.iter().filter(alive) {
        let _ = rustix::process::pidfd_send_signal(fd, Signal::KILL);
    }
    pinned.len()
}

/// Ends the box's init itself with SIGTERM (its handler clears the box's
/// readiness files and exits) and waits up to `grace` for it to exit: true
/// when it did. The pid is pinned by a pidfd that is checked to be in the
/// init's mount namespace, so a pid the kernel reused is never signalled.
pub fn end_init(init: &EngineInit, grace: Duration) -> bool {
    let Some(pid) = Pid::from_raw(init.pid as i32) else { return false };
    let Ok(fd) = rustix::process::pidfd_open(pid, PidfdFlags::empty()) else {
        // Gone already (or never tent's to see): nothing of it is left.
        return mount_ns_of(init.pid).is_none();
    };
    if mount_ns_of(init.pid) != Some(init.ns) || rustix::process::pidfd_send_signal(&fd, Signal::TERM).is_err() {
        return false;
    }
    // A pidfd polls readable once its process has exited.
    let mut fds = [rustix::event::PollFd::new(&fd, rustix::event::PollFlags::IN)];
    let deadline = Instant::now() + grace;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let timeout = rustix::event::Timespec::try_from(left).ok();
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(n) if n > 0 => return true,
            Ok(_) => return false,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn box_processes_never_list_tent_or_its_ancestors() {
        assert!(mount_ns_of(u32::MAX).is_none());
        let id = "5208cb40".repeat(8);
        assert!(EngineInit::new(u32::MAX, &id).is_err(), "a process that is gone");
        // An init in tent's own mount namespace (a host process) is refused.
        assert!(EngineInit::new(std::process::id(), &id).is_err());
        let parent = parent_of(std::process::id()).unwrap();
        assert!(EngineInit::new(parent, &id).is_err());
        // Even given our own namespace, neither we nor our parents are listed.
        let init = EngineInit {
            pid: u32::MAX,
            ns: mount_ns_of(std::process::id()).unwrap(),
            _pin: fs::File::open("/proc/self/ns/mnt").unwrap(),
        };
        let listed = box_processes(&init);
        for pid in ancestors_of(std::process::id()) {
            assert!(!listed.iter().any(|(p, _)| *p == pid), "{pid} is tent or one of its parents");
        }
    }

    #[test]
    fn ancestors_start_with_ourselves_and_end() {
        let chain = ancestors_of(std::process::id());
        assert_eq!(chain[0], std::process::id());
        assert_eq!(chain.get(1).copied(), parent_of(std::process::id()));
        assert!(chain.len() <= 65);
        assert_eq!(ancestors_of(u32::MAX), vec![u32::MAX]);
    }

    fn argv(words: &[&str]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    /// A box's mount namespace, once its init has exited, must not be taken
    /// for the next one the kernel makes (it reuses freed inode numbers:
    /// seen here, a new namespace got the number of one freed a moment
    /// before). `EngineInit` holds it open, so no new namespace gets it.
    #[test]
    fn a_pinned_namespace_is_never_taken_for_a_newer_one() {
        let spawn = || {
            let child = std::process::Command::new("unshare").args(["-Urm", "sleep", "60"]).spawn().ok()?;
            let since = Instant::now();
            while mount_ns_of(child.id()) == mount_ns_of(std::process::id()) && since.elapsed() < Duration::from_secs(5)
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            Some(child)
        };
        let Some(mut first) = spawn() else {
            eprintln!("skipping: `unshare -Urm` cannot make a namespace here");
            return;
        };
        let pin = fs::File::open(format!("/proc/{}/ns/mnt", first.id())).unwrap();
        let meta = pin.metadata().unwrap();
        let init = EngineInit { pid: first.id(), ns: MountNs(meta.dev(), meta.ino()), _pin: pin };
        let _ = first.kill();
        let _ = first.wait();
        let mut later = Vec::new();
        for _ in 0..20 {
            let Some(mut child) = spawn() else { break };
            let theirs = mount_ns_of(child.id());
            let listed = box_processes(&init);
            let _ = child.kill();
            let _ = child.wait();
            later.push(theirs);
            assert!(listed.is_empty(), "a newer namespace's process taken for the box's: {listed:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!later.is_empty() && later.iter().all(|ns| *ns != Some(init.ns)), "{later:?} {:?}", init.ns);
    }

    #[test]
    fn an_engine_pid_counts_only_below_that_containers_monitor() {
        let id = "5208cb40".repeat(8);
        let conmon = |args: &[&str]| argv(&[&["/usr/bin/conmon", "--api-version", "1"], args].concat());
        assert!(monitor_names_container(&conmon(&["-c", &id, "-n", "dev"]), &id));
        assert!(monitor_names_container(&conmon(&["--cid", &id]), &id));
        assert!(monitor_names_container(&conmon(&[&format!("--cid={id}")]), &id));
        let shim = argv(&["/usr/bin/containerd-shim-runc-v2", "-namespace", "moby", "-id", &id, "-address", "x"]);
        assert!(monitor_names_container(&shim, &id));
        // Another container's monitor, a prefix of the id, or a process
        // that only names the id (a `podman inspect ID` of the user).
        let other = "0".repeat(64);
        assert!(!monitor_names_container(&conmon(&["-c", &other]), &id));
        assert!(!monitor_names_container(&conmon(&["-c", &id[..12]]), &id));
        assert!(!monitor_names_container(&argv(&["/usr/bin/podman", "inspect", "-c", &id]), &id));
        assert!(!monitor_names_container(&argv(&["/usr/bin/sleep", &id]), &id));
        assert!(!monitor_names_container(&conmon(&["-n", &id]), &id));
        assert!(!monitor_names_container(&conmon(&["-c"]), &id));
        assert!(!monitor_names_container(&shim, "short"));
    }

    #[test]
    fn only_conmon_naming_the_very_box_is_its_monitor() {
        let real = argv(&[
            "/usr/bin/conmon",
            "--api-version",
            "1",
            "-c",
            "e8bdd759",
            "-u",
            "e8bdd759",
            "-r",
            "/usr/bin/runc",
            "-n",
            "dev",
            "--exit-dir",
            "/run/user/1001/libpod/tmp/exits",
            "--exit-command",
            "/usr/bin/podman",
            "--exit-command-arg",
            "container",
        ]);
        assert!(is_monitor_of(&real, "dev"));
        assert!(!is_monitor_of(&real, "de"), "another box");
        assert!(!is_monitor_of(&real, "dev2"), "another box");
        assert!(is_monitor_of(&argv(&["conmon", "--name", "dev"]), "dev"));
        assert!(is_monitor_of(&argv(&["conmon", "--name=dev"]), "dev"));
        // Not conmon, or conmon that names no box, another one too, or none.
        assert!(!is_monitor_of(&argv(&["/usr/bin/sleep", "-n", "dev"]), "dev"));
        assert!(!is_monitor_of(&argv(&["/tmp/conmonx", "-n", "dev"]), "dev"));
        assert!(!is_monitor_of(&argv(&["conmon", "-c", "dev"]), "dev"));
        assert!(!is_monitor_of(&argv(&["conmon", "-n", "dev", "-n", "other"]), "dev"));
        assert!(!is_monitor_of(&argv(&["conmon", "--name=other", "-n", "dev"]), "dev"));
        assert!(!is_monitor_of(&argv(&["conmon", "-n"]), "dev"));
        assert!(!is_monitor_of(&[], "dev"));
        // Docker's monitor names the container by id only.
        let shim =
            argv(&["/usr/bin/containerd-shim-runc-v2", "-namespace", "moby", "-id", "5208cb40", "-address", "x"]);
        assert!(!is_monitor_of(&shim, "dev"));
    }

    #[test]
    fn a_host_process_is_no_box_init() {
        // Our parent is the test runner (or a shell), not a conmon.
        let why = prove_init_of(std::process::id(), "dev").unwrap_err();
        assert!(why.contains("is not box \"dev\"'s init"), "{why}");
        assert!(prove_init_of(u32::MAX, "dev").is_err());
        // Our own user namespace is outside every box.
        outside_boxes(std::process::id()).unwrap();
    }

    /// Starts `argv` under `depth` new user namespaces (each one's parent
    /// the one before), as a box's processes are under rootless podman's.
    /// Returns the child and the pid of the `sleep` its monitor lookalike
    /// started, once both run.
    fn lookalike_monitor(depth: usize, name: &str) -> (std::process::Child, u32) {
        let mut command = std::process::Command::new("unshare");
        command.args(["--user", "--map-root-user"]);
        for _ in 1..depth {
            command.args(["unshare", "--user", "--map-root-user"]);
        }
        if depth == 0 {
            command = std::process::Command::new("bash");
        } else {
            command.arg("bash");
        }
        // bash as `/usr/bin/conmon -c SCRIPT x -n NAME`, the parent of a sleep.
        command.args(["-c", &format!("exec -a /usr/bin/conmon bash -c 'sleep 60; :' x -n {name}")]);
        let mut child = command.spawn().expect("unshare and bash");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let found = fs::read_dir("/proc").unwrap().flatten().find_map(|e| {
                let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
                (parent_of(pid) == Some(child.id()) && read_cmdline(pid)? == argv(&["sleep", "60"])).then_some(pid)
            });
            if let Some(pid) = found {
                return (child, pid);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the lookalike monitor never started its sleep");
    }

    #[test]
    fn a_lookalike_monitor_inside_a_nested_user_namespace_is_refused() {
        // Where a box's processes are: two user namespaces below ours.
        let (mut inside, pid) = lookalike_monitor(2, "dev");
        let why = prove_init_of(pid, "dev");
        let _ = inside.kill();
        let _ = inside.wait();
        let why = why.unwrap_err();
        assert!(why.contains("nested user namespace"), "{why}");
        // Directly below ours, as rootless podman's conmon, and in ours (a
        // host process of the user: the limit docs/security.md names), the
        // same argv passes; for another box it does not.
        for depth in [1, 0] {
            let (mut outside, pid) = lookalike_monitor(depth, "dev");
            let verdicts = (prove_init_of(pid, "dev"), prove_init_of(pid, "other"));
            let _ = outside.kill();
            let _ = outside.wait();
            assert!(verdicts.0.is_ok(), "depth {depth}: {:?}", verdicts.0);
            assert!(verdicts.1.is_err(), "depth {depth}");
        }
    }

    #[test]
    fn our_cmdline_is_read_whole() {
        let ours = read_cmdline(std::process::id()).unwrap();
        let expected: Vec<Vec<u8>> = std::env::args_os().map(|a| a.into_encoded_bytes()).collect();
        assert_eq!(ours, expected);
    }

    proptest::proptest! {
        /// Any argv (a process can set its own): never a panic, and a
        /// verdict for a box only when some name option names exactly it.
        #[test]
        fn monitor_check_holds_on_any_argv(
            words in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(b"conmon".to_vec()),
                    proptest::strategy::Just(b"-n".to_vec()),
                    proptest::strategy::Just(b"--name".to_vec()),
                    proptest::strategy::Just(b"--name=dev".to_vec()),
                    proptest::strategy::Just(b"dev".to_vec()),
                    proptest::collection::vec(proptest::num::u8::ANY, 0..8),
                ],
                0..12,
            ),
            name in "[a-z][a-z0-9-]{0,6}",
        ) {
            if is_monitor_of(&words, &name) {
                proptest::prop_assert!(words[0].ends_with(b"conmon"));
                let names_it = words.windows(2).any(|w| (w[0] == b"-n" || w[0] == b"--name") && w[1] == name.as_bytes())
                    || words.iter().any(|w| w.strip_prefix(b"--name=") == Some(name.as_bytes()));
                proptest::prop_assert!(names_it);
            }
        }
    }
}
