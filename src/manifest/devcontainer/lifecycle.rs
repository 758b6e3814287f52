//! Lifecycle commands (`onCreateCommand`, `postStartCommand`, …
//! `initializeCommand`) as the file gives them, and as the box's hooks.

use std::path::PathBuf;

use super::super::model::Location;
use crate::shell::quote;

/// A lifecycle command as the file gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    /// A string: run through `/bin/sh -c`.
    Shell(String),
    /// An array: this exact argv, no shell.
    Argv(Vec<String>),
    /// An object: named commands (each a string or an array), run in parallel.
    Named(Vec<(String, Lifecycle)>),
}

impl Lifecycle {
    /// The command for the plan, as one line per command.
    pub(crate) fn describe(&self) -> String {
        match self {
            Lifecycle::Shell(text) => format!("sh -c {}", quote(text)),
            Lifecycle::Argv(argv) => crate::shell::words(argv),
            Lifecycle::Named(named) => {
                named.iter().map(|(n, c)| format!("[{n}] {}", c.describe())).collect::<Vec<_>>().join("; ")
            }
        }
    }

    /// The argv of each command, with its name for the named form.
    pub(crate) fn argvs(&self) -> Vec<(Option<String>, Vec<String>)> {
        match self {
            Lifecycle::Shell(text) => vec![(None, vec!["/bin/sh".into(), "-c".into(), text.clone()])],
            Lifecycle::Argv(argv) => vec![(None, argv.clone())],
            Lifecycle::Named(named) => named
                .iter()
                .flat_map(|(n, c)| c.argvs().into_iter().map(move |(_, argv)| (Some(n.clone()), argv)))
                .collect(),
        }
    }
}

/// `initializeCommand`: run on the host, in the project folder, before the
/// box is made, and only after the user agreed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostCommand {
    pub box_name: String,
    pub at: Location,
    pub cwd: PathBuf,
    pub command: Lifecycle,
}

/// The hook text that runs a lifecycle command as the box's user, in the
/// project folder. Hooks run as root (tent-init, `set -e`); `su` drops to
/// the user (`$TENT_USER`, from the box's environment).
pub(super) fn hook(key: &str, command: &Lifecycle, workspace: &str) -> String {
    lifecycle_hook(key, command, workspace, true)
}

/// The same for a hook that runs as the user already: `postAttachCommand`,
/// run by tent-exec at `tent enter` (`BoxSpec::attach_hooks`).
pub(super) fn attach_hook(command: &Lifecycle, workspace: &str) -> String {
    lifecycle_hook("postAttachCommand", command, workspace, false)
}

fn lifecycle_hook(key: &str, command: &Lifecycle, workspace: &str, from_root: bool) -> String {
    let run = |leaf: &Lifecycle| -> String {
        let body = match leaf {
            Lifecycle::Shell(text) => text.clone(),
            Lifecycle::Argv(argv) => format!("exec {}", argv.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")),
            Lifecycle::Named(_) => unreachable!("named commands hold strings and arrays only"),
        };
        let script = format!("cd -- {} || exit 1\n{body}", quote(workspace));
        if from_root {
            format!("su -s /bin/sh \"$TENT_USER\" -c {}", quote(&script))
        } else {
            format!("sh -c {}", quote(&script))
        }
    };
    let mut text = format!("# devcontainer.json {key}\n");
    if from_root {
        text.push_str(&format!(
            "command -v su >/dev/null 2>&1 || {{ echo \"tent: {key}: the image has no su to run it as $TENT_USER\" >&2; exit 1; }}\n"
        ));
    }
    match command {
        Lifecycle::Named(named) => {
            text.push_str("tent_dc=$(mktemp -d)\n");
            for (i, (name, leaf)) in named.iter().enumerate() {
                text.push_str(&format!(
                    "{{ if {}; then echo 0 >\"$tent_dc/{i}\"; else echo $? >\"$tent_dc/{i}\"; fi; }} 2>&1 | sed 's/^/[{name}] /' &\n",
                    run(leaf)
                ));
            }
            text.push_str("wait\n");
            for (i, (name, _)) in named.iter().enumerate() {
                text.push_str(&format!(
                    "st=$(cat \"$tent_dc/{i}\" 2>/dev/null || echo '?'); [ \"$st\" = 0 ] || {{ echo \"tent: {key} {name} failed with status $st\" >&2; rm -rf \"$tent_dc\"; exit 1; }}\n"
                ));
            }
            text.push_str("rm -rf \"$tent_dc\"\n");
        }
        leaf => text.push_str(&format!(
            "if {}; then :; else st=$?; echo \"tent: {key} failed with status $st\" >&2; exit \"$st\"; fi\n",
            run(leaf)
        )),
    }
    text
}
