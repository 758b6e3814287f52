//! The per-box records of `tent apply`, one JSON file per box under
//! `$XDG_STATE_HOME/tent/manifests/<scope>/<box>.json`. Each is written right
//! after a step succeeds, so an interrupted apply resumes where it stopped.

use std::path::{Path, PathBuf};

use super::plan::Record;
use crate::error::Result;
use crate::paths::Paths;

pub(crate) fn path(paths: &Paths, scope: impl crate::paths::ScopeKey, name: &str) -> PathBuf {
    paths.manifest_record(scope, name)
}

/// The record of a box, when there is one for this very container.
pub(crate) fn read(file: &Path, container_id: &str) -> Option<Record> {
    let text = crate::files::read_text_bounded(file, 1 << 20)?;
    let record: Record = serde_json::from_str(&text).ok()?;
    same_container(&record.container, container_id).then_some(record)
}

/// Docker's `ps` prints short ids, `inspect` full ones.
fn same_container(a: &str, b: &str) -> bool {
    !a.is_empty() && !b.is_empty() && (a.starts_with(b) || b.starts_with(a))
}

/// Writes the record atomically: a crash leaves the old one or the new one.
pub(crate) fn write(file: &Path, record: &Record) -> Result<()> {
    let text = serde_json::to_string_pretty(record).expect("a record always serializes");
    crate::files::write_atomic(file, text.as_bytes(), 0o644)
}

pub(crate) fn remove(file: &Path) -> Result<()> {
    crate::files::remove_if_present(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_counts_only_for_its_container() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("podman/dev.json");
        let record =
            Record { container: "abcdef123456789".into(), manifest: "/p/tent.toml".into(), ..Default::default() };
        write(&file, &record).unwrap();
        assert_eq!(read(&file, "abcdef123456"), Some(record.clone()));
        assert_eq!(read(&file, "0123"), None, "a new container of the same name starts afresh");
        remove(&file).unwrap();
        remove(&file).unwrap();
        assert_eq!(read(&file, "abcdef123456"), None);
    }
}
