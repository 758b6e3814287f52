//! Shell completion of what only tent knows: box names and export names.
//!
//! The shell calls tent back at each TAB (`COMPLETE=bash tent -- …`, the
//! registration `tent completions SHELL` prints; clap_complete's dynamic
//! engine), and the candidates come from tent's own state directory with no
//! engine call: a TAB must answer at once, also when the engine is slow or
//! gone. The state directory is box-writable, so it is read as a stranger's:
//! entries are listed, never followed, and only valid box names are offered.

use std::collections::BTreeSet;
use std::path::Path;

use clap_complete::CompletionCandidate;

use crate::boxes::name::validate_name;
use crate::paths::Paths;

/// At most this many receipts are looked at per scope: bounded work for a
/// state directory a box filled with junk.
const MAX_ENTRIES: usize = 10_000;

/// Every box of the user, in every engine scope (one TAB may mean any).
pub(crate) fn box_names() -> Vec<CompletionCandidate> {
    let Ok(paths) = Paths::from_env() else { return Vec::new() };
    boxes_in(&paths.boxes_root()).into_iter().map(CompletionCandidate::new).collect()
}

/// Every exported command and app of the user's boxes.
pub(crate) fn export_names() -> Vec<CompletionCandidate> {
    let Ok(paths) = Paths::from_env() else { return Vec::new() };
    exports_in(&paths.receipts_root()).into_iter().map(CompletionCandidate::new).collect()
}

/// Box names under `boxes/SCOPE/NAME` (`boxes::state::on_disk`).
fn boxes_in(root: &Path) -> BTreeSet<String> {
    crate::runtime::state::on_disk(root).into_iter().map(|(_, name, _)| name).collect()
}

/// Export names from the receipts under `exports/SCOPE/BOX.json`.
fn exports_in(root: &Path) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let Ok(scopes) = std::fs::read_dir(root) else { return names };
    for scope in scopes.take(MAX_ENTRIES).flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())) {
        let Ok(entries) = std::fs::read_dir(scope.path()) else { continue };
        for entry in entries.take(MAX_ENTRIES).flatten() {
            let Ok(Some(receipt)) = crate::export::receipt::Receipt::load(&entry.path()) else { continue };
            for export in receipt.exports {
                if validate_name(&export.name).is_ok() {
                    names.insert(export.name);
                }
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_are_valid_names_in_real_directories_of_any_scope() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for path in ["podman/dev", "podman/web", "docker/dev", "podman-root/sys", "podman/locks", "podman/journal"] {
            std::fs::create_dir_all(root.join(path)).unwrap();
        }
        std::fs::create_dir_all(root.join("podman/-bad")).unwrap();
        std::fs::write(root.join("podman/file"), "").unwrap();
        std::os::unix::fs::symlink("/etc", root.join("podman/linked")).unwrap();
        std::os::unix::fs::symlink("/", root.join("evil")).unwrap();
        let names: Vec<String> = boxes_in(root).into_iter().collect();
        assert_eq!(names, ["dev", "sys", "web"]);
        assert!(boxes_in(&root.join("missing")).is_empty());
    }
}
