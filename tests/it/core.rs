//! Boxes on real engines: create, enter, run, list, stop, rm (issue 2).

use std::os::unix::fs::MetadataExt;

use crate::engine_tests;
use crate::harness::{BOOKWORM, Engine, Sandbox, bytes_contain};

engine_tests!(
    lifecycle_feels_like_the_host,
    exit_codes_pass_through,
    cwd_follows_the_host_or_falls_back_to_home,
    arguments_arrive_byte_for_byte,
    errors_name_the_object,
    failed_create_leaves_nothing,
    concurrent_runs_share_one_provisioning,
    own_home_keeps_the_real_home_apart,
    two_creates_of_one_name_one_wins,
    a_box_ended_behind_the_engines_back_is_named_and_recovered,
);

fn list_json(sb: &Sandbox) -> serde_json::Value {
    let out = sb.tent(&["list", "--json"]).ok();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.describe()))
}

fn entry<'a>(list: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    list.as_array().unwrap().iter().find(|e| e["name"] == name)
}

/// create → run (id, home, sudo) → list → stop → run again with no package
/// work → rm, home intact.
fn lifecycle_feels_like_the_host(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("life", BOOKWORM, &[]);

    let id = sb.tent(&["run", &name, "--", "sh", "-c", "id -u; id -g; echo $HOME; hostname"]).ok().stdout();
    let lines: Vec<&str> = id.lines().collect();
    let host_id = sb.sh("id -u; id -g").ok().stdout();
    let host_lines: Vec<&str> = host_id.lines().collect();
    assert_eq!(&lines[..2], &host_lines[..2], "uid/gid inside match the host user");
    assert_eq!(lines[2], sb.home.display().to_string());
    assert!(name.starts_with(lines[3].trim_end_matches('-')) || lines[3] == name, "hostname {} for {name}", lines[3]);

    // A file made in the box is the user's on the host.
    sb.tent(&["run", &name, "--", "touch", "made-in-box"]).ok();
    let meta = std::fs::metadata(sb.home.join("made-in-box")).expect("file made in the box is in the home");
    assert_eq!(meta.uid(), sb.uid());

    // sudo works for the user, without a password.
    let out = sb.tent(&["run", &name, "--", "sudo", "-n", "id", "-u"]).ok();
    assert_eq!(out.stdout().trim(), "0");

    // The user installs software with the box's package manager.
    sb.tent(&["run", &name, "--", "sh", "-c", "sudo -n apt-get install -y -q hello >/dev/null || { sudo -n apt-get update -q && sudo -n apt-get install -y -q hello; }"]).ok();
    assert_eq!(sb.tent(&["run", &name, "--", "hello"]).ok().stdout(), "Hello, world!\n");

    // The host is visible at /run/host.
    sb.tent(&["run", &name, "--", "test", "-e", "/run/host/etc/os-release"]).ok();

    let list = list_json(&sb);
    let e = entry(&list, &name).expect("box listed");
    assert_eq!(e["state"], "running");
    assert_eq!(e["spec"]["image"], BOOKWORM);
    assert_eq!(e["rootful"], engine != Engine::PodmanRootless);

    sb.tent(&["stop", &name]).ok();
    let list = list_json(&sb);
    assert_ne!(entry(&list, &name).unwrap()["state"], "running");

    // Start again: no package work the second time.
    let log = sb.state_dir(&name).join("init.log");
    let before = std::fs::read_to_string(&log).unwrap();
    assert!(before.contains("installing"), "first start provisions: {before}");
    sb.tent(&["run", &name, "--", "true"]).ok();
    let after = std::fs::read_to_string(&log).unwrap();
    // Rootful boxes start a new log at every start (docs/security.md).
    let second = after.strip_prefix(before.as_str()).unwrap_or(&after);
    assert!(!second.contains("installing"), "second start did package work:\n{second}");
    assert!(!second.contains("apt-get"), "second start ran apt-get:\n{second}");

    sb.tent(&["rm", "--force", "--yes", &name]).ok();
    assert!(entry(&list_json(&sb), &name).is_none(), "box gone from the list");
    assert!(sb.home.join("made-in-box").exists(), "rm never touches the home");
    assert!(!sb.state_dir(&name).exists(), "rm removes tent's state of the box");
    // Its lock files too: the box's own and its receipt's (one pair per box
    // ever made piled up before).
    let state = sb.home.join(".local/state/tent");
    for lock in
        [format!("boxes/{0}/locks/{name}", engine.scope()), format!("exports/{0}/locks/{name}.json", engine.scope())]
    {
        assert!(!state.join(&lock).exists(), "rm leaves {lock}");
    }
}

fn exit_codes_pass_through(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("codes", BOOKWORM, &[]);
    sb.tent(&["run", &name, "--", "sh", "-c", "exit 7"]).code(7);
    sb.tent(&["enter", &name, "--", "sh", "-c", "exit 9"]).code(9);
    sb.tent(&["run", &name, "--", "no-such-command-here"]).code(127);
    sb.tent(&["run", &name, "--", "/etc/hostname"]).code(126);
    // stdin passes through.
    let out = sb.tent(&["run", &name, "--", "tr", "a-z", "A-Z"]).stdin("hello\n").ok();
    assert_eq!(out.stdout(), "HELLO\n");
}

fn cwd_follows_the_host_or_falls_back_to_home(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("cwd", BOOKWORM, &[]);
    std::fs::create_dir_all(sb.home.join("project/sub")).unwrap();
    let script =
        format!("cd {}/project/sub && {} run {name} -- pwd", sb.home.display(), crate::harness::tent_bin().display());
    assert_eq!(sb.sh(&script).ok().stdout().trim(), format!("{}/project/sub", sb.home.display()));
    // /usr/share/doc/tent-it-nowhere does not exist in the box: home, and a note.
    let dir = "/var/tmp/tent-it-cwd";
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let out = sb.sh(&format!("cd {dir} && {} run {name} -- pwd", crate::harness::tent_bin().display())).ok();
    if out.stdout().trim() != dir {
        assert_eq!(out.stdout().trim(), sb.home.display().to_string());
        assert!(out.stderr.contains("starting in"), "{}", out.describe());
    }
}

fn arguments_arrive_byte_for_byte(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("args", BOOKWORM, &[]);
    let hostile: Vec<&[u8]> = vec![
        b"a b",
        b"it's \"q\"",
        b"*",
        b"$HOME",
        b"line\nbreak\n",
        b"",
        b"\\n",
        b"tab\there",
        b"\xff\xfe-not-utf8",
        b"-e",
    ];
    let mut args: Vec<&std::ffi::OsStr> = vec!["run".as_ref(), name.as_str().as_ref(), "--".as_ref()];
    args.push("printf".as_ref());
    args.push("[%s]".as_ref());
    for h in &hostile {
        args.push(crate::harness::os(h));
    }
    let out = sb.tent(&args).ok();
    let mut expected = Vec::new();
    for h in &hostile {
        expected.push(b'[');
        expected.extend_from_slice(h);
        expected.push(b']');
    }
    assert_eq!(out.stdout_bytes(), &expected[..], "{}", out.describe());
}

fn errors_name_the_object(engine: Engine) {
    let sb = Sandbox::new(engine);
    let ghost = sb.name("ghost");
    let out = sb.tent(&["run", &ghost, "--", "true"]).code(1);
    assert!(out.stderr.contains(&format!("no box named \"{ghost}\"")), "{}", out.describe());
    assert!(out.stderr.contains("hint:"));

    let missing = sb.name("noimage");
    let out = sb.tent(&["create", &missing, "--image", "tent-test/no-such-image:1"]).code(125);
    assert!(out.stderr.contains("tent-test/no-such-image:1"), "{}", out.describe());
    assert!(out.stderr.contains("hint:"), "{}", out.describe());

    sb.tent(&["create", "bad name", "--image", BOOKWORM]).code(2);

    let name = sb.create("dup", BOOKWORM, &["--no-start"]);
    let out = sb.tent(&["create", &name, "--image", BOOKWORM]).code(1);
    assert!(out.stderr.contains("already exists"), "{}", out.describe());
    assert!(out.stderr.contains(&format!("tent enter {name}")), "{}", out.describe());

    // A container tent did not make is never taken for a box.
    let foreign = sb.name("foreign");
    sb.engine_cmd(&["create", "--name", &foreign, BOOKWORM, "true"]).ok();
    let out = sb.tent(&["rm", "--yes", &foreign]).code(1);
    assert!(out.stderr.contains("not made by tent"), "{}", out.describe());
    sb.engine_cmd(&["container", "inspect", &foreign]).ok();

    // rm of a running box needs --force.
    sb.tent(&["run", &name, "--", "true"]).ok();
    let out = sb.tent(&["rm", "--yes", &name]).code(1);
    assert!(out.stderr.contains("--force"), "{}", out.describe());
}

/// A box whose init fails is removed again, with the init's reason and log.
fn failed_create_leaves_nothing(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.name("fail");
    let out = sb.tent(&["create", &name, "--image", BOOKWORM, "--packages", "tent-no-such-package-xyz"]).output();
    assert_ne!(out.code, Some(0), "{}", out.describe());
    assert!(out.stderr.contains("removed again"), "{}", out.describe());
    assert!(bytes_contain(out.stderr.as_bytes(), "tent-no-such-package-xyz"), "{}", out.describe());
    sb.engine_cmd(&["container", "inspect", &name]).output().code.filter(|c| *c != 0).expect("no container left");
    assert!(!sb.state_dir(&name).exists());
}

fn concurrent_runs_share_one_provisioning(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("conc", BOOKWORM, &["--no-start"]);
    let runs: Vec<_> = (0..3)
        .map(|i| {
            let mut c = sb.command(crate::harness::tent_bin());
            c.args(["run", &name, "--", "echo", &format!("run{i}")]);
            c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    for (i, child) in runs.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "run {i}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("run{i}"));
    }
    let log = std::fs::read_to_string(sb.state_dir(&name).join("init.log")).unwrap();
    assert_eq!(log.matches("==> ready").count(), 1, "one init, one provisioning:\n{log}");
}

fn own_home_keeps_the_real_home_apart(engine: Engine) {
    let sb = Sandbox::new(engine);
    let own = sb.home.join("boxhome");
    let name = sb.create("home", BOOKWORM, &["--home", own.to_str().unwrap()]);
    let out = sb.tent(&["run", &name, "--", "sh", "-c", "cd && pwd && touch in-own-home"]).ok();
    assert_eq!(out.stdout().trim(), own.display().to_string());
    assert!(own.join("in-own-home").exists());
    assert!(!sb.home.join("in-own-home").exists());
    // The real home is not mounted: a file there is not visible in the box.
    std::fs::write(sb.home.join("secret"), "x").unwrap();
    let probe = format!("test -e {}/secret", sb.home.display());
    sb.tent(&["run", &name, "--", "sh", "-c", &probe]).code(1);
    sb.tent(&["rm", "--force", "--yes", &name]).ok();
    assert!(own.join("in-own-home").exists(), "rm keeps the box's own home without --delete-home");
}

/// Two `create`s of one name at once: one makes the box, the other says it exists.
fn two_creates_of_one_name_one_wins(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.name("race");
    let children: Vec<_> = (0..2)
        .map(|_| {
            let mut c = sb.command(crate::harness::tent_bin());
            c.args(["create", &name, "--image", BOOKWORM, "--no-start"]);
            c.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    let outs: Vec<_> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    let wins = outs.iter().filter(|o| o.status.success()).count();
    assert_eq!(wins, 1, "exactly one create wins");
    let loser = outs.iter().find(|o| !o.status.success()).unwrap();
    let err = String::from_utf8_lossy(&loser.stderr);
    assert!(err.contains("already exists"), "{err}");
    // The winner's box is whole: it starts and runs.
    sb.tent(&["run", &name, "--", "true"]).ok();
}

/// `stuck` of box `name` in `tent list --json` (which lists every box of the
/// store, other tests' too).
fn listed_stuck(sb: &Sandbox, name: &str) -> Option<bool> {
    let list = sb.tent(&["list", "--json"]).ok();
    let list: serde_json::Value = serde_json::from_str(&list.stdout()).unwrap();
    list.as_array()?.iter().find(|e| e["name"] == name)?["stuck"].as_bool()
}

/// A box ended behind the engine's back (its monitor and init killed, as
/// the end of a session or the OOM killer does): podman still says it runs
/// and can neither stop nor start it. tent says so, naming the pid, instead
/// of waiting for an init that never comes, and the `tent rescue` its hint
/// gives brings the box back with its system, in one step.
fn a_box_ended_behind_the_engines_back_is_named_and_recovered(engine: Engine) {
    if engine == Engine::Docker {
        return; // Docker's daemon learns of its shim's end and says so
    }
    let sb = Sandbox::new(engine);
    let name = sb.create("stuck", BOOKWORM, &[]);
    // The box's own /var/tmp: its system, not the shared home.
    sb.tent(&["run", &name, "--", "sh", "-c", "echo kept >/var/tmp/tent-it-kept"]).ok();
    let pids = sb.engine_cmd(&["container", "inspect", "--format", "{{.State.ConmonPid}} {{.State.Pid}}", &name]).ok();
    let pids: Vec<String> = pids.stdout().split_whitespace().map(str::to_string).collect();
    assert_eq!(pids.len(), 2, "{pids:?}");
    for pid in &pids {
        let killed = std::process::Command::new("kill").args(["-KILL", pid]).status().unwrap();
        assert!(killed.success(), "kill {pid}");
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let state = sb.engine_cmd(&["container", "inspect", "--format", "{{.State.Status}}", &name]).ok();
    assert_eq!(state.stdout().trim(), "running", "the engine still says it runs");

    let out = sb.tent(&["run", &name, "--", "true"]).code(1);
    assert!(out.stderr.contains("is stuck"), "{}", out.describe());
    assert!(out.stderr.contains(&format!("pid {}", pids[1])), "{}", out.describe());
    assert!(out.stderr.contains(&format!("`tent rescue {name}`")), "{}", out.describe());

    // `tent list` says so too, in its table and its JSON.
    let list = sb.tent(&["list"]).ok();
    assert!(list.stdout().contains(&format!("stuck (`tent rescue {name}`)")), "{}", list.describe());
    assert_eq!(listed_stuck(&sb, &name), Some(true));

    let old_id =
        sb.engine_cmd(&["container", "inspect", "--format", "{{.Id}}", &name]).ok().stdout().trim().to_string();
    let out = sb.tent(&["rescue", &name]).ok();
    assert!(
        out.stderr.contains(&format!("pid {}", pids[1])) && out.stderr.contains(&old_id[..12]),
        "it names the stuck container before it goes: {}",
        out.describe()
    );
    let out = sb.tent(&["run", &name, "--", "cat", "/var/tmp/tent-it-kept"]).ok();
    assert_eq!(out.stdout(), "kept\n", "{}", out.describe());
    let new_id =
        sb.engine_cmd(&["container", "inspect", "--format", "{{.Id}}", &name]).ok().stdout().trim().to_string();
    assert_ne!(new_id, old_id, "a new container");
    // A process that outlives tent removes the old container, as after a
    // rollback: it goes within moments.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while sb.engine_cmd(&["container", "inspect", &old_id]).output().code == Some(0) {
        assert!(std::time::Instant::now() < until, "the stuck container {old_id} is still there after 60 s");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let list = sb.tent(&["snapshot", &name, "--list", "--json"]).ok();
    assert!(list.stdout().contains("\"kind\": \"rescue\""), "{}", list.describe());
    assert_eq!(listed_stuck(&sb, &name), Some(false));

    // A box that is not stuck is refused and left as it was.
    let out = sb.tent(&["rescue", &name]).code(2);
    assert!(out.stderr.contains("is not stuck"), "{}", out.describe());
    let same = sb.engine_cmd(&["container", "inspect", "--format", "{{.Id}}", &name]).ok().stdout().trim().to_string();
    assert_eq!(same, new_id);
}
