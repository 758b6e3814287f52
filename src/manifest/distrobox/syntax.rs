//! The syntax of an assemble file as people write it: `[section]` headers and
//! `key=value` lines, with the quirks both Distrobox parsers accept (inline
//! ` #` comments, `;` comment lines, quoted and bare values, CRLF, tabs,
//! spaces inside headers). Nothing is expanded here: a value is kept as
//! characters with their columns, so later errors can point into it.

use std::path::Path;

use super::super::model::Location;
use super::at_error;
use crate::error::Result;

/// One character of a value, with its column on the line (from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Ch {
    pub c: char,
    pub col: usize,
    /// Written escaped (`\$`, `` \` ``): literal, never expanded.
    pub escaped: bool,
}

/// One `key=value` line.
#[derive(Debug, Clone)]
pub(super) struct RawEntry {
    pub key: String,
    /// The key's place: where "FILE:LINE" messages about this entry point.
    pub at: Location,
    pub value: Vec<Ch>,
}

impl RawEntry {
    /// The value as written (unquoted), for messages and for keys that are not expanded.
    pub(super) fn text(&self) -> String {
        self.value.iter().map(|ch| ch.c).collect()
    }
}

#[derive(Debug)]
pub(super) struct RawSection {
    pub name: String,
    pub at: Location,
    pub entries: Vec<RawEntry>,
}

/// Hooks run in the box's shell: their text is kept as written.
pub(super) fn is_hook(key: &str) -> bool {
    key == "init_hooks" || key == "pre_init_hooks"
}

/// Splits the file into sections. Any malformed line is an error with its
/// FILE:LINE:COL, and then nothing of the file is used.
pub(super) fn sections(path: &Path, text: &str) -> Result<Vec<RawSection>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut sections: Vec<RawSection> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        // Columns count characters from 1; a tab is one character (v1 turns it into a space).
        let chars: Vec<(usize, char)> =
            raw.chars().enumerate().map(|(i, c)| (i + 1, if c == '\t' { ' ' } else { c })).collect();
        let at = |col: usize| Location { file: path.to_path_buf(), line: index + 1, column: col };
        let Some(start) = chars.iter().position(|(_, c)| !c.is_whitespace()) else {
            continue;
        };
        let line = &chars[start..];
        match line[0].1 {
            '#' | ';' => continue,
            '[' => {
                let section = header(line, &at)?;
                if let Some(other) = sections.iter().find(|s| s.name == section.name) {
                    return Err(at_error(
                        &section.at,
                        format!("section [{}] is defined twice (first at line {})", section.name, other.at.line),
                        Some("give each box its own section name".into()),
                    ));
                }
                sections.push(section);
            }
            _ => {
                let Some(eq) = line.iter().position(|(_, c)| *c == '=') else {
                    let found: String = line.iter().map(|(_, c)| c).collect();
                    return Err(at_error(
                        &at(line[0].0),
                        format!("expected key=value, found {:?}", found.trim_end()),
                        Some("each line is a [section], a key=value, or a # comment".into()),
                    ));
                };
                // v1 removes every space from the key.
                let key: String = line[..eq].iter().map(|(_, c)| *c).filter(|c| !c.is_whitespace()).collect();
                if key.is_empty() {
                    return Err(at_error(&at(line[0].0), "a value without a key", None));
                }
                let Some(section) = sections.last_mut() else {
                    return Err(at_error(
                        &at(line[0].0),
                        format!("`{key}` comes before any [section]"),
                        Some("start the file with [NAME], the box's name".into()),
                    ));
                };
                let value = value(&line[eq + 1..], is_hook(&key)).map_err(|(col, m)| at_error(&at(col), m, None))?;
                section.entries.push(RawEntry { key, at: at(line[0].0), value });
            }
        }
    }
    Ok(sections)
}

/// `[name]`, `[ name ]`, `[name] # comment`. v1 drops every space of the name.
fn header(line: &[(usize, char)], at: &dyn Fn(usize) -> Location) -> Result<RawSection> {
    let Some(close) = line.iter().position(|(_, c)| *c == ']') else {
        return Err(at_error(&at(line[0].0), "the section header has no closing `]`", None));
    };
    let name: String = line[1..close].iter().map(|(_, c)| *c).filter(|c| !c.is_whitespace()).collect();
    match line[close + 1..].iter().find(|(_, c)| !c.is_whitespace()) {
        Some(&(col, c)) if c != '#' && c != ';' => {
            return Err(at_error(&at(col), format!("unexpected {c:?} after the section header"), None));
        }
        _ => {}
    }
    let at = at(line[0].0);
    if let Err(err) = crate::boxes::validate_name(&name) {
        return Err(at_error(&at, format!("section [{name}]: {err}"), err.hint()));
    }
    Ok(RawSection { name, at, entries: Vec::new() })
}

/// A hook value as Distrobox 1's shell parser reads it when it is not one
/// well-formed quoted string: up to an inline ` #` comment, trailing space
/// trimmed, one leading and one trailing quote removed, and everything in
/// between kept as written (quotes too) for the box's shell.
fn distrobox_hook(rest: &[(usize, char)]) -> Vec<Ch> {
    let mut out: Vec<Ch> = Vec::new();
    let mut prev_space = false;
    for &(col, c) in rest {
        if c == '#' && prev_space {
            break;
        }
        prev_space = c.is_whitespace();
        out.push(Ch { c, col, escaped: false });
    }
    while out.last().is_some_and(|ch| ch.c.is_whitespace()) {
        out.pop();
    }
    if out.first().is_some_and(|ch| ch.c == '"' || ch.c == '\'') {
        out.remove(0);
    }
    if out.last().is_some_and(|ch| ch.c == '"' || ch.c == '\'') {
        out.pop();
    }
    out
}

/// The value after `=`: double-quoted (with `\"` `\\` `\$` escapes),
/// single-quoted (literal), or bare up to an inline ` #` comment. A bare
/// value loses a trailing `;` (a shell statement end) unless it is a hook.
fn value(rest: &[(usize, char)], hook: bool) -> std::result::Result<Vec<Ch>, (usize, String)> {
    let start = rest.iter().position(|(_, c)| !c.is_whitespace()).unwrap_or(rest.len());
    let rest = &rest[start..];
    let Some(&(open_col, first)) = rest.first() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    if first == '"' || first == '\'' {
        let mut i = 1;
        let mut closed = None;
        while i < rest.len() {
            let (col, c) = rest[i];
            if c == first {
                closed = Some(i);
                break;
            }
            if c == '\\' && first == '"' && i + 1 < rest.len() {
                let next = rest[i + 1].1;
                let escapes = if hook { next == '"' } else { matches!(next, '"' | '\\' | '$' | '`') };
                if escapes {
                    out.push(Ch { c: next, col: rest[i + 1].0, escaped: true });
                    i += 2;
                    continue;
                }
            }
            out.push(Ch { c, col, escaped: false });
            i += 1;
        }
        let Some(close) = closed else {
            if hook {
                return Ok(distrobox_hook(rest));
            }
            return Err((open_col, format!("the value has no closing {first} (it opens here)")));
        };
        // After the closing quote: nothing, a `;`, or a comment.
        let mut after = rest[close + 1..].iter().skip_while(|(_, c)| c.is_whitespace()).peekable();
        if after.peek().is_some_and(|(_, c)| *c == ';') {
            after.next();
            while after.peek().is_some_and(|(_, c)| c.is_whitespace()) {
                after.next();
            }
        }
        match after.next() {
            // Distrobox 1 keeps quotes inside a hook: `"echo "hi" > /x"`.
            Some(&(_, c)) if hook && c != '#' => return Ok(distrobox_hook(rest)),
            Some(&(col, c)) if c != '#' => return Err((col, format!("unexpected {c:?} after the quoted value"))),
            _ => {}
        }
        return Ok(out);
    }
    let mut prev_space = false;
    let mut i = 0;
    while i < rest.len() {
        let (col, c) = rest[i];
        if c == '#' && prev_space {
            break;
        }
        prev_space = c.is_whitespace();
        if c == '\\' && !hook && i + 1 < rest.len() && matches!(rest[i + 1].1, '$' | '`') {
            out.push(Ch { c: rest[i + 1].1, col: rest[i + 1].0, escaped: true });
            i += 2;
            continue;
        }
        out.push(Ch { c, col, escaped: false });
        i += 1;
    }
    while out.last().is_some_and(|ch| ch.c.is_whitespace()) {
        out.pop();
    }
    if !hook && out.last().is_some_and(|ch| ch.c == ';' && !ch.escaped) {
        out.pop();
        while out.last().is_some_and(|ch| ch.c.is_whitespace()) {
            out.pop();
        }
    }
    Ok(out)
}
