//! Logs: `tracing` events on stderr, as text or JSON. Events name secrets by YAML path or slug,
//! never by value. Submodules: `metrics` (the Prometheus registry) and `admin` (the admin HTTP
//! listener serving it, health and refresh requests).

pub mod admin;
pub mod metrics;

use std::io::IsTerminal;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::cli::LogFormat;

/// Reports a panic as an `error` event, in the log's format (a JSON log stays one object per
/// line), rather than Rust's own line on stderr; with `RUST_BACKTRACE=1` the event carries the
/// backtrace. Only a message that is the code's own literal text is shown: a formatted one
/// (an `unwrap` of an error, a string sliced off a character boundary) may quote data, which
/// could be a value (contract section 10), so it is withheld and the location stands alone.
pub fn report_panics() {
    std::panic::set_hook(Box::new(|info| {
        let message =
            info.payload().downcast_ref::<&'static str>().copied().unwrap_or("(message withheld: it may quote data)");
        let location = info.location().map(ToString::to_string).unwrap_or_default();
        let backtrace = std::backtrace::Backtrace::capture();
        if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
            tracing::error!(%location, %backtrace, "internal error (a bug; please report it): {message}");
        } else {
            tracing::error!(%location, "internal error (a bug; please report it): {message}");
        }
    }));
}

/// Installs the global subscriber. Verbosity counts: default info, `-v` debug, `-vv` trace,
/// `-q` warn, `-qq` error. Libraries (HTTP, TLS) log at warn, and at debug from `-vv` on, so
/// `-v` shows what secret-render does rather than every pooled connection.
pub fn init_logging(format: LogFormat, verbose: u8, quiet: u8) {
    let level = match (verbose, quiet) {
        (0, 0) => LevelFilter::INFO,
        (1, _) => LevelFilter::DEBUG,
        (v, _) if v >= 2 => LevelFilter::TRACE,
        (_, 1) => LevelFilter::WARN,
        _ => LevelFilter::ERROR,
    };
    let libraries = if verbose >= 2 { LevelFilter::DEBUG } else { level.min(LevelFilter::WARN) };
    // aws-config logs, at warn, a container credentials token it cannot use (whole), and each
    // credential provider's failure with its error, a `credential_process`'s stderr included:
    // those failures reach the operator in secret-render's own error, without what they quote.
    // kube-client logs, at warn, a response body it cannot parse: a whole Secret.
    let never_below_error = [
        "aws_config::ecs",
        "aws_config::meta::credentials::chain",
        "aws_config::profile::credentials",
        "kube_client::client",
    ];
    let filter = never_below_error
        .into_iter()
        .fold(Targets::new(), |targets, target| targets.with_target(target, LevelFilter::ERROR))
        .with_target("secret_render", level)
        .with_default(libraries);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => tracing_subscriber::registry().with(layer).with(filter).init(),
        LogFormat::Json => tracing_subscriber::registry().with(layer.json().flatten_event(true)).with(filter).init(),
    }
}
