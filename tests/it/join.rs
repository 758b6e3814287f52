//! Joining a box instead of asking the engine (issue 11): one contract kept by
//! both paths (`TENT_EXEC=engine` forces the engine's exec), `stop` ending
//! every command, a login shell's PATH, and tent's own not-found message.

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::engine_tests;
use crate::harness::{BOOKWORM, Engine, Run, Sandbox, pids_of, tent_bin};

engine_tests!(
    contract_holds_on_both_paths,
    stop_ends_commands_of_both_paths,
    login_path_finds_local_bin,
    login_path_is_kept_while_the_system_can_vouch_for_it,
    terminal_reaches_the_command,
    host_groups_reach_the_box,
    a_command_in_a_stopped_box_waits_for_its_init,
);

/// Issue 24: where the command takes the engine's exec anyway (Docker,
/// `TENT_EXEC=engine`), the exec starts as soon as the engine has started
/// the box, and tent-exec in the box waits for the init's `ready`; a box
/// whose init fails runs nothing, and tent reports it as always. Marks in
/// the state directory make the box's start slow, or fail, at will.
fn a_command_in_a_stopped_box_waits_for_its_init(engine: Engine) {
    let sb = Sandbox::new(engine);
    let hook = "if [ -e /run/.tent/state/slow ]; then sleep 3; fi; [ ! -e /run/.tent/state/fail ]";
    let name = sb.create("waitready", BOOKWORM, &["--pre-init-hook", hook]);
    let state = sb.state_dir(&name);
    let probe = "if [ -f /run/.tent/state/ready ]; then echo after-ready; else echo too-early; fi";
    for path in [Path::Engine, Path::Join] {
        std::fs::write(state.join("slow"), "").unwrap();
        sb.tent(&["stop", &name]).ok();
        let started = Instant::now();
        let out = tent_on(&sb, path, &[b"-v", b"run", name.as_bytes(), b"--", b"sh", b"-c", probe.as_bytes()]).ok();
        assert_eq!(out.stdout(), "after-ready\n", "{path:?}: {}", out.describe());
        assert!(started.elapsed() >= Duration::from_secs(3), "{path:?}: the slow start was waited for");
        let overlapped = path == Path::Engine || !joins(engine);
        assert_eq!(
            out.stderr.contains("was just started; tent-exec waits for its init"),
            overlapped,
            "{}",
            out.describe()
        );
        std::fs::remove_file(state.join("slow")).unwrap();
    }
    // On a terminal tent waits, then execs: the client would put the
    // terminal in raw mode under tent's progress lines.
    sb.tent(&["stop", &name]).ok();
    let inner = format!("TENT_EXEC=engine {} -v run {name} -- true", tent_bin().display());
    let mut c = sb.command("script");
    c.args(["-qec", &inner, "/dev/null"]);
    let out = Run::from(c).ok();
    assert!(out.stdout().contains("engine exec: TENT_EXEC=engine"), "{}", out.describe());
    assert!(!out.stdout().contains("tent-exec waits for its init"), "{}", out.describe());
    // An init that fails: nothing runs, and tent says why.
    std::fs::write(state.join("fail"), "").unwrap();
    sb.tent(&["stop", &name]).ok();
    let ran = sb.home.join("ran");
    let touch = format!("touch {}", ran.display());
    let out = tent_on(&sb, Path::Engine, &[b"run", name.as_bytes(), b"--", b"sh", b"-c", touch.as_bytes()]).output();
    assert_ne!(out.code, Some(0), "{}", out.describe());
    assert!(out.stderr.contains("pre-init"), "tent names the failing step: {}", out.describe());
    assert!(!ran.exists(), "the command ran in a box whose init failed");
    std::fs::remove_file(state.join("fail")).unwrap();
    sb.tent(&["run", &name, "--", "true"]).ok();
}

/// Issue 22: the user's host supplementary groups reach commands in the box,
/// so a `root:GROUP 0640` file (a serial port's, /dev/kvm's, render's) is
/// readable there as on the host. The join keeps them (it never calls
/// setgroups); on Docker the box is made with them (`--group-add`), which
/// `docker exec` applies. Rootless podman's engine path needs crun's
/// `run.oci.keep_original_groups` (set by tent), which runc here ignores.
fn host_groups_reach_the_box(engine: Engine) {
    if engine.as_root() {
        return; // root reads any file: nothing to show
    }
    let group = "tent-it-dial";
    let ok = |c: &mut std::process::Command| assert!(c.status().unwrap().success(), "{c:?}");
    ok(std::process::Command::new("groupadd").args(["-f", group]));
    ok(std::process::Command::new("usermod").args(["-aG", group, crate::harness::TEST_USER]));
    // In the home, which the box shares (a box's /var/tmp is its own).
    let sb = Sandbox::new(engine);
    let file = sb.home.join("dial-only").display().to_string();
    std::fs::write(&file, "dial-ok\n").unwrap();
    ok(std::process::Command::new("chown").args([&format!("root:{group}"), &file]));
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();

    let name = sb.create("groups", BOOKWORM, &[]);
    let groups_line = |text: &str| text.lines().find(|l| l.starts_with("Groups:")).unwrap_or("").to_string();
    let script = format!("grep ^Groups: /proc/self/status; cat {file}");
    let host = sb.sh(&script).ok();
    let host_groups = groups_line(&host.stdout()).split_whitespace().count();
    assert!(host.stdout().contains("dial-ok"), "the host user reads it: {}", host.describe());
    let paths: &[Path] = if joins(engine) { &[Path::Join] } else { &[Path::Engine] };
    for path in paths {
        let out = tent_on(&sb, *path, &[b"run", name.as_bytes(), b"--", b"sh", b"-c", script.as_bytes()]).output();
        assert!(out.stdout().contains("dial-ok"), "{path:?}: {}", out.describe());
        let in_box = groups_line(&out.stdout()).split_whitespace().count();
        assert_eq!(in_box, host_groups, "{path:?}: as many groups as on the host: {}", out.describe());
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Path {
    Join,
    Engine,
}

/// Whether tent may join on this engine: rootful podman as root, rootless
/// podman as its user; Docker as a plain user goes through the engine.
fn joins(engine: Engine) -> bool {
    engine != Engine::Docker
}

/// `tent ARGS` on one path, as the sandbox's user.
fn tent_on(sb: &Sandbox, path: Path, args: &[&[u8]]) -> Run {
    let mut c = sb.command("env");
    if path == Path::Engine {
        c.arg("TENT_EXEC=engine");
    }
    c.arg(tent_bin());
    c.args(args.iter().map(|a| crate::harness::os(a)));
    Run::from(c)
}

fn sh_on(sb: &Sandbox, path: Path, script: &str) -> Run {
    let env = if path == Path::Engine { "TENT_EXEC=engine " } else { "" };
    sb.sh(&script.replace("TENT ", &format!("{env}{} ", tent_bin().display())))
}

fn contract_holds_on_both_paths(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("contract", BOOKWORM, &[]);
    let n = name.as_bytes();
    let mut seen = Vec::new();
    for path in [Path::Join, Path::Engine] {
        // -v names the path that ran.
        let out = tent_on(&sb, path, &[b"-v", b"run", n, b"--", b"true"]).ok();
        let joined = out.stderr.contains("joined box's namespaces (pid ");
        assert_eq!(joined, path == Path::Join && joins(engine), "{path:?}: {}", out.describe());
        assert_eq!(out.stderr.contains("engine exec: "), !joined, "{}", out.describe());

        // argv byte for byte.
        let hostile: Vec<&[u8]> = vec![b"a b", b"*", b"$HOME", b"line\nbreak\n", b"", b"\\n", b"\xff\xfe-x", b"-e"];
        let mut args: Vec<&[u8]> = vec![b"run", n, b"--", b"printf", b"[%s]"];
        args.extend(&hostile);
        let out = tent_on(&sb, path, &args).ok();
        let expected: Vec<u8> = hostile.iter().flat_map(|h| [&b"["[..], h, b"]"].concat()).collect();
        assert_eq!(out.stdout_bytes(), &expected[..], "{path:?}: {}", out.describe());

        // Exit statuses, and messages that name the box, not tent's script.
        tent_on(&sb, path, &[b"run", n, b"--", b"sh", b"-c", b"exit 7"]).code(7);
        let out = tent_on(&sb, path, &[b"run", n, b"--", b"no-such-cmd-x"]).code(127);
        assert_eq!(out.stderr.trim(), format!("tent: no-such-cmd-x: command not found in box {name}"), "{path:?}");
        let out = tent_on(&sb, path, &[b"run", n, b"--", b"/etc/hostname"]).code(126);
        assert!(!out.stderr.contains("tent-exec"), "{path:?}: {}", out.describe());
        let out = sh_on(&sb, path, &format!("TENT run {name} -- sh -c 'kill -TERM $$'; echo \"status $?\"")).ok();
        assert!(out.stdout().contains("status 143"), "{path:?}: {}", out.describe());

        // stdin, stdout and stderr as pipes.
        let out = tent_on(&sb, path, &[b"run", n, b"--", b"sh", b"-c", b"tr a-z A-Z; echo err >&2"]).stdin("hi\n").ok();
        assert_eq!(out.stdout(), "HI\n");
        assert!(out.stderr.contains("err"));

        // A directory the box does not have: the home, and a note.
        let dir = "/var/tmp/tent-it-join-cwd";
        std::fs::create_dir_all(dir).unwrap();
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
        let out = sh_on(&sb, path, &format!("cd {dir} && TENT run {name} -- pwd")).ok();
        if out.stdout().trim() != dir {
            assert_eq!(out.stdout().trim(), sb.home.display().to_string(), "{path:?}");
            assert!(out.stderr.contains("starting in"), "{}", out.describe());
        }

        // Same user, groups, hostname, box's /etc and environment. The
        // supplementary groups are the host's on the join; the engine's
        // path keeps them only with crun (`run.oci.keep_original_groups`),
        // and this machine's runc gives the box's instead
        // (`host_groups_reach_the_box` checks the join's).
        let groups = if keeps_original_groups(&sb) { "id -G; " } else { "" };
        let probe = format!(
            "id -u; id -g; {groups}hostname; cat /etc/debian_version; test -e /run/.tent/lib/tent-exec && echo in-box; env | grep -v -e '^PWD=' -e '^OLDPWD=' -e '^_=' | sort"
        );
        let probe = probe.as_str();
        let out = tent_on(&sb, path, &[b"run", n, b"--", b"sh", b"-c", probe.as_bytes()]).ok();
        assert!(out.stdout().contains("in-box"), "{}", out.describe());
        seen.push(out.stdout());
    }
    assert_eq!(seen[0], seen[1], "the join and the engine path see the same box");
}

/// Whether both paths give commands the user's host groups: the join always
/// does; podman's exec does under crun; Docker's under `--group-add`.
fn keeps_original_groups(sb: &Sandbox) -> bool {
    if sb.engine == Engine::Docker {
        return true;
    }
    let runtime = sb.engine_cmd(&["info", "--format", "{{.Host.OCIRuntime.Name}}"]).ok().stdout();
    runtime.trim() == "crun"
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| !matches!(s[s.rfind(')').unwrap() + 1..].split_whitespace().next(), Some("Z" | "X")))
}

fn stop_ends_commands_of_both_paths(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("stop", BOOKWORM, &[]);
    let tag = format!("{}", 4000 + std::process::id() % 1000);
    let mut children = Vec::new();
    for (i, path) in [Path::Join, Path::Engine].into_iter().enumerate() {
        let mut c = sb.command("env");
        if path == Path::Engine {
            c.arg("TENT_EXEC=engine");
        }
        c.arg(tent_bin()).args(["run", &name, "--", "sleep", &format!("{tag}{i}")]);
        c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        children.push(c.spawn().unwrap());
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let pids = loop {
        let pids: Vec<u32> = (0..2).flat_map(|i| pids_of(&["sleep", &format!("{tag}{i}")])).collect();
        if pids.len() == 2 || Instant::now() > deadline {
            break pids;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(pids.len(), 2, "both commands run");
    let out = sb.tent(&["stop", &name]).ok();
    // Docker runs the box's init as root: a plain user cannot see which of
    // its processes are the box's, and both commands went through the engine,
    // whose stop ends them (no survivors is checked below either way).
    if engine != Engine::Docker {
        assert!(
            out.stderr.contains("commands running in it") || out.stdout().contains("commands running in it"),
            "{}",
            out.describe()
        );
    }
    for mut child in children {
        let _ = child.wait();
    }
    for pid in pids {
        assert!(!alive(pid), "pid {pid} survived the stop");
    }
}

fn login_path_finds_local_bin(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("lpath", BOOKWORM, &[]);
    // What Debian's skeleton profile does.
    std::fs::write(
        sb.home.join(".profile"),
        "if [ -d \"$HOME/.local/bin\" ]; then PATH=\"$HOME/.local/bin:$PATH\"; fi\necho noise\n",
    )
    .unwrap();
    let bin = sb.home.join(".local/bin");
    std::fs::create_dir_all(&bin).unwrap();
    crate::test_support::write_script(bin.join("mytool"), "#!/bin/sh\necho mytool ran\n");
    if engine != Engine::PodmanRoot {
        sb.sh("true").ok();
        std::process::Command::new("chown").args(["-R", "tent-test:"]).arg(&sb.home).status().unwrap();
    }
    for path in [Path::Join, Path::Engine] {
        let out = tent_on(&sb, path, &[b"run", name.as_bytes(), b"--", b"mytool"]).ok();
        assert_eq!(out.stdout(), "mytool ran\n", "{path:?}: {}", out.describe());
    }
}

/// Issue 24: the login shell's PATH, cached by tent-exec, stays when the
/// same box starts again (a slow profile was paid at every start), is
/// computed again when a profile is newer than the cache, and after a
/// rollback, whose system is another one.
fn login_path_is_kept_while_the_system_can_vouch_for_it(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("lkeep", BOOKWORM, &[]);
    let profile = sb.home.join(".profile");
    std::fs::write(&profile, "PATH=\"$HOME/.local/bin:$PATH\"\necho ran >>\"$HOME/profile-runs\"\n").unwrap();
    let bin = sb.home.join(".local/bin");
    std::fs::create_dir_all(&bin).unwrap();
    crate::test_support::write_script(bin.join("mytool"), "#!/bin/sh\necho mytool ran\n");
    if engine != Engine::PodmanRoot {
        std::process::Command::new("chown").args(["-R", "tent-test:"]).arg(&sb.home).status().unwrap();
    }
    let runs = || std::fs::read_to_string(sb.home.join("profile-runs")).map_or(0, |s| s.lines().count());
    let mytool = || {
        let out = sb.tent(&["run", &name, "--", "mytool"]).ok();
        assert_eq!(out.stdout(), "mytool ran\n", "{}", out.describe());
    };
    mytool();
    assert_eq!(runs(), 1, "the first command runs the login shell once");
    sb.tent(&["stop", &name]).ok();
    mytool();
    assert_eq!(runs(), 1, "a restart of the same system keeps the cached login PATH");
    // A profile newer than the cache: computed again.
    let cache = sb.state_dir(&name).join("login-path");
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options().write(true).open(&cache).unwrap().set_modified(old).unwrap();
    mytool();
    assert_eq!(runs(), 2, "a newer profile makes the login shell run again");
    // A snapshot committed after the cache was written is of the system
    // the cache was computed on: its rollback keeps the cache.
    std::thread::sleep(Duration::from_millis(1100));
    sb.tent(&["snapshot", &name, "s1"]).ok();
    sb.tent(&["rollback", &name, "s1", "--yes"]).ok();
    mytool();
    assert_eq!(runs(), 2, "a rollback to a snapshot taken after the cache keeps it");
    // The rolled-back box is joined as any box: its monitor names it by the
    // box's name (it was renamed before it started).
    let out = sb.tent(&["-v", "run", &name, "--", "true"]).ok();
    assert_eq!(out.stderr.contains("joined box's namespaces (pid "), joins(engine), "{}", out.describe());
    // Computed again on the rolled-back system, after s1 was taken: that
    // cache may hold what s1 lacks, so a rollback to s1 drops it.
    std::fs::File::options().write(true).open(&cache).unwrap().set_modified(old).unwrap();
    mytool();
    assert_eq!(runs(), 3, "a newer profile makes the login shell run again");
    sb.tent(&["rollback", &name, "s1", "--yes"]).ok();
    mytool();
    assert_eq!(runs(), 4, "a cache written after the snapshot was taken is computed again");
    // A clone's system is another box's: its first command computes its own.
    let copy = sb.name("lkcopy");
    sb.tent(&["clone", &name, &copy]).ok();
    sb.tent(&["run", &copy, "--", "true"]).ok();
    assert_eq!(runs(), 5, "a clone computes its own login PATH");
}

fn terminal_reaches_the_command(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("tty", BOOKWORM, &[]);
    for path in [Path::Join, Path::Engine] {
        let env = if path == Path::Engine { "TENT_EXEC=engine " } else { "" };
        let inner = format!(
            "{env}{} run {name} -- sh -c 'tty; trap \"echo got-int; exit 3\" INT; echo armed; sleep 30 & wait'",
            tent_bin().display()
        );
        let mut c = sb.command("script");
        c.args(["-qec", &inner, "/dev/null"]);
        c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        // Started as a shell starts a background job, with SIGINT and SIGQUIT
        // ignored: the engine's exec starts the command with defaults, and
        // the join path must too, or Ctrl-C would not reach it.
        // SAFETY: only signal(), which is async-signal-safe, between fork and exec.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut c, || {
                libc::signal(libc::SIGINT, libc::SIG_IGN);
                libc::signal(libc::SIGQUIT, libc::SIG_IGN);
                Ok(())
            });
        }
        let mut child = c.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // Ctrl-C once the trap is set (a loaded machine may take seconds to
        // get there), read as it comes; a minute at most.
        let mut stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let (mut all, mut buf, mut told) = (Vec::new(), [0u8; 4096], false);
            while let Ok(n @ 1..) = std::io::Read::read(&mut stdout, &mut buf) {
                all.extend_from_slice(&buf[..n]);
                if !told && String::from_utf8_lossy(&all).contains("armed") {
                    told = tx.send(()).is_ok();
                }
            }
            all
        });
        let armed = rx.recv_timeout(Duration::from_secs(60)).is_ok();
        // The trap is set just before "armed"; the shell then starts sleep.
        std::thread::sleep(Duration::from_millis(300));
        stdin.write_all(b"\x03").unwrap();
        let _ = child.wait();
        let text = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
        assert!(armed, "{path:?}: the command never set its trap: {text}");
        assert!(text.contains("/dev/pts/"), "{path:?}: tty in the box: {text}");
        assert!(text.contains("got-int"), "{path:?}: Ctrl-C reaches the command: {text}");
    }
}
