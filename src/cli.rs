//! The command-line definition (clap derive). Doc comments here are the `--help` text, the man
//! page and the shell completions. `render`, `check`, `run` and `watch` get their checked
//! settings from `settings.rs`; `lib.rs` hands the other commands their arguments itself.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::render::TargetSpec;

/// Render secrets from stores into Prometheus-style YAML configs, and keep them fresh.
///
/// Write a provider map wherever a secret goes (`password: {file: {path: secrets/pw}}`);
/// secret-render fetches each one, writes it to a 0600 file on a tmpfs and points the field's
/// `*_file` sibling at it, inlining only where the target has no `_file` form.
#[derive(Debug, Parser)]
#[command(name = "secret-render", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The program that reads the rendered config, and its version: `prometheus`,
    /// `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file`
    /// sibling. Default: detected from each config's shape, at the oldest version known.
    #[arg(long, global = true, value_name = "TARGET[@VERSION]")]
    pub target: Option<TargetSpec>,

    /// A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared
    /// by several configs.
    #[arg(long, global = true, value_name = "FILE")]
    pub stores: Option<PathBuf>,

    /// Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this
    /// directory; repeatable. Default: any path.
    #[arg(long = "file-root", global = true, value_name = "DIR")]
    pub file_roots: Vec<PathBuf>,

    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// More log detail (-v debug, -vv trace). Secret values are never logged at any level.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Less log detail (-q warnings only, -qq errors only).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub quiet: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Resolve every secret once, write the secret files and the rendered configs, and print
    /// the rendered configs' paths.
    ///
    /// Exit codes: 0 success, 2 usage, 3 invalid config (all problems listed), 4 a secret could
    /// not be fetched (all failures listed), 5 output could not be written.
    Render(RenderArgs),

    /// Validate every provider map and the rendered result without fetching: placeholder values
    /// are rendered into a private temporary directory and checked with `promtool`/`amtool`
    /// when they are on PATH.
    ///
    /// Exit codes: 0 valid, 3 invalid config, 4 a secret could not be fetched (`--resolve`),
    /// 6 the rendered config was rejected by promtool/amtool.
    Check(CheckArgs),

    /// Wrap a target's command line: render the configs named by its `--config.file` and
    /// `--web.config.file`, point those arguments at the rendered copies, start it once every
    /// secret has a value, keep values fresh and reload it (SIGHUP) when something changed.
    ///
    /// Example: `secret-render run -- prometheus --config.file=/etc/prometheus/prometheus.yml`.
    /// SIGTERM, SIGINT and SIGQUIT are passed on to the target; SIGHUP re-reads the
    /// configuration and then reloads the target. Exits with the target's exit code, or 128+N
    /// when it died of signal N.
    Run(RunArgs),

    /// Keep rendered configs fresh without a child (the sidecar after an init container): the
    /// same loop as `run`, reloading a process by pid or pid file, or by an HTTP POST.
    ///
    /// Runs until SIGTERM or SIGINT (exit 0). Exits at start with 2 on a usage error (a busy
    /// `--listen` address), 3 on an invalid config, 5 on an unusable output directory; a secret
    /// that cannot be fetched is retried, and reported by `/-/ready` and the metrics.
    Watch(WatchArgs),

    /// Move inline secrets into a store and rewrite the config to provider maps, changing only
    /// the secret values' text (comments, blank lines, key order and quoting are kept).
    ///
    /// A dry run (the default) prints a unified diff with `<redacted>` in place of each value
    /// and, read from the store, what `--write` would do at each destination; it writes nothing.
    /// Exit codes: 0 success, 2 usage, 3 invalid config or a conflicting stored value, 4 the
    /// store could not be read, 5 the store, the config or the backup could not be written.
    Extract(ExtractArgs),

    /// Write a new random value (from the OS CSPRNG) as a new version of a secret; the previous
    /// version stays readable where the store keeps versions. Prints what it did, never the value.
    ///
    /// REF is a provider map in YAML flow text, as in a config:
    /// `secret-render rotate '{vault: {path: prometheus/node, key: password}}'`. With
    /// `--bcrypt-web-config FILE --user NAME` the user's bcrypt hash in that Prometheus web config
    /// (the receiving side) is replaced too, every other byte of the file kept.
    /// The secret is read first: one that does not exist, or lacks the `key`, is an error unless
    /// `--create` is given (a typo must not create a secret no one reads).
    /// Exit codes: 0 success, 2 usage, 3 invalid REF or web config (a secret of several keys
    /// needs `key`), 4 the secret or key does not exist or cannot be read, 5 the store or file
    /// could not be written.
    Rotate(RotateArgs),

    /// Read, write or delete one secret from a script. Values are read from stdin or
    /// `--from-file`, never from the command line, and printed only with `--reveal`.
    ///
    /// Exit codes: 0 success, 2 usage, 3 invalid REF (a whole write over a secret of several
    /// keys needs `key`), 4 the secret or key to get or delete does not exist or cannot be read,
    /// 5 the store could not be written.
    #[command(subcommand)]
    Store(StoreCommand),

    /// Print a shell completion script.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Print the man page in roff (for the whole tool, or for one subcommand).
    Man {
        /// A subcommand to print the page of.
        subcommand: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The configs to render. Each is written to the output directory under its own file name.
    #[arg(required = true, value_name = "CONFIG")]
    pub configs: Vec<PathBuf>,

    /// Output directory, created 0700 [default: $XDG_RUNTIME_DIR/secret-render, else
    /// /run/secret-render]. Refused when it is a symlink, owned by another user, or writable by
    /// group or others.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub fetch: FetchArgs,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Fail (exit 5) instead of warning when the output directory is not on tmpfs or ramfs.
    #[arg(long)]
    pub require_tmpfs: bool,

    /// Mode of secret files and rendered configs, in octal (for a target running as another
    /// user: `0640` with `--file-group`; read-only `0400`/`0440` work too); at most 0660: nothing
    /// for others, no execute bit.
    #[arg(long, value_name = "MODE", default_value = "0600")]
    pub file_mode: String,

    /// Group (numeric id) to give secret files and rendered configs.
    #[arg(long, value_name = "GID", value_parser = group_id)]
    pub file_group: Option<u32>,
}

/// `--file-group`: a numeric group id. A name is refused with the way to look its id up:
/// resolving it would need the C library's NSS, and the target's group is often one the host
/// running the init container does not know by name.
fn group_id(text: &str) -> Result<u32, String> {
    text.parse().map_err(|_| {
        if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
            "not a group id (too large)".to_owned()
        } else {
            format!("a numeric group id is needed, not a name (look it up with `getent group {text} | cut -d: -f3`)")
        }
    })
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Most concurrent fetches per provider and store.
    #[arg(long, value_name = "N", default_value_t = crate::resolve::DEFAULT_MAX_CONCURRENCY)]
    pub max_concurrency: usize,
}

#[derive(Debug, Args)]
pub struct LoopArgs {
    /// Admin HTTP listener: /metrics, /-/healthy, /-/ready, POST /-/refresh[?secret=NAME].
    /// `off` disables it.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9467")]
    pub listen: String,

    /// Reload on `any` change (a rendered config or a secret value), or only when a rendered
    /// `config` changed (Prometheus re-reads `*_file` secrets on every request).
    #[arg(long, value_enum, default_value_t = ReloadOnArg::Any)]
    pub reload_on: ReloadOnArg,

    /// Changes within this window make one reload (Go-style duration).
    #[arg(long, value_name = "DURATION", default_value = "1s")]
    pub reload_debounce: String,

    /// Start (or keep going) even when some secrets were never fetched: their `_file` paths
    /// point at files that do not exist yet, so only the components that need them fail.
    #[arg(long)]
    pub start_partial: bool,

    /// Poll this Prometheus's targets API and refresh a job's secrets at once when its targets
    /// fail with HTTP 401/403 (e.g. `http://127.0.0.1:9090`).
    #[arg(long, value_name = "URL")]
    pub watch_targets: Option<String>,

    /// How often `--watch-targets` polls.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub watch_targets_interval: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReloadOnArg {
    Any,
    Config,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Output directory for the rendered configs and secret files, as for `render`
    /// [default: $XDG_RUNTIME_DIR/secret-render, else /run/secret-render].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub fetch: FetchArgs,

    #[command(flatten)]
    pub daemon: LoopArgs,

    /// After SIGTERM/SIGINT/SIGQUIT is forwarded, how long the target may take to stop before
    /// SIGKILL (a second SIGINT/SIGTERM sends SIGKILL at once).
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub stop_timeout: String,

    /// Confirm each reload through the target's `/metrics`
    /// (`prometheus_config_last_reload_successful` and its success timestamp): the default for
    /// Prometheus and Alertmanager, unless their web config asks for TLS or basic auth.
    #[arg(long, overrides_with = "no_verify_reload")]
    pub verify_reload: bool,

    /// Do not confirm reloads through the target's `/metrics`.
    #[arg(long, overrides_with = "verify_reload")]
    pub no_verify_reload: bool,

    /// The target's command line.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The configs to keep rendered.
    #[arg(required = true, value_name = "CONFIG")]
    pub configs: Vec<PathBuf>,

    /// Output directory: the init container's `render --out` [default: $XDG_RUNTIME_DIR/secret-render,
    /// else /run/secret-render].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub fetch: FetchArgs,

    #[command(flatten)]
    pub daemon: LoopArgs,

    /// Send SIGHUP to this process on reload.
    // Not 0: kill(0, SIGHUP) would signal our own process group, which we take as "re-read
    // the config", once per reload, for ever.
    #[arg(long, value_name = "PID", group = "reload_target", value_parser = clap::value_parser!(u32).range(1..=i64::from(i32::MAX)))]
    pub reload_pid: Option<u32>,

    /// Send SIGHUP to the process whose pid this file holds (re-read on every reload).
    #[arg(long, value_name = "FILE", group = "reload_target")]
    pub reload_pidfile: Option<PathBuf>,

    /// POST to this URL on reload (e.g. `http://127.0.0.1:9090/-/reload`).
    #[arg(long, value_name = "URL", group = "reload_target")]
    pub reload_url: Option<String>,

    /// Confirm each reload through this `/metrics` URL of the target.
    #[arg(long, value_name = "URL")]
    pub verify_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// The config holding inline secrets.
    #[arg(value_name = "CONFIG")]
    pub config: PathBuf,

    /// Where the values go: a store under `secret_stores` (in the config or `--stores`), or a
    /// provider with its environment defaults (`vault`: VAULT_ADDR/VAULT_TOKEN, mount `secret`;
    /// `aws_secrets_manager`, `kubernetes`, `gcp_secret_manager`).
    #[arg(long, value_name = "STORE")]
    pub to: String,

    /// Store path of each value; the last `/` separates the key. Placeholders: `{config}` (file
    /// stem), `{job}`/`{job_name}` (enclosing `job_name`/`name`, else the parent path), `{field}`,
    /// `{path}` (the whole YAML path).
    #[arg(long, value_name = "T", default_value = crate::commands::extract::DEFAULT_TEMPLATE)]
    pub path_template: String,

    /// Write the values and replace the config atomically (default: print the diff only).
    #[arg(long)]
    pub write: bool,

    /// With `--write`, keep the original as `CONFIG.bak-<unix time>` (mode 0600).
    #[arg(long, requires = "write")]
    pub backup: bool,

    /// Replace store keys that already hold a different value.
    #[arg(long)]
    pub overwrite: bool,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The secret: a provider map in YAML flow text, e.g. `{vault: {path: app/db, key: password}}`.
    #[arg(value_name = "REF")]
    pub reference: String,

    /// Length of the new value, in characters.
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub length: usize,

    /// Characters the new value is drawn from.
    #[arg(long, value_enum, default_value_t = CharsetArg::Alnum)]
    pub charset: CharsetArg,

    /// A Prometheus web config whose `basic_auth_users` entry for `--user` gets the new value's
    /// bcrypt hash (cost 10).
    #[arg(long, value_name = "FILE", requires = "user")]
    pub bcrypt_web_config: Option<PathBuf>,

    /// The user of `--bcrypt-web-config`.
    #[arg(long, value_name = "NAME", requires = "bcrypt_web_config")]
    pub user: Option<String>,

    /// Write the value even when the secret or its key does not exist yet (it is created), or
    /// cannot be read first (a role allowed to write and not to read).
    #[arg(long)]
    pub create: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CharsetArg {
    /// A-Z, a-z, 0-9.
    Alnum,
    /// 0-9, a-f.
    Hex,
    /// A-Z, a-z, 0-9, `-`, `_`.
    #[value(name = "base64url")]
    Base64Url,
    /// Printable ASCII except space, quotes, backquote and backslash.
    Printable,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Show a secret's keys and lengths (never the value), or with `--reveal` the value itself.
    Get {
        /// The secret: a provider map in YAML flow text.
        #[arg(value_name = "REF")]
        reference: String,

        /// Read this version (Vault KV v2).
        #[arg(long, value_name = "N")]
        version: Option<u64>,

        /// Print the value to stdout.
        #[arg(long)]
        reveal: bool,
    },

    /// Write a value (from stdin, or `--from-file`) as a new version of the secret, byte for
    /// byte: a final newline is written too (and warned about; `printf %s` has none). With `key`
    /// the secret's other keys are kept; without, a secret of several keys is refused.
    Put {
        /// The secret: a provider map in YAML flow text.
        #[arg(value_name = "REF")]
        reference: String,

        /// Read the value from this file instead of stdin.
        #[arg(long, value_name = "FILE")]
        from_file: Option<PathBuf>,
    },

    /// Delete the secret's `key` (as a new version), or without a key its current version.
    Delete {
        /// The secret: a provider map in YAML flow text.
        #[arg(value_name = "REF")]
        reference: String,
    },
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The configs to check.
    #[arg(required = true, value_name = "CONFIG")]
    pub configs: Vec<PathBuf>,

    /// Also fetch every secret, proving each exists; the report shows no values.
    #[arg(long)]
    pub resolve: bool,

    /// Report format: `github` prints workflow commands that annotate the config in a pull request.
    #[arg(long, value_enum, default_value_t = CheckFormatArg::Human)]
    pub format: CheckFormatArg,

    #[command(flatten)]
    pub fetch: FetchArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormatArg {
    Human,
    Json,
    Github,
}
