//! `tent enter` and `tent run`: the hot path. When the box's state says it is
//! ready, tent builds the exec argv and replaces itself with the engine's
//! client: no engine call besides the exec, no process left waiting, and the
//! command's exit status is tent's.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use super::Context;
use crate::boxes::container::{self, ExecMode};
use crate::boxes::host::ExecUser;
use crate::boxes::lifecycle::BOX_HOME_FILE;
use crate::boxes::validate_name;
use crate::cli::{EnterArgs, RunArgs};
use crate::engine::argv::{self, ExecPlan};
use crate::engine::command_for;
use crate::error::{Error, Result};

pub fn enter(ctx: &Context<'_>, args: EnterArgs) -> Result<i32> {
    let mode = if args.command.is_empty() { ExecMode::Shell } else { ExecMode::Command(args.command) };
    exec_in_box(ctx, &args.name, mode, false)
}

pub fn run(ctx: &Context<'_>, args: RunArgs) -> Result<i32> {
    exec_in_box(ctx, &args.name, ExecMode::Command(args.command), args.as_root)
}

fn exec_in_box(ctx: &Context<'_>, name: &str, mode: ExecMode, as_root: bool) -> Result<i32> {
    validate_name(name)?;
    let boxes = ctx.boxes();
    let state = boxes.state(name);
    if !state.is_ready() {
        boxes.start(name, None)?;
    }
    let user = ExecUser::current();
    let home = std::fs::read(state.dir.join(BOX_HOME_FILE))
        .ok()
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(OsString::from(String::from_utf8_lossy(&h).into_owned())))
        .unwrap_or_else(|| user.home.clone());
    let cwd = std::env::current_dir().unwrap_or_else(|_| home.clone());
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let mut env = crate::boxes::host::session_env(&state.dir);
    env.push((crate::env_vars::TENT_BOX.into(), name.into()));
    if !as_root {
        env.push(("HOME".into(), home.display().to_string()));
        env.push(("USER".into(), user.name.clone()));
        env.push(("LOGNAME".into(), user.name.clone()));
        env.push(("SHELL".into(), user.shell.clone()));
    }
    let plan = ExecPlan {
        name,
        user: if as_root { "root".into() } else { format!("{}:{}", user.uid, user.gid) },
        tty,
        interactive: true,
        env,
        command: container::exec_command(&mode, &cwd),
    };
    // Exported commands called from other boxes go through the relay.
    crate::relay::ensure_running(&ctx.paths);
    let argv = ctx.engine.argv(&argv::exec(&ctx.engine, &plan));
    ctx.printer.verbose(format!("$ {}", crate::shell::words(&argv)));
    // Only returns when the engine's client could not be started.
    let err = command_for(&argv).exec();
    Err(Error::spawn(&argv[0], &err))
}
