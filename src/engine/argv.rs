//! Engine argv, built by pure functions from plain data so every flag is
//! unit-tested without an engine. What a box's container looks like is
//! `boxes::container`'s business; this module only knows the engines' verbs.

use super::{Engine, json};

/// Lists every container that carries `label`, in the engine's JSON.
pub fn ps(engine: &Engine, label: &str) -> Vec<String> {
    let filter = format!("label={label}");
    if engine.ps_prints_array() {
        vec!["ps".into(), "--all".into(), "--filter".into(), filter, "--format".into(), "json".into()]
    } else {
        vec![
            "ps".into(),
            "--all".into(),
            "--no-trunc".into(),
            "--filter".into(),
            filter,
            "--format".into(),
            json::docker_ps_template(),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct ExecPlan<'a> {
    pub name: &'a str,
    /// `uid:gid`, or `root`.
    pub user: String,
    pub tty: bool,
    pub interactive: bool,
    pub env: Vec<(String, String)>,
    /// The command to run in the container, as the engine passes it.
    pub command: Vec<String>,
}

pub fn exec(engine: &Engine, plan: &ExecPlan<'_>) -> Vec<String> {
    let mut a: Vec<String> = vec!["exec".into()];
    if plan.interactive {
        a.push("--interactive".into());
    }
    if plan.tty {
        a.push("--tty".into());
    }
    if engine.supports_empty_detach_keys() {
        a.push("--detach-keys=".into());
    }
    a.push("--user".into());
    a.push(plan.user.clone());
    for (key, value) in &plan.env {
        a.push("--env".into());
        a.push(format!("{key}={value}"));
    }
    a.push(plan.name.into());
    a.extend(plan.command.iter().cloned());
    a
}

/// Runs an sh script in a running box, non-interactively: `exec [--user
/// USER] BOX /bin/sh -c SCRIPT ARG0 ARGS...`, with `ARG0` as the script's `$0`
/// and `ARGS` as `$1`... The script travels in the argv, never as a path in
/// the box (which the box could change). `user` is `uid:gid` or `root`;
/// None is the image's user.
pub fn exec_sh(name: &str, user: Option<&str>, script: &str, arg0: &str, args: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = vec!["exec".into()];
    if let Some(user) = user {
        a.extend(["--user".into(), user.into()]);
    }
    a.extend([name.into(), "/bin/sh".into(), "-c".into(), script.into(), arg0.into()]);
    a.extend(args.iter().map(|s| s.to_string()));
    a
}

/// Commits a container's own filesystem (never its mounts) into an image,
/// pausing it for as long as the commit takes when `pause`. Labels are
/// `key=value` with values that need no quoting (the engines parse `--change`
/// differently when quotes are involved).
pub fn commit(container: &str, image: &str, labels: &[(String, String)], pause: bool) -> Vec<String> {
    let mut a: Vec<String> = vec!["commit".into(), format!("--pause={pause}")];
    for (key, value) in labels {
        a.push("--change".into());
        a.push(format!("LABEL {key}={value}"));
    }
    a.push(container.into());
    a.push(image.into());
    a
}

/// Renames a container. The names follow `--`, so none is read as an
/// option (podman 4.3 and Docker 20.10 and later take `--` here).
pub fn rename(from: &str, to: &str) -> Vec<String> {
    vec!["rename".into(), "--".into(), from.into(), to.into()]
}

/// Removes a container, running or not; the name follows `--`.
pub fn rm_force(name: &str) -> Vec<String> {
    vec!["rm".into(), "--force".into(), "--".into(), name.into()]
}

/// Inspects one container (JSON array); the name follows `--`.
pub fn container_inspect(name: &str) -> Vec<String> {
    vec!["container".into(), "inspect".into(), "--".into(), name.into()]
}

pub fn load(file: &str) -> Vec<String> {
    vec!["load".into(), "--input".into(), file.into()]
}

/// `save` to stdout, a pipe: the archive streams into a box file.
pub fn save_stream(engine: &Engine, image: &str) -> Vec<String> {
    let mut a: Vec<String> = vec!["save".into()];
    if engine.kind == super::EngineKind::Podman {
        a.extend(["--format".into(), "docker-archive".into()]);
    }
    a.push(image.into());
    a
}

/// `load` from stdin, a pipe.
pub fn load_stream() -> Vec<String> {
    vec!["load".into()]
}

/// Gives `image` (a reference or an id) the name `new`; both follow `--`.
pub fn tag(image: &str, new: &str) -> Vec<String> {
    vec!["tag".into(), "--".into(), image.into(), new.into()]
}

/// Removes one image reference; never forced, so an image a container
/// still uses is never taken from under it. The reference follows `--`.
pub fn rmi(reference: &str) -> Vec<String> {
    vec!["rmi".into(), "--".into(), reference.into()]
}

/// The full ids of the images that carry `label` (`key` or `key=value`).
pub fn image_ids(label: &str) -> Vec<String> {
    vec!["images".into(), "--quiet".into(), "--no-trunc".into(), "--filter".into(), format!("label={label}")]
}

pub fn image_inspect(ids: &[String]) -> Vec<String> {
    let mut a: Vec<String> = vec!["image".into(), "inspect".into()];
    a.extend(ids.iter().cloned());
    a
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::engine::EngineKind;

    fn engine(kind: EngineKind, rootless: bool) -> Engine {
        Engine::plain(kind, rootless)
    }

    #[test]
    fn exec_puts_options_before_the_name() {
        let plan = ExecPlan {
            name: "dev",
            user: "1000:1000".into(),
            tty: true,
            interactive: true,
            env: vec![("TERM".into(), "xterm".into())],
            command: vec!["/bin/sh".into(), "x".into()],
        };
        let argv = exec(&engine(EngineKind::Podman, true), &plan);
        assert_eq!(
            argv,
            vec![
                "exec",
                "--interactive",
                "--tty",
                "--detach-keys=",
                "--user",
                "1000:1000",
                "--env",
                "TERM=xterm",
                "dev",
                "/bin/sh",
                "x"
            ]
        );
        let argv = exec(&engine(EngineKind::Docker, false), &ExecPlan { tty: false, ..plan });
        assert!(!argv.contains(&"--tty".to_string()));
        assert!(!argv.contains(&"--detach-keys=".to_string()));
    }

    #[test]
    fn sh_in_a_box_takes_the_script_inline() {
        assert_eq!(
            exec_sh("dev", Some("1000:1000"), "echo \"$1\"", "sh", &["a b", "-x"]),
            ["exec", "--user", "1000:1000", "dev", "/bin/sh", "-c", "echo \"$1\"", "sh", "a b", "-x"]
        );
        assert_eq!(exec_sh("dev", None, "true", "sh", &[]), ["exec", "dev", "/bin/sh", "-c", "true", "sh"]);
    }

    #[test]
    fn ps_filters_on_the_label() {
        let argv = ps(&engine(EngineKind::Podman, true), "tent.format");
        assert!(argv.windows(2).any(|w| w[0] == "--filter" && w[1] == "label=tent.format"));
    }
    #[test]
    fn commit_pauses_and_labels() {
        let labels = vec![("tent.snapshot.kind".to_string(), "user".to_string())];
        assert_eq!(
            commit("dev", "localhost/tent-snapshot/podman/dev:one", &labels, true),
            vec![
                "commit",
                "--pause=true",
                "--change",
                "LABEL tent.snapshot.kind=user",
                "dev",
                "localhost/tent-snapshot/podman/dev:one"
            ]
        );
        assert_eq!(commit("a", "b", &[], false)[1], "--pause=false");
    }

    #[test]
    fn image_verbs() {
        assert_eq!(rename("a", "b"), vec!["rename", "--", "a", "b"]);
        assert_eq!(load("/t/i.tar"), vec!["load", "--input", "/t/i.tar"]);
        assert_eq!(tag("x", "y"), vec!["tag", "--", "x", "y"]);
        assert_eq!(rmi("x:1"), vec!["rmi", "--", "x:1"], "never --force: a used image stays");
        assert_eq!(load_stream(), vec!["load"]);
        assert_eq!(
            save_stream(&engine(EngineKind::Podman, true), "img"),
            vec!["save", "--format", "docker-archive", "img"]
        );
        assert_eq!(save_stream(&engine(EngineKind::Docker, false), "img"), vec!["save", "img"]);
        assert!(image_ids("tent.snapshot.box=dev").ends_with(&["label=tent.snapshot.box=dev".to_string()]));
        assert_eq!(image_inspect(&["a".into()]), vec!["image", "inspect", "a"]);
    }

    /// Every positional name a stranger's file can hold comes after `--`,
    /// so `--filter=name=x` or `-af` is a name, never an option.
    #[test]
    fn names_follow_the_end_of_options() {
        let hostile = "--filter=name=x";
        for argv in [
            rename(hostile, hostile),
            rm_force(hostile),
            container_inspect(hostile),
            tag(hostile, hostile),
            rmi(hostile),
        ] {
            let end = argv.iter().position(|w| w == "--").expect("has --");
            assert!(argv[..end].iter().all(|w| w != hostile), "{argv:?}");
            assert!(argv[end + 1..].iter().all(|w| w == hostile), "{argv:?}");
        }
        assert_eq!(rm_force("dev"), vec!["rm", "--force", "--", "dev"]);
        assert_eq!(container_inspect("dev"), vec!["container", "inspect", "--", "dev"]);
    }
}
