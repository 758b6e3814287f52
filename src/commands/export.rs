//! `tent export` and `tent unexport`.

use super::Context;
use crate::cli::{ExportArgs, UnexportArgs};
use crate::error::{Error, Result};

pub fn export(_ctx: &Context<'_>, _args: ExportArgs) -> Result<i32> {
    Err(Error::usage("tent export is not built yet", None))
}

pub fn unexport(_ctx: &Context<'_>, _args: &UnexportArgs) -> Result<i32> {
    Err(Error::usage("tent unexport is not built yet", None))
}
