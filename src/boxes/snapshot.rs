//! Snapshots of a box's system: image commits in the engine's own store,
//! tagged `localhost/tent-snapshot/<scope>/<box>:<name>` and labelled, and
//! the swap that puts a box on a snapshot (rollback, upgrade's undo).
//!
//! A box's system is its container's own filesystem: home, volumes and other
//! host mounts are never in a commit and never touched.
//!
//! The swap keeps the box's name usable at every moment a kill can land:
//! the new container is made under a temporary name while the old one works;
//! the old one is stopped and renamed aside, the new one renamed into place,
//! started, and only then is the old one removed. A journal file written
//! before the first step lets the next tent command finish or undo a swap
//! that was killed half-way ([`Boxes::recover`]).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::lifecycle::Boxes;
use super::{BoxSpec, labels};
use crate::engine::argv;
use crate::engine::json::Image;
use crate::error::{Error, Result};

/// Labels on snapshot images (the container's own labels, `tent.spec`
/// among them, come along with the commit).
pub mod snap_labels {
    pub const BOX: &str = "tent.snapshot.box";
    pub const NAME: &str = "tent.snapshot.name";
    /// Unix seconds.
    pub const TIME: &str = "tent.snapshot.time";
    /// `user`, `upgrade`, `clone` or `save`.
    pub const KIND: &str = "tent.snapshot.kind";
}

/// Tags tent uses for its own bookkeeping start with this; snapshot names may not.
pub const RESERVED_PREFIX: &str = "tent-";
/// The tag that keeps an image a box still runs on after its snapshot was deleted.
const IN_USE_PREFIX: &str = "tent-in-use-";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotKind {
    User,
    Upgrade,
    Clone,
    Save,
}

impl SnapshotKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotKind::User => "user",
            SnapshotKind::Upgrade => "upgrade",
            SnapshotKind::Clone => "clone",
            SnapshotKind::Save => "save",
        }
    }

    fn parse(value: &str) -> Self {
        match value {
            "upgrade" => SnapshotKind::Upgrade,
            "clone" => SnapshotKind::Clone,
            "save" => SnapshotKind::Save,
            _ => SnapshotKind::User,
        }
    }
}

/// One snapshot, as `tent snapshot BOX --list --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub name: String,
    /// Unix seconds.
    pub time: i64,
    /// RFC 3339, UTC.
    pub created: String,
    /// What made it: `user` (tent snapshot) or `upgrade` (tent upgrade).
    pub kind: SnapshotKind,
    /// Bytes of the image, with the layers it shares with its base image.
    pub size: u64,
    /// The image reference in the engine's store.
    pub image: String,
    #[serde(skip)]
    pub id: String,
}

/// The image repository of a box's snapshots.
pub fn repository(scope: &str, box_name: &str) -> String {
    format!("localhost/tent-snapshot/{scope}/{}", repo_component(box_name))
}

/// A box name as an image path component: itself when the engines accept
/// it (lowercase, single separators), else `x-` and its bytes in hex, so
/// `Dev` and `dev` never share a repository.
pub fn repo_component(name: &str) -> String {
    if is_repo_component(name) {
        return name.to_string();
    }
    let hex: String = name.bytes().map(|b| format!("{b:02x}")).collect();
    format!("x-{hex}")
}

/// Docker's grammar: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn is_repo_component(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.is_empty() || !is_alnum_lower(bytes[0]) || !is_alnum_lower(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if is_alnum_lower(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !is_alnum_lower(bytes[i]) {
            i += 1;
        }
        let run = &s[start..i];
        let ok = run == "." || run == "_" || run == "__" || run.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum_lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// A snapshot name is an image tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`, and
/// not one of tent's own (`tent-…`).
pub fn validate_snapshot_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > 128 {
        Some("it is longer than 128 characters")
    } else if !(name.as_bytes()[0].is_ascii_alphanumeric() || name.starts_with('_')) {
        Some("it must start with a letter, a digit or '_'")
    } else if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-') {
        Some("it may only contain letters, digits, '_', '.' and '-'")
    } else if name.starts_with(RESERVED_PREFIX) {
        Some("names starting with \"tent-\" are tent's own")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::usage(
            format!("invalid snapshot name {name:?}: {reason}"),
            Some("leave the name out for one from the time, like 20261201-231700".to_string()),
        )),
        None => Ok(()),
    }
}

/// The name a snapshot gets when none is given: its time, `YYYYMMDD-HHMMSS`,
/// with `upgrade-` in front for the ones `tent upgrade` takes.
pub fn default_name(kind: SnapshotKind, secs: i64) -> String {
    let stamp = crate::engine::json::rfc3339_from_unix(secs);
    let compact: String = stamp[..19].chars().filter(|c| c.is_ascii_digit() || *c == 'T').collect();
    let compact = compact.replace('T', "-");
    match kind {
        SnapshotKind::Upgrade => format!("upgrade-{compact}"),
        _ => compact,
    }
}

/// The snapshots to drop so at most `keep` are left: the oldest first.
pub fn to_drop(snapshots: &[Snapshot], keep: usize) -> Vec<Snapshot> {
    let mut sorted = snapshots.to_vec();
    sorted.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.name.cmp(&b.name)));
    let excess = sorted.len().saturating_sub(keep.max(1));
    sorted.into_iter().take(excess).collect()
}

/// The snapshots of `box_name` among `images` (newest last).
pub fn snapshots_of(images: &[Image], scope: &str, box_name: &str) -> Vec<Snapshot> {
    let prefix = format!("{}:", repository(scope, box_name));
    let mut out = Vec::new();
    for image in images {
        for tag in &image.tags {
            let Some(name) = tag.strip_prefix(&prefix) else { continue };
            if name.starts_with(RESERVED_PREFIX) {
                continue;
            }
            let time = image.label(snap_labels::TIME).and_then(|t| t.parse().ok()).unwrap_or(0);
            out.push(Snapshot {
                name: name.to_string(),
                time,
                created: crate::engine::json::rfc3339_from_unix(time),
                kind: SnapshotKind::parse(image.label(snap_labels::KIND).unwrap_or("user")),
                size: image.size,
                image: tag.clone(),
                id: image.id.clone(),
            });
        }
    }
    out.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.name.cmp(&b.name)));
    out
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// A short suffix for temporary names, unique enough per host and moment.
pub fn unique_suffix() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{:x}", (u64::from(std::process::id()) << 32 | u64::from(nanos)) % 0xff_ffff)
}

fn in_use_error(stderr: &str) -> bool {
    let lower = stderr.to_ascii_lowercase();
    lower.contains("in use") || lower.contains("is using") || lower.contains("being used")
}

/// What a swap left behind, so the next tent command can finish or undo it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
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

/// What recovery did with a journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// The box is on the snapshot: the swap was finished. (box, old container id)
    Finished(String, String),
    /// The box is as it was before: the swap was undone.
    Undone(String),
}

/// Which way to take a half-done swap, from which containers exist:
/// `at_name_is_old` is None when no container has the box's name.
pub fn recovery_step(at_name_is_old: Option<bool>, new_exists: bool, old_exists: bool) -> RecoveryStep {
    match at_name_is_old {
        Some(true) => RecoveryStep::DropNew,
        Some(false) => RecoveryStep::DropOld,
        None if new_exists => RecoveryStep::RenameNewThenDropOld,
        None if old_exists => RecoveryStep::RenameOldBack,
        None => RecoveryStep::Nothing,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryStep {
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

impl Boxes<'_> {
    fn scope_dir(&self) -> PathBuf {
        self.paths.state.join("boxes").join(self.engine.scope().as_str())
    }

    fn journal_path(&self, name: &str, suffix: &str) -> PathBuf {
        self.scope_dir().join("journal").join(format!("{name}.{suffix}.json"))
    }

    fn box_lock(&self, name: &str) -> Result<crate::files::Lock> {
        crate::files::lock(&crate::files::lock_path(&self.scope_dir(), name))
    }

    /// Every image of this scope's snapshot repositories, in one listing.
    pub fn snapshot_images(&self) -> Result<Vec<Image>> {
        self.engine.images_labelled(snap_labels::BOX)
    }

    pub fn snapshots(&self, name: &str) -> Result<Vec<Snapshot>> {
        let images = self.engine.images_labelled(&format!("{}={name}", snap_labels::BOX))?;
        Ok(snapshots_of(&images, self.engine.scope().as_str(), name))
    }

    /// Commits `container` into `image`, paused while the engine copies; a
    /// box that cannot be paused (rootless podman on cgroups v1) is committed
    /// running, which is what the engine does without --pause.
    fn commit(&self, container: &str, image: &str, box_name: &str, name: &str, kind: SnapshotKind) -> Result<()> {
        let labels = vec![
            (snap_labels::BOX.to_string(), box_name.to_string()),
            (snap_labels::NAME.to_string(), name.to_string()),
            (snap_labels::TIME.to_string(), now().to_string()),
            (snap_labels::KIND.to_string(), kind.as_str().to_string()),
        ];
        let args = argv::commit(container, image, &labels, true);
        self.printer.verbose(format!("$ {}", crate::shell::words(&self.engine.argv(&args))));
        let output = self.engine.output(&args)?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr).to_ascii_lowercase();
        if stderr.contains("pause") || stderr.contains("cgroup") || stderr.contains("freez") {
            let args = argv::commit(container, image, &labels, false);
            self.engine.capture(&format!("could not snapshot box {box_name:?}"), &args)?;
            return Ok(());
        }
        Err(Error::Engine {
            what: format!("could not snapshot box {box_name:?}"),
            failure: self.engine.failure(&args, &output),
        })
    }

    /// Takes a snapshot of a box's system; returns it and the old ones
    /// dropped to keep at most `keep`.
    pub fn take_snapshot(
        &self,
        name: &str,
        snapshot: Option<&str>,
        kind: SnapshotKind,
        keep: usize,
    ) -> Result<(Snapshot, Vec<Snapshot>)> {
        let container = self.get(name)?;
        let existing = self.snapshots(name)?;
        let snap_name = match snapshot {
            Some(s) => {
                validate_snapshot_name(s)?;
                if existing.iter().any(|e| e.name == s) {
                    return Err(Error::usage(
                        format!("{name} already has a snapshot named {s:?}"),
                        Some(format!("choose another name, or delete it with `tent snapshot {name} --delete {s}`")),
                    ));
                }
                s.to_string()
            }
            None => {
                let base = default_name(kind, now());
                let mut candidate = base.clone();
                let mut n = 2;
                while existing.iter().any(|e| e.name == candidate) {
                    candidate = format!("{base}-{n}");
                    n += 1;
                }
                candidate
            }
        };
        let image = format!("{}:{snap_name}", repository(self.engine.scope().as_str(), name));
        self.commit(&container.id, &image, name, &snap_name, kind)?;
        let all = self.snapshots(name)?;
        let taken = all.iter().find(|s| s.name == snap_name).cloned().ok_or_else(|| Error::Usage {
            message: format!("the snapshot {image} was made but the engine does not list it"),
            hint: Some(format!("see `{} images`", self.engine.name())),
        })?;
        let mut dropped = Vec::new();
        // The new one is never dropped: it is the newest.
        for old in to_drop(&all, keep) {
            if old.name == taken.name {
                continue;
            }
            self.delete_snapshot_image(&old)?;
            dropped.push(old);
        }
        Ok((taken, dropped))
    }

    pub fn find_snapshot(&self, name: &str, snapshot: Option<&str>) -> Result<Snapshot> {
        let all = self.snapshots(name)?;
        let found = match snapshot {
            Some(s) => all.into_iter().find(|e| e.name == s),
            None => all.into_iter().last(),
        };
        found.ok_or_else(|| {
            Error::usage(
                match snapshot {
                    Some(s) => format!("{name} has no snapshot named {s:?}"),
                    None => format!("{name} has no snapshots"),
                },
                Some(format!("see them with `tent snapshot {name} --list`, take one with `tent snapshot {name}`")),
            )
        })
    }

    pub fn delete_snapshot(&self, name: &str, snapshot: &str) -> Result<Snapshot> {
        let found = self.find_snapshot(name, Some(snapshot))?;
        self.delete_snapshot_image(&found)?;
        Ok(found)
    }

    /// Removes a snapshot's tag. When the box runs on that very image (it was
    /// rolled back to it), the image stays under a tag of tent's own until
    /// the box leaves it.
    fn delete_snapshot_image(&self, snapshot: &Snapshot) -> Result<()> {
        let args = argv::rmi(&snapshot.image);
        let output = self.engine.output(&args)?;
        if output.status.success() {
            return Ok(());
        }
        if in_use_error(&String::from_utf8_lossy(&output.stderr)) {
            let repo = snapshot.image.rsplit_once(':').map_or(snapshot.image.as_str(), |(r, _)| r);
            let keep = format!("{repo}:{IN_USE_PREFIX}{}", &snapshot.id[..snapshot.id.len().min(12)]);
            self.engine.capture("could not tag an image in use", &argv::tag(&snapshot.id, &keep))?;
            self.engine.capture(&format!("could not delete snapshot {}", snapshot.image), &args)?;
            return Ok(());
        }
        Err(Error::Engine {
            what: format!("could not delete snapshot {}", snapshot.image),
            failure: self.engine.failure(&args, &output),
        })
    }

    /// Drops tent's own tags of images no container uses any more.
    pub fn release_unused(&self, name: &str) {
        let Ok(images) = self.engine.images_labelled(&format!("{}={name}", snap_labels::BOX)) else { return };
        let prefix = format!("{}:{IN_USE_PREFIX}", repository(self.engine.scope().as_str(), name));
        for image in images {
            for tag in image.tags.iter().filter(|t| t.starts_with(&prefix)) {
                // Not forced: an image a container still uses stays.
                let _ = self.engine.output(&argv::rmi(tag));
            }
        }
    }

    /// Removes every snapshot of a box (after the box itself is gone);
    /// returns how many there were.
    pub fn remove_snapshots(&self, name: &str) -> Result<usize> {
        let images = self.engine.images_labelled(&format!("{}={name}", snap_labels::BOX))?;
        let prefix = format!("{}:", repository(self.engine.scope().as_str(), name));
        let count = snapshots_of(&images, self.engine.scope().as_str(), name).len();
        for image in &images {
            for tag in image.tags.iter().filter(|t| t.starts_with(&prefix)) {
                let _ = self.engine.output(&argv::rmi(tag));
            }
        }
        Ok(count)
    }

    /// Commits a box's system into a fresh image of `repo_box`'s repository,
    /// under one of tent's own tags (clone, save).
    pub fn commit_private(&self, name: &str, repo_box: &str, kind: SnapshotKind) -> Result<String> {
        let container = self.get(name)?;
        let tag = format!("{RESERVED_PREFIX}{}-{}", kind.as_str(), unique_suffix());
        let image = format!("{}:{tag}", repository(self.engine.scope().as_str(), repo_box));
        self.commit(&container.id, &image, repo_box, &tag, kind)?;
        Ok(image)
    }

    /// Tags `image` as an image box `name` runs on, so its snapshots' cleanup
    /// owns it; returns the new reference.
    pub fn adopt_image(&self, image: &str, name: &str) -> Result<String> {
        let reference =
            format!("{}:{IN_USE_PREFIX}{}", repository(self.engine.scope().as_str(), name), unique_suffix());
        self.engine.capture("could not tag the loaded image", &argv::tag(image, &reference))?;
        Ok(reference)
    }

    /// Puts box `name` on `snapshot`'s system: same name, spec, home,
    /// volumes, state and exports; a new container. Returns (old id, new id).
    pub fn rollback(&self, name: &str, image: &str) -> Result<(String, String)> {
        let _lock = self.box_lock(name)?;
        let old = self.get(name)?;
        let spec = BoxSpec::from_label(old.label(labels::SPEC)).ok_or_else(|| Error::Usage {
            message: format!("box {name:?} has no readable spec label, so tent cannot make it again"),
            hint: Some("make a new box from the snapshot image instead".into()),
        })?;
        let suffix = unique_suffix();
        let journal = Journal {
            box_name: name.into(),
            old_id: old.id.clone(),
            new_name: format!("{name}-tent-new-{suffix}"),
            old_name: format!("{name}-tent-old-{suffix}"),
            image: image.into(),
            reported: false,
        };
        let journal_path = self.journal_path(name, &suffix);
        let text = serde_json::to_string_pretty(&journal).expect("a journal serializes");
        crate::files::write_atomic(&journal_path, text.as_bytes(), 0o600)?;
        crate::interrupt::catch();

        // 1. The new container, under a temporary name; the old box works on.
        let made = self.create_container(name, &journal.new_name, &spec, image);
        if let Err(err) = made {
            let _ = self.engine.output(&["rm", "--force", &journal.new_name]);
            let _ = fs::remove_file(&journal_path);
            return Err(err);
        }
        if crate::interrupt::interrupted() {
            let _ = self.engine.output(&["rm", "--force", &journal.new_name]);
            let _ = fs::remove_file(&journal_path);
            return Err(Error::Interrupted);
        }
        // 2. The swap: from here on it is finished even on Ctrl-C.
        let was_running = old.running();
        if was_running {
            self.stop(name)?;
        }
        self.engine.capture("could not rename the old box aside", &argv::rename(&old.id, &journal.old_name))?;
        if let Err(err) = self.engine.capture("could not rename the new box", &argv::rename(&journal.new_name, name)) {
            let _ = self.engine.output(&argv::rename(&journal.old_name, name));
            let _ = self.engine.output(&["rm", "--force", &journal.new_name]);
            let _ = fs::remove_file(&journal_path);
            return Err(err);
        }
        // 3. The new box starts before the old one goes: when it cannot, the
        // old one is put back.
        let state = self.state(name);
        state.reset_run_files();
        if was_running && let Err(err) = self.start(name, None) {
            let _ = self.engine.output(&["rm", "--force", name]);
            let _ = self.engine.output(&argv::rename(&journal.old_name, name));
            let _ = fs::remove_file(&journal_path);
            let _ = self.start(name, None);
            return Err(err);
        }
        let new = self.engine.inspect(name)?.map(|c| c.id).unwrap_or_default();
        let _ = self.engine.output(&["rm", "--force", &old.id]);
        let _ = fs::remove_file(&journal_path);
        self.release_unused(name);
        Ok((old.id, new))
    }

    /// Makes (does not start) a container for box `name` from `image`,
    /// with the box's spec, under `container`.
    fn create_container(&self, name: &str, container: &str, spec: &BoxSpec, image: &str) -> Result<()> {
        let host = super::HostFacts::read();
        let state = self.state(name);
        state.create()?;
        // The same options as the box was made with: its NVIDIA files and host shims too.
        let nvidia = if spec.nvidia { Some(self.find_nvidia(name)?) } else { None };
        let args = self.container_argv(name, container, spec, Some(image), &host, &state.dir, nvidia.as_ref())?;
        self.printer.verbose(format!("$ {}", crate::shell::words(&self.engine.argv(&args))));
        self.engine.capture(&format!("could not make box {name:?} from {image}"), &args)?;
        Ok(())
    }

    /// Finishes or undoes swaps a killed tent left (their journals). Quiet
    /// and cheap when there are none: one directory read.
    pub fn recover(&self) -> Vec<Recovery> {
        let dir = self.scope_dir().join("journal");
        let Ok(entries) = fs::read_dir(&dir) else { return Vec::new() };
        let mut done = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let Some(text) = crate::files::read_text_bounded(&path, 64 * 1024) else { continue };
            let Ok(journal) = serde_json::from_str::<Journal>(&text) else { continue };
            // A swap still running in another tent holds the lock: leave it.
            let Ok(Some(_lock)) =
                crate::files::try_lock(&crate::files::lock_path(&self.scope_dir(), &journal.box_name))
            else {
                continue;
            };
            if let Some(r) = self.recover_one(&journal, &path) {
                done.push(r);
            }
        }
        done
    }

    fn recover_one(&self, j: &Journal, path: &Path) -> Option<Recovery> {
        let at_name = self.engine.inspect(&j.box_name).ok()?;
        // A container whose `rm` was killed half-way stays listed as
        // "Removing", and podman's inspect then fails ("container not known")
        // while `rm --force` still clears it: such a one counts as there.
        let there = |name: &str| !matches!(self.engine.inspect(name), Ok(None));
        let (new_there, old_there) = (there(&j.new_name), there(&j.old_name));
        let step = recovery_step(at_name.as_ref().map(|c| c.id == j.old_id), new_there, old_there);
        let result = match step {
            RecoveryStep::DropNew => {
                // Even when inspect finds none: a `create` killed half-way
                // can leave a container in podman's storage only ("Storage"
                // in `ps --external`), which inspect does not see, `rm
                // --force` removes, and which would pin the snapshot image.
                let _ = self.engine.output(&["rm", "--force", &j.new_name]);
                if !new_there && journal_is_young(path) {
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
                let _ = self.engine.output(&["rm", "--force", &j.old_name]);
                Some(Recovery::Finished(j.box_name.clone(), j.old_id.clone()))
            }
            RecoveryStep::RenameNewThenDropOld => {
                self.engine.output(&argv::rename(&j.new_name, &j.box_name)).ok()?;
                let _ = self.engine.output(&["rm", "--force", &j.old_name]);
                Some(Recovery::Finished(j.box_name.clone(), j.old_id.clone()))
            }
            RecoveryStep::RenameOldBack => {
                self.engine.output(&argv::rename(&j.old_name, &j.box_name)).ok()?;
                Some(Recovery::Undone(j.box_name.clone()))
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
    use std::collections::BTreeMap;

    use super::*;

    fn snap(name: &str, time: i64) -> Snapshot {
        Snapshot {
            name: name.into(),
            time,
            created: String::new(),
            kind: SnapshotKind::User,
            size: 0,
            image: String::new(),
            id: String::new(),
        }
    }

    #[test]
    fn repositories_are_valid_image_names() {
        assert_eq!(repository("podman", "dev"), "localhost/tent-snapshot/podman/dev");
        assert_eq!(repo_component("my-box.2"), "my-box.2");
        assert_eq!(repo_component("a__b"), "a__b");
        assert_eq!(repo_component("Dev"), "x-446576", "uppercase is not allowed in a repository");
        assert_eq!(repo_component("a..b"), "x-612e2e62");
        assert_eq!(repo_component("a___b"), "x-615f5f5f62");
        assert_eq!(repo_component("a-"), "x-612d");
        assert!(is_repo_component("a---b"));
    }

    #[test]
    fn snapshot_names() {
        assert!(validate_snapshot_name("before-upgrade").is_ok());
        assert!(validate_snapshot_name("_x.1").is_ok());
        assert!(validate_snapshot_name("").is_err());
        assert!(validate_snapshot_name("-x").is_err());
        assert!(validate_snapshot_name("a/b").is_err());
        assert!(validate_snapshot_name("tent-in-use-1").is_err(), "tent's own tags are reserved");
        assert!(validate_snapshot_name(&"a".repeat(129)).is_err());
        assert_eq!(default_name(SnapshotKind::User, 1_764_631_020), "20251201-231700");
        assert_eq!(default_name(SnapshotKind::Upgrade, 0), "upgrade-19700101-000000");
        assert!(validate_snapshot_name(&default_name(SnapshotKind::User, 1_764_631_020)).is_ok());
    }

    #[test]
    fn retention_drops_the_oldest() {
        let all = vec![snap("c", 30), snap("a", 10), snap("b", 20), snap("d", 40)];
        let names = |v: Vec<Snapshot>| v.into_iter().map(|s| s.name).collect::<Vec<_>>();
        assert_eq!(names(to_drop(&all, 3)), vec!["a"]);
        assert_eq!(names(to_drop(&all, 2)), vec!["a", "b"]);
        assert!(to_drop(&all, 4).is_empty());
        assert_eq!(names(to_drop(&all, 0)), vec!["a", "b", "c"], "the newest is always kept");
    }

    #[test]
    fn snapshots_are_read_from_tags_of_this_box_only() {
        let mut labels = BTreeMap::new();
        labels.insert(snap_labels::TIME.to_string(), "100".to_string());
        labels.insert(snap_labels::KIND.to_string(), "upgrade".to_string());
        let images = vec![Image {
            id: "abc".into(),
            tags: vec![
                "localhost/tent-snapshot/podman/dev:one".into(),
                "localhost/tent-snapshot/podman/dev:tent-in-use-abc".into(),
                "localhost/tent-snapshot/podman/dev2:x".into(),
                "localhost/tent-snapshot/docker/dev:y".into(),
            ],
            size: 7,
            labels,
        }];
        let found = snapshots_of(&images, "podman", "dev");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "one");
        assert_eq!(found[0].kind, SnapshotKind::Upgrade);
        assert_eq!(found[0].created, "1970-01-01T00:01:40Z");
        assert_eq!(found[0].size, 7);
    }

    #[test]
    fn recovery_keeps_a_box_under_the_name() {
        use RecoveryStep::*;
        assert_eq!(recovery_step(Some(true), true, false), DropNew, "killed before the swap: undo");
        assert_eq!(recovery_step(Some(false), false, true), DropOld, "killed after the swap: finish");
        assert_eq!(recovery_step(None, true, true), RenameNewThenDropOld, "killed between the renames");
        assert_eq!(recovery_step(None, false, true), RenameOldBack);
        assert_eq!(recovery_step(None, false, false), Nothing);
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
