//! Finding provider maps: walks a document and returns every place a secret is asked for, with
//! its parsed body, plus every near miss, all at once.

use super::{Document, Entry, Mark, Node, NodeKind, YamlPath};
use crate::provider::{self, ParseContext, Problem, ProviderKind, SecretSpec};

/// The top-level key that defines named stores; it is read separately and dropped on output.
pub const STORES_KEY: &str = "secret_stores";

/// One provider map found in a document.
#[derive(Clone, Debug)]
pub struct Site {
    pub path: YamlPath,
    pub mark: Mark,
    /// Child positions from the root to the provider map (entry index in a mapping, item index
    /// in a sequence), so the renderer can replace it without searching.
    pub route: Vec<usize>,
    pub spec: SecretSpec,
}

impl Site {
    /// The field the provider map is the value of, if it is a mapping value.
    #[must_use]
    pub fn field(&self) -> Option<&str> {
        self.path.field()
    }
}

/// Every provider map and every problem in `document`. `is_secret_field` says where the target
/// expects a secret string: there, any mapping that is not a provider map (a one-key mapping with
/// a scalar body, a misspelt provider, a body whose keys were not indented under its provider) is
/// an error rather than ordinary data the target would refuse later.
pub fn scan(
    document: &Document,
    is_secret_field: &dyn Fn(&YamlPath) -> bool,
    context: &ParseContext<'_>,
) -> (Vec<Site>, Vec<Problem>) {
    let mut scanner = Scanner {
        is_secret_field,
        context,
        sites: Vec::new(),
        problems: Vec::new(),
        here: YamlPath::root(),
        here_valid: 0,
    };
    scanner.walk(&document.root, &mut Vec::new(), &mut Vec::new());
    (scanner.sites, scanner.problems)
}

struct Scanner<'a> {
    is_secret_field: &'a dyn Fn(&YamlPath) -> bool,
    context: &'a ParseContext<'a>,
    sites: Vec<Site>,
    problems: Vec<Problem>,
    /// The path of the last mapping asked about (see [`Scanner::at_secret_field`]): every
    /// mapping of the config is, and consecutive ones share most of their path, so it is
    /// extended from where the walk's steps last agreed with it instead of built anew.
    here: YamlPath,
    /// How many leading segments of `here` still match the walk's steps.
    here_valid: usize,
}

/// One step from the root to the node being visited, borrowing the tree: the walk visits every
/// node of the config, and only the few places where a site or a problem is found need a
/// [`YamlPath`] of their own (see [`path_of`]).
#[derive(Clone, Copy)]
enum Step<'n> {
    Key(&'n str),
    /// A sequence item: its index, and the item itself, which may carry a label.
    Item(usize, &'n Node),
}

fn path_of(steps: &[Step<'_>]) -> YamlPath {
    let mut path = YamlPath::root();
    for step in steps {
        path.push(segment(*step));
    }
    path
}

fn segment(step: Step<'_>) -> super::PathSegment {
    match step {
        Step::Key(key) => super::PathSegment::Key(key.to_owned()),
        Step::Item(index, item) => super::PathSegment::Item { index, label: item_label(item) },
    }
}

/// The `job_name=…`/`name=…` label that identifies a sequence item to a reader.
fn item_label(item: &Node) -> Option<(String, String)> {
    ["job_name", "name"].into_iter().find_map(|field| {
        let value = item.get(field)?.as_scalar()?;
        Some((field.to_owned(), value.to_owned()))
    })
}

impl Scanner<'_> {
    fn problem(&mut self, path: YamlPath, mark: Mark, message: String) {
        self.problems.push(Problem { path, mark, message });
    }

    fn walk<'n>(&mut self, node: &'n Node, steps: &mut Vec<Step<'n>>, route: &mut Vec<usize>) {
        if node.is_literal() {
            return;
        }
        match &node.kind {
            NodeKind::Mapping(entries) => {
                if let Some((kind, body)) = provider_key(entries)
                    && matches!(body.kind, NodeKind::Mapping(_))
                {
                    self.provider_map(kind, body, node.mark, steps, route);
                    return;
                }
                if !steps.is_empty()
                    && self.at_secret_field(steps)
                    && let Some((mark, message)) = not_a_provider_map(entries, node.mark)
                {
                    self.problem(path_of(steps), mark, message);
                    return;
                }
                if entries.len() > 1 {
                    let others: Vec<&str> = entries.iter().filter_map(|entry| entry.key.as_scalar()).collect();
                    for entry in entries {
                        let Some(kind) = entry.key.as_scalar().and_then(ProviderKind::from_name) else {
                            continue;
                        };
                        if matches!(entry.value.kind, NodeKind::Mapping(_)) {
                            let message = format!(
                                "a provider map has exactly one key, but `{kind}` stands beside {}; \
                                 move the other keys out, or tag the mapping `!literal`",
                                others
                                    .iter()
                                    .filter(|key| **key != kind.name())
                                    .map(|key| format!("`{key}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            );
                            self.problem(path_of(steps), entry.key.mark, message);
                        }
                    }
                }
                for (position, entry) in entries.iter().enumerate() {
                    let Some(key) = entry.key.as_scalar() else {
                        continue;
                    };
                    if steps.is_empty() && key == STORES_KEY {
                        continue;
                    }
                    route.push(position);
                    steps.push(Step::Key(key));
                    self.walk(&entry.value, steps, route);
                    steps.pop();
                    self.here_valid = self.here_valid.min(steps.len());
                    route.pop();
                }
            }
            NodeKind::Sequence(items) => {
                for (index, item) in items.iter().enumerate() {
                    route.push(index);
                    steps.push(Step::Item(index, item));
                    self.walk(item, steps, route);
                    steps.pop();
                    self.here_valid = self.here_valid.min(steps.len());
                    route.pop();
                }
            }
            NodeKind::Scalar { .. } | NodeKind::Slot(_) => {}
        }
    }

    /// Whether the target expects a secret string where `steps` lead, leaving their path (items
    /// unlabelled) in `self.here`.
    fn at_secret_field(&mut self, steps: &[Step<'_>]) -> bool {
        while self.here.segments().len() > self.here_valid {
            self.here.pop();
        }
        // Without items' `job_name=…` labels, which no pattern looks at: a problem's message
        // takes its labelled path from `path_of`.
        for step in &steps[self.here_valid..] {
            self.here.push(match *step {
                Step::Item(index, _) => super::PathSegment::Item { index, label: None },
                key => segment(key),
            });
        }
        self.here_valid = steps.len();
        (self.is_secret_field)(&self.here)
    }

    fn provider_map(&mut self, kind: ProviderKind, body: &Node, mark: Mark, steps: &[Step<'_>], route: &[usize]) {
        let path = path_of(steps);
        if steps.is_empty() {
            self.problem(path, mark, "the whole document cannot be a provider map".into());
            return;
        }
        match provider::parse_spec(kind, body, &path, self.context) {
            Ok(spec) => self.sites.push(Site { path, mark, route: route.to_vec(), spec }),
            Err(problems) => self.problems.extend(problems),
        }
    }
}

/// The spec of `mapping` when it is a well-formed provider map, judged on its own as it is
/// read, before the document around it is (see [`crate::configs::load_all_watching`]): the
/// walk above finds the same map and parses it the same way, with its path for messages.
#[must_use]
pub fn early_spec(mapping: &Node, context: &ParseContext<'_>) -> Option<SecretSpec> {
    let (kind, body) = provider_key(mapping.as_mapping()?)?;
    if !matches!(body.kind, NodeKind::Mapping(_)) {
        return None;
    }
    provider::parse_spec(kind, body, &YamlPath::root(), context).ok()
}

/// The provider and body of a mapping whose only key names a provider: a provider map when the
/// body is a mapping, a near miss otherwise.
fn provider_key(entries: &[Entry]) -> Option<(ProviderKind, &Node)> {
    let [entry] = entries else { return None };
    let kind = entry.key.as_scalar().and_then(ProviderKind::from_name)?;
    Some((kind, &entry.value))
}

/// What is wrong with `entries`, a mapping where the target expects a secret string, and where
/// (its own `mark` unless a key is to blame); `None` when the rule for a provider key beside
/// other keys in [`Scanner::walk`] reports it already.
fn not_a_provider_map(entries: &[Entry], mark: Mark) -> Option<(Mark, String)> {
    let provider_entries =
        || entries.iter().filter_map(|entry| Some((entry.key.as_scalar().and_then(ProviderKind::from_name)?, entry)));
    if let Some((kind, body)) = provider_key(entries) {
        let message = format!(
            "`{kind}` here needs a mapping body, e.g. `{kind}: {{{}: …}}`; to keep this mapping as data, tag it \
             `!literal`",
            example_key(kind)
        );
        return Some((body.mark, message));
    }
    if provider_entries().any(|(_, entry)| matches!(entry.value.kind, NodeKind::Mapping(_))) {
        return None;
    }
    // `password:\n  file:\n  path: pw`: the body's keys were written level with the provider.
    if let Some((kind, entry)) = provider_entries().find(|(_, entry)| entry.value.is_null()) {
        let others = entries
            .iter()
            .filter(|other| !std::ptr::eq(*other, entry))
            .filter_map(|other| other.key.as_scalar())
            .map(|key| format!("`{key}`"))
            .collect::<Vec<_>>()
            .join(", ");
        return Some((entry.key.mark, format!("`{kind}` has no body; indent its keys ({others}) under `{kind}:`")));
    }
    let providers = ProviderKind::ALL.iter().map(|kind| format!("`{kind}`")).collect::<Vec<_>>().join(", ");
    if let [entry] = entries
        && let Some(key) = entry.key.as_scalar()
    {
        // The key is quoted only where it is clearly meant as a provider's name: near one, or
        // with a body under it. Otherwise it may be the secret itself, written unquoted and
        // starting with `{` (`password: {s3cr3t}` is a mapping with the key `s3cr3t`).
        let message = match closest_provider(key) {
            Some(kind) => format!("unknown provider `{key}` (did you mean `{kind}`?)"),
            None if matches!(entry.value.kind, NodeKind::Mapping(_)) => {
                format!("unknown provider `{key}` (providers: {providers})")
            }
            None => format!(
                "a mapping whose one key is no provider (providers: {providers}); a secret string that \
                 starts with `{{` must be quoted"
            ),
        };
        return Some((entry.key.mark, message));
    }
    Some((
        mark,
        format!(
            "a secret string or a provider map belongs here, not this mapping; a provider map has exactly one \
             key, a provider ({providers})"
        ),
    ))
}

/// The provider `key` is most likely a misspelling of: within two edits, or differing in case.
fn closest_provider(key: &str) -> Option<ProviderKind> {
    let key = key.to_lowercase();
    ProviderKind::ALL
        .into_iter()
        .map(|kind| (strsim::damerau_levenshtein(&key, kind.name()), kind))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, kind)| kind)
}

fn example_key(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::File | ProviderKind::Vault => "path",
        ProviderKind::Env | ProviderKind::Kubernetes | ProviderKind::AzureKeyVault => "name",
        ProviderKind::AwsSecretsManager => "secret_id",
        ProviderKind::GcpSecretManager => "secret",
        ProviderKind::Exec => "command",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{Location, RenderMode};
    use crate::tree::load;

    fn run(text: &str) -> (Vec<Site>, Vec<String>) {
        let document = load(text).unwrap();
        let stores = crate::stores::StoreRegistry::default();
        let context = ParseContext { config_dir: std::path::Path::new("/etc/prometheus"), stores: &stores };
        let secret_fields = |path: &YamlPath| path.field() == Some("password");
        let (sites, problems) = scan(&document, &secret_fields, &context);
        (sites, problems.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn finds_provider_maps_at_any_depth_with_their_paths() {
        let (sites, problems) = run(concat!(
            "scrape_configs:\n",
            "  - job_name: example_job\n",
            "    basic_auth:\n",
            "      username: prom\n",
            "      password:\n",
            "        file: {path: secrets/pw, refresh_interval: 30m, render: inline}\n",
            "  - static_configs: [{targets: [a]}]\n",
            "    authorization: {credentials: {env: {name: TOKEN}}}\n",
        ));
        assert_eq!(problems, Vec::<String>::new());
        let paths: Vec<String> = sites.iter().map(|site| site.path.to_string()).collect();
        assert_eq!(
            paths,
            ["scrape_configs[job_name=example_job].basic_auth.password", "scrape_configs[1].authorization.credentials"]
        );
        assert_eq!(sites[0].route, [0, 0, 1, 1]);
        assert_eq!(sites[0].spec.render, RenderMode::Inline);
        assert_eq!(sites[0].spec.refresh_interval, Some(std::time::Duration::from_secs(1800)));
        let Location::File(file) = &sites[0].spec.location else { panic!() };
        assert_eq!(file.path, std::path::Path::new("/etc/prometheus/secrets/pw"));
    }

    /// A store's `refresh_interval` and `grace_period` are the defaults of the maps that use it;
    /// a map's own setting wins.
    #[test]
    fn a_stores_refresh_interval_and_grace_period_apply_unless_the_map_sets_its_own() {
        let document = load(concat!(
            "secret_stores:\n",
            "  prod: {vault: {address: 'http://127.0.0.1:8200', refresh_interval: 10m, grace_period: 5m}}\n",
            "a: {password: {vault: {path: p, key: k}}}\n",
            "b: {password: {vault: {path: p, key: k, refresh_interval: 2m, grace_period: 1h}}}\n",
        ))
        .unwrap();
        let source = crate::stores::StoreSource {
            file: std::path::Path::new("/etc/prometheus/prometheus.yml"),
            dir: std::path::Path::new("/etc/prometheus"),
            root: &document.root,
        };
        let stores = crate::stores::StoreRegistry::load(&[source]).expect("valid stores");
        let context = ParseContext { config_dir: std::path::Path::new("/etc/prometheus"), stores: &stores };
        let secret_fields = |path: &YamlPath| path.field() == Some("password");
        let (sites, problems) = scan(&document, &secret_fields, &context);
        assert!(problems.is_empty(), "{problems:?}");
        let minutes = |n: u64| Some(std::time::Duration::from_secs(60 * n));
        let settings: Vec<_> = sites.iter().map(|site| (site.spec.refresh_interval, site.spec.grace_period)).collect();
        assert_eq!(settings, [(minutes(10), minutes(5)), (minutes(2), minutes(60))]);
    }

    #[test]
    fn ordinary_data_and_literals_are_left_alone() {
        let (sites, problems) = run("labels: {env: prod}\nextra: !literal {file: {path: x}}\nlist: [{file: x}]\n");
        assert!(sites.is_empty());
        assert!(problems.is_empty(), "{problems:?}");
    }

    /// At a secret field the target wants a string: any mapping there that is not a provider map
    /// would reach it as data (`cannot unmarshal !!map into config.plain`), so it is an error
    /// saying what was probably meant.
    #[test]
    fn a_mapping_at_a_secret_field_that_is_not_a_provider_map_is_an_error() {
        let names = "`file`, `env`, `vault`, `kubernetes`, `aws_secrets_manager`, `gcp_secret_manager`, \
                     `azure_key_vault`, `exec`";
        let not_a_map = format!(
            "a secret string or a provider map belongs here, not this mapping; a provider map has exactly one key, \
             a provider ({names})"
        );
        let cases = [
            (
                "password: {vualt: {path: prom/node, key: password}}\n",
                "password (line 1): unknown provider `vualt` (did you mean `vault`?)".to_owned(),
            ),
            (
                "password:\n  Vault: {path: p}\n",
                "password (line 2): unknown provider `Vault` (did you mean `vault`?)".to_owned(),
            ),
            ("password: {evn: TOKEN}\n", "password (line 1): unknown provider `evn` (did you mean `env`?)".to_owned()),
            (
                "password: {secrets: {path: p}}\n",
                format!("password (line 1): unknown provider `secrets` (providers: {names})"),
            ),
            (
                "password:\n  file:\n  path: pw\n",
                "password (line 2): `file` has no body; indent its keys (`path`) under `file:`".to_owned(),
            ),
            (
                "password: {path: pw, key: k, vault: ~}\n",
                "password (line 1): `vault` has no body; indent its keys (`path`, `key`) under `vault:`".to_owned(),
            ),
            (
                "password: {s3cr3t-fake}\n",
                format!(
                    "password (line 1): a mapping whose one key is no provider (providers: {names}); a secret \
                     string that starts with `{{` must be quoted"
                ),
            ),
            (
                "password: {user: s3cr3t-fake}\n",
                format!(
                    "password (line 1): a mapping whose one key is no provider (providers: {names}); a secret string that starts with `{{` must be quoted"
                ),
            ),
            ("password:\n  path: pw\n  key: k\n", format!("password (line 2): {not_a_map}")),
            ("password: {}\n", format!("password (line 1): {not_a_map}")),
        ];
        for (text, expected) in cases {
            let (sites, problems) = run(text);
            assert!(sites.is_empty(), "{text}");
            assert_eq!(problems, [expected], "{text}");
        }
    }

    /// The rule is the target's: elsewhere, and under `--target generic` (no secret fields), a
    /// mapping is data however much it looks like a mistake, and `!literal` still escapes it.
    #[test]
    fn mappings_elsewhere_or_tagged_literal_stay_data() {
        let (sites, problems) = run(concat!(
            "labels: {vualt: {path: p}, file: null, x: y}\n",
            "other: {file: ~, path: pw}\n",
            "password: !literal {vualt: {path: p}}\n",
        ));
        assert!(sites.is_empty());
        assert!(problems.is_empty(), "{problems:?}");
        let document = load("password: {vualt: {path: p}}\nb:\n  password:\n    file:\n    path: pw\n").unwrap();
        let stores = crate::stores::StoreRegistry::default();
        let context = ParseContext { config_dir: std::path::Path::new("/etc/prometheus"), stores: &stores };
        let (sites, problems) = scan(&document, &|_| false, &context);
        assert!(sites.is_empty());
        assert!(problems.is_empty(), "{problems:?}");
    }

    /// The path cache follows the walk: sibling and cousin secret fields each get their own path,
    /// item labels included.
    #[test]
    fn each_problem_names_its_own_path_when_several_share_a_prefix() {
        let (_, problems) = run(concat!(
            "jobs:\n",
            "  - name: a\n",
            "    auth: {password: {x: 1}}\n",
            "  - name: b\n",
            "    auth: {password: {vault: {path: p, key: k}}}\n",
            "    other: {password: {evn: T}}\n",
            "  - {auth: {password: {}}}\n",
        ));
        let paths: Vec<&str> = problems.iter().map(|problem| problem.split(" (").next().unwrap()).collect();
        assert_eq!(paths, ["jobs[name=a].auth.password", "jobs[name=b].other.password", "jobs[2].auth.password"]);
    }

    #[test]
    fn closest_provider_allows_two_edits_or_a_case_difference() {
        let cases = [
            ("vualt", Some(ProviderKind::Vault)),
            ("VAULT", Some(ProviderKind::Vault)),
            ("fiel", Some(ProviderKind::File)),
            ("aws_secret_manager", Some(ProviderKind::AwsSecretsManager)),
            ("k8s", None),
            ("secrets", None),
            ("path", None),
        ];
        for (key, expected) in cases {
            assert_eq!(closest_provider(key), expected, "{key}");
        }
    }

    #[test]
    fn reports_every_near_miss_with_its_path() {
        // A build without the `kubernetes` feature reports the provider itself; one with it, the
        // body's invalid name.
        let (kubernetes, kubernetes_problem) = if cfg!(feature = "kubernetes") {
            (
                "e:\n  w: {kubernetes: {name: P_, key: k}}\n",
                "e.w (line 10): `name` \"P_\" is not a valid Kubernetes name",
            )
        } else {
            (
                "e:\n  w: {kubernetes: {name: p, key: k}}\n",
                "e.w (line 10): provider `kubernetes` is not available in this build",
            )
        };
        let (sites, problems) = run(&[
            "a:\n  password: {env: TOKEN}\n",
            "b:\n  x: {file: {path: p}, other: 1}\n",
            "c:\n  y: {env: {name: N, nmae: typo}}\n",
            "d:\n  z: {file: {}}\n",
            kubernetes,
            "f:\n  v: {env: {name: N, refresh_interval: soon}}\n",
        ]
        .concat());
        assert!(sites.is_empty());
        let expected = [
            "a.password (line 2): `env` here needs a mapping body",
            "b.x (line 4): a provider map has exactly one key, but `file` stands beside `other`",
            "c.y (line 6): unknown key `nmae` in `env` body",
            "d.z (line 8): `file` body is missing the required key `path`",
            kubernetes_problem,
            "f.v (line 12): `refresh_interval`: invalid duration \"soon\"",
        ];
        assert_eq!(problems.len(), expected.len(), "{problems:#?}");
        for (problem, expected) in problems.iter().zip(expected) {
            assert!(problem.starts_with(expected), "{problem}\n does not start with\n{expected}");
        }
    }
}
