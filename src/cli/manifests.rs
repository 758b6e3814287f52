//! Manifests: `tent apply`, `tent manifest`, `tent bake`.

use std::path::PathBuf;

use clap::Args;
use clap_complete::ArgValueCandidates;

use crate::commands::complete::box_names;

#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// Manifest: tent.toml, a Distrobox assemble file (*.ini) or a devcontainer.json (*.json) [default: ./tent.toml, else the project's devcontainer.json]
    pub file: Option<PathBuf>,
    /// The devcontainer.json to use when the project has several (or any manifest, as FILE)
    #[arg(long, value_name = "PATH", conflicts_with = "file")]
    pub config: Option<PathBuf>,
    /// Print the plan and change nothing
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Also remove boxes that the manifest no longer lists
    #[arg(long, conflicts_with_all = ["name", "remove"])]
    pub prune: bool,
    /// Apply only this box (a section of the file); repeatable
    #[arg(long, value_name = "BOX")]
    pub name: Vec<String>,
    /// Remove the boxes the file lists instead of making them (Distrobox's `assemble rm`); with --name, only those
    #[arg(long)]
    pub remove: bool,
    /// Do not ask before recreating or removing boxes
    #[arg(short, long)]
    pub yes: bool,
    /// Print the plan and its result as JSON
    #[arg(long)]
    pub json: bool,
    /// Run a Distrobox file's `$(…)` and backquote substitutions on the host through sh, each printed first (refused without it)
    #[arg(long)]
    pub run_substitutions: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ManifestArgs {
    /// Boxes to write down [default: every box]
    #[arg(add = ArgValueCandidates::new(box_names))]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct BakeArgs {
    /// Image to start from
    pub image: String,
    /// Name of the new image [default: IMAGE-tent]
    #[arg(long)]
    pub tag: Option<String>,
    /// Extra packages to bake in (repeat or separate by spaces)
    #[arg(short, long, value_name = "PACKAGES")]
    pub packages: Vec<String>,
}
