//! `tent doctor`.

use super::Context;
use crate::cli::DoctorArgs;
use crate::error::{Error, Result};

pub fn run(_ctx: &Context<'_>, _args: &DoctorArgs) -> Result<i32> {
    Err(Error::usage("tent doctor is not built yet", None))
}
