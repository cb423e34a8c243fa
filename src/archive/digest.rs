//! Several digests of one byte stream, computed in a single pass.
//!
//! Repositories and provenance want different algorithms (npm sha512 integrity, Maven sha1
//! and md5 sidecars, SHA256SUMS, in-toto sha256), so every output is hashed once with all of
//! them rather than read four times.

use std::io::{Read as _, Write};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{Scope, ScopedJoinHandle};

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

/// Inputs at least this big are hashed on one thread per algorithm: SHA-512 and MD5 each
/// take about as long as the others together, so four threads finish in about half the time
/// on two cores, and a quarter on four.
#[cfg(not(test))]
const PARALLEL_FROM: usize = 4 << 20;
/// Small in unit tests, which run unoptimised; `tests/it/pack.rs` covers the real threshold.
#[cfg(test)]
const PARALLEL_FROM: usize = 64 << 10;

/// Read size when hashing a file on several threads.
const CHUNK: usize = 1 << 20;

/// A thread hashing the chunks it is sent with `D`, returning lowercase hex.
fn hash_thread<'scope, D: Digest + Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
) -> (SyncSender<Arc<Vec<u8>>>, ScopedJoinHandle<'scope, String>) {
    let (sender, receiver): (_, Receiver<Arc<Vec<u8>>>) = sync_channel(4);
    let handle = scope.spawn(move || {
        let mut hasher = D::new();
        for chunk in receiver {
            hasher.update(chunk.as_slice());
        }
        hex::encode(hasher.finalize())
    });
    (sender, handle)
}

fn joined(handle: ScopedJoinHandle<'_, String>) -> String {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Lowercase-hex digests of one file, and its size.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Digests {
    /// SHA-256.
    pub sha256: String,
    /// SHA-512.
    pub sha512: String,
    /// SHA-1 (Maven sidecars; not for trust decisions).
    pub sha1: String,
    /// MD5 (Maven sidecars; not for trust decisions).
    pub md5: String,
    /// Size in bytes.
    pub size: u64,
}

impl Digests {
    /// Hash a byte slice.
    ///
    /// ```
    /// let digests = lading::archive::Digests::of(b"abc");
    /// assert_eq!(digests.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /// assert_eq!(digests.md5, "900150983cd24fb0d6963f7d28e17f72");
    /// ```
    #[must_use]
    pub fn of(bytes: &[u8]) -> Self {
        if bytes.len() < PARALLEL_FROM {
            let mut hasher = MultiHasher::default();
            hasher.update(bytes);
            return hasher.finish();
        }
        std::thread::scope(|scope| {
            let sha512 = scope.spawn(|| hex::encode(Sha512::digest(bytes)));
            let md5 = scope.spawn(|| hex::encode(Md5::digest(bytes)));
            let sha1 = scope.spawn(|| hex::encode(Sha1::digest(bytes)));
            let sha256 = hex::encode(Sha256::digest(bytes));
            Self {
                sha256,
                sha512: joined(sha512),
                sha1: joined(sha1),
                md5: joined(md5),
                size: bytes.len() as u64,
            }
        })
    }

    /// Hash a file, reading it once (a big file on one thread per algorithm).
    ///
    /// # Errors
    /// I/O errors, naming the path.
    pub fn of_file(path: &std::path::Path) -> std::io::Result<Self> {
        let mut file = fs_err::File::open(path)?;
        if file.metadata()?.len() < PARALLEL_FROM as u64 {
            let mut hasher = MultiHasher::default();
            std::io::copy(&mut file, &mut hasher)?;
            return Ok(hasher.finish());
        }
        std::thread::scope(|scope| {
            let (sha256_chunks, sha256) = hash_thread::<Sha256>(scope);
            let (sha512_chunks, sha512) = hash_thread::<Sha512>(scope);
            let (sha1_chunks, sha1) = hash_thread::<Sha1>(scope);
            let (md5_chunks, md5) = hash_thread::<Md5>(scope);
            let mut size = 0_u64;
            let read = loop {
                let mut chunk = vec![0; CHUNK];
                let length = match file.read(&mut chunk) {
                    Ok(0) => break Ok(()),
                    Ok(length) => length,
                    Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(error) => break Err(error),
                };
                chunk.truncate(length);
                size += length as u64;
                let chunk = Arc::new(chunk);
                for sender in [&sha256_chunks, &sha512_chunks, &sha1_chunks, &md5_chunks] {
                    // A hashing thread only hangs up by panicking, which `joined` re-raises.
                    let _ = sender.send(Arc::clone(&chunk));
                }
            };
            drop((sha256_chunks, sha512_chunks, sha1_chunks, md5_chunks));
            let digests = Self {
                sha256: joined(sha256),
                sha512: joined(sha512),
                sha1: joined(sha1),
                md5: joined(md5),
                size,
            };
            read.map(|()| digests)
        })
    }

    /// The digests as an in-toto `DigestSet` (`sha256` and `sha512`; the weak ones are left out).
    #[must_use]
    pub fn digest_set(&self) -> std::collections::BTreeMap<String, String> {
        [
            ("sha256".to_owned(), self.sha256.clone()),
            ("sha512".to_owned(), self.sha512.clone()),
        ]
        .into_iter()
        .collect()
    }
}

/// A [`Write`] sink feeding SHA-256, SHA-512, SHA-1 and MD5 at once.
#[derive(Default)]
pub struct MultiHasher {
    sha256: Sha256,
    sha512: Sha512,
    sha1: Sha1,
    md5: Md5,
    size: u64,
}

impl MultiHasher {
    /// Feed bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.sha256.update(bytes);
        self.sha512.update(bytes);
        self.sha1.update(bytes);
        self.md5.update(bytes);
        self.size += bytes.len() as u64;
    }

    /// The digests of everything fed so far.
    #[must_use]
    pub fn finish(self) -> Digests {
        Digests {
            sha256: hex::encode(self.sha256.finalize()),
            sha512: hex::encode(self.sha512.finalize()),
            sha1: hex::encode(self.sha1.finalize()),
            md5: hex::encode(self.md5.finalize()),
            size: self.size,
        }
    }
}

impl Write for MultiHasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_matches_known_vectors() {
        let digests = Digests::of(b"");
        assert_eq!(
            digests.sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(digests.sha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(digests.md5, "d41d8cd98f00b204e9800998ecf8427e");
        assert!(digests.sha512.starts_with("cf83e1357eefb8bd"));
        assert_eq!(digests.size, 0);
    }

    #[test]
    fn big_inputs_hashed_on_several_threads_match_one_pass() {
        let bytes: Vec<u8> = (0..PARALLEL_FROM + 12_345)
            .map(|index| u8::try_from(index * 31 % 251).unwrap())
            .collect();
        let mut hasher = MultiHasher::default();
        hasher.update(&bytes);
        let expected = hasher.finish();
        assert_eq!(Digests::of(&bytes), expected);
        let temp = tempfile::NamedTempFile::new().unwrap();
        fs_err::write(temp.path(), &bytes).unwrap();
        assert_eq!(Digests::of_file(temp.path()).unwrap(), expected);
        fs_err::write(temp.path(), b"abc").unwrap();
        assert_eq!(Digests::of_file(temp.path()).unwrap(), Digests::of(b"abc"));
    }
}
