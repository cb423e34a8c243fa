//! npm's cache (`<cache>/_cacache`), written the way cacache 19 and make-fetch-happen 14 read
//! it, so `npm ci --offline` installs from what `lading restore` put there (PROTOCOLS.md
//! §2.5, checked by running npm 11).
//!
//! - content: `content-v2/<algo>/<hex[0:2]>/<hex[2:4]>/<hex[4:]>`, one file per algorithm
//!   the lockfile's SRI names (npm looks a `resolved` + `integrity` entry up by digest only);
//! - index: `index-v5/<h[0:2]>/<h[2:4]>/<h[4:]>` with `h = sha256(key)` and
//!   `key = make-fetch-happen:request-cache:<url>`, lines `\n<sha1(json)>\t<json>`; needed
//!   when the lockfile has no `resolved` (npm then asks for the packument with the
//!   abbreviated Accept header, which the entry must record, and for the tarball).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha1::Digest as _;

use crate::cas::Digest;

/// The Accept header npm sends for packuments while installing; a packument index entry
/// must carry exactly this or make-fetch-happen's cache match fails (`ENOTCACHED`).
pub const PACKUMENT_ACCEPT: &str =
    "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*";

/// Response headers make-fetch-happen keeps in an index entry.
const KEPT_RESPONSE_HEADERS: &[&str] = &[
    "cache-control",
    "content-encoding",
    "content-language",
    "content-type",
    "date",
    "etag",
    "expires",
    "last-modified",
    "link",
    "location",
    "pragma",
    "vary",
];

/// An npm cache directory (the `cache` config, e.g. `~/.npm`).
#[derive(Debug, Clone)]
pub struct NpmCache {
    cacache: PathBuf,
}

impl NpmCache {
    /// The cache at `npm_cache_dir` (its `_cacache` subdirectory is written).
    #[must_use]
    pub fn new(npm_cache_dir: &Path) -> Self {
        Self {
            cacache: npm_cache_dir.join("_cacache"),
        }
    }

    /// The `_cacache` directory.
    #[must_use]
    pub fn cacache(&self) -> &Path {
        &self.cacache
    }

    /// Where content with this digest lives.
    #[must_use]
    pub fn content_path(&self, digest: &Digest) -> PathBuf {
        let hex_text = digest.hex();
        self.cacache
            .join("content-v2")
            .join(digest.algorithm.name())
            .join(&hex_text[0..2])
            .join(&hex_text[2..4])
            .join(&hex_text[4..])
    }

    /// The index key for a URL.
    #[must_use]
    pub fn key(url: &str) -> String {
        format!("make-fetch-happen:request-cache:{url}")
    }

    /// The index bucket file for a key.
    #[must_use]
    pub fn bucket_path(&self, key: &str) -> PathBuf {
        let hash = hex::encode(sha2::Sha256::digest(key.as_bytes()));
        self.cacache
            .join("index-v5")
            .join(&hash[0..2])
            .join(&hash[2..4])
            .join(&hash[4..])
    }

    /// Place `source` (verified bytes) as content for every digest in `digests`.
    ///
    /// # Errors
    /// I/O errors, naming the path.
    pub fn put_content(&self, source: &Path, digests: &[Digest]) -> std::io::Result<()> {
        for digest in digests {
            crate::cas::link_new(source, &self.content_path(digest))?;
        }
        Ok(())
    }

    /// Whether the bucket for `url` already has a live entry with this integrity.
    #[must_use]
    pub fn has_entry(&self, url: &str, integrity: &str) -> bool {
        let key = Self::key(url);
        let Ok(text) = fs_err::read_to_string(self.bucket_path(&key)) else {
            return false;
        };
        text.lines()
            .filter_map(|line| line.split_once('\t'))
            .filter(|(hash, json)| hex::encode(sha1::Sha1::digest(json.as_bytes())) == *hash)
            .filter_map(|(_, json)| serde_json::from_str::<serde_json::Value>(json).ok())
            .rfind(|entry| entry["key"] == key.as_str())
            .is_some_and(|entry| entry["integrity"] == integrity)
    }

    /// Append an index entry for `url` (skipped when an identical live one exists). The
    /// caller holds the bucket lock ([`NpmCache::bucket_path`] keyed) when several
    /// processes may write.
    ///
    /// # Errors
    /// I/O errors, naming the path.
    pub fn put_index(
        &self,
        url: &str,
        integrity: &str,
        size: u64,
        request_headers: &serde_json::Map<String, serde_json::Value>,
        response_headers: &reqwest::header::HeaderMap,
    ) -> std::io::Result<()> {
        if self.has_entry(url, integrity) {
            return Ok(());
        }
        let key = Self::key(url);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(0));
        let mut kept = serde_json::Map::new();
        for name in KEPT_RESPONSE_HEADERS {
            if let Some(value) = response_headers
                .get(*name)
                .and_then(|value| value.to_str().ok())
            {
                kept.insert((*name).to_owned(), value.into());
            }
        }
        kept.entry("date")
            .or_insert_with(|| httpdate::fmt_http_date(std::time::SystemTime::now()).into());
        let entry = serde_json::json!({
            "key": key,
            "integrity": integrity,
            "time": now,
            "size": size,
            "metadata": {
                "time": now,
                "url": url,
                "reqHeaders": request_headers,
                "resHeaders": kept,
                "options": {"compress": true},
            },
        });
        let json = entry.to_string();
        let line = format!(
            "\n{}\t{json}",
            hex::encode(sha1::Sha1::digest(json.as_bytes()))
        );
        let bucket = self.bucket_path(&key);
        if let Some(parent) = bucket.parent() {
            fs_err::create_dir_all(parent)?;
        }
        // One write of one line with O_APPEND, not fsynced: cacache itself appends the same
        // way. A line torn by a crash fails its sha1 and npm (and `has_entry`) skip it, so
        // the worst case is a refetch; an fsync per line cost ~5 ms each, which made a
        // restore of 500 packages from a warm store take seconds instead of milliseconds.
        let mut file = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&bucket)?;
        file.write_all(line.as_bytes())
    }
}

/// The URL npm requests for `name`'s packument under `registry` (scoped names as
/// `@scope%2fname`, lowercase `%2f`).
#[must_use]
pub fn packument_url(registry: &url::Url, name: &str) -> String {
    let base = registry.as_str();
    let separator = if base.ends_with('/') { "" } else { "/" };
    format!("{base}{separator}{}", name.replace('/', "%2f"))
}

/// npm's `replace-registry-host=npmjs` (the default): a `resolved` URL on the public
/// registry is fetched from the configured one instead, same path.
#[must_use]
pub fn replace_registry_host(resolved: &str, registry: &url::Url) -> String {
    for public in [
        "https://registry.npmjs.org/",
        "https://registry.yarnpkg.com/",
    ] {
        if let Some(path) = resolved.strip_prefix(public) {
            let base = registry.as_str();
            let separator = if base.ends_with('/') { "" } else { "/" };
            return format!("{base}{separator}{path}");
        }
    }
    resolved.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cas::Algorithm;

    #[test]
    fn paths_follow_cacache() {
        let cache = NpmCache::new(Path::new("/c"));
        let key = NpmCache::key("http://127.0.0.1:8766/@acme%2fleftpad-x");
        let hash = hex::encode(sha2::Sha256::digest(key.as_bytes()));
        assert_eq!(
            cache.bucket_path(&key),
            Path::new("/c/_cacache/index-v5")
                .join(&hash[..2])
                .join(&hash[2..4])
                .join(&hash[4..])
        );
        let digest = Digest::of(Algorithm::Sha1, b"x");
        let hex_text = digest.hex();
        assert_eq!(
            cache.content_path(&digest),
            Path::new("/c/_cacache/content-v2/sha1")
                .join(&hex_text[..2])
                .join(&hex_text[2..4])
                .join(&hex_text[4..])
        );
    }

    #[test]
    fn index_lines_hash_their_json_and_are_not_duplicated() {
        let dir = tempfile::tempdir().unwrap();
        let cache = NpmCache::new(dir.path());
        let mut request = serde_json::Map::new();
        request.insert("accept".into(), PACKUMENT_ACCEPT.into());
        let url = "http://r/left-pad";
        cache
            .put_index(
                url,
                "sha512-AA==",
                3,
                &request,
                &reqwest::header::HeaderMap::new(),
            )
            .unwrap();
        cache
            .put_index(
                url,
                "sha512-AA==",
                3,
                &request,
                &reqwest::header::HeaderMap::new(),
            )
            .unwrap();
        let text = fs_err::read_to_string(cache.bucket_path(&NpmCache::key(url))).unwrap();
        assert_eq!(text.matches('\n').count(), 1, "{text}");
        let (hash, json) = text[1..].split_once('\t').unwrap();
        assert_eq!(hash, hex::encode(sha1::Sha1::digest(json.as_bytes())));
        let entry: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(entry["metadata"]["reqHeaders"]["accept"], PACKUMENT_ACCEPT);
        assert_eq!(entry["metadata"]["options"]["compress"], true);
        assert!(cache.has_entry(url, "sha512-AA=="));
        assert!(!cache.has_entry(url, "sha512-BB=="));
    }

    #[test]
    fn a_torn_index_line_is_skipped_and_appended_after() {
        let dir = tempfile::tempdir().unwrap();
        let cache = NpmCache::new(dir.path());
        let url = "http://r/a/-/a-1.0.0.tgz";
        let headers = reqwest::header::HeaderMap::new();
        let request = serde_json::Map::new();
        cache
            .put_index(url, "sha512-AA==", 3, &request, &headers)
            .unwrap();
        // What a crash mid-append leaves (lines are not fsynced): half of a newer line.
        let bucket = cache.bucket_path(&NpmCache::key(url));
        let text = fs_err::read_to_string(&bucket).unwrap();
        let line = text.replace("sha512-AA==", "sha512-BB==");
        let mut file = fs_err::OpenOptions::new()
            .append(true)
            .open(&bucket)
            .unwrap();
        file.write_all(&line.as_bytes()[..line.len() / 2]).unwrap();
        assert!(cache.has_entry(url, "sha512-AA=="));
        assert!(!cache.has_entry(url, "sha512-BB=="));
        cache
            .put_index(url, "sha512-BB==", 3, &request, &headers)
            .unwrap();
        assert!(cache.has_entry(url, "sha512-BB=="));
    }

    #[test]
    fn registry_host_replacement_and_packument_urls() {
        let registry = url::Url::parse("http://127.0.0.1:9/d/local/npm/main/").unwrap();
        assert_eq!(
            replace_registry_host("https://registry.npmjs.org/a/-/a-1.0.0.tgz", &registry),
            "http://127.0.0.1:9/d/local/npm/main/a/-/a-1.0.0.tgz"
        );
        assert_eq!(
            replace_registry_host("https://other/a.tgz", &registry),
            "https://other/a.tgz"
        );
        assert_eq!(
            packument_url(&registry, "@s/x"),
            "http://127.0.0.1:9/d/local/npm/main/@s%2fx"
        );
    }
}
