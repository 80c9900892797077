//! `secret-render render`: what lands on disk (files, modes, bytes, rewritten fields), what real
//! Prometheus and Alertmanager make of it, and every documented failure with its exit code.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use crate::support::{
    ALERTMANAGER_INSTALL, CANARY, PROMETHEUS_INSTALL, Server, Test, loaded_config, mode_of, read, repo, require,
};

const BASIC_AUTH_JOB: &str = "scrape_configs:\n  - job_name: node\n    basic_auth:\n      username: prom\n      password:\n        file: {path: pw}\n    static_configs:\n      - targets: ['127.0.0.1:9100']\n";

/// The secret file a rendered config names under `field` (e.g. `password_file`).
fn named_file(rendered: &str, field: &str) -> String {
    let line = rendered
        .lines()
        .find(|line| line.trim_start().starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in\n{rendered}"));
    line.split_once(": ").unwrap().1.trim_matches('"').to_owned()
}

#[test]
fn renders_the_shipped_example_and_the_real_tools_accept_it() {
    let promtool = require("promtool", PROMETHEUS_INSTALL);
    let amtool = require("amtool", ALERTMANAGER_INSTALL);
    let test = Test::new().env("EXAMPLE_API_TOKEN", "example-token").args(["render", "--out", "out"]).args([
        repo().join("testdata/prometheus/prometheus.yml"),
        repo().join("testdata/prometheus/web.yml"),
        repo().join("testdata/alertmanager/alertmanager.yml"),
    ]);
    let outcome = test.run();
    outcome.expect_code(0);
    let printed: Vec<&str> = outcome.stdout.lines().collect();
    let out = test.path("out");
    assert_eq!(
        printed,
        [out.join("prometheus.yml"), out.join("web.yml"), out.join("alertmanager.yml")]
            .map(|p| p.display().to_string())
    );
    for (tool, args, config) in [
        (&promtool, &["check", "config"][..], "prometheus.yml"),
        (&promtool, &["check", "web-config"][..], "web.yml"),
        (&amtool, &["check-config"][..], "alertmanager.yml"),
    ] {
        let status = std::process::Command::new(tool).args(args).arg(out.join(config)).output().unwrap();
        assert!(
            status.status.success(),
            "{} rejected {config}: {}",
            tool.display(),
            String::from_utf8_lossy(&status.stdout)
        );
    }
}

#[test]
fn a_real_prometheus_loads_the_rendered_config_and_reads_the_secret_file() {
    let test = Test::new().file("prometheus.yml", BASIC_AUTH_JOB).file("pw", CANARY).args([
        "render",
        "prometheus.yml",
        "--out",
        "out",
    ]);
    test.run().expect_code(0);
    let rendered = test.path("out/prometheus.yml");
    let server = Server::prometheus(&rendered, &[]);
    let loaded = loaded_config(&server);
    let secret_file = named_file(&read(&rendered), "password_file");
    assert!(loaded.contains(&format!("password_file: {secret_file}")), "Prometheus loaded:\n{loaded}");
    assert!(!loaded.contains(CANARY));
    assert_eq!(read(Path::new(&secret_file)), CANARY);
}

#[test]
fn secret_files_hold_the_exact_bytes_with_mode_0600_in_a_0700_dir() {
    let value = "line one\nline two with trailing spaces  ";
    let test = Test::new().file("prometheus.yml", BASIC_AUTH_JOB).file("pw", value).args([
        "render",
        "prometheus.yml",
        "--out",
        "deep/out",
    ]);
    test.run().expect_code(0);
    let rendered = test.path("deep/out/prometheus.yml");
    let secret = named_file(&read(&rendered), "password_file");
    assert_eq!(std::fs::read(&secret).unwrap(), value.as_bytes(), "byte for byte, no newline added");
    assert_eq!(mode_of(Path::new(&secret)), 0o600);
    assert_eq!(mode_of(&rendered), 0o600);
    assert_eq!(mode_of(&test.path("deep/out")), 0o700);
    assert_eq!(mode_of(&test.path("deep/out/secrets")), 0o700);
    assert!(Path::new(&secret).file_name().unwrap().to_str().unwrap().starts_with("node.basic_auth.password-"));
}

/// A field taken out of a config does not leave its value behind: rendering it again removes
/// the secret file its last rendering named and the new one does not. Another config's files in
/// the same out dir are not touched.
#[test]
fn a_field_taken_out_of_the_config_leaves_no_secret_file_behind() {
    let two_jobs = "scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password: {file: {path: pw}}}\n  \
                    - job_name: b\n    basic_auth: {username: u, password: {file: {path: pw}}}\n";
    let test = Test::new()
        .file("prometheus.yml", two_jobs)
        .file(
            "other/prometheus-b.yml",
            "scrape_configs:\n  - job_name: c\n    basic_auth: {username: u, password: {file: {path: ../pw}}}\n",
        )
        .file("pw", "kept-or-removed-fake");
    test.run_with(&["render", "prometheus.yml", "other/prometheus-b.yml", "--out", "out"]).expect_code(0);
    let secrets = |name: &str| {
        let rendered = read(&test.path(&format!("out/{name}")));
        rendered
            .lines()
            .filter_map(|line| line.split_once("password_file: "))
            .map(|(_, path)| path.trim_matches('"').to_owned())
            .collect::<Vec<_>>()
    };
    let (before, other) = (secrets("prometheus.yml"), secrets("prometheus-b.yml"));
    assert_eq!(before.len(), 2);

    // The previous value a `watch` kept beside b's file for its grace period goes with it.
    let previous = format!("{}.previous", before[1]);
    std::fs::write(&previous, "previous-fake").unwrap();
    std::fs::write(test.path("prometheus.yml"), two_jobs.split("  - job_name: b").next().unwrap()).unwrap();
    let outcome = test.run_with(&["render", "prometheus.yml", "--out", "out"]);
    outcome.expect_code(0).stderr_contains("removed a secret file no field names now");
    let after = secrets("prometheus.yml");
    assert_eq!(after, before[..1]);
    assert!(Path::new(&before[0]).is_file());
    assert!(!Path::new(&before[1]).exists(), "the removed field's secret file stays");
    assert!(!Path::new(&previous).exists(), "the removed field's previous value stays");
    assert!(Path::new(&other[0]).is_file(), "another config's secret file was removed");
}

#[test]
fn the_same_field_keeps_the_same_file_across_runs() {
    let test = Test::new().file("prometheus.yml", BASIC_AUTH_JOB).file("pw", "one").args([
        "render",
        "prometheus.yml",
        "--out",
        "out",
    ]);
    test.run().expect_code(0);
    let first = read(&test.path("out/prometheus.yml"));
    let test = test.file("pw", "two");
    test.run().expect_code(0);
    let second = read(&test.path("out/prometheus.yml"));
    assert_eq!(first, second, "a rotation changes a file's content, not the rendered config");
    assert_eq!(read(Path::new(&named_file(&second, "password_file"))), "two");
}

#[test]
fn fields_without_a_sibling_are_inlined_and_those_with_one_are_not() {
    let config = concat!(
        "remote_write:\n",
        "  - url: https://example.invalid/write\n",
        "    sigv4:\n",
        "      region: eu-west-1\n",
        "      access_key: AKIAEXAMPLE\n",
        "      secret_key: {env: {name: SECRET}}\n",
        "scrape_configs:\n",
        "  - job_name: a\n",
        "    basic_auth: {username: u, password: {env: {name: SECRET}}}\n",
    );
    let test = Test::new().file("prometheus.yml", config).env("SECRET", "s3cr#t: 'yes'").args([
        "render",
        "prometheus.yml",
        "--out",
        "out",
    ]);
    test.run().expect_code(0);
    let rendered = read(&test.path("out/prometheus.yml"));
    assert!(rendered.contains("      secret_key: \"s3cr#t: 'yes'\"\n"), "{rendered}");
    assert!(rendered.contains("password_file: "), "{rendered}");
    assert!(!rendered.contains("password:"), "{rendered}");
    promtool_accepts(&test.path("out/prometheus.yml"));
}

/// Fails unless `promtool check config` accepts the rendered config at `path`.
fn promtool_accepts(path: &Path) {
    let promtool = require("promtool", PROMETHEUS_INSTALL);
    let check = std::process::Command::new(promtool).args(["check", "config"]).arg(path).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
}

#[test]
fn render_options_in_the_body_force_file_or_inline() {
    let config = "scrape_configs:\n  - job_name: a\n    basic_auth:\n      username: u\n      password: {file: {path: pw, render: inline}}\n    static_configs: [{targets: ['x:1']}]\n";
    let test =
        Test::new().file("prometheus.yml", config).file("pw", "v").args(["render", "prometheus.yml", "--out", "out"]);
    test.run().expect_code(0);
    assert!(read(&test.path("out/prometheus.yml")).contains("      password: \"v\"\n"));
    let generic = "app:\n  token: {file: {path: pw, render: file}}\n  other: {file: {path: pw}}\n";
    let test = Test::new()
        .file("app.yml", generic)
        .file("pw", "v")
        .args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    test.run().expect_code(0);
    let rendered = read(&test.path("out/app.yml"));
    assert!(rendered.contains("  token_file: \""), "{rendered}");
    assert!(rendered.contains("  other: \"v\"\n"), "{rendered}");
}

#[test]
fn relative_paths_are_made_absolute_against_the_config_directory() {
    let config = "rule_files: ['rules/*.yml']\nscrape_configs:\n  - job_name: a\n    tls_config: {ca_file: ca.pem}\n    file_sd_configs: [{files: [targets/*.json]}]\n";
    let test = Test::new().file("etc/prometheus.yml", config).args(["render", "etc/prometheus.yml", "--out", "out"]);
    test.run().expect_code(0);
    let rendered = read(&test.path("out/prometheus.yml"));
    let etc = test.path("etc");
    for expected in [etc.join("rules/*.yml"), etc.join("ca.pem"), etc.join("targets/*.json")] {
        assert!(
            rendered.contains(&format!("\"{}\"", expected.display())),
            "{} missing in\n{rendered}",
            expected.display()
        );
    }
}

/// `exec` answers one value per id: a `key` could never be found, so it is a config error
/// (it used to pass `check` and fail every fetch with "no key").
#[test]
fn an_exec_map_with_a_key_is_a_config_error() {
    let config = "a: {exec: {command: [/bin/true], id: db, key: user}}\n";
    let test = Test::new().file("app.yml", config).args(["--target", "generic", "check", "app.yml"]);
    test.run().expect_code(3).stderr_contains("`exec` takes no `key`");
}

/// A secret field reached through a YAML merge key (`basic_auth: {<<: *common, username: b}`,
/// which Prometheus merges) is a secret field like any: written to a file, not inlined, and
/// promtool accepts the result. `<<` used to count as a level, so the field matched nothing.
#[test]
fn a_secret_field_under_a_merge_key_is_written_to_a_file() {
    let config = "scrape_configs:\n  - job_name: a\n    basic_auth: &common {username: u, password: {file: {path: pw}}}\n  \
                  - job_name: b\n    basic_auth: {<<: *common, username: b}\n";
    let test = Test::new().file("prometheus.yml", config).file("pw", "merged-password-fake").args([
        "render",
        "prometheus.yml",
        "--out",
        "out",
    ]);
    test.run().expect_code(0);
    let rendered = read(&test.path("out/prometheus.yml"));
    assert_eq!(rendered.matches("password_file: ").count(), 2, "{rendered}");
    assert!(!rendered.contains("merged-password-fake"), "the value was inlined");
    promtool_accepts(&test.path("out/prometheus.yml"));
}

/// A label, header or parameter the user named `…_file` is data, not a path: its value is
/// left as written (it used to be joined to the config's directory, changing every series'
/// labels).
#[test]
fn keys_the_user_names_are_never_taken_for_relative_paths() {
    let config = "global:\n  external_labels: {config_file: prod.yml}\nscrape_configs:\n  - job_name: a\n    \
                  static_configs: [{targets: ['h:9100'], labels: {source_file: inventory.csv}}]\n    \
                  tls_config: {ca_file: ca.pem}\n";
    let test = Test::new().file("etc/prometheus.yml", config).args(["render", "etc/prometheus.yml", "--out", "out"]);
    test.run().expect_code(0);
    let rendered = read(&test.path("out/prometheus.yml"));
    assert!(
        rendered.contains("config_file: prod.yml") && rendered.contains("source_file: inventory.csv"),
        "{rendered}"
    );
    assert!(rendered.contains(&format!("\"{}\"", test.path("etc/ca.pem").display())), "{rendered}");
}

#[test]
fn secret_stores_and_literal_tags_are_dropped_from_the_output() {
    let config = "secret_stores: {}\nglobal:\n  external_labels: !literal {env: {name: not-a-secret}}\n";
    let test = Test::new().file("prometheus.yml", config).args(["render", "prometheus.yml", "--out", "out"]);
    test.run().expect_code(0);
    assert_eq!(
        read(&test.path("out/prometheus.yml")),
        "global:\n  external_labels:\n    env:\n      name: not-a-secret\n"
    );
}

#[test]
fn every_config_error_is_reported_at_once_with_its_yaml_path_and_exit_3() {
    let config = concat!(
        "scrape_configs:\n",
        "  - job_name: node\n",
        "    basic_auth: {username: u, password: {env: TOKEN}}\n",
        "  - job_name: api\n",
        "    authorization: {credentials: {file: {path: x, colour: blue}}}\n",
        "  - job_name: db\n",
        "    basic_auth: {username: u, password: {file: {path: x}, note: y}}\n",
    );
    let test = Test::new().file("prometheus.yml", config).file("other.yml", "a: [1\n").args([
        "render",
        "prometheus.yml",
        "other.yml",
        "--out",
        "out",
    ]);
    let outcome = test.run();
    outcome
        .expect_code(3)
        .stderr_contains("(4 problems)")
        .stderr_contains(
            "prometheus.yml:3: scrape_configs[job_name=node].basic_auth.password: `env` here needs a mapping body",
        )
        .stderr_contains(
            "prometheus.yml:5: scrape_configs[job_name=api].authorization.credentials: unknown key `colour`",
        )
        .stderr_contains(
            "prometheus.yml:7: scrape_configs[job_name=db].basic_auth.password: a provider map has exactly one key",
        )
        .stderr_contains("other.yml: invalid YAML at 2:1");
    assert!(!test.path("out").exists(), "nothing is written for an invalid config");
}

/// A `refresh_interval` under a second (`0` meaning "never", say) is a config error at its YAML
/// path, on a store as in a provider map: the schedule would fetch every second.
#[test]
fn a_refresh_interval_under_a_second_is_a_config_error() {
    on_a_store_and_in_a_map_a_config_error(
        "refresh_interval: 0",
        "a: {file: {path: pw, refresh_interval: 500ms}}\n",
        "`refresh_interval` must be at least 1s",
    );
}

/// A zero `timeout` would fail every request at once: it is a config error at its YAML path,
/// on a store as in a provider map.
#[test]
fn a_zero_timeout_is_a_config_error() {
    on_a_store_and_in_a_map_a_config_error(
        "timeout: 0s",
        "a: {exec: {command: [\"true\"], timeout: \"0\"}}\n",
        "`timeout` must be more than 0",
    );
}

/// Renders a config whose Vault store `prod` has the setting `store_setting`, and one that is
/// `in_a_map`: each exits 3 with `problem` at its line and YAML path.
fn on_a_store_and_in_a_map_a_config_error(store_setting: &str, in_a_map: &str, problem: &str) {
    let on_a_store = format!(
        "secret_stores:\n  prod: {{vault: {{address: \"http://127.0.0.1:1\", {store_setting}}}}}\n\
         b: {{vault: {{store: prod, path: x, key: y}}}}\n"
    );
    for (config, shown) in [(on_a_store.as_str(), "app.yml:2: secret_stores.prod"), (in_a_map, "app.yml:1: a")] {
        let test = Test::new()
            .file("app.yml", config)
            .file("pw", "fake")
            .args(["--target", "generic", "render", "app.yml", "--out", "out"]);
        test.run().expect_code(3).stderr_contains(shown).stderr_contains(problem);
    }
}

#[test]
fn several_yaml_documents_in_one_file_are_refused() {
    let test = Test::new().file("prometheus.yml", "global: {}\n---\nglobal: {}\n").args([
        "render",
        "prometheus.yml",
        "--out",
        "out",
    ]);
    test.run().expect_code(3).stderr_contains("several YAML documents");
}

#[test]
fn every_fetch_failure_is_listed_with_exit_4_and_earlier_output_survives() {
    let test = Test::new().file("prometheus.yml", BASIC_AUTH_JOB).file("pw", "good").args([
        "render",
        "prometheus.yml",
        "--out",
        "out",
    ]);
    test.run().expect_code(0);
    let before = read(&test.path("out/prometheus.yml"));
    let broken = format!(
        "{BASIC_AUTH_JOB}  - job_name: b\n    authorization: {{credentials: {{env: {{name: MISSING_ONE}}}}}}\n  - job_name: c\n    authorization: {{credentials: {{file: {{path: missing.json, key: k}}}}}}\n"
    );
    let test = test.file("prometheus.yml", &broken);
    test.run()
        .expect_code(4)
        .stderr_contains("(2 problems)")
        .stderr_contains(
            "scrape_configs[job_name=b].authorization.credentials: env: environment variable MISSING_ONE not found",
        )
        .stderr_contains("scrape_configs[job_name=c].authorization.credentials: file: file ");
    assert_eq!(read(&test.path("out/prometheus.yml")), before, "the last good output stays in place");
    assert_eq!(read(Path::new(&named_file(&before, "password_file"))), "good");
}

#[test]
fn a_missing_key_lists_the_available_key_names_but_no_values() {
    let test = Test::new()
        .file("prometheus.yml", "scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password: {file: {path: creds.json, key: pasword}}}\n")
        .file("creds.json", &format!("{{\"password\": \"{CANARY}\", \"user\": \"{CANARY}\"}}"))
        .args(["render", "prometheus.yml", "--out", "out"]);
    test.run().expect_code(4).stderr_contains("has no key \"pasword\" (available keys: password, user)");
}

#[test]
fn a_symlinked_out_dir_is_refused_with_exit_5() {
    let test = Test::new().file("prometheus.yml", BASIC_AUTH_JOB).file("pw", "v").file("elsewhere/keep", "").args([
        "render",
        "prometheus.yml",
        "--out",
        "out",
    ]);
    symlink(test.path("elsewhere"), test.path("out")).unwrap();
    test.run().expect_code(5).stderr_contains("symbolic link");
    assert!(!test.path("elsewhere/prometheus.yml").exists());
}

/// An out dir its group or anyone else may write to is refused: either could swap a secret file.
#[test]
fn an_out_dir_writable_by_group_or_others_is_refused_with_exit_5() {
    let test = Test::new().file("prometheus.yml", BASIC_AUTH_JOB).file("pw", "v").file("out/.keep", "").args([
        "render",
        "prometheus.yml",
        "--out",
        "out",
    ]);
    for mode in [0o777, 0o770, 0o702] {
        std::fs::set_permissions(test.path("out"), std::fs::Permissions::from_mode(mode)).unwrap();
        test.run().expect_code(5).stderr_contains(&format!("writable by group or others (mode {mode:04o})"));
    }
}

/// The out dir's missing parents are made 0755 even under `umask 000`: one others may write
/// would let them move the out dir away and put their own in its place.
#[test]
fn missing_parents_of_the_out_dir_are_made_0755_whatever_the_umask() {
    let test = Test::new().file("prometheus.yml", BASIC_AUTH_JOB).file("pw", "v");
    let status = std::process::Command::new("sh")
        .args(["-c", "umask 000; exec \"$0\" render prometheus.yml --out run/app/out", crate::support::binary()])
        .current_dir(test.path("."))
        .env("XDG_RUNTIME_DIR", "")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{status}");
    for (dir, mode) in [("run", 0o755), ("run/app", 0o755), ("run/app/out", 0o700)] {
        let found = std::fs::metadata(test.path(dir)).unwrap().permissions().mode() & 0o7777;
        assert_eq!(found, mode, "{dir}: {found:04o}");
    }
}

#[test]
fn an_out_dir_owned_by_another_user_is_refused_with_exit_5() {
    let test = Test::new().file("prometheus.yml", BASIC_AUTH_JOB).file("pw", "v").file("out/.keep", "").args([
        "render",
        "prometheus.yml",
        "--out",
        "out",
    ]);
    std::fs::set_permissions(test.path("out"), std::fs::Permissions::from_mode(0o700)).unwrap();
    if rustix::process::geteuid().is_root() {
        std::os::unix::fs::chown(test.path("out"), Some(65534), None).unwrap();
        test.run().expect_code(5).stderr_contains("owned by");
    } else {
        // Unprivileged runs cannot give a directory away; a directory of root's stands in.
        let test = Test::new().file("prometheus.yml", BASIC_AUTH_JOB).file("pw", "v").args([
            "render",
            "prometheus.yml",
            "--out",
            "/",
        ]);
        test.run().expect_code(5);
    }
}

#[test]
fn a_secret_file_planted_as_a_symlink_is_replaced_not_followed() {
    let test = Test::new().file("prometheus.yml", BASIC_AUTH_JOB).file("pw", "new").file("victim", "untouched").args([
        "render",
        "prometheus.yml",
        "--out",
        "out",
    ]);
    test.run().expect_code(0);
    let secret = named_file(&read(&test.path("out/prometheus.yml")), "password_file");
    std::fs::remove_file(&secret).unwrap();
    symlink(test.path("victim"), &secret).unwrap();
    test.run().expect_code(0);
    assert_eq!(read(&test.path("victim")), "untouched");
    assert!(!std::fs::symlink_metadata(&secret).unwrap().file_type().is_symlink());
    assert_eq!(read(Path::new(&secret)), "new");
}

#[test]
fn require_tmpfs_refuses_a_disk_backed_out_dir() {
    let test = Test::new().file("prometheus.yml", BASIC_AUTH_JOB).file("pw", "v");
    let on_tmpfs = rustix::fs::statfs(test.path("")).unwrap().f_type as i64 == 0x0102_1994;
    let outcome = test.args(["render", "prometheus.yml", "--out", "out", "--require-tmpfs"]).run();
    if on_tmpfs {
        outcome.expect_code(0);
    } else {
        outcome.expect_code(5).stderr_contains("tmpfs");
    }
}

#[test]
fn the_canary_never_appears_in_any_output_even_at_trace_level_or_on_failure() {
    let config = format!(
        "{BASIC_AUTH_JOB}  - job_name: api\n    authorization: {{credentials: {{env: {{name: CANARY_VAR}}}}}}\n"
    );
    // Success at trace level.
    let test = Test::new().file("prometheus.yml", &config).file("pw", CANARY).env("CANARY_VAR", CANARY).args([
        "-vv",
        "render",
        "prometheus.yml",
        "--out",
        "out",
    ]);
    test.run().expect_code(0).never_shows(CANARY);
    // JSON logs.
    let test = Test::new().file("prometheus.yml", &config).file("pw", CANARY).env("CANARY_VAR", CANARY).args([
        "-vv",
        "--log-format",
        "json",
        "render",
        "prometheus.yml",
        "--out",
        "out",
    ]);
    test.run().expect_code(0).never_shows(CANARY);
    // A failure after fetching: a binary value cannot be inlined.
    let inline = "app:\n  a: {file: {path: pw}}\n  b: {file: {path: bin}}\n";
    let test = Test::new()
        .file("app.yml", inline)
        .file("pw", CANARY)
        .file("bin", "\u{0}")
        .args(["-vv", "--target", "generic", "render", "app.yml", "--out", "out"]);
    std::fs::write(test.path("bin"), [0xff, 0xfe]).unwrap();
    test.run().expect_code(4).never_shows(CANARY).stderr_contains("app.b: the value is binary");
    // A failure writing output after fetching.
    let test = Test::new()
        .file("prometheus.yml", &config)
        .file("pw", CANARY)
        .env("CANARY_VAR", CANARY)
        .file("out/secrets", "a file, not a directory")
        .args(["-vv", "render", "prometheus.yml", "--out", "out"]);
    std::fs::set_permissions(test.path("out"), std::fs::Permissions::from_mode(0o700)).unwrap();
    test.run().expect_code(5).never_shows(CANARY);
    // check --resolve prints a table without values.
    let test = Test::new().file("prometheus.yml", &config).file("pw", CANARY).env("CANARY_VAR", CANARY).args([
        "-vv",
        "check",
        "--resolve",
        "prometheus.yml",
    ]);
    test.run().expect_code(0).never_shows(CANARY);
}

#[test]
fn bad_flags_are_a_usage_error_with_exit_2() {
    Test::new().args(["render"]).run().expect_code(2);
    Test::new().args(["render", "x.yml", "--file-mode", "0644x"]).run().expect_code(2).stderr_contains("--file-mode");
    Test::new().args(["--target", "nginx", "render", "x.yml"]).run().expect_code(2);
    // A mode that opens secrets to every user, or makes them executable, is refused up front.
    for mode in ["0644", "0777", "0700"] {
        Test::new().args(["render", "x.yml", "--file-mode", mode]).run().expect_code(2).stderr_contains("at most 0660");
    }
    // A URL flag is checked at start, not at the first reload.
    Test::new()
        .args(["watch", "x.yml", "--out", "out", "--reload-url", "notaurl"])
        .run()
        .expect_code(2)
        .stderr_contains("--reload-url notaurl: not an http(s) URL");
    // pid 0 would signal our own process group.
    Test::new()
        .args(["watch", "x.yml", "--out", "out", "--reload-pid", "0"])
        .run()
        .expect_code(2)
        .stderr_contains("--reload-pid");
    // A group name gets the way to its id, not "invalid digit found in string".
    Test::new()
        .args(["render", "x.yml", "--file-group", "wheel"])
        .run()
        .expect_code(2)
        .stderr_contains("getent group wheel | cut -d: -f3");
}

/// A panic is an unexpected internal error: exit 1 (contract section 9), not Rust's 101, and
/// reported as an error event in the log's format, so a JSON log stays one object per line.
/// (The debug build panics on purpose when `SECRET_RENDER_TEST_PANIC` is set.)
#[test]
fn a_panic_exits_1_with_an_error_event_in_the_log_format() {
    let test = Test::new().env("SECRET_RENDER_TEST_PANIC", "1").args(["--log-format", "json", "render", "x.yml"]);
    let outcome = test.run();
    outcome.expect_code(1);
    let events: Vec<serde_json::Value> = outcome
        .stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON event: {line:?}")))
        .collect();
    let [event] = events.as_slice() else { panic!("one event expected:\n{}", outcome.stderr) };
    assert_eq!(event["level"], "ERROR", "{event}");
    let message = event["message"].as_str().unwrap();
    assert!(message.starts_with("internal error") && message.contains("SECRET_RENDER_TEST_PANIC"), "{event}");
    assert!(event["location"].as_str().is_some_and(|location| location.starts_with("src/")), "{event}");
}

/// A panic message formatted from data (as an `unwrap` of an error quotes it) may hold a value:
/// it is withheld, and the event names only where the panic happened.
#[test]
fn a_panic_message_quoting_data_is_withheld() {
    let test = Test::new().env("SECRET_RENDER_TEST_PANIC", CANARY).args(["render", "x.yml"]);
    let outcome = test.run();
    outcome.expect_code(1).stderr_contains("internal error").stderr_contains("withheld").never_shows(CANARY);
}

#[test]
fn alertmanager_loads_the_rendered_example() {
    let test =
        Test::new().args(["render", "--out", "out"]).arg_path(repo().join("testdata/alertmanager/alertmanager.yml"));
    test.run().expect_code(0);
    let mut server = Server::alertmanager(&test.path("out/alertmanager.yml"));
    let (status, body) = server.get("/api/v2/status");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("smtp_auth_password_file"), "{body}");
    let _ = &mut server;
}

/// Two jobs, each with its own secret file, for the tests of what a re-render leaves alone.
const TWO_JOBS: &str = "scrape_configs:\n  - job_name: node\n    basic_auth:\n      username: prom\n      password:\n        file: {path: pw}\n    static_configs:\n      - targets: ['127.0.0.1:9100']\n  - job_name: api\n    authorization:\n      credentials:\n        file: {path: token}\n    static_configs:\n      - targets: ['127.0.0.1:9200']\n";

/// A file's inode and modification time: what a file watcher (or Prometheus) would see change.
fn identity(path: &Path) -> (u64, std::time::SystemTime) {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::symlink_metadata(path).unwrap();
    (metadata.ino(), metadata.modified().unwrap())
}

/// A re-render whose values did not change rewrites nothing: every secret file and the rendered
/// config keep their inodes and mtimes, so a watcher of the out dir sees nothing. A rotation
/// replaces exactly the file whose value changed. (`render` checks the old files on another
/// thread while it fetches; this is the end-to-end check that it reads the right names.)
#[test]
fn a_rerender_with_unchanged_values_rewrites_nothing_and_a_rotation_only_its_file() {
    let test = Test::new()
        .file("prometheus.yml", TWO_JOBS)
        .file("pw", "password one")
        .file("token", "token one")
        .args(["render", "prometheus.yml", "--out", "out"]);
    test.run().expect_code(0);
    let rendered = test.path("out/prometheus.yml");
    let config = read(&rendered);
    let password = std::path::PathBuf::from(named_file(&config, "password_file"));
    let token = std::path::PathBuf::from(named_file(&config, "credentials_file"));
    let before = [&rendered, &password, &token].map(|path| identity(path));

    test.run().expect_code(0);
    let again = [&rendered, &password, &token].map(|path| identity(path));
    assert_eq!(again, before, "an unchanged re-render must leave every file alone");

    let test = test.file("token", "token two");
    test.run().expect_code(0);
    let [config_after, password_after, token_after] = [&rendered, &password, &token].map(|path| identity(path));
    assert_eq!(config_after, before[0], "a rotation changes a file's content, not the config");
    assert_eq!(password_after, before[1], "the unchanged secret's file is left alone");
    assert_ne!(token_after.0, before[2].0, "the rotated secret's file is replaced");
    assert_eq!(read(&token), "token two");
}

/// A secret file someone made readable by others is not "holding its value": the re-render
/// replaces it with a file of the configured mode.
#[test]
fn a_rerender_replaces_a_secret_file_whose_mode_was_changed() {
    let test = Test::new().file("prometheus.yml", BASIC_AUTH_JOB).file("pw", "v").args([
        "render",
        "prometheus.yml",
        "--out",
        "out",
    ]);
    test.run().expect_code(0);
    let secret = std::path::PathBuf::from(named_file(&read(&test.path("out/prometheus.yml")), "password_file"));
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    test.run().expect_code(0);
    assert_eq!(mode_of(&secret), 0o600);
    assert_eq!(read(&secret), "v");
}

/// Secret files are written before the config that names them: when a secret file cannot be
/// written, no rendered config appears that would point the target at it (exit 5).
#[test]
fn a_secret_file_that_cannot_be_written_leaves_no_config_naming_it() {
    let test = Test::new().file("prometheus.yml", BASIC_AUTH_JOB).file("pw", "v");
    // The secret's name depends only on the config's file name and the field's YAML path.
    test.run_with(&["render", "prometheus.yml", "--out", "scratch"]).expect_code(0);
    let scratch_secret = named_file(&read(&test.path("scratch/prometheus.yml")), "password_file");
    let name = Path::new(&scratch_secret).file_name().unwrap().to_str().unwrap().to_owned();
    // A non-empty directory at the secret's name: renaming a file over it fails.
    let test = test.file(&format!("out/secrets/{name}/keep"), "");
    for dir in ["out", "out/secrets"] {
        std::fs::set_permissions(test.path(dir), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    test.run_with(&["render", "prometheus.yml", "--out", "out"]).expect_code(5).stderr_contains(&name);
    assert!(!test.path("out/prometheus.yml").exists(), "the config was written before its secret file");
}

/// `--file-mode 0640 --file-group GID`, end to end: every file written (secrets and the rendered
/// config) has that mode and group, and the out dir and `secrets/` let the group in (0750).
#[test]
fn file_mode_and_group_apply_to_every_file_and_open_the_dirs_to_the_group() {
    use std::os::unix::fs::MetadataExt;
    // Root can give files to any group; anyone else, to their own.
    let gid = if rustix::process::geteuid().is_root() { 65534 } else { rustix::process::getegid().as_raw() };
    let test = Test::new().file("prometheus.yml", BASIC_AUTH_JOB).file("pw", "v").args([
        "render",
        "prometheus.yml",
        "--out",
        "out",
        "--file-mode",
        "0640",
        "--file-group",
        &gid.to_string(),
    ]);
    test.run().expect_code(0);
    let rendered = test.path("out/prometheus.yml");
    let secret = std::path::PathBuf::from(named_file(&read(&rendered), "password_file"));
    for file in [&rendered, &secret] {
        assert_eq!(mode_of(file), 0o640, "{}", file.display());
        assert_eq!(std::fs::metadata(file).unwrap().gid(), gid, "{}", file.display());
    }
    for dir in ["out", "out/secrets"] {
        assert_eq!(mode_of(&test.path(dir)), 0o750, "{dir}");
        assert_eq!(std::fs::metadata(test.path(dir)).unwrap().gid(), gid, "{dir}");
    }
}

/// An out dir on a disk-backed filesystem gets a warning (secrets may reach persistent storage);
/// one on tmpfs does not. Each directory's filesystem is found independently with `statfs`.
#[test]
fn a_disk_backed_out_dir_gets_a_warning_and_a_tmpfs_one_does_not() {
    let test = Test::new().file("prometheus.yml", BASIC_AUTH_JOB).file("pw", "v");
    let shm = std::path::Path::new("/dev/shm");
    let shm_out = shm.is_dir().then(|| tempfile::tempdir_in(shm).unwrap());
    let mut outs = vec![test.path("out")];
    outs.extend(shm_out.as_ref().map(|dir| dir.path().join("out")));
    for out in outs {
        let parent = out.parent().unwrap();
        let on_tmpfs = rustix::fs::statfs(parent).unwrap().f_type as i64 == 0x0102_1994;
        let outcome = test.run_with(&["render", "prometheus.yml", "--out", out.to_str().unwrap()]);
        outcome.expect_code(0);
        let warned = outcome.stderr.contains("not on tmpfs or ramfs");
        assert_eq!(warned, !on_tmpfs, "out dir {} (tmpfs: {on_tmpfs}):\n{}", out.display(), outcome.stderr);
    }
}

/// The shipped exec example, rendered from another working directory: its `./plugin.sh`
/// resolves against the config's directory, and the plugin's answers land in the files.
#[test]
fn the_exec_example_finds_its_relative_plugin_from_any_working_directory() {
    let example = repo().join("testdata/exec");
    let test = Test::new().args(["render", "--out", "out"]).arg_path(example.join("prometheus.yml"));
    test.run().expect_code(0);
    let rendered = read(&test.path("out/prometheus.yml"));
    for (field, id) in [("password_file", "db_password"), ("credentials_file", "api_token")] {
        let written = std::fs::read(named_file(&rendered, field)).unwrap();
        assert!(written == std::fs::read(example.join("plugin-secrets").join(id)).unwrap(), "{field} holds {id}");
    }
}

/// `-v` adds debug events, `-q` leaves warnings and errors, `-qq` errors only; `-v` with `-q`
/// is a usage error.
#[test]
fn verbosity_flags_set_the_log_level() {
    let test = Test::new().file("prometheus.yml", BASIC_AUTH_JOB).file("pw", "v");
    let render = |flags: &[&str]| {
        let mut args = flags.to_vec();
        args.extend(["render", "prometheus.yml", "--out", "out"]);
        test.run_with(&args)
    };
    let default = render(&[]);
    default.expect_code(0).stderr_contains(" INFO ").stderr_contains("rendered");
    assert!(!default.stderr.contains("DEBUG"), "{}", default.stderr);
    render(&["-v"])
        .expect_code(0)
        .stderr_contains("DEBUG")
        .stderr_contains("fetched each distinct secret location once");
    let quiet = render(&["-q"]);
    quiet.expect_code(0);
    assert!(!quiet.stderr.contains(" INFO "), "{}", quiet.stderr);
    render(&["-v", "-q"]).expect_code(2);

    let missing = Test::new().file("prometheus.yml", BASIC_AUTH_JOB);
    let failed = missing.run_with(&["-qq", "render", "prometheus.yml", "--out", "out"]);
    failed.expect_code(4).stderr_contains("ERROR");
    assert!(!failed.stderr.contains(" INFO ") && !failed.stderr.contains(" WARN "), "{}", failed.stderr);
}

/// Without `--out`, the secrets go under `$XDG_RUNTIME_DIR/secret-render` (created 0700).
#[test]
fn without_out_the_runtime_dir_is_the_default() {
    let test = Test::new().file("prometheus.yml", BASIC_AUTH_JOB).file("pw", "v").file("xdg/.keep", "");
    std::fs::set_permissions(test.path("xdg"), std::fs::Permissions::from_mode(0o700)).unwrap();
    let xdg = test.path("xdg");
    let test = test.env("XDG_RUNTIME_DIR", &xdg.display().to_string()).args(["render", "prometheus.yml"]);
    let outcome = test.run();
    outcome.expect_code(0);
    let rendered = xdg.join("secret-render/prometheus.yml");
    assert_eq!(outcome.stdout.trim(), rendered.display().to_string());
    assert_eq!(mode_of(&xdg.join("secret-render")), 0o700);
    assert_eq!(read(Path::new(&named_file(&read(&rendered), "password_file"))), "v");
}

/// `--target prometheus@VERSION` decides the siblings: an OAuth2 client certificate key has a
/// `client_certificate_key_file` from Prometheus 3.8 on and is inlined before.
#[test]
fn the_target_version_decides_which_fields_get_a_file() {
    let config = "scrape_configs:\n  - job_name: a\n    oauth2:\n      client_id: c\n      client_secret: s\n      token_url: https://idp.example/token\n      client_certificate_key:\n        file: {path: key}\n";
    let test = Test::new().file("prometheus.yml", config).file("key", "key-fake");
    for (target, file) in [("prometheus@3.8", true), ("prometheus@3.7", false), ("prometheus", false)] {
        test.run_with(&["--target", target, "render", "prometheus.yml", "--out", "out"]).expect_code(0);
        let rendered = read(&test.path("out/prometheus.yml"));
        assert_eq!(rendered.contains("client_certificate_key_file: "), file, "{target}:\n{rendered}");
        assert_eq!(rendered.contains("client_certificate_key: \"key-fake\""), !file, "{target}:\n{rendered}");
    }
}

/// `--out` naming the config's own directory would overwrite the config with its rendering
/// (provider maps lost for good): `render` refuses it (exit 5) and leaves the config, and the
/// directory, as they were. The same for a config named by a symlink the rendering would replace,
/// and under `watch`.
#[test]
fn an_out_dir_holding_the_config_itself_is_refused_and_the_config_kept() {
    let test =
        Test::new().file("etc/prometheus.yml", BASIC_AUTH_JOB).file("etc/pw", "v").file("real/app.yml", BASIC_AUTH_JOB);
    std::os::unix::fs::symlink(test.path("real/app.yml"), test.path("etc/app.yml")).unwrap();
    for (config, out) in [
        ("etc/prometheus.yml", "etc"),
        ("etc/prometheus.yml", "etc/."),
        ("etc/app.yml", "etc"),
        ("etc/app.yml", "real"),
    ] {
        test.run_with(&["render", config, "--out", out])
            .expect_code(5)
            .stderr_contains("would replace the config itself");
        assert_eq!(read(&test.path(config)), BASIC_AUTH_JOB, "{config} with --out {out}");
        assert!(!test.path("etc/secrets").exists() && !test.path("real/secrets").exists(), "--out {out} was used");
    }
    assert!(std::fs::symlink_metadata(test.path("etc/app.yml")).unwrap().file_type().is_symlink());
    // `watch` (and `run`) refuse it the same way, before their loop starts.
    test.run_with(&["watch", "etc/prometheus.yml", "--out", "etc", "--listen", "off"])
        .expect_code(5)
        .stderr_contains("would replace the config itself");
    assert_eq!(read(&test.path("etc/prometheus.yml")), BASIC_AUTH_JOB);
}

/// A value with a trailing newline (`echo token > file`) is rendered byte for byte, as the
/// contract says; inlined, the target keeps the newline and authentication fails, so the render
/// warns at the field's YAML path, without the value. In a `_file` it is no problem (the
/// targets trim what they read there), so that field gets no warning.
#[test]
fn an_inlined_value_with_a_trailing_newline_is_rendered_as_it_is_with_a_warning() {
    let config = concat!(
        "remote_write:\n",
        "  - url: https://example.invalid/write\n",
        "    sigv4: {region: eu-west-1, access_key: AKIAEXAMPLE, secret_key: {file: {path: key}}}\n",
        "scrape_configs:\n",
        "  - job_name: a\n",
        "    basic_auth: {username: u, password: {file: {path: key}}}\n",
    );
    let test = Test::new().file("prometheus.yml", config).file("key", "canary-newline\n");
    let outcome = test.run_with(&["render", "prometheus.yml", "--out", "out"]);
    outcome.expect_code(0);
    let rendered = read(&test.path("out/prometheus.yml"));
    assert!(rendered.contains("secret_key: \"canary-newline\\n\""), "{rendered}");
    assert_eq!(read(Path::new(&named_file(&rendered, "password_file"))), "canary-newline\n");
    let warnings: Vec<&str> = outcome.stderr.lines().filter(|line| line.contains("whitespace")).collect();
    assert_eq!(warnings.len(), 1, "{}", outcome.stderr);
    assert!(warnings[0].contains("remote_write[0].sigv4.secret_key"), "{}", warnings[0]);
    assert!(!outcome.stderr.contains("canary-newline"), "{}", outcome.stderr);
}

/// An empty value (an empty file here) is rendered, in a file or inline, with a warning naming
/// the field: the target would get an empty password.
#[test]
fn an_empty_value_is_rendered_with_a_warning_naming_the_field() {
    let test = Test::new().file("prometheus.yml", BASIC_AUTH_JOB).file("pw", "");
    let outcome = test.run_with(&["render", "prometheus.yml", "--out", "out"]);
    outcome.expect_code(0);
    let rendered = read(&test.path("out/prometheus.yml"));
    assert_eq!(read(Path::new(&named_file(&rendered, "password_file"))), "");
    let warning = outcome.stderr.lines().find(|line| line.contains("the value is empty"));
    assert!(warning.is_some_and(|line| line.contains("basic_auth.password")), "{}", outcome.stderr);
}

/// A `--target` version outside the range the table of secret fields was checked against is
/// rendered with the nearest checked version's answers, and says so; a checked one does not.
#[test]
fn a_target_version_the_table_was_not_checked_against_gets_a_warning() {
    let test = Test::new().file("prometheus.yml", BASIC_AUTH_JOB).file("pw", "v");
    let unchecked = test.run_with(&["--target", "prometheus@9.9", "render", "prometheus.yml", "--out", "out"]);
    unchecked.expect_code(0).stderr_contains("prometheus 9.9.0 is newer than");
    let checked = test.run_with(&["--target", "prometheus@2.42", "render", "prometheus.yml", "--out", "out"]);
    checked.expect_code(0);
    assert!(!checked.stderr.contains("checked against"), "{}", checked.stderr);
}

/// Two configs whose rendered copies would share a name are refused (exit 3); the same config
/// named twice (here once through `./`) is told apart from two different files of one name.
#[test]
fn a_config_named_twice_is_refused_as_given_twice_and_two_of_one_name_as_colliding() {
    let test =
        Test::new().file("prometheus.yml", BASIC_AUTH_JOB).file("pw", "v").file("b/prometheus.yml", BASIC_AUTH_JOB);
    test.run_with(&["render", "prometheus.yml", "./prometheus.yml", "--out", "out"])
        .expect_code(3)
        .stderr_contains("./prometheus.yml: is given twice");
    let colliding = test.run_with(&["render", "prometheus.yml", "b/prometheus.yml", "--out", "out"]);
    colliding.expect_code(3).stderr_contains("has the same file name as prometheus.yml");
    assert!(!colliding.stderr.contains("given twice"), "{}", colliding.stderr);
}

/// A read-only `--file-mode 0400` works through re-renders: files are replaced by rename, never
/// written in place, so an unchanged one is left alone and a rotated one replaced, both 0400.
#[test]
fn a_read_only_file_mode_survives_a_rerender_and_a_rotation() {
    let test = Test::new().file("prometheus.yml", TWO_JOBS).file("pw", "password one").file("token", "token one");
    let args = ["render", "prometheus.yml", "--out", "out", "--file-mode", "0400"];
    test.run_with(&args).expect_code(0);
    let rendered = test.path("out/prometheus.yml");
    let password = std::path::PathBuf::from(named_file(&read(&rendered), "password_file"));
    let token = std::path::PathBuf::from(named_file(&read(&rendered), "credentials_file"));
    let before = [&rendered, &password, &token].map(|path| identity(path));
    test.run_with(&args).expect_code(0);
    assert_eq!([&rendered, &password, &token].map(|path| identity(path)), before);

    let test = test.file("token", "token two");
    test.run_with(&args).expect_code(0);
    assert_eq!(read(&token), "token two");
    assert_ne!(identity(&token).0, before[2].0, "the rotated secret's file is replaced");
    for file in [&rendered, &password, &token] {
        assert_eq!(mode_of(file), 0o400, "{}", file.display());
    }
}
