//! Restore npm lockfiles into npm's cache so `npm ci --offline` needs no registry.
//!
//! Entries with `resolved` + `integrity` need only content (npm reads them by digest);
//! entries without `resolved` need the packument (abbreviated, with npm's Accept header in
//! its index entry) and the tarball index entry too. Everything is fetched concurrently,
//! verified, stored, and only placed into `_cacache` once every download verified, under
//! a lock so concurrent restores into one cache do not interleave index lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::cacache::{NpmCache, PACKUMENT_ACCEPT, packument_url, replace_registry_host};
use super::lockfile::LockedPackage;
use crate::cas::{Algorithm, Blob, Digest};
use crate::fetcher::{Fetcher, RestoreError};
use crate::secret::SafeUrl;

/// One index entry to write.
#[derive(Debug)]
struct IndexEntry {
    url: String,
    blob: Blob,
    accept: Option<&'static str>,
    headers: reqwest::header::HeaderMap,
}

/// What to place once everything verified.
#[derive(Debug, Default)]
struct Placement {
    content: Vec<(Blob, Vec<Digest>)>,
    index: Vec<IndexEntry>,
}

/// The registry URL of a tarball: `resolved` as is when it is on the configured registry,
/// else the same `<name>/-/<file>` under the configured registry (a lockfile written
/// against the public registry or another mirror restores from the configured one).
#[must_use]
pub fn fetch_url(resolved: &str, name: &str, registry: &url::Url) -> String {
    let base = registry.as_str().trim_end_matches('/');
    if resolved.starts_with(base) {
        return resolved.to_owned();
    }
    for spelled in [
        name.to_owned(),
        name.replace('/', "%2f"),
        name.replace('/', "%2F"),
    ] {
        let marker = format!("/{spelled}/-/");
        if let Some(at) = resolved.find(&marker) {
            return format!("{base}/{name}/-/{}", &resolved[at + marker.len()..]);
        }
    }
    resolved.to_owned()
}

fn parse_url(text: &str, package: &str) -> Result<SafeUrl, RestoreError> {
    SafeUrl::parse(text)
        .map_err(|error| RestoreError::Invalid(format!("`{package}`: bad URL `{text}`: {error}")))
}

fn content_digests(blob: &Blob, pinned: &[Digest]) -> Vec<Digest> {
    let mut digests = pinned.to_vec();
    if !digests
        .iter()
        .any(|digest| digest.algorithm == Algorithm::Sha512)
    {
        digests.push(blob.sha512.clone());
    }
    digests
}

/// What restore takes for one locked package, from its lockfile entry and (when the entry
/// lacks `resolved` or `integrity`) the registry's packument: the digests to pin and the
/// URL npm will request (its cache index key).
///
/// # Errors
/// The version is not in the packument, or neither gives an integrity or a tarball URL.
pub fn packument_pins(
    package: &LockedPackage,
    packument: Option<&Value>,
    registry_url: &url::Url,
) -> Result<(Vec<Digest>, String), RestoreError> {
    let spec = package.spec();
    let dist = packument.map(|document| &document["versions"][&package.version]["dist"]);
    if packument.is_some() && dist.is_none_or(Value::is_null) {
        return Err(RestoreError::Invalid(format!(
            "`{spec}` is not in the registry's packument for `{}` at {registry_url}",
            package.name
        )));
    }
    let integrity = package.integrity.clone().or_else(|| {
        dist.and_then(|dist| dist["integrity"].as_str())
            .map(str::to_owned)
    });
    let mut pinned = integrity
        .as_deref()
        .map(Digest::parse_sri)
        .unwrap_or_default();
    if pinned.is_empty()
        && let Some(shasum) = dist.and_then(|dist| dist["shasum"].as_str())
    {
        pinned.extend(Digest::from_hex(Algorithm::Sha1, shasum));
    }
    if pinned.is_empty() {
        return Err(RestoreError::Invalid(format!(
            "`{spec}` has no usable `integrity` in the lockfile or the registry"
        )));
    }
    let npm_url = match (
        &package.resolved,
        dist.and_then(|dist| dist["tarball"].as_str()),
    ) {
        (Some(resolved), _) => replace_registry_host(resolved, registry_url),
        (None, Some(tarball)) => replace_registry_host(tarball, registry_url),
        (None, None) => {
            return Err(RestoreError::Invalid(format!(
                "`{spec}` has no tarball URL in the registry's packument"
            )));
        }
    };
    Ok((pinned, npm_url))
}

/// Restore `packages` into the npm cache at `npm_cache_dir` from `registry`.
///
/// # Errors
/// The first download that failed or did not verify ([`RestoreError`]); nothing is placed
/// into the npm cache then.
pub async fn restore(
    fetcher: &Fetcher,
    registry: &SafeUrl,
    npm_cache_dir: &Path,
    lock_dir: &Path,
    packages: &[LockedPackage],
) -> Result<usize, RestoreError> {
    let registry_url = registry.expose().clone();
    // Packuments first (one per name), for the entries that lack `resolved` or `integrity`.
    let names: BTreeSet<String> = packages
        .iter()
        .filter(|package| package.resolved.is_none() || package.integrity.is_none())
        .map(|package| package.name.clone())
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for name in names {
        let fetcher = fetcher.clone();
        let url = packument_url(&registry_url, &name);
        tasks.spawn(async move {
            let safe = parse_url(&url, &name)?;
            let document = fetcher
                .document(&name, &safe, Some(PACKUMENT_ACCEPT), true)
                .await?;
            let parsed: Value = serde_json::from_slice(&document.body).map_err(|error| {
                RestoreError::Invalid(format!(
                    "the packument of `{name}` at {safe} is not JSON: {error}"
                ))
            })?;
            Ok::<_, RestoreError>((name, url, document, parsed))
        });
    }
    let mut packuments = BTreeMap::new();
    let mut placement = Placement::default();
    for (name, url, document, parsed) in crate::fetcher::join_all(tasks).await? {
        if let Some(blob) = document.blob {
            placement.index.push(IndexEntry {
                url,
                blob: blob.clone(),
                accept: Some(PACKUMENT_ACCEPT),
                headers: document.headers,
            });
            placement
                .content
                .push((blob.clone(), vec![blob.sha512.clone()]));
        }
        packuments.insert(name, Arc::new(parsed));
    }

    let mut tasks = tokio::task::JoinSet::new();
    for package in packages {
        let fetcher = fetcher.clone();
        let package = package.clone();
        let packument = packuments.get(&package.name).cloned();
        let registry_url = registry_url.clone();
        tasks.spawn(async move {
            let spec = package.spec();
            let (pinned, npm_url) = packument_pins(&package, packument.as_deref(), &registry_url)?;
            let source = parse_url(&fetch_url(&npm_url, &package.name, &registry_url), &spec)?;
            let fetched = fetcher.verified(&spec, &source, &pinned).await?;
            let digests = content_digests(&fetched.blob, &pinned);
            let index = IndexEntry {
                url: npm_url,
                blob: fetched.blob.clone(),
                accept: None,
                headers: fetched.headers,
            };
            Ok::<_, RestoreError>((fetched.blob, digests, index))
        });
    }
    for (blob, digests, index) in crate::fetcher::join_all(tasks).await? {
        placement.content.push((blob, digests));
        placement.index.push(index);
    }

    let cache = NpmCache::new(npm_cache_dir);
    let lock_path = lock_dir.join("npm-cache.lock");
    let count = packages.len();
    tokio::task::spawn_blocking(move || place(&cache, &lock_path, &placement)).await??;
    Ok(count)
}

/// Threads placing files: each placement is a few metadata operations (`mkdir`, `link`,
/// `rename`, an append) that wait on the filesystem, not the CPU; on a busy disk one
/// thread placing 500 packages took seconds where eight take a fraction of that.
const PLACE_THREADS: usize = 8;

/// Run `work` on every item, on up to [`PLACE_THREADS`] threads; the first error wins.
fn in_parallel<T: Sync>(
    items: &[T],
    work: impl Fn(&T) -> std::io::Result<()> + Sync,
) -> std::io::Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let chunk = items.len().div_ceil(PLACE_THREADS);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().try_for_each(&work)))
            .collect();
        handles.into_iter().try_for_each(|handle| {
            handle
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("a placing thread panicked")))
        })
    })
}

fn place(cache: &NpmCache, lock_path: &PathBuf, placement: &Placement) -> Result<(), RestoreError> {
    let _lock = crate::fsx::FileLock::acquire(lock_path).map_err(RestoreError::io(lock_path))?;
    // Content first, so no index line ever names content that is not there yet.
    in_parallel(&placement.content, |(blob, digests)| {
        cache.put_content(&blob.path, digests)
    })
    .map_err(RestoreError::io(cache.cacache()))?;
    // One line per key and integrity (a package installed at several paths is one entry),
    // so no two threads append to one bucket.
    let mut seen = BTreeSet::new();
    let index: Vec<&IndexEntry> = placement
        .index
        .iter()
        .filter(|entry| seen.insert(entry.url.as_str()))
        .collect();
    in_parallel(&index, |entry| {
        let mut request = serde_json::Map::new();
        if let Some(accept) = entry.accept {
            request.insert("accept".to_owned(), accept.into());
        }
        let mut headers = entry.headers.clone();
        if !headers.contains_key(reqwest::header::CONTENT_TYPE) {
            let default = if entry.accept.is_some() {
                "application/json"
            } else {
                "application/octet-stream"
            };
            headers.insert(
                reqwest::header::CONTENT_TYPE,
                reqwest::header::HeaderValue::from_static(default),
            );
        }
        cache.put_index(
            &entry.url,
            &entry.blob.sha512.sri(),
            entry.blob.size,
            &request,
            &headers,
        )
    })
    .map_err(RestoreError::io(cache.cacache()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_parallel_does_every_item_and_reports_an_error() {
        let done = std::sync::Mutex::new(Vec::new());
        let items: Vec<u32> = (0..100).collect();
        in_parallel(&items, |item| {
            done.lock().unwrap().push(*item);
            Ok(())
        })
        .unwrap();
        let mut done = done.into_inner().unwrap();
        done.sort_unstable();
        assert_eq!(done, items);
        let error = in_parallel(&items, |item| {
            if *item == 57 {
                Err(std::io::Error::other("item 57"))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert_eq!(error.to_string(), "item 57");
        in_parallel(&[] as &[u32], |_| Err(std::io::Error::other("never"))).unwrap();
    }

    #[test]
    fn resolved_urls_move_to_the_configured_registry() {
        let registry = url::Url::parse("http://127.0.0.1:9/d/local/npm/main/").unwrap();
        assert_eq!(
            fetch_url(
                "https://registry.npmjs.org/@babel/core/-/core-7.26.0.tgz",
                "@babel/core",
                &registry
            ),
            "http://127.0.0.1:9/d/local/npm/main/@babel/core/-/core-7.26.0.tgz"
        );
        assert_eq!(
            fetch_url(
                "http://127.0.0.1:9/d/local/npm/main/a/-/a-1.0.0.tgz",
                "a",
                &registry
            ),
            "http://127.0.0.1:9/d/local/npm/main/a/-/a-1.0.0.tgz"
        );
        assert_eq!(
            fetch_url(
                "https://x.codeartifact.aws/npm/repo/a/-/a-1.0.0.tgz",
                "a",
                &registry
            ),
            "http://127.0.0.1:9/d/local/npm/main/a/-/a-1.0.0.tgz"
        );
    }
}
