//! `tent doctor`: finds exports whose box or target is gone (fix: remove
//! them) and exports whose files were deleted or whose tent moved (fix:
//! export them again), and fixes them on request. The check itself is
//! shared with `tent export BOX --check` through `Context`.

use super::Context;
use crate::cli::DoctorArgs;
use crate::error::Result;

pub fn run(ctx: &Context<'_>, args: &DoctorArgs) -> Result<i32> {
    ctx.printer.verbose(format!("engine: {} ({})", ctx.engine.describe(), ctx.engine.path.display()));
    ctx.check_exports(None, args.fix, args.json)
}
