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
    use std::time::{Duration, Instant};
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let (tx, rx) = mpsc::channel::<(bool, Option<Vec<u8>>)>();
    // A thread per pipe, never joined: one that a left-behind process holds
    // open stays blocked until tent exits, or until its next chunk finds
    // nobody listening.
    let pipes: [(bool, Box<dyn std::io::Read + Send>); 2] =
        [(true, Box::new(child.stdout.take().expect("piped"))), (false, Box::new(child.stderr.take().expect("piped")))];
    for (is_stdout, mut pipe) in pipes {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut chunk = vec![0; 64 * 1024];
            loop {
                let piece = match pipe.read(&mut chunk) {
                    Ok(0) | Err(_) => None,
                    Ok(n) => Some(chunk[..n].to_vec()),
                };
                let end = piece.is_none();
                if tx.send((is_stdout, piece)).is_err() || end {
                    break;
                }
            }
        });
    }
    drop(tx);
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let mut open = 2;
    let mut status = None;
    // When the command closed its pipes or ended: the rest has `grace`.
    let mut since: Option<Instant> = None;
    loop {
        if status.is_none() {
            status = child.try_wait()?;
        }
        if open == 0 || status.is_some() {
            since.get_or_insert_with(Instant::now);
        }
        if open == 0 && status.is_some() {
            break;
        }
        // Pipes closed: the end is near, looked for every millisecond.
        let step = Duration::from_millis(if open == 0 { 1 } else { 5 });
        let wait = match since {
            Some(at) => match grace.checked_sub(at.elapsed()) {
                Some(left) => left.min(step),
                None => break,
            },
            None => step,
        };
        match rx.recv_timeout(wait) {
            Ok((true, Some(piece))) => {
                stdout.extend_from_slice(&piece);
                if stdout.len() as u64 > limit {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Ok(Bounded::TooLong);
                }
            }
            Ok((false, Some(piece))) => {
                let room = (limit as usize).saturating_sub(stderr.len());
                stderr.extend_from_slice(&piece[..piece.len().min(room)]);
            }
            Ok((_, None)) => open -= 1,
            Err(_) => {}
        }
    }
    let status = match status {
        Some(status) => status,
        None => {
            let _ = child.kill();
            child.wait()?
        }
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
