//! `lading serve`'s npm pull-through cache (issue #16, parts 2 and 4): upstream packuments
//! kept as the upstream wrote them, and upstream metadata kept for a TTL, revalidated with
//! `ETag`, and served stale (and said so) when the upstream is down. Real Verdaccio as the
//! upstream filled with documents carrying the full field set; the public registry (a
//! mirror, see TESTBED.md) for the real-world comparison; pnpm 12, yarn 4 and npm as the
//! clients.

use std::path::Path;

use serde_json::json;

use crate::require_tool;
use crate::support::faults::FaultProxy;
use crate::support::peers::Verdaccio;
use crate::support::{self, LadingServer, ServerSpec};

/// GET `url` with a bearer token and an `Accept`: status, `x-lading-upstream`, body.
fn get(url: &str, token: &str, accept: &str) -> (u16, Option<String>, Vec<u8>) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .get(url)
            .bearer_auth(token)
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        let note = response
            .headers()
            .get("x-lading-upstream")
            .map(|value| value.to_str().unwrap().to_owned());
        (
            response.status().as_u16(),
            note,
            response.bytes().await.unwrap().to_vec(),
        )
    })
}

/// A one-file npm tarball for `name@version`.
fn tarball(name: &str, version: &str) -> Vec<u8> {
    let manifest = json!({ "name": name, "version": version }).to_string();
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    let mut header = tar::Header::new_gnu();
    header.set_size(manifest.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, "package/package.json", manifest.as_bytes())
        .unwrap();
    builder.into_inner().unwrap().finish().unwrap()
}

/// Publish `name@version` to Verdaccio as a raw npm publish document whose version manifest
/// carries the fields the public registry adds (`_npmUser`, `deprecated`, signatures,
/// attestations, maintainers...) besides the ones lading must keep for installs.
fn publish_full_document(verdaccio: &Verdaccio, name: &str, version: &str) {
    use base64::Engine as _;
    use sha1::Digest as _;
    let bytes = tarball(name, version);
    let shasum = hex::encode(sha1::Sha1::digest(&bytes));
    let integrity = format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(&bytes))
    );
    let file = format!("{}-{version}.tgz", name.rsplit('/').next().unwrap());
    let manifest = json!({
        "name": name,
        "version": version,
        "description": "a document with every field",
        "license": "MIT",
        "engines": { "node": ">=18" },
        "os": ["linux", "darwin"],
        "cpu": ["x64", "arm64"],
        "libc": ["glibc"],
        "deprecated": "use full-fields-next instead",
        "funding": { "type": "github", "url": "https://github.com/sponsors/alice" },
        "_npmUser": { "name": "alice", "email": "alice@example.com" },
        "maintainers": [{ "name": "alice", "email": "alice@example.com" }],
        "dependencies": {},
        "hasInstallScript": false,
        "_hasShrinkwrap": false,
        "x-custom": { "kept": true },
        "dist": {
            "shasum": shasum,
            "integrity": integrity,
            "tarball": format!("{}{name}/-/{file}", verdaccio.url),
            "signatures": [{ "keyid": "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA", "sig": "MEUCIQDx" }],
            "attestations": {
                "url": format!("https://registry.npmjs.org/-/npm/v1/attestations/{name}@{version}"),
                "provenance": { "predicateType": "https://slsa.dev/provenance/v1" }
            }
        }
    });
    let document = json!({
        "_id": name,
        "name": name,
        "dist-tags": { "latest": version },
        "versions": { version: manifest },
        "_attachments": { file: {
            "content_type": "application/octet-stream",
            "data": base64::engine::general_purpose::STANDARD.encode(&bytes),
            "length": bytes.len()
        }}
    });
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .put(format!("{}{}", verdaccio.url, name.replace('/', "%2f")))
            .bearer_auth(&verdaccio.token)
            .json(&document)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "publish {name}@{version} to verdaccio: {}",
            response.text().await.unwrap()
        );
    });
}

/// lading serve over `data` whose repository `local/main` pulls through the external
/// connection `verdaccio` at `url`, with extra `args`.
fn serve_through(data: &Path, url: &str, verdaccio: &Verdaccio, args: Vec<&str>) -> LadingServer {
    let config = format!(
        "external_connections:\n  - name: verdaccio\n    format: npm\n    url: {url}\n    token_env: VERDACCIO_TOKEN\ndomains:\n  - name: local\n    repositories: [main]\n"
    );
    LadingServer::start(
        data,
        ServerSpec {
            config: Some(&config),
            env: vec![("VERDACCIO_TOKEN", verdaccio.token.clone())],
            args,
            ..ServerSpec::default()
        },
    )
}

/// Requests for the packument of `package` that reached an upstream through `proxy`.
fn packument_requests(proxy: &FaultProxy, package: &str) -> Vec<support::faults::Exchange> {
    proxy
        .exchanges()
        .into_iter()
        .filter(|exchange| exchange.method == "GET" && exchange.path == format!("/{package}"))
        .collect()
}

// See: issue #16, part 4
#[test]
fn npm_metadata_is_cached_per_connection_revalidated_with_its_etag_and_served_stale_when_verdaccio_is_down()
 {
    require_tool!(support::aws());
    let verdaccio_bin = require_tool!(Verdaccio::find());
    let dir = tempfile::tempdir().unwrap();
    let mut verdaccio = Verdaccio::start(&verdaccio_bin, &dir.path().join("verdaccio"));
    publish_full_document(&verdaccio, "cached-pkg", "1.0.0");
    let first_mirror = FaultProxy::start(&verdaccio.url, Vec::new());
    let data = dir.path().join("data");

    // Default TTL: the second and third reads (full and abbreviated) never reach upstream.
    let server = serve_through(
        &data,
        &format!("{}/", first_mirror.url),
        &verdaccio,
        Vec::new(),
    );
    server.associate(dir.path(), "main", "verdaccio");
    let token = server.mint_token(&server.credentials_file(), None);
    let url = format!("{}/d/local/npm/main/cached-pkg", server.url);
    let (status, note, first) = get(&url, &token, "application/json");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&first));
    // The body as served, with this server's address (in tarball URLs) taken out.
    let first = String::from_utf8(first)
        .unwrap()
        .replace(&server.url, "[LADING]");
    assert_eq!(note, None);
    let (status, _, again) = get(&url, &token, "application/json");
    assert_eq!(status, 200);
    assert_eq!(
        String::from_utf8(again)
            .unwrap()
            .replace(&server.url, "[LADING]"),
        first
    );
    let (status, _, _) = get(&url, &token, "application/vnd.npm.install-v1+json");
    assert_eq!(status, 200);
    let fetched = packument_requests(&first_mirror, "cached-pkg");
    assert_eq!(fetched.len(), 1, "{fetched:?}");
    assert_eq!(fetched[0].status, 200);
    drop(server);

    // Restarted (the cache is on disk), revalidating on every request: the entry is
    // revalidated with its ETag, and Verdaccio's 304 keeps it.
    let server = serve_through(
        &data,
        &format!("{}/", first_mirror.url),
        &verdaccio,
        vec!["--metadata-ttl", "0"],
    );
    let url = format!("{}/d/local/npm/main/cached-pkg", server.url);
    let unaddressed = |body: Vec<u8>, server: &LadingServer| {
        String::from_utf8(body)
            .unwrap()
            .replace(&server.url, "[LADING]")
    };
    let (status, note, revalidated) = get(&url, &token, "application/json");
    assert_eq!((status, note), (200, None));
    assert_eq!(unaddressed(revalidated, &server), first);
    let revalidations = packument_requests(&first_mirror, "cached-pkg");
    assert_eq!(revalidations.len(), 2, "{revalidations:?}");
    assert!(
        revalidations[1]
            .headers
            .iter()
            .any(|(name, value)| name == "if-none-match" && value.starts_with('"')),
        "{revalidations:?}"
    );
    assert_eq!(revalidations[1].status, 304, "{revalidations:?}");
    drop(server);

    // Pointed at another mirror of the same upstream: the same entry is found (the key is
    // the package in the connection, not the URL) and revalidated, not duplicated.
    let second_mirror = FaultProxy::start(&verdaccio.url, Vec::new());
    let server = serve_through(
        &data,
        &format!("{}/", second_mirror.url),
        &verdaccio,
        vec!["--metadata-ttl", "0"],
    );
    let url = format!("{}/d/local/npm/main/cached-pkg", server.url);
    let (status, _, _) = get(&url, &token, "application/json");
    assert_eq!(status, 200);
    let moved = packument_requests(&second_mirror, "cached-pkg");
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert!(
        moved[0]
            .headers
            .iter()
            .any(|(name, _)| name == "if-none-match"),
        "{moved:?}"
    );
    let entries: Vec<_> = walk(&data.join("upstream-v2"));
    assert_eq!(entries.len(), 1, "one cache entry per package: {entries:?}");

    // Verdaccio stops: served from the cache, and the response says so.
    verdaccio.stop();
    let (status, note, stale) = get(&url, &token, "application/json");
    assert_eq!(status, 200);
    assert_eq!(unaddressed(stale, &server), first);
    let note = note.expect("an x-lading-upstream header");
    assert!(
        note.contains("verdaccio unavailable") && note.contains("served from cache"),
        "{note}"
    );
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs_err::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}
