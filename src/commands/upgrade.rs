//! `tent upgrade`: a snapshot, then the box's package manager upgrades
//! everything; a failed upgrade is rolled back.

use super::{Context, names_or_all};
use crate::boxes::scripts::INIT_SCRIPT;
use crate::boxes::snapshot::SnapshotKind;
use crate::cli::{Schedule, UpgradeArgs};
use crate::engine::json::Container;
use crate::error::{Error, Result, exit};
use crate::output::Unanswered;

/// The scheduled upgrade's units, in the user's systemd folder.
const UNIT: &str = "tent-upgrade";

/// The scheduled upgrade's unit name for the boxes of `scope`: `tent-upgrade`
/// on this machine, as always; a remote endpoint's boxes get a timer of
/// their own, `tent-upgrade-podman-0123456789ab` (the scope's id; an `@`
/// would make a systemd template), so scheduling one never replaces another.
fn unit_name(scope: crate::engine::Scope) -> String {
    if scope.is_remote() { format!("{UNIT}-{}", scope.key().replace('@', "-")) } else { UNIT.to_string() }
}

pub(super) fn run(ctx: &Context<'_>, args: &UpgradeArgs) -> Result<i32> {
    if let Some(schedule) = args.schedule {
        return schedule_upgrades(ctx, schedule, &args.names);
    }
    let mut names = names_or_all(ctx, &args.names, args.all || (args.running && args.names.is_empty()))?;
    let mut containers = Vec::new();
    for name in &names {
        containers.push(ctx.boxes().get(name)?);
    }
    if args.running {
        let stopped: Vec<&str> = containers.iter().filter(|c| !c.running()).map(|c| c.name.as_str()).collect();
        if !stopped.is_empty() && !args.names.is_empty() {
            ctx.printer.status(format!("skipping {}: not running (--running)", stopped.join(", ")));
        }
        names.retain(|n| !stopped.contains(&n.as_str()));
    }
    if args.skip_busy {
        let mut idle = Vec::new();
        for name in names {
            match ctx.boxes().commands_running(&name)? {
                Some(n) if n > 0 => {
                    ctx.printer.status(format!("skipping {name}: {n} command(s) run in it (--skip-busy)"))
                }
                _ => idle.push(name),
            }
        }
        names = idle;
    }
    if names.is_empty() {
        ctx.printer.status("no boxes to upgrade");
        return Ok(0);
    }
    let question = format!(
        "Upgrade the packages of {}? A box with something to upgrade gets a snapshot first; `tent rollback BOX` undoes it.",
        names.join(", ")
    );
    ctx.printer.agree(args.yes, &question, Unanswered::GoAhead, "nothing was upgraded")?;
    crate::interrupt::catch();
    let mut failed = 0;
    for name in &names {
        // Fetched just now: reused for one box (with more, each may have
        // changed while the ones before it were upgraded).
        let known = if names.len() == 1 { containers.iter().find(|c| c.name == *name) } else { None };
        match upgrade_one(ctx, name, known) {
            Ok(Some(snapshot)) => {
                ctx.printer.status(format!("upgraded {name}; `tent rollback {name} {snapshot}` undoes it"))
            }
            Ok(None) => ctx.printer.status(format!("{name} is up to date: nothing to upgrade, no snapshot taken")),
            Err(err) => {
                failed += 1;
                if args.notify {
                    super::notify(&format!("tent: upgrading {name} failed"), &err.to_string());
                }
                if names.len() == 1 {
                    return Err(err);
                }
                ctx.printer.error(&err);
            }
        }
    }
    if failed > 0 {
        ctx.printer.warn(format!("{failed} of {} box(es) could not be upgraded", names.len()));
        return Ok(exit::FAILURE);
    }
    Ok(0)
}

/// `--schedule`: writes (or, with `off`, removes) a systemd user service and
/// timer that run this tent's upgrade with this engine, and enables them.
/// Boxes on a remote endpoint get a timer of their own (`unit_name`) whose
/// service sets the variables that chose the endpoint (`endpoint_env`), so it
/// reaches them with no session around.
fn schedule_upgrades(ctx: &Context<'_>, schedule: Schedule, names: &[String]) -> Result<i32> {
    let dir = crate::systemd::user_unit_dir(&ctx.paths.config_home());
    let unit = unit_name(ctx.engine.scope());
    let service = dir.join(format!("{unit}.service"));
    let timer = dir.join(format!("{unit}.timer"));
    if schedule == Schedule::Off {
        let _ = crate::systemd::systemctl_user(&["disable", "--now", &format!("{unit}.timer")]);
        for unit in [&timer, &service] {
            if crate::systemd::remove_unit(unit)? {
                ctx.printer.status(format!("removed {}", unit.display()));
            } else if unit.exists() {
                ctx.printer.warn(format!("left {} in place: tent did not write it", unit.display()));
            }
        }
        let _ = crate::systemd::systemctl_user(&["daemon-reload"]);
        return Ok(0);
    }
    if ctx.engine.through_sudo() {
        return Err(Error::usage(
            "rootful boxes cannot be upgraded on a schedule: sudo would ask for a password with nobody there",
            Some("schedule the upgrades of your rootless boxes, and run `tent --root upgrade` by hand".to_string()),
        ));
    }
    for name in names {
        ctx.boxes().get(name)?;
    }
    let tent = std::env::current_exe().map_err(|e| Error::io("/proc/self/exe", e))?;
    let endpoint = crate::boxes::remote::endpoint_env(&ctx.engine);
    let (service_text, timer_text) =
        upgrade_units(&tent.display().to_string(), &ctx.engine.path.display().to_string(), schedule, names, &endpoint)?;
    crate::systemd::write_unit(&service, &service_text)?;
    crate::systemd::write_unit(&timer, &timer_text)?;
    ctx.printer.status(format!("wrote {} and {}", service.display(), timer.display()));
    let enabled = crate::systemd::systemctl_user(&["daemon-reload"])
        .and_then(|()| crate::systemd::systemctl_user(&["enable", "--now", &format!("{unit}.timer")]));
    let which = match ctx.engine.endpoint.remote() {
        Some(remote) => format!("the boxes at {}", remote.address),
        None => "boxes".to_string(),
    };
    match enabled {
        Ok(()) => ctx.printer.status(format!(
            "{which} are upgraded {}; the log: `journalctl --user -u {unit}`",
            if schedule == Schedule::Daily { "daily" } else { "weekly" }
        )),
        Err(why) => ctx.printer.warn(format!(
            "could not enable the timer ({why}); in your desktop session run `systemctl --user enable --now {unit}.timer`"
        )),
    }
    Ok(0)
}

/// The service and timer of the scheduled upgrade: the service runs `tent`
/// with the engine tent uses now (so the timer does not depend on the
/// session's variables), every box or the ones named.
/// `endpoint`: the variables that reach a remote endpoint's boxes, set
/// through `env` before tent (none on this machine).
pub(super) fn upgrade_units(
    tent: &str,
    engine: &str,
    schedule: Schedule,
    names: &[String],
    endpoint: &[(String, String)],
) -> Result<(String, String)> {
    let mut argv: Vec<String> = Vec::new();
    if !endpoint.is_empty() {
        argv.push("/usr/bin/env".into());
        argv.extend(endpoint.iter().map(|(k, v)| format!("{k}={v}")));
    }
    argv.extend([
        tent.to_string(),
        "--engine".into(),
        engine.into(),
        "upgrade".into(),
        "--yes".into(),
        "--notify".into(),
        "--skip-busy".into(),
    ]);
    if names.is_empty() {
        argv.push("--all".into());
    } else {
        argv.push("--".into());
        argv.extend(names.iter().cloned());
    }
    let when = match schedule {
        Schedule::Daily => "daily",
        Schedule::Weekly => "weekly",
        Schedule::Off => unreachable!("off writes no units"),
    };
    let service = format!(
        "[Unit]\nDescription=Upgrade tent boxes (a snapshot first; a failed upgrade is rolled back)\n\
         \n[Service]\nType=oneshot\nExecStart={}\nNice=10\n\
         IOSchedulingClass=idle\n",
        crate::systemd::exec_line(&argv)?
    );
    let timer = format!(
        "[Unit]\nDescription=Upgrade tent boxes {when}\n\n[Timer]\nOnCalendar={when}\nRandomizedDelaySec=1h\n\
         Persistent=true\n\n[Install]\nWantedBy=timers.target\n"
    );
    Ok((service, timer))
}

/// What the box's package manager said before anything was changed.
#[derive(Debug, PartialEq)]
enum Check {
    /// Nothing to upgrade: no snapshot, no upgrade.
    UpToDate,
    /// Something to upgrade; the index was just refreshed.
    Pending,
    /// The manager cannot tell without upgrading (the old way: a snapshot,
    /// then the upgrade, which refreshes its index itself).
    Unknown,
}

impl Check {
    /// `tent-init upgrade-check`'s exit status (shell-integration/tent-init):
    /// None for a failed refresh or check.
    fn from_status(code: Option<i32>) -> Option<Check> {
        match code {
            Some(0) => Some(Check::UpToDate),
            Some(10) => Some(Check::Pending),
            Some(11) => Some(Check::Unknown),
            _ => None,
        }
    }
}

/// The box's package manager, asked with this tent's init script whether
/// an upgrade would change anything (it refreshes its index, and changes no
/// package).
fn check_upgrade(ctx: &Context<'_>, name: &str) -> Result<Check> {
    let (status, text) = run_init(ctx, name, format!("checking {name} for upgrades"), &["upgrade-check"])?;
    if crate::interrupt::interrupted() {
        return Err(Error::Interrupted);
    }
    Check::from_status(status.code()).ok_or_else(|| Error::Snapshot {
        message: format!(
            "could not check {name} for upgrades: the package manager failed ({}); nothing was changed",
            status.code().map_or("killed".to_string(), |c| format!("exit status {c}"))
        ),
        hint: Some(format!("{}see its index and network in the box: `tent enter {name}`", last_lines(&text))),
    })
}

/// Runs one mode of this tent's init script (`upgrade-check`, `upgrade`)
/// in the box as root, under a spinner: its status and its output. This
/// tent's script, not the one the box was made with: a box made by an
/// older tent has no upgrade modes in its copy.
fn run_init(ctx: &Context<'_>, name: &str, what: String, mode: &[&str]) -> Result<(std::process::ExitStatus, String)> {
    let spinner = ctx.printer.spinner(what);
    let args = crate::engine::argv::exec_sh(name, Some("root"), INIT_SCRIPT, "tent-init", mode);
    ctx.printer.verbose(format!(
        "$ {} exec --user root {name} /bin/sh -c <tent-init> tent-init {}",
        ctx.engine.name(),
        mode.join(" ")
    ));
    let output = ctx.engine.output(&args);
    spinner.finish();
    let output = output?;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    ctx.printer.verbose(&text);
    Ok((output.status, text))
}

/// The last lines of a command's output, indented, for a hint.
fn last_lines(text: &str) -> String {
    let tail: Vec<&str> = text.lines().collect();
    let mut hint = String::from("last lines of the package manager:\n");
    for line in &tail[tail.len().saturating_sub(12)..] {
        hint.push_str("  | ");
        hint.push_str(line);
        hint.push('\n');
    }
    hint
}

/// Upgrades one box; the name of the snapshot that undoes it, or None when
/// there was nothing to upgrade. The package manager is asked first, and
/// only a box with something to upgrade gets a snapshot (issue 24: a no-op
/// upgrade cost a commit of the box's whole layer).
fn upgrade_one(ctx: &Context<'_>, name: &str, known: Option<&Container>) -> Result<Option<String>> {
    let boxes = ctx.boxes();
    boxes.start(name, known)?;
    let check = check_upgrade(ctx, name)?;
    if check == Check::UpToDate {
        return Ok(None);
    }
    let snapshot = ctx.take_snapshot(name, None, SnapshotKind::Upgrade)?;
    let mode = if check == Check::Pending { "--refreshed" } else { "" };
    let (status, text) = run_init(ctx, name, format!("upgrading {name}"), &["upgrade", mode])?;
    if status.success() && !crate::interrupt::interrupted() {
        return Ok(Some(snapshot.name));
    }
    let why = if crate::interrupt::interrupted() {
        "it was interrupted".to_string()
    } else {
        match status.code() {
            Some(code) => format!("the package manager failed (exit status {code})"),
            None => "the package manager was killed".to_string(),
        }
    };
    ctx.printer.warn(format!("upgrading {name} failed: {why}; rolling it back to snapshot {}", snapshot.name));
    let rolled = ctx.rollback_box(name, &snapshot, None);
    let mut hint = last_lines(&text).replace("of the package manager", "of the upgrade");
    match rolled {
        Ok(()) => {
            hint.push_str(&format!(
                "fix the cause in the box (`tent enter {name}`), then run `tent upgrade {name}` again"
            ));
            Err(Error::Snapshot {
                message: format!(
                    "upgrading {name} failed ({why}); the box was rolled back to snapshot {}",
                    snapshot.name
                ),
                hint: Some(hint),
            })
        }
        Err(err) => Err(Error::Snapshot {
            message: format!("upgrading {name} failed ({why}), and rolling it back failed too: {err}"),
            hint: Some(format!("{hint}try `tent rollback {name} {}`", snapshot.name)),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checks_answer_is_its_exit_status() {
        assert_eq!(Check::from_status(Some(0)), Some(Check::UpToDate));
        assert_eq!(Check::from_status(Some(10)), Some(Check::Pending));
        assert_eq!(Check::from_status(Some(11)), Some(Check::Unknown));
        for failed in [Some(1), Some(100), Some(127), None] {
            assert_eq!(Check::from_status(failed), None, "{failed:?}");
        }
    }

    #[test]
    fn the_timer_runs_this_tent_with_this_engine() {
        let (service, timer) =
            upgrade_units("/opt/my tent/tent", "/usr/bin/podman", Schedule::Weekly, &[], &[]).unwrap();
        assert!(
            service.contains("ExecStart=\"/opt/my tent/tent\" \"--engine\" \"/usr/bin/podman\" \"upgrade\" \"--yes\" \"--notify\" \"--skip-busy\" \"--all\"\n"),
            "{service}"
        );
        assert!(timer.contains("OnCalendar=weekly\n") && timer.contains("Persistent=true"), "{timer}");
        let (service, _) = upgrade_units("/t", "podman", Schedule::Daily, &["dev".into(), "web".into()], &[]).unwrap();
        assert!(service.contains("\"--\" \"dev\" \"web\"\n"), "{service}");
    }

    #[test]
    fn a_remote_endpoints_boxes_get_a_timer_of_their_own_that_reaches_them() {
        use crate::engine::{EngineKind, Scope};
        assert_eq!(unit_name(Scope::Podman), "tent-upgrade");
        assert_eq!(unit_name(Scope::Docker), "tent-upgrade");
        let remote = Scope::Remote { kind: EngineKind::Podman, id: [0x01, 0x23, 0x45, 0x67, 0x89, 0xab] };
        assert_eq!(unit_name(remote), "tent-upgrade-podman-0123456789ab");
        let env = [
            ("CONTAINER_HOST".to_string(), "ssh://me@build/run/user/1000/podman/podman.sock".to_string()),
            ("CONTAINER_SSHKEY".to_string(), "/home/me/.ssh/100%$x".to_string()),
        ];
        let (service, _) = upgrade_units("/t", "/usr/bin/podman", Schedule::Daily, &[], &env).unwrap();
        assert!(
            service.contains(
                "ExecStart=\"/usr/bin/env\" \"CONTAINER_HOST=ssh://me@build/run/user/1000/podman/podman.sock\" \
                 \"CONTAINER_SSHKEY=/home/me/.ssh/100%%$$x\" \"/t\" \"--engine\""
            ),
            "{service}"
        );
    }
}
