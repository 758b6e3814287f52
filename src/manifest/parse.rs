//! Reading tent.toml. The file is walked with its spans, instead of through
//! serde, so every mistake names the file, line and column, and an unknown key
//! gets a "did you mean" when it is close to a known one.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::model::{BinExport, BoxEntry, EndpointKey, Exports, Location, Manifest};
use crate::error::{Error, Result};

/// The keys of a box table, in the order `tent manifest` writes them.
pub(crate) const BOX_KEYS: &[&str] = &[
    "image",
    "packages",
    "home",
    "mount_home",
    "volumes",
    "env",
    "hostname",
    "root",
    "pre_init_hooks",
    "attach_hooks",
    "init_hooks",
    "start_hooks",
    "init",
    "nvidia",
    "unshare",
    "engine_args",
    "platform",
    "pull",
    "host",
    "own_xdg_open",
    "stop_when_idle",
    "export_apps",
    "export_bins",
    "entry",
    "endpoint",
    "connection",
];
const BIN_KEYS: &[&str] = &["bin", "name", "path"];

/// Parses tent.toml text; `path` is the manifest's canonical path, used in
/// messages and to resolve relative paths.
pub(crate) fn parse(path: &Path, text: &str) -> Result<Manifest> {
    let p = Parser { path, text };
    let root = DeTable::parse(text).map_err(|e| {
        let at = p.at(e.span().map_or(0, |s| s.start));
        Error::Manifest {
            message: format!("{at}: {}", e.message().trim()),
            hint: Some("the file must be TOML: see docs/manifest.md".into()),
        }
    })?;
    let mut boxes = Vec::new();
    for (key, value) in sorted(root.get_ref()) {
        if key.get_ref() != "box" {
            let hint = if matches!(value.get_ref(), DeValue::Table(_)) {
                format!("boxes are tables under `box`: write [box.{}]", key.get_ref())
            } else {
                "a tent.toml has only [box.NAME] tables".into()
            };
            return Err(p.unknown(key, &["box"], "at the top level", hint));
        }
        let table = p.table(value, "`box`")?;
        for (name, value) in sorted(table) {
            boxes.push(p.entry(name, value)?);
        }
    }
    Ok(Manifest {
        path: path.to_path_buf(),
        boxes,
        warnings: Vec::new(),
        host_commands: Vec::new(),
        builds: Vec::new(),
        compose: Vec::new(),
    })
}

/// Table entries in the order of the file (the map itself is sorted by key).
fn sorted<'a, 'i>(table: &'a DeTable<'i>) -> Vec<(&'a Spanned<std::borrow::Cow<'i, str>>, &'a Spanned<DeValue<'i>>)> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    entries
}

struct Parser<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Parser<'_> {
    fn at(&self, offset: usize) -> Location {
        Location::at(self.path, self.text, offset)
    }

    fn error(&self, span: Range<usize>, message: impl AsRef<str>, hint: impl Into<Option<String>>) -> Error {
        Error::Manifest { message: format!("{}: {}", self.at(span.start), message.as_ref()), hint: hint.into() }
    }

    fn unknown(
        &self,
        key: &Spanned<std::borrow::Cow<'_, str>>,
        known: &[&str],
        place: &str,
        fallback: String,
    ) -> Error {
        let hint = match did_you_mean(key.get_ref(), known) {
            Some(close) => format!("did you mean `{close}`?"),
            None => fallback,
        };
        self.error(key.span(), format!("unknown key `{}` {place}", key.get_ref()), hint)
    }

    fn table<'v, 'i>(&self, value: &'v Spanned<DeValue<'i>>, what: &str) -> Result<&'v DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(t) => Ok(t),
            other => Err(self.error(value.span(), format!("{what} must be a table, not {}", kind(other)), None)),
        }
    }

    fn string(&self, value: &Spanned<DeValue<'_>>, what: &str) -> Result<String> {
        match value.get_ref() {
            DeValue::String(s) => Ok(s.to_string()),
            other => Err(self.error(
                value.span(),
                format!("{what} must be a string, not {}", kind(other)),
                Some("quote it: \"...\"".to_string()),
            )),
        }
    }

    fn boolean(&self, value: &Spanned<DeValue<'_>>, what: &str) -> Result<bool> {
        match value.get_ref() {
            DeValue::Boolean(b) => Ok(*b),
            other => Err(self.error(value.span(), format!("{what} must be true or false, not {}", kind(other)), None)),
        }
    }

    fn strings(&self, value: &Spanned<DeValue<'_>>, what: &str) -> Result<Vec<String>> {
        match value.get_ref() {
            DeValue::Array(items) => items.iter().map(|item| self.string(item, &format!("each of {what}"))).collect(),
            other => Err(self.error(
                value.span(),
                format!("{what} must be a list of strings, not {}", kind(other)),
                Some(format!("write {what} = [\"...\", \"...\"]")),
            )),
        }
    }

    fn path(&self, value: &Spanned<DeValue<'_>>, what: &str) -> Result<PathBuf> {
        let text = self.string(value, what)?;
        if text.is_empty() {
            return Err(self.error(value.span(), format!("{what} is empty"), None));
        }
        Ok(resolve_path(&text, self.path))
    }

    fn entry(&self, name: &Spanned<std::borrow::Cow<'_, str>>, value: &Spanned<DeValue<'_>>) -> Result<BoxEntry> {
        let box_name = name.get_ref().to_string();
        if let Err(err) = crate::boxes::validate_name(&box_name) {
            return Err(self.error(name.span(), err.to_string(), err.hint()));
        }
        let table = self.table(value, &format!("box {box_name:?}"))?;
        let mut entry = BoxEntry { name: box_name.clone(), at: self.at(name.span().start), ..Default::default() };
        let mut engine_args_at = name.span();
        for (key, value) in sorted(table) {
            let k = key.get_ref().as_ref();
            match k {
                "image" => {
                    let image = self.string(value, k)?;
                    if image.trim().is_empty() {
                        return Err(self.error(value.span(), "image is empty", None));
                    }
                    entry.image = Some(image);
                }
                "packages" => entry.packages = self.strings(value, k)?,
                "volumes" => {
                    entry.volumes =
                        self.strings(value, k)?.into_iter().map(|v| resolve_volume(&v, self.path)).collect();
                }
                "home" => entry.home = Some(self.path(value, k)?),
                "mount_home" => entry.mount_home = self.boolean(value, k)?,
                "hostname" => entry.hostname = Some(self.string(value, k)?),
                "root" => entry.root = self.boolean(value, k)?,
                "init_hooks" => entry.init_hooks = self.strings(value, k)?,
                "start_hooks" => entry.start_hooks = self.strings(value, k)?,
                "pre_init_hooks" => entry.pre_init_hooks = self.strings(value, k)?,
                "attach_hooks" => entry.attach_hooks = self.strings(value, k)?,
                "init" => entry.init = self.boolean(value, k)?,
                "nvidia" => entry.nvidia = self.boolean(value, k)?,
                "pull" => entry.pull = self.boolean(value, k)?,
                "host" => entry.no_host = !self.boolean(value, k)?,
                "own_xdg_open" => entry.own_xdg_open = self.boolean(value, k)?,
                "stop_when_idle" => {
                    let text = self.string(value, k)?;
                    let secs = crate::boxes::spec::parse_duration(&text)
                        .map_err(|why| self.error(value.span(), format!("stop_when_idle: {why}"), None))?;
                    entry.stop_when_idle = Some(secs);
                }
                "platform" => entry.platform = Some(self.string(value, k)?),
                "unshare" => {
                    for name in self.strings(value, k)? {
                        if !entry.unshare.set(&name) {
                            return Err(self.error(
                                value.span(),
                                format!("unshare has an unknown item {name:?}"),
                                Some(format!("the items are: {}, all", crate::boxes::spec::Unshare::NAMES.join(", "))),
                            ));
                        }
                    }
                }
                "engine_args" => {
                    entry.engine_args = self.strings(value, k)?;
                    engine_args_at = value.span();
                }
                "env" => entry.env = self.env(value)?,
                "export_apps" => entry.exports.apps = self.strings(value, k)?,
                "export_bins" => entry.exports.bins = self.bins(value)?,
                "entry" => entry.exports.entry = self.boolean(value, k)?,
                "endpoint" | "connection" => {
                    let text = self.string(value, k)?;
                    let (checked, chosen) = if k == "endpoint" {
                        (crate::boxes::remote::check_address(&text), EndpointKey::Url(text))
                    } else {
                        (crate::boxes::remote::check_connection(&text), EndpointKey::Connection(text))
                    };
                    checked.map_err(|why| {
                        self.error(
                            value.span(),
                            format!("{k}: {why}"),
                            Some(
                                "endpoint is an engine address (ssh://USER@HOST/run/user/UID/podman/podman.sock), \
                                 connection a name of `podman system connection` or `docker context`: \
                                 see docs/remote.md"
                                    .into(),
                            ),
                        )
                    })?;
                    if entry.endpoint.is_some() {
                        return Err(self.error(
                            key.span(),
                            format!("box {box_name:?} has both endpoint and connection"),
                            Some("keep one of them: endpoint is an address, connection a name for one".into()),
                        ));
                    }
                    entry.endpoint = Some(chosen);
                }
                _ => {
                    return Err(self.unknown(
                        key,
                        BOX_KEYS,
                        &format!("in box {box_name:?}"),
                        format!("the keys of a box are: {}", BOX_KEYS.join(", ")),
                    ));
                }
            }
        }
        if entry.mount_home && entry.home.is_none() {
            return Err(self.error(
                name.span(),
                format!("box {box_name:?} has mount_home = true but no home"),
                Some(
                    "mount_home mounts your real home beside the box's own `home`: set home, or drop mount_home".into(),
                ),
            ));
        }
        // Checked with the final unshare list, whatever the key order.
        crate::boxes::engine_args::check(&entry.engine_args, &entry.unshare)
            .map_err(|why| self.error(engine_args_at, why, None))?;
        check_unique_exports(self, &entry.exports, value.span())?;
        Ok(entry)
    }

    fn env(&self, value: &Spanned<DeValue<'_>>) -> Result<BTreeMap<String, String>> {
        let table = self.table(value, "env")?;
        let mut env = BTreeMap::new();
        for (key, value) in sorted(table) {
            let k = key.get_ref().to_string();
            if k.is_empty() || k.contains('=') {
                return Err(self.error(key.span(), format!("{k:?} is not a variable name"), None));
            }
            env.insert(k.clone(), self.string(value, &format!("env.{k}"))?);
        }
        Ok(env)
    }

    fn bins(&self, value: &Spanned<DeValue<'_>>) -> Result<Vec<BinExport>> {
        let DeValue::Array(items) = value.get_ref() else {
            return Err(self.error(
                value.span(),
                format!("export_bins must be a list, not {}", kind(value.get_ref())),
                Some("write export_bins = [\"/usr/bin/rg\", { bin = \"fdfind\", name = \"fd\" }]".into()),
            ));
        };
        let mut bins = Vec::new();
        for item in items {
            let bin = match item.get_ref() {
                DeValue::String(s) => BinExport { bin: s.to_string(), ..Default::default() },
                DeValue::Table(table) => {
                    let mut bin = BinExport::default();
                    for (key, value) in sorted(table) {
                        match key.get_ref().as_ref() {
                            "bin" => bin.bin = self.string(value, "bin")?,
                            "name" => bin.name = Some(self.string(value, "name")?),
                            "path" => bin.path = Some(self.path(value, "path")?),
                            _ => {
                                return Err(self.unknown(
                                    key,
                                    BIN_KEYS,
                                    "in an exported bin",
                                    "an exported bin has the keys bin, name and path".into(),
                                ));
                            }
                        }
                    }
                    bin
                }
                other => {
                    return Err(self.error(
                        item.span(),
                        format!("each of export_bins must be a string or a table, not {}", kind(other)),
                        None,
                    ));
                }
            };
            if bin.bin.is_empty() {
                return Err(self.error(
                    item.span(),
                    "an exported bin needs `bin`: its path in the box or a command name",
                    None,
                ));
            }
            bins.push(bin);
        }
        Ok(bins)
    }
}

/// Two bins exported under one name would overwrite each other.
fn check_unique_exports(p: &Parser<'_>, exports: &Exports, span: Range<usize>) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for bin in &exports.bins {
        if !seen.insert((bin.path.clone(), bin.exported_name().to_string())) {
            return Err(p.error(
                span,
                format!("two exported bins are named {:?}", bin.exported_name()),
                Some("give one of them another `name`".into()),
            ));
        }
    }
    Ok(())
}

fn kind(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "a number",
        DeValue::Float(_) => "a number",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "a list",
        DeValue::Table(_) => "a table",
    }
}

/// `~` is the user's home; a relative path is relative to the manifest's
/// directory, so a manifest means the same wherever `tent apply` runs.
pub(crate) fn resolve_path(text: &str, manifest: &Path) -> PathBuf {
    if text == "~" {
        return home();
    }
    if let Some(rest) = text.strip_prefix("~/") {
        return home().join(rest);
    }
    let path = Path::new(text);
    if path.is_absolute() {
        return path.to_path_buf();
    }
    let dir = manifest.parent().unwrap_or(Path::new("/"));
    let joined = dir.join(path);
    // Lexical clean-up of `./` and `../`: the path may not exist yet.
    let mut clean = PathBuf::new();
    for part in joined.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                clean.pop();
            }
            other => clean.push(other),
        }
    }
    clean
}

/// The source of a volume `SRC:DST[:OPTS]` is resolved like a path when it
/// looks like one; a bare word is a named volume of the engine and stays.
pub(crate) fn resolve_volume(volume: &str, manifest: &Path) -> String {
    let (src, rest) = volume.split_once(':').unwrap_or((volume, ""));
    let looks_like_path = src.starts_with('~') || src.starts_with('.') || src.starts_with('/');
    if !looks_like_path {
        return volume.to_string();
    }
    let src = resolve_path(src, manifest).to_string_lossy().into_owned();
    if rest.is_empty() { src } else { format!("{src}:{rest}") }
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/"))
}

/// The known word closest to `word`, when it is close enough to be a typo.
pub(crate) fn did_you_mean<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    let limit = word.chars().count().div_ceil(3);
    known.iter().map(|k| (distance(word, k), *k)).filter(|(d, _)| *d <= limit).min_by_key(|(d, _)| *d).map(|(_, k)| k)
}

/// Levenshtein distance, counting a swap of neighbours as one edit.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Manifest> {
        parse(Path::new("/proj/tent.toml"), text)
    }

    use crate::manifest::test_support::message;

    #[test]
    fn a_full_box_is_read_in_file_order() {
        let m = parse_str(
            r#"
[box.zeta]
image = "debian:bookworm"
packages = ["git", "ripgrep"]
volumes = ["./data:/data:ro", "cache:/cache"]
env = { EDITOR = "vim" }
home = "homes/zeta"
hostname = "z"
init_hooks = ["echo once"]
start_hooks = ["echo always"]
export_apps = ["code"]
export_bins = ["/usr/bin/rg", { bin = "fdfind", name = "fd", path = "/opt/bin" }]

[box.alpha]
image = "tent-test/busybox:latest"
"#,
        )
        .unwrap();
        let names: Vec<_> = m.boxes.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["zeta", "alpha"]);
        let z = &m.boxes[0];
        assert_eq!(z.packages, ["git", "ripgrep"]);
        assert_eq!(z.volumes, ["/proj/data:/data:ro", "cache:/cache"]);
        assert_eq!(z.env["EDITOR"], "vim");
        assert_eq!(z.home.as_deref(), Some(Path::new("/proj/homes/zeta")));
        assert_eq!(z.exports.apps, ["code"]);
        assert_eq!(z.exports.bins[1].exported_name(), "fd");
        assert_eq!(z.exports.bins[1].path.as_deref(), Some(Path::new("/opt/bin")));
        assert_eq!((z.at.line, z.at.column), (2, 6));
    }

    #[test]
    fn unknown_keys_give_line_column_and_a_close_key() {
        let (msg, hint) = message(parse_str("[box.dev]\nimage = \"x\"\n  pakages = [\"git\"]\n").unwrap_err());
        assert_eq!(msg, "/proj/tent.toml:3:3: unknown key `pakages` in box \"dev\"");
        assert_eq!(hint, "did you mean `packages`?");
        let (msg, hint) = message(parse_str("[box.dev]\nexported_apps = [\"x\"]\n").unwrap_err());
        assert!(msg.contains(":2:1: unknown key `exported_apps`"), "{msg}");
        assert_eq!(hint, "did you mean `export_apps`?");
        let (_, hint) = message(parse_str("[box.dev]\nfrobnicate = 1\n").unwrap_err());
        assert!(hint.starts_with("the keys of a box are: image, packages"), "{hint}");
    }

    #[test]
    fn a_box_outside_the_box_table_is_pointed_at() {
        let (msg, hint) = message(parse_str("[dev]\nimage = \"x\"\n").unwrap_err());
        assert_eq!(msg, "/proj/tent.toml:1:2: unknown key `dev` at the top level");
        assert_eq!(hint, "boxes are tables under `box`: write [box.dev]");
        let (_, hint) = message(parse_str("[boxes.dev]\n").unwrap_err());
        assert_eq!(hint, "did you mean `box`?");
    }

    #[test]
    fn wrong_types_and_syntax_errors_have_locations() {
        let (msg, _) = message(parse_str("[box.dev]\npackages = \"git\"\n").unwrap_err());
        assert_eq!(msg, "/proj/tent.toml:2:12: packages must be a list of strings, not a string");
        let (msg, _) = message(parse_str("[box.dev]\nroot = \"yes\"\n").unwrap_err());
        assert!(msg.starts_with("/proj/tent.toml:2:8: root must be true or false"), "{msg}");
        let (msg, _) = message(parse_str("[box.dev]\nimage = \n").unwrap_err());
        assert!(msg.starts_with("/proj/tent.toml:2:"), "{msg}");
        let (msg, _) = message(parse_str("[box.dev]\nexport_bins = [{ bin = \"a\", nam = \"b\" }]\n").unwrap_err());
        assert!(msg.contains(":2:29: unknown key `nam` in an exported bin"), "{msg}");
    }

    #[test]
    fn bad_box_names_and_inconsistent_keys_are_errors() {
        let (msg, _) = message(parse_str("[box.\"-x\"]\n").unwrap_err());
        assert!(msg.starts_with("/proj/tent.toml:1:6: invalid box name"), "{msg}");
        let (msg, _) = message(parse_str("[box.dev]\nmount_home = true\n").unwrap_err());
        assert!(msg.contains("mount_home = true but no home"), "{msg}");
        let (msg, _) = message(parse_str("[box.dev]\nexport_bins = [\"/a/rg\", \"/b/rg\"]\n").unwrap_err());
        assert!(msg.contains("two exported bins are named \"rg\""), "{msg}");
    }

    #[test]
    fn the_create_options_are_read() {
        let m = parse_str(
            "[box.sys]\ninit = true\nnvidia = true\nunshare = [\"netns\", \"ipc\"]\npull = true\n\
             platform = \"linux/arm64\"\npre_init_hooks = [\"echo pre\"]\nengine_args = [\"--env=X=1\"]\n",
        )
        .unwrap();
        let b = &m.boxes[0];
        assert!(b.init && b.nvidia && b.pull);
        assert_eq!(b.unshare.names(), ["netns", "ipc"]);
        assert_eq!(b.platform.as_deref(), Some("linux/arm64"));
        assert_eq!(b.pre_init_hooks, ["echo pre"]);
        assert_eq!(b.engine_args, ["--env=X=1"]);
        let (msg, hint) = message(parse_str("[box.d]\nunshare = [\"pid\"]\n").unwrap_err());
        assert!(msg.contains("unknown item \"pid\""), "{msg}");
        assert!(hint.contains("netns, ipc"), "{hint}");
        let (msg, _) = message(parse_str("[box.d]\nengine_args = [\"--name=x\"]\n").unwrap_err());
        assert!(msg.starts_with("/proj/tent.toml:2:15: --engine-arg \"--name=x\" is refused"), "{msg}");
        // --pid is fine once the process namespace is unshared, in either order.
        assert!(parse_str("[box.d]\nengine_args = [\"--pid=private\"]\nunshare = [\"process\"]\n").is_ok());
    }

    #[test]
    fn a_box_names_its_endpoint_or_connection_checked() {
        let m = parse_str(
            "[box.far]\nendpoint = \"ssh://me@build:2222/run/user/1000/podman/podman.sock\"\n\
             [box.near]\nconnection = \"build\"\n[box.here]\n",
        )
        .unwrap();
        let url = EndpointKey::Url("ssh://me@build:2222/run/user/1000/podman/podman.sock".into());
        assert_eq!(m.boxes[0].endpoint, Some(url));
        assert_eq!(m.boxes[1].endpoint, Some(EndpointKey::Connection("build".into())));
        assert_eq!(m.boxes[2].endpoint, None);
        // A box can write tent.toml: what could read as an option, or is no
        // address at all, is refused at its place.
        for (value, why) in [
            ("ssh://-oProxyCommand=x@h/s", "not a user name"),
            ("ssh://me@-oProxyCommand=touch/s", "not a host name"),
            ("ssh://me@host/a b", "character ' '"),
            ("ssh://me@host/a\u{1b}[2J", "character '\\u{1b}'"),
            ("-H", "no scheme"),
            ("http://host", "not http://"),
            ("unix://relative.sock", "absolute path"),
            ("tcp://host", "HOST:PORT"),
            ("ssh://me@host:99999/s", "not a port number"),
            ("", "empty"),
        ] {
            let text = format!("[box.far]\nendpoint = {}\n", toml::Value::String(value.into()));
            let (msg, hint) = message(parse_str(&text).unwrap_err());
            assert!(msg.starts_with("/proj/tent.toml:2:12: endpoint: "), "{value:?}: {msg}");
            assert!(msg.contains(why), "{value:?}: {msg}");
            assert!(hint.contains("docs/remote.md"), "{hint}");
        }
        for name in ["-x", "a b", "", "é", &"a".repeat(129)] {
            let text = format!("[box.far]\nconnection = {}\n", toml::Value::String(name.into()));
            let (msg, _) = message(parse_str(&text).unwrap_err());
            assert!(msg.contains("connection: ") && msg.contains("is not a connection name"), "{name:?}: {msg}");
        }
        let (msg, _) = message(parse_str("[box.b]\nendpoint = \"unix:///x.sock\"\nconnection = \"c\"\n").unwrap_err());
        assert!(msg.contains(":3:1: box \"b\" has both endpoint and connection"), "{msg}");
        let (msg, _) = message(parse_str("[box.b]\nendpoint = 1\n").unwrap_err());
        assert!(msg.contains("endpoint must be a string"), "{msg}");
    }

    #[test]
    fn did_you_mean_only_for_close_words() {
        assert_eq!(did_you_mean("imgae", BOX_KEYS), Some("image"));
        assert_eq!(did_you_mean("hostnmae", BOX_KEYS), Some("hostname"));
        assert_eq!(did_you_mean("volume", BOX_KEYS), Some("volumes"));
        assert_eq!(did_you_mean("colour", BOX_KEYS), None);
    }

    #[test]
    fn paths_resolve_against_the_manifest_and_home() {
        let m = Path::new("/proj/sub/tent.toml");
        assert_eq!(resolve_path("../h", m), PathBuf::from("/proj/h"));
        assert_eq!(resolve_path("/abs", m), PathBuf::from("/abs"));
        assert_eq!(resolve_volume("named:/x", m), "named:/x");
        assert_eq!(resolve_volume("./d:/x:ro", m), "/proj/sub/d:/x:ro");
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;
        use crate::manifest::render::render;

        /// A TOML value of any of the shapes a box key takes, right or wrong.
        fn value() -> impl Strategy<Value = String> {
            let word = prop::sample::select(vec![
                "\"tent-test/debian:bookworm\"",
                "\"~/x\"",
                "\"./v:/v:ro\"",
                "\"named:/x\"",
                "\"netns\"",
                "\"ipc\"",
                "\"--env=A=1\"",
                "\"--name=x\"",
                "\"-v\"",
                "\"é \\\" \\\\ \\n\"",
                "\"\"",
                "''",
                "'lit'",
                "\"rg\"",
            ]);
            prop_oneof![
                word.clone().prop_map(String::from),
                prop::sample::select(vec!["true", "false", "1", "1.5", "{}", "[]"]).prop_map(String::from),
                prop::collection::vec(word.clone(), 0..4).prop_map(|w| format!("[{}]", w.join(", "))),
                (word.clone(), word).prop_map(|(a, b)| format!("{{ bin = {a}, name = {b} }}")),
                prop::collection::vec("[A-Za-z_.]{1,5}", 0..3).prop_map(|ks| format!(
                    "{{ {} }}",
                    ks.iter().map(|k| format!("\"{k}\" = \"v\"")).collect::<Vec<_>>().join(", ")
                )),
                any::<String>().prop_map(|s| toml::Value::String(s).to_string()),
            ]
        }

        /// A value of the type `key` takes (mostly), with strings people write.
        fn typed(key: &'static str) -> BoxedStrategy<String> {
            let text = prop_oneof![
                prop::sample::select(vec![
                    "tent-test/debian:bookworm",
                    "~/x",
                    "./v:/v:ro",
                    "../up",
                    "named:/x",
                    "/abs/path",
                    "--env=A=1",
                    "-v",
                    "é \" \\ \n\t",
                    "rg",
                ])
                .prop_map(String::from),
                "[ -~]{0,12}",
            ]
            .prop_map(|s| toml::Value::String(s).to_string());
            let list = prop::collection::vec(text.clone(), 0..4).prop_map(|w| format!("[{}]", w.join(", ")));
            let typed: BoxedStrategy<String> = match key {
                "image" | "home" | "hostname" | "platform" => text.boxed(),
                "endpoint" => prop_oneof![
                    prop::sample::select(vec![
                        "\"ssh://me@build/run/user/1000/podman/podman.sock\"",
                        "\"unix:///run/other.sock\"",
                        "\"tcp://10.0.0.2:2375\"",
                        "\"ssh://-oProxyCommand=x@h\"",
                    ])
                    .prop_map(String::from),
                    text.clone(),
                ]
                .boxed(),
                "connection" => {
                    prop_oneof![prop::sample::select(vec!["\"build\"", "\"-x\""]).prop_map(String::from), text.clone()]
                        .boxed()
                }
                "stop_when_idle" => {
                    prop::sample::select(vec!["\"90\"", "\"3s\"", "\"15m\"", "\"2h\"", "\"0s\"", "\"x\""])
                        .prop_map(String::from)
                        .boxed()
                }
                "mount_home" | "root" | "init" | "nvidia" | "pull" | "host" | "own_xdg_open" | "entry" => {
                    prop::sample::select(vec!["true", "false"]).prop_map(String::from).boxed()
                }
                "unshare" => prop::sample::subsequence(vec!["\"netns\"", "\"ipc\"", "\"process\"", "\"devsys\""], 0..3)
                    .prop_map(|w| format!("[{}]", w.join(", ")))
                    .boxed(),
                "engine_args" => prop::sample::subsequence(
                    vec!["\"--env=A=1\"", "\"--cap-add=SYS_PTRACE\"", "\"--pid=private\"", "\"--name=x\""],
                    0..3,
                )
                .prop_map(|w| format!("[{}]", w.join(", ")))
                .boxed(),
                "env" => prop::collection::btree_map("[A-Za-z_.]{1,5}", text.clone(), 0..3)
                    .prop_map(|m| {
                        format!(
                            "{{ {} }}",
                            m.iter().map(|(k, v)| format!("\"{k}\" = {v}")).collect::<Vec<_>>().join(", ")
                        )
                    })
                    .boxed(),
                "export_bins" => prop::collection::vec(
                    prop_oneof![
                        text.clone(),
                        (text.clone(), text.clone()).prop_map(|(a, b)| format!("{{ bin = {a}, name = {b} }}")),
                        (text.clone(), text.clone()).prop_map(|(a, b)| format!("{{ bin = {a}, path = {b} }}")),
                    ],
                    0..3,
                )
                .prop_map(|w| format!("[{}]", w.join(", ")))
                .boxed(),
                _ => list.boxed(),
            };
            prop_oneof![9 => typed, 1 => value()].boxed()
        }

        fn file() -> impl Strategy<Value = String> {
            let mut keys: Vec<&'static str> = BOX_KEYS.to_vec();
            keys.push("imgae");
            let table = (
                prop::sample::select(vec!["dev", "my.box", "a-b", "-bad", "Box"]),
                prop::sample::subsequence(keys.clone(), 0..keys.len()).prop_flat_map(|ks| {
                    ks.into_iter().map(|k| typed(k).prop_map(move |v| format!("{k} = {v}"))).collect::<Vec<_>>()
                }),
            )
                .prop_map(|(name, lines)| format!("[box.\"{name}\"]\n{}\n", lines.join("\n")));
            prop::collection::vec(table, 0..3).prop_map(|t| t.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

            /// Any text is parsed or refused, never a panic.
            #[test]
            fn any_text_parses_or_fails(text in any::<String>()) {
                let _ = parse_str(&text);
            }

            /// Any box tent accepts, written down again by `tent manifest`, is the same box.
            #[test]
            fn accepted_boxes_round_trip_through_the_renderer(text in file()) {
                let path = Path::new("/proj/tent.toml");
                let started = std::time::Instant::now();
                if let Ok(m) = parse(path, &text) {
                    for entry in &m.boxes {
                        let spec = entry.spec("tent-test/debian:bookworm", path);
                        let written = render(&entry.name, &spec, &entry.exports);
                        let again = parse(path, &written)
                            .unwrap_or_else(|e| panic!("{written}\nfrom\n{text}\ndoes not parse back: {e:?}"));
                        prop_assert_eq!(again.boxes.len(), 1);
                        prop_assert_eq!(&again.boxes[0].name, &entry.name);
                        prop_assert_eq!(&again.boxes[0].exports, &entry.exports);
                        prop_assert_eq!(again.boxes[0].spec("unused", path), spec);
                    }
                }
                prop_assert!(started.elapsed() < std::time::Duration::from_secs(5));
            }
        }
    }
}
