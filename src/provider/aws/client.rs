//! The `aws_secrets_manager` client (the AWS SDK over rustls/ring): one per store, built on first
//! use from the standard chain (`AWS_REGION`, `AWS_PROFILE`, env / profile / web identity / ECS /
//! IMDS credentials) with the store's `region`, `profile` (its credentials, not the chain's) and
//! `endpoint_url` (Secrets Manager's only) on top, and STS AssumeRole when the store has a
//! `role_arn` (at `sts_endpoint_url` when set).
//!
//! Current versions of two or more secrets are read with `BatchGetSecretValue` (20 ids a call),
//! anything pinned (`version_stage`, `version_id`) with `GetSecretValue`. A caller without
//! `secretsmanager:BatchGetSecretValue` gets one warning and per-secret reads from then on.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use aws_config::BehaviorVersion;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::SharedCredentialsProvider;
use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::primitives::{Blob, DateTime};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use zeroize::Zeroizing;

use super::{AwsLocation, StoreSettings, Version};
use crate::provider::{
    FetchBound, Fetched, Location, Provider, ProviderError, ProviderKind, StorePrevious, StoreRef, Timed,
    error_chain_shown, json_object,
};
use crate::secret::Secret;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// `BatchGetSecretValue` takes at most 20 ids.
const BATCH_SIZE: usize = 20;
/// What a `key` needs the secret to be, for messages.
const JSON_SECRET_STRING: &str = "a JSON object SecretString";

/// One Secrets Manager store.
pub struct AwsStore {
    /// For messages: `store \`name\``, `the default AWS store`.
    label: String,
    store: StoreRef,
    settings: StoreSettings,
    client: tokio::sync::OnceCell<Client>,
    /// Cleared after a batch call is refused, so reads go one by one from then on.
    batch: AtomicBool,
    /// Locations whose store-kept previous value (`previous_stage`) was already looked up: only
    /// a first fetch needs it.
    previous_looked_up: Mutex<HashSet<AwsLocation>>,
}

impl fmt::Debug for AwsStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsStore").field("store", &self.label).finish_non_exhaustive()
    }
}

/// A secret's value as the API returns it (wiped on drop).
struct Value {
    string: Option<Zeroizing<String>>,
    binary: Option<Zeroizing<Vec<u8>>>,
    /// When this version was created.
    created: Option<SystemTime>,
}

impl Value {
    fn new(string: Option<String>, binary: Option<Blob>, created: Option<DateTime>) -> Self {
        Self {
            string: string.map(Zeroizing::new),
            binary: binary.map(|blob| Zeroizing::new(blob.into_inner())),
            created: created.and_then(|created| SystemTime::try_from(created).ok()),
        }
    }

    /// The value a location asks for: the whole string or binary, or the fields of a JSON string.
    fn content(&self, location: &AwsLocation) -> Result<Fetched, ProviderError> {
        let what = || location.to_string();
        match (&self.string, &self.binary) {
            (Some(text), _) if location.structured => {
                let fields = json_object::fields(text.as_bytes())
                    .map_err(|reason| json_object::not_an_object(what(), JSON_SECRET_STRING, &reason))?;
                Ok(Fetched::fields(fields))
            }
            (Some(text), _) => Ok(Fetched::value(Secret::from_text(String::clone(text)))),
            (None, Some(_)) if location.structured => Err(ProviderError::Invalid {
                what: what(),
                reason: "the secret is binary (SecretBinary); `key` picks a field of a JSON SecretString".into(),
            }),
            (None, Some(bytes)) => Ok(Fetched::value(Secret::new(Vec::clone(bytes)))),
            (None, None) => Err(ProviderError::Invalid { what: what(), reason: "the version holds no value".into() }),
        }
    }
}

impl AwsStore {
    /// Builds the store's client lazily: nothing is read or requested until the first fetch.
    #[must_use]
    pub fn new(store: StoreRef, settings: &StoreSettings) -> Self {
        let label = match &store {
            StoreRef::Named(name) => format!("store `{name}`"),
            StoreRef::Default | StoreRef::Address(_) => "the default AWS store".to_owned(),
        };
        Self {
            label,
            store,
            settings: settings.clone(),
            client: tokio::sync::OnceCell::new(),
            batch: AtomicBool::new(true),
            previous_looked_up: Mutex::new(HashSet::new()),
        }
    }

    /// [`sdk_error`] with this store's timeout.
    fn sdk_error<E>(&self, error: &SdkError<E, HttpResponse>, what: String) -> ProviderError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        sdk_error(error, what, self.settings.timeout.unwrap_or(DEFAULT_TIMEOUT))
    }

    async fn client(&self) -> Result<&Client, ProviderError> {
        self.client.get_or_try_init(|| self.build_client()).await
    }

    async fn build_client(&self) -> Result<Client, ProviderError> {
        use aws_smithy_http_client::tls;
        crate::install_crypto_provider();
        let settings = &self.settings;
        let timeout = settings.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
            .build_https();
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .operation_timeout(timeout)
            .build();
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).http_client(http.clone()).timeout_config(timeouts);
        if let Some(region) = &settings.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        // The store's `endpoint_url` is Secrets Manager's alone (below): STS, for `role_arn`, has
        // its own (`sts_endpoint_url`, AWS_ENDPOINT_URL_STS, or the region's).
        let mut config = loader.load().await;
        if config.region().is_none_or(|region| region.as_ref().is_empty()) {
            let in_profile = settings
                .profile
                .as_ref()
                .map(|profile| format!(" (or in profile `{profile}`, if it is defined)"))
                .unwrap_or_default();
            return Err(ProviderError::Invalid {
                what: self.label.clone(),
                reason: format!("no AWS region: set `region` on a store, or AWS_REGION{in_profile}"),
            });
        }
        if let Some(profile) = &settings.profile {
            // The profile's credentials, as the AWS CLI takes them for `--profile`: the standard
            // chain would take AWS_ACCESS_KEY_ID and friends first, whatever the store says, and
            // two stores of two profiles would read as one identity.
            let provider_config = aws_config::provider_config::ProviderConfig::without_region()
                .with_http_client(http)
                .with_region(config.region().cloned());
            let from_profile = aws_config::profile::ProfileFileCredentialsProvider::builder()
                .configure(&provider_config)
                .profile_name(profile)
                .build();
            // A profile that holds no credentials (one that sets a region) leaves them to the
            // standard chain: the environment, web identity, ECS, instance metadata.
            let mut chain = aws_config::meta::credentials::CredentialsProviderChain::first_try("profile", from_profile);
            if let Some(standard) = config.credentials_provider() {
                chain = chain.or_else("standard chain", standard);
            }
            config = config.to_builder().credentials_provider(SharedCredentialsProvider::new(chain)).build();
        }
        if let Some(role) = &settings.role_arn {
            let sts_config = match &settings.sts_endpoint_url {
                Some(url) => config.to_builder().endpoint_url(url).build(),
                None => config.clone(),
            };
            let provider = aws_config::sts::AssumeRoleProvider::builder(role)
                .session_name("secret-render")
                .configure(&sts_config)
                .build()
                .await;
            config = config.to_builder().credentials_provider(SharedCredentialsProvider::new(provider)).build();
        }
        let mut secrets_manager = aws_sdk_secretsmanager::config::Builder::from(&config);
        if let Some(url) = &settings.endpoint_url {
            secrets_manager = secrets_manager.endpoint_url(url);
        }
        Ok(Client::from_conf(secrets_manager.build()))
    }

    /// `GetSecretValue` for one location.
    async fn get(&self, location: &AwsLocation) -> Result<Fetched, ProviderError> {
        let client = self.client().await?;
        let mut request = client.get_secret_value().secret_id(&location.secret_id);
        request = match &location.version {
            Version::Stage(stage) => request.version_stage(stage),
            Version::Id(id) => request.version_id(id),
        };
        let output = request.send().await.map_err(|error| self.sdk_error(&error, location.to_string()))?;
        let value = Value::new(output.secret_string, output.secret_binary, output.created_date);
        let fetched = value.content(location)?;
        Ok(self.with_store_previous(location, fetched, value.created).await)
    }

    /// On a location's first fetch, with `previous_stage` set: adds the value under that stage
    /// (`AWSPREVIOUS`), so the rotation grace has a previous value even when this process started
    /// after the rotation. A secret never rotated has none, which is not an error.
    async fn with_store_previous(
        &self,
        location: &AwsLocation,
        mut fetched: Fetched,
        created: Option<SystemTime>,
    ) -> Fetched {
        let Some(stage) = &self.settings.previous_stage else { return fetched };
        if !location.is_current() || !self.previous_looked_up.lock().expect("not poisoned").insert(location.clone()) {
            return fetched;
        }
        let Ok(client) = self.client().await else { return fetched };
        let answer = client.get_secret_value().secret_id(&location.secret_id).version_stage(stage).send().await;
        let previous = answer
            .map_err(|error| self.sdk_error(&error, location.to_string()))
            .and_then(|output| Value::new(output.secret_string, output.secret_binary, None).content(location));
        match previous {
            Ok(previous) => {
                fetched.store_previous = Some(StorePrevious { content: previous.content, replaced_at: created });
            }
            Err(error) => tracing::debug!(secret = %location, stage, %error, "no previous value in the store"),
        }
        fetched
    }

    /// `BatchGetSecretValue` for up to 20 distinct ids: each id's value, or its error. Ids the
    /// answer does not mention are left out (the caller reads them one by one).
    async fn batch_get(
        &self,
        ids: Vec<String>,
    ) -> Result<HashMap<String, Result<Value, ProviderError>>, ProviderError> {
        let client = self.client().await?;
        let mut answers = HashMap::new();
        let mut next_token = None;
        loop {
            let output = client
                .batch_get_secret_value()
                .set_secret_id_list(Some(ids.clone()))
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|error| {
                    self.sdk_error(&error, format!("a batch of {} aws secrets ({})", ids.len(), self.label))
                })?;
            for entry in output.secret_values.unwrap_or_default() {
                // Ids may be names, full ARNs or partial ARNs (without the random suffix).
                let matched = ids.iter().find(|id| {
                    entry.name.as_deref() == Some(id.as_str())
                        || entry.arn.as_deref().is_some_and(|arn| arn_is(arn, id))
                });
                if let Some(id) = matched {
                    answers.insert(
                        id.clone(),
                        Ok(Value::new(entry.secret_string, entry.secret_binary, entry.created_date)),
                    );
                }
            }
            for error in output.errors.unwrap_or_default() {
                let Some(id) = error.secret_id else { continue };
                let code = error.error_code.unwrap_or_default();
                let what = format!("aws secret {id}");
                answers.insert(id, Err(code_error(&code, error.message.as_deref().unwrap_or_default(), None, what)));
            }
            next_token = output.next_token.filter(|token| !token.is_empty());
            if next_token.is_none() {
                return Ok(answers);
            }
        }
    }

    /// Reads current versions through `BatchGetSecretValue`, the rest one by one.
    async fn fetch_many(&self, locations: Vec<Location>, bound: FetchBound) -> Vec<Timed> {
        let mut results: Vec<Timed> = Vec::with_capacity(locations.len());
        let mut single = Vec::new();
        let mut current: Vec<(Location, AwsLocation)> = Vec::new();
        for location in locations {
            match &location {
                Location::AwsSecretsManager(aws) if aws.is_current() => current.push((location.clone(), aws.clone())),
                _ => single.push(location),
            }
        }
        let mut ids: Vec<String> = current.iter().map(|(_, aws)| aws.secret_id.clone()).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() >= 2 && self.batch.load(Ordering::Relaxed) {
            let chunks: Vec<Vec<String>> = ids.chunks(BATCH_SIZE).map(<[String]>::to_vec).collect();
            let batches: Vec<_> = futures_util::stream::iter(chunks)
                .map(|chunk| {
                    // Timed from when it holds its permit: the wait for one is no fetch time.
                    bound.clone().run(async move {
                        let started = Instant::now();
                        let batch = self.batch_get(chunk.clone()).await;
                        (chunk, batch, started.elapsed())
                    })
                })
                .buffer_unordered(bound.size())
                .collect()
                .await;
            let mut answers = HashMap::new();
            let mut took: HashMap<String, Duration> = HashMap::new();
            let mut refused = None;
            for (chunk, batch, elapsed) in batches {
                took.extend(chunk.iter().map(|id| (id.clone(), elapsed)));
                match batch {
                    Ok(batch) => answers.extend(batch),
                    // Unreachable, timed out or throttled: reading the same secrets one by one now
                    // would only double the calls (and the wait) on a store in trouble. Each
                    // fails with the batch, to be retried at its backoff.
                    Err(error) if error.is_retryable() => {
                        answers.extend(chunk.into_iter().map(|id| (id, Err(error.clone()))));
                    }
                    Err(error) => refused = Some(error),
                }
            }
            if let Some(error) = refused {
                if batching_refused(&error) {
                    self.batch.store(false, Ordering::Relaxed);
                    tracing::warn!(store = %self.label, %error, "BatchGetSecretValue was refused: reading secrets one by one from now on");
                } else {
                    tracing::debug!(store = %self.label, %error, "BatchGetSecretValue failed: reading this cycle's secrets one by one");
                }
            }
            for (location, aws) in current {
                let elapsed = took.get(&aws.secret_id).copied().unwrap_or_default();
                match answers.get(&aws.secret_id) {
                    Some(Ok(value)) => {
                        let fetched = match value.content(&aws) {
                            Ok(fetched) => Ok(self.with_store_previous(&aws, fetched, value.created).await),
                            Err(error) => Err(error),
                        };
                        results.push((location, fetched, elapsed));
                    }
                    Some(Err(error)) => {
                        let error = match error {
                            ProviderError::NotFound { .. } => ProviderError::NotFound { what: aws.to_string() },
                            other => other.clone(),
                        };
                        results.push((location, Err(error), elapsed));
                    }
                    None => single.push(location),
                }
            }
        } else {
            single.extend(current.into_iter().map(|(location, _)| location));
        }
        let singles: Vec<Timed> = futures_util::stream::iter(single)
            .map(|location| {
                bound.clone().run(async move {
                    let started = Instant::now();
                    let result = self.fetch(&location).await;
                    (location, result, started.elapsed())
                })
            })
            .buffer_unordered(bound.size())
            .collect()
            .await;
        results.extend(singles);
        results
    }
}

/// What a secret holds now, read before a write.
enum Current {
    Missing,
    Text(Zeroizing<String>),
    Binary,
}

/// Writing: `PutSecretValue` makes a new version and moves `AWSCURRENT` to it, and Secrets
/// Manager moves `AWSPREVIOUS` to the old one, which stays readable. A missing secret is created.
impl AwsStore {
    fn writable(location: &Location) -> Result<&AwsLocation, ProviderError> {
        let location: &AwsLocation = location.own();
        if !location.is_current() {
            return Err(ProviderError::Invalid {
                what: location.to_string(),
                reason: "only the current version (no `version_stage`/`version_id`) can be written".into(),
            });
        }
        Ok(location)
    }

    /// The current value of a secret about to be written.
    async fn current(&self, location: &AwsLocation) -> Result<Current, ProviderError> {
        let client = self.client().await?;
        let answer = client.get_secret_value().secret_id(&location.secret_id).send().await;
        match answer {
            Ok(output) => Ok(match (output.secret_string, output.secret_binary) {
                (Some(text), _) => Current::Text(Zeroizing::new(text)),
                (None, Some(_)) => Current::Binary,
                (None, None) => Current::Text(Zeroizing::default()),
            }),
            Err(error) => match self.sdk_error(&error, location.to_string()) {
                ProviderError::NotFound { .. } => Ok(Current::Missing),
                other => Err(other),
            },
        }
    }

    /// The current `SecretString` of a secret one field of which is written (`None` when the
    /// secret does not exist); a `SecretBinary` has no fields.
    async fn current_text(&self, location: &AwsLocation) -> Result<Option<Zeroizing<String>>, ProviderError> {
        match self.current(location).await.map_err(ProviderError::in_read_before_write)? {
            Current::Missing => Ok(None),
            Current::Text(text) => Ok(Some(text)),
            Current::Binary => Err(ProviderError::Invalid {
                what: location.to_string(),
                reason: format!("it holds a SecretBinary: `key` needs {JSON_SECRET_STRING}"),
            }),
        }
    }

    /// Writes `value` as the secret's new current version, a `SecretString` when it is text
    /// unless `binary`; returns its id.
    async fn write(
        &self,
        location: &AwsLocation,
        value: &Secret,
        binary: bool,
    ) -> Result<crate::provider::PutOutcome, ProviderError> {
        let client = self.client().await?;
        let what = || location.to_string();
        let text = value.expose_str().filter(|_| !binary);
        let mut put = client.put_secret_value().secret_id(&location.secret_id);
        put = match text {
            Some(text) => put.secret_string(text),
            None => put.secret_binary(Blob::new(value.expose())),
        };
        let version = match put.send().await {
            Ok(output) => output.version_id,
            Err(error) => match self.sdk_error(&error, what()) {
                ProviderError::NotFound { .. } => {
                    let mut create = client.create_secret().name(&location.secret_id);
                    create = match text {
                        Some(text) => create.secret_string(text),
                        None => create.secret_binary(Blob::new(value.expose())),
                    };
                    create.send().await.map_err(|error| self.sdk_error(&error, what()))?.version_id
                }
                other => return Err(other),
            },
        };
        Ok(crate::provider::PutOutcome { version, note: None })
    }

    async fn put_field(
        &self,
        location: &AwsLocation,
        key: Option<&str>,
        value: &Secret,
    ) -> Result<crate::provider::PutOutcome, ProviderError> {
        let Some(key) = key else {
            let current = self.current(location).await;
            json_object::refuse_to_replace_fields(
                current.as_ref().map(|current| match current {
                    Current::Text(text) => Some(text.as_bytes()),
                    Current::Missing | Current::Binary => None,
                }),
                &location.to_string(),
            )?;
            // A `SecretBinary` stays one: a reader of `SecretBinary` would find none.
            return self.write(location, value, matches!(current, Ok(Current::Binary))).await;
        };
        let text = value.expose_str().ok_or_else(|| ProviderError::Invalid {
            what: location.to_string(),
            reason: "a field of a JSON SecretString must be UTF-8 text".into(),
        })?;
        let current = self.current_text(location).await?;
        let json = json_object::set_field(current.as_ref().map(|text| text.as_bytes()), key, text)
            .map_err(|reason| json_object::not_an_object(location.to_string(), JSON_SECRET_STRING, &reason))?;
        self.write(location, &Secret::new(json.to_vec()), false).await
    }

    async fn delete_field(
        &self,
        location: &AwsLocation,
        key: Option<&str>,
    ) -> Result<crate::provider::PutOutcome, ProviderError> {
        let what = location.to_string();
        let Some(key) = key else {
            // Recoverable for the default window (30 days) with `RestoreSecret`.
            let client = self.client().await?;
            client
                .delete_secret()
                .secret_id(&location.secret_id)
                .send()
                .await
                .map_err(|error| self.sdk_error(&error, what))?;
            return Ok(crate::provider::PutOutcome::default());
        };
        let current = self.current_text(location).await?.ok_or(ProviderError::NotFound { what: what.clone() })?;
        let json = json_object::remove_field(current.as_bytes(), key)
            .map_err(|error| error.for_store(what, key, JSON_SECRET_STRING))?;
        self.write(location, &Secret::new(json.to_vec()), false).await
    }
}

/// Maps an SDK error to the error an operator can act on; AWS's messages name the secret, never
/// a value. `timeout` is the store's, for the message of a call that ran out of it.
fn sdk_error<E>(error: &SdkError<E, HttpResponse>, what: String, timeout: Duration) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error {
        SdkError::ServiceError(context) => {
            let inner = context.err();
            let status = context.raw().status().as_u16();
            code_error(inner.code().unwrap_or("Unknown"), inner.message().unwrap_or_default(), Some(status), what)
        }
        SdkError::TimeoutError(_) => ProviderError::Timeout { what, after: timeout },
        SdkError::DispatchFailure(failure) if failure.is_timeout() => ProviderError::Timeout { what, after: timeout },
        other => {
            let reason = error_chain_shown(other, credentials_left_out);
            if reason.contains("credentials") {
                ProviderError::PermissionDenied { what, reason }
            } else {
                ProviderError::Unreachable { what, reason }
            }
        }
    }
}

/// aws-config's error text without the credentials it quotes: a failed `credential_process`'s
/// stderr (written whole into its error), and a container credentials token (ECS, EKS Pod
/// Identity) it could not send as a header (quoted whole, a trailing newline and all).
fn credentials_left_out(text: String) -> String {
    const STDERR: &str = ". Stderr: ";
    const BAD_TOKEN: &str = "` could not be used as a header value for the auth token.";
    if let Some(at) = text.find(STDERR) {
        return format!("{} (its stderr is not shown: it may hold credentials)", &text[..at]);
    }
    if let Some(end) = text.find(BAD_TOKEN)
        && let Some(start) = text[..end].rfind('`')
    {
        return format!(
            "{}the container credentials token (AWS_CONTAINER_AUTHORIZATION_TOKEN or the file \
             AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE names) cannot be sent as a header: it holds a character a header \
             cannot, such as a line break:{}",
            &text[..start],
            &text[end + BAD_TOKEN.len()..]
        );
    }
    text
}

/// Maps an AWS error code (of a call, or of one id in a batch answer, which has no `status`).
/// A code it does not know (or none: a proxy's or load balancer's HTML page) is told by the
/// HTTP status: 401/403 refused, 429 and 5xx worth retrying, the rest invalid.
fn code_error(code: &str, message: &str, status: Option<u16>, what: String) -> ProviderError {
    let reason = if message.is_empty() { code.to_owned() } else { format!("{code}: {message}") };
    match code {
        "ResourceNotFoundException" => ProviderError::NotFound { what },
        // AWS: "You can't perform this operation on the secret because it was marked for
        // deletion." Not invalid content: gone, for now.
        "InvalidRequestException"
            if message.to_ascii_lowercase().contains("deleted")
                || message.to_ascii_lowercase().contains("deletion") =>
        {
            ProviderError::NotFound {
                what: format!("{what} (scheduled for deletion; `aws secretsmanager restore-secret` brings it back)"),
            }
        }
        "AccessDeniedException"
        | "AccessDenied"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch"
        | "InvalidClientTokenId"
        | "ExpiredTokenException"
        | "DecryptionFailure"
        | "KMSAccessDeniedException" => ProviderError::PermissionDenied { what, reason },
        "ThrottlingException"
        | "Throttling"
        | "InternalServiceError"
        | "ServiceUnavailable"
        | "RequestLimitExceeded" => ProviderError::Unreachable { what, reason },
        _ => {
            let reason = match status {
                Some(status) => format!("HTTP {status}, {reason}"),
                None => reason,
            };
            match status {
                Some(401 | 403) => ProviderError::PermissionDenied { what, reason },
                Some(429 | 500..=599) => ProviderError::Unreachable { what, reason },
                _ => ProviderError::Invalid { what, reason },
            }
        }
    }
}

impl Provider for AwsStore {
    fn kind(&self) -> ProviderKind {
        ProviderKind::AwsSecretsManager
    }

    fn store(&self) -> StoreRef {
        self.store.clone()
    }

    fn fetch<'a>(&'a self, location: &'a Location) -> BoxFuture<'a, Result<Fetched, ProviderError>> {
        Box::pin(async move {
            let location = location.own();
            self.get(location).await
        })
    }

    fn fetch_batch<'a>(&'a self, locations: Vec<Location>, bound: FetchBound) -> BoxStream<'a, Timed> {
        futures_util::stream::once(self.fetch_many(locations, bound)).flat_map(futures_util::stream::iter).boxed()
    }

    fn put<'a>(
        &'a self,
        location: &'a Location,
        key: Option<&'a str>,
        value: &'a Secret,
    ) -> BoxFuture<'a, Result<crate::provider::PutOutcome, ProviderError>> {
        Box::pin(async move { self.put_field(Self::writable(location)?, key, value).await })
    }

    fn delete<'a>(
        &'a self,
        location: &'a Location,
        key: Option<&'a str>,
    ) -> BoxFuture<'a, Result<crate::provider::PutOutcome, ProviderError>> {
        Box::pin(async move { self.delete_field(Self::writable(location)?, key).await })
    }
}

/// Whether a failed `BatchGetSecretValue` means the caller may never use it (so reads go one
/// by one from then on): a policy that does not allow that action, or an endpoint that does not
/// know it. Expired or wrong credentials are refused too, but for every call alike, and once
/// they are fixed batching works again.
fn batching_refused(error: &ProviderError) -> bool {
    match error {
        ProviderError::PermissionDenied { reason, .. } => reason.contains("BatchGetSecretValue"),
        ProviderError::Invalid { .. } => true,
        _ => false,
    }
}

/// Whether the secret whose full ARN is `arn` is the one `id` names: that ARN itself, or a
/// partial ARN, which leaves out the `-` and six random characters Secrets Manager appends to the
/// name. Only exactly that suffix counts: `…:secret:app` is not `…:secret:app-prod-Ab12Cd`.
fn arn_is(arn: &str, id: &str) -> bool {
    arn == id
        || arn
            .strip_prefix(id)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|suffix| suffix.len() == 6 && suffix.bytes().all(|byte| byte.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_code_is_told_by_the_http_status() {
        let cases: &[(Option<u16>, &str, bool)] = &[
            (Some(503), "unreachable", true),
            (Some(502), "unreachable", true),
            (Some(429), "unreachable", true),
            (Some(403), "permission_denied", false),
            (Some(401), "permission_denied", false),
            (Some(400), "invalid", false),
            (None, "invalid", false),
        ];
        for (status, reason, retryable) in cases {
            let error = code_error("Unknown", "", *status, "aws secret x".into());
            assert_eq!((error.reason(), error.is_retryable()), (*reason, *retryable), "{status:?}");
        }
        let error = code_error("Unknown", "", Some(503), "aws secret x".into());
        assert_eq!(error.to_string(), "aws secret x is unreachable: HTTP 503, Unknown");
    }

    #[test]
    fn a_timeout_names_the_stores_timeout() {
        use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
        let error: SdkError<GetSecretValueError, HttpResponse> = SdkError::timeout_error("no answer");
        let mapped = sdk_error(&error, "aws secret x".into(), Duration::from_secs(2));
        assert_eq!(mapped.to_string(), "timed out after 2s fetching aws secret x");
    }

    #[test]
    fn only_a_refusal_of_the_batch_action_itself_turns_batching_off() {
        let denied = |reason: &str| ProviderError::PermissionDenied { what: "w".into(), reason: reason.into() };
        assert!(batching_refused(&denied(
            "AccessDeniedException: User: arn:aws:iam::1:user/p is not authorized to perform: secretsmanager:BatchGetSecretValue"
        )));
        assert!(!batching_refused(&denied(
            "ExpiredTokenException: The security token included in the request is expired"
        )));
        assert!(batching_refused(&ProviderError::Invalid {
            what: "w".into(),
            reason: "UnknownOperationException".into()
        }));
        assert!(!batching_refused(&ProviderError::Unreachable { what: "w".into(), reason: "HTTP 503".into() }));
    }

    #[test]
    fn a_partial_arn_names_only_the_secret_whose_arn_adds_the_random_suffix() {
        let partial = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mix/app";
        assert!(arn_is(&format!("{partial}-Ab12Cd"), partial));
        assert!(arn_is(&format!("{partial}-Ab12Cd"), &format!("{partial}-Ab12Cd")));
        for other in ["-prod-Ab12Cd", "-prod", "-Ab12C", "-Ab12Cde", "Ab12Cd", "-Ab-2Cd"] {
            assert!(!arn_is(&format!("{partial}{other}"), partial), "{other}");
        }
    }

    #[test]
    fn error_codes_map_to_errors_an_operator_can_act_on() {
        let cases: &[(&str, &str, bool)] = &[
            ("ResourceNotFoundException", "not_found", false),
            ("AccessDeniedException", "permission_denied", false),
            ("DecryptionFailure", "permission_denied", false),
            ("ThrottlingException", "unreachable", true),
            ("InternalServiceError", "unreachable", true),
            ("InvalidRequestException", "invalid", false),
        ];
        for (code, reason, retryable) in cases {
            let error = code_error(code, "m", None, "aws secret x".into());
            assert_eq!((error.reason(), error.is_retryable()), (*reason, *retryable), "{code}");
        }
        let deleted = "You can't perform this operation on the secret because it was marked for deletion.";
        assert_eq!(
            code_error("InvalidRequestException", deleted, Some(400), "aws secret x".into()).to_string(),
            "aws secret x (scheduled for deletion; `aws secretsmanager restore-secret` brings it back) not found"
        );
    }

    #[test]
    fn a_value_is_the_whole_string_the_binary_or_the_fields_of_a_json_string() {
        let location = |structured| AwsLocation {
            store: StoreRef::Default,
            secret_id: "s".into(),
            version: Version::Stage(super::super::CURRENT_STAGE.into()),
            structured,
        };
        let json = Value::new(Some(r#"{"user":"u","port":5432}"#.into()), None, None);
        let whole = json.content(&location(false)).unwrap();
        assert_eq!(
            whole.select(None, &Location::AwsSecretsManager(location(false))).unwrap().expose(),
            br#"{"user":"u","port":5432}"#
        );
        let fields = json.content(&location(true)).unwrap();
        let at = Location::AwsSecretsManager(location(true));
        assert_eq!(fields.select(Some("port"), &at).unwrap().expose(), b"5432");
        let binary = Value::new(None, Some(Blob::new(vec![0, 255, 10])), None);
        assert_eq!(binary.content(&location(false)).unwrap().select(None, &at).unwrap().expose(), &[0, 255, 10]);
        assert!(binary.content(&location(true)).is_err());
        assert!(Value::new(Some("plain".into()), None, None).content(&location(true)).is_err());
    }
}
