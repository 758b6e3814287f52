//! The file names tent gives the launchers it writes, shared by the code that
//! writes them and the receipt's check that a record names its own files.

/// The launcher of a box's own entry (`tent entry`) in `applications/`.
pub(crate) fn entry_launcher_file_name(box_name: &str) -> String {
    format!("tent-{box_name}.desktop")
}

/// The launcher of an exported app (desktop id `id` in the box).
pub(crate) fn app_launcher_file_name(box_name: &str, id: &str) -> String {
    format!("tent-{box_name}-{id}.desktop")
}
