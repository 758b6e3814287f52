//! `tent doctor`'s look at exports: is the target still in the box, are the
//! files and the tent they run still on the host.

use std::path::Path;

use super::receipt::Export;
use crate::engine::Engine;
use crate::error::Result;

/// A doctor finding about one export.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Problem {
    /// The box no longer exists: remove the export.
    BoxGone,
    /// The binary or desktop file is gone from the box: remove the export.
    TargetGone,
    /// Some written files were deleted on the host: export again.
    FilesMissing,
    /// The tent binary the files run was moved or removed: export again.
    TentMoved,
}

impl Problem {
    /// True when the fix is removing the export, false when exporting it again.
    pub fn fix_is_remove(&self) -> bool {
        matches!(self, Problem::BoxGone | Problem::TargetGone)
    }

    pub fn describe(&self) -> &'static str {
        match self {
            Problem::BoxGone => "its box is gone",
            Problem::TargetGone => "its target is gone from the box",
            Problem::FilesMissing => "some of its files were deleted",
            Problem::TentMoved => "the tent it runs was moved",
        }
    }
}

/// Checks the exports of a box that exists and runs: targets in the box,
/// files and tent on the host.
pub fn check_exports(engine: &Engine, box_name: &str, exports: &[Export]) -> Result<Vec<(Export, Problem)>> {
    let targets: Vec<&str> = exports.iter().map(|e| e.target.as_str()).collect();
    let mut present = vec![true; exports.len()];
    if !targets.is_empty() {
        let script = r#"for t in "$@"; do if [ -e "$t" ]; then echo 1; else echo 0; fi; done"#;
        let argv = crate::engine::argv::exec_sh(box_name, None, script, "sh", &targets);
        let text = engine.capture(&format!("could not check the exports of box {box_name:?}"), &argv)?;
        for (slot, line) in present.iter_mut().zip(text.lines()) {
            *slot = line.trim() == "1";
        }
    }
    Ok(exports
        .iter()
        .zip(present)
        .filter_map(|(e, here)| {
            let problem = if !here {
                Problem::TargetGone
            } else if !Path::new(&e.tent).exists() {
                Problem::TentMoved
            } else if e.files.iter().any(|f| !f.exists()) {
                Problem::FilesMissing
            } else {
                return None;
            };
            Some((e.clone(), problem))
        })
        .collect())
}
