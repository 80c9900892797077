//! The `azure_key_vault` provider: Azure Key Vault's REST API (`GET
//! {vault}/secrets/{name}/{version}?api-version=7.4`), with client-secret, workload-identity
//! (federated token file) and managed-identity (IMDS) tokens from Microsoft Entra ID.
//!
//! This file is the part every build has — body, store-settings and `auth` parsing, the location
//! — so a config naming the provider is checked the same way with or without it; the client
//! (`client.rs`) needs the default-on cargo feature `azure`.

#[cfg(feature = "azure")]
mod client;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[cfg(feature = "azure")]
pub use client::AzureStore;

use super::vault::SecretSource;
use super::{Body, Location, ParseContext, Problem, SecretSpec, StoreRef};
use crate::stores::StoreDef;
use crate::tree::{Node, NodeKind, YamlPath};

/// Keys an `azure_key_vault` body accepts besides the common ones.
pub const KEYS: &[&str] = &["vault_url", "name", "version", "key"];
/// Keys of an `azure_key_vault` store's settings besides `refresh_interval`/`grace_period`.
pub const STORE_KEYS: &[&str] =
    &["vault_url", "tenant_id", "client_id", "auth", "authority_host", "imds_endpoint", "timeout"];

/// What one `azure_key_vault` provider map fetches.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AzureLocation {
    pub store: StoreRef,
    /// The vault's origin, `https://NAME.vault.azure.net`, without a trailing `/`.
    pub vault_url: String,
    pub name: String,
    /// A version id; the latest when `None`.
    pub version: Option<String>,
    /// The value is a JSON object whose fields bodies pick with `key`.
    pub structured: bool,
}

impl fmt::Display for AzureLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "azure key vault secret {}/secrets/{}", self.vault_url, self.name)?;
        if let Some(version) = &self.version {
            write!(f, "/{version}")?;
        }
        match &self.store {
            StoreRef::Named(name) => write!(f, " (store {name})"),
            StoreRef::Default | StoreRef::Address(_) => Ok(()),
        }
    }
}

/// How a store gets its Entra ID tokens.
#[derive(Clone, Debug, Default)]
pub enum Auth {
    /// The environment: `AZURE_TENANT_ID` + `AZURE_CLIENT_ID` with `AZURE_CLIENT_SECRET` or
    /// `AZURE_FEDERATED_TOKEN_FILE`, else the managed identity (IMDS).
    #[default]
    Default,
    /// An app registration's client secret (a string or a bootstrapped secret).
    ClientSecret(SecretSource),
    /// A federated token file (AKS workload identity); `AZURE_FEDERATED_TOKEN_FILE` when `None`.
    WorkloadIdentity { token_file: Option<PathBuf> },
    /// The VM's or pod's managed identity through IMDS; a user-assigned one by `client_id`.
    ManagedIdentity { client_id: Option<String> },
}

impl Auth {
    /// Every bootstrapped secret of this auth block, with where it is written.
    #[must_use]
    pub fn bootstrap_specs(&self) -> Vec<(&SecretSpec, &YamlPath)> {
        match self {
            Self::ClientSecret(SecretSource::Provider { spec, path }) => vec![(spec.as_ref(), path)],
            _ => Vec::new(),
        }
    }

    /// Parses `auth: {client_secret: {client_secret: S}}`, `{workload_identity: {token_file: F}}`
    /// or `{managed_identity: {client_id: ID}}` (either body may be empty).
    pub fn parse(node: &Node, path: &YamlPath, context: &ParseContext<'_>) -> Result<Self, Vec<Problem>> {
        const METHODS: &str = "client_secret, workload_identity or managed_identity";
        let problem = |message: String| vec![Problem { path: path.clone(), mark: node.mark, message }];
        let [entry] = node.as_mapping().unwrap_or_default() else {
            return Err(problem(format!("`auth` must be a mapping with one method: {METHODS}")));
        };
        let method = entry.key.as_scalar().unwrap_or_default();
        let method_path = path.key(method);
        if !matches!(method, "client_secret" | "workload_identity" | "managed_identity") {
            return Err(problem(format!("unknown auth method `{method}` (accepted: {METHODS})")));
        }
        if !matches!(entry.value.kind, NodeKind::Mapping(_)) && !entry.value.is_null() {
            return Err(problem(format!("`{method}` auth settings must be a mapping")));
        }
        let mut body = Body::new(format!("`{method}` auth settings"), &method_path, &entry.value);
        let auth = match method {
            "client_secret" => {
                let secret_path = method_path.key("client_secret");
                let secret = match body.node("client_secret") {
                    Some(node) => match SecretSource::parse(node, &secret_path, context) {
                        Ok(source) => Some(source),
                        Err(problems) => {
                            body.extend(problems);
                            None
                        }
                    },
                    None => {
                        body.problem(body.mark(), "missing the required key `client_secret`".into());
                        None
                    }
                };
                body.finish(&["client_secret"], false)?;
                Self::ClientSecret(secret.expect("checked by finish"))
            }
            "workload_identity" => {
                let token_file = body.string("token_file").map(|file| absolute(context.config_dir, file));
                body.finish(&["token_file"], false)?;
                Self::WorkloadIdentity { token_file }
            }
            _ => {
                let client_id = body.string("client_id");
                body.finish(&["client_id"], false)?;
                Self::ManagedIdentity { client_id }
            }
        };
        Ok(auth)
    }
}

/// An `azure_key_vault` store's settings (contract section 2).
#[derive(Clone, Debug, Default)]
pub struct StoreSettings {
    /// The vault of bodies that give none.
    pub vault_url: Option<String>,
    /// The directory (tenant) of the app registration; `AZURE_TENANT_ID` when unset.
    pub tenant_id: Option<String>,
    /// The app registration's or workload identity's client id; `AZURE_CLIENT_ID` when unset.
    pub client_id: Option<String>,
    /// Microsoft Entra's host; `AZURE_AUTHORITY_HOST`, else `https://login.microsoftonline.com`.
    pub authority_host: Option<String>,
    /// IMDS's base URL (default `http://169.254.169.254`).
    pub imds_endpoint: Option<String>,
    pub timeout: Option<Duration>,
    /// Filled in a second pass, once every store's name is known (auth may bootstrap from them).
    pub auth: Auth,
}

/// Parses a store's settings except `auth`, which `stores.rs` parses once all stores are known.
pub fn parse_store_settings(body: &mut Body<'_>, _dir: &Path) -> StoreSettings {
    let vault_url = body.string("vault_url").and_then(|url| match vault_origin(&url) {
        Ok(origin) => Some(origin),
        Err(message) => {
            body.problem(body.mark(), message);
            None
        }
    });
    StoreSettings {
        vault_url,
        tenant_id: body.string("tenant_id"),
        client_id: body.string("client_id"),
        authority_host: body.url("authority_host"),
        imds_endpoint: body.url("imds_endpoint"),
        timeout: body.timeout("timeout"),
        auth: Auth::Default,
    }
}

/// Parses an `azure_key_vault` provider body.
pub fn parse(body: &mut Body<'_>, store: Option<&StoreDef>) -> Option<(Location, Option<String>)> {
    let settings = store.and_then(StoreDef::azure);
    let vault_url = body.string("vault_url");
    let name = body.required("name");
    let version = body.string("version");
    let key = body.string("key");
    let vault_url = match (vault_url, settings.and_then(|settings| settings.vault_url.clone())) {
        (Some(url), _) => match vault_origin(&url) {
            Ok(origin) => origin,
            Err(message) => {
                body.problem(body.mark(), message);
                return None;
            }
        },
        (None, Some(origin)) => origin,
        (None, None) => {
            body.problem(
                body.mark(),
                "`azure_key_vault` body is missing the required key `vault_url` (or set `vault_url` on its store)"
                    .into(),
            );
            return None;
        }
    };
    let name = name?;
    if name.is_empty() || name.len() > 127 || !name.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-') {
        body.problem(body.mark(), format!("`name` {name:?} is not a Key Vault secret name (letters, digits and `-`)"));
        return None;
    }
    if let Some(version) = &version
        && (version.is_empty() || version.len() > 64 || !version.bytes().all(|byte| byte.is_ascii_alphanumeric()))
    {
        body.problem(body.mark(), format!("`version` {version:?} is not a Key Vault secret version id"));
        return None;
    }
    let store = store.map_or(StoreRef::Default, |store| StoreRef::Named(store.name.clone()));
    let structured = key.is_some();
    Some((Location::Azure(AzureLocation { store, vault_url, name, version, structured }), key))
}

/// `https://NAME.vault.azure.net/` → `https://NAME.vault.azure.net`: a vault is addressed by its
/// origin; a path would be a mistake (`…/secrets/NAME` belongs in `name`).
fn vault_origin(text: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(text).map_err(|error| format!("`vault_url` {text:?} is not a URL ({error})"))?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(format!("`vault_url` {text:?} must be an https:// URL"));
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() {
        return Err(format!(
            "`vault_url` {text:?} must be the vault's address alone, like https://NAME.vault.azure.net"
        ));
    }
    Ok(url.origin().ascii_serialization())
}

fn absolute(dir: &Path, file: String) -> PathBuf {
    let path = PathBuf::from(file);
    if path.is_absolute() { path } else { dir.join(path) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vault_is_addressed_by_its_origin() {
        let cases = [
            ("https://prod.vault.azure.net/", Ok("https://prod.vault.azure.net")),
            ("https://prod.vault.azure.net", Ok("https://prod.vault.azure.net")),
            ("http://127.0.0.1:8443", Ok("http://127.0.0.1:8443")),
            ("https://prod.vault.azure.net/secrets/x", Err(())),
            ("ftp://prod.vault.azure.net", Err(())),
            ("prod", Err(())),
        ];
        for (text, expected) in cases {
            assert_eq!(vault_origin(text).map_err(|_| ()), expected.map(str::to_owned), "{text}");
        }
    }
}
