//! `tent bake`.

use super::Context;
use crate::cli::BakeArgs;
use crate::error::{Error, Result};

pub fn run(_ctx: &Context<'_>, _args: &BakeArgs) -> Result<i32> {
    Err(Error::usage("tent bake is not built yet", None))
}
