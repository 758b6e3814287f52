//! `tent enter` and `tent run`: the hot path. When the box's state says it is
//! ready, tent joins the namespaces of the box's init and replaces itself with
//! the box's tent-exec: no engine call at all, no process left waiting, and the
//! command's exit status is tent's. Where it may not join (Docker as a plain
//! user, `--root` through sudo, a refused setns, `TENT_EXEC=engine`), it
//! replaces itself with the engine's exec instead; both keep one contract
//! (docs/internals.md, "exec"). On a terminal `enter` tells the terminal which
//! box it is in (OSC 777), so it waits for a child tent that does the above.
//! Also `tent ephemeral`, which reuses the same exec.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use super::Context;
use crate::boxes::container::{self, ExecMode};
use crate::boxes::host::ExecUser;
use crate::boxes::remote;
use crate::boxes::validate_name;
use crate::cli::{CreateArgs, EnterArgs, EphemeralArgs, RunArgs};
use crate::engine::argv::{self, ExecPlan};
use crate::engine::command_for;
use crate::error::{Error, Result};
use crate::runtime::BOX_HOME_FILE;
use crate::runtime::join;

pub(super) fn enter(ctx: &Context<'_>, args: EnterArgs) -> Result<i32> {
    let name = ctx.box_or_default(args.name.as_deref(), args.yes)?;
    // tent-exec runs the box's attach hooks (postAttachCommand) first.
    let mut extra = vec![(container::ATTACH_ENV.to_string(), "1".to_string())];
    extra.extend(parse_env(&args.env)?);
    let mode = if args.command.is_empty() { ExecMode::Shell } else { ExecMode::Command(args.command) };
    if super::terminal::tracking_wanted() && std::env::var_os(crate::env_vars::TENT_TRACKED).is_none() {
        // The same tent again, as a child that joins or execs as always
        // (the box is known now: a default box was made above), while this
        // one waits to tell the terminal the box is left.
        let exe = std::env::current_exe().map_err(|e| Error::io("/proc/self/exe", e))?;
        let mut child = std::process::Command::new(exe);
        child.args(std::env::args_os().skip(1)).env(crate::env_vars::TENT_TRACKED, "1");
        return super::terminal::run_tracked(&name, super::terminal::runtime_for(&ctx.engine), child);
    }
    exec_in_box(ctx, &name, mode, false, extra)
}

pub(super) fn run(ctx: &Context<'_>, args: RunArgs) -> Result<i32> {
    let name = ctx.box_or_default(args.name.as_deref(), args.yes)?;
    let extra = parse_env(&args.env)?;
    exec_in_box(ctx, &name, ExecMode::Command(args.command), args.as_root, extra)
}

/// `--env KEY=VALUE` flags, checked.
pub(super) fn parse_env(pairs: &[String]) -> Result<Vec<(String, String)>> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if !key.is_empty() && !key.contains(char::is_whitespace) => {
                Ok((key.to_string(), value.to_string()))
            }
            _ => Err(Error::usage(
                format!("--env {pair:?} is not KEY=VALUE"),
                Some("write it as --env NAME=value".into()),
            )),
        })
        .collect()
}

/// What a command in the box runs with, on either path.
struct Prepared<'a> {
    state: crate::runtime::BoxState,
    user: ExecUser,
    cwd: PathBuf,
    plan: ExecPlan<'a>,
    /// A box the engine has just started, whose init tent still waits for
    /// while the engine's exec starts (`run_while_starting`).
    starting: Option<crate::runtime::Starting>,
}

/// Whether a command in a local box goes through the engine's exec whatever
/// the box's state: the reasons `join` gives before it looks at the box.
/// (Docker's monitor does not name the container, so `join::prove_init_of`
/// never proves a Docker box's init.)
fn engine_exec_only(ctx: &Context<'_>, as_root: bool) -> bool {
    as_root
        || std::env::var_os(crate::env_vars::TENT_EXEC).is_some_and(|v| v == "engine")
        || ctx.engine.via == crate::engine::Via::Sudo
        || !ctx.engine.is_local()
        || ctx.engine.kind == crate::engine::EngineKind::Docker
}

/// Starts the box when needed and works out the user, directory and
/// environment of the command.
fn prepare<'a>(
    ctx: &Context<'_>,
    name: &'a str,
    mode: &ExecMode,
    as_root: bool,
    extra_env: Vec<(String, String)>,
) -> Result<Prepared<'a>> {
    validate_name(name)?;
    let boxes = ctx.boxes();
    // The box's state, readiness and home note are files on this machine;
    // a box on another endpoint is never joined or waited for here (issue 21).
    if remote::is_remote(&ctx.engine) {
        return prepare_remote(ctx, name, mode, as_root, extra_env);
    }
    let state = boxes.state(name);
    state.mark_busy();
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    // A command that takes the engine's exec anyway need not wait for the
    // init before the exec starts: the client's own start (40-60 ms on
    // Docker) overlaps the init's (issue 24). A shell waits: its first
    // enter may ask for a password. So does a command on a terminal: the
    // client puts the terminal in raw mode while tent still shows the
    // start's progress on it.
    let overlap = matches!(mode, ExecMode::Command(_)) && !tty && engine_exec_only(ctx, as_root);
    let mut starting = None;
    if !state.is_ready() {
        match boxes.start_engine(name, None)? {
            Some(started) if overlap && started.current_scripts => starting = Some(started),
            Some(started) => boxes.wait_started(started)?,
            None => {}
        }
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
    // A rootful box: sudo in it asks for the user's password, set at the
    // first enter on a terminal (docs/security.md).
    if tty && !as_root && matches!(mode, ExecMode::Shell) {
        boxes.set_password_if_needed(name, &user.name)?;
    }
    let mut env = crate::boxes::host::session_env(&state.dir, &ctx.config.env.pass);
    box_env(&mut env, name, (!as_root).then_some((&user, home.as_path())));
    if as_root {
        // tent-exec takes USER as "a user's login PATH, from the cache in
        // the state directory", which every box can write: root never gets
        // it from `env.pass` (a config file under the shared home).
        env.retain(|(key, _)| key != "USER");
    }
    // The call's own --env wins over everything above (the last one counts).
    env.extend(extra_env);
    if starting.is_some() {
        let wait = crate::runtime::init::ready_timeout().as_secs().max(1);
        env.push((crate::env_vars::TENT_WAIT_READY.into(), wait.to_string()));
    }
    let plan = ExecPlan {
        name,
        user: if as_root { "root".into() } else { format!("{}:{}", user.uid, user.gid) },
        tty,
        interactive: true,
        env,
        // Root in a rootful box is the host's: tent-exec inline, not the user's copy.
        command: if as_root && ctx.engine.rootful() {
            container::exec_command_as_root(mode, &cwd)
        } else {
            container::exec_command(mode, &cwd)
        },
    };
    Ok(Prepared { state, user, cwd, plan, starting })
}

/// What tent adds to the environment of every command in box `name`: the
/// box's name and, unless it runs as the box's root, who runs it.
fn box_env(env: &mut Vec<(String, String)>, name: &str, user: Option<(&ExecUser, &std::path::Path)>) {
    env.push((crate::env_vars::TENT_BOX.into(), name.into()));
    if let Some((user, home)) = user {
        env.push(("HOME".into(), home.display().to_string()));
        env.push(("USER".into(), user.name.clone()));
        env.push(("LOGNAME".into(), user.name.clone()));
        env.push(("SHELL".into(), user.shell.clone()));
    }
}

/// `prepare` for a box on a remote engine: started (or asked whether it is
/// ready) through the engine, the command in the home unless the local
/// directory is under it, only the terminal's and language's environment.
fn prepare_remote<'a>(
    ctx: &Context<'_>,
    name: &'a str,
    mode: &ExecMode,
    as_root: bool,
    extra_env: Vec<(String, String)>,
) -> Result<Prepared<'a>> {
    ctx.boxes().start(name, None)?;
    let user = ExecUser::current();
    let home = user.home.clone();
    let cwd = remote::start_dir(&std::env::current_dir().unwrap_or_else(|_| home.clone()), &home);
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let mut env = remote::session_env();
    box_env(&mut env, name, (!as_root).then_some((&user, home.as_path())));
    env.extend(extra_env);
    let plan = ExecPlan {
        name,
        user: if as_root { "root".into() } else { format!("{}:{}", user.uid, user.gid) },
        tty,
        interactive: true,
        env,
        // The box's own tmpfs copy: nothing of this machine's is in it.
        command: container::exec_command(mode, &cwd),
    };
    Ok(Prepared { state: ctx.boxes().state(name), user, cwd, plan, starting: None })
}

/// Runs in the box, replacing tent: joined where it may, else the engine's exec.
pub(super) fn exec_in_box(
    ctx: &Context<'_>,
    name: &str,
    mode: ExecMode,
    as_root: bool,
    extra_env: Vec<(String, String)>,
) -> Result<i32> {
    let Prepared { state, user, cwd, plan, starting } = prepare(ctx, name, &mode, as_root, extra_env)?;
    let remote = remote::is_remote(&ctx.engine);
    // Exported commands called from other boxes go through the relay.
    if !remote {
        crate::relay::ensure_running(&ctx.paths, &ctx.engine);
    }
    if let Some(starting) = starting {
        let argv = ctx.engine.argv(&argv::exec(&ctx.engine, &plan));
        ctx.printer.verbose(format!("engine exec: {name} was just started; tent-exec waits for its init"));
        ctx.printer.verbose(format!("$ {}", crate::shell::words(&argv)));
        return run_while_starting(ctx, starting, &argv);
    }
    let why = if remote {
        "the box is on a remote engine".to_string()
    } else if as_root {
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

/// Runs the engine's exec `argv` in a box the engine has just started,
/// while tent waits for the box's init (tent-exec waits for `ready` in the
/// box: TENT_WAIT_READY). tent stays the parent, so that a box that does
/// not get ready is reported as always (the client is ended then); after
/// that it waits for the client and exits with the command's status. A
/// SIGINT or SIGTERM tent gets is passed on to the client, which gets what
/// it would have got had tent exec'd it (the terminal's Ctrl-C reaches it
/// anyway).
fn run_while_starting(ctx: &Context<'_>, starting: crate::runtime::Starting, argv: &[String]) -> Result<i32> {
    use rustix::process::{PidfdFlags, Signal, pidfd_open, pidfd_send_signal};
    use std::os::unix::process::ExitStatusExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    // A handler (not SIG_IGN) is reset by exec: the client still gets Ctrl-C.
    crate::interrupt::catch();
    let mut child = command_for(argv).spawn().map_err(|e| Error::spawn(&argv[0], &e))?;
    // The pidfd names the client itself, even once its pid is reaped.
    let pidfd = pidfd_open(rustix::process::Pid::from_child(&child), PidfdFlags::empty()).ok();
    if let Err(err) = ctx.boxes().wait_started(starting) {
        if let Some(fd) = &pidfd {
            let _ = pidfd_send_signal(fd, Signal::TERM);
        }
        let _ = child.wait();
        return Err(err);
    }
    // The wait blocks (no polling delay at the command's end); a thread
    // passes on a signal that came meanwhile.
    static DONE: AtomicBool = AtomicBool::new(false);
    if let Some(fd) = pidfd {
        std::thread::spawn(move || {
            while !DONE.load(Ordering::SeqCst) {
                if crate::interrupt::interrupted() {
                    let _ = pidfd_send_signal(&fd, Signal::TERM);
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        });
    }
    let status = child.wait().map_err(|e| Error::spawn(&argv[0], &e));
    DONE.store(true, Ordering::SeqCst);
    let status = status?;
    Ok(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

/// The engine argv that runs `mode` in the box, starting the box first when
/// needed: for a tent that stays the parent (`ephemeral`).
pub(super) fn exec_argv(
    ctx: &Context<'_>,
    name: &str,
    mode: ExecMode,
    as_root: bool,
    extra_env: Vec<(String, String)>,
) -> Result<Vec<String>> {
    let Prepared { plan, starting, .. } = prepare(ctx, name, &mode, as_root, extra_env)?;
    if let Some(starting) = starting {
        ctx.boxes().wait_started(starting)?;
    }
    if !remote::is_remote(&ctx.engine) {
        crate::relay::ensure_running(&ctx.paths, &ctx.engine);
    }
    let argv = ctx.engine.argv(&argv::exec(&ctx.engine, &plan));
    ctx.printer.verbose(format!("$ {}", crate::shell::words(&argv)));
    Ok(argv)
}

/// Joins the box and execs tent-exec in it; returns only when tent may not
/// join, with the reason (nothing has changed then), or with an error once
/// joined (there is no way back to the host's engine client).
fn join(
    ctx: &Context<'_>,
    name: &str,
    state: &crate::runtime::BoxState,
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
    if !ctx.engine.is_local() {
        return Ok(format!("the box is on {}", ctx.engine.describe()));
    }
    let target = match join::prepare(name, state) {
        Ok(target) => target,
        Err(why) => return Ok(why),
    };
    if let Err(e) = target.join() {
        return Ok(format!("setns refused: {e}"));
    }
    // From here on tent is in the box: its /etc, its root, its hostname.
    let environ = target.environ().map_err(|e| Error::io(format!("/proc/{}/environ", target.pid), e))?;
    join::become_user(user.uid, user.gid)
        .map_err(|e| Error::io(format!("box {name}: becoming uid {} gid {}", user.uid, user.gid), e))?;
    let argv = container::join_command(mode, cwd);
    let mut command = std::process::Command::new(&argv[0]);
    command.args(&argv[1..]).env_clear();
    // The container's environment, as the engine's exec starts from it, then
    // what tent passes.
    command.envs(environ);
    command.envs(env.iter().map(|(k, v)| (k, v)));
    ctx.printer.verbose(format!("joined box's namespaces (pid {})", target.pid));
    join::reset_signals();
    let err = command.exec();
    Err(Error::io(container::EXEC_IN_BOX, err))
}

/// `tent ephemeral`: a box made for one shell or command and removed when it
/// ends, on Ctrl-C and on a closed terminal. tent stays the parent of the
/// engine's client so that it is there to remove the box.
pub(super) fn ephemeral(ctx: &Context<'_>, args: EphemeralArgs) -> Result<i32> {
    let extra = parse_env(&args.env)?;
    let name = format!("ephemeral-{}", random_suffix());
    let create = CreateArgs { name: name.clone(), image: args.image.clone(), ..Default::default() };
    let spec = ctx.spec_from_args(&create)?;
    crate::interrupt::catch();
    crate::interrupt::catch_hangup();
    ctx.printer.step(format!("creating the throwaway box {name} from {} on {}", spec.image, ctx.engine.describe()));
    // create removes a half-made box itself, on errors and Ctrl-C.
    ctx.boxes().create(&name, &spec, true)?;
    let shell = args.command.is_empty();
    let mode = if shell { ExecMode::Shell } else { ExecMode::Command(args.command) };
    let result = exec_argv(ctx, &name, mode, false, extra)
        .and_then(|argv| wait_for(&name, super::terminal::runtime_for(&ctx.engine), &argv, shell));
    let spinner = ctx.printer.spinner(format!("removing the throwaway box {name}"));
    let removed = ctx.boxes().remove(&name);
    spinner.finish();
    match removed {
        Ok(removed) => {
            super::rm::finish_removal(ctx, &name, removed);
            ctx.printer.status(format!("removed {name}"));
        }
        Err(err) => ctx.printer.warn(format!("could not remove {name}: {err}; remove it with `tent rm -f {name}`")),
    }
    result
}

/// Runs the client and waits for it, ending it when tent is interrupted.
fn wait_for(name: &str, runtime: &str, argv: &[String], shell: bool) -> Result<i32> {
    use std::io::Write;
    use std::os::unix::process::ExitStatusExt;
    let track = shell && super::terminal::tracking_wanted();
    let uid = rustix::process::getuid().as_raw();
    if track {
        let _ = std::io::stdout().write_all(super::terminal::push_sequence(name, runtime, uid).as_bytes());
        let _ = std::io::stdout().flush();
    }
    let mut child = command_for(argv).spawn().map_err(|e| Error::spawn(&argv[0], &e))?;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => {}
            Err(e) => return Err(Error::spawn(&argv[0], &e)),
        }
        if crate::interrupt::interrupted() {
            // SIGTERM, then the box's removal ends whatever runs in it.
            let pid = rustix::process::Pid::from_child(&child);
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    if track {
        let _ = std::io::stdout().write_all(super::terminal::pop_sequence(uid).as_bytes());
        let _ = std::io::stdout().flush();
    }
    match status {
        None => Err(Error::Interrupted),
        Some(status) => Ok(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))),
    }
}

/// Six letters and digits for a throwaway name, from the kernel's randomness.
fn random_suffix() -> String {
    use std::io::Read;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 6];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).is_err() {
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let seed = seed ^ u128::from(std::process::id());
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (seed >> (i * 8)) as u8;
        }
    }
    bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_flags_are_checked() {
        assert_eq!(
            parse_env(&["A=1".into(), "B=x=y".into(), "C=".into()]).unwrap(),
            vec![
                ("A".to_string(), "1".to_string()),
                ("B".to_string(), "x=y".to_string()),
                ("C".to_string(), String::new())
            ]
        );
        assert!(parse_env(&["A".into()]).is_err());
        assert!(parse_env(&["=1".into()]).is_err());
    }

    #[test]
    fn throwaway_names_are_valid() {
        let a = random_suffix();
        assert_eq!(a.len(), 6);
        assert!(validate_name(&format!("ephemeral-{a}")).is_ok());
        assert_ne!(a, random_suffix());
    }
}
