//! The `gcp_secret_manager` provider against a faithful fake of Google's REST APIs, driven through
//! the binary (`render` with a store pointing at the fake) and through the library's store: a
//! service-account key's signed JWT exchanged for a token, the metadata server, values, JSON keys,
//! versions, the CRC32C check, not-found and permission errors, one token for many fetches and
//! a new one when it expires, `rotate` adding a version (`secrets.addVersion`, the secret
//! created when missing), and `extract` into a store.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;

use crate::http_fake::{FakeServer, Reply, Request};
use crate::support::{CANARY, Test, read, repo};

const PROJECT: &str = "secret-render-test";
/// Secret Manager names versions by project number in its responses.
const PROJECT_NUMBER: &str = "123456789012";
const CLIENT_EMAIL: &str = "secret-render-test@secret-render-test.iam.gserviceaccount.com";
const KEY_ID: &str = "0123456789abcdef0123456789abcdef01234567";
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
const METADATA_TOKEN: &str = "/computeMetadata/v1/instance/service-accounts/default/token";

/// The throwaway service-account key the tests ship (testdata/gcp/README.md).
fn key_fixture() -> serde_json::Value {
    serde_json::from_str(&read(&repo().join("testdata/gcp/throwaway-service-account.json"))).expect("JSON")
}

/// CRC-32C (Castagnoli), bit by bit: the fake's own, independent of the product's crate.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0x82F6_3B78 } else { crc >> 1 };
        }
    }
    !crc
}

#[derive(Default)]
struct GoogleState {
    /// Secret ID → payloads of versions 1, 2, …
    versions: BTreeMap<String, Vec<Vec<u8>>>,
    /// Destroyed versions: (secret ID, version number).
    destroyed: BTreeSet<(String, usize)>,
    /// Disabled versions, which `versions.enable` brings back: (secret ID, version number).
    disabled: BTreeSet<(String, usize)>,
    /// Secrets the caller lacks `secretmanager.versions.access` on.
    denied: BTreeSet<String>,
    /// Secrets served with a wrong `dataCrc32c`, as if corrupted on the way.
    corrupt: BTreeSet<String>,
    /// The Secret Manager API not enabled in the project (403 `SERVICE_DISABLED`).
    api_disabled: bool,
    /// `versions.access` answering 503, as Secret Manager does when it is in trouble.
    access_unavailable: bool,
    /// Issued access tokens and when they expire.
    tokens: BTreeMap<String, Instant>,
    /// `expires_in` of the tokens issued from now on.
    expires_in: u64,
    /// How long the tokens issued from now on are accepted, when not for their `expires_in`.
    accepted_for: Option<u64>,
    /// An authorized user's (client_id, client_secret, refresh_token).
    user: Option<(String, String, String)>,
    /// Every JWT assertion's claims, as verified.
    assertions: Vec<serde_json::Value>,
    /// The `x-goog-user-project` header of each authenticated read (`None` without one).
    user_projects: Vec<Option<String>>,
}

/// A fake of three Google endpoints as they behave today: Secret Manager API v1
/// (`GET /v1/projects/*/secrets/*/versions/*:access` → `AccessSecretVersionResponse` with base64
/// `payload.data` and an int64-as-string `payload.dataCrc32c`; `google.rpc.Status` error bodies
/// with `ErrorInfo` details; 401 with `WWW-Authenticate: Bearer realm=…, error="invalid_token"`),
/// Google's OAuth 2.0 token endpoint (`POST /token`, form-encoded; the JWT-bearer grant of RFC
/// 7523 with an RS256 assertion whose signature it verifies against the service account's public
/// key, and the refresh-token grant; `{"error","error_description"}` bodies) and the Compute Engine
/// metadata server (`GET /computeMetadata/v1/instance/service-accounts/default/token`, refused
/// without `Metadata-Flavor: Google`, answered with that header). Google ships no Secret Manager
/// emulator (gcloud's emulators cover other services) and none installs on these machines, so the
/// tests run against this.
struct GoogleFake {
    server: FakeServer,
    state: Arc<Mutex<GoogleState>>,
}

impl GoogleFake {
    fn start() -> Self {
        let state = Arc::new(Mutex::new(GoogleState { expires_in: 3599, ..GoogleState::default() }));
        let key = key_fixture();
        let pem = key["private_key"].as_str().unwrap().to_owned();
        let public_key = {
            use rustls::pki_types::PrivatePkcs8KeyDer;
            use rustls::pki_types::pem::PemObject as _;
            let der = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes()).expect("a PKCS#8 key");
            let pair = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).expect("an RSA key");
            AsRef::<[u8]>::as_ref(pair.public()).to_vec()
        };
        let port = Arc::new(Mutex::new(0u16));
        let (handler_state, handler_port) = (state.clone(), port.clone());
        let server = FakeServer::start(move |request| {
            let token_url = format!("http://127.0.0.1:{}/token", handler_port.lock().unwrap());
            handle(request, &mut handler_state.lock().unwrap(), &public_key, &token_url)
        });
        *port.lock().unwrap() = server.port;
        Self { server, state }
    }

    fn put(&self, secret: &str, payload: &[u8]) {
        self.state.lock().unwrap().versions.entry(secret.to_owned()).or_default().push(payload.to_vec());
    }

    fn state(&self) -> std::sync::MutexGuard<'_, GoogleState> {
        self.state.lock().unwrap()
    }

    fn token_requests(&self) -> usize {
        self.server.count("POST /token") + self.server.count(&format!("GET {METADATA_TOKEN}"))
    }

    fn access_requests(&self) -> usize {
        self.server.count("GET /v1/")
    }

    /// The fixture key with its `token_uri` pointing here.
    fn key_file(&self) -> String {
        let mut key = key_fixture();
        key["token_uri"] = serde_json::Value::String(format!("{}/token", self.server.url()));
        key.to_string()
    }

    /// A config with store `gcp` (key file `sa.json`, endpoint here) followed by `fields`.
    fn config(&self, fields: &str) -> String {
        format!(
            "secret_stores:\n  gcp:\n    gcp_secret_manager:\n      endpoint: {}\n      credentials_file: sa.json\n      project: {PROJECT}\n{fields}",
            self.server.url()
        )
    }
}

fn google_error(code: u16, status: &str, message: &str) -> serde_json::Value {
    serde_json::json!({ "error": { "code": code, "message": message, "status": status } })
}

fn oauth_error(error: &str, description: &str) -> Reply {
    Reply::json(400, &serde_json::json!({ "error": error, "error_description": description }))
}

fn issue_token(state: &mut GoogleState) -> (String, u64) {
    let token = format!("ya29.fake-{}", state.tokens.len() + 1);
    state
        .tokens
        .insert(token.clone(), Instant::now() + Duration::from_secs(state.accepted_for.unwrap_or(state.expires_in)));
    (token, state.expires_in)
}

fn handle(request: &Request, state: &mut GoogleState, public_key: &[u8], token_url: &str) -> Reply {
    match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/token") => token_endpoint(request, state, public_key, token_url),
        ("GET", METADATA_TOKEN) => {
            if request.header("Metadata-Flavor") != Some("Google") {
                return Reply::text(
                    403,
                    "text/html; charset=UTF-8",
                    "Your client does not have permission to get URL from this server. Missing Metadata-Flavor:Google header.",
                );
            }
            let (token, expires_in) = issue_token(state);
            Reply::json(
                200,
                &serde_json::json!({ "access_token": token, "expires_in": expires_in, "token_type": "Bearer" }),
            )
            .header("Metadata-Flavor", "Google")
        }
        ("GET", path) if path.starts_with("/v1/") && path.ends_with(":access") => access(request, state),
        ("GET", path) if path.starts_with("/v1/") => get_version(request, state),
        ("POST", path) if path.starts_with("/v1/") => write(request, state),
        _ => Reply::json(404, &google_error(404, "NOT_FOUND", "The requested URL was not found on this server.")),
    }
}

fn token_endpoint(request: &Request, state: &mut GoogleState, public_key: &[u8], token_url: &str) -> Reply {
    if request.header("content-type") != Some("application/x-www-form-urlencoded") {
        return oauth_error("invalid_request", "Invalid Content-Type");
    }
    let form = request.form();
    match form.get("grant_type").map(String::as_str) {
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {}
        Some("refresh_token") => {
            let Some((client_id, client_secret, refresh_token)) = &state.user else {
                return oauth_error("invalid_grant", "Bad Request");
            };
            if form.get("client_id") != Some(client_id) || form.get("client_secret") != Some(client_secret) {
                return Reply::json(
                    401,
                    &serde_json::json!({ "error": "invalid_client", "error_description": "The OAuth client was not found." }),
                );
            }
            if form.get("refresh_token") != Some(refresh_token) {
                return oauth_error("invalid_grant", "Bad Request");
            }
            let (token, expires_in) = issue_token(state);
            return Reply::json(
                200,
                &serde_json::json!({ "access_token": token, "expires_in": expires_in, "scope": SCOPE, "token_type": "Bearer" }),
            );
        }
        other => return oauth_error("unsupported_grant_type", &format!("Invalid grant_type: {}", other.unwrap_or(""))),
    }
    let Some(assertion) = form.get("assertion") else {
        return oauth_error("invalid_request", "Missing required parameter: assertion");
    };
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, claims, signature] = parts.as_slice() else {
        return oauth_error("invalid_grant", "Invalid JWT: not a JWS compact serialization.");
    };
    let base64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let decode = |part: &str| {
        base64.decode(part).ok().and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
    };
    let (Some(header_json), Some(claims_json), Ok(signature)) =
        (decode(header), decode(claims), base64.decode(signature))
    else {
        return oauth_error("invalid_grant", "Invalid JWT: malformed.");
    };
    if header_json["alg"] != "RS256" || header_json["kid"] != KEY_ID {
        return oauth_error("invalid_grant", "Invalid JWT Signature.");
    }
    let signed = format!("{header}.{claims}");
    let key = ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, public_key);
    if key.verify(signed.as_bytes(), &signature).is_err() {
        return oauth_error("invalid_grant", "Invalid JWT Signature.");
    }
    if claims_json["iss"] != CLIENT_EMAIL {
        return oauth_error("invalid_grant", "Invalid grant: account not found");
    }
    if claims_json["aud"] != token_url {
        return oauth_error("invalid_grant", "Invalid JWT: Failed audience check.");
    }
    if claims_json["scope"].as_str().is_none_or(|scope| !scope.split(' ').any(|scope| scope == SCOPE)) {
        return oauth_error("invalid_scope", "Invalid OAuth scope or ID token audience provided.");
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let (iat, exp) = (claims_json["iat"].as_u64().unwrap_or(0), claims_json["exp"].as_u64().unwrap_or(0));
    if exp <= iat || exp - iat > 3600 || iat > now + 300 || exp < now {
        return oauth_error(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        );
    }
    state.assertions.push(claims_json);
    let (token, expires_in) = issue_token(state);
    Reply::json(200, &serde_json::json!({ "access_token": token, "expires_in": expires_in, "token_type": "Bearer" }))
}

fn access(request: &Request, state: &mut GoogleState) -> Reply {
    let token = request.header("authorization").and_then(|value| value.strip_prefix("Bearer "));
    if token.and_then(|token| state.tokens.get(token)).is_none_or(|expiry| *expiry <= Instant::now()) {
        let body = google_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        );
        return Reply::json(401, &body)
            .header("WWW-Authenticate", "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"");
    }
    state.user_projects.push(request.header("x-goog-user-project").map(str::to_owned));
    if state.access_unavailable {
        return Reply::json(503, &google_error(503, "UNAVAILABLE", "The service is currently unavailable."));
    }
    if state.api_disabled {
        let message = format!(
            "Secret Manager API has not been used in project {PROJECT_NUMBER} before or it is disabled. Enable it by \
             visiting https://console.developers.google.com/apis/api/secretmanager.googleapis.com/overview?project={PROJECT_NUMBER} then retry."
        );
        let mut body = google_error(403, "PERMISSION_DENIED", &message);
        body["error"]["details"] = serde_json::json!([{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "SERVICE_DISABLED",
            "domain": "googleapis.com",
            "metadata": {"service": "secretmanager.googleapis.com", "consumer": format!("projects/{PROJECT_NUMBER}")},
        }]);
        return Reply::json(403, &body);
    }
    let resource = request.path.trim_start_matches("/v1/").trim_end_matches(":access");
    let segments: Vec<&str> = resource.split('/').collect();
    let ["projects", project, "secrets", secret, "versions", version] = segments.as_slice() else {
        return Reply::json(404, &google_error(404, "NOT_FOUND", "The requested URL was not found on this server."));
    };
    if *project != PROJECT && *project != PROJECT_NUMBER {
        return Reply::json(
            403,
            &google_error(403, "PERMISSION_DENIED", &format!("Permission denied on resource project {project}.")),
        );
    }
    if state.denied.contains(*secret) {
        let body = serde_json::json!({ "error": {
            "code": 403,
            "message": format!("Permission 'secretmanager.versions.access' denied for resource '{resource}' (or it may not exist)."),
            "status": "PERMISSION_DENIED",
            "details": [{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "IAM_PERMISSION_DENIED",
                "domain": "secretmanager.googleapis.com",
                "metadata": { "resource": resource, "permission": "secretmanager.versions.access" }
            }]
        }});
        return Reply::json(403, &body);
    }
    let Some(versions) = state.versions.get(*secret) else {
        let message = format!("Secret [projects/{PROJECT_NUMBER}/secrets/{secret}] not found or has no versions.");
        return Reply::json(404, &google_error(404, "NOT_FOUND", &message));
    };
    let number = if *version == "latest" { versions.len() } else { version.parse().unwrap_or(usize::MAX) };
    let Some(payload) = number.checked_sub(1).and_then(|index| versions.get(index)) else {
        let message =
            format!("Secret Version [projects/{PROJECT_NUMBER}/secrets/{secret}/versions/{version}] not found.");
        return Reply::json(404, &google_error(404, "NOT_FOUND", &message));
    };
    for (set, state_name) in [(&state.destroyed, "DESTROYED"), (&state.disabled, "DISABLED")] {
        if set.contains(&(secret.to_string(), number)) {
            let message = format!(
                "Secret Version [projects/{PROJECT_NUMBER}/secrets/{secret}/versions/{number}] is in {state_name} state."
            );
            return Reply::json(400, &google_error(400, "FAILED_PRECONDITION", &message));
        }
    }
    let mut checksum = crc32c(payload);
    if state.corrupt.contains(*secret) {
        checksum ^= 1;
    }
    let body = serde_json::json!({
        "name": format!("projects/{PROJECT_NUMBER}/secrets/{secret}/versions/{number}"),
        "payload": {
            "data": base64::engine::general_purpose::STANDARD.encode(payload),
            "dataCrc32c": checksum.to_string(),
        }
    });
    Reply::json(200, &body)
}

/// A `SecretVersion` as `versions.get` and `versions.destroy` answer it.
fn version_resource(state: &GoogleState, secret: &str, number: usize) -> serde_json::Value {
    let destroyed = state.destroyed.contains(&(secret.to_owned(), number));
    let disabled = state.disabled.contains(&(secret.to_owned(), number));
    let mut version = serde_json::json!({
        "name": format!("projects/{PROJECT_NUMBER}/secrets/{secret}/versions/{number}"),
        "createTime": "2025-01-01T00:00:00.000000Z",
        "state": if destroyed { "DESTROYED" } else if disabled { "DISABLED" } else { "ENABLED" },
        "replicationStatus": { "automatic": {} },
        "etag": format!("\"{secret}-{number}\""),
    });
    if destroyed {
        version["destroyTime"] = "2025-01-02T00:00:00.000000Z".into();
    }
    version
}

fn unauthenticated(request: &Request, state: &GoogleState) -> Option<Reply> {
    let token = request.header("authorization").and_then(|value| value.strip_prefix("Bearer "));
    token.and_then(|token| state.tokens.get(token)).is_none().then(|| {
        Reply::json(401, &google_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."))
    })
}

/// The secret and version number of `projects/*/secrets/*/versions/*` (`latest` resolved), or the
/// 404 Secret Manager answers.
fn find_version(state: &GoogleState, resource: &str) -> Result<(String, usize), Reply> {
    let segments: Vec<&str> = resource.split('/').collect();
    let ["projects", _, "secrets", secret, "versions", version] = segments.as_slice() else {
        return Err(Reply::json(
            404,
            &google_error(404, "NOT_FOUND", "The requested URL was not found on this server."),
        ));
    };
    let count = state.versions.get(*secret).map_or(0, Vec::len);
    let number = if *version == "latest" { count } else { version.parse().unwrap_or(usize::MAX) };
    if number == 0 || number > count {
        let message =
            format!("Secret Version [projects/{PROJECT_NUMBER}/secrets/{secret}/versions/{version}] not found.");
        return Err(Reply::json(404, &google_error(404, "NOT_FOUND", &message)));
    }
    Ok(((*secret).to_owned(), number))
}

/// `versions.get` (`GET /v1/projects/*/secrets/*/versions/*`): the version's metadata, its
/// number in `name` even when asked for `latest`.
fn get_version(request: &Request, state: &mut GoogleState) -> Reply {
    if let Some(reply) = unauthenticated(request, state) {
        return reply;
    }
    match find_version(state, request.path.trim_start_matches("/v1/")) {
        Ok((secret, number)) => Reply::json(200, &version_resource(state, &secret, number)),
        Err(reply) => reply,
    }
}

/// The version a `versions.disable` or `versions.destroy` names: by number only (`latest` is
/// not found, as Secret Manager answers).
fn numbered_version(state: &GoogleState, resource: &str) -> Result<(String, usize), Reply> {
    if resource.ends_with("/versions/latest") {
        return Err(Reply::json(404, &google_error(404, "NOT_FOUND", "Requested entity was not found.")));
    }
    find_version(state, resource)
}

/// `secrets.create` (`POST /v1/projects/*/secrets?secretId=…`), `secrets.addVersion`
/// (`POST /v1/projects/*/secrets/*:addVersion`, base64 `payload.data` checked against its
/// `dataCrc32c`), `versions.disable` and `versions.destroy` (`POST …/versions/N:disable`, `:destroy`, a
/// number only: `latest` is refused), answered as Secret Manager does.
fn write(request: &Request, state: &mut GoogleState) -> Reply {
    if let Some(reply) = unauthenticated(request, state) {
        return reply;
    }
    let path = request.path.trim_start_matches("/v1/");
    // `versions.disable`: a destroyed version cannot be disabled; a disabled one stays so.
    if let Some(resource) = path.strip_suffix(":disable") {
        let (secret, number) = match numbered_version(state, resource) {
            Ok(found) => found,
            Err(reply) => return reply,
        };
        if state.destroyed.contains(&(secret.clone(), number)) {
            let message = format!(
                "SecretVersion [projects/{PROJECT_NUMBER}/secrets/{secret}/versions/{number}] is in state DESTROYED."
            );
            return Reply::json(400, &google_error(400, "FAILED_PRECONDITION", &message));
        }
        state.disabled.insert((secret.clone(), number));
        return Reply::json(200, &version_resource(state, &secret, number));
    }
    if let Some(resource) = path.strip_suffix(":destroy") {
        let (secret, number) = match numbered_version(state, resource) {
            Ok(found) => found,
            Err(reply) => return reply,
        };
        if !state.destroyed.insert((secret.clone(), number)) {
            let message = format!(
                "SecretVersion [projects/{PROJECT_NUMBER}/secrets/{secret}/versions/{number}] is already in state DESTROYED."
            );
            return Reply::json(400, &google_error(400, "FAILED_PRECONDITION", &message));
        }
        return Reply::json(200, &version_resource(state, &secret, number));
    }
    if let Some(resource) = path.strip_suffix(":addVersion") {
        let segments: Vec<&str> = resource.split('/').collect();
        let ["projects", _, "secrets", secret] = segments.as_slice() else {
            return Reply::json(
                404,
                &google_error(404, "NOT_FOUND", "The requested URL was not found on this server."),
            );
        };
        let Some(versions) = state.versions.get_mut(*secret) else {
            let message = format!("Secret [projects/{PROJECT_NUMBER}/secrets/{secret}] not found.");
            return Reply::json(404, &google_error(404, "NOT_FOUND", &message));
        };
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        let data = base64::engine::general_purpose::STANDARD.decode(body["payload"]["data"].as_str().unwrap()).unwrap();
        assert_eq!(body["payload"]["dataCrc32c"].as_str().unwrap(), crc32c(&data).to_string(), "the checksum is sent");
        versions.push(data);
        let name = format!("projects/{PROJECT_NUMBER}/secrets/{secret}/versions/{}", versions.len());
        return Reply::json(200, &serde_json::json!({"name": name, "state": "ENABLED"}));
    }
    let secret = request.query("secretId").unwrap_or_default().to_owned();
    if state.versions.contains_key(&secret) {
        return Reply::json(409, &google_error(409, "ALREADY_EXISTS", "Secret already exists."));
    }
    state.versions.insert(secret.clone(), Vec::new());
    Reply::json(200, &serde_json::json!({"name": format!("projects/{PROJECT_NUMBER}/secrets/{secret}")}))
}

/// A `render` of `config` with no key file anywhere: application default credentials end at
/// the metadata server.
fn metadata_render(config: &str) -> Test {
    Test::new()
        .file("app.yml", config)
        .env("GOOGLE_APPLICATION_CREDENTIALS", "")
        .env("CLOUDSDK_CONFIG", "/nonexistent")
        .args(["--target", "generic", "render", "app.yml", "--out", "out"])
}

fn generic_render(config: &str, key_file: &str) -> Test {
    Test::new()
        .file("app.yml", config)
        .file("sa.json", key_file)
        .env("GOOGLE_APPLICATION_CREDENTIALS", "")
        .args(["--target", "generic", "render", "app.yml", "--out", "out"])
}

#[test]
fn the_crc32c_of_the_fake_is_the_standard_one() {
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
}

#[test]
fn a_service_account_key_reads_a_value_a_json_key_and_an_older_version() {
    let fake = GoogleFake::start();
    fake.put("api-token", b"first-fake");
    fake.put("api-token", CANARY.as_bytes());
    fake.put("db", br#"{"username":"prom","password":"db-fake"}"#);
    let fields = concat!(
        "token: {gcp_secret_manager: {secret: api-token, render: file}}\n",
        "old: {gcp_secret_manager: {secret: api-token, version: \"1\"}}\n",
        "password: {gcp_secret_manager: {project: secret-render-test, secret: db, key: password}}\n",
    );
    let test = generic_render(&fake.config(fields), &fake.key_file());
    test.run().expect_code(0).never_shows("db-fake");
    let rendered = read(&test.path("out/app.yml"));
    assert!(rendered.contains("old: \"first-fake\"\n"), "{rendered}");
    assert!(rendered.contains("password: \"db-fake\"\n"), "{rendered}");
    let token_file = rendered.lines().find_map(|line| line.strip_prefix("token_file: ")).expect("token_file");
    assert_eq!(read(std::path::Path::new(token_file.trim_matches('"'))), CANARY);
    assert_eq!(fake.token_requests(), 1, "one token for the store");
    let state = fake.state();
    assert_eq!(state.assertions.len(), 1);
    assert_eq!(state.assertions[0]["scope"], SCOPE);
    assert!(state.user_projects.iter().all(Option::is_none), "a service account bills its own project");
}

/// A store's relative `credentials_file` resolves against the directory of the config that
/// names it, not the working directory: the config lives in `etc/`, the binary runs above it.
#[test]
fn a_relative_credentials_file_resolves_against_the_configs_directory() {
    let fake = GoogleFake::start();
    fake.put("api-token", b"config-dir-fake");
    let test = Test::new()
        .file("etc/app.yml", &fake.config("t: {gcp_secret_manager: {secret: api-token}}\n"))
        .file("etc/sa.json", &fake.key_file())
        .env("GOOGLE_APPLICATION_CREDENTIALS", "")
        .args(["--target", "generic", "render", "etc/app.yml", "--out", "out"]);
    test.run().expect_code(0);
    assert_eq!(read(&test.path("out/app.yml")), "t: \"config-dir-fake\"\n");
}

#[test]
fn every_fetch_of_a_render_shares_one_token() {
    let fake = GoogleFake::start();
    let mut fields = String::new();
    for index in 0..30 {
        fake.put(&format!("secret-{index}"), format!("value-{index}").as_bytes());
        fields.push_str(&format!("s{index}: {{gcp_secret_manager: {{secret: secret-{index}}}}}\n"));
    }
    let test = generic_render(&fake.config(&fields), &fake.key_file());
    test.run().expect_code(0);
    assert!(read(&test.path("out/app.yml")).contains("s29: \"value-29\"\n"));
    assert_eq!(fake.access_requests(), 30);
    assert_eq!(fake.token_requests(), 1, "30 concurrent fetches wait for one token request");
}

#[test]
fn a_payload_failing_its_crc32c_check_is_refused() {
    let fake = GoogleFake::start();
    fake.put("api-token", CANARY.as_bytes());
    fake.state().corrupt.insert("api-token".into());
    let test = generic_render(&fake.config("token: {gcp_secret_manager: {secret: api-token}}\n"), &fake.key_file());
    test.run()
        .expect_code(4)
        .stderr_contains("invalid content in gcp secret projects/secret-render-test/secrets/api-token/versions/latest")
        .stderr_contains("CRC32C");
    assert!(!test.path("out/app.yml").exists());
}

#[test]
fn missing_and_forbidden_secrets_are_told_apart() {
    let fake = GoogleFake::start();
    fake.put("api-token", b"fake");
    fake.put("locked", b"fake");
    fake.state().denied.insert("locked".into());
    let fields = concat!(
        "missing: {gcp_secret_manager: {secret: nothing-here}}\n",
        "no_version: {gcp_secret_manager: {secret: api-token, version: \"9\"}}\n",
        "locked: {gcp_secret_manager: {secret: locked}}\n",
    );
    let test = generic_render(&fake.config(fields), &fake.key_file());
    let outcome = test.run();
    outcome
        .expect_code(4)
        .stderr_contains(
            "gcp secret projects/secret-render-test/secrets/nothing-here/versions/latest (store gcp) not found",
        )
        .stderr_contains("gcp secret projects/secret-render-test/secrets/api-token/versions/9 (store gcp) not found")
        .stderr_contains(
            "permission denied reading gcp secret projects/secret-render-test/secrets/locked/versions/latest",
        )
        .stderr_contains("needs `secretmanager.versions.access`");
}

/// Behind an egress proxy (`HTTP_PROXY`/`HTTPS_PROXY`, here a dead one), Secret Manager is
/// reached through it unless `NO_PROXY` names the host, as Google's SDKs do; the metadata server
/// never is (a proxy would answer for its own machine). Every request used to bypass the proxy.
#[test]
fn the_api_goes_through_the_environments_proxy_and_the_metadata_server_never() {
    let fake = GoogleFake::start();
    fake.put("api-token", b"proxied-fake");
    let dead_proxy = format!("http://127.0.0.1:{}", crate::support::free_port());
    let config = format!(
        "secret_stores:\n  gcp:\n    gcp_secret_manager: {{endpoint: {url}, metadata_url: {url}}}\nt: {{gcp_secret_manager: {{project: {PROJECT}, secret: api-token}}}}\n",
        url = fake.server.url()
    );
    let render = |no_proxy: &str| {
        let test = Test::new()
            .file("app.yml", &config)
            .env("GOOGLE_APPLICATION_CREDENTIALS", "")
            .env("CLOUDSDK_CONFIG", "/nonexistent")
            .behind_proxy(&dead_proxy, no_proxy)
            .args(["--target", "generic", "render", "app.yml", "--out", "out"]);
        let outcome = test.run();
        (test, outcome)
    };
    render("").1.expect_code(4).stderr_contains("unreachable");
    assert_eq!(fake.server.count(&format!("GET {METADATA_TOKEN}")), 1, "the metadata server, reached directly");
    assert_eq!(fake.server.count("GET /v1/"), 0, "Secret Manager was reached without the proxy");
    let (test, outcome) = render("127.0.0.1");
    outcome.expect_code(0);
    assert_eq!(read(&test.path("out/app.yml")), "t: \"proxied-fake\"\n");
}

#[test]
fn the_metadata_server_gives_the_token_without_a_key() {
    let fake = GoogleFake::start();
    fake.put("api-token", b"metadata-fake");
    let config = format!(
        "secret_stores:\n  gcp:\n    gcp_secret_manager: {{endpoint: {url}, metadata_url: {url}}}\nt: {{gcp_secret_manager: {{project: {PROJECT}, secret: api-token}}}}\n",
        url = fake.server.url()
    );
    let test = metadata_render(&config);
    test.run().expect_code(0);
    assert_eq!(read(&test.path("out/app.yml")), "t: \"metadata-fake\"\n");
    assert_eq!(fake.server.count(&format!("GET {METADATA_TOKEN}")), 1);
    assert_eq!(fake.server.count("POST /token"), 0);
}

#[test]
fn google_application_credentials_names_the_key_file() {
    let fake = GoogleFake::start();
    fake.put("api-token", b"adc-fake");
    let config = format!(
        "secret_stores:\n  gcp:\n    gcp_secret_manager: {{endpoint: {}}}\nt: {{gcp_secret_manager: {{project: {PROJECT}, secret: api-token}}}}\n",
        fake.server.url()
    );
    let test = Test::new().file("app.yml", &config).file("keys/sa.json", &fake.key_file());
    let key = test.path("keys/sa.json");
    let test = test
        .env("GOOGLE_APPLICATION_CREDENTIALS", &key.to_string_lossy())
        .args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    test.run().expect_code(0);
    assert_eq!(read(&test.path("out/app.yml")), "t: \"adc-fake\"\n");
    assert_eq!(fake.server.count("POST /token"), 1);
}

#[test]
fn an_authorized_user_file_uses_its_refresh_token_and_bills_its_quota_project() {
    let fake = GoogleFake::start();
    fake.put("api-token", b"user-fake");
    fake.state().user = Some(("client.apps.googleusercontent.com".into(), "user-secret-fake".into(), CANARY.into()));
    let user = serde_json::json!({
        "type": "authorized_user",
        "client_id": "client.apps.googleusercontent.com",
        "client_secret": "user-secret-fake",
        "refresh_token": CANARY,
        "quota_project_id": "billing-project",
    });
    let config = format!(
        "secret_stores:\n  gcp:\n    gcp_secret_manager:\n      endpoint: {url}\n      token_url: {url}/token\n      credentials_file: user.json\nt: {{gcp_secret_manager: {{project: {PROJECT}, secret: api-token}}}}\n",
        url = fake.server.url()
    );
    let test = Test::new()
        .file("app.yml", &config)
        .file("user.json", &user.to_string())
        .args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    test.run().expect_code(0);
    assert_eq!(read(&test.path("out/app.yml")), "t: \"user-fake\"\n");
    // Its quota project is billed for the reads, as gcloud's own clients do.
    assert_eq!(fake.state().user_projects, [Some("billing-project".to_owned())]);
}

#[test]
fn a_refused_key_shows_googles_error_and_never_the_key() {
    let fake = GoogleFake::start();
    fake.put("api-token", b"fake");
    let mut key: serde_json::Value = serde_json::from_str(&fake.key_file()).unwrap();
    key["client_email"] = "someone-else@secret-render-test.iam.gserviceaccount.com".into();
    let private_key = key["private_key"].as_str().unwrap().lines().nth(3).unwrap().to_owned();
    let test = generic_render(&fake.config("t: {gcp_secret_manager: {secret: api-token}}\n"), &key.to_string());
    test.run()
        .expect_code(4)
        .stderr_contains("permission denied reading store `gcp` token request to")
        .stderr_contains("invalid_grant: Invalid grant: account not found")
        .never_shows(&private_key);
    assert_eq!(fake.access_requests(), 0);
}

#[test]
fn a_store_takes_no_auth_block() {
    let config = "secret_stores:\n  gcp:\n    gcp_secret_manager: {auth: {token: x}}\nt: {gcp_secret_manager: {project: p, secret: s}}\n";
    let test = Test::new().file("app.yml", config).args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    test.run().expect_code(3).stderr_contains("takes no `auth`: give `credentials_file`");
}

/// Through the library, the fetch of `api-token` (holding `library-fake`) by a store with a
/// service-account key of the fake's: the store, the location, and a runtime to drive them.
struct LibraryFetch {
    store: secret_render::provider::gcp::GcpStore,
    location: secret_render::provider::Location,
    runtime: tokio::runtime::Runtime,
    _key_dir: tempfile::TempDir,
}

impl LibraryFetch {
    fn new(fake: &GoogleFake) -> Self {
        use secret_render::provider::gcp::{GcpLocation, GcpStore, StoreSettings};
        use secret_render::provider::{Location, StoreRef};

        fake.put("api-token", b"library-fake");
        let key_dir = tempfile::tempdir().unwrap();
        let key = key_dir.path().join("sa.json");
        std::fs::write(&key, fake.key_file()).unwrap();
        let settings = StoreSettings {
            endpoint: Some(fake.server.url()),
            credentials_file: Some(key),
            ..StoreSettings::default()
        };
        let store = GcpStore::new(StoreRef::Default, &settings, 4).expect("a store");
        let location = Location::Gcp(GcpLocation {
            store: StoreRef::Default,
            project: PROJECT.into(),
            secret: "api-token".into(),
            version: "latest".into(),
            structured: false,
        });
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        Self { store, location, runtime, _key_dir: key_dir }
    }

    /// One fetch, which must succeed with the value.
    fn fetch(&self, what: &str) {
        use secret_render::provider::Provider as _;
        let fetched = self.runtime.block_on(self.store.fetch(&self.location)).expect(what);
        assert_eq!(fetched.select(None, &self.location).unwrap().expose(), b"library-fake", "{what}");
    }
}

/// Through the library: the token is reused while fresh, and one Google says has run out is not
/// sent again. The fake accepts those tokens for an hour, so only the count of token requests
/// shows a reuse; when a token is replaced ahead of its expiry is the unit test of `Token::fresh`.
#[test]
fn the_token_is_reused_while_fresh_and_replaced_once_expired() {
    let fake = GoogleFake::start();
    {
        let mut state = fake.state();
        state.expires_in = 0;
        state.accepted_for = Some(3600);
    }
    let library = LibraryFetch::new(&fake);
    for round in 1..=3 {
        library.fetch("a fetch with an expired token");
        assert_eq!(fake.token_requests(), round, "an expired token is replaced");
    }
    fake.state().expires_in = 3599;
    for _ in 0..5 {
        library.fetch("a fetch");
    }
    assert_eq!(fake.token_requests(), 4, "fresh tokens are reused");
    assert_eq!(fake.access_requests(), 8, "no fetch was refused and retried");
}

/// Through the library: a token Google no longer accepts (revoked before its expiry) gets a 401;
/// the store fetches a new token and retries the read once, and the fetch succeeds.
#[test]
fn a_refused_token_is_replaced_and_the_read_retried_once() {
    let fake = GoogleFake::start();
    let library = LibraryFetch::new(&fake);
    library.fetch("a fetch");
    fake.state().tokens.clear();
    library.fetch("a fetch with a new token");
    assert_eq!(fake.token_requests(), 2, "one new token");
    assert_eq!(fake.access_requests(), 3, "the refused read, retried once");
}

/// A form POST to the fake, as a token request.
fn post_form(fake: &GoogleFake, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", fake.server.port)).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    (status, response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default())
}

/// The fake itself: an assertion signed with the fixture key gets a token; the same signature
/// over changed claims, or no signature, does not.
#[test]
fn the_fake_verifies_the_assertions_signature() {
    use rustls::pki_types::PrivatePkcs8KeyDer;
    use rustls::pki_types::pem::PemObject as _;

    let fake = GoogleFake::start();
    let base64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let encode = |value: serde_json::Value| base64.encode(value.to_string());
    let header = encode(serde_json::json!({ "alg": "RS256", "typ": "JWT", "kid": KEY_ID }));
    let claims = |iss: &str| {
        encode(serde_json::json!({
            "iss": iss, "scope": SCOPE, "aud": format!("{}/token", fake.server.url()), "iat": now, "exp": now + 600,
        }))
    };
    let key = key_fixture();
    let der = PrivatePkcs8KeyDer::from_pem_slice(key["private_key"].as_str().unwrap().as_bytes()).unwrap();
    let pair = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap();
    let signed = format!("{header}.{}", claims(CLIENT_EMAIL));
    let mut signature = vec![0; pair.public().modulus_len()];
    pair.sign(&ring::signature::RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), signed.as_bytes(), &mut signature)
        .unwrap();
    let signature = base64.encode(&signature);
    let grant = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=";
    let (status, body) = post_form(&fake, "/token", &format!("{grant}{signed}.{signature}"));
    assert_eq!(status, 200, "{body}");
    let forged = format!("{header}.{}.{signature}", claims("attacker@example.iam.gserviceaccount.com"));
    let (status, body) = post_form(&fake, "/token", &format!("{grant}{forged}"));
    assert_eq!((status, body.contains("Invalid JWT Signature.")), (400, true), "{body}");
    let (status, _) = post_form(&fake, "/token", &format!("{grant}{signed}."));
    assert_eq!(status, 400);
    assert_eq!(fake.state().assertions.len(), 1);
}

#[test]
fn rotate_adds_a_version_and_the_old_one_stays_readable() {
    let google = GoogleFake::start();
    google.put(
        "node",
        br#"{"big":123456789012345678901234567890,"password":"old-gcp-password","port":5432,"username":"prom"}"#,
    );
    let stores = google.config("");
    let test = Test::new().file("sa.json", &google.key_file()).file("stores.yml", &stores);
    let reference = "{gcp_secret_manager: {secret: node, key: password}}";
    let outcome = test.args(["--stores", "stores.yml", "rotate", reference]).run();
    outcome.expect_code(0).stdout_contains("new version 2");
    let versions = google.state().versions["node"].clone();
    let latest: serde_json::Value = serde_json::from_slice(&versions[1]).unwrap();
    let new = latest["password"].as_str().unwrap().to_owned();
    assert_eq!(new.len(), 32);
    assert_eq!(latest["username"], "prom", "the other fields are kept");
    // As stored: a number stays a number, with every digit.
    let text = String::from_utf8(versions[1].clone()).unwrap();
    assert!(
        text.contains(r#""big":123456789012345678901234567890,"#) && text.contains(r#""port":5432,"#),
        "{}",
        text.len()
    );
    assert_eq!(
        versions[0],
        br#"{"big":123456789012345678901234567890,"password":"old-gcp-password","port":5432,"username":"prom"}"#,
        "version 1 is untouched"
    );
    outcome.never_shows(&new).never_shows("old-gcp-password");

    let fresh = Test::new()
        .file("sa.json", &google.key_file())
        .file("stores.yml", &stores)
        .args(["--stores", "stores.yml", "rotate", "{gcp_secret_manager: {secret: fresh}}", "--create"])
        .run();
    fresh.expect_code(0).stdout_contains("new version 1").stdout_contains("there was no current value to replace");
    // Without `key`, a JSON payload of several keys is not replaced whole (the others would be lost).
    Test::new()
        .file("sa.json", &google.key_file())
        .file("stores.yml", &stores)
        .args(["--stores", "stores.yml", "rotate", "{gcp_secret_manager: {secret: node}}"])
        .run()
        .expect_code(3)
        .stderr_contains("holds several keys");
    assert_eq!(google.state().versions["node"].len(), 2, "no version was written");
    assert_eq!(google.state().versions["fresh"][0].len(), 32);
}

/// `store delete` with a key writes a version without it; without one it disables the
/// version, which `gcloud secrets versions enable` brings back (as Vault's soft delete and AWS's
/// scheduled deletion can be undone), where it used to destroy it for good.
#[test]
fn store_delete_removes_a_key_in_a_new_version_or_disables_the_version() {
    let google = GoogleFake::start();
    google.put("node", br#"{"password":"gcp-password-fake","username":"prom"}"#);
    let stores = google.config("");
    let run = |args: &[&str]| {
        Test::new()
            .file("sa.json", &google.key_file())
            .file("stores.yml", &stores)
            .env("GOOGLE_APPLICATION_CREDENTIALS", "")
            .args(["--stores", "stores.yml"].into_iter().chain(args.iter().copied()))
            .run()
    };
    let outcome = run(&["store", "delete", "{gcp_secret_manager: {secret: node, key: username}}"]);
    outcome.expect_code(0).stdout_contains("new version 2").never_shows("gcp-password-fake");
    let versions = google.state().versions["node"].clone();
    assert_eq!(versions[1], br#"{"password":"gcp-password-fake"}"#);
    assert_eq!(versions[0], br#"{"password":"gcp-password-fake","username":"prom"}"#, "version 1 still has it");
    run(&["store", "delete", "{gcp_secret_manager: {secret: node, key: nothing}}"])
        .expect_code(4)
        .stderr_contains("nothing");

    run(&["store", "delete", "{gcp_secret_manager: {secret: node}}"])
        .expect_code(0)
        .stdout_contains("disabled version 2: `gcloud secrets versions enable 2 --secret node --project secret-render-test` brings it back");
    assert_eq!(google.server.count("POST /v1/projects/secret-render-test/secrets/node/versions/2:disable"), 1);
    assert_eq!(google.server.count("POST /v1/projects/secret-render-test/secrets/node/versions/2:destroy"), 0);
    assert!(google.state().disabled.contains(&("node".to_owned(), 2)));
    run(&["store", "get", "{gcp_secret_manager: {secret: node}}"]).expect_code(4).stderr_contains("DISABLED state");
    // Deleting it again finds nothing to delete, as Vault says of a deleted latest version.
    run(&["store", "delete", "{gcp_secret_manager: {secret: node}}"])
        .expect_code(4)
        .stderr_contains("(its latest version, 2, is already disabled)");
    run(&["store", "get", "{gcp_secret_manager: {secret: node, version: \"1\", key: username}}"]).expect_code(0);
    run(&["store", "delete", "{gcp_secret_manager: {secret: node, version: \"1\"}}"]).expect_code(0);
    assert!(google.state().disabled.contains(&("node".to_owned(), 1)));
    assert!(google.state().destroyed.is_empty(), "nothing destroyed");
}

/// A `key` written into a secret whose latest version is disabled or destroyed (Google answers
/// 400 FAILED_PRECONDITION, as a `store delete` without a key leaves it) is refused: that answer
/// was taken for "no secret yet", and a version holding the one key was added, dropping the
/// other fields.
#[test]
fn a_key_is_not_written_over_a_destroyed_latest_version() {
    let google = GoogleFake::start();
    google.put("node", br#"{"password":"gcp-password-fake","username":"prom"}"#);
    google.put("node", br#"{"password":"gcp-password-2-fake","username":"prom"}"#);
    google.state().destroyed.insert(("node".to_owned(), 2));
    let rotate = |extra: &[&str]| {
        Test::new()
            .file("sa.json", &google.key_file())
            .file("stores.yml", &google.config(""))
            .args(["--stores", "stores.yml", "rotate", "{gcp_secret_manager: {secret: node, key: password}}"])
            .args(extra)
            .run()
    };
    // `rotate` reads the value first, and says it cannot; with --create, the write's own read does.
    rotate(&[]).expect_code(4).stderr_contains("disabled or destroyed").never_shows("gcp-password");
    rotate(&["--create"]).expect_code(5).stderr_contains("disabled or destroyed").never_shows("gcp-password");
    assert_eq!(google.state().versions["node"].len(), 2, "no version was added");
}

/// `extract --to` a Secret Manager store: the inline value becomes a key of the JSON payload of a
/// secret created for it, and `render` reads it back.
#[test]
fn extract_moves_an_inline_value_into_a_new_secret_that_renders_back() {
    let google = GoogleFake::start();
    let test = Test::new().file("sa.json", &google.key_file()).file("stores.yml", &google.config(""));
    let map = "{gcp_secret_manager: {store: gcp, secret: prometheus_node, key: password}}";
    crate::extract::extract_and_render_back(test, &["--stores", "stores.yml"], "gcp", "gcp-pass-fake", map);
    let versions = google.state().versions["prometheus_node"].clone();
    assert_eq!(versions.len(), 1);
    let payload: serde_json::Value = serde_json::from_slice(&versions[0]).unwrap();
    assert_eq!(payload, serde_json::json!({"password": "gcp-pass-fake"}));
}

/// A listener that takes connections and never answers them (a metadata address where nothing
/// serves); how many it has taken.
fn unanswering_listener() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(stream);
        }
    });
    (url, accepted)
}

/// A metadata server that never answers costs one timeout for the whole render, not one per
/// secret in turn: the fetches that waited on the token request take its error. The timeout
/// says what the metadata server was asked for, as a refused connection does.
#[test]
fn a_metadata_server_that_never_answers_is_waited_for_once_not_once_per_secret() {
    let fake = GoogleFake::start();
    let (metadata, accepted) = unanswering_listener();
    let fields: String =
        (0..5).map(|i| format!("t{i}: {{gcp_secret_manager: {{project: {PROJECT}, secret: s{i}}}}}\n")).collect();
    let config = format!(
        "secret_stores:\n  gcp:\n    gcp_secret_manager: {{endpoint: {}, metadata_url: {metadata}, timeout: 1s}}\n{fields}",
        fake.server.url()
    );
    let test = metadata_render(&config);
    test.run().expect_code(4).stderr_contains("(5 problems)").stderr_contains("and not on GCP");
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1, "token requests");
}

/// The API not enabled in the project is told as Google tells it (where to enable it), without
/// advice to grant a role, which no role would fix.
#[test]
fn an_api_not_enabled_is_told_without_a_role_to_grant() {
    let fake = GoogleFake::start();
    fake.put("api-token", b"fake");
    fake.state().api_disabled = true;
    let config = format!(
        "secret_stores:\n  gcp:\n    gcp_secret_manager: {{endpoint: {}}}\nt: {{gcp_secret_manager: {{project: {PROJECT}, secret: api-token}}}}\n",
        fake.server.url()
    );
    let test = generic_render(&config, &fake.key_file());
    let key = test.path("sa.json").display().to_string();
    let outcome = test.env("GOOGLE_APPLICATION_CREDENTIALS", &key).run();
    outcome.expect_code(4).stderr_contains("Secret Manager API has not been used in project");
    assert!(!outcome.stderr.contains("the caller needs"), "{}", outcome.stderr);
}

/// A throttled metadata server (429 with `Retry-After`) is `rate_limited`, retried no sooner
/// than it asks.
#[test]
fn a_throttled_metadata_server_says_when_to_ask_again() {
    let fake = GoogleFake::start();
    let metadata =
        FakeServer::start(|_| Reply::text(429, "text/plain", "Too many requests").header("Retry-After", "60"));
    let config = format!(
        "secret_stores:\n  gcp:\n    gcp_secret_manager: {{endpoint: {}, metadata_url: {}}}\nt: {{gcp_secret_manager: {{project: {PROJECT}, secret: s}}}}\n",
        fake.server.url(),
        metadata.url()
    );
    let test = metadata_render(&config);
    test.run().expect_code(4).stderr_contains("asks to retry after 60s: HTTP 429 Too Many Requests");
}

/// A whole-secret write (`store put` without `key`) over a JSON secret of several keys is
/// refused when the read that checks for them fails for any reason but a refusal to read: a
/// store in trouble used to let the write replace every key with the one value.
#[test]
fn a_whole_write_is_refused_when_the_read_that_checks_for_other_keys_fails() {
    let google = GoogleFake::start();
    google.put("node", br#"{"password":"gcp-password-fake","username":"prom"}"#);
    google.state().access_unavailable = true;
    let stores = google.config("");
    let test = Test::new().file("sa.json", &google.key_file()).file("stores.yml", &stores).file("value", "new-fake");
    let outcome = test.run_with(&[
        "--stores",
        "stores.yml",
        "store",
        "put",
        "{gcp_secret_manager: {secret: node}}",
        "--from-file",
        "value",
    ]);
    outcome.expect_code(5).stderr_contains("so nothing is written").never_shows("new-fake");
    assert_eq!(google.state().versions["node"].len(), 1, "a version was added");
}
