//! The `kubernetes` client (kube-rs over rustls/ring): one per store, built on first use — an
//! explicit `api_server`, else a kubeconfig (`kubeconfig`, `context`), else the in-cluster service
//! account first and `KUBECONFIG` / `~/.kube/config` after it.
//!
//! A fetch is one `GET /api/v1/namespaces/{ns}/secrets/{name}`, read into a wiped buffer, its
//! base64 `data` decoded into `Secret`s (`stringData` is write-only and never returned). Under
//! `run`/`watch`, each Secret is watched (`?watch=true&fieldSelector=metadata.name=…` from the
//! last `resourceVersion`, asking for metadata only so no value crosses the wire), and a change
//! is sent to the loop at once; a dropped watch reconnects with backoff, and an expired
//! `resourceVersion` (410) starts over from a fresh GET. A watch the service account may not
//! open leaves that Secret to its refresh interval, with one warning naming the missing verb.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::Secret as KubeSecret;
use kube::api::{Api, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::Status;
use kube::{Client, Config};
use tokio::sync::mpsc::UnboundedSender;
use zeroize::Zeroizing;

use super::{KubernetesLocation, StoreSettings};
use crate::provider::{Fetched, Location, Provider, ProviderError, ProviderKind, StoreRef, error_chain_shown};
use crate::secret::Secret;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one watch request lasts before the server ends it and we resume (kube's default).
const WATCH_SECONDS: u32 = 290;
/// How long past [`WATCH_SECONDS`] a watch stream may stay silent before it is taken for dead
/// (a connection a NAT or load balancer dropped without a word) and opened again, as kube-rs's
/// own watcher does.
const WATCH_GRACE: Duration = Duration::from_secs(5);
/// A watch that ends sooner than this having told nothing (a proxy closing it at once, an
/// error event) is opened again only after a backoff, as client-go's reflector does, rather
/// than at once, over and over.
const SHORT_WATCH: Duration = Duration::from_secs(1);
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// How long after a 401 had the client built anew another 401 is taken as it is: building runs
/// a kubeconfig's exec credential plugin (three times, in kube-rs), and a plugin that keeps
/// handing back a revoked token is not to be run on every read.
const REBUILD_PAUSE: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// After a 403 on a watch, how long before trying again (RBAC may be fixed meanwhile).
const FORBIDDEN_BACKOFF: Duration = Duration::from_secs(300);

/// One Kubernetes store: its settings, its client (once built), and the `resourceVersion` each
/// Secret had when last fetched, so a watch event for a version already fetched is not sent.
pub struct KubernetesStore {
    inner: Arc<Inner>,
    watches: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

struct Inner {
    /// For messages: `store \`name\``, `the default Kubernetes store`.
    label: String,
    store: StoreRef,
    settings: StoreSettings,
    timeout: Duration,
    /// The client once built, with its number: a 401 has it built again (see
    /// [`Inner::read`]), unless another fetch already did.
    client: tokio::sync::Mutex<(u64, Option<Client>)>,
    /// When a 401 last had the client built anew (see [`REBUILD_PAUSE`]).
    rebuilt_at: Mutex<Option<std::time::Instant>>,
    versions: Mutex<HashMap<(String, String), String>>,
}

impl fmt::Debug for KubernetesStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubernetesStore").field("store", &self.inner.label).finish_non_exhaustive()
    }
}

impl Drop for KubernetesStore {
    fn drop(&mut self) {
        for watch in self.watches.get_mut().map(std::mem::take).unwrap_or_default() {
            watch.abort();
        }
    }
}

impl KubernetesStore {
    /// Builds the store's client lazily: nothing is read or requested until the first fetch.
    #[must_use]
    pub fn new(store: StoreRef, settings: &StoreSettings) -> Self {
        let label = match &store {
            StoreRef::Named(name) => format!("store `{name}`"),
            StoreRef::Default | StoreRef::Address(_) => "the default Kubernetes store".to_owned(),
        };
        Self {
            inner: Arc::new(Inner {
                label,
                store,
                settings: settings.clone(),
                timeout: settings.timeout.unwrap_or(DEFAULT_TIMEOUT),
                client: tokio::sync::Mutex::new((0, None)),
                rebuilt_at: Mutex::new(None),
                versions: Mutex::new(HashMap::new()),
            }),
            watches: Mutex::new(Vec::new()),
        }
    }
}

/// kube-rs's error and its causes on one line, without what it quotes that may hold
/// credentials: a YAML or JSON error in a kubeconfig or in an exec plugin's output shows the
/// lines around it (a `token:` or `client-key-data:` line among them) below its first line, and
/// a failed exec plugin's error carries the plugin's command line with its environment (an
/// `env:` entry may be a client secret) and its whole stdout and stderr.
fn kube_error(error: &(dyn std::error::Error + 'static)) -> String {
    const EXEC: &str = "auth exec command '";
    error_chain_shown(error, |text| {
        let mut first_line = text.lines().next().unwrap_or_default().to_owned();
        if let Some(start) = first_line.find(EXEC)
            && let Some(end) = first_line.rfind("' failed with status")
            && end >= start + EXEC.len()
        {
            first_line.replace_range(start..end + 1, "the kubeconfig's exec credential plugin");
        }
        if let Some(output) = first_line.find(": Output {") {
            first_line.truncate(output);
            first_line.push_str(" (its command line, environment and output are not shown: they may hold credentials)");
        }
        first_line
    })
}

/// Decides the proxy for the API server as kubectl (client-go) does: `HTTPS_PROXY` unless
/// `NO_PROXY` names the server. kube-rs checks `NO_PROXY` against the proxy's own address
/// instead, so it keeps a proxy `NO_PROXY` rules out for the server, and drops one whose own host
/// `NO_PROXY` names (`NO_PROXY=.corp.example` with `proxy.corp.example`). A kubeconfig's own
/// `proxy-url` (one other than the environment's) stays, as in kubectl. The in-cluster
/// configuration has none.
fn proxy_as_kubectl_would(config: &mut Config) {
    let from_environment = ["HTTPS_PROXY", "https_proxy"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
        .and_then(|value| value.parse::<hyper::Uri>().ok());
    if config.proxy_url.is_some() && config.proxy_url != from_environment {
        return;
    }
    let needed = hyper_util::client::proxy::matcher::Matcher::from_env().intercept(&config.cluster_url).is_some();
    let proxy = from_environment.filter(|_| needed);
    if proxy.is_none() && config.proxy_url.is_some() {
        tracing::debug!(
            server = %crate::redact::url(&config.cluster_url.to_string()),
            "NO_PROXY names the Kubernetes API server: connecting directly"
        );
    }
    config.proxy_url = proxy;
}

/// A kubeconfig user's `tokenFile`, taken from kube-rs to be read as a store's `token_file` is
/// ([`TokenFile`]): kube-rs sends the file's trailing newline inside the header, refused before
/// a request leaves; client-go trims it. Only where the file is the user's credential: not
/// where a `token`, a username and password or an auth provider comes first; before an `exec`
/// plugin, which is then not run (client-go's order, and kube-rs's).
fn token_file_of(config: &mut Config) -> Option<TokenFileSetting> {
    let user = &config.auth_info;
    if user.token.is_some() || user.username.is_some() || user.password.is_some() || user.auth_provider.is_some() {
        return None;
    }
    let path = config.auth_info.token_file.take()?;
    config.auth_info.exec = None;
    Some((std::path::PathBuf::from(path), "the kubeconfig user's tokenFile"))
}

/// A store's `token_file`, sent as `Authorization: Bearer` the way client-go reads it: trimmed of
/// whitespace at either end (`kubectl create token … > file` ends it with a newline, which
/// kube-rs would send inside the header, refused before a request leaves), and read again once
/// a minute, so a rotated token is taken up; a read that fails keeps the last token.
struct TokenFile {
    path: std::path::PathBuf,
    /// What names the file, for messages: `token_file`, or a kubeconfig user's `tokenFile`.
    named: &'static str,
    current: Mutex<(hyper::header::HeaderValue, std::time::Instant)>,
}

/// A bearer token file to send, and what names it (see [`TokenFile`]).
type TokenFileSetting = (std::path::PathBuf, &'static str);

/// How long a token read from a file is used before the file is read again (client-go's and
/// kube-rs's period).
const TOKEN_FILE_PERIOD: Duration = Duration::from_secs(60);

impl TokenFile {
    /// Reads the file once, to fail at once on one that cannot serve.
    fn open((path, named): TokenFileSetting) -> Result<Self, String> {
        let header = Self::read(&path, named)?;
        Ok(Self { path, named, current: Mutex::new((header, std::time::Instant::now())) })
    }

    fn read(path: &std::path::Path, named: &str) -> Result<hyper::header::HeaderValue, String> {
        let bytes = crate::provider::file::read_regular_file(path)
            .map_err(|error| format!("{named} {}: {error}", path.display()))?;
        let token = bytes.trim_ascii();
        if token.is_empty() {
            return Err(format!("{named} {} is empty", path.display()));
        }
        let mut header = Zeroizing::new(b"Bearer ".to_vec());
        header.extend_from_slice(token);
        let mut value = hyper::header::HeaderValue::from_bytes(&header).map_err(|_| {
            format!("{named} {} holds characters a bearer token cannot have (a token is one line)", path.display())
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    fn authorize<B>(&self, mut request: hyper::Request<B>) -> hyper::Request<B> {
        let mut current = self.current.lock().expect("not poisoned");
        if current.1.elapsed() >= TOKEN_FILE_PERIOD {
            match Self::read(&self.path, self.named) {
                Ok(header) => current.0 = header,
                Err(error) => tracing::warn!(%error, "cannot read the token file again; the last token is sent"),
            }
            current.1 = std::time::Instant::now();
        }
        request.headers_mut().insert(hyper::header::AUTHORIZATION, current.0.clone());
        request
    }
}

impl Inner {
    async fn client(&self) -> Result<Client, ProviderError> {
        self.numbered_client().await.map(|(_, client)| client)
    }

    /// The client and its number, built when there is none.
    async fn numbered_client(&self) -> Result<(u64, Client), ProviderError> {
        let mut slot = self.client.lock().await;
        if let (number, Some(client)) = &*slot {
            return Ok((*number, client.clone()));
        }
        let client = self.build_client().await?;
        slot.0 += 1;
        slot.1 = Some(client.clone());
        Ok((slot.0, client))
    }

    /// Drops client number `number`, if it is still the one in use, for the next fetch to build
    /// anew.
    async fn forget_client(&self, number: u64) {
        let mut slot = self.client.lock().await;
        if slot.0 == number {
            slot.1 = None;
        }
    }

    async fn build_client(&self) -> Result<Client, ProviderError> {
        crate::install_crypto_provider();
        let invalid = |reason: String| ProviderError::Invalid {
            what: format!("{} (Kubernetes client configuration)", self.label),
            reason,
        };
        let (mut config, token_file) = self.config().await.map_err(invalid)?;
        // One layer retries, ours: kube-rs's own would retry a 429/503/504 up to 15 times
        // for up to 1000 s each, hiding a throttled or restarting API server behind the
        // fetch timeout, where the scheduler backs off, honours the wait the server asks
        // for and reports the state.
        config.default_retry = false;
        tracing::debug!(
            store = %self.label,
            server = %crate::redact::url(&config.cluster_url.to_string()),
            "connecting to Kubernetes"
        );
        // Building runs a kubeconfig's exec credential plugin, synchronously: off the runtime's
        // one thread (signals, the admin listener and the other stores go on), and bounded by
        // the store's timeout (a hung plugin is left behind).
        let what = format!("{} (Kubernetes client)", self.label);
        let building = tokio::task::spawn_blocking(move || kube::client::ClientBuilder::try_from(config));
        let builder = tokio::time::timeout(self.timeout, building)
            .await
            .map_err(|_| ProviderError::Timeout { what: what.clone(), after: self.timeout })?
            .map_err(|_| ProviderError::Invalid { what: what.clone(), reason: "building the client failed".into() })?
            .map_err(|error| ProviderError::Invalid { what, reason: kube_error(&error) })?;
        Ok(match token_file {
            Some(path) => {
                let token = Arc::new(TokenFile::open(path).map_err(invalid)?);
                let authorize = move |request| token.authorize(request);
                builder.with_layer(&tower::util::MapRequestLayer::new(authorize)).build()
            }
            None => builder.build(),
        })
    }

    /// Where to connect and as whom, in the order the store's settings and the environment say;
    /// with `api_server`, the `token_file` to authenticate with ([`TokenFile`]).
    async fn config(&self) -> Result<(Config, Option<TokenFileSetting>), String> {
        let settings = &self.settings;
        if let Some(server) = &settings.api_server {
            let yaml = serde_json::json!({
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "api", "cluster": {
                    "server": server,
                    "certificate-authority": settings.ca_file.as_ref().map(|path| path.display().to_string()),
                }}],
                "users": [{"name": "token", "user": {}}],
                "contexts": [{"name": "api", "context": {"cluster": "api", "user": "token"}}],
                "current-context": "api",
            });
            let kubeconfig = Kubeconfig::from_yaml(&yaml.to_string()).map_err(|error| kube_error(&error))?;
            let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(|error| format!("api_server {:?}: {}", crate::redact::url(server), kube_error(&error)))?;
            proxy_as_kubectl_would(&mut config);
            return Ok((config, settings.token_file.clone().map(|path| (path, "token_file"))));
        }
        let options = KubeConfigOptions { context: settings.context.clone(), ..KubeConfigOptions::default() };
        if let Some(path) = &settings.kubeconfig {
            let kubeconfig = Kubeconfig::read_from(path).map_err(|error| kube_error(&error))?;
            let mut config = Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|error| format!("kubeconfig {}: {}", path.display(), kube_error(&error)))?;
            proxy_as_kubectl_would(&mut config);
            let token_file = token_file_of(&mut config);
            return Ok((config, token_file));
        }
        // A named context means a kubeconfig; otherwise the pod's service account comes first.
        let in_cluster = if settings.context.is_none() {
            match Config::incluster() {
                Ok(mut config) => {
                    // kube-rs keeps the namespace file's trailing newline (one written by hand
                    // or by a tool, not the kubelet); client-go trims it.
                    config.default_namespace = config.default_namespace.trim().to_owned();
                    return Ok((config, None));
                }
                Err(error) => kube_error(&error),
            }
        } else {
            String::new()
        };
        let mut config = Config::from_kubeconfig(&options).await.map_err(|error| {
            if in_cluster.is_empty() {
                format!("kubeconfig: {}", kube_error(&error))
            } else {
                format!("not in a cluster ({in_cluster}), and no usable kubeconfig ({})", kube_error(&error))
            }
        })?;
        proxy_as_kubectl_would(&mut config);
        let token_file = token_file_of(&mut config);
        Ok((config, token_file))
    }

    /// The namespace a location reads from.
    fn namespace<'a>(location: &'a KubernetesLocation, client: &'a Client) -> &'a str {
        location.namespace.as_deref().unwrap_or_else(|| client.default_namespace())
    }

    fn what(namespace: &str, location: &KubernetesLocation) -> String {
        let mut what = format!("kubernetes secret {namespace}/{}", location.name);
        if let StoreRef::Named(name) = &location.store {
            what.push_str(&format!(" (store {name})"));
        }
        what
    }

    /// Reads the Secret; on a 401, once more with a client built anew (at most once every
    /// [`REBUILD_PAUSE`]; a watch's 401 waits for a read's). kube-rs keeps a token an exec
    /// credential plugin gave without an expiry for the client's life; client-go asks the plugin
    /// again on a 401 (and reads token files again, which ours are every minute anyway).
    async fn read(&self, location: &KubernetesLocation) -> Result<Fetched, ProviderError> {
        let (number, client) = self.numbered_client().await?;
        let first = self.read_with(&client, location).await;
        if !matches!(&first, Err(ProviderError::PermissionDenied { reason, .. }) if reason == UNAUTHORIZED) {
            return first;
        }
        {
            let mut rebuilt_at = self.rebuilt_at.lock().expect("not poisoned");
            if rebuilt_at.is_some_and(|at| at.elapsed() < REBUILD_PAUSE) {
                return first;
            }
            *rebuilt_at = Some(std::time::Instant::now());
        }
        tracing::debug!(store = %self.label, "the API server refused the credentials: building the client anew");
        self.forget_client(number).await;
        let client = self.client().await?;
        self.read_with(&client, location).await
    }

    async fn read_with(&self, client: &Client, location: &KubernetesLocation) -> Result<Fetched, ProviderError> {
        let namespace = Self::namespace(location, client).to_owned();
        let what = Self::what(&namespace, location);
        let request = kube::core::Request::new(format!("/api/v1/namespaces/{namespace}/secrets"))
            .get(&location.name, &kube::api::GetParams::default())
            .map_err(|error| ProviderError::Invalid { what: what.clone(), reason: kube_error(&error) })?;
        let exchange = async {
            let response = client.send(request.map(kube::client::Body::from)).await?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(hyper::header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok()?.trim().parse::<u32>().ok());
            let body = response.into_body().collect().await?;
            Ok::<_, kube::Error>((status, retry_after, Zeroizing::new(body.to_bytes().to_vec())))
        };
        let (status, retry_after, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| ProviderError::Timeout { what: what.clone(), after: self.timeout })?
            .map_err(|error| transport_error(&error, &what))?;
        if !status.is_success() {
            let status = answer_status(status, retry_after, &body);
            return Err(status_error(&status, what, "get", &namespace));
        }
        let secret: KubeSecret = serde_json::from_slice(&body).map_err(|error| ProviderError::Invalid {
            what: what.clone(),
            reason: format!("not a Secret object ({})", crate::provider::json_error_position(&error)),
        })?;
        if let Some(version) = &secret.metadata.resource_version {
            self.versions.lock().expect("not poisoned").insert((namespace, location.name.clone()), version.clone());
        }
        let fields: BTreeMap<String, Secret> =
            secret.data.unwrap_or_default().into_iter().map(|(key, value)| (key, Secret::new(value.0))).collect();
        if fields.is_empty() {
            return Err(ProviderError::Invalid { what, reason: "the Secret has no `data` keys".into() });
        }
        Ok(Fetched::fields(fields))
    }

    /// Whether `version` is newer than what was last fetched for the Secret.
    fn is_news(&self, namespace: &str, name: &str, version: Option<&str>) -> bool {
        let versions = self.versions.lock().expect("not poisoned");
        versions.get(&(namespace.to_owned(), name.to_owned())).map(String::as_str) != version
    }

    /// Keeps one Secret watched for as long as the store lives, sending `location` on `changed`
    /// whenever the Secret moves past the version last fetched.
    async fn watch(self: Arc<Self>, location: Location, changed: UnboundedSender<Location>) {
        let Location::Kubernetes(secret) = &location else { return };
        let mut backoff = FIRST_BACKOFF;
        let mut version: Option<String> = None;
        let mut warned = false;
        let send = |reason: &str| {
            tracing::debug!(location = %location, reason, "kubernetes watch: the Secret changed");
            changed.send(location.clone()).is_ok()
        };
        loop {
            if changed.is_closed() {
                return;
            }
            let client = match self.client().await {
                Ok(client) => client,
                Err(error) => {
                    tracing::debug!(store = %self.label, %error, "kubernetes watch: no client yet");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            let namespace = Self::namespace(secret, &client).to_owned();
            let what = Self::what(&namespace, secret);
            let api: Api<KubeSecret> = Api::namespaced(client, &namespace);
            // Where to resume: the last event's version, else the Secret's current one (a change
            // since the last fetch is sent now), else "0" for a Secret that does not exist yet.
            let from = match version.take() {
                Some(version) => version,
                None => match api.get_metadata_opt(&secret.name).await {
                    Ok(Some(meta)) => {
                        let current = meta.metadata.resource_version.unwrap_or_default();
                        if self.is_news(&namespace, &secret.name, Some(&current)) && !send("resynced") {
                            return;
                        }
                        current
                    }
                    Ok(None) => "0".to_owned(),
                    Err(error) => {
                        backoff = self.watch_failed(&error, &what, "get", &namespace, &mut warned, backoff).await;
                        continue;
                    }
                },
            };
            let params =
                WatchParams::default().fields(&format!("metadata.name={}", secret.name)).timeout(WATCH_SECONDS);
            let stream = match api.watch_metadata(&params, &from).await {
                Ok(stream) => stream,
                Err(error) => {
                    if !is_gone(&error) {
                        backoff = self.watch_failed(&error, &what, "watch", &namespace, &mut warned, backoff).await;
                        // Refused, not too old: the next try resumes from the same version, so
                        // a change made meanwhile is still an event.
                        version = Some(from);
                    }
                    continue;
                }
            };
            if warned {
                tracing::info!(secret = %what, "watching the Secret again");
                warned = false;
            }
            version = Some(from);
            let opened = tokio::time::Instant::now();
            let silent_past = opened + Duration::from_secs(u64::from(WATCH_SECONDS)) + WATCH_GRACE;
            let mut told = false;
            let mut stream = std::pin::pin!(stream);
            loop {
                let Ok(next) = tokio::time::timeout_at(silent_past, stream.next()).await else {
                    tracing::debug!(secret = %what, "kubernetes watch silent past its timeout: opening it again");
                    break;
                };
                let Some(event) = next else { break };
                told |= matches!(
                    &event,
                    Ok(WatchEvent::Added(_)
                        | WatchEvent::Modified(_)
                        | WatchEvent::Deleted(_)
                        | WatchEvent::Bookmark(_))
                );
                match event {
                    Ok(WatchEvent::Added(meta) | WatchEvent::Modified(meta)) => {
                        let current = meta.metadata.resource_version;
                        if self.is_news(&namespace, &secret.name, current.as_deref()) && !send("modified") {
                            return;
                        }
                        version = current.or(version);
                    }
                    Ok(WatchEvent::Deleted(meta)) => {
                        if !send("deleted") {
                            return;
                        }
                        version = meta.metadata.resource_version.or(version);
                    }
                    Ok(WatchEvent::Bookmark(bookmark)) => version = Some(bookmark.metadata.resource_version),
                    Ok(WatchEvent::Error(status)) => {
                        if status.code != 410 {
                            tracing::debug!(secret = %what, code = status.code, message = %status.message, "kubernetes watch error");
                        }
                        // 410 Gone: the version is too old to resume from; start over from a GET.
                        version = None;
                        break;
                    }
                    Err(error) => {
                        tracing::debug!(secret = %what, error = %kube_error(&error), "kubernetes watch interrupted");
                        if is_gone(&error) {
                            version = None;
                        }
                        break;
                    }
                }
            }
            if told || opened.elapsed() >= SHORT_WATCH {
                backoff = FIRST_BACKOFF;
            } else {
                tracing::debug!(secret = %what, "kubernetes watch ended at once: opening it again in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }

    /// Logs a watch that could not start (a 403 once, as a warning naming the missing verb) and
    /// waits before the next try; returns the next backoff.
    async fn watch_failed(
        &self,
        error: &kube::Error,
        what: &str,
        verb: &str,
        namespace: &str,
        warned: &mut bool,
        backoff: Duration,
    ) -> Duration {
        let forbidden = matches!(error, kube::Error::Api(status) if status.code == 403);
        if forbidden {
            if !*warned {
                let kube::Error::Api(status) = error else { unreachable!("matched above") };
                let denied = status_error(status, what.to_owned(), verb, namespace);
                tracing::warn!(
                    "cannot watch {what}, so changes wait for its refresh interval: {denied}; a watch needs `get` and `watch` on `secrets`"
                );
                *warned = true;
            }
            tokio::time::sleep(FORBIDDEN_BACKOFF).await;
            return backoff;
        }
        tracing::debug!(secret = %what, error = %kube_error(error), "kubernetes watch: retrying in {backoff:?}");
        tokio::time::sleep(backoff).await;
        (backoff * 2).min(MAX_BACKOFF)
    }
}

/// Writing: a Secret keeps no history, so `put` sets one key with a merge patch that carries the
/// `resourceVersion` it read (a concurrent writer's change is refused, not lost), creating the
/// Secret when it does not exist.
impl Inner {
    fn api_error(error: &kube::Error, what: &str, verb: &str, namespace: &str) -> ProviderError {
        match error {
            kube::Error::Api(status) => status_error(status, what.to_owned(), verb, namespace),
            other => transport_error(other, what),
        }
    }

    async fn put_key(
        &self,
        location: &KubernetesLocation,
        key: Option<&str>,
        value: Option<&Secret>,
    ) -> Result<crate::provider::PutOutcome, ProviderError> {
        let client = self.client().await?;
        let namespace = Self::namespace(location, &client).to_owned();
        let what = Self::what(&namespace, location);
        let api: Api<KubeSecret> = Api::namespaced(client, &namespace);
        let exchange = async {
            let Some(key) = key else {
                api.delete(&location.name, &kube::api::DeleteParams::default())
                    .await
                    .map_err(|error| Self::api_error(&error, &what, "delete", &namespace))?;
                return Ok(None);
            };
            let current = api
                .get_metadata_opt(&location.name)
                .await
                .map_err(|error| Self::api_error(&error, &what, "get", &namespace))?;
            let data = value.map(|value| k8s_openapi::ByteString(value.expose().to_vec()));
            let written = match current {
                Some(meta) => {
                    // `null` removes the key (merge patch).
                    let deleting = data.is_none();
                    // The version of the read the value was decided on (`rotate` reads the
                    // value first), else this one's: a change between the two is refused.
                    let read = self
                        .versions
                        .lock()
                        .expect("not poisoned")
                        .get(&(namespace.clone(), location.name.clone()))
                        .cloned();
                    let before = read.or(meta.metadata.resource_version);
                    let patch = serde_json::json!({
                        "metadata": {"resourceVersion": before},
                        "data": {key: data},
                    });
                    let written = api
                        .patch(&location.name, &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch))
                        .await
                        .map_err(|error| Self::api_error(&error, &what, "patch", &namespace))?;
                    // A patch that changes nothing is not stored, and keeps the version: the key
                    // to delete was not there.
                    if deleting && written.metadata.resource_version == before {
                        let available =
                            written.data.as_ref().map(|data| data.keys().cloned().collect()).unwrap_or_default();
                        return Err(ProviderError::MissingKey { what: what.clone(), key: key.to_owned(), available });
                    }
                    written
                }
                None if data.is_none() => return Err(ProviderError::NotFound { what: what.clone() }),
                None => {
                    let secret = KubeSecret {
                        metadata: kube::api::ObjectMeta { name: Some(location.name.clone()), ..Default::default() },
                        data: data.map(|data| BTreeMap::from([(key.to_owned(), data)])),
                        ..Default::default()
                    };
                    api.create(&kube::api::PostParams::default(), &secret)
                        .await
                        .map_err(|error| Self::api_error(&error, &what, "create", &namespace))?
                }
            };
            Ok(written.metadata.resource_version)
        };
        let version = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| ProviderError::Timeout { what: what.clone(), after: self.timeout })??;
        // The next write of this Secret (another key `extract` moves into it) goes on from here.
        let mut versions = self.versions.lock().expect("not poisoned");
        match &version {
            Some(version) => versions.insert((namespace, location.name.clone()), version.clone()),
            None => versions.remove(&(namespace, location.name.clone())),
        };
        drop(versions);
        Ok(crate::provider::PutOutcome { version, note: None })
    }
}

fn is_gone(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 410)
}

fn transport_error(error: &kube::Error, what: &str) -> ProviderError {
    let reason = kube_error(error);
    match error {
        kube::Error::Auth(_) => ProviderError::PermissionDenied { what: what.to_owned(), reason },
        _ => ProviderError::Unreachable { what: what.to_owned(), reason },
    }
}

/// Why a request was answered 401.
const UNAUTHORIZED: &str =
    "the API server rejected the credentials (401 Unauthorized): the token is missing, expired or not accepted";

/// Maps an API `Status` to the error an operator can act on. `verb` is what was asked (`get`,
/// `watch`), for the RBAC hint of a 403.
fn status_error(status: &Status, what: String, verb: &str, namespace: &str) -> ProviderError {
    let (message, by_policy) = without_policy_reason(&status.message);
    match status.code {
        404 => ProviderError::NotFound { what },
        401 => ProviderError::PermissionDenied { what, reason: UNAUTHORIZED.into() },
        // Admission refusing (a policy, a quota exceeded, a namespace being deleted), not RBAC:
        // the API server's words.
        403 if by_policy || (message.contains(" is forbidden: ") && !message.contains(" cannot ")) => {
            ProviderError::PermissionDenied { what, reason: format!("HTTP 403: {}", short(&message)) }
        }
        403 => {
            // "secrets \"x\" is forbidden: User \"system:serviceaccount:ns:sa\" cannot get resource …"
            let user = status
                .message
                .split_once("User \"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .map_or_else(|| "the client".to_owned(), |(user, _)| format!("User {user:?}"));
            ProviderError::PermissionDenied {
                what,
                reason: format!(
                    "RBAC: {user} cannot {verb} secrets in namespace {namespace} (grant the verb `{verb}` on resource \
                     `secrets` in namespace {namespace} through a Role and RoleBinding)"
                ),
            }
        }
        code if code == 429 || code >= 500 => {
            let reason = match short(&message) {
                message if message.is_empty() => format!("HTTP {code}"),
                message => format!("HTTP {code}: {message}"),
            };
            // API Priority and Fairness (429) and a server shutting down (503) say when to come
            // back in the Status body as well as in `Retry-After`, which kube-rs does not expose.
            match status.details.as_ref().map(|details| details.retry_after_seconds).filter(|&seconds| seconds > 0) {
                Some(seconds) => {
                    ProviderError::RateLimited { what, reason, retry_after: Duration::from_secs(u64::from(seconds)) }
                }
                None => ProviderError::Unreachable { what, reason },
            }
        }
        // A check-and-set refused: another writer changed the Secret since it was read (or
        // created it meanwhile). Not invalid content: trying again reads it afresh.
        409 => ProviderError::WriteRefused {
            what,
            reason: format!("another writer changed it since it was read; try again (HTTP 409: {})", short(&message)),
        },
        code => ProviderError::Invalid { what, reason: format!("HTTP {code}: {}", short(&message)) },
    }
}

/// `message` without an admission policy's own reason, and whether it had one: a validating
/// webhook's ("admission webhook … denied the request: …", with any status: 403, 422, 500) or
/// a ValidatingAdmissionPolicy's ("… denied request: …"), whose words the policy's author
/// wrote and may quote the Secret it judged (`object.data`).
fn without_policy_reason(message: &str) -> (String, bool) {
    for denied in ["denied the request", "denied request"] {
        if let Some(at) = message.find(denied) {
            let kept = &message[..at + denied.len()];
            return (format!("{kept} (its reason is not shown: it may quote the Secret)"), true);
        }
    }
    (message.to_owned(), false)
}

/// An error answer as a `Status`: the body when it is one; else (API Priority and Fairness and
/// the max-in-flight filter answer 429 in plain text) one made of the status and the text, when
/// it is a short line. `Retry-After` fills in the wait the body does not give.
fn answer_status(code: hyper::StatusCode, retry_after: Option<u32>, body: &[u8]) -> Status {
    let mut status = serde_json::from_slice::<Status>(body).unwrap_or_else(|_| {
        let text = std::str::from_utf8(body).unwrap_or_default().trim();
        let text = if text.len() <= 200 && !text.contains('\n') && !text.starts_with('<') { text } else { "" };
        Status::failure(text, "").with_code(code.as_u16())
    });
    if let Some(seconds) = retry_after.filter(|&seconds| seconds > 0) {
        match status.details.as_mut() {
            Some(details) if details.retry_after_seconds > 0 => {}
            Some(details) => details.retry_after_seconds = seconds,
            None => {
                status.details = Some(kube::core::response::StatusDetails {
                    name: String::new(),
                    group: String::new(),
                    kind: String::new(),
                    uid: String::new(),
                    causes: Vec::new(),
                    retry_after_seconds: seconds,
                });
            }
        }
    }
    status
}

/// The API server's message (it names no values), shortened.
fn short(message: &str) -> String {
    let mut text = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.len() > 300 {
        let mut cut = 300;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

impl Provider for KubernetesStore {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Kubernetes
    }

    fn store(&self) -> StoreRef {
        self.inner.store.clone()
    }

    fn fetch<'a>(&'a self, location: &'a Location) -> BoxFuture<'a, Result<Fetched, ProviderError>> {
        Box::pin(async move {
            let location = location.own();
            self.inner.read(location).await
        })
    }

    /// Sets `key` (required: a Secret holds keys); the new `resourceVersion` is reported.
    fn put<'a>(
        &'a self,
        location: &'a Location,
        key: Option<&'a str>,
        value: &'a Secret,
    ) -> BoxFuture<'a, Result<crate::provider::PutOutcome, ProviderError>> {
        Box::pin(async move {
            let location: &KubernetesLocation = location.own();
            if key.is_none() {
                return Err(ProviderError::Invalid {
                    what: location.to_string(),
                    reason: "a Secret holds keys: the body needs `key` to write".into(),
                });
            }
            self.inner.put_key(location, key, Some(value)).await
        })
    }

    /// Removes `key`, or without one deletes the whole Secret.
    fn delete<'a>(
        &'a self,
        location: &'a Location,
        key: Option<&'a str>,
    ) -> BoxFuture<'a, Result<crate::provider::PutOutcome, ProviderError>> {
        Box::pin(async move {
            let location = location.own();
            self.inner.put_key(location, key, None).await
        })
    }

    fn watch(&self, locations: Vec<Location>, changed: UnboundedSender<Location>) -> bool {
        let mut watches = self.watches.lock().expect("not poisoned");
        for watch in watches.drain(..) {
            watch.abort();
        }
        for location in locations {
            watches.push(tokio::spawn(Arc::clone(&self.inner).watch(location, changed.clone())));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, message: &str) -> Status {
        Status::failure(message, "").with_code(code)
    }

    #[test]
    fn api_statuses_map_to_errors_an_operator_can_act_on() {
        let forbidden = status(
            403,
            "secrets \"x\" is forbidden: User \"system:serviceaccount:monitoring:prometheus\" cannot get resource \
             \"secrets\" in API group \"\" in the namespace \"monitoring\"",
        );
        let error = status_error(&forbidden, "kubernetes secret monitoring/x".into(), "get", "monitoring");
        assert_eq!(
            error.to_string(),
            "permission denied reading kubernetes secret monitoring/x: RBAC: User \
             \"system:serviceaccount:monitoring:prometheus\" cannot get secrets in namespace monitoring (grant the \
             verb `get` on resource `secrets` in namespace monitoring through a Role and RoleBinding)"
        );
        let cases: &[(u16, &str, bool)] = &[
            (404, "not_found", false),
            (401, "permission_denied", false),
            (503, "unreachable", true),
            (422, "invalid", false),
        ];
        for (code, reason, retryable) in cases {
            let error = status_error(&status(*code, "m"), "w".into(), "get", "ns");
            assert_eq!((error.reason(), error.is_retryable()), (*reason, *retryable), "HTTP {code}");
        }
    }

    /// The `Authorization` header a request leaves with.
    fn sent_header(token: &TokenFile) -> String {
        let request = token.authorize(hyper::Request::new(()));
        request.headers()[hyper::header::AUTHORIZATION].to_str().expect("ASCII").to_owned()
    }

    /// Pretends the token was read a period ago, so the next request reads the file again.
    fn age_by_a_period(token: &TokenFile) {
        let mut current = token.current.lock().expect("not poisoned");
        current.1 = current.1.checked_sub(TOKEN_FILE_PERIOD).expect("the clock is past one period");
    }

    #[test]
    #[expect(clippy::disallowed_methods, reason = "test fixtures, not secret-render outputs")]
    fn a_token_file_is_read_again_once_a_period_has_passed_and_a_failed_read_keeps_the_last_token() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("token");
        std::fs::write(&path, "first-token\n").expect("write");
        let token = TokenFile::open((path.clone(), "token_file")).expect("opens");
        assert_eq!(sent_header(&token), "Bearer first-token", "trimmed of its newline");

        std::fs::write(&path, "second-token\n").expect("write");
        assert_eq!(sent_header(&token), "Bearer first-token", "within the period the file is not read again");
        age_by_a_period(&token);
        assert_eq!(sent_header(&token), "Bearer second-token", "a rotated token is taken up after a period");

        std::fs::remove_file(&path).expect("remove");
        age_by_a_period(&token);
        assert_eq!(sent_header(&token), "Bearer second-token", "a failed read keeps the last token");
        std::fs::write(&path, "third-token").expect("write");
        assert_eq!(sent_header(&token), "Bearer second-token", "a failed read starts a new period too");
    }

    #[test]
    #[expect(clippy::disallowed_methods, reason = "test fixtures, not secret-render outputs")]
    fn a_token_header_is_marked_sensitive() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("token");
        std::fs::write(&path, "t").expect("write");
        let request = TokenFile::open((path, "token_file")).expect("opens").authorize(hyper::Request::new(()));
        assert!(request.headers()[hyper::header::AUTHORIZATION].is_sensitive());
    }
}
