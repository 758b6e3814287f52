//! Real-engine tests of `tent apply` (issue 5), on rootful podman as root.
//! They make real boxes, so they are ignored by default:
//!
//!     cargo test --test manifest_engine -- --ignored --test-threads=1
//!
//! Each test has its own HOME and unique box names, and removes its boxes
//! even when it fails. To move into the shared harness (tests/it/) later.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BOOKWORM: &str = "tent-test/debian:bookworm";
const TRIXIE: &str = "tent-test/debian:trixie";

struct Sandbox {
    dir: tempfile::TempDir,
    boxes: Vec<String>,
}

impl Sandbox {
    fn new(boxes: &[&str]) -> Self {
        let pid = std::process::id();
        let sandbox = Sandbox {
            dir: tempfile::tempdir().unwrap(),
            boxes: boxes.iter().map(|b| format!("{b}-{pid}")).collect(),
        };
        std::fs::create_dir_all(sandbox.home()).unwrap();
        sandbox
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn name(&self, i: usize) -> &str {
        &self.boxes[i]
    }

    fn write(&self, file: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(file);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn tent(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_tent"))
            .args(["--engine", "podman"])
            .args(args)
            .env("HOME", self.home())
            .env_remove("XDG_STATE_HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("TENT_IMAGE")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Runs tent and returns stderr, failing the test with everything it said when it fails.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.tent(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "tent {args:?} failed:\n{stderr}\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        stderr
    }

    /// A command's stdout in a box.
    fn in_box(&self, i: usize, script: &str) -> String {
        let out = self.tent(&["run", self.name(i), "--", "sh", "-c", script]);
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether `tent export` is built in this tree (it is another issue's work).
    fn exports_work(&self) -> bool {
        let out = self.tent(&["export", "x", "--list"]);
        !String::from_utf8_lossy(&out.stderr).contains("not built yet")
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for name in &self.boxes {
            let _ = Command::new("podman")
                .args(["rm", "--force", name])
                .output();
        }
    }
}

fn engine_ready() -> bool {
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    root && Command::new("podman")
        .args(["image", "exists", BOOKWORM])
        .status()
        .is_ok_and(|s| s.success())
}

fn bin_exported(home: &Path, name: &str) -> bool {
    home.join(".local/bin").join(name).exists()
}

#[test]
#[ignore = "makes real boxes: run with --ignored"]
fn apply_again_change_in_place_then_recreate_keeping_data() {
    assert!(
        engine_ready(),
        "needs root and rootful podman with {BOOKWORM}"
    );
    let s = Sandbox::new(&["mt-it"]);
    let name = s.name(0).to_string();
    let exports = s.exports_work();
    let manifest = |image: &str, packages: &str, bins: &str| {
        format!(
            "[box.{name}]\nimage = \"{image}\"\npackages = [{packages}]\n\
             init_hooks = [\"touch /var/tmp/init-ran\"]\nstart_hooks = [\"touch /var/tmp/start-ran\"]\n{bins}"
        )
    };
    let bins = if exports {
        "export_bins = [\"/usr/bin/jq\"]\n"
    } else {
        ""
    };
    s.write("tent.toml", &manifest(BOOKWORM, "\"jq\"", bins));

    // First apply: created, provisioned with the packages, hooks run.
    let said = s.ok(&["apply"]);
    assert!(said.contains(&format!("+ create {name}")), "{said}");
    assert!(s.in_box(0, "jq --version").starts_with("jq-"));
    s.in_box(0, "test -e /var/tmp/init-ran && test -e /var/tmp/start-ran");
    assert_eq!(bin_exported(&s.home(), "jq"), exports);

    // Again: nothing to do, and it says so.
    let said = s.ok(&["apply"]);
    assert!(said.contains("nothing to do"), "{said}");

    // Packages and exports change in place: the same container.
    let id = |s: &Sandbox| s.in_box(0, "cat /proc/sys/kernel/random/boot_id; hostname; ls -id /");
    let before = id(&s);
    let bins = if exports {
        "export_bins = [\"/usr/bin/file\"]\n"
    } else {
        ""
    };
    s.write("tent.toml", &manifest(BOOKWORM, "\"jq\", \"file\"", bins));
    let said = s.ok(&["apply"]);
    assert!(
        said.contains(&format!("~ install file in {name}")),
        "{said}"
    );
    assert!(!said.contains("recreate"), "{said}");
    assert!(s.in_box(0, "command -v file").contains("/usr/bin/file"));
    assert_eq!(id(&s), before, "an in-place change keeps the container");
    if exports {
        assert!(!bin_exported(&s.home(), "jq") && bin_exported(&s.home(), "file"));
    }
    assert!(s.ok(&["apply"]).contains("nothing to do"));

    // A new image recreates: refused off a terminal without --yes, then done,
    // the user's files kept and the packages installed again.
    std::fs::write(s.home().join("notes.txt"), "keep me").unwrap();
    s.write("tent.toml", &manifest(TRIXIE, "\"jq\", \"file\"", bins));
    let refused = s.tent(&["apply"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"));
    assert!(
        s.in_box(0, "cat /etc/debian_version").starts_with("12"),
        "refused means unchanged"
    );
    let said = s.ok(&["apply", "--yes"]);
    assert!(
        said.contains(&format!("-/+ recreate {name}: image {BOOKWORM} → {TRIXIE}")),
        "{said}"
    );
    assert!(s.in_box(0, "cat /etc/debian_version").starts_with("13"));
    assert_eq!(s.in_box(0, "cat ~/notes.txt"), "keep me");
    assert!(
        s.in_box(0, "command -v file && command -v jq")
            .contains("/usr/bin/jq")
    );
    assert_eq!(bin_exported(&s.home(), "file"), exports);
    assert!(s.ok(&["apply"]).contains("nothing to do"));

    // `tent manifest` writes the box down so that applying it changes nothing.
    let out = s.tent(&["manifest", &name]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains(TRIXIE) && text.contains("\"file\""), "{text}");
    s.write("tent.toml", &text);
    assert!(s.ok(&["apply"]).contains("nothing to do"));
}

#[test]
#[ignore = "makes real boxes: run with --ignored"]
fn a_distrobox_file_with_include_hooks_packages_and_exports() {
    assert!(
        engine_ready(),
        "needs root and rootful podman with {BOOKWORM}"
    );
    let s = Sandbox::new(&["mt-dbx"]);
    let name = s.name(0).to_string();
    let exports = s.exports_work();
    let bins = if exports {
        "exported_bins=\"/usr/bin/jq\"\nexported_bins_path=\"$HOME/.local/bin\"\n"
    } else {
        ""
    };
    // `base` is not a box of ours here: only the included keys matter, so it
    // is named after the test box too (and cleaned up with it).
    let text = format!(
        "[{name}]\ninclude=base-{name}\nadditional_packages=\"file\"\ninit_hooks=\"touch /var/tmp/dbx-hook\"\n{bins}pull=true\n"
    );
    let text = format!("{text}\n[base-{name}]\nimage={BOOKWORM}\nadditional_packages=\"jq\"\n");
    let mut s = s;
    s.boxes.push(format!("base-{name}"));
    s.write("distrobox.ini", &text);
    let said = s.ok(&["apply", "distrobox.ini"]);
    assert!(said.contains("pull=true is ignored"), "{said}");
    assert!(
        s.in_box(0, "command -v jq && command -v file")
            .contains("/usr/bin/file")
    );
    s.in_box(0, "test -e /var/tmp/dbx-hook");
    assert_eq!(bin_exported(&s.home(), "jq"), exports);
    assert!(s.ok(&["apply", "distrobox.ini"]).contains("nothing to do"));
}
