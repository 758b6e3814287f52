//! Making, starting and removing boxes: the steps shared by `create`,
//! `enter`, `rm`, `apply` and `bake`. A failed or interrupted create removes
//! what it made; nothing here touches the user's files.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::container;
use super::init;
use super::join;
use super::state::LogFollower;
use super::{BoxSpec, BoxState, HostFacts, labels};
use crate::engine::Engine;
use crate::engine::json::Container;
use crate::error::{Error, Result};
use crate::interrupt;
use crate::output::Printer;
use crate::paths::Paths;

/// Everything box operations need.
pub struct Boxes<'a> {
    pub engine: &'a Engine,
    pub paths: &'a Paths,
    pub printer: &'a Printer,
    /// Commands that new boxes run on the host (config `host.commands`).
    pub host_commands: &'a [String],
}

/// Facts about a box kept beside its state, for the warm path of `enter`,
/// which must not ask the engine (docs/internals.md).
pub const BOX_HOME_FILE: &str = "home";

/// The most of a failed box's init log kept in tent's logs.
const FAILED_LOG_LIMIT: u64 = 4 << 20;

/// Beside the state: this rootful box's user has no password yet, so the
/// next `tent enter` on a terminal asks for one (sudo in the box needs it).
/// Only a reminder: the box's own /etc/shadow is what counts.
pub const NEEDS_PASSWORD_FILE: &str = "needs-password";

/// Run as root in the box: sets the user's password with `passwd` when the
/// user has none (a locked or empty /etc/shadow entry); exits 0 when one is set.
const SET_PASSWORD: &str = r#"p=$(awk -F: -v u="$1" '$1 == u { print $2 }' /etc/shadow 2>/dev/null)
case $p in
'' | '!'* | '*'*)
    echo "$1 has no password in this rootful box yet: sudo in it asks for one. Set it now."
    exec passwd "$1" ;;
esac"#;

impl Boxes<'_> {
    pub fn state(&self, name: &str) -> BoxState {
        BoxState::new(self.paths.box_state(self.engine.scope(), name))
    }

    /// The user's own tent boxes on the engine. On a shared store (Docker,
    /// rootful podman) other users' boxes are left out: `--all`, `apply` and
    /// `doctor` never see, stop or remove them.
    pub fn list(&self) -> Result<Vec<Container>> {
        Ok(self.list_all()?.into_iter().filter(|c| other_owner(c).is_none()).collect())
    }

    /// Every tent box on the engine, other users' too (`tent list` marks those).
    pub fn list_all(&self) -> Result<Vec<Container>> {
        self.engine.list_labelled(labels::FORMAT)
    }

    /// The tent box of that name; errors when it is missing or not tent's.
    pub fn get(&self, name: &str) -> Result<Container> {
        super::validate_name(name)?;
        let container = self
            .engine
            .inspect(name)?
            .ok_or_else(|| Error::NoSuchBox { name: name.into(), engine: self.engine.describe() })?;
        // An image's labels do not make a box (engine::json::inherited).
        if container.label(labels::FORMAT).is_none() || self.engine.labels_inherited(&container)? {
            return Err(Error::BoxExists { name: name.into(), engine: self.engine.describe(), is_tent: false });
        }
        if let Some(uid) = other_owner(&container) {
            return Err(Error::OtherUsersBox { name: name.into(), uid: uid.into() });
        }
        Ok(container)
    }

    /// Makes a box and, with `start`, starts it and waits for its init. On any
    /// failure or Ctrl-C, the half-made box is removed again.
    pub fn create(&self, name: &str, spec: &BoxSpec, start: bool) -> Result<()> {
        self.create_from(name, spec, start, None)
    }

    /// `create`, but from `image` (a snapshot, a loaded box) instead of the
    /// spec's image, which the box's spec keeps naming.
    pub fn create_from(&self, name: &str, spec: &BoxSpec, start: bool, image: Option<&str>) -> Result<()> {
        super::validate_name(name)?;
        super::spec::validate_image(&spec.image)?;
        if super::remote::is_remote(self.engine) {
            return self.create_remote(name, spec, start, image);
        }
        let state = self.state(name);
        // Two creates of one name: the second waits here, then finds the box.
        let _lock = crate::files::lock(&crate::files::lock_path(&self.paths.scope_dir(self.engine.scope()), name))?;
        if let Some(existing) = self.engine.inspect(name)? {
            return Err(Error::BoxExists {
                name: name.into(),
                engine: self.engine.describe(),
                is_tent: existing.label(labels::FORMAT).is_some(),
            });
        }
        self.check_options(name, spec)?;
        let nvidia = if spec.nvidia { Some(self.find_nvidia(name)?) } else { None };
        // A snapshot or a loaded box brings its own image.
        if image.is_none() {
            if spec.pull {
                self.pull(&spec.image, spec.platform.as_deref())?;
            } else {
                self.ensure_image_for(&spec.image, spec.platform.as_deref())?;
            }
        }

        let host = HostFacts::read();
        if let Some(home) = &spec.home {
            make_own_home(home, name)?;
        }
        let mut args = self.container_argv(name, name, spec, image, &host, &state.dir, nvidia.as_ref())?;
        state.remove()?;
        state.create_under(&self.paths.state)?;
        self.write_box_files(&state, spec, &host)?;
        if spec.root && !spec.sudo_nopasswd {
            let marker = state.dir.join(NEEDS_PASSWORD_FILE);
            fs::write(&marker, "").map_err(|e| Error::io(&marker, e))?;
        }

        interrupt::catch();
        if start {
            // One `run --detach` instead of `create` and `start`: one engine
            // client less on the way to the first command.
            args[0] = "run".into();
            args.insert(1, "--detach".into());
        }
        self.printer.verbose(format!("$ {}", crate::shell::words(&self.engine.argv(&args))));
        let follower = LogFollower::from_end(state.log_path());
        let output = self.engine.output(&args)?;
        if !output.status.success() {
            let failure = self.engine.failure(&args, &output);
            if failure.stderr.contains("already in use") {
                let _ = state.remove();
                return Err(Error::BoxExists { name: name.into(), engine: self.engine.describe(), is_tent: true });
            }
            // The name was free under our lock: whatever `run` made is ours.
            self.discard(name, &state);
            return Err(Error::Engine { what: format!("could not create box {name:?}"), failure });
        }
        if interrupt::interrupted() {
            self.discard(name, &state);
            return Err(Error::Interrupted);
        }
        if start && let Err(err) = init::wait_ready(self.engine, name, &state, follower, self.printer) {
            let kept = self.discard(name, &state);
            return Err(match (err, kept) {
                (Error::NotReady { name, reason, log_tail, .. }, Some(log)) => {
                    Error::NotReady { name, reason: format!("{reason}; the box was removed again"), log_tail, log }
                }
                (err, _) => err,
            });
        }
        Ok(())
    }

    /// The engine argv that makes box `name` as container `container`: from
    /// the spec's image, or from `image` (a snapshot, a loaded box) with the
    /// spec still naming its own. Writes this build's init scripts where the
    /// box mounts them. Shared by create and by the rollback's new container.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn container_argv(
        &self,
        name: &str,
        container: &str,
        spec: &BoxSpec,
        image: Option<&str>,
        host: &HostFacts,
        state_dir: &Path,
        nvidia: Option<&super::nvidia::Nvidia>,
    ) -> Result<Vec<String>> {
        // Every box mounts folders of this machine: never on another endpoint.
        self.engine.require_local(&format!("making the container of box {name:?}"))?;
        let hash = init::lib_hash();
        let lib = init::ensure_lib(self.paths, &hash)?;
        let host_link = container::HostLink::new(self.paths, spec, self.host_commands);
        let plan = container::CreatePlan {
            name,
            spec,
            host,
            lib_dir: &lib,
            lib_hash: &hash,
            state_dir,
            nvidia,
            host_link: host_link.as_ref(),
        };
        Ok(match image {
            Some(image) => container::create_as(self.engine, &plan, container, image),
            None => container::create(self.engine, &plan),
        })
    }

    /// Removes a half-made box; keeps its init log for the error message.
    fn discard(&self, name: &str, state: &BoxState) -> Option<PathBuf> {
        let _ = self.engine.output(&["rm", "--force", name]);
        let kept = self.paths.failed_log(self.engine.scope(), name);
        let saved = (|| {
            use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
            let logs = kept.parent().unwrap_or(Path::new("/"));
            fs::DirBuilder::new().recursive(true).mode(0o700).create(logs)?;
            // Only a regular file (a box can plant a link to /dev/zero there),
            // its last few MiB at most.
            let mut from = fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
                .open(state.log_path())?;
            let meta = from.metadata()?;
            if !meta.is_file() {
                return Err(std::io::ErrorKind::InvalidData.into());
            }
            std::io::Seek::seek(&mut from, std::io::SeekFrom::Start(meta.len().saturating_sub(FAILED_LOG_LIMIT)))?;
            // The user's alone: a log may hold what the box printed.
            let _ = fs::remove_file(&kept);
            let mut to = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&kept)?;
            std::io::copy(&mut std::io::Read::take(&mut from, FAILED_LOG_LIMIT), &mut to)
        })()
        .is_ok();
        let _ = state.remove();
        saved.then_some(kept)
    }

    fn write_box_files(&self, state: &BoxState, spec: &BoxSpec, host: &HostFacts) -> Result<()> {
        let home = spec.home.clone().unwrap_or_else(|| host.user.home.clone());
        let path = state.dir.join(BOX_HOME_FILE);
        fs::write(&path, home.as_os_str().as_encoded_bytes()).map_err(|e| Error::io(&path, e))?;
        write_hooks(state, spec)
    }

    /// Refuses, before anything is made, the options this engine or host
    /// cannot give the box, with the reason.
    fn check_options(&self, name: &str, spec: &BoxSpec) -> Result<()> {
        super::engine_args::check(&spec.engine_args, &spec.unshare).map_err(|why| {
            Error::usage(why, Some("see `tent create --help` for what --engine-arg may carry".to_string()))
        })?;
        if spec.init && self.engine.is_podman() && !self.engine.rootful() && !cgroup_v2() {
            return Err(Error::usage(
                format!(
                    "box {name:?}: --init needs the unified cgroup hierarchy (cgroup v2) with rootless podman, \
                     and this host mounts cgroup v1 (hybrid): systemd cannot run as PID 1 in a rootless box here"
                ),
                Some(
                    "make it rootful with `tent --root create --init ...`, or boot the host with \
                     systemd.unified_cgroup_hierarchy=1"
                        .to_string(),
                ),
            ));
        }
        Ok(())
    }

    pub(super) fn find_nvidia(&self, name: &str) -> Result<super::nvidia::Nvidia> {
        let root = super::nvidia::host_root();
        let found = super::nvidia::discover(&root);
        if !found.found() {
            return Err(Error::usage(
                format!(
                    "box {name:?}: --nvidia found no NVIDIA driver on the host (no CDI spec in /etc/cdi or /var/run/cdi, \
                     no libnvidia-*/libcuda* under {}usr/lib*)",
                    root.display().to_string().trim_end_matches('/').to_string() + "/"
                ),
                Some("install the NVIDIA driver on the host, or create the box without --nvidia".to_string()),
            ));
        }
        Ok(found)
    }

    /// Pulls the image when the engine does not have it, showing the engine's progress.
    pub fn ensure_image(&self, image: &str) -> Result<()> {
        self.ensure_image_for(image, None)
    }

    fn ensure_image_for(&self, image: &str, platform: Option<&str>) -> Result<()> {
        super::spec::validate_image(image)?;
        if self.engine.image_exists(image)? {
            return Ok(());
        }
        self.pull(image, platform)
    }

    /// Pulls the image (again), showing the engine's progress.
    pub fn pull(&self, image: &str, platform: Option<&str>) -> Result<()> {
        self.printer.step(format!("pulling {image}"));
        let mut args = vec!["pull"];
        if let Some(platform) = platform {
            args.extend(["--platform", platform]);
        }
        args.push(image);
        let status = self.engine.command(&args).stdin(std::process::Stdio::null()).status();
        match status {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(Error::ImageUnavailable {
                image: image.into(),
                failure: crate::error::CommandFailure {
                    argv: self.engine.argv(&args),
                    status: s.code(),
                    stderr: "(the engine's message is above)".into(),
                },
            }),
            Err(e) => Err(Error::spawn(&self.engine.path, &e)),
        }
    }

    /// Starts a box when it is stopped and waits until its init is ready.
    pub fn start(&self, name: &str, known: Option<&Container>) -> Result<()> {
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
        if super::remote::is_remote(self.engine) {
            return self.start_remote(name, container);
        }
        let state = self.state(name);
        if container.running() {
            if state.is_ready() {
                return Ok(());
            }
            // Running but not ready: another tent started it, or it provisions.
            let follower = LogFollower::from_end(state.log_path());
            return init::wait_ready(self.engine, name, &state, follower, self.printer);
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
        if let Err(err) = self.engine.capture(&what, &["start", name]) {
            // The OCI runtime sometimes fails a start that follows a stop
            // closely, while the engine still cleans up after the last run
            // (runc: "error during container init: %!w(<nil>)"; podman
            // #2112 is the same kind). One more try, a moment later, starts
            // it; a box that fails twice reports the second failure.
            let running = matches!(self.engine.inspect(name), Ok(Some(c)) if c.running());
            if !transient_start_failure(&err) || running {
                return Err(err);
            }
            self.printer.verbose(format!("{name}: the engine failed to start it; trying once more"));
            std::thread::sleep(Duration::from_millis(500));
            self.engine.capture(&what, &["start", name])?;
        }
        init::wait_ready(self.engine, name, &state, follower, self.printer)
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
        if !self.engine.is_local() {
            // Another endpoint's box: its processes, its engine's exec
            // clients and its readiness files are not on this machine, and
            // whatever local ones look the same belong to other boxes.
            self.engine.capture(&format!("could not stop box {name:?}"), &["stop", name])?;
            return Ok(0);
        }
        let state = self.state(name);
        let init = self.engine_init(name)?;
        let end = |grace| init.as_ref().map_or(0, |init| join::end_box_processes(init, grace));
        let mut ended = end(Duration::from_secs(3));
        let args = ["stop", name];
        let output = self.engine.output(&args)?;
        if !output.status.success() {
            ended += end(Duration::from_secs(3));
            self.engine.capture(&format!("could not stop box {name:?}"), &args)?;
        }
        // A process that joined while the init was stopping.
        ended += end(Duration::from_millis(500));
        // The engine's exec clients of this box on the host: Docker's stays
        // waiting for a container that is gone (`docker exec -i`).
        ended += end_exec_clients(&self.engine.path, name);
        state.reset_run_files();
        Ok(ended)
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
        let Some(pid) = self.engine.inspect(name)?.and_then(|c| c.pid) else { return Ok(None) };
        match join::EngineInit::new(pid) {
            Ok(init) => Ok(Some(init)),
            Err(why) => {
                self.printer.verbose(format!("{name}: only the engine stops it: {why}"));
                Ok(None)
            }
        }
    }

    /// Removes the container and tent's own state of it. Exports are the
    /// caller's business (they live in the export receipts). Only ever one of
    /// the user's own tent boxes: the owner is checked right before the
    /// removal, whatever the caller checked earlier.
    pub fn remove(&self, name: &str) -> Result<()> {
        match self.get(name) {
            Ok(_) | Err(Error::NoSuchBox { .. }) => {}
            Err(err) => return Err(err),
        }
        let output = self.engine.output(&["rm", "--force", name])?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            if !crate::engine::json::is_no_such_container(&stderr) {
                return Err(Error::Engine {
                    what: format!("could not remove box {name:?}"),
                    failure: self.engine.failure(&["rm", "--force", name], &output),
                });
            }
        }
        if super::remote::is_remote(self.engine) {
            // Its home volume stays: it is every remote box's home there.
            return Ok(());
        }
        self.state(name).remove()
    }
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

/// The marker tent leaves in a `--home` directory it made, holding the box's
/// name: `rm --delete-home` deletes only a directory that has it.
pub const HOME_MARKER: &str = ".tent-home";

/// Makes a box's own home. Only a directory tent makes here gets the marker;
/// a directory that already existed is the user's and is never deleted.
pub fn make_own_home(home: &Path, name: &str) -> Result<()> {
    if fs::symlink_metadata(home).is_ok() {
        return Ok(());
    }
    fs::create_dir_all(home).map_err(|e| Error::io(home, e))?;
    let marker = home.join(HOME_MARKER);
    fs::write(&marker, format!("{name}\n")).map_err(|e| Error::io(&marker, e))
}

/// Whether `rm --delete-home` may delete `home`, box `name`'s own home: never
/// `/`, the user's home or a directory above it, a link, or a directory that
/// lacks tent's marker for this very box (tent did not make it).
pub fn check_own_home(home: &Path, name: &str, user_home: &Path) -> Result<()> {
    let refuse = |why: &str| {
        Err(Error::usage(
            format!("will not delete {} for box {name:?}: {why}", home.display()),
            Some(format!("nothing was removed; remove the box without --delete-home: `tent rm {name}`")),
        ))
    };
    let canonical = |p: &Path| fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    if !home.is_absolute() {
        return refuse("it is not an absolute path");
    }
    let real = canonical(home);
    if real == Path::new("/") || canonical(user_home).starts_with(&real) || user_home.starts_with(home) {
        return refuse("it is your home directory or holds it");
    }
    match fs::symlink_metadata(home) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return refuse("it is not a directory"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return refuse("it does not exist"),
        Err(e) => return Err(Error::io(home, e)),
    }
    let marker = crate::files::read_text_bounded(&home.join(HOME_MARKER), 4096);
    match marker.as_deref().map(str::trim) {
        Some(owner) if owner == name => Ok(()),
        Some(_) => refuse(&format!("its {HOME_MARKER} marker names another box")),
        None => refuse(&format!("tent did not make it (no {HOME_MARKER} marker)")),
    }
}

/// The uid a box was made for, when that is not the user running tent (a
/// box on a shared store: Docker, rootful podman). A box without the label
/// counts as the user's own, as `get` always did.
pub fn other_owner(container: &Container) -> Option<&str> {
    let me = rustix::process::getuid().as_raw().to_string();
    container.label(labels::UID).filter(|uid| *uid != me)
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

/// True when the host mounts the unified cgroup hierarchy only (v2), which
/// rootless systemd needs.
fn cgroup_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
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

/// Writes the hooks where the box's init runs them.
pub fn write_hooks(state: &BoxState, spec: &BoxSpec) -> Result<()> {
    let dir = state.hooks_dir();
    for (file, hooks) in [("pre-init", &spec.pre_init_hooks), ("init", &spec.init_hooks), ("start", &spec.start_hooks)]
    {
        let path = dir.join(file);
        if hooks.is_empty() {
            let _ = fs::remove_file(&path);
            continue;
        }
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let text = format!("#!/bin/sh\n# Written by tent from the box's manifest.\n{}", hook_script(hooks));
        fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
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

    #[test]
    fn commands_in_docker_top_are_roots_other_than_the_init() {
        let top = "PID PPID\n100 90\n101 100\n102 101\n200 95\n201 200\n300 96\n";
        assert_eq!(commands_in_top(top), 2, "the init 100 with its tree, and two exec'd commands");
        assert_eq!(commands_in_top("PID PPID\n100 90\n101 100\n"), 0);
        assert_eq!(commands_in_top(""), 0);
    }

    use super::*;

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

    #[test]
    fn hooks_are_written_and_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let state = BoxState::new(dir.path().to_path_buf());
        let spec = BoxSpec { init_hooks: vec!["echo hi > /x".into()], ..Default::default() };
        write_hooks(&state, &spec).unwrap();
        let text = fs::read_to_string(dir.path().join("hooks/init")).unwrap();
        assert!(text.ends_with("set -e\necho hi > /x\n"), "{text}");
        assert!(!dir.path().join("hooks/start").exists());
        write_hooks(&state, &BoxSpec::default()).unwrap();
        assert!(!dir.path().join("hooks/init").exists());
    }

    #[test]
    fn only_a_home_tent_made_for_this_box_may_be_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let user_home = dir.path().join("home/me");
        fs::create_dir_all(&user_home).unwrap();
        // The user's home, its parents and / are refused, marker or not.
        fs::write(user_home.join(HOME_MARKER), "dev\n").unwrap();
        for bad in [user_home.clone(), dir.path().join("home"), dir.path().to_path_buf(), PathBuf::from("/")] {
            assert!(check_own_home(&bad, "dev", &user_home).is_err(), "{}", bad.display());
        }
        assert!(check_own_home(Path::new("rel"), "dev", &user_home).is_err());
        // A directory tent made for this box: allowed; for another box: refused.
        let own = dir.path().join("boxes/dev");
        make_own_home(&own, "dev").unwrap();
        check_own_home(&own, "dev", &user_home).unwrap();
        assert!(check_own_home(&own, "other", &user_home).is_err());
        // A directory that already existed gets no marker and is refused.
        let existing = dir.path().join("projects");
        fs::create_dir_all(&existing).unwrap();
        make_own_home(&existing, "dev").unwrap();
        assert!(!existing.join(HOME_MARKER).exists());
        assert!(check_own_home(&existing, "dev", &user_home).is_err());
        // A link to a marked directory is refused too.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&own, &link).unwrap();
        assert!(check_own_home(&link, "dev", &user_home).is_err());
        assert!(check_own_home(&dir.path().join("missing"), "dev", &user_home).is_err());
    }
}
