//! Where tent keeps its files on the host. Everything lives in the user's XDG
//! directories; nothing is written anywhere else.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// What keys tent's state: the engine's scope (`engine::Scope`), kept typed
/// on its way here (the floor does not import the engine, so a trait).
pub trait ScopeKey {
    /// The scope's folder name: `podman`, `podman-root`, `docker`, `podman@ID`.
    fn scope_key(&self) -> std::borrow::Cow<'static, str>;
}

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

#[cfg(test)]
impl Paths {
    /// Every XDG folder under one scratch directory, for unit tests.
    pub fn under(root: &Path) -> Paths {
        Paths {
            config: root.join("config/tent"),
            data: root.join("data/tent"),
            state: root.join("state/tent"),
            data_home: root.join("data"),
            bin: root.join("bin"),
            home: root.to_path_buf(),
        }
    }
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

    // ---- the layout of tent's state (`$XDG_STATE_HOME/tent`), in one place ----
    //
    //   boxes/SCOPE/NAME/          one box's state, shared with the box
    //   boxes/SCOPE/locks/, journal/   locks and snapshot journals of a scope
    //   exports/SCOPE/NAME.json    export receipts
    //   manifests/SCOPE/NAME.json  what a manifest made
    //   logs/NAME.SCOPE.failed.log the init log of a box that failed to start
    //   endpoints/SCOPE            the address of a remote scope, for humans
    //
    // SCOPE is `podman`, `podman-root`, `docker`, or `ENGINE@ID` for a remote
    // endpoint (`engine::Scope`): a local and a remote box of the same name
    // never share a file.

    /// `boxes/`: every scope's boxes.
    pub fn boxes_root(&self) -> PathBuf {
        self.state.join("boxes")
    }

    /// `boxes/SCOPE`: the boxes of one scope, with its locks and journals.
    pub fn scope_dir(&self, scope: impl ScopeKey) -> PathBuf {
        self.boxes_root().join(&*scope.scope_key())
    }

    /// The directory of one box's state, shared with the box at `/run/.tent/state`.
    pub fn box_state(&self, scope: impl ScopeKey, name: &str) -> PathBuf {
        self.scope_dir(scope).join(name)
    }

    /// `exports/`: every scope's receipts.
    pub fn receipts_root(&self) -> PathBuf {
        self.state.join("exports")
    }

    /// The export receipt of one box.
    pub fn receipt(&self, scope: impl ScopeKey, name: &str) -> PathBuf {
        self.receipts_root().join(&*scope.scope_key()).join(format!("{name}.json"))
    }

    /// What a manifest made of one box (`manifest::record`).
    pub fn manifest_record(&self, scope: impl ScopeKey, name: &str) -> PathBuf {
        self.state.join("manifests").join(&*scope.scope_key()).join(format!("{name}.json"))
    }

    /// Where the init log of a box that failed to start is kept.
    pub fn failed_log(&self, scope: impl ScopeKey, name: &str) -> PathBuf {
        self.state.join("logs").join(format!("{name}.{}.failed.log", scope.scope_key()))
    }

    /// The note of a remote scope's address (`endpoints/SCOPE`), so that a
    /// human can tell which folder is which machine.
    pub fn endpoint_note(&self, scope: impl ScopeKey) -> PathBuf {
        self.state.join("endpoints").join(&*scope.scope_key())
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
pub(crate) fn content_key(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
