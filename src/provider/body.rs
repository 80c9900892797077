//! `Body`: reads the keys of a provider body or a store's settings one at a time, collects every
//! problem with its YAML path, and reports the keys nobody asked for.

use std::time::Duration;

use super::{COMMON_KEYS, Problem};
use crate::tree::{Entry, Mark, Node, NodeKind, YamlPath};

pub struct Body<'a> {
    /// What the mapping is, for messages: "`vault` body", "`vault` store settings".
    label: String,
    path: YamlPath,
    mark: Mark,
    entries: Vec<&'a Entry>,
    problems: Vec<Problem>,
}

impl<'a> Body<'a> {
    #[must_use]
    pub fn new(label: impl Into<String>, path: &YamlPath, node: &'a Node) -> Self {
        let entries = node.as_mapping().unwrap_or_default();
        Self {
            label: label.into(),
            path: path.clone(),
            mark: node.mark,
            entries: entries.iter().collect(),
            problems: Vec::new(),
        }
    }

    #[must_use]
    pub fn path(&self) -> &YamlPath {
        &self.path
    }

    #[must_use]
    pub fn mark(&self) -> Mark {
        self.mark
    }

    fn take(&mut self, key: &str) -> Option<&'a Entry> {
        let position = self.entries.iter().position(|entry| entry.key.as_scalar() == Some(key))?;
        Some(self.entries.remove(position))
    }

    /// Records a problem at this body's path.
    pub fn problem(&mut self, mark: Mark, message: String) {
        self.problems.push(Problem { path: self.path.clone(), mark, message });
    }

    /// Records problems found below this body (they carry their own paths).
    pub fn extend(&mut self, problems: Vec<Problem>) {
        self.problems.extend(problems);
    }

    #[must_use]
    pub fn has_problems(&self) -> bool {
        !self.problems.is_empty()
    }

    /// Any node under `key`, for values that are not plain strings.
    pub fn node(&mut self, key: &str) -> Option<&'a Node> {
        self.take(key).map(|entry| &entry.value)
    }

    /// An optional string-valued key.
    pub fn string(&mut self, key: &str) -> Option<String> {
        let entry = self.take(key)?;
        match &entry.value.kind {
            NodeKind::Scalar { text, .. } if !entry.value.is_null() => Some(text.clone()),
            _ => {
                let message = format!(
                    "{} key `{key}` must be a string, not {}",
                    self.label,
                    if entry.value.is_null() { "empty" } else { entry.value.shape() }
                );
                self.problem(entry.value.mark, message);
                None
            }
        }
    }

    /// A string-valued key the body must have.
    pub fn required(&mut self, key: &str) -> Option<String> {
        let present = self.entries.iter().any(|entry| entry.key.as_scalar() == Some(key));
        let value = self.string(key);
        if !present {
            let message = format!("{} is missing the required key `{key}`", self.label);
            self.problem(self.mark, message);
        }
        value
    }

    /// An optional Go-style duration.
    pub fn duration(&mut self, key: &str) -> Option<Duration> {
        let text = self.string(key)?;
        match crate::duration::parse(&text) {
            Ok(duration) => Some(duration),
            Err(reason) => {
                self.problem(self.mark, format!("`{key}`: {reason}"));
                None
            }
        }
    }

    /// An optional time limit: a Go-style duration of more than zero (a zero limit would fail
    /// every request at once, which nobody means by writing it).
    pub fn timeout(&mut self, key: &str) -> Option<Duration> {
        let duration = self.duration(key)?;
        if duration.is_zero() {
            self.problem(self.mark, format!("`{key}` must be more than 0"));
            return None;
        }
        Some(duration)
    }

    /// An optional refresh interval: a Go-style duration of at least a second (the schedule's
    /// resolution; `0` would mean a fetch every second, which nobody means by writing it).
    pub fn interval(&mut self, key: &str) -> Option<Duration> {
        let duration = self.duration(key)?;
        if duration < Duration::from_secs(1) {
            self.problem(self.mark, format!("`{key}` must be at least 1s"));
            return None;
        }
        Some(duration)
    }

    /// An optional `true`/`false`.
    pub fn boolean(&mut self, key: &str) -> Option<bool> {
        let text = self.string(key)?;
        match text.as_str() {
            "true" | "True" | "TRUE" => Some(true),
            "false" | "False" | "FALSE" => Some(false),
            other => {
                self.problem(self.mark, format!("`{key}` must be true or false, not {other:?}"));
                None
            }
        }
    }

    /// An optional `http://` or `https://` URL, without a trailing `/`.
    pub fn url(&mut self, key: &str) -> Option<String> {
        let text = self.string(key)?;
        match reqwest::Url::parse(&text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
                Some(text.trim_end_matches('/').to_owned())
            }
            _ => {
                let shown = crate::redact::url(&text);
                self.problem(self.mark, format!("`{key}` must be an http:// or https:// URL, not {shown:?}"));
                None
            }
        }
    }

    /// An optional non-negative integer.
    pub fn number(&mut self, key: &str) -> Option<u64> {
        let text = self.string(key)?;
        match text.parse() {
            Ok(number) => Some(number),
            Err(_) => {
                self.problem(self.mark, format!("`{key}` must be a whole number, not {text:?}"));
                None
            }
        }
    }

    /// The problems found so far, without judging the keys not read (for a body that cannot be
    /// understood at all).
    #[must_use]
    pub fn abandon(self) -> Vec<Problem> {
        self.problems
    }

    /// Reports every key that was not read, naming the accepted keys, and returns all problems.
    pub fn finish(mut self, accepted: &[&str], with_common_keys: bool) -> Result<(), Vec<Problem>> {
        for entry in std::mem::take(&mut self.entries) {
            let key = entry.key.as_scalar().unwrap_or_default();
            let common: &[&str] = if with_common_keys { COMMON_KEYS } else { &[] };
            let message = format!(
                "unknown key `{key}` in {} (accepted: {})",
                self.label,
                accepted.iter().chain(common).copied().collect::<Vec<_>>().join(", ")
            );
            self.problem(entry.key.mark, message);
        }
        if self.problems.is_empty() { Ok(()) } else { Err(self.problems) }
    }
}
