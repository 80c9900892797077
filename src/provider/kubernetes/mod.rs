//! The `kubernetes` provider's syntax: a body names one core/v1 Secret (`name`, optional
//! `namespace`), whose base64-decoded `data` keys bodies pick with `key`; a store says how to reach
//! the API server. Parsing compiles in every build; the client (`client.rs`, kube-rs) only with the
//! `kubernetes` cargo feature.

#[cfg(feature = "kubernetes")]
mod client;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

#[cfg(feature = "kubernetes")]
pub use client::KubernetesStore;

use super::{Body, Location, StoreRef};
use crate::stores::{StoreDef, StoreSettings as AnyStoreSettings};

/// Keys a `kubernetes` body accepts besides the common ones.
pub const KEYS: &[&str] = &["name", "key", "namespace"];
/// Keys of a `kubernetes` store's settings besides `refresh_interval`/`grace_period`.
pub const STORE_KEYS: &[&str] =
    &["kubeconfig", "context", "namespace", "api_server", "token_file", "ca_file", "timeout"];

/// What one `kubernetes` provider map fetches: one Secret (the key is picked afterwards).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KubernetesLocation {
    pub store: StoreRef,
    /// `None`: the client's default namespace (the pod's in-cluster, else the kubeconfig
    /// context's, else `default`).
    pub namespace: Option<String>,
    pub name: String,
}

impl fmt::Display for KubernetesLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "kubernetes secret {namespace}/{}", self.name)?,
            None => write!(
                f,
                "kubernetes secret {} (no namespace given: the kubeconfig context's or the pod's, else `default`)",
                self.name
            )?,
        }
        match &self.store {
            StoreRef::Named(name) => write!(f, " (store {name})"),
            StoreRef::Default | StoreRef::Address(_) => Ok(()),
        }
    }
}

/// A `kubernetes` store's settings (contract section 2). With none of `kubeconfig`, `context`
/// and `api_server`, the environment decides: in-cluster service account, else `KUBECONFIG` /
/// `~/.kube/config`.
#[derive(Clone, Debug, Default)]
pub struct StoreSettings {
    /// A kubeconfig file (default: `KUBECONFIG`, else `~/.kube/config`).
    pub kubeconfig: Option<PathBuf>,
    /// A kubeconfig context (default: its `current-context`).
    pub context: Option<String>,
    /// The namespace of bodies that name none.
    pub namespace: Option<String>,
    /// An API server URL, reached with `token_file` and `ca_file` instead of a kubeconfig.
    pub api_server: Option<String>,
    pub token_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    /// Per-request timeout (default 30 s); watches are long-lived and not bound by it.
    pub timeout: Option<Duration>,
}

/// Parses a store's settings.
pub fn parse_store_settings(body: &mut Body<'_>, dir: &std::path::Path) -> StoreSettings {
    let absolute = |path: String| {
        let path = PathBuf::from(path);
        if path.is_absolute() { path } else { dir.join(path) }
    };
    let settings = StoreSettings {
        kubeconfig: body.string("kubeconfig").map(absolute),
        context: body.string("context"),
        namespace: body.string("namespace"),
        api_server: body.url("api_server"),
        token_file: body.string("token_file").map(absolute),
        ca_file: body.string("ca_file").map(absolute),
        timeout: body.timeout("timeout"),
    };
    if let Some(namespace) = &settings.namespace
        && let Err(reason) = check_name(namespace, false)
    {
        body.problem(body.mark(), format!("`namespace` {reason}"));
    }
    if settings.api_server.is_some() && (settings.kubeconfig.is_some() || settings.context.is_some()) {
        body.problem(body.mark(), "`api_server` excludes `kubeconfig` and `context`: choose one way to connect".into());
    }
    if settings.api_server.is_none() && (settings.token_file.is_some() || settings.ca_file.is_some()) {
        body.problem(body.mark(), "`token_file` and `ca_file` go with `api_server`".into());
    }
    settings
}

/// Parses a `kubernetes` provider body.
pub(super) fn parse(body: &mut Body<'_>, store: Option<&StoreDef>) -> Option<(Location, Option<String>)> {
    let name = body.required("name");
    let key = body.string("key");
    let namespace = body.string("namespace");
    let settings = store.and_then(|store| match &store.settings {
        AnyStoreSettings::Kubernetes(settings) => Some(settings),
        _ => None,
    });
    let name = name?;
    if let Err(reason) = check_name(&name, true) {
        body.problem(body.mark(), format!("`name` {reason}"));
        return None;
    }
    if let Some(namespace) = &namespace
        && let Err(reason) = check_name(namespace, false)
    {
        body.problem(body.mark(), format!("`namespace` {reason}"));
        return None;
    }
    let namespace = namespace.or_else(|| settings.and_then(|settings| settings.namespace.clone()));
    let store = store.map_or(StoreRef::Default, |store| StoreRef::Named(store.name.clone()));
    Some((Location::Kubernetes(KubernetesLocation { store, namespace, name }), key))
}

/// Checks a Secret name (a DNS subdomain, `dots` allowed) or a namespace (a DNS label), so a typo
/// is a config error rather than a 404 at fetch time.
fn check_name(text: &str, dots: bool) -> Result<(), String> {
    let limit = if dots { 253 } else { 63 };
    let valid_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (dots && c == '.');
    let alphanumeric = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if text.is_empty() || text.len() > limit || !text.chars().all(valid_char) {
        return Err(format!(
            "{text:?} is not a valid Kubernetes name (lowercase letters, digits, '-'{}, at most {limit} characters)",
            if dots { ", '.'" } else { "" }
        ));
    }
    if !alphanumeric(text.chars().next()) || !alphanumeric(text.chars().last()) {
        return Err(format!("{text:?} must start and end with a lowercase letter or digit"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names_follow_the_kubernetes_rules() {
        let cases: &[(&str, bool, bool)] = &[
            ("scrape-token", true, true),
            ("tls.example.com", true, true),
            ("tls.example.com", false, false),
            ("monitoring", false, true),
            ("Monitoring", false, false),
            ("-token", true, false),
            ("token-", true, false),
            ("", true, false),
            ("a_b", true, false),
        ];
        for (text, dots, valid) in cases {
            assert_eq!(check_name(text, *dots).is_ok(), *valid, "{text:?} (dots: {dots})");
        }
        assert!(check_name(&"a".repeat(64), false).is_err());
        assert!(check_name(&"a".repeat(253), true).is_ok());
    }
}
