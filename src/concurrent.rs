//! Work at once: the engine calls tent makes side by side (issue 24: each
//! is its own engine process, mostly waiting), and the two pipes of a
//! command whose output is read bounded.

/// Runs `a` on a second thread while `b` runs on this one; both results.
/// A panic in `a` goes on in the caller, as one in `b` does.
pub(crate) fn at_once<A: Send, B>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B) -> (A, B) {
    std::thread::scope(|s| {
        let first = s.spawn(a);
        let second = b();
        (first.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), second)
    })
}

/// What [`output_bounded`] got.
#[derive(Debug)]
pub(crate) enum Bounded {
    Done(std::process::Output),
    /// stdout went over the limit: the command was killed.
    TooLong,
}

/// Runs `command` (stdin closed) and collects what it prints, bounded in
/// memory and in time: at most `limit` bytes of stdout (more ends the
/// command: `Bounded::TooLong`) and of stderr (more is dropped). Once the
/// command has closed its pipes or ended, the rest gets `grace`: a process
/// it left behind that keeps a pipe open is not waited for (what was printed
/// by then counts), and a command that closed its pipes but does not end is
/// killed. For commands whose output a box shapes: any program in it can.
pub(crate) fn output_bounded(
    command: &mut std::process::Command,
    limit: u64,
    grace: std::time::Duration,
) -> std::io::Result<Bounded> {
    use std::process::Stdio;
    use std::sync::mpsc;
    use std::time::Instant;

    use rustix::process::{Pid, PidfdFlags, Signal, pidfd_open, pidfd_send_signal};

    /// What the threads tell: a piece of a pipe (None: its end), or the end
    /// of the command.
    enum Event {
        Stdout(Option<Vec<u8>>),
        Stderr(Option<Vec<u8>>),
        Ended(std::io::Result<std::process::ExitStatus>),
    }
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    // The pidfd names the command even once the waiter has reaped it: a kill
    // never reaches a process that got its pid since.
    let pidfd = pidfd_open(Pid::from_child(&child), PidfdFlags::empty()).ok();
    let (tx, rx) = mpsc::channel::<Event>();
    // A thread per pipe and one that waits, none joined: a pipe that a
    // left-behind process holds open keeps its thread blocked until tent
    // exits, or until its next piece finds nobody listening.
    fn read_into(
        mut pipe: impl std::io::Read + Send + 'static,
        tx: mpsc::Sender<Event>,
        event: fn(Option<Vec<u8>>) -> Event,
    ) {
        std::thread::spawn(move || {
            let mut chunk = vec![0; 64 * 1024];
            loop {
                let piece = match pipe.read(&mut chunk) {
                    Ok(0) | Err(_) => None,
                    Ok(n) => Some(chunk[..n].to_vec()),
                };
                let end = piece.is_none();
                if tx.send(event(piece)).is_err() || end {
                    break;
                }
            }
        });
    }
    read_into(child.stdout.take().expect("piped"), tx.clone(), Event::Stdout);
    read_into(child.stderr.take().expect("piped"), tx.clone(), Event::Stderr);
    std::thread::spawn(move || {
        let _ = tx.send(Event::Ended(child.wait()));
    });
    let kill = || {
        if let Some(fd) = &pidfd {
            let _ = pidfd_send_signal(fd, Signal::KILL);
        }
    };
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let (mut open, mut status, mut killed) = (2, None, false);
    // When the command closed its pipes or ended: the rest has `grace`.
    let mut since: Option<Instant> = None;
    while open > 0 || status.is_none() {
        let event = match since {
            None => rx.recv().ok(),
            Some(at) => match grace.checked_sub(at.elapsed()) {
                Some(left) => rx.recv_timeout(left).ok(),
                // Grace is over. An ended command's pipes are let go; one
                // that closed them but stays is killed, and its end awaited.
                None if status.is_some() => break,
                None if !killed => {
                    kill();
                    killed = true;
                    continue;
                }
                None => rx.recv().ok(),
            },
        };
        match event {
            Some(Event::Stdout(Some(piece))) => {
                stdout.extend_from_slice(&piece);
                if stdout.len() as u64 > limit {
                    kill();
                    return Ok(Bounded::TooLong);
                }
            }
            Some(Event::Stderr(Some(piece))) => {
                let room = (limit as usize).saturating_sub(stderr.len());
                stderr.extend_from_slice(&piece[..piece.len().min(room)]);
            }
            Some(Event::Stdout(None) | Event::Stderr(None)) => open -= 1,
            Some(Event::Ended(ended)) => status = Some(ended?),
            // Every sender gone: nothing more can come.
            None if since.is_none() => break,
            None => {}
        }
        if since.is_none() && (open == 0 || status.is_some()) {
            since = Some(Instant::now());
        }
    }
    let Some(status) = status else {
        return Err(std::io::Error::other("the command's end was not seen"));
    };
    Ok(Bounded::Done(std::process::Output { status, stdout, stderr }))
}

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn bounded_output_is_the_whole_output_of_a_command_that_ends() {
        let mut c = Command::new("sh");
        c.args(["-c", "echo out; echo err >&2; exit 3"]);
        let Bounded::Done(out) = output_bounded(&mut c, 1024, Duration::from_secs(5)).unwrap() else { panic!() };
        assert_eq!((out.status.code(), &out.stdout[..], &out.stderr[..]), (Some(3), &b"out\n"[..], &b"err\n"[..]));
    }

    #[test]
    fn bounded_output_ends_a_command_that_prints_too_much() {
        let mut c = Command::new("sh");
        c.args(["-c", "while :; do echo yyyyyyyyyyyyyyyy; done"]);
        assert!(matches!(output_bounded(&mut c, 4096, Duration::from_secs(5)).unwrap(), Bounded::TooLong));
        // stderr past the limit is dropped, not an error.
        let mut c = Command::new("sh");
        c.args(["-c", "i=0; while [ $i -lt 2000 ]; do echo eeeeeeee >&2; i=$((i+1)); done; echo done"]);
        let Bounded::Done(out) = output_bounded(&mut c, 4096, Duration::from_secs(5)).unwrap() else { panic!() };
        assert_eq!((out.stdout.as_slice(), out.stderr.len()), (&b"done\n"[..], 4096));
    }

    #[test]
    fn bounded_output_does_not_wait_for_what_a_command_left_behind() {
        let mut c = Command::new("sh");
        // The sleep keeps both pipes open long after sh has ended.
        c.args(["-c", "echo before; sleep 30 & echo after"]);
        let started = Instant::now();
        let Bounded::Done(out) = output_bounded(&mut c, 1024, Duration::from_millis(300)).unwrap() else { panic!() };
        assert!(started.elapsed() < Duration::from_secs(10), "waited {:?}", started.elapsed());
        assert!(out.status.success());
        assert_eq!(out.stdout, b"before\nafter\n");
        // A command that closes its pipes and stays is ended.
        let mut c = Command::new("sh");
        c.args(["-c", "echo gone; exec >&- 2>&-; sleep 30"]);
        let started = Instant::now();
        let Bounded::Done(out) = output_bounded(&mut c, 1024, Duration::from_millis(300)).unwrap() else { panic!() };
        assert!(started.elapsed() < Duration::from_secs(10), "waited {:?}", started.elapsed());
        assert_eq!((out.stdout.as_slice(), out.status.success()), (&b"gone\n"[..], false));
    }

    #[test]
    fn both_results_come_back_and_a_panic_goes_on() {
        assert_eq!(at_once(|| 1, || "two"), (1, "two"));
        let caught = std::panic::catch_unwind(|| at_once(|| panic!("in the thread"), || 2));
        assert_eq!(caught.unwrap_err().downcast_ref::<&str>(), Some(&"in the thread"));
    }
}
