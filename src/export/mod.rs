//! Exports: a box's apps as launchers in the user's menu and its commands as
//! wrappers on PATH, each file marked as tent's and listed in a receipt
//! (docs/exports.md).
//!
//! The pure parts are their own modules: `desktop` (Desktop Entry parsing
//! and rewriting), `wrapper` (the wrapper script), `icons` (reading files out
//! of a box, placing icons), `owner` (markers and who may touch a file) and
//! `receipt` (the record, atomic writes, rollback), `names` (the launchers'
//! file names). The operations, which do the I/O, one job per file:
//! `exporter` (the box, and writing and recording an export all or nothing),
//! `bins` (commands), `apps` (apps), `entry` (the box's own launcher),
//! `listing` (list and remove), `host_files` (the files on the host, menus),
//! `checks` (doctor's look), `invoke` (how the files call tent again).
//! Nothing here prints: warnings travel back to the command in the results.

mod apps;
mod bins;
mod checks;
mod desktop;
pub mod entry;
mod exporter;
mod host_files;
pub mod icons;
mod invoke;
mod listing;
mod names;
mod owner;
pub mod receipt;
pub mod wrapper;

pub use checks::{Problem, check_exports};
pub use exporter::{Exporter, Outcome};
pub use invoke::{DEFAULT_NAME_SUFFIX, engine_args, unexport_command};
pub use listing::{Removal, Selector, list, remove_box_exports, unexport};
