//! Proof that a rendered config means to Go's yaml.v2 (what Prometheus 2.42 and Alertmanager 0.25
//! parse with) exactly what its source meant, for the scalars and structures where YAML 1.1 and
//! YAML 1.2 readers, or a careless emitter, would disagree: `on`/`yes`/`Y`, `0777`, `0x1F`,
//! `1_000`, `1e3`, `.inf`, `~`, dates, quoted look-alikes, escapes, literal/folded blocks,
//! multi-line flow scalars, unicode, flow collections, anchors/aliases, merge keys, tags, `%TAG`
//! directives, keys that need quoting and CRLF line endings.
//!
//! The ground truth is Go itself. Each case is a YAML snippet placed where the server keeps its
//! meaning observable (label values, `params`, bool/int/duration fields, relabel strings, route
//! and receiver fields) inside a config that also holds provider maps, so the render really
//! rewrites something. One server per test is reloaded (`POST /-/reload`, which returns once the
//! reload is done) with, in turn:
//! 1. the *reference*: the source text with only its provider maps replaced, textually, by the
//!    plain equivalent (`password_file: <the rendered secret file>`, `credentials: <the value>`);
//! 2. a baseline config, so a stale config can never pass for the next one;
//! 3. the config secret-render rendered from the source.
//!
//! After 1 and 3 the server's own re-serialisation of what it parsed (Prometheus'
//! `/api/v1/status/config`, Alertmanager's `/api/v2/status` `config.original`, which in 0.25 is
//! the re-marshalled config, not the file's text) is read, and the two must be equal. Where Go
//! rejects the source (a quoted number in an int field), the render must be rejected with the same
//! error. A last test needs no Go: every tricky scalar is emitted exactly as written.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{CANARY, PROMETHEUS_INSTALL, Server, Test, http, loaded_config, require};

/// The file provider every Prometheus/Alertmanager case carries (read from `pw`, which holds
/// [`CANARY`]); it renders to `password_file: <secret file>`.
const FILE_PROVIDER: &str = "password: {file: {path: pw}}";
/// An env provider forced inline; it renders to `credentials: "<FAKE_TOKEN>"`.
const INLINE_PROVIDER: &str = "credentials: {env: {name: GO_YAML_FAKE_TOKEN, render: inline}}";
const FAKE_TOKEN: &str = "fake-go-yaml-token-5d0c";

/// Where a case's snippet goes in the config built around it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// Prometheus `global.external_labels` entries.
    ExternalLabels,
    /// Prometheus `scrape_configs[0].static_configs[0].labels` entries.
    TargetLabels,
    /// Prometheus `scrape_configs[0]` keys (bool/int/duration fields, `params`, relabelling).
    ScrapeJob,
    /// Alertmanager `global` keys.
    AmGlobal,
    /// Alertmanager root `route` keys.
    AmRoute,
    /// Alertmanager `receivers[0].webhook_configs[0]` keys.
    AmWebhook,
    /// The snippet is the whole config and holds its own provider map(s).
    Whole,
}

struct Case {
    name: &'static str,
    place: Place,
    yaml: String,
}

fn case(name: &'static str, place: Place, yaml: impl Into<String>) -> Case {
    Case { name, place, yaml: yaml.into() }
}

/// Indents every non-empty line of `snippet` by `width` spaces.
fn indent(snippet: &str, width: usize) -> String {
    let pad = " ".repeat(width);
    let mut out = String::new();
    for line in snippet.split_inclusive('\n') {
        if !line.trim_end_matches(['\n', '\r']).is_empty() {
            out.push_str(&pad);
        }
        out.push_str(line);
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn prometheus_source(case: &Case) -> String {
    let slot = |place, width| if case.place == place { indent(&case.yaml, width) } else { String::new() };
    let external = slot(Place::ExternalLabels, 4);
    let labels = slot(Place::TargetLabels, 10);
    let job = slot(Place::ScrapeJob, 4);
    let name = case.name;
    match case.place {
        Place::Whole => case.yaml.clone(),
        Place::ExternalLabels | Place::TargetLabels | Place::ScrapeJob => format!(
            "global:\n  scrape_interval: 1m\n  external_labels:\n    case: {name}\n{external}\
             scrape_configs:\n  - job_name: go-yaml\n    basic_auth:\n      username: prom\n      {FILE_PROVIDER}\n\
             {job}    static_configs:\n      - targets: ['127.0.0.1:1']\n        labels:\n          case: {name}\n{labels}\
             \x20 - job_name: inline-carrier\n    authorization:\n      {INLINE_PROVIDER}\n\
             \x20   static_configs:\n      - targets: ['127.0.0.1:2']\n"
        ),
        place => panic!("{place:?} is not a Prometheus place"),
    }
}

fn alertmanager_source(case: &Case) -> String {
    let slot = |place, width| if case.place == place { indent(&case.yaml, width) } else { String::new() };
    let global = slot(Place::AmGlobal, 2);
    let route = slot(Place::AmRoute, 2);
    let webhook = slot(Place::AmWebhook, 8);
    let name = case.name;
    match case.place {
        Place::Whole => case.yaml.clone(),
        Place::AmGlobal | Place::AmRoute | Place::AmWebhook => format!(
            "global:\n  resolve_timeout: 5m\n{global}\
             route:\n  receiver: go-yaml\n{route}\
             receivers:\n  - name: go-yaml\n    webhook_configs:\n      - url: http://127.0.0.1:1/{name}\n\
             \x20       http_config:\n          basic_auth:\n            username: am\n            {FILE_PROVIDER}\n{webhook}\
             \x20 - name: inline-carrier\n    webhook_configs:\n      - url: http://127.0.0.1:1/carrier\n\
             \x20       http_config:\n          authorization:\n            {INLINE_PROVIDER}\n"
        ),
        place => panic!("{place:?} is not an Alertmanager place"),
    }
}

/// The source with only its provider maps replaced, textually, by what they stand for.
fn reference(source: &str, secret_file: Option<&str>) -> String {
    assert!(source.matches(FILE_PROVIDER).count() <= 1, "one file provider per case: each site gets its own file");
    assert_eq!(secret_file.is_some(), source.contains(FILE_PROVIDER), "the file provider became password_file");
    let mut text = source.replace(INLINE_PROVIDER, &format!("credentials: {FAKE_TOKEN}"));
    if let Some(path) = secret_file {
        text = text.replace(FILE_PROVIDER, &format!("password_file: {path}"));
    }
    text
}

/// Renders `source` (saved as `file_name`) with the fake secrets available; returns the test
/// directory (which holds the secret files) and the rendered text.
fn render(file_name: &str, source: &str) -> (Test, String) {
    assert!(
        source.contains(FILE_PROVIDER) || source.contains(INLINE_PROVIDER),
        "every case carries a provider map so the render rewrites something"
    );
    let test = Test::new()
        .file(file_name, source)
        .file("pw", CANARY)
        .env("GO_YAML_FAKE_TOKEN", FAKE_TOKEN)
        .args(["render", file_name, "--out", "out"]);
    test.run().expect_code(0).never_shows(FAKE_TOKEN);
    let rendered = std::fs::read_to_string(test.path("out").join(file_name)).expect("rendered config");
    assert!(!rendered.contains(CANARY), "a file secret was inlined");
    assert!(
        !rendered.contains("GO_YAML_FAKE_TOKEN") && !rendered.contains("path: pw"),
        "a provider map survived the render:\n{}",
        redact(&rendered)
    );
    (test, rendered)
}

/// The secret file the rendered config points `password_file` at, checked to hold the secret.
fn secret_file(rendered: &str, test: &Test) -> Option<String> {
    let line = rendered.lines().find(|line| line.trim_start().starts_with("password_file:"))?;
    let path = line.split_once(": ").expect("password_file: value").1.trim_matches('"').to_owned();
    assert!(Path::new(&path).starts_with(test.path("out")), "secret file {path} outside the output directory");
    assert_eq!(std::fs::read_to_string(&path).expect("secret file"), CANARY, "secret file content");
    Some(path)
}

/// Rendered text is printed only with the inline fake token masked.
fn redact(text: &str) -> String {
    text.replace(FAKE_TOKEN, "<fake token>")
}

/// A running Go server that can be pointed at one config after another.
struct Go {
    server: Server,
    _home: tempfile::TempDir,
    config: PathBuf,
    canonical: fn(&Server) -> String,
    reload_metric: &'static str,
    baseline_text: &'static str,
    baseline: String,
}

const PROMETHEUS_BASELINE: &str = "global:\n  external_labels:\n    case: baseline\n";
const ALERTMANAGER_BASELINE: &str = "route:\n  receiver: baseline\nreceivers:\n  - name: baseline\n";

impl Go {
    fn prometheus() -> Self {
        let home = tempfile::tempdir().expect("temp dir");
        let config = home.path().join("prometheus.yml");
        std::fs::write(&config, PROMETHEUS_BASELINE).unwrap();
        let server = Server::prometheus(&config, &[]);
        let baseline = loaded_config(&server);
        Self {
            server,
            _home: home,
            config,
            canonical: loaded_config,
            reload_metric: "prometheus_config_last_reload_successful",
            baseline_text: PROMETHEUS_BASELINE,
            baseline,
        }
    }

    fn alertmanager() -> Self {
        let home = tempfile::tempdir().expect("temp dir");
        let config = home.path().join("alertmanager.yml");
        std::fs::write(&config, ALERTMANAGER_BASELINE).unwrap();
        let server = Server::alertmanager(&config);
        let baseline = alertmanager_loaded_config(&server);
        Self {
            server,
            _home: home,
            config,
            canonical: alertmanager_loaded_config,
            reload_metric: "alertmanager_config_last_reload_successful",
            baseline_text: ALERTMANAGER_BASELINE,
            baseline,
        }
    }

    /// Reloads the server with `text`: what it parsed (its canonical re-serialisation), or the
    /// reload error with line numbers stripped (they differ between source and rendered text).
    fn read(&self, text: &str) -> Result<String, String> {
        std::fs::write(&self.config, text).unwrap();
        let (status, body) = http("POST", self.server.port, "/-/reload");
        let (_, metrics) = self.server.get("/metrics");
        let succeeded = metrics.lines().any(|line| line == format!("{} 1", self.reload_metric));
        if status != 200 {
            assert!(!succeeded, "reload answered {status} but {} is 1", self.reload_metric);
            return Err(strip_line_numbers(&body));
        }
        assert!(succeeded, "reload answered 200 but {} is not 1", self.reload_metric);
        Ok((self.canonical)(&self.server))
    }

    /// Loads the baseline and checks the server shows it, so the next read cannot be stale.
    fn reset(&self) {
        let shown = self.read(self.baseline_text).expect("the baseline config loads");
        assert_eq!(shown, self.baseline, "the server did not switch back to the baseline");
    }

    /// Runs every case; returns one message per case whose meaning changed.
    /// `source_loads` says whether Go is expected to accept the reference (the source) at all.
    fn compare(
        &self,
        file_name: &str,
        cases: &[Case],
        source_of: fn(&Case) -> String,
        source_loads: bool,
    ) -> Vec<String> {
        let mut failures = Vec::new();
        for case in cases {
            let source = source_of(case);
            let (test, rendered) = render(file_name, &source);
            let reference = reference(&source, secret_file(&rendered, &test).as_deref());
            self.reset();
            let before = self.read(&reference);
            self.reset();
            let after = self.read(&rendered);
            let problem = match &before {
                Ok(_) if !source_loads => Some("Go was expected to reject the source but accepted it".to_owned()),
                Err(error) if source_loads => Some(format!("Go rejected the reference: {}", redact(error))),
                _ => self.judge(&before, &after),
            };
            if let Some(problem) = problem {
                failures.push(format!(
                    "case `{}`: {problem}\n--- source\n{}--- rendered\n{}",
                    case.name,
                    redact(&source),
                    redact(&rendered)
                ));
            }
        }
        failures
    }

    fn judge(&self, before: &Result<String, String>, after: &Result<String, String>) -> Option<String> {
        match (before, after) {
            (Ok(before), _) if *before == self.baseline => Some("the reference did not replace the baseline".into()),
            (Ok(before), Ok(after)) if before == after => None,
            (Ok(before), Ok(after)) => Some(format!("Go read the two differently:\n{}", line_diff(before, after))),
            (Ok(_), Err(error)) => Some(format!("Go accepted the source but rejected the render: {}", redact(error))),
            (Err(error), Ok(_)) => Some(format!("Go rejected the source ({}) but accepted the render", redact(error))),
            (Err(before), Err(after)) if before == after => None,
            (Err(before), Err(after)) => Some(format!(
                "Go rejected both, differently:\n  source: {}\n  render: {}",
                redact(before),
                redact(after)
            )),
        }
    }
}

/// Alertmanager 0.25's `/api/v2/status` `config.original` is its re-marshalled parsed config.
fn alertmanager_loaded_config(server: &Server) -> String {
    let (status, body) = server.get("/api/v2/status");
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    json["config"]["original"].as_str().expect("config.original").to_owned()
}

fn strip_line_numbers(error: &str) -> String {
    let mut out = String::new();
    let mut rest = error.trim();
    while let Some(start) = rest.find("line ") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 5..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            out.push_str("line ");
            rest = after;
        } else {
            out.push_str("line N");
            rest = &after[digits..];
        }
    }
    out.push_str(rest);
    out
}

/// The lines only one side has, marked `-` (source) and `+` (render).
fn line_diff(before: &str, after: &str) -> String {
    let only = |a: &str, b: &str, mark: char| -> String {
        a.lines().filter(|line| !b.lines().any(|other| other == *line)).map(|line| format!("{mark} {line}\n")).collect()
    };
    let diff: String = only(before, after, '-') + &only(after, before, '+');
    if diff.is_empty() { format!("same lines, another order:\n{before}\n---\n{after}") } else { diff }
}

#[track_caller]
fn assert_no_failures(target: &str, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} case(s) mean something else to {target} after rendering:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn plain_scalars_mean_the_same_to_prometheus_after_rendering() {
    let cases = [
        case("yaml11-booleans", Place::ExternalLabels, "on_: on\nyes_: yes\ny_: y\nn_: N\ntrue_: True\noff_: OFF\n"),
        case(
            "numbers",
            Place::ExternalLabels,
            "octal: 0777\nhex: 0x1F\nunderscored: 1_000\nexponent: 1e3\npositive: +12\nbinary: 0b101\n\
             sexagesimal: 1:20\ninfinity: .inf\nnegative_infinity: -.Inf\nnot_a_number: .NaN\nfloat: 3.14\n",
        ),
        case(
            "nulls-and-dates",
            Place::TargetLabels,
            "tilde: ~\nnull_word: null\ndate: 2024-01-01\ntimestamp: 2001-12-14t21:59:43.10-05:00\n",
        ),
        case(
            "special-characters",
            Place::TargetLabels,
            "url: http://example.com/a?b=c&d=e#frag\ncolons: a:b:c\ndash: -x\npercent: 50%\n\
             brackets: a,b [c] {d}\nquestion: ?x\ntab: a\tb\nhash_inside: a#b\nquotes_inside: it's \"so\"\n\
             trailing_spaces: x   \n",
        ),
        case(
            "bool-int-duration-fields",
            Place::ScrapeJob,
            "honor_labels: yes\nhonor_timestamps: off\nsample_limit: 0x10\ntarget_limit: 1_000\nlabel_limit: 0777\n\
             label_name_length_limit: +12\nlabel_value_length_limit: 0b101\nscrape_interval: 1m30s\n\
             scrape_timeout: 10s\nbody_size_limit: 10MB\nfollow_redirects: N\nenable_http2: On\n",
        ),
        case(
            "relabel-strings",
            Place::ScrapeJob,
            "relabel_configs:\n  - source_labels: [__address__, job]\n    separator: ';'\n\
             \x20   regex: '(.+)\\.example\\.com:(\\d+);(.*)'\n    target_label: instance\n\
             \x20   replacement: '${1}:9100 $3'\n  - source_labels: [__meta_x]\n    regex: \"a|b\\\\d+|[[:alpha:]]\"\n\
             \x20   replacement: \"$$1 literal\"\n    target_label: __tmp_x\n  - source_labels: [__address__]\n\
             \x20   modulus: 0x8\n    target_label: __tmp_hash\n    action: hashmod\n  - regex: (.*)\n\
             \x20   action: keep\n    source_labels: [job]\nmetric_relabel_configs:\n  - separator: ;\n\
             \x20   regex: tmp_.*|on\n    action: labeldrop\n  - source_labels: [a, \"b\"]\n    separator: '|'\n\
             \x20   target_label: c\n",
        ),
        case(
            "plain-params",
            Place::ScrapeJob,
            "params:\n  module: [on, yes, 0777, ~, 1e3]\n  on: [x]\n  target: [0x1F]\n",
        ),
    ];
    let go = Go::prometheus();
    assert_no_failures("Prometheus", &go.compare("prometheus.yml", &cases, prometheus_source, true));
}

#[test]
fn quoted_and_block_scalars_mean_the_same_to_prometheus_after_rendering() {
    let cases = [
        case(
            "quoted-look-alikes",
            Place::ExternalLabels,
            "single_on: 'on'\ndouble_yes: \"yes\"\nsingle_octal: '0777'\ndouble_tilde: \"~\"\nsingle_empty: ''\n\
             double_empty: \"\"\nquote_inside: 'it''s'\ndouble_inside: \"say \\\"hi\\\"\"\nsingle_hash: ' #x'\n",
        ),
        case(
            "double-quoted-escapes",
            Place::TargetLabels,
            "tab: \"a\\tb\"\nnewline: \"a\\nb\"\nbackslash: \"C:\\\\path\\\\\"\nhex: \"\\x41\\x7e\"\n\
             unicode: \"\\u00e9\\U0001F600\"\ncontrols: \"\\0\\a\\b\\e\\f\\v\\r\"\nnel_nbsp_ls_ps: \"\\N\\_\\L\\P\"\n\
             escaped_space: \"a\\ \"\nbom: \"\\ufeff\"\nsingle_backslash: 'a\\nb'\n",
        ),
        case(
            "block-scalars",
            Place::ExternalLabels,
            "literal: |\n  line one\n    indented\n\n  line four\nliteral_strip: |-\n  no newline\nliteral_keep: |+\n  kept\n\n\
             folded: >\n  folded\n  text\n\n  new paragraph\n    more indented\n  back\nfolded_strip: >-\n  a\n  b\n\
             indentation_indicator: |2\n    leading spaces\n  \nliteral_tab: |\n  a\tb\n",
        ),
        case(
            "multi-line-flow-scalars",
            Place::TargetLabels,
            "plain_folded: one\n  two\n  three\ndouble_folded: \"a\n  b\\\n  c\"\nsingle_folded: 'x\n  y'\n\
             double_blank_line: \"p\n\n  q\"\nsingle_blank_line: 'r\n\n\n  s'\n",
        ),
        case(
            "unicode",
            Place::TargetLabels,
            "greek: αβγ\nemoji: 😀🚀\ncjk: 日本語\nrtl: שלום\ncombining: e\u{301}\nnbsp_plain: a\u{a0}b\n\
             quoted_emoji: \"✓ done\"\nsingle_cjk: '漢字'\n",
        ),
        case(
            "crlf-line-endings",
            Place::Whole,
            format!(
                "global:\r\n  external_labels:\r\n    plain: one\r\n      two\r\n    literal: |\r\n      a\r\n      b\r\n\
                 \x20   folded: >\r\n      c\r\n      d\r\n    quoted: \"e\r\n      f\"\r\nscrape_configs:\r\n\
                 \x20 - job_name: crlf\r\n    basic_auth:\r\n      username: prom\r\n      {FILE_PROVIDER}\r\n"
            ),
        ),
    ];
    let go = Go::prometheus();
    assert_no_failures("Prometheus", &go.compare("prometheus.yml", &cases, prometheus_source, true));
}

#[test]
fn collections_anchors_merge_keys_and_tags_mean_the_same_to_prometheus_after_rendering() {
    let cases = [
        case(
            "flow-collections",
            Place::Whole,
            format!(
                "{{global: {{scrape_interval: 1m, external_labels: {{flow: yes, q: '0777', e: \"\"}}}},\n \
                 scrape_configs: [{{job_name: flow, basic_auth: {{username: u, {FILE_PROVIDER}}},\n   \
                 params: {{module: [on, 'off', \"x y\"], empty: [], multi: [a\n     b]}},\n   \
                 static_configs: [{{targets: ['127.0.0.1:3', \"127.0.0.1:4\"], labels: {{a: on, b: \"x,y\", c: }}}}]}}]}}\n"
            ),
        ),
        case(
            "anchors-and-aliases",
            Place::Whole,
            format!(
                "global:\n  external_labels: &common\n    team: ops\n    tier: '1'\nscrape_configs:\n\
                 \x20 - job_name: &name anchored\n    basic_auth:\n      username: &user prom\n      {FILE_PROVIDER}\n\
                 \x20   static_configs:\n      - targets: &targets ['127.0.0.1:1']\n        labels: *common\n\
                 \x20     - targets: *targets\n        labels:\n          who: *user\n          job_alias: *name\n\
                 \x20         flag: &flag yes\n          flag_copy: *flag\n          &key anchored_key: x\n\
                 \x20         copy: *key\n"
            ),
        ),
        case(
            "merge-keys",
            Place::Whole,
            format!(
                "scrape_configs:\n  - job_name: merge\n    basic_auth:\n      username: prom\n      {FILE_PROVIDER}\n\
                 \x20   static_configs:\n      - targets: ['127.0.0.1:1']\n        labels: &base\n          team: ops\n\
                 \x20         tier: '1'\n      - targets: ['127.0.0.1:2']\n        labels:\n          <<: *base\n\
                 \x20         own: '2'\n      - targets: ['127.0.0.1:3']\n        labels:\n\
                 \x20         <<: [*base, {{extra: on}}]\n          own: yes\n  - <<: &job_defaults\n\
                 \x20     scrape_interval: 30s\n      honor_labels: yes\n    job_name: merged-job\n\
                 \x20   static_configs: [{{targets: ['127.0.0.1:4']}}]\n  - <<: *job_defaults\n    job_name: merged-again\n\
                 \x20   params: {{'<<': [not a merge]}}\n"
            ),
        ),
        case(
            "merge-override-in-a-struct-is-allowed",
            Place::Whole,
            format!(
                "scrape_configs:\n  - <<: {{honor_labels: yes, scrape_interval: 30s}}\n    job_name: over\n\
                 \x20   honor_labels: no\n    basic_auth:\n      username: prom\n      {FILE_PROVIDER}\n"
            ),
        ),
        case(
            "tags-on-label-values",
            Place::ExternalLabels,
            "str_int: !!str 123\nstr_bool: !!str yes\nstr_null: !!str ~\nverbatim: !<tag:yaml.org,2002:str> 0777\n\
             non_specific: ! 0x1F\nbinary: !!binary aGVsbG8=\nbinary_block: !!binary |\n  aGVs\n  bG8=\n\
             float_tagged: !!float 1\nempty_str: !!str\n",
        ),
        case("tags-on-typed-fields", Place::ScrapeJob, "honor_labels: !!bool \"yes\"\nsample_limit: !!int \"42\"\n"),
        case(
            "tag-directive",
            Place::Whole,
            format!(
                "%TAG !yaml! tag:yaml.org,2002:\n---\nglobal:\n  external_labels:\n    directive_tag: !yaml!str 0777\n\
                 scrape_configs:\n  - job_name: directive\n    honor_labels: !yaml!bool 'on'\n    basic_auth:\n\
                 \x20     username: prom\n      {FILE_PROVIDER}\n"
            ),
        ),
        case(
            "keys-that-need-quoting",
            Place::ScrapeJob,
            "params:\n  \"a: b\": [colon]\n  '#hash': [hash]\n  \"- dash\": [dash]\n  '[x]': [bracket]\n\
             \x20 \"{y}\": [brace]\n  \"key\\twith tab\": [tab]\n  'yes': [quoted yes]\n  \"\": [empty key]\n\
             \x20 ? explicit\n  : [explicit key]\n  ? |\n    block key\n  : [block key]\n  \"é ✓\": [unicode]\n\
             \x20 0777: [octal key]\n  '&*!|>%@`': [indicators]\n",
        ),
        case(
            "document-markers-and-comments",
            Place::Whole,
            format!(
                "# leading comment\n--- # document start\nglobal: # comment after key\n  external_labels:\n\
                 \x20   a: b # trailing comment\n    # own-line comment\n    c: 'd # not a comment'\n\
                 scrape_configs:\n  - job_name: markers\n    basic_auth:\n      username: prom\n      {FILE_PROVIDER}\n...\n"
            ),
        ),
    ];
    let go = Go::prometheus();
    assert_no_failures("Prometheus", &go.compare("prometheus.yml", &cases, prometheus_source, true));
}

/// Quotes must survive where Go cares: a quoted number or boolean in a typed field is an error
/// for yaml.v2, so the source and the render must be rejected alike.
#[test]
fn values_prometheus_rejects_in_the_source_are_rejected_alike_after_rendering() {
    let cases = [
        case("quoted-int", Place::ScrapeJob, "sample_limit: '10'\n"),
        case("quoted-bool", Place::ScrapeJob, "honor_labels: \"yes\"\n"),
        case("str-tagged-int", Place::ScrapeJob, "sample_limit: !!str 10\n"),
        case("block-int", Place::ScrapeJob, "target_limit: |\n  10\n"),
        // yaml.v2 in strict mode refuses a map key that overrides a merged one (struct fields may).
        case(
            "merge-override-in-a-map",
            Place::Whole,
            format!(
                "scrape_configs:\n  - job_name: over\n    basic_auth:\n      username: prom\n      {FILE_PROVIDER}\n\
                 \x20   static_configs:\n      - targets: ['127.0.0.1:1']\n        labels: &b {{tier: '1'}}\n\
                 \x20     - targets: ['127.0.0.1:2']\n        labels:\n          <<: *b\n          tier: '2'\n"
            ),
        ),
    ];
    let go = Go::prometheus();
    assert_no_failures("Prometheus", &go.compare("prometheus.yml", &cases, prometheus_source, false));
}

/// Scalars that the emitter cannot copy verbatim into block style: a plain scalar folded over a
/// blank line (its value holds a line break), characters YAML forbids raw (U+FFFE, U+FFFF, which
/// the source can only hold escaped), and a key too long for an implicit key (Go's scanner gives
/// up on simple keys after 1024 characters; the source wrote it explicitly with `? `).
#[test]
fn scalars_that_cannot_be_copied_verbatim_mean_the_same_to_prometheus_after_rendering() {
    let long_key = "k".repeat(1100);
    let cases = [
        case("plain-folded-over-blank-line", Place::TargetLabels, "paragraphs: one\n\n  two\n"),
        case("escaped-noncharacters", Place::ExternalLabels, "fffe: \"\\uFFFE\"\nffff: \"x\\uFFFFy\"\n"),
        case("explicit-long-key", Place::ScrapeJob, format!("params:\n  ? {long_key}\n  : [long]\n")),
    ];
    let go = Go::prometheus();
    assert_no_failures("Prometheus", &go.compare("prometheus.yml", &cases, prometheus_source, true));
}

/// An inlined secret is written double-quoted; a value holding U+FFFE or U+FFFF (valid UTF-8,
/// but not allowed raw in YAML) must be escaped there too, or Go refuses the whole config.
#[test]
fn inlined_secrets_holding_noncharacters_still_load_in_prometheus() {
    let promtool = require("promtool", PROMETHEUS_INSTALL);
    let secret = "fake\u{fffe}token\u{ffff}";
    let source = format!("scrape_configs:\n  - job_name: a\n    authorization:\n      {INLINE_PROVIDER}\n");
    let test = Test::new().file("prometheus.yml", &source).env("GO_YAML_FAKE_TOKEN", secret).args([
        "render",
        "prometheus.yml",
        "--out",
        "out",
    ]);
    test.run().expect_code(0).never_shows(secret);
    let check = Command::new(promtool).args(["check", "config"]).arg(test.path("out/prometheus.yml")).output().unwrap();
    let said = String::from_utf8_lossy(&check.stdout).into_owned() + &String::from_utf8_lossy(&check.stderr);
    assert!(!said.contains(secret), "promtool printed the secret");
    assert!(check.status.success(), "promtool rejected the render: {said}");
}

/// yaml.v2 reads YAML 1.1, where NEL (U+0085), LS (U+2028) and PS (U+2029) written raw are line
/// breaks, while a YAML 1.2 reader keeps them as characters: no rendering can mean to Go what
/// the source meant to both, so `render` refuses them (exit 3) naming the character and line.
#[test]
fn raw_yaml_1_1_line_breaks_are_refused_rather_than_reinterpreted() {
    let cases = [
        ("NEL (U+0085) at 2:", "global:\n  external_labels: {double: \"a\u{85}      b\"}\n"),
        ("LINE SEPARATOR (U+2028) at 4:", "global:\n  external_labels:\n    literal: |\n      c \u{2028} d\n"),
        ("PARAGRAPH SEPARATOR (U+2029) at 1:", "# a comment \u{2029} continues\nglobal: {}\n"),
    ];
    for (expected, text) in cases {
        Test::new()
            .file("prometheus.yml", text)
            .args(["render", "prometheus.yml", "--out", "out"])
            .run()
            .expect_code(3)
            .stderr_contains(expected);
    }
}

/// `\/` is a YAML 1.2 escape that yaml.v2 does not know: Go rejects the source, so `render`
/// refuses it too (exit 3) rather than silently repair it; the same characters outside double
/// quotes are plain text to both and render as written.
#[test]
fn escapes_go_does_not_know_are_refused_rather_than_repaired() {
    let go = Go::prometheus();
    Test::new()
        .file("prometheus.yml", "global:\n  external_labels: {slash: \"a\\/b\"}\n")
        .args(["render", "prometheus.yml", "--out", "out"])
        .run()
        .expect_code(3)
        .stderr_contains("the escape `\\/` at 2:");
    let plain = [case("slash-as-text", Place::ExternalLabels, "single: 'a\\/b'\nplain: a\\/b\n")];
    assert_no_failures("Prometheus", &go.compare("prometheus.yml", &plain, prometheus_source, true));
}

#[test]
fn alertmanager_reads_rendered_configs_as_it_read_the_source() {
    let cases = [
        case(
            "global-fields",
            Place::AmGlobal,
            "smtp_require_tls: yes\nsmtp_hello: 'on'\nsmtp_from: \"0777@example.com\"\nsmtp_smarthost: \
             127.0.0.1:25\nsmtp_auth_username: \"~\"\n",
        ),
        case(
            "route-fields",
            Place::AmRoute,
            "group_wait: 10s\ngroup_interval: 1m\nrepeat_interval: 4h\nroutes:\n  - receiver: go-yaml\n\
             \x20   continue: on\n    group_by: [alertname, 'on', \"_0777\", yes]\n\
             \x20   matchers: ['severity=\"yes\"', \"team=~'0777|on'\", tier!=\"\", 'name=\"a\\\"b\"']\n\
             \x20 - receiver: inline-carrier\n    continue: No\n    matchers:\n      - |-\n        multi=\"line\"\n",
        ),
        case("webhook-fields", Place::AmWebhook, "send_resolved: Y\nmax_alerts: 0x10\n"),
        case(
            "receivers-templates-time-intervals-and-anchors",
            Place::Whole,
            format!(
                "global:\n  smtp_smarthost: localhost:25\n  smtp_from: am@example.com\nroute:\n  receiver: 'yes'\n\
                 \x20 routes:\n    - receiver: 'yes'\n      mute_time_intervals: [office]\n\
                 \x20     matchers: &m ['a=\"on\"']\n    - receiver: 'yes'\n      matchers: *m\n\
                 receivers:\n  - name: 'yes'\n    email_configs:\n      - to: ops@example.com\n\
                 \x20       send_resolved: yes\n        headers: {{Subject: 'on', X-Octal: 0777}}\n\
                 \x20       html: |\n          <b>{{{{ .Status }}}}</b>\n            indented: yes\n\
                 \x20       text: >-\n          folded\n          text\n    webhook_configs:\n\
                 \x20     - url: http://127.0.0.1:1/hook\n        http_config: &http\n          basic_auth:\n\
                 \x20           username: am\n            {FILE_PROVIDER}\n          follow_redirects: off\n\
                 time_intervals:\n  - name: office\n    time_intervals:\n      - times:\n\
                 \x20         - start_time: 09:00\n            end_time: '17:30'\n\
                 \x20       weekdays: ['monday:friday', saturday]\n        days_of_month: ['1:5', -1]\n\
                 \x20       months: [1:3, december]\n        years: ['2024:2030']\n\
                 inhibit_rules:\n  - source_matchers: [a=\"~\"]\n    target_matchers: ['b=\"yes\"']\n\
                 \x20   equal: &eq [alertname, 'on']\n  - <<: {{source_matchers: [c=d]}}\n    target_matchers: [e=f]\n\
                 \x20   equal: *eq\n"
            ),
        ),
    ];
    let go = Go::alertmanager();
    assert_no_failures("Alertmanager", &go.compare("alertmanager.yml", &cases, alertmanager_source, true));
}

/// No Go needed: every scalar (as a value and, where it can be, as a key) is emitted exactly as
/// written, plain stays plain and quoted stays quoted; only block scalars and escapes the
/// emitter normalises come out in another (double-quoted) spelling, given here.
#[test]
fn every_tricky_scalar_is_emitted_exactly_as_written() {
    let cases: &[(&str, &str)] = &[
        ("on", "on"),
        ("yes", "yes"),
        ("Y", "Y"),
        ("OFF", "OFF"),
        ("0777", "0777"),
        ("0x1F", "0x1F"),
        ("0b101", "0b101"),
        ("1_000", "1_000"),
        ("1e3", "1e3"),
        ("+12", "+12"),
        ("1:20", "1:20"),
        (".inf", ".inf"),
        ("-.Inf", "-.Inf"),
        (".NaN", ".NaN"),
        ("~", "~"),
        ("null", "null"),
        ("2024-01-01", "2024-01-01"),
        ("2001-12-14t21:59:43.10-05:00", "2001-12-14t21:59:43.10-05:00"),
        ("http://x/y?a=b#c", "http://x/y?a=b#c"),
        ("a,b [c] {d}", "a,b [c] {d}"),
        ("it's \"so\"", "it's \"so\""),
        ("αβγ 😀 日本語", "αβγ 😀 日本語"),
        ("'on'", "'on'"),
        ("'0777'", "'0777'"),
        ("''", "''"),
        ("'it''s'", "'it''s'"),
        ("' #x'", "' #x'"),
        ("\"yes\"", "\"yes\""),
        ("\"~\"", "\"~\""),
        ("\"\"", "\"\""),
        ("\"say \\\"hi\\\" \\\\ \\t\\n\"", "\"say \\\"hi\\\" \\\\ \\t\\n\""),
        ("\"\\x41\\u00e9\\U0001F600\"", "\"Aé😀\""),
        ("\"\\e\\N\\_\\L\\P\"", "\"\\u001b\\u0085\u{a0}\\u2028\\u2029\""),
        ("!!str 123", "!!str 123"),
        ("!!str yes", "!!str yes"),
        ("!!binary aGVsbG8=", "!!binary aGVsbG8="),
        ("!<tag:yaml.org,2002:str> 0777", "!<tag:yaml.org,2002:str> 0777"),
        ("!!int \"42\"", "!!int \"42\""),
        ("|\n  line\n    more\n", "\"line\\n  more\\n\""),
        ("|-\n  x\n", "\"x\""),
        ("|+\n  x\n\n", "\"x\\n\\n\""),
        (">\n  a\n  b\n\n  c\n", "\"a b\\nc\\n\""),
        ("'x\n  y'", "'x y'"),
    ];
    let mut source = String::from("values:\n");
    for (index, (written, _)) in cases.iter().enumerate() {
        source.push_str(&indent(&format!("v{index}: {written}"), 2));
    }
    // Each key in a mapping of its own: `on` and `'on'` are the same key to the loader (and to Go).
    let keyable = |written: &str| !written.contains('\n');
    for (index, (written, _)) in cases.iter().enumerate().filter(|(_, (written, _))| keyable(written)) {
        source.push_str(&format!("k{index}:\n  {written}: k\n"));
    }
    source.push_str(&format!("secret:\n  {INLINE_PROVIDER}\n"));
    let test = Test::new()
        .file("app.yml", &source)
        .env("GO_YAML_FAKE_TOKEN", FAKE_TOKEN)
        .args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    test.run().expect_code(0).never_shows(FAKE_TOKEN);
    let rendered = std::fs::read_to_string(test.path("out/app.yml")).expect("rendered config");
    assert!(rendered.contains(&format!("  credentials: \"{FAKE_TOKEN}\"\n")), "the render rewrote the provider map");
    let lines: Vec<&str> = rendered.lines().collect();
    let mut failures = Vec::new();
    for (index, (written, emitted)) in cases.iter().enumerate() {
        let value = format!("  v{index}: {emitted}");
        if !lines.contains(&value.as_str()) {
            failures.push(format!("value {written:?}: expected the line {value:?}"));
        }
        if keyable(written) {
            let key = format!("k{index}:\n  {emitted}: k\n");
            if !rendered.contains(&key) {
                failures.push(format!("key {written:?}: expected the line {key:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}\n--- rendered\n{}", failures.join("\n"), redact(&rendered));
}
