//! Issue 22: `tent doctor` checks the engine as its help promises, on the
//! real engines, and says how to fix what it finds.

use crate::engine_tests;
use crate::harness::{BOOKWORM, Engine, Sandbox};

engine_tests!(doctor_checks_the_engine, doctor_with_a_box_asks_podman_only_its_version);

fn doctor_checks_the_engine(engine: Engine) {
    let sb = Sandbox::new(engine);
    let out = sb.tent(&["doctor", "--engine-only", "--json"]).ok();
    let checks: serde_json::Value = serde_json::from_slice(out.stdout_bytes()).unwrap();
    let find = |what: &str| checks.as_array().unwrap().iter().find(|c| c["what"] == what).cloned();
    let first = find("engine").unwrap_or_else(|| panic!("{checks}"));
    assert_eq!(first["ok"], true, "{checks}");
    let described = match engine {
        Engine::PodmanRoot => "rootful podman 4.",
        Engine::PodmanRootless => "rootless podman 4.",
        Engine::Docker => "docker ",
    };
    assert!(first["detail"].as_str().unwrap().starts_with(described), "{checks}");
    // The storage driver the test machine set up: overlay everywhere.
    assert!(find("storage").unwrap()["detail"].as_str().unwrap().starts_with("overlay"), "{checks}");
    let subids = find("subordinate uids");
    if engine == Engine::PodmanRootless {
        let subids = subids.unwrap_or_else(|| panic!("{checks}"));
        assert_eq!(subids["ok"], true, "tent-test has 65536 of them: {checks}");
        assert_eq!(find("newuidmap").unwrap()["ok"], true);
    } else {
        assert!(subids.is_none(), "only rootless podman uses them: {checks}");
    }
    // The human form says the same, and goes on to the exports.
    let out = sb.tent(&["doctor"]).ok();
    assert!(out.stderr.contains("engine: ") && out.stderr.contains("exports: no problems found"), "{}", out.describe());
}

/// Issue 24: with a box to look at, doctor does not wait for podman's
/// `info` (0.3-0.4 s on Debian with 100 containers: a `dpkg -S` per helper,
/// the state of every container). It asks podman's `version`; the storage
/// driver and runtime come from the box's inspect and the cgroup version
/// from the kernel, and they must say what `info` says. Docker's `info` is
/// its daemon's quick answer, and is still what doctor asks.
fn doctor_with_a_box_asks_podman_only_its_version(engine: Engine) {
    let sb = Sandbox::new(engine);
    let out = sb.tent(&["doctor", "--engine-only", "--json"]).ok();
    let checks: serde_json::Value = serde_json::from_slice(out.stdout_bytes()).unwrap();
    let from_info = |what: &str| {
        let check = checks.as_array().unwrap().iter().find(|c| c["what"] == what);
        check.unwrap_or_else(|| panic!("no {what}: {checks}"))["detail"].as_str().unwrap().to_string()
    };
    let name = sb.create("doctor", BOOKWORM, &[]);
    sb.tent(&["export", &name, "--bin", "/usr/bin/true", "--name", "doctor-true"]).ok();
    // A client of the same name that writes down what it is asked.
    let client = engine.client().rsplit('/').next().unwrap();
    sb.sh(&format!(
        "mkdir -p asks && real=$(command -v {client}) && printf '#!/bin/sh\\necho \"$1\" >> \"$HOME/asks/log\"\\nexec %s \"$@\"\\n' \"$real\" > asks/{client} && chmod +x asks/{client}"
    ))
    .ok();
    let wrapper = sb.home.join("asks").join(client);
    let out = sb.tent(&["--engine", wrapper.to_str().unwrap(), "doctor"]).ok();
    let asked = std::fs::read_to_string(sb.home.join("asks/log")).unwrap();
    let asked: Vec<&str> = asked.lines().collect();
    if engine == Engine::Docker {
        assert!(asked.contains(&"info"), "{asked:?}\n{}", out.describe());
    } else {
        assert!(asked.contains(&"version") && !asked.contains(&"info"), "{asked:?}\n{}", out.describe());
        assert!(
            out.stderr.contains(&format!("runtime: {} (what box {name} runs with)\n", from_info("runtime"))),
            "info says {checks}\n{}",
            out.describe()
        );
    }
    for what in ["storage", "cgroups"] {
        let line = format!("{what}: {}\n", from_info(what));
        assert!(out.stderr.contains(&line), "{line:?} as info says\n{}", out.describe());
    }
    assert!(out.stderr.contains("exports: no problems found"), "{}", out.describe());
}
