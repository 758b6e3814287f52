//! `tent create`: make a box and provision it.

use super::Context;
use crate::boxes::BoxSpec;
use crate::cli::CreateArgs;
use crate::error::Result;

pub(super) fn run(ctx: &Context<'_>, args: CreateArgs) -> Result<i32> {
    let spec = spec_from_args(ctx, &args)?;
    let name = args.name.as_str();
    if let Some(address) = crate::boxes::remote::hidden_by_sudo(&ctx.engine) {
        return Err(crate::error::Error::usage(
            format!(
                "box {name:?}: --root reaches rootful podman through sudo on this machine, and your environment \
                 points tent at {address}"
            ),
            Some(
                "point the connection at that machine's rootful service instead \
                 (ssh://root@HOST/run/podman/podman.sock), or run `tent --root` on that machine"
                    .into(),
            ),
        ));
    }
    if spec.root && spec.sudo_nopasswd {
        ctx.printer.warn(format!(
            "{name}: sudo in this rootful box asks for no password: anything you run in it can become root \
             on the host (docs/security.md)"
        ));
    } else if spec.root {
        ctx.printer.status(format!(
            "{name} is rootful: sudo in it asks for your password in the box, set at your first `tent --root enter {name}`"
        ));
    }
    ctx.printer.step(format!("creating {name} from {} on {}", spec.image, ctx.engine.describe()));
    ctx.boxes().create(name, &spec, !args.no_start)?;
    if args.entry {
        // The launcher needs the box's logo, so this starts a --no-start box.
        ctx.add_entry(name)?;
    }
    if args.start_at_login {
        let unit = super::service::Unit {
            box_name: name.into(),
            scope: ctx.engine.scope().to_string(),
            name: None,
            command: Vec::new(),
            restart: None,
        };
        super::service::install(ctx, &unit, true)?;
    }
    if args.no_start {
        ctx.printer.status(format!("created {name}; it is provisioned at its first `tent enter {name}`"));
    } else {
        ctx.printer.status(format!("{name} is ready: `tent enter {name}`"));
    }
    Ok(0)
}

pub(super) fn spec_from_args(ctx: &Context<'_>, args: &CreateArgs) -> Result<BoxSpec> {
    ctx.spec_from_args(args)
}
