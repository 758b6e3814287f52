//! The relay: how an exported command runs from inside *another* box.
//!
//! Inside box B the host's engine cannot be reached, so a wrapper exported
//! from box A cannot run `tent run A` there. Every box shares the user's
//! `$XDG_RUNTIME_DIR`, so tent keeps a small relay on the host listening on
//! `$XDG_RUNTIME_DIR/tent/relay-KEY.sock`. The wrapper in box B runs the host's
//! own tent binary (through the host's dynamic loader under /run/host) as
//! `tent relay-call --socket SOCKET --scope S --box A --export NAME -- ARGS...`,
//! which sends the relay a *request* (`protocol`) with its stdin, stdout and
//! stderr attached (SCM_RIGHTS, `fds`), so terminals, pipes and bytes pass
//! exactly.
//!
//! Trust: every process in every box can reach the socket, and a box is not
//! a sandbox but tent never widens it, so the relay trusts nothing the caller
//! says about what to run or how:
//! - It takes a request kind, never an argv. `RunExport` names an export; the
//!   relay looks it up in that box's receipt and builds
//!   `tent --engine E [--root] run A -- TARGET ARGS...` itself, with E the
//!   engine tent chose when the relay started (`Engines`: the starting tent's
//!   own engine, else the scope's engine by name on PATH), never the engine a
//!   receipt names. A name not in the receipts is refused.
//!   `HostExec` (`tent host -- CMD` in a box) runs CMD on the host, and
//!   `HostTent` (`tent ARGS` in a box) the relay's own tent in the caller's
//!   engine scope. All three only for a caller the relay has placed in a box
//!   (or the host) *and* confirmed with the engine, whose spec label does not
//!   say `--no-host` (`host_policy`): receipts are in the shared state, so any
//!   box can write one naming any target in any box, which makes an export
//!   call as strong as a host command. Nothing a box can write decides this:
//!   the state dirs and the home are shared with boxes, the engine's label is
//!   not.
//! - The caller's identity comes from the kernel (SO_PEERCRED): another uid is
//!   refused, and the caller is pinned at once (`Peer`: its pidfd from
//!   SO_PEERPIDFD, and its `/proc/PID` directory opened while that pidfd says
//!   it runs), so a caller that exits and whose pid is reused is never taken
//!   for the new process. Its box is found by comparing its mount namespace
//!   with each box's init (boxes run with `--pid host`, and the kernel gives
//!   the peer's pid in the relay's namespace anyway); the pid files that name
//!   the inits are the boxes' to write, so they are read bounded, without
//!   following links or waiting on a FIFO. A caller that is neither the host
//!   nor a confirmed tent box is refused. Docker runs every box's init as root: for host requests a Docker
//!   caller is confirmed by the engine through its cgroup instead, which names
//!   the container it was `docker exec`ed into and which a box cannot change
//!   (Docker mounts the cgroup tree read-only without `--privileged`).
//!   The box is passed on as `TENT_CALLER_BOX`, for information only.
//! - The command gets a clean environment: the relay's own HOME, USER,
//!   LOGNAME, PATH, runtime and XDG base directories and engine connection
//!   variables (so it reaches the same store), plus the caller's session
//!   variables from `PASSTHROUGH_ENV` (terminal, display, locale...) but never
//!   `TENT_*`, `LD_*`, `XDG_*_HOME` or `XDG_RUNTIME_DIR`, which would change what
//!   tent runs or where it keeps its state.
//! - Bounded: 1 MiB frames, 5 seconds to send the whole request (one deadline,
//!   however it is trickled in), 32 calls at once, each in its own thread, so
//!   a stuck caller or a hostile file holds one call, never the others; the
//!   relay's own messages to a caller's stderr wait at most a second.
//!
//! During a call the caller forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT and
//! SIGWINCH (the new size itself is on the shared terminal) as small frames;
//! the relay signals the command's process group. A caller that disconnects
//! gets its command hung up (SIGHUP, then SIGKILL). The answer is the exit
//! status, 128+N for a death by signal N.
//!
//! The relay is started by `tent enter`/`tent run` on the host when it is not
//! answering (one `connect` on the warm path), in `/` with no inherited
//! descriptors, and exits after an idle hour with no call running, or soon
//! after its socket or tent's state directory is removed. Idle, it sleeps in
//! poll(2), waking every 10 seconds. It refuses a socket directory that is
//! not the user's own with mode 0700.
//!
//! One job per file: `protocol` (the wire format) and `fds` (descriptor
//! passing); `client` (what a box sends); `daemon` (the socket, the start,
//! the accept loop and its limits); `handle` (one call, from request to exit
//! status); `requests` (one handler per request kind); `caller` (who calls:
//! pidfd, mount namespace, engine confirmation); `engines` (the engines chosen
//! at start); `env` (the command's environment).

mod caller;
mod client;
mod daemon;
mod engines;
mod env;
mod fds;
mod handle;
mod protocol;
mod requests;

pub(crate) use client::{Call, call, call_raw, host_call};
pub(crate) use daemon::{ensure_running, serve};

#[cfg(test)]
mod test_support {
    use super::engines::Engines;
    use super::protocol::RunExport;
    use crate::paths::Paths;
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    use std::path::Path;

    pub(super) fn paths(root: &Path) -> Paths {
        Paths::under(root)
    }

    pub(super) fn run_export(scope: &str, name: &str) -> RunExport {
        RunExport {
            scope: scope.into(),
            box_name: "dev".into(),
            export: name.into(),
            args: vec!["a b".into(), OsString::from_vec(vec![0xff])],
            cwd: "/".into(),
            env: vec![],
        }
    }

    /// The engines a relay chose at start, as tests need them (no PATH lookups).
    pub(super) fn test_engines() -> Engines {
        use crate::engine::{Engine, EngineKind, Via};
        let engine = |kind, path: &str, via| Engine {
            kind,
            path: path.into(),
            via,
            rootless: false,
            sudo: vec!["sudo".into(), "--".into()],
            endpoint: Default::default(),
        };
        Engines(vec![
            engine(EngineKind::Podman, "/usr/lib/tent-test/podman", Via::Direct),
            engine(EngineKind::Podman, "/usr/lib/tent-test/podman", Via::Sudo),
            engine(EngineKind::Docker, "/usr/lib/tent-test/docker", Via::Direct),
        ])
    }
}
