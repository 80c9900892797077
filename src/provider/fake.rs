//! A test fake provider: answers env locations from a fixed table and counts every fetch, so
//! resolution tests can prove deduplication and bounded concurrency without a real store. With a
//! gate, each fetch waits at the "store" for a permit the test hands out, as at a hung server.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::future::BoxFuture;

use super::{Fetched, Location, Provider, ProviderError, ProviderKind};
use crate::secret::Secret;

#[derive(Default)]
pub struct FakeProvider {
    pub values: HashMap<String, String>,
    pub fetches: Mutex<Vec<Location>>,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    /// When set, each fetch takes (and keeps) one of its permits before answering.
    pub gate: Option<tokio::sync::Semaphore>,
}

impl FakeProvider {
    pub fn with(values: &[(&str, &str)]) -> Self {
        Self { values: values.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(), ..Self::default() }
    }

    /// Like [`FakeProvider::with`], each fetch waiting at [`FakeProvider::gate`].
    pub fn gated(values: &[(&str, &str)]) -> Self {
        Self { gate: Some(tokio::sync::Semaphore::new(0)), ..Self::with(values) }
    }

    /// How many fetches have reached it and not answered yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }
}

impl Provider for FakeProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Env
    }

    fn fetch<'a>(&'a self, location: &'a Location) -> BoxFuture<'a, Result<Fetched, ProviderError>> {
        Box::pin(async move {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            self.fetches.lock().unwrap().push(location.clone());
            if let Some(gate) = &self.gate {
                gate.acquire().await.unwrap().forget();
            }
            tokio::task::yield_now().await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            let Location::Env(env) = location else { unreachable!() };
            match self.values.get(&env.name) {
                Some(value) => Ok(Fetched::value(Secret::from_text(value.clone()))),
                None => Err(ProviderError::NotFound { what: location.to_string() }),
            }
        })
    }
}
