//! Durability of `lading serve`: data survive a restart, concurrent publishers both land,
//! and tokens never reach the server log, even at trace level.

use crate::require_tool;
use crate::support::{self, LadingServer, ServerSpec};

/// `publish-package-version` of generic `ns/report@version` asset `asset` into `repository`.
fn publish_args<'a>(
    repository: &'a str,
    version: &'a str,
    asset: &'a str,
    file: &'a str,
    sha256: &'a str,
) -> Vec<&'a str> {
    let mut args = support::generic_publish_args("report", version, asset, file, sha256);
    args.extend(["--domain", "local", "--repository", repository]);
    args
}

#[test]
fn data_survive_a_restart() {
    require_tool!(support::aws());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let asset = dir.path().join("report.txt");
    fs_err::write(&asset, "durable bytes\n").unwrap();
    let sha256 = lading::server::store::Digests::of(b"durable bytes\n").sha256;
    let asset_path = asset.display().to_string();

    let first = LadingServer::start(&data, ServerSpec::default());
    let keys_before = fs_err::read_to_string(first.credentials_file()).unwrap();
    first.aws_json_on(dir.path(), "kept", &["create-repository"]);
    first.aws_json(
        dir.path(),
        &publish_args("kept", "1.0.0", "report.txt", &asset_path, &sha256),
    );
    let token = first.admin_token(dir.path());
    first.stop();

    let second = LadingServer::start(&data, ServerSpec::default());
    assert_eq!(
        fs_err::read_to_string(second.credentials_file()).unwrap(),
        keys_before,
        "the admin keys are kept across restarts"
    );
    let repositories = second.aws_json(
        dir.path(),
        &["list-repositories-in-domain", "--domain", "local"],
    );
    let names: Vec<&str> = repositories["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|repository| repository["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["kept", "main"]);
    let out = dir.path().join("downloaded.txt");
    let mut download = second.aws_command_on(
        dir.path(),
        "kept",
        &[
            "get-package-version-asset",
            "--format",
            "generic",
            "--namespace",
            "ns",
            "--package",
            "report",
            "--package-version",
            "1.0.0",
            "--asset",
            "report.txt",
        ],
    );
    download.arg(&out);
    support::run_ok(&mut download);
    assert_eq!(fs_err::read(&out).unwrap(), b"durable bytes\n");
    // Tokens survive too.
    let whoami = reqwest::blocking_get_with_token(
        &format!("{}/d/local/npm/kept/-/whoami", second.url),
        &token,
    );
    assert_eq!(whoami, (200, r#"{"username":"admin"}"#.to_owned()));
}

#[test]
fn concurrent_publishes_of_different_versions_both_land() {
    require_tool!(support::aws());
    let (dir, server) = support::serve(ServerSpec::default());
    let versions = ["1.0.0", "1.0.1", "1.0.2", "1.0.3"];
    let children: Vec<_> = versions
        .iter()
        .map(|version| {
            let file = dir.path().join(format!("asset-{version}.bin"));
            let content = format!("content of {version}\n");
            fs_err::write(&file, &content).unwrap();
            let sha256 = lading::server::store::Digests::of(content.as_bytes()).sha256;
            let file = file.display().to_string();
            let mut command = server.aws_command(
                dir.path(),
                &publish_args("main", version, "asset.bin", &file, &sha256),
            );
            command
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", support::describe(&output));
    }
    let listing = server.aws_json_on(
        dir.path(),
        "main",
        &[
            "list-package-versions",
            "--format",
            "generic",
            "--namespace",
            "ns",
            "--package",
            "report",
        ],
    );
    let mut landed: Vec<&str> = listing["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|version| version["version"].as_str().unwrap())
        .collect();
    landed.sort_unstable();
    assert_eq!(landed, versions);
}

#[test]
fn tokens_and_secret_keys_never_reach_the_log_at_trace_level() {
    require_tool!(support::aws());
    let dir = tempfile::tempdir().unwrap();
    let server = LadingServer::start(
        &dir.path().join("data"),
        ServerSpec {
            env: vec![("LADING_LOG", "trace".to_owned())],
            args: vec!["-vv"],
            ..ServerSpec::default()
        },
    );
    let token = server.admin_token(dir.path());
    let ok = reqwest::blocking_get_with_token(
        &format!("{}/d/local/npm/main/-/whoami", server.url),
        &token,
    );
    assert_eq!(ok.0, 200);
    let refused = reqwest::blocking_get_with_token(
        &format!("{}/d/local/npm/main/-/whoami", server.url),
        &format!("{token}x"),
    );
    assert_eq!(refused.0, 401);
    let (_, secret) = support::read_credentials(&server.credentials_file());
    let log = server.stop();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "the log ran at trace level:\n{log}"
    );
    assert!(!log.contains(&token), "the token leaked into the log");
    assert!(!log.contains(&secret), "the secret key leaked into the log");
}

/// A tiny blocking GET (the tests avoid an extra HTTP client dependency).
mod reqwest {
    pub fn blocking_get_with_token(url: &str, token: &str) -> (u16, String) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let response = ::reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        })
    }
}
