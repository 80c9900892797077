//! What the REST cloud providers (`gcp_secret_manager`, `azure_key_vault`) share: one keep-alive
//! HTTP client per store, OAuth 2.0 token responses and the cached access token, and turning
//! transport failures and provider error bodies into short, value-free messages.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::HeaderValue;
use serde::Deserialize;
use zeroize::{Zeroize, Zeroizing};

use super::{ProviderError, transport_error};
use crate::secret::Secret;

/// A token is replaced once less than this is left (Google's libraries use 3 min 45 s, Azure's
/// 5 min), or once half its lifetime is gone for short-lived tokens.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// A `Content-Type` for OAuth token requests.
pub const FORM: &str = "application/x-www-form-urlencoded";

/// Whether a client's requests may go through the proxy the environment names.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Proxy {
    /// `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` unless `NO_PROXY` names the host, as Google's and
    /// Azure's own SDKs and CLIs do: for the services' APIs and token endpoints.
    FromEnvironment,
    /// Never: for a metadata or managed-identity endpoint, a link-local address on the machine
    /// itself, which a proxy must not be asked for (it would answer for its own host, or not).
    Never,
}

/// The HTTP client of one store: HTTP/1.1 keep-alive, `max_concurrency` idle connections per
/// host, and the environment's proxy or none.
pub fn http_client(
    label: &str,
    timeout: Duration,
    max_concurrency: usize,
    proxy: Proxy,
) -> Result<reqwest::Client, String> {
    crate::install_crypto_provider();
    let builder = reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(max_concurrency.max(1))
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .user_agent(concat!("secret-render/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            match redirect_refusal(attempt.previous(), attempt.url()) {
                Some(reason) => attempt.error(reason),
                None => attempt.follow(),
            }
        }));
    let builder = if proxy == Proxy::Never { builder.no_proxy() } else { builder };
    builder.build().map_err(|error| format!("{label}: cannot build the HTTP client: {error}"))
}

/// Why a redirect (to `next`, after the URLs `before` it) is not followed: one to another
/// origin (scheme, host and port). A token request carries a client secret, a refresh token or
/// a signed assertion in its body, which a 307 or 308 sends along to wherever it points, and
/// from https to http; none of these APIs, token endpoints or metadata servers redirects
/// elsewhere. Within one origin, up to 5 are followed.
fn redirect_refusal(before: &[reqwest::Url], next: &reqwest::Url) -> Option<String> {
    if before.last().is_some_and(|from| from.origin() != next.origin()) {
        return Some(format!(
            "redirected to {}, another origin: not followed, as it would carry credentials there",
            next.origin().ascii_serialization()
        ));
    }
    (before.len() > 5).then(|| "redirected more than 5 times: not followed".to_owned())
}

/// Parses an `http://` or `https://` URL from settings, naming the setting on failure.
pub fn parse_url(label: &str, setting: &str, text: &str) -> Result<reqwest::Url, String> {
    let shown = crate::redact::url(text);
    let url = reqwest::Url::parse(text).map_err(|error| format!("{label}: invalid `{setting}` {shown:?}: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(format!("{label}: `{setting}` {shown:?} must be an http:// or https:// URL"));
    }
    Ok(url)
}

/// An access token and when to replace it.
pub struct Token {
    pub secret: Secret,
    obtained: Instant,
    lifetime: Duration,
}

impl Token {
    #[must_use]
    pub fn new(secret: Secret, lifetime: Duration) -> Self {
        Self { secret, obtained: Instant::now(), lifetime }
    }

    /// Whether the token can still be sent: refreshed ahead of expiry so a request in flight
    /// never carries a token that runs out on the way.
    #[must_use]
    pub fn fresh(&self) -> bool {
        let margin = REFRESH_MARGIN.min(self.lifetime / 2);
        self.obtained.elapsed() + margin < self.lifetime
    }
}

/// The last token request that failed, for the fetches that waited on it: each fetch waits
/// for the one token request in flight, and when that request fails, those that were waiting
/// take its error rather than each sending a request of its own in turn. So a token endpoint
/// that hangs or refuses is asked once per round of fetches, not once per secret one timeout
/// after another (20 secrets behind an unanswered metadata server took 20 timeouts).
#[derive(Default)]
pub struct TokenFailure(std::sync::Mutex<Option<(Instant, ProviderError)>>);

impl TokenFailure {
    /// The error of a token request that failed after `asked` (when the caller began to wait).
    pub fn since(&self, asked: Instant) -> Option<ProviderError> {
        let last = self.0.lock().expect("not poisoned");
        last.as_ref().filter(|(at, _)| *at > asked).map(|(_, error)| error.clone())
    }

    /// Records how a token request ended: its error for those waiting, or nothing to share.
    pub fn record<T>(&self, result: &Result<T, ProviderError>) {
        *self.0.lock().expect("not poisoned") = result.as_ref().err().map(|error| (Instant::now(), error.clone()));
    }
}

/// A token endpoint's success response (RFC 6749 section 5.1); `expires_in` is a number from
/// OAuth servers and a string from Azure's IMDS; App Service's managed identity endpoint gives
/// only `expires_on`, the end in seconds since the epoch (as a string).
#[derive(Deserialize)]
pub struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    expires_on: Option<serde_json::Value>,
}

impl Drop for TokenResponse {
    fn drop(&mut self) {
        self.access_token.zeroize();
    }
}

impl TokenResponse {
    /// Reads a token response, or says why it is not one (never quoting it: it holds a token).
    pub fn parse(body: &[u8], what: &str) -> Result<Token, ProviderError> {
        let response: Self = serde_json::from_slice(body).map_err(|error| ProviderError::Invalid {
            what: what.to_owned(),
            reason: format!("not an OAuth token response ({})", super::json_error_position(&error)),
        })?;
        if response.access_token.is_empty() {
            return Err(ProviderError::Invalid { what: what.to_owned(), reason: "the `access_token` is empty".into() });
        }
        let number = |value: &Option<serde_json::Value>| match value {
            Some(serde_json::Value::Number(number)) => number.as_u64(),
            Some(serde_json::Value::String(text)) => text.trim().parse::<u64>().ok(),
            _ => None,
        };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
        let seconds =
            number(&response.expires_in).or_else(|| number(&response.expires_on).map(|end| end.saturating_sub(now)));
        // Without `expires_in` (it is only RECOMMENDED), assume the usual hour.
        let lifetime = Duration::from_secs(seconds.unwrap_or(3600));
        Ok(Token::new(Secret::from_text(response.access_token.clone()), lifetime))
    }
}

/// An OAuth error response's `error` and the first line of its `error_description` (RFC 6749
/// section 5.2): codes and explanations, never a credential. Falls back to the HTTP status.
#[must_use]
pub fn oauth_error(status: StatusCode, body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct OAuthError {
        #[serde(default)]
        error: String,
        #[serde(default)]
        error_description: String,
    }
    let Ok(parsed) = serde_json::from_slice::<OAuthError>(body) else { return format!("HTTP {status}") };
    let description = parsed.error_description.lines().next().unwrap_or_default().trim();
    match (parsed.error.is_empty(), description.is_empty()) {
        (true, true) => format!("HTTP {status}"),
        (false, true) => shorten(&parsed.error),
        (true, false) => shorten(description),
        (false, false) => shorten(&format!("{}: {description}", parsed.error)),
    }
}

/// Whitespace flattened and cut to 300 characters, for error text a provider sent.
#[must_use]
pub fn shorten(text: &str) -> String {
    let mut text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.len() > 300 {
        let mut cut = 300;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// `Authorization: Bearer TOKEN`, marked sensitive so no log or debug output shows it.
pub fn bearer(token: &Secret, what: &str) -> Result<HeaderValue, ProviderError> {
    let mut value = Zeroizing::new(b"Bearer ".to_vec());
    value.extend_from_slice(token.expose());
    let mut header = HeaderValue::from_bytes(&value).map_err(|_| ProviderError::Invalid {
        what: what.to_owned(),
        reason: "the access token is not a valid HTTP header value".into(),
    })?;
    header.set_sensitive(true);
    Ok(header)
}

/// A response whose body may hold a secret: wiped on drop.
pub struct Response {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Zeroizing<Vec<u8>>,
}

/// Sends a request and reads the whole response.
pub async fn send(request: reqwest::RequestBuilder, what: &str, timeout: Duration) -> Result<Response, ProviderError> {
    let response = request.send().await.map_err(|error| transport_error(&error, what.to_owned(), timeout))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(|error| transport_error(&error, what.to_owned(), timeout))?;
    Ok(Response { status, headers, body: Zeroizing::new(body.to_vec()) })
}

/// The error for a status no provider-specific rule explains: the service's trouble (5xx, 429:
/// retryable, honouring `Retry-After` in seconds) or an answer we did not expect.
#[must_use]
pub fn unexpected_status(response: &Response, what: String, message: &str) -> ProviderError {
    let status = response.status;
    let reason = if message.is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {message}") };
    if !(status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS) {
        return ProviderError::Invalid { what, reason };
    }
    let retry_after = response
        .headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok()?.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    match retry_after {
        Some(retry_after) => ProviderError::RateLimited { what, reason, retry_after },
        None => ProviderError::Unreachable { what, reason },
    }
}

/// The error for a token endpoint's refusal: a 4xx is the credential's fault (not retryable), a
/// 5xx or 429 the service's (retryable).
#[must_use]
pub fn token_error(response: &Response, what: String) -> ProviderError {
    if response.status.is_server_error() || response.status == StatusCode::TOO_MANY_REQUESTS {
        service_trouble(response, what)
    } else {
        ProviderError::PermissionDenied { what, reason: oauth_error(response.status, &response.body) }
    }
}

/// A token or metadata endpoint's own trouble (a 429, a 5xx): retryable, no sooner than its
/// `Retry-After`, its status said once and the OAuth error it gives, if any, after it.
#[must_use]
pub fn service_trouble(response: &Response, what: String) -> ProviderError {
    let reason = oauth_error(response.status, &response.body);
    // `oauth_error` falls back to the status itself.
    let message = reason.strip_prefix(&format!("HTTP {}", response.status)).unwrap_or(&reason);
    unexpected_status(response, what, message.trim_start_matches(": "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_is_followed_within_its_origin_only() {
        let url = |text: &str| reqwest::Url::parse(text).unwrap();
        let token = url("https://login.example/tenant/oauth2/v2.0/token");
        assert_eq!(redirect_refusal(std::slice::from_ref(&token), &url("https://login.example/other")), None);
        for elsewhere in
            ["https://attacker.example/token", "http://login.example/tenant", "https://login.example:8443/"]
        {
            let refusal = redirect_refusal(std::slice::from_ref(&token), &url(elsewhere)).unwrap();
            assert!(refusal.contains("another origin: not followed"), "{elsewhere}: {refusal}");
        }
        let six = vec![token.clone(); 6];
        assert!(redirect_refusal(&six, &token).unwrap().contains("more than 5"));
    }

    #[test]
    fn unexpected_statuses_are_retryable_for_the_service_and_honour_retry_after() {
        let response = |status: u16, retry_after: Option<&str>| {
            let mut headers = reqwest::header::HeaderMap::new();
            if let Some(value) = retry_after {
                headers.insert(reqwest::header::RETRY_AFTER, HeaderValue::from_str(value).unwrap());
            }
            Response { status: StatusCode::from_u16(status).unwrap(), headers, body: Zeroizing::new(Vec::new()) }
        };
        let cases =
            [(503, None, "unreachable", None), (429, Some("7"), "rate_limited", Some(7)), (418, None, "invalid", None)];
        for (status, header, reason, retry_after) in cases {
            let error = unexpected_status(&response(status, header), "store".into(), "message");
            assert_eq!(error.reason(), reason, "{status}");
            assert_eq!(error.retry_after(), retry_after.map(Duration::from_secs), "{status}");
        }
    }

    /// A token endpoint's 429 or 5xx is the service's trouble, retried no sooner than its
    /// `Retry-After`; its status is said once, not "HTTP 503 …: HTTP 503 …".
    #[test]
    fn a_token_endpoints_trouble_honours_retry_after_and_says_its_status_once() {
        let response = |status: u16, retry_after: Option<&str>, body: &str| {
            let mut headers = reqwest::header::HeaderMap::new();
            if let Some(value) = retry_after {
                headers.insert(reqwest::header::RETRY_AFTER, HeaderValue::from_str(value).unwrap());
            }
            Response {
                status: StatusCode::from_u16(status).unwrap(),
                headers,
                body: Zeroizing::new(body.as_bytes().to_vec()),
            }
        };
        let throttled = token_error(&response(429, Some("60"), r#"{"error":"temporarily_unavailable"}"#), "t".into());
        assert!(
            matches!(&throttled, ProviderError::RateLimited { retry_after, reason, .. }
                if *retry_after == Duration::from_secs(60) && reason == "HTTP 429 Too Many Requests: temporarily_unavailable"),
            "{throttled:?}"
        );
        let down = token_error(&response(503, None, ""), "t".into());
        assert!(
            matches!(&down, ProviderError::Unreachable { reason, .. } if reason == "HTTP 503 Service Unavailable"),
            "{down:?}"
        );
        let refused = token_error(&response(401, None, r#"{"error":"invalid_client"}"#), "t".into());
        assert!(matches!(&refused, ProviderError::PermissionDenied { .. }), "{refused:?}");
    }

    #[test]
    fn token_responses_with_number_or_string_lifetimes() {
        let cases: [(&str, u64); 3] = [
            (r#"{"access_token":"a","expires_in":3599,"token_type":"Bearer"}"#, 3599),
            (r#"{"access_token":"a","expires_in":"86399","resource":"https://vault.azure.net"}"#, 86399),
            (r#"{"access_token":"a"}"#, 3600),
        ];
        for (body, seconds) in cases {
            let token = TokenResponse::parse(body.as_bytes(), "test").unwrap();
            assert_eq!(token.lifetime, Duration::from_secs(seconds), "{body}");
            assert_eq!(token.secret.expose(), b"a");
        }
        // App Service's managed identity endpoint gives only the end, in seconds since the epoch.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let body = format!(r#"{{"access_token":"a","expires_on":"{}","token_type":"Bearer"}}"#, now + 600);
        let lifetime = TokenResponse::parse(body.as_bytes(), "test").unwrap().lifetime;
        assert!((Duration::from_secs(598)..=Duration::from_secs(600)).contains(&lifetime), "{lifetime:?}");
        let error = TokenResponse::parse(br#"{"access_token":"canary","expires_in":[1]}"#, "t").map(|_| ());
        assert!(error.is_ok(), "an odd expires_in falls back to an hour");
        let broken = TokenResponse::parse(br#"{"access_token": canary"#, "t").err().unwrap().to_string();
        assert!(!broken.contains("canary"), "{broken}");
    }

    #[test]
    fn a_token_is_replaced_before_it_expires() {
        assert!(Token::new(Secret::from_text("t".into()), Duration::from_secs(3600)).fresh());
        assert!(!Token::new(Secret::from_text("t".into()), Duration::from_secs(0)).fresh());
        let mut token = Token::new(Secret::from_text("t".into()), Duration::from_secs(3600));
        if let Some(earlier) = Instant::now().checked_sub(Duration::from_secs(3600 - 299)) {
            token.obtained = earlier;
            assert!(!token.fresh(), "less than five minutes left");
        }
        let obtained_ago = |lifetime: u64, millis: u64| {
            let mut token = Token::new(Secret::from_text("t".into()), Duration::from_secs(lifetime));
            token.obtained = Instant::now().checked_sub(Duration::from_millis(millis))?;
            Some(token.fresh())
        };
        if let (Some(before), Some(after)) = (obtained_ago(2, 900), obtained_ago(2, 1100)) {
            assert!(before, "a 2 s token is sent while less than half of it is gone");
            assert!(!after, "a 2 s token is replaced once half of it is gone");
        }
        if let Some(left) = obtained_ago(3600, (3600 - 301) * 1000) {
            assert!(left, "an hour's token is sent while more than five minutes are left");
        }
    }

    #[test]
    fn oauth_errors_keep_the_code_and_first_line() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1\r\nCorrelation ID: 2","error_codes":[7000215]}"#;
        assert_eq!(
            oauth_error(StatusCode::UNAUTHORIZED, body),
            "invalid_client: AADSTS7000215: Invalid client secret provided."
        );
        assert_eq!(oauth_error(StatusCode::BAD_REQUEST, br#"{"error":"invalid_grant"}"#), "invalid_grant");
        assert_eq!(oauth_error(StatusCode::BAD_GATEWAY, b"<html>"), "HTTP 502 Bad Gateway");
    }
}
