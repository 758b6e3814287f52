//! `tent rollback`: return a box's system to a snapshot.

use super::Context;
use crate::cli::RollbackArgs;
use crate::error::{Error, Result};
use crate::output::Unanswered;

pub(super) fn run(ctx: &Context<'_>, args: &RollbackArgs) -> Result<i32> {
    let boxes = ctx.boxes();
    let name = args.box_name.as_str();
    crate::boxes::validate_name(name)?;
    // The box and its snapshot at once (issue 24), under the box's lock,
    // held through the question too: the box the user says yes to is the
    // box rolled back. A missing box is the better error.
    let lock = boxes.box_lock(name)?;
    let snapshots = ctx.snapshots();
    let tag = args.name.as_deref().and_then(|s| snapshots.tag_of(name, s));
    let also: Vec<&str> = tag.as_deref().into_iter().collect();
    let (old, found) = boxes.get_also(name, &also);
    let old = old?;
    let prefetched = found.and_then(|mut images| images.pop());
    let snapshot = snapshots.find_given(name, args.name.as_deref(), prefetched)?;
    let question = format!(
        "Return {name}'s system to snapshot {} ({})? Changes to its system since are lost; home, volumes and exports stay.",
        snapshot.name, snapshot.created
    );
    let unanswered = Unanswered::Refuse(Error::usage(
        format!("not rolling {name} back without a confirmation"),
        Some(format!("run it on a terminal, or pass --yes: `tent rollback {name} {} --yes`", snapshot.name)),
    ));
    ctx.printer.agree(args.yes, &question, unanswered, &format!("{name} was not changed"))?;
    let spinner = ctx.printer.spinner(format!("rolling {name} back to {}", snapshot.name));
    let result = ctx.rollback_box(name, &snapshot, Some((&old, &lock)));
    spinner.finish();
    result?;
    ctx.printer.status(format!(
        "{name} is back on snapshot {} ({}); its home, volumes and exports are as they were",
        snapshot.name, snapshot.created
    ));
    Ok(0)
}
