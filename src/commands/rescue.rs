//! `tent rescue`: keep a stuck box's system in a new container.
//!
//! Something ended the box behind the engine's back (the OOM killer, the end
//! of a session that took the engine's monitor with it) and podman never
//! learnt: it still says the box runs, and refuses to stop or start it
//! ("container state improper"). A commit still works on it, so its system
//! becomes a snapshot (kind `rescue`) and the box is made again from it by
//! rollback's swap, under its name, with its spec, home, volumes and exports.

use super::Context;
use crate::boxes::snapshot::SnapshotKind;
use crate::cli::RescueArgs;
use crate::error::{Error, Result};

pub(super) fn run(ctx: &Context<'_>, args: &RescueArgs) -> Result<i32> {
    let name = args.box_name.as_str();
    crate::boxes::validate_name(name)?;
    // Whether a box is stuck is told by its state on this machine.
    ctx.engine.require_local("rescuing a stuck box")?;
    let boxes = ctx.boxes();
    // Under the box's lock from the look to the swap: the box found stuck
    // is the box made again.
    let lock = boxes.box_lock(name)?;
    let old = boxes.get(name)?;
    let Some(pid) = boxes.stuck_pid(name, &old) else {
        return Err(Error::usage(
            format!("box {name:?} is not stuck: the engine can stop and start it"),
            Some(format!(
                "`tent rescue` is for a box the engine says runs while its process is gone; \
                 to stop this one, run `tent stop {name}`"
            )),
        ));
    };
    ctx.printer.status(format!(
        "{name} is stuck (its process, pid {pid}, is gone); keeping its system in a new container: \
         the stuck container {} goes once the new one runs",
        old.id.get(..12).unwrap_or(&old.id)
    ));
    let taken = ctx.take_snapshot(name, None, SnapshotKind::Rescue)?;
    let spinner = ctx.printer.spinner(format!("making {name} again from snapshot {}", taken.name));
    let result = ctx.rollback_box(name, &taken, Some((&old, &lock)));
    spinner.finish();
    result?;
    ctx.printer.status(format!(
        "{name} runs again in a new container with its system (snapshot {}); its home, volumes and exports are as they were",
        taken.name
    ));
    Ok(0)
}
