//! A Distrobox section as a tent box. Every key is either mapped to a field
//! of `BoxEntry`, or, when tent has no such feature yet, reported as
//! `ignored: KEY=VALUE (FILE:LINE): why` while the rest of the box applies.
//! Wiring a key later means replacing its `ignored(..)` call with the field.

use std::path::Path;

use super::super::model::{BinExport, BoxEntry};
use super::super::parse::{resolve_path, resolve_volume};
use super::section::{DistroboxSection, Setting};

/// The box for `s`; `notes` gets one line per setting tent does not honour.
pub fn to_box(s: &DistroboxSection, manifest: &Path, notes: &mut Vec<String>) -> BoxEntry {
    let mut entry = BoxEntry { name: s.name.clone(), at: s.at.clone(), ..Default::default() };
    // None: tent's default image, as for `tent create` (TENT_IMAGE, the
    // config file, else one for the host's distro).
    entry.image = s.image.as_ref().map(|x| x.value.clone());
    entry.home = s.home.as_ref().map(|x| resolve_path(&x.value, manifest));
    entry.hostname = s.hostname.as_ref().map(|x| x.value.clone());
    entry.root = s.root.as_ref().is_some_and(|x| x.value);
    entry.packages = s.additional_packages.clone();
    entry.volumes = s.volumes.iter().map(|v| resolve_volume(v, manifest)).collect();
    // Distrobox runs init_hooks at the end of its init, which runs at every
    // start of the container: that is tent's start hooks.
    entry.start_hooks = s.init_hooks.iter().map(|h| h.value.clone()).collect();
    entry.exports.apps = s.exported_apps.clone();
    let bins_path = s.exported_bins_path.as_ref().map(|x| resolve_path(&x.value, manifest));
    entry.exports.bins =
        s.exported_bins.iter().map(|bin| BinExport { bin: bin.clone(), name: None, path: bins_path.clone() }).collect();

    entry.exports.entry = s.entry.as_ref().is_some_and(|x| x.value);
    // start_now=true is what tent does anyway.
    if let Some(x) = s.start_now.as_ref().filter(|x| !x.value) {
        ignored(notes, "start_now", x, "tent apply starts every box it makes");
    }
    when_true(notes, "pull", &s.pull, "not built yet: tent pulls an image only when it is missing");
    when_true(notes, "replace", &s.replace, "tent recreates a box only when its spec changes, after asking");
    when_true(notes, "init", &s.init, "not built yet: tent boxes run tent's own init, not systemd");
    when_true(notes, "nvidia", &s.nvidia, "not built yet: tent does not pass NVIDIA drivers into a box");
    for (key, setting) in [
        ("unshare_groups", &s.unshare_groups),
        ("unshare_ipc", &s.unshare_ipc),
        ("unshare_netns", &s.unshare_netns),
        ("unshare_process", &s.unshare_process),
        ("unshare_devsys", &s.unshare_devsys),
        ("unshare_all", &s.unshare_all),
    ] {
        when_true(notes, key, setting, "not built yet: a tent box shares these with the host");
    }
    for x in &s.additional_flags {
        ignored(notes, "additional_flags", x, "not built yet: tent does not pass engine flags through");
    }
    for x in &s.pre_init_hooks {
        ignored(
            notes,
            "pre_init_hooks",
            x,
            "not built yet: tent has no hooks before provisioning (init_hooks run at every start)",
        );
    }
    if let Some(x) = &s.clone {
        let why = if s.image.is_some() {
            "not built yet: tent makes the box from its image"
        } else {
            "not built yet: tent makes the box from its default image"
        };
        ignored(notes, "clone", x, why);
    }
    if let Some(x) = s.name_key.as_ref().filter(|x| x.value != s.name) {
        ignored(notes, "name", x, &format!("the box is named after its section, {:?}", s.name));
    }
    entry
}

/// The note for a setting tent reads but does not honour.
fn ignored<T>(notes: &mut Vec<String>, key: &str, x: &Setting<T>, why: &str) {
    notes.push(format!("ignored: {key}={} ({}:{}): {why}", x.text, x.at.file.display(), x.at.line));
}

fn when_true(notes: &mut Vec<String>, key: &str, setting: &Option<Setting<bool>>, why: &str) {
    if let Some(x) = setting.as_ref().filter(|x| x.value) {
        ignored(notes, key, x, why);
    }
}
