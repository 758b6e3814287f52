//! The box-written `pid` and `ready` files (issue 19, findings 5 and 8) on
//! real engines: a box that names a host process as its init must not make
//! `tent stop` end host processes, and a `ready` file that names a host
//! process or another box's init must not make `tent run` join it.
//!
//! The host processes the box names (the victims) are the test's own
//! `sleep`s. The first victims live in a mount namespace of their own
//! (`unshare --user --map-root-user --mount`): the unfixed `stop` ended every
//! process in the mount namespace of whatever the `pid` file named, and with a
//! victim in the host's mount namespace it would end every process of the
//! user (as root: of the machine). Only once that contained attack is refused
//! does the test name a plain host `sleep`, in the host's mount namespace.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::engine_tests;
use crate::harness::{BOOKWORM, Engine, Run, Sandbox, pids_of};

engine_tests!(stop_ends_nothing_a_forged_pid_names, the_join_never_follows_a_forged_ready);

static TAG: AtomicU32 = AtomicU32::new(0);

/// A `sleep` argument no other process has.
fn unique_seconds() -> String {
    format!("{}{:03}", 70_000 + std::process::id() % 10_000, TAG.fetch_add(1, Ordering::SeqCst))
}

fn stat_field(pid: u32, field: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 3 (the state) is the first after the name in parentheses.
    stat[stat.rfind(')')? + 1..].split_whitespace().nth(field - 3).map(str::to_string)
}

fn alive(pid: u32) -> bool {
    stat_field(pid, 3).is_some_and(|state| state != "Z" && state != "X")
}

/// `PID STARTTIME` as tent's init writes its `pid` and `ready` files.
fn pid_line(pid: u32) -> String {
    format!("{pid} {}", stat_field(pid, 22).unwrap())
}

/// Host processes of the sandbox's user that a box names; killed when the
/// test ends, whatever happened.
struct Victims {
    child: Child,
    /// The one the box names, and the others that share its mount namespace.
    named: u32,
    others: Vec<u32>,
}

impl Victims {
    /// `sleep`s in a mount (and user) namespace of their own: the named one,
    /// and its parent, another `sleep`, which is not its descendant.
    fn contained(sb: &Sandbox) -> Victims {
        let (named, other) = (unique_seconds(), unique_seconds());
        let mut c = sb.command("unshare");
        c.args(["--user", "--map-root-user", "--mount", "sh", "-c"]);
        c.arg(format!("sleep {named} & exec sleep {other}"));
        Victims::start(c, &named, &[&other])
    }

    /// A plain `sleep` in the host's mount namespace.
    fn plain(sb: &Sandbox) -> Victims {
        let named = unique_seconds();
        let mut c = sb.command("sleep");
        c.arg(&named);
        Victims::start(c, &named, &[])
    }

    fn start(mut c: Command, named: &str, others: &[&str]) -> Victims {
        c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = c.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let find = |seconds: &str| pids_of(&["sleep", seconds]).first().copied();
        while Instant::now() < deadline {
            let named_pid = find(named);
            let other_pids: Vec<u32> = others.iter().filter_map(|o| find(o)).collect();
            if let Some(pid) = named_pid
                && other_pids.len() == others.len()
            {
                return Victims { child, named: pid, others: other_pids };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the victim sleeps never started");
    }

    fn assert_alive(&self, after: &str) {
        for pid in std::iter::once(self.named).chain(self.others.iter().copied()) {
            assert!(alive(pid), "host process {pid} was killed by {after}");
        }
    }
}

impl Drop for Victims {
    fn drop(&mut self) {
        for pid in std::iter::once(self.named).chain(self.others.iter().copied()) {
            // SAFETY: kill has no memory preconditions; these are the test's own sleeps.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tent(sb: &Sandbox, root: bool, args: &[&str]) -> Run {
    let mut all = if root { vec!["--root"] } else { vec![] };
    all.extend_from_slice(args);
    sb.tent(&all)
}

/// The box itself writes `line` as its init's pid (its state directory is
/// `/run/.tent/state` in it).
fn box_writes(sb: &Sandbox, root: bool, name: &str, file: &str, line: &str) {
    let script = format!("printf '%s\\n' \"$1\" > /run/.tent/state/{file}");
    tent(sb, root, &["run", name, "--", "sh", "-c", &script, "sh", line]).ok();
}

fn running(sb: &Sandbox, root: bool, name: &str) -> bool {
    let out = if root {
        Run::from({
            let mut c = Command::new("podman");
            c.args(["inspect", "--format", "{{.State.Running}}", name]);
            c
        })
        .ok()
    } else {
        sb.engine_cmd(&["inspect", "--format", "{{.State.Running}}", name]).ok()
    };
    out.stdout().trim() == "true"
}

/// A `--unshare-process` box (its own PID namespace) names a host process
/// as its init in its `pid` file; `tent stop` stops the box and leaves the
/// host process, and every other in its mount namespace, alone.
fn forged_pid_is_not_stopped(sb: &Sandbox, root: bool, name: &str) {
    let victims = Victims::contained(sb);
    box_writes(sb, root, name, "pid", &pid_line(victims.named));
    tent(sb, root, &["stop", name]).ok();
    victims.assert_alive("`tent stop` of a box whose pid file names it (its own mount namespace)");
    assert!(!running(sb, root, name), "tent stop still stops the box");

    // Now that tent does not believe the file: a plain host process, in the
    // host's mount namespace, as in the report.
    let victim = Victims::plain(sb);
    tent(sb, root, &["run", name, "--", "true"]).ok();
    box_writes(sb, root, name, "pid", &pid_line(victim.named));
    tent(sb, root, &["stop", name]).ok();
    victim.assert_alive("`tent stop` of a box whose pid file names it (the host's mount namespace)");
    assert!(!running(sb, root, name), "tent stop still stops the box");
}

fn stop_ends_nothing_a_forged_pid_names(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("fpid", BOOKWORM, &["--unshare-process"]);
    forged_pid_is_not_stopped(&sb, false, &name);
}

/// The same through sudo: a plain user's rootful podman box.
#[test]
fn rootful_stop_through_sudo_ends_nothing_a_forged_pid_names() {
    let Some(sb) = Sandbox::if_enabled(Engine::PodmanRootless) else { return };
    let name = sb.name("fpidroot");
    let _guard = RootfulBox(name.clone());
    tent(&sb, true, &["create", &name, "--image", BOOKWORM, "--unshare-process"]).ok();
    forged_pid_is_not_stopped(&sb, true, &name);
}

/// Removes a rootful box made through sudo (the sandbox removes only its
/// engine's boxes) when the test ends.
struct RootfulBox(String);
impl Drop for RootfulBox {
    fn drop(&mut self) {
        let _ = Command::new("podman").args(["rm", "--force", &self.0]).output();
    }
}

/// `tent -v run NAME -- hostname`: the hostname it printed, and whether it joined.
fn hostname_via_tent(sb: &Sandbox, name: &str) -> (String, bool) {
    let out = sb.tent(&["-v", "run", name, "--", "hostname"]).ok();
    let joined = out.stderr.contains("joined box's namespaces");
    assert!(joined || out.stderr.contains("engine exec: "), "{}", out.describe());
    (out.stdout().trim().to_string(), joined)
}

/// A box's `ready` file names another box's init, then a host process in
/// namespaces of its own: `tent run` runs the command in the box all the
/// same (through the engine's exec when it cannot prove the pid is the
/// box's), never in the other box nor on the host.
fn the_join_never_follows_a_forged_ready(engine: Engine) {
    let sb = Sandbox::new(engine);
    let a = sb.create("fra", BOOKWORM, &[]);
    let b = sb.create("frb", BOOKWORM, &[]);
    let (own, joined) = hostname_via_tent(&sb, &a);
    let (other, _) = hostname_via_tent(&sb, &b);
    assert_ne!(own, other);
    // Docker's init is root's: a plain user never joins.
    assert_eq!(joined, engine != Engine::Docker, "the unforged ready is joined where tent may join");

    let ready_a = sb.state_dir(&a).join("ready");
    let ready_b = std::fs::read_to_string(sb.state_dir(&b).join("ready")).unwrap();
    box_writes(&sb, false, &a, "ready", ready_b.trim());
    assert_eq!(std::fs::read_to_string(&ready_a).unwrap(), ready_b, "the forged ready is in place");
    let (seen, joined) = hostname_via_tent(&sb, &a);
    assert_eq!(seen, own, "a ready naming box {b}'s init sent the command there");
    assert!(!joined, "joined a pid the box named");

    let victims = Victims::contained(&sb);
    box_writes(&sb, false, &a, "ready", &pid_line(victims.named));
    let out = sb.tent(&["-v", "run", &a, "--", "hostname"]).output();
    assert_eq!((out.code, out.stdout().trim()), (Some(0), own.as_str()), "{}", out.describe());
    assert!(!out.stderr.contains("joined box's namespaces"), "joined a host process: {}", out.describe());
    victims.assert_alive("tent run");

    // A stop then a start write a true ready again, which is joined.
    sb.tent(&["stop", &a]).ok();
    let (seen, joined) = hostname_via_tent(&sb, &a);
    assert_eq!((seen, joined), (own, engine != Engine::Docker));
}
