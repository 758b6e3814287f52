//! systemd user units on the host: escaping argv for `ExecStart=`, writing
//! unit files that are marked as tent's (so only those are ever removed), and
//! asking the user's systemd to reload and enable them. The floor: it uses
//! only `files` and `error`; the commands decide what units say.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// The first line of every unit tent writes: removal checks for it.
pub(crate) const MARKER: &str = "# Written by tent; `tent` commands change or remove it. Edits here are lost.";

/// `$XDG_CONFIG_HOME/systemd/user`, where a user's own units live.
pub(crate) fn user_unit_dir(config_home: &Path) -> PathBuf {
    config_home.join("systemd/user")
}

/// One argument as systemd's `ExecStart=` reads it: in double quotes, with
/// `\` and `"` escaped, `%` doubled (specifiers) and `$` doubled (variable
/// expansion), so any argument reaches the program exactly. Control
/// characters cannot be written in a unit line and are refused.
pub(crate) fn exec_arg(arg: &str) -> Result<String> {
    if arg.chars().any(char::is_control) {
        return Err(Error::usage(
            format!("{arg:?} holds a control character and cannot be written into a systemd unit"),
            None::<String>,
        ));
    }
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('"');
    for c in arg.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(out)
}

/// A whole `ExecStart=` command line.
pub(crate) fn exec_line(argv: &[String]) -> Result<String> {
    Ok(argv.iter().map(|a| exec_arg(a)).collect::<Result<Vec<_>>>()?.join(" "))
}

/// Writes a unit (atomically, 0644) with tent's marker first. A file of
/// that name that tent did not write is never replaced.
pub(crate) fn write_unit(path: &Path, body: &str) -> Result<()> {
    if !written_by_tent(path)? {
        return Err(Error::usage(
            format!("{} exists and was not written by tent", path.display()),
            Some("move it away, or pick another name".to_string()),
        ));
    }
    crate::files::write_atomic(path, format!("{MARKER}\n{body}").as_bytes(), 0o644)
}

/// Removes a unit tent wrote; a file someone else wrote stays (false).
pub(crate) fn remove_unit(path: &Path) -> Result<bool> {
    if !path.exists() && std::fs::symlink_metadata(path).is_err() {
        return Ok(false);
    }
    if !written_by_tent(path)? {
        return Ok(false);
    }
    std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
    Ok(true)
}

/// True when `path` is missing or carries tent's marker (read bounded and
/// without following a link: the config folder is every box's to write).
fn written_by_tent(path: &Path) -> Result<bool> {
    match crate::files::read_bounded(path, 64 * 1024) {
        Ok(None) => Ok(true),
        Ok(Some(bytes)) => Ok(bytes.starts_with(MARKER.as_bytes())),
        Err(_) if std::fs::symlink_metadata(path).is_ok() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Runs `systemctl --user ARGS`; Err carries what it said, for a warning
/// (no user manager in a container, over ssh without lingering...).
pub(crate) fn systemctl_user(args: &[&str]) -> std::result::Result<(), String> {
    let output = Command::new("systemctl").arg("--user").args(args).output().map_err(|e| format!("systemctl: {e}"))?;
    if output.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&output.stderr).trim().to_string()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_reach_the_program_exactly() {
        assert_eq!(exec_arg("plain").unwrap(), "\"plain\"");
        assert_eq!(exec_arg("a b").unwrap(), "\"a b\"");
        assert_eq!(exec_arg(r#"q"u\o"#).unwrap(), r#""q\"u\\o""#);
        assert_eq!(exec_arg("100%$HOME").unwrap(), "\"100%%$$HOME\"");
        assert!(exec_arg("new\nline").is_err());
        assert_eq!(exec_line(&["/bin/tent".into(), "up grade".into()]).unwrap(), "\"/bin/tent\" \"up grade\"");
    }

    #[test]
    fn only_units_tent_wrote_are_replaced_or_removed() {
        let dir = tempfile::tempdir().unwrap();
        let unit = dir.path().join("a.service");
        write_unit(&unit, "[Service]\n").unwrap();
        assert!(std::fs::read_to_string(&unit).unwrap().starts_with(MARKER));
        write_unit(&unit, "[Service]\nType=oneshot\n").unwrap();
        assert!(remove_unit(&unit).unwrap());
        assert!(!remove_unit(&unit).unwrap(), "already gone");
        let theirs = dir.path().join("b.service");
        std::fs::write(&theirs, "[Service]\n").unwrap();
        assert!(write_unit(&theirs, "x").is_err());
        assert!(!remove_unit(&theirs).unwrap());
        assert_eq!(std::fs::read_to_string(&theirs).unwrap(), "[Service]\n");
        let link = dir.path().join("c.service");
        std::os::unix::fs::symlink(&theirs, &link).unwrap();
        assert!(!remove_unit(&link).unwrap(), "a link is not tent's");
        assert!(write_unit(&link, "x").is_err());
    }
}
