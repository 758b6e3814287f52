//! Manifests: tent.toml, Distrobox assemble files and devcontainer.json, read as data, planned
//! against the boxes that exist, and recorded as they are applied. Nothing
//! here prints; `commands::apply` talks to the user and carries plans out.

pub(crate) mod apply;
pub(crate) mod devcontainer;
pub(crate) mod distrobox;
pub(crate) mod model;
pub(crate) mod parse;
pub(crate) mod plan;
pub(crate) mod record;
pub(crate) mod render;

use std::path::{Path, PathBuf};

pub(crate) use model::{BinExport, Manifest};
pub(crate) use plan::{Action, Current, Desired, Mode, Record};

use crate::error::{Error, Result};

/// The manifest `tent apply` reads when given none.
pub(crate) const DEFAULT_FILE: &str = "tent.toml";

/// Largest manifest tent reads (hand-written files are a few kilobytes).
pub(crate) const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

/// Reads a manifest: `*.ini` is a Distrobox assemble file, `*.json` a
/// devcontainer.json, anything else tent.toml.
/// The file may sit in the home, where every box can write: it is read
/// bounded, as a regular file only (a FIFO or a link to `/dev/zero` is an error).
pub(crate) fn load(path: &Path) -> Result<Manifest> {
    load_running(path, None)
}

/// [`load`]; a Distrobox file's command substitutions are run by `run` when
/// there is one (`tent apply --run-substitutions`), else they are errors.
pub(crate) fn load_running(path: &Path, run: Option<distrobox::Run<'_>>) -> Result<Manifest> {
    let canonical = canonical(path)?;
    let bytes = crate::files::read_bounded(&canonical, MAX_MANIFEST_BYTES)?
        .ok_or_else(|| Error::io(&canonical, std::io::Error::from(std::io::ErrorKind::NotFound)))?;
    let text = String::from_utf8(bytes).map_err(|_| Error::Manifest {
        message: format!("{}: the manifest is not UTF-8 text", canonical.display()),
        hint: Some("save it as UTF-8".into()),
    })?;
    if distrobox::is_distrobox_file(&canonical) {
        distrobox::parse_running(&canonical, &text, run)
    } else if devcontainer::is_devcontainer_file(&canonical) {
        devcontainer::parse(&canonical, &text)
    } else {
        parse::parse(&canonical, &text)
    }
}

/// The manifest's absolute, symlink-free path: the name boxes remember it by.
pub(crate) fn canonical(path: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Manifest {
                message: format!("no manifest at {}", path.display()),
                hint: Some(
                    "write a tent.toml (see docs/manifest.md), or write one down from a box with `tent manifest NAME > tent.toml`"
                        .into(),
                ),
            }
        } else {
            Error::io(path, e)
        }
    })
}

/// Helpers shared by the manifest parsers' unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::error::Error;

    /// The message and hint of a manifest error; panics on any other error.
    pub fn message(err: Error) -> (String, String) {
        match err {
            Error::Manifest { message, hint } => (message, hint.unwrap_or_default()),
            other => panic!("{other:?}"),
        }
    }
}
