//! The container a box is: its create argv (mounts, labels, environment,
//! the init as entry point) and the in-box argv of tent-exec, built by pure
//! functions from plain data so every flag is unit-tested without an engine.

use std::path::{Path, PathBuf};

use super::nvidia::{self, Nvidia};
use super::{BoxSpec, HostFacts, labels, name::hostname_for};
use crate::engine::Engine;

pub use super::scripts::{EXEC_IN_BOX, INIT_IN_BOX, LIB_IN_BOX, STATE_IN_BOX};

/// The box's own terminfo first, then the host's.
pub const TERMINFO_DIRS: &str = "/etc/terminfo:/lib/terminfo:/usr/share/terminfo:/run/host/etc/terminfo:/run/host/lib/terminfo:/run/host/usr/share/terminfo";

/// The host's themes, icon and cursor themes, as tent-init links them in
/// the box (to `/run/host/usr/share/{themes,icons}`): a data directory of its
/// own rather than all of the host's /usr/share, whose menus, GSettings
/// schemas and MIME data would mix with the box's.
pub const HOST_SHARE_IN_BOX: &str = "/var/lib/tent/host-share";

/// The box's own data directories first (the XDG defaults), the host's last:
/// GTK finds themes in `$dir/themes` and icon themes in `$dir/icons` of each.
pub const XDG_DATA_DIRS: &str = "/usr/local/share:/usr/share:/var/lib/tent/host-share";

/// libXcursor's and wayland-cursor's default search path, then the host's
/// cursor themes: neither looks at XDG_DATA_DIRS.
pub const XCURSOR_PATH: &str =
    "~/.local/share/icons:~/.icons:/usr/share/icons:/usr/share/pixmaps:/var/lib/tent/host-share/icons";

/// Everything `create` needs, resolved on the host beforehand.
#[derive(Debug, Clone)]
pub struct CreatePlan<'a> {
    pub name: &'a str,
    pub spec: &'a BoxSpec,
    pub host: &'a HostFacts,
    /// Host directory holding this version's init scripts.
    pub lib_dir: &'a Path,
    pub lib_hash: &'a str,
    /// Host directory of this box's state.
    pub state_dir: &'a Path,
    /// The host's NVIDIA driver, found beforehand, with `--nvidia`.
    pub nvidia: Option<&'a Nvidia>,
    /// How the box reaches the host's relay; None when it cannot.
    pub host_link: Option<&'a HostLink>,
    /// The id of the image the box is made from, when known: its
    /// `tent.image-id` label.
    pub image_id: Option<&'a str>,
}

/// What tent-init needs for the box's `tent` and host-command shims
/// (docs/internals.md): the host's tent, the relay's socket, and the
/// commands that go to the host. Hints for the box's side only: the relay
/// decides from the engine's label whether the box may.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostLink {
    pub tent: PathBuf,
    pub relay: PathBuf,
    pub commands: Vec<String>,
}

impl HostLink {
    /// None when the session has no runtime dir or tent cannot tell its path.
    pub fn new(paths: &crate::paths::Paths, spec: &BoxSpec, configured: &[String]) -> Option<Self> {
        let relay = paths.relay_socket()?;
        let tent = std::env::current_exe().ok()?;
        Some(HostLink { tent, relay, commands: Self::commands(spec, configured) })
    }

    /// The shims a box gets: none with `--no-host`; no xdg-open with
    /// `--own-xdg-open`; only plain command names.
    pub fn commands(spec: &BoxSpec, configured: &[String]) -> Vec<String> {
        if spec.no_host {
            return Vec::new();
        }
        let mut out: Vec<String> = Vec::new();
        for c in configured {
            let plain = !c.is_empty()
                && c != "tent"
                && !c.starts_with('-')
                && c.bytes().all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b));
            if plain && !(spec.own_xdg_open && c == "xdg-open") && !out.contains(c) {
                out.push(c.clone());
            }
        }
        out
    }
}

impl CreatePlan<'_> {
    /// The user's home inside the box: their own, or the box's `--home`.
    pub fn home(&self) -> PathBuf {
        self.spec.home.clone().unwrap_or_else(|| self.host.user.home.clone())
    }
}

pub fn create(engine: &Engine, plan: &CreatePlan<'_>) -> Vec<String> {
    let user = &plan.host.user;
    let home = plan.home();
    let mut a: Vec<String> = vec!["create".into(), "--name".into(), plan.name.into()];

    flag(&mut a, "--hostname", plan.spec.hostname.clone().unwrap_or_else(|| hostname_for(plan.name)));
    // Feel like the host: its network, processes and IPC, unless the box
    // unshares them. Host networking is also what rootless podman needs where
    // slirp4netns is unavailable. An init box has its own PID namespace: the
    // image's init must be PID 1 (tent-init writes `pid.ns`, docs/internals.md).
    let unshare = &plan.spec.unshare;
    if !unshare.netns {
        flag(&mut a, "--network", "host".into());
    }
    if !unshare.process && !plan.spec.init {
        flag(&mut a, "--pid", "host".into());
    }
    if !unshare.ipc {
        flag(&mut a, "--ipc", "host".into());
    }
    if let Some(platform) = &plan.spec.platform {
        flag(&mut a, "--platform", platform.clone());
    }
    // The init needs root to create the user; commands run as the user at exec.
    flag(&mut a, "--user", "root:root".into());
    if engine.supports_keep_id() {
        flag(&mut a, "--userns", "keep-id".into());
    }
    // SELinux hosts (Fedora) would otherwise deny access to the shared home.
    flag(&mut a, "--security-opt", "label=disable".into());
    if engine.privileged_by_default() {
        a.push("--privileged".into());
    } else {
        // Docker: device access through the shared /dev without --privileged.
        if !unshare.devsys {
            flag(&mut a, "--device-cgroup-rule", "a *:* rwm".into());
        }
        flag(&mut a, "--security-opt", "apparmor=unconfined".into());
        flag(&mut a, "--security-opt", "seccomp=unconfined".into());
    }

    if engine.is_podman() && !unshare.groups {
        // crun keeps the user's host groups on the box's processes (Distrobox
        // does the same); other runtimes ignore the annotation.
        flag(&mut a, "--annotation", "run.oci.keep_original_groups=1".into());
    }
    if !engine.is_podman() && !unshare.groups {
        // Docker: the user's host groups by number (no user namespace, so
        // they mean the same in the box); `docker exec --user` adds them.
        for gid in &user.groups {
            flag(&mut a, "--group-add", gid.to_string());
        }
    }
    if plan.spec.init {
        init_flags(engine, &mut a);
    }

    flag(&mut a, "--label", format!("{}={}", labels::FORMAT, labels::FORMAT_VERSION));
    flag(&mut a, "--label", format!("{}={}", labels::SPEC, plan.spec.to_label()));
    flag(&mut a, "--label", format!("{}={}", labels::LIB, plan.lib_hash));
    flag(&mut a, "--label", format!("{}={}", labels::VERSION, env!("CARGO_PKG_VERSION")));
    flag(&mut a, "--label", format!("{}={}", labels::UID, user.uid));
    flag(&mut a, "--label", format!("{}={}", labels::MADE, made()));
    if let Some(label) = image_id_label(plan.image_id) {
        flag(&mut a, "--label", label);
    }
    if engine.is_podman() {
        // Ptyxis lists podman containers only (docs/terminals.md).
        flag(&mut a, "--label", format!("{}={}", labels::TOOLBX, labels::TOOLBX_VALUE));
    }

    let vol = |src: &Path, dst: &Path, opts: &str| {
        let mut v = format!("{}:{}", src.display(), dst.display());
        if !opts.is_empty() {
            v.push(':');
            v.push_str(opts);
        }
        v
    };
    flag(&mut a, "--volume", vol(plan.lib_dir, Path::new(LIB_IN_BOX), "ro"));
    flag(&mut a, "--volume", vol(plan.state_dir, Path::new(STATE_IN_BOX), ""));
    let host = plan.host;
    let shared = |path: &Path| vol(path, path, host.propagation(path));
    let root_opts = if host.propagation(Path::new("/")).is_empty() { "ro" } else { "ro,rslave" };
    flag(&mut a, "--volume", vol(Path::new("/"), Path::new("/run/host"), root_opts));
    if !unshare.devsys {
        flag(&mut a, "--volume", shared(Path::new("/dev")));
    }
    flag(&mut a, "--volume", shared(Path::new("/tmp")));
    if plan.spec.home.is_none() || plan.spec.mount_home {
        flag(&mut a, "--volume", shared(&user.home));
    }
    if let Some(own) = &plan.spec.home {
        flag(&mut a, "--volume", shared(own));
    }
    if let Some(runtime) = &host.runtime_dir {
        flag(&mut a, "--volume", shared(runtime));
    }
    for path in &host.shared_paths {
        flag(&mut a, "--volume", shared(path));
    }
    if let Some(xauth) = &host.xauthority {
        flag(&mut a, "--volume", vol(xauth, xauth, "ro"));
    }
    for volume in &plan.spec.volumes {
        flag(&mut a, "--volume", volume.clone());
    }
    if let Some(found) = plan.nvidia.filter(|_| plan.spec.nvidia) {
        if found.cdi && engine.is_podman() {
            flag(&mut a, "--device", "nvidia.com/gpu=all".into());
        } else {
            for (src, dst) in &found.binds {
                flag(&mut a, "--volume", vol(src, dst, "ro"));
            }
            // With the host's /dev shared the nodes are there already; a box
            // with its own /dev gets them as devices.
            if unshare.devsys {
                for dev in &found.devices {
                    flag(&mut a, "--device", dev.display().to_string());
                }
            }
        }
    }

    let env = [
        ("TENT_BOX", plan.name.to_string()),
        ("TENT_USER", user.name.clone()),
        ("TENT_UID", user.uid.to_string()),
        ("TENT_GID", user.gid.to_string()),
        ("TENT_GROUP", user.group.clone()),
        ("TENT_HOME", home.display().to_string()),
        ("TENT_SHELL", user.shell.clone()),
        ("TENT_PACKAGES", plan.spec.packages.join(" ")),
        ("TENT_INIT", if plan.spec.init { "1" } else { "" }.into()),
        ("TENT_NVIDIA_LIB", if plan.spec.nvidia { nvidia::LIB_IN_BOX } else { "" }.into()),
        ("TENT_IDLE", plan.spec.stop_when_idle.map(|s| s.to_string()).unwrap_or_default()),
        // Docker's init (root without CAP_SYS_PTRACE) cannot read the user's
        // namespaces; `docker exec` puts every command in the box's cgroup.
        ("TENT_IDLE_BY", if engine.is_podman() { "mnt" } else { "cgroup" }.into()),
        // The host terminal's terminfo (kitty, foot, alacritty …) is often
        // missing in the box: fall back to the host's database.
        ("TERMINFO_DIRS", TERMINFO_DIRS.into()),
        ("XDG_DATA_DIRS", XDG_DATA_DIRS.into()),
        ("XCURSOR_PATH", XCURSOR_PATH.into()),
    ];
    for (key, value) in env {
        flag(&mut a, "--env", format!("{key}={value}"));
    }
    if let Some(link) = plan.host_link {
        flag(&mut a, "--env", format!("TENT_HOST_TENT={}", link.tent.display()));
        flag(&mut a, "--env", format!("{}={}", crate::env_vars::TENT_RELAY, link.relay.display()));
        flag(&mut a, "--env", format!("TENT_HOST_COMMANDS={}", link.commands.join(" ")));
    }
    for (key, value) in &plan.spec.env {
        flag(&mut a, "--env", format!("{key}={value}"));
    }
    if !plan.spec.attach_hooks.is_empty() {
        // Read by tent-exec, as the user, at `tent enter` (TENT_ATTACH=1).
        let script = super::scripts::hook_script(&plan.spec.attach_hooks);
        flag(&mut a, "--env", format!("{ATTACH_HOOK_ENV}={script}"));
    }
    // A rootful box's root is the host's root: it takes nothing to run from
    // the user's writable directories (docs/security.md).
    let rootful = engine.rootful();
    for (key, value) in rootful_env(plan.spec, rootful) {
        flag(&mut a, "--env", format!("{key}={value}"));
    }

    // Checked by engine_args::check before: words as given, never a shell.
    a.extend(plan.spec.engine_args.iter().cloned());

    flag(&mut a, "--entrypoint", "/bin/sh".into());
    a.push(plan.spec.image.clone());
    if rootful {
        // The init script itself, not a path into the user's data directory:
        // it is kept in the container's configuration, which only root can change.
        a.extend(["-c".into(), super::scripts::INIT_SCRIPT.into(), "tent-init".into()]);
    } else {
        a.push(INIT_IN_BOX.into());
    }
    a
}

/// What the image's init (systemd) needs as PID 1: podman's systemd mode
/// (tmpfs /run, /run/lock, /tmp unless mounted, writable cgroups, the stop
/// signal), or its flags spelled out for Docker, as Distrobox does.
pub(super) fn init_flags(engine: &Engine, a: &mut Vec<String>) {
    if engine.is_podman() {
        flag(a, "--systemd", "always".into());
    } else {
        flag(a, "--cgroupns", "host".into());
        flag(a, "--volume", "/sys/fs/cgroup:/sys/fs/cgroup:rw".into());
        flag(a, "--tmpfs", "/run".into());
        flag(a, "--tmpfs", "/run/lock".into());
        flag(a, "--tmpfs", "/var/lib/journal".into());
    }
    // systemd halts cleanly on SIGRTMIN+3 (`tent stop`).
    flag(a, "--stop-signal", "SIGRTMIN+3".into());
    flag(a, "--env", "container=".to_string() + engine.name());
}

/// The create argv of the box `plan.name`, but as container `container`
/// from `image` (a snapshot): the spec label, environment and host name stay
/// the box's, so after a rename it is the same box on another system.
pub fn create_as(engine: &Engine, plan: &CreatePlan<'_>, container: &str, image: &str) -> Vec<String> {
    let mut a = create(engine, plan);
    debug_assert_eq!(a[1], "--name");
    a[2] = container.into();
    // The image follows tent's own `--entrypoint /bin/sh`, the last one
    // (engine arguments may not name an entry point: engine_args::check).
    let at = a.iter().rposition(|w| w == "--entrypoint").expect("create names the entry point") + 2;
    a[at] = image.into();
    a
}

/// The `tent.made` label's value: the time and pid of this create, unique to
/// the container.
pub(super) fn made() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:09}.{}", now.as_secs(), now.subsec_nanos(), std::process::id())
}

/// The `tent.image-id` label for a box made from the image of that id
/// (`engine::json::vouches_for_itself`); none for an id that is not one.
pub(super) fn image_id_label(image_id: Option<&str>) -> Option<String> {
    image_id.filter(|id| crate::text::is_sha256_hex(id)).map(|id| format!("{}={id}", labels::IMAGE_ID))
}

fn flag(argv: &mut Vec<String>, name: &str, value: String) {
    argv.push(name.into());
    argv.push(value);
}

/// How a command runs in a box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecMode {
    /// The user's login shell.
    Shell,
    /// A command; arguments that are not UTF-8 are encoded for tent-exec.
    Command(Vec<std::ffi::OsString>),
}

/// The container's variable holding the attach hooks (`BoxSpec::attach_hooks`).
pub const ATTACH_HOOK_ENV: &str = "TENT_HOOK_ATTACH";
/// Set by `tent enter` in the exec's environment: tent-exec runs the attach
/// hooks first.
pub const ATTACH_ENV: &str = "TENT_ATTACH";

/// The in-box argv that runs `mode` through tent-exec in `cwd`.
/// What a rootful box's init is told: that it is rootful (no file in the
/// state directory is followed or run), its hooks, and whether sudo in it asks
/// for a password (a plain user's box through sudo, unless made with
/// --sudo-nopasswd).
pub fn rootful_env(spec: &BoxSpec, rootful: bool) -> Vec<(&'static str, String)> {
    if !rootful {
        return Vec::new();
    }
    let mut env = vec![("TENT_ROOTFUL", "1".to_string())];
    if spec.root && !spec.sudo_nopasswd {
        env.push(("TENT_SUDO_PASSWORD", "1".into()));
    }
    if !spec.pre_init_hooks.is_empty() {
        env.push(("TENT_HOOK_PRE_INIT", super::scripts::hook_script(&spec.pre_init_hooks)));
    }
    if !spec.init_hooks.is_empty() {
        env.push(("TENT_HOOK_INIT", super::scripts::hook_script(&spec.init_hooks)));
    }
    if !spec.start_hooks.is_empty() {
        env.push(("TENT_HOOK_START", super::scripts::hook_script(&spec.start_hooks)));
    }
    env
}

/// The in-box argv that runs one of tent's scripts as root in a rootful box:
/// the script itself (`sh -c SCRIPT NAME ARGS...`), this build's, never the
/// copy in the lib directory, which is the user's and which the user and
/// every box can rewrite between tent's check and the engine's exec
/// (docs/security.md).
pub fn inline_script(script: &str, name: &str, args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut a: Vec<String> = vec!["/bin/sh".into(), "-c".into(), script.into(), name.into()];
    a.extend(args);
    a
}

/// `exec_command` for root in a rootful box (`tent run --as-root`): tent-exec inline.
pub fn exec_command_as_root(mode: &ExecMode, cwd: &Path) -> Vec<String> {
    let argv = exec_command(mode, cwd);
    debug_assert_eq!(&argv[..2], &["/bin/sh", EXEC_IN_BOX]);
    inline_script(super::scripts::EXEC_SCRIPT, "tent-exec", argv.into_iter().skip(2))
}

/// `tent-init ARGS...` (install, upgrade) for root in the box: inline in a
/// rootful box, from the lib where root in the box is not the host's.
pub fn init_command(rootful: bool, args: &[&str]) -> Vec<String> {
    let args = args.iter().map(|a| a.to_string());
    if rootful {
        inline_script(super::scripts::INIT_SCRIPT, "tent-init", args)
    } else {
        let mut a: Vec<String> = vec!["/bin/sh".into(), INIT_IN_BOX.into()];
        a.extend(args);
        a
    }
}

pub fn exec_command(mode: &ExecMode, cwd: &Path) -> Vec<String> {
    let mut a: Vec<String> = vec!["/bin/sh".into(), EXEC_IN_BOX.into()];
    match mode {
        ExecMode::Shell => {
            a.push("shell".into());
            a.push(cwd.display().to_string());
        }
        ExecMode::Command(args) => {
            let utf8: Option<Vec<&str>> = args.iter().map(|s| s.to_str()).collect();
            match utf8 {
                Some(words) if cwd.to_str().is_some() => {
                    a.push("cmd".into());
                    a.push(cwd.display().to_string());
                    a.extend(words.into_iter().map(str::to_string));
                }
                _ => {
                    use std::os::unix::ffi::OsStrExt;
                    a.push("enc".into());
                    a.push(encode_arg(cwd.as_os_str().as_bytes()));
                    a.extend(args.iter().map(|s| encode_arg(s.as_bytes())));
                }
            }
        }
    }
    a
}

/// The argv that runs `mode` through tent-exec in `cwd` once tent has joined
/// the box: no engine carries it, so every byte passes as it is (`cmd` mode).
pub fn join_command(mode: &ExecMode, cwd: &Path) -> Vec<std::ffi::OsString> {
    let mut a: Vec<std::ffi::OsString> = vec!["/bin/sh".into(), EXEC_IN_BOX.into()];
    a.push(if matches!(mode, ExecMode::Shell) { "shell" } else { "cmd" }.into());
    a.push(cwd.as_os_str().to_owned());
    if let ExecMode::Command(args) = mode {
        a.extend(args.iter().cloned());
    }
    a
}

/// Encodes bytes as a `printf %b` string: printable ASCII as itself, every
/// other byte (and the backslash) as `\0NNN`. The engines carry argv as JSON
/// and would turn bytes that are not UTF-8 into U+FFFD.
pub fn encode_arg(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'\\' {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\0{b:03o}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    use super::*;
    use crate::boxes::HostUser;
    use crate::engine::{Engine, EngineKind};

    fn engine(kind: EngineKind, rootless: bool) -> Engine {
        Engine::plain(kind, rootless)
    }

    fn facts() -> HostFacts {
        HostFacts {
            user: HostUser {
                name: "alice".into(),
                uid: 1000,
                gid: 1000,
                group: "alice".into(),
                home: "/home/alice".into(),
                shell: "/bin/zsh".into(),
                groups: vec![20, 27],
            },
            runtime_dir: Some("/run/user/1000".into()),
            shared_paths: vec!["/media".into()],
            xauthority: None,
            mounts: vec![("/".into(), true), ("/tmp".into(), false)],
        }
    }

    fn small_plan<'a>(spec: &'a BoxSpec, host: &'a HostFacts) -> CreatePlan<'a> {
        CreatePlan {
            name: "d",
            spec,
            host,
            lib_dir: Path::new("/l"),
            lib_hash: "h",
            state_dir: Path::new("/s"),
            nvidia: None,
            host_link: None,
            image_id: None,
        }
    }

    #[test]
    fn host_commands_follow_the_box_settings() {
        let list: Vec<String> = ["xdg-open", "flatpak", "tent", "../x", "-rf", "flatpak"].map(String::from).to_vec();
        let spec = BoxSpec::default();
        assert_eq!(HostLink::commands(&spec, &list), ["xdg-open", "flatpak"]);
        let own = BoxSpec { own_xdg_open: true, ..Default::default() };
        assert_eq!(HostLink::commands(&own, &list), ["flatpak"]);
        let none = BoxSpec { no_host: true, ..Default::default() };
        assert!(HostLink::commands(&none, &list).is_empty());
    }

    fn has_pair(argv: &[String], flag: &str, value: &str) -> bool {
        argv.windows(2).any(|w| w[0] == flag && w[1] == value)
    }

    #[test]
    fn rootless_podman_create() {
        let spec = BoxSpec { image: "debian:bookworm".into(), packages: vec!["git".into()], ..Default::default() };
        let host = facts();
        let plan = CreatePlan {
            name: "dev",
            spec: &spec,
            host: &host,
            lib_dir: Path::new("/home/alice/.local/share/tent/lib/abc"),
            lib_hash: "abc",
            state_dir: Path::new("/home/alice/.local/state/tent/boxes/podman/dev"),
            nvidia: None,
            host_link: None,
            image_id: None,
        };
        let argv = create(&engine(EngineKind::Podman, true), &plan);
        assert!(!argv.iter().any(|w| w.starts_with("tent.image-id")), "no id known, no label");
        let id = "3".repeat(64);
        let with_id = create(&engine(EngineKind::Podman, true), &CreatePlan { image_id: Some(&id), ..plan });
        assert!(has_pair(&with_id, "--label", &format!("tent.image-id={id}")));
        let not_an_id = create(&engine(EngineKind::Podman, true), &CreatePlan { image_id: Some("x y"), ..plan });
        assert!(!not_an_id.iter().any(|w| w.starts_with("tent.image-id")));
        assert_eq!(&argv[..3], &["create", "--name", "dev"]);
        assert!(has_pair(&argv, "--userns", "keep-id"));
        assert!(argv.contains(&"--privileged".to_string()));
        assert!(has_pair(&argv, "--network", "host"));
        assert!(has_pair(&argv, "--pid", "host"));
        assert!(has_pair(&argv, "--hostname", "dev"));
        assert!(has_pair(&argv, "--volume", "/home/alice:/home/alice:rslave"));
        assert!(has_pair(&argv, "--volume", "/tmp:/tmp"), "a private mount gets no rslave");
        assert!(has_pair(&argv, "--volume", "/run/user/1000:/run/user/1000:rslave"));
        assert!(has_pair(&argv, "--volume", "/home/alice/.local/share/tent/lib/abc:/run/.tent/lib:ro"));
        assert!(has_pair(&argv, "--volume", "/:/run/host:ro,rslave"));
        assert!(has_pair(&argv, "--volume", "/media:/media:rslave"));
        assert!(has_pair(&argv, "--env", "TENT_PACKAGES=git"));
        assert!(has_pair(&argv, "--env", "TENT_SHELL=/bin/zsh"));
        assert!(has_pair(&argv, "--env", "XDG_DATA_DIRS=/usr/local/share:/usr/share:/var/lib/tent/host-share"));
        assert!(XDG_DATA_DIRS.ends_with(HOST_SHARE_IN_BOX) && XCURSOR_PATH.contains(HOST_SHARE_IN_BOX));
        assert!(has_pair(&argv, "--label", "tent.format=1"));
        assert!(has_pair(&argv, "--label", r#"tent.spec={"image":"debian:bookworm","packages":["git"]}"#));
        // Ptyxis's Toolbx route, with a value `toolbox list` (`=true`) skips.
        assert!(has_pair(&argv, "--label", "com.github.containers.toolbox=tent"));
        assert!(has_pair(&argv, "--entrypoint", "/bin/sh"));
        assert_eq!(&argv[argv.len() - 2..], &["debian:bookworm", INIT_IN_BOX]);
    }

    #[test]
    fn attach_hooks_ride_in_the_containers_environment() {
        let host = facts();
        let spec = BoxSpec { image: "img".into(), attach_hooks: vec!["echo hi".into()], ..Default::default() };
        for rootless in [true, false] {
            let argv = create(&engine(EngineKind::Podman, rootless), &small_plan(&spec, &host));
            assert!(has_pair(&argv, "--env", "TENT_HOOK_ATTACH=set -e\necho hi\n"), "{argv:?}");
        }
        let none = BoxSpec { image: "img".into(), ..Default::default() };
        let argv = create(&engine(EngineKind::Podman, true), &small_plan(&none, &host));
        assert!(!argv.iter().any(|a| a.starts_with("TENT_HOOK_ATTACH")));
    }

    #[test]
    fn rootful_boxes_take_nothing_to_run_from_the_users_files() {
        let spec =
            BoxSpec { image: "img".into(), root: true, start_hooks: vec!["echo hi".into()], ..Default::default() };
        let host = facts();
        let argv = create(&engine(EngineKind::Podman, false), &small_plan(&spec, &host));
        assert_eq!(&argv[argv.len() - 4..argv.len() - 2], &["img", "-c"]);
        assert_eq!(argv[argv.len() - 2], crate::boxes::scripts::INIT_SCRIPT, "the init comes inline");
        assert!(has_pair(&argv, "--env", "TENT_ROOTFUL=1"));
        assert!(has_pair(&argv, "--env", "TENT_SUDO_PASSWORD=1"), "a plain user's rootful box: sudo asks");
        assert!(has_pair(&argv, "--env", "TENT_HOOK_START=set -e\necho hi\n"));
        let opted_out = BoxSpec { sudo_nopasswd: true, ..spec.clone() };
        assert!(!rootful_env(&opted_out, true).iter().any(|(k, _)| *k == "TENT_SUDO_PASSWORD"));
        // Rootless: the init from the lib; no rootful settings at all.
        assert!(rootful_env(&spec, false).is_empty());
        let argv = create(&engine(EngineKind::Podman, true), &small_plan(&spec, &host));
        assert_eq!(argv.last().map(String::as_str), Some(INIT_IN_BOX));
    }

    #[test]
    fn docker_create_has_no_keep_id_and_no_privileged() {
        let spec = BoxSpec { image: "img".into(), ..Default::default() };
        let host = facts();
        let plan = small_plan(&spec, &host);
        let argv = create(&engine(EngineKind::Docker, false), &plan);
        assert!(!argv.iter().any(|a| a == "--userns" || a == "--privileged"));
        assert!(has_pair(&argv, "--device-cgroup-rule", "a *:* rwm"));
        assert!(has_pair(&argv, "--group-add", "20") && has_pair(&argv, "--group-add", "27"), "the host groups");
    }

    #[test]
    fn own_home_replaces_the_real_one_unless_asked() {
        let mut env = BTreeMap::new();
        env.insert("EDITOR".to_string(), "vim".to_string());
        let spec = BoxSpec { image: "img".into(), home: Some("/data/devhome".into()), env, ..Default::default() };
        let host = facts();
        let plan = small_plan(&spec, &host);
        let argv = create(&engine(EngineKind::Podman, false), &plan);
        assert!(!has_pair(&argv, "--volume", "/home/alice:/home/alice:rslave"));
        assert!(has_pair(&argv, "--volume", "/data/devhome:/data/devhome:rslave"));
        assert!(has_pair(&argv, "--env", "TENT_HOME=/data/devhome"));
        assert!(has_pair(&argv, "--env", "EDITOR=vim"));
        assert!(!argv.iter().any(|a| a == "--userns"), "rootful podman has no keep-id");

        let spec2 = BoxSpec { mount_home: true, ..spec.clone() };
        let plan = CreatePlan { spec: &spec2, ..plan };
        let argv = create(&engine(EngineKind::Podman, false), &plan);
        assert!(has_pair(&argv, "--volume", "/home/alice:/home/alice:rslave"));
    }

    #[test]
    fn unshare_drops_the_host_namespaces_and_mounts() {
        let host = facts();
        let base = BoxSpec { image: "img".into(), ..Default::default() };
        let plan = small_plan(&base, &host);
        let argv = create(&engine(EngineKind::Podman, true), &plan);
        assert!(has_pair(&argv, "--annotation", "run.oci.keep_original_groups=1"));
        assert!(has_pair(&argv, "--volume", "/dev:/dev:rslave"));
        assert!(!argv.iter().any(|a| a == "--systemd" || a == "--platform"));

        let mut spec = base.clone();
        spec.unshare = crate::boxes::spec::Unshare::all();
        let plan = small_plan(&spec, &host);
        for kind in [EngineKind::Podman, EngineKind::Docker] {
            let argv = create(&engine(kind, false), &plan);
            for gone in ["--network", "--pid", "--ipc", "--annotation", "--device-cgroup-rule"] {
                assert!(!argv.iter().any(|a| a == gone), "{kind:?} {gone}: {argv:?}");
            }
            assert!(!argv.iter().any(|a| a.starts_with("/dev:/dev")));
            assert!(has_pair(&argv, "--volume", "/home/alice:/home/alice:rslave"), "the home stays shared");
        }
        spec.unshare = Default::default();
        spec.unshare.netns = true;
        let plan = small_plan(&spec, &host);
        let argv = create(&engine(EngineKind::Podman, true), &plan);
        assert!(!argv.iter().any(|a| a == "--network"));
        assert!(has_pair(&argv, "--pid", "host") && has_pair(&argv, "--ipc", "host"));
    }

    #[test]
    fn init_gives_systemd_its_own_pid_namespace() {
        let host = facts();
        let spec = BoxSpec { image: "img".into(), init: true, ..Default::default() };
        let plan = small_plan(&spec, &host);
        let argv = create(&engine(EngineKind::Podman, false), &plan);
        assert!(!argv.iter().any(|a| a == "--pid"));
        assert!(has_pair(&argv, "--systemd", "always"));
        assert!(has_pair(&argv, "--stop-signal", "SIGRTMIN+3"));
        assert!(has_pair(&argv, "--env", "TENT_INIT=1"));
        assert!(has_pair(&argv, "--network", "host"), "only the PID namespace is its own");
        let argv = create(&engine(EngineKind::Docker, false), &plan);
        assert!(has_pair(&argv, "--cgroupns", "host") && has_pair(&argv, "--tmpfs", "/run"));
        assert!(has_pair(&argv, "--env", "container=docker"));
        assert!(!argv.iter().any(|a| a.starts_with("com.github.containers.toolbox")), "Ptyxis lists podman's only");
    }

    #[test]
    fn engine_args_platform_and_nvidia_binds() {
        let host = facts();
        let mut spec = BoxSpec { image: "img".into(), nvidia: true, ..Default::default() };
        spec.engine_args = vec!["--env=X=1".into(), "--cap-add".into(), "SYS_PTRACE".into()];
        spec.platform = Some("linux/arm64".into());
        let found = Nvidia {
            cdi: false,
            binds: vec![("/r/usr/lib/libcuda.so.1".into(), "/usr/lib/tent-nvidia/libcuda.so.1".into())],
            devices: vec!["/r/dev/nvidia0".into()],
        };
        let plan = CreatePlan { nvidia: Some(&found), ..small_plan(&spec, &host) };
        let argv = create(&engine(EngineKind::Podman, false), &plan);
        assert!(has_pair(&argv, "--platform", "linux/arm64"));
        assert!(has_pair(&argv, "--volume", "/r/usr/lib/libcuda.so.1:/usr/lib/tent-nvidia/libcuda.so.1:ro"));
        assert!(has_pair(&argv, "--env", "TENT_NVIDIA_LIB=/usr/lib/tent-nvidia"));
        assert!(!argv.iter().any(|a| a == "--device"), "the shared /dev has the nodes");
        let at = argv.iter().position(|a| a == "--env=X=1").unwrap();
        assert_eq!(&argv[at..at + 5], &["--env=X=1", "--cap-add", "SYS_PTRACE", "--entrypoint", "/bin/sh"]);

        let cdi = Nvidia { cdi: true, ..found.clone() };
        let plan = CreatePlan { nvidia: Some(&cdi), ..small_plan(&spec, &host) };
        let argv = create(&engine(EngineKind::Podman, false), &plan);
        assert!(has_pair(&argv, "--device", "nvidia.com/gpu=all"));
        assert!(!argv.iter().any(|a| a.contains("libcuda")));
    }

    #[test]
    fn exec_shell_and_command() {
        let cwd = Path::new("/home/alice/src");
        assert_eq!(exec_command(&ExecMode::Shell, cwd), vec!["/bin/sh", EXEC_IN_BOX, "shell", "/home/alice/src"]);
        let mode = ExecMode::Command(vec!["make".into(), "a b".into(), String::new().into()]);
        let argv = exec_command(&mode, cwd);
        assert_eq!(&argv[argv.len() - 5..], &["cmd", "/home/alice/src", "make", "a b", ""]);
    }

    #[test]
    fn root_in_a_rootful_box_runs_tents_scripts_inline() {
        let mode = ExecMode::Command(vec!["id".into(), "-u".into()]);
        let argv = exec_command_as_root(&mode, Path::new("/root"));
        assert_eq!(&argv[..4], &["/bin/sh", "-c", crate::boxes::scripts::EXEC_SCRIPT, "tent-exec"]);
        assert_eq!(&argv[4..], &["cmd", "/root", "id", "-u"]);
        assert!(!argv.iter().any(|a| a == EXEC_IN_BOX), "nothing from the lib directory");
        let shell = exec_command_as_root(&ExecMode::Shell, Path::new("/"));
        assert_eq!(&shell[3..], &["tent-exec", "shell", "/"]);

        let install = init_command(true, &["install", "git"]);
        assert_eq!(&install[..4], &["/bin/sh", "-c", crate::boxes::scripts::INIT_SCRIPT, "tent-init"]);
        assert_eq!(&install[4..], &["install", "git"]);
        assert_eq!(init_command(false, &["install", "git"]), ["/bin/sh", INIT_IN_BOX, "install", "git"]);
    }

    #[test]
    fn exec_encodes_non_utf8_arguments() {
        let bad = OsString::from_vec(vec![b'a', 0xff, b'\\', b'\n']);
        let argv = exec_command(&ExecMode::Command(vec!["printf".into(), bad]), Path::new("/tmp"));
        assert_eq!(&argv[argv.len() - 4..], &["enc", "/tmp", "printf", r"a\0377\0134\0012"]);
    }

    #[test]
    fn join_command_passes_bytes_as_they_are() {
        let bad = OsString::from_vec(vec![b'a', 0xff]);
        let cwd = OsString::from_vec(vec![b'/', b't', 0xfe]);
        let argv = join_command(&ExecMode::Command(vec!["printf".into(), bad.clone()]), Path::new(&cwd));
        let want: Vec<OsString> =
            vec!["/bin/sh".into(), EXEC_IN_BOX.into(), "cmd".into(), cwd.clone(), "printf".into(), bad];
        assert_eq!(argv, want);
        let argv = join_command(&ExecMode::Shell, Path::new("/home/a"));
        let want: Vec<OsString> = vec!["/bin/sh".into(), EXEC_IN_BOX.into(), "shell".into(), "/home/a".into()];
        assert_eq!(argv, want);
    }

    #[test]
    fn encode_arg_keeps_printable_ascii() {
        assert_eq!(encode_arg(b"it's $HOME *"), "it's $HOME *");
        assert_eq!(encode_arg("é".as_bytes()), r"\0303\0251");
        assert_eq!(encode_arg(b""), "");
    }

    #[test]
    fn create_as_swaps_only_the_name_and_image() {
        let spec = BoxSpec { image: "debian:bookworm".into(), ..Default::default() };
        let host = facts();
        let plan = CreatePlan { name: "dev", ..small_plan(&spec, &host) };
        let e = engine(EngineKind::Podman, true);
        let argv = create_as(&e, &plan, "dev-tent-new-1", "localhost/tent-snapshot/podman/dev:s1");
        let plain = create(&e, &plan);
        assert_eq!(&argv[..3], &["create", "--name", "dev-tent-new-1"]);
        assert_eq!(&argv[argv.len() - 2..], &["localhost/tent-snapshot/podman/dev:s1", INIT_IN_BOX]);
        assert!(has_pair(&argv, "--hostname", "dev"));
        assert!(has_pair(&argv, "--env", "TENT_BOX=dev"));
        assert!(has_pair(&argv, "--label", r#"tent.spec={"image":"debian:bookworm"}"#), "the spec keeps its image");
        assert_eq!(argv.len(), plain.len());
    }
}
