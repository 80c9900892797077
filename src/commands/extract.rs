//! `secret-render extract`: moves inline secrets into a store and rewrites the config to
//! provider maps, editing only the bytes of each secret value (see [`crate::tree::spans`]), so
//! comments, blank lines, key order and quoting stay as they were. A dry run (the default) prints
//! a unified diff with `<redacted>` in place of every value and, for each, what the store holds
//! there now and so what `--write` would do; it writes nothing.
//!
//! With `--write`, every destination is read first through the providers (`store_all`): a
//! key already holding another value is a conflict, and nothing is written unless
//! `--overwrite`; the values then go through each provider's own write side
//! ([`crate::provider::Provider::put`]), and only after that is the config replaced.

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::configs;
use crate::exit::{ExitCode, Failure};
use crate::provider::{ParseContext, ProviderError, ProviderKind, SecretSpec};
use crate::render::{Profile, TargetKind, TargetSpec};
use crate::secret::Secret;
use crate::stores::StoreRegistry;
use crate::tree::{self, Node, NodeKind, PathSegment, YamlPath};

/// The default `--path-template`: `prometheus/node/password`.
pub const DEFAULT_TEMPLATE: &str = "{config}/{job}/{field}";

#[derive(Debug)]
pub struct ExtractSettings {
    pub config: PathBuf,
    pub store: String,
    pub stores: Option<PathBuf>,
    pub file_roots: Vec<PathBuf>,
    pub template: String,
    pub write: bool,
    pub backup: bool,
    pub overwrite: bool,
    pub target: Option<TargetSpec>,
}

/// One inline secret found in the config. `Debug` is not derived: `value` is a secret.
struct Found {
    path: YamlPath,
    span: Range<usize>,
    value: String,
    /// The store path (`prometheus/node`) and key (`password`).
    location: (String, String),
    /// The provider map that replaces the value (`{vault: {path: …, key: …}}`).
    map: String,
    /// The other secret fields that reach this value through a YAML alias.
    aliased_at: Vec<YamlPath>,
}

fn config_error(message: String) -> Failure {
    Failure::new(ExitCode::Config, message)
}

pub async fn run(settings: &ExtractSettings) -> Result<(), Failure> {
    check_template(&settings.template).map_err(|message| Failure::new(ExitCode::Usage, message))?;
    let file = &settings.config;
    let text = std::fs::read_to_string(file)
        .map_err(|error| config_error(format!("cannot read {}: {error}", file.display())))?;
    // The marks the spans come from count from after a byte order mark; it is written back.
    let (bom, source) = match text.strip_prefix(tree::BYTE_ORDER_MARK) {
        Some(rest) => (tree::BYTE_ORDER_MARK.to_string(), rest.to_owned()),
        None => (String::new(), text),
    };
    let document = tree::load(&source).map_err(|error| config_error(format!("{}: {error}", file.display())))?;
    let kind = settings.target.map_or_else(|| TargetKind::detect(&document.root), |spec| spec.kind);
    let profile = Profile::new(kind, settings.target.and_then(|spec| spec.version));
    let config_name = file.file_stem().map_or_else(|| "config".to_owned(), |stem| sanitize(&stem.to_string_lossy()));
    let found =
        find_inline(&source, &document.root, &profile, &config_name, &settings.template).map_err(|problems| {
            config_error(format!("{}: cannot extract:\n  {}", file.display(), problems.join("\n  ")))
        })?;
    if found.is_empty() {
        super::print(&format!("{}: no inline secrets to extract\n", file.display()));
        return Ok(());
    }
    let destination = Destination::resolve(settings)?;
    let found = found
        .into_iter()
        .map(|mut item| {
            item.map = destination.provider_map(&item.location)?;
            Ok(item)
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    let mut problems = name_collisions(&found, &destination);
    // Each provider map as a config would parse it, once: a path the template makes that the
    // store cannot take (`..` segments) is found out by the dry run too, as the configuration
    // error it is, not only by `--write`.
    let mut specs = Vec::with_capacity(found.len());
    for item in &found {
        match destination.spec(&item.map) {
            Ok(spec) => specs.push(spec),
            Err(failure) => problems.push(format!("{}: {}", item.path, failure.message)),
        }
    }
    if !problems.is_empty() {
        return Err(config_error(format!("{}: cannot extract:\n  {}", file.display(), problems.join("\n  "))));
    }
    let edited = rewrite(&source, &found);
    let mut report = diff(file, &source, &edited, &found);
    if !settings.write {
        report.push_str(&dry_run_notes(&found, &specs, &destination, settings).await);
        super::print(&report);
        return Ok(());
    }
    check_writable(file, settings.backup)?;
    let written = store_all(&found, &specs, &destination, settings).await?;
    // The values are stored: a failure from here on says so, and what a rerun does.
    let stored_already = |failure: Failure| {
        let mut message = format!(
            "{}\nthe store already holds every value (a rerun finds them there, writes no new version and only \
             rewrites the config):",
            failure.message
        );
        for line in &written {
            message.push_str(&format!("\n  {line}"));
        }
        Failure::new(failure.code, message)
    };
    // An edit made to the config while the values were stored would be lost under the rewrite.
    let original = format!("{bom}{source}");
    if std::fs::read_to_string(file).ok().as_deref() != Some(original.as_str()) {
        return Err(stored_already(Failure::new(
            ExitCode::Output,
            format!("{} changed while extract ran: it is not rewritten, so that change is kept", file.display()),
        )));
    }
    let backup = if settings.backup { Some(write_backup(file, &original).map_err(stored_already)?) } else { None };
    replace_atomically(file, &format!("{bom}{edited}")).map_err(stored_already)?;
    for line in written {
        report.push_str(&format!("# {line}\n"));
    }
    if let Some(backup) = backup {
        report.push_str(&format!("# backup: {}\n", backup.display()));
    }
    super::print(&report);
    Ok(())
}

/// Values that would land in one place of the destination though their store paths differ: a
/// store's names fold paths together (Kubernetes lowercases and turns `/` and `_` into `-`,
/// Secret Manager turns `/` and `.` into `_`, Key Vault every other character into `-`), so
/// `node_exporter` and `node-exporter` become one Secret, and the second value was never
/// stored while its field was pointed at the first.
fn name_collisions(found: &[Found], destination: &Destination) -> Vec<String> {
    found
        .iter()
        .enumerate()
        .filter_map(|(index, item)| {
            let other = found[..index].iter().find(|other| other.map == item.map && other.value != item.value)?;
            Some(format!(
                "{} and {} both map to {} with different values: {} names {} and {} alike; use a path template \
                 with {{path}}",
                other.path,
                item.path,
                item.map,
                destination.describe(),
                other.location.0,
                item.location.0
            ))
        })
        .collect()
}

/// Every inline (scalar, non-null) value at a secret field of the target's schema.
fn find_inline(
    source: &str,
    root: &Node,
    profile: &Profile,
    config_name: &str,
    template: &str,
) -> Result<Vec<Found>, Vec<String>> {
    let sites = inline_secret_sites(root, profile);
    let mut problems = Vec::new();
    let mut found: Vec<Found> = Vec::new();
    let mut aliases = Vec::new();
    for (path, node) in sites {
        let value = node.as_scalar().unwrap_or_default().to_owned();
        if let Some(name) = tree::spans::alias_name(source, node) {
            aliases.push((path, name, value));
            continue;
        }
        let span = match tree::spans::scalar_span(source, node) {
            Ok(span) => span,
            Err(message) => {
                problems.push(format!("{path}: {message}"));
                continue;
            }
        };
        // Inside a mapping or sequence reached through an alias (`basic_auth: *shared`, a merge
        // key `<<: *defaults`), the value is the anchored one's text: rewritten once, where it
        // is written, every alias follows.
        if let Some(anchored) = found.iter_mut().find(|other| other.span == span) {
            anchored.aliased_at.push(path);
            continue;
        }
        let expanded = expand(template, config_name, &path);
        let Some((store_path, key)) = expanded.rsplit_once('/').filter(|(p, k)| !p.is_empty() && !k.is_empty()) else {
            problems.push(format!("{path}: the path template gives {expanded:?}, which has no `PATH/KEY` form"));
            continue;
        };
        let location = (store_path.to_owned(), key.to_owned());
        if let Some(other) = found.iter().find(|other| other.location == location && other.value != value) {
            problems.push(format!(
                "{path} and {} both map to {store_path}/{key} with different values; use a path template with {{path}}",
                other.path
            ));
            continue;
        }
        found.push(Found { path, span, value, location, map: String::new(), aliased_at: Vec::new() });
    }
    // A scalar alias (`password: *pw`) follows its anchored value when that is moved too;
    // otherwise the value stays where it is written, which is no secret field.
    for (path, name, value) in aliases {
        match found
            .iter_mut()
            .find(|item| item.value == value && tree::spans::is_anchored_as(source, item.span.start, name))
        {
            Some(anchored) => anchored.aliased_at.push(path),
            None => problems.push(format!(
                "{path}: the value is the alias `*{name}`, whose anchored value is written at no secret field; \
                 move that value by hand (extract rewrites a value where it is written, and its aliases follow)"
            )),
        }
    }
    if problems.is_empty() { Ok(found) } else { Err(problems) }
}

/// Every inline value (a non-null scalar) at a secret field of `profile`'s schema, with its path:
/// what `extract` moves, and what `check` warns about and keeps out of its tools' output.
#[must_use]
pub fn inline_secret_sites<'a>(root: &'a Node, profile: &Profile) -> Vec<(YamlPath, &'a Node)> {
    let mut sites = Vec::new();
    walk(root, &mut YamlPath::root(), profile, &mut sites);
    sites
}

fn walk<'a>(node: &'a Node, path: &mut YamlPath, profile: &Profile, sites: &mut Vec<(YamlPath, &'a Node)>) {
    match &node.kind {
        NodeKind::Mapping(entries) => {
            for entry in entries {
                let Some(key) = entry.key.as_scalar() else { continue };
                if path.segments().is_empty() && key == crate::tree::scan::STORES_KEY {
                    continue;
                }
                path.push(PathSegment::Key(key.to_owned()));
                walk(&entry.value, path, profile, sites);
                path.pop();
            }
        }
        NodeKind::Sequence(items) => {
            for (index, item) in items.iter().enumerate() {
                let label = ["job_name", "name"]
                    .into_iter()
                    .find_map(|field| Some((field.to_owned(), item.get(field)?.as_scalar()?.to_owned())));
                path.push(PathSegment::Item { index, label });
                walk(item, path, profile, sites);
                path.pop();
            }
        }
        NodeKind::Scalar { .. } if !node.is_null() && profile.is_secret_field(path) => sites.push((path.clone(), node)),
        NodeKind::Scalar { .. } | NodeKind::Slot(_) => {}
    }
}

/// File-name-safe: what the store path may hold. A value of dots alone (`..`, a job named so)
/// would be a path segment no store takes; its dots become underscores.
fn sanitize(text: &str) -> String {
    let safe: String =
        text.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') { c } else { '_' }).collect();
    if safe.chars().all(|c| c == '.') { safe.replace('.', "_") } else { safe }
}

/// The placeholders [`expand`] fills in.
const PLACEHOLDERS: [&str; 5] = ["{config}", "{job}", "{job_name}", "{field}", "{path}"];

/// A `--path-template` whose every `{…}` is one of [`PLACEHOLDERS`]: a misspelt one would
/// otherwise be kept as written in every store path (`{cfg}/node/password`).
fn check_template(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let inside = &rest[open + 1..];
        // The placeholder ends at the next `}`, unless another `{` comes first.
        let close = inside
            .find(['{', '}'])
            .filter(|&at| inside[at..].starts_with('}'))
            .ok_or_else(|| format!("--path-template: `{{` without a closing `}}` in {template:?}"))?;
        let placeholder = &rest[open..open + close + 2];
        if !PLACEHOLDERS.contains(&placeholder) {
            return Err(format!(
                "--path-template: unknown placeholder `{placeholder}` (known: {})",
                PLACEHOLDERS.join(", ")
            ));
        }
        rest = &inside[close + 1..];
    }
    Ok(())
}

/// `{config}`, `{job}`/`{job_name}` (the enclosing labelled item, else the parent path),
/// `{field}` (the last key; an item index is appended) and `{path}` (the whole path's slug).
fn expand(template: &str, config_name: &str, path: &YamlPath) -> String {
    let job = path
        .segments()
        .iter()
        .rev()
        .find_map(|segment| match segment {
            PathSegment::Item { label: Some((_, name)), .. } => Some(sanitize(name)),
            _ => None,
        })
        .unwrap_or_else(|| path.parent().slug());
    let mut field = String::new();
    for segment in path.segments().iter().rev() {
        match segment {
            PathSegment::Key(key) => {
                field.insert_str(0, &sanitize(key));
                break;
            }
            PathSegment::Item { index, .. } => field.insert_str(0, &format!("_{index}")),
        }
    }
    template
        .replace("{config}", config_name)
        .replace("{job_name}", &job)
        .replace("{job}", &job)
        .replace("{field}", &field)
        .replace("{path}", &path.slug())
}

/// A flow scalar for the provider map: plain when that is unambiguous, else double-quoted.
fn flow_scalar(text: &str) -> String {
    let plain = text.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'));
    if plain { text.to_owned() } else { serde_json::Value::String(text.to_owned()).to_string() }
}

fn rewrite(source: &str, found: &[Found]) -> String {
    let mut edited = source.to_owned();
    let mut by_start: Vec<&Found> = found.iter().collect();
    by_start.sort_by_key(|item| std::cmp::Reverse(item.span.start));
    for item in by_start {
        edited.replace_range(item.span.clone(), &item.map);
    }
    edited
}

/// A unified diff of the changed lines (each edit stays on its line), values redacted.
fn diff(file: &Path, source: &str, edited: &str, found: &[Found]) -> String {
    let mut redacted = source.to_owned();
    let mut by_start: Vec<&Found> = found.iter().collect();
    by_start.sort_by_key(|item| std::cmp::Reverse(item.span.start));
    for item in by_start {
        redacted.replace_range(item.span.clone(), "<redacted>");
    }
    let name = file.display();
    let mut out = format!("--- {name}\n+++ {name}\n");
    for (number, ((before, after), shown)) in source.lines().zip(edited.lines()).zip(redacted.lines()).enumerate() {
        if before != after {
            let line = number + 1;
            out.push_str(&format!("@@ -{line} +{line} @@\n-{shown}\n+{after}\n"));
        }
    }
    out
}

/// Where `--to` sends the values: a provider with its environment defaults, or a named store
/// (from the config's `secret_stores` or `--stores`).
struct Destination {
    kind: ProviderKind,
    store: Option<String>,
    stores: StoreRegistry,
    dir: PathBuf,
}

impl Destination {
    fn resolve(settings: &ExtractSettings) -> Result<Self, Failure> {
        let loaded =
            configs::load_all(std::slice::from_ref(&settings.config), settings.target, settings.stores.as_deref())
                .map_err(|issues| config_error(configs::describe_issues("invalid configuration", &issues)))?;
        let dir = loaded.configs.first().map(|config| config.dir.clone()).unwrap_or_default();
        let (kind, store) = match ProviderKind::from_name(&settings.store) {
            Some(kind) => (kind, None),
            None => match loaded.stores.get(&settings.store) {
                Some(store) => (store.kind, Some(settings.store.clone())),
                None => {
                    return Err(Failure::new(
                        ExitCode::Usage,
                        format!("--to {:?} is neither a provider nor a store under `secret_stores`", settings.store),
                    ));
                }
            },
        };
        Ok(Self { kind, store, stores: loaded.stores, dir })
    }

    fn describe(&self) -> String {
        match &self.store {
            Some(store) => format!("{} store {store}", self.kind),
            None => self.kind.to_string(),
        }
    }

    /// The provider map that names `path`/`key` in this destination.
    fn provider_map(&self, (path, key): &(String, String)) -> Result<String, Failure> {
        let store = self.store.as_ref().map(|store| format!("store: {}, ", flow_scalar(store))).unwrap_or_default();
        let (kind, field, name) = match self.kind {
            ProviderKind::Vault => ("vault", "path", path.clone()),
            ProviderKind::AwsSecretsManager => ("aws_secrets_manager", "secret_id", path.clone()),
            // Secret names: DNS subdomains for Kubernetes, [A-Za-z0-9_-] for Secret Manager.
            ProviderKind::Kubernetes => ("kubernetes", "name", path.to_ascii_lowercase().replace(['/', '_'], "-")),
            ProviderKind::GcpSecretManager => ("gcp_secret_manager", "secret", path.replace(['/', '.'], "_")),
            // Key Vault names: letters, digits and `-`. The vault is a store setting only.
            ProviderKind::AzureKeyVault if self.store.is_some() => (
                "azure_key_vault",
                "name",
                path.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect(),
            ),
            ProviderKind::AzureKeyVault => {
                return Err(Failure::new(
                    ExitCode::Usage,
                    "extract into azure_key_vault needs a store naming its vault_url: name one under `secret_stores`"
                        .to_owned(),
                ));
            }
            other => {
                return Err(Failure::new(
                    ExitCode::Usage,
                    format!(
                        "extract cannot write to `{other}` yet: use a vault, aws_secrets_manager, kubernetes, \
                         gcp_secret_manager or azure_key_vault store"
                    ),
                ));
            }
        };
        Ok(format!("{{{kind}: {{{store}{field}: {}, key: {}}}}}", flow_scalar(&name), flow_scalar(key)))
    }

    /// The spec a provider map of this destination parses to, as in a config.
    fn spec(&self, map: &str) -> Result<SecretSpec, Failure> {
        let document =
            tree::load(map).map_err(|error| config_error(format!("internal provider map {map:?}: {error}")))?;
        let [entry] = document.root.as_mapping().unwrap_or_default() else { unreachable!("one provider key") };
        let context = ParseContext { config_dir: &self.dir, stores: &self.stores };
        crate::provider::parse_spec(self.kind, &entry.value, &YamlPath::root().key(self.kind.name()), &context)
            .map_err(|problems| config_error(problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")))
    }
}

/// What a destination holds, read before anything is written.
enum Held {
    /// This value: nothing to write.
    Same,
    /// Another value: a conflict unless `--overwrite`.
    Different,
    /// Nothing (no such secret, or no such key in it).
    Absent,
    /// The read failed: why.
    Unreadable(String),
}

/// Every destination read, with the providers that read it (and will write).
struct Destinations {
    providers: crate::provider::ProviderSet,
    held: Vec<Held>,
}

/// Reads what each found value's destination (`specs`, one each) holds now.
async fn read_destinations(
    found: &[Found],
    specs: &[SecretSpec],
    destination: &Destination,
    settings: &ExtractSettings,
) -> Result<Destinations, Failure> {
    let providers = crate::stores::build_providers(&destination.stores, specs, 4, &settings.file_roots)
        .map_err(|errors| config_error(format!("invalid store settings: {}", errors.join("; "))))?;
    let fetches = crate::resolve::fetch_all(specs, &providers, 16).await;
    let held = found
        .iter()
        .zip(specs)
        .map(|(item, spec)| match fetches.value_for(spec) {
            Ok(existing) if existing.expose() == item.value.as_bytes() => Held::Same,
            Ok(_) => Held::Different,
            // Its keys can be restored: a write of one key over it is refused.
            Err(error) if crate::provider::vault::is_soft_deleted(&error) => Held::Unreadable(error.to_string()),
            Err(ProviderError::NotFound { .. } | ProviderError::MissingKey { .. }) => Held::Absent,
            Err(error) => Held::Unreadable(error.to_string()),
        })
        .collect();
    Ok(Destinations { providers, held })
}

/// The dry run's line for each found value: where it would go and what `--write` would do
/// there, from a read of the store; when the store cannot be consulted at all, one line says
/// why and the diff stands alone.
async fn dry_run_notes(
    found: &[Found],
    specs: &[SecretSpec],
    destination: &Destination,
    settings: &ExtractSettings,
) -> String {
    let read = read_destinations(found, specs, destination, settings).await;
    let mut notes = String::new();
    if let Err(failure) = &read {
        notes.push_str(&format!("# the store was not consulted (--write needs it): {}\n", failure.message));
    }
    for (index, item) in found.iter().enumerate() {
        let (path, key) = &item.location;
        let held = read.as_ref().ok().map(|read| &read.held[index]);
        let what = match held {
            None => String::new(),
            Some(Held::Absent) => ": not there yet, --write stores it".to_owned(),
            Some(Held::Same) => ": already holds this value, --write only rewrites the config".to_owned(),
            Some(Held::Different) if settings.overwrite => {
                ": holds a different value, which --write --overwrite replaces".to_owned()
            }
            Some(Held::Different) => {
                ": holds a different value: --write refuses it (exit 3) unless --overwrite".to_owned()
            }
            Some(Held::Unreadable(error)) => format!(": cannot be read ({error}): --write would stop there"),
        };
        notes.push_str(&format!("# {}: would store at {} {path} key {key}{what}\n", item.path, destination.describe()));
        for note in aliased_notes(item) {
            notes.push_str(&format!("# {note}\n"));
        }
    }
    notes
}

/// Writes every value not already in the store through the providers' own write side; a key
/// holding something else is an error unless `--overwrite`. All conflicts are found before
/// anything is written.
async fn store_all(
    found: &[Found],
    specs: &[SecretSpec],
    destination: &Destination,
    settings: &ExtractSettings,
) -> Result<Vec<String>, Failure> {
    let Destinations { providers, held } = read_destinations(found, specs, destination, settings).await?;
    let mut lines = Vec::new();
    let mut conflicts = Vec::new();
    let mut unreadable = Vec::new();
    let mut writes = Vec::new();
    for ((item, spec), held) in found.iter().zip(specs).zip(held) {
        let shown = spec.describe();
        match held {
            Held::Same => {
                lines.push(format!("{}: {shown} already holds this value", item.path));
                lines.extend(aliased_notes(item));
            }
            Held::Different if !settings.overwrite => {
                conflicts.push(format!("{}: {shown} holds a different value", item.path));
            }
            Held::Different => writes.push((item, spec, "overwrote")),
            Held::Absent => writes.push((item, spec, "stored")),
            Held::Unreadable(error) => unreadable.push(format!("{}: {error}", item.path)),
        }
    }
    if !unreadable.is_empty() {
        return Err(Failure::new(
            ExitCode::Fetch,
            format!("{}\nnothing was written: the store could not be read", unreadable.join("\n")),
        ));
    }
    if !conflicts.is_empty() {
        return Err(Failure::new(
            ExitCode::Config,
            format!(
                "{}\nnothing was written. Another config's secret may live there (the default path template \
                 names a config by its file name, and two clusters' prometheus.yml share one): choose a \
                 --path-template that tells them apart, or pass --overwrite to replace what is stored",
                conflicts.join("\n")
            ),
        ));
    }
    let mut stored: Vec<&SecretSpec> = Vec::new();
    for (item, spec, verb) in writes {
        // Two fields with the same value may map to one key: it is written once.
        if stored.contains(&spec) {
            lines.push(format!("{}: {} written above", item.path, spec.describe()));
            continue;
        }
        let kind = spec.location.kind();
        let provider = providers.get(kind, spec.location.store()).ok_or_else(|| {
            Failure::new(ExitCode::Config, format!("provider `{kind}` is not available in this build"))
        })?;
        let value = Secret::from_text(item.value.clone());
        if let Err(error) = provider.put(&spec.location, spec.key.as_deref(), &value).await {
            let mut message = format!("{}: cannot write {}: {}", item.path, spec.describe(), error.describe_write());
            if !stored.is_empty() {
                let done: Vec<String> = stored.iter().map(|spec| spec.describe()).collect();
                message.push_str(&format!(
                    "\nthe config is unchanged, but these were stored before the failure (run again once it is \
                     fixed: they count as already held): {}",
                    done.join(", ")
                ));
            }
            return Err(Failure::new(ExitCode::Output, message));
        }
        stored.push(spec);
        lines.push(format!("{}: {verb} {}", item.path, spec.describe()));
        lines.extend(aliased_notes(item));
    }
    Ok(lines)
}

/// `PATH: the same value, through a YAML alias` for each secret field that follows `item`.
fn aliased_notes(item: &Found) -> impl Iterator<Item = String> + '_ {
    item.aliased_at.iter().map(|path| format!("{path}: the same value, through a YAML alias"))
}

fn output_error(file: &Path, error: impl std::fmt::Display) -> Failure {
    Failure::new(ExitCode::Output, format!("cannot write {}: {error}", file.display()))
}

/// Before anything is stored: the directory the config really lives in (its rewrite is a temp
/// file there, renamed over it) and, with `--backup`, the one its path names must be writable,
/// or the store would hold values the config does not name yet.
fn check_writable(file: &Path, backup: bool) -> Result<(), Failure> {
    let real = std::fs::canonicalize(file).map_err(|error| output_error(file, error))?;
    let mut dirs = vec![real.parent().map(Path::to_owned).unwrap_or_default()];
    if backup {
        dirs.push(file.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_owned());
    }
    for dir in dirs {
        rustix::fs::access(&dir, rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK).map_err(|errno| {
            Failure::new(
                ExitCode::Output,
                format!(
                    "cannot write {}: its directory {} is not writable ({}); nothing was stored",
                    file.display(),
                    dir.display(),
                    std::io::Error::from(errno)
                ),
            )
        })?;
    }
    Ok(())
}

/// `CONFIG.bak-<unix seconds>`, created 0600 (never replacing an existing file).
fn write_backup(file: &Path, source: &str) -> Result<PathBuf, Failure> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut name = file.as_os_str().to_owned();
    name.push(format!(".bak-{seconds}"));
    let backup = PathBuf::from(name);
    #[expect(
        clippy::disallowed_methods,
        reason = "a backup beside the config, created 0600 and never replacing a file"
    )]
    let mut handle = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&backup)
        .map_err(|error| output_error(&backup, error))?;
    handle
        .write_all(source.as_bytes())
        .and_then(|()| handle.sync_all())
        .map_err(|error| output_error(&backup, error))?;
    Ok(backup)
}

/// Replaces the config atomically where it really lives, its owner, group and mode kept
/// ([`crate::output::replace_file_in_place`]). The values are already stored when this fails:
/// a rerun finds them there and only rewrites the config.
fn replace_atomically(file: &Path, text: &str) -> Result<(), Failure> {
    crate::output::replace_file_in_place(file, text.as_bytes()).map_err(|error| output_error(file, error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_the_secret_values_and_redacts_the_diff() {
        let source = "# top\nscrape_configs:\n  # node\n  - job_name: node\n    basic_auth:\n      username: prom\n      password: 'hunter2'  # inline\n";
        let document = tree::load(source).unwrap();
        let profile = Profile::new(TargetKind::Prometheus, None);
        let mut found = find_inline(source, &document.root, &profile, "prometheus", DEFAULT_TEMPLATE).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].location, ("prometheus/node".to_owned(), "password".to_owned()));
        found[0].map = "{vault: {path: prometheus/node, key: password}}".to_owned();
        let edited = rewrite(source, &found);
        assert_eq!(edited, source.replace("'hunter2'", "{vault: {path: prometheus/node, key: password}}"),);
        let shown = diff(Path::new("p.yml"), source, &edited, &found);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("-      password: <redacted>  # inline\n"), "{shown}");
    }

    #[test]
    fn names_become_path_segments_every_store_takes() {
        assert_eq!(sanitize("node exporter/a"), "node_exporter_a");
        assert_eq!(sanitize("blackbox.http-2xx"), "blackbox.http-2xx");
        assert_eq!(sanitize(".."), "__");
        assert_eq!(sanitize("."), "_");
        assert_eq!(sanitize(""), "");
    }

    #[test]
    fn a_template_with_an_unknown_placeholder_is_refused() {
        let known = "(known: {config}, {job}, {job_name}, {field}, {path})";
        let cases = [
            (DEFAULT_TEMPLATE, Ok(())),
            ("{config}/{job_name}/{path}", Ok(())),
            ("static/prefix/key", Ok(())),
            ("{cfg}/{job}", Err(format!("--path-template: unknown placeholder `{{cfg}}` {known}"))),
            ("{config}/{Job}/{field}", Err(format!("--path-template: unknown placeholder `{{Job}}` {known}"))),
            ("{config}/{}/{field}", Err(format!("--path-template: unknown placeholder `{{}}` {known}"))),
            (
                "{config}/{job/{field}",
                Err("--path-template: `{` without a closing `}` in \"{config}/{job/{field}\"".to_owned()),
            ),
            ("{config}/{job", Err("--path-template: `{` without a closing `}` in \"{config}/{job\"".to_owned())),
        ];
        for (template, expected) in cases {
            assert_eq!(check_template(template), expected, "{template}");
        }
    }

    /// Every placeholder [`check_template`] lets through is one [`expand`] fills in.
    #[test]
    fn every_known_placeholder_is_expanded() {
        let path = YamlPath::root().key("jobs").item(0, Some(("name".into(), "node".into()))).key("password");
        for placeholder in PLACEHOLDERS {
            let expanded = expand(placeholder, "prometheus", &path);
            assert!(!expanded.contains(['{', '}']) && !expanded.is_empty(), "{placeholder} gives {expanded:?}");
        }
    }

    #[test]
    fn expands_every_placeholder() {
        let path = YamlPath::root().key("global").key("smtp_auth_password");
        assert_eq!(expand(DEFAULT_TEMPLATE, "am", &path), "am/global/smtp_auth_password");
        let item = YamlPath::root().key("receivers").item(0, Some(("name".into(), "on call".into()))).key("url");
        assert_eq!(expand("{config}/{job_name}/{field}", "am", &item), "am/on_call/url");
    }
}
