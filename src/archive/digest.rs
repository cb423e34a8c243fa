//! Several digests of one byte stream, computed in a single pass.
//!
//! Repositories and provenance want different algorithms (npm sha512 integrity, Maven sha1
//! and md5 sidecars, SHA256SUMS, in-toto sha256), so every output is hashed once with all of
//! them rather than read four times.

use std::io::Write;

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest as _, Sha256, Sha512};

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
        let mut hasher = MultiHasher::default();
        hasher.update(bytes);
        hasher.finish()
    }

    /// Hash a file, streaming it once.
    ///
    /// # Errors
    /// I/O errors, naming the path.
    pub fn of_file(path: &std::path::Path) -> std::io::Result<Self> {
        let mut file = fs_err::File::open(path)?;
        let mut hasher = MultiHasher::default();
        std::io::copy(&mut file, &mut hasher)?;
        Ok(hasher.finish())
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
}
