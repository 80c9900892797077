//! Reloading the target (SIGHUP to the child, a pid or a pid file's pid, or an HTTP POST) and
//! verifying through its `/metrics` that the reload succeeded (contract section 6).
//!
//! Prometheus and Alertmanager expose `<stem>_successful` (1 or 0) and
//! `<stem>_success_timestamp_seconds`; a reload is confirmed when the first is 1 and the second
//! moved past the value read before reloading. After a SIGHUP the target reloads asynchronously,
//! so verification polls with a short exponential backoff until its deadline.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::process::Signal;
use tokio::time::Instant;

use super::{ChildProcess, SuperviseError, signal_process};

/// First pause between two `/metrics` reads while verifying; it doubles up to [`MAX_BACKOFF`].
const INITIAL_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// No single `/metrics` read gets less time than this, even at the very end of the deadline.
const MIN_REQUEST_TIMEOUT: Duration = Duration::from_millis(250);
/// Time allowed to read the baseline before reloading.
const BASELINE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a reload goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReloadTarget {
    /// SIGHUP to the child's process group (`run`).
    Child,
    /// SIGHUP to this process (`--reload-pid`).
    Pid(u32),
    /// SIGHUP to the pid in this file, re-read on every reload (`--reload-pidfile`).
    PidFile(PathBuf),
    /// An HTTP POST to this URL (`--reload-url`, e.g. Prometheus's `/-/reload`).
    Url(String),
}

impl fmt::Display for ReloadTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Child => f.write_str("the child process group"),
            Self::Pid(pid) => write!(f, "process {pid}"),
            Self::PidFile(path) => write!(f, "the process in pid file `{}`", path.display()),
            Self::Url(url) => write!(f, "`{}`", display_url(url)),
        }
    }
}

/// Sends one reload to `target`. `child` is needed for [`ReloadTarget::Child`] only.
///
/// # Errors
/// When the signal cannot be sent, the pid file is unreadable or holds no pid, or the POST fails
/// or returns a non-success status.
pub async fn reload(
    target: &ReloadTarget,
    child: Option<&ChildProcess>,
    http: &reqwest::Client,
) -> Result<(), SuperviseError> {
    match target {
        ReloadTarget::Child => child.ok_or(SuperviseError::NoChild)?.signal(Signal::HUP),
        ReloadTarget::Pid(pid) => signal_process(*pid, Signal::HUP),
        ReloadTarget::PidFile(path) => signal_process(read_pid_file(path)?, Signal::HUP),
        ReloadTarget::Url(url) => {
            let shown = display_url(url);
            let response = http.post(url.as_str()).send().await.map_err(|source| SuperviseError::Request {
                method: "POST",
                url: shown.clone(),
                source: source.without_url(),
            })?;
            // The body is not read: a failed reload's message may quote the config.
            let status = response.status();
            if status.is_success() {
                Ok(())
            } else {
                Err(SuperviseError::Status { method: "POST", url: shown, status })
            }
        }
    }
}

/// The process id in `path`: a regular file (read without blocking: a FIFO put there would
/// hold the loop, and not through a symlink), which only its owner may write, in a directory
/// only its owner may change, since it names the process to signal. A file or directory owned
/// by another user than root or this process's may name only a process of that user:
/// otherwise the target's user (`prometheus`) could have a sidecar running as root signal any
/// process, and SIGHUP ends one that does not handle it.
pub(super) fn read_pid_file(path: &Path) -> Result<u32, SuperviseError> {
    use rustix::fs::{Mode, OFlags};
    use std::io::Read as _;
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let failed = |source: std::io::Error| SuperviseError::ReadPidFile { path: path.to_path_buf(), source };
    let refused = |reason: String| failed(std::io::Error::new(std::io::ErrorKind::PermissionDenied, reason));
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    let file = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => std::fs::File::from(fd),
        Err(rustix::io::Errno::LOOP) => {
            return Err(refused(
                "it is a symlink, which whoever may write its directory can point at any process's pid file: name \
                 the file itself"
                    .into(),
            ));
        }
        Err(errno) => return Err(failed(errno.into())),
    };
    // Checked on the file opened, not by path before opening it.
    let metadata = file.metadata().map_err(failed)?;
    if !metadata.is_file() {
        return Err(failed(crate::provider::file::not_regular(&metadata.file_type())));
    }
    let mode = metadata.permissions().mode();
    if mode & 0o002 != 0 {
        return Err(refused("anyone may write it, and so choose which process gets the signal (chmod o-w)".into()));
    }
    if mode & 0o020 != 0 {
        return Err(refused("its group may write it, and so choose which process gets the signal (chmod g-w)".into()));
    }
    let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let dir_metadata = std::fs::metadata(dir).map_err(failed)?;
    let dir_mode = dir_metadata.permissions().mode();
    // A sticky directory (`/tmp`) lets no one else replace a file they do not own.
    if dir_mode & 0o022 != 0 && dir_mode & 0o1000 == 0 {
        return Err(refused(format!(
            "its directory {} may be written by its group or anyone, who could put another pid file in its place",
            dir.display()
        )));
    }
    let mut bytes = Vec::new();
    file.take(64).read_to_end(&mut bytes).map_err(failed)?;
    let pid = std::str::from_utf8(&bytes)
        .unwrap_or_default()
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|pid| *pid > 0)
        .ok_or_else(|| SuperviseError::BadPidFile { path: path.to_path_buf() })?;
    let ours = rustix::process::geteuid().as_raw();
    let mut controllers: Vec<u32> =
        [metadata.uid(), dir_metadata.uid()].into_iter().filter(|uid| *uid != 0 && *uid != ours).collect();
    controllers.dedup();
    match controllers.as_slice() {
        [] => {}
        [owner] => match process_users(pid) {
            Some(users) if !users.contains(owner) => {
                return Err(refused(format!(
                    "uid {owner} may choose what it holds, and it names process {pid}, which runs as uid {}: a pid \
                     file not kept by root or by secret-render's user may name only its keeper's processes",
                    users[1]
                )));
            }
            // Gone (the signal says so) or theirs to signal.
            _ => {}
        },
        [file_owner, dir_owner, ..] => {
            return Err(refused(format!(
                "it is owned by uid {file_owner} in a directory owned by uid {dir_owner}: either could choose which \
                 process gets the signal"
            )));
        }
    }
    Ok(pid)
}

/// The real and effective user ids of process `pid` (from `/proc/PID/status`); `None` when it
/// is gone or cannot be read.
fn process_users(pid: u32) -> Option<[u32; 2]> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|line| line.strip_prefix("Uid:"))?;
    let mut ids = line.split_whitespace().map(|id| id.parse::<u32>().ok());
    Some([ids.next()??, ids.next()??])
}

/// The target's reload state before a reload, for [`verify`] to compare with after it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReloadBaseline {
    /// `metric` (`<stem>_successful`): 1 when the last reload succeeded.
    pub successful: Option<f64>,
    /// `<stem>_success_timestamp_seconds`.
    pub success_timestamp: Option<f64>,
}

/// The target's [`ReloadBaseline`] for `metric` (`<stem>_successful`), read before reloading.
///
/// # Errors
/// When `/metrics` cannot be read.
pub async fn reload_baseline(
    metrics_url: &str,
    metric: &str,
    http: &reqwest::Client,
) -> Result<ReloadBaseline, SuperviseError> {
    let text = scrape(metrics_url, http, BASELINE_TIMEOUT).await?;
    Ok(ReloadBaseline {
        successful: sample(&text, metric),
        success_timestamp: sample(&text, &success_timestamp_metric(metric)),
    })
}

/// Polls `metrics_url` until `metric` is 1 and its success timestamp moved past the
/// `baseline`'s, and returns the new timestamp. A `metric` that went from 1 (in `baseline`) to 0
/// fails at once: the target tried the reload and refused the config. One that was already 0
/// tells nothing until the deadline (the target may not have reloaded yet).
///
/// # Errors
/// [`SuperviseError::ReloadFailed`] when `metric` went from 1 to 0, or is still 0 at the
/// deadline; [`SuperviseError::NotConfirmed`] when the timestamp did not move, a metric is
/// missing or `/metrics` could not be read by then.
pub async fn verify(
    metrics_url: &str,
    metric: &str,
    baseline: ReloadBaseline,
    http: &reqwest::Client,
    deadline: Duration,
) -> Result<f64, SuperviseError> {
    let timestamp_metric = success_timestamp_metric(metric);
    let until = Instant::now() + deadline;
    let mut backoff = INITIAL_BACKOFF;
    let mut reason;
    loop {
        let remaining = until.saturating_duration_since(Instant::now());
        match scrape(metrics_url, http, remaining.max(MIN_REQUEST_TIMEOUT)).await {
            Ok(text) => match (sample(&text, metric), sample(&text, &timestamp_metric)) {
                (Some(1.0), Some(timestamp))
                    if timestamp > 0.0 && baseline.success_timestamp.is_none_or(|previous| timestamp > previous) =>
                {
                    return Ok(timestamp);
                }
                (Some(0.0), _) => {
                    reason = Reason::Failed;
                    if baseline.successful == Some(1.0) {
                        break;
                    }
                }
                (None, _) => reason = Reason::Other(format!("it exposes no {metric}")),
                (_, None) => reason = Reason::Other(format!("it exposes no {timestamp_metric}")),
                (Some(value), Some(timestamp)) => {
                    reason = Reason::Other(format!("{metric} is {value} and {timestamp_metric} is still {timestamp}"));
                }
            },
            Err(error) => reason = Reason::Other(error.to_string()),
        }
        let remaining = until.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        tokio::time::sleep(backoff.min(remaining)).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    let url = display_url(metrics_url);
    Err(match reason {
        Reason::Failed => SuperviseError::ReloadFailed { url, metric: metric.to_owned() },
        Reason::Other(reason) => SuperviseError::NotConfirmed { url, deadline, reason },
    })
}

/// Why verification has not succeeded yet.
enum Reason {
    Failed,
    Other(String),
}

/// `prometheus_config_last_reload_successful` → `prometheus_config_last_reload_success_timestamp_seconds`.
fn success_timestamp_metric(metric: &str) -> String {
    format!("{}_success_timestamp_seconds", metric.strip_suffix("_successful").unwrap_or(metric))
}

async fn scrape(url: &str, http: &reqwest::Client, timeout: Duration) -> Result<String, SuperviseError> {
    let shown = || display_url(url);
    let request_error =
        |source: reqwest::Error| SuperviseError::Request { method: "GET", url: shown(), source: source.without_url() };
    let response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "text/plain;version=0.0.4")
        .timeout(timeout)
        .send()
        .await
        .map_err(request_error)?;
    let status = response.status();
    if !status.is_success() {
        return Err(SuperviseError::Status { method: "GET", url: shown(), status });
    }
    response.text().await.map_err(request_error)
}

/// The value of the first sample named `name` in a Prometheus text exposition, labels or not.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let line = line.trim_start();
        if line.starts_with('#') {
            return None;
        }
        let rest = line.strip_prefix(name)?;
        let rest = match rest.chars().next()? {
            '{' => skip_labels(rest)?,
            c if c.is_whitespace() => rest,
            // A longer name that merely starts with `name`.
            _ => return None,
        };
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// The text after a `{…}` label set, honouring quoted label values that contain `}`.
fn skip_labels(text: &str) -> Option<&str> {
    let mut quoted = false;
    let mut escaped = false;
    for (index, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '}' if !quoted => return Some(&text[index + 1..]),
            _ => {}
        }
    }
    None
}

/// A URL fit for messages: credentials, query and fragment removed (they may hold tokens).
pub(crate) fn display_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            // Both fail only for URLs that cannot have credentials, which is fine.
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.set_fragment(None);
            parsed.to_string()
        }
        Err(_) => "(an invalid URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[expect(clippy::disallowed_methods, reason = "test fixtures, not secret-render outputs")]
    fn a_pid_file_is_a_regular_file_not_everyone_may_write() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("prometheus.pid");
        std::fs::write(&pid_file, "4242\n").unwrap();
        std::fs::set_permissions(&pid_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(read_pid_file(&pid_file).unwrap(), 4242);
        std::fs::set_permissions(&pid_file, std::fs::Permissions::from_mode(0o666)).unwrap();
        let error = read_pid_file(&pid_file).unwrap_err().to_string();
        assert!(error.contains("anyone may write it"), "{error}");
        let fifo = dir.path().join("fifo.pid");
        rustix::fs::mknodat(rustix::fs::CWD, &fifo, rustix::fs::FileType::Fifo, rustix::fs::Mode::from(0o600), 0)
            .unwrap();
        let error = read_pid_file(&fifo).unwrap_err().to_string();
        assert!(error.contains("not a regular file"), "{error}");
    }

    /// A pid file kept by an unprivileged user (it owns the file, or the directory it is in)
    /// names only that user's processes: `nobody`'s file naming a root process is refused,
    /// naming `nobody`'s own accepted; so is a root-owned file in `nobody`'s directory, which
    /// `nobody` could replace. A symlink, a group-writable file and a directory others may
    /// write are refused. Needs root, to give files and a process to another user (CI runs as
    /// root).
    #[test]
    #[expect(clippy::disallowed_methods, reason = "test fixtures, not secret-render outputs")]
    fn a_pid_file_kept_by_another_user_names_only_that_users_processes() {
        use std::os::unix::fs::PermissionsExt as _;
        use std::os::unix::process::CommandExt as _;
        const NOBODY: u32 = 65534;
        assert!(
            rustix::process::geteuid().is_root(),
            "this test needs root: it gives a file and a process to uid 65534"
        );
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("prometheus.pid");
        let mut nobodys = std::process::Command::new("sleep").arg("60").uid(NOBODY).gid(NOBODY).spawn().unwrap();
        let mut roots = std::process::Command::new("sleep").arg("60").spawn().unwrap();
        std::fs::write(&pid_file, format!("{}\n", roots.id())).unwrap();
        assert_eq!(read_pid_file(&pid_file).unwrap(), roots.id(), "root's own file names any process");
        let refused = |path: &Path| read_pid_file(path).unwrap_err().to_string();

        std::os::unix::fs::chown(&pid_file, Some(NOBODY), Some(NOBODY)).unwrap();
        let error = refused(&pid_file);
        assert!(error.contains(&format!("uid 65534 may choose what it holds, and it names process {}", roots.id())));
        assert!(error.contains("which runs as uid 0"), "{error}");
        std::fs::write(&pid_file, nobodys.id().to_string()).unwrap();
        assert_eq!(read_pid_file(&pid_file).unwrap(), nobodys.id());

        // Root's file in nobody's directory: nobody could put another file in its place.
        std::os::unix::fs::chown(&pid_file, Some(0), Some(0)).unwrap();
        std::fs::write(&pid_file, roots.id().to_string()).unwrap();
        std::os::unix::fs::chown(dir.path(), Some(NOBODY), Some(NOBODY)).unwrap();
        assert!(refused(&pid_file).contains("uid 65534 may choose what it holds"));
        std::os::unix::fs::chown(dir.path(), Some(0), Some(0)).unwrap();

        let link = dir.path().join("link.pid");
        std::os::unix::fs::symlink(&pid_file, &link).unwrap();
        assert!(refused(&link).contains("it is a symlink"));
        std::fs::set_permissions(&pid_file, std::fs::Permissions::from_mode(0o664)).unwrap();
        assert!(refused(&pid_file).contains("its group may write it"));
        std::fs::set_permissions(&pid_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(refused(&pid_file).contains("may be written by its group or anyone"));
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert_eq!(read_pid_file(&pid_file).unwrap(), roots.id(), "a sticky directory (/tmp) is fine");
        for child in [&mut nobodys, &mut roots] {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    #[test]
    fn sample_reads_plain_labelled_and_skips_comments() {
        let text = "# HELP prometheus_config_last_reload_successful Whether it worked.\n\
                    # TYPE prometheus_config_last_reload_successful gauge\n\
                    prometheus_config_last_reload_successful_extra 7\n\
                    prometheus_config_last_reload_successful 1\n\
                    prometheus_config_last_reload_success_timestamp_seconds 1.7e+09\n\
                    labelled{a=\"x}y\",b=\"q\\\"}\"} 3 1700000000000\n\
                    not_a_number NaN\n";
        let cases: [(&str, Option<f64>); 5] = [
            ("prometheus_config_last_reload_successful", Some(1.0)),
            ("prometheus_config_last_reload_success_timestamp_seconds", Some(1.7e9)),
            ("labelled", Some(3.0)),
            ("absent", None),
            ("prometheus_config_last_reload", None),
        ];
        for (name, expected) in cases {
            assert_eq!(sample(text, name), expected, "{name}");
        }
        assert!(sample(text, "not_a_number").is_some_and(f64::is_nan));
    }

    #[test]
    fn success_timestamp_metric_names() {
        for (metric, expected) in [
            ("prometheus_config_last_reload_successful", "prometheus_config_last_reload_success_timestamp_seconds"),
            ("alertmanager_config_last_reload_successful", "alertmanager_config_last_reload_success_timestamp_seconds"),
        ] {
            assert_eq!(success_timestamp_metric(metric), expected);
        }
    }

    #[test]
    fn display_url_drops_credentials_and_query() {
        for (url, expected) in [
            ("http://user:hunter2@localhost:9090/-/reload?token=abc#x", "http://localhost:9090/-/reload"),
            ("http://localhost:9090/metrics", "http://localhost:9090/metrics"),
            ("not a url", "(an invalid URL)"),
        ] {
            assert_eq!(display_url(url), expected);
        }
    }
}
