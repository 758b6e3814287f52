//! Telling the terminal which box a shell runs in: Ptyxis, GNOME Console and
//! other VTE terminals read OSC 777 `container` sequences (as Toolbx sends
//! them) to open new tabs in the same box and to mark the tab. Ptyxis finds
//! the tab's container by the sequence's runtime and name: the runtime must
//! be the provider Ptyxis files the container under (docs/terminals.md).
//! `push` before
//! the shell, `pop` after it, so tent waits for the engine's client instead
//! of replacing itself: a process that only waits, on a path that a human
//! is about to spend minutes in.

use std::io::{IsTerminal, Write};
use std::os::unix::process::ExitStatusExt;

use crate::error::{Error, Result};

/// The runtime field for a box of `engine`. Ptyxis lists the user's own
/// podman containers (`podman ps --all`), and files one labelled
/// `com.github.containers.toolbox` (as every podman box is) under the
/// provider `toolbox`, which it then opens as the user in the tab's folder.
/// Boxes Ptyxis cannot see or cannot open as the user (Docker's, whose exec
/// it runs as root; root's store reached through sudo) are named `tent`,
/// which matches nothing: a new tab then opens on the host, not as root in a
/// box, nor in a rootless container that happens to have the same name.
pub(super) fn runtime_for(engine: &crate::engine::Engine) -> &'static str {
    if engine.is_podman() && engine.via == crate::engine::Via::Direct { PTYXIS_TOOLBX } else { "tent" }
}

/// Ptyxis's provider name for Toolbx containers (its ptyxis-toolbox-container.c).
pub(super) const PTYXIS_TOOLBX: &str = "toolbox";

/// The push sequence: `OSC 777 ; container ; push ; NAME ; RUNTIME ; UID ST`.
pub(super) fn push_sequence(box_name: &str, runtime: &str, uid: u32) -> String {
    // A ';' or a control character would end the field or the sequence early;
    // box names cannot hold them, but the sequence must never be broken.
    let clean = |s: &str| -> String { s.chars().filter(|c| *c != ';' && !c.is_control()).collect() };
    format!("\x1b]777;container;push;{};{};{uid}\x1b\\", clean(box_name), clean(runtime))
}

/// The pop sequence: back on the host.
pub(super) fn pop_sequence(uid: u32) -> String {
    format!("\x1b]777;container;pop;;;{uid}\x1b\\")
}

/// True when the sequences have somewhere to go.
pub(super) fn tracking_wanted() -> bool {
    std::io::stdout().is_terminal()
}

/// Runs `command` (a tent that enters the box) between a push and a pop;
/// the exit status is the shell's (128+N when a signal ended it).
pub(super) fn run_tracked(box_name: &str, runtime: &str, mut command: std::process::Command) -> Result<i32> {
    let uid = rustix::process::getuid().as_raw();
    let mut out = std::io::stdout();
    let _ = out.write_all(push_sequence(box_name, runtime, uid).as_bytes());
    let _ = out.flush();
    // Ctrl-C belongs to the box's shell; tent must live on to send `pop`.
    // A handler (not SIG_IGN) is reset by exec, so the client still gets it.
    crate::interrupt::catch();
    let status = command.status();
    let _ = out.write_all(pop_sequence(uid).as_bytes());
    let _ = out.flush();
    let status = status.map_err(|e| Error::spawn(command.get_program(), &e))?;
    Ok(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_follow_toolbx() {
        assert_eq!(push_sequence("dev", "toolbox", 1000), "\x1b]777;container;push;dev;toolbox;1000\x1b\\");
        assert_eq!(pop_sequence(1000), "\x1b]777;container;pop;;;1000\x1b\\");
        assert_eq!(push_sequence("a;b\x07", "t;x", 0), "\x1b]777;container;push;ab;tx;0\x1b\\");
    }

    #[test]
    fn only_boxes_ptyxis_opens_as_the_user_are_named_toolbox() {
        use crate::engine::{Engine, EngineKind, Via};
        let make = |kind: EngineKind| Engine::plain(kind, kind == EngineKind::Podman);
        let mut engine = make(EngineKind::Podman);
        assert_eq!(runtime_for(&engine), "toolbox", "the user's own podman: Ptyxis's Toolbx route");
        engine.rootless = false;
        assert_eq!(runtime_for(&engine), "toolbox", "root's own podman, seen by a Ptyxis run as root");
        engine.via = Via::Sudo;
        assert_eq!(runtime_for(&engine), "tent", "root's store through sudo: Ptyxis, as the user, cannot see it");
        let docker = make(EngineKind::Docker);
        assert_eq!(runtime_for(&docker), "tent", "Ptyxis would exec into a Docker box as root");
    }
}
