//! A plain user's rootful box (issue 19, finding 1): the engine runs as root
//! (rootful podman through sudo; Docker's daemon) and resolves the box's
//! state directory, under the user's home, at every start. The user and every
//! box can swap that directory for a link to one of root's; root must never
//! write there. `tent --root bake` runs tent's own init, never the copy in
//! the user's data directory that a loop can rewrite under it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::{BOOKWORM, BUSYBOX, DOCKER, Engine, Run, Sandbox};

/// A rootful engine driven by the plain test user: `--root` (podman through
/// sudo), or Docker.
struct Rootful {
    sb: Sandbox,
    docker: bool,
}

impl Rootful {
    fn new(docker: bool) -> Option<Self> {
        let engine = if docker { Engine::Docker } else { Engine::PodmanRootless };
        Sandbox::if_enabled(engine).map(|sb| Rootful { sb, docker })
    }

    fn tent(&self, args: &[&str]) -> Run {
        let mut all = if self.docker { vec![] } else { vec!["--root"] };
        all.extend_from_slice(args);
        self.sb.tent(&all)
    }

    /// The engine's client as root (the test runs as root).
    fn client(&self) -> Command {
        Command::new(if self.docker { DOCKER } else { "podman" })
    }

    fn state_dir(&self, name: &str) -> PathBuf {
        let scope = if self.docker { "docker" } else { "podman-root" };
        self.sb.home.join(".local/state/tent/boxes").join(scope).join(name)
    }
}

/// Removes a container of root's store when the test ends.
struct Guard(Command, String);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.args(["rm", "--force", &self.1]).output();
    }
}

/// A directory of root's, as `/etc/cron.hourly` is: root-owned, 0755.
fn root_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("tent-it-cron-").tempdir_in("/var/tmp").unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

fn state_directory_swapped_for_a_link_is_refused(docker: bool) {
    let Some(r) = Rootful::new(docker) else { return };
    let name = r.sb.name("swapped");
    let _guard = Guard(r.client(), name.clone());
    r.tent(&["create", &name, "--image", BUSYBOX]).ok();
    r.tent(&["stop", &name]).ok();
    let state = r.state_dir(&name);

    // The stopped box's state directory, swapped by the user for a link to root's.
    let victim = root_dir();
    r.sb.sh(&format!("rm -rf '{0}' && ln -s '{1}' '{0}'", state.display(), victim.path().display())).ok();
    let refused = r.tent(&["run", &name, "--", "true"]).code(1);
    let err = &refused.stderr;
    assert!(err.contains(&state.display().to_string()) && err.contains("link"), "{}", refused.describe());
    assert!(err.contains("rm "), "the error says what to do: {}", refused.describe());
    assert_eq!(entries(victim.path()), Vec::<String>::new(), "nothing written through the link");
    let running = r.client().args(["inspect", "--format", "{{.State.Running}}", &name]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&running.stdout).trim(), "false", "the box was not started");

    // Doing what the error says brings the box back.
    r.sb.sh(&format!("rm '{}'", state.display())).ok();
    r.tent(&["run", &name, "--", "true"]).ok();
    assert!(std::fs::symlink_metadata(&state).unwrap().is_dir());
    assert_eq!(entries(victim.path()), Vec::<String>::new());
    // Neither the directory nor the log is for other users to read.
    let mode = std::fs::symlink_metadata(&state).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "the state directory is the user's alone");
    let log = std::fs::symlink_metadata(state.join("init.log")).unwrap();
    assert_eq!(log.permissions().mode() & 0o777, 0o600, "the init log is the user's alone");
}

#[test]
fn rootful_podman_state_directory_swapped_for_a_link_is_refused() {
    state_directory_swapped_for_a_link_is_refused(false);
}

#[test]
fn docker_state_directory_swapped_for_a_link_is_refused() {
    state_directory_swapped_for_a_link_is_refused(true);
}

/// The swap made after tent's check, right before the engine's start: the
/// engine mounts root's directory, and the box's init refuses it, writing
/// nothing there. The engine is started here directly, past tent's check.
fn a_swap_after_tents_check_is_caught_by_the_init(docker: bool) {
    let Some(r) = Rootful::new(docker) else { return };
    let name = r.sb.name("raced");
    let _guard = Guard(r.client(), name.clone());
    r.tent(&["create", &name, "--image", BUSYBOX]).ok();
    r.tent(&["stop", &name]).ok();
    let victim = root_dir();
    let state = r.state_dir(&name);
    r.sb.sh(&format!("rm -rf '{0}' && ln -s '{1}' '{0}'", state.display(), victim.path().display())).ok();

    let started = r.client().args(["start", &name]).output().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut exited = false;
    while Instant::now() < deadline && entries(victim.path()).is_empty() {
        let out = r.client().args(["inspect", "--format", "{{.State.Running}}", &name]).output().unwrap();
        if String::from_utf8_lossy(&out.stdout).trim() == "false" {
            exited = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // Give a slow init the time to write, had it gone on.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(entries(victim.path()), Vec::<String>::new(), "root wrote into the swapped-in directory");
    assert!(exited, "the box kept running on root's directory");
    let logs = r.client().args(["logs", &name]).output().unwrap();
    let logs = format!("{}{}", String::from_utf8_lossy(&logs.stdout), String::from_utf8_lossy(&logs.stderr));
    assert!(
        logs.contains("refusing to start") && logs.contains("/run/.tent/state"),
        "start: {}\nlogs: {logs}",
        String::from_utf8_lossy(&started.stderr)
    );
}

#[test]
fn rootful_podman_swap_after_tents_check_is_caught_by_the_init() {
    a_swap_after_tents_check_is_caught_by_the_init(false);
}

#[test]
fn docker_swap_after_tents_check_is_caught_by_the_init() {
    a_swap_after_tents_check_is_caught_by_the_init(true);
}

/// `tent --root bake` while a loop of the user's rewrites every tent-init in
/// the user's lib directory: the provisioning, root's, never runs it.
#[test]
fn rootful_bake_never_runs_the_users_copy_of_tent_init() {
    let Some(r) = Rootful::new(false) else { return };
    let tag = format!("localhost/tent-it-rootful-bake:{}", std::process::id());
    struct Image(String);
    impl Drop for Image {
        fn drop(&mut self) {
            let _ = Command::new("podman").args(["rmi", "--force", &self.0]).output();
        }
    }
    let _image = Image(tag.clone());
    let lib = r.sb.home.join(".local/share/tent/lib");
    let stop = r.sb.home.join("stop-rewriting");
    // Rewritten as fast as it goes, each time complete (a rename).
    let rewrite = format!(
        "while ! [ -e '{stop}' ]; do for d in '{lib}'/*/; do \
         {{ printf '#!/bin/sh\\ntouch /tent-pwned\\nexit 0\\n' >\"$d.e\" && \
         mv -f \"$d.e\" \"$d/tent-init\"; }} 2>/dev/null; done; sleep 0.01; done",
        stop = stop.display(),
        lib = lib.display()
    );
    let mut loop_ = r.sb.command("sh");
    loop_.args(["-c", &rewrite]);
    let mut child = loop_.spawn().unwrap();
    let baked = r.tent(&["bake", BOOKWORM, "--tag", &tag]).output();
    std::fs::write(&stop, "").unwrap();
    let _ = child.wait();
    assert_eq!(baked.code, Some(0), "{}", baked.describe());
    let check = Command::new("podman")
        .args(["run", "--rm", "--entrypoint", "/bin/sh", &tag, "-c", "test ! -e /tent-pwned"])
        .output()
        .unwrap();
    assert!(check.status.success(), "the user's script ran as root in the bake: {:?}", check);
}

/// Root in a plain user's rootful box (`tent --root run --as-root`, `tent
/// apply`'s package install and init hooks) runs tent's own scripts, never
/// the copies in the user's lib directory, which a box can rewrite.
#[test]
fn root_in_a_rootful_box_never_runs_the_users_lib_scripts() {
    let Some(r) = Rootful::new(false) else { return };
    let sb = &r.sb;
    let name = sb.name("asroot");
    let _guard = Guard(r.client(), name.clone());
    let manifest = |extra: &str| format!("[box.{name}]\nimage = \"{BOOKWORM}\"\nroot = true\n{extra}");
    std::fs::write(sb.home.join("tent.toml"), manifest("")).unwrap();
    r.tent(&["apply", "--yes"]).ok();

    // Every script of the lib replaced by the user, as a box could.
    let marker = PathBuf::from(format!("/tmp/tent-it-pwned-{}-{name}", std::process::id()));
    let lib = sb.home.join(".local/share/tent/lib");
    sb.sh(&format!(
        "set -e; for d in '{}'/*/; do for f in tent-init tent-exec tent-host; do \
         printf '#!/bin/sh\\ntouch {}\\n' >\"$d.e\"; mv -f \"$d.e\" \"$d$f\"; done; done",
        lib.display(),
        marker.display()
    ))
    .ok();
    struct Remove(PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _marker = Remove(marker.clone());

    let id = r.tent(&["run", &name, "--as-root", "--", "id", "-u"]).ok();
    assert!(!marker.exists(), "root ran the user's tent-exec");
    assert_eq!(id.stdout().trim(), "0", "{}", id.describe());

    // apply installs a package and runs new init hooks as the box's root.
    let hooks = "packages = [\"hello\"]\ninit_hooks = [\"touch /var/tmp/tent-hooked\"]\n";
    std::fs::write(sb.home.join("tent.toml"), manifest(hooks)).unwrap();
    let applied = r.tent(&["apply", "--yes"]).output();
    assert!(!marker.exists(), "root ran the user's tent-init: {}", applied.describe());
    assert_eq!(applied.code, Some(0), "{}", applied.describe());
    r.tent(&["run", &name, "--as-root", "--", "sh", "-c", "hello && test -e /var/tmp/tent-hooked"]).ok();
    assert!(!marker.exists());
}

/// Root in a box never takes USER from `env.pass` (a config file under the
/// shared home, which a box can write): with USER, tent-exec would use the
/// box-written login PATH cache as root's PATH.
#[test]
fn root_takes_no_user_from_the_shared_config() {
    let Some(sb) = Sandbox::if_enabled(Engine::PodmanRoot) else { return };
    let name = sb.create("asroot", BOOKWORM, &[]);
    std::fs::create_dir_all(sb.home.join(".config/tent")).unwrap();
    std::fs::write(sb.home.join(".config/tent/config.toml"), "[env]\npass = [\"USER\"]\n").unwrap();
    let probe = ["run", name.as_str(), "--", "sh", "-c", "echo \"[$USER]\""];
    assert_eq!(sb.tent(&probe).ok().stdout(), "[root]\n", "the user's own runs get it");
    let mut as_root = probe.to_vec();
    as_root.insert(2, "--as-root");
    assert_eq!(sb.tent(&as_root).ok().stdout(), "[]\n", "root's do not");
}
