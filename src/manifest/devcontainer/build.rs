//! `build` (or `dockerFile`): the image a box is made from, built from the
//! project's Dockerfile, read bounded and named by the hash of its inputs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::super::model::Location;
use super::super::parse::resolve_path;
use super::json::{Json, Node};
use super::reader::{Cx, short};
use crate::error::Result;

/// `build` (or `dockerFile`): the image the box is made from, built with the
/// engine's own build before the box is made, when the engine lacks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageBuild {
    pub box_name: String,
    pub at: Location,
    /// `localhost/tent-devcontainer-NAME:HASH`, the hash of everything below:
    /// a changed Dockerfile, context, args or target is a new image (and so
    /// recreates the box); the same inputs build nothing again.
    pub image: String,
    pub dockerfile: PathBuf,
    /// The Dockerfile as read (bounded, no final link followed); the engine
    /// gets these bytes on stdin, never the path.
    pub text: Vec<u8>,
    pub context: PathBuf,
    pub args: BTreeMap<String, String>,
    pub target: Option<String>,
}

impl ImageBuild {
    /// The engine's build arguments; the Dockerfile comes on stdin. The
    /// build's steps use the host's network, as the box will.
    pub(crate) fn engine_args(&self) -> Vec<String> {
        let mut args = vec!["build".to_string(), "-t".into(), self.image.clone(), "-f".into(), "-".into()];
        args.push("--network=host".into());
        if let Some(target) = &self.target {
            args.extend(["--target".to_string(), target.clone()]);
        }
        for (k, v) in &self.args {
            args.extend(["--build-arg".to_string(), format!("{k}={v}")]);
        }
        args.extend(["--".to_string(), self.context.to_string_lossy().into_owned()]);
        args
    }
}

/// Largest Dockerfile tent reads.
const MAX_DOCKERFILE: u64 = 1024 * 1024;

/// `build: { dockerfile, context, args, target }` or the older top-level
/// `dockerFile` and `context`; paths are relative to the devcontainer.json.
pub(super) fn image_build(
    cx: &mut Cx<'_>,
    node: &Node,
    top_context: Option<&Node>,
    box_name: &str,
) -> Result<ImageBuild> {
    let (mut dockerfile, mut context, mut args, mut target) = (None, None, BTreeMap::new(), None);
    match &node.value {
        Json::String(_) => dockerfile = Some((cx.string("dockerFile", node)?, node.at)),
        Json::Object(props) => {
            for (key, value) in props {
                match key.name.as_str() {
                    "dockerfile" | "dockerFile" => dockerfile = Some((cx.string("build.dockerfile", value)?, value.at)),
                    "context" => context = Some(cx.string("build.context", value)?),
                    "args" => args = cx.env("build.args", value)?,
                    "target" => {
                        let t = cx.string("build.target", value)?;
                        if !valid_target(&t) {
                            return Err(cx.error(
                                value.at,
                                format!("`build.target` {:?} is not a stage name", short(&t)),
                                None,
                            ));
                        }
                        target = Some(t);
                    }
                    other => cx.ignored(
                        &format!("build.{}", short(other)),
                        key.at,
                        "tent passes dockerfile, context, args and target",
                    ),
                }
            }
        }
        _ => return Err(cx.expected("build", node, "an object")),
    }
    if context.is_none()
        && let Some(node) = top_context
    {
        context = Some(cx.string("context", node)?);
    }
    let Some((dockerfile, at)) = dockerfile else {
        return Err(cx.error(
            node.at,
            "`build` names no `dockerfile`",
            Some("add \"dockerfile\": \"Dockerfile\"".into()),
        ));
    };
    let dockerfile = resolve_path(&dockerfile, cx.file);
    let context = resolve_path(context.as_deref().unwrap_or("."), cx.file);
    finish(cx, node.at, at, Inputs { dockerfile, context, args, target }, box_name)
}

/// What an image is built from, paths resolved.
pub(super) struct Inputs {
    pub dockerfile: PathBuf,
    pub context: PathBuf,
    pub args: BTreeMap<String, String>,
    pub target: Option<String>,
}

/// Whether `target` may name a build stage (and never an engine option).
pub(super) fn valid_target(t: &str) -> bool {
    t.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// Reads the Dockerfile (bounded, no final link) and names the image by the
/// hash of everything the build takes; `at` is where the build is given,
/// `dockerfile_at` where the Dockerfile is named.
pub(super) fn finish(
    cx: &Cx<'_>,
    at: usize,
    dockerfile_at: usize,
    inputs: Inputs,
    box_name: &str,
) -> Result<ImageBuild> {
    let Inputs { dockerfile, context, args, target } = inputs;
    let text = match crate::files::read_bounded(&dockerfile, MAX_DOCKERFILE) {
        Ok(Some(text)) => text,
        Ok(None) => return Err(cx.error(dockerfile_at, format!("no Dockerfile at {}", dockerfile.display()), None)),
        Err(e) => {
            return Err(cx.error(
                dockerfile_at,
                format!("cannot read the Dockerfile: {e}"),
                Some("it must be a regular file (not a link) of at most 1 MiB".into()),
            ));
        }
    };
    let mut hash = Sha256::new();
    for part in [&text[..], context.as_os_str().as_encoded_bytes(), target.as_deref().unwrap_or("").as_bytes()] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    for (k, v) in &args {
        hash.update((k.len() as u64).to_le_bytes());
        hash.update(k.as_bytes());
        hash.update((v.len() as u64).to_le_bytes());
        hash.update(v.as_bytes());
    }
    let digest: String = crate::text::hex(&hash.finalize()[..8]);
    let repo: String = box_name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let image = format!("localhost/tent-devcontainer-{}:{digest}", repo.trim_matches('-'));
    Ok(ImageBuild { box_name: box_name.to_string(), at: cx.at(at), image, dockerfile, text, context, args, target })
}
