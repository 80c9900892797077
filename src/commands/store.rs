//! `secret-render store get|put|delete REF`: one secret read or written from a script. `REF` is a
//! provider map in YAML flow text (`'{vault: {path: prometheus/node, key: password}}'`), parsed
//! exactly as in a config. Values come from stdin or `--from-file`, never from the command line,
//! and are printed only with `--reveal`.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::configs;
use crate::exit::{ExitCode, Failure};
use crate::provider::{self, Content, Location, ProviderKind, ProviderSet, SecretSpec};
use crate::secret::Secret;
use crate::tree::{self, YamlPath};

/// A parsed `REF` and the client that serves it.
pub struct Target {
    pub spec: SecretSpec,
    pub providers: ProviderSet,
}

impl Target {
    /// The client for the ref's provider and store.
    pub fn provider(&self) -> Result<&std::sync::Arc<dyn provider::Provider>, Failure> {
        let kind = self.spec.location.kind();
        self.providers.get(kind, self.spec.location.store()).ok_or_else(|| {
            Failure::new(ExitCode::Config, format!("provider `{kind}` is not available in this build of secret-render"))
        })
    }
}

/// Parses `text` (a one-key provider map) with the stores of `stores_file`; relative `file` paths
/// resolve against the current directory.
pub fn parse_ref(text: &str, stores_file: Option<&Path>, file_roots: &[PathBuf]) -> Result<Target, Failure> {
    let config = |message: String| Failure::new(ExitCode::Config, format!("invalid REF: {message}"));
    let loaded = configs::load_all(&[], None, stores_file)
        .map_err(|issues| Failure::new(ExitCode::Config, configs::describe_issues("invalid stores file", &issues)))?;
    let document = tree::load(text).map_err(|error| config(error.to_string()))?;
    let entries = document.root.as_mapping().unwrap_or_default();
    let [entry] = entries else {
        return Err(config("write one provider map, e.g. '{vault: {path: app/db, key: password}}'".into()));
    };
    let name = entry.key.as_scalar().unwrap_or_default();
    let kind = ProviderKind::from_name(name).ok_or_else(|| {
        let known: Vec<&str> = ProviderKind::ALL.iter().map(|kind| kind.name()).collect();
        config(format!("unknown provider {name:?} (known: {})", known.join(", ")))
    })?;
    let dir = std::env::current_dir().map_err(|error| config(format!("cannot read the current directory: {error}")))?;
    let context = provider::ParseContext { config_dir: &dir, stores: &loaded.stores };
    let spec = provider::parse_spec(kind, &entry.value, &YamlPath::root().key(name), &context).map_err(|problems| {
        config(problems.iter().map(|problem| problem.message.clone()).collect::<Vec<_>>().join("; "))
    })?;
    let providers = crate::stores::build_providers(&loaded.stores, [&spec], 1, file_roots)
        .map_err(|errors| Failure::new(ExitCode::Config, format!("invalid store settings: {}", errors.join("; "))))?;
    Ok(Target { spec, providers })
}

/// `store get`: metadata (keys, version, lengths) or, with `reveal`, the value itself.
pub async fn get(target: &mut Target, version: Option<u64>, reveal: bool) -> Result<(), Failure> {
    if let Some(version) = version {
        match &mut target.spec.location {
            Location::Vault(location) => location.version = Some(version),
            other => {
                return Err(Failure::new(
                    ExitCode::Usage,
                    format!("--version is supported for vault KV v2 only, not `{}`", other.kind()),
                ));
            }
        }
    }
    let provider = target.provider()?;
    let fetched = provider.fetch(&target.spec.location).await.map_err(fetch_failure)?;
    let key = target.spec.key.as_deref();
    // A `key` the document lacks fails as under `--reveal`: listing the other keys and exiting 0
    // would tell a script the secret is there. Without a `key`, the keys are the answer.
    if reveal || key.is_some() {
        let value = fetched.select(key, &target.spec.location).map_err(fetch_failure)?;
        if reveal {
            let mut stdout = std::io::stdout().lock();
            let _ = std::io::Write::write_all(&mut stdout, value.expose());
            let _ = std::io::Write::flush(&mut stdout);
            return Ok(());
        }
    }
    let mut text = format!("{}\n", target.spec.location);
    match &fetched.content {
        Content::Value(value) => {
            text.push_str(&format!("value: {} bytes\n", value.len()));
            // A JSON object read whole (a store's structured secret named without `key`): its
            // keys, as a body's `key` would pick them.
            if let Ok(fields) = crate::provider::json_object::fields(value.expose()) {
                for (name, field) in &fields {
                    text.push_str(&format!("key {name}: {} bytes\n", field.len()));
                }
            }
        }
        Content::Fields(fields) => {
            for (name, value) in fields {
                let picked = if key == Some(name.as_str()) { " (selected)" } else { "" };
                text.push_str(&format!("key {name}: {} bytes{picked}\n", value.len()));
            }
        }
    }
    super::print(&text);
    Ok(())
}

/// `store put`: the value from `from_file`, else stdin.
pub async fn put(target: &Target, from_file: Option<&Path>) -> Result<(), Failure> {
    let (value, source) = match from_file {
        Some(path) => {
            let bytes = crate::provider::file::read_regular_file(path)
                .map_err(|error| Failure::new(ExitCode::Usage, format!("cannot read {}: {error}", path.display())))?;
            (bytes.to_vec(), path.display().to_string())
        }
        None => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|error| Failure::new(ExitCode::Usage, format!("cannot read stdin: {error}")))?;
            (bytes, "standard input".to_owned())
        }
    };
    // An empty value is nearly always a mistake (a pipe from a command that failed), and once
    // written it is what every renderer serves.
    if value.is_empty() {
        return Err(Failure::new(ExitCode::Usage, format!("nothing to write: {source} is empty")));
    }
    if value.last().is_some_and(u8::is_ascii_whitespace) {
        tracing::warn!(
            "the value from {source} ends with whitespace (`echo` adds a newline: use `printf %s`), which is \
             written as it is"
        );
    }
    let value = Secret::new(value);
    let outcome = target
        .provider()?
        .put(&target.spec.location, target.spec.key.as_deref(), &value)
        .await
        .map_err(write_failure)?;
    super::print(&format!("wrote {}{}\n", target.spec.describe(), version_text(outcome.version.as_deref())));
    Ok(())
}

/// `store delete`.
pub async fn delete(target: &Target) -> Result<(), Failure> {
    let outcome =
        target.provider()?.delete(&target.spec.location, target.spec.key.as_deref()).await.map_err(delete_failure)?;
    let note = outcome.note.map(|note| format!("; {note}")).unwrap_or_default();
    super::print(&format!("deleted {}{}{note}\n", target.spec.describe(), version_text(outcome.version.as_deref())));
    Ok(())
}

pub(crate) fn version_text(version: Option<&str>) -> String {
    version.map(|version| format!(", new version {version}")).unwrap_or_default()
}

pub(crate) fn fetch_failure(error: provider::ProviderError) -> Failure {
    Failure::new(ExitCode::Fetch, error.to_string())
}

/// A write that failed: 3 when REF must name a `key`, else 5 (a missing mount or path is a
/// write that cannot be made, not a secret to read).
pub(crate) fn write_failure(error: provider::ProviderError) -> Failure {
    let code = match error {
        provider::ProviderError::KeyRequired { .. } => ExitCode::Config,
        _ => ExitCode::Output,
    };
    Failure::new(code, format!("cannot write: {}", error.describe_write()))
}

/// A deletion that failed: 4 when what it deletes is not there (a secret, or its `key`), as
/// `store get` says of it; else as [`write_failure`].
fn delete_failure(error: provider::ProviderError) -> Failure {
    use provider::ProviderError::{MissingKey, NotFound};
    match error {
        NotFound { .. } | MissingKey { .. } => {
            Failure::new(ExitCode::Fetch, format!("cannot delete: {}", error.describe_write()))
        }
        other => write_failure(other),
    }
}
