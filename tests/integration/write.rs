//! The write side: `rotate` and `store get|put|delete` against a real OpenBao (KV v2: a new
//! version each time, the old one still readable) and the `file` provider, and
//! `rotate --bcrypt-web-config` proven by `promtool check web-config` and a real Prometheus that
//! accepts the new password and refuses a wrong one; a version another writer created meanwhile
//! is never overwritten (check-and-set). No run may print a value it does not `--reveal`.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::http_fake::{FakeServer, forward};
use crate::support::{Server, Test, bao, base64, http_json, mode_of, read, require};

const REF: &str = "{vault: {path: prometheus/node, key: password}}";

fn as_root(server: &Server) -> Test {
    Test::new().env("VAULT_ADDR", &server.address()).env("VAULT_TOKEN", "root")
}

fn field(server: &Server, args: &[&str]) -> String {
    bao(server, args).trim().to_owned()
}

#[test]
fn rotate_writes_a_new_kv_v2_version_and_keeps_the_old_one_readable() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/prometheus/node", "password=old-password-1", "username=prom"]);
    let outcome = as_root(&server).args(["rotate", REF, "--length", "40"]).run();
    outcome.expect_code(0).stdout_contains("new version 2");
    let new = field(&server, &["kv", "get", "-field=password", "secret/prometheus/node"]);
    assert_eq!(new.len(), 40);
    assert!(new.bytes().all(|c| c.is_ascii_alphanumeric()), "alnum by default");
    outcome.never_shows(&new).never_shows("old-password-1");
    assert_eq!(
        field(&server, &["kv", "get", "-version=1", "-field=password", "secret/prometheus/node"]),
        "old-password-1"
    );
    assert_eq!(field(&server, &["kv", "get", "-field=username", "secret/prometheus/node"]), "prom", "other keys kept");

    let again = as_root(&server).args(["rotate", REF, "--charset", "hex"]).run();
    again.expect_code(0).stdout_contains("new version 3");
    let third = field(&server, &["kv", "get", "-field=password", "secret/prometheus/node"]);
    assert!(third.len() == 32 && third.bytes().all(|c| c.is_ascii_hexdigit()), "32 hex characters");
    again.never_shows(&third).never_shows(&new);
    assert_eq!(field(&server, &["kv", "get", "-version=2", "-field=password", "secret/prometheus/node"]), new);
}

/// A rotation replaces a value: a secret or key that does not exist (a typo in REF) is an error
/// that writes nothing, unless `--create` asks for it to be made.
#[test]
fn rotate_refuses_a_missing_secret_or_key_unless_asked_to_create_it() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/prometheus/node", "password=old-password-1"]);
    for typo in ["{vault: {path: prometheus/nodee, key: password}}", "{vault: {path: prometheus/node, key: pasword}}"] {
        as_root(&server)
            .args(["rotate", typo])
            .run()
            .expect_code(4)
            .stderr_contains("a rotation replaces a value that exists; check REF, or pass --create to make it");
    }
    assert_eq!(field(&server, &["kv", "get", "-field=password", "secret/prometheus/node"]), "old-password-1");
    assert!(!bao(&server, &["kv", "get", "secret/prometheus/node"]).contains("pasword"), "no key was added");
    assert!(!bao(&server, &["kv", "list", "secret/prometheus"]).contains("nodee"), "no secret was created");

    as_root(&server)
        .args(["rotate", "{vault: {path: fresh/one, key: token}}", "--create"])
        .run()
        .expect_code(0)
        .stdout_contains("created vault secret secret/fresh/one (key token), new version 1")
        .stdout_contains("there was no current value to replace");
    assert_eq!(field(&server, &["kv", "get", "-field=token", "secret/fresh/one"]).len(), 32);
}

/// `env` and `exec` cannot be written: refused (exit 5) before they are read, so a variable
/// that is not set is not called missing, and a plugin is not run.
#[test]
fn rotate_refuses_a_read_only_provider() {
    Test::new()
        .env("SOME_VAR", "x")
        .args(["rotate", "{env: {name: SOME_VAR}}"])
        .run()
        .expect_code(5)
        .stderr_contains("`env` does not support writing");
    Test::new().args(["rotate", "{env: {name: NOT_SET_ANYWHERE}}"]).run().expect_code(5);
    let test = Test::new().file("plugin.sh", "touch ran\n");
    let plugin = format!("{{exec: {{command: [/bin/sh, '{}'], id: x}}}}", test.path("plugin.sh").display());
    test.run_with(&["rotate", &plugin]).expect_code(5).stderr_contains("`exec` does not support writing");
    assert!(!test.path("ran").exists(), "the plugin was run");
    Test::new().args(["rotate", "{nope: {path: x}}"]).run().expect_code(3).stderr_contains("unknown provider");
}

/// A token allowed to write and not to read: a write of one key reads the secret first (to keep
/// the other keys, and its version for check-and-set), and the refusal is said to be the read's,
/// with what to grant, not called a refused write.
#[test]
fn a_refused_read_before_a_one_key_write_is_named_as_the_read() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/wo/app", "k=old-wo-fake"]);
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(b"path \"secret/data/wo/*\" { capabilities = [\"create\", \"update\"] }\n").unwrap();
    bao(&server, &["policy", "write", "write-only", &file.path().to_string_lossy()]);
    let token = bao(&server, &["token", "create", "-field=token", "-policy", "write-only"]);
    let write_only = || Test::new().env("VAULT_ADDR", &server.address()).env("VAULT_TOKEN", token.trim());
    write_only()
        .args(["rotate", "{vault: {path: wo/app, key: k}}", "--create"])
        .run()
        .expect_code(5)
        .stderr_contains("permission denied reading it, which a write of one key does first to keep the others")
        .never_shows("old-wo-fake");
    // Without --create, --create is suggested only where it would help, which on Vault is
    // nowhere: its write reads the secret first (for its version to check and set on), so a
    // whole write with --create is refused too.
    let one_key = write_only().args(["rotate", "{vault: {path: wo/app, key: k}}"]).run();
    one_key.expect_code(4).stderr_contains("cannot read the value to rotate");
    assert!(!one_key.stderr.contains("--create"), "{}", one_key.stderr);
    bao(&server, &["kv", "put", "secret/wo/whole", "k=old-wo-fake"]);
    let whole = write_only().args(["rotate", "{vault: {path: wo/whole}}"]).run();
    whole.expect_code(4).stderr_contains("cannot read the value to rotate");
    assert!(!whole.stderr.contains("--create"), "{}", whole.stderr);
    write_only().args(["rotate", "{vault: {path: wo/whole}}", "--create"]).run().expect_code(5);
}

#[test]
fn store_put_get_delete_round_trip_on_kv_v2() {
    let server = Server::openbao();
    let test = as_root(&server).file("value.txt", "first-value-9d3");
    let put = |test: &Test| {
        let mut test_args = vec!["store".to_owned(), "put".to_owned(), REF.to_owned(), "--from-file".to_owned()];
        test_args.push(test.path("value.txt").to_string_lossy().into_owned());
        as_root(&server).args(test_args).run()
    };
    put(&test).expect_code(0).stdout_contains("new version 1").never_shows("first-value-9d3");

    // The second version from stdin, never from argv.
    let mut child = crate::support::binary_command()
        .args(["store", "put", REF])
        .env("VAULT_ADDR", server.address())
        .env("VAULT_TOKEN", "root")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"second-value-4e1").unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("new version 2") && !stdout.contains("second-value-4e1"), "{stdout}");

    let meta = as_root(&server).args(["store", "get", REF]).run();
    meta.expect_code(0).stdout_contains("key password: 16 bytes (selected)").never_shows("second-value-4e1");
    as_root(&server).args(["store", "get", REF, "--reveal"]).run().expect_code(0).stdout_contains("second-value-4e1");
    let old = as_root(&server).args(["store", "get", REF, "--version", "1", "--reveal"]).run();
    old.expect_code(0).stdout_contains("first-value-9d3");

    as_root(&server).args(["store", "delete", REF]).run().expect_code(0).stdout_contains("new version 3");
    // The key is gone: with or without `--reveal`, the same failure.
    for reveal in [false, true] {
        let mut args = vec!["store", "get", REF];
        args.extend(reveal.then_some("--reveal"));
        as_root(&server)
            .args(args)
            .run()
            .expect_code(4)
            .stderr_contains("vault secret secret/prometheus/node has no key \"password\"");
    }
    as_root(&server).args(["store", "delete", "{vault: {path: prometheus/node}}"]).run().expect_code(0);
    as_root(&server).args(["store", "get", REF]).run().expect_code(4).stderr_contains("not found");
}

/// One request to Prometheus's `/-/healthy` with basic auth; returns the status.
fn healthy_as(port: u16, user: &str, password: &str) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let credentials = base64(format!("{user}:{password}").as_bytes());
    write!(
        stream,
        "GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Basic {credentials}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0)
}

#[test]
fn rotate_updates_the_bcrypt_hash_that_prometheus_checks() {
    let promtool = require("promtool", crate::support::PROMETHEUS_INSTALL);
    // An old hash of "old-password" (cost 10), a comment and another user that must stay as they are.
    let web = "# the receiving side\nbasic_auth_users:\n  prom: $2y$10$Z3i9QbH3iFu0hUIZPdGqO.e4xWqRLXjQgSFUVi7gdPvnzwnqZ3wHe # rotated by secret-render\n  other: \"$2y$10$Z3i9QbH3iFu0hUIZPdGqO.e4xWqRLXjQgSFUVi7gdPvnzwnqZ3wHe\"\n";
    let test = Test::new().file("password", "old-password").file("web.yml", web).file("prometheus.yml", "global: {}\n");
    std::fs::set_permissions(test.path("web.yml"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let test = test.args([
        "rotate",
        "{file: {path: password}}",
        "--length",
        "24",
        "--bcrypt-web-config",
        "web.yml",
        "--user",
        "prom",
    ]);
    let outcome = test.run();
    outcome.expect_code(0).stdout_contains("updated the bcrypt hash in web.yml");
    let password = read(&test.path("password"));
    assert_eq!(password.len(), 24);
    outcome.never_shows(&password);
    let rotated = read(&test.path("web.yml"));
    assert_eq!(mode_of(&test.path("web.yml")), 0o640, "the web config keeps its mode");
    let hash = rotated.lines().nth(2).unwrap().split_whitespace().nth(1).unwrap().to_owned();
    assert!(hash.starts_with("$2b$10$"), "{rotated}");
    assert_eq!(
        rotated,
        web.replacen("$2y$10$Z3i9QbH3iFu0hUIZPdGqO.e4xWqRLXjQgSFUVi7gdPvnzwnqZ3wHe", &hash, 1),
        "only one hash changed"
    );

    let check = Command::new(promtool).args(["check", "web-config"]).arg(test.path("web.yml")).output().unwrap();
    assert!(
        check.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );

    let web_flag = format!("--web.config.file={}", test.path("web.yml").display());
    let prometheus = Server::prometheus(&test.path("prometheus.yml"), &[&web_flag]);
    assert_eq!(healthy_as(prometheus.port, "prom", &password), 200, "the new password is accepted");
    assert_eq!(healthy_as(prometheus.port, "prom", "old-password"), 401, "the old one is not");
    assert_eq!(healthy_as(prometheus.port, "prom", "wrong"), 401);
}

#[test]
fn rotate_replaces_the_map_of_a_kv_v1_mount_keeping_other_keys() {
    let server = Server::openbao();
    bao(&server, &["secrets", "enable", "-path=kv1", "-version=1", "kv"]);
    bao(&server, &["kv", "put", "kv1/app", "password=old-v1-password", "username=app"]);
    let outcome = as_root(&server).args(["rotate", "{vault: {mount: kv1, path: app, key: password}}"]).run();
    outcome.expect_code(0);
    let new = field(&server, &["kv", "get", "-field=password", "kv1/app"]);
    assert_eq!(new.len(), 32);
    outcome.never_shows(&new);
    assert_eq!(field(&server, &["kv", "get", "-field=username", "kv1/app"]), "app");
}

/// A one-key write on a KV v1 mount keeps every other field's JSON text as stored: a number
/// keeps its digits (`1.50`, an integer beyond 64 bits), a nested object its values. The map is
/// written back as it was read, with the one key changed.
#[test]
fn a_one_key_write_on_kv_v1_keeps_every_other_fields_json_text() {
    let server = Server::openbao();
    bao(&server, &["secrets", "enable", "-path=kv1", "-version=1", "kv"]);
    let stored =
        r#"{"big":123456789012345678901234567890,"nested":{"a":[2.50,null]},"num":1.50,"password":"old-fake"}"#;
    let (status, body) = http_json("POST", server.port, "/v1/kv1/types", "root", stored);
    assert_eq!(status, 204, "{body}");
    let test = as_root(&server).file("value.txt", "new-fake");
    test.run_with(&["store", "put", "{vault: {path: types, mount: kv1, key: password}}", "--from-file", "value.txt"])
        .expect_code(0)
        .never_shows("new-fake");
    let (status, body) = http_json("GET", server.port, "/v1/kv1/types", "root", "");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(
            r#""data":{"big":123456789012345678901234567890,"nested":{"a":[2.50,null]},"num":1.50,"password":"new-fake"}"#
        ),
        "{body}"
    );
}

/// A one-key write over a KV v2 secret whose latest version is deleted would make a version
/// holding that key alone; it is refused (exit 5) naming the deleted version and how to restore
/// it, and the deleted version's keys come back with `kv undelete`. Over a destroyed version,
/// whose keys nothing can bring back, it goes ahead.
#[test]
fn a_one_key_write_over_a_deleted_kv_v2_version_is_refused() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/prometheus/node", "password=old-fake", "username=prom"]);
    bao(&server, &["kv", "delete", "secret/prometheus/node"]);
    let test = as_root(&server).file("value.txt", "new-fake");
    test.run_with(&["store", "put", REF, "--from-file", "value.txt"])
        .expect_code(5)
        .stderr_contains("its latest version, 1, deleted at ")
        .stderr_contains("`kv undelete -versions=1` restores it, and a new version would hold none of its keys")
        .never_shows("new-fake");
    bao(&server, &["kv", "undelete", "-versions=1", "secret/prometheus/node"]);
    assert_eq!(field(&server, &["kv", "get", "-field=username", "secret/prometheus/node"]), "prom");

    // A destroyed version's keys are gone for good: the write has nothing to keep, and goes on.
    bao(&server, &["kv", "destroy", "-versions=1", "secret/prometheus/node"]);
    test.run_with(&["store", "put", REF, "--from-file", "value.txt"]).expect_code(0).stdout_contains("new version 2");
    assert_eq!(field(&server, &["kv", "get", "-field=password", "secret/prometheus/node"]), "new-fake");
}

/// `store delete` of a secret, or of a key of a secret, that is not there is "not found"
/// (exit 4), on KV v2 and v1, as `store get` says; a KV v2 secret already deleted says so.
#[test]
fn store_delete_of_what_is_not_there_is_not_found() {
    let server = Server::openbao();
    bao(&server, &["secrets", "enable", "-path=kv1", "-version=1", "kv"]);
    for mount in ["secret", "kv1"] {
        for reference in [
            format!("{{vault: {{mount: {mount}, path: nosuch/typo}}}}"),
            format!("{{vault: {{mount: {mount}, path: nosuch/typo, key: password}}}}"),
        ] {
            as_root(&server)
                .args(["store", "delete", &reference])
                .run()
                .expect_code(4)
                .stderr_contains(&format!("vault secret {mount}/nosuch/typo not found"));
        }
    }
    bao(&server, &["kv", "put", "secret/gone", "password=p-fake"]);
    bao(&server, &["kv", "delete", "secret/gone"]);
    as_root(&server)
        .args(["store", "delete", "{vault: {path: gone}}"])
        .run()
        .expect_code(4)
        .stderr_contains("vault secret secret/gone (its latest version, 1, deleted at ");
}

#[test]
fn store_put_replaces_a_file_keeping_its_mode() {
    let files = Test::new().file("token", "file-token-value").file("value", "replacement-value");
    std::fs::set_permissions(files.path("token"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let reference = format!("{{file: {{path: '{}'}}}}", files.path("token").display());
    let get = Test::new().args(["store", "get", &reference]).run();
    get.expect_code(0).stdout_contains("value: 16 bytes").never_shows("file-token-value");
    let put = Test::new().args(["store", "put", &reference, "--from-file"]).arg_path(files.path("value")).run();
    put.expect_code(0).never_shows("replacement-value");
    assert_eq!(read(&files.path("token")), "replacement-value");
    assert_eq!(mode_of(&files.path("token")), 0o640);
    Test::new()
        .args(["store", "get", &reference, "--reveal"])
        .run()
        .expect_code(0)
        .stdout_contains("replacement-value");
}

/// A JSON file with several fields is a document like a Vault secret with several keys: `rotate`
/// or `store put` without `key` is refused (it used to replace the whole document, losing the
/// other fields); with `key` one field is rewritten and the others stay as written; `store
/// delete` removes one field. `rotate` says that a file keeps no previous version.
#[test]
fn a_json_file_is_written_one_key_at_a_time_and_never_replaced_whole() {
    let document = r#"{"client_id": "prom", "client_secret": "old-secret-3f1", "port": 5432}"#;
    let test = Test::new().file("creds.json", document).file("value", "put-secret-7a2");
    test.run_with(&["rotate", "{file: {path: creds.json}}"])
        .expect_code(3)
        .stderr_contains("holds several keys; the body needs `key` (available keys: client_id, client_secret, port)")
        .never_shows("old-secret-3f1");
    test.run_with(&["store", "put", "{file: {path: creds.json}}", "--from-file", "value"]).expect_code(3);
    assert_eq!(read(&test.path("creds.json")), document, "a refused write changed the file");

    let rotated = test.run_with(&["rotate", "{file: {path: creds.json, key: client_secret}}", "--length", "20"]);
    rotated.expect_code(0).stdout_contains("`file` keeps no previous version").never_shows("old-secret-3f1");
    let written: serde_json::Value = serde_json::from_str(&read(&test.path("creds.json"))).unwrap();
    let new = written["client_secret"].as_str().unwrap();
    assert_eq!(new.len(), 20);
    rotated.never_shows(new);
    assert_eq!((written["client_id"].as_str(), written["port"].as_u64()), (Some("prom"), Some(5432)), "{written}");

    test.run_with(&["store", "put", "{file: {path: creds.json, key: client_secret}}", "--from-file", "value"])
        .expect_code(0);
    test.run_with(&["store", "delete", "{file: {path: creds.json, key: port}}"]).expect_code(0);
    let written: serde_json::Value = serde_json::from_str(&read(&test.path("creds.json"))).unwrap();
    assert_eq!(written, serde_json::json!({"client_id": "prom", "client_secret": "put-secret-7a2"}));
    test.run_with(&["store", "delete", "{file: {path: creds.json}}"])
        .expect_code(5)
        .stderr_contains("deletes one `key` of a JSON file, not whole files");

    let yaml = test.file("creds.yml", "client_id: prom\nclient_secret: yaml-secret-4c9\n");
    yaml.run_with(&["rotate", "{file: {path: creds.yml, key: client_secret}}"])
        .expect_code(5)
        .stderr_contains("writing one `key` needs a JSON object file");
    yaml.run_with(&["store", "put", "{file: {path: missing-dir/token}}", "--from-file", "value"])
        .expect_code(5)
        .stderr_contains("cannot write: file ")
        .stderr_contains("missing-dir/token: No such file or directory");
}

/// A rotation on a store that keeps no history says the old value is gone; `--length` beyond
/// what bcrypt reads is refused with `--bcrypt-web-config`; a missing Vault secret without `key`
/// says it does not exist (it used to say it held several keys, none listed).
#[test]
fn rotate_says_what_the_store_keeps_and_refuses_what_bcrypt_would_ignore() {
    let server = Server::openbao();
    bao(&server, &["secrets", "enable", "-path=kv1", "-version=1", "kv"]);
    bao(&server, &["kv", "put", "kv1/app", "password=old-v1-password"]);
    as_root(&server)
        .args(["rotate", "{vault: {mount: kv1, path: app, key: password}}"])
        .run()
        .expect_code(0)
        .stdout_contains("`vault` keeps no previous version");
    bao(&server, &["kv", "put", "secret/two", "token=old-token"]);
    as_root(&server)
        .args(["rotate", "{vault: {path: two, key: token}}"])
        .run()
        .expect_code(0)
        .stdout_contains("the previous version stays readable in the store");
    as_root(&server)
        .args(["rotate", "{vault: {path: missing/three}}", "--create"])
        .run()
        .expect_code(5)
        .stderr_contains(
            "vault secret secret/missing/three: it does not exist yet; a new secret needs the body's `key`",
        );
    let test = Test::new().file("web.yml", "basic_auth_users:\n  prom: $2y$10$abcdefghijklmnopqrstuv\n");
    test.run_with(&[
        "rotate",
        "{file: {path: pw}}",
        "--length",
        "73",
        "--bcrypt-web-config",
        "web.yml",
        "--user",
        "prom",
    ])
    .expect_code(2)
    .stderr_contains("bcrypt uses only the first 72 bytes");
}

/// `store put` refuses an empty value (a pipe from a command that failed gives one, and every
/// renderer would then serve it) and warns about a trailing newline, which `echo` adds and the
/// store keeps; nothing is written for the empty one.
#[test]
fn store_put_refuses_an_empty_value_and_warns_about_a_trailing_newline() {
    let test = Test::new().file("token", "old-token-2c7").file("empty", "").file("echoed", "new-token-8e4\n");
    test.run_with(&["store", "put", "{file: {path: token}}"])
        .expect_code(2)
        .stderr_contains("nothing to write: standard input is empty");
    test.run_with(&["store", "put", "{file: {path: token}}", "--from-file", "empty"])
        .expect_code(2)
        .stderr_contains("nothing to write: empty is empty");
    assert_eq!(read(&test.path("token")), "old-token-2c7");
    test.run_with(&["store", "put", "{file: {path: token}}", "--from-file", "echoed"])
        .expect_code(0)
        .stderr_contains("ends with whitespace (`echo` adds a newline: use `printf %s`)")
        .never_shows("new-token-8e4");
    assert_eq!(read(&test.path("token")), "new-token-8e4\n");
}

/// `store get --version` reads an older KV v2 version; any other provider keeps no versions it
/// could name, so asking is a usage error (exit 2) rather than the current value.
#[test]
fn store_get_version_is_a_usage_error_outside_vault() {
    let test = Test::new().file("token", "file-token-value");
    let reference = format!("{{file: {{path: '{}'}}}}", test.path("token").display());
    test.run_with(&["store", "get", &reference, "--version", "1", "--reveal"])
        .expect_code(2)
        .stderr_contains("--version is supported for vault KV v2 only, not `file`")
        .never_shows("file-token-value");
}

/// A REF naming a `key` the document lacks fails as `--reveal` does (exit 4, the keys there are)
/// rather than listing the keys and exiting 0 as if the key were there; a present key is still
/// listed, marked, without a value.
#[test]
fn store_get_of_a_missing_key_fails_without_reveal_too() {
    let test = Test::new().file("c.json", r#"{"user": "user-value-5b2", "password": "password-value-9d4"}"#);
    for reveal in [false, true] {
        let mut args = vec!["store", "get", "{file: {path: c.json, key: pass}}"];
        args.extend(reveal.then_some("--reveal"));
        test.run_with(&args)
            .expect_code(4)
            .stderr_contains(r#"has no key "pass" (available keys: password, user)"#)
            .never_shows("user-value-5b2")
            .never_shows("password-value-9d4");
    }
    test.run_with(&["store", "get", "{file: {path: c.json, key: password}}"])
        .expect_code(0)
        .stdout_contains("key password: 18 bytes (selected)\nkey user: 14 bytes\n")
        .never_shows("user-value-5b2")
        .never_shows("password-value-9d4");
}

/// Counts the POSTs a reload URL receives.
#[cfg(any(feature = "kubernetes", feature = "aws"))]
fn reload_counter() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/-/reload", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = std::sync::Arc::clone(&count);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let read = stream.read(&mut request).unwrap_or(0);
            if request[..read].starts_with(b"POST ") {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, count)
}

/// The contract's rotation story end to end: `rotate` writes a new version, a running `watch`
/// picks it up on its next refresh and reloads the target exactly once, and unchanged refreshes
/// afterwards reload nothing.
#[cfg(any(feature = "kubernetes", feature = "aws"))]
#[test]
fn a_running_watch_picks_up_a_rotation_and_reloads_once() {
    use std::sync::atomic::Ordering;

    use crate::support::{WatchProcess, http};

    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/prometheus/node", "password=before-rotation-1"]);
    let (url, reloads) = reload_counter();
    let config = "scrape_configs:\n  - job_name: node\n    basic_auth:\n      username: prom\n      password: {vault: {path: prometheus/node, key: password, refresh_interval: 1s}}\n";
    let test = as_root(&server).file("prometheus.yml", config);
    let mut watch = WatchProcess::sidecar(&test, &["prometheus.yml", "--out", "out", "--reload-url", &url]);
    let rendered = read(&test.path("out/prometheus.yml"));
    let secret_file = rendered.lines().find_map(|line| line.trim().strip_prefix("password_file: ")).unwrap();
    let secret_file = std::path::PathBuf::from(secret_file.trim_matches('"'));
    assert_eq!(read(&secret_file), "before-rotation-1");
    assert_eq!(reloads.load(Ordering::SeqCst), 0, "starting reloads nothing");

    as_root(&server).args(["rotate", REF]).run().expect_code(0);
    let rotated = field(&server, &["kv", "get", "-field=password", "secret/prometheus/node"]);
    watch.until("the rotated value in the secret file", Duration::from_secs(30), |_| {
        std::fs::read_to_string(&secret_file).is_ok_and(|value| value == rotated)
    });
    watch.until("one reload", Duration::from_secs(30), |_| reloads.load(Ordering::SeqCst) == 1);
    let fetches = |watch: &WatchProcess| {
        let (_, metrics) = http("GET", watch.port, "/metrics");
        metrics
            .lines()
            .find_map(|line| line.strip_prefix("secret_render_fetch_duration_seconds_count{provider=\"vault\"} "))
            .and_then(|count| count.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let seen = fetches(&watch);
    watch.until("three more unchanged refreshes", Duration::from_secs(30), |watch| fetches(watch) >= seen + 3);
    assert_eq!(reloads.load(Ordering::SeqCst), 1, "unchanged refreshes reload nothing");
    assert_eq!(
        read(&secret_file.with_file_name(format!("{}.previous", secret_file.file_name().unwrap().to_string_lossy()))),
        "before-rotation-1"
    );
}

/// A version another writer creates between `rotate`'s read and its write is not overwritten:
/// the write's check-and-set names the version read, OpenBao refuses it, and `rotate` fails
/// saying so. A proxy in front of OpenBao lets the other write in just before rotate's.
#[test]
fn rotate_refuses_to_overwrite_a_version_another_writer_created_meanwhile() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/prometheus/node", "password=first-fake"]);
    let port = server.port;
    let proxy = FakeServer::start(move |request| {
        if request.method == "POST" && request.path == "/v1/secret/data/prometheus/node" {
            let other = r#"{"data": {"password": "other-writer-fake"}}"#;
            let (status, body) = http_json("POST", port, "/v1/secret/data/prometheus/node", "root", other);
            assert_eq!(status, 200, "the other writer's write: {body}");
        }
        forward(port, request)
    });
    let outcome = Test::new().env("VAULT_ADDR", &proxy.url()).env("VAULT_TOKEN", "root").args(["rotate", REF]).run();
    outcome.expect_code(5).stderr_contains("check-and-set refused");
    assert_eq!(field(&server, &["kv", "get", "-field=password", "secret/prometheus/node"]), "other-writer-fake");
    let metadata = bao(&server, &["kv", "metadata", "get", "-format=json", "secret/prometheus/node"]);
    let metadata: serde_json::Value = serde_json::from_str(&metadata).unwrap();
    assert_eq!(metadata["data"]["current_version"], 2, "rotate wrote no version");
}

/// A directory nothing may be written in, even by root (`chattr +i` as root, mode 0555
/// otherwise); made writable again when dropped, so the test's directory can be removed.
struct UnwritableDir(std::path::PathBuf);

impl UnwritableDir {
    fn new(dir: std::path::PathBuf) -> Self {
        if rustix::process::geteuid().is_root() {
            let status = Command::new("chattr").arg("+i").arg(&dir).status().expect("chattr runs (e2fsprogs)");
            assert!(status.success(), "chattr +i {}: the filesystem must support it", dir.display());
        } else {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        }
        Self(dir)
    }
}

impl Drop for UnwritableDir {
    fn drop(&mut self) {
        if rustix::process::geteuid().is_root() {
            let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
        } else {
            let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
        }
    }
}

/// A web config that cannot be updated is found out before the store is written: the rotation
/// used to write the store's new version and then fail on the web config, leaving the two
/// apart (scrapers sent a password the receiving side refused).
#[test]
fn rotate_writes_nothing_when_the_web_config_cannot_be_updated() {
    let web = "basic_auth_users:\n  prom: $2y$10$Z3i9QbH3iFu0hUIZPdGqO.e4xWqRLXjQgSFUVi7gdPvnzwnqZ3wHe\n";
    let test = Test::new().file("password", "old-password").file("web/web.yml", web);
    let locked = UnwritableDir::new(test.path("web"));
    let outcome =
        test.run_with(&["rotate", "{file: {path: password}}", "--bcrypt-web-config", "web/web.yml", "--user", "prom"]);
    outcome
        .expect_code(5)
        .stderr_contains("cannot update web/web.yml")
        .stderr_contains("nothing was written to the store");
    assert_eq!(read(&test.path("password")), "old-password", "the store was written");
    drop(locked);
    assert_eq!(read(&test.path("web/web.yml")), web);
}

/// `store delete` without a key soft-deletes the KV v2 version it read, not whichever is latest
/// when its request lands: another writer's version added meanwhile stays readable. The output
/// says which version and how to bring it back.
#[test]
fn store_delete_soft_deletes_the_version_it_read() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/race/app", "k=first-fake"]);
    let (port, address) = (server.port, server.address());
    let written = std::sync::atomic::AtomicBool::new(false);
    let vault = FakeServer::start(move |request| {
        if request.method != "GET" && !written.swap(true, std::sync::atomic::Ordering::SeqCst) {
            // Another writer's version lands between the read and the delete.
            crate::support::bao_at(&address, "root", &["kv", "put", "secret/race/app", "k=second-fake"]);
        }
        forward(port, request)
    });
    Test::new()
        .env("VAULT_ADDR", &vault.url())
        .env("VAULT_TOKEN", "root")
        .args(["store", "delete", "{vault: {path: race/app}}"])
        .run()
        .expect_code(0)
        .stdout_contains("soft-deleted version 1: `vault kv undelete -versions=1 secret/race/app` brings it back");
    assert_eq!(bao(&server, &["kv", "get", "-field=k", "secret/race/app"]).trim(), "second-fake");
}
