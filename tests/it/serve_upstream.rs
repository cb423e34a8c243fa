//! Upstream repositories, external connections (pull-through caching) and package origin
//! controls of `lading serve`, with real npm as the client and real Verdaccio as the
//! upstream registry.

use std::path::Path;

use crate::require_tool;
use crate::serve_npm::{NpmUser, app, package};
use crate::support::peers::{StaticServer, Verdaccio};
use crate::support::{self, LadingServer, ServerSpec};

pub(crate) fn get(url: &str, token: &str) -> (u16, Option<String>, String) {
    let (status, note, body) = get_bytes(url, token);
    (status, note, String::from_utf8_lossy(&body).into_owned())
}

/// GET with a bearer token: status, `x-lading-upstream`, body bytes.
fn get_bytes(url: &str, token: &str) -> (u16, Option<String>, Vec<u8>) {
    support::client::get_with_token(url, token, &[])
}

/// Publish `name@version` to Verdaccio with real npm.
fn publish_to_verdaccio(verdaccio: &Verdaccio, root: &Path, name: &str, version: &str, body: &str) {
    let npm = support::npm().expect("npm");
    let home = root.join("verdaccio-publisher");
    fs_err::create_dir_all(&home).unwrap();
    fs_err::write(home.join(".npmrc"), verdaccio.npmrc()).unwrap();
    let source = package(root, name, version, body);
    let mut command = support::clean_command(&npm, &home);
    command
        .current_dir(&source)
        .args(["publish", "--no-audit", "--no-update-notifier"])
        .env("npm_config_cache", home.join("cache"));
    support::run_ok(&mut command);
}

fn external_config(url: &str) -> String {
    format!(
        "external_connections:\n  - name: verdaccio\n    format: npm\n    url: {url}\n    token_env: VERDACCIO_TOKEN\ndomains:\n  - name: local\n    repositories: [main, team]\n"
    )
}

/// lading serve over `dir/data` with the external connection `verdaccio` (Verdaccio, or a
/// proxy in front of it, at `url`) associated to `main`; also what the association returned.
fn serve_with_verdaccio_connection(
    dir: &Path,
    url: &str,
    verdaccio: &Verdaccio,
) -> (LadingServer, serde_json::Value) {
    let config = external_config(url);
    let server = LadingServer::start(
        &dir.join("data"),
        ServerSpec {
            config: Some(&config),
            env: vec![("VERDACCIO_TOKEN", verdaccio.token.clone())],
            // Revalidate on every request: these tests watch the upstream change and fail.
            args: vec!["--metadata-ttl", "0"],
            ..ServerSpec::default()
        },
    );
    let associated = server.associate(dir, "main", "verdaccio");
    (server, associated)
}

#[test]
fn npm_pulls_through_verdaccio_and_keeps_working_when_it_is_down() {
    require_tool!(support::aws());
    require_tool!(support::npm());
    let verdaccio_bin = require_tool!(Verdaccio::find());
    let dir = tempfile::tempdir().unwrap();
    let mut verdaccio = Verdaccio::start(&verdaccio_bin, &dir.path().join("verdaccio"));
    publish_to_verdaccio(
        &verdaccio,
        dir.path(),
        "only-upstream",
        "1.2.0",
        "'from verdaccio'",
    );
    publish_to_verdaccio(
        &verdaccio,
        dir.path(),
        "blocked-pkg",
        "1.0.0",
        "'should never arrive'",
    );

    let (server, associated) =
        serve_with_verdaccio_connection(dir.path(), &verdaccio.url, &verdaccio);
    assert_eq!(
        associated["repository"]["externalConnections"][0]["externalConnectionName"], "verdaccio",
        "{associated}"
    );
    server.aws_json_on(
        dir.path(),
        "team",
        &["update-repository", "--upstreams", "repositoryName=main"],
    );

    // An internal package published directly: its origin defaults to upstream=BLOCK, so the
    // impostor 9.9.9 on Verdaccio never shows through (dependency confusion).
    let admin = NpmUser::login(
        &server,
        dir.path(),
        "admin",
        &server.credentials_file(),
        "main",
    );
    admin.npm_ok(
        &package(dir.path(), "@acme/internal", "1.0.0", "'genuine'"),
        &["publish"],
    );
    // Later, someone publishes a same-named, higher version upstream.
    publish_to_verdaccio(
        &verdaccio,
        dir.path(),
        "@acme/internal",
        "9.9.9",
        "'impostor'",
    );
    let origin = server.aws_json_on(
        dir.path(),
        "main",
        &[
            "describe-package",
            "--format",
            "npm",
            "--namespace",
            "acme",
            "--package",
            "internal",
        ],
    );
    assert_eq!(
        origin["package"]["originConfiguration"]["restrictions"],
        serde_json::json!({"publish": "ALLOW", "upstream": "BLOCK"})
    );
    // An explicit BLOCK on a package the repository has never seen.
    server.aws_json_on(
        dir.path(),
        "main",
        &[
            "put-package-origin-configuration",
            "--format",
            "npm",
            "--package",
            "blocked-pkg",
            "--restrictions",
            "publish=ALLOW,upstream=BLOCK",
        ],
    );

    // A consumer of `team` (upstream: main, which has the external connection).
    let consumer_user = NpmUser::login(
        &server,
        dir.path(),
        "consumer",
        &server.credentials_file(),
        "team",
    );
    let consumer = app(dir.path(), "consumer");
    consumer_user.npm_ok(
        &consumer,
        &["install", "only-upstream@1.2.0", "@acme/internal"],
    );
    let mut node = std::process::Command::new("node");
    node.current_dir(&consumer).args([
        "-e",
        "console.log(require('only-upstream') + ' / ' + require('@acme/internal'))",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&support::run_ok(&mut node).stdout).trim(),
        "from verdaccio / genuine"
    );

    // Retained in both repositories, with EXTERNAL origin.
    for repository in ["main", "team"] {
        let versions = server.aws_json_on(
            dir.path(),
            repository,
            &[
                "list-package-versions",
                "--format",
                "npm",
                "--package",
                "only-upstream",
            ],
        );
        assert_eq!(versions["versions"][0]["version"], "1.2.0", "{versions}");
        assert_eq!(
            versions["versions"][0]["origin"]["originType"], "EXTERNAL",
            "{versions}"
        );
    }
    let view = consumer_user.npm(
        dir.path(),
        &["view", "@acme/internal", "versions", "--json"],
    );
    let versions: Vec<String> = serde_json::from_slice(&view.stdout)
        .unwrap_or_else(|_| panic!("{}", support::describe(&view)));
    assert_eq!(
        versions,
        vec!["1.0.0"],
        "the impostor 9.9.9 must not show through"
    );

    // The explicit BLOCK: a clear refusal, nothing fetched.
    let blocked = consumer_user.npm(&app(dir.path(), "blocked-app"), &["install", "blocked-pkg"]);
    assert!(!blocked.status.success(), "{}", support::describe(&blocked));
    let token = admin.token();
    let (status, _, body) = get(
        &format!("{}/d/local/npm/main/blocked-pkg", server.url),
        &token,
    );
    assert_eq!(status, 404);
    assert!(body.contains("upstream=BLOCK"), "{body}");

    // Verdaccio goes down: a fresh install still works from what lading retained, and the
    // response says the upstream is unavailable.
    verdaccio.stop();
    let offline_user = NpmUser::login(
        &server,
        dir.path(),
        "offline",
        &server.credentials_file(),
        "team",
    );
    let offline = app(dir.path(), "offline-app");
    offline_user.npm_ok(&offline, &["install", "only-upstream@1.2.0"]);
    assert!(
        offline
            .join("node_modules/only-upstream/index.js")
            .is_file()
    );
    let (status, upstream_note, _) = get(
        &format!("{}/d/local/npm/main/only-upstream", server.url),
        &token,
    );
    assert_eq!(status, 200);
    assert!(
        upstream_note.is_some_and(|note| note.contains("verdaccio unavailable")),
        "the response reports the outage"
    );
}

#[test]
fn an_upstream_serving_bytes_that_do_not_match_its_digest_is_refused() {
    require_tool!(support::aws());
    let dir = tempfile::tempdir().unwrap();
    let upstream_dir = dir.path().join("liar");
    fs_err::create_dir_all(&upstream_dir).unwrap();
    let server_files = StaticServer::start(&upstream_dir);
    // The packument claims the digest of other bytes than the tarball it links.
    let claimed = lading::ecosystem::npm::integrity_from_sha512_hex(
        &lading::server::store::Digests::of(b"the real thing").sha512,
    )
    .unwrap();
    fs_err::write(upstream_dir.join("liar-pkg-1.0.0.tgz"), b"tampered bytes").unwrap();
    let packument = serde_json::json!({
        "name": "liar-pkg",
        "dist-tags": {"latest": "1.0.0"},
        "versions": {"1.0.0": {"name": "liar-pkg", "version": "1.0.0", "dist": {"integrity": claimed, "tarball": format!("{}liar-pkg-1.0.0.tgz", server_files.url)}}},
    });
    fs_err::write(upstream_dir.join("liar-pkg"), packument.to_string()).unwrap();
    let config = format!(
        "external_connections:\n  - name: liar\n    format: npm\n    url: {}\n",
        server_files.url
    );
    let (server, token) = LadingServer::start_through(
        dir.path(),
        ServerSpec {
            config: Some(&config),
            ..ServerSpec::default()
        },
        "liar",
    );
    let (status, _, body) = get(&format!("{}/d/local/npm/main/liar-pkg", server.url), &token);
    assert_eq!(status, 200, "the packument itself is listed: {body}");
    let (status, _, body) = get(
        &format!(
            "{}/d/local/npm/main/liar-pkg/-/liar-pkg-1.0.0.tgz",
            server.url
        ),
        &token,
    );
    assert_eq!(status, 502, "{body}");
    assert!(
        body.contains("refused") && body.contains("nothing was stored"),
        "{body}"
    );
    let aws = support::aws().unwrap();
    let mut command = support::clean_command(&aws, dir.path());
    command.args([
        "codeartifact",
        "list-package-versions",
        "--domain",
        "local",
        "--repository",
        "main",
        "--format",
        "npm",
        "--package",
        "liar-pkg",
        "--endpoint-url",
        &server.url,
    ]);
    for (key, value) in server.aws_env() {
        command.env(key, value);
    }
    let output = support::run(&mut command);
    assert!(
        !output.status.success()
            && String::from_utf8_lossy(&output.stderr).contains("ResourceNotFoundException"),
        "{}",
        support::describe(&output)
    );
}

#[test]
fn lading_serve_pulls_through_codeartifact_with_minted_tokens() {
    require_tool!(support::aws());
    require_tool!(support::npm());
    let dir = tempfile::tempdir().unwrap();
    // `upstream` stands in for CodeArtifact; `cache` is a pull-through cache in front of it
    // that mints its own tokens from the upstream's admin keys (AWS credential chain).
    let upstream = LadingServer::start(&dir.path().join("upstream"), ServerSpec::default());
    let publisher = NpmUser::login(
        &upstream,
        dir.path(),
        "publisher",
        &upstream.credentials_file(),
        "main",
    );
    publisher.npm_ok(
        &package(dir.path(), "@corp/shared", "2.1.0", "'from codeartifact'"),
        &["publish"],
    );

    let flag = format!(
        "npm=codeartifact://local/main?region=us-east-1&domain-owner=000000000000&endpoint-url={}",
        upstream.url
    );
    let cache = LadingServer::start(
        &dir.path().join("cache"),
        ServerSpec {
            args: vec!["--upstream", &flag, "-vv"],
            env: vec![
                (
                    "AWS_SHARED_CREDENTIALS_FILE",
                    upstream.credentials_file().display().to_string(),
                ),
                ("AWS_CONFIG_FILE", "/dev/null".to_owned()),
                ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
                ("LADING_LOG", "trace".to_owned()),
            ],
            ..ServerSpec::default()
        },
    );
    let consumer = NpmUser::login(
        &cache,
        dir.path(),
        "consumer",
        &cache.credentials_file(),
        "main",
    );
    let project = app(dir.path(), "cache-consumer");
    let installed = consumer.npm(&project, &["install", "@corp/shared@2.1.0"]);
    assert!(
        installed.status.success(),
        "{}\n--- cache log\n{}",
        support::describe(&installed),
        cache.log()
    );
    assert!(project.join("node_modules/@corp/shared/index.js").is_file());
    let versions = cache.aws_json_on(
        dir.path(),
        "main",
        &[
            "list-package-versions",
            "--format",
            "npm",
            "--namespace",
            "corp",
            "--package",
            "shared",
        ],
    );
    assert_eq!(
        versions["versions"][0]["origin"]["domainEntryPoint"]["externalConnectionName"],
        "upstream:npm",
        "{versions}"
    );
    // The minted upstream token is not in the cache's trace log.
    let upstream_tokens: Vec<String> = crate::serve_npm::npmrc_tokens(&publisher.npmrc());
    let log = cache.stop();
    assert!(log.contains("TRACE"), "trace logging was on");
    let leaks: Vec<&str> = log.lines().filter(|line| line.contains("ldt_")).collect();
    assert!(
        leaks.is_empty(),
        "a token leaked into the log:\n{}",
        leaks.join("\n")
    );
    for token in upstream_tokens {
        assert!(!log.contains(&token));
    }
}

#[test]
fn pull_through_a_faulty_upstream_caches_only_verified_bytes() {
    use base64::Engine as _;
    use sha2::Digest as _;

    use crate::support::faults::{Fault, FaultProxy, Rule};

    require_tool!(support::aws());
    require_tool!(support::npm());
    let verdaccio_bin = require_tool!(Verdaccio::find());
    let dir = tempfile::tempdir().unwrap();
    let verdaccio = Verdaccio::start(&verdaccio_bin, &dir.path().join("verdaccio"));
    publish_to_verdaccio(&verdaccio, dir.path(), "faulty-pkg", "1.0.0", "'intact'");
    let (status, _, packument) = get(&format!("{}faulty-pkg", verdaccio.url), &verdaccio.token);
    assert_eq!(status, 200, "{packument}");
    let packument: serde_json::Value = serde_json::from_str(&packument).unwrap();
    let integrity = packument["versions"]["1.0.0"]["dist"]["integrity"]
        .as_str()
        .unwrap()
        .to_owned();

    let proxy = FaultProxy::start(&verdaccio.url, Vec::new());
    let (server, _) =
        serve_with_verdaccio_connection(dir.path(), &format!("{}/", proxy.url), &verdaccio);
    let token = server.admin_token(dir.path());
    let tarball_path = "/-/faulty-pkg-1.0.0.tgz";
    let tarball = format!("{}/d/local/npm/main/faulty-pkg{tarball_path}", server.url);
    let rule = |fault: Fault, times: usize| Rule {
        method: Some("GET"),
        path: tarball_path,
        fault,
        times,
    };
    let upstream_fetches = |proxy: &FaultProxy| {
        proxy
            .log()
            .iter()
            .filter(|line| line.contains(tarball_path))
            .count()
    };

    // A body cut short, and wrong bytes of the right length: refused, nothing cached.
    for fault in [Fault::Truncate, Fault::Corrupt] {
        proxy.set_rules(vec![rule(fault, usize::MAX)]);
        let before = upstream_fetches(&proxy);
        let (status, _, body) = get_bytes(&tarball, &token);
        assert!(
            (500..600).contains(&status),
            "{fault:?}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        assert!(upstream_fetches(&proxy) > before, "{fault:?}: not fetched");
    }
    // Transient upstream failures (503, 429 + Retry-After, a reset) on the way to good bytes.
    proxy.set_rules(vec![
        rule(Fault::ServiceUnavailable, 1),
        rule(Fault::TooManyRequests(1), 1),
        rule(Fault::Reset, 1),
    ]);
    let mut status = 0;
    let mut body = Vec::new();
    // A client retries a 5xx; lading's own retries may already absorb all three faults.
    for _ in 0..4 {
        (status, _, body) = get_bytes(&tarball, &token);
        if status == 200 {
            break;
        }
        assert!((500..600).contains(&status), "{status}");
    }
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let digest = format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(&body))
    );
    assert_eq!(digest, integrity, "served bytes differ from the upstream's");
    // The cached copy is what was verified: with the upstream resetting every connection the
    // tarball is still served, byte for byte, and no corrupt attempt was ever kept.
    proxy.set_rules(vec![Rule {
        method: None,
        path: "/",
        fault: Fault::Reset,
        times: usize::MAX,
    }]);
    let (status, _, cached) = get_bytes(&tarball, &token);
    assert_eq!(status, 200);
    assert_eq!(cached, body);
}

#[test]
fn lading_serve_pulls_nuget_packages_through_codeartifact_verified_by_their_package_hash() {
    require_tool!(support::aws());
    let dir = tempfile::tempdir().unwrap();
    // `upstream` stands in for CodeArtifact, holding one pushed package.
    let upstream = LadingServer::start(&dir.path().join("upstream"), ServerSpec::default());
    let upstream_token = upstream.admin_token(dir.path());
    let nuspec = "<package><metadata><id>Corp.Chained</id><version>1.2.0</version><authors>x</authors><description>chained</description></metadata></package>";
    let package = support::zip_of(&[("Corp.Chained.nuspec", nuspec.as_bytes())]);
    let (content_type, body) = support::client::nuget_multipart(&package);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let pushed = runtime.block_on(async {
        reqwest::Client::new()
            .put(format!("{}/d/local/nuget/main/v2/package", upstream.url))
            .header("X-NuGet-ApiKey", &upstream_token)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(pushed.as_u16(), 201);

    // `cache` reaches it through GetRepositoryEndpoint (`.../nuget/main/` + `v3/index.json`).
    let flag = format!(
        "nuget=codeartifact://local/main?region=us-east-1&domain-owner=000000000000&endpoint-url={}",
        upstream.url
    );
    let cache = LadingServer::start(
        &dir.path().join("cache"),
        ServerSpec {
            args: vec!["--upstream", &flag],
            env: vec![
                (
                    "AWS_SHARED_CREDENTIALS_FILE",
                    upstream.credentials_file().display().to_string(),
                ),
                ("AWS_CONFIG_FILE", "/dev/null".to_owned()),
                ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ],
            ..ServerSpec::default()
        },
    );
    let token = cache.admin_token(dir.path());
    let base = format!("{}/d/local/nuget/main/v3/", cache.url);
    // Listed (the upstream's catalog entry carries the packageHash), then fetched verified.
    let (status, _, body) = get(
        &format!("{base}registration/corp.chained/index.json"),
        &token,
    );
    assert_eq!(status, 200, "{body}\n--- cache log\n{}", cache.log());
    assert!(body.contains("\"packageHash\""), "{body}");
    let (status, _, bytes) = get_bytes(
        &format!("{base}package/corp.chained/1.2.0/corp.chained.1.2.0.nupkg"),
        &token,
    );
    assert_eq!(status, 200, "{}", cache.log());
    assert_eq!(bytes, package);
    let versions = crate::serve_upstream_formats::versions(
        &cache,
        dir.path(),
        "main",
        "nuget",
        None,
        "corp.chained",
    );
    assert_eq!(
        versions["versions"][0]["origin"]["domainEntryPoint"]["externalConnectionName"],
        "upstream:nuget",
        "{versions}"
    );
}
