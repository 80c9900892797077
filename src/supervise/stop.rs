//! Stopping the child: the first SIGTERM/SIGINT/SIGQUIT we receive is forwarded to the child's
//! process group; a second SIGINT or SIGTERM, or `--stop-timeout` after the first, sends SIGKILL.
//!
//! [`Stopper`] is a small state machine so the refresh loop can keep its own `select!`; the
//! convenience [`run_to_exit`] is that loop with nothing else in it.

use std::future::Future;
use std::time::Duration;

use rustix::process::Signal;
use tokio::signal::unix::SignalKind;
use tokio::time::Instant;

use super::child::listen;
use super::{ChildProcess, ExitOutcome, SuperviseError, signal_name};

/// `--stop-timeout` when not given.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Listeners for the signals that stop us. Create them before spawning the child: once they
/// exist, these signals no longer terminate this process, so we always live to forward them.
#[derive(Debug)]
pub struct StopSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// # Errors
    /// Outside a Tokio runtime with signal handling enabled.
    pub fn new() -> Result<StopSignals, SuperviseError> {
        Ok(StopSignals {
            term: listen(SignalKind::terminate(), "SIGTERM")?,
            int: listen(SignalKind::interrupt(), "SIGINT")?,
            quit: listen(SignalKind::quit(), "SIGQUIT")?,
        })
    }

    /// The next stop signal received. Cancel-safe.
    pub async fn next(&mut self) -> Signal {
        tokio::select! {
            Some(()) = self.term.recv() => Signal::TERM,
            Some(()) = self.int.recv() => Signal::INT,
            Some(()) = self.quit.recv() => Signal::QUIT,
            else => std::future::pending().await,
        }
    }
}

/// Runs `work` until it ends or a stop signal (SIGTERM, SIGINT, SIGQUIT) arrives; then the work
/// is dropped, which kills what it started (an `exec` plugin or a `--version` probe, each with
/// its process group), and the error is the exit code a shell reports for a process the signal
/// killed (128 + its number). For the one-shot commands and `run`'s start: without listeners,
/// the signal ended the process at once and left what it started running, orphaned.
pub async fn until_stopped<T>(work: impl Future<Output = T>) -> Result<T, u8> {
    let Ok(mut signals) = StopSignals::new() else { return Ok(work.await) };
    until_stopped_by(&mut signals, work).await
}

/// [`until_stopped`] with listeners the caller keeps: `run` hands its own on to the loop, so
/// that a stop signal between the two is not lost.
pub async fn until_stopped_by<T>(signals: &mut StopSignals, work: impl Future<Output = T>) -> Result<T, u8> {
    tokio::select! {
        done = work => Ok(done),
        signal = signals.next() => {
            tracing::warn!("{}: stopped; what was started is ended", signal_name(signal));
            Err(u8::try_from(128 + signal.as_raw()).unwrap_or(u8::MAX))
        }
    }
}

/// Where stop signals come from: [`StopSignals`] in production, a channel in tests.
pub(super) trait SignalSource {
    fn next_signal(&mut self) -> impl Future<Output = Signal>;
}

impl SignalSource for StopSignals {
    fn next_signal(&mut self) -> impl Future<Output = Signal> {
        self.next()
    }
}

/// What [`Stopper`] did about a signal or the stop deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopAction {
    /// The signal was forwarded to the child's process group.
    Forward(Signal),
    /// SIGKILL was sent to the child's process group.
    Kill,
}

/// What an operator reads in the log: `forwarded SIGTERM to the target`, `killed the target`.
impl std::fmt::Display for StopAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Forward(signal) => write!(f, "forwarded {} to the target", super::signal_name(*signal)),
            Self::Kill => f.write_str("sent SIGKILL to the target"),
        }
    }
}

/// The stop state machine. Feed it every stop signal ([`Stopper::on_signal`]) and, when
/// [`Stopper::deadline`] passes, call [`Stopper::on_deadline`].
#[derive(Debug)]
pub struct Stopper {
    stop_timeout: Duration,
    first_at: Option<Instant>,
    killed: bool,
}

impl Stopper {
    #[must_use]
    pub fn new(stop_timeout: Duration) -> Self {
        Self { stop_timeout, first_at: None, killed: false }
    }

    /// True once a stop signal has been received.
    #[must_use]
    pub fn is_stopping(&self) -> bool {
        self.first_at.is_some()
    }

    /// When to send SIGKILL if the child is still running: `stop_timeout` after the first stop
    /// signal; `None` before any, and after SIGKILL was sent.
    #[must_use]
    pub fn deadline(&self) -> Option<Instant> {
        if self.killed { None } else { self.first_at.map(|first| first + self.stop_timeout) }
    }

    /// Decides what a stop signal means, without sending anything.
    pub fn decide(&mut self, signal: Signal) -> StopAction {
        if self.first_at.is_none() {
            self.first_at = Some(Instant::now());
            return StopAction::Forward(signal);
        }
        if self.killed || signal == Signal::INT || signal == Signal::TERM {
            self.killed = true;
            return StopAction::Kill;
        }
        StopAction::Forward(signal)
    }

    /// Handles a stop signal we received: forwards it, or escalates to SIGKILL.
    pub fn on_signal(&mut self, signal: Signal, child: &ChildProcess) -> StopAction {
        let action = self.decide(signal);
        match action {
            StopAction::Forward(forwarded) => {
                tracing::info!(pid = child.pid(), "received {}; forwarding it to the child", signal_name(forwarded));
            }
            StopAction::Kill => {
                tracing::warn!(pid = child.pid(), "received {} again; killing the child", signal_name(signal));
            }
        }
        apply(action, child);
        action
    }

    /// Handles the stop deadline passing: SIGKILL.
    pub fn on_deadline(&mut self, child: &ChildProcess) -> StopAction {
        self.killed = true;
        tracing::warn!(pid = child.pid(), timeout = ?self.stop_timeout, "the child did not stop in time; killing it");
        apply(StopAction::Kill, child);
        StopAction::Kill
    }
}

fn apply(action: StopAction, child: &ChildProcess) {
    let signal = match action {
        StopAction::Forward(signal) => signal,
        StopAction::Kill => Signal::KILL,
    };
    match child.signal(signal) {
        Ok(()) => {}
        // The child is already gone; its exit will show up in `wait`.
        Err(error) if error.is_no_such_process() => tracing::debug!(%error, "nothing left to signal"),
        Err(error) => tracing::warn!(%error, "cannot signal the child"),
    }
}

/// Waits for the child to exit, forwarding stop signals and escalating to SIGKILL on a second
/// SIGINT/SIGTERM or after `stop_timeout`.
pub async fn run_to_exit(child: &mut ChildProcess, signals: &mut StopSignals, stop_timeout: Duration) -> ExitOutcome {
    drive(child, signals, stop_timeout).await
}

pub(super) async fn drive(
    child: &mut ChildProcess,
    signals: &mut impl SignalSource,
    stop_timeout: Duration,
) -> ExitOutcome {
    enum Event {
        Signal(Signal),
        Deadline,
    }
    let mut stopper = Stopper::new(stop_timeout);
    loop {
        let deadline = stopper.deadline();
        let event = tokio::select! {
            outcome = child.wait() => return outcome,
            signal = signals.next_signal() => Event::Signal(signal),
            () = sleep_until_or_never(deadline) => Event::Deadline,
        };
        match event {
            Event::Signal(signal) => {
                stopper.on_signal(signal, child);
            }
            Event::Deadline => {
                stopper.on_deadline(child);
            }
        }
    }
}

async fn sleep_until_or_never(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
