//! Issue 22: Ptyxis, the terminal of Fedora's desktops, opens a tent box as
//! the user, in the tab's folder, with tent's environment: from its container
//! menu and from "new tab" in a tab that is in a box. Ptyxis is a GTK program
//! and not installable here; the test does what it does, step by step, with
//! the argv it builds kept below as data, and runs that argv for real.
//!
//! What Ptyxis does (GNOME Ptyxis 47 to 50, read in its public source):
//! - `agent/ptyxis-podman-provider.c`, `ptyxis_podman_provider_update_sync`:
//!   lists `podman ps --all --format=json`; `..._deserialize` gives a
//!   container the Toolbx type when its `Labels` hold the key
//!   `com.github.containers.toolbox` (any value: `agent/ptyxis-agent.c`,
//!   `ptyxis_agent_init`, registers it with value NULL), the Distrobox type
//!   for `manager=distrobox`/`apx`, else the plain podman type;
//! - `agent/ptyxis-podman-container.c`, `..._handle_find_program_in_path`:
//!   `podman exec ID which SHELL` finds the user's shell in the box;
//! - the same file, `ptyxis_podman_container_run_context_cb`: the argv below;
//!   only for Toolbx and Distrobox types does it add `--user` and `--workdir`,
//!   a plain container gets a root shell in `/`;
//! - `src/ptyxis-application.c`, `ptyxis_application_find_container_by_name`:
//!   a new tab in a tab that sent OSC 777 `container;push;NAME;RUNTIME` goes
//!   into the container whose provider (`toolbox` for the Toolbx type,
//!   `ptyxis-toolbox-container.c`) is RUNTIME and whose first name is NAME.

use crate::engine_tests;
use crate::harness::{BOOKWORM, Engine, Sandbox, TEST_USER, tent_bin};

engine_tests!(ptyxis_opens_a_box_as_the_user_in_the_folder);

/// The argv of `ptyxis_podman_container_run_context_cb` for a Toolbx-typed
/// container, in its order: `podman exec --privileged --interactive [--tty]
/// --user=USER --workdir=CWD [--preserve-fds=N] --detach-keys= --env=K=V...
/// ID ARGV...`. Without a terminal here, so no `--tty`; the environment is
/// what `ptyxis_client_spawn_async` (`src/ptyxis-client.c`) always sets, and
/// HOME is dropped by `..._prepare_run_context`.
fn ptyxis_toolbx_argv(user: &str, cwd: &str, id: &str, shell: &str) -> Vec<String> {
    let mut argv: Vec<String> = vec!["exec".into(), "--privileged".into(), "--interactive".into()];
    argv.push(format!("--user={user}"));
    argv.push(format!("--workdir={cwd}"));
    argv.push("--detach-keys=".into());
    for env in ["PTYXIS_PROFILE=b1dcc9dd5a2b4a6d8d5d3e2f1c0a9b8c", "PTYXIS_VERSION=48.4", "COLORTERM=truecolor"] {
        argv.push(format!("--env={env}"));
    }
    argv.push("--env=TERM=xterm-256color".into());
    argv.push(id.into());
    argv.push(shell.into());
    argv
}

fn ptyxis_opens_a_box_as_the_user_in_the_folder(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("ptyxis", BOOKWORM, &[]);
    let uid = sb.uid();

    // "new tab" in a tab where `tent enter` runs: the OSC 777 push it sends.
    let inner = format!("{} enter {name} -- true", tent_bin().display());
    let mut c = sb.command("script");
    c.args(["-qec", &inner, "/dev/null"]);
    let out = crate::harness::Run::from(c).output();
    assert_eq!(out.code, Some(0), "{}", out.describe());
    let text = out.stdout();
    let push = format!("\x1b]777;container;push;{name};");
    let at = text.find(&push).unwrap_or_else(|| panic!("no OSC 777 push: {}", out.describe()));
    let runtime = text[at + push.len()..].split(';').next().unwrap().to_string();
    assert!(text[at..].starts_with(&format!("{push}{runtime};{uid}\x1b\\")), "{text:?}");
    assert!(text.contains(&format!("\x1b]777;container;pop;;;{uid}\x1b\\")), "{text:?}");

    let listed = sb.engine_cmd(&["ps", "--all", "--format=json"]).ok();
    if engine == Engine::Docker {
        // Ptyxis's exec into a Docker container is root's, in `/`: a Docker
        // box names no runtime Ptyxis knows, so a new tab stays on the host.
        assert_eq!(runtime, "tent");
        let labels = sb.engine_cmd(&["inspect", "--format", "{{json .Config.Labels}}", &name]).ok().stdout();
        assert!(!labels.contains("com.github.containers.toolbox"), "{labels}");
        return;
    }
    assert_eq!(runtime, "toolbox", "Ptyxis's provider name for Toolbx containers");

    // Ptyxis's listing: the box is a Toolbx container, found under the OSC's
    // runtime and name.
    let containers: serde_json::Value = serde_json::from_slice(listed.stdout_bytes()).unwrap();
    let found: Vec<&serde_json::Value> = containers
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["Labels"].get("com.github.containers.toolbox").is_some() && c["Names"][0] == name.as_str())
        .collect();
    assert_eq!(found.len(), 1, "{}", listed.describe());
    let id = found[0]["Id"].as_str().unwrap().to_string();
    // Toolbx's own `toolbox list` (label `=true`) does not list it.
    let toolbx = sb.engine_cmd(&["ps", "--all", "--filter", "label=com.github.containers.toolbox=true", "-q"]).ok();
    assert!(!toolbx.stdout().contains(&id[..12]), "{}", toolbx.describe());

    // Ptyxis finds the shell in the box, then runs its argv.
    let which = sb.engine_cmd(&["exec", &id, "which", "bash"]).ok();
    let shell = which.stdout().trim().to_string();
    assert!(shell.ends_with("/bash"), "{}", which.describe());
    let project = sb.home.join("src/my project");
    std::fs::create_dir_all(&project).unwrap();
    if engine == Engine::PodmanRootless {
        let status = std::process::Command::new("chown").arg("-R").arg(format!("{TEST_USER}:")).arg(&sb.home).status();
        assert!(status.unwrap().success());
    }
    let user = if engine.as_root() { "root" } else { TEST_USER };
    let argv = ptyxis_toolbx_argv(user, project.to_str().unwrap(), &id, &shell);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let script = "echo \"USER=$(id -un) UID=$(id -u)\"\necho \"PWD=$(pwd)\"\necho \"BOX=$TENT_BOX\"\n\
                  echo \"HOME=$HOME\"\necho \"TERM=$TERM\"\necho \"SHELL=$0\"\ncase :$XDG_DATA_DIRS: in \
                  *:/var/lib/tent/host-share:*) echo HOST-SHARE;; esac\n";
    let out = sb.engine_cmd(&argv).stdin(script).ok();
    let text = out.stdout();
    assert!(text.contains(&format!("USER={user} UID={uid}\n")), "{}", out.describe());
    assert!(text.contains(&format!("PWD={}\n", project.display())), "{}", out.describe());
    assert!(text.contains(&format!("BOX={name}\n")), "tent's environment: {}", out.describe());
    assert!(text.contains("HOST-SHARE\n"), "tent's XDG_DATA_DIRS: {}", out.describe());
    assert!(text.contains("TERM=xterm-256color\n"), "{}", out.describe());
    assert!(text.contains(&format!("SHELL={shell}\n")), "{}", out.describe());
    if engine == Engine::PodmanRootless {
        // Root's HOME in a rootful box is root's own; the user's is theirs.
        assert!(text.contains(&format!("HOME={}\n", sb.home.display())), "{}", out.describe());
    }
}
