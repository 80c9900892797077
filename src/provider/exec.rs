//! The `exec` provider: runs an operator's plugin that speaks versioned JSON on stdin/stdout and
//! answers many secrets in one call.
//!
//! Protocol version 1. The plugin gets, on stdin, `{"version":1,"secrets":["id",…]}` — every id
//! that one cycle needs from that command — and answers on stdout with
//! `{"version":1,"secrets":{"id":{"value":"…"},"other":{"error":"why"}}}`. Values never pass
//! through argv or the environment. The plugin runs in a process group of its own, which is
//! killed whole when `timeout` (default 10 s) runs out or the fetch is dropped, so nothing it
//! started outlives it; a non-zero exit fails every id of the call. Its stderr is not shown (a
//! plugin may echo what it read), only its length.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zeroize::Zeroizing;

use super::{Body, FetchBound, Fetched, Location, ParseContext, Provider, ProviderError, ProviderKind, Timed};
use crate::secret::Secret;
use crate::tree::NodeKind;

pub const KEYS: &[&str] = &["command", "id", "key", "timeout"];
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Plugins answer with secrets, not bulk data.
const MAX_OUTPUT: usize = 16 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExecLocation {
    /// The program and its arguments (a relative program path resolves against the config's
    /// directory when it contains a `/`, else through PATH).
    pub command: Vec<String>,
    /// The id the plugin is asked for.
    pub id: String,
    pub timeout: Duration,
}

pub(super) fn parse(body: &mut Body<'_>, context: &ParseContext<'_>) -> Option<(Location, Option<String>)> {
    let command = match body.node("command") {
        Some(node) => match &node.kind {
            NodeKind::Sequence(items) if !items.is_empty() => {
                let words: Option<Vec<String>> = items.iter().map(|item| item.as_scalar().map(str::to_owned)).collect();
                if words.is_none() {
                    body.problem(node.mark, "`command` must be a list of strings".into());
                }
                words
            }
            _ => {
                body.problem(
                    node.mark,
                    "`command` must be a non-empty list, e.g. [/usr/local/bin/plugin, --flag]".into(),
                );
                None
            }
        },
        None => {
            body.problem(body.mark(), "`exec` body is missing the required key `command`".into());
            None
        }
    };
    let id = body.required("id");
    // Accepted by the parser so that the refusal can say why: a plugin's answer is one value.
    if body.string("key").is_some() {
        body.problem(
            body.mark(),
            "`exec` takes no `key`: the plugin answers one value per `id`, so ask for the field in the id".into(),
        );
    }
    let timeout = body.timeout("timeout").unwrap_or(DEFAULT_TIMEOUT);
    let mut command = command?;
    if command[0].contains('/') && !command[0].starts_with('/') {
        command[0] = context.config_dir.join(&command[0]).to_string_lossy().into_owned();
    }
    Some((Location::Exec(ExecLocation { command, id: id?, timeout }), None))
}

#[derive(Deserialize)]
struct Response {
    version: u32,
    secrets: BTreeMap<String, Answer>,
}

#[derive(Deserialize)]
struct Answer {
    value: Option<String>,
    error: Option<String>,
}

impl Drop for Answer {
    fn drop(&mut self) {
        if let Some(value) = &mut self.value {
            zeroize::Zeroize::zeroize(value);
        }
    }
}

pub struct ExecProvider;

/// Reads what `pipe` holds now, to its end or until it would block, handing each chunk to
/// `take`: after the plugin exited, without waiting on a process it left holding the pipe.
fn drain(pipe: std::io::Result<std::os::fd::OwnedFd>, mut take: impl FnMut(&[u8])) -> std::io::Result<()> {
    use std::io::Read as _;
    let mut pipe = std::fs::File::from(pipe?);
    rustix::io::ioctl_fionbio(&pipe, true)?;
    let mut chunk = Zeroizing::new(vec![0; 64 * 1024]);
    loop {
        match pipe.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(count) => take(&chunk[..count]),
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

impl ExecProvider {
    /// Runs one command for all of its ids.
    async fn call(
        command: &[String],
        ids: &[String],
        timeout: Duration,
    ) -> Result<BTreeMap<String, Answer>, ProviderError> {
        let what = format!("exec plugin {}", command[0]);
        let mut child = tokio::process::Command::new(&command[0])
            .args(&command[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0)
            .spawn()
            .map_err(|error| match error.kind() {
                std::io::ErrorKind::NotFound => ProviderError::NotFound { what: what.clone() },
                _ => ProviderError::Unreachable { what: what.clone(), reason: format!("cannot start it: {error}") },
            })?;
        let mut group = crate::supervise::GroupKiller::led_by(child.id());
        let request = serde_json::json!({ "version": 1, "secrets": ids }).to_string();
        let mut stdin = child.stdin.take().expect("piped");
        let mut stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let too_large =
            || ProviderError::Invalid { what: what.clone(), reason: format!("its output is over {MAX_OUTPUT} bytes") };
        let exchange = async {
            // A plugin that exits without reading its input is not an error by itself.
            let _ = stdin.write_all(request.as_bytes()).await;
            drop(stdin);
            let mut output = Zeroizing::new(Vec::new());
            let mut chunk = Zeroizing::new(vec![0; 64 * 1024]);
            // Not shown, and wiped: a plugin may echo what it read.
            let mut discarded = Zeroizing::new(vec![0; 64 * 1024]);
            let mut stderr_len = 0;
            let (mut stdout_open, mut stderr_open) = (true, true);
            // Both pipes are read while it runs (a plugin blocked writing either would never
            // exit), up to its exit rather than their end: a process it left running may hold
            // them open.
            let status = loop {
                tokio::select! {
                    read = stdout.read(&mut chunk[..]), if stdout_open => match read {
                        Ok(0) => stdout_open = false,
                        Ok(count) => {
                            output.extend_from_slice(&chunk[..count]);
                            if output.len() > MAX_OUTPUT {
                                return Err(too_large());
                            }
                        }
                        Err(error) => {
                            return Err(ProviderError::Invalid {
                                what: what.clone(),
                                reason: format!("cannot read its output: {error}"),
                            });
                        }
                    },
                    read = stderr.read(&mut discarded[..]), if stderr_open => match read {
                        Ok(0) | Err(_) => stderr_open = false,
                        Ok(count) => stderr_len += count,
                    },
                    status = child.wait() => break status.ok(),
                }
            };
            // What it wrote before it exited is in the pipes now: read to their end or, when
            // something else holds them open, to what is there.
            if stdout_open {
                drain(stdout.into_owned_fd(), |bytes| output.extend_from_slice(bytes)).map_err(|error| {
                    ProviderError::Invalid { what: what.clone(), reason: format!("cannot read its output: {error}") }
                })?;
                if output.len() > MAX_OUTPUT {
                    return Err(too_large());
                }
            }
            if stderr_open {
                let _ = drain(stderr.into_owned_fd(), |bytes| stderr_len += bytes.len());
            }
            Ok::<_, ProviderError>((output, stderr_len, status))
        };
        let (output, stderr_len, status) = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| ProviderError::Timeout { what: what.clone(), after: timeout })??;
        // It answered and exited: what it left running on purpose is its own business.
        group.finished();
        // The status can be missing when we reap every child as PID 1; the output still decides.
        if let Some(status) = status.filter(|status| !status.success()) {
            return Err(ProviderError::Unreachable {
                what,
                reason: format!("it exited with {status} ({stderr_len} bytes on stderr, not shown)"),
            });
        }
        let response: Response = serde_json::from_slice(&output).map_err(|error| ProviderError::Invalid {
            what: what.clone(),
            reason: format!("its output is not protocol JSON ({})", super::json_error_position(&error)),
        })?;
        if response.version != 1 {
            return Err(ProviderError::Invalid {
                what,
                reason: format!("it speaks protocol version {}, not 1", response.version),
            });
        }
        Ok(response.secrets)
    }
}

impl Provider for ExecProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Exec
    }

    fn fetch<'a>(&'a self, location: &'a Location) -> BoxFuture<'a, Result<Fetched, ProviderError>> {
        Box::pin(async move {
            let mut results = self.fetch_batch(vec![location.clone()], FetchBound::new(1));
            results.next().await.map_or_else(|| unreachable!("one result per location"), |(_, result, _)| result)
        })
    }

    /// One plugin call per distinct command (and timeout), carrying every id it must answer.
    fn fetch_batch<'a>(&'a self, locations: Vec<Location>, bound: FetchBound) -> BoxStream<'a, Timed> {
        let mut calls: BTreeMap<(Vec<String>, Duration), Vec<Location>> = BTreeMap::new();
        for location in locations {
            let exec: &ExecLocation = location.own();
            calls.entry((exec.command.clone(), exec.timeout)).or_default().push(location);
        }
        let size = bound.size();
        let runs = calls.into_iter().map(move |((command, timeout), locations)| {
            bound.clone().run(async move {
                let started = Instant::now();
                let ids: Vec<String> =
                    locations.iter().map(|location| location.own::<ExecLocation>().id.clone()).collect();
                let answers = Self::call(&command, &ids, timeout).await;
                let elapsed = started.elapsed();
                locations
                    .into_iter()
                    .zip(ids)
                    .map(|(location, id)| {
                        let what = format!("exec plugin {} id {id}", command[0]);
                        let result = match &answers {
                            Err(error) => Err(error.clone()),
                            Ok(answers) => match answers.get(&id) {
                                Some(Answer { value: Some(value), .. }) => {
                                    Ok(Fetched::value(Secret::from_text(value.clone())))
                                }
                                Some(Answer { error: Some(reason), .. }) => {
                                    Err(ProviderError::PluginError { what, reason: reason.clone() })
                                }
                                _ => Err(ProviderError::Invalid {
                                    what,
                                    reason: "the plugin returned no answer for it".into(),
                                }),
                            },
                        };
                        (location, result, elapsed)
                    })
                    .collect::<Vec<Timed>>()
            })
        });
        futures_util::stream::iter(runs).buffer_unordered(size).flat_map(futures_util::stream::iter).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes a plugin script into `dir` and returns the command that runs it: `/bin/sh SCRIPT`.
    /// The script is read by the shell rather than executed itself: a file just written can be
    /// refused with ETXTBSY while a test on another thread forks, its child still holding the
    /// write descriptor until it execs.
    fn plugin(dir: &std::path::Path, body: &str) -> Vec<String> {
        let path = dir.join("plugin");
        #[expect(clippy::disallowed_methods, reason = "a test fixture, not product output")]
        std::fs::write(&path, format!("{body}\n")).unwrap();
        vec!["/bin/sh".to_owned(), path.to_string_lossy().into_owned()]
    }

    fn location(command: &[String], id: &str, timeout: Duration) -> Location {
        Location::Exec(ExecLocation { command: command.to_vec(), id: id.to_owned(), timeout })
    }

    fn outcome(results: &[Timed], id: &str) -> Result<String, String> {
        let (_, result, _) =
            results.iter().find(|(location, _, _)| matches!(location, Location::Exec(e) if e.id == id)).unwrap();
        match result {
            Ok(fetched) => {
                Ok(String::from_utf8(fetched.select(None, &results[0].0).unwrap().expose().to_vec()).unwrap())
            }
            Err(error) => Err(error.to_string()),
        }
    }

    #[tokio::test]
    async fn one_call_answers_every_id_and_reports_each_error() {
        let dir = tempfile::tempdir().unwrap();
        let calls = dir.path().join("calls");
        let command = plugin(
            dir.path(),
            &format!(
                "cat > /dev/null; echo call >> {}\necho '{{\"version\":1,\"secrets\":{{\"a\":{{\"value\":\"va\"}},\"b\":{{\"error\":\"locked\"}}}}}}'",
                calls.display()
            ),
        );
        let locations = ["a", "b", "c"].map(|id| location(&command, id, DEFAULT_TIMEOUT)).to_vec();
        let results = ExecProvider.fetch_batch(locations, FetchBound::new(4)).collect::<Vec<_>>().await;
        assert_eq!(std::fs::read_to_string(&calls).unwrap().lines().count(), 1, "one plugin call");
        assert_eq!(outcome(&results, "a"), Ok("va".to_owned()));
        assert!(outcome(&results, "b").unwrap_err().ends_with("id b: the plugin answered with an error: locked"));
        assert!(outcome(&results, "c").unwrap_err().contains("no answer"));
    }

    #[tokio::test]
    async fn the_request_lists_the_ids_on_stdin_and_nothing_goes_through_argv() {
        let dir = tempfile::tempdir().unwrap();
        let seen = dir.path().join("seen");
        let command = plugin(
            dir.path(),
            &format!(
                "cat > {}; echo \"$#\" >> {}; echo '{{\"version\":1,\"secrets\":{{}}}}'",
                seen.display(),
                seen.display()
            ),
        );
        ExecProvider
            .fetch_batch(vec![location(&command, "db/password", DEFAULT_TIMEOUT)], FetchBound::new(1))
            .collect::<Vec<_>>()
            .await;
        assert_eq!(std::fs::read_to_string(&seen).unwrap(), "{\"secrets\":[\"db/password\"],\"version\":1}0\n");
    }

    #[tokio::test]
    async fn failures_of_the_plugin_fail_every_id_it_was_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("cat > /dev/null; echo 'not json'", "not protocol JSON"),
            ("cat > /dev/null; echo '{\"version\":2,\"secrets\":{}}'", "protocol version 2"),
            ("cat > /dev/null; echo leaked-value >&2; exit 3", "exited with exit status: 3"),
            ("exec sleep 30", "timed out"),
            // A value not wrapped in its object: serde_json's message quotes the string it met.
            (
                "cat > /dev/null; echo '{\"version\":1,\"secrets\":{\"x\":\"leaked-value\"}}'",
                "not protocol JSON (a value of the wrong type or a field missing at line 1 column",
            ),
        ];
        for (body, expected) in cases {
            let command = plugin(dir.path(), body);
            let results = ExecProvider
                .fetch_batch(vec![location(&command, "x", Duration::from_millis(300))], FetchBound::new(1))
                .collect::<Vec<_>>()
                .await;
            let error = outcome(&results, "x").unwrap_err();
            assert!(error.contains(expected), "{body}: {error}");
            assert!(!error.contains("leaked-value"), "neither stderr nor a value is shown: {error}");
        }
        let missing = ExecProvider
            .fetch_batch(vec![location(&["/nonexistent/plugin".to_owned()], "x", DEFAULT_TIMEOUT)], FetchBound::new(1))
            .collect::<Vec<_>>()
            .await;
        assert!(outcome(&missing, "x").unwrap_err().contains("not found"));
    }

    /// What a plugin started dies with it at the timeout: here a `sleep` in the background,
    /// which would otherwise run on (orphaned) for a minute.
    #[tokio::test]
    async fn a_timed_out_plugin_is_killed_with_what_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("sleep.pid");
        let command = plugin(dir.path(), &format!("sleep 60 & echo $! > {}; wait", pid_file.display()));
        let results = ExecProvider
            .fetch_batch(vec![location(&command, "x", Duration::from_millis(300))], FetchBound::new(1))
            .collect::<Vec<_>>()
            .await;
        assert!(outcome(&results, "x").unwrap_err().contains("timed out"));
        let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
        let sleep = rustix::process::Pid::from_raw(pid).unwrap();
        // SIGKILL is delivered before kill(2) returns; the process is gone once its parent (the
        // plugin's shell, killed too) is reaped and it is reaped in turn, so wait on that.
        let deadline = Instant::now() + Duration::from_secs(10);
        while rustix::process::test_kill_process(sleep).is_ok() && !is_zombie(pid) {
            assert!(Instant::now() < deadline, "the plugin's sleep outlived its timeout");
            tokio::task::yield_now().await;
        }
    }

    /// A plugin that answers, exits and leaves a process running that holds its stdout (a cache
    /// daemon it starts) has answered: the answer is read once it exits, not when the pipe
    /// ends, which used to be the timeout. The process is left alone, as the plugin's.
    #[tokio::test]
    async fn an_answer_is_taken_at_the_plugins_exit_though_a_process_it_left_holds_stdout() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("sleep.pid");
        let command = plugin(
            dir.path(),
            &format!(
                "cat > /dev/null; sleep 60 & echo $! > {}\necho '{{\"version\":1,\"secrets\":{{\"x\":{{\"value\":\"v\"}}}}}}'",
                pid_file.display()
            ),
        );
        let results = ExecProvider
            .fetch_batch(vec![location(&command, "x", Duration::from_secs(5))], FetchBound::new(1))
            .collect::<Vec<_>>()
            .await;
        let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
        let _ =
            rustix::process::kill_process(rustix::process::Pid::from_raw(pid).unwrap(), rustix::process::Signal::KILL);
        assert_eq!(outcome(&results, "x"), Ok("v".to_owned()));
    }

    /// An answer past the limit is refused as too large at once: the plugin was left blocked
    /// writing into a pipe no one read, until the timeout.
    #[tokio::test]
    async fn an_answer_over_the_limit_is_refused_as_too_large() {
        let dir = tempfile::tempdir().unwrap();
        let command = plugin(dir.path(), &format!("cat > /dev/null; head -c {} /dev/zero", MAX_OUTPUT + 1));
        let results = ExecProvider
            .fetch_batch(vec![location(&command, "x", Duration::from_secs(20))], FetchBound::new(1))
            .collect::<Vec<_>>()
            .await;
        let error = outcome(&results, "x").unwrap_err();
        assert!(error.contains("its output is over 16777216 bytes"), "{error}");
    }

    fn is_zombie(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')))
    }
}
