//! Box names: what the engines accept as a container name, minus what would
//! be confusing as a host name or a file name.

use crate::error::{Error, Result};

pub fn validate_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > 63 {
        Some("it is longer than 63 characters")
    } else if !name.as_bytes()[0].is_ascii_alphanumeric() {
        Some("it must start with a letter or a digit")
    } else if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-') {
        Some("it may only contain letters, digits, '_', '.' and '-'")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidName { name: name.into(), reason: reason.into() }),
        None => Ok(()),
    }
}

/// The host name a box gets: its name, made a valid host name label.
pub fn hostname_for(name: &str) -> String {
    let mut host: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c.to_ascii_lowercase() } else { '-' })
        .collect();
    host.truncate(63);
    let trimmed = host.trim_matches('-');
    if trimmed.is_empty() { "tent".into() } else { trimmed.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_names() {
        for name in ["dev", "Dev-2", "a", "my_box.1", "9lives"] {
            validate_name(name).unwrap();
        }
    }

    #[test]
    fn bad_names_say_why() {
        for (name, why) in [
            ("", "empty"),
            ("-x", "start with"),
            (".x", "start with"),
            ("a b", "may only contain"),
            ("a/b", "may only contain"),
            ("ünï", "start with"),
        ] {
            match validate_name(name) {
                Err(Error::InvalidName { reason, .. }) => assert!(reason.contains(why), "{name}: {reason}"),
                other => panic!("{name:?} accepted: {other:?}"),
            }
        }
        assert!(validate_name(&"a".repeat(64)).is_err());
        validate_name(&"a".repeat(63)).unwrap();
    }

    #[test]
    fn hostnames() {
        assert_eq!(hostname_for("dev"), "dev");
        assert_eq!(hostname_for("My_Box.1"), "my-box-1");
        assert_eq!(hostname_for("__"), "tent");
    }
}
