//! `dockerComposeFile` + `service`: the box is that service, made by tent.
//!
//! tent makes the box itself (its own create argv: your user, home, display,
//! the host's network), from what the compose file says of the `service`:
//! its `image` or `build`, `environment` and `volumes`. The file's other
//! services (`runServices`, else all of them) are started by the compose
//! tool installed for the engine (podman-compose, `docker compose`,
//! docker-compose) before the box is made: `commands::apply` picks the tool
//! and runs `ComposeProject::up_args`. The compose files come with a cloned
//! project: they are read bounded and never through a link, parsed as data
//! (serde_norway, whose loader caps alias expansion and nesting), and every
//! name that reaches the tool's argv is checked.
//!
//! The box is not on the compose network: a tent box uses the host's
//! network (it is a host process for the network, as every tent box), so it
//! reaches the other services at localhost through the ports they publish
//! (or directly when they use `network_mode: host`), not by service name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_norway::{Mapping, Value};

use super::super::model::Location;
use super::super::parse::resolve_path;
use super::build::{Inputs, finish, valid_target};
use super::json::{Json, Node};
use super::mounts::Mount;
use super::reader::{Cx, MAX_ITEMS, short, valid_env_name};
use super::{ImageBuild, expand};
use crate::error::Result;

/// Largest compose file tent reads (the tool reads it too).
const MAX_COMPOSE_FILE: u64 = 1024 * 1024;
/// Largest `.env` file next to the compose file.
const MAX_DOT_ENV: u64 = 256 * 1024;
/// Most compose files one devcontainer.json may name.
const MAX_FILES: usize = 16;

/// The services a devcontainer.json's compose project starts besides its
/// box, and how: `TOOL -p PROJECT -f FILE… up -d --no-deps SERVICE…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ComposeProject {
    pub box_name: String,
    pub at: Location,
    /// Absolute paths, in the devcontainer.json's order.
    pub files: Vec<PathBuf>,
    /// The compose project's name (`name:` in the file, else
    /// `BOX_devcontainer`): lower case letters, digits, `_` and `-`.
    pub project: String,
    /// The service the box stands for (the compose tool never starts it).
    pub service: String,
    /// The services to start, each with what it depends on, in the files'
    /// order; checked names only (letters, digits, `_.-`, no leading `-`).
    pub start: Vec<String>,
}

impl ComposeProject {
    fn project_args(&self) -> Vec<String> {
        let mut args = vec!["-p".to_string(), self.project.clone()];
        for file in &self.files {
            args.extend(["-f".to_string(), file.to_string_lossy().into_owned()]);
        }
        args
    }

    /// The arguments after the compose tool that start the other services:
    /// `--no-deps` because `start` already holds what they depend on, and
    /// never the box's own service.
    pub(crate) fn up_args(&self) -> Vec<String> {
        let mut args = self.project_args();
        args.extend(["up".to_string(), "-d".into(), "--no-deps".into()]);
        args.extend(self.start.iter().cloned());
        args
    }

    /// The arguments that stop and remove them again (`down`), for the plan.
    pub(crate) fn down_args(&self) -> Vec<String> {
        let mut args = self.project_args();
        args.push("down".into());
        args
    }
}

/// The compose tools tent looks for, by engine, in the order tried.
pub(crate) fn tools(podman: bool) -> &'static [&'static str] {
    if podman { &["podman-compose"] } else { &["docker compose", "docker-compose"] }
}

/// What the `service` gives the box.
pub(super) struct ServiceBox {
    pub image: Option<String>,
    pub build: Option<ImageBuild>,
    pub env: BTreeMap<String, String>,
    pub volumes: Vec<String>,
    pub project: ComposeProject,
}

/// Reads the compose files of `dockerComposeFile` (a string or an array,
/// relative to the devcontainer.json) and the box's `service`.
pub(super) fn service_box(
    cx: &mut Cx<'_>,
    files_node: &Node,
    service_node: Option<&Node>,
    run_services: Option<&Node>,
    box_name: &str,
) -> Result<ServiceBox> {
    let names = match &files_node.value {
        Json::String(_) => vec![cx.string("dockerComposeFile", files_node)?],
        Json::Array(_) => cx.strings("dockerComposeFile", files_node)?,
        _ => return Err(cx.expected("dockerComposeFile", files_node, "a string or an array of strings")),
    };
    if names.is_empty() || names.len() > MAX_FILES {
        return Err(cx.error(
            files_node.at,
            format!("`dockerComposeFile` names {} files: give 1 to {MAX_FILES}", names.len()),
            None,
        ));
    }
    let Some(service_node) = service_node else {
        return Err(cx.error(
            files_node.at,
            "`dockerComposeFile` needs `service`: the compose service the box stands for",
            Some("add \"service\": \"NAME\" (a service of the compose file)".into()),
        ));
    };
    let service = cx.string("service", service_node)?;
    let files: Vec<PathBuf> = names.iter().map(|n| resolve_path(n, cx.file)).collect();
    let dir = files[0].parent().unwrap_or(Path::new("/")).to_path_buf();

    // Compose reads `.env` in the project folder for its variables; the
    // host's environment wins over it.
    let dot_env = match crate::files::read_bounded(&dir.join(".env"), MAX_DOT_ENV) {
        Ok(Some(bytes)) => parse_dot_env(&String::from_utf8_lossy(&bytes)),
        Ok(None) => BTreeMap::new(),
        Err(e) => {
            return Err(cx.error(
                files_node.at,
                format!("cannot read {}: {e}", dir.join(".env").display()),
                Some("it must be a regular file (not a link)".into()),
            ));
        }
    };
    let host_env = cx.vars.env;
    let env = |name: &str| host_env(name).or_else(|| dot_env.get(name).cloned());

    let mut merged = Mapping::new();
    for file in &files {
        let bytes = match crate::files::read_bounded(file, MAX_COMPOSE_FILE) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                return Err(cx.error(files_node.at, format!("no compose file at {}", file.display()), None));
            }
            Err(e) => {
                return Err(cx.error(
                    files_node.at,
                    format!("cannot read the compose file: {e}"),
                    Some("it must be a regular file (not a link) of at most 1 MiB".into()),
                ));
            }
        };
        let value: Value = serde_norway::from_slice(&bytes).map_err(|e| {
            cx.error(
                files_node.at,
                format!("{}: not a compose file: {}", file.display(), short(&e.to_string())),
                Some("a compose file is YAML with a `services:` mapping".into()),
            )
        })?;
        let Value::Mapping(map) = value else {
            return Err(cx.error(files_node.at, format!("{}: a compose file is a mapping", file.display()), None));
        };
        merge(&mut merged, map);
    }
    let fail = |cx: &Cx<'_>, what: String| cx.error(files_node.at, format!("{}: {what}", files[0].display()), None);

    let Some(Value::Mapping(services)) = merged.get("services") else {
        return Err(fail(cx, "the compose file has no `services:` mapping".into()));
    };
    if services.len() > MAX_ITEMS {
        return Err(fail(cx, format!("more than {MAX_ITEMS} services")));
    }
    // Every service name may reach the tool's argv: check them all.
    let mut order: Vec<String> = Vec::new();
    for key in services.keys() {
        match key.as_str() {
            Some(name) if valid_service(name) => order.push(name.to_string()),
            _ => return Err(fail(cx, format!("service name {:?} is not one tent passes on", short(&yaml_text(key))))),
        }
    }
    if !order.contains(&service) {
        return Err(cx.error(
            service_node.at,
            format!("service {:?} is not in {}", short(&service), names.join(", ")),
            Some(format!("the services there: {}", order.join(", "))),
        ));
    }
    let spec = match services.get(service.as_str()) {
        Some(Value::Mapping(spec)) => spec.clone(),
        Some(Value::Null) | None => Mapping::new(),
        Some(_) => return Err(fail(cx, format!("service {service:?} is not a mapping"))),
    };

    // The services to start: runServices (else all), with what they and the
    // box depend on, never the box's own service.
    let wanted = match run_services {
        Some(node) => {
            let wanted = cx.strings("runServices", node)?;
            if let Some(unknown) = wanted.iter().find(|w| !order.contains(w)) {
                return Err(cx.error(
                    node.at,
                    format!("`runServices` names {:?}, which is not a service of the compose file", short(unknown)),
                    Some(format!("the services there: {}", order.join(", "))),
                ));
            }
            wanted
        }
        None => order.clone(),
    };
    let mut needed: Vec<String> = Vec::new();
    let mut todo: Vec<String> = wanted.into_iter().chain([service.clone()]).collect();
    while let Some(name) = todo.pop() {
        if needed.contains(&name) {
            continue;
        }
        if let Some(Value::Mapping(s)) = services.get(name.as_str()) {
            todo.extend(depends_on(s).into_iter().filter(|d| order.contains(d)));
        }
        needed.push(name);
    }
    let start: Vec<String> = order.iter().filter(|s| **s != service && needed.contains(s)).cloned().collect();

    // A service that publishes nothing and is not on the host's network is
    // out of the box's reach: say so, with the way in.
    for name in &start {
        let Some(Value::Mapping(s)) = services.get(name.as_str()) else { continue };
        let host = s.get("network_mode").and_then(Value::as_str) == Some("host");
        if !host && s.get("ports").is_none() {
            cx.note(
                "dockerComposeFile",
                files_node.at,
                format!(
                    "service {name:?} publishes no ports and is not on the host's network: the box cannot reach it; \
                     publish what it serves on localhost (`ports: [\"127.0.0.1:PORT:PORT\"]`)"
                ),
            );
        }
    }
    let project = match merged.get("name").and_then(Value::as_str) {
        Some(name) => project_name(name),
        None => project_name(&format!("{box_name}_devcontainer")),
    };
    let compose = ComposeProject {
        box_name: box_name.to_string(),
        at: cx.at(files_node.at),
        files: files.clone(),
        project,
        service: service.clone(),
        start,
    };

    // The service as the box.
    let key = |k: &str| format!("{service}.{k}");
    let text = |cx: &Cx<'_>, k: &str, v: &Value| -> Result<String> {
        let Some(raw) = scalar(v) else { return Err(fail(cx, format!("`{}` must be a string", key(k)))) };
        interpolate(&raw, &env).map_err(|why| fail(cx, format!("`{}`: {why}", key(k))))
    };
    let mut image = None;
    let mut build = None;
    let mut box_env = BTreeMap::new();
    let mut volumes = Vec::new();
    for (k, v) in &spec {
        let Some(k) = k.as_str() else { continue };
        match k {
            "image" => {
                let value = text(cx, k, v)?;
                if crate::boxes::spec::validate_image(&value).is_err() {
                    return Err(fail(cx, format!("`{}` {:?} is not an image reference", key(k), short(&value))));
                }
                image = Some(value);
            }
            "build" => {
                let (mut context, mut dockerfile, mut args, mut target) =
                    (".".to_string(), "Dockerfile".to_string(), BTreeMap::new(), None);
                match v {
                    Value::Mapping(b) => {
                        for (bk, bv) in b {
                            match bk.as_str().unwrap_or("") {
                                "context" => context = text(cx, "build.context", bv)?,
                                "dockerfile" => dockerfile = text(cx, "build.dockerfile", bv)?,
                                "target" => {
                                    let t = text(cx, "build.target", bv)?;
                                    if !valid_target(&t) {
                                        return Err(fail(cx, format!("`{}` is not a stage name", key("build.target"))));
                                    }
                                    target = Some(t);
                                }
                                "args" => args = variables(cx, &key("build.args"), bv, &env, &fail)?,
                                other => cx.ignored(
                                    &format!("dockerComposeFile {}", key(&format!("build.{}", short(other)))),
                                    files_node.at,
                                    "tent passes context, dockerfile, args and target",
                                ),
                            }
                        }
                    }
                    _ => context = text(cx, "build", v)?,
                }
                let context = resolve_path(&context, &files[0]);
                let dockerfile = resolve_path(&dockerfile, &context.join("x"));
                let inputs = Inputs { dockerfile, context, args, target };
                build = Some(finish(cx, files_node.at, files_node.at, inputs, box_name)?);
            }
            "environment" => box_env = variables(cx, &key(k), v, &env, &fail)?,
            "volumes" => {
                let Value::Sequence(items) = v else { return Err(fail(cx, format!("`{}` must be a list", key(k)))) };
                for item in items.iter().take(MAX_ITEMS) {
                    let mount = match item {
                        Value::Mapping(m) => {
                            let mut fields = Vec::new();
                            for (mk, mv) in m {
                                let mk = mk.as_str().unwrap_or("");
                                match mk {
                                    "type" | "source" | "target" => fields.push((mk.to_string(), text(cx, k, mv)?)),
                                    "read_only" => fields.push(("readonly".into(), text(cx, k, mv)?)),
                                    _ => fields.push((mk.to_string(), String::new())),
                                }
                            }
                            Mount::from_fields(fields.iter().map(|(a, b)| (a.as_str(), b.as_str())))
                        }
                        other => short_volume(&text(cx, k, other)?),
                    };
                    let checked = mount.and_then(|m| m.volume(&dir)).and_then(|volume| {
                        crate::boxes::engine_args::check(&["--volume".into(), volume.clone()], &Default::default())
                            .map(|()| volume)
                    });
                    match checked {
                        Ok(volume) => volumes.push(volume),
                        Err(why) => cx.ignored(&format!("dockerComposeFile {}", key(k)), files_node.at, why),
                    }
                }
            }
            "ports" | "expose" | "network_mode" | "networks" | "links" | "extra_hosts" | "hostname" => cx.ignored(
                &format!("dockerComposeFile {}", key(k)),
                files_node.at,
                "the box uses the host's network: its ports are the host's, and it reaches the other services at \
                 localhost through the ports they publish, not by service name",
            ),
            "command" | "entrypoint" | "init" | "restart" | "healthcheck" | "stop_signal" | "tty" | "stdin_open" => {
                cx.ignored(&format!("dockerComposeFile {}", key(k)), files_node.at, "tent's own init runs the box")
            }
            "user" => cx.ignored(
                &format!("dockerComposeFile {}", key(k)),
                files_node.at,
                "the box runs as you, as every tent box",
            ),
            "depends_on" | "container_name" | "labels" => {}
            other => cx.ignored(
                &format!("dockerComposeFile {}", key(short(other).as_str())),
                files_node.at,
                "tent takes image, build, environment and volumes of the box's service",
            ),
        }
    }
    if image.is_none() && build.is_none() {
        return Err(fail(cx, format!("service {service:?} has neither `image` nor `build`")));
    }
    if image.is_some() && build.is_some() {
        // Compose builds and tags the image with that name; tent builds its own.
        image = None;
    }
    Ok(ServiceBox { image, build, env: box_env, volumes, project: compose })
}

/// Compose's merge of several files, simplified: mappings merge key by key,
/// anything else (lists too) is replaced by the later file's.
fn merge(into: &mut Mapping, from: Mapping) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(Value::Mapping(old)), Value::Mapping(new)) => merge(old, new),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

/// `depends_on`: a list of names or a mapping of names to conditions.
fn depends_on(service: &Mapping) -> Vec<String> {
    match service.get("depends_on") {
        Some(Value::Sequence(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        Some(Value::Mapping(m)) => m.keys().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

/// `environment` or `build.args`: a mapping, or a list of `KEY=VALUE` (a
/// bare `KEY` takes the host's value, as compose does).
fn variables(
    cx: &Cx<'_>,
    key: &str,
    value: &Value,
    env: &dyn Fn(&str) -> Option<String>,
    fail: &dyn Fn(&Cx<'_>, String) -> crate::error::Error,
) -> Result<BTreeMap<String, String>> {
    let mut pairs: Vec<(String, Option<String>)> = Vec::new();
    match value {
        Value::Mapping(m) => {
            for (k, v) in m {
                let name = scalar(k).unwrap_or_default();
                pairs.push((name, if v.is_null() { None } else { scalar(v) }));
            }
        }
        Value::Sequence(items) => {
            for item in items {
                let text = scalar(item).unwrap_or_default();
                match text.split_once('=') {
                    Some((k, v)) => pairs.push((k.to_string(), Some(v.to_string()))),
                    None => pairs.push((text, None)),
                }
            }
        }
        _ => return Err(fail(cx, format!("`{key}` must be a mapping or a list"))),
    }
    if pairs.len() > MAX_ITEMS {
        return Err(fail(cx, format!("`{key}` sets more than {MAX_ITEMS} variables")));
    }
    let mut out = BTreeMap::new();
    for (name, value) in pairs {
        if !valid_env_name(&name) {
            return Err(fail(cx, format!("`{key}`: {:?} is not a variable name", short(&name))));
        }
        let value = match value {
            Some(v) => interpolate(&v, env).map_err(|why| fail(cx, format!("`{key}.{name}`: {why}")))?,
            None => match env(&name) {
                Some(v) => v,
                None => continue,
            },
        };
        if value.contains('\0') {
            return Err(fail(cx, format!("`{key}.{name}` holds a NUL character")));
        }
        out.insert(name, value);
    }
    Ok(out)
}

/// A volume's short syntax: `SRC:DST[:ro]`, `DST` alone (an anonymous
/// volume, which a box does not keep: refused), a path source or a name.
fn short_volume(text: &str) -> std::result::Result<Mount, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [source, target] => (*source, *target, ""),
        [source, target, mode] => (*source, *target, *mode),
        _ => return Err(format!("{:?}: tent mounts SOURCE:TARGET[:ro] volumes", short(text))),
    };
    let kind = if source.starts_with(['.', '/', '~']) { "bind" } else { "volume" };
    let readonly = mode.split(',').any(|m| m == "ro");
    let fields =
        [("type", kind), ("source", source), ("target", target), ("readonly", if readonly { "true" } else { "false" })];
    Mount::from_fields(fields.into_iter())
}

/// A YAML scalar as text (compose takes numbers and booleans as strings).
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn yaml_text(value: &Value) -> String {
    scalar(value).unwrap_or_else(|| "(not a string)".into())
}

/// Compose's service names (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`): never an option.
pub(super) fn valid_service(name: &str) -> bool {
    name.len() <= 128
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// A compose project name: lower case letters, digits, `_` and `-`,
/// starting with a letter or digit.
pub(super) fn project_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(63)
        .collect();
    while out.starts_with(['_', '-']) {
        out.remove(0);
    }
    if out.is_empty() { "devcontainer".into() } else { out }
}

/// `.env`: `KEY=VALUE` lines (`export ` allowed), `#` comments, values in
/// single or double quotes taken as written.
fn parse_dot_env(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines().take(10_000) {
        let line = line.trim();
        let line = line.strip_prefix("export ").unwrap_or(line);
        if line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else { continue };
        let (k, v) = (k.trim(), v.trim());
        let v = ['"', '\''].iter().find_map(|q| v.strip_prefix(*q).and_then(|s| s.strip_suffix(*q))).unwrap_or(v);
        if valid_env_name(k) {
            out.insert(k.to_string(), v.to_string());
        }
    }
    out
}

/// Compose's variables, as data: `$$` is `$`; `${VAR}`, `$VAR`,
/// `${VAR:-default}` (unset or empty), `${VAR-default}` (unset),
/// `${VAR:?why}` and `${VAR?why}` (an error when unset). Values are not
/// expanded again, and the result is capped.
pub(super) fn interpolate(text: &str, env: &dyn Fn(&str) -> Option<String>) -> std::result::Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('{') {
            let Some(end) = inner.find('}') else { return Err(format!("{:?}: a `${{` is never closed", short(text))) };
            let spec = &inner[..end];
            let name_end = spec.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(spec.len());
            let (name, op) = spec.split_at(name_end);
            if !valid_env_name(name) {
                return Err(format!("{:?} is not a variable", short(spec)));
            }
            let value = env(name);
            let set = value.as_ref().is_some_and(|v| !v.is_empty());
            let value = match op {
                "" => value.unwrap_or_default(),
                _ if op.starts_with(":-") => {
                    if set {
                        value.unwrap_or_default()
                    } else {
                        op[2..].to_string()
                    }
                }
                _ if op.starts_with('-') => value.unwrap_or_else(|| op[1..].to_string()),
                _ if op.starts_with(":?") || op.starts_with('?') => match value
                    .filter(|v| op.starts_with('?') || !v.is_empty())
                {
                    Some(v) => v,
                    None => return Err(format!("${{{name}}} is needed: {}", short(op.trim_start_matches([':', '?'])))),
                },
                _ if op.starts_with(":+") => {
                    if set {
                        op[2..].to_string()
                    } else {
                        String::new()
                    }
                }
                _ if op.starts_with('+') => {
                    if value.is_some() {
                        op[1..].to_string()
                    } else {
                        String::new()
                    }
                }
                _ => {
                    return Err(format!(
                        "${{{}}}: tent reads ${{VAR}}, ${{VAR:-default}} and ${{VAR:?error}}",
                        short(spec)
                    ));
                }
            };
            out.push_str(&value);
            rest = &inner[end + 1..];
        } else {
            let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            if end == 0 || !valid_env_name(&after[..end]) {
                out.push('$');
                rest = after;
            } else {
                out.push_str(&env(&after[..end]).unwrap_or_default());
                rest = &after[end..];
            }
        }
        if out.len() > expand::MAX_EXPANDED {
            return Err(format!("expands to more than {} bytes", expand::MAX_EXPANDED));
        }
    }
    out.push_str(rest);
    if out.len() > expand::MAX_EXPANDED {
        return Err(format!("expands to more than {} bytes", expand::MAX_EXPANDED));
    }
    Ok(out)
}
