//! Exports: `tent export`, `tent unexport`, `tent entry`.

use std::path::PathBuf;

use clap::Args;
use clap_complete::ArgValueCandidates;

use crate::commands::complete::{box_names, export_names};

#[derive(Debug, Args)]
pub(crate) struct EntryArgs {
    /// The box
    #[arg(value_name = "BOX")]
    #[arg(add = ArgValueCandidates::new(box_names))]
    pub box_name: String,
    /// Remove the box's launcher instead
    #[arg(long)]
    pub remove: bool,
}

const EXPORT_HELP: &str = "\
Examples:
  tent export dev --app firefox            launcher + icons in your menu, Name \"Firefox (on dev)\"
  tent export dev --bin rg                 ~/.local/bin/rg runs rg in dev, arguments byte for byte
  tent export dev --bin /usr/bin/python3 --name py-dev
  tent export dev --list --json            what dev exported (schema in docs/exports.md)

Every file tent writes is marked as tent's and recorded, so `tent unexport` and
`tent rm` remove exactly those files. An existing file tent did not write is
never replaced without --force.";

#[derive(Debug, Args)]
#[command(after_help = EXPORT_HELP)]
pub(crate) struct ExportArgs {
    /// The box
    #[arg(value_name = "BOX")]
    #[arg(add = ArgValueCandidates::new(box_names))]
    pub box_name: String,
    /// App to export: desktop-file id, app name, or path of a .desktop file in the box
    #[arg(long, value_name = "APP", conflicts_with_all = ["bin", "list", "check"])]
    pub app: Option<String>,
    /// Binary to export: its path in the box, or a command name on the box's PATH
    #[arg(long, value_name = "PATH", conflicts_with_all = ["list", "check"])]
    pub bin: Option<String>,
    /// Name of the exported command [default: the binary's name]
    #[arg(long, requires = "bin")]
    pub name: Option<String>,
    /// Directory for the exported command [default: ~/.local/bin]
    #[arg(long, value_name = "DIR", requires = "bin")]
    pub path: Option<PathBuf>,
    /// Replace a file tent did not write
    #[arg(long)]
    pub force: bool,
    /// Keep the app's MimeType key, so the host may open those file types and
    /// URL schemes (x-scheme-handler/…) with it; without it the launcher claims none
    #[arg(long, requires = "app")]
    pub mime_types: bool,
    /// List the box's exports
    #[arg(long)]
    pub list: bool,
    /// Check the box's exports (target gone, box gone) and offer to fix them
    #[arg(long)]
    pub check: bool,
    /// Print JSON (with --list or --check)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "Only files tent wrote for this box are removed; a recorded file you have \
replaced since is left in place, with a warning.")]
pub(crate) struct UnexportArgs {
    /// The box
    #[arg(value_name = "BOX")]
    #[arg(add = ArgValueCandidates::new(box_names))]
    pub box_name: String,
    /// App to unexport (as given to export, or its desktop-file id)
    #[arg(long, conflicts_with = "all")]
    #[arg(add = ArgValueCandidates::new(export_names))]
    pub app: Option<String>,
    /// Command to unexport (its exported name)
    #[arg(long, conflicts_with = "all")]
    #[arg(add = ArgValueCandidates::new(export_names))]
    pub bin: Option<String>,
    /// Remove every export of the box
    #[arg(long)]
    pub all: bool,
}
