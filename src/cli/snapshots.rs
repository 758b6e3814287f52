//! Snapshots and archives: `tent snapshot`, `tent rollback`, `tent rescue`, `tent save`, `tent load`.

use std::path::PathBuf;

use clap::Args;
use clap_complete::ArgValueCandidates;

use crate::commands::complete::box_names;

#[derive(Debug, Args)]
pub(crate) struct SnapshotArgs {
    /// The box
    #[arg(value_name = "BOX")]
    #[arg(add = ArgValueCandidates::new(box_names))]
    pub box_name: String,
    /// Name of the new snapshot [default: the time, like 20261201-231700]
    #[arg(conflicts_with_all = ["list", "delete"])]
    pub name: Option<String>,
    /// List the box's snapshots: name, time, size, what made it
    #[arg(long, conflicts_with = "delete")]
    pub list: bool,
    /// Delete a snapshot
    #[arg(long, value_name = "NAME")]
    pub delete: Option<String>,
    /// Print JSON (with --list)
    #[arg(long, requires = "list")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RollbackArgs {
    /// The box
    #[arg(value_name = "BOX")]
    #[arg(add = ArgValueCandidates::new(box_names))]
    pub box_name: String,
    /// The snapshot [default: the latest]
    pub name: Option<String>,
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RescueArgs {
    /// The stuck box
    #[arg(value_name = "BOX")]
    #[arg(add = ArgValueCandidates::new(box_names))]
    pub box_name: String,
}

#[derive(Debug, Args)]
pub(crate) struct SaveArgs {
    /// The box
    #[arg(value_name = "BOX")]
    #[arg(add = ArgValueCandidates::new(box_names))]
    pub box_name: String,
    /// The file to write
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Leave out the layers of the image the box was made from (a far smaller file, for a machine that has that image)
    #[arg(long)]
    pub without_base: bool,
}

#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    /// A file written by `tent save`
    pub file: PathBuf,
    /// Name of the new box [default: the saved box's name]
    #[arg(long)]
    pub name: Option<String>,
    /// Accept the hooks, volumes and exports the file carries (listed first) without asking
    #[arg(short, long)]
    pub yes: bool,
}
