//! Reading files out of a box in one engine call, and where a box's icons go
//! in the user's icon theme. Pure: the scripts are text, the stream is bytes.
//!
//! Files come out of the box as a stream of frames, `PATH\0SIZE\n` then SIZE
//! bytes, made by a few lines of POSIX sh (`printf`, `wc -c`, `cat`), which
//! every image has, busybox ones included; `tar` or `podman cp` would need a
//! call per file or a tool the image may lack.

use std::path::PathBuf;

use super::owner::icon_prefix;
use crate::text::sanitize as sanitize_text;

/// Shell function that writes one frame; a missing or unreadable file writes nothing.
const EMIT: &str = r#"emit() { [ -f "$1" ] && [ -r "$1" ] || return 0; printf '%s\0%s\n' "$1" "$(wc -c < "$1")"; cat "$1"; }
"#;

/// Where apps keep their desktop files in a box (`$XDG_DATA_DIRS` defaults;
/// the user's own data dir is the host's home, where our exports live).
pub(super) const APP_DIRS: &[&str] = &["/usr/local/share/applications", "/usr/share/applications"];

/// Dumps the desktop files of the box (args: none) or the ones named (args: paths).
pub fn desktop_files_script() -> String {
    let dirs = APP_DIRS.join(" ");
    format!(
        "{EMIT}if [ $# -gt 0 ]; then for f in \"$@\"; do emit \"$f\"; done; exit 0; fi
for d in {dirs}; do for f in \"$d\"/*.desktop \"$d\"/*/*.desktop; do emit \"$f\"; done; done
"
    )
}

/// Dumps every file of the icons named in args: every size and context of
/// the hicolor theme, and the unthemed pixmaps; an absolute path as itself.
pub fn icon_files_script() -> String {
    format!(
        r#"{EMIT}for name in "$@"; do
case $name in /*) emit "$name"; continue ;; esac
for base in /usr/local/share/icons/hicolor /usr/share/icons/hicolor; do
for ext in png svg svgz xpm; do for f in "$base"/*/*/"$name.$ext"; do emit "$f"; done; done
done
for ext in png svg xpm; do emit "/usr/share/pixmaps/$name.$ext"; done
done
"#
    )
}

/// Splits the frame stream into `(path, bytes)`.
pub(super) fn parse_frames(mut data: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut files = Vec::new();
    while !data.is_empty() {
        let nul = data.iter().position(|&b| b == 0).ok_or("a frame has no path end")?;
        let path = String::from_utf8_lossy(&data[..nul]).into_owned();
        let rest = &data[nul + 1..];
        let nl = rest.iter().position(|&b| b == b'\n').ok_or_else(|| format!("{path}: no size"))?;
        let size: usize = String::from_utf8_lossy(&rest[..nl])
            .trim()
            .parse()
            .map_err(|_| format!("{path}: bad size {:?}", String::from_utf8_lossy(&rest[..nl])))?;
        let body = &rest[nl + 1..];
        if body.len() < size {
            return Err(format!("{path}: the stream ends early ({} of {size} bytes)", body.len()));
        }
        files.push((path, body[..size].to_vec()));
        data = &body[size..];
    }
    Ok(files)
}

/// One icon file to write, relative to the user's icons directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct IconFile {
    pub relative: PathBuf,
    pub bytes: Vec<u8>,
}

/// Where each found icon goes, what Icon= names each original icon, and the
/// files the box offered that were skipped, with why.
#[derive(Debug, Default)]
pub(super) struct Plan {
    pub files: Vec<IconFile>,
    pub names: Vec<(String, String)>,
    pub skipped: Vec<String>,
}

/// Icon theme sizes: `NxN`, `NxN@S` (scaled), `scalable`, `symbolic`.
fn is_icon_size(size: &str) -> bool {
    fn number(n: &str) -> bool {
        (1..=4).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()) && !n.starts_with('0')
    }
    if size == "scalable" || size == "symbolic" {
        return true;
    }
    let (dims, scale) = match size.split_once('@') {
        Some((dims, scale)) => (dims, Some(scale)),
        None => (size, None),
    };
    dims.split_once('x').is_some_and(|(w, h)| number(w) && number(h)) && scale.is_none_or(number)
}

/// The context directories of the hicolor theme (its index.theme).
const ICON_CONTEXTS: &[&str] = &[
    "actions",
    "animations",
    "apps",
    "categories",
    "devices",
    "emblems",
    "emotes",
    "filesystems",
    "intl",
    "legacy",
    "mimetypes",
    "places",
    "status",
];

/// The image formats icon themes load.
const ICON_EXTENSIONS: &[&str] = &["png", "svg", "svgz", "xpm"];

/// Where each found icon goes, and what Icon= names each original icon.
///
/// Paths come from the box, so a size, context or extension that is not one
/// an icon theme has is skipped, never joined into a path on the host.
///
/// Theme icons keep their size and context directory under `hicolor`, with
/// the name `tent-<box>-<name>`, so they never collide with the host's own.
/// Pixmaps (and icons given as a path) are used only when the theme has none
/// of that name: PNGs go to the size their header says, SVGs to `scalable`,
/// and XPMs to the top of the icons directory, where themes look for
/// unthemed icons.
pub(super) fn plan(box_name: &str, wanted: &[String], found: &[(String, Vec<u8>)]) -> Plan {
    let prefix = icon_prefix(box_name);
    let mut files = Vec::new();
    let mut names = Vec::new();
    let mut skipped = Vec::new();
    for icon in wanted {
        let stem = icon.rsplit('/').next().unwrap_or(icon);
        let stem = stem.rsplit_once('.').filter(|_| icon.starts_with('/')).map_or(stem, |(s, _)| s);
        let new_name = format!("{prefix}{}", sanitize(stem));
        let mut themed = Vec::new();
        let mut loose = Vec::new();
        for (path, bytes) in found {
            if let Some((size, context, ext)) = themed_place(path, icon) {
                if !is_icon_size(&size)
                    || !ICON_CONTEXTS.contains(&context.as_str())
                    || !ICON_EXTENSIONS.contains(&ext.as_str())
                {
                    skipped.push(format!("{}: not an icon theme's size, context or format", sanitize_text(path)));
                    continue;
                }
                themed.push(((size, context, ext), bytes));
            } else if is_loose_match(path, icon) {
                loose.push((path, bytes));
            }
        }
        let before = files.len();
        if !themed.is_empty() {
            for ((size, context, ext), bytes) in themed {
                let relative = PathBuf::from(format!("hicolor/{size}/{context}/{new_name}.{ext}"));
                if !files.iter().any(|f: &IconFile| f.relative == relative) {
                    files.push(IconFile { relative, bytes: bytes.clone() });
                }
            }
        } else {
            for (path, bytes) in loose {
                let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
                let relative = match ext {
                    "png" => match png_size(bytes) {
                        Some((w, h)) if is_icon_size(&format!("{w}x{h}")) => {
                            PathBuf::from(format!("hicolor/{w}x{h}/apps/{new_name}.png"))
                        }
                        _ => {
                            skipped.push(format!("{}: not a PNG of a usable size", sanitize_text(path)));
                            continue;
                        }
                    },
                    "svg" | "svgz" => PathBuf::from(format!("hicolor/scalable/apps/{new_name}.{ext}")),
                    "xpm" => PathBuf::from(format!("{new_name}.xpm")),
                    _ => {
                        skipped.push(format!("{}: not a png, svg, svgz or xpm file", sanitize_text(path)));
                        continue;
                    }
                };
                if !files.iter().any(|f: &IconFile| f.relative == relative) {
                    files.push(IconFile { relative, bytes: bytes.clone() });
                }
            }
        }
        if files.len() > before {
            names.push((icon.clone(), new_name));
        }
    }
    Plan { files, names, skipped }
}

/// `(size, context, ext)` when `path` is `…/icons/hicolor/SIZE/CONTEXT/ICON.EXT`.
fn themed_place(path: &str, icon: &str) -> Option<(String, String, String)> {
    if icon.starts_with('/') {
        return None;
    }
    let rest = path.split_once("/icons/hicolor/")?.1;
    let mut parts = rest.split('/');
    let (size, context, file) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let (name, ext) = file.rsplit_once('.')?;
    (name == icon).then(|| (size.to_string(), context.to_string(), ext.to_string()))
}

fn is_loose_match(path: &str, icon: &str) -> bool {
    if icon.starts_with('/') {
        return path == icon;
    }
    path.strip_prefix("/usr/share/pixmaps/").and_then(|f| f.rsplit_once('.')).is_some_and(|(name, _)| name == icon)
}

/// Keeps icon names to characters that are safe in file names and Icon=.
fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || "._-+".contains(c) { c } else { '_' }).collect()
}

/// Width and height from a PNG's IHDR chunk.
pub(super) fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.len() < 24 || &bytes[..8] != b"\x89PNG\r\n\x1a\n" || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let w = u32::from_be_bytes(bytes[16..20].try_into().ok()?);
    let h = u32::from_be_bytes(bytes[20..24].try_into().ok()?);
    Some((w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(path: &str, body: &[u8]) -> Vec<u8> {
        let mut out = format!("{path}\0{}\n", body.len()).into_bytes();
        out.extend_from_slice(body);
        out
    }

    fn png(w: u32, h: u32) -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        b.extend_from_slice(&w.to_be_bytes());
        b.extend_from_slice(&h.to_be_bytes());
        b
    }

    #[test]
    fn frames_split_binary_content() {
        let mut stream = frame("/a b", b"x\0\ny");
        stream.extend(frame("/empty", b""));
        // busybox `wc -c` pads the number with spaces.
        stream.extend(b"/p\0      2\nhi");
        let files = parse_frames(&stream).unwrap();
        assert_eq!(
            files,
            vec![("/a b".into(), b"x\0\ny".to_vec()), ("/empty".into(), vec![]), ("/p".into(), b"hi".to_vec())]
        );
        assert!(parse_frames(b"/x\x0010\nshort").is_err());
        assert!(parse_frames(b"no-nul").is_err());
    }

    #[test]
    fn theme_icons_keep_size_and_context() {
        let found = vec![
            ("/usr/share/icons/hicolor/48x48/apps/xterm.png".to_string(), png(48, 48)),
            ("/usr/share/icons/hicolor/scalable/apps/xterm.svg".to_string(), b"<svg/>".to_vec()),
            ("/usr/share/icons/hicolor/48x48/apps/xterm-color.png".to_string(), png(48, 48)),
            ("/usr/share/pixmaps/xterm.xpm".to_string(), b"/* XPM */".to_vec()),
        ];
        let Plan { files, names, .. } = plan("dev", &["xterm".to_string()], &found);
        let rel: Vec<String> = files.iter().map(|f| f.relative.display().to_string()).collect();
        assert_eq!(rel, vec!["hicolor/48x48/apps/tent-dev-xterm.png", "hicolor/scalable/apps/tent-dev-xterm.svg"]);
        assert_eq!(names, vec![("xterm".to_string(), "tent-dev-xterm".to_string())]);
    }

    #[test]
    fn pixmaps_are_a_fallback_placed_by_their_size() {
        let found = vec![
            ("/usr/share/pixmaps/foo.png".to_string(), png(32, 32)),
            ("/usr/share/pixmaps/foo.xpm".to_string(), b"/* XPM */".to_vec()),
            ("/opt/app/logo.svg".to_string(), b"<svg/>".to_vec()),
        ];
        let Plan { files, names, .. } =
            plan("dev", &["foo".to_string(), "/opt/app/logo.svg".to_string(), "gone".to_string()], &found);
        let rel: Vec<String> = files.iter().map(|f| f.relative.display().to_string()).collect();
        assert_eq!(
            rel,
            vec!["hicolor/32x32/apps/tent-dev-foo.png", "tent-dev-foo.xpm", "hicolor/scalable/apps/tent-dev-logo.svg"]
        );
        assert_eq!(names[1], ("/opt/app/logo.svg".to_string(), "tent-dev-logo".to_string()));
        assert_eq!(names.len(), 2, "an icon with no file keeps its Icon= value");
    }

    /// Issue 9: the box prints the paths, so these once became paths under
    /// ~/.local/share/icons.
    #[test]
    fn hostile_icon_paths_are_skipped() {
        let base = "/usr/share/icons/hicolor";
        let bad = [
            format!("{base}/../apps/x.png"),
            format!("{base}/48x48/../x.png"),
            format!("{base}/../../../../.bashrc/apps/x.png"),
            format!("{base}/48x48/apps/x.sh"),
            format!("{base}/48x48/.config/x.png"),
            format!("{base}/48x48/autostart/x.desktop"),
            format!("{base}/48y48/apps/x.png"),
            format!("{base}/48x48@/apps/x.png"),
            format!("{base}/0x0/apps/x.png"),
            format!("{base}/ 48x48/apps/x.png"),
            "/opt/x.desktop".to_string(),
        ];
        let found: Vec<(String, Vec<u8>)> = bad.iter().map(|p| (p.clone(), b"x".to_vec())).collect();
        let plan = plan("dev", &["x".to_string(), "/opt/x.desktop".to_string()], &found);
        assert!(plan.files.is_empty(), "{:?}", plan.files);
        assert!(plan.names.is_empty());
        // The deep path is no theme icon at all, so it is not even a candidate.
        assert_eq!(plan.skipped.len(), bad.len() - 1, "{:?}", plan.skipped);
    }

    #[test]
    fn icon_sizes() {
        for good in ["16x16", "48x48@2", "256x256", "scalable", "symbolic", "22x24"] {
            assert!(is_icon_size(good), "{good}");
        }
        for bad in ["", "..", "x", "16x", "x16", "16x16@", "16x16@2@2", "16X16", "99999x1", "-1x-1", "16x16/.."] {
            assert!(!is_icon_size(bad), "{bad}");
        }
    }

    #[test]
    fn png_sizes() {
        assert_eq!(png_size(&png(128, 64)), Some((128, 64)));
        assert_eq!(png_size(b"GIF89a"), None);
    }

    #[test]
    fn scripts_are_valid_sh() {
        for script in [desktop_files_script(), icon_files_script()] {
            let out = std::process::Command::new("/bin/sh").args(["-n", "-c", &script]).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
    }

    #[test]
    fn icon_script_dumps_files_by_name() {
        // Run the real script against a fake root by rewriting its paths.
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let icon_dir = dir.path().join("usr/share/icons/hicolor/16x16/apps");
        std::fs::create_dir_all(&icon_dir).unwrap();
        std::fs::write(icon_dir.join("it's.png"), b"\x00\x01bin").unwrap();
        let script = icon_files_script().replace("/usr/", &format!("{root}/usr/"));
        let out = std::process::Command::new("/bin/sh").args(["-c", &script, "sh", "it's", "none"]).output().unwrap();
        let files = parse_frames(&out.stdout).unwrap();
        assert_eq!(files.len(), 1);
        assert!(files[0].0.ends_with("/hicolor/16x16/apps/it's.png"));
        assert_eq!(files[0].1, b"\x00\x01bin");
    }
}
