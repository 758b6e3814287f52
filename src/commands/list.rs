//! `tent list`: the boxes, as a table or as JSON (docs/json.md).

use serde::Serialize;

use super::Context;
use crate::boxes::snapshot::snapshots_of;
use crate::boxes::{BoxSpec, labels};
use crate::cli::ListArgs;
use crate::engine::json::Container;
use crate::error::Result;
use crate::runtime::other_owner;

/// One box in `tent list --json`. Stable: fields are only ever added.
#[derive(Debug, Serialize)]
pub(super) struct ListEntry {
    pub name: String,
    pub id: String,
    /// `running`, `exited`, `created`, … as the engine says it.
    pub state: String,
    pub status: String,
    pub image: String,
    pub created: String,
    /// `podman`, `podman-root` or `docker`.
    pub engine: String,
    /// Where the box lives: `local` (this machine's store), or the address
    /// of the engine's endpoint (`ssh://…`, `unix://…`; docs/remote.md).
    pub endpoint: String,
    /// True when the box runs as real root on the host.
    pub rootful: bool,
    /// What the box was made with (`tent create` options), when known.
    pub spec: Option<BoxSpec>,
    /// The uid of the user the box was made for, when known.
    pub owner_uid: Option<u32>,
    /// False for another user's box on a shared store (Docker, rootful
    /// podman): tent lists it but never starts, stops or removes it.
    pub yours: bool,
    /// How many snapshots of its system the box has (`tent snapshot`).
    pub snapshots: usize,
    /// True when the engine says the box runs but its process is gone
    /// (`tent rescue`). Told for your boxes on this machine with podman,
    /// whose listing gives the pid; false otherwise.
    pub stuck: bool,
}

pub(super) fn entries(ctx: &Context<'_>, containers: Vec<Container>) -> Vec<ListEntry> {
    let boxes = ctx.boxes();
    let mut list: Vec<ListEntry> = containers
        .into_iter()
        .map(|c| {
            let yours = other_owner(&c).is_none();
            ListEntry {
                spec: BoxSpec::from_label(c.label(labels::SPEC)),
                owner_uid: c.label(labels::UID).and_then(|uid| uid.parse().ok()),
                yours,
                stuck: yours && boxes.stuck_pid(&c.name, &c).is_some(),
                name: c.name,
                id: c.id.chars().take(12).collect(),
                state: c.state,
                status: c.status,
                image: c.image,
                created: c.created,
                engine: ctx.engine.scope().image_key().into(),
                endpoint: ctx.engine.endpoint.describe(),
                rootful: ctx.engine.rootful(),
                snapshots: 0,
            }
        })
        .collect();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    list
}

pub(super) fn run(ctx: &Context<'_>, args: &ListArgs) -> Result<i32> {
    let mut list = entries(ctx, ctx.boxes().list_all()?);
    if args.json {
        // One more engine call, so only for --json: the table stays as fast as `ps`.
        let images = ctx.snapshots().images()?;
        for entry in &mut list {
            entry.snapshots = snapshots_of(&images, ctx.engine.scope(), &entry.name).len();
        }
        ctx.printer.data(serde_json::to_string_pretty(&list).expect("list serializes"));
        return Ok(0);
    }
    if list.is_empty() {
        ctx.printer.status(format!("no boxes on {}; make one with `tent create NAME`", ctx.engine.describe()));
        return Ok(0);
    }
    ctx.printer.data(render_table(&list));
    Ok(0)
}

/// The table; an ENDPOINT column when any box lives elsewhere than here.
pub(super) fn render_table(list: &[ListEntry]) -> String {
    let any_remote = list.iter().any(|e| e.endpoint != "local");
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|e| {
            let mode = if e.rootful { "rootful" } else { "rootless" };
            let status = match (e.yours, e.owner_uid) {
                (true, _) if e.stuck => format!("stuck (`tent rescue {}`)", e.name),
                (true, _) => e.status.clone(),
                (false, Some(uid)) => format!("not yours (uid {uid})"),
                (false, None) => "not yours".into(),
            };
            let mut row =
                vec![e.name.clone(), status, e.image.clone(), e.created.clone(), format!("{} ({mode})", e.engine)];
            if any_remote {
                row.push(e.endpoint.clone());
            }
            row
        })
        .collect();
    if any_remote {
        crate::output::table(&["NAME", "STATUS", "IMAGE", "CREATED", "ENGINE", "ENDPOINT"], &rows)
    } else {
        crate::output::table(&["NAME", "STATUS", "IMAGE", "CREATED", "ENGINE"], &rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_and_marks_rootful() {
        let entry = |name: &str, rootful| ListEntry {
            name: name.into(),
            id: "abc".into(),
            state: "running".into(),
            status: "Up 2 minutes".into(),
            image: "debian:bookworm".into(),
            created: "2026-11-25T22:16:29Z".into(),
            engine: "podman".into(),
            endpoint: "local".into(),
            rootful,
            spec: None,
            owner_uid: Some(1000),
            yours: name != "theirs",
            snapshots: 0,
            stuck: false,
        };
        let table = render_table(&[entry("dev", false), entry("longer-name", true)]);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("NAME         STATUS"), "{table}");
        assert!(lines[1].starts_with("dev          Up 2 minutes"), "{table}");
        assert!(lines[1].ends_with("podman (rootless)"));
        assert!(lines[2].ends_with("podman (rootful)"));
        let table = render_table(&[entry("theirs", true)]);
        assert!(table.contains("not yours (uid 1000)"), "{table}");
        assert!(!table.contains("Up 2 minutes"), "{table}");
        assert!(!table.contains("ENDPOINT"), "{table}");
        let mut far = entry("far", false);
        far.endpoint = "ssh://me@build".into();
        let table = render_table(&[entry("dev", false), far]);
        assert!(table.lines().next().unwrap().ends_with("ENDPOINT"), "{table}");
        assert!(table.lines().nth(1).unwrap().ends_with("local"), "{table}");
        assert!(table.lines().nth(2).unwrap().ends_with("ssh://me@build"), "{table}");
    }
}
