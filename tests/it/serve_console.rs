//! The web console of `lading serve` (issue #22), in a real browser: headless Chromium from
//! Debian driven through chromedriver's W3C WebDriver protocol (`support::webdriver`), with
//! axe-core run in the page for accessibility. Screenshots of the main pages go to
//! `target/console-screenshots/` (printed by each test).
//!
//! Each test starts one `lading serve` and one chromedriver; nothing outlives it.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::require_tool;
use crate::support::webdriver::{self, Browser};
use crate::support::{self, LadingServer, ServerSpec};

/// Where screenshots go: `target/console-screenshots/<test>/`.
#[expect(clippy::print_stderr, reason = "says where the test's artifacts are")]
fn screenshots(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("console-screenshots")
        .join(test);
    fs_err::create_dir_all(&dir).unwrap();
    eprintln!("screenshots: {}", dir.display());
    dir
}

fn browser(dir: &Path) -> Option<Browser> {
    let chromium = webdriver::chromium()?;
    let chromedriver = webdriver::chromedriver()?;
    Some(Browser::start(&chromium, &chromedriver, dir))
}

/// An npm package version as `npm publish` sends it: manifest fields plus the tarball.
fn publish_npm(server: &LadingServer, token: &str, repository: &str, manifest: &Value) -> Vec<u8> {
    let name = manifest["name"].as_str().unwrap();
    let version = manifest["version"].as_str().unwrap();
    let tarball = support::npm_tarball(name, version, &format!("module.exports = '{version}';"));
    let file = format!("{}-{version}.tgz", name.rsplit('/').next().unwrap());
    let body = json!({
        "_id": name,
        "name": name,
        "description": manifest["description"],
        "dist-tags": {"latest": version},
        "versions": {version: manifest},
        "_attachments": {file: {
            "content_type": "application/octet-stream",
            "data": base64::engine::general_purpose::STANDARD.encode(&tarball),
            "length": tarball.len(),
        }},
    });
    let url = format!(
        "{}/d/local/npm/{repository}/{}",
        server.url,
        name.replace('/', "%2f")
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let status = runtime.block_on(async {
        reqwest::Client::new()
            .put(&url)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
    });
    assert!(status.is_success(), "publish {name}@{version}: {status}");
    tarball
}

/// Sign in on the console's form with an access key pair.
fn sign_in_with_keys(browser: &Browser, server: &LadingServer, access_key_id: &str, secret: &str) {
    browser.goto(&format!("{}/", server.url));
    assert!(
        browser.url().contains("/ui/login"),
        "an anonymous visit goes to the sign-in page, not {}",
        browser.url()
    );
    browser.type_into(&browser.find("#access_key_id"), access_key_id);
    browser.type_into(&browser.find("#secret_access_key"), secret);
    browser.click(&browser.find("#sign-in-keys"));
}

/// axe-core's serious and critical violations on the current page.
fn accessibility_violations(browser: &Browser, axe: &Path) -> Vec<Value> {
    let source = fs_err::read_to_string(axe).unwrap();
    browser.execute(&format!("{source}\n;return typeof axe;"), &[]);
    let result = browser.execute_async(
        "const done = arguments[arguments.length - 1];
         axe.run(document, { resultTypes: ['violations'] })
           .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                 nodes: v.nodes.map(n => n.target.join(' ')) }))))
           .catch(e => done([{ id: 'axe-error', impact: 'critical', help: String(e) }]));",
        &[],
    );
    result
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|violation| matches!(violation["impact"].as_str(), Some("serious" | "critical")))
        .collect()
}

/// Check a page: no serious accessibility violation, no script in it, nothing wider than a
/// narrow screen; then a screenshot.
fn check_page(browser: &Browser, axe: &Path, shots: &Path, name: &str) {
    let violations = accessibility_violations(browser, axe);
    assert!(
        violations.is_empty(),
        "axe-core on {} ({name}): {violations:#?}",
        browser.url()
    );
    assert!(
        !browser.source().contains("<script"),
        "the console serves no script ({name})"
    );
    browser.screenshot(&shots.join(format!("{name}.png")));
}

fn sha256_hex(bytes: &[u8]) -> String {
    support::sha256_hex(bytes)
}

/// The signing key of the provenance the browse test stores (the fixture of `tests/it/pack.rs`).
const ED25519_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEILdENjzI6vzhd4QeEVCfQ4iX8O0aQCIYSp06wElGIT5v\n-----END PRIVATE KEY-----\n";

/// A signed SLSA provenance of `tarball` (one DSSE line), as `lading pack` writes it.
fn provenance_of(key: &lading::provenance::dsse::SigningKey, file: &str, tarball: &[u8]) -> String {
    let statement = json!({
        "_type": lading::provenance::STATEMENT_TYPE,
        "subject": [{"name": file, "digest": {"sha256": sha256_hex(tarball)}}],
        "predicateType": lading::provenance::SLSA_PROVENANCE_V1,
        "predicate": {
            "buildDefinition": {
                "buildType": "https://lading.dev/build/v1",
                "externalParameters": {},
                "resolvedDependencies": [{"uri": "git+https://example.com/acme/console-demo@refs/heads/main", "digest": {"gitCommit": "0123456789abcdef0123456789abcdef01234567"}}],
            },
            "runDetails": {"builder": {"id": "https://example.com/ci/runner"}, "metadata": {}},
        },
    });
    let envelope = lading::provenance::dsse::Envelope::sign(
        lading::provenance::PAYLOAD_TYPE,
        &serde_json::to_vec(&statement).unwrap(),
        key,
    );
    serde_json::to_string(&envelope).unwrap()
}

#[test]
fn console_signs_in_finds_a_package_opens_a_version_downloads_it_and_marks_a_pulled_through_one() {
    let axe = require_tool!(webdriver::axe());
    let dir = tempfile::tempdir().unwrap();
    let Some(browser) = browser(dir.path()) else {
        return;
    };
    let signing_key = lading::provenance::dsse::SigningKey::from_pem(&lading::secret::Secret::new(
        ED25519_KEY.to_owned(),
    ))
    .unwrap();
    let public_key = signing_key.verifying_key().to_pem();
    let config = format!(
        "domains:\n  - name: local\n    repositories: [main]\nprovenance_public_keys:\n  - |\n{}",
        public_key
            .lines()
            .map(|line| format!("    {line}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let server = LadingServer::start(
        &dir.path().join("data"),
        ServerSpec {
            config: Some(&config),
            args: vec!["--upstream", "npm=https://registry.npmjs.org/"],
            ..ServerSpec::default()
        },
    );
    let token = server.token();
    let shots = screenshots("browse");
    let mut published = Vec::new();
    for (version, readme) in [
        ("1.0.0", "# Console demo\n\nThe **first** release."),
        ("1.1.0", "# Console demo\n\nA later release."),
    ] {
        published.push(publish_npm(
            &server,
            &token,
            "main",
            &json!({
                "name": "@acme/console-demo", "version": version,
                "description": "A package to find in the console",
                "readme": readme,
                "dependencies": {"is-number": "^7.0.0"},
            }),
        ));
    }
    // Its provenance, where `lading publish` puts it for npm: a generic package beside it.
    let provenance = provenance_of(&signing_key, "console-demo-1.0.0.tgz", &published[0]);
    let (status, answer) = support::client::put_basic(
        &format!(
            "{}/d/local/generic/main/npm/acme-console-demo.provenance/1.0.0/console-demo-1.0.0.tgz.intoto.jsonl",
            server.url
        ),
        &token,
        None,
        provenance.into_bytes(),
    );
    assert!(status.is_success(), "provenance upload: {status} {answer}");
    for index in 0..30 {
        publish_npm(
            &server,
            &token,
            "main",
            &json!({"name": format!("filler-{index:02}"), "version": "1.0.0", "description": "filler"}),
        );
    }
    // A version pulled through from the public npm registry by a client's read.
    let (status, _, _) = support::client::get_with_token(
        &format!(
            "{}/d/local/npm/main/is-number/-/is-number-7.0.0.tgz",
            server.url
        ),
        &token,
        &[],
    );
    assert_eq!(status, 200, "is-number 7.0.0 through the upstream");

    let (access_key_id, secret) = support::read_credentials(&server.credentials_file());
    browser.goto(&format!("{}/ui/login", server.url));
    check_page(&browser, &axe, &shots, "login");
    sign_in_with_keys(&browser, &server, &access_key_id, &secret);
    assert_eq!(browser.text_of("h1"), "Dashboard");
    assert_eq!(browser.text_of("#package-count"), "33");
    assert!(browser.text_of("#recent").contains("filler-29"));
    check_page(&browser, &axe, &shots, "dashboard");

    // The repository page: counts, connections, and the commands to copy.
    browser.click(&browser.find("a[href='/ui/r/local/main/']"));
    assert_eq!(browser.text_of("#package-count"), "33");
    let page = browser.source();
    assert!(
        page.contains("upstream:npm"),
        "the external connection is listed"
    );
    assert!(
        page.contains(&format!(
            "lading login --tool npm --tool pnpm --tool yarn --domain local --domain-owner 000000000000 --repository main --endpoint-url {}",
            server.url
        )),
        "the lading login command"
    );
    assert!(page.contains(&format!(
        "aws codeartifact login --tool npm --domain local --domain-owner 000000000000 --repository main --endpoint-url {}",
        server.url
    )));
    assert!(page.contains(&format!(
        "npm config set registry {}/d/local/npm/main/",
        server.url
    )));
    check_page(&browser, &axe, &shots, "repository");

    // Search: by substring (the package and its provenance package), then by prefix over
    // pages, by origin, by format and namespace.
    browser.type_into(&browser.find("#q"), "demo");
    browser.click(&browser.find("form[role=search] button"));
    assert_eq!(browser.text_of("#result-count"), "2 packages");
    let found = browser.text_of("#packages tbody");
    assert!(
        found.contains("@acme/console-demo") && found.contains("npm/acme-console-demo.provenance"),
        "{found}"
    );
    check_page(&browser, &axe, &shots, "search");
    browser.goto(&format!(
        "{}/ui/r/local/main/packages?q=fill&match=prefix",
        server.url
    ));
    assert_eq!(browser.text_of("#result-count"), "30 packages, page 1 of 2");
    browser.click(&browser.find("#next-page"));
    assert_eq!(browser.text_of("#result-count"), "30 packages, page 2 of 2");
    assert_eq!(browser.find_all("#packages tbody tr").len(), 5);
    browser.goto(&format!(
        "{}/ui/r/local/main/packages?origin=external",
        server.url
    ));
    assert!(browser.text_of("#packages tbody").contains("is-number"));
    assert_eq!(browser.find_all("#packages tbody tr").len(), 1);
    browser.goto(&format!(
        "{}/ui/search?q=demo&namespace=acme&format=npm",
        server.url
    ));
    assert_eq!(browser.text_of("#result-count"), "1 package");
    browser.click(&browser.find("#packages a"));

    // The package page shows the newest version; open the first one.
    assert_eq!(browser.text_of("#package-name"), "@acme/console-demo");
    assert_eq!(browser.text_of("#package-version"), "1.1.0");
    let first = browser
        .find_all("#versions a")
        .into_iter()
        .find(|link| browser.text(link) == "1.0.0")
        .expect("a link to 1.0.0");
    browser.click(&first);
    assert_eq!(browser.text_of("#package-version"), "1.0.0");
    assert!(browser.text_of("#readme").contains("The first release."));
    assert_eq!(browser.text_of("#version-origin"), "published here");
    assert_eq!(
        browser.text_of("#origin-controls"),
        "publish ALLOW, upstream BLOCK"
    );
    assert!(
        browser
            .text_of("#dependencies")
            .contains("is-number ^7.0.0")
    );
    // Tall enough for the whole page (the README's screenshot is this one).
    browser.resize(1280, 1900);
    check_page(&browser, &axe, &shots, "package");
    browser.resize(1280, 900);

    // Download the asset: the bytes published, with the digest the page shows.
    let shown = browser
        .attribute(&browser.find("#assets code.digest"), "data-sha256")
        .unwrap();
    assert_eq!(shown, sha256_hex(&published[0]));
    browser.click(&browser.find("#assets a[download]"));
    let downloaded = browser.downloaded("console-demo-1.0.0.tgz");
    assert_eq!(
        sha256_hex(&downloaded),
        shown,
        "the downloaded bytes match the digest shown"
    );

    // A dependency link leads to the pulled-through package, marked with its upstream.
    browser.click(
        &browser
            .find_all("#dependencies a")
            .into_iter()
            .find(|link| browser.text(link) == "is-number")
            .unwrap(),
    );
    assert_eq!(browser.text_of("#package-name"), "is-number");
    assert_eq!(
        browser.text_of("#version-origin"),
        "pulled through from upstream:npm"
    );
    assert!(
        browser
            .text_of("#versions")
            .contains("pulled through from upstream:npm")
    );
    check_page(&browser, &axe, &shots, "pulled-through");

    // A narrow screen: nothing wider than the viewport but the tables' own scrollers.
    browser.resize(390, 844);
    browser.goto(&format!(
        "{}/ui/r/local/main/package?format=npm&namespace=acme&name=console-demo",
        server.url
    ));
    let overflow = browser.execute(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
        &[],
    );
    assert!(
        overflow.as_i64().unwrap_or(1) <= 0,
        "the page scrolls sideways: {overflow}"
    );
    check_page(&browser, &axe, &shots, "package-narrow");
}

const ISOLATION_CONFIG: &str = "
principals:
  - name: team-reader
    access_key_id: LKIATEAMREADER000001
    secret_access_key: team-reader-secret-00000000000000000000
    grants:
      - domain: local
        repository: team
        permissions: [read]
domains:
  - name: local
    repositories: [main, team]
  - name: elsewhere
    repositories: [hidden]
";

#[test]
fn console_shows_a_reader_of_one_repository_nothing_of_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let Some(browser) = browser(dir.path()) else {
        return;
    };
    let server = LadingServer::start(
        &dir.path().join("data"),
        ServerSpec::with_config(ISOLATION_CONFIG),
    );
    let token = server.token();
    publish_npm(
        &server,
        &token,
        "main",
        &json!({"name": "secret-pkg", "version": "1.0.0", "description": "not for the team"}),
    );
    publish_npm(
        &server,
        &token,
        "team",
        &json!({"name": "team-pkg", "version": "2.0.0", "description": "for the team"}),
    );
    let shots = screenshots("isolation");

    let check_sees_only_team = |how: &str| {
        for (path, name) in [
            ("/ui/", "dashboard"),
            ("/ui/search?q=pkg", "search"),
            ("/ui/search", "search-all"),
            ("/ui/r/local/team/", "repository"),
            ("/ui/r/local/team/packages", "packages"),
            (
                "/ui/r/local/team/package?format=npm&name=team-pkg",
                "package",
            ),
        ] {
            browser.goto(&format!("{}{path}", server.url));
            let page = browser.source();
            assert!(
                page.contains("team-pkg") || name == "repository",
                "{how}: {path} shows the team's package"
            );
            for hidden in [
                "secret-pkg",
                "not for the team",
                "elsewhere",
                "/ui/r/local/main/",
            ] {
                assert!(
                    !page.contains(hidden),
                    "{how}: {path} shows `{hidden}`:\n{page}"
                );
            }
            if name == "dashboard" {
                assert_eq!(browser.text_of("#package-count"), "1", "{how}: counts");
                assert_eq!(browser.text_of("#version-count"), "1", "{how}: counts");
            }
            if name == "dashboard" || name == "search" {
                browser.screenshot(&shots.join(format!("{how}-{name}.png")));
            }
        }
        for path in [
            "/ui/r/local/main/",
            "/ui/r/local/main/packages",
            "/ui/r/local/main/package?format=npm&name=secret-pkg",
            "/ui/r/local/main/download?format=npm&name=secret-pkg&version=1.0.0&asset=secret-pkg-1.0.0.tgz",
            "/ui/r/elsewhere/hidden/",
        ] {
            browser.goto(&format!("{}{path}", server.url));
            assert!(browser.text_of("h1").starts_with("404"), "{how}: {path}");
            assert!(!browser.source().contains("not for the team"));
        }
    };

    sign_in_with_keys(
        &browser,
        &server,
        "LKIATEAMREADER000001",
        "team-reader-secret-00000000000000000000",
    );
    assert_eq!(browser.text_of("h1"), "Dashboard");
    check_sees_only_team("access-key");

    // The same with a repository token the reader minted.
    browser.goto(&format!("{}/ui/", server.url));
    browser.click(&browser.find(".signout button"));
    assert!(browser.url().contains("/ui/login"));
    let credentials = support::write_credentials(
        dir.path(),
        "team-reader",
        "LKIATEAMREADER000001",
        "team-reader-secret-00000000000000000000",
    );
    let reader_token = server.mint_token(&credentials, None);
    browser.type_into(&browser.find("#token"), &reader_token);
    browser.click(&browser.find("#sign-in-token"));
    assert_eq!(browser.text_of("h1"), "Dashboard");
    assert!(browser.source().contains("repository token"));
    check_sees_only_team("token");

    // Signed out, nothing is shown.
    browser.goto(&format!("{}/ui/", server.url));
    browser.click(&browser.find(".signout button"));
    browser.goto(&format!("{}/ui/r/local/team/packages", server.url));
    assert!(
        browser.url().contains("/ui/login?next="),
        "{}",
        browser.url()
    );
    assert!(!browser.source().contains("team-pkg"));
}

#[test]
fn console_renders_a_hostile_readme_and_description_as_text_and_runs_no_script() {
    let dir = tempfile::tempdir().unwrap();
    let Some(browser) = browser(dir.path()) else {
        return;
    };
    let server = LadingServer::start(&dir.path().join("data"), ServerSpec::default());
    let token = server.token();
    let readme = "# Hostile\n\n<script>window.__pwned = 'script';</script>\n\n\
        An image: <img src=x onerror=\"window.__pwned = 'img'\">\n\n\
        [click me](javascript:window.__pwned='link') and [tabbed](java\tscript:window.__pwned='tab') \
        and [safe](https://example.com/)\n\n\
        <a href=\"javascript:window.__pwned='raw-link'\">raw</a>\n\n\
        <iframe src=\"javascript:window.parent.__pwned='iframe'\"></iframe>\n\n\
        <div><b>broken <i>html <style>body{display:none}</style>";
    publish_npm(
        &server,
        &token,
        "main",
        &json!({
            "name": "hostile-readme", "version": "6.6.6",
            "description": "<script>window.__pwned = 'description'</script><b onmouseover=\"window.__pwned='b'\">bold</b>",
            "readme": readme,
            "dependencies": {"<img src=x onerror=alert(1)>": "javascript:alert(1)"},
        }),
    );
    let (access_key_id, secret) = support::read_credentials(&server.credentials_file());
    sign_in_with_keys(&browser, &server, &access_key_id, &secret);
    // Any log entry so far (the sign-in pages) is not this page's.
    browser.console_log();
    for path in [
        "/ui/r/local/main/package?format=npm&name=hostile-readme",
        "/ui/search?q=hostile",
        "/ui/",
    ] {
        browser.goto(&format!("{}{path}", server.url));
        let marker = browser.execute(
            "return window.__pwned === undefined ? null : String(window.__pwned);",
            &[],
        );
        assert_eq!(marker, Value::Null, "script ran on {path}");
        let log = browser.console_log();
        assert!(log.is_empty(), "the browser logged on {path}: {log:#?}");
    }
    browser.goto(&format!(
        "{}/ui/r/local/main/package?format=npm&name=hostile-readme",
        server.url
    ));
    browser.screenshot(&screenshots("hostile").join("package.png"));
    let readme_text = browser.text_of("#readme");
    assert!(
        readme_text.contains("<script>window.__pwned = 'script';</script>"),
        "{readme_text}"
    );
    assert!(
        readme_text.contains("<img src=x onerror=\"window.__pwned = 'img'\">"),
        "{readme_text}"
    );
    assert!(readme_text.contains("click me"), "{readme_text}");
    let dangerous = browser.execute(
        "return document.querySelectorAll('#readme script, #readme img, #readme iframe, #readme style, #readme [onerror], #readme a[href^=\"javascript\" i], #readme a[href*=\"script:\" i]').length;",
        &[],
    );
    assert_eq!(dangerous, json!(0));
    let links: Vec<String> = browser
        .find_all("#readme a")
        .iter()
        .filter_map(|link| browser.attribute(link, "href"))
        .collect();
    assert_eq!(links, ["https://example.com/"]);
    assert_eq!(
        browser.text_of("#description"),
        "<script>window.__pwned = 'description'</script><b onmouseover=\"window.__pwned='b'\">bold</b>"
    );
    assert!(
        browser
            .text_of("#dependencies")
            .contains("<img src=x onerror=alert(1)>")
    );
    assert!(browser.text_of("#readme").contains("broken"));
    assert!(
        browser.find_all("main").len() == 1 && browser.text_of("footer").contains("lading serve"),
        "broken HTML stays inside the readme"
    );
}

/// A form body, as a browser sends it.
fn form(pairs: &[(&str, &str)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

/// The console's forms and cookies, and `/` for the AWS CLI, over plain HTTP (reqwest).
#[test]
fn console_forms_need_their_csrf_token_and_cookies_are_strict() {
    let (_dir, server) = support::serve(ServerSpec::default());
    let (access_key_id, secret) = support::read_credentials(&server.credentials_file());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        // `/`: a browser's GET goes to the console; anything else answers as before.
        let root = client.get(format!("{}/", server.url)).send().await.unwrap();
        assert_eq!(root.status(), 303);
        assert_eq!(root.headers()["location"], "/ui/");
        let posted = client
            .post(format!("{}/", server.url))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), 404);
        let signed = client
            .get(format!("{}/", server.url))
            .header("authorization", "AWS4-HMAC-SHA256 Credential=x")
            .send()
            .await
            .unwrap();
        assert_eq!(signed.status(), 404);

        // The sign-in form carries a token matching its cookie; without it, no session.
        let login_form = client
            .get(format!("{}/ui/login", server.url))
            .header("x-forwarded-proto", "https")
            .send()
            .await
            .unwrap();
        let csp = login_form.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("default-src 'none'") && !csp.contains("script-src"),
            "{csp}"
        );
        let login_cookie = login_form.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            login_cookie.contains("HttpOnly")
                && login_cookie.contains("SameSite=Strict")
                && login_cookie.contains("; Secure"),
            "{login_cookie}"
        );
        let login_value = login_cookie.split(';').next().unwrap().to_owned();
        let csrf = login_value.split_once('=').unwrap().1.to_owned();
        let forged = client
            .post(format!("{}/ui/login", server.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("csrf", "forged"),
                ("access_key_id", access_key_id.as_str()),
                ("secret_access_key", secret.as_str()),
            ]))
            .header("cookie", &login_value)
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 403);
        assert!(
            forged
                .headers()
                .get("set-cookie")
                .is_none_or(|value| !value.to_str().unwrap().contains("lading_session=k."))
        );
        let wrong = client
            .post(format!("{}/ui/login", server.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("csrf", csrf.as_str()),
                ("access_key_id", access_key_id.as_str()),
                ("secret_access_key", "wrong"),
            ]))
            .header("cookie", &login_value)
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401);
        let signed_in = client
            .post(format!("{}/ui/login", server.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("csrf", csrf.as_str()),
                ("access_key_id", access_key_id.as_str()),
                ("secret_access_key", secret.as_str()),
            ]))
            .header("cookie", &login_value)
            .send()
            .await
            .unwrap();
        assert_eq!(signed_in.status(), 303);
        let session = signed_in
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|value| value.to_str().unwrap().to_owned())
            .find(|value| value.starts_with("lading_session="))
            .unwrap();
        assert!(
            session.contains("HttpOnly")
                && session.contains("SameSite=Strict")
                && !session.contains("Secure"),
            "{session}"
        );
        let session_value = session.split(';').next().unwrap().to_owned();
        let dashboard = client
            .get(format!("{}/ui/", server.url))
            .header("cookie", &session_value)
            .send()
            .await
            .unwrap();
        assert_eq!(dashboard.status(), 200);
        let html = dashboard.text().await.unwrap();
        // A tampered session is no session.
        let tampered = session_value.replace("k.", "k.x");
        let refused = client
            .get(format!("{}/ui/", server.url))
            .header("cookie", &tampered)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 303);
        // Sign-out needs the session's CSRF token.
        let forged_out = client
            .post(format!("{}/ui/logout", server.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("csrf", "forged")]))
            .header("cookie", &session_value)
            .send()
            .await
            .unwrap();
        assert_eq!(forged_out.status(), 403);
        let token = html
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .to_owned();
        let signed_out = client
            .post(format!("{}/ui/logout", server.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("csrf", token.as_str())]))
            .header("cookie", &session_value)
            .send()
            .await
            .unwrap();
        assert_eq!(signed_out.status(), 303);
        assert!(
            signed_out.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .starts_with("lading_session=; ")
        );
    });
}
