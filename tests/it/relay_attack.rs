//! The relay under attack (issue 9): a process in box B talks to the host's
//! relay with the host's own tent binary, the way an exported wrapper does,
//! and asks for things nobody exported, with variables that would hand it the
//! host. Everything must be refused, the boxes must survive, the evil engine
//! must never run, and the legitimate wrapper call must still work.

use std::os::unix::fs::PermissionsExt;

use crate::engine_tests;
use crate::harness::{BOOKWORM, Engine, Sandbox, tent_bin};

engine_tests!(the_relay_runs_only_exports);

/// Runs the host's tent in a box, as the wrapper does: the host's loader and
/// libraries under /run/host. `$TENT` is the host path of tent.
pub(crate) const HOST_TENT: &str = r#"h=/run/host
on_host() {
    p=$1 n=0
    while [ -L "$h$p" ] && [ "$n" -lt 20 ]; do
        l=$(readlink "$h$p") || break
        case $l in /*) p=$l ;; *) p=${p%/*}/$l ;; esac
        n=$((n + 1))
    done
    printf '%s' "$h$p"
}
case $(uname -m) in
x86_64) ld=$(on_host /lib64/ld-linux-x86-64.so.2) ;;
aarch64) ld=$(on_host /lib/ld-linux-aarch64.so.1) ;;
esac
a=$(uname -m)-linux-gnu
ht() { "$ld" --library-path "$h/usr/lib/$a:$h/lib/$a:$h/usr/lib64:$h/lib64:$h/usr/lib:$h/lib" "$(on_host "$TENT")" "$@"; }
"#;

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn frame(body: Vec<u8>) -> Vec<u8> {
    let mut out = (body.len() as u32).to_le_bytes().to_vec();
    out.extend(body);
    out
}

/// What the wrappers of tent before the request protocol sent: a bare argv.
fn v1_request(cwd: &str, args: &[&str], env: &[(&str, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    put(&mut body, cwd.as_bytes());
    put(&mut body, &(args.len() as u32).to_le_bytes());
    for a in args {
        put(&mut body, a.as_bytes());
    }
    put(&mut body, &(env.len() as u32).to_le_bytes());
    for (k, v) in env {
        put(&mut body, k.as_bytes());
        put(&mut body, v.as_bytes());
    }
    frame(body)
}

/// A version 2 RunExport, written by hand from docs/exports.md's description.
fn v2_run_export(scope: &str, box_name: &str, export: &str, args: &[&str], env: &[(&str, &str)]) -> Vec<u8> {
    let mut body = b"TENTRLY\0".to_vec();
    body.extend_from_slice(&2u16.to_le_bytes());
    body.push(1);
    for s in [scope, box_name, export] {
        put(&mut body, s.as_bytes());
    }
    body.extend_from_slice(&(args.len() as u32).to_le_bytes());
    for a in args {
        put(&mut body, a.as_bytes());
    }
    put(&mut body, b"/");
    body.extend_from_slice(&(env.len() as u32).to_le_bytes());
    for (k, v) in env {
        put(&mut body, k.as_bytes());
        put(&mut body, v.as_bytes());
    }
    frame(body)
}

fn the_relay_runs_only_exports(engine: Engine) {
    let sb = Sandbox::new(engine);
    let a = sb.create("ra", BOOKWORM, &[]);
    sb.tent(&[
        "run",
        &a,
        "--as-root",
        "--",
        "sh",
        "-c",
        "printf '#!/bin/sh\\nfor a in \"$@\"; do printf \"%%s|\" \"$a\"; done\\n' > /usr/local/bin/showargs && chmod 755 /usr/local/bin/showargs",
    ])
    .ok();
    sb.tent(&["export", &a, "--bin", "/usr/local/bin/showargs"]).ok();
    sb.tent(&["export", &a, "--bin", "sh", "--name", "ash"]).ok();
    let b = sb.create("rb", BOOKWORM, &[]);
    let bin = sb.home.join(".local/bin");
    let wrapper = std::fs::read_to_string(bin.join("showargs")).unwrap();
    let socket = wrapper
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("relay='"))
        .unwrap()
        .trim_end_matches('\'')
        .to_string();

    // An engine that must never run: it leaves a marker.
    let evil = sb.home.join("evil");
    std::fs::create_dir_all(&evil).unwrap();
    let marker = sb.home.join("evil-ran");
    let podman = evil.join("podman");
    crate::test_support::write_script(&podman, format!("#!/bin/sh\ntouch '{}'\nexit 0\n", marker.display()));
    let evil_engine = podman.to_str().unwrap();
    let evil_env = [
        ("TENT_ENGINE", evil_engine),
        ("LD_PRELOAD", "/nonexistent/evil.so"),
        ("TENT_CONFIG", "/nonexistent/evil.toml"),
        ("XDG_STATE_HOME", "/nonexistent/state"),
        ("TERM", "dumb"),
    ];
    let write = |name: &str, bytes: Vec<u8>| {
        let path = sb.home.join(name);
        std::fs::write(&path, bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        path.to_str().unwrap().to_string()
    };
    let v1 = write("v1.bin", v1_request("/", &["--engine", evil_engine, "rm", "--all", "--force", "--yes"], &evil_env));
    let unexported = write("unexported.bin", v2_run_export(engine.scope(), &a, "rm", &["--all"], &evil_env));
    let legit = write("legit.bin", v2_run_export(engine.scope(), &a, "showargs", &["p", "q r"], &evil_env));

    // From box B, with the host's tent, as the wrapper runs it.
    let in_b = |script: &str| {
        let full = format!("{HOST_TENT}\n{script}");
        sb.tent(&[
            "run",
            &b,
            "--",
            "env",
            &format!("TENT={}", tent_bin().display()),
            &format!("S={socket}"),
            "sh",
            "-c",
            &full,
        ])
        .output()
    };

    // (a) The old argv form, with the evil engine in flags and variables.
    let out = in_b(&format!(
        "TENT_ENGINE={evil_engine} LD_PRELOAD=/nonexistent/evil.so ht relay-call --socket \"$S\" -- --engine {evil_engine} rm --all --force --yes"
    ));
    assert_ne!(out.code, Some(0), "{}", out.describe());
    assert!(out.stderr.contains("older tent"), "{}", out.describe());
    // The same as raw version 1 bytes on the wire, evil variables included.
    // (The relay answers a version 1 caller with a bare status, which this
    // newer client cannot read: any failure will do, the message counts.)
    let out = in_b(&format!("ht relay-call --socket \"$S\" --request-file {v1}"));
    assert_ne!(out.code, Some(0), "{}", out.describe());
    assert!(out.stderr.contains("older tent"), "{}", out.describe());
    // (b) A name nobody exported, by the client and as raw bytes; a real
    // export asked of the wrong box.
    let out = in_b(&format!("ht relay-call --socket \"$S\" --scope {} --box {a} --export rm -- --all", engine.scope()));
    assert_ne!(out.code, Some(0), "{}", out.describe());
    assert!(out.stderr.contains("has no exported command \"rm\""), "{}", out.describe());
    let out = in_b(&format!("ht relay-call --socket \"$S\" --request-file {unexported}"));
    assert!(out.stderr.contains("has no exported command \"rm\""), "{}", out.describe());
    let out =
        in_b(&format!("ht relay-call --socket \"$S\" --scope {} --box {b} --export showargs -- x", engine.scope()));
    assert!(out.stderr.contains("has no exported command \"showargs\""), "{}", out.describe());
    // A real export, with evil variables on the wire: it runs, they do not cross.
    let out = in_b(&format!("ht relay-call --socket \"$S\" --request-file {legit}"));
    assert_eq!((out.code, out.stdout()), (Some(0), "p|q r|".to_string()), "{}", out.describe());

    assert!(!marker.exists(), "the evil engine ran");
    sb.engine_cmd(&["inspect", &a]).ok();
    sb.engine_cmd(&["inspect", &b]).ok();

    // The wrapper from box B: exact arguments, the exit status, and a death
    // by SIGTERM as 143, run in the exporting box.
    let out = sb
        .tent(&["run", &b, "--", "sh", "-c", "\"$0\" x 'y z' '' '$HOME'", bin.join("showargs").to_str().unwrap()])
        .ok();
    assert_eq!(out.stdout(), "x|y z||$HOME|", "{}", out.describe());
    let ash = bin.join("ash");
    let ash = ash.to_str().unwrap();
    let out = sb.tent(&["run", &b, "--", ash, "-c", "echo \"$TENT_BOX\"; exit 42"]).code(42);
    assert_eq!(out.stdout(), format!("{a}\n"));
    let out = sb.tent(&["run", &b, "--", ash, "-c", "kill -TERM $$"]).output();
    assert_eq!(out.code, Some(143), "{}", out.describe());
    assert!(!marker.exists(), "the evil engine ran");
}
