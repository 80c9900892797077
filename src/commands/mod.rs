//! One module per subcommand: each takes its settings or arguments and returns `Ok` or a
//! [`Failure`] carrying its documented exit code.
//!
//! [`Failure`]: crate::exit::Failure

pub mod check;
pub mod extract;
pub mod generate;
pub mod render;
pub mod rotate;
pub mod run;
pub mod store;
pub mod watch;

use std::io::Write;

/// Writes command output (never a secret) to stdout. A closed pipe is not an error worth a
/// panic: the reader has gone away.
pub(crate) fn print(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}
