//! Security properties of `lading serve` (issue #15), each driven by a real client: the AWS
//! CLI and botocore for the control plane, curl for raw HTTP, npm, nuget.exe and git.
//!
//! Upstreams never widen what a principal reads; a signed request cannot be replayed with
//! another body, nor carry a session token the server did not issue; NuGet packages are
//! bounded at push and their `.nuspec` is parsed once; npm publishes must agree with their
//! tarball; generic coordinates follow CodeArtifact's rules; package state is keyed by
//! format; page tokens are opaque; the data directory is git-ignored.

use std::path::Path;

use crate::require_tool;
use crate::support::client::{bearer, curl, curl_status, npm_command, write_npmrc};
use crate::support::{self, LadingServer, ServerSpec, on_repository};

/// Principals for the upstream tests: `lead` administers `team` and may read `secret` in
/// the first config, not in the second (the grant removed after the association); `intern`
/// administers `team` and never reads `secret`.
const UPSTREAM_CONFIG: &str = "
principals:
  - name: lead
    access_key_id: LKIALEAD000000000001
    secret_access_key: lead-secret-00000000000000000000000000
    grants:
      - { domain: local, repository: team, permissions: [admin] }
      - { domain: local, repository: secret, permissions: [read] }
  - name: intern
    access_key_id: LKIAINTERN0000000001
    secret_access_key: intern-secret-000000000000000000000000
    grants:
      - { domain: local, repository: team, permissions: [admin] }
      - { domain: local, repository: scratch, permissions: [admin] }
domains:
  - name: local
    repositories: [main, team, secret]
";

/// An npm publish document for `name`@`version` around `tarball`, sent with curl.
fn npm_publish(
    home: &Path,
    url: &str,
    token: &str,
    name: &str,
    version: &str,
    tarball: &[u8],
    tags: &serde_json::Value,
) -> (u16, String) {
    use base64::Engine as _;
    let file = name.rsplit('/').next().unwrap();
    let document = serde_json::json!({
        "_id": name,
        "name": name,
        "dist-tags": tags,
        "versions": {version: {"name": name, "version": version}},
        "_attachments": {format!("{file}-{version}.tgz"): {
            "content_type": "application/octet-stream",
            "data": base64::engine::general_purpose::STANDARD.encode(tarball),
            "length": tarball.len(),
        }},
    });
    let body = home.join("publish.json");
    fs_err::write(&body, document.to_string()).unwrap();
    curl_status(
        home,
        &[
            "-X",
            "PUT",
            "-H",
            &bearer(token),
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &format!("@{}", body.display()),
            &format!("{url}{}", name.replace('/', "%2f")),
        ],
    )
}

// See: issue #15, item 1.
#[test]
fn an_upstream_needs_read_on_it_to_be_associated() {
    require_tool!(support::aws());
    let (dir, server) = support::serve(ServerSpec::with_config(UPSTREAM_CONFIG));
    let intern = support::write_credentials(
        dir.path(),
        "intern",
        "LKIAINTERN0000000001",
        "intern-secret-000000000000000000000000",
    );
    for args in [
        on_repository(
            "team",
            &["update-repository", "--upstreams", "repositoryName=secret"],
        ),
        on_repository(
            "scratch",
            &["create-repository", "--upstreams", "repositoryName=secret"],
        ),
    ] {
        let refused = server.aws_as(dir.path(), &intern, &args);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            !refused.status.success()
                && stderr.contains("AccessDeniedException")
                && stderr.contains("codeartifact:AssociateWithDownstreamRepository")
                && stderr.contains("repository/local/secret"),
            "{args:?}: {}",
            support::describe(&refused)
        );
    }
    // Nothing changed: `team` still has no upstream, `scratch` was not created.
    let team = server.aws_json_on(dir.path(), "team", &["describe-repository"]);
    assert_eq!(team["repository"]["upstreams"], serde_json::json!([]));
    // An upstream the principal may read is accepted.
    for args in [
        on_repository("scratch", &["create-repository"]),
        on_repository(
            "team",
            &["update-repository", "--upstreams", "repositoryName=scratch"],
        ),
    ] {
        let accepted = server.aws_as(dir.path(), &intern, &args);
        assert!(
            accepted.status.success(),
            "{args:?}: {}",
            support::describe(&accepted)
        );
    }
}

// See: issue #15, item 1 (permissions change after the association).
#[test]
fn reads_through_an_upstream_stop_when_the_grant_on_it_is_removed() {
    require_tool!(support::aws());
    require_tool!(curl());
    let (dir, server) = support::serve(ServerSpec::with_config(UPSTREAM_CONFIG));
    let data = server.data.clone();
    let lead = support::write_credentials(
        dir.path(),
        "lead",
        "LKIALEAD000000000001",
        "lead-secret-00000000000000000000000000",
    );
    let admin_token = server.admin_token(dir.path());
    let secret_url = format!("{}/d/local/npm/secret/", server.url);
    let tarball = support::npm_tarball("classified", "1.0.0", "the plans");
    let (status, body) = npm_publish(
        dir.path(),
        &secret_url,
        &admin_token,
        "classified",
        "1.0.0",
        &tarball,
        &serde_json::json!({"latest": "1.0.0"}),
    );
    assert_eq!(status, 201, "{body}");
    let associated = server.aws_as(
        dir.path(),
        &lead,
        &on_repository(
            "team",
            &["update-repository", "--upstreams", "repositoryName=secret"],
        ),
    );
    assert!(
        associated.status.success(),
        "{}",
        support::describe(&associated)
    );
    let lead_token = server.token_as(dir.path(), &lead);
    let team_url = format!("{}/d/local/npm/team/", server.url);
    let auth = bearer(&lead_token);
    let (status, body) = curl_status(dir.path(), &["-H", &auth, &format!("{team_url}classified")]);
    assert_eq!(
        status, 200,
        "read through the upstream while granted: {body}"
    );
    drop(server);

    // The grant on `secret` is removed; the association and lead's token stay.
    let revoked = UPSTREAM_CONFIG.replace(
        "      - { domain: local, repository: secret, permissions: [read] }\n",
        "",
    );
    let server = LadingServer::start(&data, ServerSpec::with_config(&revoked));
    let team_url = format!("{}/d/local/npm/team/", server.url);
    let (status, body) = curl_status(dir.path(), &["-H", &auth, &format!("{team_url}classified")]);
    assert_eq!(status, 404, "packument through the upstream: {body}");
    let (status, body) = curl_status(
        dir.path(),
        &[
            "-H",
            &auth,
            &format!("{team_url}classified/-/classified-1.0.0.tgz"),
        ],
    );
    assert_eq!(status, 404, "tarball through the upstream: {body}");
    // The admin, who reads every repository, still reads through the upstream.
    let admin_token = server.admin_token(dir.path());
    let (status, body) = curl_status(
        dir.path(),
        &[
            "-H",
            &bearer(&admin_token),
            &format!("{team_url}classified"),
        ],
    );
    assert_eq!(status, 200, "{body}");
}

// See: issue #15, item 6.
#[test]
fn a_signed_request_replayed_with_another_body_is_refused() {
    let python = require_tool!(support::python());
    let (dir, server) = support::serve(ServerSpec::default());
    // botocore signs a ListDomains request whose x-amz-content-sha256 covers `{}`; the same
    // headers are then sent with the signed body and with another one.
    let script = r#"
import hashlib, json, os, sys, urllib.request, urllib.error
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
credentials = botocore.session.get_session().get_credentials()
url = os.environ["LADING_URL"] + "/v1/domains"
signed = b"{}"
request = AWSRequest(method="POST", url=url, data=signed, headers={
    "Content-Type": "application/json",
    "X-Amz-Content-SHA256": hashlib.sha256(signed).hexdigest(),
})
SigV4Auth(credentials, "codeartifact", "us-east-1").add_auth(request)
headers = dict(request.headers.items())
for body in (signed, b'{"maxResults": 1}'):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers, method="POST")) as response:
            print(response.status, response.headers.get("x-amzn-ErrorType"))
    except urllib.error.HTTPError as error:
        print(error.code, error.headers.get("x-amzn-ErrorType"))
"#;
    let mut command = support::clean_command(&python, dir.path());
    command
        .args(["-c", script])
        .env("LADING_URL", &server.url)
        .envs(server.aws_env());
    let output = support::run_ok(&mut command);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        vec!["200 None", "400 XAmzContentSHA256Mismatch"],
        "{}",
        support::describe(&output)
    );
}

// See: issue #15, item 7.
#[test]
fn a_session_token_the_server_did_not_issue_is_refused() {
    require_tool!(support::aws());
    let (dir, server) = support::serve(ServerSpec::default());
    let (key, secret) = support::read_credentials(&server.credentials_file());
    let with_token = dir.path().join("session.credentials");
    fs_err::write(
        &with_token,
        format!(
            "[default]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\naws_session_token = FwoGZXIvYXdzEBogus//token\n"
        ),
    )
    .unwrap();
    let refused = server.aws_as(dir.path(), &with_token, &["list-repositories"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("InvalidClientTokenId"),
        "{}",
        support::describe(&refused)
    );
    // The same keys without a session token work.
    server.aws_json(dir.path(), &["list-repositories"]);
}

/// A `.nupkg` (zip) holding a nuspec for `id` 1.0.0 and `extra` empty content files.
fn nupkg_with_entries(id: &str, extra: usize) -> Vec<u8> {
    use std::io::Write as _;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    writer.start_file(format!("{id}.nuspec"), options).unwrap();
    writer
        .write_all(
            format!(
                r#"<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata><id>{id}</id><version>1.0.0</version><authors>t</authors><description>d</description></metadata>
</package>"#
            )
            .as_bytes(),
        )
        .unwrap();
    for index in 0..extra {
        writer
            .start_file(format!("content/f{index}.txt"), options)
            .unwrap();
    }
    writer.finish().unwrap().into_inner()
}

// See: issue #15, item 8 (server part).
#[test]
fn nuget_pushes_are_bounded_and_the_nuspec_is_parsed_once() {
    require_tool!(crate::serve_nuget::mono());
    require_tool!(crate::serve_nuget::nuget_exe());
    require_tool!(support::aws());
    require_tool!(curl());
    let (dir, server) = support::serve(ServerSpec::default());
    let data = server.data.clone();
    let token = server.admin_token(dir.path());
    let user = crate::serve_nuget::NuGetUser::new(dir.path(), "pusher");
    let source = format!("{}/d/local/nuget/main/v3/index.json", server.url);
    user.add_source(&source, &token);

    // 20 001 entries: over the cap, refused whole.
    let crowded = dir.path().join("crowded.1.0.0.nupkg");
    fs_err::write(&crowded, nupkg_with_entries("Crowded", 20_001)).unwrap();
    let refused = user.push(&crowded, &source, &token);
    assert!(
        !refused.status.success()
            && String::from_utf8_lossy(&refused.stderr).contains("at most 20000 are accepted"),
        "{}",
        support::describe(&refused)
    );
    // A declared uncompressed size over 2 GiB: refused (curl, nuget.exe would not build it).
    let mut bomb = nupkg_with_entries("Bomb", 1);
    let central = bomb
        .windows(4)
        .rposition(|window| window == [0x50, 0x4b, 0x01, 0x02])
        .unwrap();
    bomb[central + 24..central + 28].copy_from_slice(&u32::MAX.to_le_bytes());
    let bomb_file = dir.path().join("bomb.1.0.0.nupkg");
    fs_err::write(&bomb_file, &bomb).unwrap();
    let (status, body) = curl_status(
        dir.path(),
        &[
            "-X",
            "PUT",
            "-H",
            &format!("X-NuGet-ApiKey: {token}"),
            "--data-binary",
            &format!("@{}", bomb_file.display()),
            &format!("{}/d/local/nuget/main/v2/package", server.url),
        ],
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("uncompressed"), "{body}");
    for id in ["crowded", "bomb"] {
        let (status, _) = curl_status(
            dir.path(),
            &[
                "-u",
                &format!("aws:{token}"),
                &format!(
                    "{}/d/local/nuget/main/v3/package/{id}/index.json",
                    server.url
                ),
            ],
        );
        assert_eq!(status, 404, "`{id}` must not be stored");
    }

    // A normal package: its .nuspec is served from what push parsed, never from the package
    // again (here: with the package's blob gone from disk).
    let fine = dir.path().join("fine.1.0.0.nupkg");
    fs_err::write(&fine, nupkg_with_entries("Fine", 3)).unwrap();
    let pushed = user.push(&fine, &source, &token);
    assert!(pushed.status.success(), "{}", support::describe(&pushed));
    let sha256 = support::sha256_hex(&fs_err::read(&fine).unwrap());
    let blob = data
        .join("blobs-v1")
        .join("sha256")
        .join(&sha256[..2])
        .join(&sha256);
    fs_err::remove_file(&blob).unwrap();
    let (status, body) = curl_status(
        dir.path(),
        &[
            "-u",
            &format!("aws:{token}"),
            &format!(
                "{}/d/local/nuget/main/v3/package/fine/1.0.0/fine.nuspec",
                server.url
            ),
        ],
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<id>Fine</id>"), "{body}");
}

// See: issue #15, item 9.
/// A server with the admin's token and the npm registry URL of `main`, for tests that publish
/// with curl and read back with npm.
struct NpmRepository {
    npm: std::path::PathBuf,
    dir: tempfile::TempDir,
    server: LadingServer,
    token: String,
    url: String,
}

impl NpmRepository {
    /// Requires the AWS CLI (the token), curl and npm.
    fn start() -> Option<Self> {
        support::aws()?;
        curl()?;
        let npm = support::npm()?;
        let (dir, server) = support::serve(ServerSpec::default());
        let token = server.admin_token(dir.path());
        let url = format!("{}/d/local/npm/main/", server.url);
        Some(Self {
            npm,
            dir,
            server,
            token,
            url,
        })
    }
}

#[test]
fn npm_publishes_must_agree_with_their_tarball_semver_and_tags() {
    let NpmRepository {
        npm,
        dir,
        server: _server,
        token,
        url,
    } = require_tool!(NpmRepository::start());
    let latest = serde_json::json!({"latest": "1.0.0"});
    let cases: [(&str, &str, Vec<u8>, serde_json::Value, &str); 4] = [
        (
            "victim",
            "1.0.0",
            support::npm_tarball("evil", "1.0.0", "x"),
            latest.clone(),
            "has name `evil`",
        ),
        (
            "victim",
            "1.0.0",
            support::npm_tarball("victim", "6.6.6", "x"),
            latest.clone(),
            "has version `6.6.6`",
        ),
        (
            "victim",
            "banana",
            support::npm_tarball("victim", "banana", "x"),
            serde_json::json!({"latest": "banana"}),
            "not a valid semver version",
        ),
        (
            "victim",
            "1.0.0",
            support::npm_tarball("victim", "1.0.0", "x"),
            serde_json::json!({"latest": "1.0.0", "beta": "9.9.9"}),
            "dist-tag `beta`",
        ),
    ];
    for (name, version, tarball, tags, expected) in cases {
        let (status, body) = npm_publish(dir.path(), &url, &token, name, version, &tarball, &tags);
        assert_eq!(status, 400, "{expected}: {body}");
        assert!(body.contains(expected), "{expected}: {body}");
    }
    // npm sees nothing published.
    let npmrc = write_npmrc(dir.path(), &url, &token);
    let view =
        support::run(npm_command(&npm, dir.path(), &npmrc).args(["view", "victim", "--json"]));
    assert!(
        !view.status.success() && String::from_utf8_lossy(&view.stdout).contains("E404"),
        "{}",
        support::describe(&view)
    );
    // A consistent publish passes.
    let (status, body) = npm_publish(
        dir.path(),
        &url,
        &token,
        "victim",
        "1.0.0",
        &support::npm_tarball("victim", "1.0.0", "x"),
        &latest,
    );
    assert_eq!(status, 201, "{body}");
}

// See: issue #15, item 10.
#[test]
fn generic_coordinates_follow_codeartifact_rules_on_both_planes() {
    require_tool!(support::aws());
    require_tool!(curl());
    let (dir, server) = support::serve(ServerSpec::default());
    let token = server.admin_token(dir.path());
    let auth = bearer(&token);
    let asset = dir.path().join("asset.txt");
    fs_err::write(&asset, "payload").unwrap();
    let long = "p".repeat(256);
    for path in [
        format!("ns/{long}/1.0/a.txt"),
        "ns%23x/pkg/1.0/a.txt".to_owned(),
        "ns/pkg/1.0%20beta/a.txt".to_owned(),
        "ns/pkg/1.0/%24%3D.txt".to_owned(),
    ] {
        let (status, body) = curl_status(
            dir.path(),
            &[
                "-X",
                "PUT",
                "-H",
                &auth,
                "--data-binary",
                &format!("@{}", asset.display()),
                &format!("{}/d/local/generic/main/{path}", server.url),
            ],
        );
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            body.contains("failed to satisfy constraint"),
            "{path}: {body}"
        );
    }
    let refused = support::run(&mut server.aws_command_on(
        dir.path(),
        "main",
        &support::generic_publish_args(
            "pkg",
            "..",
            "a.txt",
            &asset.display().to_string(),
            "239f59ed55e737c77147cf55ad0c1b030b6d7ee748a7426952f9b852d5a935e5",
        ),
    ));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("ValidationException"),
        "{}",
        support::describe(&refused)
    );
    let listed = server.aws_json_on(dir.path(), "main", &["list-packages"]);
    assert_eq!(listed["packages"], serde_json::json!([]));
}

// See: issue #15, item 13.
#[test]
fn deleting_a_generic_package_keeps_the_dist_tags_of_a_same_named_npm_package() {
    let NpmRepository {
        npm,
        dir,
        server,
        token,
        url,
    } = require_tool!(NpmRepository::start());
    let (status, body) = npm_publish(
        dir.path(),
        &url,
        &token,
        "@acme/tool",
        "1.0.0",
        &support::npm_tarball("@acme/tool", "1.0.0", "x"),
        &serde_json::json!({"latest": "1.0.0", "stable": "1.0.0"}),
    );
    assert_eq!(status, 201, "{body}");
    let asset = dir.path().join("tool.bin");
    fs_err::write(&asset, "generic").unwrap();
    let (status, body) = curl_status(
        dir.path(),
        &[
            "-X",
            "PUT",
            "-H",
            &bearer(&token),
            "--data-binary",
            &format!("@{}", asset.display()),
            &format!("{}/d/local/generic/main/acme/tool/1.0/tool.bin", server.url),
        ],
    );
    assert_eq!(status, 201, "{body}");
    server.aws_json_on(
        dir.path(),
        "main",
        &[
            "delete-package",
            "--format",
            "generic",
            "--namespace",
            "acme",
            "--package",
            "tool",
        ],
    );
    let npmrc = write_npmrc(dir.path(), &url, &token);
    let output = support::run_ok(npm_command(&npm, dir.path(), &npmrc).args([
        "dist-tag",
        "ls",
        "@acme/tool",
    ]));
    let listed = String::from_utf8_lossy(&output.stdout);
    assert!(
        listed.contains("latest: 1.0.0") && listed.contains("stable: 1.0.0"),
        "{}",
        support::describe(&output)
    );
}

// See: issue #15, item 15.
#[test]
fn page_tokens_are_opaque_and_forged_ones_are_refused() {
    require_tool!(support::aws());
    let (dir, server) = support::serve(ServerSpec::with_config(support::PRINCIPALS_CONFIG));
    // The AWS CLI follows real tokens one repository at a time.
    let all = server.aws_json(dir.path(), &["list-repositories", "--page-size", "1"]);
    let names: Vec<&str> = all["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|repository| repository["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["main", "other"]);
    let first = server.aws_json(
        dir.path(),
        &["list-repositories", "--max-results", "1", "--no-paginate"],
    );
    let issued = first["nextToken"].as_str().unwrap().to_owned();
    assert!(!issued.contains("offset"), "{issued}");
    let encode = |text: &str| {
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, text)
    };
    for forged in [
        encode("offset:1"),
        encode(&format!("offset:{}", u64::MAX)),
        format!("{issued}A"),
    ] {
        let refused = support::run(&mut server.aws_command(
            dir.path(),
            &[
                "list-repositories",
                "--max-results",
                "1",
                "--no-paginate",
                "--next-token",
                &forged,
            ],
        ));
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            !refused.status.success() && stderr.contains("ValidationException"),
            "{forged}: {}",
            support::describe(&refused)
        );
    }
    // A token is bound to its listing: one from ListRepositories does not page packages.
    let other = support::run(&mut server.aws_command_on(
        dir.path(),
        "main",
        &["list-packages", "--no-paginate", "--next-token", &issued],
    ));
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("ValidationException"),
        "{}",
        support::describe(&other)
    );
}

// See: issue #15, item 16.
#[test]
fn the_data_directory_is_never_committed_by_git_add() {
    let git = require_tool!(support::find_tool("LADING_TEST_GIT", None, Some("git")));
    let dir = tempfile::tempdir().unwrap();
    let checkout = dir.path().join("checkout");
    fs_err::create_dir_all(&checkout).unwrap();
    let git_in = |args: &[&str]| {
        let mut command = support::clean_command(&git, dir.path());
        command.current_dir(&checkout).args(args);
        support::run_ok(&mut command)
    };
    git_in(&["init", "-q"]);
    fs_err::write(checkout.join("README.md"), "project\n").unwrap();
    let server = LadingServer::start(&checkout.join(".lading/repo"), ServerSpec::default());
    assert!(server.credentials_file().exists());
    git_in(&["add", "."]);
    let staged = git_in(&["diff", "--cached", "--name-only"]);
    assert_eq!(String::from_utf8_lossy(&staged.stdout), "README.md\n");
}
