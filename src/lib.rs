//! tent: mutable containers that feel like the host.
//!
//! Arrows point one way, top to bottom; a module imports only from the rows
//! below it (a lower module that seems to need a higher one takes plain data
//! or a small trait instead):
//!
//! - `cli`: the command line, clap only.
//! - `commands`: one file per verb, the only code that talks to the user;
//!   shared helpers through `commands::Context`.
//! - `relay`: the host side of calls from inside boxes, a server that takes
//!   requests instead of a command line (it looks exports up in the receipts).
//! - `manifest`: parse, plan, the apply executor behind traits.
//! - `snapshots`: taking, deleting and swapping a box's snapshots (rollback,
//!   upgrade's undo) and the journals that make a killed swap recoverable.
//! - `runtime`: a box at run time: create, start, readiness, state on the
//!   host, the in-box scripts on disk, the namespace join, stop, and the one
//!   removal (with the box's exports and snapshots).
//! - `export`: launchers, wrappers, receipts.
//! - `boxes`: what a box is: spec, host facts, names, labels, the
//!   container's argv, the in-box scripts as data, snapshot names; imports
//!   neither `runtime` nor `snapshots`.
//! - `engine`: podman and Docker, argv from plain data, JSON shapes.
//! - the floor, used by all and using nothing above: `paths`, `config`,
//!   `output`, `text`, `progress`, `error`, `files`, `shell`, `env_vars`,
//!   `interrupt`, `concurrent`, `systemd`, `catalog` (the distributions `--distro` names).

pub mod boxes;
pub(crate) mod catalog;
pub(crate) mod cli;
pub(crate) mod commands;
pub(crate) mod concurrent;
pub(crate) mod config;
pub mod engine;
pub(crate) mod env_vars;
pub(crate) mod error;
pub mod export;
pub(crate) mod files;
pub(crate) mod interrupt;
pub(crate) mod manifest;
pub(crate) mod output;
pub(crate) mod paths;
pub(crate) mod progress;
pub(crate) mod relay;
pub mod runtime;
pub(crate) mod shell;
pub(crate) mod snapshots;
pub(crate) mod systemd;
#[cfg(test)]
pub(crate) mod test_support;
pub(crate) mod text;

/// Parses the command line, runs the command and returns the exit status.
pub fn run() -> i32 {
    use clap::{CommandFactory, Parser};
    // A TAB in the shell: `COMPLETE=SHELL tent -- WORDS` prints candidates
    // and exits (commands::meta::completions prints the registration).
    // Without the variable this is one getenv.
    clap_complete::CompleteEnv::with_factory(cli::Cli::command).var(commands::meta::COMPLETE_VAR).complete();
    // In a box the engine is out of reach: every command but the in-box ones
    // runs on the host, through the relay (`tent list`, `tent enter other`).
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if commands::in_a_box() && !commands::host::stays_in_box(&args[1..]) {
        let printer = output::Printer::new(false, false);
        return match commands::forward_from_box(&args[1..]) {
            Ok(code) => code,
            Err(err) => {
                printer.error(&err);
                err.code()
            }
        };
    }
    // `run BOX -- CMD` (every exported command) and `enter BOX`: the same
    // `Cli`, without building clap's command tree.
    let cli = match cli::fast::parse(&args).map_or_else(cli::Cli::try_parse, Ok) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return match err.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => error::exit::USAGE,
            };
        }
    };
    let printer = output::Printer::new(cli.verbose, cli.quiet);
    match commands::dispatch(cli, &printer) {
        Ok(code) => code,
        Err(err) => {
            printer.error(&err);
            commands::tell_the_desktop(&err, printer.stderr_is_terminal());
            err.code()
        }
    }
}
