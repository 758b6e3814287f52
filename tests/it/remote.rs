//! Boxes on a remote engine (issue 21, phase 1), over the real ssh transport:
//! `tent-remote`'s rootless podman service on 127.0.0.1:2222, reached with
//! `CONTAINER_HOST=ssh://…` and a key (scripts/setup-engines, docs/testing.md),
//! from root and from the plain user tent-test. A real second store; never a
//! mock engine. Each test runs for the caller whose engine is enabled
//! (`podman-root` for root, `podman-rootless` for tent-test).

use std::process::Command;

use crate::harness::{BUSYBOX, Done, Engine, Run, Sandbox, enabled, tent_bin};

const REMOTE_USER: &str = "tent-remote";
const SSH_PORT: u16 = 2222;
const KEYS: &str = "/var/lib/tent-test/remote";

fn remote_url() -> String {
    let out = Command::new("id").args(["-u", REMOTE_USER]).output().expect("id");
    let uid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    format!("ssh://{REMOTE_USER}@127.0.0.1:{SSH_PORT}/run/user/{uid}/podman/podman.sock")
}

/// A sandbox of `engine`'s caller (root or tent-test) that also reaches the
/// other machine; removes the remote boxes it named, even when a test fails.
struct Remote {
    sb: Sandbox,
    env: Vec<String>,
    names: std::sync::Mutex<Vec<String>>,
}

impl Remote {
    /// None when the caller's engine is not tested; panics when the other
    /// machine is missing and every engine is required (CI).
    fn new(engine: Engine) -> Option<Self> {
        if !enabled(engine) {
            return None;
        }
        let sb = Sandbox::new(engine);
        let who = if engine.as_root() { "root" } else { crate::harness::TEST_USER };
        let env = vec![format!("CONTAINER_HOST={}", remote_url()), format!("CONTAINER_SSHKEY={KEYS}/{who}")];
        // The other machine's host key, as a first ssh login would have kept it.
        let host_key = std::fs::read_to_string("/etc/ssh/ssh_host_ed25519_key.pub").unwrap_or_default();
        let key: Vec<&str> = host_key.split_whitespace().take(2).collect();
        sb.sh(&format!(
            "mkdir -p ~/.ssh && chmod 700 ~/.ssh && echo '[127.0.0.1]:{SSH_PORT} {}' > ~/.ssh/known_hosts",
            key.join(" ")
        ))
        .ok();
        let remote = Remote { sb, env, names: Default::default() };
        let probe = remote.engine(&["image", "exists", BUSYBOX]).output();
        if probe.code != Some(0) {
            let why = format!("no remote podman with {BUSYBOX} at {} ({})", remote_url(), probe.stderr.trim());
            assert!(
                std::env::var("TENT_TEST_REQUIRE").map_or(true, |v| v != "1"),
                "the other machine is required (TENT_TEST_REQUIRE=1): {why}; run scripts/setup-engines"
            );
            eprintln!("skipping: {why}");
            return None;
        }
        Some(remote)
    }

    fn name(&self, prefix: &str) -> String {
        let name = self.sb.name(prefix);
        self.names.lock().unwrap().push(name.clone());
        name
    }

    /// `program ARGS` as the caller, pointed at the other machine.
    fn command(&self, program: &str, args: &[&str]) -> Run {
        let mut c = self.sb.command("env");
        c.args(&self.env).arg(program).args(args);
        Run::from(c)
    }

    /// tent against the other machine.
    fn tent(&self, args: &[&str]) -> Run {
        self.command(&tent_bin().display().to_string(), args)
    }

    /// podman against the other machine.
    fn engine(&self, args: &[&str]) -> Run {
        self.command("podman", args)
    }

    fn remote_box_exists(&self, name: &str) -> bool {
        self.engine(&["container", "exists", name]).output().code == Some(0)
    }

    fn local_box_exists(&self, name: &str) -> bool {
        self.sb.engine_cmd(&["container", "exists", name]).output().code == Some(0)
    }

    fn home_volume(&self) -> String {
        format!("tent-home-{}", if self.sb.engine.as_root() { "root" } else { crate::harness::TEST_USER })
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        let names: Vec<String> = self.names.lock().unwrap().drain(..).collect();
        for name in &names {
            let _ = self.engine(&["rm", "--force", "--", name]).output();
        }
        // tent's images of those boxes, when a test failed before its `tent rm`.
        let images = self.engine(&["images", "--format", "{{.Repository}}:{{.Tag}}"]).output().stdout();
        for image in images.lines().filter(|i| names.iter().any(|n| i.contains(&format!("/tent-snapshot/podman/{n}:"))))
        {
            let _ = self.engine(&["rmi", "--", image]).output();
        }
    }
}

fn stderr_has(done: &Done, needle: &str) -> bool {
    done.stderr.contains(needle)
}

/// create, run (exit status, stdin to EOF), stop, run again (started, the
/// home volume kept), list, rm: all on the other machine, nothing local.
fn lifecycle_on_the_other_machine(engine: Engine) {
    let Some(r) = Remote::new(engine) else { return };
    let name = r.name("remote");
    r.tent(&["create", &name, "--image", BUSYBOX]).ok();
    assert!(r.remote_box_exists(&name), "the box is on the other machine");
    assert!(!r.local_box_exists(&name), "and not on this one");
    assert!(!r.sb.state_dir(&name).exists(), "no local state of a remote box");
    let labels = r.engine(&["inspect", "--format", "{{json .Mounts}}", &name]).ok().stdout();
    assert!(labels.contains(&r.home_volume()), "the home is the volume there: {labels}");
    assert!(!labels.contains("/run/host") && !labels.contains(".local/state"), "nothing local mounted: {labels}");

    // The exit status comes back; stdin reaches the command and ends.
    r.tent(&["run", &name, "--", "sh", "-c", "exit 7"]).code(7);
    let echoed = r.tent(&["run", &name, "--", "cat"]).stdin("through ssh\n").ok();
    assert_eq!(echoed.stdout(), "through ssh\n");
    let who = r.tent(&["run", &name, "--", "sh", "-c", "id -u; echo $HOME; pwd"]).ok();
    let lines: Vec<String> = who.stdout().lines().map(str::to_string).collect();
    assert_eq!(lines[0], r.sb.uid().to_string(), "runs as the caller's uid: {}", who.describe());
    assert_eq!(lines[1], r.sb.home.display().to_string());
    assert_eq!(lines[2], r.sb.home.display().to_string(), "starts in the home");

    // The home outlives a stop and a start.
    let file = format!("kept-{name}");
    r.tent(&["run", &name, "--", "sh", "-c", &format!("echo kept > ~/{file}")]).ok();
    r.tent(&["stop", &name]).ok();
    let state = r.engine(&["inspect", "--format", "{{.State.Running}}", &name]).ok().stdout();
    assert_eq!(state.trim(), "false", "stopped on the other machine");
    let again = r.tent(&["run", &name, "--", "sh", "-c", &format!("cat ~/{file} && rm ~/{file}")]).ok();
    assert_eq!(again.stdout(), "kept\n", "{}", again.describe());

    // A real terminal: the engine's exec gets one when tent has one.
    let tty = r
        .command(
            "script",
            &["-qec", &format!("{} run {name} -- sh -c 'tty; exit 3'", tent_bin().display()), "/dev/null"],
        )
        .code(3);
    assert!(tty.stdout().contains("/dev/pts/"), "{}", tty.describe());

    // A snapshot is the engine's commit there; the rollback's new container
    // is made there too, with the same home.
    r.tent(&["run", "--as-root", &name, "--", "sh", "-c", "echo one > /etc/marker"]).ok();
    r.tent(&["snapshot", &name, "before"]).ok();
    r.tent(&["run", "--as-root", &name, "--", "sh", "-c", "echo two > /etc/marker"]).ok();
    r.tent(&["run", &name, "--", "sh", "-c", "echo home > ~/rolled"]).ok();
    r.tent(&["rollback", &name, "before", "--yes"]).ok();
    let back = r.tent(&["run", &name, "--", "sh", "-c", "cat /etc/marker ~/rolled && rm ~/rolled"]).ok();
    assert_eq!(back.stdout(), "one\nhome\n", "{}", back.describe());

    // A clone is made there from the box's commit.
    let copy = r.name("remote-copy");
    r.tent(&["clone", &name, &copy]).ok();
    assert!(r.remote_box_exists(&copy) && !r.local_box_exists(&copy), "the clone is there too");
    assert_eq!(r.tent(&["run", &copy, "--", "cat", "/etc/marker"]).ok().stdout(), "one\n");
    r.tent(&["rm", "--force", &copy]).ok();

    let list = r.tent(&["list", "--json"]).ok().stdout();
    assert!(list.contains(&format!("\"{name}\"")), "{list}");

    r.tent(&["rm", "--force", &name]).ok();
    assert!(!r.remote_box_exists(&name), "removed there");
    r.engine(&["volume", "exists", &r.home_volume()]).ok();
}

/// What needs this machine is refused before anything is made, with the
/// reason and what to do instead.
fn local_things_are_refused(engine: Engine) {
    let Some(r) = Remote::new(engine) else { return };
    let name = r.name("refused");
    let srv = r.sb.home.join("srv");
    std::fs::create_dir_all(&srv).unwrap();
    let volume = format!("{}:/srv", srv.display());
    let own_home = r.sb.home.join("own").display().to_string();
    let mut cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--nvidia"], "NVIDIA driver"),
        (vec!["--home", &own_home], "a folder on this machine"),
        (vec!["--volume", &volume], "mounts a path"),
    ];
    if !engine.as_root() {
        cases.push((vec!["--root"], "through sudo"));
    }
    for (flags, why) in cases {
        let mut args = vec!["create", name.as_str(), "--image", BUSYBOX];
        args.extend(&flags);
        let done = r.tent(&args).output();
        assert_ne!(done.code, Some(0), "{flags:?} is refused: {}", done.describe());
        assert!(stderr_has(&done, why), "{flags:?} says why: {}", done.describe());
        assert!(!r.remote_box_exists(&name), "{flags:?}: nothing was made there");
        assert!(!r.local_box_exists(&name), "{flags:?}: nor here");
        let rootful = Command::new("podman").args(["container", "exists", &name]).status().unwrap();
        assert!(!rootful.success(), "{flags:?}: nor in root's store here (sudo drops CONTAINER_HOST)");
    }
    assert!(!std::path::Path::new(&own_home).exists(), "--home made no folder here");
    // A named volume of that machine is fine.
    r.tent(&["create", &name, "--image", BUSYBOX, "--no-start", "--volume", &format!("it-vol-{name}:/data")]).ok();
    r.tent(&["rm", "--force", &name]).ok();
    let _ = r.engine(&["volume", "rm", "--force", &format!("it-vol-{name}")]).output();
}

/// The same-name clash of issue 21: a local box and a remote box called the
/// same. `run` reaches the remote one (it used to join the local one), and
/// `stop` and `rm` of the remote one leave the local one running, ready and
/// with its state.
fn a_local_box_of_the_same_name_is_untouched(engine: Engine) {
    let Some(r) = Remote::new(engine) else { return };
    let name = r.name("clash");
    r.sb.tent(&["create", &name, "--image", BUSYBOX, "--env", "WHERE=local"]).ok();
    r.tent(&["create", &name, "--image", BUSYBOX, "--env", "WHERE=remote"]).ok();
    let where_ = |run: Run| run.ok().stdout().trim().to_string();
    assert_eq!(where_(r.tent(&["run", &name, "--", "sh", "-c", "echo $WHERE"])), "remote");
    assert_eq!(where_(r.sb.tent(&["run", &name, "--", "sh", "-c", "echo $WHERE"])), "local");

    let state = r.sb.state_dir(&name);
    let ready_before = std::fs::read(state.join("ready")).expect("the local box is ready");
    r.tent(&["stop", &name]).ok();
    r.tent(&["rm", "--force", &name]).ok();
    assert!(!r.remote_box_exists(&name));
    assert_eq!(std::fs::read(state.join("ready")).ok(), Some(ready_before), "the local box's readiness is kept");
    let running = r.sb.engine_cmd(&["inspect", "--format", "{{.State.Running}}", &name]).ok().stdout();
    assert_eq!(running.trim(), "true", "the local box still runs");
    // Still reached at once, by the join path, with no new start.
    assert_eq!(where_(r.sb.tent(&["run", &name, "--", "sh", "-c", "echo $WHERE"])), "local");
    r.sb.tent(&["rm", "--force", &name]).ok();
}

/// `tent save` on one endpoint and `tent load` on another move a box between
/// machines, its system with it: here to there, and back without the base
/// image both have.
fn save_here_load_there(engine: Engine) {
    let Some(r) = Remote::new(engine) else { return };
    let here = r.sb.name("moved-here");
    let there = r.name("moved-there");
    let back = r.sb.name("moved-back");
    r.sb.tent(&["create", &here, "--image", BUSYBOX]).ok();
    r.sb.tent(&["run", "--as-root", &here, "--", "sh", "-c", "echo made-here > /etc/moved"]).ok();
    let archive = r.sb.home.join("moved.tar");
    let archive = archive.to_str().unwrap();
    r.sb.tent(&["save", &here, "-o", archive]).ok();
    r.tent(&["load", archive, "--name", &there]).ok();
    assert!(r.remote_box_exists(&there) && !r.local_box_exists(&there), "loaded on the other machine");
    let moved = r.tent(&["run", &there, "--", "cat", "/etc/moved"]).ok();
    assert_eq!(moved.stdout(), "made-here\n");

    r.tent(&["run", "--as-root", &there, "--", "sh", "-c", "echo and-there >> /etc/moved"]).ok();
    std::fs::remove_file(archive).unwrap();
    // Back without the image both machines have (the box's busybox): only
    // what the box changed crosses.
    let out = r.tent(&["save", &there, "-o", archive, "--without-base"]).ok();
    assert!(out.stderr.contains(&format!("without the layer of {BUSYBOX}")), "{}", out.describe());
    r.sb.tent(&["load", archive, "--name", &back]).ok();
    let moved = r.sb.tent(&["run", &back, "--", "cat", "/etc/moved"]).ok();
    assert_eq!(moved.stdout(), "made-here\nand-there\n");

    // `tent rm` of a loaded box leaves none of tent's images behind, there
    // or here (the loaded image is labelled with the box it was saved from),
    // nor after a rollback took the box off the loaded image.
    r.tent(&["snapshot", &there, "s1"]).ok();
    r.tent(&["rollback", &there, "s1", "--yes"]).ok();
    r.tent(&["rm", "--force", &there]).ok();
    r.sb.tent(&["rm", "--force", &back]).ok();
    for (images, name) in [
        (r.engine(&["images", "--format", "{{.Repository}}:{{.Tag}}"]), &there),
        (r.sb.engine_cmd(&["images", "--format", "{{.Repository}}:{{.Tag}}"]), &back),
    ] {
        let images = images.ok().stdout();
        let left: Vec<&str> = images.lines().filter(|l| l.contains(&format!("/{name}:"))).collect();
        assert!(left.is_empty(), "images of {name} left behind: {left:?}");
    }
}

/// `tent export --bin` from a remote box writes a wrapper that records the
/// endpoint: from a plain shell with no variable set it reaches that box,
/// with stdin, stdout and the exit status. App exports are refused with the
/// way out (ssh -X).
fn an_exported_command_reaches_the_box_from_a_plain_shell(engine: Engine) {
    let Some(r) = Remote::new(engine) else { return };
    let name = r.name("exported");
    r.tent(&["create", &name, "--image", BUSYBOX, "--env", "WHERE=remote"]).ok();
    let command = format!("{name}-sh");
    r.tent(&["export", &name, "--bin", "sh", "--name", &command]).ok();
    let wrapper = r.sb.home.join(".local/bin").join(&command);
    let wrapper = wrapper.to_str().unwrap();
    // The sandbox's own environment: no CONTAINER_HOST, no key.
    let mut plain = r.sb.command(wrapper);
    plain.args(["-c", "cat; echo \"$WHERE\"; exit 5"]);
    let done = Run::from(plain).stdin("from a plain shell\n").code(5);
    assert_eq!(done.stdout(), "from a plain shell\nremote\n", "{}", done.describe());

    let app = r.tent(&["export", &name, "--app", "sh"]).output();
    assert_ne!(app.code, Some(0), "{}", app.describe());
    assert!(stderr_has(&app, "ssh -X"), "says what to do: {}", app.describe());

    r.tent(&["unexport", &name, "--bin", &command]).ok();
    assert!(!std::path::Path::new(wrapper).exists(), "unexport removes the wrapper");
}

/// A tent.toml box that names its endpoint is made there by `tent apply`
/// run from a plain shell (only the ssh key set, as an agent would give it),
/// beside a box of the same file made here; the plan says where each one
/// goes; a second apply changes nothing; `--remove` removes both, each where
/// it lives. A value a box could have planted is refused before anything is
/// made.
fn apply_makes_a_box_at_its_endpoint(engine: Engine) {
    let Some(r) = Remote::new(engine) else { return };
    let far = r.name("apply-far");
    let near = r.sb.name("apply-near");
    let url = remote_url();
    let file = r.sb.home.join("tent.toml");
    std::fs::write(
        &file,
        format!(
            "[box.{far}]\nimage = \"{BUSYBOX}\"\nendpoint = \"{url}\"\nenv = {{ WHERE = \"there\" }}\n\
             export_bins = [{{ bin = \"sh\", name = \"{far}-sh\" }}]\n\n\
             [box.{near}]\nimage = \"{BUSYBOX}\"\nenv = {{ WHERE = \"here\" }}\n"
        ),
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let key = r.env[1].clone();
    let plain = |args: &[&str]| {
        let mut c = r.sb.command("env");
        c.arg(&key).arg(tent_bin()).args(args);
        Run::from(c)
    };

    let plan = plain(&["apply", file, "--dry-run"]).ok();
    let lines = plan.stdout();
    assert!(lines.contains(&format!("+ create {far} (image {BUSYBOX}) [on {url}]")), "{}", plan.describe());
    assert!(lines.contains(&format!("+ create {near} (image {BUSYBOX}) [on this machine]")), "{}", plan.describe());
    let json = plain(&["apply", file, "--dry-run", "--json"]).ok().stdout();
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let endpoints: Vec<(String, String)> = json["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["box"].as_str().unwrap().to_string(), a["endpoint"].as_str().unwrap().to_string()))
        .collect();
    assert!(endpoints.contains(&(far.clone(), url.clone())), "{endpoints:?}");
    assert!(endpoints.contains(&(near.clone(), "local".into())), "{endpoints:?}");
    assert!(!r.remote_box_exists(&far), "a dry run makes nothing");

    plain(&["apply", file]).ok();
    assert!(r.remote_box_exists(&far) && !r.local_box_exists(&far), "made on the other machine only");
    assert!(r.local_box_exists(&near) && !r.remote_box_exists(&near), "made here only");
    let there = r.tent(&["run", &far, "--", "sh", "-c", "echo $WHERE"]).ok();
    assert_eq!(there.stdout().trim(), "there", "{}", there.describe());
    assert_eq!(r.sb.tent(&["run", &near, "--", "sh", "-c", "echo $WHERE"]).ok().stdout().trim(), "here");

    // Its exported command records where the box lives: it works from a
    // plain shell with nothing set.
    let wrapper = r.sb.home.join(".local/bin").join(format!("{far}-sh"));
    let mut run = r.sb.command(&wrapper);
    run.args(["-c", "echo $WHERE; exit 4"]);
    let done = Run::from(run).code(4);
    assert_eq!(done.stdout(), "there\n", "{}", done.describe());

    // Written down again, the box keeps its endpoint.
    let written = r.tent(&["manifest", &far]).ok().stdout();
    assert!(written.contains(&format!("endpoint = \"{url}\"")), "{written}");

    let again = plain(&["apply", file]).ok();
    assert!(again.stderr.contains("nothing to do: 2 box(es) up to date"), "{}", again.describe());

    // A planted endpoint (one that would be ssh's option) is refused at its line.
    let hostile = r.sb.home.join("hostile.toml");
    std::fs::write(&hostile, format!("[box.{far}x]\nendpoint = \"ssh://me@-oProxyCommand=touch/s\"\n")).unwrap();
    let refused = plain(&["apply", hostile.to_str().unwrap(), "--yes"]).output();
    assert_ne!(refused.code, Some(0));
    assert!(refused.stderr.contains("hostile.toml:2:12: endpoint:"), "{}", refused.describe());

    // `connection` names a podman connection of the user's own config,
    // which podman resolves (its address and key); tent keys the box by it.
    // (Rootful podman 4.3 reads no containers.conf of root's home: the
    // plain user's only.)
    if !engine.as_root() {
        apply_through_a_connection(&r, &url);
    }

    // What needs this machine is refused before anything is made.
    let menu = r.sb.home.join("menu.toml");
    let app_box = format!("{far}y");
    std::fs::write(
        &menu,
        format!("[box.{app_box}]\nimage = \"{BUSYBOX}\"\nendpoint = \"{url}\"\nexport_apps = [\"sh\"]\n"),
    )
    .unwrap();
    let refused = plain(&["apply", menu.to_str().unwrap(), "--yes"]).output();
    assert_ne!(refused.code, Some(0));
    assert!(
        refused.stderr.contains(&format!("box \"{app_box}\" lives at {url}: export_apps")),
        "{}",
        refused.describe()
    );
    assert!(refused.stderr.contains("ssh -X"), "{}", refused.describe());
    assert!(!r.remote_box_exists(&app_box), "nothing was made there");

    plain(&["apply", file, "--remove", "--yes"]).ok();
    assert!(!r.remote_box_exists(&far), "removed there");
    assert!(!r.local_box_exists(&near), "and here");
    assert!(!wrapper.exists(), "with its exports");
}

/// `apply` of a box whose `connection` is a podman connection in the user's
/// containers.conf (podman resolves it; tent keys the box by its address).
fn apply_through_a_connection(r: &Remote, url: &str) {
    let who = crate::harness::TEST_USER;
    let conf_dir = r.sb.home.join(".config/containers");
    std::fs::create_dir_all(&conf_dir).unwrap();
    std::fs::write(
        conf_dir.join("containers.conf"),
        format!("[engine.service_destinations.it-other]\nuri = \"{url}\"\nidentity = \"{KEYS}/{who}\"\n"),
    )
    .unwrap();
    let config = r.sb.home.join(".config");
    let status = Command::new("chown").args(["-R", &format!("{who}:")]).arg(&config).status();
    assert!(status.unwrap().success());
    let named = r.name("apply-named");
    let conn = r.sb.home.join("conn.toml");
    std::fs::write(&conn, format!("[box.{named}]\nimage = \"{BUSYBOX}\"\nconnection = \"it-other\"\n")).unwrap();
    let conn = conn.to_str().unwrap();
    let plan = r.sb.tent(&["apply", conn, "--dry-run"]).ok();
    assert!(plan.stdout().contains(&format!("[on {url}]")), "the connection's address: {}", plan.describe());
    r.sb.tent(&["apply", conn]).ok();
    assert!(r.remote_box_exists(&named) && !r.local_box_exists(&named), "made through the connection");
    r.sb.tent(&["apply", conn, "--remove", "--yes"]).ok();
    assert!(!r.remote_box_exists(&named));
    std::fs::remove_dir_all(config).unwrap();
}

macro_rules! remote_tests {
    ($($test:ident),* $(,)?) => {
        mod from_root {
            $( #[test] fn $test() { super::$test(crate::harness::Engine::PodmanRoot) } )*
        }
        mod from_test_user {
            $( #[test] fn $test() { super::$test(crate::harness::Engine::PodmanRootless) } )*
        }
    };
}

remote_tests!(
    lifecycle_on_the_other_machine,
    local_things_are_refused,
    a_local_box_of_the_same_name_is_untouched,
    save_here_load_there,
    an_exported_command_reaches_the_box_from_a_plain_shell,
    apply_makes_a_box_at_its_endpoint,
);
