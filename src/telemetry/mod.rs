//! Logs: `tracing` events on stderr, as text or JSON. Events name secrets by YAML path or slug,
//! never by value.

use std::io::IsTerminal;

use tracing::level_filters::LevelFilter;

use crate::cli::LogFormat;

/// Installs the global subscriber. Verbosity counts: default info, `-v` debug, `-vv` trace,
/// `-q` warn, `-qq` error.
pub fn init_logging(format: LogFormat, verbose: u8, quiet: u8) {
    let level = match (verbose, quiet) {
        (0, 0) => LevelFilter::INFO,
        (1, _) => LevelFilter::DEBUG,
        (v, _) if v >= 2 => LevelFilter::TRACE,
        (_, 1) => LevelFilter::WARN,
        _ => LevelFilter::ERROR,
    };
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}
