//! `tent doctor` and `tent export BOX --check`: finds exports whose box or
//! target is gone (fix: remove them) and exports whose files were deleted or
//! whose tent moved (fix: export them again), and fixes them on request.

use super::Context;
use crate::boxes::lifecycle::Boxes;
use crate::cli::DoctorArgs;
use crate::engine::{Engine, Scope, current_euid};
use crate::error::Result;
use crate::export::receipt::{self, Export, Kind, Receipt};
use crate::export::{self, Problem, Selector};

pub fn run(ctx: &Context<'_>, args: &DoctorArgs) -> Result<i32> {
    ctx.printer.verbose(format!("engine: {} ({})", ctx.engine.describe(), ctx.engine.path.display()));
    check(ctx, None, args.fix, args.json)
}

/// One finding, as printed and as `--json` (docs/exports.md).
#[derive(Debug, serde::Serialize)]
struct Finding {
    #[serde(rename = "box")]
    box_name: String,
    scope: String,
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

/// Checks the exports of every box (or of `only_box` on this engine).
pub fn check(ctx: &Context<'_>, only_box: Option<&str>, fix: bool, json: bool) -> Result<i32> {
    let mut findings = Vec::new();
    let mut unchecked = Vec::new();
    for (scope, box_name, path) in receipt::all_receipts(&ctx.paths.state.join("exports")) {
        if only_box.is_some_and(|b| b != box_name || scope != ctx.engine.scope().as_str()) {
            continue;
        }
        let Some(receipt) = Receipt::load(&path)? else {
            continue;
        };
        let Some(engine) = engine_for(ctx, &receipt) else {
            unchecked
                .push(format!("{box_name} ({scope}): run `{} doctor` to check it", export::tent_for_scope(&scope)));
            continue;
        };
        let problems = match engine.inspect(&box_name)? {
            None => receipt.exports.iter().map(|e| (e.clone(), Problem::BoxGone)).collect(),
            Some(container) => {
                let boxes = Boxes { engine: &engine, paths: &ctx.paths, printer: ctx.printer };
                boxes.start(&box_name, Some(&container))?;
                export::check_exports(&engine, &box_name, &receipt.exports)?
            }
        };
        for (export, problem) in problems {
            findings.push((
                engine.clone(),
                Finding {
                    box_name: box_name.clone(),
                    scope: scope.clone(),
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
/// asking for a password (rootful podman of a plain user needs sudo).
fn engine_for(ctx: &Context<'_>, receipt: &Receipt) -> Option<Engine> {
    if receipt.scope == ctx.engine.scope().as_str() {
        return Some(ctx.engine.clone());
    }
    let root = Scope::parse(&receipt.scope) == Some(Scope::PodmanRoot);
    if root && current_euid() != 0 {
        return None;
    }
    let engine = Engine::detect(Some(&receipt.engine), root).ok()?;
    (engine.scope().as_str() == receipt.scope).then_some(engine)
}

fn repair(ctx: &Context<'_>, engine: &Engine, f: &Finding) -> Result<()> {
    if f.problem.fix_is_remove() {
        export::unexport(&ctx.paths, &f.scope, &f.box_name, Selector::Exact(f.kind, &f.name))?;
        return Ok(());
    }
    let exporter = super::export::exporter(ctx, engine, &f.box_name, false)?;
    match f.kind {
        Kind::App => exporter.export_app(&f.export.request).map(drop),
        Kind::Bin => {
            let dir = f.export.dir.clone().unwrap_or_else(|| ctx.paths.bin.clone());
            exporter.export_bin(&f.export.request, Some(&f.export.name), &dir).map(drop)
        }
    }
}
