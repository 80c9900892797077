//! `secret-render check`: placeholder validation with the real `promtool`/`amtool`, `--resolve`
//! fetching without ever printing a value, the human, JSON and GitHub report formats, config
//! problems, target detection, and the private temporary directory being cleaned up.

use crate::support::{ALERTMANAGER_INSTALL, CANARY, Outcome, PROMETHEUS_INSTALL, Test, require};

/// One secret from an unset environment variable, one from a file that does not exist.
const UNFETCHABLE: &str = concat!(
    "scrape_configs:\n",
    "  - job_name: node\n",
    "    basic_auth:\n",
    "      username: prom\n",
    "      password: {env: {name: SR_CHECK_UNSET_VAR}}\n",
    "    static_configs: [{targets: ['127.0.0.1:9100']}]\n",
    "  - job_name: api\n",
    "    authorization: {credentials: {file: {path: missing.txt}}}\n",
);

/// `sigv4.secret_key` has no `_file` sibling in Prometheus 2.42 (line 6); `basic_auth.password`
/// has `password_file` (line 9).
const INLINE_AND_FILE: &str = concat!(
    "remote_write:\n",
    "  - url: https://example.invalid/write\n",
    "    sigv4:\n",
    "      region: eu-west-1\n",
    "      access_key: AKIAFAKEEXAMPLE\n",
    "      secret_key: {env: {name: FAKE_SECRET}}\n",
    "scrape_configs:\n",
    "  - job_name: node\n",
    "    basic_auth: {username: u, password: {env: {name: FAKE_SECRET}}}\n",
);

/// A valid Alertmanager config: its shape (`route`/`receivers`) says what it is.
const ALERTMANAGER: &str = concat!(
    "route:\n",
    "  receiver: team\n",
    "receivers:\n",
    "  - name: team\n",
    "    webhook_configs:\n",
    "      - url: {env: {name: FAKE_HOOK}}\n",
    "        http_config:\n",
    "          authorization: {credentials: {env: {name: FAKE_TOKEN}}}\n",
);

/// Config problems (exit 3): a shorthand provider body, and an unknown key whose name holds
/// every character GitHub workflow commands need escaped.
const PROBLEMS: &str = concat!(
    "scrape_configs:\n",
    "  - job_name: node\n",
    "    basic_auth: {username: u, password: {env: TOKEN}}\n",
    "  - job_name: api\n",
    "    authorization: {credentials: {file: {path: x, \"100%\\r\\nsure\": blue}}}\n",
);

fn requires_promtool() {
    require("promtool", PROMETHEUS_INSTALL);
}

fn requires_amtool() {
    require("amtool", ALERTMANAGER_INSTALL);
}

#[track_caller]
fn json(outcome: &Outcome) -> serde_json::Value {
    serde_json::from_str(&outcome.stdout)
        .unwrap_or_else(|error| panic!("stdout is not JSON ({error}):\n{}", outcome.stdout))
}

/// The lines of stdout that are GitHub workflow commands.
fn workflow_commands(outcome: &Outcome) -> Vec<&str> {
    outcome.stdout.lines().filter(|line| line.starts_with("::")).collect()
}

#[test]
fn without_resolve_nothing_is_fetched_and_placeholders_pass() {
    requires_promtool();
    let outcome = Test::new().file("prometheus.yml", UNFETCHABLE).args(["check", "prometheus.yml"]).run();
    outcome
        .expect_code(0)
        .stdout_contains("scrape_configs[job_name=node].basic_auth.password  environment variable SR_CHECK_UNSET_VAR")
        .stdout_contains("scrape_configs[job_name=api].authorization.credentials  file ")
        .stdout_contains("promtool check config: accepted");
    assert!(!outcome.stdout.contains("FAILED"), "nothing was fetched:\n{}", outcome.stdout);
    assert!(!outcome.stdout.contains("fetched"), "nothing was fetched:\n{}", outcome.stdout);
}

#[test]
fn resolve_lists_every_fetch_failure_with_its_yaml_path_and_exits_4() {
    requires_promtool();
    let test = Test::new().file("prometheus.yml", UNFETCHABLE).args(["check", "--resolve", "prometheus.yml"]);
    let missing = test.path("missing.txt");
    test.run()
        .expect_code(4)
        .stdout_contains(
            "scrape_configs[job_name=node].basic_auth.password  environment variable SR_CHECK_UNSET_VAR  file → password_file  FAILED: environment variable SR_CHECK_UNSET_VAR not found",
        )
        .stdout_contains(&format!(
            "scrape_configs[job_name=api].authorization.credentials  file {0}  file → credentials_file  FAILED: file {0} not found",
            missing.display()
        ))
        .stderr_contains("2 secret(s) could not be fetched");
}

#[test]
fn a_scrape_interval_promtool_rejects_exits_6_with_its_message() {
    requires_promtool();
    let config = "global:\n  scrape_interval: banana\nscrape_configs:\n  - job_name: node\n    basic_auth: {username: u, password: {env: {name: FAKE}}}\n";
    Test::new()
        .file("prometheus.yml", config)
        .args(["check", "prometheus.yml"])
        .run()
        .expect_code(6)
        .stdout_contains("promtool check config: REJECTED")
        .stdout_contains("not a valid duration string: \"banana\"")
        .stderr_contains("rejected by the target's tool: prometheus.yml");
}

#[test]
fn basic_auth_and_authorization_in_one_job_are_rejected_by_promtool_with_exit_6() {
    requires_promtool();
    let config = concat!(
        "scrape_configs:\n",
        "  - job_name: node\n",
        "    basic_auth: {username: u, password: {env: {name: FAKE_A}}}\n",
        "    authorization: {credentials: {env: {name: FAKE_B}}}\n",
    );
    Test::new()
        .file("prometheus.yml", config)
        .args(["check", "prometheus.yml"])
        .run()
        .expect_code(6)
        .stdout_contains("promtool check config: REJECTED")
        .stdout_contains("at most one of basic_auth, oauth2 & authorization must be configured");
}

#[test]
fn a_route_to_an_undefined_receiver_is_rejected_by_amtool_with_exit_6() {
    requires_amtool();
    let config = ALERTMANAGER.replace("  receiver: team\n", "  receiver: nowhere\n");
    Test::new()
        .file("alertmanager.yml", &config)
        .args(["check", "alertmanager.yml"])
        .run()
        .expect_code(6)
        .stdout_contains("amtool check-config: REJECTED")
        .stdout_contains("undefined receiver \"nowhere\" used in route");
}

#[test]
fn human_format_notes_inlined_fields_and_names_the_file_sibling_of_others() {
    requires_promtool();
    Test::new()
        .file("prometheus.yml", INLINE_AND_FILE)
        .args(["check", "prometheus.yml"])
        .run()
        .expect_code(0)
        .stdout_contains("  remote_write[0].sigv4.secret_key  environment variable FAKE_SECRET  inline\n")
        .stdout_contains(
            "  note: remote_write[0].sigv4.secret_key is inlined into the rendered config (prometheus@2.42.0 has no `_file` sibling for it)\n",
        )
        .stdout_contains(
            "  scrape_configs[job_name=node].basic_auth.password  environment variable FAKE_SECRET  file → password_file\n",
        );
}

/// A field inlined because its map says `render: inline` is said to be, not blamed on the
/// target; `render: file` at a field the target version reads with no `_file` form is a config
/// error (the target would refuse the rendered config), not a render that promtool then rejects.
#[test]
fn forced_render_modes_are_reported_as_asked_and_an_impossible_file_form_is_refused() {
    requires_promtool();
    let inline = "scrape_configs:\n  - job_name: node\n    basic_auth:\n      username: prom\n      \
                  password: {env: {name: FAKE_SECRET, render: inline}}\n";
    Test::new()
        .file("prometheus.yml", inline)
        .args(["check", "prometheus.yml"])
        .run()
        .expect_code(0)
        .stdout_contains("is inlined into the rendered config (its provider map says `render: inline`)");
    let file = "remote_write:\n  - url: https://example.invalid/write\n    sigv4:\n      region: eu-west-1\n      \
                access_key: AKIAFAKE\n      secret_key: {env: {name: FAKE_SECRET, render: file}}\n";
    Test::new().file("prometheus.yml", file).args(["check", "prometheus.yml"]).run().expect_code(3).stderr_contains(
        "remote_write[0].sigv4.secret_key: `render: file`: prometheus@2.42.0 has no `secret_key_file`",
    );
}

#[test]
fn json_format_gives_inline_placement_without_sibling_and_file_placement_with_one() {
    requires_promtool();
    let outcome =
        Test::new().file("prometheus.yml", INLINE_AND_FILE).args(["check", "--format", "json", "prometheus.yml"]).run();
    outcome.expect_code(0);
    let report = json(&outcome);
    let secrets = report["configs"][0]["secrets"].as_array().expect("secrets");
    assert_eq!(secrets.len(), 2, "{report:#}");
    assert_eq!(secrets[0]["path"], "remote_write[0].sigv4.secret_key");
    assert_eq!(secrets[0]["placement"], "inline");
    assert_eq!(secrets[0]["sibling"], serde_json::Value::Null);
    assert_eq!(secrets[1]["path"], "scrape_configs[job_name=node].basic_auth.password");
    assert_eq!(secrets[1]["placement"], "file");
    assert_eq!(secrets[1]["sibling"], "password_file");
}

#[test]
fn github_format_warns_about_each_inlined_field_at_its_line() {
    requires_promtool();
    let outcome = Test::new()
        .file("prometheus.yml", INLINE_AND_FILE)
        .args(["check", "--format", "github", "prometheus.yml"])
        .run();
    outcome.expect_code(0);
    assert_eq!(
        workflow_commands(&outcome),
        [
            "::warning file=prometheus.yml,line=6::remote_write[0].sigv4.secret_key is inlined into the rendered config (prometheus@2.42.0 has no `_file` sibling for it)"
        ],
        "only the inlined field is annotated:\n{}",
        outcome.stdout
    );
}

#[test]
fn json_format_reports_target_secrets_and_validation_per_config() {
    requires_promtool();
    requires_amtool();
    let outcome = Test::new()
        .file("prometheus.yml", UNFETCHABLE)
        .file("alertmanager.yml", ALERTMANAGER)
        .args(["check", "--format", "json", "prometheus.yml", "alertmanager.yml"])
        .run();
    outcome.expect_code(0);
    let report = json(&outcome);
    let configs = report["configs"].as_array().expect("configs");
    assert_eq!(configs.len(), 2, "{report:#}");

    let prometheus = &configs[0];
    assert_eq!(prometheus["file"], "prometheus.yml");
    assert_eq!(prometheus["target"], "prometheus@2.42.0");
    assert_eq!(prometheus["validation"], serde_json::json!({"result": "accepted", "tool": "promtool check config"}));
    let password = &prometheus["secrets"][0];
    assert_eq!(password["path"], "scrape_configs[job_name=node].basic_auth.password");
    assert_eq!(password["line"], 5);
    assert_eq!(password["provider"], "env");
    assert_eq!(password["placement"], "file");
    assert_eq!(password["sibling"], "password_file");
    assert_eq!(password["fetched"], serde_json::Value::Null, "nothing is fetched without --resolve");
    assert_eq!(password["error"], serde_json::Value::Null);
    let credentials = &prometheus["secrets"][1];
    assert_eq!(credentials["line"], 8);
    assert_eq!(credentials["provider"], "file");

    let alertmanager = &configs[1];
    assert_eq!(alertmanager["file"], "alertmanager.yml");
    assert_eq!(alertmanager["target"], "alertmanager@0.25.0");
    assert_eq!(alertmanager["validation"], serde_json::json!({"result": "accepted", "tool": "amtool check-config"}));
    let secrets = alertmanager["secrets"].as_array().expect("secrets");
    assert_eq!(secrets.len(), 2, "{report:#}");
    assert_eq!(secrets[0]["path"], "receivers[name=team].webhook_configs[0].url");
    assert_eq!(secrets[0]["line"], 6);
    assert_eq!(secrets[0]["placement"], "inline");
    assert_eq!(secrets[1]["path"], "receivers[name=team].webhook_configs[0].http_config.authorization.credentials");
    assert_eq!(secrets[1]["sibling"], "credentials_file");
}

#[test]
fn json_format_with_resolve_reports_fetched_and_error_per_secret() {
    requires_promtool();
    let outcome = Test::new()
        .file("prometheus.yml", UNFETCHABLE)
        .file("missing.txt", "fake-credentials")
        .args(["check", "--resolve", "--format", "json", "prometheus.yml"])
        .run();
    outcome.expect_code(4);
    let report = json(&outcome);
    let secrets = report["configs"][0]["secrets"].as_array().expect("secrets");
    assert_eq!(secrets[0]["path"], "scrape_configs[job_name=node].basic_auth.password");
    assert_eq!(secrets[0]["fetched"], false);
    assert_eq!(secrets[0]["error"], "environment variable SR_CHECK_UNSET_VAR not found");
    assert_eq!(secrets[1]["path"], "scrape_configs[job_name=api].authorization.credentials");
    assert_eq!(secrets[1]["fetched"], true);
    assert_eq!(secrets[1]["error"], serde_json::Value::Null);
    assert_eq!(report["configs"][0]["validation"]["result"], "accepted");
}

#[test]
fn github_format_annotates_config_problems_at_their_line_with_exit_3() {
    let config = "scrape_configs:\n  - job_name: node\n    basic_auth: {username: u, password: {env: TOKEN}}\n";
    let outcome = Test::new()
        .file("prometheus.yml", config)
        .file("broken.yml", "a: [1\n")
        .args(["check", "--format", "github", "prometheus.yml", "broken.yml"])
        .run();
    outcome.expect_code(3);
    let commands = workflow_commands(&outcome);
    assert_eq!(commands.len(), 2, "{}", outcome.stdout);
    assert!(
        commands[0].starts_with(
            "::error file=prometheus.yml,line=3::scrape_configs[job_name=node].basic_auth.password: `env` here needs a mapping body"
        ),
        "{}",
        outcome.stdout
    );
    assert!(commands[1].starts_with("::error file=broken.yml::invalid YAML at 2:1"), "{}", outcome.stdout);
}

#[test]
fn github_format_annotates_each_fetch_failure_at_its_line_with_exit_4() {
    requires_promtool();
    let test = Test::new().file("prometheus.yml", UNFETCHABLE).args([
        "check",
        "--resolve",
        "--format",
        "github",
        "prometheus.yml",
    ]);
    let missing = test.path("missing.txt");
    let outcome = test.run();
    outcome.expect_code(4);
    assert_eq!(
        workflow_commands(&outcome),
        [
            "::error file=prometheus.yml,line=5::scrape_configs[job_name=node].basic_auth.password: environment variable SR_CHECK_UNSET_VAR not found".to_owned(),
            format!(
                "::error file=prometheus.yml,line=8::scrape_configs[job_name=api].authorization.credentials: file {} not found",
                missing.display()
            ),
        ],
        "{}",
        outcome.stdout
    );
}

#[test]
fn github_format_escapes_percent_cr_and_lf_in_messages() {
    requires_promtool();
    // A config problem whose message holds the three characters.
    let outcome =
        Test::new().file("prometheus.yml", PROBLEMS).args(["check", "--format", "github", "prometheus.yml"]).run();
    outcome.expect_code(3).stdout_contains("::error file=prometheus.yml,line=5::scrape_configs[job_name=api].authorization.credentials: unknown key `100%25%0D%0Asure` in `file` body");
    // A fetch failure whose message holds them.
    let config = "scrape_configs:\n  - job_name: node\n    basic_auth: {username: u, password: {file: {path: \"100%\\r\\nnot-there\"}}}\n";
    let test =
        Test::new().file("prometheus.yml", config).args(["check", "--resolve", "--format", "github", "prometheus.yml"]);
    let outcome = test.run();
    outcome.expect_code(4).stdout_contains(&format!(
        "::error file=prometheus.yml,line=3::scrape_configs[job_name=node].basic_auth.password: file {}/100%25%0D%0Anot-there not found\n",
        test.path("").display().to_string().trim_end_matches('/')
    ));
    for command in workflow_commands(&outcome) {
        assert!(!command.contains('\r'), "{command:?}");
    }
}

#[test]
fn github_format_escapes_commas_and_colons_in_the_file_property() {
    // Property values are escaped like messages plus `:` and `,` (actions/toolkit `escapeProperty`);
    // otherwise `file=team,prod.yml` ends the file name at the comma.
    let config = "scrape_configs:\n  - job_name: node\n    basic_auth: {username: u, password: {env: TOKEN}}\n";
    let outcome =
        Test::new().file("team,prod:eu.yml", config).args(["check", "--format", "github", "team,prod:eu.yml"]).run();
    outcome.expect_code(3).stdout_contains("::error file=team%2Cprod%3Aeu.yml,line=3::");
}

#[test]
fn config_problems_in_json_format_are_a_problems_list_with_exit_3() {
    let outcome = Test::new()
        .file("prometheus.yml", PROBLEMS)
        .file("broken.yml", "a: [1\n")
        .args(["check", "--format", "json", "prometheus.yml", "broken.yml"])
        .run();
    outcome.expect_code(3);
    let report = json(&outcome);
    let problems = report["problems"].as_array().expect("problems");
    assert_eq!(problems.len(), 3, "{report:#}");
    assert_eq!(problems[0]["file"], "prometheus.yml");
    assert_eq!(problems[0]["line"], 3);
    assert_eq!(problems[0]["path"], "scrape_configs[job_name=node].basic_auth.password");
    assert!(problems[0]["message"].as_str().unwrap().starts_with("`env` here needs a mapping body"), "{report:#}");
    assert_eq!(problems[1]["line"], 5);
    assert_eq!(problems[1]["path"], "scrape_configs[job_name=api].authorization.credentials");
    assert!(problems[1]["message"].as_str().unwrap().starts_with("unknown key `100%\r\nsure`"), "{report:#}");
    assert_eq!(problems[2]["file"], "broken.yml");
    assert_eq!(problems[2]["line"], serde_json::Value::Null);
    assert_eq!(problems[2]["path"], serde_json::Value::Null);
    assert!(problems[2]["message"].as_str().unwrap().starts_with("invalid YAML at 2:1"), "{report:#}");
    assert!(report.get("configs").is_none(), "{report:#}");
}

#[test]
fn the_private_temp_dir_is_removed_after_the_run() {
    requires_promtool();
    let rejected = "global:\n  scrape_interval: banana\nscrape_configs:\n  - job_name: node\n    basic_auth: {username: u, password: {env: {name: FAKE}}}\n";
    for (args, code) in [
        (&["check", "ok.yml"][..], 0),
        (&["check", "rejected.yml"][..], 6),
        (&["check", "--resolve", "unfetchable.yml"][..], 4),
        (&["check", "--format", "json", "ok.yml", "rejected.yml"][..], 6),
    ] {
        let test = Test::new()
            .file("ok.yml", INLINE_AND_FILE)
            .file("rejected.yml", rejected)
            .file("unfetchable.yml", UNFETCHABLE);
        let tmp = test.path("tmp");
        std::fs::create_dir(&tmp).unwrap();
        let test = test.env("TMPDIR", tmp.to_str().unwrap()).args(args.iter().copied());
        let outcome = test.run();
        outcome.expect_code(code);
        if code == 6 {
            // promtool names the rendered copy it checked: it was inside TMPDIR.
            outcome.stdout_contains(&format!("Checking {}/secret-render-check-", tmp.display()));
        }
        let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().map(|entry| entry.unwrap().file_name()).collect();
        assert!(left.is_empty(), "`{}` left {left:?} in TMPDIR", args.join(" "));
    }
}

#[test]
fn resolve_never_prints_a_secret_value_in_any_format() {
    requires_promtool();
    let config = concat!(
        "scrape_configs:\n",
        "  - job_name: node\n",
        "    basic_auth: {username: u, password: {file: {path: pw}}}\n",
        "  - job_name: api\n",
        "    authorization: {credentials: {env: {name: CANARY_VAR}}}\n",
        "  - job_name: db\n",
        "    basic_auth: {username: u, password: {file: {path: creds.json, key: pasword}}}\n",
        "remote_write:\n",
        "  - url: https://example.invalid/write\n",
        "    sigv4: {region: eu-west-1, access_key: AKIAFAKEEXAMPLE, secret_key: {env: {name: CANARY_VAR}}}\n",
    );
    let creds = format!("{{\"password\": \"{CANARY}\", \"user\": \"{CANARY}\"}}");
    for format in ["human", "json", "github"] {
        let test = Test::new()
            .file("prometheus.yml", config)
            .file("pw", CANARY)
            .file("creds.json", &creds)
            .env("CANARY_VAR", CANARY)
            .args(["-vv", "check", "--resolve", "--format", format, "prometheus.yml"]);
        // The misspelt key fails the fetch; its error names the keys, never their values.
        test.run().expect_code(4).never_shows(CANARY).stdout_contains("password, user");
    }
}

#[test]
fn a_web_config_with_a_basic_auth_users_provider_map_passes_promtool_web_config() {
    requires_promtool();
    let config =
        "basic_auth_users:\n  admin: {env: {name: FAKE_ADMIN_HASH}}\n  viewer: {file: {path: viewer.bcrypt}}\n";
    let outcome = Test::new().file("web.yml", config).args(["check", "--format", "json", "web.yml"]).run();
    outcome.expect_code(0);
    let report = json(&outcome);
    assert_eq!(
        report["configs"][0]["validation"],
        serde_json::json!({"result": "accepted", "tool": "promtool check web-config"}),
        "{report:#}"
    );
    for secret in report["configs"][0]["secrets"].as_array().unwrap() {
        assert_eq!(secret["placement"], "inline", "{report:#}");
    }
}

#[test]
fn an_alertmanager_config_is_detected_from_its_shape_and_checked_with_amtool() {
    requires_amtool();
    Test::new()
        .file("alertmanager.yml", ALERTMANAGER)
        .args(["check", "alertmanager.yml"])
        .run()
        .expect_code(0)
        .stdout_contains("alertmanager.yml (alertmanager@0.25.0): 2 secret(s)")
        .stdout_contains("amtool check-config: accepted");
}

#[test]
fn target_alertmanager_decides_the_tool_and_siblings_where_the_shape_does_not() {
    requires_promtool();
    requires_amtool();
    // Only `global` SMTP settings: nothing in the shape says Alertmanager.
    let config = concat!(
        "global:\n",
        "  smtp_smarthost: 'smtp.example.invalid:587'\n",
        "  smtp_from: alertmanager@example.invalid\n",
        "  smtp_auth_password: {env: {name: FAKE_SMTP}}\n",
        "route: {receiver: team}\n",
        "receivers: [{name: team}]\n",
    );
    let detected = Test::new().file("a.yml", config).args(["check", "--format", "json", "a.yml"]).run();
    detected.expect_code(0);
    let detected_report = json(&detected);
    assert_eq!(detected_report["configs"][0]["target"], "alertmanager@0.25.0", "{detected_report:#}");
    // Without route/receivers, only --target says what it is.
    let global_only = config.split("route:").next().unwrap();
    let guessed = Test::new().file("a.yml", global_only).args(["check", "--format", "json", "a.yml"]).run();
    let guessed_report = json(&guessed);
    assert_eq!(guessed_report["configs"][0]["target"], "prometheus@2.42.0", "{guessed_report:#}");
    assert_eq!(guessed_report["configs"][0]["validation"]["tool"], "promtool check config");
    let forced = Test::new()
        .file("a.yml", global_only)
        .args(["--target", "alertmanager@0.25", "check", "--format", "json", "a.yml"])
        .run();
    let forced_report = json(&forced);
    let only = &forced_report["configs"][0];
    assert_eq!(only["target"], "alertmanager@0.25.0", "{forced_report:#}");
    assert_eq!(only["validation"]["tool"], "amtool check-config", "{forced_report:#}");
    assert_eq!(only["secrets"][0]["sibling"], "smtp_auth_password_file", "{forced_report:#}");
    // amtool needs a route: rejected, exit 6.
    forced.expect_code(6);
    assert!(only["validation"]["output"].as_str().unwrap().contains("no routes provided"), "{forced_report:#}");
}

/// `TMPDIR`'s private scratch directory in promtool's output (its random name replaced by
/// `SCRATCH`), so a message naming the rendered copy can be compared whole.
fn mask_scratch_dir(text: &str, tmp: &std::path::Path) -> String {
    let prefix = format!("{}/secret-render-check-", tmp.display());
    let mut masked = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(&prefix) {
        masked.push_str(&rest[..start]);
        masked.push_str(&format!("{}/SCRATCH", tmp.display()));
        let after = &rest[start + prefix.len()..];
        rest = &after[after.find('/').unwrap_or(after.len())..];
    }
    masked.push_str(rest);
    masked
}

/// In `--format github`, a config promtool rejects (exit 6) gets one `::error` annotation on the
/// file, without a line, carrying promtool's whole output with its newlines escaped; fails if the
/// annotation is missing, has a line, or its message is not exactly that.
#[test]
fn github_format_annotates_a_config_promtool_rejects_with_its_output_and_exit_6() {
    requires_promtool();
    let config = "global:\n  scrape_interval: banana\nscrape_configs:\n  - job_name: node\n    basic_auth: {username: u, password: {env: {name: FAKE}}}\n";
    let test = Test::new().file("prometheus.yml", config);
    let tmp = test.path("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let test = test.env("TMPDIR", tmp.to_str().unwrap()).args(["check", "--format", "github", "prometheus.yml"]);
    let outcome = test.run();
    outcome.expect_code(6);
    let commands: Vec<String> =
        workflow_commands(&outcome).into_iter().map(|command| mask_scratch_dir(command, &tmp)).collect();
    let rendered = format!("{}/SCRATCH/out/prometheus.yml", tmp.display());
    assert_eq!(
        commands,
        [format!(
            "::error file=prometheus.yml::promtool check config rejected the rendered config: Checking {rendered}%0A%0A  FAILED: parsing YAML file {rendered}: not a valid duration string: \"banana\""
        )],
        "{}",
        outcome.stdout
    );
}

/// A directory holding nothing, to be the whole `PATH` of a run: no `promtool`, no `amtool`.
fn empty_path(test: &Test) -> String {
    let empty = test.path("empty-bin");
    std::fs::create_dir(&empty).unwrap();
    empty.to_str().unwrap().to_owned()
}

/// Without `promtool` on `PATH` the human report says validation was skipped and why, and the
/// check still passes (exit 0); fails if a missing tool becomes an error or goes unmentioned.
#[test]
fn without_promtool_on_path_validation_is_skipped_not_failed() {
    let test = Test::new().file("prometheus.yml", INLINE_AND_FILE);
    let path = empty_path(&test);
    let outcome = test.env("PATH", &path).args(["check", "prometheus.yml"]).run();
    outcome
        .expect_code(0)
        .stdout_contains("prometheus.yml (prometheus@2.42.0): 2 secret(s)\n")
        .stdout_contains("  validation skipped: promtool is not on PATH\n");
    assert!(
        !outcome.stdout.contains(": accepted") && !outcome.stdout.contains("REJECTED"),
        "no tool ran, so none can have judged:\n{}",
        outcome.stdout
    );
}

/// In `--format json`, a config whose tool is not on `PATH` has `validation` `{"result":
/// "skipped", "reason": "<tool> is not on PATH"}`, for promtool and amtool alike, with exit 0;
/// fails if the shape changes or a missing tool fails the check.
#[test]
fn json_format_reports_validation_skipped_when_the_tool_is_not_on_path() {
    let test = Test::new().file("prometheus.yml", INLINE_AND_FILE).file("alertmanager.yml", ALERTMANAGER);
    let path = empty_path(&test);
    let outcome =
        test.env("PATH", &path).args(["check", "--format", "json", "prometheus.yml", "alertmanager.yml"]).run();
    outcome.expect_code(0);
    let report = json(&outcome);
    assert_eq!(
        report["configs"][0]["validation"],
        serde_json::json!({"result": "skipped", "reason": "promtool is not on PATH"}),
        "{report:#}"
    );
    assert_eq!(
        report["configs"][1]["validation"],
        serde_json::json!({"result": "skipped", "reason": "amtool is not on PATH"}),
        "{report:#}"
    );
}

/// With `--resolve` and every secret present, the human table ends each secret's line with
/// `fetched` (and the check passes); fails if the marker is dropped, reworded or misplaced.
#[test]
fn resolve_marks_each_fetched_secret_in_the_human_table() {
    requires_promtool();
    let config = concat!(
        "scrape_configs:\n",
        "  - job_name: node\n",
        "    basic_auth:\n",
        "      username: prom\n",
        "      password: {env: {name: SR_CHECK_FAKE_PASSWORD}}\n",
        "  - job_name: api\n",
        "    authorization: {credentials: {file: {path: token.txt}}}\n",
    );
    let test = Test::new()
        .file("prometheus.yml", config)
        .file("token.txt", "fake-token")
        .env("SR_CHECK_FAKE_PASSWORD", "fake-password")
        .args(["check", "--resolve", "prometheus.yml"]);
    let token = test.path("token.txt");
    let outcome = test.run();
    outcome.expect_code(0).stdout_contains("promtool check config: accepted");
    let secret_lines: Vec<&str> = outcome.stdout.lines().filter(|line| line.starts_with("  scrape_configs")).collect();
    assert_eq!(
        secret_lines,
        [
            "  scrape_configs[job_name=node].basic_auth.password  environment variable SR_CHECK_FAKE_PASSWORD  file → password_file  fetched".to_owned(),
            format!(
                "  scrape_configs[job_name=api].authorization.credentials  file {}  file → credentials_file  fetched",
                token.display()
            ),
        ],
        "{}",
        outcome.stdout
    );
}

/// A misspelt provider, and a body whose keys were written level with its provider, at fields
/// Prometheus reads as secret strings: both used to pass through as data (exit 0) for Prometheus
/// to refuse later (`cannot unmarshal !!map into config.plain`). Ordinary data beside them, and
/// the same config under `--target generic` (which knows no secret fields), stay data.
#[test]
fn a_mapping_at_a_secret_field_that_is_not_a_provider_map_is_a_config_error() {
    let config = concat!(
        "scrape_configs:\n",
        "  - job_name: node\n",
        "    basic_auth:\n",
        "      username: prom\n",
        "      password: {vualt: {path: prom/node, key: password}}\n",
        "  - job_name: api\n",
        "    basic_auth:\n",
        "      username: prom\n",
        "      password:\n",
        "        file:\n",
        "        path: pw\n",
        "    static_configs: [{targets: [a], labels: {file: null, x: y}}]\n",
    );
    let test = Test::new().file("prometheus.yml", config);
    test.run_with(&["check", "prometheus.yml"])
        .expect_code(3)
        .stderr_contains("(2 problems)")
        .stderr_contains(
            "prometheus.yml:5: scrape_configs[job_name=node].basic_auth.password: unknown provider `vualt` (did you mean `vault`?)",
        )
        .stderr_contains(
            "prometheus.yml:10: scrape_configs[job_name=api].basic_auth.password: `file` has no body; indent its keys (`path`) under `file:`",
        );
    test.run_with(&["--target", "generic", "check", "prometheus.yml"]).expect_code(0);
}

/// A secret still written inline at a secret field is warned about at its line in every format
/// (`check` is where CI catches one), and kept out of the tool's output: amtool quotes a
/// webhook URL it rejects, token and all, and `check` used to print that into the CI log.
#[test]
fn an_inline_secret_is_warned_about_and_redacted_from_the_tools_output() {
    requires_amtool();
    let config = "route:\n  receiver: team\nreceivers:\n  - name: team\n    webhook_configs:\n      \
                  - url: 'https://oncall .example/hook?token=inline-token-fake'\n";
    let test = Test::new().file("alertmanager.yml", config);
    let github = test.run_with(&["check", "--format", "github", "alertmanager.yml"]);
    github.expect_code(6).stdout_contains("parse \"<redacted>\"").never_shows("inline-token-fake");
    assert!(
        workflow_commands(&github).contains(
            &"::warning file=alertmanager.yml,line=6::receivers[name=team].webhook_configs[0].url holds a secret \
              written inline: move it into a store with `secret-render extract`"
        ),
        "{}",
        github.stdout
    );
    let human = test.run_with(&["check", "alertmanager.yml"]);
    human
        .expect_code(6)
        .stdout_contains(
            "  warning: receivers[name=team].webhook_configs[0].url (line 6) holds a secret written inline",
        )
        .never_shows("inline-token-fake");
    let json = test.run_with(&["check", "--format", "json", "alertmanager.yml"]);
    json.expect_code(6).never_shows("inline-token-fake");
    assert_eq!(
        crate::check::json(&json)["configs"][0]["inline_secrets"],
        serde_json::json!([{"path": "receivers[name=team].webhook_configs[0].url", "line": 6}])
    );
}

/// A store whose definition is broken does not hide the configs' own problems: every one is
/// listed at once, and a map naming the broken store is not also called one naming an undefined
/// store. The configs used to be left unchecked until the store was fixed.
#[test]
fn a_broken_store_does_not_hide_the_configs_problems() {
    let config = "scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password: {vault: {store: broken, path: x}}}\n  \
                  - job_name: b\n    basic_auth: {username: u, password: {file: {path: x, colour: blue}}}\n";
    let test = Test::new().file("stores.yml", "secret_stores:\n  broken: {nope: {}}\n").file("prometheus.yml", config);
    test.run_with(&["--stores", "stores.yml", "check", "prometheus.yml"])
        .expect_code(3)
        .stderr_contains("(2 problems)")
        .stderr_contains("secret_stores.broken: unknown provider `nope`")
        .stderr_contains("scrape_configs[job_name=b].basic_auth.password: unknown key `colour`");

    // A map naming no store is not matched to the one good store of a provider that has a
    // broken one too: fixing it would make the map ambiguous, so that is said now.
    let stores = "secret_stores:\n  good: {vault: {address: 'http://127.0.0.1:8200'}}\n  \
                  bad: {vault: {address: 'http://127.0.0.1:8200', colour: blue}}\n";
    let config =
        "scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password: {vault: {path: x, key: y}}}\n";
    let test = Test::new().file("stores.yml", stores).file("prometheus.yml", config);
    test.run_with(&["--stores", "stores.yml", "check", "prometheus.yml"])
        .expect_code(3)
        .stderr_contains("there are several `vault` stores (bad, good): name one with `store:`");
}

/// A web config whose TLS key comes from a store cannot be checked with a placeholder key
/// (promtool loads the certificate and key as a pair): validation is skipped, saying so and what
/// to run instead, not failed with exit 6 on a valid config.
#[test]
fn a_web_config_with_its_tls_key_from_a_store_is_not_failed_on_the_placeholder() {
    requires_promtool();
    let config = "tls_server_config:\n  cert_file: web.crt\n  key: {file: {path: web.key}}\n";
    Test::new()
        .file("web.yml", config)
        .run_with(&["check", "web.yml"])
        .expect_code(0)
        .stdout_contains("validation skipped: promtool check web-config loads the TLS certificate and key");
}

/// A provider map at a URL field the table does not list as a secret (PagerDuty's API `url`)
/// gets a URL placeholder: text there made amtool refuse a valid config (exit 6).
#[test]
fn a_provider_map_at_any_url_field_gets_a_url_placeholder() {
    requires_amtool();
    let config = "route:\n  receiver: team\nreceivers:\n  - name: team\n    pagerduty_configs:\n      \
                  - routing_key: {env: {name: PD_KEY}}\n        url: {env: {name: PD_URL}}\n";
    Test::new().file("alertmanager.yml", config).run_with(&["check", "alertmanager.yml"]).expect_code(0);
}

/// A value amtool shows escaped (Go's `%q`: a `"` as `\"`, a tab as `\t`) is redacted in that
/// form too: only the value as written was, and the escaped one reached the CI log.
#[test]
fn an_inline_secret_the_tool_shows_escaped_is_redacted_too() {
    requires_amtool();
    let config = "route:\n  receiver: team\nreceivers:\n  - name: team\n    webhook_configs:\n      \
                  - url: \"http://h/tok\\\"quoted-canary\\tx%zz\"\n";
    let test = Test::new().file("alertmanager.yml", config);
    for format in ["human", "github", "json"] {
        let outcome = test.run_with(&["check", "--format", format, "alertmanager.yml"]);
        outcome.expect_code(6).never_shows("quoted-canary");
    }
}

/// A password holding a `/` ends a URL's host early, and amtool quotes the piece it takes for
/// a port: that piece is redacted too, not only the whole value.
#[test]
fn a_piece_of_an_inline_url_the_tool_quotes_is_redacted_too() {
    requires_amtool();
    let config = "route:\n  receiver: team\nreceivers:\n  - name: team\n    webhook_configs:\n      \
                  - url: 'https://alert:p4ss/xyz@hooks.example.com/notify'\n";
    let test = Test::new().file("alertmanager.yml", config);
    for format in ["human", "github", "json"] {
        let outcome = test.run_with(&["check", "--format", format, "alertmanager.yml"]);
        outcome.expect_code(6).never_shows("p4ss");
        // The user name is no secret: not blanked out of the rest of what the tool says (the
        // file's name, `alertmanager.yml`, holds `alert`).
        assert!(outcome.stdout.contains("alertmanager.yml"), "{}", outcome.stdout);
    }
}

/// In `--format github`, a tool missing from the CI image is a warning annotation, not a plain
/// line a passing job hides; a generic config, which no tool validates, is not warned about.
#[test]
fn github_format_warns_when_the_tool_is_missing() {
    let test = Test::new().file("prometheus.yml", INLINE_AND_FILE);
    let path = empty_path(&test);
    let outcome = test.env("PATH", &path).args(["check", "--format", "github", "prometheus.yml"]).run();
    outcome
        .expect_code(0)
        .stdout_contains("::warning file=prometheus.yml::validation skipped: promtool is not on PATH\n");
    let generic = Test::new().file("app.yml", "token: {env: {name: FAKE_TOKEN}}\n");
    generic
        .run_with(&["--target", "generic", "check", "--format", "github", "app.yml"])
        .expect_code(0)
        .stdout_contains("app.yml: validation skipped: no validator for generic configs\n");
}

/// A named store of a provider that has none (`file`, `env`, `exec`) says so; it used to say
/// such stores were "not available in this build", as if a feature were missing.
#[test]
fn a_store_of_a_provider_without_stores_says_it_has_none() {
    let config = "secret_stores:\n  local:\n    file: {}\nscrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password: {file: {path: pw}}}\n";
    Test::new().file("prometheus.yml", config).args(["check", "prometheus.yml"]).run().expect_code(3).stderr_contains(
        "prometheus.yml:3: secret_stores.local: `file` has no stores: its provider maps say everything it needs",
    );
}
