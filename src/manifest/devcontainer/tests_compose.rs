//! `dockerComposeFile`: the service as the box, the other services to start,
//! and compose files read as a stranger's input.

use std::collections::HashMap;

use proptest::prelude::*;

use super::compose::{interpolate, project_name, valid_service};
use super::tests::{assert_warns, parse_in};
use crate::manifest::test_support::message;

const COMPOSE: &str = r#"
name: My Project
services:
  app:
    image: tent-test/debian:${DEBIAN:-bookworm}
    command: sleep infinity
    environment:
      - FROM_LIST=1
      - FROM_HOST
      - NOT_ON_HOST
    volumes:
      - ../data:/data:ro
      - cache:/cache
      - type: bind
        source: ./conf
        target: /conf
        read_only: true
      - /anonymous
    ports: ["3000:3000"]
    depends_on: [db]
    user: vscode
  db:
    image: tent-test/busybox:latest
    environment: {PASSWORD: "$${not-a-variable}"}
  cache:
    image: tent-test/busybox:latest
    depends_on:
      queue: {condition: service_started}
  queue:
    image: tent-test/busybox:latest
  docs:
    image: tent-test/busybox:latest
"#;

fn project(
    compose: &str,
    json: &str,
    env: &[(&str, &str)],
) -> (tempfile::TempDir, crate::error::Result<super::Manifest>) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join(".devcontainer")).unwrap();
    std::fs::write(d.join(".devcontainer/docker-compose.yml"), compose).unwrap();
    let m = parse_in(d, json, env);
    (dir, m)
}

#[test]
fn the_service_is_the_box_and_the_others_are_started() {
    let json = r#"{"dockerComposeFile": "docker-compose.yml", "service": "app", "runServices": ["cache"],
        "containerEnv": {"FROM_LIST": "2"}, "workspaceFolder": "/workspaces/x"}"#;
    let (dir, m) = project(COMPOSE, json, &[("FROM_HOST", "h")]);
    let m = m.unwrap();
    let d = dir.path();
    let b = &m.boxes[0];
    assert_eq!(b.image.as_deref(), Some("tent-test/debian:bookworm"), "${{VAR:-default}}");
    assert_eq!(b.env.get("FROM_LIST").map(String::as_str), Some("2"), "containerEnv over the service's");
    assert_eq!(b.env.get("FROM_HOST").map(String::as_str), Some("h"), "a bare name takes the host's value");
    assert!(!b.env.contains_key("NOT_ON_HOST"), "{:?}", b.env);
    let data = format!("{}:/data:ro", d.join("data").display());
    let conf = format!("{}:/conf:ro", d.join(".devcontainer/conf").display());
    assert_eq!(b.volumes, [data, "cache:/cache".to_string(), conf], "relative to the compose file");

    let c = &m.compose[0];
    assert_eq!(c.service, "app");
    assert_eq!(c.project, "myproject");
    // runServices, what they depend on, and what the box depends on; not the box.
    assert_eq!(c.start, ["db", "cache", "queue"]);
    let file = d.join(".devcontainer/docker-compose.yml").display().to_string();
    assert_eq!(c.up_args(), ["-p", "myproject", "-f", &file, "up", "-d", "--no-deps", "db", "cache", "queue"]);
    assert_eq!(c.down_args(), ["-p", "myproject", "-f", &file, "down"]);

    assert_warns(
        &m.warnings,
        &[
            "uses the host's network, not the compose network: it reaches db, cache, queue at localhost",
            "ignored: dockerComposeFile app.ports",
            "ignored: dockerComposeFile app.command",
            "ignored: dockerComposeFile app.user",
            "ignored: dockerComposeFile app.volumes",
            "ignored: workspaceFolder",
        ],
    );
}

#[test]
fn all_services_start_without_run_services_and_a_lone_service_needs_no_tool() {
    let (_dir, m) = project(COMPOSE, r#"{"dockerComposeFile": ["docker-compose.yml"], "service": "app"}"#, &[]);
    let m = m.unwrap();
    assert_eq!(m.compose[0].start, ["db", "cache", "queue", "docs"]);
    assert_eq!(m.compose[0].project, "myproject");

    let lone = "services:\n  app:\n    image: tent-test/debian:bookworm\n";
    let (_dir, m) =
        project(lone, r#"{"name": "Web", "dockerComposeFile": "docker-compose.yml", "service": "app"}"#, &[]);
    let m = m.unwrap();
    assert!(m.compose[0].start.is_empty());
    assert_eq!(m.compose[0].project, "web_devcontainer");
    assert!(!m.warnings.join("\n").contains("host's network"), "{:?}", m.warnings);
}

#[test]
fn a_later_file_overrides_an_earlier_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join(".devcontainer")).unwrap();
    std::fs::write(d.join(".devcontainer/base.yml"), COMPOSE).unwrap();
    std::fs::write(
        d.join(".devcontainer/dev.yml"),
        "services:\n  app:\n    image: other:1\n    environment: {ONLY: dev}\n",
    )
    .unwrap();
    let json = r#"{"dockerComposeFile": ["base.yml", "dev.yml"], "service": "app"}"#;
    let m = parse_in(d, json, &[]).unwrap();
    assert_eq!(m.boxes[0].image.as_deref(), Some("other:1"));
    assert_eq!(m.boxes[0].env.get("ONLY").map(String::as_str), Some("dev"));
    assert_eq!(m.compose[0].files.len(), 2);
}

#[test]
fn a_built_service_is_built_by_tent() {
    let compose = "services:\n  app:\n    build:\n      context: ..\n      dockerfile: .devcontainer/Dockerfile\n      args: [\"V=${V}\"]\n      target: dev\n    image: named-by-compose\n";
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join(".devcontainer")).unwrap();
    std::fs::write(d.join(".devcontainer/Dockerfile"), "FROM debian\n").unwrap();
    std::fs::write(d.join(".devcontainer/docker-compose.yml"), compose).unwrap();
    std::fs::write(d.join(".devcontainer/.env"), "# compose's own\nV='from-dot-env'\nexport W=2\n").unwrap();
    let m = parse_in(d, r#"{"dockerComposeFile": "docker-compose.yml", "service": "app"}"#, &[]).unwrap();
    let build = &m.builds[0];
    assert_eq!(build.context, d);
    assert_eq!(build.dockerfile, d.join(".devcontainer/Dockerfile"));
    assert_eq!(build.args.get("V").map(String::as_str), Some("from-dot-env"));
    assert_eq!(build.target.as_deref(), Some("dev"));
    assert_eq!(m.boxes[0].image.as_ref(), Some(&build.image), "tent's own tag, not compose's");
    // The host's environment wins over .env.
    let m = parse_in(d, r#"{"dockerComposeFile": "docker-compose.yml", "service": "app"}"#, &[("V", "host")]).unwrap();
    assert_eq!(m.builds[0].args.get("V").map(String::as_str), Some("host"));
}

#[test]
fn wrong_compose_projects_are_errors_naming_the_way_out() {
    let err = |compose: &str, json: &str| message(project(compose, json, &[]).1.unwrap_err());
    let (e, hint) = err(COMPOSE, r#"{"dockerComposeFile": "docker-compose.yml"}"#);
    assert!(e.contains("needs `service`") && e.contains("devcontainer.json:1:"), "{e}");
    assert!(hint.contains("\"service\""), "{hint}");
    let (e, hint) = err(COMPOSE, r#"{"dockerComposeFile": "docker-compose.yml", "service": "web"}"#);
    assert!(e.contains("service \"web\" is not in docker-compose.yml"), "{e}");
    assert!(hint.contains("app, db, cache, queue, docs"), "{hint}");
    let (e, _) =
        err(COMPOSE, r#"{"dockerComposeFile": "docker-compose.yml", "service": "app", "runServices": ["nope"]}"#);
    assert!(e.contains("`runServices` names \"nope\""), "{e}");
    let (e, _) = err(COMPOSE, r#"{"dockerComposeFile": "missing.yml", "service": "app"}"#);
    assert!(e.contains("no compose file at") && e.contains("missing.yml"), "{e}");
    let (e, _) = err("services: [a, b]\n", r#"{"dockerComposeFile": "docker-compose.yml", "service": "a"}"#);
    assert!(e.contains("no `services:` mapping"), "{e}");
    let (e, hint) =
        err("services:\n  app: {image: [\n", r#"{"dockerComposeFile": "docker-compose.yml", "service": "app"}"#);
    assert!(e.contains("not a compose file"), "{e}");
    assert!(hint.contains("YAML"), "{hint}");
    let (e, _) =
        err("services:\n  app: {ports: [1]}\n", r#"{"dockerComposeFile": "docker-compose.yml", "service": "app"}"#);
    assert!(e.contains("neither `image` nor `build`"), "{e}");
    let (e, _) = err(
        "services:\n  app: {image: \"${NEED:?set NEED}\"}\n",
        r#"{"dockerComposeFile": "docker-compose.yml", "service": "app"}"#,
    );
    assert!(e.contains("${NEED} is needed: set NEED"), "{e}");
}

#[test]
fn hostile_compose_files_reach_no_argv_and_cost_little() {
    let err = |compose: &str| {
        message(
            project(compose, r#"{"dockerComposeFile": "docker-compose.yml", "service": "app"}"#, &[]).1.unwrap_err(),
        )
        .0
    };
    // A service named like an option would reach the tool's argv.
    let e = err("services:\n  app: {image: x}\n  --privileged: {image: x}\n");
    assert!(e.contains("service name \"--privileged\" is not one tent passes on"), "{e}");
    assert!(err("services:\n  app: {image: \"-x\"}\n").contains("is not an image reference"));
    assert!(err("services:\n  app: {image: x, environment: {\"A B\": 1}}\n").contains("is not a variable name"));
    // A billion laughs: the loader refuses it instead of expanding it.
    let mut laughs = String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    for (i, name) in "bcdefghi".chars().enumerate() {
        let prev = (b'a' + i as u8) as char;
        laughs.push_str(&format!(
            "{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
    }
    laughs.push_str("services:\n  app: {image: x, environment: *i}\n");
    let started = std::time::Instant::now();
    let e = err(&laughs);
    assert!(e.contains("not a compose file"), "{e}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    // A compose file (or .env) linked elsewhere is not read.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join(".devcontainer")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", d.join(".devcontainer/docker-compose.yml")).unwrap();
    let json = r#"{"dockerComposeFile": "docker-compose.yml", "service": "app"}"#;
    let e = message(parse_in(d, json, &[]).unwrap_err()).0;
    assert!(e.contains("cannot read the compose file"), "{e}");
    std::fs::remove_file(d.join(".devcontainer/docker-compose.yml")).unwrap();
    std::fs::write(d.join(".devcontainer/docker-compose.yml"), "services: {app: {image: x}}\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", d.join(".devcontainer/.env")).unwrap();
    let e = message(parse_in(d, json, &[]).unwrap_err()).0;
    assert!(e.contains(".env") && e.contains("symbolic link"), "{e}");
}

#[test]
fn compose_variables_expand_as_data() {
    let env: HashMap<&str, &str> = [("SET", "v"), ("EMPTY", "")].into();
    let get = |n: &str| env.get(n).map(|v| v.to_string());
    let cases = [
        ("$SET-${SET}", "v-v"),
        ("${UNSET:-d}|${EMPTY:-d}|${EMPTY-d}|${UNSET-d}", "d|d||d"),
        ("${SET:+alt}|${UNSET:+alt}|${EMPTY+alt}", "alt||alt"),
        ("$$SET $$ $ ${SET}$", "$SET $ $ v$"),
        ("$(echo no)", "$(echo no)"),
    ];
    for (text, want) in cases {
        assert_eq!(interpolate(text, &get).unwrap(), want, "{text}");
    }
    assert!(interpolate("${UNSET:?tell me}", &get).unwrap_err().contains("tell me"));
    assert!(interpolate("${EMPTY:?}", &get).is_err());
    assert_eq!(interpolate("${EMPTY?}", &get).unwrap(), "");
    assert!(interpolate("${open", &get).is_err());
    assert!(interpolate("${SET/x/y}", &get).is_err());
    // A value is not expanded again.
    let nested = |n: &str| (n == "A").then(|| "${A}${A}".to_string());
    assert_eq!(interpolate("${A}", &nested).unwrap(), "${A}${A}");
    let big = |_: &str| Some("x".repeat(40_000));
    assert!(interpolate("${A}${A}", &big).unwrap_err().contains("more than"));
}

#[test]
fn names_that_reach_the_argv() {
    assert!(valid_service("db") && valid_service("my_db.1-a"));
    assert!(!valid_service("-d") && !valid_service("") && !valid_service("a b") && !valid_service("a/b"));
    assert_eq!(project_name("My Project!"), "myproject");
    assert_eq!(project_name("--x_Y"), "x_y");
    assert_eq!(project_name("!!!"), "devcontainer");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever a compose file holds, reading it ends in a box or an error,
    /// and every service to start is a checked name.
    #[test]
    fn any_compose_text_never_panics(text in "\\PC{0,300}") {
        let json = r#"{"dockerComposeFile": "docker-compose.yml", "service": "app"}"#;
        if let Ok(m) = project(&text, json, &[]).1 {
            prop_assert!(m.compose[0].start.iter().all(|s| valid_service(s)));
        }
    }

    #[test]
    fn compose_like_text_never_panics(
        names in prop::collection::vec("[a-z-]{1,6}", 1..5),
        values in prop::collection::vec("[${}:?+\\-a-zA-Z_ ]{0,12}", 1..5),
    ) {
        let mut text = String::from("services:\n  app:\n    image: x\n");
        for (name, value) in names.iter().zip(&values) {
            text.push_str(&format!("  {name}:\n    image: \"{value}\"\n    depends_on: [{name}, app]\n"));
        }
        let json = r#"{"dockerComposeFile": "docker-compose.yml", "service": "app"}"#;
        if let Ok(m) = project(&text, json, &[]).1 {
            prop_assert!(m.compose[0].start.iter().all(|s| valid_service(s) && s != "app"));
        }
    }

    #[test]
    fn interpolation_never_panics(text in "\\PC{0,200}") {
        let _ = interpolate(&text, &|_| Some("v".into()));
    }
}

#[test]
fn the_shape_of_a_public_compose_template_reads_with_what_tent_cannot_do_said() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("work/proj");
    std::fs::create_dir_all(d.join(".devcontainer")).unwrap();
    let files = [
        (
            "docker-compose.yml",
            include_str!("../../../tests/fixtures/devcontainer/compose-template/.devcontainer/docker-compose.yml"),
        ),
        ("Dockerfile", include_str!("../../../tests/fixtures/devcontainer/compose-template/.devcontainer/Dockerfile")),
    ];
    for (name, text) in files {
        std::fs::write(d.join(".devcontainer").join(name), text).unwrap();
    }
    let json = include_str!("../../../tests/fixtures/devcontainer/compose-template/.devcontainer/devcontainer.json");
    let m = parse_in(&d, json, &[]).unwrap();
    let b = &m.boxes[0];
    assert_eq!(b.name, "python-3-postgresql");
    assert_eq!(m.builds[0].context, d);
    assert_eq!(m.builds[0].dockerfile, d.join(".devcontainer/Dockerfile"));
    assert_eq!(b.image.as_ref(), Some(&m.builds[0].image));
    assert_eq!(b.volumes, [format!("{}:/workspaces", dir.path().join("work").display())]);
    assert_eq!(m.compose[0].start, ["db"]);
    assert_warns(
        &m.warnings,
        &[
            "ignored: dockerComposeFile app.network_mode",
            "ignored: dockerComposeFile app.command",
            "service \"db\" publishes no ports and is not on the host's network: the box cannot reach it",
            "ignored: workspaceFolder",
        ],
    );
}
