//! `tent manifest`: a box written down as tent.toml, so a hand-made box can be
//! kept in a file and re-made with `tent apply`. What it prints parses back to
//! the same box (tested below).

use std::fmt::Write;

use super::model::{EndpointKey, Exports};
use crate::boxes::BoxSpec;

/// The `[box.NAME]` table of one box.
pub(crate) fn render(name: &str, spec: &BoxSpec, exports: &Exports) -> String {
    let mut out = format!("[box.{}]\n", key(name));
    let line = |out: &mut String, k: &str, v: String| {
        let _ = writeln!(out, "{k} = {v}");
    };
    line(&mut out, "image", string(&spec.image));
    if !spec.packages.is_empty() {
        line(&mut out, "packages", list(&spec.packages));
    }
    if let Some(home) = &spec.home {
        line(&mut out, "home", string(&home.to_string_lossy()));
    }
    if spec.mount_home {
        line(&mut out, "mount_home", "true".into());
    }
    if !spec.volumes.is_empty() {
        line(&mut out, "volumes", list(&spec.volumes));
    }
    if !spec.env.is_empty() {
        let pairs: Vec<String> = spec.env.iter().map(|(k, v)| format!("{} = {}", key(k), string(v))).collect();
        line(&mut out, "env", format!("{{ {} }}", pairs.join(", ")));
    }
    if let Some(hostname) = &spec.hostname {
        line(&mut out, "hostname", string(hostname));
    }
    if spec.root {
        line(&mut out, "root", "true".into());
    }
    if !spec.pre_init_hooks.is_empty() {
        line(&mut out, "pre_init_hooks", list(&spec.pre_init_hooks));
    }
    if !spec.attach_hooks.is_empty() {
        line(&mut out, "attach_hooks", list(&spec.attach_hooks));
    }
    if !spec.init_hooks.is_empty() {
        line(&mut out, "init_hooks", list(&spec.init_hooks));
    }
    if !spec.start_hooks.is_empty() {
        line(&mut out, "start_hooks", list(&spec.start_hooks));
    }
    if spec.init {
        line(&mut out, "init", "true".into());
    }
    if spec.nvidia {
        line(&mut out, "nvidia", "true".into());
    }
    if spec.no_host {
        line(&mut out, "host", "false".into());
    }
    if spec.own_xdg_open {
        line(&mut out, "own_xdg_open", "true".into());
    }
    if let Some(secs) = spec.stop_when_idle {
        line(&mut out, "stop_when_idle", string(&format!("{secs}s")));
    }
    if !spec.unshare.is_empty() {
        let names: Vec<String> = spec.unshare.names().into_iter().map(String::from).collect();
        line(&mut out, "unshare", list(&names));
    }
    if !spec.engine_args.is_empty() {
        line(&mut out, "engine_args", list(&spec.engine_args));
    }
    if let Some(platform) = &spec.platform {
        line(&mut out, "platform", string(platform));
    }
    if spec.pull {
        line(&mut out, "pull", "true".into());
    }
    if !exports.apps.is_empty() {
        line(&mut out, "export_apps", list(&exports.apps));
    }
    if exports.entry {
        line(&mut out, "entry", "true".to_string());
    }
    if !exports.bins.is_empty() {
        let bins: Vec<String> = exports
            .bins
            .iter()
            .map(|b| {
                if b.name.is_none() && b.path.is_none() {
                    return string(&b.bin);
                }
                let mut fields = vec![format!("bin = {}", string(&b.bin))];
                if let Some(name) = &b.name {
                    fields.push(format!("name = {}", string(name)));
                }
                if let Some(path) = &b.path {
                    fields.push(format!("path = {}", string(&path.to_string_lossy())));
                }
                format!("{{ {} }}", fields.join(", "))
            })
            .collect();
        line(&mut out, "export_bins", format!("[{}]", bins.join(", ")));
    }
    out
}

/// The line that keeps a box at its endpoint (`tent manifest` of a box on
/// another machine), to go at the end of its table.
pub(crate) fn endpoint_line(endpoint: &EndpointKey) -> String {
    match endpoint {
        EndpointKey::Url(url) => format!("endpoint = {}\n", string(url)),
        EndpointKey::Connection(name) => format!("connection = {}\n", string(name)),
    }
}

fn string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn list(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|s| string(s)).collect::<Vec<_>>().join(", "))
}

fn key(k: &str) -> String {
    if !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        k.to_string()
    } else {
        string(k)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::manifest::model::BinExport;

    #[test]
    fn a_written_box_parses_back_to_the_same_box() {
        let mut spec = BoxSpec { image: "tent-test/debian:bookworm".into(), ..Default::default() };
        spec.packages = vec!["git".into(), "ripgrep".into()];
        spec.home = Some("/data/home \"x\"".into());
        spec.mount_home = true;
        spec.volumes = vec!["/a:/b:ro".into()];
        spec.env.insert("EDITOR".into(), "vim -u 'x'".into());
        spec.env.insert("MY.VAR".into(), "1".into());
        spec.hostname = Some("h".into());
        spec.init_hooks = vec!["echo \"once\"\\n".into()];
        spec.start_hooks = vec!["true".into()];
        spec.pre_init_hooks = vec!["echo pre".into()];
        spec.attach_hooks = vec!["# devcontainer.json postAttachCommand\nif sh -c 'echo hi'; then :; fi\n".into()];
        spec.init = true;
        spec.no_host = true;
        spec.own_xdg_open = true;
        spec.stop_when_idle = Some(1800);
        spec.nvidia = true;
        spec.unshare.netns = true;
        spec.unshare.process = true;
        spec.engine_args = vec!["--pid=private".into(), "--cap-add".into(), "SYS_PTRACE".into()];
        spec.platform = Some("linux/amd64".into());
        spec.pull = true;
        let exports = Exports {
            apps: vec!["htop".into()],
            bins: vec![
                BinExport { bin: "/usr/bin/rg".into(), ..Default::default() },
                BinExport { bin: "fdfind".into(), name: Some("fd".into()), path: Some("/opt/bin".into()) },
            ],
            entry: true,
        };
        let text = render("my.box", &spec, &exports);
        let m = crate::manifest::parse::parse(Path::new("/p/tent.toml"), &text).unwrap();
        let entry = &m.boxes[0];
        assert_eq!(entry.name, "my.box");
        assert_eq!(entry.exports, exports);
        let back = entry.spec("unused", Path::new("/p/tent.toml"));
        assert_eq!(back, BoxSpec { manifest: Some("/p/tent.toml".into()), ..spec });
    }

    #[test]
    fn a_box_elsewhere_is_written_down_with_its_endpoint() {
        let spec = BoxSpec { image: "img".into(), ..Default::default() };
        let exports =
            Exports { bins: vec![BinExport { bin: "rg".into(), ..Default::default() }], ..Default::default() };
        for key in [
            EndpointKey::Url("ssh://me@build:2222/run/user/1000/podman/podman.sock".into()),
            EndpointKey::Connection("build".into()),
        ] {
            let text = format!("{}{}", render("far", &spec, &exports), endpoint_line(&key));
            let m = crate::manifest::parse::parse(Path::new("/p/tent.toml"), &text).unwrap();
            assert_eq!(m.boxes[0].endpoint.as_ref(), Some(&key), "{text}");
            assert_eq!(m.boxes[0].exports, exports);
        }
    }
}
