//! Commands about tent itself: shell completions and man pages, both
//! generated from the CLI definition.

use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::{Error, Result};
use crate::output::Printer;

/// The shell's registration of tent's dynamic completion: at each TAB the
/// shell runs `COMPLETE=SHELL tent -- WORDS`, which `crate::run` answers
/// (clap_complete's engine) with subcommands, flags, and box and export names
/// from `complete`. Static scripts could not offer box names.
pub(crate) fn completions(shell: clap_complete::Shell) -> Result<i32> {
    let shells = clap_complete::env::Shells::builtins();
    let name = shell.to_string();
    let Some(completer) = shells.completer(&name) else {
        return Err(Error::Usage {
            message: format!("tent cannot complete in {name}"),
            hint: Some(format!("pick one of: {}", shells.names().collect::<Vec<_>>().join(", "))),
        });
    };
    let mut out = Vec::new();
    completer.write_registration(COMPLETE_VAR, "tent", "tent", "tent", &mut out).map_err(|e| Error::io("stdout", e))?;
    use std::io::Write;
    std::io::stdout().write_all(&out).map_err(|e| Error::io("stdout", e))?;
    Ok(0)
}

/// The variable through which the shell asks tent for completions.
pub(crate) const COMPLETE_VAR: &str = "COMPLETE";

pub(crate) fn man(dir: &Path, printer: &Printer) -> Result<i32> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    clap_mangen::generate_to(Cli::command(), dir).map_err(|e| Error::io(dir, e))?;
    printer.status(format!("wrote man pages to {}", dir.display()));
    Ok(0)
}
