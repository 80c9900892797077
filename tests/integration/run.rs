//! `secret-render run` with real processes: a real Prometheus 2.42 wrapped by the built binary,
//! scraping a basic-auth target of the test's own with a password kept in a real OpenBao —
//! unchanged refreshes cause no reload, a rotation exactly one, an OpenBao outage none — and
//! `sh` children for what a wrapper owes its child: exit codes, signal forwarding and escalation,
//! its own process group, zombie reaping as PID 1, holding the child back until every secret
//! has a value, failing with its own code (bad config, unsafe out dir) before starting it, and
//! which target it renders for (`--target`, else the child's `--version`). Nothing sleeps to
//! synchronise: every wait polls a condition under a deadline.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use crate::support::{
    CANARY, PROMETHEUS_INSTALL, Server, Test, bao, free_port, mode_of, read, repo, require, try_http,
};

/// The most any one condition is waited for.
const PATIENCE: Duration = Duration::from_secs(60);
/// A reload is confirmed through the child's `/metrics` within 30 s (daemon.rs), after a 1 s debounce.
const RELOAD_PATIENCE: Duration = Duration::from_secs(45);
/// A reload the child refuses is known well within the 30 s confirmation deadline.
const REFUSAL_PATIENCE: Duration = Duration::from_secs(15);
/// The pause between two polls.
const POLL: Duration = Duration::from_millis(50);

// ---------------------------------------------------------------------------------------------
// The wrapper process

/// A `secret-render run` started in the background, its stdout and stderr (and so its child's)
/// going to a log file. Dropping it stops it: SIGTERM, then a second one (SIGKILL to the child's
/// group), then SIGKILL, so no test leaves a Prometheus or a shell loop behind.
struct Wrapper {
    child: Child,
    log: PathBuf,
    status: Option<ExitStatus>,
}

/// The built binary, run in the test's directory with the environment `Test::run` gives it.
fn wrapper_command(test: &Test) -> Command {
    let mut command = crate::support::binary_command();
    command.current_dir(test.path(""));
    command
}

impl Wrapper {
    fn start(mut command: Command, log: PathBuf) -> Self {
        let file = File::create(&log).expect("create the wrapper's log");
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("clone the log file"))
            .stderr(file)
            .spawn()
            .expect("start the wrapper");
        Self { child, log, status: None }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }

    fn signal(&self, signal: Signal) {
        let pid = Pid::from_raw(i32::try_from(self.pid()).unwrap()).unwrap();
        rustix::process::kill_process(pid, signal).expect("signal the wrapper");
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status
    }

    /// Polls `probe` until it yields; fails with the wrapper's log when `timeout` passes or the
    /// wrapper exits first.
    #[track_caller]
    fn until<T>(&mut self, what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(value) = probe() {
                return value;
            }
            if let Some(status) = self.exited() {
                panic!("the wrapper exited ({status}) while waiting for {what}; its log:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}; log:\n{}", self.log());
            std::thread::sleep(POLL);
        }
    }

    /// Waits for the wrapper to exit; returns its exit code (128+N when a signal N ended it). Fails
    /// when its output shows the canary.
    #[track_caller]
    fn exit_code(&mut self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.exited() {
                break status;
            }
            assert!(Instant::now() < deadline, "the wrapper did not exit within {timeout:?}; log:\n{}", self.log());
            std::thread::sleep(POLL);
        };
        self.assert_no_canary();
        status.code().unwrap_or_else(|| 128 + status.signal().expect("a code or a signal"))
    }

    #[track_caller]
    fn assert_no_canary(&self) {
        assert!(!self.log().contains(CANARY), "the canary secret appeared in the wrapper's output:\n{}", self.log());
    }
}

impl Drop for Wrapper {
    fn drop(&mut self) {
        for signal in [Signal::TERM, Signal::TERM, Signal::KILL] {
            if self.exited().is_some() {
                return;
            }
            let _ = rustix::process::kill_process(Pid::from_raw(self.child.id() as i32).unwrap(), signal);
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.exited().is_none() && Instant::now() < deadline {
                std::thread::sleep(POLL);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Metrics and Prometheus queries

/// The value of the first sample of `name` whose labels include every pair of `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let (label_text, value) = match rest.strip_prefix('{') {
            Some(rest) => rest.split_once('}')?,
            None if rest.starts_with(' ') => ("", rest),
            None => return None,
        };
        let matches = labels.iter().all(|(key, value)| label_text.contains(&format!("{key}=\"{value}\"")));
        if matches { value.split_whitespace().next()?.parse().ok() } else { None }
    })
}

/// The sum of every sample of `name` whose labels include every pair of `labels`.
fn sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .filter_map(|line| sample(line, name, labels))
        .sum()
}

/// `GET /metrics` on `port`; `None` until something answers 200.
fn metrics(port: u16) -> Option<String> {
    try_http("GET", port, "/metrics").filter(|(status, _)| *status == 200).map(|(_, body)| body)
}

/// A PromQL query's first value.
fn query(port: u16, expr: &str) -> Option<f64> {
    let encoded: String = expr
        .bytes()
        .map(|byte| if byte.is_ascii_alphanumeric() { char::from(byte).to_string() } else { format!("%{byte:02X}") })
        .collect();
    let (status, body) = try_http("GET", port, &format!("/api/v1/query?query={encoded}"))?;
    if status != 200 {
        return None;
    }
    let json: serde_json::Value = serde_json::from_str(&body).ok()?;
    json["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// A scrape target that wants HTTP basic auth

/// What the target accepts and what it saw.
#[derive(Default)]
struct TargetState {
    /// Passwords accepted for user `prom`.
    accepted: Vec<String>,
    /// The password of each accepted scrape, in order.
    used: Vec<String>,
    /// Scrapes refused with 401.
    rejected: usize,
}

/// A `/metrics` endpoint on a loopback port requiring basic auth as `prom` with one of the
/// accepted passwords; the test changes that set while Prometheus scrapes it.
struct Target {
    port: u16,
    state: Arc<Mutex<TargetState>>,
}

impl Target {
    fn start(password: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the target");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(TargetState { accepted: vec![password.to_owned()], ..Default::default() }));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = serve_scrape(stream, &shared);
            }
        });
        Self { port, state }
    }

    fn accept(&self, password: &str) {
        self.state.lock().unwrap().accepted.push(password.to_owned());
    }

    /// How many accepted scrapes used `password`.
    fn scrapes_with(&self, password: &str) -> usize {
        self.state.lock().unwrap().used.iter().filter(|used| *used == password).count()
    }

    fn rejected(&self) -> usize {
        self.state.lock().unwrap().rejected
    }
}

fn serve_scrape(mut stream: TcpStream, state: &Mutex<TargetState>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut authorization = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("authorization")
        {
            authorization = Some(value.trim().to_owned());
        }
    }
    let accepted = {
        let mut state = state.lock().unwrap();
        let found = state
            .accepted
            .iter()
            .find(|password| {
                authorization.as_deref() == Some(&format!("Basic {}", base64(&format!("prom:{password}"))))
            })
            .cloned();
        match &found {
            Some(password) => state.used.push(password.clone()),
            None => state.rejected += 1,
        }
        found.is_some()
    };
    let (status, body) = if !request_line.starts_with("GET /metrics ") {
        ("404 Not Found", "not found\n")
    } else if accepted {
        ("200 OK", "# TYPE target_ok gauge\ntarget_ok 1\n")
    } else {
        ("401 Unauthorized", "unauthorized\n")
    };
    write!(
        stream,
        concat!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\n",
            "WWW-Authenticate: Basic realm=\"target\"\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n{body}"
        ),
        status = status,
        length = body.len(),
        body = body
    )
}

/// Standard base64 with padding, for the `Authorization` header the target expects.
fn base64(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let bytes = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let bits = (u32::from(bytes[0]) << 16) | (u32::from(bytes[1]) << 8) | u32::from(bytes[2]);
        for index in 0..4 {
            if index <= chunk.len() {
                out.push(char::from(ALPHABET[((bits >> (18 - 6 * index)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn base64_matches_rfc_4648() {
    for (text, encoded) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("prom:pw", "cHJvbTpwdw==")] {
        assert_eq!(base64(text), encoded);
    }
}

// ---------------------------------------------------------------------------------------------
// The end-to-end test

/// The secret files (not `.previous`) in `out/secrets`.
fn secret_files(out: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(out.join("secrets"))
        .map(|entries| entries.filter_map(|entry| Some(entry.ok()?.path())).collect())
        .unwrap_or_default();
    files.retain(|path| path.extension().is_none_or(|extension| extension != "previous"));
    files.sort();
    files
}

/// Whether the file holds exactly `value` (compared, never printed: the values are secrets).
fn holds(path: &Path, value: &str) -> bool {
    std::fs::read(path).is_ok_and(|bytes| bytes == value.as_bytes())
}

#[test]
fn run_wraps_prometheus_and_reloads_it_only_for_a_rotation() {
    require("prometheus", PROMETHEUS_INSTALL);
    let old = format!("{CANARY}-old");
    let new = format!("{CANARY}-new");
    let mut vault = Server::openbao();
    let vault_port = vault.port;
    bao(&vault, &["kv", "put", "secret/target", &format!("password={old}")]);
    let target = Target::start(&old);

    let config = format!(
        concat!(
            "global:\n",
            "  scrape_interval: 1s\n",
            "scrape_configs:\n",
            "  - job_name: target\n",
            "    static_configs:\n",
            "      - targets: ['127.0.0.1:{port}']\n",
            "    basic_auth:\n",
            "      username: prom\n",
            "      password:\n",
            "        vault: {{path: target, key: password, refresh_interval: 1s, grace_period: 1m}}\n",
        ),
        port = target.port
    );
    let test = Test::new().file("prometheus.yml", &config);
    let out = test.path("out");
    let (prometheus_port, admin_port) = (free_port(), free_port());
    let mut command = wrapper_command(&test);
    command
        .args(["run", "--out"])
        .arg(&out)
        .args(["--listen", &format!("127.0.0.1:{admin_port}"), "--", "prometheus"])
        .arg(format!("--config.file={}", test.path("prometheus.yml").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
        .arg(format!("--storage.tsdb.path={}", test.path("tsdb").display()))
        .env("VAULT_ADDR", vault.address())
        .env("VAULT_TOKEN", "root");
    let mut wrapper = Wrapper::start(command, test.path("wrapper.log"));

    // The scrape is up, with the password from OpenBao.
    let up = r#"up{job="target"}"#;
    wrapper.until("the scrape to be up", PATIENCE, || query(prometheus_port, up).filter(|value| *value == 1.0));
    let files = secret_files(&out);
    assert_eq!(files.len(), 1, "one secret file expected: {files:?}");
    let secret_file = files[0].clone();
    let previous_file = PathBuf::from(format!("{}.previous", secret_file.display()));
    assert!(holds(&secret_file, &old), "{} does not hold the password from OpenBao", secret_file.display());
    assert_eq!(mode_of(&secret_file), 0o600);
    assert!(target.scrapes_with(&old) > 0);
    let admin = |wrapper: &mut Wrapper| wrapper.until("the admin /metrics", PATIENCE, || metrics(admin_port));
    let prometheus_metrics =
        |wrapper: &mut Wrapper| wrapper.until("Prometheus's /metrics", PATIENCE, || metrics(prometheus_port));
    let success = [("provider", "vault"), ("state", "success")];
    let text = admin(&mut wrapper);
    assert_eq!(sample(&text, "secret_render_secret_state", &success), Some(1.0), "{text}");
    let reloads = |text: &str, result: &str| sample(text, "secret_render_reloads_total", &[("result", result)]);
    let fetches = |text: &str| {
        sample(text, "secret_render_fetch_duration_seconds_count", &[("provider", "vault")]).unwrap_or(0.0)
    };
    const RELOAD_TIMESTAMP: &str = "prometheus_config_last_reload_success_timestamp_seconds";
    let reload_timestamp = |text: &str| sample(text, RELOAD_TIMESTAMP, &[]).expect(RELOAD_TIMESTAMP);

    // Many unchanged refresh cycles: zero reloads, and the secret file is not even rewritten.
    assert_eq!((reloads(&text, "success"), reloads(&text, "failure")), (Some(0.0), Some(0.0)), "{text}");
    let started_at = reload_timestamp(&prometheus_metrics(&mut wrapper));
    let inode = std::fs::metadata(&secret_file).unwrap().ino();
    let before = fetches(&text);
    let text = wrapper.until("5 more fetches", PATIENCE, || metrics(admin_port).filter(|t| fetches(t) >= before + 5.0));
    assert_eq!((reloads(&text, "success"), reloads(&text, "failure")), (Some(0.0), Some(0.0)), "{text}");
    assert_eq!(reload_timestamp(&prometheus_metrics(&mut wrapper)), started_at, "Prometheus reloaded");
    assert_eq!(std::fs::metadata(&secret_file).unwrap().ino(), inode, "an unchanged secret file was rewritten");
    assert_eq!(target.rejected(), 0);

    // Rotation: the target accepts both passwords (grace on the receiving side), the store
    // changes; the file changes, Prometheus is reloaded exactly once and never fails a scrape.
    target.accept(&new);
    bao(&vault, &["kv", "put", "secret/target", &format!("password={new}")]);
    wrapper.until("the secret file to hold the new password", PATIENCE, || holds(&secret_file, &new).then_some(()));
    let text = wrapper.until("the reload", RELOAD_PATIENCE, || {
        metrics(admin_port).filter(|t| reloads(t, "success").is_some_and(|count| count >= 1.0))
    });
    assert_eq!((reloads(&text, "success"), reloads(&text, "failure")), (Some(1.0), Some(0.0)), "{text}");
    let reloaded_at = reload_timestamp(&prometheus_metrics(&mut wrapper));
    assert!(reloaded_at > started_at, "Prometheus's reload timestamp did not move");
    let scrapes = target.scrapes_with(&new);
    wrapper.until("3 scrapes with the new password", PATIENCE, || {
        (target.scrapes_with(&new) >= scrapes + 3).then_some(())
    });
    assert_eq!(query(prometheus_port, up), Some(1.0));
    assert_eq!(query(prometheus_port, r#"min_over_time(up{job="target"}[10m])"#), Some(1.0), "a scrape failed");
    assert_eq!(target.rejected(), 0, "the target refused a scrape");
    assert!(holds(&previous_file, &old), "{} does not hold the old password", previous_file.display());
    assert_eq!(mode_of(&previous_file), 0o600);
    let before = fetches(&text);
    let text = wrapper.until("3 more fetches", PATIENCE, || metrics(admin_port).filter(|t| fetches(t) >= before + 3.0));
    assert_eq!((reloads(&text, "success"), reloads(&text, "failure")), (Some(1.0), Some(0.0)), "{text}");
    assert_eq!(reload_timestamp(&prometheus_metrics(&mut wrapper)), reloaded_at, "Prometheus reloaded again");

    // OpenBao goes away: the state turns stale, the last good value stays, nothing reloads.
    drop(vault);
    let stale = [("provider", "vault"), ("state", "stale")];
    let text = wrapper.until("the state to turn stale", PATIENCE, || {
        metrics(admin_port).filter(|t| sample(t, "secret_render_secret_state", &stale) == Some(1.0))
    });
    assert_eq!(sample(&text, "secret_render_secret_state", &success), Some(0.0), "{text}");
    let failures = |text: &str| sum(text, "secret_render_fetch_failures_total", &[("provider", "vault")]);
    let before = failures(&text);
    let text = wrapper
        .until("2 more failed fetches", PATIENCE, || metrics(admin_port).filter(|t| failures(t) >= before + 2.0));
    assert_eq!(sample(&text, "secret_render_secret_state", &stale), Some(1.0), "{text}");
    assert_eq!((reloads(&text, "success"), reloads(&text, "failure")), (Some(1.0), Some(0.0)), "{text}");
    assert_eq!(try_http("GET", prometheus_port, "/-/ready").map(|(status, _)| status), Some(200));
    assert!(wrapper.exited().is_none(), "the wrapper exited during the outage:\n{}", wrapper.log());
    assert!(holds(&secret_file, &new), "the secret file changed during the outage");
    assert!(holds(&previous_file, &old), "the .previous file changed during the outage");
    assert_eq!(query(prometheus_port, up), Some(1.0));

    // OpenBao comes back on the same port (empty: a dev server keeps nothing) with the same
    // value: success again, still no reload.
    vault = Server::openbao_on(vault_port);
    bao(&vault, &["kv", "put", "secret/target", &format!("password={new}")]);
    let text = wrapper.until("the state to return to success", PATIENCE, || {
        metrics(admin_port).filter(|t| sample(t, "secret_render_secret_state", &success) == Some(1.0))
    });
    let before = fetches(&text);
    let text = wrapper.until("2 more fetches", PATIENCE, || metrics(admin_port).filter(|t| fetches(t) >= before + 2.0));
    assert_eq!(sample(&text, "secret_render_secret_state", &success), Some(1.0), "{text}");
    assert_eq!((reloads(&text, "success"), reloads(&text, "failure")), (Some(1.0), Some(0.0)), "{text}");
    assert_eq!(reload_timestamp(&prometheus_metrics(&mut wrapper)), reloaded_at, "Prometheus reloaded");
    assert!(holds(&secret_file, &new), "the secret file changed");
    assert_eq!(target.rejected(), 0, "the target refused a scrape");

    // SIGTERM is forwarded; Prometheus shuts down cleanly and its code (0) passes through.
    wrapper.signal(Signal::TERM);
    assert_eq!(wrapper.exit_code(PATIENCE), 0, "{}", wrapper.log());
    drop(vault);
}

/// Under the shipped example's web config, which asks for basic auth, the reload check's plain
/// GET of Prometheus's `/metrics` cannot pass: verification is off, saying why, and a rotation's
/// reload counts as done instead of failing and being sent again with backoff for good.
#[test]
fn a_web_config_with_basic_auth_turns_reload_verification_off() {
    require("prometheus", PROMETHEUS_INSTALL);
    let shipped = |path: &str| read(&repo().join("testdata/prometheus").join(path));
    let test = Test::new()
        .file("web.yml", &shipped("web.yml"))
        .file("secrets/admin_password.bcrypt", &shipped("secrets/admin_password.bcrypt"))
        .file("pw", "first-fake")
        .file(
            "prometheus.yml",
            "scrape_configs:\n  - job_name: a\n    basic_auth:\n      username: prom\n      password:\n        \
             file: {path: pw, refresh_interval: 1s}\n    static_configs:\n      - targets: ['127.0.0.1:9']\n",
        );
    let (prometheus_port, admin_port) = (free_port(), free_port());
    let mut command = wrapper_command(&test);
    command
        .args(["run", "--out", "out", "--listen", &format!("127.0.0.1:{admin_port}"), "--", "prometheus"])
        .args(["--config.file=prometheus.yml", "--web.config.file=web.yml"])
        .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
        .arg(format!("--storage.tsdb.path={}", test.path("tsdb").display()));
    let mut wrapper = Wrapper::start(command, test.path("wrapper.log"));
    wrapper.until("Prometheus to listen", PATIENCE, || TcpStream::connect(("127.0.0.1", prometheus_port)).ok());
    assert!(wrapper.log().contains("reload verification is off"), "{}", wrapper.log());

    std::fs::write(test.path("pw"), "second-fake").unwrap();
    let reloads = |text: &str, result: &str| sample(text, "secret_render_reloads_total", &[("result", result)]);
    let text = wrapper.until("the reload", RELOAD_PATIENCE, || {
        metrics(admin_port).filter(|text| reloads(text, "success").is_some_and(|count| count >= 1.0))
    });
    assert_eq!(reloads(&text, "failure"), Some(0.0), "{text}");
    wrapper.signal(Signal::TERM);
    assert_eq!(wrapper.exit_code(PATIENCE), 0, "{}", wrapper.log());
}

// ---------------------------------------------------------------------------------------------
// Signals and exit codes, with `sh` children

/// A test directory with `app.yml` (one `env` secret, the canary) for `sh` children.
fn sh_test() -> Test {
    Test::new().file("app.yml", "password: {env: {name: SR_RUN_TEST_PASSWORD}}\n").env("SR_RUN_TEST_PASSWORD", CANARY)
}

/// A path quoted for a shell script.
fn quoted(path: &Path) -> String {
    format!("'{}'", path.display())
}

/// `secret-render run --out OUT --listen off --target generic EXTRA… -- sh -c SCRIPT sh
/// --config.file=app.yml` (the script sees the rendered config's path in `$1`).
fn sh_command(test: &Test, extra: &[&str], script: &str) -> Command {
    let mut command = wrapper_command(test);
    command
        .args(["run", "--out"])
        .arg(test.path("out"))
        .args(["--listen", "off", "--target", "generic"])
        .args(extra)
        .args(["--", "sh", "-c", script, "sh"])
        .arg(format!("--config.file={}", test.path("app.yml").display()))
        .env("SR_RUN_TEST_PASSWORD", CANARY);
    command
}

fn sh_wrapper(test: &Test, extra: &[&str], script: &str) -> Wrapper {
    Wrapper::start(sh_command(test, extra, script), test.path("wrapper.log"))
}

/// Waits until the child wrote `file`, and returns its contents.
#[track_caller]
fn child_wrote(wrapper: &mut Wrapper, file: &Path) -> String {
    wrapper.until(&format!("the child to write {}", file.display()), PATIENCE, || {
        std::fs::read_to_string(file).ok().filter(|text| text.ends_with('\n'))
    })
}

#[test]
fn the_childs_exit_code_passes_through_and_a_signal_death_is_128_plus_n() {
    let test = sh_test();
    for (script, code) in [("exit 0", 0), ("exit 7", 7), ("kill -9 $$", 137), ("kill -15 $$", 143)] {
        let mut wrapper = sh_wrapper(&test, &[], script);
        assert_eq!(wrapper.exit_code(PATIENCE), code, "`{script}`; log:\n{}", wrapper.log());
        // A failure is a warning, not an info line to miss.
        let warned = wrapper.log().contains("WARN the target exited with a failure");
        assert_eq!(warned, code != 0, "`{script}`; log:\n{}", wrapper.log());
    }
    // The child was pointed at the rendered copy, which exists when it starts.
    let rendered = test.path("out/app.yml");
    let script =
        format!(r#"[ "$1" = "--config.file={}" ] && grep -q password "${{1#--config.file=}}""#, rendered.display());
    let mut wrapper = sh_wrapper(&test, &[], &script);
    assert_eq!(wrapper.exit_code(PATIENCE), 0, "the child was not pointed at the rendered config:\n{}", wrapper.log());
}

#[test]
fn sigterm_is_forwarded_to_the_child() {
    let test = sh_test();
    let ready = test.path("ready");
    let script = format!("trap 'exit 42' TERM; echo up > {}; while :; do sleep 0.1; done", quoted(&ready));
    let mut wrapper = sh_wrapper(&test, &[], &script);
    child_wrote(&mut wrapper, &ready);
    wrapper.signal(Signal::TERM);
    assert_eq!(wrapper.exit_code(PATIENCE), 42, "{}", wrapper.log());
}

/// SIGQUIT is forwarded to the child like SIGTERM: the child's trap runs and its exit code
/// passes through.
#[test]
fn sigquit_is_forwarded_to_the_child() {
    let test = sh_test();
    let ready = test.path("ready");
    // The loop ends by itself after a minute, so a wrapper that died of SIGQUIT instead of
    // forwarding it leaves no shell looping forever.
    let script = format!(
        "trap 'exit 42' QUIT; echo up > {}; i=0; while [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done; exit 1",
        quoted(&ready)
    );
    let mut wrapper = sh_wrapper(&test, &[], &script);
    child_wrote(&mut wrapper, &ready);
    wrapper.signal(Signal::QUIT);
    assert_eq!(wrapper.exit_code(PATIENCE), 42, "{}", wrapper.log());
}

#[test]
fn a_second_sigint_kills_a_child_that_does_not_stop() {
    let test = sh_test();
    let (ready, seen) = (test.path("ready"), test.path("seen"));
    let script = format!(
        "trap 'echo int >> {}' INT; trap '' TERM; echo up > {}; while :; do sleep 0.1; done",
        quoted(&seen),
        quoted(&ready)
    );
    let mut wrapper = sh_wrapper(&test, &[], &script);
    child_wrote(&mut wrapper, &ready);
    wrapper.signal(Signal::INT);
    // The first SIGINT reached the child, which carries on.
    assert_eq!(child_wrote(&mut wrapper, &seen), "int\n");
    assert!(wrapper.exited().is_none(), "the wrapper exited after one SIGINT:\n{}", wrapper.log());
    let sent = Instant::now();
    wrapper.signal(Signal::INT);
    assert_eq!(wrapper.exit_code(PATIENCE), 137, "{}", wrapper.log());
    // Well before the default 30 s --stop-timeout.
    assert!(sent.elapsed() < Duration::from_secs(10), "took {:?}", sent.elapsed());
}

#[test]
fn stop_timeout_escalates_to_sigkill() {
    let test = sh_test();
    let (ready, seen) = (test.path("ready"), test.path("seen"));
    let script = format!(
        "trap 'echo term >> {}' TERM; echo up > {}; while :; do sleep 0.1; done",
        quoted(&seen),
        quoted(&ready)
    );
    let mut wrapper = sh_wrapper(&test, &["--stop-timeout", "300ms"], &script);
    child_wrote(&mut wrapper, &ready);
    let sent = Instant::now();
    wrapper.signal(Signal::TERM);
    assert_eq!(wrapper.exit_code(PATIENCE), 137, "{}", wrapper.log());
    let took = sent.elapsed();
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(10), "SIGKILL after {took:?}");
    assert_eq!(read(&seen), "term\n", "the SIGTERM was not forwarded first");
}

/// Fields 4 and 5 (ppid, pgrp) of `/proc/PID/stat`.
fn parent_and_group(pid: u32) -> (u32, u32) {
    let stat = read(Path::new(&format!("/proc/{pid}/stat")));
    let fields: Vec<&str> = stat.rsplit_once(')').expect("comm").1.split_whitespace().collect();
    (fields[1].parse().unwrap(), fields[2].parse().unwrap())
}

#[test]
fn the_child_runs_in_its_own_process_group() {
    let test = sh_test();
    let pid_file = test.path("pid");
    let script = format!("echo $$ > {}; while :; do sleep 0.1; done", quoted(&pid_file));
    let mut wrapper = sh_wrapper(&test, &[], &script);
    let pid: u32 = child_wrote(&mut wrapper, &pid_file).trim().parse().unwrap();
    let (parent, group) = parent_and_group(pid);
    assert_eq!(parent, wrapper.pid(), "the child is not the wrapper's");
    assert_eq!(group, pid, "the child does not lead its own process group");
    assert_ne!(parent_and_group(wrapper.pid()).1, group, "the wrapper shares the child's group");
    wrapper.signal(Signal::TERM);
    assert_eq!(wrapper.exit_code(PATIENCE), 143, "{}", wrapper.log());
}

/// A wrapper killed outright (`kill -9`, the OOM killer) takes its target with it: the kernel
/// sends the target SIGTERM once its parent is gone (the launcher asked for it before exec'ing
/// the target). The target used to run on, orphaned, with values no one kept fresh, and a
/// restarted wrapper started a second one beside it.
#[test]
fn the_target_ends_when_the_wrapper_is_killed_outright() {
    let test = sh_test();
    let (pid_file, terminated) = (test.path("pid"), test.path("terminated"));
    let script = format!(
        "trap 'echo > {}; exit 0' TERM; echo $$ > {}; while :; do sleep 0.1; done",
        quoted(&terminated),
        quoted(&pid_file)
    );
    let mut wrapper = sh_wrapper(&test, &[], &script);
    let pid: u32 = child_wrote(&mut wrapper, &pid_file).trim().parse().unwrap();
    // Should the target outlive the test (the bug), it goes with it.
    let _target = KilledAtTheEnd(pid);
    assert_eq!(parent_and_group(pid).0, wrapper.pid(), "the target is the wrapper's own child");
    wrapper.signal(Signal::KILL);
    assert_eq!(wrapper.exit_code(PATIENCE), 137, "{}", wrapper.log());
    let deadline = Instant::now() + PATIENCE;
    while !ended(&pid.to_string()) {
        assert!(Instant::now() < deadline, "the target runs on after the wrapper was killed");
        std::thread::sleep(POLL);
    }
    assert!(terminated.exists(), "the target did not get SIGTERM");
}

/// A process killed when the test ends, however it ends.
struct KilledAtTheEnd(u32);

impl Drop for KilledAtTheEnd {
    fn drop(&mut self) {
        if let Some(pid) = i32::try_from(self.0).ok().and_then(Pid::from_raw) {
            let _ = rustix::process::kill_process(pid, Signal::KILL);
        }
    }
}

/// `unshare` options that give a new pid namespace (with a user namespace where plain ones are
/// not permitted); fails, never skips, when neither works.
fn unshare_options() -> Vec<&'static str> {
    require("unshare", "apt-get install util-linux");
    let plain = vec!["--pid", "--fork", "--kill-child", "--mount-proc"];
    let user = vec!["--user", "--map-root-user", "--pid", "--fork", "--kill-child", "--mount-proc"];
    for options in [plain, user] {
        let works = Command::new("unshare")
            .args(&options)
            .arg("true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if works {
            return options;
        }
    }
    panic!(
        "`unshare --pid --fork --mount-proc` is not permitted here, with or without `--user --map-root-user`; \
         run the suite where pid namespaces are allowed (e.g. a container with CAP_SYS_ADMIN, or with \
         unprivileged user namespaces enabled)"
    );
}

#[test]
fn as_pid_1_it_reaps_orphans() {
    let options = unshare_options();
    let test = sh_test();
    let (orphan, parent) = (test.path("orphan"), test.path("parent"));
    // The orphan exits at once and is re-parented to PID 1 (the wrapper); the child exits 5 only
    // once the orphan's zombie is gone from /proc, which only PID 1 reaping it does.
    let script = format!(
        "echo $PPID > {parent}; (true & echo $! > {orphan}); p=$(cat {orphan}); \
         while [ -e /proc/$p ]; do sleep 0.01; done; exit 5",
        parent = quoted(&parent),
        orphan = quoted(&orphan)
    );
    let inner = sh_command(&test, &[], &script);
    let mut command = Command::new("unshare");
    command.args(&options).arg(inner.get_program()).args(inner.get_args());
    command.current_dir(test.path("")).env_remove("XDG_RUNTIME_DIR").env("SR_RUN_TEST_PASSWORD", CANARY);
    let mut wrapper = Wrapper::start(command, test.path("wrapper.log"));
    let deadline = Instant::now() + PATIENCE;
    while wrapper.exited().is_none() {
        assert!(
            Instant::now() < deadline,
            "the orphan was never reaped (the child waits for that); log:\n{}",
            wrapper.log()
        );
        std::thread::sleep(POLL);
    }
    let code = wrapper.exit_code(PATIENCE);
    assert_eq!(read(&parent).trim(), "1", "the wrapper was not PID 1:\n{}", wrapper.log());
    assert_eq!(code, 5, "{}", wrapper.log());
}

// ---------------------------------------------------------------------------------------------
// Starting the child

#[test]
fn a_command_without_a_config_flag_is_a_usage_error() {
    let test = sh_test();
    let started = test.path("started");
    let outcome = test
        .args(["run", "--out", "out", "--listen", "off", "--target", "generic", "--", "sh", "-c"])
        .arg_path(format!("touch {}", quoted(&started)))
        .run();
    outcome.expect_code(2).stderr_contains("--config.file");
    assert!(!started.exists(), "the child was started");
}

#[test]
fn the_child_starts_only_once_every_secret_has_a_value() {
    let test = Test::new().file("app.yml", "password: {file: {path: pw.txt, render: file, refresh_interval: 1s}}\n");
    let started = test.path("started");
    let script = format!("echo up > {}; while :; do sleep 0.1; done", quoted(&started));
    let mut wrapper = sh_wrapper(&test, &[], &script);
    // It retries (each attempt logs) without starting the child or writing the config.
    wrapper.until("two retries", PATIENCE, || {
        (wrapper_log(&test).matches("not every secret has a value yet").count() >= 2).then_some(())
    });
    assert!(!started.exists(), "the child was started before its secret had a value");
    assert!(!test.path("out/app.yml").exists(), "the config was written before its secret had a value");
    // The value appears: the child starts.
    std::fs::write(test.path("pw.txt"), "fake-password").unwrap();
    child_wrote(&mut wrapper, &started);
    let file = read(&test.path("out/app.yml"));
    assert!(file.contains("password_file:"), "{file}");
    wrapper.signal(Signal::TERM);
    assert_eq!(wrapper.exit_code(PATIENCE), 143, "{}", wrapper.log());
}

fn wrapper_log(test: &Test) -> String {
    std::fs::read_to_string(test.path("wrapper.log")).unwrap_or_default()
}

#[test]
fn start_partial_starts_the_child_with_the_file_path_absent() {
    let test = Test::new().file("app.yml", "password: {file: {path: pw.txt, render: file, refresh_interval: 1s}}\n");
    let (seen, done) = (test.path("seen"), test.path("done"));
    // The child reports whether the `password_file` its config names exists, then waits for it.
    let script = format!(
        r#"trap '' HUP; f=$(sed -n 's/^password_file: *//p' "${{1#--config.file=}}" | tr -d "\"'"); \
           if [ -n "$f" ] && [ ! -e "$f" ]; then echo absent > {seen}; else echo "present:$f" > {seen}; fi; \
           while [ ! -e "$f" ]; do sleep 0.05; done; echo present > {done}; exit 3"#,
        seen = quoted(&seen),
        done = quoted(&done)
    );
    let mut wrapper = sh_wrapper(&test, &["--start-partial"], &script);
    assert_eq!(child_wrote(&mut wrapper, &seen), "absent\n");
    // Once the value exists it is written where the config said, and the child sees it.
    std::fs::write(test.path("pw.txt"), "fake-password").unwrap();
    assert_eq!(wrapper.exit_code(PATIENCE), 3, "{}", wrapper.log());
    assert_eq!(read(&done), "present\n");
}

#[test]
fn a_stop_signal_before_the_child_started_ends_the_wait() {
    let test = Test::new().file("app.yml", "password: {file: {path: pw.txt, render: file, refresh_interval: 1s}}\n");
    let started = test.path("started");
    let mut wrapper = sh_wrapper(&test, &[], &format!("echo up > {}", quoted(&started)));
    wrapper
        .until("a retry", PATIENCE, || wrapper_log(&test).contains("not every secret has a value yet").then_some(()));
    wrapper.signal(Signal::TERM);
    assert_eq!(wrapper.exit_code(PATIENCE), 143, "{}", wrapper.log());
    assert!(!started.exists(), "the child was started");
}

#[test]
fn a_slow_fetch_does_not_hold_up_a_stop_signal() {
    let test = Test::new();
    let (mark, hanging, ready) = (test.path("fetched-once"), test.path("hanging"), test.path("ready"));
    // An `exec` plugin that answers the first fetch and hangs (until its 20 s timeout) on the next.
    let plugin = format!(
        concat!(
            "cat > /dev/null; if [ -e {mark} ]; then echo > {hanging}; exec sleep 20; fi; echo > {mark}; ",
            r#"printf '{{"version":1,"secrets":{{"pw":{{"value":"fake-password"}}}}}}'"#
        ),
        mark = quoted(&mark),
        hanging = quoted(&hanging)
    );
    let config =
        format!("password: {{exec: {{command: [sh, -c, {plugin:?}], id: pw, timeout: 20s, refresh_interval: 1s}}}}\n");
    let test = test.file("app.yml", &config);
    let script = format!("trap 'exit 42' TERM; echo up > {}; while :; do sleep 0.1; done", quoted(&ready));
    let mut wrapper = sh_wrapper(&test, &[], &script);
    child_wrote(&mut wrapper, &ready);
    wrapper.until("the second fetch to hang", PATIENCE, || hanging.exists().then_some(()));
    let sent = Instant::now();
    wrapper.signal(Signal::TERM);
    assert_eq!(wrapper.exit_code(PATIENCE), 42, "{}", wrapper.log());
    let took = sent.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "SIGTERM reached the child only after {took:?}: the loop was stuck in a fetch (the plugin hangs for 20 s)"
    );
}

// ---------------------------------------------------------------------------------------------
// Reloads Prometheus refuses

/// A Prometheus config with one `file` secret whose job's `scrape_timeout` is `timeout`:
/// secret-render renders it whatever the value, and Prometheus 2.42 refuses one above the job's
/// 1 s `scrape_interval` ("scrape timeout greater than scrape interval").
fn config_with_scrape_timeout(timeout: &str) -> String {
    format!(
        concat!(
            "scrape_configs:\n",
            "  - job_name: a\n",
            "    scrape_interval: 1s\n",
            "    scrape_timeout: {timeout}\n",
            "    basic_auth:\n",
            "      username: prom\n",
            "      password: {{file: {{path: pw, refresh_interval: 1h}}}}\n",
            "    static_configs:\n",
            "      - targets: ['127.0.0.1:9']\n",
        ),
        timeout = timeout
    )
}

/// `secret-render run EXTRA… -- prometheus` over [`config_with_scrape_timeout`]`("1s")`, without
/// `--target` (detected from `prometheus --version`), started and waited on until Prometheus
/// reports its first config loaded; returns it with Prometheus's port and the admin port.
fn wrapped_prometheus(test: &Test, extra: &[&str]) -> (Wrapper, u16, u16) {
    require("prometheus", PROMETHEUS_INSTALL);
    let (prometheus_port, admin_port) = (free_port(), free_port());
    let mut command = wrapper_command(test);
    command
        .args(["run", "--out", "out", "--listen", &format!("127.0.0.1:{admin_port}")])
        .args(extra)
        .args(["--", "prometheus", "--config.file=prometheus.yml"])
        .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
        .arg(format!("--storage.tsdb.path={}", test.path("tsdb").display()));
    let mut wrapper = Wrapper::start(command, test.path("wrapper.log"));
    wrapper.until("Prometheus to load its first config", PATIENCE, || {
        metrics(prometheus_port).filter(|text| prometheus_reload_successful(text) == Some(1.0))
    });
    assert!(wrapper.log().contains("detected the target from --version"), "{}", wrapper.log());
    (wrapper, prometheus_port, admin_port)
}

/// Prometheus's own verdict on its last config load.
fn prometheus_reload_successful(text: &str) -> Option<f64> {
    sample(text, "prometheus_config_last_reload_successful", &[])
}

/// `secret_render_reloads_total{result=RESULT}`.
fn reloads(text: &str, result: &str) -> Option<f64> {
    sample(text, "secret_render_reloads_total", &[("result", result)])
}

/// A reload Prometheus refuses (a config it rejects, which secret-render still renders) is
/// found out through Prometheus's `/metrics` — with the target detected from `--version`, no
/// `--target` — logged and counted as a failure, never a success, and sent again with backoff;
/// once the config is fixed the retry succeeds.
#[test]
fn a_reload_prometheus_refuses_counts_as_a_failure_and_is_retried() {
    let test = Test::new().file("pw", "fake-password").file("prometheus.yml", &config_with_scrape_timeout("1s"));
    let (mut wrapper, prometheus_port, admin_port) = wrapped_prometheus(&test, &[]);

    std::fs::write(test.path("prometheus.yml"), config_with_scrape_timeout("5s")).unwrap();
    // Prometheus's success flag drops from 1 to 0: a refusal, known at once rather than at the
    // 30 s confirmation deadline.
    let text = wrapper.until("a failed reload, before the confirmation deadline", REFUSAL_PATIENCE, || {
        metrics(admin_port).filter(|text| reloads(text, "failure").is_some_and(|count| count >= 1.0))
    });
    assert_eq!(reloads(&text, "success"), Some(0.0), "a refused reload counted as a success:\n{text}");
    let refused = metrics(prometheus_port).expect("Prometheus's /metrics");
    assert_eq!(prometheus_reload_successful(&refused), Some(0.0), "Prometheus accepted the config it should refuse");
    let log = wrapper.log();
    assert!(log.contains("reload failed"), "{log}");
    assert!(log.contains("reports that the reload failed (prometheus_config_last_reload_successful is 0)"), "{log}");

    // Nothing else changes: the wrapper sends the reload again by itself.
    let text = wrapper.until("the reload to be retried and fail again", RELOAD_PATIENCE, || {
        metrics(admin_port).filter(|text| reloads(text, "failure").is_some_and(|count| count >= 2.0))
    });
    assert_eq!(reloads(&text, "success"), Some(0.0), "a refused reload counted as a success:\n{text}");

    // Fixed: the next retry reloads Prometheus, and that counts as a success.
    std::fs::write(test.path("prometheus.yml"), config_with_scrape_timeout("500ms")).unwrap();
    wrapper.until("a successful reload", PATIENCE, || {
        metrics(admin_port).filter(|text| reloads(text, "success").is_some_and(|count| count >= 1.0))
    });
    let accepted = metrics(prometheus_port).expect("Prometheus's /metrics");
    assert_eq!(prometheus_reload_successful(&accepted), Some(1.0), "counted a success Prometheus did not report");
    wrapper.signal(Signal::TERM);
    assert_eq!(wrapper.exit_code(PATIENCE), 0, "{}", wrapper.log());
}

/// A fix written while a retried reload is still being confirmed is reloaded at once: the
/// retry of a refused config can only be confirmed at its 30 s deadline (Prometheus's success
/// flag is 0 before and after it), and used to hold the fix's reload back until then.
#[test]
fn a_fix_written_while_a_refused_reload_is_retried_is_reloaded_at_once() {
    let test = Test::new().file("pw", "fake-password").file("prometheus.yml", &config_with_scrape_timeout("1s"));
    let (mut wrapper, prometheus_port, admin_port) = wrapped_prometheus(&test, &[]);
    let log = test.path("wrapper.log");
    let loads = || read(&log).matches("Loading configuration file").count();
    let first = loads();

    std::fs::write(test.path("prometheus.yml"), config_with_scrape_timeout("5s")).unwrap();
    wrapper.until("a failed reload", REFUSAL_PATIENCE, || {
        metrics(admin_port).filter(|text| reloads(text, "failure").is_some_and(|count| count >= 1.0))
    });
    // The refused reload, then its retry (a second SIGHUP after a 1 s backoff), now confirming.
    wrapper.until("the retry's SIGHUP", RELOAD_PATIENCE, || (loads() >= first + 2).then_some(()));
    let fixed = Instant::now();
    std::fs::write(test.path("prometheus.yml"), config_with_scrape_timeout("500ms")).unwrap();
    wrapper.until("a successful reload", PATIENCE, || {
        metrics(admin_port).filter(|text| reloads(text, "success").is_some_and(|count| count >= 1.0))
    });
    let took = fixed.elapsed();
    assert!(took < Duration::from_secs(15), "the fix was reloaded after {took:?}:\n{}", wrapper.log());
    let accepted = metrics(prometheus_port).expect("Prometheus's /metrics");
    assert_eq!(prometheus_reload_successful(&accepted), Some(1.0));
    wrapper.signal(Signal::TERM);
    assert_eq!(wrapper.exit_code(PATIENCE), 0, "{}", wrapper.log());
}

/// `--no-verify-reload` turns the check off: a reload counts as done once SIGHUP is sent, even
/// one Prometheus then refuses.
#[test]
fn with_no_verify_reload_a_refused_reload_counts_as_sent() {
    let test = Test::new().file("pw", "fake-password").file("prometheus.yml", &config_with_scrape_timeout("1s"));
    let (mut wrapper, prometheus_port, admin_port) = wrapped_prometheus(&test, &["--no-verify-reload"]);

    std::fs::write(test.path("prometheus.yml"), config_with_scrape_timeout("5s")).unwrap();
    // Were the check on, this config would only ever count failures.
    let text = wrapper.until("the reload to count as sent", RELOAD_PATIENCE, || {
        metrics(admin_port).filter(|text| reloads(text, "success").is_some_and(|count| count >= 1.0))
    });
    assert_eq!(reloads(&text, "failure"), Some(0.0), "{text}");
    // The SIGHUP did reach Prometheus, which refused the config.
    wrapper.until("Prometheus to refuse the config", PATIENCE, || {
        metrics(prometheus_port).filter(|text| prometheus_reload_successful(text) == Some(0.0))
    });
    wrapper.signal(Signal::TERM);
    assert_eq!(wrapper.exit_code(PATIENCE), 0, "{}", wrapper.log());
}

// ---------------------------------------------------------------------------------------------
// Failing before the child starts

/// A config problem is the wrapper's own failure: exit 3 naming the file, line and problem,
/// without starting the child or writing the rendered config. Fails if the child is started
/// anyway (its script would exit 0 after touching `started`) or the code or message changes.
#[test]
fn an_invalid_config_exits_3_without_starting_the_child() {
    let test = Test::new().file("app.yml", "password: {env: {name: SR_RUN_TEST_PASSWORD, colour: blue}}\n");
    let started = test.path("started");
    let mut wrapper = sh_wrapper(&test, &[], &format!("touch {}", quoted(&started)));
    assert_eq!(wrapper.exit_code(PATIENCE), 3, "{}", wrapper.log());
    let log = wrapper.log();
    assert!(log.contains("invalid configuration (1 problem)"), "{log}");
    assert!(log.contains("app.yml:1: password: unknown key `colour` in `env` body"), "{log}");
    assert!(!started.exists(), "the child was started:\n{log}");
    assert!(!test.path("out/app.yml").exists(), "a config was rendered:\n{log}");
}

/// An output directory writable by others is refused before the child starts: exit 5 naming
/// the directory and its mode, nothing written into it. Fails if the child is started anyway
/// (its script would exit 0 after touching `started`) or the directory is used.
#[test]
fn an_out_dir_writable_by_others_exits_5_without_starting_the_child() {
    let test = sh_test();
    let (out, started) = (test.path("out"), test.path("started"));
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut wrapper = sh_wrapper(&test, &[], &format!("touch {}", quoted(&started)));
    assert_eq!(wrapper.exit_code(PATIENCE), 5, "{}", wrapper.log());
    let log = wrapper.log();
    assert!(
        log.contains(&format!(
            "cannot use the output directory: refusing to use `{}`: writable by group or others (mode 0777)",
            out.display()
        )),
        "{log}"
    );
    assert!(!started.exists(), "the child was started:\n{log}");
    let left: Vec<_> = std::fs::read_dir(&out).unwrap().map(|entry| entry.unwrap().file_name()).collect();
    assert!(left.is_empty(), "the refused directory was written into: {left:?}");
}

// ---------------------------------------------------------------------------------------------
// Which target `run` renders for

/// An Alertmanager config whose webhook URL comes from the file `hook`: Alertmanager 0.26 added
/// the `url_file` sibling (src/render/targets.yaml), so the target's version decides between a
/// secret file and inlining.
const WEBHOOK_CONFIG: &str = concat!(
    "route: {receiver: team}\n",
    "receivers:\n",
    "  - name: team\n",
    "    webhook_configs:\n",
    "      - url: {file: {path: hook}}\n",
);
/// The webhook URL in `hook`: treated as a secret, never printed.
const FAKE_HOOK: &str = "https://hooks.example.invalid/fake-hook";

/// A test directory with [`WEBHOOK_CONFIG`] and its `hook`, and a fake target program
/// `bin/prometheus`: asked `--version`, it notes that in `asked-version` and prints `banner`;
/// otherwise it copies the config its `--config.file=` names to `seen.yml` and exits 0, so the
/// wrapper exits 0 too. A shell writes the program, so no descriptor open for writing on it is
/// inherited by a process another test thread forks, which would make running it fail with
/// ETXTBSY.
fn fake_target_test(banner: &str) -> (Test, PathBuf) {
    let test = Test::new().file("alertmanager.yml", WEBHOOK_CONFIG).file("hook", FAKE_HOOK);
    let program = test.path("bin/prometheus");
    let script = format!(
        concat!(
            "#!/bin/sh\n",
            "if [ \"$1\" = --version ]; then echo asked >> {asked}; echo '{banner}'; exit 0; fi\n",
            "for arg; do case \"$arg\" in --config.file=*) cp \"${{arg#--config.file=}}\" {seen};; esac; done\n",
        ),
        asked = quoted(&test.path("asked-version")),
        seen = quoted(&test.path("seen.yml")),
        banner = banner
    );
    let written = Command::new("sh")
        .args(["-c", r#"mkdir -p "${1%/*}" && printf '%s' "$2" > "$1" && chmod 755 "$1""#, "sh"])
        .arg(&program)
        .arg(&script)
        .status()
        .expect("sh runs");
    assert!(written.success(), "cannot write {}", program.display());
    (test, program)
}

/// Runs `secret-render run --out OUT --listen off EXTRA… -- PROGRAM --config.file=alertmanager.yml`
/// to its end (exit 0, the fake target's) and returns its log and the config the target was given.
fn run_fake_target(test: &Test, program: &Path, extra: &[&str]) -> (String, String) {
    let mut command = wrapper_command(test);
    command
        .args(["run", "--out"])
        .arg(test.path("out"))
        .args(["--listen", "off"])
        .args(extra)
        .arg("--")
        .arg(program)
        .arg("--config.file=alertmanager.yml");
    let mut wrapper = Wrapper::start(command, test.path("wrapper.log"));
    assert_eq!(wrapper.exit_code(PATIENCE), 0, "{}", wrapper.log());
    let seen = std::fs::read_to_string(test.path("seen.yml"))
        .unwrap_or_else(|error| panic!("the target was not given a config ({error}); log:\n{}", wrapper.log()));
    (wrapper.log(), seen)
}

/// The config as the target saw it, fit to print: the webhook URL replaced.
fn redacted(seen: &str) -> String {
    seen.replace(FAKE_HOOK, "<the webhook URL>")
}

/// The webhook entry's key and value (quotes dropped) in the config the target saw.
fn webhook_entry(seen: &str) -> Option<(&str, &str)> {
    seen.lines().find_map(|line| {
        let (key, value) = line.trim_start().strip_prefix("- ")?.split_once(':')?;
        key.starts_with("url").then(|| (key, value.trim().trim_matches('"')))
    })
}

/// Without `--target`, `run` asks the child's `--version` and renders for that target and
/// version: Alertmanager 0.26 gets `url_file` pointing at a secret file. Fails if the banner's
/// version is ignored (the oldest known, 0.25, would inline the URL) or detection is not logged.
#[test]
fn run_renders_for_the_target_and_version_the_childs_version_banner_names() {
    let (test, program) = fake_target_test("alertmanager, version 0.26.0 (branch: HEAD, revision: fake)");
    let (log, seen) = run_fake_target(&test, &program, &[]);
    assert!(log.contains("detected the target from --version target=alertmanager version=0.26.0"), "{log}");
    let (key, file) = webhook_entry(&seen).unwrap_or_else(|| panic!("no webhook url:\n{}", redacted(&seen)));
    assert_eq!(key, "url_file", "0.26 has url_file:\n{}", redacted(&seen));
    assert!(Path::new(file).starts_with(test.path("out/secrets")), "{}", redacted(&seen));
    assert!(holds(Path::new(file), FAKE_HOOK), "{file} does not hold the webhook URL");
}

/// `--target` wins over the child's `--version` under `run`: `alertmanager@0.25` (no `url_file`
/// yet) inlines the URL although the child says 0.26, and the child is never asked its version.
/// Fails if detection overrides the flag (the URL would go to `url_file`), or still runs.
#[test]
fn target_under_run_wins_over_the_childs_version_banner() {
    let (test, program) = fake_target_test("alertmanager, version 0.26.0 (branch: HEAD, revision: fake)");
    let (log, seen) = run_fake_target(&test, &program, &["--target", "alertmanager@0.25"]);
    // Compared, not `assert_eq!`: the value is a secret and must not be printed.
    assert!(webhook_entry(&seen) == Some(("url", FAKE_HOOK)), "the URL is not inlined:\n{}", redacted(&seen));
    assert!(!test.path("asked-version").exists(), "the child was asked --version:\n{log}");
    assert!(!log.contains("from --version"), "{log}");
}

/// A `--version` banner that names no known target is logged as such, and each config's shape
/// decides instead (Alertmanager, at its oldest known version 0.25: the URL inlined). Fails if the
/// banner is taken for a target or the fallback goes unsaid.
#[test]
fn an_unrecognised_version_banner_leaves_the_target_to_the_config_shape() {
    let (test, program) = fake_target_test("blackbox_exporter, version 0.26.0 (branch: HEAD, revision: fake)");
    let (log, seen) = run_fake_target(&test, &program, &[]);
    assert!(test.path("asked-version").exists(), "the child was not asked --version:\n{log}");
    assert!(log.contains("cannot tell the target from --version; detecting it from each config's shape"), "{log}");
    assert!(!log.contains("detected the target from --version"), "{log}");
    // Compared, not `assert_eq!`: the value is a secret and must not be printed.
    assert!(webhook_entry(&seen) == Some(("url", FAKE_HOOK)), "the URL is not inlined:\n{}", redacted(&seen));
}

/// A target that cannot be started exits as a shell or container runtime would say it: 127 for
/// a program not found, 126 for one that is not executable, with the reason in the log.
#[test]
fn a_target_that_cannot_start_exits_127_or_126() {
    let test = sh_test().file("not-executable", "#!/bin/sh\n");
    let missing = test.path("no-such-program");
    let not_executable = test.path("not-executable");
    // A file the kernel cannot execute is an error as well, not run by /bin/sh as glibc's
    // `execvp` would (the script would write `ran`).
    let ran = test.path("ran");
    let test = test.file("no-shebang", &format!("echo ran > {}\n", quoted(&ran)));
    let no_shebang = test.path("no-shebang");
    std::fs::set_permissions(&no_shebang, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (program, code, why) in [
        (&missing, 127, "No such file"),
        (&not_executable, 126, "Permission denied"),
        (&no_shebang, 126, "Exec format error"),
    ] {
        let mut command = wrapper_command(&test);
        command
            .args(["run", "--out", "out", "--listen", "off", "--target", "generic", "--"])
            .arg(program)
            .arg(format!("--config.file={}", test.path("app.yml").display()))
            .env("SR_RUN_TEST_PASSWORD", CANARY);
        let mut wrapper = Wrapper::start(command, test.path("wrapper.log"));
        assert_eq!(wrapper.exit_code(PATIENCE), code, "{}", wrapper.log());
        assert!(wrapper.log().contains(why), "{}", wrapper.log());
        assert!(wrapper.log().contains("ERROR cannot start the target"), "{}", wrapper.log());
    }
    assert!(!ran.exists(), "a file without `#!` was run by a shell");
}

/// The target gets the core size limit secret-render was started with (here 8 blocks), not the
/// 0 secret-render sets for itself to keep secrets out of its own dumps: the target's dumps are
/// its operator's to decide. It used to inherit the 0.
#[test]
fn the_target_gets_the_core_size_limit_secret_render_was_started_with() {
    let test = sh_test();
    let seen = test.path("core-limit");
    let inner = sh_command(&test, &[], &format!("ulimit -c > {}", quoted(&seen)));
    let mut command = Command::new("sh");
    command.args(["-c", "ulimit -S -c 8 && exec \"$0\" \"$@\""]).arg(inner.get_program()).args(inner.get_args());
    if let Some(dir) = inner.get_current_dir() {
        command.current_dir(dir);
    }
    for (name, value) in inner.get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let mut wrapper = Wrapper::start(command, test.path("wrapper.log"));
    assert_eq!(wrapper.exit_code(PATIENCE), 0, "{}", wrapper.log());
    assert_eq!(read(&seen).trim(), "8");
}

/// Waits (up to [`PATIENCE`]) for process `pid` to end.
fn await_end(pid: &str, what: &str) {
    let deadline = Instant::now() + PATIENCE;
    while !ended(pid) {
        assert!(Instant::now() < deadline, "{what} ({pid}) runs on");
        std::thread::sleep(POLL);
    }
}

/// Whether process `pid` has ended (gone, or a zombie nobody reaped yet).
fn ended(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_or(true, |stat| stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')))
}

/// `secret-render run --out OUT --listen off -- ./child.sh --config.file=app.yml`, where
/// `child.sh` (executable) is `script`.
fn wrapping_a_script(test: Test, script: &str) -> (Test, Command) {
    let test = test.file("child.sh", script);
    std::fs::set_permissions(test.path("child.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut command = wrapper_command(&test);
    command
        .args(["run", "--out"])
        .arg(test.path("out"))
        .args(["--listen", "off", "--", "./child.sh"])
        .arg(format!("--config.file={}", test.path("app.yml").display()));
    (test, command)
}

/// A stop signal while `run` asks its target for `--version` ends the probe, with what it
/// started, and the wrapper exits 128 + 15: the default action used to end the wrapper alone.
#[test]
fn a_wrapper_stopped_during_its_version_probe_ends_the_probe() {
    let test = sh_test();
    let script = "#!/bin/sh\nif [ \"$1\" = --version ]; then sleep 300 & echo $! > probe.pid; wait; fi\nexit 0\n";
    let (test, command) = wrapping_a_script(test, script);
    let mut wrapper = Wrapper::start(command, test.path("wrapper.log"));
    let probe = child_wrote(&mut wrapper, &test.path("probe.pid"));
    wrapper.signal(Signal::TERM);
    assert_eq!(wrapper.exit_code(PATIENCE), 143, "{}", wrapper.log());
    await_end(probe.trim(), "the probe's sleep");
}

/// The same for a one-shot `render` stopped while an `exec` plugin runs: the plugin is killed
/// with its process group, and the exit is 128 + 15.
#[test]
fn a_render_stopped_during_a_plugin_ends_the_plugin() {
    let test = Test::new().file("plugin.sh", "echo $$ > plugin.pid\nexec sleep 300\n");
    let config =
        format!("a: {{exec: {{command: [/bin/sh, {}], id: x, timeout: 5m}}}}\n", test.path("plugin.sh").display());
    let test = test.file("app.yml", &config);
    let mut command = wrapper_command(&test);
    command.args(["--target", "generic", "render", "app.yml", "--out"]).arg(test.path("out"));
    let mut wrapper = Wrapper::start(command, test.path("render.log"));
    let plugin = child_wrote(&mut wrapper, &test.path("plugin.pid"));
    wrapper.signal(Signal::TERM);
    assert_eq!(wrapper.exit_code(PATIENCE), 143, "{}", wrapper.log());
    await_end(plugin.trim(), "the plugin");
}

/// `run` asks the target for `--version` to learn which version's secret fields apply; a target
/// that ignores the flag and runs on (here a script that starts a `sleep` and waits) is killed
/// with everything it started once the 10 s allowed are over. It used to run on after the wrapper
/// was gone.
#[test]
fn a_version_probe_that_hangs_is_killed_with_its_children() {
    let test = sh_test();
    let script = "#!/bin/sh\nif [ \"$1\" = --version ]; then sleep 300 & echo $! > probe.pid; wait; exit 0; fi\necho up > started\nexec sleep 300\n";
    let (test, mut command) = wrapping_a_script(test, script);
    command.env("SR_RUN_TEST_PASSWORD", CANARY);
    let mut wrapper = Wrapper::start(command, test.path("wrapper.log"));
    child_wrote(&mut wrapper, &test.path("started"));
    let probe = read(&test.path("probe.pid"));
    let probe = probe.trim();
    assert!(ended(probe), "the probe's `sleep` ({probe}) runs on after the probe timed out:\n{}", wrapper.log());
    wrapper.signal(Signal::TERM);
    wrapper.exit_code(PATIENCE);
}
