//! Text from boxes made safe to show: the one place that strips terminal
//! controls, for the printer and for the library parts (export) that put box
//! text into messages.

use std::borrow::Cow;

/// Bytes as lowercase hex digits (a digest, an id), two per byte.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// 64 lowercase hex digits: a SHA-256 as the engines print a full container
/// or image id and as an OCI digest spells it after `sha256:`.
pub(crate) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Text from a box (a desktop file's Name, a path it printed), made safe to
/// show on a terminal: C0 controls except tab, DEL and C1 controls are
/// dropped, and an ESC takes its whole sequence with it (CSI up to its final
/// byte; OSC, DCS and the other strings up to BEL or ST), so a box cannot
/// move the cursor, retitle the window or hide text (issue 9).
pub(crate) fn sanitize(s: &str) -> Cow<'_, str> {
    let bad = |c: char| (c.is_control() && c != '\t') || c == '\u{7f}';
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            match chars.next() {
                // CSI: parameters and intermediates, then one final byte.
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC, DCS, SOS, PM, APC: a string ended by BEL or ESC \.
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' {
                            if chars.peek() == Some(&'\\') {
                                chars.next();
                            }
                            break;
                        }
                    }
                }
                // Any other escape is ESC and one character.
                _ => {}
            }
        } else if !bad(c) {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `sanitize` for each line of a text of several lines; the line breaks stay.
pub(crate) fn sanitize_lines(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| (c.is_control() && c != '\t' && c != '\n') || c == '\u{7f}') {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.split('\n').map(sanitize).collect::<Vec<_>>().join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_two_lowercase_digits_a_byte() {
        assert_eq!(hex(&[]), "");
        assert_eq!(hex(&[0, 9, 10, 255, 0x5a]), "00090aff5a");
        let all: Vec<u8> = (0..=255).collect();
        let expected: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&all), expected);
        assert!(is_sha256_hex(&hex(&[7; 32])));
    }

    #[test]
    fn sanitize_keeps_plain_text_borrowed() {
        assert!(matches!(sanitize("Firefox (on dev)\tü"), Cow::Borrowed(_)));
    }

    #[test]
    fn sanitize_drops_controls_and_whole_escape_sequences() {
        let cases = [
            ("red\u{1b}[31mtext\u{1b}[0m", "redtext"),
            ("\u{1b}]0;owned title\u{7}Name", "Name"),
            ("\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\", "link"),
            ("a\u{1b}Pdcs\u{1b}\\b", "ab"),
            ("a\u{1b}cb", "ab"),
            ("line\nbreak\r\u{0}\u{7f}x", "linebreakx"),
            ("c1\u{9b}31m\u{85}", "c131m"),
            ("cursor\u{1b}[2J\u{1b}[H", "cursor"),
            ("end\u{1b}", "end"),
            ("\u{1b}]unterminated", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(sanitize(input), expected, "{input:?}");
        }
    }

    #[test]
    fn sanitize_lines_keeps_the_line_breaks() {
        assert_eq!(sanitize_lines("a\n\u{1b}[2Jb\tc"), "a\nb\tc");
        assert!(matches!(sanitize_lines("a\nb"), Cow::Borrowed(_)));
    }
}
