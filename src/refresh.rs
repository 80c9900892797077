//! Keeping values fresh: each distinct location's schedule (refresh interval with ±10% jitter,
//! exponential backoff from 1 s up to the interval after a failure, scaled by a factor each
//! process draws once within ±10%, an earlier refresh when a lease runs out first), its last
//! good value (kept when a fetch fails: state `stale`), and the previous value kept for the
//! rotation grace period (written back on an auth failure that a refetch cannot cure: state
//! `fallback`).
//!
//! Pure bookkeeping on `tokio::time::Instant`, so tests run on paused time; the daemon loop does
//! the fetching and writing.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::provider::{Fetched, Location, ProviderError, SecretSpec};
use crate::secret::Secret;

pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(3600);
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(15 * 60);
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Share of a lease after which a leased value is refetched, so new credentials are in place
/// before the old ones expire.
const LEASE_SHARE: f64 = 2.0 / 3.0;

/// The state `secret_render_secret_state` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Never fetched yet.
    Pending,
    Success,
    /// The last fetch failed; the last good value stays in place.
    Stale,
    /// Never fetched successfully.
    Error,
    /// The previous value is in place after an auth failure the current value did not cure.
    Fallback,
}

/// What a successful fetch did to a location's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    First,
    Unchanged,
    Changed,
}

struct Previous {
    value: Fetched,
    until: Instant,
}

struct Entry {
    interval: Duration,
    grace: Duration,
    current: Option<Fetched>,
    previous: Option<Previous>,
    status: Status,
    failures: u32,
    next_due: Instant,
    /// A fetch is running: not due again until its result is recorded.
    fetching: bool,
    /// A change was reported while a fetch ran: fetch again once it has answered.
    again: bool,
    last_success: Option<SystemTime>,
    last_error: Option<ProviderError>,
}

/// Every location's schedule and values.
pub struct Schedule {
    entries: HashMap<Location, Entry>,
    /// This process's factor on every failure backoff, in [0.9, 1.1]: replicas that failed
    /// together come back to the store apart, while this process's secrets that failed together
    /// come due together and are fetched in one batch (one exec plugin call, one AWS batch read,
    /// one token request), not one by one.
    backoff_factor: f64,
}

/// A uniformly random factor in [0.9, 1.1]: ±10% jitter, so many secrets with one interval do
/// not refetch in lockstep.
fn jitter(duration: Duration) -> Duration {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    #[expect(clippy::cast_precision_loss, reason = "a jitter factor needs no more than f64's 53 bits")]
    let unit = hasher.finish() as f64 / u64::MAX as f64;
    duration.mul_f64(0.9 + 0.2 * unit)
}

/// The wait after `failures` consecutive failures: 1 s, 2 s, 4 s, … up to `interval`.
#[must_use]
pub fn backoff(failures: u32, interval: Duration) -> Duration {
    let exponent = failures.saturating_sub(1).min(30);
    FIRST_BACKOFF.saturating_mul(1 << exponent).min(interval.max(FIRST_BACKOFF))
}

impl Schedule {
    /// A schedule for `specs`, every location due now.
    #[must_use]
    pub fn new<'a>(specs: impl IntoIterator<Item = &'a SecretSpec>, now: Instant) -> Self {
        let mut schedule =
            Self { entries: HashMap::new(), backoff_factor: jitter(Duration::from_secs(1)).as_secs_f64() };
        schedule.reconcile(specs, now);
        schedule
    }

    /// Adopts a new set of specs (after a config change): new locations are due now, removed
    /// ones are forgotten, and intervals and grace periods follow the specs (a location named by
    /// several provider maps refreshes as often as the most demanding asks, and keeps its
    /// previous value as long as the most patient asks).
    pub fn reconcile<'a>(&mut self, specs: impl IntoIterator<Item = &'a SecretSpec>, now: Instant) {
        let mut wanted: HashMap<&Location, (Duration, Duration)> = HashMap::new();
        for spec in specs {
            let interval = spec.refresh_interval.unwrap_or(DEFAULT_REFRESH_INTERVAL).max(Duration::from_secs(1));
            let grace = spec.grace_period.unwrap_or(DEFAULT_GRACE_PERIOD);
            let slot = wanted.entry(&spec.location).or_insert((interval, grace));
            slot.0 = slot.0.min(interval);
            slot.1 = slot.1.max(grace);
        }
        self.entries.retain(|location, _| wanted.contains_key(location));
        for (location, (interval, grace)) in wanted {
            let entry = self.entries.entry(location.clone()).or_insert_with(|| Entry {
                interval,
                grace,
                current: None,
                previous: None,
                status: Status::Pending,
                failures: 0,
                next_due: now,
                fetching: false,
                again: false,
                last_success: None,
                last_error: None,
            });
            if interval < entry.interval && entry.status == Status::Success {
                entry.next_due = entry.next_due.min(now + jitter(interval));
            }
            entry.interval = interval;
            entry.grace = grace;
        }
    }

    /// Locations whose refresh is due at `now`.
    #[must_use]
    pub fn due(&self, now: Instant) -> Vec<Location> {
        self.entries
            .iter()
            .filter(|(_, entry)| entry.next_due <= now && !entry.fetching)
            .map(|(location, _)| location.clone())
            .collect()
    }

    /// When something next needs doing: a refresh (of a location not being fetched), or a
    /// previous value's grace running out.
    #[must_use]
    pub fn next_deadline(&self) -> Option<Instant> {
        self.entries
            .values()
            .flat_map(|entry| {
                let refresh = (!entry.fetching).then_some(entry.next_due);
                refresh.into_iter().chain(entry.previous.as_ref().map(|previous| previous.until))
            })
            .min()
    }

    /// Marks `location` as being fetched, so that it is not due again until
    /// [`Schedule::record_success`] or [`Schedule::record_failure`] records the result.
    pub fn start_fetch(&mut self, location: &Location) {
        if let Some(entry) = self.entries.get_mut(location) {
            entry.fetching = true;
        }
    }

    /// Has `location`, being fetched, fetched again as soon as that fetch succeeds: a change
    /// reported meanwhile may have come after the running fetch read the value.
    pub fn fetch_again_when_done(&mut self, location: &Location) {
        if let Some(entry) = self.entries.get_mut(location) {
            entry.again = true;
        }
    }

    /// Whether any fetch is running.
    #[must_use]
    pub fn any_fetching(&self) -> bool {
        self.entries.values().any(|entry| entry.fetching)
    }

    /// Whether a fetch of `location` is running.
    #[must_use]
    pub fn fetching(&self, location: &Location) -> bool {
        self.entries.get(location).is_some_and(|entry| entry.fetching)
    }

    /// Makes a location due now (an auth failure, `POST /-/refresh`, SIGUSR1).
    pub fn trigger(&mut self, location: &Location, now: Instant) {
        if let Some(entry) = self.entries.get_mut(location) {
            entry.next_due = now;
        }
    }

    /// Records a successful fetch and schedules the next one.
    pub fn record_success(&mut self, location: &Location, fetched: Fetched, now: Instant) -> Outcome {
        let Some(entry) = self.entries.get_mut(location) else { return Outcome::Unchanged };
        entry.fetching = false;
        let mut wait = jitter(entry.interval);
        if let Some(lease) = fetched.lease {
            wait = wait.min(lease.mul_f64(LEASE_SHARE).max(Duration::from_secs(1)));
        }
        entry.next_due = if std::mem::take(&mut entry.again) { now } else { now + wait };
        entry.failures = 0;
        entry.last_error = None;
        entry.last_success = Some(SystemTime::now());
        entry.status = Status::Success;
        match entry.current.take() {
            None => {
                // Started after a rotation: the store's own previous value serves what is left of
                // the grace period, counted from when the store replaced it.
                if let Some(store_previous) = &fetched.store_previous {
                    let since = store_previous
                        .replaced_at
                        .and_then(|at| SystemTime::now().duration_since(at).ok())
                        .unwrap_or_default();
                    if since < entry.grace {
                        let mut value = Fetched::value(Secret::new(Vec::new()));
                        value.content = store_previous.content.clone();
                        entry.previous = Some(Previous { value, until: now + (entry.grace - since) });
                    }
                }
                entry.current = Some(fetched);
                Outcome::First
            }
            Some(old) if old.content == fetched.content => {
                entry.current = Some(fetched);
                Outcome::Unchanged
            }
            Some(old) => {
                entry.previous = Some(Previous { value: old, until: now + entry.grace });
                entry.current = Some(fetched);
                Outcome::Changed
            }
        }
    }

    /// Records a failed fetch: the last good value stays, and the next try backs off.
    pub fn record_failure(&mut self, location: &Location, error: ProviderError, now: Instant) {
        let Some(entry) = self.entries.get_mut(location) else { return };
        entry.fetching = false;
        // The store failing, the next try backs off as usual.
        entry.again = false;
        entry.failures = entry.failures.saturating_add(1);
        // A store's `Retry-After` is honoured when it asks for longer than our backoff, which
        // this process's factor spreads from other replicas' (see `backoff_factor`).
        let wait = backoff(entry.failures, entry.interval)
            .mul_f64(self.backoff_factor)
            .max(error.retry_after().unwrap_or_default());
        entry.next_due = now + wait;
        // A fallback stays until a refresh succeeds: a store that does not answer says nothing
        // about the current value the target refused.
        entry.status = match entry.status {
            Status::Fallback => Status::Fallback,
            _ if entry.current.is_some() => Status::Stale,
            _ => Status::Error,
        };
        entry.last_error = Some(error);
    }

    /// After an auth failure whose refetch brought nothing newer (the same value, or no answer
    /// at all): puts the previous value back in place until the next refresh that succeeds, if
    /// one is still within its grace period. Returns whether it did.
    pub fn fall_back(&mut self, location: &Location, now: Instant) -> bool {
        let Some(entry) = self.entries.get_mut(location) else { return false };
        let usable = entry.previous.as_ref().is_some_and(|previous| previous.until > now);
        if usable && matches!(entry.status, Status::Success | Status::Stale) {
            entry.status = Status::Fallback;
        }
        usable
    }

    /// Forgets previous values whose grace period is over; returns their locations.
    pub fn expire_previous(&mut self, now: Instant) -> Vec<Location> {
        let mut expired = Vec::new();
        for (location, entry) in &mut self.entries {
            if entry.previous.as_ref().is_some_and(|previous| previous.until <= now) {
                entry.previous = None;
                if entry.status == Status::Fallback {
                    // Back to the current value, as fresh as the last fetch left it.
                    entry.status = if entry.last_error.is_some() { Status::Stale } else { Status::Success };
                }
                expired.push(location.clone());
            }
        }
        expired
    }

    /// The value in place for a spec: the previous one while falling back, else the current one.
    #[must_use]
    pub fn value_for(&self, spec: &SecretSpec) -> Option<Result<Secret, ProviderError>> {
        let entry = self.entries.get(&spec.location)?;
        let fetched = match (entry.status, &entry.previous) {
            (Status::Fallback, Some(previous)) => &previous.value,
            _ => entry.current.as_ref()?,
        };
        Some(fetched.select(spec.key.as_deref(), &spec.location))
    }

    /// The previous value of a spec while it is kept (for `<name>.previous` files).
    #[must_use]
    pub fn previous_for(&self, spec: &SecretSpec) -> Option<Secret> {
        let previous = self.entries.get(&spec.location)?.previous.as_ref()?;
        previous.value.select(spec.key.as_deref(), &spec.location).ok()
    }

    /// Whether a location has a value in place (the last good one after a failure).
    #[must_use]
    pub fn value_for_location(&self, location: &Location) -> bool {
        self.entries.get(location).is_some_and(|entry| entry.current.is_some())
    }

    #[must_use]
    pub fn status(&self, location: &Location) -> Status {
        self.entries.get(location).map_or(Status::Pending, |entry| entry.status)
    }

    #[must_use]
    pub fn last_success(&self, location: &Location) -> Option<SystemTime> {
        self.entries.get(location).and_then(|entry| entry.last_success)
    }

    #[must_use]
    pub fn last_error(&self, location: &Location) -> Option<&ProviderError> {
        self.entries.get(location).and_then(|entry| entry.last_error.as_ref())
    }

    /// Whether every location has a value.
    #[must_use]
    pub fn all_resolved(&self) -> bool {
        self.entries.values().all(|entry| entry.current.is_some())
    }

    #[must_use]
    pub fn next_due(&self, location: &Location) -> Option<Instant> {
        self.entries.get(location).map(|entry| entry.next_due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::env::EnvLocation;
    use crate::provider::{RenderMode, StoreRef};

    fn spec(name: &str, interval: u64, grace: u64) -> SecretSpec {
        SecretSpec {
            location: Location::Env(EnvLocation { name: name.into() }),
            key: None,
            refresh_interval: Some(Duration::from_secs(interval)),
            grace_period: Some(Duration::from_secs(grace)),
            render: RenderMode::Auto,
        }
    }

    fn value(text: &str) -> Fetched {
        Fetched::value(Secret::from_text(text.into()))
    }

    fn unreachable() -> ProviderError {
        ProviderError::Unreachable { what: "store".into(), reason: "down".into() }
    }

    fn shown(schedule: &Schedule, spec: &SecretSpec) -> Option<String> {
        schedule.value_for(spec).map(|value| String::from_utf8(value.unwrap().expose().to_vec()).unwrap())
    }

    #[test]
    fn backoff_doubles_from_one_second_up_to_the_interval() {
        let interval = Duration::from_secs(60);
        let waits: Vec<u64> = (1..=8).map(|failures| backoff(failures, interval).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff(1000, interval), interval);
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let interval = Duration::from_secs(1000);
        let samples: Vec<Duration> = (0..2000).map(|_| jitter(interval)).collect();
        assert!(samples.iter().all(|d| (900.0..=1100.0).contains(&d.as_secs_f64())));
        let spread = samples.iter().max().unwrap().as_secs_f64() - samples.iter().min().unwrap().as_secs_f64();
        assert!(spread > 150.0, "jitter should spread: {spread}");
    }

    #[tokio::test(start_paused = true)]
    async fn every_location_is_due_at_once_then_on_its_interval() {
        let specs = [spec("A", 100, 10), spec("B", 1000, 10)];
        let now = Instant::now();
        let mut schedule = Schedule::new(&specs, now);
        assert_eq!(schedule.due(now).len(), 2);
        for spec in &specs {
            assert_eq!(schedule.record_success(&spec.location, value("v"), now), Outcome::First);
        }
        assert!(schedule.due(now).is_empty());
        let next = schedule.next_deadline().unwrap() - now;
        assert!((Duration::from_secs(90)..=Duration::from_secs(110)).contains(&next), "{next:?}");
        tokio::time::advance(Duration::from_secs(111)).await;
        assert_eq!(schedule.due(Instant::now()), std::slice::from_ref(&specs[0].location));
    }

    /// A location being fetched is neither due nor a deadline until its result is recorded:
    /// a hung fetch must not make the loop spin on a deadline in the past.
    #[tokio::test(start_paused = true)]
    async fn a_location_being_fetched_is_not_due_until_its_result_is_recorded() {
        let specs = [spec("A", 100, 10), spec("B", 1000, 10)];
        let (a, b) = (&specs[0].location, &specs[1].location);
        let now = Instant::now();
        let mut schedule = Schedule::new(&specs, now);
        assert!(!schedule.any_fetching());
        schedule.start_fetch(a);
        assert!(schedule.fetching(a) && !schedule.fetching(b) && schedule.any_fetching());
        assert_eq!(schedule.due(now), std::slice::from_ref(b));
        schedule.start_fetch(b);
        assert!(schedule.due(now).is_empty());
        assert_eq!(schedule.next_deadline(), None, "nothing to wake for while both are fetched");
        schedule.record_failure(a, unreachable(), now);
        assert!(!schedule.fetching(a));
        assert!(within_jitter(schedule.next_deadline().unwrap() - now, 1), "a's retry");
        schedule.record_success(b, value("v"), now);
        assert!(!schedule.fetching(b) && !schedule.any_fetching());
    }

    /// A change reported while a fetch runs has the location fetched again as soon as that
    /// fetch succeeds (it may have read the value before the change); a failure backs off as
    /// usual.
    #[tokio::test(start_paused = true)]
    async fn a_change_reported_during_a_fetch_has_it_fetched_again_once_it_succeeds() {
        let specs = [spec("A", 100, 10)];
        let a = &specs[0].location;
        let now = Instant::now();
        let mut schedule = Schedule::new(&specs, now);
        schedule.start_fetch(a);
        schedule.fetch_again_when_done(a);
        schedule.record_success(a, value("v"), now);
        assert_eq!(schedule.due(now), std::slice::from_ref(a), "due again at once");
        schedule.start_fetch(a);
        schedule.record_success(a, value("v"), now);
        assert!(schedule.due(now).is_empty(), "once only");
        schedule.start_fetch(a);
        schedule.fetch_again_when_done(a);
        schedule.record_failure(a, unreachable(), now);
        assert!(within_jitter(schedule.next_due(a).unwrap() - now, 1), "a failure backs off");
    }

    /// Whether `waited` is `seconds` give or take the ±10% jitter.
    fn within_jitter(waited: Duration, seconds: u64) -> bool {
        let seconds = Duration::from_secs(seconds);
        (seconds.mul_f64(0.9)..=seconds.mul_f64(1.1)).contains(&waited)
    }

    /// Secrets that fail together (a store down) are tried again together, in one batch; other
    /// processes (replicas) try again at other times.
    #[tokio::test(start_paused = true)]
    async fn secrets_that_failed_together_are_tried_again_together_and_replicas_apart() {
        let specs: Vec<SecretSpec> = (0..20).map(|i| spec(&format!("S{i}"), 600, 10)).collect();
        let now = Instant::now();
        let retries = |schedule: &mut Schedule| {
            for spec in &specs {
                schedule.record_failure(&spec.location, unreachable(), now);
            }
            specs
                .iter()
                .map(|spec| schedule.next_due(&spec.location).unwrap())
                .collect::<std::collections::BTreeSet<_>>()
        };
        let mut replicas: std::collections::BTreeSet<Instant> = std::collections::BTreeSet::new();
        for _ in 0..20 {
            let together = retries(&mut Schedule::new(&specs, now));
            assert_eq!(together.len(), 1, "one retry time for one process's secrets");
            replicas.extend(together);
        }
        assert!(replicas.len() > 10, "{} distinct retry times for 20 replicas", replicas.len());
    }

    /// Failures back off 1 s, 2 s, 4 s (each ±10%, so that secrets and replicas that failed
    /// together come back apart), the last good value still shown.
    #[tokio::test(start_paused = true)]
    async fn a_failure_keeps_the_last_good_value_and_backs_off() {
        let specs = [spec("A", 60, 10)];
        let location = &specs[0].location;
        let mut schedule = Schedule::new(&specs, Instant::now());
        schedule.record_success(location, value("good"), Instant::now());
        for (failures, wait) in [(1, 1), (2, 2), (3, 4)] {
            schedule.record_failure(location, unreachable(), Instant::now());
            assert_eq!(schedule.status(location), Status::Stale, "after {failures} failures");
            assert_eq!(shown(&schedule, &specs[0]).as_deref(), Some("good"));
            let waited = schedule.next_due(location).unwrap() - Instant::now();
            assert!(within_jitter(waited, wait), "after {failures} failures: {waited:?}");
        }
        schedule.record_success(location, value("good"), Instant::now());
        assert_eq!(schedule.status(location), Status::Success);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stores_retry_after_is_honoured_when_longer_than_the_backoff() {
        let specs = [spec("A", 600, 10)];
        let location = &specs[0].location;
        let mut schedule = Schedule::new(&specs, Instant::now());
        let limited = |seconds| ProviderError::RateLimited {
            what: "store".into(),
            reason: "HTTP 429".into(),
            retry_after: Duration::from_secs(seconds),
        };
        schedule.record_failure(location, limited(30), Instant::now());
        assert_eq!(schedule.next_due(location).unwrap() - Instant::now(), Duration::from_secs(30));
        schedule.record_failure(location, limited(0), Instant::now());
        assert!(within_jitter(schedule.next_due(location).unwrap() - Instant::now(), 2), "the backoff when longer");
    }

    #[tokio::test(start_paused = true)]
    async fn a_never_fetched_secret_is_in_error_and_unresolved() {
        let specs = [spec("A", 60, 10)];
        let mut schedule = Schedule::new(&specs, Instant::now());
        assert!(!schedule.all_resolved());
        schedule.record_failure(&specs[0].location, unreachable(), Instant::now());
        assert_eq!(schedule.status(&specs[0].location), Status::Error);
        assert!(schedule.value_for(&specs[0]).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn unchanged_values_are_reported_unchanged() {
        let specs = [spec("A", 60, 10)];
        let mut schedule = Schedule::new(&specs, Instant::now());
        schedule.record_success(&specs[0].location, value("v"), Instant::now());
        assert_eq!(schedule.record_success(&specs[0].location, value("v"), Instant::now()), Outcome::Unchanged);
        assert_eq!(schedule.record_success(&specs[0].location, value("w"), Instant::now()), Outcome::Changed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_first_fetch_takes_the_stores_previous_value_for_what_is_left_of_the_grace_period() {
        let specs = [spec("A", 3600, 600)];
        let location = &specs[0].location;
        let with_previous = |text: &str, replaced_ago: u64| {
            let mut fetched = value("current");
            fetched.store_previous = Some(crate::provider::StorePrevious {
                content: value(text).content,
                replaced_at: Some(SystemTime::now() - Duration::from_secs(replaced_ago)),
            });
            fetched
        };
        let mut schedule = Schedule::new(&specs, Instant::now());
        schedule.record_success(location, with_previous("rotated-away", 100), Instant::now());
        assert_eq!(schedule.previous_for(&specs[0]).unwrap().expose(), b"rotated-away");
        tokio::time::advance(Duration::from_secs(501)).await;
        assert_eq!(schedule.expire_previous(Instant::now()), std::slice::from_ref(location));
        // A rotation older than the grace period brings no previous value.
        let mut schedule = Schedule::new(&specs, Instant::now());
        schedule.record_success(location, with_previous("long-gone", 601), Instant::now());
        assert!(schedule.previous_for(&specs[0]).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn the_previous_value_is_kept_for_the_grace_period_and_serves_a_fallback() {
        let specs = [spec("A", 3600, 600)];
        let location = &specs[0].location;
        let mut schedule = Schedule::new(&specs, Instant::now());
        schedule.record_success(location, value("old"), Instant::now());
        schedule.record_success(location, value("new"), Instant::now());
        assert_eq!(schedule.previous_for(&specs[0]).unwrap().expose(), b"old");
        // An auth failure within the grace period whose refetch brings nothing newer.
        tokio::time::advance(Duration::from_secs(300)).await;
        assert!(schedule.fall_back(location, Instant::now()));
        assert_eq!(schedule.status(location), Status::Fallback);
        assert_eq!(shown(&schedule, &specs[0]).as_deref(), Some("old"));
        // The next scheduled refresh tries the current value again.
        schedule.record_success(location, value("new"), Instant::now());
        assert_eq!(schedule.status(location), Status::Success);
        assert_eq!(shown(&schedule, &specs[0]).as_deref(), Some("new"));
        // After the grace period there is nothing to fall back to.
        tokio::time::advance(Duration::from_secs(301)).await;
        assert_eq!(schedule.expire_previous(Instant::now()), std::slice::from_ref(location));
        assert!(!schedule.fall_back(location, Instant::now()));
        assert!(schedule.previous_for(&specs[0]).is_none());
    }

    /// A schedule of `specs[0]` whose value went from `old` to `new` (grace 600 s), and whose
    /// last fetch failed.
    fn rotated_then_unanswered(specs: &[SecretSpec; 1]) -> Schedule {
        let location = &specs[0].location;
        let mut schedule = Schedule::new(specs, Instant::now());
        schedule.record_success(location, value("old"), Instant::now());
        schedule.record_success(location, value("new"), Instant::now());
        schedule.record_failure(location, unreachable(), Instant::now());
        schedule
    }

    #[tokio::test(start_paused = true)]
    async fn a_store_that_does_not_answer_an_auth_failures_refetch_still_allows_the_fallback() {
        let specs = [spec("A", 3600, 600)];
        let location = &specs[0].location;
        // The refetch fails: nothing newer came.
        let mut schedule = rotated_then_unanswered(&specs);
        assert_eq!(schedule.status(location), Status::Stale);
        assert!(schedule.fall_back(location, Instant::now()));
        assert_eq!(
            (schedule.status(location), shown(&schedule, &specs[0]).as_deref()),
            (Status::Fallback, Some("old"))
        );
        // Further failures keep the fallback; the first success ends it.
        schedule.record_failure(location, unreachable(), Instant::now());
        assert_eq!(
            (schedule.status(location), shown(&schedule, &specs[0]).as_deref()),
            (Status::Fallback, Some("old"))
        );
        schedule.record_success(location, value("new"), Instant::now());
        assert_eq!((schedule.status(location), shown(&schedule, &specs[0]).as_deref()), (Status::Success, Some("new")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_fallback_that_outlives_its_grace_period_while_the_store_is_down_is_stale() {
        let specs = [spec("A", 3600, 600)];
        let location = &specs[0].location;
        let mut schedule = rotated_then_unanswered(&specs);
        assert!(schedule.fall_back(location, Instant::now()));
        tokio::time::advance(Duration::from_secs(601)).await;
        assert_eq!(schedule.expire_previous(Instant::now()), std::slice::from_ref(location));
        assert_eq!((schedule.status(location), shown(&schedule, &specs[0]).as_deref()), (Status::Stale, Some("new")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_lease_brings_the_refresh_forward() {
        let specs = [spec("A", 3600, 10)];
        let mut schedule = Schedule::new(&specs, Instant::now());
        let mut leased = value("creds");
        leased.lease = Some(Duration::from_secs(300));
        schedule.record_success(&specs[0].location, leased, Instant::now());
        assert_eq!(schedule.next_due(&specs[0].location).unwrap() - Instant::now(), Duration::from_secs(200));
    }

    #[tokio::test(start_paused = true)]
    async fn a_location_named_twice_refreshes_as_often_as_the_most_demanding_asks() {
        let specs = [spec("A", 3600, 60), spec("A", 120, 900)];
        let mut schedule = Schedule::new(&specs, Instant::now());
        schedule.record_success(&specs[0].location, value("v"), Instant::now());
        let wait = schedule.next_due(&specs[0].location).unwrap() - Instant::now();
        assert!(wait <= Duration::from_secs(132), "{wait:?}");
        schedule.reconcile(&specs[..1], Instant::now());
        assert_eq!(schedule.status(&specs[0].location), Status::Success, "kept across a reconcile");
        schedule.reconcile(&[spec("B", 60, 60)], Instant::now());
        assert_eq!(schedule.status(&specs[0].location), Status::Pending, "forgotten once no spec names it");
        let _ = StoreRef::Default;
    }

    /// A value changes, then `seconds` pass: whether its previous value is still kept.
    async fn previous_kept_after(specs: &[SecretSpec], seconds: u64) -> bool {
        let location = &specs[0].location;
        let mut schedule = Schedule::new(specs, Instant::now());
        schedule.record_success(location, value("old"), Instant::now());
        schedule.record_success(location, value("new"), Instant::now());
        tokio::time::advance(Duration::from_secs(seconds)).await;
        schedule.expire_previous(Instant::now());
        schedule.previous_for(&specs[0]).is_some()
    }

    #[tokio::test(start_paused = true)]
    async fn a_location_named_twice_keeps_its_previous_value_as_long_as_the_most_patient_asks() {
        let specs = [spec("A", 3600, 60), spec("A", 3600, 900)];
        assert!(previous_kept_after(&specs, 899).await);
        assert!(!previous_kept_after(&specs, 901).await);
    }

    /// Without `refresh_interval` or `grace_period` anywhere: an hour (±10%) and 15 minutes.
    #[tokio::test(start_paused = true)]
    async fn without_settings_a_value_refreshes_hourly_and_keeps_its_previous_one_for_15_minutes() {
        let specs = [SecretSpec { refresh_interval: None, grace_period: None, ..spec("A", 0, 0) }];
        let mut schedule = Schedule::new(&specs, Instant::now());
        schedule.record_success(&specs[0].location, value("v"), Instant::now());
        let wait = schedule.next_due(&specs[0].location).unwrap() - Instant::now();
        assert!((Duration::from_secs(3240)..=Duration::from_secs(3960)).contains(&wait), "{wait:?}");
        assert!(previous_kept_after(&specs, 899).await);
        assert!(!previous_kept_after(&specs, 901).await);
    }
}
