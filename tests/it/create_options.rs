//! Create options Distrobox users rely on (issue 13): --init, --nvidia,
//! --unshare-*, hooks before and after provisioning, --engine-arg.

use crate::engine_tests;
use crate::harness::{BOOKWORM, BUSYBOX, Engine, Sandbox, TRIXIE};

engine_tests!(
    init_runs_systemd_as_pid_1,
    nvidia_passes_a_fake_driver,
    unshare_netns_gives_an_own_network,
    hooks_run_in_distrobox_order,
    engine_args_pass_and_tent_flags_are_refused,
    system_defaults_shape_new_boxes,
);

/// Issue 22: a downstream image's defaults (`/usr/share/tent/config.toml`,
/// `/etc/tent/config.toml`; here through `TENT_SYSTEM_CONFIG`) shape new
/// boxes under the user's own config: volumes, a home prefix, `--no-host`;
/// the user's file overrides a system key.
fn system_defaults_shape_new_boxes(engine: Engine) {
    let mut sb = Sandbox::new(engine);
    let shared = sb.home.join("srv-data");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(shared.join("hello"), "from the system volume\n").unwrap();
    let vendor = sb.home.join("vendor.toml");
    let admin = sb.home.join("admin.toml");
    std::fs::write(&vendor, "no_host = true\nimage = \"nope:missing\"\n").unwrap();
    std::fs::write(
        &admin,
        format!(
            "image = \"{BOOKWORM}\"\nhome_prefix = \"~/boxes\"\nvolumes = [\"{}:/srv/data:ro\"]\n",
            shared.display()
        ),
    )
    .unwrap();
    sb.env.push(("TENT_SYSTEM_CONFIG".into(), format!("{}:{}", vendor.display(), admin.display())));
    let name = sb.name("sysdef");
    sb.tent(&["create", &name]).ok();
    let home = sb.home.join("boxes").join(&name);
    let out = sb.tent(&["run", &name, "--", "sh", "-c", "echo $HOME; cat /srv/data/hello"]).ok();
    assert_eq!(out.stdout(), format!("{}\nfrom the system volume\n", home.display()), "{}", out.describe());
    assert!(home.join(".tent-home").is_file(), "tent made that home for the box");
    let out = sb.tent(&["run", &name, "--", "tent", "host", "--", "true"]).output();
    assert_ne!(out.code, Some(0), "no_host from the system: {}", out.describe());

    // The user's own file wins over the system's.
    std::fs::create_dir_all(sb.home.join(".config/tent")).unwrap();
    std::fs::write(sb.home.join(".config/tent/config.toml"), "no_host = false\n").unwrap();
    let open = sb.name("sysdef-open");
    sb.tent(&["create", &open]).ok();
    sb.tent(&["run", &open, "--", "tent", "host", "--", "true"]).ok();

    // A mistake in a system file names that file.
    std::fs::write(&admin, "imagee = 1\n").unwrap();
    let out = sb.tent(&["list"]).code(1);
    assert!(out.stderr.contains(&admin.display().to_string()) && out.stderr.contains("imagee"), "{}", out.describe());
}

/// Rootful podman: systemd is PID 1 and boots; stop is clean and the box
/// comes back. Rootless podman on this host's hybrid cgroups: refused with
/// the reason before anything is made.
fn init_runs_systemd_as_pid_1(engine: Engine) {
    let sb = Sandbox::new(engine);
    match engine {
        Engine::PodmanRoot => {}
        Engine::PodmanRootless => {
            let name = sb.name("init");
            let run = sb.tent(&["create", &name, "--image", TRIXIE, "--init"]).code(2);
            assert!(run.stderr.contains("cgroup v2"), "{}", run.describe());
            assert!(sb.engine_cmd(&["container", "exists", &name]).output().code != Some(0), "nothing was made");
            return;
        }
        // Not verified on Docker here (no --privileged on this machine).
        Engine::Docker => return,
    }
    let name = sb.create("init", TRIXIE, &["--init"]);
    let check = "cat /proc/1/comm; systemctl is-system-running --wait || true";
    let out = sb.tent(&["run", &name, "--", "sh", "-c", check]).ok().stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "systemd", "{out}");
    assert!(matches!(lines.last().copied(), Some("running" | "degraded")), "{out}");
    sb.tent(&["stop", &name]).ok();
    let out = sb.tent(&["run", &name, "--", "sh", "-c", check]).ok().stdout();
    assert!(out.starts_with("systemd\n"), "{out}");
    assert!(out.trim_end().ends_with("running") || out.trim_end().ends_with("degraded"), "{out}");
}

/// A fake driver under TENT_HOST_ROOT reaches a --nvidia box, and only it.
fn nvidia_passes_a_fake_driver(engine: Engine) {
    let mut sb = Sandbox::new(engine);
    let root = sb.home.join("fakeroot");
    let lib = root.join("usr/lib/x86_64-linux-gnu");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::create_dir_all(root.join("usr/bin")).unwrap();
    std::fs::write(lib.join("libnvidia-ml.so.550.1"), "fake").unwrap();
    // ldconfig lists only real shared objects, by their SONAME: a copy of
    // the host's libz stands in (listed as libz.so.1 from the driver dir).
    std::fs::copy("/usr/lib/x86_64-linux-gnu/libz.so.1", lib.join("libcuda.so.1")).unwrap();
    let smi = root.join("usr/bin/nvidia-smi");
    crate::test_support::write_script(&smi, "#!/bin/sh\necho 'GPU 0: Fake NVIDIA GPU (UUID: GPU-tent)'\n");
    if !engine.as_root() {
        sb.sh("true").ok();
        let _ = std::process::Command::new("chown").args(["-R", "tent-test:", root.to_str().unwrap()]).status();
    }
    sb.env.push(("TENT_HOST_ROOT".into(), root.display().to_string()));
    let name = sb.create("nv", BOOKWORM, &["--nvidia"]);
    let out = sb
        .tent(&["run", &name, "--", "sh", "-c", "nvidia-smi; /sbin/ldconfig -p | grep /usr/lib/tent-nvidia/"])
        .ok()
        .stdout();
    assert!(out.contains("Fake NVIDIA GPU"), "{out}");
    assert!(out.contains("=> /usr/lib/tent-nvidia/"), "{out}");
    let plain = sb.create("plain", BOOKWORM, &[]);
    let out = sb
        .tent(&["run", &plain, "--", "sh", "-c", "command -v nvidia-smi; /sbin/ldconfig -p | grep -c tent-nvidia"])
        .output();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("nvidia-smi"), "{}", out.describe());
    assert!(String::from_utf8_lossy(&out.stdout).trim().ends_with('0'), "{}", out.describe());
}

fn unshare_netns_gives_an_own_network(engine: Engine) {
    let sb = Sandbox::new(engine);
    // Rootless podman's own network needs /dev/net/tun, which this machine's
    // slirp4netns cannot open: the error says so and how to get an offline one.
    let name = if engine == Engine::PodmanRootless {
        let name = sb.name("nettun");
        let out = sb.tent(&["create", &name, "--image", BOOKWORM, "--unshare-netns"]).output();
        if out.code != Some(0) {
            assert!(out.stderr.contains("--engine-arg=--network=none"), "{}", out.describe());
            // Offline, so an image that needs no packages.
            sb.create("net", BUSYBOX, &["--unshare-netns", "--engine-arg=--network=none"])
        } else {
            name
        }
    } else {
        sb.create("net", BOOKWORM, &["--unshare-netns"])
    };
    let inside = sb.tent(&["run", &name, "--", "readlink", "/proc/self/ns/net"]).ok().stdout();
    let host = sb.sh("readlink /proc/self/ns/net").ok().stdout();
    assert!(inside.starts_with("net:["), "{inside}");
    assert_ne!(inside, host);
    let shared = sb.create("hostnet", BOOKWORM, &[]);
    let same = sb.tent(&["run", &shared, "--", "readlink", "/proc/self/ns/net"]).ok().stdout();
    assert_eq!(same, host, "without the option the box has the host's network");
}

fn hooks_run_in_distrobox_order(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create(
        "hooks",
        BOOKWORM,
        &["--pre-init-hook", "echo HOOK-pre-1", "--pre-init-hook", "echo HOOK-pre-2", "--init-hook", "echo HOOK-init"],
    );
    let log = std::fs::read_to_string(sb.state_dir(&name).join("init.log")).unwrap();
    let at = |needle: &str| log.find(needle).unwrap_or_else(|| panic!("{needle} missing in {log}"));
    assert!(at("HOOK-pre-1") < at("HOOK-pre-2"));
    assert!(at("HOOK-pre-2") < at("==> checking what the image lacks"));
    assert!(at("==> setting up") < at("HOOK-init"));
}

fn engine_args_pass_and_tent_flags_are_refused(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("eargs", BOOKWORM, &["--engine-arg=--env=TENT_IT_X=1"]);
    let out = sb.tent(&["run", &name, "--", "sh", "-c", "echo $TENT_IT_X"]).ok().stdout();
    assert_eq!(out.trim(), "1");
    let bad = sb.name("bad");
    let run = sb.tent(&["create", &bad, "--image", BOOKWORM, "--engine-arg=--name=x"]).code(2);
    assert!(run.stderr.contains("is refused") && run.stderr.contains("names the container"), "{}", run.describe());
}
