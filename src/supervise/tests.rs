//! Tests with real `/bin/sh` children and tiny local HTTP servers. Nothing sleeps to
//! synchronise: children write a ready file that the test polls for, with a deadline.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustix::process::{Pid, Signal, WaitId, WaitIdOptions};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::stop::{SignalSource, drive};
use super::*;

const PATIENCE: Duration = Duration::from_secs(20);

fn sh(script: &str) -> ChildProcess {
    ChildProcess::spawn_directly("/bin/sh".as_ref(), &[OsString::from("-c"), OsString::from(script)]).expect("spawn sh")
}

/// Runs `script` with `$1` set to `dir`, so scripts can write their ready files there.
fn sh_in(dir: &Path, script: &str) -> ChildProcess {
    let args = [OsString::from("-c"), OsString::from(script), OsString::from("sh"), dir.as_os_str().to_owned()];
    ChildProcess::spawn_directly("/bin/sh".as_ref(), &args).expect("spawn sh")
}

/// A readiness wait: polls `check` until it holds, failing the test after [`PATIENCE`].
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn wait(child: &mut ChildProcess) -> ExitOutcome {
    tokio::time::timeout(PATIENCE, child.wait()).await.expect("the child did not exit in time")
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map(|text| text.lines().count()).unwrap_or(0)
}

#[expect(clippy::disallowed_methods, reason = "test fixture, not a secret-render output")]
fn write_file(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write fixture");
}

impl SignalSource for mpsc::UnboundedReceiver<Signal> {
    async fn next_signal(&mut self) -> Signal {
        match self.recv().await {
            Some(signal) => signal,
            None => std::future::pending().await,
        }
    }
}

#[test]
fn exit_code_maps_signals_above_128() {
    for (outcome, code) in [
        (ExitOutcome::Exited(0), 0),
        (ExitOutcome::Exited(7), 7),
        (ExitOutcome::Exited(255), 255),
        (ExitOutcome::Signaled(2), 130),
        (ExitOutcome::Signaled(9), 137),
        (ExitOutcome::Signaled(15), 143),
    ] {
        assert_eq!(outcome.exit_code(), code, "{outcome:?}");
    }
}

#[tokio::test]
async fn exit_status_passes_through() {
    for (script, outcome, code) in [
        ("exit 0", ExitOutcome::Exited(0), 0),
        ("exit 7", ExitOutcome::Exited(7), 7),
        ("kill -9 $$", ExitOutcome::Signaled(9), 137),
        ("kill -15 $$", ExitOutcome::Signaled(15), 143),
    ] {
        let mut child = sh(script);
        let ended = wait(&mut child).await;
        assert_eq!((ended, ended.exit_code()), (outcome, code), "{script}");
        // Once ended, `wait` keeps answering the same.
        assert_eq!(wait(&mut child).await, outcome);
    }
}

#[tokio::test]
async fn spawn_failure_names_the_program() {
    let error = ChildProcess::spawn_directly("/nonexistent/prometheus".as_ref(), &[]).expect_err("spawn must fail");
    assert!(error.to_string().starts_with("failed to start `/nonexistent/prometheus`: "), "{error}");
}

#[test]
fn spawn_outside_a_runtime_is_an_error() {
    let error = ChildProcess::spawn_directly("/bin/true".as_ref(), &[]).expect_err("no runtime");
    assert!(matches!(error, SuperviseError::NoRuntime { .. }), "{error}");
}

#[tokio::test]
async fn child_leads_its_own_process_group() {
    // One process in the group (`exec`), so the group is gone once it is reaped; a shell loop's
    // `sleep` would linger as a zombie of another parent and keep the group alive.
    let mut child = sh("exec sleep 1000");
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.pid())).expect("read stat");
    // Field 2 (comm) is parenthesised and may hold spaces; fields 3, 4, 5 follow it.
    let after_comm = &stat[stat.rfind(')').expect("comm") + 1..];
    let pgrp: u32 = after_comm.split_whitespace().nth(2).expect("pgrp").parse().expect("number");
    assert_eq!(pgrp, child.pid());
    assert_ne!(rustix::process::getpgrp().as_raw_pid().unsigned_abs(), child.pid());
    child.signal(Signal::KILL).expect("kill");
    assert_eq!(wait(&mut child).await, ExitOutcome::Signaled(9));
    let error = child.signal(Signal::TERM).expect_err("the group is gone");
    assert!(error.is_no_such_process(), "{error}");
    assert!(error.to_string().contains(&format!("SIGTERM to process group {}", child.pid())), "{error}");
}

#[tokio::test]
async fn wait_is_cancel_safe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child =
        sh_in(dir.path(), r#"trap 'exit 3' USR1; echo > "$1/ready"; while :; do sleep 0.1; done 2>/dev/null"#);
    eventually("the ready file", || dir.path().join("ready").exists()).await;
    for _ in 0..3 {
        tokio::select! {
            outcome = child.wait() => panic!("the child ended early: {outcome:?}"),
            () = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
    }
    child.signal(Signal::USR1).expect("signal");
    assert_eq!(wait(&mut child).await, ExitOutcome::Exited(3));
}

#[tokio::test]
async fn waiting_leaves_other_children_alone() {
    // An unrelated child (as `tokio::process` would spawn elsewhere) that is a zombie while we
    // wait for ours: its status must still be there for its own `wait` afterwards.
    let mut unrelated = std::process::Command::new("/bin/sh").args(["-c", "exit 3"]).spawn().expect("spawn");
    let unrelated_pid = Pid::from_child(&unrelated);
    // Block until it has exited, without reaping it.
    rustix::process::waitid(WaitId::Pid(unrelated_pid), WaitIdOptions::EXITED | WaitIdOptions::NOWAIT).expect("waitid");
    let mut ours = sh("exit 0");
    assert_eq!(wait(&mut ours).await, ExitOutcome::Exited(0));
    assert_eq!(unrelated.wait().expect("the unrelated status was stolen").code(), Some(3));
}

#[test]
fn stopper_decisions() {
    use StopAction::{Forward, Kill};
    let cases: [(&[Signal], &[StopAction], bool); 7] = [
        (&[Signal::TERM], &[Forward(Signal::TERM)], true),
        (&[Signal::TERM, Signal::TERM], &[Forward(Signal::TERM), Kill], false),
        (&[Signal::INT, Signal::INT], &[Forward(Signal::INT), Kill], false),
        (&[Signal::INT, Signal::TERM], &[Forward(Signal::INT), Kill], false),
        (&[Signal::QUIT, Signal::QUIT], &[Forward(Signal::QUIT), Forward(Signal::QUIT)], true),
        (&[Signal::TERM, Signal::QUIT], &[Forward(Signal::TERM), Forward(Signal::QUIT)], true),
        (&[Signal::QUIT, Signal::INT, Signal::QUIT], &[Forward(Signal::QUIT), Kill, Kill], false),
    ];
    for (signals, expected, has_deadline) in cases {
        let mut stopper = Stopper::new(Duration::from_secs(30));
        assert!(!stopper.is_stopping() && stopper.deadline().is_none());
        let before = Instant::now();
        let actions: Vec<StopAction> = signals.iter().map(|signal| stopper.decide(*signal)).collect();
        assert_eq!(actions, expected, "{signals:?}");
        assert!(stopper.is_stopping());
        assert_eq!(stopper.deadline().is_some(), has_deadline, "{signals:?}");
        if let Some(deadline) = stopper.deadline() {
            assert!(
                deadline >= before + Duration::from_secs(30) && deadline <= Instant::now() + Duration::from_secs(30)
            );
        }
    }
}

#[tokio::test]
async fn stopper_forwards_the_first_term() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child =
        sh_in(dir.path(), r#"trap 'exit 42' TERM; echo > "$1/ready"; while :; do sleep 0.1; done 2>/dev/null"#);
    eventually("the ready file", || dir.path().join("ready").exists()).await;
    let mut stopper = Stopper::new(DEFAULT_STOP_TIMEOUT);
    assert_eq!(stopper.on_signal(Signal::TERM, &child), StopAction::Forward(Signal::TERM));
    let outcome = wait(&mut child).await;
    assert_eq!((outcome, outcome.exit_code()), (ExitOutcome::Exited(42), 42));
}

#[tokio::test]
async fn second_int_kills_a_child_that_ignores_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child =
        sh_in(dir.path(), r#"trap '' INT TERM; echo > "$1/ready"; while :; do sleep 0.1; done 2>/dev/null"#);
    eventually("the ready file", || dir.path().join("ready").exists()).await;
    let (sender, mut receiver) = mpsc::unbounded_channel();
    sender.send(Signal::INT).expect("send");
    sender.send(Signal::INT).expect("send");
    let outcome = tokio::time::timeout(PATIENCE, drive(&mut child, &mut receiver, DEFAULT_STOP_TIMEOUT))
        .await
        .expect("the child was not killed");
    assert_eq!((outcome, outcome.exit_code()), (ExitOutcome::Signaled(9), 137));
}

#[tokio::test]
async fn stop_timeout_kills_a_child_that_ignores_term() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = sh_in(dir.path(), r#"trap '' TERM; echo > "$1/ready"; while :; do sleep 0.1; done 2>/dev/null"#);
    eventually("the ready file", || dir.path().join("ready").exists()).await;
    let (sender, mut receiver) = mpsc::unbounded_channel();
    sender.send(Signal::TERM).expect("send");
    let started = Instant::now();
    let stop_timeout = Duration::from_millis(200);
    let outcome = tokio::time::timeout(PATIENCE, drive(&mut child, &mut receiver, stop_timeout))
        .await
        .expect("the child was not killed");
    assert_eq!((outcome, outcome.exit_code()), (ExitOutcome::Signaled(9), 137));
    assert!(started.elapsed() >= stop_timeout, "killed before the stop timeout");
}

#[tokio::test]
async fn stop_signals_receives_term_and_int() {
    // Safe to send to ourselves: once the listeners exist, these signals no longer terminate us.
    let mut signals = StopSignals::new().expect("listen");
    for signal in [Signal::TERM, Signal::INT] {
        rustix::process::kill_process(rustix::process::getpid(), signal).expect("raise");
        let received = tokio::time::timeout(PATIENCE, signals.next()).await.expect("no signal received");
        assert_eq!(received, signal);
    }
}

#[tokio::test]
async fn run_to_exit_returns_when_the_child_exits_on_its_own() {
    let mut signals = StopSignals::new().expect("listen");
    let mut child = sh("exit 5");
    let outcome = tokio::time::timeout(PATIENCE, run_to_exit(&mut child, &mut signals, DEFAULT_STOP_TIMEOUT))
        .await
        .expect("run_to_exit did not return");
    assert_eq!(outcome, ExitOutcome::Exited(5));
}

/// The command that runs this test binary as PID 1 of a new pid namespace, if this host allows
/// one (as root, or through a user namespace).
fn unshare_command() -> Option<std::process::Command> {
    let variants: [&[&str]; 2] = [
        &["--pid", "--fork", "--kill-child", "--mount-proc"],
        &["--user", "--map-root-user", "--pid", "--fork", "--kill-child", "--mount-proc"],
    ];
    variants.into_iter().find_map(|flags| {
        let works = std::process::Command::new("unshare")
            .args(flags)
            .arg("true")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        works.then(|| {
            let mut command = std::process::Command::new("unshare");
            command.args(flags);
            command
        })
    })
}

#[test]
fn pid1_reaps_orphans() {
    let Some(mut command) = unshare_command() else {
        eprintln!("skipped: `unshare --pid --fork --mount-proc` is not permitted here");
        return;
    };
    let output = command
        .arg(std::env::current_exe().expect("test binary"))
        .args(["supervise::tests::pid1_inner_reaps_orphans", "--exact", "--ignored", "--test-threads=1"])
        .output()
        .expect("run unshare");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Run by [`pid1_reaps_orphans`] as PID 1 in a fresh pid namespace. The child leaves an orphan
/// that exits at once and is re-parented to us; the child only exits (5) once that orphan has
/// been reaped, which only PID-1 reaping does.
#[tokio::test]
#[ignore = "runs as PID 1 of a pid namespace; started by pid1_reaps_orphans"]
async fn pid1_inner_reaps_orphans() {
    assert!(rustix::process::getpid().is_init(), "run this through pid1_reaps_orphans");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = sh_in(
        dir.path(),
        r#"(true & echo $! > "$1/orphan"); p=$(cat "$1/orphan"); while [ -e "/proc/$p" ]; do sleep 0.01; done; exit 5"#,
    );
    assert_eq!(wait(&mut child).await, ExitOutcome::Exited(5));
}

// ---------------------------------------------------------------------------------------------
// reload

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().expect("client")
}

/// A one-thread HTTP/1.1 server on 127.0.0.1: `respond` gets each request line and returns a
/// status and body; every request line is recorded.
struct TestServer {
    base: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl TestServer {
    fn start(respond: impl Fn(&str) -> (u16, String) + Send + 'static) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let request_line = request_line.trim_end().to_owned();
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|read| read > 0) && header.trim_end() != "" {
                    header.clear();
                }
                recorded.lock().expect("lock").push(request_line.clone());
                let (status, body) = respond(&request_line);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        TestServer { base, requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }
}

#[tokio::test]
async fn reload_child_sends_hup_to_the_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = sh_in(
        dir.path(),
        r#"trap 'echo hup >> "$1/hups"' HUP; echo > "$1/ready"; while :; do sleep 0.1; done 2>/dev/null"#,
    );
    eventually("the ready file", || dir.path().join("ready").exists()).await;
    let http = http();
    for count in 1..=2 {
        reload(&ReloadTarget::Child, Some(&child), &http).await.expect("reload");
        eventually("the SIGHUP", || lines(&dir.path().join("hups")) == count).await;
    }
    child.signal(Signal::KILL).expect("kill");
    wait(&mut child).await;
    let error = reload(&ReloadTarget::Child, None, &http).await.expect_err("no child");
    assert!(matches!(error, SuperviseError::NoChild));
}

#[tokio::test]
async fn reload_pidfile_is_read_again_each_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = r#"trap 'echo hup >> "$1/hups"' HUP; echo > "$1/ready"; while :; do sleep 0.1; done 2>/dev/null"#;
    let (first_dir, second_dir) = (dir.path().join("first"), dir.path().join("second"));
    for sub in [&first_dir, &second_dir] {
        std::fs::DirBuilder::new().create(sub).expect("mkdir");
    }
    let mut first = sh_in(&first_dir, script);
    let mut second = sh_in(&second_dir, script);
    eventually("both ready files", || first_dir.join("ready").exists() && second_dir.join("ready").exists()).await;
    let pid_file = dir.path().join("target.pid");
    let target = ReloadTarget::PidFile(pid_file.clone());
    let http = http();

    // `sh -c` runs the script in the spawned process itself, so its pid is the trap's.
    write_file(&pid_file, &format!("{}\n", first.pid()));
    reload(&target, None, &http).await.expect("first reload");
    eventually("the first SIGHUP", || lines(&first_dir.join("hups")) == 1).await;

    write_file(&pid_file, &second.pid().to_string());
    reload(&target, None, &http).await.expect("second reload");
    eventually("the second SIGHUP", || lines(&second_dir.join("hups")) == 1).await;
    assert_eq!(lines(&first_dir.join("hups")), 1, "the first process got the second reload too");

    for child in [&mut first, &mut second] {
        child.signal(Signal::KILL).expect("kill");
        wait(child).await;
    }
}

#[tokio::test]
async fn reload_errors_name_the_pid_or_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let garbage = dir.path().join("garbage.pid");
    write_file(&garbage, "not a pid\n");
    let zero = dir.path().join("zero.pid");
    write_file(&zero, "0");
    let missing = dir.path().join("missing.pid");
    let http = http();
    let cases = [
        (ReloadTarget::Pid(0), "invalid process id 0".to_owned()),
        (ReloadTarget::Pid(u32::MAX), format!("invalid process id {}", u32::MAX)),
        (
            ReloadTarget::PidFile(garbage.clone()),
            format!("pid file `{}` does not hold a process id", garbage.display()),
        ),
        (ReloadTarget::PidFile(zero.clone()), format!("pid file `{}` does not hold a process id", zero.display())),
        (ReloadTarget::PidFile(missing.clone()), format!("failed to read pid file `{}`: ", missing.display())),
    ];
    for (target, expected) in cases {
        let error = reload(&target, None, &http).await.expect_err("must fail");
        assert!(error.to_string().starts_with(&expected), "{target}: {error}");
    }
}

#[tokio::test]
async fn reload_url_posts() {
    let server = TestServer::start(|_| (200, String::new()));
    let http = http();
    reload(&ReloadTarget::Url(format!("{}/-/reload", server.base)), None, &http).await.expect("reload");
    assert_eq!(server.requests(), ["POST /-/reload HTTP/1.1"]);

    let failing = TestServer::start(|_| (500, "failed to reload config: secret-ish details".to_owned()));
    let url = format!("{}/-/reload", failing.base);
    let error = reload(&ReloadTarget::Url(url.clone()), None, &http).await.expect_err("500");
    let message = error.to_string();
    assert!(message.starts_with(&format!("POST `{url}` returned 500")), "{message}");
    assert!(!message.contains("secret-ish"), "{message}");
}

fn metrics(successful: u8, timestamp: u32) -> String {
    format!(
        "# HELP prometheus_config_last_reload_successful Whether the last configuration reload attempt was successful.\n\
         # TYPE prometheus_config_last_reload_successful gauge\n\
         prometheus_config_last_reload_successful {successful}\n\
         # TYPE prometheus_config_last_reload_success_timestamp_seconds gauge\n\
         prometheus_config_last_reload_success_timestamp_seconds {timestamp}\n"
    )
}

const METRIC: &str = "prometheus_config_last_reload_successful";

#[tokio::test]
async fn verify_waits_for_the_timestamp_to_move() {
    // Like Prometheus after SIGHUP: the reload lands a little after the request, so the first
    // scrapes after the POST still show the old timestamp.
    let scrapes_since_reload = Arc::new(Mutex::new(None::<u32>));
    let state = Arc::clone(&scrapes_since_reload);
    let server = TestServer::start(move |request| {
        let mut scrapes = state.lock().expect("lock");
        if request.starts_with("POST ") {
            *scrapes = Some(0);
            return (200, String::new());
        }
        let reloaded = scrapes.is_some_and(|count| count >= 2);
        if let Some(count) = scrapes.as_mut() {
            *count += 1;
        }
        (200, metrics(1, if reloaded { 1_700_000_200 } else { 1_700_000_100 }))
    });
    let http = http();
    let metrics_url = format!("{}/metrics", server.base);
    let baseline = reload_baseline(&metrics_url, METRIC, &http).await.expect("baseline");
    assert_eq!(baseline, ReloadBaseline { successful: Some(1.0), success_timestamp: Some(1_700_000_100.0) });
    reload(&ReloadTarget::Url(format!("{}/-/reload", server.base)), None, &http).await.expect("reload");
    let confirmed = verify(&metrics_url, METRIC, baseline, &http, PATIENCE).await.expect("verify");
    assert_eq!(confirmed, 1_700_000_200.0);
    assert!(server.requests().iter().filter(|line| line.starts_with("GET /metrics")).count() >= 4);
}

/// A baseline of the last reload failed, with this success timestamp.
fn after_a_failed_reload(timestamp: f64) -> ReloadBaseline {
    ReloadBaseline { successful: Some(0.0), success_timestamp: Some(timestamp) }
}

#[tokio::test]
async fn verify_fails_when_the_target_reports_a_failed_reload() {
    let server = TestServer::start(|_| (200, metrics(0, 1_700_000_100)));
    let metrics_url = format!("{}/metrics", server.base);
    let error =
        verify(&metrics_url, METRIC, after_a_failed_reload(1_700_000_100.0), &http(), Duration::from_millis(300))
            .await
            .expect_err("stuck at 0");
    assert!(matches!(error, SuperviseError::ReloadFailed { .. }), "{error}");
    assert_eq!(error.to_string(), format!("`{metrics_url}` reports that the reload failed ({METRIC} is 0)"));
}

/// The success flag going from 1 before the reload to 0 after it is the target refusing the
/// config: that fails at once, not at the deadline.
#[tokio::test]
async fn verify_fails_at_once_when_the_success_flag_drops_to_0() {
    let server = TestServer::start(|_| (200, metrics(0, 1_700_000_100)));
    let metrics_url = format!("{}/metrics", server.base);
    let baseline = ReloadBaseline { successful: Some(1.0), success_timestamp: Some(1_700_000_100.0) };
    let started = std::time::Instant::now();
    let error = verify(&metrics_url, METRIC, baseline, &http(), Duration::from_secs(30)).await.expect_err("refused");
    assert!(matches!(error, SuperviseError::ReloadFailed { .. }), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}: waited for the deadline", started.elapsed());
}

#[tokio::test]
async fn verify_times_out_when_nothing_changes() {
    let unchanged = TestServer::start(|_| (200, metrics(1, 1_700_000_100)));
    let missing = TestServer::start(|_| (200, "up 1\n".to_owned()));
    let not_found = TestServer::start(|_| (404, String::new()));
    let cases = [
        (format!("{}/metrics", unchanged.base), "is still 1700000100"),
        (format!("{}/metrics", missing.base), "it exposes no prometheus_config_last_reload_successful"),
        (format!("{}/metrics", not_found.base), "returned 404"),
    ];
    for (url, reason) in cases {
        let baseline = ReloadBaseline { successful: Some(1.0), success_timestamp: Some(1_700_000_100.0) };
        let error =
            verify(&url, METRIC, baseline, &http(), Duration::from_millis(200)).await.expect_err("must time out");
        let message = error.to_string();
        assert!(matches!(error, SuperviseError::NotConfirmed { .. }), "{message}");
        assert!(message.starts_with(&format!("`{url}` did not confirm the reload within 200ms: ")), "{message}");
        assert!(message.contains(reason), "{message}");
    }
}

#[test]
fn stop_actions_read_as_what_was_done() {
    assert_eq!(StopAction::Forward(Signal::TERM).to_string(), "forwarded SIGTERM to the target");
    assert_eq!(StopAction::Kill.to_string(), "sent SIGKILL to the target");
}
