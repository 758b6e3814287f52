//! devcontainer.json `postAttachCommand` (issue 25): it runs at each `tent
//! enter` of the box, in the box, as the user, in the project folder; `tent
//! run` (scripts, exported commands) does not attach; a failing one is
//! reported and the shell or command still runs, as the specification has
//! it (attach commands block nothing).

use crate::engine_tests;
use crate::harness::{BOOKWORM, Engine, Run, Sandbox, tent_bin};

engine_tests!(post_attach_runs_at_each_enter_and_blocks_nothing);

fn post_attach_runs_at_each_enter_and_blocks_nothing(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.name("attach");
    let proj = sb.home.join("proj");
    let json = format!(
        r#"{{"name": "{name}", "image": "{BOOKWORM}",
            "postAttachCommand": {{"who": "echo \"$(id -u) $(pwd)\" >> .attach", "argv": ["sh", "-c", "echo argv >> .attach-argv"]}}}}"#
    );
    sb.sh("mkdir -p proj/.devcontainer && cat > proj/.devcontainer/devcontainer.json").stdin(json).ok();
    let mut c = sb.command(tent_bin());
    c.args(["apply", "--yes"]).current_dir(&proj);
    Run::from(c).ok();
    let read = |file: &str| std::fs::read_to_string(proj.join(file)).unwrap_or_default();
    assert_eq!(read(".attach"), "", "not at create or start");

    let out = sb.tent(&["enter", &name, "--", "echo", "in"]).ok();
    assert_eq!(out.stdout(), "in\n", "{}", out.describe());
    let line = format!("{} {}\n", sb.uid(), proj.display());
    assert_eq!(read(".attach"), line, "as the user, in the project folder");
    assert_eq!(read(".attach-argv"), "argv\n", "named commands: every one runs");
    sb.tent(&["run", &name, "--", "true"]).ok();
    assert_eq!(read(".attach"), line, "tent run does not attach");
    sb.tent(&["enter", &name, "--", "true"]).ok();
    assert_eq!(read(".attach"), format!("{line}{line}"), "each enter");
    let out = sb.tent(&["enter", &name, "--", "sh", "-c", "echo ${TENT_HOOK_ATTACH:-clean}"]).ok();
    assert!(out.stdout().ends_with("clean\n"), "the command does not inherit the hook: {}", out.describe());

    // A failing attach command: reported, and the command runs anyway.
    let broken = sb.name("attach-fails");
    let json = format!(r#"{{"name": "{broken}", "image": "{BOOKWORM}", "postAttachCommand": ["sh", "-c", "exit 3"]}}"#);
    sb.sh("mkdir -p broken/.devcontainer && cat > broken/.devcontainer/devcontainer.json").stdin(json).ok();
    let mut c = sb.command(tent_bin());
    c.args(["apply", "--yes"]).current_dir(sb.home.join("broken"));
    Run::from(c).ok();
    let out = sb.tent(&["enter", &broken, "--", "echo", "still here"]).ok();
    assert_eq!(out.stdout(), "still here\n", "{}", out.describe());
    assert!(out.stderr.contains("postAttachCommand failed with status 3"), "{}", out.describe());
    assert!(out.stderr.contains("starting anyway"), "{}", out.describe());
}
