//! devcontainer.json features by OCI reference (issue 25), with the real
//! `tent`: no registry is reachable here, so a feature by reference is
//! refused naming the feature and why: skopeo's own reason when skopeo is
//! installed (`scripts/setup-engines` installs it), "not installed" on a PATH
//! without it. Nothing is made either way, and no scratch folder is left.
//! The fetch itself (skopeo from an OCI layout, the unpacking, the cache) is
//! tested in `src/manifest/devcontainer/tests_oci.rs`; here a feature pinned
//! by digest, kept as a fetch keeps it, is installed in a real box, offline,
//! with its options and the other files of its folder, and one a box planted
//! for a reference by tag is not.

use std::path::Path;

use crate::engine_tests;
use crate::harness::{BOOKWORM, Engine, Run, Sandbox, tent_bin};

engine_tests!(
    a_feature_no_registry_answers_for_is_refused_with_its_name_and_why,
    a_fetched_feature_is_installed_from_the_cache_offline
);

fn tent_in(sb: &Sandbox, dir: &Path, args: &[&str]) -> Run {
    let mut c = sb.command(tent_bin());
    c.args(args).current_dir(dir);
    Run::from(c)
}

fn a_feature_no_registry_answers_for_is_refused_with_its_name_and_why(engine: Engine) {
    let mut sb = Sandbox::new(engine);
    let name = sb.name("dcoci");
    let json = format!(
        r#"{{ "name": "{name}", "image": "{BOOKWORM}",
             // A made-up registry: nothing answers for it.
             "features": {{ "registry.example/features/hello:1": {{ "greeting": "hi" }} }} }}"#
    );
    sb.sh("mkdir -p proj && cat > proj/.devcontainer.json").stdin(json).ok();
    let proj = sb.home.join("proj");
    let feature = "feature \"registry.example/features/hello:1\"";

    assert_eq!(sb.sh("command -v skopeo").output().code, Some(0), "skopeo is installed (scripts/setup-engines)");
    let refused = tent_in(&sb, &proj, &["apply", "--dry-run"]).output();
    assert_ne!(refused.code, Some(0), "{}", refused.describe());
    for needle in [
        format!("{}:3:", proj.join(".devcontainer.json").display()),
        format!("{feature} could not be fetched: skopeo failed: "),
        "registry.example".into(),
        "skopeo login".into(),
    ] {
        assert!(refused.stderr.contains(&needle), "{needle:?} in:\n{}", refused.describe());
    }
    let cache = sb.home.join(".local/share/tent/features");
    let left: Vec<_> =
        std::fs::read_dir(&cache).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "nothing kept from a failed fetch: {left:?}");

    // Without skopeo on PATH: refused, saying so.
    let dir = sb.home.join("no-skopeo-bin");
    let script = format!(
        "mkdir -p {dir} && for f in /usr/sbin/* /usr/bin/*; do [ \"${{f##*/}}\" = skopeo ] || ln -sf \"$f\" {dir}/; done",
        dir = dir.display()
    );
    sb.sh(&script).ok();
    sb.env.push(("PATH".into(), dir.display().to_string()));
    let refused = tent_in(&sb, &proj, &["apply"]).output();
    assert_ne!(refused.code, Some(0), "{}", refused.describe());
    assert!(
        refused.stderr.contains(&format!("{feature} is a reference to an OCI artifact, and skopeo")),
        "{}",
        refused.describe()
    );
    assert!(refused.stderr.contains("install skopeo"), "{}", refused.describe());
    assert_ne!(sb.engine_cmd(&["container", "inspect", &name]).output().code, Some(0), "no box was made");
}

/// The folder a fetch of `reference` unpacks into
/// (`$XDG_DATA_HOME/tent/features/HASH`, src/manifest/devcontainer/oci.rs).
fn cached(sb: &Sandbox, reference: &str) -> std::path::PathBuf {
    use sha2::Digest;
    let hash: String = sha2::Sha256::digest(reference.as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect();
    sb.home.join(".local/share/tent/features").join(hash)
}

fn sha(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `path` with `bytes` as the sandbox's user.
fn put(sb: &Sandbox, path: &Path, bytes: Vec<u8>) {
    sb.sh(&format!("mkdir -p \"$(dirname {0})\" && cat > {0}", path.display())).stdin(bytes).ok();
}

/// A feature pinned by digest is installed offline from what a fetch kept
/// (its manifest and layer, by content); a folder planted for a feature by
/// tag, as any box could plant it, is never installed.
fn a_fetched_feature_is_installed_from_the_cache_offline(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.name("dcocicache");
    let files = [
        (
            "devcontainer-feature.json",
            r#"{"id": "hello", "options": {"greeting": {"type": "string", "default": "hi"}}}"#,
        ),
        ("install.sh", ". ./lib/say.sh\nsay \"$GREETING from $_REMOTE_USER\"\n"),
        ("lib/say.sh", "say() { echo \"$1\" > /etc/hello-feature; }\n"),
    ];
    let mut tar = tar::Builder::new(Vec::new());
    for (file, text) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, format!("./{file}"), text.as_bytes()).unwrap();
    }
    let layer = tar.into_inner().unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "layers": [{"mediaType": "application/vnd.devcontainers.layer.v1+tar",
                    "digest": format!("sha256:{}", sha(&layer)), "size": layer.len()}],
    })
    .to_string()
    .into_bytes();
    let pin = sha(&manifest);
    let blobs = sb.home.join(".local/share/tent/features/blobs/sha256");
    put(&sb, &blobs.join(sha(&layer)), layer);
    put(&sb, &blobs.join(&pin), manifest);
    let reference = format!("registry.example/features/hello@sha256:{pin}");
    let json = format!(
        r#"{{ "name": "{name}", "image": "{BOOKWORM}", "features": {{ "{reference}": {{ "greeting": "hello" }} }} }}"#
    );
    sb.sh("mkdir -p proj && cat > proj/.devcontainer.json").stdin(json).ok();
    let proj = sb.home.join("proj");
    // skopeo is on PATH, and would fail (no registry): the kept blobs are used.
    tent_in(&sb, &proj, &["apply"]).ok();
    let user = sb.sh("id -un").ok().stdout();
    let said = sb.tent(&["run", &name, "--", "cat", "/etc/hello-feature"]).ok().stdout();
    assert_eq!(said, format!("hello from {user}"));

    // The box just made plants a feature, from inside, for a reference by
    // tag (as the cache once kept it): never installed.
    let planted = "registry.example/features/node:1";
    let folder = cached(&sb, planted);
    let plant = format!(
        "mkdir -p {f} && echo '{{\"id\": \"node\"}}' > {f}/devcontainer-feature.json && \
         echo 'echo planted > /etc/planted' > {f}/install.sh && printf %s {planted} > {f}/.tent-reference",
        f = folder.display()
    );
    sb.tent(&["run", &name, "--", "sh", "-c", &plant]).ok();
    assert!(folder.join("install.sh").is_file(), "planted from inside the box");
    let other = sb.name("dcplanted");
    let json = format!(r#"{{ "name": "{other}", "image": "{BOOKWORM}", "features": {{ "{planted}": {{}} }} }}"#);
    sb.sh("mkdir -p proj2 && cat > proj2/.devcontainer.json").stdin(json).ok();
    let refused = tent_in(&sb, &sb.home.join("proj2"), &["apply", "--yes"]).output();
    assert_ne!(refused.code, Some(0), "{}", refused.describe());
    assert!(refused.stderr.contains("could not be fetched"), "{}", refused.describe());
    assert_ne!(sb.engine_cmd(&["container", "inspect", &other]).output().code, Some(0), "no box was made");
}
