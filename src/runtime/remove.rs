//! Removing a box, the one way `tent rm`, `tent apply --remove` and `tent
//! ephemeral` all take: its exports (through the export receipts), its
//! container and tent's state of it, and its snapshots. A recreate (`apply`
//! with a new image) removes only the container, as the box lives on.

use std::path::PathBuf;

use super::Boxes;
use crate::boxes::snapshot::{IN_USE_PREFIX, repository, snap_labels, snapshots_of};
use crate::engine::argv;
use crate::error::{Error, Result};

/// What removing a box took with it besides the container and its state.
/// The box is gone either way: a part that failed is for the caller to
/// report, not a failed removal.
#[derive(Debug)]
pub struct Removed {
    /// The exported files removed (launchers, wrappers, icons).
    pub exports: Result<Vec<PathBuf>>,
    /// How many snapshots were removed.
    pub snapshots: Result<usize>,
}

impl Boxes<'_> {
    /// Removes box `name` and everything tent keeps of it: first its exports,
    /// so nothing on the host points at a box about to go, then the
    /// container and tent's state of it, then its snapshot images. Only ever
    /// one of the user's own tent boxes (see `remove_container`). The user's
    /// files, a `--home` folder among them, are never touched here.
    pub fn remove(&self, name: &str) -> Result<Removed> {
        // A rollback that has returned may still be removing the box's old
        // container and in-use tags, under the box's lock: wait for it, so
        // nothing of the box is left behind (issue 24).
        let lock = self.box_lock(name)?;
        // The name and owner are checked before anything goes, exports included.
        match self.get(name) {
            Ok(_) | Err(Error::NoSuchBox { .. }) => {}
            Err(err) => return Err(err),
        }
        let exports = crate::export::remove_box_exports(self.paths, self.engine.scope(), name);
        self.remove_container(name)?;
        // What `tent apply` recorded of it describes a container that is gone.
        crate::files::remove_if_present(&self.paths.manifest_record(self.engine.scope(), name))?;
        let snapshots = self.remove_snapshots(name);
        self.remove_in_use_tags(name);
        // Its lock file goes too (one per box ever made would pile up); one
        // left behind does no harm, so a failure here is not the removal's.
        let _ = lock.retire();
        Ok(Removed { exports, snapshots })
    }

    /// Removes the container and tent's own state of it, and nothing else:
    /// for a box made again under its name (a recreate), whose exports and
    /// snapshots stay. Only ever one of the user's own tent boxes: the owner
    /// is checked right before the removal, whatever the caller checked
    /// earlier.
    pub fn remove_container(&self, name: &str) -> Result<()> {
        let running = match self.get(name) {
            Ok(container) => Some(container).filter(|c| c.running()),
            Err(Error::NoSuchBox { .. }) => None,
            Err(err) => return Err(err),
        };
        // Commands joined into the box run in the host's cgroup, not the
        // container's: the engine's removal would leave them running in a
        // box that is gone (a daemon started in it). They are ended first,
        // as `tent stop` ends them.
        let init = running.and_then(|c| self.engine_init_of(name, &c));
        if let Some(init) = &init {
            super::join::end_box_processes(init, std::time::Duration::from_secs(3));
        }
        let rm = argv::rm_force(name);
        let output = self.engine.output(&rm)?;
        if let Some(init) = &init {
            // One that joined while the box was going.
            super::join::end_box_processes(init, std::time::Duration::from_millis(500));
        }
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            if !crate::engine::json::is_no_such_container(&stderr) {
                return Err(Error::Engine {
                    what: format!("could not remove box {name:?}"),
                    failure: self.engine.failure(&rm, &output),
                });
            }
        }
        if crate::boxes::remote::is_remote(self.engine) {
            // Its home volume stays: it is every remote box's home there.
            return Ok(());
        }
        self.state(name).remove()
    }

    /// Removes tent's `tent-in-use-` tags in the box's repository that the
    /// snapshot labels do not find: a loaded box's image keeps the labels of
    /// the box it was saved from, so it stayed behind after `tent rm` (and
    /// after a rollback away from it), in the other machine's store too.
    fn remove_in_use_tags(&self, name: &str) {
        let repo = repository(self.engine.scope(), name);
        let list = ["images", "--filter", &format!("reference={repo}"), "--format", "{{.Repository}}:{{.Tag}}"];
        let Ok(output) = self.engine.output(&list) else { return };
        for image in String::from_utf8_lossy(&output.stdout).lines().map(str::trim) {
            if is_own_in_use_tag(self.engine.scope(), name, image) {
                // Not forced: an image a container still uses stays.
                let _ = self.engine.output(&argv::rmi(image));
            }
        }
    }

    /// Removes every snapshot of a box (after the box itself is gone);
    /// returns how many there were.
    fn remove_snapshots(&self, name: &str) -> Result<usize> {
        let images = self.engine.images_labelled(&format!("{}={name}", snap_labels::BOX))?;
        let prefix = format!("{}:", repository(self.engine.scope(), name));
        let count = snapshots_of(&images, self.engine.scope(), name).len();
        for image in &images {
            for tag in image.tags.iter().filter(|t| t.starts_with(&prefix)) {
                let _ = self.engine.output(&argv::rmi(tag));
            }
        }
        Ok(count)
    }
}

/// Whether `image` (as the engine names a container's image) is one of
/// tent's own `tent-in-use-` tags in box `name`'s repository: only those are
/// removed with the box, never an image the user named.
fn is_own_in_use_tag(scope: crate::engine::Scope, name: &str, image: &str) -> bool {
    let prefix = format!("{}:{IN_USE_PREFIX}", repository(scope, name));
    let docker_prefix = prefix.strip_prefix("localhost/").unwrap_or(&prefix);
    [prefix.as_str(), docker_prefix].iter().any(|p| {
        image.strip_prefix(p).is_some_and(|tag| !tag.is_empty() && tag.bytes().all(|b| b.is_ascii_alphanumeric()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Scope;

    #[test]
    fn only_tents_own_in_use_tag_of_the_box_goes_with_it() {
        let own = "localhost/tent-snapshot/podman/dev:tent-in-use-1a2b3c";
        assert!(is_own_in_use_tag(Scope::Podman, "dev", own));
        assert!(is_own_in_use_tag(Scope::Podman, "dev", "tent-snapshot/podman/dev:tent-in-use-1a2b3c"));
        assert!(!is_own_in_use_tag(Scope::Podman, "dev2", own), "another box's");
        assert!(!is_own_in_use_tag(Scope::Podman, "dev", "localhost/tent-snapshot/podman/dev:before"), "a snapshot");
        assert!(!is_own_in_use_tag(Scope::Podman, "dev", "debian:bookworm"));
        assert!(!is_own_in_use_tag(Scope::Podman, "dev", "localhost/tent-snapshot/podman/dev:tent-in-use-"));
    }
}
