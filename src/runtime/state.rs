//! A box's state on the host: the directory the box's init writes its pid,
//! log and readiness into (shared at `/run/.tent/state`). Reading it needs no
//! engine call, which is what keeps a warm `tent enter` as fast as the
//! engine's own exec (docs/internals.md).

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::files::read_text_bounded;

/// The most tent reads of a small state file (pid, ready, failed): the box
/// can write them, so a link to /dev/zero or a huge file must not hang or
/// exhaust the host side.
const SMALL_FILE_LIMIT: u64 = 64 * 1024;

/// The most of the init log read at once (a tail, or one poll of a follower).
const LOG_CHUNK: u64 = 256 * 1024;

/// Opens a file the box can write: `files::open_untrusted` (no final
/// symlink, regular files only, no waiting on a FIFO).
fn open_box_file(path: &Path) -> Option<fs::File> {
    crate::files::open_untrusted(path).ok().flatten()
}

/// A state directory (or one on its way) that is not the user's own.
fn not_own(path: &Path, why: &str) -> Error {
    Error::Unsafe {
        message: format!(
            "the state directory {} {why}: tent never hands the engine (root, for a rootful box) a path \
             that leads out of your own directories",
            path.display()
        ),
        hint: Some(format!(
            "nothing was started; remove it (`rm {}`, it is not tent's) and try again: tent makes the directory anew",
            crate::shell::words(&[path.display().to_string()])
        )),
    }
}

/// The PATH of the user's login shell in the box, cached by tent-exec.
pub const LOGIN_PATH_FILE: &str = "login-path";

#[derive(Debug, Clone)]
pub struct BoxState {
    pub dir: PathBuf,
}

/// Touched by tent before each command (`BoxState::mark_busy`).
pub const BUSY_FILE: &str = "busy";

/// Written by tent when it makes a box without `--stop-when-idle`: no init
/// reads `busy` there, so tent does not write it before each command
/// (issue 24). A box that removes it only gets the hint again; a box that
/// plants it only loses its own hint.
pub const NEVER_IDLE_FILE: &str = "never-idle";

/// Written by the init in place of `ready` when it stops an idle box.
pub const IDLE_STOP_FILE: &str = "idle-stop";

impl BoxState {
    pub fn new(dir: PathBuf) -> Self {
        BoxState { dir }
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("init.log")
    }

    pub fn hooks_dir(&self) -> PathBuf {
        self.dir.join("hooks")
    }

    /// True when the init said it is ready and that init process still runs.
    /// The box's init is stopping it (`--stop-when-idle`): it wrote this
    /// in place of `ready`. Only a hint to wait for the stop and start again.
    pub fn idle_stopping(&self) -> bool {
        fs::symlink_metadata(self.dir.join(IDLE_STOP_FILE)).is_ok_and(|m| m.is_file())
    }

    /// Says "a command is on its way" to an init that stops the box when
    /// idle (`--stop-when-idle`): the `busy` file's time is now. Done before
    /// `ready` is looked at, so an init that has begun to stop sees it and
    /// stays. Never through a link, never waiting on a FIFO; a failure only
    /// loses the hint.
    pub fn mark_busy(&self) {
        use rustix::fs::{Mode, OFlags, Timespec, Timestamps};
        // One lookup instead of open, stat, touch and close (boxes made by
        // an older tent have no mark, and are told as before).
        let never = self.dir.join(NEVER_IDLE_FILE);
        if rustix::fs::accessat(
            rustix::fs::CWD,
            &never,
            rustix::fs::Access::EXISTS,
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .is_ok()
        {
            return;
        }
        let path = self.dir.join(BUSY_FILE);
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let Ok(fd) = rustix::fs::open(&path, flags, Mode::from_raw_mode(0o600)) else { return };
        if rustix::fs::fstat(&fd).is_ok_and(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_file()) {
            let now = Timespec { tv_sec: 0, tv_nsec: rustix::fs::UTIME_NOW };
            let _ = rustix::fs::futimens(&fd, &Timestamps { last_access: now, last_modification: now });
        }
    }

    /// Records whether the box stops when idle (its spec's
    /// `--stop-when-idle`), for [`Self::mark_busy`]. Written without
    /// following a link.
    pub fn set_stops_when_idle(&self, stops: bool) -> Result<()> {
        let path = self.dir.join(NEVER_IDLE_FILE);
        if stops {
            match fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&path, e)),
                _ => Ok(()),
            }
        } else {
            crate::files::write_atomic(&path, b"", 0o600)
        }
    }

    pub fn is_ready(&self) -> bool {
        read_pid_line(&self.dir.join("ready")).is_some_and(|(pid, start)| process_runs(pid, start))
    }

    /// The ready init's `PID STARTTIME`, as written (not checked). The box
    /// can write any pid here: the join proves it is the box's init
    /// (`join::prove_init_of`) before it uses it.
    pub fn ready_line(&self) -> Option<(u32, u64)> {
        read_pid_line(&self.dir.join("ready"))
    }

    /// Whether the init that last wrote its pid is alive: None when it has not
    /// written one yet. Only a hint for waiting on a start: the box can
    /// write any pid there, so nothing is ever signalled or joined by it
    /// (`stop` takes the init from the engine).
    pub fn init_alive(&self) -> Option<bool> {
        let (pid, start) = read_pid_line(&self.dir.join("pid"))?;
        Some(process_runs(pid, start))
    }

    /// The init's reason for failing, when it failed.
    pub fn failure(&self) -> Option<String> {
        read_text_bounded(&self.dir.join("failed"), SMALL_FILE_LIMIT).map(|s| s.trim().to_string())
    }

    /// Makes the directory, keeping what is there, and checks it is the
    /// user's own (see `create_under`; here only the directory itself).
    pub fn create(&self) -> Result<()> {
        self.create_under(self.dir.parent().unwrap_or(Path::new("/")))
    }

    /// Makes the directory and those between `root` (tent's state directory)
    /// and it, keeping what is there, and checks each below `root` without
    /// following a link: a directory of this user (mode 0700, the user's
    /// alone). The engine resolves this path at every start, as root for a
    /// rootful box, and anything under the home can be changed by the user
    /// and by every box: a link planted in its place, or a directory of
    /// another user, is refused before the engine sees it (docs/security.md).
    /// The box's init checks the directory it was given once more.
    pub fn create_under(&self, root: &Path) -> Result<()> {
        use rustix::fs::{Mode, OFlags};
        let rel = self.dir.strip_prefix(root).ok().filter(|r| !r.as_os_str().is_empty());
        let (root, rel) = match rel {
            Some(rel) => (root, rel),
            None => (self.dir.parent().unwrap_or(Path::new("/")), Path::new(self.dir.file_name().unwrap_or_default())),
        };
        fs::DirBuilder::new().recursive(true).mode(0o700).create(root).map_err(|e| Error::io(root, e))?;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let mut fd = rustix::fs::open(root, flags, Mode::empty()).map_err(|e| Error::io(root, e.into()))?;
        let me = rustix::process::getuid().as_raw();
        let mut at = root.to_path_buf();
        for part in rel.components() {
            let std::path::Component::Normal(name) = part else {
                return Err(not_own(&self.dir, "is not a plain path below tent's state directory"));
            };
            at.push(name);
            match rustix::fs::mkdirat(&fd, name, Mode::from_raw_mode(0o700)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(Error::io(&at, e.into())),
            }
            let next = match rustix::fs::openat(&fd, name, flags | OFlags::NOFOLLOW, Mode::empty()) {
                Ok(next) => next,
                Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => {
                    return Err(not_own(&at, "is a link or not a directory"));
                }
                Err(e) => return Err(Error::io(&at, e.into())),
            };
            let stat = rustix::fs::fstat(&next).map_err(|e| Error::io(&at, e.into()))?;
            if stat.st_uid != me {
                return Err(not_own(&at, &format!("belongs to uid {}, not to you (uid {me})", stat.st_uid)));
            }
            if stat.st_mode & 0o077 != 0 {
                rustix::fs::fchmod(&next, Mode::from_raw_mode(0o700)).map_err(|e| Error::io(&at, e.into()))?;
            }
            fd = next;
        }
        Ok(())
    }

    /// True when an init in a PID namespace of its own wrote `pid.ns` or
    /// `ready.ns` that have no host-pid twin yet (see `adopt_ns_files`).
    pub fn needs_host_pid(&self) -> bool {
        ["pid", "ready"].iter().any(|f| self.dir.join(format!("{f}.ns")).exists() && !self.dir.join(f).exists())
    }

    /// An init that is PID 1 of its own namespace (`--init`, `--unshare-process`)
    /// cannot name its host pid: it writes `pid.ns`/`ready.ns` with its start
    /// time, and tent writes `pid`/`ready` with the host pid the engine reports
    /// (`host_pid`), when that process has the same start time. After that the
    /// warm path reads `ready` as for any box.
    pub fn adopt_ns_files(&self, host_pid: u32) {
        let Some(start) = process_start_time(host_pid) else { return };
        for file in ["pid", "ready"] {
            let target = self.dir.join(file);
            if target.exists() {
                continue;
            }
            match read_pid_line(&self.dir.join(format!("{file}.ns"))) {
                Some((_, ns_start)) if ns_start == start => {
                    let _ = crate::files::write_atomic(&target, format!("{host_pid} {start}\n").as_bytes(), 0o644);
                }
                _ => {}
            }
        }
    }

    /// Forgets the last start's pid, readiness and failure, before a new
    /// start. The login PATH tent-exec cached stays: the box's system is the
    /// same one, and tent-exec computes it again when a profile is newer
    /// (issue 24: a slow profile was paid again at every start).
    pub fn reset_run_files(&self) {
        for file in ["ready", "failed", "pid", "ready.ns", "pid.ns", IDLE_STOP_FILE] {
            let _ = fs::remove_file(self.dir.join(file));
        }
    }

    /// `reset_run_files` for a new container under the box's name (a
    /// rollback, an adoption). Its system is another one, whose profiles
    /// may be older than the cached login PATH, so that goes too, unless
    /// the new system is a snapshot this box's own container committed at
    /// `snapshot_taken` (unix seconds, before the commit began) and the
    /// cache was written before then.
    ///
    /// Why that cache holds for the snapshot (issue 24: a rollback paid
    /// the user's whole login profile again at its first command): the
    /// cache was computed on the box's system at some time T, and every
    /// change to that system's profiles since T, up to the commit, was made
    /// after T, so it is newer than the cache in the snapshot too, and
    /// tent-exec's `-nt` check computes the PATH again. A cache written
    /// after the commit began may hold what the snapshot lacks: it goes.
    /// Each swap applies the same rule, so a kept cache stays one the
    /// box's line of systems can vouch for.
    pub fn reset_for_new_system(&self, snapshot_taken: Option<i64>) {
        self.reset_run_files();
        let path = self.dir.join(LOGIN_PATH_FILE);
        let written_before = |taken: i64| {
            let Ok(meta) = fs::symlink_metadata(&path) else { return false };
            let since_epoch = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
            // Strictly before the second the commit began in: `taken` is
            // that second rounded down.
            meta.is_file() && since_epoch.is_some_and(|d| (d.as_secs() as i64) < taken)
        };
        if !snapshot_taken.is_some_and(written_before) {
            let _ = fs::remove_file(&path);
        }
    }

    /// Removes the whole directory (the box is gone).
    pub fn remove(&self) -> Result<()> {
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&self.dir, e)),
        }
    }

    /// The last `lines` lines of the init log (read from its last
    /// `LOG_CHUNK` bytes, never through a link).
    pub fn log_tail(&self, lines: usize) -> String {
        let text = (|| {
            let mut file = open_box_file(&self.log_path())?;
            let len = file.metadata().ok()?.len();
            file.seek(SeekFrom::Start(len.saturating_sub(LOG_CHUNK))).ok()?;
            let mut bytes = Vec::new();
            file.take(LOG_CHUNK).read_to_end(&mut bytes).ok()?;
            Some(String::from_utf8_lossy(&bytes).into_owned())
        })()
        .unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// Follows a growing log file from an offset, for progress while waiting.
pub struct LogFollower {
    path: PathBuf,
    offset: u64,
    partial: String,
}

impl LogFollower {
    /// Starts at the current end of the file, so an old start's lines are not shown again.
    pub fn from_end(path: PathBuf) -> Self {
        let offset = fs::symlink_metadata(&path).map(|m| m.len()).unwrap_or(0);
        LogFollower { path, offset, partial: String::new() }
    }

    /// The complete lines written since the last call (at most `LOG_CHUNK`
    /// bytes a call; a line longer than that is cut, so a box cannot make
    /// the host hold an endless line).
    pub fn new_lines(&mut self) -> Vec<String> {
        let Some(mut file) = open_box_file(&self.path) else { return Vec::new() };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len < self.offset {
            self.offset = 0; // the file was replaced
        }
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return Vec::new();
        }
        let mut bytes = Vec::new();
        let Ok(read) = file.take(LOG_CHUNK).read_to_end(&mut bytes) else { return Vec::new() };
        self.offset += read as u64;
        self.partial.push_str(&String::from_utf8_lossy(&bytes));
        let mut lines: Vec<String> = self.partial.split('\n').map(str::to_string).collect();
        self.partial = lines.pop().unwrap_or_default();
        if self.partial.len() as u64 >= LOG_CHUNK {
            lines.push(std::mem::take(&mut self.partial));
        }
        lines
    }
}

fn read_pid_line(path: &Path) -> Option<(u32, u64)> {
    let text = read_text_bounded(path, SMALL_FILE_LIMIT)?;
    parse_pid_line(&text)
}

pub fn parse_pid_line(text: &str) -> Option<(u32, u64)> {
    let mut words = text.split_whitespace();
    let pid = words.next()?.parse().ok()?;
    let start = words.next()?.parse().ok()?;
    Some((pid, start))
}

/// Field 22 of /proc/PID/stat, the process's start time in clock ticks since
/// boot: a pid and its start time together name one process for good.
pub fn process_start_time(pid: u32) -> Option<u64> {
    parse_stat_start_time(&proc_stat(pid)?)
}

/// Whether that process still runs: it exists with that start time and is
/// not a zombie. An init killed behind the engine's back stays a zombie
/// until something reaps it, which a host's PID 1 may never do.
pub fn process_runs(pid: u32, start: u64) -> bool {
    proc_stat(pid).is_some_and(|stat| parse_stat_start_time(&stat) == Some(start) && !is_zombie(&stat))
}

/// Whether no process runs under that pid: none, or a zombie.
pub fn process_gone(pid: u32) -> bool {
    proc_stat(pid).is_none_or(|stat| is_zombie(&stat))
}

fn is_zombie(stat: &str) -> bool {
    let state = stat.rfind(')').and_then(|i| stat[i + 1..].split_whitespace().next());
    matches!(state, Some("Z" | "X"))
}

/// /proc/PID/stat in one read: a line of at most about 1 KiB (52 numbers
/// and a name of 16 bytes), where reading to the end in the standard way
/// takes six reads from 32 bytes up (every `tent run` checks its box's init).
pub fn proc_stat(pid: u32) -> Option<String> {
    use std::io::Read;
    let mut file = fs::File::open(format!("/proc/{pid}/stat")).ok()?;
    let (mut buf, mut len) = ([0u8; 4096], 0);
    while len < buf.len() {
        match file.read(&mut buf[len..]).ok()? {
            0 => break,
            n => len += n,
        }
    }
    String::from_utf8(buf[..len].to_vec()).ok()
}

pub fn parse_stat_start_time(stat: &str) -> Option<u64> {
    // The command name (field 2) is in parentheses and may hold spaces and ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    // After the name come field 3 (state) onwards; start time is field 22.
    after.split_whitespace().nth(19)?.parse().ok()
}

/// Folders in a scope's state directory that are tent's, not boxes.
const NOT_BOXES: [&str; 2] = ["locks", "journal"];

/// The boxes tent keeps state for under `boxes_dir` (`boxes/SCOPE/NAME`), read
/// with no engine call, as a stranger's folder (every box can write it):
/// known scopes only, real directories (no links), valid box names, and at
/// most 10000 entries a folder. Sorted by name, then scope.
pub fn on_disk(boxes_dir: &Path) -> Vec<(crate::engine::Scope, String, PathBuf)> {
    const MAX_ENTRIES: usize = 10_000;
    let dirs = |dir: &Path| -> Vec<(String, PathBuf)> {
        let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
        entries
            .take(MAX_ENTRIES)
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
            .collect()
    };
    let mut found = Vec::new();
    for (scope, scope_dir) in dirs(boxes_dir) {
        let Some(scope) = crate::engine::Scope::parse(&scope) else { continue };
        for (name, dir) in dirs(&scope_dir) {
            if !NOT_BOXES.contains(&name.as_str()) && crate::boxes::validate_name(&name).is_ok() {
                found.push((scope, name, dir));
            }
        }
    }
    found.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_box_that_stops_when_idle_is_marked_busy() {
        let dir = tempfile::tempdir().unwrap();
        let state = BoxState::new(dir.path().to_path_buf());
        state.set_stops_when_idle(false).unwrap();
        state.mark_busy();
        assert!(!dir.path().join(BUSY_FILE).exists(), "no init reads it: not written");
        state.set_stops_when_idle(true).unwrap();
        state.set_stops_when_idle(true).unwrap();
        state.mark_busy();
        assert!(dir.path().join(BUSY_FILE).is_file());
        // A planted link in place of the mark is replaced, never followed.
        let target = dir.path().join("target");
        std::os::unix::fs::symlink(&target, dir.path().join(NEVER_IDLE_FILE)).unwrap();
        state.set_stops_when_idle(false).unwrap();
        assert!(!target.exists());
        assert!(fs::symlink_metadata(dir.path().join(NEVER_IDLE_FILE)).unwrap().is_file());
    }

    #[test]
    fn the_busy_mark_follows_no_link_and_waits_on_no_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let state = BoxState::new(dir.path().to_path_buf());
        state.mark_busy();
        let first = fs::metadata(dir.path().join(BUSY_FILE)).unwrap();
        assert!(first.is_file());
        std::thread::sleep(std::time::Duration::from_millis(20));
        state.mark_busy();
        let again = fs::metadata(dir.path().join(BUSY_FILE)).unwrap().modified().unwrap();
        assert!(again > first.modified().unwrap(), "marked again: a newer time");

        let target = dir.path().join("target");
        fs::write(&target, "x").unwrap();
        let before = fs::metadata(&target).unwrap().modified().unwrap();
        fs::remove_file(dir.path().join(BUSY_FILE)).unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join(BUSY_FILE)).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        state.mark_busy();
        assert_eq!(fs::metadata(&target).unwrap().modified().unwrap(), before, "the link's target is untouched");

        fs::remove_file(dir.path().join(BUSY_FILE)).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            dir.path().join(BUSY_FILE),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        state.mark_busy(); // returns at once: no reader, no wait
        assert!(!state.idle_stopping());
        fs::write(dir.path().join(IDLE_STOP_FILE), "1 2\n").unwrap();
        assert!(state.idle_stopping());
    }

    #[test]
    fn stat_start_time_survives_odd_names() {
        let stat =
            "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10 18446744073709551615";
        assert_eq!(parse_stat_start_time(stat), Some(987_654));
        assert_eq!(parse_stat_start_time("garbage"), None);
    }

    #[test]
    fn our_own_process_has_a_start_time() {
        assert!(process_start_time(std::process::id()).is_some());
        assert_eq!(process_start_time(u32::MAX), None);
    }

    #[test]
    fn a_zombie_runs_no_more() {
        let me = std::process::id();
        assert!(process_runs(me, process_start_time(me).unwrap()));
        assert!(!process_gone(me));
        assert!(process_gone(u32::MAX));
        // A child that exited and is not waited for yet: a zombie, as a box's
        // init killed behind the engine's back stays where nothing reaps it.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start = process_start_time(pid).unwrap();
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !process_gone(pid) && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(process_gone(pid), "the exited child is a zombie");
        assert!(!process_runs(pid, start));
        assert_eq!(process_start_time(pid), Some(start), "its stat is still there");
        child.wait().unwrap();
    }

    #[test]
    fn readiness_needs_the_same_live_process() {
        let dir = tempfile::tempdir().unwrap();
        let state = BoxState::new(dir.path().to_path_buf());
        assert!(!state.is_ready());
        let me = std::process::id();
        let start = process_start_time(me).unwrap();
        fs::write(dir.path().join("ready"), format!("{me} {start}\n")).unwrap();
        assert!(state.is_ready());
        // Same pid, other start time: a reused pid is not our init.
        fs::write(dir.path().join("ready"), format!("{me} {}\n", start + 1)).unwrap();
        assert!(!state.is_ready());
        state.reset_run_files();
        assert!(!dir.path().join("ready").exists());
    }

    #[test]
    fn a_login_path_stays_for_a_snapshot_committed_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let state = BoxState::new(dir.path().to_path_buf());
        let cache = dir.path().join(LOGIN_PATH_FILE);
        let write_at = |secs: i64| {
            fs::write(&cache, "/usr/bin:/bin\n").unwrap();
            let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(secs as u64 * 1000 + 500);
            fs::File::options().write(true).open(&cache).unwrap().set_modified(at).unwrap();
        };
        // Written at 1000.5, the commit began at 1001: the snapshot's.
        write_at(1000);
        state.reset_for_new_system(Some(1001));
        assert!(cache.exists(), "a cache from before the snapshot stays");
        // Written in the second the commit began in: maybe after it.
        write_at(1001);
        state.reset_for_new_system(Some(1001));
        assert!(!cache.exists(), "a cache from the commit's own second goes");
        // Not a snapshot of the box's own (an adoption, a clone, a load).
        write_at(1000);
        state.reset_for_new_system(None);
        assert!(!cache.exists(), "another system's cache goes");
        // A link planted there is no cache: it goes, its target stays.
        let target = dir.path().join("elsewhere");
        fs::write(&target, "x").unwrap();
        std::os::unix::fs::symlink(&target, &cache).unwrap();
        state.reset_for_new_system(Some(i64::MAX));
        assert!(fs::symlink_metadata(&cache).is_err() && target.exists());
    }

    #[test]
    fn ns_files_are_adopted_only_for_the_same_process() {
        let dir = tempfile::tempdir().unwrap();
        let state = BoxState::new(dir.path().to_path_buf());
        let me = std::process::id();
        let start = process_start_time(me).unwrap();
        assert!(!state.needs_host_pid());
        fs::write(dir.path().join("pid.ns"), format!("1 {}\n", start + 1)).unwrap();
        assert!(state.needs_host_pid());
        state.adopt_ns_files(me);
        assert!(!dir.path().join("pid").exists(), "another start time is another process");
        fs::write(dir.path().join("pid.ns"), format!("1 {start}\n")).unwrap();
        fs::write(dir.path().join("ready.ns"), format!("1 {start}\n")).unwrap();
        state.adopt_ns_files(me);
        assert!(!state.needs_host_pid());
        assert!(state.is_ready() && state.init_alive() == Some(true));
        state.reset_run_files();
        assert!(!dir.path().join("ready.ns").exists() && !state.is_ready());
    }

    #[test]
    fn a_state_directory_is_made_private_and_never_taken_through_a_link() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tent");
        let state = BoxState::new(root.join("boxes/podman-root/dev"));
        state.create_under(&root).unwrap();
        for d in [root.join("boxes"), root.join("boxes/podman-root"), state.dir.clone()] {
            assert_eq!(fs::metadata(&d).unwrap().permissions().mode() & 0o777, 0o700, "{}", d.display());
        }
        // Made open by someone: closed again, contents kept.
        fs::write(state.dir.join("home"), "/h").unwrap();
        fs::set_permissions(&state.dir, fs::Permissions::from_mode(0o755)).unwrap();
        state.create_under(&root).unwrap();
        assert_eq!(fs::metadata(&state.dir).unwrap().permissions().mode() & 0o777, 0o700);
        assert!(state.dir.join("home").exists());

        // The box's directory swapped for a link to a directory of root's.
        let victim = dir.path().join("cron.hourly");
        fs::create_dir(&victim).unwrap();
        fs::remove_dir_all(&state.dir).unwrap();
        std::os::unix::fs::symlink(&victim, &state.dir).unwrap();
        let err = state.create_under(&root).unwrap_err().to_string();
        assert!(err.contains(&state.dir.display().to_string()) && err.contains("link"), "{err}");
        assert!(state.create().is_err(), "the directory alone is checked too");
        // A link higher up, inside tent's state directory.
        fs::remove_file(&state.dir).unwrap();
        let scope = root.join("boxes/podman-root");
        fs::rename(&scope, dir.path().join("moved")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("moved"), &scope).unwrap();
        assert!(state.create_under(&root).is_err());
        assert_eq!(fs::read_dir(&victim).unwrap().count(), 0, "nothing was made through a link");
        // A file in its place.
        fs::remove_file(&scope).unwrap();
        fs::create_dir_all(&scope).unwrap();
        fs::write(&state.dir, "").unwrap();
        assert!(state.create_under(&root).is_err());
    }

    #[test]
    fn a_state_directory_of_another_user_is_refused() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let state = BoxState::new(dir.path().join("dev"));
        fs::create_dir(&state.dir).unwrap();
        let me = rustix::process::getuid().as_raw();
        if me != 0 {
            return; // only root can give a directory away
        }
        std::os::unix::fs::chown(&state.dir, Some(4242), None).unwrap();
        let err = state.create_under(dir.path()).unwrap_err().to_string();
        assert!(err.contains("uid 4242"), "{err}");
        assert_eq!(fs::metadata(&state.dir).unwrap().uid(), 4242);
    }

    #[test]
    fn follower_returns_whole_lines_only() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("init.log");
        fs::write(&log, "old\n").unwrap();
        let mut follower = LogFollower::from_end(log.clone());
        assert!(follower.new_lines().is_empty());
        fs::write(&log, "old\n==> one\npart").unwrap();
        assert_eq!(follower.new_lines(), vec!["==> one"]);
        fs::write(&log, "old\n==> one\npartial done\n").unwrap();
        assert_eq!(follower.new_lines(), vec!["partial done"]);
    }

    #[test]
    fn box_written_links_and_devices_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let state = BoxState::new(dir.path().to_path_buf());
        let target = dir.path().join("secret");
        fs::write(&target, "host secret\n").unwrap();
        for name in ["init.log", "failed", "ready", "pid"] {
            std::os::unix::fs::symlink(&target, dir.path().join(name)).unwrap();
        }
        assert_eq!(state.log_tail(5), "");
        assert_eq!(state.failure(), None);
        assert!(!state.is_ready());
        assert_eq!(state.init_alive(), None);
        let mut follower = LogFollower::from_end(state.log_path());
        assert!(follower.new_lines().is_empty());
        // A link to an endless device: nothing is read, nothing hangs.
        for name in ["init.log", "failed"] {
            fs::remove_file(dir.path().join(name)).unwrap();
            std::os::unix::fs::symlink("/dev/zero", dir.path().join(name)).unwrap();
        }
        assert_eq!(state.log_tail(5), "");
        assert_eq!(state.failure(), None);
        assert!(LogFollower::from_end(state.log_path()).new_lines().is_empty());
    }

    #[test]
    fn big_state_files_are_read_in_bounded_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let state = BoxState::new(dir.path().to_path_buf());
        fs::write(dir.path().join("failed"), vec![b'x'; SMALL_FILE_LIMIT as usize + 1]).unwrap();
        assert_eq!(state.failure(), None);
        let mut log = vec![b'y'; 3 * LOG_CHUNK as usize];
        log.extend_from_slice(b"\nlast line\n");
        fs::write(state.log_path(), &log).unwrap();
        assert_eq!(state.log_tail(1), "last line");
        let mut follower = LogFollower { path: state.log_path(), offset: 0, partial: String::new() };
        let first = follower.new_lines();
        assert_eq!(first.len(), 1, "one cut piece of the endless line");
        assert!(first[0].len() as u64 <= LOG_CHUNK + 1);
    }
}
