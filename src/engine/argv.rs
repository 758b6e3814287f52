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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::engine::EngineKind;

    fn engine(kind: EngineKind, rootless: bool) -> Engine {
        Engine { kind, path: PathBuf::from(kind.name()), via: crate::engine::Via::Direct, rootless }
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
    fn ps_filters_on_the_label() {
        let argv = ps(&engine(EngineKind::Podman, true), "tent.format");
        assert!(argv.windows(2).any(|w| w[0] == "--filter" && w[1] == "label=tent.format"));
    }
}
