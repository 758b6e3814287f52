//! Exports: app launchers and command wrappers on the host, with receipts.
//! (Being written; see issue 4.)

use std::path::PathBuf;

use crate::error::Result;
use crate::paths::Paths;

/// Removes every file recorded in the export receipt of one box; returns the
/// removed paths. Files tent did not write are never touched.
pub fn remove_box_exports(_paths: &Paths, _scope: &str, _name: &str) -> Result<Vec<PathBuf>> {
    Ok(Vec::new())
}
