//! secret-render: renders secrets from stores into Prometheus-style YAML configs.
//!
//! `main` only dispatches; each concept lives in the module named after it (the house style,
//! `../shared/STYLE.md` beside the repository).

pub mod cli;
pub mod commands;
pub mod configs;
pub mod daemon;
pub mod duration;
pub mod exit;
pub mod out_dir_watch;
pub mod output;
pub mod path_watch;
pub mod provider;
pub mod redact;
pub mod refresh;
pub mod render;
pub mod resolve;
pub mod secret;
pub mod settings;
pub mod stores;
pub mod supervise;
pub mod telemetry;
pub mod tree;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::exit::{ExitCode, Failure};
use crate::settings::{CheckSettings, RenderSettings, RunSettings, WatchSettings};

/// Installs rustls's process-wide crypto provider (ring), which every HTTPS client needs;
/// installing it again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Keeps secrets out of core dumps: the process is marked non-dumpable and its soft core size
/// limit is zero. Returns the soft limit it had (`None`: unlimited), for a target `run` starts.
fn disable_core_dumps() -> Option<u64> {
    if let Err(error) = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable) {
        tracing::warn!(%error, "cannot mark the process non-dumpable");
    }
    let limit = rustix::process::getrlimit(rustix::process::Resource::Core);
    let zero = rustix::process::Rlimit { current: Some(0), maximum: limit.maximum };
    if let Err(error) = rustix::process::setrlimit(rustix::process::Resource::Core, zero) {
        tracing::warn!(%error, "cannot disable core dumps");
    }
    limit.current
}

/// Parses the command line, runs the command and returns the exit code.
#[must_use]
pub fn main() -> u8 {
    // `run` starts its target through a copy of itself (see `supervise::launch_if_asked`),
    // which becomes the target before anything else happens.
    if let Some(code) = supervise::launch_if_asked() {
        return code;
    }
    let cli = Cli::parse();
    telemetry::init_logging(cli.global.log_format, cli.global.verbose, cli.global.quiet);
    telemetry::report_panics();
    let core_soft_limit = disable_core_dumps();
    // The target `run` starts gets the limit secret-render started with, not its own 0.
    supervise::remember_for_the_target(cli.global.log_format, core_soft_limit);
    install_crypto_provider();
    // A panic is an unexpected internal error (exit 1), not Rust's own 101; the hook above has
    // logged it. The process ends right after, so nothing observes state the panic left behind.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(cli))) {
        Ok(Ok(code)) => code,
        Ok(Err(failure)) => {
            tracing::error!("{}", failure.message);
            failure.code.code()
        }
        Err(_) => ExitCode::Internal.code(),
    }
}

/// A one-shot command's work, ended by a stop signal with 128 + its number
/// ([`supervise::until_stopped`]).
async fn one_shot(work: impl std::future::Future<Output = Result<(), Failure>>) -> Result<u8, Failure> {
    match supervise::until_stopped(work).await {
        Ok(done) => done.map(|()| ExitCode::Success.code()),
        Err(code) => Ok(code),
    }
}

fn usage(message: String) -> Failure {
    Failure::new(ExitCode::Usage, message)
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| Failure::new(ExitCode::Internal, format!("cannot start the async runtime: {error}")))
}

/// Runs the command; `Ok` carries the exit code (the child's, under `run`).
fn dispatch(cli: Cli) -> Result<u8, Failure> {
    // The test suite's way to check how a panic ends the program (with a literal message for
    // `1`, else one quoting the variable's value); not in release builds.
    #[cfg(debug_assertions)]
    if let Some(value) = std::env::var_os("SECRET_RENDER_TEST_PANIC") {
        if value == "1" {
            panic!("SECRET_RENDER_TEST_PANIC is set");
        }
        panic!("SECRET_RENDER_TEST_PANIC is {}", value.to_string_lossy());
    }
    let global = cli.global;
    if let Some(note) = global.target.and_then(|target| target.unchecked_version()) {
        tracing::warn!("--target: {note}");
    }
    let success = |()| ExitCode::Success.code();
    match cli.command {
        Command::Render(args) => {
            let settings = RenderSettings::new(args, &global).map_err(usage)?;
            let runtime = runtime()?;
            let rendered = runtime.block_on(one_shot(commands::render::run(&settings)));
            // Everything spawned has finished; its idle blocking threads need not be joined
            // before the process exits.
            runtime.shutdown_background();
            rendered
        }
        Command::Check(args) => {
            let settings = CheckSettings::new(args, &global).map_err(usage)?;
            runtime()?.block_on(one_shot(commands::check::run(&settings)))
        }
        Command::Run(args) => {
            let settings = RunSettings::new(args, &global).map_err(usage)?;
            runtime()?.block_on(commands::run::run(settings))
        }
        Command::Watch(args) => {
            let settings = WatchSettings::new(args, &global).map_err(usage)?;
            runtime()?.block_on(commands::watch::run(settings))
        }
        Command::Extract(args) => {
            let settings = commands::extract::ExtractSettings {
                config: args.config,
                store: args.to,
                stores: global.stores.clone(),
                file_roots: global.file_roots.clone(),
                template: args.path_template,
                write: args.write,
                backup: args.backup,
                overwrite: args.overwrite,
                target: global.target,
            };
            runtime()?.block_on(one_shot(commands::extract::run(&settings)))
        }
        Command::Rotate(args) => {
            let target = commands::store::parse_ref(&args.reference, global.stores.as_deref(), &global.file_roots)?;
            let charset = match args.charset {
                cli::CharsetArg::Alnum => commands::rotate::Charset::Alnum,
                cli::CharsetArg::Hex => commands::rotate::Charset::Hex,
                cli::CharsetArg::Base64Url => commands::rotate::Charset::Base64Url,
                cli::CharsetArg::Printable => commands::rotate::Charset::Printable,
            };
            let web_config = args.bcrypt_web_config.as_deref().zip(args.user.as_deref());
            runtime()?.block_on(one_shot(commands::rotate::run(&target, args.length, charset, web_config, args.create)))
        }
        Command::Store(command) => {
            let (cli::StoreCommand::Get { reference, .. }
            | cli::StoreCommand::Put { reference, .. }
            | cli::StoreCommand::Delete { reference }) = &command;
            let mut target = commands::store::parse_ref(reference, global.stores.as_deref(), &global.file_roots)?;
            let runtime = runtime()?;
            match command {
                cli::StoreCommand::Get { version, reveal, .. } => {
                    runtime.block_on(one_shot(commands::store::get(&mut target, version, reveal)))
                }
                cli::StoreCommand::Put { from_file, .. } => {
                    runtime.block_on(one_shot(commands::store::put(&target, from_file.as_deref())))
                }
                cli::StoreCommand::Delete { .. } => runtime.block_on(one_shot(commands::store::delete(&target))),
            }
        }
        Command::Completions { shell } => {
            commands::generate::print_completion(shell);
            Ok(success(()))
        }
        Command::Man { subcommand } => commands::generate::print_man(subcommand.as_deref()).map_err(usage).map(success),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_process_is_marked_non_dumpable() {
        let _ = super::disable_core_dumps();
        assert_eq!(rustix::process::dumpable_behavior().unwrap(), rustix::process::DumpableBehavior::NotDumpable);
        assert_eq!(rustix::process::getrlimit(rustix::process::Resource::Core).current, Some(0));
    }
}
