//! The `kubernetes` provider against [`FakeApiServer`], a faithful HTTP fake of the API server's
//! core/v1 Secrets, driven through the binary's own kube-rs client (configured by a kubeconfig
//! the test writes, or a store's `api_server`): keys of base64 `data`, the namespace defaults,
//! stores with a kubeconfig context, 401/403/404 as an operator reads them, `watch` picking up a
//! changed Secret within a second (and after its watch was cut or its version expired), a
//! Vault AppRole `secret_id` bootstrapped from a Kubernetes Secret, `rotate`/`store` writing
//! keys with a merge patch (the fake honours `resourceVersion`), `extract` creating a Secret,
//! API Priority and Fairness throttling, and a Vault store logging in with the Kubernetes auth
//! method (real OpenBao asking the fake's TokenReview).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{CANARY, Server, Test, WatchProcess, bao, base64, http_json, read};

/// The service account the tests act as, and its token.
const USER: &str = "system:serviceaccount:monitoring:prometheus";
const TOKEN: &str = "fake-sa-token-3b9d";

/// A fake of the Kubernetes API server's core/v1 Secrets as Kubernetes 1.33 serves them (the
/// version the `k8s-openapi` types are built for; these endpoints have not changed since 1.16):
/// `GET /api/v1/namespaces/{ns}/secrets/{name}`, the collection `GET
/// /api/v1/namespaces/{ns}/secrets` and its `?watch=true` stream (chunked, one JSON event per
/// line, `fieldSelector=metadata.name=…`, resuming after `resourceVersion`, 410 `Expired` for a
/// compacted one, ended after `timeoutSeconds`), metadata-only answers for `Accept:
/// application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1`, bearer-token authentication
/// (401 `Status` without a known token) and RBAC denials as 403 `Status` objects worded like the
/// real authorizer's. Resource versions are one global counter, like etcd's revision. It also
/// answers `POST /apis/authentication.k8s.io/v1/tokenreviews` as the API server does for Vault's
/// (OpenBao's) Kubernetes auth method: a token it knows is authenticated as its service account
/// (`system:serviceaccount:NAMESPACE:NAME`, with the account's UID), any other is not.
///
/// A fake because no Kubernetes server (kind, k3s, minikube, envtest's kube-apiserver) installs on
/// these machines: each needs a container runtime or a download outside the package registries.
pub struct FakeApiServer {
    pub port: u16,
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    stop: AtomicBool,
}

#[derive(Default)]
struct State {
    revision: u64,
    secrets: BTreeMap<(String, String), Stored>,
    /// Every change, for watches to replay: (revision, type, namespace, name).
    history: Vec<(u64, &'static str, String, String, Stored)>,
    /// Changes up to this revision are forgotten (a watch from before it gets 410 Expired).
    compacted: u64,
    /// Bearer token → user name.
    users: BTreeMap<String, String>,
    /// (user, verb, namespace) the RBAC authorizer refuses.
    denied: BTreeSet<(String, String, String)>,
    /// Each request: `VERB PATH?QUERY` and its `Accept` header.
    requests: Vec<(String, String)>,
    /// Open watch streams.
    watchers: usize,
    /// Bumped to cut every open watch stream, as an API server restart does.
    epoch: u64,
    /// Watches refused with 410 Expired.
    expired: usize,
    /// Answering 503 to everything, as an API server that is restarting.
    down: bool,
    /// Answering 429 to everything, asking to come back after this many seconds, as API
    /// Priority and Fairness does when the client's priority level is saturated.
    throttled: Option<u32>,
    /// Another writer's `data` for the Secret the next PATCH names, landing just before it.
    other_writer_before_patch: Option<BTreeMap<String, Vec<u8>>>,
    /// Another writer's `data` for the Secret the next full GET reads, landing just after it.
    other_writer_after_read: Option<BTreeMap<String, Vec<u8>>>,
    /// Refusing every create as admission does: the status, and the words after `secrets "NAME"
    /// is forbidden: ` (a ResourceQuota at its limit, a validating webhook's or policy's denial).
    refuse_creates: Option<(u16, String)>,
    /// Ending every watch as soon as it is opened, with no event, as a proxy in front of the
    /// API server that closes long requests does.
    watches_end_at_once: bool,
}

#[derive(Clone)]
struct Stored {
    uid: String,
    revision: u64,
    data: BTreeMap<String, Vec<u8>>,
    /// Extra top-level fields to answer with (to show `stringData` is never read).
    extra: serde_json::Map<String, Value>,
}

impl FakeApiServer {
    /// Starts the fake on a free loopback port, knowing [`TOKEN`] as [`USER`].
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared =
            Arc::new(Shared { state: Mutex::default(), changed: Condvar::new(), stop: AtomicBool::new(false) });
        shared.state.lock().unwrap().users.insert(TOKEN.to_owned(), USER.to_owned());
        let accepting = Arc::clone(&shared);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = Arc::clone(&accepting);
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        Self { port, shared }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates or replaces a Secret (as `kubectl apply` would), notifying watchers.
    pub fn put(&self, namespace: &str, name: &str, data: &[(&str, &[u8])]) {
        self.put_with(namespace, name, data, serde_json::Map::new());
    }

    fn put_with(&self, namespace: &str, name: &str, data: &[(&str, &[u8])], extra: serde_json::Map<String, Value>) {
        let mut state = self.shared.state.lock().unwrap();
        state.revision += 1;
        let revision = state.revision;
        let key = (namespace.to_owned(), name.to_owned());
        let kind = if state.secrets.contains_key(&key) { "MODIFIED" } else { "ADDED" };
        let uid = state
            .secrets
            .get(&key)
            .map_or_else(|| format!("0c1e7a2b-0000-4000-8000-{revision:012}"), |s| s.uid.clone());
        let stored = Stored {
            uid,
            revision,
            data: data.iter().map(|(key, value)| ((*key).to_owned(), value.to_vec())).collect(),
            extra,
        };
        state.history.push((revision, kind, key.0.clone(), key.1.clone(), stored.clone()));
        state.secrets.insert(key, stored);
        drop(state);
        self.shared.changed.notify_all();
    }

    pub fn delete(&self, namespace: &str, name: &str) {
        let mut state = self.shared.state.lock().unwrap();
        if let Some(mut stored) = state.secrets.remove(&(namespace.to_owned(), name.to_owned())) {
            state.revision += 1;
            stored.revision = state.revision;
            let revision = state.revision;
            state.history.push((revision, "DELETED", namespace.to_owned(), name.to_owned(), stored));
        }
        drop(state);
        self.shared.changed.notify_all();
    }

    /// Makes the RBAC authorizer refuse `verb` on secrets in `namespace` to `user`.
    pub fn deny(&self, user: &str, verb: &str, namespace: &str) {
        self.shared.state.lock().unwrap().denied.insert((user.to_owned(), verb.to_owned(), namespace.to_owned()));
    }

    pub fn add_user(&self, token: &str, user: &str) {
        self.shared.state.lock().unwrap().users.insert(token.to_owned(), user.to_owned());
    }

    /// Forgets the history so far (etcd compaction): a watch resuming from before now gets 410.
    pub fn compact(&self) {
        let mut state = self.shared.state.lock().unwrap();
        state.compacted = state.revision;
        state.history.clear();
    }

    /// Cuts every open watch stream mid-response, as an API server restart does.
    pub fn cut_watches(&self) {
        self.shared.state.lock().unwrap().epoch += 1;
        self.shared.changed.notify_all();
    }

    /// Makes every request fail with 503 (or serves again).
    pub fn set_watches_end_at_once(&self, at_once: bool) {
        self.shared.state.lock().unwrap().watches_end_at_once = at_once;
    }

    pub fn set_down(&self, down: bool) {
        self.shared.state.lock().unwrap().down = down;
    }

    /// The `data` of a stored Secret, decoded.
    pub fn data(&self, namespace: &str, name: &str) -> Option<BTreeMap<String, Vec<u8>>> {
        let state = self.shared.state.lock().unwrap();
        state.secrets.get(&(namespace.to_owned(), name.to_owned())).map(|stored| stored.data.clone())
    }

    /// Makes every request fail with 429 Too Many Requests and `retry_after` seconds (or serves
    /// again).
    pub fn set_throttled(&self, retry_after: Option<u32>) {
        self.shared.state.lock().unwrap().throttled = retry_after;
    }

    /// How many watches were refused with 410 Expired.
    pub fn expired(&self) -> usize {
        self.shared.state.lock().unwrap().expired
    }

    pub fn watchers(&self) -> usize {
        self.shared.state.lock().unwrap().watchers
    }

    /// The requests so far: `VERB PATH?QUERY` and the `Accept` header.
    pub fn requests(&self) -> Vec<(String, String)> {
        self.shared.state.lock().unwrap().requests.clone()
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.cut_watches();
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

const METADATA_MIME: &str = "as=PartialObjectMetadata";

fn object(namespace: &str, name: &str, stored: &Stored, metadata_only: bool) -> Value {
    let metadata = json!({
        "name": name,
        "namespace": namespace,
        "uid": stored.uid,
        "resourceVersion": stored.revision.to_string(),
        "creationTimestamp": "2025-06-01T00:00:00Z",
    });
    if metadata_only {
        return json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata});
    }
    let mut secret = json!({"kind": "Secret", "apiVersion": "v1", "metadata": metadata, "type": "Opaque"});
    if !stored.data.is_empty() {
        let data: serde_json::Map<String, Value> =
            stored.data.iter().map(|(key, value)| (key.clone(), Value::String(base64(value)))).collect();
        secret["data"] = Value::Object(data);
    }
    for (key, value) in &stored.extra {
        secret[key] = value.clone();
    }
    secret
}

fn status(code: u16, reason: &str, message: &str, details: Option<Value>) -> Value {
    let mut status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    });
    if let Some(details) = details {
        status["details"] = details;
    }
    status
}

/// The UID the fake gives a service account (an RFC 4122 shape, stable per name).
fn service_account_uid(username: &str) -> String {
    let sum = username.bytes().fold(0u32, |sum, byte| sum.wrapping_mul(31).wrapping_add(u32::from(byte)));
    format!("{sum:08x}-0000-4000-8000-000000000000")
}

fn respond(stream: &mut TcpStream, code: u16, body: &Value) {
    respond_with(stream, code, body, "");
}

/// [`respond`] with `headers` (each line ending in CRLF) added.
fn respond_with(stream: &mut TcpStream, code: u16, body: &Value, headers: &str) {
    let text = body.to_string();
    let reason = match code {
        200 => "OK",
        201 => "Created",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' if index + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                index += 3;
            }
            b'+' => {
                out.push(b' ');
                index += 1;
            }
            byte => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A write (POST create, PATCH merge patch honouring `metadata.resourceVersion`, DELETE), as the
/// API server answers it; watchers see the change.
fn write(shared: &Shared, method: &str, namespace: &str, name: Option<String>, body: &Value) -> (u16, Value) {
    let name = name.or_else(|| body["metadata"]["name"].as_str().map(str::to_owned)).unwrap_or_default();
    let key = (namespace.to_owned(), name.clone());
    let mut state = shared.state.lock().unwrap();
    if method == "POST"
        && let Some((code, reason)) = &state.refuse_creates
    {
        let (code, why) = (*code, if *code == 403 { "Forbidden" } else { "Invalid" });
        let message = format!("secrets {name:?} is forbidden: {reason}");
        return (code, status(code, why, &message, None));
    }
    if method == "PATCH"
        && let Some(data) = state.other_writer_before_patch.take()
    {
        state.revision += 1;
        let revision = state.revision;
        if let Some(stored) = state.secrets.get_mut(&key) {
            (stored.revision, stored.data) = (revision, data);
        }
    }
    let current = state.secrets.get(&key).cloned();
    let not_found = || (404, status(404, "NotFound", &format!("secrets {name:?} not found"), None));
    let (kind, data, uid) = match (method, current) {
        ("POST", Some(_)) => {
            return (409, status(409, "AlreadyExists", &format!("secrets {name:?} already exists"), None));
        }
        ("POST", None) => ("ADDED", decode_data(&body["data"], BTreeMap::new()), None),
        ("PATCH", None) | ("DELETE", None) => return not_found(),
        ("PATCH", Some(stored)) => {
            if let Some(version) = body["metadata"]["resourceVersion"].as_str()
                && version != stored.revision.to_string()
            {
                let message =
                    format!("Operation cannot be fulfilled on secrets {name:?}: the object has been modified");
                return (409, status(409, "Conflict", &message, None));
            }
            let data = decode_data(&body["data"], stored.data.clone());
            // As the API server does: an update that changes nothing is not stored, keeps the
            // resourceVersion and tells no watcher.
            if data == stored.data {
                return (200, object(namespace, &name, &stored, false));
            }
            ("MODIFIED", data, Some(stored.uid))
        }
        ("DELETE", Some(stored)) => ("DELETED", stored.data, Some(stored.uid)),
        _ => return (405, status(405, "MethodNotAllowed", "not a method the fake serves", None)),
    };
    state.revision += 1;
    let revision = state.revision;
    let uid = uid.unwrap_or_else(|| format!("0c1e7a2b-0000-4000-8000-{revision:012}"));
    let stored = Stored { uid, revision, data, extra: serde_json::Map::new() };
    state.history.push((revision, kind, key.0.clone(), key.1.clone(), stored.clone()));
    if kind == "DELETED" {
        state.secrets.remove(&key);
    } else {
        state.secrets.insert(key, stored.clone());
    }
    drop(state);
    shared.changed.notify_all();
    (if kind == "ADDED" { 201 } else { 200 }, object(namespace, &name, &stored, false))
}

/// `data` of a written Secret merged into `into`: base64 values set a key, `null` removes it.
fn decode_data(data: &Value, mut into: BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    for (key, value) in data.as_object().into_iter().flatten() {
        match value.as_str() {
            Some(text) => into.insert(key.clone(), base64_decode(text)),
            None => into.remove(key),
        };
    }
    into
}

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sextets: Vec<u32> = text
        .bytes()
        .filter(|byte| *byte != b'=')
        .map(|byte| ALPHABET.iter().position(|c| *c == byte).expect("base64") as u32)
        .collect();
    let mut out = Vec::new();
    for chunk in sextets.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, sextet)| n | sextet << (18 - 6 * i));
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// Serves one connection: one request (`Connection: close`), or one watch stream.
fn serve(mut stream: TcpStream, shared: &Shared) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.trim_end().split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else { return };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query: BTreeMap<String, String> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect();
    let accept = headers.get("accept").cloned().unwrap_or_default();
    shared.state.lock().unwrap().requests.push((format!("{method} {target}"), accept.clone()));
    let metadata_only = accept.contains(METADATA_MIME);
    let throttled = shared.state.lock().unwrap().throttled;
    if let Some(seconds) = throttled {
        // As kube-apiserver's APF and max-in-flight filters answer it (`tooManyRequests`:
        // `http.Error`, plain text, the wait in `Retry-After` only).
        let text = "Too many requests, please try again later.\n";
        let _ = write!(
            stream,
            "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nRetry-After: {seconds}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        );
        return;
    }
    if shared.state.lock().unwrap().down {
        respond(
            &mut stream,
            503,
            &status(503, "ServiceUnavailable", "the server is currently unable to handle the request", None),
        );
        return;
    }

    let user = headers
        .get("authorization")
        .and_then(|value| value.strip_prefix("Bearer "))
        .and_then(|token| shared.state.lock().unwrap().users.get(token).cloned());
    let Some(user) = user else {
        respond(&mut stream, 401, &status(401, "Unauthorized", "Unauthorized", None));
        return;
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if method == "POST" && segments == ["apis", "authentication.k8s.io", "v1", "tokenreviews"] {
        let length = headers.get("content-length").and_then(|value| value.parse().ok()).unwrap_or(0);
        let mut body = vec![0; length];
        if std::io::Read::read_exact(&mut reader, &mut body).is_err() {
            return;
        }
        let review: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let token = review["spec"]["token"].as_str().unwrap_or_default();
        let reviewed = shared.state.lock().unwrap().users.get(token).cloned();
        let status = match reviewed {
            Some(username) => json!({
                "authenticated": true,
                "user": {"username": username, "uid": service_account_uid(&username), "groups": ["system:serviceaccounts", "system:authenticated"]},
                "audiences": review["spec"]["audiences"],
            }),
            None => json!({"authenticated": false, "error": "invalid bearer token, token lookup failed"}),
        };
        let answer = json!({
            "kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1", "metadata": {"creationTimestamp": null},
            "spec": review["spec"], "status": status,
        });
        respond(&mut stream, 201, &answer);
        return;
    }
    let (namespace, name) = match segments.as_slice() {
        ["api", "v1", "namespaces", namespace, "secrets"] => ((*namespace).to_owned(), None),
        ["api", "v1", "namespaces", namespace, "secrets", name] => ((*namespace).to_owned(), Some((*name).to_owned())),
        _ => {
            let message = "the server could not find the requested resource";
            respond(&mut stream, 404, &status(404, "NotFound", message, Some(json!({}))));
            return;
        }
    };
    if method != "GET" {
        let length = headers.get("content-length").and_then(|value| value.parse().ok()).unwrap_or(0);
        let mut body = vec![0; length];
        if std::io::Read::read_exact(&mut reader, &mut body).is_err() {
            return;
        }
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let (code, answer) = write(shared, method, &namespace, name, &body);
        respond(&mut stream, code, &answer);
        return;
    }
    let watching = query.get("watch").is_some_and(|value| value == "true" || value == "1");
    let verb = match (&name, watching) {
        (Some(_), _) => "get",
        (None, true) => "watch",
        (None, false) => "list",
    };
    let forbidden = shared.state.lock().unwrap().denied.contains(&(user.clone(), verb.to_owned(), namespace.clone()));
    if forbidden {
        let (subject, details) = match &name {
            Some(name) => (format!("secrets {name:?}"), json!({"name": name, "kind": "secrets"})),
            None => ("secrets".to_owned(), json!({"kind": "secrets"})),
        };
        let message = format!(
            "{subject} is forbidden: User {user:?} cannot {verb} resource \"secrets\" in API group \"\" in the namespace {namespace:?}"
        );
        respond(&mut stream, 403, &status(403, "Forbidden", &message, Some(details)));
        return;
    }
    let field_name =
        query.get("fieldSelector").and_then(|selector| selector.strip_prefix("metadata.name=")).map(str::to_owned);
    match (name, watching) {
        (Some(name), _) => {
            let mut state = shared.state.lock().unwrap();
            match state.secrets.get(&(namespace.clone(), name.clone())) {
                Some(stored) => {
                    let body = object(&namespace, &name, stored, metadata_only);
                    if !metadata_only && let Some(data) = state.other_writer_after_read.take() {
                        state.revision += 1;
                        let revision = state.revision;
                        let stored = state.secrets.get_mut(&(namespace.clone(), name.clone())).unwrap();
                        (stored.revision, stored.data) = (revision, data);
                    }
                    drop(state);
                    respond(&mut stream, 200, &body);
                }
                None => {
                    drop(state);
                    let message = format!("secrets {name:?} not found");
                    respond(
                        &mut stream,
                        404,
                        &status(404, "NotFound", &message, Some(json!({"name": name, "kind": "secrets"}))),
                    );
                }
            }
        }
        (None, false) => {
            let state = shared.state.lock().unwrap();
            let items: Vec<Value> = state
                .secrets
                .iter()
                .filter(|((ns, name), _)| *ns == namespace && field_name.as_ref().is_none_or(|wanted| wanted == name))
                .map(|((ns, name), stored)| object(ns, name, stored, false))
                .collect();
            let body = json!({"kind": "SecretList", "apiVersion": "v1", "metadata": {"resourceVersion": state.revision.to_string()}, "items": items});
            drop(state);
            respond(&mut stream, 200, &body);
        }
        (None, true) => watch(stream, shared, &namespace, field_name.as_deref(), &query, metadata_only),
    }
}

/// Streams watch events for the namespace's Secrets (or the one a field selector names).
fn watch(
    mut stream: TcpStream,
    shared: &Shared,
    namespace: &str,
    only: Option<&str>,
    query: &BTreeMap<String, String>,
    metadata_only: bool,
) {
    if shared.state.lock().unwrap().watches_end_at_once {
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        );
        return;
    }
    let timeout = query.get("timeoutSeconds").and_then(|seconds| seconds.parse().ok()).unwrap_or(1800);
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let from = query.get("resourceVersion").cloned().unwrap_or_default();
    let _ = write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    let send = |stream: &mut TcpStream, event: &Value| {
        let line = format!("{event}\n");
        write!(stream, "{:x}\r\n{line}\r\n", line.len()).and_then(|()| stream.flush()).is_ok()
    };
    let matches = |ns: &str, name: &str| ns == namespace && only.is_none_or(|wanted| wanted == name);
    let mut state = shared.state.lock().unwrap();
    let epoch = state.epoch;
    let mut sent = match from.as_str() {
        // "Any" version: synthetic ADDED events for what exists now, then changes after it.
        "" | "0" => {
            let current: Vec<Value> = state
                .secrets
                .iter()
                .filter(|((ns, name), _)| matches(ns, name))
                .map(|((ns, name), stored)| json!({"type": "ADDED", "object": object(ns, name, stored, metadata_only)}))
                .collect();
            for event in &current {
                if !send(&mut stream, event) {
                    return;
                }
            }
            state.revision
        }
        version => {
            let version: u64 = version.parse().unwrap_or(0);
            if version < state.compacted {
                state.expired += 1;
                let message = format!("too old resource version: {version} ({})", state.compacted);
                let _ = send(&mut stream, &json!({"type": "ERROR", "object": status(410, "Expired", &message, None)}));
                let _ = write!(stream, "0\r\n\r\n");
                return;
            }
            version
        }
    };
    state.watchers += 1;
    loop {
        let events: Vec<(u64, Value)> = state
            .history
            .iter()
            .filter(|(revision, _, ns, name, _)| *revision > sent && matches(ns, name))
            .map(|(revision, kind, ns, name, stored)| {
                (*revision, json!({"type": kind, "object": object(ns, name, stored, metadata_only)}))
            })
            .collect();
        sent = sent.max(state.revision);
        drop(state);
        for (_, event) in &events {
            if !send(&mut stream, event) {
                shared.state.lock().unwrap().watchers -= 1;
                return;
            }
        }
        state = shared.state.lock().unwrap();
        if state.epoch != epoch || shared.stop.load(Ordering::Relaxed) {
            // Cut mid-stream, without the closing chunk.
            state.watchers -= 1;
            let _ = stream.shutdown(std::net::Shutdown::Both);
            return;
        }
        let now = Instant::now();
        if now >= deadline {
            state.watchers -= 1;
            let _ = write!(stream, "0\r\n\r\n");
            return;
        }
        if state.history.iter().any(|(revision, ..)| *revision > sent) {
            continue;
        }
        state = shared.changed.wait_timeout(state, (deadline - now).min(Duration::from_millis(500))).unwrap().0;
    }
}

/// A kubeconfig for the fake: context `fake` (namespace `monitoring`, the service account's
/// token) is current; `other` has no namespace and the token `token-b`.
fn kubeconfig(server: &FakeApiServer) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {url}\nusers:\n- name: prometheus\n  user:\n    token: {TOKEN}\n- name: other\n  user:\n    token: token-b\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: prometheus\n    namespace: monitoring\n- name: other\n  context:\n    cluster: fake\n    user: other\ncurrent-context: fake\n",
        url = server.url()
    )
}

/// A test whose binary finds the fake through `KUBECONFIG` (and not in-cluster, whatever the
/// machine it runs on).
fn with_kubeconfig(server: &FakeApiServer) -> Test {
    let test = Test::new().file("kube/config", &kubeconfig(server));
    let path = test.path("kube/config");
    test.env("KUBECONFIG", &path.to_string_lossy())
        .env("KUBERNETES_SERVICE_HOST", "")
        .env("KUBERNETES_SERVICE_PORT", "")
}

/// `test` with the kubeconfig's `prometheus` user authenticating by `user` (its lines, indented
/// under `user:`) instead of the service account's token.
fn with_user(test: Test, server: &FakeApiServer, user: &str) -> Test {
    test.file("kube/config", &kubeconfig(server).replace(&format!("    token: {TOKEN}\n"), user))
}

/// A kubeconfig user's `exec` credential plugin running `/bin/sh SCRIPT` with `extra` argument
/// and `env` lines.
fn exec_user(script: &std::path::Path, extra_args: &str, env: &str) -> String {
    format!(
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/sh\n      args: [{}{extra_args}]\n{env}      interactiveMode: Never\n",
        script.display()
    )
}

fn render(test: Test, config: &str) -> (Test, crate::support::Outcome) {
    let test = test.file("app.yml", config).args(["--target", "generic", "render", "app.yml", "--out", "out"]);
    let outcome = test.run();
    (test, outcome)
}

#[test]
fn keys_of_a_secret_are_read_base64_decoded_from_data() {
    let server = FakeApiServer::start();
    server.put("monitoring", "scrape-token", &[("token", CANARY.as_bytes()), ("user", b"prom")]);
    server.put("monitoring", "single", &[("only", b"one-fake")]);
    server.put("monitoring", "binary", &[("bytes", &[0, 159, 146, 150, 255])]);
    let (test, outcome) = render(
        with_kubeconfig(&server),
        concat!(
            "token: {kubernetes: {name: scrape-token, key: token, render: file}}\n",
            "user: {kubernetes: {name: scrape-token, key: user}}\n",
            "only: {kubernetes: {name: single}}\n",
            "raw: {kubernetes: {name: binary, key: bytes, render: file}}\n",
        ),
    );
    outcome.expect_code(0);
    let rendered = read(&test.path("out/app.yml"));
    assert!(rendered.contains("user: \"prom\"\n") && rendered.contains("only: \"one-fake\"\n"), "{rendered}");
    let file_of = |field: &str| {
        let line = rendered.lines().find(|line| line.starts_with(&format!("{field}_file:"))).expect(field);
        std::path::PathBuf::from(line.split_once(": ").unwrap().1.trim_matches('"'))
    };
    assert_eq!(read(&file_of("token")), CANARY);
    assert_eq!(std::fs::read(file_of("raw")).unwrap(), [0, 159, 146, 150, 255]);
    // One GET per Secret, each with the service account's token, however many fields use it.
    let gets: Vec<String> = server.requests().into_iter().map(|(request, _)| request).collect();
    assert_eq!(
        gets.iter()
            .filter(|request| request.as_str() == "GET /api/v1/namespaces/monitoring/secrets/scrape-token")
            .count(),
        1,
        "{gets:#?}"
    );
}

#[test]
fn no_value_reaches_the_log_even_at_trace_level() {
    let server = FakeApiServer::start();
    server.put("monitoring", "scrape-token", &[("token", CANARY.as_bytes())]);
    let test = with_kubeconfig(&server)
        .file("app.yml", "t: {kubernetes: {name: scrape-token, key: token, render: file}}\n")
        .args(["-vv", "--target", "generic", "render", "app.yml", "--out", "out"]);
    // The harness fails any run whose output shows the canary.
    let outcome = test.run();
    outcome.expect_code(0);
    assert!(outcome.stderr.contains("TRACE") || outcome.stderr.contains("DEBUG"), "{}", outcome.stderr);
}

#[test]
fn string_data_is_never_read_and_a_missing_key_names_the_keys_there_are() {
    let server = FakeApiServer::start();
    // A real API server folds `stringData` into `data` on write and never returns it; this
    // answer carries it anyway, to show it is ignored.
    let mut extra = serde_json::Map::new();
    extra.insert("stringData".into(), json!({"password": "from-string-data"}));
    server.put_with("monitoring", "creds", &[("user", b"prom"), ("port", b"9100")], extra);
    let (_, outcome) = render(with_kubeconfig(&server), "pw: {kubernetes: {name: creds, key: password}}\n");
    outcome
        .expect_code(4)
        .stderr_contains("pw: kubernetes: kubernetes secret creds (no namespace given: the kubeconfig context's or the pod's, else `default`) has no key \"password\" (available keys: port, user)");
    let (_, outcome) = render(with_kubeconfig(&server), "pw: {kubernetes: {name: creds}}\n");
    outcome.expect_code(4).stderr_contains("holds several keys; the body needs `key` (available keys: port, user)");
}

#[test]
fn the_namespace_comes_from_the_body_then_the_store_then_the_kubeconfig_context() {
    let server = FakeApiServer::start();
    server.add_user("token-b", "system:serviceaccount:default:reader");
    server.put("monitoring", "token", &[("v", b"from-monitoring")]);
    server.put("default", "token", &[("v", b"from-default")]);
    server.put("apps", "token", &[("v", b"from-apps")]);
    let (test, outcome) = render(
        with_kubeconfig(&server),
        concat!(
            "context: {kubernetes: {name: token, store: current}}\n",
            "body: {kubernetes: {name: token, namespace: apps, store: current}}\n",
            "store: {kubernetes: {name: token, store: pinned}}\n",
            "other: {kubernetes: {name: token, store: other}}\n",
            "secret_stores:\n",
            "  current: {kubernetes: {}}\n",
            "  pinned: {kubernetes: {namespace: apps}}\n",
            "  other: {kubernetes: {kubeconfig: kube/config, context: other}}\n",
        ),
    );
    outcome.expect_code(0);
    assert_eq!(
        read(&test.path("out/app.yml")),
        "context: \"from-monitoring\"\nbody: \"from-apps\"\nstore: \"from-apps\"\nother: \"from-default\"\n"
    );
}

/// A store's relative `kubeconfig` resolves against the directory of the config that names it,
/// not the working directory: the config lives in `etc/`, the binary runs one level above.
#[test]
fn a_relative_kubeconfig_resolves_against_the_configs_directory() {
    let server = FakeApiServer::start();
    server.put("monitoring", "token", &[("v", b"config-dir-fake")]);
    let config = "v: {kubernetes: {name: token}}\nsecret_stores:\n  k: {kubernetes: {kubeconfig: kube/config}}\n";
    let test = Test::new()
        .file("etc/app.yml", config)
        .file("etc/kube/config", &kubeconfig(&server))
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env("KUBERNETES_SERVICE_HOST", "")
        .env("KUBERNETES_SERVICE_PORT", "")
        .args(["--target", "generic", "render", "etc/app.yml", "--out", "out"]);
    test.run().expect_code(0);
    assert_eq!(read(&test.path("out/app.yml")), "v: \"config-dir-fake\"\n");
}

/// A render through a store with `api_server` and `token_file` (holding `token`), and no
/// kubeconfig or in-cluster account to fall back on.
fn render_with_token_file(server: &FakeApiServer, token: &str) -> (Test, crate::support::Outcome) {
    let test = Test::new()
        .file("sa/token", token)
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env("KUBERNETES_SERVICE_HOST", "")
        .env("KUBERNETES_SERVICE_PORT", "");
    let config = format!(
        "t: {{kubernetes: {{name: scrape-token}}}}\nsecret_stores:\n  cluster: {{kubernetes: {{api_server: {}, token_file: sa/token, namespace: monitoring}}}}\n",
        server.url()
    );
    render(test, &config)
}

#[test]
fn a_store_with_api_server_and_token_file_needs_no_kubeconfig() {
    let server = FakeApiServer::start();
    server.put("monitoring", "scrape-token", &[("token", b"direct-fake")]);
    let (test, outcome) = render_with_token_file(&server, TOKEN);
    outcome.expect_code(0);
    assert_eq!(read(&test.path("out/app.yml")), "t: \"direct-fake\"\n");
}

/// A `token_file` written as `kubectl create token … > file` leaves it, ending in a newline, is
/// sent trimmed, as kubectl sends it: kube-rs put the newline into the header, and every read
/// failed with "invalid bearer token", taken for an unreachable store and retried for good.
#[test]
fn a_token_file_ending_in_a_newline_is_sent_trimmed() {
    let server = FakeApiServer::start();
    server.put("monitoring", "scrape-token", &[("token", b"direct-fake")]);
    let (test, outcome) = render_with_token_file(&server, &format!("{TOKEN}\n"));
    outcome.expect_code(0);
    assert_eq!(read(&test.path("out/app.yml")), "t: \"direct-fake\"\n");
}

/// An empty `token_file` is a configuration error naming the file, not a store to retry.
#[test]
fn an_empty_token_file_is_a_configuration_error() {
    let server = FakeApiServer::start();
    let (_, outcome) = render_with_token_file(&server, "\n");
    outcome.expect_code(4).stderr_contains("token_file").stderr_contains("is empty");
}

/// With `HTTPS_PROXY` in the environment (a corporate egress proxy), a kubeconfig's API server
/// that `NO_PROXY` names is reached directly, as kubectl reaches it; one it does not name goes
/// through the proxy (here a dead one, so the read fails), also when `NO_PROXY` names the
/// proxy's own host, which kube-rs checks instead. kube-rs refused every such store ("requires
/// the disabled feature kube/http-proxy"), whatever `NO_PROXY` said.
#[test]
fn https_proxy_is_used_for_the_api_server_unless_no_proxy_names_it() {
    let server = FakeApiServer::start();
    server.put("monitoring", "scrape-token", &[("token", b"proxied-fake")]);
    // Named `localhost`, which NO_PROXY leaves out: kube-rs checks NO_PROXY against the proxy.
    let dead_proxy = format!("http://localhost:{}", crate::support::free_port());
    let with_proxy = |no_proxy: &str| with_kubeconfig(&server).behind_proxy(&dead_proxy, no_proxy);
    let (test, outcome) = render(with_proxy("127.0.0.1"), "t: {kubernetes: {name: scrape-token}}\n");
    outcome.expect_code(0);
    assert_eq!(read(&test.path("out/app.yml")), "t: \"proxied-fake\"\n");
    let (_, outcome) = render(with_proxy("example.invalid"), "t: {kubernetes: {name: scrape-token}}\n");
    outcome.expect_code(4).stderr_contains("unreachable");
    // NO_PROXY naming the proxy's own domain and port (which kube-rs checks, and then drops the
    // proxy) says nothing of the API server's: still proxied, here through a proxy whose name
    // does not resolve.
    let unresolvable = with_kubeconfig(&server).behind_proxy("http://proxy.corp.invalid:3128", ".corp.invalid:3128");
    let (_, outcome) = render(unresolvable, "t: {kubernetes: {name: scrape-token}}\n");
    outcome.expect_code(4).stderr_contains("unreachable");
}

#[test]
fn forbidden_names_the_user_verb_resource_and_namespace() {
    let server = FakeApiServer::start();
    server.put("monitoring", "scrape-token", &[("token", CANARY.as_bytes())]);
    server.deny(USER, "get", "monitoring");
    let (_, outcome) = render(with_kubeconfig(&server), "t: {kubernetes: {name: scrape-token, key: token}}\n");
    outcome.expect_code(4).stderr_contains(
        "permission denied reading kubernetes secret monitoring/scrape-token: RBAC: User \
         \"system:serviceaccount:monitoring:prometheus\" cannot get secrets in namespace monitoring (grant the verb \
         `get` on resource `secrets` in namespace monitoring",
    );
}

/// API Priority and Fairness answers 429 with `retryAfterSeconds` in its Status (and in
/// `Retry-After`): the wait it asks for reaches the error, which `run`/`watch` honour before
/// asking again, as for every store (`faults::watch_honours_retry_after_on_429`).
#[test]
fn a_throttled_api_server_says_when_to_ask_again() {
    let server = FakeApiServer::start();
    server.put("monitoring", "scrape-token", &[("token", b"fine")]);
    server.set_throttled(Some(7));
    let (_, outcome) = render(with_kubeconfig(&server), "t: {kubernetes: {name: scrape-token, key: token}}\n");
    outcome
        .expect_code(4)
        .stderr_contains("asks to retry after 7s: HTTP 429: Too many requests, please try again later.");
}

#[test]
fn a_missing_secret_is_not_found_and_a_wrong_token_is_unauthorized() {
    let server = FakeApiServer::start();
    let (_, outcome) = render(with_kubeconfig(&server), "t: {kubernetes: {name: nope, key: token}}\n");
    outcome.expect_code(4).stderr_contains("t: kubernetes: kubernetes secret monitoring/nope not found");
    server.put("monitoring", "scrape-token", &[("token", CANARY.as_bytes())]);
    let config = "t: {kubernetes: {name: scrape-token, namespace: monitoring, store: other}}\nsecret_stores:\n  other: {kubernetes: {context: other}}\n";
    let (_, outcome) = render(with_kubeconfig(&server), config);
    outcome.expect_code(4).stderr_contains("the API server rejected the credentials (401 Unauthorized)");
}

#[test]
fn invalid_names_and_store_settings_are_config_errors() {
    let server = FakeApiServer::start();
    let (_, outcome) = render(
        with_kubeconfig(&server),
        "a: {kubernetes: {name: Scrape_Token}}\nb: {kubernetes: {name: t, namespace: a.b}}\n",
    );
    outcome
        .expect_code(3)
        .stderr_contains("`name` \"Scrape_Token\" is not a valid Kubernetes name")
        .stderr_contains("`namespace` \"a.b\" is not a valid Kubernetes name");
    let stores = "a: {kubernetes: {name: t, store: s}}\nsecret_stores:\n  s: {kubernetes: {api_server: 'https://x', context: c}}\n";
    let (_, outcome) = render(with_kubeconfig(&server), stores);
    outcome
        .expect_code(3)
        .stderr_contains("secret_stores.s.kubernetes: `api_server` excludes `kubeconfig` and `context`");
    // Without a scheme kube-rs failed at the first request ("buffer's worker closed").
    let schemeless =
        "a: {kubernetes: {name: t, store: s}}\nsecret_stores:\n  s: {kubernetes: {api_server: '127.0.0.1:6443'}}\n";
    let (_, outcome) = render(with_kubeconfig(&server), schemeless);
    outcome.expect_code(3).stderr_contains("`api_server` must be an http:// or https:// URL, not \"127.0.0.1:6443\"");
    let auth = "a: {kubernetes: {name: t, store: s}}\nsecret_stores:\n  s: {kubernetes: {auth: {token: t}}}\n";
    let (_, outcome) = render(with_kubeconfig(&server), auth);
    outcome.expect_code(3).stderr_contains("this store takes no `auth`");
}

/// The secret's value in the rendered config (`t: "…"`).
fn rendered_value(test: &Test) -> String {
    std::fs::read_to_string(test.path("out/app.yml"))
        .unwrap_or_default()
        .trim()
        .strip_prefix("t: ")
        .unwrap_or_default()
        .trim_matches('"')
        .to_owned()
}

#[test]
fn watch_picks_up_a_changed_secret_within_a_second_and_survives_cut_and_expired_watches() {
    let server = FakeApiServer::start();
    server.put("monitoring", "scrape-token", &[("token", b"first-fake")]);
    let test = with_kubeconfig(&server)
        .file("app.yml", "t: {kubernetes: {name: scrape-token, key: token, refresh_interval: 1h}}\n");
    let mut sidecar = WatchProcess::sidecar(&test, &["app.yml", "--out", "out", "--target", "generic"]);
    assert_eq!(rendered_value(&test), "first-fake");
    sidecar.until("the watch to open", Duration::from_secs(10), |_| server.watchers() == 1);

    // A change reaches the file within a second (the refresh interval is an hour).
    let changed = Instant::now();
    server.put("monitoring", "scrape-token", &[("token", b"second-fake")]);
    sidecar.until("the change", Duration::from_secs(5), |_| rendered_value(&test) == "second-fake");
    let took = changed.elapsed();
    assert!(took < Duration::from_secs(1), "the change took {took:?}");

    // The watch asked for one Secret's metadata only: no value crossed the wire for it.
    let watches: Vec<(String, String)> =
        server.requests().into_iter().filter(|(request, _)| request.contains("watch=true")).collect();
    assert!(!watches.is_empty());
    for (request, accept) in &watches {
        assert!(request.starts_with("GET /api/v1/namespaces/monitoring/secrets?"), "{request}");
        assert!(request.contains("fieldSelector=metadata.name%3Dscrape-token"), "{request}");
        assert!(accept.contains(METADATA_MIME), "{request}: Accept {accept}");
    }

    // The API server restarts (every watch cut, 503 meanwhile), the Secret changes and the history
    // is compacted: the client retries, gets 410 Expired for its old version, and starts over from
    // a fresh GET, which shows the change.
    server.set_down(true);
    // Every request from here on is answered 503.
    let asked_before = server.requests().len();
    server.cut_watches();
    server.put("monitoring", "scrape-token", &[("token", b"third-fake")]);
    server.compact();
    // Up again once the client has been answered 503 at least once.
    sidecar.until("a request while the API server is down", Duration::from_secs(10), |_| {
        server.requests().len() > asked_before
    });
    server.set_down(false);
    sidecar.until("the change after reconnecting", Duration::from_secs(10), |_| rendered_value(&test) == "third-fake");
    sidecar.until("the watch to reopen", Duration::from_secs(10), |_| server.watchers() == 1);
    assert_eq!(server.expired(), 1, "the watch did not resume from its old version");
    let changed = Instant::now();
    server.put("monitoring", "scrape-token", &[("token", b"fourth-fake")]);
    sidecar.until("the change on the new watch", Duration::from_secs(5), |_| rendered_value(&test) == "fourth-fake");
    assert!(changed.elapsed() < Duration::from_secs(1), "the change took {:?}", changed.elapsed());

    // A deleted Secret keeps its last good value (stale), and its return is picked up.
    server.delete("monitoring", "scrape-token");
    sidecar.until("the deletion to be noticed", Duration::from_secs(5), |sidecar| {
        sidecar.log().contains("kubernetes secret monitoring/scrape-token not found")
    });
    assert_eq!(rendered_value(&test), "fourth-fake");
    server.put("monitoring", "scrape-token", &[("token", b"fifth-fake")]);
    sidecar.until("the Secret's return", Duration::from_secs(5), |_| rendered_value(&test) == "fifth-fake");
}

#[test]
fn a_watch_the_service_account_may_not_open_falls_back_to_the_refresh_interval_with_one_warning() {
    let server = FakeApiServer::start();
    server.put("monitoring", "scrape-token", &[("token", b"first-fake")]);
    server.deny(USER, "watch", "monitoring");
    let test = with_kubeconfig(&server)
        .file("app.yml", "t: {kubernetes: {name: scrape-token, key: token, refresh_interval: 1s}}\n");
    let mut sidecar = WatchProcess::sidecar(&test, &["app.yml", "--out", "out", "--target", "generic"]);
    sidecar.until("the warning", Duration::from_secs(10), |sidecar| {
        sidecar.log().contains("cannot watch kubernetes secret monitoring/scrape-token")
    });
    assert!(sidecar.log().contains("cannot watch secrets in namespace monitoring"), "{}", sidecar.log());
    server.put("monitoring", "scrape-token", &[("token", b"second-fake")]);
    sidecar.until("the change by polling", Duration::from_secs(5), |_| rendered_value(&test) == "second-fake");
    assert_eq!(sidecar.log().matches("cannot watch kubernetes secret").count(), 1, "{}", sidecar.log());
}

#[test]
fn a_vault_approle_secret_id_is_bootstrapped_from_a_kubernetes_secret() {
    let vault = Server::openbao();
    bao(&vault, &["auth", "enable", "approle"]);
    let policy = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(policy.path(), "path \"secret/data/prometheus/*\" { capabilities = [\"read\"] }\n").unwrap();
    bao(&vault, &["policy", "write", "prometheus", &policy.path().to_string_lossy()]);
    bao(&vault, &["write", "auth/approle/role/prometheus", "token_policies=prometheus"]);
    let role_id = bao(&vault, &["read", "-field=role_id", "auth/approle/role/prometheus/role-id"]).trim().to_owned();
    let (status, body) = http_json("POST", vault.port, "/v1/auth/approle/role/prometheus/secret-id", "root", "{}");
    assert_eq!(status, 200, "{body}");
    let secret_id: Value = serde_json::from_str(&body).unwrap();
    let secret_id = secret_id["data"]["secret_id"].as_str().unwrap().to_owned();
    bao(&vault, &["kv", "put", "secret/prometheus/node", &format!("password={CANARY}")]);

    let server = FakeApiServer::start();
    server.put("monitoring", "vault-approle", &[("secret_id", secret_id.as_bytes())]);
    let config = format!(
        concat!(
            "pw: {{vault: {{path: prometheus/node, key: password, render: file}}}}\n",
            "secret_stores:\n",
            "  prod:\n",
            "    vault:\n",
            "      address: {address}\n",
            "      auth:\n",
            "        approle:\n",
            "          role_id: {role_id}\n",
            "          secret_id: {{kubernetes: {{name: vault-approle, key: secret_id}}}}\n",
        ),
        address = vault.address(),
        role_id = role_id,
    );
    let test = with_kubeconfig(&server).env("VAULT_TOKEN", "").env("BAO_TOKEN", "");
    let (test, outcome) = render(test, &config);
    outcome.expect_code(0).never_shows(&secret_id);
    let rendered = read(&test.path("out/app.yml"));
    let file = rendered.trim().strip_prefix("pw_file: ").unwrap().trim_matches('"');
    assert_eq!(read(std::path::Path::new(file)), CANARY);
    assert!(
        server
            .requests()
            .iter()
            .any(|(request, _)| request == "GET /api/v1/namespaces/monitoring/secrets/vault-approle"),
        "the secret_id was not read from Kubernetes"
    );
}

/// A Secret another writer changes between `rotate`'s read and its patch is not overwritten: the
/// merge patch carries the `resourceVersion` read, the API server answers 409 Conflict, and
/// `rotate` fails (exit 5) with the other writer's data in place.
#[test]
fn rotate_refuses_to_overwrite_a_secret_another_writer_changed_meanwhile() {
    let server = FakeApiServer::start();
    server.put("monitoring", "node", &[("password", b"old-k8s-password")]);
    let other = BTreeMap::from([("password".to_owned(), b"other-writer-fake".to_vec())]);
    server.shared.state.lock().unwrap().other_writer_before_patch = Some(other.clone());
    let reference = "{kubernetes: {namespace: monitoring, name: node, key: password}}";
    let outcome = with_kubeconfig(&server).args(["rotate", reference]).run();
    outcome
        .expect_code(5)
        .stderr_contains("another writer changed it since it was read; try again")
        .stderr_contains("modified");
    let stored = server.shared.state.lock().unwrap().secrets[&("monitoring".to_owned(), "node".to_owned())].clone();
    assert!(stored.data == other, "the other writer's data was overwritten");
}

/// The write's check-and-set carries the version of the read its value was decided on: another
/// writer's change between `rotate`'s read and its write is refused, not written over (the
/// version used to come from a second, later read).
#[test]
fn rotate_refuses_a_change_made_between_its_read_and_its_write() {
    let server = FakeApiServer::start();
    server.put("monitoring", "node", &[("password", b"old-k8s-password")]);
    let other = BTreeMap::from([("password".to_owned(), b"other-writer-fake".to_vec())]);
    server.shared.state.lock().unwrap().other_writer_after_read = Some(other.clone());
    let reference = "{kubernetes: {namespace: monitoring, name: node, key: password}}";
    let outcome = with_kubeconfig(&server).args(["rotate", reference]).run();
    outcome.expect_code(5).stderr_contains("modified");
    let stored = server.shared.state.lock().unwrap().secrets[&("monitoring".to_owned(), "node".to_owned())].clone();
    assert!(stored.data == other, "the other writer's data was overwritten");
}

#[test]
fn rotate_and_store_write_keys_of_a_secret_with_its_resource_version() {
    let server = FakeApiServer::start();
    server.put("monitoring", "node", &[("password", b"old-k8s-password"), ("username", b"prom")]);
    let reference = "{kubernetes: {namespace: monitoring, name: node, key: password}}";
    let outcome = with_kubeconfig(&server).args(["rotate", reference]).run();
    outcome.expect_code(0).stdout_contains("new version ");
    let stored = server.shared.state.lock().unwrap().secrets[&("monitoring".to_owned(), "node".to_owned())].clone();
    let new = String::from_utf8(stored.data["password"].clone()).unwrap();
    assert_eq!(new.len(), 32);
    assert_eq!(stored.data["username"], b"prom", "the other keys are kept");
    outcome.never_shows(&new).never_shows("old-k8s-password");
    let requests: Vec<String> =
        server.shared.state.lock().unwrap().requests.iter().map(|(request, _)| request.clone()).collect();
    assert!(
        requests.iter().any(|request| request.starts_with("PATCH /api/v1/namespaces/monitoring/secrets/node")),
        "{requests:?}"
    );

    // A missing Secret is created (with --create); a key is removed; the whole Secret is deleted.
    let fresh = "{kubernetes: {namespace: monitoring, name: fresh, key: token}}";
    with_kubeconfig(&server).args(["rotate", fresh]).run().expect_code(4).stderr_contains("pass --create");
    with_kubeconfig(&server).args(["rotate", fresh, "--create"]).run().expect_code(0);
    let created = server.shared.state.lock().unwrap().secrets[&("monitoring".to_owned(), "fresh".to_owned())].clone();
    assert_eq!(created.data["token"].len(), 32);
    with_kubeconfig(&server)
        .args(["store", "delete", "{kubernetes: {namespace: monitoring, name: node, key: username}}"])
        .run()
        .expect_code(0);
    let keys: Vec<String> = server.shared.state.lock().unwrap().secrets[&("monitoring".to_owned(), "node".to_owned())]
        .data
        .keys()
        .cloned()
        .collect();
    assert_eq!(keys, ["password"]);
    // A key that is not there is said so, with the keys that are, as other stores say it: the
    // merge patch removing it changes nothing, and was reported as a deletion.
    with_kubeconfig(&server)
        .args(["store", "delete", "{kubernetes: {namespace: monitoring, name: node, key: username}}"])
        .run()
        .expect_code(4)
        .stderr_contains("username")
        .stderr_contains("password");
    with_kubeconfig(&server)
        .args(["store", "delete", "{kubernetes: {namespace: monitoring, name: node}}"])
        .run()
        .expect_code(0);
    assert!(!server.shared.state.lock().unwrap().secrets.contains_key(&("monitoring".to_owned(), "node".to_owned())));
}

/// `extract --to kubernetes` (the kubeconfig's context, namespace `monitoring`): the inline value
/// becomes a key of a Secret created for it, and `render` reads it back.
#[test]
fn extract_moves_an_inline_value_into_a_new_secret_that_renders_back() {
    let server = FakeApiServer::start();
    let map = "{kubernetes: {name: prometheus-node, key: password}}";
    crate::extract::extract_and_render_back(with_kubeconfig(&server), &[], "kubernetes", "k8s-pass-fake", map);
    let data = server.data("monitoring", "prometheus-node").expect("the Secret was created");
    assert_eq!(data, BTreeMap::from([("password".to_owned(), b"k8s-pass-fake".to_vec())]));
}

/// A service-account token as the kubelet mounts one (the legacy claims, which every version's
/// auth method reads), for `USER`. Its signature is not checked by Vault without configured
/// public keys: the API server's TokenReview vouches for the token instead.
fn service_account_jwt() -> String {
    let part = |value: &Value| {
        crate::support::base64(value.to_string().as_bytes()).trim_end_matches('=').replace('+', "-").replace('/', "_")
    };
    let claims = json!({
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": "monitoring",
        "kubernetes.io/serviceaccount/secret.name": "prometheus-token-x7k2p",
        "kubernetes.io/serviceaccount/service-account.name": "prometheus",
        "kubernetes.io/serviceaccount/service-account.uid": service_account_uid(USER),
        "sub": USER,
    });
    format!("{}.{}.c2lnbmF0dXJlLWZha2U", part(&json!({"alg": "RS256", "kid": "fake"})), part(&claims))
}

/// A Vault store logging in with the Kubernetes auth method, the contract's own example: real
/// OpenBao reviews the service account's token with the API server (the fake's TokenReview)
/// and binds it to a role; the token read from `jwt_file` gets the role's policy, and a token
/// the API server does not know gets no login, nor is it shown.
#[test]
fn a_vault_store_logs_in_with_the_kubernetes_auth_method() {
    let api = FakeApiServer::start();
    let jwt = service_account_jwt();
    api.add_user(&jwt, USER);
    let vault = Server::openbao();
    bao(&vault, &["kv", "put", "secret/prometheus/node", "password=k8s-auth-fake"]);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "path \"secret/data/prometheus/*\" { capabilities = [\"read\"] }\n").unwrap();
    bao(&vault, &["policy", "write", "prometheus", &file.path().to_string_lossy()]);
    bao(&vault, &["auth", "enable", "kubernetes"]);
    // Plain http to the fake: the CA, which OpenBao asks for outside a pod, goes unused.
    let ca = crate::support::repo().join("testdata/prometheus/secrets/ca.pem");
    bao(
        &vault,
        &[
            "write",
            "auth/kubernetes/config",
            &format!("kubernetes_host={}", api.url()),
            &format!("kubernetes_ca_cert=@{}", ca.display()),
            "disable_local_ca_jwt=true",
        ],
    );
    bao(
        &vault,
        &[
            "write",
            "auth/kubernetes/role/prometheus",
            "bound_service_account_names=prometheus",
            "bound_service_account_namespaces=monitoring",
            "token_policies=prometheus",
        ],
    );
    let config = format!(
        "secret_stores:\n  vault:\n    vault:\n      address: {}\n      auth: {{kubernetes: {{role: prometheus, jwt_file: sa/token}}}}\n\
         a: {{vault: {{store: vault, path: prometheus/node, key: password}}}}\n",
        vault.address()
    );
    let render = ["--target", "generic", "render", "app.yml", "--out", "out"];
    let test = Test::new().file("app.yml", &config).file("sa/token", &jwt);
    test.run_with(&render).expect_code(0);
    assert_eq!(read(&test.path("out/app.yml")), "a: \"k8s-auth-fake\"\n");
    assert!(
        api.requests()
            .iter()
            .any(|(request, _)| request.starts_with("POST /apis/authentication.k8s.io/v1/tokenreviews"))
    );

    let unknown = service_account_jwt()
        .replace("c2lnbmF0dXJlLWZha2U", &crate::support::base64(CANARY.as_bytes()).replace('=', ""));
    let test = Test::new().file("app.yml", &config).file("sa/token", &unknown);
    test.run_with(&render)
        .expect_code(4)
        .stderr_contains("login at auth/kubernetes/login: permission denied")
        .never_shows(&unknown);
}

/// A kubeconfig that is not valid YAML is reported by line and column; the lines kube-rs shows
/// around the error, a user's token among them, are not.
#[test]
fn a_broken_kubeconfig_is_reported_without_the_lines_around_the_error() {
    let server = FakeApiServer::start();
    let test = with_user(with_kubeconfig(&server), &server, &format!("    token: {CANARY}\n   bad: x\n"));
    let (_, outcome) = render(test, "pw: {kubernetes: {name: creds, key: password}}\n");
    outcome
        .expect_code(4)
        .stderr_contains("failed to parse kubeconfig YAML: error: line 11 column 4")
        .never_shows(CANARY);
}

/// A kubeconfig's exec credential plugin that fails is named with its exit status; its command
/// line, environment and output, which may hold credentials (and do here: an argument, an
/// `env:` entry, stdout and stderr), are not shown.
#[test]
fn a_failing_exec_credential_plugin_is_reported_without_its_output() {
    let server = FakeApiServer::start();
    let plugin = format!(
        "printf '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{CANARY}\"}}}}'\necho \"refreshing with {CANARY}\" >&2\nexit 1\n"
    );
    let test = with_kubeconfig(&server).file("kube/plugin.sh", &plugin);
    let env = format!("      env: [{{name: OIDC_CLIENT_SECRET, value: {CANARY}}}]\n");
    let exec = exec_user(&test.path("kube/plugin.sh"), &format!(", --client-secret={CANARY}"), &env);
    let test = with_user(test, &server, &exec);
    let (_, outcome) = render(test, "pw: {kubernetes: {name: creds, key: password}}\n");
    outcome
        .expect_code(4)
        .stderr_contains(
            "the kubeconfig's exec credential plugin failed with status exit status: 1 (its command line, environment \
             and output are not shown: they may hold credentials)",
        )
        .never_shows(CANARY);
}

/// A watch that ends at once, telling nothing (a proxy closing long requests), is opened again
/// after a backoff that grows (1 s, then 2 s), not at once, over and over: that was tens of
/// watch requests a second for each Secret.
#[test]
fn a_watch_that_ends_at_once_is_opened_again_after_a_growing_backoff() {
    let server = FakeApiServer::start();
    server.put("monitoring", "scrape-token", &[("token", b"first-fake")]);
    server.set_watches_end_at_once(true);
    let test = with_kubeconfig(&server)
        .file("app.yml", "t: {kubernetes: {name: scrape-token, key: token, refresh_interval: 1h}}\n");
    let mut sidecar = WatchProcess::sidecar(&test, &["app.yml", "--out", "out", "--target", "generic"]);
    let watches = || server.requests().iter().filter(|(request, _)| request.contains("watch=true")).count();
    sidecar.until("the first watch", Duration::from_secs(10), |_| watches() >= 1);
    let first = Instant::now();
    sidecar.until("two more watches", Duration::from_secs(30), |_| watches() >= 3);
    let took = first.elapsed();
    assert!(took >= Duration::from_millis(2500), "three watches within {took:?}: no backoff of 1 s then 2 s");
}

/// A create refused by admission (a ResourceQuota exceeded), not by RBAC, says what the API
/// server said: it used to be reported as a missing RBAC grant, sending the operator to the
/// wrong fix.
#[test]
fn a_write_refused_by_admission_shows_the_api_servers_reason_not_rbac() {
    let server = FakeApiServer::start();
    let refuse = |code: u16, reason: &str| {
        server.shared.state.lock().unwrap().refuse_creates = Some((code, reason.to_owned()));
    };
    refuse(
        403,
        "exceeded quota: object-counts, requested: count/secrets=1, used: count/secrets=10, limited: count/secrets=10",
    );
    let fresh = "{kubernetes: {namespace: monitoring, name: fresh, key: token}}";
    let outcome = with_kubeconfig(&server).args(["rotate", "--create", fresh]).run();
    outcome.expect_code(5).stderr_contains("exceeded quota: object-counts");
    assert!(!outcome.stderr.contains("RBAC"), "{}", outcome.stderr);

    // A validating webhook's or admission policy's own words may quote the Secret it judged:
    // left out, whatever the status (a webhook's 422, a ValidatingAdmissionPolicy's 422).
    for (code, reason, kept) in [
        (
            403,
            "admission webhook \"validation.gatekeeper.sh\" denied the request: [secret-policy] value policy-quoted-fake is weak",
            "admission webhook \"validation.gatekeeper.sh\" denied the request (its reason is not shown",
        ),
        (
            422,
            "admission webhook \"secrets.example.com\" denied the request: data.token: Invalid value: \"policy-quoted-fake\"",
            "admission webhook \"secrets.example.com\" denied the request (its reason is not shown",
        ),
        (
            422,
            "ValidatingAdmissionPolicy 'strong-tokens' with binding 'strong-tokens' denied request: token policy-quoted-fake is weak",
            "with binding 'strong-tokens' denied request (its reason is not shown",
        ),
    ] {
        refuse(code, reason);
        let outcome = with_kubeconfig(&server).args(["rotate", "--create", fresh]).run();
        outcome.expect_code(5).stderr_contains(kept).never_shows("policy-quoted-fake");
        assert!(!outcome.stderr.contains("RBAC"), "{}", outcome.stderr);
    }
}

/// A kubeconfig user with a `tokenFile` and an `exec` plugin is authenticated by the file, as
/// client-go and kube-rs order them; the plugin is not run.
#[test]
fn a_kubeconfig_token_file_comes_before_an_exec_plugin() {
    let server = FakeApiServer::start();
    server.put("monitoring", "creds", &[("password", b"token-file-first-fake")]);
    let test = with_kubeconfig(&server).file("kube/token", TOKEN);
    let calls = test.path("kube/calls");
    let plugin = format!(
        "echo call >> {}\nprintf '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"wrong-fake\"}}}}'\n",
        calls.display()
    );
    let test = test.file("kube/plugin.sh", &plugin);
    let user = format!(
        "    tokenFile: {}\n{}",
        test.path("kube/token").display(),
        exec_user(&test.path("kube/plugin.sh"), "", "")
    );
    let test = with_user(test, &server, &user);
    let (test, outcome) = render(test, "pw: {kubernetes: {name: creds, key: password}}\n");
    outcome.expect_code(0);
    assert_eq!(read(&test.path("out/app.yml")), "pw: \"token-file-first-fake\"\n");
    assert!(!calls.exists(), "the exec plugin ran");
}

/// `extract` moving two fields of one job into one Secret writes both keys: the second write's
/// check-and-set goes on from the version the first one made, not the read before it.
#[test]
fn extract_moves_two_fields_of_a_job_into_one_secret() {
    let server = FakeApiServer::start();
    let config = "scrape_configs:\n  - job_name: node\n    basic_auth:\n      username: prom\n      password: node-pass-fake\n    \
                  authorization:\n      credentials: node-token-fake\n";
    let test = with_kubeconfig(&server).file("prometheus.yml", config);
    test.run_with(&["extract", "prometheus.yml", "--to", "kubernetes", "--write"]).expect_code(0);
    let data = server.data("monitoring", "prometheus-node").expect("the Secret was created");
    assert_eq!(
        data,
        BTreeMap::from([
            ("credentials".to_owned(), b"node-token-fake".to_vec()),
            ("password".to_owned(), b"node-pass-fake".to_vec())
        ])
    );
}

/// A token an exec credential plugin gives without an expiry, refused with 401, is asked for
/// again (the client built anew) and the read retried once, as client-go does: kube-rs keeps
/// such a token for the client's life, so every read failed until a restart.
#[test]
fn a_refused_exec_plugin_token_is_asked_for_again() {
    let server = FakeApiServer::start();
    server.put("monitoring", "creds", &[("password", b"exec-fake")]);
    let test = with_kubeconfig(&server);
    let calls = test.path("kube/calls");
    let plugin = format!(
        "echo call >> {calls}\nif [ \"$(wc -l < {calls})\" -eq 1 ]; then token=revoked-token-fake; else token={TOKEN}; fi\n\
         printf '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"%s\"}}}}' \"$token\"\n",
        calls = calls.display()
    );
    let test = test.file("kube/plugin.sh", &plugin);
    let exec = exec_user(&test.path("kube/plugin.sh"), "", "");
    let test = with_user(test, &server, &exec);
    let (test, outcome) = render(test, "pw: {kubernetes: {name: creds, key: password}}\n");
    outcome.expect_code(0);
    assert_eq!(read(&test.path("out/app.yml")), "pw: \"exec-fake\"\n");
}

/// A kubeconfig user's `tokenFile` ending in a newline (`kubectl create token … > file`) is
/// sent trimmed, as client-go does; kube-rs put the newline into the header, and every request
/// failed as "unreachable: invalid bearer token".
#[test]
fn a_kubeconfig_token_file_ending_in_a_newline_is_sent_trimmed() {
    let server = FakeApiServer::start();
    server.put("monitoring", "creds", &[("password", b"token-file-fake")]);
    let test = with_kubeconfig(&server).file("kube/token", &format!("{TOKEN}\n"));
    let token_file = format!("    tokenFile: {}\n", test.path("kube/token").display());
    let test = with_user(test, &server, &token_file);
    let (test, outcome) = render(test, "pw: {kubernetes: {name: creds, key: password}}\n");
    outcome.expect_code(0);
    assert_eq!(read(&test.path("out/app.yml")), "pw: \"token-file-fake\"\n");
}

/// Two jobs whose paths differ only where a Secret's name cannot (`node_exporter` and
/// `node-exporter` are both `node-exporter`) are refused before anything is stored, naming
/// both fields: the second value used to be dropped and its field pointed at the first.
#[test]
fn extract_refuses_two_values_whose_secret_names_fold_into_one() {
    let server = FakeApiServer::start();
    let config = "scrape_configs:\n  - job_name: node_exporter\n    basic_auth: {username: a, password: first-fake}\n  \
                  - job_name: node-exporter\n    basic_auth: {username: b, password: second-fake}\n";
    let test = with_kubeconfig(&server).file("prometheus.yml", config);
    for write in [false, true] {
        let mut args = vec!["extract", "prometheus.yml", "--to", "kubernetes"];
        if write {
            args.push("--write");
        }
        test.run_with(&args)
            .expect_code(3)
            .stderr_contains("scrape_configs[job_name=node_exporter].basic_auth.password and scrape_configs[job_name=node-exporter].basic_auth.password both map to")
            .never_shows("first-fake")
            .never_shows("second-fake");
    }
    assert_eq!(read(&test.path("prometheus.yml")), config, "the config was rewritten");
    assert!(server.data("monitoring", "prometheus-node-exporter").is_none(), "something was stored");
}
