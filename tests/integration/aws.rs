//! The `aws_secrets_manager` provider against a real `moto_server` (Secrets Manager and STS), one
//! per test: a key of a JSON `SecretString`, whole strings and raw `SecretBinary`, current
//! versions of several secrets in `BatchGetSecretValue` calls of up to 20 (one read per secret
//! when the caller may not batch), `AWSPREVIOUS`, a custom stage and a version id, missing
//! secrets and versions, STS AssumeRole, the environment-only default store, a rotation picked
//! up by `watch`, `rotate` writing a new version (`AWSPREVIOUS` keeps the old one), `store
//! delete` (a key, or a recoverable deletion), and `extract` creating a secret.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::http_fake::{FakeServer, Reply};
use crate::support::{CANARY, Server, Test, WatchProcess, base64, read};

/// Calls a Secrets Manager action on moto (JSON protocol), panicking unless it answers 200.
fn call(server: &Server, action: &str, body: &Value) -> Value {
    let body = body.to_string();
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nX-Amz-Target: secretsmanager.{action}\r\n\
         Content-Type: application/x-amz-json-1.1\r\nAuthorization: AWS4-HMAC-SHA256 \
         Credential=testing/20250101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len(),
        port = server.port,
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{action} failed: {response}");
    serde_json::from_str(body).unwrap()
}

fn create(server: &Server, name: &str, value: &str) -> String {
    let answer = call(server, "CreateSecret", &json!({"Name": name, "SecretString": value}));
    answer["VersionId"].as_str().unwrap().to_owned()
}

fn put(server: &Server, name: &str, value: &str) -> String {
    let answer = call(server, "PutSecretValue", &json!({"SecretId": name, "SecretString": value}));
    answer["VersionId"].as_str().unwrap().to_owned()
}

/// A test whose binary has moto's fake credentials and nothing from the machine's AWS setup.
fn with_credentials() -> Test {
    Test::new()
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws/config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws/credentials")
        .env("AWS_EC2_METADATA_DISABLED", "true")
}

/// A store named `moto` pointing at the server, with extra settings.
fn store(server: &Server, extra: &str) -> String {
    format!(
        "secret_stores:\n  moto: {{aws_secrets_manager: {{region: us-east-1, endpoint_url: '{}'{extra}}}}}\n",
        server.address()
    )
}

/// How many API calls moto answered since the last look.
fn calls(server: &mut Server) -> usize {
    server.new_log_lines().iter().filter(|line| line.contains("\"POST / HTTP/1.1\"")).count()
}

fn render(test: Test, config: &str) -> (Test, crate::support::Outcome) {
    let test = test.file("app.yml", config).args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    let outcome = test.run();
    (test, outcome)
}

/// The path of a field's secret file in a rendered generic config (`FIELD_file: "…"`).
fn file_of(rendered: &str, field: &str) -> std::path::PathBuf {
    let line = rendered.lines().find(|line| line.starts_with(&format!("{field}_file:"))).expect(field);
    std::path::PathBuf::from(line.split_once(": ").unwrap().1.trim_matches('"'))
}

#[test]
fn json_keys_whole_strings_and_binary_values_come_from_one_batch_call() {
    let mut server = Server::moto();
    create(&server, "prometheus/node", &json!({"username": "prom", "password": CANARY, "port": 9100}).to_string());
    create(&server, "plain", "plain-fake");
    call(&server, "CreateSecret", &json!({"Name": "binary", "SecretBinary": base64(&[0, 159, 146, 150, 255])}));
    calls(&mut server);
    let config = format!(
        concat!(
            "user: {{aws_secrets_manager: {{secret_id: prometheus/node, key: username}}}}\n",
            "pw: {{aws_secrets_manager: {{secret_id: prometheus/node, key: password, render: file}}}}\n",
            "port: {{aws_secrets_manager: {{secret_id: prometheus/node, key: port}}}}\n",
            "plain: {{aws_secrets_manager: {{secret_id: plain}}}}\n",
            "raw: {{aws_secrets_manager: {{secret_id: binary, render: file}}}}\n",
            "{store}",
        ),
        store = store(&server, "")
    );
    let (test, outcome) = render(with_credentials(), &config);
    outcome.expect_code(0);
    let rendered = read(&test.path("out/app.yml"));
    assert!(rendered.starts_with("user: \"prom\"\npw_file: "), "{rendered}");
    assert!(rendered.contains("port: \"9100\"\nplain: \"plain-fake\"\n"), "{rendered}");
    assert_eq!(read(&file_of(&rendered, "pw")), CANARY);
    assert_eq!(std::fs::read(file_of(&rendered, "raw")).unwrap(), [0, 159, 146, 150, 255]);
    assert_eq!(calls(&mut server), 1, "three current secrets take one BatchGetSecretValue call");
}

/// In one batch, a partial ARN (the ARN without Secrets Manager's random suffix) gets its own
/// secret's value, not that of another whose name starts the same (`mix/app` and
/// `mix/app-prod`).
#[test]
fn a_partial_arn_in_a_batch_gets_its_own_secret_not_one_whose_name_extends_it() {
    let server = Server::moto();
    create(&server, "mix/app", "app-fake");
    create(&server, "mix/app-prod", "prod-fake");
    let partial = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mix/app";
    let config = format!(
        "app: {{aws_secrets_manager: {{secret_id: '{partial}'}}}}\nprod: {{aws_secrets_manager: {{secret_id: mix/app-prod}}}}\n{}",
        store(&server, "")
    );
    let (test, outcome) = render(with_credentials(), &config);
    outcome.expect_code(0);
    let rendered = read(&test.path("out/app.yml"));
    assert!(rendered.contains("app: \"app-fake\"\nprod: \"prod-fake\"\n"), "{rendered}");
}

#[test]
fn no_value_reaches_the_log_even_at_trace_level() {
    let server = Server::moto();
    create(&server, "a", &json!({"password": CANARY}).to_string());
    create(&server, "b", CANARY);
    let config = format!(
        "a: {{aws_secrets_manager: {{secret_id: a, key: password, render: file}}}}\nb: {{aws_secrets_manager: {{secret_id: b, render: file}}}}\n{}",
        store(&server, "")
    );
    let test = with_credentials()
        .file("app.yml", &config)
        .args(["-vv", "--target", "generic", "render", "app.yml", "--out", "out"]);
    // The harness fails any run whose output shows the canary.
    test.run().expect_code(0);
}

#[test]
fn awsprevious_a_custom_stage_and_a_version_id_are_read_one_by_one() {
    let mut server = Server::moto();
    let first = create(&server, "rotating", "first-fake");
    put(&server, "rotating", "second-fake");
    call(
        &server,
        "PutSecretValue",
        &json!({"SecretId": "rotating", "SecretString": "staged-fake", "VersionStages": ["canary"]}),
    );
    calls(&mut server);
    let config = format!(
        concat!(
            "current: {{aws_secrets_manager: {{secret_id: rotating}}}}\n",
            "previous: {{aws_secrets_manager: {{secret_id: rotating, version_stage: AWSPREVIOUS}}}}\n",
            "custom: {{aws_secrets_manager: {{secret_id: rotating, version_stage: canary}}}}\n",
            "pinned: {{aws_secrets_manager: {{secret_id: rotating, version_id: {first}}}}}\n",
            "{store}",
        ),
        first = first,
        store = store(&server, "")
    );
    let (test, outcome) = render(with_credentials(), &config);
    outcome.expect_code(0);
    assert_eq!(
        read(&test.path("out/app.yml")),
        "current: \"second-fake\"\nprevious: \"first-fake\"\ncustom: \"staged-fake\"\npinned: \"first-fake\"\n"
    );
    assert_eq!(calls(&mut server), 4, "one secret's four versions take four GetSecretValue calls");
}

#[test]
fn missing_secrets_and_versions_are_reported_alone_and_in_a_batch() {
    let server = Server::moto();
    create(&server, "present", "present-fake");
    create(&server, "text", "not-json");
    let config = format!(
        concat!(
            "a: {{aws_secrets_manager: {{secret_id: present}}}}\n",
            "b: {{aws_secrets_manager: {{secret_id: missing-in-batch}}}}\n",
            "c: {{aws_secrets_manager: {{secret_id: present, version_stage: AWSPREVIOUS}}}}\n",
            "d: {{aws_secrets_manager: {{secret_id: text, key: password}}}}\n",
            "{store}",
        ),
        store = store(&server, "")
    );
    let (_, outcome) = render(with_credentials(), &config);
    outcome
        .expect_code(4)
        .stderr_contains("b: aws_secrets_manager: aws secret missing-in-batch (store moto) not found")
        .stderr_contains("c: aws_secrets_manager: aws secret present version stage AWSPREVIOUS (store moto) not found")
        .stderr_contains("d: aws_secrets_manager: invalid content in aws secret text (store moto): `key` needs a JSON object SecretString: not a JSON object")
        .never_shows("not-json");
    let config = format!("a: {{aws_secrets_manager: {{secret_id: alone}}}}\n{}", store(&server, ""));
    let (_, outcome) = render(with_credentials(), &config);
    outcome.expect_code(4).stderr_contains("a: aws_secrets_manager: aws secret alone (store moto) not found");
    let config = "a: {aws_secrets_manager: {secret_id: x}}\nsecret_stores:\n  m: {aws_secrets_manager: {region: us-east-1, endpoint_url: 'http://127.0.0.1:9'}}\n";
    let (_, outcome) = render(with_credentials(), config);
    outcome.expect_code(4).stderr_contains("a: aws_secrets_manager: aws secret x (store m) is unreachable");
}

/// Each call's action and the access key it was signed with.
type NotedCalls = Arc<Mutex<Vec<(String, String)>>>;

/// A proxy in front of moto that passes every call through and notes each one: its action
/// (`X-Amz-Target`, or the query protocol's `Action=`) and the access key it was signed with.
fn noting_calls(moto: &Server) -> (FakeServer, NotedCalls) {
    let moto_port = moto.port;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = calls.clone();
    let proxy = FakeServer::start(move |request| {
        let body = String::from_utf8_lossy(&request.body).into_owned();
        let action = request.header("x-amz-target").map(str::to_owned).unwrap_or_else(|| {
            body.split('&').find_map(|pair| pair.strip_prefix("Action=")).unwrap_or_default().to_owned()
        });
        let key = request
            .header("authorization")
            .and_then(|value| value.split("Credential=").nth(1))
            .and_then(|credential| credential.split('/').next())
            .unwrap_or_default()
            .to_owned();
        seen.lock().unwrap().push((action, key));
        crate::http_fake::forward(moto_port, request)
    });
    (proxy, calls)
}

/// `role_arn` beside `endpoint_url` (a Secrets Manager VPC endpoint, as the README shows): the
/// role is assumed at STS's endpoint (AWS_ENDPOINT_URL_STS, or the store's `sts_endpoint_url`),
/// the secret read at Secrets Manager's. AssumeRole used to be sent to the Secrets Manager
/// endpoint, which refuses it.
#[test]
fn a_store_assumes_its_role_arn_at_stss_endpoint_not_secrets_managers() {
    let server = Server::moto();
    create(&server, "plain", "via-role-fake");
    for sts_from_the_store in [false, true] {
        let (secrets_manager, reads) = noting_calls(&server);
        let (sts, assumed) = noting_calls(&server);
        let sts_setting =
            if sts_from_the_store { format!(", sts_endpoint_url: '{}'", sts.url()) } else { String::new() };
        let config = format!(
            "a: {{aws_secrets_manager: {{secret_id: plain}}}}\nsecret_stores:\n  moto: {{aws_secrets_manager: {{region: \
             us-east-1, endpoint_url: '{}', role_arn: 'arn:aws:iam::123456789012:role/secret-render'{sts_setting}}}}}\n",
            secrets_manager.url(),
        );
        let test = if sts_from_the_store {
            with_credentials()
        } else {
            with_credentials().env("AWS_ENDPOINT_URL_STS", &sts.url())
        };
        let (test, outcome) = render(test, &config);
        outcome.expect_code(0);
        assert_eq!(read(&test.path("out/app.yml")), "a: \"via-role-fake\"\n");
        let actions = |calls: &Mutex<Vec<(String, String)>>| -> Vec<String> {
            calls.lock().unwrap().iter().map(|(action, _)| action.clone()).collect()
        };
        assert_eq!(actions(&assumed), ["AssumeRole"], "STS from the store: {sts_from_the_store}");
        assert_eq!(actions(&reads), ["secretsmanager.GetSecretValue"], "STS from the store: {sts_from_the_store}");
        let signed_with = &reads.lock().unwrap()[0].1;
        assert_ne!(signed_with, "testing", "the read is signed with the role's keys, not the caller's");
    }
}

/// A store's `profile` gives its credentials even when AWS_ACCESS_KEY_ID is set, as the AWS CLI's
/// `--profile` does: the standard chain takes the environment's first, and two stores of two
/// profiles read as one identity.
#[test]
fn a_stores_profile_wins_over_credentials_in_the_environment() {
    let server = Server::moto();
    create(&server, "plain", "via-profile-fake");
    let (proxy, calls) = noting_calls(&server);
    let config = format!(
        "a: {{aws_secrets_manager: {{secret_id: plain}}}}\nsecret_stores:\n  moto: {{aws_secrets_manager: {{region: \
         us-east-1, endpoint_url: '{}', profile: monitoring}}}}\n",
        proxy.url()
    );
    let test = with_credentials()
        .file("credentials", "[monitoring]\naws_access_key_id = MONITORINGKEY\naws_secret_access_key = fake\n");
    let credentials = test.path("credentials").display().to_string();
    let test = test.env("AWS_SHARED_CREDENTIALS_FILE", &credentials);
    let (test, outcome) = render(test, &config);
    outcome.expect_code(0);
    assert_eq!(read(&test.path("out/app.yml")), "a: \"via-profile-fake\"\n");
    let keys: Vec<String> = calls.lock().unwrap().iter().map(|(_, key)| key.clone()).collect();
    assert_eq!(keys, ["MONITORINGKEY"]);

    // A profile that holds no credentials (one that sets a region) leaves them to the chain.
    calls.lock().unwrap().clear();
    let test = with_credentials().file("config", "[profile regiononly]\nregion = us-east-1\n");
    let aws_config = test.path("config").display().to_string();
    let config = format!(
        "a: {{aws_secrets_manager: {{secret_id: plain}}}}\nsecret_stores:\n  moto: {{aws_secrets_manager: \
         {{endpoint_url: '{}', profile: regiononly}}}}\n",
        proxy.url()
    );
    let (_, outcome) = render(test.env("AWS_CONFIG_FILE", &aws_config), &config);
    outcome.expect_code(0);
    let keys: Vec<String> = calls.lock().unwrap().iter().map(|(_, key)| key.clone()).collect();
    assert_eq!(keys, ["testing"], "the environment's keys");
}

/// Empty settings are config errors, not a region the SDK cannot use.
#[test]
fn empty_store_settings_are_config_errors() {
    let config = "a: {aws_secrets_manager: {secret_id: x}}\nsecret_stores:\n  m: {aws_secrets_manager: {region: '', \
                  sts_endpoint_url: 'https://sts.example'}}\n";
    let (_, outcome) = render(with_credentials(), config);
    outcome.expect_code(3).stderr_contains("`region` is empty").stderr_contains("`sts_endpoint_url` is for `role_arn`");
}

#[test]
fn without_a_store_the_environment_decides() {
    let server = Server::moto();
    create(&server, "plain", "from-env-fake");
    let test = with_credentials().env("AWS_REGION", "us-east-1").env("AWS_ENDPOINT_URL", &server.address());
    let (test, outcome) = render(test, "a: {aws_secrets_manager: {secret_id: plain}}\n");
    outcome.expect_code(0);
    assert_eq!(read(&test.path("out/app.yml")), "a: \"from-env-fake\"\n");
    let test = with_credentials().env("AWS_REGION", "").env("AWS_DEFAULT_REGION", "");
    let (_, outcome) = render(test, "a: {aws_secrets_manager: {secret_id: plain}}\n");
    outcome.expect_code(4).stderr_contains("no AWS region: set `region` on a store, or AWS_REGION");
}

#[test]
fn watch_picks_up_a_rotation_and_keeps_the_previous_value_for_the_grace_period() {
    let server = Server::moto();
    create(&server, "rotating", &json!({"password": "first-fake"}).to_string());
    let config = format!(
        "pw: {{aws_secrets_manager: {{secret_id: rotating, key: password, render: file, refresh_interval: 1s}}}}\n{}",
        store(&server, "")
    );
    let test = with_credentials().file("app.yml", &config);
    let mut sidecar = WatchProcess::sidecar(&test, &["app.yml", "--out", "out", "--target", "generic"]);
    let secret = file_of(&read(&test.path("out/app.yml")), "pw");
    assert_eq!(read(&secret), "first-fake");
    put(&server, "rotating", &json!({"password": "second-fake"}).to_string());
    let previous = secret.with_file_name(format!("{}.previous", secret.file_name().unwrap().to_string_lossy()));
    // The new value and the previous one (written beside it) both land.
    sidecar.until("the rotation", Duration::from_secs(10), |_| {
        std::fs::read_to_string(&secret).unwrap_or_default() == "second-fake"
            && std::fs::read_to_string(&previous).unwrap_or_default() == "first-fake"
    });
}

#[test]
fn with_previous_stage_a_rotation_before_start_still_has_its_previous_value_for_the_grace() {
    let server = Server::moto();
    create(&server, "rotated", "old-fake");
    put(&server, "rotated", "new-fake");
    create(&server, "fresh", "never-rotated-fake");
    let config = format!(
        concat!(
            "a: {{aws_secrets_manager: {{secret_id: rotated, render: file, store: source}}}}\n",
            "b: {{aws_secrets_manager: {{secret_id: fresh, render: file, store: source}}}}\n",
            "c: {{aws_secrets_manager: {{secret_id: rotated, render: file, store: plain}}}}\n",
            "secret_stores:\n",
            "  source: {{aws_secrets_manager: {{region: us-east-1, endpoint_url: '{url}', previous_stage: AWSPREVIOUS}}}}\n",
            "  plain: {{aws_secrets_manager: {{region: us-east-1, endpoint_url: '{url}'}}}}\n",
        ),
        url = server.address()
    );
    let test = with_credentials().file("app.yml", &config);
    let mut sidecar = WatchProcess::sidecar(&test, &["app.yml", "--out", "out", "--target", "generic"]);
    let rendered = read(&test.path("out/app.yml"));
    let a = file_of(&rendered, "a");
    let a_previous = a.with_file_name(format!("{}.previous", a.file_name().unwrap().to_string_lossy()));
    sidecar.until("a's previous value", Duration::from_secs(10), |_| a_previous.exists());
    let previous = |field: &str| {
        let secret = file_of(&rendered, field);
        assert_ne!(read(&secret), "old-fake");
        std::fs::read_to_string(
            secret.with_file_name(format!("{}.previous", secret.file_name().unwrap().to_string_lossy())),
        )
        .ok()
    };
    assert_eq!(previous("a").as_deref(), Some("old-fake"));
    assert_eq!(previous("b"), None, "a secret never rotated has no previous value");
    assert_eq!(previous("c"), None, "without previous_stage only a change seen here keeps one");
}

#[test]
fn rotate_puts_a_new_version_and_awsprevious_keeps_the_old_one() {
    let server = Server::moto();
    let stored =
        r#"{"username": "prom", "password": "old-aws-password", "port": 5432, "big": 123456789012345678901234567890}"#;
    let old_version = create(&server, "prometheus/node", stored);
    let test = with_credentials().file("stores.yml", &store(&server, ""));
    let reference = "{aws_secrets_manager: {secret_id: prometheus/node, key: password}}";
    let outcome = test.args(["--stores", "stores.yml", "rotate", reference]).run();
    outcome.expect_code(0).stdout_contains("new version ");
    let current = call(&server, "GetSecretValue", &json!({"SecretId": "prometheus/node"}));
    let fields: Value = serde_json::from_str(current["SecretString"].as_str().unwrap()).unwrap();
    let new = fields["password"].as_str().unwrap().to_owned();
    assert_eq!(new.len(), 32);
    assert_eq!(fields["username"], "prom", "the other keys are kept");
    // As stored: a number stays a number, with every digit, and the keys keep their order.
    let text = current["SecretString"].as_str().unwrap();
    let expected =
        format!(r#"{{"username":"prom","password":"{new}","port":5432,"big":123456789012345678901234567890}}"#);
    assert!(text == expected, "{}", text.len());
    outcome.never_shows(&new).never_shows("old-aws-password");
    assert_ne!(current["VersionId"].as_str().unwrap(), old_version);
    let previous =
        call(&server, "GetSecretValue", &json!({"SecretId": "prometheus/node", "VersionStage": "AWSPREVIOUS"}));
    assert_eq!(previous["VersionId"].as_str().unwrap(), old_version);
    assert!(previous["SecretString"].as_str().unwrap().contains("old-aws-password"));

    // A missing secret is created with --create; a whole-string secret is replaced.
    let rotate_fresh = |extra: &[&str]| {
        with_credentials()
            .file("stores.yml", &store(&server, ""))
            .args(["--stores", "stores.yml", "rotate", "{aws_secrets_manager: {secret_id: fresh}}", "--charset", "hex"])
            .args(extra)
            .run()
    };
    rotate_fresh(&[]).expect_code(4).stderr_contains("not found: a rotation replaces a value that exists");
    let created = rotate_fresh(&["--create"]);
    created.expect_code(0).stdout_contains("created aws secret fresh");
    let fresh = call(&server, "GetSecretValue", &json!({"SecretId": "fresh"}));
    let fresh = fresh["SecretString"].as_str().unwrap();
    assert!(fresh.len() == 32 && fresh.bytes().all(|c| c.is_ascii_hexdigit()), "{}", fresh.len());
    created.never_shows(fresh);
}

/// A write without `key` over a JSON secret of several keys (a forgotten `key` in REF) is
/// refused naming them, and the secret keeps its version: it used to be replaced by the bare
/// value, every other key lost. A secret of one key, or plain text, is replaced as asked.
#[test]
fn a_whole_write_over_a_json_secret_of_several_keys_is_refused() {
    let server = Server::moto();
    let version = create(&server, "multi", r#"{"username": "prom", "password": "aws-multi-fake"}"#);
    let run = |args: &[&str]| {
        with_credentials().file("stores.yml", &store(&server, "")).args(["--stores", "stores.yml"]).args(args).run()
    };
    run(&["rotate", "{aws_secrets_manager: {secret_id: multi}}"])
        .expect_code(3)
        .stderr_contains("holds several keys; the body needs `key` (available keys: password, username)");
    run(&["store", "put", "{aws_secrets_manager: {secret_id: multi}}", "--from-file", "stores.yml"])
        .expect_code(3)
        .stderr_contains("(available keys: password, username)");
    let current = call(&server, "GetSecretValue", &json!({"SecretId": "multi"}));
    assert_eq!(current["VersionId"].as_str().unwrap(), version, "no version was written");

    create(&server, "single", r#"{"token": "aws-single-fake"}"#);
    run(&["rotate", "{aws_secrets_manager: {secret_id: single}}"]).expect_code(0);
    let current = call(&server, "GetSecretValue", &json!({"SecretId": "single"}));
    assert_eq!(current["SecretString"].as_str().unwrap().len(), 32, "one key: replaced whole, as asked");
}

/// A `SecretBinary` rotated stays a `SecretBinary` (a reader of it would otherwise find none,
/// the value moved to `SecretString`), and a `key` written into one says it holds no fields.
#[test]
fn a_binary_secret_stays_binary_and_has_no_keys_to_write() {
    let server = Server::moto();
    call(&server, "CreateSecret", &json!({"Name": "bin", "SecretBinary": base64(&[0, 159, 146, 150, 255])}));
    let run = |args: &[&str]| {
        with_credentials().file("stores.yml", &store(&server, "")).args(["--stores", "stores.yml"]).args(args).run()
    };
    run(&["rotate", "{aws_secrets_manager: {secret_id: bin}}"]).expect_code(0);
    let current = call(&server, "GetSecretValue", &json!({"SecretId": "bin"}));
    assert!(current.get("SecretString").is_none(), "{:?}", current.as_object().map(|o| o.keys().collect::<Vec<_>>()));
    assert!(current["SecretBinary"].is_string(), "the new value is a SecretBinary");
    run(&["rotate", "{aws_secrets_manager: {secret_id: bin, key: token}}", "--create"])
        .expect_code(5)
        .stderr_contains("it holds a SecretBinary: `key` needs a JSON object SecretString");
}

/// `store delete` with a `key` writes a new version without that field (the others kept, the old
/// version still `AWSPREVIOUS`); without one it schedules the secret's deletion, which
/// `RestoreSecret` can undo within the recovery window.
#[test]
fn store_delete_removes_a_key_in_a_new_version_or_schedules_a_recoverable_deletion() {
    let server = Server::moto();
    create(&server, "prometheus/node", &json!({"username": "prom", "password": "aws-password-fake"}).to_string());
    let run = |args: &[&str]| {
        with_credentials()
            .file("stores.yml", &store(&server, ""))
            .args(["--stores", "stores.yml"].into_iter().chain(args.iter().copied()))
            .run()
    };
    run(&["store", "delete", "{aws_secrets_manager: {secret_id: prometheus/node, key: username}}"])
        .expect_code(0)
        .never_shows("aws-password-fake");
    let current = call(&server, "GetSecretValue", &json!({"SecretId": "prometheus/node"}));
    assert_eq!(current["SecretString"], json!({"password": "aws-password-fake"}).to_string());
    let previous =
        call(&server, "GetSecretValue", &json!({"SecretId": "prometheus/node", "VersionStage": "AWSPREVIOUS"}));
    assert!(previous["SecretString"].as_str().unwrap().contains("\"username\""), "the old version keeps the key");
    run(&["store", "delete", "{aws_secrets_manager: {secret_id: prometheus/node, key: nothing}}"])
        .expect_code(4)
        .stderr_contains("nothing");

    run(&["store", "delete", "{aws_secrets_manager: {secret_id: prometheus/node}}"]).expect_code(0);
    let described = call(&server, "DescribeSecret", &json!({"SecretId": "prometheus/node"}));
    assert!(described.get("DeletedDate").is_some(), "deletion scheduled: {described}");
    run(&["store", "get", "{aws_secrets_manager: {secret_id: prometheus/node}}"]).expect_code(4);
    call(&server, "RestoreSecret", &json!({"SecretId": "prometheus/node"}));
    let restored = call(&server, "GetSecretValue", &json!({"SecretId": "prometheus/node"}));
    assert_eq!(restored["SecretString"], json!({"password": "aws-password-fake"}).to_string(), "recoverable");
}

/// `store get` of a JSON secret named without `key` lists its keys and their lengths, as with
/// a `key`, never a value.
#[test]
fn store_get_of_a_json_secret_without_key_lists_its_keys() {
    let server = Server::moto();
    create(&server, "prometheus/node", &json!({"username": "prom", "password": "aws-password-fake"}).to_string());
    let outcome = with_credentials()
        .file("stores.yml", &store(&server, ""))
        .args(["--stores", "stores.yml", "store", "get", "{aws_secrets_manager: {secret_id: prometheus/node}}"])
        .run();
    outcome
        .expect_code(0)
        .stdout_contains("key password: 17 bytes\n")
        .stdout_contains("key username: 4 bytes\n")
        .never_shows("aws-password-fake");
}

/// `extract --to` a store of moto's: the inline value becomes a key of the JSON `SecretString`
/// of a secret created for it, and `render` reads it back.
#[test]
fn extract_moves_an_inline_value_into_a_new_secret_that_renders_back() {
    let server = Server::moto();
    let test = with_credentials().file("stores.yml", &store(&server, ""));
    let map = "{aws_secrets_manager: {store: moto, secret_id: prometheus/node, key: password}}";
    crate::extract::extract_and_render_back(test, &["--stores", "stores.yml"], "moto", "aws-pass-fake", map);
    let stored = call(&server, "GetSecretValue", &json!({"SecretId": "prometheus/node"}));
    let fields: Value = serde_json::from_str(stored["SecretString"].as_str().unwrap()).unwrap();
    assert_eq!(fields, json!({"password": "aws-pass-fake"}));
}

/// `n` secrets `s0`..`s{n-1}` on moto, each holding its own name, and a config naming each.
fn many_secrets(server: &Server, n: usize, endpoint: &str) -> String {
    let mut config = String::new();
    for index in 0..n {
        create(server, &format!("s{index}"), &format!("value-{index}"));
        config.push_str(&format!("v{index}: {{aws_secrets_manager: {{secret_id: s{index}}}}}\n"));
    }
    config
        + &format!(
            "secret_stores:\n  moto: {{aws_secrets_manager: {{region: us-east-1, endpoint_url: '{endpoint}'}}}}\n"
        )
}

/// Whether a rendered generic config inlines `value-I` for each `vI` of [`many_secrets`].
fn holds_every_value(rendered: &str, n: usize) -> bool {
    (0..n).all(|index| rendered.contains(&format!("v{index}: \"value-{index}\"\n")))
}

/// `BatchGetSecretValue` takes at most 20 ids: 25 current secrets take two calls.
#[test]
fn twenty_five_current_secrets_take_two_batch_calls() {
    let mut server = Server::moto();
    let config = many_secrets(&server, 25, &server.address());
    calls(&mut server);
    let (test, outcome) = render(with_credentials(), &config);
    outcome.expect_code(0);
    assert!(holds_every_value(&read(&test.path("out/app.yml")), 25));
    assert_eq!(calls(&mut server), 2);
}

/// A proxy in front of moto that refuses `BatchGetSecretValue` as AWS does for a caller without
/// `secretsmanager:BatchGetSecretValue` (400, `AccessDeniedException`) and passes every other
/// call to moto unchanged; it counts the calls by action.
fn refusing_batches(moto: &Server) -> (FakeServer, Arc<Mutex<Vec<String>>>) {
    let moto_port = moto.port;
    let actions = Arc::new(Mutex::new(Vec::new()));
    let seen = actions.clone();
    let proxy = FakeServer::start(move |request| {
        let action = request.header("x-amz-target").unwrap_or_default().to_owned();
        seen.lock().unwrap().push(action.clone());
        if action == "secretsmanager.BatchGetSecretValue" {
            return Reply::json(
                400,
                &json!({"__type": "AccessDeniedException", "Message": "not authorized to perform: secretsmanager:BatchGetSecretValue"}),
            )
            .header("x-amzn-ErrorType", "AccessDeniedException");
        }
        crate::http_fake::forward(moto_port, request)
    });
    (proxy, actions)
}

/// A caller AWS refuses `BatchGetSecretValue` gets one warning, and every secret is read with
/// `GetSecretValue` instead. (moto allows every action: a proxy in front of it refuses this one.)
#[test]
fn a_refused_batch_call_falls_back_to_one_read_per_secret_with_one_warning() {
    let moto = Server::moto();
    let (proxy, actions) = refusing_batches(&moto);
    let config = many_secrets(&moto, 3, &proxy.url());
    let (test, outcome) = render(with_credentials(), &config);
    outcome.expect_code(0);
    assert!(holds_every_value(&read(&test.path("out/app.yml")), 3));
    assert_eq!(outcome.stderr.matches("BatchGetSecretValue was refused").count(), 1, "{}", outcome.stderr);
    let actions = actions.lock().unwrap().clone();
    let count = |action: &str| actions.iter().filter(|seen| *seen == action).count();
    assert_eq!(count("secretsmanager.BatchGetSecretValue"), 1, "{actions:?}");
    assert_eq!(count("secretsmanager.GetSecretValue"), 3, "{actions:?}");
}

/// A batch that fails for a reason worth retrying (throttled, unreachable, timed out) fails its
/// secrets for this cycle, to be retried at their backoff: reading each one by one at once
/// doubled the calls (and, on a store that hangs, the wait) on a store already in trouble.
#[test]
fn a_throttled_batch_is_not_read_again_one_by_one_in_the_same_cycle() {
    let actions = Arc::new(Mutex::new(Vec::new()));
    let seen = actions.clone();
    let throttling = FakeServer::start(move |request| {
        seen.lock().unwrap().push(request.header("x-amz-target").unwrap_or_default().to_owned());
        Reply::json(400, &json!({"__type": "ThrottlingException", "Message": "Rate exceeded"}))
            .header("x-amzn-ErrorType", "ThrottlingException")
    });
    let config = format!(
        "a: {{aws_secrets_manager: {{secret_id: a}}}}\nb: {{aws_secrets_manager: {{secret_id: b}}}}\n\
         secret_stores:\n  m: {{aws_secrets_manager: {{region: us-east-1, endpoint_url: '{}'}}}}\n",
        throttling.url()
    );
    let (_test, outcome) = render(with_credentials(), &config);
    outcome.expect_code(4).stderr_contains("ThrottlingException");
    let actions = actions.lock().unwrap().clone();
    assert!(actions.iter().all(|action| action == "secretsmanager.BatchGetSecretValue"), "{actions:?}");
}

/// A load balancer or proxy in front of the endpoint answering 503 with an HTML page (no AWS
/// error code) is a store that cannot be reached, worth retrying, not "invalid content".
#[test]
fn an_html_503_from_a_proxy_is_unreachable_not_invalid() {
    let proxy = FakeServer::start(|_| Reply::text(503, "text/html", "<html><body>Service Unavailable</body></html>"));
    let config = format!(
        "pw: {{aws_secrets_manager: {{secret_id: x}}}}\nsecret_stores:\n  moto: {{aws_secrets_manager: {{region: us-east-1, endpoint_url: '{}'}}}}\n",
        proxy.url()
    );
    let (_test, outcome) = render(with_credentials(), &config);
    outcome.expect_code(4).stderr_contains("is unreachable: HTTP 503");
}

/// A test whose binary has no AWS credentials of its own: the chain goes past the environment
/// and the shared files to what `env` adds.
fn without_credentials() -> Test {
    ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ROLE_ARN"]
        .into_iter()
        .chain(["AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"])
        .fold(Test::new(), Test::without_env)
        .env("AWS_CONFIG_FILE", "/nonexistent/aws/config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws/credentials")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
}

/// A container credentials token that cannot be sent (a line break in its file) is reported
/// as such, never quoted: aws-config puts it whole into its error and its warning.
#[test]
fn a_container_credentials_token_that_cannot_be_sent_is_never_shown() {
    let port = crate::support::free_port();
    let test = without_credentials()
        .file("eks-pod-identity-token", &format!("{CANARY}\nsecond line\n"))
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &format!("http://127.0.0.1:{port}/v1/credentials"));
    let token_file = test.path("eks-pod-identity-token").display().to_string();
    let test = test.env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token_file);
    let (_, outcome) = render(test, "a: {aws_secrets_manager: {secret_id: plain}}\n");
    outcome
        .expect_code(4)
        .stderr_contains("the container credentials token (AWS_CONTAINER_AUTHORIZATION_TOKEN")
        .never_shows(CANARY);
}

/// A `credential_process` that fails is reported with its exit status; its stderr, which may
/// hold credentials (and does here), is not shown, though aws-config writes it into its error.
#[test]
fn a_failing_credential_process_is_reported_without_its_stderr() {
    let test = without_credentials().file("process.sh", &format!("echo 'refreshing with {CANARY}' >&2\nexit 1\n"));
    let config = format!("[default]\ncredential_process = /bin/sh {}\n", test.path("process.sh").display());
    let test = test.file("aws-config", &config);
    let aws_config = test.path("aws-config").display().to_string();
    let (_, outcome) =
        render(test.env("AWS_CONFIG_FILE", &aws_config), "a: {aws_secrets_manager: {secret_id: plain}}\n");
    outcome.expect_code(4).stderr_contains("(its stderr is not shown: it may hold credentials)").never_shows(CANARY);
}
