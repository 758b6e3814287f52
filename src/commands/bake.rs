//! `tent bake`: runs a box's provisioning once into a new local image, so
//! boxes made from it start with no package work and no network (the idea of
//! distrobox-boost). The provisioning is the same `tent-init provision` that
//! `images/*/Containerfile` run.

use std::path::Path;

use super::{Context, split_words};
use crate::boxes::HostUser;
use crate::boxes::container::STATE_IN_BOX;
use crate::boxes::scripts::INIT_SCRIPT;
use crate::cli::BakeArgs;
use crate::error::{Error, Result};
use crate::interrupt;
use crate::runtime::init;
use crate::runtime::state::{BoxState, LogFollower};

/// The label a baked image carries: the image it was baked from.
pub(super) const BAKED_FROM: &str = "tent.baked-from";

pub(super) fn run(ctx: &Context<'_>, args: &BakeArgs) -> Result<i32> {
    let tag = args.tag.clone().unwrap_or_else(|| default_tag(&args.image));
    let packages = split_words(&args.packages);
    let boxes = ctx.boxes();
    boxes.ensure_image(&args.image)?;

    let work = format!("tent-bake-{}", std::process::id());
    let state = BoxState::new(ctx.paths.state.join("bake").join(&work));
    state.remove()?;
    // The engine (root, rootful) mounts it: the user's own directory, no link.
    state.create_under(&ctx.paths.state)?;
    interrupt::catch();

    let mut user = HostUser::current();
    if ctx.engine.rootless {
        // The bake container has no keep-id: in its user namespace the user
        // is root, and so is the owner of the state directory it mounts.
        (user.uid, user.gid) = (0, 0);
    }
    let create = bake_argv(&work, &args.image, &state.dir, &user, &packages);
    ctx.printer.step(format!("baking {tag} from {} on {}", args.image, ctx.engine.describe()));
    let result = (|| {
        ctx.engine.capture(&format!("could not create the bake container for {}", args.image), &create)?;
        let follower = LogFollower::from_end(state.log_path());
        let spinner = ctx.printer.spinner(format!("provisioning {}", args.image));
        let status = follow_until_exit(ctx, &work, &state, follower, &spinner);
        spinner.finish();
        status?;
        let config = original_config(ctx, &args.image)?;
        let mut commit: Vec<String> = vec!["commit".into()];
        for change in commit_changes(&config, &args.image) {
            commit.push("--change".into());
            commit.push(change);
        }
        commit.push(work.clone());
        commit.push(tag.clone());
        ctx.engine.capture(&format!("could not save the baked image {tag}"), &commit)?;
        Ok::<(), Error>(())
    })();
    let _ = ctx.engine.output(&crate::engine::argv::rm_force(&work));
    let _ = state.remove();
    result?;
    ctx.printer
        .status(format!("baked {tag}: boxes made with `tent create NAME --image {tag}` start with no package work"));
    Ok(0)
}

/// `debian:bookworm` → `debian-tent:bookworm`; `fedora` → `fedora-tent:latest`.
pub(super) fn default_tag(image: &str) -> String {
    let (repo, tag) = split_tag(image);
    let repo = repo.rsplit('/').next().unwrap_or(repo);
    format!("{repo}-tent:{}", tag.unwrap_or("latest"))
}

fn split_tag(image: &str) -> (&str, Option<&str>) {
    let image = image.split('@').next().unwrap_or(image);
    match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => (&image[..i], Some(&image[i + 1..])),
        _ => (image, None),
    }
}

/// A plain container (no tent labels, nothing of the user's) that runs the
/// provisioning and exits. Settings go as arguments, not environment, so
/// nothing of this run is saved into the image's config. The provisioning
/// runs as root (the host's, on a rootful engine): the script is this
/// build's tent-init itself, passed inline, never a file from the user's
/// data directory, which the user and every box can change; the state
/// directory is checked in the container to be `user`'s (`--owner`).
pub(super) fn bake_argv(work: &str, image: &str, state: &Path, user: &HostUser, packages: &[String]) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "create".into(),
        "--name".into(),
        work.into(),
        "--network".into(),
        "host".into(),
        "--user".into(),
        "root:root".into(),
        "--security-opt".into(),
        "label=disable".into(),
        "--volume".into(),
        format!("{}:{STATE_IN_BOX}", state.display()),
        // The host's own CA certificates are baked in too (tent-init provision).
        "--volume".into(),
        "/:/run/host:ro".into(),
        "--entrypoint".into(),
        "/bin/sh".into(),
        image.into(),
        "-c".into(),
        INIT_SCRIPT.into(),
        "tent-init".into(),
        "provision".into(),
        "--owner".into(),
        format!("{}:{}", user.uid, user.gid),
        "--shell".into(),
        user.shell.clone(),
    ];
    if !packages.is_empty() {
        a.push("--".into());
        a.extend(packages.iter().cloned());
    }
    a
}

/// Starts the bake container attached and shows its progress lines.
fn follow_until_exit(
    ctx: &Context<'_>,
    work: &str,
    state: &BoxState,
    mut follower: LogFollower,
    spinner: &crate::output::Spinner,
) -> Result<()> {
    let args = ["start", "--attach", work];
    let mut child = ctx
        .engine
        .command(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Error::spawn(&ctx.engine.path, &e))?;
    loop {
        init::show_init_lines(&mut follower, "", spinner);
        if interrupt::interrupted() {
            let _ = child.kill();
            return Err(Error::Interrupted);
        }
        if let Some(status) = child.try_wait().map_err(|e| Error::spawn(&ctx.engine.path, &e))? {
            init::show_init_lines(&mut follower, "", spinner);
            if status.success() {
                return Ok(());
            }
            let reason = state.failure().unwrap_or_else(|| format!("provisioning exited with {status}"));
            return Err(Error::NotReady {
                name: work.into(),
                reason,
                log_tail: state.log_tail(15),
                log: state.log_path(),
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The base image's entry point and command, restored on the baked image.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct ImageConfig {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
}

fn original_config(ctx: &Context<'_>, image: &str) -> Result<ImageConfig> {
    let args = ["image", "inspect", "--format", "{{json .Config.Entrypoint}}\n{{json .Config.Cmd}}", image];
    let text = ctx.engine.capture(&format!("could not inspect image {image}"), &args)?;
    Ok(parse_config(&text))
}

pub(super) fn parse_config(text: &str) -> ImageConfig {
    let mut lines = text.lines();
    let mut next = || lines.next().and_then(|l| serde_json::from_str::<Option<Vec<String>>>(l.trim()).ok()).flatten();
    ImageConfig { entrypoint: next(), cmd: next() }
}

pub(super) fn commit_changes(config: &ImageConfig, base: &str) -> Vec<String> {
    let json = |v: &Option<Vec<String>>| serde_json::to_string(&v.clone().unwrap_or_default()).expect("strings");
    vec![
        format!("ENTRYPOINT {}", json(&config.entrypoint)),
        format!("CMD {}", json(&config.cmd)),
        format!("LABEL {BAKED_FROM}={base}"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tags() {
        assert_eq!(default_tag("debian:bookworm"), "debian-tent:bookworm");
        assert_eq!(default_tag("tent-test/debian:trixie"), "debian-tent:trixie");
        assert_eq!(default_tag("fedora"), "fedora-tent:latest");
        assert_eq!(default_tag("localhost:5000/x/alpine"), "alpine-tent:latest");
    }

    fn user() -> HostUser {
        HostUser {
            name: "alice".into(),
            uid: 1000,
            gid: 1001,
            group: "alice".into(),
            home: "/home/alice".into(),
            shell: "/bin/zsh".into(),
            groups: vec![20, 27],
        }
    }

    #[test]
    fn bake_container_carries_nothing_of_the_user() {
        let argv = bake_argv("w", "img", Path::new("/s"), &user(), &["git".into()]);
        assert!(!argv.iter().any(|a| a == "--env" || a == "--label"), "{argv:?}");
        let tail = &argv[argv.len() - 7..];
        assert_eq!(&tail[..3], &["provision", "--owner", "1000:1001"]);
        assert_eq!(&tail[3..], &["--shell", "/bin/zsh", "--", "git"]);
    }

    #[test]
    fn bake_runs_tents_own_init_never_a_file_of_the_user() {
        let argv = bake_argv("w", "img", Path::new("/home/alice/.local/state/tent/bake/w"), &user(), &[]);
        let at = argv.iter().position(|a| a == "img").unwrap();
        assert_eq!(&argv[at - 2..at + 4], &["--entrypoint", "/bin/sh", "img", "-c", INIT_SCRIPT, "tent-init"]);
        // Nothing of the lib directory (the user's data directory) is mounted or named.
        let mounts: Vec<&String> = argv.windows(2).filter(|w| w[0] == "--volume").map(|w| &w[1]).collect();
        assert!(!mounts.iter().any(|m| m.contains(crate::boxes::container::LIB_IN_BOX)), "{mounts:?}");
        assert!(mounts.iter().any(|m| *m == "/home/alice/.local/state/tent/bake/w:/run/.tent/state"), "{mounts:?}");
    }

    #[test]
    fn image_config_round_trip() {
        let config = parse_config("null\n[\"bash\"]\n");
        assert_eq!(config, ImageConfig { entrypoint: None, cmd: Some(vec!["bash".into()]) });
        let changes = commit_changes(&config, "debian:bookworm");
        assert_eq!(changes, vec!["ENTRYPOINT []", "CMD [\"bash\"]", "LABEL tent.baked-from=debian:bookworm"]);
    }
}
