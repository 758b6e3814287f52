//! What every command that works with boxes needs, resolved once, and the
//! helpers commands share. A verb that runs another verb's step calls that
//! verb's file (`tent export --check` is `doctor::check_exports`); nothing of
//! a single verb lives here.

use std::collections::BTreeMap;

use super::split_words;
use crate::boxes::{BoxSpec, host::default_image_for};
use crate::cli::CreateArgs;
use crate::config::Config;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::export::{self, Exporter};
use crate::output::{Printer, Unanswered};
use crate::paths::Paths;
use crate::runtime::Boxes;
use crate::snapshots::Snapshots;

/// A box fetched under its lock, with that lock: (container, lock).
pub(crate) type HeldBox<'a> = (&'a crate::engine::json::Container, &'a crate::files::Lock);

pub(crate) struct Context<'a> {
    pub printer: &'a Printer,
    pub config: Config,
    pub paths: Paths,
    pub engine: Engine,
}

impl Context<'_> {
    pub(crate) fn boxes(&self) -> Boxes<'_> {
        Boxes {
            engine: &self.engine,
            paths: &self.paths,
            progress: self.printer,
            host_commands: &self.config.host_commands,
        }
    }

    /// The snapshots of the boxes on this engine (`snapshots`).
    pub(crate) fn snapshots(&self) -> Snapshots<'_> {
        Snapshots { boxes: self.boxes() }
    }

    /// For a remote endpoint, writes its address next to tent's state
    /// (`Paths::endpoint_note`), so that a human can tell which folder is
    /// which machine. Only when it is missing or says something else.
    pub(crate) fn note_endpoint(&self) {
        let Some(remote) = self.engine.endpoint.remote() else { return };
        let note = self.paths.endpoint_note(self.engine.scope());
        let text = format!("{} {}\n", remote.kind.name(), remote.address);
        let current = crate::files::read_bounded(&note, 4096).ok().flatten();
        if current.as_deref() != Some(text.as_bytes()) {
            // A box can write tent's state: the folder must be a real one,
            // not a link a box put there (the file itself is replaced, never
            // followed, by write_atomic's rename).
            let Some(dir) = note.parent() else { return };
            let _ = std::fs::create_dir_all(dir);
            if !std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
                return;
            }
            if let Err(err) = crate::files::write_atomic(&note, text.as_bytes(), 0o600) {
                self.printer.verbose(format!("could not note the endpoint's address: {err}"));
            }
        }
    }

    /// Where exported commands go by default (config `export.bin_dir`, else
    /// `$XDG_BIN_HOME` or ~/.local/bin).
    pub(crate) fn bin_dir(&self) -> std::path::PathBuf {
        self.paths.bin_dir(self.config.export.bin_dir.as_deref())
    }

    /// The exporter for one box, with the tent binary the exported files will run.
    pub(crate) fn exporter<'a>(&'a self, engine: &'a Engine, name: &'a str, force: bool) -> Result<Exporter<'a>> {
        // Exported launchers and wrappers run the box from this machine.
        engine.require_local(&format!("exporting from box {name:?}"))?;
        self.exporter_anywhere(engine, name, force)
    }

    /// `exporter` for a box on any endpoint: only `tent export --bin` takes
    /// it, whose wrapper records the endpoint (`boxes::remote::endpoint_env`).
    pub(crate) fn exporter_anywhere<'a>(
        &'a self,
        engine: &'a Engine,
        name: &'a str,
        force: bool,
    ) -> Result<Exporter<'a>> {
        let tent = std::env::current_exe()
            .map_err(|e| Error::Export { message: format!("cannot tell where the tent binary is: {e}"), hint: None })?;
        let tent = tent.to_str().map(str::to_string).ok_or_else(|| Error::Export {
            message: format!("tent's own path {} is not UTF-8", tent.display()),
            hint: Some("install tent in a directory whose path is UTF-8".into()),
        })?;
        Ok(Exporter {
            engine,
            paths: &self.paths,
            box_name: name,
            tent,
            name_suffix: self.config.export.name_suffix.clone().unwrap_or_else(|| export::DEFAULT_NAME_SUFFIX.into()),
            force,
            mime_types: false,
        })
    }

    /// Takes a snapshot of box `name`'s system (`snapshot`, else the default
    /// name of `kind`), showing its progress; keeps at most `snapshots.keep`,
    /// naming each older one that goes (`tent snapshot`, upgrade, rescue).
    pub(crate) fn take_snapshot(
        &self,
        name: &str,
        snapshot: Option<&str>,
        kind: crate::boxes::snapshot::SnapshotKind,
    ) -> Result<crate::boxes::snapshot::Snapshot> {
        let keep = self.config.snapshots_keep;
        let spinner = self.printer.spinner(format!("taking a snapshot of {name}"));
        let taken = self.snapshots().take(name, snapshot, kind, keep);
        spinner.finish();
        let (taken, dropped) = taken?;
        for old in dropped {
            self.printer
                .status(format!("deleted the oldest snapshot {} of {name} (snapshots.keep = {keep})", old.name));
        }
        Ok(taken)
    }

    /// Puts box `name` on a snapshot image (rollback, a failed upgrade,
    /// rescue), and moves tent's records keyed to the container id to the
    /// new container.
    /// `held`: the box as the caller fetched it under the box's lock, which
    /// it holds; otherwise the rollback takes both.
    pub(crate) fn rollback_box(
        &self,
        name: &str,
        snapshot: &crate::boxes::snapshot::Snapshot,
        held: Option<HeldBox<'_>>,
    ) -> Result<()> {
        let snapshots = self.snapshots();
        let (old_id, new_id) = match held {
            Some((old, lock)) => snapshots.rollback_locked(name, old, snapshot, lock)?,
            None => snapshots.rollback(name, snapshot)?,
        };
        self.follow_record(name, &old_id, &new_id);
        // The new container names its image (`tent.image-id`): it needs none.
        self.boxes().note_image(name, None);
        Ok(())
    }

    fn follow_record(&self, name: &str, old_id: &str, new_id: &str) {
        let file = crate::manifest::record::path(&self.paths, self.engine.scope(), name);
        if let Some(mut record) = crate::manifest::record::read(&file, old_id) {
            record.container = new_id.to_string();
            if let Err(err) = crate::manifest::record::write(&file, &record) {
                self.printer.warn(format!("the manifest record of {name}: {err}"));
            }
        }
    }

    /// Makes box `dst` as a copy of box `src`: its system (committed to a
    /// private image) and its spec, with its own host name and state (`tent
    /// clone`, a manifest's `clone`). Nothing is left behind on failure.
    pub(crate) fn clone_box(&self, src: &str, dst: &str) -> Result<()> {
        use crate::boxes::snapshot::SnapshotKind;
        use crate::boxes::{labels, validate_name};
        let boxes = self.boxes();
        let container = boxes.get(src)?;
        validate_name(dst)?;
        if let Some(existing) = self.engine.inspect(dst)? {
            return Err(Error::BoxExists {
                name: dst.into(),
                engine: self.engine.describe(),
                is_tent: existing.label(labels::FORMAT).is_some(),
            });
        }
        let mut spec = BoxSpec::from_label(container.label(labels::SPEC)).ok_or_else(|| Error::Snapshot {
            message: format!("box {src:?} has no readable spec label, so tent cannot copy it"),
            hint: None,
        })?;
        // A new name gets its own host name; a manifest owns only the boxes it made.
        spec.hostname = None;
        spec.manifest = None;
        let spinner = self.printer.spinner(format!("copying the system of {src}"));
        let image = self.snapshots().commit_private(src, dst, SnapshotKind::Clone);
        spinner.finish();
        let image = image?;
        self.printer.step(format!("creating {dst} from {src}"));
        if let Err(err) = boxes.create_from(dst, &spec, true, Some(&image)) {
            let _ = self.engine.output(&crate::engine::argv::rmi(&image));
            return Err(err);
        }
        Ok(())
    }

    /// Finishes or undoes rollbacks a killed tent left half-done.
    pub(crate) fn recover(&self) {
        for done in self.snapshots().recover() {
            match done {
                crate::snapshots::Recovery::Finished(name, old_id) => {
                    if let Ok(Some(new)) = self.engine.inspect(&name) {
                        self.follow_record(&name, &old_id, &new.id);
                    }
                    self.printer.warn(format!("finished the rollback of {name} that an earlier tent left half-done"))
                }
                crate::snapshots::Recovery::Undone(name) => self.printer.warn(format!(
                    "undid the rollback of {name} that an earlier tent left half-done: it is as it was before"
                )),
            }
        }
    }

    /// The spec of a new box from `tent create`'s flags and the config.
    pub(crate) fn spec_from_args(&self, args: &CreateArgs) -> Result<BoxSpec> {
        let ctx = self;
        let from_distro = match &args.distro {
            Some(distro) => {
                Some(crate::catalog::Catalog::load(&ctx.config.distros).image(distro, args.release.as_deref())?)
            }
            None => None,
        };
        let image = match from_distro.or_else(|| args.image.clone()).or_else(|| ctx.config.image.clone()) {
            Some(image) => image,
            None => default_image_for(&std::fs::read_to_string("/etc/os-release").unwrap_or_default()),
        };
        crate::boxes::spec::validate_image(&image)?;
        let mut packages = ctx.config.packages.clone();
        packages.extend(split_words(&args.packages));
        let mut env = BTreeMap::new();
        for pair in &args.env {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                Error::usage(
                    format!("--env {pair:?} is not KEY=VALUE"),
                    Some("write it as --env NAME=value".to_string()),
                )
            })?;
            env.insert(key.to_string(), value.to_string());
        }
        let home = match &args.home {
            Some(dir) if dir.is_relative() => Some(std::env::current_dir().map_err(|e| Error::io(".", e))?.join(dir)),
            Some(dir) => Some(dir.clone()),
            // Config `home_prefix`: the box's own home in it, named after it.
            None => ctx.config.home_prefix.as_ref().map(|prefix| prefix.join(&args.name)),
        };
        let mut volumes = ctx.config.volumes.clone();
        volumes.extend(args.volume.iter().cloned());
        let mut unshare = crate::boxes::spec::Unshare {
            netns: args.unshare_netns,
            ipc: args.unshare_ipc,
            process: args.unshare_process,
            devsys: args.unshare_devsys,
            groups: args.unshare_groups,
        };
        if args.unshare_all {
            unshare = crate::boxes::spec::Unshare::all();
        }
        Ok(BoxSpec {
            image,
            packages,
            home,
            mount_home: args.mount_home,
            volumes,
            env,
            hostname: args.hostname.clone(),
            root: ctx.engine.rootful() && ctx.engine.through_sudo(),
            sudo_nopasswd: args.sudo_nopasswd,
            init_hooks: args.init_hook.clone(),
            start_hooks: Vec::new(),
            pre_init_hooks: args.pre_init_hook.clone(),
            attach_hooks: Vec::new(),
            init: args.init,
            nvidia: args.nvidia,
            unshare,
            engine_args: args.engine_arg.clone(),
            platform: args.platform.clone(),
            pull: args.pull,
            no_host: args.no_host || ctx.config.no_host,
            own_xdg_open: args.own_xdg_open,
            stop_when_idle: match (args.stop_when_idle, &ctx.config.stop_when_idle) {
                (Some(_), _) if args.init => {
                    return Err(Error::usage(
                        "--stop-when-idle does not go with --init: the image's init (systemd) runs the box, not tent's",
                        Some("leave out one of them".to_string()),
                    ));
                }
                (Some(secs), _) => Some(secs),
                // The config's default is for boxes tent's init runs.
                (None, Some(_)) if args.init => None,
                (None, Some(text)) => Some(crate::boxes::spec::parse_duration(text).map_err(|why| {
                    Error::usage(
                        format!("config stop_when_idle: {why}"),
                        Some("fix it in ~/.config/tent/config.toml, e.g. stop_when_idle = \"30m\"".into()),
                    )
                })?),
                (None, None) => None,
            },
            manifest: None,
        })
    }

    /// Puts the box's launcher in the desktop menu (`tent entry`, `create
    /// --entry`, manifests' `entry = true`); starts the box to read its logo.
    pub(crate) fn add_entry(&self, name: &str) -> Result<()> {
        let boxes = self.boxes();
        let container = boxes.get(name)?;
        boxes.start(name, Some(&container))?;
        let exporter = self.exporter(&self.engine, name, false)?;
        let outcome = exporter.export_entry(self.config.entry.terminal.as_deref())?;
        for warning in &outcome.warnings {
            self.printer.warn(warning);
        }
        for note in &outcome.notes {
            self.printer.verbose(note);
        }
        if let Some(path) = outcome.export.files.first() {
            self.printer.status(format!("added {name} to the menu: {}", path.display()));
        }
        Ok(())
    }

    /// The box `enter`/`run` use: the one named, else config `default_box`,
    /// else the user's only box. A missing default box, or none at all, is
    /// offered for creation from the default image (asked on a terminal;
    /// `yes` skips the question).
    pub(crate) fn box_or_default(&self, given: Option<&str>, yes: bool) -> Result<String> {
        if let Some(name) = given {
            return Ok(name.to_string());
        }
        if let Some(name) = project_box()? {
            return Ok(name);
        }
        let boxes = self.boxes();
        if let Some(name) = self.config.default_box.as_deref() {
            // Its state dir means tent made it: no engine call on this path.
            if boxes.state(name).dir.is_dir() || self.engine.inspect(name)?.is_some() {
                return Ok(name.to_string());
            }
            return self.offer_default_box(Some(name), yes);
        }
        // Yours: tent boxes of your uid that tent made from this HOME (their
        // state is here); a test sandbox's or another login's are not.
        let me = rustix::process::getuid().as_raw().to_string();
        let mut names: Vec<String> = boxes
            .list()?
            .into_iter()
            .filter(|c| c.label(crate::boxes::labels::UID).is_none_or(|uid| uid == me))
            .map(|c| c.name)
            .filter(|name| boxes.state(name).dir.is_dir())
            .collect();
        names.sort();
        match names.len() {
            0 => self.offer_default_box(None, yes),
            1 => Ok(names.remove(0)),
            _ => Err(Error::usage(
                format!("which box? you have {}", names.join(", ")),
                Some(format!(
                    "name one (`tent enter {}`), or set `default_box = \"{}\"` in {}",
                    names[0],
                    names[0],
                    self.config_file_display()
                )),
            )),
        }
    }

    /// Creates the default box (`default_box`, else one named after the
    /// default image) once the user agrees.
    fn offer_default_box(&self, configured: Option<&str>, yes: bool) -> Result<String> {
        let spec = self.spec_from_args(&CreateArgs::default())?;
        let name = configured.map_or_else(|| default_box_name(&spec.image), str::to_string);
        let missing = match configured {
            Some(name) => format!("your default box {name} does not exist"),
            None => "you have no box yet".to_string(),
        };
        let question = format!("{}. Create {name} from {}?", capitalize(&missing), spec.image);
        let unanswered = Unanswered::Refuse(Error::usage(
            missing,
            Some(format!("pass --yes to create {name} from {}, or create a box with `tent create NAME`", spec.image)),
        ));
        self.printer.agree(yes, &question, unanswered, "no box was created")?;
        self.printer.step(format!("creating {name} from {} on {}", spec.image, self.engine.describe()));
        self.boxes().create(&name, &spec, true)?;
        self.printer.status(format!("{name} is ready"));
        Ok(name)
    }

    fn config_file_display(&self) -> String {
        match &self.config.file {
            Some(path) => path.display().to_string(),
            None => self.paths.config.join("config.toml").display().to_string(),
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The box of the project this directory is in: the nearest manifest up the
/// tree (`tent.toml`, or the project's devcontainer.json) that lists exactly
/// one box, so `cd project && tent enter` works. It wins over `default_box`.
/// A manifest of several boxes asks for a name. The search stops at `/` and
/// after 64 folders; it reads only files, no engine.
fn project_box() -> Result<Option<String>> {
    let Ok(mut dir) = std::env::current_dir() else { return Ok(None) };
    for _ in 0..64 {
        let mut files = vec![dir.join(crate::manifest::DEFAULT_FILE)];
        files.extend(crate::manifest::devcontainer::candidates(&dir));
        files.retain(|f| f.is_file());
        if let Some(file) = files.first() {
            if files.len() > 1 && !file.ends_with(crate::manifest::DEFAULT_FILE) {
                return Err(Error::usage(
                    format!("which box? {} has {} dev container configurations", dir.display(), files.len()),
                    Some("name the box: `tent enter BOX` (`tent list` shows them)".to_string()),
                ));
            }
            let manifest = crate::manifest::load(file)?;
            return match manifest.boxes.as_slice() {
                [one] => Ok(Some(one.name.clone())),
                [] => Ok(None),
                many => {
                    let names: Vec<&str> = many.iter().map(|b| b.name.as_str()).collect();
                    Err(Error::usage(
                        format!("which box? {} lists {}", file.display(), names.join(", ")),
                        Some(format!("name one: `tent enter {}`", names[0])),
                    ))
                }
            };
        }
        if !dir.pop() {
            break;
        }
    }
    Ok(None)
}

/// The name of the box made for a user who has none: the image's name and
/// tag, e.g. `debian-bookworm` for `docker.io/library/debian:bookworm`.
fn default_box_name(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    let last = last.split('@').next().unwrap_or(last);
    let name: String = last
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' { c } else { '-' })
        .collect();
    let name = name.trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_string();
    if name.is_empty() || crate::boxes::validate_name(&name).is_err() { "tent".into() } else { name }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_box_names_come_from_the_image() {
        assert_eq!(default_box_name("debian:bookworm"), "debian-bookworm");
        assert_eq!(default_box_name("registry.fedoraproject.org/fedora:41"), "fedora-41");
        assert_eq!(default_box_name("opensuse/tumbleweed:latest"), "tumbleweed-latest");
        assert_eq!(default_box_name("x@sha256:abc"), "x");
        assert_eq!(default_box_name(":::"), "tent");
    }
}
