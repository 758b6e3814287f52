//! The relay and what boxes write (issue 19, findings 4 and 7): every box can
//! write tent's state (pid files, receipts), so
//! - a box that turns its own pid file into a FIFO, or a link to /dev/zero,
//!   must not stall or bloat the relay: another box's `tent host -- true`
//!   still answers (a bounded wait here, not a timing assert);
//! - callers that connect and trickle their request in a byte at a time hold
//!   the relay's call slots no longer than the request deadline;
//! - a receipt that names an engine is never trusted for it: neither the
//!   relay nor `tent doctor` runs an engine from a file;
//! - a receipt any box can write names any target in any box, so a `--no-host`
//!   box may not call exported commands through the relay either.

use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::engine_tests;
use crate::harness::{BOOKWORM, Engine, Sandbox, tent_bin};
use crate::relay_attack::HOST_TENT;

engine_tests!(
    hostile_pid_files_do_not_stall_the_relay,
    trickling_callers_hold_nobody_up,
    receipts_never_choose_the_engine
);

/// How long a call may take before the test calls it stuck: generous, the
/// box's `tent run` and the engine exec are in it.
const STUCK: Duration = Duration::from_secs(20);

/// Runs `command` (in its own process group) for at most `limit`: Ok with
/// (status, stdout, stderr), or Err when it had to be killed.
fn within(mut command: Command, limit: Duration) -> Result<(Option<i32>, String, String), String> {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    let argv = format!("{command:?}");
    let mut child = command.spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Ok((status.code(), out.join().unwrap(), err.join().unwrap()));
        }
        if start.elapsed() > limit {
            // SAFETY: kill has no memory preconditions; the group is our child's.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            return Err(format!("{argv} did not answer within {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `tent host -- true` from box `name` answers, and with status 0.
fn host_call_answers(sb: &Sandbox, name: &str, what: &str) {
    let mut c = sb.command(tent_bin());
    c.args(["run", name, "--", "tent", "host", "--", "true"]);
    match within(c, STUCK) {
        Ok((code, out, err)) => {
            assert_eq!(code, Some(0), "{what}: tent host -- true failed\n--- stdout\n{out}\n--- stderr\n{err}")
        }
        Err(stuck) => panic!("{what}: the relay is stalled: {stuck}"),
    }
}

/// The pid of the relay serving `socket` (its command line names it).
fn relay_pid(socket: &str) -> u32 {
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else { continue };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if args.windows(3).any(|w| w[0] == b"relay" && w[1] == b"--socket" && w[2] == socket.as_bytes()) {
            return pid;
        }
    }
    panic!("no relay serves {socket}");
}

/// The most memory process `pid` has held, in KiB (VmHWM).
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).unwrap();
    line.trim().trim_end_matches("kB").trim().parse().unwrap()
}

/// Lets the sandbox's relay hold at most 512 MiB of data: an unbounded read
/// of /dev/zero then ends in the relay (whose reads give up), not in the
/// machine. Returns the relay's pid.
fn cap_relay_memory(sb: &Sandbox) -> u32 {
    let pid = relay_pid(&relay_socket(sb));
    let limit = (512u64 << 20).to_string();
    // As the relay's own user: lowering one's own limits needs no privilege.
    let status =
        sb.command("prlimit").args(["--pid", &pid.to_string(), &format!("--data={limit}:{limit}")]).status().unwrap();
    assert!(status.success(), "prlimit on the relay");
    pid
}

fn hostile_pid_files_do_not_stall_the_relay(engine: Engine) {
    let sb = Sandbox::new(engine);
    // The attacker needs no host access at all.
    let evil = sb.create("pevil", BOOKWORM, &["--no-host"]);
    let good = sb.create("pgood", BOOKWORM, &[]);
    // The relay starts with the first `tent run` on the host.
    sb.tent(&["run", &good, "--", "true"]).ok();
    host_call_answers(&sb, &good, "before the attack");
    let relay = cap_relay_memory(&sb);

    // From inside the attacking box: its own pid file, in its state dir
    // (shared at /run/.tent/state), becomes a FIFO nobody writes.
    sb.tent(&["run", &evil, "--", "sh", "-c", "rm -f /run/.tent/state/pid && mkfifo /run/.tent/state/pid"]).ok();
    let pid = sb.state_dir(&evil).join("pid");
    assert!(std::fs::symlink_metadata(&pid).unwrap().file_type().is_fifo(), "the box made its pid file a FIFO");
    host_call_answers(&sb, &good, "pid file a FIFO");
    host_call_answers(&sb, &good, "pid file a FIFO, again");

    // A link to /dev/zero: an unbounded read would never end (here: ends at
    // the relay's 512 MiB, which is as wrong).
    sb.sh(&format!("ln -sfn /dev/zero '{}'", pid.display())).ok();
    host_call_answers(&sb, &good, "pid file a link to /dev/zero");
    let peak = peak_kib(relay);
    assert!(peak < 128 << 10, "the relay read the box's /dev/zero link: it held {peak} KiB");

    // A huge regular pid file.
    sb.sh(&format!("rm -f '{0}' && head -c 8388608 /dev/zero | tr '\\0' 1 > '{0}'", pid.display())).ok();
    host_call_answers(&sb, &good, "pid file of 8 MiB");
}

/// From a `--no-host` box, 40 connections to the relay (more than its 32 call
/// slots) each send a request header announcing 64 KiB and then one byte
/// every 2 seconds, for a minute. With only a timeout per read they would
/// hold every slot all that time; with one deadline per request they are cut
/// after 5 seconds, and another box's `tent host` is served.
const TRICKLE: &str = r#"
use IO::Socket::UNIX;
$SIG{PIPE} = 'IGNORE';
$| = 1;
my @c;
for (1..40) {
    my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $ARGV[0]) or next;
    syswrite($s, "\x00\x00\x01\x00");
    push @c, $s;
}
print scalar(@c), " connected\n";
for (1..30) { sleep 2; syswrite($_, "T") for @c; }
"#;

fn trickling_callers_hold_nobody_up(engine: Engine) {
    use std::io::BufRead;
    let sb = Sandbox::new(engine);
    let evil = sb.create("tevil", BOOKWORM, &["--no-host"]);
    let good = sb.create("tgood", BOOKWORM, &[]);
    sb.tent(&["run", &good, "--", "true"]).ok();
    host_call_answers(&sb, &good, "before the attack");

    let mut c = sb.command(tent_bin());
    c.args(["run", &evil, "--", "perl", "-e", TRICKLE, &relay_socket(&sb)]);
    c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).process_group(0);
    let mut trickler = c.spawn().unwrap();
    let stdout = trickler.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let connected = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
    // Past the relay's request deadline (5 s) for every one of them.
    std::thread::sleep(Duration::from_secs(8));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        host_call_answers(&sb, &good, &format!("with {} trickling callers", connected.trim()))
    }));
    // SAFETY: kill has no memory preconditions; the group is our child's.
    unsafe { libc::kill(-(trickler.id() as i32), libc::SIGKILL) };
    let _ = trickler.wait();
    assert!(connected.contains("40 connected"), "the trickler could not connect: {connected:?}");
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// The socket of the sandbox's relay (`Paths::relay_socket`).
fn relay_socket(sb: &Sandbox) -> String {
    let runtime = sb.runtime_dir();
    let state = sb.home.join(".local/state/tent");
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in state.as_os_str().as_encoded_bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{runtime}/tent/relay-{hash:016x}.sock")
}

/// An engine binary that must never run: it leaves `marker` and succeeds.
fn evil_engine(sb: &Sandbox, kind: &str, marker: &std::path::Path) -> String {
    let dir = sb.home.join("evil");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(kind);
    crate::test_support::write_script(&path, format!("#!/bin/sh\necho \"$@\" >> '{}'\nexit 0\n", marker.display()));
    if !sb.engine.as_root() {
        Command::new("chown").arg("-R").arg(format!("{}:", crate::harness::TEST_USER)).arg(&dir).status().unwrap();
    }
    path.to_str().unwrap().to_string()
}

/// A receipt as a box writes it: one command export `name` of box `box_name`
/// running `target`, recorded with engine `engine`.
fn forged_receipt(sb: &Sandbox, scope: &str, box_name: &str, name: &str, target: &str, engine: &str) -> String {
    let bin = sb.home.join(".local/bin");
    serde_json::json!({
        "format": 1,
        "box": box_name,
        "scope": scope,
        "engine": engine,
        "exports": [{
            "kind": "bin",
            "name": name,
            "request": name,
            "target": target,
            "files": [bin.join(name)],
            "dir": bin,
            "tent": tent_bin(),
        }],
    })
    .to_string()
}

fn receipts_never_choose_the_engine(engine: Engine) {
    let sb = Sandbox::new(engine);
    let open = sb.create("xopen", BOOKWORM, &[]);
    let closed = sb.create("xclosed", BOOKWORM, &["--no-host"]);
    // The export's box is stopped: `tent run` must start it through the
    // engine (a running podman box is joined without one).
    let target = sb.create("xtarget", BOOKWORM, &[]);
    sb.tent(&["stop", &target]).ok();
    sb.tent(&["run", &open, "--", "true"]).ok();
    let scope = engine.scope();
    let marker = sb.home.join("evil-engine-ran");
    let kind = if engine == Engine::Docker { "docker" } else { "podman" };
    let evil = evil_engine(&sb, kind, &marker);

    // From inside the --no-host box: a receipt for the stopped box, naming
    // the evil engine and a shell as the "export".
    let receipt = sb.home.join(format!(".local/state/tent/exports/{scope}/{target}.json"));
    let json = forged_receipt(&sb, scope, &target, "evilsh", "/bin/sh", &evil);
    sb.tent(&[
        "run",
        &closed,
        "--",
        "sh",
        "-c",
        &format!("mkdir -p \"$(dirname '{0}')\" && cat > '{0}'", receipt.display()),
    ])
    .stdin(json)
    .ok();
    assert!(receipt.is_file(), "the box wrote the receipt");

    let socket = relay_socket(&sb);
    let call_from = |name: &str, file: &str| {
        let script = format!(
            "{HOST_TENT}\nht relay-call --socket \"$S\" --scope {scope} --box {target} --export evilsh -- -c 'echo ran > {}'",
            sb.home.join(file).display()
        );
        let mut c = sb.command(tent_bin());
        c.args(["run", name, "--", "env", &format!("TENT={}", tent_bin().display()), &format!("S={socket}")]);
        c.args(["sh", "-c", &script]);
        within(c, STUCK).unwrap_or_else(|stuck| panic!("{stuck}"))
    };

    // Every broken promise is reported, not only the first.
    let mut broken = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            broken.push(what);
        }
    };
    let ran = |marker: &std::path::Path| std::fs::read_to_string(marker).unwrap_or_default();

    // (a) From the --no-host box: refused, nothing ran in the other box.
    let (code, out, err) = call_from(&closed, "borrowed");
    check(
        code != Some(0) && err.contains("--no-host") && !sb.home.join("borrowed").exists(),
        format!("a --no-host box ran a command in another box: {code:?}\n{out}\n{err}"),
    );
    check(!marker.exists(), format!("the relay ran the receipt's engine for the --no-host box: {}", ran(&marker)));
    let _ = std::fs::remove_file(&marker);
    // (b) From the open box, which may reach the host anyway: it runs, with
    // the engine tent chose, never the receipt's.
    let (code, out, err) = call_from(&open, "ran-in-open");
    check(
        code == Some(0) && sb.home.join("ran-in-open").is_file(),
        format!("the export did not run from the open box: {code:?}\n{out}\n{err}"),
    );
    check(!marker.exists(), format!("the relay ran the receipt's engine: {}", ran(&marker)));
    let _ = std::fs::remove_file(&marker);

    // (c) `tent doctor` checks receipts of other engines too: one naming the
    // evil engine, in the other scope, must be checked with tent's own.
    let (other_scope, other_kind) = if engine == Engine::Docker { ("podman", "podman") } else { ("docker", "docker") };
    let other_evil = evil_engine(&sb, other_kind, &marker);
    let other = sb.home.join(format!(".local/state/tent/exports/{other_scope}/{target}.json"));
    let json = forged_receipt(&sb, other_scope, &target, "evilsh", "/bin/sh", &other_evil);
    sb.tent(&[
        "run",
        &open,
        "--",
        "sh",
        "-c",
        &format!("mkdir -p \"$(dirname '{0}')\" && cat > '{0}'", other.display()),
    ])
    .stdin(json)
    .ok();
    let mut c = sb.command(tent_bin());
    c.args(["doctor"]);
    let (_, out, err) = within(c, Duration::from_secs(120)).unwrap_or_else(|stuck| panic!("{stuck}"));
    check(
        !marker.exists(),
        format!("tent doctor ran the receipt's engine: {}\n--- stdout\n{out}\n--- stderr\n{err}", ran(&marker)),
    );
    assert!(broken.is_empty(), "{}", broken.join("\n\n"));
}
