//! Reading `devcontainer.json` (the Development Containers specification) as
//! a manifest of one box.
//!
//! The file usually comes with a project someone cloned: it is a stranger's
//! input. It is read as data (`json`: JSONC, bounded), variables expand as
//! data (`expand`), and `map` turns every key into a field of `BoxEntry`, a
//! note in the plan ("ignored: … why"), or an error. Nothing runs on the host
//! except `initializeCommand`, and only after the user agreed (`commands::apply`).
//! Lifecycle commands become the box's hooks, run as the user in the box.

mod build;
mod compose;
mod expand;
mod features;
mod json;
mod lifecycle;
mod map;
mod mounts;
mod oci;
mod reader;

use std::path::{Path, PathBuf};

pub(crate) use build::ImageBuild;
pub(crate) use compose::{ComposeProject, tools as compose_tools};
pub(crate) use lifecycle::HostCommand;

use super::model::Manifest;
use crate::error::Result;

/// The keys of the devcontainer.json reference that tent knows about, mapped
/// or noted. Any other key warns, with a "did you mean".
pub(crate) const KEYS: &[&str] = &[
    "$schema",
    "name",
    "image",
    "build",
    "dockerFile",
    "context",
    "dockerComposeFile",
    "service",
    "runServices",
    "workspaceFolder",
    "workspaceMount",
    "mounts",
    "containerEnv",
    "remoteEnv",
    "containerUser",
    "remoteUser",
    "updateRemoteUserUID",
    "userEnvProbe",
    "runArgs",
    "appPort",
    "forwardPorts",
    "portsAttributes",
    "otherPortsAttributes",
    "features",
    "overrideFeatureInstallOrder",
    "hostRequirements",
    "initializeCommand",
    "onCreateCommand",
    "updateContentCommand",
    "postCreateCommand",
    "postStartCommand",
    "postAttachCommand",
    "waitFor",
    "overrideCommand",
    "shutdownAction",
    "customizations",
    "privileged",
    "capAdd",
    "securityOpt",
    "init",
    "secrets",
];

/// Where a project keeps its devcontainer.json, in the order they are looked for.
pub(crate) fn candidates(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for file in [dir.join(".devcontainer/devcontainer.json"), dir.join(".devcontainer.json")] {
        if file.is_file() {
            found.push(file);
        }
    }
    // .devcontainer/NAME/devcontainer.json: one configuration of several.
    if let Ok(entries) = std::fs::read_dir(dir.join(".devcontainer")) {
        let mut named: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("devcontainer.json"))
            .filter(|f| f.is_file())
            .collect();
        named.sort();
        // A folder full of folders is not a project's: look at a sane number.
        named.truncate(100);
        found.extend(named);
    }
    found
}

/// Whether a manifest path names a devcontainer.json (`*.json`, `*.jsonc`).
pub(crate) fn is_devcontainer_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "json" || e == "jsonc")
}

/// The project folder of a devcontainer.json: the folder that holds
/// `.devcontainer/`, or the file's own folder for `.devcontainer.json`.
pub(crate) fn project_folder(file: &Path) -> PathBuf {
    let dir = file.parent().unwrap_or(Path::new("/"));
    let named = |d: &Path| d.file_name().is_some_and(|n| n == ".devcontainer");
    if named(dir) {
        return dir.parent().unwrap_or(dir).to_path_buf();
    }
    if let Some(up) = dir.parent().filter(|up| named(up)) {
        return up.parent().unwrap_or(up).to_path_buf();
    }
    dir.to_path_buf()
}

/// Parses a devcontainer.json with variables from this process's environment.
pub(crate) fn parse(path: &Path, text: &str) -> Result<Manifest> {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/"));
    let env = |name: &str| std::env::var(name).ok();
    parse_with(path, text, &env, &home, &oci::Oci::from_env())
}

/// Parses a devcontainer.json; `env` gives `${localEnv:…}`, `home` is the
/// user's home (a project outside it is mounted into the box), `oci` fetches
/// features by reference.
pub(crate) fn parse_with(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    home: &Path,
    oci: &oci::Oci<'_>,
) -> Result<Manifest> {
    let root = json::parse(path, text)?;
    map::manifest(path, text, &root, env, home, oci)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_compose;
#[cfg(test)]
mod tests_oci;
