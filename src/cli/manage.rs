//! Looking after boxes: `tent list`, `tent stop`, `tent rm`, `tent upgrade`, `tent doctor`.

use clap::Args;
use clap_complete::ArgValueCandidates;

use crate::commands::complete::box_names;

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Print JSON (schema in docs/json.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct StopArgs {
    /// Boxes to stop
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    #[arg(add = ArgValueCandidates::new(box_names))]
    pub names: Vec<String>,
    /// Stop every running box
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RmArgs {
    /// Boxes to remove
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    #[arg(add = ArgValueCandidates::new(box_names))]
    pub names: Vec<String>,
    /// Remove every box
    #[arg(long)]
    pub all: bool,
    /// Remove running boxes too (they are stopped first)
    #[arg(short, long)]
    pub force: bool,
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub yes: bool,
    /// Also delete the box's own home directory (made with --home)
    #[arg(long)]
    pub delete_home: bool,
}

#[derive(Debug, Args)]
pub(crate) struct UpgradeArgs {
    /// Boxes to upgrade
    #[arg(add = ArgValueCandidates::new(box_names))]
    #[arg(required_unless_present_any = ["all", "running", "schedule"], conflicts_with = "all")]
    pub names: Vec<String>,
    /// Upgrade every box, one by one
    #[arg(long)]
    pub all: bool,
    /// Only boxes that are running (without names: every running box)
    #[arg(long)]
    pub running: bool,
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub yes: bool,
    /// Upgrade on a schedule (a systemd user timer): daily, weekly, or off to remove it
    ///
    /// The timer runs `tent upgrade --all --yes --notify` (or the boxes named)
    /// with this engine; it logs to the journal (`journalctl --user -u
    /// tent-upgrade`) and sends a desktop notification when a box is rolled back.
    #[arg(long, value_enum, value_name = "WHEN")]
    pub schedule: Option<Schedule>,
    /// Send a desktop notification when an upgrade fails and a box is rolled back
    #[arg(long)]
    pub notify: bool,
    /// Leave a box alone while commands started through tent run in it (the scheduled upgrade does)
    #[arg(long)]
    pub skip_busy: bool,
}

/// How often the scheduled upgrade runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Schedule {
    Daily,
    Weekly,
    /// Remove the timer
    Off,
}

#[derive(Debug, Args)]
#[command(after_help = "Finds exports whose box is gone or whose target is gone from the box (fix: \
remove them), and exports whose files were deleted or whose tent binary moved (fix: export them \
again). Exit status 1 while problems are left. See docs/exports.md.")]
pub(crate) struct DoctorArgs {
    /// Remove broken exports without asking, and the lock files of boxes and exports that are gone
    #[arg(long)]
    pub fix: bool,
    /// Print JSON (the export findings; with --engine-only, the engine's checks)
    #[arg(long)]
    pub json: bool,
    /// Check only the engine: reachable, version, storage, cgroups, subordinate ids
    #[arg(long)]
    pub engine_only: bool,
}
