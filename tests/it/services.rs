//! Issue 23: services from boxes. `tent service add` writes a systemd user
//! unit that `systemd-analyze verify` accepts; no user manager runs on these
//! machines, so the test does what systemd does with it: runs its ExecStart
//! (unquoted by systemd's rules) and stops it with SIGTERM to the main
//! process (KillMode=mixed). The command gets its argv exactly, runs in the
//! box, and ends with the stop; `tent rm` removes the box's units.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::engine_tests;
use crate::harness::{BOOKWORM, Engine, Sandbox};

engine_tests!(a_service_runs_its_command_in_the_box_and_stops_with_it, a_box_starts_at_login);

/// The words of an `ExecStart=` line as systemd reads tent's quoting:
/// double-quoted words, `\\` and `\"` escaped, `%%` and `$$` doubled.
fn exec_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ' ' {
            continue;
        }
        assert_eq!(c, '"', "tent quotes every word: {line}");
        let mut word = String::new();
        loop {
            match chars.next().expect("a closing quote") {
                '"' => break,
                '\\' => word.push(chars.next().unwrap()),
                '%' | '$' => {
                    let doubled = chars.next().unwrap();
                    word.push(doubled);
                }
                c => word.push(c),
            }
        }
        words.push(word);
    }
    words
}

fn unit_line(text: &str, key: &str) -> Vec<String> {
    let line = text.lines().find_map(|l| l.strip_prefix(key)).unwrap_or_else(|| panic!("no {key} in {text}"));
    exec_words(line)
}

fn verify(unit: &std::path::Path) {
    let out = std::process::Command::new("systemd-analyze").arg("verify").arg(unit).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.is_empty(), "systemd-analyze verify {}: {err}", unit.display());
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn a_service_runs_its_command_in_the_box_and_stops_with_it(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("svc", BOOKWORM, &[]);
    let out_file = sb.home.join("svc-out");
    let script = format!(
        "printf '%s|' \"$@\" > {}; printf '%s' \"$(uname -n)\" >> {}; exec sleep 3000",
        out_file.display(),
        out_file.display()
    );
    let out = sb.tent(&["service", "add", &name, "web", "--", "sh", "-c", &script, "sh", "a b", "$HOME", "100%"]).ok();
    assert!(out.stderr.contains("systemctl --user enable --now"), "no user manager here: {}", out.describe());
    let unit = sb.home.join(format!(".config/systemd/user/tent-{}-{name}.web.service", engine.scope()));
    verify(&unit);
    let text = std::fs::read_to_string(&unit).unwrap();
    let argv = unit_line(&text, "ExecStart=");
    assert_eq!(argv[argv.len() - 3..], ["a b", "$HOME", "100%"], "{text}");

    let listed = sb.tent(&["service", "list", &name, "--json"]).ok();
    let json: serde_json::Value = serde_json::from_slice(listed.stdout_bytes()).unwrap();
    assert_eq!(json[0]["name"], "web", "{json}");

    // What systemd does at start: the ExecStart argv, as the user.
    let mut start = sb.command(&argv[0]);
    let err_file = sb.home.join("svc-err");
    start.args(&argv[1..]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(std::fs::File::create(&err_file).unwrap());
    let mut service = start.spawn().unwrap();
    wait_until("the service's output", || {
        let err = std::fs::read_to_string(&err_file).unwrap_or_default();
        assert!(!err.contains("error"), "the service failed: {err}");
        std::fs::read_to_string(&out_file).is_ok_and(|s| s.ends_with(&name))
    });
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), format!("a b|$HOME|100%|{name}"));
    let running = || {
        sb.tent(&["run", &name, "--", "sh", "-c", "ps -eo args | grep -c '^sleep 3000' || true"]).ok().stdout().trim()
            != "0"
    };
    assert!(running(), "the command runs in the box");
    // What systemd does at stop: ExecStop, then (KillMode=mixed) SIGTERM to
    // the main process if it still runs.
    let stop = unit_line(&text, "ExecStop=");
    let status = sb.command(&stop[0]).args(&stop[1..]).stdin(Stdio::null()).status().unwrap();
    assert!(status.success(), "ExecStop {stop:?}");
    let start = Instant::now();
    while service.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    if service.try_wait().unwrap().is_none() {
        let pid = rustix::process::Pid::from_child(&service);
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    }
    let status = service.wait().unwrap();
    assert!(!status.success(), "the service ended by the stop: {status:?}");
    wait_until("the command to end", || !running());

    // tent rm says it removes the units, and does.
    let out = sb.tent(&["rm", &name, "--force", "--yes"]).ok();
    assert!(out.stderr.contains("removed 1 systemd unit(s)"), "{}", out.describe());
    assert!(!unit.exists());
}

fn a_box_starts_at_login(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.name("login");
    sb.tent(&["create", &name, "--image", BOOKWORM, "--no-start", "--start-at-login"]).ok();
    let unit = sb.home.join(format!(".config/systemd/user/tent-{}-{name}.service", engine.scope()));
    verify(&unit);
    let text = std::fs::read_to_string(&unit).unwrap();
    let state = || sb.engine_cmd(&["container", "inspect", "--format", "{{.State.Running}}", &name]).ok().stdout();
    assert_eq!(state().trim(), "false");
    let run = |key: &str| {
        let argv = unit_line(&text, key);
        let status = sb.command(&argv[0]).args(&argv[1..]).stdin(Stdio::null()).status().unwrap();
        assert!(status.success(), "{key} {argv:?}");
    };
    run("ExecStart=");
    assert_eq!(state().trim(), "true", "started at login");
    run("ExecStop=");
    assert_eq!(state().trim(), "false", "stopped at logout");
    let listed = sb.tent(&["service", "list", "--json"]).ok();
    assert!(listed.stdout().contains(&name), "{}", listed.describe());
    sb.tent(&["rm", &name, "--yes"]).ok();
    assert!(!unit.exists(), "removed with the box");
}
