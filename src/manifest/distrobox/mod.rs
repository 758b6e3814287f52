//! Reading Distrobox assemble files (`distrobox.ini`) as data.
//!
//! Distrobox 1 sources these files through the host's shell, so
//! `image=$(cmd)` runs on the host; Distrobox 2 reads them with an ini
//! library. tent reads them as data and gives the effects people rely on
//! (see docs/manifest.md): variables and `~` expand from the
//! environment and Distrobox's config files, never through a shell; anything
//! that would run a program is an error; only the hooks run, inside the box.
//!
//! The work is in four steps, one module each: `syntax` (lines, quotes,
//! comments), `include` (resolved once per section, bounded), `section` (every
//! key typed, values expanded by the pure `expand`), and `map` (to tent's
//! `BoxEntry`, with an "ignored: …" note for each setting tent cannot honour
//! yet). Unknown keys warn and are skipped, as in Distrobox 2; a malformed
//! line is an error, and then nothing of the file applies.

mod expand;
mod include;
mod map;
mod section;
mod syntax;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

pub(crate) use expand::Run;

use super::model::{Location, Manifest};
use crate::error::{Error, Result};

/// The keys of Distrobox's documentation (distrobox-assemble(1), 1.8 and 2.0),
/// and `volumes`, which Distrobox 2 accepts for `volume`.
pub(crate) const KEYS: &[&str] = &[
    "image",
    "clone",
    "home",
    "hostname",
    "init",
    "entry",
    "nvidia",
    "root",
    "pull",
    "replace",
    "start_now",
    "volume",
    "volumes",
    "additional_packages",
    "additional_flags",
    "init_hooks",
    "pre_init_hooks",
    "exported_apps",
    "exported_bins",
    "exported_bins_path",
    "include",
    "name",
    "unshare_groups",
    "unshare_ipc",
    "unshare_netns",
    "unshare_process",
    "unshare_devsys",
    "unshare_all",
];

/// Largest Distrobox config file tent reads; a bigger one is skipped.
const MAX_CONFIG_BYTES: u64 = 64 * 1024;

/// Distrobox's config files, most specific first. They are shell for
/// Distrobox; tent reads only their `KEY=VALUE` lines, as data.
const CONFIG_FILES: &[&str] = &["~/.config/distrobox/distrobox.conf", "/etc/distrobox/distrobox.conf"];

/// Parses an assemble file with variables from this process: its
/// environment, `$PWD` as the directory tent runs in, then Distrobox's config
/// files. Command substitutions outside hooks are given by `run` when there
/// is one (`tent apply --run-substitutions`), errors otherwise.
pub(crate) fn parse_running(path: &Path, text: &str, run: Option<Run<'_>>) -> Result<Manifest> {
    let home = std::env::var("HOME").unwrap_or_default();
    let configs: Vec<HashMap<String, String>> = CONFIG_FILES
        .iter()
        .map(|f| match f.strip_prefix("~/") {
            Some(rest) if !home.is_empty() => PathBuf::from(&home).join(rest),
            _ => PathBuf::from(f),
        })
        // ~/.config is writable by every box: read as a stranger's file.
        .filter_map(|f| crate::files::read_text_bounded(&f, MAX_CONFIG_BYTES))
        .map(|text| config_vars(&text))
        .collect();
    let cwd = std::env::current_dir().ok().map(|d| d.to_string_lossy().into_owned());
    let lookup = |name: &str| -> Option<String> {
        if name == "PWD"
            && let Some(cwd) = &cwd
        {
            return Some(cwd.clone());
        }
        std::env::var(name).ok().or_else(|| configs.iter().find_map(|c| c.get(name).cloned()))
    };
    parse_with_running(path, text, &lookup, run)
}

/// Parses an assemble file; `lookup` gives the variables values may use.
#[cfg(test)]
pub fn parse_with(path: &Path, text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Manifest> {
    parse_with_running(path, text, lookup, None)
}

/// [`parse_with`], with command substitutions given by `run` when there is one.
pub(crate) fn parse_with_running(
    path: &Path,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    run: Option<Run<'_>>,
) -> Result<Manifest> {
    let sections = syntax::sections(path, text)?;
    let resolved = include::resolve(&sections)?;
    let mut warnings = Vec::new();
    let mut notes = Vec::new();
    let mut boxes = Vec::new();
    let mut budget = section::MAX_FILE_TEXT;
    for (raw, entries) in sections.iter().zip(&resolved) {
        let section = section::build(&raw.name, &raw.at, entries, lookup, run, &mut warnings, &mut budget)?;
        boxes.push(map::to_box(&section, path, &mut notes));
    }
    // A section included by others is read once per includer: say things once.
    let mut seen = BTreeSet::new();
    warnings.extend(notes);
    warnings.retain(|w| seen.insert(w.clone()));
    Ok(Manifest {
        path: path.to_path_buf(),
        boxes,
        warnings,
        host_commands: Vec::new(),
        builds: Vec::new(),
        compose: Vec::new(),
    })
}

/// The `KEY=VALUE` lines of a Distrobox config file (also `export KEY=VALUE`),
/// quotes stripped. Values that use shell beyond that are left out.
fn config_vars(text: &str) -> HashMap<String, String> {
    let mut vars = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        let line = line.strip_prefix("export ").unwrap_or(line).trim();
        let Some((key, value)) = line.split_once('=') else { continue };
        let key = key.trim();
        if line.starts_with('#') || key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let value = value.trim();
        let value = ['"', '\''].iter().find_map(|q| value.strip_prefix(*q)?.strip_suffix(*q)).unwrap_or(value);
        if value.contains("$(") || value.contains('`') {
            continue;
        }
        vars.insert(key.to_string(), value.to_string());
    }
    vars
}

fn at_error(at: &Location, message: impl AsRef<str>, hint: Option<String>) -> Error {
    Error::Manifest { message: format!("{at}: {}", message.as_ref()), hint }
}

/// Whether a manifest path names a Distrobox assemble file.
pub(crate) fn is_distrobox_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "ini")
}

#[cfg(test)]
mod tests;
