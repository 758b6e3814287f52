//! Any distro, provisioned once: Debian trixie, a busybox-only image, baked
//! images and the Debian Containerfile (issue 3).

use crate::engine_tests;
use crate::harness::{BOOKWORM, BUSYBOX, Engine, Sandbox, TRIXIE};

engine_tests!(busybox_image_gets_a_working_box_without_sudo, baked_image_starts_with_no_package_work);

/// The init's log of the box's starts: a rootful box starts a new
/// `init.log` each time and keeps the one before as `init.log.1`.
fn init_log(sb: &Sandbox, name: &str) -> String {
    let dir = sb.state_dir(name);
    let before = std::fs::read_to_string(dir.join("init.log.1")).unwrap_or_default();
    before + &std::fs::read_to_string(dir.join("init.log")).unwrap()
}

#[test]
fn trixie_box_works_rootless() {
    let Some(sb) = Sandbox::if_enabled(Engine::PodmanRootless) else { return };
    let name = sb.create("trixie", TRIXIE, &["--packages", "hello"]);
    let out = sb.tent(&["run", &name, "--", "sh", "-c", ". /etc/os-release; echo $VERSION_CODENAME; hello"]).ok();
    assert_eq!(out.stdout(), "trixie\nHello, world!\n");
    sb.tent(&["run", &name, "--", "sudo", "-n", "true"]).ok();
}

/// busybox has no package manager and no sudo: the box still works, and the
/// init says what it lacks; asking for packages fails with a precise reason.
fn busybox_image_gets_a_working_box_without_sudo(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("bb", BUSYBOX, &[]);
    let out = sb.tent(&["run", &name, "--", "id", "-u"]).ok();
    assert_eq!(out.stdout().trim(), sb.uid().to_string());
    let log = init_log(&sb, &name);
    assert!(log.contains("no package manager found"), "{log}");
    if engine != Engine::PodmanRoot {
        assert!(log.contains("sudo is missing"), "{log}");
    }

    let bad = sb.name("bbpkg");
    let out = sb.tent(&["create", &bad, "--image", BUSYBOX, "--packages", "git"]).code(1);
    assert!(out.stderr.contains("no package manager found"), "{}", out.describe());
    assert!(out.stderr.contains("use an image with one"), "{}", out.describe());
}

/// `tent bake` provisions once into an image; a box from it answers its first
/// command with no package work, and still gets its own extra packages.
fn baked_image_starts_with_no_package_work(engine: Engine) {
    let sb = Sandbox::new(engine);
    let tag = format!("localhost/tent-it-baked-{}:{}", engine.key(), std::process::id());
    let out = sb.tent(&["bake", BOOKWORM, "--tag", &tag]).output();
    // Remove the image again whatever happens below.
    struct Image<'a>(&'a Sandbox, &'a str);
    impl Drop for Image<'_> {
        fn drop(&mut self) {
            // Its boxes first: an image still in use is only untagged.
            self.0.remove_boxes();
            let _ = self.0.engine_cmd(&["rmi", "--force", self.1]).output();
        }
    }
    let _image = Image(&sb, &tag);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    let labels = sb.engine_cmd(&["image", "inspect", "--format", "{{json .Config.Labels}}", &tag]).ok().stdout();
    assert!(labels.contains("tent.baked-from"), "{labels}");
    assert!(!labels.contains("tent.format"), "a baked image is no box: {labels}");

    let name = sb.create("baked", &tag, &["--no-start"]);
    sb.tent(&["run", &name, "--", "sudo", "-n", "true"]).ok();
    let log = init_log(&sb, &name);
    assert!(log.contains("already provisioned"), "{log}");
    assert!(!log.contains("installing"), "a baked box did package work:\n{log}");
    assert!(!log.contains("adding the host's own CA"), "the bake already trusted the host's CAs:\n{log}");

    // Extra packages of the box itself are installed once, on top.
    let extra = sb.create("bakedpkg", &tag, &["--packages", "hello"]);
    sb.tent(&["run", &extra, "--", "hello"]).ok();
    sb.tent(&["stop", &extra]).ok();
    sb.tent(&["run", &extra, "--", "true"]).ok();
    let log = init_log(&sb, &extra);
    assert_eq!(log.matches("installing").count(), 1, "{log}");
}

/// The Debian Containerfile builds from the offline base image and its boxes
/// start with no package work.
#[test]
fn debian_containerfile_builds_a_tent_ready_image() {
    let Some(sb) = Sandbox::if_enabled(Engine::PodmanRoot) else { return };
    let tag = format!("localhost/tent-it-cf:{}", std::process::id());
    let root = env!("CARGO_MANIFEST_DIR");
    let mut c = std::process::Command::new("podman");
    c.args(["build", "--network", "host", "--pull=never", "-f", "images/Containerfile"]);
    c.args(["--build-arg", &format!("BASE={BOOKWORM}"), "-t", &tag, "."]).current_dir(root);
    let built = crate::harness::Run::from(c).output();
    let name = if built.code == Some(0) { Some(sb.create("cf", &tag, &[])) } else { None };
    let log = name.as_ref().map(|n| init_log(&sb, n));
    let _ = std::process::Command::new("podman").args(["rmi", "--force", &tag]).output();
    assert_eq!(built.code, Some(0), "{}", built.describe());
    let log = log.unwrap();
    assert!(log.contains("already provisioned"), "{log}");
    assert!(!log.contains("installing"), "{log}");
}
