//! Issue 19, findings 6 and 8 on real engines: what an image, a file in the
//! home or a box's text can make tent do. Image labels do not make a foreign
//! container a box; a doubling distrobox.ini fails fast at its line; box text
//! reaches the terminal without its escapes; exported launchers claim no URL
//! handlers unless asked.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::engine_tests;
use crate::harness::{BOOKWORM, BUSYBOX, Engine, Run, Sandbox, tent_bin};

engine_tests!(
    an_images_tent_labels_do_not_make_a_box,
    a_doubling_distrobox_file_fails_at_its_line,
    exported_launchers_claim_no_mime_types_unless_asked,
    engine_args_in_every_spelling_are_checked
);

/// Removes an image made by a test when it ends (after the sandbox's boxes).
struct ImageGuard<'a>(&'a Sandbox, String);
impl Drop for ImageGuard<'_> {
    fn drop(&mut self) {
        self.0.remove_boxes();
        let _ = self.0.engine_cmd(&["rmi", "--force", &self.1]).output();
    }
}

/// The names in `tent list --json`.
fn listed(out: &[u8]) -> Vec<String> {
    let list: serde_json::Value = serde_json::from_slice(out).unwrap();
    list.as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_string()).collect()
}

/// An image that carries tent's labels, as anyone can publish one, and a
/// container made from it with the engine's own `create`: it is not a tent
/// box (before: `tent list` showed it as the user's own box). A box tent
/// makes from that very image is one.
fn an_images_tent_labels_do_not_make_a_box(engine: Engine) {
    let sb = Sandbox::new(engine);
    let src = sb.name("lblsrc");
    let tag = format!("localhost/tent-it-labelled:{src}");
    let _image = ImageGuard(&sb, tag.clone());
    sb.engine_cmd(&["create", "--name", &src, BUSYBOX, "true"]).ok();
    let spec = serde_json::json!({ "image": BUSYBOX }).to_string();
    let labels = [
        "tent.format=1".to_string(),
        format!("tent.uid={}", sb.uid()),
        format!("tent.spec={spec}"),
        "tent.lib=0".to_string(),
    ];
    let mut commit = vec!["commit".to_string()];
    for l in &labels {
        commit.push("--change".into());
        commit.push(format!("LABEL {l}"));
    }
    commit.extend([src.clone(), tag.clone()]);
    sb.engine_cmd(&commit.iter().map(String::as_str).collect::<Vec<_>>()).ok();

    let foreign = sb.name("foreign");
    sb.engine_cmd(&["create", "--name", &foreign, &tag, "sleep", "1000"]).ok();
    let inspect = sb.engine_cmd(&["container", "inspect", "--format", "{{json .Config.Labels}}", &foreign]).ok();
    assert!(
        inspect.stdout().contains("\"tent.format\":\"1\""),
        "the container inherits the labels: {}",
        inspect.stdout()
    );
    let real = sb.create("real", &tag, &["--no-start"]);

    let names = listed(sb.tent(&["list", "--json"]).ok().stdout_bytes());
    assert!(names.contains(&real), "tent's own box from that image is listed: {names:?}");
    assert!(!names.contains(&foreign), "a container whose tent labels came from its image is no box: {names:?}");
    let table = sb.tent(&["list"]).ok().stdout();
    assert!(!table.contains(&foreign), "{table}");

    // Named, it is still not tent's: neither stopped nor removed.
    for args in [&["rm", "--force", "--yes", foreign.as_str()][..], &["stop", foreign.as_str()]] {
        let out = sb.tent(args).code(1);
        assert!(out.stderr.contains("not made by tent"), "{}", out.describe());
    }
    // The note of a box's last image (its state, which boxes can write) is
    // only a guess of what to ask: planted for that container from inside a
    // box, naming its own labelled image or a clean one, it makes no box.
    let id_of = |image: &str| {
        let out = sb.engine_cmd(&["image", "inspect", "--format", "{{.Id}}", image]).ok().stdout();
        out.trim().trim_start_matches("sha256:").to_string()
    };
    let state = sb.state_dir(&foreign);
    for planted in [id_of(&tag), id_of(BUSYBOX)] {
        let plant = r#"mkdir -p "$1" && printf '%s\n' "$2" >"$1/image""#;
        let state = state.display().to_string();
        sb.tent(&["run", real.as_str(), "--", "sh", "-c", plant, "sh", &state, &planted]).ok();
        assert_eq!(std::fs::read_to_string(sb.state_dir(&foreign).join("image")).unwrap(), format!("{planted}\n"));
        let out = sb.tent(&["stop", foreign.as_str()]).code(1);
        assert!(out.stderr.contains("not made by tent"), "note {planted}: {}", out.describe());
        // `list` asks for the noted images while the engine lists.
        let names = listed(sb.tent(&["list", "--json"]).ok().stdout_bytes());
        assert!(names.contains(&real) && !names.contains(&foreign), "note {planted}: {names:?}");
    }
    sb.engine_cmd(&["container", "inspect", &foreign]).ok();

    // tent's box names its own image (`tent.image-id`), so its image need
    // not be asked for. A container made by hand from a commit of that box
    // carries the same label, which then names another image: no box.
    let labelled_id = |container: &str| {
        let format = r#"{{index .Config.Labels "tent.image-id"}} {{.Image}}"#;
        let out = sb.engine_cmd(&["container", "inspect", "--format", format, container]).ok().stdout();
        let (label, image) = out.trim().split_once(' ').unwrap_or_else(|| panic!("{out}"));
        (label.to_string(), image.trim_start_matches("sha256:").to_string())
    };
    let (label, image) = labelled_id(&real);
    assert_eq!((label.as_str(), image.as_str()), (id_of(&tag).as_str(), id_of(&tag).as_str()));
    let copy_tag = format!("localhost/tent-it-labelled:{src}-copy");
    let _copy_image = ImageGuard(&sb, copy_tag.clone());
    sb.engine_cmd(&["commit", &real, &copy_tag]).ok();
    let copy = sb.name("copy");
    sb.engine_cmd(&["create", "--name", &copy, &copy_tag, "sleep", "1000"]).ok();
    let (label, image) = labelled_id(&copy);
    assert_eq!(label, id_of(&tag), "the commit carries the box's label");
    assert_eq!(image, id_of(&copy_tag));
    let names = listed(sb.tent(&["list", "--json"]).ok().stdout_bytes());
    assert!(names.contains(&real) && !names.contains(&copy), "{names:?}");
    let out = sb.tent(&["stop", copy.as_str()]).code(1);
    assert!(out.stderr.contains("not made by tent"), "{}", out.describe());
    sb.engine_cmd(&["rm", "--force", &copy]).ok();
    sb.tent(&["rm", "--force", "--yes", &real]).ok();
}

/// `tent rm --all` removes the user's boxes and leaves a container whose
/// labels came from its image. `--all` reaches every box of the user running
/// it, so this runs as `tent-test-all` (no other test makes boxes for it) on
/// rootless podman with a store of its own.
#[test]
fn rm_all_leaves_a_container_of_a_labelled_image() {
    if !crate::harness::enabled(Engine::PodmanRootless) {
        return;
    }
    const USER: &str = "tent-test-all";
    let uid: u32 = String::from_utf8_lossy(&Command::new("id").args(["-u", USER]).output().unwrap().stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("user {USER} is missing: run scripts/setup-engines"));
    let dir = tempfile::Builder::new().prefix("tent-it-labels-").tempdir_in("/var/tmp").unwrap();
    let home = dir.path().to_path_buf();
    let conf = home.join("storage.conf");
    std::fs::write(
        &conf,
        format!("[storage]\ndriver = \"overlay\"\ngraphroot = \"{0}/store\"\nrunroot = \"{0}/run\"\n", home.display()),
    )
    .unwrap();
    // A tiny root file system: one file is enough for a container that never starts.
    let rootfs = home.join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::write(rootfs.join("bin/true"), "").unwrap();
    assert!(Command::new("chown").args(["-R", &format!("{USER}:")]).arg(&home).status().unwrap().success());
    let run_as = |program: &Path| -> Command {
        let mut c = Command::new("runuser");
        c.args(["-u", USER, "--", "env", "-i"])
            .arg(format!("HOME={}", home.display()))
            .arg(format!("USER={USER}"))
            .arg(format!("LOGNAME={USER}"))
            .arg("PATH=/usr/local/bin:/usr/bin:/bin")
            .arg(format!("XDG_RUNTIME_DIR=/run/user/{uid}"))
            .arg(format!("CONTAINERS_STORAGE_CONF={}", conf.display()))
            .arg("NO_COLOR=1")
            .arg("TERM=dumb")
            .arg("TENT_ENGINE=podman")
            .current_dir(&home)
            .arg(program);
        c
    };
    struct Reset(Command);
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = self.0.output();
        }
    }
    let mut reset = run_as(Path::new("podman"));
    reset.args(["system", "reset", "--force"]);
    let _reset = Reset(reset);
    let podman = |args: &[&str]| -> Run {
        let mut c = run_as(Path::new("podman"));
        c.args(args);
        Run::from(c)
    };
    let tent = |args: &[&str]| -> Run {
        let mut c = run_as(tent_bin());
        c.args(args);
        Run::from(c)
    };
    let tar = Command::new("tar").arg("-C").arg(&rootfs).args(["-cf", "-", "."]).output().unwrap();
    assert!(tar.status.success());
    let spec = serde_json::json!({ "image": "localhost/labelled:1" }).to_string();
    let tent_labels = ["tent.format=1".to_string(), format!("tent.uid={uid}"), format!("tent.spec={spec}")];
    let mut import = vec!["import".to_string()];
    for l in &tent_labels {
        import.push("--change".into());
        import.push(format!("LABEL={l}"));
    }
    import.extend(["-".to_string(), "localhost/labelled:1".to_string()]);
    podman(&import.iter().map(String::as_str).collect::<Vec<_>>()).stdin(tar.stdout).ok();
    podman(&["create", "--name", "foreign", "localhost/labelled:1", "/bin/true"]).ok();
    tent(&["create", "mine", "--image", "localhost/labelled:1", "--no-start"]).ok();

    let names = listed(tent(&["list", "--json"]).ok().stdout_bytes());
    assert_eq!(names, ["mine"], "only tent's own box is listed");
    let removed = tent(&["rm", "--all", "--force", "--yes"]).ok();
    assert!(!removed.stderr.contains("foreign"), "rm --all never names it: {}", removed.describe());
    podman(&["container", "inspect", "foreign"]).ok();
    assert_ne!(podman(&["container", "inspect", "mine"]).output().code, Some(0), "the user's own box was removed");
}

/// Issue 19, finding 6: a 1 KB distrobox.ini whose `hostname` doubles itself
/// twenty times made `tent apply --dry-run` abort out of memory. It now fails
/// at once, naming the file and the line, well under a memory limit.
fn a_doubling_distrobox_file_fails_at_its_line(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.name("dbx");
    let mut text = format!("[{name}]\nimage={BUSYBOX}\nhostname=a\n");
    for _ in 0..20 {
        text.push_str("hostname=$hostname$hostname$hostname$hostname\n");
    }
    let file: PathBuf = sb.home.join("distrobox.ini");
    std::fs::write(&file, &text).unwrap();
    // 512 MiB of address space: the old reader asked for 4^20 bytes and died.
    let started = std::time::Instant::now();
    let out =
        sb.sh(&format!("ulimit -v 524288; exec {} apply --dry-run {}", tent_bin().display(), file.display())).code(1);
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{}", out.describe());
    let at = format!("{}:12:", file.display());
    assert!(out.stderr.contains(&at), "names FILE:LINE: {}", out.describe());
    assert!(out.stderr.contains("grows past 65536 bytes"), "{}", out.describe());
    assert!(!out.stderr.contains("memory allocation"), "{}", out.describe());
}

/// An app in a box that claims web links (`x-scheme-handler/https`): its
/// exported launcher claims nothing unless the user passes `--mime-types`
/// (before, every export kept MimeType, so a box's app could become what
/// the host opens the user's links with). Both launchers pass
/// desktop-file-validate.
fn exported_launchers_claim_no_mime_types_unless_asked(engine: Engine) {
    const APP: &str = "set -e; mkdir -p /usr/share/applications; \
        printf '[Desktop Entry]\\nType=Application\\nName=Grabber\\nExec=true %%u\\n\
MimeType=text/html;x-scheme-handler/http;x-scheme-handler/https;\\n' \
        > /usr/share/applications/org.example.Grabber.desktop";
    let sb = Sandbox::new(engine);
    let name = sb.create("mime", BOOKWORM, &[]);
    sb.tent(&["run", &name, "--as-root", "--", "sh", "-c", APP]).ok();
    let launcher = sb.home.join(format!(".local/share/applications/tent-{name}-org.example.Grabber.desktop"));
    let validate = |path: &Path| {
        let check = Command::new("desktop-file-validate").arg(path).output().unwrap();
        assert!(check.status.success() && check.stdout.is_empty(), "{}", String::from_utf8_lossy(&check.stdout));
    };

    sb.tent(&["export", &name, "--app", "org.example.Grabber"]).ok();
    let text = std::fs::read_to_string(&launcher).unwrap();
    assert!(!text.contains("MimeType") && !text.contains("x-scheme-handler"), "{text}");
    validate(&launcher);

    sb.tent(&["export", &name, "--app", "org.example.Grabber", "--mime-types"]).ok();
    let text = std::fs::read_to_string(&launcher).unwrap();
    assert!(text.contains("\nMimeType=text/html;x-scheme-handler/http;x-scheme-handler/https;\n"), "{text}");
    validate(&launcher);
    let refused = sb.tent(&["export", &name, "--bin", "true", "--mime-types"]).code(2);
    assert!(refused.stderr.contains("--app"), "{}", refused.describe());
}

/// The shells' command-not-found handlers print what `tent which` finds in
/// the state directory, where every box can write. Directories named to
/// drive the terminal (an escape sequence, and backslash escapes that zsh's
/// `print` would turn into one) are not box names and are not answered;
/// a real box's name still is. No engine is needed: the state is planted.
#[test]
fn planted_box_names_never_reach_the_terminal() {
    let Some(sb) = Sandbox::if_enabled(Engine::PodmanRootless) else { return };
    let boxes = sb.home.join(".local/state/tent/boxes/podman");
    for dir in ["evil\u{1b}]0;owned\u{7}", "evil\\e]0;owned\\a\\e[2J", "it-planted-ok"] {
        std::fs::create_dir_all(boxes.join(dir)).unwrap();
        std::fs::write(boxes.join(dir).join("commands"), "tent-it-planted\n").unwrap();
    }
    let owner = format!("{}:", crate::harness::TEST_USER);
    assert!(Command::new("chown").arg("-R").arg(owner).arg(&sb.home).status().unwrap().success());

    let which = sb.tent(&["which", "tent-it-planted"]).ok();
    assert_eq!(which.stdout(), "it-planted-ok\tpodman\ttent run it-planted-ok -- tent-it-planted\n");

    let root = env!("CARGO_MANIFEST_DIR");
    let bin = tent_bin().parent().unwrap().display().to_string();
    for (shell, file) in [("bash", "tent.bash"), ("zsh", "tent.zsh"), ("fish", "tent.fish")] {
        let handler = sb.home.join(file);
        std::fs::copy(format!("{root}/shell-integration/host/{file}"), &handler).unwrap();
        let out =
            sb.sh(&format!("PATH={bin}:$PATH {shell} -c 'source {}; tent-it-planted'", handler.display())).code(127);
        assert!(!out.stderr.contains(['\u{1b}', '\u{7}']), "{shell}: {:?}", out.stderr);
        assert!(out.stderr.contains("tent run it-planted-ok -- tent-it-planted"), "{shell}: {}", out.describe());
        assert!(!out.stderr.contains("evil"), "{shell}: {}", out.describe());
    }
}

/// `--engine-arg` refuses tent's own options in every form the engines
/// read: a short option with its value attached (`-u0`), a cluster
/// (`-itu0`), `--label-file` (labels from a file: a foreign container could
/// be made to look like a box), a tmpfs over `/run/host`, a target spelled
/// `//run/./host`, and a bare `--`. Nothing is made. Before, each was passed
/// to the engine.
fn engine_args_in_every_spelling_are_checked(engine: Engine) {
    let sb = Sandbox::new(engine);
    let labels = sb.home.join("labels");
    std::fs::write(&labels, "tent.format=1\n").unwrap();
    for arg in [
        "-u0".to_string(),
        "-itu0".to_string(),
        format!("--label-file={}", labels.display()),
        "--tmpfs=/run/host".to_string(),
        "--volume=/tmp://run/./host".to_string(),
        "--".to_string(),
    ] {
        let name = sb.name("eargs");
        let out =
            sb.tent(&["create", &name, "--image", BUSYBOX, "--no-start", &format!("--engine-arg={arg}")]).output();
        assert_ne!(out.code, Some(0), "{}", out.describe());
        assert!(out.stderr.contains(&format!("--engine-arg {arg:?} is refused")), "{}", out.describe());
        assert_ne!(sb.engine_cmd(&["container", "inspect", &name]).output().code, Some(0), "no box was made");
    }
}
