//! Issue 22: `tent doctor` checks the engine as its help promises, on the
//! real engines, and says how to fix what it finds.

use crate::engine_tests;
use crate::harness::{Engine, Sandbox};

engine_tests!(doctor_checks_the_engine);

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
