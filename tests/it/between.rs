//! Between box and host (issue 15), on real engines: the box's menu entry,
//! the default box, per-call and passed-through variables, throwaway boxes
//! (also after Ctrl-C), the command index behind command-not-found, and a
//! running box following the host's resolv.conf.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::engine_tests;
use crate::harness::{BOOKWORM, Engine, Sandbox, bytes_contain, eventually, tent_bin};

engine_tests!(entry_env_which_and_rm, default_box_and_none, ephemeral_is_removed_after_its_command);

fn validate(path: &Path) {
    let out = Command::new("desktop-file-validate").arg(path).output().expect("desktop-file-validate is installed");
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "{} does not validate:\n{}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write_config(sb: &Sandbox, text: &str) {
    let dir = sb.home.join(".config/tent");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), text).unwrap();
    let _ = Command::new("chown")
        .args(["-R", "--reference", &sb.home.display().to_string()])
        .arg(sb.home.join(".config"))
        .status();
}

/// One box for the cheap checks: its launcher (validates, removable, gone
/// with `rm`), `--env` and passed proxies with no box name (the only box),
/// and `tent which` after a package install.
fn entry_env_which_and_rm(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("between", BOOKWORM, &[]);
    let launcher = sb.home.join(format!(".local/share/applications/tent-{name}.desktop"));

    let out = sb.tent(&["entry", &name]).ok();
    assert!(out.stderr.contains("added"), "{}", out.describe());
    validate(&launcher);
    let text = std::fs::read_to_string(&launcher).unwrap();
    assert!(text.contains("\nTerminal=true\n"), "{text}");
    let exec = text.lines().find_map(|l| l.strip_prefix("Exec=")).unwrap();
    assert!(exec.starts_with(&tent_bin().display().to_string()), "{exec}");
    assert!(exec.contains("--engine ") && exec.ends_with(&format!(" enter {name}")), "{exec}");
    assert!(text.contains("\nIcon="), "{text}");
    let list = sb.tent(&["export", &name, "--list", "--json"]).ok();
    assert!(list.stdout().contains("\"entry\""), "{}", list.describe());

    sb.tent(&["entry", &name, "--remove"]).ok();
    assert!(!launcher.exists());

    // A configured terminal: it runs tent itself.
    write_config(&sb, "[entry]\nterminal = \"xterm -e\"\n[env]\npass = [\"TENT_IT_PASSED\"]\n");
    sb.tent(&["entry", &name]).ok();
    validate(&launcher);
    let text = std::fs::read_to_string(&launcher).unwrap();
    assert!(text.contains("\nTerminal=false\n") && text.contains("\nExec=xterm -e /"), "{text}");

    // No name: the only box of this HOME. --env for one call; a proxy and
    // an env.pass variable from the host.
    let script = format!(
        "https_proxy=http://proxy.example:3128 TENT_IT_PASSED=yes {} run --env FOO=bar -e BAZ='a b' -- \
         sh -c 'echo \"$TENT_BOX|$FOO|$BAZ|$https_proxy|$TENT_IT_PASSED\"'",
        tent_bin().display()
    );
    let out = sb.sh(&script).ok();
    assert_eq!(out.stdout().trim(), format!("{name}|bar|a b|http://proxy.example:3128|yes"), "{}", out.describe());
    sb.tent(&["run", "--env", "NOEQUALS", "--", "true"]).code(2);

    // The command index: hello is not in the box, then it is.
    sb.tent(&["which", "hello"]).code(1);
    let ls = sb.tent(&["which", "ls"]).ok();
    assert!(ls.stdout().starts_with(&format!("{name}\t")), "{}", ls.describe());
    sb.tent(&[
        "run",
        &name,
        "--as-root",
        "--",
        "sh",
        "-c",
        "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends hello >/dev/null",
    ])
    .ok();
    let found = eventually(15, || sb.tent(&["which", "hello"]).output().stdout().contains(&name));
    assert!(found, "tent which hello: {}", sb.tent(&["which", "hello"]).output().describe());
    let hit = sb.tent(&["which", "hello"]).ok().stdout();
    assert!(hit.trim_end().ends_with(&format!("run {name} -- hello")), "{hit}");
    handlers_name_the_box(&sb, &name);

    // On a terminal, enter tells it which box the tab is in, and that it left.
    let inner = format!("{} enter {name}", tent_bin().display());
    let mut c = sb.command("script");
    c.args(["-qec", &inner, "/dev/null"]);
    let out = crate::harness::Run::from(c).stdin("exit 5\n").output();
    assert_eq!(out.code, Some(5), "{}", out.describe());
    // The runtime Ptyxis files the box under (docs/terminals.md).
    let runtime = if engine == Engine::Docker { "tent" } else { "toolbox" };
    let push = format!("\x1b]777;container;push;{name};{runtime};{}\x1b\\", sb.uid());
    let pop = format!("\x1b]777;container;pop;;;{}\x1b\\", sb.uid());
    assert!(bytes_contain(&out.stdout, &push) && bytes_contain(&out.stdout, &pop), "{}", out.describe());
    // Off a terminal, nothing of the kind.
    let out = sb.tent(&["enter", &name, "--", "true"]).ok();
    assert!(!bytes_contain(&out.stdout, "\x1b]777"), "{}", out.describe());

    sb.tent(&["rm", "--force", "--yes", &name]).ok();
    assert!(!launcher.exists(), "rm left the launcher");
    sb.tent(&["which", "hello"]).code(1);
}

/// No box: off a terminal, an error with the hint; `--yes` creates the
/// configured default box, which `run` then uses without a name.
fn default_box_and_none(engine: Engine) {
    let sb = Sandbox::new(engine);
    let out = sb.tent(&["run", "--", "true"]).code(2);
    assert!(out.stderr.contains("no box yet") && out.stderr.contains("--yes"), "{}", out.describe());
    let name = sb.name("default");
    write_config(&sb, &format!("image = \"{BOOKWORM}\"\ndefault_box = \"{name}\"\n"));
    let out = sb.tent(&["enter", "--", "true"]).code(2);
    assert!(out.stderr.contains(&format!("default box {name} does not exist")), "{}", out.describe());
    let out = sb.tent(&["run", "--yes", "--", "sh", "-c", "echo $TENT_BOX"]).ok();
    assert_eq!(out.stdout().trim(), name, "{}", out.describe());
    let out = sb.tent(&["run", "--", "sh", "-c", "echo $TENT_BOX"]).ok();
    assert_eq!(out.stdout().trim(), name, "{}", out.describe());
}

fn ephemeral_names(sb: &Sandbox) -> Vec<String> {
    let out = sb.engine_cmd(&["ps", "-a", "--format", "{{.Names}}"]).ok();
    let state = sb.home.join(".local/state/tent/boxes").join(sb.engine.scope());
    let mine: Vec<String> = std::fs::read_dir(&state)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    out.stdout()
        .lines()
        .filter(|n| n.starts_with("ephemeral-") && mine.iter().any(|m| m == n))
        .map(String::from)
        .collect()
}

/// A throwaway box runs the command, passes its status, and is gone after.
fn ephemeral_is_removed_after_its_command(engine: Engine) {
    let sb = Sandbox::new(engine);
    let out = sb.tent(&["ephemeral", "--image", BOOKWORM, "--", "sh", "-c", "echo $TENT_BOX; exit 4"]).code(4);
    let name = out.stdout().trim().to_string();
    assert!(name.starts_with("ephemeral-") && name.len() == "ephemeral-".len() + 6, "{}", out.describe());
    assert!(out.stderr.contains(&format!("removed {name}")), "{}", out.describe());
    let inspect = sb.engine_cmd(&["container", "inspect", &name]).output();
    assert_ne!(inspect.code, Some(0), "{name} is still there");
    assert!(!sb.state_dir(&name).exists());
}

/// The host shells' command-not-found handlers (shell-integration/host), in
/// real bash, zsh and fish: a command only a box has is named with the way
/// to run it, status 127; any other missing command gets the shell's usual
/// message and no box.
fn handlers_name_the_box(sb: &Sandbox, name: &str) {
    let root = env!("CARGO_MANIFEST_DIR");
    let bin = tent_bin().parent().unwrap().display().to_string();
    for (shell, file, status) in
        [("bash", "tent.bash", "$?"), ("zsh", "tent.zsh", "$?"), ("fish", "tent.fish", "$status")]
    {
        // A copy in the user's home: the checkout may be closed to the test user.
        let handler = sb.home.join(file);
        std::fs::copy(format!("{root}/shell-integration/host/{file}"), &handler).unwrap();
        let handler = handler.display();
        let script = format!(
            "PATH={bin}:$PATH {shell} -c 'source {handler}; hello; echo status={status}; tent-it-nosuch; echo status={status}'"
        );
        let out = sb.sh(&script).ok();
        let (stdout, stderr) = (out.stdout(), &out.stderr);
        assert_eq!(stdout, "status=127\nstatus=127\n", "{shell}: {}", out.describe());
        assert!(
            stderr.contains(&format!("{shell}: hello: command not found on the host; it is in a tent box:")),
            "{shell}: {}",
            out.describe()
        );
        assert!(stderr.contains(&format!("run {name} -- hello\n")), "{shell}: {}", out.describe());
        // fish adds the source line and a caret under the command.
        assert_eq!(stderr.matches("in a tent box").count(), 1, "{shell}: {}", out.describe());
        let usual = stderr.lines().any(|l| l.starts_with(shell) && l.contains("tent-it-nosuch"));
        assert!(usual, "{shell}: {}", out.describe());
    }
}

/// Ctrl-C while the throwaway box's command runs: tent ends it and removes
/// the box, status 130.
#[test]
fn ephemeral_is_removed_after_ctrl_c() {
    let Some(sb) = Sandbox::if_enabled(Engine::PodmanRoot) else { return };
    let mut c = sb.command(tent_bin());
    c.args(["ephemeral", "--image", BOOKWORM, "--", "sleep", "600"]).stdout(Stdio::null()).stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    let name = ephemeral_running_sleep(&sb);
    // `env` execs tent, so the child's pid is tent's.
    // SAFETY: kill has no memory preconditions; the pid is our child's.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let inspect = sb.engine_cmd(&["container", "inspect", &name]).output();
    assert_ne!(inspect.code, Some(0), "{name} is still there: {stderr}");
    assert!(ephemeral_names(&sb).is_empty());
}

/// The terminal closes while the throwaway box's shell command runs: tent
/// (in the terminal's foreground group, so hung up) still removes the box.
/// The terminal is util-linux `script`'s; killing `script` closes its side,
/// and the kernel hangs up the session.
#[test]
fn ephemeral_is_removed_when_its_terminal_closes() {
    let Some(sb) = Sandbox::if_enabled(Engine::PodmanRoot) else { return };
    let inner = format!("exec {} ephemeral --image {BOOKWORM} -- sleep 600", tent_bin().display());
    let mut c = sb.command("script");
    c.args(["-qfec", &inner, "/dev/null"]).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null());
    let mut terminal = c.spawn().unwrap();
    let name = ephemeral_running_sleep(&sb);
    // SAFETY: kill has no memory preconditions; the pid is our child's.
    unsafe { libc::kill(terminal.id() as i32, libc::SIGKILL) };
    let _ = terminal.wait();
    let gone = eventually(120, || sb.engine_cmd(&["container", "inspect", &name]).output().code != Some(0));
    assert!(gone, "{name} is still there a while after its terminal closed");
    assert!(ephemeral_names(&sb).is_empty());
}

/// Waits until a throwaway box is ready and `sleep` runs in it; its name.
fn ephemeral_running_sleep(sb: &Sandbox) -> String {
    let state = sb.home.join(".local/state/tent/boxes").join(sb.engine.scope());
    let mut name = String::new();
    let ready = eventually(120, || {
        let found = std::fs::read_dir(&state)
            .ok()
            .and_then(|d| d.flatten().map(|e| e.path()).find(|p| p.join("ready").exists()));
        if let Some(dir) = found {
            name = dir.file_name().unwrap().to_string_lossy().into_owned();
            return true;
        }
        false
    });
    assert!(ready, "the throwaway box never became ready");
    let running = eventually(30, || {
        sb.engine_cmd(&[
            "exec",
            &name,
            "sh",
            "-c",
            "ps -e -o comm= 2>/dev/null | grep -qx sleep || grep -lqx sleep /proc/[0-9]*/comm",
        ])
        .output()
        .code
            == Some(0)
    });
    assert!(running, "sleep never ran in {name}");
    name
}

/// The host's resolv.conf changes (a comment line, the nameservers kept):
/// a running box has the change within seconds. The host file is restored
/// whatever happens.
#[test]
fn running_box_follows_the_hosts_resolv_conf() {
    struct Restore(std::path::PathBuf, Vec<u8>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = std::fs::write(&self.0, &self.1);
        }
    }
    for engine in [Engine::PodmanRoot, Engine::PodmanRootless, Engine::Docker] {
        if !crate::harness::enabled(engine) {
            continue;
        }
        let sb = Sandbox::new(engine);
        let name = sb.create("resolv", BOOKWORM, &[]);
        let before = sb.tent(&["run", &name, "--", "cat", "/etc/resolv.conf"]).ok().stdout();
        let real = std::fs::canonicalize("/etc/resolv.conf").unwrap();
        let original = std::fs::read(&real).unwrap();
        let _restore = Restore(real.clone(), original.clone());
        let marker = format!("# tent-it {} {}", std::process::id(), name);
        let mut changed = original.clone();
        if !changed.ends_with(b"\n") {
            changed.push(b'\n');
        }
        changed.extend_from_slice(format!("{marker}\n").as_bytes());
        std::fs::write(&real, &changed).unwrap();
        let seen = eventually(15, || {
            sb.tent(&["run", &name, "--", "cat", "/etc/resolv.conf"]).output().stdout().contains(&marker)
        });
        drop(_restore);
        let mounted = sb
            .tent(&["run", &name, "--", "sh", "-c", "awk '$5 == \"/etc/resolv.conf\"' /proc/self/mountinfo"])
            .ok()
            .stdout();
        assert!(
            seen || !mounted.trim().is_empty(),
            "{engine:?}: the box's resolv.conf did not follow the host:\nbefore:\n{before}"
        );
        assert!(seen, "{engine:?}: /etc/resolv.conf is the engine's mount, which tent leaves alone");
    }
}
