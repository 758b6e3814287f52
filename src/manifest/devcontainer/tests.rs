use std::collections::HashMap;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::lifecycle::{Lifecycle, hook};
use super::map::box_name;
use super::mounts::parse_mount_string;
use super::*;
use crate::manifest::test_support::message;

const FILE: &str = "/home/me/proj/.devcontainer/devcontainer.json";

/// Features by reference on a machine without skopeo (and nothing cached).
pub(super) fn no_skopeo() -> oci::Oci<'static> {
    oci::Oci {
        cache: Some(PathBuf::from("/nonexistent/tent-features")),
        skopeo: None,
        source: &|r| format!("docker://{r}"),
    }
}

fn parse_env(text: &str, env: &[(&str, &str)]) -> Result<Manifest> {
    let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    parse_with(Path::new(FILE), text, &|name| env.get(name).cloned(), Path::new("/home/me"), &no_skopeo())
}

fn parse_ok(text: &str) -> Manifest {
    parse_env(text, &[]).unwrap()
}

fn error(text: &str) -> String {
    message(parse_env(text, &[]).unwrap_err()).0
}

#[test]
fn finds_the_project_folder_of_each_place() {
    assert_eq!(project_folder(Path::new("/p/.devcontainer/devcontainer.json")), PathBuf::from("/p"));
    assert_eq!(project_folder(Path::new("/p/.devcontainer/go/devcontainer.json")), PathBuf::from("/p"));
    assert_eq!(project_folder(Path::new("/p/.devcontainer.json")), PathBuf::from("/p"));
    assert_eq!(project_folder(Path::new("/p/conf/dc.json")), PathBuf::from("/p/conf"));
    assert!(is_devcontainer_file(Path::new("/p/.devcontainer.json")));
    assert!(!is_devcontainer_file(Path::new("/p/tent.toml")));
}

#[test]
fn discovery_lists_every_configuration_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(candidates(d).is_empty());
    std::fs::create_dir_all(d.join(".devcontainer/rust")).unwrap();
    std::fs::create_dir_all(d.join(".devcontainer/go")).unwrap();
    std::fs::write(d.join(".devcontainer/rust/devcontainer.json"), "{}").unwrap();
    std::fs::write(d.join(".devcontainer/go/devcontainer.json"), "{}").unwrap();
    std::fs::write(d.join(".devcontainer.json"), "{}").unwrap();
    std::fs::write(d.join(".devcontainer/devcontainer.json"), "{}").unwrap();
    let found: Vec<String> = candidates(d).iter().map(|p| p.strip_prefix(d).unwrap().display().to_string()).collect();
    assert_eq!(
        found,
        [
            ".devcontainer/devcontainer.json",
            ".devcontainer.json",
            ".devcontainer/go/devcontainer.json",
            ".devcontainer/rust/devcontainer.json"
        ]
    );
}

#[test]
fn jsonc_comments_and_trailing_commas_are_fine() {
    let m = parse_ok(
        r#"// For format details, see https://aka.ms/devcontainer.json
        {
            "name": "My Project", /* block */
            "image": "mcr.microsoft.com/devcontainers/base:bookworm",
            "containerEnv": { "A": "1", },
        }"#,
    );
    let b = &m.boxes[0];
    assert_eq!(b.name, "my-project");
    assert_eq!(b.image.as_deref(), Some("mcr.microsoft.com/devcontainers/base:bookworm"));
    assert_eq!(b.env.get("A").map(String::as_str), Some("1"));
    assert!(m.warnings.iter().any(|w| w.contains("the box is named \"my-project\"")), "{:?}", m.warnings);
}

#[test]
fn syntax_errors_name_file_line_and_column() {
    let e = error("{\n  \"image\": \"x\"\n  \"name\": 1\n}");
    assert!(e.starts_with(&format!("{FILE}:2:15: Expected comma")), "{e}");
    let e = error("{\n  \"image\": 'x'\n}");
    assert!(e.starts_with(&format!("{FILE}:2:12: ")), "{e}");
    let e = error("");
    assert!(e.contains("empty"), "{e}");
    let e = error("[1]");
    assert!(e.contains("one object"), "{e}");
}

#[test]
fn wrong_types_are_errors_at_their_place() {
    let e = error("{\n \"image\": [\"x\"]\n}");
    assert!(e.starts_with(&format!("{FILE}:2:11: `image` must be a string, not an array")), "{e}");
    let e = error("{\"image\": \"x\", \"containerEnv\": {\"1A\": \"x\"}}");
    assert!(e.contains("not a variable name"), "{e}");
    for bad in ["--help", "a b", "x\\u001b[2J"] {
        let e = error(&format!("{{\"image\": \"{bad}\"}}"));
        assert!(e.contains("not an image reference"), "{bad}: {e}");
    }
}

#[test]
fn unknown_keys_warn_with_a_suggestion() {
    let m = parse_ok("{\"image\": \"x\",\n \"postCreateComand\": \"true\"}");
    assert!(
        m.warnings.iter().any(|w| w.contains(&format!(
            "{FILE}:2:2: unknown key `postCreateComand` skipped (did you mean `postCreateCommand`?)"
        ))),
        "{:?}",
        m.warnings
    );
    assert!(m.boxes[0].init_hooks.is_empty());
}

#[test]
fn the_box_is_named_after_the_project_without_a_name() {
    assert_eq!(parse_ok("{\"image\": \"x\"}").boxes[0].name, "proj");
    assert_eq!(box_name("--Weird Name!!"), "weird-name");
    assert_eq!(box_name("..."), "devcontainer");
    assert_eq!(box_name(&"a".repeat(100)).len(), 63);
}

#[test]
fn an_image_is_needed() {
    assert!(error("{\"name\": \"x\"}").contains("names no `image`"));
}

pub(super) fn parse_in(dir: &Path, text: &str, env: &[(&str, &str)]) -> Result<Manifest> {
    let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let file = dir.join(".devcontainer/devcontainer.json");
    parse_with(&file, text, &|name| env.get(name).cloned(), dir, &no_skopeo())
}

#[test]
fn build_reads_the_dockerfile_and_names_the_image_by_its_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join(".devcontainer")).unwrap();
    std::fs::write(d.join(".devcontainer/Dockerfile"), "FROM debian\n").unwrap();
    let json = r#"{"name": "My_App", "build": {"dockerfile": "Dockerfile", "context": "..",
        "args": {"V": "${localEnv:V}"}, "target": "dev", "cacheFrom": "x"}}"#;
    let m = parse_in(d, json, &[("V", "1")]).unwrap();
    let build = &m.builds[0];
    assert_eq!(build.dockerfile, d.join(".devcontainer/Dockerfile"));
    assert_eq!(build.context, d);
    assert_eq!(build.text, b"FROM debian\n");
    assert!(
        build.image.starts_with("localhost/tent-devcontainer-my_app:")
            || build.image.starts_with("localhost/tent-devcontainer-my-app:"),
        "{}",
        build.image
    );
    assert_eq!(m.boxes[0].image.as_deref(), Some(build.image.as_str()));
    let args = build.engine_args();
    assert_eq!(&args[..5], ["build", "-t", &build.image, "-f", "-"]);
    assert_eq!(args[args.len() - 2..], ["--".to_string(), d.display().to_string()]);
    assert!(args.contains(&"V=1".to_string()) && args.contains(&"dev".to_string()));
    assert!(m.warnings.iter().any(|w| w.starts_with("ignored: build.cacheFrom")), "{:?}", m.warnings);
    // The same inputs name the same image; another arg, another image.
    assert_eq!(parse_in(d, json, &[("V", "1")]).unwrap().builds[0].image, build.image);
    assert_ne!(parse_in(d, json, &[("V", "2")]).unwrap().builds[0].image, build.image);
    // The legacy form.
    let m = parse_in(d, r#"{"dockerFile": "Dockerfile"}"#, &[]).unwrap();
    assert_eq!(m.builds[0].context, d.join(".devcontainer"));
}

#[test]
fn a_linked_or_missing_dockerfile_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join(".devcontainer")).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", d.join(".devcontainer/Dockerfile")).unwrap();
    let e = message(parse_in(d, r#"{"build": {"dockerfile": "Dockerfile"}}"#, &[]).unwrap_err()).0;
    assert!(e.contains("cannot read the Dockerfile"), "{e}");
    let e = message(parse_in(d, r#"{"build": {"dockerfile": "Nope"}}"#, &[]).unwrap_err()).0;
    assert!(e.contains("no Dockerfile at"), "{e}");
    let e = message(parse_in(d, r#"{"build": {"dockerfile": "Nope", "target": "-x"}}"#, &[]).unwrap_err()).0;
    assert!(e.contains("not a stage name"), "{e}");
}

#[test]
fn variables_expand_as_data() {
    let m = parse_env(
        r#"{"image": "x", "containerEnv": {
            "A": "${localEnv:FOO}", "B": "${localEnv:NOPE:def:ault}", "C": "${localWorkspaceFolder}",
            "D": "${containerWorkspaceFolderBasename}", "E": "$(rm -rf /) ${localEnv:NOPE}", "F": "${devcontainerId}",
            "G": "${unknownThing}"
        }}"#,
        &[("FOO", "$(id)`id`")],
    )
    .unwrap();
    let env = &m.boxes[0].env;
    assert_eq!(env["A"], "$(id)`id`");
    assert_eq!(env["B"], "def:ault");
    assert_eq!(env["C"], "/home/me/proj");
    assert_eq!(env["D"], "proj");
    assert_eq!(env["E"], "$(rm -rf /) ");
    assert_eq!(env["F"].len(), 32);
    assert_eq!(env["G"], "${unknownThing}");
    assert!(m.warnings.iter().any(|w| w.contains("unknown variable ${unknownThing}")));
    // The same file gives the same id: re-apply plans nothing.
    assert_eq!(
        parse_env(r#"{"image":"x","containerEnv":{"F":"${devcontainerId}"}}"#, &[]).unwrap().boxes[0].env["F"],
        env["F"]
    );
}

#[test]
fn a_variable_is_not_expanded_twice_and_is_capped() {
    let m = parse_env(r#"{"image":"x","containerEnv":{"A":"${localEnv:X}"}}"#, &[("X", "${localEnv:Y}")]).unwrap();
    assert_eq!(m.boxes[0].env["A"], "${localEnv:Y}");
    let big = "y".repeat(60 * 1024);
    let e = message(
        parse_env(r#"{"image":"x","containerEnv":{"A":"${localEnv:X}${localEnv:X}"}}"#, &[("X", &big)]).unwrap_err(),
    )
    .0;
    assert!(e.contains("expands to more than"), "{e}");
}

#[test]
fn remote_env_is_the_box_environment_over_container_env() {
    let m = parse_ok(
        r#"{"image":"x","containerEnv":{"P":"/opt/bin","Q":"1"},
            "remoteEnv":{"PATH2":"${containerEnv:P}:/more","Q":"2","R":null}}"#,
    );
    let env = &m.boxes[0].env;
    assert_eq!(env["PATH2"], "/opt/bin:/more");
    assert_eq!(env["Q"], "2");
    assert!(!env.contains_key("R"));
    let m = parse_ok(r#"{"image":"x","remoteEnv":{"PATH":"${containerEnv:PATH}:/x","B":"b"}}"#);
    assert!(!m.boxes[0].env.contains_key("PATH"));
    assert_eq!(m.boxes[0].env["B"], "b");
    assert!(m.warnings.iter().any(|w| w.starts_with("ignored: remoteEnv.PATH")), "{:?}", m.warnings);
    let e = error(r#"{"image":"x","mounts":["source=${containerEnv:B},target=/b,type=bind"]}"#);
    assert!(e.contains("only the image knows"), "{e}");
}

#[test]
fn mounts_in_both_forms() {
    let m = parse_ok(
        r#"{"image":"x","mounts":[
            "source=${localEnv:HOME}/.cache,target=/cache,type=bind,consistency=cached",
            "type=volume,source=proj-node-modules,target=/home/me/proj/node_modules",
            {"source": "data", "target": "/data", "type": "bind", "readonly": true},
            "type=tmpfs,target=/tmp/x",
            "source=/a:b,target=/x,type=bind",
            "source=/tmp,target=/run/host/etc,type=bind",
            {"source": "/tmp", "target": "//run/./.tent", "type": "bind"}
        ]}"#,
    );
    let v = &m.boxes[0].volumes;
    assert_eq!(v[0], "/.cache:/cache");
    assert_eq!(v[1], "proj-node-modules:/home/me/proj/node_modules");
    assert_eq!(v[2], "/home/me/proj/data:/data:ro");
    assert_eq!(v.len(), 3, "{v:?}");
    assert_eq!(m.warnings.iter().filter(|w| w.starts_with("ignored: mounts")).count(), 4, "{:?}", m.warnings);
    assert!(m.warnings.iter().any(|w| w.contains("tent's own mounts")), "{:?}", m.warnings);
    assert!(parse_mount_string("type=bind,source=/a,target=/b,readonly").unwrap() != Default::default());
    assert!(parse_mount_string("type=bind,source=/a,target=/b,foo=1").is_err());
}

#[test]
fn a_project_outside_the_home_is_mounted_at_its_path() {
    let m = parse_with(
        Path::new("/srv/p/.devcontainer.json"),
        r#"{"image":"x"}"#,
        &|_| None,
        Path::new("/home/me"),
        &no_skopeo(),
    )
    .unwrap();
    assert_eq!(m.boxes[0].volumes, ["/srv/p:/srv/p"]);
    assert!(parse_ok(r#"{"image":"x"}"#).boxes[0].volumes.is_empty());
}

#[test]
fn run_args_pass_the_engine_arg_check() {
    let m = parse_ok(
        r#"{"image":"x","runArgs":["--cap-add=SYS_PTRACE","--security-opt","seccomp=unconfined"],
            "capAdd":["NET_ADMIN"],"securityOpt":["label=disable"]}"#,
    );
    assert_eq!(
        m.boxes[0].engine_args,
        [
            "--cap-add=SYS_PTRACE",
            "--security-opt",
            "seccomp=unconfined",
            "--cap-add=NET_ADMIN",
            "--security-opt=label=disable"
        ]
    );
    for bad in [r#"["--name","x"]"#, r#"["--user=0"]"#, r#"["--entrypoint","/bin/sh"]"#, r#"["--", "x"]"#] {
        let m = parse_ok(&format!(r#"{{"image":"x","runArgs":{bad}}}"#));
        assert!(m.boxes[0].engine_args.is_empty(), "{bad}");
        assert!(
            m.warnings.iter().any(|w| w.starts_with("ignored: runArgs") && w.contains("refused")),
            "{bad}: {:?}",
            m.warnings
        );
    }
}

#[test]
fn features_by_reference_without_skopeo_are_refused_with_their_name_and_the_way_out() {
    let json = r#"{"image": "x", "features": {"registry.example/features/node:1": {"version": "20"}}}"#;
    let (e, hint) = message(parse_env(json, &[]).unwrap_err());
    assert!(e.contains("feature \"registry.example/features/node:1\" is a reference to an OCI artifact"), "{e}");
    assert!(e.contains("skopeo, which tent fetches features with, is not installed"), "{e}");
    assert!(e.starts_with(&format!("{FILE}:1:")), "FILE:LINE:COL: {e}");
    assert!(hint.contains("install skopeo") && hint.contains("\"./NAME\""), "{hint}");
    for bad in ["-x/y", "a/../b", "noslash", "a//b", "a/b c"] {
        let json = format!(r#"{{"image": "x", "features": {{"{bad}": {{}}}}}}"#);
        let e = message(parse_env(&json, &[]).unwrap_err()).0;
        assert!(e.contains("neither a local feature"), "{bad}: {e}");
    }
}

/// Asserts that every needle is in one of the warnings.
pub(super) fn assert_warns(warnings: &[String], needles: &[&str]) {
    let all = warnings.join("\n");
    for needle in needles {
        assert!(all.contains(needle), "{needle:?} in:\n{all}");
    }
}

#[test]
fn gpu_ports_and_users_are_noted() {
    let m = parse_ok(
        r#"{"image":"x","hostRequirements":{"gpu":true,"cpus":4},"forwardPorts":[3000,"db:5432"],"appPort":8080,
            "remoteUser":"vscode","containerUser":"root"}"#,
    );
    assert!(m.boxes[0].nvidia);
    assert_warns(
        &m.warnings,
        &[
            "3000, db:5432 need no forwarding",
            "8080 need no forwarding",
            "ignored: remoteUser",
            "\"vscode\": the box runs as you",
            "ignored: containerUser",
            "ignored: hostRequirements.cpus",
        ],
    );
    assert!(!parse_ok(r#"{"image":"x","hostRequirements":{"gpu":"optional"}}"#).boxes[0].nvidia);
}

#[test]
fn lifecycle_commands_in_the_spec_order_and_forms() {
    let m = parse_ok(
        r#"{"image":"x",
            "postStartCommand": "echo start",
            "postCreateCommand": ["touch", "a b"],
            "onCreateCommand": {"one": "echo 1", "two": ["echo", "2"]},
            "updateContentCommand": "echo update",
            "postAttachCommand": "echo attach",
            "initializeCommand": ["git", "submodule", "update"]}"#,
    );
    let b = &m.boxes[0];
    assert_eq!(b.init_hooks.len(), 3);
    assert!(b.init_hooks[0].starts_with("# devcontainer.json onCreateCommand\n"));
    assert!(b.init_hooks[1].starts_with("# devcontainer.json updateContentCommand\n"));
    assert!(b.init_hooks[2].starts_with("# devcontainer.json postCreateCommand\n"));
    assert!(b.init_hooks[2].contains(r"exec '\''touch'\'' '\''a b'\''"), "{}", b.init_hooks[2]);
    assert_eq!(b.start_hooks.len(), 1);
    assert!(!m.warnings.iter().any(|w| w.contains("postAttachCommand")), "{:?}", m.warnings);
    assert_eq!(b.attach_hooks.len(), 1);
    let attach = &b.attach_hooks[0];
    assert!(attach.starts_with("# devcontainer.json postAttachCommand\n"), "{attach}");
    assert!(!attach.contains("su "), "tent-exec runs it as the user already: {attach}");
    assert!(attach.contains("/home/me/proj") && attach.contains("echo attach"), "{attach}");
    assert_eq!(m.host_commands.len(), 1);
    assert_eq!(m.host_commands[0].command, Lifecycle::Argv(vec!["git".into(), "submodule".into(), "update".into()]));
    assert_eq!(m.host_commands[0].cwd, PathBuf::from("/home/me/proj"));
    let e = error(r#"{"image":"x","postCreateCommand": {"a": {"b": "c"}}}"#);
    assert!(e.contains("postCreateCommand.a"), "{e}");
    assert!(parse_ok(r#"{"image":"x","postCreateCommand": ""}"#).boxes[0].init_hooks.is_empty());
}

/// The hooks are shell for the box's root: run them with a fake `su` that
/// runs the script as this user, and check what each form does.
#[test]
fn hooks_run_each_form_and_report_failures_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bin = d.join("bin");
    std::fs::create_dir(&bin).unwrap();
    // su -s /bin/sh USER -c SCRIPT
    crate::test_support::write_script(
        bin.join("su"),
        "#!/bin/sh\n[ \"$3\" = tester ] || exit 99\nexec /bin/sh -c \"$5\"\n",
    );
    let ws = d.join("ws");
    std::fs::create_dir(&ws).unwrap();
    let run = |command: &Lifecycle| {
        let text = format!("set -e\n{}", hook("postCreateCommand", command, ws.to_str().unwrap()));
        std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(text)
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("TENT_USER", "tester")
            .output()
            .unwrap()
    };
    let out = run(&Lifecycle::Argv(vec!["touch".into(), "a b; $(x)".into()]));
    assert!(out.status.success(), "{out:?}");
    assert!(ws.join("a b; $(x)").exists());
    let out = run(&Lifecycle::Shell("echo hi > shell.txt".into()));
    assert!(out.status.success() && ws.join("shell.txt").exists(), "{out:?}");
    let named = Lifecycle::Named(vec![
        ("one".into(), Lifecycle::Shell("echo out-one".into())),
        ("two".into(), Lifecycle::Argv(vec!["sh".into(), "-c".into(), "echo out-two; exit 3".into()])),
    ]);
    let out = run(&named);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stdout.contains("[one] out-one") && stdout.contains("[two] out-two"), "{stdout}");
    assert!(stderr.contains("tent: postCreateCommand two failed with status 3"), "{stderr}");
    let out = run(&Lifecycle::Shell("exit 7".into()));
    assert_eq!(out.status.code(), Some(7));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tent: postCreateCommand failed with status 7"));
}

#[test]
fn a_real_world_file_parses() {
    // The shape of the devcontainers/templates "rust" template
    // (github.com/devcontainers/templates, src/rust/.devcontainer/devcontainer.json).
    let m = parse_ok(
        r#"// For format details, see https://aka.ms/devcontainer.json. For config options, see the
// README at: https://github.com/devcontainers/templates/tree/main/src/rust
{
	"name": "Rust",
	// Or use a Dockerfile or Docker Compose file. More info: https://containers.dev/guide/dockerfile
	"image": "mcr.microsoft.com/devcontainers/rust:1-1-bookworm",

	// Use 'mounts' to make the cargo cache persistent in a Docker Volume.
	"mounts": [
		{
			"source": "devcontainer-cargo-cache-${devcontainerId}",
			"target": "/usr/local/cargo",
			"type": "volume"
		}
	],

	// Features to add to the dev container. More info: https://containers.dev/features.
	// "features": {},

	// Use 'forwardPorts' to make a list of ports inside the container available locally.
	// "forwardPorts": [],

	// Use 'postCreateCommand' to run commands after the container is created.
	"postCreateCommand": "rustc --version",

	// Configure tool-specific properties.
	"customizations": {},

	// Uncomment to connect as root instead. More info: https://aka.ms/dev-containers-non-root.
	"remoteUser": "root"
}"#,
    );
    let b = &m.boxes[0];
    assert_eq!(b.name, "rust");
    assert!(b.volumes[0].starts_with("devcontainer-cargo-cache-") && b.volumes[0].ends_with(":/usr/local/cargo"));
    assert_eq!(b.init_hooks.len(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Whatever the bytes, parsing ends with a manifest or an error, never a panic.
    #[test]
    fn never_panics(text in "\\PC{0,400}") {
        let _ = parse_env(&text, &[]);
    }

    #[test]
    fn never_panics_on_json_like_text(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("{"), Just("}"), Just("["), Just("]"), Just(","), Just(":"), Just("\"image\""), Just("\"x\""),
                Just("\"mounts\""), Just("\"postCreateCommand\""), Just("\"containerEnv\""), Just("\"remoteEnv\""),
                Just("\"${localEnv:A}\""), Just("\"${containerEnv:B:c}\""), Just("//c\n"), Just("/*"), Just("*/"),
                Just("1"), Just("null"), Just("true"), Just("\"runArgs\""), Just("\"hostRequirements\""), Just("\"gpu\""),
                Just("\"source=a,target=/b,type=bind\""), Just("\"name\""), Just("\"\\u0000\""),
            ],
            0..60,
        )
    ) {
        let text = parts.concat();
        let _ = parse_env(&text, &[("A", "${localEnv:A}")]);
    }

    /// Every box name made from a string is a valid box name.
    #[test]
    fn box_names_are_valid(name in "\\PC{0,100}") {
        crate::boxes::name::validate_name(&box_name(&name)).unwrap();
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let text = format!("{{\"image\":\"x\",\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(error(&text).contains("depth"));
}

#[test]
fn local_features_run_first_with_their_options() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f = d.join(".devcontainer/greeter");
    std::fs::create_dir_all(&f).unwrap();
    std::fs::write(
        f.join("devcontainer-feature.json"),
        r#"{"id": "greeter", "options": {"greeting": {"default": "hi"}, "loud": {"default": false}, "1st-thing": {"default": "x"}}}"#,
    )
    .unwrap();
    std::fs::write(f.join("install.sh"), "echo \"$GREETING $LOUD $_1ST_THING\" > out.txt\n").unwrap();
    let json = r#"{"image": "x", "onCreateCommand": "true",
        "features": {"./greeter": {"greeting": "hello", "loud": true}}}"#;
    let m = parse_in(d, json, &[]).unwrap();
    let hooks = &m.boxes[0].init_hooks;
    assert_eq!(hooks.len(), 2);
    assert!(hooks[0].starts_with("# devcontainer.json feature ._greeter"), "{}", hooks[0]);
    assert!(hooks[1].contains("onCreateCommand"));
    // The hook holds the script as read: run it here (as root would in the box).
    std::fs::write(f.join("install.sh"), "echo changed-later > out.txt\n").unwrap();
    let out = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("set -e\n{}", hooks[0]))
        .env("TENT_USER", "me")
        .env("TENT_HOME", "/home/me")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::read_to_string(f.join("out.txt")).unwrap(), "hello true x\n");
    // Outside the devcontainer.json's folder, linked, or missing: errors.
    let e = message(parse_in(d, r#"{"image": "x", "features": {"../../etc": {}}}"#, &[]).unwrap_err()).0;
    assert!(e.contains("outside"), "{e}");
    std::os::unix::fs::symlink("/etc/passwd", f.join("install.sh.link")).unwrap();
    std::fs::remove_file(f.join("install.sh")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", f.join("install.sh")).unwrap();
    let e = message(parse_in(d, r#"{"image": "x", "features": {"./greeter": {}}}"#, &[]).unwrap_err()).0;
    assert!(e.contains("cannot read install.sh"), "{e}");
    let e = message(parse_in(d, r#"{"image": "x", "features": {"./nope": {}}}"#, &[]).unwrap_err()).0;
    assert!(e.contains("has no devcontainer-feature.json"), "{e}");
}

#[test]
fn a_file_of_many_unknown_keys_is_cheap_and_its_notes_capped() {
    let mut text = String::from("{\"image\": \"x\"");
    for i in 0..60_000 {
        text.push_str(&format!(",\"k{i}\":1"));
    }
    text.push('}');
    let started = std::time::Instant::now();
    let m = parse_ok(&text);
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(m.warnings.len(), 201);
    assert!(m.warnings[200].ends_with("more notes left out"));
}
