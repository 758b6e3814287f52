//! `tent rm`: removes boxes, their exports and tent's state of them. The
//! user's files are never touched; a box's own `--home` only on request.

use super::{Context, names_or_all};
use crate::boxes::{BoxSpec, labels};
use crate::cli::RmArgs;
use crate::error::{Error, Result};
use crate::output::Unanswered;
use crate::runtime::{Removed, check_own_home};

pub(super) fn run(ctx: &Context<'_>, args: &RmArgs) -> Result<i32> {
    let boxes = ctx.boxes();
    let names = names_or_all(ctx, &args.names, args.all)?;
    if names.is_empty() {
        ctx.printer.status("no boxes to remove");
        return Ok(0);
    }
    // Check everything first, so one bad name removes nothing.
    let mut targets = Vec::new();
    for name in &names {
        let container = boxes.get(name)?;
        if container.running() && !args.force {
            return Err(Error::BoxRunning { name: name.clone() });
        }
        let home = if args.delete_home {
            BoxSpec::from_label(container.label(labels::SPEC)).and_then(|s| s.home)
        } else {
            None
        };
        if let Some(home) = &home {
            // The label names a folder on the box's machine, not on this one.
            ctx.engine.require_local(&format!("deleting the own home of box {name:?}"))?;
            check_own_home(home, name, &ctx.paths.home)?;
        }
        targets.push((container, home));
    }
    let list = names.join(", ");
    let homes: Vec<String> = targets.iter().filter_map(|(_, h)| h.as_ref()).map(|h| h.display().to_string()).collect();
    let question = if homes.is_empty() {
        format!("Remove {list}, its exports, snapshots and services? Your home and files stay.")
    } else {
        format!(
            "Remove {list}, its exports, snapshots and services, and DELETE the box's own home {} with everything in it? \
             Your home and other files stay.",
            homes.join(", ")
        )
    };
    ctx.printer.agree(args.yes, &question, Unanswered::GoAhead, "nothing was removed")?;
    for (container, home) in targets {
        let name = container.name.clone();
        let spinner = ctx.printer.spinner(format!("removing {name}"));
        let removed = boxes.remove(&name);
        spinner.finish();
        finish_removal(ctx, &name, removed?);
        if let Some(home) = home {
            // Checked again right before: the directory may have changed since.
            check_own_home(&home, &name, &ctx.paths.home)?;
            std::fs::remove_dir_all(&home).map_err(|e| Error::io(&home, e))?;
            ctx.printer.status(format!("deleted {name}'s own home {}", home.display()));
        }
        ctx.printer.status(format!("removed {name}"));
    }
    Ok(0)
}

/// After `runtime::Boxes::remove` (container, state, exports, snapshots),
/// the rest of removing box `name` the one way `tent rm`, `tent apply
/// --remove` and `tent ephemeral` share: its systemd units go too, and the
/// user is told what went with the box. What failed beside the box itself
/// is a warning.
pub(super) fn finish_removal(ctx: &Context<'_>, name: &str, removed: Removed) {
    match removed.snapshots {
        Ok(0) => {}
        Ok(n) => ctx.printer.status(format!("removed {n} snapshot(s) of {name}")),
        Err(err) => ctx.printer.warn(format!("snapshots of {name}: {err}")),
    }
    match super::service::remove_units(ctx, name, None, true) {
        Ok(units) if !units.is_empty() => {
            ctx.printer.status(format!("removed {} systemd unit(s) of {name}", units.len()));
        }
        Ok(_) => {}
        Err(err) => ctx.printer.warn(format!("systemd units of {name}: {err}")),
    }
    match removed.exports {
        Ok(files) if !files.is_empty() => {
            ctx.printer.status(format!("removed {} exported file(s) of {name}", files.len()));
        }
        Ok(_) => {}
        Err(err) => ctx.printer.warn(format!("exports of {name}: {err}")),
    }
}
