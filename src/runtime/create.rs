//! Making a box: checks, the image, the container's argv with this build's
//! scripts, the state folder and the hooks; a failed or interrupted create
//! removes what it made again.

use std::fs;
use std::path::{Path, PathBuf};

use super::state::LogFollower;
use super::{BOX_HOME_FILE, BoxState, Boxes, NEEDS_PASSWORD_FILE, init};
use crate::boxes::scripts::{hook_script, lib_hash};
use crate::boxes::{BoxSpec, HostFacts, container, labels, nvidia};
use crate::engine::json::Container;
use crate::error::{Error, Result};
use crate::interrupt;

/// The most of a failed box's init log kept in tent's logs.
const FAILED_LOG_LIMIT: u64 = 4 << 20;

/// The image a new container is made from: `image` (a snapshot, a loaded
/// box), or None for the spec's own; `id`, that image's id when known
/// (the box's `tent.image-id` label).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Source<'a> {
    pub image: Option<&'a str>,
    pub id: Option<&'a str>,
}

impl Boxes<'_> {
    /// Makes a box and, with `start`, starts it and waits for its init. On any
    /// failure or Ctrl-C, the half-made box is removed again.
    pub fn create(&self, name: &str, spec: &BoxSpec, start: bool) -> Result<()> {
        self.create_from(name, spec, start, None)
    }

    /// `create`, but from `image` (a snapshot, a loaded box) instead of the
    /// spec's image, which the box's spec keeps naming.
    pub fn create_from(&self, name: &str, spec: &BoxSpec, start: bool, image: Option<&str>) -> Result<()> {
        crate::boxes::validate_name(name)?;
        crate::boxes::spec::validate_image(&spec.image)?;
        if crate::boxes::remote::is_remote(self.engine) {
            return self.create_remote(name, spec, start, image);
        }
        let state = self.state(name);
        // Two creates of one name: the second waits here, then finds the box.
        let _lock = self.box_lock(name)?;
        let looked_up = self.refuse_taken_name(name, spec, image)?;
        self.check_options(name, spec)?;
        let nvidia = if spec.nvidia { Some(self.find_nvidia(name)?) } else { None };
        let image_id = self.source_image(spec, image, looked_up)?;

        let host = HostFacts::read();
        if let Some(home) = &spec.home {
            super::make_own_home(home, name)?;
        }
        let source = Source { image, id: image_id.as_deref() };
        let mut args = self.container_argv(name, name, spec, source, &host, &state.dir, nvidia.as_ref())?;
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
        self.progress.detail(&format!("$ {}", crate::shell::words(&self.engine.argv(&args))));
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
        if start && let Err(err) = init::wait_ready(self.engine, name, &state, follower, self.progress) {
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

    /// The container named `name`, and meanwhile, in a second engine
    /// process, the id of the image the box would be made from (issue 24:
    /// two engine clients one after the other were a fifth of a create on
    /// Docker). None for the id when it is to be pulled first (`pull`), or
    /// when the lookup failed: [`Self::source_image`] then asks itself.
    fn inspect_with_image_id(
        &self,
        name: &str,
        spec: &BoxSpec,
        image: Option<&str>,
    ) -> (Result<Option<Container>>, Option<String>) {
        if image.is_none() && spec.pull {
            return (self.engine.inspect(name), None);
        }
        let wanted = image.unwrap_or(&spec.image);
        let (id, existing) = crate::concurrent::at_once(|| self.engine.image_id(wanted), || self.engine.inspect(name));
        (existing, id.ok().flatten())
    }

    /// Refuses a new box `name` when a container has that name; else the id
    /// of the image it would be made from, when `inspect_with_image_id`
    /// found it on the way.
    pub(crate) fn refuse_taken_name(&self, name: &str, spec: &BoxSpec, image: Option<&str>) -> Result<Option<String>> {
        let (existing, looked_up) = self.inspect_with_image_id(name, spec, image);
        if let Some(existing) = existing? {
            return Err(Error::BoxExists {
                name: name.into(),
                engine: self.engine.describe(),
                is_tent: existing.label(labels::FORMAT).is_some(),
            });
        }
        Ok(looked_up)
    }

    /// The image a new box is made from, there (with `pull` pulled again,
    /// else pulled when missing), and its id when the engine gives it: a
    /// snapshot or a loaded box brings its own `image`, already there.
    /// `looked_up` is its id when the caller found it already.
    pub(crate) fn source_image(
        &self,
        spec: &BoxSpec,
        image: Option<&str>,
        looked_up: Option<String>,
    ) -> Result<Option<String>> {
        if looked_up.is_some() {
            return Ok(looked_up);
        }
        match image {
            Some(image) => self.engine.image_id(image),
            None if spec.pull => {
                self.pull(&spec.image, spec.platform.as_deref())?;
                self.engine.image_id(&spec.image)
            }
            None => self.ensure_image_for(&spec.image, spec.platform.as_deref()),
        }
    }

    /// The engine argv that makes box `name` as container `container`: from
    /// the spec's image, or from `source.image` (a snapshot, a loaded box)
    /// with the spec still naming its own. Writes this build's init scripts
    /// where the box mounts them. Shared by create and by the rollback's new
    /// container.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn container_argv(
        &self,
        name: &str,
        container: &str,
        spec: &BoxSpec,
        source: Source<'_>,
        host: &HostFacts,
        state_dir: &Path,
        nvidia: Option<&nvidia::Nvidia>,
    ) -> Result<Vec<String>> {
        // Every box mounts folders of this machine: never on another endpoint.
        self.engine.require_local(&format!("making the container of box {name:?}"))?;
        let hash = lib_hash();
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
            image_id: source.id,
        };
        Ok(match source.image {
            Some(image) => container::create_as(self.engine, &plan, container, image),
            None => container::create(self.engine, &plan),
        })
    }

    /// Removes a half-made box; keeps its init log for the error message.
    fn discard(&self, name: &str, state: &BoxState) -> Option<PathBuf> {
        let _ = self.engine.output(&crate::engine::argv::rm_force(name));
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

    pub(crate) fn write_box_files(&self, state: &BoxState, spec: &BoxSpec, host: &HostFacts) -> Result<()> {
        let home = spec.home.clone().unwrap_or_else(|| host.user.home.clone());
        let path = state.dir.join(BOX_HOME_FILE);
        fs::write(&path, home.as_os_str().as_encoded_bytes()).map_err(|e| Error::io(&path, e))?;
        state.set_stops_when_idle(spec.stop_when_idle.is_some())?;
        write_hooks(state, spec)
    }

    /// Refuses, before anything is made, the options this engine or host
    /// cannot give the box, with the reason.
    fn check_options(&self, name: &str, spec: &BoxSpec) -> Result<()> {
        crate::boxes::engine_args::check(&spec.engine_args, &spec.unshare).map_err(|why| {
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

    pub(crate) fn find_nvidia(&self, name: &str) -> Result<nvidia::Nvidia> {
        let root = nvidia::host_root();
        let found = nvidia::discover(&root);
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
        self.ensure_image_for(image, None).map(drop)
    }

    /// Pulls `image` when the engine lacks it; its id, when the engine gives it.
    fn ensure_image_for(&self, image: &str, platform: Option<&str>) -> Result<Option<String>> {
        crate::boxes::spec::validate_image(image)?;
        if let Some(id) = self.engine.image_id(image)? {
            return Ok(Some(id));
        }
        self.pull(image, platform)?;
        self.engine.image_id(image)
    }

    /// Pulls the image (again), showing the engine's progress.
    pub fn pull(&self, image: &str, platform: Option<&str>) -> Result<()> {
        self.progress.step(&format!("pulling {image}"));
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
}

/// True when the host mounts the unified cgroup hierarchy only (v2), which
/// rootless systemd needs.
fn cgroup_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
