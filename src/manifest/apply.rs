//! Carrying out a plan: the apply executor. It goes box by box through the
//! planned actions, and after every step that succeeds it writes the box's
//! record, so a failure or Ctrl-C leaves each box either as it was or as far
//! as it got, and running apply again finishes the job.
//!
//! The executor does no I/O of its own: boxes, exports, records and progress
//! are small traits that `commands::apply` implements over the real box and
//! export modules, and that the unit tests below implement by recording calls.

use std::collections::BTreeMap;

use serde::Serialize;

use super::model::Exports;
use super::{Action, BinExport, Current, Desired, Manifest, Record};
use crate::boxes::BoxSpec;
use crate::error::{Error, Result};
use crate::progress::Progress;

/// What apply needs from boxes.
pub(crate) trait BoxOps {
    /// Makes and starts a box; returns its container id.
    fn create(&self, name: &str, spec: &BoxSpec) -> Result<String>;
    /// Makes and starts box `name` as a copy of box `source`; returns its container id.
    fn clone_box(&self, source: &str, name: &str) -> Result<String>;
    /// Removes the container and tent's state of it, for a box made again
    /// under its name: its exports are the executor's, its snapshots stay.
    fn remove_container(&self, name: &str) -> Result<()>;
    /// Removes the box as `tent rm` does: its exports, container, state,
    /// snapshots and services; what fails beside the box itself is only a
    /// warning, which the implementation reports.
    fn remove_box(&self, name: &str) -> Result<()>;
    /// Starts the box when it is stopped, and waits for its init.
    fn start(&self, name: &str) -> Result<()>;
    /// Installs packages in the running box.
    fn install(&self, name: &str, packages: &[String]) -> Result<()>;
    /// Writes the box's hooks where its init runs them.
    fn write_hooks(&self, name: &str, spec: &BoxSpec) -> Result<()>;
    /// Runs the box's init hooks now.
    fn run_init_hooks(&self, name: &str) -> Result<()>;
}

/// What apply needs from exports.
pub(crate) trait ExportOps {
    fn export_app(&self, box_name: &str, app: &str) -> Result<()>;
    fn export_bin(&self, box_name: &str, bin: &BinExport) -> Result<()>;
    fn unexport_app(&self, box_name: &str, app: &str) -> Result<()>;
    fn unexport_bin(&self, box_name: &str, bin: &BinExport) -> Result<()>;
    fn add_entry(&self, box_name: &str) -> Result<()>;
    fn remove_entry(&self, box_name: &str) -> Result<()>;
}

/// Where records are kept.
pub(crate) trait Records {
    fn save(&self, name: &str, record: &Record) -> Result<()>;
    fn remove(&self, name: &str) -> Result<()>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    Done,
    Unchanged,
    Failed,
    NotRun,
}

/// One action's outcome, as `tent apply --json` reports it (docs/manifest.md).
#[derive(Debug, Serialize)]
pub(crate) struct StepResult {
    #[serde(rename = "box")]
    pub name: String,
    pub action: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub(crate) struct Executor<'a> {
    pub manifest: &'a Manifest,
    /// Container ids of the boxes that exist, for their records.
    pub ids: BTreeMap<String, String>,
    pub boxes: &'a dyn BoxOps,
    pub exports: &'a dyn ExportOps,
    pub records: &'a dyn Records,
    pub progress: &'a dyn Progress,
    /// The error that stopped the run.
    pub error: Option<Error>,
}

impl Executor<'_> {
    /// Carries out every action; stops at the first failure, and reports the
    /// actions after it as not run.
    pub(crate) fn run(&mut self, actions: &[Action], desired: &[Desired], current: &[Current]) -> Vec<StepResult> {
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
                        exports: Exports::default(),
                    })
                })
            });
            let mut changed = false;
            for (n, action) in group.iter().enumerate() {
                let outcome =
                    if self.progress.interrupted() { Err(Error::Interrupted) } else { self.step(action, &mut rec) };
                match outcome {
                    Ok(()) => {
                        changed |= action.changes();
                        let status = if action.changes() { Status::Done } else { Status::Unchanged };
                        results.push(result(action, status, None));
                    }
                    Err(err) => {
                        self.progress.status(&format!("failed: {}", action.describe()));
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
                rec.spec = want.spec.clone();
                rec.exports = want.exports.clone();
                if let Err(err) = self.records.save(&name, rec) {
                    self.error = Some(err);
                    stopped = true;
                    if let Some(last) = results.last_mut() {
                        last.status = Status::Failed;
                    }
                }
            }
        }
        results
    }

    /// Carries out one action and records what it did.
    fn step(&self, action: &Action, rec: &mut Option<Record>) -> Result<()> {
        match action {
            Action::Create { name, spec } => {
                self.progress.step(&format!("creating {name} from {}", spec.image));
                self.create(name, spec, rec)
            }
            Action::Clone { name, source } => {
                self.progress.step(&format!("cloning {name} from {source}"));
                let container = self.boxes.clone_box(source, name)?;
                let r = Record {
                    container,
                    manifest: self.manifest.path.clone(),
                    spec: BoxSpec::default(),
                    exports: Exports::default(),
                };
                self.records.save(name, &r)?;
                *rec = Some(r);
                Ok(())
            }
            Action::Adopt { name, .. } => {
                let r = rec.as_mut().ok_or_else(|| missing(name))?;
                r.manifest = self.manifest.path.clone();
                self.records.save(name, r)
            }
            Action::Recreate { name, spec, .. } => {
                self.progress.step(&format!("recreating {name} from {}", spec.image));
                if let Some(r) = rec.as_mut() {
                    // The old container's exports go first, so nothing points
                    // at a box that is about to disappear; they are made again below.
                    while let Some(app) = r.exports.apps.first().cloned() {
                        self.exports.unexport_app(name, &app)?;
                        r.exports.apps.remove(0);
                        self.records.save(name, r)?;
                    }
                    while let Some(bin) = r.exports.bins.first().cloned() {
                        self.exports.unexport_bin(name, &bin)?;
                        r.exports.bins.remove(0);
                        self.records.save(name, r)?;
                    }
                    if r.exports.entry {
                        self.exports.remove_entry(name)?;
                        r.exports.entry = false;
                        self.records.save(name, r)?;
                    }
                }
                self.boxes.remove_container(name)?;
                self.records.remove(name)?;
                *rec = None;
                self.create(name, spec, rec)
            }
            Action::Install { name, packages } => {
                self.boxes.start(name)?;
                self.boxes.install(name, packages)?;
                let r = rec.as_mut().ok_or_else(|| missing(name))?;
                for package in packages {
                    if !r.spec.packages.contains(package) {
                        r.spec.packages.push(package.clone());
                    }
                }
                self.records.save(name, r)
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
                self.boxes.write_hooks(name, &spec)?;
                if *run_init {
                    self.boxes.start(name)?;
                    self.progress.step(&format!("running the init hooks of {name}"));
                    self.boxes.run_init_hooks(name)?;
                }
                r.spec = spec;
                self.records.save(name, r)
            }
            Action::ExportApp { name, app } => {
                self.boxes.start(name)?;
                self.exports.export_app(name, app)?;
                self.update_exports(name, rec, |e| e.apps.push(app.clone()))
            }
            Action::ExportBin { name, bin } => {
                self.boxes.start(name)?;
                self.exports.export_bin(name, bin)?;
                self.update_exports(name, rec, |e| e.bins.push(bin.clone()))
            }
            Action::UnexportApp { name, app } => {
                self.exports.unexport_app(name, app)?;
                self.update_exports(name, rec, |e| e.apps.retain(|a| a != app))
            }
            Action::UnexportBin { name, bin } => {
                self.exports.unexport_bin(name, bin)?;
                self.update_exports(name, rec, |e| e.bins.retain(|b| b != bin))
            }
            Action::AddEntry { name } => {
                self.boxes.start(name)?;
                self.exports.add_entry(name)?;
                self.update_exports(name, rec, |e| e.entry = true)
            }
            Action::RemoveEntry { name } => {
                self.exports.remove_entry(name)?;
                self.update_exports(name, rec, |e| e.entry = false)
            }
            Action::Remove { name } => {
                self.progress.step(&format!("removing {name}"));
                self.boxes.remove_box(name)?;
                *rec = None;
                self.records.remove(name)
            }
        }
    }

    fn create(&self, name: &str, spec: &BoxSpec, rec: &mut Option<Record>) -> Result<()> {
        let container = self.boxes.create(name, spec)?;
        let r =
            Record { container, manifest: self.manifest.path.clone(), spec: spec.clone(), exports: Exports::default() };
        self.records.save(name, &r)?;
        *rec = Some(r);
        Ok(())
    }

    fn update_exports(&self, name: &str, rec: &mut Option<Record>, change: impl FnOnce(&mut Exports)) -> Result<()> {
        let r = rec.as_mut().ok_or_else(|| missing(name))?;
        change(&mut r.exports);
        self.records.save(name, r)
    }
}

fn missing(name: &str) -> Error {
    Error::Manifest {
        message: format!("box {name:?} has no record to update"),
        hint: Some("run `tent apply` again: the plan is made afresh from what exists".into()),
    }
}

impl StepResult {
    /// An action left undone because an earlier one failed.
    pub(crate) fn not_run(action: &Action) -> StepResult {
        result(action, Status::NotRun, None)
    }
}

fn result(action: &Action, status: Status, error: Option<String>) -> StepResult {
    let tag = serde_json::to_value(action).ok().and_then(|v| v["action"].as_str().map(str::to_string));
    StepResult { name: action.box_name().to_string(), action: tag.unwrap_or_default(), status, error }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::path::PathBuf;

    use super::*;

    /// Records every call in order; `fail` makes the call with that prefix fail.
    #[derive(Default)]
    struct Fake {
        calls: RefCell<Vec<String>>,
        saved: RefCell<BTreeMap<String, Record>>,
        fail: Option<&'static str>,
        interrupt_after: Option<usize>,
    }

    impl Fake {
        fn call(&self, what: String) -> Result<()> {
            let fails = self.fail.is_some_and(|f| what.starts_with(f));
            self.calls.borrow_mut().push(what);
            if fails { Err(Error::Aborted("fake failure".into())) } else { Ok(()) }
        }
        fn calls(&self) -> Vec<String> {
            self.calls.borrow().iter().filter(|c| !c.starts_with("save") && !c.starts_with("step")).cloned().collect()
        }
    }

    impl BoxOps for Fake {
        fn create(&self, name: &str, spec: &BoxSpec) -> Result<String> {
            self.call(format!("create {name} {}", spec.image)).map(|()| format!("id-{name}"))
        }
        fn clone_box(&self, source: &str, name: &str) -> Result<String> {
            self.call(format!("clone {source} {name}")).map(|()| format!("id-{name}"))
        }
        fn remove_container(&self, name: &str) -> Result<()> {
            self.call(format!("remove-container {name}"))
        }
        fn start(&self, name: &str) -> Result<()> {
            self.call(format!("start {name}"))
        }
        fn install(&self, name: &str, packages: &[String]) -> Result<()> {
            self.call(format!("install {name} {}", packages.join(" ")))
        }
        fn write_hooks(&self, name: &str, spec: &BoxSpec) -> Result<()> {
            self.call(format!("hooks {name} {}", spec.init_hooks.join(";")))
        }
        fn run_init_hooks(&self, name: &str) -> Result<()> {
            self.call(format!("run-hooks {name}"))
        }
        fn remove_box(&self, name: &str) -> Result<()> {
            self.call(format!("remove-box {name}"))
        }
    }

    impl ExportOps for Fake {
        fn export_app(&self, box_name: &str, app: &str) -> Result<()> {
            self.call(format!("export-app {box_name} {app}"))
        }
        fn export_bin(&self, box_name: &str, bin: &BinExport) -> Result<()> {
            self.call(format!("export-bin {box_name} {}", bin.bin))
        }
        fn unexport_app(&self, box_name: &str, app: &str) -> Result<()> {
            self.call(format!("unexport-app {box_name} {app}"))
        }
        fn unexport_bin(&self, box_name: &str, bin: &BinExport) -> Result<()> {
            self.call(format!("unexport-bin {box_name} {}", bin.bin))
        }
        fn add_entry(&self, box_name: &str) -> Result<()> {
            self.call(format!("add-entry {box_name}"))
        }
        fn remove_entry(&self, box_name: &str) -> Result<()> {
            self.call(format!("remove-entry {box_name}"))
        }
    }

    impl Records for Fake {
        fn save(&self, name: &str, record: &Record) -> Result<()> {
            self.saved.borrow_mut().insert(name.into(), record.clone());
            self.call(format!("save {name}"))
        }
        fn remove(&self, name: &str) -> Result<()> {
            self.saved.borrow_mut().remove(name);
            self.call(format!("forget {name}"))
        }
    }

    impl Progress for Fake {
        fn step(&self, message: &str) {
            self.calls.borrow_mut().push(format!("step {message}"));
        }
        fn warn(&self, _message: &str) {}
        fn interrupted(&self) -> bool {
            self.interrupt_after.is_some_and(|n| self.calls().len() >= n)
        }
    }

    fn manifest() -> Manifest {
        Manifest {
            path: PathBuf::from("/p/tent.toml"),
            boxes: vec![],
            warnings: vec![],
            host_commands: vec![],
            builds: vec![],
            compose: vec![],
        }
    }

    fn spec(image: &str) -> BoxSpec {
        BoxSpec { image: image.into(), ..Default::default() }
    }

    fn run(fake: &Fake, actions: &[Action], desired: &[Desired], current: &[Current]) -> (Vec<StepResult>, bool) {
        let manifest = manifest();
        let mut ids = BTreeMap::new();
        for c in current {
            ids.insert(c.name.clone(), format!("id-{}", c.name));
        }
        let mut executor = Executor {
            manifest: &manifest,
            ids,
            boxes: fake,
            exports: fake,
            records: fake,
            progress: fake,
            error: None,
        };
        let results = executor.run(actions, desired, current);
        (results, executor.error.is_some())
    }

    fn desired(name: &str, image: &str, exports: Exports) -> Desired {
        Desired { name: name.into(), spec: spec(image), clone: None, root: false, exports }
    }

    #[test]
    fn create_then_export_records_the_box_as_the_manifest_says() {
        let fake = Fake::default();
        let bin = BinExport { bin: "/usr/bin/rg".into(), name: None, path: None };
        let exports = Exports { apps: vec!["xterm".into()], bins: vec![bin.clone()], entry: false };
        let actions = vec![
            Action::Create { name: "dev".into(), spec: spec("img") },
            Action::ExportApp { name: "dev".into(), app: "xterm".into() },
            Action::ExportBin { name: "dev".into(), bin },
        ];
        let (results, failed) = run(&fake, &actions, &[desired("dev", "img", exports.clone())], &[]);
        assert!(!failed);
        assert!(results.iter().all(|r| r.status == Status::Done));
        assert_eq!(
            fake.calls(),
            ["create dev img", "start dev", "export-app dev xterm", "start dev", "export-bin dev /usr/bin/rg"]
        );
        let saved = fake.saved.borrow();
        assert_eq!(saved["dev"].container, "id-dev");
        assert_eq!(saved["dev"].exports, exports);
        assert_eq!(saved["dev"].manifest, PathBuf::from("/p/tent.toml"));
    }

    #[test]
    fn recreate_unexports_first_and_forgets_the_old_record() {
        let fake = Fake::default();
        let old = Record {
            container: "id-dev".into(),
            manifest: "/p/tent.toml".into(),
            spec: spec("old"),
            exports: Exports { apps: vec!["xterm".into()], bins: vec![], entry: false },
        };
        let current = vec![Current { name: "dev".into(), tent: true, label: Some(spec("old")), record: Some(old) }];
        let actions =
            vec![Action::Recreate { name: "dev".into(), spec: spec("new"), changes: vec!["image changed".into()] }];
        let (_, failed) = run(&fake, &actions, &[desired("dev", "new", Exports::default())], &current);
        assert!(!failed);
        assert_eq!(fake.calls(), ["unexport-app dev xterm", "remove-container dev", "forget dev", "create dev new"]);
        assert_eq!(fake.saved.borrow()["dev"].spec.image, "new");
    }

    #[test]
    fn a_failure_stops_the_run_and_later_boxes_are_not_run() {
        let fake = Fake { fail: Some("install a"), ..Default::default() };
        let current = vec![
            Current { name: "a".into(), tent: true, label: Some(spec("img")), record: None },
            Current { name: "b".into(), tent: true, label: Some(spec("img")), record: None },
        ];
        let actions = vec![
            Action::Install { name: "a".into(), packages: vec!["git".into()] },
            Action::ExportApp { name: "a".into(), app: "x".into() },
            Action::Install { name: "b".into(), packages: vec!["git".into()] },
        ];
        let desired = vec![desired("a", "img", Exports::default()), desired("b", "img", Exports::default())];
        let (results, failed) = run(&fake, &actions, &desired, &current);
        assert!(failed);
        let statuses: Vec<Status> = results.iter().map(|r| r.status).collect();
        assert_eq!(statuses, [Status::Failed, Status::NotRun, Status::NotRun]);
        assert_eq!(fake.calls(), ["start a", "install a git"]);
        assert!(results[0].error.as_deref().unwrap().contains("fake failure"));
    }

    #[test]
    fn hooks_are_written_and_init_hooks_run_when_asked() {
        let fake = Fake::default();
        let current = vec![Current { name: "a".into(), tent: true, label: Some(spec("img")), record: None }];
        let actions = vec![Action::UpdateHooks {
            name: "a".into(),
            init_hooks: vec!["echo hi".into()],
            start_hooks: vec![],
            run_init: true,
        }];
        let mut want = desired("a", "img", Exports::default());
        want.spec.init_hooks = vec!["echo hi".into()];
        let (_, failed) = run(&fake, &actions, &[want], &current);
        assert!(!failed);
        assert_eq!(fake.calls(), ["hooks a echo hi", "start a", "run-hooks a"]);
        assert_eq!(fake.saved.borrow()["a"].spec.init_hooks, ["echo hi"]);
    }

    #[test]
    fn a_clone_is_recorded_as_the_manifests_box() {
        let fake = Fake::default();
        let mut want = desired("copy", "img", Exports::default());
        want.clone = Some("dev".into());
        let actions = vec![Action::Clone { name: "copy".into(), source: "dev".into() }];
        let (_, failed) = run(&fake, &actions, &[want], &[]);
        assert!(!failed);
        assert_eq!(fake.calls(), ["clone dev copy"]);
        assert_eq!(fake.saved.borrow()["copy"].container, "id-copy");
    }

    #[test]
    fn remove_takes_the_whole_box_and_its_record() {
        let fake = Fake::default();
        let current = vec![Current { name: "old".into(), tent: true, label: Some(spec("img")), record: None }];
        let (_, failed) = run(&fake, &[Action::Remove { name: "old".into() }], &[], &current);
        assert!(!failed);
        assert_eq!(fake.calls(), ["remove-box old", "forget old"]);
    }

    #[test]
    fn ctrl_c_between_steps_stops_before_the_next_one() {
        let fake = Fake { interrupt_after: Some(1), ..Default::default() };
        let actions = vec![
            Action::Create { name: "a".into(), spec: spec("img") },
            Action::ExportApp { name: "a".into(), app: "x".into() },
        ];
        let (results, failed) = run(&fake, &actions, &[desired("a", "img", Exports::default())], &[]);
        assert!(failed);
        assert_eq!(results[1].status, Status::Failed);
        assert_eq!(results[1].error.as_deref(), Some(Error::Interrupted.to_string().as_str()));
        assert_eq!(fake.calls(), ["create a img"]);
    }
}
