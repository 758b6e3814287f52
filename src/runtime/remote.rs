//! Making and starting a box on a remote engine (`boxes::remote` has the
//! argv, the scripts and the refusals; docs/remote.md).

use std::io::BufRead;
use std::path::PathBuf;

use super::{Boxes, Source};
use crate::boxes::container::STATE_IN_BOX;
use crate::boxes::remote::{LABEL, Probe, RemotePlan, create_argv, home_volume, parse_probe, ready_probe, refusal};
use crate::boxes::{BoxSpec, HostUser};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::progress::{Activity, Progress};

/// Waits until the remote box's init is ready, showing its progress lines.
pub(super) fn wait_ready(engine: &Engine, name: &str, progress: &dyn Progress) -> Result<()> {
    let timeout = super::init::ready_timeout().as_secs();
    // Made at the first progress line: a box that is ready says nothing.
    let mut activity: Option<Box<dyn Activity + '_>> = None;
    let args = ready_probe(name, timeout);
    progress.detail(&format!("$ {} (the ready probe)", crate::shell::words(&engine.argv(&args[..4]))));
    let mut child = engine.spawn_piped(&args)?;
    let mut rest: Vec<String> = Vec::new();
    if let Some(out) = child.stdout.take() {
        // The box wrote these lines: bounded, and no terminal escapes.
        for line in std::io::BufReader::new(std::io::Read::take(out, 4 << 20)).lines().map_while(|l| l.ok()) {
            let line = crate::text::sanitize(&line);
            match line.strip_prefix("==> ") {
                Some(line_progress) if rest.is_empty() => {
                    let activity = activity.get_or_insert_with(|| progress.activity(&format!("starting {name}")));
                    activity.progress(&format!("{name}: {line_progress}"));
                }
                _ => rest.push(line.into_owned()),
            }
        }
    }
    let output = child.wait_with_output().map_err(|e| Error::spawn(&engine.path, &e))?;
    if let Some(activity) = activity {
        activity.finish();
    }
    let log = PathBuf::from(format!("{STATE_IN_BOX}/init.log in the box"));
    let not_ready =
        |reason: String, log_tail: String| Error::NotReady { name: name.into(), reason, log_tail, log: log.clone() };
    match parse_probe(&rest) {
        Some(Probe::Ready) => Ok(()),
        Some(Probe::Failed { reason, log_tail }) => Err(not_ready(reason, log_tail)),
        Some(Probe::Timeout { log_tail }) => Err(not_ready(
            format!(
                "no answer from its init after {timeout} s (set {} to wait longer)",
                crate::env_vars::TENT_READY_TIMEOUT
            ),
            log_tail,
        )),
        None => {
            // The exec itself failed: the box stopped, or the engine is gone.
            let logs = engine.output(&["logs", "--tail", "20", name]).ok();
            let text = logs
                .map(|o| format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
                .unwrap_or_default();
            let stderr = String::from_utf8_lossy(&output.stderr);
            Err(not_ready(
                format!("the engine could not ask it ({})", crate::text::sanitize(stderr.trim())),
                crate::text::sanitize(text.trim()).into_owned(),
            ))
        }
    }
}

impl Boxes<'_> {
    /// `create_from` on a remote engine: see the module's documentation.
    pub(super) fn create_remote(&self, name: &str, spec: &BoxSpec, start: bool, image: Option<&str>) -> Result<()> {
        if let Some((why, instead)) = refusal(spec) {
            return Err(Error::usage(format!("box {name:?} on {}: {why}", self.engine.describe()), Some(instead)));
        }
        crate::boxes::engine_args::check(&spec.engine_args, &spec.unshare).map_err(|why| {
            Error::usage(why, Some("see `tent create --help` for what --engine-arg may carry".to_string()))
        })?;
        let looked_up = self.refuse_taken_name(name, spec, image)?;
        let image_id = self.source_image(spec, image, looked_up)?;
        let mut args = self.remote_argv(name, name, spec, Source { image, id: image_id.as_deref() })?;
        crate::interrupt::catch();
        if start {
            args[0] = "run".into();
            args.insert(1, "--detach".into());
        }
        self.progress.detail(&format!("$ {}", crate::shell::words(&self.engine.argv(&args[..args.len() - 4]))));
        let output = self.engine.output(&args)?;
        if !output.status.success() {
            let failure = self.engine.failure(&args[..args.len() - 4], &output);
            if failure.stderr.contains("already in use") {
                return Err(Error::BoxExists { name: name.into(), engine: self.engine.describe(), is_tent: true });
            }
            let _ = self.engine.output(&["rm", "--force", "--", name]);
            return Err(Error::Engine { what: format!("could not create box {name:?}"), failure });
        }
        if crate::interrupt::interrupted() {
            let _ = self.engine.output(&["rm", "--force", "--", name]);
            return Err(Error::Interrupted);
        }
        if start && let Err(err) = wait_ready(self.engine, name, self.progress) {
            let _ = self.engine.output(&["rm", "--force", "--", name]);
            return Err(match err {
                Error::NotReady { name, reason, log_tail, log } => {
                    Error::NotReady { name, reason: format!("{reason}; the box was removed again"), log_tail, log }
                }
                err => err,
            });
        }
        Ok(())
    }

    /// The engine argv that makes remote box `name` as container
    /// `container` (`create_argv`), for this user; shared by create and the
    /// rollback's new container.
    pub(crate) fn remote_argv(
        &self,
        name: &str,
        container: &str,
        spec: &BoxSpec,
        source: Source<'_>,
    ) -> Result<Vec<String>> {
        if let Some((why, instead)) = refusal(spec) {
            return Err(Error::usage(format!("box {name:?} on {}: {why}", self.engine.describe()), Some(instead)));
        }
        let user = HostUser::current();
        let volume = home_volume(&user.name).ok_or_else(|| {
            Error::usage(
                format!("your user name {:?} is not a volume name, so a remote box cannot have its home", user.name),
                Some("run tent on that machine itself (ssh to it)".into()),
            )
        })?;
        let hash = crate::boxes::scripts::lib_hash();
        let plan = RemotePlan { name, spec, user: &user, volume: &volume, lib_hash: &hash, image_id: source.id };
        Ok(create_argv(self.engine, &plan, container, source.image))
    }

    /// `start` on a remote engine: the engine's start when stopped, then the
    /// ready probe (quick when the box is ready already).
    pub(super) fn start_remote(&self, name: &str, container: &crate::engine::json::Container) -> Result<()> {
        if container.label(LABEL).is_none() {
            return Err(Error::usage(
                format!(
                    "box {name:?} on {} was not made by tent for a remote engine: tent has no init in it to ask \
                     or to run commands through",
                    self.engine.describe()
                ),
                Some(format!(
                    "make it again there with `tent rm {name}` and `tent create {name}`, or use the engine's own \
                     `exec` on it"
                )),
            ));
        }
        if !container.running() {
            self.engine.capture(&format!("could not start box {name:?}"), &["start", "--", name])?;
        }
        wait_ready(self.engine, name, self.progress)
    }
}
