//! Telling the terminal which box a shell runs in: Ptyxis, GNOME Console and
//! other VTE terminals read OSC 777 `container` sequences (as Toolbx sends
//! them) to open new tabs in the same box and to mark the tab. `push` before
//! the shell, `pop` after it, so tent waits for the engine's client instead
//! of replacing itself: a process that only waits, on a path that a human
//! is about to spend minutes in.

use std::io::{IsTerminal, Write};
use std::os::unix::process::ExitStatusExt;

use crate::error::{Error, Result};

/// The push sequence: `OSC 777 ; container ; push ; NAME ; RUNTIME ; UID ST`.
pub fn push_sequence(box_name: &str, uid: u32) -> String {
    // A ';' or a control character would end the field or the sequence early;
    // box names cannot hold them, but the sequence must never be broken.
    let name: String = box_name.chars().filter(|c| *c != ';' && !c.is_control()).collect();
    format!("\x1b]777;container;push;{name};tent;{uid}\x1b\\")
}

/// The pop sequence: back on the host.
pub fn pop_sequence(uid: u32) -> String {
    format!("\x1b]777;container;pop;;;{uid}\x1b\\")
}

/// True when the sequences have somewhere to go.
pub fn tracking_wanted() -> bool {
    std::io::stdout().is_terminal()
}

/// Runs `command` (a tent that enters the box) between a push and a pop;
/// the exit status is the shell's (128+N when a signal ended it).
pub fn run_tracked(box_name: &str, mut command: std::process::Command) -> Result<i32> {
    let uid = rustix::process::getuid().as_raw();
    let mut out = std::io::stdout();
    let _ = out.write_all(push_sequence(box_name, uid).as_bytes());
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
        assert_eq!(push_sequence("dev", 1000), "\x1b]777;container;push;dev;tent;1000\x1b\\");
        assert_eq!(pop_sequence(1000), "\x1b]777;container;pop;;;1000\x1b\\");
        assert_eq!(push_sequence("a;b\x07", 0), "\x1b]777;container;push;ab;tent;0\x1b\\");
    }
}
