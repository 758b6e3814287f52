//! `tent doctor`: first the engine (reachable, its version, storage driver,
//! cgroups, and for rootless podman the subordinate ids and the uid-mapping
//! helpers), each problem with how to fix it; then the exports: those whose
//! box or target is gone (fix: remove them) and those whose files were
//! deleted or whose tent moved (fix: export them again), fixed on request.
//! The export check is shared with `tent export BOX --check`
//! (`check_exports`).

use serde::Serialize;
use serde_json::Value;

use super::Context;
use crate::cli::DoctorArgs;
use crate::engine::{Engine, Scope, current_euid};
use crate::error::Result;
use crate::export::receipt::{self, Export, Kind, Receipt};
use crate::export::{self, Problem, Selector};
use crate::runtime::Boxes;

/// One thing checked about the engine. `ok: false` with `problem: true` is
/// something that keeps boxes from working; with `problem: false`, advice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Check {
    pub what: String,
    pub ok: bool,
    pub problem: bool,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn good(what: &str, detail: impl Into<String>) -> Self {
        Check { what: what.into(), ok: true, problem: false, detail: detail.into(), fix: None }
    }
    fn bad(what: &str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check { what: what.into(), ok: false, problem: true, detail: detail.into(), fix: Some(fix.into()) }
    }
    fn advice(what: &str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check { what: what.into(), ok: false, problem: false, detail: detail.into(), fix: Some(fix.into()) }
    }
}

pub(super) fn run(ctx: &Context<'_>, args: &DoctorArgs) -> Result<i32> {
    // The engine's first answer runs while the exports are looked at (issue
    // 24: doctor with 500 exports is budgeted at 0.5 s). The checks and
    // findings are printed in the same order as before; only the progress of
    // a box the export check starts comes first now.
    let engine = &ctx.engine;
    let light = engine.is_podman() && engine.is_local() && !args.engine_only;
    let (answer, gathered) = crate::concurrent::at_once(
        || if light { podman_version(engine).map(Answer::Version) } else { engine_info(engine).map(Answer::Info) },
        || (!args.engine_only).then(|| gather_exports(ctx, None)),
    );
    let store = gathered.as_ref().and_then(|g| g.as_ref().ok()).and_then(|g| g.store.as_ref());
    // The facts, and what the engine was last asked (named if it did not answer).
    let (facts, asked) = match answer {
        Some(Answer::Info(info)) => (Some(EngineFacts::from_info(engine.is_podman(), &info)), "info"),
        Some(Answer::Version(version)) => match (store, host_cgroup_version()) {
            (Some(store), Some(cgroups)) => {
                let runtime = format!("{} (what box {} runs with)", store.runtime, store.box_name);
                (Some(EngineFacts { version, storage: store.driver.clone(), cgroups, runtime }), "version")
            }
            // No box told the store's driver: `info` it is.
            _ => (engine_info(engine).map(|info| EngineFacts::from_info(true, &info)), "info"),
        },
        None => (None, if light { "version" } else { "info" }),
    };
    let mut checks = engine_checks(ctx, facts, asked);
    if !args.engine_only {
        checks.extend(lock_files_check(ctx, args.fix));
    }
    if args.engine_only {
        if args.json {
            ctx.printer.data(serde_json::to_string_pretty(&checks).expect("checks serialize"));
        } else {
            print_checks(ctx, &checks);
        }
        return Ok(if checks.iter().any(|c| c.problem) { crate::error::exit::FAILURE } else { 0 });
    }
    if !args.json {
        print_checks(ctx, &checks);
    }
    if checks.iter().any(|c| c.problem && c.what == "engine") {
        // Nothing below can be checked without the engine.
        return Ok(crate::error::exit::FAILURE);
    }
    let gathered = gathered.expect("gathered unless --engine-only")?;
    let exports = report_exports(ctx, gathered, args.fix, args.json)?;
    Ok(if checks.iter().any(|c| c.problem) { crate::error::exit::FAILURE } else { exports })
}

/// The lock files of boxes and exports that are gone (tents before this one
/// left one per box ever made): counted, and with `--fix` removed where no
/// tent holds them. A lock file is tent's own, empty, and made again when
/// needed. Remote scopes are left alone: their boxes are on another machine.
fn lock_files_check(ctx: &Context<'_>, fix: bool) -> Option<Check> {
    let stale = stale_lock_files(&ctx.paths);
    if stale.is_empty() {
        return None;
    }
    let what = "lock files";
    let state = ctx.paths.state.display();
    if !fix {
        let detail = format!("{} of boxes and exports that are gone, under {state}", stale.len());
        return Some(Check::advice(what, detail, "`tent doctor --fix` removes those no tent holds now"));
    }
    let removed = stale.iter().filter(|path| crate::files::retire_if_free(path).unwrap_or(false)).count();
    Some(Check::good(what, format!("removed {removed} of boxes and exports that are gone, under {state}")))
}

/// The most scope folders doctor looks into (the state folder is in the
/// home, which every box can write).
const SCOPES_LIMIT: usize = 64;

fn stale_lock_files(paths: &crate::paths::Paths) -> Vec<std::path::PathBuf> {
    let scopes = |root: std::path::PathBuf| {
        std::fs::read_dir(root)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter(|e| e.file_name().to_str().is_some_and(|n| !n.contains('@')))
            .take(SCOPES_LIMIT)
            .map(|e| e.path())
            .collect::<Vec<_>>()
    };
    let mut stale = Vec::new();
    // boxes/SCOPE/locks/NAME guards the box whose state is boxes/SCOPE/NAME.
    for dir in scopes(paths.boxes_root()) {
        stale.extend(crate::files::stale_locks(&dir, |name| dir.join(name).is_dir()));
    }
    // exports/SCOPE/locks/NAME.json guards the receipt exports/SCOPE/NAME.json.
    for dir in scopes(paths.receipts_root()) {
        stale.extend(crate::files::stale_locks(&dir, |name| dir.join(name).exists()));
    }
    stale
}

/// The engine's first answer to doctor.
///
/// podman on this machine is asked only its `version` (20-30 ms): its
/// `info` looks up the package of each helper (on Debian one `dpkg -S`
/// each, 80-90 ms) and the state of every container (0.4 s in all with 100
/// containers), and doctor would wait for it (issue 24). The storage driver
/// and runtime then come from a box the export check inspects (a store has
/// one driver) and the cgroup version from this machine's kernel, as podman
/// reads it; with no box to inspect, from `info` after all. Docker's `info`
/// is the daemon's answer (0.1 s); a remote engine's facts are its host's.
enum Answer {
    Info(Value),
    Version(String),
}

/// podman's version, when it answers `version`.
fn podman_version(engine: &Engine) -> Option<String> {
    let output = engine.output(&["version", "--format", "json"]).ok().filter(|o| o.status.success())?;
    let value: Value = serde_json::from_slice(&output.stdout).ok()?;
    value["Client"]["Version"].as_str().filter(|v| !v.is_empty()).map(str::to_string)
}

/// This machine's cgroup version, read as podman reads it: v2 when
/// /sys/fs/cgroup is a cgroup2 file system, else v1 (hybrid or legacy).
fn host_cgroup_version() -> Option<String> {
    let fs = rustix::fs::statfs("/sys/fs/cgroup").ok()?;
    Some(if fs.f_type == libc::CGROUP2_SUPER_MAGIC { "2" } else { "1" }.to_string())
}

fn print_checks(ctx: &Context<'_>, checks: &[Check]) {
    for c in checks {
        let line = format!("{}: {}", c.what, c.detail);
        match (&c.fix, c.ok) {
            (_, true) => ctx.printer.status(line),
            (Some(fix), false) => ctx.printer.warn(format!("{line}\n  fix: {fix}")),
            (None, false) => ctx.printer.warn(line),
        }
    }
}

/// The engine's `info`, when it answers.
fn engine_info(engine: &Engine) -> Option<Value> {
    let info_args: &[&str] =
        if engine.is_podman() { &["info", "--format", "json"] } else { &["info", "--format", "{{json .}}"] };
    engine
        .output(info_args)
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| serde_json::from_slice::<Value>(&o.stdout).ok())
}

/// What tent needs of the engine it uses now, from its facts (None: it did
/// not answer `asked`).
fn engine_checks(ctx: &Context<'_>, facts: Option<EngineFacts>, asked: &str) -> Vec<Check> {
    let engine = &ctx.engine;
    let mut checks = Vec::new();
    let Some(facts) = facts else {
        let how = if engine.is_podman() {
            "install podman (and uidmap for rootless use), or name another engine with --engine or TENT_ENGINE"
        } else {
            "start the Docker daemon (`sudo systemctl start docker`) and make sure you may use it (the docker group)"
        };
        checks.push(Check::bad(
            "engine",
            format!("{} ({}) does not answer `{asked}`", engine.describe(), engine.path.display()),
            how,
        ));
        return checks;
    };
    checks.push(Check::good("engine", format!("{} {} at {}", engine.describe(), facts.version, engine.path.display())));
    checks.extend(facts.checks(engine.rootless));
    if engine.rootless {
        let user = crate::boxes::host::HostUser::current();
        for (file, what) in [("/etc/subuid", "subordinate uids"), ("/etc/subgid", "subordinate gids")] {
            let text = crate::files::read_text_bounded(std::path::Path::new(file), 1 << 20).unwrap_or_default();
            checks.push(subordinate_check(what, file, &text, &user.name, user.uid));
        }
        for helper in ["newuidmap", "newgidmap"] {
            checks.push(match ::which::which(helper) {
                Ok(path) => Check::good(helper, path.display().to_string()),
                Err(_) => Check::bad(
                    helper,
                    "not found: rootless podman cannot map the box's users",
                    "install it (Debian/Ubuntu: uidmap; Fedora, openSUSE, Arch: shadow-utils or shadow)",
                ),
            });
        }
    }
    checks
}

/// The facts about the engine tent cares about (from its `info`, or as
/// [`Answer`] tells).
#[derive(Debug, Default, PartialEq, Eq)]
struct EngineFacts {
    pub version: String,
    pub storage: String,
    pub cgroups: String,
    pub runtime: String,
}

impl EngineFacts {
    fn from_info(podman: bool, info: &Value) -> Self {
        let s = |v: &Value| {
            v.as_str().map(str::to_string).or_else(|| v.as_u64().map(|n| n.to_string())).unwrap_or_default()
        };
        if podman {
            EngineFacts {
                version: s(&info["version"]["Version"]),
                storage: s(&info["store"]["graphDriverName"]),
                cgroups: s(&info["host"]["cgroupVersion"]).trim_start_matches('v').to_string(),
                runtime: s(&info["host"]["ociRuntime"]["name"]),
            }
        } else {
            EngineFacts {
                version: s(&info["ServerVersion"]),
                storage: s(&info["Driver"]),
                cgroups: s(&info["CgroupVersion"]),
                runtime: s(&info["DefaultRuntime"]),
            }
        }
    }

    fn checks(&self, rootless: bool) -> Vec<Check> {
        let mut checks = Vec::new();
        checks.push(if self.storage == "vfs" {
            Check::advice(
                "storage",
                "vfs: every box copies its whole image, and first starts are slow",
                "use overlay: `driver = \"overlay\"` in ~/.config/containers/storage.conf (native overlay needs \
                 Linux 5.13, else install fuse-overlayfs), then `podman system reset` (it removes your containers)",
            )
        } else {
            Check::good("storage", self.storage.clone())
        });
        checks.push(if self.cgroups == "1" && rootless {
            Check::advice(
                "cgroups",
                "v1: rootless `--init` boxes (systemd as PID 1) cannot start",
                "boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1), or use `tent --root create --init`",
            )
        } else {
            Check::good("cgroups", format!("v{}", self.cgroups))
        });
        if !self.runtime.is_empty() {
            checks.push(Check::good("runtime", self.runtime.clone()));
        }
        checks
    }
}

/// Whether `/etc/subuid` or `/etc/subgid` (text given) gives the user a range
/// big enough for a distribution's users (65536, as useradd gives).
fn subordinate_check(what: &str, file: &str, text: &str, user: &str, uid: u32) -> Check {
    let uid = uid.to_string();
    let count: u64 = text
        .lines()
        .filter_map(|line| {
            let mut parts = line.trim().split(':');
            let (owner, _start, count) = (parts.next()?, parts.next()?, parts.next()?);
            (owner == user || owner == uid).then(|| count.parse::<u64>().ok()).flatten()
        })
        .sum();
    let fix = format!(
        "sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}, then `podman system migrate`"
    );
    match count {
        0 => Check::bad(what, format!("{file} gives {user} none: rootless podman cannot run boxes"), fix),
        n if n < 65536 => Check::advice(what, format!("{n} in {file}: images with high uids may fail to unpack"), fix),
        n => Check::good(what, format!("{n} in {file}")),
    }
}

/// One finding, as printed and as `--json` (docs/exports.md).
#[derive(Debug, serde::Serialize)]
struct Finding {
    #[serde(rename = "box")]
    box_name: String,
    scope: Scope,
    kind: Kind,
    name: String,
    target: String,
    problem: Problem,
    /// "remove" or "export-again".
    fix: &'static str,
    fixed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip)]
    export: Export,
}

/// Checks the exports of every box (or of `only_box` on this engine),
/// reports them and fixes them on request (`tent doctor`, `tent export --check`).
pub(super) fn check_exports(ctx: &Context<'_>, only_box: Option<&str>, fix: bool, json: bool) -> Result<i32> {
    let gathered = gather_exports(ctx, only_box)?;
    report_exports(ctx, gathered, fix, json)
}

/// What [`gather_exports`] found: each problem with the engine of its box,
/// and the receipts it could not check (why, and how to).
struct Gathered {
    findings: Vec<(Engine, Finding)>,
    unchecked: Vec<String>,
    /// The store of the engine tent uses now, as the first of its boxes
    /// inspected tells it.
    store: Option<StoreSeen>,
}

/// The storage driver and runtime a box's inspect tells.
struct StoreSeen {
    driver: String,
    runtime: String,
    box_name: String,
}

/// Looks at every export of the receipts (of `only_box`'s, when given).
fn gather_exports(ctx: &Context<'_>, only_box: Option<&str>) -> Result<Gathered> {
    let mut findings = Vec::new();
    let mut unchecked = Vec::new();
    let mut store = None;
    for (scope, box_name, path) in receipt::all_receipts(&ctx.paths.receipts_root()) {
        if only_box.is_some_and(|b| b != box_name || scope != ctx.engine.scope()) {
            continue;
        }
        let Some(receipt) = Receipt::load(&path)? else {
            continue;
        };
        let Some(engine) = engine_for(ctx, &receipt) else {
            // With another endpoint set, this machine's boxes are out of reach.
            let without = ctx.engine.endpoint.remote().map(|r| format!(" without {}", r.source)).unwrap_or_default();
            unchecked.push(format!("{box_name} ({scope}): run `{} doctor`{without} to check it", scope.tent_command()));
            continue;
        };
        // A container of that name that is not the user's own tent box (the
        // box was removed and another user made one on a shared store) is
        // never started or run in: for this receipt the box is gone.
        let mine = |c: &crate::engine::json::Container| {
            c.label(crate::boxes::labels::FORMAT).is_some() && crate::runtime::other_owner(c).is_none()
        };
        let inspected = engine.inspect(&box_name)?.filter(mine);
        if store.is_none() && scope == ctx.engine.scope() {
            store = inspected.as_ref().filter(|c| !c.driver.is_empty() && !c.runtime.is_empty()).map(|c| StoreSeen {
                driver: c.driver.clone(),
                runtime: c.runtime.clone(),
                box_name: box_name.clone(),
            });
        }
        let problems = match inspected {
            None => receipt.exports.iter().map(|e| (e.clone(), Problem::BoxGone)).collect(),
            Some(container) => {
                let boxes = Boxes {
                    engine: &engine,
                    paths: &ctx.paths,
                    progress: ctx.printer,
                    host_commands: &ctx.config.host_commands,
                };
                boxes.start(&box_name, Some(&container))?;
                export::check_exports(&engine, &box_name, &receipt.exports)?
            }
        };
        for (export, problem) in problems {
            findings.push((
                engine.clone(),
                Finding {
                    box_name: box_name.clone(),
                    scope,
                    kind: export.kind,
                    name: export.name.clone(),
                    target: export.target.clone(),
                    fix: if problem.fix_is_remove() { "remove" } else { "export-again" },
                    problem,
                    fixed: false,
                    error: None,
                    export,
                },
            ));
        }
    }
    Ok(Gathered { findings, unchecked, store })
}

/// Prints what [`gather_exports`] found, and fixes it when asked.
fn report_exports(ctx: &Context<'_>, gathered: Gathered, fix: bool, json: bool) -> Result<i32> {
    let Gathered { mut findings, unchecked, .. } = gathered;
    for note in &unchecked {
        ctx.printer.warn(format!("not checked: {note}"));
    }
    if !json {
        if findings.is_empty() {
            ctx.printer.status("exports: no problems found");
        }
        for (_, f) in &findings {
            ctx.printer.data(format!(
                "{} {} of {} ({}): {}; fix: {}",
                f.kind.as_str(),
                f.name,
                f.box_name,
                f.scope,
                f.problem.describe(),
                if f.fix == "remove" { "remove it" } else { "export it again" }
            ));
        }
    }
    let fix = fix
        || (!json
            && !findings.is_empty()
            && ctx.printer.stderr_is_terminal()
            && ctx.printer.confirm(&format!("Fix {} problem(s)?", findings.len())));
    if fix {
        for (engine, finding) in &mut findings {
            match repair(ctx, engine, finding) {
                Ok(()) => finding.fixed = true,
                Err(err) => finding.error = Some(err.to_string()),
            }
            if !json {
                match &finding.error {
                    None => ctx.printer.status(format!(
                        "fixed {} {} of {}",
                        finding.kind.as_str(),
                        finding.name,
                        finding.box_name
                    )),
                    Some(err) => {
                        ctx.printer.warn(format!("could not fix {} of {}: {err}", finding.name, finding.box_name))
                    }
                }
            }
        }
    } else if !findings.is_empty() && !json {
        ctx.printer.status("run `tent doctor --fix` to fix them");
    }
    if json {
        let list: Vec<&Finding> = findings.iter().map(|(_, f)| f).collect();
        ctx.printer.data(serde_json::to_string_pretty(&list).expect("findings serialize"));
    }
    Ok(if findings.iter().all(|(_, f)| f.fixed) { 0 } else { crate::error::exit::FAILURE })
}

/// The engine a receipt's exports live on, when tent can reach it without
/// asking for a password (rootful podman of a plain user needs sudo): tent's
/// own for that scope (`Engine::for_scope` of its --engine, TENT_ENGINE or
/// config). Never the receipt's `engine`, which any box can write.
fn engine_for(ctx: &Context<'_>, receipt: &Receipt) -> Option<Engine> {
    let scope = Scope::parse(&receipt.scope)?;
    if scope == ctx.engine.scope() {
        return Some(ctx.engine.clone());
    }
    if scope == Scope::PodmanRoot && current_euid() != 0 {
        return None;
    }
    Engine::for_scope(ctx.engine.path.to_str(), scope)
}

fn repair(ctx: &Context<'_>, engine: &Engine, f: &Finding) -> Result<()> {
    if f.problem.fix_is_remove() {
        export::unexport(&ctx.paths, f.scope, &f.box_name, Selector::Exact(f.kind, &f.name))?;
        return Ok(());
    }
    let exporter = ctx.exporter(engine, &f.box_name, false)?;
    match f.kind {
        Kind::App => exporter.export_app(&f.export.request).map(drop),
        Kind::Bin => {
            let dir = f.export.dir.clone().unwrap_or_else(|| ctx.bin_dir());
            exporter.export_bin(&f.export.request, Some(&f.export.name), &dir).map(drop)
        }
        Kind::Entry => exporter.export_entry(ctx.config.entry.terminal.as_deref()).map(drop),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_facts_come_from_either_engines_info() {
        let podman: Value = serde_json::from_str(
            r#"{"version":{"Version":"4.3.1"},"store":{"graphDriverName":"vfs"},"host":{"cgroupVersion":"v1","ociRuntime":{"name":"crun"}}}"#,
        )
        .unwrap();
        let facts = EngineFacts::from_info(true, &podman);
        assert_eq!(
            facts,
            EngineFacts { version: "4.3.1".into(), storage: "vfs".into(), cgroups: "1".into(), runtime: "crun".into() }
        );
        let checks = facts.checks(true);
        assert!(checks.iter().any(|c| c.what == "storage" && !c.ok && !c.problem), "{checks:?}");
        assert!(checks.iter().any(|c| c.what == "cgroups" && !c.ok), "{checks:?}");
        let docker: Value = serde_json::from_str(
            r#"{"ServerVersion":"20.10.24","Driver":"overlay2","CgroupVersion":"2","DefaultRuntime":"runc"}"#,
        )
        .unwrap();
        let facts = EngineFacts::from_info(false, &docker);
        assert_eq!(facts.cgroups, "2");
        assert!(facts.checks(false).iter().all(|c| c.ok));
    }

    #[test]
    fn subordinate_ids_are_found_by_name_or_uid() {
        let text = "alice:100000:65536\n1001:300000:65536\nbob:200000:1000\n";
        assert!(subordinate_check("uids", "/etc/subuid", text, "alice", 1000).ok);
        assert!(subordinate_check("uids", "/etc/subuid", text, "carol", 1001).ok, "by uid");
        let small = subordinate_check("uids", "/etc/subuid", text, "bob", 1002);
        assert!(!small.ok && !small.problem);
        let none = subordinate_check("uids", "/etc/subuid", text, "dave", 1003);
        assert!(none.problem && none.fix.as_deref().unwrap().contains("usermod --add-subuids"));
    }
}
