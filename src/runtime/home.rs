//! A box's own home (`--home`): the marker tent leaves in a directory it
//! made, and the checks before `rm --delete-home` deletes one.

use std::fs;
use std::path::Path;

use crate::error::{Error, Result};

/// The marker tent leaves in a `--home` directory it made, holding the box's
/// name: `rm --delete-home` deletes only a directory that has it.
pub const HOME_MARKER: &str = ".tent-home";

/// Makes a box's own home. Only a directory tent makes here gets the marker;
/// a directory that already existed is the user's and is never deleted.
pub fn make_own_home(home: &Path, name: &str) -> Result<()> {
    if fs::symlink_metadata(home).is_ok() {
        return Ok(());
    }
    fs::create_dir_all(home).map_err(|e| Error::io(home, e))?;
    let marker = home.join(HOME_MARKER);
    fs::write(&marker, format!("{name}\n")).map_err(|e| Error::io(&marker, e))
}

/// Whether `rm --delete-home` may delete `home`, box `name`'s own home: never
/// `/`, the user's home or a directory above it, a link, or a directory that
/// lacks tent's marker for this very box (tent did not make it).
pub fn check_own_home(home: &Path, name: &str, user_home: &Path) -> Result<()> {
    let refuse = |why: &str| {
        Err(Error::usage(
            format!("will not delete {} for box {name:?}: {why}", home.display()),
            Some(format!("nothing was removed; remove the box without --delete-home: `tent rm {name}`")),
        ))
    };
    let canonical = |p: &Path| fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    if !home.is_absolute() {
        return refuse("it is not an absolute path");
    }
    let real = canonical(home);
    if real == Path::new("/") || canonical(user_home).starts_with(&real) || user_home.starts_with(home) {
        return refuse("it is your home directory or holds it");
    }
    match fs::symlink_metadata(home) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return refuse("it is not a directory"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return refuse("it does not exist"),
        Err(e) => return Err(Error::io(home, e)),
    }
    let marker = crate::files::read_text_bounded(&home.join(HOME_MARKER), 4096);
    match marker.as_deref().map(str::trim) {
        Some(owner) if owner == name => Ok(()),
        Some(_) => refuse(&format!("its {HOME_MARKER} marker names another box")),
        None => refuse(&format!("tent did not make it (no {HOME_MARKER} marker)")),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn only_a_home_tent_made_for_this_box_may_be_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let user_home = dir.path().join("home/me");
        fs::create_dir_all(&user_home).unwrap();
        // The user's home, its parents and / are refused, marker or not.
        fs::write(user_home.join(HOME_MARKER), "dev\n").unwrap();
        for bad in [user_home.clone(), dir.path().join("home"), dir.path().to_path_buf(), PathBuf::from("/")] {
            assert!(check_own_home(&bad, "dev", &user_home).is_err(), "{}", bad.display());
        }
        assert!(check_own_home(Path::new("rel"), "dev", &user_home).is_err());
        // A directory tent made for this box: allowed; for another box: refused.
        let own = dir.path().join("boxes/dev");
        make_own_home(&own, "dev").unwrap();
        check_own_home(&own, "dev", &user_home).unwrap();
        assert!(check_own_home(&own, "other", &user_home).is_err());
        // A directory that already existed gets no marker and is refused.
        let existing = dir.path().join("projects");
        fs::create_dir_all(&existing).unwrap();
        make_own_home(&existing, "dev").unwrap();
        assert!(!existing.join(HOME_MARKER).exists());
        assert!(check_own_home(&existing, "dev", &user_home).is_err());
        // A link to a marked directory is refused too.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&own, &link).unwrap();
        assert!(check_own_home(&link, "dev", &user_home).is_err());
        assert!(check_own_home(&dir.path().join("missing"), "dev", &user_home).is_err());
    }
}
