//! The CodeArtifact control plane of `lading serve`, driven by real AWS clients: boto3 (with
//! botocore validating every response against the service model), the AWS CLI, and
//! aws-sdk-rust through `lading::repository::codeartifact`.

use std::path::Path;

use crate::require_tool;
use crate::support::{self, LadingServer, ServerSpec};

#[test]
fn boto3_drives_the_control_plane_end_to_end() {
    let python = require_tool!(support::python());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = LadingServer::start(&data, ServerSpec::default());
    // Same data, clock an hour ahead: for signature-expiry and token-expiry refusals.
    let skewed = LadingServer::start(
        &data,
        ServerSpec {
            env: vec![("LADING_SERVE_CLOCK_OFFSET_SECONDS", "3600".to_owned())],
            ..ServerSpec::default()
        },
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/codeartifact_boto3.py");
    let mut command = support::clean_command(&python, dir.path());
    command
        .arg(&script)
        .env("LADING_URL", &server.url)
        .env("LADING_SKEWED_URL", &skewed.url);
    for (key, value) in server.aws_env() {
        command.env(key, value);
    }
    let output = support::run(&mut command);
    assert!(
        output.status.success(),
        "{}\n--- server log\n{}",
        support::describe(&output),
        server.log()
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("checks passed"), "{stdout}");
}

#[test]
fn zero_config_start_writes_private_credentials_that_the_aws_cli_uses() {
    let aws = require_tool!(support::aws());
    let (dir, server) = support::serve(ServerSpec::default());
    let credentials = server.credentials_file();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs_err::metadata(&credentials).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "credentials must be private");
    }
    assert!(
        server
            .log()
            .lines()
            .next()
            .unwrap_or_default()
            .contains("credentials"),
        "the first log line names the credentials file:\n{}",
        server.log()
    );
    let mut command = support::clean_command(&aws, dir.path());
    command.args([
        "codeartifact",
        "list-repositories",
        "--endpoint-url",
        &server.url,
        "--output",
        "json",
    ]);
    for (key, value) in server.aws_env() {
        command.env(key, value);
    }
    let output = support::run_ok(&mut command);
    let listing: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<(&str, &str)> = listing["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|repository| {
            (
                repository["domainName"].as_str().unwrap(),
                repository["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, vec![("local", "main")]);
}

#[test]
fn principals_without_admin_rights_are_refused_with_access_denied() {
    let aws = require_tool!(support::aws());
    let (dir, server) = support::serve(ServerSpec::with_config(support::PRINCIPALS_CONFIG));
    let reader = support::READER.credentials(dir.path());
    let aws_as_reader = |args: &[&str]| {
        let mut command = support::clean_command(&aws, dir.path());
        command.args(["codeartifact"]).args(args).args([
            "--endpoint-url",
            &server.url,
            "--region",
            "us-east-1",
            "--output",
            "json",
        ]);
        command
            .env("AWS_SHARED_CREDENTIALS_FILE", &reader)
            .env("AWS_CONFIG_FILE", "/dev/null");
        support::run(&mut command)
    };
    let denied = aws_as_reader(&[
        "create-repository",
        "--domain",
        "local",
        "--repository",
        "sneaky",
    ]);
    assert!(!denied.status.success());
    let stderr = String::from_utf8_lossy(&denied.stderr);
    assert!(
        stderr.contains("AccessDeniedException") && stderr.contains("user/reader"),
        "{stderr}"
    );
    // Only repositories the reader may read are listed.
    let listed = aws_as_reader(&["list-repositories"]);
    assert!(listed.status.success(), "{}", support::describe(&listed));
    let listing: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(
        listing["repositories"].as_array().unwrap().len(),
        1,
        "{listing}"
    );
    let token = aws_as_reader(&["get-authorization-token", "--domain", "local"]);
    assert!(token.status.success(), "{}", support::describe(&token));
}

#[test]
fn aws_sdk_rust_mints_tokens_and_endpoints_through_the_repository_module() {
    let (dir, server) = support::serve(ServerSpec::default());
    let (access_key_id, secret) = support::read_credentials(&server.credentials_file());
    // aws-config reads credentials from the environment; set them for this process only
    // through a dedicated profile file instead of mutating the test process environment.
    let profile = support::write_credentials(dir.path(), "sdk", &access_key_id, &secret);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let target = lading::repository::codeartifact::Target {
            domain: "local".to_owned(),
            domain_owner: Some("000000000000".to_owned()),
            repository: "main".to_owned(),
            region: Some("us-east-1".to_owned()),
            endpoint_url: Some(server.url.clone()),
        };
        let client = lading::repository::codeartifact::CodeArtifact::connect_with_profile_file(
            target, &profile,
        )
        .await;
        let (token, expiration) = client.authorization_token(Some(900)).await.unwrap();
        assert!(token.expose().starts_with("ldt_"));
        assert!(expiration.is_some());
        let endpoint = client.repository_endpoint("npm").await.unwrap();
        assert_eq!(
            endpoint.to_string(),
            format!("{}/d/local/npm/main/", server.url)
        );
        let error = client.repository_endpoint("nope").await.unwrap_err();
        assert!(error.to_string().contains("ValidationException"), "{error}");
    });
}
