//! The command line without a real engine: help, usage errors, and engine
//! faults through a fake engine script (error paths only).

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn tent(home: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tent"))
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("PATH", "/usr/bin:/bin")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn help_teaches_with_examples_and_exit_codes() {
    let home = tempfile::tempdir().unwrap();
    let out = tent(home.path(), &["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("tent enter dev"), "{text}");
    assert!(text.contains("127 command not found"), "{text}");
}

#[test]
fn invalid_name_is_a_usage_error_with_a_hint() {
    let home = tempfile::tempdir().unwrap();
    let fake = fake_engine(home.path(), "exit 0");
    let out = tent(home.path(), &["--engine", fake.to_str().unwrap(), "enter", "a/b"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("invalid box name \"a/b\""), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn unknown_engine_is_named() {
    let home = tempfile::tempdir().unwrap();
    let out = tent(home.path(), &["--engine", "lxd", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown engine \"lxd\""), "{}", stderr(&out));
}

#[test]
fn missing_engine_says_what_to_install() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tent"))
        .args(["list"])
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", home.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(err.contains("no container engine found"), "{err}");
    assert!(err.contains("install podman"), "{err}");
}

/// A fake `podman` that prints `script`'s output: for engine error paths only.
fn fake_engine(dir: &std::path::Path, script: &str) -> std::path::PathBuf {
    let path = dir.join("podman");
    std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn engine_errors_show_the_argv_status_and_stderr() {
    let home = tempfile::tempdir().unwrap();
    let fake = fake_engine(home.path(), "echo 'Error: database is locked' >&2; exit 125");
    let out = tent(home.path(), &["--engine", fake.to_str().unwrap(), "list"]);
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(err.contains("could not list containers"), "{err}");
    assert!(err.contains("ps --all --filter label=tent.format"), "{err}");
    assert!(err.contains("| Error: database is locked"), "{err}");
}

#[test]
fn unknown_box_names_it_and_suggests_list() {
    let home = tempfile::tempdir().unwrap();
    let fake = fake_engine(home.path(), "echo 'Error: no such container ghost' >&2; exit 125");
    let out = tent(home.path(), &["--engine", fake.to_str().unwrap(), "enter", "ghost"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("no box named \"ghost\""), "{err}");
    assert!(err.contains("tent list"), "{err}");
}

#[test]
fn completions_and_man_pages_are_generated() {
    let home = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = tent(home.path(), &["completions", shell]);
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("enter"), "{shell}");
    }
    let dir = home.path().join("man");
    let out = tent(home.path(), &["man", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.join("tent.1").is_file());
    assert!(dir.join("tent-enter.1").is_file());
}
