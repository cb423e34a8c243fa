//! Requests a test sends with credentials: curl (the real client for raw HTTP), reqwest where
//! a test needs the bytes and headers of an answer, and the `.npmrc` that points npm at a
//! registry with a token.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{clean_command, describe, find_tool, locate_tool, run};

/// `Authorization: Bearer <token>`, as curl's `-H` takes it.
pub fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}")
}

/// curl (`LADING_TEST_CURL`, else `curl` on `PATH`), for tests that require it.
pub fn curl() -> Option<PathBuf> {
    find_tool("LADING_TEST_CURL", None, Some("curl"))
}

fn curl_command(home: &Path) -> Command {
    clean_command(
        locate_tool("LADING_TEST_CURL", None, Some("curl")).unwrap_or_else(|| "curl".into()),
        home,
    )
}

/// `curl -s ARGS` in a clean environment under `home`: the status code and the body.
pub fn curl_status(home: &Path, args: &[&str]) -> (u16, String) {
    let mut command = curl_command(home);
    command
        .args(["-s", "-o", "-", "-w", "\n%{http_code}"])
        .args(args);
    let output = run(&mut command);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (
        status
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("curl printed no status: {}", describe(&output))),
        body.to_owned(),
    )
}

/// `curl -sS -o /dev/null ARGS` under `home`: the status code (0 when no answer came) and the
/// seconds it took.
pub fn curl_timed(home: &Path, args: &[&str]) -> (u16, f64) {
    let mut command = curl_command(home);
    command
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}"])
        .args(args);
    let output = run(&mut command);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut fields = text.split_whitespace();
    let status = fields
        .next()
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let seconds = fields
        .next()
        .and_then(|time| time.parse().ok())
        .unwrap_or(0.0);
    (status, seconds)
}

/// GET `url` with a bearer token and `headers`: the status, the `x-lading-upstream` note and
/// the body.
pub fn get_with_token(
    url: &str,
    token: &str,
    headers: &[(&str, &str)],
) -> (u16, Option<String>, Vec<u8>) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut request = reqwest::Client::new().get(url).bearer_auth(token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
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

/// Write `<dir>/npmrc`: `registry` as npm's registry, with `token` for it. Returns its path.
pub fn write_npmrc(dir: &Path, registry: &str, token: &str) -> PathBuf {
    let npmrc = dir.join("npmrc");
    let host = registry.trim_start_matches("http:");
    fs_err::write(
        &npmrc,
        format!("registry={registry}\n{host}:_authToken={token}\n"),
    )
    .unwrap();
    npmrc
}

/// npm under `home`, configured only by `npmrc` (`npm_config_userconfig`), with its cache in
/// `home/npm-cache`.
pub fn npm_command(npm: &Path, home: &Path, npmrc: &Path) -> Command {
    let mut command = clean_command(npm, home);
    command
        .env("npm_config_userconfig", npmrc)
        .env("npm_config_cache", home.join("npm-cache"));
    command
}

/// `PUT` `body` to `url` with HTTP Basic `aws:<token>` (how NuGet and Maven clients send a
/// repository token) and `content_type` when given: the status and the body of the answer.
pub fn put_basic(
    url: &str,
    token: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (reqwest::StatusCode, String) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut request = reqwest::Client::new()
            .put(url)
            .basic_auth("aws", Some(token))
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    })
}

/// A `packages.lock.json` entry pinning `version` of a direct dependency to the package whose
/// bytes (without a signature) are `hashed`.
pub fn nuget_lock_entry(version: &str, hashed: &[u8]) -> serde_json::Value {
    use base64::Engine as _;
    use sha2::Digest as _;
    serde_json::json!({
        "type": "Direct",
        "requested": format!("[{version}, )"),
        "resolved": version,
        "contentHash": base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(hashed)),
    })
}

/// The multipart body nuget.exe pushes a package in: the content type and the bytes.
pub fn nuget_multipart(package: &[u8]) -> (String, Vec<u8>) {
    let boundary = "lading-test-boundary";
    let mut body = format!("--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: form-data; name=package; filename=package.nupkg\r\n\r\n").into_bytes();
    body.extend_from_slice(package);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (
        format!("multipart/form-data; boundary=\"{boundary}\""),
        body,
    )
}

/// Push `package` to the NuGet feed at `base` (`.../nuget/<repository>/`) as nuget.exe does,
/// with `token` as HTTP Basic's password: the status.
pub fn nuget_push(base: &str, token: &str, package: &[u8]) -> reqwest::StatusCode {
    let (content_type, body) = nuget_multipart(package);
    put_basic(
        &format!("{base}v2/package"),
        token,
        Some(&content_type),
        body,
    )
    .0
}
