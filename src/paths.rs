//! Where tent keeps its files on the host. Everything lives in the user's XDG
//! directories; nothing is written anywhere else.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct Paths {
    /// `$XDG_CONFIG_HOME/tent`
    pub config: PathBuf,
    /// `$XDG_DATA_HOME/tent`: init scripts (versioned), kept while boxes use them.
    pub data: PathBuf,
    /// `$XDG_STATE_HOME/tent`: per-box state (readiness, init log) and export receipts.
    pub state: PathBuf,
    /// `$XDG_DATA_HOME`: the parent of `applications/` and `icons/`.
    pub data_home: PathBuf,
    /// `$XDG_BIN_HOME` or `~/.local/bin`: exported wrappers.
    pub bin: PathBuf,
    pub home: PathBuf,
}

impl Paths {
    pub fn from_env() -> Result<Self> {
        let base = directories::BaseDirs::new().ok_or_else(|| Error::Usage {
            message: "cannot find your home directory".into(),
            hint: Some("set HOME".into()),
        })?;
        let home = base.home_dir().to_path_buf();
        let state_home = base.state_dir().map(Path::to_path_buf).unwrap_or_else(|| home.join(".local/state"));
        let bin = base.executable_dir().map(Path::to_path_buf).unwrap_or_else(|| home.join(".local/bin"));
        Ok(Paths {
            config: base.config_dir().join("tent"),
            data: base.data_dir().join("tent"),
            state: state_home.join("tent"),
            data_home: base.data_dir().to_path_buf(),
            bin,
            home,
        })
    }

    /// `$XDG_CONFIG_HOME` itself (`~/.config`), the parent of tent's own
    /// folder: other programs' configuration lives there (VS Code's, the
    /// user's systemd units).
    pub fn config_home(&self) -> PathBuf {
        self.config.parent().map_or_else(|| self.home.join(".config"), Path::to_path_buf)
    }

    /// The directory of one box's state, shared with the box at `/run/.tent/state`.
    pub fn box_state(&self, scope: &str, name: &str) -> PathBuf {
        self.state.join("boxes").join(scope).join(name)
    }

    /// The export receipt of one box.
    pub fn receipt(&self, scope: &str, name: &str) -> PathBuf {
        self.state.join("exports").join(scope).join(format!("{name}.json"))
    }

    pub fn applications(&self) -> PathBuf {
        self.data_home.join("applications")
    }

    pub fn icons(&self) -> PathBuf {
        self.data_home.join("icons")
    }

    /// Where exported commands go: `export.bin_dir` from the config when set,
    /// else `$XDG_BIN_HOME` or `~/.local/bin`.
    pub fn bin_dir(&self, configured: Option<&Path>) -> PathBuf {
        configured.map_or_else(|| self.bin.clone(), Path::to_path_buf)
    }

    /// The host relay's socket for this state directory: one relay per user
    /// and HOME, in the session's runtime directory (src/relay/). None when
    /// the session has no absolute `$XDG_RUNTIME_DIR`.
    pub fn relay_socket(&self) -> Option<PathBuf> {
        let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).filter(|p| p.is_absolute())?;
        let key = content_key(self.state.as_os_str().as_encoded_bytes());
        Some(runtime.join("tent").join(format!("relay-{key:016x}.sock")))
    }
}

/// FNV-1a, 64 bits: stable names for things keyed by content. By hand: it
/// must stay the same across builds and Rust versions, which std's hasher
/// does not promise, and a crate for eight lines is not worth it.
pub fn content_key(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
