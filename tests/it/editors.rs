//! Issue 22: editors attach to a box as the user. `tent code` writes the
//! attached-container configuration VS Code's Dev Containers extension reads
//! for a container name and runs `code --folder-uri URI`. VS Code is not
//! installable here, so a stand-in `code` records the argv it got; the test
//! then does with the engine what Dev Containers does with that
//! configuration (an exec as `remoteUser` in `workspaceFolder`).

use crate::engine_tests;
use crate::harness::{BOOKWORM, Engine, Sandbox, TEST_USER};

engine_tests!(vs_code_attaches_as_the_user_in_the_folder);

fn unhex(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    String::from_utf8(bytes).unwrap()
}

fn vs_code_attaches_as_the_user_in_the_folder(engine: Engine) {
    let mut sb = Sandbox::new(engine);
    let name = sb.create("code", BOOKWORM, &["--no-start"]);
    let project = sb.home.join("src/my project");
    std::fs::create_dir_all(&project).unwrap();
    let user = if engine.as_root() { "root" } else { TEST_USER };

    // No VS Code: an error that says how to get it, and nothing written.
    let out = sb.tent(&["code", &name, project.to_str().unwrap()]).code(1);
    assert!(out.stderr.contains("flatpak install flathub com.visualstudio.code"), "{}", out.describe());

    // A configuration the user keeps their own keys in.
    let configs = sb.home.join(".config/Code/User/globalStorage/ms-vscode-remote.remote-containers/nameConfigs");
    std::fs::create_dir_all(&configs).unwrap();
    let config_file = configs.join(format!("{name}.json"));
    std::fs::write(&config_file, r#"{"extensions": ["rust-lang.rust-analyzer"], "remoteUser": "root"}"#).unwrap();
    let bin = sb.home.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    crate::test_support::write_script(bin.join("code"), "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$HOME/code-argv\"\n");
    if !engine.as_root() {
        std::process::Command::new("chown")
            .args(["-R", &format!("{TEST_USER}:"), sb.home.to_str().unwrap()])
            .status()
            .unwrap();
    }
    sb.env.push(("PATH".into(), format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display())));

    let out = sb.tent(&["code", &name, project.to_str().unwrap()]).ok();
    let argv = std::fs::read_to_string(sb.home.join("code-argv")).unwrap_or_else(|e| panic!("{e}: {}", out.describe()));
    let uri = argv.trim().strip_prefix("--folder-uri=").unwrap_or_else(|| panic!("{argv}"));
    let rest = uri.strip_prefix("vscode-remote://attached-container+").unwrap_or_else(|| panic!("{uri}"));
    let (hex, path) = rest.split_at(rest.find('/').unwrap());
    assert_eq!(unhex(hex), format!("{{\"containerName\":\"{name}\"}}"));
    assert_eq!(path, project.display().to_string().replace(' ', "%20"));

    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(&config_file).unwrap()).unwrap();
    assert_eq!(config["remoteUser"], user, "{config}");
    assert_eq!(config["workspaceFolder"], project.display().to_string());
    assert_eq!(config["remoteEnv"]["TENT_BOX"], name.as_str());
    assert_eq!(config["extensions"][0], "rust-lang.rust-analyzer", "the user's own keys stay");

    // What Dev Containers then does: an exec as remoteUser in
    // workspaceFolder, in the running box.
    let folder = project.to_str().unwrap();
    let out = sb.engine_cmd(&["exec", "--user", user, "--workdir", folder, &name, "sh", "-c", "id -u; pwd"]).ok();
    assert_eq!(out.stdout(), format!("{}\n{folder}\n", sb.uid()), "{}", out.describe());

    // --json: the same, for scripts, without starting the editor.
    std::fs::remove_file(sb.home.join("code-argv")).unwrap();
    let out = sb.tent(&["code", &name, folder, "--json"]).ok();
    let value: serde_json::Value = serde_json::from_slice(out.stdout_bytes()).unwrap();
    assert_eq!(value["uri"], uri);
    assert!(!sb.home.join("code-argv").exists(), "--json does not start VS Code");
}

/// Issue 22: a rootful box from the desktop. Off a terminal (a menu launcher,
/// an exported app) sudo gets a graphical askpass in a graphical session,
/// else `--non-interactive`, so it fails at once, and the desktop is told
/// what to do; config `sudo_program` picks doas/run0 instead. The sudo here
/// is a stand-in that records how it was called, then runs the real sudo
/// (tent-test may run podman without a password here).
#[test]
fn rootful_boxes_ask_for_the_password_where_someone_can_answer() {
    let Some(mut sb) = Sandbox::if_enabled(Engine::PodmanRootless) else { return };
    let bin = sb.home.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = sb.home.join("calls");
    let script = |name: &str, body: &str| {
        crate::test_support::write_script(bin.join(name), format!("#!/bin/sh\n{body}\n"));
    };
    let record = format!(
        "printf '%s ' \"$0\" \"$@\" \"askpass=$SUDO_ASKPASS\" >> '{}'; echo >> '{}'",
        log.display(),
        log.display()
    );
    script("sudo", &format!("{record}\nexec /usr/bin/sudo -n \"$@\""));
    script("doas", &format!("{record}\nshift; exec /usr/bin/sudo -n -- \"$@\""));
    script("ssh-askpass", "echo secret");
    script("notify-send", &format!("printf '%s|' \"$@\" >> '{}'", sb.home.join("notified").display()));
    let config = sb.home.join(".config/tent");
    std::fs::create_dir_all(&config).unwrap();
    let sudo = bin.join("sudo").display().to_string();
    std::fs::write(config.join("config.toml"), format!("sudo_program = \"{sudo}\"\n")).unwrap();
    std::process::Command::new("chown")
        .args(["-R", &format!("{TEST_USER}:"), sb.home.to_str().unwrap()])
        .status()
        .unwrap();
    sb.env.push(("PATH".into(), format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display())));
    let calls = || std::fs::read_to_string(&log).unwrap_or_default();

    // A graphical session, no terminal: the askpass found on PATH.
    sb.env.push(("DISPLAY".into(), ":99".into()));
    sb.tent(&["--root", "list"]).ok();
    let askpass = bin.join("ssh-askpass").display().to_string();
    assert!(calls().contains(&format!("{sudo} --askpass -- /usr/bin/podman ")), "{}", calls());
    assert!(calls().contains(&format!("askpass={askpass}")), "{}", calls());

    // No display, no askpass: sudo may not wait for an answer.
    sb.env.retain(|(k, _)| k != "DISPLAY");
    std::fs::write(&log, "").unwrap();
    sb.tent(&["--root", "list"]).ok();
    assert!(calls().contains(&format!("{sudo} --non-interactive -- /usr/bin/podman ")), "{}", calls());

    // sudo that needs a password it cannot ask for: the desktop is told.
    script("sudo", "echo 'sudo: a password is required' >&2; exit 1");
    let out = sb.tent(&["--root", "list"]).output();
    assert_ne!(out.code, Some(0));
    let notified = std::fs::read_to_string(sb.home.join("notified")).unwrap_or_default();
    assert!(notified.contains("a rootful box needs your password|"), "{notified} / {}", out.describe());

    // doas instead of sudo: as it is, with `--`.
    let doas = bin.join("doas").display().to_string();
    std::fs::write(config.join("config.toml"), format!("sudo_program = \"{doas}\"\n")).unwrap();
    std::fs::write(&log, "").unwrap();
    sb.tent(&["--root", "list"]).ok();
    assert!(calls().starts_with(&format!("{doas} -- /usr/bin/podman ")), "{}", calls());
}
