//! One file per verb. Commands are the only code that talks to the user
//! (through the `Printer`) and the only code that sees clap's structs.

mod adopt;
mod apply;
mod bake;
mod clone;
mod code;
pub(crate) mod complete;
mod context;
mod create;
mod distros;
mod doctor;
mod enter;
mod entry;
mod export;
pub(crate) mod host;
mod list;
mod manifest;
pub(crate) mod meta;
mod rescue;
mod rm;
mod rollback;
mod save;
pub(crate) mod service;
mod snapshot;
mod stop;
mod terminal;
mod upgrade;
mod which;

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::engine::Engine;
use crate::error::Result;
use crate::output::Printer;
use crate::paths::Paths;
pub(crate) use context::Context;
pub(crate) use host::{forward_from_box, in_a_box};

/// Runs a command; Ok carries the exit status.
pub(crate) fn dispatch(cli: Cli, printer: &Printer) -> Result<i32> {
    let command = match cli.command {
        Command::Completions { shell } => return meta::completions(shell),
        Command::Man { dir } => return meta::man(&dir, printer),
        Command::Host(args) => return host::host(args),
        Command::Relay { socket } => return crate::relay::serve(&socket).map(|()| 0),
        Command::RelayCall { socket, scope, box_name, export, request_file, args } => {
            return relay_call(socket, scope, box_name, export, request_file, args);
        }
        // Reads only files: it answers a shell's command-not-found at once.
        Command::Which(args) => return which::run(&Paths::from_env()?, &args, printer),
        // Data and config only: no engine is needed to read the catalog.
        Command::Distros(args) => {
            let config = Config::load(&Paths::from_env()?.config, cli.engine)?;
            return distros::run(&config, &args, printer);
        }
        command => command,
    };
    let paths = Paths::from_env()?;
    let config = Config::load(&paths.config, cli.engine)?;
    let mut engine = Engine::detect(config.engine.as_deref(), cli.root)?;
    if cli.connection.is_some() || cli.url.is_some() {
        engine.choose_endpoint(&crate::engine::endpoint::Chosen { url: cli.url, connection: cli.connection });
    }
    if engine.through_sudo() {
        use std::io::IsTerminal;
        let graphical =
            ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()));
        let askpass_set = std::env::var_os("SUDO_ASKPASS").is_some_and(|v| !v.is_empty());
        engine.sudo = crate::engine::sudo_prefix(
            config.sudo_program.as_deref(),
            std::io::stdin().is_terminal(),
            graphical,
            askpass_set,
            &|p| ::which::which(p).ok(),
        );
    }
    let ctx = Context { printer, config, paths, engine };
    ctx.note_endpoint();
    ctx.recover();
    match command {
        Command::Create(args) => create::run(&ctx, args),
        Command::Enter(args) => enter::enter(&ctx, args),
        Command::Run(args) => enter::run(&ctx, args),
        Command::Ephemeral(args) => enter::ephemeral(&ctx, args),
        Command::Entry(args) => entry::run(&ctx, &args),
        Command::List(args) => list::run(&ctx, &args),
        Command::Stop(args) => stop::run(&ctx, &args),
        Command::Rm(args) => rm::run(&ctx, &args),
        Command::Snapshot(args) => snapshot::run(&ctx, &args),
        Command::Rollback(args) => rollback::run(&ctx, &args),
        Command::Rescue(args) => rescue::run(&ctx, &args),
        Command::Adopt(args) => adopt::run(&ctx, &args),
        Command::Upgrade(args) => upgrade::run(&ctx, &args),
        Command::Clone(args) => clone::run(&ctx, &args),
        Command::Service(args) => service::run(&ctx, &args),
        Command::Code(args) => code::run(&ctx, &args),
        Command::Save(args) => save::save(&ctx, &args),
        Command::Load(args) => save::load(&ctx, &args),
        Command::Export(args) => export::export(&ctx, args),
        Command::Unexport(args) => export::unexport(&ctx, &args),
        Command::Apply(args) => apply::apply(&ctx, &args),
        Command::Manifest(args) => manifest::run(&ctx, &args),
        Command::Bake(args) => bake::run(&ctx, &args),
        Command::Doctor(args) => doctor::run(&ctx, &args),
        Command::Completions { .. }
        | Command::Man { .. }
        | Command::Relay { .. }
        | Command::RelayCall { .. }
        | Command::Host(_)
        | Command::Distros(_)
        | Command::Which(_) => {
            unreachable!("handled above")
        }
    }
}

/// `tent relay-call`: the in-box half of an exported command called from
/// another box.
fn relay_call(
    socket: std::path::PathBuf,
    scope: Option<String>,
    box_name: Option<String>,
    export: Option<String>,
    request_file: Option<std::path::PathBuf>,
    args: Vec<std::ffi::OsString>,
) -> Result<i32> {
    if let Some(file) = request_file {
        let bytes = std::fs::read(&file).map_err(|e| crate::error::Error::io(&file, e))?;
        return crate::relay::call_raw(&socket, &bytes);
    }
    let (Some(scope), Some(box_name), Some(export)) = (scope, box_name, export) else {
        // What wrappers of tent before the request protocol ran: an argv.
        return Err(crate::error::Error::Export {
            message: "this command was exported by an older tent, and the relay no longer runs command lines".into(),
            hint: Some("on the host, export it again (`tent export BOX --bin NAME`)".into()),
        });
    };
    crate::relay::call(crate::relay::Call { socket, scope, box_name, export, args })
}

/// A desktop notification through `notify-send` when the session has one;
/// nothing otherwise.
pub(crate) fn notify(summary: &str, body: &str) {
    if let Ok(program) = ::which::which("notify-send") {
        let _ = std::process::Command::new(program)
            .args(["--app-name=tent", "--icon=dialog-warning", "--", summary, body])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Tells the desktop about an error nobody would see otherwise: sudo needed
/// a password off a terminal (a menu launcher or exported app of a rootful
/// box) and had no way to ask for it.
pub(crate) fn tell_the_desktop(err: &crate::error::Error, stderr_is_terminal: bool) {
    if stderr_is_terminal {
        return;
    }
    if let crate::error::Error::Engine { failure, .. } = err
        && crate::engine::is_password_refusal(&failure.stderr)
    {
        notify(
            "tent: a rootful box needs your password",
            "Nothing could ask for it here. Run the command in a terminal (e.g. `tent --root enter BOX`), or \
             install an askpass program (ssh-askpass, ksshaskpass) or polkit's pkexec.",
        );
    }
}

/// Splits `--packages "a b" --packages c` into single names.
pub(crate) fn split_words(values: &[String]) -> Vec<String> {
    values.iter().flat_map(|v| v.split([' ', ',', '\n', '\t'])).filter(|w| !w.is_empty()).map(str::to_string).collect()
}

/// The boxes named, or every box with `all`.
pub(crate) fn names_or_all(ctx: &Context<'_>, names: &[String], all: bool) -> Result<Vec<String>> {
    if all { Ok(ctx.boxes().list()?.into_iter().map(|c| c.name).collect()) } else { Ok(names.to_vec()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_lists_split_on_spaces_and_commas() {
        let words = split_words(&["git ripgrep".into(), "fd,jq".into(), "  ".into()]);
        assert_eq!(words, vec!["git", "ripgrep", "fd", "jq"]);
    }
}
