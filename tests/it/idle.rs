//! `tent create --stop-when-idle` on real engines (issue 23): an idle box
//! stops by itself, a running command keeps it up, and the next command
//! starts it again, also one that arrives while it stops.

use std::time::{Duration, Instant};

use crate::engine_tests;
use crate::harness::{BUSYBOX, Engine, Sandbox};

engine_tests!(an_idle_box_stops_and_the_next_command_starts_it, a_running_command_keeps_the_box_up);

fn running(sb: &Sandbox, name: &str) -> bool {
    let out = sb.engine_cmd(&["container", "inspect", "--format", "{{.State.Running}}", name]).ok();
    out.stdout().trim() == "true"
}

/// Waits up to `limit` for the box to stop; returns how long it took.
fn stops_within(sb: &Sandbox, name: &str, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if !running(sb, name) {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    None
}

fn an_idle_box_stops_and_the_next_command_starts_it(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("idle", BUSYBOX, &["--stop-when-idle", "3s"]);
    let spec = sb.engine_cmd(&["container", "inspect", "--format", "{{index .Config.Labels \"tent.spec\"}}", &name]);
    assert!(spec.ok().stdout().contains("\"stop_when_idle\":3"), "stored in the spec label");
    assert!(running(&sb, &name));
    let took = stops_within(&sb, &name, Duration::from_secs(30)).expect("the idle box stopped");
    assert!(took >= Duration::from_secs(2), "not before it was idle for 3 s: {took:?}");
    let log = std::fs::read_to_string(sb.state_dir(&name).join("init.log")).unwrap_or_default();
    assert!(log.contains("no command ran for 3 s"), "{log}");
    assert!(!log.contains("/stat"), "the idle checks leave nothing in the log: {log}");

    // The next command starts it again, as usual.
    assert_eq!(sb.tent(&["run", &name, "--", "echo", "hi"]).ok().stdout(), "hi\n");
    // Commands keep coming around the moment it stops again: none is lost.
    let until = Instant::now() + Duration::from_secs(14);
    let mut n = 0;
    while Instant::now() < until {
        let out = sb.tent(&["run", &name, "--", "echo", &format!("call {n}")]).ok();
        assert_eq!(out.stdout(), format!("call {n}\n"), "{}", out.describe());
        n += 1;
        std::thread::sleep(Duration::from_millis(2600 + (n % 4) * 300));
    }
    assert!(stops_within(&sb, &name, Duration::from_secs(30)).is_some(), "and stops again when idle");
}

fn a_running_command_keeps_the_box_up(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("busy", BUSYBOX, &["--stop-when-idle", "3s"]);
    let mut child = {
        let mut c = sb.command(crate::harness::tent_bin());
        c.args(["run", &name, "--", "sleep", "12"]);
        c.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null());
        c.spawn().unwrap()
    };
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        assert!(running(&sb, &name), "stopped after {:?} while a command ran", start.elapsed());
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(child.wait().unwrap().success(), "the command was not cut short");
    assert!(stops_within(&sb, &name, Duration::from_secs(30)).is_some(), "idle once it ended");
}
