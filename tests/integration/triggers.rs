//! Auth-failure triggers beyond `POST /-/refresh` (covered in watch.rs): SIGUSR1 refetches every
//! secret and, when nothing newer comes back, falls back to the previous value within its grace
//! period; `--watch-targets` polls a Prometheus targets API and refreshes only the secrets of the
//! jobs whose targets fail with 401/403. The targets API here is a faithful fake of Prometheus's
//! `/api/v1/targets` (its JSON shape), since the trigger only reads that document.

use std::io::{Read as _, Write as _};
use std::time::Duration;

use crate::support::{Test, WatchProcess, read};

const CONFIG: &str = concat!(
    "scrape_configs:\n",
    "  - job_name: node\n",
    "    basic_auth: {username: u, password: {file: {path: node_pw, refresh_interval: 1h, grace_period: 1h}}}\n",
    "  - job_name: api\n",
    "    authorization: {credentials: {file: {path: api_token, refresh_interval: 1h}}}\n",
);

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
    let test = Test::new().file("prometheus.yml", CONFIG).file("node_pw", "v1").file("api_token", "t1");
    let mut watch = WatchProcess::sidecar(&test, &["prometheus.yml", "--out", "out"]);
    let node = secret_file(&test, "node", "password_file");
    assert!(holds(&node, "v1"));

    // A rotation the hourly schedule would not see for an hour: SIGUSR1 fetches it now.
    let test = test.file("node_pw", "v2");
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

/// A fake Prometheus serving `/api/v1/targets`, whose `node` job fails with 401 once the
/// returned switch is on.
fn targets_api() -> (String, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let failing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let switch = std::sync::Arc::clone(&failing);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let node_error = if failing.load(std::sync::atomic::Ordering::SeqCst) {
                "server returned HTTP status 401 Unauthorized"
            } else {
                ""
            };
            let body = r#"{"status":"success","data":{"activeTargets":[
                {"scrapePool":"node","scrapeUrl":"http://127.0.0.1:9100/metrics","health":"down","lastError":"NODE_ERROR","labels":{"job":"node"}},
                {"scrapePool":"api","scrapeUrl":"http://127.0.0.1:8080/metrics","health":"up","lastError":"","labels":{"job":"api"}}
            ],"droppedTargets":[]}}"#
                .replace("NODE_ERROR", node_error);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (address, switch)
}

#[test]
fn watch_targets_refreshes_only_the_secrets_of_a_job_failing_with_401() {
    let test = Test::new().file("prometheus.yml", CONFIG).file("node_pw", "v1").file("api_token", "t1");
    let (api, failing) = targets_api();
    let mut watch = WatchProcess::sidecar(
        &test,
        &["prometheus.yml", "--out", "out", "--watch-targets", &api, "--watch-targets-interval", "1s"],
    );
    let node = secret_file(&test, "node", "password_file");
    let api_file = secret_file(&test, "api", "credentials_file");
    // Both sources rotate; only the failing job's secret is refreshed before its hourly schedule.
    let test = test.file("node_pw", "v2").file("api_token", "t2");
    failing.store(true, std::sync::atomic::Ordering::SeqCst);
    watch.until("the failing job's secret to be refreshed", Duration::from_secs(30), |_| holds(&node, "v2"));
    assert!(holds(&api_file, "t1"), "a healthy job's secret waits for its schedule");
    assert!(watch.log().contains("targets API shows 401/403"), "{}", watch.log());
    drop(test);
}
