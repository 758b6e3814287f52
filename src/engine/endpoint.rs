//! Which engine endpoint tent talks to, worked out without calling the
//! engine: the same flags, variables and config files the engine's client
//! reads, in the client's own order (docs/remote.md).
//!
//! The endpoint decides two things. What tent keeps on disk is keyed by it
//! (`Scope::Remote`), so a box of the same name on another engine never
//! shares a state folder, a receipt, a lock or a journal with a local one.
//! And what only works on this machine's own store (joining namespaces,
//! `/proc`, readiness files, host paths, the relay, GUI, app exports) is
//! never tried against anything else.
//!
//! "Local" is the engine's default store for this user: podman without a
//! remote setting, or podman's own service socket for this user; Docker's
//! `default` context, or a host that is the system daemon's socket (or the
//! rootless daemon's in `$XDG_RUNTIME_DIR`). Anything else is remote, even a
//! `unix://` socket: it may be a podman with another store, or a socket
//! forwarded from another machine, and tent cannot tell which.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::EngineKind;

/// The largest config file read to work out the endpoint (containers.conf,
/// podman-connections.json, Docker's config.json, a context's meta.json).
pub const CONFIG_LIMIT: u64 = 256 * 1024;

/// Where the engine's client sends its calls.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Endpoint {
    /// The engine's default store for this user on this machine.
    #[default]
    Local,
    Remote(Remote),
}

/// An endpoint other than the local store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    pub kind: EngineKind,
    /// The canonical address (`ssh://user@host/run/podman/podman.sock`,
    /// `unix:///tmp/other.sock`), or `connection NAME` / `context NAME` when
    /// the name could not be resolved to one.
    pub address: String,
    /// What chose it, for messages: `CONTAINER_HOST`, `context "build"` …
    pub source: String,
    /// What the engine's client is given before its command to reach it:
    /// tent's own `--url`/`--connection` as the client spells them
    /// (podman's `--url`/`--connection`, Docker's `--host`/`--context`);
    /// empty when the client finds the endpoint itself (the environment,
    /// its config).
    pub client_args: Vec<String>,
}

impl Endpoint {
    pub fn is_local(&self) -> bool {
        matches!(self, Endpoint::Local)
    }

    pub fn remote(&self) -> Option<&Remote> {
        match self {
            Endpoint::Local => None,
            Endpoint::Remote(remote) => Some(remote),
        }
    }

    /// For `tent list` and messages: `local`, or the remote address.
    pub fn describe(&self) -> String {
        match self {
            Endpoint::Local => "local".into(),
            Endpoint::Remote(remote) => remote.address.clone(),
        }
    }
}

impl Remote {
    fn new(kind: EngineKind, address: String, source: String) -> Self {
        Remote { kind, address, source, client_args: Vec::new() }
    }

    /// The short, stable id of this endpoint in tent's paths: the first 12
    /// hex digits of the SHA-256 of the engine's name and the canonical
    /// address (48 bits: no two endpoints of one user meet by chance).
    pub fn id(&self) -> [u8; 6] {
        let mut hasher = Sha256::new();
        hasher.update(self.kind.name().as_bytes());
        hasher.update(b"\0");
        hasher.update(self.address.as_bytes());
        let digest = hasher.finalize();
        let mut id = [0u8; 6];
        id.copy_from_slice(&digest[..6]);
        id
    }
}

/// What tent was told on its own command line (optional; the environment is
/// what users normally set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chosen {
    /// podman `--url` / Docker `--host`.
    pub url: Option<String>,
    /// podman `--connection` / Docker `--context`.
    pub connection: Option<String>,
}

/// Everything detection reads, so that it is pure and tested without an
/// engine: the variables and a bounded reader of files.
pub struct Sources<'a> {
    pub kind: EngineKind,
    /// The engine's client binary (`podman-remote` is always remote).
    pub binary: &'a Path,
    pub euid: u32,
    pub home: &'a Path,
    pub chosen: &'a Chosen,
    /// The variable's value, None when unset.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// A config file's text (bounded), None when missing or unreadable.
    pub read: &'a dyn Fn(&Path) -> Option<String>,
    /// The names in a directory (for `containers.conf.d`), sorted.
    pub list: &'a dyn Fn(&Path) -> Vec<PathBuf>,
    /// Through sudo the client runs as root with root's environment: only
    /// the system's config files count then.
    pub through_sudo: bool,
}

impl Sources<'_> {
    fn var(&self, key: &str) -> Option<String> {
        if self.through_sudo {
            return None;
        }
        (self.env)(key).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    fn config_home(&self) -> PathBuf {
        self.var("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| self.home.join(".config"))
    }

    /// The uid whose default sockets count as local.
    fn uid(&self) -> u32 {
        if self.through_sudo { 0 } else { self.euid }
    }
}

/// Works out the endpoint from `sources` (see the module's docs).
pub fn detect(sources: &Sources<'_>) -> Endpoint {
    let mut endpoint = match sources.kind {
        EngineKind::Podman => podman(sources),
        EngineKind::Docker => docker(sources),
    };
    // tent's own choice reaches the client as the client's own flag.
    if let Endpoint::Remote(remote) = &mut endpoint {
        remote.client_args = client_args(sources.kind, sources.chosen);
    }
    endpoint
}

/// tent's `--url`/`--connection` in the client's spelling; `--url` wins, as
/// in detection.
pub fn client_args(kind: EngineKind, chosen: &Chosen) -> Vec<String> {
    let (url_flag, name_flag) = match kind {
        EngineKind::Podman => ("--url", "--connection"),
        EngineKind::Docker => ("--host", "--context"),
    };
    match (&chosen.url, &chosen.connection) {
        (Some(url), _) => vec![url_flag.into(), url.clone()],
        (None, Some(name)) => vec![name_flag.into(), name.clone()],
        (None, None) => Vec::new(),
    }
}

// ---- podman ----------------------------------------------------------------

/// One `[engine.service_destinations.NAME]` or podman-connections.json entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodmanConf {
    /// `[engine] remote = true`: every call goes to a service.
    pub remote: Option<bool>,
    /// `[engine] active_service`.
    pub active_service: Option<String>,
    /// `[engine.service_destinations.NAME] uri`.
    pub destinations: Vec<(String, String)>,
}

impl PodmanConf {
    /// Later files override earlier ones, key by key (as containers.conf does).
    fn merge(&mut self, other: PodmanConf) {
        if other.remote.is_some() {
            self.remote = other.remote;
        }
        if other.active_service.is_some() {
            self.active_service = other.active_service;
        }
        for (name, uri) in other.destinations {
            self.destinations.retain(|(n, _)| *n != name);
            self.destinations.push((name, uri));
        }
    }

    fn uri_of(&self, name: &str) -> Option<&str> {
        self.destinations.iter().find(|(n, _)| n == name).map(|(_, u)| u.as_str())
    }
}

/// The parts of one containers.conf that name an endpoint. A file that does
/// not parse counts as empty (podman itself refuses it, and says so).
pub fn parse_containers_conf(text: &str) -> PodmanConf {
    let Ok(table) = text.parse::<toml::Table>() else { return PodmanConf::default() };
    let Some(engine) = table.get("engine").and_then(|e| e.as_table()) else { return PodmanConf::default() };
    let mut conf = PodmanConf {
        remote: engine.get("remote").and_then(toml::Value::as_bool),
        active_service: engine.get("active_service").and_then(|v| v.as_str()).map(str::to_string),
        destinations: Vec::new(),
    };
    if let Some(destinations) = engine.get("service_destinations").and_then(|d| d.as_table()) {
        for (name, dest) in destinations {
            if let Some(uri) = dest.get("uri").and_then(|u| u.as_str()) {
                conf.destinations.push((name.clone(), uri.to_string()));
            }
        }
    }
    conf
}

/// podman ≥ 4.8 keeps `podman system connection` in podman-connections.json:
/// `{"Connection": {"Default": NAME, "Connections": {NAME: {"URI": …}}}}`.
pub fn parse_podman_connections(text: &str) -> PodmanConf {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else { return PodmanConf::default() };
    let Some(connection) = value.get("Connection") else { return PodmanConf::default() };
    let mut conf = PodmanConf {
        active_service: connection.get("Default").and_then(|d| d.as_str()).map(str::to_string),
        ..PodmanConf::default()
    };
    if let Some(all) = connection.get("Connections").and_then(|c| c.as_object()) {
        for (name, dest) in all {
            if let Some(uri) = dest.get("URI").and_then(|u| u.as_str()) {
                conf.destinations.push((name.clone(), uri.to_string()));
            }
        }
    }
    conf
}

/// containers.conf as podman merges it: `CONTAINERS_CONF` alone when set,
/// else the system files, then the drop-ins, then the user's; then
/// `CONTAINERS_CONF_OVERRIDE`. podman-connections.json comes last: podman 5
/// looks there first.
fn podman_conf(s: &Sources<'_>) -> PodmanConf {
    let mut conf = PodmanConf::default();
    for file in podman_conf_files(s) {
        // Every tent call reads these (`tent run` too): a file that names
        // none of the keys is not parsed (the packaged one is 24 KiB of
        // comments).
        if let Some(text) = (s.read)(&file).filter(|t| names_an_endpoint_key(t)) {
            conf.merge(parse_containers_conf(&text));
        }
    }
    let connections = if s.through_sudo {
        PathBuf::from("/root/.config/containers/podman-connections.json")
    } else {
        s.config_home().join("containers/podman-connections.json")
    };
    if let Some(text) = (s.read)(&connections) {
        conf.merge(parse_podman_connections(&text));
    }
    conf
}

/// Whether any containers.conf may set `[engine] remote` ([`may_set_remote`]):
/// when none does and nothing else chose a connection, podman is local, and
/// no file is parsed (issue 24: every `tent run` asks).
fn podman_conf_may_be_remote(s: &Sources<'_>) -> bool {
    podman_conf_files(s).iter().any(|file| (s.read)(file).is_some_and(|t| may_set_remote(&t)))
}

/// The containers.conf files podman reads, in its order, later ones winning.
fn podman_conf_files(s: &Sources<'_>) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(only) = s.var("CONTAINERS_CONF") {
        files.push(PathBuf::from(only));
    } else {
        files.push("/usr/share/containers/containers.conf".into());
        files.push("/etc/containers/containers.conf".into());
        files.extend((s.list)(Path::new("/etc/containers/containers.conf.d")));
        if s.through_sudo || s.euid == 0 {
            files.extend((s.list)(Path::new("/etc/containers/containers.rootful.conf.d")));
        } else {
            files.extend((s.list)(Path::new("/etc/containers/containers.rootless.conf.d")));
        }
        if !s.through_sudo {
            let user = s.config_home().join("containers");
            files.push(user.join("containers.conf"));
            files.extend((s.list)(&user.join("containers.conf.d")));
        }
    }
    if let Some(extra) = s.var("CONTAINERS_CONF_OVERRIDE") {
        files.push(PathBuf::from(extra));
    }
    files.retain(|f| f.extension().is_none_or(|e| e == "conf"));
    files
}

/// Whether a containers.conf may set the `remote` key: a line, not a
/// comment, where `remote` may stand as a key (bare, quoted, dotted, in an
/// inline table), not inside a name such as `tent-remote` or a URI; or a
/// backslash, which may spell it in an escape. Errs towards yes: then the
/// file is parsed.
///
/// Every `tent run` asks this of the packaged file, 24 KiB of comments: it
/// looks only where the word or a backslash is (a handful of places), not
/// at every line (issue 24: `perf` of `tent run` found 5 % of tent's own
/// samples in splitting that file into lines and copying it).
fn may_set_remote(text: &str) -> bool {
    const WORD: &str = "remote";
    let in_comment = |at: usize| {
        let line = text[..at].rfind('\n').map_or(0, |newline| newline + 1);
        text[line..at].trim_start().starts_with('#')
    };
    text.match_indices('\\').any(|(at, _)| !in_comment(at))
        || text.match_indices(WORD).any(|(at, _)| {
            let before = text[..at].chars().next_back();
            let after = text[at + WORD.len()..].chars().next();
            before.is_none_or(|c| c.is_whitespace() || matches!(c, '{' | ',' | '.' | '"' | '\''))
                && after.is_none_or(|c| c.is_whitespace() || matches!(c, '=' | '"' | '\'' | '.'))
                && !in_comment(at)
        })
}

/// Whether a containers.conf may set what `parse_containers_conf` reads: a
/// line, not a comment, that names one of its keys.
fn names_an_endpoint_key(text: &str) -> bool {
    text.lines().map(str::trim_start).filter(|l| !l.starts_with('#')).any(|l| {
        l.contains("remote") || l.contains("active_service") || l.contains("service_destinations") || l.contains("uri")
    })
}

fn podman(s: &Sources<'_>) -> Endpoint {
    let remote_binary = s.binary.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("podman-remote"));
    let host = s.var("CONTAINER_HOST");
    let connection_var = s.var("CONTAINER_CONNECTION");
    // An address that needs no config file: no file is read.
    if let Some(url) = &s.chosen.url {
        return podman_remote(s, url, "--url".into());
    }
    if let (None, Some(host)) = (&s.chosen.connection, &host) {
        return podman_remote(s, host, "CONTAINER_HOST".into());
    }
    let chosen = remote_binary || s.chosen.connection.is_some() || connection_var.is_some();
    if !chosen && !podman_conf_may_be_remote(s) {
        return Endpoint::Local;
    }
    let conf = podman_conf(s);
    let remote = chosen || conf.remote == Some(true);
    if !remote {
        return Endpoint::Local;
    }
    let named = |name: &str, source: String| match conf.uri_of(name) {
        Some(uri) => (uri.to_string(), source),
        None => (format!("connection {name}"), source),
    };
    let (address, source) = if let Some(name) = &s.chosen.connection {
        named(name, format!("--connection {name}"))
    } else if let Some(name) = connection_var {
        named(&name, format!("CONTAINER_CONNECTION={name}"))
    } else if let Some(name) = conf.active_service.clone() {
        named(&name, format!("connection {name} (podman's default)"))
    } else {
        // Remote mode with no destination: podman's own service socket.
        return Endpoint::Local;
    };
    podman_remote(s, &address, source)
}

/// The endpoint at `address`: local when it is podman's own socket.
fn podman_remote(s: &Sources<'_>, address: &str, source: String) -> Endpoint {
    let address = canonical(address);
    if is_local_podman_socket(&address, s.uid(), s.var("XDG_RUNTIME_DIR").as_deref()) {
        return Endpoint::Local;
    }
    Endpoint::Remote(Remote::new(EngineKind::Podman, address, source))
}

/// podman's own service socket for this user: the same store as the
/// client's, so the same boxes.
fn is_local_podman_socket(address: &str, uid: u32, runtime: Option<&str>) -> bool {
    let Some(path) = address.strip_prefix("unix://") else { return false };
    if uid == 0 {
        return path == "/run/podman/podman.sock" || path == "/var/run/podman/podman.sock";
    }
    path == format!("/run/user/{uid}/podman/podman.sock")
        || runtime.is_some_and(|r| path == format!("{}/podman/podman.sock", r.trim_end_matches('/')))
}

// ---- Docker ------------------------------------------------------------------

fn docker(s: &Sources<'_>) -> Endpoint {
    if let Some(url) = &s.chosen.url {
        return docker_host(s, url, "--host".into());
    }
    let config_dir = s.var("DOCKER_CONFIG").map(PathBuf::from).unwrap_or_else(|| s.home.join(".docker"));
    let context = if let Some(name) = &s.chosen.connection {
        Some((name.clone(), format!("--context {name}")))
    } else if let Some(host) = s.var("DOCKER_HOST") {
        return docker_host(s, &host, "DOCKER_HOST".into());
    } else if let Some(name) = s.var("DOCKER_CONTEXT") {
        Some((name.clone(), format!("DOCKER_CONTEXT={name}")))
    } else {
        (s.read)(&config_dir.join("config.json"))
            .and_then(|text| current_context(&text))
            .map(|name| (name.clone(), format!("context {name} (docker context use)")))
    };
    match context {
        None => Endpoint::Local,
        Some((name, _)) if name == "default" => Endpoint::Local,
        Some((name, source)) => {
            let meta = config_dir.join("contexts/meta").join(context_dir(&name)).join("meta.json");
            match (s.read)(&meta).and_then(|text| context_host(&text)) {
                Some(host) => docker_host(s, &host, source),
                None => Endpoint::Remote(Remote::new(EngineKind::Docker, format!("context {name}"), source)),
            }
        }
    }
}

fn docker_host(s: &Sources<'_>, host: &str, source: String) -> Endpoint {
    let address = canonical(host);
    if address.is_empty() || is_local_docker_socket(&address, s.uid(), s.var("XDG_RUNTIME_DIR").as_deref()) {
        return Endpoint::Local;
    }
    Endpoint::Remote(Remote::new(EngineKind::Docker, address, source))
}

/// The system daemon's socket, or the rootless daemon's in the user's
/// runtime directory (what `dockerd-rootless-setuptool.sh` tells users to
/// put in DOCKER_HOST): the boxes tent has always kept as `docker`.
fn is_local_docker_socket(address: &str, uid: u32, runtime: Option<&str>) -> bool {
    let Some(path) = address.strip_prefix("unix://") else { return false };
    path == "/var/run/docker.sock"
        || path == "/run/docker.sock"
        || path == format!("/run/user/{uid}/docker.sock")
        || runtime.is_some_and(|r| path == format!("{}/docker.sock", r.trim_end_matches('/')))
}

/// `currentContext` of Docker's config.json.
pub fn current_context(text: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    value.get("currentContext")?.as_str().map(str::trim).filter(|c| !c.is_empty()).map(str::to_string)
}

/// The docker endpoint's host of a context's meta.json.
pub fn context_host(text: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    value.get("Endpoints")?.get("docker")?.get("Host")?.as_str().map(str::to_string)
}

/// Docker keeps a context under the SHA-256 of its name, in hex.
pub fn context_dir(name: &str) -> String {
    crate::text::hex(&Sha256::digest(name.as_bytes()))
}

// ---- addresses ------------------------------------------------------------------

/// One spelling per address, so that one endpoint gets one key: the scheme
/// and host in lower case, ssh's default port and a trailing slash dropped,
/// `unix://` paths with one leading slash.
pub fn canonical(address: &str) -> String {
    // Each pass may uncover more to drop (a slash before a space): repeat
    // until nothing changes.
    let mut text = canonical_once(address);
    for _ in 0..8 {
        let next = canonical_once(&text);
        if next == text {
            break;
        }
        text = next;
    }
    text
}

fn canonical_once(address: &str) -> String {
    let address = address.trim();
    let Some((scheme, rest)) = address.split_once("://") else { return address.to_string() };
    let scheme = scheme.to_ascii_lowercase();
    if scheme == "unix" {
        let path = format!("/{}", rest.trim_start_matches('/'));
        let path = if path.len() > 1 { path.trim_end_matches('/').to_string() } else { path };
        return format!("unix://{path}");
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (user, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (Some(user), host),
        None => (None, authority),
    };
    let mut host = host.to_ascii_lowercase();
    if scheme == "ssh" && host.strip_suffix(":22").is_some_and(|h| !h.contains(':')) {
        host.truncate(host.len() - 3);
    }
    let path = path.trim_end_matches('/');
    match user {
        Some(user) => format!("{scheme}://{user}@{host}{path}"),
        None => format!("{scheme}://{host}{path}"),
    }
}

/// The endpoint tent talks to in this process: the environment, the user's
/// and the system's config files (bounded reads; the user's may be links).
pub fn from_environment(kind: EngineKind, binary: &Path, through_sudo: bool, chosen: &Chosen) -> Endpoint {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let env = |key: &str| std::env::var(key).ok();
    let read = |path: &Path| {
        crate::files::read_bounded_following(path, CONFIG_LIMIT)
            .ok()
            .flatten()
            // Valid UTF-8 (every config file) is taken as it is, not copied.
            .map(|bytes| {
                String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
            })
    };
    let list = |dir: &Path| {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|entries| entries.flatten().take(256).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
    };
    detect(&Sources {
        kind,
        binary,
        euid: super::current_euid(),
        home: &home,
        chosen,
        env: &env,
        read: &read,
        list: &list,
        through_sudo,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    struct World {
        kind: EngineKind,
        binary: &'static str,
        euid: u32,
        env: HashMap<&'static str, String>,
        files: HashMap<PathBuf, String>,
        chosen: Chosen,
        sudo: bool,
    }

    fn world(kind: EngineKind) -> World {
        World {
            kind,
            binary: if kind == EngineKind::Podman { "/usr/bin/podman" } else { "/usr/bin/docker" },
            euid: 1000,
            env: HashMap::new(),
            files: HashMap::new(),
            chosen: Chosen::default(),
            sudo: false,
        }
    }

    impl World {
        fn env(mut self, key: &'static str, value: &str) -> Self {
            self.env.insert(key, value.into());
            self
        }
        fn file(mut self, path: &str, text: &str) -> Self {
            self.files.insert(PathBuf::from(path), text.into());
            self
        }
        fn detect(&self) -> Endpoint {
            let env = |k: &str| self.env.get(k).cloned();
            let read = |p: &Path| self.files.get(p).cloned();
            let list = |dir: &Path| {
                let mut v: Vec<PathBuf> = self.files.keys().filter(|p| p.parent() == Some(dir)).cloned().collect();
                v.sort();
                v
            };
            detect(&Sources {
                kind: self.kind,
                binary: Path::new(self.binary),
                euid: self.euid,
                home: Path::new("/home/u"),
                chosen: &self.chosen,
                env: &env,
                read: &read,
                list: &list,
                through_sudo: self.sudo,
            })
        }
        fn address(&self) -> String {
            match self.detect() {
                Endpoint::Local => "local".into(),
                Endpoint::Remote(r) => r.address,
            }
        }
    }

    const CONF: &str = r#"
[engine]
active_service = "build"
[engine.service_destinations.build]
uri = "ssh://me@Build.example:22/run/user/1000/podman/podman.sock"
identity = "/home/u/.ssh/id"
[engine.service_destinations.other]
uri = "tcp://10.0.0.2:8080"
"#;

    #[test]
    fn only_a_file_that_may_set_remote_is_parsed_for_the_local_case() {
        // Every spelling TOML allows for the key is seen.
        for text in [
            "[engine]\nremote = true\n",
            "[engine]\n  remote=true",
            "[engine]\n\"remote\" = true",
            "[engine]\n'remote' = true",
            "engine.remote = true",
            "engine = { remote = true }",
            "engine={remote=true}",
            "[engine]\n\"\\u0072emote\" = true",
        ] {
            assert!(may_set_remote(text), "{text}");
            assert_eq!(parse_containers_conf(text).remote, Some(true), "{text}");
        }
        // The machine's own files: a connection named tent-remote, a URI.
        let conf = "[engine]\n  active_service = \"tent-remote\"\n  [engine.service_destinations]\n    \
                    [engine.service_destinations.tent-remote]\n      uri = \"ssh://tent-remote@127.0.0.1:2222/x\"\n";
        assert!(!may_set_remote(conf));
        assert!(!may_set_remote("# remote = true\n  # remote=true"));
        // Where it stands in the file: a later line, after CRLF, in a comment.
        assert!(may_set_remote("x = 1\n[engine]\nremote = true"));
        assert!(may_set_remote("[engine]\r\nremote = true\r\n"));
        assert!(may_set_remote("[engine]\n\tremote\t= true"));
        assert!(!may_set_remote("[engine]\n\t# remote = true\n# a \\ b\nx = 1 # nothing"));
        assert!(may_set_remote("x = \"a\\u0072\""), "a backslash outside a comment");
        assert!(!may_set_remote(""));
        // A configured default connection alone leaves podman local, read or not.
        let w = world(EngineKind::Podman).file("/home/u/.config/containers/containers.conf", conf);
        assert_eq!(w.address(), "local");
        let w = w.file("/etc/containers/containers.conf", "[engine]\nremote = true\n");
        assert_eq!(w.address(), "ssh://tent-remote@127.0.0.1:2222/x");
    }

    proptest! {
        /// Whatever a file says, when the parser finds the key the cheap
        /// look saw that it may be there.
        #[test]
        fn the_cheap_look_never_misses_the_remote_key(lines in proptest::collection::vec(proptest::sample::select(vec![
            "[engine]", "[containers]", "[engine.service_destinations.remote]", "remote = true", " remote=false",
            "\"remote\" = true", "'remote'=true", "engine.remote = true", "engine = { remote = true }",
            "active_service = \"remote\"", "active_service = \"tent-remote\"", "uri = \"ssh://remote/x\"",
            "# remote = true", "x = 1", "\"\\u0072emote\" = true", "remotes = true", "engine = {remote=true,x=1}",
        ]), 0..8)) {
            for newline in ["\n", "\r\n"] {
                let text = lines.join(newline);
                if parse_containers_conf(&text).remote.is_some() {
                    prop_assert!(may_set_remote(&text), "{}", text);
                }
            }
        }
    }

    #[test]
    fn podman_is_local_unless_something_makes_it_remote() {
        assert_eq!(world(EngineKind::Podman).detect(), Endpoint::Local);
        // A configured default connection alone does not make podman remote.
        assert_eq!(
            world(EngineKind::Podman).file("/home/u/.config/containers/containers.conf", CONF).address(),
            "local"
        );
        assert_eq!(world(EngineKind::Podman).env("CONTAINER_HOST", "  ").address(), "local");
    }

    #[test]
    fn podman_follows_its_own_order() {
        let w = world(EngineKind::Podman).file("/home/u/.config/containers/containers.conf", CONF);
        let w = w.env("CONTAINER_CONNECTION", "other");
        assert_eq!(w.address(), "tcp://10.0.0.2:8080");
        let w = w.env("CONTAINER_HOST", "unix:///tmp/x.sock");
        assert_eq!(w.address(), "unix:///tmp/x.sock");
        let mut w = w;
        w.chosen.connection = Some("build".into());
        assert_eq!(w.address(), "ssh://me@build.example/run/user/1000/podman/podman.sock");
        w.chosen.url = Some("ssh://me@b2".into());
        assert_eq!(w.address(), "ssh://me@b2");
        match w.detect() {
            Endpoint::Remote(r) => assert_eq!(r.source, "--url"),
            Endpoint::Local => panic!("--url is remote"),
        }
    }

    #[test]
    fn podman_remote_setting_uses_the_active_service() {
        let w = world(EngineKind::Podman)
            .file("/etc/containers/containers.conf", "[engine]\nremote = true\n")
            .file("/home/u/.config/containers/containers.conf", CONF);
        assert_eq!(w.address(), "ssh://me@build.example/run/user/1000/podman/podman.sock");
        // A later file turns it off again.
        let w = w.file("/home/u/.config/containers/containers.conf.d/50-off.conf", "[engine]\nremote = false\n");
        assert_eq!(w.address(), "local");
        // CONTAINERS_CONF alone replaces every other file.
        let w = world(EngineKind::Podman)
            .file("/etc/containers/containers.conf", "[engine]\nremote = true\n")
            .file("/home/u/.config/containers/containers.conf", CONF)
            .file("/tmp/only.conf", "")
            .env("CONTAINERS_CONF", "/tmp/only.conf");
        assert_eq!(w.address(), "local");
    }

    #[test]
    fn tents_own_choice_reaches_the_client_in_its_spelling() {
        let mut w = world(EngineKind::Podman).env("CONTAINER_HOST", "ssh://env");
        assert!(w.detect().remote().unwrap().client_args.is_empty(), "the client reads the environment itself");
        w.chosen.connection = Some("c".into());
        assert_eq!(w.detect().remote().unwrap().client_args, ["--connection", "c"]);
        w.chosen.url = Some("ssh://me@x".into());
        assert_eq!(w.detect().remote().unwrap().client_args, ["--url", "ssh://me@x"]);
        let mut d = world(EngineKind::Docker);
        d.chosen.url = Some("tcp://1.2.3.4:2375".into());
        assert_eq!(d.detect().remote().unwrap().client_args, ["--host", "tcp://1.2.3.4:2375"]);
        d.chosen.url = None;
        d.chosen.connection = Some("build".into());
        assert_eq!(d.detect().remote().unwrap().client_args, ["--context", "build"]);
    }

    #[test]
    fn commented_settings_are_not_settings() {
        let commented = "# remote = true\n  #active_service = \"x\"\n[engine]\n";
        assert!(!names_an_endpoint_key(commented));
        assert!(names_an_endpoint_key("[engine]\n  remote=true\n"));
        let w = world(EngineKind::Podman).file("/etc/containers/containers.conf", commented);
        assert_eq!(w.address(), "local");
        let w = w.file(
            "/etc/containers/containers.conf.d/10-remote.conf",
            "[engine]\nremote = true\nactive_service = \"b\"\n[engine.service_destinations.b]\nuri = \"ssh://b\"\n",
        );
        assert_eq!(w.address(), "ssh://b");
        // Only .conf files in a drop-in folder count.
        let w = world(EngineKind::Podman)
            .file("/etc/containers/containers.conf.d/10-remote.conf.bak", "[engine]\nremote = true\n");
        assert_eq!(w.address(), "local");
    }

    #[test]
    fn podman_remote_binary_and_unknown_connections() {
        let mut w = world(EngineKind::Podman);
        w.binary = "/usr/bin/podman-remote";
        // No destination: podman-remote's own default socket, which is local.
        assert_eq!(w.address(), "local");
        let w = w.env("CONTAINER_CONNECTION", "nowhere");
        assert_eq!(w.address(), "connection nowhere");
    }

    #[test]
    fn podman_connections_json_wins_over_containers_conf() {
        let json = r#"{"Connection":{"Default":"new","Connections":{"new":{"URI":"ssh://me@new.example/run/podman/podman.sock","Identity":"x"}}}}"#;
        let w = world(EngineKind::Podman)
            .file(
                "/home/u/.config/containers/containers.conf",
                &format!("{CONF}\n[engine]\n").replace("[engine]\n\n", "[engine]\nremote = true\n"),
            )
            .file("/home/u/.config/containers/podman-connections.json", json)
            .env("XDG_CONFIG_HOME", "/home/u/.config");
        let w = w.env("CONTAINER_CONNECTION", "new");
        assert_eq!(w.address(), "ssh://me@new.example/run/podman/podman.sock");
        assert_eq!(parse_podman_connections("not json"), PodmanConf::default());
    }

    #[test]
    fn podmans_own_socket_is_local() {
        let w = world(EngineKind::Podman).env("CONTAINER_HOST", "unix:///run/user/1000/podman/podman.sock");
        assert_eq!(w.address(), "local");
        let w = world(EngineKind::Podman).env("CONTAINER_HOST", "unix:///run/user/1001/podman/podman.sock");
        assert_eq!(w.address(), "unix:///run/user/1001/podman/podman.sock");
        let mut root = world(EngineKind::Podman).env("CONTAINER_HOST", "unix:///run/podman/podman.sock");
        root.euid = 0;
        assert_eq!(root.address(), "local");
        let w = world(EngineKind::Podman)
            .env("XDG_RUNTIME_DIR", "/tmp/rt/")
            .env("CONTAINER_HOST", "unix:///tmp/rt/podman/podman.sock");
        assert_eq!(w.address(), "local");
    }

    #[test]
    fn through_sudo_only_the_systems_files_count() {
        let mut w = world(EngineKind::Podman)
            .env("CONTAINER_HOST", "ssh://me@x")
            .file("/home/u/.config/containers/containers.conf", "[engine]\nremote = true\nactive_service = \"a\"\n");
        w.sudo = true;
        assert_eq!(w.address(), "local");
        let w = w.file(
            "/etc/containers/containers.conf",
            "[engine]\nremote = true\nactive_service = \"s\"\n[engine.service_destinations.s]\nuri = \"ssh://root@srv\"\n",
        );
        assert_eq!(w.address(), "ssh://root@srv");
    }

    #[test]
    fn docker_follows_its_own_order() {
        let name_dir = context_dir("build");
        let meta = format!("/home/u/.docker/contexts/meta/{name_dir}/meta.json");
        let w = world(EngineKind::Docker)
            .file("/home/u/.docker/config.json", r#"{"auths":{},"currentContext":"build"}"#)
            .file(&meta, r#"{"Name":"build","Metadata":{},"Endpoints":{"docker":{"Host":"ssh://me@build","SkipTLSVerify":false}}}"#);
        assert_eq!(w.address(), "ssh://me@build");
        let w = w.env("DOCKER_CONTEXT", "default");
        assert_eq!(w.address(), "local");
        let w = w.env("DOCKER_CONTEXT", "gone");
        assert_eq!(w.address(), "context gone");
        let w = w.env("DOCKER_HOST", "tcp://10.0.0.3:2376");
        assert_eq!(w.address(), "tcp://10.0.0.3:2376");
        let mut w = w;
        w.chosen.connection = Some("build".into());
        assert_eq!(w.address(), "ssh://me@build");
        w.chosen.url = Some("unix:///var/run/docker.sock".into());
        assert_eq!(w.address(), "local");
    }

    #[test]
    fn docker_config_dir_and_local_sockets() {
        assert_eq!(world(EngineKind::Docker).address(), "local");
        for host in ["unix:///var/run/docker.sock", "unix:///run/docker.sock", "unix:///run/user/1000/docker.sock", ""]
        {
            assert_eq!(world(EngineKind::Docker).env("DOCKER_HOST", host).address(), "local", "{host}");
        }
        assert_eq!(world(EngineKind::Docker).env("DOCKER_HOST", "unix:///tmp/d.sock").address(), "unix:///tmp/d.sock");
        let dir = context_dir("x");
        let w = world(EngineKind::Docker)
            .env("DOCKER_CONFIG", "/etc/dc")
            .file("/etc/dc/config.json", r#"{"currentContext":"x"}"#)
            .file(
                &format!("/etc/dc/contexts/meta/{dir}/meta.json"),
                r#"{"Endpoints":{"docker":{"Host":"unix:///var/run/docker.sock"}}}"#,
            );
        assert_eq!(w.address(), "local");
    }

    #[test]
    fn context_dirs_are_docker_s() {
        // `docker context create default2` keeps it under this folder.
        assert_eq!(context_dir("default2").len(), 64);
        assert_eq!(context_dir(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn canonical_spellings() {
        assert_eq!(canonical(" SSH://Me@Host.Example:22/run/x.sock/ "), "ssh://Me@host.example/run/x.sock");
        assert_eq!(canonical("ssh://host:2222"), "ssh://host:2222");
        assert_eq!(canonical("unix://tmp/x.sock"), "unix:///tmp/x.sock");
        assert_eq!(canonical("unix:////tmp/x.sock/"), "unix:///tmp/x.sock");
        assert_eq!(canonical("tcp://1.2.3.4:2375/"), "tcp://1.2.3.4:2375");
        assert_eq!(canonical("npipe"), "npipe");
    }

    #[test]
    fn remote_ids_differ_by_engine_and_address() {
        let a = Remote::new(EngineKind::Podman, "ssh://a".into(), String::new());
        let b = Remote { address: "ssh://b".into(), ..a.clone() };
        let c = Remote { kind: EngineKind::Docker, ..a.clone() };
        let a2 = Remote { source: "other".into(), client_args: vec!["--url".into(), "ssh://a".into()], ..a.clone() };
        assert_ne!(a.id(), b.id());
        assert_ne!(a.id(), c.id());
        assert_eq!(a.id(), a2.id());
    }

    proptest! {
        #[test]
        fn canonical_is_stable(address in "[ -~]{0,60}") {
            let once = canonical(&address);
            prop_assert_eq!(canonical(&once), once);
        }

        #[test]
        fn configs_never_panic(text in "[ -~\n]{0,200}") {
            let _ = parse_containers_conf(&text);
            let _ = parse_podman_connections(&text);
            let _ = current_context(&text);
            let _ = context_host(&text);
        }

        #[test]
        fn containers_conf_round_trip(name in "[a-z][a-z0-9_-]{0,12}", uri in "(ssh|tcp|unix)://[a-z0-9@./:-]{1,30}") {
            let text = format!("[engine]\nremote = true\nactive_service = \"{name}\"\n[engine.service_destinations.{name}]\nuri = \"{uri}\"\n");
            let conf = parse_containers_conf(&text);
            prop_assert_eq!(conf.remote, Some(true));
            prop_assert_eq!(conf.uri_of(&name), Some(uri.as_str()));
        }
    }
}
