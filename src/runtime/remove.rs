//! Removing a box: its container and tent's state of it, and its snapshots.

use super::Boxes;
use crate::boxes::snapshot::{repository, snap_labels, snapshots_of};
use crate::engine::argv;
use crate::error::{Error, Result};

impl Boxes<'_> {
    /// Removes the container and tent's own state of it. Exports are the
    /// caller's business (they live in the export receipts). Only ever one of
    /// the user's own tent boxes: the owner is checked right before the
    /// removal, whatever the caller checked earlier.
    pub fn remove(&self, name: &str) -> Result<()> {
        match self.get(name) {
            Ok(_) | Err(Error::NoSuchBox { .. }) => {}
            Err(err) => return Err(err),
        }
        let output = self.engine.output(&["rm", "--force", name])?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            if !crate::engine::json::is_no_such_container(&stderr) {
                return Err(Error::Engine {
                    what: format!("could not remove box {name:?}"),
                    failure: self.engine.failure(&["rm", "--force", name], &output),
                });
            }
        }
        if crate::boxes::remote::is_remote(self.engine) {
            // Its home volume stays: it is every remote box's home there.
            return Ok(());
        }
        self.state(name).remove()
    }

    /// Removes every snapshot of a box (after the box itself is gone);
    /// returns how many there were.
    pub fn remove_snapshots(&self, name: &str) -> Result<usize> {
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
