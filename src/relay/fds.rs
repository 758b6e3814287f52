//! Passing open descriptors over a Unix socket (SCM_RIGHTS), on rustix: the
//! caller's stdin, stdout and stderr travel to the relay themselves, so
//! terminals, pipes and bytes pass exactly.

use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Instant;

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer, SendAncillaryMessage, SendFlags,
};

/// The most descriptors one message carries (stdin, stdout, stderr).
pub(super) const MAX_FDS: usize = 3;

/// Sends `data` with `fds` attached to its first byte.
pub(super) fn send_with_fds(stream: &UnixStream, data: &[u8], fds: &[BorrowedFd<'_>]) -> std::io::Result<()> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "too many descriptors"));
    }
    let sent = rustix::net::sendmsg(stream, &[IoSlice::new(data)], &mut control, SendFlags::NOSIGNAL)?;
    if sent < data.len() {
        (&*stream).write_all(&data[sent..])?;
    }
    Ok(())
}

/// Reads from `stream` until `deadline` at the latest: every read waits only
/// for what is left of it, so a caller that trickles bytes in cannot hold a
/// relay thread longer than that.
struct Until<'a> {
    stream: &'a UnixStream,
    deadline: Option<Instant>,
}

impl Until<'_> {
    fn arm(&self) -> std::io::Result<()> {
        if let Some(deadline) = self.deadline {
            let left = deadline
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero())
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::TimedOut, "the request took too long"))?;
            self.stream.set_read_timeout(Some(left))?;
        }
        Ok(())
    }
}

impl Read for Until<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.arm()?;
        match (&*self.stream).read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the request took too long"))
            }
            other => other,
        }
    }
}

/// Receives one length-framed message (u32 little-endian length, then the
/// body) and the descriptors sent with it, all of it by `deadline`. A body
/// over `limit` bytes is refused before it is read. Reads exactly one frame,
/// so what the peer sends next stays in the socket for `read_frame`. The
/// socket's read timeout is left cleared.
pub(super) fn recv_with_fds(
    stream: &UnixStream,
    limit: usize,
    deadline: Instant,
) -> std::io::Result<(Vec<u8>, Vec<OwnedFd>)> {
    let result = recv_until(stream, limit, deadline);
    let _ = stream.set_read_timeout(None);
    result
}

fn recv_until(stream: &UnixStream, limit: usize, deadline: Instant) -> std::io::Result<(Vec<u8>, Vec<OwnedFd>)> {
    let mut until = Until { stream, deadline: Some(deadline) };
    let mut header = [0u8; 4];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    until.arm()?;
    let got = match rustix::net::recvmsg(
        stream,
        &mut [IoSliceMut::new(&mut header)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    ) {
        Ok(got) => got,
        Err(rustix::io::Errno::AGAIN) => {
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the request took too long"));
        }
        Err(e) => return Err(e.into()),
    };
    let mut fds = Vec::new();
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = message {
            fds.extend(received);
        }
    }
    if got.bytes == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, NothingSent));
    }
    until.read_exact(&mut header[got.bytes..])?;
    Ok((read_body(&mut until, header, limit)?, fds))
}

/// The peer closed the connection before sending a byte.
#[derive(Debug)]
struct NothingSent;

impl std::fmt::Display for NothingSent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the caller closed the connection before sending anything")
    }
}

impl std::error::Error for NothingSent {}

/// Whether `recv_with_fds` failed because the peer sent nothing at all (a
/// connect-only probe), not because it stopped half-way.
pub(super) fn closed_before_sending(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<NothingSent>())
}

/// Reads one length-framed message without descriptors.
pub(super) fn read_frame(stream: &UnixStream, limit: usize) -> std::io::Result<Vec<u8>> {
    let mut until = Until { stream, deadline: None };
    let mut header = [0u8; 4];
    until.read_exact(&mut header)?;
    read_body(&mut until, header, limit)
}

fn read_body(stream: &mut impl Read, header: [u8; 4], limit: usize) -> std::io::Result<Vec<u8>> {
    let len = u32::from_le_bytes(header) as usize;
    if len > limit {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("a {len}-byte message is too large")));
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body)?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;
    use std::time::Duration;

    use super::*;

    #[test]
    fn descriptors_travel_with_the_message() {
        let (a, b) = UnixStream::pair().unwrap();
        let (r, mut w) = std::io::pipe().unwrap();
        let stderr = std::io::stderr();
        let body = b"hello";
        let mut framed = (body.len() as u32).to_le_bytes().to_vec();
        framed.extend_from_slice(body);
        send_with_fds(&a, &framed, &[r.as_fd(), w.as_fd(), stderr.as_fd()]).unwrap();
        (&a).write_all(&[1, 0, 0, 0, b'S']).unwrap();
        let (got, fds) = recv_with_fds(&b, 1024, Instant::now() + Duration::from_secs(5)).unwrap();
        assert_eq!(got, body);
        assert_eq!(fds.len(), 3);
        // Only the first frame is taken: the next one is still there.
        assert_eq!(read_frame(&b, 16).unwrap(), b"S");
        w.write_all(b"hi").unwrap();
        drop(w);
        let mut received_write = std::fs::File::from(fds.into_iter().nth(1).unwrap());
        received_write.write_all(b"!").unwrap();
        drop(received_write);
        let mut text = String::new();
        std::fs::File::from(OwnedFd::from(r)).read_to_string(&mut text).unwrap();
        assert_eq!(text, "hi!");
    }

    #[test]
    fn an_oversized_frame_is_refused_before_it_is_read() {
        let (a, b) = UnixStream::pair().unwrap();
        // A 4 GiB length header with no body behind it.
        (&a).write_all(&u32::MAX.to_le_bytes()).unwrap();
        let err = recv_with_fds(&b, 1 << 20, Instant::now() + Duration::from_secs(5)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    }

    /// A caller that sends its request a byte at a time, each well within
    /// any per-read timeout, still runs out of time as a whole.
    #[test]
    fn a_trickled_request_meets_one_deadline() {
        let (a, b) = UnixStream::pair().unwrap();
        let writer = std::thread::spawn(move || {
            let _ = (&a).write_all(&[100, 0, 0, 0]);
            for _ in 0..100 {
                std::thread::sleep(Duration::from_millis(100));
                if (&a).write_all(b"x").is_err() {
                    break;
                }
            }
        });
        let start = Instant::now();
        let err = recv_with_fds(&b, 1024, Instant::now() + Duration::from_millis(500)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
        assert!(start.elapsed() < Duration::from_secs(3), "{:?}", start.elapsed());
        assert_eq!(b.read_timeout().unwrap(), None, "the timeout is cleared");
        drop(b);
        writer.join().unwrap();
    }

    #[test]
    fn a_probe_is_told_from_a_caller_that_stopped_half_way() {
        let (a, b) = UnixStream::pair().unwrap();
        drop(a);
        let err = recv_with_fds(&b, 1024, Instant::now() + Duration::from_secs(5)).unwrap_err();
        assert!(closed_before_sending(&err), "{err}");
        let (a, b) = UnixStream::pair().unwrap();
        (&a).write_all(&[9, 0]).unwrap();
        drop(a);
        let err = recv_with_fds(&b, 1024, Instant::now() + Duration::from_secs(5)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
        assert!(!closed_before_sending(&err), "{err}");
    }

    #[test]
    fn a_silent_caller_meets_the_deadline() {
        let (_a, b) = UnixStream::pair().unwrap();
        let err = recv_with_fds(&b, 1024, Instant::now() + Duration::from_millis(200)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
    }
}
