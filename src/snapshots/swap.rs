//! The swap that puts a box on a snapshot (rollback, upgrade's undo), its
//! journal, and the recovery of a swap a killed tent left half-way.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Snapshots;
use super::unique_suffix;
use crate::boxes::snapshot::{IN_USE_PREFIX, Snapshot, SnapshotKind};
use crate::boxes::{BoxSpec, labels};
use crate::engine::argv;
use crate::error::{Error, Result};

/// The system a swap puts a box on.
#[derive(Debug, Clone, Copy)]
struct Target<'a> {
    image: &'a str,
    /// Its id, when the caller knows it (a snapshot's); else asked for.
    image_id: Option<&'a str>,
    /// When the box's own container committed it (a snapshot's time label,
    /// unix seconds): the login PATH cached before then stays.
    committed_at: Option<i64>,
}

/// What a finished swap did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Swapped {
    pub old_id: String,
    pub new_id: String,
    /// The name the old container was kept under (`tent adopt --keep-old`).
    pub kept: Option<String>,
}

/// What a swap left behind, so the next tent command can finish or undo it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Journal {
    #[serde(rename = "box")]
    pub box_name: String,
    /// The container the box was before the swap.
    pub old_id: String,
    /// The temporary names of the new container and of the old one.
    pub new_name: String,
    pub old_name: String,
    pub image: String,
    /// Recovery already told the user, and keeps the journal a while for
    /// engine calls still landing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reported: bool,
}

/// The most a journal file may hold: it is a few hundred bytes, and anything
/// (every box) can write into the state directory.
pub(super) const JOURNAL_LIMIT: u64 = 16 * 1024;

/// The temporary container names of a swap of box `name`.
pub(super) fn swap_names(name: &str, suffix: &str) -> (String, String) {
    (format!("{name}-tent-new-{suffix}"), format!("{name}-tent-old-{suffix}"))
}

/// The file name of a swap's journal.
pub(super) fn journal_file_name(name: &str, suffix: &str) -> String {
    format!("{name}.{suffix}.json")
}

/// A swap's suffix as [`unique_suffix`] makes it: 1 to 6 lowercase hex digits.
fn is_swap_suffix(s: &str) -> bool {
    (1..=6).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A full container id as both engines print it: 64 lowercase hex digits.
fn is_container_id(s: &str) -> bool {
    crate::text::is_sha256_hex(s)
}

/// Reads a journal file's bytes, named `file_name`, as tent wrote it, or
/// says why it is not one: the journal folder is writable by every box, so
/// a journal is a stranger's input until each name in it has the exact shape
/// tent gives it: the box's name is a box name, the temporary names are
/// `BOX-tent-new-SUFFIX` and `BOX-tent-old-SUFFIX`, the file is
/// `BOX.SUFFIX.json`, the old id is a full container id. (Whether the
/// engine's containers of those names are the user's is checked against the
/// engine, in recovery.)
pub(super) fn parse_journal(file_name: &str, bytes: &[u8]) -> std::result::Result<Journal, String> {
    if bytes.len() as u64 > JOURNAL_LIMIT {
        return Err(format!("it is larger than {JOURNAL_LIMIT} bytes"));
    }
    let j: Journal = serde_json::from_slice(bytes).map_err(|e| format!("it is not a journal: {e}"))?;
    crate::boxes::validate_name(&j.box_name).map_err(|e| format!("its box name is not one: {e}"))?;
    let b = &j.box_name;
    let suffix = j
        .new_name
        .strip_prefix(&format!("{b}-tent-new-"))
        .filter(|s| is_swap_suffix(s))
        .ok_or_else(|| format!("its new container {:?} is not named {b}-tent-new-SUFFIX", j.new_name))?;
    let (_, old_name) = swap_names(b, suffix);
    if j.old_name != old_name {
        return Err(format!("its old container {:?} is not {old_name:?}", j.old_name));
    }
    let expected = journal_file_name(b, suffix);
    if file_name != expected {
        return Err(format!("a journal of box {b:?} is named {expected:?}"));
    }
    if !is_container_id(&j.old_id) {
        return Err(format!("its old container id {:?} is not a full container id", j.old_id));
    }
    crate::boxes::spec::validate_image(&j.image).map_err(|e| format!("its image is not one: {e}"))?;
    Ok(j)
}

/// Why a container a journal names may not be touched by its recovery, or
/// None when it is one tent made for box `box_name` of this user: it carries
/// tent's label, the user's uid (a rootless store is the user's own, so
/// there a box made before the uid label counts too), and the box's name in
/// its environment (`TENT_BOX`), which a box merely named like a swap's
/// temporary container does not have.
pub(super) fn not_a_swap_container(
    container: &crate::engine::json::Container,
    tent_box: Option<&str>,
    box_name: &str,
    my_uid: u32,
    private_store: bool,
) -> Option<String> {
    let what = format!("container {:?}", container.name.trim_start_matches('/'));
    if container.label(labels::FORMAT).is_none() {
        return Some(format!("{what} is not a tent box"));
    }
    match container.label(labels::UID) {
        Some(uid) if uid == my_uid.to_string() => {}
        None if private_store => {}
        Some(uid) => return Some(format!("{what} belongs to uid {uid}, not to you (uid {my_uid})")),
        None => return Some(format!("{what} carries no owner label")),
    }
    if tent_box != Some(box_name) {
        return Some(format!("{what} was not made for box {box_name:?}"));
    }
    None
}

/// What the engine has under a name a journal gives.
#[derive(Debug)]
enum Seen {
    /// No container of that name.
    Missing,
    /// One of the user's boxes, made for the journal's box.
    Ours(Box<crate::engine::json::Container>),
    /// The engine could not say (podman's inspect fails on a container whose
    /// removal was killed half-way; `rm --force` still clears it).
    Unknown,
    /// Something recovery must never touch, and why.
    Foreign(String),
}

impl Seen {
    fn there(&self) -> bool {
        !matches!(self, Seen::Missing)
    }
}

/// The `TENT_BOX` value in a container's `inspect` JSON (`Config.Env`).
fn tent_box_env(inspect_json: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(inspect_json).ok()?;
    let env = value.get(0)?.get("Config")?.get("Env")?.as_array()?;
    env.iter().filter_map(|v| v.as_str()).find_map(|e| e.strip_prefix("TENT_BOX=")).map(str::to_string)
}

/// What recovery did with a journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Recovery {
    /// The box is on the snapshot: the swap was finished. (box, old container id)
    Finished(String, String),
    /// The box is as it was before: the swap was undone.
    Undone(String),
}

/// Which way to take a half-done swap, from which containers exist:
/// `at_name_is_old` is None when no container has the box's name.
pub(super) fn recovery_step(at_name_is_old: Option<bool>, new_exists: bool, old_exists: bool) -> RecoveryStep {
    match at_name_is_old {
        Some(true) => RecoveryStep::DropNew,
        Some(false) => RecoveryStep::DropOld,
        None if new_exists => RecoveryStep::RenameNewThenDropOld,
        None if old_exists => RecoveryStep::RenameOldBack,
        None => RecoveryStep::Nothing,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RecoveryStep {
    /// The old box still has the name: remove the unfinished new one.
    DropNew,
    /// The new box has the name: remove the old one.
    DropOld,
    /// Nobody has the name, the new one is made: put it in place.
    RenameNewThenDropOld,
    /// Nobody has the name and there is no new one: put the old one back.
    RenameOldBack,
    Nothing,
}

impl Snapshots<'_> {
    fn journal_path(&self, name: &str, suffix: &str) -> PathBuf {
        self.boxes.scope_dir().join("journal").join(journal_file_name(name, suffix))
    }

    /// Puts box `name` on `snapshot`'s system: same name, spec, home,
    /// volumes, state and exports; a new container. Returns (old id, new id).
    pub(crate) fn rollback(&self, name: &str, snapshot: &Snapshot) -> Result<(String, String)> {
        let lock = self.boxes.box_lock(name)?;
        let old = self.boxes.get(name)?;
        self.rollback_locked(name, &old, snapshot, &lock)
    }

    /// `rollback` of box `name`, which is container `old` as the caller
    /// fetched it under `lock`, the box's lock it holds.
    pub(crate) fn rollback_locked(
        &self,
        name: &str,
        old: &crate::engine::json::Container,
        snapshot: &Snapshot,
        lock: &crate::files::Lock,
    ) -> Result<(String, String)> {
        let spec = BoxSpec::from_label(old.label(labels::SPEC)).ok_or_else(|| Error::Usage {
            message: format!("box {name:?} has no readable spec label, so tent cannot make it again"),
            hint: Some("make a new box from the snapshot image instead".into()),
        })?;
        // Only what this box's own container committed is of its line of
        // systems (`BoxState::reset_for_new_system`); a clone's, a loaded
        // file's or an adopted container's system is another's.
        let own = matches!(snapshot.kind, SnapshotKind::User | SnapshotKind::Upgrade | SnapshotKind::Rescue);
        let target =
            Target { image: &snapshot.image, image_id: Some(&snapshot.id), committed_at: own.then_some(snapshot.time) };
        let swapped = self.swap(name, old, &spec, target, old.running(), None, lock)?;
        Ok((swapped.old_id, swapped.new_id))
    }

    /// Makes container `old` (a Distrobox or Toolbx container the caller
    /// checked, named `name`) the tent box `name` with `spec`, on `image`
    /// (its committed system), through the same journaled swap as rollback.
    /// The new box is started and ready before the old container goes; with
    /// `keep_old`, the old container is renamed to that name instead of removed.
    pub(crate) fn adopt(
        &self,
        name: &str,
        old: &crate::engine::json::Container,
        spec: &BoxSpec,
        image: &str,
        keep_old: Option<&str>,
    ) -> Result<Swapped> {
        crate::boxes::validate_name(name)?;
        let lock = self.boxes.box_lock(name)?;
        self.swap(name, old, spec, Target { image, image_id: None, committed_at: None }, true, keep_old, &lock)
    }

    /// The swap behind rollback and adopt: box `name`, now container `old`,
    /// becomes a new container of `spec` on `image`; started when `start`.
    /// `lock` is the box's, held by the caller.
    #[allow(clippy::too_many_arguments)]
    fn swap(
        &self,
        name: &str,
        old: &crate::engine::json::Container,
        spec: &BoxSpec,
        target: Target<'_>,
        start: bool,
        keep_old: Option<&str>,
        lock: &crate::files::Lock,
    ) -> Result<Swapped> {
        let image = target.image;
        let foreign = old.label(labels::FORMAT).is_none();
        let suffix = unique_suffix();
        let (new_name, old_name) = swap_names(name, &suffix);
        let journal = Journal {
            box_name: name.into(),
            old_id: old.id.clone(),
            new_name,
            old_name,
            image: image.into(),
            reported: false,
        };
        let journal_path = self.journal_path(name, &suffix);
        let text = serde_json::to_string_pretty(&journal).expect("a journal serializes");
        crate::files::write_atomic(&journal_path, text.as_bytes(), 0o600)?;
        crate::interrupt::catch();

        // 1. The new container, under a temporary name, while the old box
        // stops (both at once: issue 24). A kill now leaves the old box
        // under its name, and recovery drops the new one.
        let gone = |err: Error| {
            let _ = self.boxes.engine.output(&argv::rm_force(&journal.new_name));
            let _ = fs::remove_file(&journal_path);
            Err(err)
        };
        let creating = match self.create_container(name, &journal.new_name, spec, target) {
            Ok(creating) => creating,
            Err(err) => return gone(err),
        };
        let was_running = old.running();
        let stopped = if was_running && foreign {
            // Not tent's: its init may not end on SIGTERM (Distrobox sleeps).
            self.boxes
                .engine
                .capture(&format!("could not stop container {name:?}"), &["stop", "-t", "3", name])
                .map(drop)
        } else if was_running {
            // `old` was inspected under the box's lock: its init's pid is
            // the engine's, one inspect less.
            let tent_init = BoxSpec::from_label(old.label(labels::SPEC)).is_some_and(|s| !s.init);
            self.boxes.stop_replaced(name, old, tent_init)
        } else {
            Ok(())
        };
        // The old box goes aside while `create` still runs (issue 24: a
        // rename less to wait for). A kill from here on leaves the name
        // free, and recovery puts the new box there when the engine lists
        // it (an engine lists a container only once it is made), else the
        // old one back.
        let aside = stopped.as_ref().ok().map(|()| {
            self.boxes.engine.capture("could not rename the old box aside", &argv::rename(&old.id, &journal.old_name))
        });
        let made = creating.finish(self.boxes.engine);
        let interrupted = crate::interrupt::interrupted();
        if let Err(err) = stopped {
            return gone(err);
        }
        // The old box is put back as it was: under its name, running again.
        let put_back = |renamed: bool| -> Result<()> {
            if renamed {
                self.boxes.engine.capture("could not put the old box back", &argv::rename(&journal.old_name, name))?;
            }
            if was_running && foreign {
                let _ = self.boxes.engine.output(&["start", name]);
            } else if was_running {
                let _ = self.boxes.start(name, None);
            }
            Ok(())
        };
        if let Some(Err(err)) = aside {
            let _ = put_back(false);
            return gone(err);
        }
        let new_id = match made {
            Ok(id) if !interrupted => id,
            failed => {
                let err = failed.err().unwrap_or(Error::Interrupted);
                if let Err(back) = put_back(true) {
                    // The journal stays: the next tent command puts it back.
                    let _ = self.boxes.engine.output(&argv::rm_force(&journal.new_name));
                    self.boxes.progress.detail(&back.to_string());
                    return Err(err);
                }
                return gone(err);
            }
        };
        // When a step below fails, the new box goes (`new_ref`: the name it
        // has by then) and the old one is put back as it was.
        let undo = |new_ref: &str, err: Error| -> Result<Swapped> {
            let _ = self.boxes.engine.output(&argv::rm_force(new_ref));
            match put_back(true) {
                Ok(()) => {
                    let _ = fs::remove_file(&journal_path);
                }
                // The journal stays: the next tent command puts it back.
                Err(back) => self.boxes.progress.detail(&back.to_string()),
            }
            Err(err)
        };
        let remote = crate::boxes::remote::is_remote(self.boxes.engine);
        // 2. The swap: from here on it is finished even on Ctrl-C. The new
        // box gets the box's name before it starts, never while: podman's
        // monitor (conmon) takes the name the container has at its start,
        // and the join path proves a box's init by that name
        // (`join::prove_init_of`); a box started under its temporary name
        // would take the engine's exec until its next start.
        if let Err(err) =
            self.boxes.engine.capture("could not rename the new box", &argv::rename(&journal.new_name, name))
        {
            return undo(&journal.new_name, err);
        }
        // 3. The new box starts before the old one goes: when it cannot,
        // the old one is put back.
        if !remote {
            self.boxes.state(name).reset_for_new_system(target.committed_at);
        }
        // The container tent just made, under the box's name now: what
        // `start` needs of it is known (made, not running, tent's scripts);
        // the engine is asked only when `create` printed no id, or for a
        // remote box (issue 24: every engine call is 0.03-0.2 s).
        let made = match new_id {
            Some(id) if !remote => Ok(Some(just_made(name, id))),
            _ => self.boxes.engine.inspect(name),
        };
        let known = made.as_ref().ok().and_then(Option::as_ref);
        if start && let Err(err) = self.boxes.start(name, known) {
            return undo(name, err);
        }
        let new = made?.map(|c| c.id).unwrap_or_default();
        let kept = match keep_old {
            Some(keep) => {
                let renamed = self.boxes.engine.output(&argv::rename(&old.id, keep)).is_ok_and(|o| o.status.success());
                Some(if renamed { keep.to_string() } else { journal.old_name.clone() })
            }
            None => {
                // The box is on the snapshot: what is left (removing the old
                // container, releasing its image's tags, the journal) is done
                // after tent returns, under the box's lock and journal.
                if self.finish_later(name, old, &journal, &journal_path, lock) {
                    return Ok(Swapped { old_id: old.id.clone(), new_id: new, kept: None });
                }
                let _ = self.boxes.engine.output(&argv::rm_force(&old.id));
                None
            }
        };
        let _ = fs::remove_file(&journal_path);
        self.release_unused(name);
        Ok(Swapped { old_id: old.id.clone(), new_id: new, kept })
    }

    /// The last steps of a finished swap, in a process of their own that
    /// outlives tent (issue 24: 0.1-0.3 s a user no longer waits for): the
    /// old container is removed, its image's in-use tags of this box that no
    /// container uses any more are released, and only when the removal
    /// worked is the journal deleted. That process holds the box's lock
    /// (a duplicate of `lock`), so recovery leaves the journal alone while
    /// it runs; when it is killed, the next tent command finishes the swap
    /// from the journal, as after any kill. False when tent must do them
    /// itself: through sudo (no password can be asked there), or when the
    /// process could not be started.
    fn finish_later(
        &self,
        name: &str,
        old: &crate::engine::json::Container,
        journal: &Journal,
        journal_path: &Path,
        lock: &crate::files::Lock,
    ) -> bool {
        use std::os::fd::AsFd;
        use std::os::unix::process::CommandExt;
        let engine = self.boxes.engine;
        if engine.through_sudo() || !is_container_id(&old.id) {
            return false;
        }
        let prefix = format!("{}:{}", crate::boxes::snapshot::repository(engine.scope(), name), IN_USE_PREFIX);
        let script = finish_script(
            &engine.argv::<&str>(&[]),
            &old.id,
            is_container_id(&old.image_id).then_some(old.image_id.as_str()),
            &prefix,
            journal_path,
        );
        let Ok(held) = rustix::io::dup(lock.as_fd()) else { return false };
        let spawned = std::process::Command::new("/bin/sh")
            .args(["-c", &script])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            // Not in tent's process group: a Ctrl-C or closed terminal after
            // tent returned does not cut it short.
            .process_group(0)
            .spawn();
        drop(held);
        match spawned {
            Ok(_) => {
                self.boxes.progress.detail(&format!(
                    "{}: the old container {} is removed in the background",
                    journal.box_name, journal.old_name
                ));
                true
            }
            Err(_) => false,
        }
    }

    /// Starts making (not starting) a container for box `name` from
    /// `target`'s image, with the box's spec, under `container`: the
    /// engine's `create` runs while tent goes on ([`Creating::finish`]
    /// waits for it).
    fn create_container(&self, name: &str, container: &str, spec: &BoxSpec, target: Target<'_>) -> Result<Creating> {
        let image = target.image;
        let what = format!("could not make box {name:?} from {image}");
        let asked;
        let id = match target.image_id {
            Some(id) => Some(id),
            None => {
                asked = self.boxes.engine.image_id(image)?;
                asked.as_deref()
            }
        };
        let source = crate::runtime::Source { image: Some(image), id };
        if crate::boxes::remote::is_remote(self.boxes.engine) {
            let args = self.boxes.remote_argv(name, container, spec, source)?;
            return Creating::spawn(self.boxes.engine, what, args);
        }
        let host = crate::boxes::HostFacts::read();
        let state = self.boxes.state(name);
        state.create()?;
        // Its home (the warm path reads it here) and hooks: an adopted box has none yet.
        self.boxes.write_box_files(&state, spec, &host)?;
        // The same options as the box was made with: its NVIDIA files and host shims too.
        let nvidia = if spec.nvidia { Some(self.boxes.find_nvidia(name)?) } else { None };
        let args = self.boxes.container_argv(name, container, spec, source, &host, &state.dir, nvidia.as_ref())?;
        self.boxes.progress.detail(&format!("$ {}", crate::shell::words(&self.boxes.engine.argv(&args))));
        Creating::spawn(self.boxes.engine, what, args)
    }

    /// Finishes or undoes swaps a killed tent left (their journals). Quiet
    /// and cheap when there are none: one directory read. A journal is acted
    /// on only when every name in it has tent's shape ([`parse_journal`]) and
    /// every container it names is one tent made for that box of this user
    /// ([`not_a_swap_container`]); any other is left alone, with a warning
    /// naming the file.
    pub(crate) fn recover(&self) -> Vec<Recovery> {
        let dir = self.boxes.scope_dir().join("journal");
        let Ok(entries) = fs::read_dir(&dir) else { return Vec::new() };
        let mut done = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let journal = crate::files::read_bounded(&path, JOURNAL_LIMIT)
                .map_err(|e| e.to_string())
                .and_then(|bytes| bytes.ok_or_else(|| "it is gone".to_string()))
                .and_then(|bytes| parse_journal(&entry.file_name().to_string_lossy(), &bytes));
            let journal = match journal {
                Ok(journal) => journal,
                Err(why) => {
                    self.leave_journal(&path, &why);
                    continue;
                }
            };
            // A swap still running in another tent holds the lock: leave it.
            let Ok(Some(_lock)) =
                crate::files::try_lock(&crate::files::lock_path(&self.boxes.scope_dir(), &journal.box_name))
            else {
                continue;
            };
            if let Some(r) = self.recover_one(&journal, &path) {
                done.push(r);
            }
        }
        done
    }

    /// The warning for a journal recovery does not act on. The path and the
    /// reason may hold what a box wrote: the printer sanitizes them.
    fn leave_journal(&self, path: &Path, why: &str) {
        let shown = path.to_string_lossy();
        self.boxes.progress.warn(&format!(
            "left the rollback journal {shown} alone: {why}. Unless a `tent rollback` or `tent upgrade` \
             still runs, remove it: `rm {}`",
            crate::shell::words(&[shown.as_ref()])
        ));
    }

    /// What the engine has under `name`, checked as a container of box
    /// `j.box_name`'s swap.
    fn seen(&self, name: &str, j: &Journal) -> Seen {
        let args = argv::container_inspect(name);
        let output = match self.boxes.engine.output(&args) {
            Ok(output) => output,
            Err(_) => return Seen::Unknown,
        };
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return if crate::engine::json::is_no_such_container(&stderr) { Seen::Missing } else { Seen::Unknown };
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let Some(container) = crate::engine::json::parse_inspect(&text).ok().and_then(|mut l| l.pop()) else {
            return Seen::Unknown;
        };
        let uid = rustix::process::getuid().as_raw();
        let env = tent_box_env(&text);
        match not_a_swap_container(&container, env.as_deref(), &j.box_name, uid, self.boxes.engine.rootless) {
            Some(why) => Seen::Foreign(why),
            None => Seen::Ours(Box::new(container)),
        }
    }

    fn recover_one(&self, j: &Journal, path: &Path) -> Option<Recovery> {
        // A container whose `rm` was killed half-way stays listed as
        // "Removing", and podman's inspect then fails ("container not known")
        // while `rm --force` still clears it: such a one counts as there.
        let at_name = self.seen(&j.box_name, j);
        let new = self.seen(&j.new_name, j);
        let mut old = self.seen(&j.old_name, j);
        if let Seen::Ours(c) = &old
            && c.id != j.old_id
        {
            old = Seen::Foreign(format!("container {:?} is not the box the journal names", j.old_name));
        }
        for seen in [&at_name, &new, &old] {
            if let Seen::Foreign(why) = seen {
                self.leave_journal(path, why);
                return None;
            }
        }
        if matches!(at_name, Seen::Unknown) {
            return None;
        }
        let at_name = match &at_name {
            Seen::Ours(c) => Some(c.id == j.old_id),
            _ => None,
        };
        let step = recovery_step(at_name, new.there(), old.there());
        // Only a container checked as the swap's own is renamed into the
        // box's name; a rename that fails keeps the journal for the next try.
        let renamed = |from: &str, seen: &Seen| {
            matches!(seen, Seen::Ours(_))
                && self.boxes.engine.output(&argv::rename(from, &j.box_name)).is_ok_and(|o| o.status.success())
        };
        let result = match step {
            RecoveryStep::DropNew => {
                // Even when inspect finds none: a `create` killed half-way
                // can leave a container in podman's storage only ("Storage"
                // in `ps --external`), which inspect does not see, `rm
                // --force` removes, and which would pin the snapshot image.
                let _ = self.boxes.engine.output(&argv::rm_force(&j.new_name));
                if !new.there() && journal_is_young(path) {
                    // A daemon (Docker) may still be making the container a
                    // killed client asked for: look again at the next commands.
                    if j.reported {
                        return None;
                    }
                    let kept = Journal { reported: true, ..j.clone() };
                    let text = serde_json::to_string_pretty(&kept).expect("a journal serializes");
                    let _ = crate::files::write_atomic(path, text.as_bytes(), 0o600);
                    return Some(Recovery::Undone(j.box_name.clone()));
                }
                (!j.reported).then(|| Recovery::Undone(j.box_name.clone()))
            }
            RecoveryStep::DropOld => {
                let _ = self.boxes.engine.output(&argv::rm_force(&j.old_name));
                Some(Recovery::Finished(j.box_name.clone(), j.old_id.clone()))
            }
            RecoveryStep::RenameNewThenDropOld => {
                if !renamed(&j.new_name, &new) {
                    return None;
                }
                let _ = self.boxes.engine.output(&argv::rm_force(&j.old_name));
                Some(Recovery::Finished(j.box_name.clone(), j.old_id.clone()))
            }
            RecoveryStep::RenameOldBack => {
                if !renamed(&j.old_name, &old) {
                    return None;
                }
                // The old box has its name again: from here as when it had
                // kept it, so a new one a daemon still makes, or that a
                // killed `create` left in storage only, goes too.
                return self.recover_one(j, path);
            }
            RecoveryStep::Nothing => None,
        };
        // The state's pid and ready files name one init process: an old one
        // is never taken for the new box's, so they need no reset here.
        let _ = fs::remove_file(path);
        self.release_unused(&j.box_name);
        result
    }
}

/// An engine's `create` running in the background.
struct Creating {
    child: std::process::Child,
    what: String,
    args: Vec<String>,
}

impl Creating {
    fn spawn(engine: &crate::engine::Engine, what: String, args: Vec<String>) -> Result<Creating> {
        let child = engine.spawn_piped(&args)?;
        Ok(Creating { child, what, args })
    }

    /// Waits for the `create`: the new container's id when the engine
    /// printed one, or the engine's failure.
    fn finish(self, engine: &crate::engine::Engine) -> Result<Option<String>> {
        let output = self.child.wait_with_output().map_err(|e| Error::spawn(&engine.path, &e))?;
        if !output.status.success() {
            return Err(Error::Engine { what: self.what, failure: engine.failure(&self.args, &output) });
        }
        Ok(printed_id(&String::from_utf8_lossy(&output.stdout)))
    }
}

/// The id `create` printed: its last line, when that is a full id.
fn printed_id(stdout: &str) -> Option<String> {
    let last = stdout.lines().map(str::trim).rfind(|l| !l.is_empty())?;
    is_container_id(last).then(|| last.to_string())
}

/// The container a swap has just made for box `name` under its name, as
/// `start` needs it: made, not running, on tent's current scripts.
fn just_made(name: &str, id: String) -> crate::engine::json::Container {
    crate::engine::json::Container {
        id,
        name: name.into(),
        state: "created".into(),
        labels: [(labels::LIB.to_string(), crate::boxes::scripts::lib_hash())].into(),
        ..Default::default()
    }
}

/// The sh script that finishes a swap after tent returns ([`Snapshots::finish_later`]):
/// `engine` is the engine's argv up to its arguments; the old container
/// `old_id` is removed (or the script stops there, journal kept); the tags
/// of image `image_id` that start with `in_use_prefix` (with or without its
/// `localhost/`, as an engine may print it) are removed, not
/// forced (an image a container uses keeps them); then the journal. Every
/// word is quoted; names follow `--`.
fn finish_script(
    engine: &[String],
    old_id: &str,
    image_id: Option<&str>,
    in_use_prefix: &str,
    journal: &Path,
) -> String {
    use crate::shell::words;
    let with = |args: &[&str]| {
        let mut argv = engine.to_vec();
        argv.extend(args.iter().map(|a| a.to_string()));
        words(&argv)
    };
    let mut script = format!("{} >/dev/null 2>&1 || exit 1\n", with(&["rm", "--force", "--", old_id]));
    if let Some(image) = image_id {
        script.push_str(&format!(
            "{} 2>/dev/null | while IFS= read -r t; do\n  case $t in {}*|{}*) {} \"$t\" >/dev/null 2>&1 ;; esac\ndone\n",
            with(&["image", "inspect", "--format", "{{range .RepoTags}}{{println .}}{{end}}", "--", image]),
            words(&[in_use_prefix]),
            words(&[in_use_prefix.strip_prefix("localhost/").unwrap_or(in_use_prefix)]),
            with(&["rmi", "--"]),
        ));
    }
    script.push_str(&format!("rm -f -- {}\n", words(&[journal.to_string_lossy()])));
    script
}

/// A journal written in the last minute: its swap's engine calls may still be landing.
fn journal_is_young(path: &Path) -> bool {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age < std::time::Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boxes::snapshot::repository;

    #[test]
    fn recovery_keeps_a_box_under_the_name() {
        use RecoveryStep::*;
        assert_eq!(recovery_step(Some(true), true, false), DropNew, "killed before the swap: undo");
        assert_eq!(recovery_step(Some(false), false, true), DropOld, "killed after the swap: finish");
        assert_eq!(recovery_step(None, true, true), RenameNewThenDropOld, "killed between the renames");
        assert_eq!(recovery_step(None, false, true), RenameOldBack);
        assert_eq!(recovery_step(None, false, false), Nothing);
    }

    fn journal(name: &str, suffix: &str) -> Journal {
        let (new_name, old_name) = swap_names(name, suffix);
        Journal {
            box_name: name.into(),
            old_id: "ab".repeat(32),
            new_name,
            old_name,
            image: format!("{}:s1", repository(crate::engine::Scope::Podman, name)),
            reported: false,
        }
    }

    fn parse(j: &Journal, file: &str) -> std::result::Result<Journal, String> {
        parse_journal(file, serde_json::to_string_pretty(j).unwrap().as_bytes())
    }

    #[test]
    fn journals_tent_wrote_are_read() {
        let j = journal("dev", "1a2b3c");
        assert_eq!(parse(&j, "dev.1a2b3c.json").unwrap(), j);
        let reported = Journal { reported: true, ..journal("My_Box.2", "0") };
        assert_eq!(parse(&reported, "My_Box.2.0.json").unwrap(), reported);
        // What rollback writes is what recovery reads.
        let suffix = unique_suffix();
        let (new_name, old_name) = swap_names("dev", &suffix);
        let written = Journal { new_name, old_name, ..journal("dev", "1") };
        assert_eq!(parse(&written, &journal_file_name("dev", &suffix)).unwrap(), written);
    }

    /// Finding 2 of issue 19: journals a box wrote name engine options,
    /// containers tent never made, or paths; none is acted on.
    #[test]
    fn hostile_journals_are_refused_with_the_reason() {
        let good = journal("dev", "abc");
        let cases: Vec<(Journal, &str, &str)> = vec![
            (Journal { old_name: "--filter=name=x".into(), ..good.clone() }, "dev.abc.json", "old container"),
            (Journal { new_name: "--all".into(), ..good.clone() }, "dev.abc.json", "new container"),
            (Journal { old_name: "victim".into(), ..good.clone() }, "dev.abc.json", "old container"),
            (Journal { old_name: "dev-tent-old-abd".into(), ..good.clone() }, "dev.abc.json", "old container"),
            (Journal { new_name: "dev-tent-new-ABC".into(), ..good.clone() }, "dev.abc.json", "new container"),
            (Journal { new_name: "dev-tent-new-1234567".into(), ..good.clone() }, "dev.abc.json", "new container"),
            (Journal { new_name: "dev-tent-new-".into(), ..good.clone() }, "dev.abc.json", "new container"),
            (Journal { box_name: "--all".into(), ..good.clone() }, "dev.abc.json", "box name"),
            (Journal { box_name: "../../x".into(), ..good.clone() }, "dev.abc.json", "box name"),
            (Journal { old_id: "--force".into(), ..good.clone() }, "dev.abc.json", "container id"),
            (Journal { old_id: "AB".repeat(32), ..good.clone() }, "dev.abc.json", "container id"),
            (Journal { image: "-af".into(), ..good.clone() }, "dev.abc.json", "image"),
            (good.clone(), "other.abc.json", "named \"dev.abc.json\""),
            (good.clone(), "dev.abd.json", "named"),
        ];
        for (j, file, why) in cases {
            let err = parse(&j, file).expect_err(&format!("{j:?} in {file} was accepted"));
            assert!(err.contains(why), "{j:?}: {err}");
        }
        assert!(parse_journal("dev.abc.json", b"{").unwrap_err().contains("not a journal"));
        let big = vec![b' '; JOURNAL_LIMIT as usize + 1];
        assert!(parse_journal("dev.abc.json", &big).unwrap_err().contains("larger"));
    }

    fn container(labels: &[(&str, &str)]) -> crate::engine::json::Container {
        crate::engine::json::Container {
            name: "dev-tent-old-abc".into(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn only_the_users_own_swap_containers_are_touched() {
        let ours = container(&[(labels::FORMAT, "1"), (labels::UID, "1000")]);
        assert_eq!(not_a_swap_container(&ours, Some("dev"), "dev", 1000, false), None);
        let why = |c: &crate::engine::json::Container, env: Option<&str>, private: bool| {
            not_a_swap_container(c, env, "dev", 1000, private).unwrap_or_default()
        };
        assert!(why(&container(&[]), Some("dev"), true).contains("not a tent box"));
        assert!(
            why(&container(&[(labels::FORMAT, "1"), (labels::UID, "1001")]), Some("dev"), true)
                .contains("belongs to uid 1001")
        );
        let unlabelled = container(&[(labels::FORMAT, "1")]);
        assert!(why(&unlabelled, Some("dev"), false).contains("no owner label"), "a shared store needs the label");
        assert_eq!(not_a_swap_container(&unlabelled, Some("dev"), "dev", 1000, true), None, "a private store");
        // A box of the user merely named like a swap's container.
        assert!(why(&ours, Some("dev-tent-old-abc"), false).contains("not made for box \"dev\""));
        assert!(why(&ours, None, false).contains("not made for box"));
    }

    #[test]
    fn the_box_a_container_was_made_for_is_read_from_its_environment() {
        let text = r#"[{"Id":"x","Config":{"Env":["PATH=/bin","TENT_BOX=dev","X=TENT_BOX=no"]}}]"#;
        assert_eq!(tent_box_env(text).as_deref(), Some("dev"));
        assert_eq!(tent_box_env(r#"[{"Config":{"Env":null}}]"#), None);
        assert_eq!(tent_box_env("[]"), None);
        assert_eq!(tent_box_env("nope"), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Any bytes: no panic, and what is accepted has tent's shape.
        #[test]
        fn journal_parser_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
                                       file in "[ -~]{0,40}") {
            if let Ok(j) = parse_journal(&file, &bytes) {
                proptest::prop_assert!(crate::boxes::validate_name(&j.box_name).is_ok());
                let prefix = format!("{}-tent-new-", j.box_name);
                proptest::prop_assert!(j.new_name.starts_with(&prefix), "{:?}", j);
                proptest::prop_assert!(!j.old_name.starts_with('-') && !j.new_name.starts_with('-'));
            }
        }

        /// JSON-shaped input with hostile strings in every field.
        #[test]
        fn journal_fields_are_checked(name in "[-a-zA-Z0-9_.]{0,70}", new_name in "[-a-z0-9]{0,30}",
                                      old_name in "[-=a-z0-9]{0,30}", id in "[0-9a-fA-F-]{0,70}") {
            let j = Journal { box_name: name, old_id: id, new_name, old_name, image: "i".into(), reported: false };
            let text = serde_json::to_string(&j).unwrap();
            if let Ok(read) = parse_journal(&format!("{}.x.json", j.box_name), text.as_bytes()) {
                let suffix = read.new_name.rsplit('-').next().unwrap().to_string();
                proptest::prop_assert_eq!(&read.old_name, &swap_names(&read.box_name, &suffix).1);
                proptest::prop_assert_eq!(read, j);
            }
        }

        /// What tent writes is read back as it was (round trip).
        #[test]
        fn written_journals_round_trip(name in "[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}", n in 0u32..0xff_ffff,
                                       id in "[0-9a-f]{64}", reported in proptest::prelude::any::<bool>()) {
            let suffix = format!("{n:x}");
            let (new_name, old_name) = swap_names(&name, &suffix);
            let image = format!("{}:tent-in-use-{suffix}", repository(crate::engine::Scope::Docker, &name));
            let j = Journal { box_name: name.clone(), old_id: id, new_name, old_name, image, reported };
            let text = serde_json::to_string_pretty(&j).unwrap();
            proptest::prop_assert_eq!(parse_journal(&journal_file_name(&name, &suffix), text.as_bytes()), Ok(j));
        }
    }

    #[test]
    fn create_prints_the_new_id_last() {
        let id = "ab".repeat(32);
        assert_eq!(printed_id(&format!("{id}\n")), Some(id.clone()));
        assert_eq!(printed_id(&format!("Resolving...\n{id}\n\n")), Some(id.clone()));
        assert_eq!(printed_id("abc\n"), None, "a short id is not taken");
        assert_eq!(printed_id(""), None);
        assert_eq!(printed_id(&format!("{id} extra")), None);
        let made = just_made("dev", id.clone());
        assert!(!made.running());
        assert_eq!(made.id, id);
        assert_eq!(made.label(labels::LIB), Some(crate::boxes::scripts::lib_hash().as_str()));
    }

    /// Runs the script that finishes a swap after tent returns against a
    /// fake engine that logs its argv and fails `rm` when told to.
    fn finish_with(rm_fails: bool, tags: &str) -> (String, bool) {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let engine = dir.path().join("engine");
        let script = format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\ncase $3 in rm) exit {} ;; image) printf '%s' '{tags}' ;; esac\n",
            log.display(),
            u8::from(rm_fails)
        );
        crate::test_support::write_script(&engine, &script);
        let journal = dir.path().join("dev.1a.json");
        fs::write(&journal, "{}").unwrap();
        let old = "c".repeat(64);
        let image = "d".repeat(64);
        let text = finish_script(
            &[engine.display().to_string(), "--url".into(), "x y".into()],
            &old,
            Some(&image),
            "localhost/tent-snapshot/podman/dev:tent-in-use-",
            &journal,
        );
        let status = std::process::Command::new("/bin/sh").args(["-c", &text]).status().unwrap();
        assert!(status.success() || rm_fails);
        (fs::read_to_string(&log).unwrap_or_default(), journal.exists())
    }

    #[test]
    fn a_swap_is_finished_after_tent_returns_and_its_journal_goes_last() {
        let old = "c".repeat(64);
        let image = "d".repeat(64);
        let tags = "localhost/tent-snapshot/podman/dev:tent-in-use-ab12\nlocalhost/tent-snapshot/podman/dev:base\n\
                    localhost/tent-snapshot/podman/other:tent-in-use-1\n-f\ntent-snapshot/podman/dev:tent-in-use-cd\n";
        let (log, journal_left) = finish_with(false, tags);
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines[0], format!("--url x y rm --force -- {old}"), "{log}");
        assert!(lines[1].starts_with("--url x y image inspect --format") && lines[1].ends_with(&format!("-- {image}")));
        // Only this box's in-use tags, after `--`, never forced.
        assert_eq!(lines[2], "--url x y rmi -- localhost/tent-snapshot/podman/dev:tent-in-use-ab12", "{log}");
        assert_eq!(lines[3], "--url x y rmi -- tent-snapshot/podman/dev:tent-in-use-cd", "{log}");
        assert_eq!(lines.len(), 4, "{log}");
        assert!(!journal_left, "the journal goes once the old container is removed");

        // The removal failed: nothing more, and the journal stays for recovery.
        let (log, journal_left) = finish_with(true, tags);
        assert_eq!(log.lines().count(), 1, "{log}");
        assert!(journal_left);
    }

    #[test]
    fn journal_round_trip() {
        let j = Journal {
            box_name: "dev".into(),
            old_id: "abc".into(),
            new_name: "dev-tent-new-1".into(),
            old_name: "dev-tent-old-1".into(),
            image: "i".into(),
            reported: false,
        };
        let text = serde_json::to_string(&j).unwrap();
        assert!(text.contains(r#""box":"dev""#));
        assert_eq!(serde_json::from_str::<Journal>(&text).unwrap(), j);
    }
}
