//! The `gcp_secret_manager` client (cargo feature `gcp`): one per store, with its keep-alive HTTP
//! pool and one access token shared by every fetch, replaced shortly before it expires.
//!
//! Credentials follow Google's application-default order: the store's `credentials_file`, else
//! `GOOGLE_APPLICATION_CREDENTIALS`, else gcloud's `application_default_credentials.json`, else
//! the metadata server. A service-account key is turned into a token as Google documents it
//! (an RS256-signed JWT assertion posted to the key's `token_uri`, RFC 7523); an authorized-user
//! file (from `gcloud auth application-default login`) through its refresh token.
//!
//! We do this ourselves rather than through `gcp_auth` or `google-cloud-auth`: both bring their own
//! HTTP stack and hard-wire the token and metadata endpoints, where this store needs its one pool,
//! endpoints a test can point at a fake, and errors mapped to `ProviderError`. The flow is two
//! small documented requests; the signature is ring's (already here for rustls), so no second RSA
//! implementation (`rsa`, aws-lc-rs, OpenSSL) is linked.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use futures_util::future::BoxFuture;
use reqwest::StatusCode;
use serde::Deserialize;
use zeroize::{Zeroize, Zeroizing};

use super::{DEFAULT_ENDPOINT, GcpLocation, StoreSettings};
use crate::provider::cloud::{self, Response, Token, TokenResponse};
use crate::provider::json_object;
use crate::provider::{Fetched, Location, Provider, ProviderError, ProviderKind, StoreRef};
use crate::secret::Secret;

const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
const DEFAULT_METADATA_URL: &str = "http://metadata.google.internal";
const METADATA_TOKEN_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/token";
/// Google accepts assertions valid for at most an hour.
const ASSERTION_LIFETIME_SECS: u64 = 3600;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// What a `key` needs the payload to be, for messages.
const JSON_PAYLOAD: &str = "a JSON object payload";
/// What an operator needs to read a version (roles/secretmanager.secretAccessor has it).
const ACCESS_PERMISSION: &str = "secretmanager.versions.access";

/// Where the store's access tokens come from.
enum Credentials {
    /// A service-account key or authorized-user JSON file, re-read at each token request so a
    /// rotated key is picked up.
    File { path: PathBuf, from: &'static str },
    /// The GCE/GKE metadata server at this base URL.
    Metadata(reqwest::Url),
}

/// For the debug log: a metadata URL without any userinfo written into it.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File { path, from } => f.debug_struct("File").field("path", path).field("from", from).finish(),
            Self::Metadata(url) => f.debug_tuple("Metadata").field(&crate::redact::url(url.as_str())).finish(),
        }
    }
}

/// One Secret Manager store: its endpoint, credentials, connection pool and token.
pub struct GcpStore {
    /// For messages: `store prod`, `the default gcp_secret_manager store`.
    label: String,
    store: StoreRef,
    endpoint: reqwest::Url,
    /// For Secret Manager and Google's token endpoint: through the environment's proxy.
    http: reqwest::Client,
    /// For the metadata server (with [`Credentials::Metadata`]): never through a proxy.
    metadata_http: Option<reqwest::Client>,
    timeout: Duration,
    credentials: Credentials,
    token_url: Option<reqwest::Url>,
    token: tokio::sync::Mutex<Option<(Token, Option<String>)>>,
    token_failure: cloud::TokenFailure,
}

impl std::fmt::Debug for GcpStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcpStore")
            .field("store", &self.label)
            .field("endpoint", &self.endpoint.as_str())
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// A credentials JSON file; only the fields used. Secrets in it are wiped on drop.
#[derive(Deserialize)]
struct CredentialsFile {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    client_email: String,
    #[serde(default)]
    private_key: String,
    #[serde(default)]
    private_key_id: String,
    #[serde(default)]
    token_uri: Option<String>,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    refresh_token: String,
    #[serde(default)]
    quota_project_id: Option<String>,
}

impl Drop for CredentialsFile {
    fn drop(&mut self) {
        self.private_key.zeroize();
        self.client_secret.zeroize();
        self.refresh_token.zeroize();
    }
}

/// `versions.access`'s response; the payload is wiped on drop.
#[derive(Deserialize)]
struct AccessResponse {
    #[serde(default)]
    name: String,
    #[serde(default)]
    payload: Option<Payload>,
}

#[derive(Deserialize)]
struct Payload {
    /// Base64 (proto3 JSON `bytes`); absent for an empty payload.
    #[serde(default)]
    data: String,
    /// An int64, so a JSON string; a number is accepted too.
    #[serde(rename = "dataCrc32c", default)]
    data_crc32c: Option<serde_json::Value>,
}

impl Drop for Payload {
    fn drop(&mut self) {
        self.data.zeroize();
    }
}

/// Google's error envelope (`google.rpc.Status` in JSON).
#[derive(Deserialize, Default)]
struct GoogleError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    details: Vec<serde_json::Value>,
}

impl GoogleError {
    fn parse(body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct Envelope {
            error: GoogleError,
        }
        serde_json::from_slice::<Envelope>(body).map(|envelope| envelope.error).unwrap_or_default()
    }

    /// The message, or the HTTP status when the body had none.
    fn text(&self, status: StatusCode) -> String {
        if self.message.is_empty() { format!("HTTP {status}") } else { cloud::shorten(&self.message) }
    }

    /// The permission an `ErrorInfo` detail names (`IAM_PERMISSION_DENIED`).
    fn permission(&self) -> Option<&str> {
        self.details.iter().find_map(|detail| detail.pointer("/metadata/permission")?.as_str())
    }

    /// The `reason` of an `ErrorInfo` detail (`SERVICE_DISABLED`, `IAM_PERMISSION_DENIED`).
    fn reason(&self) -> Option<&str> {
        self.details.iter().find_map(|detail| detail.get("reason")?.as_str())
    }
}

impl GcpStore {
    /// Builds the store's client. No request is made, and no credentials file read, until the
    /// first fetch.
    pub fn new(store: StoreRef, settings: &StoreSettings, max_concurrency: usize) -> Result<Self, String> {
        let label = match &store {
            StoreRef::Named(name) => format!("store `{name}`"),
            StoreRef::Default | StoreRef::Address(_) => "the default gcp_secret_manager store".to_owned(),
        };
        let mut endpoint =
            cloud::parse_url(&label, "endpoint", settings.endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT))?;
        if !endpoint.path().ends_with('/') {
            let path = format!("{}/", endpoint.path());
            endpoint.set_path(&path);
        }
        let token_url =
            settings.token_url.as_deref().map(|url| cloud::parse_url(&label, "token_url", url)).transpose()?;
        let credentials = match &settings.credentials_file {
            Some(path) => Credentials::File { path: path.clone(), from: "credentials_file" },
            None => application_default(&label, settings.metadata_url.as_deref())?,
        };
        tracing::debug!(store = %label, ?credentials, "gcp_secret_manager credentials");
        let timeout = settings.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let http = cloud::http_client(&label, timeout, max_concurrency, cloud::Proxy::FromEnvironment)?;
        let metadata_http = match &credentials {
            Credentials::Metadata(_) => Some(cloud::http_client(&label, timeout, 1, cloud::Proxy::Never)?),
            Credentials::File { .. } => None,
        };
        Ok(Self {
            label,
            store,
            endpoint,
            http,
            metadata_http,
            timeout,
            credentials,
            token_url,
            token: tokio::sync::Mutex::new(None),
            token_failure: cloud::TokenFailure::default(),
        })
    }

    /// The access token to send now (and the quota project of user credentials): the cached
    /// one while fresh, else a new one. Concurrent fetches wait for the one token request, and
    /// take its error if it fails (see [`cloud::TokenFailure`]).
    async fn token(&self) -> Result<(Secret, Option<String>), ProviderError> {
        let asked = std::time::Instant::now();
        let mut cached = self.token.lock().await;
        if let Some((token, quota)) = cached.as_ref().filter(|(token, _)| token.fresh()) {
            return Ok((token.secret.clone(), quota.clone()));
        }
        if let Some(error) = self.token_failure.since(asked) {
            return Err(error);
        }
        let requested = match &self.credentials {
            Credentials::File { path, from } => self.token_from_file(path, from).await,
            Credentials::Metadata(base) => self.token_from_metadata(base).await.map(|token| (token, None)),
        };
        self.token_failure.record(&requested);
        let (token, quota) = requested?;
        let result = (token.secret.clone(), quota.clone());
        *cached = Some((token, quota));
        Ok(result)
    }

    /// Forgets `token` if it is still the current one.
    async fn invalidate(&self, token: &Secret) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|(current, _)| current.secret == *token) {
            *cached = None;
        }
    }

    async fn token_from_file(&self, path: &Path, from: &str) -> Result<(Token, Option<String>), ProviderError> {
        let what = format!("{} credentials file {} (from {from})", self.label, path.display());
        let bytes = crate::provider::file::read_regular_file(path).map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => ProviderError::NotFound { what: what.clone() },
            std::io::ErrorKind::PermissionDenied => {
                ProviderError::PermissionDenied { what: what.clone(), reason: error.to_string() }
            }
            _ => ProviderError::Invalid { what: what.clone(), reason: error.to_string() },
        })?;
        // serde_json's messages can quote a value: say where, not what.
        let file: CredentialsFile = serde_json::from_slice(&bytes).map_err(|error| ProviderError::Invalid {
            what: what.clone(),
            reason: format!("not a Google credentials JSON file ({})", crate::provider::json_error_position(&error)),
        })?;
        let invalid = |reason: String| ProviderError::Invalid { what: what.clone(), reason };
        let (token_url, body) = match file.kind.as_str() {
            "service_account" => {
                let token_url = match (&self.token_url, &file.token_uri) {
                    (Some(url), _) => url.clone(),
                    (None, Some(uri)) => cloud::parse_url(&what, "token_uri", uri).map_err(invalid)?,
                    (None, None) => reqwest::Url::parse(DEFAULT_TOKEN_URL).expect("a valid URL"),
                };
                if file.client_email.is_empty() {
                    return Err(invalid("the service-account key has no `client_email`".into()));
                }
                let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
                let assertion = sign_assertion(&file, token_url.as_str(), now).map_err(invalid)?;
                let body = form_urlencoded::Serializer::new(String::new())
                    .append_pair("grant_type", JWT_BEARER)
                    .append_pair("assertion", &assertion)
                    .finish();
                (token_url, body)
            }
            "authorized_user" => {
                let token_url =
                    self.token_url.clone().unwrap_or_else(|| reqwest::Url::parse(DEFAULT_TOKEN_URL).expect("valid"));
                if file.refresh_token.is_empty() || file.client_id.is_empty() {
                    return Err(invalid("the authorized-user file has no `refresh_token` or `client_id`".into()));
                }
                let body = form_urlencoded::Serializer::new(String::new())
                    .append_pair("grant_type", "refresh_token")
                    .append_pair("client_id", &file.client_id)
                    .append_pair("client_secret", &file.client_secret)
                    .append_pair("refresh_token", &file.refresh_token)
                    .finish();
                (token_url, body)
            }
            other => {
                return Err(invalid(format!(
                    "credentials of type {other:?} are not supported (service_account or authorized_user)"
                )));
            }
        };
        let body = Zeroizing::new(body);
        let what = format!("{} token request to {token_url}", self.label);
        let request =
            self.http.post(token_url).header(reqwest::header::CONTENT_TYPE, cloud::FORM).body(body.as_bytes().to_vec());
        let response = cloud::send(request, &what, self.timeout).await?;
        if response.status != StatusCode::OK {
            return Err(cloud::token_error(&response, what));
        }
        let token = TokenResponse::parse(&response.body, &what)?;
        tracing::debug!(store = %self.label, kind = %file.kind, "obtained a Google access token");
        Ok((token, file.quota_project_id.clone()))
    }

    async fn token_from_metadata(&self, base: &reqwest::Url) -> Result<Token, ProviderError> {
        let url = base.join(METADATA_TOKEN_PATH).map_err(|error| ProviderError::Invalid {
            what: format!("{} metadata server {}", self.label, crate::redact::url(base.as_str())),
            reason: error.to_string(),
        })?;
        let what = format!("{} metadata server token at {}", self.label, crate::redact::url(url.as_str()));
        let http = self.metadata_http.as_ref().unwrap_or(&self.http);
        let request = http.get(url).header("Metadata-Flavor", "Google");
        // Off GCP the metadata address refuses, or drops packets until the timeout.
        const NOT_ON_GCP: &str = "no credentials_file or GOOGLE_APPLICATION_CREDENTIALS, and not on GCP: the \
                                  metadata server is the last resort of application default credentials";
        let response = cloud::send(request, &what, self.timeout).await.map_err(|error| match error {
            ProviderError::Unreachable { what, reason } => {
                ProviderError::Unreachable { what, reason: format!("{reason} ({NOT_ON_GCP})") }
            }
            ProviderError::Timeout { what, after } => {
                ProviderError::Timeout { what: format!("{what} ({NOT_ON_GCP})"), after }
            }
            other => other,
        })?;
        match response.status {
            StatusCode::OK => {}
            status if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS => {
                return Err(cloud::service_trouble(&response, what));
            }
            status => {
                let text = String::from_utf8_lossy(&response.body);
                let reason = if text.len() < 300 && !text.contains("access_token") {
                    format!("HTTP {status}: {}", cloud::shorten(&text))
                } else {
                    format!("HTTP {status}")
                };
                return Err(ProviderError::PermissionDenied { what, reason });
            }
        }
        // Anything else answering on that address is not a metadata server.
        if response.headers.get("Metadata-Flavor").is_none_or(|flavor| flavor != "Google") {
            return Err(ProviderError::Invalid {
                what,
                reason: "the response lacks `Metadata-Flavor: Google`; this is not a GCE metadata server".into(),
            });
        }
        let token = TokenResponse::parse(&response.body, &what)?;
        tracing::debug!(store = %self.label, "obtained an access token from the metadata server");
        Ok(token)
    }

    /// One `versions.access` request with `token`.
    async fn get(&self, url: &reqwest::Url, token: &Secret, quota: Option<&str>) -> Result<Response, ProviderError> {
        let what = format!("{} ({})", self.label, self.endpoint.origin().ascii_serialization());
        let mut request =
            self.http.get(url.clone()).header(reqwest::header::AUTHORIZATION, cloud::bearer(token, &what)?);
        if let Some(quota) = quota {
            request = request.header("x-goog-user-project", quota);
        }
        cloud::send(request, &what, self.timeout).await
    }

    async fn access(&self, location: &GcpLocation) -> Result<Fetched, ProviderError> {
        let what = location.to_string();
        let url = self.endpoint.join(&format!("v1/{}:access", location.resource())).map_err(|error| {
            ProviderError::Invalid { what: what.clone(), reason: format!("cannot build the request URL: {error}") }
        })?;
        let (token, quota) = self.token().await?;
        let mut response = self.get(&url, &token, quota.as_deref()).await?;
        if response.status == StatusCode::UNAUTHORIZED {
            // The token was revoked or expired early: one new token and one retry.
            tracing::info!(store = %self.label, "the access token was refused: getting a new one and retrying once");
            self.invalidate(&token).await;
            let (token, quota) = self.token().await?;
            response = self.get(&url, &token, quota.as_deref()).await?;
        }
        if response.status != StatusCode::OK {
            return Err(status_error(&response, what, ACCESS_PERMISSION));
        }
        let parsed: AccessResponse =
            serde_json::from_slice(&response.body).map_err(|error| ProviderError::Invalid {
                what: what.clone(),
                reason: format!("not a versions.access response ({})", crate::provider::json_error_position(&error)),
            })?;
        let payload = parsed.payload.as_ref().ok_or_else(|| ProviderError::Invalid {
            what: what.clone(),
            reason: "the response has no `payload`".into(),
        })?;
        let bytes = decode_payload(&payload.data)
            .map_err(|reason| ProviderError::Invalid { what: what.clone(), reason: reason.to_owned() })?;
        check_crc32c(&bytes, payload.data_crc32c.as_ref())
            .map_err(|reason| ProviderError::Invalid { what: what.clone(), reason })?;
        tracing::debug!(store = %self.label, version = %parsed.name, "accessed a Secret Manager version");
        if !location.structured {
            return Ok(Fetched::value(Secret::new(bytes.to_vec())));
        }
        json_object::fields(&bytes)
            .map(Fetched::fields)
            .map_err(|reason| json_object::not_an_object(what, JSON_PAYLOAD, &reason))
    }
}

/// Writing: `secrets.addVersion` (creating the secret with automatic replication when it does not
/// exist); earlier versions stay readable. A `key` sets (or deletes) one field of the latest JSON
/// payload; deleting without a key destroys one version.
impl GcpStore {
    async fn post(&self, url: &reqwest::Url, body: &serde_json::Value) -> Result<Response, ProviderError> {
        let what = format!("{} ({})", self.label, self.endpoint.origin().ascii_serialization());
        let (token, quota) = self.token().await?;
        let mut request = self
            .http
            .post(url.clone())
            .header(reqwest::header::AUTHORIZATION, cloud::bearer(&token, &what)?)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(quota) = quota {
            request = request.header("x-goog-user-project", quota);
        }
        cloud::send(request, &what, self.timeout).await
    }

    fn url(&self, path: &str, what: &str) -> Result<reqwest::Url, ProviderError> {
        self.endpoint.join(path).map_err(|error| ProviderError::Invalid {
            what: what.to_owned(),
            reason: format!("cannot build the request URL: {error}"),
        })
    }

    async fn add_version(
        &self,
        location: &GcpLocation,
        key: Option<&str>,
        value: &Secret,
    ) -> Result<crate::provider::PutOutcome, ProviderError> {
        let what = location.to_string();
        if location.version != super::LATEST {
            return Err(ProviderError::Invalid { what, reason: "only the latest version can be written".into() });
        }
        let current =
            json_object::existing_document(self.access(&GcpLocation { structured: false, ..location.clone() }).await);
        let payload = match key {
            None => {
                let current = current.as_ref().map(|document| document.as_ref().map(Secret::expose));
                json_object::refuse_to_replace_fields(current, &what)?;
                Zeroizing::new(value.expose().to_vec())
            }
            Some(key) => {
                let text = value.expose_str().ok_or_else(|| ProviderError::Invalid {
                    what: what.clone(),
                    reason: "a field of a JSON payload must be UTF-8 text".into(),
                })?;
                let current = current.map_err(ProviderError::in_read_before_write)?;
                json_object::set_field(current.as_ref().map(Secret::expose), key, text)
                    .map_err(|reason| json_object::not_an_object(what.clone(), JSON_PAYLOAD, &reason))?
            }
        };
        self.append(location, what, &payload).await
    }

    /// `secrets.addVersion` with `payload`, creating the secret when it does not exist.
    async fn append(
        &self,
        location: &GcpLocation,
        what: String,
        payload: &[u8],
    ) -> Result<crate::provider::PutOutcome, ProviderError> {
        let secret = format!("projects/{}/secrets/{}", location.project, location.secret);
        let body = serde_json::json!({"payload": {
            "data": base64::engine::general_purpose::STANDARD.encode(payload),
            "dataCrc32c": crc32c::crc32c(payload).to_string(),
        }});
        let add = self.url(&format!("v1/{secret}:addVersion"), &what)?;
        let mut response = self.post(&add, &body).await?;
        if response.status == StatusCode::NOT_FOUND {
            let mut create = self.url(&format!("v1/projects/{}/secrets", location.project), &what)?;
            create.query_pairs_mut().append_pair("secretId", &location.secret);
            let created = self.post(&create, &serde_json::json!({"replication": {"automatic": {}}})).await?;
            if created.status != StatusCode::OK {
                return Err(status_error(&created, what, "secretmanager.secrets.create"));
            }
            response = self.post(&add, &body).await?;
        }
        if response.status != StatusCode::OK {
            return Err(status_error(&response, what, "secretmanager.versions.add"));
        }
        let name = serde_json::from_slice::<serde_json::Value>(&response.body)
            .ok()
            .and_then(|version| version["name"].as_str().map(str::to_owned));
        let version = name.and_then(|name| name.rsplit('/').next().map(str::to_owned));
        Ok(crate::provider::PutOutcome { version, note: None })
    }

    /// With a `key`, a new version of the JSON payload without it; without one, `versions.disable`
    /// of the location's version (`latest` resolved to its number first, by `versions.get`):
    /// undone by `versions.enable`, as Vault's soft delete and AWS's scheduled deletion can be,
    /// where `versions.destroy` would be for good.
    async fn remove(
        &self,
        location: &GcpLocation,
        key: Option<&str>,
    ) -> Result<crate::provider::PutOutcome, ProviderError> {
        let what = location.to_string();
        if let Some(key) = key {
            if location.version != super::LATEST {
                return Err(ProviderError::Invalid { what, reason: "only the latest version can be written".into() });
            }
            let fetched = self
                .access(&GcpLocation { structured: false, ..location.clone() })
                .await
                .map_err(ProviderError::in_read_before_write)?;
            let crate::provider::Content::Value(current) = &fetched.content else {
                return Err(json_object::not_an_object(what, JSON_PAYLOAD, "the payload was read whole"));
            };
            let payload = json_object::remove_field(current.expose(), key)
                .map_err(|error| error.for_store(what.clone(), key, JSON_PAYLOAD))?;
            return self.append(location, what, &payload).await;
        }
        let number = if location.version.bytes().all(|byte| byte.is_ascii_digit()) {
            location.version.clone()
        } else {
            let url = self.url(&format!("v1/{}", location.resource()), &what)?;
            let (token, quota) = self.token().await?;
            let response = self.get(&url, &token, quota.as_deref()).await?;
            if response.status != StatusCode::OK {
                return Err(status_error(&response, what, "secretmanager.versions.get"));
            }
            let version = serde_json::from_slice::<serde_json::Value>(&response.body).unwrap_or_default();
            let number = version["name"]
                .as_str()
                .and_then(|name| name.rsplit('/').next())
                .filter(|number| !number.is_empty() && number.bytes().all(|byte| byte.is_ascii_digit()))
                .ok_or_else(|| ProviderError::Invalid {
                    what: what.clone(),
                    reason: "the versions.get response has no numbered `name`".into(),
                })?
                .to_owned();
            // Already gone, as Vault says of a deleted latest version: not found (exit 4).
            if let Some(state @ ("DISABLED" | "DESTROYED")) = version["state"].as_str() {
                return Err(ProviderError::NotFound {
                    what: format!("{what} (its latest version, {number}, is already {})", state.to_ascii_lowercase()),
                });
            }
            number
        };
        let disable = self.url(
            &format!("v1/projects/{}/secrets/{}/versions/{number}:disable", location.project, location.secret),
            &what,
        )?;
        let response = self.post(&disable, &serde_json::json!({})).await?;
        if response.status != StatusCode::OK {
            return Err(status_error(&response, what, "secretmanager.versions.disable"));
        }
        tracing::debug!(store = %self.label, version = %number, "disabled a Secret Manager version");
        Ok(crate::provider::PutOutcome {
            note: Some(format!(
                "disabled version {number}: `gcloud secrets versions enable {number} --secret {} --project {}` brings it \
                 back",
                location.secret, location.project
            )),
            ..crate::provider::PutOutcome::default()
        })
    }
}

/// Application default credentials without a `credentials_file`.
fn application_default(label: &str, metadata_url: Option<&str>) -> Result<Credentials, String> {
    let env = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty()).map(PathBuf::from);
    if let Some(path) = env("GOOGLE_APPLICATION_CREDENTIALS") {
        return Ok(Credentials::File { path, from: "GOOGLE_APPLICATION_CREDENTIALS" });
    }
    let gcloud = env("CLOUDSDK_CONFIG").or_else(|| env("HOME").map(|home| home.join(".config/gcloud")));
    if let Some(file) = gcloud.map(|dir| dir.join("application_default_credentials.json"))
        && file.is_file()
    {
        return Ok(Credentials::File { path: file, from: "gcloud's application default credentials" });
    }
    let base = match (metadata_url, std::env::var("GCE_METADATA_HOST").ok().filter(|host| !host.is_empty())) {
        (Some(url), _) => url.to_owned(),
        (None, Some(host)) => format!("http://{host}"),
        (None, None) => DEFAULT_METADATA_URL.to_owned(),
    };
    cloud::parse_url(label, "metadata_url", &base).map(Credentials::Metadata)
}

/// The signed JWT a service account presents (header and claims as Google documents for
/// "Preparing to make an authorized API call" without a client library).
fn sign_assertion(file: &CredentialsFile, audience: &str, now: u64) -> Result<Zeroizing<String>, String> {
    use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
    use rustls::pki_types::PrivatePkcs8KeyDer;
    use rustls::pki_types::pem::PemObject as _;

    let base64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = serde_json::json!({ "alg": "RS256", "typ": "JWT", "kid": file.private_key_id });
    let claims = serde_json::json!({
        "iss": file.client_email,
        "scope": SCOPE,
        "aud": audience,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME_SECS,
    });
    let mut jwt = Zeroizing::new(format!(
        "{}.{}",
        base64.encode(header.to_string().as_bytes()),
        base64.encode(claims.to_string().as_bytes())
    ));
    let der = PrivatePkcs8KeyDer::from_pem_slice(file.private_key.as_bytes())
        .map_err(|_| "the key's `private_key` is not a PEM PKCS#8 private key".to_owned())?;
    let pair = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
        .map_err(|error| format!("the key's `private_key` is not a usable RSA key ({error})"))?;
    let mut signature = vec![0; pair.public().modulus_len()];
    pair.sign(&RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), jwt.as_bytes(), &mut signature)
        .map_err(|_| "cannot sign the JWT assertion".to_owned())?;
    jwt.push('.');
    jwt.push_str(&base64.encode(&signature));
    Ok(jwt)
}

/// Decodes proto3 JSON `bytes`: standard base64 with padding, though URL-safe and unpadded forms
/// are valid too.
fn decode_payload(data: &str) -> Result<Zeroizing<Vec<u8>>, &'static str> {
    use base64::alphabet::{STANDARD, URL_SAFE};
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

    let config = GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let alphabet = if data.contains(['-', '_']) { &URL_SAFE } else { &STANDARD };
    GeneralPurpose::new(alphabet, config)
        .decode(data)
        .map(Zeroizing::new)
        .map_err(|_| "the payload's `data` is not base64")
}

/// Compares the payload with the CRC32C checksum Secret Manager sent, when it sent one.
fn check_crc32c(bytes: &[u8], expected: Option<&serde_json::Value>) -> Result<(), String> {
    let expected = match expected {
        None | Some(serde_json::Value::Null) => return Ok(()),
        Some(serde_json::Value::String(text)) => text.parse::<u64>().ok(),
        Some(serde_json::Value::Number(number)) => number.as_u64(),
        Some(_) => None,
    };
    let Some(expected) = expected else { return Err("the payload's `dataCrc32c` is not a number".into()) };
    let actual = u64::from(crc32c::crc32c(bytes));
    if actual == expected {
        Ok(())
    } else {
        Err(format!(
            "the payload's CRC32C checksum is {actual}, but the response says {expected}: it was corrupted on the way"
        ))
    }
}

/// The predefined role that grants `permission` with the least else (Google's "Secret Manager
/// roles" reference).
fn role_granting(permission: &str) -> &'static str {
    match permission {
        ACCESS_PERMISSION => "the Secret Manager Secret Accessor role",
        "secretmanager.versions.add" => "the Secret Manager Secret Version Adder role",
        "secretmanager.versions.get" | "secretmanager.versions.destroy" => {
            "the Secret Manager Secret Version Manager role"
        }
        _ => "the Secret Manager Admin role",
    }
}

/// Maps an unexpected status to the error an operator can act on; `needs` is the permission the
/// request takes, named on a 403 when Google's answer does not name one.
fn status_error(response: &Response, what: String, needs: &str) -> ProviderError {
    let error = GoogleError::parse(&response.body);
    let message = error.text(response.status);
    match response.status {
        StatusCode::NOT_FOUND => ProviderError::NotFound { what },
        // The API not enabled in the project: no role helps. Google's message says where to
        // enable it.
        StatusCode::FORBIDDEN if error.reason() == Some("SERVICE_DISABLED") => {
            ProviderError::PermissionDenied { what, reason: message }
        }
        StatusCode::FORBIDDEN => {
            let permission = error.permission().unwrap_or(needs);
            let role = role_granting(permission);
            ProviderError::PermissionDenied {
                what,
                reason: format!("{message} (the caller needs `{permission}`, e.g. {role})"),
            }
        }
        StatusCode::UNAUTHORIZED => {
            ProviderError::PermissionDenied { what, reason: format!("the access token was refused: {message}") }
        }
        // A disabled or destroyed version (`latest` is the newest, whatever its state). Not
        // "not found": a write with `key` would take that for no secret yet, and add a version
        // holding that one field, losing the others.
        StatusCode::BAD_REQUEST
            if error.status == "FAILED_PRECONDITION"
                && (message.contains("DISABLED") || message.contains("DESTROYED")) =>
        {
            ProviderError::Invalid {
                what,
                reason: format!("the version is disabled or destroyed ({message}); enable it, or add a new version"),
            }
        }
        // Another precondition (an organization policy's allowed locations, a customer-managed
        // key that cannot be used): Google's words.
        StatusCode::BAD_REQUEST if error.status == "FAILED_PRECONDITION" => {
            ProviderError::Invalid { what, reason: format!("FAILED_PRECONDITION: {message}") }
        }
        _ => cloud::unexpected_status(response, what, &message),
    }
}

impl Provider for GcpStore {
    fn kind(&self) -> ProviderKind {
        ProviderKind::GcpSecretManager
    }

    fn store(&self) -> StoreRef {
        self.store.clone()
    }

    fn fetch<'a>(&'a self, location: &'a Location) -> BoxFuture<'a, Result<Fetched, ProviderError>> {
        Box::pin(async move {
            let location = location.own();
            self.access(location).await
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
            self.add_version(location, key, value).await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_is_checked_when_sent() {
        // The check value of CRC-32C (Castagnoli).
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
        let cases: [(Option<serde_json::Value>, bool); 5] = [
            (None, true),
            (Some(serde_json::json!("3808858755")), true),
            (Some(serde_json::json!(3_808_858_755_u64)), true),
            (Some(serde_json::json!("3808858756")), false),
            (Some(serde_json::json!("x")), false),
        ];
        for (expected, ok) in cases {
            assert_eq!(check_crc32c(b"123456789", expected.as_ref()).is_ok(), ok, "{expected:?}");
        }
    }

    #[test]
    fn payloads_decode_in_every_base64_form() {
        for data in ["aGk/Pz8=", "aGk/Pz8", "aGk_Pz8=", "aGk_Pz8"] {
            assert_eq!(decode_payload(data).unwrap().as_slice(), b"hi???", "{data}");
        }
        assert_eq!(decode_payload("").unwrap().as_slice(), b"");
        assert!(decode_payload("not base64!").is_err());
    }

    #[test]
    fn google_errors_name_the_permission() {
        let body = br#"{"error":{"code":403,"message":"Permission 'secretmanager.versions.access' denied for resource 'projects/p/secrets/s/versions/latest' (or it may not exist).","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"IAM_PERMISSION_DENIED","domain":"secretmanager.googleapis.com","metadata":{"permission":"secretmanager.versions.access"}}]}}"#;
        let response = Response {
            status: StatusCode::FORBIDDEN,
            headers: Default::default(),
            body: Zeroizing::new(body.to_vec()),
        };
        let error = status_error(&response, "gcp secret x".into(), ACCESS_PERMISSION);
        assert!(matches!(error, ProviderError::PermissionDenied { .. }));
        assert!(
            error
                .to_string()
                .contains("needs `secretmanager.versions.access`, e.g. the Secret Manager Secret Accessor role"),
            "{error}"
        );
        // A write refused: the permission Google names, with the role that grants it.
        let add = String::from_utf8(body.to_vec()).unwrap().replace("versions.access", "versions.add");
        let response = Response {
            status: StatusCode::FORBIDDEN,
            headers: Default::default(),
            body: Zeroizing::new(add.into_bytes()),
        };
        let error = status_error(&response, "gcp secret x".into(), "secretmanager.versions.add").to_string();
        assert!(
            error.contains("needs `secretmanager.versions.add`, e.g. the Secret Manager Secret Version Adder role"),
            "{error}"
        );
        // Without Google's ErrorInfo, the permission the request takes.
        let bare = Response {
            status: StatusCode::FORBIDDEN,
            headers: Default::default(),
            body: Zeroizing::new(br#"{"error":{"code":403,"message":"denied","status":"PERMISSION_DENIED"}}"#.to_vec()),
        };
        let error = status_error(&bare, "gcp secret x".into(), "secretmanager.secrets.create").to_string();
        assert!(error.contains("needs `secretmanager.secrets.create`, e.g. the Secret Manager Admin role"), "{error}");
        let response = Response {
            status: StatusCode::SERVICE_UNAVAILABLE,
            headers: Default::default(),
            body: Zeroizing::new(b"{}".to_vec()),
        };
        assert!(status_error(&response, "x".into(), ACCESS_PERMISSION).is_retryable());
    }
}
