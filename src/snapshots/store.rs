//! Taking, listing and deleting a box's snapshots: commits of its container
//! into the engine's store (`boxes::snapshot` names and labels them).

use super::Snapshots;
use super::{now, unique_suffix};
use crate::boxes::snapshot::{
    IN_USE_PREFIX, RESERVED_PREFIX, Snapshot, SnapshotKind, default_name, repository, snap_labels, snapshots_of,
    to_drop, validate_snapshot_name,
};
use crate::engine::argv;
use crate::engine::json::Image;
use crate::error::{Error, Result};

/// Whether the engine can pause a box for its commit. Rootless podman on a
/// host without the unified cgroup hierarchy cannot (podman: "can not pause
/// containers on rootless containers with cgroup V1") and fails the commit,
/// so tent commits running there at once instead of asking twice (the
/// failed try cost 0.3 s and more, issue 24). Anywhere else a failed pause
/// is still retried without it.
fn can_pause(podman: bool, rootful: bool, cgroup_v2: bool) -> bool {
    !(podman && !rootful && !cgroup_v2)
}

/// True when the host mounts the unified cgroup hierarchy (v2) only.
fn cgroup_v2() -> bool {
    std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

fn in_use_error(stderr: &str) -> bool {
    let lower = stderr.to_ascii_lowercase();
    lower.contains("in use") || lower.contains("is using") || lower.contains("being used")
}

impl Snapshots<'_> {
    /// Every image of this scope's snapshot repositories, in one listing.
    pub(crate) fn images(&self) -> Result<Vec<Image>> {
        self.boxes.engine.images_labelled(snap_labels::BOX)
    }

    pub(crate) fn list(&self, name: &str) -> Result<Vec<Snapshot>> {
        let images = self.boxes.engine.images_labelled(&format!("{}={name}", snap_labels::BOX))?;
        Ok(snapshots_of(&images, self.boxes.engine.scope(), name))
    }

    /// Commits `container` into `image`, paused while the engine copies; a
    /// box that cannot be paused (rootless podman on cgroups v1) is committed
    /// running, which is what the engine does without --pause.
    fn commit(&self, container: &str, image: &str, box_name: &str, name: &str, kind: SnapshotKind) -> Result<()> {
        self.commit_labelled(container, image, box_name, name, kind, &[])
    }

    /// [`Self::commit`], with `extra` labels set on the image too.
    fn commit_labelled(
        &self,
        container: &str,
        image: &str,
        box_name: &str,
        name: &str,
        kind: SnapshotKind,
        extra: &[(String, String)],
    ) -> Result<()> {
        let mut labels = vec![
            (snap_labels::BOX.to_string(), box_name.to_string()),
            (snap_labels::NAME.to_string(), name.to_string()),
            (snap_labels::TIME.to_string(), now().to_string()),
            (snap_labels::KIND.to_string(), kind.as_str().to_string()),
        ];
        labels.extend_from_slice(extra);
        // This host's cgroups say nothing of another machine's engine: there
        // the pause is tried (and retried without, as before).
        let local = !crate::boxes::remote::is_remote(self.boxes.engine);
        let pause = !local || can_pause(self.boxes.engine.is_podman(), self.boxes.engine.rootful(), cgroup_v2());
        let args = argv::commit(container, image, &labels, pause);
        self.boxes.progress.detail(&format!("$ {}", crate::shell::words(&self.boxes.engine.argv(&args))));
        let output = self.boxes.engine.output(&args)?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr).to_ascii_lowercase();
        if pause && (stderr.contains("pause") || stderr.contains("cgroup") || stderr.contains("freez")) {
            let args = argv::commit(container, image, &labels, false);
            self.boxes.engine.capture(&format!("could not snapshot box {box_name:?}"), &args)?;
            return Ok(());
        }
        Err(Error::Engine {
            what: format!("could not snapshot box {box_name:?}"),
            failure: self.boxes.engine.failure(&args, &output),
        })
    }

    /// Takes a snapshot of a box's system; returns it and the old ones
    /// dropped to keep at most `keep`.
    pub(crate) fn take(
        &self,
        name: &str,
        snapshot: Option<&str>,
        kind: SnapshotKind,
        keep: usize,
    ) -> Result<(Snapshot, Vec<Snapshot>)> {
        // The box and its snapshots at once: two engine calls each, and on
        // Docker every call is a round trip to the daemon (issue 24).
        let engine = self.boxes.engine;
        let label = format!("{}={name}", snap_labels::BOX);
        let (listed, container) =
            crate::concurrent::at_once(|| engine.images_labelled(&label), || self.boxes.get(name));
        let container = container?;
        let existing = snapshots_of(&listed?, engine.scope(), name);
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
        let image = format!("{}:{snap_name}", repository(self.boxes.engine.scope(), name));
        self.commit(&container.id, &image, name, &snap_name, kind)?;
        // The new image alone (one engine call, not a second listing): the
        // others are `existing`, and this box's lock-free listing above is
        // what retention counts, as before.
        let args = argv::image_inspect(std::slice::from_ref(&image));
        let text = self.boxes.engine.capture(&format!("could not inspect the snapshot {image}"), &args)?;
        let new = crate::engine::json::parse_image_inspect(&text)
            .map_err(|detail| Error::EngineOutput { command: self.boxes.engine.argv(&args).join(" "), detail })?;
        let scope = self.boxes.engine.scope();
        let taken =
            snapshots_of(&new, scope, name).into_iter().find(|s| s.name == snap_name).ok_or_else(|| Error::Usage {
                message: format!("the snapshot {image} was made but the engine does not list it"),
                hint: Some(format!("see `{} images`", self.boxes.engine.name())),
            })?;
        let mut all = existing;
        all.push(taken.clone());
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

    pub(crate) fn find(&self, name: &str, snapshot: Option<&str>) -> Result<Snapshot> {
        self.find_given(name, snapshot, None)
    }

    /// The tag of snapshot `snapshot` of box `name`, when that is a
    /// snapshot name.
    pub(crate) fn tag_of(&self, name: &str, snapshot: &str) -> Option<String> {
        validate_snapshot_name(snapshot).ok()?;
        Some(format!("{}:{snapshot}", repository(self.boxes.engine.scope(), name)))
    }

    /// `find`, with the image under the snapshot's tag when the caller has
    /// it already (fetched with the box: `Boxes::get_also`).
    pub(crate) fn find_given(&self, name: &str, snapshot: Option<&str>, tagged: Option<Image>) -> Result<Snapshot> {
        // A named snapshot is one tag: one inspect (0.03 s) instead of the
        // label listing and its inspect (0.2 s on rootless podman, issue 24).
        let found = match (snapshot, tagged) {
            (Some(s), Some(image)) => self.snapshot_in(name, s, vec![image]),
            (Some(s), None) => self.find_tagged(name, s),
            (None, _) => None,
        };
        if let Some(found) = found {
            return Ok(found);
        }
        let all = self.list(name)?;
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

    /// Snapshot `snapshot` of box `name` by its tag alone, when the image
    /// under it carries the box's snapshot label as the listing asks; None
    /// sends the caller to the listing (which also gives the better error).
    fn find_tagged(&self, name: &str, snapshot: &str) -> Option<Snapshot> {
        let image = self.tag_of(name, snapshot)?;
        let output = self.boxes.engine.output(&["image", "inspect", "--", &image]).ok()?;
        if !output.status.success() {
            return None;
        }
        let images = crate::engine::json::parse_image_inspect(&String::from_utf8_lossy(&output.stdout)).ok()?;
        self.snapshot_in(name, snapshot, images)
    }

    /// Snapshot `snapshot` of box `name` among `images` (those under its
    /// tag): only one that carries the box's snapshot label, as the
    /// listing asks.
    fn snapshot_in(&self, name: &str, snapshot: &str, images: Vec<Image>) -> Option<Snapshot> {
        let labelled: Vec<Image> = images.into_iter().filter(|i| i.label(snap_labels::BOX) == Some(name)).collect();
        snapshots_of(&labelled, self.boxes.engine.scope(), name).into_iter().find(|s| s.name == snapshot)
    }

    pub(crate) fn delete(&self, name: &str, snapshot: &str) -> Result<Snapshot> {
        let found = self.find(name, Some(snapshot))?;
        self.delete_snapshot_image(&found)?;
        Ok(found)
    }

    /// Removes a snapshot's tag. When the box runs on that very image (it was
    /// rolled back to it), the image stays under a tag of tent's own until
    /// the box leaves it.
    fn delete_snapshot_image(&self, snapshot: &Snapshot) -> Result<()> {
        let args = argv::rmi(&snapshot.image);
        let output = self.boxes.engine.output(&args)?;
        if output.status.success() {
            return Ok(());
        }
        if in_use_error(&String::from_utf8_lossy(&output.stderr)) {
            let repo = snapshot.image.rsplit_once(':').map_or(snapshot.image.as_str(), |(r, _)| r);
            let keep = format!("{repo}:{IN_USE_PREFIX}{}", &snapshot.id[..snapshot.id.len().min(12)]);
            self.boxes.engine.capture("could not tag an image in use", &argv::tag(&snapshot.id, &keep))?;
            self.boxes.engine.capture(&format!("could not delete snapshot {}", snapshot.image), &args)?;
            return Ok(());
        }
        Err(Error::Engine {
            what: format!("could not delete snapshot {}", snapshot.image),
            failure: self.boxes.engine.failure(&args, &output),
        })
    }

    /// Drops tent's own tags of images no container uses any more.
    pub(crate) fn release_unused(&self, name: &str) {
        let Ok(images) = self.boxes.engine.images_labelled(&format!("{}={name}", snap_labels::BOX)) else { return };
        let prefix = format!("{}:{IN_USE_PREFIX}", repository(self.boxes.engine.scope(), name));
        for image in images {
            for tag in image.tags.iter().filter(|t| t.starts_with(&prefix)) {
                // Not forced: an image a container still uses stays.
                let _ = self.boxes.engine.output(&argv::rmi(tag));
            }
        }
    }

    /// Commits a box's system into a fresh image of `repo_box`'s repository,
    /// under one of tent's own tags (clone, save).
    pub(crate) fn commit_private(&self, name: &str, repo_box: &str, kind: SnapshotKind) -> Result<String> {
        let container = self.boxes.get(name)?;
        let tag = format!("{RESERVED_PREFIX}{}-{}", kind.as_str(), unique_suffix());
        let image = format!("{}:{tag}", repository(self.boxes.engine.scope(), repo_box));
        self.commit(&container.id, &image, repo_box, &tag, kind)?;
        Ok(image)
    }

    /// Commits a container that is not (yet) a tent box, `container` (an id
    /// the caller checked), into a fresh image of box `name`'s repository,
    /// with `extra` labels over the ones it had (`tent adopt`).
    pub(crate) fn commit_foreign(&self, container: &str, name: &str, extra: &[(String, String)]) -> Result<String> {
        crate::boxes::validate_name(name)?;
        let kind = SnapshotKind::Adopt;
        let tag = format!("{RESERVED_PREFIX}{}-{}", kind.as_str(), unique_suffix());
        let image = format!("{}:{tag}", repository(self.boxes.engine.scope(), name));
        self.commit_labelled(container, &image, name, &tag, kind, extra)?;
        Ok(image)
    }

    /// Tags `image` as an image box `name` runs on, so its snapshots' cleanup
    /// owns it; returns the new reference.
    pub(crate) fn adopt_image(&self, image: &str, name: &str) -> Result<String> {
        let reference = format!("{}:{IN_USE_PREFIX}{}", repository(self.boxes.engine.scope(), name), unique_suffix());
        self.boxes.engine.capture("could not tag the loaded image", &argv::tag(image, &reference))?;
        Ok(reference)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rootless_podman_on_cgroup_v1_commits_without_pausing() {
        assert!(!can_pause(true, false, false), "rootless podman, cgroup v1: podman refuses to pause");
        assert!(can_pause(true, false, true));
        assert!(can_pause(true, true, false), "rootful podman pauses on v1 too");
        assert!(can_pause(false, false, false), "Docker's daemon pauses");
    }
}
