//! Auth-failure triggers beyond `POST /-/refresh` (covered in watch.rs): SIGUSR1 refetches every
//! secret and, when nothing newer comes back, falls back to the previous value within its grace
//! period; `--watch-targets` polls a Prometheus targets API and refreshes only the secrets of the
//! jobs whose targets fail with 401/403. The targets API here is a faithful fake of Prometheus's
//! `/api/v1/targets` (its JSON shape), since the trigger only reads that document.

use std::io::{Read as _, Write as _};
use std::time::Duration;

use crate::support::{CANARY, Test, WatchProcess, free_port, read, try_http};

/// Two jobs whose secrets come from `testdata/exec/plugin.sh`, which answers from the files in
/// `plugin-secrets/` (see [`sources`]): a store that pushes no change notices, unlike the `file`
/// provider, whose sources are watched, so that only the triggers under test fetch early.
const CONFIG: &str = concat!(
    "scrape_configs:\n",
    "  - job_name: node\n",
    "    basic_auth: {username: u, password: {exec: {command: [sh, plugin.sh], id: node_pw, refresh_interval: 1h, grace_period: 1h}}}\n",
    "  - job_name: api\n",
    "    authorization: {credentials: {exec: {command: [sh, plugin.sh], id: api_token, refresh_interval: 1h}}}\n",
);

/// A test with [`CONFIG`], its plugin, and the store's values `node_pw` and `api_token`.
fn sources(node_pw: &str, api_token: &str) -> Test {
    Test::new()
        .file("prometheus.yml", CONFIG)
        .file("plugin.sh", include_str!("../../testdata/exec/plugin.sh"))
        .file("plugin-secrets/node_pw", node_pw)
        .file("plugin-secrets/api_token", api_token)
}

/// The secret file a rendered config names under `field` within the job `job`.
fn secret_file(test: &Test, job: &str, field: &str) -> std::path::PathBuf {
    let rendered = read(&test.path("out/prometheus.yml"));
    let section = rendered.split("- job_name: ").find(|section| section.starts_with(job)).unwrap();
    let line = section.lines().find_map(|line| line.trim().strip_prefix(&format!("{field}: "))).unwrap();
    std::path::PathBuf::from(line.trim_matches('"'))
}

fn holds(path: &std::path::Path, value: &str) -> bool {
    std::fs::read_to_string(path).is_ok_and(|content| content == value)
}

#[test]
fn sigusr1_refetches_everything_and_falls_back_when_nothing_newer_comes() {
    let test = sources("v1", "t1");
    let mut watch = WatchProcess::sidecar(&test, &["prometheus.yml", "--out", "out"]);
    let node = secret_file(&test, "node", "password_file");
    assert!(holds(&node, "v1"));

    // A rotation the hourly schedule would not see for an hour: SIGUSR1 fetches it now.
    let test = test.file("plugin-secrets/node_pw", "v2");
    let signal = |pid: u32| {
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(pid as i32).unwrap(),
            rustix::process::Signal::USR1,
        )
        .unwrap()
    };
    signal(watch.pid());
    watch.until("the rotated value", Duration::from_secs(30), |_| holds(&node, "v2"));

    // Another auth failure, and the store still says v2: the previous value goes back in place.
    signal(watch.pid());
    watch.until("the fallback to the previous value", Duration::from_secs(30), |_| holds(&node, "v1"));
    assert!(holds(&secret_file(&test, "api", "credentials_file"), "t1"), "the other secret is untouched");
}

/// A fake Prometheus serving `/api/v1/targets`: its `node` job fails with `node_error` (the
/// `lastError` text Prometheus shows) once `failing` is switched on; `polls` counts the requests.
struct TargetsApi {
    address: String,
    failing: std::sync::Arc<std::sync::atomic::AtomicBool>,
    polls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl TargetsApi {
    fn start(node_error: &'static str) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let failing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let polls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (switch, counter) = (std::sync::Arc::clone(&failing), std::sync::Arc::clone(&polls));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let error = if switch.load(std::sync::atomic::Ordering::SeqCst) { node_error } else { "" };
                let body = r#"{"status":"success","data":{"activeTargets":[
                    {"scrapePool":"node","scrapeUrl":"http://127.0.0.1:9100/metrics","health":"down","lastError":"NODE_ERROR","labels":{"job":"node"}},
                    {"scrapePool":"api","scrapeUrl":"http://127.0.0.1:8080/metrics","health":"up","lastError":"","labels":{"job":"api"}}
                ],"droppedTargets":[]}}"#
                    .replace("NODE_ERROR", error);
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Self { address, failing, polls }
    }

    /// Makes the `node` job's targets fail from the next poll on.
    fn fail(&self) {
        self.failing.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// How many times the targets API was read.
    fn polls(&self) -> usize {
        self.polls.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// `secret-render watch` over [`CONFIG`] polling `api` every second.
fn watching_targets(test: &Test, api: &TargetsApi) -> WatchProcess {
    WatchProcess::sidecar(
        test,
        &["prometheus.yml", "--out", "out", "--watch-targets", &api.address, "--watch-targets-interval", "1s"],
    )
}

/// The log line of one refresh triggered by the targets API.
const JOB_TRIGGERED: &str = "targets API shows 401/403: refreshing the job's secrets";

/// A job whose scrapes fail with `error` (as the targets API shows it) has its rotated secret
/// reach its file long before its hourly schedule, while the healthy job's secret waits.
fn a_failing_job_has_its_secrets_refreshed(error: &'static str) {
    let test = sources("v1", "t1");
    let api = TargetsApi::start(error);
    let mut watch = watching_targets(&test, &api);
    let node = secret_file(&test, "node", "password_file");
    let api_file = secret_file(&test, "api", "credentials_file");
    // Both sources rotate; only the failing job's secret is refreshed before its hourly schedule.
    let test = test.file("plugin-secrets/node_pw", "v2").file("plugin-secrets/api_token", "t2");
    api.fail();
    watch.until("the failing job's secret to be refreshed", Duration::from_secs(30), |_| holds(&node, "v2"));
    assert!(holds(&api_file, "t1"), "a healthy job's secret waits for its schedule");
    assert!(watch.log().contains(JOB_TRIGGERED), "{}", watch.log());
    drop(test);
}

#[test]
fn watch_targets_refreshes_only_the_secrets_of_a_job_failing_with_401() {
    a_failing_job_has_its_secrets_refreshed("server returned HTTP status 401 Unauthorized");
}

/// Prometheus shows `403 Forbidden` as often as `401` for a credential it may no longer use.
#[test]
fn watch_targets_refreshes_the_secrets_of_a_job_failing_with_403() {
    a_failing_job_has_its_secrets_refreshed("server returned HTTP status 403 Forbidden");
}

/// A targets API URL with credentials in it (`http://user:password@…`, which reqwest sends as
/// basic auth) is logged without them when it cannot be read: the warning used to show the
/// password on every poll.
#[test]
fn a_targets_api_that_cannot_be_read_is_logged_without_the_urls_credentials() {
    let test = sources("v1", "t1");
    let port = free_port();
    let url = format!("http://prometheus:{CANARY}@127.0.0.1:{port}");
    let mut watch = WatchProcess::sidecar(
        &test,
        &["prometheus.yml", "--out", "out", "--watch-targets", &url, "--watch-targets-interval", "1s"],
    );
    watch.until("a failed poll", Duration::from_secs(30), |watch| watch.log().contains("cannot read the targets API"));
    let log = watch.log();
    assert!(log.contains(&format!("http://127.0.0.1:{port}/api/v1/targets")), "{log}");
    assert!(!log.contains(CANARY), "{log}");
}

/// How many fetches the `exec` provider made, from the admin `/metrics`.
fn plugin_fetches(watch: &WatchProcess) -> f64 {
    let (status, text) = try_http("GET", watch.port, "/metrics").expect("the admin /metrics answers");
    assert_eq!(status, 200, "{text}");
    text.lines()
        .filter(|line| {
            line.starts_with("secret_render_fetch_duration_seconds_count{") && line.contains(r#"provider="exec""#)
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A job whose targets keep failing is refreshed once, not on every poll: over five polls a
/// second apart with the job failing throughout, one trigger is logged and its one secret is
/// fetched once (the hourly schedules fetch nothing meanwhile).
#[test]
fn a_job_that_keeps_failing_triggers_a_refetch_at_most_once_a_minute() {
    let test = sources("v1", "t1");
    let api = TargetsApi::start("server returned HTTP status 401 Unauthorized");
    let mut watch = watching_targets(&test, &api);
    let before = plugin_fetches(&watch);
    api.fail();
    watch.until("the first trigger", Duration::from_secs(30), |watch| watch.log().contains(JOB_TRIGGERED));
    // The loop reads the targets API again only once it has acted on the previous answer, so
    // five more reads mean at least four more answers showing the job failing were acted on.
    let polls = api.polls();
    watch.until("five more polls of the failing job", Duration::from_secs(30), |_| api.polls() >= polls + 5);
    let log = watch.log();
    assert_eq!(log.matches(JOB_TRIGGERED).count(), 1, "the job was refreshed more than once within a minute:\n{log}");
    assert_eq!(plugin_fetches(&watch), before + 1.0, "one refetch expected\n{log}");
    drop(test);
}
