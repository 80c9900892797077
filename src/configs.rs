//! Loading the configs named on the command line: reading, parsing, choosing each one's target,
//! finding its provider maps and planning their placement — everything that can be checked
//! without a single secret, with every problem across every file reported together. Loading can
//! hand over each provider map as the parser reads it, for `render` to fetch meanwhile.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::provider::{ParseContext, Problem, SecretSpec, StoreRef};
use crate::render::{self, Placement, Profile, TargetKind, TargetSpec};
use crate::stores::{StoreRegistry, StoreSource};
use crate::tree::scan::STORES_KEY;
use crate::tree::scan::{self, Site};
use crate::tree::{self, Document, YamlPath};

/// A problem found in one of the configs, as printed: `FILE:LINE: YAML_PATH: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub path: Option<YamlPath>,
    pub message: String,
}

impl Issue {
    #[must_use]
    pub fn whole_file(file: &Path, message: impl Into<String>) -> Self {
        Self { file: file.to_owned(), line: None, path: None, message: message.into() }
    }

    #[must_use]
    pub fn at(file: &Path, problem: Problem) -> Self {
        Self {
            file: file.to_owned(),
            line: Some(problem.mark.line),
            path: Some(problem.path),
            message: problem.message,
        }
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(path) = &self.path {
            write!(f, ": {path}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Joins issues into one message under a heading, one per line.
#[must_use]
pub fn describe_issues(heading: &str, issues: &[Issue]) -> String {
    let mut message = format!("{heading} ({} problem{}):", issues.len(), if issues.len() == 1 { "" } else { "s" });
    for issue in issues {
        message.push_str("\n  ");
        message.push_str(&issue.to_string());
    }
    message
}

/// A config ready to be resolved and rendered.
pub struct Config {
    /// The path as given on the command line.
    pub source: PathBuf,
    /// Its file name: the rendered copy's name in the out dir.
    pub name: String,
    /// Its directory, absolute.
    pub dir: PathBuf,
    pub document: Document,
    pub profile: Profile,
    pub sites: Vec<Site>,
    pub placements: Vec<Placement>,
}

impl Config {
    /// The name of site `index`'s secret: its file's name, or for an inlined value the name its
    /// file would have (metrics labels and `POST /-/refresh?secret=` use it).
    #[must_use]
    pub fn secret_name(&self, index: usize) -> String {
        match &self.placements[index] {
            Placement::File { file, .. } => file.clone(),
            Placement::Inline => render::secret_file_name(&self.name, &self.sites[index].path),
        }
    }

    #[must_use]
    pub fn render_source(&self) -> render::Source<'_> {
        render::Source { dir: &self.dir, profile: &self.profile, text_len: self.document.text_len }
    }

    /// Renders `root` (this config's tree, or a copy, which it changes) up to the values: see
    /// [`render::prepare`].
    #[must_use]
    pub fn prepare(&self, root: &mut tree::Node, secrets_dir: &Path) -> tree::Template {
        render::prepare(&self.render_source(), root, &self.sites, &self.placements, secrets_dir)
    }

    /// [`Config::prepare`] on a copy of this config's tree, which stays as it is.
    #[must_use]
    pub fn template(&self, secrets_dir: &Path) -> tree::Template {
        self.prepare(&mut self.document.root.clone(), secrets_dir)
    }
}

/// Every config, ready to resolve, and the stores they may use.
pub struct Loaded {
    pub configs: Vec<Config>,
    pub stores: StoreRegistry,
}

impl Loaded {
    /// Every provider map of every config.
    pub fn specs(&self) -> impl Iterator<Item = &SecretSpec> {
        self.configs.iter().flat_map(|config| config.sites.iter().map(|site| &site.spec))
    }
}

/// A config read and parsed, not yet scanned.
struct Parsed {
    source: PathBuf,
    name: String,
    dir: PathBuf,
    document: Document,
}

/// Loads every config (and the `--stores` file), or returns every problem found in any of them.
pub fn load_all(
    paths: &[PathBuf],
    target: Option<TargetSpec>,
    stores_file: Option<&Path>,
) -> Result<Loaded, Vec<Issue>> {
    load_all_watching(paths, target, stores_file, &mut |_| {})
}

/// Loads every config as [`load_all`] does, handing `early` the spec of each provider map that
/// uses no named store as soon as the parser has read it, while the rest of the file is still
/// being read: so that its value can be fetched meanwhile (`render` does).
///
/// Only specs the loaded configs will hold are handed over, so fetching them early fetches
/// nothing more, unless loading fails: none inside a `!literal` mapping, none that does not
/// parse, and none from a config with a stores section or beside a `--stores` file, where a
/// store's settings are not known until the whole file is read. A spec named twice is handed
/// twice.
pub fn load_all_watching(
    paths: &[PathBuf],
    target: Option<TargetSpec>,
    stores_file: Option<&Path>,
    early: &mut dyn FnMut(SecretSpec),
) -> Result<Loaded, Vec<Issue>> {
    let mut parsed = Vec::new();
    let mut issues = Vec::new();
    let mut names: HashMap<String, &Path> = HashMap::new();
    for path in paths {
        let early: Option<&mut dyn FnMut(SecretSpec)> = if stores_file.is_none() { Some(&mut *early) } else { None };
        match parse_file(path, early) {
            Ok(config) => {
                if let Some(first) = names.insert(config.name.clone(), path) {
                    let message = if same_file(first, path) {
                        "is given twice; name each config once".to_owned()
                    } else {
                        format!(
                            "has the same file name as {}; rendered copies would overwrite each other",
                            first.display()
                        )
                    };
                    issues.push(Issue::whole_file(path, message));
                }
                parsed.push(config);
            }
            Err(issue) => issues.push(issue),
        }
    }
    let stores_parsed = match stores_file.map(|path| parse_file(path, None)).transpose() {
        Ok(parsed) => parsed,
        Err(issue) => {
            issues.push(issue);
            None
        }
    };
    if let Some(stores) = &stores_parsed {
        for entry in stores.document.root.as_mapping().unwrap_or_default() {
            let key = entry.key.as_scalar().unwrap_or_default();
            if key != STORES_KEY {
                issues.push(Issue {
                    file: stores.source.clone(),
                    line: Some(entry.key.mark.line),
                    path: Some(YamlPath::root().key(key)),
                    message: format!("a stores file holds only `{STORES_KEY}`"),
                });
            }
        }
    }
    let sources: Vec<StoreSource<'_>> = parsed
        .iter()
        .chain(&stores_parsed)
        .map(|config| StoreSource { file: &config.source, dir: &config.dir, root: &config.document.root })
        .collect();
    let (stores, found, complete) = StoreRegistry::load_partial(&sources);
    issues.extend(found);
    // Without every store the configs' maps would be checked against the wrong set.
    if !complete {
        return Err(in_file_order(issues, paths));
    }
    let mut configs = Vec::new();
    for config in parsed {
        match scan_config(config, target, &stores) {
            Ok(config) => configs.push(config),
            Err(found) => issues.extend(found),
        }
    }
    if !issues.is_empty() {
        return Err(in_file_order(issues, paths));
    }
    lengthen_shared_file_names(&mut configs);
    Ok(Loaded { configs, stores })
}

/// Gives a longer hash to each secret file name that two fields would share, so that no two
/// ever write one file (and one job's secret is never sent to another's targets); every other
/// field keeps its short name. A name is its YAML path's slug and 16 bits of a hash: fields whose
/// paths differ only in characters a slug drops (jobs `svc-a!` and `svc-a?`), or one path in two
/// configs, share one about once in 65 536 pairs.
fn lengthen_shared_file_names(configs: &mut [Config]) {
    let mut holders: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
    for (config_index, config) in configs.iter().enumerate() {
        for (site_index, placement) in config.placements.iter().enumerate() {
            if let Placement::File { file, .. } = placement {
                holders.entry(file.clone()).or_default().push((config_index, site_index));
            }
        }
    }
    for (shared, holders) in holders.into_iter().filter(|(_, holders)| holders.len() > 1) {
        tracing::debug!(name = %shared, fields = holders.len(), "fields would share a secret file name: lengthening it");
        for (config_index, site_index) in holders {
            let config = &mut configs[config_index];
            let long = render::long_secret_file_name(&config.name, &config.sites[site_index].path);
            if let Placement::File { file, .. } = &mut config.placements[site_index] {
                *file = long;
            }
        }
    }
}

/// Issues grouped by file in the order the files were given (the stores file last), each file's
/// in the order found.
fn in_file_order(mut issues: Vec<Issue>, paths: &[PathBuf]) -> Vec<Issue> {
    issues.sort_by_key(|issue| paths.iter().position(|path| *path == issue.file).unwrap_or(paths.len()));
    issues
}

/// Reads and parses one file, handing `early` its provider maps' specs as they are read (see
/// [`load_all_watching`]).
fn parse_file(path: &Path, early: Option<&mut dyn FnMut(SecretSpec)>) -> Result<Parsed, Issue> {
    let fail = |message: String| Issue::whole_file(path, message);
    let text = std::fs::read_to_string(path).map_err(|error| fail(format!("cannot read the file: {error}")))?;
    let absolute = std::path::absolute(path).map_err(|error| fail(format!("cannot resolve the path: {error}")))?;
    let dir = absolute.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"));
    let name = absolute
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .ok_or_else(|| fail("the path has no file name".into()))?;
    // A stores section may come after the maps that name its stores, or change a default one;
    // its mention anywhere, even in a comment, keeps this file's specs for after the load.
    let document = match early.filter(|_| !text.contains(STORES_KEY)) {
        None => tree::load(&text),
        Some(early) => {
            let no_stores = StoreRegistry::default();
            let context = ParseContext { config_dir: &dir, stores: &no_stores };
            tree::load_watching(&text, &mut |mapping| {
                if let Some(spec) = scan::early_spec(mapping, &context)
                    && matches!(spec.location.store(), StoreRef::Default)
                {
                    early(spec);
                }
            })
        }
    }
    .map_err(|error| fail(error.to_string()))?;
    Ok(Parsed { source: path.to_owned(), name, dir, document })
}

/// Whether `a` and `b` name one file (the same path, a link to it, or `./` in front).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => a == b,
    }
}

fn scan_config(parsed: Parsed, target: Option<TargetSpec>, stores: &StoreRegistry) -> Result<Config, Vec<Issue>> {
    let Parsed { source, name, dir, document } = parsed;
    let profile = match target {
        Some(spec) => Profile::new(spec.kind, spec.version),
        None => Profile::new(TargetKind::detect(&document.root), None),
    };
    let context = ParseContext { config_dir: &dir, stores };
    let (sites, problems) = scan::scan(&document, &|path| profile.is_secret_field(path), &context);
    let mut issues: Vec<Issue> = problems.into_iter().map(|problem| Issue::at(&source, problem)).collect();
    let placements = render::plan(&document, &name, &sites, &profile).unwrap_or_else(|problems| {
        issues.extend(problems.into_iter().map(|problem| Issue::at(&source, problem)));
        Vec::new()
    });
    if !issues.is_empty() {
        return Err(issues);
    }
    Ok(Config { source, name, dir, document, profile, sites, placements })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[expect(clippy::disallowed_methods, reason = "test fixtures, not output")]
    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// What `load_all_watching` hands over early, and what it loads.
    fn watch(paths: &[PathBuf], stores_file: Option<&Path>) -> (Vec<String>, Result<Loaded, Vec<Issue>>) {
        let mut early = Vec::new();
        let loaded = load_all_watching(paths, None, stores_file, &mut |spec| early.push(spec.location.to_string()));
        (early, loaded)
    }

    #[test]
    fn provider_maps_are_handed_over_early_as_the_loaded_configs_hold_them() {
        let dir = tempfile::tempdir().unwrap();
        let config = write(
            dir.path(),
            "app.yml",
            concat!(
                "first: {vault: {path: app/one, key: k}}\n",
                "kept: !literal {inner: {vault: {path: app/hidden}}}\n",
                "second: {env: {name: HOME}}\n",
                "again: {vault: {path: app/one, key: other}}\n",
                "list: [{vault: {path: app/three}}]\n",
            ),
        );
        let (early, loaded) = watch(&[config], None);
        let loaded = loaded.unwrap();
        let held: Vec<String> = loaded.specs().map(|spec| spec.location.to_string()).collect();
        assert_eq!(early, held, "the same specs, in the order read");
        assert_eq!(early.len(), 4);
        assert!(early.iter().all(|location| !location.contains("hidden")), "{early:?}");
    }

    /// Two jobs whose names differ only in characters a slug drops share a slug, and a pair in
    /// 65 536 its 16-bit hash too: such fields get longer names, never one file (one job's
    /// secret would reach the other's targets); every other field keeps its short name.
    #[test]
    fn fields_that_would_share_a_secret_file_get_longer_names() {
        let password = |job: &str| {
            YamlPath::root()
                .key("scrape_configs")
                .item(0, Some(("job_name".into(), job.into())))
                .key("basic_auth")
                .key("password")
        };
        // Names that slug alike (`svc___`), until two also hash alike.
        let marks = ['!', '#', '$', '%', '&', '*', '+', '@', '=', '^', '~', ','];
        let mut seen: HashMap<String, String> = HashMap::new();
        let (first, second) = (0_usize..)
            .find_map(|number| {
                let marked: String = format!("{number:04}")
                    .chars()
                    .filter_map(|digit| Some(marks[digit.to_digit(10)? as usize]))
                    .collect();
                let job = format!("svc{marked}");
                let name = render::secret_file_name("prometheus.yml", &password(&job));
                seen.insert(name, job.clone()).map(|earlier| (earlier, job))
            })
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = write(
            dir.path(),
            "prometheus.yml",
            &format!(
                "scrape_configs:\n  - job_name: '{first}'\n    basic_auth: {{username: a, password: {{env: {{name: A}}}}}}\n  - job_name: '{second}'\n    basic_auth: {{username: b, password: {{env: {{name: B}}}}}}\n  - job_name: other\n    basic_auth: {{username: c, password: {{env: {{name: C}}}}}}\n"
            ),
        );
        let loaded = load_all(&[config], None, None).unwrap();
        let names: Vec<String> = (0..3).map(|index| loaded.configs[0].secret_name(index)).collect();
        assert_eq!(names[0], render::long_secret_file_name("prometheus.yml", &password(&first)));
        assert_eq!(names[1], render::long_secret_file_name("prometheus.yml", &password(&second)));
        assert_ne!(names[0], names[1]);
        assert_eq!(names[2], render::secret_file_name("prometheus.yml", &password("other")), "the others keep theirs");
    }

    #[test]
    fn nothing_is_handed_over_early_where_stores_are_defined() {
        let dir = tempfile::tempdir().unwrap();
        let mentioned = write(dir.path(), "app.yml", "a: {vault: {path: app/one}}\n# secret_stores: elsewhere\n");
        assert_eq!(watch(&[mentioned], None).0, Vec::<String>::new());
        let plain = write(dir.path(), "plain.yml", "a: {vault: {path: app/one}}\n");
        let stores = write(dir.path(), "stores.yml", "secret_stores: {}\n");
        assert_eq!(watch(&[plain], Some(&stores)).0, Vec::<String>::new());
    }
}
