//! How library code reports while it works: one small trait. Only the
//! command decides what is shown: `output::Printer` implements it (hiding
//! steps with --quiet, showing details with --verbose, sanitizing every line
//! a box may have written), and tests implement it by recording calls.
//! `runtime`, `snapshots` and `manifest::apply` take a `&dyn Progress`, never
//! the printer.

/// What a slow operation tells the user.
pub trait Progress {
    /// A slow step begins (`pulling IMAGE`).
    fn step(&self, message: &str);

    /// Something went wrong and the work goes on.
    fn warn(&self, message: &str);

    /// A plain status line (what an action did, or that it failed).
    fn status(&self, message: &str) {
        let _ = message;
    }

    /// Detail for whoever asked for it (--verbose): the engine's command
    /// lines, a retry.
    fn detail(&self, message: &str) {
        let _ = message;
    }

    /// A wait the user sees while it lasts (a spinner on a terminal), with
    /// what happens meanwhile; it ends with [`Activity::finish`].
    fn activity(&self, message: &str) -> Box<dyn Activity + '_> {
        self.step(message);
        Box::new(Quiet)
    }

    /// Whether the user asked to stop (Ctrl-C).
    fn interrupted(&self) -> bool {
        crate::interrupt::interrupted()
    }
}

/// A wait in progress (see [`Progress::activity`]).
pub trait Activity {
    /// How far it got: the wait's message becomes `message`, and the line
    /// stays above it.
    fn progress(&self, message: &str);

    /// A line of detail from the work (a box's init log), for --verbose.
    fn detail(&self, line: &str);

    /// The wait is over.
    fn finish(self: Box<Self>);
}

/// An activity that shows nothing.
pub(crate) struct Quiet;

impl Activity for Quiet {
    fn progress(&self, _message: &str) {}
    fn detail(&self, _line: &str) {}
    fn finish(self: Box<Self>) {}
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    #[derive(Default)]
    struct Steps(RefCell<Vec<String>>);

    impl Progress for Steps {
        fn step(&self, message: &str) {
            self.0.borrow_mut().push(format!("step {message}"));
        }
        fn warn(&self, message: &str) {
            self.0.borrow_mut().push(format!("warn {message}"));
        }
    }

    #[test]
    fn an_activity_is_at_least_a_step() {
        let steps = Steps::default();
        let activity = steps.activity("starting dev");
        activity.progress("dev: installing");
        activity.detail("| noise");
        activity.finish();
        steps.status("quiet by default");
        steps.detail("quiet by default");
        assert_eq!(steps.0.borrow().as_slice(), ["step starting dev"]);
    }
}
