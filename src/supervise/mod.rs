//! The child process under `run`: spawning it in its own process group, waiting for it (and
//! reaping every zombie when we are PID 1), forwarding stop signals with escalation to SIGKILL,
//! reloading it (or another target) and checking that the reload took.
//!
//! The child's exit code passes through; a child killed by signal N maps to 128+N, never 0.
//! The refresh loop drives everything from one `tokio::select!`: [`ChildProcess::wait`] and
//! [`StopSignals::next`] are cancel-safe, and [`Stopper::deadline`] feeds a `sleep_until` branch.

mod child;
pub mod reload;
mod stop;

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use rustix::process::Signal;

pub use child::{ChildProcess, ExitOutcome, launch_if_asked, remember_for_the_target};
pub use reload::{ReloadBaseline, ReloadTarget, reload, reload_baseline, verify};
pub use stop::{DEFAULT_STOP_TIMEOUT, StopAction, StopSignals, Stopper, run_to_exit, until_stopped, until_stopped_by};

/// Everything that can go wrong supervising the child or reloading a target. Messages name the
/// program, pid, path or URL (with credentials and query removed), never a secret value.
#[derive(Debug, thiserror::Error)]
pub enum SuperviseError {
    #[error("cannot listen for {signal} outside a Tokio runtime")]
    NoRuntime { signal: &'static str },
    #[error("failed to listen for {signal}: {source}")]
    Listen { signal: &'static str, source: io::Error },
    #[error("failed to start `{program}`: {source}")]
    Spawn { program: String, source: io::Error },
    #[error("failed to send {signal} to {target}: {source}")]
    Signal { signal: String, target: String, source: rustix::io::Errno },
    #[error("invalid process id {pid}")]
    InvalidPid { pid: u32 },
    #[error("no child process to send SIGHUP to")]
    NoChild,
    #[error("failed to read pid file `{}`: {source}", path.display())]
    ReadPidFile { path: PathBuf, source: io::Error },
    #[error("pid file `{}` does not hold a process id", path.display())]
    BadPidFile { path: PathBuf },
    #[error("failed to {method} `{url}`: {source}")]
    Request { method: &'static str, url: String, source: reqwest::Error },
    #[error("{method} `{url}` returned {status}{}", status_hint(*status))]
    Status { method: &'static str, url: String, status: reqwest::StatusCode },
    #[error("`{url}` reports that the reload failed ({metric} is 0)")]
    ReloadFailed { url: String, metric: String },
    #[error("`{url}` did not confirm the reload within {deadline:?}: {reason}")]
    NotConfirmed { url: String, deadline: Duration, reason: String },
}

/// What a reload endpoint's status most likely means (its body is not read: it may quote the
/// config).
fn status_hint(status: reqwest::StatusCode) -> &'static str {
    match status {
        reqwest::StatusCode::FORBIDDEN => {
            " (Prometheus answers 403 to /-/reload when started without --web.enable-lifecycle)"
        }
        _ => "",
    }
}

impl SuperviseError {
    /// True when a signal found no process to deliver to (the child or group already exited).
    #[must_use]
    pub fn is_no_such_process(&self) -> bool {
        matches!(self, Self::Signal { source, .. } if *source == rustix::io::Errno::SRCH)
    }
}

/// `SIGTERM` for `Signal::TERM`: the name a user knows from `kill -l`.
#[must_use]
pub fn signal_name(signal: Signal) -> String {
    let name = match signal {
        Signal::HUP => "SIGHUP",
        Signal::INT => "SIGINT",
        Signal::QUIT => "SIGQUIT",
        Signal::KILL => "SIGKILL",
        Signal::TERM => "SIGTERM",
        Signal::USR1 => "SIGUSR1",
        Signal::USR2 => "SIGUSR2",
        Signal::ABORT => "SIGABRT",
        Signal::ALARM => "SIGALRM",
        Signal::PIPE => "SIGPIPE",
        _ => return format!("signal {}", signal.as_raw()),
    };
    name.to_owned()
}

/// `pid` as a process id to signal: positive, and within `pid_t`.
fn process_id(pid: u32) -> Result<rustix::process::Pid, SuperviseError> {
    i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw).ok_or(SuperviseError::InvalidPid { pid })
}

/// Sends `signal` to one process (not a group): for `--reload-pid` and `--reload-pidfile`.
pub(crate) fn signal_process(pid: u32, signal: Signal) -> Result<(), SuperviseError> {
    rustix::process::kill_process(process_id(pid)?, signal).map_err(|source| SuperviseError::Signal {
        signal: signal_name(signal),
        target: format!("process {pid}"),
        source,
    })
}

/// Checks, without sending anything, that the reload target's signal would be delivered: at the
/// start of `watch --reload-pid`/`--reload-pidfile`, so a wrong pid or pidfile shows before
/// the first change needs a reload. Says why not.
pub fn check_reload_signal(target: &ReloadTarget) -> Result<(), String> {
    let pid = match target {
        ReloadTarget::Pid(pid) => *pid,
        ReloadTarget::PidFile(path) => reload::read_pid_file(path).map_err(|error| error.to_string())?,
        ReloadTarget::Child | ReloadTarget::Url(_) => return Ok(()),
    };
    let process = process_id(pid).map_err(|error| error.to_string())?;
    rustix::process::test_kill_process(process).map_err(|errno| format!("it cannot be signalled ({errno})"))
}

/// Sends `signal` to process group `group` (a child started by [`ChildProcess::spawn`] leads its
/// own group, whose id is its pid), without borrowing the child, which a waiter may hold.
pub fn signal_group(group: u32, signal: Signal) -> Result<(), SuperviseError> {
    rustix::process::kill_process_group(process_id(group)?, signal).map_err(|source| SuperviseError::Signal {
        signal: signal_name(signal),
        target: format!("process group {group}"),
        source,
    })
}

/// The process group a short-lived helper leads (an `exec` plugin, the target's `--version`
/// probe), killed whole (SIGKILL) when dropped before it finished: on a timeout, a failed read
/// or a cancelled call. `kill_on_drop` alone kills only the leader, and a `sleep` or helper it
/// started would run on, holding its stdout open.
pub(crate) struct GroupKiller(Option<rustix::process::Pid>);

impl GroupKiller {
    /// For a child spawned with `process_group(0)`, so that its pid is its group's id.
    pub(crate) fn led_by(pid: Option<u32>) -> Self {
        Self(pid.and_then(|pid| i32::try_from(pid).ok()).and_then(rustix::process::Pid::from_raw))
    }

    /// The helper ended by itself: nothing to kill.
    pub(crate) fn finished(&mut self) {
        self.0 = None;
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        if let Some(group) = self.0 {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
    }
}

#[cfg(test)]
mod tests;
