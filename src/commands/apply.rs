//! `tent apply` and `tent manifest`.
//!
//! apply: read the manifest, plan it against the boxes that exist (a pure
//! function, `manifest::plan`), show the plan, ask before anything that
//! destroys or takes over a box, then carry the actions out box by box. After
//! every step that succeeds the box's record is written, so a failure or
//! Ctrl-C leaves each box either as it was or as far as it got, and running
//! apply again finishes the job.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Context;
use crate::boxes::lifecycle::write_hooks;
use crate::boxes::{BoxSpec, host::default_image_for, labels};
use crate::cli::{ApplyArgs, ManifestArgs};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::export::Selector;
use crate::manifest::model::Exports;
use crate::manifest::plan::Options;
use crate::manifest::{self, Action, BinExport, Current, Desired, Exporter, Manifest, Mode, Record, record};
use crate::{export, interrupt};

const DEFAULT_FILE: &str = "tent.toml";

pub fn apply(ctx: &Context<'_>, args: &ApplyArgs) -> Result<i32> {
    let file = args.file.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_FILE));
    let manifest = manifest::load(&file)?;
    for warning in &manifest.warnings {
        ctx.printer.warn(warning);
    }
    let desired = desired(ctx, &manifest);
    let (current, ids) = current(ctx, &manifest, &desired)?;
    let actions = manifest::plan::plan(
        &desired,
        &current,
        &Options { manifest: &manifest.path, mode: mode(&ctx.engine), prune: args.prune },
    );

    // The plan is the data of a dry run; otherwise it is status.
    for action in &actions {
        if args.dry_run && !args.json {
            ctx.printer.data(action.describe());
        } else if !args.json || ctx.printer.verbose {
            ctx.printer.status(action.describe());
        }
    }
    let report = |results: &[StepResult]| {
        if args.json {
            let changed = results.iter().any(|r| r.status == Status::Done);
            let json =
                Report { manifest: &manifest.path, dry_run: args.dry_run, changed, plan: &actions, result: results };
            ctx.printer.data(serde_json::to_string_pretty(&json).expect("a report always serializes"));
        }
    };

    if let Some(conflict) = actions.iter().find(|a| matches!(a, Action::Conflict { .. })) {
        let Action::Conflict { name, reason } = conflict else { unreachable!() };
        let at = manifest.boxes.iter().find(|b| &b.name == name).map(|b| format!("{}: ", b.at)).unwrap_or_default();
        return Err(Error::Manifest {
            message: format!("{at}box {name:?}: {reason}; nothing was changed"),
            hint: Some(format!("rename the box in {}, or remove that container yourself", manifest.path.display())),
        });
    }
    if !actions.iter().any(Action::changes) {
        let kept = actions.iter().filter(|a| matches!(a, Action::Unchanged { .. })).count();
        if !args.json {
            ctx.printer.status(format!("nothing to do: {kept} box(es) up to date"));
        }
        report(&[]);
        return Ok(0);
    }
    if args.dry_run {
        report(&[]);
        return Ok(0);
    }
    confirm(ctx, args, &actions)?;

    let exporter = DirectExporter { ctx };
    let mut run = Run { ctx, manifest: &manifest, ids, exporter: &exporter, error: None };
    let results = run.all(&actions, &desired, &current);
    report(&results);
    match results.iter().find(|r| r.status == Status::Failed) {
        Some(failed) => {
            let name = &failed.name;
            let err = run.error.take().expect("a failed step keeps its error");
            ctx.printer.status(format!(
                "apply stopped at box {name}; the boxes after it were not touched. \
                 Fix the problem and run `{}` again to finish.",
                again(args)
            ));
            Err(err)
        }
        None => {
            if !args.json {
                let boxes: std::collections::BTreeSet<&str> =
                    results.iter().filter(|r| r.status == Status::Done).map(|r| r.name.as_str()).collect();
                ctx.printer.status(format!("applied: {} box(es) changed", boxes.len()));
            }
            Ok(0)
        }
    }
}

/// The manifest's boxes with their specs resolved as `tent create` would.
fn desired(ctx: &Context<'_>, manifest: &Manifest) -> Vec<Desired> {
    let default_image = ctx
        .config
        .image
        .clone()
        .unwrap_or_else(|| default_image_for(&std::fs::read_to_string("/etc/os-release").unwrap_or_default()));
    manifest
        .boxes
        .iter()
        .map(|entry| {
            let mut spec = entry.spec(&default_image, &manifest.path);
            spec.root = ctx.engine.rootful() && ctx.engine.through_sudo();
            Desired { name: entry.name.clone(), spec, root: entry.root, exports: entry.exports.clone() }
        })
        .collect()
}

/// The containers with wanted names and the boxes this manifest made, each
/// with its record when the record is for that very container; and their ids.
fn current(
    ctx: &Context<'_>,
    manifest: &Manifest,
    desired: &[Desired],
) -> Result<(Vec<Current>, BTreeMap<String, String>)> {
    let scope = ctx.engine.scope().as_str();
    let mut current = Vec::new();
    let mut ids = BTreeMap::new();
    for container in ctx.boxes().list()? {
        let label = BoxSpec::from_label(container.label(labels::SPEC));
        let record = record::read(&record::path(&ctx.paths, scope, &container.name), &container.id);
        let entry = Current { name: container.name.clone(), tent: true, label, record };
        if desired.iter().any(|d| d.name == entry.name) || entry.owner() == Some(manifest.path.as_path()) {
            ids.insert(container.name.clone(), container.id.clone());
            current.push(entry);
        }
    }
    // A container that is not a tent box does not show in the list; it must
    // still stop a create of the same name, before anything is changed.
    for want in desired {
        if current.iter().any(|c| c.name == want.name) {
            continue;
        }
        if let Some(container) = ctx.engine.inspect(&want.name)? {
            let tent = container.label(labels::FORMAT).is_some();
            let label = BoxSpec::from_label(container.label(labels::SPEC));
            ids.insert(container.name.clone(), container.id.clone());
            current.push(Current { name: want.name.clone(), tent, label, record: None });
        }
    }
    Ok((current, ids))
}

/// The apply command as the user gave it, for hints.
fn again(args: &ApplyArgs) -> String {
    let mut words = vec!["tent".to_string(), "apply".to_string()];
    if let Some(file) = &args.file {
        words.push(file.to_string_lossy().into_owned());
    }
    if args.prune {
        words.push("--prune".into());
    }
    crate::shell::words(&words)
}

fn mode(engine: &Engine) -> Mode {
    if engine.through_sudo() {
        Mode::Sudo
    } else if engine.rootful() {
        Mode::Root
    } else {
        Mode::Rootless
    }
}

/// Recreating, removing or taking over a box is asked on a terminal; off a
/// terminal it needs `--yes`, so a script never destroys a box by surprise.
fn confirm(ctx: &Context<'_>, args: &ApplyArgs, actions: &[Action]) -> Result<()> {
    let risky: Vec<&Action> = actions.iter().filter(|a| a.needs_confirmation()).collect();
    if risky.is_empty() || args.yes {
        return Ok(());
    }
    let names: Vec<&str> = risky.iter().map(|a| a.box_name()).collect();
    if !std::io::stdin().is_terminal() {
        return Err(Error::Manifest {
            message: format!("the plan recreates, removes or takes over {}; nothing was changed", names.join(", ")),
            hint: Some(format!("check the plan above, then run `{} --yes`", again(args))),
        });
    }
    if ctx.printer.confirm("Go ahead? Boxes are removed and made anew; your home and files stay.") {
        Ok(())
    } else {
        Err(Error::Aborted("nothing was changed".into()))
    }
}

// ---- carrying out the plan ----------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Done,
    Unchanged,
    Failed,
    NotRun,
}

#[derive(Debug, Serialize)]
struct StepResult {
    #[serde(rename = "box")]
    name: String,
    action: String,
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// `tent apply --json` (docs/manifest.md).
#[derive(Serialize)]
struct Report<'a> {
    manifest: &'a Path,
    dry_run: bool,
    changed: bool,
    plan: &'a [Action],
    result: &'a [StepResult],
}

struct Run<'a> {
    ctx: &'a Context<'a>,
    manifest: &'a Manifest,
    /// Container ids of the boxes that exist, for their records.
    ids: BTreeMap<String, String>,
    exporter: &'a dyn Exporter,
    /// The error that stopped the run.
    error: Option<Error>,
}

impl Run<'_> {
    fn all(&mut self, actions: &[Action], desired: &[Desired], current: &[Current]) -> Vec<StepResult> {
        interrupt::catch();
        let mut results = Vec::new();
        let mut stopped = false;
        // Actions come grouped by box, in the manifest's order.
        let mut i = 0;
        while i < actions.len() {
            let name = actions[i].box_name().to_string();
            let end = actions[i..].iter().position(|a| a.box_name() != name).map_or(actions.len(), |n| i + n);
            let group = &actions[i..end];
            i = end;
            if stopped {
                results.extend(group.iter().map(|a| result(a, Status::NotRun, None)));
                continue;
            }
            let want = desired.iter().find(|d| d.name == name);
            let have = current.iter().find(|c| c.name == name);
            let mut rec = have.filter(|c| c.tent).and_then(|c| {
                c.record.clone().or_else(|| {
                    Some(Record {
                        container: self.ids.get(&name)?.clone(),
                        manifest: self.manifest.path.clone(),
                        spec: c.label.clone()?,
                        exports: Default::default(),
                    })
                })
            });
            let mut changed = false;
            for (n, action) in group.iter().enumerate() {
                let outcome =
                    if interrupt::interrupted() { Err(Error::Interrupted) } else { self.step(action, &mut rec) };
                match outcome {
                    Ok(()) => {
                        changed |= action.changes();
                        let status = if action.changes() { Status::Done } else { Status::Unchanged };
                        results.push(result(action, status, None));
                    }
                    Err(err) => {
                        self.ctx.printer.status(format!("failed: {}", action.describe()));
                        results.push(result(action, Status::Failed, Some(err.to_string())));
                        results.extend(group[n + 1..].iter().map(|a| result(a, Status::NotRun, None)));
                        self.error = Some(err);
                        stopped = true;
                        break;
                    }
                }
            }
            // Every step of the box went through: the record is the manifest's
            // box now (a second apply then finds nothing to do).
            if !stopped
                && changed
                && let (Some(rec), Some(want)) = (rec.as_mut(), want)
            {
                {
                    rec.spec = want.spec.clone();
                    rec.exports = want.exports.clone();
                    if let Err(err) = self.save(&name, rec) {
                        self.error = Some(err);
                        stopped = true;
                        if let Some(last) = results.last_mut() {
                            last.status = Status::Failed;
                        }
                    }
                }
            }
        }
        results
    }

    fn record_file(&self, name: &str) -> PathBuf {
        record::path(&self.ctx.paths, self.ctx.engine.scope().as_str(), name)
    }

    fn save(&self, name: &str, rec: &Record) -> Result<()> {
        record::write(&self.record_file(name), rec)
    }

    /// Carries out one action and records what it did.
    fn step(&self, action: &Action, rec: &mut Option<Record>) -> Result<()> {
        let ctx = self.ctx;
        let boxes = ctx.boxes();
        match action {
            Action::Create { name, spec } => {
                ctx.printer.step(format!("creating {name} from {}", spec.image));
                self.create(name, spec, rec)
            }
            Action::Adopt { name, .. } => {
                let r = rec.as_mut().ok_or_else(|| missing(name))?;
                r.manifest = self.manifest.path.clone();
                self.save(name, r)
            }
            Action::Recreate { name, spec, .. } => {
                ctx.printer.step(format!("recreating {name} from {}", spec.image));
                if let Some(r) = rec.as_mut() {
                    // The old container's exports go first, so nothing points
                    // at a box that is about to disappear; they are made again below.
                    while let Some(app) = r.exports.apps.first().cloned() {
                        self.exporter.unexport_app(name, &app)?;
                        r.exports.apps.remove(0);
                        self.save(name, r)?;
                    }
                    while let Some(bin) = r.exports.bins.first().cloned() {
                        self.exporter.unexport_bin(name, &bin)?;
                        r.exports.bins.remove(0);
                        self.save(name, r)?;
                    }
                }
                boxes.remove(name)?;
                record::remove(&self.record_file(name))?;
                *rec = None;
                self.create(name, spec, rec)
            }
            Action::Install { name, packages } => {
                boxes.start(name, None)?;
                let spinner = ctx.printer.spinner(format!("installing {} in {name}", packages.join(" ")));
                let mut args: Vec<&str> =
                    vec!["exec", "--user", "root", name, "/bin/sh", "/run/.tent/lib/tent-init", "install"];
                args.extend(packages.iter().map(String::as_str));
                let output = ctx.engine.capture(&format!("could not install packages in {name:?}"), &args);
                spinner.finish();
                ctx.printer.verbose(output?);
                let r = rec.as_mut().ok_or_else(|| missing(name))?;
                for package in packages {
                    if !r.spec.packages.contains(package) {
                        r.spec.packages.push(package.clone());
                    }
                }
                self.save(name, r)
            }
            Action::KeepPackages { .. }
            | Action::KeepUnlisted { .. }
            | Action::Unchanged { .. }
            | Action::Skip { .. }
            | Action::Conflict { .. } => Ok(()),
            Action::UpdateHooks { name, init_hooks, start_hooks, run_init } => {
                let r = rec.as_mut().ok_or_else(|| missing(name))?;
                let mut spec = r.spec.clone();
                spec.init_hooks.clone_from(init_hooks);
                spec.start_hooks.clone_from(start_hooks);
                write_hooks(&boxes.state(name), &spec)?;
                if *run_init {
                    boxes.start(name, None)?;
                    ctx.printer.step(format!("running the init hooks of {name}"));
                    let args = ["exec", "--user", "root", name, "/bin/sh", "/run/.tent/state/hooks/init"];
                    let output = ctx.engine.capture(&format!("the init hooks of {name:?} failed"), &args)?;
                    ctx.printer.verbose(output);
                }
                r.spec = spec;
                self.save(name, r)
            }
            Action::ExportApp { name, app } => {
                boxes.start(name, None)?;
                self.exporter.export_app(name, app)?;
                self.update_exports(name, rec, |e| e.apps.push(app.clone()))
            }
            Action::ExportBin { name, bin } => {
                boxes.start(name, None)?;
                self.exporter.export_bin(name, bin)?;
                self.update_exports(name, rec, |e| e.bins.push(bin.clone()))
            }
            Action::UnexportApp { name, app } => {
                self.exporter.unexport_app(name, app)?;
                self.update_exports(name, rec, |e| e.apps.retain(|a| a != app))
            }
            Action::UnexportBin { name, bin } => {
                self.exporter.unexport_bin(name, bin)?;
                self.update_exports(name, rec, |e| e.bins.retain(|b| b != bin))
            }
            Action::Remove { name } => {
                let spinner = ctx.printer.spinner(format!("removing {name}"));
                let exports = export::remove_box_exports(&ctx.paths, ctx.engine.scope().as_str(), name);
                let removed = boxes.remove(name);
                spinner.finish();
                removed?;
                if let Err(err) = exports {
                    ctx.printer.warn(format!("exports of {name}: {err}"));
                }
                *rec = None;
                record::remove(&self.record_file(name))
            }
        }
    }

    fn create(&self, name: &str, spec: &BoxSpec, rec: &mut Option<Record>) -> Result<()> {
        let boxes = self.ctx.boxes();
        boxes.create(name, spec, true)?;
        let container = boxes.get(name)?;
        let r = Record {
            container: container.id,
            manifest: self.manifest.path.clone(),
            spec: spec.clone(),
            exports: Default::default(),
        };
        self.save(name, &r)?;
        *rec = Some(r);
        Ok(())
    }

    fn update_exports(&self, name: &str, rec: &mut Option<Record>, change: impl FnOnce(&mut Exports)) -> Result<()> {
        let r = rec.as_mut().ok_or_else(|| missing(name))?;
        change(&mut r.exports);
        self.save(name, r)
    }
}

fn missing(name: &str) -> Error {
    Error::Manifest {
        message: format!("box {name:?} has no record to update"),
        hint: Some("run `tent apply` again: the plan is made afresh from what exists".into()),
    }
}

fn result(action: &Action, status: Status, error: Option<String>) -> StepResult {
    let tag = serde_json::to_value(action).ok().and_then(|v| v["action"].as_str().map(str::to_string));
    StepResult { name: action.box_name().to_string(), action: tag.unwrap_or_default(), status, error }
}

// ---- exports ----------------------------------------------------------------

/// Exports through the export module, as `tent export` makes them.
struct DirectExporter<'a> {
    ctx: &'a Context<'a>,
}

impl Exporter for DirectExporter<'_> {
    fn export_app(&self, box_name: &str, app: &str) -> Result<()> {
        let exporter = self.ctx.exporter(&self.ctx.engine, box_name, false)?;
        exporter.export_app(app).map(drop)
    }

    fn export_bin(&self, box_name: &str, bin: &BinExport) -> Result<()> {
        let exporter = self.ctx.exporter(&self.ctx.engine, box_name, false)?;
        let dir = bin.path.clone().unwrap_or_else(|| self.ctx.bin_dir());
        exporter.export_bin(&bin.bin, bin.name.as_deref(), &dir).map(drop)
    }

    fn unexport_app(&self, box_name: &str, app: &str) -> Result<()> {
        export::unexport(&self.ctx.paths, self.ctx.engine.scope().as_str(), box_name, Selector::App(app)).map(drop)
    }

    fn unexport_bin(&self, box_name: &str, bin: &BinExport) -> Result<()> {
        let name = bin.exported_name();
        export::unexport(&self.ctx.paths, self.ctx.engine.scope().as_str(), box_name, Selector::Bin(name)).map(drop)
    }
}

// ---- tent manifest ------------------------------------------------------------

pub fn manifest(ctx: &Context<'_>, args: &ManifestArgs) -> Result<i32> {
    let containers = if args.names.is_empty() {
        ctx.boxes().list()?
    } else {
        args.names.iter().map(|name| ctx.boxes().get(name)).collect::<Result<Vec<_>>>()?
    };
    if containers.is_empty() {
        ctx.printer.status("no boxes to write down");
        return Ok(0);
    }
    let mut out = vec![format!("# tent.toml: boxes on {}, written by `tent manifest`", ctx.engine.describe())];
    for container in containers {
        let name = &container.name;
        let record = record::read(&record::path(&ctx.paths, ctx.engine.scope().as_str(), name), &container.id);
        let (spec, exports) = match (record, BoxSpec::from_label(container.label(labels::SPEC))) {
            (Some(r), _) => (r.spec, r.exports),
            (None, Some(spec)) => (spec, Default::default()),
            (None, None) => {
                ctx.printer.warn(format!("{name}: its tent.spec label is missing or unreadable; skipped"));
                continue;
            }
        };
        let mut exports = exports;
        add_hand_made_exports(
            &mut exports,
            &export::list(&ctx.paths, ctx.engine.scope().as_str(), name)?,
            &ctx.paths.bin,
        );
        out.push(manifest::render::render(name, &spec, &exports));
    }
    ctx.printer.data(out.join("\n"));
    Ok(0)
}

/// Adds the exports made by hand (`tent export`, recorded in the box's
/// receipt) that the manifest record does not list, so `tent manifest` writes
/// down everything the box exports.
fn add_hand_made_exports(exports: &mut Exports, receipt: &[export::receipt::Export], default_bin_dir: &Path) {
    for e in receipt {
        match e.kind {
            export::receipt::Kind::App => {
                if !exports.apps.contains(&e.request) {
                    exports.apps.push(e.request.clone());
                }
            }
            export::receipt::Kind::Bin => {
                if exports.bins.iter().any(|b| b.exported_name() == e.name) {
                    continue;
                }
                let default_name = e.request.rsplit('/').next().unwrap_or(&e.request);
                exports.bins.push(BinExport {
                    bin: e.request.clone(),
                    name: (e.name != default_name).then(|| e.name.clone()),
                    path: e.dir.clone().filter(|d| d != default_bin_dir),
                });
            }
        }
    }
}

#[cfg(test)]
mod manifest_tests {
    use super::*;

    fn receipt_export(
        kind: export::receipt::Kind,
        name: &str,
        request: &str,
        dir: Option<&str>,
    ) -> export::receipt::Export {
        export::receipt::Export {
            kind,
            name: name.into(),
            title: None,
            request: request.into(),
            target: String::new(),
            files: vec![],
            dir: dir.map(PathBuf::from),
            tent: String::new(),
        }
    }

    #[test]
    fn hand_made_exports_are_written_down_once() {
        let mut exports = Exports {
            apps: vec!["firefox".into()],
            bins: vec![BinExport { bin: "/usr/bin/jq".into(), name: None, path: None }],
        };
        let receipt = vec![
            receipt_export(export::receipt::Kind::App, "firefox", "firefox", None),
            receipt_export(export::receipt::Kind::App, "org.gnome.Gedit", "gedit", None),
            receipt_export(export::receipt::Kind::Bin, "jq", "/usr/bin/jq", Some("/home/u/.local/bin")),
            receipt_export(export::receipt::Kind::Bin, "rg-dev", "/usr/bin/rg", Some("/home/u/.local/bin")),
            receipt_export(export::receipt::Kind::Bin, "fd", "fd", Some("/opt/bin")),
        ];
        add_hand_made_exports(&mut exports, &receipt, Path::new("/home/u/.local/bin"));
        assert_eq!(exports.apps, vec!["firefox", "gedit"]);
        assert_eq!(exports.bins.len(), 3);
        assert_eq!(exports.bins[1], BinExport { bin: "/usr/bin/rg".into(), name: Some("rg-dev".into()), path: None });
        assert_eq!(exports.bins[2], BinExport { bin: "fd".into(), name: None, path: Some("/opt/bin".into()) });
    }
}
