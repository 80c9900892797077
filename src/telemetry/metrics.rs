//! Metrics: the `prometheus-client` registry behind `/metrics` and the typed methods the refresh
//! loop and the supervisor call to update it (CONTRACT.md section 8). Labels carry secret slugs and
//! provider kinds, never secret values.

use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Upper bounds of the fetch-duration buckets: a local file or env lookup takes about a
/// millisecond, a slow cloud store call tens of seconds before it times out.
const FETCH_DURATION_BUCKETS: [f64; 14] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// What the daemon currently serves for one secret; exported as `secret_render_secret_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretState {
    /// The last fetch succeeded and its value is rendered.
    Success,
    /// Fetches fail and the last good value, older than its refresh interval, is still rendered.
    Stale,
    /// No value can be rendered.
    Error,
    /// The configured fallback value is rendered.
    Fallback,
}

impl SecretState {
    pub const ALL: [SecretState; 4] =
        [SecretState::Success, SecretState::Stale, SecretState::Error, SecretState::Fallback];

    /// The `state` label value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SecretState::Success => "success",
            SecretState::Stale => "stale",
            SecretState::Error => "error",
            SecretState::Fallback => "fallback",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SecretLabels {
    secret: String,
    provider: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StateLabels {
    secret: String,
    provider: String,
    state: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ProviderLabels {
    provider: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FailureLabels {
    provider: String,
    reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReloadLabels {
    result: &'static str,
}

type UnixTimeGauge = Family<SecretLabels, Gauge<f64, AtomicU64>>;

/// The registry and every metric in it. All methods take `&self`, so one `Arc<Metrics>` is shared
/// by the refresh loop, the supervisor and the admin listener.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    last_successful_fetch: UnixTimeGauge,
    secret_state: Family<StateLabels, Gauge>,
    fetch_duration: Family<ProviderLabels, Histogram>,
    fetch_failures: Family<FailureLabels, Counter>,
    reloads: Family<ReloadLabels, Counter>,
    expiry: UnixTimeGauge,
    config_reload_successful: Gauge,
    config_reload_success_time: Gauge<f64, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Builds the registry with every metric registered; families start empty except
    /// `secret_render_reloads_total`, whose two series start at 0.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("secret_render");
        let last_successful_fetch = UnixTimeGauge::default();
        registry.register_with_unit(
            "last_successful_fetch",
            "Unix time of the last successful fetch of the secret",
            Unit::Seconds,
            last_successful_fetch.clone(),
        );
        let secret_state = Family::<StateLabels, Gauge>::default();
        registry.register(
            "secret_state",
            "1 for the state the secret is in (success, stale, error, fallback), 0 for the others",
            secret_state.clone(),
        );
        let fetch_duration = Family::<ProviderLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(FETCH_DURATION_BUCKETS)) as fn() -> Histogram,
        );
        registry.register_with_unit(
            "fetch_duration",
            "Time taken by fetches from a provider, failed ones included",
            Unit::Seconds,
            fetch_duration.clone(),
        );
        let fetch_failures = Family::<FailureLabels, Counter>::default();
        // Registered without `_total`: the encoder appends it to counters.
        registry.register("fetch_failures", "Failed fetches by provider and reason", fetch_failures.clone());
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register("reloads", "Reloads of the target after a re-render, by result", reloads.clone());
        for result in ["success", "failure"] {
            let _ = reloads.get_or_create(&ReloadLabels { result });
        }
        let expiry = UnixTimeGauge::default();
        registry.register_with_unit(
            "secret_expiry_timestamp",
            "Unix time at which the store says the secret expires",
            Unit::Seconds,
            expiry.clone(),
        );
        // Named as Prometheus and Alertmanager name theirs, so that the alerts written for
        // them (`..._config_last_reload_successful == 0`) fit.
        let config_reload_successful = Gauge::default();
        registry.register(
            "config_last_reload_successful",
            "Whether the last reading of the configuration was valid (0: the last good one is still served)",
            config_reload_successful.clone(),
        );
        let config_reload_success_time = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit(
            "config_last_reload_success_timestamp",
            "Unix time of the last valid reading of the configuration",
            Unit::Seconds,
            config_reload_success_time.clone(),
        );
        Metrics {
            registry,
            last_successful_fetch,
            secret_state,
            fetch_duration,
            fetch_failures,
            reloads,
            expiry,
            config_reload_successful,
            config_reload_success_time,
        }
    }

    /// Records a reading of the configuration at `at` (the first, at the start, included):
    /// valid, and in use from now on, or invalid, the last good one still in use.
    pub fn record_config_reading(&self, valid: bool, at: SystemTime) {
        self.config_reload_successful.set(i64::from(valid));
        if valid {
            self.config_reload_success_time.set(unix_seconds(at));
        }
    }

    /// Records one fetch from `provider`: its duration, and with `failure_reason` a failure
    /// counted under that reason (a short fixed word such as `timeout`, never an error message,
    /// which could carry arbitrary text and grow the label set without bound).
    pub fn record_fetch(&self, provider: &str, duration: Duration, failure_reason: Option<&str>) {
        self.fetch_duration
            .get_or_create(&ProviderLabels { provider: provider.to_owned() })
            .observe(duration.as_secs_f64());
        if let Some(reason) = failure_reason {
            self.fetch_failures
                .get_or_create(&FailureLabels { provider: provider.to_owned(), reason: reason.to_owned() })
                .inc();
        }
    }

    /// Records a successful fetch of `secret` at `at`; the secret is then in state `success`.
    pub fn record_success(&self, secret: &str, provider: &str, at: SystemTime) {
        self.last_successful_fetch.get_or_create(&secret_labels(secret, provider)).set(unix_seconds(at));
        self.set_state(secret, provider, SecretState::Success);
    }

    /// Sets `secret`'s state series: 1 for `state`, 0 for the three others.
    pub fn set_state(&self, secret: &str, provider: &str, state: SecretState) {
        for candidate in SecretState::ALL {
            let labels =
                StateLabels { secret: secret.to_owned(), provider: provider.to_owned(), state: candidate.as_str() };
            self.secret_state.get_or_create(&labels).set(i64::from(candidate == state));
        }
    }

    /// Records the expiry time the store reported for `secret`.
    pub fn set_expiry(&self, secret: &str, provider: &str, at: SystemTime) {
        self.expiry.get_or_create(&secret_labels(secret, provider)).set(unix_seconds(at));
    }

    /// Removes `secret`'s expiry series: its value no longer says when it ends.
    pub fn clear_expiry(&self, secret: &str, provider: &str) {
        self.expiry.remove(&secret_labels(secret, provider));
    }

    /// Removes every series of `secret`, for a secret no longer in the configuration. Per-provider
    /// series (durations, failures) stay: other secrets may share the provider.
    pub fn forget(&self, secret: &str, provider: &str) {
        let labels = secret_labels(secret, provider);
        self.last_successful_fetch.remove(&labels);
        self.expiry.remove(&labels);
        for state in SecretState::ALL {
            self.secret_state.remove(&StateLabels {
                secret: labels.secret.clone(),
                provider: labels.provider.clone(),
                state: state.as_str(),
            });
        }
    }

    /// Counts one reload of the child process.
    pub fn record_reload(&self, success: bool) {
        let result = if success { "success" } else { "failure" };
        self.reloads.get_or_create(&ReloadLabels { result }).inc();
    }

    /// The registry in the `OpenMetrics` text format, `# EOF` included. Families with no series yet
    /// (no secret known, no fetch done) are left out.
    ///
    /// # Panics
    ///
    /// Never: the encoder only fails when its writer does, and writing to a `String` cannot fail.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("encoding into a String cannot fail");
        text
    }
}

fn secret_labels(secret: &str, provider: &str) -> SecretLabels {
    SecretLabels { secret: secret.to_owned(), provider: provider.to_owned() }
}

/// Seconds since the Unix epoch, negative for earlier times (a clock set before 1970).
fn unix_seconds(at: SystemTime) -> f64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "node.basic_auth.password-66e6";

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    /// The sample lines (no `#` comments) of the metric family `name`, in exposition order.
    fn samples(metrics: &Metrics, name: &str) -> Vec<String> {
        metrics
            .encode()
            .lines()
            .filter(|line| {
                line.strip_prefix(name).is_some_and(|rest| {
                    ["", "_bucket", "_sum", "_count"]
                        .iter()
                        .any(|suffix| rest.strip_prefix(suffix).is_some_and(|r| r.starts_with(['{', ' '])))
                })
            })
            .map(str::to_owned)
            .collect()
    }

    fn sorted(mut lines: Vec<String>) -> Vec<String> {
        lines.sort();
        lines
    }

    fn state_lines(secret: &str, provider: &str, current: &str) -> Vec<String> {
        sorted(
            ["success", "stale", "error", "fallback"]
                .iter()
                .map(|state| {
                    let value = u8::from(*state == current);
                    format!(
                        "secret_render_secret_state{{secret=\"{secret}\",provider=\"{provider}\",state=\"{state}\"}} {value}"
                    )
                })
                .collect(),
        )
    }

    #[test]
    fn exposed_lines_after_calls() {
        type Step = fn(&Metrics);
        let cases: Vec<(&str, Step, &str, Vec<String>)> = vec![
            (
                "success sets the fetch time",
                |m| m.record_success(SECRET, "vault", at(1_700_000_000)),
                "secret_render_last_successful_fetch_seconds",
                vec![format!(
                    "secret_render_last_successful_fetch_seconds{{secret=\"{SECRET}\",provider=\"vault\"}} 1700000000.0"
                )],
            ),
            (
                "success sets the state",
                |m| m.record_success(SECRET, "vault", at(1_700_000_000)),
                "secret_render_secret_state",
                state_lines(SECRET, "vault", "success"),
            ),
            (
                "state switches",
                |m| {
                    m.set_state(SECRET, "vault", SecretState::Success);
                    m.set_state(SECRET, "vault", SecretState::Stale);
                },
                "secret_render_secret_state",
                state_lines(SECRET, "vault", "stale"),
            ),
            (
                "fallback",
                |m| m.set_state(SECRET, "env", SecretState::Fallback),
                "secret_render_secret_state",
                state_lines(SECRET, "env", "fallback"),
            ),
            (
                "error",
                |m| m.set_state(SECRET, "env", SecretState::Error),
                "secret_render_secret_state",
                state_lines(SECRET, "env", "error"),
            ),
            (
                "forget removes the secret's series",
                |m| {
                    m.record_success(SECRET, "vault", at(1));
                    m.set_expiry(SECRET, "vault", at(2));
                    m.record_success("other-1234", "file", at(3));
                    m.forget(SECRET, "vault");
                },
                "secret_render_secret_state",
                state_lines("other-1234", "file", "success"),
            ),
            (
                "forget removes the fetch time",
                |m| {
                    m.record_success(SECRET, "vault", at(1));
                    m.forget(SECRET, "vault");
                },
                "secret_render_last_successful_fetch_seconds",
                vec![],
            ),
            (
                "forget removes the expiry",
                |m| {
                    m.set_expiry(SECRET, "vault", at(2));
                    m.forget(SECRET, "vault");
                },
                "secret_render_secret_expiry_timestamp_seconds",
                vec![],
            ),
            (
                "expiry",
                |m| m.set_expiry(SECRET, "vault", UNIX_EPOCH + Duration::from_millis(1_800_000_000_500)),
                "secret_render_secret_expiry_timestamp_seconds",
                vec![format!(
                    "secret_render_secret_expiry_timestamp_seconds{{secret=\"{SECRET}\",provider=\"vault\"}} 1800000000.5"
                )],
            ),
            (
                "failures counted by reason",
                |m| {
                    m.record_fetch("vault", Duration::from_millis(3), Some("timeout"));
                    m.record_fetch("vault", Duration::from_millis(3), Some("timeout"));
                    m.record_fetch("vault", Duration::from_millis(3), Some("denied"));
                    m.record_fetch("vault", Duration::from_millis(3), None);
                },
                "secret_render_fetch_failures_total",
                vec![
                    "secret_render_fetch_failures_total{provider=\"vault\",reason=\"denied\"} 1".to_owned(),
                    "secret_render_fetch_failures_total{provider=\"vault\",reason=\"timeout\"} 2".to_owned(),
                ],
            ),
            (
                "a success is not a failure",
                |m| m.record_fetch("file", Duration::from_millis(1), None),
                "secret_render_fetch_failures_total",
                vec![],
            ),
            (
                "reloads start at zero",
                |_| {},
                "secret_render_reloads_total",
                vec![
                    "secret_render_reloads_total{result=\"failure\"} 0".to_owned(),
                    "secret_render_reloads_total{result=\"success\"} 0".to_owned(),
                ],
            ),
            (
                "reloads by result",
                |m| {
                    m.record_reload(true);
                    m.record_reload(true);
                    m.record_reload(false);
                },
                "secret_render_reloads_total",
                vec![
                    "secret_render_reloads_total{result=\"failure\"} 1".to_owned(),
                    "secret_render_reloads_total{result=\"success\"} 2".to_owned(),
                ],
            ),
            (
                "a valid reading of the configuration",
                |m| m.record_config_reading(true, at(1_700_000_000)),
                "secret_render_config_last_reload_successful",
                vec!["secret_render_config_last_reload_successful 1".to_owned()],
            ),
            (
                "an invalid reading of the configuration",
                |m| {
                    m.record_config_reading(true, at(1_700_000_000));
                    m.record_config_reading(false, at(1_700_000_060));
                },
                "secret_render_config_last_reload_successful",
                vec!["secret_render_config_last_reload_successful 0".to_owned()],
            ),
            (
                "an invalid reading keeps the last valid one's time",
                |m| {
                    m.record_config_reading(true, at(1_700_000_000));
                    m.record_config_reading(false, at(1_700_000_060));
                },
                "secret_render_config_last_reload_success_timestamp_seconds",
                vec!["secret_render_config_last_reload_success_timestamp_seconds 1700000000.0".to_owned()],
            ),
        ];
        for (name, step, metric, expected) in cases {
            let metrics = Metrics::new();
            step(&metrics);
            assert_eq!(sorted(samples(&metrics, metric)), expected, "case: {name}");
        }
    }

    #[test]
    fn fetch_duration_histogram() {
        let metrics = Metrics::new();
        metrics.record_fetch("vault", Duration::from_micros(500), None);
        metrics.record_fetch("vault", Duration::from_millis(200), Some("timeout"));
        metrics.record_fetch("vault", Duration::from_secs(60), None);
        let lines = samples(&metrics, "secret_render_fetch_duration_seconds");
        let bucket = |le: &str, count: u64| {
            format!("secret_render_fetch_duration_seconds_bucket{{le=\"{le}\",provider=\"vault\"}} {count}")
        };
        let expected = vec![
            "secret_render_fetch_duration_seconds_sum{provider=\"vault\"} 60.2005".to_owned(),
            "secret_render_fetch_duration_seconds_count{provider=\"vault\"} 3".to_owned(),
            bucket("0.001", 1),
            bucket("0.0025", 1),
            bucket("0.005", 1),
            bucket("0.01", 1),
            bucket("0.025", 1),
            bucket("0.05", 1),
            bucket("0.1", 1),
            bucket("0.25", 2),
            bucket("0.5", 2),
            bucket("1.0", 2),
            bucket("2.5", 2),
            bucket("5.0", 2),
            bucket("10.0", 2),
            bucket("30.0", 2),
            bucket("+Inf", 3),
        ];
        assert_eq!(lines, expected);
    }

    #[test]
    fn metadata_names_types_and_units() {
        let metrics = Metrics::new();
        // Families without series are not exposed at all.
        metrics.record_success(SECRET, "vault", at(1));
        metrics.set_expiry(SECRET, "vault", at(2));
        metrics.record_fetch("vault", Duration::from_millis(5), Some("timeout"));
        let text = metrics.encode();
        for line in [
            "# TYPE secret_render_last_successful_fetch_seconds gauge",
            "# UNIT secret_render_last_successful_fetch_seconds seconds",
            "# TYPE secret_render_secret_state gauge",
            "# TYPE secret_render_fetch_duration_seconds histogram",
            "# TYPE secret_render_fetch_failures counter",
            "# TYPE secret_render_reloads counter",
            "# TYPE secret_render_secret_expiry_timestamp_seconds gauge",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn a_cleared_expiry_leaves_the_exposition() {
        let metrics = Metrics::new();
        metrics.set_expiry(SECRET, "vault", at(2));
        assert!(metrics.encode().contains("secret_render_secret_expiry_timestamp_seconds{"));
        metrics.clear_expiry(SECRET, "vault");
        assert!(!metrics.encode().contains("secret_render_secret_expiry_timestamp_seconds{"));
    }

    #[test]
    fn shareable_across_tasks() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Metrics>();
    }
}
