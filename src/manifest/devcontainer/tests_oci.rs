//! Features by OCI reference, fetched for real with skopeo from a local OCI
//! layout (`oci:` transport: no registry is reachable in tests), unpacked
//! into the cache and installed from there; what a box could plant in the
//! cache never installed; hostile artifacts refused.
//! skopeo comes from `scripts/setup-engines`; without it these tests say
//! so and pass, unless TENT_TEST_REQUIRE=1.

use std::path::{Path, PathBuf};

use super::oci::{Oci, sha256_hex};
use super::parse_with;
use crate::manifest::test_support::message;

const REFERENCE: &str = "registry.example/features/hello:1";

fn skopeo() -> Option<PathBuf> {
    let found = which::which("skopeo").ok();
    if found.is_none() {
        assert_ne!(
            std::env::var("TENT_TEST_REQUIRE").as_deref(),
            Ok("1"),
            "skopeo is required: run scripts/setup-engines"
        );
        eprintln!("skipping: skopeo is not installed (scripts/setup-engines installs it)");
    }
    found
}

/// An OCI layout holding one devcontainer feature artifact, tagged `1`,
/// whose layer is `tar` (as the devcontainers CLI publishes them).
fn layout(dir: &Path, tar: &[u8]) -> String {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let hex = sha256_hex(bytes);
        std::fs::write(blobs.join(&hex), bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len())
    };
    let (config, config_size) = put(b"{}");
    let (layer, layer_size) = put(tar);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.devcontainers", "digest": config, "size": config_size},
        "layers": [{"mediaType": "application/vnd.devcontainers.layer.v1+tar", "digest": layer, "size": layer_size,
                    "annotations": {"org.opencontainers.image.title": "devcontainer-feature-hello.tgz"}}],
    });
    let (manifest, manifest_size) = put(manifest.to_string().as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest,
                       "size": manifest_size, "annotations": {"org.opencontainers.image.ref.name": "1"}}],
    });
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion": "1.0.0"}"#).unwrap();
    format!("oci:{}:1", dir.display())
}

/// A tar of `files` (name, text); a name may be anything, `..` too.
fn tar_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, text) in files {
        let mut header = tar::Header::new_ustar();
        let raw = &mut header.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        header.set_size(text.len() as u64);
        header.set_mode(0o755);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append(&header, text.as_bytes()).unwrap();
    }
    let mut link = tar::Header::new_ustar();
    link.set_entry_type(tar::EntryType::Symlink);
    link.set_path("shadow").unwrap();
    link.set_link_name("/etc/shadow").unwrap();
    link.set_size(0);
    link.set_cksum();
    builder.append(&link, &[][..]).unwrap();
    builder.into_inner().unwrap()
}

const FEATURE_JSON: &str = r#"{"id": "hello", "version": "1.0.0",
    "options": {"greeting": {"type": "string", "default": "hi"}, "loud": {"type": "boolean", "default": false}}}"#;
const INSTALL: &str = ". ./lib/say.sh\nsay \"$GREETING $LOUD\"\n";

fn parse(project: &Path, oci: &Oci<'_>) -> crate::error::Result<super::Manifest> {
    let json = format!(r#"{{"image": "x", "features": {{"{REFERENCE}": {{"greeting": "hello"}}}}}}"#);
    parse_with(&project.join(".devcontainer/devcontainer.json"), &json, &|_| None, project, oci)
}

#[test]
fn a_feature_by_reference_is_fetched_unpacked_and_installed_from_the_cache() {
    let Some(skopeo) = skopeo() else { return };
    let dir = tempfile::tempdir().unwrap();
    let source = layout(
        &dir.path().join("layout"),
        &tar_of(&[
            ("./devcontainer-feature.json", FEATURE_JSON),
            ("./install.sh", INSTALL),
            ("./lib/say.sh", "say() { echo \"$1\" > /tmp/said; }\n"),
        ]),
    );
    let cache = dir.path().join("cache");
    let asked = std::cell::RefCell::new(Vec::new());
    let from = |reference: &str| {
        asked.borrow_mut().push(reference.to_string());
        source.clone()
    };
    let oci = Oci { cache: Some(cache.clone()), skopeo: Some(skopeo), source: &from };
    let m = parse(dir.path(), &oci).unwrap();
    assert_eq!(*asked.borrow(), [REFERENCE]);

    let hook = &m.boxes[0].init_hooks[0];
    let folder = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .expect("the feature's folder");
    assert!(hook.contains(&format!("cd -- {}", crate::shell::quote(&folder.to_string_lossy()))), "{hook}");
    assert!(hook.contains("export GREETING='hello'\n") && hook.contains("export LOUD='false'\n"), "{hook}");
    assert!(hook.contains("say \"$GREETING $LOUD\""), "the install.sh as read: {hook}");
    assert_eq!(std::fs::read_to_string(folder.join("lib/say.sh")).unwrap(), "say() { echo \"$1\" > /tmp/said; }\n");
    assert!(std::fs::symlink_metadata(folder.join("shadow")).is_err(), "links are left out");
    let leftovers: Vec<_> = std::fs::read_dir(&cache).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(leftovers.len(), 1, "no scratch folder left: {leftovers:?}");

    // A reference by tag is fetched at every apply (only the registry says
    // what a tag is now): offline it is refused, and a folder left in the
    // cache (every box can write there) is never taken for it.
    std::fs::write(folder.join("install.sh"), "echo planted by a box").unwrap();
    let offline = Oci { cache: Some(cache.clone()), skopeo: None, source: &from };
    let e = message(parse(dir.path(), &offline).unwrap_err()).0;
    assert!(e.contains("skopeo, which tent fetches features with, is not installed"), "{e}");
    let again = parse(dir.path(), &oci).unwrap();
    assert_eq!(again.boxes[0].init_hooks, m.boxes[0].init_hooks, "fetched again, in place of the plant");
    assert_eq!(asked.borrow().len(), 2);
}

/// The manifest digest (HEX) of the layout `layout` made.
fn manifest_of(dir: &Path) -> String {
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"].as_str().unwrap().strip_prefix("sha256:").unwrap().to_string()
}

fn parse_ref(project: &Path, oci: &Oci<'_>, reference: &str) -> crate::error::Result<super::Manifest> {
    let json = format!(r#"{{"image": "x", "features": {{"{reference}": {{}}}}}}"#);
    parse_with(&project.join(".devcontainer/devcontainer.json"), &json, &|_| None, project, oci)
}

#[test]
fn a_pinned_feature_is_kept_by_content_and_checked_at_every_use() {
    let Some(skopeo) = skopeo() else { return };
    let dir = tempfile::tempdir().unwrap();
    let layout_dir = dir.path().join("layout");
    let source = layout(
        &layout_dir,
        &tar_of(&[("./devcontainer-feature.json", FEATURE_JSON), ("./install.sh", "echo the real one\n")]),
    );
    let pin = manifest_of(&layout_dir);
    let reference = format!("registry.example/features/hello@sha256:{pin}");
    let cache = dir.path().join("cache");
    let from = |_: &str| source.clone();
    let online = Oci { cache: Some(cache.clone()), skopeo: Some(skopeo), source: &from };
    let m = parse_ref(dir.path(), &online, &reference).unwrap();
    assert!(m.boxes[0].init_hooks[0].contains("echo the real one"), "{:?}", m.boxes[0].init_hooks);

    // Offline, without skopeo: from the kept blobs, checked against the pin.
    let offline = Oci { cache: Some(cache.clone()), skopeo: None, source: &from };
    assert_eq!(parse_ref(dir.path(), &offline, &reference).unwrap().boxes[0].init_hooks, m.boxes[0].init_hooks);

    // The unpacked folder changed by a box: unpacked afresh from the blobs.
    let folder = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.') && !p.ends_with("blobs"))
        .expect("the feature's folder");
    std::fs::write(folder.join("install.sh"), "echo planted by a box").unwrap();
    assert_eq!(parse_ref(dir.path(), &offline, &reference).unwrap().boxes[0].init_hooks, m.boxes[0].init_hooks);
    assert_eq!(std::fs::read_to_string(folder.join("install.sh")).unwrap(), "echo the real one\n");

    // A kept layer (or manifest) changed by a box: not used; offline that
    // means refused, never installed.
    let blobs = cache.join("blobs/sha256");
    for kept in std::fs::read_dir(&blobs).unwrap().flatten() {
        let planted = if kept.file_name().to_string_lossy() == pin {
            br#"{"layers": [{"mediaType": "x.tar", "digest": "sha256:00"}]}"#.to_vec()
        } else {
            tar_of(&[("./devcontainer-feature.json", FEATURE_JSON), ("./install.sh", "echo planted by a box")])
        };
        let good = std::fs::read(kept.path()).unwrap();
        std::fs::write(kept.path(), &planted).unwrap();
        let e = message(parse_ref(dir.path(), &offline, &reference).unwrap_err()).0;
        assert!(e.contains("skopeo, which tent fetches features with, is not installed"), "{e}");
        std::fs::write(kept.path(), good).unwrap();
    }
    assert_eq!(parse_ref(dir.path(), &offline, &reference).unwrap().boxes[0].init_hooks, m.boxes[0].init_hooks);

    // A pin the registry's manifest does not have: refused.
    let wrong = format!("registry.example/features/hello@sha256:{}", "0".repeat(64));
    let e = message(parse_ref(dir.path(), &online, &wrong).unwrap_err()).0;
    assert!(e.contains("not the one the reference is pinned to"), "{e}");
}

#[test]
fn hostile_or_missing_artifacts_are_refused_with_the_feature_and_why() {
    let Some(skopeo) = skopeo() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let outside = dir.path().join("escaped");
    let refused = |tar: &[u8], name: &str| {
        let source = layout(&dir.path().join(name), tar);
        let from = move |_: &str| source.clone();
        let oci = Oci { cache: Some(cache.clone()), skopeo: Some(skopeo.clone()), source: &from };
        message(parse(dir.path(), &oci).unwrap_err())
    };
    let (e, hint) = refused(&tar_of(&[("./install.sh", "true"), ("../escaped", "x")]), "escape");
    assert!(e.contains(&format!("feature \"{REFERENCE}\" could not be fetched")), "{e}");
    assert!(e.contains("outside the feature"), "{e}");
    assert!(hint.contains("skopeo login") && hint.contains("\"./NAME\""), "{hint}");
    assert!(!outside.exists());
    let (e, _) = refused(&tar_of(&[("./install.sh", "true")]), "nometa");
    assert!(e.contains("holds no devcontainer-feature.json"), "{e}");
    let (e, _) = refused(b"not a tar at all, just text that is long enough to be read as a header ....", "text");
    assert!(e.contains("could not be fetched"), "{e}");

    // A reference no registry answers for: skopeo's own reason.
    let from = |reference: &str| format!("oci:{}/nothing-here:{reference}", dir.path().display());
    let oci = Oci { cache: Some(cache.clone()), skopeo: Some(skopeo.clone()), source: &from };
    let (e, _) = message(parse(dir.path(), &oci).unwrap_err());
    assert!(e.contains("could not be fetched: skopeo failed:"), "{e}");
    let scratch: Vec<_> = std::fs::read_dir(&cache).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(scratch.is_empty(), "nothing kept from a failed fetch: {scratch:?}");
}
