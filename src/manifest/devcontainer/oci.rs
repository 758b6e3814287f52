//! Features by OCI reference (`"REGISTRY/OWNER/features/NAME:1": {}`):
//! fetched with skopeo into an OCI layout, their one layer (a tar of the
//! feature's folder) unpacked into tent's feature cache, and installed from
//! there as a local feature is.
//!
//! The engines' own artifact support (`podman artifact`, podman 5.4 on) is
//! not used: no engine tent supports on Debian 12 has it, and skopeo speaks
//! the same registries with the same credentials (`skopeo login`). Without
//! skopeo, or when the fetch fails, the feature is refused with its name and
//! why: a box without it would lack what the project needs, and nothing
//! would say so until a command is missing.
//!
//! The cache (`$XDG_DATA_HOME/tent/features`) is in the home, where every
//! box writes, so nothing found there is taken on its word: a box could
//! plant a folder with its own install.sh for a reference the user trusts,
//! and a later `tent apply` would run it as root in another box (a rootful
//! one, through sudo). What tent keeps is content-addressed: the manifest
//! and the layer of a reference pinned by digest (`REF@sha256:HEX`), as
//! `blobs/sha256/HEX`. A pinned reference is taken from there offline once
//! the manifest hashes to the pin and the layer to the manifest's digest,
//! read once into memory (so a blob swapped after the check is never the
//! one unpacked). A reference by tag is fetched on every apply: only the
//! registry says what a tag is now. Either way the feature is unpacked
//! afresh into `HASH` (keyed by the reference) and installed from there,
//! as a local feature is from the project's folder.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use super::json::Key;
use super::reader::{Cx, short};
use crate::error::Result;

/// Largest layer (the feature's tar) and largest unpacked feature.
const MAX_LAYER: u64 = 64 * 1024 * 1024;
/// Most entries in a feature's tar.
const MAX_ENTRIES: usize = 10_000;
/// Largest index.json or manifest of the fetched layout.
const MAX_JSON: u64 = 1024 * 1024;

/// How features by reference are fetched: where they are kept, the skopeo
/// to run (None: not installed), and the skopeo source of a reference
/// (`docker://REF`; unit tests give an `oci:` layout).
pub(crate) struct Oci<'a> {
    pub cache: Option<PathBuf>,
    pub skopeo: Option<PathBuf>,
    pub source: &'a dyn Fn(&str) -> String,
}

impl Oci<'_> {
    /// Features fetched from registries with the skopeo on PATH, kept in
    /// `$XDG_DATA_HOME/tent/features`.
    pub(crate) fn from_env() -> Oci<'static> {
        Oci {
            cache: crate::paths::Paths::from_env().ok().map(|p| p.data.join("features")),
            skopeo: which::which("skopeo").ok(),
            source: &|reference| format!("docker://{reference}"),
        }
    }
}

/// Whether `text` can be an OCI reference tent passes to skopeo:
/// `HOST[:PORT]/PATH[:TAG|@DIGEST]`, never an option, no `..`.
pub(super) fn valid_reference(text: &str) -> bool {
    text.len() <= 255
        && text.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"._/:@-".contains(&b))
        && text.contains('/')
        && !text.contains("..")
        && !text.contains("//")
}

/// The folder of the feature `key` names, fetched when it is not in the
/// cache yet; an error names the feature and why.
pub(super) fn feature_folder(cx: &Cx<'_>, key: &Key) -> Result<PathBuf> {
    let reference = key.name.as_str();
    let id = short(reference);
    let local_way = "or copy the feature's folder (devcontainer-feature.json, install.sh) next to devcontainer.json \
                     and name it \"./NAME\"";
    if !valid_reference(reference) {
        return Err(cx.error(
            key.at,
            format!("feature {id:?} is neither a local feature (\"./NAME\") nor an OCI reference (REGISTRY/PATH:TAG)"),
            None,
        ));
    }
    let oci = cx.oci;
    let Some(cache) = &oci.cache else {
        return Err(cx.error(key.at, format!("feature {id:?}: tent has no folder to keep it in (no home)"), None));
    };
    let digest: String = crate::text::hex(&Sha256::digest(reference.as_bytes())[..16]);
    let folder = cache.join(digest);
    let pin = pinned(reference);
    if let Some(pin) = pin
        && from_kept(cache, pin, &folder).is_ok()
    {
        return Ok(folder);
    }
    let Some(skopeo) = &oci.skopeo else {
        return Err(cx.error(
            key.at,
            format!(
                "feature {id:?} is a reference to an OCI artifact, and skopeo, which tent fetches features with, is \
                 not installed"
            ),
            Some(format!("install skopeo (your distribution's package) and apply again, {local_way}")),
        ));
    };
    let fetched = fetch(skopeo, &(oci.source)(reference), cache, &folder, pin);
    fetched.map_err(|why| {
        cx.error(
            key.at,
            format!("feature {id:?} could not be fetched: {why}"),
            Some(format!(
                "check the reference and the network (`skopeo login REGISTRY` for a private registry), {local_way}"
            )),
        )
    })?;
    Ok(folder)
}

/// The digest a reference is pinned to (`REF@sha256:HEX`), as HEX.
pub(super) fn pinned(reference: &str) -> Option<&str> {
    let (_, digest) = reference.rsplit_once('@')?;
    digest.strip_prefix("sha256:").filter(|hex| crate::text::is_sha256_hex(hex))
}

pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    crate::text::hex(&Sha256::digest(bytes))
}

/// Copies `source` into an OCI layout with skopeo, unpacks its feature layer
/// into a new folder of `cache`, and puts it at `folder`. A reference pinned
/// to `pin` must come with that manifest; its manifest and layer are kept
/// in `cache/blobs/sha256` for the next apply.
pub(crate) fn fetch(
    skopeo: &Path,
    source: &str,
    cache: &Path,
    folder: &Path,
    pin: Option<&str>,
) -> std::result::Result<(), String> {
    std::fs::create_dir_all(cache).map_err(|e| format!("cannot make {}: {e}", cache.display()))?;
    let scratch = tempfile::Builder::new()
        .prefix(".fetch-")
        .tempdir_in(cache)
        .map_err(|e| format!("cannot make a folder in {}: {e}", cache.display()))?;
    let layout = scratch.path().join("layout");
    let output = Command::new(skopeo)
        .args(["--command-timeout", "300s", "copy", "--quiet", "--retry-times", "1"])
        .arg(source)
        .arg(format!("oci:{}", layout.display()))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run {}: {e}", skopeo.display()))?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        let last = said.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message").trim();
        // skopeo logs `time="…" level=fatal msg="WHY"`: WHY is the reason.
        let why = last.split_once("msg=\"").map_or(last, |(_, m)| m.strip_suffix('"').unwrap_or(m));
        let why: String = why.replace("\\\"", "\"").chars().take(400).collect();
        return Err(format!("skopeo failed: {}", crate::text::sanitize(&why)));
    }
    let index = read_small(&layout.join("index.json"))?;
    let index: serde_json::Value = serde_json::from_slice(&index).map_err(|e| format!("index.json: {e}"))?;
    let manifest_hex = digest_hex(&index["manifests"][0]["digest"])?;
    if pin.is_some_and(|pin| pin != manifest_hex) {
        return Err("the registry's manifest is not the one the reference is pinned to".into());
    }
    let blobs = layout.join("blobs/sha256");
    let (manifest, layer) = feature_layer(&blobs, &manifest_hex)?;
    unpack_into(cache, &layer, folder)?;
    if pin.is_some() {
        // Kept by content: a later apply checks both against the pin.
        let kept = cache.join("blobs/sha256");
        std::fs::create_dir_all(&kept).map_err(|e| format!("cannot make {}: {e}", kept.display()))?;
        for bytes in [&manifest, &layer] {
            let hex = sha256_hex(bytes);
            let mut tmp = tempfile::NamedTempFile::new_in(&kept).map_err(|e| format!("cannot keep it: {e}"))?;
            std::io::Write::write_all(&mut tmp, bytes).map_err(|e| format!("cannot keep it: {e}"))?;
            tmp.persist(kept.join(hex)).map_err(|e| format!("cannot keep it: {e}"))?;
        }
    }
    Ok(())
}

/// The feature of a reference pinned to `pin` from the kept blobs, checked
/// against the pin, unpacked afresh at `folder`.
fn from_kept(cache: &Path, pin: &str, folder: &Path) -> std::result::Result<(), String> {
    let (_, layer) = feature_layer(&cache.join("blobs/sha256"), pin)?;
    unpack_into(cache, &layer, folder)
}

/// Unpacks `layer` into a scratch folder of `cache`, checks it is a feature,
/// and puts it at `folder` in place of whatever was there.
fn unpack_into(cache: &Path, layer: &[u8], folder: &Path) -> std::result::Result<(), String> {
    let scratch = tempfile::Builder::new()
        .prefix(".unpack-")
        .tempdir_in(cache)
        .map_err(|e| format!("cannot make a folder in {}: {e}", cache.display()))?;
    let unpacked = scratch.path().join("feature");
    unpack(layer, &unpacked)?;
    if crate::files::read_bounded(&unpacked.join("devcontainer-feature.json"), MAX_JSON).ok().flatten().is_none() {
        return Err("the artifact holds no devcontainer-feature.json: it is not a devcontainer feature".into());
    }
    // Put the new folder in place of an old or planted one.
    if std::fs::symlink_metadata(folder).is_ok() {
        let _ = std::fs::remove_file(folder);
        let _ = std::fs::remove_dir_all(folder);
    }
    std::fs::rename(&unpacked, folder).map_err(|e| format!("cannot move it to {}: {e}", folder.display()))
}

/// A small file (index.json, a manifest), bounded, not through a link.
fn read_small(path: &Path) -> std::result::Result<Vec<u8>, String> {
    crate::files::read_bounded(path, MAX_JSON)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .ok_or_else(|| format!("the layout has no {}", path.display()))
}

/// The HEX of a `sha256:HEX` digest in a manifest or index.
fn digest_hex(digest: &serde_json::Value) -> std::result::Result<String, String> {
    let digest = digest.as_str().unwrap_or("");
    match digest.strip_prefix("sha256:") {
        Some(hex) if crate::text::is_sha256_hex(hex) => Ok(hex.to_string()),
        _ => Err(format!("{:?} is not a sha256 digest", short(digest))),
    }
}

/// The manifest `manifest_hex` in `blobs` and its one tar layer, each read
/// once into memory and checked against its digest.
fn feature_layer(blobs: &Path, manifest_hex: &str) -> std::result::Result<(Vec<u8>, Vec<u8>), String> {
    let manifest_bytes = read_small(&blobs.join(manifest_hex))?;
    if sha256_hex(&manifest_bytes) != manifest_hex {
        return Err("its manifest does not match its digest".into());
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&manifest_bytes).map_err(|e| format!("the manifest: {e}"))?;
    let layers = manifest["layers"].as_array().ok_or("the artifact's manifest lists no layers")?;
    let [layer] = layers.as_slice() else {
        return Err(format!("the artifact has {} layers; a feature has one", layers.len()));
    };
    let kind = layer["mediaType"].as_str().unwrap_or("");
    if !kind.ends_with("tar") {
        return Err(format!("its layer is {:?}, not a tar of the feature", short(kind)));
    }
    let layer_hex = digest_hex(&layer["digest"])?;
    let file = crate::files::open_untrusted(&blobs.join(&layer_hex))
        .map_err(|e| e.to_string())?
        .ok_or("the layout lacks the feature's layer")?;
    let mut bytes = Vec::new();
    file.take(MAX_LAYER + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_LAYER {
        return Err(format!("the feature is larger than {} MiB", MAX_LAYER >> 20));
    }
    if sha256_hex(&bytes) != layer_hex {
        return Err("its layer does not match its digest".into());
    }
    Ok((manifest_bytes, bytes))
}

/// Unpacks a feature's tar into `dest` (a new folder): directories and
/// regular files only, each under `dest` (no absolute path, no `..`), modes
/// without set-id bits; links and devices are left out.
fn unpack(layer: &[u8], dest: &Path) -> std::result::Result<(), String> {
    std::fs::create_dir(dest).map_err(|e| format!("cannot make {}: {e}", dest.display()))?;
    let mut archive = tar::Archive::new(layer);
    let entries = archive.entries().map_err(|e| format!("the layer is not a tar: {e}"))?;
    for (n, entry) in entries.enumerate() {
        if n >= MAX_ENTRIES {
            return Err(format!("the feature has more than {MAX_ENTRIES} files"));
        }
        let mut entry = entry.map_err(|e| format!("the layer is not a tar: {e}"))?;
        let path = entry.path().map_err(|e| format!("a name in the layer: {e}"))?.into_owned();
        let mut relative = PathBuf::new();
        for part in path.components() {
            match part {
                Component::Normal(p) => relative.push(p),
                Component::CurDir => {}
                _ => return Err(format!("the layer names {:?}, outside the feature", short(&path.to_string_lossy()))),
            }
        }
        if relative.as_os_str().is_empty() {
            continue;
        }
        let target = dest.join(&relative);
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            std::fs::create_dir_all(&target).map_err(|e| format!("cannot make {}: {e}", target.display()))?;
        } else if kind.is_file() {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| format!("cannot make {}: {e}", parent.display()))?;
            }
            let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode | 0o600)
                .open(&target)
                .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
            std::io::copy(&mut entry, &mut out).map_err(|e| format!("cannot write {}: {e}", target.display()))?;
        }
    }
    Ok(())
}
