//! The token's username (`preferred_username`, `username`), shown in activity messages and
//! recorded with memberships: cleaned as an e-mail given as input is ([`super::Email::parse`]).

/// The longest username used.
pub const MAX_LEN: usize = 255;

/// The username to use, or `None` (the caller's `sub` then stands in): one with an invisible,
/// formatting (bidirectional controls, zero-width characters), control or separator character
/// other than the plain space, an empty one, or one longer than [`MAX_LEN`] characters is not
/// used, so that no username can pass for another or reorder the text it is shown in.
pub fn clean(value: &str) -> Option<&str> {
    let value = value.trim_matches(' ');
    if value.is_empty() || value.chars().count() > MAX_LEN {
        return None;
    }
    if value.chars().any(|c| c != ' ' && super::is_hidden(c)) {
        return None;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_and_bidirectional_characters_refuse_the_username() {
        assert_eq!(clean("alice"), Some("alice"));
        assert_eq!(clean(" Alice Smith "), Some("Alice Smith"));
        for hidden in [
            "\u{202E}ecila",
            "al\u{200B}ice",
            "alice\u{2066}",
            "a\u{00A0}b",
            "a\tb",
        ] {
            assert_eq!(clean(hidden), None, "{hidden:?}");
        }
        assert_eq!(clean(&"a".repeat(255)).map(str::len), Some(255));
        assert_eq!(clean(&"a".repeat(256)), None);
        assert_eq!(clean(""), None);
    }
}
