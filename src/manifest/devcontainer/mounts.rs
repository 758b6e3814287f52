//! The `mounts` key: a mount string or object as a tent volume, or why not.

use std::path::Path;

use super::super::parse::resolve_path;
use super::reader::short;

/// A mount of the `mounts` key.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Mount {
    kind: String,
    source: String,
    target: String,
    readonly: bool,
}

/// `type=bind,source=/a,target=/b[,readonly]`, as `docker run --mount` reads it.
pub(super) fn parse_mount_string(text: &str) -> Result<Mount, String> {
    let mut fields = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        match part.split_once('=') {
            Some((k, v)) => fields.push((k.trim(), v.trim())),
            None => fields.push((part, "true")),
        }
    }
    Mount::from_fields(fields.into_iter())
}

impl Mount {
    pub(super) fn from_fields<'a>(fields: impl Iterator<Item = (&'a str, &'a str)>) -> Result<Mount, String> {
        let mut m = Mount { kind: "volume".into(), ..Default::default() };
        for (key, value) in fields {
            match key {
                "type" => m.kind = value.to_string(),
                "source" | "src" => m.source = value.to_string(),
                "target" | "destination" | "dst" => m.target = value.to_string(),
                "readonly" | "ro" => m.readonly = value != "false" && value != "0",
                "consistency" | "bind-propagation" | "external" => {}
                other => return Err(format!("{:?} is an option tent does not pass on", short(other))),
            }
        }
        Ok(m)
    }

    /// The mount as a tent volume, `SRC:DST[:ro]`.
    pub(super) fn volume(self, project: &Path) -> Result<String, String> {
        let bad = |s: &str| s.contains([':', ',', '\n']) || s.is_empty();
        if !self.target.starts_with('/') || bad(&self.target) {
            return Err(format!("target {:?} must be an absolute path without ':' or ','", short(&self.target)));
        }
        let source = match self.kind.as_str() {
            "bind" => {
                if bad(&self.source) {
                    return Err(format!("source {:?} must be a path without ':' or ','", short(&self.source)));
                }
                resolve_path(&self.source, &project.join("x")).to_string_lossy().into_owned()
            }
            "volume" => {
                let ok = self.source.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                    && self.source.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
                if !ok {
                    return Err(format!(
                        "volume name {:?} must be letters, digits, '_', '.' and '-'",
                        short(&self.source)
                    ));
                }
                self.source
            }
            other => return Err(format!("type {:?}: tent mounts bind and volume mounts only", short(other))),
        };
        Ok(if self.readonly { format!("{source}:{}:ro", self.target) } else { format!("{source}:{}", self.target) })
    }
}
