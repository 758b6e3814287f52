//! `tent enter` and `tent run`: the hot path. When the box's state says it is
//! ready, tent joins the namespaces of the box's init and replaces itself with
//! the box's tent-exec: no engine call at all, no process left waiting, and the
//! command's exit status is tent's. Where it may not join (Docker as a plain
//! user, `--root` through sudo, a refused setns, `TENT_EXEC=engine`), it
//! replaces itself with the engine's exec instead; both keep one contract
//! (docs/internals.md, "exec").

use std::ffi::OsString;
use std::io::IsTerminal;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use super::Context;
use crate::boxes::container::{self, ExecMode};
use crate::boxes::host::ExecUser;
use crate::boxes::join;
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
    // The box can write its state directory: read without following a link, and little.
    let home = crate::files::read_bounded(&state.dir.join(BOX_HOME_FILE), 4096)
        .ok()
        .flatten()
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(OsString::from(String::from_utf8_lossy(&h).into_owned())))
        .unwrap_or_else(|| user.home.clone());
    let cwd = std::env::current_dir().unwrap_or_else(|_| home.clone());
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    // A rootful box: sudo in it asks for the user's password, set at the
    // first enter on a terminal (docs/security.md).
    if tty && !as_root && matches!(mode, ExecMode::Shell) {
        boxes.set_password_if_needed(name, &user.name)?;
    }
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
    let why = if as_root {
        "--root runs as the box's root".to_string()
    } else {
        join(ctx, name, &state, &user, &mode, &cwd, &plan.env)?
    };
    ctx.printer.verbose(format!("engine exec: {why}"));
    let argv = ctx.engine.argv(&argv::exec(&ctx.engine, &plan));
    ctx.printer.verbose(format!("$ {}", crate::shell::words(&argv)));
    // Only returns when the engine's client could not be started.
    let err = command_for(&argv).exec();
    Err(Error::spawn(&argv[0], &err))
}

/// Joins the box and execs tent-exec in it; returns only when tent may not
/// join, with the reason (nothing has changed then), or with an error once
/// joined (there is no way back to the host's engine client).
fn join(
    ctx: &Context<'_>,
    name: &str,
    state: &crate::boxes::BoxState,
    user: &ExecUser,
    mode: &ExecMode,
    cwd: &std::path::Path,
    env: &[(String, String)],
) -> Result<String> {
    if std::env::var_os(crate::env_vars::TENT_EXEC).is_some_and(|v| v == "engine") {
        return Ok(format!("{}=engine", crate::env_vars::TENT_EXEC));
    }
    if ctx.engine.via == crate::engine::Via::Sudo {
        return Ok("the box is root's (reached through sudo)".into());
    }
    let target = match join::prepare(state) {
        Ok(target) => target,
        Err(why) => return Ok(why),
    };
    if let Err(e) = target.join() {
        return Ok(format!("setns refused: {e}"));
    }
    // From here on tent is in the box: its /etc, its root, its hostname.
    let environ = target.environ().map_err(|e| Error::io(format!("/proc/{}/environ", target.pid), e))?;
    let groups = std::fs::read_to_string("/etc/group")
        .map(|text| join::groups_of(&user.name, user.gid, &text))
        .unwrap_or_else(|_| vec![user.gid]);
    join::become_user(user.uid, user.gid, &groups)
        .map_err(|e| Error::io(format!("box {name}: becoming uid {} gid {}", user.uid, user.gid), e))?;
    let argv = container::join_command(mode, cwd);
    let mut command = std::process::Command::new(&argv[0]);
    command.args(&argv[1..]).env_clear();
    // The container's environment, as the engine's exec starts from it, then
    // what tent passes.
    command.envs(environ);
    command.envs(env.iter().map(|(k, v)| (k, v)));
    ctx.printer.verbose(format!("joined box's namespaces (pid {})", target.pid));
    let err = command.exec();
    Err(Error::io(container::EXEC_IN_BOX, err))
}
