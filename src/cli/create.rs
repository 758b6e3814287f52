//! Making boxes: `tent create`, `tent distros`, `tent ephemeral`, `tent clone`,
//! `tent adopt` (a Distrobox or Toolbx container taken over).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Args;
use clap_complete::ArgValueCandidates;

use crate::commands::complete::box_names;

#[derive(Debug, Args)]
pub(crate) struct DistrosArgs {
    /// Print JSON: one object per distribution (docs/json.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub(crate) struct CreateArgs {
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
pub(crate) struct EphemeralArgs {
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
pub(crate) struct CloneArgs {
    /// The box to copy
    #[arg(add = ArgValueCandidates::new(box_names))]
    pub source: String,
    /// The new box
    pub destination: String,
}

#[derive(Debug, Args)]
pub(crate) struct AdoptArgs {
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
