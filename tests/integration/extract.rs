//! `secret-render extract`: the shipped example configs with their provider maps replaced by
//! inline fake values (comments kept) go through `extract --write` into a real OpenBao and back
//! through `render`; the source changes only at the secret values and the rendered result means
//! what the original meant. [`extract_and_render_back`] is the other stores' part, run by their
//! own modules against their servers.

use std::path::Path;

use yaml_rust2::{Yaml, YamlLoader};

use crate::support::{Server, Test, bao, mode_of, read, repo};

/// Each provider map of the shipped example, with the inline value that replaces it.
const PROMETHEUS_INLINE: &[(&str, &str)] = &[
    ("\n          file: {path: secrets/alertmanager_password}", " am-pass-fake"),
    ("\n        file: {path: secrets/node_exporter_password, refresh_interval: 30m}", " \"node-pass-fake\"  # inline"),
    ("\n        env: {name: EXAMPLE_API_TOKEN}", " 'api-token-fake'"),
    ("\n        file: {path: secrets/oauth2.json, key: client_id, render: inline}", " federate-client"),
    ("\n        file: {path: secrets/oauth2.json, key: client_secret}", " oauth-secret-fake # inline too"),
    ("\n        file: {path: secrets/aws.json, key: secret_access_key}", " sigv4-secret-fake"),
];
const PROMETHEUS_SECRETS: &[&str] =
    &["am-pass-fake", "node-pass-fake", "api-token-fake", "oauth-secret-fake", "sigv4-secret-fake"];

const ALERTMANAGER_INLINE: &[(&str, &str)] = &[
    ("\n    file: {path: secrets/smtp_password}", " 'smtp-pass-fake'"),
    ("\n    file: {path: secrets/slack_webhook_url}", " https://hooks.slack.example/services/slack-fake"),
    ("\n          file: {path: secrets/oncall_webhook.json, key: url}", " 'https://oncall.example/hook?t=hook-fake'"),
    ("\n              file: {path: secrets/oncall_webhook.json, key: token}", " \"bearer-fake\""),
];
const ALERTMANAGER_SECRETS: &[&str] = &["smtp-pass-fake", "slack-fake", "hook-fake", "bearer-fake"];

fn inline(shipped: &str, replacements: &[(&str, &str)]) -> String {
    let mut text = read(&repo().join(shipped));
    for (provider_map, value) in replacements {
        assert!(text.contains(provider_map), "{provider_map:?} not in {shipped}");
        text = text.replacen(provider_map, value, 1);
    }
    text
}

fn as_root(server: &Server) -> Test {
    Test::new().env("VAULT_ADDR", &server.address()).env("VAULT_TOKEN", "root")
}

/// YAML as JSON (unordered maps), with every `X_file` that points into `out` read back into `X`
/// and paths the renderer made absolute made relative to `base` again.
fn meaning(yaml: &Yaml, out: &Path, base: &str) -> serde_json::Value {
    use serde_json::Value;
    match yaml {
        Yaml::Hash(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let key = key.as_str().expect("string keys").to_owned();
                    match (key.strip_suffix("_file"), value.as_str()) {
                        (Some(field), Some(file)) if Path::new(file).starts_with(out) => {
                            (field.to_owned(), Value::String(read(Path::new(file))))
                        }
                        _ => (key, meaning(value, out, base)),
                    }
                })
                .collect(),
        ),
        Yaml::Array(items) => Value::Array(items.iter().map(|item| meaning(item, out, base)).collect()),
        Yaml::String(text) => Value::String(text.strip_prefix(base).unwrap_or(text).to_owned()),
        Yaml::Integer(number) => Value::from(*number),
        Yaml::Boolean(flag) => Value::Bool(*flag),
        Yaml::Real(text) => Value::String(text.clone()),
        Yaml::Null => Value::Null,
        other => panic!("unexpected YAML {other:?}"),
    }
}

fn load(text: &str) -> Yaml {
    YamlLoader::load_from_str(text).expect("valid YAML").remove(0)
}

fn round_trip(server: &Server, name: &str, original: &str, secrets: &[&str]) {
    let test = as_root(server).file(name, original);
    let config = test.path(name);

    // Dry run: a diff without values; nothing changes.
    let dry = test.run_with(&["extract", name, "--to", "vault"]);
    dry.expect_code(0).stdout_contains("<redacted>").stdout_contains("+++ ");
    for secret in secrets {
        dry.never_shows(secret);
    }
    assert_eq!(read(&config), original);

    // Write with a backup.
    let wrote = test.run_with(&["extract", name, "--to", "vault", "--write", "--backup"]);
    wrote.expect_code(0);
    let extracted = read(&config);
    for secret in secrets {
        wrote.never_shows(secret);
        assert!(!extracted.contains(secret), "{secret} left in\n{extracted}");
    }
    let backups: Vec<_> = std::fs::read_dir(test.path(""))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().contains(".bak-"))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(mode_of(&backups[0]), 0o600);
    assert_eq!(read(&backups[0]), original);

    // Line by line: only the secret lines differ, and only in their value.
    let (before, after): (Vec<&str>, Vec<&str>) = (original.lines().collect(), extracted.lines().collect());
    assert_eq!(before.len(), after.len());
    let mut changed = 0;
    for (old, new) in before.iter().zip(&after) {
        if old == new {
            assert!(!secrets.iter().any(|secret| old.contains(secret)));
            continue;
        }
        changed += 1;
        assert!(secrets.iter().any(|secret| old.contains(secret)), "non-secret line changed: {old:?} → {new:?}");
        let key = |line: &str| line.split_once(": ").unwrap().0.to_owned();
        assert_eq!(key(old), key(new));
        assert!(new.contains(": {vault: {path: "), "{new:?}");
        if let Some((_, comment)) = old.split_once(" #") {
            assert!(new.ends_with(&format!(" #{comment}")), "comment lost: {new:?}");
        }
    }
    assert_eq!(changed, secrets.len());

    // Re-running finds nothing to do.
    test.run_with(&["extract", name, "--to", "vault", "--write"]).expect_code(0).stdout_contains("no inline secrets");
    assert_eq!(read(&config), extracted);

    // Rendering the extracted config means what the original meant.
    test.run_with(&["render", name, "--out", "out"]).expect_code(0);
    let out = test.path("out");
    let rendered = read(&out.join(name));
    let base = format!("{}/", test.path(name).parent().unwrap().display());
    assert_eq!(meaning(&load(&rendered), &out, &base), meaning(&load(original), &out, &base));
}

#[test]
fn the_example_configs_round_trip_through_openbao_and_render() {
    let server = Server::openbao();
    round_trip(
        &server,
        "prometheus.yml",
        &inline("testdata/prometheus/prometheus.yml", PROMETHEUS_INLINE),
        PROMETHEUS_SECRETS,
    );
    round_trip(
        &server,
        "alertmanager.yml",
        &inline("testdata/alertmanager/alertmanager.yml", ALERTMANAGER_INLINE),
        ALERTMANAGER_SECRETS,
    );
    let stored = bao(&server, &["kv", "get", "-field=password", "secret/prometheus/node"]);
    assert_eq!(stored.trim(), "node-pass-fake");
}

const NODE_JOB: &str = "scrape_configs:\n  # the node job\n  - job_name: node\n    basic_auth:\n      username: prom\n      password: node-pass-fake\n";

/// The other stores' part of `extract`: `NODE_JOB` (with `value` as its password) in `test`,
/// extracted `--to to --write` (with the options `global` before `extract`), must come out as
/// `NODE_JOB` with the provider map `map` in place of the value, comments kept, and render back
/// to a password file holding `value`. The caller checks the store itself.
#[cfg_attr(
    not(any(feature = "aws", feature = "gcp", feature = "azure", feature = "kubernetes")),
    expect(dead_code, reason = "only the other stores' modules use it")
)]
pub fn extract_and_render_back(test: Test, global: &[&str], to: &str, value: &str, map: &str) -> Test {
    let config = NODE_JOB.replace("node-pass-fake", value);
    let test = test.file("prometheus.yml", &config);
    let mut extract = global.to_vec();
    extract.extend(["extract", "prometheus.yml", "--to", to, "--write"]);
    test.run_with(&extract).expect_code(0).never_shows(value);
    assert_eq!(read(&test.path("prometheus.yml")), config.replace(value, map));
    let mut render = global.to_vec();
    render.extend(["render", "prometheus.yml", "--out", "out"]);
    test.run_with(&render).expect_code(0).never_shows(value);
    let rendered = read(&test.path("out/prometheus.yml"));
    let file = rendered.lines().find_map(|line| line.trim().strip_prefix("password_file: ")).expect(&rendered);
    assert_eq!(read(Path::new(file.trim_matches('"'))), value);
    test
}

#[test]
fn a_different_stored_value_is_an_error_unless_overwrite_and_an_equal_one_is_not_rewritten() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/prometheus/node", "password=other-fake"]);
    let test = as_root(&server).file("prometheus.yml", NODE_JOB);
    let refused = test.run_with(&["extract", "prometheus.yml", "--to", "vault", "--write"]);
    refused
        .expect_code(3)
        .stderr_contains("holds a different value")
        .stderr_contains("choose a --path-template that tells them apart, or pass --overwrite")
        .never_shows("node-pass-fake");
    assert_eq!(read(&test.path("prometheus.yml")), NODE_JOB);
    assert_eq!(bao(&server, &["kv", "get", "-field=password", "secret/prometheus/node"]).trim(), "other-fake");

    test.run_with(&["extract", "prometheus.yml", "--to", "vault", "--write", "--overwrite"]).expect_code(0);
    assert_eq!(bao(&server, &["kv", "get", "-field=password", "secret/prometheus/node"]).trim(), "node-pass-fake");
    assert_eq!(
        read(&test.path("prometheus.yml")),
        NODE_JOB.replace("node-pass-fake", "{vault: {path: prometheus/node, key: password}}")
    );

    // The same value already stored: the config is rewritten, the store is not written again.
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/prometheus/node", "password=node-pass-fake"]);
    let test = as_root(&server).file("prometheus.yml", NODE_JOB);
    test.run_with(&["extract", "prometheus.yml", "--to", "vault", "--write"])
        .expect_code(0)
        .stdout_contains("already holds this value");
    let version = bao(&server, &["kv", "metadata", "get", "-format=json", "secret/prometheus/node"]);
    let metadata: serde_json::Value = serde_json::from_str(&version).unwrap();
    assert_eq!(metadata["data"]["current_version"], 1);
}

/// A dry run reads each destination and says what `--write` would do there: store a value not
/// there yet, only rewrite the config where the store holds the same value, refuse a different
/// one (or replace it with `--overwrite`). A store that cannot be reached gets one line saying
/// so, and the diff is still shown (exit 0). Nothing is written either way.
#[test]
fn a_dry_run_says_what_write_would_do_at_each_destination() {
    let server = Server::openbao();
    let config = concat!(
        "scrape_configs:\n",
        "  - job_name: new\n    basic_auth: {username: prom, password: new-pass-fake}\n",
        "  - job_name: same\n    basic_auth: {username: prom, password: same-pass-fake}\n",
        "  - job_name: other\n    basic_auth: {username: prom, password: other-pass-fake}\n",
    );
    bao(&server, &["kv", "put", "secret/prometheus/same", "password=same-pass-fake"]);
    bao(&server, &["kv", "put", "secret/prometheus/other", "password=stored-fake"]);
    let test = as_root(&server).file("prometheus.yml", config);
    let dry = test.run_with(&["extract", "prometheus.yml", "--to", "vault"]);
    dry.expect_code(0)
        .stdout_contains(
            "# scrape_configs[job_name=new].basic_auth.password: would store at vault prometheus/new key password: \
             not there yet, --write stores it\n",
        )
        .stdout_contains(
            "# scrape_configs[job_name=same].basic_auth.password: would store at vault prometheus/same key password: \
             already holds this value, --write only rewrites the config\n",
        )
        .stdout_contains(
            "# scrape_configs[job_name=other].basic_auth.password: would store at vault prometheus/other key \
             password: holds a different value: --write refuses it (exit 3) unless --overwrite\n",
        );
    for secret in ["new-pass-fake", "same-pass-fake", "other-pass-fake", "stored-fake"] {
        dry.never_shows(secret);
    }
    test.run_with(&["extract", "prometheus.yml", "--to", "vault", "--overwrite"])
        .expect_code(0)
        .stdout_contains("password: holds a different value, which --write --overwrite replaces\n");
    assert_eq!(read(&test.path("prometheus.yml")), config);
    assert!(bao(&server, &["kv", "list", "secret/prometheus"]).lines().all(|line| line.trim() != "new"));

    let unreachable = Test::new()
        .env("VAULT_ADDR", &format!("http://127.0.0.1:{}", crate::support::free_port()))
        .env("VAULT_TOKEN", "root")
        .file("prometheus.yml", config);
    let dry = unreachable.run_with(&["extract", "prometheus.yml", "--to", "vault"]);
    dry.expect_code(0).stdout_contains("+++ ").stdout_contains(
        "# scrape_configs[job_name=new].basic_auth.password: would store at vault prometheus/new key password: \
         cannot be read (",
    );
    // A destination whose latest version is deleted (restorable): a one-key write over it is
    // refused, so the dry run says so and --write stops before writing anything.
    bao(&server, &["kv", "delete", "secret/prometheus/same"]);
    test.run_with(&["extract", "prometheus.yml", "--to", "vault"]).expect_code(0).stdout_contains(
        "# scrape_configs[job_name=same].basic_auth.password: would store at vault prometheus/same key password: \
         cannot be read (vault secret secret/prometheus/same (its latest version, 1, deleted at ",
    );
    test.run_with(&["extract", "prometheus.yml", "--to", "vault", "--write", "--overwrite"])
        .expect_code(4)
        .stderr_contains("nothing was written: the store could not be read");
    assert!(bao(&server, &["kv", "list", "secret/prometheus"]).lines().all(|line| line.trim() != "new"));

    let no_store = Test::new().file("prometheus.yml", config);
    let dry = no_store.run_with(&["extract", "prometheus.yml", "--to", "vault"]);
    dry.expect_code(0).stdout_contains("# the store was not consulted (--write needs it): ").stdout_contains(
        "# scrape_configs[job_name=new].basic_auth.password: would store at vault prometheus/new key password\n",
    );
}

#[test]
fn block_scalars_are_refused_and_unknown_stores_are_a_usage_error() {
    let block = "scrape_configs:\n  - job_name: node\n    basic_auth:\n      password: |\n        node-pass-fake\n";
    let test = Test::new().file("prometheus.yml", block);
    test.run_with(&["extract", "prometheus.yml", "--to", "vault"])
        .expect_code(3)
        .stderr_contains("block scalars")
        .never_shows("node-pass-fake");
    let inline = "scrape_configs:\n  - job_name: node\n    basic_auth:\n      password: node-pass-fake\n";
    let test = Test::new().file("prometheus.yml", inline);
    test.run_with(&["extract", "prometheus.yml", "--to", "nowhere"])
        .expect_code(2)
        .stderr_contains("neither a provider nor a store")
        .never_shows("node-pass-fake");
    test.run_with(&["extract", "prometheus.yml", "--to", "file"]).expect_code(2).stderr_contains("cannot write to");
    test.run_with(&["extract", "prometheus.yml", "--to", "azure_key_vault"])
        .expect_code(2)
        .stderr_contains("needs a store naming its vault_url");
}

/// `--to` a named store: the values go through that store's settings (here a `path_prefix` and
/// its own address and token), the provider maps name the store, and `render` reads them back.
#[test]
fn extract_into_a_named_store_writes_through_its_settings_and_renders_back() {
    let server = Server::openbao();
    let stores = format!(
        "secret_stores:\n  prod:\n    vault:\n      address: {}\n      auth: {{token: root}}\n      path_prefix: team-a/\n",
        server.address()
    );
    let config = "scrape_configs:\n  - job_name: node  # the node exporter\n    basic_auth:\n      username: prom\n      password: 'node-pass-fake'\n";
    let test = Test::new().file("stores.yml", &stores).file("prometheus.yml", config);
    test.run_with(&["--stores", "stores.yml", "extract", "prometheus.yml", "--to", "prod", "--write"])
        .expect_code(0)
        .never_shows("node-pass-fake");
    let extracted = read(&test.path("prometheus.yml"));
    assert!(
        extracted.contains("password: {vault: {store: prod, path: prometheus/node, key: password}}\n"),
        "{extracted}"
    );
    assert!(extracted.contains("  - job_name: node  # the node exporter\n"), "comments kept: {extracted}");
    let stored = bao(&server, &["kv", "get", "-field=password", "secret/team-a/prometheus/node"]);
    assert_eq!(stored.trim(), "node-pass-fake");
    test.run_with(&["--stores", "stores.yml", "render", "prometheus.yml", "--out", "out"]).expect_code(0);
    let rendered = read(&test.path("out/prometheus.yml"));
    let file = rendered.lines().find_map(|line| line.trim().strip_prefix("password_file: ")).unwrap().trim_matches('"');
    assert_eq!(read(Path::new(file)), "node-pass-fake");
}

/// `extract --write` gives the rewritten config the original's mode, owner and group: a config
/// Prometheus reads through its group (root:prometheus 0640) stays readable to it.
#[test]
fn extract_write_keeps_the_configs_mode_owner_and_group() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let server = Server::openbao();
    let test = as_root(&server).file("prometheus.yml", NODE_JOB);
    let config = test.path("prometheus.yml");
    // Root can give the file to another group; anyone else keeps their own.
    let group = if rustix::process::geteuid().is_root() { 65534 } else { rustix::process::getegid().as_raw() };
    std::os::unix::fs::chown(&config, None, Some(group)).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o640)).unwrap();
    let owner = std::fs::metadata(&config).unwrap().uid();
    test.run_with(&["extract", "prometheus.yml", "--to", "vault", "--write"]).expect_code(0);
    assert!(!read(&config).contains("node-pass-fake"), "the value was extracted");
    let metadata = std::fs::metadata(&config).unwrap();
    assert_eq!(mode_of(&config), 0o640);
    assert_eq!((metadata.uid(), metadata.gid()), (owner, group));
}

/// A config reached through a symlink (as configuration management often links it) is rewritten
/// where it lives: the link stays a link, and the file it points to loses its inline value.
#[test]
fn extract_write_through_a_symlink_rewrites_the_file_it_points_to() {
    let server = Server::openbao();
    let test = as_root(&server).file("managed/prometheus.yml", NODE_JOB);
    std::os::unix::fs::symlink("managed/prometheus.yml", test.path("prometheus.yml")).unwrap();
    test.run_with(&["extract", "prometheus.yml", "--to", "vault", "--write"]).expect_code(0);
    let link = std::fs::symlink_metadata(test.path("prometheus.yml")).unwrap();
    assert!(link.file_type().is_symlink(), "the link was replaced by a file");
    let target = read(&test.path("managed/prometheus.yml"));
    assert!(!target.contains("node-pass-fake"), "the linked file still holds the inline value:\n{target}");
    assert_eq!(target, NODE_JOB.replace("node-pass-fake", "{vault: {path: prometheus/node, key: password}}"));
}

/// A misspelt `--path-template` placeholder used to be kept as written in every store path
/// (`{vault: {path: "{cfg}", …}}`, exit 0). It is a usage error found before the config is read
/// or any store contacted: here a `--write` against a Vault address where nothing listens.
#[test]
fn an_unknown_path_template_placeholder_is_a_usage_error_before_any_store_is_contacted() {
    let inline = "scrape_configs:\n  - job_name: node\n    basic_auth:\n      password: node-pass-fake\n";
    let test =
        Test::new().file("prometheus.yml", inline).env("VAULT_ADDR", "http://127.0.0.1:1").env("VAULT_TOKEN", "t");
    let message = "--path-template: unknown placeholder `{cfg}` (known: {config}, {job}, {job_name}, {field}, {path})";
    test.run_with(&["extract", "prometheus.yml", "--to", "vault", "--path-template", "{cfg}/{job}"])
        .expect_code(2)
        .stderr_contains(message)
        .never_shows("node-pass-fake");
    test.run_with(&["extract", "prometheus.yml", "--to", "vault", "--path-template", "{cfg}/{job}", "--write"])
        .expect_code(2)
        .stderr_contains(message);
    assert_eq!(read(&test.path("prometheus.yml")), inline);
    test.run_with(&["extract", "prometheus.yml", "--to", "vault", "--path-template", "{config}/{job_name}/{field}"])
        .expect_code(0)
        .stdout_contains("{vault: {path: prometheus/node, key: password}}");
}

/// A value shared through YAML anchors — a whole `basic_auth` aliased (`*shared`), merged
/// (`<<: *defaults`), or a scalar aliased (`*pw`) — is stored once and rewritten once, where it
/// is written, and every alias follows: the config stays valid YAML (it used to get two edits
/// spliced into one span, exit 0) and renders the value at each job.
#[test]
fn a_value_shared_through_an_anchor_is_moved_once_and_its_aliases_follow() {
    let config = "x-defaults: &defaults
  basic_auth:
    username: prom
    password: merged-pass-fake
scrape_configs:
  - job_name: a
    basic_auth: &shared
      username: prom
      password: shared-pass-fake
  - job_name: b
    basic_auth: *shared
  - <<: *defaults
    job_name: c
  - job_name: d
    basic_auth:
      username: prom
      password: &pw scalar-pass-fake
  - job_name: e
    basic_auth: {username: prom, password: *pw}
";
    let server = Server::openbao();
    let test = as_root(&server).file("prometheus.yml", config);
    let secrets = ["merged-pass-fake", "shared-pass-fake", "scalar-pass-fake"];
    test.run_with(&["extract", "prometheus.yml", "--to", "vault", "--write"])
        .expect_code(0)
        .stdout_contains("scrape_configs[job_name=b].basic_auth.password: the same value, through a YAML alias")
        .stdout_contains("scrape_configs[job_name=e].basic_auth.password: the same value, through a YAML alias")
        .never_shows(secrets[0])
        .never_shows(secrets[1])
        .never_shows(secrets[2]);
    let extracted = read(&test.path("prometheus.yml"));
    for secret in secrets {
        assert!(!extracted.contains(secret), "{secret} is still inline:\n{extracted}");
    }
    assert!(extracted.contains("    basic_auth: *shared\n") && extracted.contains("password: *pw}"), "{extracted}");
    assert_eq!(bao(&server, &["kv", "get", "-field=password", "secret/prometheus/a"]).trim(), "shared-pass-fake");
    assert_eq!(bao(&server, &["kv", "get", "-field=password", "secret/prometheus/d"]).trim(), "scalar-pass-fake");

    test.run_with(&["render", "prometheus.yml", "--out", "out"]).expect_code(0);
    let rendered = load(&read(&test.path("out/prometheus.yml")));
    let password_of = |job: &str| {
        let jobs = rendered["scrape_configs"].as_vec().unwrap();
        let job = jobs.iter().find(|item| item["job_name"].as_str() == Some(job)).unwrap();
        // The merge key stays a merge key (yaml-rust2 here does not merge: Go's yaml.v2 does).
        let basic_auth = if job["basic_auth"].is_badvalue() { &job["<<"]["basic_auth"] } else { &job["basic_auth"] };
        let file = basic_auth["password_file"].as_str().unwrap_or_else(|| panic!("{job:?}"));
        read(Path::new(file))
    };
    let by_job: Vec<String> = ["a", "b", "c", "d", "e"].into_iter().map(password_of).collect();
    assert_eq!(
        by_job,
        ["shared-pass-fake", "shared-pass-fake", "merged-pass-fake", "scalar-pass-fake", "scalar-pass-fake"]
    );
}

/// A scalar alias whose anchored value sits at no secret field cannot be moved where it is
/// used: extract says so, naming the alias, and writes nothing.
#[test]
fn an_alias_of_a_value_anchored_outside_every_secret_field_is_refused_naming_it() {
    let config = "x-secrets:\n  pw: &pw alias-pass-fake\nscrape_configs:\n  - job_name: b\n    basic_auth:\n      username: prom\n      password: *pw\n";
    let test = Test::new().file("prometheus.yml", config);
    test.run_with(&["extract", "prometheus.yml", "--to", "vault"])
        .expect_code(3)
        .stderr_contains("scrape_configs[job_name=b].basic_auth.password: the value is the alias `*pw`")
        .never_shows("alias-pass-fake");
    assert_eq!(read(&test.path("prometheus.yml")), config);
}

/// A write refused part-way names the refusal as a write and lists what was stored before it,
/// with the config left as it was; the same value at two fields mapping to one key is written
/// once.
#[test]
fn a_write_refused_part_way_lists_what_was_stored_and_leaves_the_config() {
    let server = Server::openbao();
    let rules = "path \"secret/data/prometheus/a\" { capabilities = [\"create\", \"read\", \"update\"] }\n\
                 path \"secret/data/prometheus/b\" { capabilities = [\"read\"] }\n\
                 path \"sys/internal/ui/mounts/*\" { capabilities = [\"read\"] }\n";
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), rules).unwrap();
    bao(&server, &["policy", "write", "half", &file.path().to_string_lossy()]);
    let token = bao(&server, &["token", "create", "-field=token", "-policy", "half"]);
    let config = "scrape_configs:\n  - job_name: a\n    basic_auth: {username: prom, password: a-pass-fake}\n    \
                  authorization: {credentials: a-pass-fake}\n  - job_name: b\n    basic_auth: {username: prom, password: b-pass-fake}\n";
    let test = Test::new()
        .env("VAULT_ADDR", &server.address())
        .env("VAULT_TOKEN", token.trim())
        .file("prometheus.yml", config);
    test.run_with(&[
        "extract",
        "prometheus.yml",
        "--to",
        "vault",
        "--write",
        "--path-template",
        "{config}/{job}/secret",
    ])
    .expect_code(5)
    .stderr_contains("permission denied writing vault secret secret/prometheus/b")
    .stderr_contains("these were stored before the failure")
    .stderr_contains("vault secret secret/prometheus/a (key secret)")
    .never_shows("a-pass-fake")
    .never_shows("b-pass-fake");
    assert_eq!(read(&test.path("prometheus.yml")), config);
    let metadata = bao(&server, &["kv", "metadata", "get", "-format=json", "secret/prometheus/a"]);
    let metadata: serde_json::Value = serde_json::from_str(&metadata).unwrap();
    assert_eq!(metadata["data"]["current_version"], 1, "one key, one value: written once");
}

/// Every secret the store refuses to read is listed, not only the first, and nothing is written.
#[test]
fn every_unreadable_destination_is_listed() {
    let server = Server::openbao();
    let token = bao(&server, &["token", "create", "-field=token", "-policy", "default"]);
    let config = "scrape_configs:\n  - job_name: a\n    basic_auth: {username: prom, password: a-unread-fake}\n  \
                  - job_name: b\n    basic_auth: {username: prom, password: b-unread-fake}\n";
    let test = Test::new()
        .env("VAULT_ADDR", &server.address())
        .env("VAULT_TOKEN", token.trim())
        .file("prometheus.yml", config);
    test.run_with(&["extract", "prometheus.yml", "--to", "vault", "--write"])
        .expect_code(4)
        .stderr_contains("scrape_configs[job_name=a].basic_auth.password: permission denied")
        .stderr_contains("scrape_configs[job_name=b].basic_auth.password: permission denied")
        .stderr_contains("nothing was written")
        .never_shows("unread-fake");
    assert_eq!(read(&test.path("prometheus.yml")), config);
}

/// A failure after every value is stored (here the backup: a file already has its name) says
/// the store holds them, which, and that a rerun only rewrites the config; the config is left.
#[test]
fn a_failure_after_the_values_are_stored_says_so_and_a_rerun_completes() {
    let server = Server::openbao();
    let config = "scrape_configs:\n  - job_name: a\n    basic_auth: {username: prom, password: stored-first-fake}\n";
    let test = as_root(&server).file("prometheus.yml", config);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    for second in now..now + 60 {
        std::fs::write(test.path(&format!("prometheus.yml.bak-{second}")), "taken").unwrap();
    }
    let args = ["extract", "prometheus.yml", "--to", "vault", "--write", "--backup"];
    test.run_with(&args)
        .expect_code(5)
        .stderr_contains("the store already holds every value (a rerun finds them there")
        .stderr_contains("vault secret secret/prometheus/a (key password)")
        .never_shows("stored-first-fake");
    assert_eq!(read(&test.path("prometheus.yml")), config);

    test.run_with(&args[..5]).expect_code(0);
    assert!(read(&test.path("prometheus.yml")).contains("password: {vault: {path: prometheus/a, key: password}}"));
    let metadata = bao(&server, &["kv", "metadata", "get", "-format=json", "secret/prometheus/a"]);
    let metadata: serde_json::Value = serde_json::from_str(&metadata).unwrap();
    assert_eq!(metadata["data"]["current_version"], 1, "the rerun wrote no new version");
}

/// A config saved with a UTF-8 byte order mark (Windows editors write one; Go's yaml.v2 skips
/// it) is read as the Prometheus config it is: `check` validates it, `render` writes the
/// password to a file, and `extract` moves it and keeps the mark. The mark used to be read as
/// part of the first key: no target was recognised, nothing extracted, the password inlined.
#[test]
fn a_config_with_a_byte_order_mark_is_recognised_and_extracted_keeping_the_mark() {
    let config = "\u{feff}scrape_configs:\n  - job_name: bom\n    basic_auth:\n      username: prom\n      password: bom-pass-fake\n";
    let server = Server::openbao();
    let test = as_root(&server).file("prometheus.yml", config);
    test.run_with(&["check", "prometheus.yml"]).expect_code(0).stdout_contains("prometheus.yml (prometheus@");
    test.run_with(&["extract", "prometheus.yml", "--to", "vault", "--write"])
        .expect_code(0)
        .never_shows("bom-pass-fake");
    assert_eq!(
        read(&test.path("prometheus.yml")),
        config.replace("bom-pass-fake", "{vault: {path: prometheus/bom, key: password}}")
    );
    test.run_with(&["render", "prometheus.yml", "--out", "out"]).expect_code(0);
    assert!(read(&test.path("out/prometheus.yml")).contains("password_file: "), "the password was inlined");
}

/// An edit made to the config while `extract` stores its values (here, as the write reaches
/// the store) is kept: the config is not rewritten over it, and the error says so and what a
/// rerun does. It used to be lost under the rewrite, exit 0.
#[test]
fn an_edit_made_while_extract_runs_is_kept_not_written_over() {
    let server = Server::openbao();
    let config =
        "scrape_configs:\n  - job_name: a\n    basic_auth: {username: prom, password: edited-meanwhile-fake}\n";
    let test = Test::new().file("prometheus.yml", config);
    let path = test.path("prometheus.yml");
    let port = server.port;
    let edited = std::sync::atomic::AtomicBool::new(false);
    let vault = crate::http_fake::FakeServer::start(move |request| {
        if request.method != "GET" && !edited.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
            std::io::Write::write_all(&mut file, b"  - job_name: added-meanwhile\n").unwrap();
        }
        crate::http_fake::forward(port, request)
    });
    let test = test.env("VAULT_ADDR", &vault.url()).env("VAULT_TOKEN", "root");
    test.run_with(&["extract", "prometheus.yml", "--to", "vault", "--write"])
        .expect_code(5)
        .stderr_contains("prometheus.yml changed while extract ran: it is not rewritten, so that change is kept")
        .stderr_contains("the store already holds every value")
        .never_shows("edited-meanwhile-fake");
    assert_eq!(read(&test.path("prometheus.yml")), format!("{config}  - job_name: added-meanwhile\n"));
}

/// A value another writer stores between `extract`'s read of the destination (which it decided
/// on: nothing there yet) and its write is not written over without `--overwrite`: the write
/// sees the version it read is no longer the latest. Check-and-set used to take the version of
/// the write's own later read, and wrote over it.
#[test]
fn a_value_another_writer_stores_after_extract_read_the_destination_is_not_written_over() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/prometheus/a", "username=prom"]);
    let config = "scrape_configs:\n  - job_name: a\n    basic_auth: {username: prom, password: extracted-fake}\n";
    let test = Test::new().file("prometheus.yml", config);
    let (port, address) = (server.port, server.address());
    let reads = std::sync::atomic::AtomicUsize::new(0);
    let vault = crate::http_fake::FakeServer::start(move |request| {
        let read = request.method == "GET" && request.path == "/v1/secret/data/prometheus/a";
        if read && reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            // The write's own read: another writer's version lands just before it.
            let args = ["kv", "put", "secret/prometheus/a", "username=prom", "password=other-writer-fake"];
            crate::support::bao_at(&address, "root", &args);
        }
        crate::http_fake::forward(port, request)
    });
    let test = test.env("VAULT_ADDR", &vault.url()).env("VAULT_TOKEN", "root");
    test.run_with(&["extract", "prometheus.yml", "--to", "vault", "--write"])
        .expect_code(5)
        .stderr_contains("another writer made version 2 since version 1 was read")
        .never_shows("extracted-fake");
    assert_eq!(bao(&server, &["kv", "get", "-field=password", "secret/prometheus/a"]).trim(), "other-writer-fake");
    assert_eq!(read(&test.path("prometheus.yml")), config, "the config was rewritten");
}

/// A path template that makes paths the store refuses (`..` segments) is a configuration error
/// in the dry run as with `--write`: the dry run used to pass (exit 0), calling it a store it
/// could not consult.
#[test]
fn a_path_template_the_store_refuses_fails_the_dry_run_too() {
    let config = "scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password: dot-dot-fake}\n";
    let test =
        Test::new().file("prometheus.yml", config).env("VAULT_ADDR", "http://127.0.0.1:1").env("VAULT_TOKEN", "x");
    for write in [false, true] {
        let mut args = vec!["extract", "prometheus.yml", "--to", "vault", "--path-template", "../{job}/{field}"];
        if write {
            args.push("--write");
        }
        test.run_with(&args)
            .expect_code(3)
            .stderr_contains("scrape_configs[job_name=a].basic_auth.password: vault (line 1): `path` may not hold `.` or `..` segments")
            .never_shows("dot-dot-fake");
    }
    assert_eq!(read(&test.path("prometheus.yml")), config);
}
