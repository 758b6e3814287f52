//! `tent host -- CMD` and `tent ARGS` typed in a box: both run on the host,
//! through the host's relay (src/relay/), which decides whether the calling
//! box may.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::cli::HostArgs;
use crate::error::{Error, Result};

/// In a tent box: tent's own marker, not just the variable (a host shell may
/// have TENT_BOX set by hand).
pub(crate) fn in_a_box() -> bool {
    std::env::var_os(crate::env_vars::TENT_BOX).is_some()
        && std::path::Path::new(crate::boxes::container::EXEC_IN_BOX).exists()
}

/// The commands that work in a box itself: `host` and the relay's client.
pub(crate) fn stays_in_box(args: &[OsString]) -> bool {
    matches!(args.first().and_then(|a| a.to_str()), Some("host" | "relay-call"))
}

/// The relay's socket: `--socket`, else TENT_RELAY (the shims set it), else
/// the one this session's tent would use.
fn socket(given: Option<PathBuf>) -> Result<PathBuf> {
    given
        .or_else(|| std::env::var_os(crate::env_vars::TENT_RELAY).map(PathBuf::from))
        .or_else(|| crate::paths::Paths::from_env().ok()?.relay_socket())
        .ok_or_else(|| Error::Export {
            message: "cannot tell where the host's tent relay listens: XDG_RUNTIME_DIR is not set".into(),
            hint: Some("set XDG_RUNTIME_DIR as on the host (e.g. /run/user/$(id -u)), or recreate the box".into()),
        })
}

/// `tent host -- CMD ARGS`: on the host already, CMD simply runs; in a box,
/// the relay runs it on the host.
pub(crate) fn host(args: HostArgs) -> Result<i32> {
    if !in_a_box() {
        use std::os::unix::process::CommandExt;
        let err = std::process::Command::new(&args.command[0]).args(&args.command[1..]).exec();
        let code = if err.kind() == std::io::ErrorKind::NotFound {
            crate::error::exit::NOT_FOUND
        } else {
            crate::error::exit::NOT_EXECUTABLE
        };
        eprintln!("tent host: {}: {err}", args.command[0].to_string_lossy());
        return Ok(code);
    }
    crate::relay::host_call(&socket(args.socket)?, false, args.command)
}

/// `tent ARGS` in a box: the host's tent runs ARGS, in this box's engine
/// scope. `tent export`/`unexport` without a box name mean this box, as
/// Distrobox's `distrobox-export` does.
pub(crate) fn forward_from_box(args: &[OsString]) -> Result<i32> {
    let me = std::env::var(crate::env_vars::TENT_BOX).unwrap_or_default();
    crate::relay::host_call(&socket(None)?, true, with_this_box(args, &me))
}

/// Puts `me` in as the box of `export`/`unexport` when no box is named.
pub(crate) fn with_this_box(args: &[OsString], me: &str) -> Vec<OsString> {
    use clap::Parser;
    let mut args = args.to_vec();
    // The verb: the first word that is not a global flag.
    let verb = args.iter().position(|a| {
        !matches!(a.to_str(), Some("--root" | "-v" | "--verbose" | "-q" | "--quiet"))
            && !a.to_string_lossy().starts_with("--engine")
    });
    let Some(at) = verb else { return args };
    if !matches!(args[at].to_str(), Some("export" | "unexport")) || me.is_empty() {
        return args;
    }
    let full =
        |args: &[OsString]| std::iter::once(OsString::from("tent")).chain(args.iter().cloned()).collect::<Vec<_>>();
    if crate::cli::Cli::try_parse_from(full(&args)).is_ok() {
        return args;
    }
    let mut with = args.clone();
    with.insert(at + 1, me.into());
    if crate::cli::Cli::try_parse_from(full(&with)).is_ok() {
        args = with;
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<OsString> {
        s.iter().map(OsString::from).collect()
    }

    #[test]
    fn export_in_a_box_means_this_box() {
        assert_eq!(
            with_this_box(&words(&["export", "--app", "firefox"]), "dev"),
            words(&["export", "dev", "--app", "firefox"])
        );
        assert_eq!(
            with_this_box(&words(&["--root", "unexport", "--bin", "rg"]), "dev"),
            words(&["--root", "unexport", "dev", "--bin", "rg"])
        );
        // A box named, or another verb: as typed.
        assert_eq!(
            with_this_box(&words(&["export", "other", "--bin", "rg"]), "dev"),
            words(&["export", "other", "--bin", "rg"])
        );
        assert_eq!(with_this_box(&words(&["list"]), "dev"), words(&["list"]));
        assert_eq!(with_this_box(&words(&["enter", "export"]), "dev"), words(&["enter", "export"]));
    }

    #[test]
    fn only_host_and_relay_call_stay_in_the_box() {
        assert!(stays_in_box(&words(&["host", "--", "ls"])));
        assert!(stays_in_box(&words(&["relay-call", "--socket", "s"])));
        for other in [&["list"][..], &["export", "--app", "x"], &["--root", "host"], &[]] {
            assert!(!stays_in_box(&words(other)), "{other:?}");
        }
    }
}
