//! The top-level fields of a secret that is a JSON object (an AWS `SecretString`, a GCP
//! payload, a Key Vault value, a `file`): read for a body's `key`, and rewritten one field at a
//! time by `rotate`, `store put` and `store delete`. Every other field keeps its JSON exactly as
//! stored: a number keeps its digits and stays a number, a nested object stays an object.

use std::collections::BTreeMap;

use serde_json::value::RawValue;
use zeroize::Zeroizing;

use crate::provider::{Content, Fetched, ProviderError};
use crate::secret::Secret;

type Object = BTreeMap<String, Box<RawValue>>;

fn parse(bytes: &[u8]) -> Result<Object, String> {
    // serde_json's messages give a position, and may quote a scalar: keep the position only.
    serde_json::from_slice(bytes).map_err(|error| format!("not a JSON object ({})", super::json_error_position(&error)))
}

/// A field's value as a body's `key` gives it: a string's text; any other value as JSON text,
/// a number or `true` exactly as stored, an object or array compacted.
fn field_text(raw: &RawValue) -> String {
    let json = raw.get();
    match json.as_bytes().first() {
        Some(b'"') => serde_json::from_str(json).unwrap_or_default(),
        Some(b'{' | b'[') => {
            serde_json::from_str::<serde_json::Value>(json).map(|value| value.to_string()).unwrap_or_default()
        }
        _ => json.to_owned(),
    }
}

/// Reads a JSON object into its top-level fields (see [`field_text`]).
pub fn fields(bytes: &[u8]) -> Result<BTreeMap<String, Secret>, String> {
    Ok(parse(bytes)?.into_iter().map(|(key, raw)| (key, Secret::from_text(field_text(&raw)))).collect())
}

/// The whole document a read of a secret made without `key` gave, for [`set_field`] to
/// rewrite: `None` when the secret does not exist yet.
pub fn existing_document(read: Result<Fetched, ProviderError>) -> Result<Option<Secret>, ProviderError> {
    match read {
        Ok(fetched) => Ok(match fetched.content {
            Content::Value(value) => Some(value),
            Content::Fields(_) => None,
        }),
        Err(ProviderError::NotFound { .. }) => Ok(None),
        Err(other) => Err(other),
    }
}

/// `document` (none: a new one) with the string field `key` set to `value`.
pub fn set_field(document: Option<&[u8]>, key: &str, value: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut object = document.map(parse).transpose()?.unwrap_or_default();
    let encoded = Zeroizing::new(serde_json::to_string(value).map_err(|error| error.to_string())?);
    object.insert(key.to_owned(), RawValue::from_string(String::clone(&encoded)).map_err(|error| error.to_string())?);
    serialize(&object)
}

/// Why [`remove_field`] could not remove a field.
#[derive(Debug, PartialEq, Eq)]
pub enum RemoveError {
    /// The document is not a JSON object.
    NotAnObject(String),
    /// There is no such field; these are the ones there are.
    Missing { available: Vec<String> },
}

impl RemoveError {
    /// As the error of a store whose secret `what` should be `expected` (`a JSON object
    /// payload`).
    pub fn for_store(self, what: String, key: &str, expected: &str) -> ProviderError {
        match self {
            Self::NotAnObject(reason) => not_an_object(what, expected, &reason),
            Self::Missing { available } => ProviderError::MissingKey { what, key: key.to_owned(), available },
        }
    }
}

/// "`key` needs `expected`" for a secret whose field cannot be read or written: it is not a
/// JSON object (`reason` says where it stops being one).
pub fn not_an_object(what: String, expected: &str, reason: &str) -> ProviderError {
    ProviderError::Invalid { what, reason: format!("`key` needs {expected}: {reason}") }
}

/// `document` without the field `key`.
pub fn remove_field(document: &[u8], key: &str) -> Result<Zeroizing<Vec<u8>>, RemoveError> {
    let mut object = parse(document).map_err(RemoveError::NotAnObject)?;
    if object.remove(key).is_none() {
        return Err(RemoveError::Missing { available: object.into_keys().collect() });
    }
    serialize(&object).map_err(RemoveError::NotAnObject)
}

fn serialize(object: &Object) -> Result<Zeroizing<Vec<u8>>, String> {
    serde_json::to_vec(object).map(Zeroizing::new).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STORED: &str = r#"{"big": 123456789012345678901234567890, "f": 1.50, "port": 5432, "on": true, "none": null, "nested": {"a": 1}, "list": [1, "x"], "password": "old"}"#;

    #[test]
    fn fields_are_strings_text_and_other_values_json_as_stored() {
        let read = fields(STORED.as_bytes()).unwrap();
        let text = |key: &str| read[key].expose_str().unwrap().to_owned();
        assert_eq!(text("big"), "123456789012345678901234567890");
        assert_eq!(text("f"), "1.50");
        assert_eq!(text("port"), "5432");
        assert_eq!(text("on"), "true");
        assert_eq!(text("none"), "null");
        assert_eq!(text("nested"), r#"{"a":1}"#);
        assert_eq!(text("list"), r#"[1,"x"]"#);
        assert_eq!(text("password"), "old");
        assert_eq!(fields(br#"{"quote": "a\"b\u00e9"}"#).unwrap()["quote"].expose_str(), Some("a\"bé"));
        assert!(fields(b"[1]").unwrap_err().starts_with("not a JSON object"));
    }

    #[test]
    fn setting_a_field_keeps_every_other_field_as_stored() {
        let written = set_field(Some(STORED.as_bytes()), "password", "new\"one").unwrap();
        let written = std::str::from_utf8(&written).unwrap();
        assert_eq!(
            written,
            r#"{"big":123456789012345678901234567890,"f":1.50,"list":[1, "x"],"nested":{"a": 1},"none":null,"on":true,"password":"new\"one","port":5432}"#
        );
        assert_eq!(&*set_field(None, "k", "v").unwrap(), br#"{"k":"v"}"#);
    }

    #[test]
    fn removing_a_field_keeps_the_others_and_a_missing_one_lists_the_keys() {
        let written = remove_field(br#"{"a": 1.0, "b": "x"}"#, "b").unwrap();
        assert_eq!(&*written, br#"{"a":1.0}"#);
        assert_eq!(
            remove_field(br#"{"a": 1.0, "b": "x"}"#, "c"),
            Err(RemoveError::Missing { available: vec!["a".into(), "b".into()] })
        );
    }
}
