//! `tent clone`: a new box with another box's system and spec.

use super::Context;
use crate::boxes::snapshot::SnapshotKind;
use crate::boxes::{BoxSpec, labels, validate_name};
use crate::cli::CloneArgs;
use crate::error::{Error, Result};

pub fn run(ctx: &Context<'_>, args: &CloneArgs) -> Result<i32> {
    let boxes = ctx.boxes();
    let (src, dst) = (args.source.as_str(), args.destination.as_str());
    let container = boxes.get(src)?;
    validate_name(dst)?;
    if let Some(existing) = ctx.engine.inspect(dst)? {
        return Err(Error::BoxExists {
            name: dst.into(),
            engine: ctx.engine.describe(),
            is_tent: existing.label(labels::FORMAT).is_some(),
        });
    }
    let mut spec = BoxSpec::from_label(container.label(labels::SPEC)).ok_or_else(|| Error::Snapshot {
        message: format!("box {src:?} has no readable spec label, so tent cannot copy it"),
        hint: None,
    })?;
    // A new name gets its own host name; a manifest owns only the boxes it made.
    spec.hostname = None;
    spec.manifest = None;
    let spinner = ctx.printer.spinner(format!("copying the system of {src}"));
    let image = boxes.commit_private(src, dst, SnapshotKind::Clone);
    spinner.finish();
    let image = image?;
    ctx.printer.step(format!("creating {dst} from {src}"));
    if let Err(err) = boxes.create_from(dst, &spec, true, Some(&image)) {
        let _ = ctx.engine.output(&crate::engine::argv::rmi(&image));
        return Err(err);
    }
    ctx.printer.status(format!("{dst} is a copy of {src}: `tent enter {dst}`"));
    Ok(0)
}
