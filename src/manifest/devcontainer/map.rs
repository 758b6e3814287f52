//! A devcontainer.json as a tent box: every key is mapped to a field of
//! `BoxEntry`, noted in the plan (`ignored: KEY (FILE:LINE:COL): why`), or
//! refused with an error at its place.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::super::model::{BoxEntry, Location, Manifest};
use super::super::parse::{did_you_mean, resolve_path};
use super::KEYS;
use super::expand::{self, Problem, Vars};
use super::json::{Json, Key, Node};
use crate::error::{Error, Result};
use crate::shell::quote;

/// A lifecycle command as the file gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lifecycle {
    /// A string: run through `/bin/sh -c`.
    Shell(String),
    /// An array: this exact argv, no shell.
    Argv(Vec<String>),
    /// An object: named commands (each a string or an array), run in parallel.
    Named(Vec<(String, Lifecycle)>),
}

impl Lifecycle {
    /// The command for the plan, as one line per command.
    pub fn describe(&self) -> String {
        match self {
            Lifecycle::Shell(text) => format!("sh -c {}", quote(text)),
            Lifecycle::Argv(argv) => crate::shell::words(argv),
            Lifecycle::Named(named) => {
                named.iter().map(|(n, c)| format!("[{n}] {}", c.describe())).collect::<Vec<_>>().join("; ")
            }
        }
    }

    /// The argv of each command, with its name for the named form.
    pub fn argvs(&self) -> Vec<(Option<String>, Vec<String>)> {
        match self {
            Lifecycle::Shell(text) => vec![(None, vec!["/bin/sh".into(), "-c".into(), text.clone()])],
            Lifecycle::Argv(argv) => vec![(None, argv.clone())],
            Lifecycle::Named(named) => named
                .iter()
                .flat_map(|(n, c)| c.argvs().into_iter().map(move |(_, argv)| (Some(n.clone()), argv)))
                .collect(),
        }
    }
}

/// `initializeCommand`: run on the host, in the project folder, before the
/// box is made, and only after the user agreed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCommand {
    pub box_name: String,
    pub at: Location,
    pub cwd: PathBuf,
    pub command: Lifecycle,
}

/// `build` (or `dockerFile`): the image the box is made from, built with the
/// engine's own build before the box is made, when the engine lacks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageBuild {
    pub box_name: String,
    pub at: Location,
    /// `localhost/tent-devcontainer-NAME:HASH`, the hash of everything below:
    /// a changed Dockerfile, context, args or target is a new image (and so
    /// recreates the box); the same inputs build nothing again.
    pub image: String,
    pub dockerfile: PathBuf,
    /// The Dockerfile as read (bounded, no final link followed); the engine
    /// gets these bytes on stdin, never the path.
    pub text: Vec<u8>,
    pub context: PathBuf,
    pub args: BTreeMap<String, String>,
    pub target: Option<String>,
}

impl ImageBuild {
    /// The engine's build arguments; the Dockerfile comes on stdin. The
    /// build's steps use the host's network, as the box will.
    pub fn engine_args(&self) -> Vec<String> {
        let mut args = vec!["build".to_string(), "-t".into(), self.image.clone(), "-f".into(), "-".into()];
        args.push("--network=host".into());
        if let Some(target) = &self.target {
            args.extend(["--target".to_string(), target.clone()]);
        }
        for (k, v) in &self.args {
            args.extend(["--build-arg".to_string(), format!("{k}={v}")]);
        }
        args.extend(["--".to_string(), self.context.to_string_lossy().into_owned()]);
        args
    }
}

/// Largest Dockerfile tent reads.
const MAX_DOCKERFILE: u64 = 1024 * 1024;

/// Most notes one file gets.
const MAX_NOTES: usize = 200;

/// Largest number of named commands in one lifecycle object, of runArgs, mounts …
const MAX_ITEMS: usize = 256;

struct Cx<'a> {
    file: &'a Path,
    text: &'a str,
    vars: Vars<'a>,
    notes: Vec<String>,
}

impl Cx<'_> {
    fn at(&self, offset: usize) -> Location {
        Location::at(self.file, self.text, offset)
    }

    fn error(&self, offset: usize, message: impl AsRef<str>, hint: Option<String>) -> Error {
        Error::Manifest { message: format!("{}: {}", self.at(offset), message.as_ref()), hint }
    }

    /// Adds a note; past `MAX_NOTES` one line says the rest were left out
    /// (each note finds its line in the text: a hostile file of a million
    /// unknown keys must not cost a million scans).
    fn push(&mut self, offset: usize, note: impl FnOnce(Location) -> String) {
        if self.notes.len() < MAX_NOTES {
            let at = self.at(offset);
            self.notes.push(note(at));
        } else if self.notes.len() == MAX_NOTES {
            self.notes.push(format!("{}: more notes left out", self.file.display()));
        }
    }

    fn ignored(&mut self, key: &str, offset: usize, why: impl AsRef<str>) {
        self.push(offset, |at| format!("ignored: {key} ({at}): {}", why.as_ref()));
    }

    fn note(&mut self, key: &str, offset: usize, what: impl AsRef<str>) {
        self.push(offset, |at| format!("note: {key} ({at}): {}", what.as_ref()));
    }

    fn expected(&self, key: &str, node: &Node, what: &str) -> Error {
        self.error(
            node.at,
            format!("`{key}` must be {what}, not {}", node.value.kind()),
            Some("see the devcontainer.json reference, and docs/manifest.md for what tent does with it".into()),
        )
    }

    /// A string value with its variables expanded.
    fn expand(&mut self, key: &str, node: &Node, text: &str) -> Result<String> {
        let mut unknown = Vec::new();
        let value = match expand::expand(text, &self.vars, &mut unknown) {
            Ok(value) => value,
            Err(Problem::TooLong) => {
                return Err(self.error(
                    node.at,
                    format!("`{key}` expands to more than {} bytes", expand::MAX_EXPANDED),
                    Some("shorten the value or the variables it uses".into()),
                ));
            }
            Err(Problem::ContainerEnv(name)) => {
                return Err(self.error(
                    node.at,
                    format!("`{key}` uses ${{containerEnv:{name}}}, which only the image knows"),
                    Some(format!("set {name} in containerEnv, or give a default: ${{containerEnv:{name}:VALUE}}")),
                ));
            }
        };
        for var in unknown {
            self.push(node.at, |at| format!("{at}: unknown variable {} in `{key}` kept as written", short(&var)));
        }
        if value.contains('\0') {
            return Err(self.error(node.at, format!("`{key}` holds a NUL character"), None));
        }
        Ok(value)
    }

    fn string(&mut self, key: &str, node: &Node) -> Result<String> {
        match &node.value {
            Json::String(text) => self.expand(key, node, text),
            _ => Err(self.expected(key, node, "a string")),
        }
    }

    fn strings(&mut self, key: &str, node: &Node) -> Result<Vec<String>> {
        let Json::Array(items) = &node.value else { return Err(self.expected(key, node, "an array of strings")) };
        if items.len() > MAX_ITEMS {
            return Err(self.error(node.at, format!("`{key}` has more than {MAX_ITEMS} items"), None));
        }
        items.iter().map(|item| self.string(key, item)).collect()
    }

    /// An object of strings (containerEnv, remoteEnv); `null` values are left out.
    fn env(&mut self, key: &str, node: &Node) -> Result<BTreeMap<String, String>> {
        let Json::Object(props) = &node.value else { return Err(self.expected(key, node, "an object of strings")) };
        let mut env = BTreeMap::new();
        for (name, value) in props.iter().take(MAX_ITEMS + 1) {
            if env.len() >= MAX_ITEMS {
                return Err(self.error(node.at, format!("`{key}` sets more than {MAX_ITEMS} variables"), None));
            }
            if !valid_env_name(&name.name) {
                return Err(self.error(
                    name.at,
                    format!("`{key}`: {:?} is not a variable name", name.name),
                    Some("names are letters, digits and '_', not starting with a digit".into()),
                ));
            }
            if value.value == Json::Null {
                env.remove(&name.name);
                continue;
            }
            // `"PATH": "${containerEnv:PATH}:/more"` needs the image's value,
            // which tent does not have when it makes the box: that one is noted.
            if let Json::String(text) = &value.value
                && let Err(Problem::ContainerEnv(var)) = expand::expand(text, &self.vars, &mut Vec::new())
            {
                self.ignored(
                    &format!("{key}.{}", name.name),
                    value.at,
                    format!("it uses ${{containerEnv:{var}}}, the image's value, which tent does not know when it makes the box"),
                );
                continue;
            }
            let value = self.string(&format!("{key}.{}", name.name), value)?;
            env.insert(name.name.clone(), value);
        }
        Ok(env)
    }

    /// A lifecycle command: string, array or object of those.
    fn lifecycle(&mut self, key: &str, node: &Node, nested: bool) -> Result<Option<Lifecycle>> {
        Ok(match &node.value {
            Json::Null => None,
            Json::String(_) => {
                let text = self.string(key, node)?;
                (!text.trim().is_empty()).then_some(Lifecycle::Shell(text))
            }
            Json::Array(_) => {
                let argv = self.strings(key, node)?;
                (!argv.is_empty()).then_some(Lifecycle::Argv(argv))
            }
            Json::Object(props) if !nested => {
                if props.len() > MAX_ITEMS {
                    return Err(self.error(node.at, format!("`{key}` has more than {MAX_ITEMS} commands"), None));
                }
                let mut named = Vec::new();
                for (name, value) in props {
                    let label = display_name(&name.name);
                    if let Some(command) = self.lifecycle(&format!("{key}.{label}"), value, true)? {
                        named.retain(|(n, _)| n != &label);
                        named.push((label, command));
                    }
                }
                (!named.is_empty()).then_some(Lifecycle::Named(named))
            }
            _ => return Err(self.expected(key, node, "a string, an array of strings or an object of those")),
        })
    }
}

/// The box a devcontainer.json describes.
pub fn manifest(
    file: &Path,
    text: &str,
    root: &Node,
    env: &dyn Fn(&str) -> Option<String>,
    home: &Path,
) -> Result<Manifest> {
    let project = super::project_folder(file);
    let workspace = project.to_string_lossy().into_owned();
    let id = Sha256::digest(file.to_string_lossy().as_bytes());
    let devcontainer_id: String = id.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let vars = Vars { env, workspace: workspace.clone(), devcontainer_id, container_env: None };
    let mut cx = Cx { file, text, vars, notes: Vec::new() };

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

    if let Some(node) = get("dockerComposeFile") {
        return Err(cx.error(
            node.at,
            "`dockerComposeFile` is not supported: tent makes one box from an image or a Dockerfile, not the \
             service container of a compose project",
            Some(
                "start the services with podman-compose or docker compose yourself, and give the box an `image`".into(),
            ),
        ));
    }
    let build = get("build").or(get("dockerFile"));
    match (get("image"), build) {
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

    if let Some(node) = get("containerEnv") {
        entry.env = cx.env("containerEnv", node)?;
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

    Ok(Manifest { path: file.to_path_buf(), boxes: vec![entry], warnings: cx.notes, host_commands, builds })
}

/// `build: { dockerfile, context, args, target }` or the older top-level
/// `dockerFile` and `context`; paths are relative to the devcontainer.json.
fn image_build(cx: &mut Cx<'_>, node: &Node, top_context: Option<&Node>, box_name: &str) -> Result<ImageBuild> {
    let (mut dockerfile, mut context, mut args, mut target) = (None, None, BTreeMap::new(), None);
    match &node.value {
        Json::String(_) => dockerfile = Some((cx.string("dockerFile", node)?, node.at)),
        Json::Object(props) => {
            for (key, value) in props {
                match key.name.as_str() {
                    "dockerfile" | "dockerFile" => dockerfile = Some((cx.string("build.dockerfile", value)?, value.at)),
                    "context" => context = Some(cx.string("build.context", value)?),
                    "args" => args = cx.env("build.args", value)?,
                    "target" => {
                        let t = cx.string("build.target", value)?;
                        if !t.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                            || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
                        {
                            return Err(cx.error(
                                value.at,
                                format!("`build.target` {:?} is not a stage name", short(&t)),
                                None,
                            ));
                        }
                        target = Some(t);
                    }
                    other => cx.ignored(
                        &format!("build.{}", short(other)),
                        key.at,
                        "tent passes dockerfile, context, args and target",
                    ),
                }
            }
        }
        _ => return Err(cx.expected("build", node, "an object")),
    }
    if context.is_none()
        && let Some(node) = top_context
    {
        context = Some(cx.string("context", node)?);
    }
    let Some((dockerfile, at)) = dockerfile else {
        return Err(cx.error(
            node.at,
            "`build` names no `dockerfile`",
            Some("add \"dockerfile\": \"Dockerfile\"".into()),
        ));
    };
    let dockerfile = resolve_path(&dockerfile, cx.file);
    let context = resolve_path(context.as_deref().unwrap_or("."), cx.file);
    let text = match crate::files::read_bounded(&dockerfile, MAX_DOCKERFILE) {
        Ok(Some(text)) => text,
        Ok(None) => return Err(cx.error(at, format!("no Dockerfile at {}", dockerfile.display()), None)),
        Err(e) => {
            return Err(cx.error(
                at,
                format!("cannot read the Dockerfile: {e}"),
                Some("it must be a regular file (not a link) of at most 1 MiB".into()),
            ));
        }
    };
    let mut hash = Sha256::new();
    for part in [&text[..], context.as_os_str().as_encoded_bytes(), target.as_deref().unwrap_or("").as_bytes()] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    for (k, v) in &args {
        hash.update((k.len() as u64).to_le_bytes());
        hash.update(k.as_bytes());
        hash.update((v.len() as u64).to_le_bytes());
        hash.update(v.as_bytes());
    }
    let digest: String = hash.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    let repo: String = box_name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let image = format!("localhost/tent-devcontainer-{}:{digest}", repo.trim_matches('-'));
    Ok(ImageBuild {
        box_name: box_name.to_string(),
        at: cx.at(node.at),
        image,
        dockerfile,
        text,
        context,
        args,
        target,
    })
}

/// Largest install.sh of a local feature: its text goes into the box's hook
/// (for a rootful box, into the container's configuration).
const MAX_FEATURE_SCRIPT: u64 = 96 * 1024;
/// Largest devcontainer-feature.json.
const MAX_FEATURE_JSON: u64 = 256 * 1024;

/// Local features (`"./name": { options }`), as init hooks run as root before
/// onCreateCommand, in the file's order (or `overrideFeatureInstallOrder`'s).
/// Each hook holds the text of the feature's install.sh as tent read it
/// (bounded, not through a link), so a box never runs a later edit of a file
/// the plan did not show; it runs in the feature's folder with the options
/// as environment variables, as the devcontainers CLI gives them. Features
/// by reference are noted: tent fetches none.
fn features(cx: &mut Cx<'_>, node: &Node, order: &[String]) -> Result<Vec<String>> {
    let Json::Object(props) = &node.value else { return Err(cx.expected("features", node, "an object")) };
    if props.len() > MAX_ITEMS {
        return Err(cx.error(node.at, format!("`features` lists more than {MAX_ITEMS}"), None));
    }
    let mut listed: Vec<&(Key, Node)> = props.iter().collect();
    // overrideFeatureInstallOrder first, in its order; the rest as written.
    listed.sort_by_key(|(k, _)| order.iter().position(|o| *o == k.name).unwrap_or(usize::MAX));
    let dir = cx.file.parent().unwrap_or(Path::new("/")).to_path_buf();
    let mut hooks = Vec::new();
    for (key, options) in listed {
        let id = short(&key.name);
        if !(key.name.starts_with("./") || key.name.starts_with("../")) {
            // Without it the box would lack what the project needs, and
            // nothing would say so until a command is missing.
            return Err(cx.error(
                key.at,
                format!(
                    "feature {id:?} is a reference to an OCI artifact: tent installs local features only, and fetches \
                     nothing from a registry for a manifest"
                ),
                Some(
                    "install what the feature gives in the image (or a Dockerfile under `build`), or copy the \
                     feature's folder (devcontainer-feature.json, install.sh) next to devcontainer.json and name it \
                     \"./NAME\""
                        .into(),
                ),
            ));
        }
        let folder = resolve_path(&key.name, cx.file);
        if !folder.starts_with(&dir) {
            return Err(cx.error(
                key.at,
                format!("feature {id:?} is outside {}", dir.display()),
                Some("local features live in the folder of the devcontainer.json".into()),
            ));
        }
        let read = |cx: &Cx<'_>, file: &str, limit: u64| -> Result<Vec<u8>> {
            let path = folder.join(file);
            match crate::files::read_bounded(&path, limit) {
                Ok(Some(bytes)) => Ok(bytes),
                Ok(None) => Err(cx.error(key.at, format!("feature {id:?} has no {file}"), None)),
                Err(e) => Err(cx.error(
                    key.at,
                    format!("feature {id:?}: cannot read {file}: {e}"),
                    Some(format!("it must be a regular file (not a link) of at most {} KiB", limit / 1024)),
                )),
            }
        };
        // The feature's own metadata: its options' defaults.
        let meta = read(cx, "devcontainer-feature.json", MAX_FEATURE_JSON)?;
        let meta_file = folder.join("devcontainer-feature.json");
        let meta_text = String::from_utf8(meta)
            .map_err(|_| cx.error(key.at, format!("feature {id:?}: devcontainer-feature.json is not UTF-8"), None))?;
        let meta = super::json::parse(&meta_file, &meta_text)?;
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        if let Json::Object(fields) = &meta.value
            && let Some((_, Node { value: Json::Object(opts), .. })) = fields.iter().find(|(k, _)| k.name == "options")
        {
            for (name, spec) in opts.iter().take(MAX_ITEMS) {
                if let Json::Object(spec) = &spec.value
                    && let Some((_, default)) = spec.iter().find(|(k, _)| k.name == "default")
                    && let Some(value) = scalar(&default.value)
                {
                    env.insert(option_variable(&name.name), value);
                }
            }
        }
        // The user's options over the defaults; a string alone is `version`.
        match &options.value {
            Json::Object(given) => {
                for (name, value) in given.iter().take(MAX_ITEMS) {
                    let text = match &value.value {
                        Json::String(_) => cx.string(&format!("features.{id}.{}", short(&name.name)), value)?,
                        other => scalar(other).ok_or_else(|| {
                            cx.expected(&format!("features.{id}.{}", short(&name.name)), value, "a string or a boolean")
                        })?,
                    };
                    env.insert(option_variable(&name.name), text);
                }
            }
            Json::String(_) => {
                let version = cx.string(&format!("features.{id}"), options)?;
                env.insert("VERSION".into(), version);
            }
            Json::Bool(_) | Json::Null => {}
            _ => return Err(cx.expected(&format!("features.{id}"), options, "an object of options")),
        }
        let script = read(cx, "install.sh", MAX_FEATURE_SCRIPT)?;
        let script = String::from_utf8(script)
            .map_err(|_| cx.error(key.at, format!("feature {id:?}: install.sh is not UTF-8"), None))?;
        if script.contains('\0') {
            return Err(cx.error(key.at, format!("feature {id:?}: install.sh holds a NUL character"), None));
        }
        let label = display_name(&key.name);
        let mut text =
            format!("# devcontainer.json feature {label}\n(\ncd -- {} || exit 1\n", quote(&folder.to_string_lossy()));
        for (k, v) in &env {
            text.push_str(&format!("export {k}={}\n", quote(v)));
        }
        text.push_str(
            "export _REMOTE_USER=\"$TENT_USER\" _CONTAINER_USER=\"$TENT_USER\" _REMOTE_USER_HOME=\"$TENT_HOME\" _CONTAINER_USER_HOME=\"$TENT_HOME\"\n",
        );
        text.push_str(&format!("exec /bin/sh -c {} install.sh\n", quote(&script)));
        text.push_str(&format!(
            ") || {{ st=$?; echo \"tent: feature {label} failed with status $st\" >&2; exit \"$st\"; }}\n"
        ));
        hooks.push(text);
    }
    Ok(hooks)
}

/// A feature option's value as the install script gets it.
fn scalar(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Bool(b) => Some(b.to_string()),
        Json::Number(n) => Some(n.clone()),
        _ => None,
    }
}

/// An option's environment variable, as the devcontainers CLI names it:
/// upper case, other characters as `_`, never starting with a digit.
fn option_variable(name: &str) -> String {
    let mut var: String =
        short(name).chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    if !var.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        var.insert(0, '_');
    }
    var
}

/// A key for messages: a hostile file's 1 MB key is cut.
fn short(text: &str) -> String {
    let mut out: String = text.chars().take(64).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

fn port(node: &Node) -> Option<String> {
    match &node.value {
        Json::Number(n) => Some(short(n)),
        Json::String(s) => Some(short(s)),
        _ => None,
    }
}

fn valid_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A name of a named command, safe in the shell text and the output prefix.
fn display_name(name: &str) -> String {
    let name: String =
        short(name).chars().map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) { c } else { '_' }).collect();
    if name.is_empty() { "_".into() } else { name }
}

/// `name` made a valid box name: lower case, other characters as `-`, at
/// most 63 long, starting with a letter or digit.
pub fn box_name(name: &str) -> String {
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

/// A mount of the `mounts` key.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Mount {
    kind: String,
    source: String,
    target: String,
    readonly: bool,
}

/// `type=bind,source=/a,target=/b[,readonly]`, as `docker run --mount` reads it.
pub fn parse_mount_string(text: &str) -> std::result::Result<Mount, String> {
    let mut fields = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        match part.split_once('=') {
            Some((k, v)) => fields.push((k.trim(), v.trim())),
            None => fields.push((part, "true")),
        }
    }
    Mount::from_fields(fields.into_iter())
}

impl Mount {
    fn from_fields<'a>(fields: impl Iterator<Item = (&'a str, &'a str)>) -> std::result::Result<Mount, String> {
        let mut m = Mount { kind: "volume".into(), ..Default::default() };
        for (key, value) in fields {
            match key {
                "type" => m.kind = value.to_string(),
                "source" | "src" => m.source = value.to_string(),
                "target" | "destination" | "dst" => m.target = value.to_string(),
                "readonly" | "ro" => m.readonly = value != "false" && value != "0",
                "consistency" | "bind-propagation" | "external" => {}
                other => return Err(format!("{:?} is an option tent does not pass on", short(other))),
            }
        }
        Ok(m)
    }

    /// The mount as a tent volume, `SRC:DST[:ro]`.
    fn volume(self, project: &Path) -> std::result::Result<String, String> {
        let bad = |s: &str| s.contains([':', ',', '\n']) || s.is_empty();
        if !self.target.starts_with('/') || bad(&self.target) {
            return Err(format!("target {:?} must be an absolute path without ':' or ','", short(&self.target)));
        }
        let source = match self.kind.as_str() {
            "bind" => {
                if bad(&self.source) {
                    return Err(format!("source {:?} must be a path without ':' or ','", short(&self.source)));
                }
                resolve_path(&self.source, &project.join("x")).to_string_lossy().into_owned()
            }
            "volume" => {
                let ok = self.source.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                    && self.source.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
                if !ok {
                    return Err(format!(
                        "volume name {:?} must be letters, digits, '_', '.' and '-'",
                        short(&self.source)
                    ));
                }
                self.source
            }
            other => return Err(format!("type {:?}: tent mounts bind and volume mounts only", short(other))),
        };
        Ok(if self.readonly { format!("{source}:{}:ro", self.target) } else { format!("{source}:{}", self.target) })
    }
}

/// The hook text that runs a lifecycle command as the box's user, in the
/// project folder. Hooks run as root (tent-init, `set -e`); `su` drops to
/// the user (`$TENT_USER`, from the box's environment).
pub fn hook(key: &str, command: &Lifecycle, workspace: &str) -> String {
    lifecycle_hook(key, command, workspace, true)
}

/// The same for a hook that runs as the user already: `postAttachCommand`,
/// run by tent-exec at `tent enter` (`BoxSpec::attach_hooks`).
pub fn attach_hook(command: &Lifecycle, workspace: &str) -> String {
    lifecycle_hook("postAttachCommand", command, workspace, false)
}

fn lifecycle_hook(key: &str, command: &Lifecycle, workspace: &str, from_root: bool) -> String {
    let run = |leaf: &Lifecycle| -> String {
        let body = match leaf {
            Lifecycle::Shell(text) => text.clone(),
            Lifecycle::Argv(argv) => format!("exec {}", argv.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")),
            Lifecycle::Named(_) => unreachable!("named commands hold strings and arrays only"),
        };
        let script = format!("cd -- {} || exit 1\n{body}", quote(workspace));
        if from_root {
            format!("su -s /bin/sh \"$TENT_USER\" -c {}", quote(&script))
        } else {
            format!("sh -c {}", quote(&script))
        }
    };
    let mut text = format!("# devcontainer.json {key}\n");
    if from_root {
        text.push_str(&format!(
            "command -v su >/dev/null 2>&1 || {{ echo \"tent: {key}: the image has no su to run it as $TENT_USER\" >&2; exit 1; }}\n"
        ));
    }
    match command {
        Lifecycle::Named(named) => {
            text.push_str("tent_dc=$(mktemp -d)\n");
            for (i, (name, leaf)) in named.iter().enumerate() {
                text.push_str(&format!(
                    "{{ if {}; then echo 0 >\"$tent_dc/{i}\"; else echo $? >\"$tent_dc/{i}\"; fi; }} 2>&1 | sed 's/^/[{name}] /' &\n",
                    run(leaf)
                ));
            }
            text.push_str("wait\n");
            for (i, (name, _)) in named.iter().enumerate() {
                text.push_str(&format!(
                    "st=$(cat \"$tent_dc/{i}\" 2>/dev/null || echo '?'); [ \"$st\" = 0 ] || {{ echo \"tent: {key} {name} failed with status $st\" >&2; rm -rf \"$tent_dc\"; exit 1; }}\n"
                ));
            }
            text.push_str("rm -rf \"$tent_dc\"\n");
        }
        leaf => text.push_str(&format!(
            "if {}; then :; else st=$?; echo \"tent: {key} failed with status $st\" >&2; exit \"$st\"; fi\n",
            run(leaf)
        )),
    }
    text
}
