//! In-memory caches of `lading serve`'s read path: rendered metadata documents, index
//! lookups and authenticated tokens (verified blob bytes: [`super::blob_cache`]).
//!
//! Every cache here is bounded and can only make a read faster, never different:
//!
//! - [`GenerationCache`] holds values derived from the index, each tagged with the index
//!   generation ([`super::store::Store::generation`]) it was computed at; an entry from an
//!   older generation is a miss. The generation changes with every commit by any connection,
//!   of this process or another one sharing the data directory, so a publish, a status
//!   change or a new token is seen by the very next request.
//! - [`TokenCache`] remembers tokens found in the index for a short while; tokens are never
//!   revoked (only purged a day after they expire), and the expiry is checked on every hit.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use sha2::Digest as _;

use super::blob_cache::lock;
use super::store::{AssetRow, PackageKey, TokenRow, VersionRow};

/// The caches of one server.
#[derive(Debug)]
pub struct ReadCaches {
    /// Tokens found in the index.
    pub tokens: TokenCache,
    /// Whether `(domain, repository)` exists.
    pub repositories: GenerationCache<(String, String), bool>,
    /// Rendered metadata documents (npm packuments, ...).
    pub documents: GenerationCache<DocumentKey, Arc<Document>>,
    /// Where a package's asset (by file name) is, when the repository holds it.
    pub assets: GenerationCache<(PackageKey, String), Arc<(VersionRow, AssetRow)>>,
    /// The permissions policies of every domain and repository.
    pub policies: GenerationCache<(), Arc<super::policy::Policies>>,
}

impl Default for ReadCaches {
    fn default() -> Self {
        Self {
            tokens: TokenCache::default(),
            repositories: GenerationCache::new(1024),
            documents: GenerationCache::new(4096),
            assets: GenerationCache::new(16_384),
            policies: GenerationCache::new(1),
        }
    }
}

/// Identifies a rendered document: what it describes and everything else its bytes depend on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DocumentKey {
    /// The package it describes.
    pub package: PackageKey,
    /// Which rendering (e.g. `abbreviated` or `full` packument).
    pub variant: &'static str,
    /// The base URL the client reached the server at; links in the document start with it.
    pub base_url: String,
}

/// A rendered metadata document with its entity tag.
#[derive(Debug)]
pub struct Document {
    body: bytes::Bytes,
    content_type: HeaderValue,
    etag: HeaderValue,
}

impl Document {
    /// A document of `content_type`; its entity tag is a digest of the bytes.
    #[must_use]
    pub fn new(body: Vec<u8>, content_type: &'static str) -> Self {
        let digest = sha2::Sha256::digest(&body);
        let etag = HeaderValue::from_str(&format!("\"{}\"", hex::encode(&digest[..16])))
            .unwrap_or_else(|_| HeaderValue::from_static("\"\""));
        Self {
            body: bytes::Bytes::from(body),
            content_type: HeaderValue::from_static(content_type),
            etag,
        }
    }

    /// The entity tag, quoted.
    #[must_use]
    pub fn etag(&self) -> &HeaderValue {
        &self.etag
    }

    /// 304 when the request's `If-None-Match` names this document's entity tag, else 200
    /// with the document.
    #[must_use]
    pub fn respond(&self, request: &HeaderMap) -> Response {
        if let Some(response) = not_modified(request, &self.etag) {
            return response;
        }
        let mut response = self.body.clone().into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, self.content_type.clone());
        headers.insert(header::ETAG, self.etag.clone());
        response
    }
}

/// A 304 carrying `etag` when the request's `If-None-Match` names it.
#[must_use]
pub fn not_modified(request: &HeaderMap, etag: &HeaderValue) -> Option<Response> {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .any(|value| etag_matches(value.as_bytes(), etag.as_bytes()))
        .then(|| {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            response.headers_mut().insert(header::ETAG, etag.clone());
            response
        })
}

/// Whether an `If-None-Match` value (`*` or a list of entity tags, weak or strong) matches
/// `etag` under the weak comparison RFC 9110 prescribes for it.
fn etag_matches(if_none_match: &[u8], etag: &[u8]) -> bool {
    if_none_match.split(|byte| *byte == b',').any(|candidate| {
        let candidate = candidate.trim_ascii();
        candidate == b"*" || candidate.strip_prefix(b"W/").unwrap_or(candidate) == etag
    })
}

/// Values computed from the index, valid while the index generation they were computed at
/// is current. Bounded by entry count: when full, entries of older generations go first,
/// then everything.
#[derive(Debug)]
pub struct GenerationCache<K, V> {
    capacity: usize,
    entries: Mutex<HashMap<K, (u64, V)>>,
}

impl<K: Eq + Hash, V: Clone> GenerationCache<K, V> {
    /// An empty cache of at most `capacity` entries.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value for `key` if it was computed at `generation`.
    pub fn get(&self, key: &K, generation: u64) -> Option<V> {
        lock(&self.entries)
            .get(key)
            .filter(|(at, _)| *at == generation)
            .map(|(_, value)| value.clone())
    }

    /// Remember `value`, computed at `generation`.
    pub fn insert(&self, key: K, generation: u64, value: V) {
        let mut entries = lock(&self.entries);
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, (at, _)| *at == generation);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (generation, value));
    }
}

/// How long a token found in the index is trusted without looking again.
const TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(60);
/// Tokens remembered at most.
const TOKEN_CAPACITY: usize = 10_000;

/// Tokens recently found in the index, by their hash. Only tokens that exist are cached, so
/// one minted a moment ago (by this process or another) is always found.
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, (std::time::Instant, TokenRow)>>,
}

impl TokenCache {
    /// The row of a token looked up less than `TOKEN_TTL` ago.
    pub fn get(&self, hash: &str) -> Option<TokenRow> {
        lock(&self.entries)
            .get(hash)
            .filter(|(found, _)| found.elapsed() < TOKEN_TTL)
            .map(|(_, row)| row.clone())
    }

    /// Remember a token's row.
    pub fn insert(&self, hash: String, row: TokenRow) {
        let mut entries = lock(&self.entries);
        if entries.len() >= TOKEN_CAPACITY {
            entries.retain(|_, (found, _)| found.elapsed() < TOKEN_TTL);
            if entries.len() >= TOKEN_CAPACITY {
                entries.clear();
            }
        }
        entries.insert(hash, (std::time::Instant::now(), row));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_answer_if_none_match_with_304() {
        let document = Document::new(b"{}".to_vec(), "application/json");
        let etag = document.etag().to_str().unwrap().to_owned();
        assert!(
            etag.starts_with('"') && etag.ends_with('"') && etag.len() == 34,
            "{etag}"
        );
        let fresh = document.respond(&HeaderMap::new());
        assert_eq!(fresh.status(), StatusCode::OK);
        assert_eq!(fresh.headers()[header::ETAG], etag.as_str());
        assert_eq!(fresh.headers()[header::CONTENT_TYPE], "application/json");
        for value in [
            etag.clone(),
            format!("W/{etag}"),
            format!("\"other\", {etag}"),
            "*".to_owned(),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::IF_NONE_MATCH,
                HeaderValue::from_str(&value).unwrap(),
            );
            assert_eq!(
                document.respond(&headers).status(),
                StatusCode::NOT_MODIFIED,
                "{value}"
            );
        }
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert_eq!(document.respond(&headers).status(), StatusCode::OK);
    }

    #[test]
    fn generation_cache_misses_after_the_generation_changes() {
        let cache = GenerationCache::new(2);
        cache.insert("a", 1, "one");
        assert_eq!(cache.get(&"a", 1), Some("one"));
        assert_eq!(cache.get(&"a", 2), None);
        cache.insert("b", 2, "two");
        // Full: the entry of the old generation makes room.
        cache.insert("c", 2, "three");
        assert_eq!(cache.get(&"a", 1), None);
        assert_eq!(cache.get(&"b", 2), Some("two"));
        assert_eq!(cache.get(&"c", 2), Some("three"));
    }
}
