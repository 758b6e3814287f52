//! One handler per request kind: what an exported command, a host command
//! and `tent ARGS` typed in a box run, each only for a caller the engine
//! confirmed (`caller::host_policy`).

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::caller::{Peer, host_policy};
use super::engines::Engines;
use super::protocol::{HostCommand, RunExport};
use crate::paths::Paths;

/// What every call of one relay shares: its own tent, the user's paths, and
/// the engines it chose at start.
pub(super) struct Relay {
    pub(super) exe: PathBuf,
    pub(super) paths: Paths,
    pub(super) engines: Engines,
}

/// What a request runs: the program, its argv, its cwd, the caller's
/// variables, and the caller's box (for TENT_CALLER_BOX).
pub(super) struct Planned {
    pub(super) program: PathBuf,
    pub(super) argv: Vec<OsString>,
    pub(super) cwd: OsString,
    pub(super) env: Vec<(OsString, OsString)>,
    pub(super) caller_box: Option<String>,
}

/// `RunExport`: an exported command of a box, looked up in its receipt.
pub(super) fn run_export(relay: &Relay, peer: &Peer, run: RunExport) -> Result<Planned, String> {
    let confirmed = host_policy(&relay.paths, &relay.engines, peer)?;
    let argv = export_argv(&relay.paths, &relay.engines, &run)?;
    Ok(Planned { program: relay.exe.clone(), argv, cwd: run.cwd, env: run.env, caller_box: confirmed.map(|c| c.name) })
}

/// `HostExec` (`tent host -- CMD` in a box): CMD on the host.
pub(super) fn host_exec(relay: &Relay, peer: &Peer, host: HostCommand) -> Result<Planned, String> {
    if host.args.is_empty() {
        return Err("no command given".into());
    }
    let confirmed = host_policy(&relay.paths, &relay.engines, peer)?;
    let mut args = host.args.into_iter();
    let program = PathBuf::from(args.next().expect("not empty"));
    Ok(Planned { program, argv: args.collect(), cwd: host.cwd, env: host.env, caller_box: confirmed.map(|c| c.name) })
}

/// `HostTent` (`tent ARGS` in a box): the relay's own tent, in the caller's
/// engine scope unless the caller chose one.
pub(super) fn host_tent(relay: &Relay, peer: &Peer, host: HostCommand) -> Result<Planned, String> {
    if host.args.is_empty() {
        return Err("no command given".into());
    }
    let confirmed = host_policy(&relay.paths, &relay.engines, peer)?;
    let argv = match &confirmed {
        Some(c) => host_tent_argv(&relay.engines.flags(c.scope)?, &host.args),
        None => host.args,
    };
    Ok(Planned {
        program: relay.exe.clone(),
        argv,
        cwd: host.cwd,
        env: host.env,
        caller_box: confirmed.map(|c| c.name),
    })
}

/// The host tent's argv for `tent ARGS` typed in a box of `scope`: the
/// scope's engine flags first (`scope_flags`), unless the user gave their own.
fn host_tent_argv(scope_flags: &[OsString], args: &[OsString]) -> Vec<OsString> {
    let chose = args
        .iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "--root" || a == "--engine" || a.as_encoded_bytes().starts_with(b"--engine="));
    let flags = if chose { &[][..] } else { scope_flags };
    flags.iter().cloned().chain(args.iter().cloned()).collect()
}

/// The program a host command names: a path as it is, a bare name on `path`.
/// Err is the shell's status: 127 not found, 126 not executable.
pub(super) fn resolve(program: &Path, path: Option<&OsStr>) -> Result<PathBuf, i32> {
    use crate::error::exit::{NOT_EXECUTABLE, NOT_FOUND};
    let executable = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if program.as_os_str().as_encoded_bytes().contains(&b'/') {
        return if !program.exists() {
            Err(NOT_FOUND)
        } else if executable(program) {
            Ok(program.to_path_buf())
        } else {
            Err(NOT_EXECUTABLE)
        };
    }
    if program.as_os_str().is_empty() {
        return Err(NOT_FOUND);
    }
    let mut seen = false;
    for dir in std::env::split_paths(path.unwrap_or(OsStr::new("/usr/local/bin:/usr/bin:/bin"))) {
        let candidate = dir.join(program);
        if executable(&candidate) {
            return Ok(candidate);
        }
        seen |= candidate.exists();
    }
    Err(if seen { NOT_EXECUTABLE } else { NOT_FOUND })
}

/// The host argv for an exported command, from the box's receipt alone.
fn export_argv(paths: &Paths, engines: &Engines, run: &RunExport) -> Result<Vec<OsString>, String> {
    let scope = crate::engine::Scope::parse(&run.scope);
    let refuse = || {
        format!(
            "box {:?} has no exported command {:?}; see `{} export {} --list` on the host",
            run.box_name,
            run.export,
            scope.map_or("tent", |s| s.tent_command()),
            run.box_name
        )
    };
    // Only a local scope's: a remote endpoint's boxes are not this relay's.
    let Some(scope) = scope.filter(|s| !s.is_remote()) else { return Err(refuse()) };
    if crate::boxes::validate_name(&run.box_name).is_err()
        || crate::export::wrapper::validate_command_name(&run.export).is_err()
    {
        return Err(refuse());
    }
    let receipt = crate::export::receipt::Receipt::load(&paths.receipt(scope, &run.box_name))
        .map_err(|e| e.to_string())?
        .ok_or_else(refuse)?;
    let export = receipt
        .exports
        .iter()
        .find(|e| e.kind == crate::export::receipt::Kind::Bin && e.name == run.export)
        .ok_or_else(refuse)?;
    // The engine is the relay's own for that scope: the receipt's `engine`
    // is a box's to write, and is never run.
    let mut argv = engines.flags(scope)?;
    argv.extend(["run".into(), run.box_name.clone().into(), "--".into(), export.target.clone().into()]);
    argv.extend(run.args.iter().cloned());
    Ok(argv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::test_support::{paths, run_export, test_engines};
    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn only_exported_commands_run_and_the_relay_builds_the_argv() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        // The receipt names an engine a box put there: it is never used.
        let mut receipt =
            crate::export::receipt::Receipt::new("dev", crate::engine::Scope::PodmanRoot, "/home/u/evil/podman");
        receipt.exports.push(crate::export::receipt::Export {
            kind: crate::export::receipt::Kind::Bin,
            name: "rg".into(),
            title: None,
            request: "rg".into(),
            target: "/usr/bin/rg".into(),
            files: vec!["/h/.local/bin/rg".into()],
            dir: Some("/h/.local/bin".into()),
            tent: "/usr/bin/tent".into(),
        });
        let mut app = receipt.exports[0].clone();
        app.kind = crate::export::receipt::Kind::App;
        app.name = "xterm".into();
        app.files = vec!["/h/.local/share/applications/tent-dev-xterm.desktop".into()];
        app.dir = None;
        receipt.exports.push(app);
        receipt.save(&p.receipt(crate::engine::Scope::PodmanRoot, "dev")).unwrap();

        let engines = test_engines();
        let argv = export_argv(&p, &engines, &run_export("podman-root", "rg")).unwrap();
        let expected: Vec<OsString> =
            ["--engine", "/usr/lib/tent-test/podman", "--root", "run", "dev", "--", "/usr/bin/rg", "a b"]
                .iter()
                .map(OsString::from)
                .chain([OsString::from_vec(vec![0xff])])
                .collect();
        assert_eq!(argv, expected);
        for (scope, name) in [("podman-root", "cat"), ("podman-root", "xterm"), ("podman", "rg"), ("../x", "rg")] {
            let err = export_argv(&p, &engines, &run_export(scope, name)).unwrap_err();
            assert!(err.contains("has no exported command"), "{scope} {name}: {err}");
        }
        let mut bad_box = run_export("podman-root", "rg");
        bad_box.box_name = "../dev".into();
        assert!(export_argv(&p, &engines, &bad_box).is_err());
        // A relay without an engine for the scope says so.
        let err = export_argv(&p, &Engines::default(), &run_export("podman-root", "rg")).unwrap_err();
        assert!(err.contains("no engine for podman-root boxes"), "{err}");
    }

    #[test]
    fn tent_in_a_box_runs_in_the_boxs_scope() {
        let w = |s: &[&str]| s.iter().map(OsString::from).collect::<Vec<_>>();
        let e = test_engines();
        let flags = |scope: &str| e.flags(crate::engine::Scope::parse(scope).unwrap()).unwrap();
        assert_eq!(
            host_tent_argv(&flags("docker"), &w(&["list"])),
            w(&["--engine", "/usr/lib/tent-test/docker", "list"])
        );
        assert_eq!(
            host_tent_argv(&flags("podman-root"), &w(&["stop", "x"])),
            w(&["--engine", "/usr/lib/tent-test/podman", "--root", "stop", "x"])
        );
        assert_eq!(host_tent_argv(&flags("podman"), &w(&["--engine=docker", "list"])), w(&["--engine=docker", "list"]));
        assert_eq!(
            host_tent_argv(&flags("podman"), &w(&["run", "b", "--", "--root"])),
            w(&["--engine", "/usr/lib/tent-test/podman", "run", "b", "--", "--root"]),
            "words after -- are the command's"
        );
    }

    #[test]
    fn host_commands_resolve_on_the_relays_path() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("tool");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "").unwrap();
        let path = dir.path().as_os_str();
        assert_eq!(resolve(Path::new("tool"), Some(path)), Ok(exe.clone()));
        assert_eq!(resolve(&exe, None), Ok(exe.clone()));
        assert_eq!(resolve(Path::new("plain"), Some(path)), Err(126));
        assert_eq!(resolve(Path::new("nope"), Some(path)), Err(127));
        assert_eq!(resolve(&dir.path().join("nope"), None), Err(127));
        assert_eq!(resolve(Path::new(""), Some(path)), Err(127));
    }
}
