//! Exporting an app: its desktop file read out of the box and rewritten as a
//! launcher in the user's menu, with its icons, and checked by
//! `desktop-file-validate` when that is installed.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::exporter::{Exporter, Outcome, utf8};
use super::invoke::{engine_args, unexport_command};
use super::names::app_launcher_file_name;
use super::receipt::{Export, Kind};
use super::{desktop, icons, owner};
use crate::error::{Error, Result};
use crate::text::sanitize;

impl Exporter<'_> {
    /// Exports an app: its launcher into the applications directory and its
    /// icons into the hicolor theme.
    pub fn export_app(&self, request: &str) -> Result<Outcome> {
        let b = self.box_name;
        let by_path = request.contains('/');
        if by_path && !request.starts_with('/') {
            return Err(Error::Export {
                message: format!("{request:?} is a relative path"),
                hint: Some("give the .desktop file's absolute path in the box, or the app's id or name".into()),
            });
        }
        let args: Vec<&str> = if by_path { vec![request] } else { vec![] };
        let found = self.read_files("its desktop files", &icons::desktop_files_script(), &args)?;
        if by_path && found.is_empty() {
            return Err(Error::Export {
                message: format!("there is no readable file {request:?} in box {b:?}"),
                hint: Some(format!("see the box's apps with `tent run {b} -- ls /usr/share/applications`")),
            });
        }
        let mut candidates = Vec::new();
        for (path, bytes) in found {
            // The id becomes part of a file name on the host.
            if path.chars().any(char::is_control) || !path.ends_with(".desktop") {
                if by_path {
                    return Err(Error::Export {
                        message: format!("{} in box {b:?} is not a usable desktop file name", sanitize(&path)),
                        hint: Some("give the path of a file whose name ends in .desktop".into()),
                    });
                }
                continue;
            }
            match desktop::DesktopFile::parse(&String::from_utf8_lossy(&bytes)) {
                Ok(file) => candidates.push(desktop::Candidate { id: desktop::desktop_id(&path), path, file }),
                Err(reason) if by_path => {
                    return Err(Error::Export {
                        message: format!("{} in box {b:?}: {reason}", sanitize(&path)),
                        hint: Some(format!("see the file with `tent run {b} -- cat {}`", sanitize(&path))),
                    });
                }
                Err(_) => {}
            }
        }
        let app = if by_path {
            // The file the user named, whatever directory it is in.
            &candidates[0]
        } else {
            desktop::find_app(request, &candidates).map_err(|message| Error::Export {
                message,
                hint: Some("install the app in the box first, or give the path of its .desktop file".into()),
            })?
        };
        let id = app.id.trim_end_matches(".desktop").to_string();

        let wanted = app.file.icons();
        let wanted_refs: Vec<&str> = wanted.iter().map(String::as_str).collect();
        let found_icons = if wanted.is_empty() {
            Vec::new()
        } else {
            self.read_files("its icons", &icons::icon_files_script(), &wanted_refs)?
        };
        let icons::Plan { files: icon_files, names: icon_names, skipped } = icons::plan(b, &wanted, &found_icons);
        let notes: Vec<String> = skipped.into_iter().map(|s| format!("skipped icon file {s}")).collect();
        let mut warnings = Vec::new();
        for icon in &wanted {
            if !icon_names.iter().any(|(original, _)| original == icon) {
                warnings.push(format!("no icon file {icon:?} in box {b:?}: the launcher keeps that icon name"));
            }
        }
        let icons_dir = self.paths.icons();
        let icon_map: BTreeMap<String, String> = icon_names
            .into_iter()
            .map(|(original, new)| {
                // Icons placed loose (XPM) are found by absolute path only.
                let loose = icon_files.iter().find(|f| {
                    f.relative.parent() == Some(Path::new(""))
                        && f.relative.file_stem().is_some_and(|s| s == new.as_str())
                });
                let value = loose.map_or(new, |f| icons_dir.join(&f.relative).display().to_string());
                (original, value)
            })
            .collect();

        let launch =
            desktop::Launch { tent: self.tent.clone(), engine_args: engine_args(self.engine), box_name: b.into() };
        let header = owner::marker_lines(b, self.scope(), &unexport_command(self.scope(), b, Kind::App, &id));
        let suffix = self.name_suffix.replace("{box}", b);
        let rewrite = desktop::Rewrite {
            launch: &launch,
            header: &header,
            name_suffix: &suffix,
            icons: &icon_map,
            original_id: &id,
            original_path: &app.path,
            mime_types: self.mime_types,
        };
        let shown = sanitize(&app.path);
        let launcher = desktop::rewrite(&app.file, &rewrite).map_err(|reason| Error::Export {
            message: format!("cannot export {shown} from box {b:?}: {reason}"),
            hint: Some(format!("see the file with `tent run {b} -- cat {shown}`")),
        })?;
        let text = launcher.render();
        let desktop_path = self.paths.applications().join(app_launcher_file_name(b, &id));
        utf8(&desktop_path)?;
        // The validator's errors are things a menu may read otherwise than
        // tent did, so they stop the export; its warnings do not.
        match validate_desktop(&text) {
            Ok(found) if !found.errors.is_empty() => {
                return Err(Error::Export {
                    message: format!(
                        "desktop-file-validate rejects the launcher tent made from {shown} in box {b:?}:\n{}",
                        found.errors.join("\n")
                    ),
                    hint: Some(format!(
                        "the app's desktop file is malformed: fix it in the box (`tent run {b} --as-root -- …`) or report it to its packager"
                    )),
                });
            }
            Ok(found) => warnings.extend(found.warnings.into_iter().map(|w| format!("desktop-file-validate: {w}"))),
            Err(why) => warnings.push(format!("could not check the launcher with desktop-file-validate: {why}")),
        }

        let mut writes = vec![(desktop_path.clone(), text.into_bytes(), 0o644)];
        for icon in icon_files {
            writes.push((icons_dir.join(icon.relative), icon.bytes, 0o644));
        }
        let export = Export {
            kind: Kind::App,
            name: id,
            title: app.file.get_string(desktop::MAIN_GROUP, "Name"),
            request: request.into(),
            target: app.path.clone(),
            files: writes.iter().map(|(p, _, _)| p.clone()).collect(),
            dir: None,
            tent: self.tent.clone(),
        };
        self.commit_launcher(export, writes, warnings, notes)
    }
}

/// What `desktop-file-validate` says about a launcher (nothing when it is
/// not installed), each line without the scratch file's name.
#[derive(Debug, Default)]
pub(super) struct Validation {
    pub(super) errors: Vec<String>,
    pub(super) warnings: Vec<String>,
}

pub(super) fn validate_desktop(text: &str) -> Result<Validation, String> {
    let Ok(tool) = which::which("desktop-file-validate") else {
        return Ok(Validation::default());
    };
    let (_dir, path) = scratch_file(&std::env::temp_dir(), "launcher.desktop", text.as_bytes())
        .map_err(|e| format!("no scratch file in {}: {e}", std::env::temp_dir().display()))?;
    let out = Command::new(&tool).arg(&path).stdin(Stdio::null()).output().map_err(|e| e.to_string())?;
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut found = Validation::default();
    for line in report.lines() {
        let line = line.strip_prefix(&format!("{}: ", path.display())).unwrap_or(line);
        let line = sanitize(line).into_owned();
        if line.starts_with("error:") {
            found.errors.push(line);
        } else if line.starts_with("warning:") {
            found.warnings.push(line);
        }
    }
    // It exits 1 on errors; any other failure without a report is its own.
    if !out.status.success() && found.errors.is_empty() {
        found.errors.push(format!("error: {}", sanitize(String::from_utf8_lossy(&out.stderr).trim())));
    }
    Ok(found)
}

/// Writes `bytes` to a new file `name` in a new directory under `parent`,
/// removed with the returned guard. The directory has a random name and
/// mode 0700 and is made by mkdir, the file is created with O_EXCL: a name
/// that other users and boxes can guess, such as the `tent-validate-PID`
/// of old, let them put a symlink there and have tent write through it into
/// the user's files (issue 9).
fn scratch_file(parent: &Path, name: &str, bytes: &[u8]) -> std::io::Result<(tempfile::TempDir, PathBuf)> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = tempfile::Builder::new()
        .prefix("tent-validate-")
        .permissions(fs::Permissions::from_mode(0o700))
        .tempdir_in(parent)?;
    let path = dir.path().join(name);
    let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
    file.write_all(bytes)?;
    Ok((dir, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 9: the old scratch directory, `$TMPDIR/tent-validate-PID`, could
    /// be made beforehand as a symlink into the user's files; tent then wrote
    /// through it. A pre-made symlink at the old name, or at the file's name,
    /// must never be written through.
    #[test]
    fn scratch_files_never_write_through_existing_symlinks() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        fs::create_dir(&victim).unwrap();
        let trap = tmp.path().join("tmp");
        fs::create_dir(&trap).unwrap();
        std::os::unix::fs::symlink(&victim, trap.join(format!("tent-validate-{}", std::process::id()))).unwrap();

        let (dir, path) = scratch_file(&trap, "launcher.desktop", b"[Desktop Entry]\n").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"[Desktop Entry]\n");
        assert_eq!(path.parent(), Some(dir.path()));
        let meta = fs::symlink_metadata(dir.path()).unwrap();
        assert!(meta.is_dir() && !meta.file_type().is_symlink());
        assert_eq!(meta.permissions().mode() & 0o777, 0o700);
        assert_eq!(fs::read_dir(&victim).unwrap().count(), 0, "nothing was written through the symlink");
        // Each call gets a directory of its own, and it goes with its guard.
        let (other, _) = scratch_file(&trap, "launcher.desktop", b"x").unwrap();
        assert_ne!(other.path(), dir.path());
        let gone = dir.path().to_path_buf();
        drop(dir);
        assert!(!gone.exists());
        assert_eq!(fs::read_dir(&victim).unwrap().count(), 0);
    }

    #[test]
    fn validation_errors_and_warnings_are_told_apart() {
        if which::which("desktop-file-validate").is_err() {
            eprintln!("desktop-file-validate is not installed; skipped");
            return;
        }
        let good = "[Desktop Entry]\nType=Application\nName=A\nExec=a\n";
        let found = validate_desktop(good).unwrap();
        assert!(found.errors.is_empty() && found.warnings.is_empty(), "{found:?}");
        let bad = "[Desktop Entry]\nType=Application\nName=A\nExec=a\nExec=b\n";
        let found = validate_desktop(bad).unwrap();
        assert!(!found.errors.is_empty(), "{found:?}");
        assert!(found.errors.iter().all(|e| e.starts_with("error:") && !e.contains("launcher.desktop:")), "{found:?}");
    }
}
