//! Reading one devcontainer.json (`Cx`): typed values with their variables
//! expanded, errors at their place, and notes for the plan, all bounded
//! against a hostile file.

use std::collections::BTreeMap;
use std::path::Path;

use super::super::model::Location;
use super::expand::{self, Problem, Vars};
use super::json::{Json, Node};
use super::lifecycle::Lifecycle;
use crate::error::{Error, Result};

/// Most notes one file gets.
pub(super) const MAX_NOTES: usize = 200;

/// Largest number of named commands in one lifecycle object, of runArgs, mounts …
pub(super) const MAX_ITEMS: usize = 256;

pub(super) struct Cx<'a> {
    pub(super) file: &'a Path,
    pub(super) text: &'a str,
    pub(super) vars: Vars<'a>,
    pub(super) notes: Vec<String>,
    /// How features by reference are fetched.
    pub(super) oci: &'a super::oci::Oci<'a>,
}

impl Cx<'_> {
    pub(super) fn at(&self, offset: usize) -> Location {
        Location::at(self.file, self.text, offset)
    }

    pub(super) fn error(&self, offset: usize, message: impl AsRef<str>, hint: Option<String>) -> Error {
        Error::Manifest { message: format!("{}: {}", self.at(offset), message.as_ref()), hint }
    }

    /// Adds a note; past `MAX_NOTES` one line says the rest were left out
    /// (each note finds its line in the text: a hostile file of a million
    /// unknown keys must not cost a million scans).
    pub(super) fn push(&mut self, offset: usize, note: impl FnOnce(Location) -> String) {
        if self.notes.len() < MAX_NOTES {
            let at = self.at(offset);
            self.notes.push(note(at));
        } else if self.notes.len() == MAX_NOTES {
            self.notes.push(format!("{}: more notes left out", self.file.display()));
        }
    }

    pub(super) fn ignored(&mut self, key: &str, offset: usize, why: impl AsRef<str>) {
        self.push(offset, |at| format!("ignored: {key} ({at}): {}", why.as_ref()));
    }

    pub(super) fn note(&mut self, key: &str, offset: usize, what: impl AsRef<str>) {
        self.push(offset, |at| format!("note: {key} ({at}): {}", what.as_ref()));
    }

    pub(super) fn expected(&self, key: &str, node: &Node, what: &str) -> Error {
        self.error(
            node.at,
            format!("`{key}` must be {what}, not {}", node.value.kind()),
            Some("see the devcontainer.json reference, and docs/manifest.md for what tent does with it".into()),
        )
    }

    /// A string value with its variables expanded.
    pub(super) fn expand(&mut self, key: &str, node: &Node, text: &str) -> Result<String> {
        let mut unknown = Vec::new();
        let value = match expand::expand(text, &self.vars, &mut unknown) {
            Ok(value) => value,
            Err(Problem::TooLong) => {
                return Err(self.error(
                    node.at,
                    format!("`{key}` expands to more than {} bytes", expand::MAX_EXPANDED),
                    Some("shorten the value or the variables it uses".into()),
                ));
            }
            Err(Problem::ContainerEnv(name)) => {
                return Err(self.error(
                    node.at,
                    format!("`{key}` uses ${{containerEnv:{name}}}, which only the image knows"),
                    Some(format!("set {name} in containerEnv, or give a default: ${{containerEnv:{name}:VALUE}}")),
                ));
            }
        };
        for var in unknown {
            self.push(node.at, |at| format!("{at}: unknown variable {} in `{key}` kept as written", short(&var)));
        }
        if value.contains('\0') {
            return Err(self.error(node.at, format!("`{key}` holds a NUL character"), None));
        }
        Ok(value)
    }

    pub(super) fn string(&mut self, key: &str, node: &Node) -> Result<String> {
        match &node.value {
            Json::String(text) => self.expand(key, node, text),
            _ => Err(self.expected(key, node, "a string")),
        }
    }

    pub(super) fn strings(&mut self, key: &str, node: &Node) -> Result<Vec<String>> {
        let Json::Array(items) = &node.value else { return Err(self.expected(key, node, "an array of strings")) };
        if items.len() > MAX_ITEMS {
            return Err(self.error(node.at, format!("`{key}` has more than {MAX_ITEMS} items"), None));
        }
        items.iter().map(|item| self.string(key, item)).collect()
    }

    /// An object of strings (containerEnv, remoteEnv); `null` values are left out.
    pub(super) fn env(&mut self, key: &str, node: &Node) -> Result<BTreeMap<String, String>> {
        let Json::Object(props) = &node.value else { return Err(self.expected(key, node, "an object of strings")) };
        let mut env = BTreeMap::new();
        for (name, value) in props.iter().take(MAX_ITEMS + 1) {
            if env.len() >= MAX_ITEMS {
                return Err(self.error(node.at, format!("`{key}` sets more than {MAX_ITEMS} variables"), None));
            }
            if !valid_env_name(&name.name) {
                return Err(self.error(
                    name.at,
                    format!("`{key}`: {:?} is not a variable name", name.name),
                    Some("names are letters, digits and '_', not starting with a digit".into()),
                ));
            }
            if value.value == Json::Null {
                env.remove(&name.name);
                continue;
            }
            // `"PATH": "${containerEnv:PATH}:/more"` needs the image's value,
            // which tent does not have when it makes the box: that one is noted.
            if let Json::String(text) = &value.value
                && let Err(Problem::ContainerEnv(var)) = expand::expand(text, &self.vars, &mut Vec::new())
            {
                self.ignored(
                    &format!("{key}.{}", name.name),
                    value.at,
                    format!("it uses ${{containerEnv:{var}}}, the image's value, which tent does not know when it makes the box"),
                );
                continue;
            }
            let value = self.string(&format!("{key}.{}", name.name), value)?;
            env.insert(name.name.clone(), value);
        }
        Ok(env)
    }

    /// A lifecycle command: string, array or object of those.
    pub(super) fn lifecycle(&mut self, key: &str, node: &Node, nested: bool) -> Result<Option<Lifecycle>> {
        Ok(match &node.value {
            Json::Null => None,
            Json::String(_) => {
                let text = self.string(key, node)?;
                (!text.trim().is_empty()).then_some(Lifecycle::Shell(text))
            }
            Json::Array(_) => {
                let argv = self.strings(key, node)?;
                (!argv.is_empty()).then_some(Lifecycle::Argv(argv))
            }
            Json::Object(props) if !nested => {
                if props.len() > MAX_ITEMS {
                    return Err(self.error(node.at, format!("`{key}` has more than {MAX_ITEMS} commands"), None));
                }
                let mut named = Vec::new();
                for (name, value) in props {
                    let label = display_name(&name.name);
                    if let Some(command) = self.lifecycle(&format!("{key}.{label}"), value, true)? {
                        named.retain(|(n, _)| n != &label);
                        named.push((label, command));
                    }
                }
                (!named.is_empty()).then_some(Lifecycle::Named(named))
            }
            _ => return Err(self.expected(key, node, "a string, an array of strings or an object of those")),
        })
    }
}

/// A key for messages: a hostile file's 1 MB key is cut.
pub(super) fn short(text: &str) -> String {
    let mut out: String = text.chars().take(64).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

pub(super) fn valid_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A name of a named command, safe in the shell text and the output prefix.
pub(super) fn display_name(name: &str) -> String {
    let name: String =
        short(name).chars().map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) { c } else { '_' }).collect();
    if name.is_empty() { "_".into() } else { name }
}
