//! Boxes on an engine at another endpoint (issue 21, phase 1): another
//! machine's podman reached over ssh (`CONTAINER_HOST=ssh://…`, a podman
//! connection), or any engine service whose disk is not this machine's.
//!
//! Nothing of such a box comes from the local disk, because the engine
//! resolves every bind mount on its own machine:
//! - the home is a named volume there, one per user (`tent-home-USER`), so it
//!   outlives stop, rollback, upgrade and `rm`, and all of the user's boxes on
//!   that machine share it as local boxes share the real home;
//! - tent's scripts travel in the container's own configuration (the entry
//!   point's arguments) and are written at each start to a tmpfs at
//!   `/run/.tent` (lib and state), so a start never sees an old `ready`;
//! - readiness is asked of the box through the engine's exec
//!   (`ready_probe`), never read from a local state directory;
//! - commands run through the engine's exec; nothing joins namespaces.
//!
//! What needs this machine (its display, GPU, folders, sudo, the relay) is
//! refused before anything is made: `refusal` says why and what to do.
//! Here the pure parts (argv, scripts, refusals); making, starting and
//! waiting for such a box is `runtime::remote`.

use std::path::{Path, PathBuf};

use super::container;
use super::{BoxSpec, HostUser, labels};
use crate::engine::Engine;

/// The tmpfs that holds a remote box's lib and state, fresh at every start.
pub const RUN_IN_BOX: &str = "/run/.tent";

/// The label of a box made for a remote engine, holding its home volume: a
/// box without it (made some other way, or by a tent before phase 1) has no
/// init tent can ask, and is refused instead of waited for.
pub const LABEL: &str = "tent.remote-home";

/// The named volume on the engine's machine that is `user`'s home in every
/// one of their remote boxes there. None for a user name that is not a plain
/// volume name (the engines take `[a-zA-Z0-9][a-zA-Z0-9_.-]*`).
pub fn home_volume(user: &str) -> Option<String> {
    let plain = user.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && user.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        && user.len() <= 64;
    plain.then(|| format!("tent-home-{user}"))
}

/// Whether `engine` runs its containers on another machine (or another
/// service's disk): then nothing local may be mounted, joined or read.
pub fn is_remote(engine: &Engine) -> bool {
    !engine.is_local()
}

/// With `--root` (rootful podman through sudo): the endpoint the user's own
/// environment names when it is a remote one. sudo drops that environment,
/// so the engine tent reaches is this machine's; a box made there for a user
/// who pointed tent elsewhere would land on the wrong machine.
pub fn hidden_by_sudo(engine: &Engine) -> Option<String> {
    if !engine.through_sudo() {
        return None;
    }
    let own = crate::engine::endpoint::from_environment(
        engine.kind,
        &engine.path,
        false,
        &crate::engine::endpoint::Chosen::default(),
    );
    own.remote().map(|remote| remote.address.clone())
}

/// The variables set now that point the engine's client at a remote
/// endpoint (none for a local one), for what must reach the same box later
/// from a plain shell (an exported command's wrapper). Secrets (a key's
/// passphrase) are never among them. tent's own `--url`/`--connection` (or a
/// manifest's `endpoint`/`connection`) become the client's variable for it,
/// in place of the environment's choice.
pub fn endpoint_env(engine: &Engine) -> Vec<(String, String)> {
    endpoint_env_from(engine, &|key| std::env::var(key).ok())
}

fn endpoint_env_from(engine: &Engine, env: &dyn Fn(&str) -> Option<String>) -> Vec<(String, String)> {
    let Some(remote) = engine.endpoint.remote() else { return Vec::new() };
    let (keys, url_var, name_var): (&[&str], _, _) = if engine.is_podman() {
        (
            &["CONTAINER_HOST", "CONTAINER_CONNECTION", "CONTAINER_SSHKEY", "CONTAINERS_CONF"],
            "CONTAINER_HOST",
            "CONTAINER_CONNECTION",
        )
    } else {
        (
            &["DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY"],
            "DOCKER_HOST",
            "DOCKER_CONTEXT",
        )
    };
    let chosen = match remote.client_args.as_slice() {
        [flag, value] if flag == "--url" || flag == "--host" => Some((url_var, value.clone())),
        [flag, value] if flag == "--connection" || flag == "--context" => Some((name_var, value.clone())),
        _ => None,
    };
    let mut vars: Vec<(String, String)> = keys
        .iter()
        .filter(|key| chosen.is_none() || (**key != url_var && **key != name_var))
        .filter_map(|key| env(key).filter(|v| !v.is_empty()).map(|v| (key.to_string(), v)))
        .collect();
    if let Some((key, value)) = chosen {
        vars.insert(0, (key.to_string(), value));
    }
    vars
}

/// The longest endpoint address or connection name a manifest may give.
pub const MAX_ENDPOINT_LEN: usize = 512;

/// Checks an engine address from a file a box can write (tent.toml's
/// `endpoint`) before it reaches the engine's client as `--url`/`--host`:
/// `ssh://[USER@]HOST[:PORT][/PATH]`, `unix:///PATH` or `tcp://HOST:PORT`,
/// in plain characters, nothing that could read as an option (a host or user
/// that begins with `-` was once ssh's `-oProxyCommand`). Err says what is
/// wrong, for the manifest's message.
pub fn check_address(address: &str) -> Result<(), String> {
    if address.is_empty() {
        return Err("the address is empty".into());
    }
    if address.len() > MAX_ENDPOINT_LEN {
        return Err(format!("the address is longer than {MAX_ENDPOINT_LEN} characters"));
    }
    if let Some(c) = address.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!("the address has a character {c:?} that no engine address has"));
    }
    let Some((scheme, rest)) = address.split_once("://") else {
        return Err("the address has no scheme: write ssh://USER@HOST/SOCKET, unix:///SOCKET or tcp://HOST:PORT".into());
    };
    let path_ok = |path: &str| path.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-~+@%=".contains(&b));
    match scheme {
        "unix" => {
            let path = rest;
            if !path.starts_with('/') || path.len() < 2 {
                return Err(
                    "a unix:// address needs the socket's absolute path (unix:///run/podman/podman.sock)".into()
                );
            }
            if !path_ok(path) {
                return Err("the socket path has characters other than letters, digits and / . _ - ~ + @ % =".into());
            }
            Ok(())
        }
        "ssh" | "tcp" => {
            let (authority, path) = match rest.find(['/', '?']) {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            let (user, host_port) = match authority.rsplit_once('@') {
                Some((user, host)) => (Some(user), host),
                None => (None, authority),
            };
            if let Some(user) = user {
                if scheme == "tcp" {
                    return Err("a tcp:// address has no user".into());
                }
                let plain = user.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
                if user.is_empty() || user.starts_with('-') || !plain {
                    return Err(format!("{user:?} is not a user name (letters, digits, . _ -, not first -)"));
                }
            }
            let (host, port) = split_port(host_port)?;
            if host.is_empty() {
                return Err("the address names no host".into());
            }
            let bracketed = host.starts_with('[') && host.ends_with(']');
            let plain = if bracketed {
                host[1..host.len() - 1].bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
            } else {
                host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-_".contains(&b))
            };
            if host.starts_with('-') || !plain {
                return Err(format!("{host:?} is not a host name or address"));
            }
            if scheme == "tcp" && (port.is_none() || !path.is_empty()) {
                return Err("a tcp:// address is HOST:PORT and nothing more".into());
            }
            let (path, query) = path.split_once('?').unwrap_or((path, ""));
            if !path_ok(path) || !query.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-=&".contains(&b)) {
                return Err("the path has characters other than letters, digits and / . _ - ~ + @ % =".into());
            }
            Ok(())
        }
        other => Err(format!("tent reaches engines over ssh://, unix:// and tcp://, not {other}://")),
    }
}

/// `HOST[:PORT]` (a bracketed IPv6 host keeps its colons); a port is 1 to 65535.
fn split_port(host_port: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if host_port.starts_with('[') {
        match host_port.find(']') {
            Some(end) => {
                let (host, rest) = host_port.split_at(end + 1);
                match rest.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None if rest.is_empty() => (host, None),
                    None => return Err(format!("{host_port:?} is not HOST:PORT")),
                }
            }
            None => return Err(format!("{host_port:?} opens a [ it does not close")),
        }
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    match port {
        None => Ok((host, None)),
        Some(port) => match port.parse::<u16>() {
            Ok(n) if n > 0 && port.bytes().all(|b| b.is_ascii_digit()) => Ok((host, Some(n))),
            _ => Err(format!("{port:?} is not a port number")),
        },
    }
}

/// Checks a podman connection or Docker context name from a file a box can
/// write (tent.toml's `connection`): a plain name, which the engine's client
/// looks up in its own configuration.
pub fn check_connection(name: &str) -> Result<(), String> {
    let plain = name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
    if name.len() > 128 || !plain {
        return Err(format!(
            "{:?} is not a connection name (letters, digits and . _ @ -, beginning with a letter or digit, \
             at most 128)",
            crate::text::sanitize(name)
        ));
    }
    Ok(())
}

/// Why a remote box cannot have `spec`, and what to do instead; None when it can.
pub fn refusal(spec: &BoxSpec) -> Option<(String, String)> {
    let ssh = "or run tent on that machine itself (`ssh -X HOST`, then `tent create` there)";
    if spec.nvidia {
        return Some((
            "--nvidia passes this machine's NVIDIA driver into the box, and the box runs on another machine".into(),
            format!("create it without --nvidia, {ssh}, where --nvidia finds that machine's driver"),
        ));
    }
    if let Some(home) = &spec.home {
        return Some((
            format!("--home {} is a folder on this machine, which the remote engine cannot mount", home.display()),
            format!(
                "leave --home out: a remote box's home is a volume on that machine (tent-home-USER), kept across \
                 stop, upgrade and rm; {ssh}"
            ),
        ));
    }
    if let Some(volume) = spec.volumes.iter().find(|v| local_path_volume(v)) {
        return Some((
            format!("--volume {volume} mounts a path, and the remote engine would take it on its own machine"),
            "name a volume of that machine instead (`--volume NAME:/path`), or copy the files into the box \
             (`tent run BOX sh -c 'cat > FILE' < FILE`)"
                .into(),
        ));
    }
    if spec.root {
        return Some((
            "--root reaches rootful podman through sudo on this machine, not on the remote one".into(),
            "point the connection at the remote machine's rootful service instead \
             (ssh://root@HOST/run/podman/podman.sock), or run `tent --root` on that machine"
                .into(),
        ));
    }
    None
}

/// Whether a `--volume` value's source is a path (local to whoever reads it),
/// not a named volume.
fn local_path_volume(volume: &str) -> bool {
    let source = volume.split(':').next().unwrap_or("");
    source.starts_with('/') || source.starts_with('.') || source.starts_with('~') || !volume.contains(':')
}

/// What a box on a remote engine is made from, resolved on this machine.
pub struct RemotePlan<'a> {
    pub name: &'a str,
    pub spec: &'a BoxSpec,
    pub user: &'a HostUser,
    /// The home volume (`home_volume`).
    pub volume: &'a str,
    pub lib_hash: &'a str,
    /// The id of the image the box is made from, when known (`tent.image-id`).
    pub image_id: Option<&'a str>,
}

/// The boot step, run by `/bin/sh -c` as the container's entry point with
/// the three scripts as its arguments: writes them to the fresh tmpfs, gives
/// the state directory and the home's top to the user, and becomes tent-init.
const BOOT: &str = r#"d=/run/.tent
mkdir -p "$d/lib" "$d/state" || exit 1
printf '%s' "$1" >"$d/lib/tent-init" && printf '%s' "$2" >"$d/lib/tent-exec" &&
    printf '%s' "$3" >"$d/lib/tent-host" || { echo "tent: cannot write $d/lib" >&2; exit 1; }
chmod 755 "$d/lib" "$d/lib/tent-init" "$d/lib/tent-exec" "$d/lib/tent-host"
chmod 700 "$d/state"
chown "$TENT_UID:$TENT_GID" "$d/lib" "$d/state" || exit 1
# A new volume's top is root's: the user's home is the user's.
[ "$TENT_UID" = 0 ] || [ ! -d "$TENT_HOME" ] || chown "$TENT_UID:$TENT_GID" "$TENT_HOME"
shift 3
exec /bin/sh "$d/lib/tent-init" "$@"
"#;

/// The engine argv that makes a remote box as container `container` (from
/// `image` when given: a snapshot, a loaded box). The box shares the remote
/// machine's network, processes and IPC as a local box shares this one's
/// (unless unshared); no path of this machine appears in it.
pub fn create_argv(engine: &Engine, plan: &RemotePlan<'_>, container: &str, image: Option<&str>) -> Vec<String> {
    let spec = plan.spec;
    let user = plan.user;
    let mut a: Vec<String> = vec!["create".into(), "--name".into(), container.into()];
    let mut flag = |name: &str, value: String| {
        a.push(name.into());
        a.push(value);
    };
    flag("--hostname", spec.hostname.clone().unwrap_or_else(|| super::name::hostname_for(plan.name)));
    if !spec.unshare.netns {
        flag("--network", "host".into());
    }
    if !spec.unshare.process && !spec.init {
        flag("--pid", "host".into());
    }
    if !spec.unshare.ipc {
        flag("--ipc", "host".into());
    }
    if let Some(platform) = &spec.platform {
        flag("--platform", platform.clone());
    }
    flag("--user", "root:root".into());
    flag("--security-opt", "label=disable".into());
    flag("--label", format!("{}={}", labels::FORMAT, labels::FORMAT_VERSION));
    flag("--label", format!("{}={}", labels::SPEC, spec.to_label()));
    flag("--label", format!("{}={}", labels::LIB, plan.lib_hash));
    flag("--label", format!("{}={}", labels::VERSION, env!("CARGO_PKG_VERSION")));
    flag("--label", format!("{}={}", labels::UID, user.uid));
    flag("--label", format!("{}={}", labels::MADE, container::made()));
    if let Some(label) = container::image_id_label(plan.image_id) {
        flag("--label", label);
    }
    flag("--label", format!("{LABEL}={}", plan.volume));
    flag("--tmpfs", format!("{RUN_IN_BOX}:rw,exec,mode=755"));
    flag("--volume", format!("{}:{}", plan.volume, user.home.display()));
    // Named volumes only (`refusal` turned paths away).
    for volume in &spec.volumes {
        flag("--volume", volume.clone());
    }
    let env = [
        ("TENT_BOX", plan.name.to_string()),
        ("TENT_USER", user.name.clone()),
        ("TENT_UID", user.uid.to_string()),
        ("TENT_GID", user.gid.to_string()),
        ("TENT_GROUP", user.group.clone()),
        ("TENT_HOME", user.home.display().to_string()),
        ("TENT_SHELL", user.shell.clone()),
        ("TENT_PACKAGES", spec.packages.join(" ")),
        ("TENT_INIT", if spec.init { "1" } else { "" }.into()),
    ];
    for (key, value) in env {
        flag("--env", format!("{key}={value}"));
    }
    for (key, value) in &spec.env {
        flag("--env", format!("{key}={value}"));
    }
    // As in a rootful box, tent-init trusts nothing in the state directory
    // and takes the hooks from the container's configuration.
    for (key, value) in container::rootful_env(spec, true) {
        flag("--env", format!("{key}={value}"));
    }
    if !spec.attach_hooks.is_empty() {
        // Read by tent-exec, as the user, at `tent enter` (TENT_ATTACH=1).
        let script = super::scripts::hook_script(&spec.attach_hooks);
        flag("--env", format!("{}={script}", container::ATTACH_HOOK_ENV));
    }
    if spec.init {
        container::init_flags(engine, &mut a);
    }
    a.extend(spec.engine_args.iter().cloned());
    a.extend(["--entrypoint".into(), "/bin/sh".into()]);
    a.push(image.unwrap_or(&spec.image).to_string());
    a.extend(boot_command());
    a
}

/// The entry point's arguments: the boot step and this build's scripts.
pub fn boot_command() -> Vec<String> {
    vec![
        "-c".into(),
        BOOT.into(),
        "tent-boot".into(),
        super::scripts::INIT_SCRIPT.into(),
        super::scripts::EXEC_SCRIPT.into(),
        super::scripts::HOST_SCRIPT.into(),
    ]
}

/// Run as root in the box through the engine's exec, with the seconds to
/// wait: prints the init's new `==> ` lines as they come, then `ready`, or
/// `failed REASON` and the log's tail (status 3), or `timeout` and the tail
/// (status 4).
const READY_PROBE: &str = r#"s=/run/.tent/state
began=$(date +%s)
end=$((began + $1))
seen=0
while :; do
    if [ ! -d "$s" ] && [ "$(date +%s)" -ge $((began + 15)) ]; then
        echo "failed tent's init never ran in it (no $s)"
        exit 3
    fi
    if [ -s "$s/ready" ] || [ -s "$s/ready.ns" ]; then echo ready; exit 0; fi
    if [ -f "$s/init.log" ]; then
        total=$(wc -l <"$s/init.log")
        if [ "$total" -gt "$seen" ]; then
            sed -n "$((seen + 1)),${total}p" "$s/init.log" | grep '^==> '
            seen=$total
        fi
    fi
    if [ -s "$s/failed" ]; then
        printf 'failed %s\n' "$(head -n 1 "$s/failed")"
        tail -n 15 "$s/init.log" 2>/dev/null
        exit 3
    fi
    if [ "$(date +%s)" -ge "$end" ]; then echo timeout; tail -n 15 "$s/init.log" 2>/dev/null; exit 4; fi
    sleep 0.2 2>/dev/null || sleep 1
done
"#;

/// The exec argv that waits in box `name` for its init (`READY_PROBE`).
pub fn ready_probe(name: &str, seconds: u64) -> Vec<String> {
    vec![
        "exec".into(),
        "--user".into(),
        "root".into(),
        name.into(),
        "/bin/sh".into(),
        "-c".into(),
        READY_PROBE.into(),
        "tent-ready".into(),
        seconds.to_string(),
    ]
}

/// What the probe's output says once it ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Probe {
    Ready,
    Failed { reason: String, log_tail: String },
    Timeout { log_tail: String },
}

/// Reads the probe's lines after its progress lines (pure, for tests).
pub fn parse_probe(rest: &[String]) -> Option<Probe> {
    let (first, tail) = rest.split_first()?;
    let log_tail = tail.join("\n");
    if first == "ready" {
        Some(Probe::Ready)
    } else if let Some(reason) = first.strip_prefix("failed ") {
        Some(Probe::Failed { reason: reason.to_string(), log_tail })
    } else if first == "timeout" {
        Some(Probe::Timeout { log_tail })
    } else {
        None
    }
}

/// The directory a command starts in, in a remote box: the local one when it
/// is under the home (the same path in the box, which has the home volume
/// there), else the home.
pub fn start_dir(cwd: &Path, home: &Path) -> PathBuf {
    if cwd.starts_with(home) { cwd.to_path_buf() } else { home.to_path_buf() }
}

/// The environment a command in a remote box gets from this machine: the
/// terminal's and the language's, nothing that names a local path or socket.
pub fn session_env() -> Vec<(String, String)> {
    ["TERM", "COLORTERM", "TERM_PROGRAM", "LANG", "LC_ALL"]
        .iter()
        .filter_map(|key| std::env::var(key).ok().map(|value| (key.to_string(), value)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boxes::container::{EXEC_IN_BOX, INIT_IN_BOX, LIB_IN_BOX, STATE_IN_BOX};

    fn user() -> HostUser {
        HostUser {
            name: "ann".into(),
            uid: 1000,
            gid: 1000,
            group: "ann".into(),
            home: PathBuf::from("/home/ann"),
            shell: "/bin/bash".into(),
            groups: vec![27],
        }
    }

    fn argv(spec: &BoxSpec) -> Vec<String> {
        let engine = Engine::detect(Some("/usr/bin/podman"), false).unwrap_or_else(|_| unreachable!());
        let u = user();
        let id = "4".repeat(64);
        let plan =
            RemotePlan { name: "dev", spec, user: &u, volume: "tent-home-ann", lib_hash: "ab", image_id: Some(&id) };
        create_argv(&engine, &plan, "dev", None)
    }

    #[test]
    fn nothing_local_is_mounted() {
        let spec = BoxSpec { image: "img".into(), volumes: vec!["cache:/var/cache".into()], ..Default::default() };
        let a = argv(&spec);
        let mounts: Vec<&String> =
            a.windows(2).filter(|w| w[0] == "--volume" || w[0] == "--mount").map(|w| &w[1]).collect();
        assert_eq!(mounts, ["tent-home-ann:/home/ann", "cache:/var/cache"]);
        assert!(a.windows(2).any(|w| w[0] == "--tmpfs" && w[1].starts_with("/run/.tent:")));
        let flags = &a[..a.iter().position(|w| w == "img").unwrap()];
        assert!(!flags.iter().any(|w| w.contains(LIB_IN_BOX)), "no lib bind mount");
        assert!(!flags.iter().any(|w| w.contains("/run/host")), "the local root is not there");
        assert!(a.iter().any(|w| w == "TENT_ROOTFUL=1"), "tent-init trusts no state file");
        assert!(a.iter().any(|w| w == "tent.remote-home=tent-home-ann"), "marked as a remote box");
        assert!(a.iter().any(|w| w == &format!("tent.image-id={}", "4".repeat(64))), "it names its image");
        assert!(!a.iter().any(|w| w == "--userns"), "no keep-id: the uid is the user's own");
        let hooked = argv(&BoxSpec { image: "img".into(), attach_hooks: vec!["echo hi".into()], ..Default::default() });
        assert!(hooked.iter().any(|w| w == "TENT_HOOK_ATTACH=set -e\necho hi\n"), "attach hooks ride along");
    }

    #[test]
    fn the_scripts_travel_in_the_entry_point() {
        let a = argv(&BoxSpec { image: "img".into(), ..Default::default() });
        let at = a.iter().position(|w| w == "img").unwrap();
        assert_eq!(&a[at - 2..at], ["--entrypoint", "/bin/sh"]);
        assert_eq!(a[at + 1], "-c");
        assert_eq!(a[at + 3], "tent-boot");
        assert_eq!(a[at + 4], super::super::scripts::INIT_SCRIPT);
        assert_eq!(a[at + 5], super::super::scripts::EXEC_SCRIPT);
        assert_eq!(a[at + 6], super::super::scripts::HOST_SCRIPT);
        assert_eq!(a.len(), at + 7);
        // The boot step writes them where the exec side looks for them.
        assert!(BOOT.contains("\"$d/lib/tent-init\"") && INIT_IN_BOX == "/run/.tent/lib/tent-init");
        assert_eq!(EXEC_IN_BOX, "/run/.tent/lib/tent-exec");
        assert_eq!(STATE_IN_BOX, "/run/.tent/state");
    }

    #[test]
    fn local_things_are_refused_with_a_way_out() {
        let base = BoxSpec { image: "img".into(), ..Default::default() };
        assert!(refusal(&base).is_none());
        assert!(refusal(&BoxSpec { volumes: vec!["data:/data:ro".into()], ..base.clone() }).is_none());
        for spec in [
            BoxSpec { nvidia: true, ..base.clone() },
            BoxSpec { home: Some("/home/ann/boxes/x".into()), ..base.clone() },
            BoxSpec { volumes: vec!["/srv:/srv".into()], ..base.clone() },
            BoxSpec { volumes: vec!["./src:/src".into()], ..base.clone() },
            BoxSpec { volumes: vec!["/data".into()], ..base.clone() },
            BoxSpec { root: true, ..base.clone() },
        ] {
            let (why, instead) = refusal(&spec).unwrap_or_else(|| panic!("{spec:?} is refused"));
            assert!(!why.is_empty() && !instead.is_empty());
        }
    }

    #[test]
    fn home_volume_names_are_plain() {
        assert_eq!(home_volume("ann").as_deref(), Some("tent-home-ann"));
        assert_eq!(home_volume("a.b_c-d").as_deref(), Some("tent-home-a.b_c-d"));
        for bad in ["", "-x", "a/b", "a:b", "a b", ".x"] {
            assert_eq!(home_volume(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn probe_answers_are_read() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(parse_probe(&s(&["ready"])), Some(Probe::Ready));
        assert_eq!(
            parse_probe(&s(&["failed no apt", "a", "b"])),
            Some(Probe::Failed { reason: "no apt".into(), log_tail: "a\nb".into() })
        );
        assert_eq!(parse_probe(&s(&["timeout", "x"])), Some(Probe::Timeout { log_tail: "x".into() }));
        assert_eq!(parse_probe(&s(&[])), None);
        assert_eq!(parse_probe(&s(&["Error: no container"])), None);
    }

    #[test]
    fn commands_start_in_the_home_unless_under_it() {
        let home = Path::new("/home/ann");
        assert_eq!(start_dir(Path::new("/home/ann/src"), home), Path::new("/home/ann/src"));
        assert_eq!(start_dir(Path::new("/etc"), home), home);
    }

    #[test]
    fn a_wrapper_reaches_the_endpoint_tent_was_pointed_at() {
        let env = |key: &str| match key {
            "CONTAINER_HOST" => Some("ssh://me@env-host/s".to_string()),
            "CONTAINER_SSHKEY" => Some("/home/ann/.ssh/id".to_string()),
            "DOCKER_CONTEXT" => Some("ctx".to_string()),
            _ => None,
        };
        let mut podman = Engine::plain(crate::engine::EngineKind::Podman, true);
        assert!(endpoint_env_from(&podman, &env).is_empty(), "a local box needs nothing");
        let remote = |address: &str, args: &[&str]| {
            crate::engine::Endpoint::Remote(crate::engine::endpoint::Remote {
                kind: crate::engine::EngineKind::Podman,
                address: address.into(),
                source: "test".into(),
                client_args: args.iter().map(|a| a.to_string()).collect(),
            })
        };
        podman.endpoint = remote("ssh://me@env-host/s", &[]);
        let pairs = |v: Vec<(String, String)>| v.into_iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>();
        assert_eq!(
            pairs(endpoint_env_from(&podman, &env)),
            ["CONTAINER_HOST=ssh://me@env-host/s", "CONTAINER_SSHKEY=/home/ann/.ssh/id"]
        );
        // tent --connection (or a manifest's connection) wins over the environment's host.
        podman.endpoint = remote("ssh://me@build/s", &["--connection", "build"]);
        assert_eq!(
            pairs(endpoint_env_from(&podman, &env)),
            ["CONTAINER_CONNECTION=build", "CONTAINER_SSHKEY=/home/ann/.ssh/id"]
        );
        let mut docker = Engine::plain(crate::engine::EngineKind::Docker, false);
        docker.endpoint = remote("unix:///run/other.sock", &["--host", "unix:///run/other.sock"]);
        assert_eq!(pairs(endpoint_env_from(&docker, &env)), ["DOCKER_HOST=unix:///run/other.sock"]);
    }

    #[test]
    fn manifest_endpoints_are_plain_addresses() {
        for ok in [
            "ssh://me@build/run/user/1000/podman/podman.sock",
            "ssh://tent-remote@127.0.0.1:2222/run/user/1003/podman/podman.sock",
            "ssh://me@[::1]:22/run/podman/podman.sock?secure=true",
            "ssh://build",
            "unix:///run/tent-test-docker2.sock",
            "unix:///@-",
            "tcp://10.0.0.2:2375",
        ] {
            assert_eq!(check_address(ok), Ok(()), "{ok}");
        }
        for bad in [
            "ssh://-oProxyCommand=sh@h/s",
            "ssh://me@-oProxyCommand=sh/s",
            "ssh://me@host/s;rm",
            "ssh://me@host:0/s",
            "ssh://me@[::1/s",
            "tcp://me@host:1",
            "tcp://host:1/path",
            "file:///etc/passwd",
            "unix://",
            "--url=x",
        ] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
        assert_eq!(check_connection("build-1.example@x"), Ok(()));
        assert!(check_connection("-build").is_err());
        assert!(check_connection("a/b").is_err());
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            /// Any text is checked without a panic, and what passes could
            /// never read as an option or split into two words.
            #[test]
            fn accepted_addresses_are_plain(text in prop_oneof![
                any::<String>(),
                "(ssh|unix|tcp|http)://[-a-z@:.\\[\\]/ ?=]{0,20}",
            ]) {
                if check_address(&text).is_ok() {
                    prop_assert!(!text.starts_with('-') && !text.contains("://-"));
                    // A user or host that reads as an option: the authority
                    // only (a socket path such as `unix:///@-` is one word of
                    // a path; found by this property with another seed).
                    let rest = text.split_once("://").map_or("", |(_, rest)| rest);
                    let authority = rest.split(['/', '?']).next().unwrap_or("");
                    prop_assert!(!authority.contains("@-") && !authority.starts_with('-'), "{}", text);
                    prop_assert!(text.chars().all(|c| c.is_ascii_graphic()));
                }
                if check_connection(&text).is_ok() {
                    prop_assert!(!text.starts_with('-') && text.chars().all(|c| c.is_ascii_graphic()));
                }
            }
        }
    }
}
