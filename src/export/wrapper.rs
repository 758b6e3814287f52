//! The wrapper script of an exported command: a POSIX sh file on the user's
//! PATH that runs the box's binary through `tent run`. Pure: renders text.
//!
//! Why a script that execs tent: `tent run` already passes every argument
//! byte for byte (it encodes arguments that are not UTF-8 for the box's
//! tent-exec), gives a terminal only when stdin and stdout are terminals, and
//! replaces itself with the engine's exec, so stdio and the exit status are
//! the command's. The script adds one `sh` start (about a millisecond) and
//! nothing else: it uses only builtins on the way to `exec`.

use super::owner::marker_lines;
use crate::shell;

/// Everything a wrapper is made from.
#[derive(Debug, Clone)]
pub struct Wrapper<'a> {
    /// The exported command's name (the file name on PATH).
    pub command: &'a str,
    pub box_name: &'a str,
    pub scope: crate::engine::Scope,
    /// The binary's absolute path in the box.
    pub target: &'a str,
    /// The tent binary that exported it, absolute.
    pub tent: &'a str,
    /// `--engine PATH` and, for rootful podman through sudo, `--root`.
    pub engine_args: &'a [String],
    /// How to remove it, for the marker and messages.
    pub unexport: &'a str,
    /// The host's relay socket for calls from other boxes (src/relay/);
    /// empty when the session has no runtime directory.
    pub relay: &'a str,
    /// The variables that point the engine's client at the box's endpoint
    /// when it is another machine's (`boxes::remote::endpoint_env`), set
    /// before tent runs, so the wrapper works from a plain shell.
    pub env: &'a [(String, String)],
}

pub fn render(w: &Wrapper<'_>) -> String {
    let mut s = String::from("#!/bin/sh\n");
    for line in marker_lines(w.box_name, w.scope, w.unexport) {
        s.push_str(&line);
        s.push('\n');
    }
    let engine: Vec<String> = w.engine_args.iter().map(|a| shell::quote(a)).collect();
    let engine = if engine.is_empty() { String::new() } else { format!("{} ", engine.join(" ")) };
    let mut endpoint = String::new();
    for (key, value) in w.env {
        endpoint.push_str(&format!("{key}={}\nexport {key}\n", shell::quote(value)));
    }
    if !endpoint.is_empty() {
        endpoint.insert_str(0, "# The box lives on another machine's engine: how to reach it.\n");
    }
    s.push_str(&format!(
        r#"#
# Runs {target_text} in box {box} with exactly the arguments given, and with
# this command's stdin, stdout, stderr and exit status. Generated: edits are
# lost when it is exported again.
target={target}
tent={tent}
# In a tent box (tent's own marker, not just the variable).
if [ -n "${{TENT_BOX-}}" ] && [ -e /run/.tent/lib/tent-exec ]; then
    if [ "$TENT_BOX" = {box_q} ]; then
        exec "$target" "$@"
    fi
    # Another box: the host's engine is out of reach here, so the host's own
    # tent, run with the host's loader and libraries under /run/host, asks
    # tent's relay on the host to run this export (see src/relay/): the relay
    # looks it up in the box's receipt and builds the command itself.
    h=/run/host
    on_host() {{
        p=$1 n=0
        while [ -L "$h$p" ] && [ "$n" -lt 20 ]; do
            l=$(readlink "$h$p") || break
            case $l in /*) p=$l ;; *) p=${{p%/*}}/$l ;; esac
            n=$((n + 1))
        done
        printf '%s' "$h$p"
    }}
    case $(uname -m) in
    x86_64) ld=$(on_host /lib64/ld-linux-x86-64.so.2) ;;
    aarch64) ld=$(on_host /lib/ld-linux-aarch64.so.1) ;;
    *) ld= ;;
    esac
    a=$(uname -m)-linux-gnu
    relay={relay}
    if [ -n "$relay" ] && [ -n "$ld" ] && [ -e "$ld" ] && [ -e "$h$tent" ]; then
        exec "$ld" --library-path "$h/usr/lib/$a:$h/lib/$a:$h/usr/lib64:$h/lib64:$h/usr/lib:$h/lib" \
            "$(on_host "$tent")" relay-call --socket "$relay" --scope {scope_q} --box {box_q} --export {command} -- "$@"
    fi
    printf '%s: this command runs in box %s and cannot reach the host from box %s; run it on the host\n' {command} {box_q} "$TENT_BOX" >&2
    exit 127
fi
if [ ! -x "$tent" ]; then
    # tent was moved: use the one on PATH.
    tent=$(command -v tent) || {{
        printf '%s: tent is neither at %s nor on PATH; install it, or remove this command with: %s\n' {command} {tent} {unexport} >&2
        exit 127
    }}
fi
{endpoint}exec "$tent" {engine}run {box_q} -- "$target" "$@"
"#,
        target_text = w.target.replace('\n', "?"),
        box = w.box_name,
        box_q = shell::quote(w.box_name),
        target = shell::quote(w.target),
        command = shell::quote(w.command),
        tent = shell::quote(w.tent),
        unexport = shell::quote(w.unexport),
        relay = shell::quote(w.relay),
        scope_q = shell::quote(&w.scope.key()),
    ));
    s
}

/// Checks an exported command's name: a plain file name that is not `tent`
/// itself (the wrapper finds tent on PATH when tent moves).
pub fn validate_command_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name == "." || name == ".." {
        return Err(format!("{name:?} is not a usable command name"));
    }
    if name.contains('/') || name.contains('\0') {
        return Err(format!("command name {name:?} must not contain '/'"));
    }
    if name.starts_with('-') {
        return Err(format!("command name {name:?} must not start with '-'"));
    }
    if name == "tent" {
        return Err("a command named \"tent\" would hide tent itself".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::process::Command;

    use super::*;

    fn render_for(tent: &str, target: &str) -> String {
        let engine = vec!["--engine".to_string(), "/usr/bin/podman".to_string()];
        render(&Wrapper {
            command: "rg",
            box_name: "dev",
            scope: crate::engine::Scope::Podman,
            target,
            tent,
            engine_args: &engine,
            unexport: "tent unexport dev --bin rg",
            relay: "/run/user/1000/tent/relay-0123456789abcdef.sock",
            env: &[],
        })
    }

    #[test]
    fn a_remote_boxs_wrapper_sets_the_endpoint_before_tent() {
        let engine = vec!["--engine".to_string(), "/usr/bin/podman".to_string()];
        let env = vec![("CONTAINER_HOST".to_string(), "ssh://me@build/run/user/1000/podman/podman.sock".to_string())];
        let text = render(&Wrapper {
            command: "rg",
            box_name: "dev",
            scope: crate::engine::Scope::Podman,
            target: "/usr/bin/rg",
            tent: "/usr/bin/tent",
            engine_args: &engine,
            unexport: "tent unexport dev --bin rg",
            relay: "",
            env: &env,
        });
        let set =
            text.find("\nCONTAINER_HOST='ssh://me@build/run/user/1000/podman/podman.sock'\nexport CONTAINER_HOST\n");
        let exec = text.rfind("\nexec \"$tent\"");
        assert!(set.is_some() && set < exec, "{text}");
        assert!(!render_for("/usr/bin/tent", "/usr/bin/rg").contains("CONTAINER_HOST"), "a local box's has none");
    }

    #[test]
    fn wrapper_carries_the_marker_and_pins_tent_and_engine() {
        let text = render_for("/opt/tent/bin/tent", "/usr/bin/rg");
        assert!(text.starts_with("#!/bin/sh\n# Exported by tent from box \"dev\" (podman)"), "{text}");
        assert!(text.contains("\n# tent-export: box=dev scope=podman\n"), "{text}");
        assert!(text.contains("\ntent='/opt/tent/bin/tent'\n"), "{text}");
        assert!(text.contains("relay='/run/user/1000/tent/relay-0123456789abcdef.sock'"), "{text}");
        assert!(
            text.contains(r#"relay-call --socket "$relay" --scope 'podman' --box 'dev' --export 'rg' -- "$@""#),
            "{text}"
        );
        assert!(
            text.contains("exec \"$tent\" '--engine' '/usr/bin/podman' run 'dev' -- \"$target\" \"$@\"\n"),
            "{text}"
        );
    }

    #[test]
    fn command_names() {
        assert!(validate_command_name("rg-dev").is_ok());
        for bad in ["", "..", "a/b", "-x", "tent"] {
            assert!(validate_command_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn wrapper_is_shellcheck_clean() {
        if Command::new("shellcheck").arg("--version").output().is_err() {
            eprintln!("shellcheck is not installed; skipped");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rg");
        std::fs::write(&path, render_for("/it's/tent", "/usr/bin/a b")).unwrap();
        let out = Command::new("shellcheck").arg("--shell=sh").arg(&path).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    }

    /// Writes a fake tent that prints each argument followed by a NUL, then
    /// runs the wrapper with hostile arguments and compares the bytes.
    #[test]
    fn wrapper_passes_every_argument_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("fake tent");
        crate::test_support::write_script(
            &fake,
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done\nexit 42\n",
        );
        let wrapper = dir.path().join("rg");
        std::fs::write(&wrapper, render_for(fake.to_str().unwrap(), "/usr/bin/it's")).unwrap();
        let hostile: Vec<&[u8]> =
            vec![b"a b", b"", b"*", b"$HOME", b"'\"", b"line\nbreak\n", b"\xff\xfe", b"-x", b"%f", b"\\"];
        let out = Command::new("/bin/sh")
            .arg(&wrapper)
            .args(hostile.iter().map(|a| OsStr::from_bytes(a)))
            .env_remove("TENT_BOX")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(42), "the exit status passes through");
        let mut expected: Vec<u8> = Vec::new();
        for word in
            [&b"--engine"[..], b"/usr/bin/podman", b"run", b"dev", b"--", b"/usr/bin/it's"].into_iter().chain(hostile)
        {
            expected.extend_from_slice(word);
            expected.push(0);
        }
        assert_eq!(out.stdout, expected);
    }

    #[test]
    fn wrapper_finds_tent_on_path_when_it_moved() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let tent = bin.join("tent");
        crate::test_support::write_script(&tent, "#!/bin/sh\necho moved \"$@\"\n");
        let wrapper = dir.path().join("rg");
        std::fs::write(&wrapper, render_for("/nonexistent/tent", "/usr/bin/rg")).unwrap();
        let out = Command::new("/bin/sh")
            .arg(&wrapper)
            .arg("x")
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env_remove("TENT_BOX")
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "moved --engine /usr/bin/podman run dev -- /usr/bin/rg x\n");
        let out =
            Command::new("/bin/sh").arg(&wrapper).env("PATH", "/usr/bin:/bin").env_remove("TENT_BOX").output().unwrap();
        assert_eq!(out.status.code(), Some(127));
        assert!(String::from_utf8_lossy(&out.stderr).contains("tent unexport dev --bin rg"));
    }

    #[test]
    fn a_tent_box_variable_alone_does_not_mean_in_a_box() {
        // The host has no /run/.tent/lib/tent-exec, so TENT_BOX set by hand
        // must not make the wrapper run the target on the host.
        if std::path::Path::new("/run/.tent/lib/tent-exec").exists() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("tent");
        crate::test_support::write_script(&fake, "#!/bin/sh\necho via-tent\n");
        let wrapper = dir.path().join("rg");
        std::fs::write(&wrapper, render_for(fake.to_str().unwrap(), "/bin/echo")).unwrap();
        let out = Command::new("/bin/sh").arg(&wrapper).env("TENT_BOX", "dev").output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "via-tent\n");
    }
}
