//! A box on another engine endpoint and a local box of the same name (issue
//! 21, phase 0). The other endpoint is a second podman service with a store
//! of its own on a unix socket, started here as the sandbox's user and
//! reached with `CONTAINER_HOST`, as a user points tent at another machine.
//! `tent run`, `stop`, `doctor --fix` and `rm` against the remote box must
//! leave the local box, its state, its running command and its exports as
//! they were: before the fix, run joined the local box, stop ended its
//! command and reset its readiness, rm deleted its state and exports, and
//! doctor --fix deleted its export.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{BOOKWORM, BUSYBOX, Engine, Run, Sandbox, enabled, pids_of, tent_bin};

mod podman_root {
    #[test]
    fn a_remote_box_of_the_same_name_leaves_the_local_one_alone() {
        if crate::harness::enabled(crate::harness::Engine::PodmanRoot) {
            super::same_name_clash(crate::harness::Engine::PodmanRoot)
        }
    }
}

mod podman_rootless {
    #[test]
    fn a_remote_box_of_the_same_name_leaves_the_local_one_alone() {
        if crate::harness::enabled(crate::harness::Engine::PodmanRootless) {
            super::same_name_clash(crate::harness::Engine::PodmanRootless)
        }
    }
}

/// The second podman service: its own store and socket under the sandbox,
/// killed (and its containers with it) when the test ends.
struct Service {
    child: Child,
    socket: PathBuf,
    root: PathBuf,
    runroot: PathBuf,
}

impl Service {
    fn start(sb: &Sandbox, dir: &Path) -> Service {
        let root = dir.join("store");
        let runroot = dir.join("run");
        let socket = dir.join("podman.sock");
        // Busybox is small: the other store gets a copy of it.
        let archive = dir.join("busybox.tar");
        sb.engine_cmd(&["save", "--quiet", "--output", archive.to_str().unwrap(), BUSYBOX]).ok();
        let mut load = sb.command("podman");
        load.args(["--root", root.to_str().unwrap(), "--runroot", runroot.to_str().unwrap()]);
        load.args(["load", "--quiet", "--input", archive.to_str().unwrap()]);
        Run::from(load).ok();
        let mut c = sb.command("podman");
        c.args(["--root", root.to_str().unwrap(), "--runroot", runroot.to_str().unwrap()]);
        c.args(["system", "service", "--time=0", &format!("unix://{}", socket.display())]);
        c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        let child = c.spawn().unwrap();
        let service = Service { child, socket, root, runroot };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if service.podman(sb, &["version"]).output().code == Some(0) {
                return service;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("the second podman service did not answer on {}", service.socket.display());
    }

    fn url(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// podman, as a client of this service.
    fn podman(&self, sb: &Sandbox, args: &[&str]) -> Run {
        let mut c = sb.command("podman");
        c.args(["--url", &self.url()]);
        c.args(args);
        Run::from(c)
    }

    /// tent with `CONTAINER_HOST` set to this service.
    fn tent(&self, sb: &Sandbox, args: &[&str]) -> Run {
        let mut c = sb.command("env");
        c.arg(format!("CONTAINER_HOST={}", self.url()));
        c.arg(tent_bin());
        c.args(args);
        Run::from(c)
    }

    /// Removes the service's containers and ends it (and the podman that
    /// runuser started, which outlives a killed runuser). The sandbox's
    /// folder, with the store, goes when the sandbox is dropped.
    fn stop(&mut self, sb: &Sandbox) {
        let _ = self.podman(sb, &["rm", "--all", "--force", "--time", "0"]).output();
        let url = self.url();
        let argv = [
            "podman",
            "--root",
            self.root.to_str().unwrap(),
            "--runroot",
            self.runroot.to_str().unwrap(),
            "system",
            "service",
            "--time=0",
            url.as_str(),
        ];
        for pid in pids_of(&argv) {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn state_of(run: Run) -> String {
    let out = run.output();
    out.stdout().trim().to_string()
}

fn same_name_clash(engine: Engine) {
    assert!(enabled(engine));
    let sb = Sandbox::new(engine);
    let name = sb.create("clash", BOOKWORM, &[]);
    // Short: podman refuses a runroot over 50 characters.
    let remote_dir = PathBuf::from(format!("/tmp/trl-{}-{}", std::process::id(), name.len() + engine as usize));
    let _ = std::fs::remove_dir_all(&remote_dir);
    std::fs::create_dir_all(&remote_dir).unwrap();
    if !engine.as_root() {
        let status = std::process::Command::new("chown")
            .arg(format!("{}:", crate::harness::TEST_USER))
            .arg(&remote_dir)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let mut service = Service::start(&sb, &remote_dir);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&sb, &service, &name)));
    service.stop(&sb);
    let _ = std::fs::remove_dir_all(&remote_dir);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

fn check(sb: &Sandbox, service: &Service, name: &str) {
    // The local box: running, ready, with an export and a running command.
    sb.tent(&["export", name, "--bin", "cat", "--name", &format!("{name}-cat")]).ok();
    let wrapper = sb.home.join(".local/bin").join(format!("{name}-cat"));
    let receipt = sb.home.join(".local/state/tent/exports").join(sb.engine.scope()).join(format!("{name}.json"));
    let state = sb.state_dir(name);
    assert!(wrapper.is_file() && receipt.is_file(), "the local export is there");
    assert!(state.join("ready").is_file(), "the local box is ready");
    let seconds = format!("{}{:03}", 80_000 + std::process::id() % 10_000, name.len());
    let mut job = sb.command(tent_bin());
    job.args(["run", name, "--", "sleep", &seconds]);
    job.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    let mut job = job.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while pids_of(&["sleep", &seconds]).is_empty() {
        assert!(Instant::now() < deadline, "the local job did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    // A second command through the engine's exec: its client runs on the
    // host, where a stop that took it for the remote box's would end it.
    let exec_seconds = format!("{}{:03}", 90_000 + std::process::id() % 10_000, name.len());
    let mut exec_job = sb.command("env");
    exec_job.args(["TENT_EXEC=engine"]).arg(tent_bin()).args(["run", name, "--", "sleep", &exec_seconds]);
    exec_job.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    let mut exec_job = exec_job.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while pids_of(&["sleep", &exec_seconds]).is_empty() {
        assert!(Instant::now() < deadline, "the local exec job did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let job_alive = || !pids_of(&["sleep", &seconds]).is_empty() && !pids_of(&["sleep", &exec_seconds]).is_empty();

    // The remote box of the same name: a tent box as far as labels go.
    let uid = sb.uid().to_string();
    service
        .podman(
            sb,
            &[
                "run",
                "--detach",
                "--name",
                name,
                "--label",
                "tent.format=1",
                "--label",
                &format!("tent.uid={uid}"),
                "--network",
                "none",
                BUSYBOX,
                "sleep",
                "100000",
            ],
        )
        .ok();
    let local_state = || state_of(sb.engine_cmd(&["inspect", "--format", "{{.State.Status}}", name]));
    let remote_state = || state_of(service.podman(sb, &["inspect", "--format", "{{.State.Status}}", name]));
    assert_eq!(remote_state(), "running");

    let mut failures: Vec<String> = Vec::new();
    let mut expect = |ok: bool, what: &str| {
        if !ok {
            failures.push(what.to_string());
        }
    };

    // list says where the box lives.
    let out = service.tent(sb, &["list", "--json"]).output();
    let list: serde_json::Value = serde_json::from_slice(out.stdout_bytes()).unwrap_or_default();
    let entry = list.as_array().and_then(|l| l.iter().find(|e| e["name"] == name)).cloned().unwrap_or_default();
    expect(entry["endpoint"] == service.url(), &format!("list --json names the endpoint: {entry}"));
    let table = service.tent(sb, &["list"]).output().stdout();
    expect(table.contains("ENDPOINT") && table.contains(&service.url()), &format!("the table shows it: {table}"));

    // tent's own --url reaches the same box, with no variable set.
    let out = sb.tent(&["--url", &service.url(), "list", "--json"]).output();
    let list: serde_json::Value = serde_json::from_slice(out.stdout_bytes()).unwrap_or_default();
    let found = list.as_array().and_then(|l| l.iter().find(|e| e["name"] == name)).cloned().unwrap_or_default();
    expect(found["endpoint"] == service.url() && found["image"] == entry["image"], &format!("--url lists it: {found}"));
    let out = sb.tent(&["--url", &service.url(), "run", name, "--", "true"]).output();
    expect(out.stderr.contains("(from --url)"), &format!("--url's refusal names it: {}", out.stderr));

    // run: refused, naming the endpoint; never the local box.
    let out = service.tent(sb, &["run", name, "--", "sh", "-c", "echo joined-$TENT_BOX"]).output();
    expect(out.code != Some(0), &format!("run against the remote box is refused\n{}", out.describe()));
    expect(!out.stdout().contains("joined-"), "run never ran in the local box");
    expect(out.stderr.contains(&service.url()), &format!("the refusal names the endpoint: {}", out.stderr));

    // stop: the remote box stops; the local one, its job and readiness stay.
    let out = service.tent(sb, &["stop", name]).output();
    expect(out.code == Some(0), &format!("stop works on the remote box\n{}", out.describe()));
    expect(remote_state() == "exited", "the remote box is stopped");
    expect(local_state() == "running", "the local box still runs after stop");
    expect(job_alive(), "the local jobs (joined and through the engine's exec) survive stop");
    expect(state.join("ready").is_file(), "the local readiness survives stop");

    // doctor --fix: the local box's export is not the remote's business.
    let out = service.tent(sb, &["doctor", "--fix"]).output();
    expect(wrapper.is_file(), &format!("doctor --fix keeps the local export\n{}", out.describe()));
    expect(receipt.is_file(), "doctor --fix keeps the local receipt");
    expect(
        out.stderr.contains("not checked") && out.stderr.contains("without CONTAINER_HOST"),
        &format!("doctor says the local export was not checked, and how to: {}", out.stderr),
    );

    // rm: the remote box goes; the local state and exports stay.
    let out = service.tent(sb, &["rm", "--force", "--yes", name]).output();
    expect(out.code == Some(0), &format!("rm works on the remote box\n{}", out.describe()));
    expect(service.podman(sb, &["container", "exists", name]).output().code == Some(1), "the remote box is gone");
    expect(local_state() == "running", "the local box still runs after rm");
    expect(state.join("ready").is_file(), "the local state survives rm");
    expect(wrapper.is_file() && receipt.is_file(), "the local export survives rm");
    expect(job_alive(), "the local jobs survive rm");

    // And the local box still answers, through its own tent.
    let out = sb.tent(&["run", name, "--", "cat", "/etc/hostname"]).output();
    expect(out.code == Some(0), &format!("the local box still runs commands\n{}", out.describe()));

    for job in [&mut job, &mut exec_job] {
        let _ = job.kill();
        let _ = job.wait();
    }
    assert!(failures.is_empty(), "{} failure(s):\n- {}", failures.len(), failures.join("\n- "));
}
