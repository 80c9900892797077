//! Property tests — fuzzing on stable Rust — of what every config passes through before a secret
//! is fetched: `tree::load` (YAML text → tree), `tree::emit` (tree → YAML text), the stores' parser
//! and `tree::scan::scan` (tree → provider maps and problems), and `duration::parse`.
//!
//! Not cargo-fuzz: it needs a nightly toolchain (libFuzzer's `-Z sanitizer` coverage
//! instrumentation) and this project builds on stable only. proptest's generators stand in for
//! coverage guidance: token soups of YAML's indicators, and generated YAML-ish documents
//! (block and flow mappings and sequences, every quote style, tags, anchors and aliases,
//! provider-map-like structures and their near misses, `secret_stores`), then mutated.
//!
//! The properties: loading never panics; whatever loads is emitted as text that loads back to the
//! same tree (marks and quote style aside) and emits the same text again; scanning never panics
//! and every problem (and every stores issue) names a YAML path that exists in the document;
//! durations never panic and whole `Ns`/`Nm`/`Nh` values round-trip.
//!
//! Case counts are kept small, so the module runs in well under a minute in a debug build;
//! `PROPTEST_CASES` raises them (scripts/fuzz.sh does). `tests/fuzz-corpus/*.yml` is a seed corpus
//! of interesting inputs checked against the same properties on every run. Failures are not
//! persisted to files: each one found is kept below as a named regression test.

use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError};
use secret_render::duration;
use secret_render::provider::ParseContext;
use secret_render::stores::{StoreRegistry, StoreSource};
use secret_render::tree::{self, Document, Node, NodeKind, PathSegment, ScalarStyle, YamlPath, scan};

use crate::support::repo;

/// `cases` unless `PROPTEST_CASES` says otherwise.
fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|value| value.parse().ok()).unwrap_or(cases);
    Config { cases, failure_persistence: None, ..Config::default() }
}

// ---------------------------------------------------------------------------------------------
// The properties, shared by the generated cases, the corpus and the regression tests.

/// A tree with what the round trip may change taken out: marks, quote style (single, double,
/// block), and the `!literal` tag, which is dropped on output. Tags are compared by what they
/// resolve to, however they were written.
#[derive(Debug, PartialEq)]
enum Canonical {
    Scalar { text: String, plain: bool, tag: Option<String> },
    Mapping(Vec<(Canonical, Canonical)>, Option<String>),
    Sequence(Vec<Canonical>, Option<String>),
}

fn canonical(node: &Node) -> Canonical {
    let tag = node.tag.as_ref().filter(|tag| !tag.is_literal()).map(|tag| match tag.handle.as_str() {
        "!" => format!("!{}", tag.suffix),
        "tag:yaml.org,2002:" => format!("!!{}", tag.suffix),
        handle => format!("!<{handle}{}>", tag.suffix),
    });
    match &node.kind {
        // A plain scalar holding a line break (it spanned lines around a blank one), looking
        // like a document marker (`--- x`) or starting with a byte order mark (which a document's
        // start would drop) is written quoted: a string either way.
        NodeKind::Scalar { text, style } => {
            let quoted_on_output = text.contains('\n')
                || text.starts_with('\u{feff}')
                || ["---", "..."].iter().any(|marker| {
                    text.strip_prefix(marker).is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
                });
            Canonical::Scalar { text: text.clone(), plain: *style == ScalarStyle::Plain && !quoted_on_output, tag }
        }
        NodeKind::Slot(_) => Canonical::Scalar { text: "<slot>".into(), plain: false, tag },
        NodeKind::Mapping(entries) => Canonical::Mapping(
            entries.iter().map(|entry| (canonical_key(&entry.key), canonical(&entry.value))).collect(),
            tag,
        ),
        NodeKind::Sequence(items) => Canonical::Sequence(items.iter().map(canonical).collect(), tag),
    }
}

/// A key as [`canonical`], where an empty plain key is `~` (both are null; the emitter writes
/// `~`, since `: value` would not read back as a key).
fn canonical_key(key: &Node) -> Canonical {
    match canonical(key) {
        Canonical::Scalar { text, plain: true, tag } if text.is_empty() => {
            Canonical::Scalar { text: "~".into(), plain: true, tag }
        }
        other => other,
    }
}

/// Whether `path` leads to a node of `root`.
fn resolves(root: &Node, path: &YamlPath) -> bool {
    let mut node = root;
    for segment in path.segments() {
        let next = match (segment, &node.kind) {
            (PathSegment::Key(key), NodeKind::Mapping(_)) => node.get(key),
            (PathSegment::Item { index, .. }, NodeKind::Sequence(items)) => items.get(*index),
            _ => None,
        };
        match next {
            Some(next) => node = next,
            None => return false,
        }
    }
    true
}

/// load → emit → load is a fixed point, and emitting is stable.
fn check_round_trip(source: &str, document: &Document) -> Result<(), TestCaseError> {
    let emitted = tree::emit(&document.root).fill(&[]);
    let Some(text) = emitted.expose_str() else {
        return Err(TestCaseError::fail(format!("emitted text is not UTF-8\n--- source\n{source}")));
    };
    let reloaded = match tree::load(text) {
        Ok(reloaded) => reloaded,
        Err(error) => {
            return Err(TestCaseError::fail(format!(
                "the emitted text does not load: {error}\n--- source\n{source}\n--- emitted\n{text}"
            )));
        }
    };
    prop_assert_eq!(
        canonical(&document.root),
        canonical(&reloaded.root),
        "the emitted text loads to another tree\n--- source\n{}\n--- emitted\n{}",
        source,
        text
    );
    let again = tree::emit(&reloaded.root).fill(&[]);
    prop_assert_eq!(again.expose_str(), Some(text), "emitting is not stable\n--- source\n{}", source);
    Ok(())
}

/// Scanning never panics; every problem and every stores issue names a YAML path of the
/// document, and every site sits at one.
fn check_scan(source: &str, document: &Document) -> Result<(), TestCaseError> {
    let dir = Path::new("/etc/prometheus");
    let file = dir.join("prometheus.yml");
    let registry = match StoreRegistry::load(&[StoreSource { file: &file, dir, root: &document.root }]) {
        Ok(registry) => registry,
        Err(issues) => {
            for issue in &issues {
                let Some(path) = &issue.path else {
                    return Err(TestCaseError::fail(format!(
                        "a stores issue names no YAML path: {issue}\n--- source\n{source}"
                    )));
                };
                prop_assert!(
                    resolves(&document.root, path),
                    "a stores issue names a path that is not in the document: {}\n--- source\n{}",
                    issue,
                    source
                );
            }
            StoreRegistry::default()
        }
    };
    let context = ParseContext { config_dir: dir, stores: &registry };
    let secret_field = |path: &YamlPath| matches!(path.field(), Some("password" | "credentials" | "bearer_token"));
    let (sites, problems) = scan::scan(document, &secret_field, &context);
    for problem in &problems {
        let shown = problem.to_string();
        prop_assert!(!problem.message.is_empty(), "an empty problem at {}\n--- source\n{}", problem.path, source);
        prop_assert!(shown.starts_with(&problem.path.to_string()), "{}", shown);
        prop_assert!(
            resolves(&document.root, &problem.path),
            "a problem names a path that is not in the document: {}\n--- source\n{}",
            shown,
            source
        );
    }
    for site in &sites {
        prop_assert!(
            !site.path.segments().is_empty() && resolves(&document.root, &site.path),
            "a provider map found at {}, which is not in the document\n--- source\n{}",
            site.path,
            source
        );
    }
    Ok(())
}

/// Bugs found here and not fixed yet, each kept as a failing regression test (named by the
/// string returned). The properties skip the round trip of inputs that show one, so that they
/// keep looking for others instead of finding the same one again. Every bug found so far is
/// fixed: each regression test below now pins its fix.
fn known_issue(_document: &Document) -> Option<&'static str> {
    None
}

/// Every property on `text`, skipping the round trip of inputs that show a known open bug.
fn check_text(text: &str) -> Result<(), TestCaseError> {
    check_text_unless_known(text, true)
}

/// Every property on `text`; with `skip_known`, not the round trip of a known open bug.
fn check_text_unless_known(text: &str, skip_known: bool) -> Result<(), TestCaseError> {
    match tree::load(text) {
        Ok(document) => {
            if !(skip_known && known_issue(&document).is_some()) {
                check_round_trip(text, &document)?;
            }
            check_scan(text, &document)
        }
        Err(error) => {
            prop_assert!(!error.to_string().is_empty());
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Generators.

/// YAML's indicators and the words secret-render gives meaning to, for token soups and mutations.
#[rustfmt::skip]
const TOKENS: &[&str] = &[
    ": ", ":", " ", "  ", "\n", "\n  ", "\n    ", "- ", "-", "{", "}", "[", "]", ", ", ",", "'", "''", "\"", "\\",
    "\\n", "\\/", "\\x41", "\\u2028", "\\", "&a ", "*a", "&b ", "*b", "!literal ", "!!str ", "!!map ", "!!seq ",
    "!<tag:x,2000:y> ", "!e!x ", "? ", "|", "|-", "|2", ">", ">+", " # c", "#", "---", "...", "%YAML 1.2\n",
    "%TAG !e! tag:e,2000:\n", "<<: ", "\t", "\r\n", "\r", "\u{85}", "\u{2028}", "\u{feff}", "\u{0}", "é", "😀",
    "0777", "~", "null", "yes", "1e3", "key", "vault", "file", "env", "exec", "kubernetes", "aws_secrets_manager",
    "path", "name", "refresh_interval", "grace_period", "render", "store", "30s", "1h30m", "soon", "-5m",
    "secret_stores", "password", "credentials", "job_name", "scrape_configs", "@", "`", "%", "=",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..80).prop_map(|tokens| tokens.concat())
}

/// Keys that mean something to secret-render, and some that do not.
#[rustfmt::skip]
const KEYS: &[&str] = &[
    "vault", "file", "env", "exec", "kubernetes", "aws_secrets_manager", "gcp_secret_manager", "azure_key_vault",
    "path", "key", "name", "mount", "version", "engine", "address", "namespace", "command", "timeout", "store",
    "refresh_interval", "grace_period", "render", "secret_id", "project", "secret", "vault_url", "password",
    "credentials", "bearer_token", "username", "basic_auth", "authorization", "job_name", "scrape_configs",
    "secret_stores", "labels", "targets", "auth", "token", "approle", "role_id", "nmae", "other", "<<", "",
];

/// Values that mean something in a body or store, and some that do not.
#[rustfmt::skip]
const VALUES: &[&str] = &[
    "30s", "1h30m", "1.5h", "500ms", "0", "soon", "-5m", "99999999999h", "auto", "file", "inline", "bogus", "kv",
    "generic", "secret/app", "prometheus/node", "/etc/passwd", "../up", "TOKEN", "http://127.0.0.1:8200",
    "not a url", "prod", "missing", "2", "1", "true", "yes", "~", "null", "", "0777", "1e3", "é", "a b",
    "line\nbreak", "tab\there", "quote'd", "dq\"x", "back\\slash", "#hash", "colon: x", "- dash", "[x]", "{y}",
];

#[derive(Clone, Copy, Debug)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
    Folded,
}

#[derive(Clone, Debug)]
enum Yaml {
    Scalar(String, Style),
    Mapping(Vec<(String, Style, Yaml)>, bool),
    Sequence(Vec<Yaml>, bool),
    Tagged(&'static str, Box<Yaml>),
    Anchored(Box<Yaml>),
    Alias,
}

const TAGS: &[&str] = &["!literal", "!!str", "!!map", "!!seq", "!!int", "!custom", "!<tag:x,2000:y>", "!!binary"];

fn style() -> impl Strategy<Value = Style> {
    prop_oneof![
        4 => Just(Style::Plain),
        2 => Just(Style::Single),
        2 => Just(Style::Double),
        1 => Just(Style::Literal),
        1 => Just(Style::Folded),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(VALUES).prop_map(str::to_owned),
        2 => prop::sample::select(KEYS).prop_map(str::to_owned),
        2 => "[a-z0-9_./ -]{0,10}",
        1 => "[ -~\t\n]{0,12}",
        1 => any::<String>().prop_map(|text| text.chars().take(8).collect()),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![6 => prop::sample::select(KEYS).prop_map(str::to_owned), 1 => text()]
}

fn scalar() -> impl Strategy<Value = Yaml> {
    (text(), style()).prop_map(|(text, style)| Yaml::Scalar(text, style))
}

/// A one-key mapping whose key is a provider and whose value is a body, maybe with a sibling.
fn provider_map(inner: impl Strategy<Value = Yaml> + Clone) -> impl Strategy<Value = Yaml> {
    let body_value = prop_oneof![4 => scalar(), 1 => inner.clone()];
    (
        prop::sample::select(&KEYS[..8]),
        prop::collection::vec((prop::sample::select(KEYS), body_value), 0..5),
        prop::option::weighted(0.15, (key(), inner)),
        any::<bool>(),
    )
        .prop_map(|(provider, body, sibling, flow)| {
            let body = body.into_iter().map(|(key, value)| (key.to_owned(), Style::Plain, value)).collect();
            let mut entries = vec![(provider.to_owned(), Style::Plain, Yaml::Mapping(body, flow))];
            entries.extend(sibling.map(|(key, value)| (key, Style::Plain, value)));
            Yaml::Mapping(entries, flow)
        })
}

fn yaml() -> impl Strategy<Value = Yaml> {
    scalar().prop_recursive(5, 48, 5, |inner| {
        prop_oneof![
            3 => (prop::collection::vec((key(), style(), inner.clone()), 0..5), any::<bool>())
                .prop_map(|(entries, flow)| Yaml::Mapping(entries, flow)),
            2 => (prop::collection::vec(inner.clone(), 0..5), any::<bool>())
                .prop_map(|(items, flow)| Yaml::Sequence(items, flow)),
            3 => provider_map(inner.clone()),
            1 => (prop::sample::select(TAGS), inner.clone()).prop_map(|(tag, node)| Yaml::Tagged(tag, Box::new(node))),
            1 => inner.prop_map(|node| Yaml::Anchored(Box::new(node))),
            1 => Just(Yaml::Alias),
        ]
    })
}

/// A config-shaped document: maybe `secret_stores`, maybe `scrape_configs` with jobs, and more.
fn document() -> impl Strategy<Value = Yaml> {
    let store = (prop::sample::select(&KEYS[..8]), prop::collection::vec((key(), yaml()), 0..4));
    let stores = prop::collection::vec((key(), store), 0..3).prop_map(|stores| {
        let stores = stores
            .into_iter()
            .map(|(name, (provider, settings))| {
                let settings = settings.into_iter().map(|(key, value)| (key, Style::Plain, value)).collect();
                let definition =
                    Yaml::Mapping(vec![(provider.to_owned(), Style::Plain, Yaml::Mapping(settings, false))], false);
                (name, Style::Plain, definition)
            })
            .collect();
        Yaml::Mapping(stores, false)
    });
    let job = (text(), prop::collection::vec((key(), yaml()), 0..4)).prop_map(|(name, fields)| {
        let mut entries = vec![("job_name".to_owned(), Style::Plain, Yaml::Scalar(name, Style::Plain))];
        entries.extend(fields.into_iter().map(|(key, value)| (key, Style::Plain, value)));
        Yaml::Mapping(entries, false)
    });
    (
        prop::option::weighted(0.4, stores),
        prop::collection::vec(job, 0..4),
        prop::collection::vec((key(), style(), yaml()), 0..4),
    )
        .prop_map(|(stores, jobs, rest)| {
            let mut entries = Vec::new();
            if let Some(stores) = stores {
                entries.push(("secret_stores".to_owned(), Style::Plain, stores));
            }
            if !jobs.is_empty() {
                entries.push(("scrape_configs".to_owned(), Style::Plain, Yaml::Sequence(jobs, false)));
            }
            entries.extend(rest);
            Yaml::Mapping(entries, false)
        })
}

/// Writes generated YAML as text; anchors are numbered as written, an alias names the latest.
struct Writer {
    out: String,
    anchors: usize,
}

fn is_plain_safe(text: &str, flow: bool) -> bool {
    let special = |c: char| {
        matches!(c, ':' | '#' | '\n' | '\t' | '\r' | '\'' | '"' | '\\')
            || (flow && matches!(c, ',' | '[' | ']' | '{' | '}'))
            || c.is_control()
    };
    !text.is_empty()
        && !text.starts_with([' ', '-', '?', '!', '&', '*', '|', '>', '%', '@', '`', '[', '{', ']', '}', ','])
        && !text.ends_with(' ')
        && !text.chars().any(special)
}

fn double_quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Writer {
    fn inline_scalar(text: &str, style: Style, flow: bool) -> String {
        match style {
            Style::Plain if is_plain_safe(text, flow) => text.to_owned(),
            Style::Single if !text.chars().any(|c| c.is_control()) => format!("'{}'", text.replace('\'', "''")),
            _ => double_quoted(text),
        }
    }

    /// Flow text for a node (inside `[…]`/`{…}` or after a key on one line).
    fn flow(&mut self, node: &Yaml) -> String {
        match node {
            Yaml::Scalar(text, style) => Self::inline_scalar(text, *style, true),
            Yaml::Mapping(entries, _) => {
                let entries: Vec<String> = entries
                    .iter()
                    .map(|(key, style, value)| {
                        format!("{}: {}", Self::inline_scalar(key, *style, true), self.flow(value))
                    })
                    .collect();
                format!("{{{}}}", entries.join(", "))
            }
            Yaml::Sequence(items, _) => {
                let items: Vec<String> = items.iter().map(|item| self.flow(item)).collect();
                format!("[{}]", items.join(", "))
            }
            Yaml::Tagged(tag, node) => format!("{tag} {}", self.flow(node)),
            Yaml::Anchored(node) => {
                self.anchors += 1;
                let anchor = self.anchors;
                format!("&a{anchor} {}", self.flow(node))
            }
            Yaml::Alias => self.alias(),
        }
    }

    fn alias(&self) -> String {
        if self.anchors == 0 { "*nowhere".to_owned() } else { format!("*a{}", self.anchors) }
    }

    /// What follows `key:` or `-`, line break included; `indent` is the nested content's.
    fn value(&mut self, node: &Yaml, indent: usize) {
        match node {
            Yaml::Scalar(text, style @ (Style::Literal | Style::Folded))
                if !text.is_empty() && text.lines().all(|line| !line.starts_with(' ') && !line.is_empty()) =>
            {
                self.out.push_str(if matches!(style, Style::Literal) { " |\n" } else { " >\n" });
                for line in text.lines() {
                    self.out.push_str(&" ".repeat(indent));
                    self.out.push_str(line);
                    self.out.push('\n');
                }
            }
            Yaml::Mapping(entries, false) if !entries.is_empty() => {
                self.out.push('\n');
                self.mapping(entries, indent);
            }
            Yaml::Sequence(items, false) if !items.is_empty() => {
                self.out.push('\n');
                self.sequence(items, indent);
            }
            Yaml::Tagged(tag, node) => {
                self.out.push(' ');
                self.out.push_str(tag);
                self.value(node, indent);
            }
            Yaml::Anchored(node) => {
                self.anchors += 1;
                self.out.push_str(&format!(" &a{}", self.anchors));
                self.value(node, indent);
            }
            other => {
                let text = match other {
                    Yaml::Scalar(text, style) => Self::inline_scalar(text, *style, false),
                    other => self.flow(other),
                };
                self.out.push(' ');
                self.out.push_str(&text);
                self.out.push('\n');
            }
        }
    }

    fn mapping(&mut self, entries: &[(String, Style, Yaml)], indent: usize) {
        for (key, style, value) in entries {
            self.out.push_str(&" ".repeat(indent));
            self.out.push_str(&Self::inline_scalar(key, *style, false));
            self.out.push(':');
            self.value(value, indent + 2);
        }
    }

    fn sequence(&mut self, items: &[Yaml], indent: usize) {
        for item in items {
            self.out.push_str(&" ".repeat(indent));
            self.out.push('-');
            self.value(item, indent + 2);
        }
    }

    fn document(node: &Yaml) -> String {
        let mut writer = Self { out: String::new(), anchors: 0 };
        match node {
            Yaml::Mapping(entries, false) if !entries.is_empty() => writer.mapping(entries, 0),
            Yaml::Sequence(items, false) if !items.is_empty() => writer.sequence(items, 0),
            other => {
                let text = writer.flow(other);
                writer.out.push_str(&text);
                writer.out.push('\n');
            }
        }
        writer.out
    }
}

/// A few edits to a text: a token inserted, a span deleted, a span duplicated.
#[derive(Clone, Debug)]
enum Edit {
    Insert(Index, &'static str),
    Delete(Index, Index),
    Duplicate(Index, Index),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        3 => (any::<Index>(), prop::sample::select(TOKENS)).prop_map(|(at, token)| Edit::Insert(at, token)),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(at, length)| Edit::Delete(at, length)),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(at, length)| Edit::Duplicate(at, length)),
    ];
    prop::collection::vec(edit, 0..4)
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for edit in edits {
        match edit {
            Edit::Insert(at, token) => {
                let at = at.index(chars.len() + 1);
                chars.splice(at..at, token.chars());
            }
            Edit::Delete(at, length) | Edit::Duplicate(at, length) => {
                if chars.is_empty() {
                    continue;
                }
                let at = at.index(chars.len());
                let end = at + length.index((chars.len() - at).min(16) + 1);
                if matches!(edit, Edit::Delete(..)) {
                    chars.drain(at..end);
                } else {
                    let span: Vec<char> = chars[at..end].to_vec();
                    chars.splice(end..end, span);
                }
            }
        }
    }
    chars.into_iter().collect()
}

fn yaml_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => document().prop_map(|node| Writer::document(&node)),
        1 => yaml().prop_map(|node| Writer::document(&node)),
    ]
}

// ---------------------------------------------------------------------------------------------
// The properties as tests.

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn load_never_panics_on_arbitrary_text(text in any::<String>()) {
        check_text(&text)?;
    }

    #[test]
    fn load_never_panics_on_token_soup(text in token_soup()) {
        check_text(&text)?;
    }

    /// Generated documents, unedited: most load, so the round trip and the scan are exercised.
    #[test]
    fn generated_documents_round_trip_and_scan_cleanly(text in yaml_text()) {
        check_text(&text)?;
    }

    #[test]
    fn mutated_documents_never_panic_and_round_trip_when_they_load(text in yaml_text(), edits in edits()) {
        check_text(&apply(&text, &edits))?;
    }

    #[test]
    fn duration_parse_never_panics(text in any::<String>()) {
        let _ = duration::parse(&text);
    }

    #[test]
    fn duration_parse_never_panics_on_duration_like_text(text in "[0-9.hmsuµnwd +-]{0,24}") {
        let _ = duration::parse(&text);
    }

    #[test]
    fn whole_seconds_minutes_and_hours_round_trip(seconds in 0_u64..=315_360_000, minutes in 0_u64..=5_256_000, hours in 0_u64..=87_600) {
        prop_assert_eq!(duration::parse(&format!("{seconds}s")), Ok(Duration::from_secs(seconds)));
        prop_assert_eq!(duration::parse(&format!("{minutes}m")), Ok(Duration::from_secs(minutes * 60)));
        prop_assert_eq!(duration::parse(&format!("{hours}h")), Ok(Duration::from_secs(hours * 3600)));
    }

    #[test]
    fn compound_durations_add_up(hours in 0_u64..=80_000, minutes in 0_u64..60, seconds in 0_u64..60) {
        let text = format!("{hours}h{minutes}m{seconds}s");
        prop_assert_eq!(duration::parse(&text), Ok(Duration::from_secs(hours * 3600 + minutes * 60 + seconds)));
    }

    #[test]
    fn durations_over_ten_years_are_refused(hours in 87_601_u64..=u64::from(u32::MAX)) {
        let text = format!("{hours}h");
        prop_assert!(duration::parse(&text).is_err(), "{} was accepted", text);
    }
}

// ---------------------------------------------------------------------------------------------
// The seed corpus.

/// Every `tests/fuzz-corpus/*.yml` holds the YAML properties; every failing file is listed.
#[test]
fn the_seed_corpus_holds_every_property() {
    let dir = repo().join("tests/fuzz-corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the seed corpus is missing: {files:?}");
    let mut failures = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let result = std::panic::catch_unwind(|| check_text(&text));
        match result {
            Ok(Ok(())) => {}
            Ok(Err(error)) => failures.push(format!("{}: {error}", file.display())),
            Err(_) => failures.push(format!("{}: panicked", file.display())),
        }
    }
    assert!(failures.is_empty(), "{} of {} corpus files fail:\n{}", failures.len(), files.len(), failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Regression tests: one per bug the properties found, named after it.

#[track_caller]
fn holds(text: &str) {
    if let Err(error) = check_text_unless_known(text, false) {
        panic!("{error}");
    }
}

/// Fixed (src/tree/emit.rs): the emitter trimmed every leading Unicode space (`trim_start`)
/// where it meant the one ASCII space it writes, so a key `\u{a0}job` was rendered as `job`.
#[test]
fn regression_a_leading_no_break_space_is_kept_in_keys_and_root_scalars() {
    holds("\u{a0}job: 1\nb: \u{a0}x\n");
    holds("\u{a0}\n");
}

/// Found (src/tree/load.rs `same_key`): `~:` and an empty key `:` in one mapping loaded as two
/// keys, their texts differing, and were emitted as `~:` twice, which does not load. Both are
/// null: one key given twice, as Go's yaml.v2 reads it, and refused as a duplicate.
#[test]
fn regression_null_keys_spelt_differently_are_one_duplicate_key() {
    holds("~:  # c%YAML 1.2\n: \\");
    for text in ["~: 1\n: 2\n", "null: 1\n~: 2\n", "Null: 1\nNULL: 2\n"] {
        let error = tree::load(text).err().map(|error| error.to_string()).unwrap_or_default();
        assert!(error.contains("duplicate key"), "{text:?}: {error}");
    }
    assert!(tree::load("~: 1\n'~': 2\n").is_ok(), "a quoted `~` is a string, not null");
}

/// Found: `{}` with a `!literal` key, i.e. an empty plain key: written `~`, a null key either way.
#[test]
fn regression_an_empty_key_is_written_as_null() {
    holds("{!literal : x}\n");
    holds("? \n: x\n");
}

/// Fixed (src/tree/emit.rs): a document that is only a null (`---`, an anchor on nothing) is emitted as no
/// document at all, which cannot be loaded again (`the file holds no YAML document`).
/// Suggested fix in src/tree/emit.rs: write an untagged empty plain root as `---`.
#[test]
fn regression_a_null_document_is_emitted_as_no_document() {
    holds("---\n");
    holds("&b  # c\n");
}

/// Fixed (src/tree/emit.rs): a root mapping or sequence with a tag (`!literal`, `!!map`) is emitted inline as `{}`
/// or `[]`: the whole config is lost (`render` turns `!!map\na: 1` into `!!map {}`, exit 0).
/// Suggested fix in src/tree/emit.rs `emit`: match non-empty root collections whatever their
/// tag, write a visible tag alone on the first line (`!!map`; `!literal` is dropped), then the
/// block as now.
#[test]
fn regression_a_tagged_root_collection_keeps_its_content() {
    holds("!literal {vault: 30s}\n");
    holds("--- !!map\nscrape_configs: []\n");
    holds("!!seq [30s]\n");
}

/// Fixed (src/tree/load.rs refuses it): yaml-rust2 takes `|x` in flow context for a plain scalar (Go's yaml.v2 refuses it:
/// "found character that cannot start any token"), and the emitter writes it plain in block
/// context, where `|` starts a block scalar: the rendered copy does not load. Suggested fix in
/// src/tree/load.rs: refuse, as Go does, a plain scalar starting with `|` or `>`.
#[test]
fn regression_a_flow_plain_scalar_starting_with_a_block_indicator_is_refused_or_quoted() {
    holds("a: [|x]\n");
    holds("a: {b: >y}\n");
}

/// Fixed (src/tree/emit.rs): a tagged empty key (`{!!str : x}`) is written `!!str:`, which reads back as the tag
/// `!!str:` on an empty value. Writing `!!str :` (a space before the colon) keeps it.
#[test]
fn regression_a_tagged_empty_key_keeps_its_tag() {
    holds("{!!str : x}\n");
}

/// Fixed (src/tree/emit.rs quotes it): a plain scalar `--- x` or `...` (not a marker where the source has it: after a tab, or
/// inside a flow mapping) is emitted verbatim, and where it lands at column 0 (a root scalar, a
/// top-level key) it is a document marker: the rendered copy is empty or two documents.
/// Suggested fix in src/tree/emit.rs: double-quote a plain scalar that starts with `---` or `...`
/// followed by a space, a tab or its end; such a scalar is a string in every schema anyway.
#[test]
fn regression_a_plain_scalar_like_a_document_marker_keeps_its_text() {
    holds("\t---\t \n");
    holds("{--- x: 1, b: 2}\n");
}

/// Runs `secret-render check FILE` on `text` with at most `memory_kib` of address space and
/// returns its exit code (-1 when a signal ended it) and stderr.
fn check_in_a_bounded_process(text: &str, memory_kib: u64) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yml");
    std::fs::write(&file, text).unwrap();
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {memory_kib} && exec \"$0\" \"$@\""))
        .arg(crate::support::binary())
        .args(["-q", "--target", "generic", "check"])
        .arg(&file)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("sh runs");
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// Fixed (src/tree/load.rs refuses nesting past 1000 levels): nesting was unbounded. yaml-rust2's `Parser::load` recurses once per level (and so do
/// emit, scan and `Drop` of the tree): 100 000 nested `- ` (200 KB) abort the process with a
/// stack overflow (already 5 000 in a debug build, 30 000 in release). Go's yaml.v3 refuses
/// nesting deeper than 10 000. Suggested fix in src/tree/load.rs: drive the parser with
/// `parser.next_token()` in a loop instead of `parser.load()`, and fail with a `LoadError` once
/// `builder.stack.len()` passes a limit (1 000 keeps every recursive walk safe).
#[test]
fn regression_deep_nesting_is_a_config_error_not_a_stack_overflow() {
    let deep = format!("{}x\n", "- ".repeat(100_000));
    let (code, stderr) = check_in_a_bounded_process(&deep, 4 * 1024 * 1024);
    assert_eq!(code, 3, "100 000 nested sequences: exit {code} (-1: killed by a signal)\n{stderr}");
}

/// Fixed (src/tree/load.rs caps alias expansion at 100 000 nodes): aliases were expanded by copying the anchored tree, without bound ("billion laughs"):
/// seven levels of ten aliases (393 bytes) take 15 s and 3.3 GB in a release build, eight would
/// take ten times that. Go's yaml.v2 refuses "excessive aliasing". Suggested fix in
/// src/tree/load.rs: count the nodes each alias adds (keep each anchor's node count beside it)
/// and fail with a `LoadError` past a budget (say 100 000 nodes, or yaml.v2's ratio rule).
/// Checked in a child process limited to 1 GiB, so an unfixed build fails fast instead of
/// exhausting the machine.
#[test]
fn regression_alias_expansion_is_bounded_not_a_billion_laughs() {
    let mut laughs = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..9 {
        let aliases = vec![format!("*a{}", level - 1); 10].join(", ");
        laughs.push_str(&format!("a{level}: &a{level} [{aliases}]\n"));
    }
    let started = std::time::Instant::now();
    let (code, stderr) = check_in_a_bounded_process(&laughs, 1024 * 1024);
    let took = started.elapsed();
    assert_eq!(code, 3, "10^9 aliased nodes: exit {code} after {took:?} (-1: killed by a signal)\n{stderr}");
}
