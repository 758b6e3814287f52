//! `tent entry`: the box's own launcher in the desktop menu, which opens a
//! terminal in the box (Distrobox's `generate-entry`). It is recorded in the
//! box's export receipt like any export, so `tent rm`, `tent unexport --all`
//! and `tent doctor` treat it exactly as they treat apps.

use std::path::Path;

use super::desktop::{escape_string, render_exec, text_arg};
use super::receipt::{Export, Kind};
use super::{Exporter, Outcome, engine_args, icons, owner, utf8, validate_desktop};
use crate::error::{Error, Result};
use crate::output::sanitize;

/// The name recorded for the entry in the receipt (one per box).
pub const ENTRY_NAME: &str = "entry";

/// The icon when the box's distribution has none: every icon theme has it.
pub const FALLBACK_ICON: &str = "utilities-terminal";

/// The launcher's file name in `applications/`.
pub fn launcher_file_name(box_name: &str) -> String {
    format!("tent-{box_name}.desktop")
}

/// What the launcher says and runs.
#[derive(Debug, Clone)]
pub struct EntrySpec<'a> {
    pub box_name: &'a str,
    /// The tent binary and the flags that reach the box's engine.
    pub tent: &'a str,
    pub engine_args: &'a [String],
    /// The host's terminal as words before the command; None: the desktop's
    /// own terminal (`Terminal=true`).
    pub terminal: Option<&'a str>,
    /// The distribution's name in the box (`PRETTY_NAME`), for the comment.
    pub distro: Option<&'a str>,
    pub icon: &'a str,
    pub header: &'a [String],
}

/// The launcher's text.
pub fn render(e: &EntrySpec<'_>) -> String {
    let mut argv: Vec<String> =
        e.terminal.map(|t| t.split_whitespace().map(str::to_string).collect()).unwrap_or_default();
    let own_terminal = argv.is_empty();
    argv.push(e.tent.to_string());
    argv.extend(e.engine_args.iter().cloned());
    argv.extend(["enter".to_string(), e.box_name.to_string()]);
    let exec = render_exec(&argv.into_iter().map(text_arg).collect::<Vec<_>>());
    let comment = match e.distro {
        Some(d) => format!("A terminal in the tent box {} ({})", e.box_name, sanitize(d)),
        None => format!("A terminal in the tent box {}", e.box_name),
    };
    let mut text = String::new();
    for line in e.header {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str("[Desktop Entry]\nType=Application\n");
    text.push_str(&format!("Name={}\n", escape_string(e.box_name)));
    text.push_str(&format!("GenericName={}\n", escape_string("Terminal in a box")));
    text.push_str(&format!("Comment={}\n", escape_string(&comment)));
    text.push_str(&format!("Exec={exec}\n"));
    text.push_str(&format!("Terminal={own_terminal}\n"));
    text.push_str(&format!("Icon={}\n", escape_string(e.icon)));
    text.push_str("Categories=System;\n");
    text.push_str(&format!("Keywords=tent;box;container;{};\n", escape_string(e.box_name).replace(';', "\\;")));
    text.push_str("StartupNotify=false\n");
    text
}

/// `KEY=value` of an os-release file, unquoted.
pub fn os_release_field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix('=')?.trim();
        let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
        let value = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')).unwrap_or(value);
        (!value.is_empty()).then(|| value.to_string())
    })
}

/// A `LOGO=` value usable as an icon name: a plain name, no path.
fn icon_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.+".contains(&b))
        && !name.starts_with('.')
}

impl Exporter<'_> {
    /// Writes (or rewrites) the box's launcher; `terminal` is config `entry.terminal`.
    pub fn export_entry(&self, terminal: Option<&str>) -> Result<Outcome> {
        let b = self.box_name;
        let found = self.read_files(
            "its os-release",
            &icons::desktop_files_script(),
            &["/etc/os-release", "/usr/lib/os-release"],
        )?;
        let os_release =
            found.first().map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned()).unwrap_or_default();
        let distro = os_release_field(&os_release, "PRETTY_NAME");
        let logo = os_release_field(&os_release, "LOGO").filter(|l| icon_name_ok(l));
        let mut notes = Vec::new();
        let (icon, icon_files) = match &logo {
            None => (FALLBACK_ICON.to_string(), Vec::new()),
            Some(logo) => {
                let found = self.read_files("its icons", &icons::icon_files_script(), &[logo.as_str()])?;
                let plan = icons::plan(b, std::slice::from_ref(logo), &found);
                notes.extend(plan.skipped.into_iter().map(|s| format!("skipped icon file {s}")));
                match plan.names.into_iter().find(|(original, _)| original == logo) {
                    Some((_, new)) => {
                        // Icons placed loose (XPM) are found by absolute path only.
                        let loose = plan.files.iter().find(|f| {
                            f.relative.parent() == Some(Path::new(""))
                                && f.relative.file_stem().is_some_and(|s| s == new.as_str())
                        });
                        let icon = loose.map_or(new, |f| self.paths.icons().join(&f.relative).display().to_string());
                        (icon, plan.files)
                    }
                    None => {
                        notes.push(format!("no icon file {logo:?} in box {b:?}: the launcher uses {FALLBACK_ICON}"));
                        (FALLBACK_ICON.to_string(), Vec::new())
                    }
                }
            }
        };
        let scope = self.scope();
        let remove = format!("{} entry {b} --remove", scope.tent_command());
        let header = owner::marker_lines(b, scope, &remove);
        let engine_args = engine_args(self.engine);
        let text = render(&EntrySpec {
            box_name: b,
            tent: &self.tent,
            engine_args: &engine_args,
            terminal: terminal.filter(|t| !t.trim().is_empty()),
            distro: distro.as_deref(),
            icon: &icon,
            header: &header,
        });
        let path = self.paths.applications().join(launcher_file_name(b));
        utf8(&path)?;
        let mut warnings = Vec::new();
        match validate_desktop(&text) {
            Ok(found) if !found.errors.is_empty() => {
                return Err(Error::Export {
                    message: format!(
                        "desktop-file-validate rejects the launcher of box {b:?}:\n{}",
                        found.errors.join("\n")
                    ),
                    hint: Some("check config `entry.terminal`".into()),
                });
            }
            Ok(found) => warnings.extend(found.warnings.into_iter().map(|w| format!("desktop-file-validate: {w}"))),
            Err(why) => warnings.push(format!("could not check the launcher with desktop-file-validate: {why}")),
        }
        let icons_dir = self.paths.icons();
        let mut writes = vec![(path, text.into_bytes(), 0o644)];
        writes.extend(icon_files.into_iter().map(|f| (icons_dir.join(f.relative), f.bytes, 0o644)));
        let export = Export {
            kind: Kind::Entry,
            name: ENTRY_NAME.into(),
            title: Some(b.to_string()),
            request: ENTRY_NAME.into(),
            // Every box has a root: the doctor never calls the entry's target gone.
            target: "/".into(),
            files: writes.iter().map(|(p, _, _)| p.clone()).collect(),
            dir: None,
            tent: self.tent.clone(),
        };
        self.commit_launcher(export, writes, warnings, notes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec<'a>(terminal: Option<&'a str>, engine: &'a [String], header: &'a [String]) -> EntrySpec<'a> {
        EntrySpec {
            box_name: "dev",
            tent: "/usr/bin/tent",
            engine_args: engine,
            terminal,
            distro: Some("Debian GNU/Linux 12 (bookworm)"),
            icon: "tent-dev-debian-logo",
            header,
        }
    }

    #[test]
    fn the_desktop_terminal_runs_tent_enter() {
        let engine = vec!["--engine".to_string(), "/usr/bin/podman".to_string()];
        let header = vec!["# tent-export: box=dev scope=podman".to_string()];
        let text = render(&spec(None, &engine, &header));
        assert!(text.starts_with("# tent-export: box=dev scope=podman\n[Desktop Entry]\n"), "{text}");
        assert!(text.contains("\nExec=/usr/bin/tent --engine /usr/bin/podman enter dev\n"), "{text}");
        assert!(text.contains("\nTerminal=true\n"), "{text}");
        assert!(text.contains("\nIcon=tent-dev-debian-logo\n"), "{text}");
        assert!(text.contains("(Debian GNU/Linux 12 (bookworm))"), "{text}");
    }

    #[test]
    fn a_configured_terminal_comes_first() {
        let engine = vec!["--engine".to_string(), "/usr/bin/podman".to_string(), "--root".to_string()];
        let text = render(&spec(Some("gnome-terminal  --"), &engine, &[]));
        assert!(
            text.contains("\nExec=gnome-terminal -- /usr/bin/tent --engine /usr/bin/podman --root enter dev\n"),
            "{text}"
        );
        assert!(text.contains("\nTerminal=false\n"), "{text}");
    }

    #[test]
    fn os_release_fields_and_logos() {
        let text = "NAME=\"Fedora Linux\"\nLOGO=fedora-logo-icon\nPRETTY_NAME='Fedora 41'\nEMPTY=\n";
        assert_eq!(os_release_field(text, "LOGO").as_deref(), Some("fedora-logo-icon"));
        assert_eq!(os_release_field(text, "PRETTY_NAME").as_deref(), Some("Fedora 41"));
        assert_eq!(os_release_field(text, "NAME").as_deref(), Some("Fedora Linux"));
        assert_eq!(os_release_field(text, "EMPTY"), None);
        assert!(icon_name_ok("debian-logo"));
        assert!(!icon_name_ok("../x"));
        assert!(!icon_name_ok("/usr/share/x.png"));
        assert!(!icon_name_ok(""));
    }
}
