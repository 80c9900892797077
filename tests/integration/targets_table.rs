//! Proof of the oldest-version facts in `src/render/targets.yaml`: the real `promtool` (Prometheus
//! 2.42.0) and `amtool` (Alertmanager 0.25.0) parse strictly, so a config that uses every `_file`
//! sibling the table claims for that version must be accepted, and a config that uses a `_file`
//! form the table says is missing must be rejected with "field X not found".
//!
//! The fixtures live in `testdata/targets/` and are picked up by name:
//! - `<tool-version>-siblings.yml` / `prometheus-2.42-web-siblings.yml`: must be accepted;
//! - `<tool-version>-no-sibling-<what>.yml` and `-no-field-<what>.yml`: must be rejected, and the
//!   tool's output must contain the text of the fixture's `# expect-rejection: ...` line.
//!
//! The tools come from Debian bookworm (`apt-get install prometheus prometheus-alertmanager`). A
//! missing tool, or one of another version, fails the tests: they never pass without checking.

use std::path::{Path, PathBuf};
use std::process::Command;

const INSTALL_HINT: &str = "install the tools with `apt-get install prometheus prometheus-alertmanager` \
     (Debian bookworm ships promtool 2.42.0 and amtool 0.25.0, the versions targets.yaml starts from)";

/// One kind of check: which tool, which subcommand, which fixtures.
struct Check {
    tool: &'static str,
    version: &'static str,
    args: &'static [&'static str],
    glob: &'static str,
}

const PROMETHEUS_CONFIG_SIBLINGS: Check =
    Check { tool: "promtool", version: "2.42.0", args: &["check", "config"], glob: "prometheus-2.42-siblings*.yml" };
const PROMETHEUS_CONFIG_MISSING: Check =
    Check { tool: "promtool", version: "2.42.0", args: &["check", "config"], glob: "prometheus-2.42-no-*.yml" };
const PROMETHEUS_WEB_SIBLINGS: Check = Check {
    tool: "promtool",
    version: "2.42.0",
    args: &["check", "web-config"],
    glob: "prometheus-2.42-web-siblings*.yml",
};
const PROMETHEUS_WEB_MISSING: Check =
    Check { tool: "promtool", version: "2.42.0", args: &["check", "web-config"], glob: "prometheus-2.42-web-no-*.yml" };
const ALERTMANAGER_SIBLINGS: Check =
    Check { tool: "amtool", version: "0.25.0", args: &["check-config"], glob: "alertmanager-0.25-siblings*.yml" };
const ALERTMANAGER_MISSING: Check =
    Check { tool: "amtool", version: "0.25.0", args: &["check-config"], glob: "alertmanager-0.25-no-*.yml" };

const ALL_CHECKS: [&Check; 6] = [
    &PROMETHEUS_CONFIG_SIBLINGS,
    &PROMETHEUS_CONFIG_MISSING,
    &PROMETHEUS_WEB_SIBLINGS,
    &PROMETHEUS_WEB_MISSING,
    &ALERTMANAGER_SIBLINGS,
    &ALERTMANAGER_MISSING,
];

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join("targets")
}

/// `*` matches any run of characters; everything else matches itself.
fn glob_matches(glob: &str, text: &str) -> bool {
    match glob.split_once('*') {
        None => glob == text,
        Some((prefix, rest)) => text.strip_prefix(prefix).is_some_and(|text| {
            (0..=text.len()).filter(|&i| text.is_char_boundary(i)).any(|i| glob_matches(rest, &text[i..]))
        }),
    }
}

/// The names of the fixture configs (`*.yml` starting with a target name), sorted.
fn fixture_names() -> Vec<String> {
    let dir = fixtures_dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    let mut names: Vec<String> = entries
        .map(|entry| entry.expect("readable directory entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yml") && (name.starts_with("prometheus-") || name.starts_with("alertmanager-")))
        .collect();
    names.sort();
    names
}

/// The fixtures one check covers; a check that finds none fails, so a rename cannot skip it.
fn fixtures(check: &Check) -> Vec<PathBuf> {
    let paths: Vec<PathBuf> = fixture_names()
        .into_iter()
        .filter(|name| glob_matches(check.glob, name))
        .map(|name| fixtures_dir().join(name))
        .collect();
    assert!(!paths.is_empty(), "no fixture in {} matches {}", fixtures_dir().display(), check.glob);
    paths
}

/// The tool on PATH, after checking it is the version the fixtures speak for.
fn tool(check: &Check) -> PathBuf {
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path_var)
        .map(|dir| dir.join(check.tool))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{} is not on PATH: {INSTALL_HINT}", check.tool));
    let output = Command::new(&found)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} --version: {e}", found.display()));
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(
        text.contains(&format!("version {}", check.version)),
        "{} is not version {} (it says {:?}); the fixtures prove facts about exactly that version: {INSTALL_HINT}",
        found.display(),
        check.version,
        text.lines().next().unwrap_or_default(),
    );
    found
}

struct Outcome {
    success: bool,
    output: String,
}

/// Runs the check on one fixture from another working directory, so relative paths in the
/// fixture must resolve against the fixture's own directory, as they do in production.
fn run(check: &Check, tool: &Path, fixture: &Path) -> Outcome {
    let output = Command::new(tool)
        .args(check.args)
        .arg(fixture)
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", tool.display()));
    Outcome {
        success: output.status.success(),
        output: format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)),
    }
}

fn command_line(check: &Check, fixture: &Path) -> String {
    format!("{} {} {}", check.tool, check.args.join(" "), fixture.display())
}

fn assert_all_accepted(check: &Check) {
    let tool = tool(check);
    let failures: Vec<String> = fixtures(check)
        .iter()
        .filter_map(|fixture| {
            let outcome = run(check, &tool, fixture);
            (!outcome.success).then(|| format!("`{}` rejected it:\n{}", command_line(check, fixture), outcome.output))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The text a negative fixture's rejection must contain, from its `# expect-rejection:` line.
fn expected_rejection(fixture: &Path) -> String {
    let text = std::fs::read_to_string(fixture).unwrap_or_else(|e| panic!("cannot read {}: {e}", fixture.display()));
    text.lines()
        .find_map(|line| line.strip_prefix("# expect-rejection:"))
        .map(|expected| expected.trim().to_owned())
        .filter(|expected| !expected.is_empty())
        .unwrap_or_else(|| panic!("{} has no `# expect-rejection: ...` line", fixture.display()))
}

fn assert_all_rejected(check: &Check) {
    let tool = tool(check);
    let failures: Vec<String> = fixtures(check)
        .iter()
        .filter_map(|fixture| {
            let expected = expected_rejection(fixture);
            let outcome = run(check, &tool, fixture);
            if outcome.success {
                Some(format!("`{}` accepted it, expected a rejection with {expected:?}", command_line(check, fixture)))
            } else if !outcome.output.contains(&expected) {
                Some(format!(
                    "`{}` rejected it, but not with {expected:?}:\n{}",
                    command_line(check, fixture),
                    outcome.output
                ))
            } else {
                None
            }
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn prometheus_2_42_accepts_every_sibling_in_the_table() {
    assert_all_accepted(&PROMETHEUS_CONFIG_SIBLINGS);
}

#[test]
fn prometheus_2_42_rejects_each_sibling_the_table_says_it_lacks() {
    assert_all_rejected(&PROMETHEUS_CONFIG_MISSING);
}

#[test]
fn prometheus_2_42_web_config_accepts_every_sibling_in_the_table() {
    assert_all_accepted(&PROMETHEUS_WEB_SIBLINGS);
}

#[test]
fn prometheus_2_42_web_config_rejects_the_inline_forms_it_lacks() {
    assert_all_rejected(&PROMETHEUS_WEB_MISSING);
}

#[test]
fn alertmanager_0_25_accepts_every_sibling_in_the_table() {
    assert_all_accepted(&ALERTMANAGER_SIBLINGS);
}

#[test]
fn alertmanager_0_25_rejects_each_sibling_the_table_says_it_lacks() {
    assert_all_rejected(&ALERTMANAGER_MISSING);
}

#[test]
fn every_fixture_config_is_checked_by_exactly_one_test() {
    let problems: Vec<String> = fixture_names()
        .into_iter()
        .filter_map(|name| {
            let covering: Vec<&str> =
                ALL_CHECKS.iter().filter(|check| glob_matches(check.glob, &name)).map(|check| check.glob).collect();
            (covering.len() != 1).then(|| format!("{name} is matched by {covering:?}"))
        })
        .collect();
    assert!(problems.is_empty(), "each fixture needs exactly one check:\n{}", problems.join("\n"));
}

#[test]
fn fixture_globs_match_names_as_intended() {
    let cases = [
        ("prometheus-2.42-no-*.yml", "prometheus-2.42-no-sibling-ec2-secret-key.yml", true),
        ("prometheus-2.42-no-*.yml", "prometheus-2.42-web-no-field-tls-key.yml", false),
        ("prometheus-2.42-siblings*.yml", "prometheus-2.42-siblings.yml", true),
        ("prometheus-2.42-siblings*.yml", "prometheus-2.42-web-siblings.yml", false),
        ("alertmanager-0.25-no-*.yml", "alertmanager-0.25-siblings.yml", false),
    ];
    for (glob, name, expected) in cases {
        assert_eq!(glob_matches(glob, name), expected, "{glob} vs {name}");
    }
}
