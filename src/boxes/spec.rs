//! The spec of a box: everything the user chose when making it. It is stored
//! on the container as a label, so `tent manifest` and `tent apply` can read a
//! box back without any file of ours.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BoxSpec {
    pub image: String,
    /// Extra packages installed at provisioning.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<String>,
    /// A home of the box's own instead of the user's real home.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub home: Option<PathBuf>,
    /// With `home`: mount the real home as well.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub mount_home: bool,
    /// Extra volumes, `SRC:DST[:OPTIONS]` as the engines take them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Rootful box (podman through sudo for a plain user).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub root: bool,
    /// A rootful box whose sudo asks for no password (`--sudo-nopasswd`):
    /// anything running as the user in it can then become host root.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sudo_nopasswd: bool,
    /// Shell commands run once, as root, after the box is made.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub init_hooks: Vec<String>,
    /// Shell commands run as root at every start.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub start_hooks: Vec<String>,
    /// The manifest (canonical path) that made the box, so `tent apply --prune`
    /// only ever removes boxes of that manifest. None for boxes made by hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<PathBuf>,
}

/// Refuses an image string the engine would take for something else: one
/// that begins with `-` reaches the engine's argv as an option, and empty,
/// blank or control characters are never an image reference.
pub fn validate_image(image: &str) -> crate::error::Result<()> {
    let why = if image.trim().is_empty() {
        "it is empty"
    } else if image.starts_with('-') {
        "it begins with '-', which the engine would read as an option"
    } else if image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "it holds white space or control characters"
    } else {
        return Ok(());
    };
    Err(crate::error::Error::usage(
        format!("invalid image {:?}: {why}", image),
        Some("name an image such as docker.io/library/debian:bookworm".to_string()),
    ))
}

impl BoxSpec {
    pub fn to_label(&self) -> String {
        serde_json::to_string(self).expect("a BoxSpec always serializes")
    }

    /// The spec stored on a box; None when the label is missing or unreadable.
    pub fn from_label(label: Option<&str>) -> Option<Self> {
        serde_json::from_str(label?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_that_would_be_engine_options_are_refused() {
        for bad in ["--privileged", "-v/:/host", "", " ", "debian bookworm", "a\nb"] {
            let err = validate_image(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("{bad:?}")), "the error names the image: {err}");
        }
        for good in ["debian:bookworm", "docker.io/library/debian:bookworm", "tent-test/debian:bookworm", "a@sha256:00"]
        {
            validate_image(good).unwrap();
        }
    }

    #[test]
    fn label_round_trip() {
        let mut spec = BoxSpec { image: "debian:bookworm".into(), ..Default::default() };
        spec.packages = vec!["git".into()];
        spec.env.insert("A".into(), "b c".into());
        let label = spec.to_label();
        assert_eq!(label, r#"{"image":"debian:bookworm","packages":["git"],"env":{"A":"b c"}}"#);
        assert_eq!(BoxSpec::from_label(Some(&label)), Some(spec));
        assert_eq!(BoxSpec::from_label(Some("not json")), None);
        assert_eq!(BoxSpec::from_label(None), None);
    }
}
