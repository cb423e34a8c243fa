//! Prometheus metrics of `lading serve`, at `GET /metrics` (text exposition format 0.0.4).
//!
//! One registry per process (a node is a process): requests by route template, method and
//! status with a latency histogram per route, upstream requests and bytes per external
//! connection, blobs and bytes newly stored, and the index connection pool's use. Route
//! labels are axum's route templates (`/d/{domain}/npm/{repository}/{*rest}`), never raw
//! paths, so the label set stays small whatever clients ask for.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Registry {
    /// (route, method, status) → count.
    requests: BTreeMap<(String, String, u16), u64>,
    /// route → latency.
    latency: BTreeMap<String, Histogram>,
    /// connection → (requests, bytes).
    upstream: BTreeMap<String, (u64, u64)>,
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Mutex::default);
static BLOBS_STORED: AtomicU64 = AtomicU64::new(0);
static BLOB_BYTES_STORED: AtomicU64 = AtomicU64::new(0);

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Count one answered request.
pub fn request(route: &str, method: &str, status: u16, seconds: f64) {
    let mut registry = registry();
    *registry
        .requests
        .entry((route.to_owned(), method.to_owned(), status))
        .or_default() += 1;
    let histogram = registry.latency.entry(route.to_owned()).or_default();
    for (count, bound) in histogram.counts.iter_mut().zip(BUCKETS) {
        if seconds <= bound {
            *count += 1;
        }
    }
    histogram.count += 1;
    histogram.sum += seconds;
}

/// Count one request to an upstream and the bytes it returned.
pub fn upstream(connection: &str, bytes: u64) {
    let mut registry = registry();
    let entry = registry.upstream.entry(connection.to_owned()).or_default();
    entry.0 += 1;
    entry.1 += bytes;
}

/// Count a blob newly written to the store.
pub fn blob_stored(bytes: u64) {
    BLOBS_STORED.fetch_add(1, Ordering::Relaxed);
    BLOB_BYTES_STORED.fetch_add(bytes, Ordering::Relaxed);
}

/// Prometheus label value escaping: backslash, double quote, newline.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// What the web console's dashboard shows of this process's counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot {
    /// Data-plane GET and HEAD requests answered (routes under `/d/`).
    pub data_plane_reads: u64,
    /// Requests sent to external connections (cache misses and revalidations).
    pub upstream_requests: u64,
    /// Bytes received from external connections.
    pub upstream_bytes: u64,
    /// Bytes of blobs newly written to the store.
    pub bytes_stored: u64,
}

/// The counters behind [`Snapshot`].
#[must_use]
pub fn snapshot() -> Snapshot {
    let registry = registry();
    let data_plane_reads = registry
        .requests
        .iter()
        .filter(|((route, method, _), _)| {
            route.starts_with("/d/") && (method == "GET" || method == "HEAD")
        })
        .map(|(_, count)| count)
        .sum();
    let (upstream_requests, upstream_bytes) = registry
        .upstream
        .values()
        .fold((0, 0), |(requests, bytes), entry| {
            (requests + entry.0, bytes + entry.1)
        });
    Snapshot {
        data_plane_reads,
        upstream_requests,
        upstream_bytes,
        bytes_stored: BLOB_BYTES_STORED.load(Ordering::Relaxed),
    }
}

/// The exposition text; `pool` is (index connections in use, pool size).
#[must_use]
pub fn render(pool: (usize, usize)) -> String {
    let registry = registry();
    let mut text = String::new();
    text.push_str("# HELP lading_http_requests_total Requests answered, by route template, method and status.\n# TYPE lading_http_requests_total counter\n");
    for ((route, method, status), count) in &registry.requests {
        let _ = writeln!(
            text,
            "lading_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {count}",
            label(route),
            label(method)
        );
    }
    text.push_str("# HELP lading_http_request_duration_seconds Time to answer, by route template.\n# TYPE lading_http_request_duration_seconds histogram\n");
    for (route, histogram) in &registry.latency {
        let route = label(route);
        for (bound, count) in BUCKETS.iter().zip(histogram.counts) {
            let _ = writeln!(
                text,
                "lading_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}"
            );
        }
        let _ = writeln!(
            text,
            "lading_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\nlading_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\nlading_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
            histogram.count, histogram.sum, histogram.count
        );
    }
    text.push_str("# HELP lading_upstream_requests_total Requests sent to an external connection (cache misses and revalidations).\n# TYPE lading_upstream_requests_total counter\n");
    for (connection, (requests, _)) in &registry.upstream {
        let _ = writeln!(
            text,
            "lading_upstream_requests_total{{connection=\"{}\"}} {requests}",
            label(connection)
        );
    }
    text.push_str("# HELP lading_upstream_bytes_total Bytes received from an external connection.\n# TYPE lading_upstream_bytes_total counter\n");
    for (connection, (_, bytes)) in &registry.upstream {
        let _ = writeln!(
            text,
            "lading_upstream_bytes_total{{connection=\"{}\"}} {bytes}",
            label(connection)
        );
    }
    let _ = write!(
        text,
        "# HELP lading_blobs_stored_total Blobs newly written to the store.\n# TYPE lading_blobs_stored_total counter\nlading_blobs_stored_total {}\n\
         # HELP lading_blob_bytes_stored_total Bytes of blobs newly written to the store.\n# TYPE lading_blob_bytes_stored_total counter\nlading_blob_bytes_stored_total {}\n\
         # HELP lading_index_connections_in_use Index connections busy at the time of the scrape.\n# TYPE lading_index_connections_in_use gauge\nlading_index_connections_in_use {}\n\
         # HELP lading_index_connections Index connections in the pool.\n# TYPE lading_index_connections gauge\nlading_index_connections {}\n",
        BLOBS_STORED.load(Ordering::Relaxed),
        BLOB_BYTES_STORED.load(Ordering::Relaxed),
        pool.0,
        pool.1,
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_land_in_the_buckets_at_or_above_them() {
        request("/unit-test/{x}", "GET", 200, 0.02);
        let text = render((1, 4));
        assert!(text.contains(
            "lading_http_requests_total{route=\"/unit-test/{x}\",method=\"GET\",status=\"200\"} 1"
        ));
        assert!(text.contains(
            "lading_http_request_duration_seconds_bucket{route=\"/unit-test/{x}\",le=\"0.01\"} 0"
        ));
        assert!(text.contains(
            "lading_http_request_duration_seconds_bucket{route=\"/unit-test/{x}\",le=\"0.025\"} 1"
        ));
        assert!(text.contains("lading_index_connections_in_use 1\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
