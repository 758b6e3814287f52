//! Configuration: command-line flags, then environment variables, then the
//! config file (`$XDG_CONFIG_HOME/tent/config.toml`), resolved once. Nothing
//! below `commands` reads flags or the environment for these settings.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::env_vars;
use crate::error::{Error, Result};

/// The config file's keys (docs/config.md).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `podman`, `docker` or a path to either.
    pub engine: Option<String>,
    /// Default image of `tent create`.
    pub image: Option<String>,
    /// Packages every new box gets at provisioning.
    #[serde(default)]
    pub packages: Vec<String>,
    #[serde(default)]
    pub export: ExportConfig,
    #[serde(default)]
    pub host: HostConfig,
    #[serde(default)]
    pub snapshots: SnapshotsConfig,
    /// The box `tent enter` and `tent run` use when no name is given.
    pub default_box: Option<String>,
    #[serde(default)]
    pub env: EnvConfig,
    #[serde(default)]
    pub entry: EntryConfig,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct EnvConfig {
    /// Host variables passed into every `enter`/`run` besides tent's own list.
    #[serde(default)]
    pub pass: Vec<String>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct EntryConfig {
    /// The host's terminal for `tent entry` launchers, as words before the
    /// command (e.g. "gnome-terminal --"); unset: the desktop's own terminal.
    pub terminal: Option<String>,
}

/// `[host]`: what boxes reach on the host.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// Commands that, in a new box, run on the host instead (a shim each in
    /// the box's /usr/local/bin). Default `["xdg-open"]`.
    pub commands: Option<Vec<String>>,
}

/// The default of `host.commands`.
pub const DEFAULT_HOST_COMMANDS: &[&str] = &["xdg-open"];

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct SnapshotsConfig {
    /// Snapshots kept per box, the newest; default 3 (at least 1).
    pub keep: Option<usize>,
}

/// Snapshots kept per box when the config does not say.
pub const DEFAULT_SNAPSHOTS_KEEP: usize = 3;

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ExportConfig {
    /// Appended to exported apps' names; `{box}` is the box's name. Default " (on {box})".
    pub name_suffix: Option<String>,
    /// Where exported binaries go; default `$XDG_BIN_HOME` or ~/.local/bin.
    pub bin_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub engine: Option<String>,
    pub image: Option<String>,
    pub packages: Vec<String>,
    pub export: ExportConfig,
    /// `host.commands`, or its default.
    pub host_commands: Vec<String>,
    /// `snapshots.keep`: how many snapshots a box keeps (at least 1).
    pub snapshots_keep: usize,
    pub default_box: Option<String>,
    pub env: EnvConfig,
    pub entry: EntryConfig,
    /// The file that was read, if any.
    pub file: Option<PathBuf>,
}

impl Config {
    /// Resolves `--engine` (if given) over TENT_ENGINE over the file.
    pub fn load(config_dir: &Path, engine_flag: Option<String>) -> Result<Self> {
        let path = std::env::var_os(env_vars::TENT_CONFIG)
            .map(PathBuf::from)
            .unwrap_or_else(|| config_dir.join("config.toml"));
        let (file, found) = match std::fs::read_to_string(&path) {
            Ok(text) => (parse(&path, &text)?, true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (ConfigFile::default(), false),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let snapshots_keep = match file.snapshots.keep {
            None => DEFAULT_SNAPSHOTS_KEEP,
            Some(0) => {
                return Err(Error::Config {
                    path,
                    message: "snapshots.keep must be at least 1 (the snapshot just taken)".into(),
                });
            }
            Some(n) => n,
        };
        let env = |key: &str| std::env::var(key).ok().filter(|v| !v.is_empty());
        Ok(Config {
            engine: engine_flag.or_else(|| env(env_vars::TENT_ENGINE)).or(file.engine),
            image: env(env_vars::TENT_IMAGE).or(file.image),
            packages: file.packages,
            export: file.export,
            host_commands: file
                .host
                .commands
                .unwrap_or_else(|| DEFAULT_HOST_COMMANDS.iter().map(|c| c.to_string()).collect()),
            snapshots_keep,
            default_box: file.default_box.filter(|b| !b.is_empty()),
            env: file.env,
            entry: file.entry,
            file: found.then_some(path),
        })
    }
}

pub fn parse(path: &Path, text: &str) -> Result<ConfigFile> {
    toml::from_str(text).map_err(|e| Error::Config { path: path.into(), message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_keys() {
        let file = parse(
            Path::new("c.toml"),
            "engine = \"docker\"\nimage = \"fedora:41\"\npackages = [\"git\"]\n[export]\nname_suffix = \" [{box}]\"\n",
        )
        .unwrap();
        assert_eq!(file.engine.as_deref(), Some("docker"));
        assert_eq!(file.packages, vec!["git"]);
        assert_eq!(file.export.name_suffix.as_deref(), Some(" [{box}]"));
    }

    #[test]
    fn host_commands() {
        let file = parse(Path::new("c.toml"), "[host]\ncommands = [\"xdg-open\", \"flatpak\"]\n").unwrap();
        assert_eq!(file.host.commands.unwrap(), ["xdg-open", "flatpak"]);
        assert!(parse(Path::new("c.toml"), "").unwrap().host.commands.is_none());
    }

    #[test]
    fn between_keys() {
        let file = parse(
            Path::new("c.toml"),
            "default_box = \"dev\"\n[env]\npass = [\"FOO\"]\n[entry]\nterminal = \"gnome-terminal --\"\n",
        )
        .unwrap();
        assert_eq!(file.default_box.as_deref(), Some("dev"));
        assert_eq!(file.env.pass, vec!["FOO"]);
        assert_eq!(file.entry.terminal.as_deref(), Some("gnome-terminal --"));
    }

    #[test]
    fn unknown_keys_name_the_file_and_key() {
        let err = parse(Path::new("/x/config.toml"), "engin = \"podman\"\n").unwrap_err().to_string();
        assert!(err.contains("/x/config.toml"), "{err}");
        assert!(err.contains("engin"), "{err}");
    }

    #[test]
    fn snapshots_keep() {
        let file = parse(Path::new("c.toml"), "[snapshots]\nkeep = 5\n").unwrap();
        assert_eq!(file.snapshots.keep, Some(5));
        assert!(parse(Path::new("c.toml"), "[snapshots]\nkept = 5\n").is_err());
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), "[snapshots]\nkeep = 0\n").unwrap();
        let err = Config::load(dir.path(), None).unwrap_err().to_string();
        assert!(err.contains("snapshots.keep"), "{err}");
        std::fs::write(dir.path().join("config.toml"), "").unwrap();
        assert_eq!(Config::load(dir.path(), None).unwrap().snapshots_keep, DEFAULT_SNAPSHOTS_KEEP);
    }
}
