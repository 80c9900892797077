//! The `env` provider: a value from the process environment at fetch time.

use std::os::unix::ffi::OsStringExt;

use futures_util::future::BoxFuture;

use super::{Body, Fetched, Location, Provider, ProviderError, ProviderKind};
use crate::secret::Secret;

pub const KEYS: &[&str] = &["name"];

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnvLocation {
    pub name: String,
}

pub(super) fn parse(body: &mut Body<'_>) -> Option<(Location, Option<String>)> {
    let name = body.required("name")?;
    Some((Location::Env(EnvLocation { name }), None))
}

pub struct EnvProvider;

impl Provider for EnvProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Env
    }

    fn fetch<'a>(&'a self, location: &'a Location) -> BoxFuture<'a, Result<Fetched, ProviderError>> {
        Box::pin(async move {
            let EnvLocation { name } = location.own();
            match std::env::var_os(name) {
                Some(value) => Ok(Fetched::value(Secret::new(value.into_vec()))),
                None => Err(ProviderError::NotFound { what: location.to_string() }),
            }
        })
    }
}
