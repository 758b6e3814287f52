//! tent: mutable containers that feel like the host.
//!
//! Data flows one way: `commands` (the only place that talks to the user)
//! → `boxes`, `export`, `manifest` → `engine`.

pub mod boxes;
pub mod cli;
pub mod commands;
pub mod config;
pub mod engine;
pub mod env_vars;
pub mod error;
pub mod export;
pub mod files;
pub mod interrupt;
pub mod manifest;
pub mod output;
pub mod paths;
pub mod relay;
pub mod shell;

/// Parses the command line, runs the command and returns the exit status.
pub fn run() -> i32 {
    use clap::Parser;
    let cli = match cli::Cli::try_parse() {
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
            err.code()
        }
    }
}
