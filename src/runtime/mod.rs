//! A box at run time: making it (`create.rs`), starting and stopping it and
//! the commands in it (`lifecycle.rs`), removing it (`remove.rs`), its own
//! home (`home.rs`), the in-box scripts on disk and the wait for its init
//! (`init.rs`), its state on the host (`state.rs`), and joining its
//! namespaces without the engine (`join.rs`). The steps shared by `create`,
//! `enter`, `rm`, `apply` and `bake`; a failed or interrupted create removes
//! what it made; nothing here touches the user's files. What a box is comes
//! from `boxes`; snapshots and their swap build on this part (`snapshots`).

mod create;
pub(crate) use create::Source;
mod home;
pub mod init;
pub mod join;
mod lifecycle;
mod remote;
mod remove;
pub mod state;

use std::path::{Path, PathBuf};

pub use create::write_hooks;
pub use home::{HOME_MARKER, check_own_home, make_own_home};
pub use lifecycle::Starting;
pub use remove::Removed;
pub use state::BoxState;

use crate::boxes::labels;
use crate::engine::Engine;
use crate::engine::json::Container;
use crate::error::{Error, Result};
use crate::paths::Paths;
use crate::progress::Progress;

/// Everything box operations need.
pub struct Boxes<'a> {
    pub engine: &'a Engine,
    pub paths: &'a Paths,
    /// Where steps, waits and engine command lines are reported (the printer).
    pub progress: &'a dyn Progress,
    /// Commands that new boxes run on the host (config `host.commands`).
    pub host_commands: &'a [String],
}

/// Facts about a box kept beside its state, for the warm path of `enter`,
/// which must not ask the engine (docs/internals.md).
pub const BOX_HOME_FILE: &str = "home";

/// The id of the image the box had when tent last looked: only a hint of
/// what to ask the engine at once ([`crate::engine::Engine::inspect_box`]).
pub const IMAGE_NOTE_FILE: &str = "image";
/// The images the boxes of a scope had at the last `list` (a note in the
/// scope's state folder): what the next `list` asks for while the engine
/// lists (`Engine::list_labelled`).
const LIST_IMAGES_NOTE_FILE: &str = "list-images";
/// The most images that note names.
const MAX_IMAGES_GUESSED: usize = 32;

/// The images the note names. Every box can write it: it is only a guess
/// of what to ask (the engine's answers are matched to each container's
/// own image), read bounded, and only full image ids count.
fn list_images_note(path: &Path) -> Vec<String> {
    let text = crate::files::read_text_bounded(path, 66 * MAX_IMAGES_GUESSED as u64).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|id| crate::text::is_sha256_hex(id))
        .take(MAX_IMAGES_GUESSED)
        .map(str::to_string)
        .collect()
}

/// Beside the state: this rootful box's user has no password yet, so the
/// next `tent enter` on a terminal asks for one (sudo in the box needs it).
/// Only a reminder: the box's own /etc/shadow is what counts.
pub const NEEDS_PASSWORD_FILE: &str = "needs-password";

impl Boxes<'_> {
    pub fn state(&self, name: &str) -> BoxState {
        BoxState::new(self.paths.box_state(self.engine.scope(), name))
    }

    /// This engine scope's folder of box states, journals and locks.
    pub(crate) fn scope_dir(&self) -> PathBuf {
        self.paths.scope_dir(self.engine.scope())
    }

    /// The lock that one create, rollback or recovery of box `name` holds.
    pub(crate) fn box_lock(&self, name: &str) -> Result<crate::files::Lock> {
        crate::files::lock(&crate::files::lock_path(&self.scope_dir(), name))
    }

    /// The user's own tent boxes on the engine. On a shared store (Docker,
    /// rootful podman) other users' boxes are left out: `--all`, `apply` and
    /// `doctor` never see, stop or remove them.
    pub fn list(&self) -> Result<Vec<Container>> {
        Ok(self.list_all()?.into_iter().filter(|c| other_owner(c).is_none()).collect())
    }

    /// Every tent box on the engine, other users' too (`tent list` marks those).
    pub fn list_all(&self) -> Result<Vec<Container>> {
        let note = self.scope_dir().join(LIST_IMAGES_NOTE_FILE);
        let guess = list_images_note(&note);
        let (boxes, mut images) = self.engine.list_labelled(labels::FORMAT, &guess)?;
        images.truncate(MAX_IMAGES_GUESSED);
        if images != guess && note.parent().is_some_and(Path::is_dir) {
            let _ = crate::files::write_atomic(&note, images.join("\n").as_bytes(), 0o600);
        }
        Ok(boxes)
    }

    /// The tent box of that name; errors when it is missing or not tent's.
    pub fn get(&self, name: &str) -> Result<Container> {
        self.get_also(name, &[]).0
    }

    /// `get`, and the images `also` names when the engine's one answer
    /// for the box had them all (issue 24: a rollback's snapshot with its
    /// box, one engine call); None for those, to be asked for by the caller.
    pub fn get_also(&self, name: &str, also: &[&str]) -> (Result<Container>, Option<Vec<crate::engine::json::Image>>) {
        if let Err(err) = crate::boxes::validate_name(name) {
            return (Err(err), None);
        }
        let hint = self.image_note(name);
        match self.engine.inspect_box(name, hint.as_deref(), also) {
            Ok(Some(found)) => (self.checked(name, hint.as_deref(), found.container, found.inherited), found.also),
            Ok(None) => (Err(Error::NoSuchBox { name: name.into(), engine: self.engine.describe() }), None),
            Err(err) => (Err(err), None),
        }
    }

    /// The image the box had last time, noted in its state: a guess that
    /// lets the engine be asked for the container and its image at once.
    /// None when there is no note, or it is empty: a box whose label
    /// vouches for it (`json::vouches_for_itself`) needs no image.
    fn image_note(&self, name: &str) -> Option<String> {
        let text = crate::files::read_text_bounded(&self.state(name).dir.join(IMAGE_NOTE_FILE), 80)?;
        Some(text.trim().to_string()).filter(|t| !t.is_empty())
    }

    /// Notes the image the next `get` of box `name` asks for with the box:
    /// `image_id`, its image now, or none when the box needs no image (a
    /// rollback knows which before the engine is asked again).
    pub(crate) fn note_image(&self, name: &str, image_id: Option<&str>) {
        let note = self.state(name).dir.join(IMAGE_NOTE_FILE);
        let text = match image_id {
            Some(id) if crate::text::is_sha256_hex(id) => format!("{id}\n"),
            Some(_) => return,
            None => String::new(),
        };
        if note.parent().is_some_and(Path::is_dir) {
            let _ = crate::files::write_atomic(&note, text.as_bytes(), 0o600);
        }
    }

    /// What `get` makes of the engine's answer: the box, when it is one
    /// tent made for this user; the image note follows what the box needs.
    fn checked(&self, name: &str, hint: Option<&str>, container: Container, inherited: bool) -> Result<Container> {
        let wanted = (!crate::engine::json::vouches_for_itself(&container)).then_some(container.image_id.as_str());
        if hint != wanted {
            self.note_image(name, wanted);
        }
        // An image's labels do not make a box (engine::json::inherited).
        if container.label(labels::FORMAT).is_none() || inherited {
            return Err(Error::BoxExists { name: name.into(), engine: self.engine.describe(), is_tent: false });
        }
        if let Some(uid) = other_owner(&container) {
            return Err(Error::OtherUsersBox { name: name.into(), uid: uid.into() });
        }
        Ok(container)
    }
}

/// The uid a box was made for, when that is not the user running tent (a
/// box on a shared store: Docker, rootful podman). A box without the label
/// counts as the user's own, as `get` always did.
pub fn other_owner(container: &Container) -> Option<&str> {
    let me = rustix::process::getuid().as_raw().to_string();
    container.label(labels::UID).filter(|uid| *uid != me)
}
