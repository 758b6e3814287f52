//! `tent export` and `tent unexport`: the user's side of `crate::export`.

use super::Context;
use crate::cli::{ExportArgs, UnexportArgs};
use crate::error::{Error, Result};
use crate::export::{self, Selector, receipt::Export};
use crate::output::sanitize;

pub(super) fn export(ctx: &Context<'_>, args: ExportArgs) -> Result<i32> {
    let name = args.box_name.as_str();
    crate::boxes::validate_name(name)?;
    if args.list {
        return list(ctx, name, args.json);
    }
    if args.check {
        return super::doctor::check_exports(ctx, Some(name), false, args.json);
    }
    if args.json {
        return Err(Error::usage("--json goes with --list or --check", None));
    }
    if args.mime_types && args.app.is_none() {
        return Err(Error::usage(
            "--mime-types goes with --app: it keeps an app's MimeType in its launcher",
            Some(format!("tent export {name} --app APP --mime-types")),
        ));
    }
    if args.app.is_none() && args.bin.is_none() {
        return Err(Error::usage(
            format!("say what to export from {name}"),
            Some(format!("tent export {name} --app APP, --bin COMMAND, or --list")),
        ));
    }
    if args.app.is_some() && !ctx.engine.is_local() {
        return Err(Error::usage(
            format!(
                "box {name:?} is on {}: its apps cannot show on this machine's display, nor its launchers \
                 run from this machine's menu",
                ctx.engine.describe()
            ),
            Some("run apps on that machine (`ssh -X HOST`, then tent there), or export a command with --bin".into()),
        ));
    }
    let boxes = ctx.boxes();
    // A command's wrapper records a remote endpoint; everything else is this machine's.
    let mut exporter = if args.app.is_none() {
        ctx.exporter_anywhere(&ctx.engine, name, args.force)?
    } else {
        ctx.exporter(&ctx.engine, name, args.force)?
    };
    // The box is read from inside, so it must run; its init must be done
    // too, or the app may not be installed yet. A box whose init says it is
    // ready needs no engine call here: `tent run` (`Exporter::box_sh`)
    // proves that init before it joins, and starts the box itself when not.
    if !exporter.asks_through_tent() || !boxes.state(name).is_ready() {
        boxes.start(name, None)?;
    }
    exporter.mime_types = args.mime_types;
    // From here Ctrl-C sets a flag that the export checks between writes,
    // so a half-done export is put back instead of left behind.
    crate::interrupt::catch();
    let outcome = if let Some(app) = &args.app {
        exporter.export_app(app)?
    } else {
        let bin = args.bin.as_deref().expect("checked above");
        let dir = args.path.clone().unwrap_or_else(|| ctx.bin_dir());
        exporter.export_bin(bin, args.name.as_deref(), &dir)?
    };
    // Names, paths and the validator's findings come from the box: shown
    // without their control characters (issue 9).
    for note in &outcome.notes {
        ctx.printer.verbose(sanitize(note));
    }
    for warning in &outcome.warnings {
        ctx.printer.warn(warning.lines().map(sanitize).collect::<Vec<_>>().join("\n"));
    }
    let e = &outcome.export;
    let verb = if outcome.replaced { "updated" } else { "exported" };
    match e.kind {
        export::receipt::Kind::App => ctx.printer.status(format!(
            "{verb} app {} from {name}: {} ({} icon file(s))",
            sanitize(e.title.as_deref().unwrap_or(&e.name)),
            e.files[0].display(),
            e.files.len() - 1
        )),
        export::receipt::Kind::Bin => {
            ctx.printer.status(format!("{verb} {} from {name} as {}", sanitize(&e.target), e.files[0].display()));
        }
        export::receipt::Kind::Entry => ctx.printer.status(format!("{verb} the menu entry of {name}")),
    }
    Ok(0)
}

fn list(ctx: &Context<'_>, name: &str, json: bool) -> Result<i32> {
    let scope = ctx.engine.scope();
    let exports = export::list(&ctx.paths, scope, name)?;
    if json {
        ctx.printer.data(list_json(name, scope, &exports));
        return Ok(0);
    }
    if exports.is_empty() {
        ctx.printer
            .status(format!("{name} has no exports; make one with `tent export {name} --app APP` or `--bin COMMAND`"));
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = exports
        .iter()
        .map(|e| {
            let name = match &e.title {
                Some(title) => format!("{} ({})", sanitize(&e.name), sanitize(title)),
                None => sanitize(&e.name).into_owned(),
            };
            vec![e.kind.as_str().to_string(), name, sanitize(&e.target).into_owned(), e.files[0].display().to_string()]
        })
        .collect();
    ctx.printer.data(crate::output::table(&["KIND", "NAME", "IN THE BOX", "ON THE HOST"], &rows));
    Ok(0)
}

/// The `--list --json` array: each export with its box and scope (docs/exports.md).
pub(super) fn list_json(name: &str, scope: crate::engine::Scope, exports: &[Export]) -> String {
    #[derive(serde::Serialize)]
    struct Item<'a> {
        #[serde(rename = "box")]
        box_name: &'a str,
        scope: String,
        #[serde(flatten)]
        export: &'a Export,
    }
    let items: Vec<Item<'_>> =
        exports.iter().map(|export| Item { box_name: name, scope: scope.to_string(), export }).collect();
    serde_json::to_string_pretty(&items).expect("exports serialize")
}

pub(super) fn unexport(ctx: &Context<'_>, args: &UnexportArgs) -> Result<i32> {
    let name = args.box_name.as_str();
    crate::boxes::validate_name(name)?;
    let selector = match (&args.app, &args.bin, args.all) {
        (_, _, true) => Selector::All,
        (Some(app), None, false) => Selector::App(app),
        (None, Some(bin), false) => Selector::Bin(bin),
        _ => {
            return Err(Error::usage(
                "say which export to remove: --app APP, --bin COMMAND or --all",
                Some(format!("see them with `tent export {name} --list`")),
            ));
        }
    };
    let scope = ctx.engine.scope();
    let removals = export::unexport(&ctx.paths, scope, name, selector)?;
    if removals.is_empty() {
        let what = match selector {
            Selector::App(q) => format!("no app {q:?} is exported from box {name:?}"),
            Selector::Bin(q) => format!("no command {q:?} is exported from box {name:?}"),
            Selector::All | Selector::Exact(..) => {
                ctx.printer.status(format!("{name} has no exports"));
                return Ok(0);
            }
        };
        return Err(Error::Export {
            message: what,
            hint: Some(format!("see the exports with `tent export {name} --list`")),
        });
    }
    for r in &removals {
        for kept in &r.kept {
            ctx.printer.warn(format!("left {}: tent did not write what is there now", kept.display()));
        }
        ctx.printer.status(format!(
            "unexported {} {} ({} file(s) removed)",
            r.export.kind.as_str(),
            sanitize(&r.export.name),
            r.removed.len()
        ));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::receipt::Kind;

    #[test]
    fn list_json_adds_box_and_scope() {
        let e = Export {
            kind: Kind::Bin,
            name: "rg".into(),
            title: None,
            request: "rg".into(),
            target: "/usr/bin/rg".into(),
            files: vec!["/h/.local/bin/rg".into()],
            dir: Some("/h/.local/bin".into()),
            tent: "/usr/bin/tent".into(),
        };
        let value: serde_json::Value =
            serde_json::from_str(&list_json("dev", crate::engine::Scope::Podman, &[e])).unwrap();
        assert_eq!(value[0]["box"], "dev");
        assert_eq!(value[0]["scope"], "podman");
        assert_eq!(value[0]["kind"], "bin");
        assert_eq!(value[0]["files"][0], "/h/.local/bin/rg");
        assert!(value[0].get("title").is_none());
    }
}
