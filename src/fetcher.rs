//! Verified downloads for `lading restore`: bounded concurrency over the one keep-alive HTTP
//! client, the content-addressed [`Store`] consulted first (a hit makes no request), and a
//! digest check before anything is written.
//!
//! Credentials go only to the repository's own origin (scheme, host and port): a lockfile
//! that points a package at another host never receives the token.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::cas::{Blob, Digest, Staged, Store};
use crate::diagnostics::{Cause, Diagnostic, EXIT_TRANSIENT, as_diagnostic};
use crate::http::{HttpClient, HttpError};
use crate::secret::{SafeUrl, Secret};

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The bytes do not hash to what the lockfile (or the repository's checksum) pins.
    #[error(
        "digest mismatch for `{package}` from {url}\n  expected: {expected}\n  actual:   {actual}"
    )]
    Mismatch {
        /// The package (`name@version`).
        package: String,
        /// Redacted URL.
        url: SafeUrl,
        /// What was pinned.
        expected: Digest,
        /// What arrived.
        actual: Digest,
    },
    /// The request failed.
    #[error("failed to download `{package}`")]
    Http {
        /// The package.
        package: String,
        /// The HTTP failure.
        #[source]
        source: HttpError,
    },
    /// The store could not be written.
    #[error("failed to write `{package}` to the store")]
    Io {
        /// The package.
        package: String,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
}

impl FetchError {
    /// True when retrying the job could succeed (exit code 3).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Http { source, .. } if source.is_transient())
    }
}

/// Finds this module's errors in an error chain (see [`crate::diagnostics::Probe`]).
pub fn diagnostic(error: &Cause) -> Option<&dyn Diagnostic> {
    as_diagnostic::<FetchError>(error).or_else(|| as_diagnostic::<RestoreError>(error))
}

impl Diagnostic for FetchError {
    fn exit_code(&self) -> Option<u8> {
        self.is_transient().then_some(EXIT_TRANSIENT)
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::Mismatch { .. } => Some(
                "the repository served other bytes than the lockfile pins: the artifact was republished or tampered with; nothing unverified was written to any cache".to_owned(),
            ),
            Self::Http { source, .. } => source.hint(),
            Self::Io { .. } => None,
        }
    }
}

/// How requests to the repository authenticate.
#[derive(Debug, Clone)]
pub struct Auth {
    /// The origin the credentials belong to (`scheme://host:port`).
    pub origin: url::Origin,
    /// The `Authorization` header value.
    pub header: Secret<String>,
}

impl Auth {
    /// The `Authorization` header `format`'s clients send for `registry`'s origin (see
    /// [`crate::format::Format::auth_scheme`]): `Bearer <token>` or `Basic base64(user:token)`.
    #[must_use]
    pub fn for_format(
        format: crate::format::Format,
        registry: &SafeUrl,
        user: &str,
        token: &Secret<String>,
    ) -> Self {
        Self {
            origin: registry.expose().origin(),
            header: format.auth_scheme().header(user, token),
        }
    }
}

/// Counters for the summary line and the JSON report.
#[derive(Debug, Default)]
pub struct Stats {
    /// Artifacts downloaded.
    pub downloaded: AtomicU64,
    /// Bytes downloaded.
    pub bytes: AtomicU64,
    /// Artifacts found in the store.
    pub from_store: AtomicU64,
}

/// A verified artifact.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Where it is in the store.
    pub blob: Blob,
    /// Whether it came from the store (no request made).
    pub from_store: bool,
    /// Response headers when it was downloaded.
    pub headers: reqwest::header::HeaderMap,
}

/// A verified artifact read once ([`Fetcher::verified_once`]).
#[derive(Debug)]
pub enum Verified {
    /// The store had it.
    Stored(Blob),
    /// Downloaded and verified into a temp file, deleted when this is dropped.
    Downloaded(Staged),
}

impl Verified {
    /// Where its bytes are.
    #[must_use]
    pub fn path(&self) -> &std::path::Path {
        match self {
            Self::Stored(blob) => &blob.path,
            Self::Downloaded(staged) => staged.path(),
        }
    }
}

fn io_error(package: &str, source: std::io::Error) -> FetchError {
    FetchError::Io {
        package: package.to_owned(),
        source,
    }
}

/// A metadata document (packument, simple page, sidecar).
#[derive(Debug, Clone)]
pub struct Document {
    /// Its bytes.
    pub body: bytes::Bytes,
    /// Response headers when it was downloaded.
    pub headers: reqwest::header::HeaderMap,
    /// Where it is in the store, when it was stored by URL.
    pub blob: Option<Blob>,
}

/// The downloader shared by every ecosystem in one restore.
#[derive(Debug, Clone)]
pub struct Fetcher {
    http: HttpClient,
    store: Store,
    auth: Option<Auth>,
    stall: Duration,
    permits: Arc<crate::limiter::Limiter>,
    /// Counters.
    pub stats: Arc<Stats>,
}

impl Fetcher {
    /// A fetcher with at most `jobs` requests in flight (fewer while the server shows
    /// strain: see [`crate::limiter`]).
    #[must_use]
    pub fn new(
        http: HttpClient,
        store: Store,
        auth: Option<Auth>,
        jobs: usize,
        stall: Duration,
    ) -> Self {
        Self {
            http,
            store,
            auth,
            stall,
            permits: Arc::new(crate::limiter::Limiter::new(jobs)),
            stats: Arc::new(Stats::default()),
        }
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A place in the download queue (at most `jobs` requests in flight).
    async fn permit(&self, package: &str) -> Result<crate::limiter::Slot<'_>, FetchError> {
        self.permits.acquire().await.map_err(|_| FetchError::Io {
            package: package.to_owned(),
            source: std::io::Error::other("the download queue was closed"),
        })
    }

    /// The request with `Accept` and, for the registry's own origin only, the credentials.
    fn authorize(
        &self,
        url: &SafeUrl,
        accept: Option<&str>,
        request: reqwest::RequestBuilder,
    ) -> reqwest::RequestBuilder {
        let request = match accept {
            Some(accept) => request.header(reqwest::header::ACCEPT, accept),
            None => request,
        };
        match self
            .auth
            .as_ref()
            .filter(|auth| auth.origin == url.expose().origin())
        {
            Some(auth) => request.header(reqwest::header::AUTHORIZATION, auth.header.expose()),
            None => request,
        }
    }

    async fn download(
        &self,
        package: &str,
        url: &SafeUrl,
        accept: Option<&str>,
    ) -> Result<crate::http::Downloaded, FetchError> {
        let _permit = self.permit(package).await?;
        let downloaded = self
            .http
            .get_bytes(url, self.stall, |request| {
                self.authorize(url, accept, request)
            })
            .await
            .map_err(|source| FetchError::Http {
                package: package.to_owned(),
                source,
            })?;
        self.stats.downloaded.fetch_add(1, Ordering::Relaxed);
        self.stats
            .bytes
            .fetch_add(downloaded.body.len() as u64, Ordering::Relaxed);
        Ok(downloaded)
    }

    /// The artifact pinned by `expected` when the store has it (counted as from the store),
    /// without any request: a restore that finds everything here needs no registry metadata.
    #[must_use]
    pub fn stored(&self, expected: &[Digest]) -> Option<Fetched> {
        let blob = expected
            .first()
            .and_then(|digest| self.store.find(digest))?;
        self.stats.from_store.fetch_add(1, Ordering::Relaxed);
        Some(Fetched {
            blob,
            from_store: true,
            headers: reqwest::header::HeaderMap::new(),
        })
    }

    /// The artifact pinned by `expected` (at least one digest): from the store when there,
    /// else downloaded from `url`, verified against every expected digest, then stored.
    ///
    /// # Errors
    /// [`FetchError::Mismatch`] (nothing is stored), HTTP and I/O failures.
    pub async fn verified(
        &self,
        package: &str,
        url: &SafeUrl,
        expected: &[Digest],
    ) -> Result<Fetched, FetchError> {
        if let Some(fetched) = self.stored(expected) {
            return Ok(fetched);
        }
        let (staged, headers) = self.download_verified(package, url, expected).await?;
        let store = self.store.clone();
        let digests = expected.to_vec();
        let blob = tokio::task::spawn_blocking(move || store.commit(staged, &digests))
            .await
            .map_err(|error| io_error(package, std::io::Error::other(error)))?
            .map_err(|error| io_error(package, error))?;
        Ok(Fetched {
            blob,
            from_store: false,
            headers,
        })
    }

    /// As [`Fetcher::verified`], for bytes read once right away and not kept (a tarball
    /// `restore --install` unpacks into its own store): a download stays in its verified
    /// temp file, deleted when the answer is dropped, instead of being fsynced and moved
    /// into the store; what the store holds already is used from there.
    ///
    /// # Errors
    /// As [`Fetcher::verified`].
    pub async fn verified_once(
        &self,
        package: &str,
        url: &SafeUrl,
        expected: &[Digest],
    ) -> Result<Verified, FetchError> {
        if let Some(fetched) = self.stored(expected) {
            return Ok(Verified::Stored(fetched.blob));
        }
        let (staged, _) = self.download_verified(package, url, expected).await?;
        Ok(Verified::Downloaded(staged))
    }

    /// Download `url` into a temp file of the store, hashed as it arrives, and check it
    /// against every expected digest (a mismatch deletes it).
    async fn download_verified(
        &self,
        package: &str,
        url: &SafeUrl,
        expected: &[Digest],
    ) -> Result<(Staged, reqwest::header::HeaderMap), FetchError> {
        let algorithms: Vec<_> = expected.iter().map(|digest| digest.algorithm).collect();
        // The temp file only once a place in the queue is ours: one open file per
        // download in flight, not one per package of the lockfile.
        let slot = self.permit(package).await?;
        let mut staged = self
            .store
            .stage(&algorithms)
            .map_err(|error| io_error(package, error))?;
        let headers = self
            .http
            .get_into(
                url,
                self.stall,
                |request| self.authorize(url, None, request),
                &mut staged,
                |_, _| slot.answered(),
            )
            .await
            .map_err(|source| FetchError::Http {
                package: package.to_owned(),
                source,
            })?;
        drop(slot);
        self.stats.downloaded.fetch_add(1, Ordering::Relaxed);
        self.stats.bytes.fetch_add(staged.size(), Ordering::Relaxed);
        if let Err(mismatch) = staged.verify(expected) {
            let (expected, actual) = *mismatch;
            // Dropping `staged` deletes the temp file: nothing unverified stays.
            return Err(FetchError::Mismatch {
                package: package.to_owned(),
                url: url.clone(),
                expected,
                actual,
            });
        }
        Ok((staged, headers))
    }

    /// As [`Fetcher::verified`], for a digest that `digest_of` computes from the bytes
    /// otherwise than hashing them all (NuGet's content hash, which leaves a package
    /// signature out); the blob is recorded under `expected` in the store's `namespace`.
    ///
    /// # Errors
    /// [`FetchError::Mismatch`] (nothing is stored), bytes `digest_of` cannot read, HTTP
    /// and I/O failures.
    pub async fn verified_with(
        &self,
        package: &str,
        url: &SafeUrl,
        expected: &Digest,
        namespace: &'static str,
        digest_of: fn(&[u8]) -> Result<Digest, String>,
    ) -> Result<Fetched, FetchError> {
        let stored = self
            .store
            .find(expected)
            .or_else(|| self.store.find_named(namespace, expected));
        if let Some(blob) = stored {
            self.stats.from_store.fetch_add(1, Ordering::Relaxed);
            return Ok(Fetched {
                blob,
                from_store: true,
                headers: reqwest::header::HeaderMap::new(),
            });
        }
        let downloaded = self.download(package, url, None).await?;
        let io_error = |source: std::io::Error| FetchError::Io {
            package: package.to_owned(),
            source,
        };
        let actual = digest_of(&downloaded.body).map_err(|message| {
            io_error(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{url}: {message}"),
            ))
        })?;
        if &actual != expected {
            return Err(FetchError::Mismatch {
                package: package.to_owned(),
                url: url.clone(),
                expected: expected.clone(),
                actual,
            });
        }
        let store = self.store.clone();
        let body = downloaded.body.clone();
        let expected = expected.clone();
        let blob = tokio::task::spawn_blocking(move || {
            let blob = store.insert(&body, &[])?;
            if blob.sha512 != expected {
                store.alias_named(namespace, &expected, &blob)?;
            }
            Ok::<_, std::io::Error>(blob)
        })
        .await
        .map_err(|error| io_error(std::io::Error::other(error)))?
        .map_err(io_error)?;
        Ok(Fetched {
            blob,
            from_store: false,
            headers: downloaded.headers,
        })
    }

    /// The document stored for `url` by [`Fetcher::remember`] (or `document(.., true)`), read
    /// without a request; `None` when there is none or it cannot be read.
    #[must_use]
    pub fn remembered(&self, url: &SafeUrl) -> Option<bytes::Bytes> {
        let blob = self.store.find_url(url.expose().as_str())?;
        fs_err::read(&blob.path).ok().map(bytes::Bytes::from)
    }

    /// Store `body` as the document for `url`, for [`Fetcher::remembered`]: callers do it
    /// once what the document vouches for (a checksum sidecar's artifact, an index page's
    /// files) has verified, so a second restore makes no request and a document that led to
    /// a failure is never kept.
    ///
    /// # Errors
    /// I/O failures.
    pub fn remember(&self, url: &SafeUrl, body: &[u8]) -> Result<(), RestoreError> {
        self.store
            .insert_for_url(url.expose().as_str(), body)
            .map(drop)
            .map_err(RestoreError::io(self.store.root()))
    }

    /// A document with no pinned digest. With `remember`, it is stored by URL and a later
    /// call returns the stored copy without a request (a second restore makes none).
    ///
    /// # Errors
    /// HTTP and I/O failures.
    pub async fn document(
        &self,
        package: &str,
        url: &SafeUrl,
        accept: Option<&str>,
        remember: bool,
    ) -> Result<Document, FetchError> {
        if remember && let Some(blob) = self.store.find_url(url.expose().as_str()) {
            let body = fs_err::read(&blob.path).map_err(|source| FetchError::Io {
                package: package.to_owned(),
                source,
            })?;
            return Ok(Document {
                body: body.into(),
                headers: reqwest::header::HeaderMap::new(),
                blob: Some(blob),
            });
        }
        let downloaded = self.download(package, url, accept).await?;
        let blob = if remember {
            Some(
                self.store
                    .insert_for_url(url.expose().as_str(), &downloaded.body)
                    .map_err(|source| FetchError::Io {
                        package: package.to_owned(),
                        source,
                    })?,
            )
        } else {
            None
        };
        Ok(Document {
            body: downloaded.body,
            headers: downloaded.headers,
            blob,
        })
    }
}

/// A restore of one ecosystem that failed.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// A download failed or did not verify.
    #[error(transparent)]
    Fetch(Box<FetchError>),
    /// A cache file could not be written.
    #[error("failed to write `{path}`")]
    Io {
        /// The path.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The lockfile or the repository's metadata does not allow a restore.
    #[error("{0}")]
    Invalid(String),
    /// An archive unpacks to more than the limits allow (a zip bomb, or a huge package).
    #[error("`{package}` was not unpacked: {reason}")]
    TooLarge {
        /// The package, `id version`.
        package: String,
        /// Which limit, with the figures.
        reason: String,
    },
    /// A worker task panicked or was cancelled (a bug).
    #[error("a restore task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl From<FetchError> for RestoreError {
    fn from(error: FetchError) -> Self {
        Self::Fetch(Box::new(error))
    }
}

impl Diagnostic for RestoreError {
    // `Fetch` is transparent: the `FetchError` is not a link of its own in the chain.
    fn exit_code(&self) -> Option<u8> {
        match self {
            Self::Fetch(fetch) => fetch.exit_code(),
            Self::Io { .. } | Self::Invalid(_) | Self::TooLarge { .. } | Self::Task(_) => None,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::Fetch(fetch) => fetch.hint(),
            Self::TooLarge { .. } => Some(format!(
                "if the package is genuine, raise the limit with `{}` (bytes)",
                crate::env_vars::EnvVars::LADING_RESTORE_MAX_UNPACKED_BYTES
            )),
            Self::Io { .. } | Self::Invalid(_) | Self::Task(_) => None,
        }
    }
}

impl RestoreError {
    /// Wrap an I/O error with its path.
    pub fn io(path: impl Into<std::path::PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}

/// What one ecosystem's restore did, for the summary line and `--json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    /// `npm`, `pypi`, `maven`, `nuget`.
    pub ecosystem: &'static str,
    /// Lockfiles read.
    pub lockfiles: Vec<std::path::PathBuf>,
    /// Where the native tool will find the packages.
    pub destination: std::path::PathBuf,
    /// Distinct packages restored.
    pub packages: usize,
    /// Artifacts downloaded.
    pub downloaded: u64,
    /// Artifacts taken from the store.
    pub from_store: u64,
    /// Bytes downloaded.
    pub bytes: u64,
    /// Entries not restored, with the reason.
    pub skipped: Vec<String>,
    /// What the user should know although the restore went on (an npm package whose
    /// `engines` exclude the running node, as npm warns `EBADENGINE`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Wall time.
    pub seconds: f64,
}

impl Summary {
    /// An empty summary for `ecosystem` into `destination`.
    #[must_use]
    pub fn new(ecosystem: &'static str, destination: std::path::PathBuf) -> Self {
        Self {
            ecosystem,
            lockfiles: Vec::new(),
            destination,
            packages: 0,
            downloaded: 0,
            from_store: 0,
            bytes: 0,
            skipped: Vec::new(),
            warnings: Vec::new(),
            seconds: 0.0,
        }
    }

    /// Copy the fetcher's counters in.
    pub fn count(&mut self, stats: &Stats) {
        self.downloaded = stats.downloaded.load(Ordering::Relaxed);
        self.from_store = stats.from_store.load(Ordering::Relaxed);
        self.bytes = stats.bytes.load(Ordering::Relaxed);
    }
}

/// Wait for every task in `tasks` and return what they made, or the first error.
///
/// A failure does not cancel the other downloads: each one that verifies is already in the
/// content-addressed store, so the rerun that follows a fix (or a transient outage) fetches
/// only what failed. The errors after the first are logged, so one run names every package
/// that failed, not one a run.
///
/// # Errors
/// The first task's error, in completion order; a panicked task as `E::from(JoinError)`.
pub async fn join_all<T, E>(mut tasks: tokio::task::JoinSet<Result<T, E>>) -> Result<Vec<T>, E>
where
    T: 'static,
    E: From<tokio::task::JoinError> + std::fmt::Display + 'static,
{
    let mut done = Vec::with_capacity(tasks.len());
    let mut first: Option<E> = None;
    while let Some(joined) = tasks.join_next().await {
        match joined.map_err(E::from).and_then(|result| result) {
            Ok(value) => done.push(value),
            Err(error) if first.is_none() => first = Some(error),
            Err(error) => tracing::warn!("also failed: {error}"),
        }
    }
    match first {
        Some(error) => Err(error),
        None => Ok(done),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn one_failure_does_not_cancel_the_other_downloads() {
        let finished = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(async { Err::<(), _>(anyhow::anyhow!("digest mismatch")) });
        for _ in 0..5 {
            let finished = finished.clone();
            tasks.spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                finished.fetch_add(1, Ordering::SeqCst);
                Ok(())
            });
        }
        let error = super::join_all(tasks).await.unwrap_err();
        assert_eq!(error.to_string(), "digest mismatch");
        assert_eq!(finished.load(Ordering::SeqCst), 5);
    }
}
