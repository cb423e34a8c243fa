//! Failure behaviour of `lading serve` as a tested property: every data-plane route refuses
//! missing, bad, expired, read-only and foreign credentials; bodies over the limit are
//! refused; idle and slowloris connections are closed; a crash mid-upload leaves no
//! version; racing publishers of one version land exactly once.

use std::io::{Read as _, Write as _};
use std::time::Duration;

use crate::support::{self, LadingServer, ServerSpec};

const CONFIG: &str = "
principals:
  - name: reader
    access_key_id: LKIAREADER0000000001
    secret_access_key: reader-secret-0000000000000000000000000
    grants:
      - { domain: local, repository: main, permissions: [read] }
  - name: outsider
    access_key_id: LKIAOUTSIDER00000001
    secret_access_key: outsider-secret-00000000000000000000000
    grants:
      - { domain: local, repository: other, permissions: [publish] }
domains:
  - name: local
    repositories: [main, other]
";

pub(crate) fn request(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> (u16, String) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let mut builder = client
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url)
            .body(body);
        if let Some(token) = token {
            builder = builder.bearer_auth(token);
        }
        let response = builder.send().await.unwrap();
        (
            response.status().as_u16(),
            response.text().await.unwrap_or_default(),
        )
    })
}

/// Every data-plane route, with the permission it needs.
const ROUTES: &[(&str, &str, &str, bool)] = &[
    ("GET", "npm", "lading-probe", false),
    ("GET", "npm", "lading-probe/-/lading-probe-1.0.0.tgz", false),
    ("GET", "npm", "-/whoami", false),
    ("PUT", "npm", "lading-probe", true),
    ("PUT", "npm", "-/package/lading-probe/dist-tags/beta", true),
    ("GET", "maven", "com/acme/probe/1.0/probe-1.0.jar", false),
    ("PUT", "maven", "com/acme/probe/1.0/probe-1.0.jar", true),
    ("GET", "pypi", "simple/", false),
    ("GET", "pypi", "simple/probe/", false),
    ("POST", "pypi", "", true),
    ("GET", "nuget", "v3/index.json", false),
    ("PUT", "nuget", "v2/package", true),
    ("GET", "generic", "ns/probe/1.0/a.txt", false),
    ("PUT", "generic", "ns/probe/1.0/a.txt", true),
];

#[test]
fn every_data_plane_route_refuses_missing_bad_expired_read_only_and_foreign_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = LadingServer::start(
        &data,
        ServerSpec {
            config: Some(CONFIG),
            ..ServerSpec::default()
        },
    );
    // The same data, with a clock 2 hours ahead: a 900 s token has expired there.
    let later = LadingServer::start(
        &data,
        ServerSpec {
            config: Some(CONFIG),
            env: vec![("LADING_SERVE_CLOCK_OFFSET_SECONDS", "7200".to_owned())],
            ..ServerSpec::default()
        },
    );
    let reader_keys = support::READER.credentials(dir.path());
    let outsider_keys = support::write_credentials(
        dir.path(),
        "outsider",
        "LKIAOUTSIDER00000001",
        "outsider-secret-00000000000000000000000",
    );
    let admin = server.mint_token(&server.credentials_file(), Some(900));
    let reader = server.mint_token(&reader_keys, None);
    let outsider = server.mint_token(&outsider_keys, None);
    let mut failures = Vec::new();
    for (method, format, path, writes) in ROUTES {
        let url = |base: &str| format!("{base}/d/local/{format}/main/{path}");
        let cases: Vec<(&str, String, Option<String>, Vec<u16>)> = vec![
            ("no credentials", url(&server.url), None, vec![401]),
            (
                "unknown token",
                url(&server.url),
                Some("ldt_not-a-real-token".to_owned()),
                vec![401],
            ),
            (
                "expired token",
                url(&later.url),
                Some(admin.clone()),
                vec![401],
            ),
            (
                "other repository's principal",
                url(&server.url),
                Some(outsider.clone()),
                vec![403],
            ),
        ];
        let mut cases = cases;
        if *writes {
            cases.push((
                "read-only token",
                url(&server.url),
                Some(reader.clone()),
                vec![403],
            ));
        } else {
            // A read-only token passes authentication and authorization on reads.
            cases.push((
                "read-only token",
                url(&server.url),
                Some(reader.clone()),
                vec![200, 301, 404],
            ));
        }
        for (case, url, token, expected) in cases {
            let (status, body) = request(method, &url, token.as_deref(), Vec::new());
            if !expected.contains(&status) {
                failures.push(format!(
                    "{method} {format}/{path} with {case}: {status} (expected {expected:?}): {body}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn bodies_over_the_limit_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = LadingServer::start(
        &dir.path().join("data"),
        ServerSpec {
            args: vec!["--max-body-mib", "1"],
            ..ServerSpec::default()
        },
    );
    let token = server.token();
    let big = vec![b'x'; 2 * 1024 * 1024];
    let (status, body) = request(
        "PUT",
        &format!("{}/d/local/generic/main/ns/big/1.0/big.bin", server.url),
        Some(&token),
        big.clone(),
    );
    assert_eq!(status, 413, "{body}");
    let (status, _) = request(
        "PUT",
        &format!("{}/d/local/npm/main/big", server.url),
        Some(&token),
        big,
    );
    assert_eq!(status, 413);
    let (status, _) = request(
        "GET",
        &format!("{}/d/local/generic/main/ns/big/1.0/big.bin", server.url),
        Some(&token),
        Vec::new(),
    );
    assert_eq!(status, 404, "nothing was stored");
}

#[test]
fn idle_and_slowloris_connections_are_closed_after_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = LadingServer::start(
        &dir.path().join("data"),
        ServerSpec {
            args: vec!["--header-timeout-seconds", "1"],
            ..ServerSpec::default()
        },
    );
    let address = server.url.trim_start_matches("http://").to_owned();
    for partial in [&b""[..], &b"GET /health HTTP/1.1\r\nHost: x\r\n"[..]] {
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        stream.write_all(partial).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let started = std::time::Instant::now();
        let mut buffer = [0u8; 256];
        // The server closes the socket (EOF, maybe after a 408) well before our 10 s timeout.
        let mut total = 0;
        loop {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => total += read,
            }
        }
        let waited = started.elapsed();
        assert!(
            waited < Duration::from_secs(8),
            "the connection stayed open {waited:?} ({total} bytes read)"
        );
    }
    // A complete request still works.
    let (status, body) = request("GET", &format!("{}/health", server.url), None, Vec::new());
    assert_eq!((status, body.as_str()), (200, "ok"));
}

#[test]
fn a_server_killed_mid_upload_leaves_no_version_and_accepts_the_upload_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = LadingServer::start(&data, ServerSpec::default());
    let token = server.token();
    let address = server.url.trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    let length = 8 * 1024 * 1024;
    write!(
        stream,
        "PUT /d/local/generic/main/ns/crash/1.0/payload.bin HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nContent-Length: {length}\r\n\r\n"
    )
    .unwrap();
    stream.write_all(&vec![b'a'; length / 2]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    server.kill();
    drop(stream);

    let restarted = LadingServer::start(&data, ServerSpec::default());
    let url = format!(
        "{}/d/local/generic/main/ns/crash/1.0/payload.bin",
        restarted.url
    );
    let (status, _) = request("GET", &url, Some(&token), Vec::new());
    assert_eq!(status, 404, "no half version is visible");
    let (status, body) = request("PUT", &url, Some(&token), b"complete".to_vec());
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        request("GET", &url, Some(&token), Vec::new()),
        (200, "complete".to_owned())
    );
}

#[test]
fn racing_publishers_of_one_version_land_exactly_once() {
    let (_dir, server) = support::serve(ServerSpec::default());
    let token = server.token();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (statuses, npm_statuses) = runtime.block_on(async {
        let client = reqwest::Client::new();
        let generic = (0..8).map(|index| {
            let request = client
                .put(format!("{}/d/local/generic/main/ns/race/1.0/file.bin", server.url))
                .bearer_auth(&token)
                .body(format!("writer {index}"))
                .send();
            async move { request.await.map_or(0, |response| response.status().as_u16()) }
        });
        let npm = (0..4).map(|index| {
            let tarball = support::npm_tarball("racy-one", "1.0.0", &format!("tarball {index}"));
            let body = serde_json::json!({
                "name": "racy-one",
                "versions": {"1.0.0": {"name": "racy-one", "version": "1.0.0"}},
                "_attachments": {"racy-one-1.0.0.tgz": {"data": base64_of(&tarball), "length": tarball.len()}},
            });
            let request = client.put(format!("{}/d/local/npm/main/racy-one", server.url)).bearer_auth(&token).json(&body).send();
            async move { request.await.map_or(0, |response| response.status().as_u16()) }
        });
        (futures_join(generic.collect()).await, futures_join(npm.collect()).await)
    });
    assert_eq!(
        statuses.iter().filter(|status| **status == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|status| *status == 201 || *status == 409),
        "{statuses:?}"
    );
    assert_eq!(
        npm_statuses.iter().filter(|status| **status == 201).count(),
        1,
        "{npm_statuses:?}"
    );
    assert!(
        npm_statuses
            .iter()
            .all(|status| *status == 201 || *status == 409),
        "{npm_statuses:?}"
    );
    let (status, body) = request(
        "GET",
        &format!("{}/d/local/generic/main/ns/race/1.0/file.bin", server.url),
        Some(&token),
        Vec::new(),
    );
    assert_eq!(status, 200);
    assert!(body.starts_with("writer "), "{body}");
}

fn base64_of(text: impl AsRef<[u8]>) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Run futures concurrently on the current runtime and collect their outputs in order.
async fn futures_join<F: std::future::Future<Output = u16> + Send + 'static>(
    futures: Vec<F>,
) -> Vec<u16> {
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.unwrap_or(0));
    }
    outputs
}
