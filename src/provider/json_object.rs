//! The top-level fields of a secret that is a JSON object (an AWS `SecretString`, a GCP
//! payload, a Key Vault value, a `file`): read for a body's `key`, and rewritten one field at a
//! time by `rotate`, `store put` and `store delete`. Every other field keeps its JSON exactly as
//! stored: a number keeps its digits and stays a number, a nested object stays an object.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap as _, Serializer};
use serde_json::value::RawValue;
use zeroize::Zeroizing;

use crate::provider::{Content, Fetched, ProviderError};
use crate::secret::Secret;

/// A JSON object's fields in their stored order, each value as its stored text. A key given
/// twice keeps its first place and its last value, as JSON parsers that keep one do.
#[derive(Default)]
struct Object(Vec<(String, Box<RawValue>)>);

impl Object {
    /// The keys, sorted, as an error lists them.
    fn sorted_names(self) -> Vec<String> {
        let mut names: Vec<String> = self.0.into_iter().map(|(name, _)| name).collect();
        names.sort();
        names
    }

    fn set(&mut self, key: String, value: Box<RawValue>) {
        match self.0.iter_mut().find(|(name, _)| *name == key) {
            Some(field) => field.1 = value,
            None => self.0.push((key, value)),
        }
    }
}

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = Object;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object, A::Error> {
                let mut object = Object::default();
                while let Some((key, value)) = map.next_entry::<String, Box<RawValue>>()? {
                    object.set(key, value);
                }
                Ok(object)
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

fn parse(bytes: &[u8]) -> Result<Object, String> {
    // serde_json's messages give a position, and may quote a scalar: keep the position only.
    serde_json::from_slice(bytes).map_err(|error| format!("not a JSON object ({})", super::json_error_position(&error)))
}

/// A field's value as a body's `key` gives it: a string's text; any other value as JSON text,
/// exactly as stored (a number keeps its digits, an object its keys' order), an object or
/// array without the whitespace between its tokens.
fn field_text(raw: &RawValue) -> String {
    let json = raw.get();
    match json.as_bytes().first() {
        // A string without escapes is its own text between the quotes.
        Some(b'"') if !json.contains('\\') => json[1..json.len() - 1].to_owned(),
        Some(b'"') => serde_json::from_str(json).unwrap_or_default(),
        Some(b'{' | b'[') => compact(json),
        _ => json.to_owned(),
    }
}

/// Valid JSON text without whitespace outside its strings.
fn compact(json: &str) -> String {
    let mut compacted = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for character in json.chars() {
        if in_string {
            compacted.push(character);
            if escaped {
                escaped = false;
            } else if character == '\\' {
                escaped = true;
            } else if character == '"' {
                in_string = false;
            }
        } else if !matches!(character, ' ' | '\t' | '\n' | '\r') {
            in_string = character == '"';
            compacted.push(character);
        }
    }
    compacted
}

/// Reads a JSON object into its top-level fields (see [`field_text`]).
pub fn fields(bytes: &[u8]) -> Result<BTreeMap<String, Secret>, String> {
    // Each value borrowed from `bytes`: only its text is copied, into the secret that holds it.
    let object: BTreeMap<String, &RawValue> = serde_json::from_slice(bytes)
        .map_err(|error| format!("not a JSON object ({})", super::json_error_position(&error)))?;
    Ok(object.into_iter().map(|(key, raw)| (key, Secret::from_text(field_text(raw)))).collect())
}

/// The names of a JSON object's fields, sorted.
pub fn field_names(document: &[u8]) -> Result<Vec<String>, String> {
    Ok(parse(document)?.sorted_names())
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

/// Refuses to replace a whole secret (a write without `key`) that is a JSON object of several
/// fields: the others would be lost, where the operator most likely forgot `key`. One field, or
/// anything that is not an object, is replaced as asked. `read` is the read of the whole
/// secret. Only a read refused for want of permission (a writer allowed to add versions and
/// not to read them) lets the write go ahead unchecked; any other failure (a store timing out
/// or failing, a disabled version) stops it, as the secret may well hold other fields.
pub fn refuse_to_replace_fields(read: Result<Option<&[u8]>, &ProviderError>, what: &str) -> Result<(), ProviderError> {
    let existing = match read {
        Ok(existing) => existing,
        Err(error @ ProviderError::PermissionDenied { .. }) => {
            tracing::debug!(%error, "cannot read {what} to check that a whole write replaces no other fields");
            return Ok(());
        }
        Err(error) => {
            return Err(ProviderError::WriteRefused {
                what: what.to_owned(),
                reason: format!(
                    "cannot read it to check that a whole write replaces no other fields, so nothing is written: \
                     {error}"
                ),
            });
        }
    };
    let Some(Ok(object)) = existing.map(parse) else { return Ok(()) };
    if object.0.len() < 2 {
        return Ok(());
    }
    Err(ProviderError::KeyRequired { what: what.to_owned(), available: object.sorted_names() })
}

/// `document` (none: a new one) with the string field `key` set to `value`.
pub fn set_field(document: Option<&[u8]>, key: &str, value: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut object = document.map(parse).transpose()?.unwrap_or_default();
    let encoded = Zeroizing::new(serde_json::to_string(value).map_err(|error| error.to_string())?);
    object.set(key.to_owned(), RawValue::from_string(String::clone(&encoded)).map_err(|error| error.to_string())?);
    serialize(&object, document)
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
    let Some(at) = object.0.iter().position(|(name, _)| name == key) else {
        return Err(RemoveError::Missing { available: object.sorted_names() });
    };
    object.0.remove(at);
    serialize(&object, Some(document)).map_err(RemoveError::NotAnObject)
}

/// `object` as compact JSON, ending with a newline when the document it was read from did
/// (a file written by an editor or `jq`).
fn serialize(object: &Object, read_from: Option<&[u8]>) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut json = Zeroizing::new(serde_json::to_vec(object).map_err(|error| error.to_string())?);
    if read_from.is_some_and(|document| document.ends_with(b"\n")) {
        json.push(b'\n');
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STORED: &str = r#"{"big": 123456789012345678901234567890, "f": 1.50, "port": 5432, "on": true, "none": null, "nested": {"z": 123456789012345678901234567890, "a": [0.1000, 1e3, " x\" y "]}, "list": [1, "x"], "password": "old"}"#;

    #[test]
    fn fields_are_strings_text_and_other_values_json_as_stored() {
        let read = fields(STORED.as_bytes()).unwrap();
        let text = |key: &str| read[key].expose_str().unwrap().to_owned();
        assert_eq!(text("big"), "123456789012345678901234567890");
        assert_eq!(text("f"), "1.50");
        assert_eq!(text("port"), "5432");
        assert_eq!(text("on"), "true");
        assert_eq!(text("none"), "null");
        assert_eq!(text("nested"), r#"{"z":123456789012345678901234567890,"a":[0.1000,1e3," x\" y "]}"#);
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
            r#"{"big":123456789012345678901234567890,"f":1.50,"port":5432,"on":true,"none":null,"nested":{"z": 123456789012345678901234567890, "a": [0.1000, 1e3, " x\" y "]},"list":[1, "x"],"password":"new\"one"}"#
        );
        assert_eq!(&*set_field(None, "k", "v").unwrap(), br#"{"k":"v"}"#);
    }

    #[test]
    fn a_new_field_goes_last_and_a_document_ending_in_a_newline_keeps_it() {
        assert_eq!(&*set_field(Some(b"{\"b\": 1, \"a\": 2}\n"), "c", "v").unwrap(), b"{\"b\":1,\"a\":2,\"c\":\"v\"}\n");
        assert_eq!(&*set_field(Some(br#"{"b": 1, "a": 2}"#), "a", "v").unwrap(), br#"{"b":1,"a":"v"}"#);
    }

    #[test]
    fn a_whole_write_over_an_object_of_several_fields_is_refused_naming_them() {
        let refused = refuse_to_replace_fields(Ok(Some(br#"{"user": "u", "password": "p"}"#)), "s").unwrap_err();
        assert_eq!(refused.to_string(), "s holds several keys; the body needs `key` (available keys: password, user)");
        for allowed in [&br#"{"password": "p"}"#[..], b"plain", b"[1, 2]", b"{}"] {
            assert!(refuse_to_replace_fields(Ok(Some(allowed)), "s").is_ok(), "{}", String::from_utf8_lossy(allowed));
        }
        assert!(refuse_to_replace_fields(Ok(None), "s").is_ok());
        let unreadable = ProviderError::PermissionDenied { what: "s".into(), reason: "r".into() };
        assert!(refuse_to_replace_fields(Err(&unreadable), "s").is_ok(), "a write-only role still writes");
    }

    #[test]
    fn a_key_given_twice_keeps_its_first_place_and_its_last_value() {
        assert_eq!(fields(br#"{"k": "first", "k": "last"}"#).unwrap()["k"].expose_str(), Some("last"));
        assert_eq!(&*set_field(Some(br#"{"k": 1, "j": 2, "k": 3}"#), "j", "v").unwrap(), br#"{"k":3,"j":"v"}"#);
    }

    #[test]
    fn removing_a_field_keeps_the_others_and_a_missing_one_lists_the_keys() {
        let written = remove_field(br#"{"b": "x", "a": 1.0, "c": 2}"#, "a").unwrap();
        assert_eq!(&*written, br#"{"b":"x","c":2}"#);
        assert_eq!(
            remove_field(br#"{"b": 1.0, "a": "x"}"#, "c"),
            Err(RemoveError::Missing { available: vec!["a".into(), "b".into()] })
        );
    }
}
