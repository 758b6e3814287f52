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

fn in_use_error(stderr: &str) -> bool {
    let lower = stderr.to_ascii_lowercase();
    lower.contains("in use") || lower.contains("is using") || lower.contains("being used")
}

impl Snapshots<'_> {
    /// Every image of this scope's snapshot repositories, in one listing.
    pub fn images(&self) -> Result<Vec<Image>> {
        self.boxes.engine.images_labelled(snap_labels::BOX)
    }

    pub fn list(&self, name: &str) -> Result<Vec<Snapshot>> {
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
        let args = argv::commit(container, image, &labels, true);
        self.boxes.progress.detail(&format!("$ {}", crate::shell::words(&self.boxes.engine.argv(&args))));
        let output = self.boxes.engine.output(&args)?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr).to_ascii_lowercase();
        if stderr.contains("pause") || stderr.contains("cgroup") || stderr.contains("freez") {
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
    pub fn take(
        &self,
        name: &str,
        snapshot: Option<&str>,
        kind: SnapshotKind,
        keep: usize,
    ) -> Result<(Snapshot, Vec<Snapshot>)> {
        let container = self.boxes.get(name)?;
        let existing = self.list(name)?;
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
        let all = self.list(name)?;
        let taken = all.iter().find(|s| s.name == snap_name).cloned().ok_or_else(|| Error::Usage {
            message: format!("the snapshot {image} was made but the engine does not list it"),
            hint: Some(format!("see `{} images`", self.boxes.engine.name())),
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

    pub fn find(&self, name: &str, snapshot: Option<&str>) -> Result<Snapshot> {
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

    pub fn delete(&self, name: &str, snapshot: &str) -> Result<Snapshot> {
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
    pub fn release_unused(&self, name: &str) {
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
    pub fn commit_private(&self, name: &str, repo_box: &str, kind: SnapshotKind) -> Result<String> {
        let container = self.boxes.get(name)?;
        let tag = format!("{RESERVED_PREFIX}{}-{}", kind.as_str(), unique_suffix());
        let image = format!("{}:{tag}", repository(self.boxes.engine.scope(), repo_box));
        self.commit(&container.id, &image, repo_box, &tag, kind)?;
        Ok(image)
    }

    /// Commits a container that is not (yet) a tent box, `container` (an id
    /// the caller checked), into a fresh image of box `name`'s repository,
    /// with `extra` labels over the ones it had (`tent adopt`).
    pub fn commit_foreign(&self, container: &str, name: &str, extra: &[(String, String)]) -> Result<String> {
        crate::boxes::validate_name(name)?;
        let kind = SnapshotKind::Adopt;
        let tag = format!("{RESERVED_PREFIX}{}-{}", kind.as_str(), unique_suffix());
        let image = format!("{}:{tag}", repository(self.boxes.engine.scope(), name));
        self.commit_labelled(container, &image, name, &tag, kind, extra)?;
        Ok(image)
    }

    /// Tags `image` as an image box `name` runs on, so its snapshots' cleanup
    /// owns it; returns the new reference.
    pub fn adopt_image(&self, image: &str, name: &str) -> Result<String> {
        let reference = format!("{}:{IN_USE_PREFIX}{}", repository(self.boxes.engine.scope(), name), unique_suffix());
        self.boxes.engine.capture("could not tag the loaded image", &argv::tag(image, &reference))?;
        Ok(reference)
    }
}
