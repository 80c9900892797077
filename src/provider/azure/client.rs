//! The `azure_key_vault` client (cargo feature `azure`): one per store, with its keep-alive HTTP
//! pool and one Entra ID access token per resource (`https://vault.azure.net`, or a sovereign
//! cloud's), shared by every fetch and replaced shortly before it expires.
//!
//! Tokens come from the Microsoft identity platform's v2.0 token endpoint (client credentials with
//! a client secret, or with a federated token as the client assertion — AKS workload identity) or
//! from the instance metadata service (managed identity), the three flows `azure_identity`'s
//! `DefaultAzureCredential` tries in a pod or VM. We speak them directly: each is one documented
//! request, and doing so keeps this store's pool, endpoints a test can point at a fake, and
//! errors mapped to `ProviderError`, without the Azure SDK's runtime and HTTP stack.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;
use reqwest::StatusCode;
use serde::Deserialize;
use zeroize::{Zeroize, Zeroizing};

use super::{Auth, AzureLocation, StoreSettings};
use crate::provider::cloud::{self, Response, Token, TokenResponse};
use crate::provider::json_object;
use crate::provider::vault::SecretSource;
use crate::provider::{Fetched, Location, Provider, ProviderError, ProviderKind, ProviderSet, StoreRef};
use crate::secret::Secret;

/// What a `key` needs the value to be, for messages.
const JSON_VALUE: &str = "a JSON object value";
const API_VERSION: &str = "7.4";
const IMDS_API_VERSION: &str = "2018-02-01";
/// The API version of App Service's (and Container Apps', Functions') managed identity
/// endpoint, which `IDENTITY_ENDPOINT` names, as the Azure SDKs ask it.
const APP_SERVICE_API_VERSION: &str = "2019-08-01";
const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
const DEFAULT_IMDS: &str = "http://169.254.169.254";
const IMDS_TOKEN_PATH: &str = "/metadata/identity/oauth2/token";
const DEFAULT_RESOURCE: &str = "https://vault.azure.net";
const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// What the caller needs to read a secret under Azure RBAC (the Key Vault Secrets User role).
const GET_SECRET_ACTION: &str = "Microsoft.KeyVault/vaults/secrets/getSecret/action";

/// A request to the vault, for what a refusal of it needs: the RBAC data action, the built-in
/// role with it, and the access policy permission (Key Vault's "RBAC guide").
#[derive(Clone, Copy)]
enum Operation {
    Get,
    Set,
    Delete,
}

impl Operation {
    fn needs(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Get => (GET_SECRET_ACTION, "Key Vault Secrets User", "get"),
            Self::Set => ("Microsoft.KeyVault/vaults/secrets/setSecret/action", "Key Vault Secrets Officer", "set"),
            Self::Delete => ("Microsoft.KeyVault/vaults/secrets/delete", "Key Vault Secrets Officer", "delete"),
        }
    }
}

/// How the store gets tokens, with everything resolved from settings and environment.
enum Credential {
    ClientSecret {
        token_url: reqwest::Url,
        client_id: String,
        secret: SecretSource,
    },
    WorkloadIdentity {
        token_url: reqwest::Url,
        client_id: String,
        token_file: PathBuf,
    },
    /// IMDS, or with `identity_header` the endpoint App Service, Container Apps and Functions
    /// give (`IDENTITY_ENDPOINT`, which wants `X-IDENTITY-HEADER`; IMDS is not there).
    ManagedIdentity {
        url: reqwest::Url,
        client_id: Option<String>,
        identity_header: Option<Secret>,
    },
}

impl Credential {
    fn describe(&self) -> &'static str {
        match self {
            Self::ClientSecret { .. } => "client secret",
            Self::WorkloadIdentity { .. } => "workload identity",
            Self::ManagedIdentity { .. } => "managed identity",
        }
    }
}

/// One Key Vault store: its credential, connection pool and tokens (any vault of the tenant).
pub struct AzureStore {
    /// For messages: `store prod`, `the default azure_key_vault store`.
    label: String,
    store: StoreRef,
    /// For Key Vault and Entra ID's token endpoint: through the environment's proxy.
    http: reqwest::Client,
    /// For the instance metadata service (with [`Credential::ManagedIdentity`]): never through
    /// a proxy.
    imds_http: Option<reqwest::Client>,
    timeout: Duration,
    credential: Credential,
    /// Whether the credential is the environment's fallback (messages then say what was looked for).
    from_environment: bool,
    bootstrap: ProviderSet,
    tokens: tokio::sync::Mutex<HashMap<String, Token>>,
    token_failure: cloud::TokenFailure,
}

impl std::fmt::Debug for AzureStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureStore")
            .field("store", &self.label)
            .field("credential", &self.credential.describe())
            .finish_non_exhaustive()
    }
}

/// A `SecretBundle`; the value is wiped on drop.
#[derive(Deserialize)]
struct SecretBundle {
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    id: String,
    #[serde(default)]
    attributes: Option<Attributes>,
    /// What describes the secret rather than its value, which a new version written by
    /// `rotate` or `store put` carries on: Key Vault starts each version without them, and a
    /// vault whose policy requires tags refuses a version without.
    #[serde(default, rename = "contentType")]
    content_type: Option<String>,
    #[serde(default)]
    tags: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A secret's `contentType` and `tags` (see [`SecretBundle`]).
#[derive(Default)]
struct Description {
    content_type: Option<String>,
    tags: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Drop for SecretBundle {
    fn drop(&mut self) {
        if let Some(value) = &mut self.value {
            value.zeroize();
        }
    }
}

#[derive(Deserialize)]
struct Attributes {
    /// Expiry, in seconds since the epoch.
    #[serde(default)]
    exp: Option<i64>,
}

/// Key Vault's error envelope: `{"error":{"code","message","innererror":{"code"}}}`.
#[derive(Deserialize, Default)]
struct KeyVaultError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    innererror: Option<Box<KeyVaultError>>,
}

impl KeyVaultError {
    fn parse(body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct Envelope {
            error: KeyVaultError,
        }
        serde_json::from_slice::<Envelope>(body).map(|envelope| envelope.error).unwrap_or_default()
    }

    /// `Code (InnerCode): message`, or the HTTP status when the body had none.
    fn text(&self, status: StatusCode) -> String {
        let mut code = self.code.clone();
        if let Some(inner) = self.innererror.as_ref().filter(|inner| !inner.code.is_empty()) {
            code = format!("{code} ({})", inner.code);
        }
        match (code.is_empty(), self.message.is_empty()) {
            (true, true) => format!("HTTP {status}"),
            (false, true) => code,
            (true, false) => cloud::shorten(&self.message),
            (false, false) => cloud::shorten(&format!("{code}: {}", self.message)),
        }
    }
}

impl AzureStore {
    /// Builds the store's client. No request is made until the first fetch.
    pub fn new(
        store: StoreRef,
        settings: &StoreSettings,
        max_concurrency: usize,
        bootstrap: ProviderSet,
    ) -> Result<Self, String> {
        let label = match &store {
            StoreRef::Named(name) => format!("store `{name}`"),
            StoreRef::Default | StoreRef::Address(_) => "the default azure_key_vault store".to_owned(),
        };
        let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        let authority = settings
            .authority_host
            .clone()
            .or_else(|| env("AZURE_AUTHORITY_HOST"))
            .unwrap_or_else(|| DEFAULT_AUTHORITY.to_owned());
        let tenant = settings.tenant_id.clone().or_else(|| env("AZURE_TENANT_ID"));
        let client_id = settings.client_id.clone().or_else(|| env("AZURE_CLIENT_ID"));
        let token_url = |method: &str| -> Result<(reqwest::Url, String), String> {
            let (Some(tenant), Some(client_id)) = (&tenant, &client_id) else {
                return Err(format!(
                    "{label}: `{method}` auth needs `tenant_id` and `client_id` on the store, or AZURE_TENANT_ID and AZURE_CLIENT_ID"
                ));
            };
            if !tenant.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.')) {
                return Err(format!("{label}: `tenant_id` {tenant:?} is not a tenant id or domain"));
            }
            let url = format!("{}/{tenant}/oauth2/v2.0/token", authority.trim_end_matches('/'));
            Ok((cloud::parse_url(&label, "authority_host", &url)?, client_id.clone()))
        };
        // As the Azure SDKs decide: IDENTITY_ENDPOINT with IDENTITY_HEADER is App Service's
        // (Service Fabric adds IDENTITY_SERVER_THUMBPRINT, Azure Arc has IMDS_ENDPOINT instead
        // of the header; neither is served here), unless the store names its `imds_endpoint`.
        let app_service = match (env("IDENTITY_ENDPOINT"), env("IDENTITY_HEADER")) {
            (Some(endpoint), Some(header))
                if settings.imds_endpoint.is_none() && env("IDENTITY_SERVER_THUMBPRINT").is_none() =>
            {
                Some((endpoint, header))
            }
            _ => None,
        };
        let imds = |client_id: Option<String>| -> Result<Credential, String> {
            if let Some((endpoint, header)) = &app_service {
                let url = cloud::parse_url(&label, "IDENTITY_ENDPOINT", endpoint)?;
                let identity_header = Some(Secret::from_text(header.clone()));
                return Ok(Credential::ManagedIdentity { url, client_id, identity_header });
            }
            let base = settings.imds_endpoint.as_deref().unwrap_or(DEFAULT_IMDS).trim_end_matches('/');
            let url = cloud::parse_url(&label, "imds_endpoint", &format!("{base}{IMDS_TOKEN_PATH}"))?;
            Ok(Credential::ManagedIdentity { url, client_id, identity_header: None })
        };
        let federated_file = env("AZURE_FEDERATED_TOKEN_FILE").map(PathBuf::from);
        let (credential, from_environment) = match &settings.auth {
            Auth::ClientSecret(secret) => {
                let (token_url, client_id) = token_url("client_secret")?;
                (Credential::ClientSecret { token_url, client_id, secret: secret.clone() }, false)
            }
            Auth::WorkloadIdentity { token_file } => {
                let token_file = token_file.clone().or(federated_file).ok_or_else(|| {
                    format!("{label}: `workload_identity` auth needs `token_file`, or AZURE_FEDERATED_TOKEN_FILE")
                })?;
                let (token_url, client_id) = token_url("workload_identity")?;
                (Credential::WorkloadIdentity { token_url, client_id, token_file }, false)
            }
            Auth::ManagedIdentity { client_id } => (imds(client_id.clone())?, false),
            // DefaultAzureCredential's order: environment (secret), workload identity, managed identity.
            Auth::Default => match (env("AZURE_CLIENT_SECRET"), federated_file) {
                (Some(secret), _) if tenant.is_some() && client_id.is_some() => {
                    let (token_url, client_id) = token_url("client_secret")?;
                    let secret = SecretSource::Literal(Secret::from_text(secret));
                    (Credential::ClientSecret { token_url, client_id, secret }, true)
                }
                (_, Some(token_file)) if tenant.is_some() && client_id.is_some() => {
                    let (token_url, client_id) = token_url("workload_identity")?;
                    (Credential::WorkloadIdentity { token_url, client_id, token_file }, true)
                }
                _ => (imds(client_id.clone())?, true),
            },
        };
        tracing::debug!(store = %label, credential = credential.describe(), "azure_key_vault credential");
        let timeout = settings.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let http = cloud::http_client(&label, timeout, max_concurrency, cloud::Proxy::FromEnvironment)?;
        let imds_http = match &credential {
            Credential::ManagedIdentity { .. } => Some(cloud::http_client(&label, timeout, 1, cloud::Proxy::Never)?),
            Credential::ClientSecret { .. } | Credential::WorkloadIdentity { .. } => None,
        };
        Ok(Self {
            label,
            store,
            http,
            imds_http,
            timeout,
            credential,
            from_environment,
            bootstrap,
            tokens: tokio::sync::Mutex::new(HashMap::new()),
            token_failure: cloud::TokenFailure::default(),
        })
    }

    /// The token for `resource`: the cached one while fresh, else a new one. Concurrent fetches
    /// wait for the one token request, and take its error if it fails (see
    /// [`cloud::TokenFailure`]; one store's resources share the credential that fails).
    async fn token(&self, resource: &str) -> Result<Secret, ProviderError> {
        let asked = std::time::Instant::now();
        let mut tokens = self.tokens.lock().await;
        if let Some(token) = tokens.get(resource).filter(|token| token.fresh()) {
            return Ok(token.secret.clone());
        }
        if let Some(error) = self.token_failure.since(asked) {
            return Err(error);
        }
        let requested = self.request_token(resource).await;
        self.token_failure.record(&requested);
        let token = requested?;
        let secret = token.secret.clone();
        tokens.insert(resource.to_owned(), token);
        Ok(secret)
    }

    /// Forgets `token` if it is still the current one for `resource`.
    async fn invalidate(&self, resource: &str, token: &Secret) {
        let mut tokens = self.tokens.lock().await;
        if tokens.get(resource).is_some_and(|current| current.secret == *token) {
            tokens.remove(resource);
        }
    }

    async fn request_token(&self, resource: &str) -> Result<Token, ProviderError> {
        let scope = format!("{resource}/.default");
        let (token_url, client_id, assertion) = match &self.credential {
            Credential::ManagedIdentity { url, client_id, identity_header } => {
                return self.imds_token(url, client_id.as_deref(), identity_header.as_ref(), resource).await;
            }
            Credential::ClientSecret { token_url, client_id, secret } => {
                let secret = secret.resolve(&self.bootstrap).await?;
                // A secret kept in a file often ends in a newline; Entra secrets hold no whitespace.
                let secret = Secret::new(secret.expose().trim_ascii().to_vec());
                (token_url, client_id, Err(secret))
            }
            Credential::WorkloadIdentity { token_url, client_id, token_file } => {
                // Re-read each time: the kubelet rotates the projected token.
                let what = format!("{} federated token file {}", self.label, token_file.display());
                let bytes =
                    crate::provider::file::read_regular_file(token_file).map_err(|error| match error.kind() {
                        std::io::ErrorKind::NotFound => ProviderError::NotFound { what: what.clone() },
                        std::io::ErrorKind::PermissionDenied => {
                            ProviderError::PermissionDenied { what: what.clone(), reason: error.to_string() }
                        }
                        _ => ProviderError::Invalid { what: what.clone(), reason: error.to_string() },
                    })?;
                let text = std::str::from_utf8(&bytes)
                    .map_err(|_| ProviderError::Invalid { what, reason: "not UTF-8 text".into() })?;
                (token_url, client_id, Ok(Secret::from_text(text.trim().to_owned())))
            }
        };
        let body = Zeroizing::new({
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "client_credentials")
                .append_pair("client_id", client_id)
                .append_pair("scope", &scope);
            match &assertion {
                Err(secret) => form.append_pair("client_secret", &String::from_utf8_lossy(secret.expose())),
                Ok(assertion) => form
                    .append_pair("client_assertion_type", CLIENT_ASSERTION_TYPE)
                    .append_pair("client_assertion", &String::from_utf8_lossy(assertion.expose())),
            };
            form.finish()
        });
        let what = format!("{} {} token request to {token_url}", self.label, self.credential.describe());
        let request = self
            .http
            .post(token_url.clone())
            .header(reqwest::header::CONTENT_TYPE, cloud::FORM)
            .body(body.as_bytes().to_vec());
        let response = cloud::send(request, &what, self.timeout).await?;
        if response.status != StatusCode::OK {
            return Err(cloud::token_error(&response, what));
        }
        let token = TokenResponse::parse(&response.body, &what)?;
        tracing::debug!(store = %self.label, credential = self.credential.describe(), "obtained an Entra ID token");
        Ok(token)
    }

    /// A managed identity's token from IMDS (`Metadata: true`), or with `identity_header` from
    /// App Service's endpoint (`X-IDENTITY-HEADER`).
    async fn imds_token(
        &self,
        url: &reqwest::Url,
        client_id: Option<&str>,
        identity_header: Option<&Secret>,
        resource: &str,
    ) -> Result<Token, ProviderError> {
        let mut url = url.clone();
        let version = if identity_header.is_some() { APP_SERVICE_API_VERSION } else { IMDS_API_VERSION };
        url.query_pairs_mut().append_pair("api-version", version).append_pair("resource", resource);
        if let Some(client_id) = client_id {
            url.query_pairs_mut().append_pair("client_id", client_id);
        }
        let what = format!("{} managed identity token from {}", self.label, url.origin().ascii_serialization());
        let http = self.imds_http.as_ref().unwrap_or(&self.http);
        let request = match identity_header {
            Some(header) => {
                let mut value =
                    reqwest::header::HeaderValue::from_bytes(header.expose()).map_err(|_| ProviderError::Invalid {
                        what: what.clone(),
                        reason: "IDENTITY_HEADER is not a valid header value".into(),
                    })?;
                value.set_sensitive(true);
                http.get(url).header("X-IDENTITY-HEADER", value)
            }
            None => http.get(url).header("Metadata", "true"),
        };
        // Off Azure the IMDS address refuses, or drops packets until the timeout.
        const NO_OTHER_CREDENTIAL: &str = "no AZURE_TENANT_ID + AZURE_CLIENT_ID with AZURE_CLIENT_SECRET or \
                                           AZURE_FEDERATED_TOKEN_FILE either: set `auth` on an azure_key_vault store";
        let response = cloud::send(request, &what, self.timeout).await.map_err(|error| match error {
            ProviderError::Unreachable { what, reason } if self.from_environment => {
                ProviderError::Unreachable { what, reason: format!("{reason} ({NO_OTHER_CREDENTIAL})") }
            }
            ProviderError::Timeout { what, after } if self.from_environment => {
                ProviderError::Timeout { what: format!("{what} ({NO_OTHER_CREDENTIAL})"), after }
            }
            other => other,
        })?;
        match response.status {
            StatusCode::OK => TokenResponse::parse(&response.body, &what),
            // IMDS throttles (429, with `Retry-After`) and has its troubles (5xx).
            status if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS => {
                Err(cloud::service_trouble(&response, what))
            }
            // IMDS answers 404 while it updates and 410 while it starts: both pass.
            status @ (StatusCode::NOT_FOUND | StatusCode::GONE) => {
                let reason = match cloud::oauth_error(status, &response.body) {
                    fallback if fallback.starts_with("HTTP ") => fallback,
                    error => format!("HTTP {status}: {error}"),
                };
                Err(ProviderError::Unreachable { what, reason })
            }
            status => Err(ProviderError::PermissionDenied { what, reason: cloud::oauth_error(status, &response.body) }),
        }
    }

    async fn get(&self, url: &reqwest::Url, token: &Secret) -> Result<Response, ProviderError> {
        let what = format!("{} ({})", self.label, url.origin().ascii_serialization());
        let request = self.http.get(url.clone()).header(reqwest::header::AUTHORIZATION, cloud::bearer(token, &what)?);
        cloud::send(request, &what, self.timeout).await
    }

    async fn read(&self, location: &AzureLocation) -> Result<Fetched, ProviderError> {
        self.read_described(location).await.map(|(fetched, _)| fetched)
    }

    /// [`AzureStore::read`], with the secret's [`Description`].
    async fn read_described(&self, location: &AzureLocation) -> Result<(Fetched, Description), ProviderError> {
        let what = location.to_string();
        let mut url = reqwest::Url::parse(&location.vault_url)
            .map_err(|error| ProviderError::Invalid { what: what.clone(), reason: error.to_string() })?;
        match &location.version {
            Some(version) => url.set_path(&format!("secrets/{}/{version}", location.name)),
            None => url.set_path(&format!("secrets/{}", location.name)),
        }
        url.query_pairs_mut().append_pair("api-version", API_VERSION);
        let resource = resource_for(&url);
        let token = self.token(&resource).await?;
        let mut response = self.get(&url, &token).await?;
        if response.status == StatusCode::UNAUTHORIZED {
            // A token revoked or expired early: one new token and one retry.
            tracing::info!(store = %self.label, "the access token was refused: getting a new one and retrying once");
            self.invalidate(&resource, &token).await;
            let token = self.token(&resource).await?;
            response = self.get(&url, &token).await?;
        }
        if response.status != StatusCode::OK {
            return Err(status_error(&response, what, Operation::Get));
        }
        let bundle: SecretBundle = serde_json::from_slice(&response.body).map_err(|error| ProviderError::Invalid {
            what: what.clone(),
            reason: format!("not a Key Vault secret bundle ({})", crate::provider::json_error_position(&error)),
        })?;
        let Some(value) = &bundle.value else {
            return Err(ProviderError::Invalid { what, reason: "the response has no `value`".into() });
        };
        tracing::debug!(store = %self.label, id = %bundle.id, "read a Key Vault secret");
        let mut fetched = if location.structured {
            json_object::fields(value.as_bytes())
                .map(Fetched::fields)
                .map_err(|reason| json_object::not_an_object(what.clone(), JSON_VALUE, &reason))?
        } else {
            Fetched::value(Secret::from_text(value.clone()))
        };
        fetched.expires_at = bundle
            .attributes
            .as_ref()
            .and_then(|attributes| attributes.exp)
            .and_then(|exp| u64::try_from(exp).ok())
            .map(|exp| UNIX_EPOCH + Duration::from_secs(exp));
        if fetched.expires_at.is_some_and(|at| at <= SystemTime::now()) {
            tracing::warn!(store = %self.label, location = %what, "the Key Vault secret's expiry date has passed");
        }
        let description = Description { content_type: bundle.content_type.clone(), tags: bundle.tags.clone() };
        Ok((fetched, description))
    }
}

/// Writing: `PUT /secrets/{name}` (Set Secret) adds a new version, or creates the secret; earlier
/// versions stay readable by id. A `key` sets (or deletes) one field of the latest JSON value;
/// deleting without a key deletes the whole secret.
impl AzureStore {
    async fn set_secret(
        &self,
        location: &AzureLocation,
        key: Option<&str>,
        value: &Secret,
    ) -> Result<crate::provider::PutOutcome, ProviderError> {
        let what = location.to_string();
        if location.version.is_some() {
            return Err(ProviderError::Invalid { what, reason: "only the latest version can be written".into() });
        }
        let text = value.expose_str().ok_or_else(|| ProviderError::Invalid {
            what: what.clone(),
            reason: "Key Vault secrets are text: the value is not UTF-8".into(),
        })?;
        let read = self.read_described(&AzureLocation { structured: false, ..location.clone() }).await;
        let (read, description) = match read {
            Ok((fetched, description)) => (Ok(fetched), description),
            Err(error) => (Err(error), Description::default()),
        };
        let current = json_object::existing_document(read);
        let new_value = match key {
            None => {
                let current = current.as_ref().map(|document| document.as_ref().map(Secret::expose));
                json_object::refuse_to_replace_fields(current, &what)?;
                Zeroizing::new(text.to_owned())
            }
            Some(key) => {
                let current = current.map_err(ProviderError::in_read_before_write)?;
                let json = json_object::set_field(current.as_ref().map(Secret::expose), key, text)
                    .map_err(|reason| json_object::not_an_object(what.clone(), JSON_VALUE, &reason))?;
                Zeroizing::new(json_text(json, &what)?)
            }
        };
        self.set_value(location, what, &new_value, &description).await
    }

    /// Set Secret with `new_value` as the secret's new version, described as the last one was.
    async fn set_value(
        &self,
        location: &AzureLocation,
        what: String,
        new_value: &str,
        description: &Description,
    ) -> Result<crate::provider::PutOutcome, ProviderError> {
        let mut url = reqwest::Url::parse(&location.vault_url)
            .map_err(|error| ProviderError::Invalid { what: what.clone(), reason: error.to_string() })?;
        url.set_path(&format!("secrets/{}", location.name));
        url.query_pairs_mut().append_pair("api-version", API_VERSION);
        let resource = resource_for(&url);
        let mut body = serde_json::json!({ "value": new_value });
        if let Some(content_type) = &description.content_type {
            body["contentType"] = content_type.clone().into();
        }
        if let Some(tags) = &description.tags {
            body["tags"] = tags.clone().into();
        }
        let body = Zeroizing::new(body.to_string());
        let token = self.token(&resource).await?;
        let origin = format!("{} ({})", self.label, url.origin().ascii_serialization());
        let request = self
            .http
            .put(url.clone())
            .header(reqwest::header::AUTHORIZATION, cloud::bearer(&token, &origin)?)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(String::clone(&body));
        let response = cloud::send(request, &origin, self.timeout).await?;
        if response.status != StatusCode::OK {
            return Err(status_error(&response, what, Operation::Set));
        }
        let id = serde_json::from_slice::<serde_json::Value>(&response.body)
            .ok()
            .and_then(|bundle| bundle["id"].as_str().map(str::to_owned));
        let version = id.and_then(|id| id.rsplit('/').next().map(str::to_owned));
        Ok(crate::provider::PutOutcome { version, note: None })
    }

    /// With a `key`, a new version of the JSON value without it; without one, Delete Secret
    /// (`DELETE /secrets/{name}`: every version, soft-deleted and recoverable where the vault
    /// has soft delete on, as it has by default).
    async fn remove(
        &self,
        location: &AzureLocation,
        key: Option<&str>,
    ) -> Result<crate::provider::PutOutcome, ProviderError> {
        let what = location.to_string();
        if location.version.is_some() {
            let reason = if key.is_some() {
                "only the latest version can be written"
            } else {
                "Key Vault deletes a secret with all its versions: drop `version`"
            };
            return Err(ProviderError::Invalid { what, reason: reason.into() });
        }
        if let Some(key) = key {
            let (fetched, description) = self
                .read_described(&AzureLocation { structured: false, ..location.clone() })
                .await
                .map_err(ProviderError::in_read_before_write)?;
            let crate::provider::Content::Value(current) = &fetched.content else {
                return Err(json_object::not_an_object(what, JSON_VALUE, "the value was read whole"));
            };
            let json = json_object::remove_field(current.expose(), key)
                .map_err(|error| error.for_store(what.clone(), key, JSON_VALUE))?;
            let new_value = Zeroizing::new(json_text(json, &what)?);
            return self.set_value(location, what, &new_value, &description).await;
        }
        let mut url = reqwest::Url::parse(&location.vault_url)
            .map_err(|error| ProviderError::Invalid { what: what.clone(), reason: error.to_string() })?;
        url.set_path(&format!("secrets/{}", location.name));
        url.query_pairs_mut().append_pair("api-version", API_VERSION);
        let resource = resource_for(&url);
        let token = self.token(&resource).await?;
        let origin = format!("{} ({})", self.label, url.origin().ascii_serialization());
        let request =
            self.http.delete(url.clone()).header(reqwest::header::AUTHORIZATION, cloud::bearer(&token, &origin)?);
        let response = cloud::send(request, &origin, self.timeout).await?;
        if response.status != StatusCode::OK {
            return Err(status_error(&response, what, Operation::Delete));
        }
        tracing::debug!(store = %self.label, location = %what, "deleted a Key Vault secret");
        Ok(crate::provider::PutOutcome::default())
    }
}

/// The token audience for a vault: `https://vault.azure.net` for `NAME.vault.azure.net`, the
/// sovereign clouds' own (`vault.azure.cn`, `vault.usgovcloudapi.net`) and Managed HSM's likewise;
/// the public cloud's for anything else (a private endpoint's IP, a test's loopback).
fn resource_for(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match host.split_once('.') {
        Some((_, rest)) if rest.starts_with("vault.") || rest.starts_with("managedhsm.") => format!("https://{rest}"),
        _ => DEFAULT_RESOURCE.to_owned(),
    }
}

/// The `authorization` and `resource` of a `WWW-Authenticate: Bearer …` challenge.
fn challenge(response: &Response) -> Option<String> {
    let header = response.headers.get(reqwest::header::WWW_AUTHENTICATE)?.to_str().ok()?;
    let parameters = header.strip_prefix("Bearer")?;
    let value = |name: &str| {
        parameters.split(',').find_map(|part| {
            let (key, value) = part.trim().split_once('=')?;
            (key.trim() == name).then(|| value.trim().trim_matches('"').to_owned())
        })
    };
    let authorization = value("authorization").or_else(|| value("authorization_uri"))?;
    Some(match value("resource").or_else(|| value("scope")) {
        Some(resource) => format!("the vault wants a token from {authorization} for {resource}"),
        None => format!("the vault wants a token from {authorization}"),
    })
}

/// Maps an unexpected status to the error an operator can act on; a refusal names what
/// `operation` needs.
fn status_error(response: &Response, what: String, operation: Operation) -> ProviderError {
    let error = KeyVaultError::parse(&response.body);
    let message = error.text(response.status);
    match response.status {
        StatusCode::NOT_FOUND => ProviderError::NotFound { what },
        // A disabled secret: no role reads it, and nothing is refused the caller. Not "not
        // found" either: a write of one key would take that for no secret yet.
        StatusCode::FORBIDDEN if error.innererror.as_ref().is_some_and(|inner| inner.code == "SecretDisabled") => {
            ProviderError::Invalid { what, reason: format!("the secret is disabled ({message}); enable it first") }
        }
        // Set Secret on a name whose deleted secret soft delete still keeps.
        StatusCode::CONFLICT
            if error.innererror.as_ref().is_some_and(|inner| inner.code == "ObjectIsDeletedButRecoverable") =>
        {
            ProviderError::WriteRefused {
                what,
                reason: format!(
                    "a deleted secret of that name is kept for recovery ({message}): recover it (`az keyvault secret \
                     recover`) or purge it first"
                ),
            }
        }
        StatusCode::FORBIDDEN => {
            let (action, role, permission) = operation.needs();
            let reason = format!(
                "{message} (the caller needs `{action}`, e.g. the {role} role, or an access policy allowing secrets \
                 {permission})"
            );
            ProviderError::PermissionDenied { what, reason }
        }
        StatusCode::UNAUTHORIZED => {
            let reason = match challenge(response) {
                Some(challenge) => format!("the token was refused: {message}; {challenge}"),
                None => format!("the token was refused: {message}"),
            };
            ProviderError::PermissionDenied { what, reason }
        }
        _ => cloud::unexpected_status(response, what, &message),
    }
}

impl Provider for AzureStore {
    fn kind(&self) -> ProviderKind {
        ProviderKind::AzureKeyVault
    }

    fn store(&self) -> StoreRef {
        self.store.clone()
    }

    fn fetch<'a>(&'a self, location: &'a Location) -> BoxFuture<'a, Result<Fetched, ProviderError>> {
        Box::pin(async move {
            let location = location.own();
            self.read(location).await
        })
    }

    fn put<'a>(
        &'a self,
        location: &'a Location,
        key: Option<&'a str>,
        value: &'a Secret,
    ) -> BoxFuture<'a, Result<crate::provider::PutOutcome, ProviderError>> {
        Box::pin(async move {
            let location = location.own();
            self.set_secret(location, key, value).await
        })
    }

    fn delete<'a>(
        &'a self,
        location: &'a Location,
        key: Option<&'a str>,
    ) -> BoxFuture<'a, Result<crate::provider::PutOutcome, ProviderError>> {
        Box::pin(async move {
            let location = location.own();
            self.remove(location, key).await
        })
    }
}

/// A JSON document serde_json wrote, as the text a Key Vault value is (it is always UTF-8).
fn json_text(json: Zeroizing<Vec<u8>>, what: &str) -> Result<String, ProviderError> {
    String::from_utf8(json.to_vec())
        .map_err(|_| ProviderError::Invalid { what: what.to_owned(), reason: "the new value is not UTF-8".into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_audience_follows_the_vaults_cloud() {
        let cases = [
            ("https://prod.vault.azure.net/secrets/x", "https://vault.azure.net"),
            ("https://prod.vault.azure.cn/secrets/x", "https://vault.azure.cn"),
            ("https://prod.vault.usgovcloudapi.net/secrets/x", "https://vault.usgovcloudapi.net"),
            ("https://hsm.managedhsm.azure.net/secrets/x", "https://managedhsm.azure.net"),
            ("http://127.0.0.1:8443/secrets/x", "https://vault.azure.net"),
        ];
        for (url, resource) in cases {
            assert_eq!(resource_for(&reqwest::Url::parse(url).unwrap()), resource, "{url}");
        }
    }

    #[test]
    fn a_challenge_names_the_authority_and_resource() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::WWW_AUTHENTICATE,
            "Bearer authorization=\"https://login.microsoftonline.com/72f988bf\", resource=\"https://vault.azure.net\""
                .parse()
                .unwrap(),
        );
        let body =
            br#"{"error":{"code":"Unauthorized","message":"AKV10000: Request is missing a Bearer or PoP token."}}"#;
        let response = Response { status: StatusCode::UNAUTHORIZED, headers, body: Zeroizing::new(body.to_vec()) };
        let error = status_error(&response, "azure key vault secret x".into(), Operation::Get).to_string();
        assert!(error.contains("Unauthorized: AKV10000"), "{error}");
        assert!(
            error.contains("from https://login.microsoftonline.com/72f988bf for https://vault.azure.net"),
            "{error}"
        );
    }

    #[test]
    fn forbidden_names_the_action_unless_the_secret_is_disabled() {
        let cases = [
            (
                r#"{"error":{"code":"Forbidden","message":"Caller is not authorized to perform action on resource.","innererror":{"code":"ForbiddenByRbac"}}}"#,
                true,
            ),
            (
                r#"{"error":{"code":"Forbidden","message":"Operation get is not allowed on a disabled secret.","innererror":{"code":"SecretDisabled"}}}"#,
                false,
            ),
        ];
        for (body, names_action) in cases {
            let response = Response {
                status: StatusCode::FORBIDDEN,
                headers: Default::default(),
                body: Zeroizing::new(body.as_bytes().to_vec()),
            };
            let error = status_error(&response, "x".into(), Operation::Get).to_string();
            assert_eq!(error.contains(GET_SECRET_ACTION), names_action, "{error}");
        }
        // A write refused names what writing needs, not what reading does.
        let response = Response {
            status: StatusCode::FORBIDDEN,
            headers: Default::default(),
            body: Zeroizing::new(cases[0].0.as_bytes().to_vec()),
        };
        let error = status_error(&response, "x".into(), Operation::Set).to_string();
        assert!(
            error.contains(
                "`Microsoft.KeyVault/vaults/secrets/setSecret/action`, e.g. the Key Vault Secrets Officer role"
            ) && error.ends_with("allowing secrets set)"),
            "{error}"
        );
    }
}
