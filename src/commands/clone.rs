//! `tent clone`: a new box with another box's system and spec.

use super::Context;
use crate::cli::CloneArgs;
use crate::error::Result;

pub(super) fn run(ctx: &Context<'_>, args: &CloneArgs) -> Result<i32> {
    let (src, dst) = (args.source.as_str(), args.destination.as_str());
    ctx.clone_box(src, dst)?;
    ctx.printer.status(format!("{dst} is a copy of {src}: `tent enter {dst}`"));
    Ok(0)
}
