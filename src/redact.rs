//! Keeps credentials written into URLs out of what the tool shows: an address, a proxy or a
//! webhook given as `scheme://user:password@host` is shown as `scheme://***@host`, whether it
//! is a URL we print ourselves or one quoted in a library's error (kube-rs names its proxy,
//! URL parsers quote what they refuse).

use std::borrow::Cow;

/// What stands for a URL's userinfo once removed.
const HIDDEN: &str = "***";

/// `text` with the userinfo of every URL in it replaced by `***`. A URL's userinfo is what
/// stands between its `://` and the last `@` before the next whitespace or quote: a password
/// written unencoded may hold `/`, `?` or `#`, so those do not end it, and an `@` later in a
/// path hides that part of the path too (shown less, never more). Text without `://` and `@`
/// is returned as it is.
#[must_use]
pub fn url_credentials(text: &str) -> Cow<'_, str> {
    if !text.contains("://") || !text.contains('@') {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len());
    let mut hidden = false;
    let mut rest = text;
    while let Some(scheme_end) = rest.find("://") {
        let authority_start = scheme_end + 3;
        shown.push_str(&rest[..authority_start]);
        rest = &rest[authority_start..];
        let span =
            rest.find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`')).unwrap_or(rest.len());
        if let Some(at) = rest[..span].rfind('@') {
            shown.push_str(HIDDEN);
            hidden = true;
            rest = &rest[at..];
        }
    }
    if !hidden {
        return Cow::Borrowed(text);
    }
    shown.push_str(rest);
    Cow::Owned(shown)
}

/// One URL as given (a setting's value, quoted in a message), its userinfo hidden: what stands
/// before its last `@`, after the scheme's `://`, or from the start when it has no scheme
/// (`user:password@host` is a mistake a message quotes too). Unlike [`url_credentials`], no
/// space or quote in the password ends it early.
#[must_use]
pub fn url(value: &str) -> Cow<'_, str> {
    let Some(at) = value.rfind('@') else { return Cow::Borrowed(value) };
    // A scheme only where `://` comes before the `@` after a scheme's letters: not a `://` in
    // the password, nor one in the query of a URL written without a scheme.
    let start = match value[..at].find("://") {
        Some(end) if is_scheme(&value[..end]) => end + 3,
        _ => 0,
    };
    Cow::Owned(format!("{}{HIDDEN}{}", &value[..start], &value[at..]))
}

/// Whether `text` is a URL scheme: a letter, then letters, digits, `+`, `-` or `.`.
fn is_scheme(text: &str) -> bool {
    let mut characters = text.chars();
    characters.next().is_some_and(|first| first.is_ascii_alphabetic())
        && characters.all(|character| character.is_ascii_alphanumeric() || matches!(character, '+' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_urls_userinfo_is_hidden_wherever_it_stands_in_the_text() {
        for (text, expected) in [
            ("http://user:hunter2@127.0.0.1:8200", "http://***@127.0.0.1:8200"),
            ("http://token@vault.example:8200/v1", "http://***@vault.example:8200/v1"),
            (
                "configured proxy socks5://user:pw@127.0.0.1:1080/ requires the disabled feature",
                "configured proxy socks5://***@127.0.0.1:1080/ requires the disabled feature",
            ),
            ("invalid address \"http://u:p@[bad\": invalid IPv6", "invalid address \"http://***@[bad\": invalid IPv6"),
            ("https://alert:pass/word@hooks.example.com/notify", "https://***@hooks.example.com/notify"),
            ("a http://a:b@x and https://c:d@y", "a http://***@x and https://***@y"),
            ("http://host/users/@me", "http://***@me"),
        ] {
            assert_eq!(url_credentials(text), expected, "{text}");
        }
    }

    #[test]
    fn a_settings_url_hides_its_userinfo_with_or_without_a_scheme() {
        for (value, expected) in [
            ("user:pw@127.0.0.1:8200", "***@127.0.0.1:8200"),
            ("http://u:hun ter2@[bad", "http://***@[bad"),
            ("http://u:hun\"ter2@[bad", "http://***@[bad"),
            ("https://vault.example:8200", "https://vault.example:8200"),
            ("admin:pw@127.0.0.1:8200/?next=http://x", "***@127.0.0.1:8200/?next=http://x"),
            ("admin:pw://x@127.0.0.1:8200", "***@127.0.0.1:8200"),
        ] {
            assert_eq!(url(value), expected, "{value}");
        }
    }

    #[test]
    fn text_without_credentials_is_left_as_it_is() {
        for text in ["http://127.0.0.1:8200/v1/secret", "mail me@example.com", "no url here", "http://x:1 and a@b"] {
            assert!(matches!(url_credentials(text), Cow::Borrowed(same) if same == text), "{text}");
        }
    }
}
