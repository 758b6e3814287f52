//! `tent which CMD` (hidden): the boxes that have a command, for the shell's
//! command-not-found handler (shell-integration/). It reads only the command
//! index each box's init keeps in its state directory: no engine is asked and
//! no box is entered, so a mistyped command answers at once.
//!
//! Every box can write the state directory, so its directory names are a
//! stranger's text, printed on the user's terminal by the shell's handler:
//! only valid box names under known scopes are answered (issue 19), and what
//! is printed goes through `output::sanitize` as well.

use std::path::Path;

use crate::cli::WhichArgs;
use crate::error::{Result, exit};
use crate::output::Printer;
use crate::paths::Paths;

/// The index file in a box's state directory (docs/internals.md).
pub(super) const INDEX_FILE: &str = "commands";

#[derive(Debug, PartialEq, Eq, serde::Serialize)]
struct Hit {
    #[serde(rename = "box")]
    box_name: String,
    scope: String,
    /// How to run the command there.
    run: String,
}

pub(super) fn run(paths: &Paths, args: &WhichArgs, printer: &Printer) -> Result<i32> {
    let hits = find(&paths.boxes_root(), &args.command);
    if args.json {
        printer.data(serde_json::to_string_pretty(&hits).expect("hits serialize"));
    } else {
        for hit in &hits {
            let line = format!("{}\t{}\t{}", hit.box_name, hit.scope, hit.run);
            printer.data(crate::output::sanitize(&line));
        }
    }
    Ok(if hits.is_empty() { exit::FAILURE } else { 0 })
}

/// Every box under `boxes_dir` (one directory per scope) whose index lists `command`.
fn find(boxes_dir: &Path, command: &str) -> Vec<Hit> {
    let mut hits = Vec::new();
    if command.is_empty() || command.contains('/') {
        return hits;
    }
    // Sorted by box, then scope, as `on_disk` gives them.
    // A remote endpoint's boxes need its settings, which no file here records.
    for (scope, box_name, dir) in crate::runtime::state::on_disk(boxes_dir).into_iter().filter(|(s, ..)| !s.is_remote())
    {
        let Ok(Some(text)) = crate::files::read_bounded(&dir.join(INDEX_FILE), 8 << 20) else { continue };
        if String::from_utf8_lossy(&text).lines().any(|line| line == command) {
            let run = format!("{} run {box_name} -- {}", scope.tent_command(), crate::shell::quote_if_needed(command));
            hits.push(Hit { box_name, scope: scope.to_string(), run });
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_boxes_by_their_index() {
        let dir = tempfile::tempdir().unwrap();
        let boxes = dir.path();
        for (scope, name, index) in
            [("podman", "dev", "ls\nhello\n"), ("podman-root", "web", "hello\nnginx\n"), ("docker", "x", "ls\n")]
        {
            std::fs::create_dir_all(boxes.join(scope).join(name)).unwrap();
            std::fs::write(boxes.join(scope).join(name).join(INDEX_FILE), index).unwrap();
        }
        std::fs::create_dir_all(boxes.join("podman/noindex")).unwrap();
        let hits = find(boxes, "hello");
        assert_eq!(hits.len(), 2, "{hits:?}");
        assert_eq!(hits[0].box_name, "dev");
        assert_eq!(hits[0].run, "tent run dev -- hello");
        assert_eq!(hits[1].run, "tent --root run web -- hello");
        assert!(find(boxes, "hell").is_empty());
        assert!(find(boxes, "").is_empty());
        assert!(find(boxes, "../x").is_empty());
    }

    #[test]
    fn names_a_box_wrote_are_answered_only_when_they_are_box_names() {
        let dir = tempfile::tempdir().unwrap();
        let boxes = dir.path();
        // What a box can plant in the shared state directory.
        for (scope, name) in [
            ("podman", "evil\u{1b}]0;owned\u{7}"),
            ("podman", "-rf"),
            ("podman", "a\\e[2J"),
            ("podman\u{1b}[31m", "dev"),
            ("docker", "ok"),
        ] {
            std::fs::create_dir_all(boxes.join(scope).join(name)).unwrap();
            std::fs::write(boxes.join(scope).join(name).join(INDEX_FILE), "sl\n").unwrap();
        }
        let hits = find(boxes, "sl");
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].run, "tent --engine docker run ok -- sl");
    }

    #[test]
    fn a_remote_scopes_box_is_never_answered_as_a_local_one() {
        let dir = tempfile::tempdir().unwrap();
        let boxes = dir.path();
        // A remote box has no index here (its state is a tmpfs there); one
        // planted under a remote scope's folder, or one of the same name in a
        // local scope, must not make `tent run NAME` reach the wrong box.
        for (scope, name) in [("podman@0123456789ab", "far"), ("docker@0123456789ab", "far2"), ("podman", "near")] {
            std::fs::create_dir_all(boxes.join(scope).join(name)).unwrap();
            std::fs::write(boxes.join(scope).join(name).join(INDEX_FILE), "rg\n").unwrap();
        }
        let hits = find(boxes, "rg");
        assert_eq!(hits, [Hit { box_name: "near".into(), scope: "podman".into(), run: "tent run near -- rg".into() }]);
    }
}
