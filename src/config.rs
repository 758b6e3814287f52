//! Configuration: command-line flags, then environment variables, then the
//! config files, resolved once. The files are layered: the user's own
//! (`$XDG_CONFIG_HOME/tent/config.toml`) over the system's defaults
//! (`/etc/tent/config.toml`, an admin's) over the distribution's
//! (`/usr/share/tent/config.toml`, a downstream image's such as Bluefin's).
//! Each key set in a later file wins; tables merge key by key. Nothing below
//! `commands` reads flags or the environment for these settings.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::env_vars;
use crate::error::{Error, Result};

/// The config file's keys (docs/config.md).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
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
    /// Volumes every new box gets (`tent create --volume`), before its own.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// A box made without `--home` gets its own home `HOME_PREFIX/NAME`
    /// (Distrobox's `container_home_prefix`); `~/` is your home.
    pub home_prefix: Option<PathBuf>,
    /// New boxes may not run host commands (`tent create --no-host`).
    pub no_host: Option<bool>,
    /// New boxes stop when idle this long (`tent create --stop-when-idle`), e.g. "30m".
    pub stop_when_idle: Option<String>,
    /// How `--root` reaches rootful podman: `sudo` (default), `doas`, `run0`,
    /// with arguments if needed (Distrobox's DBX_SUDO_PROGRAM).
    pub sudo_program: Option<String>,
    /// `tent create --distro NAME`: NAME's image, over tent's catalog
    /// (docs/distros.md); `{release}` takes `--release`.
    #[serde(default)]
    pub distros: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnvConfig {
    /// Host variables passed into every `enter`/`run` besides tent's own list.
    #[serde(default)]
    pub pass: Vec<String>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntryConfig {
    /// The host's terminal for `tent entry` launchers, as words before the
    /// command (e.g. "gnome-terminal --"); unset: the desktop's own terminal.
    pub terminal: Option<String>,
}

/// `[host]`: what boxes reach on the host.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct HostConfig {
    /// Commands that, in a new box, run on the host instead (a shim each in
    /// the box's /usr/local/bin). Default `["xdg-open"]`.
    pub commands: Option<Vec<String>>,
}

/// The default of `host.commands`.
pub(crate) const DEFAULT_HOST_COMMANDS: &[&str] = &["xdg-open"];

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct SnapshotsConfig {
    /// Snapshots kept per box, the newest; default 3 (at least 1).
    pub keep: Option<usize>,
}

/// Snapshots kept per box when the config does not say.
pub(crate) const DEFAULT_SNAPSHOTS_KEEP: usize = 3;

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportConfig {
    /// Appended to exported apps' names; `{box}` is the box's name. Default " (on {box})".
    pub name_suffix: Option<String>,
    /// Where exported binaries go; default `$XDG_BIN_HOME` or ~/.local/bin.
    pub bin_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub(crate) struct Config {
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
    /// `stop_when_idle`: new boxes stop when idle this long (as written, e.g. "30m").
    pub stop_when_idle: Option<String>,
    /// `volumes`: given to every new box.
    pub volumes: Vec<String>,
    /// `home_prefix`, `~/` resolved: new boxes' own homes go in it.
    pub home_prefix: Option<PathBuf>,
    /// `no_host`: new boxes are made as with `--no-host`.
    pub no_host: bool,
    /// `sudo_program`, when set.
    pub sudo_program: Option<String>,
    /// `[distros]`: images pinned to catalog names, every file's merged.
    pub distros: std::collections::BTreeMap<String, String>,
    /// The user's file when it was read.
    pub file: Option<PathBuf>,
}

/// The system's config files, least specific first: the distribution's,
/// then the admin's. `TENT_SYSTEM_CONFIG` (paths separated by `:`) replaces
/// the list, e.g. to build an image's defaults or to test them.
pub(crate) fn system_files() -> Vec<PathBuf> {
    match std::env::var_os(env_vars::TENT_SYSTEM_CONFIG) {
        Some(list) => std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()).collect(),
        None => vec![PathBuf::from("/usr/share/tent/config.toml"), PathBuf::from("/etc/tent/config.toml")],
    }
}

/// Reads the layered files into one: each is checked alone (so an unknown
/// key names its own file), then merged, later files winning key by key.
fn load_layers(files: &[PathBuf]) -> Result<(ConfigFile, Vec<PathBuf>)> {
    let mut merged = toml::Table::new();
    let mut read = Vec::new();
    for path in files {
        // Config files are small; a bigger one is a mistake, not a config.
        // A link (a dotfile manager's) is followed to the file it names,
        // which is then read as any file under the home: bounded, a regular
        // file only, never waiting on a FIFO.
        let text = match crate::files::read_bounded_following(path, 1 << 20) {
            Ok(Some(bytes)) => String::from_utf8(bytes)
                .map_err(|_| Error::Config { path: path.clone(), message: "it is not UTF-8 text".into() })?,
            Ok(None) => continue,
            Err(e) => return Err(e),
        };
        parse(path, &text)?;
        let table: toml::Table =
            toml::from_str(&text).map_err(|e| Error::Config { path: path.clone(), message: e.to_string() })?;
        merge(&mut merged, table);
        read.push(path.clone());
    }
    let file = ConfigFile::deserialize(merged)
        .map_err(|e| Error::Config { path: read.last().cloned().unwrap_or_default(), message: e.to_string() })?;
    Ok((file, read))
}

/// `over` into `base`: tables merge key by key, anything else is replaced.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(value)) => merge(inner, value),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// `~/x` as a path in `home`; other paths as they are.
fn in_home(path: PathBuf, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~"), home) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path,
    }
}

impl Config {
    /// Resolves `--engine` (if given) over TENT_ENGINE over the file.
    pub(crate) fn load(config_dir: &Path, engine_flag: Option<String>) -> Result<Self> {
        let path = std::env::var_os(env_vars::TENT_CONFIG)
            .map(PathBuf::from)
            .unwrap_or_else(|| config_dir.join("config.toml"));
        let mut layers = system_files();
        layers.push(path.clone());
        let (file, read) = load_layers(&layers)?;
        let found = read.last() == Some(&path);
        let home = std::env::var_os("HOME").map(PathBuf::from);
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
            volumes: file.volumes,
            home_prefix: file.home_prefix.map(|p| in_home(p, home.as_deref())),
            no_host: file.no_host.unwrap_or(false),
            stop_when_idle: file.stop_when_idle.filter(|d| !d.trim().is_empty()),
            sudo_program: file.sudo_program.filter(|p| !p.trim().is_empty()),
            distros: file.distros,
            file: found.then_some(path),
        })
    }
}

pub(crate) fn parse(path: &Path, text: &str) -> Result<ConfigFile> {
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
    fn layers_merge_key_by_key_the_users_winning() {
        let dir = tempfile::tempdir().unwrap();
        let vendor = dir.path().join("usr.toml");
        let admin = dir.path().join("etc.toml");
        let user = dir.path().join("user.toml");
        std::fs::write(
            &vendor,
            "image = \"fedora:41\"\npackages = [\"git\"]\nno_host = true\n[export]\nname_suffix = \" (v)\"\n",
        )
        .unwrap();
        std::fs::write(&admin, "home_prefix = \"~/boxes\"\nvolumes = [\"/srv:/srv\"]\n[export]\nbin_dir = \"/b\"\n")
            .unwrap();
        std::fs::write(&user, "image = \"debian:12\"\nno_host = false\n").unwrap();
        let (file, read) =
            load_layers(&[vendor.clone(), dir.path().join("missing.toml"), admin.clone(), user.clone()]).unwrap();
        assert_eq!(read, [vendor, admin, user]);
        assert_eq!(file.image.as_deref(), Some("debian:12"), "the user's file wins");
        assert_eq!(file.packages, ["git"], "a key only the system sets stays");
        assert_eq!(file.no_host, Some(false), "the user can undo a system default");
        assert_eq!(file.volumes, ["/srv:/srv"]);
        assert_eq!(file.export.name_suffix.as_deref(), Some(" (v)"), "tables merge key by key");
        assert_eq!(file.export.bin_dir.as_deref(), Some(Path::new("/b")));
        assert_eq!(in_home(file.home_prefix.unwrap(), Some(Path::new("/home/u"))), Path::new("/home/u/boxes"));
    }

    #[test]
    fn a_bad_system_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let admin = dir.path().join("etc.toml");
        std::fs::write(&admin, "imagee = \"x\"\n").unwrap();
        let err = load_layers(std::slice::from_ref(&admin)).unwrap_err().to_string();
        assert!(err.contains(&admin.display().to_string()) && err.contains("imagee"), "{err}");
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("link.toml")).unwrap();
        assert!(load_layers(&[dir.path().join("link.toml")]).is_err(), "a device is no config");
        let fifo = dir.path().join("fifo.toml");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert!(load_layers(std::slice::from_ref(&fifo)).is_err(), "a FIFO is refused, never waited on");
        // A dotfile manager's link to a real config is followed.
        let real = dir.path().join("dotfiles.toml");
        std::fs::write(&real, "image = \"x:1\"\n").unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("linked.toml")).unwrap();
        let (file, _) = load_layers(&[dir.path().join("linked.toml")]).unwrap();
        assert_eq!(file.image.as_deref(), Some("x:1"));
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
