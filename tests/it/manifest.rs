//! `tent apply` on real engines (issue 5): apply, apply again (nothing to
//! do), packages and exports changed in place, a new image recreating the box
//! with the user's data kept, `tent manifest` round trip, and a Distrobox file.

use crate::engine_tests;
use crate::harness::{BOOKWORM, BUSYBOX, Engine, Sandbox, TRIXIE};

engine_tests!(
    apply_again_change_in_place_then_recreate_keeping_data,
    a_distrobox_file_with_include_hooks_packages_and_exports,
    real_world_distrobox_files_all_plan,
    apply_one_section_then_remove_what_the_file_lists,
    a_distrobox_clone_is_a_copy_of_its_source,
    distrobox_hooks_with_inner_quotes_run_as_written,
    a_project_folder_names_its_box,
    substitutions_run_on_the_host_only_when_asked
);

/// Issue 23: `$(…)` in a distrobox.ini is refused by default, the error
/// naming `--run-substitutions`; with it, each runs on the host through sh
/// (printed first) and its output is the value, read without waiting for
/// what the command leaves behind.
fn substitutions_run_on_the_host_only_when_asked(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.name("subst");
    write(
        &sb,
        "s.ini",
        &format!(
            "[{name}]\nimage={BUSYBOX}\nhostname=$(touch \"$HOME/ran-on-host\"; sleep 100 & echo subst-warning >&2; echo subst-host)\n"
        ),
    );
    let refused = sb.tent(&["apply", "s.ini", "--yes"]).output();
    assert_ne!(refused.code, Some(0), "{}", refused.describe());
    assert!(
        refused.stderr.contains("s.ini:3:10") && refused.stderr.contains("--run-substitutions"),
        "{}",
        refused.describe()
    );
    assert!(!sb.home.join("ran-on-host").exists(), "nothing ran without the flag");
    // The `sleep 100` it leaves behind holds the pipe of its output: apply
    // takes what was printed and does not wait for it.
    let started = std::time::Instant::now();
    let out = sb.tent(&["apply", "s.ini", "--yes", "--run-substitutions"]).ok();
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "apply waited for the left-behind sleep");
    assert!(out.stderr.contains("running on the host") && out.stderr.contains("echo subst-host"), "{}", out.describe());
    assert!(out.stderr.contains("subst-warning"), "what it said on stderr is shown: {}", out.describe());
    assert!(sb.home.join("ran-on-host").exists(), "it ran on the host, as the user, in the home");
    assert_eq!(in_box(&sb, &name, "hostname"), "subst-host\n");
}

/// Issue 25: `tent enter`/`tent run` without a name, in a project folder (or
/// below it) whose manifest lists one box, use that box, over `default_box`;
/// a manifest of several boxes asks for a name.
fn a_project_folder_names_its_box(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.name("proj");
    std::fs::create_dir_all(sb.home.join("proj/src/deep")).unwrap();
    write(&sb, "proj/tent.toml", &format!("[box.{name}]\nimage = \"{BUSYBOX}\"\n"));
    std::fs::create_dir_all(sb.home.join(".config/tent")).unwrap();
    write(&sb, ".config/tent/config.toml", "default_box = \"not-this-one\"\n");
    if !engine.as_root() {
        std::process::Command::new("chown")
            .args(["-R", &format!("{}:", crate::harness::TEST_USER)])
            .arg(&sb.home)
            .status()
            .unwrap();
    }
    sb.sh(&format!("cd proj && {} apply --yes", crate::harness::tent_bin().display())).ok();
    let out = sb.sh(&format!("cd proj/src/deep && {} run -- hostname", crate::harness::tent_bin().display())).ok();
    assert_eq!(out.stdout().trim(), name, "{}", out.describe());

    let other = sb.name("proj2");
    write(
        &sb,
        "proj/tent.toml",
        &format!("[box.{name}]\nimage = \"{BUSYBOX}\"\n[box.{other}]\nimage = \"{BUSYBOX}\"\n"),
    );
    let out = sb.sh(&format!("cd proj && {} run -- true", crate::harness::tent_bin().display())).code(2);
    assert!(out.stderr.contains("which box?") && out.stderr.contains(&other), "{}", out.describe());
}

/// Issue 23: a distrobox.ini written for Distrobox 1's shell parser: a hook
/// with quotes inside runs in the box as written, and an `entry` that is a
/// path makes no launcher (with a warning) instead of refusing the file.
fn distrobox_hooks_with_inner_quotes_run_as_written(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.name("dq");
    write(
        &sb,
        "q.ini",
        &format!(
            "[{name}]\nimage={BOOKWORM}\ninit_hooks=\"echo \"hi there\" > /var/tmp/q\"\n\
             entry=/usr/share/applications/{name}.desktop\n"
        ),
    );
    let out = sb.tent(&["apply", "q.ini", "--yes"]).ok();
    assert!(out.stderr.contains("`entry` is") && out.stderr.contains("read as false"), "{}", out.describe());
    assert_eq!(in_box(&sb, &name, "cat /var/tmp/q"), "hi there\n");
    assert!(!sb.home.join(format!(".local/share/applications/tent-{name}.desktop")).exists());
}

fn write(sb: &Sandbox, file: &str, text: &str) {
    std::fs::write(sb.home.join(file), text).unwrap();
}

fn in_box(sb: &Sandbox, name: &str, script: &str) -> String {
    sb.tent(&["run", name, "--", "sh", "-c", script]).ok().stdout()
}

fn exported(sb: &Sandbox, bin: &str) -> bool {
    sb.home.join(".local/bin").join(bin).exists()
}

fn apply_again_change_in_place_then_recreate_keeping_data(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.name("mt");
    let manifest = |image: &str, packages: &str, bins: &str| {
        format!(
            "[box.{name}]\nimage = \"{image}\"\npackages = [{packages}]\n\
             init_hooks = [\"touch /var/tmp/init-ran\"]\nstart_hooks = [\"touch /var/tmp/start-ran\"]\n\
             export_bins = [{bins}]\n"
        )
    };
    write(&sb, "tent.toml", &manifest(BOOKWORM, "\"jq\"", "\"/usr/bin/jq\""));

    // First apply: created, provisioned with the packages, hooks run, exported.
    let said = sb.tent(&["apply"]).ok().stderr;
    assert!(said.contains(&format!("+ create {name}")), "{said}");
    assert!(in_box(&sb, &name, "jq --version").starts_with("jq-"));
    in_box(&sb, &name, "test -e /var/tmp/init-ran && test -e /var/tmp/start-ran");
    assert!(exported(&sb, "jq"));
    let out = sb.sh(&format!("echo '{{\"a\":[1,2]}}' | {}/.local/bin/jq -c .a", sb.home.display())).ok();
    assert_eq!(out.stdout(), "[1,2]\n", "the exported wrapper runs jq in the box");

    // Again: nothing to do, and it says so.
    assert!(sb.tent(&["apply"]).ok().stderr.contains("nothing to do"));

    // Packages and exports change in place: the same container.
    let id = || sb.engine_cmd(&["container", "inspect", "--format", "{{.Id}}", &name]).ok().stdout();
    let before = id();
    write(&sb, "tent.toml", &manifest(BOOKWORM, "\"jq\", \"file\"", "\"/usr/bin/file\""));
    let plan = sb.tent(&["apply", "--dry-run"]).ok();
    let plan_text = format!("{}{}", plan.stdout(), plan.stderr);
    assert!(plan_text.contains(&format!("~ install file in {name}")), "{}", plan.describe());
    assert!(in_box(&sb, &name, "command -v file || true").is_empty(), "--dry-run changed nothing");
    let json = sb.tent(&["apply", "--json"]).ok();
    let value: serde_json::Value =
        serde_json::from_slice(json.stdout_bytes()).unwrap_or_else(|e| panic!("{e}: {}", json.describe()));
    assert_eq!(value["changed"], true, "{value}");
    assert!(!json.stderr.contains("recreate"), "{}", json.describe());
    assert!(in_box(&sb, &name, "command -v file").contains("/usr/bin/file"));
    assert_eq!(id(), before, "an in-place change keeps the container");
    assert!(!exported(&sb, "jq") && exported(&sb, "file"));
    assert!(sb.tent(&["apply"]).ok().stderr.contains("nothing to do"));

    // A new image recreates: refused off a terminal without --yes, then done,
    // the user's files kept and the packages installed again.
    write(&sb, "notes.txt", "keep me");
    write(&sb, "tent.toml", &manifest(TRIXIE, "\"jq\", \"file\"", "\"/usr/bin/file\""));
    let refused = sb.tent(&["apply"]).output();
    assert_ne!(refused.code, Some(0));
    assert!(refused.stderr.contains("--yes"), "{}", refused.describe());
    assert!(in_box(&sb, &name, "cat /etc/debian_version").starts_with("12"), "refused means unchanged");
    let said = sb.tent(&["apply", "--yes"]).ok().stderr;
    assert!(said.contains(&format!("-/+ recreate {name}: image {BOOKWORM} → {TRIXIE}")), "{said}");
    assert!(in_box(&sb, &name, "cat /etc/debian_version").starts_with("13"));
    assert_eq!(in_box(&sb, &name, "cat ~/notes.txt"), "keep me");
    assert!(in_box(&sb, &name, "command -v file && command -v jq").contains("/usr/bin/jq"));
    assert!(exported(&sb, "file"));
    assert!(sb.tent(&["apply"]).ok().stderr.contains("nothing to do"));

    // `tent manifest` writes the box down so that applying it changes nothing.
    let text = sb.tent(&["manifest", &name]).ok().stdout();
    assert!(text.contains(TRIXIE) && text.contains("\"file\""), "{text}");
    write(&sb, "tent.toml", &text);
    assert!(sb.tent(&["apply"]).ok().stderr.contains("nothing to do"));

    // An export made by hand is written down too.
    sb.tent(&["export", &name, "--bin", "/usr/bin/jq", "--name", "jq-by-hand"]).ok();
    let text = sb.tent(&["manifest", &name]).ok().stdout();
    assert!(text.contains("jq-by-hand"), "{text}");
}

fn a_distrobox_file_with_include_hooks_packages_and_exports(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.name("dbx");
    let base = sb.name("dbxbase");
    let text = format!(
        "[{name}]\ninclude={base}\nadditional_packages=\"file\"\ninit_hooks=\"touch /var/tmp/dbx-hook\"\n\
         exported_bins=\"/usr/bin/jq\"\nexported_bins_path=\"$HOME/.local/bin\"\nreplace=true\n\n\
         [{base}]\nimage={BOOKWORM}\nadditional_packages=\"jq\"\n"
    );
    write(&sb, "distrobox.ini", &text);
    let said = sb.tent(&["apply", "distrobox.ini"]).ok().stderr;
    assert!(said.contains("ignored: replace=true ("), "{said}");
    assert!(in_box(&sb, &name, "command -v jq && command -v file").contains("/usr/bin/file"));
    in_box(&sb, &name, "test -e /var/tmp/dbx-hook");
    assert!(exported(&sb, "jq"));
    assert!(sb.tent(&["apply", "distrobox.ini"]).ok().stderr.contains("nothing to do"));

    // A value that would run on the host is refused as data, with its line.
    write(&sb, "bad.ini", &format!("[{name}]\nimage={BOOKWORM}\nhome=$(rm -rf ~)\n"));
    let out = sb.tent(&["apply", "bad.ini"]).output();
    assert_ne!(out.code, Some(0));
    assert!(out.stderr.contains("bad.ini:3"), "{}", out.describe());
}

/// Issue 14: every fixture under tests/fixtures/distrobox (shaped like
/// published assemble files) gets a plan from `tent apply FILE --dry-run`.
fn real_world_distrobox_files_all_plan(engine: Engine) {
    let sb = Sandbox::new(engine);
    // Unique to this run, so the user's own boxes of the fixtures' names
    // (`dev`, `arch`, ...) in a shared store are never seen or touched.
    let prefix = format!("{}-", sb.name("rw"));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/distrobox");
    let mut planned = 0;
    for file in std::fs::read_dir(&dir).unwrap() {
        let path = file.unwrap().path();
        if path.extension().is_none_or(|e| e != "ini") {
            continue;
        }
        let file = path.file_name().unwrap().to_str().unwrap().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(sb.home.join(&file), own_names(&text, &prefix)).unwrap();
        let out = sb.tent(&["apply", &file, "--dry-run"]).output();
        assert_eq!(out.code, Some(0), "{file}: {}", out.describe());
        let plan = out.stdout();
        assert!(plan.contains("+ create ") || plan.contains(" skipped: "), "{file}: {}", out.describe());
        // The plan is about this run's boxes only: never a box the machine's
        // user made (README's `dev`), which would read as "take over".
        assert!(!plan.contains("take over"), "{file}: {}", out.describe());
        planned += 1;
    }
    assert!(planned >= 12, "{planned}");
}

/// The fixture with every box name (section headers, `name=`, `include=`,
/// `clone=`) prefixed, so the plan names boxes of this test run only.
fn own_names(text: &str, prefix: &str) -> String {
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix('[')
            && let Some(end) = rest.find(']')
        {
            let indent = &line[..line.len() - trimmed.len()];
            out.push_str(&format!("{indent}[{prefix}{}]{}", rest[..end].trim(), &rest[end + 1..]));
            continue;
        }
        let renamed = trimmed.split_once('=').and_then(|(key, value)| {
            let key = key.trim();
            ["name", "include", "clone"].contains(&key).then(|| {
                let names: Vec<String> = value.split_whitespace().map(|n| format!("{prefix}{n}")).collect();
                let ending = if line.ends_with("\r\n") { "\r\n" } else { "\n" };
                format!("{key}={}{ending}", names.join(" "))
            })
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
    }
    out
}

#[test]
fn fixture_names_are_made_unique() {
    let text = "[dev]\nimage=x\n[ generic1]  ; c\r\ninclude=common base\nclone=base-root\nname=vscode\nhostname=dev\n";
    assert_eq!(
        own_names(text, "it-1-"),
        "[it-1-dev]\nimage=x\n[it-1-generic1]  ; c\r\ninclude=it-1-common it-1-base\nclone=it-1-base-root\n\
         name=it-1-vscode\nhostname=dev\n"
    );
}

/// Issue 14: `--name BOX` applies one section; `--remove` removes the boxes
/// the file lists (Distrobox's `assemble rm`) and nothing else, and asks
/// first (off a terminal: refuses without --yes, naming the boxes).
fn apply_one_section_then_remove_what_the_file_lists(engine: Engine) {
    let sb = Sandbox::new(engine);
    let (a, b) = (sb.name("sa"), sb.name("sb"));
    write(&sb, "two.ini", &format!("[{a}]\nimage={BUSYBOX}\n\n[{b}]\nimage={BUSYBOX}\n"));
    let other = sb.create("other", BUSYBOX, &["--no-start"]);
    let missing = sb.tent(&["apply", "two.ini", "--name", "nope"]).output();
    assert_ne!(missing.code, Some(0));
    assert!(
        missing.stderr.contains(&a) && missing.stderr.contains(&b),
        "names what the file lists: {}",
        missing.describe()
    );
    sb.tent(&["apply", "two.ini", "--name", &a]).ok();
    let listed = sb.tent(&["list"]).ok().stdout();
    assert!(listed.contains(&a) && !listed.contains(&b), "only the named section: {listed}");

    let refused = sb.tent(&["apply", "two.ini", "--remove"]).output();
    assert_ne!(refused.code, Some(0));
    assert!(refused.stderr.contains(&a), "{}", refused.describe());
    let plan = sb.tent(&["apply", "two.ini", "--remove", "--dry-run"]).ok().stdout();
    assert!(plan.contains(&format!("- remove {a}")) || plan.contains(&a), "{plan}");
    sb.tent(&["apply", "two.ini", "--remove", "--yes"]).ok();
    let listed = sb.tent(&["list"]).ok().stdout();
    assert!(!listed.contains(&a), "removed: {listed}");
    let others = sb.tent(&["list", "--json"]).ok().stdout();
    assert!(others.contains(&other), "a box the file does not list stays: {others}");
}

/// Issue 14: `clone=SRC` makes the box as a copy of SRC's system (here a
/// file SRC's start hook wrote), even when the file lists the copy first;
/// a second apply leaves both alone.
fn a_distrobox_clone_is_a_copy_of_its_source(engine: Engine) {
    let sb = Sandbox::new(engine);
    let (copy, base) = (sb.name("copy"), sb.name("base"));
    write(
        &sb,
        "clone.ini",
        &format!(
            "[{copy}]\nclone={base}\n\n[{base}]\nimage={BUSYBOX}\ninit_hooks=\"echo from-base > /etc/tent-clone-mark\"\n"
        ),
    );
    let said = sb.tent(&["apply", "clone.ini"]).ok().stderr;
    assert!(!said.contains("ignored: clone"), "{said}");
    assert_eq!(in_box(&sb, &copy, "cat /etc/tent-clone-mark").trim(), "from-base");
    assert_eq!(in_box(&sb, &copy, "hostname").trim(), copy, "the copy has its own host name");
    assert!(sb.tent(&["apply", "clone.ini"]).ok().stderr.contains("nothing to do"));
    // The copy's image (a snapshot tent tagged for it) goes with the boxes.
    sb.tent(&["rm", &copy, &base, "--force", "--yes"]).ok();
    let images = sb.engine_cmd(&["images", "--format", "{{.Repository}}:{{.Tag}}"]).ok().stdout();
    assert!(!images.contains(&format!("tent-snapshot/{}/{copy}:", engine.scope())), "{images}");
}
