//! `tent save` and `tent load`: a box as one file. The file is a gzip'd tar
//! of `tent-box.json` (format version, the box's spec and exports, the
//! image's sha256 and size) followed by `image.tar` (the committed system,
//! as `podman save`/`docker save` write it). Home and volumes are never in it.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

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
    let read = read_box_file(&args.file, tmp.path());
    spinner.finish();
    let (meta, image_tar) = read?;
    let name = args.name.clone().unwrap_or_else(|| meta.box_name.clone());
    validate_name(&name)?;
    if ctx.engine.inspect(&name)?.is_some() {
        return Err(Error::Snapshot {
            message: format!("a container named {name:?} already exists on {}", ctx.engine.describe()),
            hint: Some(format!("load it under another name: `tent load {} --name NEW`", args.file.display())),
        });
    }
    let spinner = ctx.printer.spinner(format!("loading the system of {name}"));
    let tar_path =
        image_tar.to_str().ok_or_else(|| Error::usage("the temporary directory's path is not UTF-8", None))?;
    let loaded = ctx.engine.capture(&format!("could not load the image of {name}"), &argv::load(tar_path));
    spinner.finish();
    loaded?;
    drop(tmp);
    let boxes = ctx.boxes();
    let image = boxes.adopt_image(&meta.image, &name);
    let _ = ctx.engine.output(&argv::rmi(&meta.image));
    let image = image?;
    ctx.printer.step(format!("creating {name} from {}", args.file.display()));
    if let Err(err) = boxes.create_from(&name, &meta.spec, true, Some(&image)) {
        let _ = ctx.engine.output(&argv::rmi(&image));
        return Err(err);
    }
    let mut problems = 0;
    for export in &meta.exports {
        match reexport(ctx, &name, export) {
            Ok(()) => ctx.printer.status(format!("exported {} {} again", export.kind.as_str(), export.name)),
            Err(err) => {
                problems += 1;
                ctx.printer.warn(format!("could not export {} {} again: {err}", export.kind.as_str(), export.name));
            }
        }
    }
    ctx.printer.status(format!("{name} is ready: `tent enter {name}`"));
    Ok(if problems == 0 { 0 } else { crate::error::exit::FAILURE })
}

fn reexport(ctx: &Context<'_>, name: &str, export: &Export) -> Result<()> {
    let exporter = ctx.exporter(&ctx.engine, name, false)?;
    match export.kind {
        Kind::App => exporter.export_app(&export.request).map(drop),
        Kind::Bin => {
            let dir = export.dir.clone().unwrap_or_else(|| ctx.bin_dir());
            exporter.export_bin(&export.request, Some(&export.name), &dir).map(drop)
        }
        Kind::Entry => exporter.export_entry(ctx.config.entry.terminal.as_deref()).map(drop),
    }
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
    first.read_to_end(&mut json).map_err(|e| damaged(file, e))?;
    let meta = parse_meta(&json).map_err(|e| match e {
        MetaError::Newer(v) => Error::Snapshot {
            message: format!("{} is of box file format {v}, newer than this tent reads ({FORMAT})", file.display()),
            hint: Some("load it with a newer tent".into()),
        },
        MetaError::Bad(detail) => damaged(file, format!("{META}: {detail}")),
    })?;

    let mut second =
        entries.next().ok_or_else(|| damaged(file, "the image is missing"))?.map_err(|e| damaged(file, e))?;
    if second.path().map_err(|e| damaged(file, e))?.as_os_str() != IMAGE {
        return Err(damaged(file, format!("expected {IMAGE} after {META}")));
    }
    let target = dir.join(IMAGE);
    let out = fs::File::create(&target).map_err(|e| Error::io(&target, e))?;
    let mut writer = HashingWriter { hasher: Sha256::new(), inner: io::BufWriter::new(out), len: 0 };
    io::copy(&mut second, &mut writer).map_err(|e| damaged(file, e))?;
    writer.flush().map_err(|e| Error::io(&target, e))?;
    drop(second);
    // The rest, so the gzip trailer (its CRC and length) is checked too.
    io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(|e| damaged(file, e))?;
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
    fn meta_versions() {
        assert_eq!(parse_meta(br#"{"format":2}"#).unwrap_err(), MetaError::Newer(2));
        assert!(matches!(parse_meta(b"nope"), Err(MetaError::Bad(_))));
        assert!(matches!(parse_meta(br#"{"format":1,"box":"d"}"#), Err(MetaError::Bad(_))));
    }
}
