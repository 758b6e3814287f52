//! `--engine-arg`: raw arguments for the engine's create, passed as words
//! (never through a shell). Those that would break what tent relies on are
//! refused with the reason, before anything is made.

use super::spec::Unshare;

/// Why `arg` (one of `args`, in order) cannot be passed, or None when it can.
/// Options are matched in both forms, `--name x` and `--name=x`.
pub fn check(args: &[String], unshare: &Unshare) -> Result<(), String> {
    let mut words = args.iter().peekable();
    while let Some(arg) = words.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let value = inline.clone().or_else(|| words.peek().map(|s| s.to_string())).unwrap_or_default();
        let why: Option<String> = match flag {
            "--name" => Some("tent names the container after the box".into()),
            "--user" | "-u" => Some("tent's init must run as root; commands run as you through `tent enter`".into()),
            "--entrypoint" => Some("tent's init is the entry point of every box".into()),
            "--userns" => Some("tent chooses the user namespace (keep-id for rootless podman)".into()),
            "--label" | "-l" => Some("tent's labels are how it knows its boxes".into()),
            "--rm" => Some("a box stays until `tent rm`".into()),
            "--detach" | "-d" | "--interactive" | "-i" | "--tty" | "-t" => {
                Some("tent decides how the container is started".into())
            }
            "--pid" if !unshare.process => {
                Some("tent shares the host's PID namespace; use --unshare-process for a namespace of its own".into())
            }
            "--network" | "--net" if !unshare.netns => {
                Some("tent shares the host's network; use --unshare-netns for a network of its own".into())
            }
            "--ipc" if !unshare.ipc => Some("tent shares the host's IPC; use --unshare-ipc for its own".into()),
            "--volume" | "-v" | "--mount" if touches_tent_paths(&value) => {
                Some("/run/.tent and /run/host are tent's own mounts".into())
            }
            _ => None,
        };
        if let Some(why) = why {
            return Err(format!("--engine-arg {arg:?} is refused: {why}"));
        }
    }
    Ok(())
}

/// True when a volume or mount spec puts something at or under tent's paths.
fn touches_tent_paths(spec: &str) -> bool {
    let targets: Vec<&str> = if spec.contains("dst=") || spec.contains("destination=") || spec.contains("target=") {
        spec.split(',')
            .filter_map(|kv| kv.split_once('='))
            .filter(|(k, _)| matches!(*k, "dst" | "destination" | "target"))
            .map(|(_, v)| v)
            .collect()
    } else {
        spec.split(':').skip(1).take(1).collect()
    };
    targets.iter().any(|t| {
        let t = t.trim_end_matches('/');
        ["/run/.tent", "/run/host", "/run", "/"].iter().any(|own| {
            if *own == "/run" || *own == "/" {
                // Covering /run or / would hide tent's mounts under it.
                t == own.trim_end_matches('/')
            } else {
                t == *own || t.starts_with(&format!("{own}/"))
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn harmless_options_pass() {
        let none = Unshare::default();
        assert!(check(&words(&["--env=X=1", "--cap-add", "SYS_PTRACE", "--pids-limit=-1"]), &none).is_ok());
        assert!(check(&words(&["--volume", "/data:/data:ro"]), &none).is_ok());
        assert!(check(&words(&["--mount=type=tmpfs,destination=/scratch"]), &none).is_ok());
        assert!(check(&[], &none).is_ok());
    }

    #[test]
    fn what_tent_relies_on_is_refused_with_the_reason() {
        let none = Unshare::default();
        for bad in [
            &["--name=x"][..],
            &["--name", "x"],
            &["-u", "1000"],
            &["--user=me"],
            &["--entrypoint=/bin/bash"],
            &["--userns=host"],
            &["--label", "a=b"],
            &["-l", "a=b"],
            &["--rm"],
            &["--pid=private"],
            &["--network=bridge"],
        ] {
            let err = check(&words(bad), &none).unwrap_err();
            assert!(err.contains("is refused: "), "{bad:?}: {err}");
        }
        let err = check(&words(&["--name=x"]), &none).unwrap_err();
        assert!(err.contains("tent names the container"), "{err}");
        assert!(check(&words(&["-v", "/x:/run/.tent/lib"]), &none).is_err());
        assert!(check(&words(&["--volume=/x:/run/host/etc:ro"]), &none).is_err());
        assert!(check(&words(&["--mount", "type=bind,src=/x,dst=/run/.tent"]), &none).is_err());
        assert!(check(&words(&["-v", "/x:/run"]), &none).is_err());
        assert!(check(&words(&["-v", "/x:/run/mine"]), &none).is_ok());
    }

    #[test]
    fn namespaces_may_be_chosen_once_unshared() {
        let u = Unshare { process: true, netns: true, ..Default::default() };
        assert!(check(&words(&["--pid=private"]), &u).is_ok());
        assert!(check(&words(&["--network", "slirp4netns"]), &u).is_ok());
        assert!(check(&words(&["--ipc=private"]), &u).is_err());
    }
}
