//! Commands about tent itself: shell completions and man pages, both
//! generated from the CLI definition.

use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::{Error, Result};
use crate::output::Printer;

pub fn completions(shell: clap_complete::Shell) -> Result<i32> {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "tent", &mut std::io::stdout());
    Ok(0)
}

pub fn man(dir: &Path, printer: &Printer) -> Result<i32> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    clap_mangen::generate_to(Cli::command(), dir).map_err(|e| Error::io(dir, e))?;
    printer.status(format!("wrote man pages to {}", dir.display()));
    Ok(0)
}
