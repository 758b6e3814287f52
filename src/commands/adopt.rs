//! `tent adopt NAME`: take over a container made by Distrobox or Toolbx.
//!
//! Its system (the container's own filesystem) is committed into an image of
//! tent's and made again as a tent box of the same name, through the same
//! journaled swap as `tent rollback` (`Snapshots::adopt`): the new box is made
//! under a temporary name while the old container stays, and the old one goes
//! (or, with `--keep-old`, is renamed `NAME-pre-tent`) only once the new box
//! has started and its init is done. Its home stays where it was: the real
//! home, or the folder Distrobox's `--home` gave it. Exports that
//! `distrobox-export` wrote (wrappers in `~/.local/bin`, launchers in
//! `~/.local/share/applications`) are listed; with `--exports` each is made
//! again as a tent export with a receipt, and the old file, which is the
//! user's, is moved aside into tent's state folder, never deleted.
//!
//! A container that is neither Distrobox's (label `manager=distrobox`) nor
//! Toolbx's (label `com.github.containers.toolbox=true`) is refused, with the
//! labels and image found. See docs/adopt.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Context;
use crate::boxes::{BoxSpec, labels};
use crate::cli::AdoptArgs;
use crate::error::{Error, Result};
use crate::output::{Unanswered, sanitize};

/// Which tool made the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Maker {
    Distrobox,
    Toolbx,
}

impl Maker {
    fn title(self) -> &'static str {
        match self {
            Maker::Distrobox => "Distrobox",
            Maker::Toolbx => "Toolbx",
        }
    }
}

/// What the engine's `inspect` says about the container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Found {
    pub id: String,
    pub labels: BTreeMap<String, String>,
    pub env: BTreeMap<String, String>,
    /// The entry point's arguments (`Config.Cmd`).
    pub cmd: Vec<String>,
    pub image: String,
    /// (source on the host, destination in the container)
    pub mounts: Vec<(String, String)>,
}

/// Reads the first container of an engine's `container inspect` JSON (both
/// engines give the same shape for these fields); None when it is not one.
pub(super) fn parse_found(json: &str) -> Option<Found> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let c = value.get(0)?;
    let config = c.get("Config")?;
    let strings = |v: Option<&serde_json::Value>| -> Vec<String> {
        v.and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    let labels = config
        .get("Labels")
        .and_then(|l| l.as_object())
        .map(|l| l.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default();
    let env = strings(config.get("Env"))
        .into_iter()
        .filter_map(|e| e.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    let image = config
        .get("Image")
        .and_then(|i| i.as_str())
        .filter(|i| !i.is_empty())
        .or_else(|| c.get("ImageName").and_then(|i| i.as_str()))
        .unwrap_or_default()
        .to_string();
    let mounts = c
        .get("Mounts")
        .and_then(|m| m.as_array())
        .map(|m| {
            m.iter()
                .filter_map(|m| {
                    let src = m.get("Source").and_then(|s| s.as_str()).unwrap_or_default();
                    Some((src.to_string(), m.get("Destination")?.as_str()?.to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Found { id: c.get("Id")?.as_str()?.to_string(), labels, env, cmd: strings(config.get("Cmd")), image, mounts })
}

/// Which tool made the container, or what was found instead (for the error).
pub(super) fn classify(found: &Found) -> std::result::Result<Maker, String> {
    let label = |k: &str| found.labels.get(k).map(String::as_str);
    if label(labels::FORMAT).is_some() {
        return Err("it is a tent box already".into());
    }
    if label("manager") == Some("distrobox") {
        return Ok(Maker::Distrobox);
    }
    if label("com.github.containers.toolbox") == Some("true") || label("com.github.debarshiray.toolbox") == Some("true")
    {
        return Ok(Maker::Toolbx);
    }
    let shown: Vec<String> = found.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    Err(format!(
        "it is neither a Distrobox container (label manager=distrobox) nor a Toolbx container (label \
         com.github.containers.toolbox=true); its labels: {}; its image: {}",
        if shown.is_empty() { "none".to_string() } else { shown.join(", ") },
        if found.image.is_empty() { "unknown" } else { &found.image }
    ))
}

/// The value after `flag` in the entry point's arguments.
fn arg_after<'a>(cmd: &'a [String], flag: &str) -> Option<&'a str> {
    cmd.iter().position(|a| a == flag).and_then(|i| cmd.get(i + 1)).map(String::as_str)
}

/// The uid the container was made for: Distrobox's `--user UID`, Toolbx's `--uid UID`.
pub(super) fn made_for_uid(found: &Found, maker: Maker) -> Option<u32> {
    let flag = match maker {
        Maker::Distrobox => "--user",
        Maker::Toolbx => "--uid",
    };
    arg_after(&found.cmd, flag)?.parse().ok()
}

/// The box's own home, when Distrobox gave it one (`--home DIR`: `HOME` is
/// DIR and `DISTROBOX_HOST_HOME` the real home, both mounted).
pub(super) fn own_home(found: &Found, maker: Maker, user_home: &Path) -> Option<PathBuf> {
    if maker != Maker::Distrobox || !found.env.contains_key("DISTROBOX_HOST_HOME") {
        return None;
    }
    let home = PathBuf::from(found.env.get("HOME")?);
    (home.is_absolute() && home != user_home).then_some(home)
}

/// The tent spec of the adopted box: tent's defaults, the container's image
/// name, its own home (with the real home mounted, as Distrobox does), and
/// Distrobox's `--init` and `--nvidia`.
pub(super) fn spec_for(found: &Found, maker: Maker, user_home: &Path, rootful_through_sudo: bool) -> BoxSpec {
    let home = own_home(found, maker, user_home);
    let on = |flag| maker == Maker::Distrobox && matches!(arg_after(&found.cmd, flag), Some("1" | "true"));
    BoxSpec {
        image: found.image.clone(),
        mount_home: home.is_some(),
        home,
        init: on("--init"),
        nvidia: on("--nvidia"),
        root: rootful_through_sudo,
        ..Default::default()
    }
}

/// Mounts the two tools make themselves (tent's box gets its own of these).
const OWN_MOUNTS: &[&str] = &[
    "/tmp",
    "/run/host",
    "/dev",
    "/sys",
    "/usr/bin/entrypoint",
    "/usr/bin/distrobox-export",
    "/usr/bin/distrobox-host-exec",
    "/usr/bin/toolbox",
    "/run/user",
    "/run/host",
    "/run/systemd",
    "/run/media",
    "/run/udev",
    "/run/.nopasswd",
    "/run/.distrobox.rootless",
    "/run/.containerenv",
    "/run/.toolboxenv",
    "/run/avahi-daemon",
    "/run/pcscd",
    "/run/libvirt",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/hostname",
    "/etc/machine-id",
    "/etc/localtime",
    "/var/log/journal",
    "/var/home",
    "/var/mnt",
    "/var/lib/flatpak",
    "/var/lib/libvirt",
    "/var/lib/systemd/coredump",
    "/media",
    "/mnt",
    "/home",
    "/boot",
];

/// The container's mounts the new box will not have: those neither tool
/// makes for every container and that are not a home.
pub(super) fn mounts_left_out(found: &Found, homes: &[&Path]) -> Vec<String> {
    found
        .mounts
        .iter()
        .filter(|(_, dst)| {
            let d = Path::new(dst);
            !OWN_MOUNTS.iter().any(|m| d.starts_with(m)) && !homes.iter().any(|h| d.starts_with(h))
        })
        .map(|(src, dst)| format!("{src}:{dst}"))
        .collect()
}

/// One export `distrobox-export` made for the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct OldExport {
    /// `app` or `bin`
    pub kind: &'static str,
    /// The app's desktop-file id, or the command's path in the box.
    pub target: String,
    /// The file on the host.
    pub file: PathBuf,
}

/// The command a `distrobox-export --bin` wrapper runs for container
/// `name`: the path in its last `exec … '/path' "$@"` line. None when the
/// text is not such a wrapper of that container.
pub(super) fn bin_target(text: &str, name: &str) -> Option<String> {
    let mut lines = text.lines().map(str::trim);
    if lines.next() != Some("#!/bin/sh") || lines.next() != Some("# distrobox_binary") {
        return None;
    }
    if lines.next().and_then(|l| l.strip_prefix("# name:")).map(str::trim) != Some(name) {
        return None;
    }
    let last = text.lines().map(str::trim).rfind(|l| l.starts_with("exec "))?;
    if last.contains("distrobox-enter") || last.contains("distrobox-host-exec") {
        return None;
    }
    let start = last.find('\'')? + 1;
    let end = start + last[start..].find('\'')?;
    let path = &last[start..end];
    (path.starts_with('/') && !path.contains('\n')).then(|| path.to_string())
}

/// The app a `distrobox-export --app` launcher `file_name` opens in container
/// `name`: its desktop-file id. None when it is not one of that container's.
pub(super) fn desktop_app(file_name: &str, text: &str, name: &str) -> Option<String> {
    let id = file_name.strip_prefix(&format!("{name}-"))?.strip_suffix(".desktop")?;
    if id.is_empty() {
        return None;
    }
    let runs_in_it = text.lines().filter_map(|l| l.trim().strip_prefix("Exec=")).any(|exec| {
        let words: Vec<&str> = exec.split_whitespace().collect();
        words.iter().any(|w| w.ends_with("distrobox-enter"))
            && words.windows(2).any(|w| (w[0] == "-n" || w[0] == "--name") && w[1] == name)
    });
    runs_in_it.then(|| id.to_string())
}

/// The most entries of a folder looked at, and the largest file read.
const MAX_ENTRIES: usize = 20_000;
const MAX_FILE: u64 = 64 * 1024;

/// The exports `distrobox-export` left for container `name` in the user's
/// folders. The files are in the home (every box writes there): read
/// bounded, never through a link.
pub(super) fn scan_exports(bin_dir: &Path, apps_dir: &Path, name: &str) -> Vec<OldExport> {
    let mut found = Vec::new();
    let read = |path: &Path| -> Option<String> {
        let bytes = crate::files::read_bounded(path, MAX_FILE).ok().flatten()?;
        String::from_utf8(bytes).ok()
    };
    let files = |dir: &Path| -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|d| d.flatten().take(MAX_ENTRIES).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
    };
    for path in files(bin_dir) {
        if let Some(target) = read(&path).and_then(|t| bin_target(&t, name)) {
            found.push(OldExport { kind: "bin", target, file: path });
        }
    }
    for path in files(apps_dir) {
        let Some(file_name) = path.file_name().and_then(|f| f.to_str()).map(str::to_string) else { continue };
        if !file_name.starts_with(&format!("{name}-")) {
            continue;
        }
        if let Some(id) = read(&path).and_then(|t| desktop_app(&file_name, &t, name)) {
            found.push(OldExport { kind: "app", target: id, file: path });
        }
    }
    found
}

/// The plan, as printed and as `--json`.
#[derive(Debug, Serialize)]
struct Plan<'a> {
    #[serde(rename = "box")]
    name: &'a str,
    made_by: Maker,
    engine: String,
    image: &'a str,
    running: bool,
    /// The home the box keeps.
    home: PathBuf,
    /// Its own home (Distrobox's --home): the real home is mounted too.
    own_home: bool,
    exports: Vec<OldExport>,
    remake_exports: bool,
    /// Where old export files are moved with --exports.
    moved_to: PathBuf,
    keep_old: Option<String>,
    mounts_left_out: Vec<String>,
    dry_run: bool,
}

/// What was done, for `--json`.
#[derive(Debug, Serialize)]
struct Done<'a> {
    #[serde(flatten)]
    plan: &'a Plan<'a>,
    adopted: bool,
    kept_old_as: Option<String>,
    exports_made: Vec<String>,
    exports_failed: Vec<String>,
}

pub(super) fn run(ctx: &Context<'_>, args: &AdoptArgs) -> Result<i32> {
    let name = args.name.as_str();
    crate::boxes::validate_name(name).map_err(|_| {
        Error::usage(
            format!("{name:?} is not a name tent can give a box"),
            Some("rename the container first (`podman rename OLD NEW`), using letters, digits, '_', '.', '-'".into()),
        )
    })?;
    let output = ctx.engine.output(&crate::engine::argv::container_inspect(name))?;
    if !output.status.success() {
        return Err(Error::NoSuchBox { name: name.into(), engine: ctx.engine.describe() });
    }
    let container = ctx
        .engine
        .inspect(name)?
        .ok_or_else(|| Error::NoSuchBox { name: name.into(), engine: ctx.engine.describe() })?;
    let found = parse_found(&String::from_utf8_lossy(&output.stdout)).ok_or_else(|| {
        Error::usage(format!("could not read what {} says about container {name}", ctx.engine.name()), None)
    })?;
    let maker = classify(&found).map_err(|why| {
        Error::usage(
            format!("not adopting container {name}: {}", sanitize(&why)),
            Some(if found.labels.contains_key(labels::FORMAT) {
                format!("use it as it is: `tent enter {name}`")
            } else {
                format!(
                    "tent adopts only Distrobox and Toolbx containers; make a new box with `tent create {name}-box`"
                )
            }),
        )
    })?;
    let uid = rustix::process::getuid().as_raw();
    if let Some(for_uid) = made_for_uid(&found, maker)
        && for_uid != uid
    {
        return Err(Error::usage(
            format!(
                "not adopting container {name}: {} made it for uid {for_uid}, and you are uid {uid}",
                maker.title()
            ),
            Some("adopt it as the user it was made for".into()),
        ));
    }
    let spec = spec_for(&found, maker, &ctx.paths.home, ctx.engine.rootful() && ctx.engine.through_sudo());
    let homes: Vec<&Path> = [Some(ctx.paths.home.as_path()), spec.home.as_deref()].into_iter().flatten().collect();
    let bin_dir = ctx.bin_dir();
    let apps_dir = ctx.paths.data_home.join("applications");
    let exports = if maker == Maker::Distrobox { scan_exports(&bin_dir, &apps_dir, name) } else { Vec::new() };
    let keep_name = format!("{name}-pre-tent");
    let plan = Plan {
        name,
        made_by: maker,
        engine: ctx.engine.describe(),
        image: &found.image,
        running: container.running(),
        home: spec.home.clone().unwrap_or_else(|| ctx.paths.home.clone()),
        own_home: spec.home.is_some(),
        remake_exports: args.exports,
        moved_to: ctx.paths.state.join("adopted").join(name),
        exports,
        keep_old: args.keep_old.then(|| keep_name.clone()),
        mounts_left_out: mounts_left_out(&found, &homes),
        dry_run: args.dry_run,
    };
    if !args.json || args.dry_run {
        show(ctx, &plan, args.json);
    }
    if args.dry_run {
        return Ok(0);
    }
    if args.json && !args.yes {
        return Err(Error::usage(
            "--json shows no plan to answer: it goes with --dry-run or --yes",
            Some(format!("`tent adopt {name} --dry-run --json`, then `tent adopt {name} --yes --json`")),
        ));
    }
    let unanswered = Unanswered::Refuse(Error::usage(
        format!("not adopting {name} without a confirmation"),
        Some(format!("see the plan with `tent adopt {name} --dry-run`, then run `tent adopt {name} --yes`")),
    ));
    let question = format!("Adopt {name} as a tent box, as above?");
    ctx.printer.agree(args.yes, &question, unanswered, &format!("{name} was not changed"))?;

    let snapshots = ctx.snapshots();
    let spinner = ctx.printer.spinner(format!("committing the system of {name}"));
    let overrides = match maker {
        // The image keeps the container's labels: without these, the tools
        // would list the new box as theirs.
        Maker::Distrobox => vec![("manager".to_string(), "tent".to_string())],
        Maker::Toolbx => vec![
            ("com.github.containers.toolbox".to_string(), "false".to_string()),
            ("com.github.debarshiray.toolbox".to_string(), "false".to_string()),
        ],
    };
    let image = snapshots.commit_foreign(&found.id, name, &overrides);
    spinner.finish();
    let image = image?;
    let mut spec = spec;
    if crate::boxes::spec::validate_image(&spec.image).is_err() {
        spec.image = image.clone();
    }
    let spinner = ctx.printer.spinner(format!("making {name} again as a tent box"));
    let swapped = snapshots.adopt(name, &container, &spec, &image, args.keep_old.then_some(keep_name.as_str()));
    spinner.finish();
    let swapped = match swapped {
        Ok(s) => s,
        Err(err) => {
            let _ = ctx.engine.output(&crate::engine::argv::rmi(&image));
            ctx.printer.warn(format!("{name} was not adopted; the {} container is as it was", maker.title()));
            return Err(err);
        }
    };
    match &swapped.kept {
        Some(kept) => ctx.printer.status(format!(
            "{name} is a tent box now, on its old system; the {} container is kept as {kept} (`{} rm {kept}` when you no longer need it)",
            maker.title(),
            ctx.engine.name()
        )),
        None => ctx.printer.status(format!(
            "{name} is a tent box now, on its old system; the {} container is removed",
            maker.title()
        )),
    }
    let (made, failed) = if args.exports { remake_exports(ctx, name, &plan) } else { (Vec::new(), Vec::new()) };
    if args.json {
        let done =
            Done { plan: &plan, adopted: true, kept_old_as: swapped.kept, exports_made: made, exports_failed: failed };
        ctx.printer.data(serde_json::to_string_pretty(&done).expect("the result serializes"));
    }
    Ok(0)
}

/// Prints the plan (or, with `json`, the plan as JSON).
fn show(ctx: &Context<'_>, plan: &Plan<'_>, json: bool) {
    if json {
        ctx.printer.data(serde_json::to_string_pretty(plan).expect("the plan serializes"));
        return;
    }
    let p = &ctx.printer;
    let name = plan.name;
    p.data(format!(
        "{name}: a {} container on {}, image {}{}",
        plan.made_by.title(),
        plan.engine,
        sanitize(if plan.image.is_empty() { "unknown" } else { plan.image }),
        if plan.running { ", running" } else { "" }
    ));
    p.data("  1. commit its system into an image of tent's (its home and volumes are not in it)");
    p.data(format!(
        "  2. make {name} again from it as a tent box (runs as you, snapshots, upgrade), with the home {}{}",
        plan.home.display(),
        if plan.own_home { " (its own; your real home is mounted too, as Distrobox did)" } else { "" }
    ));
    match &plan.keep_old {
        Some(keep) => p.data(format!("  3. once it is ready, keep the old container as {keep}")),
        None => p.data("  3. once it is ready, remove the old container (--keep-old keeps it)"),
    }
    for mount in &plan.mounts_left_out {
        p.data(format!(
            "  not carried over: the mount {} (add it later with a manifest or `--volume`)",
            sanitize(mount)
        ));
    }
    if plan.exports.is_empty() {
        return;
    }
    p.data("  exports made by distrobox-export:");
    for e in &plan.exports {
        p.data(format!("    {} {}: {}", e.kind, sanitize(&e.target), e.file.display()));
    }
    if plan.remake_exports {
        p.data(format!(
            "  4. make each again as a tent export; each old file above is yours: it is moved to {}, not deleted",
            plan.moved_to.display()
        ));
    } else {
        p.data(format!(
            "  they are left as they are (they call distrobox-enter); `--exports` makes them again as tent exports, or \
             run `tent export {name} --app APP` / `--bin PATH` yourself"
        ));
    }
}

/// Makes each old export again as a tent export, after moving its file
/// aside (a tent export of the same name would otherwise not replace it).
/// Returns what was made and what failed.
fn remake_exports(ctx: &Context<'_>, name: &str, plan: &Plan<'_>) -> (Vec<String>, Vec<String>) {
    let (mut made, mut failed) = (Vec::new(), Vec::new());
    if let Err(e) = {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&plan.moved_to)
    } {
        ctx.printer.warn(format!("no exports were made again: {e}"));
        failed.extend(plan.exports.iter().map(|e| e.target.clone()));
        return (made, failed);
    }
    for old in &plan.exports {
        let file_name = old.file.file_name().map(|f| f.to_os_string()).unwrap_or_default();
        let aside = unused(&plan.moved_to.join(&file_name));
        if let Err(e) = std::fs::rename(&old.file, &aside) {
            ctx.printer
                .warn(format!("left {} and made no tent export of it: could not move it: {e}", old.file.display()));
            failed.push(old.target.clone());
            continue;
        }
        let result = ctx.exporter(&ctx.engine, name, false).and_then(|exporter| match old.kind {
            "app" => exporter.export_app(&old.target),
            _ => {
                let dir = old.file.parent().unwrap_or(Path::new("."));
                exporter.export_bin(&old.target, file_name.to_str(), dir)
            }
        });
        match result {
            Ok(outcome) => {
                ctx.printer.status(format!(
                    "exported {} {} from {name} as {} (the old file is now {})",
                    old.kind,
                    sanitize(&old.target),
                    outcome.export.files[0].display(),
                    aside.display()
                ));
                made.push(old.target.clone());
            }
            Err(err) => {
                let back = std::fs::rename(&aside, &old.file);
                ctx.printer.warn(format!(
                    "could not export {} {} from {name}: {err}; {}",
                    old.kind,
                    sanitize(&old.target),
                    if back.is_ok() {
                        "its old file is back in place".to_string()
                    } else {
                        format!("its old file is {}", aside.display())
                    }
                ));
                failed.push(old.target.clone());
            }
        }
    }
    (made, failed)
}

/// `path`, or `path.N` for the first N that is free.
fn unused(path: &Path) -> PathBuf {
    if std::fs::symlink_metadata(path).is_err() {
        return path.to_path_buf();
    }
    (2..)
        .map(|n| PathBuf::from(format!("{}.{n}", path.display())))
        .find(|p| std::fs::symlink_metadata(p).is_err())
        .expect("some name is free")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `podman container inspect` gives for a container made by
    /// `distrobox create --home /data/h` (trimmed to the fields read).
    const DISTROBOX_INSPECT: &str = r#"[{"Id":"0123abcd","Name":"dev","ImageName":"localhost/debian:12",
        "Config":{"Image":"localhost/debian:12","Labels":{"manager":"distrobox","distrobox.unshare_groups":"0"},
        "Env":["SHELL=bash","HOME=/data/h","DISTROBOX_HOST_HOME=/home/me","CONTAINER_ID=dev","container=podman"],
        "Cmd":["--verbose","--name","me","--user","1000","--group","1000","--home","/data/h","--init","0","--nvidia","1","--"]},
        "Mounts":[{"Source":"/tmp","Destination":"/tmp"},{"Source":"/home/me","Destination":"/home/me"},
        {"Source":"/data/h","Destination":"/data/h"},{"Source":"/srv/big","Destination":"/big"},
        {"Source":"/usr/bin/distrobox-init","Destination":"/usr/bin/entrypoint"}]}]"#;

    fn found() -> Found {
        parse_found(DISTROBOX_INSPECT).unwrap()
    }

    #[test]
    fn a_distrobox_container_is_read_from_its_inspect() {
        let f = found();
        assert_eq!(f.id, "0123abcd");
        assert_eq!(f.image, "localhost/debian:12");
        assert_eq!(f.env["HOME"], "/data/h");
        assert_eq!(classify(&f), Ok(Maker::Distrobox));
        assert_eq!(made_for_uid(&f, Maker::Distrobox), Some(1000));
        let spec = spec_for(&f, Maker::Distrobox, Path::new("/home/me"), false);
        assert_eq!(spec.home.as_deref(), Some(Path::new("/data/h")));
        assert!(spec.mount_home, "Distrobox mounts the real home too");
        assert!(spec.nvidia && !spec.init);
        assert_eq!(spec.image, "localhost/debian:12");
        let homes = [Path::new("/home/me"), Path::new("/data/h")];
        assert_eq!(mounts_left_out(&f, &homes), ["/srv/big:/big"], "only the user's own volume is named");
    }

    #[test]
    fn the_real_home_is_no_home_of_its_own() {
        let mut f = found();
        f.env.insert("HOME".into(), "/home/me".into());
        assert_eq!(own_home(&f, Maker::Distrobox, Path::new("/home/me")), None);
        f.env.remove("DISTROBOX_HOST_HOME");
        f.env.insert("HOME".into(), "/data/h".into());
        assert_eq!(own_home(&f, Maker::Distrobox, Path::new("/home/me")), None, "no --home without its variable");
        assert_eq!(own_home(&found(), Maker::Toolbx, Path::new("/home/me")), None);
    }

    #[test]
    fn toolbx_containers_by_either_label_and_their_uid() {
        let mut f = Found { image: "fedora-toolbox:41".into(), ..Default::default() };
        f.labels.insert("com.github.containers.toolbox".into(), "true".into());
        assert_eq!(classify(&f), Ok(Maker::Toolbx));
        f.labels.clear();
        f.labels.insert("com.github.debarshiray.toolbox".into(), "true".into());
        assert_eq!(classify(&f), Ok(Maker::Toolbx));
        f.cmd =
            ["toolbox", "init-container", "--gid", "1000", "--uid", "1000", "--user", "me"].map(String::from).into();
        assert_eq!(made_for_uid(&f, Maker::Toolbx), Some(1000));
        assert_eq!(made_for_uid(&f, Maker::Distrobox), None, "--user is a name for Toolbx");
    }

    #[test]
    fn other_containers_are_refused_with_what_was_found() {
        let mut f = Found { image: "docker.io/library/nginx:1".into(), ..Default::default() };
        f.labels.insert("maintainer".into(), "someone".into());
        let why = classify(&f).unwrap_err();
        assert!(why.contains("maintainer=someone") && why.contains("nginx:1"), "{why}");
        f.labels.insert("manager".into(), "compose".into());
        assert!(classify(&f).is_err());
        f.labels.insert(labels::FORMAT.into(), "1".into());
        f.labels.insert("manager".into(), "distrobox".into());
        assert_eq!(classify(&f).unwrap_err(), "it is a tent box already");
        let bare = Found::default();
        assert!(classify(&bare).unwrap_err().contains("labels: none"));
    }

    /// A wrapper as distrobox-export 1.8.2.5 writes it (generate_script).
    fn wrapper(name: &str, sudo: &str, bin: &str) -> String {
        format!(
            "#!/bin/sh\n# distrobox_binary\n# name: {name}\nif [ -z \"${{CONTAINER_ID}}\" ]; then\n\
             \texec \"distrobox-enter\"  -n {name}  --  {sudo} '{bin}' \"$@\"\n\
             elif [ -n \"${{CONTAINER_ID}}\" ] && [ \"${{CONTAINER_ID}}\" != \"{name}\" ]; then\n\
             \texec distrobox-host-exec '/home/me/.local/bin/x' \"$@\"\nelse\n\texec {sudo} '{bin}' \"$@\"\nfi\n"
        )
    }

    #[test]
    fn distrobox_export_wrappers_name_their_command() {
        assert_eq!(bin_target(&wrapper("dev", "", "/usr/bin/jq"), "dev").as_deref(), Some("/usr/bin/jq"));
        assert_eq!(bin_target(&wrapper("dev", "sudo", "/usr/sbin/x"), "dev").as_deref(), Some("/usr/sbin/x"));
        assert_eq!(bin_target(&wrapper("dev", "", "/usr/bin/jq"), "dev2"), None, "another container's");
        assert_eq!(bin_target(&wrapper("dev2", "", "/usr/bin/jq"), "dev"), None);
        assert_eq!(bin_target("#!/bin/sh\nexec jq \"$@\"\n", "dev"), None, "not Distrobox's");
        assert_eq!(bin_target(&wrapper("dev", "", "jq"), "dev"), None, "paths only");
    }

    #[test]
    fn distrobox_export_launchers_name_their_app() {
        let text = "[Desktop Entry]\nName=Calculator (on dev)\n\
                    Exec=distrobox-enter  -n dev  --   gnome-calculator  \nIcon=calc\n";
        assert_eq!(
            desktop_app("dev-org.gnome.Calculator.desktop", text, "dev").as_deref(),
            Some("org.gnome.Calculator")
        );
        assert_eq!(desktop_app("dev-org.gnome.Calculator.desktop", text, "de"), None);
        assert_eq!(desktop_app("dev-x.desktop", "[Desktop Entry]\nExec=x\n", "dev"), None, "not through Distrobox");
        let other = text.replace("-n dev ", "-n dev2 ");
        assert_eq!(desktop_app("dev-x.desktop", &other, "dev"), None, "another container's");
        assert_eq!(desktop_app("dev-.desktop", text, "dev"), None);
        let rootful = "Exec=env SUDO_ASKPASS=\"/h/.local/bin/distrobox_sudo_askpass\" DBX_SUDO_PROGRAM=\"sudo --askpass\" \
                       /usr/bin/distrobox-enter --root -n dev -- x\n";
        assert_eq!(desktop_app("dev-x.desktop", rootful, "dev").as_deref(), Some("x"));
    }

    #[test]
    fn exports_are_found_in_the_users_folders_and_links_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let (bin, apps) = (dir.path().join("bin"), dir.path().join("apps"));
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&apps).unwrap();
        std::fs::write(bin.join("jq"), wrapper("dev", "", "/usr/bin/jq")).unwrap();
        std::fs::write(bin.join("other"), wrapper("dev2", "", "/usr/bin/x")).unwrap();
        std::fs::write(dir.path().join("outside"), wrapper("dev", "", "/usr/bin/evil")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside"), bin.join("linked")).unwrap();
        std::fs::write(apps.join("dev-calc.desktop"), "[Desktop Entry]\nExec=distrobox-enter -n dev -- calc\n")
            .unwrap();
        std::fs::write(apps.join("calc.desktop"), "[Desktop Entry]\nExec=distrobox-enter -n dev -- calc\n").unwrap();
        let found = scan_exports(&bin, &apps, "dev");
        let got: Vec<(&str, &str)> = found.iter().map(|e| (e.kind, e.target.as_str())).collect();
        assert_eq!(got, [("bin", "/usr/bin/jq"), ("app", "calc")]);
        assert!(scan_exports(&dir.path().join("none"), &apps, "nobody").is_empty());
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn export_files_of_any_text_never_panic(text in ".{0,400}", name in "[a-z]{1,8}") {
                if let Some(path) = bin_target(&text, &name) {
                    prop_assert!(path.starts_with('/') && !path.contains('\''));
                }
                let _ = desktop_app(&format!("{name}-x.desktop"), &text, &name);
                let _ = parse_found(&text);
            }
        }
    }
}
