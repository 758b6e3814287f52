//! `--engine-arg`: raw arguments for the engine's create, passed as words
//! (never through a shell). Those that would break what tent relies on are
//! refused with the reason, before anything is made.

use super::spec::Unshare;

/// Short options of `podman create` and `docker create` that take a value
/// (`-u 0`, `-u0`, `-u=0`); every other letter is a flag without one, and
/// flags cluster (`-itu0` is `-i -t -u 0`), as the engines' option parser
/// (spf13/pflag) reads them. pflag takes no abbreviations of long options.
const SHORT_WITH_VALUE: &str = "acehlmpuvw";

/// The options a word (and maybe the next) stands for: each as `-x` or
/// `--long`, with its value when it has one inline or takes one.
fn options<'a>(word: &'a str, next: Option<&'a String>) -> Vec<(String, Option<String>)> {
    if let Some(long) = word.strip_prefix("--") {
        if long.is_empty() {
            return Vec::new();
        }
        return match long.split_once('=') {
            Some((name, value)) => vec![(format!("--{name}"), Some(value.to_string()))],
            None => vec![(word.to_string(), next.cloned())],
        };
    }
    let Some(cluster) = word.strip_prefix('-').filter(|c| !c.is_empty()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, c) in cluster.char_indices() {
        let flag = format!("-{c}");
        if SHORT_WITH_VALUE.contains(c) {
            let rest = &cluster[i + c.len_utf8()..];
            let rest = rest.strip_prefix('=').unwrap_or(rest);
            let value = if rest.is_empty() { next.cloned() } else { Some(rest.to_string()) };
            out.push((flag, value));
            break;
        }
        out.push((flag, None));
    }
    out
}

/// Why `arg` (one of `args`, in order) cannot be passed, or None when it can.
/// Options are matched in every form the engines read: `--name x`,
/// `--name=x`, `-u0`, `-u=0` and clusters such as `-itu0`. Every word is
/// checked, values too, so a value that is itself an option is refused
/// rather than missed.
pub fn check(args: &[String], unshare: &Unshare) -> Result<(), String> {
    for (i, arg) in args.iter().enumerate() {
        if arg == "--" {
            return Err(format!(
                "--engine-arg {arg:?} is refused: it would make tent's own options after it the image and its command"
            ));
        }
        for (flag, value) in options(arg, args.get(i + 1)) {
            let value = value.unwrap_or_default();
            if let Some(why) = refused(&flag, &value, unshare) {
                return Err(format!("--engine-arg {arg:?} is refused: {why}"));
            }
        }
    }
    Ok(())
}

/// Why one option is refused: tent sets it itself, or it would undo what
/// tent relies on.
fn refused(flag: &str, value: &str, unshare: &Unshare) -> Option<String> {
    let why: &str = match flag {
        "--name" => "tent names the container after the box",
        "--replace" => "tent never removes a container in passing: remove it with `tent rm` first",
        "--user" | "-u" => "tent's init must run as root; commands run as you through `tent enter`",
        "--entrypoint" => "tent's init is the entry point of every box",
        "--userns" | "--uidmap" | "--gidmap" | "--subuidname" | "--subgidname" => {
            "tent chooses the user namespace (keep-id for rootless podman)"
        }
        "--label" | "-l" | "--label-file" => "tent's labels are how it knows its boxes",
        "--hostname" | "-h" => "tent sets the box's host name: use `tent create --hostname`",
        "--platform" => "tent passes the platform: use `tent create --platform`",
        "--rm" => "a box stays until `tent rm`",
        "--detach" | "-d" | "--interactive" | "-i" | "--tty" | "-t" => "tent decides how the container is started",
        "--pid" if !unshare.process => {
            "tent shares the host's PID namespace; use --unshare-process for a namespace of its own"
        }
        "--network" | "--net" if !unshare.netns => {
            "tent shares the host's network; use --unshare-netns for a network of its own"
        }
        "--ipc" if !unshare.ipc => "tent shares the host's IPC; use --unshare-ipc for its own",
        "--volume" | "-v" | "--mount" | "--tmpfs" if touches_tent_paths(flag, value) => {
            "/run/.tent and /run/host are tent's own mounts"
        }
        _ => return None,
    };
    Some(why.to_string())
}

/// True when a volume, mount or tmpfs spec puts something at or under
/// tent's paths, or over `/run` or `/`, which would hide them. Targets are
/// compared after lexical clean-up (`//`, `.`, `..`), as the kernel resolves them.
fn touches_tent_paths(flag: &str, spec: &str) -> bool {
    let targets: Vec<&str> = if flag == "--tmpfs" {
        spec.split(':').take(1).collect()
    } else if flag == "--mount" || spec.contains("dst=") || spec.contains("destination=") || spec.contains("target=") {
        spec.split(',')
            .filter_map(|kv| kv.split_once('='))
            .filter(|(k, _)| matches!(k.trim().to_ascii_lowercase().as_str(), "dst" | "destination" | "target"))
            .map(|(_, v)| v)
            .collect()
    } else {
        spec.split(':').skip(1).take(1).collect()
    };
    targets.iter().any(|t| {
        let t = clean(t);
        t == "/"
            || t == "/run"
            || ["/run/.tent", "/run/host"].iter().any(|own| t == *own || t.starts_with(&format!("{own}/")))
    })
}

/// A path made absolute and lexically clean: `//run/./x/../host/` is `/run/host`.
fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
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

    #[test]
    fn every_form_the_engines_read_is_checked() {
        let none = Unshare::default();
        for bad in [
            &["-u0"][..],
            &["-u=0"],
            &["-itu0"],
            &["-it"],
            &["-lkey=value"],
            &["-l=tent.format=1"],
            &["--label-file", "/tmp/labels"],
            &["--label-file=/tmp/labels"],
            &["-v/x:/run/host"],
            &["-iv", "/x:/run/.tent"],
            &["--volume=/x://run//host/"],
            &["-v", "/x:/run/./mine/../host"],
            &["-v", "/x:/run/.tent/../"],
            &["--mount", "type=bind,src=/x,Target=/run/host"],
            &["--mount=type=tmpfs,dst=/"],
            &["--tmpfs", "/run/host"],
            &["--tmpfs=/run/.tent:rw,size=1m"],
            &["--hostname=x"],
            &["-hx"],
            &["--platform", "linux/arm64"],
            &["--replace"],
            &["--uidmap=0:1:1"],
            &["--env", "--name=x"],
            &["--"],
        ] {
            let err = check(&words(bad), &none).unwrap_err();
            assert!(err.contains("is refused: "), "{bad:?}: {err}");
        }
        // Values that only look like ours, and options that only start like them.
        for good in [
            &["--env=NAME=x"][..],
            &["-e", "USER=me"],
            &["--cap-add=SYS_ADMIN"],
            &["--security-opt", "seccomp=unconfined"],
            &["-v", "/run/host:/data"],
            &["-v", "/x:/run/hostile"],
            &["--tmpfs", "/scratch"],
            &["--mount", "type=bind,src=/run/host,dst=/data"],
            &["-P"],
        ] {
            assert!(check(&words(good), &none).is_ok(), "{good:?}");
        }
        assert_eq!(clean("//run/./x/../host/"), "/run/host");
        assert_eq!(clean("../.."), "/");
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            /// Whatever the words, the check answers, and a refused option stays
            /// refused wherever it stands and whatever follows it.
            #[test]
            fn any_words_are_checked_without_a_panic(args in prop::collection::vec(".{0,20}", 0..8), at in 0usize..8) {
                let none = Unshare::default();
                let _ = check(&args, &none);
                let mut with = args.clone();
                with.insert(at.min(args.len()), "--name=x".into());
                prop_assert!(check(&with, &none).is_err());
            }
        }
    }
}
