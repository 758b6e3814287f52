//! The command line without a real engine: help, usage errors, and engine
//! faults through a fake engine script (error paths only).

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
    crate::test_support::write_script(&path, format!("#!/bin/sh\n{script}\n"));
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

/// tent starts with libc alone (issue 24: each library is found, mapped
/// and relocated at every start, exported wrappers included): src/main.rs
/// defines the one libm symbol a dependency asks for.
#[test]
fn the_binary_needs_libc_alone() {
    let out = Command::new("readelf").args(["--dynamic", "--wide", env!("CARGO_BIN_EXE_tent")]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let needed: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1)?.split(']').next())
        // The loader itself, which a debug build names.
        .filter(|lib| !lib.starts_with("ld-linux"))
        .collect();
    assert_eq!(needed, ["libc.so.6"], "{text}");
}

#[test]
fn man_pages_are_generated() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("man");
    let out = tent(home.path(), &["man", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.join("tent.1").is_file());
    assert!(dir.join("tent-enter.1").is_file());
}

/// A HOME with boxes `dev` and `web` (and junk a box could plant in tent's
/// state) and `tent` on PATH, as the completion scripts call it.
fn completion_home() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let boxes = home.path().join(".local/state/tent/boxes");
    for dir in ["podman/dev", "docker/web", "podman/locks", "podman/-x", "podman/a b"] {
        std::fs::create_dir_all(boxes.join(dir)).unwrap();
    }
    std::os::unix::fs::symlink("/etc", boxes.join("podman/linked")).unwrap();
    let exports = home.path().join(".local/state/tent/exports/podman");
    std::fs::create_dir_all(&exports).unwrap();
    let receipt = r#"{"format":1,"box":"dev","scope":"podman","engine":"podman","exports":[
        {"kind":"bin","name":"rg","request":"rg","target":"/usr/bin/rg","files":["/h/.local/bin/rg"],"tent":"/usr/bin/tent"}]}"#;
    std::fs::write(exports.join("dev.json"), receipt).unwrap();
    let bin = home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tent"), bin.join("tent")).unwrap();
    home
}

fn shell(home: &std::path::Path, program: &str, script: &str) -> String {
    let out = Command::new(program)
        .args(["-c", script])
        .env_clear()
        .env("HOME", home)
        .env("PATH", format!("{}:/usr/bin:/bin", home.join("bin").display()))
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e} (scripts/setup-engines installs bash, zsh and fish)"));
    assert!(out.status.success(), "{program}: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn words(text: &str) -> Vec<&str> {
    text.lines().map(|l| l.split('\t').next().unwrap()).collect()
}

/// Issue 22: box names complete in bash, zsh and fish from the script
/// `tent completions SHELL` prints, read from tent's state (no engine: PATH
/// has none here); hidden verbs are not offered; planted junk is not a box.
#[test]
fn completions_offer_box_and_export_names_in_real_shells() {
    let home = completion_home();
    let h = home.path();
    let bash = r#"source <(tent completions bash)
comp() { COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMP_TYPE=9
  COMPREPLY=(); _clap_complete_tent tent "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"; printf '%s\n' "${COMPREPLY[@]}"; }
"#;
    let enter = shell(h, "bash", &format!("{bash}comp tent enter ''"));
    let names: Vec<&str> = words(&enter).into_iter().filter(|w| !w.starts_with('-')).collect();
    assert_eq!(names, ["dev", "web"], "{enter}");
    assert_eq!(words(&shell(h, "bash", &format!("{bash}comp tent rm w"))), ["web"]);
    assert_eq!(words(&shell(h, "bash", &format!("{bash}comp tent --root stop d"))), ["dev"]);
    assert_eq!(words(&shell(h, "bash", &format!("{bash}comp tent unexport dev --bin ''"))), ["rg"]);
    let verbs = shell(h, "bash", &format!("{bash}comp tent ''"));
    let verbs = words(&verbs);
    assert!(verbs.contains(&"enter") && verbs.contains(&"completions"), "{verbs:?}");
    for hidden in ["which", "relay", "relay-call", "man"] {
        assert!(!verbs.contains(&hidden), "hidden verb {hidden} offered: {verbs:?}");
    }

    let fish = shell(h, "fish", "tent completions fish | source; complete -C 'tent enter '");
    let names: Vec<&str> = words(&fish).into_iter().filter(|w| !w.starts_with('-')).collect();
    assert_eq!(names, ["dev", "web"], "{fish}");
    assert_eq!(words(&shell(h, "fish", "tent completions fish | source; complete -C 'tent snapshot w'")), ["web"]);

    // zsh: the script registers its completer with compinit, and that
    // completer, called as the script calls it, offers the boxes.
    let zsh = shell(
        h,
        "zsh",
        "autoload -U compinit && compinit -u -D && source <(tent completions zsh) && print -r -- $_comps[tent]",
    );
    assert_eq!(zsh.trim(), "_clap_dynamic_completer_tent");
    let zsh = shell(
        h,
        "zsh",
        "words=(tent clone ''); CURRENT=3; _CLAP_IFS=$'\\n' _CLAP_COMPLETE_INDEX=$((CURRENT - 1)) COMPLETE=zsh tent -- \"${words[@]}\"",
    );
    let names: Vec<&str> =
        words(&zsh).into_iter().map(|w| w.split(':').next().unwrap()).filter(|w| !w.starts_with('-')).collect();
    assert_eq!(names, ["dev", "web"], "{zsh}");
}

/// Issue 23: `tent upgrade --schedule` writes a systemd user service and
/// timer that `systemd-analyze verify` accepts, running this tent with the
/// engine it uses now; `off` removes exactly those files (a unit the user
/// wrote stays). No user manager runs here: enabling is a warning that says
/// what to run.
#[test]
fn upgrades_on_a_schedule_are_real_systemd_units() {
    let home = tempfile::tempdir().unwrap();
    let fake = fake_engine(home.path(), "exit 0");
    let engine = fake.to_str().unwrap();
    let out = tent(home.path(), &["--engine", engine, "upgrade", "--schedule", "weekly"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("systemctl --user enable --now tent-upgrade.timer"), "{}", stderr(&out));
    let dir = home.path().join(".config/systemd/user");
    let (service, timer) = (dir.join("tent-upgrade.service"), dir.join("tent-upgrade.timer"));
    let text = std::fs::read_to_string(&service).unwrap();
    let exec = format!(
        "ExecStart=\"{}\" \"--engine\" \"{engine}\" \"upgrade\" \"--yes\" \"--notify\" \"--skip-busy\" \"--all\"\n",
        env!("CARGO_BIN_EXE_tent")
    );
    assert!(text.contains(&exec), "{text}");
    assert!(std::fs::read_to_string(&timer).unwrap().contains("OnCalendar=weekly\n"));
    let verify =
        |files: &[&std::path::Path]| Command::new("systemd-analyze").arg("verify").args(files).output().unwrap();
    let out = verify(&[&service, &timer]);
    assert!(out.status.success() && stderr(&out).is_empty(), "systemd-analyze verify: {}", stderr(&out));
    // The validator is real: a copy of the service with its ExecStart quoting
    // broken fails it.
    let broken = home.path().join("broken.service");
    std::fs::write(&broken, text.replace("\" \"--engine\"", " \"--engine\"")).unwrap();
    let out = verify(&[&broken]);
    assert!(!out.status.success() && stderr(&out).contains("quoting"), "{}", stderr(&out));

    // Off removes what tent wrote, and only that.
    std::fs::write(&timer, "[Timer]\nOnCalendar=hourly\n").unwrap();
    let out = tent(home.path(), &["--engine", engine, "upgrade", "--schedule", "off"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!service.exists());
    assert_eq!(std::fs::read_to_string(&timer).unwrap(), "[Timer]\nOnCalendar=hourly\n", "the user's own file stays");
    assert!(stderr(&out).contains("left") && stderr(&out).contains("tent did not write it"), "{}", stderr(&out));
    // Writing again over the user's timer is refused, naming it.
    let out = tent(home.path(), &["--engine", engine, "upgrade", "--schedule", "daily"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("was not written by tent"), "{}", stderr(&out));
}

/// Issue 22: an engine that does not answer is a problem doctor names, with
/// how to fix it, and exit status 1.
/// Lock files that older tents left for every box ever made: doctor counts
/// those whose box or receipt is gone, `--fix` removes them (the engine is
/// not needed for that), and a live box's lock and a planted link stay.
#[test]
fn doctor_sweeps_the_lock_files_of_boxes_that_are_gone() {
    let home = tempfile::tempdir().unwrap();
    let fake = fake_engine(home.path(), "echo 'Cannot connect to Podman' >&2; exit 125");
    let state = home.path().join(".local/state/tent");
    let boxes = state.join("boxes/podman");
    std::fs::create_dir_all(boxes.join("locks")).unwrap();
    std::fs::create_dir_all(boxes.join("live")).unwrap();
    for name in ["live", "gone1", "gone2"] {
        std::fs::write(boxes.join("locks").join(name), b"").unwrap();
    }
    let exports = state.join("exports/podman");
    std::fs::create_dir_all(exports.join("locks")).unwrap();
    std::fs::write(exports.join("live.json"), b"{}").unwrap();
    std::fs::write(exports.join("locks/live.json"), b"").unwrap();
    std::fs::write(exports.join("locks/gone1.json"), b"").unwrap();
    let victim = home.path().join("victim");
    std::fs::write(&victim, b"keep").unwrap();
    std::os::unix::fs::symlink(&victim, boxes.join("locks/planted")).unwrap();

    let out = tent(home.path(), &["--engine", fake.to_str().unwrap(), "doctor"]);
    let err = stderr(&out);
    assert!(err.contains("lock files: 3 of boxes and exports that are gone") && err.contains("doctor --fix"), "{err}");
    assert!(boxes.join("locks/gone1").exists(), "doctor alone changes nothing");
    let out = tent(home.path(), &["--engine", fake.to_str().unwrap(), "doctor", "--fix"]);
    assert!(stderr(&out).contains("lock files: removed 3"), "{}", stderr(&out));
    let mut left: Vec<String> = ["boxes/podman/locks", "exports/podman/locks"]
        .iter()
        .flat_map(|d| std::fs::read_dir(state.join(d)).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()))
        .collect();
    left.sort();
    assert_eq!(left, ["live", "live.json", "planted"]);
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    let out = tent(home.path(), &["--engine", fake.to_str().unwrap(), "doctor"]);
    assert!(!stderr(&out).contains("lock files"), "{}", stderr(&out));
}

#[test]
fn doctor_names_an_engine_that_does_not_answer() {
    let home = tempfile::tempdir().unwrap();
    let fake = fake_engine(home.path(), "echo 'Cannot connect to Podman' >&2; exit 125");
    let out = tent(home.path(), &["--engine", fake.to_str().unwrap(), "doctor"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    // A local podman is asked its `version` first (its `info` is slow).
    assert!(err.contains("does not answer `version`") && err.contains("fix: install podman"), "{err}");
    let out = tent(home.path(), &["--engine", fake.to_str().unwrap(), "doctor", "--engine-only"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("does not answer `info`"), "{}", stderr(&out));
    // A podman that answers `version` but not `info` (a broken store), with
    // no box to tell the store's facts: the doctor names `info`.
    let half = tempfile::tempdir().unwrap();
    let fake = fake_engine(
        half.path(),
        r#"case "$1" in version) echo '{"Client":{"Version":"4.3.1"}}' ;; *) echo 'Error: database is locked' >&2; exit 125 ;; esac"#,
    );
    let out = tent(half.path(), &["--engine", fake.to_str().unwrap(), "doctor"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("does not answer `info`"), "{}", stderr(&out));
}
