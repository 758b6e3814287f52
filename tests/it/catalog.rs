//! Issue 22: `tent create --distro NAME --release R` and `tent distros`. The
//! catalog names images by short names only; a system's or the user's config
//! pins a name to any image. There is no registry here, so the box is made
//! from a pin to the local test image, as a downstream image would pin one.

use crate::engine_tests;
use crate::harness::{Engine, Sandbox};

engine_tests!(a_pinned_distro_makes_a_box);

fn a_pinned_distro_makes_a_box(engine: Engine) {
    let mut sb = Sandbox::new(engine);
    // The admin pins `debian` to the local test images, a release per tag;
    // the user adds a name of their own.
    let admin = sb.home.join("admin.toml");
    std::fs::write(&admin, "[distros]\ndebian = \"tent-test/debian:{release}\"\n").unwrap();
    sb.env.push(("TENT_SYSTEM_CONFIG".into(), admin.display().to_string()));
    std::fs::create_dir_all(sb.home.join(".config/tent")).unwrap();
    std::fs::write(
        sb.home.join(".config/tent/config.toml"),
        "[distros]\nlocal-busybox = \"tent-test/busybox:latest\"\n",
    )
    .unwrap();
    if engine == Engine::PodmanRootless {
        let status = std::process::Command::new("chown").arg("-R").arg("tent-test:").arg(&sb.home).status();
        assert!(status.unwrap().success());
    }

    // The catalog, without an engine's network: built in, with the pins.
    let out = sb.tent(&["distros", "--json"]).ok();
    let list: serde_json::Value = serde_json::from_slice(out.stdout_bytes()).unwrap();
    let find = |name: &str| list.as_array().unwrap().iter().find(|d| d["name"] == name).cloned().unwrap();
    assert_eq!(find("debian")["image"], "tent-test/debian:{release}");
    assert_eq!(find("debian")["source"], "config");
    assert_eq!(find("debian")["package_manager"], "apt");
    assert_eq!(find("local-busybox")["image"], "tent-test/busybox:latest");
    assert_eq!(find("fedora")["image"], "fedora:{release}");
    assert_eq!(find("fedora")["source"], "built-in");
    let table = sb.tent(&["distros"]).ok().stdout();
    assert!(table.lines().any(|l| l.starts_with("debian") && l.contains("[config]") && l.contains("apt")), "{table}");

    let name = sb.name("distro");
    sb.tent(&["create", &name, "--distro", "debian", "--release", "bookworm"]).ok();
    let out = sb.tent(&["run", &name, "--", "cat", "/etc/debian_version"]).ok();
    assert!(out.stdout().starts_with("12."), "{}", out.describe());
    let image = sb.engine_cmd(&["inspect", "--format", "{{.Config.Image}}", &name]).ok().stdout();
    assert!(image.trim().ends_with("tent-test/debian:bookworm"), "{image}");

    // Unknown names: the closest one, and nothing made.
    let typo = sb.name("typo");
    let out = sb.tent(&["create", &typo, "--distro", "debain"]).code(2);
    assert!(out.stderr.contains("no distribution called \"debain\""), "{}", out.describe());
    assert!(out.stderr.contains("did you mean --distro debian?"), "{}", out.describe());
    let out = sb.tent(&["create", &typo, "--distro", "debian", "--release=-rm"]).code(2);
    assert!(out.stderr.contains("is not a release"), "{}", out.describe());
    let out = sb.tent(&["create", &typo, "--image", "x", "--distro", "debian"]).code(2);
    assert!(out.stderr.contains("cannot be used with"), "{}", out.describe());
    let listed = sb.engine_cmd(&["ps", "--all", "--format", "{{.Names}}"]).ok().stdout();
    assert!(!listed.contains(&typo), "{listed}");

    // The catalog needs no engine at all.
    sb.env.push(("TENT_ENGINE".into(), "no-such-engine".into()));
    sb.tent(&["list"]).code(2);
    let out = sb.tent(&["distros"]).ok();
    assert!(out.stdout().contains("local-busybox"), "{}", out.describe());
}
