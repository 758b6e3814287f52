//! The one printer: data goes to stdout, status to stderr. Colour respects
//! NO_COLOR and terminals; spinners only appear on a terminal and never in
//! verbose mode.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use console::Style;

use crate::error::Error;
use crate::progress::{Activity, Progress};

#[derive(Debug, Clone)]
pub(crate) struct Printer {
    color: bool,
    stderr_tty: bool,
    pub verbose: bool,
    pub quiet: bool,
}

impl Printer {
    pub(crate) fn new(verbose: bool, quiet: bool) -> Self {
        let stderr_tty = std::io::stderr().is_terminal();
        let no_color = std::env::var_os(crate::env_vars::NO_COLOR).is_some_and(|v| !v.is_empty());
        Printer { color: stderr_tty && !no_color, stderr_tty, verbose, quiet }
    }

    fn style(&self, style: Style, text: &str) -> String {
        if self.color { style.force_styling(true).apply_to(text).to_string() } else { text.to_string() }
    }

    /// A line of data on stdout.
    pub(crate) fn data(&self, line: impl AsRef<str>) {
        let mut out = std::io::stdout().lock();
        // A closed pipe (`tent list | head`) is not an error worth reporting.
        let _ = writeln!(out, "{}", line.as_ref());
    }

    // Everything below goes to the terminal with box text in it (names, an
    // engine's stderr, the tail of an init log): each line is sanitized, so
    // nothing a box wrote can drive the terminal (issue 19). tent's own
    // colours are added after.

    /// A status line on stderr, hidden by --quiet.
    pub(crate) fn status(&self, line: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", sanitize_lines(line.as_ref()));
        }
    }

    /// A step of a slow operation, `==> what`.
    pub(crate) fn step(&self, line: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{} {}", self.style(Style::new().blue().bold(), "==>"), sanitize_lines(line.as_ref()));
        }
    }

    /// Detail shown only with --verbose.
    pub(crate) fn verbose(&self, line: impl AsRef<str>) {
        if self.verbose {
            eprintln!("{}", self.style(Style::new().dim(), &sanitize_lines(line.as_ref())));
        }
    }

    pub(crate) fn warn(&self, line: impl AsRef<str>) {
        eprintln!("{} {}", self.style(Style::new().yellow().bold(), "warning:"), sanitize_lines(line.as_ref()));
    }

    /// An error and its hint. The message may hold an engine's stderr
    /// (`Error::Engine`), a box's init failure or its log's last lines.
    pub(crate) fn error(&self, err: &Error) {
        eprintln!("{} {}", self.style(Style::new().red().bold(), "error:"), error_text(err));
        if let Some(hint) = err.hint() {
            let label = self.style(Style::new().cyan().bold(), "hint:");
            eprintln!("{label} {}", sanitize_lines(&hint));
        }
    }

    pub(crate) fn stderr_is_terminal(&self) -> bool {
        self.stderr_tty
    }

    /// A spinner for a slow step, or nothing off a terminal (the step line is
    /// printed instead, so logs still say what happened).
    pub(crate) fn spinner(&self, message: impl Into<String>) -> Spinner {
        let message = sanitize_lines(&message.into()).into_owned();
        if self.stderr_tty && !self.verbose && !self.quiet {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner:.blue} {msg} {elapsed:.dim}")
                    .expect("static template"),
            );
            bar.set_message(message);
            bar.enable_steady_tick(Duration::from_millis(100));
            Spinner { bar: Some(bar), quiet: self.quiet, verbose: self.verbose }
        } else {
            self.step(&message);
            Spinner { bar: None, quiet: self.quiet, verbose: self.verbose }
        }
    }

    /// Whether a question can be asked: it shows on stderr and is answered
    /// on stdin, so both must be a terminal.
    pub(crate) fn can_ask(&self) -> bool {
        self.stderr_tty && std::io::stdin().is_terminal()
    }

    /// Gets the user's yes before a command changes or removes something:
    /// `yes` (`--yes`) is one; else the answer to `question` on a terminal;
    /// else `unanswered` decides. A no is `Error::Aborted(kept)`, `kept`
    /// saying what stays as it was ("nothing was removed").
    ///
    /// Every command that asks goes through here, so they agree on when a
    /// question is asked and what happens when nobody can answer it.
    pub(crate) fn agree(&self, yes: bool, question: &str, unanswered: Unanswered, kept: &str) -> Result<(), Error> {
        match (asking(yes, self.stderr_tty, std::io::stdin().is_terminal(), &unanswered), unanswered) {
            (Asking::Agreed, _) => Ok(()),
            (Asking::Ask, _) => {
                if self.confirm(question) {
                    Ok(())
                } else {
                    Err(Error::Aborted(kept.to_string()))
                }
            }
            (Asking::Refused, Unanswered::Refuse(err)) => Err(err),
            // (`asking` refuses only for `Refuse`.)
            (Asking::NoAnswer | Asking::Refused, _) => {
                // Shown all the same: it names what was at stake.
                eprintln!("{}", sanitize_lines(question));
                Err(Error::Aborted(format!(
                    "{kept}: the question had no answer, standard input is not a terminal (--yes answers it)"
                )))
            }
        }
    }

    /// Asks a yes/no question on the terminal; false when stdin is not one.
    pub(crate) fn confirm(&self, question: &str) -> bool {
        if !std::io::stdin().is_terminal() {
            return false;
        }
        eprint!("{question} [y/N] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        if std::io::stdin().read_line(&mut answer).is_err() {
            return false;
        }
        matches!(answer.trim(), "y" | "Y" | "yes" | "Yes")
    }
}

/// What a command that asks first does when the question cannot be asked
/// (no `--yes`, and stderr or stdin is not a terminal).
#[derive(Debug)]
pub(crate) enum Unanswered {
    /// Goes ahead when nobody watches (stderr is not a terminal), naming each
    /// thing as it goes: a script that runs `tent rm BOX` means it, as with
    /// `rm`. Someone watching whose stdin cannot answer gets a no.
    GoAhead,
    /// Refuses with this error, which names the way to say yes.
    Refuse(Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asking {
    /// `--yes`, or nobody watches and the command goes ahead.
    Agreed,
    Ask,
    /// `Unanswered::Refuse`'s error.
    Refused,
    /// Someone watches, but stdin cannot carry their answer.
    NoAnswer,
}

/// The decision behind [`Printer::agree`], kept pure for its tests.
fn asking(yes: bool, stderr_tty: bool, stdin_tty: bool, unanswered: &Unanswered) -> Asking {
    match (yes, stderr_tty && stdin_tty, unanswered) {
        (true, _, _) => Asking::Agreed,
        (false, true, _) => Asking::Ask,
        (false, false, Unanswered::Refuse(_)) => Asking::Refused,
        (false, false, Unanswered::GoAhead) if !stderr_tty => Asking::Agreed,
        (false, false, Unanswered::GoAhead) => Asking::NoAnswer,
    }
}

/// The floor's `text::sanitize`, kept here for the printer's callers.
pub(crate) use crate::text::{sanitize, sanitize_lines};

/// An error as printed after `error:`, sanitized.
pub(crate) fn error_text(err: &Error) -> String {
    sanitize_lines(&err.to_string()).into_owned()
}

pub(crate) struct Spinner {
    bar: Option<indicatif::ProgressBar>,
    quiet: bool,
    verbose: bool,
}

impl Spinner {
    pub(crate) fn set_message(&self, message: impl Into<String>) {
        if let Some(bar) = &self.bar {
            bar.set_message(sanitize_lines(&message.into()).into_owned());
        }
    }

    /// Prints a line above the spinner (or plainly without one).
    pub(crate) fn println(&self, line: impl AsRef<str>) {
        let line = sanitize_lines(line.as_ref());
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    pub(crate) fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Library code reports through the printer: steps and status hidden by
/// --quiet, details shown with --verbose, every line sanitized.
impl Progress for Printer {
    fn step(&self, message: &str) {
        Printer::step(self, message);
    }

    fn warn(&self, message: &str) {
        Printer::warn(self, message);
    }

    fn status(&self, message: &str) {
        Printer::status(self, message);
    }

    fn detail(&self, message: &str) {
        self.verbose(message);
    }

    fn activity(&self, message: &str) -> Box<dyn Activity + '_> {
        Box::new(self.spinner(message))
    }
}

/// A wait on the spinner: its progress lines stay above it unless --quiet
/// (indented), its details (`  | line`) only with --verbose.
impl Activity for Spinner {
    fn progress(&self, message: &str) {
        self.set_message(message);
        if !self.quiet {
            self.println(format!("  {message}"));
        }
    }

    fn detail(&self, line: &str) {
        if self.verbose {
            self.println(format!("  | {line}"));
        }
    }

    fn finish(self: Box<Self>) {
        Spinner::finish(*self);
    }
}

/// Renders rows as columns two spaces apart under a header, measured with
/// console's width helpers (wide and combining characters line up); the
/// last column is not padded.
pub(crate) fn table<S: AsRef<str>>(header: &[&str], rows: &[Vec<S>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| console::measure_text_width(h)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(widths.len()) {
            widths[i] = widths[i].max(console::measure_text_width(cell.as_ref()));
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let cells: Vec<&str> = cells.collect();
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&console::pad_str(cell, widths[i], console::Alignment::Left, None));
                out.push_str("  ");
            }
        }
        out
    };
    let mut out = line(&mut header.iter().copied());
    for row in rows {
        out.push('\n');
        out.push_str(&line(&mut row.iter().map(AsRef::as_ref)));
    }
    out
}

#[cfg(test)]
mod table_tests {
    use super::table;

    #[test]
    fn columns_line_up_and_the_last_is_not_padded() {
        let rows = vec![vec!["dev", "Up", "x"], vec!["longer-name", "Exited (0)", "y"]];
        let text = table(&["NAME", "STATUS", "MORE"], &rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "NAME         STATUS      MORE");
        assert_eq!(lines[1], "dev          Up          x");
        assert_eq!(lines[2], "longer-name  Exited (0)  y");
    }

    #[test]
    fn wide_characters_count_as_two_columns() {
        let text = table(&["A", "B"], &[vec!["日本", "x"]]);
        assert_eq!(text.lines().nth(1).unwrap(), "日本  x");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[test]
    fn errors_with_box_text_lose_its_escapes_but_keep_their_lines() {
        let err = Error::Engine {
            what: "could not start \"dev\"".into(),
            failure: crate::error::CommandFailure {
                argv: vec!["podman".into(), "start".into(), "dev".into()],
                status: Some(125),
                stderr: "Error: \u{1b}]0;owned\u{7}bad\u{1b}[2J\nsecond\u{9b}line\r".into(),
            },
        };
        let text = error_text(&err);
        assert!(!text.contains(['\u{1b}', '\u{7}', '\u{9b}', '\r']), "{text:?}");
        assert!(text.contains("\n  | Error: bad\n  | secondline"), "{text:?}");
        assert_eq!(sanitize_lines("a\nb\tc"), "a\nb\tc");
        assert!(matches!(sanitize_lines("a\nb"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_question_is_asked_only_where_it_can_be_answered() {
        let refuse = || Unanswered::Refuse(Error::usage("no", None::<String>));
        for unanswered in [Unanswered::GoAhead, refuse()] {
            // --yes answers it everywhere.
            for (err, inp) in [(true, true), (true, false), (false, true), (false, false)] {
                assert_eq!(asking(true, err, inp, &unanswered), Asking::Agreed);
            }
            // A terminal on both sides asks.
            assert_eq!(asking(false, true, true, &unanswered), Asking::Ask);
        }
        // Nobody can answer: the command says what it does without a yes.
        assert_eq!(asking(false, false, false, &refuse()), Asking::Refused);
        assert_eq!(asking(false, true, false, &refuse()), Asking::Refused);
        assert_eq!(asking(false, false, true, &refuse()), Asking::Refused);
        // A script (nobody watches) goes ahead; someone watching whose
        // stdin is a pipe gets a no, never a removal they were not asked about.
        assert_eq!(asking(false, false, false, &Unanswered::GoAhead), Asking::Agreed);
        assert_eq!(asking(false, false, true, &Unanswered::GoAhead), Asking::Agreed);
        assert_eq!(asking(false, true, false, &Unanswered::GoAhead), Asking::NoAnswer);
    }

    #[test]
    fn agree_without_a_terminal_refuses_or_goes_ahead_as_told() {
        let printer = Printer { color: false, stderr_tty: false, verbose: false, quiet: true };
        assert!(printer.agree(true, "Remove?", Unanswered::Refuse(Error::usage("no", None::<String>)), "kept").is_ok());
        assert!(printer.agree(false, "Remove?", Unanswered::GoAhead, "kept").is_ok());
        let err = printer
            .agree(
                false,
                "Remove?",
                Unanswered::Refuse(Error::usage("not without a yes", Some("pass --yes".to_string()))),
                "kept",
            )
            .unwrap_err();
        assert!(matches!(&err, Error::Usage { message, .. } if message == "not without a yes"), "{err:?}");
    }
}
