//! The in-memory cache of verified blob bytes on `lading serve`'s read path.
//!
//! [`BlobCache`] holds bytes that were hashed and matched their sha256 name (see
//! [`super::store::Store::open_blob`]), evicting the least recently served first. It can
//! only make a read faster, never different. It sits below the store (which owns it), apart
//! from the index-derived caches in [`super::cache`], which name the store's row types.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// Lock a cache's mutex; a panic elsewhere cannot leave a cache inconsistent in a way that
/// matters (at worst an entry is missing), so poisoning is ignored.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A least-recently-used cache of blob bytes with a budget in bytes.
#[derive(Debug)]
pub struct BlobCache {
    budget: usize,
    inner: Mutex<BlobCacheInner>,
}

#[derive(Debug, Default)]
struct BlobCacheInner {
    /// sha256 → (bytes, last-use tick).
    entries: HashMap<String, (bytes::Bytes, u64)>,
    /// last-use tick → sha256, oldest first.
    order: BTreeMap<u64, String>,
    bytes: usize,
    tick: u64,
}

impl BlobCache {
    /// An empty cache holding at most `budget` bytes.
    #[must_use]
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            inner: Mutex::new(BlobCacheInner::default()),
        }
    }

    /// The cached bytes of a blob, marking it recently used.
    pub fn get(&self, sha256: &str) -> Option<bytes::Bytes> {
        let mut guard = lock(&self.inner);
        let inner = &mut *guard;
        inner.tick += 1;
        let tick = inner.tick;
        let (bytes, last_used) = inner.entries.get_mut(sha256)?;
        let previous = std::mem::replace(last_used, tick);
        let bytes = bytes.clone();
        if let Some(key) = inner.order.remove(&previous) {
            inner.order.insert(tick, key);
        }
        Some(bytes)
    }

    /// Remember a blob's verified bytes, evicting the least recently used to stay in budget.
    /// Blobs larger than a quarter of the budget are not kept.
    pub fn insert(&self, sha256: &str, bytes: bytes::Bytes) {
        if bytes.len() > self.budget / 4 {
            return;
        }
        let mut guard = lock(&self.inner);
        let inner = &mut *guard;
        if inner.entries.contains_key(sha256) {
            return;
        }
        while inner.bytes + bytes.len() > self.budget {
            let Some((_, oldest)) = inner.order.pop_first() else {
                break;
            };
            if let Some((evicted, _)) = inner.entries.remove(&oldest) {
                inner.bytes -= evicted.len();
            }
        }
        inner.tick += 1;
        let tick = inner.tick;
        inner.bytes += bytes.len();
        inner.order.insert(tick, sha256.to_owned());
        inner.entries.insert(sha256.to_owned(), (bytes, tick));
    }

    /// Forget a blob (it failed verification).
    pub fn remove(&self, sha256: &str) {
        let mut guard = lock(&self.inner);
        let inner = &mut *guard;
        if let Some((bytes, tick)) = inner.entries.remove(sha256) {
            inner.bytes -= bytes.len();
            inner.order.remove(&tick);
        }
    }

    /// Bytes held.
    #[must_use]
    pub fn size(&self) -> usize {
        lock(&self.inner).bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(length: usize) -> bytes::Bytes {
        bytes::Bytes::from(vec![0_u8; length])
    }

    #[test]
    fn blob_cache_evicts_the_least_recently_used_to_stay_in_budget() {
        let cache = BlobCache::new(100);
        cache.insert("a", blob(25));
        cache.insert("b", blob(25));
        cache.insert("c", blob(25));
        cache.insert("d", blob(25));
        assert_eq!(cache.size(), 100);
        // `a` was used last, so `b` is the oldest now.
        assert!(cache.get("a").is_some());
        cache.insert("e", blob(25));
        assert!(cache.get("b").is_none());
        assert!(cache.get("a").is_some());
        assert!(cache.get("e").is_some());
        assert_eq!(cache.size(), 100);
        // Too big for the cache: not kept, nothing evicted.
        cache.insert("huge", blob(26));
        assert!(cache.get("huge").is_none());
        assert_eq!(cache.size(), 100);
        cache.remove("a");
        assert!(cache.get("a").is_none());
        assert_eq!(cache.size(), 75);
    }
}
