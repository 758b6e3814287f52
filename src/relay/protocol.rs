//! The relay's wire format. Every message is one frame: a u32 little-endian
//! length, then the body. Byte strings inside a body are u32-length-prefixed
//! and taken as they are, so arguments need not be UTF-8.
//!
//! A call is: the request (with the caller's stdin, stdout and stderr attached,
//! see `fds`), then any number of `ToRelay` frames (signals the caller got),
//! while the relay answers with one `FromRelay` frame (the exit status, or why
//! it refused). The request starts with `MAGIC` and `VERSION`, so a relay and
//! a caller from different tents tell each other so instead of misreading.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// The first bytes of every request since version 2 (version 1 sent a bare argv).
pub(super) const MAGIC: &[u8; 8] = b"TENTRLY\0";
/// The protocol this tent speaks.
pub(super) const VERSION: u16 = 2;

/// The largest frame the relay reads (and the client reads back).
pub(super) const MAX_REQUEST: usize = 1 << 20;

/// The signals a caller forwards.
pub(super) const FORWARDED: [i32; 5] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT, libc::SIGWINCH];

/// Request kinds. The relay never takes an argv: each kind is a thing the
/// relay knows how to do, and the relay builds the host command itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Request {
    /// Run exported command `export` of box `box_name` (in engine scope
    /// `scope`) with `args`. The relay looks it up in that box's receipt.
    RunExport(RunExport),
    /// `tent host -- CMD ARGS...` in a box: run CMD on the host, when the
    /// calling box (as the kernel says) may (`BoxSpec::no_host`).
    HostExec(HostCommand),
    /// `tent ARGS...` typed in a box: the relay runs its own tent with ARGS,
    /// in the calling box's engine scope, under the same policy as `HostExec`.
    HostTent(HostCommand),
}

/// A command for the host: its argv (taken as it is) and the caller's context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HostCommand {
    pub args: Vec<OsString>,
    /// The caller's directory, used on the host when it exists there.
    pub cwd: OsString,
    /// The caller's session variables; the relay keeps only some (`super::env::child_env`).
    pub env: Vec<(OsString, OsString)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RunExport {
    pub scope: String,
    pub box_name: String,
    pub export: String,
    pub args: Vec<OsString>,
    /// The caller's directory, used on the host when it exists there.
    pub cwd: OsString,
    /// The caller's session variables; the relay keeps only some (`super::env::child_env`).
    pub env: Vec<(OsString, OsString)>,
}

const KIND_RUN_EXPORT: u8 = 1;
const KIND_HOST_EXEC: u8 = 2;
const KIND_HOST_TENT: u8 = 3;

/// Why a request body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DecodeError {
    /// No magic: a version 1 caller (a wrapper exported by an older tent), or
    /// not tent at all.
    Unversioned,
    /// Another protocol version.
    Version(u16),
    /// A kind this tent does not know.
    Kind(u8),
    /// Cut short or inconsistent.
    Malformed,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Unversioned => write!(f, "the request is from an older tent (relay protocol 1)"),
            DecodeError::Version(v) => {
                write!(f, "the request speaks relay protocol {v}, this relay speaks {VERSION}")
            }
            DecodeError::Kind(k) => write!(f, "unknown request kind {k}"),
            DecodeError::Malformed => write!(f, "malformed request"),
        }
    }
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn put_list(out: &mut Vec<u8>, items: &[OsString]) {
    out.extend_from_slice(&(items.len() as u32).to_le_bytes());
    for item in items {
        put(out, item.as_bytes());
    }
}

fn put_env(out: &mut Vec<u8>, env: &[(OsString, OsString)]) {
    out.extend_from_slice(&(env.len() as u32).to_le_bytes());
    for (k, v) in env {
        put(out, k.as_bytes());
        put(out, v.as_bytes());
    }
}

/// Puts the length in front of a body.
pub(super) fn frame(body: &[u8]) -> Vec<u8> {
    let mut framed = (body.len() as u32).to_le_bytes().to_vec();
    framed.extend_from_slice(body);
    framed
}

/// Reads a body front to back; every read is bounds-checked.
struct Reader<'a> {
    body: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let bytes = self.body.get(self.at..self.at + 4).ok_or(DecodeError::Malformed)?;
        self.at += 4;
        Ok(u32::from_le_bytes(bytes.try_into().expect("four bytes")))
    }

    fn bytes(&mut self) -> Result<Vec<u8>, DecodeError> {
        let len = self.u32()? as usize;
        let end = self.at.checked_add(len).ok_or(DecodeError::Malformed)?;
        let bytes = self.body.get(self.at..end).ok_or(DecodeError::Malformed)?.to_vec();
        self.at = end;
        Ok(bytes)
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        String::from_utf8(self.bytes()?).map_err(|_| DecodeError::Malformed)
    }

    fn list(&mut self) -> Result<Vec<OsString>, DecodeError> {
        let n = self.u32()? as usize;
        // Each item takes at least four bytes: a count beyond that is a lie.
        if n > (self.body.len() - self.at) / 4 {
            return Err(DecodeError::Malformed);
        }
        (0..n).map(|_| self.bytes().map(OsString::from_vec)).collect()
    }

    fn env(&mut self) -> Result<Vec<(OsString, OsString)>, DecodeError> {
        let n = self.u32()? as usize;
        // Each pair takes at least eight bytes.
        if n > (self.body.len() - self.at) / 8 {
            return Err(DecodeError::Malformed);
        }
        (0..n).map(|_| Ok((OsString::from_vec(self.bytes()?), OsString::from_vec(self.bytes()?)))).collect()
    }

    fn host_command(&mut self) -> Result<HostCommand, DecodeError> {
        let args = self.list()?;
        let cwd = OsString::from_vec(self.bytes()?);
        let env = self.env()?;
        Ok(HostCommand { args, cwd, env })
    }
}

impl Request {
    /// The framed request.
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&VERSION.to_le_bytes());
        match self {
            Request::RunExport(r) => {
                out.push(KIND_RUN_EXPORT);
                put(&mut out, r.scope.as_bytes());
                put(&mut out, r.box_name.as_bytes());
                put(&mut out, r.export.as_bytes());
                put_list(&mut out, &r.args);
                put(&mut out, r.cwd.as_bytes());
                put_env(&mut out, &r.env);
            }
            Request::HostExec(c) | Request::HostTent(c) => {
                out.push(if matches!(self, Request::HostExec(_)) { KIND_HOST_EXEC } else { KIND_HOST_TENT });
                put_list(&mut out, &c.args);
                put(&mut out, c.cwd.as_bytes());
                put_env(&mut out, &c.env);
            }
        }
        frame(&out)
    }

    /// Reads a request body (without its length).
    pub(super) fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let Some(rest) = body.strip_prefix(MAGIC.as_slice()) else {
            return Err(DecodeError::Unversioned);
        };
        let version = u16::from_le_bytes(rest.get(..2).ok_or(DecodeError::Malformed)?.try_into().expect("two bytes"));
        if version != VERSION {
            return Err(DecodeError::Version(version));
        }
        let kind = *rest.get(2).ok_or(DecodeError::Malformed)?;
        let mut r = Reader { body: &rest[3..], at: 0 };
        let request = match kind {
            KIND_RUN_EXPORT => {
                let scope = r.string()?;
                let box_name = r.string()?;
                let export = r.string()?;
                let args = r.list()?;
                let cwd = OsString::from_vec(r.bytes()?);
                let env = r.env()?;
                Request::RunExport(RunExport { scope, box_name, export, args, cwd, env })
            }
            KIND_HOST_EXEC => Request::HostExec(r.host_command()?),
            KIND_HOST_TENT => Request::HostTent(r.host_command()?),
            other => return Err(DecodeError::Kind(other)),
        };
        if r.at != r.body.len() {
            return Err(DecodeError::Malformed);
        }
        Ok(request)
    }
}

/// What the caller sends after its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ToRelay {
    /// The caller got this signal; the relay passes it to the command.
    Signal(u8),
}

impl ToRelay {
    pub(super) fn encode(self) -> Vec<u8> {
        match self {
            ToRelay::Signal(n) => frame(&[b'S', n]),
        }
    }

    pub(super) fn decode(body: &[u8]) -> Option<Self> {
        match body {
            [b'S', n] => Some(ToRelay::Signal(*n)),
            _ => None,
        }
    }
}

/// The relay's one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum FromRelay {
    /// The command ended with this status (128+N for a death by signal N).
    Exit(i32),
    /// The relay would not run it; the caller prints this.
    Refused(String),
}

impl FromRelay {
    pub(super) fn encode(&self) -> Vec<u8> {
        match self {
            FromRelay::Exit(code) => {
                let mut body = vec![b'X'];
                body.extend_from_slice(&code.to_le_bytes());
                frame(&body)
            }
            FromRelay::Refused(message) => {
                let mut body = vec![b'R'];
                body.extend_from_slice(message.as_bytes());
                frame(&body)
            }
        }
    }

    pub(super) fn decode(body: &[u8]) -> Option<Self> {
        match body.split_first()? {
            (b'X', code) => Some(FromRelay::Exit(i32::from_le_bytes(code.try_into().ok()?))),
            (b'R', message) => Some(FromRelay::Refused(String::from_utf8_lossy(message).into_owned())),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_export() -> RunExport {
        RunExport {
            scope: "podman".into(),
            box_name: "dev".into(),
            export: "rg".into(),
            args: vec!["x".into(), OsString::from_vec(vec![0xff, b'\n', 0]), OsString::new()],
            cwd: OsString::from_vec(b"/home/a b/\xfe".to_vec()),
            env: vec![("TERM".into(), "xterm-256color".into()), ("LANG".into(), OsString::from_vec(vec![0xc3]))],
        }
    }

    #[test]
    fn requests_round_trip_any_bytes() {
        let host = HostCommand {
            args: vec!["ls".into(), "".into(), "a b".into(), OsString::from_vec(vec![0xff])],
            cwd: "/home/u".into(),
            env: vec![("TERM".into(), "dumb".into())],
        };
        for request in [
            Request::RunExport(run_export()),
            Request::HostExec(host.clone()),
            Request::HostTent(host.clone()),
            Request::HostExec(HostCommand { args: vec![], cwd: OsString::new(), env: vec![] }),
        ] {
            let framed = request.encode();
            let len = u32::from_le_bytes(framed[..4].try_into().unwrap()) as usize;
            assert_eq!(len, framed.len() - 4);
            assert_eq!(Request::decode(&framed[4..]), Ok(request.clone()));
            assert_eq!(Request::decode(&framed[4..framed.len() - 1]), Err(DecodeError::Malformed), "cut short");
            let mut longer = framed[4..].to_vec();
            longer.push(0);
            assert_eq!(Request::decode(&longer), Err(DecodeError::Malformed), "trailing bytes");
        }
    }

    #[test]
    fn versions_are_checked() {
        let framed = Request::RunExport(run_export()).encode();
        let mut other = framed[4..].to_vec();
        other[8..10].copy_from_slice(&3u16.to_le_bytes());
        assert_eq!(Request::decode(&other), Err(DecodeError::Version(3)));
        let mut kind = framed[4..].to_vec();
        kind[10] = 9;
        assert_ne!(
            Request::decode(
                &Request::HostExec(HostCommand { args: vec!["x".into()], cwd: "/".into(), env: vec![] }).encode()[4..]
            ),
            Request::decode(
                &Request::HostTent(HostCommand { args: vec!["x".into()], cwd: "/".into(), env: vec![] }).encode()[4..]
            ),
            "the two host kinds stay apart"
        );
        assert_eq!(Request::decode(&kind), Err(DecodeError::Kind(9)));
        // What a version 1 wrapper sent: cwd, then argv, then variables.
        let mut v1 = Vec::new();
        put(&mut v1, b"/home/u");
        put(&mut v1, &3u32.to_le_bytes());
        for a in ["rm", "--all", "--force"] {
            put(&mut v1, a.as_bytes());
        }
        assert_eq!(Request::decode(&v1), Err(DecodeError::Unversioned));
        assert!(DecodeError::Unversioned.to_string().contains("older tent"));
    }

    #[test]
    fn huge_counts_are_refused_without_allocating() {
        let mut body = MAGIC.to_vec();
        body.extend_from_slice(&VERSION.to_le_bytes());
        body.push(KIND_HOST_EXEC);
        body.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(Request::decode(&body), Err(DecodeError::Malformed));
    }

    #[test]
    fn answers_and_signals_round_trip() {
        for answer in [FromRelay::Exit(143), FromRelay::Exit(-1), FromRelay::Refused("no such export".into())] {
            assert_eq!(FromRelay::decode(&answer.encode()[4..]), Some(answer));
        }
        assert_eq!(FromRelay::decode(b"X12"), None);
        assert_eq!(ToRelay::decode(&ToRelay::Signal(15).encode()[4..]), Some(ToRelay::Signal(15)));
        assert_eq!(ToRelay::decode(b"S"), None);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn os() -> impl Strategy<Value = OsString> {
            prop::collection::vec(any::<u8>(), 0..24).prop_map(OsString::from_vec)
        }

        fn env() -> impl Strategy<Value = Vec<(OsString, OsString)>> {
            prop::collection::vec((os(), os()), 0..4)
        }

        fn request() -> impl Strategy<Value = Request> {
            let host = || {
                (prop::collection::vec(os(), 0..6), os(), env()).prop_map(|(args, cwd, env)| HostCommand {
                    args,
                    cwd,
                    env,
                })
            };
            prop_oneof![
                ("\\PC{0,12}", "\\PC{0,12}", "\\PC{0,12}", prop::collection::vec(os(), 0..6), os(), env()).prop_map(
                    |(scope, box_name, export, args, cwd, env)| Request::RunExport(RunExport {
                        scope,
                        box_name,
                        export,
                        args,
                        cwd,
                        env
                    })
                ),
                host().prop_map(Request::HostExec),
                host().prop_map(Request::HostTent),
            ]
        }

        proptest! {
            /// Whatever a box sends: a request or a reason, never a panic,
            /// and nothing decoded is larger than what was sent.
            #[test]
            fn any_bytes_decode_or_fail_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
                if let Ok(request) = Request::decode(&bytes) {
                    prop_assert_eq!(&request.encode()[4..], &bytes[..], "what decodes is exactly what was sent");
                }
                let _ = ToRelay::decode(&bytes);
                let _ = FromRelay::decode(&bytes);
            }

            /// The same behind a valid header, so the parser's inner paths are reached.
            #[test]
            fn any_body_behind_the_header_is_safe(kind in 0u8..5, tail in prop::collection::vec(any::<u8>(), 0..256)) {
                let mut body = MAGIC.to_vec();
                body.extend_from_slice(&VERSION.to_le_bytes());
                body.push(kind);
                body.extend_from_slice(&tail);
                if let Ok(request) = Request::decode(&body) {
                    prop_assert_eq!(&request.encode()[4..], &body[..]);
                }
            }

            /// Every request round-trips, and any cut or extension of it is refused.
            #[test]
            fn requests_round_trip(request in request(), cut in any::<prop::sample::Index>()) {
                let framed = request.encode();
                let body = &framed[4..];
                prop_assert_eq!(u32::from_le_bytes(framed[..4].try_into().unwrap()) as usize, body.len());
                prop_assert_eq!(Request::decode(body), Ok(request));
                let at = cut.index(body.len());
                prop_assert!(Request::decode(&body[..at]).is_err());
            }

            #[test]
            fn answers_round_trip(code in any::<i32>(), message in "\\PC{0,40}", n in any::<u8>()) {
                prop_assert_eq!(FromRelay::decode(&FromRelay::Exit(code).encode()[4..]), Some(FromRelay::Exit(code)));
                let refused = FromRelay::Refused(message);
                prop_assert_eq!(FromRelay::decode(&refused.encode()[4..]), Some(refused));
                prop_assert_eq!(ToRelay::decode(&ToRelay::Signal(n).encode()[4..]), Some(ToRelay::Signal(n)));
            }
        }
    }
}
