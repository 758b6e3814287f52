//! What a manifest says, after parsing: boxes with their spec and exports.
//! The same types describe what apply recorded, so plans compare like with like.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::boxes::BoxSpec;

/// A parsed manifest file (tent.toml or a Distrobox assemble file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Manifest {
    /// The canonical path of the file: how boxes remember which manifest made them.
    pub path: PathBuf,
    /// In the order the file lists them.
    pub boxes: Vec<BoxEntry>,
    /// Things read but ignored (harmless Distrobox keys), to show the user.
    pub warnings: Vec<String>,
    /// Commands to run on the host before a box is made (devcontainer.json's
    /// `initializeCommand`): shown in the plan, run only after the user agreed.
    pub host_commands: Vec<super::devcontainer::HostCommand>,
    /// Images to build before their box is made (devcontainer.json's `build`).
    pub builds: Vec<super::devcontainer::ImageBuild>,
    /// Compose services to start before their box is made
    /// (devcontainer.json's `dockerComposeFile`).
    pub compose: Vec<super::devcontainer::ComposeProject>,
}

/// One box of a manifest. Paths are already absolute (`~` and paths relative
/// to the manifest's directory are resolved at parse time).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct BoxEntry {
    pub name: String,
    /// Where the box is defined, for messages.
    pub at: Location,
    /// None: the default image of `tent create` (config, then the host's distro).
    pub image: Option<String>,
    pub packages: Vec<String>,
    pub volumes: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub home: Option<PathBuf>,
    pub mount_home: bool,
    pub hostname: Option<String>,
    /// A rootful box: applied only by `tent --root apply` (or as root).
    pub root: bool,
    pub init_hooks: Vec<String>,
    pub start_hooks: Vec<String>,
    pub pre_init_hooks: Vec<String>,
    /// Run as the user at each `tent enter` (devcontainer.json `postAttachCommand`).
    pub attach_hooks: Vec<String>,
    pub init: bool,
    pub nvidia: bool,
    pub unshare: crate::boxes::spec::Unshare,
    pub engine_args: Vec<String>,
    pub platform: Option<String>,
    pub pull: bool,
    /// `host = false`: the box may not run host commands (`--no-host`).
    pub no_host: bool,
    /// `own_xdg_open = true`: the box keeps its own xdg-open.
    pub own_xdg_open: bool,
    /// `stop_when_idle = "30m"`, in seconds.
    pub stop_when_idle: Option<u64>,
    /// Made as a copy of this box (Distrobox's `clone`) instead of from an image.
    pub clone: Option<String>,
    pub exports: Exports,
    /// Where the box lives when not where tent points (docs/remote.md):
    /// tent.toml's `endpoint` or `connection`, checked as a stranger's input.
    pub endpoint: Option<EndpointKey>,
}

/// tent.toml's `endpoint = "ssh://…"` or `connection = "NAME"`: the engine
/// address or the podman connection (Docker context) that `tent apply`
/// makes the box at, as `tent --url` / `tent --connection` would.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum EndpointKey {
    Url(String),
    Connection(String),
}

impl fmt::Display for EndpointKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointKey::Url(url) => write!(f, "endpoint {url}"),
            EndpointKey::Connection(name) => write!(f, "connection {name}"),
        }
    }
}

impl BoxEntry {
    /// The spec to create the box with. `root` is left to the caller, which
    /// knows the engine's mode.
    pub(crate) fn spec(&self, default_image: &str, manifest: &Path) -> BoxSpec {
        BoxSpec {
            image: self.image.clone().unwrap_or_else(|| default_image.to_string()),
            packages: self.packages.clone(),
            home: self.home.clone(),
            mount_home: self.mount_home,
            volumes: self.volumes.clone(),
            env: self.env.clone(),
            hostname: self.hostname.clone(),
            root: false,
            sudo_nopasswd: false,
            init_hooks: self.init_hooks.clone(),
            start_hooks: self.start_hooks.clone(),
            pre_init_hooks: self.pre_init_hooks.clone(),
            attach_hooks: self.attach_hooks.clone(),
            init: self.init,
            nvidia: self.nvidia,
            unshare: self.unshare,
            engine_args: self.engine_args.clone(),
            platform: self.platform.clone(),
            pull: self.pull,
            no_host: self.no_host,
            own_xdg_open: self.own_xdg_open,
            stop_when_idle: self.stop_when_idle,
            manifest: Some(manifest.to_path_buf()),
        }
    }
}

/// Apps and commands of a box exported to the host.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Exports {
    /// As given to `tent export --app`: a desktop-file id, app name or .desktop path.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub apps: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bins: Vec<BinExport>,
    /// The box's own launcher in the desktop menu (`tent entry`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub entry: bool,
}

/// One exported command: `tent export BOX --bin BIN [--name NAME] [--path DIR]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct BinExport {
    /// Its path in the box, or a command name on the box's PATH.
    pub bin: String,
    /// The exported command's name [default: the binary's file name].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The host directory of the wrapper [default: ~/.local/bin].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

impl BinExport {
    /// The name the command has on the host: what identifies the export.
    pub(crate) fn exported_name(&self) -> &str {
        self.name.as_deref().unwrap_or_else(|| self.bin.rsplit('/').next().unwrap_or(&self.bin))
    }
}

/// A place in a manifest file; line and column count from 1.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl Location {
    /// The location of a byte offset in `text`.
    pub(crate) fn at(file: &Path, text: &str, offset: usize) -> Self {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Location { file: file.to_path_buf(), line, column }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_count_lines_and_characters_from_one() {
        let text = "a = 1\n[box.é]\nimgae = 2\n";
        let at = Location::at(Path::new("t.toml"), text, text.find("imgae").unwrap());
        assert_eq!((at.line, at.column), (3, 1));
        let at = Location::at(Path::new("t.toml"), text, text.find(']').unwrap());
        assert_eq!(at.to_string(), "t.toml:2:7");
    }

    #[test]
    fn a_bin_is_known_by_its_exported_name() {
        let bin = BinExport { bin: "/usr/bin/fdfind".into(), ..Default::default() };
        assert_eq!(bin.exported_name(), "fdfind");
        let bin = BinExport { name: Some("fd".into()), ..bin };
        assert_eq!(bin.exported_name(), "fd");
    }
}
