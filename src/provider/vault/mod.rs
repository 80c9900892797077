//! The `vault` provider (HashiCorp Vault and OpenBao): KV v1/v2 (detected per mount), any read
//! path with `engine: generic` (dynamic credentials, their lease renewed while Vault extends it
//! and the token that read it lives), one login and one keep-alive HTTP pool per store.
//!
//! We speak Vault's HTTP API with reqwest rather than through vaultrs: vaultrs deserialises each
//! endpoint into its own typed structs and hides what this provider needs — the raw `data` map,
//! `lease_duration`, the HTTP status that tells "missing" from "forbidden" from "sealed" — and
//! gives no say over the connection pool that keeps a 500-path render close to the raw HTTP
//! floor. The part of the API used here (KV read and check-and-set write/delete,
//! `sys/internal/ui/mounts`, a few logins, token renew/lookup, lease renew) is small and stable.

mod auth;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::value::RawValue;
use zeroize::Zeroizing;

pub use auth::{Auth, SecretSource};

use super::{Body, Fetched, Location, ProviderError, ProviderKind, ProviderSet, StoreRef};
use crate::secret::Secret;
use crate::stores::StoreDef;

/// Keys a `vault` body accepts besides the common ones.
pub const KEYS: &[&str] = &["path", "key", "mount", "version", "engine", "address"];
/// Keys of a `vault` store's settings besides `refresh_interval`/`grace_period`.
pub const STORE_KEYS: &[&str] = &[
    "address",
    "namespace",
    "mount",
    "path_prefix",
    "kv_version",
    "auth",
    "ca_file",
    "ca_cert",
    "tls_server_name",
    "insecure_skip_verify",
    "timeout",
];
const DEFAULT_MOUNT: &str = "secret";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Engine {
    /// KV v1 or v2, detected per mount.
    Kv,
    /// Any read path, e.g. `database/creds/readonly`; `lease_duration` is honoured.
    Generic,
}

/// What one `vault` provider map fetches (the key is picked afterwards).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VaultLocation {
    pub store: StoreRef,
    pub engine: Engine,
    /// The KV mount (empty for `engine: generic`).
    pub mount: String,
    /// The path inside the mount (the full API path for `engine: generic`).
    pub path: String,
    pub version: Option<u64>,
}

impl fmt::Display for VaultLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.engine {
            Engine::Kv => write!(f, "vault secret {}/{}", self.mount, self.path)?,
            Engine::Generic => write!(f, "vault path {}", self.path)?,
        }
        if let Some(version) = self.version {
            write!(f, " version {version}")?;
        }
        match &self.store {
            StoreRef::Default => Ok(()),
            StoreRef::Named(name) => write!(f, " (store {name})"),
            StoreRef::Address(address) => write!(f, " (at {})", crate::redact::url(address)),
        }
    }
}

/// TLS settings of a store.
#[derive(Clone, Debug, Default)]
pub struct Tls {
    pub ca_file: Option<PathBuf>,
    pub ca_cert: Option<String>,
    pub tls_server_name: Option<String>,
    pub insecure_skip_verify: bool,
}

/// A `vault` store's settings (contract section 2).
#[derive(Clone, Debug, Default)]
pub struct StoreSettings {
    pub address: Option<String>,
    pub namespace: Option<String>,
    pub mount: Option<String>,
    pub path_prefix: Option<String>,
    pub kv_version: Option<u8>,
    pub tls: Tls,
    pub timeout: Option<Duration>,
    /// Filled in a second pass, once every store's name is known (auth may bootstrap from them).
    pub auth: Auth,
}

/// Parses a store's settings except `auth`, which `stores.rs` parses once all stores are known.
pub fn parse_store_settings(body: &mut Body<'_>, dir: &std::path::Path) -> StoreSettings {
    let kv_version = body.number("kv_version").and_then(|version| match version {
        1 | 2 => Some(u8::try_from(version).unwrap_or(2)),
        other => {
            body.problem(body.mark(), format!("`kv_version` must be 1 or 2, not {other}"));
            None
        }
    });
    let absolute = |path: String| {
        let path = PathBuf::from(path);
        if path.is_absolute() { path } else { dir.join(path) }
    };
    let mount = body.string("mount").map(|mount| mount.trim_matches('/').to_owned());
    let path_prefix = body.string("path_prefix");
    for (field, value) in [("mount", &mount), ("path_prefix", &path_prefix)] {
        if value.as_deref().is_some_and(has_dot_segment) {
            body.problem(
                body.mark(),
                format!("`{field}` may not hold `.` or `..` segments: it names a place, not a route"),
            );
        }
    }
    StoreSettings {
        address: body.string("address"),
        namespace: body.string("namespace"),
        mount,
        path_prefix,
        kv_version,
        tls: Tls {
            ca_file: body.string("ca_file").map(absolute),
            ca_cert: body.string("ca_cert"),
            tls_server_name: body.string("tls_server_name"),
            insecure_skip_verify: body.boolean("insecure_skip_verify").unwrap_or(false),
        },
        timeout: body.timeout("timeout"),
        auth: Auth::Default,
    }
}

/// Whether a Vault path holds `.` or `..` segments, which would be resolved as a route (out of
/// the mount, or the store's `path_prefix`) rather than sent as a name.
fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|segment| segment == "." || segment == "..")
}

/// Parses a `vault` provider body.
pub(super) fn parse(body: &mut Body<'_>, store: Option<&StoreDef>) -> Option<(Location, Option<String>)> {
    let path = body.required("path");
    let key = body.string("key");
    let version = body.number("version");
    if version == Some(0) {
        // Vault reads version 0 as the latest: a pinned version that is not one.
        body.problem(body.mark(), "`version` counts from 1; leave it out for the latest".into());
    }
    let address = body.string("address");
    let body_mount = body.string("mount").map(|mount| mount.trim_matches('/').to_owned());
    let engine = match body.string("engine").as_deref() {
        None | Some("kv") => Engine::Kv,
        Some("generic") => Engine::Generic,
        Some(other) => {
            body.problem(body.mark(), format!("`engine` must be kv or generic, not {other:?}"));
            Engine::Kv
        }
    };
    let settings = store.and_then(StoreDef::vault);
    let store_ref = match (store, address) {
        (Some(store), Some(_)) => {
            body.problem(
                body.mark(),
                format!("`address` cannot be given with store `{}`; set it on the store", store.name),
            );
            StoreRef::Named(store.name.clone())
        }
        (Some(store), None) => StoreRef::Named(store.name.clone()),
        (None, Some(address)) => StoreRef::Address(address.trim_end_matches('/').to_owned()),
        (None, None) => StoreRef::Default,
    };
    let path = path?.trim_matches('/').to_owned();
    if path.is_empty() {
        body.problem(body.mark(), "`path` is empty".into());
        return None;
    }
    for (field, value) in [("path", Some(path.as_str())), ("mount", body_mount.as_deref())] {
        if value.is_some_and(has_dot_segment) {
            body.problem(
                body.mark(),
                format!("`{field}` may not hold `.` or `..` segments: it names a secret, not a route"),
            );
            return None;
        }
    }
    if engine == Engine::Generic {
        if version.is_some() {
            body.problem(body.mark(), "`version` applies to KV v2 only, not to `engine: generic`".into());
        }
        let location = VaultLocation { store: store_ref, engine, mount: String::new(), path, version: None };
        return Some((Location::Vault(location), key));
    }
    let prefix = settings.and_then(|settings| settings.path_prefix.as_deref()).unwrap_or_default().trim_matches('/');
    let full = if prefix.is_empty() { path } else { format!("{prefix}/{path}") };
    let explicit_mount = body_mount.or_else(|| settings.and_then(|settings| settings.mount.clone()));
    let (mount, path) = match explicit_mount {
        Some(mount) => (mount, full),
        // Operators paste paths the way the CLI (`secret/app`) or the API (`secret/data/app`)
        // shows them; with no explicit mount, the default mount's name in front is the mount.
        None => {
            let inside = full
                .strip_prefix(&format!("{DEFAULT_MOUNT}/data/"))
                .or_else(|| full.strip_prefix(&format!("{DEFAULT_MOUNT}/")))
                .unwrap_or(&full)
                .to_owned();
            (DEFAULT_MOUNT.to_owned(), inside)
        }
    };
    Some((Location::Vault(VaultLocation { store: store_ref, engine, mount, path, version }), key))
}

/// The settings of the environment-configured store (`VAULT_ADDR`/`BAO_ADDR`, `VAULT_TOKEN`…).
#[must_use]
pub fn environment_settings(address: Option<String>) -> StoreSettings {
    let env = |names: &[&str]| names.iter().find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()));
    StoreSettings {
        address: address.or_else(|| env(&["VAULT_ADDR", "BAO_ADDR"])),
        namespace: env(&["VAULT_NAMESPACE", "BAO_NAMESPACE"]),
        tls: Tls {
            ca_file: env(&["VAULT_CACERT", "BAO_CACERT"]).map(PathBuf::from),
            tls_server_name: env(&["VAULT_TLS_SERVER_NAME", "BAO_TLS_SERVER_NAME"]),
            insecure_skip_verify: env(&["VAULT_SKIP_VERIFY", "BAO_SKIP_VERIFY"])
                .is_some_and(|v| v == "1" || v == "true"),
            ..Tls::default()
        },
        ..StoreSettings::default()
    }
}

/// Resolves `tls_server_name` to the addresses of the configured address's `host`, and any
/// other name (a standby's redirect) as usual, at each connection.
struct ServerNameResolver {
    server_name: String,
    host: String,
}

impl reqwest::dns::Resolve for ServerNameResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let target = if name.as_str().eq_ignore_ascii_case(&self.server_name) {
            self.host.clone()
        } else {
            name.as_str().to_owned()
        };
        Box::pin(async move {
            // Port 0: the request's own port replaces it.
            let addresses = tokio::net::lookup_host((target.as_str(), 0)).await?;
            Ok(Box::new(addresses.collect::<Vec<_>>().into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The proxies a Vault client goes through, chosen as the Vault CLI and Agent choose
/// (`VAULT_PROXY_ADDR`, else Go's `ProxyFromEnvironment`): every request through
/// `VAULT_PROXY_ADDR` (or `VAULT_HTTP_PROXY`, `BAO_PROXY_ADDR`, `BAO_HTTP_PROXY`) when set;
/// otherwise `HTTPS_PROXY` for https and `HTTP_PROXY` for http (the upper-case spelling
/// first), except to a host `NO_PROXY` names and to the loopback interface, which a proxy
/// could not reach. `ALL_PROXY` is not read, as Go does not. Empty when no proxy applies.
/// Errors name the variable, never its value (a proxy URL may carry a password).
/// With the proxies, how errors name the one requests to the configured address (`scheme`,
/// `host`) go through: `through the proxy HTTPS_PROXY names`.
struct Proxies {
    proxies: Vec<reqwest::Proxy>,
    shown: Option<String>,
}

fn proxies_from_environment(label: &str, scheme: &str, host: &str) -> Result<Proxies, String> {
    let env = |names: &[&'static str]| {
        names
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()).map(|value| (*name, value)))
    };
    // Go takes a proxy address without a scheme as http://.
    let url = |address: String| if address.contains("://") { address } else { format!("http://{address}") };
    let invalid =
        |name: &'static str| move |_: reqwest::Error| format!("{label}: {name} is not a proxy URL (http://HOST:PORT)");
    if let Some((name, address)) = env(&["VAULT_PROXY_ADDR", "VAULT_HTTP_PROXY", "BAO_PROXY_ADDR", "BAO_HTTP_PROXY"]) {
        let proxies = vec![reqwest::Proxy::all(url(address)).map_err(invalid(name))?];
        return Ok(Proxies { proxies, shown: Some(format!("through the proxy {name} names")) });
    }
    // Decided on the configured address, not on a `tls_server_name` the requests carry instead.
    let bare = host.strip_prefix('[').and_then(|host| host.strip_suffix(']')).unwrap_or(host);
    let loopback = host.eq_ignore_ascii_case("localhost")
        || match bare.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) => ip.is_loopback(),
            Ok(std::net::IpAddr::V6(ip)) => ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|ip| ip.is_loopback()),
            Err(_) => false,
        };
    if loopback {
        return Ok(Proxies { proxies: Vec::new(), shown: None });
    }
    let listed = env(&["NO_PROXY", "no_proxy"]).map(|(_, hosts)| hosts);
    let unless = if listed.is_some() { ", unless NO_PROXY names the host" } else { "" };
    let no_proxy = format!("{},localhost,127.0.0.0/8,::1", listed.unwrap_or_default());
    let (mut proxies, mut shown) = (Vec::new(), None);
    // A variable for the other scheme is an error only where it is used (a redirect to it), as
    // in Go: here it is left out.
    for (for_scheme, names) in [("https", ["HTTPS_PROXY", "https_proxy"]), ("http", ["HTTP_PROXY", "http_proxy"])] {
        let Some((name, address)) = env(&names) else { continue };
        let proxy = if for_scheme == "https" {
            reqwest::Proxy::https(url(address))
        } else {
            reqwest::Proxy::http(url(address))
        };
        let proxy = match proxy {
            Ok(proxy) => proxy,
            Err(error) if for_scheme == scheme => return Err(invalid(name)(error)),
            Err(_) => continue,
        };
        proxies.push(proxy.no_proxy(reqwest::NoProxy::from_string(&no_proxy)));
        if for_scheme == scheme {
            shown = Some(format!("through the proxy {name} names{unless}"));
        }
    }
    Ok(Proxies { proxies, shown })
}

/// What a mount is, from `sys/internal/ui/mounts`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KvVersion {
    V1,
    V2,
}

/// One Vault store: its address, its login, its connection pool.
pub struct VaultStore {
    /// For messages: `store prod`, `the default store`.
    label: String,
    store: StoreRef,
    base: reqwest::Url,
    /// The address as configured (`base` names `tls_server_name` instead when one is set),
    /// and the proxy that reaches it, for errors.
    origin: String,
    http: reqwest::Client,
    namespace: Option<String>,
    kv_version: Option<u8>,
    timeout: Duration,
    login: auth::Login,
    mounts: tokio::sync::Mutex<HashMap<String, Arc<tokio::sync::OnceCell<KvVersion>>>>,
    /// The leases of generic reads: renewed, or kept while they last, instead of read again
    /// (see [`VaultStore::renew`]).
    leases: std::sync::Mutex<HashMap<VaultLocation, HeldLease>>,
    /// The token Vault refused a lease renewal (403: its policies lack `sys/leases/renew`, or
    /// it is no longer valid): while it is in use, the leases it reads are kept as they are,
    /// not renewed.
    renewal_refused_to: std::sync::Mutex<Option<Secret>>,
    /// After upkeeps that left the token still due (Vault down, a renewal refused): how many in
    /// a row, and when to try again.
    upkeep_backoff: std::sync::Mutex<(u32, Option<std::time::Instant>)>,
    /// The KV v2 version each latest read (by mount and path) was, for a write after it to
    /// check: `rotate` and `extract` decide on a read, and a version another writer added
    /// between that read and the write's own must not be written over (see
    /// [`VaultStore::changed_since_read`]).
    read_versions: std::sync::Mutex<HashMap<(String, String), u64>>,
}

/// A lease from a generic read (dynamic credentials), and the value it leases.
struct HeldLease {
    id: Zeroizing<String>,
    /// The token that read it: Vault revokes the lease when that token ends.
    token: Secret,
    /// Whether Vault may extend it (and let this token ask: see `renewal_refused_to`).
    renewable: bool,
    /// The duration first granted, which each renewal asks for again.
    granted: Duration,
    /// When it ends unless renewed.
    ends: SystemTime,
    content: super::Content,
}

/// What a store's client hands to the one that replaces it (see [`super::Provider::hand_over`]).
struct Handover {
    base: reqwest::Url,
    namespace: Option<String>,
    login: Option<auth::LoginHandover>,
    leases: HashMap<VaultLocation, HeldLease>,
}

impl fmt::Debug for VaultStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultStore")
            .field("store", &self.label)
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

/// Vault's response envelope; only the parts we read.
#[derive(Deserialize)]
struct Envelope {
    data: Option<serde_json::Value>,
    #[serde(default)]
    lease_duration: u64,
    auth: Option<auth::AuthInfo>,
    #[serde(default)]
    errors: Vec<String>,
}

/// Vault's response to a secret read: `data` kept as the text it arrived as, so each field's
/// value can be taken exactly as stored (a number keeps its digits, an object its keys' order)
/// and nothing else in it (KV v2's `metadata`) is built into a tree at all.
#[derive(Deserialize)]
struct SecretEnvelope<'body> {
    #[serde(borrow)]
    data: Option<&'body RawValue>,
    #[serde(default)]
    lease_duration: u64,
    /// Set for a real lease (a dynamic secret), which ends when its duration runs out; empty
    /// when `lease_duration` is only a refresh hint (a KV v1 `ttl`). Never logged.
    #[serde(default)]
    lease_id: String,
    #[serde(default)]
    renewable: bool,
}

/// KV v2's `data` object: the secret's own fields under `data` (`null` when the version is
/// deleted or destroyed) beside `metadata`, of which a read keeps the version number.
#[derive(Deserialize)]
struct KvV2Data<'body> {
    #[serde(borrow)]
    data: Option<&'body RawValue>,
    metadata: Option<VersionNumber>,
}

/// A KV v2 version that exists but cannot be read, from the 404 whose `data` holds no fields
/// and the version's metadata.
struct UnreadableVersion {
    number: u64,
    /// When it was soft-deleted (`kv undelete` restores it); `None` when destroyed for good.
    deleted_at: Option<String>,
}

impl UnreadableVersion {
    /// From a 404's body; `None` for any other 404 (no such secret, or no such version).
    fn from_body(body: &[u8]) -> Option<Self> {
        #[derive(Deserialize)]
        struct Version {
            #[serde(default)]
            deletion_time: String,
            #[serde(default)]
            destroyed: bool,
            version: u64,
        }
        #[derive(Deserialize)]
        struct Data {
            metadata: Option<Version>,
        }
        #[derive(Deserialize)]
        struct Answer {
            data: Option<Data>,
        }
        let version = serde_json::from_slice::<Answer>(body).ok()?.data?.metadata?;
        let deleted_at = match (version.destroyed, version.deletion_time.as_str()) {
            (true, _) => None,
            (false, "") => return None,
            (false, at) => Some(format!("{}Z", at.split('.').next().unwrap_or_default().trim_end_matches('Z'))),
        };
        Some(Self { number: version.version, deleted_at })
    }

    /// Why it cannot be read, with how to bring it back where that can be done; its number
    /// named when `latest` (a read that did not ask for one).
    fn describe(&self, latest: bool) -> String {
        let number = self.number;
        let which = if latest { format!("its latest version, {number}, ") } else { String::new() };
        match &self.deleted_at {
            Some(at) => format!("{which}deleted at {at}; {UNDELETE_HINT}{number}` restores it"),
            None => format!("{which}destroyed"),
        }
    }
}

/// Whether `error` is a read of a KV v2 secret whose latest version is deleted and can be
/// restored (`kv undelete`): "not found", where a write of one key is refused.
#[must_use]
pub fn is_soft_deleted(error: &ProviderError) -> bool {
    matches!(error, ProviderError::NotFound { what } if what.contains(UNDELETE_HINT))
}

/// How [`UnreadableVersion::describe`] says a deleted version can be restored.
const UNDELETE_HINT: &str = "`kv undelete -versions=";

/// Why a redirect (to `next`, after the URLs `before` it) is not followed, as the Vault CLI
/// decides: one redirect is (a standby node naming the active one; the token goes along), a
/// second is not, nor one from https to http, which would send the token in the clear.
fn redirect_refusal(before: &[reqwest::Url], next: &reqwest::Url) -> Option<&'static str> {
    if before.last().is_some_and(|from| from.scheme() == "https") && next.scheme() != "https" {
        return Some("Vault redirected from https to http, which would send the token in the clear: not followed");
    }
    (before.len() > 1).then_some("Vault redirected more than once: not followed")
}

/// A response: status and body (the body may hold secrets, so it is wiped on drop).
struct Response {
    status: StatusCode,
    /// `Retry-After` in seconds, on a 429 or 503.
    retry_after: Option<Duration>,
    body: Zeroizing<Vec<u8>>,
}

impl Response {
    /// The parsed body; `what` names the request in the error, and is only asked for then.
    fn envelope(&self, what: impl FnOnce() -> String) -> Result<Envelope, ProviderError> {
        serde_json::from_slice(&self.body).map_err(|error| ProviderError::Invalid {
            what: what(),
            reason: format!("not a Vault JSON response ({})", super::json_error_position(&error)),
        })
    }

    /// Vault's own error text (it names no values), shortened.
    fn errors(&self) -> String {
        let errors = serde_json::from_slice::<Envelope>(&self.body).map(|envelope| envelope.errors).unwrap_or_default();
        // Vault wraps messages as "1 error occurred:\n\t* permission denied\n\n": keep the words.
        let mut text = errors
            .iter()
            .map(|error| {
                let flat = error.split_whitespace().collect::<Vec<_>>().join(" ");
                match flat.split_once(" occurred: * ") {
                    Some((_, rest)) => rest.replace(" * ", "; "),
                    None => flat,
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
        if text.is_empty() {
            text = format!("HTTP {}", self.status);
        }
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
}

impl VaultStore {
    /// Builds the store's client. No request is made until the first fetch.
    pub fn new(
        store: StoreRef,
        settings: &StoreSettings,
        max_concurrency: usize,
        bootstrap: ProviderSet,
    ) -> Result<Self, String> {
        let label = match &store {
            StoreRef::Named(name) => format!("store `{name}`"),
            StoreRef::Default => "the default Vault store".to_owned(),
            StoreRef::Address(address) => format!("Vault at {}", crate::redact::url(address)),
        };
        let address = settings
            .address
            .clone()
            .ok_or_else(|| format!("{label} has no address: set `address` on a store, or VAULT_ADDR / BAO_ADDR"))?;
        let shown = crate::redact::url(&address);
        let mut base = reqwest::Url::parse(&address).map_err(|error| match address.contains("://") {
            true => format!("{label}: invalid address {shown:?}: {error}"),
            false => format!("{label}: address {shown:?} has no scheme: write http://{shown} or https://{shown}"),
        })?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(format!("{label}: address {shown:?} must be http:// or https://"));
        }
        crate::install_crypto_provider();
        let timeout = settings.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let mut builder = reqwest::Client::builder()
            .http1_only()
            .pool_max_idle_per_host(max_concurrency.max(1))
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .timeout(timeout)
            .user_agent(concat!("secret-render/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                match redirect_refusal(attempt.previous(), attempt.url()) {
                    Some(reason) => attempt.error(reason),
                    None => attempt.follow(),
                }
            }));
        let Proxies { proxies, shown: proxy } =
            proxies_from_environment(&label, base.scheme(), base.host_str().unwrap_or_default())?;
        if proxies.is_empty() {
            builder = builder.no_proxy();
        }
        for proxy in proxies {
            builder = builder.proxy(proxy);
        }
        let tls = &settings.tls;
        let mut pems = Vec::new();
        if let Some(file) = &tls.ca_file {
            let pem = crate::provider::file::read_regular_file(file)
                .map_err(|error| format!("{label}: cannot read ca_file {}: {error}", file.display()))?;
            pems.push((format!("ca_file {}", file.display()), pem.to_vec()));
        }
        if let Some(pem) = &tls.ca_cert {
            pems.push(("ca_cert".to_owned(), pem.clone().into_bytes()));
        }
        let mut roots = Vec::new();
        for (source, pem) in pems {
            let certificates = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|error| format!("{label}: invalid CA certificate in {source}: {error}"))?;
            // Trusting nothing given would fall back to the system's roots, and fail later as
            // an unknown issuer far from the cause.
            if certificates.is_empty() {
                return Err(format!("{label}: {source} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"));
            }
            roots.extend(certificates);
        }
        // A given CA is the only one trusted (as VAULT_CACERT means for the Vault CLI); plain
        // http needs no roots at all, which spares loading the system's on every start.
        if !roots.is_empty() || base.scheme() == "http" {
            builder = builder.tls_certs_only(roots);
        }
        if tls.insecure_skip_verify {
            // Once per store and process: `render` builds the default store's client twice (for
            // the early fetches and for the rest), and `run`/`watch` again at each config reload.
            static WARNED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
            let mut warned = WARNED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if !warned.contains(&label) {
                tracing::warn!(store = %label, "insecure_skip_verify: the Vault server's TLS certificate is not verified");
                warned.push(label.clone());
            }
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        let origin = match proxy {
            Some(proxy) => format!("{}, {proxy}", base.origin().ascii_serialization()),
            None => base.origin().ascii_serialization(),
        };
        if let Some(server_name) = &tls.tls_server_name {
            // Verify the certificate against `tls_server_name` while connecting to the address's
            // host: ask for the server name, and resolve it to where the address points, at
            // each connection (a name that does not resolve at start is retried like any
            // unreachable store, and a failover is followed).
            // An IPv6 literal comes bracketed (`[::1]`), which name resolution does not take.
            let host = base.host_str().ok_or_else(|| format!("{label}: address has no host"))?;
            let host = host.strip_prefix('[').and_then(|host| host.strip_suffix(']')).unwrap_or(host).to_owned();
            builder = builder.dns_resolver(ServerNameResolver { server_name: server_name.clone(), host });
            base.set_host(Some(server_name)).map_err(|error| format!("{label}: invalid tls_server_name: {error}"))?;
        }
        let login = auth::Login::new(&settings.auth, bootstrap, &label)?;
        if let Some(identity) = login.client_identity()? {
            builder = builder.identity(identity);
        }
        let http = builder.build().map_err(|error| format!("{label}: cannot build the HTTP client: {error}"))?;
        let mut path = base.path().trim_end_matches('/').to_owned();
        path.push_str("/v1/");
        base.set_path(&path);
        Ok(Self {
            label,
            store,
            base,
            origin,
            http,
            namespace: settings.namespace.clone(),
            kv_version: settings.kv_version,
            timeout,
            login,
            mounts: tokio::sync::Mutex::new(HashMap::new()),
            leases: std::sync::Mutex::new(HashMap::new()),
            renewal_refused_to: std::sync::Mutex::new(None),
            read_versions: std::sync::Mutex::new(HashMap::new()),
            upkeep_backoff: std::sync::Mutex::new((0, None)),
        })
    }

    /// Sends one request. `token` is sent as `X-Vault-Token`, marked sensitive.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&[u8]>,
        token: Option<&Secret>,
    ) -> Result<Response, ProviderError> {
        // Each segment percent-encoded: a path is a name, and `odd path/a#b?c` must not become
        // the path `odd path/a` with a fragment, nor `%2F` a separator.
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| ProviderError::Invalid {
                what: self.label.clone(),
                reason: "the address cannot take a path".into(),
            })?
            .pop_if_empty()
            .extend(path.split('/'));
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(key, value)| (*key, value.as_str())));
        }
        let mut request = self.http.request(method, url).header("X-Vault-Request", "true");
        if let Some(namespace) = &self.namespace {
            request = request.header("X-Vault-Namespace", namespace);
        }
        if let Some(token) = token {
            let mut value =
                reqwest::header::HeaderValue::from_bytes(token.expose()).map_err(|_| ProviderError::Invalid {
                    what: self.label.clone(),
                    reason: "the token is not a valid HTTP header value".into(),
                })?;
            value.set_sensitive(true);
            request = request.header("X-Vault-Token", value);
        }
        if let Some(body) = body {
            request = request.header("Content-Type", "application/json").body(body.to_vec());
        }
        let what = || format!("{} ({})", self.label, self.origin);
        let response = request.send().await.map_err(|error| self.transport_error(&error, what()))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok()?.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = response.bytes().await.map_err(|error| self.transport_error(&error, what()))?;
        Ok(Response { status, retry_after, body: Zeroizing::new(bytes.to_vec()) })
    }

    fn transport_error(&self, error: &reqwest::Error, what: String) -> ProviderError {
        super::transport_error(error, what, self.timeout)
    }

    /// A GET with the store's token (see [`VaultStore::authorized`]).
    async fn authorized_get(&self, path: &str, query: &[(&str, String)]) -> Result<Response, ProviderError> {
        self.authorized(Method::GET, path, query, None).await
    }

    /// A request with the store's token; a 403 triggers one fresh login and one retry when the
    /// store can log in again and the token itself was refused.
    async fn authorized(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&[u8]>,
    ) -> Result<Response, ProviderError> {
        self.authorized_as(method, path, query, body).await.map(|(response, _)| response)
    }

    /// [`VaultStore::authorized`], with the token that made the request that answered.
    async fn authorized_as(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&[u8]>,
    ) -> Result<(Response, Secret), ProviderError> {
        let token = self.login.token(self).await?;
        let response = self.send(method.clone(), path, query, body, Some(&token)).await?;
        if response.status == StatusCode::FORBIDDEN && self.login.can_log_in_again() && !self.token_valid(&token).await
        {
            // The token itself was refused (revoked, expired early): one fresh login and retry.
            // A path the policy does not cover leaves a valid token, and its 403 stands.
            tracing::info!(store = %self.label, path, "the token was refused: logging in again and retrying once");
            self.login.invalidate(&token).await;
            let token = self.login.token(self).await?;
            let response = self.send(method, path, query, body, Some(&token)).await?;
            return Ok((response, token));
        }
        if response.status == StatusCode::FORBIDDEN
            && let Some(given) = self.login.given_token_replaced(&token).await
        {
            // A given token was refused and another is given now (a rewritten token_file): one
            // retry with it, instead of the old one refused until the next config reload.
            let response = self.send(method, path, query, body, Some(&given)).await?;
            return Ok((response, given));
        }
        Ok((response, token))
    }

    /// When the token's upkeep is due, before any backoff (see [`auth::Login::next_upkeep`]).
    fn next_upkeep_unbacked(&self) -> Option<std::time::Instant> {
        let holds_leases = !self.leases.lock().expect("not poisoned").is_empty();
        self.login.next_upkeep(holds_leases)
    }

    /// `fetched`'s lease and end, from a lease of `duration` granted at `asked_at` to `token`.
    /// Vault revokes a token's leases with it, so the value is refreshed before the token's
    /// current end (which renews the token, or has it replaced); the published end is the
    /// token's only when no renewal can move it. A given token's TTL is looked up first if it
    /// is not known yet.
    async fn set_lease(&self, fetched: &mut Fetched, duration: Duration, asked_at: SystemTime, token: &Secret) {
        self.login.learn_ttl(self, false).await;
        let life = self.login.lifetime_left(token).await;
        let until_token = life.left.map_or(duration, |left| duration.min(left));
        fetched.lease = Some(until_token);
        fetched.expires_at = Some(asked_at + if life.fixed { until_token } else { duration });
    }

    /// Whether Vault still accepts `token` (`lookup-self`, which the default policy allows).
    async fn token_valid(&self, token: &Secret) -> bool {
        match self.send(Method::GET, "auth/token/lookup-self", &[], None, Some(token)).await {
            Ok(response) => response.status != StatusCode::FORBIDDEN,
            Err(_) => true,
        }
    }

    /// The KV version set on the store (`kv_version`), which holds for all its mounts.
    fn configured_kv_version(&self) -> Option<KvVersion> {
        self.kv_version.map(|version| if version == 1 { KvVersion::V1 } else { KvVersion::V2 })
    }

    /// The KV version of `mount` if it is configured or already known, without asking.
    async fn known_kv_version(&self, mount: &str) -> Option<KvVersion> {
        if let Some(version) = self.configured_kv_version() {
            return Some(version);
        }
        self.mounts.lock().await.get(mount).and_then(|cell| cell.get().copied())
    }

    /// The KV version of `mount`, asked once per store and mount.
    async fn kv_version(&self, mount: &str) -> Result<KvVersion, ProviderError> {
        if let Some(version) = self.configured_kv_version() {
            return Ok(version);
        }
        let cell = self.mounts.lock().await.entry(mount.to_owned()).or_default().clone();
        cell.get_or_try_init(|| self.detect_kv_version(mount)).await.copied()
    }

    async fn detect_kv_version(&self, mount: &str) -> Result<KvVersion, ProviderError> {
        let what = format!("{} mount {mount}", self.label);
        let response = self.authorized_get(&format!("sys/internal/ui/mounts/{mount}"), &[]).await?;
        match response.status {
            StatusCode::OK => {}
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => {
                tracing::warn!(
                    store = %self.label,
                    mount,
                    "cannot read sys/internal/ui/mounts/{mount} ({}): the mount does not exist, or the token may not \
                     read its settings; assuming KV v2 (a store's `kv_version` says which)",
                    response.errors()
                );
                return Ok(KvVersion::V2);
            }
            _ => return Err(self.status_error(&response, what)),
        }
        let envelope = response.envelope(|| what.clone())?;
        let data = envelope.data.unwrap_or_default();
        let kind = data.get("type").and_then(serde_json::Value::as_str).unwrap_or_default();
        let version = data.pointer("/options/version").and_then(serde_json::Value::as_str).unwrap_or("1");
        match (kind, version) {
            ("kv", "2") => Ok(KvVersion::V2),
            ("kv" | "generic", _) => Ok(KvVersion::V1),
            (other, _) => Err(ProviderError::Invalid {
                what,
                reason: format!(
                    "the mount is a `{other}` mount, not KV; read it with `engine: generic` and its full path"
                ),
            }),
        }
    }

    /// Maps an unexpected status to the error an operator can act on.
    fn status_error(&self, response: &Response, what: String) -> ProviderError {
        let reason = response.errors();
        match response.status {
            // Vault answers a plain miss with no errors; one with errors says what is missing
            // besides the secret ("namespace not found").
            StatusCode::NOT_FOUND if reason.starts_with("HTTP ") => ProviderError::NotFound { what },
            StatusCode::NOT_FOUND => ProviderError::NotFound { what: format!("{what} (Vault says: {reason})") },
            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => ProviderError::PermissionDenied { what, reason },
            status if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS => match response.retry_after
            {
                Some(retry_after) => {
                    ProviderError::RateLimited { what, reason: format!("HTTP {status}: {reason}"), retry_after }
                }
                None => ProviderError::Unreachable { what, reason: format!("HTTP {status}: {reason}") },
            },
            StatusCode::PROXY_AUTHENTICATION_REQUIRED => ProviderError::Invalid {
                what,
                reason:
                    "the proxy asks for credentials (HTTP 407): give them in its URL, http://USER:PASSWORD@HOST:PORT"
                        .into(),
            },
            status => ProviderError::Invalid { what, reason: format!("HTTP {status}: {reason}") },
        }
    }

    async fn read(&self, location: &VaultLocation) -> Result<Fetched, ProviderError> {
        if location.engine == Engine::Generic {
            if let Some(renewed) = self.renew(location).await {
                return renewed;
            }
            return self.read_as(location, None).await;
        }
        let read = if let Some(kv) = self.known_kv_version(&location.mount).await {
            self.read_as(location, Some(kv)).await
        } else {
            // The first reads of a mount do not wait a round trip for its KV version: they read
            // it as KV v2 (the default since Vault 1.1) while the version is asked, and the
            // answer is used only if the mount is v2. On a v1 mount it is dropped unseen and read
            // again.
            let (kv, as_v2) =
                tokio::join!(self.kv_version(&location.mount), self.read_as(location, Some(KvVersion::V2)));
            match kv? {
                KvVersion::V2 => as_v2,
                KvVersion::V1 => self.read_as(location, Some(KvVersion::V1)).await,
            }
        };
        match read {
            Err(ProviderError::NotFound { what }) => {
                Err(ProviderError::NotFound { what: self.mount_hint(location, what).await })
            }
            other => other,
        }
    }

    /// `what` with a hint when a secret not found under the default mount starts with the name
    /// of a mount of its own (`kv1/app`, as `bao kv get kv1/app` takes it): the CLI finds the
    /// mount from the path, a provider map names it with `mount`. Asked only after a miss.
    async fn mount_hint(&self, location: &VaultLocation, what: String) -> String {
        let Some((first, rest)) = location.path.split_once('/').filter(|_| location.mount == DEFAULT_MOUNT) else {
            return what;
        };
        let Ok(response) = self.authorized_get(&format!("sys/internal/ui/mounts/{first}"), &[]).await else {
            return what;
        };
        let mount = (response.status == StatusCode::OK)
            .then(|| response.envelope(String::new).ok()?.data?.get("path")?.as_str().map(str::to_owned))
            .flatten();
        if mount.as_deref() == Some(&format!("{first}/")) {
            format!("{what} (`{first}` is a mount of its own: write `mount: {first}, path: {rest}`)")
        } else {
            what
        }
    }

    /// Reads `location` as a KV mount of version `kv`, or as a generic secret engine (`None`).
    async fn read_as(&self, location: &VaultLocation, kv: Option<KvVersion>) -> Result<Fetched, ProviderError> {
        // Named only when something goes wrong: most reads succeed.
        let what = || location.to_string();
        let (path, query, kv2) = match kv {
            None => (location.path.clone(), Vec::new(), false),
            Some(KvVersion::V2) => {
                let query = location.version.map(|version| vec![("version", version.to_string())]).unwrap_or_default();
                (format!("{}/data/{}", location.mount, location.path), query, true)
            }
            Some(KvVersion::V1) if location.version.is_some() => {
                return Err(ProviderError::Invalid {
                    what: what(),
                    reason: format!("mount `{}` is KV v1, which has no versions", location.mount),
                });
            }
            Some(KvVersion::V1) => (format!("{}/{}", location.mount, location.path), Vec::new(), false),
        };
        // A lease granted during the request ends no earlier than its duration after this.
        let asked_at = SystemTime::now();
        let (response, token) = self.authorized_as(Method::GET, &path, &query, None).await?;
        if response.status == StatusCode::NOT_FOUND
            && kv2
            && let Some(gone) =
                UnreadableVersion::from_body(&response.body).map(|version| version.describe(location.version.is_none()))
        {
            return Err(ProviderError::NotFound { what: format!("{} ({gone})", what()) });
        }
        if response.status != StatusCode::OK {
            return Err(self.status_error(&response, what()));
        }
        let not_json = |error: serde_json::Error| ProviderError::Invalid {
            what: what(),
            reason: format!("not a Vault JSON response ({})", super::json_error_position(&error)),
        };
        let mut envelope: SecretEnvelope<'_> = serde_json::from_slice(&response.body).map_err(not_json)?;
        let mut data = envelope.data;
        if kv2 {
            let inner = match data {
                Some(data) => {
                    let kv = serde_json::from_str::<KvV2Data<'_>>(data.get()).map_err(not_json)?;
                    if location.version.is_none()
                        && let Some(metadata) = &kv.metadata
                    {
                        self.read_versions
                            .lock()
                            .expect("not poisoned")
                            .insert((location.mount.clone(), location.path.clone()), metadata.version);
                    }
                    kv.data
                }
                None => None,
            };
            data = Some(inner.ok_or_else(|| ProviderError::NotFound {
                what: format!("{} (the version is deleted or destroyed)", what()),
            })?);
        }
        let no_object = || ProviderError::Invalid { what: what(), reason: "the response has no `data` object".into() };
        let fields = data.ok_or_else(no_object)?;
        let fields = super::json_object::fields(fields.get().as_bytes()).map_err(|_| no_object())?;
        let mut fetched = Fetched::fields(fields);
        if envelope.lease_duration > 0 {
            let lease = Duration::from_secs(envelope.lease_duration);
            if envelope.lease_id.is_empty() {
                // A KV v1 `ttl`: a refresh hint, not a lease that ends.
                fetched.lease = Some(lease);
            } else {
                self.set_lease(&mut fetched, lease, asked_at, &token).await;
            }
        }
        if kv.is_none() {
            let mut leases = self.leases.lock().expect("not poisoned");
            let renewable = envelope.renewable
                && self
                    .renewal_refused_to
                    .lock()
                    .expect("not poisoned")
                    .as_ref()
                    .is_none_or(|refused| *refused != token);
            if !envelope.lease_id.is_empty() && envelope.lease_duration > 0 {
                let granted = Duration::from_secs(envelope.lease_duration);
                let held = HeldLease {
                    id: Zeroizing::new(std::mem::take(&mut envelope.lease_id)),
                    token,
                    renewable,
                    granted,
                    ends: asked_at + granted,
                    content: fetched.content.clone(),
                };
                leases.insert(location.clone(), held);
            } else {
                leases.remove(location);
            }
        }
        Ok(fetched)
    }

    /// The held lease of `location` renewed (`sys/leases/renew`, which the default policy
    /// allows), with the value it leases: dynamic credentials stay the same, and nothing is
    /// reloaded, for as long as Vault extends them. A lease Vault will not extend is kept as it
    /// is while more than a third of it is left (the refresh only kept its token alive). `None`
    /// when no lease is held, when Vault no longer extends it by at least half of its first
    /// duration (its `max_ttl` is near, or it is gone) or a lease it does not extend has a
    /// third left, or when the token that read it is no longer the store's (a new login: the
    /// lease ends with the old token): new credentials are read then, while the old ones still
    /// work.
    async fn renew(&self, location: &VaultLocation) -> Option<Result<Fetched, ProviderError>> {
        let (id, granted, reader, renewable, ends) = {
            let leases = self.leases.lock().expect("not poisoned");
            let held = leases.get(location)?;
            (held.id.clone(), held.granted, held.token.clone(), held.renewable, held.ends)
        };
        // Renewing the token when due, or logging in again, happens here.
        let token = match self.login.token(self).await {
            Ok(token) => token,
            Err(error) => return Some(Err(error)),
        };
        if token != reader {
            tracing::debug!(location = %location, "the lease's token is no longer in use: reading new credentials");
            self.leases.lock().expect("not poisoned").remove(location);
            return None;
        }
        if !renewable {
            let now = SystemTime::now();
            let left = ends.duration_since(now).unwrap_or_default();
            let content = {
                let mut leases = self.leases.lock().expect("not poisoned");
                if left * 3 < granted {
                    leases.remove(location);
                    return None;
                }
                leases.get(location)?.content.clone()
            };
            let mut fetched = Fetched { content, ..Fetched::fields(BTreeMap::new()) };
            self.set_lease(&mut fetched, left, now, &reader).await;
            return Some(Ok(fetched));
        }
        let body = Zeroizing::new(
            serde_json::json!({"lease_id": id.as_str(), "increment": granted.as_secs()}).to_string().into_bytes(),
        );
        let asked_at = SystemTime::now();
        let (response, token) = match self.authorized_as(Method::PUT, "sys/leases/renew", &[], Some(&body)).await {
            Ok(answered) => answered,
            Err(error) => return Some(Err(error)),
        };
        if response.status == StatusCode::FORBIDDEN {
            let refused = self.renewal_refused_to.lock().expect("not poisoned").replace(token.clone());
            if refused.as_ref() != Some(&token) {
                tracing::warn!(
                    store = %self.label,
                    "Vault refused to renew a lease (403: the token's policies lack `update` on \
                     sys/leases/renew, or the token is no longer valid): while this token is in use, \
                     dynamic credentials are read anew once two thirds of their lease have passed"
                );
            }
            self.leases.lock().expect("not poisoned").clear();
        }
        let extended = (response.status == StatusCode::OK)
            .then(|| response.envelope(|| location.to_string()).ok())
            .flatten()
            .map(|envelope| Duration::from_secs(envelope.lease_duration))
            .filter(|duration| *duration * 2 >= granted);
        let (content, duration) = {
            let mut leases = self.leases.lock().expect("not poisoned");
            let Some(duration) = extended else {
                tracing::debug!(location = %location, status = %response.status, "the lease was not extended: reading new credentials");
                leases.remove(location);
                return None;
            };
            // Forgotten meanwhile (an auth failure): read afresh.
            let held = leases.get_mut(location)?;
            held.ends = asked_at + duration;
            tracing::debug!(location = %location, lease_secs = duration.as_secs(), "renewed the lease");
            (held.content.clone(), duration)
        };
        let mut fetched = Fetched { content, ..Fetched::fields(BTreeMap::new()) };
        // The lease ends with the token that read it, whichever token renewed it.
        self.set_lease(&mut fetched, duration, asked_at, &reader).await;
        Some(Ok(fetched))
    }
}

/// Writing (`put`, `delete`): KV v2 writes a new version with check-and-set on the version it
/// read, so a concurrent writer's update is refused rather than lost; KV v1 replaces the map.
impl VaultStore {
    /// A write with the store's token, retried once after a fresh login like a read.
    async fn authorized_send(
        &self,
        method: Method,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<Response, ProviderError> {
        self.authorized(method, path, &[], body).await
    }

    /// A KV document as it stands before a write (see [`Current`]).
    async fn current(&self, location: &VaultLocation, kv: KvVersion) -> Result<Current, ProviderError> {
        let what = location.to_string();
        let path = match kv {
            KvVersion::V2 => format!("{}/data/{}", location.mount, location.path),
            KvVersion::V1 => format!("{}/{}", location.mount, location.path),
        };
        let response = self.authorized_get(&path, &[]).await?;
        if response.status == StatusCode::NOT_FOUND {
            // A KV v2 document whose latest version is deleted answers 404 with its metadata.
            let (version, gone) = match kv {
                // A destroyed version's keys are gone for good: a write has nothing to keep.
                KvVersion::V2 => match UnreadableVersion::from_body(&response.body) {
                    Some(version) if version.deleted_at.is_some() => (version.number, Some(version.describe(true))),
                    Some(version) => (version.number, None),
                    None => (0, None),
                },
                KvVersion::V1 => (0, None),
            };
            return Ok(Current { fields: None, version, gone });
        }
        if response.status != StatusCode::OK {
            return Err(self.status_error(&response, what));
        }
        let not_json = |error: serde_json::Error| ProviderError::Invalid {
            what: what.clone(),
            reason: format!("not a Vault JSON response ({})", super::json_error_position(&error)),
        };
        let envelope: SecretEnvelope<'_> = serde_json::from_slice(&response.body).map_err(not_json)?;
        let (fields, version) = match (kv, envelope.data) {
            (KvVersion::V2, Some(data)) => {
                let read: KvV2Current<'_> = serde_json::from_str(data.get()).map_err(not_json)?;
                (read.data, read.metadata.map_or(0, |metadata| metadata.version))
            }
            (_, data) => (data, 0),
        };
        // Kept as the text Vault sent, so that a write of one key leaves the others' as they were.
        let fields = fields.map(|fields| Zeroizing::new(fields.get().as_bytes().to_vec()));
        Ok(Current { fields, version, gone: None })
    }

    /// Writes `fields` (a JSON object's text) as the document's new content, with check-and-set
    /// on `cas` on KV v2; returns the new KV v2 version.
    async fn write_fields(
        &self,
        location: &VaultLocation,
        kv: KvVersion,
        fields: &[u8],
        cas: u64,
    ) -> Result<super::PutOutcome, ProviderError> {
        let what = location.to_string();
        let mut body = Zeroizing::new(Vec::with_capacity(fields.len() + 32));
        let path = match kv {
            KvVersion::V2 => {
                body.extend_from_slice(format!("{{\"options\":{{\"cas\":{cas}}},\"data\":").as_bytes());
                body.extend_from_slice(fields);
                body.push(b'}');
                format!("{}/data/{}", location.mount, location.path)
            }
            KvVersion::V1 => {
                body.extend_from_slice(fields);
                format!("{}/{}", location.mount, location.path)
            }
        };
        let response = self.authorized_send(Method::POST, &path, Some(&body)).await?;
        if response.status == StatusCode::BAD_REQUEST && response.errors().contains("check-and-set") {
            return Err(ProviderError::WriteRefused {
                what,
                reason: "another writer created a new version meanwhile (check-and-set refused); try again".into(),
            });
        }
        if !response.status.is_success() {
            return Err(self.status_error(&response, what));
        }
        let version = match kv {
            KvVersion::V2 => response
                .envelope(|| what.clone())?
                .data
                .and_then(|data| data.get("version").and_then(serde_json::Value::as_u64)),
            KvVersion::V1 => None,
        };
        // The next write in this process (another key `extract` moves here) goes on from it.
        let read = (location.mount.clone(), location.path.clone());
        match version {
            Some(version) => self.read_versions.lock().expect("not poisoned").insert(read, version),
            None => self.read_versions.lock().expect("not poisoned").remove(&read),
        };
        Ok(super::PutOutcome { version: version.map(|version| version.to_string()), note: None })
    }

    fn writable(location: &Location) -> Result<&VaultLocation, ProviderError> {
        let location: &VaultLocation = location.own();
        if location.engine == Engine::Generic || location.version.is_some() {
            return Err(ProviderError::Invalid {
                what: location.to_string(),
                reason: "only a KV secret without `version` can be written".into(),
            });
        }
        Ok(location)
    }

    /// Refuses a KV v2 write whose own read found another version than this process's last read
    /// of the secret (which `rotate` or `extract` decided on): another writer added it between
    /// the two, and check-and-set on the second read alone would write over it.
    fn changed_since_read(&self, location: &VaultLocation, kv: KvVersion, current: u64) -> Result<(), ProviderError> {
        if kv != KvVersion::V2 {
            return Ok(());
        }
        let read = self
            .read_versions
            .lock()
            .expect("not poisoned")
            .get(&(location.mount.clone(), location.path.clone()))
            .copied();
        match read {
            Some(read) if read != current => Err(ProviderError::WriteRefused {
                what: location.to_string(),
                reason: format!(
                    "another writer made version {current} since version {read} was read (the value this write \
                     was decided on); try again"
                ),
            }),
            _ => Ok(()),
        }
    }

    async fn put_field(
        &self,
        location: &VaultLocation,
        key: Option<&str>,
        value: &Secret,
    ) -> Result<super::PutOutcome, ProviderError> {
        let what = location.to_string();
        let text = value.expose_str().ok_or_else(|| ProviderError::Invalid {
            what: what.clone(),
            reason: "Vault stores text: the value is not UTF-8".into(),
        })?;
        let kv = self.kv_version(&location.mount).await?;
        let current = self.current(location, kv).await.map_err(ProviderError::in_read_before_write)?;
        self.changed_since_read(location, kv, current.version)?;
        if let Some(gone) = current.gone {
            // A new version of one key would drop the others the deleted version holds.
            return Err(ProviderError::WriteRefused {
                what,
                reason: format!("{gone}, and a new version would hold none of its keys"),
            });
        }
        let not_an_object = |reason: String| super::json_object::not_an_object(what.clone(), "a JSON object", &reason);
        let names = match &current.fields {
            Some(fields) => super::json_object::field_names(fields).map_err(not_an_object)?,
            None => Vec::new(),
        };
        let key = match key {
            Some(key) => key.to_owned(),
            None if names.len() == 1 => names[0].clone(),
            None if names.is_empty() => {
                return Err(ProviderError::WriteRefused {
                    what,
                    reason: "it does not exist yet; a new secret needs the body's `key` to name its field".into(),
                });
            }
            None => return Err(ProviderError::KeyRequired { what, available: names }),
        };
        let fields = super::json_object::set_field(current.fields.as_deref().map(Vec::as_slice), &key, text)
            .map_err(not_an_object)?;
        self.write_fields(location, kv, &fields, current.version).await
    }

    async fn delete_field(
        &self,
        location: &VaultLocation,
        key: Option<&str>,
    ) -> Result<super::PutOutcome, ProviderError> {
        let what = location.to_string();
        let kv = self.kv_version(&location.mount).await?;
        let current = match self.current(location, kv).await {
            Ok(current) => Some(current),
            // A role that may delete and not read: the delete itself says what it may do.
            Err(ProviderError::PermissionDenied { .. }) if key.is_none() => None,
            Err(error) => return Err(ProviderError::in_read_before_write(error)),
        };
        if let Some(current) = &current {
            self.changed_since_read(location, kv, current.version)?;
        }
        if let Some(Current { fields: None, gone, .. }) = &current {
            let what = match gone {
                Some(gone) => format!("{what} ({gone})"),
                None => what,
            };
            return Err(ProviderError::NotFound { what });
        }
        if let Some(key) = key {
            let Some(Current { fields: Some(fields), version, .. }) = current else { unreachable!("read above") };
            let fields = super::json_object::remove_field(&fields, key)
                .map_err(|error| error.for_store(what.clone(), key, "a JSON object"))?;
            return self.write_fields(location, kv, &fields, version).await;
        }
        // KV v2: a soft delete of the version read (`vault kv undelete` brings it back), not of
        // whatever is latest by the time the request lands: a version another writer added
        // meanwhile stays.
        let response = match (kv, &current) {
            (KvVersion::V2, Some(Current { version, .. })) if *version > 0 => {
                let path = format!("{}/delete/{}", location.mount, location.path);
                let body = format!("{{\"versions\":[{version}]}}");
                self.authorized_send(Method::POST, &path, Some(body.as_bytes())).await?
            }
            (KvVersion::V2, _) => {
                let path = format!("{}/data/{}", location.mount, location.path);
                self.authorized_send(Method::DELETE, &path, None).await?
            }
            (KvVersion::V1, _) => {
                let path = format!("{}/{}", location.mount, location.path);
                self.authorized_send(Method::DELETE, &path, None).await?
            }
        };
        if !response.status.is_success() {
            return Err(self.status_error(&response, what));
        }
        let version = match (kv, &current) {
            (KvVersion::V2, Some(Current { version, .. })) if *version > 0 => Some(*version),
            _ => None,
        };
        Ok(super::PutOutcome {
            note: version.map(|version| {
                format!(
                    "soft-deleted version {version}: `vault kv undelete -versions={version} {}/{}` brings it back",
                    location.mount, location.path
                )
            }),
            ..super::PutOutcome::default()
        })
    }
}

/// A KV document as read before a write of it.
struct Current {
    /// Its fields: a JSON object's text as Vault sent it; `None` when there is no readable
    /// latest version.
    fields: Option<Zeroizing<Vec<u8>>>,
    /// Its latest version on KV v2 (0 when there is none), which a check-and-set write names.
    version: u64,
    /// Why a latest version that exists cannot be read: deleted or destroyed.
    gone: Option<String>,
}

/// KV v2's `data` object read before a write: the fields and the version they are.
#[derive(Deserialize)]
struct KvV2Current<'body> {
    #[serde(borrow)]
    data: Option<&'body RawValue>,
    metadata: Option<VersionNumber>,
}

#[derive(Deserialize)]
struct VersionNumber {
    version: u64,
}

impl super::Provider for VaultStore {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Vault
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

    fn forget(&self, location: &Location) {
        self.leases.lock().expect("not poisoned").remove(location.own::<VaultLocation>());
    }

    /// The held leases, and the login whose token read them (and which the daemon keeps
    /// renewing). The login is taken over only by a client of the same address, namespace and
    /// auth; elsewhere the leases' token is not the new client's, and their locations are read
    /// afresh.
    fn hand_over(&self) -> Option<Box<dyn std::any::Any + Send>> {
        let leases = std::mem::take(&mut *self.leases.lock().expect("not poisoned"));
        let login = self.login.hand_over();
        if leases.is_empty() && login.is_none() {
            return None;
        }
        let handover = Handover { base: self.base.clone(), namespace: self.namespace.clone(), login, leases };
        Some(Box::new(handover))
    }

    fn take_over(&self, state: Box<dyn std::any::Any + Send>) {
        let Ok(handover) = state.downcast::<Handover>() else { return };
        if let Some(login) =
            handover.login.filter(|_| handover.base == self.base && handover.namespace == self.namespace)
        {
            self.login.take_over(login);
        }
        self.leases.lock().expect("not poisoned").extend(handover.leases);
    }

    /// A given token's TTL, learnt beside the reads rather than before them.
    fn beside_reads(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.login.learn_ttl(self, true))
    }

    /// The token's renewal when half its TTL is left, even with nothing to fetch by then: a
    /// refresh interval longer than the token's TTL would otherwise find it gone (a given
    /// token cannot be replaced), and Vault revokes its leases with it.
    fn next_upkeep(&self) -> Option<std::time::Instant> {
        let due = self.next_upkeep_unbacked()?;
        let (_, retry_at) = *self.upkeep_backoff.lock().expect("not poisoned");
        Some(retry_at.map_or(due, |retry_at| due.max(retry_at)))
    }

    /// Renews (or replaces) the token, and learns the TTL of a given token read again; one that
    /// is still due afterwards is tried again after a backoff from 1 s, doubling, up to
    /// 5 minutes but within half of the token's remaining life, rather than at once.
    fn upkeep(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Err(error) = self.login.token(self).await {
                tracing::warn!(store = %self.label, %error, "cannot renew or replace the Vault token");
            }
            self.login.learn_ttl(self, true).await;
            let now = std::time::Instant::now();
            let still_due = self.next_upkeep_unbacked().is_some_and(|at| at <= now);
            let mut backoff = self.upkeep_backoff.lock().expect("not poisoned");
            *backoff = if still_due {
                let failures = backoff.0.saturating_add(1);
                let mut wait = crate::refresh::backoff(failures, Duration::from_secs(300));
                // While the token lives, the next try comes before it ends; once it has ended
                // (Vault down longer than its TTL), only the backoff paces the tries, or a
                // sealed Vault would get a renewal and a login every second.
                if let Some(left) = self.login.current_lifetime_left().filter(|left| !left.is_zero()) {
                    wait = wait.min(left / 2).max(Duration::from_secs(1));
                }
                (failures, Some(now + wait))
            } else {
                (0, None)
            };
        })
    }

    fn put<'a>(
        &'a self,
        location: &'a Location,
        key: Option<&'a str>,
        value: &'a Secret,
    ) -> BoxFuture<'a, Result<super::PutOutcome, ProviderError>> {
        Box::pin(async move { self.put_field(Self::writable(location)?, key, value).await })
    }

    fn delete<'a>(
        &'a self,
        location: &'a Location,
        key: Option<&'a str>,
    ) -> BoxFuture<'a, Result<super::PutOutcome, ProviderError>> {
        Box::pin(async move { self.delete_field(Self::writable(location)?, key).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_redirect_is_followed_but_never_from_https_to_http() {
        let url = |text: &str| reqwest::Url::parse(text).unwrap();
        let (standby, active) = (url("https://vault-1:8200/v1/x"), url("https://vault-0:8200/v1/x"));
        assert_eq!(redirect_refusal(std::slice::from_ref(&standby), &active), None);
        assert_eq!(redirect_refusal(&[url("http://vault-1:8200/v1/x")], &url("http://vault-0:8200/v1/x")), None);
        assert!(
            redirect_refusal(std::slice::from_ref(&standby), &url("http://vault-0:8200/v1/x"))
                .unwrap()
                .contains("https to http")
        );
        assert!(redirect_refusal(&[standby, active.clone()], &active).unwrap().contains("more than once"));
    }

    /// A body of the wrong shape (here a proxy's, with a token where Vault puts the `auth`
    /// object) is named by where it broke, never by what serde_json met there.
    #[test]
    fn a_malformed_response_is_reported_without_its_contents() {
        let body = br#"{"auth": "hvs.canary-token", "data": {"password": "canary-value"}}"#;
        let response = Response { status: StatusCode::OK, retry_after: None, body: Zeroizing::new(body.to_vec()) };
        let error = response.envelope(|| "vault read secret/data/x".into()).err().expect("not an envelope").to_string();
        assert!(error.contains("not a Vault JSON response (a value of the wrong type"), "{error}");
        assert!(!error.contains("canary"), "{error}");
    }
}
