//! `tent apply` and `tent manifest`.

use super::Context;
use crate::cli::{ApplyArgs, ManifestArgs};
use crate::error::{Error, Result};

pub fn apply(_ctx: &Context<'_>, _args: &ApplyArgs) -> Result<i32> {
    Err(Error::usage("tent apply is not built yet", None))
}

pub fn manifest(_ctx: &Context<'_>, _args: &ManifestArgs) -> Result<i32> {
    Err(Error::usage("tent manifest is not built yet", None))
}
