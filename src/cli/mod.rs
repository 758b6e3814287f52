//! The command line, as clap definitions only: plain data that `commands`
//! turns into work. `--help` is the first manual, so every flag teaches.
//!
//! This file holds `Cli` and the `Command` list; each verb group's `Args` is
//! a file of its own (`create`, `work`, `manage`, `snapshots`, `exports`,
//! `service`, `manifests`), re-exported here as `cli::XArgs`. `fast` reads
//! `run`/`enter` without clap for the hot path.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

mod create;
mod exports;
pub(crate) mod fast;
mod manage;
mod manifests;
mod service;
mod snapshots;
mod work;

pub(crate) use create::{AdoptArgs, CloneArgs, CreateArgs, DistrosArgs, EphemeralArgs};
pub(crate) use exports::{EntryArgs, ExportArgs, UnexportArgs};
pub(crate) use manage::{DoctorArgs, ListArgs, RmArgs, Schedule, StopArgs, UpgradeArgs};
pub(crate) use manifests::{ApplyArgs, BakeArgs, ManifestArgs};
pub(crate) use service::{Restart, ServiceAction, ServiceArgs};
pub(crate) use snapshots::{LoadArgs, RescueArgs, RollbackArgs, SaveArgs, SnapshotArgs};
pub(crate) use work::{CodeArgs, EnterArgs, HostArgs, RunArgs, WhichArgs};

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
pub(crate) struct Cli {
    /// Container engine: podman, docker, or a path to either [default: podman, then docker]
    #[arg(long, global = true, value_name = "ENGINE")]
    pub engine: Option<String>,

    /// Work with rootful boxes (podman through sudo when you are not root)
    ///
    /// A rootful box's root is the host's root; a box is not a sandbox. What
    /// tent promises and what it does not: docs/security.md.
    #[arg(long, global = true)]
    pub root: bool,

    /// Use this podman connection (`podman system connection`) or Docker context, as CONTAINER_CONNECTION or DOCKER_CONTEXT do
    ///
    /// A box on another endpoint is kept apart from local boxes of the same
    /// name, and what needs this machine's files is refused: docs/remote.md.
    #[arg(long, global = true, value_name = "NAME", conflicts_with = "url")]
    pub connection: Option<String>,

    /// Use the engine at this address (ssh://USER@HOST/SOCKET, unix:///SOCKET, tcp://HOST:PORT), as CONTAINER_HOST or DOCKER_HOST do
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,

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
pub(crate) enum Command {
    /// Make a box from an image and provision it
    #[command(
        after_help = "Examples:\n  tent create dev\n  tent create dev --image fedora:41 --packages \"git ripgrep\"\n  tent create sandbox --home ~/boxes/sandbox     # dotfiles kept apart\n  tent create web --no-start                     # provision at the first enter\n  tent --root create sys --init                  # systemd as PID 1: systemctl works\n  tent create gpu --nvidia                       # the host's NVIDIA driver, nvidia-smi\n  tent create iso --unshare-netns --unshare-ipc  # own network and IPC\n  tent create dev --pre-init-hook 'echo early' --init-hook 'apt-get -y install vim'\n  tent create dev --engine-arg=--cap-add=SYS_PTRACE --engine-arg=--env=X=1"
    )]
    Create(CreateArgs),
    /// List the distributions `tent create --distro` knows, with their images and package managers
    #[command(
        after_help = "Built into tent (no network call), merged with the [distros] table of your config and of /etc/tent/config.toml, which pin a name to any image. Images are the short names your engine resolves itself; tent names no registry (docs/distros.md).\n\nExamples:\n  tent distros\n  tent distros --json\n  tent create dev --distro fedora --release 41\n  tent create web --distro ubuntu --release 24.04"
    )]
    Distros(DistrosArgs),
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
    /// Take, list or delete snapshots of a box's system (not its home or volumes)
    #[command(
        after_help = "A snapshot is an image in the engine's own store (localhost/tent-snapshot/...). The box may be running: it is paused only while the engine copies. At most `snapshots.keep` (config, default 3) are kept per box; the oldest go first.\n\nExamples:\n  tent snapshot dev                      a snapshot named by the time\n  tent snapshot dev before-cuda\n  tent snapshot dev --list --json\n  tent snapshot dev --delete before-cuda"
    )]
    Snapshot(SnapshotArgs),
    /// Return a box's system to a snapshot; home, volumes and exports stay
    #[command(
        after_help = "The box keeps its name, host name, spec, home, volumes and exports; its container is made again from the snapshot. Asks first on a terminal unless --yes.\n\nExamples:\n  tent rollback dev                      the latest snapshot\n  tent rollback dev before-cuda --yes"
    )]
    Rollback(RollbackArgs),
    /// Make a stuck box (its process ended behind the engine's back) again in a new container, with its system; home, volumes and exports stay
    #[command(
        after_help = "A box is stuck when the engine says it runs but its process is gone: the OOM killer, or the end of a session that took the engine's monitor with it, ended it and podman never learnt. podman then neither stops nor starts it (\"container state improper\"), and `tent run` says the box is stuck. `tent rescue` takes a snapshot of its system (kind rescue; `tent snapshot BOX --list`; like every snapshot it counts toward snapshots.keep, so the oldest may go, named), makes the box again from it under its name with its spec, and removes the stuck container once the new one runs. Nothing is lost but the processes that were already gone. A box that is not stuck is refused.\n\nExamples:\n  tent rescue dev"
    )]
    Rescue(RescueArgs),
    /// Take over a container made by Distrobox or Toolbx as a tent box, keeping its system and home
    #[command(
        after_help = "Its system is committed and made again as a tent box (runs as you, snapshots, upgrade) under the same name; its home stays where it is. The old container goes once the new box is ready (--keep-old keeps it). Exports made by distrobox-export are listed; --exports makes them again as tent exports and moves the old files aside (never deletes them). Asks first unless --yes. See docs/adopt.md.\n\nExamples:\n  tent adopt fedora --dry-run\n  tent adopt fedora --exports\n  tent adopt my-toolbox --yes --keep-old"
    )]
    Adopt(AdoptArgs),
    /// Upgrade a box's packages (a snapshot first when there is something to upgrade); rolled back when it fails
    #[command(
        after_help = "Asks the box's package manager first (it refreshes its index, changes nothing): a box with nothing to upgrade is left as it is, with no snapshot. Otherwise takes a snapshot (kind upgrade), then upgrades with the box's package manager (apt, dnf, zypper, pacman, apk, xbps). When that fails, the box is rolled back and tent exits 1; when it works, `tent rollback BOX` undoes it.\n\nExamples:\n  tent upgrade dev\n  tent upgrade --all --yes\n  tent upgrade --running               the boxes that are running now\n  tent upgrade --schedule weekly       every box, by a systemd user timer\n  tent upgrade --schedule off"
    )]
    Upgrade(UpgradeArgs),
    /// Make a new box with the system and spec of another
    #[command(after_help = "Examples:\n  tent clone dev dev-experiment")]
    Clone(CloneArgs),
    /// Write a box (its system, spec and export list) to one file
    #[command(
        after_help = "The file is a zstd-compressed tar: tent-box.json (spec, exports), the image as the engine saves it, and its checksum. Home and volumes are not in it. With --without-base, the layers of the image the box was made from are left out: the file holds only what the box changed, and loads where that image is (tent load says so when it is not).\n\nExamples:\n  tent save dev -o dev.tent\n  tent save dev -o dev.tent --without-base   for a machine that has the box's image\n  tent load dev.tent --name dev2"
    )]
    Save(SaveArgs),
    /// Make a box from a file written by `tent save` (works offline)
    #[command(after_help = "Examples:\n  tent load dev.tent\n  tent load dev.tent --name dev-copy")]
    Load(LoadArgs),
    /// Export an app or a command of a box to the host
    Export(ExportArgs),
    /// Remove exports of a box
    Unexport(UnexportArgs),
    /// Create, update and export boxes from a manifest (tent.toml, distrobox.ini or devcontainer.json)
    Apply(ApplyArgs),
    /// Print the manifest of an existing box
    Manifest(ManifestArgs),
    /// Provision an image once into a new image, so boxes from it start at once
    Bake(BakeArgs),
    /// Find problems with the engine and broken exports, and say how to fix them
    #[command(
        after_help = "Checks the engine (it answers, its version, storage driver, cgroups; for rootless podman the subordinate ids in /etc/subuid and /etc/subgid and newuidmap/newgidmap), then every export. Exit status 1 when something keeps boxes or exports from working.\n\nExamples:\n  tent doctor\n  tent doctor --fix\n  tent doctor --engine-only --json"
    )]
    Doctor(DoctorArgs),
    /// In a box: run a command on the host (through tent's relay)
    #[command(
        after_help = "Arguments, stdin, stdout, stderr or the terminal, signals and the exit status pass as they are. \
The command runs in your directory when the host has it, else in your home, with the host's PATH and \
your session's variables (terminal, display, locale...). In a box, `tent` itself runs on the host too \
(`tent list`, `tent enter other`), and `tent export --app ID` exports from this box. A box made with \
--no-host may not do this.\n\nExamples:\n  tent host -- flatpak run org.gnome.Maps\n  tent host -- sh -c 'systemctl --user status'\n  tent list\n\nExit status: the command's own (128+N when a signal N ended it); 127 not found on the host."
    )]
    Host(HostArgs),
    /// Open VS Code attached to a box, as you, in a folder
    #[command(
        after_help = "VS Code's Dev Containers extension attaches to a running container as its user, root for a tent box. \
tent writes the extension's configuration for this box (remoteUser, workspaceFolder, login environment; your own keys \
in that file stay), starts the box and opens the folder. Needs VS Code (`code` on PATH, or its Flatpak) with the Dev \
Containers extension; with podman, set \"dev.containers.dockerPath\": \"podman\" in VS Code's settings. Other editors: \
docs/editors.md.\n\nExamples:\n  tent code dev                 this folder\n  tent code dev ~/src/project\n  tent code dev --print         the URI to open, without starting VS Code"
    )]
    Code(CodeArgs),
    /// Run a command of a box as a systemd user service on the host
    #[command(
        after_help = "The unit runs `tent run BOX -- CMD` with this engine: the box starts when needed, the argv is kept exactly, and stopping the service ends the command. `tent rm BOX` removes the box's services.\n\nExamples:\n  tent service add dev web -- python3 -m http.server 8000\n  tent service add dev sync --restart always -- syncthing serve\n  tent service list\n  tent service remove dev web\n  systemctl --user status tent-podman-dev.web.service"
    )]
    Service(ServiceArgs),
    /// Print shell completions: bash, zsh, fish, elvish or powershell
    ///
    /// The script completes commands, flags and your box and export names
    /// (read from tent's own state, no engine call). Load it in your shell's
    /// start-up, or write it to the completions folder once:
    #[command(
        after_help = "Examples:\n  tent completions bash > ~/.local/share/bash-completion/completions/tent\n  source <(tent completions zsh)                # in ~/.zshrc, after compinit\n  tent completions fish > ~/.config/fish/completions/tent.fish\n  source <(tent completions bash)               # in ~/.bashrc\n\nThe script calls `tent` on your PATH at each TAB: write it again after upgrading tent."
    )]
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
    /// In a box: run an exported command of another box through the host's relay (exported wrappers use it)
    #[command(hide = true)]
    RelayCall {
        #[arg(long)]
        socket: PathBuf,
        /// The engine scope of the exporting box (podman, podman-root, docker)
        #[arg(long)]
        scope: Option<String>,
        /// The exporting box
        #[arg(long = "box")]
        box_name: Option<String>,
        /// The exported command's name
        #[arg(long)]
        export: Option<String>,
        /// Send this file's bytes as the request, as they are (protocol debugging and tests)
        #[arg(long, conflicts_with_all = ["scope", "box_name", "export"])]
        request_file: Option<PathBuf>,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<OsString>,
    },
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
    fn create_takes_repeated_engine_args_and_hooks() {
        let cli = Cli::try_parse_from([
            "tent",
            "create",
            "dev",
            "--engine-arg",
            "--env=X=1",
            "--engine-arg=--cap-add",
            "--engine-arg",
            "SYS_PTRACE",
            "--init-hook",
            "a",
            "--init-hook",
            "b",
            "--unshare-all",
            "--init",
        ])
        .unwrap();
        match cli.command {
            Command::Create(args) => {
                assert_eq!(args.engine_arg, ["--env=X=1", "--cap-add", "SYS_PTRACE"]);
                assert_eq!(args.init_hook, ["a", "b"]);
                assert!(args.unshare_all && args.init);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn stop_needs_names_or_all() {
        assert!(Cli::try_parse_from(["tent", "stop"]).is_err());
        assert!(Cli::try_parse_from(["tent", "stop", "--all"]).is_ok());
        assert!(Cli::try_parse_from(["tent", "stop", "a", "--all"]).is_err());
    }

    #[test]
    fn snapshot_flags() {
        assert!(Cli::try_parse_from(["tent", "snapshot", "dev", "one"]).is_ok());
        assert!(Cli::try_parse_from(["tent", "snapshot", "dev", "--list", "--json"]).is_ok());
        assert!(Cli::try_parse_from(["tent", "snapshot", "dev", "--json"]).is_err());
        assert!(Cli::try_parse_from(["tent", "snapshot", "dev", "one", "--delete", "two"]).is_err());
        assert!(Cli::try_parse_from(["tent", "upgrade"]).is_err());
        assert!(Cli::try_parse_from(["tent", "save", "dev"]).is_err(), "save needs -o");
    }
}
