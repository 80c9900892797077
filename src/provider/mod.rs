//! Providers: the `Provider` trait every secret store implements, the parsed form of a provider
//! map (`SecretSpec` and its fetch unit, `Location`), and the errors a fetch can end in.
//!
//! A provider map's body is split in two: the *location* (what to fetch, e.g. one file or one
//! Vault path) and an optional *key* into the fetched document. Resolution fetches each distinct
//! location once per cycle and picks keys out of the result, however many fields use it.

pub mod env;
#[cfg(test)]
pub mod fake;
pub mod file;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::secret::Secret;
use crate::tree::{Entry, Mark, Node, NodeKind, YamlPath};

/// Every provider name the syntax knows, whether or not this build can fetch from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProviderKind {
    File,
    Env,
    Vault,
    Kubernetes,
    AwsSecretsManager,
    GcpSecretManager,
    AzureKeyVault,
    Exec,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 8] = [
        Self::File,
        Self::Env,
        Self::Vault,
        Self::Kubernetes,
        Self::AwsSecretsManager,
        Self::GcpSecretManager,
        Self::AzureKeyVault,
        Self::Exec,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Env => "env",
            Self::Vault => "vault",
            Self::Kubernetes => "kubernetes",
            Self::AwsSecretsManager => "aws_secrets_manager",
            Self::GcpSecretManager => "gcp_secret_manager",
            Self::AzureKeyVault => "azure_key_vault",
            Self::Exec => "exec",
        }
    }

    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What to fetch: the unit of deduplication. Two provider maps with equal locations cause one
/// fetch per cycle.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Location {
    File(file::FileLocation),
    Env(env::EnvLocation),
}

impl Location {
    #[must_use]
    pub fn kind(&self) -> ProviderKind {
        match self {
            Self::File(_) => ProviderKind::File,
            Self::Env(_) => ProviderKind::Env,
        }
    }

    /// The named store this location is fetched through, if any.
    #[must_use]
    pub fn store(&self) -> Option<&str> {
        None
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(location) => write!(f, "file {}", location.path.display()),
            Self::Env(location) => write!(f, "environment variable {}", location.name),
        }
    }
}

/// How a resolved value is placed in the rendered config (contract section 4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RenderMode {
    #[default]
    Auto,
    File,
    Inline,
}

/// A parsed provider map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretSpec {
    pub location: Location,
    /// A field of the fetched document (`key:` in the body).
    pub key: Option<String>,
    pub refresh_interval: Option<Duration>,
    pub grace_period: Option<Duration>,
    pub render: RenderMode,
}

impl SecretSpec {
    /// A short, value-free description for messages: `file /etc/x.json (key password)`.
    #[must_use]
    pub fn describe(&self) -> String {
        match &self.key {
            Some(key) => format!("{} (key {key})", self.location),
            None => self.location.to_string(),
        }
    }
}

/// What parsing a body needs to know about its surroundings.
#[derive(Clone, Debug)]
pub struct ParseContext {
    /// The directory of the config file, against which relative `file` paths resolve.
    pub config_dir: PathBuf,
}

/// A problem in a config, with the YAML path and position it was found at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub path: YamlPath,
    pub mark: Mark,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (line {}): {}", self.path, self.mark.line, self.message)
    }
}

/// Reads a provider body's keys one by one, and reports the ones nobody asked for.
pub struct Body<'a> {
    provider: ProviderKind,
    path: &'a YamlPath,
    mark: Mark,
    entries: Vec<&'a Entry>,
    problems: Vec<Problem>,
}

impl<'a> Body<'a> {
    #[must_use]
    pub fn new(provider: ProviderKind, path: &'a YamlPath, mark: Mark, entries: &'a [Entry]) -> Self {
        Self { provider, path, mark, entries: entries.iter().collect(), problems: Vec::new() }
    }

    fn take(&mut self, key: &str) -> Option<&'a Entry> {
        let position = self.entries.iter().position(|entry| entry.key.as_scalar() == Some(key))?;
        Some(self.entries.remove(position))
    }

    fn problem(&mut self, mark: Mark, message: String) {
        self.problems.push(Problem { path: self.path.clone(), mark, message });
    }

    /// An optional string-valued key.
    pub fn string(&mut self, key: &str) -> Option<String> {
        let entry = self.take(key)?;
        match &entry.value.kind {
            NodeKind::Scalar { text, .. } if !entry.value.is_null() => Some(text.clone()),
            _ => {
                let message = format!(
                    "`{}` body key `{key}` must be a string, not {}",
                    self.provider,
                    if entry.value.is_null() { "empty" } else { entry.value.shape() }
                );
                self.problem(entry.value.mark, message);
                None
            }
        }
    }

    /// A string-valued key the body must have.
    pub fn required(&mut self, key: &str) -> Option<String> {
        let value = self.string(key);
        if value.is_none() && !self.problems.iter().any(|p| p.message.contains(&format!("`{key}`"))) {
            let message = format!("`{}` body is missing the required key `{key}`", self.provider);
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

    /// Reports every key that was not read, naming the keys this provider accepts.
    pub fn finish(mut self, accepted: &[&str]) -> Result<(), Vec<Problem>> {
        for entry in std::mem::take(&mut self.entries) {
            let key = entry.key.as_scalar().unwrap_or_default();
            let message = format!(
                "unknown key `{key}` in `{}` body (accepted: {})",
                self.provider,
                accepted.iter().chain(COMMON_KEYS).copied().collect::<Vec<_>>().join(", ")
            );
            self.problem(entry.key.mark, message);
        }
        if self.problems.is_empty() { Ok(()) } else { Err(self.problems) }
    }
}

/// Keys every provider body accepts.
pub const COMMON_KEYS: &[&str] = &["store", "refresh_interval", "grace_period", "render"];

/// Parses a provider map body (the mapping under the provider key) into a [`SecretSpec`].
pub fn parse_spec(
    kind: ProviderKind,
    body_node: &Node,
    path: &YamlPath,
    context: &ParseContext,
) -> Result<SecretSpec, Vec<Problem>> {
    let entries = body_node.as_mapping().unwrap_or_default();
    let mut body = Body::new(kind, path, body_node.mark, entries);
    let refresh_interval = body.duration("refresh_interval");
    let grace_period = body.duration("grace_period");
    let render = match body.string("render").as_deref() {
        None | Some("auto") => RenderMode::Auto,
        Some("file") => RenderMode::File,
        Some("inline") => RenderMode::Inline,
        Some(other) => {
            body.problem(body_node.mark, format!("`render` must be auto, file or inline, not {other:?}"));
            RenderMode::Auto
        }
    };
    if let Some(store) = body.string("store") {
        body.problem(body_node.mark, format!("store `{store}` is not defined (no `secret_stores` for `{kind}`)"));
    }
    let parsed = match kind {
        ProviderKind::File => file::parse(&mut body, context),
        ProviderKind::Env => env::parse(&mut body),
        other => {
            body.problem(body_node.mark, format!("provider `{other}` is not available in this build of secret-render"));
            body.entries.clear();
            None
        }
    };
    let accepted: &[&str] = match kind {
        ProviderKind::File => file::KEYS,
        ProviderKind::Env => env::KEYS,
        _ => &[],
    };
    body.finish(accepted)?;
    let (location, key) = parsed.expect("a body without problems parses");
    Ok(SecretSpec { location, key, refresh_interval, grace_period, render })
}

/// Why a fetch failed. Messages name what was fetched, never a value.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{what} has no key {key:?} (available keys: {})", if available.is_empty() { "none".to_owned() } else { available.join(", ") })]
    MissingKey { what: String, key: String, available: Vec<String> },
    #[error("{what} holds several keys; the body needs `key` (available keys: {})", available.join(", "))]
    KeyRequired { what: String, available: Vec<String> },
    #[error("permission denied reading {what}: {reason}")]
    PermissionDenied { what: String, reason: String },
    #[error("{what} is unreachable: {reason}")]
    Unreachable { what: String, reason: String },
    #[error("timed out after {after:?} fetching {what}")]
    Timeout { what: String, after: Duration },
    #[error("invalid content in {what}: {reason}")]
    Invalid { what: String, reason: String },
    #[error("provider `{kind}` is not available in this build of secret-render")]
    Unavailable { kind: ProviderKind },
}

impl ProviderError {
    /// Whether trying again later may succeed without anyone changing the configuration.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unreachable { .. } | Self::Timeout { .. })
    }

    /// The `reason` label of `secret_render_fetch_failures_total`.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "not_found",
            Self::MissingKey { .. } | Self::KeyRequired { .. } => "missing_key",
            Self::PermissionDenied { .. } => "permission_denied",
            Self::Unreachable { .. } => "unreachable",
            Self::Timeout { .. } => "timeout",
            Self::Invalid { .. } => "invalid",
            Self::Unavailable { .. } => "unavailable",
        }
    }
}

/// A fetched document: one value, or named fields that bodies pick with `key`.
#[derive(Clone, Debug)]
pub enum Content {
    Value(Secret),
    Fields(BTreeMap<String, Secret>),
}

#[derive(Clone, Debug)]
pub struct Fetched {
    pub content: Content,
    /// How long the store lets us use the value (a Vault lease), when it says.
    pub lease: Option<Duration>,
}

impl Fetched {
    #[must_use]
    pub fn value(secret: Secret) -> Self {
        Self { content: Content::Value(secret), lease: None }
    }

    #[must_use]
    pub fn fields(fields: BTreeMap<String, Secret>) -> Self {
        Self { content: Content::Fields(fields), lease: None }
    }

    /// Picks the value a body asked for.
    pub fn select(&self, key: Option<&str>, what: &Location) -> Result<Secret, ProviderError> {
        match (&self.content, key) {
            (Content::Value(secret), None) => Ok(secret.clone()),
            (Content::Value(_), Some(key)) => {
                Err(ProviderError::MissingKey { what: what.to_string(), key: key.to_owned(), available: Vec::new() })
            }
            (Content::Fields(fields), Some(key)) => fields.get(key).cloned().ok_or_else(|| ProviderError::MissingKey {
                what: what.to_string(),
                key: key.to_owned(),
                available: fields.keys().cloned().collect(),
            }),
            (Content::Fields(fields), None) if fields.len() == 1 => {
                Ok(fields.values().next().expect("one field").clone())
            }
            (Content::Fields(fields), None) => {
                Err(ProviderError::KeyRequired { what: what.to_string(), available: fields.keys().cloned().collect() })
            }
        }
    }
}

/// A secret store client. Implementations are cheap to share and fetch concurrently.
pub trait Provider: Send + Sync {
    fn kind(&self) -> ProviderKind;

    /// Fetches one location.
    fn fetch<'a>(&'a self, location: &'a Location) -> BoxFuture<'a, Result<Fetched, ProviderError>>;
}

/// The providers available to a resolution, by kind.
#[derive(Clone, Default)]
pub struct ProviderSet {
    providers: BTreeMap<ProviderKind, Arc<dyn Provider>>,
}

impl ProviderSet {
    /// The providers this build offers with their default settings.
    #[must_use]
    pub fn standard() -> Self {
        let mut set = Self::default();
        set.insert(Arc::new(file::FileProvider));
        set.insert(Arc::new(env::EnvProvider));
        set
    }

    pub fn insert(&mut self, provider: Arc<dyn Provider>) {
        self.providers.insert(provider.kind(), provider);
    }

    #[must_use]
    pub fn get(&self, kind: ProviderKind) -> Option<&Arc<dyn Provider>> {
        self.providers.get(&kind)
    }
}
