//! The sh scripts that tent's Rust code writes or runs in boxes pass
//! `shellcheck -s sh`, like shell-integration/ does.
//!
//! Scripts that the library can render (the export wrapper, the file-reading
//! scripts of the exporter, the hook files) are rendered through its public
//! API with sample inputs, so the check sees the real text. Scripts that live
//! as literals inside private functions are cut out of the source text by the
//! declaration that holds them: when one is renamed or moved, the extraction
//! fails loudly here rather than silently checking nothing.
//!
//! Needs `shellcheck` on PATH (the shell tests need it too).

use std::path::Path;
use std::process::Command;

use tent::boxes::spec::BoxSpec;
use tent::export::icons;
use tent::export::receipt::Kind;
use tent::export::unexport_command;
use tent::export::wrapper::{self, Wrapper};
use tent::runtime::BoxState;
use tent::runtime::write_hooks;

fn source(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The raw string literal (`r#"..."#`) that starts right after `decl` in
/// the source file `rel`; `decl` must occur exactly once.
fn raw_literal_after(rel: &str, decl: &str) -> String {
    let text = source(rel);
    let found: Vec<_> = text.match_indices(decl).collect();
    assert_eq!(found.len(), 1, "expected {decl:?} exactly once in {rel}: was the script renamed or moved?");
    let rest = &text[found[0].0 + decl.len()..];
    let rest = rest.trim_start();
    let body = rest
        .strip_prefix("r#\"")
        .unwrap_or_else(|| panic!("{decl:?} in {rel} is not followed by a r#\"...\"# literal"));
    let end = body.find("\"#").unwrap_or_else(|| panic!("unterminated literal after {decl:?} in {rel}"));
    body[..end].to_string()
}

/// Runs `shellcheck -s sh` on `script` (written to a file named after
/// `name`) with `extra` arguments; panics with shellcheck's report when it
/// finds anything.
fn shellcheck_with(name: &str, script: &str, extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    std::fs::write(&file, script).unwrap();
    let out = Command::new("shellcheck")
        .args(["-s", "sh", "--norc"])
        .args(extra)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run shellcheck (is it installed?): {e}"));
    assert!(
        out.status.success(),
        "shellcheck -s sh finds problems in {name}:\n{}{}\n--- the script ---\n{script}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
}

fn shellcheck(name: &str, script: &str) {
    shellcheck_with(name, script, &[]);
}

#[test]
fn export_wrappers() {
    let podman = vec!["--engine".to_string(), "/usr/bin/podman".to_string()];
    let sudo = vec!["--engine".to_string(), "/usr/bin/podman".to_string(), "--root".to_string()];
    let none: Vec<String> = Vec::new();
    struct Case<'a> {
        file: &'a str,
        command: &'a str,
        box_name: &'a str,
        target: &'a str,
        tent: &'a str,
        engine_args: &'a [String],
        relay: &'a str,
        extra: &'a [&'a str],
    }
    let cases = [
        Case {
            file: "wrapper-plain",
            command: "rg",
            box_name: "dev",
            target: "/usr/bin/rg",
            tent: "/usr/local/bin/tent",
            engine_args: &podman,
            relay: "/run/user/1000/tent/relay.sock",
            extra: &[],
        },
        Case {
            file: "wrapper-no-relay",
            command: "rg",
            box_name: "dev",
            target: "/usr/bin/rg",
            tent: "/usr/local/bin/tent",
            engine_args: &none,
            relay: "",
            extra: &[],
        },
        Case {
            file: "wrapper-root",
            command: "htop",
            box_name: "sys-2.x",
            target: "/usr/bin/htop",
            tent: "/opt/tent/bin/tent",
            engine_args: &sudo,
            relay: "/run/user/0/tent/relay.sock",
            extra: &[],
        },
        // Quotes, spaces and a `$` in the user-given fields: all are quoted.
        // SC2016 (info, "expressions don't expand in single quotes") is about
        // the literal `$x` in the target: not expanding it is the point.
        // SC1003 (info, "want to escape a single quote?") is about the
        // unexport hint, quoted twice (`'it'\''s'` inside single quotes):
        // correct, and what a name with a quote needs.
        Case {
            file: "wrapper-odd-names",
            command: "it's",
            box_name: "dev",
            target: "/opt/a b/$x's",
            tent: "/home/a b/bin/te'nt",
            engine_args: &podman,
            relay: "/run/user/1000/a b/relay.sock",
            extra: &["-e", "SC2016,SC1003"],
        },
    ];
    for c in cases {
        let unexport = unexport_command(tent::engine::Scope::Podman, c.box_name, Kind::Bin, c.command);
        let text = wrapper::render(&Wrapper {
            command: c.command,
            box_name: c.box_name,
            scope: tent::engine::Scope::Podman,
            target: c.target,
            tent: c.tent,
            engine_args: c.engine_args,
            unexport: &unexport,
            relay: c.relay,
            // A remote box's endpoint, set before tent runs, is checked too.
            env: &[("CONTAINER_HOST".to_string(), "ssh://me@build/run/user/1000/podman/podman.sock".to_string())],
        });
        shellcheck_with(c.file, &text, c.extra);
    }
}

#[test]
fn exporter_file_reading_scripts() {
    // Run as `/bin/sh -c SCRIPT sh ARGS...` in the box (src/export/mod.rs, box_sh).
    shellcheck("desktop-files", &icons::desktop_files_script());
    shellcheck("icon-files", &icons::icon_files_script());
}

#[test]
fn exporter_inline_scripts() {
    // Export::resolve_bin: finds a command in the box.
    shellcheck("resolve-bin", &raw_literal_after("src/export/mod.rs", "const RESOLVE: &str ="));
    // check_exports: which export targets are still in the box.
    shellcheck("check-exports", &raw_literal_after("src/export/mod.rs", "let script ="));
}

#[test]
fn hook_files() {
    let dir = tempfile::tempdir().unwrap();
    let state = BoxState::new(dir.path().to_path_buf());
    let spec = BoxSpec {
        init_hooks: vec!["apt-get install -y git".into(), "echo \"$HOME\" > /etc/motd".into()],
        start_hooks: vec!["mkdir -p /var/cache/x".into()],
        ..Default::default()
    };
    write_hooks(&state, &spec).unwrap();
    for file in ["init", "start"] {
        let text = std::fs::read_to_string(state.hooks_dir().join(file)).unwrap();
        shellcheck(&format!("hook-{file}"), &text);
    }
}
