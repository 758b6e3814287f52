//! The relay: how an exported command runs from inside *another* box.
//!
//! Inside box B the host's engine cannot be reached, so a wrapper exported
//! from box A cannot run `tent run A` there. Every box shares the user's
//! `$XDG_RUNTIME_DIR`, so tent keeps a small relay on the host listening on
//! `$XDG_RUNTIME_DIR/tent/relay-KEY.sock`. The wrapper in box B runs the host's
//! own tent binary (through the host's dynamic loader under /run/host) as
//! `tent relay-call --socket SOCKET -- ARGS...`, which hands the relay its
//! argv, directory, session variables and its stdin, stdout and stderr themselves (SCM_RIGHTS),
//! so terminals, pipes and bytes pass exactly; the relay runs `tent ARGS...`
//! on the host with those descriptors and sends back the exit status.
//!
//! The relay is started by `tent enter`/`tent run` on the host when it is not
//! answering (one `connect` on the warm path), and exits after an idle hour.
//! Written by hand on libc because descriptor passing is a few lines of
//! `sendmsg`/`recvmsg` that no small, well-kept crate wraps for std streams.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::error::{Error, Result};

/// How long an unused relay stays.
const IDLE: Duration = Duration::from_secs(3600);

/// The relay's socket for one tent state directory: one relay per user and
/// HOME, started with that HOME's environment.
pub fn socket_path(state: &std::path::Path) -> Option<PathBuf> {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).filter(|p| p.is_absolute())?;
    let key = crate::init::fnv1a(state.as_os_str().as_bytes());
    Some(runtime.join("tent").join(format!("relay-{key:016x}.sock")))
}

/// Starts the relay in the background when none answers. Called on the host
/// before `enter`/`run` exec into the engine; a failure only means exported
/// commands will not work from other boxes, so it is not an error.
pub fn ensure_running(state: &std::path::Path) {
    let Some(path) = socket_path(state) else { return };
    if UnixStream::connect(&path).is_ok() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let mut command = Command::new(exe);
    command.arg("relay").arg("--socket").arg(&path).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe; the relay must not die with the
    // terminal session of the tent that started it.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let _ = command.spawn();
}

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

/// `tent relay-call ARGS...`, in a box: runs `tent ARGS...` on the host with
/// this process's stdio, and returns its exit status.
pub fn call(path: &std::path::Path, args: Vec<OsString>) -> Result<i32> {
    let stream = UnixStream::connect(path).map_err(|e| Error::Export {
        message: format!("the host's tent relay does not answer at {}: {e}", path.display()),
        hint: Some("run `tent enter` or `tent run` once on the host (it starts the relay), then try again".into()),
    })?;
    let request = Request {
        args,
        cwd: std::env::current_dir().map(PathBuf::into_os_string).unwrap_or_default(),
        env: crate::boxes::host::PASSTHROUGH_ENV
            .iter()
            .filter_map(|k| std::env::var_os(k).map(|v| (OsString::from(k), v)))
            .collect(),
    };
    send_with_fds(&stream, &request.encode(), &[0, 1, 2]).map_err(|e| Error::io(path, e))?;
    let mut status = [0u8; 4];
    (&stream).read_exact(&mut status).map_err(|e| Error::io(path, e))?;
    Ok(i32::from_le_bytes(status))
}

/// `tent relay`: serves requests until idle for an hour.
pub fn serve(path: &std::path::Path) -> Result<()> {
    let path = path.to_path_buf();
    let dir = path.parent().expect("socket has a parent");
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    if UnixStream::connect(&path).is_ok() {
        return Ok(()); // another relay won the race
    }
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).map_err(|e| Error::io(&path, e))?;
    let exe = std::env::current_exe().map_err(|e| Error::io("/proc/self/exe", e))?;
    listener.set_nonblocking(true).map_err(|e| Error::io(&path, e))?;
    let mut idle = std::time::Instant::now();
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                idle = std::time::Instant::now();
                let exe = exe.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_nonblocking(false);
                    let _ = handle(stream, &exe);
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if idle.elapsed() > IDLE || !path.exists() {
                    let _ = std::fs::remove_file(&path);
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn handle(stream: UnixStream, exe: &std::path::Path) -> std::io::Result<()> {
    let (body, fds) = recv_with_fds(&stream)?;
    let request =
        Request::decode(&body).ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "bad request"))?;
    let mut fds = fds.into_iter();
    let (Some(stdin), Some(stdout), Some(stderr)) = (fds.next(), fds.next(), fds.next()) else {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "three descriptors expected"));
    };
    let mut command = Command::new(exe);
    command.args(&request.args).stdin(Stdio::from(stdin)).stdout(Stdio::from(stdout)).stderr(Stdio::from(stderr));
    for (k, v) in &request.env {
        command.env(k, v);
    }
    let cwd = PathBuf::from(&request.cwd);
    if cwd.is_dir() {
        command.current_dir(cwd);
    }
    let status = match command.status() {
        Ok(s) => s.code().unwrap_or(128 + 9),
        Err(_) => crate::error::exit::ENGINE,
    };
    (&stream).write_all(&status.to_le_bytes())
}

fn send_with_fds(stream: &UnixStream, data: &[u8], fds: &[RawFd]) -> std::io::Result<()> {
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of_val(fds) as u32) } as usize;
    let mut control = vec![0u8; space];
    let mut iov = libc::iovec { iov_base: data.as_ptr() as *mut _, iov_len: data.len() };
    // SAFETY: msghdr is plain data; every pointer set below outlives sendmsg.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: the control buffer has CMSG_SPACE for these descriptors.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of_val(fds) as u32) as _;
        std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(cmsg).cast::<RawFd>(), fds.len());
    }
    // SAFETY: a valid socket and message.
    let sent = unsafe { libc::sendmsg(stream.as_raw_fd(), &msg, 0) };
    if sent < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let sent = sent as usize;
    if sent < data.len() {
        (&*stream).write_all(&data[sent..])?;
    }
    Ok(())
}

fn recv_with_fds(stream: &UnixStream) -> std::io::Result<(Vec<u8>, Vec<OwnedFd>)> {
    let mut first = vec![0u8; 64 * 1024];
    let space = unsafe { libc::CMSG_SPACE((3 * std::mem::size_of::<RawFd>()) as u32) } as usize;
    let mut control = vec![0u8; space];
    let mut iov = libc::iovec { iov_base: first.as_mut_ptr().cast(), iov_len: first.len() };
    // SAFETY: as in send_with_fds.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: a valid socket and message; MSG_CMSG_CLOEXEC keeps the
    // descriptors out of unrelated children.
    let got = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if got < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut fds = Vec::new();
    // SAFETY: walking the control messages the kernel wrote.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let n = ((*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / std::mem::size_of::<RawFd>();
                let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                for i in 0..n {
                    fds.push(OwnedFd::from_raw_fd(*data.add(i)));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    let mut data = first[..got as usize].to_vec();
    // The frame's length, then the rest of the body.
    while data.len() < 4 {
        let mut more = [0u8; 4];
        let n = (&*stream).read(&mut more)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        data.extend_from_slice(&more[..n]);
    }
    let len = u32::from_le_bytes(data[..4].try_into().expect("four bytes")) as usize;
    while data.len() < 4 + len {
        let mut more = vec![0u8; 4 + len - data.len()];
        let n = (&*stream).read(&mut more)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        data.extend_from_slice(&more[..n]);
    }
    Ok((data[4..4 + len].to_vec(), fds))
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

    #[test]
    fn descriptors_travel_with_the_request() {
        let (a, b) = UnixStream::pair().unwrap();
        let request = Request { args: vec!["x".into()], cwd: "/".into(), env: vec![] };
        let (r, mut w) = std::io::pipe().unwrap();
        let fds = [r.as_raw_fd(), w.as_raw_fd(), 2];
        send_with_fds(&a, &request.encode(), &fds).unwrap();
        let (body, got) = recv_with_fds(&b).unwrap();
        assert_eq!(Request::decode(&body), Some(request));
        assert_eq!(got.len(), 3);
        // The received write end is the same pipe.
        w.write_all(b"hi").unwrap();
        drop(w);
        let mut received_write = std::fs::File::from(got.into_iter().nth(1).unwrap());
        received_write.write_all(b"!").unwrap();
        drop(received_write);
        let mut text = String::new();
        std::fs::File::from(OwnedFd::from(r)).read_to_string(&mut text).unwrap();
        assert_eq!(text, "hi!");
    }
}
