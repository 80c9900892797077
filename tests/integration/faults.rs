//! Fault injection between `secret-render` and a real OpenBao: a [`FaultProxy`] in front of the
//! dev server refuses, hangs, answers 500/503/429, cuts a body short or answers malformed JSON,
//! and the tests check what an operator relies on (CONTRACT.md sections 5, 8 and 10):
//!
//! - `watch`, after a first good render: the last good secret file and rendered config stay byte
//!   for byte, `secret_render_secret_state` goes `stale`, `secret_render_fetch_failures_total`
//!   counts with a reason label that fits the fault, no reload is sent, a hung store costs one
//!   `timeout` per try and no more, and the daemon recovers (`success`) once the store answers;
//! - `watch` with a secret never fetched: state `error`, nothing written, not ready, then recovery;
//! - `render`: exit 4 naming the YAML path, in bounded time;
//! - the `Retry-After` of a 429 or a 503 is honoured.
//!
//! Nothing sleeps to synchronise: every wait polls a condition against a bounded deadline.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::fault_proxy::{Fault, FaultProxy};
use crate::support::{CANARY, Server, Test, WatchProcess, http_json, read, try_http};

/// The store's `timeout` and `refresh_interval` in every config here.
const TIMEOUT: Duration = Duration::from_secs(2);
const INTERVAL: Duration = Duration::from_secs(1);
/// Room for a busy machine (two cores shared with other builds) on top of any computed bound.
const SLACK: Duration = Duration::from_secs(3);
/// The pause between two looks at a condition.
const PAUSE: Duration = Duration::from_millis(20);
/// How long a condition that follows from a few refresh cycles may take to show.
const CYCLES: Duration = Duration::from_secs(20);

/// The YAML path of the one secret, as messages show it.
const YAML_PATH: &str = "scrape_configs[job_name=node].basic_auth.password";

/// A Prometheus config whose one job takes its password from the store behind the proxy.
fn config(proxy: &FaultProxy) -> String {
    format!(
        "secret_stores:
  flaky:
    vault:
      address: {address}
      auth: {{token: root}}
      timeout: {timeout}s
      refresh_interval: {interval}s
scrape_configs:
  - job_name: node
    basic_auth:
      username: prom
      password: {{vault: {{path: prometheus/node, key: password}}}}
    static_configs:
      - targets: ['127.0.0.1:9100']
",
        address = proxy.address(),
        timeout = TIMEOUT.as_secs(),
        interval = INTERVAL.as_secs(),
    )
}

/// Writes the secret straight to OpenBao (not through the proxy).
fn put_password(server: &Server, value: &str) {
    let body = format!("{{\"data\":{{\"password\":\"{value}\"}}}}");
    let (status, response) = http_json("POST", server.port, "/v1/secret/data/prometheus/node", "root", &body);
    assert_eq!(status, 200, "seeding OpenBao: {response}");
}

/// A stand-in for a target's `POST /-/reload`: answers 200 and counts the POSTs it gets.
fn reload_endpoint() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/-/reload", listener.local_addr().unwrap().port());
    let posts = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&posts);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            let _ = request.read_line(&mut first);
            let mut line = String::new();
            while request.read_line(&mut line).is_ok_and(|read| read > 0) && line != "\r\n" {
                line.clear();
            }
            if first.starts_with("POST ") {
                counter.fetch_add(1, Ordering::SeqCst);
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, posts)
}

/// Every file under `dir` and its bytes. A file gone between the listing and the read (a
/// temporary file of a write under way, renamed meanwhile) is skipped.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.map(Result::unwrap) {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                pending.push(path);
            } else {
                match std::fs::read(&path) {
                    Ok(bytes) => {
                        files.insert(path, bytes);
                    }
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                    Err(error) => panic!("cannot read {}: {error}", path.display()),
                }
            }
        }
    }
    files
}

/// The labels of one exposition line `name{…} value`, and its value.
fn parse_sample<'a>(line: &'a str, name: &str) -> Option<(BTreeMap<&'a str, &'a str>, f64)> {
    let rest = line.strip_prefix(name)?.strip_prefix('{')?;
    let (block, value) = rest.split_once('}')?;
    let labels = block
        .split(',')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            Some((key.trim(), value.trim().trim_matches('"')))
        })
        .collect();
    Some((labels, value.split_whitespace().next()?.parse().ok()?))
}

/// `secret-render watch` against the store behind the proxy, with these tests' views of its
/// admin listener.
type Sidecar = WatchProcess;

trait Vault {
    fn start(test: &Test, args: &[&str]) -> Self;
    fn metrics(&self) -> String;
    fn ready(&self) -> bool;
    fn state(&self) -> Option<String>;
    fn failures(&self) -> BTreeMap<String, f64>;
}

impl Vault for WatchProcess {
    /// Starts the daemon without the caller's Vault environment and waits until its admin
    /// listener answers.
    fn start(test: &Test, args: &[&str]) -> Self {
        let mut sidecar = Self::start_with(test, args, &["VAULT_ADDR", "VAULT_TOKEN"]);
        sidecar.until("the admin listener to answer", Duration::from_secs(30), |sidecar| {
            try_http("GET", sidecar.port, "/-/healthy").is_some()
        });
        sidecar
    }

    fn metrics(&self) -> String {
        try_http("GET", self.port, "/metrics").map(|(_, body)| body).unwrap_or_default()
    }

    fn ready(&self) -> bool {
        try_http("GET", self.port, "/-/ready").is_some_and(|(status, _)| status == 200)
    }

    /// The state whose `secret_render_secret_state` series is 1 for the vault secret.
    fn state(&self) -> Option<String> {
        self.metrics().lines().find_map(|line| {
            let (labels, value) = parse_sample(line, "secret_render_secret_state")?;
            (labels.get("provider") == Some(&"vault") && value == 1.0).then(|| labels["state"].to_owned())
        })
    }

    /// `secret_render_fetch_failures_total{provider="vault"}` by reason.
    fn failures(&self) -> BTreeMap<String, f64> {
        self.metrics()
            .lines()
            .filter_map(|line| {
                let (labels, value) = parse_sample(line, "secret_render_fetch_failures_total")?;
                let reason = labels.get("reason")?;
                (labels.get("provider") == Some(&"vault")).then(|| ((*reason).to_owned(), value))
            })
            .collect()
    }
}

/// Failures counted since `before`, by reason (reasons that did not move are left out).
fn delta(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(reason, count)| (reason.clone(), count - before.get(reason).copied().unwrap_or(0.0)))
        .filter(|(_, moved)| *moved > 0.0)
        .collect()
}

/// How each fault should be labelled: the reasons an operator would find sensible.
struct Row {
    fault: Fault,
    reasons: &'static [&'static str],
    /// What `render`'s message says about the cause.
    render_says: &'static str,
}

const ROWS: [Row; 7] = [
    Row { fault: Fault::Refuse, reasons: &["unreachable"], render_says: "Connection refused" },
    Row { fault: Fault::Hang, reasons: &["timeout"], render_says: "timed out" },
    Row { fault: Fault::Status(500), reasons: &["unreachable", "server_error"], render_says: "HTTP 500" },
    Row {
        fault: Fault::Status(503),
        reasons: &["unreachable", "unavailable", "server_error"],
        render_says: "HTTP 503",
    },
    Row {
        fault: Fault::RetryAfter { status: 429, retry_after: 1 },
        reasons: &["unreachable", "rate_limited"],
        render_says: "HTTP 429",
    },
    Row { fault: Fault::CloseMidBody, reasons: &["unreachable", "invalid"], render_says: "body" },
    Row { fault: Fault::MalformedJson, reasons: &["invalid"], render_says: "not a Vault JSON response" },
];

fn row(fault: Fault) -> &'static Row {
    ROWS.iter().find(|row| row.fault == fault).expect("a row for every fault")
}

/// After a first good render under `watch`, the store misbehaves the way `fault` says; then it
/// answers again, and a rotation shows that reloads were wired all along.
fn stale_then_recovers(fault: Fault) {
    let Row { reasons, .. } = row(fault);
    let server = Server::openbao();
    let first = format!("first-{CANARY}");
    put_password(&server, &first);
    let proxy = FaultProxy::start(server.port);
    let (reload_url, reloads) = reload_endpoint();
    let test = Test::new().file("prometheus.yml", &config(&proxy));
    let mut sidecar = Sidecar::start(&test, &["prometheus.yml", "--out", "out", "--reload-url", &reload_url]);
    sidecar.until("the first render (ready)", CYCLES, Sidecar::ready);
    sidecar.until("state success", CYCLES, |sidecar| sidecar.state().as_deref() == Some("success"));
    let out = test.path("out");
    let good = snapshot(&out);
    let rendered = read(&out.join("prometheus.yml"));
    assert!(rendered.contains("password_file:"), "{rendered}");
    assert!(good.values().any(|bytes| *bytes == first.as_bytes()), "no secret file holds the value");

    let before = sidecar.failures();
    let requests_before = proxy.requests();
    let switched = Instant::now();
    proxy.set(fault);
    sidecar.until(&format!("a first failure under {}", fault.name()), CYCLES, |sidecar| {
        !delta(&before, &sidecar.failures()).is_empty()
    });
    let first_failure = switched.elapsed();
    // The next due fetch comes within one (jittered) interval; a hung one gives up at `timeout`.
    let bound = TIMEOUT + INTERVAL.mul_f64(1.1) + SLACK;
    assert!(first_failure <= bound, "{}: the first failure took {first_failure:?} (bound {bound:?})", fault.name());
    let counted = delta(&before, &sidecar.failures()).values().sum::<f64>();
    sidecar.until("a retry that fails too", CYCLES, |sidecar| {
        delta(&before, &sidecar.failures()).values().sum::<f64>() > counted
    });
    let between = switched.elapsed() - first_failure;
    // A retry backs off at most the interval (1 s) and gives up at `timeout`.
    let bound = TIMEOUT + INTERVAL + SLACK;
    assert!(between <= bound, "{}: the retry's failure took {between:?} (bound {bound:?})", fault.name());
    eprintln!("{}: first failure after {first_failure:?}, the next {between:?} later", fault.name());

    let moved = delta(&before, &sidecar.failures());
    for reason in moved.keys() {
        assert!(
            reasons.contains(&reason.as_str()),
            "{}: failures counted with reason {reason:?}; expected one of {reasons:?} (all: {moved:?})",
            fault.name()
        );
    }
    assert_eq!(sidecar.state().as_deref(), Some("stale"), "{}\n{}", fault.name(), sidecar.metrics());
    assert!(sidecar.ready(), "{}: the last good value is in place, so still ready", fault.name());
    if fault != Fault::Refuse {
        assert!(proxy.requests() > requests_before, "{}: the proxy saw no request", fault.name());
    }
    assert!(snapshot(&out) == good, "{}: the output changed during the fault", fault.name());
    assert_eq!(reloads.load(Ordering::SeqCst), 0, "{}: a reload was sent during the fault", fault.name());

    proxy.set(Fault::PassThrough);
    sidecar.until("recovery (state success)", CYCLES, |sidecar| sidecar.state().as_deref() == Some("success"));
    assert!(snapshot(&out) == good, "{}: recovering with the same value changed the output", fault.name());
    assert_eq!(reloads.load(Ordering::SeqCst), 0, "{}: recovering with the same value sent a reload", fault.name());

    // The reload endpoint was wired all along: a rotation is written and reloads once.
    let second = format!("second-{CANARY}");
    put_password(&server, &second);
    sidecar.until("the rotated value on disk", CYCLES, |_| {
        snapshot(&out).values().any(|bytes| *bytes == second.as_bytes())
    });
    sidecar.until("one reload after the rotation", CYCLES, |_| reloads.load(Ordering::SeqCst) >= 1);
}

#[test]
fn watch_keeps_the_last_good_files_while_connections_are_refused() {
    stale_then_recovers(Fault::Refuse);
}

#[test]
fn watch_gives_up_on_a_hung_store_at_its_timeout_and_keeps_the_last_good_files() {
    stale_then_recovers(Fault::Hang);
}

#[test]
fn watch_keeps_the_last_good_files_through_http_500() {
    stale_then_recovers(Fault::Status(500));
}

#[test]
fn watch_keeps_the_last_good_files_through_http_503() {
    stale_then_recovers(Fault::Status(503));
}

#[test]
fn watch_keeps_the_last_good_files_through_http_429() {
    stale_then_recovers(Fault::RetryAfter { status: 429, retry_after: 1 });
}

#[test]
fn watch_keeps_the_last_good_files_when_a_body_is_cut_short() {
    stale_then_recovers(Fault::CloseMidBody);
}

#[test]
fn watch_keeps_the_last_good_files_through_malformed_json() {
    stale_then_recovers(Fault::MalformedJson);
}

/// A secret never fetched, through every fault in turn: state `error`, nothing written, not
/// ready; then the store answers and everything is written.
#[test]
fn watch_reports_error_for_a_never_fetched_secret_through_every_fault_then_recovers() {
    let server = Server::openbao();
    let value = format!("only-{CANARY}");
    put_password(&server, &value);
    let proxy = FaultProxy::start(server.port);
    proxy.set(Fault::Refuse);
    let (reload_url, reloads) = reload_endpoint();
    let test = Test::new().file("prometheus.yml", &config(&proxy));
    let mut sidecar = Sidecar::start(&test, &["prometheus.yml", "--out", "out", "--reload-url", &reload_url]);
    let out = test.path("out");
    for Row { fault, reasons, .. } in &ROWS {
        let before = sidecar.failures();
        proxy.set(*fault);
        sidecar.until(&format!("a failure under {}", fault.name()), CYCLES, |sidecar| {
            delta(&before, &sidecar.failures()).keys().any(|reason| reasons.contains(&reason.as_str()))
        });
        assert_eq!(sidecar.state().as_deref(), Some("error"), "{}\n{}", fault.name(), sidecar.metrics());
        assert!(!sidecar.ready(), "{}: ready with no value", fault.name());
        assert!(!out.join("prometheus.yml").exists(), "{}: a config was rendered with no value", fault.name());
        let secrets: Vec<_> = snapshot(&out).into_keys().collect();
        assert!(secrets.is_empty(), "{}: files written with no value: {secrets:?}", fault.name());
        assert_eq!(reloads.load(Ordering::SeqCst), 0, "{}: a reload was sent", fault.name());
    }
    proxy.set(Fault::PassThrough);
    sidecar.until("recovery (state success)", CYCLES, |sidecar| sidecar.state().as_deref() == Some("success"));
    sidecar.until("ready", CYCLES, Sidecar::ready);
    assert!(read(&out.join("prometheus.yml")).contains("password_file:"));
    assert!(snapshot(&out).values().any(|bytes| *bytes == value.as_bytes()), "the secret file is missing");
}

/// `render` against every fault: exit 4 naming the YAML path and the cause, in bounded time, and
/// nothing written. Every row runs; the failures are listed together.
#[test]
fn render_fails_with_exit_4_naming_the_yaml_path_under_every_fault() {
    let server = Server::openbao();
    put_password(&server, &format!("render-{CANARY}"));
    let proxy = FaultProxy::start(server.port);
    let mut wrong = Vec::new();
    for Row { fault, render_says, .. } in &ROWS {
        proxy.set(*fault);
        let test =
            Test::new().file("prometheus.yml", &config(&proxy)).args(["render", "prometheus.yml", "--out", "out"]);
        let started = Instant::now();
        let outcome = test.run();
        let took = started.elapsed();
        eprintln!("render under {}: exit {} after {took:?}", fault.name(), outcome.code);
        let mut problems = Vec::new();
        if outcome.code != 4 {
            problems.push(format!("exit {} instead of 4", outcome.code));
        }
        for needle in [YAML_PATH, render_says] {
            if !outcome.stderr.contains(needle) {
                problems.push(format!("stderr lacks {needle:?}"));
            }
        }
        // A store that cannot be reached fails the reads, which say so: the token lookup beside
        // them adds no warning of its own.
        if matches!(fault, Fault::Refuse | Fault::Hang) && outcome.stderr.contains("cannot look the Vault token up") {
            problems.push("the token lookup warned beside the reads' own errors".into());
        }
        // One request may hang for `timeout` (the token lookup or the read), no more.
        if took > TIMEOUT + SLACK {
            problems.push(format!("took {took:?}"));
        }
        if test.path("out/prometheus.yml").exists() {
            problems.push("a rendered config was written".into());
        }
        if !problems.is_empty() {
            wrong.push(format!("{}: {}\n--- stderr\n{}", fault.name(), problems.join("; "), outcome.stderr));
        }
    }
    proxy.set(Fault::PassThrough);
    let test = Test::new().file("prometheus.yml", &config(&proxy)).args(["render", "prometheus.yml", "--out", "out"]);
    test.run().expect_code(0);
    assert!(wrong.is_empty(), "render under faults:\n{}", wrong.join("\n"));
}

/// A 429 or 503 with `Retry-After` says when to come back: no request should reach the store
/// before it has passed, even with a 1 s refresh interval (whose backoff is capped at 1 s); the
/// daemon comes back after, and recovers.
fn watch_honours_retry_after(status: u16) {
    const RETRY_AFTER: u32 = 6;
    let server = Server::openbao();
    put_password(&server, &format!("polite-{CANARY}"));
    let proxy = FaultProxy::start(server.port);
    let test = Test::new().file("prometheus.yml", &config(&proxy));
    let mut sidecar = Sidecar::start(&test, &["prometheus.yml", "--out", "out"]);
    sidecar.until("state success", CYCLES, |sidecar| sidecar.state().as_deref() == Some("success"));
    let before = proxy.requests();
    proxy.set(Fault::RetryAfter { status, retry_after: RETRY_AFTER });
    sidecar.until("the first refusal", CYCLES, |_| proxy.requests() > before);
    let first = (Instant::now(), proxy.requests());
    // Watch the window in which the store asked not to be called, ending early on a request.
    let quiet = Duration::from_secs(u64::from(RETRY_AFTER)) - Duration::from_millis(500);
    while first.0.elapsed() < quiet && proxy.requests() == first.1 {
        std::thread::sleep(PAUSE);
    }
    let early = proxy.requests() - first.1;
    let after = first.0.elapsed();
    proxy.set(Fault::PassThrough);
    sidecar.until("recovery (state success)", CYCLES, |sidecar| sidecar.state().as_deref() == Some("success"));
    assert_eq!(
        early, 0,
        "the store answered {status} with Retry-After: {RETRY_AFTER}, yet the next request came {after:?} later"
    );
}

#[test]
fn watch_honours_retry_after_on_429() {
    watch_honours_retry_after(429);
}

#[test]
fn watch_honours_retry_after_on_503() {
    watch_honours_retry_after(503);
}

/// A store that hangs holds nothing else back: while a Vault read waits out its (long)
/// `timeout`, a `file` secret's new value is written and the target reloaded within seconds,
/// and a secret file someone removes is written again, where the loop used to wait for the hung
/// read first.
#[test]
fn a_hung_store_holds_back_no_other_secret() {
    const HUNG_TIMEOUT: Duration = Duration::from_secs(30);
    let server = Server::openbao();
    put_password(&server, &format!("vault-{CANARY}"));
    let proxy = FaultProxy::start(server.port);
    let (reload_url, reloads) = reload_endpoint();
    let config = config(&proxy).replace(&format!("timeout: {}s", TIMEOUT.as_secs()), "timeout: 30s").replace(
        "scrape_configs:\n",
        "scrape_configs:\n  - job_name: local\n    basic_auth: {username: prom, password: {file: {path: pw}}}\n",
    );
    let test = Test::new().file("prometheus.yml", &config).file("pw", "file-first-fake");
    let mut sidecar = Sidecar::start(&test, &["prometheus.yml", "--out", "out", "--reload-url", &reload_url]);
    sidecar.until("the first render (ready)", CYCLES, Sidecar::ready);
    let out = test.path("out");
    let holds = |value: &str| snapshot(&out).values().any(|bytes| *bytes == value.as_bytes());
    assert!(holds("file-first-fake"));

    let requests = proxy.requests();
    proxy.set(Fault::Hang);
    sidecar.until("a Vault read hanging at the proxy", CYCLES, |_| proxy.requests() > requests);
    let hung_at = Instant::now();
    std::fs::write(test.path("pw"), "file-second-fake").unwrap();
    sidecar.until("the file secret's new value on disk", HUNG_TIMEOUT, |_| holds("file-second-fake"));
    let written = hung_at.elapsed();
    sidecar.until("the reload for it", HUNG_TIMEOUT, |_| reloads.load(Ordering::SeqCst) >= 1);
    let reloaded = hung_at.elapsed();
    let secret_file = snapshot(&out)
        .into_iter()
        .find_map(|(path, bytes)| (bytes == b"file-second-fake").then_some(path))
        .expect("the file secret's file");
    std::fs::remove_file(&secret_file).unwrap();
    sidecar.until("the removed file written again", HUNG_TIMEOUT, |_| holds("file-second-fake"));
    let repaired = hung_at.elapsed();
    // No Vault failure counted yet: the read was still hanging all along.
    assert!(sidecar.failures().is_empty(), "the hung read ended before the checks: they prove nothing");
    let bound = SLACK + Duration::from_secs(2);
    assert!(
        written <= bound && reloaded <= bound + Duration::from_secs(2) && repaired <= bound * 2,
        "with a read hung for up to {HUNG_TIMEOUT:?}: written after {written:?}, reloaded after {reloaded:?}, \
         repaired after {repaired:?} (bound {bound:?})"
    );
    proxy.set(Fault::PassThrough);
}

/// `secret_render_fetch_duration_seconds_count{provider="vault"}`: the Vault answers recorded.
fn vault_answers(sidecar: &Sidecar) -> f64 {
    sidecar
        .metrics()
        .lines()
        .find_map(|line| {
            let (labels, value) = parse_sample(line, "secret_render_fetch_duration_seconds_count")?;
            (labels.get("provider") == Some(&"vault")).then_some(value)
        })
        .unwrap_or(0.0)
}

/// An auth failure (`POST /-/refresh`) whose refetch comes back unchanged only after longer
/// than a refresh waits (a slow store, not a failing one) falls back to the previous value and
/// stays there: its answer is awaited before deciding, not taken late and taken for a success
/// that puts the refused value back.
#[test]
fn a_slow_unchanged_answer_to_an_auth_failure_keeps_the_fallback() {
    let server = Server::openbao();
    put_password(&server, "first-fake");
    let proxy = FaultProxy::start(server.port);
    // A timeout well past the delay: the answer is slow, and a success.
    let config = config(&proxy)
        .replace(
            &format!("refresh_interval: {}s\n", INTERVAL.as_secs()),
            "refresh_interval: 1h\n      grace_period: 1h\n",
        )
        .replace(&format!("timeout: {}s", TIMEOUT.as_secs()), "timeout: 20s");
    let test = Test::new().file("prometheus.yml", &config);
    let mut sidecar = Sidecar::start(&test, &["prometheus.yml", "--out", "out"]);
    sidecar.until("the first render (ready)", CYCLES, Sidecar::ready);
    let out = test.path("out");
    let holds = |value: &str| snapshot(&out).values().any(|bytes| *bytes == value.as_bytes());
    let port = sidecar.port;
    let refresh = || {
        let (status, body) = try_http("POST", port, "/-/refresh").expect("the admin listener answers");
        assert_eq!(status, 202, "{body}");
    };

    put_password(&server, "second-fake");
    refresh();
    sidecar.until("the rotation read", CYCLES, |_| holds("second-fake"));

    proxy.set(Fault::Slow(Duration::from_secs(3)));
    let answers = vault_answers(&sidecar);
    refresh();
    sidecar.until("the slow answer recorded", CYCLES, |sidecar| vault_answers(sidecar) > answers);
    sidecar.until("the fallback in force", CYCLES, |sidecar| sidecar.state().as_deref() == Some("fallback"));
    assert!(sidecar.failures().is_empty(), "the slow answer failed: the test proves nothing");
    assert!(holds("first-fake"), "the previous value is not back in place");
    assert!(!holds("second-fake"), "the refused value was put back");
}
