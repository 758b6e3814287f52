//! The environment of what the relay runs: its own variables, the caller's
//! session variables that may cross, and the caller's box for information.

use std::ffi::{OsStr, OsString};

/// The relay's own variables its commands get: who and where the user is,
/// and how the engine is reached, so `tent run` finds the same boxes.
const OWN_ENV: &[&str] = &[
    "HOME",
    "USER",
    "LOGNAME",
    "PATH",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "XDG_CACHE_HOME",
    "CONTAINERS_CONF",
    "CONTAINERS_STORAGE_CONF",
    "CONTAINERS_REGISTRIES_CONF",
    "CONTAINER_HOST",
    "CONTAINER_CONNECTION",
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_CONFIG",
    "DOCKER_CERT_PATH",
    "DOCKER_TLS_VERIFY",
];

/// Whether a caller's variable may reach the command: a session variable
/// (terminal, display, locale...), but nothing that steers tent, the dynamic
/// loader or where state lives.
fn caller_var_allowed(key: &OsStr, value: &OsStr) -> bool {
    let Some(key) = key.to_str() else { return false };
    crate::boxes::host::PASSTHROUGH_ENV.contains(&key)
        && !key.starts_with("TENT_")
        && !key.starts_with("LD_")
        && (!key.starts_with("XDG_") || !key.ends_with("_HOME"))
        && key != "XDG_RUNTIME_DIR"
        && !OWN_ENV.contains(&key)
        && !value.as_encoded_bytes().contains(&0)
}

/// The command's whole environment: the relay's own `OWN_ENV` (from `own`),
/// the caller's allowed variables, and the caller's box for information.
pub(super) fn child_env(
    own: impl Fn(&str) -> Option<OsString>,
    caller: &[(OsString, OsString)],
    caller_box: Option<&str>,
) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> =
        OWN_ENV.iter().filter_map(|k| own(k).map(|v| (OsString::from(k), v))).collect();
    for (k, v) in caller {
        if caller_var_allowed(k, v) && !env.iter().any(|(have, _)| have == k) {
            env.push((k.clone(), v.clone()));
        }
    }
    if let Some(name) = caller_box {
        env.push((crate::env_vars::TENT_CALLER_BOX.into(), name.into()));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_session_variables_cross() {
        let caller: Vec<(OsString, OsString)> = [
            ("TERM", "xterm-256color"),
            ("LANG", "de_DE.UTF-8"),
            ("TENT_ENGINE", "/tmp/evil/podman"),
            ("TENT_CONFIG", "/tmp/evil.toml"),
            ("LD_PRELOAD", "/tmp/evil.so"),
            ("XDG_STATE_HOME", "/tmp/evil-state"),
            ("XDG_CONFIG_HOME", "/tmp/evil-config"),
            ("XDG_RUNTIME_DIR", "/tmp/evil-run"),
            ("HOME", "/tmp/evil-home"),
            ("PATH", "/tmp/evil:/usr/bin"),
            ("BASH_ENV", "/tmp/evil.sh"),
            ("TENT_CALLER_BOX", "forged"),
        ]
        .iter()
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .collect();
        let own = |k: &str| match k {
            "HOME" => Some(OsString::from("/home/u")),
            "PATH" => Some(OsString::from("/usr/bin:/bin")),
            "XDG_RUNTIME_DIR" => Some(OsString::from("/run/user/1000")),
            _ => None,
        };
        let env = child_env(own, &caller, Some("b"));
        let get = |k: &str| env.iter().find(|(key, _)| key == k).map(|(_, v)| v.to_str().unwrap().to_string());
        assert_eq!(get("TERM").as_deref(), Some("xterm-256color"));
        assert_eq!(get("LANG").as_deref(), Some("de_DE.UTF-8"));
        assert_eq!(get("HOME").as_deref(), Some("/home/u"));
        assert_eq!(get("PATH").as_deref(), Some("/usr/bin:/bin"));
        assert_eq!(get("XDG_RUNTIME_DIR").as_deref(), Some("/run/user/1000"));
        assert_eq!(get("TENT_CALLER_BOX").as_deref(), Some("b"));
        for dropped in ["TENT_ENGINE", "TENT_CONFIG", "LD_PRELOAD", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "BASH_ENV"] {
            assert_eq!(get(dropped), None, "{dropped}");
        }
        assert_eq!(env.iter().filter(|(k, _)| k == "TENT_CALLER_BOX").count(), 1, "never the caller's own claim");
        assert!(!caller_var_allowed(OsStr::new("TERM"), OsStr::new("a\0b")));
    }
}
