//! Operating `lading serve`: `/healthz`, `/readyz` and Prometheus `/metrics`, read with curl
//! as a load balancer and a Prometheus scraper would.

use crate::require_tool;
use crate::support::client::{self, curl_status};
use crate::support::{self, ServerSpec};

#[test]
fn metrics_count_requests_by_route_template_and_stored_blobs() {
    require_tool!(support::aws());
    require_tool!(client::curl());
    let (dir, server) = support::serve(ServerSpec::default());
    let asset = dir.path().join("secret-name-7f3a.txt");
    fs_err::write(&asset, "metrics\n").unwrap();
    let sha256 = lading::server::store::Digests::of(b"metrics\n").sha256;
    server.aws_json_on(
        dir.path(),
        "main",
        &support::generic_publish_args(
            "secret-name-7f3a",
            "1.0.0",
            "secret-name-7f3a.txt",
            &asset.display().to_string(),
            &sha256,
        ),
    );
    let token = server.admin_token(dir.path());
    let missing = format!("{}/d/local/npm/main/secret-name-7f3a", server.url);
    let (status, _) = curl_status(dir.path(), &["-H", &client::bearer(&token), &missing]);
    assert_eq!(status, 404);
    assert_eq!(
        curl_status(dir.path(), &[&format!("{}/healthz", server.url)]).0,
        200
    );
    assert_eq!(
        curl_status(dir.path(), &[&format!("{}/readyz", server.url)]).0,
        200
    );

    let (status, text) = curl_status(dir.path(), &["-i", &format!("{}/metrics", server.url)]);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("text/plain; version=0.0.4"), "{text}");
    assert!(
        text.contains(
            "lading_http_requests_total{route=\"/d/{domain}/npm/{repository}/{*rest}\",method=\"GET\",status=\"404\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "lading_http_requests_total{route=\"/v1/{*operation}\",method=\"POST\",status=\"200\"}"
        ),
        "{text}"
    );
    assert!(
        text.contains("lading_http_request_duration_seconds_count{route=\"/v1/{*operation}\"}"),
        "{text}"
    );
    assert!(text.contains("lading_blobs_stored_total 1\n"), "{text}");
    assert!(
        text.contains("lading_blob_bytes_stored_total 8\n"),
        "{text}"
    );
    assert!(text.contains("lading_index_connections 4\n"), "{text}");
    // Labels are route templates: no package name a client sent reaches the metrics.
    assert!(!text.contains("secret-name-7f3a"), "{text}");
}
