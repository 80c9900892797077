//! `secret-render render`: resolve once, write the secret files and the rendered configs, print
//! the rendered paths.

use std::path::PathBuf;

use crate::configs::{self, Config, Issue};
use crate::exit::{ExitCode, Failure};
use crate::output::OutputDir;
use crate::provider::ProviderSet;
use crate::render;
use crate::resolve::{self, Fetches};
use crate::secret::Secret;
use crate::settings::RenderSettings;
use crate::stores;
use crate::tree::Node;

pub async fn run(settings: &RenderSettings) -> Result<(), Failure> {
    let loaded = configs::load_all(&settings.configs, settings.target, settings.stores.as_deref())
        .map_err(|issues| Failure::new(ExitCode::Config, configs::describe_issues("invalid configuration", &issues)))?;
    let providers = providers_for(&loaded, settings.max_concurrency, &settings.file_roots)?;
    let out = OutputDir::open(&settings.out, &settings.output)
        .map_err(|error| Failure::new(ExitCode::Output, format!("cannot use the output directory: {error}")))?;
    let fetches = resolve::fetch_all(loaded.specs(), &providers, settings.max_concurrency).await;
    let mut configs = loaded.configs;
    tracing::debug!(locations = fetches.len(), "fetched each distinct secret location once");
    let values = values_of(&configs, &fetches)
        .map_err(|issues| Failure::new(ExitCode::Fetch, configs::describe_issues("cannot fetch secrets", &issues)))?;
    // Rendering takes each source tree rather than a copy: nothing reads them afterwards.
    let trees = configs.iter_mut().map(|config| std::mem::replace(&mut config.document.root, Node::null())).collect();
    let written = write_all(&configs, trees, values, &out)?;
    let mut listing = String::new();
    for (config, path) in configs.iter().zip(written) {
        tracing::info!(config = %config.source.display(), rendered = %path.display(), secrets = config.sites.len(), "rendered");
        listing.push_str(&path.to_string_lossy());
        listing.push('\n');
    }
    super::print(&listing);
    Ok(())
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

/// Renders every config and writes all secret files before any config that names them.
/// Returns the rendered configs' paths.
///
/// The secret files are staged on a second thread while the configs render on this one: both
/// are a large render's own work after the last fetch, and nothing else wants the other core
/// by then. They are moved into place only once every config rendered, so a refused value
/// writes nothing.
pub fn write_all(
    configs: &[Config],
    trees: Vec<Node>,
    mut values: Vec<Vec<Option<Secret>>>,
    out: &OutputDir,
) -> Result<Vec<PathBuf>, Failure> {
    // The renderer names each file-placed value's file in the config; the value itself goes to
    // the staging thread.
    let mut files = Vec::new();
    for (config, values) in configs.iter().zip(&mut values) {
        for (placement, value) in config.placements.iter().zip(values) {
            if let render::Placement::File { file, .. } = placement
                && let Some(value) = value.take()
            {
                files.push((file.as_str(), value));
            }
        }
    }
    let secrets_dir = out.secrets_dir();
    let render_all = || {
        let mut rendered = Vec::with_capacity(configs.len());
        let mut issues = Vec::new();
        for ((config, tree), values) in configs.iter().zip(trees).zip(values) {
            match render::render(&config.render_source(), tree, &config.sites, &config.placements, values, &secrets_dir)
            {
                Ok(result) => rendered.push(result),
                Err(problems) => {
                    issues.extend(problems.into_iter().map(|problem| Issue::at(&config.source, problem)));
                }
            }
        }
        (rendered, issues)
    };
    let stage_files = || {
        let mut staged = out.stage_secrets();
        files.iter().try_for_each(|(name, value)| staged.stage(name, value.expose())).map(|()| staged)
    };
    let ((rendered, issues), staged) = std::thread::scope(|scope| {
        let staging = scope.spawn(stage_files);
        let rendered = render_all();
        (rendered, staging.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    });
    if !issues.is_empty() {
        return Err(Failure::new(ExitCode::Fetch, configs::describe_issues("cannot use fetched secrets", &issues)));
    }
    staged.and_then(crate::output::StagedSecrets::commit)?;
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
