//! Two-phase resolution: every provider map is collected first, then each distinct location is
//! fetched once, concurrently with a bound per provider and store, and every failure is reported
//! together rather than the first alone.

use std::collections::{BTreeMap, HashMap, HashSet};

use futures_util::StreamExt as _;

use crate::provider::{Fetched, Location, ProviderError, ProviderKind, ProviderSet, SecretSpec, StoreRef};
use crate::secret::Secret;

/// Default bound on concurrent fetches per provider and store (contract section 5).
pub const DEFAULT_MAX_CONCURRENCY: usize = 16;

/// The outcome of fetching each distinct location once.
pub struct Fetches {
    /// Each location's result and how long its fetch took.
    results: HashMap<Location, (Result<Fetched, ProviderError>, std::time::Duration), foldhash::fast::RandomState>,
}

impl Fetches {
    /// The value a spec asks for, picked out of its location's fetched document.
    pub fn value_for(&self, spec: &SecretSpec) -> Result<Secret, ProviderError> {
        match self.results.get(&spec.location).map(|(result, _)| result) {
            Some(Ok(fetched)) => fetched.select(spec.key.as_deref(), &spec.location),
            Some(Err(error)) => Err(error.clone()),
            None => unreachable!("every spec's location was fetched"),
        }
    }

    /// How many distinct locations were fetched.
    #[must_use]
    pub fn len(&self) -> usize {
        self.results.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }

    /// Each location's result and how long its fetch took.
    pub fn into_results(self) -> impl Iterator<Item = (Location, Result<Fetched, ProviderError>, std::time::Duration)> {
        self.results.into_iter().map(|(location, (result, duration))| (location, result, duration))
    }
}

/// Fetches one spec's value on its own: bootstrapped secrets, needed before a store can log in.
pub async fn fetch_one(spec: &SecretSpec, providers: &ProviderSet) -> Result<Secret, ProviderError> {
    let kind = spec.location.kind();
    let provider = providers.get(kind, spec.location.store()).ok_or(ProviderError::Unavailable { kind })?;
    provider.fetch(&spec.location).await?.select(spec.key.as_deref(), &spec.location)
}

/// Fetches every distinct location among `specs` once.
pub async fn fetch_all<'a>(
    specs: impl IntoIterator<Item = &'a SecretSpec>,
    providers: &ProviderSet,
    max_concurrency: usize,
) -> Fetches {
    fetch_locations(distinct_locations(specs), providers, max_concurrency).await
}

/// The distinct locations of `specs`, in first-use order.
pub fn distinct_locations<'a>(specs: impl IntoIterator<Item = &'a SecretSpec>) -> Vec<Location> {
    let mut seen = HashSet::with_hasher(foldhash::fast::RandomState::default());
    specs.into_iter().filter(|spec| seen.insert(&spec.location)).map(|spec| spec.location.clone()).collect()
}

/// Fetches each of `locations` (distinct) once, concurrently within each provider and store.
pub async fn fetch_locations(locations: Vec<Location>, providers: &ProviderSet, max_concurrency: usize) -> Fetches {
    let mut groups: BTreeMap<(ProviderKind, StoreRef), Vec<Location>> = BTreeMap::new();
    for location in locations {
        let group = (location.kind(), location.store().clone());
        groups.entry(group).or_default().push(location);
    }
    let limit = max_concurrency.max(1);
    let per_group = groups.into_iter().map(|((kind, store), locations)| match providers.get(kind, &store) {
        Some(provider) => provider.fetch_batch(locations, limit),
        None => futures_util::stream::iter(
            locations
                .into_iter()
                .map(move |location| (location, Err(ProviderError::Unavailable { kind }), std::time::Duration::ZERO)),
        )
        .boxed(),
    });
    let mut results = HashMap::default();
    let mut fetched = futures_util::stream::select_all(per_group);
    while let Some((location, result, duration)) = fetched.next().await {
        tracing::debug!(provider = %location.kind(), location = %location, elapsed_ms = duration.as_millis() as u64, ok = result.is_ok(), "fetched");
        results.insert(location, (result, duration));
    }
    Fetches { results }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::provider::RenderMode;
    use crate::provider::env::EnvLocation;
    use crate::provider::fake::FakeProvider;

    fn env_spec(name: &str) -> SecretSpec {
        SecretSpec {
            location: Location::Env(EnvLocation { name: name.into() }),
            key: None,
            refresh_interval: None,
            grace_period: None,
            render: RenderMode::Auto,
        }
    }

    #[tokio::test]
    async fn each_distinct_location_is_fetched_once_however_often_it_is_named() {
        let fake = Arc::new(FakeProvider::with(&[("A", "a"), ("B", "b")]));
        let mut providers = ProviderSet::default();
        providers.insert(fake.clone());
        let specs: Vec<SecretSpec> = (0..1000).map(|i| env_spec(if i % 2 == 0 { "A" } else { "B" })).collect();
        let fetches = fetch_all(&specs, &providers, 16).await;
        assert_eq!(fake.fetches.lock().unwrap().len(), 2);
        assert_eq!(fetches.value_for(&specs[0]).unwrap().expose(), b"a");
        assert_eq!(fetches.value_for(&specs[1]).unwrap().expose(), b"b");
    }

    #[tokio::test]
    async fn concurrency_stays_within_the_bound() {
        let names: Vec<String> = (0..100).map(|i| format!("V{i}")).collect();
        let values: Vec<(&str, &str)> = names.iter().map(|name| (name.as_str(), "x")).collect();
        let fake = Arc::new(FakeProvider::with(&values));
        let mut providers = ProviderSet::default();
        providers.insert(fake.clone());
        let specs: Vec<SecretSpec> = names.iter().map(|name| env_spec(name)).collect();
        fetch_all(&specs, &providers, 4).await;
        assert_eq!(fake.fetches.lock().unwrap().len(), 100);
        let peak = fake.max_in_flight.load(Ordering::SeqCst);
        assert!((2..=4).contains(&peak), "peak concurrency {peak}");
    }

    #[tokio::test]
    async fn every_failure_is_kept_not_just_the_first() {
        let fake = Arc::new(FakeProvider::with(&[("A", "a")]));
        let mut providers = ProviderSet::default();
        providers.insert(fake);
        let specs = [env_spec("A"), env_spec("MISSING1"), env_spec("MISSING2")];
        let fetches = fetch_all(&specs, &providers, 16).await;
        let failures: Vec<String> =
            specs.iter().filter_map(|spec| fetches.value_for(spec).err()).map(|e| e.to_string()).collect();
        assert_eq!(failures, ["environment variable MISSING1 not found", "environment variable MISSING2 not found"]);
    }
}
