//! Ownership of exported files: the marker every text file tent writes
//! carries, and the rules for when tent may replace or remove a file. Pure:
//! decisions are made on bytes the caller read.
//!
//! A file is tent's to touch only when tent can tell it wrote it for this
//! box: text files (launchers, wrappers) by their marker, icons (binary) by
//! their `tent-<box>-` name. Removal also needs the file to be in the box's
//! receipt, so a file the user replaced, or one of another box, stays.

use std::path::Path;

/// The machine-readable marker line's prefix.
const MARKER_PREFIX: &str = "# tent-export: ";

/// The comment lines put near the top of every text file tent writes.
pub(super) fn marker_lines(box_name: &str, scope: crate::engine::Scope, unexport: &str) -> Vec<String> {
    vec![
        format!("# Exported by tent from box \"{box_name}\" ({scope}); remove with: {unexport}"),
        format!("{MARKER_PREFIX}box={box_name} scope={scope}"),
    ]
}

/// The `(box, scope)` a file's marker names, read from its first lines.
pub(super) fn read_marker(bytes: &[u8]) -> Option<(String, String)> {
    let head = &bytes[..bytes.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    text.lines().take(20).find_map(|line| {
        let rest = line.strip_prefix(MARKER_PREFIX)?;
        let mut box_name = None;
        let mut scope = None;
        for field in rest.split_whitespace() {
            match field.split_once('=') {
                Some(("box", v)) => box_name = Some(v.to_string()),
                Some(("scope", v)) => scope = Some(v.to_string()),
                _ => {}
            }
        }
        Some((box_name?, scope?))
    })
}

/// The prefix of every icon file name exported from a box.
pub(super) fn icon_prefix(box_name: &str) -> String {
    format!("tent-{box_name}-")
}

/// Whether an existing file may be replaced or removed as this box's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Nothing is there.
    Free,
    /// tent wrote it for this box.
    Ours,
    /// Someone else's: the user's, another box's, or one the user replaced.
    NotOurs,
}

/// What is at the path, as the caller found it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Existing<'a> {
    Missing,
    /// A regular file and its content.
    File(&'a [u8]),
    /// A directory, symlink or other non-file: never tent's.
    Other,
}

/// Decides whether `path` may be written or removed for `box_name` in `scope`.
/// `recorded`: the path is in this box's receipt.
pub(super) fn verdict(
    path: &Path,
    existing: Existing<'_>,
    recorded: bool,
    box_name: &str,
    scope: crate::engine::Scope,
) -> Verdict {
    let bytes = match existing {
        Existing::Missing => return Verdict::Free,
        Existing::Other => return Verdict::NotOurs,
        Existing::File(bytes) => bytes,
    };
    if let Some((b, s)) = read_marker(bytes) {
        return if b == box_name && s == scope.key() { Verdict::Ours } else { Verdict::NotOurs };
    }
    // No marker: only an icon tent named and recorded for this box is ours.
    let named = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(&icon_prefix(box_name)) && is_icon_name(n));
    if recorded && named { Verdict::Ours } else { Verdict::NotOurs }
}

fn is_icon_name(name: &str) -> bool {
    [".png", ".svg", ".svgz", ".xpm"].iter().any(|ext| name.ends_with(ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_round_trips() {
        let lines = marker_lines("dev", crate::engine::Scope::Podman, "tent unexport dev --bin rg").join("\n");
        let text = format!("#!/bin/sh\n{lines}\necho hi\n");
        assert_eq!(read_marker(text.as_bytes()), Some(("dev".into(), "podman".into())));
        assert_eq!(read_marker(b"#!/bin/sh\necho hi\n"), None);
    }

    #[test]
    fn text_files_are_ours_by_marker_only() {
        let ours = format!("#!/bin/sh\n{}\n", marker_lines("dev", crate::engine::Scope::Podman, "x").join("\n"));
        let other_box = format!("#!/bin/sh\n{}\n", marker_lines("web", crate::engine::Scope::Podman, "x").join("\n"));
        let other_scope = format!("#!/bin/sh\n{}\n", marker_lines("dev", crate::engine::Scope::Docker, "x").join("\n"));
        let p = Path::new("/h/.local/bin/rg");
        assert_eq!(
            verdict(p, Existing::File(ours.as_bytes()), true, "dev", crate::engine::Scope::Podman),
            Verdict::Ours
        );
        assert_eq!(
            verdict(p, Existing::File(ours.as_bytes()), false, "dev", crate::engine::Scope::Podman),
            Verdict::Ours
        );
        assert_eq!(
            verdict(p, Existing::File(other_box.as_bytes()), true, "dev", crate::engine::Scope::Podman),
            Verdict::NotOurs
        );
        assert_eq!(
            verdict(p, Existing::File(other_scope.as_bytes()), true, "dev", crate::engine::Scope::Podman),
            Verdict::NotOurs
        );
        // Recorded, but the user put their own script there since.
        assert_eq!(
            verdict(p, Existing::File(b"#!/bin/sh\nmine\n"), true, "dev", crate::engine::Scope::Podman),
            Verdict::NotOurs
        );
        assert_eq!(verdict(p, Existing::Missing, false, "dev", crate::engine::Scope::Podman), Verdict::Free);
        assert_eq!(verdict(p, Existing::Other, true, "dev", crate::engine::Scope::Podman), Verdict::NotOurs);
    }

    #[test]
    fn icons_are_ours_by_name_and_receipt() {
        let icon = Path::new("/h/.local/share/icons/hicolor/48x48/apps/tent-dev-xterm.png");
        let png = b"\x89PNG\r\n\x1a\n";
        assert_eq!(verdict(icon, Existing::File(png), true, "dev", crate::engine::Scope::Podman), Verdict::Ours);
        assert_eq!(verdict(icon, Existing::File(png), false, "dev", crate::engine::Scope::Podman), Verdict::NotOurs);
        let users = Path::new("/h/.local/share/icons/hicolor/48x48/apps/xterm.png");
        assert_eq!(verdict(users, Existing::File(png), true, "dev", crate::engine::Scope::Podman), Verdict::NotOurs);
        // Box "de" must not claim box "dev"'s icons... and vice versa by prefix.
        assert_eq!(verdict(icon, Existing::File(png), true, "de", crate::engine::Scope::Podman), Verdict::NotOurs);
    }
}
