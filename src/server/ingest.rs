//! Request bodies of `lading serve`: read only once the request is authenticated, streamed
//! to a temp file in `DATA/tmp/` (hashed on the way), capped per route, and aborted when
//! they stall; and the sweep that removes temp files nobody is writing any more.
//!
//! Why a file and not memory: an upload is up to `--max-body-mib` (1 GiB by default), and
//! many may arrive at once; the server's memory must not grow with their size. The temp
//! file is then moved into the blob store as is ([`super::store::Store::put_spool`]), or
//! parsed from the file by a streaming reader (multipart forms, npm publish documents).
//!
//! Every temp file is created with an exclusive `flock` held for as long as it is open, so
//! a sweep (at start, and after a refused upload) can tell an abandoned file (its writer
//! crashed: the lock is free) from one still being written by this or another process
//! sharing the data directory (the lock is held), without looking at its age.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::StatusCode;
use bytes::Bytes;
use http_body_util::BodyExt as _;
use md5::Digest as _;

use crate::archive::Digests;

/// Name prefix of every upload temp file in `DATA/tmp/`.
pub const TEMP_PREFIX: &str = "upload-";
/// Bytes gathered from the connection before one write to the temp file.
const WRITE_CHUNK: usize = 128 * 1024;

/// Size caps and timeouts for request bodies (`lading serve --help` documents the flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest upload on a publish route (npm `PUT`, twine upload, NuGet push, Maven and
    /// generic `PUT`, `PublishPackageVersion`): `--max-body-mib`.
    pub max_upload_bytes: u64,
    /// Largest body on every other route (control-plane JSON, dist-tags, Maven metadata and
    /// checksums), and largest metadata part of a publish (the npm document without its
    /// attachments, twine's form fields): `--max-metadata-mib`.
    pub max_metadata_bytes: u64,
    /// A body that sends no byte for this long is aborted with 408: `--body-timeout-seconds`.
    pub body_timeout: Duration,
    /// Once a body has taken longer than `body_timeout`, it must have averaged at least this
    /// many bytes per second, or it is aborted with 408: `--min-body-bytes-per-second`.
    pub min_body_rate: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_upload_bytes: 1024 * 1024 * 1024,
            max_metadata_bytes: 16 * 1024 * 1024,
            body_timeout: Duration::from_secs(60),
            min_body_rate: 1024,
        }
    }
}

/// Why a request body was not taken.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Over the route's cap (from `Content-Length` before reading, or while reading).
    #[error(
        "the request body is larger than this route's limit of {limit} bytes; raise it with `lading serve --max-body-mib` (uploads) or `--max-metadata-mib` (metadata)"
    )]
    TooLarge {
        /// The cap.
        limit: u64,
    },
    /// No byte arrived for the body timeout.
    #[error("the request body stalled: no byte arrived for {} s", .0.as_secs())]
    Stalled(Duration),
    /// The body trickles in below the minimum rate.
    #[error("the request body arrived slower than {0} bytes per second")]
    TooSlow(u64),
    /// The connection failed or the framing was invalid.
    #[error("failed to read the request body: {0}")]
    Read(String),
    /// Writing the temp file failed.
    #[error("failed to store the request body")]
    Io(#[from] std::io::Error),
    /// A blocking task failed.
    #[error("storage task failed: {0}")]
    Task(String),
}

impl BodyError {
    /// The HTTP status that answers it.
    #[must_use]
    pub const fn status(&self) -> StatusCode {
        match self {
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Stalled(_) | Self::TooSlow(_) => StatusCode::REQUEST_TIMEOUT,
            Self::Read(_) => StatusCode::BAD_REQUEST,
            Self::Io(_) | Self::Task(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// MD5, SHA-1, SHA-256 and SHA-512 computed together as bytes go by. The SHA family comes
/// from aws-lc (linked for TLS already), whose optimized C keeps a debug build's upload path
/// (what the test suite runs) as fast as a release build's.
#[derive(Clone)]
pub struct Hashers {
    md5: md5::Md5,
    sha1: aws_lc_rs::digest::Context,
    sha256: aws_lc_rs::digest::Context,
    sha512: aws_lc_rs::digest::Context,
    size: u64,
}

impl std::fmt::Debug for Hashers {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Hashers").finish_non_exhaustive()
    }
}

impl Default for Hashers {
    fn default() -> Self {
        use aws_lc_rs::digest::{Context, SHA1_FOR_LEGACY_USE_ONLY, SHA256, SHA512};
        Self {
            md5: md5::Md5::default(),
            sha1: Context::new(&SHA1_FOR_LEGACY_USE_ONLY),
            sha256: Context::new(&SHA256),
            sha512: Context::new(&SHA512),
            size: 0,
        }
    }
}

impl Hashers {
    /// Feed bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        self.sha1.update(data);
        self.sha256.update(data);
        self.sha512.update(data);
        self.size += data.len() as u64;
    }

    /// The hex digests.
    #[must_use]
    pub fn finish(self) -> Digests {
        Digests {
            md5: hex::encode(self.md5.finalize()),
            sha1: hex::encode(self.sha1.finish()),
            sha256: hex::encode(self.sha256.finish()),
            sha512: hex::encode(self.sha512.finish()),
            size: self.size,
        }
    }
}

/// A locked temp file being written, with its digests and size so far.
#[derive(Debug)]
pub struct SpoolWriter {
    file: tempfile::NamedTempFile,
    hashers: Hashers,
    size: u64,
    limit: u64,
}

impl SpoolWriter {
    /// A new temp file in `tmp`, locked, that refuses to grow past `limit` bytes.
    ///
    /// # Errors
    /// I/O errors creating or locking it.
    pub fn create(tmp: &Path, limit: u64) -> std::io::Result<Self> {
        let file = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(tmp)?;
        // Held until the file is closed: the sweep leaves it alone meanwhile.
        fs4::fs_std::FileExt::try_lock_exclusive(file.as_file())?;
        Ok(Self {
            file,
            hashers: Hashers::default(),
            size: 0,
            limit,
        })
    }

    /// Append bytes.
    ///
    /// # Errors
    /// [`BodyError::TooLarge`] past the limit (nothing of `data` is written), I/O errors.
    pub fn write(&mut self, data: &[u8]) -> Result<(), BodyError> {
        if self.size + data.len() as u64 > self.limit {
            return Err(BodyError::TooLarge { limit: self.limit });
        }
        self.file.as_file_mut().write_all(data)?;
        self.hashers.update(data);
        self.size += data.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    #[must_use]
    pub const fn size(&self) -> u64 {
        self.size
    }

    /// Done writing.
    #[must_use]
    pub fn finish(self) -> Spool {
        Spool {
            file: self.file,
            size: self.size,
            digests: self.hashers.finish(),
        }
    }
}

/// A complete body (or part of one) in a locked temp file, with its digests. Dropping it
/// deletes the file; [`super::store::Store::put_spool`] moves it into the blob store.
#[derive(Debug)]
pub struct Spool {
    file: tempfile::NamedTempFile,
    size: u64,
    digests: Digests,
}

impl Spool {
    /// Length in bytes.
    #[must_use]
    pub const fn size(&self) -> u64 {
        self.size
    }

    /// MD5, SHA-1, SHA-256 and SHA-512 of the content.
    #[must_use]
    pub const fn digests(&self) -> &Digests {
        &self.digests
    }

    /// Where it is.
    #[must_use]
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// A new reader positioned at the start.
    ///
    /// # Errors
    /// I/O errors.
    pub fn reader(&self) -> std::io::Result<std::fs::File> {
        self.file.reopen()
    }

    /// The whole content in memory: only for spools already capped small.
    ///
    /// # Errors
    /// I/O errors.
    pub fn read_all(&self) -> std::io::Result<Vec<u8>> {
        let mut bytes = Vec::with_capacity(usize::try_from(self.size).unwrap_or(0));
        self.reader()?.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// The temp file, to persist or drop.
    #[must_use]
    pub fn into_file(self) -> tempfile::NamedTempFile {
        self.file
    }
}

/// `Content-Length` (when sent) over `limit` refuses the body before a byte is read.
fn check_declared_length(body: &Body, limit: u64) -> Result<(), BodyError> {
    if axum::body::HttpBody::size_hint(body).lower() > limit {
        return Err(BodyError::TooLarge { limit });
    }
    Ok(())
}

/// Reads a body frame by frame, enforcing the stall timeout and the minimum rate.
struct Frames {
    body: Body,
    limits: Limits,
    started: Instant,
    received: u64,
    limit: u64,
}

impl Frames {
    fn new(body: Body, limit: u64, limits: Limits) -> Result<Self, BodyError> {
        check_declared_length(&body, limit)?;
        Ok(Self {
            body,
            limits,
            started: Instant::now(),
            received: 0,
            limit,
        })
    }

    /// The next data chunk, `None` at the end.
    async fn next(&mut self) -> Result<Option<Bytes>, BodyError> {
        loop {
            let frame =
                match tokio::time::timeout(self.limits.body_timeout, self.body.frame()).await {
                    Err(_) => return Err(BodyError::Stalled(self.limits.body_timeout)),
                    Ok(None) => return Ok(None),
                    Ok(Some(Err(error))) => return Err(BodyError::Read(error.to_string())),
                    Ok(Some(Ok(frame))) => frame,
                };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            self.received += data.len() as u64;
            if self.received > self.limit {
                return Err(BodyError::TooLarge { limit: self.limit });
            }
            let elapsed = self.started.elapsed();
            if elapsed > self.limits.body_timeout
                && u128::from(self.received) * 1000
                    < u128::from(self.limits.min_body_rate) * elapsed.as_millis()
            {
                return Err(BodyError::TooSlow(self.limits.min_body_rate));
            }
            return Ok(Some(data));
        }
    }
}

/// Stream a request body into a locked temp file in `tmp`, hashing it, refusing more than
/// `limit` bytes. Memory use is bounded by one write chunk whatever the body's size.
///
/// # Errors
/// [`BodyError`]: too large (413), stalled or too slow (408), broken (400), I/O (500). The
/// temp file is removed on every error.
pub async fn spool(tmp: &Path, body: Body, limit: u64, limits: Limits) -> Result<Spool, BodyError> {
    let mut frames = Frames::new(body, limit, limits)?;
    let directory = tmp.to_path_buf();
    let mut writer = blocking(move || Ok(SpoolWriter::create(&directory, limit)?)).await?;
    let mut buffer: Vec<u8> = Vec::with_capacity(WRITE_CHUNK);
    while let Some(data) = frames.next().await? {
        buffer.extend_from_slice(&data);
        if buffer.len() >= WRITE_CHUNK {
            (writer, buffer) = blocking(move || {
                writer.write(&buffer)?;
                buffer.clear();
                Ok((writer, buffer))
            })
            .await?;
        }
    }
    blocking(move || {
        writer.write(&buffer)?;
        Ok(writer.finish())
    })
    .await
}

/// Read a body that is capped small (control-plane JSON, dist-tags, Maven metadata) into
/// memory, with the same timeouts as [`spool`].
///
/// # Errors
/// As [`spool`].
pub async fn read_small(body: Body, limit: u64, limits: Limits) -> Result<Bytes, BodyError> {
    let mut frames = Frames::new(body, limit, limits)?;
    let mut bytes = Vec::new();
    while let Some(data) = frames.next().await? {
        bytes.extend_from_slice(&data);
    }
    Ok(Bytes::from(bytes))
}

/// Run blocking file work off the async threads.
///
/// # Errors
/// The work's error, or [`BodyError::Task`].
pub async fn blocking<T, F>(work: F) -> Result<T, BodyError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, BodyError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| BodyError::Task(error.to_string()))?
}

/// Copy `length` bytes of `reader` into a new spool in `tmp` (capped at `limit`).
///
/// # Errors
/// I/O errors, [`BodyError::TooLarge`].
pub fn copy_to_spool(
    reader: &mut impl std::io::Read,
    tmp: &Path,
    limit: u64,
) -> Result<Spool, BodyError> {
    let mut writer = SpoolWriter::create(tmp, limit)?;
    let mut buffer = vec![0_u8; 64 * 1024];
    loop {
        let read = reader.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        writer.write(&buffer[..read])?;
    }
    Ok(writer.finish())
}

/// Remove every temp file in `tmp` whose writer is gone (its lock is free), and report how
/// many. Files being written, by this process or another sharing the data directory, hold
/// their lock and are left alone.
#[must_use]
pub fn sweep_tmp(tmp: &Path) -> usize {
    let Ok(entries) = fs_err::read_dir(tmp) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path: PathBuf = entry.path();
        if !entry.file_type().is_ok_and(|kind| kind.is_file()) {
            continue;
        }
        let Ok(file) = fs_err::File::open(&path) else {
            continue;
        };
        // A file that cannot be locked right now is being written.
        if !fs4::fs_std::FileExt::try_lock_exclusive(file.file()).unwrap_or(false) {
            continue;
        }
        match fs_err::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => tracing::warn!(error = %error, "failed to remove an abandoned upload"),
        }
    }
    if removed > 0 {
        tracing::info!(removed, "removed abandoned upload temp files");
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_removes_abandoned_temp_files_and_keeps_locked_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut writing = SpoolWriter::create(dir.path(), 100).unwrap();
        writing.write(b"in progress").unwrap();
        // What a crashed writer leaves: a file nobody holds a lock on.
        let abandoned = dir.path().join(format!("{TEMP_PREFIX}crashed"));
        fs_err::write(&abandoned, b"half").unwrap();
        assert_eq!(sweep_tmp(dir.path()), 1);
        assert!(!abandoned.exists());
        let spool = writing.finish();
        assert!(spool.path().exists(), "a file being written is kept");
        assert_eq!(spool.read_all().unwrap(), b"in progress");
        assert_eq!(spool.digests(), &Digests::of(b"in progress"));
        let path = spool.path().to_path_buf();
        drop(spool);
        assert!(!path.exists(), "dropping a spool deletes its file");
    }

    #[test]
    fn a_spool_refuses_to_grow_past_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = SpoolWriter::create(dir.path(), 4).unwrap();
        writer.write(b"abcd").unwrap();
        assert!(matches!(
            writer.write(b"e"),
            Err(BodyError::TooLarge { limit: 4 })
        ));
        assert_eq!(writer.size(), 4);
    }
}
