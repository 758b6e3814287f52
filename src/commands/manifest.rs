//! `tent manifest`: writes existing boxes down as a tent.toml, from their
//! records and spec labels, with the exports made by hand from the receipts.

use std::path::Path;

use super::Context;
use crate::boxes::{BoxSpec, labels};
use crate::cli::ManifestArgs;
use crate::error::Result;
use crate::export;
use crate::manifest::model::{EndpointKey, Exports};
use crate::manifest::{self, BinExport, record};

pub(super) fn run(ctx: &Context<'_>, args: &ManifestArgs) -> Result<i32> {
    let containers = if args.names.is_empty() {
        ctx.boxes().list()?
    } else {
        args.names.iter().map(|name| ctx.boxes().get(name)).collect::<Result<Vec<_>>>()?
    };
    if containers.is_empty() {
        ctx.printer.status("no boxes to write down");
        return Ok(0);
    }
    let mut out = vec![format!("# tent.toml: boxes on {}, written by `tent manifest`", ctx.engine.describe())];
    for container in containers {
        let name = &container.name;
        let record = record::read(&record::path(&ctx.paths, ctx.engine.scope(), name), &container.id);
        let (spec, exports) = match (record, BoxSpec::from_label(container.label(labels::SPEC))) {
            (Some(r), _) => (r.spec, r.exports),
            (None, Some(spec)) => (spec, Default::default()),
            (None, None) => {
                ctx.printer.warn(format!("{name}: its tent.spec label is missing or unreadable; skipped"));
                continue;
            }
        };
        let mut exports = exports;
        add_hand_made_exports(&mut exports, &export::list(&ctx.paths, ctx.engine.scope(), name)?, &ctx.paths.bin);
        let mut table = manifest::render::render(name, &spec, &exports);
        if let Some(key) = endpoint_key(ctx.engine.endpoint.remote()) {
            table.push_str(&manifest::render::endpoint_line(&key));
        }
        out.push(table);
    }
    ctx.printer.data(out.join("\n"));
    Ok(0)
}

/// How a box on a remote endpoint names it in tent.toml, so that `tent
/// apply` of what `tent manifest` wrote makes it there again: the address, or
/// the connection (context) when that is all tent knows of it. None for a
/// box of this machine, or an address a manifest would not take.
fn endpoint_key(remote: Option<&crate::engine::endpoint::Remote>) -> Option<EndpointKey> {
    let remote = remote?;
    let named = remote.address.strip_prefix("connection ").or_else(|| remote.address.strip_prefix("context "));
    match named {
        Some(name) => crate::boxes::remote::check_connection(name).ok().map(|()| EndpointKey::Connection(name.into())),
        None => {
            crate::boxes::remote::check_address(&remote.address).ok().map(|()| EndpointKey::Url(remote.address.clone()))
        }
    }
}

/// Adds the exports made by hand (`tent export`, recorded in the box's
/// receipt) that the manifest record does not list, so `tent manifest` writes
/// down everything the box exports.
fn add_hand_made_exports(exports: &mut Exports, receipt: &[export::receipt::Export], default_bin_dir: &Path) {
    for e in receipt {
        match e.kind {
            export::receipt::Kind::App => {
                if !exports.apps.contains(&e.request) {
                    exports.apps.push(e.request.clone());
                }
            }
            export::receipt::Kind::Bin => {
                if exports.bins.iter().any(|b| b.exported_name() == e.name) {
                    continue;
                }
                let default_name = e.request.rsplit('/').next().unwrap_or(&e.request);
                exports.bins.push(BinExport {
                    bin: e.request.clone(),
                    name: (e.name != default_name).then(|| e.name.clone()),
                    path: e.dir.clone().filter(|d| d != default_bin_dir),
                });
            }
            export::receipt::Kind::Entry => exports.entry = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn receipt_export(
        kind: export::receipt::Kind,
        name: &str,
        request: &str,
        dir: Option<&str>,
    ) -> export::receipt::Export {
        export::receipt::Export {
            kind,
            name: name.into(),
            title: None,
            request: request.into(),
            target: String::new(),
            files: vec![],
            dir: dir.map(PathBuf::from),
            tent: String::new(),
        }
    }

    #[test]
    fn hand_made_exports_are_written_down_once() {
        let mut exports = Exports {
            apps: vec!["firefox".into()],
            bins: vec![BinExport { bin: "/usr/bin/jq".into(), name: None, path: None }],
            entry: false,
        };
        let receipt = vec![
            receipt_export(export::receipt::Kind::App, "firefox", "firefox", None),
            receipt_export(export::receipt::Kind::App, "org.gnome.Gedit", "gedit", None),
            receipt_export(export::receipt::Kind::Bin, "jq", "/usr/bin/jq", Some("/home/u/.local/bin")),
            receipt_export(export::receipt::Kind::Bin, "rg-dev", "/usr/bin/rg", Some("/home/u/.local/bin")),
            receipt_export(export::receipt::Kind::Bin, "fd", "fd", Some("/opt/bin")),
        ];
        add_hand_made_exports(&mut exports, &receipt, Path::new("/home/u/.local/bin"));
        assert_eq!(exports.apps, vec!["firefox", "gedit"]);
        assert_eq!(exports.bins.len(), 3);
        assert_eq!(exports.bins[1], BinExport { bin: "/usr/bin/rg".into(), name: Some("rg-dev".into()), path: None });
        assert_eq!(exports.bins[2], BinExport { bin: "fd".into(), name: None, path: Some("/opt/bin".into()) });
    }

    #[test]
    fn a_remote_box_names_its_endpoint() {
        use crate::engine::{EngineKind, endpoint::Remote};
        let remote = |address: &str| Remote {
            kind: EngineKind::Podman,
            address: address.into(),
            source: "CONTAINER_HOST".into(),
            client_args: Vec::new(),
        };
        assert_eq!(endpoint_key(None), None);
        assert_eq!(
            endpoint_key(Some(&remote("ssh://me@build/run/podman/podman.sock"))),
            Some(EndpointKey::Url("ssh://me@build/run/podman/podman.sock".into()))
        );
        assert_eq!(endpoint_key(Some(&remote("connection build"))), Some(EndpointKey::Connection("build".into())));
        assert_eq!(endpoint_key(Some(&remote("context ci"))), Some(EndpointKey::Connection("ci".into())));
        assert_eq!(endpoint_key(Some(&remote("npipe:////./pipe/docker"))), None, "not one a manifest takes");
    }
}
