//! The relay's wire format: one length-framed request (u32 little-endian
//! lengths, bytes as they are, so arguments need not be UTF-8).

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// A request: argv for tent on the host, the caller's directory and variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub args: Vec<OsString>,
    pub cwd: OsString,
    pub env: Vec<(OsString, OsString)>,
}

impl Request {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut put = |bytes: &[u8]| {
            out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            out.extend_from_slice(bytes);
        };
        put(self.cwd.as_bytes());
        put(&(self.args.len() as u32).to_le_bytes());
        for arg in &self.args {
            put(arg.as_bytes());
        }
        put(&(self.env.len() as u32).to_le_bytes());
        for (k, v) in &self.env {
            put(k.as_bytes());
            put(v.as_bytes());
        }
        let mut framed = (out.len() as u32).to_le_bytes().to_vec();
        framed.extend(out);
        framed
    }

    pub fn decode(body: &[u8]) -> Option<Self> {
        let mut at = 0;
        let mut take = || -> Option<Vec<u8>> {
            let len = u32::from_le_bytes(body.get(at..at + 4)?.try_into().ok()?) as usize;
            let bytes = body.get(at + 4..at + 4 + len)?.to_vec();
            at += 4 + len;
            Some(bytes)
        };
        let count = |b: Vec<u8>| -> Option<usize> { Some(u32::from_le_bytes(b.try_into().ok()?) as usize) };
        let cwd = OsString::from_vec(take()?);
        let n = count(take()?)?;
        let args = (0..n).map(|_| take().map(OsString::from_vec)).collect::<Option<Vec<_>>>()?;
        let m = count(take()?)?;
        let env = (0..m)
            .map(|_| Some((OsString::from_vec(take()?), OsString::from_vec(take()?))))
            .collect::<Option<Vec<_>>>()?;
        Some(Request { args, cwd, env })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_any_bytes() {
        let request = Request {
            args: vec!["run".into(), OsString::from_vec(vec![0xff, b'\n', 0]), OsString::new()],
            cwd: "/home/a b".into(),
            env: vec![("TERM".into(), "xterm-256color".into())],
        };
        let framed = request.encode();
        let len = u32::from_le_bytes(framed[..4].try_into().unwrap()) as usize;
        assert_eq!(len, framed.len() - 4);
        assert_eq!(Request::decode(&framed[4..]), Some(request));
        assert_eq!(Request::decode(&framed[4..framed.len() - 1]), None, "a cut request is refused");
    }
}
