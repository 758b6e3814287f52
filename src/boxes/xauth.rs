//! The box's copy of the host's X authority cookies.
//!
//! Xlib finds the cookie for a local display by the machine's hostname
//! (`FamilyLocal`, address = hostname). A box has its own hostname (its
//! name), so the host's entries never match there and clients fail with
//! "cannot open display" (xvfb-run, X11 sessions, `ssh -X`). tent gives the box
//! a copy of the file in the box's state directory where the entries the
//! host itself would use are rewritten as `FamilyWild` (any address), and
//! points `XAUTHORITY` at it. The copy is rewritten whenever the host file's
//! modification time differs from the copy's (tent stamps the copy with the
//! host file's time): one stat of each on the warm path.
//!
//! The file format (Xau): entries of `family` (u16, big endian), then
//! `address`, `number` (the display number, as text), `name` (e.g.
//! `MIT-MAGIC-COOKIE-1`) and `data`, each a u16-BE length and that many bytes.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Any address: matches whatever hostname the box has.
pub const FAMILY_WILD: u16 = 0xffff;
/// A local (unix socket) connection; the address is the hostname.
pub const FAMILY_LOCAL: u16 = 256;

/// The copy's name in the box's state directory.
pub const COPY_NAME: &str = "Xauthority";

/// A host authority file larger than this is not an X authority file.
const MAX_SIZE: u64 = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub family: u16,
    pub address: Vec<u8>,
    pub number: Vec<u8>,
    pub name: Vec<u8>,
    pub data: Vec<u8>,
}

/// The entries of an authority file. Like Xlib, reading stops at the first
/// entry that is cut short (a file being rewritten, or garbage after it).
pub fn parse(mut bytes: &[u8]) -> Vec<Entry> {
    fn u16_be(b: &mut &[u8]) -> Option<u16> {
        let (head, rest) = b.split_first_chunk::<2>()?;
        *b = rest;
        Some(u16::from_be_bytes(*head))
    }
    fn field(b: &mut &[u8]) -> Option<Vec<u8>> {
        let len = usize::from(u16_be(b)?);
        if b.len() < len {
            return None;
        }
        let (head, rest) = b.split_at(len);
        *b = rest;
        Some(head.to_vec())
    }
    let mut entries = Vec::new();
    while !bytes.is_empty() {
        let mut b = bytes;
        let entry = (|| {
            Some(Entry {
                family: u16_be(&mut b)?,
                address: field(&mut b)?,
                number: field(&mut b)?,
                name: field(&mut b)?,
                data: field(&mut b)?,
            })
        })();
        match entry {
            Some(e) => entries.push(e),
            None => break,
        }
        bytes = b;
    }
    entries
}

/// The file bytes of `entries`. Fields longer than 65535 bytes cannot be
/// written; such an entry is left out (parse never produces one).
pub fn serialize(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let fields = [&e.address, &e.number, &e.name, &e.data];
        if fields.iter().any(|f| f.len() > usize::from(u16::MAX)) {
            continue;
        }
        out.extend_from_slice(&e.family.to_be_bytes());
        for f in fields {
            out.extend_from_slice(&(f.len() as u16).to_be_bytes());
            out.extend_from_slice(f);
        }
    }
    out
}

/// The box's entries: first, as `FamilyWild`, the local entries the host
/// itself would use (those naming `hostname`, and wild ones, in file order,
/// as Xlib takes the first match), then the other local entries as wild
/// fallbacks (the hostname changed since the session began), one per display
/// number and auth method; then every original entry unchanged (network
/// displays, `ssh -X` over TCP).
pub fn for_box(entries: &[Entry], hostname: &[u8]) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    let add_wild = |e: &Entry, out: &mut Vec<Entry>| {
        if !out.iter().any(|w| w.number == e.number && w.name == e.name) {
            out.push(Entry { family: FAMILY_WILD, address: Vec::new(), ..e.clone() });
        }
    };
    for e in entries {
        if e.family == FAMILY_WILD || (e.family == FAMILY_LOCAL && e.address == hostname) {
            add_wild(e, &mut out);
        }
    }
    for e in entries.iter().filter(|e| e.family == FAMILY_LOCAL && e.address != hostname) {
        add_wild(e, &mut out);
    }
    out.extend(entries.iter().filter(|e| e.family != FAMILY_WILD).cloned());
    out
}

/// The host's authority file: `$XAUTHORITY`, else `~/.Xauthority`, when it
/// is a file.
pub fn host_source(xauthority: Option<&std::ffi::OsStr>, home: Option<&Path>) -> Option<PathBuf> {
    match xauthority.filter(|v| !v.is_empty()) {
        Some(path) => Some(PathBuf::from(path)),
        None => home.map(|h| h.join(".Xauthority")),
    }
    .filter(|p| p.is_file())
}

/// Brings `copy` up to date with `source`; `Ok(false)` when it already was.
/// The copy gets the source's modification time, which is what the next
/// call compares.
pub fn sync(source: &Path, copy: &Path, hostname: &[u8]) -> std::io::Result<bool> {
    let src_meta = fs::metadata(source)?;
    let src_time = src_meta.modified()?;
    if fs::metadata(copy).and_then(|m| m.modified()).is_ok_and(|t| t == src_time) {
        return Ok(false);
    }
    // The host's own file, which may well be a symlink, but in the home that
    // every box can write: a FIFO or a device there must not hang tent.
    let bytes = crate::files::read_bounded_following(source, MAX_SIZE)
        .map_err(|e| std::io::Error::other(e.to_string()))?
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))?;
    let data = serialize(&for_box(&parse(&bytes), hostname));
    crate::files::write_atomic(copy, &data, 0o600).map_err(|e| std::io::Error::other(e.to_string()))?;
    stamp(copy, src_time)?;
    Ok(true)
}

/// The state dir is writable from boxes: never follow a link planted there.
fn stamp(path: &Path, time: SystemTime) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::File::options().write(true).custom_flags(libc::O_NOFOLLOW).open(path)?.set_modified(time)
}

/// This machine's hostname, as Xlib sees it (uname's nodename).
pub fn hostname() -> Vec<u8> {
    let mut name = fs::read("/proc/sys/kernel/hostname").unwrap_or_default();
    if name.last() == Some(&b'\n') {
        name.pop();
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_or_device_in_place_of_the_hosts_file_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("Xauthority");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert!(sync(&fifo, &dir.path().join("copy"), b"host").is_err(), "never waits on a FIFO");
        let link = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert!(sync(&link, &dir.path().join("copy"), b"host").is_err(), "a device is no authority file");
        assert!(!dir.path().join("copy").exists());
    }

    fn entry(family: u16, address: &str, number: &str, data: &[u8]) -> Entry {
        Entry {
            family,
            address: address.into(),
            number: number.into(),
            name: b"MIT-MAGIC-COOKIE-1".to_vec(),
            data: data.to_vec(),
        }
    }

    #[test]
    fn parses_the_binary_format() {
        // What `xauth add myhost/unix:99 MIT-MAGIC-COOKIE-1 0102` writes.
        let mut bytes = vec![0x01, 0x00, 0, 6];
        bytes.extend_from_slice(b"myhost");
        bytes.extend_from_slice(&[0, 2]);
        bytes.extend_from_slice(b"99");
        bytes.extend_from_slice(&[0, 18]);
        bytes.extend_from_slice(b"MIT-MAGIC-COOKIE-1");
        bytes.extend_from_slice(&[0, 2, 1, 2]);
        let entries = parse(&bytes);
        assert_eq!(entries, vec![entry(FAMILY_LOCAL, "myhost", "99", &[1, 2])]);
        assert_eq!(serialize(&entries), bytes);
    }

    #[test]
    fn round_trips_and_stops_at_a_cut_entry() {
        let entries = vec![entry(FAMILY_LOCAL, "a", "0", &[9; 16]), entry(0, "\x7f\0\0\x01", "10", &[7; 16])];
        let bytes = serialize(&entries);
        assert_eq!(parse(&bytes), entries);
        assert_eq!(parse(&bytes[..bytes.len() - 1]), entries[..1]);
        assert_eq!(parse(&[0xff]), vec![]);
        assert_eq!(parse(&[]), vec![]);
    }

    #[test]
    fn serialize_leaves_out_what_cannot_be_written() {
        let mut big = entry(FAMILY_LOCAL, "h", "0", &[]);
        big.data = vec![0; 70_000];
        assert!(serialize(&[big]).is_empty());
    }

    #[test]
    fn the_hosts_own_entries_become_wild_first() {
        let host = entry(FAMILY_LOCAL, "host", "0", b"right");
        let stale = entry(FAMILY_LOCAL, "oldname", "0", b"stale");
        let other = entry(FAMILY_LOCAL, "oldname", "1", b"one");
        let tcp = entry(0, "\x0a\0\0\x01", "0", b"tcp");
        let out = for_box(&[stale.clone(), host.clone(), other.clone(), tcp.clone()], b"host");
        let wild = |e: &Entry| Entry { family: FAMILY_WILD, address: vec![], ..e.clone() };
        assert_eq!(out, vec![wild(&host), wild(&other), stale, host, other, tcp]);
    }

    #[test]
    fn existing_wild_entries_keep_their_place_once() {
        let w = Entry { family: FAMILY_WILD, address: vec![], ..entry(0, "", "5", b"w") };
        let local = entry(FAMILY_LOCAL, "host", "5", b"later");
        assert_eq!(for_box(&[w.clone(), local.clone()], b"host"), vec![w, local]);
    }

    #[test]
    fn sync_rewrites_only_when_the_host_file_changed() {
        let dir = tempfile::tempdir().unwrap();
        let (src, copy) = (dir.path().join("src"), dir.path().join("state/Xauthority"));
        fs::write(&src, serialize(&[entry(FAMILY_LOCAL, "host", "99", b"c1")])).unwrap();
        assert!(sync(&src, &copy, b"host").unwrap());
        assert_eq!(
            parse(&fs::read(&copy).unwrap())[0],
            Entry { family: FAMILY_WILD, address: vec![], ..entry(0, "", "99", b"c1") }
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(fs::metadata(&copy).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(!sync(&src, &copy, b"host").unwrap(), "unchanged: no rewrite");
        fs::write(&src, serialize(&[entry(FAMILY_LOCAL, "host", "99", b"c2")])).unwrap();
        stamp(&src, SystemTime::now() + std::time::Duration::from_secs(5)).unwrap();
        assert!(sync(&src, &copy, b"host").unwrap());
        assert_eq!(parse(&fs::read(&copy).unwrap())[0].data, b"c2");
    }

    #[test]
    fn host_source_prefers_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("xa");
        fs::write(&file, b"").unwrap();
        fs::write(dir.path().join(".Xauthority"), b"").unwrap();
        assert_eq!(host_source(Some(file.as_os_str()), Some(dir.path())), Some(file.clone()));
        assert_eq!(host_source(None, Some(dir.path())), Some(dir.path().join(".Xauthority")));
        assert_eq!(host_source(Some("/nonexistent/xa".as_ref()), Some(dir.path())), None);
        assert_eq!(host_source(None, Some(Path::new("/nonexistent"))), None);
    }
}
