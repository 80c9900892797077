//! Turns the flags of `render`, `check`, `run` and `watch` into checked settings.

use std::path::{Path, PathBuf};

use std::ffi::OsString;
use std::time::Duration;

use crate::cli::{
    CheckArgs, CheckFormatArg, GlobalArgs, LoopArgs, OutputArgs, ReloadOnArg, RenderArgs, RunArgs, WatchArgs,
};
use crate::daemon::ReloadOn;
use crate::output::{FileMode, OutputOptions, TmpfsPolicy};
use crate::render::TargetSpec;
use crate::supervise::ReloadTarget;

pub struct RenderSettings {
    pub configs: Vec<PathBuf>,
    pub target: Option<TargetSpec>,
    pub stores: Option<PathBuf>,
    pub file_roots: Vec<PathBuf>,
    pub out: PathBuf,
    pub output: OutputOptions,
    pub max_concurrency: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckFormat {
    Human,
    Json,
    Github,
}

pub struct CheckSettings {
    pub configs: Vec<PathBuf>,
    pub target: Option<TargetSpec>,
    pub stores: Option<PathBuf>,
    pub file_roots: Vec<PathBuf>,
    pub resolve: bool,
    pub format: CheckFormat,
    pub max_concurrency: usize,
}

/// The default output directory: per-user runtime dir (a tmpfs on systemd hosts), else `/run`.
#[must_use]
pub fn default_out_dir(xdg_runtime_dir: Option<&Path>) -> PathBuf {
    match xdg_runtime_dir {
        Some(dir) if dir.is_absolute() => dir.join("secret-render"),
        _ => PathBuf::from("/run/secret-render"),
    }
}

/// `--file-mode`: owner read (write is optional: files are replaced by rename, never written
/// in place, so `0400`/`0440` work), and at most read/write for the group (`--file-group`). No
/// bit for others (a secret readable by every user on the host is not a secret) and no execute
/// bit (these are data files).
fn parse_mode(text: &str) -> Result<u32, String> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if mode & !0o660 == 0 && mode & 0o400 != 0 => Ok(mode),
        Ok(mode) if mode <= 0o777 && mode & 0o400 != 0 => Err(format!(
            "--file-mode {text}: {} would be {}; at most 0660 (0640 with --file-group lets the target's group read)",
            if mode & 0o007 != 0 { "secret files" } else { "files" },
            if mode & 0o007 != 0 { "open to every user on the host" } else { "executable" },
        )),
        Ok(_) => Err(format!(
            "--file-mode {text}: must let the owner read (secret-render compares what it wrote) and have no bits beyond 0777"
        )),
        Err(_) => Err(format!("--file-mode {text}: not an octal mode like 0640")),
    }
}

fn output_options(args: &OutputArgs) -> Result<OutputOptions, String> {
    Ok(OutputOptions {
        file_mode: FileMode { mode: parse_mode(&args.file_mode)?, group: args.file_group },
        tmpfs: if args.require_tmpfs { TmpfsPolicy::Require } else { TmpfsPolicy::Warn },
    })
}

fn check_concurrency(max: usize) -> Result<usize, String> {
    if max == 0 { Err("--max-concurrency must be at least 1".into()) } else { Ok(max) }
}

impl RenderSettings {
    pub fn new(args: RenderArgs, global: &GlobalArgs) -> Result<Self, String> {
        Ok(Self {
            out: out_dir(args.out)?,
            output: output_options(&args.output)?,
            max_concurrency: check_concurrency(args.fetch.max_concurrency)?,
            configs: args.configs,
            target: global.target,
            stores: global.stores.clone(),
            file_roots: file_roots(global)?,
        })
    }
}

impl CheckSettings {
    pub fn new(args: CheckArgs, global: &GlobalArgs) -> Result<Self, String> {
        Ok(Self {
            max_concurrency: check_concurrency(args.fetch.max_concurrency)?,
            configs: args.configs,
            target: global.target,
            stores: global.stores.clone(),
            file_roots: file_roots(global)?,
            resolve: args.resolve,
            format: match args.format {
                CheckFormatArg::Human => CheckFormat::Human,
                CheckFormatArg::Json => CheckFormat::Json,
                CheckFormatArg::Github => CheckFormat::Github,
            },
        })
    }
}

fn file_roots(global: &GlobalArgs) -> Result<Vec<PathBuf>, String> {
    global
        .file_roots
        .iter()
        .map(|root| std::fs::canonicalize(root).map_err(|error| format!("--file-root {}: {error}", root.display())))
        .collect()
}

/// A URL flag's value, checked at start rather than at the first reload or poll: an http(s)
/// URL with a host.
fn http_url(flag: &str, url: String) -> Result<String, String> {
    // Shown without userinfo, query or fragment (a token may stand in either).
    let hidden = crate::redact::url(&url);
    let shown = hidden.split(['?', '#']).next().unwrap_or_default();
    match reqwest::Url::parse(&url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => Ok(url),
        Ok(_) => Err(format!("{flag} {shown}: not an http(s) URL")),
        Err(error) => Err(format!("{flag} {shown}: not an http(s) URL ({error})")),
    }
}

fn duration(flag: &str, text: &str) -> Result<Duration, String> {
    crate::duration::parse(text).map_err(|reason| format!("{flag}: {reason}"))
}

fn out_dir(out: Option<PathBuf>) -> Result<PathBuf, String> {
    let runtime_dir = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
    let out = out.unwrap_or_else(|| default_out_dir(runtime_dir.as_deref()));
    // The rendered config names secret files by absolute path: the target resolves relative
    // paths against the rendered config's directory, not our working directory.
    std::path::absolute(&out).map_err(|error| format!("--out {}: {error}", out.display()))
}

/// What `run` and `watch` share.
pub struct LoopSettings {
    pub out: PathBuf,
    pub output: OutputOptions,
    pub max_concurrency: usize,
    pub target: Option<TargetSpec>,
    pub stores: Option<PathBuf>,
    pub file_roots: Vec<PathBuf>,
    pub listen: Option<String>,
    pub reload_on: ReloadOn,
    pub debounce: Duration,
    pub start_partial: bool,
    pub watch_targets: Option<String>,
    pub watch_targets_interval: Duration,
}

impl LoopSettings {
    fn new(
        out: Option<PathBuf>,
        output: &OutputArgs,
        max_concurrency: usize,
        args: &LoopArgs,
        global: &GlobalArgs,
    ) -> Result<Self, String> {
        Ok(Self {
            out: out_dir(out)?,
            output: output_options(output)?,
            max_concurrency: check_concurrency(max_concurrency)?,
            target: global.target,
            stores: global.stores.clone(),
            file_roots: file_roots(global)?,
            listen: (args.listen != "off").then(|| args.listen.clone()),
            reload_on: match args.reload_on {
                ReloadOnArg::Any => ReloadOn::Any,
                ReloadOnArg::Config => ReloadOn::Config,
            },
            debounce: duration("--reload-debounce", &args.reload_debounce)?,
            start_partial: args.start_partial,
            watch_targets: args.watch_targets.clone().map(|url| http_url("--watch-targets", url)).transpose()?,
            watch_targets_interval: duration("--watch-targets-interval", &args.watch_targets_interval)?
                .max(Duration::from_secs(1)),
        })
    }
}

pub struct RunSettings {
    pub common: LoopSettings,
    pub stop_timeout: Duration,
    pub verify_reload: bool,
    pub program: OsString,
    pub args: Vec<OsString>,
}

impl RunSettings {
    pub fn new(args: RunArgs, global: &GlobalArgs) -> Result<Self, String> {
        let common = LoopSettings::new(args.out, &args.output, args.fetch.max_concurrency, &args.daemon, global)?;
        let mut command = args.command.into_iter();
        let program = command.next().ok_or("run needs a command after `--`")?;
        Ok(Self {
            common,
            stop_timeout: duration("--stop-timeout", &args.stop_timeout)?,
            // The flags override each other: the last one given is the one set.
            verify_reload: args.verify_reload || !args.no_verify_reload,
            program,
            args: command.collect(),
        })
    }
}

pub struct WatchSettings {
    pub common: LoopSettings,
    pub configs: Vec<PathBuf>,
    pub reload: Option<ReloadTarget>,
    pub verify_url: Option<String>,
}

impl WatchSettings {
    pub fn new(args: WatchArgs, global: &GlobalArgs) -> Result<Self, String> {
        let common = LoopSettings::new(args.out, &args.output, args.fetch.max_concurrency, &args.daemon, global)?;
        let reload = match (args.reload_pid, args.reload_pidfile, args.reload_url) {
            (Some(pid), _, _) => Some(ReloadTarget::Pid(pid)),
            (_, Some(file), _) => Some(ReloadTarget::PidFile(file)),
            (_, _, Some(url)) => Some(ReloadTarget::Url(http_url("--reload-url", url)?)),
            _ => None,
        };
        let verify_url = args.verify_url.map(|url| http_url("--verify-url", url)).transpose()?;
        Ok(Self { common, configs: args.configs, reload, verify_url })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_modes_parse_as_octal_and_keep_owner_read() {
        assert_eq!(parse_mode("0600"), Ok(0o600));
        assert_eq!(parse_mode("640"), Ok(0o640));
        assert_eq!(parse_mode("0o660"), Ok(0o660));
        assert_eq!(parse_mode("0400"), Ok(0o400));
        assert_eq!(parse_mode("0440"), Ok(0o440));
        for bad in ["0200", "0040", "4755", "rw", "0999", ""] {
            assert!(parse_mode(bad).is_err(), "{bad}");
        }
        for open in ["0644", "0604", "0666", "0700", "0750", "0777"] {
            assert!(parse_mode(open).is_err(), "{open}");
        }
    }

    #[test]
    fn the_last_of_verify_reload_and_no_verify_reload_wins() {
        let verify = |flags: &[&str]| run_settings(flags).verify_reload;
        assert!(verify(&[]));
        assert!(verify(&["--verify-reload"]));
        assert!(!verify(&["--no-verify-reload"]));
        assert!(verify(&["--no-verify-reload", "--verify-reload"]));
        assert!(!verify(&["--verify-reload", "--no-verify-reload"]));
    }

    /// `run` and `watch` settings from a command line, as `main` builds them.
    fn run_settings(flags: &[&str]) -> RunSettings {
        use clap::Parser as _;
        let mut argv = vec!["secret-render", "run"];
        argv.extend_from_slice(flags);
        argv.extend(["--", "prometheus", "--config.file=prometheus.yml"]);
        let cli = crate::cli::Cli::try_parse_from(argv).expect("valid arguments");
        let crate::cli::Command::Run(args) = cli.command else { unreachable!("a run command") };
        RunSettings::new(args, &cli.global).expect("valid settings")
    }

    fn watch_settings(flags: &[&str]) -> WatchSettings {
        try_watch_settings(flags).expect("valid settings")
    }

    /// [`WatchSettings::new`] on a command line clap accepts.
    fn try_watch_settings(flags: &[&str]) -> Result<WatchSettings, String> {
        use clap::Parser as _;
        let mut argv = vec!["secret-render", "watch", "prometheus.yml"];
        argv.extend_from_slice(flags);
        let cli = crate::cli::Cli::try_parse_from(argv).expect("valid arguments");
        let crate::cli::Command::Watch(args) = cli.command else { unreachable!("a watch command") };
        WatchSettings::new(args, &cli.global)
    }

    /// The documented defaults of the loop (README "Commands" and "Keeping values fresh").
    #[test]
    fn run_and_watch_defaults_are_the_documented_ones() {
        let run = run_settings(&[]);
        assert_eq!(run.stop_timeout, Duration::from_secs(30));
        for common in [&run.common, &watch_settings(&[]).common] {
            assert_eq!(common.listen.as_deref(), Some("127.0.0.1:9467"));
            assert_eq!(common.debounce, Duration::from_secs(1));
            assert_eq!(common.watch_targets_interval, Duration::from_secs(30));
            assert_eq!(common.max_concurrency, 16);
            assert_eq!(common.output.file_mode.mode, 0o600);
            assert_eq!(common.output.file_mode.group, None);
            assert_eq!(common.reload_on, ReloadOn::Any);
            assert!(!common.start_partial);
        }
    }

    #[test]
    fn url_flags_must_be_http_urls() {
        for flags in [
            &["--reload-url", "notaurl"][..],
            &["--reload-url", "127.0.0.1:9090/-/reload"],
            &["--verify-url", "ftp://host/metrics"],
            &["--watch-targets", "localhost:9090"],
        ] {
            let error = try_watch_settings(flags).err().unwrap_or_else(|| panic!("{flags:?} accepted"));
            assert!(error.starts_with(&format!("{} ", flags[0])) && error.contains("not an http(s) URL"), "{error}");
        }
        let watch =
            watch_settings(&["--reload-url", "http://127.0.0.1:9090/-/reload", "--watch-targets", "https://p:9090"]);
        assert!(matches!(watch.reload, Some(ReloadTarget::Url(_))));
        assert_eq!(watch.common.watch_targets.as_deref(), Some("https://p:9090"));
    }

    #[test]
    fn listen_off_turns_the_admin_listener_off() {
        assert_eq!(run_settings(&["--listen", "off"]).common.listen, None);
        assert_eq!(watch_settings(&["--listen", "off"]).common.listen, None);
        assert_eq!(watch_settings(&["--listen", "0.0.0.0:9999"]).common.listen.as_deref(), Some("0.0.0.0:9999"));
    }

    #[test]
    fn the_out_dir_defaults_to_the_runtime_dir() {
        assert_eq!(default_out_dir(Some(Path::new("/run/user/1000"))), Path::new("/run/user/1000/secret-render"));
        assert_eq!(default_out_dir(Some(Path::new("relative"))), Path::new("/run/secret-render"));
        assert_eq!(default_out_dir(None), Path::new("/run/secret-render"));
    }
}
