//! `tent entry BOX [--remove]`: the box's launcher in the desktop menu.

use super::Context;
use crate::cli::EntryArgs;
use crate::error::Result;
use crate::export::{self, Selector, receipt::Kind};

pub(super) fn run(ctx: &Context<'_>, args: &EntryArgs) -> Result<i32> {
    let name = args.box_name.as_str();
    if args.remove {
        let scope = ctx.engine.scope();
        let removals =
            export::unexport(&ctx.paths, scope, name, Selector::Exact(Kind::Entry, export::entry::ENTRY_NAME))?;
        if removals.is_empty() {
            ctx.printer.status(format!("{name} has no launcher in the menu"));
        }
        for removal in removals {
            for path in &removal.removed {
                ctx.printer.status(format!("removed {}", path.display()));
            }
            for path in &removal.kept {
                ctx.printer.warn(format!("left {} in place: tent did not write what is there now", path.display()));
            }
        }
        return Ok(0);
    }
    ctx.add_entry(name)?;
    Ok(0)
}
