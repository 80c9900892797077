//! The `Secret` value type: bytes that cannot be printed and are wiped from memory on drop.
//!
//! Every value fetched from a store travels as a `Secret` until the moment it is written to a
//! file or into a rendered config buffer (itself a `Secret`). `Debug` and `Display` print
//! `<redacted>`, so a secret in a struct that is logged or put into an error cannot leak.

use std::fmt;

use zeroize::Zeroizing;

/// A secret value, byte for byte as the store returned it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    #[must_use]
    pub fn from_text(text: String) -> Self {
        Self::new(text.into_bytes())
    }

    /// The raw bytes, for writing to a file or a rendered config and nothing else.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The value as UTF-8 text, for inlining into YAML; `None` for binary values.
    #[must_use]
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::from_text("canary-hunter2".to_owned());
        for shown in [format!("{secret:?}"), format!("{secret}"), format!("{secret:#?}")] {
            assert!(!shown.contains("canary"), "{shown}");
            assert!(shown.contains("redacted"));
        }
    }

    #[test]
    fn bytes_are_kept_exactly() {
        let secret = Secret::new(vec![0, 159, 146, 150, b'\n']);
        assert_eq!(secret.expose(), &[0, 159, 146, 150, b'\n']);
        assert_eq!(secret.expose_str(), None);
        assert_eq!(Secret::from_text("a b\n".into()).expose_str(), Some("a b\n"));
    }
}
