//! Files a stranger can write (issue 19, findings 2 and 3) on real engines:
//! rollback journals in the user's state directory, which every box can
//! write, and box files handed to `tent load`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::engine_tests;
use crate::harness::{BUSYBOX, Engine, Sandbox, TEST_USER};

engine_tests!(hostile_rollback_journals_remove_nothing);

/// Removes, when the test ends, containers whose names the sandbox did not
/// hand out (a swap's shape, or made as root for a plain user's test).
struct Containers<'a> {
    sb: &'a Sandbox,
    /// The engine client as root instead of the sandbox's user.
    root_client: Option<&'static str>,
    names: Vec<String>,
}

impl Containers<'_> {
    /// Makes a container tent never made (labels and env as given).
    fn make(&mut self, name: &str, extra: &[&str]) {
        let mut args = vec!["create", "--name", name];
        args.extend_from_slice(extra);
        args.extend([BUSYBOX, "true"]);
        self.names.push(name.to_string());
        let done = match self.root_client {
            Some(client) => crate::harness::Run::from({
                let mut c = Command::new(client);
                c.args(&args);
                c
            })
            .ok(),
            None => self.sb.engine_cmd(&args).ok(),
        };
        assert_eq!(done.code, Some(0));
    }

    fn exists(&self, name: &str) -> bool {
        let args = ["container", "inspect", "--", name];
        let done = match self.root_client {
            Some(client) => crate::harness::Run::from({
                let mut c = Command::new(client);
                c.args(args);
                c
            })
            .output(),
            None => self.sb.engine_cmd(&args).output(),
        };
        done.code == Some(0)
    }
}

impl Drop for Containers<'_> {
    fn drop(&mut self) {
        for name in &self.names {
            let args = ["rm", "--force", "--", name.as_str()];
            let _ = match self.root_client {
                Some(client) => Command::new(client).args(args).output().map(drop),
                None => {
                    self.sb.engine_cmd(&args).output();
                    Ok(())
                }
            };
        }
    }
}

/// Writes journal files as the sandbox's user would (a box can: the state
/// directory is in the shared home).
fn plant_journals(sb: &Sandbox, scope: &str, journals: &[(String, serde_json::Value)]) -> PathBuf {
    let dir = sb.home.join(".local/state/tent/boxes").join(scope).join("journal");
    std::fs::create_dir_all(&dir).unwrap();
    for (file, journal) in journals {
        std::fs::write(dir.join(file), serde_json::to_vec_pretty(journal).unwrap()).unwrap();
    }
    if sb.engine != Engine::PodmanRoot {
        let state = sb.home.join(".local");
        let status = Command::new("chown").args(["-R", &format!("{TEST_USER}:")]).arg(&state).status().unwrap();
        assert!(status.success());
    }
    dir
}

fn journal(box_name: &str, new_name: &str, old_name: &str) -> serde_json::Value {
    serde_json::json!({
        "box": box_name,
        "old_id": "0".repeat(64),
        "new_name": new_name,
        "old_name": old_name,
        "image": "localhost/tent-snapshot/podman/x:tent-in-use-1",
    })
}

fn assert_left_alone(out: &crate::harness::Done, dir: &Path, files: &[&str]) {
    for file in files {
        assert!(dir.join(file).exists(), "{file} was removed: {}", out.describe());
        assert!(
            out.stderr.contains("left the rollback journal") && out.stderr.contains(file),
            "no warning naming {file}: {}",
            out.describe()
        );
    }
}

/// Journals a box planted name an engine option (`--filter=name=X`, which
/// podman's `rm` takes), containers tent never made, and another user's box
/// under a swap's exact temporary name: the next `tent list` removes none of
/// them, leaves the files and names each in a warning.
fn hostile_rollback_journals_remove_nothing(engine: Engine) {
    let sb = Sandbox::new(engine);
    let mut made = Containers { sb: &sb, root_client: None, names: Vec::new() };
    let held = sb.name("jheld");
    let by_option = sb.name("jopt");
    let by_name = sb.name("jplain");
    let shaped = format!("{held}-tent-old-abc");
    let foreign = sb.name("jforeign");
    let foreign_old = format!("{foreign}-tent-old-abc");
    let other_uid = (sb.uid() + 1).to_string();
    let foreign_labels = [
        "--label",
        "tent.format=1",
        "--label",
        &format!("tent.uid={other_uid}"),
        "--env",
        &format!("TENT_BOX={foreign}"),
    ];
    for name in [&held, &by_option, &by_name, &shaped] {
        made.make(name, &[]);
    }
    made.make(&foreign, &foreign_labels);
    made.make(&foreign_old, &foreign_labels);

    let journals = vec![
        ("a.json".to_string(), journal(&held, "x", &format!("--filter=name=^{by_option}$"))),
        ("b.json".to_string(), journal(&held, "x", &by_name)),
        (format!("{held}.abc.json"), journal(&held, &format!("{held}-tent-new-abc"), &shaped)),
        (format!("{foreign}.abc.json"), journal(&foreign, &format!("{foreign}-tent-new-abc"), &foreign_old)),
    ];
    let dir = plant_journals(&sb, engine.scope(), &journals);
    let out = sb.tent(&["list"]).ok();
    for name in [&held, &by_option, &by_name, &shaped, &foreign, &foreign_old] {
        assert!(made.exists(name), "{name} was removed: {}", out.describe());
    }
    let files: Vec<&str> = journals.iter().map(|(f, _)| f.as_str()).collect();
    assert_left_alone(&out, &dir, &files);
    // The warning says why, naming the container.
    assert!(out.stderr.contains(&format!("{held:?} is not a tent box")), "{}", out.describe());
    assert!(out.stderr.contains(&format!("belongs to uid {other_uid}")), "{}", out.describe());
}

/// A plain user's journal under `--root` (rootful podman through sudo): it
/// once removed a container in root's store.
#[test]
fn a_users_journal_removes_nothing_in_roots_store() {
    let Some(sb) = Sandbox::if_enabled(Engine::PodmanRootless) else { return };
    if !crate::harness::enabled(Engine::PodmanRoot) {
        return;
    }
    let mut made = Containers { sb: &sb, root_client: Some("podman"), names: Vec::new() };
    let held = sb.name("jrheld");
    let victim = sb.name("jrvictim");
    made.make(&held, &[]);
    made.make(&victim, &[]);
    let journals = vec![
        ("a.json".to_string(), journal(&held, "x", &victim)),
        ("b.json".to_string(), journal(&held, "x", &format!("--filter=name=^{victim}$"))),
    ];
    let dir = plant_journals(&sb, "podman-root", &journals);
    let out = sb.tent(&["--root", "list"]).ok();
    assert!(made.exists(&victim), "root's container was removed: {}", out.describe());
    assert!(made.exists(&held), "{}", out.describe());
    assert_left_alone(&out, &dir, &["a.json", "b.json"]);
}
