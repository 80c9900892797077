//! Resolution: each distinct location is fetched once per cycle, and every failure is reported
//! together rather than the first alone. `fetch_locations` bounds concurrency per provider and
//! store (`FetchBounds`, which overlapping batches share under `run`/`watch`); `fetch_as_sent` (`render`) fetches locations as the parser hands them over, within one
//! shared bound.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;

use crate::provider::{
    self, FetchBound, Fetched, Location, Provider, ProviderError, ProviderKind, ProviderSet, SecretSpec, StoreRef,
    Timed,
};
use crate::secret::Secret;

/// Default bound on concurrent fetches per provider and store (contract section 5).
pub const DEFAULT_MAX_CONCURRENCY: usize = 16;

/// The outcome of fetching each distinct location once.
#[derive(Default)]
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

    /// Whether `location` was fetched.
    #[must_use]
    pub fn contains(&self, location: &Location) -> bool {
        self.results.contains_key(location)
    }

    /// Adds the results of other locations.
    pub fn extend(&mut self, other: Self) {
        self.results.extend(other.results);
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

/// Fetches each location sent to the returned sender once, as it arrives, at most
/// `max_concurrency` at a time, with the client `client_for` gives its provider kind (asked once
/// per kind), whose [`Provider::beside_reads`] runs alongside as in a batch. The task ends when
/// the sender is dropped and every fetch is done, with a result for each location sent, except
/// those of a kind without a client: the caller fetches those the usual way. `render` sends the
/// provider maps the parser reads, so that fetching overlaps parsing.
pub fn fetch_as_sent(
    mut client_for: impl FnMut(ProviderKind) -> Option<Arc<dyn Provider>> + Send + 'static,
    max_concurrency: usize,
) -> (tokio::sync::mpsc::UnboundedSender<Location>, tokio::task::JoinHandle<Fetches>) {
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<Location>();
    let limit = max_concurrency.max(1);
    let task = tokio::spawn(async move {
        let mut clients: HashMap<ProviderKind, Option<Arc<dyn Provider>>> = HashMap::new();
        let mut seen = HashSet::with_hasher(foldhash::fast::RandomState::default());
        // The reads, and each client's work beside them (which yields no result).
        let mut in_flight: futures_util::stream::FuturesUnordered<BoxFuture<'static, Option<Timed>>> =
            futures_util::stream::FuturesUnordered::new();
        let mut reads = 0;
        let mut results = HashMap::default();
        let mut receiving = true;
        while receiving || !in_flight.is_empty() {
            tokio::select! {
                location = receiver.recv(), if receiving && reads < limit => {
                    let Some(location) = location else {
                        receiving = false;
                        continue;
                    };
                    if !seen.insert(location.clone()) {
                        continue;
                    }
                    let client = clients.entry(location.kind()).or_insert_with(|| {
                        let client = client_for(location.kind());
                        if let Some(client) = &client {
                            in_flight.push(Box::pin(beside_reads(client.clone())));
                        }
                        client
                    });
                    if let Some(client) = client.clone() {
                        in_flight.push(Box::pin(async move { Some(provider::fetch_timed(&*client, location).await) }));
                        reads += 1;
                    }
                }
                Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                    if let Some((location, result, duration)) = done {
                        reads -= 1;
                        log_fetched(&location, &result, duration);
                        results.insert(location, (result, duration));
                    }
                }
            }
        }
        Fetches { results }
    });
    (sender, task)
}

async fn beside_reads(client: Arc<dyn Provider>) -> Option<Timed> {
    client.beside_reads().await;
    None
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

/// Fetches each of `locations` (distinct) once, at most `max_concurrency` at a time from each
/// provider and store.
pub async fn fetch_locations(locations: Vec<Location>, providers: &ProviderSet, max_concurrency: usize) -> Fetches {
    let mut results = HashMap::default();
    let bounds = FetchBounds::new(max_concurrency);
    let mut fetched = fetch_stream(locations, providers, &bounds);
    while let Some((location, result, duration)) = fetched.next().await {
        results.insert(location, (result, duration));
    }
    Fetches { results }
}

/// The [`FetchBound`] of each provider and store, made when first asked for. Under
/// `run`/`watch` one lives as long as the process, so that a batch started while an earlier one
/// still waits on a hung store shares that store's bound with it (a config reload that
/// rebuilds the clients keeps it too).
pub struct FetchBounds {
    size: usize,
    per_store: std::sync::Mutex<HashMap<(ProviderKind, StoreRef), FetchBound>>,
}

impl FetchBounds {
    /// Bounds of `max_concurrency` requests at once for each provider and store.
    #[must_use]
    pub fn new(max_concurrency: usize) -> Self {
        Self { size: max_concurrency, per_store: std::sync::Mutex::default() }
    }

    /// The bound of `kind`'s `store`.
    pub fn of(&self, kind: ProviderKind, store: &StoreRef) -> FetchBound {
        let mut per_store = self.per_store.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        per_store.entry((kind, store.clone())).or_insert_with(|| FetchBound::new(self.size)).clone()
    }
}

/// [`fetch_locations`]'s fetches, each result yielded as it comes in, each provider and store's
/// requests within its bound in `bounds`.
pub fn fetch_stream<'a>(
    locations: Vec<Location>,
    providers: &'a ProviderSet,
    bounds: &FetchBounds,
) -> impl futures_util::Stream<Item = Timed> + Send + 'a {
    let mut groups: BTreeMap<(ProviderKind, StoreRef), Vec<Location>> = BTreeMap::new();
    for location in locations {
        let group = (location.kind(), location.store().clone());
        groups.entry(group).or_default().push(location);
    }
    let per_group = groups.into_iter().map(|((kind, store), locations)| match providers.get(kind, &store) {
        Some(provider) => provider.fetch_batch(locations, bounds.of(kind, &store)),
        None => futures_util::stream::iter(
            locations
                .into_iter()
                .map(move |location| (location, Err(ProviderError::Unavailable { kind }), std::time::Duration::ZERO)),
        )
        .boxed(),
    });
    futures_util::stream::select_all(per_group).inspect(|(location, result, duration)| {
        log_fetched(location, result, *duration);
    })
}

fn log_fetched(location: &Location, result: &Result<Fetched, ProviderError>, duration: std::time::Duration) {
    tracing::debug!(provider = %location.kind(), location = %location, elapsed_ms = duration.as_millis() as u64, ok = result.is_ok(), "fetched");
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

    /// Under `run`/`watch`, a refresh leaves a hung store's fetches running; the next refresh's
    /// fetches from that store wait for a permit instead of adding requests to it.
    #[tokio::test]
    async fn overlapping_batches_share_each_stores_bound() {
        let names: Vec<String> = (0..12).map(|i| format!("V{i}")).collect();
        let values: Vec<(&str, &str)> = names.iter().map(|name| (name.as_str(), "x")).collect();
        let fake = Arc::new(FakeProvider::gated(&values));
        let mut providers = ProviderSet::default();
        providers.insert(fake.clone());
        let locations = |names: &[String]| names.iter().map(|name| env_spec(name).location).collect::<Vec<_>>();
        let bounds = FetchBounds::new(4);
        let mut first = fetch_stream(locations(&names[..6]), &providers, &bounds);
        let mut second = fetch_stream(locations(&names[6..]), &providers, &bounds);
        assert!(futures_util::poll!(first.next()).is_pending());
        assert!(futures_util::poll!(second.next()).is_pending());
        assert_eq!(fake.in_flight(), 4, "the first batch holds the store's four permits; the second waits");

        fake.gate.as_ref().unwrap().add_permits(names.len());
        let (first, second) = futures_util::join!(first.collect::<Vec<_>>(), second.collect::<Vec<_>>());
        assert_eq!((first.len(), second.len()), (6, 6));
        assert!(first.iter().chain(&second).all(|(_, result, _)| result.is_ok()));
        assert_eq!(fake.max_in_flight.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn locations_sent_are_fetched_once_each_within_the_bound() {
        let names: Vec<String> = (0..50).map(|i| format!("V{i}")).collect();
        let values: Vec<(&str, &str)> = names.iter().map(|name| (name.as_str(), "x")).collect();
        let fake = Arc::new(FakeProvider::with(&values));
        let client: Arc<dyn Provider> = fake.clone();
        let (sender, fetching) = fetch_as_sent(move |kind| (kind == ProviderKind::Env).then(|| client.clone()), 4);
        for name in names.iter().chain(&names) {
            sender.send(env_spec(name).location).unwrap();
        }
        drop(sender);
        let fetches = fetching.await.unwrap();
        assert_eq!(fetches.len(), 50);
        assert_eq!(fake.fetches.lock().unwrap().len(), 50, "each location once, however often it is sent");
        let peak = fake.max_in_flight.load(Ordering::SeqCst);
        assert!((2..=4).contains(&peak), "peak concurrency {peak}");
        assert_eq!(fetches.value_for(&env_spec("V7")).unwrap().expose(), b"x");
    }

    #[tokio::test]
    async fn a_location_sent_without_a_client_is_left_to_the_caller() {
        let (sender, fetching) = fetch_as_sent(|_| None, 4);
        sender.send(env_spec("A").location).unwrap();
        drop(sender);
        let fetches = fetching.await.unwrap();
        assert!(!fetches.contains(&env_spec("A").location));
        assert!(fetches.is_empty());
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
