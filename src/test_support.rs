//! Helpers for tests: the unit tests' (`crate::test_support`), and the
//! real-engine tests' too, which include this very file (tests/it/main.rs).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Writes an executable script at `path` for a test to run. A child `sh`
/// writes it, so that no descriptor of the file is ever open in this
/// process: the tests run on many threads, and a sibling thread that forks
/// while the file is open for writing holds that descriptor until its own
/// exec. Running the script meanwhile fails with "Text file busy" (ETXTBSY),
/// a failure of the test machinery, not of tent.
pub(crate) fn write_script(path: impl AsRef<Path>, text: impl AsRef<str>) {
    let (path, text) = (path.as_ref(), text.as_ref());
    let mut child = Command::new("/bin/sh")
        .args(["-c", r#"cat > "$1.new" && chmod 755 "$1.new" && mv -f "$1.new" "$1""#, "sh"])
        .arg(path)
        .stdin(Stdio::piped())
        .spawn()
        .expect("sh runs");
    child.stdin.take().expect("piped").write_all(text.as_bytes()).expect("the script is written");
    assert!(child.wait().expect("sh ends").success(), "could not write {}", path.display());
}
