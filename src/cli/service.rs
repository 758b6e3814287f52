//! Boxes as user services: `tent service`.

use clap::{Args, Subcommand};
use clap_complete::ArgValueCandidates;

use crate::commands::complete::box_names;

#[derive(Debug, Args)]
pub(crate) struct ServiceArgs {
    #[command(subcommand)]
    pub action: ServiceAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ServiceAction {
    /// Write and enable a unit that runs CMD in BOX
    Add {
        /// The box
        #[arg(value_name = "BOX")]
        #[arg(add = ArgValueCandidates::new(box_names))]
        box_name: String,
        /// The service's name (letters, digits, '_', '-')
        name: String,
        /// When systemd starts the command again
        #[arg(long, value_enum, default_value = "on-failure")]
        restart: Restart,
        /// Write the unit but do not enable or start it
        #[arg(long)]
        no_enable: bool,
        /// The command and its arguments (after --)
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// List the services tent wrote (and boxes started at login)
    List {
        /// Only this box's
        #[arg(value_name = "BOX")]
        #[arg(add = ArgValueCandidates::new(box_names))]
        box_name: Option<String>,
        /// Print JSON: [{"box", "scope", "name", "command", "restart"}]
        #[arg(long)]
        json: bool,
    },
    /// Stop, disable and remove a box's service
    Remove {
        /// The box
        #[arg(value_name = "BOX")]
        #[arg(add = ArgValueCandidates::new(box_names))]
        box_name: String,
        /// The service
        name: Option<String>,
        /// Every service of the box
        #[arg(long, conflicts_with = "name")]
        all: bool,
    },
}

/// systemd's `Restart=` for a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Restart {
    No,
    OnFailure,
    Always,
}
