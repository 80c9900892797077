//! Turning a resolved tree into the output: which fields become `*_file` siblings and which are
//! inlined (`plan`), the stable secret file names, relative paths made absolute, and the rendered
//! config text: all of it but the inlined values before they are known (`prepare`), then with
//! them (`complete`).

pub mod targets;

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::provider::{Problem, RenderMode};
use crate::secret::Secret;
use crate::tree::scan::{STORES_KEY, Site};
use crate::tree::{self, Document, Node, NodeKind, YamlPath};
pub use targets::{Profile, TargetKind, TargetSpec, ValueKind, Version};

/// Where a resolved value goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Written to the secret file `file` (a name in `secrets/`, see [`secret_file_name`]); the
    /// field is renamed to `sibling`, which holds the file's path.
    File { sibling: String, file: String },
    /// Written into the rendered config itself.
    Inline,
}

/// Decides the placement of every site and checks it can be carried out, before anything is
/// fetched, so a bad config fails fast with all its problems.
pub fn plan(
    document: &Document,
    config_name: &str,
    sites: &[Site],
    profile: &Profile,
) -> Result<Vec<Placement>, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut placements = Vec::with_capacity(sites.len());
    for site in sites {
        let problem = |message: String| Problem { path: site.path.clone(), mark: site.mark, message };
        let placement = match (site.spec.render, site.field()) {
            (RenderMode::Inline, _) => Placement::Inline,
            (RenderMode::File, None) => {
                problems.push(problem(
                    "`render: file` needs a field name for the `_file` sibling, and a sequence item has none".into(),
                ));
                continue;
            }
            // A secret field the table knows this target version reads with no `_file` form:
            // the target would refuse the rendered config.
            (RenderMode::File, Some(field))
                if profile.sibling(&site.path).is_none() && profile.secret_field(&site.path).is_some() =>
            {
                problems.push(problem(format!(
                    "`render: file`: {}@{} has no `{field}_file` and would refuse the rendered config; leave \
                     `render` out to inline the value",
                    profile.kind, profile.version
                )));
                continue;
            }
            (RenderMode::File, Some(field)) => Placement::File {
                sibling: profile.sibling(&site.path).map_or_else(|| format!("{field}_file"), str::to_owned),
                file: secret_file_name(config_name, &site.path),
            },
            (RenderMode::Auto, _) if profile.kind == TargetKind::Generic => Placement::Inline,
            (RenderMode::Auto, _) => match profile.sibling(&site.path) {
                Some(sibling) => {
                    Placement::File { sibling: sibling.to_owned(), file: secret_file_name(config_name, &site.path) }
                }
                None => Placement::Inline,
            },
        };
        if let Placement::File { sibling, .. } = &placement
            && parent_of(&document.root, &site.route).and_then(|parent| parent.get(sibling)).is_some()
        {
            problems.push(problem(format!(
                "`{sibling}` is already set beside this field; the rendered config cannot hold both"
            )));
            continue;
        }
        placements.push(placement);
    }
    if problems.is_empty() { Ok(placements) } else { Err(problems) }
}

/// The stable file name of a site's secret: a readable slug of its YAML path and a short hash
/// of the config name and full path, so the same field keeps the same file across runs and two
/// configs never share one.
#[must_use]
pub fn secret_file_name(config_name: &str, path: &YamlPath) -> String {
    let digest = file_name_digest(config_name, path);
    format!("{}-{:02x}{:02x}", path.slug(), digest[0], digest[1])
}

/// [`secret_file_name`] with 64 bits of the hash instead of 16, for fields whose short names
/// would be one (see `configs::lengthen_shared_file_names`).
#[must_use]
pub fn long_secret_file_name(config_name: &str, path: &YamlPath) -> String {
    let digest = file_name_digest(config_name, path);
    let hex: String = digest[..8].iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{}-{hex}", path.slug())
}

fn file_name_digest(config_name: &str, path: &YamlPath) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(config_name.as_bytes());
    hasher.update([0]);
    hasher.update(path.to_string().as_bytes());
    hasher.finalize().into()
}

/// A secret file to write before the config that names it.
pub struct SecretFile {
    pub name: String,
    pub value: Secret,
}

/// A rendered config and the secret files it refers to.
pub struct Rendered {
    pub secret_files: Vec<SecretFile>,
    pub config: Secret,
    /// Values rendered as they are that the target will likely refuse: empty ones, and
    /// inlined ones with whitespace around them (see [`doubtful_value`]). Never the values.
    pub warnings: Vec<Problem>,
}

/// Why a fetched value, rendered byte for byte, is probably not what the target wants, if it
/// is: an empty value (an empty file, an unset field in the store), or an inlined value with
/// whitespace at either end (`echo token > file`, `kubectl create secret --from-file`).
/// Prometheus and Alertmanager trim what they read from a `*_file`, but use an inlined value as
/// it is, so a token with a trailing newline fails authentication. The value is still rendered
/// (the contract writes values byte for byte); this only says so once, naming the YAML path.
fn doubtful_value(value: &[u8], placement: &Placement) -> Option<&'static str> {
    if value.is_empty() {
        return Some("the value is empty; the target gets an empty secret");
    }
    let padded = |byte: Option<&u8>| byte.is_some_and(u8::is_ascii_whitespace);
    if *placement == Placement::Inline && (padded(value.first()) || padded(value.last())) {
        return Some(
            "the inlined value starts or ends with whitespace (a trailing newline?), which the target keeps; trim it in the store",
        );
    }
    None
}

/// What `render` needs to know about the source config besides its tree.
pub struct Source<'a> {
    /// The config's directory, absolute, for relative paths.
    pub dir: &'a Path,
    pub profile: &'a Profile,
    /// The length of the config's text, from which the rendering's is guessed.
    pub text_len: usize,
}

/// Renders the config from `root`, the source's tree (changed in place, so a one-shot render
/// need not copy it), as far as it can be without the values: relative paths made absolute,
/// each file-placed field renamed to its `_file` sibling holding its file's path in
/// `secrets_dir`, and a gap where each inlined value goes. That is most of rendering, so it can
/// be done while the values are fetched, and once per load rather than every refresh in a daemon.
#[must_use]
pub fn prepare(
    source: &Source<'_>,
    root: &mut Node,
    sites: &[Site],
    placements: &[Placement],
    secrets_dir: &Path,
) -> tree::Template {
    absolutize(root, &mut YamlPath::root(), source.profile, source.dir);
    for (index, (site, placement)) in sites.iter().zip(placements).enumerate() {
        match placement {
            Placement::File { sibling, file } => {
                let entry = entry_at(root, &site.route);
                entry.key = Node {
                    kind: NodeKind::Scalar { text: sibling.clone(), style: tree::ScalarStyle::Plain },
                    ..entry.key.clone()
                };
                entry.value = Node::string(secrets_dir.join(file).to_string_lossy());
            }
            Placement::Inline => {
                *node_at(root, &site.route) = Node { kind: NodeKind::Slot(index), tag: None, mark: site.mark };
            }
        }
    }
    if let NodeKind::Mapping(entries) = &mut root.kind {
        entries.retain(|entry| entry.key.as_scalar() != Some(STORES_KEY));
    }
    // Block style and the `_file` paths make the rendering longer than the source: the bench's
    // config renders about 1.3 times as long. Twice as long leaves room for nearly every config;
    // the untouched rest takes no memory until the template is dropped and wiped (a reload in
    // `run`/`watch`; `render` leaves it to the exit).
    tree::emit_sized(root, source.text_len.saturating_mul(2))
}

/// Completes a [`prepare`]d config with the values: `values[i]` is the value of `sites[i]`,
/// placed per `placements[i]`. A missing value (`--start-partial` before a secret was ever
/// fetched) leaves its `_file` path in the config with no file behind it, so only what needs it
/// fails; an inlined one is empty.
pub fn complete(
    template: &tree::Template,
    sites: &[Site],
    placements: &[Placement],
    values: Vec<Option<Secret>>,
) -> Result<Rendered, Vec<Problem>> {
    let mut secret_files = Vec::new();
    let mut inlined = Vec::new();
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    for (index, ((site, placement), value)) in sites.iter().zip(placements).zip(values).enumerate() {
        if let Some(message) = value.as_ref().and_then(|value| doubtful_value(value.expose(), placement)) {
            warnings.push(Problem { path: site.path.clone(), mark: site.mark, message: message.into() });
        }
        match (placement, value) {
            (Placement::File { file, .. }, Some(value)) => {
                secret_files.push(SecretFile { name: file.clone(), value });
            }
            (Placement::Inline, Some(value)) if value.expose_str().is_none() => problems.push(Problem {
                path: site.path.clone(),
                mark: site.mark,
                message: "the value is binary (not UTF-8) and cannot be inlined; use a field with a `_file` sibling or `render: file`".into(),
            }),
            (Placement::Inline, Some(value)) => inlined.push((index, value)),
            (_, None) => {}
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut texts = vec![""; sites.len()];
    for (index, value) in &inlined {
        texts[*index] = value.expose_str().unwrap_or_default();
    }
    Ok(Rendered { secret_files, config: template.fill(&texts), warnings })
}

fn parent_of<'a>(root: &'a Node, route: &[usize]) -> Option<&'a Node> {
    let (_, parents) = route.split_last()?;
    let mut node = root;
    for &position in parents {
        node = match &node.kind {
            NodeKind::Mapping(entries) => &entries.get(position)?.value,
            NodeKind::Sequence(items) => items.get(position)?,
            _ => return None,
        };
    }
    Some(node)
}

fn node_at<'a>(root: &'a mut Node, route: &[usize]) -> &'a mut Node {
    let mut node = root;
    for &position in route {
        node = match &mut node.kind {
            NodeKind::Mapping(entries) => &mut entries[position].value,
            NodeKind::Sequence(items) => &mut items[position],
            _ => unreachable!("a site's route follows the tree it was found in"),
        };
    }
    node
}

fn entry_at<'a>(root: &'a mut Node, route: &[usize]) -> &'a mut tree::Entry {
    let (last, parents) = route.split_last().expect("a file placement has a field");
    match &mut node_at(root, parents).kind {
        NodeKind::Mapping(entries) => &mut entries[*last],
        _ => unreachable!("a file placement sits in a mapping"),
    }
}

/// Makes relative paths absolute against the source config's directory, so the rendered copy,
/// which lives elsewhere, loads the same files.
fn absolutize(node: &mut Node, path: &mut YamlPath, profile: &Profile, dir: &Path) {
    match &mut node.kind {
        NodeKind::Scalar { text, .. } => {
            if !text.is_empty() && !Path::new(text.as_str()).is_absolute() && profile.is_relative_path_field(path) {
                let absolute = dir.join(text.as_str()).to_string_lossy().into_owned();
                *node = Node { tag: node.tag.clone(), ..Node::string(absolute) };
            }
        }
        NodeKind::Mapping(entries) => {
            for entry in entries {
                // The key's text is lent to the path while its value is visited and then given
                // back, rather than copied: this walk visits every key of the config.
                if let NodeKind::Scalar { text, .. } = &mut entry.key.kind {
                    path.push(tree::PathSegment::Key(std::mem::take(text)));
                    absolutize(&mut entry.value, path, profile, dir);
                    if let Some(tree::PathSegment::Key(key)) = path.pop() {
                        *text = key;
                    }
                }
            }
        }
        NodeKind::Sequence(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                path.push(tree::PathSegment::Item { index, label: None });
                absolutize(item, path, profile, dir);
                path.pop();
            }
        }
        NodeKind::Slot(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ParseContext;
    use crate::tree::scan::scan;

    /// [`prepare`] and [`complete`] at once.
    fn render(
        source: &Source<'_>,
        mut root: Node,
        sites: &[Site],
        placements: &[Placement],
        values: Vec<Option<Secret>>,
        secrets_dir: &Path,
    ) -> Result<Rendered, Vec<Problem>> {
        complete(&prepare(source, &mut root, sites, placements, secrets_dir), sites, placements, values)
    }

    fn render_text(text: &str, kind: TargetKind, values: &[&str]) -> Result<(String, Vec<String>), Vec<String>> {
        let document = tree::load(text).unwrap();
        let profile = Profile::new(kind, None);
        let stores = crate::stores::StoreRegistry::default();
        let context = ParseContext { config_dir: Path::new("/etc/prom"), stores: &stores };
        let (sites, problems) = scan(&document, &|path| profile.is_secret_field(path), &context);
        assert!(problems.is_empty(), "{problems:?}");
        let strings = |problems: Vec<Problem>| problems.iter().map(ToString::to_string).collect::<Vec<_>>();
        let placements = plan(&document, "prometheus.yml", &sites, &profile).map_err(strings)?;
        let values = values.iter().map(|v| Some(Secret::from_text((*v).to_owned()))).collect();
        let source = Source { dir: Path::new("/etc/prom"), profile: &profile, text_len: 0 };
        let rendered =
            render(&source, document.root.clone(), &sites, &placements, values, Path::new("/run/sr/secrets"))
                .map_err(strings)?;
        let names = rendered.secret_files.iter().map(|file| file.name.clone()).collect();
        Ok((rendered.config.expose_str().unwrap().to_owned(), names))
    }

    #[test]
    fn generic_targets_inline_unless_told_to_write_a_file() {
        let (config, files) = render_text(
            "a:\n  token: {env: {name: A}}\n  key: {env: {name: B, render: file}}\n  c_file: rel/x\nsecret_stores: {}\n",
            TargetKind::Generic,
            &["va", "vb"],
        )
        .unwrap();
        assert_eq!(files, [secret_file_name("prometheus.yml", &YamlPath::root().key("a").key("key"))]);
        assert_eq!(
            config,
            format!(
                "a:\n  token: \"va\"\n  key_file: \"/run/sr/secrets/{}\"\n  c_file: \"/etc/prom/rel/x\"\n",
                files[0]
            )
        );
    }

    #[test]
    fn a_sibling_already_present_is_a_conflict() {
        let problems = render_text(
            "a:\n  password: {env: {name: A, render: file}}\n  password_file: /x\n",
            TargetKind::Generic,
            &["v"],
        )
        .unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("`password_file` is already set"), "{problems:?}");
    }

    #[test]
    fn secret_file_names_are_stable_readable_and_distinct_per_config() {
        let path = YamlPath::root()
            .key("scrape_configs")
            .item(0, Some(("job_name".into(), "example_job".into())))
            .key("basic_auth")
            .key("password");
        let name = secret_file_name("prometheus.yml", &path);
        assert!(name.starts_with("example_job.basic_auth.password-"), "{name}");
        assert_eq!(name.len(), "example_job.basic_auth.password-".len() + 4);
        assert_eq!(name, secret_file_name("prometheus.yml", &path));
        assert_ne!(name, secret_file_name("other.yml", &path));
    }

    #[test]
    fn empty_values_and_inlined_values_padded_with_whitespace_are_doubtful() {
        let file = Placement::File { sibling: "password_file".into(), file: "f".into() };
        for (value, placement, doubtful) in [
            (&b""[..], &Placement::Inline, true),
            (b"", &file, true),
            (b"token\n", &Placement::Inline, true),
            (b"token\r\n", &Placement::Inline, true),
            (b" token", &Placement::Inline, true),
            (b"token\t", &Placement::Inline, true),
            (b"token\n", &file, false),
            (b"to ken", &Placement::Inline, false),
            (b"-----BEGIN KEY-----\nx\n-----END KEY-----", &Placement::Inline, false),
        ] {
            assert_eq!(doubtful_value(value, placement).is_some(), doubtful, "{value:?} {placement:?}");
        }
    }

    #[test]
    fn binary_values_cannot_be_inlined() {
        let document = tree::load("a:\n  token: {env: {name: A}}\n").unwrap();
        let profile = Profile::new(TargetKind::Generic, None);
        let stores = crate::stores::StoreRegistry::default();
        let context = ParseContext { config_dir: Path::new("/"), stores: &stores };
        let (sites, _) = scan(&document, &|_| false, &context);
        let placements = plan(&document, "c.yml", &sites, &profile).unwrap();
        let source = Source { dir: Path::new("/"), profile: &profile, text_len: 0 };
        let result = render(
            &source,
            document.root.clone(),
            &sites,
            &placements,
            vec![Some(Secret::new(vec![0xff, 0xfe]))],
            Path::new("/s"),
        );
        assert!(result.is_err());
    }
}
