//! The caches of `lading serve`'s read path never serve stale or wrong data: packuments and
//! tarball lookups follow publishes, status changes and writes by another server process on
//! the same data directory at once; `If-None-Match` gets a 304 only for the current entity
//! tag; a blob damaged on disk is refused by a restarted server.

use std::path::Path;

use crate::require_tool;
use crate::support::{self, LadingServer, ServerSpec};

struct Reply {
    status: u16,
    etag: Option<String>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn versions(&self) -> Vec<String> {
        self.json()["versions"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }
}

fn send(
    method: &str,
    url: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: Option<&serde_json::Value>,
) -> Reply {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let mut builder = client
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url)
            .bearer_auth(token);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        if let Some(body) = body {
            builder = builder.json(body);
        }
        let response = builder.send().await.unwrap();
        let status = response.status().as_u16();
        let etag = response
            .headers()
            .get("etag")
            .map(|value| value.to_str().unwrap().to_owned());
        let body = response.bytes().await.unwrap().to_vec();
        Reply { status, etag, body }
    })
}

fn tarball_of(version: &str) -> Vec<u8> {
    support::npm_tarball(
        "cache-probe",
        version,
        &format!("tarball bytes of cache-probe {version}\n"),
    )
}

fn publish(server: &LadingServer, token: &str, version: &str) {
    use base64::Engine as _;
    let tarball = tarball_of(version);
    let body = serde_json::json!({
        "name": "cache-probe",
        "dist-tags": {"latest": version},
        "versions": {version: {"name": "cache-probe", "version": version}},
        "_attachments": {format!("cache-probe-{version}.tgz"): {
            "data": base64::engine::general_purpose::STANDARD.encode(&tarball),
            "length": tarball.len(),
        }},
    });
    let reply = send(
        "PUT",
        &format!("{}/d/local/npm/main/cache-probe", server.url),
        token,
        &[],
        Some(&body),
    );
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
}

const ABBREVIATED: (&str, &str) = ("accept", "application/vnd.npm.install-v1+json");

fn packument(server: &LadingServer, token: &str, headers: &[(&str, &str)]) -> Reply {
    send(
        "GET",
        &format!("{}/d/local/npm/main/cache-probe", server.url),
        token,
        headers,
        None,
    )
}

fn tarball(server: &LadingServer, token: &str, version: &str, headers: &[(&str, &str)]) -> Reply {
    send(
        "GET",
        &format!(
            "{}/d/local/npm/main/cache-probe/-/cache-probe-{version}.tgz",
            server.url
        ),
        token,
        headers,
        None,
    )
}

#[test]
fn packuments_and_tarballs_follow_publishes_status_changes_and_other_processes() {
    require_tool!(support::aws());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = LadingServer::start(&data, ServerSpec::default());
    let token = server.token();
    publish(&server, &token, "1.0.0");

    // Cached after the first read; the ETag revalidates.
    let first = packument(&server, &token, &[ABBREVIATED]);
    assert_eq!(first.status, 200);
    assert_eq!(first.versions(), ["1.0.0"]);
    let etag = first.etag.clone().expect("a packument has an ETag");
    let again = packument(&server, &token, &[ABBREVIATED]);
    assert_eq!(again.body, first.body);
    let revalidated = packument(&server, &token, &[ABBREVIATED, ("if-none-match", &etag)]);
    assert_eq!(revalidated.status, 304);
    assert!(revalidated.body.is_empty());
    assert_eq!(revalidated.etag.as_deref(), Some(etag.as_str()));
    // The full packument is another document with another tag.
    let full = packument(&server, &token, &[]);
    assert_eq!(full.status, 200);
    assert_eq!(full.json()["_id"], "cache-probe");
    assert_ne!(full.etag.as_deref(), Some(etag.as_str()));

    // Tarballs: the right bytes, tagged with their sha256.
    let bytes = tarball(&server, &token, "1.0.0", &[]);
    assert_eq!(bytes.status, 200);
    assert_eq!(bytes.body, tarball_of("1.0.0"));
    let sha256 = lading::server::store::Digests::of(&tarball_of("1.0.0")).sha256;
    assert_eq!(bytes.etag, Some(format!("\"{sha256}\"")));
    let tag = format!("\"{sha256}\"");
    assert_eq!(
        tarball(&server, &token, "1.0.0", &[("if-none-match", &tag)]).status,
        304
    );

    // A publish through this server shows at once, and the old tag no longer matches.
    publish(&server, &token, "1.1.0");
    let after_publish = packument(&server, &token, &[ABBREVIATED, ("if-none-match", &etag)]);
    assert_eq!(after_publish.status, 200);
    assert_eq!(after_publish.versions(), ["1.0.0", "1.1.0"]);
    assert_ne!(after_publish.etag.as_deref(), Some(etag.as_str()));

    // A publish by another server process on the same data directory shows at once too.
    let other = LadingServer::start(&data, ServerSpec::default());
    publish(&other, &token, "1.2.0");
    let after_other = packument(&server, &token, &[ABBREVIATED]);
    assert_eq!(after_other.versions(), ["1.0.0", "1.1.0", "1.2.0"]);
    assert_eq!(after_other.json()["dist-tags"]["latest"], "1.2.0");
    assert_eq!(
        tarball(&server, &token, "1.2.0", &[]).body,
        tarball_of("1.2.0")
    );
    drop(other);

    // A status change takes the version out of the packument and its tarball off the wire.
    let home = dir.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    server.aws_json_on(
        &home,
        "main",
        &[
            "update-package-versions-status",
            "--format",
            "npm",
            "--package",
            "cache-probe",
            "--versions",
            "1.0.0",
            "--target-status",
            "Archived",
        ],
    );
    let after_status = packument(&server, &token, &[ABBREVIATED]);
    assert_eq!(after_status.versions(), ["1.1.0", "1.2.0"]);
    assert_eq!(tarball(&server, &token, "1.0.0", &[]).status, 404);
}

fn blob_path(data: &Path, sha256: &str) -> std::path::PathBuf {
    data.join("blobs-v1/sha256").join(&sha256[..2]).join(sha256)
}

#[test]
fn a_tarball_damaged_on_disk_is_refused_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = LadingServer::start(&data, ServerSpec::default());
    let token = server.token();
    publish(&server, &token, "1.0.0");
    assert_eq!(
        tarball(&server, &token, "1.0.0", &[]).body,
        tarball_of("1.0.0")
    );
    let sha256 = lading::server::store::Digests::of(&tarball_of("1.0.0")).sha256;
    let path = blob_path(&data, &sha256);
    let mut damaged = tarball_of("1.0.0");
    damaged[0] ^= 0x20;
    fs_err::write(&path, &damaged).unwrap();
    // This process verified the bytes and serves those, never the damaged ones.
    assert_eq!(
        tarball(&server, &token, "1.0.0", &[]).body,
        tarball_of("1.0.0")
    );
    drop(server);
    let restarted = LadingServer::start(&data, ServerSpec::default());
    let reply = tarball(&restarted, &token, "1.0.0", &[]);
    assert_eq!(
        reply.status,
        500,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_ne!(reply.body, damaged);
    // The log arrives through a pipe: give it a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !restarted.log().contains("corrupt") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        restarted.log().contains("corrupt"),
        "the refusal is logged:\n{}",
        restarted.log()
    );
}
