//! The content-addressed store under `<lading cache>/store-v1/` that `lading restore` fills
//! once and links from on every later run, across projects.
//!
//! Blobs are keyed by the hex SHA-512 of their bytes (`sha512/ab/cd/<rest>`). Lockfiles pin
//! other algorithms too (npm's old `sha1-`, pip's sha256, Maven's sha1, NuGet's base64
//! sha512), so `alias/<algorithm>/<hex>` maps any verified digest to the blob's SHA-512, and
//! `url/<sha256 of the URL>` remembers documents that have no pinned digest (npm packuments).
//!
//! Nothing unverified ever lands here: a download streams into `tmp/` while it is hashed
//! ([`Staged`]), so an artifact never sits whole in memory; only when its digests match
//! what the caller expects is it fsynced and renamed into place ([`Store::commit`]), and a
//! mismatch deletes the temp file. Two restores writing
//! the same blob race harmlessly (same name, same bytes, atomic rename); aliases are written
//! the same way and only after their blob, but not fsynced: an alias is checked when read
//! (the hex SHA-512 of a blob that exists), so one a crash left empty or torn is a miss
//! and is rewritten by the next restore that verifies the blob.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha1::Digest as _;

/// The store's format version, part of its directory name and of `lading cache-key`.
pub const STORE_VERSION: &str = "store-v1";

/// A digest algorithm lockfiles use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Algorithm {
    /// SHA-1 (old npm integrity, Maven sidecars).
    Sha1,
    /// SHA-256 (pip hashes, maven-lockfile).
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512 (npm integrity, NuGet contentHash).
    Sha512,
}

impl Algorithm {
    /// The lowercase name npm's SRI and the store use (`sha512`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    /// Parse `sha512`, `SHA-256`, `sha1`...
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().replace('-', "").as_str() {
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            "sha384" => Some(Self::Sha384),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// Hash `data`.
    #[must_use]
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// An incremental hash in one of the algorithms.
#[derive(Debug, Clone)]
enum Hasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Sha1 => Self::Sha1(sha1::Sha1::new()),
            Algorithm::Sha256 => Self::Sha256(sha2::Sha256::new()),
            Algorithm::Sha384 => Self::Sha384(sha2::Sha384::new()),
            Algorithm::Sha512 => Self::Sha512(sha2::Sha512::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha1(hasher) => hasher.update(data),
            Self::Sha256(hasher) => hasher.update(data),
            Self::Sha384(hasher) => hasher.update(data),
            Self::Sha512(hasher) => hasher.update(data),
        }
    }

    fn finish(self) -> Digest {
        let (algorithm, bytes) = match self {
            Self::Sha1(hasher) => (Algorithm::Sha1, hasher.finalize().to_vec()),
            Self::Sha256(hasher) => (Algorithm::Sha256, hasher.finalize().to_vec()),
            Self::Sha384(hasher) => (Algorithm::Sha384, hasher.finalize().to_vec()),
            Self::Sha512(hasher) => (Algorithm::Sha512, hasher.finalize().to_vec()),
        };
        Digest { algorithm, bytes }
    }
}

/// A download on its way into the store: written to a temp file in `tmp/` and hashed
/// (SHA-512 and every algorithm asked for) as it arrives. [`Store::commit`] moves it into
/// place once its digests are checked; dropping it deletes the file.
#[derive(Debug)]
pub struct Staged {
    file: tempfile::NamedTempFile,
    algorithms: Vec<Algorithm>,
    hashers: Vec<Hasher>,
    size: u64,
}

impl Staged {
    /// Its temp file.
    #[must_use]
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Bytes written so far.
    #[must_use]
    pub const fn size(&self) -> u64 {
        self.size
    }

    /// The digests of what was written, SHA-512 first.
    #[must_use]
    pub fn digests(&self) -> Vec<Digest> {
        self.hashers.iter().cloned().map(Hasher::finish).collect()
    }

    /// Check what was written against every expected digest (as [`verify`]).
    ///
    /// # Errors
    /// `(expected, actual)` of the first digest that does not match.
    pub fn verify(&self, expected: &[Digest]) -> Result<(), Box<(Digest, Digest)>> {
        let actual = self.digests();
        for digest in expected {
            let Some(found) = actual
                .iter()
                .find(|found| found.algorithm == digest.algorithm)
            else {
                continue;
            };
            if found != digest {
                return Err(Box::new((digest.clone(), found.clone())));
            }
        }
        Ok(())
    }
}

impl crate::http::BodySink for Staged {
    fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        std::io::Write::write_all(self.file.as_file_mut(), chunk)?;
        for hasher in &mut self.hashers {
            hasher.update(chunk);
        }
        self.size += chunk.len() as u64;
        Ok(())
    }

    fn reset(&mut self) -> std::io::Result<()> {
        use std::io::Seek as _;
        let file = self.file.as_file_mut();
        file.set_len(0)?;
        file.rewind()?;
        self.hashers = self.algorithms.iter().copied().map(Hasher::new).collect();
        self.size = 0;
        Ok(())
    }
}

/// A digest: algorithm and raw bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The raw digest.
    pub bytes: Vec<u8>,
}

impl Digest {
    /// Hash `data`.
    #[must_use]
    pub fn of(algorithm: Algorithm, data: &[u8]) -> Self {
        Self {
            algorithm,
            bytes: algorithm.hash(data),
        }
    }

    /// From a hex string (any case); `None` when it is not hex of the right length.
    #[must_use]
    pub fn from_hex(algorithm: Algorithm, hex_text: &str) -> Option<Self> {
        let bytes = hex::decode(hex_text.trim().to_ascii_lowercase()).ok()?;
        (bytes.len() == algorithm.hash(b"").len()).then_some(Self { algorithm, bytes })
    }

    /// From standard base64; `None` when invalid.
    #[must_use]
    pub fn from_base64(algorithm: Algorithm, text: &str) -> Option<Self> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok()?;
        (bytes.len() == algorithm.hash(b"").len()).then_some(Self { algorithm, bytes })
    }

    /// Parse an SRI string (`sha512-<base64> sha1-<base64>`): every hash with a known
    /// algorithm, strongest first. Unknown algorithms are skipped, as npm's ssri does.
    #[must_use]
    pub fn parse_sri(text: &str) -> Vec<Self> {
        let mut digests: Vec<Self> = text
            .split_whitespace()
            .filter_map(|part| {
                let (algorithm, rest) = part.split_once('-')?;
                let base64 = rest.split('?').next().unwrap_or(rest);
                Self::from_base64(Algorithm::parse(algorithm)?, base64)
            })
            .collect();
        digests.sort_by_key(|digest| std::cmp::Reverse(digest.algorithm));
        digests.dedup();
        digests
    }

    /// Lowercase hex.
    #[must_use]
    pub fn hex(&self) -> String {
        hex::encode(&self.bytes)
    }

    /// Standard base64.
    #[must_use]
    pub fn base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.bytes)
    }

    /// SRI form (`sha512-<base64>`).
    #[must_use]
    pub fn sri(&self) -> String {
        format!("{}-{}", self.algorithm.name(), self.base64())
    }

    /// Whether `data` hashes to this digest.
    #[must_use]
    pub fn matches(&self, data: &[u8]) -> bool {
        self.algorithm.hash(data) == self.bytes
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}:{}", self.algorithm.name(), self.hex())
    }
}

/// Check `data` against every expected digest; on the first mismatch return the expected
/// digest and the actual one in the same algorithm.
///
/// # Errors
/// `(expected, actual)` of the first digest that does not match.
pub fn verify(data: &[u8], expected: &[Digest]) -> Result<(), Box<(Digest, Digest)>> {
    for digest in expected {
        if !digest.matches(data) {
            return Err(Box::new((
                digest.clone(),
                Digest::of(digest.algorithm, data),
            )));
        }
    }
    Ok(())
}

/// A blob in the store.
#[derive(Debug, Clone)]
pub struct Blob {
    /// Its path in the store (hard-link or copy it out; never modify it).
    pub path: PathBuf,
    /// Its SHA-512.
    pub sha512: Digest,
    /// Its size in bytes.
    pub size: u64,
}

/// The content-addressed store.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// The store under `cache_dir` (`<cache_dir>/store-v1`).
    #[must_use]
    pub fn new(cache_dir: &Path) -> Self {
        Self {
            root: cache_dir.join(STORE_VERSION),
        }
    }

    /// Its root directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blob_path(&self, sha512_hex: &str) -> PathBuf {
        self.root
            .join("sha512")
            .join(&sha512_hex[0..2])
            .join(&sha512_hex[2..4])
            .join(&sha512_hex[4..])
    }

    fn alias_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("alias")
            .join(digest.algorithm.name())
            .join(digest.hex())
    }

    fn url_path(&self, url: &str) -> PathBuf {
        self.root
            .join("url")
            .join(hex::encode(sha2::Sha256::digest(url.as_bytes())))
    }

    fn blob(&self, sha512: Digest) -> Option<Blob> {
        let path = self.blob_path(&sha512.hex());
        let size = fs_err::metadata(&path).ok()?.len();
        Some(Blob { path, sha512, size })
    }

    fn resolve_alias(&self, path: &Path) -> Option<Blob> {
        let text = fs_err::read_to_string(path).ok()?;
        self.blob(Digest::from_hex(Algorithm::Sha512, &text)?)
    }

    /// The blob whose digest is `digest`, if stored (SHA-512 directly, others by alias).
    #[must_use]
    pub fn find(&self, digest: &Digest) -> Option<Blob> {
        if digest.algorithm == Algorithm::Sha512 {
            return self.blob(digest.clone());
        }
        self.resolve_alias(&self.alias_path(digest))
    }

    fn named_path(&self, namespace: &str, digest: &Digest) -> PathBuf {
        self.root.join("alias").join(namespace).join(digest.hex())
    }

    /// The blob recorded with [`Store::alias_named`] under `digest` in `namespace`: for
    /// digests computed otherwise than over all of a blob's bytes (NuGet's content hash
    /// of a signed package).
    #[must_use]
    pub fn find_named(&self, namespace: &str, digest: &Digest) -> Option<Blob> {
        self.resolve_alias(&self.named_path(namespace, digest))
    }

    /// Record `blob` under `digest` in `namespace` (see [`Store::find_named`]).
    ///
    /// # Errors
    /// I/O errors, naming the path.
    pub fn alias_named(
        &self,
        namespace: &str,
        digest: &Digest,
        blob: &Blob,
    ) -> std::io::Result<()> {
        let path = self.named_path(namespace, digest);
        if self.resolve_alias(&path).is_none() {
            self.write_new(&path, blob.sha512.hex().as_bytes(), false)?;
        }
        Ok(())
    }

    /// The blob last stored for `url` with [`Store::insert_for_url`].
    #[must_use]
    pub fn find_url(&self, url: &str) -> Option<Blob> {
        self.resolve_alias(&self.url_path(url))
    }

    /// Store `data`, already verified by the caller, and alias it under `digests`.
    ///
    /// # Errors
    /// I/O errors, naming the path.
    pub fn insert(&self, data: &[u8], digests: &[Digest]) -> std::io::Result<Blob> {
        let sha512 = Digest::of(Algorithm::Sha512, data);
        let path = self.blob_path(&sha512.hex());
        if !path.exists() {
            self.write_new(&path, data, true)?;
        }
        self.alias_all(&sha512, digests)?;
        Ok(Blob {
            path,
            sha512,
            size: data.len() as u64,
        })
    }

    /// Start a download into `tmp/`, hashed in SHA-512 and in each of `algorithms`.
    ///
    /// # Errors
    /// I/O errors creating the temp file.
    pub fn stage(&self, algorithms: &[Algorithm]) -> std::io::Result<Staged> {
        let temp_dir = self.root.join("tmp");
        fs_err::create_dir_all(&temp_dir)?;
        let file = tempfile::Builder::new()
            .prefix("download-")
            .tempfile_in(&temp_dir)?;
        let mut all = vec![Algorithm::Sha512];
        for algorithm in algorithms {
            if !all.contains(algorithm) {
                all.push(*algorithm);
            }
        }
        Ok(Staged {
            file,
            hashers: all.iter().copied().map(Hasher::new).collect(),
            algorithms: all,
            size: 0,
        })
    }

    /// Move a staged download, verified by the caller, into place (fsynced, then renamed)
    /// and alias it under `digests`.
    ///
    /// # Errors
    /// I/O errors, naming the path.
    pub fn commit(&self, staged: Staged, digests: &[Digest]) -> std::io::Result<Blob> {
        let sha512 = staged
            .digests()
            .into_iter()
            .next()
            .unwrap_or_else(|| Digest::of(Algorithm::Sha512, b""));
        let path = self.blob_path(&sha512.hex());
        let size = staged.size;
        if !path.exists() {
            if let Some(parent) = path.parent() {
                fs_err::create_dir_all(parent)?;
            }
            staged.file.as_file().sync_all()?;
            persist(staged.file, &path)?;
        }
        self.alias_all(&sha512, digests)?;
        Ok(Blob { path, sha512, size })
    }

    /// Record the blob `sha512` under every other digest of it.
    fn alias_all(&self, sha512: &Digest, digests: &[Digest]) -> std::io::Result<()> {
        let hex_text = sha512.hex();
        for digest in digests {
            if digest.algorithm != Algorithm::Sha512 {
                let alias = self.alias_path(digest);
                if self.resolve_alias(&alias).is_none() {
                    self.write_new(&alias, hex_text.as_bytes(), false)?;
                }
            }
        }
        Ok(())
    }

    /// Store a document that has no pinned digest (a packument) and remember it by URL.
    ///
    /// # Errors
    /// I/O errors, naming the path.
    pub fn insert_for_url(&self, url: &str, data: &[u8]) -> std::io::Result<Blob> {
        let blob = self.insert(data, &[])?;
        self.write_new(&self.url_path(url), blob.sha512.hex().as_bytes(), false)?;
        Ok(blob)
    }

    /// Write through `tmp/` and rename, so readers never see a partial file; with `sync`,
    /// fsynced before the rename, so a crash cannot leave a torn file under the name.
    fn write_new(&self, path: &Path, data: &[u8], sync: bool) -> std::io::Result<()> {
        let temp_dir = self.root.join("tmp");
        fs_err::create_dir_all(&temp_dir)?;
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent)?;
        }
        let mut temp = tempfile::Builder::new()
            .prefix("blob-")
            .tempfile_in(&temp_dir)?;
        std::io::Write::write_all(&mut temp, data)?;
        if sync {
            temp.as_file().sync_all()?;
        }
        persist(temp, path)
    }
}

/// Rename a written temp file to `path`, the error naming `path`.
fn persist(temp: tempfile::NamedTempFile, path: &Path) -> std::io::Result<()> {
    temp.persist(path).map_err(|error| {
        std::io::Error::new(
            error.error.kind(),
            format!(
                "failed to move a blob into `{}`: {}",
                path.display(),
                error.error
            ),
        )
    })?;
    Ok(())
}

/// Place a content-addressed `source` at `target`, whose name is its digest: a hard link
/// made straight at the name (complete the moment it appears), creating the parent only
/// when the link says it is missing; an existing target already holds these bytes and is
/// kept. Across filesystems it falls back to [`link_or_copy`]. One `link` call where
/// `link_or_copy` makes four: a warm npm restore places hundreds of files this way.
///
/// # Errors
/// I/O errors, naming the path.
pub fn link_new(source: &Path, target: &Path) -> std::io::Result<()> {
    let linked = match fs_err::hard_link(source, target) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = target.parent() {
                fs_err::create_dir_all(parent)?;
            }
            fs_err::hard_link(source, target)
        }
        other => other,
    };
    match linked {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(_) => link_or_copy(source, target),
    }
}

/// Place `source` at `target`: a hard link when both are on one filesystem, else a copy;
/// either way through a temp name in the target directory and a rename, so the target is
/// never half-written. An existing target is replaced.
///
/// # Errors
/// I/O errors, naming the path.
pub fn link_or_copy(source: &Path, target: &Path) -> std::io::Result<()> {
    let parent = target.parent().unwrap_or_else(|| Path::new("."));
    fs_err::create_dir_all(parent)?;
    let temp = parent.join(format!(
        ".lading-tmp-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    ));
    if fs_err::hard_link(source, &temp).is_err() {
        fs_err::copy(source, &temp)?;
    }
    fs_err::rename(&temp, target).inspect_err(|_| {
        let _ = fs_err::remove_file(&temp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What is left in the store's `tmp/` under cache dir `dir`.
    fn tmp_entries(dir: &Path) -> usize {
        fs_err::read_dir(dir.join("store-v1/tmp")).unwrap().count()
    }

    #[test]
    fn sri_parses_strongest_first_and_skips_unknown() {
        let data = b"hello";
        let sri = format!(
            "{} md5-xyz {}",
            Digest::of(Algorithm::Sha1, data).sri(),
            Digest::of(Algorithm::Sha512, data).sri()
        );
        let digests = Digest::parse_sri(&sri);
        assert_eq!(digests.len(), 2);
        assert_eq!(digests[0].algorithm, Algorithm::Sha512);
        assert!(verify(data, &digests).is_ok());
        let (expected, actual) = *verify(b"other", &digests).unwrap_err();
        assert_eq!(expected.algorithm, Algorithm::Sha512);
        assert_eq!(actual, Digest::of(Algorithm::Sha512, b"other"));
    }

    #[test]
    fn store_finds_by_sha512_alias_and_url() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let data = b"blob";
        let sha256 = Digest::of(Algorithm::Sha256, data);
        assert!(store.find(&sha256).is_none());
        let blob = store.insert(data, std::slice::from_ref(&sha256)).unwrap();
        assert_eq!(fs_err::read(&blob.path).unwrap(), data);
        assert_eq!(store.find(&sha256).unwrap().path, blob.path);
        assert_eq!(
            store
                .find(&Digest::of(Algorithm::Sha512, data))
                .unwrap()
                .size,
            4
        );
        store.insert_for_url("http://x/a", b"doc").unwrap();
        assert_eq!(
            fs_err::read(store.find_url("http://x/a").unwrap().path).unwrap(),
            b"doc"
        );
        assert!(store.find_url("http://x/b").is_none());
        // Re-inserting is a no-op, and nothing is left in tmp/.
        store.insert(data, &[sha256]).unwrap();
        assert_eq!(tmp_entries(dir.path()), 0);
    }

    #[test]
    fn a_torn_alias_or_url_record_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let sha1 = Digest::of(Algorithm::Sha1, b"blob");
        store.insert(b"blob", std::slice::from_ref(&sha1)).unwrap();
        store.insert_for_url("http://x/a", b"doc").unwrap();
        // What a crash can leave of an alias written without an fsync: nothing, or part.
        fs_err::write(store.alias_path(&sha1), "").unwrap();
        assert!(store.find(&sha1).is_none());
        let url_record = store.url_path("http://x/a");
        let text = fs_err::read_to_string(&url_record).unwrap();
        fs_err::write(&url_record, &text[..text.len() / 2]).unwrap();
        assert!(store.find_url("http://x/a").is_none());
        // The next restore downloads again and rewrites it.
        store.insert(b"blob", std::slice::from_ref(&sha1)).unwrap();
        assert!(store.find(&sha1).is_some());
    }

    #[test]
    fn a_staged_download_is_hashed_as_it_streams_and_reset_by_a_retry() {
        use crate::http::BodySink as _;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let data = b"the whole artifact, in three chunks".to_vec();
        let expected = [
            Digest::of(Algorithm::Sha1, &data),
            Digest::of(Algorithm::Sha256, &data),
        ];
        let mut staged = store.stage(&[Algorithm::Sha1, Algorithm::Sha256]).unwrap();
        // A first attempt that broke off, then the retry from the start.
        staged.write(b"the whole art").unwrap();
        staged.reset().unwrap();
        for chunk in data.chunks(13) {
            staged.write(chunk).unwrap();
        }
        assert_eq!(staged.size(), data.len() as u64);
        staged.verify(&expected).unwrap();
        let blob = store.commit(staged, &expected).unwrap();
        assert_eq!(fs_err::read(&blob.path).unwrap(), data);
        assert_eq!(blob.sha512, Digest::of(Algorithm::Sha512, &data));
        assert_eq!(store.find(&expected[0]).unwrap().path, blob.path);
        assert_eq!(store.find(&expected[1]).unwrap().path, blob.path);
        assert_eq!(tmp_entries(dir.path()), 0);
    }

    #[test]
    fn a_staged_download_that_does_not_verify_leaves_nothing() {
        use crate::http::BodySink as _;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let expected = [Digest::of(Algorithm::Sha256, b"what the lockfile pins")];
        let mut staged = store.stage(&[Algorithm::Sha256]).unwrap();
        staged.write(b"other bytes").unwrap();
        let (wanted, actual) = *staged.verify(&expected).unwrap_err();
        assert_eq!(wanted, expected[0]);
        assert_eq!(actual, Digest::of(Algorithm::Sha256, b"other bytes"));
        drop(staged);
        assert_eq!(tmp_entries(dir.path()), 0);
        assert!(!dir.path().join("store-v1/sha512").exists());
    }

    #[test]
    fn link_new_creates_parents_and_keeps_an_existing_target() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("blob");
        fs_err::write(&source, b"content").unwrap();
        let target = dir.path().join("a/b/c/blob");
        link_new(&source, &target).unwrap();
        assert_eq!(fs_err::read(&target).unwrap(), b"content");
        // Already there: kept, no error.
        link_new(&source, &target).unwrap();
        assert_eq!(fs_err::read(&target).unwrap(), b"content");
        // A missing source is an error, not a silent success.
        assert!(link_new(&dir.path().join("missing"), &dir.path().join("x/y")).is_err());
    }

    #[test]
    fn link_or_copy_replaces_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("a");
        fs_err::write(&source, "new").unwrap();
        let target = dir.path().join("x/y/b");
        fs_err::create_dir_all(target.parent().unwrap()).unwrap();
        fs_err::write(&target, "old").unwrap();
        link_or_copy(&source, &target).unwrap();
        assert_eq!(fs_err::read_to_string(&target).unwrap(), "new");
    }
}
