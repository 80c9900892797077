//! Spawning the child in its own process group and waiting for it with `waitpid`, driven by a
//! SIGCHLD listener registered before the spawn so no exit is missed.
//!
//! `tokio::process` is not used for this child: its reaper would race ours. Unless we are PID 1
//! we only ever wait for our own pid, so the statuses of other children (`tokio::process` ones
//! spawned elsewhere) stay with whoever spawned them. As PID 1 every orphan in the container is
//! re-parented to us and must be reaped, so each SIGCHLD drains all zombies.
//!
//! The child is started through secret-render itself ([`launch_if_asked`]): a copy that asks the
//! kernel to send it SIGTERM once its parent dies, then execs the target in its place. So the
//! target ends with secret-render however secret-render ends (`kill -9`, the OOM killer), where it
//! was left running, orphaned, with values no one kept fresh, and a restarted wrapper started a
//! second one beside it. Setting that signal needs the new process itself, after the fork; the
//! launcher does it without the `unsafe` a `pre_exec` hook would be.

use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt;
use std::process::Command;

use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitOptions, WaitStatus};
use tokio::signal::unix::SignalKind;

use super::{SuperviseError, signal_name};
use crate::cli::LogFormat;
use crate::exit::ExitCode;

/// The first argument that makes `secret-render` the launcher of a target: then come the pid of
/// the process that started it, its log format, the core size limit the target gets, the
/// program and its arguments.
const LAUNCHER: &str = "__secret-render-launch-target";
/// Where the running binary is, whatever became of its path since (an upgrade replacing it).
const OWN_EXECUTABLE: &str = "/proc/self/exe";
/// How a core size limit of none is written on the launcher's command line.
const UNLIMITED: &str = "unlimited";

/// What the launcher hands on to the target from before secret-render's own start: the log
/// format (for its one error line) and the soft core size limit, which secret-render sets to 0
/// for itself and the target inherits. Set once by [`remember_for_the_target`].
static FOR_THE_TARGET: std::sync::OnceLock<(LogFormat, Option<u64>)> = std::sync::OnceLock::new();

/// Keeps the log format and the soft core size limit secret-render started with (before it
/// disabled its own core dumps), for the target it may start.
pub fn remember_for_the_target(log_format: LogFormat, core_soft_limit: Option<u64>) {
    let _ = FOR_THE_TARGET.set((log_format, core_soft_limit));
}

/// When started as the launcher of a target (see the module's header), becomes the target, or
/// returns the exit code to end with: 127 for a program not found, 126 for one that cannot be
/// executed, 143 when the parent is already gone. `None` for every other command line.
#[must_use]
pub fn launch_if_asked() -> Option<u8> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != LAUNCHER {
        return None;
    }
    let parent = args.next().and_then(|pid| pid.to_str()?.parse::<i32>().ok());
    let format = if args.next().is_some_and(|format| format == "json") { LogFormat::Json } else { LogFormat::Text };
    let core_soft_limit = args.next();
    let Some(program) = args.next() else { return Some(ExitCode::Usage.code()) };
    let args: Vec<OsString> = args.collect();
    crate::telemetry::init_logging(format, 0, 0);
    // The core size limit the target would have had, started directly.
    let limit = rustix::process::getrlimit(rustix::process::Resource::Core);
    let wanted = match core_soft_limit.as_ref().and_then(|limit| limit.to_str()) {
        Some(UNLIMITED) => None,
        Some(number) => number.parse().ok(),
        None => limit.current,
    };
    let current = match (wanted, limit.maximum) {
        (Some(wanted), Some(maximum)) => Some(wanted.min(maximum)),
        (wanted, None) => wanted,
        (None, maximum) => maximum,
    };
    let _ = rustix::process::setrlimit(rustix::process::Resource::Core, rustix::process::Rlimit { current, ..limit });
    // Kept for the exec: PR_SET_PDEATHSIG survives it (the target is not set-user-ID).
    if let Err(error) = rustix::process::set_parent_process_death_signal(Some(Signal::TERM)) {
        tracing::warn!(%error, "cannot ask for SIGTERM to the target when secret-render ends; starting it anyway");
    }
    // A parent that died before the request was made sends nothing: end as it would have had us.
    if rustix::process::getppid().map(Pid::as_raw_nonzero).map(std::num::NonZeroI32::get) != parent {
        return Some(143);
    }
    let error = exec(&program, &args);
    let code = if error.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 };
    tracing::error!(code, "cannot start the target `{}`: {error}", program.to_string_lossy());
    Some(code)
}

/// Replaces this process with `program` (looked up on `PATH` when its name has no `/`, as a
/// shell does), with `args` and this environment; returns only why it could not. A file the
/// kernel cannot execute (no `#!`, another CPU's binary) is an error, as `posix_spawn` reports
/// it to a direct start, not handed to `/bin/sh` as glibc's `execvp` would hand it.
fn exec(program: &OsStr, args: &[OsString]) -> std::io::Error {
    use std::os::unix::ffi::OsStrExt as _;
    let c_string = |text: &[u8]| {
        std::ffi::CString::new(text)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "holds a NUL byte"))
    };
    let attempt = || -> std::io::Result<std::convert::Infallible> {
        let path = c_string(find_program(program)?.as_os_str().as_bytes())?;
        let argv: Vec<std::ffi::CString> = std::iter::once(program)
            .chain(args.iter().map(OsString::as_os_str))
            .map(|arg| c_string(arg.as_bytes()))
            .collect::<Result<_, _>>()?;
        let mut variables = Vec::new();
        for (name, value) in std::env::vars_os() {
            let mut pair = name.as_bytes().to_vec();
            pair.push(b'=');
            pair.extend_from_slice(value.as_bytes());
            variables.push(c_string(&pair)?);
        }
        nix::unistd::execve(&path, &argv, &variables).map_err(|errno| std::io::Error::from_raw_os_error(errno as i32))
    };
    match attempt() {
        Err(error) => error,
        Ok(never) => match never {},
    }
}

/// Where `program` is: itself when its name holds a `/`, else the first executable file of that
/// name in a directory of `PATH` (the shells' default when unset).
fn find_program(program: &OsStr) -> std::io::Result<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt as _;
    use std::os::unix::fs::PermissionsExt as _;
    if program.as_bytes().contains(&b'/') {
        return Ok(program.into());
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin"));
    let mut not_executable = None;
    for dir in std::env::split_paths(&path) {
        let candidate = if dir.as_os_str().is_empty() { std::path::PathBuf::from(".") } else { dir }.join(program);
        match std::fs::metadata(&candidate) {
            Ok(metadata) if metadata.is_file() && metadata.permissions().mode() & 0o111 != 0 => return Ok(candidate),
            Ok(_) => {
                not_executable.get_or_insert(candidate);
            }
            Err(_) => {}
        }
    }
    // One found but not executable is tried, for the kernel to say why (permission denied).
    not_executable.ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
}

/// How the child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitOutcome {
    /// The child called `exit` with this code.
    Exited(i32),
    /// The child was killed by this signal number.
    Signaled(i32),
}

impl ExitOutcome {
    /// The code `secret-render run` exits with: the child's own code, or 128+N for a death by
    /// signal N (so a signal death is never mistaken for success).
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match *self {
            // The kernel keeps only the low 8 bits of an exit status.
            Self::Exited(code) => (code & 0xff) as u8,
            Self::Signaled(signal) => u8::try_from(128 + signal.clamp(1, 127)).unwrap_or(u8::MAX),
        }
    }

    fn from_status(status: WaitStatus) -> Option<Self> {
        if let Some(code) = status.exit_status() {
            Some(Self::Exited(code))
        } else {
            status.terminating_signal().map(Self::Signaled)
        }
    }
}

/// The supervised child: its own process group leader, stdio inherited.
#[derive(Debug)]
pub struct ChildProcess {
    pid: Pid,
    id: u32,
    /// True when we are PID 1 and must reap every zombie, not only our child.
    reap_all: bool,
    sigchld: tokio::signal::unix::Signal,
    outcome: Option<ExitOutcome>,
}

impl ChildProcess {
    /// Starts `program` with `args` in a new process group, through the launcher (see the
    /// module's header), so that it ends with this process. Must be called inside a Tokio
    /// runtime with signal handling enabled (`enable_all`), which the SIGCHLD listener needs, and
    /// on a thread that lives as long as the process (the kernel sends the death signal when the
    /// thread that forked ends): `run`'s single-threaded runtime on the main thread. A program
    /// that cannot be started then ends the launcher with 127 or 126, as a shell would.
    ///
    /// # Errors
    /// When there is no runtime to listen for SIGCHLD in, or the launcher cannot be started.
    pub fn spawn(program: &OsStr, args: &[OsString]) -> Result<ChildProcess, SuperviseError> {
        Self::spawn_with(program, args, rustix::process::getpid().is_init(), true)
    }

    /// [`ChildProcess::spawn`] without the launcher, for the unit tests, whose executable is
    /// the test harness and knows no launcher argument.
    #[cfg(test)]
    pub(super) fn spawn_directly(program: &OsStr, args: &[OsString]) -> Result<ChildProcess, SuperviseError> {
        Self::spawn_with(program, args, rustix::process::getpid().is_init(), false)
    }

    fn spawn_with(
        program: &OsStr,
        args: &[OsString],
        reap_all: bool,
        through_launcher: bool,
    ) -> Result<ChildProcess, SuperviseError> {
        // Listen before spawning: a child that exits at once must still wake `wait`.
        let sigchld = listen(SignalKind::child(), "SIGCHLD")?;
        // Through the launcher where there is one to exec (without `/proc`, the target directly).
        let mut command = if through_launcher && std::path::Path::new(OWN_EXECUTABLE).exists() {
            let (format, core_soft_limit) = FOR_THE_TARGET.get().copied().unwrap_or((LogFormat::Text, None));
            let mut command = Command::new(OWN_EXECUTABLE);
            command
                .arg(LAUNCHER)
                .arg(rustix::process::getpid().as_raw_nonzero().to_string())
                .arg(if format == LogFormat::Json { "json" } else { "text" })
                .arg(core_soft_limit.map_or_else(|| UNLIMITED.to_owned(), |limit| limit.to_string()))
                .arg(program);
            command
        } else {
            Command::new(program)
        };
        let child = command
            .args(args)
            .process_group(0)
            .spawn()
            .map_err(|source| SuperviseError::Spawn { program: program.to_string_lossy().into_owned(), source })?;
        let pid = Pid::from_child(&child);
        let id = child.id();
        // Dropping a std `Child` neither waits nor kills; from here on the pid is ours to reap.
        drop(child);
        tracing::debug!(pid = id, reap_all, "started the child process");
        Ok(ChildProcess { pid, id, reap_all, sigchld, outcome: None })
    }

    /// The child's pid, which is also its process group id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.id
    }

    /// Sends `signal` to the child's whole process group (so a shell wrapper's children get it
    /// too).
    ///
    /// # Errors
    /// When the signal cannot be sent; [`SuperviseError::is_no_such_process`] tells an already
    /// empty group apart.
    pub fn signal(&self, signal: Signal) -> Result<(), SuperviseError> {
        rustix::process::kill_process_group(self.pid, signal).map_err(|source| SuperviseError::Signal {
            signal: signal_name(signal),
            target: format!("process group {}", self.id),
            source,
        })
    }

    /// How the child ended, if it has (and reaps zombies on the way when we are PID 1).
    pub fn try_wait(&mut self) -> Option<ExitOutcome> {
        if self.outcome.is_none() {
            self.outcome = if self.reap_all { reap_zombies(self.pid) } else { reap_own(self.pid) };
        }
        self.outcome
    }

    /// Waits for the child to end. Cancel-safe: dropping the future loses nothing, so it can sit
    /// in a `tokio::select!` loop; once the child has ended it returns the same outcome at once.
    pub async fn wait(&mut self) -> ExitOutcome {
        loop {
            // Check before waiting on SIGCHLD: a signal that arrived after the listener was
            // registered is remembered by the stream, so no exit between check and await is lost.
            if let Some(outcome) = self.try_wait() {
                return outcome;
            }
            if self.sigchld.recv().await.is_none() {
                // The runtime is shutting down; nothing will ever wake us again.
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Registers a Tokio listener for `kind`, as an error rather than a panic outside a runtime.
pub(super) fn listen(kind: SignalKind, signal: &'static str) -> Result<tokio::signal::unix::Signal, SuperviseError> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(SuperviseError::NoRuntime { signal });
    }
    tokio::signal::unix::signal(kind).map_err(|source| SuperviseError::Listen { signal, source })
}

/// Waits (without blocking) for our child only.
fn reap_own(own: Pid) -> Option<ExitOutcome> {
    loop {
        match rustix::process::waitpid(Some(own), WaitOptions::NOHANG) {
            Ok(Some((_, status))) => {
                if let Some(outcome) = ExitOutcome::from_status(status) {
                    return Some(outcome);
                }
            }
            Ok(None) => return None,
            Err(Errno::INTR) => {}
            Err(error) => return Some(lost(own, error)),
        }
    }
}

/// Reaps every zombie child (PID 1 duty), keeping the status of `own` when it shows up.
pub(super) fn reap_zombies(own: Pid) -> Option<ExitOutcome> {
    let mut outcome = None;
    loop {
        match rustix::process::wait(WaitOptions::NOHANG) {
            Ok(Some((pid, status))) if pid == own => {
                if let Some(ended) = ExitOutcome::from_status(status) {
                    outcome = Some(ended);
                }
            }
            Ok(Some((pid, status))) => {
                tracing::debug!(pid = pid.as_raw_pid(), ?status, "reaped an orphaned process");
            }
            // No zombie left, or no child at all (ours was reaped above or earlier).
            Ok(None) => return outcome,
            Err(Errno::CHILD) => return outcome.or_else(|| Some(lost(own, Errno::CHILD))),
            Err(Errno::INTR) => {}
            Err(error) => {
                tracing::warn!(%error, "failed to reap child processes");
                return outcome;
            }
        }
    }
}

/// Our child's status is gone (someone else reaped it, or SIGCHLD is ignored): report it loudly
/// and end as an internal error rather than wait forever.
fn lost(own: Pid, error: Errno) -> ExitOutcome {
    tracing::error!(pid = own.as_raw_pid(), %error, "lost track of the child process; its exit status is unknown");
    ExitOutcome::Exited(i32::from(ExitCode::Internal.code()))
}
