//! Features as init hooks: local ones (`"./name": { options }`) from the
//! project, features by OCI reference from tent's cache (`oci`).

use std::collections::BTreeMap;
use std::path::Path;

use super::super::parse::resolve_path;
use super::json::{Json, Key, Node};
use super::reader::{Cx, MAX_ITEMS, display_name, short};
use crate::error::Result;
use crate::shell::quote;

/// Largest install.sh of a local feature: its text goes into the box's hook
/// (for a rootful box, into the container's configuration).
const MAX_FEATURE_SCRIPT: u64 = 96 * 1024;
/// Largest devcontainer-feature.json.
const MAX_FEATURE_JSON: u64 = 256 * 1024;

/// Local features (`"./name": { options }`), as init hooks run as root before
/// onCreateCommand, in the file's order (or `overrideFeatureInstallOrder`'s).
/// Each hook holds the text of the feature's install.sh as tent read it
/// (bounded, not through a link), so a box never runs a later edit of a file
/// the plan did not show; it runs in the feature's folder with the options
/// as environment variables, as the devcontainers CLI gives them. Features
/// by reference are fetched with skopeo first (`oci`), or refused with why.
pub(super) fn features(cx: &mut Cx<'_>, node: &Node, order: &[String]) -> Result<Vec<String>> {
    let Json::Object(props) = &node.value else { return Err(cx.expected("features", node, "an object")) };
    if props.len() > MAX_ITEMS {
        return Err(cx.error(node.at, format!("`features` lists more than {MAX_ITEMS}"), None));
    }
    let mut listed: Vec<&(Key, Node)> = props.iter().collect();
    // overrideFeatureInstallOrder first, in its order; the rest as written.
    listed.sort_by_key(|(k, _)| order.iter().position(|o| *o == k.name).unwrap_or(usize::MAX));
    let dir = cx.file.parent().unwrap_or(Path::new("/")).to_path_buf();
    let mut hooks = Vec::new();
    for (key, options) in listed {
        let id = short(&key.name);
        let local = key.name.starts_with("./") || key.name.starts_with("../");
        let folder = if local {
            let folder = resolve_path(&key.name, cx.file);
            if !folder.starts_with(&dir) {
                return Err(cx.error(
                    key.at,
                    format!("feature {id:?} is outside {}", dir.display()),
                    Some("local features live in the folder of the devcontainer.json".into()),
                ));
            }
            folder
        } else {
            // By reference: fetched into tent's cache (or found there).
            super::oci::feature_folder(cx, key)?
        };
        let read = |cx: &Cx<'_>, file: &str, limit: u64| -> Result<Vec<u8>> {
            let path = folder.join(file);
            match crate::files::read_bounded(&path, limit) {
                Ok(Some(bytes)) => Ok(bytes),
                Ok(None) => Err(cx.error(key.at, format!("feature {id:?} has no {file}"), None)),
                Err(e) => Err(cx.error(
                    key.at,
                    format!("feature {id:?}: cannot read {file}: {e}"),
                    Some(format!("it must be a regular file (not a link) of at most {} KiB", limit / 1024)),
                )),
            }
        };
        // The feature's own metadata: its options' defaults.
        let meta = read(cx, "devcontainer-feature.json", MAX_FEATURE_JSON)?;
        let meta_file = folder.join("devcontainer-feature.json");
        let meta_text = String::from_utf8(meta)
            .map_err(|_| cx.error(key.at, format!("feature {id:?}: devcontainer-feature.json is not UTF-8"), None))?;
        let meta = super::json::parse(&meta_file, &meta_text)?;
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        if let Json::Object(fields) = &meta.value
            && let Some((_, Node { value: Json::Object(opts), .. })) = fields.iter().find(|(k, _)| k.name == "options")
        {
            for (name, spec) in opts.iter().take(MAX_ITEMS) {
                if let Json::Object(spec) = &spec.value
                    && let Some((_, default)) = spec.iter().find(|(k, _)| k.name == "default")
                    && let Some(value) = scalar(&default.value)
                {
                    env.insert(option_variable(&name.name), value);
                }
            }
        }
        // The user's options over the defaults; a string alone is `version`.
        match &options.value {
            Json::Object(given) => {
                for (name, value) in given.iter().take(MAX_ITEMS) {
                    let text = match &value.value {
                        Json::String(_) => cx.string(&format!("features.{id}.{}", short(&name.name)), value)?,
                        other => scalar(other).ok_or_else(|| {
                            cx.expected(&format!("features.{id}.{}", short(&name.name)), value, "a string or a boolean")
                        })?,
                    };
                    env.insert(option_variable(&name.name), text);
                }
            }
            Json::String(_) => {
                let version = cx.string(&format!("features.{id}"), options)?;
                env.insert("VERSION".into(), version);
            }
            Json::Bool(_) | Json::Null => {}
            _ => return Err(cx.expected(&format!("features.{id}"), options, "an object of options")),
        }
        let script = read(cx, "install.sh", MAX_FEATURE_SCRIPT)?;
        let script = String::from_utf8(script)
            .map_err(|_| cx.error(key.at, format!("feature {id:?}: install.sh is not UTF-8"), None))?;
        if script.contains('\0') {
            return Err(cx.error(key.at, format!("feature {id:?}: install.sh holds a NUL character"), None));
        }
        let label = display_name(&key.name);
        let mut text =
            format!("# devcontainer.json feature {label}\n(\ncd -- {} || exit 1\n", quote(&folder.to_string_lossy()));
        for (k, v) in &env {
            text.push_str(&format!("export {k}={}\n", quote(v)));
        }
        text.push_str(
            "export _REMOTE_USER=\"$TENT_USER\" _CONTAINER_USER=\"$TENT_USER\" _REMOTE_USER_HOME=\"$TENT_HOME\" _CONTAINER_USER_HOME=\"$TENT_HOME\"\n",
        );
        text.push_str(&format!("exec /bin/sh -c {} install.sh\n", quote(&script)));
        text.push_str(&format!(
            ") || {{ st=$?; echo \"tent: feature {label} failed with status $st\" >&2; exit \"$st\"; }}\n"
        ));
        hooks.push(text);
    }
    Ok(hooks)
}

/// A feature option's value as the install script gets it.
fn scalar(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Bool(b) => Some(b.to_string()),
        Json::Number(n) => Some(n.clone()),
        _ => None,
    }
}

/// An option's environment variable, as the devcontainers CLI names it:
/// upper case, other characters as `_`, never starting with a digit.
fn option_variable(name: &str) -> String {
    let mut var: String =
        short(name).chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    if !var.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        var.insert(0, '_');
    }
    var
}
