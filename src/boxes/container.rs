//! The container a box is: its create argv (mounts, labels, environment,
//! the init as entry point) and the in-box argv of tent-exec, built by pure
//! functions from plain data so every flag is unit-tested without an engine.

use std::path::{Path, PathBuf};

use super::{BoxSpec, HostFacts, labels, name::hostname_for};
use crate::engine::Engine;

/// Where the box's scripts live inside it (docs/internals.md).
pub const LIB_IN_BOX: &str = "/run/.tent/lib";
pub const STATE_IN_BOX: &str = "/run/.tent/state";
pub const INIT_IN_BOX: &str = "/run/.tent/lib/tent-init";
pub const EXEC_IN_BOX: &str = "/run/.tent/lib/tent-exec";

/// The box's own terminfo first, then the host's.
pub const TERMINFO_DIRS: &str = "/etc/terminfo:/lib/terminfo:/usr/share/terminfo:/run/host/etc/terminfo:/run/host/lib/terminfo:/run/host/usr/share/terminfo";

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
    // Feel like the host: its network, processes and IPC. Host networking is
    // also what rootless podman needs where slirp4netns is unavailable.
    flag(&mut a, "--network", "host".into());
    flag(&mut a, "--pid", "host".into());
    flag(&mut a, "--ipc", "host".into());
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
        flag(&mut a, "--device-cgroup-rule", "a *:* rwm".into());
        flag(&mut a, "--security-opt", "apparmor=unconfined".into());
        flag(&mut a, "--security-opt", "seccomp=unconfined".into());
    }

    flag(&mut a, "--label", format!("{}={}", labels::FORMAT, labels::FORMAT_VERSION));
    flag(&mut a, "--label", format!("{}={}", labels::SPEC, plan.spec.to_label()));
    flag(&mut a, "--label", format!("{}={}", labels::LIB, plan.lib_hash));
    flag(&mut a, "--label", format!("{}={}", labels::VERSION, env!("CARGO_PKG_VERSION")));
    flag(&mut a, "--label", format!("{}={}", labels::UID, user.uid));

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
    flag(&mut a, "--volume", shared(Path::new("/dev")));
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

    let env = [
        ("TENT_BOX", plan.name.to_string()),
        ("TENT_USER", user.name.clone()),
        ("TENT_UID", user.uid.to_string()),
        ("TENT_GID", user.gid.to_string()),
        ("TENT_GROUP", user.group.clone()),
        ("TENT_HOME", home.display().to_string()),
        ("TENT_SHELL", user.shell.clone()),
        ("TENT_PACKAGES", plan.spec.packages.join(" ")),
        // The host terminal's terminfo (kitty, foot, alacritty …) is often
        // missing in the box: fall back to the host's database.
        ("TERMINFO_DIRS", TERMINFO_DIRS.into()),
    ];
    for (key, value) in env {
        flag(&mut a, "--env", format!("{key}={value}"));
    }
    for (key, value) in &plan.spec.env {
        flag(&mut a, "--env", format!("{key}={value}"));
    }

    flag(&mut a, "--entrypoint", "/bin/sh".into());
    a.push(plan.spec.image.clone());
    a.push(INIT_IN_BOX.into());
    a
}

/// The create argv of the box `plan.name`, but as container `container`
/// from `image` (a snapshot): the spec label, environment and host name stay
/// the box's, so after a rename it is the same box on another system.
pub fn create_as(engine: &Engine, plan: &CreatePlan<'_>, container: &str, image: &str) -> Vec<String> {
    let mut a = create(engine, plan);
    debug_assert_eq!(a[1], "--name");
    a[2] = container.into();
    let at = a.len() - 2;
    a[at] = image.into();
    a
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

/// The in-box argv that runs `mode` through tent-exec in `cwd`.
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
        Engine { kind, path: PathBuf::from(kind.name()), via: crate::engine::Via::Direct, rootless }
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
            },
            runtime_dir: Some("/run/user/1000".into()),
            shared_paths: vec!["/media".into()],
            xauthority: None,
            mounts: vec![("/".into(), true), ("/tmp".into(), false)],
        }
    }

    fn small_plan<'a>(spec: &'a BoxSpec, host: &'a HostFacts) -> CreatePlan<'a> {
        CreatePlan { name: "d", spec, host, lib_dir: Path::new("/l"), lib_hash: "h", state_dir: Path::new("/s") }
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
        };
        let argv = create(&engine(EngineKind::Podman, true), &plan);
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
        assert!(has_pair(&argv, "--label", "tent.format=1"));
        assert!(has_pair(&argv, "--label", r#"tent.spec={"image":"debian:bookworm","packages":["git"]}"#));
        assert!(has_pair(&argv, "--entrypoint", "/bin/sh"));
        assert_eq!(&argv[argv.len() - 2..], &["debian:bookworm", INIT_IN_BOX]);
    }

    #[test]
    fn docker_create_has_no_keep_id_and_no_privileged() {
        let spec = BoxSpec { image: "img".into(), ..Default::default() };
        let host = facts();
        let plan = small_plan(&spec, &host);
        let argv = create(&engine(EngineKind::Docker, false), &plan);
        assert!(!argv.iter().any(|a| a == "--userns" || a == "--privileged"));
        assert!(has_pair(&argv, "--device-cgroup-rule", "a *:* rwm"));
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
    fn exec_shell_and_command() {
        let cwd = Path::new("/home/alice/src");
        assert_eq!(exec_command(&ExecMode::Shell, cwd), vec!["/bin/sh", EXEC_IN_BOX, "shell", "/home/alice/src"]);
        let mode = ExecMode::Command(vec!["make".into(), "a b".into(), String::new().into()]);
        let argv = exec_command(&mode, cwd);
        assert_eq!(&argv[argv.len() - 5..], &["cmd", "/home/alice/src", "make", "a b", ""]);
    }

    #[test]
    fn exec_encodes_non_utf8_arguments() {
        let bad = OsString::from_vec(vec![b'a', 0xff, b'\\', b'\n']);
        let argv = exec_command(&ExecMode::Command(vec!["printf".into(), bad]), Path::new("/tmp"));
        assert_eq!(&argv[argv.len() - 4..], &["enc", "/tmp", "printf", r"a\0377\0134\0012"]);
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
