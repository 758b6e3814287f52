//! Removing a box has one meaning (issue 20): `tent rm` and `tent apply
//! --remove` take the container, tent's state, the exports and the snapshots,
//! and leave the same nothing behind.

use std::path::Path;

use crate::engine_tests;
use crate::harness::{BUSYBOX, Engine, Sandbox};
use crate::snapshot::{Images, snapshot_images};

engine_tests!(rm_and_apply_remove_leave_the_same_nothing);

/// Every file or folder under `dir` whose name holds `name`, but the empty
/// lock files (`locks/`): they stay on purpose, as removing a lock file
/// another tent may hold would let two take "the same" lock.
fn named_after(dir: &Path, name: &str, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if entry.file_name() == "locks" {
            continue;
        }
        if entry.file_name().to_string_lossy().contains(name) {
            found.push(path.display().to_string());
        }
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            named_after(&path, name, found);
        }
    }
}

/// What tent still keeps of box `name` (its exported command is `bin`): the
/// container, snapshot images, the wrapper, and any file in the home named
/// after the box (its state folder, export receipts, apply's record).
fn left_of(sb: &Sandbox, name: &str, bin: &str) -> Vec<String> {
    let mut left = Vec::new();
    if sb.engine_cmd(&["container", "inspect", name]).output().code == Some(0) {
        left.push(format!("the container {name}"));
    }
    left.extend(snapshot_images(sb, name).into_iter().map(|i| format!("the snapshot image {i}")));
    if sb.home.join(".local/bin").join(bin).exists() {
        left.push(format!("the wrapper {bin}"));
    }
    named_after(&sb.home, name, &mut left);
    left
}

/// Gives a box an export and a snapshot, and checks they are there (so the
/// removal has something to take).
fn furnish(sb: &Sandbox, name: &str, bin: &str) {
    sb.tent(&["export", name, "--bin", "/bin/sh", "--name", bin]).ok();
    sb.tent(&["snapshot", name, "before"]).ok();
    let left = left_of(sb, name, bin);
    assert!(left.iter().any(|l| l.starts_with("the snapshot image")), "a snapshot to remove: {left:?}");
    assert!(left.iter().any(|l| l == &format!("the wrapper {bin}")), "an export to remove: {left:?}");
    assert!(left.iter().any(|l| l.contains("/boxes/")), "a state folder to remove: {left:?}");
}

/// A box removed with `tent rm` and one removed through its manifest (both
/// made by `tent apply`), each
/// with an export and a snapshot: nothing of either stays.
fn rm_and_apply_remove_leave_the_same_nothing(engine: Engine) {
    let sb = Sandbox::new(engine);
    // Both made by apply, so `tent rm` must also take apply's record.
    let by_rm = sb.name("rmd");
    let by_apply = sb.name("applied");
    let _images = Images { sb: &sb, boxes: vec![by_rm.clone(), by_apply.clone()] };
    std::fs::write(sb.home.join("tent.toml"), format!("[box.{by_apply}]\nimage = \"{BUSYBOX}\"\n")).unwrap();
    std::fs::write(sb.home.join("other.toml"), format!("[box.{by_rm}]\nimage = \"{BUSYBOX}\"\n")).unwrap();
    sb.tent(&["apply", "tent.toml", "--yes"]).ok();
    sb.tent(&["apply", "other.toml", "--yes"]).ok();
    assert!(left_of(&sb, &by_rm, "none").iter().any(|l| l.contains("/manifests/")), "apply's record of {by_rm}");
    furnish(&sb, &by_rm, "via-rm");
    furnish(&sb, &by_apply, "via-apply");

    let rm = sb.tent(&["rm", &by_rm, "--force", "--yes"]).ok();
    let apply = sb.tent(&["apply", "tent.toml", "--remove", "--yes"]).ok();

    assert_eq!(left_of(&sb, &by_rm, "via-rm"), Vec::<String>::new(), "after tent rm: {}", rm.describe());
    assert_eq!(
        left_of(&sb, &by_apply, "via-apply"),
        Vec::<String>::new(),
        "after tent apply --remove: {}",
        apply.describe()
    );
    // Both say what they took with the box.
    for (out, name) in [(&rm, &by_rm), (&apply, &by_apply)] {
        assert!(out.stderr.contains(&format!("removed 1 snapshot(s) of {name}")), "{}", out.describe());
        assert!(out.stderr.contains(&format!("removed 1 exported file(s) of {name}")), "{}", out.describe());
    }
}
