//! The `file` provider, the embedded default: a whole file's bytes, or one `key` of a JSON or YAML
//! file. Relative paths resolve against the directory of the config that names them. Reading
//! follows symlinks on purpose: Kubernetes mounts Secrets and ConfigMaps through them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use futures_util::future::BoxFuture;
use zeroize::Zeroizing;

use super::{Body, Fetched, Location, ParseContext, Provider, ProviderError, ProviderKind};
use crate::secret::Secret;
use crate::tree::{self, NodeKind};

pub const KEYS: &[&str] = &["path", "key"];

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileLocation {
    /// Absolute path of the file.
    pub path: PathBuf,
    /// Read as a JSON/YAML document whose fields bodies pick with `key`.
    pub structured: bool,
}

pub(super) fn parse(body: &mut Body<'_>, context: &ParseContext<'_>) -> Option<(Location, Option<String>)> {
    let path = body.required("path");
    let key = body.string("key");
    let path = PathBuf::from(path?);
    let path = if path.is_absolute() { path } else { context.config_dir.join(path) };
    let structured = key.is_some();
    Some((Location::File(FileLocation { path, structured }), key))
}

/// Reads files; with roots (`--file-root`), only files whose real path (symlinks and `..`
/// resolved) lies under one of them.
#[derive(Default)]
pub struct FileProvider {
    roots: Vec<PathBuf>,
}

impl FileProvider {
    #[must_use]
    pub fn rooted(roots: Vec<PathBuf>) -> Self {
        Self { roots }
    }

    fn check_root(&self, path: &std::path::Path, what: &str) -> Result<(), ProviderError> {
        if self.roots.is_empty() {
            return Ok(());
        }
        let denied = |reason: String| ProviderError::PermissionDenied { what: what.to_owned(), reason };
        let real = std::fs::canonicalize(path).map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => ProviderError::NotFound { what: what.to_owned() },
            _ => denied(error.to_string()),
        })?;
        let inside = self.roots.iter().any(|root| std::fs::canonicalize(root).is_ok_and(|root| real.starts_with(root)));
        if inside { Ok(()) } else { Err(denied("it resolves outside every --file-root".into())) }
    }
}

impl Provider for FileProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::File
    }

    fn fetch<'a>(&'a self, location: &'a Location) -> BoxFuture<'a, Result<Fetched, ProviderError>> {
        Box::pin(async move {
            let file: &FileLocation = location.own();
            let what = location.to_string();
            self.check_root(&file.path, &what)?;
            let bytes = Zeroizing::new(std::fs::read(&file.path).map_err(|error| match error.kind() {
                std::io::ErrorKind::NotFound => ProviderError::NotFound { what: what.clone() },
                std::io::ErrorKind::PermissionDenied => {
                    ProviderError::PermissionDenied { what: what.clone(), reason: error.to_string() }
                }
                _ => ProviderError::Invalid { what: what.clone(), reason: error.to_string() },
            })?);
            if !file.structured {
                return Ok(Fetched::value(Secret::new(bytes.to_vec())));
            }
            parse_fields(&bytes).map(Fetched::fields).map_err(|reason| ProviderError::Invalid { what, reason })
        })
    }

    /// Replaces the whole file (a file keeps no versions); one `key` of a document is not written.
    fn put<'a>(
        &'a self,
        location: &'a Location,
        key: Option<&'a str>,
        value: &'a Secret,
    ) -> BoxFuture<'a, Result<super::PutOutcome, ProviderError>> {
        Box::pin(async move {
            let file: &FileLocation = location.own();
            let what = location.to_string();
            if key.is_some() {
                return Err(ProviderError::Invalid {
                    what,
                    reason: "writing one key of a JSON/YAML file is not supported: write the whole file".into(),
                });
            }
            // A file not yet created is checked through its directory.
            match file.path.parent().filter(|_| !file.path.exists()) {
                Some(dir) => self.check_root(dir, &what)?,
                None => self.check_root(&file.path, &what)?,
            }
            crate::output::replace_file_in_place(&file.path, value.expose())
                .map_err(|error| ProviderError::Invalid { what, reason: error.to_string() })?;
            Ok(super::PutOutcome::default())
        })
    }
}

/// Reads a JSON object or a YAML mapping into its top-level fields. Nested values are kept as
/// compact JSON / YAML text; scalars as their text.
pub fn parse_fields(bytes: &[u8]) -> Result<BTreeMap<String, Secret>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the file is not UTF-8 text".to_owned())?;
    if text.trim_start().starts_with('{') {
        return json_fields(bytes);
    }
    let document = tree::load(text).map_err(|error| format!("not a JSON object or YAML mapping ({error})"))?;
    let NodeKind::Mapping(entries) = document.root.kind else {
        return Err(format!("the document is {}, not a mapping", document.root.shape()));
    };
    Ok(entries
        .into_iter()
        .filter_map(|entry| {
            let key = entry.key.as_scalar()?.to_owned();
            let value = match entry.value.kind {
                NodeKind::Scalar { text, .. } => Secret::from_text(text),
                _ => tree::emit(&entry.value).fill(&[]),
            };
            Some((key, value))
        })
        .collect())
}

/// Reads a JSON object into its top-level fields (nested values as compact JSON text), as the
/// `key` of a store whose secrets are JSON documents picks them.
pub fn json_fields(bytes: &[u8]) -> Result<BTreeMap<String, Secret>, String> {
    // serde_json's messages give a position, and may quote a scalar: keep the position only.
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(bytes)
        .map_err(|error| format!("not a JSON object (line {} column {})", error.line(), error.column()))?;
    Ok(object
        .into_iter()
        .map(|(key, value)| {
            let text = match value {
                serde_json::Value::String(text) => text,
                other => other.to_string(),
            };
            (key, Secret::from_text(text))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_of_json_and_yaml_documents() {
        let cases: [(&str, &[(&str, &str)]); 3] = [
            (
                r#"{"password": "p", "port": 5432, "nested": {"a": 1}}"#,
                &[("nested", r#"{"a":1}"#), ("password", "p"), ("port", "5432")],
            ),
            ("password: p\nuser: 'u'\n", &[("password", "p"), ("user", "u")]),
            ("token: |\n  multi\n  line\n", &[("token", "multi\nline\n")]),
        ];
        for (text, expected) in cases {
            let fields = parse_fields(text.as_bytes()).unwrap();
            let got: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.expose_str().unwrap())).collect();
            assert_eq!(got, expected, "{text}");
        }
    }

    #[test]
    fn refuses_documents_without_fields() {
        for text in ["[1, 2]", "just text", "{broken json", "\u{0}\u{159}"] {
            assert!(parse_fields(text.as_bytes()).is_err(), "{text:?}");
        }
    }
}
