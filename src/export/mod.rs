//! Exports: a box's apps as launchers in the user's menu and its commands as
//! wrappers on PATH, each file marked as tent's and listed in a receipt
//! (docs/exports.md).
//!
//! The pure parts are their own modules: `desktop` (Desktop Entry parsing
//! and rewriting), `wrapper` (the wrapper script), `icons` (reading files out
//! of a box, placing icons), `owner` (markers and who may touch a file) and
//! `receipt` (the record, atomic writes, rollback). This file holds the
//! operations, which do the I/O: ask the box, write, record, remove. Nothing
//! here prints: warnings travel back to the command in the results.

pub mod desktop;
pub mod entry;
pub mod icons;
pub mod owner;
pub mod receipt;
pub mod wrapper;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::boxes::HostUser;
use crate::engine::{Engine, Scope};
use crate::error::{Error, Result};
use crate::output::sanitize;
use crate::paths::Paths;
use owner::{Existing, Verdict, verdict};
use receipt::{Export, Kind, Receipt, Transaction};

/// Default for `export.name_suffix`.
pub const DEFAULT_NAME_SUFFIX: &str = " (on {box})";

/// The flags that make a later tent talk to the same engine in the same mode.
pub fn engine_args(engine: &Engine) -> Vec<String> {
    engine_args_for(&engine.path.to_string_lossy(), engine.scope())
}

/// `engine_args` from what a receipt records: the engine's path and scope.
pub fn engine_args_for(engine_path: &str, scope: Scope) -> Vec<String> {
    let mut args = vec!["--engine".to_string(), engine_path.to_string()];
    if scope == Scope::PodmanRoot {
        args.push("--root".into());
    }
    args
}

/// How to remove one export, as a command line.
pub fn unexport_command(scope: Scope, box_name: &str, kind: Kind, name: &str) -> String {
    format!("{} unexport {box_name} --{} {}", scope.tent_command(), kind.as_str(), crate::shell::quote_if_needed(name))
}

/// The result of one export.
#[derive(Debug)]
pub struct Outcome {
    pub export: Export,
    /// True when it replaced an earlier export of the same name.
    pub replaced: bool,
    pub warnings: Vec<String>,
    /// Details for --verbose, such as files from the box that were skipped.
    pub notes: Vec<String>,
}

/// Exports from one box. The box must be running (the command starts it).
pub struct Exporter<'a> {
    pub engine: &'a Engine,
    pub paths: &'a Paths,
    pub box_name: &'a str,
    /// The tent binary the exported files run, absolute.
    pub tent: String,
    /// `export.name_suffix`, with `{box}` not yet replaced.
    pub name_suffix: String,
    pub force: bool,
    /// Keep the app's MimeType key (`tent export --mime-types`).
    pub mime_types: bool,
}

impl Exporter<'_> {
    fn scope(&self) -> Scope {
        self.engine.scope()
    }

    fn receipt_path(&self) -> PathBuf {
        self.paths.receipt(self.scope(), self.box_name)
    }

    /// Runs a sh script in the box as the user; returns stdout, stderr and status.
    fn box_sh(&self, script: &str, args: &[&str]) -> Result<std::process::Output> {
        let user = HostUser::current();
        let mut argv: Vec<String> = vec![
            "exec".into(),
            "--user".into(),
            format!("{}:{}", user.uid, user.gid),
            self.box_name.into(),
            "/bin/sh".into(),
            "-c".into(),
            script.into(),
            "sh".into(),
        ];
        argv.extend(args.iter().map(|a| a.to_string()));
        self.engine.output(&argv)
    }

    /// Reads files out of the box with one of the `icons` scripts.
    fn read_files(&self, what: &str, script: &str, args: &[&str]) -> Result<Vec<(String, Vec<u8>)>> {
        let output = self.box_sh(script, args)?;
        if !output.status.success() {
            return Err(Error::Engine {
                what: format!("could not read {what} in box {:?}", self.box_name),
                failure: self.engine.failure(&["exec", self.box_name, "/bin/sh", "-c", "…"], &output),
            });
        }
        icons::parse_frames(&output.stdout).map_err(|detail| Error::Export {
            message: format!("could not read {what} from box {:?}: {detail}", self.box_name),
            hint: None,
        })
    }

    /// Finds a command in the box: an absolute path, or a name on the box's
    /// PATH; it must be an executable file and not one of tent's wrappers.
    pub fn resolve_bin(&self, request: &str) -> Result<String> {
        if request.contains('/') && !request.starts_with('/') {
            return Err(Error::Export {
                message: format!("{request:?} is a relative path"),
                hint: Some("give the binary's absolute path in the box, or its command name".into()),
            });
        }
        const RESOLVE: &str = r#"t=$1
case $t in
*/*) ;;
*) # Search PATH by hand: `command -v` names builtins such as `true`.
   set -f; IFS=:; found=
   for d in ${PATH:-/usr/local/bin:/usr/bin:/bin}; do
       case $d in /*) ;; *) continue ;; esac
       if [ -f "$d/$t" ] && [ -x "$d/$t" ]; then found=$d/$t; break; fi
   done
   unset IFS; set +f
   [ -n "$found" ] || exit 3
   t=$found ;;
esac
[ -e "$t" ] || exit 3
[ -d "$t" ] && exit 5
[ -x "$t" ] || exit 4
head -c 4096 "$t" 2>/dev/null | grep -q '^# tent-export: ' && exit 6
printf '%s' "$t"
"#;
        let output = self.box_sh(RESOLVE, &[request])?;
        let b = self.box_name;
        let problem = match output.status.code() {
            Some(0) => return Ok(String::from_utf8_lossy(&output.stdout).into_owned()),
            Some(3) => format!("there is no {request:?} in box {b:?}"),
            Some(4) => format!("{request:?} in box {b:?} is not executable"),
            Some(5) => format!("{request:?} in box {b:?} is a directory"),
            Some(6) => format!("{request:?} in box {b:?} is itself a command exported by tent"),
            _ => {
                return Err(Error::Engine {
                    what: format!("could not look for {request:?} in box {b:?}"),
                    failure: self.engine.failure(&["exec", b, "/bin/sh", "-c", "…", "sh", request], &output),
                });
            }
        };
        Err(Error::Export {
            message: problem,
            hint: Some(format!(
                "install it in the box (`tent enter {b}`), or check the path with `tent run {b} -- ls -l PATH`"
            )),
        })
    }

    /// Exports a command as `dir/name`.
    pub fn export_bin(&self, request: &str, name: Option<&str>, dir: &Path) -> Result<Outcome> {
        let target = self.resolve_bin(request)?;
        // The name comes from what the user asked for, never from the path
        // the box printed: a box that answers `/usr/bin/sudo` for `foo` must
        // not put a `sudo` on the user's PATH (issue 9).
        let command = name.map_or_else(|| default_bin_name(request).to_string(), str::to_string);
        wrapper::validate_command_name(&command)
            .map_err(|message| Error::Export { message, hint: Some("choose another name with --name".into()) })?;
        let dir = absolute(dir);
        let path = dir.join(&command);
        utf8(&path)?;
        let unexport = unexport_command(self.scope(), self.box_name, Kind::Bin, &command);
        let engine_args = engine_args(self.engine);
        let relay = self.paths.relay_socket().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        let text = wrapper::render(&wrapper::Wrapper {
            command: &command,
            box_name: self.box_name,
            scope: self.scope(),
            target: &target,
            tent: &self.tent,
            engine_args: &engine_args,
            unexport: &unexport,
            relay: &relay,
            env: &crate::boxes::remote::endpoint_env(self.engine),
        });
        let export = Export {
            kind: Kind::Bin,
            name: command.clone(),
            title: None,
            request: request.into(),
            target: target.clone(),
            files: vec![path.clone()],
            dir: Some(dir.clone()),
            tent: self.tent.clone(),
        };
        let mut outcome = self.commit(export, vec![(path, text.into_bytes(), 0o755)], "--name")?;
        if !on_path(&dir) {
            outcome.warnings.push(format!(
                "{} is not on your PATH: add it (e.g. in ~/.profile: export PATH=\"{}:$PATH\") to run {command}",
                dir.display(),
                dir.display()
            ));
        }
        Ok(outcome)
    }

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
        let desktop_path = self.paths.applications().join(format!("tent-{b}-{id}.desktop"));
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

    /// Records a launcher's files (an app's or a box's entry), with the
    /// warnings and notes gathered while making them, and tells the menus.
    fn commit_launcher(
        &self,
        export: Export,
        writes: Vec<(PathBuf, Vec<u8>, u32)>,
        warnings: Vec<String>,
        notes: Vec<String>,
    ) -> Result<Outcome> {
        let mut outcome = self.commit(export, writes, "")?;
        outcome.warnings.splice(0..0, warnings);
        outcome.notes = notes;
        outcome.warnings.extend(refresh_menus(self.paths));
        Ok(outcome)
    }

    /// Writes the files of one export and records it, all or nothing. An
    /// earlier export of the same kind and name is replaced, and its files
    /// that the new one does not write again are removed.
    fn commit(&self, export: Export, writes: Vec<(PathBuf, Vec<u8>, u32)>, other_name_flag: &str) -> Result<Outcome> {
        let receipt_path = self.receipt_path();
        let _lock = receipt::lock(&receipt_path)?;
        let mut receipt = Receipt::load(&receipt_path)?
            .unwrap_or_else(|| Receipt::new(self.box_name, self.scope(), &self.engine.path.to_string_lossy()));
        receipt.engine = self.engine.path.to_string_lossy().into_owned();

        // Check every file before writing any, so a clash changes nothing.
        let mut clashes = Vec::new();
        for (path, _, _) in &writes {
            let existing = read_existing(path);
            if verdict(path, existing.as_ref(), receipt.records(path), self.box_name, self.scope()) == Verdict::NotOurs
            {
                clashes.push(path.display().to_string());
            }
        }
        if !clashes.is_empty() && !self.force {
            let other = if other_name_flag.is_empty() {
                String::new()
            } else {
                format!(", or choose another name with {other_name_flag}")
            };
            return Err(Error::Export {
                message: match clashes.as_slice() {
                    [one] => format!("{one} already exists, and tent did not write it for box {:?}", self.box_name),
                    many => format!(
                        "these files already exist, and tent did not write them for box {:?}: {}",
                        self.box_name,
                        many.join(", ")
                    ),
                },
                hint: Some(format!("pass --force to replace what is there{other}")),
            });
        }

        let previous = receipt.exports.iter().position(|e| e.kind == export.kind && e.name == export.name);
        let mut tx = Transaction::default();
        for (path, bytes, mode) in &writes {
            if crate::interrupt::interrupted() {
                return Err(Error::Interrupted);
            }
            tx.write(path, bytes, *mode)?;
        }
        let mut warnings = Vec::new();
        let replaced = previous.is_some();
        if let Some(index) = previous {
            let old = receipt.exports.remove(index);
            let stale: Vec<PathBuf> = old.files.into_iter().filter(|f| !export.files.contains(f)).collect();
            let (_, kept) = remove_files(&stale, &receipt, self.box_name, self.scope());
            warnings.extend(
                kept.iter().map(|p| format!("left {} in place: tent did not write what is there now", p.display())),
            );
        }
        receipt.exports.push(export.clone());
        receipt.save(&receipt_path)?;
        tx.commit();
        Ok(Outcome { export, replaced, warnings, notes: Vec::new() })
    }
}

/// What is at `path`, for the ownership check.
fn read_existing(path: &Path) -> ExistingOwned {
    match fs::symlink_metadata(path) {
        Err(_) => ExistingOwned::Missing,
        Ok(meta) if meta.is_file() => {
            crate::files::read_bounded(path, 64 << 20).ok().flatten().map_or(ExistingOwned::Other, ExistingOwned::File)
        }
        Ok(_) => ExistingOwned::Other,
    }
}

enum ExistingOwned {
    Missing,
    File(Vec<u8>),
    Other,
}

impl ExistingOwned {
    fn as_ref(&self) -> Existing<'_> {
        match self {
            ExistingOwned::Missing => Existing::Missing,
            ExistingOwned::File(b) => Existing::File(b),
            ExistingOwned::Other => Existing::Other,
        }
    }
}

/// Removes the files that are this box's own (recorded and marked); returns
/// `(removed, kept)`. Files already gone are in neither list.
fn remove_files(files: &[PathBuf], receipt: &Receipt, box_name: &str, scope: Scope) -> (Vec<PathBuf>, Vec<PathBuf>) {
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
    let _lock = receipt::lock(&receipt_path)?;
    let Some(mut receipt) = Receipt::load(&receipt_path)? else {
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

/// Tells menus about changed launchers and icons: refreshes the MIME cache of
/// the applications directory when `update-desktop-database` exists, and
/// bumps the icon theme's mtime so running menus rescan it. Returns warnings.
fn refresh_menus(paths: &Paths) -> Vec<String> {
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

/// The name a command is exported as when `--name` is not given: the
/// request as the user typed it, or for a path, its last component.
fn default_bin_name(request: &str) -> &str {
    request.rsplit('/').next().unwrap_or(request)
}

/// What `desktop-file-validate` says about a launcher (nothing when it is
/// not installed), each line without the scratch file's name.
#[derive(Debug, Default)]
struct Validation {
    errors: Vec<String>,
    warnings: Vec<String>,
}

fn validate_desktop(text: &str) -> std::result::Result<Validation, String> {
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

fn absolute(dir: &Path) -> PathBuf {
    if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir().map(|c| c.join(dir)).unwrap_or_else(|_| dir.to_path_buf())
    }
}

fn utf8(path: &Path) -> Result<()> {
    if path.to_str().is_none() {
        return Err(Error::Export {
            message: format!("{} is not valid UTF-8", path.display()),
            hint: Some("receipts and launchers need UTF-8 paths: choose another directory".into()),
        });
    }
    Ok(())
}

/// Whether `dir` is on PATH (comparing real paths, so ~/.local/bin through a
/// symlink counts).
fn on_path(dir: &Path) -> bool {
    let real = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|p| p == dir || fs::canonicalize(&p).is_ok_and(|p| p == real))
    })
}

/// A doctor finding about one export.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Problem {
    /// The box no longer exists: remove the export.
    BoxGone,
    /// The binary or desktop file is gone from the box: remove the export.
    TargetGone,
    /// Some written files were deleted on the host: export again.
    FilesMissing,
    /// The tent binary the files run was moved or removed: export again.
    TentMoved,
}

impl Problem {
    /// True when the fix is removing the export, false when exporting it again.
    pub fn fix_is_remove(&self) -> bool {
        matches!(self, Problem::BoxGone | Problem::TargetGone)
    }

    pub fn describe(&self) -> &'static str {
        match self {
            Problem::BoxGone => "its box is gone",
            Problem::TargetGone => "its target is gone from the box",
            Problem::FilesMissing => "some of its files were deleted",
            Problem::TentMoved => "the tent it runs was moved",
        }
    }
}

/// Checks the exports of a box that exists and runs: targets in the box,
/// files and tent on the host.
pub fn check_exports(engine: &Engine, box_name: &str, exports: &[Export]) -> Result<Vec<(Export, Problem)>> {
    let targets: Vec<&str> = exports.iter().map(|e| e.target.as_str()).collect();
    let mut present = vec![true; exports.len()];
    if !targets.is_empty() {
        let script = r#"for t in "$@"; do if [ -e "$t" ]; then echo 1; else echo 0; fi; done"#;
        let mut argv: Vec<&str> = vec!["exec", box_name, "/bin/sh", "-c", script, "sh"];
        argv.extend(&targets);
        let text = engine.capture(&format!("could not check the exports of box {box_name:?}"), &argv)?;
        for (slot, line) in present.iter_mut().zip(text.lines()) {
            *slot = line.trim() == "1";
        }
    }
    Ok(exports
        .iter()
        .zip(present)
        .filter_map(|(e, here)| {
            let problem = if !here {
                Problem::TargetGone
            } else if !Path::new(&e.tent).exists() {
                Problem::TentMoved
            } else if e.files.iter().any(|f| !f.exists()) {
                Problem::FilesMissing
            } else {
                return None;
            };
            Some((e.clone(), problem))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(root: &Path) -> Paths {
        Paths {
            config: root.join("config/tent"),
            data: root.join("data/tent"),
            state: root.join("state/tent"),
            data_home: root.join("data"),
            bin: root.join("bin"),
            home: root.to_path_buf(),
        }
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
        // Nothing recorded: nothing to do.
        assert!(remove_box_exports(&p, Scope::Podman, "dev").unwrap().is_empty());
    }

    /// Issue 9: the default name is the request's, whatever path the box
    /// answers with (it once named the wrapper after that path).
    #[test]
    fn default_bin_names_come_from_the_request() {
        assert_eq!(default_bin_name("foo"), "foo");
        assert_eq!(default_bin_name("/usr/local/bin/foo"), "foo");
        assert_eq!(default_bin_name("/usr/bin/"), "", "refused later as not a usable name");
    }

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

    #[test]
    fn unexport_commands_name_the_engine() {
        assert_eq!(unexport_command(Scope::Podman, "dev", Kind::Bin, "rg"), "tent unexport dev --bin rg");
        assert_eq!(
            unexport_command(Scope::Docker, "dev", Kind::App, "a b"),
            "tent --engine docker unexport dev --app 'a b'"
        );
        assert_eq!(unexport_command(Scope::PodmanRoot, "dev", Kind::Bin, "rg"), "tent --root unexport dev --bin rg");
    }
}
