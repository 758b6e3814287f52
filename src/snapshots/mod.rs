//! Snapshots of a box's system: image commits in the engine's own store,
//! tagged `localhost/tent-snapshot/<scope>/<box>:<name>` and labelled, and
//! the swap that puts a box on a snapshot (rollback, upgrade's undo).
//!
//! A box's system is its container's own filesystem: home, volumes and other
//! host mounts are never in a commit and never touched.
//!
//! The swap keeps the box's name usable at every moment a kill can land:
//! the new container is made under a temporary name while the old one
//! stops (both at once); the old one is renamed aside, the new one renamed
//! into place, started, and only then is the old one removed, by a process
//! that outlives tent and holds the box's lock until it has removed the
//! journal. A journal file written before the first step lets the next tent
//! command finish or undo a swap that was killed half-way
//! (`Snapshots::recover`, in `swap.rs`). What a
//! snapshot is called and labelled is `boxes::snapshot`; `store.rs` takes,
//! lists and deletes them.

mod store;
mod swap;

use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) use swap::Recovery;

use crate::runtime::Boxes;

/// The snapshots of the boxes of `runtime`: taken, listed and deleted
/// (`store.rs`), swapped in and recovered (`swap.rs`).
pub(crate) struct Snapshots<'a> {
    pub boxes: Boxes<'a>,
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// A short suffix for temporary names, unique enough per host and moment.
pub(crate) fn unique_suffix() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{:x}", (u64::from(std::process::id()) << 32 | u64::from(nanos)) % 0xff_ffff)
}
