//! `tent create`: make a box and provision it.

use std::collections::BTreeMap;

use super::{Context, split_words};
use crate::boxes::{BoxSpec, host::default_image_for};
use crate::cli::CreateArgs;
use crate::error::{Error, Result};

pub fn run(ctx: &Context<'_>, args: CreateArgs) -> Result<i32> {
    let spec = spec_from_args(ctx, &args)?;
    let name = args.name.as_str();
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
    if args.no_start {
        ctx.printer.status(format!("created {name}; it is provisioned at its first `tent enter {name}`"));
    } else {
        ctx.printer.status(format!("{name} is ready: `tent enter {name}`"));
    }
    Ok(0)
}

pub fn spec_from_args(ctx: &Context<'_>, args: &CreateArgs) -> Result<BoxSpec> {
    let image = match args.image.clone().or_else(|| ctx.config.image.clone()) {
        Some(image) => image,
        None => default_image_for(&std::fs::read_to_string("/etc/os-release").unwrap_or_default()),
    };
    crate::boxes::spec::validate_image(&image)?;
    let mut packages = ctx.config.packages.clone();
    packages.extend(split_words(&args.packages));
    let mut env = BTreeMap::new();
    for pair in &args.env {
        let (key, value) = pair.split_once('=').ok_or_else(|| {
            Error::usage(format!("--env {pair:?} is not KEY=VALUE"), Some("write it as --env NAME=value".to_string()))
        })?;
        env.insert(key.to_string(), value.to_string());
    }
    let home = match &args.home {
        Some(dir) if dir.is_relative() => Some(std::env::current_dir().map_err(|e| Error::io(".", e))?.join(dir)),
        other => other.clone(),
    };
    let mut unshare = crate::boxes::spec::Unshare {
        netns: args.unshare_netns,
        ipc: args.unshare_ipc,
        process: args.unshare_process,
        devsys: args.unshare_devsys,
        groups: args.unshare_groups,
    };
    if args.unshare_all {
        unshare = crate::boxes::spec::Unshare::all();
    }
    Ok(BoxSpec {
        image,
        packages,
        home,
        mount_home: args.mount_home,
        volumes: args.volume.clone(),
        env,
        hostname: args.hostname.clone(),
        root: ctx.engine.rootful() && ctx.engine.through_sudo(),
        sudo_nopasswd: args.sudo_nopasswd,
        init_hooks: args.init_hook.clone(),
        start_hooks: Vec::new(),
        pre_init_hooks: args.pre_init_hook.clone(),
        init: args.init,
        nvidia: args.nvidia,
        unshare,
        engine_args: args.engine_arg.clone(),
        platform: args.platform.clone(),
        pull: args.pull,
        no_host: args.no_host,
        own_xdg_open: args.own_xdg_open,
        manifest: None,
    })
}
