//! The admin HTTP listener of `run`/`watch` (CONTRACT.md section 8): `GET /metrics`,
//! `GET /-/healthy`, `GET /-/ready` and `POST /-/refresh[?secret=NAME]`. It reads `Metrics` and
//! `Health` and hands refresh requests to the refresh loop over a channel; it never sees a secret
//! value.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::task::JoinSet;

use super::metrics::Metrics;

const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const TEXT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// The answer to an accepted `POST /-/refresh`: what it does, an auth-failure trigger.
const REFRESH_ACCEPTED: &str = "refresh requested as an auth failure: the secret (every secret, without `secret=`) \
     is fetched again, and one the store has nothing newer for falls back to its previous value while that is within \
     its grace period";
/// A client that opens a connection and sends nothing (or sends headers slowly) would otherwise
/// hold its task forever.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// After a failed `accept` (out of file descriptors, say) retrying at once would spin.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Liveness and readiness as the admin listener reports them. Healthy means the process answers;
/// ready is set by the daemon once every secret has a value and the child is up.
#[derive(Debug, Default)]
pub struct Health {
    ready: AtomicBool,
    /// The secrets' names (their files' slugs), which `POST /-/refresh?secret=NAME` may name.
    secrets: std::sync::RwLock<Vec<String>>,
}

impl Health {
    /// Starts not ready.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// The secrets there are now, by name, as the configs last loaded have them.
    pub fn set_secrets(&self, names: impl IntoIterator<Item = String>) {
        *self.secrets.write().expect("not poisoned") = names.into_iter().collect();
    }

    /// Whether `name` names one of the secrets (see [`names`]).
    #[must_use]
    pub fn knows(&self, name: &str) -> bool {
        self.secrets.read().expect("not poisoned").iter().any(|slug| names(slug, name))
    }
}

/// Whether `name`, from `POST /-/refresh?secret=NAME`, names the secret whose file is `slug`:
/// all of it, or all but its `-hash` suffix (`job.basic_auth.password` for
/// `job.basic_auth.password-3f2a`).
#[must_use]
pub fn names(slug: &str, name: &str) -> bool {
    slug.strip_prefix(name).is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
}

/// A `POST /-/refresh` for the refresh loop: refetch the secret with this slug, or every secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRequest {
    pub secret: Option<String>,
}

/// The admin listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("failed to listen on `{addr}` for the admin HTTP endpoint: {source}")]
    Bind {
        addr: String,
        #[source]
        source: io::Error,
    },
}

/// Binds the admin listener to `addr` (`host:port`; port 0 picks a free one).
///
/// # Errors
///
/// [`AdminError::Bind`], naming `addr`, when the address does not resolve or is taken.
pub async fn bind(addr: &str) -> Result<TcpListener, AdminError> {
    TcpListener::bind(addr).await.map_err(|source| AdminError::Bind { addr: addr.to_owned(), source })
}

/// Serves the admin endpoints on `listener`, one task per connection, until the returned future is
/// dropped; connections still open then are dropped with it.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    refresh: mpsc::Sender<RefreshRequest>,
) {
    let state = Arc::new(State { metrics, health, refresh });
    // Owning the connection tasks here ties them to this future: dropping the JoinSet aborts them.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let state = Arc::clone(&state);
                    connections.spawn(async move {
                        let service = service_fn(move |request| {
                            let state = Arc::clone(&state);
                            async move { Ok::<_, Infallible>(state.respond(&request)) }
                        });
                        let served = http1::Builder::new()
                            .timer(TokioTimer::new())
                            .header_read_timeout(HEADER_READ_TIMEOUT)
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                        if let Err(error) = served {
                            tracing::debug!(%peer, %error, "admin connection ended with an error");
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "admin listener cannot accept a connection");
                    tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                }
            },
            // Reap finished connections so the set does not grow with every request served.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

struct State {
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    refresh: mpsc::Sender<RefreshRequest>,
}

impl State {
    fn respond(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        let method = request.method();
        // HEAD as GET (hyper sends the headers only), as Prometheus answers it: some probes
        // and load balancers check with HEAD.
        let get = method == Method::GET || method == Method::HEAD;
        match request.uri().path() {
            "/metrics" if get => response(StatusCode::OK, OPENMETRICS_CONTENT_TYPE, self.metrics.encode()),
            "/-/healthy" if get => text(StatusCode::OK, "OK"),
            "/-/ready" if get => {
                if self.health.is_ready() {
                    text(StatusCode::OK, "OK")
                } else {
                    text(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "not ready: secrets are still being fetched or the child is not up",
                    )
                }
            }
            // A browser adds `Origin` to every POST a page sends: a page open on this host must
            // not be able to make secret-render write a previous value back.
            "/-/refresh" if method == Method::POST && request.headers().contains_key(hyper::header::ORIGIN) => text(
                StatusCode::FORBIDDEN,
                "refused: sent by a web page (it carries an Origin header); call it from a script or curl",
            ),
            "/-/refresh" if method == Method::POST => self.refresh(request.uri().query()),
            "/metrics" | "/-/healthy" | "/-/ready" => method_not_allowed("GET, HEAD"),
            "/-/refresh" => method_not_allowed("POST"),
            _ => text(StatusCode::NOT_FOUND, "not found"),
        }
    }

    fn refresh(&self, query: Option<&str>) -> Response<Full<Bytes>> {
        let secret = match parse_refresh_query(query.unwrap_or("")) {
            Ok(secret) => secret,
            Err(message) => return text(StatusCode::BAD_REQUEST, message),
        };
        if let Some(name) = &secret
            && !self.health.knows(name)
        {
            return text(
                StatusCode::NOT_FOUND,
                format!("no secret is named {name:?}: the `secret` labels in /metrics are the names"),
            );
        }
        tracing::debug!(secret = secret.as_deref().unwrap_or("*"), "refresh requested over HTTP");
        match self.refresh.try_send(RefreshRequest { secret }) {
            // Said, since "refresh" reads as "fetch again" and this is more: an operator who
            // calls it after a rotation was picked up gets the previous value back.
            Ok(()) => text(StatusCode::ACCEPTED, REFRESH_ACCEPTED),
            // Waiting for room would hold the HTTP client hostage to a busy refresh loop.
            Err(TrySendError::Full(_)) => {
                text(StatusCode::TOO_MANY_REQUESTS, "too many refresh requests are pending; retry later")
            }
            Err(TrySendError::Closed(_)) => text(StatusCode::SERVICE_UNAVAILABLE, "the refresh loop is not running"),
        }
    }
}

/// Reads `secret=NAME` from the query of `POST /-/refresh`. Any other parameter is refused, so a
/// misspelt `?name=x` does not silently refresh every secret.
fn parse_refresh_query(query: &str) -> Result<Option<String>, String> {
    let mut secret = None;
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key != "secret" {
            return Err(format!("unknown query parameter {key:?}; only `secret` is accepted"));
        }
        if secret.is_some() {
            return Err("`secret` is given more than once; send one request per secret".to_owned());
        }
        let name = percent_decode(value).ok_or_else(|| "`secret` is not valid percent-encoded UTF-8".to_owned())?;
        if name.is_empty() {
            return Err("`secret` is empty; omit it to refresh every secret".to_owned());
        }
        secret = Some(name);
    }
    Ok(secret)
}

/// Decodes `%XX` escapes (RFC 3986). `+` stays a plus: this is a URI query, not a form body.
fn percent_decode(value: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(value.len());
    let mut rest = value.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let hex = tail.get(..2)?;
            let hex = std::str::from_utf8(hex).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

fn response(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn text(status: StatusCode, body: impl Into<String>) -> Response<Full<Bytes>> {
    let mut body = body.into();
    body.push('\n');
    response(status, TEXT_CONTENT_TYPE, body)
}

fn method_not_allowed(allow: &'static str) -> Response<Full<Bytes>> {
    let mut response = text(StatusCode::METHOD_NOT_ALLOWED, format!("method not allowed; use {allow}"));
    response.headers_mut().insert(ALLOW, HeaderValue::from_static(allow));
    response
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use tokio::task::JoinHandle;

    use super::*;

    struct Server {
        base: String,
        metrics: Arc<Metrics>,
        health: Arc<Health>,
        refreshes: mpsc::Receiver<RefreshRequest>,
        task: JoinHandle<()>,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    async fn start() -> Server {
        let listener = bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let metrics = Arc::new(Metrics::new());
        let health = Arc::new(Health::new());
        let (sender, refreshes) = mpsc::channel(8);
        let task = tokio::spawn(serve(listener, Arc::clone(&metrics), Arc::clone(&health), sender));
        Server { base: format!("http://{addr}"), metrics, health, refreshes, task }
    }

    /// reqwest is built without a default TLS provider; plain HTTP still needs one installed.
    fn client() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
    }

    async fn call(method: reqwest::Method, url: &str) -> (u16, String, String) {
        let response = client().request(method, url).send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, content_type, response.text().await.unwrap())
    }

    #[tokio::test]
    async fn endpoints_status_and_body() {
        let server = start().await;
        server.metrics.record_success("job.basic_auth.password-3f2a", "vault", std::time::UNIX_EPOCH);
        let get = reqwest::Method::GET;
        let post = reqwest::Method::POST;
        let head = reqwest::Method::HEAD;
        let cases: [(&reqwest::Method, &str, u16, &str); 12] = [
            (&get, "/-/healthy", 200, "OK\n"),
            (&head, "/-/healthy", 200, ""),
            (&head, "/-/ready", 503, ""),
            (&head, "/metrics", 200, ""),
            (&get, "/-/ready", 503, "not ready: secrets are still being fetched or the child is not up\n"),
            (&get, "/-/refresh", 405, "method not allowed; use POST\n"),
            (&post, "/metrics", 405, "method not allowed; use GET, HEAD\n"),
            (&post, "/-/healthy", 405, "method not allowed; use GET, HEAD\n"),
            (&get, "/", 404, "not found\n"),
            (&get, "/metrics/extra", 404, "not found\n"),
            (&post, "/-/refresh?name=x", 400, "unknown query parameter \"name\"; only `secret` is accepted\n"),
            (&post, "/-/refresh?secret=%zz", 400, "`secret` is not valid percent-encoded UTF-8\n"),
        ];
        for (method, path, status, body) in cases {
            let (got_status, _, got_body) = call(method.clone(), &format!("{}{path}", server.base)).await;
            assert_eq!((got_status, got_body.as_str()), (status, body), "{method} {path}");
        }

        let (status, content_type, body) = call(get, &format!("{}/metrics", server.base)).await;
        assert_eq!(status, 200);
        assert_eq!(content_type, OPENMETRICS_CONTENT_TYPE);
        assert!(
            body.contains(
                "secret_render_secret_state{secret=\"job.basic_auth.password-3f2a\",provider=\"vault\",state=\"success\"} 1\n"
            ),
            "{body}"
        );
        assert!(body.ends_with("# EOF\n"), "{body}");
    }

    #[tokio::test]
    async fn ready_flips_with_set_ready() {
        let server = start().await;
        let url = format!("{}/-/ready", server.base);
        for (ready, status) in [(false, 503), (true, 200), (false, 503)] {
            server.health.set_ready(ready);
            assert_eq!(call(reqwest::Method::GET, &url).await.0, status, "ready = {ready}");
        }
    }

    #[tokio::test]
    async fn refresh_delivers_requests() {
        let mut server = start().await;
        server.health.set_secrets(["a b", "job.basic_auth.password-3f2a", "c+d+é"].map(str::to_owned));
        let cases = [
            ("/-/refresh", None),
            ("/-/refresh?secret=a%20b", Some("a b")),
            ("/-/refresh?secret=job.basic_auth.password-3f2a", Some("job.basic_auth.password-3f2a")),
            ("/-/refresh?secret=c+d%2B%C3%A9", Some("c+d+é")),
        ];
        for (path, expected) in cases {
            let (status, _, body) = call(reqwest::Method::POST, &format!("{}{path}", server.base)).await;
            assert_eq!((status, body.as_str()), (202, format!("{REFRESH_ACCEPTED}\n").as_str()), "{path}");
            assert!(body.contains("falls back to its previous value"), "{body}");
            let request = server.refreshes.try_recv().unwrap();
            assert_eq!(request, RefreshRequest { secret: expected.map(str::to_owned) }, "{path}");
        }
    }

    #[tokio::test]
    async fn refresh_of_a_secret_nobody_has_is_not_found() {
        let mut server = start().await;
        server.health.set_secrets(["job.basic_auth.password-3f2a".to_owned()]);
        for name in ["job.basic_auth.password", "job.basic_auth.password-3f2a"] {
            let (status, _, _) = call(reqwest::Method::POST, &format!("{}/-/refresh?secret={name}", server.base)).await;
            assert_eq!(status, 202, "{name}");
        }
        for name in ["job.basic_auth", "job.basic_auth.passwor", "job.basic_auth.password-3f2", "other"] {
            let (status, _, body) =
                call(reqwest::Method::POST, &format!("{}/-/refresh?secret={name}", server.base)).await;
            assert_eq!(status, 404, "{name}: {body}");
            assert!(body.contains(name), "{body}");
        }
        assert_eq!(
            std::iter::from_fn(|| server.refreshes.try_recv().ok()).count(),
            2,
            "only the known names reach the loop"
        );
    }

    /// A page in a browser on the host can send a POST to 127.0.0.1 (a "simple" cross-origin
    /// request needs no preflight); the browser marks it with `Origin`, and it is refused.
    #[tokio::test]
    async fn refresh_sent_by_a_web_page_is_refused() {
        let mut server = start().await;
        let response = client()
            .post(format!("{}/-/refresh", server.base))
            .header(reqwest::header::ORIGIN, "https://attacker.example")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 403);
        assert!(response.text().await.unwrap().contains("Origin"));
        assert!(server.refreshes.try_recv().is_err(), "nothing reached the loop");
    }

    #[tokio::test]
    async fn refresh_reports_a_stopped_loop() {
        let mut server = start().await;
        server.refreshes.close();
        let (status, _, body) = call(reqwest::Method::POST, &format!("{}/-/refresh", server.base)).await;
        assert_eq!((status, body.as_str()), (503, "the refresh loop is not running\n"));
    }

    #[tokio::test]
    async fn serves_connections_concurrently() {
        let server = start().await;
        // A connection that never finishes its request must not block the next client.
        let _idle = tokio::net::TcpStream::connect(server.base.trim_start_matches("http://")).await.unwrap();
        let (status, _, _) = call(reqwest::Method::GET, &format!("{}/-/healthy", server.base)).await;
        assert_eq!(status, 200);
    }

    #[tokio::test]
    async fn stops_when_dropped() {
        let mut server = start().await;
        let url = format!("{}/-/healthy", server.base);
        assert_eq!(call(reqwest::Method::GET, &url).await.0, 200);
        server.task.abort();
        assert!((&mut server.task).await.unwrap_err().is_cancelled());
        assert!(client().get(&url).send().await.is_err());
    }

    #[tokio::test]
    async fn bind_error_names_the_address() {
        let taken = bind("127.0.0.1:0").await.unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        let error = bind(&addr).await.unwrap_err().to_string();
        assert!(error.starts_with(&format!("failed to listen on `{addr}` for the admin HTTP endpoint: ")), "{error}");
    }

    #[test]
    fn percent_decoding() {
        let cases = [
            ("plain", Some("plain")),
            ("a%20b", Some("a b")),
            ("%2f%2F", Some("//")),
            ("%", None),
            ("%2", None),
            ("%g0", None),
            ("%ff", None),
        ];
        for (input, expected) in cases {
            assert_eq!(percent_decode(input).as_deref(), expected, "{input}");
        }
    }
}
