//! Named stores: the `secret_stores` key of a config or of the `--stores` file, the store a
//! provider map selects, bootstrapped secrets in a store's auth (resolved before it logs in, with
//! cycles refused), and building one client per store actually used.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::configs::Issue;
use crate::provider::vault::{self, Auth, VaultStore};
use crate::provider::{Body, ParseContext, Problem, Provider, ProviderKind, ProviderSet, SecretSpec, StoreRef};
use crate::provider::{aws, kubernetes};
use crate::provider::{azure, gcp};
use crate::tree::scan::STORES_KEY;
use crate::tree::{Mark, Node, NodeKind, YamlPath};

/// A store's provider-specific settings. Each provider with stores adds a variant and the arms of
/// the functions below; nothing else in this file knows a provider.
#[derive(Clone, Debug)]
pub enum StoreSettings {
    Vault(vault::StoreSettings),
    Kubernetes(kubernetes::StoreSettings),
    AwsSecretsManager(aws::StoreSettings),
    Gcp(gcp::StoreSettings),
    Azure(azure::StoreSettings),
}

impl StoreSettings {
    /// Parses a store's settings except `auth`; `None` for a provider without stores here.
    fn parse(kind: ProviderKind, body: &mut Body<'_>, dir: &Path) -> Option<(Self, &'static [&'static str])> {
        match kind {
            ProviderKind::Vault => Some((Self::Vault(vault::parse_store_settings(body, dir)), vault::STORE_KEYS)),
            ProviderKind::Kubernetes => {
                Some((Self::Kubernetes(kubernetes::parse_store_settings(body, dir)), kubernetes::STORE_KEYS))
            }
            ProviderKind::AwsSecretsManager => {
                Some((Self::AwsSecretsManager(aws::parse_store_settings(body)), aws::STORE_KEYS))
            }
            ProviderKind::GcpSecretManager => Some((Self::Gcp(gcp::parse_store_settings(body, dir)), gcp::STORE_KEYS)),
            ProviderKind::AzureKeyVault => {
                Some((Self::Azure(azure::parse_store_settings(body, dir)), azure::STORE_KEYS))
            }
            _ => None,
        }
    }

    /// Parses `auth`, once every store is known (its bootstrapped secrets may name any of them).
    fn parse_auth(&mut self, node: &Node, path: &YamlPath, context: &ParseContext<'_>) -> Result<(), Vec<Problem>> {
        match self {
            Self::Vault(settings) => {
                settings.auth = Auth::parse(node, path, context)?;
                Ok(())
            }
            // Their clients authenticate from the environment (service account, kubeconfig, the
            // AWS chain), configured by the store's other settings.
            Self::Kubernetes(_) | Self::AwsSecretsManager(_) => Err(vec![Problem {
                path: path.clone(),
                mark: node.mark,
                message: "this store takes no `auth`: credentials come from the environment and the store's settings"
                    .into(),
            }]),
            Self::Gcp(_) => Err(vec![Problem {
                path: path.clone(),
                mark: node.mark,
                message:
                    "a `gcp_secret_manager` store takes no `auth`: give `credentials_file` (a service-account key \
                          or authorized-user JSON file), or leave it out for application default credentials"
                        .into(),
            }]),
            Self::Azure(settings) => {
                settings.auth = azure::Auth::parse(node, path, context)?;
                Ok(())
            }
        }
    }

    /// Every bootstrapped secret of the store's auth, with where it is written.
    fn bootstrap_specs(&self) -> Vec<(&SecretSpec, &YamlPath)> {
        match self {
            Self::Vault(settings) => settings.auth.bootstrap_specs(),
            Self::Kubernetes(_) | Self::AwsSecretsManager(_) => Vec::new(),
            Self::Gcp(_) => Vec::new(),
            Self::Azure(settings) => settings.auth.bootstrap_specs(),
        }
    }
}

/// Providers whose clients are built per store (the others are in [`ProviderSet::standard`]).
fn has_stores(kind: ProviderKind) -> bool {
    // A table rather than a match: with every feature on, a match of `cfg!`s is all `true`.
    let built = [
        (ProviderKind::Vault, true),
        (ProviderKind::Kubernetes, cfg!(feature = "kubernetes")),
        (ProviderKind::AwsSecretsManager, cfg!(feature = "aws")),
        (ProviderKind::GcpSecretManager, cfg!(feature = "gcp")),
        (ProviderKind::AzureKeyVault, cfg!(feature = "azure")),
    ];
    built.contains(&(kind, true))
}

/// The client of `kind`'s environment-configured store, as [`build_providers`] builds it for
/// the specs that name no store; `None` for a kind without stores or when it cannot be built.
#[must_use]
pub fn default_store(kind: ProviderKind, max_concurrency: usize, file_roots: &[PathBuf]) -> Option<Arc<dyn Provider>> {
    if !has_stores(kind) {
        return None;
    }
    build_store(kind, StoreRef::Default, None, max_concurrency, bootstrap_providers(file_roots)).ok()
}

/// The providers a store's login may read its own secrets from before any store is built: the
/// standard ones, with `file` confined to `file_roots`.
fn bootstrap_providers(file_roots: &[PathBuf]) -> ProviderSet {
    let mut set = ProviderSet::standard();
    set.insert(Arc::new(crate::provider::file::FileProvider::rooted(file_roots.to_vec())));
    set
}

/// Builds one store's client; `settings` is `None` for the environment-configured store.
fn build_store(
    kind: ProviderKind,
    store: StoreRef,
    settings: Option<&StoreSettings>,
    max_concurrency: usize,
    bootstrap: ProviderSet,
) -> Result<Arc<dyn Provider>, String> {
    match (kind, settings) {
        (ProviderKind::Vault, settings) => {
            let settings = match (settings, &store) {
                (Some(StoreSettings::Vault(settings)), _) => settings.clone(),
                (None, StoreRef::Address(address)) => vault::environment_settings(Some(address.clone())),
                // Another provider's settings never reach here: `select` checks the kind.
                _ => vault::environment_settings(None),
            };
            Ok(Arc::new(VaultStore::new(store, &settings, max_concurrency, bootstrap)?))
        }
        #[cfg(feature = "kubernetes")]
        (ProviderKind::Kubernetes, settings) => {
            let settings = match settings {
                Some(StoreSettings::Kubernetes(settings)) => settings.clone(),
                _ => kubernetes::StoreSettings::default(),
            };
            Ok(Arc::new(kubernetes::KubernetesStore::new(store, &settings)))
        }
        #[cfg(feature = "aws")]
        (ProviderKind::AwsSecretsManager, settings) => {
            let settings = match settings {
                Some(StoreSettings::AwsSecretsManager(settings)) => settings.clone(),
                _ => aws::StoreSettings::default(),
            };
            Ok(Arc::new(aws::AwsStore::new(store, &settings)))
        }
        #[cfg(feature = "gcp")]
        (ProviderKind::GcpSecretManager, settings) => {
            let settings = match settings {
                Some(StoreSettings::Gcp(settings)) => settings.clone(),
                _ => gcp::StoreSettings::default(),
            };
            Ok(Arc::new(gcp::GcpStore::new(store, &settings, max_concurrency)?))
        }
        #[cfg(feature = "azure")]
        (ProviderKind::AzureKeyVault, settings) => {
            let settings = match settings {
                Some(StoreSettings::Azure(settings)) => settings.clone(),
                _ => azure::StoreSettings::default(),
            };
            Ok(Arc::new(azure::AzureStore::new(store, &settings, max_concurrency, bootstrap)?))
        }
        (other, _) => Err(format!("provider `{other}` has no stores in this build")),
    }
}

/// One store definition.
#[derive(Clone, Debug)]
pub struct StoreDef {
    pub name: String,
    pub kind: ProviderKind,
    /// `secret_stores.NAME`, for messages.
    pub path: YamlPath,
    pub mark: Mark,
    /// The file that defines it.
    pub file: PathBuf,
    pub refresh_interval: Option<Duration>,
    pub grace_period: Option<Duration>,
    pub settings: StoreSettings,
}

impl StoreDef {
    #[must_use]
    pub fn vault(&self) -> Option<&vault::StoreSettings> {
        match &self.settings {
            StoreSettings::Vault(settings) => Some(settings),
            _ => None,
        }
    }

    #[must_use]
    pub fn gcp(&self) -> Option<&gcp::StoreSettings> {
        match &self.settings {
            StoreSettings::Gcp(settings) => Some(settings),
            _ => None,
        }
    }

    #[must_use]
    pub fn azure(&self) -> Option<&azure::StoreSettings> {
        match &self.settings {
            StoreSettings::Azure(settings) => Some(settings),
            _ => None,
        }
    }

    /// The stores this one needs to log in (bootstrapped secrets fetched through them).
    fn dependencies(&self) -> Vec<(StoreRef, ProviderKind, &YamlPath)> {
        self.settings
            .bootstrap_specs()
            .into_iter()
            .filter(|(spec, _)| has_stores(spec.location.kind()))
            .map(|(spec, path)| (spec.location.store().clone(), spec.location.kind(), path))
            .collect()
    }
}

/// A file that may define stores.
pub struct StoreSource<'a> {
    pub file: &'a Path,
    pub dir: &'a Path,
    pub root: &'a Node,
}

/// Every store defined by the configs and the `--stores` file.
#[derive(Clone, Debug, Default)]
pub struct StoreRegistry {
    stores: BTreeMap<String, StoreDef>,
    /// Stores whose definitions did not parse (already reported), with their provider when it
    /// could be read: a provider map naming one is not reported again as naming an undefined
    /// store, and one naming none is not matched to another store of that provider alone.
    broken: BTreeMap<String, Option<ProviderKind>>,
}

impl StoreRegistry {
    /// The store a provider map uses: the one it names, else the provider's only store, else the
    /// provider's environment defaults (`None`).
    /// `Err(None)`: the store named is one whose definition is broken, reported there.
    pub fn select(&self, kind: ProviderKind, name: Option<&str>) -> Result<Option<&StoreDef>, Option<String>> {
        if let Some(name) = name {
            return match self.stores.get(name) {
                Some(store) if store.kind == kind => Ok(Some(store)),
                Some(store) => Err(Some(format!("store `{name}` is a `{}` store, not `{kind}`", store.kind))),
                None if self.broken.contains_key(name) => Err(None),
                None => Err(Some(format!("store `{name}` is not defined under `{STORES_KEY}`"))),
            };
        }
        let broken_of_kind =
            self.broken.iter().filter(|(_, broken)| **broken == Some(kind)).map(|(name, _)| name.as_str());
        let mut candidates = self.stores.values().filter(|store| store.kind == kind);
        match (candidates.next(), candidates.next(), broken_of_kind.clone().next()) {
            (None, _, _) => Ok(None),
            (Some(only), None, None) => Ok(Some(only)),
            _ => {
                let mut names: Vec<&str> =
                    self.stores.values().filter(|store| store.kind == kind).map(|store| store.name.as_str()).collect();
                names.extend(broken_of_kind);
                names.sort_unstable();
                Err(Some(format!("there are several `{kind}` stores ({}): name one with `store:`", names.join(", "))))
            }
        }
    }

    #[must_use]
    pub fn get(&self, name: &str) -> Option<&StoreDef> {
        self.stores.get(name)
    }

    /// Reads the stores of every source, or every problem found in them.
    pub fn load(sources: &[StoreSource<'_>]) -> Result<Self, Vec<Issue>> {
        let (registry, issues, _) = Self::load_partial(sources);
        if issues.is_empty() { Ok(registry) } else { Err(issues) }
    }

    /// Reads the stores of every source: the registry, every problem found, and whether every
    /// store defined is known despite them: in the registry (a problem in a store's `auth`, a
    /// store defined twice or a bootstrap cycle leaves it there) or by name among the broken
    /// ones (its definition does not parse); only a `secret_stores` that is not a mapping hides
    /// which stores there are. A complete registry can still check the configs' provider maps,
    /// so their own problems are listed beside the stores' without a spurious "not defined".
    pub fn load_partial(sources: &[StoreSource<'_>]) -> (Self, Vec<Issue>, bool) {
        let mut registry = Self::default();
        let mut issues = Vec::new();
        let mut complete = true;
        let mut auth_nodes: Vec<(String, Node, YamlPath, PathBuf)> = Vec::new();
        for source in sources {
            let Some(stores) = source.root.get(STORES_KEY) else { continue };
            let path = YamlPath::root().key(STORES_KEY);
            let entries = match &stores.kind {
                NodeKind::Mapping(entries) => entries.as_slice(),
                _ if stores.is_null() => &[],
                _ => {
                    issues.push(issue(
                        source.file,
                        &path,
                        stores.mark,
                        format!("`{STORES_KEY}` must be a mapping of store names"),
                    ));
                    complete = false;
                    continue;
                }
            };
            for entry in entries {
                let name = entry.key.as_scalar().unwrap_or_default().to_owned();
                let store_path = path.key(&name);
                match parse_definition(&name, &entry.value, &store_path, source) {
                    Ok((def, auth)) => {
                        if let Some(first) = registry.stores.get(&name) {
                            let message = format!("store `{name}` is defined twice (also in {})", first.file.display());
                            issues.push(issue(source.file, &store_path, entry.key.mark, message));
                            continue;
                        }
                        if let Some(auth) = auth {
                            auth_nodes.push((
                                name.clone(),
                                auth,
                                store_path.key(def.kind.name()).key("auth"),
                                source.dir.to_owned(),
                            ));
                        }
                        registry.stores.insert(name, def);
                    }
                    Err(problems) => {
                        issues.extend(problems.into_iter().map(|problem| Issue::at(source.file, problem)));
                        let kind = entry.value.as_mapping().and_then(|entries| match entries {
                            [only] => only.key.as_scalar().and_then(ProviderKind::from_name),
                            _ => None,
                        });
                        registry.broken.insert(name, kind);
                    }
                }
            }
        }
        // Auth is read once every store is known: its bootstrapped secrets may name any of them.
        let mut parsed = Vec::new();
        for (name, node, path, dir) in &auth_nodes {
            let context = ParseContext { config_dir: dir, stores: &registry };
            let mut settings = registry.stores[name].settings.clone();
            match settings.parse_auth(node, path, &context) {
                Ok(()) => parsed.push((name.clone(), settings)),
                Err(problems) => {
                    let file = registry.stores[name].file.clone();
                    issues.extend(problems.into_iter().map(|problem| Issue::at(&file, problem)));
                }
            }
        }
        for (name, settings) in parsed {
            if let Some(store) = registry.stores.get_mut(&name) {
                store.settings = settings;
            }
        }
        issues.extend(registry.cycles());
        (registry, issues, complete)
    }

    /// A bootstrap cycle (store a logs in with a secret from b, which logs in with one from a)
    /// can never resolve: report each, naming every link's YAML path.
    fn cycles(&self) -> Vec<Issue> {
        let mut issues = Vec::new();
        let mut reported = BTreeSet::new();
        for start in self.stores.keys() {
            let mut chain: Vec<(String, String)> = Vec::new();
            self.find_cycle(start, &mut chain, &mut issues, &mut reported);
        }
        issues
    }

    fn find_cycle(
        &self,
        name: &str,
        chain: &mut Vec<(String, String)>,
        issues: &mut Vec<Issue>,
        reported: &mut BTreeSet<BTreeSet<String>>,
    ) {
        if let Some(position) = chain.iter().position(|(store, _)| store == name) {
            let members: BTreeSet<String> = chain[position..].iter().map(|(store, _)| store.clone()).collect();
            if reported.insert(members) {
                let links: Vec<String> = chain[position..]
                    .iter()
                    .enumerate()
                    .map(|(index, (store, at))| {
                        let next = chain.get(position + index + 1).map_or(name, |(next, _)| next.as_str());
                        format!("store `{store}` logs in with a secret from store `{next}` ({at})")
                    })
                    .collect();
                let store = &self.stores[name];
                issues.push(issue(
                    &store.file,
                    &store.path,
                    store.mark,
                    format!("bootstrap cycle: {}", links.join(", and ")),
                ));
            }
            return;
        }
        let Some(store) = self.stores.get(name) else { return };
        for (dependency, _, at) in store.dependencies() {
            if let StoreRef::Named(next) = dependency {
                chain.push((name.to_owned(), at.to_string()));
                self.find_cycle(&next, chain, issues, reported);
                chain.pop();
            }
        }
    }
}

fn issue(file: &Path, path: &YamlPath, mark: Mark, message: String) -> Issue {
    Issue::at(file, Problem { path: path.clone(), mark, message })
}

/// Parses `NAME: {PROVIDER: {settings}}` except `auth`, which is returned for the second pass.
fn parse_definition(
    name: &str,
    node: &Node,
    path: &YamlPath,
    source: &StoreSource<'_>,
) -> Result<(StoreDef, Option<Node>), Vec<Problem>> {
    let problem = |message: String| vec![Problem { path: path.clone(), mark: node.mark, message }];
    let [entry] = node.as_mapping().unwrap_or_default() else {
        return Err(problem(format!(
            "store `{name}` must be a mapping with one provider key, e.g. `vault: {{address: …}}`"
        )));
    };
    let provider = entry.key.as_scalar().unwrap_or_default();
    let kind = match ProviderKind::from_name(provider) {
        Some(ProviderKind::Vault) => ProviderKind::Vault,
        Some(kind @ (ProviderKind::Kubernetes | ProviderKind::AwsSecretsManager)) if has_stores(kind) => kind,
        Some(kind @ (ProviderKind::GcpSecretManager | ProviderKind::AzureKeyVault)) if has_stores(kind) => kind,
        Some(other @ (ProviderKind::File | ProviderKind::Env | ProviderKind::Exec)) => {
            return Err(problem(format!(
                "`{other}` has no stores: its provider maps say everything it needs (named stores are for vault, \
                 kubernetes, aws_secrets_manager, gcp_secret_manager and azure_key_vault)"
            )));
        }
        Some(other) => {
            return Err(problem(format!("`{other}` stores are not available in this build of secret-render")));
        }
        None => return Err(problem(format!("unknown provider `{provider}` for store `{name}`"))),
    };
    let settings_path = path.key(provider);
    let mut body = Body::new(format!("`{kind}` store settings"), &settings_path, &entry.value);
    if !matches!(entry.value.kind, NodeKind::Mapping(_)) {
        return Err(problem(format!("the settings of store `{name}` must be a mapping")));
    }
    let refresh_interval = body.interval("refresh_interval");
    let grace_period = body.duration("grace_period");
    let auth = body.node("auth").cloned();
    let (settings, keys) = StoreSettings::parse(kind, &mut body, source.dir).expect("has_stores(kind)");
    let accepted: Vec<&str> = keys.iter().copied().chain(["refresh_interval", "grace_period"]).collect();
    body.finish(&accepted, false)?;
    let def = StoreDef {
        name: name.to_owned(),
        kind,
        path: path.clone(),
        mark: entry.key.mark,
        file: source.file.to_owned(),
        refresh_interval,
        grace_period,
        settings,
    };
    Ok((def, auth))
}

/// Builds a client for every store the specs use (and the stores those need to log in), each
/// given the clients it may bootstrap from. Errors name the store.
pub fn build_providers<'a>(
    registry: &StoreRegistry,
    specs: impl IntoIterator<Item = &'a SecretSpec>,
    max_concurrency: usize,
    file_roots: &[PathBuf],
) -> Result<ProviderSet, Vec<String>> {
    let mut needed = BTreeSet::new();
    for spec in specs {
        if has_stores(spec.location.kind()) {
            needed.insert((spec.location.kind(), spec.location.store().clone()));
        }
    }
    // Depth-first, dependencies first; `load` has refused cycles.
    fn visit(entry: &(ProviderKind, StoreRef), registry: &StoreRegistry, order: &mut Vec<(ProviderKind, StoreRef)>) {
        if order.contains(entry) {
            return;
        }
        if let StoreRef::Named(name) = &entry.1
            && let Some(def) = registry.get(name)
        {
            for (dependency, kind, _) in def.dependencies() {
                visit(&(kind, dependency), registry, order);
            }
        }
        order.push(entry.clone());
    }
    let mut order = Vec::new();
    for entry in &needed {
        visit(entry, registry, &mut order);
    }
    let mut set = bootstrap_providers(file_roots);
    let mut errors = Vec::new();
    for (kind, store) in order {
        let settings = match &store {
            StoreRef::Named(name) => match registry.get(name) {
                Some(def) => Some(&def.settings),
                None => continue,
            },
            StoreRef::Default | StoreRef::Address(_) => None,
        };
        match build_store(kind, store, settings, max_concurrency, set.clone()) {
            Ok(client) => set.insert(client),
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() { Ok(set) } else { Err(errors) }
}
