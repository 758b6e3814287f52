//! File primitives every layer shares: atomic writes, exclusive locks, and
//! bounded reads of files a box can write. The floor of the crate: it uses
//! only `error`.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Removes a file tent made, if it is there: a file already gone is what
/// the caller wanted.
pub(crate) fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    }
}

/// Writes a file through a uniquely named temporary file in the same
/// directory (tempfile: random name, `O_EXCL`), fsynced and renamed over the
/// target, so readers (menus, shells, the next tent) see the old file or the
/// new one, never half of one, and nothing already there is written through.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let result = (|| {
        let mut tmp = tempfile::Builder::new().prefix(".tent-").suffix(".tmp").tempfile_in(dir)?;
        tmp.write_all(bytes)?;
        tmp.as_file().set_permissions(fs::Permissions::from_mode(mode))?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    })();
    result.map_err(|e| Error::io(path, e))
}

/// An exclusive lock on a lock file, held until dropped.
#[derive(Debug)]
pub struct Lock {
    file: fs::File,
    path: PathBuf,
}

/// The lock's open file: a child given a duplicate of it holds the lock
/// until it exits (a rollback's removal of the old container, done after
/// tent returns).
impl std::os::fd::AsFd for Lock {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl Lock {
    /// Removes the lock file while the lock is held, when what it guards is
    /// gone (a removed box, its last export): one file per box ever made
    /// would otherwise pile up. A tent that opened the file before and
    /// waits for it finds, once it has the lock, that the file is no longer
    /// at its path, and takes the lock again on a new one (`acquire`).
    pub(crate) fn retire(self) -> Result<()> {
        if same_file(&self.file, &self.path) {
            remove_if_present(&self.path)?;
        }
        Ok(())
    }
}

/// How often a lock is taken again because the file it got was removed
/// meanwhile. Each retry needs another holder's `retire` (or a box removing
/// the file: the state directory is in the home every box can write), so
/// the bound only keeps a hostile loop from holding tent forever.
const LOCK_RETRIES: usize = 100;

/// Takes the exclusive lock on `path` (made when missing), waiting for it.
pub(crate) fn lock(path: &Path) -> Result<Lock> {
    Ok(acquire(path, true)?.expect("a waiting lock is always taken"))
}

/// The lock on `path` if nobody holds it now; None when somebody does.
pub(crate) fn try_lock(path: &Path) -> Result<Option<Lock>> {
    acquire(path, false)
}

/// The lock on the file at `path`, checked to be the file still there once
/// it is held (see `Lock::retire`).
fn acquire(path: &Path, wait: bool) -> Result<Option<Lock>> {
    for _ in 0..LOCK_RETRIES {
        let file = lock_file(path)?;
        if wait {
            file.lock().map_err(|e| Error::io(path, e))?;
        } else {
            match file.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => return Ok(None),
                Err(fs::TryLockError::Error(e)) => return Err(Error::io(path, e)),
            }
        }
        if same_file(&file, path) {
            return Ok(Some(Lock { file, path: path.to_path_buf() }));
        }
    }
    Err(Error::io(
        path,
        std::io::Error::other(format!("the lock file was removed under tent {LOCK_RETRIES} times in a row")),
    ))
}

/// Whether `path` (not followed) is the open `file`.
fn same_file(file: &fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::symlink_metadata(path)) {
        (Ok(open), Ok(there)) => open.dev() == there.dev() && open.ino() == there.ino(),
        _ => false,
    }
}

/// The lock file itself, made when missing, never through a link.
fn lock_file(path: &Path) -> Result<fs::File> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

/// The most entries of a `locks/` folder one sweep looks at: the folder is
/// in the home, which every box can fill.
const SWEEP_LIMIT: usize = 10_000;

/// The lock files in `dir/locks` whose thing is gone: `there(name)` says
/// whether what the lock named `name` guards is still there. Links and
/// anything but plain files are not lock files tent made, and are left
/// alone; at most [`SWEEP_LIMIT`] entries are looked at.
pub(crate) fn stale_locks(dir: &Path, there: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir.join("locks")) else { return Vec::new() };
    entries
        .flatten()
        .take(SWEEP_LIMIT)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| e.file_name().to_str().is_some_and(|name| !there(name)))
        .map(|e| e.path())
        .collect()
}

/// Removes the lock file at `path` when no tent holds it now (as
/// [`Lock::retire`] does); whether it did.
pub(crate) fn retire_if_free(path: &Path) -> Result<bool> {
    match try_lock(path)? {
        Some(lock) => lock.retire().map(|()| true),
        None => Ok(false),
    }
}

/// The lock file that guards `name` in `dir`. Lock files live in their own
/// `locks/` directory, so no box, receipt or record name can collide with a
/// lock (a box called `dev.lock` is not box `dev`'s lock).
pub(crate) fn lock_path(dir: &Path, name: &str) -> PathBuf {
    dir.join("locks").join(name)
}

/// Opens a file that something other than tent may have written (a box's
/// state, a receipt, anything under the user's home, which every box can
/// write): never through a final symlink, without blocking on a FIFO (or
/// waiting for a device), and only when it is a regular file. None when it
/// is missing. Every read of such a file starts here (`read_bounded`).
pub(crate) fn open_untrusted(path: &Path) -> Result<Option<fs::File>> {
    Ok(open_untrusted_with_len(path)?.map(|(file, _)| file))
}

/// `open_untrusted`, and the file's length when it was opened.
fn open_untrusted_with_len(path: &Path) -> Result<Option<(fs::File, u64)>> {
    let file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(Error::io(path, std::io::Error::new(std::io::ErrorKind::InvalidData, "is a symbolic link")));
        }
        Err(e) => return Err(Error::io(path, e)),
    };
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::io(path, std::io::Error::new(std::io::ErrorKind::InvalidData, "not a regular file")));
    }
    Ok(Some((file, meta.len())))
}

/// Reads a file that something other than tent may have written (a box's
/// state, a receipt): opened as `open_untrusted` does (no final symlink, no
/// FIFO or device, no blocking), and at most `limit` bytes. None when it is
/// missing.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> Result<Option<Vec<u8>>> {
    let Some((file, len)) = open_untrusted_with_len(path)? else { return Ok(None) };
    if len > limit {
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("larger than {limit} bytes")),
        ));
    }
    // Room for the whole file and the read that finds its end: two reads,
    // not the 32-byte probes and doublings of an empty buffer (a start of
    // tent reads containers.conf, 24 KiB, on every run).
    let room = usize::try_from(len.saturating_add(1).min(limit.saturating_add(1)).max(512)).unwrap_or(512);
    let mut bytes = Vec::with_capacity(room);
    file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(Error::io(path, std::io::Error::new(std::io::ErrorKind::InvalidData, "grew while read")));
    }
    Ok(Some(bytes))
}

/// `read_bounded` for the user's own files that may well be links (a
/// dotfile manager's config, `~/.Xauthority`): the link is resolved to the
/// file it names, which is then read as any file under the home: bounded, a
/// regular file only, never waiting on a FIFO or a device. None when missing.
pub(crate) fn read_bounded_following(path: &Path, limit: u64) -> Result<Option<Vec<u8>>> {
    // Read as it is first: a missing file or a plain one costs an open, not
    // a readlink of every component (every start of tent looks for three
    // config files and podman's two).
    match read_bounded(path, limit) {
        Err(_) if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) => {
            match fs::canonicalize(path) {
                Ok(real) => read_bounded(&real, limit),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::io(path, e)),
            }
        }
        read => read,
    }
}

/// Appends `line` and a newline to a log that boxes can reach (it lives in
/// tent's state, under the shared home): made 0600 when missing, never
/// through a symlink, never blocking on a FIFO, a regular file only, and
/// started afresh once it is over `limit` bytes.
pub(crate) fn append_line(path: &Path, line: &str, limit: u64) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::io(path, std::io::Error::new(std::io::ErrorKind::InvalidData, "not a regular file")));
    }
    if meta.len() > limit {
        file.set_len(0).map_err(|e| Error::io(path, e))?;
    }
    file.write_all(format!("{line}\n").as_bytes()).map_err(|e| Error::io(path, e))
}

/// `read_bounded` as text; missing, unreadable or oversized files read as None.
pub(crate) fn read_text_bounded(path: &Path, limit: u64) -> Option<String> {
    read_bounded(path, limit).ok().flatten().map(|b| String::from_utf8_lossy(&b).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_sets_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/file");
        write_atomic(&path, b"one", 0o644).unwrap();
        write_atomic(&path, b"two", 0o755).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o755);
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn atomic_write_never_writes_through_a_planted_link() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        let path = dir.path().join("record.json");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        // The old fixed temp names are planted too.
        std::os::unix::fs::symlink(&victim, dir.path().join("record.json.tmp")).unwrap();
        write_atomic(&path, b"new", 0o644).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert!(!fs::symlink_metadata(&path).unwrap().file_type().is_symlink());
    }

    #[test]
    fn locks_exclude_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(dir.path(), "dev");
        let held = lock(&path).unwrap();
        let other = fs::OpenOptions::new().write(true).open(&path).unwrap();
        assert!(other.try_lock().is_err(), "a second lock must wait");
        assert!(try_lock(&path).unwrap().is_none(), "try_lock says it is held");
        drop(held);
        assert!(try_lock(&path).unwrap().is_some());
        assert!(other.try_lock().is_ok());
        assert_ne!(lock_path(dir.path(), "dev.lock"), dir.path().join("dev.lock"));
    }

    #[test]
    fn a_retired_lock_leaves_no_file_and_a_waiting_tent_takes_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(dir.path(), "dev");
        let held = lock(&path).unwrap();
        // Another tent has the file open and waits for the lock.
        let waiter = std::thread::spawn({
            let path = path.clone();
            move || {
                let lock = lock(&path).unwrap();
                assert!(same_file(&lock.file, &path), "the lock taken is on the file at the path");
                lock
            }
        });
        std::thread::sleep(std::time::Duration::from_millis(100));
        held.retire().unwrap();
        let second = waiter.join().unwrap();
        assert!(try_lock(&path).unwrap().is_none(), "the waiter's new file is the lock");
        second.retire().unwrap();
        assert!(!path.exists());
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 0);
    }

    #[test]
    fn a_sweep_retires_only_free_locks_of_things_that_are_gone() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["gone", "held", "kept"] {
            drop(lock(&lock_path(dir.path(), name)).unwrap());
        }
        let victim = dir.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("locks/planted")).unwrap();
        fs::create_dir(dir.path().join("locks/folder")).unwrap();
        let mut stale = stale_locks(dir.path(), |name| name == "kept");
        stale.sort();
        let expected = ["gone", "held"].map(|n| lock_path(dir.path(), n));
        assert_eq!(stale, expected, "links and folders are no locks of tent's");
        let held = lock(&expected[1]).unwrap();
        assert!(retire_if_free(&expected[0]).unwrap());
        assert!(!retire_if_free(&expected[1]).unwrap(), "a lock another tent holds stays");
        assert!(!expected[0].exists() && expected[1].exists() && lock_path(dir.path(), "kept").exists());
        drop(held);
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
        assert!(stale_locks(&dir.path().join("nowhere"), |_| false).is_empty());
    }

    /// Many tents taking, retiring and taking again one lock: never two
    /// holders at once.
    #[test]
    fn retired_locks_still_exclude_each_other() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(dir.path(), "dev");
        let inside = std::sync::Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let (path, inside) = (path.clone(), inside.clone());
                std::thread::spawn(move || {
                    for i in 0..200 {
                        let held = lock(&path).unwrap();
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders at once");
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                        if (t + i) % 3 == 0 { held.retire().unwrap() } else { drop(held) }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }

    #[test]
    fn bounded_reads_refuse_links_devices_and_big_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, b"12345").unwrap();
        assert_eq!(read_bounded(&file, 5).unwrap().unwrap(), b"12345");
        assert!(read_bounded(&file, 4).is_err());
        assert!(read_bounded(&dir.path().join("missing"), 4).unwrap().is_none());
        let link = dir.path().join("l");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert!(read_bounded(&link, 100).is_err(), "a link is never followed");
        assert!(read_bounded(Path::new("/dev/zero"), 100).is_err(), "a device is not a file");
        assert_eq!(read_text_bounded(&link, 100), None);
        let err = read_bounded(&link, 100).unwrap_err().to_string();
        assert!(err.contains("symbolic link") && err.contains(link.to_str().unwrap()), "{err}");
    }

    #[test]
    fn bounded_reads_never_wait_on_a_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pid");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from_raw_mode(0o600)).unwrap();
        // No writer: a blocking open would wait for ever.
        let err = read_bounded(&fifo, 100).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        assert!(open_untrusted(&fifo).is_err());
        assert!(append_line(&fifo, "x", 100).is_err(), "a log that is a FIFO is refused, not waited on");
    }

    #[test]
    fn logs_are_appended_bounded_and_never_through_links() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("state/relay.log");
        append_line(&log, "one", 10).unwrap();
        append_line(&log, "two", 10).unwrap();
        assert_eq!(fs::read_to_string(&log).unwrap(), "one\ntwo\n");
        assert_eq!(fs::metadata(&log).unwrap().permissions().mode() & 0o777, 0o600);
        append_line(&log, "three", 4).unwrap();
        assert_eq!(fs::read_to_string(&log).unwrap(), "three\n", "over the limit it starts afresh");
        let victim = dir.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        let link = dir.path().join("link.log");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(append_line(&link, "evil", 100).is_err());
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
    }
}
