//! The `vault` provider against a real OpenBao dev server, one per test: KV v1 and v2 (path
//! forms, versions, mount detection), `engine: generic` and its lease, AppRole with a
//! bootstrapped `secret_id`, JWT and TLS client certificate logins, token renewal, every fetch
//! failure an operator meets, one request per distinct path (counted in OpenBao's audit log),
//! named stores, a store's namespace and `token_file`, TLS, a dynamic secret's lease (its end
//! published, renewed until its `max_ttl`, replaced before the token that read it ends), and the
//! time a 1000-reference render takes.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::http_fake::{FakeServer, Reply};
use crate::support::{
    CANARY, Server, Test, WatchProcess, bao, bao_as, bao_binary, base64, free_port, http, http_json, read, try_http,
};

/// A `bao` call's output, trimmed (for `-field=…` output).
fn field(output: String) -> String {
    output.trim().to_owned()
}

/// A test whose binary reads the default store from the environment, as root.
fn as_root(server: &Server) -> Test {
    with_token(server, "root")
}

/// A test whose binary reads the default store from the environment, with `token`.
fn with_token(server: &Server, token: &str) -> Test {
    Test::new().env("VAULT_ADDR", &server.address()).env("VAULT_TOKEN", token)
}

/// Renders `config` as `app.yml` for a generic target with the root token, which must succeed;
/// the rendered text.
fn render_as_root(server: &Server, config: &str) -> String {
    rendered(as_root(server).file("app.yml", config))
}

/// Renders `test`'s `app.yml` for a generic target, which must succeed; the rendered text.
fn rendered(test: Test) -> String {
    let test = test.args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    test.run().expect_code(0);
    read(&test.path("out/app.yml"))
}

/// Writes a policy and returns its name.
fn policy(server: &Server, name: &str, rules: &str) -> String {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), rules).unwrap();
    bao(server, &["policy", "write", name, &file.path().to_string_lossy()]);
    name.to_owned()
}

/// A token with `policy` (and `default`, which allows lookup-self and renew-self).
fn token_with(server: &Server, policy: &str, extra: &[&str]) -> String {
    let mut args = vec!["token", "create", "-field=token", "-policy", policy];
    args.extend_from_slice(extra);
    field(bao(server, &args))
}

/// Polls `probe` every 100 ms until it yields, failing after `timeout`.
fn wait_until<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A token's remaining TTL in seconds, as `bao token lookup` reports it.
fn ttl_of(server: &Server, token: &str) -> u64 {
    let json: serde_json::Value =
        serde_json::from_str(&bao(server, &["token", "lookup", "-format=json", token])).expect("JSON");
    json["data"]["ttl"].as_u64().expect("data.ttl")
}

/// The size of the audit log now, to count only what a later render causes.
fn audit_mark(server: &Server) -> usize {
    std::fs::read(server.audit_log()).map(|log| log.len()).unwrap_or(0)
}

/// How many requests per API path the audit log holds after `mark`.
fn audited_requests(server: &Server, mark: usize) -> BTreeMap<String, usize> {
    let log = read(&server.audit_log());
    let mut counts = BTreeMap::new();
    for line in log[mark..].lines().filter(|line| !line.trim().is_empty()) {
        let entry: serde_json::Value = serde_json::from_str(line).expect("audit entries are JSON");
        if entry["type"] == "request" {
            let path = entry["request"]["path"].as_str().expect("request.path").to_owned();
            *counts.entry(path).or_insert(0) += 1;
        }
    }
    counts
}

/// A path is a name: a space, `#` or `?` in it is sent percent-encoded, so the secret named is
/// the one read (`#b?c` used to be cut off as a fragment, reading `odd path/a` instead, exit 0);
/// `..` segments, which would route out of the mount, are a config error naming the field, and so
/// is `version: 0`, which Vault reads as the latest.
#[test]
fn a_path_with_url_characters_reads_that_secret_and_dot_segments_are_refused() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/odd path/a#b?c", "password=odd-fake"]);
    bao(&server, &["kv", "put", "secret/odd path/a", "password=wrong-secret-fake"]);
    let rendered = render_as_root(&server, "odd: {vault: {path: \"odd path/a#b?c\", key: password}}\n");
    assert_eq!(rendered, "odd: \"odd-fake\"\n");

    let escape = "mounts: {vault: {path: ../../sys/mounts}}\nmount: {vault: {mount: ../sys, path: x}}\n";
    let test = as_root(&server).file("app.yml", escape);
    test.run_with(&["--target", "generic", "render", "app.yml", "--out", "out"])
        .expect_code(3)
        .stderr_contains("app.yml:1: mounts: `path` may not hold `.` or `..` segments")
        .stderr_contains("app.yml:2: mount: `mount` may not hold `.` or `..` segments");
    // Vault reads version 0 as the latest: not a pinned version.
    let test = as_root(&server).file("zero.yml", "pw: {vault: {path: app, key: password, version: 0}}\n");
    test.run_with(&["--target", "generic", "render", "zero.yml", "--out", "out"])
        .expect_code(3)
        .stderr_contains("zero.yml:1: pw: `version` counts from 1; leave it out for the latest");
}

#[test]
fn kv_v2_reads_every_path_form_and_an_older_version() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/prometheus/node", "password=first-fake"]);
    bao(&server, &["kv", "put", "secret/prometheus/node", "password=second-fake"]);
    let config = concat!(
        "short: {vault: {path: prometheus/node, key: password}}\n",
        "cli: {vault: {path: secret/prometheus/node, key: password}}\n",
        "api: {vault: {path: secret/data/prometheus/node, key: password}}\n",
        "old: {vault: {path: prometheus/node, key: password, version: 1}}\n",
    );
    let rendered = render_as_root(&server, config);
    for line in
        ["short: \"second-fake\"\n", "cli: \"second-fake\"\n", "api: \"second-fake\"\n", "old: \"first-fake\"\n"]
    {
        assert!(rendered.contains(line), "{line:?} missing from\n{rendered}");
    }
}

/// A path written the way `bao kv get kv1/app` takes it, naming another mount without `mount:`,
/// is not found under `secret/`, and the error says that `kv1` is a mount of its own and how to
/// write the body; a plain miss under `secret/` gets no such hint.
#[test]
fn a_path_starting_with_another_mount_is_not_found_with_a_hint() {
    let server = Server::openbao();
    bao(&server, &["secrets", "enable", "-path=kv1", "-version=2", "kv"]);
    bao(&server, &["kv", "put", "kv1/app", "password=other-mount-fake"]);
    let test = as_root(&server).file("app.yml", "pw: {vault: {path: kv1/app, key: password}}\n");
    test.run_with(&["--target", "generic", "render", "app.yml", "--out", "out"])
        .expect_code(4)
        .stderr_contains(
            "vault secret secret/kv1/app (`kv1` is a mount of its own: write `mount: kv1, path: app`) not found",
        )
        .never_shows("other-mount-fake");
    let test = as_root(&server).file("app.yml", "pw: {vault: {path: prometheus/none, key: password}}\n");
    let missing = test.run_with(&["--target", "generic", "render", "app.yml", "--out", "out"]);
    missing.expect_code(4).stderr_contains("vault secret secret/prometheus/none not found");
    assert!(!missing.stderr.contains("mount of its own"), "{}", missing.stderr);
}

#[test]
fn a_kv_v1_mount_is_detected_and_read() {
    let server = Server::openbao();
    bao(&server, &["secrets", "enable", "-path=kv1", "-version=1", "kv"]);
    bao(&server, &["kv", "put", "kv1/prometheus/node", "password=v1-fake"]);
    let rendered = render_as_root(&server, "pw: {vault: {path: prometheus/node, key: password, mount: kv1}}\n");
    assert_eq!(rendered, "pw: \"v1-fake\"\n");
}

/// A field that is not a string comes out as the JSON text OpenBao stored: `1.50` keeps its
/// trailing zero, an integer beyond 64 bits and `1e3` keep their digits, a nested object is
/// compact. A KV v1 mount keeps a value's text as written; OpenBao's KV v2 engine itself turns
/// numbers into floating point (`1.50` is stored as `1.5`), so there only a string's escapes
/// are checked, decoded from `data.data` as from v1's `data`.
#[test]
fn a_field_that_is_not_a_string_keeps_its_json_text() {
    let server = Server::openbao();
    bao(&server, &["secrets", "enable", "-path=kv1", "-version=1", "kv"]);
    let fields = r#"{"price": 1.50, "big": 123456789012345678901234567890, "power": 1e3,
        "nested": {"b": [1.0, true, null], "a": "x"}, "quoted": "tab\there \"fake\" \u00e9", "plain": "fake"}"#;
    let (status, body) = http_json("POST", server.port, "/v1/kv1/app", "root", fields);
    assert_eq!(status, 204, "{body}");
    let (status, body) =
        http_json("POST", server.port, "/v1/secret/data/app", "root", &format!("{{\"data\": {fields}}}"));
    assert_eq!(status, 200, "{body}");
    let mut config = String::new();
    for key in ["price", "big", "power", "nested", "quoted", "plain"] {
        config.push_str(&format!("{key}: {{vault: {{path: app, mount: kv1, key: {key}}}}}\n"));
    }
    config.push_str("v2_quoted: {vault: {path: app, key: quoted}}\nv2_plain: {vault: {path: app, key: plain}}\n");
    assert_eq!(
        render_as_root(&server, &config),
        concat!(
            "price: \"1.50\"\n",
            "big: \"123456789012345678901234567890\"\n",
            "power: \"1e3\"\n",
            "nested: \"{\\\"a\\\":\\\"x\\\",\\\"b\\\":[1.0,true,null]}\"\n",
            "quoted: \"tab\\there \\\"fake\\\" é\"\n",
            "plain: \"fake\"\n",
            "v2_quoted: \"tab\\there \\\"fake\\\" é\"\n",
            "v2_plain: \"fake\"\n",
        )
    );
}

/// A KV v2 version that was deleted (soft, `kv delete`) or destroyed answers 404 with its
/// metadata: not found, saying which of the two and, for a deleted one, how to restore it. A
/// version that never existed is a plain "not found".
#[test]
fn a_deleted_or_destroyed_kv_v2_version_is_not_found_saying_so() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/app", "password=first-fake"]);
    bao(&server, &["kv", "put", "secret/app", "password=second-fake"]);
    bao(&server, &["kv", "delete", "secret/app"]);
    bao(&server, &["kv", "destroy", "-versions=1", "secret/app"]);
    for (version, why) in [
        ("", "vault secret secret/app (its latest version, 2, deleted at 20"),
        (", version: 1", "vault secret secret/app version 1 (destroyed) not found"),
        (", version: 7", "vault secret secret/app version 7 not found"),
    ] {
        let test = as_root(&server).file("app.yml", &format!("pw: {{vault: {{path: app, key: password{version}}}}}\n"));
        test.run_with(&["--target", "generic", "render", "app.yml", "--out", "out"])
            .expect_code(4)
            .stderr_contains(why)
            .never_shows("fake");
    }
    let test = as_root(&server).file("app.yml", "pw: {vault: {path: app, key: password}}\n");
    test.run_with(&["--target", "generic", "render", "app.yml", "--out", "out"])
        .expect_code(4)
        .stderr_contains("Z; `kv undelete -versions=2` restores it) not found");
}

/// The first reads of a mount go out as KV v2 while its version is asked; on a v1 mount that
/// read lands on another secret (`data/…`), which must never be served.
#[test]
fn on_a_kv_v1_mount_the_read_made_before_its_version_was_known_is_never_served() {
    let server = Server::openbao();
    bao(&server, &["secrets", "enable", "-path=kv1", "-version=1", "kv"]);
    let mut config = String::new();
    for node in 0..10 {
        bao(&server, &["kv", "put", &format!("kv1/node/{node}"), &format!("password=v1-fake-{node}")]);
        bao(&server, &["kv", "put", &format!("kv1/data/node/{node}"), "password=wrong-fake"]);
        config.push_str(&format!("pw{node}: {{vault: {{path: node/{node}, key: password, mount: kv1}}}}\n"));
    }
    let rendered = render_as_root(&server, &config);
    for node in 0..10 {
        assert!(rendered.contains(&format!("pw{node}: \"v1-fake-{node}\"\n")), "{rendered}");
    }
    assert!(!rendered.contains("wrong-fake"), "{rendered}");
}

#[test]
fn engine_generic_reads_a_path_whose_response_carries_a_lease() {
    let server = Server::openbao();
    bao(&server, &["secrets", "enable", "-path=kv1", "-version=1", "kv"]);
    bao(&server, &["kv", "put", "kv1/db/creds", "username=app-fake", "ttl=30s"]);
    let rendered = render_as_root(&server, "user: {vault: {engine: generic, path: kv1/db/creds, key: username}}\n");
    assert_eq!(rendered, "user: \"app-fake\"\n");
}

#[test]
fn the_store_reports_the_lease_of_a_generic_read() {
    use secret_render::provider::vault::{Auth, Engine, SecretSource, StoreSettings, VaultLocation, VaultStore};
    use secret_render::provider::{Location, Provider, ProviderSet, StoreRef};
    use secret_render::secret::Secret;

    let server = Server::openbao();
    bao(&server, &["secrets", "enable", "-path=kv1", "-version=1", "kv"]);
    bao(&server, &["kv", "put", "kv1/db/creds", "username=app-fake", "ttl=30s"]);
    bao(&server, &["kv", "put", "secret/app", "username=app-fake"]);
    let settings = StoreSettings {
        address: Some(server.address()),
        auth: Auth::Token(SecretSource::Literal(Secret::from_text("root".to_owned()))),
        ..StoreSettings::default()
    };
    let store = VaultStore::new(StoreRef::Default, &settings, 16, ProviderSet::standard()).expect("a store");
    let location = |engine, mount: &str, path: &str| {
        Location::Vault(VaultLocation {
            store: StoreRef::Default,
            engine,
            mount: mount.to_owned(),
            path: path.to_owned(),
            version: None,
        })
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let leased = runtime.block_on(store.fetch(&location(Engine::Generic, "", "kv1/db/creds"))).expect("a read");
    assert_eq!(leased.lease, Some(Duration::from_secs(30)));
    let username = leased.select(Some("username"), &location(Engine::Generic, "", "kv1/db/creds")).unwrap();
    assert_eq!(username.expose(), b"app-fake");
    assert_eq!(leased.expires_at, None, "a KV v1 `ttl` is a refresh hint, not a lease that ends");
    let unleased = runtime.block_on(store.fetch(&location(Engine::Kv, "secret", "app"))).expect("a read");
    assert_eq!(unleased.lease, None, "a KV v2 read carries no lease");
}

/// The RabbitMQ management API as OpenBao's `rabbitmq` secrets engine drives it to issue
/// credentials (`PUT /api/users/NAME`, then `PUT /api/permissions/VHOST/NAME`, each with the
/// admin's basic auth), so that OpenBao itself grants a real lease: no RabbitMQ installs here.
/// Anything else it asks (a `DELETE` when a lease is revoked) is answered as done.
fn rabbitmq_management_fake() -> FakeServer {
    let admin = format!("Basic {}", base64(b"admin:admin-fake"));
    FakeServer::start(move |request| {
        if request.header("authorization") != Some(admin.as_str()) {
            return Reply::json(401, &serde_json::json!({"error": "not_authorised", "reason": "Login failed"}));
        }
        match request.method.as_str() {
            "PUT" if request.path.starts_with("/api/users/") || request.path.starts_with("/api/permissions/") => {
                Reply::text(201, "application/json", "")
            }
            _ => Reply::text(204, "application/json", ""),
        }
    })
}

/// OpenBao with the `rabbitmq` engine at `rabbitmq/` talking to `fake`, whose role `prom`
/// issues credentials under a lease of `ttl`, renewable up to `max_ttl`.
fn rabbitmq_engine(server: &Server, fake: &FakeServer, ttl: &str, max_ttl: &str) {
    bao(server, &["secrets", "enable", "rabbitmq"]);
    let uri = format!("connection_uri={}", fake.url());
    bao(
        server,
        &[
            "write",
            "rabbitmq/config/connection",
            &uri,
            "username=admin",
            "password=admin-fake",
            "verify_connection=false",
        ],
    );
    bao(server, &["write", "rabbitmq/config/lease", &format!("ttl={ttl}"), &format!("max_ttl={max_ttl}")]);
    bao(server, &["write", "rabbitmq/roles/prom", r#"vhosts={"/":{"configure":"","write":".*","read":".*"}}"#]);
}

/// Both keys of the `prom` role's credentials, inlined by the generic target.
const RABBITMQ_CREDENTIALS: &str = "amqp: {username: {vault: {engine: generic, path: rabbitmq/creds/prom, key: username}}, \
                                    password: {vault: {engine: generic, path: rabbitmq/creds/prom, key: password}}}\n";

/// A ready `watch` of [`RABBITMQ_CREDENTIALS`] followed by `extra`, against `server` whose
/// rabbitmq engine leases for `ttl` up to `max_ttl`; the fake the engine talks to, the test
/// directory and the rendered config as first written.
fn watch_rabbitmq_credentials(
    server: &Server,
    (ttl, max_ttl): (&str, &str),
    extra: &str,
) -> (FakeServer, Test, WatchProcess, String) {
    let fake = rabbitmq_management_fake();
    rabbitmq_engine(server, &fake, ttl, max_ttl);
    let test = as_root(server).file("app.yml", &format!("{RABBITMQ_CREDENTIALS}{extra}"));
    let (sidecar, first) = watch_app(&test);
    (fake, test, sidecar, first)
}

/// A ready `watch` of `test`'s `app.yml` for a generic target; the rendered config as first
/// written.
fn watch_app(test: &Test) -> (WatchProcess, String) {
    let sidecar = WatchProcess::sidecar(test, &["--target", "generic", "app.yml", "--out", "out"]);
    let first = read(&test.path("out/app.yml"));
    (sidecar, first)
}

/// A policy `amqp` that reads the `prom` role's credentials and nothing else; its name.
fn amqp_policy(server: &Server) -> String {
    policy(server, "amqp", "path \"rabbitmq/creds/prom\" { capabilities = [\"read\"] }\n")
}

/// A dynamic secret's lease has an end: `watch` publishes it as
/// `secret_render_secret_expiry_timestamp_seconds`, no earlier than an hour after the read and
/// no later than an hour after the answer. A KV secret in the same config has no such series.
#[test]
fn watch_publishes_when_a_dynamic_secrets_lease_ends() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/app", "token=kv-fake"]);
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let (fake, _test, sidecar, _) =
        watch_rabbitmq_credentials(&server, ("3600", "7200"), "token: {vault: {path: app, key: token}}\n");
    let after = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();

    assert_eq!(fake.count("PUT /api/users/"), 1, "one read of the path for both of its keys");
    let expiries = expiry_timestamps(&sidecar);
    assert_eq!(expiries.len(), 2, "the two fields read from the lease, not the KV one: {expiries:?}");
    for (line, at) in expiries {
        assert!(line.contains("provider=\"vault\"") && line.contains("amqp."), "{line}");
        assert!(
            (before + 3600.0 - 1.0..=after + 3600.0 + 1.0).contains(&at),
            "{at} not an hour after {before}..{after}"
        );
    }
}

/// `watch` renews a dynamic secret's lease (`sys/leases/renew`) instead of reading the path
/// again: the credentials, and so the rendered config, stay the same while OpenBao extends the
/// lease, and new ones are read once it no longer can (its `max_ttl` is near), before the old
/// ones expire. With a 4 s lease and an 8 s `max_ttl`, that is about 7 s in.
#[test]
fn watch_renews_a_dynamic_secrets_lease_until_its_max_ttl_then_reads_new_credentials() {
    let server = Server::openbao_audited();
    let mark = audit_mark(&server);
    let (fake, test, mut sidecar, first) = watch_rabbitmq_credentials(&server, ("4s", "8s"), "");

    sidecar.until("a renewal", Duration::from_secs(30), |_| {
        audited_requests(&server, mark).contains_key("sys/leases/renew")
    });
    assert_eq!(fake.count("PUT /api/users/"), 1, "the lease was renewed, and no new user was made");
    assert_eq!(read(&test.path("out/app.yml")), first);

    second_credentials_rendered(&fake, &test, &mut sidecar, &first);
}

/// Waits for a second read of the credentials (a second RabbitMQ user), then for the rendered
/// config to differ from `first`.
fn second_credentials_rendered(fake: &FakeServer, test: &Test, sidecar: &mut WatchProcess, first: &str) {
    sidecar.until("new credentials", Duration::from_secs(30), |_| fake.count("PUT /api/users/") == 2);
    sidecar
        .until("the new credentials rendered", Duration::from_secs(10), |_| read(&test.path("out/app.yml")) != first);
}

/// Reading the config again after it changed builds the store's client anew, which carries on
/// renewing the lease its predecessor held: an edit to the config makes no new credentials.
#[test]
fn a_config_reload_keeps_renewing_a_held_lease() {
    let server = Server::openbao_audited();
    let (fake, test, mut sidecar, first) = watch_rabbitmq_credentials(&server, ("4s", "60s"), "");
    an_edit_leaves_the_lease_renewed(&server, &fake, &test, &mut sidecar, &first);
}

/// Edits `test`'s `app.yml` (a comment on top) and waits for `watch` to read it again, then for
/// a lease renewal: no new credentials were read, and the rendered config is still `first`.
fn an_edit_leaves_the_lease_renewed(
    server: &Server,
    fake: &FakeServer,
    test: &Test,
    sidecar: &mut WatchProcess,
    first: &str,
) {
    let config = read(&test.path("app.yml"));
    std::fs::write(test.path("app.yml"), format!("# edited\n{config}")).unwrap();
    sidecar.until("the reload", Duration::from_secs(30), |sidecar| {
        sidecar.log().contains("the configuration was read again: re-rendering")
    });
    let mark = audit_mark(server);
    sidecar.until("a renewal after the reload", Duration::from_secs(30), |_| {
        audited_requests(server, mark).contains_key("sys/leases/renew")
    });
    assert_eq!(fake.count("PUT /api/users/"), 1, "the new client read new credentials instead of renewing");
    assert_eq!(read(&test.path("out/app.yml")), first);
}

/// An auth failure asks for new credentials, not the same ones for longer: `POST /-/refresh`
/// reads a leased path again at once instead of renewing its lease.
#[test]
fn an_auth_failure_reads_new_dynamic_credentials_instead_of_renewing_the_lease() {
    let server = Server::openbao();
    let (fake, test, mut sidecar, first) = watch_rabbitmq_credentials(&server, ("3600", "7200"), "");

    let (status, body) = http("POST", sidecar.port, "/-/refresh");
    assert!((200..300).contains(&status), "{status} {body}");
    second_credentials_rendered(&fake, &test, &mut sidecar, &first);
}

/// A lease read with a given token that cannot be renewed (here `VAULT_TOKEN`, living 5
/// minutes) ends no later than that token: its published end, and so its refresh, is the
/// token's, not the lease's hour.
#[test]
fn a_lease_read_with_a_token_that_cannot_be_renewed_ends_no_later_than_the_token() {
    let server = Server::openbao();
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let token_args = ["-ttl=5m", "-renewable=false"];
    let (_fake, _test, sidecar) = watch_rabbitmq_credentials_with_a_token(&server, ("3600", "7200"), &token_args);
    let after = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();

    let ends = expiry_timestamps(&sidecar);
    assert_eq!(ends.len(), 2);
    for (line, end) in ends {
        assert!((before + 300.0 - 2.0..=after + 300.0 + 1.0).contains(&end), "{line}: not the token's end");
    }
}

/// A lease Vault will not extend is kept while it lasts: its refreshes, paced by a short-lived
/// token (6 s, renewable), only renew the token. Here the token may renew itself but not its
/// leases, so after the one refused lease renewal (and one read anew) the credentials stay.
#[test]
fn a_lease_vault_will_not_extend_is_kept_while_the_token_is_renewed() {
    let server = Server::openbao_audited();
    let fake = rabbitmq_management_fake();
    rabbitmq_engine(&server, &fake, "60s", "120s");
    let rules = concat!(
        "path \"rabbitmq/creds/prom\" { capabilities = [\"read\"] }\n",
        "path \"auth/token/renew-self\" { capabilities = [\"update\"] }\n",
        "path \"auth/token/lookup-self\" { capabilities = [\"read\"] }\n",
    );
    let policy = policy(&server, "amqp-token-only", rules);
    let token = token_with(&server, &policy, &["-no-default-policy", "-ttl=6s"]);
    let test = with_token(&server, &token).file("app.yml", RABBITMQ_CREDENTIALS);
    let (mut sidecar, _) = watch_app(&test);

    sidecar.until("three token renewals", Duration::from_secs(60), |_| {
        audited_requests(&server, 0).get("auth/token/renew-self").is_some_and(|count| *count >= 3)
    });
    assert_eq!(audited_requests(&server, 0).get("sys/leases/renew"), Some(&1), "one renewal tried");
    assert_eq!(fake.count("PUT /api/users/"), 2, "the first read, and one after the refused renewal");
}

/// A token that may read but not look itself up still renders, and the warning names both
/// causes Vault's 403 may have: an invalid or expired token, or a policy without
/// `lookup-self` (it used to name the policy alone, misleading for an expired token).
#[test]
fn a_token_refused_lookup_self_renders_and_the_warning_names_both_causes() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/prometheus/node", "password=lookup-fake"]);
    let policy = policy(&server, "read-only", "path \"secret/data/prometheus/*\" { capabilities = [\"read\"] }\n");
    let token = token_with(&server, &policy, &["-no-default-policy"]);
    let test = with_token(&server, &token).file("app.yml", "pw: {vault: {path: prometheus/node, key: password}}\n");
    test.run_with(&["--target", "generic", "render", "app.yml", "--out", "out"]).expect_code(0).stderr_contains(
        "Vault refused the token's lookup-self (403): the token is invalid or expired, or its policies lack \
             `auth/token/lookup-self`",
    );
    assert_eq!(read(&test.path("out/app.yml")), "pw: \"lookup-fake\"\n");
}

/// `watch` keeps a given token alive between fetches: with a refresh interval of an hour and
/// a renewable `VAULT_TOKEN` of 4 s, the token is renewed at half its TTL, and still works well
/// past its first 4 s.
#[test]
fn watch_renews_a_given_token_that_would_lapse_between_refreshes() {
    let server = Server::openbao_audited();
    let (test, mut sidecar, token) = watch_with_a_token_of_4_seconds(&server);
    token_outlives_its_first_ttl(&server, &test, &mut sidecar, &token, 0);
}

/// A config reload carries the given token's renewal on: the rebuilt store client takes over
/// the login (the token is still the one given), so the token does not lapse while nothing is
/// fetched.
#[test]
fn a_config_reload_keeps_renewing_a_given_token() {
    let server = Server::openbao_audited();
    let (test, mut sidecar, token) = watch_with_a_token_of_4_seconds(&server);
    std::fs::write(test.path("app.yml"), format!("# edited\n{}", read(&test.path("app.yml")))).unwrap();
    sidecar.until("the reload", Duration::from_secs(30), |sidecar| {
        sidecar.log().contains("the configuration was read again: re-rendering")
    });
    token_outlives_its_first_ttl(&server, &test, &mut sidecar, &token, audit_mark(&server));
}

/// A config reload does not carry a login over once its token is no longer the one given:
/// with `auth: {token_file: …}`, after the token in use is revoked (the value goes `stale`) and
/// the file is given a new one, an edit to the config makes the rebuilt store client read the
/// file afresh, so the new value renders and the state is `success` again.
#[test]
fn a_config_reload_drops_the_login_of_a_token_file_that_now_holds_another_token() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/prometheus/node", "password=before-reload-fake"]);
    let reader = policy(&server, "reader", "path \"secret/data/prometheus/*\" { capabilities = [\"read\"] }\n");
    let (revoked, given) = (token_with(&server, &reader, &[]), token_with(&server, &reader, &[]));
    let body = "pw: {vault: {path: prometheus/node, key: password, refresh_interval: 1s}}\n";
    let test = Test::new()
        .file("app.yml", &prod_store_config(&server, "{token_file: secrets/token}", body))
        .file("secrets/token", &format!("{revoked}\n"));
    let (mut sidecar, first) = watch_app(&test);
    assert_eq!(first, "pw: \"before-reload-fake\"\n");

    bao(&server, &["token", "revoke", &revoked]);
    sidecar.until("the revoked token to leave the value stale", Duration::from_secs(30), |sidecar| {
        vault_state(sidecar).as_deref() == Some("stale")
    });
    std::fs::write(test.path("secrets/token"), format!("{given}\n")).unwrap();
    bao(&server, &["kv", "put", "secret/prometheus/node", "password=after-reload-fake"]);
    std::fs::write(test.path("app.yml"), format!("# edited\n{}", read(&test.path("app.yml")))).unwrap();
    sidecar.until("the new value read with the file's new token", Duration::from_secs(30), |_| {
        read(&test.path("out/app.yml")) == "pw: \"after-reload-fake\"\n"
    });
    sidecar.until("the state to be success", Duration::from_secs(10), |sidecar| {
        vault_state(sidecar).as_deref() == Some("success")
    });
}

/// A given token that Vault refuses is read again from where it was given: after the token in
/// `token_file` is revoked and the file given a new one (a Vault Agent sink, a CI job's
/// rewrite), the next refresh reads with the new token, with no config edit or SIGHUP. Also for
/// `~/.vault-token` with no `auth` at all.
#[test]
fn a_refused_token_is_replaced_by_the_one_its_file_holds_now() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/prometheus/node", "password=before-fake"]);
    let reader = policy(&server, "reader", "path \"secret/data/prometheus/*\" { capabilities = [\"read\"] }\n");
    let body = "pw: {vault: {path: prometheus/node, key: password, refresh_interval: 1s}}\n";
    for given_in_home in [false, true] {
        let (revoked, given) = (token_with(&server, &reader, &[]), token_with(&server, &reader, &[]));
        bao(&server, &["kv", "put", "secret/prometheus/node", "password=before-fake"]);
        let (test, token_file) = if given_in_home {
            let test = Test::new()
                .env("VAULT_ADDR", &server.address())
                .env("HOME", "home")
                .file("app.yml", body)
                .file("home/.vault-token", &revoked);
            (test, "home/.vault-token")
        } else {
            let test = Test::new()
                .file("app.yml", &prod_store_config(&server, "{token_file: secrets/token}", body))
                .file("secrets/token", &format!("{revoked}\n"));
            (test, "secrets/token")
        };
        let (mut sidecar, first) = watch_app(&test);
        assert_eq!(first, "pw: \"before-fake\"\n");
        bao(&server, &["token", "revoke", &revoked]);
        std::fs::write(test.path(token_file), format!("{given}\n")).unwrap();
        bao(&server, &["kv", "put", "secret/prometheus/node", "password=after-fake"]);
        sidecar.until("the new value read with the file's new token", Duration::from_secs(30), |_| {
            read(&test.path("out/app.yml")) == "pw: \"after-fake\"\n"
        });
        assert_eq!(vault_state(&sidecar).as_deref(), Some("success"), "{token_file}");
    }
}

/// A token given through a provider map or `VAULT_TOKEN` is used without the whitespace at
/// its ends, as a `token_file` is: `echo "$TOKEN" > file` or a YAML block scalar leave a newline.
#[test]
fn a_given_token_is_trimmed_wherever_it_comes_from() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/app", "password=trimmed-fake"]);
    let config = "pw: {vault: {path: app, key: password}}\n";
    let test = Test::new().env("VAULT_ADDR", &server.address()).env("VAULT_TOKEN", "root\n").file("app.yml", config);
    assert_eq!(rendered(test), "pw: \"trimmed-fake\"\n");
    let body = "pw: {vault: {path: app, key: password}}\n";
    let test = Test::new()
        .file("app.yml", &prod_store_config(&server, "{token: {file: {path: token}}}", body))
        .file("token", " root\n");
    assert_eq!(rendered(test), "pw: \"trimmed-fake\"\n");
}

/// The state whose `secret_render_secret_state` series is 1 for the one `vault` secret `watch`
/// holds.
fn vault_state(sidecar: &WatchProcess) -> Option<String> {
    let (status, metrics) = http("GET", sidecar.port, "/metrics");
    assert_eq!(status, 200, "{metrics}");
    metrics
        .lines()
        .filter(|line| line.starts_with("secret_render_secret_state{") && line.contains("provider=\"vault\""))
        .filter(|line| line.rsplit(' ').next().and_then(|value| value.parse::<f64>().ok()) == Some(1.0))
        .find_map(|line| Some(line.split("state=\"").nth(1)?.split('"').next()?.to_owned()))
}

/// Before every secret has a value (here an `env` variable that is not set), `watch` retries
/// the missing one and still renews the Vault token of the one it has.
#[test]
fn watch_renews_the_token_while_it_waits_for_a_missing_secret() {
    let server = Server::openbao_audited();
    let (test, token) = app_with_a_token_of_4_seconds(&server, "missing: {env: {name: SECRET_RENDER_TEST_UNSET}}\n");
    let mut sidecar = WatchProcess::start_with(&test, &["--target", "generic", "app.yml", "--out", "out"], &[]);
    sidecar.until("the token renewed three times", Duration::from_secs(30), |_| {
        audited_requests(&server, 0).get("auth/token/renew-self").is_some_and(|count| *count >= 3)
    });
    bao_as(&server, &token, &["token", "lookup"]);
    assert!(!test.path("out/app.yml").exists(), "rendered before every secret had a value");
}

/// A ready `watch` of one KV secret with a renewable `VAULT_TOKEN` of 4 s (the refresh interval
/// an hour); the test, the process and the token.
fn watch_with_a_token_of_4_seconds(server: &Server) -> (Test, WatchProcess, String) {
    let (test, token) = app_with_a_token_of_4_seconds(server, "");
    let (sidecar, _) = watch_app(&test);
    (test, sidecar, token)
}

/// A test whose `app.yml` reads one KV secret, then `extra`, with a renewable `VAULT_TOKEN` of
/// 4 s that may read it; the test and the token.
fn app_with_a_token_of_4_seconds(server: &Server, extra: &str) -> (Test, String) {
    bao(server, &["kv", "put", "secret/app", "password=renewed-fake"]);
    let policy = policy(server, "app", "path \"secret/data/app\" { capabilities = [\"read\"] }\n");
    let token = token_with(server, &policy, &["-ttl=4s"]);
    let config = format!("pw: {{vault: {{path: app, key: password}}}}\n{extra}");
    (with_token(server, &token).file("app.yml", &config), token)
}

/// How many reads the `vault` provider has made, from the admin `/metrics`.
fn vault_fetches(sidecar: &WatchProcess) -> f64 {
    let (_, text) = http("GET", sidecar.port, "/metrics");
    text.lines()
        .filter(|line| {
            line.starts_with("secret_render_fetch_duration_seconds_count{") && line.contains("provider=\"vault\"")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A given token whose renewals reach its max TTL is warned about before it ends, with what to
/// do: the first sign used to be every read refused once it had ended.
#[test]
fn a_given_token_nearing_its_max_ttl_is_warned_about_before_it_ends() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/app", "password=capped-fake"]);
    let policy = policy(&server, "app", "path \"secret/data/app\" { capabilities = [\"read\"] }\n");
    let token = token_with(&server, &policy, &["-ttl=2s", "-explicit-max-ttl=6s"]);
    let test = with_token(&server, &token).file("app.yml", "pw: {vault: {path: app, key: password}}\n");
    let (mut sidecar, _) = watch_app(&test);
    const WARNING: &str = "the Vault token nears its max TTL and cannot be renewed past it";
    let started = Instant::now();
    sidecar.until("the warning", Duration::from_secs(30), |sidecar| sidecar.log().contains(WARNING));
    assert!(started.elapsed() < Duration::from_secs(6), "warned only after the token ended");
    // The read at start and the warning are all this token's reads and warnings.
    assert_eq!(vault_fetches(&sidecar), 1.0);
    assert_eq!(sidecar.log().matches(WARNING).count(), 1, "{}", sidecar.log());
    assert!(!sidecar.log().contains(NOT_RENEWABLE), "a renewable token:\n{}", sidecar.log());
}

const NOT_RENEWABLE: &str = "the Vault token is not renewable";

/// A given token Vault says cannot be renewed (a batch token, `-renewable=false`) is warned
/// about once, as `watch` starts, with when it ends and what to do: nothing can keep it alive,
/// and the first sign used to be every read refused once it had ended.
#[test]
fn a_given_token_that_cannot_be_renewed_is_warned_about_as_watch_starts() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/app", "password=fixed-end-fake"]);
    let policy = policy(&server, "app", "path \"secret/data/app\" { capabilities = [\"read\"] }\n");
    let token = token_with(&server, &policy, &["-ttl=1h", "-renewable=false"]);
    let test = with_token(&server, &token).file("app.yml", "pw: {vault: {path: app, key: password}}\n");
    let (mut sidecar, _) = watch_app(&test);
    sidecar.until("the warning", Duration::from_secs(30), |sidecar| sidecar.log().contains(NOT_RENEWABLE));
    let log = sidecar.log();
    let warning = log.lines().find(|line| line.contains(NOT_RENEWABLE)).unwrap();
    let ends_in: u64 =
        warning.split("ends_in_secs=").nth(1).and_then(|rest| rest.split(' ').next()?.parse().ok()).unwrap();
    assert!((3000..=3600).contains(&ends_in), "{warning}");
    assert!(warning.contains("token_file is read again"), "{warning}");
    // Once: another fetch (an auth failure reported) and the loop's look at its deadlines
    // after it warn no more.
    assert_eq!(http("POST", sidecar.port, "/-/refresh").0, 202);
    sidecar.until("the second read", Duration::from_secs(30), |sidecar| vault_fetches(sidecar) >= 2.0);
    assert_eq!(sidecar.log().matches(NOT_RENEWABLE).count(), 1, "{}", sidecar.log());
}

/// Waits for three renewals of `token` after `mark` in the audit log, which take longer than
/// its 4 s TTL, with no read of the secret meanwhile; then the token still works.
fn token_outlives_its_first_ttl(server: &Server, test: &Test, sidecar: &mut WatchProcess, token: &str, mark: usize) {
    let reads = audited_requests(server, 0).get("secret/data/app").copied();
    let started = Instant::now();
    sidecar.until("the token renewed three times", Duration::from_secs(30), |_| {
        audited_requests(server, mark).get("auth/token/renew-self").is_some_and(|count| *count >= 3)
    });
    assert!(started.elapsed() > Duration::from_secs(4), "three renewals inside the first TTL");
    bao_as(server, token, &["token", "lookup"]);
    assert_eq!(audited_requests(server, 0).get("secret/data/app").copied(), reads, "nothing fetched meanwhile");
    assert_eq!(read(&test.path("out/app.yml")), "pw: \"renewed-fake\"\n");
}

/// A ready `watch` of [`RABBITMQ_CREDENTIALS`] with a token of the [`amqp_policy`] made with
/// `token_args`, against `server` whose rabbitmq engine leases for `ttl` up to `max_ttl`; the
/// fake the engine talks to and the test directory.
fn watch_rabbitmq_credentials_with_a_token(
    server: &Server,
    (ttl, max_ttl): (&str, &str),
    token_args: &[&str],
) -> (FakeServer, Test, WatchProcess) {
    let fake = rabbitmq_management_fake();
    rabbitmq_engine(server, &fake, ttl, max_ttl);
    let token = token_with(server, &amqp_policy(server), token_args);
    let test = with_token(server, &token).file("app.yml", RABBITMQ_CREDENTIALS);
    let (sidecar, _) = watch_app(&test);
    (fake, test, sidecar)
}

/// Every `secret_render_secret_expiry_timestamp_seconds` series `watch` publishes, with its
/// value.
fn expiry_timestamps(sidecar: &WatchProcess) -> Vec<(String, f64)> {
    let (status, metrics) = http("GET", sidecar.port, "/metrics");
    assert_eq!(status, 200, "{metrics}");
    metrics
        .lines()
        .filter(|line| line.starts_with("secret_render_secret_expiry_timestamp_seconds{"))
        .filter_map(|line| Some((line.to_owned(), line.rsplit(' ').next()?.parse::<f64>().ok()?)))
        .collect()
}

/// A token whose policies lack `sys/leases/renew` (no `default` policy) has its dynamic
/// credentials read anew as their lease runs out: the refused renewal is warned about once and
/// not tried again while that token is in use, rather than costing a refused request on every
/// refresh.
#[test]
fn a_token_that_may_not_renew_leases_reads_credentials_anew_without_asking_again() {
    let server = Server::openbao_audited();
    let (fake, _test, mut sidecar) =
        watch_rabbitmq_credentials_with_a_token(&server, ("2s", "60s"), &["-no-default-policy"]);

    sidecar.until("three reads of credentials", Duration::from_secs(30), |_| fake.count("PUT /api/users/") >= 3);
    assert_eq!(audited_requests(&server, 0).get("sys/leases/renew"), Some(&1), "one renewal tried");
    assert_eq!(sidecar.log().matches("refused to renew a lease").count(), 1, "{}", sidecar.log());
}

/// A `watch` of the `prom` role's credentials (leased for an hour) through a store that logs in
/// with AppRole, whose tokens live `token_ttl`, renewable up to `token_max_ttl`; the fake the
/// engine talks to, the test directory and the rendered config as first written.
fn watch_rabbitmq_credentials_under_approle(
    server: &Server,
    token_ttl: &str,
    token_max_ttl: &str,
) -> (FakeServer, Test, WatchProcess, String) {
    let fake = rabbitmq_management_fake();
    rabbitmq_engine(server, &fake, "3600", "7200");
    let ttls = [format!("token_ttl={token_ttl}"), format!("token_max_ttl={token_max_ttl}")];
    let (role_id, secret_id) = approle_role(server, &amqp_policy(server), &[&ttls[0], &ttls[1]]);
    let credentials = RABBITMQ_CREDENTIALS.replace("engine: generic", "store: prod, engine: generic");
    let config = approle_config_with(server, &role_id, &credentials);
    let test = Test::new().file("app.yml", &config).file("secret_id", &secret_id);
    let (sidecar, first) = watch_app(&test);
    (fake, test, sidecar, first)
}

/// A lease dies with the token that read it: OpenBao revokes a token's leases when the token
/// expires, whatever their own TTL (an hour here). With AppRole tokens of 4 s renewable up to
/// 8 s, `watch` keeps the token alive while it can and, once it cannot, logs in again and reads
/// new credentials: when OpenBao revokes the first ones (the fake sees their user deleted),
/// the rendered config already holds others.
#[test]
fn dynamic_credentials_are_replaced_before_the_token_that_read_them_expires() {
    let server = Server::openbao();
    let (fake, test, mut sidecar, first) = watch_rabbitmq_credentials_under_approle(&server, "4s", "8s");

    sidecar.until("OpenBao to revoke the first credentials with their token", Duration::from_secs(30), |_| {
        fake.count("DELETE /api/users/") >= 1
    });
    assert!(read(&test.path("out/app.yml")) != first, "the config still held the credentials OpenBao revoked");
    assert_eq!(fake.count("PUT /api/users/"), 2, "one read per token");
}

/// A config reload under AppRole carries on with the token that holds the lease: the rebuilt
/// client takes over the login as well as the lease, so the lease is renewed rather than new
/// credentials read under a new token. (While renewals can still move the token's end, the
/// lease's own end, an hour away, is the one published.)
#[test]
fn a_config_reload_keeps_the_login_that_holds_a_lease() {
    let server = Server::openbao_audited();
    let (fake, test, mut sidecar, first) = watch_rabbitmq_credentials_under_approle(&server, "4s", "60s");
    let in_an_hour = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64() + 3590.0;
    let ends = expiry_timestamps(&sidecar);
    assert_eq!(ends.len(), 2);
    for (line, end) in ends {
        assert!(end > in_an_hour, "{line}: the 4 s token's end, not the lease's");
    }
    an_edit_leaves_the_lease_renewed(&server, &fake, &test, &mut sidecar, &first);
    assert_eq!(audited_requests(&server, 0).get("auth/approle/login"), Some(&1), "one login");
}

/// AppRole enabled, with a role whose policy reads `secret/data/prometheus/*`; returns the
/// role_id and a secret_id.
fn approle(server: &Server) -> (String, String) {
    bao(server, &["kv", "put", "secret/prometheus/node", "password=approle-fake"]);
    let policy = policy(server, "prom", "path \"secret/data/prometheus/*\" { capabilities = [\"read\"] }\n");
    approle_role(server, &policy, &["token_ttl=1h"])
}

/// AppRole enabled, with a role `prom` whose tokens get `policy` and the role settings
/// `settings`; returns its role_id and a secret_id.
fn approle_role(server: &Server, policy: &str, settings: &[&str]) -> (String, String) {
    bao(server, &["auth", "enable", "approle"]);
    let policies = format!("token_policies={policy}");
    let mut args = vec!["write", "auth/approle/role/prom", &policies];
    args.extend_from_slice(settings);
    bao(server, &args);
    let role_id = field(bao(server, &["read", "-field=role_id", "auth/approle/role/prom/role-id"]));
    let secret_id = field(bao(server, &["write", "-f", "-field=secret_id", "auth/approle/role/prom/secret-id"]));
    (role_id, secret_id)
}

/// The body every login test reads: `pw`, the password of `secret/prometheus/node`.
const PW_FROM_PROD: &str = "pw: {vault: {path: prometheus/node, key: password}}\n";

fn approle_config(server: &Server, role_id: &str) -> String {
    approle_config_with(server, role_id, PW_FROM_PROD)
}

/// A config whose store `prod` logs in with AppRole as `role_id` (the secret_id read from the
/// file `secret_id`), followed by `body`.
fn approle_config_with(server: &Server, role_id: &str, body: &str) -> String {
    let auth = format!("{{approle: {{role_id: {role_id}, secret_id: {{file: {{path: secret_id}}}}}}}}");
    prod_store_config(server, &auth, body)
}

/// A config whose store `prod` is `server`, logging in with `auth` (a flow mapping), followed by
/// `body`.
fn prod_store_config(server: &Server, auth: &str, body: &str) -> String {
    format!("secret_stores:\n  prod:\n    vault:\n      address: {}\n      auth: {auth}\n{body}", server.address())
}

#[test]
fn approle_logs_in_with_a_secret_id_bootstrapped_from_a_file() {
    let server = Server::openbao();
    let (role_id, secret_id) = approle(&server);
    let test = Test::new()
        .file("app.yml", &approle_config(&server, &role_id))
        .file("secret_id", &format!("{secret_id}\n"))
        .args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    test.run().expect_code(0).never_shows(&secret_id);
    assert_eq!(read(&test.path("out/app.yml")), "pw: \"approle-fake\"\n");
}

#[test]
fn approle_with_a_wrong_secret_id_fails_to_log_in_without_showing_it() {
    let server = Server::openbao_audited();
    let (role_id, _) = approle(&server);
    let wrong = "0b7c59a4-1f3e-4d7e-9a55-fake-secret-id";
    let test = Test::new()
        .file("app.yml", &approle_config(&server, &role_id))
        .file("secret_id", wrong)
        .args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    let mark = audit_mark(&server);
    let outcome = test.run();
    outcome.expect_code(4).stderr_contains("login").stderr_contains("permission denied").stderr_contains("pw");
    outcome.never_shows(wrong);
    // The mount detection, the read and the token's TTL lookup each need a token: refused
    // credentials are sent once, not once each (Vault locks a role out after 5 failures).
    assert_eq!(audited_requests(&server, mark).get("auth/approle/login"), Some(&1), "one refused login");
}

/// A `mount` that does not exist is warned about as possibly missing (Vault answers the mount
/// lookup 403 either way), not only as a lookup the token may not make, and the read fails as
/// not found.
#[test]
fn a_mount_that_does_not_exist_is_named_as_possibly_missing() {
    let server = Server::openbao();
    as_root(&server)
        .file("app.yml", "pw: {vault: {mount: nosuch, path: app, key: password}}\n")
        .args(["--target", "generic", "render", "app.yml", "--out", "out"])
        .run()
        .expect_code(4)
        .stderr_contains("cannot read sys/internal/ui/mounts/nosuch")
        .stderr_contains("the mount does not exist, or the token may not read its settings")
        .stderr_contains("not found");
}

/// Vault is reached through the environment's proxy as the Vault CLI and Agent reach it
/// (Go's `ProxyFromEnvironment`): `HTTP_PROXY` for an `http://` address, unless `NO_PROXY`
/// names the host. The address here, `vault.invalid`, resolves nowhere, so a read that
/// succeeds went through the proxy (the fault proxy, which relays an absolute-form request to
/// OpenBao as it is).
#[test]
fn vault_is_reached_through_the_environments_proxy_unless_no_proxy_names_it() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/app", "password=proxied-fake"]);
    let proxy = crate::fault_proxy::FaultProxy::start(server.port);
    let behind_proxy = |no_proxy: &str| {
        Test::new()
            .env("VAULT_ADDR", "http://vault.invalid:8200")
            .env("VAULT_TOKEN", "root")
            .behind_proxy(&proxy.address(), no_proxy)
            .file("app.yml", "pw: {vault: {path: app, key: password}}\n")
    };
    assert_eq!(rendered(behind_proxy("")), "pw: \"proxied-fake\"\n");
    let proxied = proxy.requests();
    assert!(proxied >= 1, "no request went through the proxy");
    behind_proxy("example.com,.invalid")
        .run_with(&["--target", "generic", "render", "app.yml", "--out", "out"])
        .expect_code(4)
        .stderr_contains("vault.invalid")
        .never_shows("proxied-fake");
    assert_eq!(proxy.requests(), proxied, "a host NO_PROXY names was asked through the proxy");
    // A proxy that wants credentials says so.
    proxy.set(crate::fault_proxy::Fault::Status(407));
    behind_proxy("")
        .run_with(&["--target", "generic", "render", "app.yml", "--out", "out"])
        .expect_code(4)
        .stderr_contains("the proxy asks for credentials (HTTP 407): give them in its URL");
    // A proxy that cannot be reached is named in the error, not taken for Vault.
    let dead_proxy = format!("http://127.0.0.1:{}", free_port());
    Test::new()
        .env("VAULT_ADDR", "http://vault.invalid:8200")
        .env("VAULT_TOKEN", "root")
        .env("HTTP_PROXY", &dead_proxy)
        .file("app.yml", "pw: {vault: {path: app, key: password}}\n")
        .run_with(&["--target", "generic", "render", "app.yml", "--out", "out"])
        .expect_code(4)
        .stderr_contains("(http://vault.invalid:8200, through the proxy HTTP_PROXY names) is unreachable");
}

/// Like Go's `ProxyFromEnvironment`, a Vault on the loopback interface (`127.0.0.1`,
/// `localhost`: a Vault Agent or a dev server beside the target) is never asked through the
/// proxy, which could not reach it; `VAULT_PROXY_ADDR` sends every request through the proxy
/// it names, as the Vault CLI does.
#[test]
fn a_vault_on_loopback_is_reached_directly_unless_vault_proxy_addr_is_set() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/app", "password=direct-fake"]);
    let dead_proxy = format!("http://127.0.0.1:{}", free_port());
    for address in [server.address(), format!("http://localhost:{}", server.port)] {
        let test = with_token(&server, "root")
            .env("VAULT_ADDR", &address)
            .behind_proxy(&dead_proxy, "")
            .file("app.yml", "pw: {vault: {path: app, key: password}}\n");
        assert_eq!(rendered(test), "pw: \"direct-fake\"\n", "{address}");
    }
    let proxy = crate::fault_proxy::FaultProxy::start(server.port);
    let test = as_root(&server)
        .env("VAULT_PROXY_ADDR", &proxy.address())
        .file("app.yml", "pw: {vault: {path: app, key: password}}\n");
    assert_eq!(rendered(test), "pw: \"direct-fake\"\n");
    assert!(proxy.requests() >= 1, "VAULT_PROXY_ADDR was not used");
    let test = as_root(&server)
        .env("VAULT_PROXY_ADDR", &dead_proxy)
        .file("app.yml", "pw: {vault: {path: app, key: password}}\n");
    test.run_with(&["--target", "generic", "render", "app.yml", "--out", "out"]).expect_code(4);
}

/// A proxy variable that is not a URL is a config error naming the variable, not its value,
/// which may carry the proxy's password; one for the other scheme (`HTTPS_PROXY` beside an
/// `http://` Vault) is not used, and so is no error.
#[test]
fn a_proxy_variable_that_is_not_a_url_is_named_without_its_value() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/app", "password=other-scheme-fake"]);
    let proxy = crate::fault_proxy::FaultProxy::start(server.port);
    let test = Test::new()
        .env("VAULT_ADDR", "http://vault.invalid:8200")
        .env("VAULT_TOKEN", "root")
        .env("HTTP_PROXY", &proxy.address())
        .env("HTTPS_PROXY", "http://proxy-user:fake-proxy-password@[not-a-host")
        .file("app.yml", "pw: {vault: {path: app, key: password}}\n");
    assert_eq!(rendered(test), "pw: \"other-scheme-fake\"\n");
    for name in ["VAULT_PROXY_ADDR", "HTTP_PROXY"] {
        let test = as_root(&server)
            .env("VAULT_ADDR", "http://vault.invalid:8200")
            .env(name, "http://proxy-user:fake-proxy-password@[not-a-host")
            .file("app.yml", "pw: {vault: {path: app, key: password}}\n");
        test.run_with(&["--target", "generic", "render", "app.yml", "--out", "out"])
            .expect_code(3)
            .stderr_contains(&format!("the default Vault store: {name} is not a proxy URL (http://HOST:PORT)"))
            .never_shows("fake-proxy-password");
    }
}

/// A `ca_file` holding no certificate (a wrong file named) is an error at start naming it; it
/// used to be taken as no CA at all, and the connection failed later as an unknown issuer.
#[test]
fn a_ca_file_holding_no_certificate_is_refused_naming_it() {
    let config = "secret_stores:\n  prod:\n    vault:\n      address: https://127.0.0.1:8200\n      ca_file: role_id\n      \
                  auth: {token: unused}\npw: {vault: {store: prod, path: a, key: b}}\n";
    Test::new()
        .file("role_id", "not-a-certificate\n")
        .file("app.yml", config)
        .args(["--target", "generic", "render", "app.yml", "--out", "out"])
        .run()
        .expect_code(3)
        .stderr_contains("role_id holds no PEM certificate");
}

/// `VAULT_ADDR` without a scheme (`127.0.0.1:8200`, as a port-forward prints it) says what to
/// write instead of the URL parser's "relative URL without a base".
#[test]
fn an_address_without_a_scheme_says_to_write_one() {
    Test::new()
        .env("VAULT_ADDR", "127.0.0.1:8200")
        .env("VAULT_TOKEN", "unused")
        .file("app.yml", "pw: {vault: {path: a, key: b}}\n")
        .args(["--target", "generic", "render", "app.yml", "--out", "out"])
        .run()
        .expect_code(3)
        .stderr_contains(
            "address \"127.0.0.1:8200\" has no scheme: write http://127.0.0.1:8200 or https://127.0.0.1:8200",
        );
}

/// A bootstrapped secret that cannot be fetched (the `secret_id` file is missing) is named where
/// it is written, under `secret_stores`, not only as the failure of the fields using the store.
#[test]
fn a_missing_bootstrapped_secret_is_named_at_its_place_in_the_store_settings() {
    let server = Server::openbao();
    let (role_id, _) = approle(&server);
    let test = Test::new().file("app.yml", &approle_config(&server, &role_id));
    test.run_with(&["--target", "generic", "render", "app.yml", "--out", "out"])
        .expect_code(4)
        .stderr_contains("pw: vault: secret_stores.prod.vault.auth.approle.secret_id: file ")
        .stderr_contains("secret_id not found");
}

/// Under `watch`, refused credentials are not sent again at each retry — that would lock the
/// role out within seconds, after which even the right ones are refused — but fixed ones are
/// sent at the next retry.
#[test]
fn a_refused_approle_login_is_not_retried_until_its_credentials_change() {
    let server = Server::openbao_audited();
    let (role_id, secret_id) = approle(&server);
    let test = Test::new()
        .file("app.yml", &approle_config(&server, &role_id))
        .file("secret_id", "0b7c59a4-1f3e-4d7e-9a55-fake-secret-id");
    let mark = audit_mark(&server);
    let mut sidecar = WatchProcess::start_with(&test, &["--target", "generic", "app.yml", "--out", "out"], &[]);
    sidecar.until("three failed fetches (1 s and 2 s retries)", Duration::from_secs(30), |sidecar| {
        sidecar.log().matches("not every secret has a value yet").count() >= 3
    });
    assert_eq!(audited_requests(&server, mark).get("auth/approle/login"), Some(&1), "{}", sidecar.log());
    assert!(sidecar.log().contains("are not sent again for 5 minutes"), "{}", sidecar.log());

    // A config edit rebuilds the store's client, which keeps the refusal in mind.
    let edited = format!("# edited\n{}", read(&test.path("app.yml")));
    let test = test.file("app.yml", &edited);
    sidecar.until("the edit read and a fetch after it", Duration::from_secs(30), |sidecar| {
        let log = sidecar.log();
        log.split("the configuration was read again: re-rendering")
            .nth(1)
            .is_some_and(|after| after.contains("fetch failed"))
    });
    assert_eq!(audited_requests(&server, mark).get("auth/approle/login"), Some(&1), "{}", sidecar.log());

    let test = test.file("secret_id", &secret_id);
    sidecar.until("ready once the secret_id is fixed", Duration::from_secs(30), |sidecar| {
        try_http("GET", sidecar.port, "/-/ready").is_some_and(|(status, _)| status == 200)
    });
    assert_eq!(read(&test.path("out/app.yml")), "pw: \"approle-fake\"\n");
    assert!(!sidecar.log().contains(&secret_id), "the secret_id was logged");
}

/// A token that ends while Vault is down (here answering 503, as when sealed) is renewed and
/// replaced with backoff, 1 s doubling, not every second: a fleet of sidecars must not hammer a
/// Vault that is recovering. The tries used to be held to half the token's remaining life, at
/// least 1 s, which once the token had ended meant one renewal and one login a second forever.
#[test]
fn a_token_that_ends_while_vault_is_down_is_replaced_with_backoff_not_every_second() {
    let server = Server::openbao();
    let policy = policy(&server, "prom", "path \"secret/data/prometheus/*\" { capabilities = [\"read\"] }\n");
    bao(&server, &["kv", "put", "secret/prometheus/node", "password=approle-fake"]);
    let (role_id, secret_id) = approle_role(&server, &policy, &["token_ttl=2s", "token_max_ttl=1h"]);
    let proxy = crate::fault_proxy::FaultProxy::start(server.port);
    let auth = format!("{{approle: {{role_id: {role_id}, secret_id: {{file: {{path: secret_id}}}}}}}}");
    let config = format!(
        "secret_stores:\n  prod:\n    vault:\n      address: {}\n      auth: {auth}\n\
         pw: {{vault: {{store: prod, path: prometheus/node, key: password, refresh_interval: 1h}}}}\n",
        proxy.address()
    );
    let test = Test::new().file("app.yml", &config).file("secret_id", &secret_id);
    let mut sidecar = WatchProcess::sidecar(&test, &["--target", "generic", "app.yml", "--out", "out"]);

    proxy.set(crate::fault_proxy::Fault::Status(503));
    const FAILED: &str = "cannot renew or replace the Vault token";
    sidecar.until("a first failed upkeep", Duration::from_secs(30), |sidecar| sidecar.log().contains(FAILED));
    let first = Instant::now();
    sidecar.until("four more failed upkeeps", Duration::from_secs(60), |sidecar| {
        sidecar.log().matches(FAILED).count() >= 5
    });
    // Within the token's life the tries are at most 1 s apart; after its end, 1 + 2 + 4 s at
    // least pass before the fourth retry (at one a second, about 4 s).
    let took = first.elapsed();
    assert!(took >= Duration::from_secs(6), "five failed upkeeps within {took:?}:\n{}", sidecar.log());
}

/// A path the role's policy does not cover is a permission error on that path; it must not
/// throw the store's good token away (with a single-use secret_id, logging in again fails and
/// every later fetch of the store would fail with it).
#[test]
fn a_forbidden_path_under_approle_is_denied_and_spoils_no_other_fetch() {
    let server = Server::openbao();
    approle(&server);
    bao(&server, &["write", "auth/approle/role/prom", "token_policies=prom", "secret_id_num_uses=1"]);
    let role_id = field(bao(&server, &["read", "-field=role_id", "auth/approle/role/prom/role-id"]));
    let secret_id = field(bao(&server, &["write", "-f", "-field=secret_id", "auth/approle/role/prom/secret-id"]));
    let config =
        approle_config(&server, &role_id).replace("pw: ", "forbidden: {vault: {path: other/app, key: password}}\npw: ");
    // One fetch at a time, the forbidden one first: the readable one comes after it.
    let test = Test::new().file("app.yml", &config).file("secret_id", &secret_id).args([
        "--target",
        "generic",
        "render",
        "--max-concurrency",
        "1",
        "app.yml",
        "--out",
        "out",
    ]);
    let outcome = test.run();
    outcome
        .expect_code(4)
        .stderr_contains("forbidden: vault: permission denied reading vault secret secret/other/app")
        .never_shows(&secret_id);
    assert!(!outcome.stderr.contains("login"), "a readable path failed with the forbidden one:\n{}", outcome.stderr);
    assert!(!outcome.stderr.contains("pw: vault:"), "the readable path failed:\n{}", outcome.stderr);
}

#[test]
fn a_token_close_to_expiry_is_renewed_on_first_use() {
    const TTL: u64 = 9;
    let server = Server::openbao_audited();
    bao(&server, &["kv", "put", "secret/prometheus/node", "password=renewed-fake"]);
    let policy = policy(&server, "prom", "path \"secret/data/prometheus/*\" { capabilities = [\"read\"] }\n");
    let token = token_with(&server, &policy, &[&format!("-ttl={TTL}s"), "-explicit-max-ttl=1h"]);
    // Renewal is due once less than a third of the TTL is left.
    wait_until("the token's TTL to fall below a third", Duration::from_secs(TTL + 5), || {
        (ttl_of(&server, &token) < TTL / 3).then_some(())
    });
    let mark = audit_mark(&server);
    let test = Test::new()
        .env("VAULT_ADDR", &server.address())
        .env("VAULT_TOKEN", &token)
        .file("app.yml", "pw: {vault: {path: prometheus/node, key: password}}\n")
        .args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    test.run().expect_code(0).never_shows(&token);
    assert_eq!(read(&test.path("out/app.yml")), "pw: \"renewed-fake\"\n");
    let ttl = ttl_of(&server, &token);
    assert!(ttl >= TTL - 3, "the token was not renewed: {ttl}s left");
    let requests = audited_requests(&server, mark);
    assert_eq!(requests.get("auth/token/renew-self"), Some(&1), "{requests:#?}");
}

#[test]
fn a_missing_path_is_not_found_naming_the_yaml_path() {
    let server = Server::openbao();
    let test = as_root(&server)
        .file("app.yml", "app:\n  pw: {vault: {path: prometheus/absent, key: password}}\n")
        .args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    test.run().expect_code(4).stderr_contains("app.pw").stderr_contains("secret/prometheus/absent not found");
}

#[test]
fn a_missing_key_lists_the_key_names_never_the_values() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/prometheus/node", &format!("password={CANARY}"), "username=user-value-fake"]);
    let test = as_root(&server)
        .file("app.yml", "app:\n  pw: {vault: {path: prometheus/node, key: passwd}}\n")
        .args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    let outcome = test.run();
    outcome
        .expect_code(4)
        .stderr_contains("app.pw")
        .stderr_contains("no key \"passwd\"")
        .stderr_contains("password, username")
        .never_shows(CANARY)
        .never_shows("user-value-fake");
}

#[test]
fn a_token_without_permission_is_denied_naming_the_yaml_path() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/prometheus/node", &format!("password={CANARY}")]);
    let other = policy(&server, "other", "path \"secret/data/other/*\" { capabilities = [\"read\"] }\n");
    let token = token_with(&server, &other, &[]);
    let test = Test::new()
        .env("VAULT_ADDR", &server.address())
        .env("VAULT_TOKEN", &token)
        .file("app.yml", "app:\n  pw: {vault: {path: prometheus/node, key: password}}\n")
        .args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    let outcome = test.run();
    outcome.expect_code(4).stderr_contains("app.pw").stderr_contains("permission denied").never_shows(&token);
}

#[test]
fn an_unreachable_server_is_reported_as_unreachable() {
    let address = format!("http://127.0.0.1:{}", free_port());
    let test = Test::new()
        .env("VAULT_ADDR", &address)
        .env("VAULT_TOKEN", "root")
        .file("app.yml", "app:\n  pw: {vault: {path: prometheus/node, key: password}}\n")
        .args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    test.run().expect_code(4).stderr_contains("app.pw").stderr_contains("unreachable");
}

#[test]
fn a_thousand_references_to_ten_paths_cost_one_request_per_path() {
    let server = Server::openbao_audited();
    for path in 0..10 {
        let fields: Vec<String> = (0..4).map(|key| format!("k{key}=fake-{path}-{key}")).collect();
        let mut args = vec!["kv".to_owned(), "put".to_owned(), format!("secret/app/{path}")];
        args.extend(fields);
        bao(&server, &args.iter().map(String::as_str).collect::<Vec<_>>());
    }
    let mut config = String::from("refs:\n");
    for reference in 0..1000 {
        let (path, key) = (reference % 10, (reference / 10) % 4);
        config.push_str(&format!("  r{reference}: {{vault: {{path: app/{path}, key: k{key}}}}}\n"));
    }
    let mark = audit_mark(&server);
    let rendered = render_as_root(&server, &config);
    assert!(rendered.contains("  r0: \"fake-0-0\"\n") && rendered.contains("  r999: \"fake-9-3\"\n"), "{rendered}");
    let requests = audited_requests(&server, mark);
    for path in 0..10 {
        assert_eq!(requests.get(&format!("secret/data/app/{path}")), Some(&1), "{requests:#?}");
    }
    assert_eq!(requests.get("sys/internal/ui/mounts/secret"), Some(&1), "{requests:#?}");
    assert_eq!(requests.get("auth/token/lookup-self"), Some(&1), "{requests:#?}");
    assert_eq!(requests.values().sum::<usize>(), 12, "nothing else: {requests:#?}");
}

/// `render` fetches each provider map as soon as the parser has read it, before the config is
/// checked; these show that it still fetches exactly what the loaded config holds.
#[test]
fn a_provider_map_inside_a_literal_mapping_is_never_fetched_not_even_early() {
    let server = Server::openbao_audited();
    bao(&server, &["kv", "put", "secret/app/used", "k=fake-used"]);
    bao(&server, &["kv", "put", "secret/app/hidden", "k=fake-hidden"]);
    let config =
        "kept: !literal {inner: {vault: {path: app/hidden, key: k}}}\nused: {vault: {path: app/used, key: k}}\n";
    let mark = audit_mark(&server);
    let rendered = render_as_root(&server, config);
    assert!(rendered.contains("used: \"fake-used\""), "{rendered}");
    assert!(rendered.contains("path: app/hidden"), "the literal mapping is kept as data: {rendered}");
    let requests = audited_requests(&server, mark);
    assert_eq!(requests.get("secret/data/app/used"), Some(&1), "{requests:#?}");
    assert_eq!(requests.get("secret/data/app/hidden"), None, "{requests:#?}");
}

#[test]
fn an_alias_of_a_provider_map_anchored_inside_a_literal_mapping_is_fetched_after_the_load() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/app/aliased", "k=fake-aliased"]);
    bao(&server, &["kv", "put", "secret/app/direct", "k=fake-direct"]);
    // The parser sees the anchored map inside `!literal`, so only the walk of the loaded tree
    // finds its copy under `copy`.
    let config = concat!(
        "kept: !literal {inner: &shared {vault: {path: app/aliased, key: k}}}\n",
        "direct: {vault: {path: app/direct, key: k}}\n",
        "copy: *shared\n",
    );
    let rendered = render_as_root(&server, config);
    assert!(rendered.contains("direct: \"fake-direct\"") && rendered.contains("copy: \"fake-aliased\""), "{rendered}");
}

#[test]
fn a_config_found_invalid_while_its_maps_are_fetched_early_writes_nothing() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/app/used", &format!("k={CANARY}")]);
    // The maps are sent to be fetched as the parser reads them; the duplicate key at the end
    // fails the load, whatever the fetches have done by then.
    let config = "first: {vault: {path: app/used, key: k}}\nsecond: {vault: {path: app/used, key: k}}\nfirst: 1\n";
    let test =
        as_root(&server).file("app.yml", config).args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    test.run().expect_code(3).stderr_contains("duplicate key");
    assert!(!test.path("out/app.yml").exists());
    let secrets = std::fs::read_dir(test.path("out/secrets")).map(Iterator::count).unwrap_or(0);
    assert_eq!(secrets, 0, "no secret file, not even a temporary one");
}

#[test]
fn scale_a_thousand_references_over_five_hundred_paths_render_and_print_the_time() {
    const PATHS: usize = 500;
    let server = Server::openbao();
    let port = server.port;
    std::thread::scope(|scope| {
        for worker in 0..8 {
            scope.spawn(move || {
                for path in (worker..PATHS).step_by(8) {
                    let body = format!("{{\"data\":{{\"password\":\"pw-{path}\",\"token\":\"tok-{path}\"}}}}");
                    let (status, response) =
                        http_json("POST", port, &format!("/v1/secret/data/scale/{path}"), "root", &body);
                    assert_eq!(status, 200, "seeding scale/{path}: {response}");
                }
            });
        }
    });
    // 1000 jobs, two per path: basic_auth password, then authorization credentials.
    let mut config = String::from("scrape_configs:\n");
    for job in 0..2 * PATHS {
        let path = job / 2;
        config.push_str(&format!("  - job_name: job{job}\n"));
        if job % 2 == 0 {
            config.push_str(&format!(
                "    basic_auth:\n      username: prom\n      password: {{vault: {{path: scale/{path}, key: password}}}}\n"
            ));
        } else {
            config.push_str(&format!(
                "    authorization:\n      credentials: {{vault: {{path: scale/{path}, key: token}}}}\n"
            ));
        }
        config.push_str("    static_configs: [{targets: ['127.0.0.1:9100']}]\n");
    }
    let test = as_root(&server).file("prometheus.yml", &config).args(["render", "prometheus.yml", "--out", "out"]);
    let started = Instant::now();
    let outcome = test.run();
    let elapsed = started.elapsed();
    outcome.expect_code(0);
    eprintln!("render of 1000 references over {PATHS} KV v2 paths took {elapsed:?} (wall time, whole process)");
    let rendered = read(&test.path("out/prometheus.yml"));
    let files: Vec<&str> = rendered
        .lines()
        .filter_map(|line| {
            let line = line.trim_start();
            line.strip_prefix("password_file: ").or_else(|| line.strip_prefix("credentials_file: "))
        })
        .map(|file| file.trim_matches('"'))
        .collect();
    assert_eq!(files.len(), 2 * PATHS, "one file per reference");
    let distinct: std::collections::BTreeSet<&&str> = files.iter().collect();
    assert_eq!(distinct.len(), 2 * PATHS, "each reference has its own file");
    for (job, file) in files.iter().enumerate() {
        let path = job / 2;
        let expected = if job % 2 == 0 { format!("pw-{path}") } else { format!("tok-{path}") };
        assert_eq!(read(Path::new(file)), expected, "job{job}");
    }
}

#[test]
fn a_bootstrap_cycle_between_two_stores_is_a_config_error_naming_both_paths() {
    let config = concat!(
        "secret_stores:\n",
        "  a:\n",
        "    vault:\n",
        "      address: http://127.0.0.1:1\n",
        "      auth: {approle: {role_id: r, secret_id: {vault: {store: b, path: ids/a, key: secret_id}}}}\n",
        "  b:\n",
        "    vault:\n",
        "      address: http://127.0.0.1:1\n",
        "      auth: {approle: {role_id: r, secret_id: {vault: {store: a, path: ids/b, key: secret_id}}}}\n",
        "pw: {vault: {store: a, path: prometheus/node, key: password}}\n",
        "other: {file: {path: x, bogus: 1}}\n",
        "unnamed: {vault: {path: prometheus/node, key: password}}\n",
    );
    let test = Test::new().file("app.yml", config).args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    // The cycle leaves both stores known, so the maps' own problems are listed beside it, and
    // `store: a` is not called undefined.
    let outcome = test.run();
    outcome
        .expect_code(3)
        .stderr_contains("(3 problems)")
        .stderr_contains("bootstrap cycle")
        .stderr_contains("secret_stores.a.vault.auth.approle.secret_id")
        .stderr_contains("secret_stores.b.vault.auth.approle.secret_id")
        .stderr_contains("other: unknown key `bogus`")
        .stderr_contains("unnamed: there are several `vault` stores (a, b)");
    assert!(!outcome.stderr.contains("not defined"), "{}", outcome.stderr);
}

/// A store whose definition does not parse leaves the configs' maps unchecked: checked against
/// the stores that did parse, a map naming it would be called undefined.
#[test]
fn a_store_that_does_not_parse_is_reported_alone_not_as_undefined_where_used() {
    let config = concat!(
        "secret_stores:\n",
        "  a:\n",
        "    vault: {address: http://127.0.0.1:1, colour: blue}\n",
        "pw: {vault: {store: a, path: prometheus/node, key: password}}\n",
    );
    let test = Test::new().file("app.yml", config).args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    let outcome = test.run();
    outcome.expect_code(3).stderr_contains("unknown key `colour`");
    assert!(!outcome.stderr.contains("not defined"), "{}", outcome.stderr);
}

fn token_store(name: &str, server: &Server) -> String {
    format!("  {name}:\n    vault:\n      address: {}\n      auth: {{token: root}}\n", server.address())
}

#[test]
fn store_selects_among_two_stores_and_secret_stores_is_dropped_from_the_output() {
    let (one, two) = (Server::openbao(), Server::openbao());
    bao(&one, &["kv", "put", "secret/prometheus/node", "password=from-one-fake"]);
    bao(&two, &["kv", "put", "secret/prometheus/node", "password=from-two-fake"]);
    let config = format!(
        "secret_stores:\n{}{}a: {{vault: {{store: one, path: prometheus/node, key: password}}}}\nb: {{vault: {{store: two, path: prometheus/node, key: password}}}}\n",
        token_store("one", &one),
        token_store("two", &two)
    );
    assert_eq!(rendered(Test::new().file("app.yml", &config)), "a: \"from-one-fake\"\nb: \"from-two-fake\"\n");
}

/// A store's `namespace` is sent as `X-Vault-Namespace`: the same path reads the namespace's
/// secret, not the root namespace's (OpenBao has namespaces since 2.3).
#[test]
fn a_store_reads_in_its_namespace() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/app", "password=root-namespace-fake"]);
    bao(&server, &["namespace", "create", "team"]);
    bao(&server, &["secrets", "enable", "-ns=team", "-path=secret", "kv-v2"]);
    bao(&server, &["kv", "put", "-ns=team", "secret/app", "password=team-namespace-fake"]);
    let config = format!(
        "secret_stores:\n  team:\n    vault:\n      address: {}\n      namespace: team\n      auth: {{token: root}}\n\
         a: {{vault: {{store: team, path: app, key: password}}}}\n",
        server.address()
    );
    assert_eq!(rendered(Test::new().file("app.yml", &config)), "a: \"team-namespace-fake\"\n");
}

/// A namespace that does not exist is named: Vault's own reason goes with "not found", where a
/// plain miss (no reason from Vault) is only "not found".
#[test]
fn a_namespace_that_does_not_exist_is_named_in_the_not_found_error() {
    let server = Server::openbao();
    let config = format!(
        "secret_stores:\n  team:\n    vault:\n      address: {}\n      namespace: nosuch\n      auth: {{token: root}}\n\
         a: {{vault: {{store: team, path: app, key: password}}}}\n",
        server.address()
    );
    Test::new()
        .file("app.yml", &config)
        .run_with(&["--target", "generic", "render", "app.yml", "--out", "out"])
        .expect_code(4)
        .stderr_contains("vault secret secret/app (store team) (Vault says: namespace not found) not found");
}

/// `auth: {token_file: …}` reads the token from a file (relative to the config): a token the
/// policy allows reads, and one Vault does not know is refused without showing it.
#[test]
fn a_store_logs_in_with_the_token_its_token_file_holds() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/prometheus/node", "password=token-file-fake"]);
    let reader = policy(&server, "reader", "path \"secret/data/prometheus/*\" { capabilities = [\"read\"] }\n");
    let token = token_with(&server, &reader, &[]);
    let config = format!(
        "secret_stores:\n  vault:\n    vault:\n      address: {}\n      auth: {{token_file: secrets/token}}\n\
         a: {{vault: {{store: vault, path: prometheus/node, key: password}}}}\n",
        server.address()
    );
    let render = ["--target", "generic", "render", "app.yml", "--out", "out"];
    let test = Test::new().file("app.yml", &config).file("secrets/token", &format!("{token}\n"));
    test.run_with(&render).expect_code(0);
    assert_eq!(read(&test.path("out/app.yml")), "a: \"token-file-fake\"\n");

    let unknown = format!("hvs.{CANARY}");
    let test = Test::new().file("app.yml", &config).file("secrets/token", &unknown);
    test.run_with(&render).expect_code(4).stderr_contains("permission denied").never_shows(&unknown);
}

/// `watch --stores FILE` watches that file too: a store setting changed there (here the
/// `path_prefix`) re-renders with values read through the new setting.
#[test]
fn an_edited_stores_file_re_renders_under_watch() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/blue/app", "password=blue-fake"]);
    bao(&server, &["kv", "put", "secret/green/app", "password=green-fake"]);
    let stores = |prefix: &str| {
        format!(
            "secret_stores:\n  vault:\n    vault:\n      address: {}\n      path_prefix: {prefix}\n      auth: {{token: root}}\n",
            server.address()
        )
    };
    let test = Test::new()
        .file("stores.yml", &stores("blue"))
        .file("app.yml", "a: {vault: {store: vault, path: app, key: password}}\n");
    let mut sidecar =
        WatchProcess::sidecar(&test, &["--stores", "stores.yml", "--target", "generic", "app.yml", "--out", "out"]);
    assert_eq!(read(&test.path("out/app.yml")), "a: \"blue-fake\"\n");

    let edited = test.path("stores.yml.new");
    std::fs::write(&edited, stores("green")).unwrap();
    std::fs::rename(&edited, test.path("stores.yml")).unwrap();
    sidecar.until("the re-render through the new prefix", Duration::from_secs(30), |_| {
        read(&test.path("out/app.yml")) == "a: \"green-fake\"\n"
    });
}

#[test]
fn two_vault_stores_and_no_store_key_asks_to_name_one() {
    let (one, two) = (Server::openbao(), Server::openbao());
    let config = format!(
        "secret_stores:\n{}{}app:\n  pw: {{vault: {{path: prometheus/node, key: password}}}}\n",
        token_store("one", &one),
        token_store("two", &two)
    );
    let test = Test::new().file("app.yml", &config).args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    test.run().expect_code(3).stderr_contains("app.pw").stderr_contains("name one with `store:`");
}

/// An OpenBao dev server speaking TLS, its CA in its data directory.
fn tls_server() -> Server {
    Server::openbao_with(|dir| vec!["-dev-tls".to_owned(), format!("-dev-tls-cert-dir={}", dir.display())])
}

fn tls_config(server: &Server, ca_file: Option<&Path>) -> String {
    let ca = ca_file.map(|file| format!("      ca_file: {}\n", file.display())).unwrap_or_default();
    format!(
        "secret_stores:\n  tls:\n    vault:\n      address: https://127.0.0.1:{}\n      auth: {{token: root}}\n{ca}pw: {{vault: {{path: prometheus/node, key: password}}}}\n",
        server.port
    )
}

/// [`bao`] against a [`tls_server`], as root; its standard output.
fn bao_over_tls(server: &Server, args: &[&str]) -> String {
    let output = std::process::Command::new(bao_binary())
        .args(args)
        .env("BAO_ADDR", format!("https://127.0.0.1:{}", server.port))
        .env("BAO_CACERT", server.data_dir().join("vault-ca.pem"))
        .env("BAO_TOKEN", "root")
        .output()
        .unwrap();
    assert!(output.status.success(), "bao {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn tls_with_ca_file_verifies_the_server() {
    let server = tls_server();
    let ca = server.data_dir().join("vault-ca.pem");
    bao_over_tls(&server, &["kv", "put", "secret/prometheus/node", "password=tls-fake"]);
    assert_eq!(rendered(Test::new().file("app.yml", &tls_config(&server, Some(&ca)))), "pw: \"tls-fake\"\n");
}

#[test]
fn tls_without_the_ca_fails_naming_the_certificate() {
    let server = tls_server();
    let test = Test::new()
        .file("app.yml", &tls_config(&server, None))
        .args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    test.run().expect_code(4).stderr_contains("pw").stderr_contains("certificate");
}

/// A config whose store `tls` is `server` over TLS at `https://127.0.0.1:PORT` with the root
/// token and the store lines `settings` (indented six spaces), reading [`PW_FROM_PROD`].
fn tls_store_config(server: &Server, settings: &str) -> String {
    format!(
        "secret_stores:\n  tls:\n    vault:\n      address: https://127.0.0.1:{}\n      auth: {{token: root}}\n{settings}{PW_FROM_PROD}",
        server.port
    )
}

/// The store line `ca_file: …` naming the CA of a [`tls_server`].
fn tls_ca_file(server: &Server) -> String {
    format!("      ca_file: {}\n", server.data_dir().join("vault-ca.pem").display())
}

/// `ca_cert:` given inline (the PEM text as a YAML block scalar, no file) is the CA the server's
/// certificate is verified against.
#[test]
fn tls_with_an_inline_ca_cert_verifies_the_server() {
    let server = tls_server();
    bao_over_tls(&server, &["kv", "put", "secret/prometheus/node", "password=inline-ca-fake"]);
    let pem = read(&server.data_dir().join("vault-ca.pem"));
    let block: String = pem.lines().map(|line| format!("        {line}\n")).collect();
    let config = tls_store_config(&server, &format!("      ca_cert: |\n{block}"));
    assert_eq!(rendered(Test::new().file("app.yml", &config)), "pw: \"inline-ca-fake\"\n");
}

/// `tls_server_name:` verifies the certificate against that name while connecting to the
/// address's host: `localhost.localdomain`, one of the names OpenBao's dev certificate carries
/// (and which need not resolve), reaches the server at `127.0.0.1`.
#[test]
fn tls_server_name_the_certificate_carries_verifies_the_server_at_the_address() {
    let server = tls_server();
    bao_over_tls(&server, &["kv", "put", "secret/prometheus/node", "password=server-name-fake"]);
    let settings = format!("{}      tls_server_name: localhost.localdomain\n", tls_ca_file(&server));
    let config = tls_store_config(&server, &settings);
    assert_eq!(rendered(Test::new().file("app.yml", &config)), "pw: \"server-name-fake\"\n");
}

/// A `tls_server_name:` the server's certificate does not carry fails the fetch (exit 4), naming
/// the YAML path and the name the certificate is not valid for, though the address itself
/// (`127.0.0.1`) is one the certificate carries.
#[test]
fn tls_server_name_the_certificate_lacks_fails_naming_the_name() {
    let server = tls_server();
    bao_over_tls(&server, &["kv", "put", "secret/prometheus/node", "password=wrong-name-fake"]);
    let settings = format!("{}      tls_server_name: vault.invalid\n", tls_ca_file(&server));
    let test = Test::new()
        .file("app.yml", &tls_store_config(&server, &settings))
        .args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    test.run().expect_code(4).stderr_contains("pw").stderr_contains("certificate not valid for name \"vault.invalid\"");
    assert!(!test.path("out/app.yml").exists());
}

/// `tls_server_name:` stands in for an address whose host the certificate does not carry: the
/// server reached at the IPv4-mapped IPv6 literal `[::ffff:127.0.0.1]` (a name OpenBao's dev
/// certificate lacks, so it fails verification without the setting) is verified as
/// `localhost`.
#[test]
fn tls_server_name_verifies_a_server_whose_ipv6_address_the_certificate_lacks() {
    let server = tls_server();
    bao_over_tls(&server, &["kv", "put", "secret/prometheus/node", "password=ipv6-name-fake"]);
    let settings = format!("{}      tls_server_name: localhost\n", tls_ca_file(&server));
    let config = tls_store_config(&server, &settings).replace("https://127.0.0.1:", "https://[::ffff:127.0.0.1]:");
    assert_eq!(rendered(Test::new().file("app.yml", &config)), "pw: \"ipv6-name-fake\"\n");
}

/// Whether a proxy is used is decided on the configured address, not on the `tls_server_name`
/// the requests carry: a Vault at `127.0.0.1` is reached directly though `HTTPS_PROXY` names a
/// proxy (here a dead one) and the name is not a loopback one.
#[test]
fn tls_server_name_on_a_loopback_address_is_reached_directly_past_the_proxy() {
    let server = tls_server();
    bao_over_tls(&server, &["kv", "put", "secret/prometheus/node", "password=direct-tls-fake"]);
    let settings = format!("{}      tls_server_name: localhost.localdomain\n", tls_ca_file(&server));
    let dead_proxy = format!("http://127.0.0.1:{}", free_port());
    let test = Test::new().file("app.yml", &tls_store_config(&server, &settings)).behind_proxy(&dead_proxy, "");
    assert_eq!(rendered(test), "pw: \"direct-tls-fake\"\n");
}

/// With `tls_server_name:`, the address's host is resolved at each connection, not once at
/// start: one that does not resolve (a DNS blip as a pod starts) is an unreachable store (exit
/// 4, retried under `watch`), named by the address as configured, not a config error (exit 3)
/// that would crash-loop a sidecar.
#[test]
fn tls_server_name_with_an_address_that_does_not_resolve_is_unreachable_not_a_config_error() {
    let server = tls_server();
    let settings = format!("{}      tls_server_name: localhost\n", tls_ca_file(&server));
    let config = tls_store_config(&server, &settings).replace("https://127.0.0.1:", "https://vault.invalid:");
    let test = Test::new().file("app.yml", &config).args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    test.run()
        .expect_code(4)
        .stderr_contains(&format!("store `tls` (https://vault.invalid:{}) is unreachable", server.port));
}

/// `insecure_skip_verify: true` reads from a TLS server whose CA is given nowhere, and says so
/// with a warning on stderr.
#[test]
fn insecure_skip_verify_reads_without_the_ca_and_warns() {
    let server = tls_server();
    bao_over_tls(&server, &["kv", "put", "secret/prometheus/node", "password=unverified-fake"]);
    let test = Test::new()
        .file("app.yml", &tls_store_config(&server, "      insecure_skip_verify: true\n"))
        .args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    test.run()
        .expect_code(0)
        .stderr_contains("insecure_skip_verify: the Vault server's TLS certificate is not verified");
    assert_eq!(read(&test.path("out/app.yml")), "pw: \"unverified-fake\"\n");

    // The environment's store (`VAULT_SKIP_VERIFY`) warns once too, though `render` builds its
    // client twice (for the early fetches and the rest): it used to warn twice.
    let from_environment = Test::new()
        .file("app.yml", "pw: {vault: {path: prometheus/node, key: password}}\n")
        .env("VAULT_ADDR", &format!("https://127.0.0.1:{}", server.port))
        .env("VAULT_TOKEN", "root")
        .env("VAULT_SKIP_VERIFY", "true")
        .args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    let outcome = from_environment.run();
    outcome.expect_code(0);
    assert_eq!(outcome.stderr.matches("insecure_skip_verify:").count(), 1, "{}", outcome.stderr);
}

/// `cert` auth against a TLS OpenBao: the client certificate (issued by OpenBao's own PKI
/// engine, whose CA the `cert` method trusts) is presented on the connection, and the login
/// gets the trusted certificate's policy.
#[test]
fn cert_auth_logs_in_with_the_client_certificate() {
    let server = tls_server();
    bao_over_tls(&server, &["kv", "put", "secret/prometheus/node", "password=cert-fake"]);
    bao_over_tls(&server, &["secrets", "enable", "pki"]);
    let ca = bao_over_tls(
        &server,
        &["write", "-field=certificate", "pki/root/generate/internal", "common_name=clients", "ttl=48h"],
    );
    bao_over_tls(
        &server,
        &["write", "pki/roles/client", "allow_any_name=true", "client_flag=true", "server_flag=false"],
    );
    let issued: serde_json::Value = serde_json::from_str(&bao_over_tls(
        &server,
        &["write", "-format=json", "pki/issue/client", "common_name=prometheus", "ttl=24h"],
    ))
    .unwrap();
    let rules = "path \"secret/data/prometheus/*\" { capabilities = [\"read\"] }\n";
    let test = Test::new()
        .file("clients-ca.pem", &ca)
        .file("policy.hcl", rules)
        .file("client.pem", issued["data"]["certificate"].as_str().unwrap())
        .file("client.key", issued["data"]["private_key"].as_str().unwrap());
    bao_over_tls(&server, &["policy", "write", "prom", &test.path("policy.hcl").to_string_lossy()]);
    bao_over_tls(&server, &["auth", "enable", "cert"]);
    let trusted = format!("certificate=@{}", test.path("clients-ca.pem").display());
    bao_over_tls(&server, &["write", "auth/cert/certs/prom", &trusted, "token_policies=prom"]);
    let config = format!(
        concat!(
            "secret_stores:\n",
            "  tls:\n",
            "    vault:\n",
            "      address: https://127.0.0.1:{port}\n",
            "      ca_file: {ca}\n",
            "      auth: {{cert: {{name: prom, client_cert: client.pem, client_key: client.key}}}}\n",
            "pw: {{vault: {{path: prometheus/node, key: password}}}}\n",
        ),
        port = server.port,
        ca = server.data_dir().join("vault-ca.pem").display(),
    );
    assert_eq!(rendered(test.file("app.yml", &config)), "pw: \"cert-fake\"\n");
}

/// `s` in base64url without padding, as JWTs spell their parts.
fn base64url(bytes: &[u8]) -> String {
    base64(bytes).trim_end_matches('=').replace('+', "-").replace('/', "_")
}

/// An ES256 key pair: the public key as PEM (SubjectPublicKeyInfo) and a signer of JWTs with
/// `claims`.
fn jwt_signer() -> (String, impl Fn(&serde_json::Value) -> String) {
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    let random = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &random).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &random).unwrap();
    // The DER prefix of a P-256 SubjectPublicKeyInfo, before the 65-byte uncompressed point.
    let mut spki =
        b"\x30\x59\x30\x13\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07\x03\x42\x00"
            .to_vec();
    spki.extend_from_slice(pair.public_key().as_ref());
    let pem = format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", base64(&spki));
    let sign = move |claims: &serde_json::Value| {
        let signed =
            format!("{}.{}", base64url(br#"{"alg":"ES256","typ":"JWT"}"#), base64url(claims.to_string().as_bytes()));
        let signature = pair.sign(&ring::rand::SystemRandom::new(), signed.as_bytes()).unwrap();
        format!("{signed}.{}", base64url(signature.as_ref()))
    };
    (pem, sign)
}

/// OpenBao's `jwt` auth trusting `public_key`, with a role `prom` for tokens whose audience is
/// `secret-render`, reading `secret/data/prometheus/*`.
fn jwt_auth(server: &Server, public_key: &str) {
    bao(server, &["kv", "put", "secret/prometheus/node", "password=jwt-fake"]);
    bao(server, &["auth", "enable", "jwt"]);
    let config = serde_json::json!({"jwt_validation_pubkeys": [public_key]}).to_string();
    let (status, body) = http_json("POST", server.port, "/v1/auth/jwt/config", "root", &config);
    assert!((200..300).contains(&status), "{status} {body}");
    let policy = policy(server, "prom", "path \"secret/data/prometheus/*\" { capabilities = [\"read\"] }\n");
    bao(
        server,
        &[
            "write",
            "auth/jwt/role/prom",
            "role_type=jwt",
            "user_claim=sub",
            "bound_audiences=secret-render",
            &format!("token_policies={policy}"),
        ],
    );
}

/// A JWT's claims for the `prom` role, valid for an hour from now.
fn jwt_claims(audience: &str) -> serde_json::Value {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    serde_json::json!({"sub": "prometheus", "aud": audience, "iat": now, "nbf": now, "exp": now + 3600})
}

fn jwt_config(server: &Server) -> String {
    prod_store_config(server, "{jwt: {role: prom, jwt_file: token.jwt}}", PW_FROM_PROD)
}

/// A render of [`jwt_config`] against `server` whose `jwt` auth trusts a new key, with a JWT
/// for `audience` signed by it in `token.jwt`; the test and the JWT.
fn render_with_a_jwt_for(server: &Server, audience: &str) -> (Test, String) {
    let (public_key, sign) = jwt_signer();
    jwt_auth(server, &public_key);
    let jwt = sign(&jwt_claims(audience));
    let test = Test::new()
        .file("app.yml", &jwt_config(server))
        .file("token.jwt", &format!("{jwt}\n"))
        .args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    (test, jwt)
}

/// `jwt` auth: the JWT read from `jwt_file` (a workload identity token, say) is exchanged for a
/// token with the role's policy.
#[test]
fn jwt_auth_logs_in_with_the_token_from_jwt_file() {
    let server = Server::openbao();
    let (test, jwt) = render_with_a_jwt_for(&server, "secret-render");
    test.run().expect_code(0).never_shows(&jwt);
    assert_eq!(read(&test.path("out/app.yml")), "pw: \"jwt-fake\"\n");
}

/// A JWT the role refuses (another audience) fails the fetch as a denied login, naming the
/// login path and never showing the JWT.
#[test]
fn jwt_auth_refused_names_the_login_without_showing_the_jwt() {
    let server = Server::openbao();
    let (test, jwt) = render_with_a_jwt_for(&server, "someone-else");
    test.run().expect_code(4).stderr_contains("auth/jwt/login").stderr_contains("pw").never_shows(&jwt);
    assert!(!test.path("out/app.yml").exists());
}

/// The arguments of a render of `config` for a generic target into `out/`.
fn render_args(config: &str) -> [&str; 6] {
    ["--target", "generic", "render", config, "--out", "out"]
}

/// A store's `token_file` resolves against the directory of the config that names it, not the
/// working directory: the config lives in `etc/` and the binary runs one level above it.
#[test]
fn a_relative_token_file_resolves_against_the_configs_directory() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/prometheus/node", "password=config-dir-fake"]);
    let config = prod_store_config(&server, "{token_file: secrets/token}", PW_FROM_PROD);
    let test = Test::new().file("etc/app.yml", &config).file("etc/secrets/token", "root\n");
    test.run_with(&render_args("etc/app.yml")).expect_code(0);
    assert_eq!(read(&test.path("out/app.yml")), "pw: \"config-dir-fake\"\n");
}

/// A bootstrapped AppRole `secret_id` in a `--stores` file (`{file: {path: secret_id}}`)
/// resolves against that file's directory, not the working directory nor the config's.
#[test]
fn a_relative_secret_id_file_in_a_stores_file_resolves_against_the_stores_files_directory() {
    let server = Server::openbao();
    let (role_id, secret_id) = approle(&server);
    let test = Test::new()
        .file("conf/stores.yml", &approle_config_with(&server, &role_id, ""))
        .file("conf/secret_id", &format!("{secret_id}\n"))
        .file("app.yml", PW_FROM_PROD);
    let mut args = vec!["--stores", "conf/stores.yml"];
    args.extend(render_args("app.yml"));
    test.run_with(&args).expect_code(0).never_shows(&secret_id);
    assert_eq!(read(&test.path("out/app.yml")), "pw: \"approle-fake\"\n");
}

/// A fetch whose AppRole token was revoked gets one fresh login and one retry within the same
/// fetch: under `watch`, the next refresh after the revocation renders the new value with no
/// failed fetch counted, and OpenBao saw exactly two logins (the first, and the one after the
/// 403).
#[test]
fn a_revoked_approle_token_is_replaced_by_one_fresh_login_and_the_read_retried() {
    let server = Server::openbao_audited();
    let (role_id, secret_id) = approle(&server);
    let body = "pw: {vault: {path: prometheus/node, key: password, refresh_interval: 1s}}\n";
    let test = Test::new().file("app.yml", &approle_config_with(&server, &role_id, body)).file("secret_id", &secret_id);
    let (mut sidecar, first) = watch_app(&test);
    assert_eq!(first, "pw: \"approle-fake\"\n");

    bao(&server, &["token", "revoke", "-mode=path", "auth/approle/login"]);
    bao(&server, &["kv", "put", "secret/prometheus/node", "password=after-revocation-fake"]);
    sidecar.until("the new value rendered under a new login", Duration::from_secs(30), |_| {
        read(&test.path("out/app.yml")) == "pw: \"after-revocation-fake\"\n"
    });
    let requests = audited_requests(&server, 0);
    assert_eq!(requests.get("auth/approle/login"), Some(&2), "{requests:#?}");
    let (status, metrics) = http("GET", sidecar.port, "/metrics");
    assert_eq!(status, 200, "{metrics}");
    let failures: Vec<&str> =
        metrics.lines().filter(|line| line.starts_with("secret_render_fetch_failures_total{")).collect();
    assert!(failures.is_empty(), "the 403 failed the fetch instead of being retried: {failures:?}");
}

/// Without `VAULT_ADDR` and `VAULT_TOKEN` (blank counts as unset), `BAO_ADDR` and `BAO_TOKEN`
/// are the environment's store.
#[test]
fn bao_addr_and_bao_token_are_used_when_the_vault_variables_are_blank() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/prometheus/node", "password=bao-env-fake"]);
    let test = Test::new();
    let home = test.path("home").to_string_lossy().into_owned();
    let test = test
        .env("VAULT_ADDR", "")
        .env("VAULT_TOKEN", "")
        .env("BAO_ADDR", &server.address())
        .env("BAO_TOKEN", "root")
        .env("HOME", &home)
        .file("app.yml", PW_FROM_PROD);
    assert_eq!(rendered(test), "pw: \"bao-env-fake\"\n");
}

/// With no token variable set, the token is read from `~/.vault-token` (`HOME` here being a
/// directory of the test).
#[test]
fn the_token_is_read_from_vault_token_in_home_when_no_token_variable_is_set() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/prometheus/node", "password=home-token-fake"]);
    let test = Test::new();
    let home = test.path("home").to_string_lossy().into_owned();
    let test = test
        .env("VAULT_ADDR", &server.address())
        .env("VAULT_TOKEN", "")
        .env("BAO_TOKEN", "")
        .env("HOME", &home)
        .file("home/.vault-token", "root\n")
        .file("app.yml", PW_FROM_PROD);
    assert_eq!(rendered(test), "pw: \"home-token-fake\"\n");
}

/// A store of `server` with the root token and `kv_version: VERSION`, followed by `body`.
fn kv_version_store_config(server: &Server, version: u8, body: &str) -> String {
    format!(
        "secret_stores:\n  prod:\n    vault:\n      address: {}\n      auth: {{token: root}}\n      kv_version: {version}\n{body}",
        server.address()
    )
}

/// `kv_version: 2` on a store is taken as said: the secret is read with no
/// `sys/internal/ui/mounts` request.
#[test]
fn kv_version_2_on_a_store_reads_without_asking_the_mounts_version() {
    let server = Server::openbao_audited();
    bao(&server, &["kv", "put", "secret/prometheus/node", "password=kv2-fake"]);
    let mark = audit_mark(&server);
    let config = kv_version_store_config(&server, 2, PW_FROM_PROD);
    assert_eq!(rendered(Test::new().file("app.yml", &config)), "pw: \"kv2-fake\"\n");
    let requests = audited_requests(&server, mark);
    assert_eq!(requests.get("secret/data/prometheus/node"), Some(&1), "{requests:#?}");
    assert!(!requests.keys().any(|path| path.starts_with("sys/internal/ui/mounts")), "{requests:#?}");
}

/// `kv_version: 1` on a store reads a KV v1 mount at once: no `sys/internal/ui/mounts` request,
/// and no read shaped as KV v2 (`MOUNT/data/…`) made before the version was known.
#[test]
fn kv_version_1_on_a_store_reads_a_v1_mount_without_detection_or_a_kv_v2_guess() {
    let server = Server::openbao_audited();
    bao(&server, &["secrets", "enable", "-path=kv1", "-version=1", "kv"]);
    bao(&server, &["kv", "put", "kv1/prometheus/node", "password=kv1-fake"]);
    let mark = audit_mark(&server);
    let body = "pw: {vault: {path: prometheus/node, key: password, mount: kv1}}\n";
    let config = kv_version_store_config(&server, 1, body);
    assert_eq!(rendered(Test::new().file("app.yml", &config)), "pw: \"kv1-fake\"\n");
    let requests = audited_requests(&server, mark);
    assert_eq!(requests.get("kv1/prometheus/node"), Some(&1), "{requests:#?}");
    assert!(!requests.keys().any(|path| path.starts_with("sys/internal/ui/mounts")), "{requests:#?}");
    assert!(!requests.keys().any(|path| path.starts_with("kv1/data/")), "{requests:#?}");
}

/// A provider map's own `address` (no store) is the server it reads from, with the
/// environment's token, whatever `VAULT_ADDR` says (here a port nothing listens on).
#[test]
fn a_provider_maps_own_address_is_used_instead_of_vault_addr() {
    let server = Server::openbao();
    bao(&server, &["kv", "put", "secret/prometheus/node", "password=own-address-fake"]);
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let config = format!("pw: {{vault: {{path: prometheus/node, key: password, address: {}}}}}\n", server.address());
    let test = Test::new().env("VAULT_ADDR", &nowhere).env("VAULT_TOKEN", "root").file("app.yml", &config);
    assert_eq!(rendered(test), "pw: \"own-address-fake\"\n");
}

/// `address` beside `store:` in one provider map is a config error (exit 3) naming the map's
/// YAML path and telling to set the address on the store.
#[test]
fn address_beside_a_store_in_one_provider_map_is_a_config_error_naming_the_yaml_path() {
    // Refused when the config is read: no server is needed.
    let config = concat!(
        "secret_stores:\n  prod:\n    vault:\n      address: http://127.0.0.1:1\n      auth: {token: root}\n",
        "app:\n  pw: {vault: {store: prod, path: prometheus/node, key: password, address: http://127.0.0.1:2}}\n",
    );
    let test = Test::new().file("app.yml", config);
    test.run_with(&render_args("app.yml"))
        .expect_code(3)
        .stderr_contains("app.pw")
        .stderr_contains("`address` cannot be given with store `prod`");
    assert!(!test.path("out/app.yml").exists());
}

/// A redirect from Vault (a standby node naming the active one) is followed once, token
/// included, as the Vault CLI follows it; a second one is not (reqwest's default followed up to
/// ten, to any scheme). A fake stands in for Vault: OpenBao's dev server is never a standby.
#[test]
fn one_redirect_from_vault_is_followed_and_a_second_is_not() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let twice = Arc::new(AtomicBool::new(false));
    let redirects_twice = Arc::clone(&twice);
    let fake = FakeServer::start(move |request| {
        let authorised = request.header("x-vault-token") == Some("fake-root-token");
        match request.path.as_str() {
            _ if !authorised => Reply::json(403, &serde_json::json!({"errors": ["permission denied"]})),
            path if path.starts_with("/v1/sys/internal/ui/mounts/") => Reply::json(
                200,
                &serde_json::json!({"data": {"type": "kv", "path": "secret/", "options": {"version": "2"}}}),
            ),
            "/v1/auth/token/lookup-self" => {
                Reply::json(200, &serde_json::json!({"data": {"ttl": 0, "renewable": false, "policies": ["root"]}}))
            }
            "/v1/secret/data/app" => {
                Reply::json(307, &serde_json::json!({})).header("Location", "/v1/active/secret/data/app")
            }
            "/v1/active/secret/data/app" if redirects_twice.load(Ordering::SeqCst) => {
                Reply::json(307, &serde_json::json!({})).header("Location", "/v1/other/secret/data/app")
            }
            "/v1/active/secret/data/app" => Reply::json(
                200,
                &serde_json::json!({"data": {
                    "data": {"password": "redirected-fake"},
                    "metadata": {"version": 1, "created_time": "2026-12-05T00:00:00Z", "deletion_time": "", "destroyed": false},
                }}),
            ),
            _ => Reply::json(404, &serde_json::json!({"errors": []})),
        }
    });
    let render = || {
        Test::new()
            .file("app.yml", "t: {vault: {path: app, key: password}}\n")
            .env("VAULT_ADDR", &fake.url())
            .env("VAULT_TOKEN", "fake-root-token")
            .args(["--target", "generic", "render", "app.yml", "--out", "out"])
    };
    let once = render();
    once.run().expect_code(0);
    assert_eq!(read(&once.path("out/app.yml")), "t: \"redirected-fake\"\n");

    twice.store(true, Ordering::SeqCst);
    render().run().expect_code(4).stderr_contains("Vault redirected more than once: not followed");
    assert_eq!(fake.count("GET /v1/other/"), 0, "the second redirect was followed");
}
