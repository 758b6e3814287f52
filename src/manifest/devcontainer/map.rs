//! A devcontainer.json as a tent box: every key is mapped to a field of
//! `BoxEntry`, noted in the plan (`ignored: KEY (FILE:LINE:COL): why`), or
//! refused with an error at its place.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::super::model::{BoxEntry, Manifest};
use super::super::parse::did_you_mean;
use super::KEYS;
use super::build::image_build;
use super::expand::Vars;
use super::features::features;
use super::json::{Json, Key, Node};
use super::lifecycle::{HostCommand, attach_hook, hook};
use super::mounts::{Mount, parse_mount_string};
use super::oci::Oci;
use super::reader::{Cx, MAX_ITEMS, short};
use crate::error::Result;

/// The box a devcontainer.json describes.
pub(super) fn manifest(
    file: &Path,
    text: &str,
    root: &Node,
    env: &dyn Fn(&str) -> Option<String>,
    home: &Path,
    oci: &Oci<'_>,
) -> Result<Manifest> {
    let project = super::project_folder(file);
    let workspace = project.to_string_lossy().into_owned();
    let id = Sha256::digest(file.to_string_lossy().as_bytes());
    let devcontainer_id: String = crate::text::hex(&id[..16]);
    let vars = Vars { env, workspace: workspace.clone(), devcontainer_id, container_env: None };
    let mut cx = Cx { file, text, vars, notes: Vec::new(), oci };

    let Json::Object(props) = &root.value else {
        return Err(cx.error(
            root.at,
            format!("a devcontainer.json is one object, not {}", root.value.kind()),
            Some("write { \"image\": \"debian:bookworm\" }".into()),
        ));
    };
    // JSON's rule: a key given twice takes its last value; say so.
    let mut keys: BTreeMap<&str, (&Key, &Node)> = BTreeMap::new();
    for (key, node) in props {
        if keys.insert(&key.name, (key, node)).is_some() {
            cx.push(key.at, |at| format!("{at}: `{}` is set twice: the last one counts", short(&key.name)));
        }
        if !KEYS.contains(&key.name.as_str()) {
            cx.push(key.at, |at| {
                let hint = if key.name.len() <= 64 { did_you_mean(&key.name, KEYS) } else { None };
                let hint = hint.map(|k| format!(" (did you mean `{k}`?)")).unwrap_or_default();
                format!("{at}: unknown key `{}` skipped{hint}", short(&key.name))
            });
        }
    }
    let get = |name: &str| keys.get(name).map(|(_, node)| *node);

    let mut entry = BoxEntry { at: cx.at(root.at), ..Default::default() };
    let mut builds = Vec::new();

    // The name: `name` made a valid box name, else the project folder's.
    let wanted = match get("name") {
        Some(node) => cx.string("name", node)?,
        None => project.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
    };
    entry.name = box_name(&wanted);
    if let Some(node) = get("name")
        && entry.name != wanted
    {
        cx.note("name", node.at, format!("the box is named {:?}", entry.name));
    }

    // dockerComposeFile: the box is the `service`, made by tent from what the
    // compose file says of it; the other services are the compose tool's.
    let mut compose = Vec::new();
    let mut service_env = BTreeMap::new();
    let build = get("build").or(get("dockerFile"));
    if let Some(node) = get("dockerComposeFile") {
        let service = super::compose::service_box(&mut cx, node, get("service"), get("runServices"), &entry.name)?;
        for (key, given) in [("image", get("image")), ("build", build)] {
            if let Some(given) = given {
                cx.ignored(
                    key,
                    given.at,
                    format!("the box is made from compose service {:?}", service.project.service),
                );
            }
        }
        entry.image = service.image.or_else(|| service.build.as_ref().map(|b| b.image.clone()));
        builds.extend(service.build);
        service_env = service.env;
        entry.volumes.extend(service.volumes);
        if !service.project.start.is_empty() {
            cx.note(
                "dockerComposeFile",
                node.at,
                format!(
                    "box {} stands for service {:?} and uses the host's network, not the compose network: it reaches \
                     {} at localhost through the ports they publish, not by service name",
                    entry.name,
                    service.project.service,
                    service.project.start.join(", ")
                ),
            );
        }
        compose.push(service.project);
    } else {
        for key in ["service", "runServices"] {
            if let Some(node) = get(key) {
                cx.ignored(key, node.at, "there is no `dockerComposeFile`");
            }
        }
    }
    match (get("image"), build) {
        _ if !compose.is_empty() => {}
        (Some(node), _) => {
            let image = cx.string("image", node)?;
            let reference = |c: char| c.is_ascii_alphanumeric() || "._-/:@".contains(c);
            if image.is_empty() || image.starts_with('-') || !image.chars().all(reference) {
                return Err(cx.error(node.at, format!("`image` {image:?} is not an image reference"), None));
            }
            entry.image = Some(image);
            if let Some(build) = build {
                cx.ignored("build", build.at, "the box is made from `image`");
            }
        }
        (None, Some(node)) => {
            let build = image_build(&mut cx, node, get("context"), &entry.name)?;
            entry.image = Some(build.image.clone());
            builds.push(build);
        }
        (None, None) => {
            return Err(cx.error(
                root.at,
                "the devcontainer.json names no `image`",
                Some("add \"image\": \"debian:bookworm\" (or any image)".into()),
            ));
        }
    }

    entry.env = service_env;
    if let Some(node) = get("containerEnv") {
        entry.env.extend(cx.env("containerEnv", node)?);
    }
    if let Some(node) = get("remoteEnv") {
        cx.vars.container_env = Some(entry.env.clone());
        let remote = cx.env("remoteEnv", node);
        cx.vars.container_env = None;
        entry.env.extend(remote?);
    }

    if let Some(node) = get("mounts") {
        let Json::Array(items) = &node.value else { return Err(cx.expected("mounts", node, "an array")) };
        if items.len() > MAX_ITEMS {
            return Err(cx.error(node.at, format!("`mounts` has more than {MAX_ITEMS} items"), None));
        }
        for item in items {
            let mount = match &item.value {
                Json::String(_) => {
                    let text = cx.string("mounts", item)?;
                    parse_mount_string(&text)
                }
                Json::Object(props) => {
                    let mut fields = Vec::new();
                    for (k, v) in props {
                        match &v.value {
                            Json::String(_) => fields.push((k.name.clone(), cx.string("mounts", v)?)),
                            Json::Bool(b) => fields.push((k.name.clone(), b.to_string())),
                            _ => return Err(cx.expected(&format!("mounts.{}", short(&k.name)), v, "a string")),
                        }
                    }
                    Mount::from_fields(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                }
                _ => return Err(cx.expected("mounts", item, "a string or an object")),
            };
            // The same check as `--engine-arg --volume`: nothing over tent's own mounts.
            let checked = mount.and_then(|m| m.volume(&project)).and_then(|volume| {
                crate::boxes::engine_args::check(&["--volume".into(), volume.clone()], &entry.unshare).map(|()| volume)
            });
            match checked {
                Ok(volume) => entry.volumes.push(volume),
                Err(why) => cx.ignored("mounts", item.at, why),
            }
        }
    }
    // The project is in the home, which every box has at the same path;
    // a project elsewhere is mounted there.
    if !project.starts_with(home) {
        entry.volumes.push(format!("{workspace}:{workspace}"));
    }
    if let Some(node) = get("workspaceFolder") {
        let folder = cx.string("workspaceFolder", node)?;
        if folder != workspace {
            cx.ignored("workspaceFolder", node.at, format!("the project is at {workspace} in the box, as on the host"));
        }
    }
    if let Some(node) = get("workspaceMount") {
        cx.ignored("workspaceMount", node.at, format!("the project is at {workspace} in the box, as on the host"));
    }

    // Engine arguments, each through the same check as `--engine-arg`.
    let mut arg_lists: Vec<(&str, &Node, Vec<String>)> = Vec::new();
    if let Some(node) = get("runArgs") {
        let args = cx.strings("runArgs", node)?;
        arg_lists.push(("runArgs", node, args));
    }
    if let Some(node) = get("capAdd") {
        let caps = cx.strings("capAdd", node)?;
        arg_lists.push(("capAdd", node, caps.into_iter().map(|c| format!("--cap-add={c}")).collect()));
    }
    if let Some(node) = get("securityOpt") {
        let opts = cx.strings("securityOpt", node)?;
        arg_lists.push(("securityOpt", node, opts.into_iter().map(|o| format!("--security-opt={o}")).collect()));
    }
    if let Some(node) = get("privileged") {
        match node.value {
            Json::Bool(true) => arg_lists.push(("privileged", node, vec!["--privileged".into()])),
            Json::Bool(false) => {}
            _ => return Err(cx.expected("privileged", node, "true or false")),
        }
    }
    for (key, node, args) in arg_lists {
        match crate::boxes::engine_args::check(&args, &entry.unshare) {
            Ok(()) => entry.engine_args.extend(args),
            Err(why) => cx.ignored(key, node.at, why),
        }
    }
    if let Some(node) = get("init").filter(|n| n.value == Json::Bool(true)) {
        cx.ignored("init", node.at, "tent's own init runs every box and reaps its processes");
    }

    if let Some(node) = get("hostRequirements") {
        let Json::Object(props) = &node.value else {
            return Err(cx.expected("hostRequirements", node, "an object"));
        };
        for (key, value) in props {
            match (key.name.as_str(), &value.value) {
                ("gpu", Json::Bool(true) | Json::Object(_)) => entry.nvidia = true,
                ("gpu", Json::Bool(false)) => {}
                ("gpu", Json::String(s)) if s == "optional" => cx.ignored(
                    "hostRequirements.gpu",
                    value.at,
                    "\"optional\": the box is made without the host's GPU; set it to true to use the NVIDIA driver",
                ),
                ("gpu", _) => {
                    return Err(cx.expected("hostRequirements.gpu", value, "true, false, \"optional\" or an object"));
                }
                (other, _) => cx.ignored(
                    &format!("hostRequirements.{}", short(other)),
                    value.at,
                    "a tent box uses the host's resources",
                ),
            }
        }
    }
    for key in ["forwardPorts", "appPort"] {
        if let Some(node) = get(key) {
            let ports = match &node.value {
                Json::Array(items) => items.iter().filter_map(port).collect::<Vec<_>>().join(", "),
                _ => port(node).unwrap_or_default(),
            };
            cx.note(
                key,
                node.at,
                format!("the box shares the host's network: {ports} need no forwarding, use them at localhost"),
            );
        }
    }
    for key in ["remoteUser", "containerUser"] {
        if let Some(node) = get(key) {
            let user = cx.string(key, node)?;
            cx.ignored(key, node.at, format!("{user:?}: the box runs as you, as every tent box"));
        }
    }
    if let Some(node) = get("features") {
        let order = match get("overrideFeatureInstallOrder") {
            Some(node) => cx.strings("overrideFeatureInstallOrder", node)?,
            None => Vec::new(),
        };
        for hook in features(&mut cx, node, &order)? {
            entry.init_hooks.push(hook);
        }
    }

    // Lifecycle, in the spec's order: once when made, then every start.
    for key in ["onCreateCommand", "updateContentCommand", "postCreateCommand"] {
        if let Some(node) = get(key)
            && let Some(command) = cx.lifecycle(key, node, false)?
        {
            entry.init_hooks.push(hook(key, &command, &workspace));
        }
    }
    if let Some(node) = get("postStartCommand")
        && let Some(command) = cx.lifecycle("postStartCommand", node, false)?
    {
        entry.start_hooks.push(hook("postStartCommand", &command, &workspace));
    }
    if let Some(node) = get("postAttachCommand")
        && let Some(command) = cx.lifecycle("postAttachCommand", node, false)?
    {
        // At each `tent enter`, as the user; a failure does not keep the
        // shell from starting (the spec's attach commands block nothing).
        entry.attach_hooks.push(attach_hook(&command, &workspace));
    }
    let mut host_commands = Vec::new();
    if let Some(node) = get("initializeCommand")
        && let Some(command) = cx.lifecycle("initializeCommand", node, false)?
    {
        host_commands.push(HostCommand {
            box_name: entry.name.clone(),
            at: cx.at(node.at),
            cwd: project.clone(),
            command,
        });
    }

    Ok(Manifest { path: file.to_path_buf(), boxes: vec![entry], warnings: cx.notes, host_commands, builds, compose })
}

fn port(node: &Node) -> Option<String> {
    match &node.value {
        Json::Number(n) => Some(short(n)),
        Json::String(s) => Some(short(s)),
        _ => None,
    }
}

/// `name` made a valid box name: lower case, other characters as `-`, at
/// most 63 long, starting with a letter or digit.
pub(super) fn box_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        let c = if c.is_ascii_alphanumeric() || c == '_' || c == '.' { c } else { '-' };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        if out.is_empty() && !c.is_ascii_alphanumeric() {
            continue;
        }
        out.push(c);
        if out.len() >= 63 {
            break;
        }
    }
    let out = out.trim_end_matches(['-', '.', '_']).to_string();
    if out.is_empty() { "devcontainer".into() } else { out }
}
