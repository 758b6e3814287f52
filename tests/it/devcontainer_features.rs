//! devcontainer.json features by OCI reference (issue 25), with the real
//! `tent`: no registry is reachable here, so a feature by reference is
//! refused naming the feature and why: skopeo's own reason when skopeo is
//! installed (`scripts/setup-engines` installs it), "not installed" on a PATH
//! without it. Nothing is made either way, and no scratch folder is left.
//! The fetch itself (skopeo from an OCI layout, the unpacking, the cache) is
//! tested in `src/manifest/devcontainer/tests_oci.rs`; here a feature left
//! in the cache as a fetch leaves it is installed in a real box, offline,
//! with its options and the other files of its folder.

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

/// The folder a fetch of `reference` leaves in the cache
/// (`$XDG_DATA_HOME/tent/features/HASH`, src/manifest/devcontainer/oci.rs).
fn cached(sb: &Sandbox, reference: &str) -> std::path::PathBuf {
    use sha2::Digest;
    let hash: String = sha2::Sha256::digest(reference.as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect();
    sb.home.join(".local/share/tent/features").join(hash)
}

fn a_fetched_feature_is_installed_from_the_cache_offline(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.name("dcocicache");
    let reference = "registry.example/features/hello:1";
    let folder = cached(&sb, reference);
    let files = [
        (
            "devcontainer-feature.json",
            r#"{"id": "hello", "options": {"greeting": {"type": "string", "default": "hi"}}}"#,
        ),
        ("install.sh", ". ./lib/say.sh\nsay \"$GREETING from $_REMOTE_USER\"\n"),
        ("lib/say.sh", "say() { echo \"$1\" > /etc/hello-feature; }\n"),
        (".tent-reference", reference),
    ];
    for (file, text) in files {
        sb.sh(&format!("mkdir -p \"$(dirname {0})\" && cat > {0}", folder.join(file).display())).stdin(text).ok();
    }
    let json = format!(
        r#"{{ "name": "{name}", "image": "{BOOKWORM}", "features": {{ "{reference}": {{ "greeting": "hello" }} }} }}"#
    );
    sb.sh("mkdir -p proj && cat > proj/.devcontainer.json").stdin(json).ok();
    let proj = sb.home.join("proj");
    // skopeo is on PATH, and would fail (no registry): the cache is used.
    tent_in(&sb, &proj, &["apply"]).ok();
    let user = sb.sh("id -un").ok().stdout();
    let said = sb.tent(&["run", &name, "--", "cat", "/etc/hello-feature"]).ok().stdout();
    assert_eq!(said, format!("hello from {user}"));
}
