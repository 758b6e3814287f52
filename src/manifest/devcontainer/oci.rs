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
//! The cache (`$XDG_DATA_HOME/tent/features/HASH`, keyed by the reference)
//! is in the home, where boxes write: what tent reads back goes through
//! `files::read_bounded` as a local feature's files do. A reference fetched
//! once is used again (offline too); removing its folder fetches it again.

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
/// The file in a cached feature that names its reference.
const REFERENCE_FILE: &str = ".tent-reference";

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
    let digest: String = Sha256::digest(reference.as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect();
    let folder = cache.join(digest);
    if let Ok(Some(kept)) = crate::files::read_bounded(&folder.join(REFERENCE_FILE), 1024)
        && kept == reference.as_bytes()
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
    let fetched = fetch(skopeo, &(oci.source)(reference), cache, &folder, reference);
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

/// Copies `source` into an OCI layout with skopeo, unpacks its feature layer
/// into a new folder of `cache`, and puts it at `folder`.
pub(crate) fn fetch(
    skopeo: &Path,
    source: &str,
    cache: &Path,
    folder: &Path,
    reference: &str,
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
    let layer = feature_layer(&layout)?;
    let unpacked = scratch.path().join("feature");
    unpack(&layer, &unpacked)?;
    if crate::files::read_bounded(&unpacked.join("devcontainer-feature.json"), MAX_JSON).ok().flatten().is_none() {
        return Err("the artifact holds no devcontainer-feature.json: it is not a devcontainer feature".into());
    }
    std::fs::write(unpacked.join(REFERENCE_FILE), reference).map_err(|e| format!("cannot write: {e}"))?;
    // Put the new folder in place of an old or foreign one.
    if std::fs::symlink_metadata(folder).is_ok() {
        let _ = std::fs::remove_file(folder);
        let _ = std::fs::remove_dir_all(folder);
    }
    std::fs::rename(&unpacked, folder).map_err(|e| format!("cannot move it to {}: {e}", folder.display()))?;
    Ok(())
}

/// The path of the feature's layer in an OCI layout: the one manifest of
/// `index.json`, its one tar layer, checked against its digest.
fn feature_layer(layout: &Path) -> std::result::Result<PathBuf, String> {
    let read_json = |path: &Path| -> std::result::Result<serde_json::Value, String> {
        let bytes = crate::files::read_bounded(path, MAX_JSON)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("the layout has no {}", path.display()))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    };
    let blob = |digest: &serde_json::Value| -> std::result::Result<PathBuf, String> {
        let digest = digest.as_str().unwrap_or("");
        let hex = digest.strip_prefix("sha256:").unwrap_or("");
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("{:?} is not a sha256 digest", short(digest)));
        }
        Ok(layout.join("blobs/sha256").join(hex))
    };
    let index = read_json(&layout.join("index.json"))?;
    let manifest = blob(&index["manifests"][0]["digest"])?;
    let manifest = read_json(&manifest)?;
    let layers = manifest["layers"].as_array().ok_or("the artifact's manifest lists no layers")?;
    let [layer] = layers.as_slice() else {
        return Err(format!("the artifact has {} layers; a feature has one", layers.len()));
    };
    let kind = layer["mediaType"].as_str().unwrap_or("");
    if !kind.ends_with("tar") {
        return Err(format!("its layer is {:?}, not a tar of the feature", short(kind)));
    }
    let path = blob(&layer["digest"])?;
    let mut file = crate::files::open_untrusted(&path)
        .map_err(|e| e.to_string())?
        .ok_or("the layout lacks the feature's layer")?;
    let mut hash = Sha256::new();
    let mut buf = vec![0; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > MAX_LAYER {
            return Err(format!("the feature is larger than {} MiB", MAX_LAYER >> 20));
        }
        hash.update(&buf[..n]);
    }
    let hex: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    if Some(format!("sha256:{hex}").as_str()) != layer["digest"].as_str() {
        return Err("its layer does not match its digest".into());
    }
    Ok(path)
}

/// Unpacks a feature's tar into `dest` (a new folder): directories and
/// regular files only, each under `dest` (no absolute path, no `..`), modes
/// without set-id bits; links and devices are left out.
fn unpack(tar_file: &Path, dest: &Path) -> std::result::Result<(), String> {
    let file = crate::files::open_untrusted(tar_file).map_err(|e| e.to_string())?.ok_or("the layer is gone")?;
    std::fs::create_dir(dest).map_err(|e| format!("cannot make {}: {e}", dest.display()))?;
    let mut archive = tar::Archive::new(file.take(MAX_LAYER));
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
