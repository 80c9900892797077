//! Providers: the `Provider` trait every secret store implements, the parsed form of a provider
//! map (`SecretSpec` and its fetch unit, `Location`), and the errors a fetch can end in.
//!
//! A provider map's body is split in two: the *location* (what to fetch, e.g. one file or one
//! Vault path) and an optional *key* into the fetched document. Resolution fetches each distinct
//! location once per cycle and picks keys out of the result, however many fields use it.

pub mod aws;
pub mod azure;
mod body;
#[cfg(any(feature = "gcp", feature = "azure"))]
pub mod cloud;
pub mod env;
pub mod exec;
#[cfg(test)]
pub mod fake;
pub mod file;
pub mod gcp;
pub mod json_object;
pub mod kubernetes;
pub mod vault;

pub use body::Body;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::{BoxStream, Stream, StreamExt as _};

use crate::secret::Secret;
use crate::tree::{Mark, Node, YamlPath};

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

/// Which store of a provider a location is fetched through.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StoreRef {
    /// The provider's environment defaults (`VAULT_ADDR` and `VAULT_TOKEN`, the AWS chain, …).
    Default,
    /// A store defined under `secret_stores`.
    Named(String),
    /// A Vault address given in the body itself, with the environment's auth.
    Address(String),
}

impl fmt::Display for StoreRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("the default store"),
            Self::Named(name) => write!(f, "store `{name}`"),
            Self::Address(address) => write!(f, "the store at {}", crate::redact::url(address)),
        }
    }
}

/// What to fetch: the unit of deduplication. Two provider maps with equal locations cause one
/// fetch per cycle.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Location {
    File(file::FileLocation),
    Env(env::EnvLocation),
    Vault(vault::VaultLocation),
    Gcp(gcp::GcpLocation),
    Azure(azure::AzureLocation),
    Kubernetes(kubernetes::KubernetesLocation),
    AwsSecretsManager(aws::AwsLocation),
    Exec(exec::ExecLocation),
}

impl Location {
    #[must_use]
    pub fn kind(&self) -> ProviderKind {
        match self {
            Self::File(_) => ProviderKind::File,
            Self::Env(_) => ProviderKind::Env,
            Self::Vault(_) => ProviderKind::Vault,
            Self::Gcp(_) => ProviderKind::GcpSecretManager,
            Self::Azure(_) => ProviderKind::AzureKeyVault,
            Self::Kubernetes(_) => ProviderKind::Kubernetes,
            Self::AwsSecretsManager(_) => ProviderKind::AwsSecretsManager,
            Self::Exec(_) => ProviderKind::Exec,
        }
    }

    /// The store this location is fetched through.
    #[must_use]
    pub fn store(&self) -> &StoreRef {
        static DEFAULT: StoreRef = StoreRef::Default;
        match self {
            Self::File(_) | Self::Env(_) | Self::Exec(_) => &DEFAULT,
            Self::Vault(location) => &location.store,
            Self::Gcp(location) => &location.store,
            Self::Azure(location) => &location.store,
            Self::Kubernetes(location) => &location.store,
            Self::AwsSecretsManager(location) => &location.store,
        }
    }
}

/// Where and how a JSON document failed to parse, never what it held: serde_json's own messages
/// quote the text they met (`invalid type: string "…"`), which in a store's answer is a secret.
#[must_use]
pub fn json_error_position(error: &serde_json::Error) -> String {
    let problem = match error.classify() {
        serde_json::error::Category::Syntax => "malformed JSON",
        serde_json::error::Category::Eof => "JSON cut short",
        serde_json::error::Category::Data => "a value of the wrong type or a field missing",
        serde_json::error::Category::Io => "unreadable",
    };
    format!("{problem} at line {} column {}", error.line(), error.column())
}

/// A failed HTTP request: a timeout, or the transport's reason (reqwest's messages name the URL,
/// never a header or a body).
#[must_use]
pub fn transport_error(error: &reqwest::Error, what: String, timeout: Duration) -> ProviderError {
    if error.is_timeout() {
        return ProviderError::Timeout { what, after: timeout };
    }
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    ProviderError::Unreachable { what, reason }
}

/// An error and its causes on one line, leaving out a cause whose text its parent already
/// holds (SDKs' own messages often repeat it; the AWS SDK's is just "dispatch failure").
#[must_use]
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    error_chain_shown(error, |text| text)
}

/// [`error_chain`], each error's text first passed through `shown` (which leaves out what a
/// library quotes that must not be shown).
pub fn error_chain_shown(error: &(dyn std::error::Error + 'static), shown: impl Fn(String) -> String) -> String {
    let mut text = shown(error.to_string());
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = shown(cause.to_string());
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    // Libraries quote URLs in their errors (a proxy, an address they refuse) as given.
    crate::redact::url_credentials(&text).into_owned()
}

/// A provider's own kind of location, picked out of a [`Location`] (see [`Location::own`]).
pub trait OwnLocation: Sized {
    fn of(location: &Location) -> Option<&Self>;
}

macro_rules! own_location {
    ($($variant:ident => $location:ty),* $(,)?) => {
        $(impl OwnLocation for $location {
            fn of(location: &Location) -> Option<&Self> {
                match location {
                    Location::$variant(own) => Some(own),
                    _ => None,
                }
            }
        })*
    };
}

own_location! {
    File => file::FileLocation,
    Env => env::EnvLocation,
    Vault => vault::VaultLocation,
    Gcp => gcp::GcpLocation,
    Azure => azure::AzureLocation,
    Kubernetes => kubernetes::KubernetesLocation,
    AwsSecretsManager => aws::AwsLocation,
    Exec => exec::ExecLocation,
}

impl Location {
    /// This location as provider `T`'s own kind. Resolution groups locations by provider and
    /// store, so a client is only ever given its own kind; anything else is a bug.
    #[must_use]
    pub fn own<T: OwnLocation>(&self) -> &T {
        T::of(self).unwrap_or_else(|| {
            unreachable!("a {} location was given to the client of {}", self.kind(), std::any::type_name::<T>())
        })
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(location) => write!(f, "file {}", location.path.display()),
            Self::Env(location) => write!(f, "environment variable {}", location.name),
            Self::Vault(location) => location.fmt(f),
            Self::Gcp(location) => location.fmt(f),
            Self::Azure(location) => location.fmt(f),
            Self::Kubernetes(location) => location.fmt(f),
            Self::AwsSecretsManager(location) => location.fmt(f),
            Self::Exec(location) => write!(f, "exec plugin {} id {}", location.command[0], location.id),
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
#[derive(Clone, Copy, Debug)]
pub struct ParseContext<'a> {
    /// The directory of the file the body is in, against which relative `file` paths resolve.
    pub config_dir: &'a std::path::Path,
    /// The named stores bodies may refer to.
    pub stores: &'a crate::stores::StoreRegistry,
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

/// Keys every provider body accepts.
pub const COMMON_KEYS: &[&str] = &["store", "refresh_interval", "grace_period", "render"];

/// Parses a provider map body (the mapping under the provider key) into a [`SecretSpec`].
pub fn parse_spec(
    kind: ProviderKind,
    body_node: &Node,
    path: &YamlPath,
    context: &ParseContext<'_>,
) -> Result<SecretSpec, Vec<Problem>> {
    let mut body = Body::new(format!("`{kind}` body"), path, body_node);
    let refresh_interval = body.interval("refresh_interval");
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
    let store_name = body.string("store");
    let store = context.stores.select(kind, store_name.as_deref()).unwrap_or_else(|message| {
        if let Some(message) = message {
            body.problem(body_node.mark, message);
        }
        None
    });
    let (parsed, accepted) = match kind {
        ProviderKind::File => (file::parse(&mut body, context), file::KEYS),
        ProviderKind::Env => (env::parse(&mut body), env::KEYS),
        ProviderKind::Vault => (vault::parse(&mut body, store), vault::KEYS),
        ProviderKind::GcpSecretManager if cfg!(feature = "gcp") => (gcp::parse(&mut body, store), gcp::KEYS),
        ProviderKind::AzureKeyVault if cfg!(feature = "azure") => (azure::parse(&mut body, store), azure::KEYS),
        ProviderKind::Kubernetes if cfg!(feature = "kubernetes") => {
            (kubernetes::parse(&mut body, store), kubernetes::KEYS)
        }
        ProviderKind::AwsSecretsManager if cfg!(feature = "aws") => (aws::parse(&mut body, store), aws::KEYS),
        ProviderKind::Exec => (exec::parse(&mut body, context), exec::KEYS),
        other => {
            body.problem(body_node.mark, format!("provider `{other}` is not available in this build of secret-render"));
            return Err(body.abandon());
        }
    };
    body.finish(accepted, true)?;
    let (location, key) = parsed.expect("a body without problems parses");
    Ok(SecretSpec {
        location,
        key,
        refresh_interval: refresh_interval.or_else(|| store.and_then(|store| store.refresh_interval)),
        grace_period: grace_period.or_else(|| store.and_then(|store| store.grace_period)),
        render,
    })
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
    #[error("`{kind}` does not support writing")]
    ReadOnly { kind: ProviderKind },
    #[error("{what} asks to retry after {}s: {reason}", retry_after.as_secs())]
    RateLimited { what: String, reason: String, retry_after: Duration },
    /// An `exec` plugin's own answer for one id: `{"error":"…"}`, whose reason is the plugin's.
    #[error("{what}: the plugin answered with an error: {reason}")]
    PluginError { what: String, reason: String },
    /// A write the store cannot make as asked (one key of a YAML file), or that failed on its way
    /// (a missing directory); `reason` says which.
    #[error("{what}: {reason}")]
    WriteRefused { what: String, reason: String },
    /// A store could not log in because a secret of its auth settings (a bootstrapped one, at
    /// `path` under `secret_stores`) could not be fetched: named there, not at the fields that
    /// use the store.
    #[error("{path}: {source}")]
    Bootstrap { path: String, source: Box<ProviderError> },
}

impl ProviderError {
    /// This error as the failure of a write (`extract`, `rotate`, `store put`): a refusal is
    /// one to write, not to read.
    #[must_use]
    pub fn describe_write(&self) -> String {
        match self {
            Self::Bootstrap { .. } => self.to_string(),
            Self::PermissionDenied { what, reason } => format!("permission denied writing {what}: {reason}"),
            other => other.to_string(),
        }
    }

    /// This error of the read a write of one key makes first (to keep the other keys; for Vault
    /// also the version to check and set): a refusal there is one to read, which
    /// [`ProviderError::describe_write`] would otherwise call one to write.
    #[must_use]
    pub fn in_read_before_write(self) -> Self {
        match self {
            Self::PermissionDenied { what, reason } => Self::WriteRefused {
                what,
                reason: format!(
                    "permission denied reading it, which a write of one key does first to keep the others (allow \
                     reading as well as writing): {reason}"
                ),
            },
            other => other,
        }
    }

    /// Whether trying again later may succeed without anyone changing the configuration.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Bootstrap { source, .. } => source.is_retryable(),
            other => matches!(other, Self::Unreachable { .. } | Self::Timeout { .. } | Self::RateLimited { .. }),
        }
    }

    /// How long the store asked us to wait (`Retry-After`), if it did.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => Some(*retry_after),
            Self::Bootstrap { source, .. } => source.retry_after(),
            _ => None,
        }
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
            Self::Invalid { .. } | Self::WriteRefused { .. } => "invalid",
            Self::Unavailable { .. } | Self::ReadOnly { .. } => "unavailable",
            Self::RateLimited { .. } => "rate_limited",
            Self::PluginError { .. } => "plugin_error",
            Self::Bootstrap { source, .. } => source.reason(),
        }
    }
}

/// A fetched document: one value, or named fields that bodies pick with `key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    Value(Secret),
    Fields(BTreeMap<String, Secret>),
}

#[derive(Clone, Debug)]
pub struct Fetched {
    pub content: Content,
    /// How long the store lets us use the value (a Vault lease), when it says.
    pub lease: Option<Duration>,
    /// When the store says the value expires (Key Vault's `attributes.exp`, the end of a Vault
    /// lease), for `secret_render_secret_expiry_timestamp_seconds`.
    pub expires_at: Option<std::time::SystemTime>,
    /// The previous value as the store itself keeps it (Secrets Manager's `AWSPREVIOUS`), for a
    /// store that is the source of truth for rotations: the rotation grace uses it when this
    /// process never saw the old value (it started after the rotation).
    pub store_previous: Option<StorePrevious>,
}

/// A store's own previous value and when the current one replaced it.
#[derive(Clone, Debug)]
pub struct StorePrevious {
    pub content: Content,
    /// When the current value was created; unknown means now.
    pub replaced_at: Option<std::time::SystemTime>,
}

impl Fetched {
    #[must_use]
    pub fn value(secret: Secret) -> Self {
        Self { content: Content::Value(secret), lease: None, expires_at: None, store_previous: None }
    }

    #[must_use]
    pub fn fields(fields: BTreeMap<String, Secret>) -> Self {
        Self { content: Content::Fields(fields), lease: None, expires_at: None, store_previous: None }
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

/// A secret store client: one per provider and store. Implementations are shared and fetch
/// concurrently.
pub trait Provider: Send + Sync {
    fn kind(&self) -> ProviderKind;

    /// The store this client serves.
    fn store(&self) -> StoreRef {
        StoreRef::Default
    }

    /// Fetches one location.
    fn fetch<'a>(&'a self, location: &'a Location) -> BoxFuture<'a, Result<Fetched, ProviderError>>;

    /// Drops what the provider keeps to answer `location` without reading it again (a Vault
    /// lease it would renew), so that the next fetch reads it afresh: after an auth failure the
    /// target needs new credentials, not the same ones for longer.
    fn forget(&self, _location: &Location) {}

    /// What this client keeps between fetches that a client built anew for the same store can
    /// carry on with (the Vault leases it would renew), handed over when the configs are read
    /// again; see [`Provider::take_over`].
    fn hand_over(&self) -> Option<Box<dyn std::any::Any + Send>> {
        None
    }

    /// Carries on with what the previous client for this store handed over.
    fn take_over(&self, _state: Box<dyn std::any::Any + Send>) {}

    /// Under `run`/`watch`: starts pushing change notices for `locations` (a location whose value
    /// may have changed is sent on `changed`, and the loop refetches it at once), for as long as
    /// this client lives. Returns `false` when the provider has no such feed, so the loop relies
    /// on the refresh interval alone; a provider that watches is still refetched on its interval,
    /// as a resync.
    fn watch(&self, locations: Vec<Location>, changed: tokio::sync::mpsc::UnboundedSender<Location>) -> bool {
        let _ = (locations, changed);
        false
    }

    /// Writes `value` at `location` (under `key` when the document has fields) as a new version
    /// where the store keeps versions, leaving the previous one readable.
    fn put<'a>(
        &'a self,
        location: &'a Location,
        key: Option<&'a str>,
        value: &'a Secret,
    ) -> BoxFuture<'a, Result<PutOutcome, ProviderError>> {
        let _ = (key, value);
        Box::pin(async move { Err(ProviderError::ReadOnly { kind: location.kind() }) })
    }

    /// Deletes `key` from the document at `location` (as a new version where the store keeps
    /// versions), or, without a key, the current version of the whole document.
    fn delete<'a>(
        &'a self,
        location: &'a Location,
        key: Option<&'a str>,
    ) -> BoxFuture<'a, Result<PutOutcome, ProviderError>> {
        let _ = key;
        Box::pin(async move { Err(ProviderError::ReadOnly { kind: location.kind() }) })
    }

    /// Fetches many locations, each request within `bound`, yielding each result as it comes
    /// in, with [`Provider::beside_reads`] running alongside. Providers that can answer many
    /// locations in one request (an exec plugin, a batch API) override this.
    fn fetch_batch<'a>(&'a self, locations: Vec<Location>, bound: FetchBound) -> BoxStream<'a, Timed> {
        let beside = futures_util::stream::once(self.beside_reads()).filter_map(|()| std::future::ready(None));
        futures_util::stream::select(beside, fetch_each(self, locations, bound)).boxed()
    }

    /// What a batch of reads does beside the reads, without holding them up: a Vault store
    /// learns its token's TTL, to renew it in time. Nothing by default.
    fn beside_reads(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }

    /// Under `run`/`watch`: when this client next has upkeep of its own to do between fetches
    /// (a Vault store renewing its token before it lapses); `None` for nothing.
    fn next_upkeep(&self) -> Option<std::time::Instant> {
        None
    }

    /// Does the upkeep due by now (see [`Provider::next_upkeep`]).
    fn upkeep(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }
}

/// Fetches `locations` one request each, within `bound`: the default
/// [`Provider::fetch_batch`], for providers that override it to do more beside.
pub fn fetch_each<'a, P: Provider + ?Sized>(
    provider: &'a P,
    locations: Vec<Location>,
    bound: FetchBound,
) -> impl Stream<Item = Timed> + Send + 'a {
    let size = bound.size();
    futures_util::stream::iter(locations)
        .map(move |location| bound.clone().run(fetch_timed(provider, location)))
        .buffer_unordered(size)
}

/// The most requests one provider and store may have running at once (`--max-concurrency`),
/// shared by every batch that fetches from it. Under `run`/`watch` a refresh stops waiting for
/// a hung store after a while and leaves its fetches running; the next refresh's requests to
/// that store then wait for a permit rather than add to the pile on a store in trouble.
#[derive(Clone, Debug)]
pub struct FetchBound {
    permits: Arc<tokio::sync::Semaphore>,
    size: usize,
}

impl FetchBound {
    /// A bound of `size` requests at once (at least one), shared by the clones of it.
    #[must_use]
    pub fn new(size: usize) -> Self {
        let size = size.max(1);
        Self { permits: Arc::new(tokio::sync::Semaphore::new(size)), size }
    }

    /// How many requests it lets run at once.
    #[must_use]
    pub fn size(&self) -> usize {
        self.size
    }

    /// Runs `request` once a permit is free, holding it until `request` is done. The wait is not
    /// part of what `request` times.
    pub async fn run<F: std::future::Future>(self, request: F) -> F::Output {
        let _permit = self.permits.acquire().await.expect("a fetch bound's semaphore is never closed");
        request.await
    }
}

/// Fetches `location` with `provider`, with how long the fetch took.
pub async fn fetch_timed<P: Provider + ?Sized>(provider: &P, location: Location) -> Timed {
    let started = std::time::Instant::now();
    let result = provider.fetch(&location).await;
    (location, result, started.elapsed())
}

/// What a write did: the version it created, where the store numbers them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PutOutcome {
    pub version: Option<String>,
    /// What the operator should know of what was done (how a deletion is undone).
    pub note: Option<String>,
}

/// A location, its fetch result and how long the fetch took.
pub type Timed = (Location, Result<Fetched, ProviderError>, Duration);

/// The clients available to a resolution, by provider and store.
#[derive(Clone, Default)]
pub struct ProviderSet {
    providers: BTreeMap<(ProviderKind, StoreRef), Arc<dyn Provider>>,
}

impl ProviderSet {
    /// The providers this build offers with their default settings.
    #[must_use]
    pub fn standard() -> Self {
        let mut set = Self::default();
        set.insert(Arc::new(file::FileProvider::default()));
        set.insert(Arc::new(env::EnvProvider));
        set.insert(Arc::new(exec::ExecProvider));
        set
    }

    pub fn insert(&mut self, provider: Arc<dyn Provider>) {
        self.providers.insert((provider.kind(), provider.store()), provider);
    }

    #[must_use]
    pub fn get(&self, kind: ProviderKind, store: &StoreRef) -> Option<&Arc<dyn Provider>> {
        self.providers.get(&(kind, store.clone()))
    }

    /// Hands what each client of `previous` keeps between fetches to this set's client for the
    /// same provider and store, so that rebuilding the clients (a config reload) does not start
    /// them over: a held lease is still renewed rather than new credentials read.
    pub fn take_over(&self, previous: &Self) {
        for (key, provider) in &self.providers {
            if let Some(state) = previous.providers.get(key).and_then(|old| old.hand_over()) {
                provider.take_over(state);
            }
        }
    }

    /// The earliest upkeep any client has due (see [`Provider::next_upkeep`]).
    #[must_use]
    pub fn next_upkeep(&self) -> Option<std::time::Instant> {
        self.providers.values().filter_map(|provider| provider.next_upkeep()).min()
    }

    /// Does every client's upkeep due by now.
    pub async fn upkeep(&self) {
        let now = std::time::Instant::now();
        let due = self.providers.values().filter(|provider| provider.next_upkeep().is_some_and(|at| at <= now));
        futures_util::future::join_all(due.map(|provider| provider.upkeep())).await;
    }

    /// Asks every client that can push changes to watch its share of `locations`; returns how
    /// many locations are watched.
    pub fn watch<'a>(
        &self,
        locations: impl IntoIterator<Item = &'a Location>,
        changed: &tokio::sync::mpsc::UnboundedSender<Location>,
    ) -> usize {
        let mut groups: BTreeMap<(ProviderKind, StoreRef), Vec<Location>> = BTreeMap::new();
        for location in locations {
            groups.entry((location.kind(), location.store().clone())).or_default().push(location.clone());
        }
        groups
            .into_iter()
            .filter_map(|(key, locations)| {
                let count = locations.len();
                let provider = self.providers.get(&key)?;
                provider.watch(locations, changed.clone()).then_some(count)
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// kube-rs names the proxy it cannot use, userinfo and all; what we show hides it.
    #[test]
    fn an_error_chain_hides_credentials_written_into_urls() {
        let error = std::io::Error::other("configured proxy socks5://user:pw-fake@127.0.0.1:1080/ needs a feature");
        assert_eq!(error_chain(&error), "configured proxy socks5://***@127.0.0.1:1080/ needs a feature");
    }
}
