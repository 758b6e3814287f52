//! What tent asks of a container engine, and the one place that knows how
//! podman and Docker differ.
//!
//! Both engines are driven through their command-line clients. Podman has no
//! daemon to talk to unless the user runs its socket service, and its CLI
//! (`--format json`) is the interface it keeps stable across versions. For
//! Docker the CLI is used as well: `exec` with a real TTY (raw mode, resizes,
//! signals) is exactly what `docker exec -it` already does, and reusing it
//! keeps one code path; a list is one CLI call whose cost is measured against
//! `docker ps` itself in the benchmarks.
//!
//! Differences between engines are capability methods on [`Engine`]; argv is
//! built by pure functions in [`argv`] so it is unit-tested without an engine.

pub mod argv;
pub mod endpoint;
pub mod json;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::error::{CommandFailure, Error, Result};
pub use endpoint::Endpoint;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    Podman,
    Docker,
}

impl EngineKind {
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Podman => "podman",
            EngineKind::Docker => "docker",
        }
    }

    fn from_binary(path: &Path) -> Option<Self> {
        let file = path.file_name()?.to_str()?;
        if file.starts_with("podman") {
            Some(EngineKind::Podman)
        } else if file.starts_with("docker") {
            Some(EngineKind::Docker)
        } else {
            None
        }
    }
}

/// How tent reaches the engine's client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// As the user tent runs as.
    Direct,
    /// Through `sudo`: rootful podman for a plain user (`--root`).
    Sudo,
}

/// Which store a box lives in: keeps the state of a rootless and a rootful
/// box of the same name apart, and of a local and a remote one (what tent
/// keeps on disk is keyed by it: `paths::Paths`), and names the tent command
/// that reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Podman as the user tent runs as (rootless, or rootful when tent is root).
    Podman,
    /// Rootful podman through sudo.
    PodmanRoot,
    Docker,
    /// An engine at another endpoint (`endpoint::Remote::id`): another
    /// machine, or a service with a store of its own.
    Remote {
        kind: EngineKind,
        id: [u8; 6],
    },
}

impl Scope {
    /// The local scopes (a remote one is only ever the current endpoint's).
    pub const ALL: [Scope; 3] = [Scope::Podman, Scope::PodmanRoot, Scope::Docker];

    /// The scope's name in paths and receipts: `podman`, `podman-root`,
    /// `docker` as always, `podman@0123456789ab` for a remote endpoint.
    pub fn key(self) -> std::borrow::Cow<'static, str> {
        match self {
            Scope::Podman => "podman".into(),
            Scope::PodmanRoot => "podman-root".into(),
            Scope::Docker => "docker".into(),
            Scope::Remote { kind, id } => format!("{}@{}", kind.name(), crate::text::hex(&id)).into(),
        }
    }

    /// A scope from its key (a folder name in tent's state, a receipt's
    /// field): None for anything else.
    pub fn parse(value: &str) -> Option<Scope> {
        if let Some(scope) = Scope::ALL.into_iter().find(|s| s.key() == value) {
            return Some(scope);
        }
        let (kind, hex) = value.split_once('@')?;
        let kind = match kind {
            "podman" => EngineKind::Podman,
            "docker" => EngineKind::Docker,
            _ => return None,
        };
        if hex.len() != 12 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        let mut id = [0u8; 6];
        for (i, byte) in id.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Scope::Remote { kind, id })
    }

    /// The scope's name in image repositories (`tent-snapshot/SCOPE/…`),
    /// which live in the engine's own store: a remote store's are its
    /// engine's name (`@` is no repository character).
    pub fn image_key(self) -> &'static str {
        match self {
            Scope::Podman | Scope::Remote { kind: EngineKind::Podman, .. } => "podman",
            Scope::PodmanRoot => "podman-root",
            Scope::Docker | Scope::Remote { kind: EngineKind::Docker, .. } => "docker",
        }
    }

    pub fn is_remote(self) -> bool {
        matches!(self, Scope::Remote { .. })
    }

    /// The tent command line that reaches this store, for hints and markers
    /// (a remote one: tent with the same endpoint settings).
    pub fn tent_command(self) -> &'static str {
        match self {
            Scope::PodmanRoot => "tent --root",
            Scope::Docker => "tent --engine docker",
            Scope::Podman => "tent",
            Scope::Remote { kind: EngineKind::Docker, .. } => "tent --engine docker",
            Scope::Remote { .. } => "tent",
        }
    }
}

/// In JSON a scope is its key (`"podman"`, `"podman@0123456789ab"`).
impl serde::Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.key())
    }
}

impl crate::paths::ScopeKey for Scope {
    fn scope_key(&self) -> std::borrow::Cow<'static, str> {
        self.key()
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.key())
    }
}

#[derive(Debug, Clone)]
pub struct Engine {
    pub kind: EngineKind,
    /// The engine's client binary.
    pub path: PathBuf,
    pub via: Via,
    /// True when containers run in the user's own user namespace (rootless podman).
    pub rootless: bool,
    /// With `Via::Sudo`: what comes before the engine's path (`sudo --`,
    /// `doas --`, an askpass or pkexec off a terminal: `sudo_prefix`).
    pub sudo: Vec<String>,
    /// Where the client sends its calls (`endpoint::detect`, no engine call).
    pub endpoint: Endpoint,
}

#[cfg(test)]
impl Engine {
    /// An engine for unit tests: the client by its bare name, called
    /// directly, on this machine (no engine is run).
    pub fn plain(kind: EngineKind, rootless: bool) -> Engine {
        Engine {
            kind,
            path: PathBuf::from(kind.name()),
            via: Via::Direct,
            rootless,
            sudo: Vec::new(),
            endpoint: Default::default(),
        }
    }
}

/// Askpass programs sudo can ask the password with off a terminal, in the
/// order tried (GNOME's and KDE's, OpenSSH's, LXQt's).
const ASKPASS: &[&str] = &[
    "/usr/libexec/openssh/gnome-ssh-askpass",
    "/usr/libexec/seahorse/ssh-askpass",
    "ksshaskpass",
    "ssh-askpass",
    "/usr/lib/ssh/ssh-askpass",
    "/usr/libexec/openssh/ssh-askpass",
    "lxqt-openssh-askpass",
];

/// How a plain user reaches rootful podman. `program` is config
/// `sudo_program` (default sudo; doas or run0 as Distrobox's
/// DBX_SUDO_PROGRAM). On a terminal it asks there. Off one (a menu launcher,
/// an exported app) sudo gets a graphical askpass (`SUDO_ASKPASS`, else one
/// installed) in a graphical session, else pkexec where installed; failing
/// both, `--non-interactive`, so it fails at once instead of waiting for an
/// answer nobody can give (tent then says what to run: see
/// `is_password_refusal`). `find` looks a program up (on PATH or absolute).
pub fn sudo_prefix(
    program: Option<&str>,
    on_terminal: bool,
    graphical: bool,
    askpass_set: bool,
    find: &dyn Fn(&str) -> Option<PathBuf>,
) -> Vec<String> {
    let mut words: Vec<String> = program.unwrap_or("sudo").split_whitespace().map(str::to_string).collect();
    if words.is_empty() {
        words.push("sudo".into());
    }
    let is_sudo = Path::new(&words[0]).file_name().is_some_and(|n| n == "sudo");
    if is_sudo && !on_terminal {
        if askpass_set {
            words.push("--askpass".into());
        } else if let Some(askpass) = graphical.then(|| ASKPASS.iter().find_map(|p| find(p))).flatten() {
            let mut with = vec!["env".to_string(), format!("SUDO_ASKPASS={}", askpass.display())];
            with.append(&mut words);
            with.push("--askpass".into());
            words = with;
        } else if let Some(pkexec) = graphical.then(|| find("pkexec")).flatten() {
            // pkexec takes the program's absolute path, and no `--`.
            return vec![pkexec.display().to_string()];
        } else {
            words.push("--non-interactive".into());
        }
    }
    words.push("--".into());
    words
}

/// Whether an engine call failed because sudo needed a password it could
/// not ask for (see `sudo_prefix`).
pub fn is_password_refusal(stderr: &str) -> bool {
    stderr.contains("a password is required") || stderr.contains("no askpass program specified")
}

impl Engine {
    /// Finds the engine: an explicit choice (name or path) wins, else podman,
    /// then docker, on PATH. `root` asks for rootful podman through sudo when
    /// tent itself is not root.
    pub fn detect(choice: Option<&str>, root: bool) -> Result<Self> {
        let euid = current_euid();
        let (kind, path) = match choice {
            Some(value) if value.contains('/') => {
                let path = PathBuf::from(value);
                let kind =
                    EngineKind::from_binary(&path).ok_or_else(|| Error::UnknownEngine { value: value.into() })?;
                (kind, path)
            }
            Some(value) => {
                let kind = match value {
                    "podman" => EngineKind::Podman,
                    "docker" => EngineKind::Docker,
                    _ => return Err(Error::UnknownEngine { value: value.into() }),
                };
                let path = which::which(value).map_err(|_| Error::NoEngine { looked_for: value.into() })?;
                (kind, path)
            }
            None => {
                if let Ok(path) = which::which("podman") {
                    (EngineKind::Podman, path)
                } else if let Ok(path) = which::which("docker") {
                    (EngineKind::Docker, path)
                } else {
                    return Err(Error::NoEngine { looked_for: "podman and docker".into() });
                }
            }
        };
        let sudo = root && euid != 0 && kind == EngineKind::Podman;
        let endpoint = endpoint::from_environment(kind, &path, sudo, &endpoint::Chosen::default());
        Ok(Engine {
            kind,
            path,
            via: if sudo { Via::Sudo } else { Via::Direct },
            rootless: kind == EngineKind::Podman && euid != 0 && !sudo,
            sudo: vec!["sudo".into(), "--".into()],
            endpoint,
        })
    }

    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// Works the endpoint out again with tent's own `--url`/`--connection`
    /// (`endpoint::Chosen`), which the client is then given on every call.
    pub fn choose_endpoint(&mut self, chosen: &endpoint::Chosen) {
        self.endpoint = endpoint::from_environment(self.kind, &self.path, self.through_sudo(), chosen);
    }

    /// The engine tent uses for boxes of `scope`: `chosen` (tent's own
    /// `--engine`, TENT_ENGINE or config, never a path from a file a box can
    /// write) when it reaches that scope, else the scope's engine by name on
    /// PATH. None when neither is there.
    pub fn for_scope(chosen: Option<&str>, scope: Scope) -> Option<Engine> {
        let root = scope == Scope::PodmanRoot;
        let name = if scope == Scope::Docker { "docker" } else { "podman" };
        chosen
            .and_then(|c| Engine::detect(Some(c), root).ok())
            .filter(|e| e.scope() == scope)
            .or_else(|| Engine::detect(Some(name), root).ok().filter(|e| e.scope() == scope))
    }

    /// A name for the engine and its mode, used to keep the state of a
    /// rootless and a rootful box of the same name apart.
    pub fn scope(&self) -> Scope {
        if let Endpoint::Remote(remote) = &self.endpoint {
            return Scope::Remote { kind: self.kind, id: remote.id() };
        }
        match (self.kind, self.via) {
            (EngineKind::Podman, Via::Direct) => Scope::Podman,
            (EngineKind::Podman, Via::Sudo) => Scope::PodmanRoot,
            (EngineKind::Docker, _) => Scope::Docker,
        }
    }

    /// Whether the client runs through sudo (`--root` as a plain user).
    pub fn through_sudo(&self) -> bool {
        self.via == Via::Sudo
    }

    /// Whether boxes run as real root on the host.
    pub fn rootful(&self) -> bool {
        !self.rootless
    }

    /// Whether the engine is this user's own store on this machine, where
    /// tent may join namespaces, look in `/proc`, share files and folders
    /// with a box and run the relay (`endpoint`).
    pub fn is_local(&self) -> bool {
        self.endpoint.is_local()
    }

    /// Refuses what only works on the local store, naming the endpoint and
    /// `what` was asked (until boxes on remote engines do it their own way).
    pub fn require_local(&self, what: &str) -> Result<()> {
        match &self.endpoint {
            Endpoint::Local => Ok(()),
            Endpoint::Remote(remote) => Err(Error::RemoteEndpoint {
                what: what.into(),
                engine: self.kind.name().into(),
                endpoint: remote.address.clone(),
                set_by: remote.source.clone(),
            }),
        }
    }

    /// How the engine is named in messages: "rootless podman", "docker",
    /// "podman at ssh://build (from CONTAINER_HOST)" …
    pub fn describe(&self) -> String {
        if let Endpoint::Remote(remote) = &self.endpoint {
            return format!("{} at {} (from {})", self.kind.name(), remote.address, remote.source);
        }
        match self.kind {
            EngineKind::Podman if self.rootless => "rootless podman".into(),
            EngineKind::Podman => "rootful podman".into(),
            EngineKind::Docker => "docker".into(),
        }
    }

    // ---- capabilities -------------------------------------------------

    /// Podman has flags Docker lacks (`--systemd`, CDI devices, annotations).
    pub fn is_podman(&self) -> bool {
        self.kind == EngineKind::Podman
    }

    /// Rootless podman maps the user's uid to itself inside the box.
    pub fn supports_keep_id(&self) -> bool {
        self.rootless
    }

    /// Podman's `--privileged` grants what the user's bounding set has; Docker's
    /// asks for every capability and fails where some are missing, so Docker
    /// boxes get the device access they need through a device-cgroup rule.
    pub fn privileged_by_default(&self) -> bool {
        self.kind == EngineKind::Podman
    }

    /// Podman accepts an empty `--detach-keys` (so Ctrl-P Ctrl-Q reach the
    /// program); Docker rejects it.
    pub fn supports_empty_detach_keys(&self) -> bool {
        self.kind == EngineKind::Podman
    }

    /// `podman ps --format json` prints one array; `docker ps` prints a line
    /// per container and only accepts Go templates.
    pub fn ps_prints_array(&self) -> bool {
        self.kind == EngineKind::Podman
    }

    // ---- running the client --------------------------------------------

    /// The full argv for one engine call.
    pub fn argv<S: AsRef<str>>(&self, args: &[S]) -> Vec<String> {
        let mut argv: Vec<String> = match self.via {
            Via::Direct => Vec::new(),
            Via::Sudo => self.sudo.clone(),
        };
        argv.push(self.path.to_string_lossy().into_owned());
        if let Endpoint::Remote(remote) = &self.endpoint {
            argv.extend(remote.client_args.iter().cloned());
        }
        argv.extend(args.iter().map(|a| a.as_ref().to_string()));
        argv
    }

    pub fn command<S: AsRef<str>>(&self, args: &[S]) -> Command {
        command_for(&self.argv(args))
    }

    /// Runs the engine and captures its output; a non-zero status is an error
    /// that names `what` was being done.
    pub fn capture<S: AsRef<str>>(&self, what: &str, args: &[S]) -> Result<String> {
        let output = self.output(args)?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(Error::Engine { what: what.into(), failure: self.failure(args, &output) })
        }
    }

    /// Starts the engine with no input and its output piped, for a caller
    /// that reads it while the engine runs.
    pub fn spawn_piped<S: AsRef<str>>(&self, args: &[S]) -> Result<std::process::Child> {
        self.command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::spawn(&self.path, &e))
    }

    /// Runs the engine and returns its raw output, whatever the status.
    pub fn output<S: AsRef<str>>(&self, args: &[S]) -> Result<Output> {
        self.command(args).stdin(Stdio::null()).output().map_err(|e| Error::spawn(&self.path, &e))
    }

    pub fn failure<S: AsRef<str>>(&self, args: &[S], output: &Output) -> CommandFailure {
        CommandFailure {
            argv: self.argv(args),
            status: output.status.code(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    // ---- queries ----------------------------------------------------------

    /// Whether the engine has `image` (a name or an id).
    pub fn image_exists(&self, image: &str) -> Result<bool> {
        Ok(self.image_id(image)?.is_some())
    }

    /// The id of `image` (64 hex digits), or None when the engine has no
    /// such image: what a new box's `tent.image-id` label names.
    pub fn image_id(&self, image: &str) -> Result<Option<String>> {
        let output = self.output(&["image", "inspect", "--format", "{{.Id}}", "--", image])?;
        let text = String::from_utf8_lossy(&output.stdout);
        let id = text.trim().trim_start_matches("sha256:");
        Ok((output.status.success() && crate::text::is_sha256_hex(id)).then(|| id.to_string()))
    }

    /// The id of `image` (64 hex digits) and its layers (`sha256:HEX` diff
    /// ids, bottom first), or None when the engine has no such image.
    pub fn image_layers(&self, image: &str) -> Result<Option<(String, Vec<String>)>> {
        let format = "{{.Id}}{{range .RootFS.Layers}} {{.}}{{end}}";
        let output = self.output(&["image", "inspect", "--format", format, "--", image])?;
        if !output.status.success() {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&output.stdout);
        Ok(json::parse_image_layers(&text))
    }

    /// The container of that name, or None when there is none.
    pub fn inspect(&self, name: &str) -> Result<Option<json::Container>> {
        let args = ["container", "inspect", name];
        let output = self.output(&args)?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            if json::is_no_such_container(&stderr) {
                return Ok(None);
            }
            return Err(Error::Engine {
                what: format!("could not inspect {name:?}"),
                failure: self.failure(&args, &output),
            });
        }
        let text = String::from_utf8_lossy(&output.stdout);
        json::parse_inspect(&text)
            .map_err(|detail| Error::EngineOutput { command: self.argv(&args).join(" "), detail })
            .map(|mut list| list.pop())
    }

    /// Every container that carries `label`, less those whose `tent.*`
    /// labels all came from their image (`json::inherited`): an image's
    /// labels do not make a container a tent box. With them, the ids of the
    /// images that answered for them, sorted: the next call's `guess`.
    ///
    /// `guess` names images the containers probably have (what the last
    /// list found): those are asked for while the engine lists (issue 24:
    /// `list` was the engine's list and then its `image inspect`, 1.5-2x
    /// the list alone). The guess only chooses what to ask: an answer
    /// counts for a container only when it is that container's own image,
    /// and any image the guess missed is asked for after the list.
    pub fn list_labelled(&self, label: &str, guess: &[String]) -> Result<(Vec<json::Container>, Vec<String>)> {
        let args = argv::ps(self, label);
        let list_text = || self.capture("could not list containers", &args);
        // A failed guess is only a guess: the images are asked for below.
        let (text, guessed) =
            if guess.is_empty() { (list_text(), None) } else { self.images_meanwhile(guess.to_vec(), list_text) };
        let text = text?;
        let parsed = if self.ps_prints_array() { json::parse_podman_ps(&text) } else { json::parse_docker_ps(&text) };
        let list = parsed.map_err(|detail| Error::EngineOutput { command: self.argv(&args).join(" "), detail })?;
        let mut images = guessed.unwrap_or_default();
        let missed = json::images_unanswered(&list, &images);
        if !missed.is_empty() {
            images.extend(self.images_of(missed)?);
        }
        let answered = json::images_answering(&list, &images);
        let foreign: Vec<String> = json::inherited(&list, &images).iter().map(|c| c.id.clone()).collect();
        Ok((list.into_iter().filter(|c| !foreign.contains(&c.id)).collect(), answered))
    }

    /// `inspect` of box `name`, and whether every `tent.*` label of what it
    /// finds came from its image, so that it is no tent box whatever its
    /// labels say (`json::inherited`),
    /// and the images `also` names, in as few engine calls as it can
    /// (issue 24: each is 20-50 ms, and every cold command asks for a box
    /// and its image). `hint` is the image the box had when tent last
    /// looked: when it is still its image, the box and its image (and
    /// `also`) come from one untyped `inspect`, or, where that cannot
    /// answer, from two calls at once. The hint only chooses what to ask:
    /// the answer counts only when the container's image is that very
    /// image; otherwise the image is asked after the container. The images
    /// of `also` are returned in order when one call found them all, else
    /// None (the caller asks for them itself).
    pub fn inspect_box(&self, name: &str, hint: Option<&str>, also: &[&str]) -> Result<Option<InspectedBox>> {
        let hint = hint.filter(|h| crate::text::is_sha256_hex(h));
        let asked: Vec<&str> = hint.into_iter().chain(also.iter().copied()).collect();
        let (container, mut hinted, also_found) = match self.inspect_objects(&[name], &asked) {
            Some((mut containers, mut images)) => {
                let hinted = hint.map(|_| images.remove(0)).filter(|i| Some(i.id.as_str()) == hint);
                (Ok(containers.pop()), hinted.map(|i| vec![i]), Some(images))
            }
            None => match hint {
                Some(id) => {
                    let (container, image) = self.images_meanwhile(vec![id.to_string()], || self.inspect(name));
                    (container, image, None)
                }
                None => (self.inspect(name), None, None),
            },
        };
        let Some(container) = container? else { return Ok(None) };
        let one = std::slice::from_ref(&container);
        let refs = json::images_to_check(one);
        if refs.len() != 1 || Some(refs[0].as_str()) != hint {
            hinted = None;
        }
        let inherited = match hinted {
            _ if refs.is_empty() => false,
            Some(images) => !json::inherited(one, &images).is_empty(),
            None => !json::inherited(one, &self.images_of(refs)?).is_empty(),
        };
        Ok(Some(InspectedBox { container, inherited, also: also_found }))
    }

    /// The containers and images named, from one untyped `inspect` (one
    /// engine process for all). None when one is missing or is not of the
    /// kind asked for (both engines take a name for a container first, then
    /// for an image), or when there are no images to ask for: the caller
    /// then asks by type.
    fn inspect_objects(
        &self,
        containers: &[&str],
        images: &[&str],
    ) -> Option<(Vec<json::Container>, Vec<json::Image>)> {
        if images.is_empty() {
            return None;
        }
        let mut args = vec!["inspect", "--"];
        args.extend(containers);
        args.extend(images);
        let output = self.output(&args).ok().filter(|o| o.status.success())?;
        let objects = json::parse_objects(&String::from_utf8_lossy(&output.stdout)).ok()?;
        if objects.len() != containers.len() + images.len() {
            return None;
        }
        let (mut found_containers, mut found_images) = (Vec::new(), Vec::new());
        for (i, object) in objects.into_iter().enumerate() {
            match object {
                json::Object::Container(c) if i < containers.len() => found_containers.push(c),
                json::Object::Image(image) if i >= containers.len() => found_images.push(image),
                _ => return None,
            }
        }
        Some((found_containers, found_images))
    }

    /// `images_of(refs)` in a second engine process while `work` runs:
    /// what `work` returned, and the images, or None when that call failed
    /// (the refs were a guess; the caller asks again for what it lacks).
    fn images_meanwhile<T>(&self, refs: Vec<String>, work: impl FnOnce() -> T) -> (T, Option<Vec<json::Image>>) {
        let (images, done) = crate::concurrent::at_once(|| self.images_of(refs), work);
        (done, images.ok())
    }

    /// The images named, inspected in one call. Another tent (or the user)
    /// may remove one between whatever named it and this inspect: both
    /// engines then print the images they found and fail naming the one
    /// gone, and that image simply is not in the answer. Any other failure
    /// is an error.
    fn images_of(&self, refs: Vec<String>) -> Result<Vec<json::Image>> {
        let mut args = argv::image_inspect(&[]);
        args.push("--".into());
        args.extend(refs);
        let output = self.output(&args)?;
        if !output.status.success() && !names_a_missing_image(&output.stderr) {
            return Err(Error::Engine {
                what: "could not inspect images".into(),
                failure: self.failure(&args, &output),
            });
        }
        let text = String::from_utf8_lossy(&output.stdout);
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        json::parse_image_inspect(&text)
            .map_err(|detail| Error::EngineOutput { command: self.argv(&args).join(" "), detail })
    }
}

impl Engine {
    /// Every image that carries `label` (`key` or `key=value`), inspected.
    pub fn images_labelled(&self, label: &str) -> Result<Vec<json::Image>> {
        let args = argv::image_ids(label);
        // podman's listing fails as a whole when an image goes while it
        // counts sizes ("retrieving size of image …: image not known"):
        // another tent's `rmi`, or a rollback finishing in the background.
        // That image is gone; the listing is asked again (twice at most).
        let mut tries = 0;
        let text = loop {
            let output = self.output(&args)?;
            if output.status.success() {
                break String::from_utf8_lossy(&output.stdout).into_owned();
            }
            tries += 1;
            if tries == 3 || !names_a_missing_image(&output.stderr) {
                return Err(Error::Engine {
                    what: "could not list images".into(),
                    failure: self.failure(&args, &output),
                });
            }
        };
        let mut ids: Vec<String> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect();
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.images_of(ids)
    }
}

/// Whether an engine's complaint is that an image it was asked about is gone
/// (podman: "image not known", Docker: "No such image").
fn names_a_missing_image(stderr: &[u8]) -> bool {
    let text = String::from_utf8_lossy(stderr).to_ascii_lowercase();
    text.contains("image not known") || text.contains("no such image")
}

pub fn command_for(argv: &[String]) -> Command {
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]);
    command
}

pub fn current_euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// What [`Engine::inspect_box`] found: the container, whether its `tent.*`
/// labels all came from its image, and the other images asked for.
pub struct InspectedBox {
    pub container: json::Container,
    pub inherited: bool,
    pub also: Option<Vec<json::Image>>,
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_image_gone_between_list_and_inspect_is_told_from_a_failing_engine() {
        // What podman 4.3 and Docker 20.10 print (seen on this machine).
        assert!(names_a_missing_image(b"Error: inspecting object: sha256:ca56: image not known\n"));
        assert!(names_a_missing_image(b"Error: No such image: sha256:ca56\n"));
        assert!(!names_a_missing_image(b"Cannot connect to the Docker daemon at unix:///var/run/docker.sock.\n"));
        assert!(!names_a_missing_image(b"Error: database is locked\n"));
    }

    /// A fake podman whose first `images` fails as podman's does when an
    /// image goes during the listing, then lists none.
    #[test]
    fn a_listing_that_loses_an_image_midway_is_asked_again() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, count) = (dir.path().join("podman"), dir.path().join("count"));
        let script = format!(
            "#!/bin/sh\necho x >> '{c}'\n[ \"$(wc -l < '{c}')\" -gt {fails} ] && exit 0\n\
             echo 'Error: retrieving size of image \"ab\": locating image with ID \"ab\": image not known' >&2\nexit 125\n",
            c = count.display(),
            fails = 1
        );
        crate::test_support::write_script(&engine, &script);
        let mut e = Engine::plain(EngineKind::Podman, true);
        e.path = engine.clone();
        assert!(e.images_labelled("tent.snapshot.box").unwrap().is_empty());
        assert_eq!(std::fs::read_to_string(&count).unwrap().lines().count(), 2, "asked again once");
        // Failing every time: the third failure is the error.
        crate::test_support::write_script(&engine, script.replace("-gt 1", "-gt 9"));
        std::fs::remove_file(&count).unwrap();
        assert!(e.images_labelled("tent.snapshot.box").is_err());
        assert_eq!(std::fs::read_to_string(&count).unwrap().lines().count(), 3);
        // Any other failure at once.
        crate::test_support::write_script(&engine, "#!/bin/sh\necho 'Error: database is locked' >&2\nexit 125\n");
        assert!(e.images_labelled("tent.snapshot.box").is_err());
    }

    #[test]
    fn sudo_asks_where_someone_can_answer() {
        let none = |_: &str| None;
        let some = |p: &str| (p == "ssh-askpass" || p == "pkexec").then(|| PathBuf::from(format!("/usr/bin/{p}")));
        let only_pkexec = |p: &str| (p == "pkexec").then(|| PathBuf::from("/usr/bin/pkexec"));
        assert_eq!(sudo_prefix(None, true, true, false, &some), ["sudo", "--"]);
        assert_eq!(sudo_prefix(Some("doas"), false, true, false, &some), ["doas", "--"]);
        assert_eq!(
            sudo_prefix(Some("run0 --background=0"), true, false, false, &none),
            ["run0", "--background=0", "--"]
        );
        assert_eq!(sudo_prefix(None, false, true, true, &none), ["sudo", "--askpass", "--"]);
        assert_eq!(
            sudo_prefix(None, false, true, false, &some),
            ["env", "SUDO_ASKPASS=/usr/bin/ssh-askpass", "sudo", "--askpass", "--"]
        );
        assert_eq!(sudo_prefix(None, false, true, false, &only_pkexec), ["/usr/bin/pkexec"]);
        assert_eq!(sudo_prefix(None, false, false, false, &some), ["sudo", "--non-interactive", "--"]);
        assert!(is_password_refusal("sudo: a password is required\n"));
    }
    use super::*;

    fn engine(kind: EngineKind, rootless: bool, sudo: bool) -> Engine {
        Engine {
            kind,
            path: PathBuf::from(format!("/usr/bin/{}", kind.name())),
            via: if sudo { Via::Sudo } else { Via::Direct },
            rootless,
            sudo: vec!["sudo".into(), "--".into()],
            endpoint: Endpoint::Local,
        }
    }

    #[test]
    fn scopes_keep_rootless_and_rootful_apart() {
        assert_eq!(engine(EngineKind::Podman, true, false).scope(), Scope::Podman);
        assert_eq!(engine(EngineKind::Podman, false, true).scope(), Scope::PodmanRoot);
        assert_eq!(engine(EngineKind::Docker, false, false).scope(), Scope::Docker);
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(&scope.key()), Some(scope));
        }
    }

    #[test]
    fn a_remote_endpoint_has_a_scope_of_its_own() {
        let mut e = engine(EngineKind::Podman, true, false);
        e.endpoint = Endpoint::Remote(endpoint::Remote {
            kind: EngineKind::Podman,
            address: "unix:///tmp/other.sock".into(),
            source: "--url".into(),
            client_args: vec!["--url".into(), "unix:///tmp/other.sock".into()],
        });
        assert_eq!(e.argv(&["ps"]), ["/usr/bin/podman", "--url", "unix:///tmp/other.sock", "ps"]);
        let scope = e.scope();
        assert!(scope.is_remote());
        let key = scope.key();
        assert!(key.starts_with("podman@") && key.len() == "podman@".len() + 12, "{key}");
        assert_eq!(Scope::parse(&key), Some(scope));
        assert!(Scope::ALL.iter().all(|s| *s != scope));
        assert!(matches!(e.require_local("joining"), Err(Error::RemoteEndpoint { .. })));
        assert!(engine(EngineKind::Podman, true, false).require_local("joining").is_ok());
        assert_eq!(e.describe(), "podman at unix:///tmp/other.sock (from --url)");
        for bad in
            ["podman@", "podman@0123456789aB", "podman@0123456789abc", "lxc@0123456789ab", "podman-root@x", "../podman"]
        {
            assert_eq!(Scope::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn argv_puts_the_sudo_prefix_first() {
        let e = engine(EngineKind::Podman, false, true);
        assert_eq!(e.argv(&["ps"]), vec!["sudo", "--", "/usr/bin/podman", "ps"]);
    }

    #[test]
    fn engine_kind_from_a_path() {
        assert_eq!(EngineKind::from_binary(Path::new("/usr/bin/docker")), Some(EngineKind::Docker));
        assert_eq!(EngineKind::from_binary(Path::new("/opt/podman-remote")), Some(EngineKind::Podman));
        assert_eq!(EngineKind::from_binary(Path::new("/usr/bin/nerdctl")), None);
    }

    #[test]
    fn detect_rejects_unknown_engines() {
        assert!(matches!(Engine::detect(Some("lxc"), false), Err(Error::UnknownEngine { .. })));
        assert!(matches!(Engine::detect(Some("/usr/bin/nerdctl"), false), Err(Error::UnknownEngine { .. })));
    }
}
