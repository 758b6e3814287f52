//! `tent stop`.

use super::{Context, names_or_all};
use crate::cli::StopArgs;
use crate::error::Result;

pub(super) fn run(ctx: &Context<'_>, args: &StopArgs) -> Result<i32> {
    let boxes = ctx.boxes();
    for name in names_or_all(ctx, &args.names, args.all)? {
        let container = boxes.get(&name)?;
        if !container.running() {
            ctx.printer.status(format!("{name} is not running"));
            continue;
        }
        let spinner = ctx.printer.spinner(format!("stopping {name}"));
        let result = boxes.stop(&name);
        spinner.finish();
        match result? {
            0 => ctx.printer.status(format!("stopped {name}")),
            1 => ctx.printer.status(format!("stopped {name} and the 1 command running in it")),
            n => ctx.printer.status(format!("stopped {name} and the {n} commands running in it")),
        }
    }
    Ok(0)
}
