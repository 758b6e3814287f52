//! The command line, as clap definitions only: plain data that `commands`
//! turns into work. `--help` is the first manual, so every flag teaches.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const AFTER_HELP: &str = "\
Examples:
  tent create dev --image debian:bookworm   make a box
  tent enter dev                            a login shell in it, in this directory
  tent enter                                the same, in your only (or default_box) box
  tent run dev -- make test                 one command, for scripts
  tent export dev --bin /usr/bin/rg         put a box's command on your PATH
  tent apply                                set up the boxes of ./tent.toml

Exit status: 0 success, 1 failure, 2 usage error, 125 engine error,
126 command not executable, 127 command not found, 130 interrupted;
`enter -- CMD` and `run` pass the command's own status through.";

#[derive(Debug, Parser)]
#[command(
    name = "tent",
    version,
    about = "Mutable containers that feel like the host, for immutable Linux systems",
    long_about = "tent makes containers (boxes) that share your user, home, display, sound, \
D-Bus, devices and network, so you can install anything with the box's package manager \
and export apps and commands to the host, which stays untouched.",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// Container engine: podman, docker, or a path to either [default: podman, then docker]
    #[arg(long, global = true, value_name = "ENGINE")]
    pub engine: Option<String>,

    /// Work with rootful boxes (podman through sudo when you are not root)
    #[arg(long, global = true)]
    pub root: bool,

    /// Show everything: the engine commands and the box's package manager output
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// Show only errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make a box from an image and provision it
    #[command(
        after_help = "Examples:\n  tent create dev\n  tent create dev --image fedora:41 --packages \"git ripgrep\"\n  tent create sandbox --home ~/boxes/sandbox     # dotfiles kept apart\n  tent create web --no-start                     # provision at the first enter"
    )]
    Create(CreateArgs),
    /// Open a login shell in a box, or run one command in it with a terminal
    #[command(
        after_help = "Starts the box when it is stopped. Works in your current directory when the box has it, else in your home.\n\nExamples:\n  tent enter dev\n  tent enter dev -- htop\n\nExit status: the command's own; 125 engine error, 126 not executable, 127 not found."
    )]
    Enter(EnterArgs),
    /// Run a command in a box, for scripts (a terminal only when stdin is one)
    #[command(
        after_help = "Arguments reach the command exactly as given, including ones that are not UTF-8.\n\nExamples:\n  tent run dev -- make test\n  tent run dev --as-root -- apt-get install -y ripgrep\n  git diff | tent run dev -- delta\n\nExit status: the command's own; 125 engine error, 126 not executable, 127 not found."
    )]
    Run(RunArgs),
    /// A throwaway box, removed when its shell or command exits
    #[command(
        after_help = "The box is removed when the command ends, on Ctrl-C and when the terminal closes; your home and files stay.\n\nExamples:\n  tent ephemeral\n  tent ephemeral --image fedora:41 -- dnf info htop"
    )]
    Ephemeral(EphemeralArgs),
    /// Put a launcher for a box in the desktop menu, or remove it
    #[command(
        after_help = "The launcher opens a terminal in the box: the desktop's own, or config `entry.terminal` (e.g. \"gnome-terminal --\"). Its icon is the box's distribution logo when the box has one. `tent rm` removes it with the box.\n\nExamples:\n  tent entry dev\n  tent entry dev --remove"
    )]
    Entry(EntryArgs),
    /// Which boxes have a command (for the shell's command-not-found handler)
    #[command(hide = true)]
    Which(WhichArgs),
    /// List the boxes
    #[command(
        alias = "ls",
        after_help = "Examples:\n  tent list\n  tent list --json | jq -r '.[] | select(.state == \"running\") | .name'"
    )]
    List(ListArgs),
    /// Stop boxes
    Stop(StopArgs),
    /// Remove boxes and their exports; your files are never touched
    #[command(
        after_help = "Asks first on a terminal unless --yes. Only the container, tent's state of it and its exports go: your home and files stay, and a box's own --home only with --delete-home.\n\nExamples:\n  tent rm dev\n  tent rm --all --force --yes"
    )]
    Rm(RmArgs),
    /// Export an app or a command of a box to the host
    Export(ExportArgs),
    /// Remove exports of a box
    Unexport(UnexportArgs),
    /// Create, update and export boxes from a manifest (tent.toml or distrobox.ini)
    Apply(ApplyArgs),
    /// Print the manifest of an existing box
    Manifest(ManifestArgs),
    /// Provision an image once into a new image, so boxes from it start at once
    Bake(BakeArgs),
    /// Find broken exports and problems with the engine
    Doctor(DoctorArgs),
    /// Print shell completions: bash, zsh, fish, elvish or powershell
    Completions { shell: clap_complete::Shell },
    /// Write the man pages into a directory
    #[command(hide = true)]
    Man { dir: PathBuf },
    /// Serve exported commands called from other boxes (started by tent itself)
    #[command(hide = true)]
    Relay {
        #[arg(long)]
        socket: PathBuf,
    },
    /// In a box: run `tent ARGS...` on the host through the relay (exported wrappers use it)
    #[command(hide = true)]
    RelayCall {
        #[arg(long)]
        socket: PathBuf,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<OsString>,
    },
}

#[derive(Debug, Args, Clone, Default)]
pub struct CreateArgs {
    /// Name of the box (letters, digits, '_', '.', '-')
    pub name: String,
    /// Image to make it from [default: TENT_IMAGE, the config file, else one for your distro]
    #[arg(short, long)]
    pub image: Option<String>,
    /// Extra packages to install at provisioning (repeat or separate by spaces)
    #[arg(short, long, value_name = "PACKAGES")]
    pub packages: Vec<String>,
    /// Give the box its own home directory (made if missing); your real home is not mounted
    #[arg(long, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// With --home: mount your real home as well
    #[arg(long, requires = "home")]
    pub mount_home: bool,
    /// Extra volume, SRC:DST[:OPTIONS] (repeatable)
    #[arg(long, value_name = "VOLUME")]
    pub volume: Vec<String>,
    /// Environment variable for the box, KEY=VALUE (repeatable)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Host name of the box [default: its name]
    #[arg(long)]
    pub hostname: Option<String>,
    /// Make the box but do not start or provision it now
    #[arg(long)]
    pub no_start: bool,
    /// Also put a launcher for the box in the desktop menu (see `tent entry`)
    #[arg(long)]
    pub entry: bool,
}

#[derive(Debug, Args)]
pub struct EntryArgs {
    /// The box
    #[arg(value_name = "BOX")]
    pub box_name: String,
    /// Remove the box's launcher instead
    #[arg(long)]
    pub remove: bool,
}

#[derive(Debug, Args)]
pub struct EphemeralArgs {
    /// Image of the throwaway box [default: as for `tent create`]
    #[arg(short, long)]
    pub image: Option<String>,
    /// Environment variable for the box, KEY=VALUE (repeatable)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Command to run instead of a login shell (after --)
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct WhichArgs {
    /// The command's name
    pub command: String,
    /// Print JSON: [{"box": NAME, "scope": SCOPE}]
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EnterArgs {
    /// The box [default: config `default_box`, else your only box]
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
pub struct RunArgs {
    /// The box [default: config `default_box`, else your only box]
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
pub struct ListArgs {
    /// Print JSON (schema in docs/json.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Boxes to stop
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub names: Vec<String>,
    /// Stop every running box
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Boxes to remove
    #[arg(required_unless_present = "all", conflicts_with = "all")]
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
pub struct ExportArgs {
    /// The box
    #[arg(value_name = "BOX")]
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
pub struct UnexportArgs {
    /// The box
    #[arg(value_name = "BOX")]
    pub box_name: String,
    /// App to unexport (as given to export, or its desktop-file id)
    #[arg(long, conflicts_with = "all")]
    pub app: Option<String>,
    /// Command to unexport (its exported name)
    #[arg(long, conflicts_with = "all")]
    pub bin: Option<String>,
    /// Remove every export of the box
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Manifest: tent.toml, or a Distrobox assemble file (*.ini) [default: ./tent.toml]
    pub file: Option<PathBuf>,
    /// Print the plan and change nothing
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Also remove boxes that the manifest no longer lists
    #[arg(long)]
    pub prune: bool,
    /// Do not ask before recreating or removing boxes
    #[arg(short, long)]
    pub yes: bool,
    /// Print the plan and its result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// Boxes to write down [default: every box]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct BakeArgs {
    /// Image to start from
    pub image: String,
    /// Name of the new image [default: IMAGE-tent]
    #[arg(long)]
    pub tag: Option<String>,
    /// Extra packages to bake in (repeat or separate by spaces)
    #[arg(short, long, value_name = "PACKAGES")]
    pub packages: Vec<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "Finds exports whose box is gone or whose target is gone from the box (fix: \
remove them), and exports whose files were deleted or whose tent binary moved (fix: export them \
again). Exit status 1 while problems are left. See docs/exports.md.")]
pub struct DoctorArgs {
    /// Remove broken exports without asking
    #[arg(long)]
    pub fix: bool,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn enter_takes_a_command_after_double_dash() {
        let cli = Cli::try_parse_from(["tent", "enter", "dev", "--", "make", "-j4"]).unwrap();
        match cli.command {
            Command::Enter(args) => assert_eq!(args.command, vec![OsString::from("make"), OsString::from("-j4")]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn run_needs_a_command() {
        assert!(Cli::try_parse_from(["tent", "run", "dev"]).is_err());
        assert!(Cli::try_parse_from(["tent", "run"]).is_err());
    }

    #[test]
    fn the_box_name_is_optional() {
        let cli = Cli::try_parse_from(["tent", "run", "--", "ls", "-l"]).unwrap();
        match cli.command {
            Command::Run(args) => {
                assert_eq!(args.name, None);
                assert_eq!(args.command, vec![OsString::from("ls"), OsString::from("-l")]);
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from(["tent", "run", "dev", "-e", "A=1", "--env", "B=2", "--", "ls"]).unwrap();
        match cli.command {
            Command::Run(args) => {
                assert_eq!(args.name.as_deref(), Some("dev"));
                assert_eq!(args.env, vec!["A=1", "B=2"]);
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from(["tent", "enter"]).unwrap();
        assert!(matches!(cli.command, Command::Enter(EnterArgs { name: None, .. })));
        let cli = Cli::try_parse_from(["tent", "ephemeral", "--", "true"]).unwrap();
        assert!(matches!(cli.command, Command::Ephemeral(EphemeralArgs { image: None, .. })));
    }

    #[test]
    fn stop_needs_names_or_all() {
        assert!(Cli::try_parse_from(["tent", "stop"]).is_err());
        assert!(Cli::try_parse_from(["tent", "stop", "--all"]).is_ok());
        assert!(Cli::try_parse_from(["tent", "stop", "a", "--all"]).is_err());
    }
}
