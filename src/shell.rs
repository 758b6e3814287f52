//! Quoting words for POSIX sh: for messages that show a command line, and for
//! the wrapper scripts tent writes. One quoter serves both, so what a message
//! shows is what a script runs.

/// Quotes a word for sh: single quotes, with `'` written as `'\''`.
pub(crate) fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// Quotes a word only when sh would otherwise split or expand it.
pub(crate) fn quote_if_needed(word: &str) -> String {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b)) {
        word.to_string()
    } else {
        quote(word)
    }
}

/// A command line for messages, quoting the words that need it.
pub(crate) fn words<S: AsRef<str>>(argv: &[S]) -> String {
    argv.iter().map(|w| quote_if_needed(w.as_ref())).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_survive_quotes() {
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn only_words_that_need_it_are_quoted() {
        assert_eq!(words(&["podman", "exec", "a b", "", "$HOME", "x=1"]), "podman exec 'a b' '' '$HOME' x=1");
    }
}
