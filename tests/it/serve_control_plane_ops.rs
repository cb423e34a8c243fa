//! The CodeArtifact operations of issue #18 on `lading serve`, driven by the AWS CLI and by
//! boto3 (`tests/peers/codeartifact_ops.py`, which validates every response against
//! botocore's service model). Each test runs its own server and works in its own domain.

use std::path::Path;
use std::process::Output;

use crate::require_tool;
use crate::support::{self, LadingServer, ServerSpec};

/// A server over a fresh data directory, and the directory (kept alive with it).
fn server() -> (tempfile::TempDir, LadingServer) {
    let dir = tempfile::tempdir().unwrap();
    let server = LadingServer::start(&dir.path().join("data"), ServerSpec::default());
    (dir, server)
}

/// `aws codeartifact ARGS` as the admin; the output whatever the exit status.
fn aws(server: &LadingServer, home: &Path, args: &[&str]) -> Output {
    support::run(&mut server.aws_command(home, args))
}

/// Run `aws codeartifact ARGS`, require it to fail with `code`, and return its stderr.
fn aws_error(server: &LadingServer, home: &Path, args: &[&str], code: &str) -> String {
    let output = aws(server, home, args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success() && stderr.contains(code),
        "expected {code} from {args:?}: {}",
        support::describe(&output)
    );
    stderr
}

/// Run one scenario of `tests/peers/codeartifact_ops.py` against `server`.
fn boto3_scenario(server: &LadingServer, home: &Path, scenario: &str, env: &[(&str, String)]) {
    let python = support::python().expect("python");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/codeartifact_ops.py");
    let mut command = support::clean_command(&python, home);
    command
        .arg(&script)
        .arg(scenario)
        .env("LADING_URL", &server.url);
    command.envs(server.aws_env());
    for (key, value) in env {
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
fn version_changes_on_a_package_that_does_not_exist_are_not_found() {
    require_tool!(support::aws());
    let (dir, server) = server();
    let package = [
        "--domain",
        "local",
        "--repository",
        "main",
        "--format",
        "generic",
        "--namespace",
        "ns",
        "--package",
        "never-published",
        "--versions",
        "1.0.0",
    ];
    let update = [
        &["update-package-versions-status"][..],
        &package,
        &["--target-status", "Archived"],
    ]
    .concat();
    aws_error(&server, dir.path(), &update, "ResourceNotFoundException");
    let delete = [&["delete-package-versions"][..], &package].concat();
    aws_error(&server, dir.path(), &delete, "ResourceNotFoundException");
}

#[test]
fn domains_and_repositories_are_deleted_by_the_service_rules() {
    require_tool!(support::aws());
    require_tool!(support::python());
    let (dir, server) = server();
    let home = dir.path();
    // The refusals (a domain with repositories, a repository that is an upstream) by boto3.
    boto3_scenario(&server, home, "lifecycle", &[]);
    let deleted = server.aws_json(
        home,
        &[
            "delete-repository",
            "--domain",
            "doomed",
            "--repository",
            "team",
        ],
    );
    assert_eq!(deleted["repository"]["name"], "team", "{deleted}");
    assert_eq!(deleted["repository"]["description"], "the team's");
    assert_eq!(
        deleted["repository"]["upstreams"][0]["repositoryName"],
        "base"
    );
    server.aws_json(
        home,
        &[
            "delete-repository",
            "--domain",
            "doomed",
            "--repository",
            "base",
        ],
    );
    let deleted = server.aws_json(home, &["delete-domain", "--domain", "doomed"]);
    assert_eq!(deleted["domain"]["name"], "doomed", "{deleted}");
    assert_eq!(deleted["domain"]["status"], "Deleted");
    aws_error(
        &server,
        home,
        &["describe-domain", "--domain", "doomed"],
        "ResourceNotFoundException",
    );
}

#[test]
fn versions_are_disposed_copied_and_their_readme_and_dependencies_read() {
    require_tool!(support::python());
    let (dir, server) = server();
    boto3_scenario(&server, dir.path(), "versions", &[]);
}

#[test]
fn tags_given_at_creation_are_kept_and_changed_by_tag_and_untag() {
    require_tool!(support::aws());
    require_tool!(support::python());
    let (dir, server) = server();
    let home = dir.path();
    // See: issue #18, `--tags` on create was silently dropped.
    server.aws_json(
        home,
        &[
            "create-domain",
            "--domain",
            "tagged",
            "--tags",
            "key=env,value=test",
        ],
    );
    server.aws_json(
        home,
        &[
            "create-repository",
            "--domain",
            "tagged",
            "--repository",
            "shelf",
            "--tags",
            "key=team,value=platform",
        ],
    );
    let listed = server.aws_json(
        home,
        &[
            "list-tags-for-resource",
            "--resource-arn",
            "arn:aws:codeartifact:us-east-1:000000000000:domain/tagged",
        ],
    );
    assert_eq!(
        listed["tags"],
        serde_json::json!([{ "key": "env", "value": "test" }]),
        "{listed}"
    );
    boto3_scenario(&server, home, "tags", &[]);
}

/// A principal with no grant at all, besides the generated admin.
const OUTSIDER_CONFIG: &str = "
principals:
  - name: outsider
    access_key_id: LKIAOUTSIDER00000001
    secret_access_key: outsider-secret-00000000000000000000000
    grants: []
domains:
  - name: local
    repositories: [main, other]
";

#[test]
fn permissions_policies_allow_without_a_grant_and_an_explicit_deny_wins() {
    require_tool!(support::python());
    let dir = tempfile::tempdir().unwrap();
    let server = LadingServer::start(
        &dir.path().join("data"),
        ServerSpec {
            config: Some(OUTSIDER_CONFIG),
            ..ServerSpec::default()
        },
    );
    boto3_scenario(&server, dir.path(), "policies", &[]);
}
