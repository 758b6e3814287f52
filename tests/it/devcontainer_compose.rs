//! devcontainer.json with `dockerComposeFile` (issue 25), on real engines:
//! the box is the compose `service`, made by tent from its image,
//! environment and volumes; the other services are started by the compose
//! tool installed for the engine (podman-compose for rootful podman,
//! docker-compose for Docker: `scripts/setup-engines` installs both), and
//! the box reaches them at localhost. Without a compose tool (a PATH that
//! has none) the apply is refused naming the file and the tools looked for,
//! and a project whose box needs no other service is made without one.
//!
//! Rootless podman has no compose test of its own services here: rootless
//! networks need `/dev/net/tun`, which this machine's rootless podman cannot
//! open (slirp4netns fails), and podman-compose 1.0.3 adds its network even
//! to `network_mode: host` services. Its refusal and its tool-less project
//! are tested.

use std::path::{Path, PathBuf};

use crate::engine_tests;
use crate::harness::{Engine, Run, Sandbox, tent_bin};

engine_tests!(without_a_compose_tool_other_services_are_refused_and_a_lone_service_is_made);

#[test]
fn compose_services_start_beside_the_box_on_rootful_podman() {
    if let Some(sb) = Sandbox::if_enabled(Engine::PodmanRoot) {
        compose_services_start_beside_the_box(sb, "podman-compose");
    }
}

#[test]
fn compose_services_start_beside_the_box_on_docker() {
    if let Some(sb) = Sandbox::if_enabled(Engine::Docker) {
        compose_services_start_beside_the_box(sb, "docker-compose");
    }
}

const COMPOSE: &str = include_str!("../fixtures/devcontainer/compose/.devcontainer/docker-compose.yml");
const JSON: &str = include_str!("../fixtures/devcontainer/compose/.devcontainer/devcontainer.json");

/// `tent ARGS` in the project folder.
fn tent_in(sb: &Sandbox, dir: &Path, args: &[&str]) -> Run {
    let mut c = sb.command(tent_bin());
    c.args(args).current_dir(dir);
    Run::from(c)
}

/// Writes the project: the fixture's compose file and devcontainer.json, and
/// the folder the box mounts.
fn project(sb: &Sandbox) -> PathBuf {
    sb.sh("mkdir -p proj/.devcontainer proj/data && echo shared > proj/data/f").ok();
    sb.sh("cat > proj/.devcontainer/docker-compose.yml").stdin(COMPOSE).ok();
    sb.sh("cat > proj/.devcontainer/devcontainer.json").stdin(JSON).ok();
    sb.home.join("proj")
}

/// Takes the compose project down again, whatever the test did.
struct Down<'a> {
    sb: &'a Sandbox,
    tool: &'a str,
    project: String,
    dir: PathBuf,
}

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let mut c = self.sb.command(self.tool);
        c.args(["-p", &self.project, "-f", "docker-compose.yml", "down"]).current_dir(&self.dir);
        let _ = Run::from(c).output();
        // podman-compose 1.0.3's `down` leaves the project's network behind.
        let _ = self.sb.engine_cmd(&["network", "rm", &format!("{}_default", self.project)]).output();
    }
}

fn compose_services_start_beside_the_box(mut sb: Sandbox, tool: &str) {
    let name = sb.name("dccompose");
    // A port of this test only: the engines' tests run in parallel.
    let port = 20000 + (std::process::id() % 20000) + if sb.engine == Engine::Docker { 1 } else { 0 };
    sb.env.push(("TENT_IT_BOX".into(), name.clone()));
    sb.env.push(("IT_PORT".into(), port.to_string()));
    sb.env.push(("IT_WORD".into(), "please".into()));
    let proj = project(&sb);
    let project_name = format!("{name}_devcontainer");
    let _down = Down { sb: &sb, tool, project: project_name.clone(), dir: proj.join(".devcontainer") };

    let plan = tent_in(&sb, &proj, &["apply", "--dry-run"]).ok();
    let text = format!("{}{}", plan.stdout(), plan.stderr);
    for needle in [
        format!("+ create {name}"),
        format!("+ start web of compose project {project_name} with {tool}"),
        format!("-p {project_name} -f {} down` stops them", proj.join(".devcontainer/docker-compose.yml").display()),
        "uses the host's network, not the compose network: it reaches web at localhost".into(),
        "ignored: dockerComposeFile app.command".into(),
    ] {
        assert!(text.contains(&needle), "{needle:?} in:\n{}", plan.describe());
    }
    let running = || {
        let filter = format!("label=com.docker.compose.project={project_name}");
        sb.engine_cmd(&["ps", "--filter", &filter, "--format", "{{.Names}}"]).ok().stdout()
    };
    assert_eq!(running(), "", "a dry run starts nothing");

    tent_in(&sb, &proj, &["apply"]).ok();
    let services = running();
    assert!(services.contains("web") && !services.contains("app"), "only web is the tool's: {services}");
    assert_eq!(std::fs::read_to_string(proj.join(".created")).unwrap_or_default(), "created\n");

    // The box: the service's environment and volume, containerEnv over it;
    // web at localhost, where it published its port.
    let script = format!(
        "echo \"$FROM_COMPOSE|$FROM_JSON\"; cat /data/f; \
         for i in $(seq 50); do \
           if got=$( (exec 3<>/dev/tcp/127.0.0.1/{port} && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3) 2>/dev/null ); \
           then echo \"$got\" | tail -n 1; exit; fi; \
           sleep 0.2; \
         done; echo unreachable"
    );
    let out = sb.tent(&["run", &name, "--", "bash", "-c", &script]).ok().stdout();
    assert_eq!(out, "yes please|json\nshared\nserved\n");

    // Again: nothing to do, nothing started again.
    let again = tent_in(&sb, &proj, &["apply"]).ok();
    assert!(again.stderr.contains("nothing to do") && !again.stderr.contains("+ start"), "{}", again.describe());
}

/// A folder of links to every program of /usr/bin and /usr/sbin but the
/// compose tools: a PATH on which none is installed.
fn path_without_compose(sb: &Sandbox) -> String {
    let dir = sb.home.join("no-compose-bin");
    let script = format!(
        "mkdir -p {dir} && for f in /usr/sbin/* /usr/bin/*; do \
           case ${{f##*/}} in podman-compose|docker-compose) ;; *) ln -sf \"$f\" {dir}/ ;; esac; \
         done",
        dir = dir.display()
    );
    sb.sh(&script).ok();
    dir.display().to_string()
}

fn without_a_compose_tool_other_services_are_refused_and_a_lone_service_is_made(engine: Engine) {
    let mut sb = Sandbox::new(engine);
    let name = sb.name("dcnotool");
    sb.env.push(("TENT_IT_BOX".into(), name.clone()));
    sb.env.push(("IT_PORT".into(), "1".into()));
    let proj = project(&sb);
    let path = path_without_compose(&sb);
    sb.env.push(("PATH".into(), path));
    if engine == Engine::Docker && sb.engine_cmd(&["compose", "version"]).output().code == Some(0) {
        eprintln!("skipping the Docker refusal: this machine has the docker compose plugin, found wherever PATH is");
        return;
    }
    let which = sb.sh("command -v podman-compose docker-compose || echo none").ok().stdout();
    assert_eq!(which, "none\n", "the PATH has no compose tool");

    let file = proj.join(".devcontainer/docker-compose.yml");
    let looked = if engine == Engine::Docker { "docker compose, docker-compose" } else { "podman-compose" };
    for args in [&["apply", "--dry-run"][..], &["apply"][..]] {
        let refused = tent_in(&sb, &proj, args).output();
        assert_ne!(refused.code, Some(0), "{}", refused.describe());
        for needle in [
            format!("stands for service \"app\" of {}", file.display()),
            "whose services web need a compose tool".into(),
            format!("(looked for {looked}); nothing was changed"),
        ] {
            assert!(refused.stderr.contains(&needle), "{needle:?} in:\n{}", refused.describe());
        }
    }
    assert_ne!(sb.engine_cmd(&["container", "inspect", &name]).output().code, Some(0), "no box was made");
    assert!(!proj.join(".created").exists());

    // The same project with no service to start beside the box needs no tool.
    let lone = COMPOSE.replace("    depends_on: [web]\n", "");
    sb.sh("cat > proj/.devcontainer/docker-compose.yml").stdin(lone).ok();
    sb.sh("sed -i 's/\"service\": \"app\",/\"service\": \"app\", \"runServices\": [],/' proj/.devcontainer/devcontainer.json")
        .ok();
    let plan = tent_in(&sb, &proj, &["apply", "--dry-run"]).ok();
    assert!(!plan.stdout().contains("+ start"), "{}", plan.describe());
    tent_in(&sb, &proj, &["apply"]).ok();
    let out =
        sb.tent(&["run", &name, "--", "sh", "-c", "echo \"$FROM_COMPOSE|$FROM_JSON\"; cat /data/f"]).ok().stdout();
    assert_eq!(out, "yes none|json\nshared\n");
    assert_eq!(std::fs::read_to_string(proj.join(".created")).unwrap_or_default(), "created\n");
}
