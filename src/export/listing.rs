//! What a box exports, and removing it: `list`, `unexport` by `Selector`,
//! and `remove_box_exports` when a box goes.

use std::path::PathBuf;

use super::host_files::{refresh_menus, remove_files};
use super::receipt::{self, Export, Kind, Receipt};
use crate::engine::Scope;
use crate::error::Result;
use crate::paths::Paths;

/// Which exports `unexport` removes.
#[derive(Debug, Clone, Copy)]
pub enum Selector<'a> {
    App(&'a str),
    Bin(&'a str),
    /// One export, by kind and recorded name (doctor).
    Exact(Kind, &'a str),
    All,
}

impl Selector<'_> {
    fn matches(&self, e: &Export, box_name: &str) -> bool {
        match *self {
            Selector::All => true,
            Selector::App(q) => {
                let q = q.trim_end_matches(".desktop");
                e.kind == Kind::App
                    && (e.name == q
                        || e.request == q
                        || e.host_desktop_id(box_name) == q
                        || e.target == q
                        || e.title.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(q)))
            }
            Selector::Bin(q) => e.kind == Kind::Bin && (e.name == q || e.request == q || e.target == q),
            Selector::Exact(kind, name) => e.kind == kind && e.name == name,
        }
    }
}

/// What removing one export did.
#[derive(Debug)]
pub struct Removal {
    pub export: Export,
    pub removed: Vec<PathBuf>,
    /// Recorded files left in place because what is there now is not tent's.
    pub kept: Vec<PathBuf>,
}

/// Removes the selected exports of one box: exactly their recorded files
/// that still carry this box's marker (icons: name), then their records.
pub fn unexport(paths: &Paths, scope: Scope, box_name: &str, selector: Selector<'_>) -> Result<Vec<Removal>> {
    let receipt_path = paths.receipt(scope, box_name);
    let lock = receipt::lock(&receipt_path)?;
    let Some(mut receipt) = Receipt::load(&receipt_path)? else {
        // No receipt: nor any need of its lock file (harmless if it stays).
        let _ = lock.retire();
        return Ok(Vec::new());
    };
    let mut removals = Vec::new();
    let (chosen, rest): (Vec<Export>, Vec<Export>) =
        receipt.exports.clone().into_iter().partition(|e| selector.matches(e, box_name));
    let mut any_app = false;
    for export in chosen {
        let (removed, kept) = remove_files(&export.files, &receipt, box_name, scope);
        any_app |= export.kind != Kind::Bin;
        removals.push(Removal { export, removed, kept });
    }
    receipt.exports = rest;
    receipt.save(&receipt_path)?;
    if receipt.exports.is_empty() {
        // The receipt is gone (`save`): so goes its lock file.
        let _ = lock.retire();
    }
    if any_app {
        let _ = refresh_menus(paths);
    }
    Ok(removals)
}

/// The exports of one box.
pub fn list(paths: &Paths, scope: Scope, box_name: &str) -> Result<Vec<Export>> {
    Ok(Receipt::load(&paths.receipt(scope, box_name))?.map(|r| r.exports).unwrap_or_default())
}

/// Removes every file recorded in the export receipt of one box; returns the
/// removed paths. Files tent did not write are never touched.
pub fn remove_box_exports(paths: &Paths, scope: Scope, name: &str) -> Result<Vec<PathBuf>> {
    Ok(unexport(paths, scope, name, Selector::All)?.into_iter().flat_map(|r| r.removed).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::owner;
    use std::fs;
    use std::path::Path;

    fn paths(root: &Path) -> Paths {
        Paths::under(root)
    }

    fn app_export(files: Vec<PathBuf>) -> Export {
        Export {
            kind: Kind::App,
            name: "debian-xterm".into(),
            title: Some("XTerm".into()),
            request: "xterm".into(),
            target: "/usr/share/applications/debian-xterm.desktop".into(),
            files,
            dir: None,
            tent: "/usr/bin/tent".into(),
        }
    }
    /// The rule of rules: unexport removes exactly the box's own recorded
    /// files and nothing else, even when the user replaced one.
    #[test]
    fn unexport_removes_only_files_tent_wrote_for_this_box() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        let marker = owner::marker_lines("dev", Scope::Podman, "x").join("\n");
        let launcher = p.applications().join("tent-dev-debian-xterm.desktop");
        let icon = p.icons().join("hicolor/48x48/apps/tent-dev-xterm.png");
        let replaced = p.bin.join("rg");
        let users = p.icons().join("hicolor/48x48/apps/xterm.png");
        let unrelated = p.applications().join("mine.desktop");
        for (path, text) in [
            (&launcher, format!("{marker}\n[Desktop Entry]\n")),
            (&icon, "png".to_string()),
            (&replaced, "#!/bin/sh\necho the user's own\n".to_string()),
            (&users, "png".to_string()),
            (&unrelated, "[Desktop Entry]\n".to_string()),
        ] {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        let mut receipt = Receipt::new("dev", Scope::Podman, "/usr/bin/podman");
        receipt.exports.push(app_export(vec![launcher.clone(), icon.clone(), users.clone()]));
        let mut bin = app_export(vec![replaced.clone()]);
        bin.kind = Kind::Bin;
        bin.name = "rg".into();
        receipt.exports.push(bin);
        receipt.save(&p.receipt(Scope::Podman, "dev")).unwrap();

        let removed = remove_box_exports(&p, Scope::Podman, "dev").unwrap();
        assert_eq!(removed, vec![launcher.clone(), icon.clone()]);
        assert!(!launcher.exists() && !icon.exists());
        assert!(replaced.exists(), "a recorded file the user replaced stays");
        assert!(users.exists(), "an icon not named tent-dev-* stays even when recorded");
        assert!(unrelated.exists());
        assert!(!p.receipt(Scope::Podman, "dev").exists(), "the receipt goes with the last export");
        let lock = crate::files::lock_path(p.receipt(Scope::Podman, "dev").parent().unwrap(), "dev.json");
        assert!(!lock.exists(), "and so does its lock file");
        // Nothing recorded: nothing to do, and no lock file left behind.
        assert!(remove_box_exports(&p, Scope::Podman, "dev").unwrap().is_empty());
        assert!(!lock.exists());
    }

    #[test]
    fn selectors_match_what_users_type() {
        let e = app_export(vec![]);
        for q in ["xterm", "debian-xterm", "debian-xterm.desktop", "tent-dev-debian-xterm.desktop", "XTERM"] {
            assert!(Selector::App(q).matches(&e, "dev"), "{q}");
        }
        assert!(!Selector::Bin("xterm").matches(&e, "dev"));
        assert!(!Selector::App("uxterm").matches(&e, "dev"));
        assert!(Selector::All.matches(&e, "dev"));
    }
}
