//! `secret-render extract`: moves inline secrets into a store and rewrites the config to
//! provider maps, editing only the bytes of each secret value (see [`crate::tree::spans`]), so
//! comments, blank lines, key order and quoting stay as they were. A dry run (the default) prints
//! a unified diff with `<redacted>` in place of every value and contacts no store.
//!
//! Store writes: until the providers' write side lands, this module holds a minimal Vault KV v2
//! client of its own (read, then a check-and-set write of the merged keys); only `--to vault`
//! (`VAULT_ADDR`/`VAULT_TOKEN`, mount `secret/`) is supported.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::exit::{ExitCode, Failure};
use crate::render::{Profile, TargetKind, TargetSpec};
use crate::tree::{self, Node, NodeKind, PathSegment, YamlPath};

/// The default `--path-template`: `prometheus/node/password`.
pub const DEFAULT_TEMPLATE: &str = "{config}/{job}/{field}";
/// The KV v2 mount `--to vault` writes to.
const MOUNT: &str = "secret";

#[derive(Debug)]
pub struct ExtractSettings {
    pub config: PathBuf,
    pub store: String,
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
}

fn config_error(message: String) -> Failure {
    Failure::new(ExitCode::Config, message)
}

pub async fn run(settings: &ExtractSettings) -> Result<(), Failure> {
    if settings.store != "vault" {
        return Err(Failure::new(
            ExitCode::Usage,
            format!(
                "--to {:?}: only `vault` (VAULT_ADDR/VAULT_TOKEN, KV v2 at secret/) is supported so far",
                settings.store
            ),
        ));
    }
    let file = &settings.config;
    let source = std::fs::read_to_string(file)
        .map_err(|error| config_error(format!("cannot read {}: {error}", file.display())))?;
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
    let edited = rewrite(&source, &found);
    let mut report = diff(file, &source, &edited, &found);
    if !settings.write {
        for item in &found {
            let (path, key) = &item.location;
            report.push_str(&format!("# {}: would store at vault {MOUNT}/{path} key {key}\n", item.path));
        }
        super::print(&report);
        return Ok(());
    }
    let written = store_all(&found, settings.overwrite).await?;
    let backup = if settings.backup { Some(write_backup(file, &source)?) } else { None };
    replace_atomically(file, &edited)?;
    for line in written {
        report.push_str(&format!("# {line}\n"));
    }
    if let Some(backup) = backup {
        report.push_str(&format!("# backup: {}\n", backup.display()));
    }
    super::print(&report);
    Ok(())
}

/// Every inline (scalar, non-null) value at a secret field of the target's schema.
fn find_inline(
    source: &str,
    root: &Node,
    profile: &Profile,
    config_name: &str,
    template: &str,
) -> Result<Vec<Found>, Vec<String>> {
    let mut sites = Vec::new();
    walk(root, &mut YamlPath::root(), profile, &mut sites);
    let mut problems = Vec::new();
    let mut found: Vec<Found> = Vec::new();
    for (path, node) in sites {
        let value = node.as_scalar().unwrap_or_default().to_owned();
        let span = match tree::spans::scalar_span(source, node) {
            Ok(span) => span,
            Err(message) => {
                problems.push(format!("{path}: {message}"));
                continue;
            }
        };
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
        found.push(Found { path, span, value, location });
    }
    if problems.is_empty() { Ok(found) } else { Err(problems) }
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
        NodeKind::Scalar { .. } | NodeKind::SecretScalar(_) => {}
    }
}

/// File-name-safe: what the store path may hold.
fn sanitize(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') { c } else { '_' }).collect()
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

fn provider_map((path, key): &(String, String)) -> String {
    format!("{{vault: {{path: {}, key: {}}}}}", flow_scalar(path), flow_scalar(key))
}

fn rewrite(source: &str, found: &[Found]) -> String {
    let mut edited = source.to_owned();
    let mut by_start: Vec<&Found> = found.iter().collect();
    by_start.sort_by_key(|item| std::cmp::Reverse(item.span.start));
    for item in by_start {
        edited.replace_range(item.span.clone(), &provider_map(&item.location));
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

/// A minimal Vault KV v2 client (until the providers' write side lands).
struct Kv {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Kv {
    fn from_env() -> Result<Self, Failure> {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.is_empty())
                .ok_or_else(|| Failure::new(ExitCode::Usage, format!("--to vault needs {name} in the environment")))
        };
        let base = var("VAULT_ADDR")?.trim_end_matches('/').to_owned();
        let token = var("VAULT_TOKEN")?;
        let http = reqwest::Client::builder()
            .build()
            .map_err(|error| Failure::new(ExitCode::Internal, format!("cannot build an HTTP client: {error}")))?;
        Ok(Self { base, token, http })
    }

    fn fetch_error(&self, what: &str, error: impl std::fmt::Display) -> Failure {
        Failure::new(ExitCode::Fetch, format!("vault {MOUNT}/{what}: {error}"))
    }

    /// The secret's keys and current version (0: absent).
    async fn read(&self, path: &str) -> Result<(BTreeMap<String, String>, u64), Failure> {
        let url = format!("{}/v1/{MOUNT}/data/{path}", self.base);
        let response = self
            .http
            .get(url)
            .header("X-Vault-Token", &self.token)
            .send()
            .await
            .map_err(|error| self.fetch_error(path, error.without_url()))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok((BTreeMap::new(), 0));
        }
        if !response.status().is_success() {
            return Err(self.fetch_error(path, format!("read failed with HTTP {}", response.status())));
        }
        let body: serde_json::Value = serde_json::from_slice(
            &response.bytes().await.map_err(|error| self.fetch_error(path, error.without_url()))?,
        )
        .map_err(|_| self.fetch_error(path, "the answer is not JSON"))?;
        let version = body["data"]["metadata"]["version"].as_u64().unwrap_or(0);
        let mut data = BTreeMap::new();
        if let Some(map) = body["data"]["data"].as_object() {
            for (key, value) in map {
                let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
                data.insert(key.clone(), text);
            }
        }
        Ok((data, version))
    }

    async fn write(&self, path: &str, data: &BTreeMap<String, String>, cas: u64) -> Result<(), Failure> {
        let url = format!("{}/v1/{MOUNT}/data/{path}", self.base);
        let body = serde_json::json!({ "options": { "cas": cas }, "data": data });
        let response = self
            .http
            .post(url)
            .header("X-Vault-Token", &self.token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|error| self.fetch_error(path, error.without_url()))?;
        if !response.status().is_success() {
            return Err(self.fetch_error(path, format!("write failed with HTTP {}", response.status())));
        }
        Ok(())
    }
}

/// Writes every value not already in the store; a key holding something else is an error
/// unless `overwrite`. All conflicts are found before anything is written.
async fn store_all(found: &[Found], overwrite: bool) -> Result<Vec<String>, Failure> {
    let kv = Kv::from_env()?;
    let mut groups: BTreeMap<&str, Vec<&Found>> = BTreeMap::new();
    for item in found {
        groups.entry(item.location.0.as_str()).or_default().push(item);
    }
    let mut plans = Vec::new();
    let mut conflicts = Vec::new();
    let mut lines = Vec::new();
    for (path, items) in groups {
        let (mut data, version) = kv.read(path).await?;
        let mut changed = false;
        for item in items {
            let key = &item.location.1;
            match data.get(key) {
                Some(existing) if *existing == item.value => {
                    lines.push(format!("{}: vault {MOUNT}/{path} key {key} already holds this value", item.path));
                }
                Some(_) if !overwrite => {
                    conflicts.push(format!("{}: vault {MOUNT}/{path} key {key} holds a different value", item.path))
                }
                previous => {
                    let verb = if previous.is_some() { "overwrote" } else { "stored" };
                    lines.push(format!("{}: {verb} vault {MOUNT}/{path} key {key}", item.path));
                    data.insert(key.clone(), item.value.clone());
                    changed = true;
                }
            }
        }
        if changed {
            plans.push((path, data, version));
        }
    }
    if !conflicts.is_empty() {
        return Err(Failure::new(
            ExitCode::Config,
            format!("{}\nnothing was written; pass --overwrite to replace them", conflicts.join("\n")),
        ));
    }
    for (path, data, version) in plans {
        kv.write(path, &data, version).await?;
    }
    Ok(lines)
}

fn output_error(file: &Path, error: impl std::fmt::Display) -> Failure {
    Failure::new(ExitCode::Output, format!("cannot write {}: {error}", file.display()))
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

/// Temp file in the same directory, the original's mode, fsync, rename, fsync the directory.
fn replace_atomically(file: &Path, text: &str) -> Result<(), Failure> {
    use std::io::Write;
    let directory = file.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let permissions = std::fs::metadata(file).map_err(|error| output_error(file, error))?.permissions();
    let mut temp = tempfile::NamedTempFile::new_in(directory).map_err(|error| output_error(file, error))?;
    temp.write_all(text.as_bytes()).map_err(|error| output_error(file, error))?;
    temp.as_file().set_permissions(permissions).map_err(|error| output_error(file, error))?;
    temp.as_file().sync_all().map_err(|error| output_error(file, error))?;
    temp.persist(file).map_err(|error| output_error(file, error.error))?;
    std::fs::File::open(directory).and_then(|dir| dir.sync_all()).map_err(|error| output_error(file, error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_the_secret_values_and_redacts_the_diff() {
        let source = "# top\nscrape_configs:\n  # node\n  - job_name: node\n    basic_auth:\n      username: prom\n      password: 'hunter2'  # inline\n";
        let document = tree::load(source).unwrap();
        let profile = Profile::new(TargetKind::Prometheus, None);
        let found = find_inline(source, &document.root, &profile, "prometheus", DEFAULT_TEMPLATE).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].location, ("prometheus/node".to_owned(), "password".to_owned()));
        let edited = rewrite(source, &found);
        assert_eq!(edited, source.replace("'hunter2'", "{vault: {path: prometheus/node, key: password}}"),);
        let shown = diff(Path::new("p.yml"), source, &edited, &found);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("-      password: <redacted>  # inline\n"), "{shown}");
    }

    #[test]
    fn expands_every_placeholder() {
        let path = YamlPath::root().key("global").key("smtp_auth_password");
        assert_eq!(expand(DEFAULT_TEMPLATE, "am", &path), "am/global/smtp_auth_password");
        let item = YamlPath::root().key("receivers").item(0, Some(("name".into(), "on call".into()))).key("url");
        assert_eq!(expand("{config}/{job_name}/{field}", "am", &item), "am/on_call/url");
    }
}
