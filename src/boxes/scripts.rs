//! tent's in-box scripts (shell-integration/) as this build embeds them and
//! where a box sees them, the content hash that names their lib directory,
//! and the shell text of a box's hooks: plain data that the container's argv carries and that the
//! runtime writes to disk (`runtime::init`).

/// Where the box's scripts and its state folder are inside it
/// (docs/internals.md); `container` mounts them there.
pub const LIB_IN_BOX: &str = "/run/.tent/lib";
pub const STATE_IN_BOX: &str = "/run/.tent/state";
pub const INIT_IN_BOX: &str = "/run/.tent/lib/tent-init";
pub const EXEC_IN_BOX: &str = "/run/.tent/lib/tent-exec";

pub const INIT_SCRIPT: &str = include_str!("../../shell-integration/tent-init");
pub const EXEC_SCRIPT: &str = include_str!("../../shell-integration/tent-exec");
pub const HOST_SCRIPT: &str = include_str!("../../shell-integration/tent-host");

/// The scripts of a lib directory, by file name.
pub const LIB_FILES: [(&str, &str); 3] =
    [("tent-init", INIT_SCRIPT), ("tent-exec", EXEC_SCRIPT), ("tent-host", HOST_SCRIPT)];

/// The content hash that names this build's lib directory: computed once
/// a process (a swap asks for it twice, a start once more).
pub fn lib_hash() -> String {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| content_hash(LIB_FILES.map(|(_, text)| text.as_bytes()))).clone()
}

/// SHA-256 of every script of a lib (in `LIB_FILES` order, each ended by a
/// NUL), as hex: what names a lib directory.
pub fn content_hash(files: [&[u8]; 3]) -> String {
    use sha2::{Digest, Sha256};
    let mut sha = Sha256::new();
    for file in files {
        sha.update(file);
        sha.update([0]);
    }
    crate::text::hex(&sha.finalize())
}

/// The shell text of a list of hooks: stops at the first that fails.
pub fn hook_script(hooks: &[String]) -> String {
    let mut text = String::from("set -e\n");
    for hook in hooks {
        text.push_str(hook);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lib_hash_is_stable_and_hex() {
        let a = lib_hash();
        assert_eq!(a, lib_hash());
        assert_eq!(a.len(), 64, "SHA-256");
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        // Every script counts, tent-host too.
        assert_ne!(content_hash([b"i", b"e", b"h"]), content_hash([b"i", b"e", b"H"]));
        assert_ne!(content_hash([b"ie", b"", b"h"]), content_hash([b"i", b"e", b"h"]), "the files are kept apart");
    }

    #[test]
    fn hooks_stop_at_the_first_failure() {
        assert_eq!(hook_script(&["a".into(), "b c".into()]), "set -e\na\nb c\n");
        assert_eq!(hook_script(&[]), "set -e\n");
    }
}
