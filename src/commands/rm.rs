//! `tent rm`: removes boxes, their exports and tent's state of them. The
//! user's files are never touched; a box's own `--home` only on request.

use super::{Context, names_or_all};
use crate::boxes::{BoxSpec, labels};
use crate::cli::RmArgs;
use crate::error::{Error, Result};
use crate::export;

pub fn run(ctx: &Context<'_>, args: &RmArgs) -> Result<i32> {
    let boxes = ctx.boxes();
    let names = names_or_all(ctx, &args.names, args.all)?;
    if names.is_empty() {
        ctx.printer.status("no boxes to remove");
        return Ok(0);
    }
    // Check everything first, so one bad name removes nothing.
    let mut targets = Vec::new();
    for name in &names {
        let container = boxes.get(name)?;
        if container.running() && !args.force {
            return Err(Error::BoxRunning { name: name.clone() });
        }
        targets.push(container);
    }
    if !args.yes && ctx.printer.stderr_is_terminal() {
        let list = names.join(", ");
        let question = format!("Remove {list}, its exports and its snapshots? Your home and files stay.");
        if !ctx.printer.confirm(&question) {
            return Err(Error::Aborted("nothing was removed".into()));
        }
    }
    for container in targets {
        let name = container.name.clone();
        let spinner = ctx.printer.spinner(format!("removing {name}"));
        let removed_exports = export::remove_box_exports(&ctx.paths, ctx.engine.scope().as_str(), &name);
        let result = boxes.remove(&name);
        spinner.finish();
        result?;
        match boxes.remove_snapshots(&name) {
            Ok(0) => {}
            Ok(n) => ctx.printer.status(format!("removed {n} snapshot(s) of {name}")),
            Err(err) => ctx.printer.warn(format!("snapshots of {name}: {err}")),
        }
        match removed_exports {
            Ok(files) if !files.is_empty() => {
                ctx.printer.status(format!("removed {} exported file(s) of {name}", files.len()));
            }
            Ok(_) => {}
            Err(err) => ctx.printer.warn(format!("exports of {name}: {err}")),
        }
        if args.delete_home
            && let Some(home) = BoxSpec::from_label(container.label(labels::SPEC)).and_then(|s| s.home)
        {
            std::fs::remove_dir_all(&home).map_err(|e| Error::io(&home, e))?;
            ctx.printer.status(format!("deleted {name}'s own home {}", home.display()));
        }
        ctx.printer.status(format!("removed {name}"));
    }
    Ok(0)
}
