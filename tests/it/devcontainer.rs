//! devcontainer.json as a manifest (issue 25), on real engines: a project
//! folder applied with `tent apply` (found without naming the file), the
//! lifecycle in the spec's order as the user, initializeCommand on the host
//! only with --yes, re-apply changing nothing, and a changed containerEnv
//! recreating the box with the home kept.

use crate::engine_tests;
use crate::harness::{Engine, Run, Sandbox, tent_bin};

engine_tests!(
    a_project_with_a_devcontainer_json_applies_in_the_spec_order,
    a_failing_lifecycle_command_stops_the_apply_with_its_name,
    a_dockerfile_is_built_with_the_engine
);

const FIXTURE: &str = include_str!("../fixtures/devcontainer/lifecycle/.devcontainer/devcontainer.json");

const FEATURE_JSON: &str =
    include_str!("../fixtures/devcontainer/lifecycle/.devcontainer/greeter/devcontainer-feature.json");
const FEATURE_SCRIPT: &str = include_str!("../fixtures/devcontainer/lifecycle/.devcontainer/greeter/install.sh");

/// `tent ARGS` in the project folder.
fn tent_in(sb: &Sandbox, dir: &std::path::Path, args: &[&str]) -> Run {
    let mut c = sb.command(tent_bin());
    c.args(args).current_dir(dir);
    Run::from(c)
}

fn read(sb: &Sandbox, file: &str) -> String {
    std::fs::read_to_string(sb.home.join("proj").join(file)).unwrap_or_default()
}

fn run(sb: &Sandbox, name: &str, script: &str) -> String {
    sb.tent(&["run", name, "--", "sh", "-c", script]).ok().stdout()
}

fn a_project_with_a_devcontainer_json_applies_in_the_spec_order(engine: Engine) {
    let mut sb = Sandbox::new(engine);
    let name = sb.name("dc");
    sb.env.push(("TENT_IT_BOX".into(), name.clone()));
    sb.sh("mkdir -p proj/.devcontainer proj/data && echo shared > proj/data/f").ok();
    sb.sh("cat > proj/.devcontainer/devcontainer.json").stdin(FIXTURE).ok();
    sb.sh("mkdir -p proj/.devcontainer/greeter").ok();
    sb.sh("cat > proj/.devcontainer/greeter/devcontainer-feature.json").stdin(FEATURE_JSON).ok();
    sb.sh("cat > proj/.devcontainer/greeter/install.sh").stdin(FEATURE_SCRIPT).ok();
    let proj = sb.home.join("proj");

    // The plan: found in the project folder, notes for what tent does not obey.
    let plan = tent_in(&sb, &proj, &["apply", "--dry-run"]).ok();
    let text = format!("{}{}", plan.stdout(), plan.stderr);
    for needle in [
        "using .devcontainer/devcontainer.json",
        &format!("+ create {name}"),
        "! run on the host",
        "initializeCommand",
        "ignored: remoteUser",
        "ignored: runArgs",
        "3000 need no forwarding",
        "unknown key `postCreateComand` skipped (did you mean `postCreateCommand`?)",
    ] {
        assert!(text.contains(needle), "{needle:?} in:\n{}", plan.describe());
    }

    // initializeCommand runs on the host: off a terminal, not without --yes.
    let refused = tent_in(&sb, &proj, &["apply"]).output();
    assert_ne!(refused.code, Some(0), "{}", refused.describe());
    assert!(refused.stderr.contains("initializeCommand") && refused.stderr.contains("--yes"), "{}", refused.describe());
    assert!(read(&sb, ".order").is_empty(), "nothing ran on the host");
    assert!(sb.engine_cmd(&["container", "inspect", &name]).output().code != Some(0), "no box was made");

    tent_in(&sb, &proj, &["apply", "--yes"]).ok();
    assert_eq!(read(&sb, ".order"), "initialize\nfeature hello false\nonCreate\nupdateContent\npostStart\n");
    assert_eq!(read(&sb, ".order-a"), "postCreate\n");
    assert_eq!(read(&sb, ".order-b"), "postCreate\n");
    assert_eq!(read(&sb, ".create-uid").trim(), sb.uid().to_string(), "lifecycle commands run as the user");
    let script =
        "echo $PROJECT_MODE $WS; echo $GREETING; cat /data/f; touch /data/x 2>/dev/null || echo ro; cat /etc/greeting";
    let env = run(&sb, &name, script);
    assert_eq!(env, format!("first {}\nhello from proj\nshared\nro\nhello\n", proj.display()));
    run(&sb, &name, "touch /data-rw/written");
    assert!(proj.join("data/written").exists());

    // Again: nothing to do, nothing run again.
    let again = tent_in(&sb, &proj, &["apply"]).ok();
    assert!(again.stderr.contains("nothing to do"), "{}", again.describe());
    assert!(!again.stderr.contains("! run on the host"), "{}", again.describe());
    assert_eq!(read(&sb, ".order"), "initialize\nfeature hello false\nonCreate\nupdateContent\npostStart\n");

    // A changed containerEnv recreates (asked: --yes), the home kept; the
    // once-commands run again for the new container.
    sb.sh("echo keep > proj/notes").ok();
    sb.env.push(("TENT_IT_MODE".into(), "second".into()));
    let plan = tent_in(&sb, &proj, &["apply", "--dry-run"]).ok();
    assert!(
        format!("{}{}", plan.stdout(), plan.stderr).contains(&format!("-/+ recreate {name}")),
        "{}",
        plan.describe()
    );
    tent_in(&sb, &proj, &["apply", "--yes"]).ok();
    assert_eq!(run(&sb, &name, "echo $PROJECT_MODE; cat ~/proj/notes"), "second\nkeep\n");
    assert_eq!(
        read(&sb, ".order"),
        "initialize\nfeature hello false\nonCreate\nupdateContent\npostStart\ninitialize\nfeature hello false\nonCreate\nupdateContent\npostStart\n"
    );

    // A changed once-command is rewritten in place, and the once-commands
    // run again in the same container.
    let id = || sb.engine_cmd(&["container", "inspect", "--format", "{{.Id}}", &name]).ok().stdout();
    let before = id();
    sb.sh("sed -i 's/echo onCreate >>/echo onCreate2 >>/' proj/.devcontainer/devcontainer.json && : > proj/.order")
        .ok();
    let updated = tent_in(&sb, &proj, &["apply"]).ok();
    assert!(updated.stderr.contains(&format!("~ update hooks of {name}")), "{}", updated.describe());
    assert_eq!(id(), before);
    assert_eq!(read(&sb, ".order"), "feature hello false\nonCreate2\nupdateContent\n");

    // `tent manifest` writes the box down as tent.toml: applying that finds
    // the same box (only taken over by the other file), nothing recreated.
    let toml = sb.tent(&["manifest", &name]).ok().stdout();
    sb.sh("cat > proj/tent.toml").stdin(toml.clone()).ok();
    let plan = tent_in(&sb, &proj, &["apply", "--dry-run", "tent.toml"]).ok();
    let text = format!("{}{}", plan.stdout(), plan.stderr);
    assert!(text.contains(&format!("! take over {name}")), "{toml}\n{}", plan.describe());
    assert!(!text.contains("recreate") && !text.contains("update hooks"), "{toml}\n{}", plan.describe());
    sb.sh("rm proj/tent.toml").ok();

    // Several configurations: off a terminal tent names them and --config.
    sb.sh("mkdir -p proj/.devcontainer/other && cp proj/.devcontainer/devcontainer.json proj/.devcontainer/other/")
        .ok();
    let several = tent_in(&sb, &proj, &["apply", "--dry-run"]).output();
    assert_ne!(several.code, Some(0));
    assert!(
        several.stderr.contains(".devcontainer/other/devcontainer.json") && several.stderr.contains("--config"),
        "{}",
        several.describe()
    );
    let picked = tent_in(&sb, &proj, &["apply", "--config", ".devcontainer/devcontainer.json"]).ok();
    assert!(picked.stderr.contains("nothing to do"), "{}", picked.describe());
}

fn a_failing_lifecycle_command_stops_the_apply_with_its_name(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.name("dcfail");
    let json = format!(
        r#"{{ "name": "{name}", "image": "tent-test/debian:bookworm",
             "postCreateCommand": {{ "fine": "true", "broken": ["sh", "-c", "echo oops; exit 3"] }},
             "postStartCommand": "echo never > started" }}"#
    );
    sb.sh("mkdir -p proj && cat > proj/.devcontainer.json").stdin(json).ok();
    let failed = tent_in(&sb, &sb.home.join("proj"), &["apply"]).output();
    assert_ne!(failed.code, Some(0), "{}", failed.describe());
    assert!(failed.stderr.contains("postCreateCommand broken failed with status 3"), "{}", failed.describe());
    assert!(!sb.home.join("proj/started").exists(), "the commands after it did not run");
}

fn a_dockerfile_is_built_with_the_engine(engine: Engine) {
    let mut sb = Sandbox::new(engine);
    let name = sb.name("dcbuild");
    sb.env.push(("TENT_IT_BOX".into(), name.clone()));
    sb.sh("mkdir -p proj/.devcontainer && echo from-context > proj/context-file").ok();
    sb.sh("cat > proj/.devcontainer/devcontainer.json")
        .stdin(include_str!("../fixtures/devcontainer/build/.devcontainer/devcontainer.json"))
        .ok();
    sb.sh("cat > proj/.devcontainer/Dockerfile")
        .stdin(include_str!("../fixtures/devcontainer/build/.devcontainer/Dockerfile"))
        .ok();
    let proj = sb.home.join("proj");
    let plan = tent_in(&sb, &proj, &["apply", "--dry-run", "--json"]).ok();
    let value: serde_json::Value = serde_json::from_slice(plan.stdout_bytes()).unwrap();
    let image = value["plan"][0]["spec"]["image"].as_str().unwrap().to_string();
    assert!(image.starts_with("localhost/tent-devcontainer-"), "{value}");
    let plan = tent_in(&sb, &proj, &["apply", "--dry-run"]).ok();
    assert!(plan.stdout().contains(&format!("+ build {image} for {name}")), "{}", plan.describe());

    let applied = tent_in(&sb, &proj, &["apply"]).output();
    let done = applied.code == Some(0);
    let built = std::fs::read_to_string(proj.join("built.txt")).unwrap_or_default();
    let in_box = if done { run(&sb, &name, "cat /etc/context-file") } else { String::new() };
    let again = tent_in(&sb, &proj, &["apply"]).output();
    // Clean up the image whatever happened, then check.
    sb.remove_boxes();
    let _ = sb.engine_cmd(&["rmi", &image]).output();
    assert!(done, "{}", applied.describe());
    assert_eq!(built, "hello\n", "the build arg reached the Dockerfile");
    assert_eq!(in_box, "from-context\n");
    assert!(again.stderr.contains("nothing to do") && !again.stderr.contains("+ build"), "{}", again.describe());
}
