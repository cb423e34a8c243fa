//! The client side of issue #15: the `lading exec` proxy admits only the tools it configured
//! and only for the repository's origin (curl, npm); credentials never follow a redirect off
//! the repository's origin, at any hop (restore, publish, `lading serve` pull-through, exec);
//! a NuGet zip bomb fails the restore; `login --dry-run` writes nothing and prints no secret;
//! `logout` removes the cached token.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::Digest as _;

use crate::login::{Sandbox, codeartifact};
use crate::require_tool;
use crate::support::client::{nuget_lock_entry, nuget_push};
use crate::support::{self, LadingServer, ServerSpec, clean_command, describe, lading_bin};

/// One request as a [`Hops`] server saw it.
#[derive(Debug, Clone)]
struct Hop {
    /// `a` (the repository's origin) or `b` (another origin).
    server: char,
    method: String,
    path: String,
    /// Every credential-bearing header it carried (`authorization`, `x-nuget-apikey`,
    /// `cookie`), as `name: value`.
    credentials: Vec<String>,
}

/// A route: on which server, for which path prefix, what to do.
type Route<'a> = (char, &'a str, Action);

/// A package, the routes its tarball URL goes through, and per hop: the server and whether
/// it got the token.
type Chain<'a> = (&'a str, Vec<Route<'a>>, Vec<(char, bool)>);

/// What a route does.
#[derive(Debug, Clone)]
enum Action {
    /// Redirect with this status to this URL plus the rest of the path.
    Redirect(u16, String),
    /// Answer 200 with these bytes.
    Serve(Vec<u8>),
    /// Forward to this base URL plus the rest of the path; replace the credentials with
    /// this `Authorization` when given (a storage service with its own access), else pass
    /// the client's through.
    Forward(String, Option<String>),
}

/// Two HTTP servers on two loopback ports (two origins) that record every request with
/// the credentials it carried, and redirect, serve or forward it by path prefix.
struct Hops {
    a: String,
    b: String,
    log: Arc<Mutex<Vec<Hop>>>,
    routes: Arc<Mutex<Vec<(char, String, Action)>>>,
}

impl Hops {
    fn start() -> Self {
        let log = Arc::new(Mutex::new(Vec::new()));
        let routes: Arc<Mutex<Vec<(char, String, Action)>>> = Arc::new(Mutex::new(Vec::new()));
        let (sender, receiver) = std::sync::mpsc::channel();
        let (thread_log, thread_routes) = (Arc::clone(&log), Arc::clone(&routes));
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let client = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .unwrap();
                let mut addresses = Vec::new();
                for server in ['a', 'b'] {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                    addresses.push(format!("http://{}", listener.local_addr().unwrap()));
                    let (log, routes, client) = (
                        Arc::clone(&thread_log),
                        Arc::clone(&thread_routes),
                        client.clone(),
                    );
                    let app =
                        axum::Router::new().fallback(move |request: axum::extract::Request| {
                            let (log, routes, client) =
                                (Arc::clone(&log), Arc::clone(&routes), client.clone());
                            async move { handle(server, request, &log, &routes, &client).await }
                        });
                    tokio::spawn(async move { axum::serve(listener, app).await });
                }
                sender.send(addresses).unwrap();
                std::future::pending::<()>().await;
            });
        });
        let addresses = receiver.recv().unwrap();
        Self {
            a: addresses[0].clone(),
            b: addresses[1].clone(),
            log,
            routes,
        }
    }

    fn route(&self, server: char, prefix: &str, action: Action) {
        self.routes
            .lock()
            .unwrap()
            .push((server, prefix.to_owned(), action));
    }

    fn hops(&self) -> Vec<Hop> {
        self.log.lock().unwrap().clone()
    }

    /// The hops whose path contains `needle`, in order.
    fn hops_for(&self, needle: &str) -> Vec<Hop> {
        self.hops()
            .into_iter()
            .filter(|hop| hop.path.contains(needle))
            .collect()
    }
}

async fn handle(
    server: char,
    request: axum::extract::Request,
    log: &Mutex<Vec<Hop>>,
    routes: &Mutex<Vec<(char, String, Action)>>,
    client: &reqwest::Client,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), ToString::to_string);
    let credentials = parts
        .headers
        .iter()
        .filter(|(name, _)| {
            matches!(
                name.as_str(),
                "authorization" | "x-nuget-apikey" | "cookie" | "proxy-authorization"
            )
        })
        .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap_or("?")))
        .collect();
    log.lock().unwrap().push(Hop {
        server,
        method: parts.method.to_string(),
        path: path.clone(),
        credentials,
    });
    let route = routes
        .lock()
        .unwrap()
        .iter()
        .filter(|(on, prefix, _)| *on == server && path.starts_with(prefix.as_str()))
        .max_by_key(|(_, prefix, _)| prefix.len())
        .cloned();
    let Some((_, prefix, action)) = route else {
        return (axum::http::StatusCode::NOT_FOUND, "no route").into_response();
    };
    let rest = &path[prefix.len()..];
    match action {
        Action::Redirect(status, target) => (
            axum::http::StatusCode::from_u16(status).unwrap(),
            [(axum::http::header::LOCATION, format!("{target}{rest}"))],
        )
            .into_response(),
        Action::Serve(bytes) => bytes.into_response(),
        Action::Forward(base, authorization) => {
            let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            let mut headers = parts.headers.clone();
            headers.remove(axum::http::header::HOST);
            if let Some(authorization) = authorization {
                headers.remove("x-nuget-apikey");
                headers.insert(
                    axum::http::header::AUTHORIZATION,
                    authorization.parse().unwrap(),
                );
            }
            let response = client
                .request(parts.method.clone(), format!("{base}{rest}"))
                .headers(headers)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let mut headers = response.headers().clone();
            headers.remove(axum::http::header::TRANSFER_ENCODING);
            headers.remove(axum::http::header::CONTENT_LENGTH);
            let bytes = response.bytes().await.unwrap();
            let mut out = axum::response::Response::new(axum::body::Body::from(bytes));
            *out.status_mut() = status;
            *out.headers_mut() = headers;
            out
        }
    }
}

/// A minimal npm tarball: `package/package.json`.
fn npm_tarball(name: &str, version: &str) -> Vec<u8> {
    let manifest = format!(r#"{{"name":"{name}","version":"{version}"}}"#);
    support::tar_gz(
        &[("package/package.json", manifest.as_bytes())],
        flate2::Compression::default(),
    )
}

fn sri_sha512(bytes: &[u8]) -> String {
    format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(bytes))
    )
}

fn assert_credentials(hops: &[Hop], expected: &[(char, bool)], token: &str, what: &str) {
    let seen: Vec<(char, bool)> = hops
        .iter()
        .map(|hop| {
            (
                hop.server,
                hop.credentials.iter().any(|value| value.contains(token)),
            )
        })
        .collect();
    assert_eq!(seen, expected, "{what}: {hops:#?}");
    for hop in hops {
        let carries = hop.credentials.iter().any(|value| value.contains(token));
        if !carries {
            assert!(
                hop.credentials.is_empty(),
                "{what}: a hop without the token still carried credentials: {hop:?}"
            );
        }
    }
}

// See: issue #15, item 5.
#[test]
fn restore_sends_the_token_only_on_the_repository_origin_across_one_two_and_three_redirects() {
    let hops = Hops::start();
    let token = "restore-redirect-secret-0123456789";
    let a = hops.a.clone();
    let b = hops.b.clone();
    let localhost = a.replace("127.0.0.1", "localhost");
    // (package, the chain from the repository's tarball URL, what each hop should carry)
    let chains: Vec<Chain> = vec![
        (
            "one-hop",
            vec![(
                'a',
                "/npm/one-hop/",
                Action::Redirect(302, format!("{b}/f/one-hop/")),
            )],
            vec![('a', true), ('b', false)],
        ),
        (
            "two-hops",
            vec![
                (
                    'a',
                    "/npm/two-hops/",
                    Action::Redirect(302, format!("{a}/h/two-hops/")),
                ),
                (
                    'a',
                    "/h/two-hops/",
                    Action::Redirect(302, format!("{b}/f/two-hops/")),
                ),
            ],
            vec![('a', true), ('a', true), ('b', false)],
        ),
        (
            "three-hops",
            vec![
                (
                    'a',
                    "/npm/three-hops/",
                    Action::Redirect(301, format!("{a}/h/three-hops/")),
                ),
                (
                    'a',
                    "/h/three-hops/",
                    Action::Redirect(307, format!("{b}/h/three-hops/")),
                ),
                (
                    'b',
                    "/h/three-hops/",
                    Action::Redirect(308, format!("{b}/f/three-hops/")),
                ),
            ],
            vec![('a', true), ('a', true), ('b', false), ('b', false)],
        ),
        (
            "back-home",
            vec![
                (
                    'a',
                    "/npm/back-home/",
                    Action::Redirect(302, format!("{b}/h/back-home/")),
                ),
                (
                    'b',
                    "/h/back-home/",
                    Action::Redirect(302, format!("{a}/f/back-home/")),
                ),
            ],
            vec![('a', true), ('b', false), ('a', false)],
        ),
        (
            "other-name",
            vec![(
                'a',
                "/npm/other-name/",
                Action::Redirect(302, format!("{localhost}/f/other-name/")),
            )],
            vec![('a', true), ('a', false)],
        ),
    ];
    let mut packages = serde_json::Map::new();
    packages.insert(
        String::new(),
        serde_json::json!({"name": "redirected", "version": "1.0.0", "dependencies": {}}),
    );
    for (name, chain, expected) in &chains {
        let tarball = npm_tarball(name, "1.0.0");
        for (server, prefix, action) in chain {
            hops.route(*server, prefix, action.clone());
        }
        let last = expected.last().unwrap().0;
        hops.route(last, &format!("/f/{name}/"), Action::Serve(tarball.clone()));
        packages.insert(
            format!("node_modules/{name}"),
            serde_json::json!({
                "version": "1.0.0",
                "resolved": format!("{a}/npm/{name}/-/{name}-1.0.0.tgz"),
                "integrity": sri_sha512(&tarball),
            }),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    fs_err::create_dir_all(&project).unwrap();
    fs_err::write(
        project.join("package-lock.json"),
        serde_json::json!({"name": "redirected", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": packages}).to_string(),
    )
    .unwrap();
    let output = support::run(
        clean_command(lading_bin(), dir.path())
            .current_dir(&project)
            .args(["restore", "--registry-url", &format!("{a}/npm/")])
            .args(["--token-env", "REDIRECT_TOKEN"])
            .env("REDIRECT_TOKEN", token)
            .env("npm_config_cache", dir.path().join("npm-cache")),
    );
    assert!(output.status.success(), "{}", describe(&output));
    for (name, _, expected) in &chains {
        assert_credentials(&hops.hops_for(&format!("/{name}/")), expected, token, name);
    }
}

/// `lading serve` on a fresh data directory, answering as `public` (so the URLs it hands out,
/// service index included, go through a [`Hops`] server in front of it).
fn serve_behind(dir: &Path, public: &str) -> LadingServer {
    LadingServer::start(
        &dir.join("data"),
        ServerSpec {
            env: vec![("LADING_SERVE_PUBLIC_URL", public.to_owned())],
            ..ServerSpec::default()
        },
    )
}

fn nupkg(id: &str, version: &str, payload: &[(&str, &[u8])]) -> Vec<u8> {
    let nuspec = format!(
        "<?xml version=\"1.0\"?><package xmlns=\"http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd\"><metadata><id>{id}</id><version>{version}</version><authors>x</authors><description>d</description></metadata></package>"
    );
    let name = format!("{id}.nuspec");
    let mut entries: Vec<(&str, &[u8])> = vec![(&name, nuspec.as_bytes())];
    entries.extend_from_slice(payload);
    support::zip_of(&entries)
}

// See: issue #15, item 5.
#[test]
fn publish_keeps_the_nuget_api_key_and_token_off_a_push_redirected_to_another_origin() {
    let hops = Hops::start();
    let dir = tempfile::tempdir().unwrap();
    let server = serve_behind(dir.path(), &hops.a);
    let token = server.token();
    let storage = format!("Bearer {token}");
    // The repository (a) forwards everything to lading serve, except the push, which it
    // redirects (307: method and body kept) to a storage service (b) with its own access.
    hops.route('a', "", Action::Forward(server.url.clone(), None));
    hops.route(
        'a',
        "/d/local/nuget/main/v2/package",
        Action::Redirect(307, format!("{}/push", hops.b)),
    );
    hops.route(
        'b',
        "/push",
        Action::Forward(
            format!("{}/d/local/nuget/main/v2/package", server.url),
            Some(storage),
        ),
    );
    let package = dir.path().join("Lading.Redirected.1.0.0.nupkg");
    fs_err::write(
        &package,
        nupkg(
            "Lading.Redirected",
            "1.0.0",
            &[("lib/net45/readme.txt", b"hello")],
        ),
    )
    .unwrap();
    let output = support::run(
        clean_command(lading_bin(), dir.path())
            .args(["publish", "--format", "nuget"])
            .arg(&package)
            .args([
                "--registry-url",
                &format!("{}/d/local/nuget/main/", hops.a),
                "--token-env",
                "NUGET_TOKEN",
            ])
            .env("NUGET_TOKEN", &token),
    );
    assert!(output.status.success(), "{}", describe(&output));
    let all = hops.hops();
    let pushes: Vec<&Hop> = all.iter().filter(|hop| hop.method == "PUT").collect();
    assert!(pushes.len() >= 2 && pushes[0].server == 'a', "{pushes:#?}");
    assert!(
        pushes[0]
            .credentials
            .iter()
            .any(|value| value.starts_with("x-nuget-apikey") && value.contains(&token)),
        "the repository's own push got the key: {pushes:#?}"
    );
    for hop in all.iter().filter(|hop| hop.server == 'b') {
        assert!(
            hop.credentials.is_empty(),
            "the other origin got credentials: {hop:?}"
        );
    }
}

// See: issue #15, item 5.
#[test]
fn pull_through_sends_the_upstream_token_only_on_the_upstream_origin() {
    require_tool!(support::aws());
    let hops = Hops::start();
    let upstream_token = "upstream-redirect-secret-0123456789";
    let tarball = npm_tarball("redirected-upstream", "1.0.0");
    let packument = serde_json::json!({
        "name": "redirected-upstream",
        "dist-tags": {"latest": "1.0.0"},
        "versions": {"1.0.0": {"name": "redirected-upstream", "version": "1.0.0", "dist": {
            "integrity": sri_sha512(&tarball),
            "shasum": hex::encode(sha1::Sha1::digest(&tarball)),
            "tarball": format!("{}/redirected-upstream/-/redirected-upstream-1.0.0.tgz", hops.a),
        }}},
    });
    hops.route(
        'a',
        "/redirected-upstream",
        Action::Serve(packument.to_string().into_bytes()),
    );
    hops.route(
        'a',
        "/redirected-upstream/-/",
        Action::Redirect(302, format!("{}/moved/", hops.a)),
    );
    hops.route(
        'a',
        "/moved/",
        Action::Redirect(302, format!("{}/blob/", hops.b)),
    );
    hops.route('b', "/blob/", Action::Serve(tarball.clone()));
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "external_connections:\n  - name: hops\n    format: npm\n    url: {}/\n    token_env: UPSTREAM_TOKEN\n",
        hops.a
    );
    let (server, token) = LadingServer::start_through(
        dir.path(),
        ServerSpec {
            config: Some(&config),
            env: vec![("UPSTREAM_TOKEN", upstream_token.to_owned())],
            ..ServerSpec::default()
        },
        "hops",
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let body = runtime.block_on(async {
        let response = reqwest::Client::new()
            .get(format!(
                "{}/d/local/npm/main/redirected-upstream/-/redirected-upstream-1.0.0.tgz",
                server.url
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap()
    });
    assert_eq!(body.as_ref(), tarball.as_slice());
    let chain: Vec<Hop> = hops
        .hops()
        .into_iter()
        .filter(|hop| !hop.path.ends_with("/redirected-upstream"))
        .collect();
    assert_credentials(
        &chain,
        &[('a', true), ('a', true), ('b', false)],
        upstream_token,
        "pull-through",
    );
}

// See: issue #15, item 8.
#[test]
fn a_nuget_zip_bomb_fails_the_restore_naming_the_package_and_leaves_nothing() {
    let (dir, server) = support::serve(ServerSpec::default());
    let token = server.token();
    let base = format!("{}/d/local/nuget/main/", server.url);
    // 64 MiB of zeros: about 64 KiB compressed, a thousand times over the ratio allowed.
    let zeros = vec![0u8; 64 << 20];
    let mut lock_entries = serde_json::Map::new();
    let bomb = nupkg("Lading.Bomb", "1.0.0", &[("lib/net45/zeros.bin", &zeros)]);
    assert!(bomb.len() < 1 << 20, "{}", bomb.len());
    let modest = nupkg(
        "Lading.Modest",
        "1.0.0",
        &[("lib/net45/readme.txt", b"a normal package")],
    );
    for (id, package) in [("Lading.Bomb", &bomb), ("Lading.Modest", &modest)] {
        let status = nuget_push(&base, &token, package);
        assert!(status.is_success(), "push {id}: {status}");
        lock_entries.insert(id.to_owned(), nuget_lock_entry("1.0.0", package));
    }
    let project = dir.path().join("project");
    fs_err::create_dir_all(&project).unwrap();
    fs_err::write(
        project.join("packages.lock.json"),
        serde_json::json!({"version": 1, "dependencies": {"net8.0": lock_entries}}).to_string(),
    )
    .unwrap();
    let restore = |packages: &Path, extra: &[(&str, &str)]| {
        let mut command = clean_command(lading_bin(), dir.path());
        command
            .current_dir(&project)
            .args([
                "restore",
                "--registry-url",
                &base,
                "--token-env",
                "NUGET_TOKEN",
            ])
            .env("NUGET_TOKEN", &token)
            .env("NUGET_PACKAGES", packages);
        for (key, value) in extra {
            command.env(key, value);
        }
        support::run(&mut command)
    };
    let packages = dir.path().join("nuget-packages");
    let output = restore(&packages, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`lading.bomb 1.0.0` was not unpacked")
            && stderr.contains("100 times")
            && stderr.contains("LADING_RESTORE_MAX_UNPACKED_BYTES"),
        "{stderr}"
    );
    assert!(!packages.join("lading.bomb/1.0.0").exists());
    let left: u64 = support::files_under(&packages)
        .iter()
        .map(|path| fs_err::metadata(path).map_or(0, |metadata| metadata.len()))
        .sum();
    assert!(
        left < 1 << 20,
        "{left} bytes left under the packages folder"
    );
    // The total cap: a limit below even the modest package's size refuses it too.
    fs_err::write(
        project.join("packages.lock.json"),
        serde_json::json!({"version": 1, "dependencies": {"net8.0": {"Lading.Modest": lock_entries["Lading.Modest"]}}}).to_string(),
    )
    .unwrap();
    let capped = dir.path().join("capped-packages");
    let output = restore(&capped, &[("LADING_RESTORE_MAX_UNPACKED_BYTES", "10")]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(
            "`lading.modest 1.0.0` was not unpacked: it unpacks to more than 10 bytes, the limit"
        ),
        "{}",
        describe(&output)
    );
    assert!(!capped.join("lading.modest/1.0.0").exists());
    // Within the default limits it restores.
    let output = restore(&capped, &[]);
    assert!(output.status.success(), "{}", describe(&output));
    assert!(
        capped
            .join("lading.modest/1.0.0/lib/net45/readme.txt")
            .is_file()
    );
}

// See: issue #15, item 11.
#[test]
fn login_dry_run_writes_nothing_and_redacts_the_users_own_secrets_in_every_line() {
    let (dir, server) = support::serve(ServerSpec::default());
    let sandbox = Sandbox::new(dir.path(), "user").with_server(&server);
    // Within diff context of the end, where login adds its lines.
    let npmrc = "email=me@example.com\n//other.example/:_auth=bnBtLWF1dGgtc2VjcmV0\n_password=cGFzc3dvcmQtc2VjcmV0\n//other.example/:_authToken=npm-own-secret\n";
    let pip = "[global]\nextra-index-url = https://me:pip-own-secret@pip.example/simple/\n";
    let maven = "<settings>\n  <servers>\n    <server>\n      <id>other</id>\n      <username>me</username>\n      <password>maven-own-secret</password>\n    </server>\n  </servers>\n</settings>\n";
    let files = [
        (sandbox.home.join(".npmrc"), npmrc),
        (sandbox.home.join(".config/pip/pip.conf"), pip),
        (sandbox.home.join(".m2/settings.xml"), maven),
    ];
    for (path, text) in &files {
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, text).unwrap();
    }
    let mut args = vec!["login".to_owned()];
    args.extend(codeartifact(&server));
    args.extend(
        [
            "--tool",
            "npm",
            "--tool",
            "pip",
            "--tool",
            "maven",
            "--target",
            "user",
            "--dry-run",
        ]
        .map(str::to_owned),
    );
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = sandbox.lading_ok(&argv);
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // The diff shows the user's lines as context, with their values masked.
    assert!(
        printed.contains("//other.example/:_authToken=****"),
        "{printed}"
    );
    assert!(
        printed.contains("https://me:****@pip.example/simple/"),
        "{printed}"
    );
    assert!(printed.contains("<password>****</password>"), "{printed}");
    for secret in [
        "npm-own-secret",
        "bnBtLWF1dGgtc2VjcmV0",
        "cGFzc3dvcmQtc2VjcmV0",
        "pip-own-secret",
        "maven-own-secret",
    ] {
        assert!(!printed.contains(secret), "`{secret}` printed:\n{printed}");
    }
    // Nothing written: the user's files as they were, no state, no cached token.
    for (path, text) in &files {
        assert_eq!(&fs_err::read_to_string(path).unwrap(), text);
    }
    assert!(!sandbox.state().exists());
    let cache = sandbox.root.join("cache");
    assert!(
        support::files_under(&cache).is_empty(),
        "{:?}",
        support::files_under(&cache)
    );
    // The token itself is masked too.
    let token = server.token();
    assert!(!printed.contains(&token));
    assert!(!printed.contains("ldt_"), "{printed}");
}

// See: issue #15, item 14.
#[test]
fn logout_removes_the_cached_token_and_says_so() {
    let (dir, server) = support::serve(ServerSpec::default());
    let sandbox = Sandbox::new(dir.path(), "job").with_server(&server);
    let mut args = vec!["login".to_owned()];
    args.extend(codeartifact(&server));
    args.extend(["--tool", "npm", "--target", "ephemeral"].map(str::to_owned));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    sandbox.lading_ok(&argv);
    let cached = support::files_under(&sandbox.root.join("cache/tokens-v2"));
    assert_eq!(cached.len(), 1, "{cached:?}");
    let output = sandbox.lading_ok(&["logout"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "removed the cached token `{}`",
            cached[0].display()
        )),
        "{stderr}"
    );
    assert!(!cached[0].exists(), "the token cache survived logout");
    assert!(support::files_under(&sandbox.root.join("cache/tokens-v2")).is_empty());
}

/// Start `lading exec` with npm configured against `server` (CodeArtifact flags); the command
/// publishes `name`, reports the proxy's address and the tools' npmrc under `work`, waits
/// for `work/go`, then installs `name` through the proxy.
fn exec_npm(npm: &Path, server: &LadingServer, work: &Path, name: &str) -> std::process::Child {
    let package = work.join("pkg");
    fs_err::create_dir_all(&package).unwrap();
    fs_err::write(
        package.join("package.json"),
        format!(r#"{{"name":"{name}","version":"1.0.0"}}"#),
    )
    .unwrap();
    let consumer = work.join("consumer");
    fs_err::create_dir_all(&consumer).unwrap();
    fs_err::write(
        consumer.join("package.json"),
        r#"{"name":"consumer","version":"1.0.0"}"#,
    )
    .unwrap();
    let npm_dir = npm.parent().unwrap().display().to_string();
    let script = format!(
        r#"set -e
export PATH="{npm_dir}:$PATH"
cp "$NPM_CONFIG_USERCONFIG" "$W/npmrc-copy"
echo "$LADING_REPOSITORY_URL" > "$W/base"
cd "$W/pkg" && npm publish --cache "$W/cache" >/dev/null
touch "$W/ready"
while [ ! -f "$W/go" ]; do sleep 0.1; done
cd "$W/consumer" && npm install {name}@1.0.0 --cache "$W/cache2" --fetch-retries 0 --no-audit --no-fund >/dev/null
"#
    );
    let mut exec = clean_command(lading_bin(), work);
    exec.arg("exec")
        .args(codeartifact(server))
        .args(["--tool", "npm", "--", "sh", "-c", &script])
        .env("W", work)
        .envs(server.aws_env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    exec.spawn().unwrap()
}

fn wait_for(path: &Path, child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !path.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("lading exec ended early: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "`{}` never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// curl: status code and body (`-i`: with the headers).
fn curl(args: &[&str]) -> (u16, String) {
    let output = support::run(
        Command::new("curl")
            .args(["-s", "-i", "--max-time", "20"])
            .args(args),
    );
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let status = text
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no response: {}", describe(&output)));
    (status, text)
}

// See: issue #15, item 4.
#[test]
fn the_exec_proxy_forwards_only_requests_that_carry_its_secret_and_name_it_as_host() {
    let npm = require_tool!(support::npm());
    require_tool!(support::find_tool("LADING_TEST_CURL", None, Some("curl")));
    let hops = Hops::start();
    let dir = tempfile::tempdir().unwrap();
    // The data plane goes through `a`, which records what reaches the repository.
    let server = serve_behind(dir.path(), &hops.a);
    hops.route('a', "", Action::Forward(server.url.clone(), None));
    // A tarball the repository redirects to another origin: the token must not follow.
    hops.route(
        'a',
        "/d/local/npm/main/moved-away",
        Action::Redirect(302, format!("{}/elsewhere", hops.b)),
    );
    hops.route('b', "/elsewhere", Action::Serve(b"moved".to_vec()));
    let work = dir.path().join("work");
    fs_err::create_dir_all(&work).unwrap();
    let name = "lading-exec-guarded";
    let mut exec = exec_npm(&npm, &server, &work, name);
    wait_for(&work.join("ready"), &mut exec);
    let base = fs_err::read_to_string(work.join("base"))
        .unwrap()
        .trim()
        .to_owned();
    let npmrc = fs_err::read_to_string(work.join("npmrc-copy")).unwrap();
    let secret = npmrc
        .lines()
        .find_map(|line| {
            line.split_once(":_authToken=")
                .map(|(_, value)| value.trim().to_owned())
        })
        .unwrap();
    assert!(
        secret.starts_with("lading-exec-proxy-") && secret.len() >= "lading-exec-proxy-".len() + 64,
        "{npmrc}"
    );
    let bearer = format!("Authorization: Bearer {secret}");
    let wrong = format!("Authorization: Bearer lading-exec-proxy-{}", "0".repeat(64));
    let authority = base.trim_start_matches("http://").to_owned();
    let before = hops.hops().len();

    // No credential, or a wrong one: 401 with a challenge, nothing forwarded.
    let (status, text) = curl(&[&format!("{base}/npm/probe-no-secret")]);
    assert_eq!(status, 401, "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("www-authenticate: basic"),
        "{text}"
    );
    let (status, text) = curl(&["-H", &wrong, &format!("{base}/npm/probe-wrong-secret")]);
    assert_eq!(status, 401, "{text}");
    let (status, text) = curl(&[
        "-u",
        "aws:not-the-secret",
        &format!("{base}/npm/probe-wrong-basic"),
    ]);
    assert_eq!(status, 401, "{text}");
    // The right secret but another Host (DNS rebinding, a confused client): refused.
    let (status, text) = curl(&[
        "-H",
        &bearer,
        "-H",
        "Host: evil.example",
        &format!("{base}/npm/probe-foreign-host"),
    ]);
    assert_eq!(status, 403, "{text}");
    // Used as an HTTP proxy (absolute URI), to another host or even to the repository.
    for target in [
        "http://evil.example/probe-absolute".to_owned(),
        format!("{}/d/local/npm/main/probe-absolute-repository", server.url),
    ] {
        let (status, text) = curl(&["-H", &bearer, "--proxy", &base, &target]);
        assert_eq!(status, 403, "{target}: {text}");
    }
    assert_eq!(
        hops.hops().len(),
        before,
        "refused requests reached the repository: {:#?}",
        &hops.hops()[before..]
    );

    // The right secret: forwarded, with the real token in place of the placeholder.
    let (status, text) = curl(&["-H", &bearer, &format!("{base}/npm/{name}")]);
    assert_eq!(status, 200, "{text}");
    let (status, text) = curl(&[
        "-u",
        &format!("aws:{secret}"),
        "-H",
        &format!("Host: localhost:{}", authority.rsplit_once(':').unwrap().1),
        &format!("{base}/npm/{name}"),
    ]);
    assert_eq!(status, 200, "{text}");
    let forwarded: Vec<Hop> = hops.hops()[before..].to_vec();
    assert_eq!(forwarded.len(), 2, "{forwarded:#?}");
    for hop in &forwarded {
        assert!(
            hop.credentials.iter().all(|value| !value.contains(&secret))
                && hop.credentials.iter().any(|value| value.contains("ldt_")),
            "{hop:?}"
        );
    }
    // A redirect off the repository's origin: followed without the token.
    let (status, text) = curl(&["-H", &bearer, &format!("{base}/npm/moved-away")]);
    assert_eq!(status, 200, "{text}");
    let moved = hops.hops_for("elsewhere");
    assert_eq!(moved.len(), 1, "{moved:#?}");
    assert!(moved[0].credentials.is_empty(), "{moved:#?}");

    // The real tool still works through the proxy.
    fs_err::write(work.join("go"), "").unwrap();
    let output = exec.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    assert!(
        work.join(format!("consumer/node_modules/{name}/package.json"))
            .is_file()
    );
}

// See: issue #15, item 4.
#[test]
fn twine_and_pip_work_through_the_guarded_exec_proxy() {
    let python = require_tool!(support::python());
    let twine = require_tool!(crate::serve_pypi::twine());
    let (dir, server) = support::serve(ServerSpec::default());
    let wheels = dir.path().join("wheels");
    fs_err::create_dir_all(&wheels).unwrap();
    let wheel = crate::serve_pypi::wheel(&python, &wheels, "1.0.0", "through-exec");
    let work = dir.path().join("work");
    fs_err::create_dir_all(&work).unwrap();
    // twine takes the placeholder from the .pypirc, pip from the netrc (Basic, as a
    // challenge answer or up front): both must pass the proxy's check.
    let script = format!(
        r#"set -e
"{twine}" upload --non-interactive --config-file "$LADING_PYPIRC" -r codeartifact "{wheel}"
"{python}" -m pip download --no-deps --disable-pip-version-check --dest "$W/downloaded" Lading.Demo==1.0.0
"#,
        twine = twine.display(),
        wheel = wheel.display(),
        python = python.display(),
    );
    let output = support::run(
        clean_command(lading_bin(), &work)
            .arg("exec")
            .args(codeartifact(&server))
            .args([
                "--tool", "pip", "--tool", "twine", "--", "sh", "-c", &script,
            ])
            .env("W", &work)
            .envs(server.aws_env()),
    );
    assert!(output.status.success(), "{}", describe(&output));
    let downloaded: Vec<PathBuf> = support::files_under(&work.join("downloaded"));
    assert_eq!(downloaded.len(), 1, "{downloaded:?}");
    assert_eq!(
        fs_err::read(&downloaded[0]).unwrap(),
        fs_err::read(&wheel).unwrap()
    );
}
