//! `secret-render watch`: the sidecar loop without a child, driven the way an operator's world
//! drives it — a real Alertmanager reloaded through a pid file, a process signalled through
//! `--reload-pid`, rotations in the `file` provider's source (seen at once by its watch: an
//! edit, a Kubernetes Secret volume's `..data` swap, a retargeted symlink), auth failures over
//! `POST /-/refresh`, previous values kept for their grace period, config edits (an editor's
//! replace, a Kubernetes ConfigMap `..data` swap, an edit of a symlinked config's target, SIGHUP
//! for one no file watch sees), a config that cannot be rendered whole, a failed write, reloads
//! refused, debounced or limited to config changes — and judged by the files it writes and its
//! `/metrics`.
//! Nothing sleeps to synchronise: every wait polls a condition against a bounded deadline.

use std::collections::{BTreeSet, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::{CANARY, Server, Test, WatchProcess, http, mode_of, read};

/// The pause between two looks at a condition.
const PAUSE: Duration = Duration::from_millis(10);
/// How long a condition that follows from one refresh cycle may take to show.
const CYCLE: Duration = Duration::from_secs(15);

const ALERTMANAGER: &str = "global:
  smtp_smarthost: 'smtp.example.invalid:587'
  smtp_from: 'alertmanager@example.invalid'
  smtp_auth_username: alertmanager
  smtp_auth_password:
    file: {path: smtp_password, refresh_interval: 1s}
route:
  receiver: team
receivers:
  - name: team
    email_configs:
      - to: 'team@example.invalid'
";

/// A Prometheus config whose job `node` takes its basic-auth password from the file `pw`.
fn basic_auth_job(refresh_interval: &str, grace_period: &str) -> String {
    format!(
        "scrape_configs:
  - job_name: node
    basic_auth:
      username: prom
      password:
        file: {{path: pw, refresh_interval: {refresh_interval}, grace_period: {grace_period}}}
    static_configs:
      - targets: ['127.0.0.1:9100']
"
    )
}

/// A Prometheus config with `jobs`; the first takes its password from `password_path`.
fn config_with_jobs(password_path: &str, jobs: &[&str]) -> String {
    let mut config = String::from("scrape_configs:\n");
    for (index, job) in jobs.iter().enumerate() {
        config.push_str(&format!("  - job_name: {job}\n"));
        if index == 0 {
            config.push_str(&format!(
                "    basic_auth:\n      username: prom\n      password:\n        file: {{path: {password_path}, refresh_interval: 1s}}\n"
            ));
        }
        config.push_str("    static_configs:\n      - targets: ['127.0.0.1:9100']\n");
    }
    config
}

/// A ready `watch` of `config` as `prometheus.yml`, whose password `value` is in `pw`, with
/// `extra` arguments.
fn watching(config: &str, value: &str, extra: &[&str]) -> (Test, Watch) {
    let test = Test::new().file("prometheus.yml", config).file("pw", value);
    let mut args = vec!["prometheus.yml", "--out", "out"];
    args.extend_from_slice(extra);
    let mut watch = Watch::start(&test, &args);
    watch.until("/-/ready", CYCLE, Watch::ready);
    (test, watch)
}

/// Replaces a file the way editors and rotation tools do: a temp file beside it, renamed over it.
fn replace(path: &Path, contents: &[u8]) {
    let name = path.file_name().unwrap().to_str().unwrap();
    let temp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&temp, contents).unwrap();
    std::fs::rename(&temp, path).unwrap();
}

/// The secret file a rendered config names under `field` (e.g. `password_file`).
fn named_file(rendered: &Path, field: &str) -> PathBuf {
    let text = read(rendered);
    let line = text
        .lines()
        .find(|line| line.trim_start().starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in\n{text}"));
    PathBuf::from(line.split_once(": ").unwrap().1.trim_matches('"'))
}

/// `DIR/secrets/<name>.previous` beside a secret file.
fn previous_of(secret: &Path) -> PathBuf {
    secret.with_file_name(format!("{}.previous", file_name(secret)))
}

fn file_name(path: &Path) -> &str {
    path.file_name().unwrap().to_str().unwrap()
}

/// Whether a file holds exactly `value` right now.
fn holds(path: &Path, value: &str) -> bool {
    std::fs::read(path).is_ok_and(|bytes| bytes == value.as_bytes())
}

/// The value of the first sample `name{…}` whose labels include `labels`, in a Prometheus or
/// OpenMetrics text exposition.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let (block, value) = match rest.strip_prefix('{') {
            Some(rest) => rest.split_once('}')?,
            None if rest.starts_with(' ') => ("", rest),
            None => return None,
        };
        let block = format!(",{block},");
        if !labels.iter().all(|(key, value)| block.contains(&format!(",{key}=\"{value}\","))) {
            return None;
        }
        value.split_whitespace().next()?.parse().ok()
    })
}

/// A `secret-render watch` process with its admin listener on a free port, with these tests'
/// views of its log and `/metrics`.
type Watch = WatchProcess;

trait Admin {
    fn start(test: &Test, args: &[&str]) -> Self;
    fn listening(&self) -> bool;
    fn logged(&self, needle: &str) -> usize;
    fn get(&self, path: &str) -> (u16, String);
    fn metrics(&self) -> String;
    fn metric(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64>;
    fn refresh(&self, query: &str);
    fn state(&self, secret: &str) -> Option<&'static str>;
    fn fetches(&self) -> f64;
    fn reloads(&self) -> (f64, f64);
    fn ready(&self) -> bool;
    fn cycles(&mut self, count: u32);
}

impl Admin for WatchProcess {
    /// Starts `secret-render watch ARGS… --listen 127.0.0.1:PORT` in the test's directory and
    /// waits until its admin listener answers.
    fn start(test: &Test, args: &[&str]) -> Self {
        let mut watch = Self::start_with(test, args, &[]).polling_every(PAUSE);
        watch.until("the admin listener to answer", Duration::from_secs(30), |watch| watch.listening());
        watch
    }

    fn listening(&self) -> bool {
        TcpStream::connect(("127.0.0.1", self.port)).is_ok()
    }

    /// How many log lines contain `needle`.
    fn logged(&self, needle: &str) -> usize {
        self.log().lines().filter(|line| line.contains(needle)).count()
    }

    fn get(&self, path: &str) -> (u16, String) {
        http("GET", self.port, path)
    }

    fn metrics(&self) -> String {
        let (status, body) = self.get("/metrics");
        assert_eq!(status, 200, "GET /metrics: {body}");
        body
    }

    fn metric(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        sample(&self.metrics(), name, labels)
    }

    /// `POST /-/refresh` with `query` (`""` or `?secret=NAME`): an auth failure.
    fn refresh(&self, query: &str) {
        let (status, body) = http("POST", self.port, &format!("/-/refresh{query}"));
        assert_eq!(status, 202, "POST /-/refresh{query}: {body}");
    }

    /// The state whose `secret_render_secret_state` series is 1 for `secret`.
    fn state(&self, secret: &str) -> Option<&'static str> {
        let metrics = self.metrics();
        ["success", "stale", "error", "fallback"].into_iter().find(|state| {
            sample(&metrics, "secret_render_secret_state", &[("secret", secret), ("state", state)]) == Some(1.0)
        })
    }

    /// Fetches made from the `file` provider so far, failed ones included.
    fn fetches(&self) -> f64 {
        self.metric("secret_render_fetch_duration_seconds_count", &[("provider", "file")]).unwrap_or(0.0)
    }

    /// `secret_render_reloads_total` as (success, failure).
    fn reloads(&self) -> (f64, f64) {
        let metrics = self.metrics();
        let count = |result| sample(&metrics, "secret_render_reloads_total", &[("result", result)]).unwrap_or(-1.0);
        (count("success"), count("failure"))
    }

    fn ready(&self) -> bool {
        self.get("/-/ready").0 == 200
    }

    /// Waits for `count` more refresh cycles of the `file` provider.
    #[track_caller]
    fn cycles(&mut self, count: u32) {
        let target = self.fetches() + f64::from(count);
        self.until(&format!("{count} more refresh cycles"), CYCLE * count, |watch| watch.fetches() >= target);
    }
}

/// Alertmanager's `alertmanager_config_last_reload_success_timestamp_seconds`.
fn reload_timestamp(alertmanager: &Server) -> f64 {
    let (status, body) = alertmanager.get("/metrics");
    assert_eq!(status, 200, "{body}");
    sample(&body, "alertmanager_config_last_reload_success_timestamp_seconds", &[])
        .unwrap_or_else(|| panic!("Alertmanager exposes no reload timestamp:\n{body}"))
}

/// How many times Alertmanager finished loading its config since the last look.
fn config_loads(alertmanager: &mut Server) -> usize {
    alertmanager.new_log_lines().iter().filter(|line| line.contains("Completed loading of configuration file")).count()
}

/// A stand-in for a target's `POST /-/reload`: answers 200 to every request and counts them;
/// its URL and the count.
fn reload_endpoint() -> (String, Arc<AtomicUsize>) {
    reload_endpoint_answering(Arc::new(AtomicU16::new(200)))
}

/// A reload endpoint answering with the HTTP status `answer` holds at the time; its URL and the
/// requests it received.
fn reload_endpoint_answering(answer: Arc<AtomicU16>) -> (String, Arc<AtomicUsize>) {
    reload_endpoint_observing(answer, || {})
}

/// A reload endpoint as [`reload_endpoint_answering`] that calls `observe` on each request before
/// answering: what the target would find when it reloads.
fn reload_endpoint_observing(
    answer: Arc<AtomicU16>,
    observe: impl Fn() + Send + 'static,
) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while request.read_line(&mut line).is_ok_and(|read| read > 0) && line != "\r\n" {
                line.clear();
            }
            observe();
            counter.fetch_add(1, Ordering::SeqCst);
            let status = answer.load(Ordering::SeqCst);
            let _ = write!(stream, "HTTP/1.1 {status} Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (format!("http://127.0.0.1:{port}/-/reload"), hits)
}

#[test]
fn the_sidecar_reloads_alertmanager_once_per_rotation_through_the_pid_file() {
    let old = format!("smtp-one-{CANARY}");
    let new = format!("smtp-two-{CANARY}");
    let test = Test::new().file("alertmanager.yml", ALERTMANAGER).file("smtp_password", &old).args([
        "render",
        "alertmanager.yml",
        "--out",
        "out",
    ]);
    // The init container.
    test.run().expect_code(0);
    let rendered = test.path("out/alertmanager.yml");
    let rendered_text = read(&rendered);
    let secret = named_file(&rendered, "smtp_auth_password_file");
    let previous = previous_of(&secret);
    assert_eq!(read(&secret), old);

    let mut alertmanager = Server::alertmanager(&rendered);
    let pid_file = test.path("alertmanager.pid");
    replace(&pid_file, alertmanager.pid().to_string().as_bytes());
    let started = reload_timestamp(&alertmanager);
    let verify_url = format!("http://127.0.0.1:{}/metrics", alertmanager.port);
    let mut watch = Watch::start(
        &test,
        &["alertmanager.yml", "--out", "out", "--reload-pidfile", "alertmanager.pid", "--verify-url", &verify_url],
    );
    watch.until("/-/ready", CYCLE, Watch::ready);

    // Its start reloads nothing: the init container's files already match.
    watch.cycles(3);
    assert_eq!(watch.reloads(), (0.0, 0.0), "the start caused a reload:\n{}", watch.log());
    assert_eq!(reload_timestamp(&alertmanager), started, "Alertmanager was reloaded at the start");
    assert_eq!(config_loads(&mut alertmanager), 0);
    assert!(!previous.exists(), "no previous value before a rotation");

    // One rotation, one reload, confirmed through Alertmanager's /metrics.
    replace(&test.path("smtp_password"), new.as_bytes());
    watch.until("a reload (success or failure)", Duration::from_secs(45), |watch| {
        let (success, failure) = watch.reloads();
        success + failure >= 1.0
    });
    assert_eq!(watch.reloads(), (1.0, 0.0), "one verified reload expected\n--- log\n{}", watch.log());
    assert_eq!(read(&secret), new);
    assert_eq!(read(&previous), old);
    assert_eq!(read(&rendered), rendered_text, "a rotation changes the secret file, not the rendered config");
    let rotated = reload_timestamp(&alertmanager);
    assert!(rotated > started, "Alertmanager's reload timestamp did not move: {started} → {rotated}");
    let mut loads = 0;
    watch.until("Alertmanager to log its reload", CYCLE, |_| {
        loads += config_loads(&mut alertmanager);
        loads >= 1
    });

    // Unchanged refresh cycles reload nothing.
    watch.cycles(5);
    loads += config_loads(&mut alertmanager);
    assert_eq!(watch.reloads(), (1.0, 0.0), "an unchanged value caused a reload:\n{}", watch.log());
    assert_eq!(reload_timestamp(&alertmanager), rotated, "Alertmanager was reloaded again");
    assert_eq!(loads, 1, "Alertmanager loaded its config {loads} times for one rotation");

    // Alertmanager restarts with a new pid: the pid file is read again on the next reload.
    let port = alertmanager.port;
    drop(alertmanager);
    let mut alertmanager = Server::alertmanager_on(&rendered, port);
    replace(&pid_file, alertmanager.pid().to_string().as_bytes());
    let restarted = reload_timestamp(&alertmanager);
    let newest = format!("smtp-three-{CANARY}");
    replace(&test.path("smtp_password"), newest.as_bytes());
    watch.until("a second reload (success or failure)", Duration::from_secs(45), |watch| {
        let (success, failure) = watch.reloads();
        success + failure >= 2.0
    });
    assert_eq!(watch.reloads(), (2.0, 0.0), "the restarted Alertmanager was not reloaded\n--- log\n{}", watch.log());
    assert!(reload_timestamp(&alertmanager) > restarted, "the restarted Alertmanager's reload timestamp did not move");
    assert_eq!(read(&secret), newest);
    assert_eq!(read(&previous), new);
    let mut loads = 0;
    watch.until("the restarted Alertmanager to log its reload", CYCLE, |_| {
        loads += config_loads(&mut alertmanager);
        loads >= 1
    });
}

#[test]
fn readers_never_see_a_torn_or_empty_secret_file_during_rapid_rotation() {
    let first = "initial-value".to_owned();
    let values: Vec<String> = (0..50).map(|index| format!("{index:02}-{}", "x".repeat((index * 37) % 301))).collect();
    let (test, mut watch) = watching(&basic_auth_job("1s", "15m"), &first, &[]);
    let secret = named_file(&test.path("out/prometheus.yml"), "password_file");
    assert_eq!(read(&secret), first);

    let allowed: HashSet<Vec<u8>> = std::iter::once(&first).chain(&values).map(|v| v.as_bytes().to_vec()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (stop, secret) = (Arc::clone(&stop), secret.clone());
        std::thread::spawn(move || {
            let (mut reads, mut bad, mut shown) = (0_u64, 0_u64, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                reads += 1;
                let problem = match std::fs::read(&secret) {
                    Ok(bytes) if allowed.contains(&bytes) => continue,
                    Ok(bytes) if bytes.is_empty() => "an empty file".to_owned(),
                    Ok(bytes) => {
                        format!("{} bytes that are no written value: {:?}…", bytes.len(), &bytes[..8.min(bytes.len())])
                    }
                    Err(error) => format!("no file: {error}"),
                };
                bad += 1;
                if shown.len() < 10 {
                    shown.push(problem);
                }
            }
            (reads, bad, shown)
        })
    };
    for value in &values {
        replace(&test.path("pw"), value.as_bytes());
        watch.refresh("");
        watch.until(&format!("the secret file to hold value {}", &value[..2]), CYCLE, |_| holds(&secret, value));
    }
    stop.store(true, Ordering::Relaxed);
    let (reads, bad, shown) = reader.join().unwrap();
    assert_eq!(bad, 0, "{bad} of {reads} reads saw a torn file, e.g. {shown:#?}");
    assert!(reads >= 1000, "the reader made only {reads} reads: the test proves little");
}

#[test]
fn an_auth_failure_within_the_grace_period_falls_back_until_the_next_scheduled_refresh() {
    let (v1, v2) = (format!("one-{CANARY}"), format!("two-{CANARY}"));
    let (test, mut watch) = watching(&basic_auth_job("2s", "1m"), &v1, &[]);
    let secret = named_file(&test.path("out/prometheus.yml"), "password_file");
    let previous = previous_of(&secret);
    let name = file_name(&secret).to_owned();
    assert_eq!(read(&secret), v1);

    replace(&test.path("pw"), v2.as_bytes());
    watch.until("v2 in place with v1 kept as .previous", CYCLE, |_| holds(&secret, &v2) && holds(&previous, &v1));
    assert_eq!(watch.state(&name), Some("success"));

    // The store still says v2, yet the target reports an auth failure: v1 goes back.
    let asked = Instant::now();
    watch.refresh(&format!("?secret={name}"));
    watch.until("v1 back in place, state fallback", CYCLE, |watch| {
        holds(&secret, &v1) && watch.state(&name) == Some("fallback")
    });
    assert_eq!(read(&previous), v1, ".previous keeps the previous value while falling back");
    assert!(watch.logged("writing the previous value back") >= 1, "{}", watch.log());

    // The next scheduled refresh tries the current value again.
    watch.until("v2 back at the next scheduled refresh", CYCLE, |watch| {
        holds(&secret, &v2) && watch.state(&name) == Some("success")
    });
    let waited = asked.elapsed();
    assert!(waited >= Duration::from_millis(1500), "v2 came back after {waited:?}, before a scheduled refresh (2s)");
}

/// An auth failure while the store does not answer also brings nothing newer: the previous
/// value goes back (state `fallback`) and stays through failed refreshes, until the store
/// answers again and its current value is tried.
#[test]
fn an_auth_failure_while_the_store_is_down_falls_back_until_it_answers_again() {
    let (v1, v2) = (format!("one-{CANARY}"), format!("two-{CANARY}"));
    let (test, mut watch) = watching(&basic_auth_job("1s", "1m"), &v1, &[]);
    let secret = named_file(&test.path("out/prometheus.yml"), "password_file");
    let name = file_name(&secret).to_owned();
    replace(&test.path("pw"), v2.as_bytes());
    watch.until("v2 in place", CYCLE, |_| holds(&secret, &v2));

    std::fs::remove_file(test.path("pw")).unwrap();
    watch.until("the store's failure", CYCLE, |watch| watch.state(&name) == Some("stale"));
    watch.refresh(&format!("?secret={name}"));
    watch.until("v1 back in place, state fallback", CYCLE, |watch| {
        holds(&secret, &v1) && watch.state(&name) == Some("fallback")
    });
    let failures =
        |watch: &Watch| watch.metric("secret_render_fetch_failures_total", &[("provider", "file")]).unwrap_or(0.0);
    let before = failures(&watch);
    watch.until("two more failed refreshes", CYCLE, |watch| failures(watch) >= before + 2.0);
    assert!(holds(&secret, &v1), "a failed refresh put the refused value back");
    assert_eq!(watch.state(&name), Some("fallback"));

    std::fs::write(test.path("pw"), &v2).unwrap();
    watch.until("v2 back once the store answers", CYCLE, |watch| {
        holds(&secret, &v2) && watch.state(&name) == Some("success")
    });
}

/// The secret files a rendered config names under `field`, in the order they appear.
fn named_files(rendered: &Path, field: &str) -> Vec<PathBuf> {
    read(rendered)
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix(&format!("{field}: ")))
        .map(|path| PathBuf::from(path.trim_matches('"')))
        .collect()
}

/// When a value changes the old one is kept as `<name>.previous` (0600) for `grace_period` and
/// removed when that ends: not before, and not only at the next refresh (an hour away here),
/// since the end of a grace period is one of the deadlines the loop wakes for.
#[test]
fn the_previous_value_file_is_removed_when_the_grace_period_ends() {
    const GRACE: Duration = Duration::from_secs(3);
    let (old, new) = (format!("one-{CANARY}"), format!("two-{CANARY}"));
    let (test, mut watch) = watching(&basic_auth_job("1h", "3s"), &old, &[]);
    let secret = named_file(&test.path("out/prometheus.yml"), "password_file");
    let previous = previous_of(&secret);
    assert!(!previous.exists(), "a .previous file before any rotation");

    // Taken before the source changes: the new value cannot be fetched, and the grace period
    // cannot start, any earlier.
    let rotated = Instant::now();
    replace(&test.path("pw"), new.as_bytes());
    watch.refresh("");
    watch.until("the new value in place, the old one kept as .previous", CYCLE, |_| {
        holds(&secret, &new) && holds(&previous, &old)
    });
    assert_eq!(mode_of(&previous), 0o600, ".previous is not private");

    watch.until(".previous removed", GRACE + CYCLE, |_| !previous.exists());
    let removed = rotated.elapsed();
    assert!(removed >= GRACE, ".previous was removed {removed:?} after the rotation, before its {GRACE:?} grace ended");
    assert!(holds(&secret, &new), "the current value went with the previous one");
}

/// One secret named by several provider maps keeps its previous value as long as the most
/// patient of them asks: each map's `.previous` file outlives the shorter grace period and goes
/// when the longer one ends.
#[test]
fn the_longest_grace_period_asked_for_a_secret_wins() {
    const LONG: Duration = Duration::from_secs(6);
    let job = |name: &str, grace: &str| {
        format!(
            "  - job_name: {name}\n    basic_auth:\n      username: prom\n      password:\n        \
             file: {{path: pw, refresh_interval: 1h, grace_period: {grace}}}\n    \
             static_configs:\n      - targets: ['127.0.0.1:9100']\n"
        )
    };
    let config = format!("scrape_configs:\n{}{}", job("short", "2s"), job("long", "6s"));
    let (old, new) = (format!("one-{CANARY}"), format!("two-{CANARY}"));
    let (test, mut watch) = watching(&config, &old, &[]);
    let secrets = named_files(&test.path("out/prometheus.yml"), "password_file");
    assert_eq!(secrets.len(), 2, "one secret file per provider map expected: {secrets:?}");
    let previous: Vec<PathBuf> = secrets.iter().map(|secret| previous_of(secret)).collect();

    let rotated = Instant::now();
    replace(&test.path("pw"), new.as_bytes());
    watch.refresh("");
    watch.until("both maps' old values kept as .previous", CYCLE, |_| {
        secrets.iter().all(|secret| holds(secret, &new)) && previous.iter().all(|file| holds(file, &old))
    });

    let mut removed: Vec<Option<Duration>> = vec![None; previous.len()];
    watch.until("both .previous files removed", LONG + CYCLE, |_| {
        for (file, at) in previous.iter().zip(&mut removed) {
            if at.is_none() && !file.exists() {
                *at = Some(rotated.elapsed());
            }
        }
        removed.iter().all(Option::is_some)
    });
    for (file, at) in previous.iter().zip(removed) {
        let at = at.unwrap();
        assert!(
            at >= LONG,
            "{} was removed {at:?} after the rotation, before the longest grace ({LONG:?})",
            file_name(file)
        );
    }
}

/// An edited config is rendered; an invalid one keeps the last good output, with
/// `secret_render_config_last_reload_successful` 0 (named as Prometheus names its own, for the
/// same alert) and the last valid reading's time left as it was, until a valid edit.
#[test]
fn an_editor_replacing_the_config_re_renders_and_an_invalid_one_keeps_the_last_good_output() {
    const VALID: &str = "secret_render_config_last_reload_successful";
    const VALID_AT: &str = "secret_render_config_last_reload_success_timestamp_seconds";
    let (test, mut watch) = watching(&config_with_jobs("pw", &["a"]), CANARY, &[]);
    let rendered = test.path("out/prometheus.yml");
    let secret = named_file(&rendered, "password_file");
    let name = file_name(&secret).to_owned();
    assert!(!read(&rendered).contains("job_name: b"));
    assert_eq!(watch.metric(VALID, &[]), Some(1.0), "the config read at the start");
    let started_at = watch.metric(VALID_AT, &[]).unwrap();

    replace(&test.path("prometheus.yml"), config_with_jobs("pw", &["a", "b"]).as_bytes());
    watch.until("job b in the rendered config", CYCLE, |_| read(&rendered).contains("job_name: b"));
    let good = std::fs::read(&rendered).unwrap();
    let edited_at = watch.metric(VALID_AT, &[]).unwrap();
    assert!(edited_at >= started_at && watch.metric(VALID, &[]) == Some(1.0));

    let invalid = [
        ("broken YAML", "scrape_configs:\n  - job_name: c\n    static_configs: [{targets: [\n".to_owned()),
        (
            "an unknown provider key",
            config_with_jobs("pw", &["a", "b", "c"]).replace("{path: pw,", "{path: pw, colour: red,"),
        ),
    ];
    for (count, (what, config)) in (1..).zip(invalid) {
        replace(&test.path("prometheus.yml"), config.as_bytes());
        watch.until(&format!("the error about {what} to be logged"), CYCLE, |watch| {
            watch.logged("the new configuration is invalid") >= count
        });
        assert_eq!(std::fs::read(&rendered).unwrap(), good, "{what}: the last good output must stay");
        assert_eq!(read(&secret), CANARY, "{what}: the secret file must stay");
        assert_eq!(watch.state(&name), Some("success"));
        assert_eq!(watch.metric(VALID, &[]), Some(0.0), "{what}: the config is not in use");
        assert_eq!(watch.metric(VALID_AT, &[]), Some(edited_at), "{what}: the last valid reading's time");
    }
    assert!(watch.log().contains("colour"), "the error names the unknown key:\n{}", watch.log());

    // The loop keeps running: a later valid edit is picked up.
    replace(&test.path("prometheus.yml"), config_with_jobs("pw", &["a", "b", "c"]).as_bytes());
    watch.until("job c in the rendered config", CYCLE, |_| read(&rendered).contains("job_name: c"));
    assert!(read(&rendered).contains("job_name: b"));
    assert_eq!(read(&secret), CANARY);
    assert_eq!(watch.metric(VALID, &[]), Some(1.0), "the valid edit is in use");
}

/// An edit that adds a secret which cannot be read leaves the config unrendered, and the
/// rendering in place whole: the secret files it names keep their values, however often the
/// loop comes round while the new secret keeps failing.
#[test]
fn a_config_that_cannot_be_rendered_whole_keeps_the_files_its_rendering_in_place_names() {
    let (test, mut watch) = watching(&config_with_jobs("pw", &["a"]), CANARY, &[]);
    let rendered = test.path("out/prometheus.yml");
    let good = std::fs::read(&rendered).unwrap();
    let secret = named_file(&rendered, "password_file");

    let unreadable = "  - job_name: b\n    basic_auth:\n      username: prom\n      password:\n        \
                      file: {path: missing, refresh_interval: 1s}\n";
    replace(&test.path("prometheus.yml"), format!("{}{unreadable}", config_with_jobs("pw", &["a"])).as_bytes());
    // The second failed read comes a whole cycle after the first attempt to write the outputs.
    watch.until("two failed reads of the missing secret", CYCLE, |watch| {
        watch.metric("secret_render_fetch_failures_total", &[("provider", "file")]).unwrap_or(0.0) >= 2.0
    });
    assert_eq!(std::fs::read(&rendered).unwrap(), good, "the rendering in place changed");
    assert_eq!(read(&secret), CANARY, "a secret file the rendering in place names is gone");
}

/// A write that fails (here, a directory where the rendered config goes) neither stops `watch`
/// nor touches the files in place: the error is logged, the write is tried again after a
/// backoff, and it goes through once the obstacle is gone.
#[test]
fn a_failed_write_is_retried_while_the_loop_runs_on() {
    let (test, mut watch) = watching(&config_with_jobs("pw", &["a"]), CANARY, &[]);
    let secret = named_file(&test.path("out/prometheus.yml"), "password_file");
    let rendered = a_config_edit_whose_write_fails(&test);
    watch.until("a failed write and a failed retry", CYCLE, |watch| watch.logged("cannot write the outputs") >= 2);
    assert_eq!(read(&secret), CANARY, "the secret file in place changed");
    assert!(!watch.log().contains(CANARY));

    std::fs::remove_dir(&rendered).unwrap();
    // The log line follows the write: both are waited for, or the line may not be read yet.
    watch.until("the rendered config written by a retry", CYCLE, |watch| {
        rendered.is_file()
            && read(&rendered).contains("job_name: b")
            && watch.logged("the outputs are written again") >= 1
    });
    assert_eq!(watch.logged("the outputs are written again"), 1, "{}", watch.log());
}

/// Puts a directory where the rendered config goes, then adds job `b` to the config of
/// [`watching`]: the rewrite that edit needs fails until the directory is gone. Returns the
/// rendered config's path.
fn a_config_edit_whose_write_fails(test: &Test) -> PathBuf {
    let rendered = test.path("out/prometheus.yml");
    std::fs::remove_file(&rendered).unwrap();
    std::fs::create_dir(&rendered).unwrap();
    replace(&test.path("prometheus.yml"), config_with_jobs("pw", &["a", "b"]).as_bytes());
    rendered
}

/// While the outputs cannot be written no reload is sent (the target would re-read what it
/// already has), however often the loop comes round; the write that goes through at last sends
/// exactly one.
#[test]
fn no_reload_is_sent_while_the_outputs_cannot_be_written_and_one_once_they_can() {
    let (url, sent) = reload_endpoint();
    let (test, mut watch) = watching(&config_with_jobs("pw", &["a"]), CANARY, &["--reload-url", &url]);
    // A config change: a reload is due once it is written.
    let rendered = a_config_edit_whose_write_fails(&test);
    watch.until("a failed write and a failed retry", CYCLE, |watch| watch.logged("cannot write the outputs") >= 2);
    // Two more rounds take the loop past the 1 s reload debounce since the first failure.
    watch.cycles(2);
    assert_eq!(
        (sent.load(Ordering::SeqCst), watch.reloads()),
        (0, (0.0, 0.0)),
        "a reload was sent while the outputs could not be written:\n{}",
        watch.log()
    );

    std::fs::remove_dir(&rendered).unwrap();
    watch.until("the config written by a retry, and a reload", CYCLE, |watch| {
        rendered.is_file() && read(&rendered).contains("job_name: b") && watch.reloads().0 >= 1.0
    });
    watch.cycles(3);
    assert_eq!(
        (sent.load(Ordering::SeqCst), watch.reloads()),
        (1, (1.0, 0.0)),
        "one reload expected for the write that went through:\n{}",
        watch.log()
    );
}

/// A reload the target refuses is logged, counted as `result="failure"` and sent again with
/// backoff until it is accepted; the accepted one is counted as a success and not sent again.
#[test]
fn a_refused_reload_is_counted_and_sent_again_until_accepted() {
    let answer = Arc::new(AtomicU16::new(500));
    let (url, sent) = reload_endpoint_answering(Arc::clone(&answer));
    let (test, mut watch) = watching(&config_with_jobs("pw", &["a"]), "first-fake", &["--reload-url", &url]);

    replace(&test.path("pw"), b"second-fake");
    // The count comes before the log line: both are waited for.
    watch.until("two refused reloads, logged", CYCLE, |watch| {
        watch.reloads().1 >= 2.0 && watch.logged("reload failed") >= 2
    });
    assert_eq!(watch.reloads().0, 0.0);

    answer.store(200, Ordering::SeqCst);
    watch.until("the reload accepted", CYCLE, |watch| watch.reloads().0 == 1.0);
    let requests = sent.load(Ordering::SeqCst);
    watch.cycles(3);
    assert_eq!(sent.load(Ordering::SeqCst), requests, "an accepted reload was sent again");
    assert_eq!(watch.reloads().0, 1.0);
}

/// A small Python program that appends `h` to the file returned on each SIGHUP it gets, started
/// and ready; the directory holding the file goes with the last element.
fn sighup_counter() -> (KillOnDrop, PathBuf, tempfile::TempDir) {
    let counter_dir = tempfile::tempdir().unwrap();
    let hups = counter_dir.path().join("hups");
    let ready = counter_dir.path().join("ready");
    let program = "import signal, sys\n\
                   signal.signal(signal.SIGHUP, lambda *_: open(sys.argv[1], 'a').write('h'))\n\
                   open(sys.argv[2], 'w').close()\n\
                   while True:\n    signal.pause()\n";
    let child = std::process::Command::new("python3").arg("-c").arg(program).arg(&hups).arg(&ready).spawn();
    let child = KillOnDrop(child.expect("python3 runs (apt-get install python3)"));
    let deadline = Instant::now() + CYCLE;
    while !ready.exists() {
        assert!(Instant::now() < deadline, "the SIGHUP counter did not start");
        std::thread::sleep(PAUSE);
    }
    (child, hups, counter_dir)
}

/// SIGHUP to `watch` re-reads the configuration and then reloads the target once, though
/// nothing changed: an operator's `kill -HUP` asks the target to reload (its rule files), as
/// it would without secret-render in between.
#[test]
fn sighup_reloads_the_target_once_though_nothing_changed() {
    let (mut child, hups, _dir) = sighup_counter();
    let pid = child.0.id().to_string();
    let (_test, mut watch) = watching(&config_with_jobs("pw", &["a"]), "first-fake", &["--reload-pid", &pid]);
    watch.cycles(2);
    assert!(!hups.exists(), "the start sent a reload");
    let own = rustix::process::Pid::from_raw(i32::try_from(watch.pid()).unwrap()).unwrap();
    rustix::process::kill_process(own, rustix::process::Signal::HUP).expect("signal secret-render watch");
    watch.until("the SIGHUP passed on", CYCLE, |_| std::fs::read_to_string(&hups).is_ok_and(|text| text == "h"));
    watch.cycles(2);
    assert_eq!(std::fs::read_to_string(&hups).unwrap(), "h", "one SIGHUP, one reload");
    assert!(child.0.try_wait().unwrap().is_none());
}

/// `--reload-pid PID`: a changed value sends SIGHUP to that process, once per change. The
/// process is a small Python program that appends to a file on each SIGHUP.
#[test]
fn reload_pid_sends_one_sighup_per_change() {
    let (mut child, hups, _dir) = sighup_counter();
    let pid = child.0.id().to_string();
    let (test, mut watch) = watching(&config_with_jobs("pw", &["a"]), "first-fake", &["--reload-pid", &pid]);

    replace(&test.path("pw"), b"second-fake");
    watch.until("the reload", CYCLE, |watch| watch.reloads().0 == 1.0);
    watch.until("the SIGHUP received", CYCLE, |_| std::fs::read_to_string(&hups).is_ok_and(|text| text == "h"));
    watch.cycles(3);
    assert_eq!(std::fs::read_to_string(&hups).unwrap(), "h", "an unchanged value sent SIGHUP again");
    assert!(child.0.try_wait().unwrap().is_none(), "the process did not survive its SIGHUP");
    assert_eq!(watch.logged("cannot reload"), 0, "a live pid was warned about: {}", watch.log());
}

/// `--reload-pid` naming no process is said at start, before a change needs a reload: here the
/// pid of a child that has exited and been reaped.
#[test]
fn a_reload_pid_naming_no_process_is_warned_about_at_start() {
    let mut gone = std::process::Command::new("true").spawn().expect("true runs");
    gone.wait().unwrap();
    let pid = gone.id().to_string();
    let (_test, watch) = watching(&config_with_jobs("pw", &["a"]), "first-fake", &["--reload-pid", &pid]);
    let warning = format!("cannot reload process {pid}: it cannot be signalled (");
    assert_eq!(watch.logged(&warning), 1, "{}", watch.log());
}

/// `--reload-pidfile` naming a file that is not there (yet) is said at start too; it is read
/// again at each reload, so the target may still write it later.
#[test]
fn a_reload_pidfile_that_cannot_be_read_is_warned_about_at_start() {
    let (_test, watch) =
        watching(&config_with_jobs("pw", &["a"]), "first-fake", &["--reload-pidfile", "prometheus.pid"]);
    let warning = "cannot reload the process in pid file `prometheus.pid`: failed to read pid file";
    assert_eq!(watch.logged(warning), 1, "{}", watch.log());
}

/// A child process killed when the test ends, however it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `--reload-on config`: a secret value that changes is written to its file, which Prometheus
/// re-reads by itself, and no reload is sent; a change to the rendered config still reloads.
#[test]
fn reload_on_config_reloads_for_a_config_change_only() {
    let (url, sent) = reload_endpoint();
    let (test, mut watch) =
        watching(&config_with_jobs("pw", &["a"]), "first-fake", &["--reload-url", &url, "--reload-on", "config"]);
    let secret = named_file(&test.path("out/prometheus.yml"), "password_file");

    replace(&test.path("pw"), b"second-fake");
    watch.until("the new value in its file", CYCLE, |_| holds(&secret, "second-fake"));
    watch.cycles(2);
    assert_eq!((watch.reloads(), sent.load(Ordering::SeqCst)), ((0.0, 0.0), 0), "a value change reloaded");

    replace(&test.path("prometheus.yml"), config_with_jobs("pw", &["a", "b"]).as_bytes());
    watch.until("the config change reloaded", CYCLE, |watch| watch.reloads().0 == 1.0);
    assert_eq!(sent.load(Ordering::SeqCst), 1);
}

/// Changes within `--reload-debounce` of the first make one reload.
#[test]
fn changes_within_the_debounce_make_one_reload() {
    let (url, sent) = reload_endpoint();
    let (test, mut watch) =
        watching(&config_with_jobs("pw", &["a"]), "first-fake", &["--reload-url", &url, "--reload-debounce", "5s"]);
    let secret = named_file(&test.path("out/prometheus.yml"), "password_file");

    let first_change = Instant::now();
    replace(&test.path("pw"), b"second-fake");
    watch.until("the second value in its file", CYCLE, |_| holds(&secret, "second-fake"));
    replace(&test.path("pw"), b"third-fake");
    watch.until("the third value in its file", CYCLE, |_| holds(&secret, "third-fake"));
    assert!(first_change.elapsed() < Duration::from_secs(4), "the changes took too long to test the debounce");
    assert_eq!(sent.load(Ordering::SeqCst), 0, "reloaded before the debounce ended");

    watch.until("the reload", CYCLE, |watch| watch.reloads().0 >= 1.0);
    watch.cycles(2);
    assert_eq!((watch.reloads().0, sent.load(Ordering::SeqCst)), (1.0, 1), "two changes, more than one reload");
}

/// `POST /-/refresh?secret=NAME` with a name no secret has answers 404 saying so, instead of
/// 202 for a refresh of nothing; the name without the file's hash suffix is a name.
#[test]
fn a_refresh_naming_no_secret_is_not_found() {
    let (test, watch) = watching(&config_with_jobs("pw", &["a"]), "first-fake", &[]);
    let secret = named_file(&test.path("out/prometheus.yml"), "password_file");
    let name = file_name(&secret).to_owned();
    let (status, body) = http("POST", watch.port, "/-/refresh?secret=a.basic_auth.pasword");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no secret is named"), "{body}");
    watch.refresh(&format!("?secret={name}"));
    watch.refresh(&format!("?secret={}", name.rsplit_once('-').unwrap().0));
}

#[test]
fn a_configmap_data_symlink_swap_re_renders() {
    let test = Test::new().file("pw", CANARY);
    let password = test.path("pw").display().to_string();
    let (first, second) = ("..2024_01_01_00_00_00.000000001", "..2024_01_01_00_01_00.000000002");
    let test = test.file(&format!("cm/{first}/prometheus.yml"), &config_with_jobs(&password, &["a"]));
    symlink(first, test.path("cm/..data")).unwrap();
    symlink("..data/prometheus.yml", test.path("cm/prometheus.yml")).unwrap();
    let mut watch = Watch::start(&test, &["cm/prometheus.yml", "--out", "out"]);
    watch.until("/-/ready", CYCLE, Watch::ready);
    let rendered = test.path("out/prometheus.yml");
    assert!(read(&rendered).contains("job_name: a") && !read(&rendered).contains("job_name: b"));

    // What the kubelet does: a new timestamped dir, a new `..data` symlink renamed over the old
    // one, the old dir removed.
    let test = test.file(&format!("cm/{second}/prometheus.yml"), &config_with_jobs(&password, &["a", "b"]));
    symlink(second, test.path("cm/..data_tmp")).unwrap();
    std::fs::rename(test.path("cm/..data_tmp"), test.path("cm/..data")).unwrap();
    std::fs::remove_dir_all(test.path(&format!("cm/{first}"))).unwrap();
    watch.until("job b in the rendered config", CYCLE, |_| read(&rendered).contains("job_name: b"));
    assert_eq!(read(&named_file(&rendered, "password_file")), CANARY);
}

/// SIGHUP makes `watch` re-read its configuration, and does not end it: here a change the file
/// watcher cannot see (the config edited in place through a hard link in a directory nobody
/// watches: inotify reports a change to the directory it was made through) is rendered only once
/// SIGHUP comes.
#[test]
fn sighup_re_reads_a_config_change_the_file_watcher_cannot_see() {
    let elsewhere = tempfile::tempdir().unwrap();
    let alias = elsewhere.path().join("alias.yml");
    let test = Test::new().file("pw", CANARY);
    let password = test.path("pw").display().to_string();
    let test = test.file("prometheus.yml", &config_with_jobs(&password, &["a"]));
    std::fs::hard_link(test.path("prometheus.yml"), &alias).unwrap();
    let mut watch = Watch::start(&test, &["prometheus.yml", "--out", "out"]);
    watch.until("/-/ready", CYCLE, Watch::ready);
    let rendered = test.path("out/prometheus.yml");
    assert!(read(&rendered).contains("job_name: a"));

    // The control: the loop comes round without seeing the edit, so only SIGHUP can bring it.
    std::fs::write(&alias, config_with_jobs(&password, &["a", "b"])).unwrap();
    assert!(read(&test.path("prometheus.yml")).contains("job_name: b"), "the edit went to another file");
    watch.cycles(2);
    assert!(!read(&rendered).contains("job_name: b"), "the file watcher saw the edit: SIGHUP is not what is tested");

    let pid = rustix::process::Pid::from_raw(i32::try_from(watch.pid()).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::HUP).expect("signal secret-render watch");
    // `until` fails at once if the process exited (SIGHUP's default action ends it).
    watch.until("job b rendered after SIGHUP", CYCLE, |watch| {
        watch.logged("SIGHUP: re-reading the configuration") == 1 && read(&rendered).contains("job_name: b")
    });
    assert!(watch.try_wait().is_none(), "secret-render watch did not survive SIGHUP:\n{}", watch.log());
    assert!(holds(&named_file(&rendered, "password_file"), CANARY), "the secret file lost its value");
}

/// A ready `watch` of `prometheus.yml`, a symlink to `target`, which is written first with job
/// `a` taking its password from `pw`; the test, the watch and the password file's path (for
/// the configs written to `target` later).
fn watching_a_linked_config(target: &Path) -> (Test, Watch, String) {
    let test = Test::new().file("pw", CANARY);
    let password = test.path("pw").display().to_string();
    std::fs::write(target, config_with_jobs(&password, &["a"])).unwrap();
    symlink(target, test.path("prometheus.yml")).unwrap();
    let mut watch = Watch::start(&test, &["prometheus.yml", "--out", "out"]);
    watch.until("/-/ready", CYCLE, Watch::ready);
    (test, watch, password)
}

/// A config that is a symlink to a file in another directory (as configuration management
/// often links it) is re-rendered when that file is edited in place: the directory of the file
/// the link resolves to is watched too.
#[test]
fn an_in_place_edit_of_a_symlinked_configs_target_re_renders() {
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("real.yml");
    let (test, mut watch, password) = watching_a_linked_config(&target);
    let rendered = test.path("out/prometheus.yml");
    assert!(read(&rendered).contains("job_name: a"));

    std::fs::write(&target, config_with_jobs(&password, &["a", "b"])).unwrap();
    watch.until("job b rendered after the target was edited", CYCLE, |_| read(&rendered).contains("job_name: b"));
    assert_eq!(watch.logged("SIGHUP"), 0, "{}", watch.log());
}

/// A config symlink pointed at a file in yet another directory is re-rendered from it, and so
/// is an in-place edit of that new target afterwards, with no SIGHUP: what the link leads to is
/// watched anew after each change.
#[test]
fn a_config_symlink_retargeted_elsewhere_is_followed_by_the_watch() {
    let (first_dir, second_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (first, second) = (first_dir.path().join("real.yml"), second_dir.path().join("real.yml"));
    let (test, mut watch, password) = watching_a_linked_config(&first);
    let rendered = test.path("out/prometheus.yml");

    std::fs::write(&second, config_with_jobs(&password, &["a", "b"])).unwrap();
    symlink(&second, test.path(".prometheus.yml.tmp")).unwrap();
    std::fs::rename(test.path(".prometheus.yml.tmp"), test.path("prometheus.yml")).unwrap();
    watch.until("job b rendered from the new target", CYCLE, |_| read(&rendered).contains("job_name: b"));
    std::fs::write(&second, config_with_jobs(&password, &["a", "b", "c"])).unwrap();
    watch.until("job c rendered after the new target was edited", CYCLE, |_| read(&rendered).contains("job_name: c"));
    assert_eq!(watch.logged("SIGHUP"), 0, "{}", watch.log());
}

/// The `file` provider's sources are watched: a rotation is refetched at once, not at its
/// refresh interval (an hour here), and the target reloaded once for it.
#[test]
fn a_rotated_file_source_is_refetched_at_once_not_at_its_refresh_interval() {
    let (old, new) = (format!("one-{CANARY}"), format!("two-{CANARY}"));
    let (reload_url, reloads) = reload_endpoint();
    let (test, mut watch) = watching(&basic_auth_job("1h", "0s"), &old, &["--reload-url", &reload_url]);
    let secret = named_file(&test.path("out/prometheus.yml"), "password_file");
    let fetched = watch.fetches();

    replace(&test.path("pw"), new.as_bytes());
    watch.until("the new value in place", CYCLE, |_| holds(&secret, &new));
    assert_eq!(watch.fetches(), fetched + 1.0, "one change, one fetch");
    watch.until("the reload", CYCLE, |_| reloads.load(Ordering::SeqCst) == 1);
    assert_eq!(watch.logged("watching secrets for changes"), 1, "{}", watch.log());
}

/// A Kubernetes Secret volume updated as the kubelet does it (a new timestamped directory,
/// `..data` swapped to it, the old one removed) is refetched at once: a key at the volume's top
/// (`password -> ..data/password`) and one in a subdirectory (`items[].path: db/password`, so
/// `db -> ..data/db`).
#[test]
fn a_kubernetes_secret_volume_update_is_refetched_at_once() {
    let (first, second) = ("..2024_01_01_00_00_00.000000001", "..2024_01_01_00_01_00.000000002");
    let config = "scrape_configs:
  - job_name: top
    basic_auth:
      username: prom
      password:
        file: {path: volume/password, refresh_interval: 1h}
  - job_name: nested
    basic_auth:
      username: prom
      password:
        file: {path: volume/db/password, refresh_interval: 1h}
";
    let test = Test::new()
        .file("prometheus.yml", config)
        .file(&format!("volume/{first}/password"), "top-one")
        .file(&format!("volume/{first}/db/password"), "nested-one");
    symlink(first, test.path("volume/..data")).unwrap();
    symlink("..data/password", test.path("volume/password")).unwrap();
    symlink("..data/db", test.path("volume/db")).unwrap();
    let mut watch = Watch::start(&test, &["prometheus.yml", "--out", "out"]);
    watch.until("/-/ready", CYCLE, Watch::ready);
    let files = named_files(&test.path("out/prometheus.yml"), "password_file");
    assert_eq!(files.iter().map(|file| read(file)).collect::<Vec<_>>(), ["top-one", "nested-one"]);

    let test = test
        .file(&format!("volume/{second}/password"), "top-two")
        .file(&format!("volume/{second}/db/password"), "nested-two");
    symlink(second, test.path("volume/..data_tmp")).unwrap();
    std::fs::rename(test.path("volume/..data_tmp"), test.path("volume/..data")).unwrap();
    std::fs::remove_dir_all(test.path(&format!("volume/{first}"))).unwrap();
    watch.until("both new values in place", CYCLE, |_| holds(&files[0], "top-two") && holds(&files[1], "nested-two"));
}

/// A source that is a symlink to a file elsewhere (configuration management's habit) is
/// refetched when that file is edited in place, when the link is pointed at another file, and
/// when that other file is edited in turn: what the link leads to is watched anew after each
/// change.
#[test]
fn a_symlinked_source_is_refetched_when_its_target_is_edited_or_the_link_retargeted() {
    let elsewhere = tempfile::tempdir().unwrap();
    let (one, two) = (elsewhere.path().join("one"), elsewhere.path().join("two"));
    std::fs::write(&one, "first-fake").unwrap();
    let test = Test::new().file("prometheus.yml", &basic_auth_job("1h", "0s"));
    symlink(&one, test.path("pw")).unwrap();
    let mut watch = Watch::start(&test, &["prometheus.yml", "--out", "out"]);
    watch.until("/-/ready", CYCLE, Watch::ready);
    let secret = named_file(&test.path("out/prometheus.yml"), "password_file");
    assert!(holds(&secret, "first-fake"));

    std::fs::write(&one, "second-fake").unwrap();
    watch.until("the in-place edit refetched", CYCLE, |_| holds(&secret, "second-fake"));
    std::fs::write(&two, "third-fake").unwrap();
    symlink(&two, test.path(".pw.tmp")).unwrap();
    std::fs::rename(test.path(".pw.tmp"), test.path("pw")).unwrap();
    watch.until("the retargeted link refetched", CYCLE, |_| holds(&secret, "third-fake"));
    std::fs::write(&two, "fourth-fake").unwrap();
    watch.until("an edit of the new target refetched", CYCLE, |_| holds(&secret, "fourth-fake"));
}

/// A directory on the way to a source swapped for another (`mv sub sub.old && mv sub.new sub`, as
/// deploy tools do) is followed: the new directory's file is read at once, and so is a later
/// edit in it. The watch used to stay on the old directory, blind to every later change.
#[test]
fn a_source_directory_swapped_for_another_is_followed() {
    let config = basic_auth_job("1h", "0s").replace("path: pw", "path: s/sub/pw");
    let test =
        Test::new().file("prometheus.yml", &config).file("s/sub/pw", "first-fake").file("s/sub.new/pw", "second-fake");
    let mut watch = Watch::start(&test, &["prometheus.yml", "--out", "out"]);
    watch.until("/-/ready", CYCLE, Watch::ready);
    let secret = named_file(&test.path("out/prometheus.yml"), "password_file");

    std::fs::rename(test.path("s/sub"), test.path("s/sub.old")).unwrap();
    std::fs::rename(test.path("s/sub.new"), test.path("s/sub")).unwrap();
    watch.until("the swapped-in directory's value", CYCLE, |_| holds(&secret, "second-fake"));
    replace(&test.path("s/sub/pw"), b"third-fake");
    watch.until("an edit in the swapped-in directory", CYCLE, |_| holds(&secret, "third-fake"));
}

/// A writer that truncates a source and writes it later (`cmd > pw`) is waited for: the file is
/// read once the writer closes it, not empty in between, which used to be published (and the
/// target reloaded with it). Another source changed meanwhile is read as usual, and shows when
/// the held one would have been.
#[test]
fn a_source_truncated_and_not_yet_written_is_read_once_its_writer_closes_it() {
    use std::io::Write as _;
    let config = config_with_jobs("pw", &["a"]).replace("refresh_interval: 1s", "refresh_interval: 1h")
        + "  - job_name: b\n    basic_auth:\n      username: prom\n      password:\n        file: {path: other, refresh_interval: 1h}\n";
    let test = Test::new().file("prometheus.yml", &config).file("pw", "first-fake").file("other", "other-fake");
    let mut watch = Watch::start(&test, &["prometheus.yml", "--out", "out"]);
    watch.until("/-/ready", CYCLE, Watch::ready);
    let files = named_files(&test.path("out/prometheus.yml"), "password_file");
    let fetched = watch.fetches();

    let mut writer = std::fs::OpenOptions::new().write(true).truncate(true).open(test.path("pw")).unwrap();
    replace(&test.path("other"), b"other-second-fake");
    watch.until("the other source's new value", CYCLE, |_| holds(&files[1], "other-second-fake"));
    assert!(holds(&files[0], "first-fake"), "the truncated source was published before its writer closed it");
    assert_eq!(watch.fetches(), fetched + 1.0, "the open one was read");

    writer.write_all(b"second-fake").unwrap();
    drop(writer);
    watch.until("the written value once closed", CYCLE, |_| holds(&files[0], "second-fake"));
    assert_eq!(watch.logged("the value is empty"), 0, "{}", watch.log());
}

/// A config truncated and written by a writer that holds it open (`cmd > prometheus.yml`) is read
/// once the writer closes it: its first half may parse (here the first of its jobs), and was
/// rendered, dropping the other jobs until the write ended. A source changed meanwhile is read as
/// usual, twice, each time after longer than a config change settles.
#[test]
fn a_config_truncated_and_not_yet_written_is_read_once_its_writer_closes_it() {
    use std::io::Write as _;
    let config = |jobs: &[&str]| config_with_jobs("pw", jobs).replace("refresh_interval: 1s", "refresh_interval: 1h");
    let test = Test::new().file("prometheus.yml", &config(&["a", "b"])).file("pw", "first-fake");
    let mut watch = Watch::start(&test, &["prometheus.yml", "--out", "out"]);
    watch.until("/-/ready", CYCLE, Watch::ready);
    let rendered = test.path("out/prometheus.yml");
    let secret = named_file(&rendered, "password_file");

    let whole = config(&["a", "b", "c"]);
    let (half, rest) = whole.split_at(config(&["a"]).len());
    let mut writer = std::fs::OpenOptions::new().write(true).truncate(true).open(test.path("prometheus.yml")).unwrap();
    writer.write_all(half.as_bytes()).unwrap();
    for value in ["second-fake", "third-fake"] {
        replace(&test.path("pw"), value.as_bytes());
        watch.until("the source's new value", CYCLE, |_| holds(&secret, value));
    }
    let text = std::fs::read_to_string(&rendered).unwrap();
    assert!(text.contains("job_name: b"), "the half-written config was rendered:\n{text}");

    writer.write_all(rest.as_bytes()).unwrap();
    drop(writer);
    watch.until("the whole new config, once closed", CYCLE, |_| {
        std::fs::read_to_string(&rendered).is_ok_and(|text| text.contains("job_name: c"))
    });
}

/// With several configs watched, one held open by its writer holds the reading of all back
/// (the loop reads every config when it wakes): another config written in place and closed
/// meanwhile does not release the half-written one, whose close then brings both. They shared
/// one open-write flag, so the other's close released the half-written config. A source
/// changed meanwhile is read as usual, twice, each time after longer than a change settles.
#[test]
fn a_config_held_open_is_not_released_by_another_config_closed_meanwhile() {
    use std::io::Write as _;
    let config = |jobs: &[&str]| config_with_jobs("pw", jobs).replace("refresh_interval: 1s", "refresh_interval: 1h");
    let test = Test::new()
        .file("prometheus.yml", &config(&["a", "b"]))
        .file("other.yml", &config(&["x"]))
        .file("pw", "first-fake");
    let mut watch = Watch::start(&test, &["prometheus.yml", "other.yml", "--out", "out"]);
    watch.until("/-/ready", CYCLE, Watch::ready);
    let (rendered, other) = (test.path("out/prometheus.yml"), test.path("out/other.yml"));
    let secret = named_file(&rendered, "password_file");

    let whole = config(&["a", "b", "c"]);
    let (half, rest) = whole.split_at(config(&["a"]).len());
    let mut writer = std::fs::OpenOptions::new().write(true).truncate(true).open(test.path("prometheus.yml")).unwrap();
    writer.write_all(half.as_bytes()).unwrap();
    std::fs::write(test.path("other.yml"), config(&["y"])).unwrap();
    for value in ["second-fake", "third-fake"] {
        replace(&test.path("pw"), value.as_bytes());
        watch.until("the source's new value", CYCLE, |_| holds(&secret, value));
    }
    let text = read(&rendered);
    assert!(text.contains("job_name: b"), "the half-written config was rendered:\n{text}");
    assert!(read(&other).contains("job_name: x"), "the other config was read beside a half-written one");

    writer.write_all(rest.as_bytes()).unwrap();
    drop(writer);
    watch.until("both new configs, once closed", CYCLE, |_| {
        read(&rendered).contains("job_name: c") && read(&other).contains("job_name: y")
    });
}

/// Many sources changed at once (a Kubernetes Secret volume's `..data` swap of 20 keys) are read
/// and written as one batch, and the target reloaded once, finding every new value: they used
/// to be taken one at a time, each with a write of every output (a thousand changed sources
/// cost half a minute of CPU).
#[test]
fn many_sources_changed_at_once_are_written_and_reloaded_as_one_batch() {
    const KEYS: usize = 20;
    let (first, second) = ("..2024_01_01_00_00_00.000000001", "..2024_01_01_00_01_00.000000002");
    let mut config = String::from("scrape_configs:\n");
    let mut test = Test::new();
    for key in 0..KEYS {
        config.push_str(&format!(
            "  - job_name: j{key}\n    basic_auth: {{username: u, password: {{file: {{path: volume/k{key}, refresh_interval: 1h}}}}}}\n"
        ));
        test = test.file(&format!("volume/{first}/k{key}"), &format!("one-{key}-fake"));
        test = test.file(&format!("volume/{second}/k{key}"), &format!("two-{key}-fake"));
    }
    let test = test.file("prometheus.yml", &config);
    symlink(first, test.path("volume/..data")).unwrap();
    for key in 0..KEYS {
        symlink(format!("..data/k{key}"), test.path(&format!("volume/k{key}"))).unwrap();
    }
    // What each reload finds: how many of the secret files hold the new values.
    let files: Arc<std::sync::Mutex<Vec<PathBuf>>> = Arc::default();
    let found: Arc<std::sync::Mutex<Vec<usize>>> = Arc::default();
    let observe = {
        let (files, found) = (Arc::clone(&files), Arc::clone(&found));
        move || {
            let files = files.lock().unwrap();
            let new = files.iter().enumerate().filter(|(key, file)| holds(file, &format!("two-{key}-fake"))).count();
            found.lock().unwrap().push(new);
        }
    };
    let (reload_url, reloads) = reload_endpoint_observing(Arc::new(AtomicU16::new(200)), observe);
    let mut watch = Watch::start(
        &test,
        &["-v", "prometheus.yml", "--out", "out", "--reload-url", &reload_url, "--reload-debounce", "0s"],
    );
    watch.until("/-/ready", CYCLE, Watch::ready);
    *files.lock().unwrap() = named_files(&test.path("out/prometheus.yml"), "password_file");
    assert_eq!(files.lock().unwrap().len(), KEYS);

    symlink(second, test.path("volume/..data_tmp")).unwrap();
    std::fs::rename(test.path("volume/..data_tmp"), test.path("volume/..data")).unwrap();
    watch.until("a reload finding every new value", CYCLE, |_| found.lock().unwrap().contains(&KEYS));
    assert_eq!(*found.lock().unwrap(), [KEYS], "one swap, one reload, finding it whole:\n{}", watch.log());
    assert_eq!(reloads.load(Ordering::SeqCst), 1);
    assert_eq!(watch.logged(&format!("stores report changes count={KEYS}")), 1, "not one batch:\n{}", watch.log());
}

/// Rewriting a source with the value it already holds costs a fetch, and nothing more: the
/// secret file is left as it was, so nothing calls for a reload.
#[test]
fn rewriting_a_source_with_the_same_value_refetches_it_and_leaves_the_file_alone() {
    use std::os::unix::fs::MetadataExt as _;
    let (test, mut watch) = watching(&basic_auth_job("1h", "0s"), "same-fake", &[]);
    let secret = named_file(&test.path("out/prometheus.yml"), "password_file");
    let identity = |path: &Path| std::fs::metadata(path).map(|meta| (meta.ino(), meta.mtime_nsec(), meta.ctime_nsec()));
    let (written, fetched) = (identity(&secret).unwrap(), watch.fetches());

    replace(&test.path("pw"), b"same-fake");
    watch.until("the source fetched again", CYCLE, |watch| watch.fetches() == fetched + 1.0);
    assert_eq!(identity(&secret).unwrap(), written, "the secret file was written again");
    assert_eq!(watch.logged("secret value changed"), 0, "{}", watch.log());
}

#[test]
fn an_unreadable_source_keeps_the_last_good_value_as_stale_without_a_reload() {
    let (reload_url, reload_requests) = reload_endpoint();
    let (test, mut watch) = watching(&basic_auth_job("1s", "15m"), CANARY, &["--reload-url", &reload_url]);
    let secret = named_file(&test.path("out/prometheus.yml"), "password_file");
    let name = file_name(&secret).to_owned();
    watch.cycles(2);
    assert_eq!(reload_requests.load(Ordering::SeqCst), 0, "the start caused a reload");

    std::fs::remove_file(test.path("pw")).unwrap();
    watch.until("state stale", CYCLE, |watch| watch.state(&name) == Some("stale"));
    assert_eq!(read(&secret), CANARY, "the last good value stays");
    let failures = |watch: &Watch| {
        watch.metric("secret_render_fetch_failures_total", &[("provider", "file"), ("reason", "not_found")])
    };
    // Three failures span 1 s + 2 s of backoff, past the 1 s reload debounce.
    watch.until("three failed fetches", CYCLE, |watch| failures(watch).is_some_and(|count| count >= 3.0));
    assert_eq!(watch.state(&name), Some("stale"));
    assert_eq!(read(&secret), CANARY);
    assert_eq!(reload_requests.load(Ordering::SeqCst), 0, "a failed fetch caused a reload");
    assert_eq!(watch.reloads(), (0.0, 0.0));
    assert!(watch.logged("the last good value stays") >= 1, "{}", watch.log());
    // Naming the secret it serves, and when it is tried again.
    assert!(watch.logged(&format!("secrets={name}")) >= 1, "{}", watch.log());
    assert!(watch.logged("retry_in_secs=") >= 1, "{}", watch.log());

    replace(&test.path("pw"), CANARY.as_bytes());
    watch.until("state success", Duration::from_secs(30), |watch| watch.state(&name) == Some("success"));
    watch.cycles(2);
    assert_eq!(read(&secret), CANARY);
    assert_eq!(reload_requests.load(Ordering::SeqCst), 0, "the same value back caused a reload");
    assert_eq!(watch.reloads(), (0.0, 0.0));

    // The control: a changed value does reload, so the silence above means something.
    replace(&test.path("pw"), format!("rotated-{CANARY}").as_bytes());
    watch.until("the rotation's reload", CYCLE, |watch| watch.reloads().0 >= 1.0);
    assert_eq!(reload_requests.load(Ordering::SeqCst), 1);
}

/// `/-/ready` waits for every secret; `/metrics` exposes the contract's table (section 8), and
/// beyond it only the two config gauges the README adds.
#[test]
fn ready_waits_for_every_secret_and_the_metrics_are_the_contract_table() {
    let start = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    let test = Test::new().file("prometheus.yml", &basic_auth_job("1s", "15m"));
    let mut watch = Watch::start(&test, &["prometheus.yml", "--out", "out"]);
    assert_eq!(watch.get("/-/healthy").0, 200);
    watch.until("the missing secret in state error", CYCLE, |watch| {
        watch.metric("secret_render_secret_state", &[("provider", "file"), ("state", "error")]) == Some(1.0)
    });
    let (status, body) = watch.get("/-/ready");
    assert_eq!(status, 503, "not ready while a secret has no value: {body}");
    assert!(!test.path("out/prometheus.yml").exists(), "nothing is written before every secret has a value");

    replace(&test.path("pw"), CANARY.as_bytes());
    watch.until("/-/ready", Duration::from_secs(30), Watch::ready);
    assert_eq!(watch.get("/-/healthy").0, 200);
    let secret = named_file(&test.path("out/prometheus.yml"), "password_file");
    let name = file_name(&secret);
    let metrics = watch.metrics();
    let labels = [("secret", name), ("provider", "file")];
    let fetched = sample(&metrics, "secret_render_last_successful_fetch_seconds", &labels).unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    assert!((start - 1.0..=now + 1.0).contains(&fetched), "last fetch at {fetched}, test ran {start}..{now}");
    assert_eq!(
        sample(&metrics, "secret_render_secret_state", &[labels[0], labels[1], ("state", "success")]),
        Some(1.0)
    );
    for state in ["stale", "error", "fallback"] {
        assert_eq!(
            sample(&metrics, "secret_render_secret_state", &[labels[0], ("state", state)]),
            Some(0.0),
            "{state}"
        );
    }
    assert!(sample(&metrics, "secret_render_fetch_duration_seconds_count", &[labels[1]]).unwrap() >= 2.0);
    assert!(
        sample(&metrics, "secret_render_fetch_failures_total", &[labels[1], ("reason", "not_found")]).unwrap() >= 1.0
    );
    for result in ["success", "failure"] {
        assert_eq!(sample(&metrics, "secret_render_reloads_total", &[("result", result)]), Some(0.0), "{result}");
    }

    // Every family is one of the contract's table (OpenMetrics names counters without `_total`)
    // or one of the README's two additions to it; the expiry gauge only where the store tells an
    // expiry, which a file does not.
    let additions = [
        ("secret_render_config_last_reload_successful", "gauge"),
        ("secret_render_config_last_reload_success_timestamp_seconds", "gauge"),
    ];
    let table = [
        ("secret_render_last_successful_fetch_seconds", "gauge"),
        ("secret_render_secret_state", "gauge"),
        ("secret_render_fetch_duration_seconds", "histogram"),
        ("secret_render_fetch_failures", "counter"),
        ("secret_render_reloads", "counter"),
        ("secret_render_secret_expiry_timestamp_seconds", "gauge"),
    ];
    let families: BTreeSet<(&str, &str)> =
        metrics.lines().filter_map(|line| line.strip_prefix("# TYPE ")?.split_once(' ')).collect();
    let expected: BTreeSet<(&str, &str)> = table[..5].iter().chain(&additions).copied().collect();
    assert!(
        families.iter().all(|family| table.contains(family) || additions.contains(family)),
        "families outside the table: {families:?}"
    );
    assert!(expected.is_subset(&families), "families missing: {:?}", expected.difference(&families));
    assert!(!metrics.contains(CANARY));
}

/// A doubtful value (here inlined with a trailing newline) is warned about when it is first
/// rendered, not on every refresh that finds it unchanged; a fixed value ends the warning and a
/// new doubtful one warns again.
#[test]
fn a_doubtful_value_is_warned_about_once_per_appearance_not_every_cycle() {
    let config = basic_auth_job("1s", "0s").replace("refresh_interval: 1s", "refresh_interval: 1s, render: inline");
    let (test, mut watch) = watching(&config, &format!("{CANARY}\n"), &[]);
    let warned = |watch: &Watch| watch.logged("starts or ends with whitespace");
    watch.cycles(3);
    assert_eq!(warned(&watch), 1, "{}", watch.log());

    replace(&test.path("pw"), CANARY.as_bytes());
    let rendered = test.path("out/prometheus.yml");
    watch.until("the trimmed value rendered", CYCLE, |_| read(&rendered).contains(&format!("\"{CANARY}\"")));
    watch.cycles(2);
    assert_eq!(warned(&watch), 1, "{}", watch.log());

    replace(&test.path("pw"), format!("rotated-{CANARY}\n").as_bytes());
    watch.until("the second warning", CYCLE, |watch| warned(watch) == 2);
    watch.cycles(2);
    assert_eq!(warned(&watch), 2, "{}", watch.log());
}

/// A reload the target is slow to confirm (here its `/metrics` never shows one: confirmation
/// waits out its 30 s deadline) does not hold the loop up: a rotation meanwhile still reaches
/// its file within a refresh cycle or two. (Before, nothing moved until the deadline.)
#[test]
fn a_reload_awaiting_confirmation_does_not_hold_up_refreshes() {
    let (reload_url, reload_requests) = reload_endpoint();
    // The endpoint answers every path with an empty 200: a `/metrics` without the metric.
    let verify_url = reload_url.replace("/-/reload", "/metrics");
    let args = ["--reload-url", reload_url.as_str(), "--verify-url", verify_url.as_str()];
    let (test, mut watch) = watching(&config_with_jobs("pw", &["a"]), "first-fake", &args);
    let secret = named_file(&test.path("out/prometheus.yml"), "password_file");

    replace(&test.path("pw"), b"second-fake");
    watch.until("the reload's POST", CYCLE, |_| reload_requests.load(Ordering::SeqCst) >= 2);
    let confirming_since = Instant::now();
    replace(&test.path("pw"), b"third-fake");
    watch.until("the rotation during confirmation", CYCLE, |_| holds(&secret, "third-fake"));
    assert!(confirming_since.elapsed() < Duration::from_secs(20), "the rotation waited for the confirmation");
    assert_eq!(watch.reloads(), (0.0, 0.0), "the first reload is still being confirmed");
    assert_eq!(watch.state(file_name(&secret)), Some("success"));
}

/// A `watch` that finds an earlier rendering (an init container's) and changes it at start
/// (the config was edited in between) reloads the target, which may be running on the old one;
/// one that changes nothing sends nothing.
#[test]
fn a_watch_start_that_changes_an_earlier_rendering_reloads_the_target() {
    let test = Test::new().file("prometheus.yml", &config_with_jobs("pw", &["a"])).file("pw", "first-fake");
    test.run_with(&["render", "prometheus.yml", "--out", "out"]).expect_code(0);
    let (reload_url, reload_requests) = reload_endpoint();
    let args = ["prometheus.yml", "--out", "out", "--reload-url", reload_url.as_str()];

    let mut unchanged = Watch::start(&test, &args);
    unchanged.until("/-/ready", CYCLE, Watch::ready);
    unchanged.cycles(2);
    assert_eq!(reload_requests.load(Ordering::SeqCst), 0, "an unchanged start reloaded");
    drop(unchanged);

    let test = test.file("prometheus.yml", &config_with_jobs("pw", &["a", "b"]));
    let mut watch = Watch::start(&test, &args);
    watch.until("the start's reload", CYCLE, |watch| watch.reloads().0 == 1.0);
    assert_eq!(reload_requests.load(Ordering::SeqCst), 1);
    assert!(read(&test.path("out/prometheus.yml")).contains("job_name: b\n"));
}

/// Renaming a job renames its secret: the old name's series leave `/metrics` (frozen, they
/// would look like a secret that stopped refreshing) and the new name's appear, though the
/// value's location is the same.
#[test]
fn a_renamed_secret_leaves_metrics_under_its_old_name() {
    let (test, mut watch) = watching(&config_with_jobs("pw", &["a"]), "first-fake", &[]);
    let old = file_name(&named_file(&test.path("out/prometheus.yml"), "password_file")).to_owned();
    assert_eq!(watch.state(&old), Some("success"));

    replace(&test.path("prometheus.yml"), config_with_jobs("pw", &["renamed"]).as_bytes());
    let rendered = test.path("out/prometheus.yml");
    watch.until("the renamed job rendered", CYCLE, |_| read(&rendered).contains("renamed.basic_auth.password-"));
    let new = file_name(&named_file(&rendered, "password_file")).to_owned();
    watch.until("the new name's state", CYCLE, |watch| watch.state(&new) == Some("success"));
    let metrics = watch.metrics();
    assert!(!metrics.contains(&format!("secret=\"{old}\"")), "{metrics}");
}

/// An out dir removed while `watch` runs (`rm -rf` by a cleanup job) is created again and
/// everything written into it, instead of every write failing into the removed directory.
#[test]
fn a_removed_out_dir_is_created_again_with_everything_in_it() {
    let (test, mut watch) = watching(&config_with_jobs("pw", &["a"]), "first-fake", &[]);
    let rendered = test.path("out/prometheus.yml");
    let secret = named_file(&rendered, "password_file");
    std::fs::remove_dir_all(test.path("out")).unwrap();

    replace(&test.path("pw"), b"second-fake");
    watch.until("the out dir written again", CYCLE, |_| rendered.is_file() && holds(&secret, "second-fake"));
    assert_eq!(watch.logged("the output directory was removed or moved away"), 1, "{}", watch.log());
    assert_eq!(watch.logged("cannot write the outputs"), 0, "{}", watch.log());
}

/// A secret file someone else removes (an operator's `rm`, a cleanup job) is written again at
/// once, not at the next refresh (an hour away here): the target reads it on every request.
#[test]
fn a_secret_file_someone_removes_is_written_again_at_once() {
    let (test, mut watch) = watching(&basic_auth_job("1h", "0s"), "first-fake", &[]);
    let secret = named_file(&test.path("out/prometheus.yml"), "password_file");
    std::fs::remove_file(&secret).unwrap();

    watch.until("the secret file written again", CYCLE, |_| holds(&secret, "first-fake"));
    assert_eq!(watch.logged("by someone else"), 1, "{}", watch.log());
}

/// So is a secret file someone else overwrites in place, and a rendered config someone removes.
#[test]
fn a_secret_file_overwritten_or_a_rendered_config_removed_is_put_back_at_once() {
    let (test, mut watch) = watching(&basic_auth_job("1h", "0s"), "first-fake", &[]);
    let rendered = test.path("out/prometheus.yml");
    let secret = named_file(&rendered, "password_file");
    let config = read(&rendered);
    std::fs::OpenOptions::new().write(true).truncate(true).open(&secret).unwrap();

    watch.until("the secret file put back", CYCLE, |_| holds(&secret, "first-fake"));
    std::fs::remove_file(&rendered).unwrap();
    watch.until("the rendered config put back", CYCLE, |_| rendered.is_file() && read(&rendered) == config);
}

/// Writing back what someone removed or overwrote (a secret file, the rendered config) gives
/// the target nothing new, so it is not reloaded; a real change afterwards still is, once.
#[test]
fn putting_back_a_removed_file_reloads_nothing() {
    let (url, sent) = reload_endpoint();
    let args = ["--reload-url", &url, "--reload-debounce", "0s"];
    let (test, mut watch) = watching(&basic_auth_job("1s", "0s"), "first-fake", &args);
    let rendered = test.path("out/prometheus.yml");
    let secret = named_file(&rendered, "password_file");
    let config = read(&rendered);
    std::fs::remove_file(&secret).unwrap();
    watch.until("the secret file put back", CYCLE, |_| holds(&secret, "first-fake"));
    std::fs::write(&rendered, "overwritten by someone\n").unwrap();
    watch.until("the rendered config put back", CYCLE, |_| read(&rendered) == config);
    assert_eq!(watch.logged("by someone else"), 2, "{}", watch.log());
    // A reload (no debounce) would be sent before two more refreshes come round.
    watch.cycles(2);
    assert_eq!(sent.load(Ordering::SeqCst), 0, "putting files back reloaded the target:\n{}", watch.log());

    replace(&test.path("pw"), b"second-fake");
    watch.until("the new value and its reload", CYCLE, |_| {
        holds(&secret, "second-fake") && sent.load(Ordering::SeqCst) >= 1
    });
    watch.cycles(2);
    assert_eq!(sent.load(Ordering::SeqCst), 1, "{}", watch.log());
}

/// The loop's own writes make the same events (a file renamed over the old one, a `.previous`
/// file removed when its grace period ends), and are not taken for someone else's: a rotation
/// logs nothing about others. The removal after it, whose event comes after the rotation's,
/// shows those were read.
#[test]
fn the_loops_own_writes_are_not_taken_for_someone_elses() {
    let (test, mut watch) = watching(&basic_auth_job("1h", "1s"), "first-fake", &[]);
    let secret = named_file(&test.path("out/prometheus.yml"), "password_file");
    let previous = PathBuf::from(format!("{}.previous", secret.display()));
    replace(&test.path("pw"), b"second-fake");
    watch.until("the rotation written", CYCLE, |_| holds(&secret, "second-fake") && previous.is_file());
    watch.until(".previous removed when its grace ends", CYCLE, |_| !previous.exists());

    std::fs::remove_file(&secret).unwrap();
    watch.until("the secret file written again", CYCLE, |_| holds(&secret, "second-fake"));
    assert_eq!(watch.logged("by someone else"), 1, "{}", watch.log());
}

/// A second writer on the same out dir (warned about at its start) is not undone at each of
/// its writes: the two would rewrite each other's files, and reload the target, without end.
/// The first says (at debug) that it leaves them alone.
#[test]
fn another_writer_on_the_out_dir_is_not_undone_at_each_write() {
    let (test, mut first) = watching(&basic_auth_job("1h", "0s"), "first-fake", &["-v"]);
    let test = test.file("b/prometheus.yml", &basic_auth_job("1h", "0s")).file("b/pw", "second-fake");
    let mut second = Watch::start(&test, &["b/prometheus.yml", "--out", "out"]);
    second.until("/-/ready", CYCLE, Watch::ready);
    let secret = named_file(&test.path("out/prometheus.yml"), "password_file");
    assert!(holds(&secret, "second-fake"), "the second writer wrote the shared file");
    first.until("the second writer's changes left alone", CYCLE, |watch| {
        watch.logged("another writer has the output directory open") >= 1
    });
    assert_eq!(first.logged("by someone else"), 0, "{}", first.log());
}

/// An out dir moved away, with another directory put at its path (by someone who may write its
/// parent), is written neither where it went (the target no longer reads it there) nor into the
/// stranger (here writable by others, so refused): the writes fail and are retried until the
/// path is usable again. They used to go on into the moved directory, reported as written.
#[test]
fn an_out_dir_moved_away_is_not_written_where_it_went_nor_into_its_replacement() {
    use std::os::unix::fs::PermissionsExt as _;
    let (test, mut watch) = watching(&config_with_jobs("pw", &["a"]), "first-fake", &[]);
    let secret = named_file(&test.path("out/prometheus.yml"), "password_file");
    let moved = test.path("out.moved/secrets").join(secret.file_name().unwrap());
    std::fs::rename(test.path("out"), test.path("out.moved")).unwrap();
    std::fs::create_dir(test.path("out")).unwrap();
    std::fs::set_permissions(test.path("out"), std::fs::Permissions::from_mode(0o777)).unwrap();

    replace(&test.path("pw"), b"second-fake");
    watch.until("a refused write", CYCLE, |watch| watch.logged("its path cannot be used") >= 1);
    assert!(holds(&moved, "first-fake"), "the moved-away directory was written");
    assert_eq!(std::fs::read_dir(test.path("out")).unwrap().count(), 0, "the stranger was written");

    std::fs::remove_dir(test.path("out")).unwrap();
    watch.until("the out dir written again", CYCLE, |_| holds(&secret, "second-fake"));
}

/// While writes fail, the loop waits out each backoff before writing again, as the log says
/// (1 s, 2 s, 4 s…), rather than trying at every 1 s refresh.
#[test]
fn a_failing_write_is_retried_at_the_logged_backoff_not_every_refresh() {
    let (test, mut watch) = watching(&config_with_jobs("pw", &["a"]), "first-fake", &[]);
    a_config_edit_whose_write_fails(&test);
    watch.until("a failed write", CYCLE, |watch| watch.logged("cannot write the outputs") >= 1);
    // Six refreshes span about 6 s: writes at 0, 1, 3 and 7 s after the first failure.
    watch.cycles(6);
    let failures = watch.logged("cannot write the outputs");
    assert!(failures <= 4, "{failures} failed writes in six refreshes:\n{}", watch.log());
}

/// A failed reload says why: a 403 (what Prometheus answers to `/-/reload` without
/// `--web.enable-lifecycle`) gets that hint, and a refused connection names the refusal rather
/// than just "error sending request".
#[test]
fn a_failed_reload_says_why() {
    let (forbidden, _) = reload_endpoint_answering(Arc::new(AtomicU16::new(403)));
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}/-/reload", listener.local_addr().unwrap().port())
    };
    for (url, why) in [(forbidden, "without --web.enable-lifecycle"), (closed, "Connection refused")] {
        let (test, mut watch) = watching(&config_with_jobs("pw", &["a"]), "first-fake", &["--reload-url", &url]);
        replace(&test.path("pw"), b"second-fake");
        watch.until("a failed reload", CYCLE, |watch| watch.reloads().1 >= 1.0);
        watch.until("its log line", CYCLE, |watch| watch.logged("reload failed") >= 1);
        assert!(
            watch.log().lines().any(|line| line.contains("reload failed") && line.contains(why)),
            "{}",
            watch.log()
        );
    }
}

/// A job whose password is the `password` key of `creds.json`, fetched every `interval`.
fn keyed_job(interval: &str) -> String {
    format!(
        "scrape_configs:\n  - job_name: a\n    basic_auth:\n      username: prom\n      password: {{file: {{path: creds.json, key: password, refresh_interval: {interval}}}}}\n    static_configs: [{{targets: ['127.0.0.1:9100']}}]\n"
    )
}

/// A document that lacks the key the config takes from it is a failed fetch, retried with
/// backoff from 1 s: the key added a moment later is rendered then, not a refresh interval (here
/// an hour) later, and meanwhile the secret's state is `error`, not `success`.
#[test]
fn a_missing_key_is_retried_with_backoff_not_after_the_refresh_interval() {
    let test = Test::new().file("prometheus.yml", &keyed_job("1h")).file("creds.json", "{\"user\": \"prom\"}");
    let mut watch = Watch::start(&test, &["prometheus.yml", "--out", "out"]);
    watch.until("a failed fetch", CYCLE, |watch| {
        watch.metric("secret_render_fetch_failures_total", &[("provider", "file"), ("reason", "missing_key")]).is_some()
    });
    assert!(!watch.ready());
    let metrics = watch.metrics();
    assert!(metrics.contains("state=\"error\"} 1"), "{metrics}");

    replace(&test.path("creds.json"), b"{\"user\": \"prom\", \"password\": \"first-fake\"}");
    watch.until("the key rendered", CYCLE, |watch| watch.ready());
    let secret = named_file(&test.path("out/prometheus.yml"), "password_file");
    assert!(holds(&secret, "first-fake"));
}

/// A key removed from the document while `watch` runs: the last good value stays in its file and
/// the secret is `stale`, not `success`.
#[test]
fn a_key_removed_at_runtime_keeps_the_last_good_value_as_stale() {
    let test =
        Test::new().file("prometheus.yml", &keyed_job("1s")).file("creds.json", "{\"password\": \"first-fake\"}");
    let mut watch = Watch::start(&test, &["prometheus.yml", "--out", "out"]);
    watch.until("/-/ready", CYCLE, Watch::ready);
    let secret = named_file(&test.path("out/prometheus.yml"), "password_file");
    let name = file_name(&secret).to_owned();

    replace(&test.path("creds.json"), b"{\"user\": \"prom\"}");
    watch.until("state stale", CYCLE, |watch| watch.state(&name) == Some("stale"));
    assert!(holds(&secret, "first-fake"));
}

/// A change brings forward a retry that waits out a failed reload's backoff: after four refused
/// reloads the next retry is 8 s away, but the operator's fix (here the endpoint accepting,
/// and a new value) is reloaded within the 1 s debounce.
#[test]
fn a_change_brings_forward_a_reload_retry_waiting_out_its_backoff() {
    let answer = Arc::new(AtomicU16::new(500));
    let (url, _) = reload_endpoint_answering(Arc::clone(&answer));
    let (test, mut watch) = watching(&config_with_jobs("pw", &["a"]), "first-fake", &["--reload-url", &url]);
    replace(&test.path("pw"), b"second-fake");
    watch.until("four refused reloads", Duration::from_secs(30), |watch| watch.reloads().1 >= 4.0);

    answer.store(200, Ordering::SeqCst);
    replace(&test.path("pw"), b"third-fake");
    let changed = Instant::now();
    watch.until("the reload accepted", CYCLE, |watch| watch.reloads().0 == 1.0);
    assert!(changed.elapsed() < Duration::from_secs(5), "the change waited {:?} for the backoff", changed.elapsed());
}

/// A Prometheus-like target whose first `/metrics` read (the reload's baseline) fails, and which
/// then shows a successful reload stamped `stamp`; `POST /-/reload` answers 200.
fn target_losing_the_baseline(stamp: Arc<std::sync::atomic::AtomicU64>) -> crate::http_fake::FakeServer {
    let reads = AtomicUsize::new(0);
    crate::http_fake::FakeServer::start(move |request| {
        if request.method == "POST" {
            return crate::http_fake::Reply::text(200, "text/plain", "");
        }
        if reads.fetch_add(1, Ordering::SeqCst) == 0 {
            return crate::http_fake::Reply::text(503, "text/plain", "busy");
        }
        let stamp = stamp.load(Ordering::SeqCst);
        let body = format!(
            "prometheus_config_last_reload_successful 1\nprometheus_config_last_reload_success_timestamp_seconds {stamp}\n"
        );
        crate::http_fake::Reply::text(200, "text/plain; version=0.0.4", &body)
    })
}

/// A reload whose baseline could not be read is not confirmed by the success the target showed
/// before it (stamped long ago): only by one stamped after the reload was sent.
#[test]
fn without_a_baseline_an_old_success_does_not_confirm_a_reload() {
    let stamp = Arc::new(std::sync::atomic::AtomicU64::new(1_000_000_000));
    let target = target_losing_the_baseline(Arc::clone(&stamp));
    let reload_url = format!("{}/-/reload", target.url());
    let verify_url = format!("{}/metrics", target.url());
    let args = ["--reload-url", reload_url.as_str(), "--verify-url", verify_url.as_str()];
    let (test, mut watch) = watching(&config_with_jobs("pw", &["a"]), "first-fake", &args);

    replace(&test.path("pw"), b"second-fake");
    watch.until("the reload sent", CYCLE, |_| target.count("POST") >= 1);
    watch.cycles(3);
    assert_eq!(watch.reloads(), (0.0, 0.0), "an old success confirmed the reload");

    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    stamp.store(now + 1, Ordering::SeqCst);
    watch.until("the reload confirmed", CYCLE, |watch| watch.reloads().0 == 1.0);
}

/// While `watch` waits for its first values, the operator's fix is taken at once: a config edit
/// pointing at the right file is re-read (before, only a restart would do), and
/// `POST /-/refresh` fetches now instead of after the growing backoff (from an `exec` plugin
/// here, whose store reports no changes of its own).
#[test]
fn a_fix_made_while_waiting_for_the_first_values_is_taken_at_once() {
    let test =
        Test::new().file("prometheus.yml", &config_with_jobs("wrong.txt", &["a"])).file("right.txt", "first-fake");
    let mut watch = Watch::start(&test, &["prometheus.yml", "--out", "out"]);
    watch.until("a failed fetch", CYCLE, |watch| watch.logged("not every secret has a value yet") >= 1);
    replace(&test.path("prometheus.yml"), config_with_jobs("right.txt", &["a"]).as_bytes());
    watch.until("ready after the config edit", CYCLE, Watch::ready);
    drop(watch);

    let config = "scrape_configs:\n  - job_name: a\n    basic_auth:\n      username: prom\n      password:\n        \
                  exec: {command: [sh, plugin.sh], id: late, refresh_interval: 1h}\n";
    let test = Test::new()
        .file("prometheus.yml", config)
        .file("plugin.sh", include_str!("../../testdata/exec/plugin.sh"))
        .file("plugin-secrets/other", "unused-fake");
    let mut watch = Watch::start(&test, &["prometheus.yml", "--out", "out"]);
    // Four failures: the next retry is 8 s away.
    watch.until("four failed fetches", Duration::from_secs(30), |watch| {
        watch.logged("not every secret has a value yet") >= 4
    });
    let test = test.file("plugin-secrets/late", "late-fake");
    let fixed = Instant::now();
    watch.refresh("");
    watch.until("ready after the refresh", CYCLE, Watch::ready);
    assert!(fixed.elapsed() < Duration::from_secs(4), "the refresh waited {:?}", fixed.elapsed());
    drop(test);
}

/// A `file` source missing at start is watched for while `watch` waits for its first values:
/// created after four failed fetches (the next retry 8 s away), it is read at once.
#[test]
fn a_file_source_created_while_waiting_for_the_first_values_is_read_at_once() {
    let test = Test::new().file("prometheus.yml", &basic_auth_job("1h", "0s"));
    let mut watch = Watch::start(&test, &["prometheus.yml", "--out", "out"]);
    watch.until("four failed fetches", Duration::from_secs(30), |watch| {
        watch.logged("not every secret has a value yet") >= 4
    });
    replace(&test.path("pw"), b"late-fake");
    let created = Instant::now();
    watch.until("ready once the source exists", CYCLE, Watch::ready);
    assert!(
        created.elapsed() < Duration::from_secs(4),
        "the source was read {:?} after it appeared",
        created.elapsed()
    );
    assert!(holds(&named_file(&test.path("out/prometheus.yml"), "password_file"), "late-fake"));
}

/// A `.previous` file left by a run stopped inside its grace period is removed by the next run,
/// which holds no previous value for it: it would otherwise keep the old secret for good.
#[test]
fn a_previous_file_left_by_an_earlier_run_is_removed_at_start() {
    let (test, mut watch) = watching(&basic_auth_job("1s", "1h"), "first-fake", &[]);
    let secret = named_file(&test.path("out/prometheus.yml"), "password_file");
    replace(&test.path("pw"), b"second-fake");
    watch.until("the previous value's file", CYCLE, |_| holds(&previous_of(&secret), "first-fake"));
    drop(watch);

    let mut again = Watch::start(&test, &["prometheus.yml", "--out", "out"]);
    again.until("/-/ready", CYCLE, Watch::ready);
    assert!(!previous_of(&secret).exists(), "the old value stayed in {}", previous_of(&secret).display());
    assert!(holds(&secret, "second-fake"));
}

/// A field taken out of the config while nothing ran leaves no file behind: the next `watch`
/// removes the secret file, and its `.previous` file, that its last rendering named and the
/// new one does not, as `render` does; the fields still there keep theirs.
#[test]
fn a_field_removed_while_nothing_ran_leaves_no_file_at_the_next_start() {
    let two_jobs = concat!(
        "scrape_configs:\n",
        "  - job_name: kept\n    basic_auth: {username: prom, password: {file: {path: pw}}}\n",
        "  - job_name: gone\n    basic_auth: {username: prom, password: {file: {path: pw, refresh_interval: 1s, grace_period: 1h}}}\n",
    );
    let (test, mut watch) = watching(two_jobs, "first-fake", &[]);
    let files = named_files(&test.path("out/prometheus.yml"), "password_file");
    let (kept, gone) = (files[0].clone(), files[1].clone());
    assert!(file_name(&gone).starts_with("gone."), "{}", gone.display());
    replace(&test.path("pw"), b"second-fake");
    watch.until("the previous value's file", CYCLE, |_| holds(&previous_of(&gone), "first-fake"));
    drop(watch);

    let one_job = two_jobs.lines().take(3).collect::<Vec<_>>().join("\n") + "\n";
    replace(&test.path("prometheus.yml"), one_job.as_bytes());
    let mut again = Watch::start(&test, &["prometheus.yml", "--out", "out"]);
    again.until("/-/ready", CYCLE, Watch::ready);
    assert!(!gone.exists(), "the removed field's value stayed in {}", gone.display());
    assert!(!previous_of(&gone).exists(), "its previous value stayed");
    assert!(holds(&kept, "second-fake"), "the field still there lost its file");
}

/// A `watch` started beside an earlier rendering (an init container's) while one secret cannot
/// be fetched keeps that secret's file, which the rendering in place still names and the
/// target still reads, and keeps the others fresh.
#[test]
fn a_watch_started_while_a_secret_cannot_be_fetched_keeps_its_file_in_place() {
    let two_jobs = concat!(
        "scrape_configs:\n",
        "  - job_name: fresh\n    basic_auth: {username: prom, password: {file: {path: pw, refresh_interval: 1s}}}\n",
        "  - job_name: stuck\n    basic_auth: {username: prom, password: {file: {path: pw2, refresh_interval: 1s}}}\n",
    );
    let test = Test::new().file("prometheus.yml", two_jobs).file("pw", "first-fake").file("pw2", "stuck-fake");
    test.run_with(&["render", "prometheus.yml", "--out", "out"]).expect_code(0);
    let files = named_files(&test.path("out/prometheus.yml"), "password_file");
    let (fresh, stuck) = (files[0].clone(), files[1].clone());
    std::fs::remove_file(test.path("pw2")).unwrap();
    replace(&test.path("pw"), b"second-fake");

    let mut watch = Watch::start(&test, &["prometheus.yml", "--out", "out"]);
    watch.until("the fetchable secret kept fresh", CYCLE, |_| holds(&fresh, "second-fake"));
    watch.cycles(2);
    assert!(holds(&stuck, "stuck-fake"), "the file the rendering in place names was removed:\n{}", watch.log());
}

/// A second `watch` started on the out dir of a running one says so, and leaves the first's
/// `.previous` files alone while the first runs: it took them for an earlier run's leftovers and
/// removed them inside their grace period (the first then wrote them back, and so on). Once the
/// first has stopped, they are leftovers, and the second's next write removes them.
#[test]
fn a_second_watch_on_the_same_out_dir_warns_and_leaves_the_firsts_previous_files() {
    let (test, mut watch) = watching(&basic_auth_job("1s", "1h"), "first-fake", &[]);
    let secret = named_file(&test.path("out/prometheus.yml"), "password_file");
    replace(&test.path("pw"), b"second-fake");
    watch.until("the previous value's file", CYCLE, |_| holds(&previous_of(&secret), "first-fake"));

    let mut second = Watch::start(&test, &["prometheus.yml", "--out", "out"]);
    second.until("/-/ready", CYCLE, Watch::ready);
    assert_eq!(second.logged("another process has this output directory open"), 1, "{}", second.log());
    assert_eq!(watch.logged("another process has this output directory open"), 0, "{}", watch.log());
    // A write by the second (the rendered config, removed) while the first runs.
    let rendered = test.path("out/prometheus.yml");
    std::fs::remove_file(&rendered).unwrap();
    second.until("the rendered config written again", CYCLE, |_| rendered.is_file());
    second.cycles(1);
    assert!(holds(&previous_of(&secret), "first-fake"), "the first watch's previous value was removed");

    // The first stops (leaving its `.previous` file, as a stop does): at the second's next
    // write that file is an earlier run's leftover.
    drop(watch);
    std::fs::remove_file(&rendered).unwrap();
    second.until("the leftover removed", CYCLE, |_| rendered.is_file() && !previous_of(&secret).exists());
}

/// Output files someone else removed or overwrote are written again at the next pass (here the
/// next 1 s refresh), not only when their value next changes.
#[test]
fn output_files_removed_or_overwritten_by_someone_else_are_written_again() {
    let (test, mut watch) = watching(&config_with_jobs("pw", &["a"]), "first-fake", &[]);
    let rendered = test.path("out/prometheus.yml");
    let config = read(&rendered);
    let secret = named_file(&rendered, "password_file");
    std::fs::remove_file(&secret).unwrap();
    std::fs::remove_file(&rendered).unwrap();
    watch.until("both files back", CYCLE, |_| holds(&secret, "first-fake") && holds(&rendered, &config));

    replace(&secret, b"tampered");
    watch.until("the value back", CYCLE, |_| holds(&secret, "first-fake"));
}

/// A `.previous` file goes when its grace period ends even while its config cannot be rendered
/// whole (here an edit added a secret that cannot be fetched): the rendering in place keeps its
/// files, but not an old secret past its period.
#[test]
fn a_previous_file_goes_at_the_end_of_its_grace_even_while_the_config_cannot_be_rendered() {
    let (test, mut watch) = watching(&basic_auth_job("1s", "3s"), "first-fake", &[]);
    let secret = named_file(&test.path("out/prometheus.yml"), "password_file");
    replace(&test.path("pw"), b"second-fake");
    watch.until("the previous value's file", CYCLE, |_| previous_of(&secret).exists());

    let broken = format!(
        "{}  - job_name: b\n    basic_auth: {{username: u, password: {{file: {{path: missing.txt, refresh_interval: 1s}}}}}}\n",
        basic_auth_job("1s", "3s")
    );
    replace(&test.path("prometheus.yml"), broken.as_bytes());
    watch.until("the edit read", CYCLE, |watch| watch.logged("the configuration was read again") >= 1);
    watch.until("the previous file gone at the end of its grace", CYCLE, |_| !previous_of(&secret).exists());
    assert!(holds(&secret, "second-fake"), "the rendering in place keeps its secret file");
}
