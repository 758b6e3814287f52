//! `tent service`: systemd user units on the host that run a command in a box
//! (`tent service add BOX NAME -- CMD…`), and the unit that starts a box when
//! the user logs in (`tent create --start-at-login`). Each unit runs this
//! tent with the engine it uses now, so it needs nothing from the session:
//! `tent --engine ENGINE run BOX -- CMD…` starts the box when it is stopped,
//! passes the argv exactly and ends with the command. `systemctl --user stop`
//! ends the command on every engine: the command writes its pid (in the
//! box's pid namespace) to a file in the user's runtime directory, and
//! `ExecStop=` sends it SIGTERM from inside the box. SIGTERM to tent alone
//! would not do on Docker, whose exec client leaves the command running when
//! it dies. Every unit carries a line of JSON naming its box, so `tent rm`
//! removes a box's units and `list` needs no engine.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Context;
use crate::cli::{Restart, ServiceAction, ServiceArgs};
use crate::error::{Error, Result};
use crate::systemd;

/// The second line of a tent service unit: this, then the unit's JSON.
const META: &str = "# tent-unit: ";

/// What a unit is, as written in its `# tent-unit:` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Unit {
    #[serde(rename = "box")]
    pub box_name: String,
    pub scope: String,
    /// The service's name; None for the box's start-at-login unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The command run in the box.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<String>,
}

impl Unit {
    /// The unit's file name: `tent-SCOPE-BOX.NAME.service`, or
    /// `tent-SCOPE-BOX.service` for start-at-login. Names have no `.`, so the
    /// last `.` before `.service` parts box and name.
    pub(crate) fn file_name(&self) -> String {
        match &self.name {
            Some(name) => format!("tent-{}-{}.{name}.service", self.scope, self.box_name),
            None => format!("tent-{}-{}.service", self.scope, self.box_name),
        }
    }

    /// The file the service's command writes its pid to: in the user's
    /// runtime directory (private to the user, and in every box at the same
    /// path), named after the unit.
    pub(crate) fn pid_file(&self, runtime: &Path) -> PathBuf {
        runtime.join("tent/services").join(format!("{}.pid", self.file_name()))
    }

    /// The unit's text (after tent's marker).
    pub(crate) fn text(&self, tent: &str, engine: &str, runtime: &Path) -> Result<String> {
        let tent_argv = |args: &[&str]| -> Vec<String> {
            let mut argv = vec![tent.to_string(), "--engine".into(), engine.to_string()];
            argv.extend(args.iter().map(|a| a.to_string()));
            argv
        };
        let meta = serde_json::to_string(self).expect("a unit serializes");
        let service = match &self.name {
            Some(name) => {
                let pid_file = self.pid_file(runtime).display().to_string();
                let mut run = tent_argv(&["run", &self.box_name, "--", "sh", "-c", RECORD_PID, &pid_file]);
                run.extend(self.command.iter().cloned());
                let stop = tent_argv(&["run", &self.box_name, "--", "sh", "-c", END_RECORDED, &pid_file]);
                format!(
                    "[Unit]\nDescription={name} in tent box {box_}\n\n[Service]\nExecStart={exec}\n\
                     ExecStop={stop}\nRestart={restart}\nRestartSec=5\nKillMode=mixed\n\n[Install]\n\
                     WantedBy=default.target\n",
                    box_ = self.box_name,
                    exec = systemd::exec_line(&run)?,
                    stop = systemd::exec_line(&stop)?,
                    restart = self.restart.as_deref().unwrap_or("on-failure"),
                )
            }
            None => format!(
                "[Unit]\nDescription=tent box {box_}, started at login\n\n[Service]\nType=oneshot\n\
                 RemainAfterExit=yes\nExecStart={start}\nExecStop={stop}\n\n[Install]\nWantedBy=default.target\n",
                box_ = self.box_name,
                start = systemd::exec_line(&tent_argv(&["run", &self.box_name, "--", "true"]))?,
                stop = systemd::exec_line(&tent_argv(&["stop", &self.box_name]))?,
            ),
        };
        Ok(format!("{META}{meta}\n{service}"))
    }
}

/// In the box, before the command: its pid into the file (`$0`), then the
/// command itself in its place (`exec "$@"`: the argv exactly).
const RECORD_PID: &str = "mkdir -p \"${0%/*}\" && echo $$ > \"$0\" && exec \"$@\"";
/// In the box, at stop: SIGTERM to the recorded command, then the file goes.
const END_RECORDED: &str = "pid=$(cat \"$0\" 2>/dev/null) && kill -TERM \"$pid\" 2>/dev/null; rm -f \"$0\"; true";

/// A service name: letters, digits, `_` and `-` (no `.`: see `file_name`).
pub(crate) fn validate_service_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::usage(
            format!("invalid service name {name:?}: use letters, digits, '_' and '-', starting with a letter or digit"),
            Some("for example `tent service add dev web -- python3 -m http.server`".to_string()),
        ))
    }
}

/// The units tent wrote in `dir`, read as a stranger's files (the config
/// folder is every box's): bounded, no links, only tent's marker and a
/// well-formed `# tent-unit:` line count.
pub(crate) fn units_in(dir: &Path) -> Vec<(PathBuf, Unit)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut units = Vec::new();
    for entry in entries.take(10_000).flatten() {
        let file = entry.file_name();
        let Some(file) = file.to_str() else { continue };
        if !file.starts_with("tent-") || !file.ends_with(".service") {
            continue;
        }
        let path = entry.path();
        let Some(text) = crate::files::read_text_bounded(&path, 64 * 1024) else { continue };
        let mut lines = text.lines();
        if lines.next() != Some(systemd::MARKER) {
            continue;
        }
        let Some(unit) =
            lines.next().and_then(|l| l.strip_prefix(META)).and_then(|j| serde_json::from_str::<Unit>(j).ok())
        else {
            continue;
        };
        // The file must be the one its own line names: a planted line cannot
        // make `tent rm` of one box remove another's unit.
        if unit.file_name() == file && crate::boxes::validate_name(&unit.box_name).is_ok() {
            units.push((path, unit));
        }
    }
    units.sort_by(|a, b| a.0.cmp(&b.0));
    units
}

fn unit_dir(ctx: &Context<'_>) -> PathBuf {
    systemd::user_unit_dir(&ctx.paths.config_home())
}

/// Writes a unit and asks systemd to start it now and at every login; a
/// session without a user manager gets a warning that says what to run.
pub(crate) fn install(ctx: &Context<'_>, unit: &Unit, enable: bool) -> Result<PathBuf> {
    // A unit runs tent with none of the endpoint's settings.
    ctx.engine.require_local(&format!("a systemd service of box {:?}", unit.box_name))?;
    if ctx.engine.through_sudo() {
        return Err(Error::usage(
            "a rootful box's units would need sudo's password with nobody there",
            Some("use a rootless box for services".to_string()),
        ));
    }
    let tent = std::env::current_exe().map_err(|e| Error::io("/proc/self/exe", e))?;
    let runtime =
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).filter(|p| p.is_absolute()).ok_or_else(|| {
            Error::usage(
                "services need your session's runtime directory, and XDG_RUNTIME_DIR is not set",
                Some("run this in your desktop or login session".to_string()),
            )
        })?;
    let text = unit.text(&tent.display().to_string(), &ctx.engine.path.display().to_string(), &runtime)?;
    let path = unit_dir(ctx).join(unit.file_name());
    systemd::write_unit(&path, &text)?;
    ctx.printer.status(format!("wrote {}", path.display()));
    if enable {
        let file = unit.file_name();
        let done = systemd::systemctl_user(&["daemon-reload"])
            .and_then(|()| systemd::systemctl_user(&["enable", "--now", &file]));
        if let Err(why) = done {
            ctx.printer.warn(format!(
                "could not enable it ({why}); in your desktop session run `systemctl --user enable --now {file}`"
            ));
        }
    }
    Ok(path)
}

/// Stops, disables and removes units tent wrote for `box_name` (and `name`,
/// when given); the paths removed.
pub(crate) fn remove_units(
    ctx: &Context<'_>,
    box_name: &str,
    name: Option<&str>,
    login_too: bool,
) -> Result<Vec<PathBuf>> {
    let scope = ctx.engine.scope().to_string();
    let mut removed = Vec::new();
    for (path, unit) in units_in(&unit_dir(ctx)) {
        let wanted = unit.box_name == box_name
            && unit.scope == scope
            && match name {
                Some(name) => unit.name.as_deref() == Some(name),
                None => unit.name.is_some() || login_too,
            };
        if !wanted {
            continue;
        }
        let _ = systemd::systemctl_user(&["disable", "--now", &unit.file_name()]);
        if systemd::remove_unit(&path)? {
            removed.push(path);
        }
    }
    if !removed.is_empty() {
        let _ = systemd::systemctl_user(&["daemon-reload"]);
    }
    Ok(removed)
}

pub(crate) fn run(ctx: &Context<'_>, args: &ServiceArgs) -> Result<i32> {
    match &args.action {
        ServiceAction::Add { box_name, name, restart, no_enable, command } => {
            validate_service_name(name)?;
            ctx.boxes().get(box_name)?;
            let unit = Unit {
                box_name: box_name.clone(),
                scope: ctx.engine.scope().to_string(),
                name: Some(name.clone()),
                command: command.clone(),
                restart: Some(restart_value(*restart).into()),
            };
            install(ctx, &unit, !no_enable)?;
            ctx.printer.status(format!(
                "{name} runs in {box_name}: `systemctl --user status {}`; `tent service remove {box_name} {name}` removes it",
                unit.file_name()
            ));
            Ok(0)
        }
        ServiceAction::List { box_name, json } => {
            let units: Vec<Unit> = units_in(&unit_dir(ctx))
                .into_iter()
                .map(|(_, u)| u)
                .filter(|u| box_name.as_ref().is_none_or(|b| *b == u.box_name))
                .collect();
            if *json {
                println!("{}", serde_json::to_string_pretty(&units).expect("units serialize"));
            } else if units.is_empty() {
                ctx.printer.status("no services");
            } else {
                for u in &units {
                    let what = match &u.name {
                        Some(name) => format!("{name}: {}", crate::output::sanitize(&u.command.join(" "))),
                        None => "starts at login".to_string(),
                    };
                    println!("{}\t{}\t{what}", u.box_name, u.scope);
                }
            }
            Ok(0)
        }
        ServiceAction::Remove { box_name, name, all } => {
            if name.is_none() && !all {
                return Err(Error::usage(
                    format!("name the service of {box_name} to remove, or give --all"),
                    Some(format!("`tent service list {box_name}` shows them")),
                ));
            }
            let removed = remove_units(ctx, box_name, name.as_deref(), false)?;
            if removed.is_empty() {
                return Err(Error::usage(
                    format!("{box_name} has no such service"),
                    Some(format!("`tent service list {box_name}` shows them")),
                ));
            }
            for path in removed {
                ctx.printer.status(format!("removed {}", path.display()));
            }
            Ok(0)
        }
    }
}

fn restart_value(restart: Restart) -> &'static str {
    match restart {
        Restart::No => "no",
        Restart::OnFailure => "on-failure",
        Restart::Always => "always",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web() -> Unit {
        Unit {
            box_name: "dev.1".into(),
            scope: "podman".into(),
            name: Some("web".into()),
            command: vec!["python3".into(), "-m".into(), "http.server".into(), "100%".into()],
            restart: Some("always".into()),
        }
    }

    #[test]
    fn a_service_runs_the_exact_argv_in_its_box() {
        let text = web().text("/usr/bin/tent", "/usr/bin/podman", Path::new("/run/user/7")).unwrap();
        assert!(
            text.contains(
                "ExecStart=\"/usr/bin/tent\" \"--engine\" \"/usr/bin/podman\" \"run\" \"dev.1\" \"--\" \"sh\" \"-c\" "
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "\"/run/user/7/tent/services/tent-podman-dev.1.web.service.pid\" \"python3\" \"-m\" \"http.server\" \"100%%\"\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "ExecStop=\"/usr/bin/tent\" \"--engine\" \"/usr/bin/podman\" \"run\" \"dev.1\" \"--\" \"sh\""
            ),
            "{text}"
        );
        assert!(text.contains("Restart=always\n") && text.contains("WantedBy=default.target"), "{text}");
        assert_eq!(web().file_name(), "tent-podman-dev.1.web.service");
        let login = Unit { name: None, command: vec![], restart: None, ..web() };
        let text = login.text("/t", "podman", Path::new("/r")).unwrap();
        assert!(text.contains("ExecStop=\"/t\" \"--engine\" \"podman\" \"stop\" \"dev.1\"\n"), "{text}");
        assert_eq!(login.file_name(), "tent-podman-dev.1.service");
    }

    #[test]
    fn units_are_read_back_only_when_tent_wrote_them_under_their_own_name() {
        let dir = tempfile::tempdir().unwrap();
        let unit = web();
        let path = dir.path().join(unit.file_name());
        systemd::write_unit(&path, &unit.text("/t", "podman", Path::new("/r")).unwrap()).unwrap();
        // A planted unit that claims another box's name under its own file.
        let mut forged = web();
        forged.box_name = "other".into();
        systemd::write_unit(
            &dir.path().join("tent-podman-x.web.service"),
            &forged.text("/t", "podman", Path::new("/r")).unwrap(),
        )
        .unwrap();
        std::fs::write(dir.path().join("tent-podman-y.web.service"), "[Service]\n").unwrap();
        let found = units_in(dir.path());
        assert_eq!(found, vec![(path, unit)]);
    }

    #[test]
    fn service_names_have_no_dots() {
        assert!(validate_service_name("web-1_a").is_ok());
        for bad in ["", "a.b", "-x", "a b", "a/b"] {
            assert!(validate_service_name(bad).is_err(), "{bad}");
        }
    }
}
