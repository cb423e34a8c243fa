//! `lading serve`'s npm pull-through cache (issue #16, parts 2 and 4): upstream packuments
//! kept as the upstream wrote them, and upstream metadata kept for a TTL, revalidated with
//! `ETag`, and served stale (and said so) when the upstream is down. Real Verdaccio as the
//! upstream filled with documents carrying the full field set; the public registry (a
//! mirror, see TESTBED.md) for the real-world comparison; pnpm 12, yarn 4 and npm as the
//! clients.

use std::path::Path;

use serde_json::{Value, json};

use crate::require_tool;
use crate::support::faults::FaultProxy;
use crate::support::peers::Verdaccio;
use crate::support::{self, LadingServer, ServerSpec};

/// GET `url` with a bearer token and an `Accept`: status, `x-lading-upstream`, body.
fn get(url: &str, token: &str, accept: &str) -> (u16, Option<String>, Vec<u8>) {
    support::client::get_with_token(url, token, &[("accept", accept)])
}

/// A one-file npm tarball for `name@version`.
fn tarball(name: &str, version: &str) -> Vec<u8> {
    let manifest = json!({ "name": name, "version": version }).to_string();
    support::tar_gz(
        &[("package/package.json", manifest.as_bytes())],
        flate2::Compression::default(),
    )
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
    let token = server.token();
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
    let entries: Vec<_> = support::files_under(&data.join("upstream-v2"));
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

fn get_json(url: &str, token: &str, accept: &str) -> Value {
    let (status, _, body) = get(url, token, accept);
    assert_eq!(status, 200, "{url}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

/// `document` with every `versions.*.dist.tarball` removed: the one field lading rewrites.
fn without_tarball_urls(mut document: Value) -> Value {
    if let Some(versions) = document["versions"].as_object_mut() {
        for manifest in versions.values_mut() {
            if let Some(dist) = manifest["dist"].as_object_mut() {
                dist.remove("tarball");
            }
        }
    }
    document
}

/// Every field path where `ours` differs from `theirs` (missing, added or changed).
fn differences(path: &str, theirs: &Value, ours: &Value, out: &mut Vec<String>) {
    match (theirs, ours) {
        (Value::Object(theirs), Value::Object(ours)) => {
            for (key, value) in theirs {
                match ours.get(key) {
                    Some(mine) => differences(&format!("{path}.{key}"), value, mine, out),
                    None => out.push(format!("{path}.{key}: lost")),
                }
            }
            for key in ours.keys().filter(|key| !theirs.contains_key(*key)) {
                out.push(format!("{path}.{key}: added"));
            }
        }
        _ if theirs != ours => out.push(format!("{path}: {theirs} became {ours}")),
        _ => {}
    }
}

/// The field-by-field comparison of lading's packument of `package` with the upstream's.
fn assert_same_packument(lading: &Value, upstream: &Value, package: &str) {
    let mut found = Vec::new();
    differences(
        package,
        &without_tarball_urls(upstream.clone()),
        &without_tarball_urls(lading.clone()),
        &mut found,
    );
    assert!(found.is_empty(), "lading's packument differs: {found:#?}");
}

// See: issue #16, part 2
#[test]
fn npm_packuments_pulled_from_verdaccio_keep_every_field_upstream_wrote_even_once_ingested() {
    require_tool!(support::aws());
    let verdaccio_bin = require_tool!(Verdaccio::find());
    let dir = tempfile::tempdir().unwrap();
    let verdaccio = Verdaccio::start(&verdaccio_bin, &dir.path().join("verdaccio"));
    publish_full_document(&verdaccio, "full-fields", "1.0.0");
    publish_full_document(&verdaccio, "full-fields", "1.1.0");
    publish_full_document(&verdaccio, "@acme/full-fields", "2.0.0");
    let server = serve_through(
        &dir.path().join("data"),
        &verdaccio.url,
        &verdaccio,
        Vec::new(),
    );
    server.associate(dir.path(), "main", "verdaccio");
    let token = server.token();
    for package in ["full-fields", "@acme/full-fields"] {
        let escaped = package.replace('/', "%2f");
        let upstream = get_json(
            &format!("{}{escaped}", verdaccio.url),
            &verdaccio.token,
            "application/json",
        );
        let packument_url = format!("{}/d/local/npm/main/{escaped}", server.url);
        let before = get_json(&packument_url, &token, "application/json");
        assert_same_packument(&before, &upstream, package);
        // Every tarball URL points at lading.
        for manifest in before["versions"].as_object().unwrap().values() {
            let tarball = manifest["dist"]["tarball"].as_str().unwrap();
            assert!(tarball.starts_with(&server.url), "{tarball}");
        }

        // Pulled through (the tarball stored here, the version retained with EXTERNAL
        // origin): the packument is still upstream's, `time` included.
        let latest = before["dist-tags"]["latest"].as_str().unwrap();
        let tarball = before["versions"][latest]["dist"]["tarball"]
            .as_str()
            .unwrap();
        let (status, _, _) = get(tarball, &token, "application/octet-stream");
        assert_eq!(status, 200);
        let after = get_json(&packument_url, &token, "application/json");
        assert_same_packument(&after, &upstream, package);

        // The abbreviated form, as the registry derives it.
        let abbreviated = get_json(
            &packument_url,
            &token,
            "application/vnd.npm.install-v1+json",
        );
        assert_eq!(abbreviated["modified"], upstream["time"]["modified"]);
        assert_eq!(abbreviated["dist-tags"], upstream["dist-tags"]);
        let mut fields: Vec<&str> = abbreviated["versions"][latest]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "_hasShrinkwrap",
                "cpu",
                "dependencies",
                "deprecated",
                "dist",
                "engines",
                "funding",
                "hasInstallScript",
                "libc",
                "license",
                "name",
                "os",
                "version"
            ]
        );
        let mut dist = abbreviated["versions"][latest]["dist"].clone();
        dist.as_object_mut().unwrap().remove("tarball");
        let mut upstream_dist = upstream["versions"][latest]["dist"].clone();
        upstream_dist.as_object_mut().unwrap().remove("tarball");
        assert_eq!(dist, upstream_dist, "signatures and attestations kept");
    }
}

/// What the public-registry tests install: ranges whose newest matches lading ingests.
const PUBLIC_DEPENDENCIES: &str = r#"{"is-number":"^7.0.0","chalk":"^4.1.2","ms":"2.1.3"}"#;

/// A project in `dir` depending on [`PUBLIC_DEPENDENCIES`], with its own home.
fn public_project(dir: &Path) -> std::path::PathBuf {
    fs_err::create_dir_all(dir.join("home")).unwrap();
    fs_err::write(
        dir.join("package.json"),
        format!(
            r#"{{"name":"app","version":"1.0.0","private":true,"dependencies":{PUBLIC_DEPENDENCIES}}}"#
        ),
    )
    .unwrap();
    dir.to_path_buf()
}

/// `registry` and its token as an `.npmrc` (pnpm and npm read it from the project).
fn npmrc(registry: &str, token: Option<&str>) -> String {
    let mut text = format!("registry={registry}\n");
    if let Some(token) = token {
        text = format!(
            "{text}{}:_authToken={token}\n",
            registry.trim_start_matches("http:")
        );
    }
    text
}

/// Run `program args` in `project` with its private home, requiring success.
fn run_in(project: &Path, program: &Path, args: &[&str]) -> std::process::Output {
    let mut command = support::clean_command(program, &project.join("home"));
    command
        .current_dir(project)
        .args(args)
        .env("npm_config_cache", project.join("npm-cache"))
        .env("npm_config_update_notifier", "false");
    // The machine's extra CAs (a TLS-intercepting mirror of the registry trusts one), for
    // clients that only read node's own list.
    if let Some(certificates) = std::env::var_os("NODE_EXTRA_CA_CERTS") {
        command.env("NODE_EXTRA_CA_CERTS", certificates);
    }
    support::run_ok(&mut command)
}

/// `package-lock.json`'s packages as path → (version, integrity): the resolution, without
/// the registry each came from.
fn npm_resolution(project: &Path) -> Vec<(String, String, String)> {
    let lock: Value =
        serde_json::from_str(&fs_err::read_to_string(project.join("package-lock.json")).unwrap())
            .unwrap();
    lock["packages"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| !path.is_empty())
        .map(|(path, entry)| {
            (
                path.clone(),
                entry["version"].as_str().unwrap_or_default().to_owned(),
                entry["integrity"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn pnpm() -> Option<std::path::PathBuf> {
    support::find_tool(
        "LADING_TEST_PNPM",
        Some("pnpm/node_modules/pnpm/pnpm"),
        None,
    )
}

fn yarn_berry() -> Option<std::path::PathBuf> {
    support::find_tool(
        "LADING_TEST_YARN_BERRY",
        Some("yarn/node_modules/@yarnpkg/cli-dist/bin/yarn.js"),
        None,
    )
}

/// A yarn 4 project: its own cache, plain HTTP allowed on loopback (lading's address), and
/// the age gate left at yarn's default (`npmMinimalAgeGate`, one day in 4.18).
fn yarn_project(dir: &Path, registry: Option<(&str, &str)>) -> std::path::PathBuf {
    let project = public_project(dir);
    fs_err::write(project.join("yarn.lock"), "").unwrap();
    let mut yarnrc = "enableGlobalCache: false\nenableTelemetry: false\nunsafeHttpWhitelist:\n  - \"127.0.0.1\"\n".to_owned();
    if let Some((registry, token)) = registry {
        yarnrc = format!(
            "{yarnrc}npmRegistryServer: \"{registry}\"\nnpmAuthToken: \"{token}\"\nnpmAlwaysAuth: true\n"
        );
    }
    fs_err::write(project.join(".yarnrc.yml"), yarnrc).unwrap();
    project
}

// See: issue #16, part 2
#[test]
fn pnpm_yarn_and_npm_before_resolve_through_a_pull_through_of_the_public_registry_as_directly() {
    let npm = require_tool!(support::npm());
    let pnpm = require_tool!(pnpm());
    let yarn = require_tool!(yarn_berry());
    let dir = tempfile::tempdir().unwrap();
    let server = LadingServer::start(
        &dir.path().join("data"),
        ServerSpec {
            config: Some("domains:\n  - name: local\n    repositories: [main]\n"),
            args: vec!["--upstream", "npm=https://registry.npmjs.org/"],
            ..ServerSpec::default()
        },
    );
    let token = server.token();
    let lading = format!("{}/d/local/npm/main/", server.url);
    let public = "https://registry.npmjs.org/";

    // npm installs through lading first: the newest matching versions are pulled through
    // and retained, which is what used to restamp their publish time.
    let warm = public_project(&dir.path().join("npm-warm"));
    fs_err::write(warm.join(".npmrc"), npmrc(&lading, Some(&token))).unwrap();
    run_in(&warm, &npm, &["install", "--no-audit", "--no-fund"]);

    // A field-by-field comparison with the registry's own packuments, retained or not.
    for package in [
        "is-number",
        "chalk",
        "ms",
        "ansi-styles",
        "@types/color-name",
    ] {
        let escaped = package.replace('/', "%2f");
        let upstream = get_json(&format!("{public}{escaped}"), "", "application/json");
        let ours = get_json(&format!("{lading}{escaped}"), &token, "application/json");
        assert_same_packument(&ours, &upstream, package);
    }

    // pnpm 12 with its default minimum release age.
    let resolve_with_pnpm = |name: &str, registry: &str, token: Option<&str>| {
        let project = public_project(&dir.path().join(name));
        fs_err::write(project.join(".npmrc"), npmrc(registry, token)).unwrap();
        let store = project.join("store");
        run_in(
            &project,
            &pnpm,
            &["install", "--store-dir", store.to_str().unwrap()],
        );
        fs_err::read_to_string(project.join("pnpm-lock.yaml")).unwrap()
    };
    assert_eq!(
        resolve_with_pnpm("pnpm-lading", &lading, Some(&token)),
        resolve_with_pnpm("pnpm-direct", public, None),
        "pnpm resolves through lading as against the registry"
    );

    // yarn 4 with its default `npmMinimalAgeGate`.
    let resolve_with_yarn = |name: &str, registry: Option<(&str, &str)>| {
        let project = yarn_project(&dir.path().join(name), registry);
        run_in(
            &project,
            Path::new("node"),
            &[yarn.to_str().unwrap(), "install"],
        );
        fs_err::read_to_string(project.join("yarn.lock")).unwrap()
    };
    assert_eq!(
        resolve_with_yarn("yarn-lading", Some((&lading, &token))),
        resolve_with_yarn("yarn-direct", None),
        "yarn resolves through lading as against the registry"
    );

    // `npm install --before` a day ago, from a cold npm cache.
    let before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    let before = before
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let resolve_with_npm = |name: &str, registry: &str, token: Option<&str>| {
        let project = public_project(&dir.path().join(name));
        fs_err::write(project.join(".npmrc"), npmrc(registry, token)).unwrap();
        run_in(
            &project,
            &npm,
            &["install", "--no-audit", "--no-fund", "--before", &before],
        );
        npm_resolution(&project)
    };
    assert_eq!(
        resolve_with_npm("npm-lading", &lading, Some(&token)),
        resolve_with_npm("npm-direct", public, None),
        "npm --before resolves through lading as against the registry"
    );
}
