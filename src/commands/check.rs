//! `secret-render check`: validates every provider map and the rendered result without touching
//! a real secret. Placeholder values are rendered into a private temporary directory (removed
//! afterwards) and handed to `promtool`/`amtool` when they are on PATH; `--resolve` also fetches
//! each secret to prove it exists, and reports a table without values.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::configs::{self, Config, Issue};
use crate::exit::{ExitCode, Failure};
use crate::output::{OutputDir, OutputOptions, TmpfsPolicy};
use crate::render::{Placement, TargetKind, ValueKind};
use crate::resolve;
use crate::secret::Secret;
use crate::settings::{CheckFormat, CheckSettings};
use crate::tree::{Node, YamlPath};

/// The value every placeholder secret has: recognisable, and valid where a URL is expected.
const PLACEHOLDER_TEXT: &str = "secret-render-placeholder";
const PLACEHOLDER_URL: &str = "https://secret-render.invalid/placeholder";
/// bcrypt (cost 4) of `secret-render-placeholder`.
const PLACEHOLDER_BCRYPT: &str = "$2b$04$1p1rW22.fZVfBJfF50lDBuAuhXrpHCE1KZ0S9q7bicMLkVrmr9nzi";

/// What `check` says of a secret field holding a value written in the config.
const INLINE_SECRET: &str = "holds a secret written inline: move it into a store with `secret-render extract`";

/// What the target's own tool said about the rendered placeholder config.
#[derive(Debug)]
enum Validation {
    Accepted {
        tool: String,
    },
    Rejected {
        tool: String,
        output: String,
    },
    /// No tool validates this kind of config (a generic one).
    Skipped {
        reason: String,
    },
    /// The tool that would validate it is missing or cannot run.
    Unavailable {
        reason: String,
    },
}

struct SiteReport {
    path: String,
    line: usize,
    provider: String,
    location: String,
    placement: Placement,
    /// Inlined because the map says `render: inline`, not for want of a `_file` sibling.
    inline_asked: bool,
    /// With `--resolve`: `None` when fetched, else why not.
    fetch_error: Option<Option<String>>,
}

struct ConfigReport {
    file: PathBuf,
    target: String,
    sites: Vec<SiteReport>,
    /// Secret fields holding a value written in the config, by path and line.
    inline: Vec<(String, usize)>,
    validation: Validation,
}

/// The values of `inline` (a config's inline secrets), which a tool's output may quote
/// (amtool quotes a webhook URL it rejects, token and all): they are redacted from it.
fn inline_values<'a>(inline: &[(YamlPath, &'a Node)]) -> Vec<&'a str> {
    let mut values: Vec<&str> = inline
        .iter()
        .filter_map(|(_, node)| node.as_scalar())
        // Shorter ones would blank out ordinary words; no real secret is that short.
        .filter(|value| value.chars().count() >= 3)
        .collect();
    // A tool may quote a piece of a URL it cannot parse (amtool: `invalid port ":p4ss" after
    // host` when a password holds a `/`): the pieces of its credentials, and of its query's
    // values, are redacted too, as short as whole values. Its host and path are not secrets.
    let pieces: Vec<&str> = values.iter().flat_map(|value| url_secret_pieces(value)).collect();
    values.extend(pieces);
    // Longest first, so that a value holding another is redacted whole.
    values.sort_by_key(|value| std::cmp::Reverse(value.len()));
    values.dedup();
    values
}

/// The pieces of a URL's password (its userinfo after the first `:`, up to the last `@`),
/// split where a URL parser may split it, of 3 characters or more, and its query's values of 6
/// or more (a token; not `format=json`, whose every `json` would be blanked).
fn url_secret_pieces(value: &str) -> Vec<&str> {
    let Some((_, rest)) = value.split_once("://") else { return Vec::new() };
    let password = rest.rfind('@').and_then(|at| rest[..at].split_once(':')).map_or("", |(_, password)| password);
    let query = rest.split_once('?').map_or("", |(_, query)| query);
    let query_values = query.split('&').filter_map(|pair| pair.split_once('=').map(|(_, value)| value));
    password
        .split([':', '/', '?', '#'])
        .filter(|piece| piece.chars().count() >= 3)
        .chain(query_values.flat_map(|value| value.split(['#', '/'])).filter(|piece| piece.chars().count() >= 6))
        .collect()
}

/// `output` with every one of `values` replaced by `<redacted>`, as written and as Go quotes it
/// (`%q`, `strconv.Quote`: how promtool and amtool show a value they reject, a `"` as `\"`).
fn redacted(mut output: String, values: &[&str]) -> String {
    for value in values {
        for shown in [(*value).to_owned(), go_quoted(value)] {
            if output.contains(&shown) {
                output = output.replace(&shown, "<redacted>");
            }
        }
    }
    output
}

/// `value` as Go's `strconv.Quote` writes it, without the quotes around it.
fn go_quoted(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len());
    for character in value.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\u{7}' => quoted.push_str("\\a"),
            '\u{8}' => quoted.push_str("\\b"),
            '\u{c}' => quoted.push_str("\\f"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            '\u{b}' => quoted.push_str("\\v"),
            control if (control as u32) < 0x20 || control as u32 == 0x7f => {
                quoted.push_str(&format!("\\x{:02x}", control as u32));
            }
            other => quoted.push(other),
        }
    }
    quoted
}

pub async fn run(settings: &CheckSettings) -> Result<(), Failure> {
    let loaded = match configs::load_all(&settings.configs, settings.target, settings.stores.as_deref()) {
        Ok(loaded) => loaded,
        Err(issues) => {
            report_issues(settings.format, &issues);
            return Err(Failure::new(ExitCode::Config, configs::describe_issues("invalid configuration", &issues)));
        }
    };
    let fetch_errors = if settings.resolve {
        let providers = super::render::providers_for(&loaded, settings.max_concurrency, &settings.file_roots)?;
        let fetches = resolve::fetch_all(loaded.specs(), &providers, settings.max_concurrency).await;
        let configs = &loaded.configs;
        Some(
            configs
                .iter()
                .map(|config| {
                    config.sites.iter().map(|site| fetches.value_for(&site.spec).err().map(|e| e.to_string())).collect()
                })
                .collect::<Vec<Vec<Option<String>>>>(),
        )
    } else {
        None
    };
    let configs = loaded.configs;
    // Warned about in the report, and kept out of the tools' output.
    let inline: Vec<Vec<(YamlPath, &Node)>> = configs
        .iter()
        .map(|config| super::extract::inline_secret_sites(&config.document.root, &config.profile))
        .collect();
    let validations = validate_with_placeholders(&configs, &inline)?;
    let reports: Vec<ConfigReport> = configs
        .iter()
        .zip(validations)
        .zip(&inline)
        .enumerate()
        .map(|(index, ((config, validation), inline))| ConfigReport {
            file: config.source.clone(),
            target: format!("{}@{}", config.profile.kind, config.profile.version),
            sites: config
                .sites
                .iter()
                .zip(&config.placements)
                .enumerate()
                .map(|(position, (site, placement))| SiteReport {
                    path: site.path.to_string(),
                    line: site.mark.line,
                    provider: site.spec.location.kind().to_string(),
                    location: site.spec.describe(),
                    placement: placement.clone(),
                    inline_asked: site.spec.render == crate::provider::RenderMode::Inline,
                    fetch_error: fetch_errors.as_ref().map(|errors| errors[index][position].clone()),
                })
                .collect(),
            inline: inline.iter().map(|(path, node)| (path.to_string(), node.mark.line)).collect(),
            validation,
        })
        .collect();
    let text = match settings.format {
        CheckFormat::Human => human(&reports),
        CheckFormat::Json => format!("{:#}\n", json_report(&reports)),
        CheckFormat::Github => github(&reports),
    };
    super::print(&text);
    let failed_fetches =
        reports.iter().flat_map(|r| &r.sites).filter(|s| matches!(s.fetch_error, Some(Some(_)))).count();
    let rejected: Vec<&ConfigReport> =
        reports.iter().filter(|report| matches!(report.validation, Validation::Rejected { .. })).collect();
    if failed_fetches > 0 {
        return Err(Failure::new(ExitCode::Fetch, format!("{failed_fetches} secret(s) could not be fetched")));
    }
    if !rejected.is_empty() {
        let files: Vec<String> = rejected.iter().map(|report| report.file.display().to_string()).collect();
        return Err(Failure::new(
            ExitCode::CheckRejected,
            format!("the rendered config was rejected by the target's tool: {}", files.join(", ")),
        ));
    }
    Ok(())
}

/// What a site's placeholder must look like: what the table says of a secret field, else (a
/// provider map may stand at any field) a URL where the field's name says one goes (`url`,
/// `api_url`): the tool would refuse text there, and fail a valid config.
fn placeholder_kind(config: &Config, path: &YamlPath) -> ValueKind {
    match config.profile.value_kind(path) {
        ValueKind::Text if path.field().is_some_and(|name| name == "url" || name.ends_with("_url")) => ValueKind::Url,
        kind => kind,
    }
}

fn placeholder(kind: ValueKind) -> Secret {
    Secret::from_text(match kind {
        ValueKind::Text => PLACEHOLDER_TEXT.to_owned(),
        ValueKind::Url => PLACEHOLDER_URL.to_owned(),
        ValueKind::Bcrypt => PLACEHOLDER_BCRYPT.to_owned(),
    })
}

/// Renders `configs` with placeholders and validates each with its tool; `inline` holds each
/// config's inline secrets, redacted from what the tool says.
fn validate_with_placeholders(
    configs: &[Config],
    inline: &[Vec<(YamlPath, &Node)>],
) -> Result<Vec<Validation>, Failure> {
    let scratch = tempfile::Builder::new().prefix("secret-render-check-").tempdir().map_err(|error| {
        Failure::new(ExitCode::Output, format!("cannot create a private temporary directory: {error}"))
    })?;
    let out = OutputDir::open(
        &scratch.path().join("out"),
        &OutputOptions { tmpfs: TmpfsPolicy::Ignore, ..OutputOptions::default() },
    )
    .map_err(|error| Failure::new(ExitCode::Output, format!("cannot use a private temporary directory: {error}")))?;
    let values = configs
        .iter()
        .map(|config| config.sites.iter().map(|site| Some(placeholder(placeholder_kind(config, &site.path)))).collect())
        .collect();
    let secrets_dir = out.secrets_dir();
    let templates: Vec<_> = configs.iter().map(|config| config.template(&secrets_dir)).collect();
    let rendered = super::render::write_all(configs, &templates, values, &out, out.stage_secrets())?;
    Ok(configs
        .iter()
        .zip(&rendered)
        .zip(inline)
        .map(|((config, path), inline)| validate(config, path, inline))
        .collect())
}

fn validate(config: &Config, rendered: &Path, inline: &[(YamlPath, &Node)]) -> Validation {
    let is_web_config = ["tls_server_config", "basic_auth_users", "http_server_config"]
        .iter()
        .any(|key| config.document.root.get(key).is_some());
    let (program, args): (&str, &[&str]) = match config.profile.kind {
        TargetKind::Prometheus if is_web_config => ("promtool", &["check", "web-config"]),
        TargetKind::Prometheus => ("promtool", &["check", "config"]),
        TargetKind::Alertmanager => ("amtool", &["check-config"]),
        TargetKind::Generic => {
            return Validation::Skipped { reason: "no validator for generic configs".into() };
        }
    };
    let tool = format!("{program} {}", args.join(" "));
    // promtool loads a web config's certificate and key as a pair: with a placeholder for either,
    // it can only refuse, whatever the config's worth.
    let tls_from_a_store = || {
        config
            .sites
            .iter()
            .any(|site| matches!(site.path.to_string().as_str(), "tls_server_config.key" | "tls_server_config.cert"))
    };
    if is_web_config && tls_from_a_store() {
        return Validation::Skipped {
            reason: format!(
                "{tool} loads the TLS certificate and key, and check has placeholders for them: render, then run \
                 {tool} on the result"
            ),
        };
    }
    match Command::new(program).args(args).arg(rendered).output() {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            Validation::Unavailable { reason: format!("{program} is not on PATH") }
        }
        Err(error) => Validation::Unavailable { reason: format!("cannot run {program}: {error}") },
        Ok(output) if output.status.success() => Validation::Accepted { tool },
        Ok(output) => {
            // The tool saw placeholders for the secrets we fetch, but the values still written
            // inline in the config as they are.
            let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&output.stderr));
            Validation::Rejected { tool, output: redacted(text.trim().to_owned(), &inline_values(inline)) }
        }
    }
}

fn placement_text(placement: &Placement) -> String {
    match placement {
        Placement::File { sibling, .. } => format!("file → {sibling}"),
        Placement::Inline => "inline".to_owned(),
    }
}

/// Why `site` is inlined: its map asks for it, or the target has no `_file` form for the field.
fn why_inlined(site: &SiteReport, report: &ConfigReport) -> String {
    if site.inline_asked {
        "its provider map says `render: inline`".to_owned()
    } else {
        format!("{} has no `_file` sibling for it", report.target)
    }
}

fn human(reports: &[ConfigReport]) -> String {
    let mut text = String::new();
    for report in reports {
        text.push_str(&format!("{} ({}): {} secret(s)\n", report.file.display(), report.target, report.sites.len()));
        for site in &report.sites {
            text.push_str(&format!("  {}  {}  {}", site.path, site.location, placement_text(&site.placement)));
            match &site.fetch_error {
                Some(None) => text.push_str("  fetched"),
                Some(Some(error)) => text.push_str(&format!("  FAILED: {error}")),
                None => {}
            }
            text.push('\n');
        }
        for site in report.sites.iter().filter(|site| site.placement == Placement::Inline) {
            text.push_str(&format!(
                "  note: {} is inlined into the rendered config ({})\n",
                site.path,
                why_inlined(site, report)
            ));
        }
        for (path, line) in &report.inline {
            text.push_str(&format!("  warning: {path} (line {line}) {INLINE_SECRET}\n"));
        }
        match &report.validation {
            Validation::Accepted { tool } => text.push_str(&format!("  {tool}: accepted\n")),
            Validation::Rejected { tool, output } => {
                text.push_str(&format!("  {tool}: REJECTED\n"));
                for line in output.lines() {
                    text.push_str(&format!("    {line}\n"));
                }
            }
            Validation::Skipped { reason } | Validation::Unavailable { reason } => {
                text.push_str(&format!("  validation skipped: {reason}\n"));
            }
        }
    }
    text
}

fn json_report(reports: &[ConfigReport]) -> serde_json::Value {
    let configs: Vec<serde_json::Value> = reports
        .iter()
        .map(|report| {
            let secrets: Vec<serde_json::Value> = report
                .sites
                .iter()
                .map(|site| {
                    let (placement, sibling) = match &site.placement {
                        Placement::File { sibling, .. } => ("file", Some(sibling.clone())),
                        Placement::Inline => ("inline", None),
                    };
                    json!({
                        "path": site.path,
                        "line": site.line,
                        "provider": site.provider,
                        "location": site.location,
                        "placement": placement,
                        "sibling": sibling,
                        "fetched": site.fetch_error.as_ref().map(Option::is_none),
                        "error": site.fetch_error.clone().flatten(),
                    })
                })
                .collect();
            let validation = match &report.validation {
                Validation::Accepted { tool } => json!({"result": "accepted", "tool": tool}),
                Validation::Rejected { tool, output } => json!({"result": "rejected", "tool": tool, "output": output}),
                Validation::Skipped { reason } | Validation::Unavailable { reason } => {
                    json!({"result": "skipped", "reason": reason})
                }
            };
            let inline: Vec<serde_json::Value> =
                report.inline.iter().map(|(path, line)| json!({"path": path, "line": line})).collect();
            json!({
                "file": report.file,
                "target": report.target,
                "secrets": secrets,
                "inline_secrets": inline,
                "validation": validation,
            })
        })
        .collect();
    json!({ "configs": configs })
}

/// GitHub Actions workflow command data (the message), escaped as the runner expects.
fn github_escape(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// A workflow command property value (`file=`): `:` and `,` separate properties, so they are
/// escaped too.
fn github_property(text: &str) -> String {
    github_escape(text).replace(':', "%3A").replace(',', "%2C")
}

fn github(reports: &[ConfigReport]) -> String {
    let mut text = String::new();
    for report in reports {
        let shown = report.file.display();
        let file = github_property(&shown.to_string());
        for site in &report.sites {
            if let Some(Some(error)) = &site.fetch_error {
                text.push_str(&format!(
                    "::error file={file},line={}::{}\n",
                    site.line,
                    github_escape(&format!("{}: {error}", site.path))
                ));
            }
            if site.placement == Placement::Inline {
                let message =
                    format!("{} is inlined into the rendered config ({})", site.path, why_inlined(site, report));
                text.push_str(&format!("::warning file={file},line={}::{}\n", site.line, github_escape(&message)));
            }
        }
        for (path, line) in &report.inline {
            let message = format!("{path} {INLINE_SECRET}");
            text.push_str(&format!("::warning file={file},line={line}::{}\n", github_escape(&message)));
        }
        match &report.validation {
            Validation::Rejected { tool, output } => {
                text.push_str(&format!(
                    "::error file={file}::{}\n",
                    github_escape(&format!("{tool} rejected the rendered config: {output}"))
                ));
            }
            Validation::Accepted { tool } => text.push_str(&format!("{shown}: {tool}: accepted\n")),
            Validation::Skipped { reason } => text.push_str(&format!("{shown}: validation skipped: {reason}\n")),
            // A CI image without the tool must not pass unnoticed.
            Validation::Unavailable { reason } => text.push_str(&format!(
                "::warning file={file}::{}\n",
                github_escape(&format!("validation skipped: {reason}"))
            )),
        }
    }
    text
}

fn report_issues(format: CheckFormat, issues: &[Issue]) {
    let text = match format {
        CheckFormat::Human => return, // main prints the failure message itself
        CheckFormat::Json => {
            let issues: Vec<serde_json::Value> = issues
                .iter()
                .map(|issue| {
                    json!({
                        "file": issue.file,
                        "line": issue.line,
                        "path": issue.path.as_ref().map(ToString::to_string),
                        "message": issue.message,
                    })
                })
                .collect();
            format!("{:#}\n", json!({ "problems": issues }))
        }
        CheckFormat::Github => issues
            .iter()
            .map(|issue| {
                let location = match issue.line {
                    Some(line) => format!("file={},line={line}", github_property(&issue.file.display().to_string())),
                    None => format!("file={}", github_property(&issue.file.display().to_string())),
                };
                let message = match &issue.path {
                    Some(path) => format!("{path}: {}", issue.message),
                    None => issue.message.clone(),
                };
                format!("::error {location}::{}\n", github_escape(&message))
            })
            .collect(),
    };
    super::print(&text);
}
