//! tent's in-box scripts (`boxes::scripts`) written to a path keyed by their
//! content, and the wait for a box's init to say it is ready
//! (docs/internals.md).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::state::{BoxState, LogFollower};
use crate::boxes::scripts::{LIB_FILES, content_hash};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::paths::Paths;
use crate::progress::{Activity, Progress};

/// The most tent reads of one script of a lib directory.
const LIB_FILE_LIMIT: u64 = 1 << 20;

/// A lib hash as a container's label names it: hex only (FNV's 16 digits
/// from older tents, SHA-256's 64), so it is a plain directory name.
fn valid_hash(hash: &str) -> bool {
    (16..=64).contains(&hash.len()) && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The lib directory for `hash`, written from this build's scripts when it is
/// missing (first use, or the user cleaned their data directory). Written to
/// a temporary directory and renamed, so concurrent tents never see half a lib.
pub fn ensure_lib(paths: &Paths, hash: &str) -> Result<PathBuf> {
    if !valid_hash(hash) {
        return Err(Error::Unsafe {
            message: format!("the box's lib label {hash:?} is not a content hash tent wrote"),
            hint: Some("make the box again with `tent create` (its label cannot be changed)".into()),
        });
    }
    let dir = paths.data.join("lib").join(hash);
    if lib_is_intact(&dir, hash) {
        return Ok(dir);
    }
    // Missing, or changed since tent wrote it (its files are the user's, and
    // any box with the home mounted can write them): written again.
    if fs::symlink_metadata(&dir).is_ok() {
        let _ = fs::remove_file(&dir);
        let _ = fs::remove_dir_all(&dir);
    }
    let parent = paths.data.join("lib");
    fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let tmp = parent.join(format!(".{hash}.{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    for (name, text) in LIB_FILES {
        let path = tmp.join(name);
        fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).map_err(|e| Error::io(&path, e))?;
    }
    // World-readable: rootful engines and the box's own users read it.
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).map_err(|e| Error::io(&tmp, e))?;
    match fs::rename(&tmp, &dir) {
        Ok(()) => Ok(dir),
        // Another tent won the race: its copy is the same content.
        Err(_) if lib_is_intact(&dir, hash) => {
            let _ = fs::remove_dir_all(&tmp);
            Ok(dir)
        }
        Err(e) => Err(Error::io(&dir, e)),
    }
}

/// Whether `dir` holds the scripts its name promises: a directory of the
/// user's (not a link), every script a regular file (no links), whose
/// SHA-256 content hash is the directory's name, or this build's own scripts
/// (what tent writes for a hash it does not know).
pub fn lib_is_intact(dir: &Path, hash: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    let me = rustix::process::getuid().as_raw();
    match fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() && meta.uid() == me => {}
        _ => return false,
    }
    let read = |name: &str| crate::files::read_bounded(&dir.join(name), LIB_FILE_LIMIT).ok().flatten();
    let [Some(init), Some(exec), Some(host)] = LIB_FILES.map(|(name, _)| read(name)) else { return false };
    if LIB_FILES.iter().zip([&init, &exec, &host]).all(|((_, text), got)| text.as_bytes() == got.as_slice()) {
        return true;
    }
    content_hash([&init, &exec, &host]) == hash
}

/// Reports the init's new log lines: its `==> ` progress lines (prefixed
/// with `label`) as progress, everything else as detail. The lines are the
/// box's: whoever shows them sanitizes them (`output::Printer` does).
pub fn show_init_lines(follower: &mut LogFollower, label: &str, activity: &dyn Activity) {
    for line in follower.new_lines() {
        match line.strip_prefix("==> ") {
            Some(progress) => activity.progress(&format!("{label}{progress}")),
            None => activity.detail(&line),
        }
    }
}

pub fn ready_timeout() -> Duration {
    std::env::var(crate::env_vars::TENT_READY_TIMEOUT)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(Duration::from_secs(600), Duration::from_secs)
}

/// Waits until the box's init is ready, showing its progress lines (all of
/// its output with --verbose). Fails with the init's reason and log tail.
pub fn wait_ready(
    engine: &Engine,
    name: &str,
    state: &BoxState,
    mut follower: LogFollower,
    progress: &dyn Progress,
) -> Result<()> {
    let started = Instant::now();
    let timeout = ready_timeout();
    let activity = progress.activity(&format!("starting {name}"));
    let mut last_check = Instant::now();
    let mut last_adopt: Option<Instant> = None;
    let result = loop {
        show_init_lines(&mut follower, &format!("{name}: "), activity.as_ref());
        // An init in its own PID namespace: the engine knows its host pid.
        if state.needs_host_pid() && last_adopt.is_none_or(|t| t.elapsed() > Duration::from_millis(300)) {
            last_adopt = Some(Instant::now());
            if let Some(pid) = engine.inspect(name)?.and_then(|c| c.pid) {
                state.adopt_ns_files(pid);
            }
        }
        if state.is_ready() {
            break Ok(());
        }
        let not_ready = |reason: String| Error::NotReady {
            name: name.into(),
            reason,
            log_tail: state.log_tail(15),
            log: state.log_path(),
        };
        if let Some(reason) = state.failure() {
            break Err(not_ready(reason));
        }
        if progress.interrupted() {
            break Err(Error::Interrupted);
        }
        if started.elapsed() > timeout {
            break Err(not_ready(format!(
                "no answer from its init after {} s (set {} to wait longer)",
                timeout.as_secs(),
                crate::env_vars::TENT_READY_TIMEOUT
            )));
        }
        if last_check.elapsed() > Duration::from_secs(2) {
            last_check = Instant::now();
            let alive = state.init_alive();
            if alive == Some(false) {
                break Err(not_ready("its init exited before it was ready".into()));
            }
            // No pid yet: the entry point may have failed before the script
            // ran, or the box runs with a state directory that is not this one.
            if alive.is_none()
                && started.elapsed() > Duration::from_secs(4)
                && let Some(container) = engine.inspect(name)?
            {
                if !container.running() {
                    let logs = engine.output(&["logs", "--tail", "20", name]).ok();
                    let text = logs
                        .map(|o| {
                            format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
                        })
                        .unwrap_or_default();
                    break Err(Error::NotReady {
                        name: name.into(),
                        reason: format!("the container stopped ({}) before its init ran", container.status),
                        log_tail: text.trim().to_string(),
                        log: state.log_path(),
                    });
                }
                if started.elapsed() > Duration::from_secs(8) {
                    break Err(not_ready(format!(
                        "it runs, but its init never wrote to {} (was that directory removed while the box ran?); \
                         restart it with `tent stop {name}`",
                        state.dir.display()
                    )));
                }
            }
        }
        // Quick polls at first (a baked box is ready in a few hundred ms), then gentler.
        let pause = if started.elapsed() < Duration::from_secs(3) { 10 } else { 50 };
        std::thread::sleep(Duration::from_millis(pause));
    };
    activity.finish();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boxes::scripts::{EXEC_SCRIPT, INIT_SCRIPT, lib_hash};

    #[test]
    fn only_hex_lib_labels_name_a_directory() {
        assert!(valid_hash(&lib_hash()) && valid_hash("0123456789abcdef"));
        for bad in ["", "abc", "../../../../etc", "0123456789abcdeg", "0123456789abcdef/..", &"a".repeat(65)] {
            assert!(!valid_hash(bad), "{bad}");
        }
        let dir = tempfile::tempdir().unwrap();
        let err = ensure_lib(&paths_in(dir.path()), "../../x").unwrap_err();
        assert!(err.to_string().contains("\"../../x\""), "{err}");
        assert!(!dir.path().join("x").exists());
    }

    fn paths_in(dir: &Path) -> Paths {
        Paths {
            config: dir.join("c"),
            data: dir.join("d"),
            state: dir.join("s"),
            data_home: dir.join("dh"),
            bin: dir.join("b"),
            home: dir.to_path_buf(),
        }
    }

    #[test]
    fn ensure_lib_writes_once_and_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(dir.path());
        // An older tent's (FNV) label: this build's scripts under that name.
        let lib = ensure_lib(&paths, "00000000000000ab").unwrap();
        assert_eq!(fs::read_to_string(lib.join("tent-init")).unwrap(), INIT_SCRIPT);
        let mode = fs::metadata(lib.join("tent-exec")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(ensure_lib(&paths, "00000000000000ab").unwrap(), lib);
    }

    #[test]
    fn a_changed_or_linked_lib_is_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(dir.path());
        let hash = lib_hash();
        let lib = ensure_lib(&paths, &hash).unwrap();
        assert!(lib_is_intact(&lib, &hash));
        // A planted init, or tent-host: caught and replaced.
        for name in ["tent-init", "tent-host"] {
            fs::write(lib.join(name), "#!/bin/sh\ntouch /planted\n").unwrap();
            assert!(!lib_is_intact(&lib, &hash), "{name}");
            ensure_lib(&paths, &hash).unwrap();
            assert_eq!(fs::read(lib.join(name)).unwrap(), LIB_FILES.iter().find(|f| f.0 == name).unwrap().1.as_bytes());
        }
        // A missing script.
        fs::remove_file(lib.join("tent-host")).unwrap();
        assert!(!lib_is_intact(&lib, &hash));
        ensure_lib(&paths, &hash).unwrap();
        assert!(lib_is_intact(&lib, &hash));
        // A link to a file with the right content is not taken either.
        let elsewhere = dir.path().join("exec");
        fs::write(&elsewhere, EXEC_SCRIPT).unwrap();
        fs::remove_file(lib.join("tent-exec")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, lib.join("tent-exec")).unwrap();
        assert!(!lib_is_intact(&lib, &hash));
        ensure_lib(&paths, &hash).unwrap();
        assert!(!fs::symlink_metadata(lib.join("tent-exec")).unwrap().file_type().is_symlink());
        // The whole directory replaced by a link, even to a perfect copy:
        // not taken, replaced by a real one, the copy left alone.
        let other = dir.path().join("other");
        fs::create_dir_all(&other).unwrap();
        for (name, text) in LIB_FILES {
            fs::write(other.join(name), text).unwrap();
        }
        assert!(lib_is_intact(&other, &hash));
        fs::remove_dir_all(&lib).unwrap();
        std::os::unix::fs::symlink(&other, &lib).unwrap();
        assert!(!lib_is_intact(&lib, &hash), "a linked lib directory");
        ensure_lib(&paths, &hash).unwrap();
        assert!(fs::symlink_metadata(&lib).unwrap().is_dir());
        assert!(lib_is_intact(&other, &hash), "the link's target is not touched");
    }
}
