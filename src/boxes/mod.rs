//! What a box is: the spec the user asked for, the host user it mirrors, its
//! name rules, the labels that mark it, the container's argv, the scripts it
//! runs and what its snapshots are called. Pure descriptions from plain data
//! (reading host facts aside): making, starting and stopping a box is
//! `runtime`, taking and swapping snapshots `snapshots`, and this part
//! imports neither.

pub mod container;
pub mod engine_args;
pub mod host;
pub mod name;
pub mod nvidia;
pub mod remote;
pub mod scripts;
pub mod snapshot;
pub mod spec;
pub mod xauth;

pub use host::{HostFacts, HostUser};
pub use name::validate_name;
pub use spec::BoxSpec;

/// Labels on every tent box.
pub mod labels {
    /// Marks a tent box; its value is the label format version.
    pub const FORMAT: &str = "tent.format";
    pub const FORMAT_VERSION: &str = "1";
    /// The `BoxSpec` the box was made from, as JSON.
    pub const SPEC: &str = "tent.spec";
    /// The content hash of the init scripts the box was made with.
    pub const LIB: &str = "tent.lib";
    /// The tent version that made the box.
    pub const VERSION: &str = "tent.version";
    /// The uid of the user the box was made for (its state lives in that
    /// user's directories).
    pub const UID: &str = "tent.uid";
    /// Unique to the container (time and pid at create): no image carries
    /// it, so a box's labels always differ from its image's (`engine::json::inherited`).
    pub const MADE: &str = "tent.made";
    /// The id of the image the container was made from, when tent knew it
    /// (`engine::json::vouches_for_itself`): an image cannot carry its own
    /// id, so a container whose label names its very image set that label
    /// itself, and its image need not be asked for.
    pub const IMAGE_ID: &str = "tent.image-id";
    /// Ptyxis (the GNOME terminal of Fedora's desktops) takes a podman
    /// container with this label, whatever its value, for a Toolbx box and
    /// opens it as the user in the tab's folder (`--user`, `--workdir`)
    /// instead of a root shell in `/` (docs/terminals.md). The value is not
    /// Toolbx's `true`: `toolbox list` filters on `=true`, so Toolbx's own
    /// tools do not take tent boxes for theirs.
    pub const TOOLBX: &str = "com.github.containers.toolbox";
    pub const TOOLBX_VALUE: &str = "tent";
}
