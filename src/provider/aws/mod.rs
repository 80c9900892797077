//! The `aws_secrets_manager` provider's syntax: a body names one secret (`secret_id`: a name or
//! an ARN) at a version (`version_stage`, default `AWSCURRENT`, or `version_id`), and optionally a
//! `key` of its JSON `SecretString`; a store says which region, endpoint, profile and role to use.
//! Parsing compiles in every build; the client (`client.rs`, the AWS SDK) only with the `aws`
//! cargo feature.

#[cfg(feature = "aws")]
mod client;

use std::fmt;
use std::time::Duration;

#[cfg(feature = "aws")]
pub use client::AwsStore;

use super::{Body, Location, StoreRef};
use crate::stores::StoreDef;

/// Keys an `aws_secrets_manager` body accepts besides the common ones.
pub const KEYS: &[&str] = &["secret_id", "key", "version_stage", "version_id"];
/// Keys of an `aws_secrets_manager` store's settings besides `refresh_interval`/`grace_period`.
pub const STORE_KEYS: &[&str] =
    &["region", "endpoint_url", "role_arn", "sts_endpoint_url", "profile", "previous_stage", "timeout"];
pub const CURRENT_STAGE: &str = "AWSCURRENT";
pub const PREVIOUS_STAGE: &str = "AWSPREVIOUS";

/// Which version of a secret to read.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// A staging label: `AWSCURRENT`, `AWSPREVIOUS`, `AWSPENDING` or a custom one.
    Stage(String),
    /// A version id (a UUID).
    Id(String),
}

/// What one `aws_secrets_manager` provider map fetches.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AwsLocation {
    pub store: StoreRef,
    pub secret_id: String,
    pub version: Version,
    /// Read the `SecretString` as a JSON object whose fields bodies pick with `key` (set when
    /// the body has a `key`; without one, the whole string is the value).
    pub structured: bool,
}

impl AwsLocation {
    /// Whether this reads the current version, which `BatchGetSecretValue` answers.
    #[must_use]
    pub fn is_current(&self) -> bool {
        self.version == Version::Stage(CURRENT_STAGE.to_owned())
    }
}

impl fmt::Display for AwsLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "aws secret {}", self.secret_id)?;
        match &self.version {
            Version::Stage(stage) if stage == CURRENT_STAGE => {}
            Version::Stage(stage) => write!(f, " version stage {stage}")?,
            Version::Id(id) => write!(f, " version id {id}")?,
        }
        match &self.store {
            StoreRef::Named(name) => write!(f, " (store {name})"),
            StoreRef::Default | StoreRef::Address(_) => Ok(()),
        }
    }
}

/// An `aws_secrets_manager` store's settings (contract section 2). Unset, the SDK's standard
/// chain decides (`AWS_REGION`, `AWS_PROFILE`, `AWS_ENDPOINT_URL`, env/profile/web identity/IMDS
/// credentials).
#[derive(Clone, Debug, Default)]
pub struct StoreSettings {
    pub region: Option<String>,
    /// Another Secrets Manager endpoint (a VPC endpoint, LocalStack, moto).
    pub endpoint_url: Option<String>,
    /// A role to assume through STS with the chain's credentials.
    pub role_arn: Option<String>,
    /// Another STS endpoint for `role_arn` (an STS VPC endpoint); unset, AWS_ENDPOINT_URL_STS or
    /// the region's.
    pub sts_endpoint_url: Option<String>,
    /// A profile of `~/.aws/config`.
    pub profile: Option<String>,
    /// A staging label (`AWSPREVIOUS`) whose value the rotation grace keeps as the previous one
    /// when this process did not see the rotation itself: for stores whose own rotation is the
    /// source of truth. Unset, only values seen changing are kept.
    pub previous_stage: Option<String>,
    /// Per-request timeout, retries included (default 30 s).
    pub timeout: Option<Duration>,
}

/// Parses a store's settings.
pub fn parse_store_settings(body: &mut Body<'_>) -> StoreSettings {
    let settings = StoreSettings {
        region: body.string("region"),
        endpoint_url: body.string("endpoint_url"),
        role_arn: body.string("role_arn"),
        sts_endpoint_url: body.string("sts_endpoint_url"),
        profile: body.string("profile"),
        previous_stage: body.string("previous_stage"),
        timeout: body.timeout("timeout"),
    };
    for (name, url) in [("endpoint_url", &settings.endpoint_url), ("sts_endpoint_url", &settings.sts_endpoint_url)] {
        if let Some(url) = url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            body.problem(body.mark(), format!("`{name}` must be an http:// or https:// URL, not {url:?}"));
        }
    }
    if settings.sts_endpoint_url.is_some() && settings.role_arn.is_none() {
        body.problem(body.mark(), "`sts_endpoint_url` is for `role_arn`, which is not set".into());
    }
    for (name, value) in
        [("region", &settings.region), ("profile", &settings.profile), ("previous_stage", &settings.previous_stage)]
    {
        if value.as_ref().is_some_and(|value| value.trim().is_empty()) {
            body.problem(body.mark(), format!("`{name}` is empty (leave it out for the standard chain's)"));
        }
    }
    if let Some(arn) = &settings.role_arn
        && !arn.starts_with("arn:")
    {
        body.problem(body.mark(), format!("`role_arn` must be an IAM role ARN (arn:aws:iam::…:role/…), not {arn:?}"));
    }
    settings
}

/// Parses an `aws_secrets_manager` provider body.
pub(super) fn parse(body: &mut Body<'_>, store: Option<&StoreDef>) -> Option<(Location, Option<String>)> {
    let secret_id = body.required("secret_id");
    let key = body.string("key");
    let stage = body.string("version_stage");
    let id = body.string("version_id");
    let version = match (stage, id) {
        (Some(_), Some(_)) => {
            body.problem(body.mark(), "give `version_stage` or `version_id`, not both".into());
            return None;
        }
        (Some(stage), None) if stage.is_empty() => {
            body.problem(body.mark(), "`version_stage` is empty".into());
            return None;
        }
        (Some(stage), None) => Version::Stage(stage),
        (None, Some(id)) if id.is_empty() => {
            body.problem(body.mark(), "`version_id` is empty".into());
            return None;
        }
        (None, Some(id)) => Version::Id(id),
        (None, None) => Version::Stage(CURRENT_STAGE.to_owned()),
    };
    let secret_id = secret_id?;
    if secret_id.is_empty() {
        body.problem(body.mark(), "`secret_id` is empty".into());
        return None;
    }
    let store = store.map_or(StoreRef::Default, |store| StoreRef::Named(store.name.clone()));
    let structured = key.is_some();
    Some((Location::AwsSecretsManager(AwsLocation { store, secret_id, version, structured }), key))
}
