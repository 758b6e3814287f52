//! A Distrobox section as a tent box. Every key is either mapped to a field
//! of `BoxEntry`, or, when tent has no such feature yet, reported as
//! `ignored: KEY=VALUE (FILE:LINE): why` while the rest of the box applies.
//! Wiring a key later means replacing its `ignored(..)` call with the field.

use std::path::Path;

use super::super::model::{BinExport, BoxEntry};
use super::super::parse::{resolve_path, resolve_volume};
use super::section::{DistroboxSection, Setting};

/// The box for `s`; `notes` gets one line per setting tent does not honour.
pub(super) fn to_box(s: &DistroboxSection, manifest: &Path, notes: &mut Vec<String>) -> BoxEntry {
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
    when_true(notes, "replace", &s.replace, "tent recreates a box only when its spec changes, after asking");
    let on = |x: &Option<Setting<bool>>| x.as_ref().is_some_and(|x| x.value);
    entry.pull = on(&s.pull);
    entry.nvidia = on(&s.nvidia);
    // Distrobox's --init implies --unshare-process and --unshare-groups.
    entry.init = on(&s.init);
    entry.unshare.netns = on(&s.unshare_netns);
    entry.unshare.ipc = on(&s.unshare_ipc);
    entry.unshare.process = on(&s.unshare_process) || entry.init;
    entry.unshare.devsys = on(&s.unshare_devsys);
    entry.unshare.groups = on(&s.unshare_groups) || entry.init;
    if on(&s.unshare_all) {
        entry.unshare = crate::boxes::spec::Unshare::all();
    }
    // additional_flags lines are already split into words (never given to a
    // shell); a line tent must refuse is left out with the reason.
    for x in &s.additional_flags {
        match crate::boxes::engine_args::check(&x.value, &entry.unshare) {
            Ok(()) => entry.engine_args.extend(x.value.iter().cloned()),
            Err(why) => ignored(notes, "additional_flags", x, &why),
        }
    }
    entry.pre_init_hooks = s.pre_init_hooks.iter().map(|h| h.value.clone()).collect();
    entry.clone = s.clone.as_ref().map(|x| x.value.clone());
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
