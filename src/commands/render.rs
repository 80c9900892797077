//! `secret-render render`: resolve once, write the secret files and the rendered configs, print
//! the rendered paths.

use std::path::PathBuf;
use std::sync::Arc;

use crate::configs::{self, Config, Issue};
use crate::exit::{ExitCode, Failure};
use crate::output::{OutputDir, StagedSecrets};
use crate::provider::{Location, ProviderKind, ProviderSet, StoreRef};
use crate::render;
use crate::resolve::{self, Fetches};
use crate::secret::Secret;
use crate::settings::RenderSettings;
use crate::stores;
use crate::tree::{Node, Template};

pub async fn run(settings: &RenderSettings) -> Result<(), Failure> {
    crate::output::refuse_to_replace_configs(&settings.out, &settings.configs).map_err(crate::output::unusable_dir)?;
    let max_concurrency = settings.max_concurrency;
    // Fetching starts while the configs are still being parsed: each provider map that a
    // remote store answers with one request is fetched as soon as the parser has read it (see
    // `configs::load_all_watching` for which), so the store works while the rest is parsed.
    let file_roots = settings.file_roots.clone();
    let (early, early_fetches) =
        resolve::fetch_as_sent(move |kind| stores::default_store(kind, max_concurrency, &file_roots), max_concurrency);
    let early_fetches = AbortOnDrop(early_fetches);
    let (paths, target, stores_file) = (settings.configs.clone(), settings.target, settings.stores.clone());
    let loaded = tokio::task::spawn_blocking(move || {
        configs::load_all_watching(&paths, target, stores_file.as_deref(), &mut |spec| {
            if fetched_early(&spec.location) {
                // A send fails only when the fetching task has stopped, which it does not
                // before this ends: nothing to do about it but fetch the value later.
                let _ = early.send(spec.location);
            }
        })
    })
    .await
    .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()))
    .map_err(|issues| Failure::new(ExitCode::Config, configs::describe_issues("invalid configuration", &issues)))?;
    let providers = providers_for(&loaded, max_concurrency, &settings.file_roots)?;
    let out = OutputDir::open(&settings.out, &settings.output).map_err(crate::output::unusable_dir)?;
    let out = Arc::new(out);
    let locations = resolve::distinct_locations(loaded.specs());
    // The configs are rendered up to their values on a second thread while the values are
    // fetched, which needs none of them and slows them little (README, Performance). The
    // source trees are taken rather than copied: nothing reads them afterwards.
    let mut configs = loaded.configs;
    let secrets_dir = out.secrets_dir();
    let read_ahead = Arc::clone(&out);
    let preparing = tokio::task::spawn_blocking(move || {
        // What the secret files hold now, so that after the last fetch only comparisons are
        // left of the check that leaves an unchanged file alone.
        let held = read_ahead.read_held_secrets(secret_files(&configs));
        let named_before = named_by_last_rendering(&read_ahead, &configs, &secrets_dir);
        let templates: Vec<Template> = configs
            .iter_mut()
            .map(|config| {
                let mut root = std::mem::replace(&mut config.document.root, Node::null());
                let template = config.prepare(&mut root, &secrets_dir);
                // Nothing reads the tree again and the process ends soon, so it is not freed
                // node by node. It holds no fetched value.
                std::mem::forget(root);
                template
            })
            .collect();
        (configs, templates, held, named_before)
    });
    // The other stores' locations are fetched beside the early ones; any the early fetches
    // missed (a map read inside a `!literal` one and aliased outside it) after them.
    let (early, others): (Vec<Location>, Vec<Location>) = locations.into_iter().partition(fetched_early);
    let (mut fetches, fetched_others) =
        tokio::join!(early_fetches.finish(), resolve::fetch_locations(others, &providers, max_concurrency));
    fetches.extend(fetched_others);
    let missed: Vec<Location> = early.into_iter().filter(|location| !fetches.contains(location)).collect();
    if !missed.is_empty() {
        tracing::debug!(missed = missed.len(), "fetching the secrets not read early");
        fetches.extend(resolve::fetch_locations(missed, &providers, max_concurrency).await);
    }
    tracing::debug!(locations = fetches.len(), "fetched each distinct secret location once");
    let (configs, templates, held, named_before) =
        preparing.await.unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()));
    let values = values_of(&configs, &fetches)
        .map_err(|issues| Failure::new(ExitCode::Fetch, configs::describe_issues("cannot fetch secrets", &issues)))?;
    let written = write_all(&configs, &templates, values, &out, out.stage_secrets_over(held))?;
    remove_unnamed(&out, &configs, &named_before);
    let mut listing = String::new();
    for (config, path) in configs.iter().zip(written) {
        tracing::info!(config = %config.source.display(), rendered = %path.display(), secrets = config.sites.len(), "rendered");
        listing.push_str(&path.to_string_lossy());
        listing.push('\n');
    }
    super::print(&listing);
    // The process ends next: the configs and templates, which hold no fetched value, are left
    // to the exit rather than freed piece by piece. Everything holding a value is dropped (and
    // zeroed) as usual.
    std::mem::forget(configs);
    std::mem::forget(templates);
    Ok(())
}

/// The names of the secret files `configs` are rendered with.
fn secret_files(configs: &[Config]) -> impl Iterator<Item = &str> {
    configs.iter().flat_map(|config| &config.placements).filter_map(|placement| match placement {
        render::Placement::File { file, .. } => Some(file.as_str()),
        render::Placement::Inline => None,
    })
}

/// The secret files that the renderings of `configs` found in `out` name (a `"DIR/secrets/NAME"`
/// value, as written): those the new renderings do not name are their fields' that left the
/// config, removed once the new ones are written ([`remove_unnamed`]).
pub(crate) fn named_by_last_rendering(
    out: &OutputDir,
    configs: &[Config],
    secrets_dir: &std::path::Path,
) -> Vec<String> {
    let prefix = format!("\"{}/", secrets_dir.display());
    let mut names = Vec::new();
    for config in configs {
        let Some(text) = out.read_existing(std::path::Path::new(&config.name)) else { continue };
        let Ok(text) = std::str::from_utf8(&text) else { continue };
        for (at, _) in text.match_indices(&prefix) {
            let rest = &text[at + prefix.len()..];
            if let Some(name) = rest.split('"').next().filter(|name| !name.is_empty() && !name.contains(['/', '\\'])) {
                names.push(name.to_owned());
            }
        }
    }
    names
}

/// Removes the secret files in `named_before` that no config rendered now names: a field taken
/// out of a config must not leave its value on the tmpfs. Another config's files (never named by
/// these configs' renderings) are not touched. A failure is a warning: the rendering is done.
fn remove_unnamed(out: &OutputDir, configs: &[Config], named_before: &[String]) {
    let named: std::collections::HashSet<&str> = secret_files(configs).collect();
    // With the previous value a `watch` kept beside it for its grace period.
    let unnamed = named_before.iter().filter(|name| !named.contains(name.as_str()));
    for name in unnamed.flat_map(|name| [name.clone(), format!("{name}.previous")]) {
        let relative = std::path::Path::new(crate::output::SECRETS_DIR).join(&name);
        if out.identity(&relative).is_none() {
            continue;
        }
        match out.remove_secret(&name) {
            Ok(()) => {
                tracing::info!(file = %out.secret_path(&name).display(), "removed a secret file no field names now")
            }
            Err(error) => tracing::warn!(%error, "cannot remove a secret file no field names now"),
        }
    }
}

/// Whether `location` is fetched as soon as the parser has read it: a location in the
/// environment-configured store of a remote store that answers each location with a request
/// of its own. Not AWS, which reads up to 20 secrets a request once all are known; not `exec`,
/// which runs a plugin once for all its ids; not `file` and `env`, which wait on nothing.
fn fetched_early(location: &Location) -> bool {
    matches!(location.store(), StoreRef::Default)
        && matches!(
            location.kind(),
            ProviderKind::Vault
                | ProviderKind::Kubernetes
                | ProviderKind::GcpSecretManager
                | ProviderKind::AzureKeyVault
        )
}

/// The early fetches, stopped if `render` ends before it waits for them (an invalid config):
/// nothing more is fetched for a render that has failed.
struct AbortOnDrop(tokio::task::JoinHandle<resolve::Fetches>);

impl AbortOnDrop {
    /// The early results; none when the task was cancelled (the runtime shutting down), which
    /// leaves every location to be fetched the usual way.
    async fn finish(mut self) -> resolve::Fetches {
        match (&mut self.0).await {
            Ok(fetches) => fetches,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_) => resolve::Fetches::default(),
        }
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One client per store the configs use.
pub fn providers_for(
    loaded: &configs::Loaded,
    max_concurrency: usize,
    file_roots: &[std::path::PathBuf],
) -> Result<ProviderSet, Failure> {
    stores::build_providers(&loaded.stores, loaded.specs(), max_concurrency, file_roots).map_err(|errors| {
        let mut message =
            format!("invalid store settings ({} problem{}):", errors.len(), if errors.len() == 1 { "" } else { "s" });
        for error in errors {
            message.push_str("\n  ");
            message.push_str(&error);
        }
        Failure::new(ExitCode::Config, message)
    })
}

/// The value of every site of every config, or every fetch failure.
pub fn values_of(configs: &[Config], fetches: &Fetches) -> Result<Vec<Vec<Option<Secret>>>, Vec<Issue>> {
    let mut issues = Vec::new();
    let values = configs
        .iter()
        .map(|config| {
            config
                .sites
                .iter()
                .filter_map(|site| match fetches.value_for(&site.spec) {
                    Ok(value) => Some(Some(value)),
                    Err(error) => {
                        issues.push(Issue {
                            file: config.source.clone(),
                            line: Some(site.mark.line),
                            path: Some(site.path.clone()),
                            message: format!("{}: {error}", site.spec.location.kind()),
                        });
                        None
                    }
                })
                .collect()
        })
        .collect();
    if issues.is_empty() { Ok(values) } else { Err(issues) }
}

/// Completes every config's template (see [`Config::prepare`]) with its values and writes all
/// secret files, through `staged` (from `out`), before any config that names them. Returns the
/// rendered configs' paths.
///
/// Every config is completed before anything is written, so a refused value writes nothing;
/// then the secret files of all of them move into place together, with one sync of `secrets/`.
pub fn write_all(
    configs: &[Config],
    templates: &[Template],
    values: Vec<Vec<Option<Secret>>>,
    out: &OutputDir,
    mut staged: StagedSecrets<'_>,
) -> Result<Vec<PathBuf>, Failure> {
    let mut rendered = Vec::with_capacity(configs.len());
    let mut issues = Vec::new();
    for ((config, template), values) in configs.iter().zip(templates).zip(values) {
        match render::complete(template, &config.sites, &config.placements, values) {
            Ok(result) => {
                for warning in &result.warnings {
                    tracing::warn!(config = %config.source.display(), "{warning}");
                }
                rendered.push(result)
            }
            Err(problems) => issues.extend(problems.into_iter().map(|problem| Issue::at(&config.source, problem))),
        }
    }
    if !issues.is_empty() {
        return Err(Failure::new(ExitCode::Fetch, configs::describe_issues("cannot use fetched secrets", &issues)));
    }
    let files: Vec<(&str, &[u8])> = rendered
        .iter()
        .flat_map(|result| &result.secret_files)
        .map(|file| (file.name.as_str(), file.value.expose()))
        .collect();
    staged.stage_all(&files)?;
    staged.commit()?;
    let mut paths = Vec::with_capacity(configs.len());
    for (config, result) in configs.iter().zip(&rendered) {
        let path = out.write_config(&config.name, result.config.expose())?;
        let inlined = config.placements.iter().filter(|p| **p == render::Placement::Inline).count();
        tracing::debug!(
            config = %config.source.display(),
            rendered = %path.display(),
            target = %config.profile.kind,
            secrets = config.sites.len(),
            inlined,
            "rendered config"
        );
        paths.push(path);
    }
    Ok(paths)
}
