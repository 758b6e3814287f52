//! `tent rollback`: return a box's system to a snapshot.

use super::Context;
use crate::cli::RollbackArgs;
use crate::error::{Error, Result};

pub(super) fn run(ctx: &Context<'_>, args: &RollbackArgs) -> Result<i32> {
    let boxes = ctx.boxes();
    let name = args.box_name.as_str();
    // The box itself is fetched (and checked) once, by the rollback under
    // its lock; here only when there is no snapshot, for the better error.
    crate::boxes::validate_name(name)?;
    let snapshot = match ctx.snapshots().find(name, args.name.as_deref()) {
        Ok(snapshot) => snapshot,
        Err(err) => {
            boxes.get(name)?;
            return Err(err);
        }
    };
    if !args.yes {
        if !ctx.printer.stderr_is_terminal() {
            return Err(Error::usage(
                format!("not rolling {name} back without a confirmation"),
                Some(format!("run it on a terminal, or pass --yes: `tent rollback {name} {} --yes`", snapshot.name)),
            ));
        }
        let question = format!(
            "Return {name}'s system to snapshot {} ({})? Changes to its system since are lost; home, volumes and exports stay.",
            snapshot.name, snapshot.created
        );
        if !ctx.printer.confirm(&question) {
            return Err(Error::Aborted(format!("{name} was not changed")));
        }
    }
    let spinner = ctx.printer.spinner(format!("rolling {name} back to {}", snapshot.name));
    let result = ctx.rollback_box(name, &snapshot.image);
    spinner.finish();
    result?;
    ctx.printer.status(format!(
        "{name} is back on snapshot {} ({}); its home, volumes and exports are as they were",
        snapshot.name, snapshot.created
    ));
    Ok(0)
}
