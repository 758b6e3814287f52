//! tent against Docker at another endpoint, through `DOCKER_HOST`: a second
//! dockerd on its own socket, data and exec root (scripts/setup-engines),
//! with a store of its own, as a build server's daemon would be. A real
//! second daemon; never a mock engine. The test user reaches it as the
//! docker group reaches the first one.

use crate::harness::{BUSYBOX, DOCKER, Done, Engine, Run, Sandbox, enabled, tent_bin};

/// The second daemon's socket (scripts/setup-engines).
const SOCK: &str = "/run/tent-test-docker2.sock";

fn address() -> String {
    format!("unix://{SOCK}")
}

/// A Docker sandbox that also reaches the second daemon; removes the boxes
/// it named there, even when a test fails.
struct Docker2 {
    sb: Sandbox,
    names: std::sync::Mutex<Vec<String>>,
}

impl Docker2 {
    fn new() -> Option<Self> {
        if !enabled(Engine::Docker) {
            return None;
        }
        let d = Docker2 { sb: Sandbox::new(Engine::Docker), names: Default::default() };
        let probe = d.engine(&["image", "inspect", BUSYBOX]).output();
        if probe.code != Some(0) {
            let why = format!("no second dockerd with {BUSYBOX} at {SOCK} ({})", probe.stderr.trim());
            assert!(
                std::env::var("TENT_TEST_REQUIRE").map_or(true, |v| v != "1"),
                "the second dockerd is required (TENT_TEST_REQUIRE=1): {why}; run scripts/setup-engines"
            );
            eprintln!("skipping: {why}");
            return None;
        }
        Some(d)
    }

    /// A name for a box on both daemons (the sandbox removes the local one).
    fn name(&self, prefix: &str) -> String {
        let name = self.sb.name(prefix);
        self.names.lock().unwrap().push(name.clone());
        name
    }

    fn with_host(&self, program: &str, args: &[&str]) -> Run {
        let mut c = self.sb.command("env");
        c.arg(format!("DOCKER_HOST={}", address())).arg(program).args(args);
        Run::from(c)
    }

    /// tent with DOCKER_HOST at the second daemon.
    fn tent(&self, args: &[&str]) -> Run {
        self.with_host(&tent_bin().display().to_string(), args)
    }

    /// The second daemon's own client.
    fn engine(&self, args: &[&str]) -> Run {
        self.with_host(DOCKER, args)
    }

    fn there(&self, name: &str) -> Option<String> {
        let done = self.engine(&["container", "inspect", "--format", "{{.State.Running}}", name]).output();
        (done.code == Some(0)).then(|| done.stdout().trim().to_string())
    }

    fn here(&self, name: &str) -> Option<String> {
        let done = self.sb.engine_cmd(&["container", "inspect", "--format", "{{.State.Running}}", name]).output();
        (done.code == Some(0)).then(|| done.stdout().trim().to_string())
    }
}

impl Drop for Docker2 {
    fn drop(&mut self) {
        let names: Vec<String> = self.names.lock().unwrap().drain(..).collect();
        for name in &names {
            let _ = self.engine(&["rm", "--force", "--", name]).output();
        }
        let images = self.engine(&["images", "--format", "{{.Repository}}:{{.Tag}}"]).output().stdout();
        for image in images.lines().filter(|i| names.iter().any(|n| i.contains(&format!("/docker/{n}:")))) {
            let _ = self.engine(&["rmi", "--", image]).output();
        }
    }
}

fn says(done: &Done, needle: &str) -> bool {
    done.stdout().contains(needle) || done.stderr.contains(needle)
}

/// create, run (exit status, stdin), stop, start with the home kept, list,
/// rm: all on the second daemon, while a local Docker box of the same name
/// keeps running, ready, with its state; then `tent apply` with the daemon's
/// address as a box's `endpoint`.
#[test]
fn a_box_on_another_docker_daemon_leaves_the_local_one_alone() {
    let Some(d) = Docker2::new() else { return };
    let name = d.name("docker2");
    d.sb.tent(&["create", &name, "--image", BUSYBOX, "--env", "WHERE=local"]).ok();
    let made = d.tent(&["create", &name, "--image", BUSYBOX, "--env", "WHERE=remote"]).ok();
    assert!(says(&made, &format!("docker at {} (from DOCKER_HOST)", address())), "{}", made.describe());
    assert_eq!(d.there(&name).as_deref(), Some("true"), "made and started on the second daemon");
    let mounts = d.engine(&["inspect", "--format", "{{json .Mounts}}", &name]).ok().stdout();
    assert!(mounts.contains("tent-home-") && !mounts.contains(".local/state"), "nothing local mounted: {mounts}");

    let where_ = |run: Run| run.ok().stdout().trim().to_string();
    assert_eq!(where_(d.tent(&["run", &name, "--", "sh", "-c", "echo $WHERE"])), "remote");
    assert_eq!(where_(d.sb.tent(&["run", &name, "--", "sh", "-c", "echo $WHERE"])), "local");
    d.tent(&["run", &name, "--", "sh", "-c", "exit 6"]).code(6);
    assert_eq!(d.tent(&["run", &name, "--", "cat"]).stdin("to the daemon\n").ok().stdout(), "to the daemon\n");

    let list = d.tent(&["list", "--json"]).ok().stdout();
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let entry = list.as_array().unwrap().iter().find(|b| b["name"] == name.as_str()).expect("listed");
    assert_eq!(entry["endpoint"], address().as_str(), "{entry}");

    // The home (a volume there) outlives a stop and a start.
    let ready = std::fs::read(d.sb.state_dir(&name).join("ready")).expect("the local box is ready");
    d.tent(&["run", &name, "--", "sh", "-c", &format!("echo kept > ~/kept-{name}")]).ok();
    d.tent(&["stop", &name]).ok();
    assert_eq!(d.there(&name).as_deref(), Some("false"), "stopped there");
    assert_eq!(d.here(&name).as_deref(), Some("true"), "the local box still runs");
    let kept = d.tent(&["run", &name, "--", "sh", "-c", &format!("cat ~/kept-{name} && rm ~/kept-{name}")]).ok();
    assert_eq!(kept.stdout(), "kept\n", "{}", kept.describe());

    d.tent(&["rm", "--force", &name]).ok();
    assert_eq!(d.there(&name), None, "removed there");
    assert_eq!(d.here(&name).as_deref(), Some("true"), "the local box still runs");
    assert_eq!(std::fs::read(d.sb.state_dir(&name).join("ready")).ok(), Some(ready), "with its readiness");
    assert_eq!(where_(d.sb.tent(&["run", &name, "--", "sh", "-c", "echo $WHERE"])), "local");

    // A manifest's box at the second daemon, from a shell with no DOCKER_HOST.
    let far = d.name("docker2-apply");
    let file = d.sb.home.join("tent.toml");
    std::fs::write(&file, format!("[box.{far}]\nimage = \"{BUSYBOX}\"\nendpoint = \"{}\"\n", address())).unwrap();
    let file = file.to_str().unwrap();
    let plan = d.sb.tent(&["apply", file, "--dry-run"]).ok();
    assert!(plan.stdout().contains(&format!("[on {}]", address())), "{}", plan.describe());
    d.sb.tent(&["apply", file]).ok();
    assert_eq!(d.there(&far).as_deref(), Some("true"), "applied on the second daemon");
    assert_eq!(d.here(&far), None, "and not here");
    let again = d.sb.tent(&["apply", file]).ok();
    assert!(again.stderr.contains("nothing to do: 1 box(es) up to date"), "{}", again.describe());
    d.sb.tent(&["apply", file, "--remove", "--yes"]).ok();
    assert_eq!(d.there(&far), None, "removed there");
}
