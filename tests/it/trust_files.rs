//! Files a stranger can write (issue 19, findings 2 and 3) on real engines:
//! rollback journals in the user's state directory, which every box can
//! write, and box files handed to `tent load`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::engine_tests;
use crate::harness::{BUSYBOX, Engine, Sandbox, TEST_USER};

engine_tests!(
    hostile_rollback_journals_remove_nothing,
    hostile_box_files_tag_run_and_export_nothing_unasked,
    streamed_box_files_load_nothing_unchecked_and_tag_nothing
);

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

/// The engine's image archive of `image` with `tags` as the names in it.
fn image_archive(sb: &Sandbox, image: &str, tags: &[&str]) -> Vec<u8> {
    let saved = sb.home.join("saved.tar");
    let path = saved.to_str().unwrap();
    let mut args = vec!["save"];
    if sb.engine != Engine::Docker {
        args.extend(["--format", "docker-archive"]);
    }
    args.extend(["--output", path, image]);
    sb.engine_cmd(&args).ok();
    let mut archive = tar::Archive::new(std::fs::File::open(&saved).unwrap());
    let mut out = tar::Builder::new(Vec::new());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().into_owned();
        let mut header = entry.header().clone();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        if path == Path::new("manifest.json") {
            let mut manifest: serde_json::Value = serde_json::from_slice(&data).unwrap();
            manifest[0]["RepoTags"] = serde_json::json!(tags);
            data = serde_json::to_vec(&manifest).unwrap();
        }
        if header.entry_type().is_symlink() {
            out.append_link(&mut header, &path, entry.link_name().unwrap().unwrap()).unwrap();
        } else {
            header.set_size(data.len() as u64);
            out.append_data(&mut header, &path, data.as_slice()).unwrap();
        }
    }
    std::fs::remove_file(&saved).unwrap();
    out.into_inner().unwrap()
}

/// A box file as `tent save` writes it, with `meta` and the image archive.
fn box_file(path: &Path, mut meta: serde_json::Value, image: &[u8]) {
    use sha2::Digest;
    let sum: String = sha2::Sha256::digest(image).iter().map(|b| format!("{b:02x}")).collect();
    meta["image_sha256"] = serde_json::json!(sum);
    meta["image_size"] = serde_json::json!(image.len());
    let json = serde_json::to_vec_pretty(&meta).unwrap();
    let gz = flate2::write::GzEncoder::new(std::fs::File::create(path).unwrap(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, data) in [("tent-box.json", json.as_slice()), ("image.tar", image)] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        tar.append_data(&mut header, name, data).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
}

/// The image id a reference names, or None.
fn image_id(sb: &Sandbox, reference: &str) -> Option<String> {
    let done = sb.engine_cmd(&["image", "inspect", "--format", "{{.Id}}", reference]).output();
    (done.code == Some(0)).then(|| done.stdout().trim().trim_start_matches("sha256:").to_string())
}

/// Removes the test's own image tags when it ends, and the tags tent gave
/// the images of its boxes (a loaded image without tent's snapshot labels
/// keeps its `tent-in-use-` tag after `tent rm`).
struct Tags<'a>(&'a Sandbox, Vec<String>);
impl Drop for Tags<'_> {
    fn drop(&mut self) {
        let all = self.0.engine_cmd(&["images", "--format", "{{.Repository}}:{{.Tag}}"]).output().stdout();
        let boxes: Vec<String> = self.1.iter().filter(|t| !t.contains(':')).map(|b| format!("/{b}:")).collect();
        let tent_tags = all.lines().filter(|l| l.contains("tent-snapshot/") && boxes.iter().any(|b| l.contains(b)));
        for tag in self.1.iter().filter(|t| t.contains(':')).map(String::as_str).chain(tent_tags) {
            let _ = self.0.engine_cmd(&["rmi", "--", tag]).output();
        }
    }
}

/// A hostile box file (finding 3): its `image` names one of the user's own
/// tags, the archive carries another of the user's tags (which loading once
/// re-pointed at the file's image), its spec a start hook that runs as the
/// box's root, and it exports a command named `sudo`. Without `--yes` (and no
/// terminal) nothing is made, tagged or untagged; with `--yes`, after the
/// list, the box is made from the archive's image by id and still neither
/// tag is touched.
fn hostile_box_files_tag_run_and_export_nothing_unasked(engine: Engine) {
    let sb = Sandbox::new(engine);
    let unique = format!("{}-{}", engine.key(), std::process::id());
    let mine = format!("localhost/tent-it-mine:{unique}");
    let victim = format!("localhost/tent-it-victim:{unique}");
    let _tags = Tags(&sb, vec![mine.clone(), victim.clone()]);
    sb.engine_cmd(&["tag", BUSYBOX, &mine]).ok();
    sb.engine_cmd(&["tag", crate::harness::BOOKWORM_PLAIN, &victim]).ok();
    let victim_id = image_id(&sb, &victim).unwrap();

    let name = sb.name("hload");
    let _box_tags = Tags(&sb, vec![name.clone()]);
    let hook_mark = format!("/tmp/tent-it-load-hook-{unique}");
    let _ = std::fs::remove_file(&hook_mark);
    let bin_dir = sb.home.join(".local/bin");
    let meta = serde_json::json!({
        "format": 1,
        "box": name,
        "spec": { "image": BUSYBOX, "start_hooks": [format!("touch {hook_mark}")] },
        "exports": [{
            "kind": "bin", "name": "sudo", "request": "/bin/busybox", "target": "/bin/busybox",
            "files": [bin_dir.join("sudo")], "dir": bin_dir, "tent": "/usr/bin/tent",
        }],
        "image": mine,
        "tent_version": "0",
    });
    let file = sb.home.join("hostile.tent");
    box_file(&file, meta, &image_archive(&sb, BUSYBOX, &[victim.as_str(), "localhost/tent-it-extra:x"]));
    let _extra = Tags(&sb, vec!["localhost/tent-it-extra:x".into()]);

    let untouched = |out: &crate::harness::Done| {
        assert_eq!(image_id(&sb, &victim).as_deref(), Some(victim_id.as_str()), "re-pointed: {}", out.describe());
        assert!(image_id(&sb, &mine).is_some(), "the user's tag was untagged: {}", out.describe());
        assert!(image_id(&sb, "localhost/tent-it-extra:x").is_none(), "a tag of the file: {}", out.describe());
    };
    let out = sb.tent(&["load", file.to_str().unwrap()]).output();
    untouched(&out);
    assert_eq!(out.code, Some(2), "{}", out.describe());
    assert!(out.stderr.contains("--yes"), "{}", out.describe());
    assert!(out.stderr.contains(&format!("touch {hook_mark}")), "the hook is shown: {}", out.describe());
    assert!(out.stderr.contains(&format!("{}", bin_dir.join("sudo").display())), "{}", out.describe());
    assert!(sb.engine_cmd(&["container", "inspect", &name]).output().code != Some(0), "no box without --yes");
    assert!(!Path::new(&hook_mark).exists(), "the hook ran unasked");
    assert!(!bin_dir.join("sudo").exists(), "exported unasked");

    // Accepted: made from the archive's own image, by id; no tag touched.
    let out = sb.tent(&["load", file.to_str().unwrap(), "--yes"]).ok();
    untouched(&out);
    assert!(Path::new(&hook_mark).exists(), "an accepted hook runs: {}", out.describe());
    let _ = std::fs::remove_file(&hook_mark);
    let box_image = sb.engine_cmd(&["container", "inspect", "--format", "{{.Image}}", &name]).ok().stdout();
    let busybox_id = image_id(&sb, BUSYBOX).unwrap();
    assert_eq!(box_image.trim().trim_start_matches("sha256:"), busybox_id, "{}", out.describe());
    sb.tent(&["rm", &name, "--force", "--yes"]).ok();
}

/// A box file of format 2 as a stranger can write it (the checksum is no
/// secret): zstd, `tent-box.json`, the image archive's entries under
/// `image/`, then `tent-box.end`; with `wrong_sum`, an end that does not
/// agree with the entries before it.
fn box_file_v2(path: &Path, meta: &serde_json::Value, image: &[u8], wrong_sum: bool) {
    use sha2::Digest;
    let zstd = zstd::stream::write::Encoder::new(std::fs::File::create(path).unwrap(), 3).unwrap().auto_finish();
    let mut out = tar::Builder::new(zstd);
    let add = |out: &mut tar::Builder<_>, name: &str, data: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        out.append_data(&mut header, name, data).unwrap();
    };
    add(&mut out, "tent-box.json", &serde_json::to_vec(meta).unwrap());
    let (mut all, mut size, mut count) = (sha2::Sha256::new(), 0u64, 0u64);
    let mut archive = tar::Archive::new(image);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().trim_start_matches("./").trim_end_matches('/').to_string();
        let kind = entry.header().entry_type();
        let link = entry.link_name().unwrap().map(|l| l.to_string_lossy().into_owned()).unwrap_or_default();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        let sha = if kind.is_file() { sha2::Sha256::digest(&data).to_vec() } else { Vec::new() };
        if kind.is_symlink() || kind.is_hard_link() {
            out.append_link(&mut header, format!("image/{name}"), &link).unwrap();
        } else {
            out.append_data(&mut header, format!("image/{name}"), data.as_slice()).unwrap();
        }
        all.update(name.as_bytes());
        all.update([0, kind.as_byte()]);
        all.update(link.as_bytes());
        all.update([0]);
        all.update((data.len() as u64).to_le_bytes());
        all.update(&sha);
        size += data.len() as u64;
        count += 1;
    }
    let mut sum: String = all.finalize().iter().map(|b| format!("{b:02x}")).collect();
    if wrong_sum {
        sum = sum.replace(|c| c != '0', "0");
    }
    let end = serde_json::json!({"image_sha256": sum, "image_size": size, "entries": count});
    add(&mut out, "tent-box.end", &serde_json::to_vec(&end).unwrap());
    out.into_inner().unwrap();
}

/// Format 2 streams the file into the engine's `load`: by the time the end
/// of a file shows it damaged, the engine has had every layer. A file whose
/// checksum does not agree loads no image (its id is nowhere after the
/// refusal); one that does is loaded by id, and the names its archive
/// carries (the user's tag, another one) are neither moved nor made.
fn streamed_box_files_load_nothing_unchecked_and_tag_nothing(engine: Engine) {
    let sb = Sandbox::new(engine);
    let unique = format!("{}-{}", engine.key(), std::process::id());
    let victim = format!("localhost/tent-it-victim2:{unique}");
    let extra = format!("localhost/tent-it-extra2:{unique}");
    let own = format!("localhost/tent-it-stream:{unique}");
    let _tags = Tags(&sb, vec![victim.clone(), extra.clone(), own.clone()]);
    sb.engine_cmd(&["tag", crate::harness::BOOKWORM_PLAIN, &victim]).ok();
    let victim_id = image_id(&sb, &victim).unwrap();
    // An image of its own (a label no other image has), saved, then removed.
    let maker = sb.name("smake");
    sb.engine_cmd(&["create", "--name", &maker, BUSYBOX, "true"]).ok();
    let made = sb.engine_cmd(&["commit", "--change", &format!("LABEL tent-it={unique}"), &maker, &own]).output();
    let _ = sb.engine_cmd(&["rm", "--force", &maker]).output();
    assert_eq!(made.code, Some(0), "{}", made.describe());
    let id = image_id(&sb, &own).unwrap();
    let archive = image_archive(&sb, &own, &[victim.as_str(), extra.as_str()]);
    sb.engine_cmd(&["rmi", "--", &own]).ok();
    assert!(image_id(&sb, &id).is_none(), "the test's image is gone before the loads");

    let name = sb.name("sload");
    let _box_tags = Tags(&sb, vec![name.clone()]);
    let meta = serde_json::json!({
        "format": 2, "box": name, "spec": { "image": BUSYBOX }, "image": own, "tent_version": "0",
    });
    let untouched = |out: &crate::harness::Done| {
        assert_eq!(image_id(&sb, &victim).as_deref(), Some(victim_id.as_str()), "re-pointed: {}", out.describe());
        assert!(image_id(&sb, &extra).is_none(), "a tag of the file: {}", out.describe());
    };

    let bad = sb.home.join("bad.tent");
    box_file_v2(&bad, &meta, &archive, true);
    let out = sb.tent(&["load", bad.to_str().unwrap(), "--yes"]).code(1);
    assert!(out.stderr.contains("damaged or truncated") && out.stderr.contains("sha256"), "{}", out.describe());
    assert!(image_id(&sb, &id).is_none(), "a file that did not check out was loaded: {}", out.describe());
    assert!(sb.engine_cmd(&["container", "inspect", &name]).output().code != Some(0), "{}", out.describe());
    untouched(&out);

    let good = sb.home.join("good.tent");
    box_file_v2(&good, &meta, &archive, false);
    let out = sb.tent(&["load", good.to_str().unwrap(), "--yes"]).ok();
    untouched(&out);
    let box_image = sb.engine_cmd(&["container", "inspect", "--format", "{{.Image}}", &name]).ok().stdout();
    assert_eq!(box_image.trim().trim_start_matches("sha256:"), id, "{}", out.describe());
    sb.tent(&["rm", &name, "--force", "--yes"]).ok();
    let _ = sb.engine_cmd(&["rmi", "--", &id]).output();
}
