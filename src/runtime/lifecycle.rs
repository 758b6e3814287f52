//! A made box at run time: starting it (and waiting for its init), the
//! first password of a rootful box, stopping it with every process started
//! in it, and counting the commands that run in it.

use std::fs;
use std::path::Path;
use std::time::Duration;

use super::state::LogFollower;
use super::{Boxes, NEEDS_PASSWORD_FILE, init, join};
use crate::boxes::{container, labels};
use crate::engine::json::Container;
use crate::error::{Error, Result};

/// Run as root in the box: sets the user's password with `passwd` when the
/// user has none (a locked or empty /etc/shadow entry); exits 0 when one is set.
const SET_PASSWORD: &str = r#"p=$(awk -F: -v u="$1" '$1 == u { print $2 }' /etc/shadow 2>/dev/null)
case $p in
'' | '!'* | '*'*)
    echo "$1 has no password in this rootful box yet: sudo in it asks for one. Set it now."
    exec passwd "$1" ;;
esac"#;

/// A box the engine has started and whose init tent has yet to see ready
/// ([`Boxes::start_engine`], [`Boxes::wait_started`]).
pub struct Starting {
    name: String,
    state: super::BoxState,
    follower: LogFollower,
    /// The box runs this tent's scripts, whose tent-exec can wait for the
    /// init itself (TENT_WAIT_READY); an older box's ignores that.
    pub current_scripts: bool,
}

impl Boxes<'_> {
    /// Starts a box when it is stopped and waits until its init is ready.
    pub fn start(&self, name: &str, known: Option<&Container>) -> Result<()> {
        match self.start_engine(name, known)? {
            Some(starting) => self.wait_started(starting),
            None => Ok(()),
        }
    }

    /// Waits until the init of a box [`start_engine`](Self::start_engine)
    /// started is ready, showing its progress.
    pub fn wait_started(&self, starting: Starting) -> Result<()> {
        init::wait_ready(self.engine, &starting.name, &starting.state, starting.follower, self.progress)
    }

    /// `start` up to the engine's start: `Some` when the engine has just
    /// started the box and its init is still to be waited for; `None` when
    /// it is ready (it was, or tent waited already: a remote box, a box
    /// another tent started).
    pub fn start_engine(&self, name: &str, known: Option<&Container>) -> Result<Option<Starting>> {
        let fetched;
        let container = match known {
            Some(c) => c,
            None => {
                fetched = self.get(name)?;
                &fetched
            }
        };
        // Readiness is told by files on this machine that a local box
        // writes; a remote box is asked through the engine.
        if crate::boxes::remote::is_remote(self.engine) {
            return self.start_remote(name, container).map(|()| None);
        }
        let state = self.state(name);
        if container.running() {
            if state.is_ready() {
                return Ok(None);
            }
            if let Some(pid) = init_gone(container, &state) {
                return Err(Error::BoxStuck { name: name.into(), pid });
            }
            // Running but not ready: another tent started it, or it
            // provisions; or its init is stopping it (--stop-when-idle), and
            // then it is started again once it has stopped.
            if !state.idle_stopping() {
                let follower = LogFollower::from_end(state.log_path());
                match init::wait_ready(self.engine, name, &state, follower, self.progress) {
                    Err(Error::NotReady { .. }) if state.idle_stopping() => {}
                    done => return done.map(|()| None),
                }
            }
            self.wait_stopped(name)?;
        }
        // The box's scripts must be where its mount expects them, even after
        // an upgrade of tent or a cleaned data directory.
        if let Some(hash) = container.label(labels::LIB) {
            init::ensure_lib(self.paths, hash)?;
        }
        // Checked at every start: the engine resolves the path again each time.
        state.create_under(&self.paths.state)?;
        state.reset_run_files();
        let follower = LogFollower::from_end(state.log_path());
        let what = format!("could not start box {name:?}");
        // By its id when known: the container tent looked at is the one it
        // starts, whatever has the name by then.
        let target = if crate::text::is_sha256_hex(&container.id) { container.id.as_str() } else { name };
        if let Err(err) = self.engine.capture(&what, &["start", target]) {
            // The OCI runtime sometimes fails a start that follows a stop
            // closely, while the engine still cleans up after the last run
            // (runc: "error during container init: %!w(<nil>)"; podman
            // #2112 is the same kind). One more try, a moment later, starts
            // it; a box that fails twice reports the second failure.
            // A start killed half-way (a tent killed in a rollback) leaves
            // the runtime's container behind, and podman's next start fails
            // with "container with given ID already exists" until the
            // engine cleans up after it: its `stop` of the stopped
            // container does.
            let running = matches!(self.engine.inspect(target), Ok(Some(c)) if c.running());
            let left_behind = start_left_behind(&err);
            if !(transient_start_failure(&err) || left_behind) || running {
                return Err(err);
            }
            self.progress.detail(&format!("{name}: the engine failed to start it; trying once more"));
            if left_behind {
                let _ = self.engine.output(&["stop", "-t", "0", target]);
            } else {
                std::thread::sleep(Duration::from_millis(500));
            }
            self.engine.capture(&what, &["start", target])?;
        }
        let current_scripts = container.label(labels::LIB) == Some(crate::boxes::scripts::lib_hash().as_str());
        Ok(Some(Starting { name: name.to_string(), state, follower, current_scripts }))
    }

    /// The pid the engine still gives a local box whose process something
    /// ended behind its back ([`Error::BoxStuck`]); `None` for a box that is
    /// not stuck, or that is on another machine (whose state is not here).
    pub fn stuck_pid(&self, name: &str, container: &Container) -> Option<u32> {
        if crate::boxes::remote::is_remote(self.engine) || !container.running() {
            return None;
        }
        init_gone(container, &self.state(name))
    }

    /// Waits (at most 20 s) for a box whose init is stopping it to stop.
    fn wait_stopped(&self, name: &str) -> Result<()> {
        self.progress.detail(&format!("{name}: it stops after being idle; starting it again once it has"));
        let until = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < until {
            if !self.engine.inspect(name)?.is_some_and(|c| c.running()) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(Error::usage(
            format!("box {name:?} is stopping (--stop-when-idle) and has not stopped after 20 s"),
            Some(format!("try again, or stop it with `tent stop {name}`")),
        ))
    }

    /// For a rootful box whose user has no password yet: runs `passwd` in it
    /// as root, on the user's terminal (as Distrobox does at the first enter).
    /// Returns whether it asked; the reminder stays until a password is set.
    pub fn set_password_if_needed(&self, name: &str, user: &str) -> Result<bool> {
        let state = self.state(name);
        let marker = state.dir.join(NEEDS_PASSWORD_FILE);
        if fs::symlink_metadata(&marker).is_err() {
            return Ok(false);
        }
        let args = ["exec", "-it", "--user", "root", name, "sh", "-c", SET_PASSWORD, "sh", user];
        let status = self.engine.command(&args).status().map_err(|e| Error::spawn(&self.engine.path, &e))?;
        if status.success() {
            let _ = fs::remove_file(&marker);
        }
        Ok(true)
    }

    /// Stops a box and every process started in it through tent, whichever
    /// way: joined processes are not in the container's cgroup, and podman
    /// refuses to stop a container while an exec it started runs. Both live
    /// in the box's mount namespace, so they are ended first (SIGTERM, then
    /// SIGKILL); the engine's stop gets one retry for a process that was
    /// starting meanwhile. Returns how many processes were ended.
    ///
    /// The box's mount namespace is its init's as the engine reports it
    /// (`State.Pid`), never the box's `pid` file, which the box can write:
    /// naming a host process there must not make tent end the user's host
    /// processes. Where tent may not see the init's namespaces (Docker runs
    /// it as root; a rootful box through sudo is root's) only the engine
    /// stops the box: a plain user cannot join those, so nothing of theirs
    /// runs in them outside the container's cgroup.
    pub fn stop(&self, name: &str) -> Result<usize> {
        self.stop_known(name, None)
    }

    /// [`Self::stop`] of a box whose container the caller has just
    /// inspected (`known`): its init's pid is taken from there, one engine
    /// call less (a rollback's swap, issue 24).
    pub(crate) fn stop_known(&self, name: &str, known: Option<&Container>) -> Result<usize> {
        if !self.engine.is_local() {
            // Another endpoint's box: its processes, its engine's exec
            // clients and its readiness files are not on this machine, and
            // whatever local ones look the same belong to other boxes.
            self.engine.capture(&format!("could not stop box {name:?}"), &["stop", name])?;
            return Ok(0);
        }
        let init = match known {
            Some(container) => self.engine_init_of(name, container),
            None => self.engine_init(name)?,
        };
        let end = |grace| init.as_ref().map_or(0, |init| join::end_box_processes(init, grace));
        let mut ended = end(Duration::from_secs(3));
        let args = ["stop", name];
        let output = self.engine.output(&args)?;
        if !output.status.success() {
            ended += end(Duration::from_secs(3));
            self.engine.capture(&format!("could not stop box {name:?}"), &args)?;
        }
        Ok(ended + self.after_stop(name, init.as_ref()))
    }

    /// What every stop ends once the box's init is gone: a process that
    /// joined while the init was stopping, and the engine's exec clients of
    /// this box on the host (Docker's stays waiting for a container that is
    /// gone, `docker exec -i`); then the box's readiness files go. Returns
    /// how many processes were signalled.
    fn after_stop(&self, name: &str, init: Option<&join::EngineInit>) -> usize {
        let ended = init.map_or(0, |init| join::end_box_processes(init, Duration::from_millis(500)))
            + end_exec_clients(&self.engine.path, name);
        self.state(name).reset_run_files();
        ended
    }

    /// Stops box `name`, inspected as `known` under its lock, that a swap
    /// (rollback) replaces right after. Where tent sees the init and it is
    /// tent's own (`tent_init`: not the image's systemd, which takes
    /// SIGTERM as a request to re-execute itself), tent ends the box's
    /// commands, then the init with SIGTERM, waits for it to exit, and ends
    /// what the init left (a hook's daemon). The engine's `stop` would also
    /// wait for its clean-up of the container (unmounts, cgroups: 0.1-0.25 s
    /// of a rollback, issue 24), which the swap does not need: the old
    /// container is removed after it with `rm --force`, which ends whatever
    /// is left in its cgroup. Otherwise, or when the init has not exited in
    /// 3 s, the engine stops the box as [`Self::stop_known`] does.
    pub(crate) fn stop_replaced(&self, name: &str, known: &Container, tent_init: bool) -> Result<()> {
        let init = if tent_init { self.engine_init_of(name, known) } else { None };
        let Some(init) = init else { return self.stop_known(name, Some(known)).map(drop) };
        join::end_box_processes(&init, Duration::from_secs(3));
        if !join::end_init(&init, Duration::from_secs(3)) {
            return self.stop_known(name, Some(known)).map(drop);
        }
        self.after_stop(name, Some(&init));
        Ok(())
    }

    /// How many commands started in the box (through a join or the engine's
    /// exec) run now: None when the box is not running or tent cannot tell.
    /// Rootless podman: the processes in the init's mount namespace outside
    /// its tree; Docker: the container's processes (`docker top`) whose
    /// parent is outside the container, less the init.
    pub fn commands_running(&self, name: &str) -> Result<Option<usize>> {
        if let Some(init) = self.engine_init(name)? {
            return Ok(Some(join::box_processes(&init).len()));
        }
        if self.engine.is_podman() {
            return Ok(None);
        }
        let output = self.engine.output(&["top", name, "-o", "pid,ppid"])?;
        if !output.status.success() {
            return Ok(None);
        }
        Ok(Some(commands_in_top(&String::from_utf8_lossy(&output.stdout))))
    }

    /// The running init of box `name` as the engine reports it, when tent
    /// may see its namespaces (see `stop`).
    fn engine_init(&self, name: &str) -> Result<Option<join::EngineInit>> {
        // A pid from another endpoint names some other process here.
        if !self.engine.is_local() {
            return Ok(None);
        }
        Ok(self.engine.inspect(name)?.and_then(|c| self.engine_init_of(name, &c)))
    }

    /// The init of box `name` (its `container` as the engine reported it),
    /// when tent may see its namespaces and it is still that container's.
    pub(super) fn engine_init_of(&self, name: &str, container: &Container) -> Option<join::EngineInit> {
        if !self.engine.is_local() {
            return None;
        }
        match join::EngineInit::new(container.pid?, &container.id) {
            Ok(init) => Some(init),
            Err(why) => {
                self.progress.detail(&format!("{name}: only the engine stops it: {why}"));
                None
            }
        }
    }
}

/// The pid the engine gives a box it says runs, when that process is gone
/// and so is the init the box noted in its state: something ended the box
/// behind the engine's back (the OOM killer, a session's end that took the
/// engine's monitor with it), and the engine never learnt. Both must be
/// gone: the state is the box's to write, the engine's pid may be reused.
fn init_gone(container: &Container, state: &super::BoxState) -> Option<u32> {
    let pid = container.pid.filter(|pid| *pid > 0)?;
    let gone = super::state::process_gone(pid) && state.init_alive() == Some(false);
    gone.then_some(pid)
}

/// From `docker top NAME -o pid,ppid`: the processes whose parent is not in
/// the container (the init and each exec'd command), less the init.
fn commands_in_top(text: &str) -> usize {
    let rows: Vec<(u32, u32)> = text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?))
        })
        .collect();
    let pids: std::collections::HashSet<u32> = rows.iter().map(|(pid, _)| *pid).collect();
    rows.iter().filter(|(_, ppid)| !pids.contains(ppid)).count().saturating_sub(1)
}

/// Ends the user's engine clients that run tent-exec in box `name` (`ENGINE
/// exec … NAME /bin/sh /run/.tent/lib/tent-exec …`): what `tent enter` and
/// `tent run` exec'd into on the engine's path. Only processes of this user,
/// only that exact shape; returns how many were signalled.
fn end_exec_clients(engine: &Path, name: &str) -> usize {
    use std::os::unix::fs::MetadataExt;
    let me = rustix::process::getuid().as_raw();
    let engine = engine.as_os_str().as_encoded_bytes();
    let mut ended = 0;
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse::<i32>().ok()) else { continue };
        if fs::metadata(entry.path()).map(|m| m.uid()).ok() != Some(me) {
            continue;
        }
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else { continue };
        let argv: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if is_exec_client(&argv, engine, name)
            && let Some(pid) = rustix::process::Pid::from_raw(pid)
            && rustix::process::kill_process(pid, rustix::process::Signal::TERM).is_ok()
        {
            ended += 1;
        }
    }
    ended
}

/// Whether `argv` is an engine's exec of tent-exec in box `name`.
fn is_exec_client(argv: &[&[u8]], engine: &[u8], name: &str) -> bool {
    argv.first() == Some(&engine)
        && argv.get(1) == Some(&&b"exec"[..])
        && argv
            .windows(3)
            .any(|w| w[0] == name.as_bytes() && w[1] == b"/bin/sh" && w[2] == container::EXEC_IN_BOX.as_bytes())
}

/// A start the runtime refused because an earlier start, killed half-way,
/// left its container there.
fn start_left_behind(err: &Error) -> bool {
    matches!(err, Error::Engine { failure, .. } if failure.stderr.contains("container with given ID already exists"))
}

/// A start the OCI runtime failed on its own (not a missing image, name or
/// mount the box asked for): worth one more try.
fn transient_start_failure(err: &Error) -> bool {
    match err {
        Error::Engine { failure, .. } => {
            let text = &failure.stderr;
            text.contains("OCI runtime error") && text.contains("error during container init")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn commands_in_docker_top_are_roots_other_than_the_init() {
        let top = "PID PPID\n100 90\n101 100\n102 101\n200 95\n201 200\n300 96\n";
        assert_eq!(commands_in_top(top), 2, "the init 100 with its tree, and two exec'd commands");
        assert_eq!(commands_in_top("PID PPID\n100 90\n101 100\n"), 0);
        assert_eq!(commands_in_top(""), 0);
    }

    #[test]
    fn only_the_runtime_failing_on_its_own_is_tried_again() {
        let failed = |stderr: &str| Error::Engine {
            what: "could not start box".into(),
            failure: crate::error::CommandFailure { argv: vec![], status: Some(125), stderr: stderr.into() },
        };
        assert!(transient_start_failure(&failed(
            "Error: OCI runtime error: unable to start container \"80bb\": runc: runc create failed: \
             unable to start container process: error during container init: %!w(<nil>)"
        )));
        assert!(!transient_start_failure(&failed("Error: no container with name or ID \"dev\" found")));
        assert!(!transient_start_failure(&failed("Error: statfs /home/u/gone: no such file or directory")));
        assert!(!transient_start_failure(&Error::Interrupted));
        // Seen after a tent killed during a rollback's `podman start`.
        let left = failed(
            "Error: OCI runtime error: unable to start container \"79c9\": runc: runc create failed: \
             container with given ID already exists",
        );
        assert!(start_left_behind(&left) && !transient_start_failure(&left));
        assert!(!start_left_behind(&failed("Error: no container with name or ID \"dev\" found")));
    }

    #[test]
    fn exec_clients_are_told_by_their_exact_shape() {
        let ok: Vec<&[u8]> = [
            "/usr/bin/docker",
            "exec",
            "--interactive",
            "--user",
            "1:1",
            "dev",
            "/bin/sh",
            "/run/.tent/lib/tent-exec",
            "cmd",
            "/",
            "sleep",
            "9",
        ]
        .iter()
        .map(|w| w.as_bytes())
        .collect();
        assert!(is_exec_client(&ok, b"/usr/bin/docker", "dev"));
        assert!(!is_exec_client(&ok, b"/usr/bin/docker", "dev2"), "another box");
        assert!(!is_exec_client(&ok, b"/usr/bin/podman", "dev"), "another engine");
        let other: Vec<&[u8]> =
            ["/usr/bin/docker", "exec", "dev", "sh", "-c", "x"].iter().map(|w| w.as_bytes()).collect();
        assert!(!is_exec_client(&other, b"/usr/bin/docker", "dev"), "not tent's exec");
    }
}
