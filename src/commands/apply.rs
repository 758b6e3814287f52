//! `tent apply`: read the manifest, plan it against the boxes that exist (a
//! pure function, `manifest::plan`), show the plan, ask before anything that
//! destroys or takes over a box, then hand the actions to the executor
//! (`manifest::apply`), over the real boxes and exports.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Context;
use crate::boxes::container::{self, STATE_IN_BOX};
use crate::boxes::scripts::hook_script;
use crate::boxes::{BoxSpec, host::default_image_for, labels};
use crate::cli::ApplyArgs;
use crate::engine::Engine;
use crate::engine::endpoint::Chosen;
use crate::error::{Error, Result};
use crate::export::Selector;
use crate::manifest::apply::{BoxOps, Executor, ExportOps, Records, Status, StepResult};
use crate::manifest::devcontainer::{ComposeProject, HostCommand, ImageBuild};
use crate::manifest::model::{BoxEntry, EndpointKey};
use crate::manifest::plan::Options;
use crate::manifest::{self, Action, BinExport, Current, Desired, Manifest, Mode, Record, record};
use crate::output::Unanswered;
use crate::runtime::{other_owner, write_hooks};
use crate::{export, interrupt};

use crate::manifest::DEFAULT_FILE;

pub(super) fn apply(ctx: &Context<'_>, args: &ApplyArgs) -> Result<i32> {
    let file = manifest_file(ctx, args)?;
    let mut manifest = if args.run_substitutions {
        let done = std::cell::RefCell::new(std::collections::HashMap::<String, String>::new());
        // A section included by several is read once per includer: each
        // command runs once.
        let run = |command: &str| -> std::result::Result<String, String> {
            if let Some(output) = done.borrow().get(command) {
                return Ok(output.clone());
            }
            let output = run_substitution(ctx, command)?;
            done.borrow_mut().insert(command.to_string(), output.clone());
            Ok(output)
        };
        manifest::load_running(&file, Some(&run))?
    } else {
        manifest::load(&file)?
    };
    for warning in &manifest.warnings {
        ctx.printer.warn(warning);
    }
    select(&mut manifest, &args.name)?;
    let mut groups = Vec::new();
    for (i, (gctx, sub)) in endpoint_groups(ctx, &manifest)?.into_iter().enumerate() {
        if i > 0 {
            // As every tent does for its endpoint at start: a rollback an
            // earlier tent left half-done there is finished or undone first.
            gctx.recover();
        }
        let desired = desired(&gctx, &sub);
        if !args.remove {
            refuse_what_needs_this_machine(&gctx, &sub, &desired)?;
        }
        let (current, ids) = current(&gctx, &sub, &desired)?;
        let actions = if args.remove {
            manifest::plan::plan_removal(&desired, &current, mode(&gctx.engine))
        } else {
            manifest::plan::plan(
                &desired,
                &current,
                &Options { manifest: &manifest.path, mode: mode(&gctx.engine), prune: args.prune },
            )
        };
        groups.push(Group { ctx: gctx, manifest: sub, desired, current, ids, actions });
    }
    // Where each box lives is shown as soon as any of them is elsewhere.
    let show_where = groups.iter().any(|g| !g.ctx.engine.is_local());
    let planned: Vec<Planned<'_>> = groups
        .iter()
        .flat_map(|g| {
            let endpoint = g.ctx.engine.endpoint.describe();
            g.actions.iter().map(move |action| Planned { action, endpoint: endpoint.clone() })
        })
        .collect();

    // The plan is the data of a dry run; otherwise it is status.
    for item in &planned {
        let line = if show_where { item.describe_where() } else { item.action.describe() };
        if args.dry_run && !args.json {
            ctx.printer.data(line);
        } else if !args.json || ctx.printer.verbose {
            ctx.printer.status(line);
        }
    }
    let report = |results: &[StepResult]| {
        if args.json {
            let changed = results.iter().any(|r| r.status == Status::Done);
            let json =
                Report { manifest: &manifest.path, dry_run: args.dry_run, changed, plan: &planned, result: results };
            ctx.printer.data(serde_json::to_string_pretty(&json).expect("a report always serializes"));
        }
    };

    let all = || planned.iter().map(|p| p.action);
    if let Some(conflict) = all().find(|a| matches!(a, Action::Conflict { .. })) {
        let Action::Conflict { name, reason } = conflict else { unreachable!() };
        let at = manifest.boxes.iter().find(|b| &b.name == name).map(|b| format!("{}: ", b.at)).unwrap_or_default();
        return Err(Error::Manifest {
            message: format!("{at}box {name:?}: {reason}; nothing was changed"),
            hint: Some(format!("rename the box in {}, or remove that container yourself", manifest.path.display())),
        });
    }
    if !all().any(|a| a.changes()) {
        let kept = all().filter(|a| matches!(a, Action::Unchanged { .. })).count();
        if !args.json {
            ctx.printer.status(format!("nothing to do: {kept} box(es) up to date"));
        }
        report(&[]);
        return Ok(0);
    }
    // devcontainer.json's initializeCommand: on the host, before its box is made.
    let made = |box_name: &str| {
        all().any(|a| matches!(a, Action::Create { name, .. } | Action::Recreate { name, .. } if name == box_name))
    };
    let host_commands: Vec<&HostCommand> = manifest.host_commands.iter().filter(|c| made(&c.box_name)).collect();
    // … and `build`: the image, when the box's engine does not have it yet.
    let mut builds: Vec<(&Context<'_>, &ImageBuild)> = Vec::new();
    for build in manifest.builds.iter().filter(|b| made(&b.box_name)) {
        let Some(group) = groups.iter().find(|g| g.desired.iter().any(|d| d.name == build.box_name)) else { continue };
        if !group.ctx.engine.image_exists(&build.image)? {
            builds.push((&group.ctx, build));
        }
    }
    for (_, build) in &builds {
        let line = format!(
            "+ build {} for {} from {} (context {})",
            build.image,
            build.box_name,
            build.dockerfile.display(),
            build.context.display()
        );
        if args.dry_run && !args.json {
            ctx.printer.data(crate::output::sanitize_lines(&line));
        } else {
            ctx.printer.status(line);
        }
    }
    // … and `dockerComposeFile`: the project's other services, started with
    // the compose tool installed for the engine.
    let mut compose: Vec<(&ComposeProject, Vec<String>)> = Vec::new();
    for project in manifest.compose.iter().filter(|p| made(&p.box_name) && !p.start.is_empty()) {
        let tool = compose_tool(ctx, project)?;
        let line = format!(
            "+ start {} of compose project {} with {} (the box is {}; `{}` stops them)",
            project.start.join(", "),
            project.project,
            compose_tool_name(&tool),
            project.box_name,
            crate::shell::words(&[&tool[..], &project.down_args()[..]].concat()),
        );
        if args.dry_run && !args.json {
            ctx.printer.data(crate::output::sanitize_lines(&line));
        } else {
            ctx.printer.status(line);
        }
        compose.push((project, tool));
    }
    for command in &host_commands {
        let line = format!(
            "! run on the host, in {}, before {} is made: initializeCommand ({}): {}",
            command.cwd.display(),
            command.box_name,
            command.at,
            command.command.describe()
        );
        if args.dry_run && !args.json {
            ctx.printer.data(crate::output::sanitize_lines(&line));
        } else {
            ctx.printer.status(line);
        }
    }
    if args.dry_run {
        report(&[]);
        return Ok(0);
    }
    let risky: Vec<&Action> = all().filter(|a| a.needs_confirmation()).collect();
    confirm(ctx, args, &risky)?;
    confirm_host_commands(ctx, args, &host_commands)?;
    for command in host_commands {
        run_on_host(ctx, args, command)?;
    }
    for (gctx, build) in builds {
        build_image(gctx, build)?;
    }
    for (project, tool) in compose {
        start_services(ctx, args, project, &tool)?;
    }

    interrupt::catch();
    let mut results = Vec::new();
    let mut error = None;
    for group in &groups {
        let gctx = &group.ctx;
        if error.is_some() {
            results.extend(group.actions.iter().map(StepResult::not_run));
            continue;
        }
        gctx.note_endpoint();
        let (boxes, exports, records) = (
            LiveBoxes { ctx: gctx, init_hooks: Default::default() },
            DirectExporter { ctx: gctx },
            RecordFiles { ctx: gctx },
        );
        let mut run = Executor {
            manifest: &group.manifest,
            ids: group.ids.clone(),
            boxes: &boxes,
            exports: &exports,
            records: &records,
            progress: ctx.printer,
            error: None,
        };
        results.extend(run.run(&group.actions, &group.desired, &group.current));
        error = run.error.take();
    }
    report(&results);
    match results.iter().find(|r| r.status == Status::Failed) {
        Some(failed) => {
            let name = &failed.name;
            let err = error.expect("a failed step keeps its error");
            ctx.printer.status(format!(
                "apply stopped at box {name}; the boxes after it were not touched. \
                 Fix the problem and run `{}` again to finish.",
                again(args)
            ));
            Err(err)
        }
        None => {
            if !args.json {
                let boxes: std::collections::BTreeSet<&str> =
                    results.iter().filter(|r| r.status == Status::Done).map(|r| r.name.as_str()).collect();
                ctx.printer.status(format!("applied: {} box(es) changed", boxes.len()));
            }
            Ok(0)
        }
    }
}

/// The boxes of a manifest that live at one endpoint, with the engine that
/// reaches them and their plan.
struct Group<'a> {
    ctx: Context<'a>,
    /// The manifest with only this endpoint's boxes.
    manifest: Manifest,
    desired: Vec<Desired>,
    current: Vec<Current>,
    ids: BTreeMap<String, String>,
    actions: Vec<Action>,
}

/// One step of the plan and where it happens (`tent apply --json`'s
/// `endpoint`: `local` or the address).
#[derive(Serialize)]
struct Planned<'a> {
    #[serde(flatten)]
    action: &'a Action,
    endpoint: String,
}

impl Planned<'_> {
    fn describe_where(&self) -> String {
        let place = if self.endpoint == "local" { "this machine" } else { self.endpoint.as_str() };
        format!("{} [on {place}]", self.action.describe())
    }
}

/// The manifest's boxes by the endpoint they live at: first the one tent
/// points at (its flags, the environment), with every box that names no
/// endpoint, even when none is left (so `--prune` sees what it made there);
/// then each endpoint a box names with `endpoint` or `connection`, reached as
/// `tent --url` / `tent --connection` would. Two spellings of one endpoint
/// are one group.
fn endpoint_groups<'a>(ctx: &Context<'a>, manifest: &Manifest) -> Result<Vec<(Context<'a>, Manifest)>> {
    let resolve = |entry: &BoxEntry, key: &EndpointKey| {
        let mut engine = ctx.engine.clone();
        engine.choose_endpoint(&chosen(key));
        if engine.is_local() && !ctx.engine.is_local() {
            // The client would follow the environment elsewhere.
            return Err(Error::Manifest {
                message: format!(
                    "{}: box {:?} names this machine's own engine ({key}), but tent is pointed at {}",
                    entry.at,
                    entry.name,
                    ctx.engine.describe()
                ),
                hint: Some(
                    "drop the box's endpoint key (it is this machine's store anyway), or run tent without \
                     the setting that points it elsewhere"
                        .into(),
                ),
            });
        }
        Ok(engine)
    };
    let groups =
        manifest::plan::by_endpoint(&manifest.boxes, ctx.engine.clone(), resolve, |a, b| a.scope() == b.scope())?;
    Ok(groups
        .into_iter()
        .map(|(engine, boxes)| {
            let gctx = Context { printer: ctx.printer, config: ctx.config.clone(), paths: ctx.paths.clone(), engine };
            (gctx, Manifest { boxes, ..manifest.clone() })
        })
        .collect())
}

/// A box on another endpoint cannot have what needs this machine (its
/// folders, its GPU driver, sudo, its display for apps and menu entries):
/// refused before anything is made, at the box's place in the file, with
/// what to do instead (`boxes::remote::refusal`).
fn refuse_what_needs_this_machine(ctx: &Context<'_>, manifest: &Manifest, desired: &[Desired]) -> Result<()> {
    let Some(remote) = ctx.engine.endpoint.remote() else { return Ok(()) };
    for want in desired {
        let at = manifest.boxes.iter().find(|b| b.name == want.name).map(|b| format!("{}: ", b.at)).unwrap_or_default();
        let refused = crate::boxes::remote::refusal(&want.spec).or_else(|| {
            (!want.exports.apps.is_empty() || want.exports.entry).then(|| {
                (
                    "export_apps and entry put the box's apps in this machine's menu, and the box runs on another \
                     machine"
                        .to_string(),
                    "drop them and export commands with export_bins, or run tent on that machine (`ssh -X HOST`)"
                        .to_string(),
                )
            })
        });
        if let Some((why, instead)) = refused {
            return Err(Error::Manifest {
                message: format!("{at}box {:?} lives at {}: {}; nothing was changed", want.name, remote.address, why),
                hint: Some(instead),
            });
        }
    }
    Ok(())
}

/// A box's endpoint key as tent's own `--url` / `--connection`.
fn chosen(key: &EndpointKey) -> Chosen {
    match key {
        EndpointKey::Url(url) => Chosen { url: Some(url.clone()), connection: None },
        EndpointKey::Connection(name) => Chosen { url: None, connection: Some(name.clone()) },
    }
}

/// The manifest to read: `--config` or FILE; else ./tent.toml; else the
/// project's devcontainer.json (asking which when there are several).
fn manifest_file(ctx: &Context<'_>, args: &ApplyArgs) -> Result<PathBuf> {
    if let Some(file) = args.config.as_ref().or(args.file.as_ref()) {
        return Ok(file.clone());
    }
    let default = PathBuf::from(DEFAULT_FILE);
    if default.exists() {
        return Ok(default);
    }
    let mut found = manifest::devcontainer::candidates(Path::new("."));
    for file in &mut found {
        if let Ok(short) = file.strip_prefix(".") {
            *file = short.to_path_buf();
        }
    }
    match found.len() {
        0 => Ok(default),
        1 => {
            ctx.printer.status(format!("using {}", found[0].display()));
            Ok(found.swap_remove(0))
        }
        _ => {
            let list: Vec<String> = found.iter().map(|f| f.display().to_string()).collect();
            if std::io::stdin().is_terminal() && !args.json {
                for (i, file) in list.iter().enumerate() {
                    ctx.printer.status(format!("  {}) {file}", i + 1));
                }
                eprint!("This project has {} dev container configurations: which one? [1-{}] ", list.len(), list.len());
                let mut answer = String::new();
                let _ = std::io::stdin().read_line(&mut answer);
                if let Some(i) = answer.trim().parse::<usize>().ok().filter(|i| (1..=list.len()).contains(i)) {
                    return Ok(found.swap_remove(i - 1));
                }
            }
            Err(Error::Manifest {
                message: format!("this project has {} dev container configurations: {}", list.len(), list.join(", ")),
                hint: Some(format!("pick one: `tent apply --config {}`", crate::shell::quote_if_needed(&list[0]))),
            })
        }
    }
}

/// initializeCommand runs on the host as you: a file from a cloned project
/// does that only when you agree (on a terminal) or said `--yes`.
fn confirm_host_commands(ctx: &Context<'_>, args: &ApplyArgs, commands: &[&HostCommand]) -> Result<()> {
    if commands.is_empty() {
        return Ok(());
    }
    let unanswered = Unanswered::Refuse(Error::Manifest {
        message: "the plan runs initializeCommand on the host (shown above); nothing was changed".into(),
        hint: Some(format!("check the command, then run `{} --yes`", again(args))),
    });
    ctx.printer.agree(args.yes, "Run initializeCommand on the host, as you?", unanswered, "nothing was changed")
}

/// The most output a command substitution may give (a value's own limit).
const MAX_SUBSTITUTION_OUTPUT: u64 = 64 * 1024;
/// How long a substitution's left-behind processes are given, once it has
/// ended, to finish what they print.
const SUBSTITUTION_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs a distrobox.ini command substitution on the host through `sh -c`, as
/// Distrobox 1 does when it sources the file, after printing it (the user's
/// own file and choice: `--run-substitutions`). Its output is the value,
/// read bounded as every command's whose output tent keeps
/// ([`crate::concurrent::output_bounded`]): a process it leaves behind
/// holding the pipe is not waited for, where a shell's `$(…)` would hang.
/// What it says on stderr is passed on; a failure is an error naming the
/// command.
fn run_substitution(ctx: &Context<'_>, command: &str) -> std::result::Result<String, String> {
    use crate::concurrent::{Bounded, output_bounded};
    ctx.printer.step(format!("running on the host (--run-substitutions): sh -c {}", crate::shell::words(&[command])));
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c").arg(command);
    let out = match output_bounded(&mut sh, MAX_SUBSTITUTION_OUTPUT, SUBSTITUTION_GRACE) {
        Ok(Bounded::Done(out)) => out,
        Ok(Bounded::TooLong) => return Err(format!("`{command}` printed more than {MAX_SUBSTITUTION_OUTPUT} bytes")),
        Err(e) => return Err(format!("could not run `sh -c {command}`: {e}")),
    };
    if !out.stderr.is_empty() {
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
    }
    if !out.status.success() {
        let code = out.status.code().map_or_else(|| "a signal".to_string(), |c| c.to_string());
        return Err(format!("`{command}` failed on the host with status {code}; nothing was applied"));
    }
    String::from_utf8(out.stdout).map_err(|_| format!("`{command}` printed something that is not UTF-8 text"))
}

/// Runs initializeCommand in the project folder: a string through `sh -c`, an
/// array as that argv, named commands one after the other. A failure stops
/// the apply with the command's name and exit status.
fn run_on_host(ctx: &Context<'_>, args: &ApplyArgs, command: &HostCommand) -> Result<()> {
    for (name, argv) in command.command.argvs() {
        let label = match &name {
            Some(name) => format!("initializeCommand {name}"),
            None => "initializeCommand".to_string(),
        };
        ctx.printer.step(format!("{label} (on the host): {}", crate::shell::words(&argv)));
        let status =
            std::process::Command::new(&argv[0]).args(&argv[1..]).current_dir(&command.cwd).status().map_err(|e| {
                Error::Manifest {
                    message: format!("{}: could not run {label} {:?}: {e}", command.at, argv[0]),
                    hint: Some("check the command in the devcontainer.json".into()),
                }
            })?;
        if !status.success() {
            let code = status.code().map_or_else(|| "a signal".to_string(), |c| c.to_string());
            return Err(Error::Manifest {
                message: format!(
                    "{}: {label} failed with status {code}; box {} was not made",
                    command.at, command.box_name
                ),
                hint: Some(format!("fix the command, then run `{}` again", again(args))),
            });
        }
    }
    Ok(())
}

/// Builds a devcontainer.json's image with the engine's own build. The
/// Dockerfile goes on stdin, as tent read it; the context is the project's.
/// Under `--root` through sudo it is refused: root's engine would read a
/// context the user can change while it builds.
fn build_image(ctx: &Context<'_>, build: &ImageBuild) -> Result<()> {
    if ctx.engine.through_sudo() {
        return Err(Error::Manifest {
            message: format!(
                "{}: box {} needs its image built from {}, which tent does not do for a rootful box",
                build.at,
                build.box_name,
                build.dockerfile.display()
            ),
            hint: Some(format!(
                "build it as root yourself (`sudo podman build -t {} -f {} {}`), then apply again",
                build.image,
                crate::shell::quote_if_needed(&build.dockerfile.to_string_lossy()),
                crate::shell::quote_if_needed(&build.context.to_string_lossy())
            )),
        });
    }
    let engine_args = build.engine_args();
    let spinner = ctx.printer.spinner(format!("building {} for {}", build.image, build.box_name));
    let mut child = ctx
        .engine
        .command(&engine_args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Error::EngineSpawn(e.to_string()))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let text = build.text.clone();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(&text);
    });
    let output = child.wait_with_output().map_err(|e| Error::EngineSpawn(e.to_string()))?;
    let _ = writer.join();
    spinner.finish();
    ctx.printer.verbose(String::from_utf8_lossy(&output.stderr));
    if !output.status.success() {
        return Err(Error::Engine {
            what: format!(
                "{}: could not build the image of box {} from {}",
                build.at,
                build.box_name,
                build.dockerfile.display()
            ),
            failure: ctx.engine.failure(&engine_args, &output),
        });
    }
    Ok(())
}

/// The compose tool for the engine: podman-compose for podman (told which
/// podman to run); `docker compose`, else docker-compose, for Docker. None
/// installed: an error naming the file and the tools looked for.
fn compose_tool(ctx: &Context<'_>, project: &ComposeProject) -> Result<Vec<String>> {
    let file = project.files[0].display();
    ctx.engine.require_local(&format!("start the services of {file}"))?;
    if ctx.engine.through_sudo() {
        return Err(Error::Manifest {
            message: format!(
                "{}: box {} needs the services of {file} started, which tent does not do for a rootful box",
                project.at, project.box_name
            ),
            hint: Some("start them as root yourself, then apply again; or apply without --root".into()),
        });
    }
    let engine = ctx.engine.path.to_string_lossy().into_owned();
    if ctx.engine.is_podman() {
        if let Ok(path) = which::which("podman-compose") {
            return Ok(vec![path.to_string_lossy().into_owned(), "--podman-path".into(), engine]);
        }
    } else {
        let mut plugin = ctx.engine.command(&["compose", "version"]);
        plugin.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        if plugin.status().is_ok_and(|s| s.success()) {
            return Ok(vec![engine, "compose".into()]);
        }
        if let Ok(path) = which::which("docker-compose") {
            return Ok(vec![path.to_string_lossy().into_owned()]);
        }
    }
    let looked = manifest::devcontainer::compose_tools(ctx.engine.is_podman());
    Err(Error::Manifest {
        message: format!(
            "{}: box {} stands for service {:?} of {file}, whose services {} need a compose tool, and none is \
             installed for {} (looked for {}); nothing was changed",
            project.at,
            project.box_name,
            project.service,
            project.start.join(", "),
            ctx.engine.describe(),
            looked.join(", ")
        ),
        hint: Some(format!(
            "install {} (your distribution's package), or start the services yourself and drop `dockerComposeFile` \
             for an `image`",
            looked[0]
        )),
    })
}

/// The tool as the plan names it: `podman-compose`, `docker compose`, `docker-compose`.
fn compose_tool_name(tool: &[String]) -> String {
    let program = tool[0].rsplit('/').next().unwrap_or(&tool[0]);
    match tool.get(1) {
        Some(word) if word == "compose" => format!("{program} compose"),
        _ => program.to_string(),
    }
}

/// Starts a compose project's other services (`up -d --no-deps`), before
/// their box is made; a failure stops the apply with the tool's message.
fn start_services(ctx: &Context<'_>, args: &ApplyArgs, project: &ComposeProject, tool: &[String]) -> Result<()> {
    let argv = [tool, &project.up_args()[..]].concat();
    let spinner = ctx.printer.spinner(format!("starting {} for {}", project.start.join(", "), project.box_name));
    ctx.printer.verbose(crate::shell::words(&argv));
    let dir = project.files[0].parent().unwrap_or(Path::new("/"));
    let output = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::Manifest {
            message: format!("{}: could not run {}: {e}", project.at, argv[0]),
            hint: Some("check that the compose tool is installed and runs".into()),
        })?;
    spinner.finish();
    ctx.printer.verbose(String::from_utf8_lossy(&output.stdout));
    ctx.printer.verbose(String::from_utf8_lossy(&output.stderr));
    if !output.status.success() {
        let code = output.status.code().map_or_else(|| "a signal".to_string(), |c| c.to_string());
        let said = String::from_utf8_lossy(&output.stderr);
        let last: Vec<&str> = said.lines().filter(|l| !l.trim().is_empty()).collect();
        let last = last[last.len().saturating_sub(5)..].join("\n");
        return Err(Error::Manifest {
            message: format!(
                "{}: `{}` failed with status {code}; box {} was not made:\n{}",
                project.at,
                crate::shell::words(&argv),
                project.box_name,
                crate::output::sanitize_lines(&last)
            ),
            hint: Some(format!(
                "fix the compose project (run the command above to see all it says), then `{}`",
                again(args)
            )),
        });
    }
    Ok(())
}

/// `--name BOX`: only those boxes of the file; a name the file does not
/// list is an error that names the ones it does.
fn select(manifest: &mut Manifest, names: &[String]) -> Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    if let Some(missing) = names.iter().find(|n| !manifest.boxes.iter().any(|b| &b.name == *n)) {
        let listed: Vec<&str> = manifest.boxes.iter().map(|b| b.name.as_str()).collect();
        return Err(Error::Manifest {
            message: format!("{} lists no box {missing:?}", manifest.path.display()),
            hint: Some(format!("it lists: {}", listed.join(", "))),
        });
    }
    manifest.boxes.retain(|b| names.contains(&b.name));
    Ok(())
}

/// The manifest's boxes with their specs resolved as `tent create` would.
fn desired(ctx: &Context<'_>, manifest: &Manifest) -> Vec<Desired> {
    let default_image = ctx
        .config
        .image
        .clone()
        .unwrap_or_else(|| default_image_for(&std::fs::read_to_string("/etc/os-release").unwrap_or_default()));
    let desired = manifest
        .boxes
        .iter()
        .map(|entry| {
            let mut spec = entry.spec(&default_image, &manifest.path);
            spec.root = ctx.engine.rootful() && ctx.engine.through_sudo();
            Desired {
                name: entry.name.clone(),
                spec,
                clone: entry.clone.clone(),
                root: entry.root,
                exports: entry.exports.clone(),
            }
        })
        .collect();
    manifest::plan::sources_first(desired)
}

/// The containers with wanted names and the boxes this manifest made, each
/// with its record when the record is for that very container; and their ids.
fn current(
    ctx: &Context<'_>,
    manifest: &Manifest,
    desired: &[Desired],
) -> Result<(Vec<Current>, BTreeMap<String, String>)> {
    let scope = ctx.engine.scope();
    let mut current = Vec::new();
    let mut ids = BTreeMap::new();
    for container in ctx.boxes().list()? {
        let label = BoxSpec::from_label(container.label(labels::SPEC));
        let record = record::read(&record::path(&ctx.paths, scope, &container.name), &container.id);
        let entry = Current { name: container.name.clone(), tent: true, label, record };
        if desired.iter().any(|d| d.name == entry.name) || entry.owner() == Some(manifest.path.as_path()) {
            ids.insert(container.name.clone(), container.id.clone());
            current.push(entry);
        }
    }
    // A container that is not a tent box does not show in the list; it must
    // still stop a create of the same name, before anything is changed.
    for want in desired {
        if current.iter().any(|c| c.name == want.name) {
            continue;
        }
        if let Some(container) = ctx.engine.inspect(&want.name)? {
            // Another user's box (a shared store) counts as not tent's: a
            // conflict, never recreated, adopted or pruned.
            let tent = container.label(labels::FORMAT).is_some() && other_owner(&container).is_none();
            let label = if tent { BoxSpec::from_label(container.label(labels::SPEC)) } else { None };
            ids.insert(container.name.clone(), container.id.clone());
            current.push(Current { name: want.name.clone(), tent, label, record: None });
        }
    }
    Ok((current, ids))
}

/// The apply command as the user gave it, for hints.
fn again(args: &ApplyArgs) -> String {
    let mut words = vec!["tent".to_string(), "apply".to_string()];
    if let Some(file) = &args.file {
        words.push(file.to_string_lossy().into_owned());
    }
    if let Some(file) = &args.config {
        words.extend(["--config".to_string(), file.to_string_lossy().into_owned()]);
    }
    if args.prune {
        words.push("--prune".into());
    }
    for name in &args.name {
        words.extend(["--name".to_string(), name.clone()]);
    }
    if args.remove {
        words.push("--remove".into());
    }
    crate::shell::words(&words)
}

fn mode(engine: &Engine) -> Mode {
    if engine.through_sudo() {
        Mode::Sudo
    } else if engine.rootful() {
        Mode::Root
    } else {
        Mode::Rootless
    }
}

/// Recreating, removing or taking over a box is asked on a terminal; off a
/// terminal it needs `--yes`, so a script never destroys a box by surprise.
fn confirm(ctx: &Context<'_>, args: &ApplyArgs, risky: &[&Action]) -> Result<()> {
    if risky.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = risky.iter().map(|a| a.box_name()).collect();
    let unanswered = Unanswered::Refuse(Error::Manifest {
        message: format!("the plan recreates, removes or takes over {}; nothing was changed", names.join(", ")),
        hint: Some(format!("check the plan above, then run `{} --yes`", again(args))),
    });
    let question = if args.remove {
        format!(
            "Go ahead? {} will be removed, with their exports, snapshots and services; your home and files stay.",
            names.join(", ")
        )
    } else {
        format!(
            "Go ahead? {} will be removed (with their exports, snapshots and services) or made anew; \
             your home and files stay.",
            names.join(", ")
        )
    };
    ctx.printer.agree(args.yes, &question, unanswered, "nothing was changed")
}

/// `tent apply --json` (docs/manifest.md).
#[derive(Serialize)]
struct Report<'a> {
    manifest: &'a Path,
    dry_run: bool,
    changed: bool,
    plan: &'a [Planned<'a>],
    result: &'a [StepResult],
}

// ---- the executor's operations, over the real boxes and exports -----------------

/// Boxes through `runtime`, as `tent create` makes them.
struct LiveBoxes<'a> {
    ctx: &'a Context<'a>,
    /// The init hooks `write_hooks` was given, by box: what a rootful box's
    /// root runs, inline, instead of the file in the user's state directory.
    init_hooks: std::cell::RefCell<BTreeMap<String, Vec<String>>>,
}

impl BoxOps for LiveBoxes<'_> {
    fn clone_box(&self, source: &str, name: &str) -> Result<String> {
        self.ctx.clone_box(source, name)?;
        Ok(self.ctx.boxes().get(name)?.id)
    }

    fn create(&self, name: &str, spec: &BoxSpec) -> Result<String> {
        let boxes = self.ctx.boxes();
        boxes.create(name, spec, true)?;
        Ok(boxes.get(name)?.id)
    }

    fn remove_container(&self, name: &str) -> Result<()> {
        self.ctx.boxes().remove_container(name)
    }

    /// As `tent rm` removes a box (`rm::finish_removal` says what went with it).
    fn remove_box(&self, name: &str) -> Result<()> {
        let removed = self.ctx.boxes().remove(name)?;
        super::rm::finish_removal(self.ctx, name, removed);
        Ok(())
    }

    fn start(&self, name: &str) -> Result<()> {
        self.ctx.boxes().start(name, None)
    }

    fn install(&self, name: &str, packages: &[String]) -> Result<()> {
        let ctx = self.ctx;
        let spinner = ctx.printer.spinner(format!("installing {} in {name}", packages.join(" ")));
        let mut words = vec!["install"];
        words.extend(packages.iter().map(String::as_str));
        // Inline in a rootful box: root never runs the user's copy in the lib.
        let mut args: Vec<String> = ["exec", "--user", "root", name].map(String::from).to_vec();
        args.extend(container::init_command(ctx.engine.rootful(), &words));
        let output = ctx.engine.capture(&format!("could not install packages in {name:?}"), &args);
        spinner.finish();
        ctx.printer.verbose(output?);
        Ok(())
    }

    fn write_hooks(&self, name: &str, spec: &BoxSpec) -> Result<()> {
        self.init_hooks.borrow_mut().insert(name.to_string(), spec.init_hooks.clone());
        write_hooks(&self.ctx.boxes().state(name), spec)
    }

    fn run_init_hooks(&self, name: &str) -> Result<()> {
        // Root in a rootful box is the host's: the hooks go inline, never as
        // the file in the state directory, which any of the user's boxes can
        // rewrite before the exec (docs/security.md).
        let file = format!("{STATE_IN_BOX}/hooks/init");
        let inline = self.init_hooks.borrow().get(name).map(|hooks| hook_script(hooks));
        let command: Vec<String> = match (self.ctx.engine.rootful(), inline) {
            (true, Some(script)) => vec!["/bin/sh".into(), "-c".into(), script],
            (true, None) => {
                return Err(Error::Manifest {
                    message: format!("the init hooks of rootful box {name:?} were not given to this run"),
                    hint: Some("run `tent apply` again; it writes the hooks before it runs them".into()),
                });
            }
            (false, _) => vec!["/bin/sh".into(), file],
        };
        let mut args: Vec<String> = ["exec", "--user", "root", name].map(String::from).to_vec();
        args.extend(command);
        let output = self.ctx.engine.capture(&format!("the init hooks of {name:?} failed"), &args)?;
        self.ctx.printer.verbose(output);
        Ok(())
    }
}

/// Records as files in tent's state directory.
struct RecordFiles<'a> {
    ctx: &'a Context<'a>,
}

impl RecordFiles<'_> {
    fn file(&self, name: &str) -> PathBuf {
        record::path(&self.ctx.paths, self.ctx.engine.scope(), name)
    }
}

impl Records for RecordFiles<'_> {
    fn save(&self, name: &str, rec: &Record) -> Result<()> {
        record::write(&self.file(name), rec)
    }

    fn remove(&self, name: &str) -> Result<()> {
        record::remove(&self.file(name))
    }
}

// ---- exports ----------------------------------------------------------------

/// Exports through the export module, as `tent export` makes them.
struct DirectExporter<'a> {
    ctx: &'a Context<'a>,
}

impl ExportOps for DirectExporter<'_> {
    fn export_app(&self, box_name: &str, app: &str) -> Result<()> {
        let exporter = self.ctx.exporter(&self.ctx.engine, box_name, false)?;
        exporter.export_app(app).map(drop)
    }

    fn export_bin(&self, box_name: &str, bin: &BinExport) -> Result<()> {
        // A command's wrapper records a remote endpoint, as `tent export --bin` does.
        let exporter = self.ctx.exporter_anywhere(&self.ctx.engine, box_name, false)?;
        let dir = bin.path.clone().unwrap_or_else(|| self.ctx.bin_dir());
        exporter.export_bin(&bin.bin, bin.name.as_deref(), &dir).map(drop)
    }

    fn unexport_app(&self, box_name: &str, app: &str) -> Result<()> {
        export::unexport(&self.ctx.paths, self.ctx.engine.scope(), box_name, Selector::App(app)).map(drop)
    }

    fn unexport_bin(&self, box_name: &str, bin: &BinExport) -> Result<()> {
        let name = bin.exported_name();
        export::unexport(&self.ctx.paths, self.ctx.engine.scope(), box_name, Selector::Bin(name)).map(drop)
    }

    fn add_entry(&self, box_name: &str) -> Result<()> {
        let exporter = self.ctx.exporter(&self.ctx.engine, box_name, false)?;
        exporter.export_entry(self.ctx.config.entry.terminal.as_deref()).map(drop)
    }

    fn remove_entry(&self, box_name: &str) -> Result<()> {
        let selector = Selector::Exact(export::receipt::Kind::Entry, export::entry::ENTRY_NAME);
        export::unexport(&self.ctx.paths, self.ctx.engine.scope(), box_name, selector).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_says_where_each_step_happens() {
        let action = Action::Create { name: "far".into(), spec: BoxSpec { image: "deb".into(), ..Default::default() } };
        let far = Planned { action: &action, endpoint: "ssh://me@build/run/podman/podman.sock".into() };
        assert_eq!(far.describe_where(), "+ create far (image deb) [on ssh://me@build/run/podman/podman.sock]");
        let here = Planned { action: &action, endpoint: "local".into() };
        assert_eq!(here.describe_where(), "+ create far (image deb) [on this machine]");
        let json = serde_json::to_value(&far).unwrap();
        assert_eq!(json["action"], "create");
        assert_eq!(json["box"], "far");
        assert_eq!(json["endpoint"], "ssh://me@build/run/podman/podman.sock");
        assert_eq!(json["spec"]["image"], "deb");
    }

    #[test]
    fn endpoint_keys_are_tents_own_flags() {
        assert_eq!(
            chosen(&EndpointKey::Url("unix:///s.sock".into())),
            Chosen { url: Some("unix:///s.sock".into()), connection: None }
        );
        assert_eq!(
            chosen(&EndpointKey::Connection("build".into())),
            Chosen { url: None, connection: Some("build".into()) }
        );
    }
}
