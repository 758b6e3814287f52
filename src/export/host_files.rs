//! The host files of exports: what is at a path (for the ownership check),
//! removing a box's own files, and telling menus that launchers changed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::owner::{Existing, Verdict, verdict};
use super::receipt::Receipt;
use crate::engine::Scope;
use crate::paths::Paths;

/// What is at `path`, for the ownership check.
pub(super) fn read_existing(path: &Path) -> ExistingOwned {
    match fs::symlink_metadata(path) {
        Err(_) => ExistingOwned::Missing,
        Ok(meta) if meta.is_file() => {
            crate::files::read_bounded(path, 64 << 20).ok().flatten().map_or(ExistingOwned::Other, ExistingOwned::File)
        }
        Ok(_) => ExistingOwned::Other,
    }
}

pub(super) enum ExistingOwned {
    Missing,
    File(Vec<u8>),
    Other,
}

impl ExistingOwned {
    pub(super) fn as_ref(&self) -> Existing<'_> {
        match self {
            ExistingOwned::Missing => Existing::Missing,
            ExistingOwned::File(b) => Existing::File(b),
            ExistingOwned::Other => Existing::Other,
        }
    }
}

/// Removes the files that are this box's own (recorded and marked); returns
/// `(removed, kept)`. Files already gone are in neither list.
pub(super) fn remove_files(
    files: &[PathBuf],
    receipt: &Receipt,
    box_name: &str,
    scope: Scope,
) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut removed = Vec::new();
    let mut kept = Vec::new();
    for path in files {
        let existing = read_existing(path);
        match verdict(path, existing.as_ref(), receipt.records(path), box_name, scope) {
            Verdict::Free => {}
            Verdict::Ours => match fs::remove_file(path) {
                Ok(()) => removed.push(path.clone()),
                Err(_) => kept.push(path.clone()),
            },
            Verdict::NotOurs => kept.push(path.clone()),
        }
    }
    (removed, kept)
}

/// Tells menus about changed launchers and icons: refreshes the MIME cache of
/// the applications directory when `update-desktop-database` exists, and
/// bumps the icon theme's mtime so running menus rescan it. Returns warnings.
pub(super) fn refresh_menus(paths: &Paths) -> Vec<String> {
    let mut warnings = Vec::new();
    let apps = paths.applications();
    if apps.is_dir()
        && let Ok(tool) = which::which("update-desktop-database")
    {
        {
            match Command::new(&tool).arg(&apps).stdin(Stdio::null()).output() {
                Ok(out) if out.status.success() => {}
                Ok(out) => warnings.push(format!(
                    "update-desktop-database {} failed: {}",
                    apps.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                )),
                Err(e) => warnings.push(format!("could not run {}: {e}", tool.display())),
            }
        }
    }
    let hicolor = paths.icons().join("hicolor");
    if let Ok(dir) = fs::File::open(&hicolor) {
        let _ = dir.set_modified(std::time::SystemTime::now());
    }
    warnings
}
