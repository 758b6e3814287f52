//! `tent snapshot`: take, list and delete snapshots of a box's system.

use super::Context;
use crate::boxes::snapshot::{Snapshot, SnapshotKind};
use crate::cli::SnapshotArgs;
use crate::error::Result;

pub(super) fn run(ctx: &Context<'_>, args: &SnapshotArgs) -> Result<i32> {
    let boxes = ctx.boxes();
    let name = args.box_name.as_str();
    boxes.get(name)?;
    if args.list {
        let list = ctx.snapshots().list(name)?;
        if args.json {
            ctx.printer.data(serde_json::to_string_pretty(&list).expect("snapshots serialize"));
        } else if list.is_empty() {
            ctx.printer.status(format!("{name} has no snapshots; take one with `tent snapshot {name}`"));
        } else {
            ctx.printer.data(render_table(&list));
        }
        return Ok(0);
    }
    if let Some(snapshot) = &args.delete {
        let gone = ctx.snapshots().delete(name, snapshot)?;
        ctx.printer.status(format!("deleted snapshot {} of {name}", gone.name));
        return Ok(0);
    }
    let taken = ctx.take_snapshot(name, args.name.as_deref(), SnapshotKind::User)?;
    ctx.printer.status(format!(
        "took snapshot {} of {name} ({}); go back to it with `tent rollback {name}`",
        taken.name,
        human_size(taken.size)
    ));
    Ok(0)
}

pub(super) fn render_table(list: &[Snapshot]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|s| vec![s.name.clone(), s.created.clone(), human_size(s.size), s.kind.as_str().to_string()])
        .collect();
    crate::output::table(&["NAME", "CREATED", "SIZE", "MADE BY"], &rows)
}

/// Bytes as the engines print them (decimal units).
pub(super) fn human_size(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < units.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", units[unit]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_the_engines() {
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1_985_512), "2.0 MB");
        assert_eq!(human_size(1_200_000_000), "1.2 GB");
    }
}
