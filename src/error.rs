//! The one error type of tent. Every variant names the object that failed and
//! carries what the user needs to fix it; `hint()` gives the next step and
//! `code()` the documented exit status (docs/exit-codes.md).

use std::path::PathBuf;

/// Exit statuses, documented in docs/exit-codes.md. A command run in a box
/// passes its own status straight through instead.
pub(crate) mod exit {
    /// Something went wrong that is not one of the cases below.
    pub(crate) const FAILURE: i32 = 1;
    /// The command line was wrong (clap's own status).
    pub(crate) const USAGE: i32 = 2;
    /// The container engine failed or could not be run.
    pub(crate) const ENGINE: i32 = 125;
    /// The command exists in the box but cannot be executed.
    pub(crate) const NOT_EXECUTABLE: i32 = 126;
    /// The command does not exist in the box.
    pub(crate) const NOT_FOUND: i32 = 127;
    /// Interrupted by Ctrl-C (128 + SIGINT).
    pub(crate) const INTERRUPTED: i32 = 130;
}

/// A failed external command: its argv, status and stderr, never a bare status.
#[derive(Debug, Clone)]
pub struct CommandFailure {
    pub argv: Vec<String>,
    pub status: Option<i32>,
    pub stderr: String,
}

impl std::fmt::Display for CommandFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = match self.status {
            Some(code) => format!("exit status {code}"),
            None => "killed by a signal".to_string(),
        };
        write!(f, "`{}` failed ({status})", crate::shell::words(&self.argv))?;
        let stderr = self.stderr.trim();
        if !stderr.is_empty() {
            for line in stderr.lines() {
                write!(f, "\n  | {line}")?;
            }
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid box name {name:?}: {reason}")]
    InvalidName { name: String, reason: String },

    #[error("no box named {name:?} on {engine}")]
    NoSuchBox { name: String, engine: String },

    #[error("a container named {name:?} already exists on {engine}")]
    BoxExists { name: String, engine: String, is_tent: bool },

    #[error("box {name:?} belongs to another user (uid {uid})")]
    OtherUsersBox { name: String, uid: String },

    #[error("box {name:?} is running")]
    BoxRunning { name: String },

    /// The engine says the box runs, but its process is gone
    /// (`runtime::lifecycle`): ended behind the engine's back.
    #[error(
        "box {name:?} is stuck: the engine says it runs, but its process (pid {pid}) is gone; something ended it \
         behind the engine's back (the OOM killer, or the end of a session took the engine's monitor with it)"
    )]
    BoxStuck { name: String, pid: u32 },

    #[error("no container engine found: looked for {looked_for} on PATH")]
    NoEngine { looked_for: String },

    #[error("unknown engine {value:?}: expected podman, docker or a path to one of them")]
    UnknownEngine { value: String },

    #[error("the engine could not be run: {0}")]
    EngineSpawn(String),

    #[error("{what}: {failure}")]
    Engine { what: String, failure: CommandFailure },

    #[error("image {image:?} is not available: {failure}")]
    ImageUnavailable { image: String, failure: CommandFailure },

    #[error("box {name:?} did not become ready: {reason}")]
    NotReady { name: String, reason: String, log_tail: String, log: PathBuf },

    #[error("could not parse the engine's answer to `{command}`: {detail}")]
    EngineOutput { command: String, detail: String },

    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    #[error("config file {path}: {message}")]
    Config { path: PathBuf, message: String },

    #[error("{message}")]
    Manifest { message: String, hint: Option<String> },

    #[error("{message}")]
    Export { message: String, hint: Option<String> },

    #[error("{message}")]
    Usage { message: String, hint: Option<String> },

    /// An editor tent opens a box in (`tent code`) that is missing or refused.
    #[error("{message}")]
    Editor { message: String, hint: Option<String> },

    /// A snapshot, rollback, upgrade, clone, save or load that failed.
    #[error("{message}")]
    Snapshot { message: String, hint: Option<String> },

    /// A path tent will not hand to root or follow: a state directory
    /// swapped for a link, or not the user's.
    #[error("{message}")]
    Unsafe { message: String, hint: Option<String> },

    /// What needs this machine's own engine store (joining a box, its
    /// files, the relay) asked of a box on another endpoint.
    #[error("{what} needs a box on this machine, and {engine} talks to {endpoint} (from {set_by})")]
    RemoteEndpoint { what: String, engine: String, endpoint: String, set_by: String },

    #[error("interrupted")]
    Interrupted,

    #[error("aborted: {0}")]
    Aborted(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// The engine's client (or another program tent runs) could not be started.
    pub fn spawn(program: impl AsRef<std::ffi::OsStr>, source: &std::io::Error) -> Self {
        Error::EngineSpawn(format!("{}: {source}", std::path::Path::new(program.as_ref()).display()))
    }

    pub fn usage(message: impl Into<String>, hint: impl Into<Option<String>>) -> Self {
        Error::Usage { message: message.into(), hint: hint.into() }
    }

    /// The next step for the user, printed as `hint:` lines.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::InvalidName { .. } => Some(
                "use letters, digits, '_', '.' and '-', starting with a letter or digit (at most 63 characters)".into(),
            ),
            Error::NoSuchBox { .. } => {
                Some("see your boxes with `tent list`, or make this one with `tent create NAME`".into())
            }
            Error::BoxExists { name, is_tent: true, .. } => {
                Some(format!("enter it with `tent enter {name}`, or remove it first with `tent rm {name}`"))
            }
            Error::BoxExists { .. } => {
                Some("that container was not made by tent and tent will not touch it: choose another name".into())
            }
            Error::BoxRunning { name } => Some(format!("stop it with `tent stop {name}`, or pass --force")),
            // podman 4 can then neither stop nor start the container; a
            // snapshot (a commit) and a rollback work on it: `tent rescue`.
            Error::BoxStuck { name, .. } => Some(format!(
                "the engine may neither stop nor start it now; `tent rescue {name}` makes it again in a new \
                 container with its system (its home, volumes and exports stay)"
            )),
            Error::NoEngine { .. } => {
                Some("install podman (recommended) or Docker, or point TENT_ENGINE at the engine's binary".into())
            }
            Error::UnknownEngine { .. } => {
                Some("set --engine, TENT_ENGINE or `engine` in the config file to podman or docker".into())
            }
            Error::EngineSpawn(_) => Some("check that the engine is installed and runs for this user".into()),
            // Rootless podman gives a box its own network through slirp4netns
            // or pasta, which need /dev/net/tun (`--unshare-netns`).
            Error::Engine { failure, .. } if failure.stderr.contains("/dev/net/tun") => Some(
                "this host does not let rootless podman open /dev/net/tun, which a box with its own network \
                 (--unshare-netns) needs; give it no network at all with --engine-arg=--network=none, or use --root"
                    .into(),
            ),
            Error::ImageUnavailable { image, .. } => Some(format!(
                "check the name with `podman images` / `docker images`, pull or import {image:?}, or pass another --image"
            )),
            Error::NotReady { log, log_tail, .. } => {
                let mut hint = String::new();
                if !log_tail.is_empty() {
                    hint.push_str("last lines of the box's init log:\n");
                    for line in log_tail.lines() {
                        hint.push_str("  | ");
                        hint.push_str(line);
                        hint.push('\n');
                    }
                }
                hint.push_str(&format!("the whole log is {}", log.display()));
                Some(hint)
            }
            Error::RemoteEndpoint { set_by, .. } => Some(format!(
                "tent cannot do this with a box on another endpoint yet (docs/remote.md); \
                 for the boxes on this machine, run tent without {set_by}"
            )),
            Error::EngineOutput { .. } => {
                Some("this engine version may not be supported; please report it with `tent --version`".into())
            }
            Error::Manifest { hint, .. }
            | Error::Export { hint, .. }
            | Error::Usage { hint, .. }
            | Error::Editor { hint, .. }
            | Error::Snapshot { hint, .. }
            | Error::Unsafe { hint, .. } => hint.clone(),
            _ => None,
        }
    }

    /// The documented exit status for this error.
    pub fn code(&self) -> i32 {
        match self {
            Error::Engine { .. }
            | Error::EngineSpawn(_)
            | Error::NoEngine { .. }
            | Error::EngineOutput { .. }
            | Error::ImageUnavailable { .. } => exit::ENGINE,
            Error::Usage { .. } | Error::InvalidName { .. } | Error::UnknownEngine { .. } => exit::USAGE,
            Error::Interrupted => exit::INTERRUPTED,
            _ => exit::FAILURE,
        }
    }
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_failure_shows_argv_status_and_stderr() {
        let failure = CommandFailure {
            argv: vec!["podman".into(), "start".into(), "dev".into()],
            status: Some(125),
            stderr: "Error: no such container dev\n".into(),
        };
        let text = failure.to_string();
        assert!(text.contains("`podman start dev` failed (exit status 125)"), "{text}");
        assert!(text.contains("  | Error: no such container dev"), "{text}");
    }

    #[test]
    fn engine_errors_exit_125_and_usage_errors_2() {
        let engine = Error::EngineSpawn("x".into());
        assert_eq!(engine.code(), exit::ENGINE);
        let name = Error::InvalidName { name: "-x".into(), reason: "r".into() };
        assert_eq!(name.code(), exit::USAGE);
        assert!(name.hint().unwrap().contains("letters"));
    }
}
