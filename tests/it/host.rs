//! Feeling like the host, on real engines: a real terminal, a display,
//! restarts without network, Ctrl-C during create, and a host whose /usr and
//! /etc are read-only (issues 2 and 3).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::engine_tests;
use crate::harness::{BOOKWORM, Engine, Sandbox, tent_bin};

engine_tests!(
    enter_gives_a_login_shell_on_a_terminal,
    session_sockets_and_time_zone_follow_the_host,
    rm_asks_on_a_terminal
);

/// `tent enter` under a real pseudo-terminal (util-linux `script`): a login
/// shell with a prompt naming the box, `id` of the host user, exit status
/// passed through.
fn enter_gives_a_login_shell_on_a_terminal(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("tty", BOOKWORM, &[]);
    let inner = format!("{} enter {name}", tent_bin().display());
    let mut c = sb.command("script");
    c.args(["-qec", &inner, "/dev/null"]);
    let mut run = crate::harness::Run::from(c);
    run = run.stdin("test -t 0 && echo STDIN-IS-TTY\necho UID=$(id -u) HOST=$(hostname)\nexit 3\n");
    let out = run.output();
    assert_eq!(out.code, Some(3), "{}", out.describe());
    let text = out.stdout();
    assert!(text.contains("STDIN-IS-TTY"), "{}", out.describe());
    assert!(text.contains(&format!("UID={}", sb.uid())), "{}", out.describe());
    assert!(text.contains("HOST=it-tty-"), "{}", out.describe());
}

/// A stopped box starts with no network at all: provisioning happened once,
/// at create. The engine runs in a network namespace with only loopback.
#[test]
fn stopped_box_restarts_offline() {
    for engine in [Engine::PodmanRoot, Engine::PodmanRootless] {
        if !crate::harness::enabled(engine) {
            continue;
        }
        let sb = Sandbox::new(engine);
        let name = sb.create("offline", BOOKWORM, &[]);
        sb.tent(&["stop", &name]).ok();
        // unshare needs root; the rootless case switches to the user inside.
        let tent_cmd = sb.command(tent_bin());
        let mut args: Vec<String> = vec!["-n".into(), "--".into()];
        args.push(tent_cmd.get_program().to_string_lossy().into_owned());
        args.extend(tent_cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
        args.extend(["run".into(), name.clone(), "--".into(), "sh".into(), "-c".into()]);
        args.push("tail -n +3 /proc/net/dev | wc -l; echo started-offline".into());
        let mut c = Command::new("unshare");
        c.args(&args).current_dir(&sb.home);
        let out = crate::harness::Run::from(c).ok();
        assert!(out.stdout().contains("started-offline"), "{}", out.describe());
        assert_eq!(out.stdout().lines().next().unwrap().trim(), "1", "only loopback: {}", out.describe());
    }
}

/// Ctrl-C while a box provisions removes the half-made box.
#[test]
fn interrupted_create_leaves_no_box() {
    let Some(sb) = Sandbox::if_enabled(Engine::PodmanRoot) else { return };
    let name = sb.name("intr");
    let mut c = sb.command(tent_bin());
    c.args(["create", &name, "--image", BOOKWORM]).stdout(Stdio::null()).stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    // Wait until the box's init is at work, then press Ctrl-C.
    let log = sb.state_dir(&name).join("init.log");
    let start = Instant::now();
    while !std::fs::read_to_string(&log).is_ok_and(|t| t.contains("==> ")) {
        assert!(start.elapsed() < Duration::from_secs(60), "init never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    // `env` execs tent, so the child's pid is tent's.
    // SAFETY: kill has no memory preconditions; the pid is our child's.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(sb.engine_cmd(&["container", "inspect", &name]).output().code != Some(0), "box left behind");
    assert!(!sb.state_dir(&name).exists(), "state left behind");
}

/// The rootless workflow on a host whose /usr and /etc are read-only: tent
/// needs nothing of the host beyond the user's own directories.
#[test]
fn rootless_workflow_with_read_only_usr_and_etc() {
    let Some(sb) = Sandbox::if_enabled(Engine::PodmanRootless) else { return };
    let name = sb.name("ro");
    let tent = sb.command(tent_bin());
    let words: Vec<String> = std::iter::once(tent.get_program())
        .chain(tent.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy().replace('\'', r"'\''")))
        .collect();
    let tent_line = words.join(" ");
    let script = format!(
        "set -e
mount --bind /usr /usr && mount -o remount,bind,ro /usr
mount --bind /etc /etc && mount -o remount,bind,ro /etc
touch /usr/tent-probe 2>/dev/null && {{ echo /usr is writable; exit 1; }}
touch /etc/tent-probe 2>/dev/null && {{ echo /etc is writable; exit 1; }}
cd {home}
{tent_line} create {name} --image {BOOKWORM}
{tent_line} run {name} -- sh -c 'id -u; touch ~/ro-ok'
{tent_line} stop {name}
{tent_line} run {name} -- true
{tent_line} rm --force --yes {name}
",
        home = sb.home.display()
    );
    let mut c = Command::new("unshare");
    c.args(["--mount", "--propagation", "private", "--", "sh", "-c", &script]);
    let out = crate::harness::Run::from(c).ok();
    assert_eq!(out.stdout().lines().next(), Some(sb.uid().to_string().as_str()), "{}", out.describe());
    assert!(sb.home.join("ro-ok").exists());
}

/// An X11 client in the box reaches an X server on the host (Xvfb), through
/// the shared /tmp/.X11-unix and the DISPLAY tent passes through.
#[test]
fn x11_client_in_the_box_reaches_the_host_display() {
    let Some(sb) = Sandbox::if_enabled(Engine::PodmanRootless) else { return };
    let name = sb.create("x11", BOOKWORM, &["--packages", "x11-utils"]);
    let display = 90 + (std::process::id() % 50);
    let mut xvfb = Command::new("Xvfb")
        .args([format!(":{display}"), "-nolisten".into(), "tcp".into(), "-ac".into()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb (package xvfb) is installed by scripts/setup-engines");
    let socket = format!("/tmp/.X11-unix/X{display}");
    let start = Instant::now();
    while !std::path::Path::new(&socket).exists() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    // The sandbox runs commands under `env -i`: DISPLAY goes in as an argument of env.
    let mut c = sb.command("env");
    c.arg(format!("DISPLAY=:{display}")).arg(tent_bin()).args(["run", &name, "--", "xdpyinfo"]);
    let out = crate::harness::Run::from(c).output();
    let _ = xvfb.kill();
    let _ = xvfb.wait();
    assert_eq!(out.code, Some(0), "{}", out.describe());
    assert!(out.stdout().contains(&format!("name of display:    :{display}")), "{}", out.describe());
}

/// A box keeps working when tent's data directory was cleaned (or tent was
/// upgraded): its scripts are written again, by content hash, before it starts.
#[test]
fn box_survives_a_cleaned_data_directory() {
    let Some(sb) = Sandbox::if_enabled(Engine::PodmanRootless) else { return };
    let name = sb.create("lib", BOOKWORM, &[]);
    sb.tent(&["stop", &name]).ok();
    let lib = sb.home.join(".local/share/tent/lib");
    assert!(lib.is_dir());
    std::fs::remove_dir_all(&lib).unwrap();
    sb.tent(&["run", &name, "--", "true"]).ok();
    assert!(lib.is_dir(), "scripts written again");
}

/// `tent --root` for a plain user is rootful podman through sudo. A rootful
/// and a rootless box of one name stay apart, each marked in `list`, and a
/// rootful box is only used by the user it was made for.
#[test]
fn rootful_and_rootless_boxes_of_one_name_stay_apart() {
    let Some(sb) = Sandbox::if_enabled(Engine::PodmanRootless) else { return };
    let name = sb.name("both");
    struct Rootful<'a>(&'a str);
    impl Drop for Rootful<'_> {
        fn drop(&mut self) {
            let _ = Command::new("podman").args(["rm", "--force", self.0]).output();
        }
    }
    let _rootful = Rootful(&name);
    sb.tent(&["create", &name, "--image", BOOKWORM]).ok();
    sb.tent(&["--root", "create", &name, "--image", BOOKWORM]).ok();

    let list = |args: &[&str]| -> serde_json::Value {
        let out = sb.tent(args).ok();
        let all: serde_json::Value = serde_json::from_slice(out.stdout_bytes()).unwrap();
        all.as_array().unwrap().iter().find(|e| e["name"] == name.as_str()).cloned().expect("listed")
    };
    let rootless = list(&["list", "--json"]);
    assert_eq!((rootless["engine"].as_str(), rootless["rootful"].as_bool()), (Some("podman"), Some(false)));
    let rootful = list(&["--root", "list", "--json"]);
    assert_eq!((rootful["engine"].as_str(), rootful["rootful"].as_bool()), (Some("podman-root"), Some(true)));
    assert!(sb.tent(&["--root", "list"]).ok().stdout().contains("podman-root (rootful)"));

    // Both run as the user; only the rootful box's root is the host's root.
    let uid = sb.uid().to_string();
    assert_eq!(sb.tent(&["run", &name, "--", "id", "-u"]).ok().stdout().trim(), uid);
    assert_eq!(sb.tent(&["--root", "run", &name, "--", "id", "-u"]).ok().stdout().trim(), uid);
    let map = |root: bool| {
        let mut args = vec!["run", &name, "--as-root", "--", "cat", "/proc/self/uid_map"];
        if root {
            args.insert(0, "--root");
        }
        sb.tent(&args).ok().stdout().split_whitespace().collect::<Vec<_>>().join(" ")
    };
    assert_eq!(map(true), "0 0 4294967295");
    assert_ne!(map(false), "0 0 4294967295");

    // Another user (root) sees the rootful box but may not use it.
    let home = tempfile::tempdir().unwrap();
    let out = crate::harness::Run::from({
        let mut c = Command::new(tent_bin());
        c.args(["--engine", "podman", "run", &name, "--", "true"]).env("HOME", home.path()).env("NO_COLOR", "1");
        c
    })
    .code(1);
    assert!(out.stderr.contains("belongs to another user"), "{}", out.describe());

    sb.tent(&["rm", "--force", "--yes", &name]).ok();
    list(&["--root", "list", "--json"]);
    sb.tent(&["--root", "rm", "--force", "--yes", &name]).ok();
    let rootful_state = sb.home.join(".local/state/tent/boxes/podman-root").join(&name);
    assert!(!rootful_state.exists(), "rm --root removes the rootful box's state");
}

/// The session's sockets (Wayland, PipeWire, D-Bus, ssh-agent live in
/// $XDG_RUNTIME_DIR or /tmp) and their variables reach the box, and its time
/// zone is the host's.
fn session_sockets_and_time_zone_follow_the_host(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("sock", BOOKWORM, &[]);
    let runtime = sb.runtime_dir();
    let tag = format!("tent-it-{}", std::process::id());
    let wayland = format!("{tag}-wayland");
    let agent = format!("/tmp/{tag}-agent.sock");
    let make = format!(
        "python3 -c 'import socket,sys\nfor p in sys.argv[1:]:\n    socket.socket(socket.AF_UNIX).bind(p)' {runtime}/{wayland} {agent}"
    );
    sb.sh(&make).ok();
    let mut c = sb.command("env");
    c.arg(format!("WAYLAND_DISPLAY={wayland}"))
        .arg(format!("SSH_AUTH_SOCK={agent}"))
        .arg(format!("DBUS_SESSION_BUS_ADDRESS=unix:path={runtime}/bus"))
        .arg(tent_bin())
        .args(["run", &name, "--", "sh", "-c"])
        .arg("test -S \"$XDG_RUNTIME_DIR/$WAYLAND_DISPLAY\" && test -S \"$SSH_AUTH_SOCK\" && echo \"$DBUS_SESSION_BUS_ADDRESS\" && cmp /etc/localtime /run/host/etc/localtime && echo same-zone");
    let out = crate::harness::Run::from(c).output();
    let _ = std::fs::remove_file(format!("{runtime}/{wayland}"));
    let _ = std::fs::remove_file(&agent);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    assert_eq!(out.stdout(), format!("unix:path={runtime}/bus\nsame-zone\n"));
}

/// `tent rm` asks on a terminal (`Printer::agree`): "n" keeps the box, "y"
/// removes it; a terminal whose stdin cannot answer keeps it and says why; a
/// script (no terminal) removes the box without a question, naming it.
fn rm_asks_on_a_terminal(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("ask", BOOKWORM, &["--no-start"]);
    let ask = |answer: &str, stdin: &str| {
        let inner = format!("{} rm {name}{stdin}", tent_bin().display());
        let mut c = sb.command("script");
        c.args(["-qec", &inner, "/dev/null"]);
        crate::harness::Run::from(c).stdin(format!("{answer}\n")).output()
    };
    let out = ask("y", " < /dev/null");
    assert_eq!(out.code, Some(1), "{}", out.describe());
    assert!(out.stdout().contains(&format!("Remove {name}")), "the question is shown: {}", out.describe());
    assert!(out.stdout().contains("standard input is not a terminal"), "{}", out.describe());
    sb.engine_cmd(&["container", "inspect", &name]).ok();
    let out = ask("n", "");
    assert_eq!(out.code, Some(1), "{}", out.describe());
    assert!(out.stdout().contains("Your home and files stay"), "{}", out.describe());
    sb.engine_cmd(&["container", "inspect", &name]).ok();
    let out = ask("y", "");
    assert_eq!(out.code, Some(0), "{}", out.describe());
    assert!(sb.engine_cmd(&["container", "inspect", &name]).output().code != Some(0), "removed");

    let scripted = sb.create("ask", BOOKWORM, &["--no-start"]);
    let out = sb.tent(&["rm", &scripted]).ok();
    assert!(out.stderr.contains(&format!("removing {scripted}")), "{}", out.describe());
    assert!(sb.engine_cmd(&["container", "inspect", &scripted]).output().code != Some(0), "removed");
}

/// A CA certificate the host's administrator added is trusted in the box.
#[test]
fn host_ca_certificates_are_trusted_in_the_box() {
    let Some(sb) = Sandbox::if_enabled(Engine::PodmanRoot) else { return };
    let cert = std::path::PathBuf::from(format!("/usr/local/share/ca-certificates/tent-it-{}.crt", std::process::id()));
    struct Remove<'a>(&'a std::path::Path);
    impl Drop for Remove<'_> {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(self.0);
        }
    }
    std::fs::create_dir_all(cert.parent().unwrap()).unwrap();
    let _remove = Remove(&cert);
    let mut c = Command::new("openssl");
    c.args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", "/dev/null"]);
    c.args(["-subj", &format!("/CN=tent-it-ca-{}", std::process::id()), "-out"]).arg(&cert);
    crate::harness::Run::from(c).ok();
    let body = std::fs::read_to_string(&cert).unwrap();
    let line = body.lines().nth(1).unwrap().to_string();

    let name = sb.create("ca", BOOKWORM, &[]);
    sb.tent(&["run", &name, "--", "grep", "-qF", &line, "/etc/ssl/certs/ca-certificates.crt"]).ok();
}
