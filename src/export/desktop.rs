//! Desktop Entry files (freedesktop Desktop Entry Specification 1.5): a
//! parser that keeps every line as it was, the Exec key's quoting and field
//! codes, and the rewrite that makes a box's launcher start the app through
//! tent. Pure: no engine, no files.
//!
//! Exec values are escaped twice by the spec: first as a string value
//! (`\\`, `\s`, `\n`, `\t`, `\r`), then, inside double quotes, with a
//! backslash before `"`, `` ` ``, `$` and `\`. So a literal backslash in an
//! argument is written `"\\\\"` in the file. [`parse_exec`] undoes both,
//! [`render_exec`] does both.

use std::collections::BTreeMap;

/// The group every desktop file starts with.
pub const MAIN_GROUP: &str = "Desktop Entry";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// `[Group Name]`
    Group(String),
    /// `Key[locale]=value`, the value still escaped as in the file.
    Entry { key: String, locale: Option<String>, value: String },
    /// Comments, blank lines, and anything else, kept as they were.
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesktopFile {
    pub lines: Vec<Line>,
}

impl DesktopFile {
    /// Parses a desktop file; it must have a `[Desktop Entry]` group first.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut lines = Vec::new();
        for raw in text.lines() {
            let trimmed = raw.trim_end_matches('\r');
            let line = if trimmed.starts_with('#') || trimmed.trim().is_empty() {
                Line::Other(trimmed.to_string())
            } else if let Some(group) = trimmed.strip_prefix('[').and_then(|r| r.trim_end().strip_suffix(']')) {
                Line::Group(group.to_string())
            } else if let Some((key, value)) = trimmed.split_once('=') {
                let key = key.trim_end();
                let (key, locale) = match key.split_once('[') {
                    Some((k, rest)) => (k, Some(rest.trim_end_matches(']').to_string())),
                    None => (key, None),
                };
                Line::Entry { key: key.to_string(), locale, value: value.trim_start().to_string() }
            } else {
                Line::Other(trimmed.to_string())
            };
            lines.push(line);
        }
        let first_group = lines.iter().find_map(|l| match l {
            Line::Group(g) => Some(g.as_str()),
            _ => None,
        });
        if first_group != Some(MAIN_GROUP) {
            return Err(format!("it does not start with a [{MAIN_GROUP}] group"));
        }
        Ok(DesktopFile { lines })
    }

    /// The text of the file, one `\n` after every line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            match line {
                Line::Group(g) => out.push_str(&format!("[{g}]")),
                Line::Entry { key, locale: Some(l), value } => out.push_str(&format!("{key}[{l}]={value}")),
                Line::Entry { key, locale: None, value } => out.push_str(&format!("{key}={value}")),
                Line::Other(text) => out.push_str(text),
            }
            out.push('\n');
        }
        out
    }

    /// The names of the groups, in order.
    pub fn groups(&self) -> Vec<String> {
        self.lines
            .iter()
            .filter_map(|l| match l {
                Line::Group(g) => Some(g.clone()),
                _ => None,
            })
            .collect()
    }

    /// Indexes of the lines of one group (its entries and comments, not its header).
    fn group_range(&self, group: &str) -> Option<std::ops::Range<usize>> {
        let start = self.lines.iter().position(|l| matches!(l, Line::Group(g) if g == group))? + 1;
        let end = self.lines[start..]
            .iter()
            .position(|l| matches!(l, Line::Group(_)))
            .map_or(self.lines.len(), |p| start + p);
        Some(start..end)
    }

    /// The raw (escaped) value of an unlocalized key.
    pub fn get(&self, group: &str, key: &str) -> Option<&str> {
        let range = self.group_range(group)?;
        self.lines[range].iter().find_map(|l| match l {
            Line::Entry { key: k, locale: None, value } if k == key => Some(value.as_str()),
            _ => None,
        })
    }

    /// A string value, unescaped.
    pub fn get_string(&self, group: &str, key: &str) -> Option<String> {
        self.get(group, key).map(unescape_string)
    }

    /// Sets an unlocalized key: in place when present, else at the end of the
    /// group's entries (before trailing blank lines).
    pub fn set(&mut self, group: &str, key: &str, value: &str) {
        let Some(range) = self.group_range(group) else {
            return;
        };
        for line in &mut self.lines[range.clone()] {
            if let Line::Entry { key: k, locale: None, value: v } = line
                && k == key
            {
                *v = value.to_string();
                return;
            }
        }
        let mut at = range.end;
        while at > range.start && matches!(&self.lines[at - 1], Line::Other(t) if t.trim().is_empty()) {
            at -= 1;
        }
        self.lines.insert(at, Line::Entry { key: key.into(), locale: None, value: value.into() });
    }

    /// Removes a key with all its localized variants from one group.
    pub fn remove(&mut self, group: &str, key: &str) {
        let Some(range) = self.group_range(group) else {
            return;
        };
        let mut index = range.start;
        let mut end = range.end;
        while index < end {
            if matches!(&self.lines[index], Line::Entry { key: k, .. } if k == key) {
                self.lines.remove(index);
                end -= 1;
            } else {
                index += 1;
            }
        }
    }

    /// Every value of a key (all locales) in one group, mutably.
    fn values_mut<'a>(&'a mut self, group: &str, key: &'a str) -> impl Iterator<Item = &'a mut String> + 'a {
        let range = self.group_range(group).unwrap_or(0..0);
        self.lines[range].iter_mut().filter_map(move |l| match l {
            Line::Entry { key: k, value, .. } if k == key => Some(value),
            _ => None,
        })
    }

    /// The `[Desktop Action X]` groups.
    pub fn action_groups(&self) -> Vec<String> {
        self.groups().into_iter().filter(|g| g.starts_with("Desktop Action ")).collect()
    }

    /// Every Icon value of the main group and the actions, unescaped.
    pub fn icons(&self) -> Vec<String> {
        let mut icons: Vec<String> = Vec::new();
        for group in std::iter::once(MAIN_GROUP.to_string()).chain(self.action_groups()) {
            if let Some(icon) = self.get_string(&group, "Icon").filter(|i| !i.is_empty())
                && !icons.contains(&icon)
            {
                icons.push(icon);
            }
        }
        icons
    }
}

/// Undoes the string escapes of the spec: `\s` `\n` `\t` `\r` `\\`. Other
/// backslashes are kept, as launchers do.
pub fn unescape_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('s') => out.push(' '),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// The string escapes of the spec, for a value written to the file.
pub fn escape_string(value: &str) -> String {
    escape_chars(value, true)
}

/// `escape_string` for text appended to a value (no leading-space rule).
fn escape_chars(value: &str, at_start: bool) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            // Leading spaces would be taken as the space after '='.
            ' ' if i == 0 && at_start => out.push_str("\\s"),
            c => out.push(c),
        }
    }
    out
}

/// One piece of an Exec argument: text, or a field code the launcher expands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    /// `f`, `F`, `u`, `U`, `i`, `c` or `k`.
    Field(char),
}

/// One argument of an Exec line.
pub type ExecArg = Vec<Piece>;

/// Field codes the spec defines; the deprecated ones (`%d %D %n %N %v %m`)
/// and unknown ones are dropped, as the spec tells launchers to do.
const FIELD_CODES: &str = "fFuUick";

/// Parses an Exec value as written in the file into arguments.
///
/// Beyond the spec, single quotes and backslashes outside quotes are
/// accepted the way GLib's launcher accepts them, because real files use
/// them. Field codes are recognised inside quotes too, where the spec
/// forbids them but launchers expand them anyway: the rewrite keeps them
/// where they were, so the launcher on the host does what it did before.
pub fn parse_exec(value: &str) -> Result<Vec<ExecArg>, String> {
    let text = unescape_string(value);
    let mut args = Vec::new();
    let mut pieces: ExecArg = Vec::new();
    let mut buf = String::new();
    // A word exists once it has any character, quote or field code, so `""`
    // is an empty argument but a lone dropped `%d` is no argument at all.
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();

    fn flush_text(buf: &mut String, pieces: &mut ExecArg) {
        if !buf.is_empty() {
            pieces.push(Piece::Text(std::mem::take(buf)));
        }
    }

    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, ' ' | '\t' | '\n') => {
                if in_word {
                    flush_text(&mut buf, &mut pieces);
                    args.push(std::mem::take(&mut pieces));
                    in_word = false;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => match chars.peek() {
                Some(&next @ ('"' | '`' | '$' | '\\')) => {
                    chars.next();
                    buf.push(next);
                }
                _ => buf.push('\\'),
            },
            (None, '\\') => {
                in_word = true;
                if let Some(next) = chars.next() {
                    buf.push(next);
                }
            }
            (_, '%') => match chars.next() {
                Some('%') => {
                    buf.push('%');
                    in_word = true;
                }
                Some(code) if FIELD_CODES.contains(code) => {
                    flush_text(&mut buf, &mut pieces);
                    pieces.push(Piece::Field(code));
                    in_word = true;
                }
                Some(_) => {}
                None => return Err("it ends with a lone '%'".into()),
            },
            (_, c) => {
                buf.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("a {q} quote is not closed"));
    }
    if in_word {
        flush_text(&mut buf, &mut pieces);
        args.push(pieces);
    }
    if args.is_empty() {
        return Err("it is empty".into());
    }
    Ok(args)
}

/// Characters that the spec says must be quoted in an Exec argument.
const RESERVED: &[char] =
    &[' ', '\t', '\n', '"', '\'', '\\', '>', '<', '~', '|', '&', ';', '$', '*', '?', '#', '(', ')', '`'];

/// Renders arguments as an Exec value ready for the file: quoted per spec
/// where needed, `%` doubled in text, then string-escaped.
pub fn render_exec(args: &[ExecArg]) -> String {
    let words: Vec<String> = args.iter().map(render_arg).collect();
    escape_string(&words.join(" "))
}

fn render_arg(arg: &ExecArg) -> String {
    let needs_quotes =
        arg.is_empty() || arg.iter().any(|p| matches!(p, Piece::Text(t) if t.is_empty() || t.contains(RESERVED)));
    let mut out = String::new();
    if needs_quotes {
        out.push('"');
    }
    for piece in arg {
        match piece {
            Piece::Field(code) => {
                out.push('%');
                out.push(*code);
            }
            Piece::Text(text) => {
                for c in text.chars() {
                    match c {
                        '%' => out.push_str("%%"),
                        '"' | '`' | '$' | '\\' if needs_quotes => {
                            out.push('\\');
                            out.push(c);
                        }
                        c => out.push(c),
                    }
                }
            }
        }
    }
    if needs_quotes {
        out.push('"');
    }
    out
}

/// A plain text argument.
pub fn text_arg(text: impl Into<String>) -> ExecArg {
    vec![Piece::Text(text.into())]
}

/// How an exported launcher starts the app: `tent [engine flags] run BOX --`.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The tent binary, absolute.
    pub tent: String,
    /// `--engine PATH` and, for rootful podman through sudo, `--root`.
    pub engine_args: Vec<String>,
    pub box_name: String,
}

impl Launch {
    /// The argv before the app's own.
    pub fn prefix(&self) -> Vec<String> {
        let mut argv = vec![self.tent.clone()];
        argv.extend(self.engine_args.iter().cloned());
        argv.extend(["run".to_string(), self.box_name.clone(), "--".to_string()]);
        argv
    }
}

/// What the rewrite needs besides the original file.
#[derive(Debug, Clone)]
pub struct Rewrite<'a> {
    pub launch: &'a Launch,
    /// Comment lines put first (the ownership marker).
    pub header: &'a [String],
    /// Appended to Name and every Name[xx]; already has the box's name in it.
    pub name_suffix: &'a str,
    /// Original Icon value → the exported icon's name (or absolute path).
    pub icons: &'a BTreeMap<String, String>,
    /// The original desktop-file id, without `.desktop`.
    pub original_id: &'a str,
    /// Where the original file is in the box, for `%k`.
    pub original_path: &'a str,
}

/// Turns a box's desktop file into the host's launcher for it.
///
/// - Every Exec (main group and actions) becomes `tent … run BOX -- ORIGINAL`,
///   the original re-quoted per spec with `%f %F %u %U %c` left for the host's
///   launcher. `%i` becomes `--icon ORIGINAL_ICON` (the name the app knows in
///   its box) and `%k` the original file's path in the box: both are about the
///   app's own world, which is the box.
/// - TryExec goes: the program is in the box, so the host would hide the entry.
/// - DBusActivatable goes: the host's session bus cannot start an app in a box.
/// - Name gets the suffix; Icon names the copied icons; StartupWMClass is kept
///   or set to the original id, which is what GTK and Qt apps use as their
///   window class or Wayland app id, so the running window finds this launcher.
pub fn rewrite(original: &DesktopFile, r: &Rewrite<'_>) -> Result<DesktopFile, String> {
    let mut file = original.clone();
    match file.get_string(MAIN_GROUP, "Type").as_deref() {
        Some("Application") => {}
        Some(other) => {
            return Err(format!("it is of Type={other}; only applications can be exported"));
        }
        None => return Err("it has no Type key".into()),
    }
    if file.get(MAIN_GROUP, "Exec").is_none() {
        return Err("it has no Exec line (an app that only starts through D-Bus cannot be run in a box)".into());
    }
    let main_icon = file.get_string(MAIN_GROUP, "Icon").filter(|i| !i.is_empty());
    let groups: Vec<String> = std::iter::once(MAIN_GROUP.to_string()).chain(file.action_groups()).collect();
    for group in &groups {
        if let Some(exec) = file.get(group, "Exec") {
            let args = parse_exec(exec).map_err(|e| format!("its Exec line in [{group}] is invalid: {e}"))?;
            let args = expand_static(args, main_icon.as_deref(), r.original_path);
            let mut argv: Vec<ExecArg> = r.launch.prefix().into_iter().map(text_arg).collect();
            argv.extend(args);
            file.set(group, "Exec", &render_exec(&argv));
        }
        file.remove(group, "TryExec");
        if let Some(icon) = file.get_string(group, "Icon")
            && let Some(new) = r.icons.get(&icon)
        {
            file.set(group, "Icon", &escape_string(new));
        }
    }
    file.remove(MAIN_GROUP, "DBusActivatable");
    let suffix = escape_chars(r.name_suffix, false);
    for value in file.values_mut(MAIN_GROUP, "Name") {
        value.push_str(&suffix);
    }
    if file.get(MAIN_GROUP, "StartupWMClass").is_none() {
        file.set(MAIN_GROUP, "StartupWMClass", &escape_string(r.original_id));
    }
    file.set(MAIN_GROUP, "X-Tent-Box", &r.launch.box_name);
    let mut lines: Vec<Line> = r.header.iter().map(|h| Line::Other(h.clone())).collect();
    lines.append(&mut file.lines);
    Ok(DesktopFile { lines })
}

/// Expands `%i` and `%k`, which are about the box, at export time.
fn expand_static(args: Vec<ExecArg>, icon: Option<&str>, location: &str) -> Vec<ExecArg> {
    let mut out = Vec::new();
    for arg in args {
        if arg == [Piece::Field('i')] {
            if let Some(icon) = icon {
                out.push(text_arg("--icon"));
                out.push(text_arg(icon));
            }
            continue;
        }
        let arg: ExecArg = arg
            .into_iter()
            .map(|p| match p {
                Piece::Field('k') => Piece::Text(location.to_string()),
                Piece::Field('i') => Piece::Text(icon.unwrap_or_default().to_string()),
                p => p,
            })
            .collect();
        out.push(arg);
    }
    out
}

/// The desktop-file id of a file under an `applications` directory: its path
/// below that directory with `/` turned into `-` (spec, "Desktop File ID").
pub fn desktop_id(path: &str) -> String {
    let below = match path.rfind("/applications/") {
        Some(at) => &path[at + "/applications/".len()..],
        None => path.rsplit('/').next().unwrap_or(path),
    };
    below.replace('/', "-")
}

/// A desktop file found in the box.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub path: String,
    pub id: String,
    pub file: DesktopFile,
}

/// Finds the app the user asked for among the box's desktop files: by id
/// (with or without `.desktop`), then by Name (any locale, any case).
pub fn find_app<'a>(query: &str, candidates: &'a [Candidate]) -> Result<&'a Candidate, String> {
    let with_suffix = if query.ends_with(".desktop") { query.to_string() } else { format!("{query}.desktop") };
    if let Some(found) = candidates.iter().find(|c| c.id == with_suffix) {
        return Ok(found);
    }
    let wanted = query.to_lowercase();
    let by_name: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| {
            c.file.lines.iter().any(|l| {
                matches!(l, Line::Entry { key, value, .. } if key == "Name" && unescape_string(value).to_lowercase() == wanted)
            })
        })
        .collect();
    match by_name.as_slice() {
        [one] => Ok(one),
        [] => {
            let mut ids: Vec<&str> = candidates.iter().map(|c| c.id.trim_end_matches(".desktop")).collect();
            ids.sort_unstable();
            if ids.is_empty() {
                Err(format!("no app {query:?} in the box: it has no desktop files"))
            } else {
                Err(format!("no app {query:?} in the box; its apps are: {}", ids.join(", ")))
            }
        }
        many => {
            let ids: Vec<&str> = many.iter().map(|c| c.id.as_str()).collect();
            Err(format!("{query:?} names several apps in the box: {}; give one of these ids", ids.join(", ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(args: &[ExecArg]) -> Vec<String> {
        args.iter()
            .map(|a| {
                a.iter()
                    .map(|p| match p {
                        Piece::Text(t) => t.clone(),
                        Piece::Field(c) => format!("<%{c}>"),
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn exec_words_quotes_and_field_codes() {
        let args = parse_exec(r#"firefox-esr --name "My App" %u"#).unwrap();
        assert_eq!(texts(&args), vec!["firefox-esr", "--name", "My App", "<%u>"]);
        let args = parse_exec(r#"app "" --x=%f 100%%"#).unwrap();
        assert_eq!(texts(&args), vec!["app", "", "--x=<%f>", "100%"]);
    }

    #[test]
    fn exec_unescapes_twice() {
        // In the file: "a\\\\b" is the string "a\\b", which quoting makes a\b.
        let args = parse_exec(r#"echo "a\\\\b" "\\$HOME" "say \"hi\"" "`x`""#).unwrap();
        assert_eq!(texts(&args), vec!["echo", r"a\b", "$HOME", r#"say "hi""#, "`x`"]);
        let args = parse_exec(r"sh\s-c").unwrap();
        assert_eq!(texts(&args), vec!["sh", "-c"]);
    }

    #[test]
    fn exec_drops_deprecated_codes_but_keeps_empty_quoted_args() {
        let args = parse_exec("app %d %m -x %N").unwrap();
        assert_eq!(texts(&args), vec!["app", "-x"]);
        assert!(parse_exec("app \"open").is_err());
        assert!(parse_exec("app %").is_err());
        assert!(parse_exec("   ").is_err());
    }

    #[test]
    fn exec_accepts_single_quotes_like_glib() {
        let args = parse_exec("sh -c 'echo $1 \"x\"' sh %f").unwrap();
        assert_eq!(texts(&args), vec!["sh", "-c", "echo $1 \"x\"", "sh", "<%f>"]);
    }

    #[test]
    fn render_quotes_only_what_needs_it() {
        let args = vec![
            text_arg("/usr/bin/tent"),
            text_arg("a b"),
            text_arg(""),
            text_arg(r#"q"$`\"#),
            text_arg("50%"),
            vec![Piece::Field('F')],
            vec![Piece::Text("--file=".into()), Piece::Field('f')],
        ];
        let rendered = render_exec(&args);
        assert_eq!(rendered, r#"/usr/bin/tent "a b" "" "q\\"\\$\\`\\\\" 50%% %F --file=%f"#);
    }

    #[test]
    fn render_then_parse_is_the_identity() {
        let hostile = [
            "plain",
            "",
            " ",
            "a b",
            "tab\there",
            "new\nline",
            "'single'",
            "\"double\"",
            "back\\slash",
            "$HOME",
            "`cmd`",
            "*?[]",
            "~user",
            "a;b|c&d",
            "<in>out",
            "#hash",
            "(paren)",
            "100%",
            "%f",
            "ünïcødé",
            "\\\\",
            "end\\",
        ];
        let args: Vec<ExecArg> = hostile.iter().map(|s| text_arg(*s)).collect();
        let parsed = parse_exec(&render_exec(&args)).unwrap();
        assert_eq!(texts(&parsed), hostile.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    }

    const FIREFOX: &str = "\
# A comment kept as it is
[Desktop Entry]
Name=Firefox
Name[de]=Firefox-Browser
GenericName=Web Browser
Exec=/usr/lib/firefox/firefox %u
TryExec=firefox
Icon=firefox
Type=Application
DBusActivatable=true
Actions=new-window;private;

[Desktop Action new-window]
Name=New Window
Exec=/usr/lib/firefox/firefox --new-window %u

[Desktop Action private]
Name=Private Window
Exec=\"/usr/lib/firefox/firefox\" --private-window %i %k
Icon=firefox
";

    fn launch() -> Launch {
        Launch {
            tent: "/home/a b/bin/tent".into(),
            engine_args: vec!["--engine".into(), "/usr/bin/podman".into()],
            box_name: "dev".into(),
        }
    }

    fn rewritten(text: &str) -> Result<DesktopFile, String> {
        let launch = launch();
        let icons = BTreeMap::from([("firefox".to_string(), "tent-dev-firefox".to_string())]);
        let header = vec!["# tent-export: box=dev scope=podman".to_string()];
        let r = Rewrite {
            launch: &launch,
            header: &header,
            name_suffix: " (on dev)",
            icons: &icons,
            original_id: "firefox",
            original_path: "/usr/share/applications/firefox.desktop",
        };
        rewrite(&DesktopFile::parse(text)?, &r)
    }

    #[test]
    fn rewrite_runs_every_exec_through_tent() {
        let out = rewritten(FIREFOX).unwrap();
        assert_eq!(
            out.get(MAIN_GROUP, "Exec"),
            Some(r#""/home/a b/bin/tent" --engine /usr/bin/podman run dev -- /usr/lib/firefox/firefox %u"#)
        );
        let action = out.get("Desktop Action new-window", "Exec").unwrap();
        assert!(action.ends_with("-- /usr/lib/firefox/firefox --new-window %u"), "{action}");
        let private = parse_exec(out.get("Desktop Action private", "Exec").unwrap()).unwrap();
        assert_eq!(
            texts(&private)[6..],
            [
                "/usr/lib/firefox/firefox",
                "--private-window",
                "--icon",
                "firefox",
                "/usr/share/applications/firefox.desktop"
            ]
        );
    }

    #[test]
    fn rewrite_fixes_names_icons_and_keys_the_host_cannot_use() {
        let out = rewritten(FIREFOX).unwrap();
        let text = out.render();
        assert!(text.starts_with("# tent-export: box=dev scope=podman\n# A comment kept as it is\n"), "{text}");
        assert_eq!(out.get(MAIN_GROUP, "Name"), Some("Firefox (on dev)"));
        assert!(text.contains("Name[de]=Firefox-Browser (on dev)\n"), "{text}");
        assert_eq!(out.get(MAIN_GROUP, "GenericName"), Some("Web Browser"));
        assert_eq!(out.get("Desktop Action new-window", "Name"), Some("New Window"));
        assert_eq!(out.get(MAIN_GROUP, "Icon"), Some("tent-dev-firefox"));
        assert_eq!(out.get("Desktop Action private", "Icon"), Some("tent-dev-firefox"));
        assert_eq!(out.get(MAIN_GROUP, "TryExec"), None);
        assert_eq!(out.get(MAIN_GROUP, "DBusActivatable"), None);
        assert_eq!(out.get(MAIN_GROUP, "StartupWMClass"), Some("firefox"));
        assert_eq!(out.get(MAIN_GROUP, "X-Tent-Box"), Some("dev"));
        // New keys go into the main group, not after the actions.
        let main_end = text.find("[Desktop Action").unwrap();
        assert!(text.find("X-Tent-Box=dev").unwrap() < main_end, "{text}");
    }

    #[test]
    fn rewrite_keeps_an_existing_wm_class() {
        let text = FIREFOX.replace("Type=Application\n", "Type=Application\nStartupWMClass=Navigator\n");
        assert_eq!(rewritten(&text).unwrap().get(MAIN_GROUP, "StartupWMClass"), Some("Navigator"));
    }

    #[test]
    fn rewrite_refuses_links_and_dbus_only_apps() {
        let link = "[Desktop Entry]\nType=Link\nName=x\nURL=https://example.org\n";
        assert!(rewritten(link).unwrap_err().contains("Type=Link"));
        let dbus = "[Desktop Entry]\nType=Application\nName=x\nDBusActivatable=true\n";
        assert!(rewritten(dbus).unwrap_err().contains("no Exec"));
        assert!(DesktopFile::parse("Name=x\n").is_err());
    }

    #[test]
    fn parse_and_render_keep_the_file() {
        let file = DesktopFile::parse(FIREFOX).unwrap();
        assert_eq!(file.render(), FIREFOX);
        assert_eq!(file.icons(), vec!["firefox"]);
    }

    #[test]
    fn ids_come_from_the_path_below_applications() {
        assert_eq!(desktop_id("/usr/share/applications/firefox.desktop"), "firefox.desktop");
        assert_eq!(desktop_id("/usr/share/applications/kde4/kate.desktop"), "kde4-kate.desktop");
        assert_eq!(desktop_id("/opt/x/foo.desktop"), "foo.desktop");
    }

    fn candidate(path: &str, name: &str) -> Candidate {
        let text = format!("[Desktop Entry]\nType=Application\nName={name}\nExec=x\n");
        Candidate { path: path.into(), id: desktop_id(path), file: DesktopFile::parse(&text).unwrap() }
    }

    #[test]
    fn apps_are_found_by_id_then_name() {
        let all = vec![
            candidate("/usr/share/applications/org.xfce.mousepad.desktop", "Mousepad"),
            candidate("/usr/share/applications/debian-xterm.desktop", "XTerm"),
            candidate("/usr/share/applications/debian-uxterm.desktop", "UXTerm"),
        ];
        assert_eq!(find_app("debian-xterm", &all).unwrap().id, "debian-xterm.desktop");
        assert_eq!(find_app("org.xfce.mousepad.desktop", &all).unwrap().id, "org.xfce.mousepad.desktop");
        assert_eq!(find_app("mousepad", &all).unwrap().id, "org.xfce.mousepad.desktop");
        let err = find_app("nope", &all).unwrap_err();
        assert!(err.contains("debian-uxterm, debian-xterm, org.xfce.mousepad"), "{err}");
        let twice =
            vec![candidate("/a/applications/a.desktop", "Same"), candidate("/a/applications/b.desktop", "same")];
        assert!(find_app("same", &twice).unwrap_err().contains("several"));
    }
}
