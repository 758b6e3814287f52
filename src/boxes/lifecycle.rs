//! Making, starting and removing boxes: the steps shared by `create`,
//! `enter`, `rm`, `apply` and `bake`. A failed or interrupted create removes
//! what it made; nothing here touches the user's files.

use std::fs;
use std::path::{Path, PathBuf};

use super::container;
use super::init;
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
}

/// Facts about a box kept beside its state, for the warm path of `enter`,
/// which must not ask the engine (docs/internals.md).
pub const BOX_HOME_FILE: &str = "home";

impl Boxes<'_> {
    pub fn state(&self, name: &str) -> BoxState {
        BoxState::new(self.paths.box_state(self.engine.scope().as_str(), name))
    }

    /// Every tent box on the engine.
    pub fn list(&self) -> Result<Vec<Container>> {
        self.engine.list_labelled(labels::FORMAT)
    }

    /// The tent box of that name; errors when it is missing or not tent's.
    pub fn get(&self, name: &str) -> Result<Container> {
        super::validate_name(name)?;
        let container = self
            .engine
            .inspect(name)?
            .ok_or_else(|| Error::NoSuchBox { name: name.into(), engine: self.engine.describe() })?;
        if container.label(labels::FORMAT).is_none() {
            return Err(Error::BoxExists { name: name.into(), engine: self.engine.describe(), is_tent: false });
        }
        let me = rustix::process::getuid().as_raw().to_string();
        if let Some(uid) = container.label(labels::UID).filter(|uid| *uid != me) {
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
        let state = self.state(name);
        // Two creates of one name: the second waits here, then finds the box.
        let _lock = crate::files::lock(&crate::files::lock_path(
            &self.paths.state.join("boxes").join(self.engine.scope().as_str()),
            name,
        ))?;
        if let Some(existing) = self.engine.inspect(name)? {
            return Err(Error::BoxExists {
                name: name.into(),
                engine: self.engine.describe(),
                is_tent: existing.label(labels::FORMAT).is_some(),
            });
        }
        if image.is_none() {
            self.ensure_image(&spec.image)?;
        }

        let host = HostFacts::read();
        if let Some(home) = &spec.home {
            fs::create_dir_all(home).map_err(|e| Error::io(home, e))?;
        }
        let hash = init::lib_hash();
        let lib = init::ensure_lib(self.paths, &hash)?;
        state.remove()?;
        state.create()?;
        self.write_box_files(&state, spec, &host)?;

        interrupt::catch();
        let plan =
            container::CreatePlan { name, spec, host: &host, lib_dir: &lib, lib_hash: &hash, state_dir: &state.dir };
        let mut args = match image {
            Some(image) => container::create_as(self.engine, &plan, name, image),
            None => container::create(self.engine, &plan),
        };
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

    /// Removes a half-made box; keeps its init log for the error message.
    fn discard(&self, name: &str, state: &BoxState) -> Option<PathBuf> {
        let _ = self.engine.output(&["rm", "--force", name]);
        let kept = self.paths.state.join("logs").join(format!("{name}.{}.failed.log", self.engine.scope().as_str()));
        let saved = fs::create_dir_all(kept.parent().unwrap_or(Path::new("/")))
            .and_then(|()| fs::copy(state.log_path(), &kept))
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

    /// Pulls the image when the engine does not have it, showing the engine's progress.
    pub fn ensure_image(&self, image: &str) -> Result<()> {
        if self.engine.image_exists(image)? {
            return Ok(());
        }
        self.printer.step(format!("pulling {image}"));
        let args = ["pull", image];
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
        state.create()?;
        state.reset_run_files();
        let follower = LogFollower::from_end(state.log_path());
        self.engine.capture(&format!("could not start box {name:?}"), &["start", name])?;
        init::wait_ready(self.engine, name, &state, follower, self.printer)
    }

    pub fn stop(&self, name: &str) -> Result<()> {
        self.engine.capture(&format!("could not stop box {name:?}"), &["stop", name])?;
        self.state(name).reset_run_files();
        Ok(())
    }

    /// Removes the container and tent's own state of it. Exports are the
    /// caller's business (they live in the export receipts).
    pub fn remove(&self, name: &str) -> Result<()> {
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
        self.state(name).remove()
    }
}

/// Writes the manifest hooks where the box's init runs them.
pub fn write_hooks(state: &BoxState, spec: &BoxSpec) -> Result<()> {
    let dir = state.hooks_dir();
    for (file, hooks) in [("init", &spec.init_hooks), ("start", &spec.start_hooks)] {
        let path = dir.join(file);
        if hooks.is_empty() {
            let _ = fs::remove_file(&path);
            continue;
        }
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut text = String::from("#!/bin/sh\n# Written by tent from the box's manifest.\nset -e\n");
        for hook in hooks {
            text.push_str(hook);
            text.push('\n');
        }
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
