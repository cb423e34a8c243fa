//! Storage for `lading serve`: the index (SQLite in the data directory, or PostgreSQL with
//! `--index`, behind [`super::index`]) and content-addressed blobs on disk.
//!
//! Layout of the data directory:
//!
//! ```text
//! DATA/index-v1.sqlite3       domains, repositories, versions, assets, tokens (WAL mode)
//! DATA/blobs-v1/sha256/ab/…   one file per distinct content, named by its sha256
//! DATA/tmp/                   uploads in flight; renamed into blobs-v1/ once complete
//! DATA/credentials            the admin principal's keys (0600)
//! ```
//!
//! Crash safety: a blob is written to `tmp/`, fsynced and renamed before the index row that
//! names it is committed, so a crash mid-upload leaves at most an orphaned temp file, never a
//! visible half version. Orphans are swept: temp files whose writer is gone (their lock is
//! free, [`super::ingest::sweep_tmp`]) at start and after every refused upload, and a blob
//! that a refused upload placed and nothing references, right away ([`Store::discard`]).
//! A blob a crash left between its rename and its row's commit is swept at start, once it is
//! older than [`ORPHAN_BLOB_AGE`] and no index row names it ([`Store::sweep_orphan_blobs`]:
//! blobs are named by asset rows and by version metadata, NuGet's `.nuspec` and PyPI's core
//! metadata, so every sha256 in either counts as a reference). Writers take the index's write
//! lock first ([`write_transaction`]: SQLite's `BEGIN IMMEDIATE`, PostgreSQL's advisory lock),
//! so concurrent publishers (threads, processes sharing the directory, nodes sharing the
//! database) serialise on the index instead of losing updates.
//! Reads never serve bytes that no longer match their name, as far as this process can tell:
//! a blob is hashed on its first read (unless this process wrote it), and again whenever
//! its file changed since
//! ([`Store::open_blob`] states the exact guarantee).
//!
//! With an object store (`lading serve --blobs s3://…`, [`super::object_store`]) a blob's
//! home is the bucket and `blobs-v1/` is this node's cache of it: a new blob is uploaded,
//! conditionally and with its SHA-256 for the store to check, before the index row naming it
//! is committed; a blob missing from the local directory is fetched, verified against its
//! name and kept. A refused upload leaves its object in the bucket for the collector
//! ([`Store::sweep_remote_orphans`]), which deletes only unreferenced objects older than
//! [`ORPHAN_BLOB_AGE`], far longer than any upload takes to commit.

use std::collections::HashMap;
use std::io::{Read as _, Seek as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::index::{self, Connection, OptionalExtension as _, params};

/// How old an unreferenced blob must be before the start-up sweep removes it: far longer than
/// the moment between a blob's rename and its index row's commit.
pub const ORPHAN_BLOB_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// How long ago `path` was last modified (`None` when that cannot be read).
fn file_age(path: &Path) -> Option<std::time::Duration> {
    fs_err::metadata(path)
        .ok()
        .and_then(|metadata| metadata.modified().ok())
        .and_then(|modified| modified.elapsed().ok())
}

/// Every run of exactly 64 lowercase hex digits in `text` (a sha256 as the store names blobs).
fn sha256_runs(text: &str) -> impl Iterator<Item = &str> {
    text.split(|character: char| !matches!(character, '0'..='9' | 'a'..='f'))
        .filter(|run| run.len() == 64)
}
use sha2::Digest as _;

use super::blob_cache::BlobCache;
/// The digests of an asset: the same type `lading pack` computes, so a packed file and its
/// stored asset compare directly.
pub use crate::archive::Digests;

/// Index file name; the version suffix changes when the schema does.
pub const INDEX_FILE: &str = "index-v1.sqlite3";
/// Blob directory name.
pub const BLOBS_DIR: &str = "blobs-v1";

/// Blobs up to this size are served from memory (and kept in the blob cache); larger ones
/// are streamed from their file.
pub const SMALL_BLOB: u64 = 1024 * 1024;
/// Budget of the in-memory cache of verified small blobs.
pub const BLOB_CACHE_BYTES: usize = 64 * 1024 * 1024;
/// Verified file stamps remembered at most (about 100 bytes each); past this the record
/// starts over and blobs are hashed again on their next read.
const VERIFIED_CAPACITY: usize = 100_000;
/// Chunk size when streaming a large blob.
const STREAM_CHUNK: usize = 256 * 1024;

/// A blob ready to serve, verified as [`Store::open_blob`] describes.
#[derive(Debug)]
pub enum Blob {
    /// The whole content.
    Bytes(bytes::Bytes),
    /// An open file positioned at its start, to stream.
    File {
        /// The file.
        file: std::fs::File,
        /// Its length.
        length: u64,
    },
}

impl Blob {
    /// Length in bytes.
    #[must_use]
    pub fn length(&self) -> u64 {
        match self {
            Self::Bytes(bytes) => bytes.len() as u64,
            Self::File { length, .. } => *length,
        }
    }
}

/// A 200 response carrying the blob, with its `Content-Length` ([`Blob::respond`] also
/// answers `Range` requests, and says so).
impl axum::response::IntoResponse for Blob {
    fn into_response(self) -> axum::response::Response {
        let length = self.length();
        self.body_response(0, length)
    }
}

/// What a `Range` request header asks of a body of `length` bytes (RFC 9110 14.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// No range (absent, not `bytes`, or several ranges): the whole body, 200.
    Whole,
    /// Bytes `start..=end`, 206.
    Part {
        /// First byte.
        start: u64,
        /// Last byte (inclusive).
        end: u64,
    },
    /// Nothing of the body satisfies it: 416.
    Unsatisfiable,
}

impl ByteRange {
    /// Read a `Range` header value for a body of `length` bytes: `bytes=a-b`, `bytes=a-` and
    /// `bytes=-n` (the last `n`). Several ranges are answered with the whole body, which
    /// RFC 9110 allows; a malformed header is ignored as the RFC asks.
    #[must_use]
    pub fn parse(header: Option<&str>, length: u64) -> Self {
        let Some(spec) = header.and_then(|value| value.trim().strip_prefix("bytes=")) else {
            return Self::Whole;
        };
        if spec.contains(',') {
            return Self::Whole;
        }
        let Some((first, last)) = spec.trim().split_once('-') else {
            return Self::Whole;
        };
        let number = |text: &str| -> Option<Option<u64>> {
            let text = text.trim();
            if text.is_empty() {
                Some(None)
            } else {
                text.parse::<u64>().ok().map(Some)
            }
        };
        let (Some(first), Some(last)) = (number(first), number(last)) else {
            return Self::Whole;
        };
        match (first, last) {
            (Some(start), last) => {
                if last.is_some_and(|last| last < start) {
                    return Self::Whole;
                }
                if start >= length {
                    return Self::Unsatisfiable;
                }
                let end = last.map_or(length - 1, |last| last.min(length - 1));
                Self::Part { start, end }
            }
            (None, Some(suffix)) => {
                if suffix == 0 || length == 0 {
                    return Self::Unsatisfiable;
                }
                Self::Part {
                    start: length.saturating_sub(suffix),
                    end: length - 1,
                }
            }
            (None, None) => Self::Whole,
        }
    }
}

impl Blob {
    /// The response to a GET or HEAD of this blob with `request` headers: 200 with the whole
    /// body, 206 with `Content-Range` for a satisfiable single `Range`, 416 with
    /// `Content-Range: bytes */LENGTH` for an unsatisfiable one. Every answer says
    /// `Accept-Ranges: bytes`, which is what pip and uv look for before reading a wheel's
    /// metadata lazily. A request with `If-Range` gets the whole body: blobs carry no
    /// validator to compare it with.
    #[must_use]
    pub fn respond(self, request: &axum::http::HeaderMap) -> axum::response::Response {
        use axum::http::{HeaderValue, StatusCode, header};
        use axum::response::IntoResponse as _;
        let length = self.length();
        let range = if request.contains_key(header::IF_RANGE) {
            ByteRange::Whole
        } else {
            ByteRange::parse(
                request
                    .get(header::RANGE)
                    .and_then(|value| value.to_str().ok()),
                length,
            )
        };
        let mut response = match range {
            ByteRange::Whole => self.body_response(0, length),
            ByteRange::Part { start, end } => {
                let mut response = self.body_response(start, end - start + 1);
                *response.status_mut() = StatusCode::PARTIAL_CONTENT;
                if let Ok(value) = HeaderValue::from_str(&format!("bytes {start}-{end}/{length}")) {
                    response.headers_mut().insert(header::CONTENT_RANGE, value);
                }
                response
            }
            ByteRange::Unsatisfiable => {
                let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                if let Ok(value) = HeaderValue::from_str(&format!("bytes */{length}")) {
                    response.headers_mut().insert(header::CONTENT_RANGE, value);
                }
                response
            }
        };
        response
            .headers_mut()
            .insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        response
    }

    /// A 200 response with `count` bytes from `start`.
    fn body_response(self, start: u64, count: u64) -> axum::response::Response {
        use axum::response::IntoResponse as _;
        use tokio::io::AsyncReadExt as _;
        let body = match self {
            Self::Bytes(bytes) => {
                let from = usize::try_from(start)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                let to = usize::try_from(start + count)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                axum::body::Body::from(bytes.slice(from..to))
            }
            Self::File { mut file, .. } => {
                if start > 0
                    && let Err(error) = file.seek(std::io::SeekFrom::Start(start))
                {
                    tracing::warn!(%error, "failed to seek a blob");
                    return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
                axum::body::Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
                    tokio::fs::File::from_std(file).take(count),
                    STREAM_CHUNK,
                ))
            }
        };
        let mut response = body.into_response();
        response.headers_mut().insert(
            axum::http::header::CONTENT_LENGTH,
            axum::http::HeaderValue::from(count),
        );
        response
    }
}

/// What identifies one state of a file cheaply: if any of it changes, the content may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    length: u64,
    modified: Option<std::time::SystemTime>,
    /// Status change time (seconds, nanoseconds): moves on every write, truncation, rename
    /// or `touch`, and cannot be set back by an ordinary process.
    #[cfg(unix)]
    changed: (i64, i64),
    #[cfg(unix)]
    inode: (u64, u64),
}

impl FileStamp {
    fn of(metadata: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt as _;
        Self {
            length: metadata.len(),
            modified: metadata.modified().ok(),
            #[cfg(unix)]
            changed: (metadata.ctime(), metadata.ctime_nsec()),
            #[cfg(unix)]
            inode: (metadata.dev(), metadata.ino()),
        }
    }
}

/// Storage failures. All of them are server-side faults (HTTP 500).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The index failed.
    #[error(transparent)]
    Index(#[from] index::Error),
    /// Disk I/O failed.
    #[error("storage I/O error")]
    Io(#[from] std::io::Error),
    /// The object store holding the blobs failed: retryable, answered 503.
    #[error(transparent)]
    ObjectStore(#[from] super::object_store::ObjectStoreError),
    /// A blob on disk no longer matches its digest.
    #[error("blob `{sha256}` is corrupt on disk (its content hashes to `{actual}`)")]
    Corrupt {
        /// Expected digest.
        sha256: String,
        /// Digest of what is on disk.
        actual: String,
    },
    /// The blocking task panicked or was cancelled.
    #[error("storage task failed: {0}")]
    Task(String),
}

/// A new version revision id (CodeArtifact's `revision`, changed by every write to a version).
#[must_use]
pub fn new_revision() -> String {
    use base64::Engine as _;
    let bytes: [u8; 12] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A domain row.
#[derive(Debug, Clone)]
pub struct Domain {
    /// Name.
    pub name: String,
    /// Owning account.
    pub owner: String,
    /// Creation time, epoch seconds.
    pub created: f64,
    /// KMS key ARN the caller gave (stored, not used).
    pub encryption_key: Option<String>,
}

/// A repository row.
#[derive(Debug, Clone)]
pub struct Repository {
    /// Domain name.
    pub domain: String,
    /// Repository name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Creation time, epoch seconds.
    pub created: f64,
}

/// Identifies a package within a repository. `namespace` is empty when the format has none
/// (unscoped npm).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PackageKey {
    /// Domain.
    pub domain: String,
    /// Repository.
    pub repository: String,
    /// `npm`, `generic`, ...
    pub format: String,
    /// Namespace (npm scope without `@`, Maven groupId, generic namespace) or empty.
    pub namespace: String,
    /// Package name.
    pub package: String,
}

/// A package version row.
#[derive(Debug, Clone)]
pub struct VersionRow {
    /// Row id.
    pub id: i64,
    /// Version string.
    pub version: String,
    /// Revision: changes whenever assets or metadata change.
    pub revision: String,
    /// `Published`, `Unfinished`, `Unlisted`, `Archived`, ...
    pub status: String,
    /// Publish time, epoch seconds.
    pub published: f64,
    /// Format-specific metadata (npm: the version manifest).
    pub metadata: Option<String>,
}

/// An asset row.
#[derive(Debug, Clone)]
pub struct AssetRow {
    /// Asset (file) name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Digests of the content.
    pub digests: Digests,
}

/// A package summary for `ListPackages`.
#[derive(Debug, Clone)]
pub struct PackageSummary {
    /// Format.
    pub format: String,
    /// Namespace or empty.
    pub namespace: String,
    /// Name.
    pub package: String,
}

/// The storage handle: cheap to clone, safe to share between tasks.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<StoreInner>,
}

#[derive(Debug)]
struct StoreInner {
    /// The index's connections (SQLite or PostgreSQL); writers serialise on the index's
    /// write lock ([`write_transaction`]), not on this pool.
    index: index::Pool,
    blobs: PathBuf,
    tmp: PathBuf,
    /// Where blobs live when it is not the local directory (which then caches them).
    remote: Option<super::object_store::ObjectStore>,
    /// Verified bytes of recently served small blobs.
    blob_cache: BlobCache,
    /// sha256 → the stamp of its file when this process last hashed it and found it right.
    verified: Mutex<HashMap<String, FileStamp>>,
    /// sha256 → how many requests of this process placed (or found) the blob and have not
    /// yet committed or given up: [`Store::discard`] never removes such a blob.
    pending: Mutex<HashMap<String, usize>>,
}

/// A blob placed in the store for a request that has not committed its index row yet. Keep
/// it until the row is committed; hand it to [`Store::discard`] when the request is refused.
#[derive(Debug)]
#[must_use = "keep it until the index row naming the blob is committed"]
pub struct Placed {
    /// The blob's digests.
    pub digests: Digests,
    /// Whether this request created the blob's file (it was not there before).
    created: bool,
    _pending: Pending,
}

/// One entry in [`StoreInner::pending`], released on drop.
#[derive(Debug)]
struct Pending {
    inner: Arc<StoreInner>,
    sha256: String,
}

impl Pending {
    fn new(inner: &Arc<StoreInner>, sha256: &str) -> Self {
        *lock(&inner.pending).entry(sha256.to_owned()).or_insert(0) += 1;
        Self {
            inner: Arc::clone(inner),
            sha256: sha256.to_owned(),
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let mut pending = lock(&self.inner.pending);
        if let Some(count) = pending.get_mut(&self.sha256) {
            *count -= 1;
            if *count == 0 {
                pending.remove(&self.sha256);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Store {
    /// Open (creating if needed) the store in `data_dir`.
    ///
    /// # Errors
    /// When the directory or index cannot be created or opened.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(data_dir, None, None)
    }

    /// Open the store in `data_dir` with its index at `index` (default: the SQLite file
    /// [`INDEX_FILE`] in `data_dir`) and its blobs in `remote` when given (the local blob
    /// directory then caches them). The index's migrations are applied first.
    ///
    /// # Errors
    /// When the directory or index cannot be created or opened.
    pub fn open_with(
        data_dir: &Path,
        index: Option<index::Location>,
        remote: Option<super::object_store::ObjectStore>,
    ) -> Result<Self, StoreError> {
        fs_err::create_dir_all(data_dir)?;
        let blobs = data_dir.join(BLOBS_DIR).join("sha256");
        let tmp = data_dir.join("tmp");
        fs_err::create_dir_all(&blobs)?;
        fs_err::create_dir_all(&tmp)?;
        let _ = super::ingest::sweep_tmp(&tmp);
        let index = index::Pool::open(
            &index.unwrap_or_else(|| index::Location::Sqlite(data_dir.join(INDEX_FILE))),
        )?;
        let store = Self {
            inner: Arc::new(StoreInner {
                index,
                blobs,
                tmp,
                remote,
                blob_cache: BlobCache::new(BLOB_CACHE_BYTES),
                verified: Mutex::new(HashMap::new()),
                pending: Mutex::new(HashMap::new()),
            }),
        };
        // In the background: walking every blob must not delay the first request.
        let sweeper = store.clone();
        std::thread::spawn(move || match sweeper.sweep_orphan_blobs(ORPHAN_BLOB_AGE) {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "removed orphan blobs left by a crash"),
            Err(error) => tracing::warn!(error = %error, "orphan blob sweep failed"),
        });
        Ok(store)
    }

    /// Remove blobs that no index row names and that are older than `min_age`: what a crash
    /// between a blob's rename and its row's commit leaves behind. Returns how many went.
    ///
    /// A reference is an asset row's sha256 or any 64-hex-digit run in a version's metadata
    /// (NuGet's `.nuspec` blob, PyPI's core metadata), so nothing metadata names is removed.
    /// Each candidate is checked again, with its age, under the index's write lock before it
    /// is removed, so no commit can slip in between; blobs this process has placed and not
    /// committed are skipped, and [`Self::put_spool`] refreshes the age of a blob it reuses,
    /// so a blob about to be named by another node's commit is not old.
    ///
    /// # Errors
    /// Index or disk failures.
    pub fn sweep_orphan_blobs(&self, min_age: std::time::Duration) -> Result<usize, StoreError> {
        let old_enough = |path: &Path| file_age(path).is_some_and(|age| age >= min_age);
        let mut referenced = std::collections::HashSet::new();
        self.with_sync(|connection| -> Result<(), StoreError> {
            referenced.extend(
                connection
                    .query_map("SELECT sha256 FROM assets", (), |row| row.get::<String>(0))?,
            );
            for metadata in connection.query_map(
                "SELECT metadata FROM versions WHERE metadata IS NOT NULL",
                (),
                |row| row.get::<String>(0),
            )? {
                referenced.extend(sha256_runs(&metadata).map(str::to_owned));
            }
            Ok(())
        })?;
        let mut candidates = Vec::new();
        for shard in fs_err::read_dir(&self.inner.blobs)? {
            let shard = shard?.path();
            if !shard.is_dir() {
                continue;
            }
            for blob in fs_err::read_dir(&shard)? {
                let path = blob?.path();
                let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
                    continue;
                };
                if sha256_runs(name).next() == Some(name)
                    && !referenced.contains(name)
                    && old_enough(&path)
                {
                    candidates.push((name.to_owned(), path));
                }
            }
        }
        let mut removed = 0;
        for (sha256, path) in candidates {
            let gone = self.with_sync(|connection| -> Result<bool, StoreError> {
                let transaction = write_transaction(connection)?;
                let named: bool = transaction.query_row(
                    "SELECT EXISTS (SELECT 1 FROM assets WHERE sha256 = ?1)
                         OR EXISTS (SELECT 1 FROM versions WHERE instr(metadata, ?1) > 0)",
                    params![sha256],
                    |row| row.get(0),
                )?;
                let placing = lock(&self.inner.pending).contains_key(&sha256);
                let gone = !named && !placing && old_enough(&path) && {
                    match fs_err::remove_file(&path) {
                        Ok(()) => true,
                        Err(error) if error.kind() == std::io::ErrorKind::NotFound => false,
                        Err(error) => return Err(error.into()),
                    }
                };
                transaction.commit()?;
                Ok(gone)
            })?;
            if gone {
                tracing::debug!(%sha256, "removed an orphan blob");
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Run `work` against one index connection on this thread (for work outside the async
    /// runtime, such as the start-up sweep).
    fn with_sync<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        work(&mut self.inner.index.get())
    }

    /// Run `work` against the index on the blocking pool.
    ///
    /// # Errors
    /// Whatever `work` returns, or [`StoreError::Task`].
    pub async fn with<R, E, F>(&self, work: F) -> Result<R, E>
    where
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, E> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&mut inner.index.get()))
            .await
            .map_err(|error| E::from(StoreError::Task(error.to_string())))?
    }

    /// The index generation: a number that changes whenever any connection (of this process
    /// or another one sharing the index) commits to the index. `None` when it cannot be read
    /// right now; callers then skip their caches. Cheap enough to call on every request
    /// ([`index::Pool::generation`]: it never waits on the database).
    #[must_use]
    pub fn generation(&self) -> Option<u64> {
        self.inner.index.generation()
    }

    /// Where the index is, for messages.
    #[must_use]
    pub fn index_location(&self) -> String {
        self.inner.index.location().display()
    }

    fn blob_path(&self, sha256: &str) -> PathBuf {
        self.inner.blobs.join(&sha256[..2]).join(sha256)
    }

    /// Where uploads in flight are written (`DATA/tmp/`).
    #[must_use]
    pub fn tmp_dir(&self) -> &Path {
        &self.inner.tmp
    }

    /// Store `bytes` as a blob (durably, before any index row names it).
    ///
    /// # Errors
    /// Disk I/O failures.
    pub async fn put_blob(&self, bytes: bytes::Bytes) -> Result<Placed, StoreError> {
        let tmp = self.inner.tmp.clone();
        let spool = tokio::task::spawn_blocking(move || {
            let mut writer = super::ingest::SpoolWriter::create(&tmp, u64::MAX)?;
            writer.write(&bytes).map_err(|error| match error {
                super::ingest::BodyError::Io(error) => error,
                other => std::io::Error::other(other.to_string()),
            })?;
            Ok::<_, std::io::Error>(writer.finish())
        })
        .await
        .map_err(|error| StoreError::Task(error.to_string()))??;
        self.put_spool(spool).await
    }

    /// Move an upload's temp file into the blob store under its SHA-256 (fsynced, then
    /// renamed; no copy); when the blob is already there the temp file is just deleted.
    ///
    /// # Errors
    /// Disk I/O failures.
    pub async fn put_spool(&self, spool: super::ingest::Spool) -> Result<Placed, StoreError> {
        let digests = spool.digests().clone();
        let pending = Pending::new(&self.inner, &digests.sha256);
        let path = self.blob_path(&digests.sha256);
        let size = digests.size;
        let store = self.clone();
        let sha256 = digests.sha256.clone();
        let created = tokio::task::spawn_blocking(move || -> Result<bool, StoreError> {
            if path.exists() {
                // Reused: make it young, so a start-up sweep on another node sharing this
                // directory never takes it for an orphan before our row names it. Only when
                // it is getting old, since a new stamp makes readers hash it again.
                let aging = file_age(&path).is_some_and(|age| age >= ORPHAN_BLOB_AGE / 2);
                if aging && let Ok(file) = fs_err::File::options().write(true).open(&path) {
                    let _ = file.file().set_modified(std::time::SystemTime::now());
                }
                return Ok(false);
            }
            if let Some(parent) = path.parent() {
                fs_err::create_dir_all(parent)?;
            }
            let temp = spool.into_file();
            temp.as_file().sync_all()?;
            let file = temp.persist(&path).map_err(|error| error.error)?;
            // This process hashed these bytes as it wrote them: the blob counts as verified
            // for its file as it is now, so the first read after an upload (a publish, a
            // pull-through) is not hashed again; any later change to the file is.
            store.settle(&sha256, sha256.clone(), FileStamp::of(&file.metadata()?))?;
            if let Some(parent) = path.parent()
                && let Ok(directory) = fs_err::File::open(parent)
            {
                let _ = directory.file().sync_all();
            }
            super::metrics::blob_stored(size);
            Ok(true)
        })
        .await
        .map_err(|error| StoreError::Task(error.to_string()))??;
        if let Some(remote) = &self.inner.remote {
            remote
                .put(&digests.sha256, &self.blob_path(&digests.sha256))
                .await?;
        }
        Ok(Placed {
            digests,
            created,
            _pending: pending,
        })
    }

    /// A request that placed a blob was refused: remove the blob if this request created it
    /// and nothing needs it: no asset row names it (checked under the index's write lock, so
    /// no commit can slip in) and no other request of this process has placed it and not
    /// committed yet. Then sweep `tmp/` for abandoned temp files.
    ///
    /// # Errors
    /// Index or disk failures.
    pub async fn discard(&self, placed: Placed) -> Result<(), StoreError> {
        let path = self.blob_path(&placed.digests.sha256);
        let inner = Arc::clone(&self.inner);
        self.with(move |connection| -> Result<(), StoreError> {
            if placed.created {
                let transaction = write_transaction(connection)?;
                let referenced: bool = transaction.query_row(
                    "SELECT EXISTS (SELECT 1 FROM assets WHERE sha256 = ?1)",
                    params![placed.digests.sha256],
                    |row| row.get(0),
                )?;
                let pending = lock(&inner.pending);
                let others = pending
                    .get(&placed.digests.sha256)
                    .is_some_and(|count| *count > 1);
                if !referenced && !others {
                    match fs_err::remove_file(&path) {
                        Ok(()) => {
                            tracing::debug!(sha256 = %placed.digests.sha256, "removed the blob of a refused upload");
                        }
                        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                        Err(error) => return Err(error.into()),
                    }
                }
                drop(pending);
                transaction.commit()?;
            }
            drop(placed);
            Ok(())
        })
        .await?;
        let _ = super::ingest::sweep_tmp(&self.inner.tmp);
        Ok(())
    }

    /// A blob, ready to serve: its bytes when small, else the open file to stream.
    ///
    /// What is served is never a wrong byte as far as this process can tell; the exact
    /// guarantee:
    ///
    /// - The first time this process serves a blob, it reads the whole file and checks that
    ///   it hashes to its name ([`StoreError::Corrupt`] otherwise). It then remembers the
    ///   file's stamp: length, modification and status-change times, and inode. A blob this
    ///   process wrote itself ([`Self::put_spool`]: hashed as it was written, fsynced,
    ///   renamed into place) is remembered with its stamp at once, so it is not hashed again
    ///   on its first read while its file is unchanged.
    /// - Blobs of at most [`SMALL_BLOB`] bytes are then served from a bounded in-memory cache
    ///   of those verified bytes ([`BLOB_CACHE_BYTES`], least recently used first out), so
    ///   later damage to the file cannot reach a client through this process. A small blob
    ///   that was evicted is read again, and hashed again unless its stamp is unchanged.
    /// - Larger blobs are streamed from the file. Each read opens the file and compares its
    ///   stamp with the verified one; any difference (the file was rewritten, truncated,
    ///   replaced, touched) means hashing it again before a byte is sent.
    ///
    /// Not detected: bytes that change on the medium (or through a raw block device) without
    /// the file's times changing, after this process verified them, and a change made while
    /// a large blob is being streamed. A restart re-verifies every blob on first read.
    ///
    /// # Errors
    /// I/O errors and [`StoreError::Corrupt`].
    pub async fn open_blob(&self, sha256: String) -> Result<Blob, StoreError> {
        if let Some(bytes) = self.inner.blob_cache.get(&sha256) {
            return Ok(Blob::Bytes(bytes));
        }
        if let Some(remote) = &self.inner.remote {
            self.cache_from(remote, &sha256).await?;
        }
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.open_blob_sync(&sha256))
            .await
            .map_err(|error| StoreError::Task(error.to_string()))?
    }

    /// A blob's whole content (see [`Self::open_blob`] for what is verified when).
    ///
    /// # Errors
    /// I/O errors and [`StoreError::Corrupt`].
    pub async fn read_blob(&self, sha256: String) -> Result<bytes::Bytes, StoreError> {
        match self.open_blob(sha256).await? {
            Blob::Bytes(bytes) => Ok(bytes),
            Blob::File { mut file, length } => tokio::task::spawn_blocking(move || {
                let mut bytes = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
                file.read_to_end(&mut bytes)?;
                Ok(bytes::Bytes::from(bytes))
            })
            .await
            .map_err(|error| StoreError::Task(error.to_string()))?,
        }
    }

    /// Make sure the local directory has `sha256`, fetching (and verifying) it from the
    /// object store when it does not; a blob the store lacks too is left missing, so the
    /// read fails as it would without an object store.
    async fn cache_from(
        &self,
        remote: &super::object_store::ObjectStore,
        sha256: &str,
    ) -> Result<(), StoreError> {
        if sha256.len() != 64 {
            return Ok(());
        }
        let path = self.blob_path(sha256);
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(());
        }
        let Some(temp) = remote.fetch(sha256, &self.inner.tmp).await? else {
            return Ok(());
        };
        tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            if let Some(parent) = path.parent() {
                fs_err::create_dir_all(parent)?;
            }
            temp.persist(&path).map_err(|error| error.error)?;
            Ok(())
        })
        .await
        .map_err(|error| StoreError::Task(error.to_string()))??;
        tracing::debug!(%sha256, store = remote.display(), "cached a blob from the object store");
        Ok(())
    }

    /// Index connections busy right now, and the pool's size (for `/metrics`).
    #[must_use]
    pub fn index_pool_use(&self) -> (usize, usize) {
        self.inner.index.usage()
    }

    /// Whether the blob storage answers: the object store's bucket when there is one.
    ///
    /// # Errors
    /// The object store does not answer.
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.with(|connection| -> Result<(), StoreError> {
            connection.query_row("SELECT 1", (), |_| Ok(()))?;
            Ok(())
        })
        .await?;
        if let Some(remote) = &self.inner.remote {
            remote.ready().await?;
        }
        Ok(())
    }

    /// The object store's collector: delete objects that no index row names and that were
    /// written more than `min_age` ago (a crash or refused upload between the object's
    /// write and its row's commit). Each candidate is checked again under the index's
    /// write lock, and skipped while a request of this process has placed it. Returns how
    /// many went; 0 without an object store.
    ///
    /// # Errors
    /// Index or object-store failures.
    pub async fn sweep_remote_orphans(
        &self,
        min_age: std::time::Duration,
    ) -> Result<usize, StoreError> {
        let Some(remote) = self.inner.remote.clone() else {
            return Ok(0);
        };
        let now = std::time::SystemTime::now();
        let candidates: Vec<String> = remote
            .list()
            .await?
            .into_iter()
            .filter(|(_, written)| now.duration_since(*written).is_ok_and(|age| age >= min_age))
            .map(|(sha256, _)| sha256)
            .collect();
        let mut removed = 0;
        for sha256 in candidates {
            let inner = Arc::clone(&self.inner);
            let name = sha256.clone();
            // Hold the write lock across the check and the delete, so no commit can name the
            // object in between.
            let (sender, receiver) = tokio::sync::oneshot::channel::<bool>();
            let (done_sender, done_receiver) = tokio::sync::oneshot::channel::<()>();
            let checked = self.with(move |connection| -> Result<(), StoreError> {
                let transaction = write_transaction(connection)?;
                let named: bool = transaction.query_row(
                    "SELECT EXISTS (SELECT 1 FROM assets WHERE sha256 = ?1)
                         OR EXISTS (SELECT 1 FROM versions WHERE instr(metadata, ?1) > 0)",
                    params![name],
                    |row| row.get(0),
                )?;
                let placing = lock(&inner.pending).contains_key(&name);
                let _ = sender.send(!named && !placing);
                let _ = done_receiver.blocking_recv();
                transaction.commit()?;
                Ok(())
            });
            let delete = async {
                let orphan = receiver.await.unwrap_or(false);
                let result = if orphan {
                    remote.delete(&sha256).await.map(|()| true)
                } else {
                    Ok(false)
                };
                let _ = done_sender.send(());
                result
            };
            let (checked, deleted) = tokio::join!(checked, delete);
            checked?;
            if deleted? {
                tracing::debug!(%sha256, "removed an orphan object from the object store");
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Check the whole store (`lading serve verify`): every asset row's blob exists and
    /// hashes to its name with the row's size, in the object store when there is one (each
    /// object read and hashed) and else on local disk; and list the blobs nothing names
    /// (what the collectors remove once they are old enough). Reads only.
    ///
    /// # Errors
    /// The index cannot be read, or the object store cannot be listed.
    pub async fn verify(&self) -> Result<VerifyReport, StoreError> {
        let (assets, referenced) = self
            .with(|connection| -> Result<_, StoreError> {
                let mut assets: std::collections::BTreeMap<String, (u64, Vec<String>)> =
                    std::collections::BTreeMap::new();
                let rows = connection.query_map(
                    "SELECT a.sha256, a.size, v.domain, v.repository, v.format, v.namespace,
                            v.package, v.version, a.name
                     FROM assets a JOIN versions v ON v.id = a.version_id",
                    (),
                    |row| {
                        let namespace: String = row.get(5)?;
                        let package: String = row.get(6)?;
                        let name = if namespace.is_empty() {
                            package
                        } else {
                            format!("{namespace}/{package}")
                        };
                        Ok((
                            row.get::<String>(0)?,
                            row.get::<i64>(1)?,
                            format!(
                                "{}/{} {} {name}@{} {}",
                                row.get::<String>(2)?,
                                row.get::<String>(3)?,
                                row.get::<String>(4)?,
                                row.get::<String>(7)?,
                                row.get::<String>(8)?,
                            ),
                        ))
                    },
                )?;
                for (sha256, size, named) in rows {
                    let entry = assets
                        .entry(sha256)
                        .or_insert((u64::try_from(size).unwrap_or(0), Vec::new()));
                    entry.1.push(named);
                }
                let mut referenced: std::collections::HashSet<String> =
                    assets.keys().cloned().collect();
                for metadata in connection.query_map(
                    "SELECT metadata FROM versions WHERE metadata IS NOT NULL",
                    (),
                    |row| row.get::<String>(0),
                )? {
                    referenced.extend(sha256_runs(&metadata).map(str::to_owned));
                }
                Ok((assets, referenced))
            })
            .await?;
        let mut report = VerifyReport {
            assets: assets.values().map(|(_, names)| names.len()).sum(),
            blobs: assets.len(),
            location: self.inner.remote.as_ref().map_or_else(
                || self.inner.blobs.display().to_string(),
                |remote| remote.display().to_owned(),
            ),
            ..VerifyReport::default()
        };
        for (sha256, (size, names)) in &assets {
            let problem = if let Some(remote) = &self.inner.remote {
                match remote.fetch(sha256, &self.inner.tmp).await {
                    Ok(Some(temp)) => {
                        let length = temp.as_file().metadata().map(|metadata| metadata.len())?;
                        (length != *size).then(|| format!("{length} bytes, the index says {size}"))
                    }
                    Ok(None) => Some("missing".to_owned()),
                    Err(super::object_store::ObjectStoreError::Corrupt { actual, .. }) => {
                        Some(format!("corrupt: its content hashes to `{actual}`"))
                    }
                    Err(error) => return Err(error.into()),
                }
            } else {
                let path = self.blob_path(sha256);
                let sha = sha256.clone();
                let expected = *size;
                tokio::task::spawn_blocking(move || -> Result<Option<String>, StoreError> {
                    let mut file = match fs_err::File::open(&path) {
                        Ok(file) => file,
                        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                            return Ok(Some("missing".to_owned()));
                        }
                        Err(error) => return Err(error.into()),
                    };
                    let mut hasher = sha2::Sha256::new();
                    let length = std::io::copy(&mut file, &mut hasher)?;
                    let actual = hex::encode(hasher.finalize());
                    Ok(if actual != sha {
                        Some(format!("corrupt: its content hashes to `{actual}`"))
                    } else if length != expected {
                        Some(format!("{length} bytes, the index says {expected}"))
                    } else {
                        None
                    })
                })
                .await
                .map_err(|error| StoreError::Task(error.to_string()))??
            };
            if let Some(problem) = problem {
                report.problems.push(BlobProblem {
                    sha256: sha256.clone(),
                    problem,
                    named_by: names.clone(),
                });
            }
        }
        let local = self.inner.blobs.clone();
        let local_names =
            tokio::task::spawn_blocking(move || -> Result<Vec<String>, StoreError> {
                let mut names = Vec::new();
                for shard in fs_err::read_dir(&local)? {
                    let shard = shard?.path();
                    if !shard.is_dir() {
                        continue;
                    }
                    for blob in fs_err::read_dir(&shard)? {
                        let name = blob?.file_name().to_string_lossy().into_owned();
                        if sha256_runs(&name).next() == Some(name.as_str()) {
                            names.push(name);
                        }
                    }
                }
                Ok(names)
            })
            .await
            .map_err(|error| StoreError::Task(error.to_string()))??;
        report.orphans_local = local_names
            .into_iter()
            .filter(|name| !referenced.contains(name))
            .collect();
        report.orphans_local.sort();
        if let Some(remote) = &self.inner.remote {
            report.orphans_remote = remote
                .list()
                .await?
                .into_iter()
                .map(|(name, _)| name)
                .filter(|name| !referenced.contains(name))
                .collect();
            report.orphans_remote.sort();
        }
        Ok(report)
    }

    fn open_blob_sync(&self, sha256: &str) -> Result<Blob, StoreError> {
        let path = self.blob_path(sha256);
        let (mut file, path) = fs_err::File::open(path)?.into_parts();
        let stamp = FileStamp::of(&file.metadata()?);
        let verified = self.is_verified(sha256, &stamp);
        if stamp.length <= SMALL_BLOB {
            let mut bytes = Vec::with_capacity(usize::try_from(stamp.length).unwrap_or(0));
            file.read_to_end(&mut bytes).map_err(|error| {
                std::io::Error::new(
                    error.kind(),
                    format!("failed to read `{}`: {error}", path.display()),
                )
            })?;
            if !verified || bytes.len() as u64 != stamp.length {
                let actual = hex::encode(sha2::Sha256::digest(&bytes));
                self.settle(sha256, actual, stamp)?;
            }
            let bytes = bytes::Bytes::from(bytes);
            self.inner.blob_cache.insert(sha256, bytes.clone());
            return Ok(Blob::Bytes(bytes));
        }
        if !verified {
            let mut hasher = sha2::Sha256::new();
            std::io::copy(&mut file, &mut hasher)?;
            let after = FileStamp::of(&file.metadata()?);
            if after != stamp {
                return Err(StoreError::Io(std::io::Error::other(format!(
                    "blob `{sha256}` changed while it was being verified"
                ))));
            }
            self.settle(sha256, hex::encode(hasher.finalize()), stamp)?;
            file.seek(std::io::SeekFrom::Start(0))?;
        }
        Ok(Blob::File {
            file,
            length: stamp.length,
        })
    }

    /// Whether this process verified the blob's file as it is now.
    fn is_verified(&self, sha256: &str, stamp: &FileStamp) -> bool {
        lock(&self.inner.verified).get(sha256) == Some(stamp)
    }

    /// Record the outcome of hashing a blob: remember its stamp when the digest matches its
    /// name, forget everything about it otherwise.
    fn settle(&self, sha256: &str, actual: String, stamp: FileStamp) -> Result<(), StoreError> {
        let mut verified = lock(&self.inner.verified);
        if actual != sha256 {
            verified.remove(sha256);
            drop(verified);
            self.inner.blob_cache.remove(sha256);
            return Err(StoreError::Corrupt {
                sha256: sha256.to_owned(),
                actual,
            });
        }
        if verified.len() >= VERIFIED_CAPACITY {
            verified.clear();
        }
        verified.insert(sha256.to_owned(), stamp);
        Ok(())
    }
}

/// What [`Store::verify`] found.
#[derive(Debug, Default, serde::Serialize)]
pub struct VerifyReport {
    /// Where the blobs were checked: the object store or the local directory.
    pub location: String,
    /// Asset rows checked.
    pub assets: usize,
    /// Distinct blobs they name, each read and hashed.
    pub blobs: usize,
    /// Blobs that are missing, corrupt or of the wrong size: the problems.
    pub problems: Vec<BlobProblem>,
    /// Local blobs no index row names (the local collector removes them after an hour).
    pub orphans_local: Vec<String>,
    /// Objects no index row names (the object store's collector removes them after an hour).
    pub orphans_remote: Vec<String>,
}

/// One blob an index row names that is not as it should be.
#[derive(Debug, serde::Serialize)]
pub struct BlobProblem {
    /// Its name.
    pub sha256: String,
    /// What is wrong.
    pub problem: String,
    /// The assets naming it: `domain/repository format package@version asset`.
    pub named_by: Vec<String>,
}

/// Begin a write transaction that takes the index's write lock up front
/// ([`index::Connection::write_transaction`]).
///
/// # Errors
/// When the lock cannot be had, or the database is away.
pub fn write_transaction(
    connection: &mut Connection,
) -> Result<index::Transaction<'_>, index::Error> {
    connection.write_transaction()
}

// ----- principals -----

/// A principal row as stored (the zero-config admin lives here).
#[derive(Debug, Clone)]
pub struct StoredPrincipal {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Name.
    pub name: String,
    /// Grants as JSON.
    pub grants: String,
}

/// All stored principals.
///
/// # Errors
/// SQLite errors.
pub fn principals(connection: &Connection) -> Result<Vec<StoredPrincipal>, index::Error> {
    connection.query_map(
        "SELECT access_key_id, secret_access_key, name, grants FROM principals ORDER BY name",
        (),
        |row| {
            Ok(StoredPrincipal {
                access_key_id: row.get(0)?,
                secret_access_key: row.get(1)?,
                name: row.get(2)?,
                grants: row.get(3)?,
            })
        },
    )
}

/// Insert a principal.
///
/// # Errors
/// SQLite errors.
pub fn insert_principal(
    connection: &Connection,
    principal: &StoredPrincipal,
) -> Result<(), index::Error> {
    connection.execute(
        "INSERT INTO principals (access_key_id, secret_access_key, name, grants) VALUES (?1, ?2, ?3, ?4)",
        params![principal.access_key_id, principal.secret_access_key, principal.name, principal.grants],
    )?;
    Ok(())
}

// ----- domains and repositories -----

fn domain_from_row(row: &index::Row<'_>) -> Result<Domain, index::Error> {
    Ok(Domain {
        name: row.get(0)?,
        owner: row.get(1)?,
        created: row.get(2)?,
        encryption_key: row.get(3)?,
    })
}

/// One domain.
///
/// # Errors
/// SQLite errors.
pub fn domain(connection: &Connection, name: &str) -> Result<Option<Domain>, index::Error> {
    connection
        .query_row(
            "SELECT name, owner, created, encryption_key FROM domains WHERE name = ?1",
            [name],
            domain_from_row,
        )
        .optional()
}

/// All domains, by name.
///
/// # Errors
/// SQLite errors.
pub fn domains(connection: &Connection) -> Result<Vec<Domain>, index::Error> {
    connection.query_map(
        "SELECT name, owner, created, encryption_key FROM domains ORDER BY name",
        (),
        domain_from_row,
    )
}

/// Insert a domain; `false` when it already exists.
///
/// # Errors
/// SQLite errors.
pub fn insert_domain(connection: &Connection, domain: &Domain) -> Result<bool, index::Error> {
    let inserted = connection.execute(
        "INSERT INTO domains (name, owner, created, encryption_key) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
        params![domain.name, domain.owner, domain.created, domain.encryption_key],
    )?;
    Ok(inserted == 1)
}

/// Repository count and total asset bytes in a domain.
///
/// # Errors
/// SQLite errors.
pub fn domain_usage(connection: &Connection, name: &str) -> Result<(i64, i64), index::Error> {
    let repositories: i64 = connection.query_row(
        "SELECT COUNT(*) FROM repositories WHERE domain = ?1",
        [name],
        |row| row.get(0),
    )?;
    let bytes: i64 = connection.query_row(
        "SELECT CAST(COALESCE(SUM(a.size), 0) AS BIGINT) FROM assets a JOIN versions v ON v.id = a.version_id WHERE v.domain = ?1",
        [name],
        |row| row.get(0),
    )?;
    Ok((repositories, bytes))
}

fn repository_from_row(row: &index::Row<'_>) -> Result<Repository, index::Error> {
    Ok(Repository {
        domain: row.get(0)?,
        name: row.get(1)?,
        description: row.get(2)?,
        created: row.get(3)?,
    })
}

/// One repository.
///
/// # Errors
/// SQLite errors.
pub fn repository(
    connection: &Connection,
    domain: &str,
    name: &str,
) -> Result<Option<Repository>, index::Error> {
    connection
        .query_row(
            "SELECT domain, name, description, created FROM repositories WHERE domain = ?1 AND name = ?2",
            [domain, name],
            repository_from_row,
        )
        .optional()
}

/// Repositories, optionally in one domain, by domain then name.
///
/// # Errors
/// SQLite errors.
pub fn repositories(
    connection: &Connection,
    domain: Option<&str>,
) -> Result<Vec<Repository>, index::Error> {
    connection.query_map("SELECT domain, name, description, created FROM repositories WHERE (CAST(?1 AS TEXT) IS NULL OR domain = ?1) ORDER BY domain, name", [domain], repository_from_row)
}

/// Insert a repository; `false` when it already exists.
///
/// # Errors
/// SQLite errors.
pub fn insert_repository(
    connection: &Connection,
    repository: &Repository,
) -> Result<bool, index::Error> {
    let inserted = connection.execute(
        "INSERT INTO repositories (domain, name, description, created) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
        params![repository.domain, repository.name, repository.description, repository.created],
    )?;
    Ok(inserted == 1)
}

/// Change a repository's description.
///
/// # Errors
/// SQLite errors.
pub fn set_repository_description(
    connection: &Connection,
    domain: &str,
    name: &str,
    description: &str,
) -> Result<(), index::Error> {
    connection.execute(
        "UPDATE repositories SET description = ?3 WHERE domain = ?1 AND name = ?2",
        params![domain, name, description],
    )?;
    Ok(())
}

/// Repositories of `domain` that list `repository` among their upstreams.
///
/// # Errors
/// SQLite errors.
pub fn downstream_repositories(
    connection: &Connection,
    domain: &str,
    repository: &str,
) -> Result<Vec<String>, index::Error> {
    connection.query_map("SELECT DISTINCT repository FROM upstreams WHERE domain = ?1 AND upstream = ?2 ORDER BY repository", [domain, repository], |row| row.get(0))
}

/// Delete a repository and everything held under it: versions and their assets, origin
/// controls, dist-tags, its upstream and external links, its permissions policy and tags.
/// Blobs stay (they may be shared; the orphan sweep removes those no row names).
///
/// # Errors
/// SQLite errors.
pub fn delete_repository(
    connection: &Connection,
    domain: &str,
    name: &str,
) -> Result<(), index::Error> {
    connection.execute(
        "DELETE FROM assets WHERE version_id IN (SELECT id FROM versions WHERE domain = ?1 AND repository = ?2)",
        [domain, name],
    )?;
    for table in [
        "versions",
        "package_origins",
        "dist_tags",
        "upstreams",
        "external_links",
        "permission_policies",
    ] {
        connection.execute(
            &format!("DELETE FROM {table} WHERE domain = ?1 AND repository = ?2"),
            [domain, name],
        )?;
    }
    connection.execute(
        "DELETE FROM package_group_repositories WHERE domain = ?1 AND repository = ?2",
        [domain, name],
    )?;
    connection.execute(
        "DELETE FROM resource_tags WHERE resource = ?1",
        [format!("repository/{domain}/{name}")],
    )?;
    connection.execute(
        "DELETE FROM repositories WHERE domain = ?1 AND name = ?2",
        [domain, name],
    )?;
    Ok(())
}

/// Delete an empty domain with its permissions policy, package groups, tags and tokens
/// (the caller checked it holds no repository).
///
/// # Errors
/// SQLite errors.
pub fn delete_domain(connection: &Connection, name: &str) -> Result<(), index::Error> {
    for table in [
        "permission_policies",
        "package_groups",
        "package_group_repositories",
        "tokens",
    ] {
        connection.execute(&format!("DELETE FROM {table} WHERE domain = ?1"), [name])?;
    }
    connection.execute(
        "DELETE FROM resource_tags WHERE resource = ?1 OR substr(resource, 1, length(CAST(?2 AS TEXT))) = ?2",
        [format!("domain/{name}"), format!("package-group/{name}/")],
    )?;
    connection.execute("DELETE FROM domains WHERE name = ?1", [name])?;
    Ok(())
}

// ----- tags -----

/// A resource's tags, by key.
///
/// # Errors
/// SQLite errors.
pub fn tags(
    connection: &Connection,
    resource: &str,
) -> Result<Vec<(String, String)>, index::Error> {
    connection.query_map(
        "SELECT key, value FROM resource_tags WHERE resource = ?1 ORDER BY key",
        [resource],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
}

/// Add or replace tags on a resource.
///
/// # Errors
/// SQLite errors.
pub fn set_tags(
    connection: &Connection,
    resource: &str,
    tags: &[(String, String)],
) -> Result<(), index::Error> {
    for (key, value) in tags {
        connection.execute(
            "INSERT INTO resource_tags (resource, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (resource, key) DO UPDATE SET value = excluded.value",
            params![resource, key, value],
        )?;
    }
    Ok(())
}

/// Remove tags from a resource (keys it does not have are ignored).
///
/// # Errors
/// SQLite errors.
pub fn remove_tags(
    connection: &Connection,
    resource: &str,
    keys: &[String],
) -> Result<(), index::Error> {
    for key in keys {
        connection.execute(
            "DELETE FROM resource_tags WHERE resource = ?1 AND key = ?2",
            params![resource, key],
        )?;
    }
    Ok(())
}

// ----- permissions policies -----

/// A stored resource policy: its JSON document and revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRow {
    /// The policy document as sent.
    pub document: String,
    /// Revision, changed on every put.
    pub revision: String,
}

/// The permissions policy of a domain (`repository = ""`) or repository.
///
/// # Errors
/// SQLite errors.
pub fn permission_policy(
    connection: &Connection,
    domain: &str,
    repository: &str,
) -> Result<Option<PolicyRow>, index::Error> {
    connection
        .query_row(
            "SELECT document, revision FROM permission_policies WHERE domain = ?1 AND repository = ?2",
            [domain, repository],
            |row| Ok(PolicyRow { document: row.get(0)?, revision: row.get(1)? }),
        )
        .optional()
}

/// Store (or with `None`, remove) a permissions policy.
///
/// # Errors
/// SQLite errors.
pub fn set_permission_policy(
    connection: &Connection,
    domain: &str,
    repository: &str,
    policy: Option<&PolicyRow>,
) -> Result<(), index::Error> {
    match policy {
        Some(policy) => connection.execute(
            "INSERT INTO permission_policies (domain, repository, document, revision) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (domain, repository) DO UPDATE SET document = excluded.document, revision = excluded.revision",
            params![domain, repository, policy.document, policy.revision],
        )?,
        None => connection.execute(
            "DELETE FROM permission_policies WHERE domain = ?1 AND repository = ?2",
            [domain, repository],
        )?,
    };
    Ok(())
}

/// Every stored permissions policy, as `(domain, repository, document)`: few and small,
/// read into the access cache whenever the index changed.
///
/// # Errors
/// SQLite errors.
pub fn all_permission_policies(
    connection: &Connection,
) -> Result<Vec<(String, String, String)>, index::Error> {
    connection.query_map(
        "SELECT domain, repository, document FROM permission_policies",
        (),
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )
}

// ----- package groups -----

/// A package group: its pattern, details and origin restrictions (each `ALLOW`, `BLOCK`,
/// `ALLOW_SPECIFIC_REPOSITORIES` or `INHERIT`).
#[derive(Debug, Clone, PartialEq)]
pub struct PackageGroupRow {
    /// Domain.
    pub domain: String,
    /// Pattern, e.g. `/npm/acme/*`.
    pub pattern: String,
    /// Description.
    pub description: Option<String>,
    /// Contact information.
    pub contact_info: Option<String>,
    /// Creation time, epoch seconds.
    pub created: f64,
    /// `PUBLISH` restriction mode.
    pub publish: String,
    /// `EXTERNAL_UPSTREAM` restriction mode.
    pub external_upstream: String,
    /// `INTERNAL_UPSTREAM` restriction mode.
    pub internal_upstream: String,
}

fn package_group_from_row(row: &index::Row<'_>) -> Result<PackageGroupRow, index::Error> {
    Ok(PackageGroupRow {
        domain: row.get(0)?,
        pattern: row.get(1)?,
        description: row.get(2)?,
        contact_info: row.get(3)?,
        created: row.get(4)?,
        publish: row.get(5)?,
        external_upstream: row.get(6)?,
        internal_upstream: row.get(7)?,
    })
}

const PACKAGE_GROUP_COLUMNS: &str = "domain, pattern, description, contact_info, created, publish, external_upstream, internal_upstream";

/// One package group.
///
/// # Errors
/// SQLite errors.
pub fn package_group(
    connection: &Connection,
    domain: &str,
    pattern: &str,
) -> Result<Option<PackageGroupRow>, index::Error> {
    connection
        .query_row(
            &format!("SELECT {PACKAGE_GROUP_COLUMNS} FROM package_groups WHERE domain = ?1 AND pattern = ?2"),
            [domain, pattern],
            package_group_from_row,
        )
        .optional()
}

/// A domain's package groups, by pattern.
///
/// # Errors
/// SQLite errors.
pub fn package_groups(
    connection: &Connection,
    domain: &str,
) -> Result<Vec<PackageGroupRow>, index::Error> {
    connection.query_map(
        &format!(
            "SELECT {PACKAGE_GROUP_COLUMNS} FROM package_groups WHERE domain = ?1 ORDER BY pattern"
        ),
        [domain],
        package_group_from_row,
    )
}

/// Insert or replace a package group.
///
/// # Errors
/// SQLite errors.
pub fn put_package_group(
    connection: &Connection,
    group: &PackageGroupRow,
) -> Result<(), index::Error> {
    connection.execute(
        &format!(
            "INSERT INTO package_groups ({PACKAGE_GROUP_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (domain, pattern) DO UPDATE SET description = excluded.description, contact_info = excluded.contact_info,
               created = excluded.created, publish = excluded.publish, external_upstream = excluded.external_upstream,
               internal_upstream = excluded.internal_upstream"
        ),
        params![
            group.domain,
            group.pattern,
            group.description,
            group.contact_info,
            group.created,
            group.publish,
            group.external_upstream,
            group.internal_upstream
        ],
    )?;
    Ok(())
}

/// Delete a package group with its allowed repositories and tags.
///
/// # Errors
/// SQLite errors.
pub fn delete_package_group(
    connection: &Connection,
    domain: &str,
    pattern: &str,
) -> Result<(), index::Error> {
    connection.execute(
        "DELETE FROM package_group_repositories WHERE domain = ?1 AND pattern = ?2",
        [domain, pattern],
    )?;
    connection.execute(
        "DELETE FROM resource_tags WHERE resource = ?1",
        [format!("package-group/{domain}{pattern}")],
    )?;
    connection.execute(
        "DELETE FROM package_groups WHERE domain = ?1 AND pattern = ?2",
        [domain, pattern],
    )?;
    Ok(())
}

/// The repositories a package group allows for one restriction type (`PUBLISH`,
/// `EXTERNAL_UPSTREAM`, `INTERNAL_UPSTREAM`), by name.
///
/// # Errors
/// SQLite errors.
pub fn package_group_repositories(
    connection: &Connection,
    domain: &str,
    pattern: &str,
    restriction: &str,
) -> Result<Vec<String>, index::Error> {
    connection.query_map("SELECT repository FROM package_group_repositories WHERE domain = ?1 AND pattern = ?2 AND restriction = ?3 ORDER BY repository", [domain, pattern, restriction], |row| row.get(0))
}

/// Add (`true`) or remove a repository from a package group's allowed list.
///
/// # Errors
/// SQLite errors.
pub fn set_package_group_repository(
    connection: &Connection,
    domain: &str,
    pattern: &str,
    restriction: &str,
    repository: &str,
    allowed: bool,
) -> Result<(), index::Error> {
    let sql = if allowed {
        "INSERT INTO package_group_repositories (domain, pattern, restriction, repository) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM package_group_repositories WHERE domain = ?1 AND pattern = ?2 AND restriction = ?3 AND repository = ?4"
    };
    connection.execute(sql, [domain, pattern, restriction, repository])?;
    Ok(())
}

/// Every allowed-repository entry of a domain's package groups: `(pattern, restriction,
/// repository)`, by pattern, restriction and repository.
///
/// # Errors
/// SQLite errors.
pub fn package_group_repository_entries(
    connection: &Connection,
    domain: &str,
) -> Result<Vec<(String, String, String)>, index::Error> {
    connection.query_map("SELECT pattern, restriction, repository FROM package_group_repositories WHERE domain = ?1 ORDER BY pattern, restriction, repository", [domain], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
}

/// Every package of a domain, in any repository: those with versions and those with only
/// an origin configuration, by format, namespace and name.
///
/// # Errors
/// SQLite errors.
pub fn domain_packages(
    connection: &Connection,
    domain: &str,
) -> Result<Vec<PackageSummary>, index::Error> {
    connection.query_map(
        "SELECT format, namespace, package FROM versions WHERE domain = ?1
         UNION SELECT format, namespace, package FROM package_origins WHERE domain = ?1
         ORDER BY 1, 2, 3",
        [domain],
        |row| {
            Ok(PackageSummary {
                format: row.get(0)?,
                namespace: row.get(1)?,
                package: row.get(2)?,
            })
        },
    )
}

// ----- tokens -----

/// A token's owner and lifetime.
#[derive(Debug, Clone)]
pub struct TokenRow {
    /// Principal name.
    pub principal: String,
    /// Domain the token is for.
    pub domain: String,
    /// Expiry, epoch seconds.
    pub expires: f64,
}

/// Record a token by its hash.
///
/// # Errors
/// SQLite errors.
pub fn insert_token(
    connection: &Connection,
    hash: &str,
    token: &TokenRow,
) -> Result<(), index::Error> {
    connection.execute(
        "INSERT INTO tokens (hash, principal, domain, expires) VALUES (?1, ?2, ?3, ?4)",
        params![hash, token.principal, token.domain, token.expires],
    )?;
    Ok(())
}

/// Look a token up by its hash.
///
/// # Errors
/// SQLite errors.
pub fn token(connection: &Connection, hash: &str) -> Result<Option<TokenRow>, index::Error> {
    connection
        .query_row(
            "SELECT principal, domain, expires FROM tokens WHERE hash = ?1",
            [hash],
            |row| {
                Ok(TokenRow {
                    principal: row.get(0)?,
                    domain: row.get(1)?,
                    expires: row.get(2)?,
                })
            },
        )
        .optional()
}

/// Forget tokens that expired before `now`.
///
/// # Errors
/// SQLite errors.
pub fn purge_tokens(connection: &Connection, now: f64) -> Result<usize, index::Error> {
    // Keep a day of expired tokens so a refusal can say "expired" rather than "unknown".
    connection.execute("DELETE FROM tokens WHERE expires < ?1", [now - 86_400.0])
}

// ----- packages, versions, assets -----

fn version_from_row(row: &index::Row<'_>) -> Result<VersionRow, index::Error> {
    Ok(VersionRow {
        id: row.get(0)?,
        version: row.get(1)?,
        revision: row.get(2)?,
        status: row.get(3)?,
        published: row.get(4)?,
        metadata: row.get(5)?,
    })
}

/// One version of a package.
///
/// # Errors
/// SQLite errors.
pub fn version(
    connection: &Connection,
    key: &PackageKey,
    version: &str,
) -> Result<Option<VersionRow>, index::Error> {
    connection
        .query_row(
            "SELECT id, version, revision, status, published, metadata FROM versions
             WHERE domain = ?1 AND repository = ?2 AND format = ?3 AND namespace = ?4 AND package = ?5 AND version = ?6",
            params![key.domain, key.repository, key.format, key.namespace, key.package, version],
            version_from_row,
        )
        .optional()
}

/// All versions of a package, oldest first.
///
/// # Errors
/// SQLite errors.
pub fn versions(
    connection: &Connection,
    key: &PackageKey,
) -> Result<Vec<VersionRow>, index::Error> {
    connection.query_map(
        "SELECT id, version, revision, status, published, metadata FROM versions
         WHERE domain = ?1 AND repository = ?2 AND format = ?3 AND namespace = ?4 AND package = ?5
         ORDER BY published, id",
        params![
            key.domain,
            key.repository,
            key.format,
            key.namespace,
            key.package
        ],
        version_from_row,
    )
}

/// Packages in a repository, optionally filtered, sorted by format, namespace, name.
///
/// # Errors
/// SQLite errors.
pub fn packages(
    connection: &Connection,
    domain: &str,
    repository: &str,
    format: Option<&str>,
    namespace: Option<&str>,
    prefix: Option<&str>,
) -> Result<Vec<PackageSummary>, index::Error> {
    connection.query_map(
        "SELECT DISTINCT format, namespace, package FROM versions
         WHERE domain = ?1 AND repository = ?2 AND (CAST(?3 AS TEXT) IS NULL OR format = ?3)
           AND (CAST(?4 AS TEXT) IS NULL OR namespace = ?4)
           AND (CAST(?5 AS TEXT) IS NULL OR substr(package, 1, length(CAST(?5 AS TEXT))) = ?5)
         ORDER BY format, namespace, package",
        params![domain, repository, format, namespace, prefix],
        |row| {
            Ok(PackageSummary {
                format: row.get(0)?,
                namespace: row.get(1)?,
                package: row.get(2)?,
            })
        },
    )
}

/// Assets of a version, by name.
///
/// # Errors
/// SQLite errors.
pub fn assets(connection: &Connection, version_id: i64) -> Result<Vec<AssetRow>, index::Error> {
    connection.query_map("SELECT name, size, md5, sha1, sha256, sha512 FROM assets WHERE version_id = ?1 ORDER BY name", [version_id], asset_from_row)
}

fn asset_from_row(row: &index::Row<'_>) -> Result<AssetRow, index::Error> {
    asset_at(row, 0)
}

/// The asset in columns `name, size, md5, sha1, sha256, sha512` from column `first` on.
fn asset_at(row: &index::Row<'_>, first: usize) -> Result<AssetRow, index::Error> {
    let size: i64 = row.get(first + 1)?;
    let size = u64::try_from(size).unwrap_or_default();
    Ok(AssetRow {
        name: row.get(first)?,
        size,
        digests: Digests {
            md5: row.get(first + 2)?,
            sha1: row.get(first + 3)?,
            sha256: row.get(first + 4)?,
            sha512: row.get(first + 5)?,
            size,
        },
    })
}

/// Find an asset by name among a package's versions with one of `statuses`.
///
/// # Errors
/// SQLite errors.
pub fn find_asset(
    connection: &Connection,
    key: &PackageKey,
    asset_name: &str,
) -> Result<Option<(VersionRow, AssetRow)>, index::Error> {
    connection
        .query_row(
            "SELECT v.id, v.version, v.revision, v.status, v.published, v.metadata, a.name, a.size, a.md5, a.sha1, a.sha256, a.sha512
             FROM versions v JOIN assets a ON a.version_id = v.id
             WHERE v.domain = ?1 AND v.repository = ?2 AND v.format = ?3 AND v.namespace = ?4 AND v.package = ?5 AND a.name = ?6
             ORDER BY v.published DESC LIMIT 1",
            params![key.domain, key.repository, key.format, key.namespace, key.package, asset_name],
            |row| {
                let version = version_from_row(row)?;
                Ok((version, asset_at(row, 6)?))
            },
        )
        .optional()
}

/// Insert a version row and return its id.
///
/// # Errors
/// SQLite errors (including a uniqueness violation, which callers check for first).
pub fn insert_version(
    connection: &Connection,
    key: &PackageKey,
    row: &VersionRow,
) -> Result<i64, index::Error> {
    connection.query_row(
        "INSERT INTO versions (domain, repository, format, namespace, package, version, revision, status, published, metadata)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
        params![
            key.domain,
            key.repository,
            key.format,
            key.namespace,
            key.package,
            row.version,
            row.revision,
            row.status,
            row.published,
            row.metadata
        ],
        |inserted| inserted.get(0),
    )
}

/// Insert an asset row.
///
/// # Errors
/// SQLite errors.
pub fn insert_asset(
    connection: &Connection,
    version_id: i64,
    asset: &AssetRow,
) -> Result<(), index::Error> {
    connection.execute(
        "INSERT INTO assets (version_id, name, size, md5, sha1, sha256, sha512) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            version_id,
            asset.name,
            i64::try_from(asset.size).unwrap_or(i64::MAX),
            asset.digests.md5,
            asset.digests.sha1,
            asset.digests.sha256,
            asset.digests.sha512
        ],
    )?;
    Ok(())
}

/// Move an asset (by name) from one version to another of the same package.
///
/// # Errors
/// SQLite errors.
pub fn move_asset(
    connection: &Connection,
    from_version_id: i64,
    to_version_id: i64,
    asset_name: &str,
) -> Result<(), index::Error> {
    connection.execute(
        "UPDATE assets SET version_id = ?2 WHERE version_id = ?1 AND name = ?3",
        params![from_version_id, to_version_id, asset_name],
    )?;
    Ok(())
}

/// Set a version's status and revision.
///
/// # Errors
/// SQLite errors.
pub fn update_version_status(
    connection: &Connection,
    id: i64,
    status: &str,
    revision: &str,
) -> Result<(), index::Error> {
    connection.execute(
        "UPDATE versions SET status = ?2, revision = ?3 WHERE id = ?1",
        params![id, status, revision],
    )?;
    Ok(())
}

/// Replace a version's metadata and revision (a PyPI version gains files one upload at a
/// time).
///
/// # Errors
/// SQLite errors.
pub fn update_version_metadata(
    connection: &Connection,
    id: i64,
    metadata: &str,
    revision: &str,
) -> Result<(), index::Error> {
    connection.execute(
        "UPDATE versions SET metadata = ?2, revision = ?3 WHERE id = ?1",
        params![id, metadata, revision],
    )?;
    Ok(())
}

/// Delete a version's assets, keeping the version (`DisposePackageVersions`).
///
/// # Errors
/// SQLite errors.
pub fn delete_assets(connection: &Connection, version_id: i64) -> Result<(), index::Error> {
    connection.execute("DELETE FROM assets WHERE version_id = ?1", [version_id])?;
    Ok(())
}

/// Delete a version and its assets (blobs stay; they may be shared by content).
///
/// # Errors
/// SQLite errors.
pub fn delete_version(connection: &Connection, id: i64) -> Result<(), index::Error> {
    connection.execute("DELETE FROM assets WHERE version_id = ?1", [id])?;
    connection.execute("DELETE FROM versions WHERE id = ?1", [id])?;
    Ok(())
}

/// npm dist-tags of a package.
///
/// # Errors
/// SQLite errors.
pub fn dist_tags(
    connection: &Connection,
    key: &PackageKey,
) -> Result<Vec<(String, String)>, index::Error> {
    connection.query_map("SELECT tag, version FROM dist_tags WHERE domain = ?1 AND repository = ?2 AND format = ?3 AND namespace = ?4 AND package = ?5 ORDER BY tag", 
        params![
            key.domain,
            key.repository,
            key.format,
            key.namespace,
            key.package
        ],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
}

/// Set (or, with `None`, remove) an npm dist-tag.
///
/// # Errors
/// SQLite errors.
pub fn set_dist_tag(
    connection: &Connection,
    key: &PackageKey,
    tag: &str,
    version: Option<&str>,
) -> Result<(), index::Error> {
    match version {
        Some(version) => connection.execute(
            "INSERT INTO dist_tags (domain, repository, format, namespace, package, tag, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (domain, repository, format, namespace, package, tag) DO UPDATE SET version = excluded.version",
            params![key.domain, key.repository, key.format, key.namespace, key.package, tag, version],
        )?,
        None => connection.execute(
            "DELETE FROM dist_tags WHERE domain = ?1 AND repository = ?2 AND format = ?3 AND namespace = ?4 AND package = ?5 AND tag = ?6",
            params![key.domain, key.repository, key.format, key.namespace, key.package, tag],
        )?,
    };
    Ok(())
}

// ----- web console (server/console/): read-only summaries -----

/// One package of a repository as the web console lists it.
#[derive(Debug, Clone)]
pub struct PackageStats {
    /// Format.
    pub format: String,
    /// Namespace or empty.
    pub namespace: String,
    /// Name.
    pub package: String,
    /// How many versions the repository holds.
    pub versions: i64,
    /// Versions that came through an external connection (`EXTERNAL` origin).
    pub external_versions: i64,
    /// The newest version by publish time.
    pub latest_version: String,
    /// Its publish time, epoch seconds.
    pub latest_published: f64,
    /// Bytes of every asset of every version.
    pub bytes: i64,
}

/// Every package of a repository with its counts, sorted by format, namespace, name.
///
/// # Errors
/// SQLite errors.
pub fn package_stats(
    connection: &Connection,
    domain: &str,
    repository: &str,
) -> Result<Vec<PackageStats>, index::Error> {
    connection.query_map("SELECT v.format, v.namespace, v.package, COUNT(*),
                CAST(SUM(CASE WHEN o.origin_type = 'EXTERNAL' THEN 1 ELSE 0 END) AS BIGINT),
                (SELECT l.version FROM versions l WHERE l.domain = v.domain AND l.repository = v.repository
                   AND l.format = v.format AND l.namespace = v.namespace AND l.package = v.package
                   ORDER BY l.published DESC, l.id DESC LIMIT 1),
                MAX(v.published),
                CAST(COALESCE(SUM((SELECT SUM(a.size) FROM assets a WHERE a.version_id = v.id)), 0) AS BIGINT)
         FROM versions v LEFT JOIN version_origins o ON o.version_id = v.id
         WHERE v.domain = ?1 AND v.repository = ?2
         GROUP BY v.domain, v.repository, v.format, v.namespace, v.package
         ORDER BY v.format, v.namespace, v.package", params![domain, repository], |row| {
        Ok(PackageStats {
            format: row.get(0)?,
            namespace: row.get(1)?,
            package: row.get(2)?,
            versions: row.get(3)?,
            external_versions: row.get(4)?,
            latest_version: row.get(5)?,
            latest_published: row.get(6)?,
            bytes: row.get(7)?,
        })
    })
}

/// The `limit` versions of a repository published (or pulled through) last, newest first:
/// the package, the version row and its external connection, if it came through one.
///
/// # Errors
/// SQLite errors.
pub fn recent_versions(
    connection: &Connection,
    domain: &str,
    repository: &str,
    limit: u32,
) -> Result<Vec<(PackageSummary, VersionRow, Option<String>)>, index::Error> {
    connection.query_map("SELECT v.id, v.version, v.revision, v.status, v.published, CAST(NULL AS TEXT), v.format, v.namespace, v.package,
                o.external_connection
         FROM versions v LEFT JOIN version_origins o ON o.version_id = v.id
         WHERE v.domain = ?1 AND v.repository = ?2
         ORDER BY v.published DESC, v.id DESC LIMIT ?3", params![domain, repository, limit], |row| {
        Ok((
            PackageSummary {
                format: row.get(6)?,
                namespace: row.get(7)?,
                package: row.get(8)?,
            },
            version_from_row(row)?,
            row.get(9)?,
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_headers_are_read_like_rfc_9110() {
        let part = |start, end| ByteRange::Part { start, end };
        for (header, expected) in [
            (None, ByteRange::Whole),
            (Some("bytes=0-9"), part(0, 9)),
            (Some("bytes=5-"), part(5, 99)),
            (Some("bytes=-10"), part(90, 99)),
            (Some("bytes=-1000"), part(0, 99)),
            (Some("bytes=90-1000"), part(90, 99)),
            (Some("bytes=100-"), ByteRange::Unsatisfiable),
            (Some("bytes=-0"), ByteRange::Unsatisfiable),
            (Some("bytes=9-5"), ByteRange::Whole),
            (Some("bytes=0-1,5-6"), ByteRange::Whole),
            (Some("items=0-1"), ByteRange::Whole),
            (Some("bytes=a-b"), ByteRange::Whole),
        ] {
            assert_eq!(ByteRange::parse(header, 100), expected, "{header:?}");
        }
        assert_eq!(
            ByteRange::parse(Some("bytes=0-"), 0),
            ByteRange::Unsatisfiable
        );
    }

    #[test]
    fn digests_match_known_values() {
        let digests = Digests::of(b"hello world\n");
        assert_eq!(
            digests.sha256,
            "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447"
        );
        assert_eq!(digests.md5, "6f5902ac237024bdd0c176cb93063dc4");
        assert_eq!(digests.sha1, "22596363b3de40b06f981fb85d82312e8c0ed511");
    }

    #[tokio::test]
    async fn corrupt_blob_is_refused_on_first_read_and_verified_bytes_stay_served() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let digests = store
            .put_blob(bytes::Bytes::from_static(b"payload"))
            .await
            .unwrap()
            .digests;
        assert_eq!(
            &store.read_blob(digests.sha256.clone()).await.unwrap()[..],
            b"payload"
        );
        fs_err::write(store.blob_path(&digests.sha256), b"tampered").unwrap();
        // This process verified and cached the bytes: it keeps serving those, never the
        // tampered ones.
        assert_eq!(
            &store.read_blob(digests.sha256.clone()).await.unwrap()[..],
            b"payload"
        );
        // A restarted server hashes the blob on its first read and refuses it.
        let restarted = Store::open(dir.path()).unwrap();
        let error = restarted
            .read_blob(digests.sha256.clone())
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Corrupt { .. }), "{error}");
        // ...and again on the next read: a corrupt blob is never remembered as verified.
        let error = restarted.open_blob(digests.sha256).await.unwrap_err();
        assert!(matches!(error, StoreError::Corrupt { .. }), "{error}");
    }

    #[tokio::test]
    async fn evicted_small_blob_changed_on_disk_is_hashed_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let digests = store
            .put_blob(bytes::Bytes::from_static(b"payload"))
            .await
            .unwrap()
            .digests;
        store.read_blob(digests.sha256.clone()).await.unwrap();
        store.inner.blob_cache.remove(&digests.sha256);
        // Same length, other bytes, written in place.
        fs_err::write(store.blob_path(&digests.sha256), b"PAYLOAD").unwrap();
        let error = store.read_blob(digests.sha256).await.unwrap_err();
        assert!(matches!(error, StoreError::Corrupt { .. }), "{error}");
    }

    async fn streamed(blob: Blob) -> Vec<u8> {
        let Blob::File { file, length } = blob else {
            panic!("a large blob is streamed from its file");
        };
        let response = axum::response::IntoResponse::into_response(Blob::File { file, length });
        assert_eq!(
            response.headers()[axum::http::header::CONTENT_LENGTH],
            length.to_string().as_str()
        );
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec()
    }

    #[tokio::test]
    async fn ranges_of_small_and_large_blobs_are_their_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for size in [1000, SMALL_BLOB + 1000] {
            let content: Vec<u8> = (0..size).map(|index| (index % 251) as u8).collect();
            let digests = store
                .put_blob(bytes::Bytes::from(content.clone()))
                .await
                .unwrap()
                .digests;
            let length = content.len();
            for (range, status, expected) in [
                ("bytes=10-19", 206, &content[10..20]),
                ("bytes=-7", 206, &content[length - 7..]),
                ("bytes=900-", 206, &content[900..]),
                ("bytes=0-1,3-4", 200, &content[..]),
            ] {
                let mut request = axum::http::HeaderMap::new();
                request.insert(axum::http::header::RANGE, range.parse().unwrap());
                let blob = store.open_blob(digests.sha256.clone()).await.unwrap();
                let response = blob.respond(&request);
                assert_eq!(response.status().as_u16(), status, "{range}");
                assert_eq!(response.headers()["accept-ranges"], "bytes");
                assert_eq!(
                    response.headers()["content-length"],
                    expected.len().to_string().as_str()
                );
                let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .unwrap();
                assert_eq!(&body[..], expected, "{range} of {length}");
            }
            let mut request = axum::http::HeaderMap::new();
            request.insert(
                axum::http::header::RANGE,
                format!("bytes={length}-").parse().unwrap(),
            );
            let blob = store.open_blob(digests.sha256.clone()).await.unwrap();
            let response = blob.respond(&request);
            assert_eq!(response.status().as_u16(), 416);
            assert_eq!(
                response.headers()["content-range"],
                format!("bytes */{length}").as_str()
            );
        }
    }

    #[tokio::test]
    async fn a_blob_this_process_wrote_is_verified_without_hashing_it_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let content: Vec<u8> = (0..SMALL_BLOB + 1000)
            .map(|index| (index % 249) as u8)
            .collect();
        let digests = store
            .put_blob(bytes::Bytes::from(content.clone()))
            .await
            .unwrap()
            .digests;
        let path = store.blob_path(&digests.sha256);
        let stamp = FileStamp::of(&fs_err::metadata(&path).unwrap());
        assert!(store.is_verified(&digests.sha256, &stamp));
        let blob = store.open_blob(digests.sha256.clone()).await.unwrap();
        assert_eq!(streamed(blob).await, content);
        // A restarted server knows nothing of it: hashed on first read.
        let restarted = Store::open(dir.path()).unwrap();
        assert!(!restarted.is_verified(&digests.sha256, &stamp));
        // Changed after the upload: its stamp moved, so it is hashed again and refused.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut tampered = content.clone();
        tampered[7] ^= 1;
        fs_err::write(&path, &tampered).unwrap();
        let error = store.open_blob(digests.sha256.clone()).await.unwrap_err();
        assert!(matches!(error, StoreError::Corrupt { .. }), "{error}");
    }

    #[tokio::test]
    async fn large_blob_is_streamed_and_rehashed_whenever_its_file_changed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let content: Vec<u8> = (0..SMALL_BLOB + 1000)
            .map(|index| (index % 251) as u8)
            .collect();
        let digests = store
            .put_blob(bytes::Bytes::from(content.clone()))
            .await
            .unwrap()
            .digests;
        let path = store.blob_path(&digests.sha256);
        // Streamed (verified when it was written), and again without hashing.
        for _ in 0..2 {
            let blob = store.open_blob(digests.sha256.clone()).await.unwrap();
            assert_eq!(streamed(blob).await, content);
        }
        assert_eq!(
            store.inner.blob_cache.size(),
            0,
            "large blobs are not cached"
        );

        // Rewritten in place with the same length: its times change, so it is hashed again.
        let mut tampered = content.clone();
        tampered[0] ^= 1;
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs_err::write(&path, &tampered).unwrap();
        let error = store.open_blob(digests.sha256.clone()).await.unwrap_err();
        assert!(matches!(error, StoreError::Corrupt { .. }), "{error}");

        // Repaired (a new file renamed over it): verified again and served.
        let repaired = dir.path().join("repaired");
        fs_err::write(&repaired, &content).unwrap();
        fs_err::rename(&repaired, &path).unwrap();
        let blob = store.open_blob(digests.sha256.clone()).await.unwrap();
        assert_eq!(streamed(blob).await, content);
        assert_eq!(
            store
                .read_blob(digests.sha256.clone())
                .await
                .unwrap()
                .to_vec(),
            content
        );

        // Truncated: detected by its length.
        fs_err::write(&path, &content[..content.len() - 1]).unwrap();
        let error = store.open_blob(digests.sha256).await.unwrap_err();
        assert!(matches!(error, StoreError::Corrupt { .. }), "{error}");
    }

    #[tokio::test]
    async fn generation_changes_with_every_commit_of_any_connection() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let before = store.generation().unwrap();
        assert_eq!(store.generation(), Some(before), "stable without writes");
        let row = TokenRow {
            principal: "admin".into(),
            domain: "local".into(),
            expires: 1.0,
        };
        let token = row.clone();
        store
            .with(move |connection| -> Result<(), StoreError> {
                Ok(insert_token(connection, "h1", &token)?)
            })
            .await
            .unwrap();
        let after_pool_write = store.generation().unwrap();
        assert_ne!(after_pool_write, before);
        // Another process (here: another store on the same directory) writing.
        let other = Store::open(dir.path()).unwrap();
        other
            .with(move |connection| -> Result<(), StoreError> {
                Ok(insert_token(connection, "h2", &row)?)
            })
            .await
            .unwrap();
        assert_ne!(store.generation().unwrap(), after_pool_write);
    }
}
