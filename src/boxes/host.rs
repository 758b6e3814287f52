//! Facts about the host that a box mirrors: the user, and which of the host's
//! paths and session variables exist to be shared.

use std::ffi::CStr;
use std::path::{Path, PathBuf};

/// The user a box mirrors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub group: String,
    pub home: PathBuf,
    pub shell: String,
    /// The supplementary groups of this process (`dialout`, `kvm`, `render`…).
    pub groups: Vec<u32>,
}

impl HostUser {
    /// The user running tent, from the password database (falling back to the
    /// environment where the database has no entry, as in some sandboxes).
    pub fn current() -> Self {
        let (uid, gid) = (rustix::process::getuid().as_raw(), rustix::process::getgid().as_raw());
        let env = |key: &str| std::env::var(key).ok().filter(|v| !v.is_empty());
        let (mut name, mut home, mut shell) = (None, None, None);
        // The password and group databases through libc: NSS (LDAP, sssd,
        // systemd-homed) is only reachable through the C library, and no small,
        // well-kept crate wraps it.
        // SAFETY: getpwuid returns a pointer into static storage or null; we copy
        // the strings out before any other call can overwrite it.
        unsafe {
            let pw = libc::getpwuid(uid);
            if !pw.is_null() {
                name = Some(CStr::from_ptr((*pw).pw_name).to_string_lossy().into_owned());
                home = Some(CStr::from_ptr((*pw).pw_dir).to_string_lossy().into_owned());
                shell = Some(CStr::from_ptr((*pw).pw_shell).to_string_lossy().into_owned());
            }
        }
        let mut group = None;
        // SAFETY: as above, for getgrgid.
        unsafe {
            let gr = libc::getgrgid(gid);
            if !gr.is_null() {
                group = Some(CStr::from_ptr((*gr).gr_name).to_string_lossy().into_owned());
            }
        }
        let name = name.or_else(|| env("USER")).unwrap_or_else(|| format!("user{uid}"));
        HostUser {
            group: group.unwrap_or_else(|| name.clone()),
            name,
            uid,
            gid,
            // $HOME wins: it is where the user's files are for this session.
            home: env("HOME").or(home).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/")),
            shell: shell.filter(|s| !s.is_empty()).or_else(|| env("SHELL")).unwrap_or_else(|| "/bin/sh".into()),
            groups: rustix::process::getgroups()
                .map(|gs| gs.into_iter().map(|g| g.as_raw()).filter(|g| *g != gid).collect())
                .unwrap_or_default(),
        }
    }
}

/// Session variables passed into every `enter`/`run` when set on the host:
/// display, sound, D-Bus, agents, locale and terminal.
pub const PASSTHROUGH_ENV: &[&str] = &[
    "TERM",
    "COLORTERM",
    "TERM_PROGRAM",
    "DISPLAY",
    "XAUTHORITY",
    "WAYLAND_DISPLAY",
    "XDG_RUNTIME_DIR",
    "XDG_SESSION_TYPE",
    "XDG_SESSION_DESKTOP",
    "XDG_CURRENT_DESKTOP",
    "XDG_SESSION_ID",
    "XDG_SEAT",
    "XDG_VTNR",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "XDG_CACHE_HOME",
    "DBUS_SESSION_BUS_ADDRESS",
    "SSH_AUTH_SOCK",
    "SSH_AGENT_PID",
    "GPG_AGENT_INFO",
    "PULSE_SERVER",
    "PIPEWIRE_REMOTE",
    "DESKTOP_SESSION",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_NUMERIC",
    "LC_TIME",
    "LC_COLLATE",
    "LC_MONETARY",
    "LC_MESSAGES",
    "LC_PAPER",
    "LC_NAME",
    "LC_ADDRESS",
    "LC_TELEPHONE",
    "LC_MEASUREMENT",
    "LC_IDENTIFICATION",
    "TZ",
    "EDITOR",
    "VISUAL",
    // The user's look: an explicit GTK theme, the cursor theme and size.
    "GTK_THEME",
    "XCURSOR_THEME",
    "XCURSOR_SIZE",
    // Startup notification: a launcher's token (X11, Wayland) must reach the
    // app in the box, which ends the launch feedback when its window maps.
    "DESKTOP_STARTUP_ID",
    "XDG_ACTIVATION_TOKEN",
    // Proxies: a box uses the host's network, so it needs the host's way out.
    "http_proxy",
    "https_proxy",
    "ftp_proxy",
    "all_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "FTP_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    // Input methods: typing CJK (or anything composed) in a box's apps.
    "XMODIFIERS",
    "GTK_IM_MODULE",
    "QT_IM_MODULE",
    "SDL_IM_MODULE",
];

/// The session variables for a command in the box whose state directory on
/// the host is `state_dir`: the set ones of [`PASSTHROUGH_ENV`] and of
/// `extra_names` (config `env.pass`), each once, with
/// `XAUTHORITY` pointing at the box's copy of the host's cookies (brought up
/// to date here: see [`super::xauth`]). Where no copy can be made, the host's
/// own value goes through.
pub fn session_env(state_dir: &Path, extra_names: &[String]) -> Vec<(String, String)> {
    let mut names: Vec<&str> = PASSTHROUGH_ENV.to_vec();
    for name in extra_names {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    let mut env: Vec<(String, String)> =
        names.iter().filter_map(|key| std::env::var(key).ok().map(|value| (key.to_string(), value))).collect();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let source = super::xauth::host_source(std::env::var_os("XAUTHORITY").as_deref(), home.as_deref());
    let copy = state_dir.join(super::xauth::COPY_NAME);
    if let Some(source) = source
        && super::xauth::sync(&source, &copy, &super::xauth::hostname()).is_ok()
    {
        let in_box = format!("{}/{}", super::scripts::STATE_IN_BOX, super::xauth::COPY_NAME);
        env.retain(|(k, _)| k != "XAUTHORITY");
        env.push(("XAUTHORITY".into(), in_box));
    }
    env
}

/// Host paths shared into every box when they exist (the home, /tmp and /dev
/// are always shared).
pub const OPTIONAL_SHARED_PATHS: &[&str] = &["/media", "/run/media", "/mnt", "/run/udev", "/var/lib/systemd/coredump"];

/// The few facts `enter` and `run` need about the user, from the process and
/// its environment when they are there: the password and group databases can
/// cost milliseconds (LDAP, SSSD) on a path that must add almost nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    pub shell: String,
}

impl ExecUser {
    pub fn current() -> Self {
        let env = |key: &str| std::env::var(key).ok().filter(|v| !v.is_empty());
        let (uid, gid) = (rustix::process::getuid().as_raw(), rustix::process::getgid().as_raw());
        match (env("USER"), env("HOME"), env("SHELL")) {
            (Some(name), Some(home), Some(shell)) => ExecUser { name, uid, gid, home: home.into(), shell },
            _ => {
                let user = HostUser::current();
                ExecUser { name: user.name, uid, gid, home: user.home, shell: user.shell }
            }
        }
    }
}

/// What the host offers a new box, read once.
#[derive(Debug, Clone)]
pub struct HostFacts {
    pub user: HostUser,
    pub runtime_dir: Option<PathBuf>,
    pub shared_paths: Vec<PathBuf>,
    /// The host's X authority file when it lies outside the shared paths.
    pub xauthority: Option<PathBuf>,
    /// Mount points of the host and whether each is a shared mount.
    pub mounts: Vec<(PathBuf, bool)>,
}

impl HostFacts {
    pub fn read() -> Self {
        let user = HostUser::current();
        let runtime_dir =
            std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).filter(|p| p.is_absolute() && p.is_dir());
        let shared_paths = OPTIONAL_SHARED_PATHS.iter().map(PathBuf::from).filter(|p| p.exists()).collect();
        let xauthority = std::env::var_os("XAUTHORITY")
            .map(PathBuf::from)
            .filter(|p| p.is_file() && !is_under_shared(p, &user.home, runtime_dir.as_deref()));
        let mounts = parse_mountinfo(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default());
        HostFacts { user, runtime_dir, shared_paths, xauthority, mounts }
    }

    /// Mount options for sharing a host path: `rslave` so later mounts under
    /// it (USB sticks, network shares) show up in the box. Docker refuses
    /// rslave when the path's mount is not shared, so it is only asked for
    /// where the host allows it.
    pub fn propagation(&self, path: &Path) -> &'static str {
        let shared = self
            .mounts
            .iter()
            .filter(|(point, _)| path.starts_with(point))
            .max_by_key(|(point, _)| point.as_os_str().len())
            .is_some_and(|(_, shared)| *shared);
        if shared { "rslave" } else { "" }
    }
}

/// Mount points and their "shared" flag from /proc/self/mountinfo.
pub fn parse_mountinfo(text: &str) -> Vec<(PathBuf, bool)> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let point = fields.nth(4)?;
            // Optional fields (shared:N, master:N …) come after the mount options, up to "-".
            let shared = fields.skip(1).take_while(|f| *f != "-").any(|f| f.starts_with("shared:"));
            Some((PathBuf::from(point.replace("\\040", " ")), shared))
        })
        .collect()
}

fn is_under_shared(path: &Path, home: &Path, runtime: Option<&Path>) -> bool {
    path.starts_with(home) || path.starts_with("/tmp") || runtime.is_some_and(|r| path.starts_with(r))
}

/// The image a new box gets when nothing else says: the host's own distro
/// where one exists for it, else Debian stable. Short names: the user's
/// registries configuration decides where they come from.
pub fn default_image_for(os_release: &str) -> String {
    let field = |key: &str| {
        os_release.lines().find_map(|line| {
            let value = line.strip_prefix(key)?.strip_prefix('=')?;
            Some(value.trim().trim_matches('"').to_string())
        })
    };
    let id = field("ID").unwrap_or_default();
    let version = field("VERSION_ID").unwrap_or_default();
    let like = field("ID_LIKE").unwrap_or_default();
    match id.as_str() {
        "fedora" if !version.is_empty() => format!("fedora:{version}"),
        "fedora" => "fedora:latest".into(),
        "ubuntu" if !version.is_empty() => format!("ubuntu:{version}"),
        "debian" => match field("VERSION_CODENAME") {
            Some(codename) if !codename.is_empty() => format!("debian:{codename}"),
            _ => "debian:stable".into(),
        },
        "arch" => "archlinux:latest".into(),
        "alpine" => "alpine:latest".into(),
        id if id.starts_with("opensuse") => "opensuse/tumbleweed:latest".into(),
        _ if like.contains("fedora") || like.contains("rhel") => "fedora:latest".into(),
        _ if like.contains("suse") => "opensuse/tumbleweed:latest".into(),
        _ if like.contains("ubuntu") => "ubuntu:latest".into(),
        _ => "debian:stable".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_images_follow_the_host() {
        assert_eq!(default_image_for("ID=fedora\nVERSION_ID=41\nVARIANT_ID=silverblue\n"), "fedora:41");
        assert_eq!(default_image_for("ID=\"opensuse-microos\"\n"), "opensuse/tumbleweed:latest");
        assert_eq!(default_image_for("ID=debian\nVERSION_CODENAME=bookworm\n"), "debian:bookworm");
        assert_eq!(default_image_for("ID=vanilla\nID_LIKE=\"debian ubuntu\"\n"), "ubuntu:latest");
        assert_eq!(default_image_for("ID=endless\nID_LIKE=debian\n"), "debian:stable");
        assert_eq!(default_image_for("ID=bluefin\nID_LIKE=\"fedora\"\n"), "fedora:latest");
        assert_eq!(default_image_for(""), "debian:stable");
    }

    #[test]
    fn propagation_follows_the_containing_mount() {
        let info = "22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw\n\
                    30 22 0:25 / /tmp rw,nosuid - tmpfs tmpfs rw\n\
                    31 22 0:26 / /home rw master:3 shared:7 - ext4 /dev/vdb rw\n";
        let mounts = parse_mountinfo(info);
        assert_eq!(mounts.len(), 3);
        let facts =
            HostFacts { user: HostUser::current(), runtime_dir: None, shared_paths: vec![], xauthority: None, mounts };
        assert_eq!(facts.propagation(Path::new("/media")), "rslave");
        assert_eq!(facts.propagation(Path::new("/tmp")), "");
        assert_eq!(facts.propagation(Path::new("/tmp/x")), "");
        assert_eq!(facts.propagation(Path::new("/home/alice")), "rslave");
    }

    #[test]
    fn current_user_is_sane() {
        let user = HostUser::current();
        assert!(!user.name.is_empty());
        assert!(user.home.is_absolute());
    }
}
