//! Reading Distrobox assemble files (`distrobox.ini`) as data.
//!
//! Distrobox itself sources these files as shell, so `image=$(cmd)` runs on the
//! host. tent never does that: every value is a plain string, a `$` or a
//! backquote outside the hooks is an error (except a leading `~`, `$HOME` or
//! `${HOME}` in paths, which are expanded), and only the hooks run, inside the
//! box, which is their documented meaning.
//!
//! Keys with a tent equivalent are mapped; harmless ones are ignored with a
//! warning; keys that would change what the box is (nvidia, init, clone,
//! additional_flags …) are errors, all reported at once by name.

use std::collections::BTreeMap;
use std::path::Path;

use super::model::{BinExport, BoxEntry, Location, Manifest};
use super::parse::{did_you_mean, resolve_path, resolve_volume};
use crate::error::{Error, Result};

/// The keys of Distrobox's documentation (distrobox-assemble(1), 1.8).
pub const KEYS: &[&str] = &[
    "image",
    "clone",
    "home",
    "hostname",
    "init",
    "entry",
    "nvidia",
    "root",
    "pull",
    "replace",
    "start_now",
    "volume",
    "additional_packages",
    "additional_flags",
    "init_hooks",
    "pre_init_hooks",
    "exported_apps",
    "exported_bins",
    "exported_bins_path",
    "include",
    "name",
    "unshare_groups",
    "unshare_ipc",
    "unshare_netns",
    "unshare_process",
    "unshare_devsys",
    "unshare_all",
];

/// One `key=value` line.
#[derive(Debug, Clone)]
struct Entry {
    key: String,
    value: String,
    at: Location,
}

#[derive(Debug)]
struct Section {
    name: String,
    at: Location,
    entries: Vec<Entry>,
}

pub fn parse(path: &Path, text: &str) -> Result<Manifest> {
    let sections = split(path, text)?;
    let by_name: BTreeMap<&str, &Section> = sections.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut boxes = Vec::new();
    let mut warnings = Vec::new();
    let mut problems = Vec::new();
    for section in &sections {
        let mut entries = Vec::new();
        expand_includes(section, &by_name, &mut vec![section.name.clone()], &mut entries)?;
        boxes.push(fold(path, section, &entries, &mut warnings, &mut problems)?);
    }
    if !problems.is_empty() {
        return Err(Error::Manifest {
            message: format!("{} uses Distrobox keys tent does not support:\n{}", path.display(), problems.join("\n")),
            hint: Some(
                "remove those keys (or set them to false) to apply this file with tent; see docs/manifest.md".into(),
            ),
        });
    }
    // A section included by others is read once per includer: say it once.
    let mut seen = std::collections::BTreeSet::new();
    warnings.retain(|w| seen.insert(w.clone()));
    Ok(Manifest { path: path.to_path_buf(), boxes, warnings })
}

/// Splits the file into sections of `key=value` lines.
fn split(path: &Path, text: &str) -> Result<Vec<Section>> {
    let mut sections: Vec<Section> = Vec::new();
    let mut offset = 0;
    for raw in text.split_inclusive('\n') {
        let start = offset;
        offset += raw.len();
        let indent = raw.len() - raw.trim_start().len();
        let at = Location::at(path, text, start + indent);
        let line = raw.replace('\t', " ");
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some((name, after)) = rest.split_once(']') else {
                return Err(manifest_error(&at, "a section header needs a closing `]`", None));
            };
            let after = after.trim();
            if !after.is_empty() && !after.starts_with('#') {
                return Err(manifest_error(&at, format!("unexpected {after:?} after the section header"), None));
            }
            let name = name.trim().to_string();
            if let Err(err) = crate::boxes::validate_name(&name) {
                return Err(manifest_error(&at, err.to_string(), err.hint()));
            }
            if sections.iter().any(|s| s.name == name) {
                return Err(manifest_error(&at, format!("box {name:?} is defined twice"), None));
            }
            sections.push(Section { name, at, entries: Vec::new() });
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(manifest_error(&at, format!("expected key=value, found {line:?}"), None));
        };
        let Some(section) = sections.last_mut() else {
            return Err(manifest_error(&at, "a key before any [box] section", Some("start with [NAME]".into())));
        };
        let key = key.trim().to_string();
        let value = unquote(value.trim()).map_err(|m| manifest_error(&at, m, None))?;
        section.entries.push(Entry { key, value, at });
    }
    Ok(sections)
}

/// A value as Distrobox's parser keeps it: the text between double or single
/// quotes, or the bare text up to an inline ` #` comment.
fn unquote(value: &str) -> std::result::Result<String, String> {
    for quote in ['"', '\''] {
        if let Some(rest) = value.strip_prefix(quote) {
            let Some(end) = rest.rfind(quote) else {
                return Err(format!("the value {value} has no closing {quote}"));
            };
            let after = rest[end + 1..].trim();
            if !after.is_empty() && !after.starts_with('#') {
                return Err(format!("unexpected {after:?} after the quoted value"));
            }
            return Ok(rest[..end].to_string());
        }
    }
    let bare = match value.find(" #") {
        Some(i) => &value[..i],
        None => value,
    };
    Ok(bare.trim().to_string())
}

/// The section's entries with each `include=OTHER` replaced by OTHER's entries
/// (recursively), so later keys of the section win over included ones.
fn expand_includes(
    section: &Section,
    all: &BTreeMap<&str, &Section>,
    stack: &mut Vec<String>,
    out: &mut Vec<Entry>,
) -> Result<()> {
    for entry in &section.entries {
        if entry.key != "include" {
            out.push(entry.clone());
            continue;
        }
        for name in entry.value.split_whitespace() {
            let Some(included) = all.get(name) else {
                let names: Vec<&str> = all.keys().copied().collect();
                let hint = did_you_mean(name, &names).map(|n| format!("did you mean {n:?}?"));
                return Err(manifest_error(&entry.at, format!("include of {name:?}: there is no such section"), hint));
            };
            if stack.iter().any(|s| s == name) {
                return Err(manifest_error(&entry.at, format!("include loop: {} → {name}", stack.join(" → ")), None));
            }
            stack.push(name.to_string());
            expand_includes(included, all, stack, out)?;
            stack.pop();
        }
    }
    Ok(())
}

fn fold(
    path: &Path,
    section: &Section,
    entries: &[Entry],
    warnings: &mut Vec<String>,
    problems: &mut Vec<String>,
) -> Result<BoxEntry> {
    let mut entry = BoxEntry { name: section.name.clone(), at: section.at.clone(), ..Default::default() };
    let mut bins = Vec::new();
    let mut bins_path = None;
    for e in entries {
        let v = e.value.as_str();
        let unsupported = |why: &str| format!("  {}: `{}={}`: {why}", e.at, e.key, v);
        match e.key.as_str() {
            "image" => entry.image = Some(plain(e)?),
            "additional_packages" => entry.packages.extend(words(e)?),
            "volume" => entry.volumes.extend(words(e)?.iter().map(|w| resolve_volume(&expand_home(w), path))),
            "home" => entry.home = Some(resolve_path(&expand_home(&plain_path(e)?), path)),
            "hostname" => entry.hostname = Some(plain(e)?),
            "root" => entry.root = boolean(e)?,
            // Distrobox runs init_hooks at the end of its init, which runs at
            // every start of the container: that is tent's start hooks.
            "init_hooks" => entry.start_hooks.push(v.to_string()),
            "exported_apps" => entry.exports.apps.extend(words(e)?),
            "exported_bins" => bins.extend(words(e)?),
            "exported_bins_path" => bins_path = Some(resolve_path(&expand_home(&plain_path(e)?), path)),
            "name" if v == section.name => {}
            "name" => problems.push(unsupported("a name other than the section's; rename the section instead")),
            "pre_init_hooks" => problems.push(unsupported(
                "tent has no hooks before provisioning; move them to init_hooks (they run at every start)",
            )),
            "additional_flags" => problems.push(unsupported("tent does not pass engine flags through")),
            "clone" => problems.push(unsupported("tent does not clone boxes; give an image")),
            "init" | "nvidia" | "unshare_groups" | "unshare_ipc" | "unshare_netns" | "unshare_process"
            | "unshare_devsys" | "unshare_all" => {
                if boolean(e)? {
                    problems.push(unsupported("tent does not support this"));
                }
            }
            "pull" => {
                if boolean(e)? {
                    warnings
                        .push(format!("{}: pull=true is ignored: tent pulls an image only when it is missing", e.at));
                }
            }
            "replace" => warnings.push(format!(
                "{}: replace is ignored: tent recreates a box when a change needs it, after asking",
                e.at
            )),
            "start_now" => {
                if !boolean(e)? {
                    warnings.push(format!("{}: start_now=false is ignored: tent starts the boxes it makes", e.at));
                }
            }
            "entry" => {
                if boolean(e)? {
                    warnings.push(format!("{}: entry=true is ignored: tent makes no desktop entry for a box", e.at));
                }
            }
            other => {
                let hint = match did_you_mean(other, KEYS) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None => format!("the keys of a Distrobox assemble file are: {}", KEYS.join(", ")),
                };
                return Err(manifest_error(
                    &e.at,
                    format!("unknown key `{other}` in box {:?}", section.name),
                    Some(hint),
                ));
            }
        }
    }
    entry.exports.bins = bins.into_iter().map(|bin| BinExport { bin, name: None, path: bins_path.clone() }).collect();
    if entry.image.is_none() && !problems.iter().any(|p| p.contains("`clone=")) {
        return Err(manifest_error(
            &section.at,
            format!("box {:?} has no image", section.name),
            Some("add image=NAME".into()),
        ));
    }
    Ok(entry)
}

fn manifest_error(at: &Location, message: impl AsRef<str>, hint: Option<String>) -> Error {
    Error::Manifest { message: format!("{at}: {}", message.as_ref()), hint }
}

/// A value that Distrobox's shell would have expanded is refused: reading it
/// literally would silently mean something else.
fn plain(e: &Entry) -> Result<String> {
    if e.value.contains('$') || e.value.contains('`') {
        return Err(manifest_error(
            &e.at,
            format!("`{}` contains shell syntax ({:?}), which tent does not run", e.key, e.value),
            Some("write the value itself; tent reads this file as data, not as shell".into()),
        ));
    }
    Ok(e.value.clone())
}

/// Like `plain`, but a leading `$HOME` or `${HOME}` is allowed (expanded later).
fn plain_path(e: &Entry) -> Result<String> {
    let expanded = expand_home(&e.value);
    plain(&Entry { value: expanded, ..e.clone() })
}

fn words(e: &Entry) -> Result<Vec<String>> {
    Ok(plain_path(e)?.split_whitespace().map(str::to_string).collect())
}

fn expand_home(value: &str) -> String {
    let home = std::env::var("HOME").unwrap_or_default();
    for prefix in ["${HOME}", "$HOME"] {
        if let Some(rest) = value.strip_prefix(prefix) {
            return format!("{home}{rest}");
        }
    }
    value.replace(" $HOME/", &format!(" {home}/")).replace(" ${HOME}/", &format!(" {home}/"))
}

fn boolean(e: &Entry) -> Result<bool> {
    match e.value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" | "" => Ok(false),
        _ => Err(manifest_error(&e.at, format!("`{}` must be true or false, not {:?}", e.key, e.value), None)),
    }
}

/// Whether a manifest path names a Distrobox assemble file.
pub fn is_distrobox_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "ini")
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn parse_str(text: &str) -> Result<Manifest> {
        parse(Path::new("/proj/distrobox.ini"), text)
    }

    use crate::manifest::test_support::message;

    #[test]
    fn documented_keys_map_to_a_box() {
        let m = parse_str(
            r#"
[dev] # inline comments are supported
image=tent-test/debian:bookworm
additional_packages="git vim"
additional_packages="tmux"
volume="/tmp/a:/run/a /tmp/b:/run/b"
init_hooks="touch /init-normal"
init_hooks=echo hi
exported_apps="htop"
exported_bins="/usr/bin/rg /usr/bin/fd"
exported_bins_path="/opt/bin"
	hostname = devhost
root=false
init=false
nvidia=0
"#,
        )
        .unwrap();
        let b = &m.boxes[0];
        assert_eq!(b.name, "dev");
        assert_eq!(b.image.as_deref(), Some("tent-test/debian:bookworm"));
        assert_eq!(b.packages, ["git", "vim", "tmux"]);
        assert_eq!(b.volumes, ["/tmp/a:/run/a", "/tmp/b:/run/b"]);
        assert_eq!(b.start_hooks, ["touch /init-normal", "echo hi"]);
        assert!(b.init_hooks.is_empty());
        assert_eq!(b.exports.apps, ["htop"]);
        assert_eq!(b.exports.bins.len(), 2);
        assert_eq!(b.exports.bins[1].path.as_deref(), Some(Path::new("/opt/bin")));
        assert_eq!(b.hostname.as_deref(), Some("devhost"));
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    }

    #[test]
    fn include_merges_another_section_and_later_keys_win() {
        let m = parse_str(
            "[base]\nimage=a\nadditional_packages=git\n[dev]\ninclude=base\nimage=b\nadditional_packages=vim\n",
        )
        .unwrap();
        let dev = &m.boxes[1];
        assert_eq!(dev.image.as_deref(), Some("b"));
        assert_eq!(dev.packages, ["git", "vim"]);
        let (msg, _) = message(parse_str("[a]\nimage=x\ninclude=b\n[b]\nimage=y\ninclude=a\n").unwrap_err());
        assert!(msg.contains("include loop: a → b → a"), "{msg}");
        let (msg, hint) = message(parse_str("[base]\nimage=x\n[dev]\ninclude=bsae\n").unwrap_err());
        assert!(msg.starts_with("/proj/distrobox.ini:4:1: include of \"bsae\""), "{msg}");
        assert_eq!(hint, "did you mean \"base\"?");
    }

    #[test]
    fn shell_is_never_run_on_the_host() {
        let (msg, _) = message(parse_str("[dev]\nimage=$(curl evil)\n").unwrap_err());
        assert!(msg.starts_with("/proj/distrobox.ini:2:1: `image` contains shell syntax"), "{msg}");
        let (msg, _) = message(parse_str("[dev]\nimage=x\nadditional_packages=`id`\n").unwrap_err());
        assert!(msg.contains("shell syntax"), "{msg}");
        // $HOME at the start of a path is the one expansion that is safe and common.
        let home = std::env::var("HOME").unwrap();
        let m = parse_str("[dev]\nimage=x\nhome=$HOME/boxes/dev\n").unwrap();
        assert_eq!(m.boxes[0].home, Some(PathBuf::from(format!("{home}/boxes/dev"))));
    }

    #[test]
    fn unsupported_keys_are_all_reported_by_name() {
        let (msg, _) = message(
            parse_str("[dev]\nimage=x\nnvidia=true\nadditional_flags=\"--gpus all\"\npre_init_hooks=\"x\"\n")
                .unwrap_err(),
        );
        assert!(msg.contains(":3:1: `nvidia=true`"), "{msg}");
        assert!(msg.contains(":4:1: `additional_flags=--gpus all`"), "{msg}");
        assert!(msg.contains(":5:1: `pre_init_hooks=x`"), "{msg}");
    }

    #[test]
    fn harmless_keys_warn_and_unknown_keys_are_errors() {
        let m = parse_str("[dev]\nimage=x\npull=true\nreplace=true\nstart_now=true\n[b]\ninclude=dev\n").unwrap();
        assert_eq!(m.warnings.len(), 2, "once each, though `b` includes `dev`: {:?}", m.warnings);
        assert!(m.warnings[0].contains(":3:1: pull=true is ignored"), "{:?}", m.warnings);
        let (msg, hint) = message(parse_str("[dev]\nimage=x\nadditional_package=git\n").unwrap_err());
        assert!(msg.contains(":3:1: unknown key `additional_package`"), "{msg}");
        assert_eq!(hint, "did you mean `additional_packages`?");
        let (msg, _) = message(parse_str("[dev]\nadditional_packages=git\n").unwrap_err());
        assert!(msg.contains("box \"dev\" has no image"), "{msg}");
    }
}
