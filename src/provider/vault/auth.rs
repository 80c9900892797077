//! Vault authentication: the `auth` block of a store (token, token_file, approle, kubernetes,
//! jwt/oidc, cert, or the environment's token), its bootstrapped secrets, and the one login per
//! store that every fetch shares, renewed before it expires and redone when renewal fails.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde::Deserialize;

use super::VaultStore;
use crate::provider::{Body, ParseContext, Problem, ProviderError, ProviderKind, ProviderSet, SecretSpec};
use crate::secret::Secret;
use crate::tree::{Node, NodeKind, YamlPath};

const SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// How long credentials Vault refused are not sent again. Vault locks a role out after a few
/// failed logins (OpenBao's default: 5 within 15 minutes, for 15 minutes), so retrying refused
/// credentials at every fetch and every retry would turn one typo into a lockout that then
/// refuses the right credentials too. Changed credentials (a fixed `secret_id` file) are sent
/// at once.
const REFUSED_LOGIN_PAUSE: Duration = Duration::from_secs(5 * 60);

/// A string in a store's auth settings: written inline, or itself a provider map (a
/// *bootstrapped secret*, resolved before the store logs in).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    Literal(Secret),
    Provider { spec: Box<SecretSpec>, path: YamlPath },
}

/// A credential without the whitespace at either end that `echo`, a here-string or an editor
/// leaves (as a `token_file` is read): no Vault token, role or secret id, or JWT holds any.
fn trimmed(credential: Secret) -> Secret {
    let bytes = credential.expose();
    let start = bytes.iter().position(|byte| !byte.is_ascii_whitespace()).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|byte| !byte.is_ascii_whitespace()).map_or(start, |last| last + 1);
    if (start, end) == (0, bytes.len()) { credential } else { Secret::new(bytes[start..end].to_vec()) }
}

impl SecretSource {
    /// Parses a string, or a provider map naming where the string is kept (any provider's auth
    /// settings use this).
    pub fn parse(node: &Node, path: &YamlPath, context: &ParseContext<'_>) -> Result<Self, Vec<Problem>> {
        source(node, path, context)
    }

    /// The string: as written, or fetched through `bootstrap`.
    pub async fn resolve(&self, bootstrap: &ProviderSet) -> Result<Secret, ProviderError> {
        match self {
            Self::Literal(secret) => Ok(secret.clone()),
            Self::Provider { spec, path } => crate::resolve::fetch_one(spec, bootstrap)
                .await
                .map_err(|source| ProviderError::Bootstrap { path: path.to_string(), source: Box::new(source) }),
        }
    }
}

/// How a store logs in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Auth {
    /// `VAULT_TOKEN`, `BAO_TOKEN`, then `~/.vault-token`.
    #[default]
    Default,
    Token(SecretSource),
    TokenFile(PathBuf),
    AppRole {
        mount: String,
        role_id: SecretSource,
        secret_id: Option<SecretSource>,
        secret_id_file: Option<PathBuf>,
    },
    Kubernetes {
        mount: String,
        role: String,
        jwt_file: PathBuf,
    },
    Jwt {
        mount: String,
        role: String,
        jwt: Option<SecretSource>,
        jwt_file: Option<PathBuf>,
    },
    Cert {
        mount: String,
        name: Option<String>,
        client_cert: PathBuf,
        client_key: PathBuf,
    },
}

impl Auth {
    /// Every bootstrapped secret of this auth block, with where it is written.
    #[must_use]
    pub fn bootstrap_specs(&self) -> Vec<(&SecretSpec, &YamlPath)> {
        let sources: Vec<&SecretSource> = match self {
            Self::Token(token) => vec![token],
            Self::AppRole { role_id, secret_id, .. } => std::iter::once(role_id).chain(secret_id).collect(),
            Self::Jwt { jwt: Some(jwt), .. } => vec![jwt],
            _ => Vec::new(),
        };
        sources
            .into_iter()
            .filter_map(|source| match source {
                SecretSource::Provider { spec, path } => Some((spec.as_ref(), path)),
                SecretSource::Literal(_) => None,
            })
            .collect()
    }

    /// Parses `auth: {METHOD: {…}}` (or `auth: {token: VALUE}`).
    pub fn parse(node: &Node, path: &YamlPath, context: &ParseContext<'_>) -> Result<Self, Vec<Problem>> {
        let problem = |message: String| vec![Problem { path: path.clone(), mark: node.mark, message }];
        let [entry] = node.as_mapping().unwrap_or_default() else {
            return Err(problem(
                "`auth` must be a mapping with one method: token, token_file, approle, kubernetes, jwt, oidc or cert"
                    .into(),
            ));
        };
        let method = entry.key.as_scalar().unwrap_or_default();
        let method_path = path.key(method);
        let dir = &context.config_dir;
        let absolute = |text: String| {
            let path = PathBuf::from(text);
            if path.is_absolute() { path } else { dir.join(path) }
        };
        match method {
            "token" => Ok(Self::Token(source(&entry.value, &method_path, context)?)),
            "token_file" => match entry.value.as_scalar() {
                Some(file) if !file.is_empty() => Ok(Self::TokenFile(absolute(file.to_owned()))),
                _ => Err(problem("`token_file` must be a path".into())),
            },
            "approle" | "kubernetes" | "jwt" | "oidc" | "cert" => {
                let mut body = Body::new(format!("`{method}` auth settings"), &method_path, &entry.value);
                if !matches!(entry.value.kind, NodeKind::Mapping(_)) {
                    return Err(problem(format!("`{method}` auth settings must be a mapping")));
                }
                let mount = body.string("mount").unwrap_or_else(|| method.to_owned()).trim_matches('/').to_owned();
                let auth = match method {
                    "approle" => {
                        let role_id = take_source(&mut body, "role_id", context, true);
                        let secret_id = take_source(&mut body, "secret_id", context, false);
                        let secret_id_file = body.string("secret_id_file").map(absolute);
                        body.finish(&["mount", "role_id", "secret_id", "secret_id_file"], false)?;
                        Self::AppRole { mount, role_id: role_id.expect("checked by finish"), secret_id, secret_id_file }
                    }
                    "kubernetes" => {
                        let role = body.required("role");
                        let jwt_file =
                            body.string("jwt_file").map_or_else(|| PathBuf::from(SERVICE_ACCOUNT_TOKEN), absolute);
                        body.finish(&["mount", "role", "jwt_file"], false)?;
                        Self::Kubernetes { mount, role: role.expect("checked by finish"), jwt_file }
                    }
                    "jwt" | "oidc" => {
                        let role = body.required("role");
                        let jwt = take_source(&mut body, "jwt", context, false);
                        let jwt_file = body.string("jwt_file").map(absolute);
                        if jwt.is_none() && jwt_file.is_none() && !body.has_problems() {
                            body.problem(body.mark(), format!("`{method}` auth needs `jwt` or `jwt_file`"));
                        }
                        body.finish(&["mount", "role", "jwt", "jwt_file"], false)?;
                        Self::Jwt { mount, role: role.expect("checked by finish"), jwt, jwt_file }
                    }
                    _ => {
                        let name = body.string("name");
                        let client_cert = body.required("client_cert").map(absolute);
                        let client_key = body.required("client_key").map(absolute);
                        body.finish(&["mount", "name", "client_cert", "client_key"], false)?;
                        Self::Cert {
                            mount,
                            name,
                            client_cert: client_cert.expect("checked by finish"),
                            client_key: client_key.expect("checked by finish"),
                        }
                    }
                };
                Ok(auth)
            }
            other => Err(problem(format!(
                "unknown auth method `{other}` (accepted: token, token_file, approle, kubernetes, jwt, oidc, cert)"
            ))),
        }
    }
}

fn take_source(body: &mut Body<'_>, key: &str, context: &ParseContext<'_>, required: bool) -> Option<SecretSource> {
    let path = body.path().key(key);
    match body.node(key) {
        Some(node) => match source(node, &path, context) {
            Ok(source) => Some(source),
            Err(problems) => {
                body.extend(problems);
                None
            }
        },
        None => {
            if required {
                body.problem(body.mark(), format!("missing the required key `{key}`"));
            }
            None
        }
    }
}

/// A string, or a provider map naming where the string is kept.
fn source(node: &Node, path: &YamlPath, context: &ParseContext<'_>) -> Result<SecretSource, Vec<Problem>> {
    let problem = |message: &str| vec![Problem { path: path.clone(), mark: node.mark, message: message.to_owned() }];
    match &node.kind {
        NodeKind::Scalar { text, .. } if !node.is_null() => Ok(SecretSource::Literal(Secret::from_text(text.clone()))),
        NodeKind::Mapping(entries) => {
            let [entry] = entries.as_slice() else {
                return Err(problem("must be a string or a provider map"));
            };
            let kind = entry.key.as_scalar().and_then(ProviderKind::from_name);
            match (kind, &entry.value.kind) {
                (Some(kind), NodeKind::Mapping(_)) => {
                    let spec = crate::provider::parse_spec(kind, &entry.value, path, context)?;
                    Ok(SecretSource::Provider { spec: Box::new(spec), path: path.clone() })
                }
                _ => Err(problem("must be a string or a provider map")),
            }
        }
        _ => Err(problem("must be a string or a provider map")),
    }
}

/// The `auth` part of a Vault response.
#[derive(Deserialize)]
pub(super) struct AuthInfo {
    client_token: String,
    #[serde(default)]
    lease_duration: u64,
    #[serde(default)]
    renewable: bool,
}

/// The token in use and when to renew it.
struct TokenState {
    token: Secret,
    obtained: Instant,
    /// Lifetime left when obtained; `None` for a token that never expires (e.g. root).
    lifetime: Option<Duration>,
    /// The token's full TTL, which sets when renewal is due.
    full_ttl: Duration,
    renewable: bool,
    /// Whether the token's end is fixed: it cannot be renewed, or a renewal was cut short by its
    /// max TTL. Until then renewals keep moving its end, and it is no lease's end to publish.
    end_fixed: bool,
    /// False for a given token until `lookup-self` has told its TTL (see [`Login::learn_ttl`]).
    ttl_known: bool,
    /// Whether its end, which no renewal moves, has been warned about (see
    /// [`Login::warn_of_a_fixed_end`]).
    end_warned: bool,
}

impl TokenState {
    fn from_auth(info: AuthInfo) -> Self {
        let lifetime = (info.lease_duration > 0).then(|| Duration::from_secs(info.lease_duration));
        Self {
            full_ttl: lifetime.unwrap_or_default(),
            token: Secret::from_text(info.client_token),
            obtained: Instant::now(),
            lifetime,
            renewable: info.renewable,
            end_fixed: !info.renewable,
            ttl_known: true,
            end_warned: false,
        }
    }

    /// A token handed to secret-render (VAULT_TOKEN, `token`, `token_file`): usable at once,
    /// treated as never expiring until [`Login::learn_ttl`] has looked it up.
    fn given(token: Secret) -> Self {
        Self {
            token,
            obtained: Instant::now(),
            lifetime: None,
            full_ttl: Duration::ZERO,
            renewable: false,
            end_fixed: false,
            ttl_known: false,
            end_warned: false,
        }
    }

    fn remaining(&self) -> Option<Duration> {
        self.lifetime.map(|lifetime| lifetime.saturating_sub(self.obtained.elapsed()))
    }

    /// When renewal becomes due, or, with `replace` (the store can log in again and something
    /// depends on this token), a new login for a token no renewal can extend; `None` when
    /// nothing is to be done ahead of time. A given token whose max TTL is near is left to run
    /// out rather than renewed by ever smaller steps.
    fn upkeep_at(&self, replace: bool) -> Option<Instant> {
        let renewals_help = self.renewable && !self.end_fixed;
        if !(renewals_help || replace) {
            return None;
        }
        self.lifetime.map(|lifetime| self.obtained + lifetime.saturating_sub(self.full_ttl / 2))
    }

    fn ends_at(&self) -> Option<Instant> {
        self.lifetime.map(|lifetime| self.obtained + lifetime)
    }

    /// Renewal is due once half the full TTL is left, so that a failed renewal still leaves
    /// time to log in again, and so that the refresh of a lease read with the token, due when a
    /// third of the token's life at the read is left (see `VaultStore::set_lease`), always finds
    /// it due.
    fn renewal_due(&self) -> bool {
        self.remaining().is_some_and(|remaining| remaining < self.full_ttl / 2)
    }

    fn expired(&self) -> bool {
        self.remaining().is_some_and(|remaining| remaining.is_zero())
    }

    /// Whether `renewed`, this token renewed, was granted clearly less than this token's full
    /// TTL: Vault caps a renewal at the token's max TTL, so the token's end is near and fixed.
    fn capped_by(&self, renewed: &Self) -> bool {
        renewed.lifetime.is_some_and(|lifetime| lifetime < self.full_ttl.mul_f64(0.9))
    }
}

/// What is known of a token's end ([`Login::lifetime_left`]).
pub(super) struct TokenLife {
    /// How long it lives as it stands: `None` when it never expires or its TTL is not known,
    /// zero when its end is not known (a token Vault refused, or one replaced before the last:
    /// it may already be gone).
    pub(super) left: Option<Duration>,
    /// Whether no renewal can move that end: the token cannot be renewed, a renewal was cut
    /// short by its max TTL, or it is no longer the store's token.
    pub(super) fixed: bool,
}

/// A store's login as [`Login::hand_over`] gives it to the client built for the same store
/// when the configs are read again.
pub(super) struct LoginHandover {
    auth: Auth,
    state: Option<TokenState>,
    /// A refused login, still not to be sent again with the same credentials.
    refused: Option<RefusedLogin>,
}

/// One store's login, shared by all its fetches.
pub(super) struct Login {
    auth: Auth,
    bootstrap: ProviderSet,
    label: String,
    state: tokio::sync::Mutex<Option<TokenState>>,
    /// The token the last login replaced while it still worked, and when it ends (`None`: not
    /// known to end), so that the leases it read are scheduled by its end until read again.
    retired: std::sync::Mutex<Option<(Secret, Option<Instant>)>>,
    /// Held while a given token's TTL is looked up, so that one lookup serves every fetch
    /// waiting on it; holds the token whose last lookup failed.
    learning: tokio::sync::Mutex<Option<Secret>>,
    /// The last login Vault refused (see [`REFUSED_LOGIN_PAUSE`]).
    refused: std::sync::Mutex<Option<RefusedLogin>>,
}

/// A login Vault refused: a digest of what was sent (never the credentials themselves), when,
/// and the error, given again instead of sending the same credentials.
struct RefusedLogin {
    credentials: [u8; 32],
    at: Instant,
    error: ProviderError,
}

impl Login {
    pub(super) fn new(auth: &Auth, bootstrap: ProviderSet, label: &str) -> Result<Self, String> {
        Ok(Self {
            auth: auth.clone(),
            bootstrap,
            label: label.to_owned(),
            state: tokio::sync::Mutex::new(None),
            retired: std::sync::Mutex::new(None),
            learning: tokio::sync::Mutex::new(None),
            refused: std::sync::Mutex::new(None),
        })
    }

    /// The client certificate for `cert` auth, presented on every connection.
    pub(super) fn client_identity(&self) -> Result<Option<reqwest::Identity>, String> {
        let Auth::Cert { client_cert, client_key, .. } = &self.auth else { return Ok(None) };
        let read = |path: &Path| {
            crate::provider::file::read_regular_file(path)
                .map_err(|error| format!("{}: cannot read {}: {error}", self.label, path.display()))
        };
        let mut pem = read(client_cert)?;
        pem.extend_from_slice(b"\n");
        pem.extend_from_slice(&read(client_key)?);
        reqwest::Identity::from_pem(&pem)
            .map(Some)
            .map_err(|error| format!("{}: invalid client certificate or key: {error}", self.label))
    }

    /// Whether a rejected token can be replaced by logging in again.
    pub(super) fn can_log_in_again(&self) -> bool {
        matches!(self.auth, Auth::AppRole { .. } | Auth::Kubernetes { .. } | Auth::Jwt { .. } | Auth::Cert { .. })
    }

    /// Forgets `token` if it is still the current one (another fetch may have replaced it).
    pub(super) async fn invalidate(&self, token: &Secret) {
        let mut state = self.state.lock().await;
        if state.as_ref().is_some_and(|current| current.token == *token) {
            *state = None;
        }
    }

    /// The token to use now: the current one, renewed when due, or a fresh login.
    ///
    /// A login is also redone, while the current token still works, once a renewal is cut
    /// short by the token's max TTL: Vault revokes a token's leases when the token ends, so
    /// dynamic credentials read with it must be replaced under a new token before then (see
    /// [`Login::lifetime_left`]).
    pub(super) async fn token(&self, store: &VaultStore) -> Result<Secret, ProviderError> {
        let mut state = self.state.lock().await;
        if let Some(current) = state.as_mut() {
            if !current.renewal_due() {
                return Ok(current.token.clone());
            }
            if current.renewable {
                match self.renew(store, &current.token).await {
                    Ok(renewed) => {
                        tracing::debug!(store = %self.label, ttl_secs = renewed.full_ttl.as_secs(), "renewed the Vault token");
                        let capped = current.capped_by(&renewed);
                        let known_capped = current.end_fixed;
                        *current = renewed;
                        current.end_fixed |= capped;
                        if capped && !known_capped && !self.can_log_in_again() {
                            // Said when first seen. Without this, the first sign was every read
                            // refused once the token had ended.
                            tracing::warn!(
                                store = %self.label,
                                ends_in_secs = current.remaining().unwrap_or_default().as_secs(),
                                "the Vault token nears its max TTL and cannot be renewed past it: give a new token \
                                 (a token_file is read again) or use an auth method that can log in again, before \
                                 it ends"
                            );
                        }
                        if !capped || !self.can_log_in_again() {
                            return Ok(current.token.clone());
                        }
                        tracing::info!(
                            store = %self.label,
                            ttl_secs = current.full_ttl.as_secs(),
                            "the Vault token nears its max TTL: logging in again"
                        );
                        return match self.log_in(store).await {
                            Ok(fresh) => {
                                self.retire(std::mem::replace(current, fresh));
                                Ok(current.token.clone())
                            }
                            Err(error) => {
                                // The old token still works for a while: tried again next time.
                                tracing::warn!(store = %self.label, %error, "cannot log in to Vault again");
                                Ok(current.token.clone())
                            }
                        };
                    }
                    Err(error) => tracing::warn!(store = %self.label, %error, "cannot renew the Vault token"),
                }
            }
            if !current.expired() && !self.can_log_in_again() {
                return Ok(current.token.clone());
            }
        }
        let fresh = self.log_in(store).await?;
        let token = fresh.token.clone();
        if let Some(old) = state.replace(fresh) {
            self.retire(old);
        }
        Ok(token)
    }

    /// Remembers a token a login replaced (a token Vault refused is forgotten instead, by
    /// [`Login::invalidate`]: it is already gone).
    fn retire(&self, old: TokenState) {
        *self.retired.lock().expect("not poisoned") = Some((old.token.clone(), old.ends_at()));
    }

    /// How long `token` is known to live as it stands, and whether that end is fixed (see
    /// [`TokenLife`]).
    pub(super) async fn lifetime_left(&self, token: &Secret) -> TokenLife {
        if let Some(current) = self.state.lock().await.as_ref().filter(|current| current.token == *token) {
            return TokenLife { left: current.remaining(), fixed: current.end_fixed };
        }
        let left = match self.retired.lock().expect("not poisoned").as_ref() {
            Some((retired, ends)) if retired == token => ends.map(|end| end.saturating_duration_since(Instant::now())),
            _ => Some(Duration::ZERO),
        };
        TokenLife { left, fixed: true }
    }

    /// When the token should next be renewed (or, with `holds_leases`, replaced) even if
    /// nothing is fetched by then, so that it does not lapse between refreshes; none while a
    /// fetch holds it. Without leases a token that cannot be renewed is replaced
    /// only when a fetch needs it, so that logins (and one-use secret_ids) are not spent ahead.
    pub(super) fn next_upkeep(&self, holds_leases: bool) -> Option<Instant> {
        // While a fetch holds the login (logging in, renewing), that fetch does the upkeep; its
        // answer wakes the loop, which asks again then.
        let mut state = self.state.try_lock().ok()?;
        let current = state.as_mut()?;
        self.warn_of_a_fixed_end(current);
        current.upkeep_at(holds_leases && self.can_log_in_again())
    }

    /// Under `run`/`watch` (the only callers of [`Login::next_upkeep`]), warns once that a
    /// given token Vault says is not renewable (a batch token, or one made with
    /// `-renewable=false`) ends at a time nothing here can move: every read is refused after
    /// it, and the first sign of that used to be the refusals. A token that can renew is warned
    /// about when a renewal is cut short by its max TTL (see [`Login::token`]).
    fn warn_of_a_fixed_end(&self, current: &mut TokenState) {
        if current.end_warned || !current.ttl_known || current.renewable || self.can_log_in_again() {
            return;
        }
        let Some(left) = current.remaining() else { return };
        current.end_warned = true;
        tracing::warn!(
            store = %self.label,
            ends_in_secs = left.as_secs(),
            "the Vault token is not renewable (Vault says so: a batch token, or one made with -renewable=false): \
             every read is refused once it ends; give a new token before then (a token_file is read again) or \
             use an auth method that can log in again"
        );
    }

    /// How long the current token lives as it stands, if known.
    pub(super) fn current_lifetime_left(&self) -> Option<Duration> {
        self.state.try_lock().ok()?.as_ref()?.remaining()
    }

    /// The login in use, for the client that replaces this one (see [`Login::take_over`]).
    pub(super) fn hand_over(&self) -> Option<LoginHandover> {
        let state = self.state.try_lock().ok().and_then(|mut state| state.take());
        let refused = self.refused.lock().expect("not poisoned").take();
        (state.is_some() || refused.is_some()).then(|| LoginHandover { auth: self.auth.clone(), state, refused })
    }

    /// Carries on with the previous client's login when it logged in the same way (and this
    /// client has not logged in yet), so that its token is still renewed on time and the leases
    /// read with it are not lost with it. A given token (environment, `token`, `token_file`) is
    /// carried on only while it is still the one given: a rewritten `token_file` is read
    /// afresh, as a reload promises.
    pub(super) fn take_over(&self, handover: LoginHandover) {
        if handover.auth != self.auth {
            return;
        }
        // A config edit is no reason to send refused credentials again (it is their digest
        // that is kept: changed ones are still sent at once).
        if let Some(refused) = handover.refused {
            self.refused.lock().expect("not poisoned").get_or_insert(refused);
        }
        let Some(handed) = handover.state else { return };
        if !self.can_log_in_again() {
            let given = match &self.auth {
                Auth::Default => self.environment_token().ok(),
                Auth::TokenFile(path) => self.read_file(path, "token").ok(),
                Auth::Token(SecretSource::Literal(token)) => Some(token.clone()),
                _ => None,
            };
            if given.as_ref() != Some(&handed.token) {
                return;
            }
        }
        if let Ok(mut state) = self.state.try_lock() {
            state.get_or_insert(handed);
        }
    }

    async fn renew(&self, store: &VaultStore, token: &Secret) -> Result<TokenState, ProviderError> {
        let response = store.send(Method::POST, "auth/token/renew-self", &[], Some(b"{}"), Some(token)).await?;
        let what = format!("{} token renewal", self.label);
        if response.status != StatusCode::OK {
            return Err(store.status_error(&response, what));
        }
        let envelope = response.envelope(|| what.clone())?;
        let info =
            envelope.auth.ok_or_else(|| ProviderError::Invalid { what, reason: "no `auth` in the response".into() })?;
        Ok(TokenState::from_auth(info))
    }

    fn read_file(&self, path: &Path, what: &str) -> Result<Secret, ProviderError> {
        let mut bytes = crate::provider::file::read_regular_file(path).map_err(|error| ProviderError::NotFound {
            what: format!("{} {what} file {} ({error})", self.label, path.display()),
        })?;
        let text = String::from_utf8(std::mem::take(&mut *bytes))
            .map_err(|_| ProviderError::Invalid { what: path.display().to_string(), reason: "not UTF-8".into() })?;
        let trimmed = text.trim();
        Ok(Secret::from_text(if trimmed.len() == text.len() { text } else { trimmed.to_owned() }))
    }

    fn environment_token(&self) -> Result<Secret, ProviderError> {
        for name in ["VAULT_TOKEN", "BAO_TOKEN"] {
            if let Some(token) = std::env::var_os(name).filter(|token| !token.is_empty()) {
                return Ok(trimmed(Secret::new(std::os::unix::ffi::OsStringExt::into_vec(token))));
            }
        }
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        let file = home.join(".vault-token");
        if file.is_file() {
            return self.read_file(&file, "token");
        }
        Err(ProviderError::PermissionDenied {
            what: self.label.clone(),
            reason: "no Vault token: set `auth` on a store, or VAULT_TOKEN, or write ~/.vault-token".into(),
        })
    }

    /// The token given to the store (not logged in for), read now: the environment's, the
    /// `token_file`'s or the `token`'s. `None` for a store that logs in by a method.
    async fn given_token(&self) -> Option<Result<Secret, ProviderError>> {
        Some(match &self.auth {
            Auth::Default => self.environment_token(),
            Auth::Token(source) => source.resolve(&self.bootstrap).await.map(trimmed),
            Auth::TokenFile(path) => self.read_file(path, "token"),
            _ => return None,
        })
    }

    /// After Vault refused `refused`, a given token: the one given now when it is another (a
    /// rewritten `token_file` or `~/.vault-token`, a Vault Agent sink renewed, a `token`
    /// provider's new value), made the store's token; `None` when it is the same, or the store
    /// logs in by a method (see [`Login::invalidate`]).
    pub(super) async fn given_token_replaced(&self, refused: &Secret) -> Option<Secret> {
        let given = self.given_token().await?.ok()?;
        if given == *refused {
            return None;
        }
        let mut state = self.state.lock().await;
        match state.as_ref() {
            // Another fetch switched already.
            Some(current) if current.token != *refused => Some(current.token.clone()),
            _ => {
                tracing::info!(store = %self.label, "the Vault token was refused and a new one is given: using it");
                *state = Some(TokenState::given(given.clone()));
                Some(given)
            }
        }
    }

    async fn log_in(&self, store: &VaultStore) -> Result<TokenState, ProviderError> {
        let (mount, body) = match &self.auth {
            Auth::Default | Auth::Token(_) | Auth::TokenFile(_) => {
                let given = self.given_token().await.expect("a given token");
                return Ok(TokenState::given(given?));
            }
            Auth::AppRole { mount, role_id, secret_id, secret_id_file } => {
                let role_id = role_id.resolve(&self.bootstrap).await.map(trimmed)?;
                let secret_id = match (secret_id, secret_id_file) {
                    (Some(source), _) => Some(source.resolve(&self.bootstrap).await.map(trimmed)?),
                    (None, Some(file)) => Some(self.read_file(file, "secret_id")?),
                    (None, None) => None,
                };
                let mut body = serde_json::json!({ "role_id": text(&role_id) });
                if let Some(secret_id) = secret_id {
                    body["secret_id"] = serde_json::Value::String(text(&secret_id));
                }
                (mount, body)
            }
            Auth::Kubernetes { mount, role, jwt_file } => {
                let jwt = self.read_file(jwt_file, "service account token")?;
                (mount, serde_json::json!({ "role": role, "jwt": text(&jwt) }))
            }
            Auth::Jwt { mount, role, jwt, jwt_file } => {
                let jwt = match (jwt, jwt_file) {
                    (Some(source), _) => source.resolve(&self.bootstrap).await.map(trimmed)?,
                    (None, Some(file)) => self.read_file(file, "jwt")?,
                    (None, None) => unreachable!("parse requires jwt or jwt_file"),
                };
                (mount, serde_json::json!({ "role": role, "jwt": text(&jwt) }))
            }
            Auth::Cert { mount, name, .. } => {
                let body =
                    name.as_ref().map_or_else(|| serde_json::json!({}), |name| serde_json::json!({ "name": name }));
                (mount, body)
            }
        };
        let path = format!("auth/{mount}/login");
        let what = format!("{} login at {path}", self.label);
        let sent = zeroize::Zeroizing::new(body.to_string().into_bytes());
        let credentials: [u8; 32] = {
            use sha2::Digest as _;
            sha2::Sha256::new().chain_update(path.as_bytes()).chain_update(&*sent).finalize().into()
        };
        if let Some(refused) = self
            .refused
            .lock()
            .expect("not poisoned")
            .as_ref()
            .filter(|refused| refused.credentials == credentials && refused.at.elapsed() < REFUSED_LOGIN_PAUSE)
        {
            return Err(refused.error.clone());
        }
        let response = store.send(Method::POST, &path, &[], Some(&sent), None).await?;
        drop((body, sent));
        match response.status {
            StatusCode::OK => {}
            StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => {
                let minutes = REFUSED_LOGIN_PAUSE.as_secs() / 60;
                let reason = format!(
                    "{}; the same credentials are not sent again for {minutes} minutes, as Vault locks a role out \
                     after repeated failures (changed ones are sent at once; right ones refused may mean a lockout: \
                     see `sys/locked-users`)",
                    response.errors()
                );
                let error = ProviderError::PermissionDenied { what, reason };
                let refused = RefusedLogin { credentials, at: Instant::now(), error: error.clone() };
                *self.refused.lock().expect("not poisoned") = Some(refused);
                return Err(error);
            }
            _ => return Err(store.status_error(&response, what)),
        }
        *self.refused.lock().expect("not poisoned") = None;
        let envelope = response.envelope(|| what.clone())?;
        let info =
            envelope.auth.ok_or_else(|| ProviderError::Invalid { what, reason: "no `auth` in the response".into() })?;
        tracing::debug!(store = %self.label, ttl_secs = info.lease_duration, "logged in to Vault");
        Ok(TokenState::from_auth(info))
    }

    /// Learns a given token's TTL from `lookup-self`, so it is renewed in time, and renews it at
    /// once when it is already close to expiry. The fetches of a batch do not wait for this:
    /// the token is usable as it is, so the lookup runs beside them instead of adding a round
    /// trip before the first read. A failed lookup is tried again with the next batch.
    ///
    /// `again` is false where a lease is about to be scheduled: that waits for a lookup in
    /// flight, but does not repeat one that failed for the same token (the next batch does).
    pub(super) async fn learn_ttl(&self, store: &VaultStore, again: bool) {
        let Ok(token) = self.token(store).await else { return };
        let mut failed = self.learning.lock().await;
        if self.state.lock().await.as_ref().is_none_or(|state| state.ttl_known)
            || (!again && failed.as_ref() == Some(&token))
        {
            return;
        }
        let learnt = match self.look_up(store, &token).await {
            Ok(learnt) => learnt,
            Err(error) => {
                // The reads go on with the token as it is; until a lookup succeeds (each batch
                // tries again) its TTL is unknown and it is not renewed. A store that is down or
                // slow fails the reads beside it too, and those failures say so: only a lookup
                // refused for another reason is worth a warning of its own.
                if error.is_retryable() {
                    tracing::debug!(store = %self.label, %error, "cannot look the Vault token up");
                } else {
                    tracing::warn!(store = %self.label, %error, "cannot look the Vault token up: not renewing it until a lookup succeeds");
                }
                *failed = Some(token);
                return;
            }
        };
        *failed = None;
        let mut state = self.state.lock().await;
        // Another fetch may have replaced the token meanwhile; its state stands.
        let Some(current) = state.as_mut().filter(|current| current.token == token && !current.ttl_known) else {
            return;
        };
        *current = learnt;
        if current.renewal_due() && current.renewable {
            match self.renew(store, &current.token).await {
                Ok(renewed) => *current = renewed,
                Err(error) => tracing::warn!(store = %self.label, %error, "cannot renew the Vault token"),
            }
        }
    }

    async fn look_up(&self, store: &VaultStore, token: &Secret) -> Result<TokenState, ProviderError> {
        let response = store.send(Method::GET, "auth/token/lookup-self", &[], None, Some(token)).await?;
        if response.status == StatusCode::FORBIDDEN {
            // A token whose policies do not include lookup-self can still read; its TTL is
            // unknown, so it is used until Vault refuses it.
            tracing::warn!(
                store = %self.label,
                "Vault refused the token's lookup-self (403): the token is invalid or expired, or its policies \
                 lack `auth/token/lookup-self` (the `default` policy has it); while it still reads, its TTL is \
                 unknown, so it is not renewed, and dynamic credentials read with it are refreshed by their own \
                 lease, not by its end"
            );
            return Ok(TokenState { ttl_known: true, ..TokenState::given(token.clone()) });
        }
        let what = format!("{} token lookup", self.label);
        if response.status != StatusCode::OK {
            return Err(store.status_error(&response, what));
        }
        let data = response.envelope(|| what.clone())?.data.unwrap_or_default();
        let seconds = |key: &str| data.get(key).and_then(serde_json::Value::as_u64).unwrap_or(0);
        let ttl = seconds("ttl");
        let renewable = data.get("renewable").and_then(serde_json::Value::as_bool).unwrap_or(false);
        Ok(TokenState {
            token: token.clone(),
            obtained: Instant::now(),
            lifetime: (ttl > 0).then(|| Duration::from_secs(ttl)),
            full_ttl: Duration::from_secs(seconds("creation_ttl").max(ttl)),
            renewable,
            end_fixed: !renewable,
            ttl_known: true,
            end_warned: false,
        })
    }
}

/// A secret as a JSON string for a login body.
fn text(secret: &Secret) -> String {
    String::from_utf8_lossy(secret.expose()).into_owned()
}
