//! Atomic boxes on real engines (issue 12): snapshots and rollback (system
//! restored; home, host name and exports kept), upgrades rolled back on
//! failure and undone on request, clone, save and load offline without the
//! base image, a box file without its base image's layers, and SIGKILL
//! during a rollback.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::engine_tests;
use crate::harness::{BOOKWORM, BUSYBOX, Engine, Sandbox, eventually, tent_bin};

engine_tests!(
    snapshot_rollback_keeps_home_and_exports,
    upgrade_rolled_back_on_failure_and_undone,
    upgrade_running_boxes_and_notify_a_rollback,
    clone_copies_the_system,
    save_and_load_offline,
    a_box_saved_without_its_base_loads_only_where_the_base_is,
    killed_rollback_leaves_a_working_box,
    a_swap_killed_with_the_old_box_aside_is_undone
);

/// Removes a test's snapshot images after its boxes (the sandbox removes
/// only containers). Declared after the sandbox, so it runs first.
pub(crate) struct Images<'a> {
    pub(crate) sb: &'a Sandbox,
    pub(crate) boxes: Vec<String>,
}

impl Drop for Images<'_> {
    fn drop(&mut self) {
        for name in &self.boxes {
            let _ = self.sb.engine_cmd(&["rm", "--force", name]).output();
            // A swap's temporary containers, which a failed test may leave.
            // (No asserting here: a panic while unwinding would abort.)
            let all = self.sb.engine_cmd(&["ps", "--all", "--format", "{{.Names}}"]).output().stdout();
            for leftover in all.lines().filter(|l| l.starts_with(&format!("{name}-tent-"))) {
                let _ = self.sb.engine_cmd(&["rm", "--force", leftover]).output();
            }
        }
        for name in &self.boxes {
            let label = format!("label=tent.snapshot.box={name}");
            let out =
                self.sb.engine_cmd(&["images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", &label]).output();
            for reference in out.stdout().lines().filter(|l| l.contains("tent-snapshot/")) {
                let _ = self.sb.engine_cmd(&["rmi", reference]).output();
            }
        }
    }
}

pub(crate) fn snapshot_images(sb: &Sandbox, name: &str) -> Vec<String> {
    let label = format!("label=tent.snapshot.box={name}");
    let out = sb.engine_cmd(&["images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", &label]).ok();
    out.stdout().lines().filter(|l| l.contains("tent-snapshot/")).map(str::to_string).collect()
}

fn container_id(sb: &Sandbox, name: &str) -> String {
    sb.engine_cmd(&["container", "inspect", "--format", "{{.Id}}", name]).ok().stdout().trim().to_string()
}

/// Asserts that box `name` carries `tent.image-id`, naming the image the
/// engine says it has (what spares tent asking for its image).
fn names_its_image(sb: &Sandbox, name: &str) {
    let format = r#"{{index .Config.Labels "tent.image-id"}} {{.Image}}"#;
    let out = sb.engine_cmd(&["container", "inspect", "--format", format, name]).ok().stdout();
    let (label, image) = out.trim().split_once(' ').unwrap_or_else(|| panic!("{out:?}"));
    assert_eq!(label.len(), 64, "{out}");
    assert_eq!(label, image.trim_start_matches("sha256:"), "{name}: {out}");
}

fn in_box(sb: &Sandbox, name: &str, script: &str) -> String {
    sb.tent(&["run", name, "--as-root", "--", "sh", "-c", script]).ok().stdout()
}

/// The swap's temporary containers still there; on podman also those only in
/// its storage (a `create` killed half-way), which `ps --all` does not list.
fn leftovers(sb: &Sandbox, name: &str) -> Vec<String> {
    let mut args = vec!["ps", "--all", "--format", "{{.Names}}"];
    if sb.engine != Engine::Docker {
        args.push("--external");
    }
    let out = sb.engine_cmd(&args).ok();
    out.stdout().lines().filter(|l| l.starts_with(&format!("{name}-tent-"))).map(str::to_string).collect()
}

/// The old container of a finished swap goes after tent returned (issue
/// 24), and its journal with it: soon, and without another tent command.
fn swap_finished(sb: &Sandbox, name: &str) {
    let journal = sb.home.join(".local/state/tent/boxes").join(sb.engine.scope()).join("journal");
    let journals = || std::fs::read_dir(&journal).map(|d| d.count()).unwrap_or(0);
    let start = std::time::Instant::now();
    while (!leftovers(sb, name).is_empty() || journals() > 0) && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(leftovers(sb, name).is_empty(), "{:?}", leftovers(sb, name));
    assert_eq!(journals(), 0, "the journal of a finished swap is removed");
}

/// A command left running in a box outside any tent client (a daemon):
/// `sleep 4321` in a session of its own, started through `tent run`.
struct Daemon {
    pid: u32,
}

impl Daemon {
    fn start(sb: &Sandbox, name: &str) -> Daemon {
        let script = "setsid sleep 4321 </dev/null >/dev/null 2>&1 & echo $! > \"$HOME/daemon.pid\"";
        sb.tent(&["run", name, "--", "sh", "-c", script]).ok();
        let pid = std::fs::read_to_string(sb.home.join("daemon.pid")).unwrap().trim().parse().unwrap();
        let daemon = Daemon { pid };
        // `setsid` execs `sleep` after `$!` is known.
        let since = std::time::Instant::now();
        while !daemon.runs() && since.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(daemon.runs(), "the daemon runs (pid {pid})");
        daemon
    }

    fn runs(&self) -> bool {
        std::fs::read(format!("/proc/{}/cmdline", self.pid)).is_ok_and(|c| c == b"sleep\x004321\x00")
    }
}

fn snapshot_rollback_keeps_home_and_exports(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("snap", BOOKWORM, &[]);
    let _images = Images { sb: &sb, boxes: vec![name.clone()] };
    sb.tent(&["export", &name, "--bin", "/bin/hostname", "--name", "boxhost"]).ok();
    let wrapper = sb.home.join(".local/bin/boxhost");
    let host_before = crate::harness::Run::from(sb.command(&wrapper)).ok().stdout();

    let out = sb.tent(&["snapshot", &name, "base"]).ok();
    assert!(out.stderr.contains("took snapshot base"), "{}", out.describe());
    let list = sb.tent(&["snapshot", &name, "--list", "--json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&list.stdout()).unwrap();
    assert_eq!(json[0]["name"], "base");
    assert_eq!(json[0]["kind"], "user");
    assert!(json[0]["size"].as_u64().unwrap() > 0);
    let all: serde_json::Value = serde_json::from_str(&sb.tent(&["list", "--json"]).ok().stdout()).unwrap();
    let entry = all.as_array().unwrap().iter().find(|e| e["name"] == name.as_str()).unwrap();
    assert_eq!(entry["snapshots"], 1);

    // Change the system as root, and the home as the user.
    in_box(
        &sb,
        &name,
        "echo changed > /etc/tent-it-mark && mkdir -p /usr/share/tent-it && touch /usr/share/tent-it/x && rm /usr/bin/cmp",
    );
    sb.tent(&["run", &name, "--", "sh", "-c", "echo kept > \"$HOME/after-snapshot\""]).ok();
    let id_before = container_id(&sb, &name);
    // The command index follows: cmp is gone from it (within the init's
    // two-second round).
    let in_index = |cmd: &str| sb.tent(&["which", cmd]).output().stdout().starts_with(&format!("{name}\t"));
    assert!(eventually(15, || !in_index("cmp")), "tent which cmp: {}", sb.tent(&["which", "cmp"]).output().describe());

    // Off a terminal, only with --yes.
    let out = sb.tent(&["rollback", &name]).code(2);
    assert!(out.stderr.contains("--yes"), "{}", out.describe());

    // A command left running in the box, outside any tent client (a
    // daemon): the rollback ends it with the old box, whether the engine or
    // tent stops that box.
    let daemon = Daemon::start(&sb, &name);

    let out = sb.tent(&["rollback", &name, "--yes"]).ok();
    assert!(out.stderr.contains("is back on snapshot base"), "{}", out.describe());
    assert!(!daemon.runs(), "the old box's daemon ({}) is gone", daemon.pid);
    let check = in_box(
        &sb,
        &name,
        "ls /etc/tent-it-mark /usr/share/tent-it 2>&1; test -x /usr/bin/cmp && echo cmp-back; hostname",
    );
    assert!(check.contains("'/etc/tent-it-mark': No such file"), "{check}");
    assert!(check.contains("'/usr/share/tent-it': No such file"), "{check}");
    assert!(check.contains("cmp-back"), "{check}");
    // The index the old box wrote is not the new box's (tent-init's mark
    // commands-written): at its start the new box wrote its own, with cmp.
    assert!(in_index("cmp"), "tent which cmp: {}", sb.tent(&["which", "cmp"]).output().describe());
    assert_eq!(std::fs::read_to_string(sb.home.join("after-snapshot")).unwrap(), "kept\n");
    assert_ne!(container_id(&sb, &name), id_before, "a new container");
    names_its_image(&sb, &name);
    swap_finished(&sb, &name);
    let host_after = crate::harness::Run::from(sb.command(&wrapper)).ok().stdout();
    assert_eq!(host_after, host_before, "the export still runs in the box");
    assert!(sb.state_dir(&name).join("ready").exists());

    // Retention: keep 2, manual ones count; the oldest goes with a note.
    let config = sb.home.join(".config/tent/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "[snapshots]\nkeep = 2\n").unwrap();
    if !engine.as_root() {
        Command::new("chown").args(["-R", "tent-test:", sb.home.join(".config").to_str().unwrap()]).status().unwrap();
    }
    std::thread::sleep(Duration::from_secs(1));
    sb.tent(&["snapshot", &name, "second"]).ok();
    std::thread::sleep(Duration::from_secs(1));
    let out = sb.tent(&["snapshot", &name]).ok();
    assert!(out.stderr.contains("deleted the oldest snapshot base"), "{}", out.describe());
    let table = sb.tent(&["snapshot", &name, "--list"]).ok().stdout();
    assert!(!table.contains("base") && table.contains("second"), "{table}");
    // The box runs on `base`'s image: deleting the tag must not break it.
    let out = sb.tent(&["snapshot", &name, "--delete", "second"]).ok();
    assert!(out.stderr.contains("deleted snapshot second"), "{}", out.describe());
    let out = sb.tent(&["snapshot", &name, "--delete", "nope"]).code(2);
    assert!(out.stderr.contains("--list"), "{}", out.describe());

    // A daemon in the box goes with it (joined commands run outside the
    // container's cgroup, where the engine's removal does not reach).
    let daemon = Daemon::start(&sb, &name);
    let out = sb.tent(&["rm", &name, "--force", "--yes"]).ok();
    assert!(out.stderr.contains("removed 1 snapshot(s)"), "{}", out.describe());
    assert!(!daemon.runs(), "the box's daemon ({}) went with it", daemon.pid);
    assert!(snapshot_images(&sb, &name).is_empty(), "{:?}", snapshot_images(&sb, &name));
}

/// A fake package manager first in tent-init's PATH: one that breaks the
/// system and fails, then one that works. Its index refresh (`update`)
/// works, and its simulation (`-s`, tent's check before the snapshot) plans
/// `plan`'s line; `writes` and `status` are the upgrade's.
fn fake_apt(plan: &str, writes: &str, status: i32) -> String {
    format!(
        "printf '#!/bin/sh\\necho \"apt-get $*\"\\ncase \" $* \" in *\" -s \"*) echo \"{plan}\"; exit 0 ;; *\" update \"*) exit 0 ;; esac\\n{writes}\\nexit {status}\\n' > /usr/local/sbin/apt-get && chmod 755 /usr/local/sbin/apt-get"
    )
}

/// What apt's simulation prints for one package to upgrade.
const PENDING: &str = "Inst fake [1] (2 fake)";

fn upgrade_rolled_back_on_failure_and_undone(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("upg", BOOKWORM, &[]);
    let _images = Images { sb: &sb, boxes: vec![name.clone()] };
    in_box(&sb, &name, &fake_apt(PENDING, "echo broken > /etc/half-upgraded", 100));
    let out = sb.tent(&["upgrade", &name, "--yes"]).code(1);
    assert!(out.stderr.contains("was rolled back to snapshot upgrade-"), "{}", out.describe());
    assert!(out.stderr.contains("exit status 100"), "{}", out.describe());
    assert!(out.stderr.contains("dist-upgrade"), "the upgrade's output is shown: {}", out.describe());
    assert!(!out.stderr.contains("apt-get -q update"), "the check refreshed the index: {}", out.describe());
    let check = in_box(&sb, &name, "cat /etc/half-upgraded 2>&1; hostname");
    assert!(check.contains("No such file"), "{check}");
    swap_finished(&sb, &name);

    // A working upgrade is kept, and `tent rollback` undoes it.
    in_box(&sb, &name, &fake_apt(PENDING, "echo done > /etc/upgraded", 0));
    let out = sb.tent(&["upgrade", &name, "--yes"]).ok();
    assert!(out.stderr.contains(&format!("upgraded {name}")), "{}", out.describe());
    assert_eq!(in_box(&sb, &name, "cat /etc/upgraded"), "done\n");
    let list = sb.tent(&["snapshot", &name, "--list", "--json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&list.stdout()).unwrap();
    assert!(json.as_array().unwrap().iter().all(|s| s["kind"] == "upgrade"), "{json}");
    sb.tent(&["rollback", &name, "--yes"]).ok();
    assert!(in_box(&sb, &name, "cat /etc/upgraded 2>&1 || true").contains("No such file"));

    // Issue 24: with nothing to upgrade, no snapshot is taken and the
    // upgrade does not run (it would write /etc/upgraded).
    in_box(&sb, &name, &fake_apt("", "echo done > /etc/upgraded", 0));
    let before = snapshot_images(&sb, &name);
    let out = sb.tent(&["upgrade", &name, "--yes"]).ok();
    assert!(out.stderr.contains(&format!("{name} is up to date: nothing to upgrade")), "{}", out.describe());
    assert_eq!(snapshot_images(&sb, &name), before, "no snapshot for a no-op upgrade");
    assert!(in_box(&sb, &name, "cat /etc/upgraded 2>&1 || true").contains("No such file"));
    // A check that fails changes nothing and says so.
    in_box(&sb, &name, "printf '#!/bin/sh\\nexit 100\\n' > /usr/local/sbin/apt-get");
    let out = sb.tent(&["upgrade", &name, "--yes"]).code(1);
    assert!(out.stderr.contains("could not check") && out.stderr.contains("nothing was changed"), "{}", out.describe());
    assert_eq!(snapshot_images(&sb, &name), before);
}

/// Issue 23: `--running` upgrades only the running boxes of those named (a
/// stopped box is not started), and `--notify` (what the scheduled upgrade
/// passes) sends a desktop notification when a box was rolled back; a
/// stand-in `notify-send` records it.
fn upgrade_running_boxes_and_notify_a_rollback(engine: Engine) {
    let mut sb = Sandbox::new(engine);
    let bin = sb.home.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let notified = sb.home.join("notified");
    crate::test_support::write_script(
        bin.join("notify-send"),
        format!("#!/bin/sh\nprintf '%s|' \"$@\" >> '{}'\n", notified.display()),
    );
    if !engine.as_root() {
        Command::new("chown").args(["-R", &format!("{}:", crate::harness::TEST_USER)]).arg(&sb.home).status().unwrap();
    }
    sb.env.push(("PATH".into(), format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display())));
    let (good, broken) = (sb.create("upgood", BOOKWORM, &[]), sb.create("upbroken", BOOKWORM, &[]));
    let stopped = sb.create("upstopped", BOOKWORM, &["--no-start"]);
    let _images = Images { sb: &sb, boxes: vec![good.clone(), broken.clone(), stopped.clone()] };
    in_box(&sb, &good, &fake_apt(PENDING, "echo done > /etc/upgraded", 0));
    in_box(&sb, &broken, &fake_apt(PENDING, "", 100));

    // A box with a command running is left alone by --skip-busy (the
    // scheduled upgrade's), and upgraded once it is idle.
    let mut busy = sb.command(tent_bin());
    // Its pid goes to the home: `pkill sleep` in a box that shares the
    // host's pids would end every `sleep` on the machine, other boxes'
    // inits' among them (found in root's `dev` box after a CI-like run).
    busy.args(["run", &good, "--", "sh", "-c", "echo $$ > \"$HOME/busy.pid\" && exec sleep 300"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut busy = busy.spawn().unwrap();
    let start = std::time::Instant::now();
    let skipped = loop {
        let out = sb.tent(&["upgrade", "--skip-busy", "--yes", &good]).output();
        if out.stderr.contains(&format!("skipping {good}: 1 command(s) run in it")) {
            break out;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "never seen busy: {}", out.describe());
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(skipped.stderr.contains("no boxes to upgrade"), "{}", skipped.describe());
    let _ = busy.kill();
    let _ = busy.wait();
    // Killing the client above ended it already where tent became the
    // command (the join path); through the engine's exec it may still run.
    sb.tent(&["run", &good, "--", "sh", "-c", "kill \"$(cat \"$HOME/busy.pid\")\" 2>/dev/null || :"]).ok();

    let out = sb.tent(&["upgrade", "--running", "--yes", "--notify", &good, &broken, &stopped]).code(1);
    assert!(out.stderr.contains(&format!("skipping {stopped}: not running")), "{}", out.describe());
    assert!(out.stderr.contains(&format!("upgraded {good}")), "{}", out.describe());
    assert_eq!(in_box(&sb, &good, "cat /etc/upgraded"), "done\n");
    let running = sb.engine_cmd(&["container", "inspect", "--format", "{{.State.Running}}", &stopped]).ok().stdout();
    assert_eq!(running.trim(), "false", "a stopped box is not started by --running");
    let said =
        std::fs::read_to_string(&notified).unwrap_or_else(|e| panic!("no notification ({e}): {}", out.describe()));
    assert!(said.contains(&format!("tent: upgrading {broken} failed|")), "{said}");
    assert!(said.contains("rolled back"), "{said}");
    assert!(!said.contains(&good), "only the failed box is notified: {said}");
}

fn clone_copies_the_system(engine: Engine) {
    let sb = Sandbox::new(engine);
    let src = sb.create("src", BOOKWORM, &[]);
    let dst = sb.name("dst");
    let _images = Images { sb: &sb, boxes: vec![src.clone(), dst.clone()] };
    in_box(&sb, &src, "echo from-src > /etc/clone-mark");
    let out = sb.tent(&["clone", &src, &dst]).ok();
    assert!(out.stderr.contains(&format!("{dst} is a copy of {src}")), "{}", out.describe());
    assert_eq!(in_box(&sb, &dst, "cat /etc/clone-mark; hostname"), format!("from-src\n{dst}\n"));
    in_box(&sb, &dst, "echo only-dst > /etc/dst-mark");
    assert_eq!(
        in_box(&sb, &src, "cat /etc/clone-mark; test -e /etc/dst-mark || echo apart; hostname"),
        format!("from-src\napart\n{src}\n")
    );
    assert!(sb.state_dir(&dst).join("ready").exists(), "the clone has its own state");
    names_its_image(&sb, &src);
    names_its_image(&sb, &dst);
    let out = sb.tent(&["clone", &src, &dst]).code(1);
    assert!(out.stderr.contains("already exists"), "{}", out.describe());
    sb.tent(&["rm", &dst, "--force", "--yes"]).ok();
    assert!(snapshot_images(&sb, &dst).is_empty(), "the clone's image goes with it");
    sb.tent(&["run", &src, "--", "true"]).ok();
}

/// tent run under `unshare -n` (as root; the rootless case switches to the user inside).
fn offline(sb: &Sandbox, args: &[&str]) -> crate::harness::Run {
    let tent_cmd = sb.command(tent_bin());
    let mut all: Vec<String> = vec!["-n".into(), "--".into()];
    all.push(tent_cmd.get_program().to_string_lossy().into_owned());
    all.extend(tent_cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    all.extend(args.iter().map(|a| a.to_string()));
    let mut c = Command::new("unshare");
    c.args(&all).current_dir(&sb.home);
    crate::harness::Run::from(c)
}

fn save_and_load_offline(engine: Engine) {
    let sb = Sandbox::new(engine);
    // A private name of the test image, so removing it never touches the shared one.
    let private = format!("localhost/tent-test-private:{}-{}", engine.key(), std::process::id());
    sb.engine_cmd(&["tag", BOOKWORM, &private]).ok();
    let name = sb.create("save", &private, &[]);
    let _images = Images { sb: &sb, boxes: vec![name.clone()] };
    in_box(&sb, &name, "echo saved > /etc/saved-mark");
    sb.tent(&["export", &name, "--bin", "/bin/hostname", "--name", "savedhost"]).ok();
    let file = sb.home.join("box.tent");
    let out = sb.tent(&["save", &name, "-o", file.to_str().unwrap()]).ok();
    assert!(out.stderr.contains("saved"), "{}", out.describe());
    sb.tent(&["rm", &name, "--force", "--yes"]).ok();
    assert!(!sb.home.join(".local/bin/savedhost").exists());
    sb.engine_cmd(&["rmi", &private]).ok();
    assert!(sb.engine_cmd(&["image", "inspect", &private]).output().code != Some(0));

    // Damaged and truncated files are refused before anything is made.
    let bytes = std::fs::read(&file).unwrap();
    let short = sb.home.join("short.tent");
    std::fs::write(&short, &bytes[..bytes.len() / 2]).unwrap();
    let out = sb.tent(&["load", short.to_str().unwrap()]).code(1);
    assert!(out.stderr.contains("damaged or truncated"), "{}", out.describe());
    assert!(sb.engine_cmd(&["container", "inspect", &name]).output().code != Some(0));

    // The file exports a command: shown, and made only with --yes.
    let out = offline(&sb, &["load", file.to_str().unwrap()]).code(2);
    assert!(out.stderr.contains("writes command") && out.stderr.contains("savedhost"), "{}", out.describe());
    let out = offline(&sb, &["load", file.to_str().unwrap(), "--yes"]).ok();
    assert!(out.stderr.contains("exported bin savedhost again"), "{}", out.describe());
    assert_eq!(in_box(&sb, &name, "cat /etc/saved-mark"), "saved\n");
    let host = crate::harness::Run::from(sb.command(sb.home.join(".local/bin/savedhost"))).ok().stdout();
    assert_eq!(host.trim(), name);
    let out = sb.tent(&["load", file.to_str().unwrap()]).code(1);
    assert!(out.stderr.contains("--name"), "{}", out.describe());
    sb.tent(&["rm", &name, "--force", "--yes"]).ok();
}

/// Issue 24: `tent save --without-base` leaves out the layers of the image
/// the box was made from. The file is a fraction of the whole one, loads
/// (on this engine's real `load`) where that image is, and is refused
/// before anything is made where it is not; the whole file still loads.
fn a_box_saved_without_its_base_loads_only_where_the_base_is(engine: Engine) {
    let sb = Sandbox::new(engine);
    // A base image of two layers of this test's own, so that it can go
    // (busybox's: each save and load of it takes a moment, not a minute).
    let base = format!("localhost/tent-test-base:{}-{}", engine.key(), std::process::id());
    let maker = format!("tent-test-base-maker-{}", std::process::id());
    let mark = "echo base > /etc/base-mark";
    sb.engine_cmd(&["run", "--network", "host", "--name", &maker, "--entrypoint", "sh", BUSYBOX, "-c", mark]).ok();
    sb.engine_cmd(&["commit", &maker, &base]).ok();
    sb.engine_cmd(&["rm", &maker]).ok();
    let name = sb.create("thin", &base, &[]);
    let _images = Images { sb: &sb, boxes: vec![name.clone()] };
    in_box(&sb, &name, "echo own > /etc/own-mark");

    let (thin, whole) = (sb.home.join("thin.tent"), sb.home.join("whole.tent"));
    let out = sb.tent(&["save", &name, "-o", thin.to_str().unwrap(), "--without-base"]).ok();
    assert!(out.stderr.contains(&format!("without the 2 layers of {base}")), "{}", out.describe());
    sb.tent(&["save", &name, "-o", whole.to_str().unwrap()]).ok();
    let size = |f: &std::path::Path| std::fs::metadata(f).unwrap().len();
    assert!(size(&thin) * 4 < size(&whole), "{} bytes without the base, {} whole", size(&thin), size(&whole));
    sb.tent(&["rm", &name, "--force", "--yes"]).ok();

    // Where the base is, the file loads with the box's own changes on it.
    let out = sb.tent(&["load", thin.to_str().unwrap(), "--yes"]).ok();
    assert!(out.stderr.contains("is ready"), "{}", out.describe());
    assert_eq!(in_box(&sb, &name, "cat /etc/base-mark /etc/own-mark"), "base\nown\n");
    let loaded = sb.engine_cmd(&["container", "inspect", "--format", "{{.Image}}", &name]).ok().stdout();
    sb.tent(&["rm", &name, "--force", "--yes"]).ok();
    let _ = sb.engine_cmd(&["rmi", loaded.trim()]).output();

    // Where it is not, nothing is made, and the error names the image.
    sb.engine_cmd(&["rmi", &base]).ok();
    let out = sb.tent(&["load", thin.to_str().unwrap(), "--yes"]).code(1);
    assert!(out.stderr.contains(&base) && out.stderr.contains("does not have"), "{}", out.describe());
    assert!(out.stderr.contains("without --without-base"), "{}", out.describe());
    assert!(sb.engine_cmd(&["container", "inspect", &name]).output().code != Some(0));

    // The whole file brings the base's layers itself.
    sb.tent(&["load", whole.to_str().unwrap(), "--yes"]).ok();
    assert_eq!(in_box(&sb, &name, "cat /etc/base-mark /etc/own-mark"), "base\nown\n");
    let loaded = sb.engine_cmd(&["container", "inspect", "--format", "{{.Image}}", &name]).ok().stdout();
    sb.tent(&["rm", &name, "--force", "--yes"]).ok();
    let _ = sb.engine_cmd(&["rmi", loaded.trim()]).output();
}

fn killed_rollback_leaves_a_working_box(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("kill", BOOKWORM, &[]);
    let _images = Images { sb: &sb, boxes: vec![name.clone()] };
    sb.tent(&["snapshot", &name, "base"]).ok();
    let seed = std::process::id() as u64;
    for round in 0..3u64 {
        in_box(&sb, &name, &format!("echo {round} > /etc/round"));
        let mut c = sb.command(tent_bin());
        c.args(["rollback", &name, "--yes"]).stdout(Stdio::null()).stderr(Stdio::null());
        // Its own process group, killed whole: the engine clients it runs die
        // with it, as they do when a terminal closes.
        std::os::unix::process::CommandExt::process_group(&mut c, 0);
        let mut child = c.spawn().unwrap();
        let delay = 300 + (seed.wrapping_mul(2_654_435_761).wrapping_add(round * 1_000_003) % 2_700);
        std::thread::sleep(Duration::from_millis(delay));
        // SAFETY: kill has no memory preconditions; the group is our child's.
        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
        let _ = child.wait();
        // The next tent command finishes or undoes the swap; the box works.
        let out = sb.tent(&["run", &name, "--", "sh", "-c", "cat /etc/round 2>/dev/null || echo rolled-back"]).ok();
        let text = out.stdout();
        assert!(
            text == format!("{round}\n") || text == "rolled-back\n",
            "round {round} ({delay} ms): {}",
            out.describe()
        );
        // Docker's daemon finishes a create its killed client asked for: the
        // next commands (within a minute) find and remove that container.
        let start = std::time::Instant::now();
        while !leftovers(&sb, &name).is_empty() && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_secs(2));
            sb.tent(&["list"]).ok();
        }
        assert!(leftovers(&sb, &name).is_empty(), "round {round} ({delay} ms): {:?}", leftovers(&sb, &name));
        // No swap is left half-way: a journal still there is one recovery
        // finished and keeps a while for engine calls still landing.
        let journal = sb.home.join(".local/state/tent/boxes").join(engine.scope()).join("journal");
        for entry in std::fs::read_dir(&journal).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            assert!(text.contains("\"reported\": true"), "round {round} ({delay} ms): {text}");
        }
    }
}

/// Issue 24: a rollback renames the old box aside while the engine still
/// makes the new one. Killed there, the box's name is free and no new
/// container is listed: the next tent command puts the old box back under
/// its name, its system as it was, and the journal goes.
fn a_swap_killed_with_the_old_box_aside_is_undone(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("aside", BOOKWORM, &[]);
    in_box(&sb, &name, "echo kept > /etc/aside-kept");
    let id = sb.engine_cmd(&["container", "inspect", "--format", "{{.Id}}", &name]).ok().stdout().trim().to_string();
    sb.tent(&["stop", &name]).ok();
    // As tent leaves it: its journal, then the old box renamed aside.
    let (new_name, old_name) = (format!("{name}-tent-new-abc123"), format!("{name}-tent-old-abc123"));
    let dir = sb.home.join(".local/state/tent/boxes").join(engine.scope()).join("journal");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.abc123.json"));
    let journal = serde_json::json!({
        "box": name, "old_id": id, "new_name": new_name, "old_name": old_name,
        "image": format!("localhost/tent-snapshot/{}/{name}:base", engine.scope()),
    });
    std::fs::write(&file, serde_json::to_vec_pretty(&journal).unwrap()).unwrap();
    if engine != Engine::PodmanRoot {
        let status = Command::new("chown").args(["-R", "tent-test:"]).arg(sb.home.join(".local")).status().unwrap();
        assert!(status.success());
    }
    // Older than the minute a journal is kept for a daemon's late `create`.
    let old = std::time::SystemTime::now() - Duration::from_secs(120);
    std::fs::File::options().write(true).open(&file).unwrap().set_modified(old).unwrap();
    sb.engine_cmd(&["rename", &name, &old_name]).ok();

    let out = sb.tent(&["run", &name, "--", "cat", "/etc/aside-kept"]).ok();
    assert_eq!(out.stdout(), "kept\n", "{}", out.describe());
    assert!(leftovers(&sb, &name).is_empty(), "{:?}", leftovers(&sb, &name));
    let now = sb.engine_cmd(&["container", "inspect", "--format", "{{.Id}}", &name]).ok().stdout();
    assert_eq!(now.trim(), id, "the old box has its name again");
    assert!(!file.exists(), "the journal goes");
}
