//! The `azure_key_vault` provider against a faithful fake of Azure's REST APIs, driven through the
//! binary (`render`, with a store or with the environment's defaults) and through the library's
//! store: client-secret (inline and bootstrapped), workload-identity and managed-identity tokens,
//! values, JSON keys, versions, not-found and permission errors, the 401 challenge, one token for
//! many fetches, a new one when it expires, the secret's expiry date, `rotate` setting a new
//! version (Set Secret), and `extract` into a store.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::http_fake::{FakeServer, Reply, Request};
use crate::support::{CANARY, Test, WatchProcess, http, read};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// A tenant the fake knows, whose tokens the vault refuses.
const OTHER_TENANT: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
const CLIENT_ID: &str = "4a5c1e7b-3f0d-4c9e-8a1b-2d3e4f5a6b7c";
const CLIENT_SECRET: &str = "Fk~8Q~client-secret-fake";
const FEDERATED_TOKEN: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6bW9uaXRvcmluZzpwcm9tIn0.sig-fake";
const MANAGED_CLIENT_ID: &str = "9b8c7d6e-5f4a-4b3c-2d1e-0f9a8b7c6d5e";
const RESOURCE: &str = "https://vault.azure.net";

/// A secret's version in the fake: id, value, `exp`, and `contentType` and `tags` as a JSON
/// object.
type Version = (String, String, Option<i64>, serde_json::Value);

#[derive(Default)]
struct AzureState {
    /// Secret name → versions, oldest first.
    secrets: BTreeMap<String, Vec<Version>>,
    /// Soft-deleted secrets (Delete Secret), recoverable until purged.
    deleted: BTreeMap<String, Vec<Version>>,
    /// Secrets the caller has no role on.
    denied: BTreeSet<String>,
    /// Issued tokens: their tenant and expiry.
    tokens: BTreeMap<String, (String, Instant)>,
    /// `expires_in` of the tokens issued from now on.
    expires_in: u64,
    /// How long the tokens issued from now on are accepted, when not for their `expires_in`.
    accepted_for: Option<u64>,
}

/// A fake of three Azure endpoints as they behave today: Key Vault's data plane at REST API
/// version 7.4 (`GET /secrets/{name}[/{version}]?api-version=7.4` → a `SecretBundle` with `value`,
/// `id` and `attributes.exp`; `KeyVaultError` bodies with `innererror`; a 401 carrying
/// `WWW-Authenticate: Bearer authorization="{authority}/{tenant}", resource="https://vault.azure.net"`
/// for a missing, expired or foreign-tenant token), the Microsoft identity platform's v2.0 token
/// endpoint (`POST /{tenant}/oauth2/v2.0/token`, form-encoded client credentials with a
/// `client_secret` or a federated `client_assertion`; AADSTS `{"error","error_description",
/// "error_codes"}` bodies) and the instance metadata service's managed-identity endpoint
/// (`GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=…`, refused without
/// `Metadata: true`, lifetimes as strings). Microsoft ships no Key Vault emulator and none installs
/// on these machines, so the tests run against this.
struct AzureFake {
    server: FakeServer,
    state: Arc<Mutex<AzureState>>,
}

impl AzureFake {
    fn start() -> Self {
        let state = Arc::new(Mutex::new(AzureState { expires_in: 3599, ..AzureState::default() }));
        let port = Arc::new(Mutex::new(0u16));
        let (handler_state, handler_port) = (state.clone(), port.clone());
        let server = FakeServer::start(move |request| {
            let authority = format!("http://127.0.0.1:{}", handler_port.lock().unwrap());
            handle(request, &mut handler_state.lock().unwrap(), &authority)
        });
        *port.lock().unwrap() = server.port;
        Self { server, state }
    }

    fn put(&self, name: &str, value: &str, exp: Option<i64>) {
        let mut state = self.state.lock().unwrap();
        let versions = state.secrets.entry(name.to_owned()).or_default();
        let id = format!("{:032x}", 0x5eed_0000_u64 + versions.len() as u64);
        versions.push((id, value.to_owned(), exp, serde_json::json!({})));
    }

    fn version_id(&self, name: &str, index: usize) -> String {
        self.state.lock().unwrap().secrets[name][index].0.clone()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, AzureState> {
        self.state.lock().unwrap()
    }

    fn token_requests(&self) -> usize {
        self.server.count(&format!("POST /{TENANT}/oauth2/v2.0/token"))
            + self.server.count(&format!("POST /{OTHER_TENANT}/oauth2/v2.0/token"))
            + self.server.count("GET /metadata/identity/oauth2/token")
    }

    fn secret_requests(&self) -> usize {
        self.server.count("GET /secrets/")
    }

    /// A store `kv` with `auth` and the given extra settings, then `fields`.
    fn config(&self, auth: &str, fields: &str) -> String {
        format!(
            "secret_stores:\n  kv:\n    azure_key_vault:\n      vault_url: {url}\n      tenant_id: {TENANT}\n      client_id: {CLIENT_ID}\n      authority_host: {url}\n      imds_endpoint: {url}\n      auth: {auth}\n{fields}",
            url = self.server.url()
        )
    }
}

fn aad_error(status: u16, error: &str, code: u32, description: &str) -> Reply {
    Reply::json(
        status,
        &serde_json::json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {description}\r\nTrace ID: 0b5c6a51-fake\r\nCorrelation ID: 6f1e-fake\r\nTimestamp: 2025-01-01 00:00:00Z"),
            "error_codes": [code],
            "timestamp": "2025-01-01 00:00:00Z",
            "trace_id": "0b5c6a51-fake",
            "correlation_id": "6f1e-fake",
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        }),
    )
}

fn key_vault_error(code: &str, message: &str, inner: Option<&str>) -> serde_json::Value {
    let mut error = serde_json::json!({ "code": code, "message": message });
    if let Some(inner) = inner {
        error["innererror"] = serde_json::json!({ "code": inner });
    }
    serde_json::json!({ "error": error })
}

fn issue(state: &mut AzureState, tenant: &str) -> (String, u64) {
    let token = format!("eyJ0eXAiOiJKV1QifQ.fake-{}.sig", state.tokens.len() + 1);
    let accepted_for = Duration::from_secs(state.accepted_for.unwrap_or(state.expires_in));
    state.tokens.insert(token.clone(), (tenant.to_owned(), Instant::now() + accepted_for));
    (token, state.expires_in)
}

fn handle(request: &Request, state: &mut AzureState, authority: &str) -> Reply {
    let path = request.path.as_str();
    if request.method == "POST"
        && let Some(tenant) = path.strip_prefix('/').and_then(|rest| rest.strip_suffix("/oauth2/v2.0/token"))
    {
        return token_endpoint(request, state, tenant);
    }
    if request.method == "GET" && path == "/metadata/identity/oauth2/token" {
        return imds(request, state);
    }
    if request.method == "GET" && path == APP_SERVICE_TOKEN_PATH {
        return app_service_identity(request, state);
    }
    if request.method == "GET" && path.starts_with("/secrets/") {
        return get_secret(request, state, authority);
    }
    if request.method == "PUT" && path.starts_with("/secrets/") {
        return set_secret(request, state);
    }
    if request.method == "DELETE" && path.starts_with("/secrets/") {
        return delete_secret(request, state);
    }
    Reply::json(404, &key_vault_error("NotFound", "The requested resource was not found.", None))
}

fn token_endpoint(request: &Request, state: &mut AzureState, tenant: &str) -> Reply {
    if tenant != TENANT && tenant != OTHER_TENANT {
        return aad_error(400, "invalid_request", 90002, &format!("Tenant '{tenant}' not found."));
    }
    if request.header("content-type") != Some("application/x-www-form-urlencoded") {
        return aad_error(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        );
    }
    let form = request.form();
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return aad_error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.");
    }
    if form.get("scope").map(String::as_str) != Some("https://vault.azure.net/.default") {
        return aad_error(400, "invalid_scope", 1002012, "The provided value for scope is not valid.");
    }
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        let id = form.get("client_id").cloned().unwrap_or_default();
        return aad_error(
            400,
            "unauthorized_client",
            700016,
            &format!("Application with identifier '{id}' was not found in the directory '{tenant}'."),
        );
    }
    match (form.get("client_secret"), form.get("client_assertion_type"), form.get("client_assertion")) {
        (Some(secret), None, None) if secret == CLIENT_SECRET => {}
        (Some(_), None, None) => {
            return aad_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            );
        }
        (None, Some(kind), Some(assertion)) if kind == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" => {
            if assertion != FEDERATED_TOKEN {
                return aad_error(
                    400,
                    "invalid_client",
                    700211,
                    "No matching federated identity record found for presented assertion issuer.",
                );
            }
        }
        _ => {
            return aad_error(
                400,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            );
        }
    }
    let (token, expires_in) = issue(state, tenant);
    Reply::json(
        200,
        &serde_json::json!({ "token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in, "access_token": token }),
    )
}

fn imds(request: &Request, state: &mut AzureState) -> Reply {
    let invalid = |description: &str| {
        Reply::json(400, &serde_json::json!({ "error": "invalid_request", "error_description": description }))
    };
    if request.header("metadata") != Some("true") {
        return invalid("Required metadata header not specified");
    }
    if request.query("api-version") != Some("2018-02-01") {
        return invalid("Invalid API version");
    }
    if request.query("resource") != Some(RESOURCE) {
        return Reply::json(
            400,
            &serde_json::json!({ "error": "invalid_resource", "error_description": "AADSTS500011: The resource principal was not found." }),
        );
    }
    if request.query("client_id").is_some_and(|id| id != MANAGED_CLIENT_ID) {
        return invalid("Identity not found");
    }
    let (token, expires_in) = issue(state, TENANT);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    Reply::json(
        200,
        &serde_json::json!({
            "access_token": token,
            "client_id": MANAGED_CLIENT_ID,
            "expires_in": expires_in.to_string(),
            "expires_on": (now + expires_in).to_string(),
            "ext_expires_in": expires_in.to_string(),
            "not_before": now.to_string(),
            "resource": RESOURCE,
            "token_type": "Bearer",
        }),
    )
}

/// Where the fake serves App Service's managed identity endpoint (`IDENTITY_ENDPOINT`).
const APP_SERVICE_TOKEN_PATH: &str = "/msi/token";
const IDENTITY_HEADER: &str = "5a0c4c3e-9f4b-4d8e-a7b2-identity-header-fake";

/// App Service's (and Container Apps', Functions') managed identity endpoint at API version
/// 2019-08-01: `X-IDENTITY-HEADER` required, the token's end given only as `expires_on`
/// (seconds since the epoch, a string), no `expires_in`.
fn app_service_identity(request: &Request, state: &mut AzureState) -> Reply {
    if request.header("x-identity-header") != Some(IDENTITY_HEADER) {
        return Reply::json(401, &serde_json::json!({"statusCode": 401, "message": "Unauthorized"}));
    }
    if request.query("api-version") != Some("2019-08-01") || request.query("resource") != Some(RESOURCE) {
        return Reply::json(400, &serde_json::json!({"statusCode": 400, "message": "Bad Request"}));
    }
    let (token, expires_in) = issue(state, TENANT);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    Reply::json(
        200,
        &serde_json::json!({
            "access_token": token,
            "expires_on": (now + expires_in).to_string(),
            "resource": RESOURCE,
            "token_type": "Bearer",
            "client_id": MANAGED_CLIENT_ID,
        }),
    )
}

fn get_secret(request: &Request, state: &mut AzureState, authority: &str) -> Reply {
    if request.query("api-version") != Some("7.4") {
        return Reply::json(400, &key_vault_error("BadParameter", "The specified version is not recognized.", None));
    }
    let challenge = format!("Bearer authorization=\"{authority}/{TENANT}\", resource=\"{RESOURCE}\"");
    let unauthorized = |message: &str| {
        Reply::json(401, &key_vault_error("Unauthorized", message, None)).header("WWW-Authenticate", &challenge)
    };
    let Some(token) = request.header("authorization").and_then(|value| value.strip_prefix("Bearer ")) else {
        return unauthorized("AKV10000: Request is missing a Bearer or PoP token.");
    };
    match state.tokens.get(token) {
        None => return unauthorized("[InvalidSignature] Error validating token: 'S2S12005'."),
        Some((_, expiry)) if *expiry <= Instant::now() => {
            return unauthorized("[TokenExpired] Error validating token: 'S2S12086'.");
        }
        Some((tenant, _)) if tenant != TENANT => {
            return unauthorized(&format!(
                "AKV10032: Invalid issuer. Expected one of https://sts.windows.net/{TENANT}/, found https://sts.windows.net/{tenant}/."
            ));
        }
        Some(_) => {}
    }
    let rest = request.path.trim_start_matches("/secrets/").trim_end_matches('/');
    let (name, version) = match rest.split_once('/') {
        Some((name, version)) => (name, Some(version)),
        None => (rest, None),
    };
    if state.denied.contains(name) {
        let message = format!(
            "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid={CLIENT_ID};oid=0c0ffee0-fake;iss=https://sts.windows.net/{TENANT}/\r\nAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\nResource: '/subscriptions/fake/resourcegroups/rg/providers/microsoft.keyvault/vaults/prod/secrets/{name}'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: null \r\nVault: prod;location=westeurope\r\n"
        );
        return Reply::json(403, &key_vault_error("Forbidden", &message, Some("ForbiddenByRbac")));
    }
    let not_found = |id: &str| {
        Reply::json(
            404,
            &key_vault_error(
                "SecretNotFound",
                &format!(
                    "A secret with (name/id) {id} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
                ),
                None,
            ),
        )
    };
    let Some(versions) = state.secrets.get(name) else { return not_found(name) };
    let found = match version {
        None => versions.last(),
        Some(version) => versions.iter().find(|(id, _, _, _)| id == version),
    };
    let Some((id, value, exp, described)) = found else {
        return not_found(&format!("{name}/{}", version.unwrap_or_default()));
    };
    let mut attributes = serde_json::json!({
        "enabled": true,
        "created": 1_700_000_000,
        "updated": 1_700_000_000,
        "recoveryLevel": "Recoverable+Purgeable",
        "recoverableDays": 90,
    });
    if let Some(exp) = exp {
        attributes["exp"] = serde_json::json!(exp);
    }
    let vault = format!("http://{}", request.header("host").unwrap_or("127.0.0.1"));
    let mut bundle = serde_json::json!({ "value": value, "id": format!("{vault}/secrets/{name}/{id}"), "attributes": attributes, "tags": {} });
    for field in ["contentType", "tags"] {
        if let Some(given) = described.get(field) {
            bundle[field] = given.clone();
        }
    }
    Reply::json(200, &bundle)
}

/// Set Secret (`PUT /secrets/{name}?api-version=7.4` with `{"value": …}`): a new version, or a
/// new secret, answered with its bundle.
fn set_secret(request: &Request, state: &mut AzureState) -> Reply {
    if request.query("api-version") != Some("7.4") {
        return Reply::json(400, &key_vault_error("BadParameter", "The specified version is not recognized.", None));
    }
    let token = request.header("authorization").and_then(|value| value.strip_prefix("Bearer "));
    if token.and_then(|token| state.tokens.get(token)).is_none() {
        return Reply::json(
            401,
            &key_vault_error("Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.", None),
        );
    }
    let name = request.path.trim_start_matches("/secrets/").trim_end_matches('/').to_owned();
    if state.deleted.contains_key(&name) {
        let message = format!(
            "Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this \
             state, the secret can only be recovered or purged."
        );
        return Reply::json(409, &key_vault_error("Conflict", &message, Some("ObjectIsDeletedButRecoverable")));
    }
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    let value = body["value"].as_str().unwrap().to_owned();
    let mut described = serde_json::json!({});
    for field in ["contentType", "tags"] {
        if let Some(given) = body.get(field) {
            described[field] = given.clone();
        }
    }
    let versions = state.secrets.entry(name.clone()).or_default();
    let id = format!("{:032x}", 0x5eed_0000_u64 + versions.len() as u64);
    versions.push((id.clone(), value.clone(), None, described));
    let vault = format!("http://{}", request.header("host").unwrap_or("127.0.0.1"));
    Reply::json(
        200,
        &serde_json::json!({ "value": value, "id": format!("{vault}/secrets/{name}/{id}"), "attributes": {"enabled": true} }),
    )
}

/// Delete Secret (`DELETE /secrets/{name}?api-version=7.4`): every version moves to the vault's
/// deleted secrets (soft delete, on by default), answered with a `DeletedSecretBundle` of the
/// latest version, without its value.
fn delete_secret(request: &Request, state: &mut AzureState) -> Reply {
    if request.query("api-version") != Some("7.4") {
        return Reply::json(400, &key_vault_error("BadParameter", "The specified version is not recognized.", None));
    }
    let token = request.header("authorization").and_then(|value| value.strip_prefix("Bearer "));
    if token.and_then(|token| state.tokens.get(token)).is_none() {
        return Reply::json(
            401,
            &key_vault_error("Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.", None),
        );
    }
    let name = request.path.trim_start_matches("/secrets/").trim_end_matches('/').to_owned();
    if name.contains('/') {
        return Reply::json(405, &key_vault_error("BadParameter", "Method DELETE not allowed on a version.", None));
    }
    let Some(versions) = state.secrets.remove(&name) else {
        return Reply::json(
            404,
            &key_vault_error(
                "SecretNotFound",
                &format!("A secret with (name/id) {name} was not found in this key vault."),
                None,
            ),
        );
    };
    let id = versions.last().map(|(id, _, _, _)| id.clone()).unwrap_or_default();
    state.deleted.insert(name.clone(), versions);
    let vault = format!("http://{}", request.header("host").unwrap_or("127.0.0.1"));
    Reply::json(
        200,
        &serde_json::json!({
            "recoveryId": format!("{vault}/deletedsecrets/{name}"),
            "deletedDate": 1_700_000_100,
            "scheduledPurgeDate": 1_707_776_100,
            "id": format!("{vault}/secrets/{name}/{id}"),
            "attributes": {"enabled": true, "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90},
            "tags": {},
        }),
    )
}

fn render_test(config: &str) -> Test {
    Test::new()
        .file("app.yml", config)
        .env("AZURE_CLIENT_SECRET", "")
        .env("AZURE_FEDERATED_TOKEN_FILE", "")
        .args(["--target", "generic", "render", "app.yml", "--out", "out"])
}

#[test]
fn a_client_secret_reads_a_value_a_json_key_and_an_older_version() {
    let fake = AzureFake::start();
    fake.put("api-token", "first-fake", None);
    fake.put("api-token", CANARY, None);
    fake.put("db", r#"{"username":"prom","password":"db-fake"}"#, None);
    let old = fake.version_id("api-token", 0);
    let fields = format!(
        concat!(
            "token: {{azure_key_vault: {{name: api-token, render: file}}}}\n",
            "old: {{azure_key_vault: {{name: api-token, version: {old}}}}}\n",
            "password: {{azure_key_vault: {{vault_url: {url}, name: db, key: password}}}}\n",
        ),
        old = old,
        url = fake.server.url()
    );
    let test =
        render_test(&fake.config(&format!("{{client_secret: {{client_secret: \"{CLIENT_SECRET}\"}}}}"), &fields));
    test.run().expect_code(0).never_shows(CLIENT_SECRET);
    let rendered = read(&test.path("out/app.yml"));
    assert!(rendered.contains("old: \"first-fake\"\n"), "{rendered}");
    assert!(rendered.contains("password: \"db-fake\"\n"), "{rendered}");
    let token_file = rendered.lines().find_map(|line| line.strip_prefix("token_file: ")).expect("token_file");
    assert_eq!(read(std::path::Path::new(token_file.trim_matches('"'))), CANARY);
    assert_eq!(fake.token_requests(), 1);
}

#[test]
fn a_bootstrapped_client_secret_is_read_from_a_file_provider_map() {
    let fake = AzureFake::start();
    fake.put("api-token", "bootstrapped-fake", None);
    let config = fake.config(
        "{client_secret: {client_secret: {file: {path: client_secret}}}}",
        "t: {azure_key_vault: {name: api-token}}\n",
    );
    // Written with `echo`: the newline is not part of a client secret.
    let test = render_test(&config).file("client_secret", &format!("{CLIENT_SECRET}\n"));
    test.run().expect_code(0).never_shows(CLIENT_SECRET);
    assert_eq!(read(&test.path("out/app.yml")), "t: \"bootstrapped-fake\"\n");
}

#[test]
fn workload_identity_comes_from_the_environment_without_a_store() {
    let fake = AzureFake::start();
    fake.put("api-token", "workload-fake", None);
    let config = format!("t: {{azure_key_vault: {{vault_url: {}, name: api-token}}}}\n", fake.server.url());
    let test = Test::new().file("app.yml", &config).file("azure-identity-token", FEDERATED_TOKEN);
    let token_file = test.path("azure-identity-token");
    let test = test
        .env("AZURE_TENANT_ID", TENANT)
        .env("AZURE_CLIENT_ID", CLIENT_ID)
        .env("AZURE_CLIENT_SECRET", "")
        .env("AZURE_FEDERATED_TOKEN_FILE", &token_file.to_string_lossy())
        .env("AZURE_AUTHORITY_HOST", &fake.server.url())
        .args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    test.run().expect_code(0).never_shows(FEDERATED_TOKEN);
    assert_eq!(read(&test.path("out/app.yml")), "t: \"workload-fake\"\n");
    assert_eq!(fake.server.count(&format!("POST /{TENANT}/oauth2/v2.0/token")), 1);
}

/// Without a store, the environment's client secret comes first in DefaultAzureCredential's
/// order: a federated token file beside it (here one Entra would refuse) is not used.
#[test]
fn the_environments_client_secret_comes_before_its_federated_token() {
    let fake = AzureFake::start();
    fake.put("api-token", "secret-env-fake", None);
    let config = format!("t: {{azure_key_vault: {{vault_url: {}, name: api-token}}}}\n", fake.server.url());
    let test = Test::new().file("app.yml", &config).file("azure-identity-token", "eyJ.not-federated.sig");
    let token_file = test.path("azure-identity-token");
    let test = test
        .env("AZURE_TENANT_ID", TENANT)
        .env("AZURE_CLIENT_ID", CLIENT_ID)
        .env("AZURE_CLIENT_SECRET", CLIENT_SECRET)
        .env("AZURE_FEDERATED_TOKEN_FILE", &token_file.to_string_lossy())
        .env("AZURE_AUTHORITY_HOST", &fake.server.url())
        .args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    test.run().expect_code(0).never_shows(CLIENT_SECRET);
    assert_eq!(read(&test.path("out/app.yml")), "t: \"secret-env-fake\"\n");
    assert_eq!(fake.server.count(&format!("POST /{TENANT}/oauth2/v2.0/token")), 1);
}

#[test]
fn a_wrong_federated_token_shows_entras_error() {
    let fake = AzureFake::start();
    fake.put("api-token", "fake", None);
    let config = fake.config("{workload_identity: {token_file: token}}", "t: {azure_key_vault: {name: api-token}}\n");
    let test = render_test(&config).file("token", "eyJ.not-federated.sig");
    test.run()
        .expect_code(4)
        .stderr_contains("store `kv` workload identity token request to")
        .stderr_contains("invalid_client: AADSTS700211: No matching federated identity record");
}

#[test]
fn a_managed_identity_asks_imds_with_the_metadata_header() {
    let fake = AzureFake::start();
    fake.put("api-token", "managed-fake", None);
    let auth = format!("{{managed_identity: {{client_id: {MANAGED_CLIENT_ID}}}}}");
    let test = render_test(&fake.config(&auth, "t: {azure_key_vault: {name: api-token}}\n"));
    test.run().expect_code(0);
    assert_eq!(read(&test.path("out/app.yml")), "t: \"managed-fake\"\n");
    assert_eq!(fake.server.count("GET /metadata/identity/oauth2/token"), 1);
    let unknown = render_test(&fake.config(
        "{managed_identity: {client_id: 00000000-0000-0000-0000-000000000000}}",
        "t: {azure_key_vault: {name: api-token}}\n",
    ));
    unknown.run().expect_code(4).stderr_contains("invalid_request: Identity not found");
}

/// Behind an egress proxy (here a dead one), Key Vault is reached through it unless `NO_PROXY`
/// names the host, as Azure's SDKs do; the instance metadata service never is.
#[test]
fn key_vault_goes_through_the_environments_proxy_and_imds_never() {
    let fake = AzureFake::start();
    fake.put("api-token", "proxied-fake", None);
    let dead_proxy = format!("http://127.0.0.1:{}", crate::support::free_port());
    let auth = format!("{{managed_identity: {{client_id: {MANAGED_CLIENT_ID}}}}}");
    let config = fake.config(&auth, "t: {azure_key_vault: {name: api-token}}\n");
    let behind_proxy = |no_proxy: &str| render_test(&config).behind_proxy(&dead_proxy, no_proxy);
    behind_proxy("").run().expect_code(4).stderr_contains("unreachable");
    assert_eq!(fake.server.count("GET /metadata/identity/oauth2/token"), 1, "IMDS, reached directly");
    assert_eq!(fake.secret_requests(), 0, "Key Vault was reached without the proxy");
    let test = behind_proxy("127.0.0.1");
    test.run().expect_code(0);
    assert_eq!(read(&test.path("out/app.yml")), "t: \"proxied-fake\"\n");
}

#[test]
fn missing_and_forbidden_secrets_are_told_apart() {
    let fake = AzureFake::start();
    fake.put("api-token", "fake", None);
    fake.put("locked", "fake", None);
    fake.state().denied.insert("locked".into());
    let fields = concat!(
        "missing: {azure_key_vault: {name: nothing-here}}\n",
        "no_version: {azure_key_vault: {name: api-token, version: 0123456789abcdef0123456789abcdef}}\n",
        "locked: {azure_key_vault: {name: locked}}\n",
    );
    let test = render_test(&fake.config(&format!("{{client_secret: {{client_secret: \"{CLIENT_SECRET}\"}}}}"), fields));
    let url = fake.server.url();
    test.run()
        .expect_code(4)
        .stderr_contains(&format!("azure key vault secret {url}/secrets/nothing-here (store kv) not found"))
        .stderr_contains(&format!("azure key vault secret {url}/secrets/api-token/0123456789abcdef0123456789abcdef (store kv) not found"))
        .stderr_contains(&format!("permission denied reading azure key vault secret {url}/secrets/locked (store kv): Forbidden (ForbiddenByRbac)"))
        .stderr_contains("needs `Microsoft.KeyVault/vaults/secrets/getSecret/action`");
}

#[test]
fn a_wrong_client_secret_shows_entras_error_and_never_the_secret() {
    let fake = AzureFake::start();
    fake.put("api-token", "fake", None);
    let test = render_test(&fake.config(
        &format!("{{client_secret: {{client_secret: {CANARY}}}}}"),
        "t: {azure_key_vault: {name: api-token}}\n",
    ));
    test.run()
        .expect_code(4)
        .stderr_contains("permission denied reading store `kv` client secret token request to")
        .stderr_contains("invalid_client: AADSTS7000215: Invalid client secret provided.");
    assert_eq!(fake.secret_requests(), 0);
}

#[test]
fn a_token_from_another_tenant_is_refused_with_the_vaults_challenge() {
    let fake = AzureFake::start();
    fake.put("api-token", "fake", None);
    let config = fake
        .config(
            &format!("{{client_secret: {{client_secret: \"{CLIENT_SECRET}\"}}}}"),
            "t: {azure_key_vault: {name: api-token}}\n",
        )
        .replace(&format!("tenant_id: {TENANT}"), &format!("tenant_id: {OTHER_TENANT}"));
    let test = render_test(&config);
    test.run()
        .expect_code(4)
        .stderr_contains("AKV10032: Invalid issuer")
        .stderr_contains(&format!("the vault wants a token from {}/{TENANT} for {RESOURCE}", fake.server.url()));
    assert_eq!(fake.token_requests(), 2, "one new token and one retry after the 401");
    assert_eq!(fake.secret_requests(), 2);
}

#[test]
fn every_fetch_of_a_render_shares_one_token() {
    let fake = AzureFake::start();
    let mut fields = String::new();
    for index in 0..30 {
        fake.put(&format!("secret-{index}"), &format!("value-{index}"), None);
        fields.push_str(&format!("s{index}: {{azure_key_vault: {{name: secret-{index}}}}}\n"));
    }
    let test =
        render_test(&fake.config(&format!("{{client_secret: {{client_secret: \"{CLIENT_SECRET}\"}}}}"), &fields));
    test.run().expect_code(0);
    assert!(read(&test.path("out/app.yml")).contains("s29: \"value-29\"\n"));
    assert_eq!(fake.secret_requests(), 30);
    assert_eq!(fake.token_requests(), 1, "30 concurrent fetches wait for one token request");
}

#[test]
fn store_auth_is_checked_when_the_config_is_read() {
    let cases = [
        (
            "{password: {x: y}}",
            "unknown auth method `password` (accepted: client_secret, workload_identity or managed_identity)",
        ),
        ("{client_secret: {}}", "missing the required key `client_secret`"),
        ("{managed_identity: {object_id: x}}", "unknown key `object_id`"),
    ];
    for (auth, message) in cases {
        let config = format!(
            "secret_stores:\n  kv:\n    azure_key_vault: {{vault_url: https://prod.vault.azure.net, auth: {auth}}}\n"
        );
        Test::new()
            .file("app.yml", &config)
            .args(["--target", "generic", "render", "app.yml", "--out", "out"])
            .run()
            .expect_code(3)
            .stderr_contains(message);
    }
}

/// Through the library: the token is reused while fresh and replaced once it runs out (the fake
/// refuses an expired one, so a stale token would show as a 401 and a retry), and the secret's
/// `attributes.exp` is reported.
/// Through the library, the fetch of `api-token` (holding `library-fake`, expiring at
/// 1 900 000 000) by a client-secret store of the fake's: the store, the location, and a
/// runtime to drive them.
struct LibraryFetch {
    store: secret_render::provider::azure::AzureStore,
    location: secret_render::provider::Location,
    runtime: tokio::runtime::Runtime,
}

impl LibraryFetch {
    fn new(fake: &AzureFake) -> Self {
        use secret_render::provider::azure::{Auth, AzureLocation, AzureStore, StoreSettings};
        use secret_render::provider::vault::SecretSource;
        use secret_render::provider::{Location, ProviderSet, StoreRef};
        use secret_render::secret::Secret;

        fake.put("api-token", "library-fake", Some(1_900_000_000));
        let settings = StoreSettings {
            tenant_id: Some(TENANT.into()),
            client_id: Some(CLIENT_ID.into()),
            authority_host: Some(fake.server.url()),
            auth: Auth::ClientSecret(SecretSource::Literal(Secret::from_text(CLIENT_SECRET.into()))),
            ..StoreSettings::default()
        };
        let store = AzureStore::new(StoreRef::Default, &settings, 4, ProviderSet::standard()).expect("a store");
        let location = Location::Azure(AzureLocation {
            store: StoreRef::Default,
            vault_url: fake.server.url(),
            name: "api-token".into(),
            version: None,
            structured: false,
        });
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        Self { store, location, runtime }
    }

    /// One fetch, which must succeed with the value and its expiry.
    fn fetch(&self, what: &str) {
        use secret_render::provider::Provider as _;
        let fetched = self.runtime.block_on(self.store.fetch(&self.location)).expect(what);
        assert_eq!(fetched.select(None, &self.location).unwrap().expose(), b"library-fake", "{what}");
        assert_eq!(fetched.expires_at, Some(UNIX_EPOCH + Duration::from_secs(1_900_000_000)), "{what}");
    }
}

/// Through the library: a token Entra ID revoked before its expiry gets a 401 from the vault;
/// the store fetches a new token and retries the read once, and the fetch succeeds.
#[test]
fn a_refused_token_is_replaced_and_the_read_retried_once() {
    let fake = AzureFake::start();
    let library = LibraryFetch::new(&fake);
    library.fetch("a fetch");
    fake.state().tokens.clear();
    library.fetch("a fetch with a new token");
    assert_eq!(fake.token_requests(), 2, "one new token");
    assert_eq!(fake.secret_requests(), 3, "the refused read, retried once");
}

/// Through the library: the token is reused while fresh, and one Entra ID says has run out is
/// not sent again. The fake accepts those tokens for an hour, so only the count of token requests
/// shows a reuse; when a token is replaced ahead of its expiry is the unit test of `Token::fresh`.
#[test]
fn the_token_is_reused_while_fresh_and_replaced_once_expired() {
    let fake = AzureFake::start();
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
    assert_eq!(fake.secret_requests(), 8, "no fetch was refused and retried");
}

/// `watch` publishes the secret's `attributes.exp` as
/// `secret_render_secret_expiry_timestamp_seconds`.
#[test]
fn watch_publishes_the_secrets_expiry_date() {
    let fake = AzureFake::start();
    fake.put("api-token", "expiring-fake", Some(1_900_000_000));
    let auth = format!("{{client_secret: {{client_secret: \"{CLIENT_SECRET}\"}}}}");
    let test = Test::new()
        .file("app.yml", &fake.config(&auth, "t: {azure_key_vault: {name: api-token}}\n"))
        .env("AZURE_CLIENT_SECRET", "")
        .env("AZURE_FEDERATED_TOKEN_FILE", "");
    let sidecar = WatchProcess::sidecar(&test, &["--target", "generic", "app.yml", "--out", "out"]);
    let (status, metrics) = http("GET", sidecar.port, "/metrics");
    assert_eq!(status, 200, "{metrics}");
    let expiry = metrics
        .lines()
        .filter(|line| line.starts_with("secret_render_secret_expiry_timestamp_seconds{"))
        .find(|line| line.contains("provider=\"azure_key_vault\""))
        .and_then(|line| line.rsplit(' ').next()?.parse::<f64>().ok());
    assert_eq!(expiry, Some(1_900_000_000.0), "{metrics}");
}

#[test]
fn rotate_sets_a_new_version_and_the_old_one_stays_readable() {
    let fake = AzureFake::start();
    fake.put("db", r#"{"username":"prom","password":"old-azure-password","port":5432,"big":1.50}"#, None);
    // Key Vault starts each version undescribed: the new one is described as the old one was.
    let described = serde_json::json!({"contentType": "application/json", "tags": {"owner": "monitoring"}});
    fake.state().secrets.get_mut("db").unwrap()[0].3 = described.clone();
    let stores = fake.config(&format!("{{client_secret: {{client_secret: \"{CLIENT_SECRET}\"}}}}"), "");
    let rotate = |args: &[&str]| {
        Test::new()
            .file("stores.yml", &stores)
            .env("AZURE_CLIENT_SECRET", "")
            .env("AZURE_FEDERATED_TOKEN_FILE", "")
            .args(["--stores", "stores.yml", "rotate"])
            .args(args)
            .run()
    };
    let outcome = rotate(&["{azure_key_vault: {name: db, key: password}}"]);
    outcome.expect_code(0).stdout_contains(&format!("new version {}", fake.version_id("db", 1)));
    let versions = fake.state().secrets["db"].clone();
    assert_eq!(versions.len(), 2);
    assert_eq!(
        versions[0].1, r#"{"username":"prom","password":"old-azure-password","port":5432,"big":1.50}"#,
        "the old version is kept"
    );
    assert_eq!(versions[1].3, described, "contentType and tags carried on");
    let latest: serde_json::Value = serde_json::from_str(&versions[1].1).unwrap();
    let new = latest["password"].as_str().unwrap().to_owned();
    // As stored: a number stays a number, with its digits, and the keys keep their order.
    let expected = format!(r#"{{"username":"prom","password":"{new}","port":5432,"big":1.50}}"#);
    assert!(versions[1].1 == expected, "{}", versions[1].1.len());
    assert_eq!(new.len(), 32);
    assert_eq!(latest["username"], "prom");
    outcome.never_shows(&new).never_shows("old-azure-password").never_shows(CLIENT_SECRET);

    rotate(&["{azure_key_vault: {name: fresh}}"]).expect_code(4).stderr_contains("pass --create");
    // Without `key`, a JSON value of several keys is not replaced whole (the others would be lost).
    rotate(&["{azure_key_vault: {name: db}}"]).expect_code(3).stderr_contains("holds several keys");
    assert_eq!(fake.state().secrets["db"].len(), 2, "no version was written");
    rotate(&["{azure_key_vault: {name: fresh}}", "--create"]).expect_code(0);
    assert_eq!(fake.state().secrets["fresh"][0].1.len(), 32);
}

#[test]
fn store_delete_removes_a_key_in_a_new_version_or_deletes_the_secret() {
    let fake = AzureFake::start();
    fake.put("db", r#"{"username":"prom","password":"azure-password-fake"}"#, None);
    let stores = fake.config(&format!("{{client_secret: {{client_secret: \"{CLIENT_SECRET}\"}}}}"), "");
    let run = |args: &[&str]| {
        Test::new()
            .file("stores.yml", &stores)
            .env("AZURE_CLIENT_SECRET", "")
            .env("AZURE_FEDERATED_TOKEN_FILE", "")
            .args(["--stores", "stores.yml"].into_iter().chain(args.iter().copied()))
            .run()
    };
    let outcome = run(&["store", "delete", "{azure_key_vault: {name: db, key: username}}"]);
    outcome.expect_code(0).stdout_contains(&format!("new version {}", fake.version_id("db", 1)));
    outcome.never_shows("azure-password-fake").never_shows(CLIENT_SECRET);
    let versions = fake.state().secrets["db"].clone();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].1, r#"{"username":"prom","password":"azure-password-fake"}"#, "the old version has it");
    assert_eq!(versions[1].1, r#"{"password":"azure-password-fake"}"#);
    run(&["store", "delete", "{azure_key_vault: {name: db, key: nothing}}"]).expect_code(4).stderr_contains("nothing");

    run(&["store", "delete", "{azure_key_vault: {name: db}}"]).expect_code(0);
    assert_eq!(fake.server.count("DELETE /secrets/db"), 1);
    assert!(!fake.state().secrets.contains_key("db"));
    assert_eq!(fake.state().deleted["db"].len(), 2, "soft-deleted with its versions");
    run(&["store", "get", "{azure_key_vault: {name: db}}"]).expect_code(4).stderr_contains("not found");
}

/// `extract --to` a Key Vault store: the inline value becomes a field of the JSON value of a
/// secret set for it, and `render` reads it back.
#[test]
fn extract_moves_an_inline_value_into_a_new_secret_that_renders_back() {
    let fake = AzureFake::start();
    let stores = fake.config(&format!("{{client_secret: {{client_secret: \"{CLIENT_SECRET}\"}}}}"), "");
    let test =
        Test::new().file("stores.yml", &stores).env("AZURE_CLIENT_SECRET", "").env("AZURE_FEDERATED_TOKEN_FILE", "");
    let map = "{azure_key_vault: {store: kv, name: prometheus-node, key: password}}";
    crate::extract::extract_and_render_back(test, &["--stores", "stores.yml"], "kv", "azure-pass-fake", map);
    let versions = fake.state().secrets["prometheus-node"].clone();
    assert_eq!(versions.len(), 1);
    let value: serde_json::Value = serde_json::from_str(&versions[0].1).unwrap();
    assert_eq!(value, serde_json::json!({"password": "azure-pass-fake"}));
}

/// A token endpoint answering 307 to another host is not followed: the redirect would carry
/// the client secret in the form body there (a 307 keeps the method and the body).
#[test]
fn a_token_request_is_never_redirected_to_another_host() {
    let fake = AzureFake::start();
    fake.put("api-token", "fake", None);
    let elsewhere = FakeServer::start(|_| Reply::json(400, &serde_json::json!({"error": "invalid_request"})));
    let target = elsewhere.url();
    let authority = FakeServer::start(move |request| {
        Reply::text(307, "text/plain", "").header("Location", &format!("{target}{}", request.path))
    });
    let config = fake
        .config(
            &format!("{{client_secret: {{client_secret: \"{CANARY}\"}}}}"),
            "t: {azure_key_vault: {name: api-token}}\n",
        )
        .replace(&format!("authority_host: {}", fake.server.url()), &format!("authority_host: {}", authority.url()));
    render_test(&config)
        .run()
        .expect_code(4)
        .stderr_contains(&format!("redirected to {}, another origin: not followed", elsewhere.url()));
    assert_eq!(authority.count("POST /"), 1);
    assert_eq!(elsewhere.count(""), 0, "the client secret went to the other host");
}

/// A refused client secret is sent once per round of fetches, not once per secret: the fetches
/// that waited on the token request take its error.
#[test]
fn a_refused_credential_is_sent_once_for_every_secret_waiting_on_it() {
    let fake = AzureFake::start();
    let fields: String = (0..5).map(|i| format!("t{i}: {{azure_key_vault: {{name: s{i}}}}}\n")).collect();
    let test = render_test(&fake.config("{client_secret: {client_secret: wrong-secret-fake}}", &fields));
    test.run().expect_code(4).stderr_contains("(5 problems)").stderr_contains("Invalid client secret provided");
    assert_eq!(fake.token_requests(), 1);
}

/// On App Service, Container Apps and Functions (IDENTITY_ENDPOINT and IDENTITY_HEADER set,
/// no IMDS there) the managed identity's token comes from that endpoint with the header, as
/// the Azure SDKs ask it; its `expires_on` keeps it for the render's every fetch.
#[test]
fn app_services_managed_identity_endpoint_is_used_where_the_environment_names_it() {
    let fake = AzureFake::start();
    fake.put("api-token", "app-service-fake", None);
    fake.put("db", "db-fake", None);
    let config = format!(
        "secret_stores:\n  kv:\n    azure_key_vault:\n      vault_url: {url}\n      authority_host: {url}\n\
         a: {{azure_key_vault: {{store: kv, name: api-token}}}}\nb: {{azure_key_vault: {{store: kv, name: db}}}}\n",
        url = fake.server.url()
    );
    let test = render_test(&config)
        .env("IDENTITY_ENDPOINT", &format!("{}{APP_SERVICE_TOKEN_PATH}", fake.server.url()))
        .env("IDENTITY_HEADER", IDENTITY_HEADER)
        .env("AZURE_TENANT_ID", "")
        .env("AZURE_CLIENT_ID", "");
    test.run().expect_code(0).never_shows(IDENTITY_HEADER);
    assert_eq!(read(&test.path("out/app.yml")), "a: \"app-service-fake\"\nb: \"db-fake\"\n");
    assert_eq!(fake.server.count(&format!("GET {APP_SERVICE_TOKEN_PATH}")), 1, "one token for both reads");
    assert_eq!(fake.server.count("GET /metadata/identity/oauth2/token"), 0);
}

/// IMDS throttling (429 with `Retry-After`) is `rate_limited`, retried no sooner than it asks,
/// and its status is said once.
#[test]
fn a_throttled_imds_says_when_to_ask_again() {
    let fake = AzureFake::start();
    let imds = FakeServer::start(|_| {
        Reply::json(429, &serde_json::json!({"error": "too_many_requests", "error_description": "Too many requests"}))
            .header("Retry-After", "60")
    });
    let config = fake
        .config("{managed_identity: {}}", "t: {azure_key_vault: {name: api-token}}\n")
        .replace(&format!("imds_endpoint: {}", fake.server.url()), &format!("imds_endpoint: {}", imds.url()));
    let outcome = render_test(&config).run();
    outcome
        .expect_code(4)
        .stderr_contains("asks to retry after 60s: HTTP 429 Too Many Requests: too_many_requests: Too many requests");
    assert_eq!(outcome.stderr.matches("HTTP 429").count(), 1, "{}", outcome.stderr);
}

/// A write to the name of a deleted secret that soft delete still keeps says to recover or
/// purge it: Key Vault refuses the name (409) until then.
#[test]
fn a_write_to_a_recoverable_deleted_secret_says_to_recover_or_purge_it() {
    let fake = AzureFake::start();
    fake.put("db", "old-fake", None);
    let stores = fake.config(&format!("{{client_secret: {{client_secret: \"{CLIENT_SECRET}\"}}}}"), "");
    let run = |args: &[&str]| {
        Test::new()
            .file("stores.yml", &stores)
            .file("value", "new-fake")
            .env("AZURE_CLIENT_SECRET", "")
            .env("AZURE_FEDERATED_TOKEN_FILE", "")
            .args(["--stores", "stores.yml"])
            .args(args)
            .run()
    };
    run(&["store", "delete", "{azure_key_vault: {name: db}}"]).expect_code(0);
    run(&["store", "put", "{azure_key_vault: {name: db}}", "--from-file", "value"])
        .expect_code(5)
        .stderr_contains("a deleted secret of that name is kept for recovery")
        .stderr_contains("recover it (`az keyvault secret recover`) or purge it first")
        .never_shows("new-fake");
}
