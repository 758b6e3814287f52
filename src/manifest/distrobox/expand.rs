//! Variable references in values, expanded as data.
//!
//! Distrobox 1 sources every value through the host's shell, and people rely
//! on what that gives for variables: `home=$HOME/boxes/dev`,
//! `volume=$PWD:/workspace`, `${DBX_CONTAINER_HOME_PREFIX}/x`, `~/src`. tent
//! gives the same text without a shell: `$NAME`, `${NAME}`, `${NAME:-default}`,
//! `${NAME-default}` and a `~` at the start of a word or after `:` are replaced
//! from a lookup the caller passes in (so this is a pure function). Anything
//! that would run a program (`$(…)`, `` `…` ``) is an error that points at it,
//! unless the caller passes a runner ([`Run`]: `tent apply --run-substitutions`),
//! which then gives each substitution's output.
//!
//! Issue 19: a key set earlier in a section is a variable for later keys, so
//! `hostname=$hostname$hostname` written twenty times doubles a value twenty
//! times (a 1 KB file asked for terabytes). Every expansion has a byte limit,
//! checked as the value grows, so no value ever gets past it in memory.

use super::syntax::Ch;

/// A value with its variables replaced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Expanded {
    pub text: String,
    /// Variables that were not set (they expand to nothing), with their columns.
    pub unset: Vec<(String, usize)>,
}

/// An error inside a value: its column and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ExpandError {
    pub col: usize,
    pub message: String,
    /// The value passed the byte limit it was expanded with.
    pub too_long: bool,
}

/// Runs one command substitution's text (what is inside `$(…)` or the
/// backquotes) and gives its output, or says why it could not.
pub(crate) type Run<'a> = &'a dyn Fn(&str) -> Result<String, String>;

/// Expands `value`; `lookup` gives a variable's value, None when it is unset.
/// A value that would grow past `max` bytes is an error at the column of the
/// reference that took it past. Command substitutions are errors.
#[cfg(test)]
pub fn expand(value: &[Ch], lookup: &dyn Fn(&str) -> Option<String>, max: usize) -> Result<Expanded, ExpandError> {
    expand_running(value, lookup, None, max)
}

/// [`expand`], with command substitutions given by `run` when there is one
/// (their output, trailing newlines removed, as a shell gives it).
pub(super) fn expand_running(
    value: &[Ch],
    lookup: &dyn Fn(&str) -> Option<String>,
    run: Option<Run<'_>>,
    max: usize,
) -> Result<Expanded, ExpandError> {
    let mut out = Expanded::default();
    expand_into(value, lookup, run, max, &mut out)?;
    Ok(out)
}

fn expand_into(
    value: &[Ch],
    lookup: &dyn Fn(&str) -> Option<String>,
    run: Option<Run<'_>>,
    max: usize,
    out: &mut Expanded,
) -> Result<(), ExpandError> {
    let mut i = 0;
    while i < value.len() {
        let ch = value[i];
        if ch.escaped {
            push(out, ch.c.encode_utf8(&mut [0; 4]), ch.col, max)?;
            i += 1;
            continue;
        }
        match ch.c {
            '`' if run.is_none() => return Err(command(ch.col)),
            '`' => {
                let close = (i + 1..value.len())
                    .find(|&j| value[j].c == '`' && !value[j].escaped)
                    .ok_or_else(|| unclosed(ch.col, "a backquote has no closing backquote"))?;
                substitute(&value[i + 1..close], ch.col, run, max, out)?;
                i = close + 1;
            }
            '~' if at_word_start(value, i) && ends_tilde(value.get(i + 1)) => {
                match lookup("HOME") {
                    Some(home) => push(out, &home, ch.col, max)?,
                    None => push(out, "~", ch.col, max)?,
                }
                i += 1;
            }
            '$' => i = dollar(value, i, lookup, run, max, out)?,
            c => {
                push(out, c.encode_utf8(&mut [0; 4]), ch.col, max)?;
                i += 1;
            }
        }
    }
    Ok(())
}

/// Appends `s`, or fails at `col` when the value would pass `max` bytes.
fn push(out: &mut Expanded, s: &str, col: usize, max: usize) -> Result<(), ExpandError> {
    if out.text.len().saturating_add(s.len()) > max {
        return Err(too_long(col, max));
    }
    out.text.push_str(s);
    Ok(())
}

/// The error of a value that grows past `max` bytes.
pub(super) fn too_long(col: usize, max: usize) -> ExpandError {
    ExpandError {
        col,
        message: format!(
            "the value grows past {max} bytes once its variables are expanded \
             (a key used as a variable in its own value doubles it each time)"
        ),
        too_long: true,
    }
}

fn command(col: usize) -> ExpandError {
    ExpandError {
        col,
        too_long: false,
        message: "command substitution (`$(…)` or a backquote) would run a program on the host; tent reads this \
                  file as data (`tent apply --run-substitutions` runs each on the host after printing it)"
            .into(),
    }
}

fn unclosed(col: usize, what: &str) -> ExpandError {
    ExpandError { col, too_long: false, message: what.into() }
}

/// The command inside a substitution as it was written (escapes kept).
pub(super) fn command_text(inner: &[Ch]) -> String {
    let mut text = String::new();
    for ch in inner {
        if ch.escaped {
            text.push('\\');
        }
        text.push(ch.c);
    }
    text
}

/// Runs the substitution whose inside is `inner` (at `col`), or refuses it
/// when there is no runner.
fn substitute(
    inner: &[Ch],
    col: usize,
    run: Option<Run<'_>>,
    max: usize,
    out: &mut Expanded,
) -> Result<(), ExpandError> {
    let Some(run) = run else { return Err(command(col)) };
    let text = command_text(inner);
    let output = run(&text).map_err(|why| ExpandError { col, too_long: false, message: why })?;
    push(out, output.trim_end_matches('\n'), col, max)
}

/// The index of the `)` that closes the `$(` whose `(` is at `open`.
fn closing_paren(value: &[Ch], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (j, ch) in value.iter().enumerate().skip(open) {
        if ch.escaped {
            continue;
        }
        match ch.c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(j);
                }
            }
            _ => {}
        }
    }
    None
}

/// A `~` expands at the start of the value, of a space-separated word, or after `:`.
fn at_word_start(value: &[Ch], i: usize) -> bool {
    i == 0 || matches!(value[i - 1].c, ' ' | ':') && !value[i - 1].escaped
}

fn ends_tilde(next: Option<&Ch>) -> bool {
    next.is_none_or(|n| matches!(n.c, '/' | ':' | ' '))
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Expands the reference that starts with the `$` at `i`; returns the index after it.
fn dollar(
    value: &[Ch],
    i: usize,
    lookup: &dyn Fn(&str) -> Option<String>,
    run: Option<Run<'_>>,
    max: usize,
    out: &mut Expanded,
) -> Result<usize, ExpandError> {
    let col = value[i].col;
    let Some(next) = value.get(i + 1) else {
        push(out, "$", col, max)?;
        return Ok(i + 1);
    };
    if next.escaped {
        push(out, "$", col, max)?;
        return Ok(i + 1);
    }
    if next.c == '(' {
        if run.is_none() {
            return Err(command(col));
        }
        let close = closing_paren(value, i + 1).ok_or_else(|| unclosed(col, "`$(` has no closing `)`"))?;
        substitute(&value[i + 2..close], col, run, max, out)?;
        return Ok(close + 1);
    }
    if is_name_start(next.c) {
        let end = (i + 1..value.len()).find(|&j| value[j].escaped || !is_name(value[j].c)).unwrap_or(value.len());
        let name: String = value[i + 1..end].iter().map(|ch| ch.c).collect();
        push_var(&name, col, lookup, max, out)?;
        return Ok(end);
    }
    if next.c != '{' {
        // `$1`, `$$`, `$ `: no variable of a file; kept as written.
        push(out, "$", col, max)?;
        return Ok(i + 1);
    }
    let Some(close) = (i + 2..value.len()).find(|&j| value[j].c == '}' && !value[j].escaped) else {
        return Err(ExpandError { col, message: "`${` has no closing `}`".into(), too_long: false });
    };
    let inner = &value[i + 2..close];
    let name_end = inner.iter().position(|ch| !is_name(ch.c)).unwrap_or(inner.len());
    let name: String = inner[..name_end].iter().map(|ch| ch.c).collect();
    if name.is_empty() || !is_name_start(name.chars().next().unwrap_or('0')) {
        return Err(ExpandError { col, message: "`${…}` needs a variable name".into(), too_long: false });
    }
    let rest = &inner[name_end..];
    let default = match rest.iter().map(|ch| ch.c).collect::<String>() {
        s if s.is_empty() => None,
        s if s.starts_with(":-") => Some((&rest[2..], true)),
        s if s.starts_with('-') => Some((&rest[1..], false)),
        _ => {
            return Err(ExpandError {
                col,
                too_long: false,
                message: format!(
                    "`${{{name}{}}}` is shell syntax tent does not read; use $NAME, ${{NAME}} or ${{NAME:-default}}",
                    rest.iter().map(|ch| ch.c).collect::<String>()
                ),
            });
        }
    };
    match (lookup(&name), default) {
        (Some(v), Some((_, true))) if v.is_empty() => expand_into(default_of(default), lookup, run, max, out)?,
        (Some(v), _) => push(out, &v, col, max)?,
        (None, Some(_)) => expand_into(default_of(default), lookup, run, max, out)?,
        (None, None) => out.unset.push((name, col)),
    }
    Ok(close + 1)
}

fn default_of(default: Option<(&[Ch], bool)>) -> &[Ch] {
    default.map_or(&[], |(d, _)| d)
}

fn push_var(
    name: &str,
    col: usize,
    lookup: &dyn Fn(&str) -> Option<String>,
    max: usize,
    out: &mut Expanded,
) -> Result<(), ExpandError> {
    match lookup(name) {
        Some(v) => push(out, &v, col, max),
        None => {
            out.unset.push((name.to_string(), col));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<Ch> {
        s.chars().enumerate().map(|(i, c)| Ch { c, col: i + 1, escaped: false }).collect()
    }

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/home/me".into()),
            "PWD" => Some("/proj".into()),
            "EMPTY" => Some(String::new()),
            "DBX_CONTAINER_HOME_PREFIX" => Some("/data/homes".into()),
            _ => None,
        }
    }

    const MAX: usize = 1 << 16;

    fn ok(s: &str) -> Expanded {
        expand(&chars(s), &env, MAX).unwrap()
    }

    #[test]
    fn variables_and_tilde_expand_from_the_lookup() {
        assert_eq!(ok("$HOME/boxes/dev").text, "/home/me/boxes/dev");
        assert_eq!(ok("${HOME}/x").text, "/home/me/x");
        assert_eq!(ok("$PWD:/workspace").text, "/proj:/workspace");
        assert_eq!(ok("${DBX_CONTAINER_HOME_PREFIX}/dev").text, "/data/homes/dev");
        assert_eq!(ok("~/a:~/b ~/c ~").text, "/home/me/a:/home/me/b /home/me/c /home/me");
        assert_eq!(ok("a~/b ~user").text, "a~/b ~user", "only a word's own ~ expands");
        assert_eq!(ok("${NOPE:-/tmp/$PWD}").text, "/tmp//proj");
        assert_eq!(ok("${EMPTY:-d} ${EMPTY-d}").text, "d ");
        assert_eq!(ok("cost $5 $").text, "cost $5 $");
    }

    #[test]
    fn an_unset_variable_expands_to_nothing_and_is_reported() {
        let e = ok("x${NOPE}y$ALSO_NOPE");
        assert_eq!(e.text, "xy");
        assert_eq!(e.unset, [("NOPE".to_string(), 2), ("ALSO_NOPE".to_string(), 10)]);
    }

    #[test]
    fn escaped_dollars_stay_literal() {
        let mut v = chars("a$HOME");
        v[1].escaped = true;
        assert_eq!(expand(&v, &env, MAX).unwrap().text, "a$HOME");
    }

    #[test]
    fn commands_are_errors_at_their_column() {
        let e = expand(&chars("abc$(id)"), &env, MAX).unwrap_err();
        assert_eq!(e.col, 4);
        let e = expand(&chars("x `id`"), &env, MAX).unwrap_err();
        assert_eq!(e.col, 3);
        let e = expand(&chars("${HOME/a/b}"), &env, MAX).unwrap_err();
        assert!(e.message.contains("does not read"), "{}", e.message);
        assert_eq!(expand(&chars("a${HOME"), &env, MAX).unwrap_err().col, 2);
        assert!(expand(&chars("$(id"), &env, MAX).unwrap_err().message.contains("--run-substitutions"));
        assert!(expand(&chars("`id"), &env, MAX).unwrap_err().message.contains("--run-substitutions"));
    }

    #[test]
    fn substitutions_are_given_by_the_runner_when_there_is_one() {
        let ran = std::cell::RefCell::new(Vec::new());
        let run = |c: &str| -> Result<String, String> {
            ran.borrow_mut().push(c.to_string());
            Ok(format!("<{c}>\n\n"))
        };
        let got = expand_running(&chars("a$(echo (x) $HOME)b `id -u`:$HOME"), &env, Some(&run), MAX).unwrap();
        assert_eq!(got.text, "a<echo (x) $HOME>b <id -u>:/home/me", "trailing newlines go, as in sh");
        assert_eq!(*ran.borrow(), ["echo (x) $HOME", "id -u"], "the command as written, variables left to sh");
        let mut v = chars("$(printf %s $HOME)");
        v[12].escaped = true;
        expand_running(&v, &env, Some(&run), MAX).unwrap();
        assert_eq!(ran.borrow()[2], "printf %s \\$HOME", "escapes are kept for sh");
        assert_eq!(expand_running(&chars("ab$(x"), &env, Some(&run), MAX).unwrap_err().col, 3);
        assert_eq!(expand_running(&chars("ab `x"), &env, Some(&run), MAX).unwrap_err().col, 4);
        let failing = |_: &str| -> Result<String, String> { Err("it failed".into()) };
        let e = expand_running(&chars("x$(false)"), &env, Some(&failing), MAX).unwrap_err();
        assert_eq!((e.col, e.message.as_str()), (2, "it failed"));
        let long = |_: &str| -> Result<String, String> { Ok("y".repeat(10)) };
        assert!(expand_running(&chars("$(x)"), &env, Some(&long), 5).unwrap_err().too_long);
    }

    #[test]
    fn a_value_never_grows_past_its_limit() {
        let big = |n: &str| (n == "BIG").then(|| "x".repeat(1000));
        assert_eq!(expand(&chars("$BIG"), &big, 1000).unwrap().text.len(), 1000);
        let e = expand(&chars("ab$BIG"), &big, 1000).unwrap_err();
        assert_eq!(e.col, 3, "the reference that took it past");
        assert!(e.message.contains("grows past 1000 bytes"), "{}", e.message);
        assert_eq!(expand(&chars("${NOPE:-$BIG}y"), &big, 1000).unwrap_err().col, 14);
        assert_eq!(expand(&chars("a ~/b"), &env, 5).unwrap_err().col, 3);
        assert!(expand(&chars("${BIG}"), &big, 999).is_err());
    }
}
