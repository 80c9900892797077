//! Loading the configs named on the command line: reading, parsing, choosing each one's target,
//! finding its provider maps and planning their placement — everything that can be checked
//! before a single secret is fetched, with every problem across every file reported together.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::provider::{ParseContext, Problem};
use crate::render::{self, Placement, Profile, TargetKind, TargetSpec};
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
    #[must_use]
    pub fn render_source(&self) -> render::Source<'_> {
        render::Source { document: &self.document, name: &self.name, dir: &self.dir, profile: &self.profile }
    }
}

/// Loads every config, or returns every problem found in any of them.
pub fn load_all(paths: &[PathBuf], target: Option<TargetSpec>) -> Result<Vec<Config>, Vec<Issue>> {
    let mut configs = Vec::new();
    let mut issues = Vec::new();
    let mut names: HashMap<String, &Path> = HashMap::new();
    for path in paths {
        match load_one(path, target) {
            Ok(config) => {
                if let Some(first) = names.insert(config.name.clone(), path) {
                    issues.push(Issue::whole_file(
                        path,
                        format!(
                            "has the same file name as {}; rendered copies would overwrite each other",
                            first.display()
                        ),
                    ));
                }
                configs.push(config);
            }
            Err(found) => issues.extend(found),
        }
    }
    if issues.is_empty() { Ok(configs) } else { Err(issues) }
}

fn load_one(path: &Path, target: Option<TargetSpec>) -> Result<Config, Vec<Issue>> {
    let fail = |message: String| vec![Issue::whole_file(path, message)];
    let text = std::fs::read_to_string(path).map_err(|error| fail(format!("cannot read the config: {error}")))?;
    let document = tree::load(&text).map_err(|error| fail(error.to_string()))?;
    let absolute = std::path::absolute(path).map_err(|error| fail(format!("cannot resolve the path: {error}")))?;
    let dir = absolute.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"));
    let name = absolute
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .ok_or_else(|| fail("the path has no file name".into()))?;
    let profile = match target {
        Some(spec) => Profile::new(spec.kind, spec.version),
        None => Profile::new(TargetKind::detect(&document.root), None),
    };
    let context = ParseContext { config_dir: dir.clone() };
    let (sites, problems) = scan::scan(&document, &|path| profile.is_secret_field(path), &context);
    let mut issues: Vec<Issue> = problems.into_iter().map(|problem| Issue::at(path, problem)).collect();
    let placements = render::plan(&document, &sites, &profile).unwrap_or_else(|problems| {
        issues.extend(problems.into_iter().map(|problem| Issue::at(path, problem)));
        Vec::new()
    });
    if !issues.is_empty() {
        return Err(issues);
    }
    Ok(Config { source: path.to_owned(), name, dir, document, profile, sites, placements })
}
