//! The `gcp_secret_manager` provider: Google Cloud Secret Manager's REST API
//! (`projects/*/secrets/*/versions/*:access`), with application default credentials.
//!
//! This file is the part every build has — body and store-settings parsing, the location — so a
//! config naming the provider is checked the same way with or without it; the client
//! (`client.rs`) needs the default-on cargo feature `gcp`.

#[cfg(feature = "gcp")]
mod client;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[cfg(feature = "gcp")]
pub use client::GcpStore;

use super::{Body, Location, StoreRef};
use crate::stores::StoreDef;

/// Keys a `gcp_secret_manager` body accepts besides the common ones.
pub const KEYS: &[&str] = &["project", "secret", "version", "key"];
/// Keys of a `gcp_secret_manager` store's settings besides `refresh_interval`/`grace_period`.
pub const STORE_KEYS: &[&str] = &["project", "endpoint", "credentials_file", "token_url", "metadata_url", "timeout"];
/// Secret Manager's global endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://secretmanager.googleapis.com";
const LATEST: &str = "latest";

/// What one `gcp_secret_manager` provider map fetches.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GcpLocation {
    pub store: StoreRef,
    /// Project ID or number.
    pub project: String,
    /// Secret ID.
    pub secret: String,
    /// `latest`, a version number or a version alias.
    pub version: String,
    /// The payload is a JSON object whose fields bodies pick with `key`.
    pub structured: bool,
}

impl GcpLocation {
    /// The version's resource name, as the API writes it.
    #[must_use]
    pub fn resource(&self) -> String {
        format!("projects/{}/secrets/{}/versions/{}", self.project, self.secret, self.version)
    }
}

impl fmt::Display for GcpLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gcp secret {}", self.resource())?;
        match &self.store {
            StoreRef::Named(name) => write!(f, " (store {name})"),
            StoreRef::Default | StoreRef::Address(_) => Ok(()),
        }
    }
}

/// A `gcp_secret_manager` store's settings (contract section 2).
#[derive(Clone, Debug, Default)]
pub struct StoreSettings {
    /// The project of bodies that give none.
    pub project: Option<String>,
    /// Secret Manager's base URL (a Private Service Connect endpoint; a fake in tests).
    pub endpoint: Option<String>,
    /// A service-account key or authorized-user JSON file; without it, application default
    /// credentials (`GOOGLE_APPLICATION_CREDENTIALS`, gcloud's file, the metadata server).
    pub credentials_file: Option<PathBuf>,
    /// Overrides the credentials file's `token_uri`.
    pub token_url: Option<String>,
    /// The metadata server's base URL (default `GCE_METADATA_HOST`, else
    /// `http://metadata.google.internal`).
    pub metadata_url: Option<String>,
    pub timeout: Option<Duration>,
}

/// Parses a store's settings.
pub fn parse_store_settings(body: &mut Body<'_>, dir: &Path) -> StoreSettings {
    let endpoint = body.url("endpoint");
    let token_url = body.url("token_url");
    let metadata_url = body.url("metadata_url");
    let project = body.string("project");
    if let Some(project) = &project
        && !valid_project(project)
    {
        body.problem(body.mark(), format!("`project` {project:?} is not a project ID or number"));
    }
    StoreSettings {
        project,
        endpoint,
        credentials_file: body.string("credentials_file").map(|file| {
            let path = PathBuf::from(file);
            if path.is_absolute() { path } else { dir.join(path) }
        }),
        token_url,
        metadata_url,
        timeout: body.timeout("timeout"),
    }
}

/// Parses a `gcp_secret_manager` provider body.
pub fn parse(body: &mut Body<'_>, store: Option<&StoreDef>) -> Option<(Location, Option<String>)> {
    let settings = store.and_then(StoreDef::gcp);
    let project = body.string("project").or_else(|| settings.and_then(|settings| settings.project.clone()));
    let secret = body.required("secret");
    let version = body.string("version").unwrap_or_else(|| LATEST.to_owned());
    let key = body.string("key");
    let Some(project) = project else {
        body.problem(
            body.mark(),
            "`gcp_secret_manager` body is missing the required key `project` (or set `project` on its store)".into(),
        );
        return None;
    };
    let secret = secret?;
    let mut valid = true;
    if !valid_project(&project) {
        body.problem(body.mark(), format!("`project` {project:?} is not a project ID or number"));
        valid = false;
    }
    if !valid_id(&secret, 255) {
        body.problem(body.mark(), format!("`secret` {secret:?} is not a secret ID (letters, digits, `-` and `_`)"));
        valid = false;
    }
    if !valid_id(&version, 63) {
        body.problem(body.mark(), format!("`version` {version:?} must be `latest`, a version number or an alias"));
        valid = false;
    }
    if !valid {
        return None;
    }
    let store = store.map_or(StoreRef::Default, |store| StoreRef::Named(store.name.clone()));
    let structured = key.is_some();
    Some((Location::Gcp(GcpLocation { store, project, secret, version, structured }), key))
}

/// A project ID (`my-project`), number, or a legacy domain-scoped ID (`example.com:my-project`).
fn valid_project(project: &str) -> bool {
    !project.is_empty()
        && project.len() <= 100
        && project.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b':' | b'_'))
}

/// A secret ID or a version (number, `latest` or alias): what Secret Manager accepts, which
/// also needs no escaping in a URL path.
fn valid_id(id: &str, max: usize) -> bool {
    !id.is_empty()
        && id.len() <= max
        && id.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_as_secret_manager_does() {
        for (project, ok) in [("my-project", true), ("123456789012", true), ("example.com:proj", true), ("a/b", false)]
        {
            assert_eq!(valid_project(project), ok, "{project}");
        }
        for (id, ok) in [("db-password", true), ("DB_PASSWORD", true), ("latest", true), ("7", true), ("a/b", false)] {
            assert_eq!(valid_id(id, 255), ok, "{id}");
        }
        assert!(!valid_id("", 255));
        assert!(!valid_id(&"a".repeat(256), 255));
    }
}
