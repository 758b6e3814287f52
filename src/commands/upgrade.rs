//! `tent upgrade`: a snapshot, then the box's package manager upgrades
//! everything; a failed upgrade is rolled back.

use super::{Context, names_or_all};
use crate::boxes::init::INIT_SCRIPT;
use crate::boxes::snapshot::SnapshotKind;
use crate::cli::UpgradeArgs;
use crate::error::{Error, Result, exit};

pub fn run(ctx: &Context<'_>, args: &UpgradeArgs) -> Result<i32> {
    let names = names_or_all(ctx, &args.names, args.all)?;
    if names.is_empty() {
        ctx.printer.status("no boxes to upgrade");
        return Ok(0);
    }
    for name in &names {
        ctx.boxes().get(name)?;
    }
    if !args.yes && ctx.printer.stderr_is_terminal() {
        let question = format!(
            "Upgrade the packages of {}? A snapshot is taken first; `tent rollback BOX` undoes it.",
            names.join(", ")
        );
        if !ctx.printer.confirm(&question) {
            return Err(Error::Aborted("nothing was upgraded".into()));
        }
    }
    crate::interrupt::catch();
    let mut failed = 0;
    for name in &names {
        match upgrade_one(ctx, name) {
            Ok(snapshot) => ctx.printer.status(format!("upgraded {name}; `tent rollback {name} {snapshot}` undoes it")),
            Err(err) => {
                failed += 1;
                if names.len() == 1 {
                    return Err(err);
                }
                ctx.printer.error(&err);
            }
        }
    }
    if failed > 0 {
        ctx.printer.warn(format!("{failed} of {} box(es) could not be upgraded", names.len()));
        return Ok(exit::FAILURE);
    }
    Ok(0)
}

/// Upgrades one box; the name of the snapshot that undoes it.
fn upgrade_one(ctx: &Context<'_>, name: &str) -> Result<String> {
    let boxes = ctx.boxes();
    boxes.start(name, None)?;
    ctx.printer.step(format!("taking a snapshot of {name}"));
    let (snapshot, dropped) = boxes.take_snapshot(name, None, SnapshotKind::Upgrade, ctx.config.snapshots_keep)?;
    for old in dropped {
        ctx.printer.status(format!(
            "deleted the oldest snapshot {} of {name} (snapshots.keep = {})",
            old.name, ctx.config.snapshots_keep
        ));
    }
    let spinner = ctx.printer.spinner(format!("upgrading {name}"));
    // This tent's init script, not the one the box was made with: a box made
    // by an older tent has no upgrade mode in its copy.
    let args = ["exec", "--user", "root", name, "/bin/sh", "-c", INIT_SCRIPT, "tent-init", "upgrade"];
    ctx.printer
        .verbose(format!("$ {} exec --user root {name} /bin/sh -c <tent-init> tent-init upgrade", ctx.engine.name()));
    let output = ctx.engine.output(&args);
    spinner.finish();
    let output = output?;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    ctx.printer.verbose(&text);
    if output.status.success() && !crate::interrupt::interrupted() {
        return Ok(snapshot.name);
    }
    let why = if crate::interrupt::interrupted() {
        "it was interrupted".to_string()
    } else {
        match output.status.code() {
            Some(code) => format!("the package manager failed (exit status {code})"),
            None => "the package manager was killed".to_string(),
        }
    };
    ctx.printer.warn(format!("upgrading {name} failed: {why}; rolling it back to snapshot {}", snapshot.name));
    let rolled = ctx.rollback_box(name, &snapshot.image);
    let tail: Vec<&str> = text.lines().collect();
    let mut hint = String::from("last lines of the upgrade:\n");
    for line in &tail[tail.len().saturating_sub(12)..] {
        hint.push_str("  | ");
        hint.push_str(line);
        hint.push('\n');
    }
    match rolled {
        Ok(()) => {
            hint.push_str(&format!(
                "fix the cause in the box (`tent enter {name}`), then run `tent upgrade {name}` again"
            ));
            Err(Error::Snapshot {
                message: format!(
                    "upgrading {name} failed ({why}); the box was rolled back to snapshot {}",
                    snapshot.name
                ),
                hint: Some(hint),
            })
        }
        Err(err) => Err(Error::Snapshot {
            message: format!("upgrading {name} failed ({why}), and rolling it back failed too: {err}"),
            hint: Some(format!("{hint}try `tent rollback {name} {}`", snapshot.name)),
        }),
    }
}
