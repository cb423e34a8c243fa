//! The one HTTP client: timeouts, bounded retries with jitter that honour `Retry-After`, and
//! errors that say what failed without leaking credentials.
//!
//! Classification lives here so every caller agrees on it: connection failures, timeouts,
//! 408, 429 and 5xx are transient (retried, then exit code 3); every other status is final
//! (exit code 1). Error messages show the method, the redacted URL, the status, the body cut
//! to 512 characters, and allowlisted request-ID headers for support tickets.
//!
//! Redirects are followed here, hop by hop, not by reqwest: a request carries its
//! credentials (any `Authorization`, basic auth, URL userinfo, cookie or API-key header)
//! only while every hop so far stayed on the origin (scheme, host and port) of the URL the
//! caller asked for. Once a redirect leaves it, no later hop carries them, not even one that
//! comes back (the foreign host chose that URL), and `https` → `http` always leaves it.
//! reqwest's own policy compares each hop with the previous one only and keeps custom
//! headers such as `X-NuGet-ApiKey`, so every client lading builds turns it off
//! ([`client_builder`]).

use std::time::Duration;

use rand::Rng;
use reqwest::{Method, StatusCode};

use crate::diagnostics::{Cause, Diagnostic, EXIT_TRANSIENT, as_diagnostic};
use crate::secret::SafeUrl;

/// Response headers worth quoting in an error: they let a registry's support find the request.
const DEBUG_HEADERS: &[&str] = &[
    "x-request-id",
    "x-amzn-requestid",
    "x-amz-request-id",
    "x-github-request-id",
    "cf-ray",
    "x-served-by",
];

/// How much of an error body to show.
const BODY_SNIPPET_CHARS: usize = 512;

/// Redirects followed for one request before giving up (reqwest's and curl's default is
/// similar).
pub const MAX_REDIRECTS: usize = 10;

/// Request headers that carry a credential, whatever the registry (reqwest marks the ones it
/// sets itself as sensitive; these are set by name).
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "cookie2",
    "x-nuget-apikey",
    "x-api-key",
    "x-jfrog-art-api",
    "private-token",
    "job-token",
];

/// A reqwest client builder with lading's user agent and reqwest's redirect following
/// turned off: redirects go through [`send_following`], which decides about credentials
/// at every hop. Every client lading builds starts here.
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(concat!("lading/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
}

/// Whether two URLs share scheme, host and port.
fn same_origin(left: &url::Url, right: &url::Url) -> bool {
    left.scheme() == right.scheme()
        && left.host_str() == right.host_str()
        && left.port_or_known_default() == right.port_or_known_default()
}

/// Remove every credential from a request: the headers above, any header reqwest marked
/// sensitive, and the URL's userinfo.
pub fn strip_credentials(request: &mut reqwest::Request) {
    let headers = request.headers_mut();
    for name in CREDENTIAL_HEADERS {
        headers.remove(*name);
    }
    let sensitive: Vec<reqwest::header::HeaderName> = headers
        .iter()
        .filter(|(_, value)| value.is_sensitive())
        .map(|(name, _)| name.clone())
        .collect();
    for name in sensitive {
        headers.remove(name);
    }
    let url = request.url_mut();
    let _ = url.set_username("");
    let _ = url.set_password(None);
}

/// Why [`send_following`] got no final response.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No response: connection refused, DNS, TLS, timeout, or a request that cannot be built.
    #[error(transparent)]
    Transport(#[from] reqwest::Error),
    /// A redirect that cannot be followed (too many, bad `Location`, not http(s)).
    #[error("{0}")]
    Redirect(String),
}

/// Send `method url`, built by `build` at every hop, following redirects (301, 302, 303,
/// 307, 308) up to [`MAX_REDIRECTS`]. Credentials go only to hops on the origin of `url`
/// while no earlier hop left it (see the module docs). 301/302/303 turn a request other
/// than GET/HEAD into a body-less GET, as browsers and reqwest do; 307/308 keep method and
/// body. Returns the first response that is not a followable redirect.
///
/// # Errors
/// [`SendError::Transport`] when a hop gets no response, [`SendError::Redirect`] when a
/// redirect cannot be followed.
pub async fn send_following<F>(
    client: &reqwest::Client,
    method: Method,
    url: &url::Url,
    build: F,
) -> Result<reqwest::Response, SendError>
where
    F: Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
{
    let mut method = method;
    let mut current = url.clone();
    let mut trusted = true;
    let mut body = true;
    for hop in 0..=MAX_REDIRECTS {
        let mut request = build(client.request(method.clone(), current.clone())).build()?;
        if !body {
            *request.body_mut() = None;
            for name in [
                reqwest::header::CONTENT_TYPE,
                reqwest::header::CONTENT_LENGTH,
                reqwest::header::CONTENT_ENCODING,
                reqwest::header::TRANSFER_ENCODING,
            ] {
                request.headers_mut().remove(name);
            }
        }
        if !trusted {
            strip_credentials(&mut request);
        }
        let response = client.execute(request).await?;
        let status = response.status();
        if !matches!(
            status,
            StatusCode::MOVED_PERMANENTLY
                | StatusCode::FOUND
                | StatusCode::SEE_OTHER
                | StatusCode::TEMPORARY_REDIRECT
                | StatusCode::PERMANENT_REDIRECT
        ) {
            return Ok(response);
        }
        let Some(location) = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|value| value.to_str().ok())
        else {
            return Ok(response);
        };
        let shown = SafeUrl::from(current.clone());
        let next = current.join(location).map_err(|error| {
            SendError::Redirect(format!(
                "{shown} redirected to an invalid location: {error}"
            ))
        })?;
        if !matches!(next.scheme(), "http" | "https") {
            return Err(SendError::Redirect(format!(
                "{shown} redirected to a `{}` URL, which lading does not follow",
                next.scheme()
            )));
        }
        if hop == MAX_REDIRECTS {
            return Err(SendError::Redirect(format!(
                "more than {MAX_REDIRECTS} redirects, the last from {shown}"
            )));
        }
        if trusted && !same_origin(url, &next) {
            trusted = false;
        }
        if matches!(
            status,
            StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND | StatusCode::SEE_OTHER
        ) && method != Method::GET
            && method != Method::HEAD
        {
            method = Method::GET;
            body = false;
        }
        tracing::debug!(
            from = %shown,
            to = %SafeUrl::from(next.clone()),
            %status,
            credentials = trusted,
            "following a redirect"
        );
        current = next;
    }
    Err(SendError::Redirect(format!(
        "more than {MAX_REDIRECTS} redirects"
    )))
}

/// Retry policy: bounded attempts, exponential backoff with full jitter, capped delays.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Total attempts, including the first.
    pub max_attempts: u32,
    /// Delay before the first retry (before jitter).
    pub base_delay: Duration,
    /// Upper bound for any single delay, including one asked for by `Retry-After`.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `attempt` (1-based), honouring a server's `Retry-After`.
    #[must_use]
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(asked) = retry_after {
            return asked.min(self.max_delay);
        }
        let exponential = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        let capped = exponential.min(self.max_delay);
        // Full jitter: spread retries of many CI jobs hitting one registry.
        let millis = u64::try_from(capped.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(millis / 2..=millis.max(1)))
    }
}

/// Parse a `Retry-After` value: delta-seconds or an HTTP date.
#[must_use]
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Whether a status is worth retrying.
#[must_use]
pub fn is_transient_status(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// An HTTP request that failed, with everything a CI user needs to act on it.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The server answered with a non-success status.
    #[error("{method} {url} returned {status}{request_ids}{body}")]
    Status {
        /// Request method.
        method: Method,
        /// Redacted URL.
        url: SafeUrl,
        /// Status code.
        status: StatusCode,
        /// Allowlisted request-ID headers, preformatted (` (x-request-id: …)`).
        request_ids: String,
        /// The body cut to 512 characters, preformatted (`: …`).
        body: String,
        /// Attempts made.
        attempts: u32,
    },
    /// Credentials for the request could not be obtained (e.g. a token could not be minted).
    #[error("could not obtain credentials: {0}")]
    Credentials(String),
    /// The body stopped arriving for longer than the stall timeout, on every attempt.
    #[error("{method} {url} stalled: no data for {stall:?} (after {attempts} attempt(s))")]
    Stalled {
        /// Request method.
        method: Method,
        /// Redacted URL.
        url: SafeUrl,
        /// The stall timeout.
        stall: Duration,
        /// Attempts made.
        attempts: u32,
    },
    /// No response: connection refused, DNS, TLS, timeout.
    #[error("{method} {url} failed after {attempts} attempt(s)")]
    Transport {
        /// Request method.
        method: Method,
        /// Redacted URL.
        url: SafeUrl,
        /// Attempts made.
        attempts: u32,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// A redirect could not be followed.
    #[error("{method} {url}: {reason}")]
    Redirect {
        /// Request method.
        method: Method,
        /// Redacted URL.
        url: SafeUrl,
        /// What was wrong with it.
        reason: String,
    },
    /// Writing the body where it goes (a temp file in the store) failed.
    #[error("could not write the body of {url}")]
    Sink {
        /// Redacted URL.
        url: SafeUrl,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl HttpError {
    /// True when retrying later could succeed (exit code 3).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Status { status, .. } => is_transient_status(*status),
            Self::Transport { .. } | Self::Stalled { .. } => true,
            Self::Credentials(_) | Self::Sink { .. } | Self::Redirect { .. } => false,
        }
    }

    /// The status, when the server answered.
    #[must_use]
    pub const fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status { status, .. } => Some(*status),
            Self::Transport { .. }
            | Self::Stalled { .. }
            | Self::Credentials(_)
            | Self::Redirect { .. }
            | Self::Sink { .. } => None,
        }
    }
}

/// Finds this module's errors in an error chain (see [`crate::diagnostics::Probe`]).
pub fn diagnostic(error: &Cause) -> Option<&dyn Diagnostic> {
    as_diagnostic::<HttpError>(error)
}

impl Diagnostic for HttpError {
    fn exit_code(&self) -> Option<u8> {
        self.is_transient().then_some(EXIT_TRANSIENT)
    }

    /// A hint for the user, when the status says what to do.
    fn hint(&self) -> Option<String> {
        match self.status()? {
            StatusCode::UNAUTHORIZED => Some("the repository rejected the credentials: check the token is set and not expired (run `lading login` again)".to_owned()),
            StatusCode::FORBIDDEN => Some("the credentials were accepted but lack permission for this repository or operation".to_owned()),
            StatusCode::NOT_FOUND => Some("check the repository URL, domain and repository names".to_owned()),
            status if is_transient_status(status) => Some("the repository is unavailable or throttling; the CI job can be retried".to_owned()),
            _ => None,
        }
    }
}

/// Builder inputs for [`HttpClient`].
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Timeout for establishing a connection.
    pub connect_timeout: Duration,
    /// Timeout for a whole request, body included.
    pub request_timeout: Duration,
    /// Retry policy.
    pub retry: RetryPolicy,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(300),
            retry: RetryPolicy::default(),
        }
    }
}

/// The shared HTTP client.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    retry: RetryPolicy,
}

impl HttpClient {
    /// Build a client.
    ///
    /// # Errors
    /// When the TLS backend cannot be initialised.
    pub fn new(options: &HttpOptions) -> Result<Self, reqwest::Error> {
        let inner = client_builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .build()?;
        Ok(Self {
            inner,
            retry: options.retry.clone(),
        })
    }

    /// The underlying client, for building requests.
    #[must_use]
    pub const fn inner(&self) -> &reqwest::Client {
        &self.inner
    }

    /// Send a request built by `build` (called once per attempt and redirect hop), retrying
    /// transient failures and following redirects through [`send_following`]. Returns the
    /// first success (2xx/3xx) response.
    ///
    /// # Errors
    /// [`HttpError::Status`] for a final status or a transient one after the last attempt,
    /// [`HttpError::Transport`] when no response came back.
    pub async fn send<F>(
        &self,
        method: Method,
        url: &SafeUrl,
        build: F,
    ) -> Result<reqwest::Response, HttpError>
    where
        F: Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.retry.max_attempts;
            match send_following(&self.inner, method.clone(), url.expose(), &build).await {
                Ok(response)
                    if response.status().is_success() || response.status().is_redirection() =>
                {
                    return Ok(response);
                }
                Ok(response) => {
                    let status = response.status();
                    if is_transient_status(status) && !last {
                        let retry_after = response
                            .headers()
                            .get(reqwest::header::RETRY_AFTER)
                            .and_then(|value| value.to_str().ok())
                            .and_then(|value| {
                                parse_retry_after(value, std::time::SystemTime::now())
                            });
                        let delay = self.retry.delay(attempt, retry_after);
                        tracing::debug!(%url, %status, ?delay, attempt, "retrying after a transient status");
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    return Err(status_error(method, url, response, attempt).await);
                }
                Err(SendError::Redirect(reason)) => {
                    return Err(HttpError::Redirect {
                        method,
                        url: url.clone(),
                        reason,
                    });
                }
                Err(SendError::Transport(source)) => {
                    if !last {
                        let delay = self.retry.delay(attempt, None);
                        tracing::debug!(%url, error = %source, ?delay, attempt, "retrying after a transport error");
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    return Err(HttpError::Transport {
                        method,
                        url: url.clone(),
                        attempts: attempt,
                        source: source.without_url(),
                    });
                }
            }
        }
    }
}

/// The most a body buffer is sized up front from `Content-Length` (capacity that is never
/// written to costs address space, not memory).
const PRESIZE_LIMIT: usize = 256 * 1024 * 1024;

/// A whole response body with the headers it came with.
#[derive(Debug, Clone)]
pub struct Downloaded {
    /// The body.
    pub body: bytes::Bytes,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
}

/// Where [`HttpClient::get_into`] puts a body as it arrives.
pub trait BodySink {
    /// Take the next chunk.
    ///
    /// # Errors
    /// An I/O error ends the download (not retried).
    fn write(&mut self, chunk: &[u8]) -> std::io::Result<()>;

    /// Forget what was written: a retry starts the body over.
    ///
    /// # Errors
    /// An I/O error ends the download (not retried).
    fn reset(&mut self) -> std::io::Result<()>;
}

/// Collects a body in memory, sized from `Content-Length` when the server gives one.
#[derive(Debug, Default)]
struct MemorySink {
    body: bytes::BytesMut,
}

impl BodySink for MemorySink {
    fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.body.extend_from_slice(chunk);
        Ok(())
    }

    fn reset(&mut self) -> std::io::Result<()> {
        self.body.clear();
        Ok(())
    }
}

impl HttpClient {
    /// GET a whole body into memory; see [`HttpClient::get_into`].
    ///
    /// # Errors
    /// As [`HttpClient::get_into`].
    pub async fn get_bytes<F>(
        &self,
        url: &SafeUrl,
        stall: Duration,
        build: F,
    ) -> Result<Downloaded, HttpError>
    where
        F: Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    {
        let mut sink = MemorySink::default();
        let headers = self
            .get_into(url, stall, build, &mut sink, |sink, length| {
                // Sized from Content-Length (capped, as the server's word is not trusted), so
                // a body is not grown by doubling.
                let capacity = usize::try_from(length).unwrap_or(0).min(PRESIZE_LIMIT);
                sink.body.reserve(capacity);
            })
            .await?;
        Ok(Downloaded {
            body: sink.body.freeze(),
            headers,
        })
    }

    /// GET a body into `sink` chunk by chunk (so a large artifact never sits in memory),
    /// retrying transient statuses, transport errors and bodies that stall: when no chunk
    /// arrives for `stall`, the attempt is dropped, the sink reset and the GET retried with
    /// backoff (a slow but moving download is never cut off; the client's whole-request
    /// timeout still applies). `sized` sees the sink and the `Content-Length` first.
    ///
    /// # Errors
    /// As [`HttpClient::send`], plus [`HttpError::Stalled`] and the sink's I/O errors.
    pub async fn get_into<F, S: BodySink>(
        &self,
        url: &SafeUrl,
        stall: Duration,
        build: F,
        sink: &mut S,
        sized: impl Fn(&mut S, u64),
    ) -> Result<reqwest::header::HeaderMap, HttpError>
    where
        F: Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    {
        let sink_error = |source: std::io::Error| HttpError::Sink {
            url: url.clone(),
            source,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.retry.max_attempts;
            let mut response =
                match tokio::time::timeout(stall, self.send(Method::GET, url, &build)).await {
                    Ok(result) => result?,
                    Err(_) if !last => {
                        tokio::time::sleep(self.retry.delay(attempt, None)).await;
                        continue;
                    }
                    Err(_) => {
                        return Err(HttpError::Stalled {
                            method: Method::GET,
                            url: url.clone(),
                            stall,
                            attempts: attempt,
                        });
                    }
                };
            let headers = response.headers().clone();
            sink.reset().map_err(sink_error)?;
            if let Some(length) = response.content_length() {
                sized(sink, length);
            }
            let failure = loop {
                match tokio::time::timeout(stall, response.chunk()).await {
                    Ok(Ok(Some(chunk))) => sink.write(&chunk).map_err(sink_error)?,
                    Ok(Ok(None)) => return Ok(headers),
                    Ok(Err(error)) => break Some(error),
                    Err(_) => break None,
                }
            };
            if !last {
                let delay = self.retry.delay(attempt, None);
                tracing::debug!(%url, ?delay, attempt, "retrying a body that failed or stalled");
                tokio::time::sleep(delay).await;
                continue;
            }
            return Err(match failure {
                Some(source) => HttpError::Transport {
                    method: Method::GET,
                    url: url.clone(),
                    attempts: attempt,
                    source: source.without_url(),
                },
                None => HttpError::Stalled {
                    method: Method::GET,
                    url: url.clone(),
                    stall,
                    attempts: attempt,
                },
            });
        }
    }
}

async fn status_error(
    method: Method,
    url: &SafeUrl,
    response: reqwest::Response,
    attempts: u32,
) -> HttpError {
    let status = response.status();
    let ids: Vec<String> = DEBUG_HEADERS
        .iter()
        .filter_map(|name| {
            response
                .headers()
                .get(*name)
                .and_then(|value| value.to_str().ok())
                .map(|value| format!("{name}: {value}"))
        })
        .collect();
    let request_ids = if ids.is_empty() {
        String::new()
    } else {
        format!(" ({})", ids.join(", "))
    };
    let text = response.text().await.unwrap_or_default();
    let text = text.trim();
    let body = if text.is_empty() {
        String::new()
    } else {
        let cut: String = text.chars().take(BODY_SNIPPET_CHARS).collect();
        let ellipsis = if cut.len() < text.len() { "…" } else { "" };
        format!(": {cut}{ellipsis}")
    };
    HttpError::Status {
        method,
        url: url.clone(),
        status,
        request_ids,
        body,
        attempts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn credentials_stay_only_on_the_same_scheme_host_and_port() {
        let url = |text: &str| url::Url::parse(text).unwrap();
        let origin = url("https://repo.example/npm/");
        assert!(same_origin(&origin, &url("https://repo.example:443/other")));
        // https → http never keeps a credential, even to the same host.
        assert!(!same_origin(&origin, &url("http://repo.example/npm/")));
        assert!(!same_origin(
            &origin,
            &url("https://repo.example:8443/npm/")
        ));
        assert!(!same_origin(&origin, &url("https://cdn.repo.example/npm/")));
        let mut request = reqwest::Client::new()
            .get("https://user:pass@repo.example/x")
            .bearer_auth("t")
            .header("X-NuGet-ApiKey", "k")
            .header("Cookie", "c")
            .header("Accept", "a")
            .build()
            .unwrap();
        strip_credentials(&mut request);
        assert_eq!(request.headers().len(), 1, "{:?}", request.headers());
        assert_eq!(request.url().as_str(), "https://repo.example/x");
    }

    #[test]
    fn transient_classification() {
        assert!(is_transient_status(StatusCode::TOO_MANY_REQUESTS));
        assert!(is_transient_status(StatusCode::BAD_GATEWAY));
        assert!(is_transient_status(StatusCode::REQUEST_TIMEOUT));
        assert!(!is_transient_status(StatusCode::UNAUTHORIZED));
        assert!(!is_transient_status(StatusCode::CONFLICT));
    }

    #[test]
    fn delay_honours_retry_after_but_caps_it() {
        let policy = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
        };
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(600))),
            Duration::from_secs(5)
        );
        for attempt in 1..6 {
            let delay = policy.delay(attempt, None);
            assert!(delay <= Duration::from_secs(5), "{delay:?}");
        }
        let third = policy.delay(3, None);
        assert!(
            third >= Duration::from_millis(200) && third <= Duration::from_millis(400),
            "{third:?}"
        );
    }

    /// A local server that answers from a script of statuses, counting requests.
    async fn scripted(
        statuses: Vec<(u16, Option<&'static str>)>,
    ) -> (SafeUrl, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let count = std::sync::Arc::new(AtomicUsize::new(0));
        let seen = std::sync::Arc::clone(&count);
        let app = axum::Router::new().fallback(move || {
            let seen = std::sync::Arc::clone(&seen);
            let statuses = statuses.clone();
            async move {
                let index = seen.fetch_add(1, Ordering::SeqCst).min(statuses.len() - 1);
                let (status, retry_after) = statuses[index];
                let mut response = axum::response::IntoResponse::into_response((
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    "body text",
                ));
                if let Some(value) = retry_after {
                    response
                        .headers_mut()
                        .insert("retry-after", axum::http::HeaderValue::from_static(value));
                }
                response.headers_mut().insert(
                    "x-request-id",
                    axum::http::HeaderValue::from_static("req-123"),
                );
                response
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (
            SafeUrl::parse(&format!("http://user:s3cret@{address}/thing")).unwrap(),
            count,
        )
    }

    fn fast_client() -> HttpClient {
        HttpClient::new(&HttpOptions {
            retry: RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_secs(2),
            },
            ..HttpOptions::default()
        })
        .unwrap()
    }

    #[tokio::test]
    async fn publish_retries_after_429_honouring_retry_after() {
        let (url, count) = scripted(vec![(429, Some("1")), (200, None)]).await;
        let started = std::time::Instant::now();
        let response = fast_client()
            .send(Method::GET, &url, |request| request)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "Retry-After: 1 was honoured"
        );
    }

    #[tokio::test]
    async fn exhausted_retries_are_transient_and_final_statuses_are_not_retried() {
        let (url, count) = scripted(vec![(503, None)]).await;
        let error = fast_client()
            .send(Method::GET, &url, |request| request)
            .await
            .unwrap_err();
        assert!(error.is_transient());
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 3);
        let shown = error.to_string();
        assert!(
            shown.contains("503")
                && shown.contains("x-request-id: req-123")
                && shown.contains("body text"),
            "{shown}"
        );
        assert!(
            !shown.contains("s3cret"),
            "the URL password leaked: {shown}"
        );
        assert_eq!(
            crate::diagnostics::Diagnostics::new(&[diagnostic])
                .exit_code(&anyhow::Error::new(error)),
            EXIT_TRANSIENT
        );

        let (url, count) = scripted(vec![(401, None)]).await;
        let error = fast_client()
            .send(Method::GET, &url, |request| request)
            .await
            .unwrap_err();
        assert!(!error.is_transient());
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(error.hint().unwrap().contains("credentials"));
    }
}
