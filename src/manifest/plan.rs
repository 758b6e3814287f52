//! The plan: what the manifest asks for, compared with what exists, as a list
//! of actions. Pure data in, data out, so every decision is unit-tested
//! without an engine; `commands::apply` carries the actions out.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::model::{BinExport, BoxEntry, EndpointKey, Exports};
use crate::boxes::BoxSpec;

/// A box the manifest wants, its spec already resolved (default image, paths).
#[derive(Debug, Clone)]
pub(crate) struct Desired {
    pub name: String,
    pub spec: BoxSpec,
    /// Made as a copy of this box (Distrobox's `clone`), not from an image.
    pub clone: Option<String>,
    /// The manifest's `root` key: which engine mode the box belongs to.
    pub root: bool,
    pub exports: Exports,
}

/// A container that exists with a wanted name, or a box some manifest made.
#[derive(Debug, Clone)]
pub(crate) struct Current {
    pub name: String,
    /// False for a container tent did not make: never touched.
    pub tent: bool,
    /// Its spec label; None when missing or unreadable.
    pub label: Option<BoxSpec>,
    /// What `tent apply` recorded for this very container, when it did.
    pub record: Option<Record>,
}

/// What apply recorded for one box after each step that succeeded (in
/// `$XDG_STATE_HOME/tent/manifests/<scope>/<box>.json`). Container labels
/// cannot change after create, so packages installed in place, changed hooks
/// and exports live here.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Record {
    /// The container's id: a record of an older container of the same name is ignored.
    pub container: String,
    pub manifest: PathBuf,
    pub spec: BoxSpec,
    #[serde(default)]
    pub exports: Exports,
}

impl Current {
    /// The manifest that owns the box, if any.
    pub(crate) fn owner(&self) -> Option<&Path> {
        self.record
            .as_ref()
            .map(|r| r.manifest.as_path())
            .or_else(|| self.label.as_ref().and_then(|s| s.manifest.as_deref()))
    }

    /// The spec as last applied: the record's, else the label's.
    pub(crate) fn spec(&self) -> Option<&BoxSpec> {
        self.record.as_ref().map(|r| &r.spec).or(self.label.as_ref())
    }

    pub(crate) fn exports(&self) -> Exports {
        self.record.as_ref().map(|r| r.exports.clone()).unwrap_or_default()
    }
}

/// How the engine runs boxes, which decides which `root` boxes it may apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Rootless podman: only boxes without `root = true`.
    Rootless,
    /// `tent --root` as a plain user: only boxes with `root = true`.
    Sudo,
    /// tent runs as root: every box is rootful anyway.
    Root,
}

#[derive(Debug, Clone)]
pub(crate) struct Options<'a> {
    pub manifest: &'a Path,
    pub mode: Mode,
    pub prune: bool,
}

/// One step. Serialized into `tent apply --json` (docs/manifest.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub(crate) enum Action {
    Create {
        #[serde(rename = "box")]
        name: String,
        spec: BoxSpec,
    },
    /// Make the box as a copy of another (`tent clone`).
    Clone {
        #[serde(rename = "box")]
        name: String,
        source: String,
    },
    /// Take over a box this manifest did not make (needs confirmation).
    Adopt {
        #[serde(rename = "box")]
        name: String,
        owner: Option<PathBuf>,
    },
    /// Remove and create anew; the home is on the host and stays (needs confirmation).
    Recreate {
        #[serde(rename = "box")]
        name: String,
        changes: Vec<String>,
        spec: BoxSpec,
    },
    Install {
        #[serde(rename = "box")]
        name: String,
        packages: Vec<String>,
    },
    /// Packages no longer listed: tent does not uninstall them.
    KeepPackages {
        #[serde(rename = "box")]
        name: String,
        packages: Vec<String>,
    },
    /// Rewrite the hooks; init hooks that changed run once now.
    UpdateHooks {
        #[serde(rename = "box")]
        name: String,
        init_hooks: Vec<String>,
        start_hooks: Vec<String>,
        run_init: bool,
    },
    ExportApp {
        #[serde(rename = "box")]
        name: String,
        app: String,
    },
    ExportBin {
        #[serde(rename = "box")]
        name: String,
        bin: BinExport,
    },
    UnexportApp {
        #[serde(rename = "box")]
        name: String,
        app: String,
    },
    UnexportBin {
        #[serde(rename = "box")]
        name: String,
        bin: BinExport,
    },
    /// The box's launcher in the desktop menu (`entry = true`).
    AddEntry {
        #[serde(rename = "box")]
        name: String,
    },
    RemoveEntry {
        #[serde(rename = "box")]
        name: String,
    },
    /// `--prune`: the manifest no longer lists the box (needs confirmation).
    Remove {
        #[serde(rename = "box")]
        name: String,
    },
    /// No longer listed, kept because `--prune` was not given.
    KeepUnlisted {
        #[serde(rename = "box")]
        name: String,
    },
    Unchanged {
        #[serde(rename = "box")]
        name: String,
    },
    /// Not for this engine mode (`root` differs).
    Skip {
        #[serde(rename = "box")]
        name: String,
        reason: String,
    },
    /// Something in the way that tent will not touch: apply refuses to start.
    Conflict {
        #[serde(rename = "box")]
        name: String,
        reason: String,
    },
}

impl Action {
    pub(crate) fn box_name(&self) -> &str {
        match self {
            Action::Create { name, .. }
            | Action::Clone { name, .. }
            | Action::Adopt { name, .. }
            | Action::Recreate { name, .. }
            | Action::Install { name, .. }
            | Action::KeepPackages { name, .. }
            | Action::UpdateHooks { name, .. }
            | Action::ExportApp { name, .. }
            | Action::ExportBin { name, .. }
            | Action::UnexportApp { name, .. }
            | Action::UnexportBin { name, .. }
            | Action::AddEntry { name }
            | Action::RemoveEntry { name }
            | Action::Remove { name }
            | Action::KeepUnlisted { name }
            | Action::Unchanged { name }
            | Action::Skip { name, .. }
            | Action::Conflict { name, .. } => name,
        }
    }

    /// Whether carrying it out changes anything.
    pub(crate) fn changes(&self) -> bool {
        !matches!(
            self,
            Action::Unchanged { .. }
                | Action::KeepUnlisted { .. }
                | Action::Skip { .. }
                | Action::Conflict { .. }
                | Action::KeepPackages { .. }
        )
    }

    /// Destroys or takes over something: asked on a terminal, else `--yes`.
    pub(crate) fn needs_confirmation(&self) -> bool {
        matches!(self, Action::Recreate { .. } | Action::Remove { .. } | Action::Adopt { .. })
    }

    /// One line for humans: `+` adds, `~` changes in place, `-/+` recreates,
    /// `-` removes, `=` leaves alone, `!` cannot proceed.
    pub(crate) fn describe(&self) -> String {
        match self {
            Action::Clone { name, source } => format!("+ clone {name} from box {source}"),
            Action::Create { name, spec } => {
                let mut line = format!("+ create {name} (image {})", spec.image);
                if !spec.packages.is_empty() {
                    line.push_str(&format!(" with {}", spec.packages.join(" ")));
                }
                line
            }
            Action::Adopt { name, owner: Some(owner) } => {
                format!("! take over {name}, made by another manifest ({})", owner.display())
            }
            Action::Adopt { name, owner: None } => format!("! take over {name}, made by hand"),
            Action::Recreate { name, changes, .. } => {
                format!("-/+ recreate {name}: {} (your files stay)", changes.join("; "))
            }
            Action::Install { name, packages } => {
                format!("~ install {} in {name}", packages.join(" "))
            }
            Action::KeepPackages { name, packages } => {
                format!("= {name}: {} no longer listed; left installed (tent does not uninstall)", packages.join(" "))
            }
            Action::UpdateHooks { name, run_init, .. } => {
                if *run_init {
                    format!("~ update hooks of {name} and run its init hooks once")
                } else {
                    format!("~ update hooks of {name}")
                }
            }
            Action::ExportApp { name, app } => format!("~ export app {app} from {name}"),
            Action::ExportBin { name, bin } => format!("~ export {} from {name} as {}", bin.bin, bin.exported_name()),
            Action::UnexportApp { name, app } => format!("~ unexport app {app} of {name}"),
            Action::UnexportBin { name, bin } => {
                format!("~ unexport {} of {name}", bin.exported_name())
            }
            Action::AddEntry { name } => format!("~ add {name} to the desktop menu"),
            Action::RemoveEntry { name } => format!("~ remove {name} from the desktop menu"),
            Action::Remove { name } => {
                format!("- remove {name} (no longer in the manifest; your files stay)")
            }
            Action::KeepUnlisted { name } => {
                format!("= {name} is no longer in the manifest: kept (--prune removes it)")
            }
            Action::Unchanged { name } => format!("= {name} unchanged"),
            Action::Skip { name, reason } => format!("= {name} skipped: {reason}"),
            Action::Conflict { name, reason } => format!("! {name}: {reason}"),
        }
    }
}

/// The plan for a manifest's boxes against what exists. `current` holds the
/// containers with wanted names and every box whose owner is this manifest.
pub(crate) fn plan(desired: &[Desired], current: &[Current], opts: &Options<'_>) -> Vec<Action> {
    let mut actions = Vec::new();
    for want in desired {
        let name = want.name.clone();
        if let Some(reason) = mode_mismatch(want.root, opts.mode) {
            actions.push(Action::Skip { name, reason });
            continue;
        }
        let Some(have) = current.iter().find(|c| c.name == want.name) else {
            match &want.clone {
                Some(source) => actions.push(Action::Clone { name: name.clone(), source: source.clone() }),
                None => actions.push(Action::Create { name: name.clone(), spec: want.spec.clone() }),
            }
            push_exports(&mut actions, &name, &Exports::default(), &want.exports);
            continue;
        };
        if !have.tent {
            let reason =
                "a container of that name exists that is not one of your tent boxes; tent will not touch it".into();
            actions.push(Action::Conflict { name, reason });
            continue;
        }
        let Some(spec) = have.spec() else {
            actions.push(Action::Conflict { name, reason: "its tent.spec label is unreadable".into() });
            continue;
        };
        let owned = have.owner() == Some(opts.manifest);
        if !owned {
            actions.push(Action::Adopt { name: name.clone(), owner: have.owner().map(Path::to_path_buf) });
        }
        let before = actions.len();
        // A copy carries its source's spec, not the file's: only its exports
        // are the file's to keep.
        if want.clone.is_some() {
            push_exports(&mut actions, &name, &have.exports(), &want.exports);
            if actions.len() == before && owned {
                actions.push(Action::Unchanged { name });
            }
            continue;
        }
        let changes = recreate_changes(spec, &want.spec);
        if !changes.is_empty() {
            actions.push(Action::Recreate { name: name.clone(), changes, spec: want.spec.clone() });
            // The new container has no exports yet: all of them are made again.
            push_exports(&mut actions, &name, &Exports::default(), &want.exports);
            continue;
        }
        let added: Vec<String> = want.spec.packages.iter().filter(|p| !spec.packages.contains(p)).cloned().collect();
        let dropped: Vec<String> = spec.packages.iter().filter(|p| !want.spec.packages.contains(p)).cloned().collect();
        if !added.is_empty() {
            actions.push(Action::Install { name: name.clone(), packages: added });
        }
        if !dropped.is_empty() {
            actions.push(Action::KeepPackages { name: name.clone(), packages: dropped });
        }
        if spec.init_hooks != want.spec.init_hooks || spec.start_hooks != want.spec.start_hooks {
            actions.push(Action::UpdateHooks {
                name: name.clone(),
                init_hooks: want.spec.init_hooks.clone(),
                start_hooks: want.spec.start_hooks.clone(),
                run_init: spec.init_hooks != want.spec.init_hooks && !want.spec.init_hooks.is_empty(),
            });
        }
        push_exports(&mut actions, &name, &have.exports(), &want.exports);
        if actions.len() == before && owned {
            actions.push(Action::Unchanged { name });
        }
    }
    // Boxes this manifest made that it no longer lists.
    for have in current {
        if have.owner() != Some(opts.manifest) || desired.iter().any(|d| d.name == have.name) {
            continue;
        }
        let name = have.name.clone();
        actions.push(if opts.prune { Action::Remove { name } } else { Action::KeepUnlisted { name } });
    }
    actions
}

fn mode_mismatch(root: bool, mode: Mode) -> Option<String> {
    match (root, mode) {
        (true, Mode::Rootless) => Some("root = true: apply it with `tent --root apply`".into()),
        (false, Mode::Sudo) => Some("not a root box: apply it with `tent apply` (without --root)".into()),
        _ => None,
    }
}

/// What differs in the fields that only a new container can change.
pub(crate) fn recreate_changes(have: &BoxSpec, want: &BoxSpec) -> Vec<String> {
    let mut changes = Vec::new();
    if have.image != want.image {
        changes.push(format!("image {} → {}", have.image, want.image));
    }
    if have.volumes != want.volumes {
        changes.push(format!("volumes [{}] → [{}]", have.volumes.join(", "), want.volumes.join(", ")));
    }
    if have.env != want.env {
        let keys: Vec<&str> = have
            .env
            .iter()
            .chain(&want.env)
            .filter(|(k, _)| have.env.get(*k) != want.env.get(*k))
            .map(|(k, _)| k.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        changes.push(format!("env {}", keys.join(", ")));
    }
    if have.home != want.home || have.mount_home != want.mount_home {
        let show = |s: &BoxSpec| s.home.as_ref().map_or("your home".to_string(), |h| h.display().to_string());
        changes.push(format!("home {} → {}", show(have), show(want)));
    }
    let flag = |changes: &mut Vec<String>, what: &str, have: bool, want: bool| {
        if have != want {
            changes.push(format!("{what} {} → {}", if have { "on" } else { "off" }, if want { "on" } else { "off" }));
        }
    };
    flag(&mut changes, "init", have.init, want.init);
    flag(&mut changes, "nvidia", have.nvidia, want.nvidia);
    flag(&mut changes, "host", !have.no_host, !want.no_host);
    flag(&mut changes, "own_xdg_open", have.own_xdg_open, want.own_xdg_open);
    if have.unshare != want.unshare {
        let show = |s: &BoxSpec| format!("[{}]", s.unshare.names().join(", "));
        changes.push(format!("unshare {} → {}", show(have), show(want)));
    }
    if have.engine_args != want.engine_args {
        changes.push(format!("engine_args [{}] → [{}]", have.engine_args.join(" "), want.engine_args.join(" ")));
    }
    if have.stop_when_idle != want.stop_when_idle {
        let show = |s: Option<u64>| s.map_or("never".to_string(), |s| format!("{s}s"));
        changes.push(format!("stop_when_idle {} → {}", show(have.stop_when_idle), show(want.stop_when_idle)));
    }
    if have.platform != want.platform {
        let show = |p: &Option<String>| p.clone().unwrap_or_else(|| "(default)".into());
        changes.push(format!("platform {} → {}", show(&have.platform), show(&want.platform)));
    }
    if have.pre_init_hooks != want.pre_init_hooks {
        // They run before provisioning, which only a new container does again.
        changes.push("pre_init_hooks".into());
    }
    if have.attach_hooks != want.attach_hooks {
        // Kept in the container's environment, set at create.
        changes.push("attach_hooks".into());
    }
    if have.hostname != want.hostname {
        let show = |h: &Option<String>| h.clone().unwrap_or_else(|| "(default)".into());
        changes.push(format!("hostname {} → {}", show(&have.hostname), show(&want.hostname)));
    }
    changes
}

/// Unexports what is no longer wanted (or wanted differently), then exports
/// what is missing. Bins are matched by their exported name.
fn push_exports(actions: &mut Vec<Action>, name: &str, have: &Exports, want: &Exports) {
    for app in have.apps.iter().filter(|a| !want.apps.contains(a)) {
        actions.push(Action::UnexportApp { name: name.into(), app: app.clone() });
    }
    for bin in have.bins.iter().filter(|b| !want.bins.contains(b)) {
        actions.push(Action::UnexportBin { name: name.into(), bin: bin.clone() });
    }
    for app in want.apps.iter().filter(|a| !have.apps.contains(a)) {
        actions.push(Action::ExportApp { name: name.into(), app: app.clone() });
    }
    for bin in want.bins.iter().filter(|b| !have.bins.contains(b)) {
        actions.push(Action::ExportBin { name: name.into(), bin: bin.clone() });
    }
    match (have.entry, want.entry) {
        (true, false) => actions.push(Action::RemoveEntry { name: name.into() }),
        (false, true) => actions.push(Action::AddEntry { name: name.into() }),
        _ => {}
    }
}

/// The boxes in the file's order, except that a box another one is cloned
/// from comes before it (Distrobox files may list the copy first). A cycle is
/// left in the file's order; its clone then fails with the missing box named.
pub(crate) fn sources_first(mut desired: Vec<Desired>) -> Vec<Desired> {
    let mut out: Vec<Desired> = Vec::with_capacity(desired.len());
    while !desired.is_empty() {
        let ready = desired.iter().position(|d| {
            d.clone.as_ref().is_none_or(|src| !desired.iter().any(|o| &o.name == src && o.name != d.name))
        });
        out.push(desired.remove(ready.unwrap_or(0)));
    }
    out
}

/// A manifest's boxes by the endpoint they live at. The first group is where
/// tent points (`here`: its flags, the environment), with every box that
/// names no endpoint, and it is there even when empty, so that `--prune`
/// still sees what the manifest made there. Then one group per endpoint a
/// box names (`endpoint`, `connection`), in the file's order; `resolve`
/// reaches it (an engine), and `same` tells two spellings of one endpoint
/// apart from two endpoints (their scope), which share a group, as does a
/// box whose endpoint is where tent points anyway.
pub(crate) fn by_endpoint<T>(
    boxes: &[BoxEntry],
    here: T,
    mut resolve: impl FnMut(&BoxEntry, &EndpointKey) -> crate::error::Result<T>,
    same: impl Fn(&T, &T) -> bool,
) -> crate::error::Result<Vec<(T, Vec<BoxEntry>)>> {
    let mut groups = vec![(here, Vec::new())];
    for entry in boxes {
        match &entry.endpoint {
            None => groups[0].1.push(entry.clone()),
            Some(key) => {
                let at = resolve(entry, key)?;
                match groups.iter_mut().find(|(g, _)| same(g, &at)) {
                    Some((_, group)) => group.push(entry.clone()),
                    None => groups.push((at, vec![entry.clone()])),
                }
            }
        }
    }
    Ok(groups)
}

/// `tent apply FILE --remove` (Distrobox's `assemble rm`): removes the boxes
/// the file lists that exist and are the user's tent boxes; a container of
/// that name that is not one is left alone and said so, as is a box for
/// another engine mode. Boxes the file does not list are never touched.
pub(crate) fn plan_removal(desired: &[Desired], current: &[Current], mode: Mode) -> Vec<Action> {
    let mut actions = Vec::new();
    for want in desired {
        let name = want.name.clone();
        if let Some(reason) = mode_mismatch(want.root, mode) {
            actions.push(Action::Skip { name, reason });
            continue;
        }
        match current.iter().find(|c| c.name == want.name) {
            None => actions.push(Action::Skip { name, reason: "no such box: nothing to remove".into() }),
            Some(have) if !have.tent => actions.push(Action::Skip {
                name,
                reason: "a container of that name is not one of your tent boxes; tent will not touch it".into(),
            }),
            Some(_) => actions.push(Action::Remove { name }),
        }
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "/proj/tent.toml";

    fn spec(image: &str) -> BoxSpec {
        BoxSpec { image: image.into(), manifest: Some(M.into()), ..Default::default() }
    }

    fn want(name: &str, spec: BoxSpec) -> Desired {
        Desired { name: name.into(), spec, clone: None, root: false, exports: Exports::default() }
    }

    /// A box this manifest made and recorded, exactly as `spec` and `exports`.
    fn made(name: &str, spec: BoxSpec, exports: Exports) -> Current {
        Current {
            name: name.into(),
            tent: true,
            label: Some(spec.clone()),
            record: Some(Record { container: "id".into(), manifest: M.into(), spec, exports }),
        }
    }

    fn run(desired: &[Desired], current: &[Current], prune: bool) -> Vec<Action> {
        plan(desired, current, &Options { manifest: Path::new(M), mode: Mode::Rootless, prune })
    }

    fn lines(actions: &[Action]) -> Vec<String> {
        actions.iter().map(Action::describe).collect()
    }

    fn bin(path: &str) -> BinExport {
        BinExport { bin: path.into(), ..Default::default() }
    }

    #[test]
    fn a_clone_is_copied_once_and_then_keeps_its_source_spec() {
        let mut d = want("copy", spec("other-image"));
        d.clone = Some("dev".into());
        d.exports.apps = vec!["htop".into()];
        assert_eq!(
            lines(&run(std::slice::from_ref(&d), &[], false)),
            ["+ clone copy from box dev", "~ export app htop from copy"]
        );
        // Made: its spec is its source's (another image), which is no reason to recreate it.
        let exports = Exports { apps: vec!["htop".into()], ..Default::default() };
        let have = made("copy", spec("deb"), exports);
        assert_eq!(lines(&run(&[d], &[have], false)), ["= copy unchanged"]);
    }

    #[test]
    fn clone_sources_come_first() {
        let mut copy = want("copy", spec("deb"));
        copy.clone = Some("base".into());
        let mut loop_a = want("a", spec("deb"));
        loop_a.clone = Some("b".into());
        let mut loop_b = want("b", spec("deb"));
        loop_b.clone = Some("a".into());
        let names = |v: Vec<Desired>| v.into_iter().map(|d| d.name).collect::<Vec<_>>();
        assert_eq!(names(sources_first(vec![copy.clone(), want("base", spec("deb"))])), ["base", "copy"]);
        assert_eq!(names(sources_first(vec![loop_a, loop_b])), ["a", "b"], "a cycle keeps the file's order");
        let mut existing = want("c2", spec("deb"));
        existing.clone = Some("elsewhere".into());
        assert_eq!(names(sources_first(vec![existing, want("z", spec("deb"))])), ["c2", "z"]);
    }

    #[test]
    fn removal_takes_only_the_listed_tent_boxes() {
        let other = Current { name: "theirs".into(), tent: false, label: None, record: None };
        let current =
            vec![made("dev", spec("deb"), Exports::default()), made("kept", spec("deb"), Exports::default()), other];
        let desired = vec![want("dev", spec("deb")), want("theirs", spec("deb")), want("gone", spec("deb"))];
        let actions = plan_removal(&desired, &current, Mode::Rootless);
        assert_eq!(actions[0], Action::Remove { name: "dev".into() });
        assert!(
            matches!(&actions[1], Action::Skip { name, reason } if name == "theirs" && reason.contains("not one of your"))
        );
        assert!(matches!(&actions[2], Action::Skip { name, .. } if name == "gone"));
        assert!(!actions.iter().any(|a| a.box_name() == "kept"), "an unlisted box is never touched");
        let mut root = want("dev", spec("deb"));
        root.root = true;
        assert!(matches!(plan_removal(&[root], &current, Mode::Rootless)[0], Action::Skip { .. }));
    }

    #[test]
    fn a_missing_box_is_created_then_exported() {
        let mut d = want("dev", BoxSpec { packages: vec!["git".into()], ..spec("deb") });
        d.exports.apps = vec!["htop".into()];
        d.exports.bins = vec![bin("/usr/bin/rg")];
        let actions = run(&[d], &[], false);
        assert_eq!(
            lines(&actions),
            ["+ create dev (image deb) with git", "~ export app htop from dev", "~ export /usr/bin/rg from dev as rg"]
        );
    }

    #[test]
    fn an_unchanged_box_needs_nothing() {
        let mut d = want("dev", spec("deb"));
        d.exports.apps = vec!["htop".into()];
        let current = made("dev", d.spec.clone(), d.exports.clone());
        let actions = run(&[d], &[current], false);
        assert_eq!(actions, [Action::Unchanged { name: "dev".into() }]);
        assert!(!actions.iter().any(Action::changes));
    }

    #[test]
    fn added_packages_install_in_place_and_removed_ones_stay() {
        let have = BoxSpec { packages: vec!["git".into(), "vim".into()], ..spec("deb") };
        let d = want("dev", BoxSpec { packages: vec!["git".into(), "ripgrep".into()], ..spec("deb") });
        let actions = run(&[d], &[made("dev", have, Exports::default())], false);
        assert_eq!(
            actions,
            [
                Action::Install { name: "dev".into(), packages: vec!["ripgrep".into()] },
                Action::KeepPackages { name: "dev".into(), packages: vec!["vim".into()] },
            ]
        );
    }

    #[test]
    fn changed_exports_unexport_then_export() {
        let have = Exports { apps: vec!["a".into()], bins: vec![bin("/usr/bin/rg")], entry: false };
        let mut d = want("dev", spec("deb"));
        d.exports = Exports {
            apps: vec!["b".into()],
            bins: vec![BinExport { name: Some("r".into()), ..bin("/usr/bin/rg") }],
            entry: false,
        };
        let actions = run(&[d.clone()], &[made("dev", d.spec.clone(), have)], false);
        assert_eq!(
            lines(&actions),
            [
                "~ unexport app a of dev",
                "~ unexport rg of dev",
                "~ export app b from dev",
                "~ export /usr/bin/rg from dev as r",
            ]
        );
    }

    #[test]
    fn a_new_image_recreates_and_exports_again() {
        let exports = Exports { apps: vec!["htop".into()], bins: vec![], entry: false };
        let mut d = want("dev", BoxSpec { packages: vec!["git".into()], ..spec("trixie") });
        d.exports = exports.clone();
        let have = BoxSpec { packages: vec!["git".into()], ..spec("bookworm") };
        let actions = run(&[d.clone()], &[made("dev", have, exports)], false);
        assert_eq!(
            actions,
            [
                Action::Recreate {
                    name: "dev".into(), changes: vec!["image bookworm → trixie".into()], spec: d.spec
                },
                Action::ExportApp { name: "dev".into(), app: "htop".into() },
            ]
        );
        assert!(actions[0].needs_confirmation());
    }

    #[test]
    fn env_volumes_home_and_hostname_need_a_new_container() {
        let mut want_spec = spec("deb");
        want_spec.env.insert("A".into(), "1".into());
        want_spec.volumes = vec!["/a:/a".into()];
        want_spec.home = Some("/h".into());
        want_spec.hostname = Some("h".into());
        let changes = recreate_changes(&spec("deb"), &want_spec);
        assert_eq!(changes, ["volumes [] → [/a:/a]", "env A", "home your home → /h", "hostname (default) → h"]);
        // Packages, hooks and the manifest path are not among them.
        let other = BoxSpec { packages: vec!["x".into()], init_hooks: vec!["y".into()], manifest: None, ..spec("deb") };
        assert!(recreate_changes(&spec("deb"), &other).is_empty());
    }

    #[test]
    fn create_options_need_a_new_container_but_pull_does_not() {
        let mut want_spec = spec("deb");
        want_spec.init = true;
        want_spec.nvidia = true;
        want_spec.unshare.netns = true;
        want_spec.engine_args = vec!["--env=X=1".into()];
        want_spec.platform = Some("linux/arm64".into());
        want_spec.pre_init_hooks = vec!["echo pre".into()];
        want_spec.attach_hooks = vec!["echo attach".into()];
        let changes = recreate_changes(&spec("deb"), &want_spec);
        assert_eq!(
            changes,
            [
                "init off → on",
                "nvidia off → on",
                "unshare [] → [netns]",
                "engine_args [] → [--env=X=1]",
                "platform (default) → linux/arm64",
                "pre_init_hooks",
                "attach_hooks",
            ]
        );
        let pulled = BoxSpec { pull: true, ..spec("deb") };
        assert!(recreate_changes(&spec("deb"), &pulled).is_empty(), "pull matters only when a box is made");
        let d = want("dev", want_spec.clone());
        let actions = run(&[d], &[made("dev", spec("deb"), Exports::default())], false);
        assert!(matches!(&actions[0], Action::Recreate { .. }), "{actions:?}");
    }

    #[test]
    fn changed_hooks_are_rewritten_and_new_init_hooks_run_once() {
        let d = want("dev", BoxSpec { init_hooks: vec!["a".into()], start_hooks: vec!["b".into()], ..spec("deb") });
        let actions = run(&[d], &[made("dev", spec("deb"), Exports::default())], false);
        assert_eq!(lines(&actions), ["~ update hooks of dev and run its init hooks once"]);
        let d = want("dev", BoxSpec { start_hooks: vec!["b".into()], ..spec("deb") });
        let have = BoxSpec { init_hooks: vec!["a".into()], ..spec("deb") };
        let actions = run(&[d], &[made("dev", have, Exports::default())], false);
        assert_eq!(lines(&actions), ["~ update hooks of dev"]);
    }

    #[test]
    fn unlisted_boxes_are_removed_only_with_prune_and_only_if_ours() {
        let ours = made("old", spec("deb"), Exports::default());
        let mut by_hand = made("mine", BoxSpec { manifest: None, ..spec("deb") }, Exports::default());
        by_hand.record = None;
        let mut other = made("theirs", spec("deb"), Exports::default());
        other.record.as_mut().unwrap().manifest = "/elsewhere/tent.toml".into();
        let current = [ours, by_hand, other];
        assert_eq!(
            lines(&run(&[], &current, false)),
            ["= old is no longer in the manifest: kept (--prune removes it)"]
        );
        let pruned = run(&[], &current, true);
        assert_eq!(pruned, [Action::Remove { name: "old".into() }]);
        assert!(pruned[0].needs_confirmation());
    }

    #[test]
    fn a_box_made_by_hand_is_taken_over_only_visibly() {
        let mut hand = made("dev", BoxSpec { manifest: None, ..spec("deb") }, Exports::default());
        hand.record = None;
        let actions = run(&[want("dev", spec("deb"))], &[hand], false);
        assert_eq!(actions, [Action::Adopt { name: "dev".into(), owner: None }]);
        assert!(actions[0].needs_confirmation() && actions[0].changes());
    }

    #[test]
    fn a_foreign_container_is_a_conflict() {
        let foreign = Current { name: "dev".into(), tent: false, label: None, record: None };
        let actions = run(&[want("dev", spec("deb"))], &[foreign], false);
        assert!(matches!(&actions[0], Action::Conflict { name, .. } if name == "dev"), "{actions:?}");
    }

    #[test]
    fn the_label_counts_when_there_is_no_record() {
        // State directory wiped: the label still says who owns the box and what it is.
        let mut current = made("dev", BoxSpec { packages: vec!["git".into()], ..spec("deb") }, Exports::default());
        current.record = None;
        let d = want("dev", BoxSpec { packages: vec!["git".into()], ..spec("deb") });
        assert_eq!(run(&[d], &[current], false), [Action::Unchanged { name: "dev".into() }]);
    }

    #[test]
    fn root_boxes_belong_to_the_rootful_engine() {
        let mut d = want("r", spec("deb"));
        d.root = true;
        let rootless = run(&[d.clone()], &[], false);
        assert!(matches!(&rootless[0], Action::Skip { reason, .. } if reason.contains("tent --root apply")));
        let sudo =
            plan(&[want("u", spec("deb"))], &[], &Options { manifest: Path::new(M), mode: Mode::Sudo, prune: false });
        assert!(matches!(&sudo[0], Action::Skip { .. }));
        let root = plan(&[d], &[], &Options { manifest: Path::new(M), mode: Mode::Root, prune: false });
        assert!(matches!(&root[0], Action::Create { .. }));
    }

    #[test]
    fn boxes_are_planned_where_they_live() {
        let entry =
            |name: &str, key: Option<EndpointKey>| BoxEntry { name: name.into(), endpoint: key, ..Default::default() };
        let url = |u: &str| Some(EndpointKey::Url(u.into()));
        let boxes = [
            entry("far", url("ssh://me@Build:22/s")),
            entry("here", None),
            entry("near", Some(EndpointKey::Connection("local-one".into()))),
            entry("far2", url("ssh://me@build/s")),
            entry("also-here", None),
        ];
        // An endpoint is known by its scope: the canonical address, or "here".
        let resolve = |_: &BoxEntry, key: &EndpointKey| {
            Ok(match key {
                EndpointKey::Url(u) => u.to_ascii_lowercase().replace(":22/", "/"),
                EndpointKey::Connection(_) => "here".to_string(),
            })
        };
        let groups = by_endpoint(&boxes, "here".to_string(), resolve, |a, b| a == b).unwrap();
        let names: Vec<(&str, Vec<&str>)> =
            groups.iter().map(|(at, b)| (at.as_str(), b.iter().map(|e| e.name.as_str()).collect())).collect();
        assert_eq!(
            names,
            [("here", vec!["here", "near", "also-here"]), ("ssh://me@build/s", vec!["far", "far2"])],
            "two spellings of one endpoint are one group; where tent points comes first"
        );
        // Where tent points is planned even when no box is left there (--prune).
        let only_far = by_endpoint(&boxes[..1], "here".to_string(), resolve, |a, b| a == b).unwrap();
        assert_eq!(only_far.len(), 2);
        assert!(only_far[0].1.is_empty());
        // An endpoint that cannot be reached stops the plan before anything is made.
        let err = by_endpoint(
            &boxes,
            "here".to_string(),
            |e: &BoxEntry, _: &EndpointKey| Err(crate::error::Error::usage(format!("no {}", e.name), None)),
            |a, b| a == b,
        );
        assert!(err.is_err());
    }

    #[test]
    fn actions_serialize_with_their_box() {
        let json =
            serde_json::to_string(&Action::Install { name: "dev".into(), packages: vec!["git".into()] }).unwrap();
        assert_eq!(json, r#"{"action":"install","box":"dev","packages":["git"]}"#);
    }

    #[test]
    fn the_menu_entry_is_added_and_removed() {
        let mut actions = Vec::new();
        let want = Exports { entry: true, ..Default::default() };
        push_exports(&mut actions, "dev", &Exports::default(), &want);
        assert!(matches!(actions.as_slice(), [Action::AddEntry { name }] if name == "dev"), "{actions:?}");
        actions.clear();
        push_exports(&mut actions, "dev", &want, &want);
        assert!(actions.is_empty());
        push_exports(&mut actions, "dev", &want, &Exports::default());
        assert!(matches!(actions.as_slice(), [Action::RemoveEntry { .. }]), "{actions:?}");
    }
}
