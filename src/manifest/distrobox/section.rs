//! Every key of a Distrobox section, typed. This is what the file says, in
//! Distrobox's terms, whether or not tent can do it yet; `map` turns it into
//! a tent box. Values are expanded here (see `expand`): a key set earlier in
//! the section is itself a variable for later keys, as in Distrobox 1.

use std::collections::HashMap;

use super::super::model::Location;
use super::super::parse::did_you_mean;

use super::include::Resolved;
use super::syntax::{RawEntry, is_hook};
use super::{KEYS, at_error};
use crate::error::Result;

/// Most bytes one value may have once its variables are expanded.
pub(super) const MAX_VALUE: usize = 64 * 1024;
/// Most bytes all the values of one file may add up to, expanded (a section
/// included by others counts once per includer).
pub(super) const MAX_FILE_TEXT: usize = 1024 * 1024;

/// One value and where it was written. `text` is the expanded value, as the
/// user would recognise it in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Setting<T> {
    pub value: T,
    pub text: String,
    pub at: Location,
}

/// A section of an assemble file: one box.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct DistroboxSection {
    pub name: String,
    pub at: Location,
    pub image: Option<Setting<String>>,
    pub clone: Option<Setting<String>>,
    pub home: Option<Setting<String>>,
    pub hostname: Option<Setting<String>>,
    /// `name=`: Distrobox 2 lets it differ from the section's name.
    pub name_key: Option<Setting<String>>,
    pub init: Option<Setting<bool>>,
    pub entry: Option<Setting<bool>>,
    pub nvidia: Option<Setting<bool>>,
    pub root: Option<Setting<bool>>,
    pub pull: Option<Setting<bool>>,
    pub replace: Option<Setting<bool>>,
    pub start_now: Option<Setting<bool>>,
    pub unshare_groups: Option<Setting<bool>>,
    pub unshare_ipc: Option<Setting<bool>>,
    pub unshare_netns: Option<Setting<bool>>,
    pub unshare_process: Option<Setting<bool>>,
    pub unshare_devsys: Option<Setting<bool>>,
    pub unshare_all: Option<Setting<bool>>,
    /// Words of every `additional_packages` line.
    pub additional_packages: Vec<String>,
    /// Words of every `volume`/`volumes` line: `SRC:DST[:OPTIONS]`.
    pub volumes: Vec<String>,
    /// Each `additional_flags` line, split into engine arguments as
    /// Distrobox's shell would split them (quotes group, backslash escapes),
    /// without running anything.
    pub additional_flags: Vec<Setting<Vec<String>>>,
    /// Hooks, kept verbatim for the box's shell.
    pub init_hooks: Vec<Setting<String>>,
    pub pre_init_hooks: Vec<Setting<String>>,
    pub exported_apps: Vec<String>,
    pub exported_bins: Vec<String>,
    pub exported_bins_path: Option<Setting<String>>,
}

/// Builds the section from its resolved keys. `lookup` gives environment
/// (and Distrobox config) variables; warnings collect unknown keys, unset
/// variables and repeated single-value keys. `budget` is what is left of the
/// file's `MAX_FILE_TEXT`; each value is taken from it.
pub(super) fn build(
    name: &str,
    at: &Location,
    entries: &[Resolved<'_>],
    lookup: &dyn Fn(&str) -> Option<String>,
    run: Option<super::expand::Run<'_>>,
    warnings: &mut Vec<String>,
    budget: &mut usize,
) -> Result<DistroboxSection> {
    let mut s = DistroboxSection { name: name.to_string(), at: at.clone(), ..Default::default() };
    // Keys already set in this section, usable as `$key` by later keys.
    let mut vars: HashMap<String, String> = HashMap::new();
    // Which section set each single-value key, to warn when one section repeats it.
    let mut set_by: HashMap<&str, (&str, usize)> = HashMap::new();
    for r in entries {
        let e = r.entry;
        let key = e.key.as_str();
        if !KEYS.contains(&key) {
            warnings.push(unknown_key(e));
            continue;
        }
        if e.value.is_empty() {
            // Both Distrobox parsers skip a key with an empty value.
            continue;
        }
        let max = MAX_VALUE.min(*budget);
        let text = if is_hook(key) {
            let text = e.text();
            if text.len() > max {
                return Err(too_long(e, key, &super::expand::too_long(e.at.column, max), max));
            }
            text
        } else {
            let var = |n: &str| vars.get(n).cloned().or_else(|| lookup(n));
            let expanded = super::expand::expand_running(&e.value, &var, run, max).map_err(|err| {
                if err.too_long {
                    return too_long(e, key, &err, max);
                }
                at_error(&Location { column: err.col, ..e.at.clone() }, format!("`{key}`: {}", err.message), None)
            })?;
            for (var, col) in &expanded.unset {
                warnings.push(format!(
                    "{}: ${var} is not set: it expands to nothing in `{key}`",
                    Location { column: *col, ..e.at.clone() }
                ));
            }
            expanded.text
        };
        *budget -= text.len();
        vars.insert(key.to_string(), text.clone());
        if is_single(key)
            && let Some((from, line)) = set_by.insert(key, (r.from, e.at.line))
            && from == r.from
        {
            warnings.push(format!(
                "{}: `{key}` is set again (also at line {line}): the last value, {text:?}, is used",
                e.at
            ));
        }
        let words = || text.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        let flag = || -> Result<Option<Setting<bool>>> { Ok(Some(setting(&text, e, boolean(e, &text)?))) };
        match key {
            "image" => s.image = nonempty(setting(&text, e, text.clone())),
            "clone" => s.clone = nonempty(setting(&text, e, text.clone())),
            "home" => s.home = nonempty(setting(&text, e, text.clone())),
            "hostname" => s.hostname = nonempty(setting(&text, e, text.clone())),
            "name" => s.name_key = nonempty(setting(&text, e, text.clone())),
            "exported_bins_path" => s.exported_bins_path = nonempty(setting(&text, e, text.clone())),
            "init" => s.init = flag()?,
            // Distrobox 1 makes a launcher only for `true`; anything else
            // (a path, say) is not an error there, so not here either.
            "entry" => {
                s.entry = match boolean(e, &text) {
                    Ok(on) => Some(setting(&text, e, on)),
                    Err(_) => {
                        warnings.push(format!(
                            "{}: `entry` is {text:?}, not true or false: read as false (no launcher), as Distrobox does",
                            e.at
                        ));
                        Some(setting(&text, e, false))
                    }
                }
            }
            "nvidia" => s.nvidia = flag()?,
            "root" => s.root = flag()?,
            "pull" => s.pull = flag()?,
            "replace" => s.replace = flag()?,
            "start_now" => s.start_now = flag()?,
            "unshare_groups" => s.unshare_groups = flag()?,
            "unshare_ipc" => s.unshare_ipc = flag()?,
            "unshare_netns" => s.unshare_netns = flag()?,
            "unshare_process" => s.unshare_process = flag()?,
            "unshare_devsys" => s.unshare_devsys = flag()?,
            "unshare_all" => s.unshare_all = flag()?,
            "additional_packages" => s.additional_packages.extend(words()),
            "volume" | "volumes" => s.volumes.extend(words()),
            "additional_flags" => {
                let value =
                    shell_words(&text).map_err(|m| at_error(&e.at, format!("`additional_flags`: {m}"), None))?;
                s.additional_flags.push(setting(&text, e, value));
            }
            "init_hooks" => s.init_hooks.push(setting(&text, e, text.clone())),
            "pre_init_hooks" => s.pre_init_hooks.push(setting(&text, e, text.clone())),
            "exported_apps" => s.exported_apps.extend(words()),
            "exported_bins" => s.exported_bins.extend(words()),
            other => unreachable!("{other} is in KEYS but not typed"),
        }
    }
    Ok(s)
}

/// A value past `max`: the value's own limit, or what was left of the file's.
fn too_long(e: &RawEntry, key: &str, err: &super::expand::ExpandError, max: usize) -> crate::error::Error {
    let at = Location { column: err.col, ..e.at.clone() };
    if max < MAX_VALUE {
        at_error(
            &at,
            format!(
                "`{key}`: the values of this file add up to more than {MAX_FILE_TEXT} bytes once expanded \
                 (a section counts again for each section that includes it)"
            ),
            Some("write shorter values, or include big sections in fewer places".into()),
        )
    } else {
        at_error(
            &at,
            format!("`{key}`: {}", err.message),
            Some(format!("write the value out, or use variables that do not repeat it (at most {MAX_VALUE} bytes)")),
        )
    }
}

fn setting<T>(text: &str, e: &RawEntry, value: T) -> Setting<T> {
    Setting { value, text: text.to_string(), at: e.at.clone() }
}

/// Keys that hold one value; every other key adds up when repeated.
fn is_single(key: &str) -> bool {
    !matches!(
        key,
        "additional_packages"
            | "volume"
            | "volumes"
            | "additional_flags"
            | "init_hooks"
            | "pre_init_hooks"
            | "exported_apps"
            | "exported_bins"
    )
}

/// A value that expanded to nothing counts as not set, as in Distrobox.
fn nonempty(s: Setting<String>) -> Option<Setting<String>> {
    (!s.value.trim().is_empty()).then_some(s)
}

fn unknown_key(e: &RawEntry) -> String {
    // Names people reach for that are not Distrobox keys, with what they mean.
    let alias = match e.key.as_str() {
        "container_name" | "container" | "box" => Some("the box's name is its section's [NAME]".to_string()),
        "packages" | "package" => Some("did you mean `additional_packages`?".to_string()),
        "env" | "environment" => {
            Some("Distrobox has no env key; it is usually passed as additional_flags=\"--env K=V\"".to_string())
        }
        _ => None,
    };
    let hint = alias.or_else(|| did_you_mean(&e.key, KEYS).map(|k| format!("did you mean `{k}`?")));
    let mut w = format!("{}: unknown key `{}` is ignored", e.at, e.key);
    if let Some(hint) = hint {
        w.push_str(&format!(" ({hint})"));
    }
    w
}

fn boolean(e: &RawEntry, text: &str) -> Result<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => {
            let col = e.value.first().map_or(e.at.column, |ch| ch.col);
            Err(at_error(
                &Location { column: col, ..e.at.clone() },
                format!("`{}` must be true or false (or 1 or 0), not {text:?}", e.key),
                None,
            ))
        }
    }
}

/// Splits engine flags into words as a POSIX shell would (single and double
/// quotes group, a backslash escapes), as data: nothing is expanded or run.
pub(super) fn shell_words(text: &str) -> std::result::Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err("a ' quote is not closed".into()),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err("a \" quote is not closed".into()),
                        },
                        Some(c) => w.push(c),
                        None => return Err("a \" quote is not closed".into()),
                    }
                }
            }
            '\\' => {
                let w = word.get_or_insert_with(String::new);
                if let Some(c) = chars.next() {
                    w.push(c);
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}
