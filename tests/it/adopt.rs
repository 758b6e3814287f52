//! `tent adopt` on real engines (issue 23): a box made by the real
//! Distrobox 1.8.2.5 (from the peers folder), a container made the way Toolbx
//! makes it (its labels and argv, `src/cmd/create.go`), and a plain container
//! that is refused.

use crate::engine_tests;
use crate::harness::{BOOKWORM, BUSYBOX, Done, Engine, Sandbox};

engine_tests!(a_distrobox_box_becomes_a_tent_box, a_plain_container_is_refused_and_left_alone);

#[test]
fn a_toolbx_container_becomes_a_tent_box_on_rootful_podman() {
    if crate::harness::enabled(Engine::PodmanRoot) {
        toolbx(Engine::PodmanRoot);
    }
}

#[test]
fn a_toolbx_container_becomes_a_tent_box_on_rootless_podman() {
    if crate::harness::enabled(Engine::PodmanRootless) {
        toolbx(Engine::PodmanRootless);
    }
}

/// Distrobox's newest POSIX-shell release, unmodified (docs/testing.md).
const DISTROBOX: &str = "/work/shared/peers/distrobox-1.8.2.5";

fn manager(engine: Engine) -> &'static str {
    if engine == Engine::Docker { "docker" } else { "podman" }
}

/// Runs a Distrobox script as the sandbox's user, non-interactive.
fn distrobox(sb: &Sandbox, script: &str) -> Done {
    sb.sh(&format!(
        "export DBX_CONTAINER_MANAGER={} DBX_NON_INTERACTIVE=1; cd \"$HOME\"; {DISTROBOX}/{script}",
        manager(sb.engine)
    ))
    .ok()
}

/// The box's label `key`, as the engine has it.
fn label(sb: &Sandbox, name: &str, key: &str) -> String {
    let format = format!("{{{{index .Config.Labels \"{key}\"}}}}");
    sb.engine_cmd(&["container", "inspect", "--format", &format, name]).ok().stdout().trim().to_string()
}

fn in_box(sb: &Sandbox, name: &str, script: &str) -> String {
    sb.tent(&["run", name, "--", "sh", "-c", script]).ok().stdout()
}

/// A box made and entered with the real Distrobox (a file written into its
/// system, a command exported with distrobox-export where Distrobox allows
/// it: not as root) is adopted: it runs as the user, the file is still
/// there, snapshots work, its home is where it was, and the export is a tent
/// export with the old file moved aside, not deleted.
fn a_distrobox_box_becomes_a_tent_box(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.name("dbx");
    // Distrobox's own `--home` where it works without a root login shell.
    let own_home = (!engine.as_root()).then(|| sb.home.join("dbx-home"));
    let home_arg = own_home.as_ref().map(|h| format!(" --home {}", h.display())).unwrap_or_default();
    distrobox(&sb, &format!("distrobox-create --name {name} --image {BOOKWORM} --yes{home_arg}"));
    if engine == Engine::Docker {
        // Docker here refuses to start Distrobox's containers ("path /sys is
        // mounted on /sys but it is not a shared or slave mount", for its
        // `/sys:/sys:rslave`): the file goes into the container as made.
        let marker = sb.home.join("marker");
        std::fs::write(&marker, "kept\n").unwrap();
        let dest = format!("{name}:/var/tmp/adopt-marker");
        sb.engine_cmd(&["cp", &marker.display().to_string(), &dest]).ok();
    } else {
        // The first enter sets the box up (Distrobox installs what it needs).
        distrobox(&sb, &format!("distrobox-enter {name} -- sh -c 'echo kept > /var/tmp/adopt-marker'"));
    }
    // distrobox-export refuses to run as root.
    let exports = !engine.as_root() && engine != Engine::Docker;
    if exports {
        distrobox(
            &sb,
            &format!(
                "distrobox-enter {name} -- distrobox-export --bin /usr/bin/env --export-path \"$HOME/.local/bin\""
            ),
        );
        let old = std::fs::read_to_string(sb.home.join(".local/bin/env")).unwrap();
        assert!(old.contains("# distrobox_binary") && old.contains(&format!("# name: {name}")), "{old}");
    }

    // The plan: what it is and what will happen, nothing changed.
    let plan = sb.tent(&["adopt", &name, "--dry-run", "--json"]).ok().stdout();
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(plan["made_by"], "distrobox", "{plan}");
    assert_eq!(plan["own_home"], own_home.is_some(), "{plan}");
    if exports {
        assert_eq!(plan["exports"][0]["kind"], "bin", "{plan}");
        assert_eq!(plan["exports"][0]["target"], "/usr/bin/env", "{plan}");
    }
    // Off a terminal, nothing happens without --yes.
    let refused = sb.tent(&["adopt", &name]).code(2);
    assert!(refused.stderr.contains("--yes"), "{}", refused.describe());
    assert_eq!(label(&sb, &name, "manager"), "distrobox");

    let mut args = vec!["adopt", name.as_str(), "--yes"];
    if exports {
        args.push("--exports");
    }
    let out = sb.tent(&args).ok();
    assert!(out.stderr.contains("is a tent box now"), "{}", out.describe());
    assert!(!label(&sb, &name, "tent.format").is_empty(), "the container of that name is tent's now");
    assert_ne!(label(&sb, &name, "manager"), "distrobox", "Distrobox no longer lists it");

    assert_eq!(in_box(&sb, &name, "id -u").trim(), sb.uid().to_string());
    assert_eq!(in_box(&sb, &name, "cat /var/tmp/adopt-marker"), "kept\n", "its system was kept");
    if let Some(home) = &own_home {
        assert_eq!(in_box(&sb, &name, "echo $HOME").trim(), home.display().to_string());
    }
    sb.tent(&["snapshot", &name, "after-adopt"]).ok();
    let list = sb.tent(&["snapshot", &name, "--list", "--json"]).ok().stdout();
    assert!(list.contains("after-adopt"), "{list}");

    if exports {
        let listed = sb.tent(&["export", &name, "--list", "--json"]).ok().stdout();
        assert!(listed.contains("/usr/bin/env"), "{listed}");
        let now = std::fs::read_to_string(sb.home.join(".local/bin/env")).unwrap();
        assert!(!now.contains("distrobox_binary"), "tent's wrapper replaced it: {now}");
        let aside = sb.home.join(format!(".local/state/tent/adopted/{name}/env"));
        let kept = std::fs::read_to_string(&aside).unwrap();
        assert!(kept.contains("# distrobox_binary"), "the old file was moved aside, not deleted");
        let ran = sb.sh("\"$HOME/.local/bin/env\" | grep -c '^TENT_BOX='").ok().stdout();
        assert_eq!(ran.trim(), "1", "the exported command runs in the box");
    }
    // Its images (the adopted system, the snapshot) go with the box.
    sb.tent(&["rm", &name, "--yes", "--force"]).ok();
}

/// A container made the way Toolbx makes it (`toolbox create`: its labels,
/// its `podman create` argv, `toolbox init-container` as its command) is
/// adopted; `--keep-old` keeps the old container under another name.
fn toolbx(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.name("tbx");
    let kept = format!("{name}-pre-tent");
    let _cleanup = Remove(&sb, kept.clone());
    // Toolbx mounts its own binary as /usr/bin/toolbox; this stand-in's
    // init-container only waits, as Toolbx's does once the user is set up.
    let standin = sb.home.join("toolbox");
    crate::test_support::write_script(&standin, "#!/bin/sh\nexec sleep infinity\n");
    let home = sb.home.display().to_string();
    let uid = sb.uid().to_string();
    let user = if engine.as_root() { "root" } else { crate::harness::TEST_USER };
    let userns = if engine.as_root() { "host" } else { "keep-id" };
    let runtime = sb.sh("echo $XDG_RUNTIME_DIR").ok().stdout().trim().to_string();
    let volumes = [
        "/etc:/run/host/etc".to_string(),
        "/dev:/dev:rslave".into(),
        "/tmp:/run/host/tmp:rslave".into(),
        "/var:/run/host/var:rslave".into(),
        format!("{home}:{home}:rslave"),
        format!("{}:/usr/bin/toolbox:ro", standin.display()),
        "/usr:/run/host/usr:ro,rslave".into(),
        format!("{runtime}:{runtime}"),
    ];
    let mut args: Vec<String> = [
        "create",
        "--dns",
        "none",
        "--env",
        "TOOLBOX_PATH=/usr/bin/toolbox",
        "--hostname",
        "toolbox",
        "--ipc",
        "host",
        "--label",
        "com.github.containers.toolbox=true",
        "--label",
        "com.github.debarshiray.toolbox=true",
        "--mount",
        "type=devpts,destination=/dev/pts",
        "--name",
        &name,
        "--network",
        "host",
        "--no-hosts",
        "--pid",
        "host",
        "--privileged",
        "--security-opt",
        "label=disable",
        "--ulimit",
        "host",
        "--userns",
        userns,
        "--user",
        "root:root",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for v in &volumes {
        args.extend(["--volume".to_string(), v.clone()]);
    }
    args.push(BOOKWORM.into());
    for a in ["toolbox", "--log-level", "debug", "init-container", "--gid", &uid, "--home", &home, "--shell", "/bin/sh"]
    {
        args.push(a.into());
    }
    for a in ["--uid", &uid, "--user", user, "--monitor-host"] {
        args.push(a.into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    sb.engine_cmd(&args).ok();
    sb.engine_cmd(&["start", &name]).ok();
    sb.engine_cmd(&["exec", &name, "sh", "-c", "echo kept > /var/tmp/adopt-marker"]).ok();

    let out = sb.tent(&["adopt", &name, "--yes", "--keep-old"]).ok();
    assert!(out.stderr.contains(&format!("kept as {kept}")), "{}", out.describe());
    assert_eq!(label(&sb, &kept, "com.github.containers.toolbox"), "true", "the old container is kept as it was");
    // Not `true` (podman boxes carry `tent` there, for Ptyxis): Toolbx no longer lists it.
    assert_ne!(label(&sb, &name, "com.github.containers.toolbox"), "true", "Toolbx no longer lists the new box");
    assert_ne!(label(&sb, &name, "com.github.debarshiray.toolbox"), "true");
    assert_eq!(in_box(&sb, &name, "id -u").trim(), uid);
    assert_eq!(in_box(&sb, &name, "cat /var/tmp/adopt-marker"), "kept\n");
    sb.tent(&["snapshot", &name]).ok();
    sb.tent(&["rm", &name, "--yes", "--force"]).ok();
}

/// Removes a container the test made under a name of its own.
struct Remove<'a>(&'a Sandbox, String);

impl Drop for Remove<'_> {
    fn drop(&mut self) {
        let _ = self.0.engine_cmd(&["rm", "--force", &self.1]).output();
    }
}

/// A container neither tool made is refused with what was found (labels,
/// image) and left as it was; so is a tent box.
fn a_plain_container_is_refused_and_left_alone(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.name("plain");
    sb.engine_cmd(&["create", "--name", &name, "--label", "purpose=adopt-test", BUSYBOX, "sleep", "600"]).ok();
    let out = sb.tent(&["adopt", &name, "--yes"]).code(2);
    assert!(
        out.stderr.contains("neither a Distrobox")
            && out.stderr.contains("purpose=adopt-test")
            && out.stderr.contains("busybox"),
        "{}",
        out.describe()
    );
    assert_eq!(label(&sb, &name, "purpose"), "adopt-test", "left as it was");
    assert!(label(&sb, &name, "tent.format").is_empty());

    let tent_box = sb.create("own", BUSYBOX, &["--no-start"]);
    let out = sb.tent(&["adopt", &tent_box, "--yes"]).code(2);
    assert!(out.stderr.contains("a tent box already"), "{}", out.describe());
    let out = sb.tent(&["adopt", &sb.name("missing"), "--dry-run"]).output();
    assert_ne!(out.code, Some(0), "{}", out.describe());
}
