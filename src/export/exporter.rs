//! The `Exporter`: one box's exports, and what every kind shares: sh in the
//! box, reading files out of it, and writing and recording an export all or
//! nothing (`commit`). Each kind adds its own methods (`bins`, `apps`,
//! `entry`).

use std::path::{Path, PathBuf};

use super::host_files::{read_existing, refresh_menus, remove_files};
use super::icons;
use super::owner::{Verdict, verdict};
use super::receipt::{self, Export, Receipt, Transaction};
use crate::boxes::HostUser;
use crate::engine::{Engine, Scope};
use crate::error::{Error, Result};
use crate::paths::Paths;

/// The most a look into the box (`Exporter::box_sh`) may print: an app's
/// desktop files and every size of its icons are a few MiB.
const BOX_OUTPUT_LIMIT: u64 = 64 << 20;

/// The result of one export.
#[derive(Debug)]
pub struct Outcome {
    pub export: Export,
    /// True when it replaced an earlier export of the same name.
    pub replaced: bool,
    pub warnings: Vec<String>,
    /// Details for --verbose, such as files from the box that were skipped.
    pub notes: Vec<String>,
}

/// Exports from one box. The box must be running (the command starts it).
pub struct Exporter<'a> {
    pub engine: &'a Engine,
    pub paths: &'a Paths,
    pub box_name: &'a str,
    /// The tent binary the exported files run, absolute.
    pub tent: String,
    /// `export.name_suffix`, with `{box}` not yet replaced.
    pub name_suffix: String,
    pub force: bool,
    /// Keep the app's MimeType key (`tent export --mime-types`).
    pub mime_types: bool,
}

impl Exporter<'_> {
    pub(super) fn scope(&self) -> Scope {
        self.engine.scope()
    }

    pub(super) fn receipt_path(&self) -> PathBuf {
        self.paths.receipt(self.scope(), self.box_name)
    }

    /// Whether the box is asked through `tent run` (`box_sh`): a box on this
    /// machine, reached without sudo.
    pub fn asks_through_tent(&self) -> bool {
        self.engine.is_local() && self.engine.via == crate::engine::Via::Direct
    }

    /// Runs a sh script in the box as the user; returns stdout, stderr and
    /// status. A box on this machine is asked through `tent run`, a child
    /// tent with this one's engine flags: it joins the box where it may (a
    /// few ms; the engine's exec costs 0.1-0.2 s, and `tent apply` makes
    /// many exports), proves the box's init as every `tent run` does, and
    /// takes the engine's exec itself where it may not join. A box on
    /// another machine, or root's reached through sudo, gets the engine's
    /// exec directly.
    ///
    /// What it prints is the box's to shape: read bounded (`BOX_OUTPUT_LIMIT`,
    /// and a process the script leaves behind holding its pipes is not
    /// waited for).
    pub(super) fn box_sh(&self, script: &str, args: &[&str]) -> Result<std::process::Output> {
        let argv = self.sh_argv(script, args);
        let mut command = crate::engine::command_for(&argv);
        if self.asks_through_tent() {
            // The home is the box's too: no "not in box" notice.
            command.current_dir(&self.paths.home);
        }
        let grace = std::time::Duration::from_secs(2);
        match crate::concurrent::output_bounded(&mut command, BOX_OUTPUT_LIMIT, grace) {
            Ok(crate::concurrent::Bounded::Done(output)) => Ok(output),
            Ok(crate::concurrent::Bounded::TooLong) => Err(Error::Export {
                message: format!(
                    "box {:?} printed more than {} MiB while tent looked into it",
                    self.box_name,
                    BOX_OUTPUT_LIMIT >> 20
                ),
                hint: Some("a launcher's desktop file and icons are far smaller: check the box's files".into()),
            }),
            Err(e) => Err(Error::spawn(&argv[0], &e)),
        }
    }

    /// The whole argv of `box_sh`: `tent run` (this tent, its engine flags)
    /// or the engine's own exec, as the user.
    fn sh_argv(&self, script: &str, args: &[&str]) -> Vec<String> {
        if self.asks_through_tent() {
            let mut a = vec![self.tent.clone()];
            a.extend(super::invoke::engine_args(self.engine));
            a.extend(["run", self.box_name, "--", "/bin/sh", "-c", script, "sh"].map(String::from));
            a.extend(args.iter().map(|s| s.to_string()));
            a
        } else {
            let user = HostUser::current();
            let user = format!("{}:{}", user.uid, user.gid);
            self.engine.argv(&crate::engine::argv::exec_sh(self.box_name, Some(&user), script, "sh", args))
        }
    }

    /// How a `box_sh` that failed is shown: the argv it ran (the script as
    /// `…`, and `args`), its status and stderr.
    pub(super) fn sh_failure(&self, output: &std::process::Output, args: &[&str]) -> crate::error::CommandFailure {
        crate::error::CommandFailure {
            argv: self.sh_argv("…", args),
            status: output.status.code(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Reads files out of the box with one of the `icons` scripts.
    pub(super) fn read_files(&self, what: &str, script: &str, args: &[&str]) -> Result<Vec<(String, Vec<u8>)>> {
        let output = self.box_sh(script, args)?;
        if !output.status.success() {
            return Err(Error::Engine {
                what: format!("could not read {what} in box {:?}", self.box_name),
                failure: self.sh_failure(&output, &[]),
            });
        }
        icons::parse_frames(&output.stdout).map_err(|detail| Error::Export {
            message: format!("could not read {what} from box {:?}: {detail}", self.box_name),
            hint: None,
        })
    }

    /// Records a launcher's files (an app's or a box's entry), with the
    /// warnings and notes gathered while making them, and tells the menus.
    pub(super) fn commit_launcher(
        &self,
        export: Export,
        writes: Vec<(PathBuf, Vec<u8>, u32)>,
        warnings: Vec<String>,
        notes: Vec<String>,
    ) -> Result<Outcome> {
        let mut outcome = self.commit(export, writes, "")?;
        outcome.warnings.splice(0..0, warnings);
        outcome.notes = notes;
        outcome.warnings.extend(refresh_menus(self.paths));
        Ok(outcome)
    }

    /// Writes the files of one export and records it, all or nothing. An
    /// earlier export of the same kind and name is replaced, and its files
    /// that the new one does not write again are removed.
    pub(super) fn commit(
        &self,
        export: Export,
        writes: Vec<(PathBuf, Vec<u8>, u32)>,
        other_name_flag: &str,
    ) -> Result<Outcome> {
        let receipt_path = self.receipt_path();
        let _lock = receipt::lock(&receipt_path)?;
        let mut receipt = Receipt::load(&receipt_path)?
            .unwrap_or_else(|| Receipt::new(self.box_name, self.scope(), &self.engine.path.to_string_lossy()));
        receipt.engine = self.engine.path.to_string_lossy().into_owned();

        // Check every file before writing any, so a clash changes nothing.
        let mut clashes = Vec::new();
        for (path, _, _) in &writes {
            let existing = read_existing(path);
            if verdict(path, existing.as_ref(), receipt.records(path), self.box_name, self.scope()) == Verdict::NotOurs
            {
                clashes.push(path.display().to_string());
            }
        }
        if !clashes.is_empty() && !self.force {
            let other = if other_name_flag.is_empty() {
                String::new()
            } else {
                format!(", or choose another name with {other_name_flag}")
            };
            return Err(Error::Export {
                message: match clashes.as_slice() {
                    [one] => format!("{one} already exists, and tent did not write it for box {:?}", self.box_name),
                    many => format!(
                        "these files already exist, and tent did not write them for box {:?}: {}",
                        self.box_name,
                        many.join(", ")
                    ),
                },
                hint: Some(format!("pass --force to replace what is there{other}")),
            });
        }

        let previous = receipt.exports.iter().position(|e| e.kind == export.kind && e.name == export.name);
        let mut tx = Transaction::default();
        for (path, bytes, mode) in &writes {
            if crate::interrupt::interrupted() {
                return Err(Error::Interrupted);
            }
            tx.write(path, bytes, *mode)?;
        }
        let mut warnings = Vec::new();
        let replaced = previous.is_some();
        if let Some(index) = previous {
            let old = receipt.exports.remove(index);
            let stale: Vec<PathBuf> = old.files.into_iter().filter(|f| !export.files.contains(f)).collect();
            let (_, kept) = remove_files(&stale, &receipt, self.box_name, self.scope());
            warnings.extend(
                kept.iter().map(|p| format!("left {} in place: tent did not write what is there now", p.display())),
            );
        }
        receipt.exports.push(export.clone());
        receipt.save(&receipt_path)?;
        tx.commit();
        Ok(Outcome { export, replaced, warnings, notes: Vec::new() })
    }
}

pub(super) fn absolute(dir: &Path) -> PathBuf {
    if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir().map(|c| c.join(dir)).unwrap_or_else(|_| dir.to_path_buf())
    }
}

pub(super) fn utf8(path: &Path) -> Result<()> {
    if path.to_str().is_none() {
        return Err(Error::Export {
            message: format!("{} is not valid UTF-8", path.display()),
            hint: Some("receipts and launchers need UTF-8 paths: choose another directory".into()),
        });
    }
    Ok(())
}
