//! Targets and their `_file` table: which fields of a Prometheus, Alertmanager or generic config
//! hold secrets, which have a `_file` sibling in which version, and which hold relative paths.
//! The facts live in `targets.yaml` beside this file; this module parses and queries them.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use crate::tree::{self, Node, NodeKind, PathSegment, YamlPath};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TargetKind {
    Prometheus,
    Alertmanager,
    Generic,
}

impl TargetKind {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Prometheus => "prometheus",
            Self::Alertmanager => "alertmanager",
            Self::Generic => "generic",
        }
    }

    /// Guesses the target from a config's top-level keys.
    #[must_use]
    pub fn detect(root: &Node) -> Self {
        let has = |keys: &[&str]| keys.iter().any(|key| root.get(key).is_some());
        if has(&["route", "receivers", "inhibit_rules", "time_intervals", "mute_time_intervals"]) {
            Self::Alertmanager
        } else if has(&[
            "scrape_configs",
            "scrape_config_files",
            "rule_files",
            "alerting",
            "remote_write",
            "remote_read",
            "storage",
            "tls_server_config",
            "basic_auth_users",
            "http_server_config",
            "global",
        ]) {
            Self::Prometheus
        } else {
            Self::Generic
        }
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A `major.minor.patch` version; missing parts are zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u32, pub u32, pub u32);

impl FromStr for Version {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let trimmed = text.trim().trim_start_matches('v');
        let core = trimmed.split(['-', '+']).next().unwrap_or_default();
        let mut parts = core.split('.').map(str::parse::<u32>);
        let mut next = || parts.next().transpose().map_err(|_| format!("invalid version {text:?}"));
        let major = next()?.ok_or_else(|| format!("invalid version {text:?}"))?;
        let version = Version(major, next()?.unwrap_or(0), next()?.unwrap_or(0));
        if next()?.is_some() {
            return Err(format!("invalid version {text:?}"));
        }
        Ok(version)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// `--target prometheus[@VERSION]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetSpec {
    pub kind: TargetKind,
    pub version: Option<Version>,
}

impl TargetSpec {
    /// Why the table of secret fields may be wrong for this version, if it may: the version is
    /// outside the range the table was checked against. The render goes on (the table's answers
    /// for the nearest checked version are the best there is), so this is for a warning.
    #[must_use]
    pub fn unchecked_version(&self) -> Option<String> {
        let version = self.version?;
        if self.kind == TargetKind::Generic {
            return None;
        }
        let profile = Profile::new(self.kind, None);
        let (oldest, newest) = (profile.known_versions()[0], *profile.known_versions().last()?);
        let kind = self.kind;
        if version < oldest {
            Some(format!(
                "{kind} {version} is older than {oldest}, the oldest version the table of secret fields was checked against: a `_file` sibling it uses may not exist there yet"
            ))
        } else if (version.0, version.1) > (newest.0, newest.1) {
            Some(format!(
                "{kind} {version} is newer than {newest}, the newest version the table of secret fields was checked against: secret fields it added are not recognised"
            ))
        } else {
            None
        }
    }
}

impl FromStr for TargetSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (name, version) = match text.split_once('@') {
            Some((name, version)) => (name, Some(version.parse()?)),
            None => (text, None),
        };
        let kind = match name {
            "prometheus" => TargetKind::Prometheus,
            "alertmanager" => TargetKind::Alertmanager,
            "generic" => TargetKind::Generic,
            other => {
                return Err(format!("unknown target {other:?} (expected prometheus, alertmanager or generic)"));
            }
        };
        Ok(Self { kind, version })
    }
}

/// The shape of a secret value, for `check`'s placeholders.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ValueKind {
    #[default]
    Text,
    Url,
    /// A bcrypt hash (web config `basic_auth_users`), which `promtool check web-config` parses.
    Bcrypt,
}

#[derive(Debug)]
pub struct SecretField {
    at: Pattern,
    pub sibling: Option<String>,
    pub sibling_since: Option<Version>,
    pub kind: ValueKind,
}

struct TargetTable {
    kind: TargetKind,
    versions: Vec<Version>,
    secret_fields: Vec<SecretField>,
    /// The secret fields (indices, in table order) whose pattern ends in each literal key: a
    /// path ending in any other key can only be one of `secret_fields_ending_otherwise`. The scan
    /// asks about every mapping of a config, most of them far from any secret.
    secret_fields_by_last_key: HashMap<String, Vec<usize>, foldhash::fast::FixedState>,
    /// The secret fields whose pattern ends in a glob, an item or any depth.
    secret_fields_ending_otherwise: Vec<usize>,
    relative_paths: Vec<Pattern>,
    /// Entries of maps whose keys the user names: never a relative path.
    user_keys: Vec<Pattern>,
}

static TABLE: LazyLock<Vec<TargetTable>> =
    LazyLock::new(|| parse_table(include_str!("targets.yaml")).expect("src/render/targets.yaml is valid"));

/// One target at one version: the questions the renderer asks of the table.
#[derive(Clone, Copy)]
pub struct Profile {
    pub kind: TargetKind,
    pub version: Version,
    table: &'static TargetTable,
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Profile({}@{})", self.kind, self.version)
    }
}

impl Profile {
    /// The profile for a target; without a version, the oldest the table was checked against,
    /// since a sibling that version lacks would make its config invalid.
    #[must_use]
    pub fn new(kind: TargetKind, version: Option<Version>) -> Self {
        let table = TABLE.iter().find(|table| table.kind == kind).expect("every target has a table");
        let version = version.unwrap_or(table.versions[0]);
        Self { kind, version, table }
    }

    /// The versions the table was checked against, oldest first.
    #[must_use]
    pub fn known_versions(&self) -> &[Version] {
        &self.table.versions
    }

    #[must_use]
    pub fn secret_field(&self, path: &YamlPath) -> Option<&'static SecretField> {
        let table = self.table;
        let by_last_key = match path.segments().last() {
            Some(PathSegment::Key(key)) => table.secret_fields_by_last_key.get(key.as_str()).map(Vec::as_slice),
            _ => None,
        };
        // The first match in table order, as a scan of every field would find it.
        by_last_key
            .unwrap_or_default()
            .iter()
            .chain(&table.secret_fields_ending_otherwise)
            .copied()
            .filter(|&index| table.secret_fields[index].at.matches(path))
            .min()
            .map(|index| &table.secret_fields[index])
    }

    /// Whether the target expects a secret string at `path`.
    #[must_use]
    pub fn is_secret_field(&self, path: &YamlPath) -> bool {
        self.secret_field(path).is_some()
    }

    /// The `_file` sibling this version offers for the field at `path`.
    #[must_use]
    pub fn sibling(&self, path: &YamlPath) -> Option<&'static str> {
        let field = self.secret_field(path)?;
        let available = field.sibling_since.is_none_or(|since| self.version >= since);
        field.sibling.as_deref().filter(|_| available)
    }

    #[must_use]
    pub fn value_kind(&self, path: &YamlPath) -> ValueKind {
        self.secret_field(path).map(|field| field.kind).unwrap_or_default()
    }

    /// Whether the value at `path` is a path relative to the config's directory.
    #[must_use]
    pub fn is_relative_path_field(&self, path: &YamlPath) -> bool {
        self.table.relative_paths.iter().any(|pattern| pattern.matches(path))
            && !self.table.user_keys.iter().any(|pattern| pattern.matches(path))
    }
}

/// A path pattern from the table (`**.basic_auth.password`, `rule_files[]`, `**.*_file`).
#[derive(Debug)]
struct Pattern {
    tokens: Vec<PatternToken>,
}

#[derive(Debug)]
enum PatternToken {
    AnyDepth,
    /// A key written out in full, compared as it is.
    Key(String),
    /// A key with `*` in it (`*_file`).
    Glob(String),
    Item,
}

impl PatternToken {
    fn matches_key(&self, key: &str) -> bool {
        match self {
            Self::Key(literal) => literal == key,
            Self::Glob(glob) => glob_matches(glob, key),
            Self::AnyDepth | Self::Item => false,
        }
    }
}

impl Pattern {
    fn parse(text: &str) -> Result<Self, String> {
        let mut tokens = Vec::new();
        for segment in text.split('.') {
            if segment == "**" {
                tokens.push(PatternToken::AnyDepth);
                continue;
            }
            let key = segment.trim_end_matches("[]");
            if key.is_empty() || key.contains(['[', ']']) {
                return Err(format!("bad pattern segment {segment:?} in {text:?}"));
            }
            tokens.push(if key.contains('*') {
                PatternToken::Glob(key.to_owned())
            } else {
                PatternToken::Key(key.to_owned())
            });
            for _ in 0..(segment.len() - key.len()) / 2 {
                tokens.push(PatternToken::Item);
            }
        }
        Ok(Self { tokens })
    }

    fn matches(&self, path: &YamlPath) -> bool {
        self.matches_segments(path.segments())
    }

    fn matches_segments(&self, segments: &[PathSegment]) -> bool {
        // Most candidates fail on their last segment: check it first.
        let last_fits = match (self.tokens.last(), segments.last()) {
            (Some(token @ (PatternToken::Key(_) | PatternToken::Glob(_))), Some(PathSegment::Key(key))) => {
                token.matches_key(key)
            }
            (Some(PatternToken::Item), Some(PathSegment::Item { .. })) | (Some(PatternToken::AnyDepth), _) => true,
            _ => false,
        };
        if !last_fits {
            return false;
        }
        // A YAML merge key (`basic_auth: {<<: *common, username: other}`) puts the merged
        // mapping's fields where the mapping's own are, as the target reads them: `<<` (and the
        // item of a `<<: [*a, *b]` list) is not a level of the path.
        if segments.iter().any(is_merge_key) {
            let mut merged = Vec::with_capacity(segments.len());
            let mut after_merge_key = false;
            for segment in segments {
                let skip = is_merge_key(segment) || (after_merge_key && matches!(segment, PathSegment::Item { .. }));
                after_merge_key = is_merge_key(segment);
                if !skip {
                    merged.push(segment.clone());
                }
            }
            return self.matches_segments(&merged);
        }
        // `**.a.b`, the usual shape: the fixed rest must match the path's end, which takes its
        // length to check rather than a try at every depth.
        if let Some((PatternToken::AnyDepth, rest)) = self.tokens.split_first()
            && !rest.iter().any(|token| matches!(token, PatternToken::AnyDepth))
        {
            return segments.len() >= rest.len() && match_tokens(rest, &segments[segments.len() - rest.len()..]);
        }
        match_tokens(&self.tokens, segments)
    }
}

fn is_merge_key(segment: &PathSegment) -> bool {
    matches!(segment, PathSegment::Key(key) if key == "<<")
}

fn match_tokens(pattern: &[PatternToken], path: &[PathSegment]) -> bool {
    match (pattern.first(), path.first()) {
        (None, None) => true,
        (Some(PatternToken::AnyDepth), _) => (0..=path.len()).any(|skip| match_tokens(&pattern[1..], &path[skip..])),
        (Some(token @ (PatternToken::Key(_) | PatternToken::Glob(_))), Some(PathSegment::Key(key))) => {
            token.matches_key(key) && match_tokens(&pattern[1..], &path[1..])
        }
        (Some(PatternToken::Item), Some(PathSegment::Item { .. })) => match_tokens(&pattern[1..], &path[1..]),
        _ => false,
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob_matches(glob: &str, text: &str) -> bool {
    match glob.split_once('*') {
        None => glob == text,
        Some((prefix, rest)) => {
            let Some(text) = text.strip_prefix(prefix) else {
                return false;
            };
            // The last `*` (as in `*_file`, tried against every key of a config) needs no search.
            if !rest.contains('*') {
                return text.ends_with(rest);
            }
            (0..=text.len()).filter(|i| text.is_char_boundary(*i)).any(|i| glob_matches(rest, &text[i..]))
        }
    }
}

fn parse_table(text: &str) -> Result<Vec<TargetTable>, String> {
    let document = tree::load(text).map_err(|e| e.to_string())?;
    let mut tables = Vec::new();
    for kind in [TargetKind::Prometheus, TargetKind::Alertmanager, TargetKind::Generic] {
        let node = document.root.get(kind.name()).ok_or_else(|| format!("no table for {kind}"))?;
        let strings = |node: Option<&Node>| -> Result<Vec<String>, String> {
            match node.map(|node| &node.kind) {
                None => Ok(Vec::new()),
                Some(NodeKind::Sequence(items)) => items
                    .iter()
                    .map(|item| item.as_scalar().map(str::to_owned).ok_or_else(|| "expected strings".to_owned()))
                    .collect(),
                Some(_) => Err(format!("{kind}: expected a list of strings")),
            }
        };
        let versions = strings(node.get("versions"))?
            .iter()
            .map(|version| version.parse())
            .collect::<Result<Vec<Version>, _>>()?;
        if versions.is_empty() || !versions.is_sorted() {
            return Err(format!("{kind}: versions must be listed, oldest first"));
        }
        let relative_paths =
            strings(node.get("relative_paths"))?.iter().map(|p| Pattern::parse(p)).collect::<Result<_, _>>()?;
        let user_keys = strings(node.get("user_keys"))?.iter().map(|p| Pattern::parse(p)).collect::<Result<_, _>>()?;
        let mut secret_fields = Vec::new();
        if let Some(NodeKind::Sequence(items)) = node.get("secret_fields").map(|node| &node.kind) {
            for item in items {
                let text = |key: &str| item.get(key).and_then(Node::as_scalar).map(str::to_owned);
                let at = text("at").ok_or_else(|| format!("{kind}: a secret field without `at`"))?;
                let kind_of_value = match text("kind").as_deref() {
                    None | Some("text") => ValueKind::Text,
                    Some("url") => ValueKind::Url,
                    Some("bcrypt") => ValueKind::Bcrypt,
                    Some(other) => return Err(format!("{kind}: unknown value kind {other:?}")),
                };
                secret_fields.push(SecretField {
                    at: Pattern::parse(&at)?,
                    sibling: text("sibling"),
                    sibling_since: text("sibling_since").map(|v| v.parse()).transpose()?,
                    kind: kind_of_value,
                });
            }
        }
        let mut secret_fields_by_last_key: HashMap<String, Vec<usize>, foldhash::fast::FixedState> = HashMap::default();
        let mut secret_fields_ending_otherwise = Vec::new();
        for (index, field) in secret_fields.iter().enumerate() {
            match field.at.tokens.last() {
                Some(PatternToken::Key(key)) => secret_fields_by_last_key.entry(key.clone()).or_default().push(index),
                _ => secret_fields_ending_otherwise.push(index),
            }
        }
        tables.push(TargetTable {
            kind,
            versions,
            secret_fields,
            secret_fields_by_last_key,
            secret_fields_ending_otherwise,
            relative_paths,
            user_keys,
        });
    }
    Ok(tables)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &str) -> YamlPath {
        // Test paths use the pattern syntax: `a[].b` is key a, an item, key b.
        let mut path = YamlPath::root();
        for segment in text.split('.') {
            let key = segment.trim_end_matches("[]");
            path = path.key(key);
            for _ in 0..(segment.len() - key.len()) / 2 {
                path = path.item(0, None);
            }
        }
        path
    }

    #[test]
    fn the_table_parses() {
        assert_eq!(TABLE.len(), 3);
    }

    #[test]
    fn globs_match_any_run_of_characters_at_each_star() {
        let cases = [
            ("*_file", "password_file", true),
            ("*_file", "_file", true),
            ("*_file", "password", false),
            ("a*a", "a", false),
            ("a*a", "aa", true),
            ("*", "", true),
            ("x*y*z", "xyz", true),
            ("x*y*z", "x-y-", false),
            ("é*", "éa", true),
        ];
        for (glob, text, expected) in cases {
            assert_eq!(glob_matches(glob, text), expected, "{glob} against {text}");
        }
    }

    #[test]
    fn patterns_match_paths() {
        let cases = [
            ("**.basic_auth.password", "scrape_configs[].basic_auth.password", true),
            ("**.basic_auth.password", "basic_auth.password", true),
            ("**.basic_auth.password", "scrape_configs[].basic_auth.username", false),
            ("rule_files[]", "rule_files[]", true),
            ("rule_files[]", "rule_files", false),
            ("**.*_file", "scrape_configs[].tls_config.ca_file", true),
            ("**.*_file", "scrape_configs[].tls_config.ca", false),
            ("**.file_sd_configs[].files[]", "scrape_configs[].file_sd_configs[].files[]", true),
            ("scrape_configs[].*", "scrape_configs[].job_name", true),
            ("scrape_configs[].*", "scrape_configs[].a.b", false),
            // A merge key is not a level: its fields are the mapping's own.
            ("**.basic_auth.password", "scrape_configs[].basic_auth.<<.password", true),
            ("**.basic_auth.password", "scrape_configs[].basic_auth.<<[].password", true),
            ("scrape_configs[].basic_auth.password", "scrape_configs[].<<.basic_auth.<<.password", true),
            ("**.basic_auth.password", "scrape_configs[].basic_auth.<<.username", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(Pattern::parse(pattern).unwrap().matches(&path(text)), expected, "{pattern} vs {text}");
        }
    }

    #[test]
    fn siblings_follow_the_target_and_its_version() {
        use TargetKind::{Alertmanager, Generic, Prometheus};
        let v = |text: &str| Some(text.parse::<Version>().unwrap());
        let cases: [(TargetKind, Option<Version>, &str, Option<&str>); 16] = [
            (Prometheus, None, "scrape_configs[].basic_auth.password", Some("password_file")),
            (Prometheus, v("2.42"), "remote_write[].authorization.credentials", Some("credentials_file")),
            (Prometheus, v("2.42"), "scrape_configs[].oauth2.client_secret", Some("client_secret_file")),
            (Prometheus, v("2.42"), "scrape_configs[].tls_config.key", Some("key_file")),
            (Prometheus, v("2.42"), "remote_write[].sigv4.secret_key", None),
            (Prometheus, v("2.42"), "scrape_configs[].ec2_sd_configs[].secret_key", None),
            (Prometheus, v("2.42"), "scrape_configs[].oauth2.client_certificate_key", None),
            (
                Prometheus,
                v("3.8"),
                "scrape_configs[].oauth2.client_certificate_key",
                Some("client_certificate_key_file"),
            ),
            (Prometheus, v("2.42"), "basic_auth_users.admin", None),
            (Alertmanager, None, "global.smtp_auth_password", Some("smtp_auth_password_file")),
            (Alertmanager, v("0.25"), "receivers[].webhook_configs[].url", None),
            (Alertmanager, v("0.26"), "receivers[].webhook_configs[].url", Some("url_file")),
            (Alertmanager, v("0.25"), "receivers[].telegram_configs[].bot_token", None),
            (Alertmanager, v("0.35"), "receivers[].telegram_configs[].bot_token", Some("bot_token_file")),
            (
                Alertmanager,
                v("0.25"),
                "receivers[].slack_configs[].http_config.basic_auth.password",
                Some("password_file"),
            ),
            (Generic, None, "a.password", None),
        ];
        for (kind, version, at, expected) in cases {
            let profile = Profile::new(kind, version);
            assert_eq!(profile.sibling(&path(at)), expected, "{kind}@{} {at}", profile.version);
        }
        assert_eq!(Profile::new(Prometheus, None).version, Version(2, 42, 0), "the oldest checked version by default");
        assert_eq!(Profile::new(Alertmanager, None).version, Version(0, 25, 0));
        let profile = Profile::new(Alertmanager, None);
        assert_eq!(profile.value_kind(&path("receivers[].webhook_configs[].url")), ValueKind::Url);
        assert_eq!(Profile::new(Prometheus, None).value_kind(&path("basic_auth_users.admin")), ValueKind::Bcrypt);
    }

    #[test]
    fn relative_path_fields_follow_the_target() {
        let cases = [
            (TargetKind::Prometheus, "rule_files[]", true),
            (TargetKind::Prometheus, "scrape_configs[].tls_config.ca_file", true),
            (TargetKind::Prometheus, "scrape_configs[].file_sd_configs[].files[]", true),
            (TargetKind::Prometheus, "scrape_configs[].job_name", false),
            (TargetKind::Alertmanager, "templates[]", true),
            (TargetKind::Alertmanager, "global.http_config.tls_config.ca_file", true),
            // Alertmanager resolves receiver-level `*_file`s against its working directory.
            (TargetKind::Alertmanager, "receivers[].pagerduty_configs[].routing_key_file", false),
            (TargetKind::Generic, "app.token_file", true),
            // Keys the user names are data, whatever they end in: a label `source_file`.
            (TargetKind::Prometheus, "global.external_labels.config_file", false),
            (TargetKind::Prometheus, "scrape_configs[].static_configs[].labels.source_file", false),
            (TargetKind::Prometheus, "remote_write[].headers.x_file", false),
            (TargetKind::Prometheus, "scrape_configs[].oauth2.endpoint_params.audience_file", false),
            (TargetKind::Prometheus, "basic_auth_users.admin_file", false),
            (TargetKind::Prometheus, "remote_write[].oauth2.client_secret_file", true),
            (TargetKind::Alertmanager, "global.http_config.oauth2.endpoint_params.key_file", false),
        ];
        for (kind, at, expected) in cases {
            assert_eq!(Profile::new(kind, None).is_relative_path_field(&path(at)), expected, "{kind} {at}");
        }
    }

    #[test]
    fn only_versions_outside_the_checked_range_are_unchecked() {
        let spec = |text: &str| text.parse::<TargetSpec>().unwrap().unchecked_version();
        for checked in [
            "prometheus",
            "prometheus@2.42",
            "prometheus@3.0.1",
            "prometheus@3.16.9",
            "alertmanager@0.25.0",
            "generic@9",
        ] {
            assert_eq!(spec(checked), None, "{checked}");
        }
        assert!(spec("prometheus@9.9").is_some_and(|note| note.contains("prometheus 9.9.0 is newer than 3.16.0")));
        assert!(spec("prometheus@3.17").is_some_and(|note| note.contains("newer")));
        assert!(spec("prometheus@2.41.9").is_some_and(|note| note.contains("prometheus 2.41.9 is older than 2.42.0")));
        assert!(spec("alertmanager@0.24").is_some_and(|note| note.contains("older than 0.25.0")));
    }

    #[test]
    fn versions_and_targets_parse() {
        assert_eq!("2.42".parse::<Version>(), Ok(Version(2, 42, 0)));
        assert_eq!("v3.1.2-rc.0".parse::<Version>(), Ok(Version(3, 1, 2)));
        assert!("x".parse::<Version>().is_err());
        assert_eq!(
            "prometheus@2.53.1".parse::<TargetSpec>(),
            Ok(TargetSpec { kind: TargetKind::Prometheus, version: Some(Version(2, 53, 1)) })
        );
        assert!("nginx".parse::<TargetSpec>().is_err());
    }

    #[test]
    fn the_shape_of_a_config_tells_its_target() {
        let cases = [
            ("route: {receiver: x}\nreceivers: []\nglobal: {}\n", TargetKind::Alertmanager),
            ("scrape_configs: []\n", TargetKind::Prometheus),
            ("basic_auth_users: {a: b}\n", TargetKind::Prometheus),
            ("something: else\n", TargetKind::Generic),
        ];
        for (text, kind) in cases {
            assert_eq!(TargetKind::detect(&tree::load(text).unwrap().root), kind, "{text}");
        }
    }
}
