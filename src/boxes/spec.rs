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
    /// Shell commands run as root at every start, before provisioning
    /// (Distrobox's pre-init hooks).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pre_init_hooks: Vec<String>,
    /// Shell commands run as the user in the box at each `tent enter`,
    /// before the shell or command (devcontainer.json `postAttachCommand`);
    /// a failure is reported and the shell starts anyway.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attach_hooks: Vec<String>,
    /// The image's init (systemd) runs as PID 1 (`--init`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub init: bool,
    /// The host's NVIDIA userspace is passed into the box (`--nvidia`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub nvidia: bool,
    /// What the box does not share with the host (`--unshare-*`).
    #[serde(skip_serializing_if = "Unshare::is_empty")]
    pub unshare: Unshare,
    /// Raw arguments for the engine's create (`--engine-arg`), checked by
    /// `engine_args::check`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub engine_args: Vec<String>,
    /// The image's platform (`--platform`, e.g. linux/arm64).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Pull the image even when the engine has it (`--pull`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pull: bool,
    /// The box may not run host commands through tent's relay (`--no-host`):
    /// no `tent host`, no `tent` of the host, no host `xdg-open`. Stored as
    /// the exception so that older labels read as allowed, as boxes were.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_host: bool,
    /// The box keeps its own `xdg-open` instead of the host's (`--own-xdg-open`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub own_xdg_open: bool,
    /// The box stops once no command started through tent has run in it
    /// for this many seconds (`--stop-when-idle`); its init watches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_when_idle: Option<u64>,
    /// The manifest (canonical path) that made the box, so `tent apply --prune`
    /// only ever removes boxes of that manifest. None for boxes made by hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<PathBuf>,
}

/// Reads a duration such as `90`, `90s`, `15m`, `2h` or `1d` into seconds
/// (`tent create --stop-when-idle`, config `stop_when_idle`).
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = digits.parse().map_err(|_| format!("{text:?} is not a duration such as 90s, 15m or 2h"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("{text:?} has an unknown unit: use s, m, h or d (e.g. 15m)")),
    };
    match n.checked_mul(scale) {
        Some(0) => Err(format!("{text:?} is no time at all: give at least 1s")),
        Some(secs) => Ok(secs),
        None => Err(format!("{text:?} is too long")),
    }
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

/// The host namespaces and resources a box does not share (Distrobox's
/// `--unshare-*`). The home is shared whatever these say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Unshare {
    /// Own network namespace: no host network, no abstract sockets of the host.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub netns: bool,
    /// Own IPC namespace: no host shared memory.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ipc: bool,
    /// Own PID namespace: host processes are not visible.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub process: bool,
    /// The host's /dev and /sys are not mounted.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub devsys: bool,
    /// The user's host groups are not kept.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub groups: bool,
}

impl Unshare {
    /// The names used by `--unshare-NAME` and tent.toml's `unshare` list.
    pub const NAMES: [&'static str; 5] = ["netns", "ipc", "process", "devsys", "groups"];

    pub fn all() -> Self {
        Unshare { netns: true, ipc: true, process: true, devsys: true, groups: true }
    }

    pub fn is_empty(&self) -> bool {
        *self == Unshare::default()
    }

    /// Sets one by name; false for an unknown name ("all" sets every one).
    pub fn set(&mut self, name: &str) -> bool {
        match name {
            "netns" => self.netns = true,
            "ipc" => self.ipc = true,
            "process" => self.process = true,
            "devsys" => self.devsys = true,
            "groups" => self.groups = true,
            "all" => *self = Unshare::all(),
            _ => return false,
        }
        true
    }

    /// The names that are set, in `NAMES` order.
    pub fn names(&self) -> Vec<&'static str> {
        let on = [self.netns, self.ipc, self.process, self.devsys, self.groups];
        Unshare::NAMES.iter().zip(on).filter(|(_, on)| *on).map(|(n, _)| *n).collect()
    }
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
    fn durations_read_as_seconds() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("3s"), Ok(3));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration(" 2h "), Ok(7200));
        assert_eq!(parse_duration("1d"), Ok(86400));
        for bad in ["", "m", "0s", "1.5h", "-3", "3 weeks", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

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

    #[test]
    fn new_options_round_trip_and_old_labels_still_read() {
        let mut spec = BoxSpec { image: "x".into(), init: true, nvidia: true, ..Default::default() };
        spec.unshare.netns = true;
        spec.engine_args = vec!["--env=A=1".into()];
        spec.pre_init_hooks = vec!["echo pre".into()];
        let label = spec.to_label();
        assert!(label.contains(r#""unshare":{"netns":true}"#), "{label}");
        assert_eq!(BoxSpec::from_label(Some(&label)), Some(spec));
        let old = BoxSpec::from_label(Some(r#"{"image":"x","init_hooks":["a"]}"#)).unwrap();
        assert!(!old.init && old.unshare.is_empty() && old.init_hooks == ["a"]);
        assert!(!old.no_host && !old.own_xdg_open, "boxes from before --no-host may reach the host");
    }

    #[test]
    fn no_host_is_in_the_label_only_when_set() {
        let spec = BoxSpec { image: "x".into(), no_host: true, own_xdg_open: true, ..Default::default() };
        let label = spec.to_label();
        assert!(label.contains(r#""no_host":true"#) && label.contains(r#""own_xdg_open":true"#), "{label}");
        assert_eq!(BoxSpec::from_label(Some(&label)), Some(spec));
        assert!(!BoxSpec { image: "x".into(), ..Default::default() }.to_label().contains("host"));
    }

    #[test]
    fn unshare_names() {
        let mut u = Unshare::default();
        assert!(u.set("ipc") && u.set("groups") && !u.set("pid"));
        assert_eq!(u.names(), ["ipc", "groups"]);
        assert!(u.set("all"));
        assert_eq!(u.names(), Unshare::NAMES);
    }
}
