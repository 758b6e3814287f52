//! The export receipt of one box (`$XDG_STATE_HOME/tent/exports/SCOPE/BOX.json`):
//! every export and every file it wrote, so removal is exact. Also the
//! guarded writes: temp file + rename, and a transaction that puts back what
//! a half-done export changed.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const FORMAT: u32 = 1;

/// The largest receipt tent reads: it is in the state every box can write.
const MAX_RECEIPT: u64 = 4 << 20;

/// The most of a file an export transaction keeps to put back.
const MAX_BEFORE: u64 = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    App,
    Bin,
    /// The box's own launcher in the desktop menu (`tent entry`).
    Entry,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::App => "app",
            Kind::Bin => "bin",
            Kind::Entry => "entry",
        }
    }
}

/// One export. Its JSON is part of `tent export --list --json` (docs/exports.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    pub kind: Kind,
    /// bin: the command's name on PATH; app: the original desktop-file id
    /// without `.desktop`.
    pub name: String,
    /// app: its Name; bin: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What the user asked for (`--app X` / `--bin X`), to export it again.
    pub request: String,
    /// bin: the binary's path in the box; app: its desktop file's path in the box.
    pub target: String,
    /// Every file written on the host.
    pub files: Vec<PathBuf>,
    /// bin: the directory it was put in (`--path`), to export it again there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// The tent binary the files run, to notice when tent has moved.
    pub tent: String,
}

impl Export {
    /// The id of the launcher on the host, `tent-BOX-ID` (apps only).
    pub(super) fn host_desktop_id(&self, box_name: &str) -> String {
        format!("tent-{box_name}-{}", self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub format: u32,
    #[serde(rename = "box")]
    pub box_name: String,
    pub scope: String,
    /// The engine's binary the exporting tent used, for people reading the
    /// file. Nothing runs it: the receipt is in the state every box can
    /// write, so the relay and `tent doctor` use the engine tent itself chose
    /// for the scope (`Engine::for_scope`). Receipts without it still load.
    #[serde(default)]
    pub engine: String,
    pub exports: Vec<Export>,
}

impl Receipt {
    pub fn new(box_name: &str, scope: crate::engine::Scope, engine: &str) -> Self {
        Receipt {
            format: FORMAT,
            box_name: box_name.into(),
            scope: scope.key().into_owned(),
            engine: engine.into(),
            exports: vec![],
        }
    }

    /// The receipt at `path`, or None when there is none.
    pub fn load(path: &Path) -> Result<Option<Receipt>> {
        let Some(bytes) = crate::files::read_bounded(path, MAX_RECEIPT)? else {
            return Ok(None);
        };
        Self::parse(path, &bytes).map(Some)
    }

    /// A receipt from its bytes (`path` names it in errors): well-formed JSON
    /// of a known format, whose records name files where tent puts them.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Receipt> {
        let receipt: Receipt = serde_json::from_slice(bytes).map_err(|e| Error::Export {
            message: format!("export receipt {} is damaged: {e}", path.display()),
            hint: Some("tent will not guess which files are its own; fix or remove that file by hand".into()),
        })?;
        if receipt.format > FORMAT {
            return Err(Error::Export {
                message: format!("export receipt {} is from a newer tent (format {})", path.display(), receipt.format),
                hint: Some("use that newer tent to change these exports".into()),
            });
        }
        receipt.check().map_err(|why| Error::Export {
            message: format!("export receipt {} is damaged: {why}", path.display()),
            hint: Some("tent will not guess which files are its own; fix or remove that file by hand".into()),
        })?;
        Ok(receipt)
    }

    /// Checks that every record names files where tent puts them, since
    /// removal and replacement trust the records (issue 9): at least one
    /// file, each a plain absolute path; a command's wrapper as `DIR/NAME`,
    /// an app's launcher as `DATA/applications/tent-BOX-NAME.desktop` and its
    /// icons under `DATA/icons`.
    fn check(&self) -> Result<(), String> {
        for e in &self.exports {
            let what = format!("the {} export {:?}", e.kind.as_str(), e.name);
            let Some(first) = e.files.first() else {
                return Err(format!("{what} lists no files"));
            };
            for f in &e.files {
                if !f.is_absolute() || f.components().any(|c| matches!(c, Component::ParentDir | Component::CurDir)) {
                    return Err(format!("{what} lists {}, which is not a plain absolute path", f.display()));
                }
            }
            let misplaced = |f: &Path| Err(format!("{what} lists {}, which is not where tent puts it", f.display()));
            match e.kind {
                Kind::Bin => {
                    let in_dir = e.dir.as_ref().is_none_or(|d| first.parent() == Some(d.as_path()));
                    if e.files.len() != 1 || first.file_name() != Some(e.name.as_ref()) || !in_dir {
                        return misplaced(first);
                    }
                }
                Kind::App | Kind::Entry => {
                    let apps = first.parent().filter(|d| d.file_name().is_some_and(|n| n == "applications"));
                    let launcher = match e.kind {
                        Kind::Entry => super::names::entry_launcher_file_name(&self.box_name),
                        _ => super::names::app_launcher_file_name(&self.box_name, &e.name),
                    };
                    let (Some(apps), true) = (apps, first.file_name().is_some_and(|n| *n == *launcher)) else {
                        return misplaced(first);
                    };
                    let icons = apps.with_file_name("icons");
                    if let Some(f) = e.files[1..].iter().find(|f| !f.starts_with(&icons)) {
                        return misplaced(f);
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes the receipt (temp + rename), or removes it when it lists nothing.
    pub fn save(&self, path: &Path) -> Result<()> {
        if self.exports.is_empty() {
            return crate::files::remove_if_present(path);
        }
        let text = serde_json::to_string_pretty(self).expect("a receipt always serializes");
        crate::files::write_atomic(path, format!("{text}\n").as_bytes(), 0o644)
    }

    /// Whether any export records `path`.
    pub fn records(&self, path: &Path) -> bool {
        self.exports.iter().any(|e| e.files.iter().any(|f| f == path))
    }
}

/// Every receipt under the state directory: `(scope, box, path)`; folders
/// that name no scope are not tent's and are skipped.
pub fn all_receipts(exports_dir: &Path) -> Vec<(crate::engine::Scope, String, PathBuf)> {
    let mut found = Vec::new();
    let Ok(scopes) = fs::read_dir(exports_dir) else {
        return found;
    };
    for scope in scopes.flatten() {
        let Ok(files) = fs::read_dir(scope.path()) else {
            continue;
        };
        for file in files.flatten() {
            let path = file.path();
            if path.extension().is_some_and(|e| e == "json")
                && let (Some(s), Some(b)) = (
                    scope.file_name().to_str().and_then(crate::engine::Scope::parse),
                    path.file_stem().and_then(|s| s.to_str()),
                )
            {
                found.push((s, b.to_string(), path.clone()));
            }
        }
    }
    found.sort();
    found
}

/// An exclusive lock on one box's receipts, held until dropped, so two tents
/// exporting from one box do not lose each other's records. The lock lives in
/// the exports directory's `locks/`, apart from every receipt name.
pub fn lock(receipt: &Path) -> Result<crate::files::Lock> {
    let dir = receipt.parent().unwrap_or(Path::new("."));
    let name = receipt.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    crate::files::lock(&crate::files::lock_path(dir, &name))
}

/// The files one export has changed so far. Dropped without `commit`, it puts
/// everything back: new files are removed, replaced ones get their old bytes.
/// A file's content and mode before a transaction changed it.
type Before = Option<(Vec<u8>, u32)>;

#[derive(Default)]
pub(super) struct Transaction {
    changed: Vec<(PathBuf, Before)>,
    committed: bool,
}

impl Transaction {
    /// Writes `bytes` to `path`, remembering what was there.
    pub(super) fn write(&mut self, path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
        // What is there is under the home, which boxes can write: read
        // bounded and never through a link or from a FIFO; anything else is
        // not put back.
        let before = match crate::files::read_bounded(path, MAX_BEFORE) {
            Ok(Some(old)) => {
                let old_mode = fs::symlink_metadata(path).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o644);
                Some((old, old_mode))
            }
            _ => None,
        };
        crate::files::write_atomic(path, bytes, mode)?;
        self.changed.push((path.to_path_buf(), before));
        Ok(())
    }

    pub(super) fn commit(mut self) {
        self.committed = true;
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        for (path, before) in self.changed.iter().rev() {
            match before {
                Some((bytes, mode)) => {
                    let _ = crate::files::write_atomic(path, bytes, *mode);
                }
                None => {
                    let _ = fs::remove_file(path);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export(name: &str, files: &[&str]) -> Export {
        Export {
            kind: Kind::Bin,
            name: name.into(),
            title: None,
            request: name.into(),
            target: format!("/usr/bin/{name}"),
            files: files.iter().map(PathBuf::from).collect(),
            dir: None,
            tent: "/usr/bin/tent".into(),
        }
    }

    #[test]
    fn receipts_round_trip_and_vanish_when_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exports/podman/dev.json");
        assert_eq!(Receipt::load(&path).unwrap(), None);
        let mut receipt = Receipt::new("dev", crate::engine::Scope::Podman, "/usr/bin/podman");
        receipt.exports.push(export("rg", &["/h/.local/bin/rg"]));
        receipt.save(&path).unwrap();
        let loaded = Receipt::load(&path).unwrap().unwrap();
        assert_eq!(loaded, receipt);
        assert!(loaded.records(Path::new("/h/.local/bin/rg")));
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"box\": \"dev\""), "{text}");
        assert_eq!(
            all_receipts(&dir.path().join("exports")),
            vec![(crate::engine::Scope::Podman, "dev".into(), path.clone())]
        );
        receipt.exports.clear();
        receipt.save(&path).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn damaged_receipts_are_an_error_not_an_empty_list() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.json");
        fs::write(&path, "{not json").unwrap();
        let err = Receipt::load(&path).unwrap_err();
        assert!(err.to_string().contains("damaged"), "{err}");
    }

    /// Issue 9: an empty file list once made `tent export --list` panic, and
    /// a record may not send tent to files it never puts anywhere.
    #[test]
    fn receipts_with_impossible_records_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.json");
        let app = |files: &[&str]| Export {
            kind: Kind::App,
            name: "xterm".into(),
            title: None,
            request: "xterm".into(),
            target: "/usr/share/applications/xterm.desktop".into(),
            files: files.iter().map(PathBuf::from).collect(),
            dir: None,
            tent: "/usr/bin/tent".into(),
        };
        let launcher = "/h/.local/share/applications/tent-dev-xterm.desktop";
        let mut bin_in_dir = export("rg", &["/h/bin/rg"]);
        bin_in_dir.dir = Some("/h/other".into());
        let bad = [
            export("rg", &[]),
            app(&[]),
            export("rg", &["rg"]),
            export("rg", &["/h/.local/bin/../../.bashrc"]),
            export("rg", &["/h/.bashrc"]),
            export("rg", &["/h/.local/bin/rg", "/h/.bashrc"]),
            bin_in_dir,
            app(&["/h/.bashrc"]),
            app(&["/h/.local/share/applications/mine.desktop"]),
            app(&[launcher, "/h/.bashrc"]),
            app(&[launcher, "/h/.local/share/icons/../../../.bashrc"]),
        ];
        for e in bad {
            let mut receipt = Receipt::new("dev", crate::engine::Scope::Podman, "/usr/bin/podman");
            receipt.exports.push(e.clone());
            fs::write(&path, serde_json::to_string(&receipt).unwrap()).unwrap();
            let err = Receipt::load(&path).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(&path.display().to_string()) && text.contains("damaged"), "{e:?}: {text}");
            assert!(err.hint().unwrap().contains("remove that file"), "{e:?}");
        }
        let mut receipt = Receipt::new("dev", crate::engine::Scope::Podman, "/usr/bin/podman");
        receipt.exports.push(app(&[launcher, "/h/.local/share/icons/hicolor/48x48/apps/tent-dev-xterm.png"]));
        fs::write(&path, serde_json::to_string(&receipt).unwrap()).unwrap();
        assert_eq!(Receipt::load(&path).unwrap(), Some(receipt));
    }

    #[test]
    fn a_dropped_transaction_puts_everything_back() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old");
        let new = dir.path().join("sub/new");
        fs::write(&old, "before").unwrap();
        fs::set_permissions(&old, fs::Permissions::from_mode(0o600)).unwrap();
        {
            let mut tx = Transaction::default();
            tx.write(&old, b"after", 0o755).unwrap();
            tx.write(&new, b"x", 0o644).unwrap();
            assert_eq!(fs::read(&old).unwrap(), b"after");
        }
        assert_eq!(fs::read(&old).unwrap(), b"before");
        assert_eq!(fs::metadata(&old).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(!new.exists());
        let mut tx = Transaction::default();
        tx.write(&new, b"kept", 0o755).unwrap();
        tx.commit();
        assert_eq!(fs::read(&new).unwrap(), b"kept");
        assert_eq!(fs::metadata(&new).unwrap().permissions().mode() & 0o777, 0o755);
        // No temporary files are left behind.
        let names: Vec<_> = fs::read_dir(dir.path().join("sub")).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("new")]);
    }

    /// Issue 19: receipts are in the state every box can write. A receipt
    /// without the engine field loads (old ones, and the field is never
    /// used), and one that is a FIFO, a link or huge is refused at once.
    #[test]
    fn receipts_are_read_as_a_strangers_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.json");
        let mut receipt = Receipt::new("dev", crate::engine::Scope::Podman, "/usr/bin/podman");
        receipt.exports.push(export("rg", &["/h/.local/bin/rg"]));
        let mut json: serde_json::Value = serde_json::to_value(&receipt).unwrap();
        json.as_object_mut().unwrap().remove("engine");
        fs::write(&path, json.to_string()).unwrap();
        let loaded = Receipt::load(&path).unwrap().unwrap();
        assert_eq!((loaded.engine.as_str(), loaded.exports.len()), ("", 1));

        let fifo = dir.path().join("fifo.json");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from_raw_mode(0o600)).unwrap();
        assert!(Receipt::load(&fifo).unwrap_err().to_string().contains("not a regular file"));
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(Receipt::load(&link).is_err(), "never through a link");
        let big = dir.path().join("big.json");
        fs::write(&big, vec![b' '; MAX_RECEIPT as usize + 1]).unwrap();
        assert!(Receipt::load(&big).unwrap_err().to_string().contains("larger than"));
    }

    #[test]
    fn a_transaction_never_waits_on_a_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("rg");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from_raw_mode(0o600)).unwrap();
        let mut tx = Transaction::default();
        tx.write(&fifo, b"#!/bin/sh\n", 0o755).unwrap();
        tx.commit();
        assert_eq!(fs::read(&fifo).unwrap(), b"#!/bin/sh\n");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn arb_export() -> impl Strategy<Value = Export> {
            ("[a-z][a-z0-9_.-]{0,12}", "\\PC{0,16}", "/[a-z]{1,8}", prop::option::of("\\PC{0,10}")).prop_map(
                |(name, request, dir, title)| Export {
                    kind: Kind::Bin,
                    files: vec![PathBuf::from(format!("{dir}/{name}"))],
                    dir: Some(PathBuf::from(&dir)),
                    name,
                    title,
                    request,
                    target: "/usr/bin/x".into(),
                    tent: "/usr/bin/tent".into(),
                },
            )
        }

        proptest! {
            /// Any bytes: an error or a checked receipt, never a panic.
            #[test]
            fn any_bytes_parse_or_fail_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
                if let Ok(r) = Receipt::parse(Path::new("/r.json"), &bytes) {
                    prop_assert!(r.check().is_ok());
                }
            }

            /// JSON-shaped input built from receipt pieces, some of them wrong.
            #[test]
            fn mangled_receipts_never_panic(
                exports in prop::collection::vec(arb_export(), 0..4),
                engine in "\\PC{0,24}",
                cut in 0usize..400,
            ) {
                let mut receipt = Receipt::new("dev", crate::engine::Scope::Podman, &engine);
                receipt.exports = exports;
                let text = serde_json::to_string(&receipt).unwrap();
                let _ = Receipt::parse(Path::new("/r.json"), &text.as_bytes()[..cut.min(text.len())]);
            }

            /// What is accepted saves and loads as it was.
            #[test]
            fn accepted_receipts_round_trip(exports in prop::collection::vec(arb_export(), 1..4), engine in "\\PC{0,24}") {
                let mut receipt = Receipt::new("dev", crate::engine::Scope::Podman, &engine);
                receipt.exports = exports;
                let text = serde_json::to_string_pretty(&receipt).unwrap();
                let parsed = Receipt::parse(Path::new("/r.json"), text.as_bytes()).unwrap();
                prop_assert_eq!(&parsed, &receipt);
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("dev.json");
                receipt.save(&path).unwrap();
                prop_assert_eq!(Receipt::load(&path).unwrap(), Some(receipt));
            }
        }
    }
}
