//! `tent code BOX [DIR]`: VS Code attached to a box, as the user, in DIR.
//!
//! VS Code's Dev Containers extension attaches to a running container as the
//! container's user, which is root for a tent box. It reads, for a container
//! of a given name, an "attached container configuration" in its global
//! storage (`…/globalStorage/ms-vscode-remote.remote-containers/nameConfigs/
//! NAME.json`, the file its command "Open Named Container Configuration File"
//! opens) with `remoteUser`, `workspaceFolder`, `remoteEnv` and
//! `userEnvProbe`. tent writes that file (keeping every other key the user
//! set there) and opens the folder with
//! `code --folder-uri vscode-remote://attached-container+HEX/DIR`, HEX being
//! the hex of `{"containerName":"NAME"}` (the form Distrobox's
//! `extras/vscode-distrobox` uses, and VS Code's own "Attach in New Window").

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value};

use super::Context;
use crate::boxes::host::HostUser;
use crate::cli::CodeArgs;
use crate::error::{Error, Result};

/// VS Code's Flatpak, whose files live under ~/.var/app.
const FLATPAK_ID: &str = "com.visualstudio.code";
/// The Dev Containers extension's folder in VS Code's global storage.
const EXTENSION_STORAGE: &str = "User/globalStorage/ms-vscode-remote.remote-containers/nameConfigs";
/// An attached-container configuration is small; a bigger file is not one.
const CONFIG_LIMIT: u64 = 1 << 20;

/// How VS Code is started: the `code` on PATH, or the Flatpak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Editor {
    Code(PathBuf),
    Flatpak(PathBuf),
}

impl Editor {
    /// Where this VS Code keeps its user data (`~/.config/Code`).
    pub(super) fn data_dir(&self, home: &Path, config_home: &Path) -> PathBuf {
        match self {
            Editor::Code(_) => config_home.join("Code"),
            Editor::Flatpak(_) => home.join(".var/app").join(FLATPAK_ID).join("config/Code"),
        }
    }

    /// The argv that opens `uri`.
    pub(super) fn argv(&self, uri: &str) -> Vec<String> {
        let folder = format!("--folder-uri={uri}");
        match self {
            Editor::Code(code) => vec![code.display().to_string(), folder],
            Editor::Flatpak(flatpak) => vec![flatpak.display().to_string(), "run".into(), FLATPAK_ID.into(), folder],
        }
    }
}

/// `vscode-remote://attached-container+HEX/DIR` for container `name`.
pub(super) fn folder_uri(name: &str, dir: &Path) -> String {
    let key = serde_json::json!({ "containerName": name }).to_string();
    let hex = crate::text::hex(key.as_bytes());
    let path = dir.display().to_string();
    let path = if path.starts_with('/') { path } else { format!("/{path}") };
    format!("vscode-remote://attached-container+{hex}{}", percent_path(&path))
}

/// A path as a URI path: unreserved bytes and `/` as they are, every other
/// byte percent-encoded (VS Code decodes it back). By hand: one loop, and
/// the rules are RFC 3986's unreserved set.
fn percent_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The attached-container configuration: what is already in `existing`
/// (the user's keys stay), with the user to attach as, the folder, the box's
/// login environment, and TENT_BOX.
pub(super) fn merged_config(
    existing: Option<Map<String, Value>>,
    user: &str,
    dir: &Path,
    box_name: &str,
) -> Map<String, Value> {
    let mut config = existing.unwrap_or_default();
    config.insert("remoteUser".into(), Value::String(user.into()));
    config.insert("workspaceFolder".into(), Value::String(dir.display().to_string()));
    config.entry("userEnvProbe").or_insert_with(|| Value::String("loginInteractiveShell".into()));
    let env = config.entry("remoteEnv").or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(env) = env {
        env.insert("TENT_BOX".into(), Value::String(box_name.into()));
    }
    config
}

/// Reads an existing configuration as a stranger's file (the home is every
/// box's): bounded, no links; a file that is not a JSON object is left alone.
fn read_config(path: &Path) -> Result<Option<Map<String, Value>>> {
    let Some(bytes) = crate::files::read_bounded(path, CONFIG_LIMIT)? else { return Ok(None) };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        _ => Err(Error::Editor {
            message: format!("{} is not a JSON object, and tent does not overwrite it", path.display()),
            hint: Some("fix or remove that file, then run tent code again".into()),
        }),
    }
}

/// VS Code as installed: `code` on PATH, else its Flatpak.
fn find_editor(home: &Path) -> Option<Editor> {
    if let Ok(code) = which::which("code") {
        return Some(Editor::Code(code));
    }
    let flatpak = which::which("flatpak").ok()?;
    home.join(".var/app").join(FLATPAK_ID).is_dir().then_some(Editor::Flatpak(flatpak))
}

pub(super) fn run(ctx: &Context<'_>, args: &CodeArgs) -> Result<i32> {
    let name = args.box_name.as_str();
    if ctx.engine.through_sudo() {
        return Err(Error::Editor {
            message: format!(
                "VS Code cannot attach to {name}: it is a rootful box, and VS Code runs the engine as you"
            ),
            hint: Some("use a rootless box for VS Code (`tent create NAME` without --root)".into()),
        });
    }
    let dir = match &args.dir {
        Some(dir) => std::path::absolute(dir).map_err(|e| Error::io(dir, e))?,
        None => std::env::current_dir().map_err(|e| Error::io(".", e))?,
    };
    if !dir.is_dir() {
        return Err(Error::usage(
            format!("{} is not a folder", dir.display()),
            Some("name a folder of your home".into()),
        ));
    }
    let home = ctx.paths.home.clone();
    let editor = find_editor(&home);
    if editor.is_none() && !args.print {
        return Err(Error::Editor {
            message: "VS Code is not installed: no `code` on PATH and no Flatpak com.visualstudio.code".into(),
            hint: Some(
                "install it (`flatpak install flathub com.visualstudio.code`, or Microsoft's package) with its \
                 Dev Containers extension (ms-vscode-remote.remote-containers); `tent code --print` shows what to open"
                    .into(),
            ),
        });
    }
    let boxes = ctx.boxes();
    let container = boxes.get(name)?;
    // VS Code attaches to running containers only.
    boxes.start(name, Some(&container))?;

    let user = HostUser::current();
    let config_home = ctx.paths.config_home();
    let data_dir = editor.as_ref().unwrap_or(&Editor::Code(PathBuf::from("code"))).data_dir(&home, &config_home);
    let config_path = data_dir.join(EXTENSION_STORAGE).join(format!("{name}.json"));
    let config = merged_config(read_config(&config_path)?, &user.name, &dir, name);
    let text = serde_json::to_string_pretty(&Value::Object(config)).expect("a JSON object serializes");
    crate::files::write_atomic(&config_path, format!("{text}\n").as_bytes(), 0o600)?;

    let uri = folder_uri(name, &dir);
    let podman_note = ctx.engine.name() == "podman" && !docker_path_is_set(&data_dir);
    if args.json {
        let value = serde_json::json!({
            "box": name,
            "folder": dir,
            "uri": uri,
            "config": config_path,
            "editor": editor.as_ref().map(|e| e.argv(&uri)),
        });
        println!("{value}");
    } else if args.print {
        println!("{uri}");
    }
    ctx.printer.status(format!("wrote {} (VS Code attaches to {name} as {})", config_path.display(), user.name));
    if podman_note {
        ctx.printer.status(
            "VS Code's Dev Containers runs `docker` unless told otherwise: set \"dev.containers.dockerPath\": \"podman\" \
             in its settings",
        );
    }
    let Some(editor) = editor.filter(|_| !args.print && !args.json) else { return Ok(0) };
    let argv = editor.argv(&uri);
    ctx.printer.step(format!("opening {} in VS Code", dir.display()));
    let status = Command::new(&argv[0])
        .args(&argv[1..])
        .status()
        .map_err(|e| Error::Editor { message: format!("could not run {}: {e}", argv[0]), hint: None })?;
    Ok(status.code().unwrap_or(1))
}

/// Whether the user's VS Code settings name the engine for Dev Containers.
fn docker_path_is_set(data_dir: &Path) -> bool {
    crate::files::read_text_bounded(&data_dir.join("User/settings.json"), CONFIG_LIMIT)
        .is_some_and(|text| text.contains("dev.containers.dockerPath"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(hex: &str) -> String {
        let bytes: Vec<u8> =
            (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn the_uri_names_the_container_in_hex_json_and_the_folder() {
        let uri = folder_uri("dev", Path::new("/home/me/src/my app"));
        let rest = uri.strip_prefix("vscode-remote://attached-container+").unwrap();
        let (hex, path) = rest.split_at(rest.find('/').unwrap());
        assert_eq!(unhex(hex), r#"{"containerName":"dev"}"#);
        assert_eq!(path, "/home/me/src/my%20app");
        assert_eq!(percent_path("/a/ü#?"), "/a/%C3%BC%23%3F");
    }

    #[test]
    fn the_config_keeps_the_users_keys_and_sets_the_attach_ones() {
        let existing: Map<String, Value> = serde_json::from_str(
            r#"{"extensions":["rust-lang.rust-analyzer"],"remoteUser":"root","remoteEnv":{"EDITOR":"vim"},"userEnvProbe":"none"}"#,
        )
        .unwrap();
        let config = merged_config(Some(existing), "me", Path::new("/home/me/src"), "dev");
        assert_eq!(config["remoteUser"], "me");
        assert_eq!(config["workspaceFolder"], "/home/me/src");
        assert_eq!(config["extensions"][0], "rust-lang.rust-analyzer", "the user's keys stay");
        assert_eq!(config["userEnvProbe"], "none", "the user's choice of probe stays");
        assert_eq!(config["remoteEnv"]["EDITOR"], "vim");
        assert_eq!(config["remoteEnv"]["TENT_BOX"], "dev");
        let fresh = merged_config(None, "me", Path::new("/w"), "dev");
        assert_eq!(fresh["userEnvProbe"], "loginInteractiveShell");
    }

    #[test]
    fn editors_are_started_as_installed() {
        let uri = "vscode-remote://attached-container+7b/w";
        assert_eq!(Editor::Code("/usr/bin/code".into()).argv(uri), ["/usr/bin/code", &format!("--folder-uri={uri}")]);
        assert_eq!(
            Editor::Flatpak("/usr/bin/flatpak".into()).argv(uri),
            ["/usr/bin/flatpak", "run", FLATPAK_ID, &format!("--folder-uri={uri}")]
        );
        let home = Path::new("/home/me");
        assert_eq!(
            Editor::Flatpak("f".into()).data_dir(home, &home.join(".config")),
            Path::new("/home/me/.var/app/com.visualstudio.code/config/Code")
        );
    }
}
