//! The command line, as clap definitions only: plain data that `commands`
//! turns into work. `--help` is the first manual, so every flag teaches.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use clap_complete::ArgValueCandidates;

use crate::commands::complete::{box_names, export_names};

pub mod fast;

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
pub enum Command {
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
    /// Take over a container made by Distrobox or Toolbx as a tent box, keeping its system and home
    #[command(
        after_help = "Its system is committed and made again as a tent box (runs as you, snapshots, upgrade) under the same name; its home stays where it is. The old container goes once the new box is ready (--keep-old keeps it). Exports made by distrobox-export are listed; --exports makes them again as tent exports and moves the old files aside (never deletes them). Asks first unless --yes. See docs/adopt.md.\n\nExamples:\n  tent adopt fedora --dry-run\n  tent adopt fedora --exports\n  tent adopt my-toolbox --yes --keep-old"
    )]
    Adopt(AdoptArgs),
    /// Upgrade a box's packages, after a snapshot; rolled back when it fails
    #[command(
        after_help = "Takes a snapshot (kind upgrade), then refreshes and upgrades with the box's package manager (apt, dnf, zypper, pacman, apk, xbps). When that fails, the box is rolled back and tent exits 1; when it works, `tent rollback BOX` undoes it.\n\nExamples:\n  tent upgrade dev\n  tent upgrade --all --yes\n  tent upgrade --running               the boxes that are running now\n  tent upgrade --schedule weekly       every box, by a systemd user timer\n  tent upgrade --schedule off"
    )]
    Upgrade(UpgradeArgs),
    /// Make a new box with the system and spec of another
    #[command(after_help = "Examples:\n  tent clone dev dev-experiment")]
    Clone(CloneArgs),
    /// Write a box (its system, spec and export list) to one file
    #[command(
        after_help = "The file is a gzip'd tar: tent-box.json (spec, exports, checksum) and the image. Home and volumes are not in it.\n\nExamples:\n  tent save dev -o dev.tent\n  tent load dev.tent --name dev2"
    )]
    Save(SaveArgs),
    /// Make a box from a file written by `tent save` (works offline)
    #[command(after_help = "Examples:\n  tent load dev.tent\n  tent load dev.tent --name dev-copy")]
    Load(LoadArgs),
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

#[derive(Debug, Args)]
pub struct DistrosArgs {
    /// Print JSON: one object per distribution (docs/json.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct CreateArgs {
    /// Name of the box (letters, digits, '_', '.', '-')
    pub name: String,
    /// Image to make it from [default: TENT_IMAGE, the config file, else one for your distro]
    #[arg(short, long)]
    pub image: Option<String>,
    /// A distribution of tent's catalog instead of an image (`tent distros` lists them)
    #[arg(long, value_name = "NAME", conflicts_with = "image")]
    pub distro: Option<String>,
    /// With --distro: its release (e.g. 41, 24.04, bookworm) [default: the catalog's]
    #[arg(long, value_name = "RELEASE", requires = "distro")]
    pub release: Option<String>,
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
    /// With --root: sudo in the box asks for no password (anything you run in
    /// the box can then become root on the host; see docs/security.md)
    #[arg(long)]
    pub sudo_nopasswd: bool,
    /// Run the image's init (systemd) as PID 1, installed with the box's package manager when missing; the box gets its own PID namespace (host processes are not visible)
    #[arg(long)]
    pub init: bool,
    /// Pass the host's NVIDIA driver (libraries, nvidia-smi, Vulkan/EGL files) into the box, read-only
    #[arg(long)]
    pub nvidia: bool,
    /// Own network namespace: the box loses the host's network, ports and the host's abstract sockets (D-Bus, X11 over @/tmp/.X11-unix)
    #[arg(long)]
    pub unshare_netns: bool,
    /// Own IPC namespace: the box loses the host's shared memory and SysV IPC (e.g. X11 MIT-SHM)
    #[arg(long)]
    pub unshare_ipc: bool,
    /// Own PID namespace: the box no longer sees the host's processes
    #[arg(long)]
    pub unshare_process: bool,
    /// The host's /dev and /sys are not mounted: the box loses hot-plugged devices (USB, webcams, disks)
    #[arg(long)]
    pub unshare_devsys: bool,
    /// The user's host groups are not kept in the box (only with crun; runc never keeps them)
    #[arg(long)]
    pub unshare_groups: bool,
    /// All of --unshare-netns, -ipc, -process, -devsys and -groups (your home stays shared)
    #[arg(long)]
    pub unshare_all: bool,
    /// Command run as root at every start, before package provisioning (repeatable)
    #[arg(long, value_name = "CMD")]
    pub pre_init_hook: Vec<String>,
    /// Command run as root once, after provisioning and user setup (repeatable)
    #[arg(long, value_name = "CMD")]
    pub init_hook: Vec<String>,
    /// Raw argument for the engine's create, one word each (repeatable; write --engine-arg=--flag for a flag); tent's own --name, --user, --entrypoint, --userns, --label, --rm and mounts at /run/.tent or /run/host are refused
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub engine_arg: Vec<String>,
    /// Pull the image even when the engine has it
    #[arg(long)]
    pub pull: bool,
    /// Platform of the image, e.g. linux/arm64 (needs emulation for another CPU)
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// The box may not run commands on the host: no `tent host`, no `tent` of the host, no host xdg-open
    #[arg(long)]
    pub no_host: bool,
    /// Keep the box's own xdg-open instead of opening files and links on the host
    #[arg(long)]
    pub own_xdg_open: bool,
    /// Also put a launcher for the box in the desktop menu (see `tent entry`)
    #[arg(long)]
    pub entry: bool,
    /// Stop the box once no command started through tent (run, enter, exported commands, services) has run in it for DURATION (90s, 15m, 2h); the next command starts it again [default: config `stop_when_idle`]
    #[arg(long, value_name = "DURATION", value_parser = crate::boxes::spec::parse_duration)]
    pub stop_when_idle: Option<u64>,
    /// Start the box when you log in (a systemd user unit; `tent rm` removes it)
    #[arg(long)]
    pub start_at_login: bool,
}

#[derive(Debug, Args)]
pub struct EntryArgs {
    /// The box
    #[arg(value_name = "BOX")]
    #[arg(add = ArgValueCandidates::new(box_names))]
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
pub struct RunArgs {
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
pub struct HostArgs {
    /// The host relay's socket [default: the one of this session]
    #[arg(long, hide = true)]
    pub socket: Option<PathBuf>,
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
    #[arg(add = ArgValueCandidates::new(box_names))]
    pub names: Vec<String>,
    /// Stop every running box
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct RmArgs {
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
pub struct SnapshotArgs {
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
pub struct AdoptArgs {
    /// The Distrobox or Toolbx container
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Also make its distrobox-export exports again as tent exports (the old files are moved aside)
    #[arg(long)]
    pub exports: bool,
    /// Keep the old container (renamed NAME-pre-tent) instead of removing it
    #[arg(long)]
    pub keep_old: bool,
    /// Print the plan and change nothing
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Do not ask
    #[arg(short, long)]
    pub yes: bool,
    /// Print the plan (and with changes, what was done) as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
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
pub struct UpgradeArgs {
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
pub enum Schedule {
    Daily,
    Weekly,
    /// Remove the timer
    Off,
}

#[derive(Debug, Args)]
pub struct CloneArgs {
    /// The box to copy
    #[arg(add = ArgValueCandidates::new(box_names))]
    pub source: String,
    /// The new box
    pub destination: String,
}

#[derive(Debug, Args)]
pub struct CodeArgs {
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

#[derive(Debug, Args)]
pub struct ServiceArgs {
    #[command(subcommand)]
    pub action: ServiceAction,
}

#[derive(Debug, Subcommand)]
pub enum ServiceAction {
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
pub enum Restart {
    No,
    OnFailure,
    Always,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// The box
    #[arg(value_name = "BOX")]
    #[arg(add = ArgValueCandidates::new(box_names))]
    pub box_name: String,
    /// The file to write
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// A file written by `tent save`
    pub file: PathBuf,
    /// Name of the new box [default: the saved box's name]
    #[arg(long)]
    pub name: Option<String>,
    /// Accept the hooks, volumes and exports the file carries (listed first) without asking
    #[arg(short, long)]
    pub yes: bool,
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
pub struct UnexportArgs {
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

#[derive(Debug, Args)]
pub struct ApplyArgs {
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
pub struct ManifestArgs {
    /// Boxes to write down [default: every box]
    #[arg(add = ArgValueCandidates::new(box_names))]
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
    /// Print JSON (the export findings; with --engine-only, the engine's checks)
    #[arg(long)]
    pub json: bool,
    /// Check only the engine: reachable, version, storage, cgroups, subordinate ids
    #[arg(long)]
    pub engine_only: bool,
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
