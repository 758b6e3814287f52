//! Trust boundaries (issue 9, items 4-7) on real engines: a plain user's
//! rootful box (root never trusts the user's files, sudo asks for a
//! password), other users' boxes on a shared store, `rm --delete-home`, and
//! state files and image names a box or a user can plant.

use std::os::unix::fs::MetadataExt;
use std::process::Command;

use crate::engine_tests;
use crate::harness::{BOOKWORM, BUSYBOX, DOCKER, Engine, Run, Sandbox, TEST_USER, tent_bin};

engine_tests!(delete_home_deletes_only_a_home_tent_made_for_that_box, hostile_state_files_and_image_names);

/// Removes a container made outside the sandbox (as root) when the test ends.
struct Guard(&'static str, String);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = Command::new(self.0).args(["rm", "--force", &self.1]).output();
    }
}

/// A plain user's `tent --root` box (rootful podman through sudo): sudo in it
/// asks for a password, and links and hooks the user plants in the box's
/// state directory are neither followed nor run by the box's root, which is
/// the host's root.
#[test]
fn rootful_box_of_a_plain_user_trusts_none_of_its_files() {
    let Some(sb) = Sandbox::if_enabled(Engine::PodmanRootless) else { return };
    let name = sb.name("rootful");
    let _guard = Guard("podman", name.clone());
    let made = sb.tent(&["--root", "create", &name, "--image", BOOKWORM]).ok();

    // No passwordless sudo: the box's root is the host's root.
    sb.tent(&["--root", "run", &name, "--", "sudo", "-n", "true"]).code(1);
    assert!(made.stderr.contains("asks for your password"), "{}", made.describe());
    let rule = sb.tent(&["--root", "run", &name, "--as-root", "--", "cat", "/etc/sudoers.d/tent"]).ok().stdout();
    assert!(rule.contains(&format!("{TEST_USER} ALL=(ALL) ALL")) && !rule.contains("NOPASSWD"), "{rule}");
    // With a password set, sudo works with it.
    sb.tent(&["--root", "run", &name, "--as-root", "--", "sh", "-c", &format!("echo {TEST_USER}:pw | chpasswd")]).ok();
    sb.tent(&["--root", "run", &name, "--", "sh", "-c", "echo pw | sudo -S -p '' id -u"]).ok();

    // Links to a root-owned host file and a hook, planted while it is stopped.
    sb.tent(&["--root", "stop", &name]).ok();
    let victim = tempfile::Builder::new().prefix("tent-it-victim-").tempfile_in("/var/tmp").unwrap();
    std::fs::write(victim.path(), "keep\n").unwrap();
    let planted = format!("/tmp/tent-it-planted-{}", std::process::id());
    let state = sb.home.join(".local/state/tent/boxes/podman-root").join(&name);
    let plant = format!(
        "set -e; cd '{}'; for f in init.log pid ready failed .pid.tmp .ready.tmp .failed.tmp; do \
         rm -f $f; ln -s '{}' $f; done; mkdir -p hooks; printf 'touch {planted}\\n' > hooks/start; \
         cp hooks/start hooks/init",
        state.display(),
        victim.path().display()
    );
    sb.sh(&plant).ok();
    sb.tent(&["--root", "run", &name, "--", "true"]).ok();
    let meta = std::fs::metadata(victim.path()).unwrap();
    assert_eq!(std::fs::read_to_string(victim.path()).unwrap(), "keep\n", "nothing written through a link");
    assert_eq!((meta.uid(), meta.gid()), (0, 0), "nothing chowned through a link");
    assert!(!std::path::Path::new(&planted).exists(), "a planted hook never runs as root");
    let log = std::fs::symlink_metadata(state.join("init.log")).unwrap();
    assert!(log.is_file() && log.uid() == sb.uid(), "a new log, the user's");
    sb.tent(&["--root", "rm", "--force", "--yes", &name]).ok();
}

/// The user the `--all` tests run as: `scripts/setup-engines` makes it, and
/// no other test makes boxes for it on any store, so its `--all` can only
/// reach the boxes of the test that runs it.
const ALL_USER: &str = "tent-test-all";

/// Another user's boxes on a shared store (Docker, rootful podman): `list`
/// marks them, `--all`, `apply --prune` and `rm` never touch them and do not
/// abort because of them. `--all` acts on every box of the user running it,
/// so that user is `ALL_USER`; the other user's box is labelled as tent
/// labels it, for the harness's test user.
fn other_users_boxes_on_a_shared_store(engine: Engine) {
    let sb = Sandbox::new(Engine::PodmanRootless);
    let docker = engine == Engine::Docker;
    let uid: u32 = String::from_utf8_lossy(&Command::new("id").args(["-u", ALL_USER]).output().unwrap().stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("user {ALL_USER} is missing: run scripts/setup-engines"));
    let home_dir = tempfile::Builder::new().prefix("tent-it-all-").tempdir_in("/var/tmp").unwrap();
    let home = home_dir.path().to_path_buf();
    let chown = Command::new("chown").arg(format!("{ALL_USER}:")).arg(&home).status().unwrap();
    assert!(chown.success());
    let tent = |args: &[&str]| -> Run {
        let mut c = Command::new("runuser");
        c.args(["-u", ALL_USER, "--", "env", "-i"])
            .arg(format!("HOME={}", home.display()))
            .arg(format!("USER={ALL_USER}"))
            .arg(format!("LOGNAME={ALL_USER}"))
            .arg("PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .arg(format!("XDG_RUNTIME_DIR=/run/user/{uid}"))
            .arg("NO_COLOR=1")
            .arg("TERM=dumb")
            .arg(format!("TENT_ENGINE={}", if docker { DOCKER } else { "podman" }))
            .current_dir(&home)
            .arg(tent_bin());
        if !docker {
            c.arg("--root");
        }
        c.args(args);
        Run::from(c)
    };
    let client = if docker { DOCKER } else { "podman" };
    let other_uid = sb.uid();
    // The other user's box, made from a manifest at the very path of ours.
    let theirs = sb.name("theirs");
    let _guard = Guard(client, theirs.clone());
    let root_mark = if docker { "" } else { "root = true\n" };
    let manifest_path = home.join("tent.toml");
    let mine = sb.name("mine");
    let _mine_guard = Guard(client, mine.clone());
    std::fs::write(&manifest_path, format!("[box.{mine}]\nimage = \"{BUSYBOX}\"\n{root_mark}")).unwrap();
    let spec = serde_json::json!({"image": BUSYBOX, "manifest": manifest_path}).to_string();
    let out = Command::new(client)
        .args(["create", "--name", &theirs, "--label", "tent.format=1"])
        .arg("--label")
        .arg(format!("tent.uid={other_uid}"))
        .arg("--label")
        .arg(format!("tent.spec={spec}"))
        .args([BUSYBOX, "sleep", "1000"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    tent(&["create", &mine, "--image", BUSYBOX, "--no-start"]).ok();
    tent(&["stop", "--all"]).ok();
    let list: serde_json::Value = serde_json::from_slice(tent(&["list", "--json"]).ok().stdout_bytes()).unwrap();
    let entry = |n: &str| list.as_array().unwrap().iter().find(|e| e["name"] == n).cloned().expect("listed");
    let want = (Some(false), Some(u64::from(other_uid)));
    assert_eq!((entry(&theirs)["yours"].as_bool(), entry(&theirs)["owner_uid"].as_u64()), want);
    assert_eq!(entry(&mine)["yours"].as_bool(), Some(true));
    assert!(tent(&["list"]).ok().stdout().contains(&format!("not yours (uid {other_uid})")));

    let applied = tent(&["apply", "--prune", "--yes"]).ok();
    assert!(!applied.stderr.contains(&theirs), "apply never names their box: {}", applied.describe());
    let refused = tent(&["rm", "--yes", &theirs]).code(1);
    assert!(refused.stderr.contains("belongs to another user"), "{}", refused.describe());
    tent(&["rm", "--all", "--force", "--yes"]).ok();
    let exists = Command::new(client).args(["container", "inspect", &theirs]).output().unwrap();
    assert!(exists.status.success(), "the other user's box is still there");
    let gone = Command::new(client).args(["container", "inspect", &mine]).output().unwrap();
    assert!(!gone.status.success(), "the user's own box was removed");
}

#[test]
fn other_users_boxes_on_docker() {
    if crate::harness::enabled(Engine::Docker) {
        other_users_boxes_on_a_shared_store(Engine::Docker);
    }
}

#[test]
fn other_users_boxes_on_rootful_podman() {
    if crate::harness::enabled(Engine::PodmanRoot) && crate::harness::enabled(Engine::PodmanRootless) {
        other_users_boxes_on_a_shared_store(Engine::PodmanRoot);
    }
}

/// `rm --delete-home` deletes a `--home` only when tent made it for that very
/// box: never the user's home, a directory that was there before, or one a
/// label names without tent's marker; the question names the directory.
fn delete_home_deletes_only_a_home_tent_made_for_that_box(engine: Engine) {
    let sb = Sandbox::new(engine);
    let made = sb.home.join("boxes/own");
    let existing = sb.home.join("projects");
    std::fs::create_dir_all(&existing).unwrap();
    std::fs::write(existing.join("work.txt"), "mine").unwrap();
    let home = sb.home.display().to_string();
    let own = sb.create("own", BUSYBOX, &["--no-start", "--home", &made.display().to_string()]);
    let real = sb.create("real", BUSYBOX, &["--no-start", "--home", &home]);
    let before = sb.create("before", BUSYBOX, &["--no-start", "--home", &existing.display().to_string()]);

    for (name, dir) in [(&real, home.clone()), (&before, existing.display().to_string())] {
        let out = sb.tent(&["rm", "--delete-home", "--yes", name]).code(2);
        assert!(out.stderr.contains(&format!("will not delete {dir}")), "{}", out.describe());
        assert!(sb.tent(&["list"]).ok().stdout().contains(name.as_str()), "the box was not removed");
    }
    // Removing both at once removes neither: everything is checked first.
    sb.tent(&["rm", "--delete-home", "--yes", &own, &before]).code(2);
    assert_eq!(std::fs::read_to_string(existing.join("work.txt")).unwrap(), "mine");
    assert!(made.join(".tent-home").is_file());

    sb.tent(&["rm", "--delete-home", "--yes", &own]).ok();
    assert!(!made.exists(), "the home tent made for the box is deleted");
    sb.tent(&["rm", "--yes", &real, &before]).ok();
    assert!(sb.home.is_dir() && existing.join("work.txt").is_file());
}

/// An image string that would reach the engine as an option is refused by
/// name; a box whose state files are links to /dev/zero starts, and tent
/// neither hangs nor reads them.
fn hostile_state_files_and_image_names(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.name("flag");
    let out = sb.tent(&["create", &name, "--image=--privileged"]).code(2);
    assert!(out.stderr.contains("invalid image \"--privileged\""), "{}", out.describe());
    assert_ne!(sb.engine_cmd(&["container", "inspect", &name]).output().code, Some(0), "no box was made");

    let name = sb.create("zero", BUSYBOX, &[]);
    sb.tent(&["stop", &name]).ok();
    let state = sb.state_dir(&name);
    sb.sh(&format!("cd '{}' && rm -f init.log failed && ln -s /dev/zero init.log", state.display())).ok();
    let mut c = sb.command("timeout");
    c.args(["120", &tent_bin().display().to_string(), "run", &name, "--", "true"]);
    Run::from(c).ok();
}
