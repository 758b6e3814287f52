//! Between box and host (issue 15): inside a box, `tent host -- CMD` runs CMD
//! on the host through the relay, `tent` itself runs on the host, and
//! `xdg-open` opens on the host; a box made with `--no-host` may do none of
//! it, and a box cannot borrow another box's permission.

use crate::engine_tests;
use crate::harness::{BOOKWORM, Engine, Sandbox, TEST_USER, tent_bin};

engine_tests!(a_box_reaches_the_host, no_host_refuses);

/// Starts the box's first `tent run` on the host with `fake` first on PATH,
/// so the relay it starts (and its commands) see that PATH.
fn start_relay_with_path(sb: &Sandbox, name: &str, fake: &std::path::Path) {
    let mut c = sb.command("env");
    c.arg(format!("PATH={}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", fake.display()));
    c.arg(tent_bin());
    c.args(["run", name, "--", "true"]);
    crate::harness::Run::from(c).ok();
}

fn a_box_reaches_the_host(engine: Engine) {
    let sb = Sandbox::new(engine);
    let fake = sb.home.join("fakebin");
    std::fs::create_dir_all(&fake).unwrap();
    let opened = sb.home.join("opened");
    crate::test_support::write_script(
        fake.join("xdg-open"),
        format!("#!/bin/sh\nfor a in \"$@\"; do printf '%s|' \"$a\"; done > '{}'\n", opened.display()),
    );
    // A file only the host has: /var/tmp is the box's own.
    let secret_dir = std::path::PathBuf::from(format!("/var/tmp/tent-test-{}-{}", engine.key(), std::process::id()));
    std::fs::create_dir_all(&secret_dir).unwrap();
    let secret = secret_dir.join("secret");
    std::fs::write(&secret, "host only\n").unwrap();
    if !engine.as_root() {
        std::process::Command::new("chown")
            .args(["-R", &format!("{TEST_USER}:"), secret_dir.to_str().unwrap()])
            .status()
            .unwrap();
    }
    let a = sb.create("ha", BOOKWORM, &[]);
    let other = sb.create("hb", BOOKWORM, &["--no-start"]);
    start_relay_with_path(&sb, &a, &fake);
    let secret = secret.to_str().unwrap();

    // The exit status, stdin, exact arguments (with a byte that is not UTF-8).
    sb.tent(&["run", &a, "--", "tent", "host", "--", "sh", "-c", "exit 5"]).code(5);
    let out = sb.tent(&["run", &a, "--", "tent", "host", "--", "cat"]).stdin("piped in\n").ok();
    assert_eq!(out.stdout(), "piped in\n");
    let out = sb
        .tent(&[
            "run",
            &a,
            "--",
            "sh",
            "-c",
            "tent host -- sh -c 'for a in \"$@\"; do printf \"%s|\" \"$a\"; done' x '' 'a b' '$HOME' \"$(printf '\\377')\"",
        ])
        .ok();
    assert_eq!(out.stdout_bytes(), b"|a b|$HOME|\xff|", "{}", out.describe());
    // The host's files, not the box's; a signal death is 128+N.
    sb.tent(&["run", &a, "--", "cat", secret])
        .output()
        .code
        .filter(|c| *c != 0)
        .expect("the box sees the host-only file");
    let out = sb.tent(&["run", &a, "--", "tent", "host", "--", "cat", secret]).ok();
    assert_eq!(out.stdout(), "host only\n");
    sb.tent(&["run", &a, "--", "tent", "host", "--", "sh", "-c", "kill -TERM $$"]).code(143);
    sb.tent(&["run", &a, "--", "tent", "host", "--", "no-such-command-here"]).code(127);
    // The box knows where the host says it runs from.
    let out = sb.tent(&["run", &a, "--", "tent", "host", "--", "sh", "-c", "echo \"$TENT_CALLER_BOX\""]).ok();
    assert_eq!(out.stdout(), format!("{a}\n"));

    // tent itself, in the box, is the host's.
    let out = sb.tent(&["run", &a, "--", "tent", "list"]).ok();
    assert!(out.stdout().contains(&a) && out.stdout().contains(&other), "{}", out.describe());

    // xdg-open opens on the host, the URL exact.
    let url = "https://example.org/a b?x=1&y='2'";
    sb.tent(&["run", &a, "--", "xdg-open", url]).ok();
    assert_eq!(std::fs::read_to_string(&opened).unwrap(), format!("{url}|"));
    let _ = std::fs::remove_dir_all(&secret_dir);
}

fn no_host_refuses(engine: Engine) {
    let sb = Sandbox::new(engine);
    let open = sb.create("hopen", BOOKWORM, &[]);
    let closed = sb.create("hclosed", BOOKWORM, &["--no-host"]);
    sb.tent(&["run", &open, "--", "true"]).ok();
    let message = format!("box {closed} was created with --no-host");
    for argv in [&["tent", "host", "--", "true"][..], &["tent", "list"]] {
        let mut args = vec!["run", closed.as_str(), "--"];
        args.extend_from_slice(argv);
        let out = sb.tent(&args).output();
        assert_ne!(out.code, Some(0), "{}", out.describe());
        assert!(
            out.stderr.contains(&message) && out.stderr.contains("recreate it without --no-host"),
            "{}",
            out.describe()
        );
    }
    // No host xdg-open shim in a --no-host box.
    sb.tent(&["run", &closed, "--", "sh", "-c", "! test -e /usr/local/bin/xdg-open"]).ok();
    // The manifest says so.
    let out = sb.tent(&["manifest", &closed]).ok();
    assert!(out.stdout().contains("host = false"), "{}", out.describe());

    // The attacker: a process in the --no-host box forges the open box's pid
    // file (the state dirs are in the shared home) and asks again: the relay
    // confirms with the engine and still refuses.
    let open_pid = sb.state_dir(&open).join("pid");
    let closed_pid = std::fs::read_to_string(sb.state_dir(&closed).join("pid")).unwrap();
    let saved = std::fs::read_to_string(&open_pid).unwrap();
    std::fs::write(&open_pid, &closed_pid).unwrap();
    let out = sb.tent(&["run", &closed, "--", "tent", "host", "--", "true"]).output();
    std::fs::write(&open_pid, saved).unwrap();
    assert_ne!(out.code, Some(0), "{}", out.describe());
    assert!(out.stderr.contains("may not run host commands"), "{}", out.describe());
    // The open box still may.
    sb.tent(&["run", &open, "--", "tent", "host", "--", "true"]).ok();
}
