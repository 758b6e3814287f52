//! Working in a box: `tent enter`, `tent run`, `tent host`, `tent which`, `tent code`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Args;
use clap_complete::ArgValueCandidates;

use crate::commands::complete::box_names;

#[derive(Debug, Args)]
pub(crate) struct WhichArgs {
    /// The command's name
    pub command: String,
    /// Print JSON: [{"box": NAME, "scope": SCOPE}]
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct EnterArgs {
    /// The box [default: config `default_box`, else your only box]
    #[arg(add = ArgValueCandidates::new(box_names))]
    pub name: Option<String>,
    /// Environment variable for this call only, KEY=VALUE (repeatable)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// With no box yet: create the default one without asking
    #[arg(short, long)]
    pub yes: bool,
    /// Command to run instead of a login shell (after --)
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The box [default: config `default_box`, else your only box]
    #[arg(add = ArgValueCandidates::new(box_names))]
    pub name: Option<String>,
    /// Run as root in the box instead of as you
    #[arg(long)]
    pub as_root: bool,
    /// Environment variable for this call only, KEY=VALUE (repeatable)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// With no box yet: create the default one without asking
    #[arg(short, long)]
    pub yes: bool,
    /// The command and its arguments (after --)
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub(crate) struct HostArgs {
    /// The host relay's socket [default: the one of this session]
    #[arg(long, hide = true)]
    pub socket: Option<PathBuf>,
    /// The command and its arguments (after --)
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub(crate) struct CodeArgs {
    /// The box
    #[arg(value_name = "BOX")]
    #[arg(add = ArgValueCandidates::new(box_names))]
    pub box_name: String,
    /// The folder to open [default: the current one]
    #[arg(value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub dir: Option<PathBuf>,
    /// Write the configuration and print the URI to open; do not start VS Code
    #[arg(long)]
    pub print: bool,
    /// As --print, as JSON: box, folder, uri, config, editor (the argv, or null)
    #[arg(long)]
    pub json: bool,
}
