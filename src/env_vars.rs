//! Every environment variable tent reads, declared once with what it does.

/// Engine to use: `podman`, `docker`, or a path to either binary.
pub(crate) const TENT_ENGINE: &str = "TENT_ENGINE";
/// Default image for `tent create` when `--image` is not given.
pub(crate) const TENT_IMAGE: &str = "TENT_IMAGE";
/// Path of the config file, instead of `$XDG_CONFIG_HOME/tent/config.toml`.
pub(crate) const TENT_CONFIG: &str = "TENT_CONFIG";
/// The system's config files (`:`-separated), instead of
/// `/usr/share/tent/config.toml` and `/etc/tent/config.toml`.
pub(crate) const TENT_SYSTEM_CONFIG: &str = "TENT_SYSTEM_CONFIG";
/// Seconds `enter`, `run` and `create` wait for a box's init (default 600).
pub(crate) const TENT_READY_TIMEOUT: &str = "TENT_READY_TIMEOUT";
/// Set by tent inside every box it enters: the box's name. Exported wrappers use
/// it to run the binary directly when they are already in that box.
pub(crate) const TENT_BOX: &str = "TENT_BOX";
/// Set by the host's relay for an exported command called from another box:
/// the calling box's name, as the kernel says (information only, never trusted
/// from the caller).
pub(crate) const TENT_CALLER_BOX: &str = "TENT_CALLER_BOX";
/// In a box: the host relay's socket, set by tent's in-box shims (`tent host`).
pub(crate) const TENT_RELAY: &str = "TENT_RELAY";
/// Disables colour (https://no-color.org).
pub(crate) const NO_COLOR: &str = "NO_COLOR";
/// The host's root directory as seen by `tent create --nvidia` when it looks
/// for the NVIDIA driver (default `/`); for tests with a fake driver tree.
pub(crate) const TENT_HOST_ROOT: &str = "TENT_HOST_ROOT";
/// `engine`: `enter`, `run` and exported commands go through the engine's
/// exec even where tent could join the box's namespaces itself.
pub(crate) const TENT_EXEC: &str = "TENT_EXEC";
/// Set by `tent enter` on a terminal for the child tent it waits for (it
/// tells the terminal the box is left): the child does not track again.
pub(crate) const TENT_TRACKED: &str = "TENT_TRACKED";
/// Passed by tent to tent-exec in a box the engine has just started, with
/// the seconds to wait: tent-exec waits for the init's `ready` before it
/// runs the command (the engine's exec starts while the init still works).
pub(crate) const TENT_WAIT_READY: &str = "TENT_WAIT_READY";
