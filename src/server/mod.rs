//! `lading serve`: an embedded artifact repository that speaks the CodeArtifact control
//! plane (SigV4-checked rest-json) and the npm, Maven, NuGet v3, PyPI, cargo, RubyGems and
//! generic data planes, stored on disk, with upstream repositories and external connections.
//!
//! Routes:
//!
//! ```text
//! /v1/...                                 CodeArtifact control plane (control.rs)
//! /ui/...  (GET / redirects there)         the web console (console/)
//! /d/{domain}/{format}/{repository}/...   the data plane of each format
//! ```
//!
//! This module and its children are the format-independent part: store, access, SigV4,
//! ingest, the control plane and the pull-through engine ([`pull_through`]). Each format's
//! data plane lives in its own folder, `src/ecosystem/<format>/serve.rs` (or `serve/`),
//! implementing [`data_plane::DataPlane`]; the server mounts the planes it is given
//! ([`ServerOptions::data_planes`], normally `crate::ecosystem::registry::data_planes()`:
//! every format's `Ecosystem::data_plane`) and names no format itself.
//!
//! The data-plane URLs are what `GetRepositoryEndpoint` returns, built from `--public-url`
//! or from the `Host` the client used, so `aws codeartifact login` and npm get URLs that
//! reach this server whatever address it listens on.

pub mod access;
pub mod blob_cache;
pub mod cache;
pub mod console;
pub mod control;
pub mod data_plane;
pub mod error;
pub mod groups;
pub mod index;
pub mod ingest;
pub mod metrics;
pub mod multipart;
pub mod object_store;
pub mod packages;
pub mod policy;
pub mod pull_through;
pub mod sigv4;
pub mod store;
pub mod upstream;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderMap;
use axum::routing::any;
use serde::Deserialize;

use self::access::{Grant, Principal, Principals};
use self::store::{Store, StoredPrincipal};
use crate::env_vars::EnvVars;
use crate::secret::Secret;

/// Name of the admin credentials file in the data directory.
pub const CREDENTIALS_FILE: &str = "credentials";
/// Domain created on an empty data directory.
pub const DEFAULT_DOMAIN: &str = "local";
/// Repository created on an empty data directory.
pub const DEFAULT_REPOSITORY: &str = "main";
/// Account reported as domain owner unless the config names one.
pub const DEFAULT_ACCOUNT: &str = "000000000000";

/// `lading serve --config FILE`: principals, domains and repositories.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// The 12-digit account that owns every domain (`domainOwner`).
    #[serde(default)]
    pub account: Option<String>,
    /// Principals besides the generated admin.
    #[serde(default)]
    pub principals: Vec<PrincipalConfig>,
    /// Domains (and their repositories) to create if missing.
    #[serde(default)]
    pub domains: Vec<DomainConfig>,
    /// External connections (upstream registries) besides the built-in `public:*` ones.
    #[serde(default)]
    pub external_connections: Vec<upstream::ExternalConnectionConfig>,
    /// PEM public keys (ed25519 or ECDSA P-256) the web console checks stored provenance
    /// signatures against.
    #[serde(default)]
    pub provenance_public_keys: Vec<String>,
}

/// A principal declared in the server config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalConfig {
    /// Name shown by `whoami` and in ARNs.
    pub name: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key, inline...
    #[serde(default)]
    pub secret_access_key: Option<String>,
    /// ...or from this environment variable.
    #[serde(default)]
    pub secret_access_key_env: Option<String>,
    /// Permissions.
    pub grants: Vec<Grant>,
}

/// A domain declared in the server config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainConfig {
    /// Domain name.
    pub name: String,
    /// Repository names.
    #[serde(default)]
    pub repositories: Vec<String>,
}

impl ServeConfig {
    /// Load a server config file.
    ///
    /// # Errors
    /// When the file cannot be read or parsed (with line and column).
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = fs_err::read_to_string(path)?;
        let config: Self = serde_yaml::from_str(&text).map_err(|error| {
            let position = error.location().map(|location| {
                format!(
                    "{}:{}:{}: ",
                    path.display(),
                    location.line(),
                    location.column()
                )
            });
            anyhow::anyhow!(
                "{}{}",
                position.unwrap_or_default(),
                error
                    .to_string()
                    .split(" at line ")
                    .next()
                    .unwrap_or_default()
            )
        })?;
        if let Some(account) = &config.account
            && (account.len() != 12 || !account.bytes().all(|byte| byte.is_ascii_digit()))
        {
            anyhow::bail!(
                "{}: `account` must be 12 digits, got `{account}`",
                path.display()
            );
        }
        for principal in &config.principals {
            if principal.secret_access_key.is_some() == principal.secret_access_key_env.is_some() {
                anyhow::bail!(
                    "{}: principal `{}` needs exactly one of `secret_access_key` and `secret_access_key_env`",
                    path.display(),
                    principal.name
                );
            }
        }
        Ok(config)
    }
}

/// How to start the server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Data directory.
    pub data_dir: PathBuf,
    /// Listen address.
    pub listen: SocketAddr,
    /// Optional config.
    pub config: Option<ServeConfig>,
    /// Base URL for data-plane endpoints, overriding the request's `Host`.
    pub public_url: Option<url::Url>,
    /// Region for ARNs when a request names none.
    pub region: String,
    /// Body size caps and timeouts.
    pub limits: ingest::Limits,
    /// Connections that send no complete request headers within this time are closed; this
    /// includes idle keep-alive connections (the timer starts when the server waits for the
    /// next request).
    pub header_timeout: std::time::Duration,
    /// Caps on open connections.
    pub connections: ConnectionLimits,
    /// `--upstream` flags: external connections named `upstream:FORMAT`, associated with
    /// every repository that has no external connection.
    pub upstreams: Vec<upstream::ExternalConnectionConfig>,
    /// How long upstream metadata is served from the cache before it is revalidated.
    pub metadata_ttl: std::time::Duration,
    /// Where blobs live: `s3://BUCKET/PREFIX` for an S3-compatible object store
    /// ([`object_store`]); `None` keeps them in the data directory.
    pub blobs: Option<String>,
    /// Where the index lives: a `postgres://` URL for a PostgreSQL database shared by
    /// several nodes ([`index`]); `None` keeps it in the data directory (SQLite).
    pub index: Option<String>,
    /// The data planes to mount, one per format (normally `crate::ecosystem::registry::data_planes()`).
    pub data_planes: &'static [&'static dyn data_plane::DataPlane],
}

/// The server's clock: the system clock shifted by `LADING_SERVE_CLOCK_OFFSET_SECONDS`.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    offset_seconds: i64,
}

impl Clock {
    /// Now, in epoch seconds.
    #[must_use]
    pub fn now(&self) -> f64 {
        let system = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |elapsed| elapsed.as_secs_f64());
        #[expect(clippy::cast_precision_loss, reason = "offsets are small")]
        let offset = self.offset_seconds as f64;
        system + offset
    }

    /// Now, whole epoch seconds.
    #[must_use]
    pub fn now_seconds(&self) -> i64 {
        #[expect(clippy::cast_possible_truncation, reason = "epoch seconds fit in i64")]
        let seconds = self.now().floor() as i64;
        seconds
    }
}

/// Shared state of all handlers.
#[derive(Debug)]
pub struct AppState {
    /// Storage.
    pub store: Store,
    /// Known principals.
    pub principals: Principals,
    /// Clock.
    pub clock: Clock,
    /// Default region.
    pub region: String,
    /// Domain owner account.
    pub account: String,
    /// Public base URL override.
    pub public_url: Option<url::Url>,
    /// Body size caps and timeouts.
    pub limits: ingest::Limits,
    /// External connections and their fetcher.
    pub externals: upstream::Externals,
    /// Keys the web console verifies provenance signatures with (`provenance_public_keys`).
    pub provenance_keys: Vec<crate::provenance::dsse::VerifyingKey>,
    /// Caches of the read path.
    pub caches: cache::ReadCaches,
}

impl AppState {
    /// Base URL (no trailing slash) that clients reach this server at.
    #[must_use]
    pub fn base_url(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.public_url {
            return url.as_str().trim_end_matches('/').to_owned();
        }
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("127.0.0.1");
        format!("http://{host}")
    }

    /// A data-plane 404 unless the repository exists.
    ///
    /// # Errors
    /// [`error::DataError`]: 404, or 500 when the index fails.
    pub async fn require_repository(
        &self,
        domain: &str,
        repository: &str,
    ) -> Result<(), error::DataError> {
        self.require_repository_at(domain, repository, self.store.generation())
            .await
    }

    /// [`Self::require_repository`] for a request that already read the index generation.
    ///
    /// # Errors
    /// [`error::DataError`]: 404, or 500 when the index fails.
    pub async fn require_repository_at(
        &self,
        domain: &str,
        repository: &str,
        generation: Option<u64>,
    ) -> Result<(), error::DataError> {
        let key = (domain.to_owned(), repository.to_owned());
        let cached =
            generation.and_then(|generation| self.caches.repositories.get(&key, generation));
        let exists = if let Some(exists) = cached {
            exists
        } else {
            let (lookup_domain, lookup_repository) = key.clone();
            let exists = self
                .store
                .with(move |connection| -> Result<_, error::DataError> {
                    Ok(
                        store::repository(connection, &lookup_domain, &lookup_repository)?
                            .is_some(),
                    )
                })
                .await?;
            if let Some(generation) = generation {
                self.caches.repositories.insert(key, generation, exists);
            }
            exists
        };
        if exists {
            Ok(())
        } else {
            Err(error::DataError::not_found(format!(
                "repository `{domain}/{repository}` does not exist"
            )))
        }
    }

    /// Data-plane endpoint of a repository for a format (ends in `/`).
    #[must_use]
    pub fn repository_endpoint(
        &self,
        headers: &HeaderMap,
        domain: &str,
        format: crate::format::Format,
        repository: &str,
    ) -> String {
        format!(
            "{}/d/{domain}/{format}/{repository}/",
            self.base_url(headers)
        )
    }
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Open the data directory, bootstrap it, bind, and start serving in the background.
    ///
    /// # Errors
    /// When the data directory cannot be used, the config is inconsistent, or the address
    /// cannot be bound.
    pub async fn start(options: ServerOptions) -> anyhow::Result<Self> {
        let remote = match &options.blobs {
            Some(url) => Some(
                object_store::ObjectStore::connect(url)
                    .await
                    .with_context(|| format!("failed to use the object store `{url}`"))?,
            ),
            None => None,
        };
        let sweeps_remote = remote.is_some();
        let index = match &options.index {
            Some(url) => Some(index::Location::postgres(url)?),
            None => None,
        };
        let data_dir = options.data_dir.clone();
        let store = tokio::task::spawn_blocking(move || Store::open_with(&data_dir, index, remote))
            .await
            .context("failed to open the store")?
            .with_context(|| {
                format!(
                    "failed to open the data directory `{}`",
                    options.data_dir.display()
                )
            })?;
        if sweeps_remote {
            // The object store's orphan collector: at start, then hourly.
            let sweeper = store.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(store::ORPHAN_BLOB_AGE);
                loop {
                    every.tick().await;
                    match sweeper.sweep_remote_orphans(store::ORPHAN_BLOB_AGE).await {
                        Ok(0) => {}
                        Ok(removed) => {
                            tracing::info!(removed, "removed orphan objects from the object store");
                        }
                        Err(error) => {
                            tracing::warn!(error = %crate::diagnostics::one_line(&error), "object store orphan sweep failed");
                        }
                    }
                }
            });
        }
        let config = options.config.clone().unwrap_or_default();
        let account = config
            .account
            .clone()
            .unwrap_or_else(|| DEFAULT_ACCOUNT.to_owned());
        let offset_seconds = match EnvVars::get(EnvVars::LADING_SERVE_CLOCK_OFFSET_SECONDS) {
            Some(text) => text.parse().with_context(|| {
                format!(
                    "`{}` must be an integer, got `{text}`",
                    EnvVars::LADING_SERVE_CLOCK_OFFSET_SECONDS
                )
            })?,
            None => 0,
        };
        let clock = Clock { offset_seconds };
        let principals = bootstrap(&store, &options.data_dir, &config, &account, clock).await?;
        let mut declared = config.external_connections.clone();
        declared.extend(options.upstreams.iter().cloned());
        let externals = upstream::Externals::new(
            &declared,
            options.data_dir.join("upstream-v2"),
            options.metadata_ttl,
        )
        .await
        .context("failed to set up the external connections")?;
        if !options.upstreams.is_empty() {
            let names: Vec<String> = options
                .upstreams
                .iter()
                .map(|upstream| upstream.name.clone())
                .collect();
            store
                .with(move |connection| -> anyhow::Result<()> {
                    let transaction = store::write_transaction(connection)?;
                    for repository in store::repositories(&transaction, None)? {
                        if packages::external_connections(
                            &transaction,
                            &repository.domain,
                            &repository.name,
                        )?
                        .is_empty()
                        {
                            for name in &names {
                                packages::link_external(
                                    &transaction,
                                    &repository.domain,
                                    &repository.name,
                                    name,
                                    true,
                                )?;
                            }
                        }
                    }
                    transaction.commit()?;
                    Ok(())
                })
                .await?;
        }
        let provenance_keys = config
            .provenance_public_keys
            .iter()
            .enumerate()
            .map(|(index, pem)| {
                crate::provenance::dsse::VerifyingKey::from_pem(pem)
                    .with_context(|| format!("`provenance_public_keys[{index}]`"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let state = Arc::new(AppState {
            provenance_keys,
            externals,
            store,
            principals,
            clock,
            region: options.region.clone(),
            account,
            public_url: options.public_url.clone(),
            limits: options.limits,
            caches: cache::ReadCaches::default(),
        });
        let router = router(Arc::clone(&state), options.data_planes);
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .with_context(|| format!("failed to listen on {}", options.listen))?;
        let local_addr = listener.local_addr()?;
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let header_timeout = options.header_timeout;
        let connections = options.connections.clamped_to_file_limit();
        let task = tokio::spawn(serve_connections(
            listener,
            router,
            header_timeout,
            connections,
            shutdown_rx,
        ));
        tracing::info!(%local_addr, "lading serve started");
        Ok(Self {
            local_addr,
            shutdown,
            task,
        })
    }

    /// The bound address (useful with port 0).
    #[must_use]
    pub const fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stop accepting connections and wait for in-flight requests.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }
}

/// Caps on open connections (`--max-connections`, `--max-connections-per-address`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open connections at most, from all clients together.
    pub total: usize,
    /// Open connections at most from one client address.
    pub per_address: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            total: 1024,
            per_address: 256,
        }
    }
}

/// File descriptors kept free for the index, blobs, temp files and upstream connections.
const RESERVED_FILE_DESCRIPTORS: usize = 64;

impl ConnectionLimits {
    /// The caps, with `total` lowered to leave `RESERVED_FILE_DESCRIPTORS` of the process's
    /// open-file limit free: past that limit `accept` fails and nobody gets in, which is
    /// what the cap is there to prevent.
    #[must_use]
    pub fn clamped_to_file_limit(self) -> Self {
        let Some(limit) = open_file_limit() else {
            return self;
        };
        let usable = limit.saturating_sub(RESERVED_FILE_DESCRIPTORS).max(16);
        if self.total <= usable {
            return self;
        }
        tracing::warn!(
            configured = self.total,
            open_file_limit = limit,
            used = usable,
            "--max-connections is above what the open-file limit allows; raise `ulimit -n` to use it"
        );
        Self {
            total: usable,
            per_address: self.per_address.min(usable),
        }
    }
}

/// The soft open-file limit (`ulimit -n`), where the platform tells it without `unsafe`.
fn open_file_limit() -> Option<usize> {
    let limits = fs_err::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Open connections, in total and per client address.
#[derive(Debug, Default)]
struct ConnectionCounts {
    total: usize,
    by_address: std::collections::HashMap<std::net::IpAddr, usize>,
}

/// One admitted connection; gives its slot back when dropped.
struct ConnectionSlot {
    counts: Arc<std::sync::Mutex<ConnectionCounts>>,
    address: std::net::IpAddr,
}

impl ConnectionSlot {
    fn admit(
        counts: &Arc<std::sync::Mutex<ConnectionCounts>>,
        address: std::net::IpAddr,
        limits: ConnectionLimits,
    ) -> Option<Self> {
        let mut guard = counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let from_address = guard.by_address.get(&address).copied().unwrap_or(0);
        if guard.total >= limits.total || from_address >= limits.per_address {
            return None;
        }
        guard.total += 1;
        *guard.by_address.entry(address).or_insert(0) += 1;
        drop(guard);
        Some(Self {
            counts: Arc::clone(counts),
            address,
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut guard = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.total -= 1;
        if let Some(count) = guard.by_address.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                guard.by_address.remove(&self.address);
            }
        }
    }
}

/// What a connection over the caps gets before it is closed.
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\nContent-Type: application/json\r\nContent-Length: 71\r\n\r\n{\"error\":\"too many open connections; retry when some of them are done\"}";

/// Accept connections until `shutdown` fires, then wait (bounded) for in-flight requests.
///
/// A hand-rolled loop rather than `axum::serve`, for two reasons: a connection that does not
/// send complete request headers within `header_timeout` (an idle keep-alive, a slowloris
/// client) is closed, so idle sockets cannot pile up; and connections past the caps in
/// `limits` (in total, and from one address) are answered 503 and closed at once, so slow
/// clients cannot take every file descriptor and lock everybody else out.
async fn serve_connections(
    listener: tokio::net::TcpListener,
    router: Router,
    header_timeout: std::time::Duration,
    limits: ConnectionLimits,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let counts = Arc::new(std::sync::Mutex::new(ConnectionCounts::default()));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, slot) = match accepted {
                    Ok((stream, peer)) => {
                        let Some(slot) = ConnectionSlot::admit(&counts, peer.ip(), limits) else {
                            tracing::debug!(%peer, "connection refused: too many open connections");
                            // The send buffer of a new socket is empty: this never blocks.
                            let _ = stream.try_write(TOO_MANY_CONNECTIONS);
                            drop(stream);
                            continue;
                        };
                        // Responses go out whole; do not hold their last segment back.
                        let _ = stream.set_nodelay(true);
                        (stream, slot)
                    }
                    Err(error) => {
                        // Out of file descriptors and similar: back off instead of spinning.
                        tracing::warn!(error = %error, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let service = hyper_util::service::TowerToHyperService::new(router.clone());
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(header_timeout)
                    .serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(error = %error, "connection closed with an error");
                    }
                    drop(slot);
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(std::time::Duration::from_secs(10)) => {
            tracing::warn!("in-flight requests still running after 10 s; stopping anyway");
        }
    }
    Ok(())
}

/// Split a data-plane path `/d/{domain}/{format}/{repository}/{rest}` into the decoded
/// domain and repository and the still-encoded rest.
#[must_use]
pub fn split_data_path(path: &str) -> (String, String, &str) {
    let mut segments = path.splitn(6, '/').skip(2);
    let domain = decode_segment(segments.next().unwrap_or_default());
    let repository = decode_segment(segments.nth(1).unwrap_or_default());
    (domain, repository, segments.next().unwrap_or_default())
}

/// Percent-encoded path text (a segment, or the rest of a path), decoded (invalid UTF-8
/// replaced).
#[must_use]
pub fn decode_segment(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// The router over shared state.
pub fn router(
    state: Arc<AppState>,
    data_planes: &'static [&'static dyn data_plane::DataPlane],
) -> Router {
    let mut router = Router::new().route("/v1/{*operation}", any(control::handle));
    for plane in data_planes {
        router = plane.routes(router);
    }
    router = console::routes(
        router,
        data_planes.iter().map(|plane| plane.format()).collect(),
    );
    router
        .route("/health", any(|| async { "ok" }))
        .route("/healthz", any(|| async { "ok" }))
        .route("/readyz", any(ready))
        .route(
            "/metrics",
            axum::routing::get(
                |axum::extract::State(state): axum::extract::State<Arc<AppState>>| async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        metrics::render(state.store.index_pool_use()),
                    )
                },
            ),
        )
        .fallback(|| async { control::unknown_route() })
        // Each route caps and streams its own body ([`ingest`]), after authentication.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn(track))
        .with_state(state)
}

/// Count every answered request in [`metrics`] under its route template.
async fn track(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    metrics::request(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `/readyz`, for a load balancer: 200 when the index and the blob storage (the object store,
/// when there is one) answer, else 503 with `Retry-After` and what failed.
async fn ready(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    match state.store.ready().await {
        Ok(()) => "ready".into_response(),
        Err(error) => {
            tracing::warn!(error = %error, source = ?std::error::Error::source(&error), "not ready");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                [("retry-after", error::RETRY_AFTER_SECONDS.to_string())],
                format!("not ready: {}", crate::diagnostics::one_line(&error)),
            )
                .into_response()
        }
    }
}

/// Finds this module's errors in an error chain (see [`crate::diagnostics::Probe`]).
pub fn diagnostic(
    error: &crate::diagnostics::Cause,
) -> Option<&dyn crate::diagnostics::Diagnostic> {
    object_store::diagnostic(error)
}

/// Create the admin principal, default or configured domains and repositories; write the
/// admin credentials file; return every principal.
async fn bootstrap(
    store: &Store,
    data_dir: &Path,
    config: &ServeConfig,
    account: &str,
    clock: Clock,
) -> anyhow::Result<Principals> {
    let config = config.clone();
    let owner = account.to_owned();
    let now = clock.now();
    let stored = store
        .with(move |connection| -> anyhow::Result<Vec<StoredPrincipal>> {
            let transaction = store::write_transaction(connection)?;
            let mut principals = store::principals(&transaction)?;
            if !principals.iter().any(|principal| principal.name == "admin") {
                let (access_key_id, secret) = access::new_access_key();
                let admin = StoredPrincipal {
                    access_key_id,
                    secret_access_key: secret.expose().clone(),
                    name: "admin".to_owned(),
                    grants: serde_json::to_string(&vec![Grant::admin_everywhere()])?,
                };
                store::insert_principal(&transaction, &admin)?;
                principals.push(admin);
            }
            let mut wanted: Vec<(String, Vec<String>)> = config
                .domains
                .iter()
                .map(|domain| (domain.name.clone(), domain.repositories.clone()))
                .collect();
            if wanted.is_empty() && store::domains(&transaction)?.is_empty() {
                wanted.push((
                    DEFAULT_DOMAIN.to_owned(),
                    vec![DEFAULT_REPOSITORY.to_owned()],
                ));
            }
            for (domain, repositories) in wanted {
                control::validate_domain_name(&domain)
                    .map_err(|error| anyhow::anyhow!("domain `{domain}`: {}", error.message))?;
                store::insert_domain(
                    &transaction,
                    &store::Domain {
                        name: domain.clone(),
                        owner: owner.clone(),
                        created: now,
                        encryption_key: None,
                    },
                )?;
                for repository in repositories {
                    control::validate_repository_name(&repository).map_err(|error| {
                        anyhow::anyhow!("repository `{repository}`: {}", error.message)
                    })?;
                    store::insert_repository(
                        &transaction,
                        &store::Repository {
                            domain: domain.clone(),
                            name: repository,
                            description: None,
                            created: now,
                        },
                    )?;
                }
            }
            store::purge_tokens(&transaction, now)?;
            transaction.commit()?;
            Ok(principals)
        })
        .await?;
    let mut principals = Principals::default();
    for row in stored {
        let grants: Vec<Grant> =
            serde_json::from_str(&row.grants).context("corrupt principal grants in the index")?;
        if row.name == "admin" {
            write_gitignores(data_dir)?;
            write_credentials(data_dir, &row.access_key_id, &row.secret_access_key)?;
        }
        principals.insert(Principal {
            name: row.name,
            access_key_id: row.access_key_id,
            secret_access_key: Secret::new(row.secret_access_key),
            grants,
            policies: Arc::default(),
        });
    }
    for declared in &config.principals {
        let secret = match (&declared.secret_access_key, &declared.secret_access_key_env) {
            (Some(secret), _) => secret.clone(),
            (None, Some(variable)) => EnvVars::get(variable).with_context(|| {
                format!(
                    "principal `{}`: environment variable `{variable}` is not set",
                    declared.name
                )
            })?,
            (None, None) => anyhow::bail!("principal `{}` has no secret access key", declared.name),
        };
        principals.insert(Principal {
            name: declared.name.clone(),
            access_key_id: declared.access_key_id.clone(),
            secret_access_key: Secret::new(secret),
            grants: declared.grants.clone(),
            policies: Arc::default(),
        });
    }
    Ok(principals)
}

/// What a `.gitignore` written by `lading serve` holds: everything in its directory.
pub const GITIGNORE: &str =
    "# written by lading: this directory holds keys and caches; never commit it\n*\n";

/// Write a `.gitignore` ignoring everything into the data directory, and into its parent
/// when that is lading's `.lading/` state directory, so `git add .` in a checkout never
/// commits the admin keys. An existing `.gitignore` is left alone.
fn write_gitignores(data_dir: &Path) -> anyhow::Result<()> {
    let mut directories = vec![data_dir.to_path_buf()];
    if let Some(parent) = data_dir.parent()
        && parent.file_name().is_some_and(|name| name == ".lading")
    {
        directories.push(parent.to_path_buf());
    }
    for directory in directories {
        let path = directory.join(".gitignore");
        if !path.exists() {
            crate::fsx::write_if_changed(&path, GITIGNORE.as_bytes(), None)
                .with_context(|| format!("failed to write `{}`", path.display()))?;
        }
    }
    Ok(())
}

fn write_credentials(
    data_dir: &Path,
    access_key_id: &str,
    secret_access_key: &str,
) -> anyhow::Result<()> {
    let text = format!(
        "# lading serve admin principal; use with AWS_SHARED_CREDENTIALS_FILE=<this file>\n[default]\naws_access_key_id = {access_key_id}\naws_secret_access_key = {secret_access_key}\n"
    );
    let path = data_dir.join(CREDENTIALS_FILE);
    crate::fsx::write_private(&path, text.as_bytes())
        .with_context(|| format!("failed to write `{}`", path.display()))?;
    Ok(())
}
