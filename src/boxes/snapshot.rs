//! What a box's snapshots are: image tags in the engine's own store,
//! `localhost/tent-snapshot/<scope>/<box>:<name>`, with the labels that
//! describe them, and the rules for their names. Taking, deleting and
//! swapping them is `snapshots`; removing them with their box is `runtime`.

use serde::{Deserialize, Serialize};

use crate::engine::Scope;
use crate::engine::json::Image;
use crate::error::{Error, Result};

/// Labels on snapshot images (the container's own labels, `tent.spec`
/// among them, come along with the commit).
pub mod snap_labels {
    pub const BOX: &str = "tent.snapshot.box";
    pub const NAME: &str = "tent.snapshot.name";
    /// Unix seconds.
    pub const TIME: &str = "tent.snapshot.time";
    /// `user`, `upgrade`, `clone`, `save` or `adopt`.
    pub const KIND: &str = "tent.snapshot.kind";
}

/// Tags tent uses for its own bookkeeping start with this; snapshot names may not.
pub const RESERVED_PREFIX: &str = "tent-";
/// The tag that keeps an image a box still runs on after its snapshot was deleted.
pub const IN_USE_PREFIX: &str = "tent-in-use-";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotKind {
    User,
    Upgrade,
    Clone,
    Save,
    /// The system of a Distrobox or Toolbx container `tent adopt` took over.
    Adopt,
    /// The system of a stuck box, kept by `tent rescue`.
    Rescue,
}

impl SnapshotKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotKind::User => "user",
            SnapshotKind::Upgrade => "upgrade",
            SnapshotKind::Clone => "clone",
            SnapshotKind::Save => "save",
            SnapshotKind::Adopt => "adopt",
            SnapshotKind::Rescue => "rescue",
        }
    }

    pub fn parse(value: &str) -> Self {
        match value {
            "upgrade" => SnapshotKind::Upgrade,
            "clone" => SnapshotKind::Clone,
            "save" => SnapshotKind::Save,
            "adopt" => SnapshotKind::Adopt,
            "rescue" => SnapshotKind::Rescue,
            _ => SnapshotKind::User,
        }
    }
}

/// One snapshot, as `tent snapshot BOX --list --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub name: String,
    /// Unix seconds.
    pub time: i64,
    /// RFC 3339, UTC.
    pub created: String,
    /// What made it: `user` (tent snapshot), `upgrade`, `clone`, `save`,
    /// `adopt` or `rescue` (those commands).
    pub kind: SnapshotKind,
    /// Bytes of the image, with the layers it shares with its base image.
    pub size: u64,
    /// The image reference in the engine's store.
    pub image: String,
    #[serde(skip)]
    pub id: String,
}

/// The image repository of a box's snapshots.
pub fn repository(scope: Scope, box_name: &str) -> String {
    format!("localhost/tent-snapshot/{}/{}", scope.image_key(), repo_component(box_name))
}

/// A box name as an image path component: itself when the engines accept
/// it (lowercase, single separators), else `x-` and its bytes in hex, so
/// `Dev` and `dev` never share a repository.
pub fn repo_component(name: &str) -> String {
    if is_repo_component(name) {
        return name.to_string();
    }
    let hex = crate::text::hex(name.as_bytes());
    format!("x-{hex}")
}

/// Docker's grammar: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn is_repo_component(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.is_empty() || !is_alnum_lower(bytes[0]) || !is_alnum_lower(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if is_alnum_lower(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !is_alnum_lower(bytes[i]) {
            i += 1;
        }
        let run = &s[start..i];
        let ok = run == "." || run == "_" || run == "__" || run.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum_lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// A snapshot name is an image tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`, and
/// not one of tent's own (`tent-…`).
pub fn validate_snapshot_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > 128 {
        Some("it is longer than 128 characters")
    } else if !(name.as_bytes()[0].is_ascii_alphanumeric() || name.starts_with('_')) {
        Some("it must start with a letter, a digit or '_'")
    } else if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-') {
        Some("it may only contain letters, digits, '_', '.' and '-'")
    } else if name.starts_with(RESERVED_PREFIX) {
        Some("names starting with \"tent-\" are tent's own")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::usage(
            format!("invalid snapshot name {name:?}: {reason}"),
            Some("leave the name out for one from the time, like 20261201-231700".to_string()),
        )),
        None => Ok(()),
    }
}

/// The name a snapshot gets when none is given: its time, `YYYYMMDD-HHMMSS`,
/// with `upgrade-` in front for the ones `tent upgrade` takes.
pub fn default_name(kind: SnapshotKind, secs: i64) -> String {
    let stamp = crate::engine::json::rfc3339_from_unix(secs);
    let compact: String = stamp[..19].chars().filter(|c| c.is_ascii_digit() || *c == 'T').collect();
    let compact = compact.replace('T', "-");
    match kind {
        SnapshotKind::Upgrade => format!("upgrade-{compact}"),
        SnapshotKind::Rescue => format!("rescue-{compact}"),
        _ => compact,
    }
}

/// The snapshots to drop so at most `keep` are left: the oldest first.
pub fn to_drop(snapshots: &[Snapshot], keep: usize) -> Vec<Snapshot> {
    let mut sorted = snapshots.to_vec();
    sorted.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.name.cmp(&b.name)));
    let excess = sorted.len().saturating_sub(keep.max(1));
    sorted.into_iter().take(excess).collect()
}

/// The snapshots of `box_name` among `images` (newest last).
pub fn snapshots_of(images: &[Image], scope: Scope, box_name: &str) -> Vec<Snapshot> {
    let prefix = format!("{}:", repository(scope, box_name));
    let mut out = Vec::new();
    for image in images {
        for tag in &image.tags {
            let Some(name) = tag.strip_prefix(&prefix) else { continue };
            if name.starts_with(RESERVED_PREFIX) {
                continue;
            }
            let time = image.label(snap_labels::TIME).and_then(|t| t.parse().ok()).unwrap_or(0);
            out.push(Snapshot {
                name: name.to_string(),
                time,
                created: crate::engine::json::rfc3339_from_unix(time),
                kind: SnapshotKind::parse(image.label(snap_labels::KIND).unwrap_or("user")),
                size: image.size,
                image: tag.clone(),
                id: image.id.clone(),
            });
        }
    }
    out.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.name.cmp(&b.name)));
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn snap(name: &str, time: i64) -> Snapshot {
        Snapshot {
            name: name.into(),
            time,
            created: String::new(),
            kind: SnapshotKind::User,
            size: 0,
            image: String::new(),
            id: String::new(),
        }
    }

    #[test]
    fn repositories_are_valid_image_names() {
        assert_eq!(repository(Scope::Podman, "dev"), "localhost/tent-snapshot/podman/dev");
        assert_eq!(repo_component("my-box.2"), "my-box.2");
        assert_eq!(repo_component("a__b"), "a__b");
        assert_eq!(repo_component("Dev"), "x-446576", "uppercase is not allowed in a repository");
        assert_eq!(repo_component("a..b"), "x-612e2e62");
        assert_eq!(repo_component("a___b"), "x-615f5f5f62");
        assert_eq!(repo_component("a-"), "x-612d");
        assert!(is_repo_component("a---b"));
    }

    #[test]
    fn snapshot_names() {
        assert!(validate_snapshot_name("before-upgrade").is_ok());
        assert!(validate_snapshot_name("_x.1").is_ok());
        assert!(validate_snapshot_name("").is_err());
        assert!(validate_snapshot_name("-x").is_err());
        assert!(validate_snapshot_name("a/b").is_err());
        assert!(validate_snapshot_name("tent-in-use-1").is_err(), "tent's own tags are reserved");
        assert!(validate_snapshot_name(&"a".repeat(129)).is_err());
        assert_eq!(default_name(SnapshotKind::User, 1_764_631_020), "20251201-231700");
        assert_eq!(default_name(SnapshotKind::Upgrade, 0), "upgrade-19700101-000000");
        assert_eq!(default_name(SnapshotKind::Rescue, 0), "rescue-19700101-000000");
        assert!(validate_snapshot_name(&default_name(SnapshotKind::User, 1_764_631_020)).is_ok());
    }

    #[test]
    fn every_kind_reads_back_as_itself() {
        use SnapshotKind::*;
        for kind in [User, Upgrade, Clone, Save, Adopt, Rescue] {
            assert_eq!(SnapshotKind::parse(kind.as_str()), kind);
        }
        // A label the box could have written reads as the user's.
        assert_eq!(SnapshotKind::parse("root-please"), User);
    }

    #[test]
    fn retention_drops_the_oldest() {
        let all = vec![snap("c", 30), snap("a", 10), snap("b", 20), snap("d", 40)];
        let names = |v: Vec<Snapshot>| v.into_iter().map(|s| s.name).collect::<Vec<_>>();
        assert_eq!(names(to_drop(&all, 3)), vec!["a"]);
        assert_eq!(names(to_drop(&all, 2)), vec!["a", "b"]);
        assert!(to_drop(&all, 4).is_empty());
        assert_eq!(names(to_drop(&all, 0)), vec!["a", "b", "c"], "the newest is always kept");
    }

    #[test]
    fn snapshots_are_read_from_tags_of_this_box_only() {
        let mut labels = BTreeMap::new();
        labels.insert(snap_labels::TIME.to_string(), "100".to_string());
        labels.insert(snap_labels::KIND.to_string(), "upgrade".to_string());
        let images = vec![Image {
            id: "abc".into(),
            tags: vec![
                "localhost/tent-snapshot/podman/dev:one".into(),
                "localhost/tent-snapshot/podman/dev:tent-in-use-abc".into(),
                "localhost/tent-snapshot/podman/dev2:x".into(),
                "localhost/tent-snapshot/docker/dev:y".into(),
            ],
            size: 7,
            labels,
        }];
        let found = snapshots_of(&images, Scope::Podman, "dev");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "one");
        assert_eq!(found[0].kind, SnapshotKind::Upgrade);
        assert_eq!(found[0].created, "1970-01-01T00:01:40Z");
        assert_eq!(found[0].size, 7);
    }
}
