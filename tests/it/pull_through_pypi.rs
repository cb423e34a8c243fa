//! `lading serve`'s PyPI pull-through keeps the index as upstream wrote it: PEP 592 yanked
//! files (with their reason), PEP 700 `upload-time`, `size` and `versions`, PEP 658 / 714
//! core metadata and its `.metadata` files, `requires-python` and hashes, in the JSON and
//! the HTML simple API; files answer range requests.
//!
//! Checked with the real clients (pip 26.3 and uv 0.13.8 from the peers venv): what they
//! resolve through lading is what they resolve against the upstream itself, which is either
//! the real PyPI (through this machine's mirror, whose pages carry no core metadata) or a
//! local static index (`tests/peers/pypi_index.py`) over pages these tests write, with
//! yanked files, upload times and `.metadata` files that pypiserver cannot produce.
//!
//! See: issue #16, part 3.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::require_tool;
use crate::serve_upstream_formats::versions;
use crate::support::client::curl;
use crate::support::peers::PypiIndex;
use crate::support::{self, LadingServer, ServerSpec, sha256_hex};

/// The cut-off of `--exclude-newer` (uv) and `--uploaded-prior-to` (pip) in the tests.
const NEWEST_IN_2020: &str = "2021-01-01T00:00:00Z";

/// The peers the resolution tests need: the AWS CLI, Python with pip, uv and curl.
fn clients() -> Option<()> {
    support::aws()?;
    support::python()?;
    uv()?;
    curl()?;
    Some(())
}

fn uv() -> Option<PathBuf> {
    support::find_tool("LADING_TEST_UV", Some("venv/bin/uv"), None)
}

/// A fresh, unique directory under `root` for one client run (its cache, its report).
fn scratch(root: &Path, what: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let number = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = root.join(format!("{what}-{number}"));
    fs_err::create_dir_all(&dir).unwrap();
    dir
}

/// What `uv pip compile` resolves `requirement` to from `index` (`Err`: uv's stderr).
fn uv_resolves(
    root: &Path,
    index: &str,
    requirement: &str,
    extra: &[&str],
) -> Result<String, String> {
    let uv = uv().expect("uv");
    let python = support::python().expect("python");
    let dir = scratch(root, "uv");
    fs_err::write(dir.join("requirements.in"), format!("{requirement}\n")).unwrap();
    let mut command = support::clean_command(&uv, &dir);
    command
        .current_dir(&dir)
        .args([
            "pip",
            "compile",
            "requirements.in",
            "--no-config",
            "--quiet",
        ])
        .args(["--no-header", "--no-annotate", "--index-url", index])
        // The machine's PyPI mirror has a certificate from the system store, not uv's own.
        .arg("--system-certs")
        .arg("--python")
        .arg(&python)
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .args(extra);
    let output = support::run(&mut command);
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let name = requirement
        .split(['<', '>', '=', '!', '~', ' '])
        .next()
        .unwrap();
    stdout
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name}==")))
        .map(|version| version.trim().to_owned())
        .ok_or_else(|| format!("no `{name}` pin in: {stdout}"))
}

/// For each `(requirement, extra arguments, version)`: uv resolves `requirement` to
/// `version` against `upstream`, and to the same through `index` (lading).
fn uv_agrees(root: &Path, upstream: &str, index: &str, cases: &[(&str, &[&str], &str)]) {
    for &(requirement, extra, expected) in cases {
        let against_upstream = uv_resolves(root, upstream, requirement, extra);
        assert_eq!(
            against_upstream.as_deref(),
            Ok(expected),
            "{requirement} {extra:?}"
        );
        assert_eq!(
            uv_resolves(root, index, requirement, extra),
            against_upstream,
            "uv through lading: {requirement} {extra:?}"
        );
    }
}

/// What `pip install --dry-run` (pip 26.3) picks for `requirement` from `index`, and its
/// stderr (`None`: it failed).
fn pip_resolves(
    root: &Path,
    index: &str,
    requirement: &str,
    extra: &[&str],
) -> (Option<String>, String) {
    let python = support::python().expect("python");
    let dir = scratch(root, "pip");
    let report = dir.join("report.json");
    let mut command = support::clean_command(&python, &dir);
    command
        .args([
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--no-deps",
        ])
        .args([
            "--isolated",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--no-input",
        ])
        .args(["--index-url", index, "--report"])
        .arg(&report)
        .args(extra)
        .arg(requirement)
        .env("PIP_CONFIG_FILE", "/dev/null");
    let output = support::run(&mut command);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if !output.status.success() {
        return (None, stderr);
    }
    let report: Value = serde_json::from_slice(&fs_err::read(&report).unwrap()).unwrap();
    (
        report["install"][0]["metadata"]["version"]
            .as_str()
            .map(ToOwned::to_owned),
        stderr,
    )
}

/// For each `(requirement, extra arguments, version)`: pip picks `version` for `requirement`
/// against `upstream`, and the same through `index` (lading). Returns, per requirement, pip's
/// stderr against the upstream and through lading.
fn pip_agrees<'a>(
    root: &Path,
    upstream: &str,
    index: &str,
    cases: &[(&'a str, &[&str], &str)],
) -> Vec<(&'a str, String, String)> {
    let mut stderrs = Vec::new();
    for &(requirement, extra, expected) in cases {
        let (against_upstream, stderr) = pip_resolves(root, upstream, requirement, extra);
        assert_eq!(against_upstream.as_deref(), Some(expected), "{stderr}");
        let (through, through_stderr) = pip_resolves(root, index, requirement, extra);
        assert_eq!(
            through, against_upstream,
            "pip through lading: {through_stderr}"
        );
        stderrs.push((requirement, stderr, through_stderr));
    }
    stderrs
}

/// A curl request: status, response headers (lowercase names), body.
fn curl_get(url: &str, token: Option<&str>, args: &[&str]) -> (u16, String, Vec<u8>) {
    let curl = curl().expect("curl");
    let dir = tempfile::tempdir().unwrap();
    let (headers, body) = (dir.path().join("headers"), dir.path().join("body"));
    let mut command = support::clean_command(&curl, dir.path());
    command
        .args(["-sS", "-o"])
        .arg(&body)
        .arg("-D")
        .arg(&headers)
        .args(["-w", "%{http_code}"])
        .args(args);
    if let Some(token) = token {
        command.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    command.arg(url);
    let output = support::run_ok(&mut command);
    let status = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap();
    (
        status,
        fs_err::read_to_string(&headers)
            .unwrap()
            .to_ascii_lowercase(),
        fs_err::read(&body).unwrap_or_default(),
    )
}

const JSON_ACCEPT: &str = "Accept: application/vnd.pypi.simple.v1+json";

/// The JSON project page at `url`.
fn json_page(url: &str, token: Option<&str>) -> Value {
    let (status, headers, body) = curl_get(url, token, &["-H", JSON_ACCEPT]);
    assert_eq!(status, 200, "{url}: {}", String::from_utf8_lossy(&body));
    assert!(
        headers.contains("content-type: application/vnd.pypi.simple.v1+json"),
        "{headers}"
    );
    serde_json::from_slice(&body).unwrap()
}

/// Every key a client reads about a file, as the page spells it (`requires-python: null`
/// and an absent key read the same).
fn file_facts(file: &Value) -> Value {
    let core_metadata = [
        "core-metadata",
        "dist-info-metadata",
        "data-dist-info-metadata",
    ]
    .iter()
    .map(|key| &file[*key])
    .find(|value| !value.is_null())
    .cloned()
    .unwrap_or(Value::Null);
    json!({
        "hashes": file["hashes"],
        "requires-python": file["requires-python"],
        "yanked": file["yanked"],
        "upload-time": file["upload-time"],
        "size": file["size"],
        "core-metadata": core_metadata,
    })
}

/// Lading's JSON page says about every file what the upstream's says (core metadata only
/// where `core_metadata_too`), and lists the same `versions`.
fn assert_same_facts(upstream: &Value, through: &Value, core_metadata_too: bool) {
    assert_eq!(through["versions"], upstream["versions"]);
    let upstream_files = upstream["files"].as_array().unwrap();
    let through_files = through["files"].as_array().unwrap();
    assert_eq!(through_files.len(), upstream_files.len());
    for expected in upstream_files {
        let name = expected["filename"].as_str().unwrap();
        let actual = through_files
            .iter()
            .find(|file| file["filename"] == name)
            .unwrap_or_else(|| panic!("`{name}` missing through lading"));
        let (mut expected, mut actual) = (file_facts(expected), file_facts(actual));
        if !core_metadata_too {
            expected["core-metadata"] = Value::Null;
            actual["core-metadata"] = Value::Null;
        }
        assert_eq!(actual, expected, "{name}");
    }
}

/// `lading serve` with repository `main` of domain `local` pulling through the external
/// connection `name` at `url` (the built-in `public:pypi` when `url` is `None`), with
/// extra `args`; the server, a token, and the pip / uv index URL with the token in it.
fn lading_over(
    root: &Path,
    name: &str,
    url: Option<&str>,
    args: Vec<&str>,
) -> (LadingServer, String, String) {
    let connection = url.map_or_else(String::new, |url| {
        format!("external_connections:\n  - name: {name}\n    format: pypi\n    url: {url}\n")
    });
    let config = format!("{connection}domains:\n  - name: local\n    repositories: [main]\n");
    let server = LadingServer::start(
        &root.join("data"),
        ServerSpec {
            config: Some(&config),
            args,
            ..ServerSpec::default()
        },
    );
    server.associate(root, "main", name);
    let token = server.token();
    let host = server.url.trim_start_matches("http://").to_owned();
    let index = format!("http://aws:{token}@{host}/d/local/pypi/main/simple/");
    (server, token, index)
}

// ---------------------------------------------------------------------------------------
// A local upstream with the full field set

const PROJECT: &str = "yank-demo";

/// One release on the local upstream.
struct Release {
    version: &'static str,
    requires_python: &'static str,
    upload_time: &'static str,
    /// JSON `yanked`: `false`, `true` or a reason.
    yanked: Value,
}

fn releases() -> Vec<Release> {
    vec![
        Release {
            version: "1.0.0",
            requires_python: ">=3.8",
            upload_time: "2020-02-03T04:05:06.123456Z",
            yanked: json!(false),
        },
        Release {
            version: "1.0.1",
            requires_python: ">=3.8",
            upload_time: "2022-03-04T05:06:07.654321Z",
            yanked: json!(false),
        },
        Release {
            version: "1.1.0",
            requires_python: ">=3.8",
            upload_time: "2022-06-07T08:09:10.000001Z",
            yanked: json!("broken build: do not use <1.1.1 & co>"),
        },
        Release {
            version: "1.2.0",
            requires_python: ">=3.8",
            upload_time: "2022-07-08T09:10:11.100000Z",
            yanked: json!(true),
        },
        Release {
            version: "2.0.0",
            requires_python: ">=4",
            upload_time: "2023-01-02T03:04:05.000000Z",
            yanked: json!(false),
        },
    ]
}

/// The wheel file name of a release.
fn wheel_name(version: &str) -> String {
    format!("yank_demo-{version}-py3-none-any.whl")
}

/// Real wheels of [`releases`] (built by `tests/peers/pypi_wheel.py`) with their
/// `.metadata` files under `root/files/`, and the project page in PEP 691 JSON and PEP 503
/// HTML under `root/simple/yank-demo/`, written as PyPI writes them. `yanked` overrides a
/// release's yanked value. Returns the JSON page.
fn write_upstream(root: &Path, yanked: &[(&str, Value)]) -> Value {
    let python = support::python().expect("python");
    let files = root.join("files");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/pypi_wheel.py");
    let mut entries = Vec::new();
    let mut html = String::from(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.1\">\n    <title>Links for yank-demo</title>\n  </head>\n  <body>\n    <h1>Links for yank-demo</h1>\n",
    );
    for release in releases() {
        let wheel = files.join(wheel_name(release.version));
        if !wheel.exists() {
            let mut command = support::clean_command(&python, root);
            command.arg(&script).arg(&files).args([
                "Yank.Demo",
                release.version,
                release.requires_python,
                "yank_demo",
                release.version,
            ]);
            support::run_ok(&mut command);
        }
        let content = fs_err::read(&wheel).unwrap();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&content)).unwrap();
        let mut metadata = Vec::new();
        std::io::Read::read_to_end(
            &mut archive
                .by_name(&format!("yank_demo-{}.dist-info/METADATA", release.version))
                .unwrap(),
            &mut metadata,
        )
        .unwrap();
        fs_err::write(wheel.with_extension("whl.metadata"), &metadata).unwrap();
        let yanked_value = yanked
            .iter()
            .find(|(version, _)| *version == release.version)
            .map_or(release.yanked.clone(), |(_, value)| value.clone());
        let (sha256, metadata_sha256) = (sha256_hex(&content), sha256_hex(&metadata));
        let file = wheel_name(release.version);
        entries.push(json!({
            "filename": file,
            "url": format!("../../files/{file}"),
            "hashes": { "sha256": sha256 },
            "requires-python": release.requires_python,
            "size": content.len(),
            "upload-time": release.upload_time,
            "yanked": yanked_value,
            "core-metadata": { "sha256": metadata_sha256 },
            "data-dist-info-metadata": { "sha256": metadata_sha256 },
        }));
        let yanked_attribute = match &yanked_value {
            Value::String(reason) => format!(
                " data-yanked=\"{}\"",
                reason
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
            ),
            Value::Bool(true) => " data-yanked=\"\"".to_owned(),
            _ => String::new(),
        };
        writeln!(
            html,
            "    <a href=\"../../files/{file}#sha256={sha256}\" data-requires-python=\"{}\"{yanked_attribute} data-dist-info-metadata=\"sha256={metadata_sha256}\" data-core-metadata=\"sha256={metadata_sha256}\">{file}</a><br />",
            release.requires_python.replace('>', "&gt;").replace('<', "&lt;"),
        )
        .unwrap();
    }
    html.push_str("  </body>\n</html>\n");
    let page = json!({
        "meta": { "api-version": "1.1" },
        "name": PROJECT,
        // PyPI lists releases without files in `versions` too.
        "versions": ["0.9.0", "1.0.0", "1.0.1", "1.1.0", "1.2.0", "2.0.0"],
        "files": entries,
    });
    let pages = root.join("simple").join(PROJECT);
    fs_err::create_dir_all(&pages).unwrap();
    fs_err::write(pages.join("index.json"), page.to_string()).unwrap();
    fs_err::write(pages.join("index.html"), html).unwrap();
    page
}

#[test]
fn pip_and_uv_through_lading_skip_yanked_and_newer_files_as_against_the_upstream() {
    require_tool!(clients());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let upstream_root = root.join("upstream");
    let written = write_upstream(&upstream_root, &[]);
    let upstream = PypiIndex::start(&upstream_root, false);
    let (server, token, index) = lading_over(
        root,
        "index",
        Some(&upstream.simple_url),
        // Pages are asked for on every request, so an upstream yank shows at once.
        vec!["--metadata-ttl", "0"],
    );
    let direct = upstream.simple_url.as_str();

    // uv: yanked files and files needing Python 4 are skipped unless pinned with `==`, and
    // `--exclude-newer` reads upload-time.
    uv_agrees(
        root,
        direct,
        &index,
        &[
            ("yank-demo", &[][..], "1.0.1"),
            ("yank-demo==1.1.0", &[], "1.1.0"),
            ("yank-demo==1.2.0", &[], "1.2.0"),
            ("yank-demo", &["--exclude-newer", NEWEST_IN_2020], "1.0.0"),
        ],
    );
    // pip: the same, and the yank reason reaches the user.
    let stderrs = pip_agrees(
        root,
        direct,
        &index,
        &[
            ("yank-demo", &[][..], "1.0.1"),
            ("yank-demo==1.1.0", &[], "1.1.0"),
            (
                "yank-demo",
                &["--uploaded-prior-to", NEWEST_IN_2020],
                "1.0.0",
            ),
        ],
    );
    for (requirement, stderr, through_stderr) in stderrs {
        if requirement.contains("==1.1.0") {
            for stderr in [&stderr, &through_stderr] {
                assert!(
                    stderr
                        .contains("Reason for being yanked: broken build: do not use <1.1.1 & co>"),
                    "{stderr}"
                );
            }
        }
    }
    // Both resolved from core metadata alone: no wheel was pulled through.
    assert!(
        upstream.requests().contains(".whl.metadata"),
        "{}",
        upstream.requests()
    );
    assert!(
        versions(&server, root, "main", "pypi", None, PROJECT).is_null(),
        "a metadata-only resolution stored no version"
    );

    // A real download pulls 1.0.1 through; its page entry still says what upstream says.
    let (venv_dir, python) = (root.join("download"), support::python().unwrap());
    let mut command = support::clean_command(&python, root);
    command
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--isolated",
            "--no-cache-dir",
        ])
        .args(["--disable-pip-version-check", "--index-url", &index, "-d"])
        .arg(&venv_dir)
        .arg("yank-demo")
        .env("PIP_CONFIG_FILE", "/dev/null");
    support::run_ok(&mut command);
    assert!(venv_dir.join(wheel_name("1.0.1")).is_file());
    let page_url = format!("{}/d/local/pypi/main/simple/{PROJECT}/", server.url);
    assert_same_facts(&written, &json_page(&page_url, Some(&token)), true);
    assert_eq!(
        json_page(&format!("{direct}{PROJECT}/"), None),
        written,
        "the upstream serves the page as written"
    );

    // `.metadata` files: of a held wheel (recorded when it was pulled through) and of one
    // only the upstream has (fetched and checked against its sha256), byte for byte.
    for version in ["1.0.1", "1.1.0"] {
        let file = wheel_name(version);
        let (status, _, body) = curl_get(
            &format!(
                "{}/d/local/pypi/main/files/{PROJECT}/{version}/{file}.metadata",
                server.url
            ),
            Some(&token),
            &[],
        );
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert_eq!(
            body,
            fs_err::read(upstream_root.join("files").join(format!("{file}.metadata"))).unwrap()
        );
    }

    // HTML (text/html, what a browser or an old pip asks for): the same facts as attributes.
    let (status, headers, body) = curl_get(&page_url, Some(&token), &["-H", "Accept: text/html"]);
    assert_eq!(status, 200);
    assert!(headers.contains("content-type: text/html"), "{headers}");
    let html = String::from_utf8(body).unwrap();
    for file in written["files"].as_array().unwrap() {
        let name = file["filename"].as_str().unwrap();
        let anchor = html
            .lines()
            .find(|line| line.contains(&format!(">{name}</a>")))
            .unwrap_or_else(|| panic!("{name} missing from {html}"));
        let sha256 = file["hashes"]["sha256"].as_str().unwrap();
        let metadata = file["core-metadata"]["sha256"].as_str().unwrap();
        assert!(anchor.contains(&format!("#sha256={sha256}\"")), "{anchor}");
        assert!(
            anchor.contains(&format!("data-core-metadata=\"sha256={metadata}\""))
                && anchor.contains(&format!("data-dist-info-metadata=\"sha256={metadata}\"")),
            "{anchor}"
        );
        let requires_python = file["requires-python"]
            .as_str()
            .unwrap()
            .replace('>', "&gt;");
        assert!(
            anchor.contains(&format!("data-requires-python=\"{requires_python}\"")),
            "{anchor}"
        );
        let yanked = match &file["yanked"] {
            Value::String(reason) => Some(
                reason
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;"),
            ),
            Value::Bool(true) => Some(String::new()),
            _ => None,
        };
        match yanked {
            Some(reason) => assert!(
                anchor.contains(&format!("data-yanked=\"{reason}\"")),
                "{anchor}"
            ),
            None => assert!(!anchor.contains("data-yanked"), "{anchor}"),
        }
    }

    // Upstream yanks the release lading already holds: lading's page says so at once, and
    // pip and uv move off it as they do against the upstream.
    let written = write_upstream(&upstream_root, &[("1.0.1", json!("found a bug"))]);
    assert_same_facts(&written, &json_page(&page_url, Some(&token)), true);
    assert_eq!(
        uv_resolves(root, &index, "yank-demo", &[]).as_deref(),
        Ok("1.0.0")
    );
    assert_eq!(
        pip_resolves(root, &index, "yank-demo", &[]).0.as_deref(),
        Some("1.0.0")
    );
}

#[test]
fn an_html_only_upstream_keeps_yanked_requires_python_and_core_metadata() {
    require_tool!(clients());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let upstream_root = root.join("upstream");
    write_upstream(&upstream_root, &[]);
    let upstream = PypiIndex::start(&upstream_root, true);
    let (server, token, index) = lading_over(root, "html", Some(&upstream.simple_url), Vec::new());
    let direct = upstream.simple_url.as_str();
    uv_agrees(root, direct, &index, &[("yank-demo", &[], "1.0.1")]);
    let stderrs = pip_agrees(root, direct, &index, &[("yank-demo==1.1.0", &[], "1.1.0")]);
    let (_, _, through_stderr) = &stderrs[0];
    assert!(
        through_stderr.contains("Reason for being yanked: broken build: do not use <1.1.1 & co>"),
        "{through_stderr}"
    );
    // The JSON lading renders from the HTML page: the facts HTML can carry.
    let page = json_page(
        &format!("{}/d/local/pypi/main/simple/{PROJECT}/", server.url),
        Some(&token),
    );
    let file = |version: &str| {
        page["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|file| file["filename"] == wheel_name(version))
            .cloned()
            .unwrap()
    };
    assert_eq!(
        file("1.1.0")["yanked"],
        "broken build: do not use <1.1.1 & co>"
    );
    assert_eq!(file("1.2.0")["yanked"], true);
    assert_eq!(file("1.0.0")["yanked"], false);
    assert_eq!(file("2.0.0")["requires-python"], ">=4");
    let metadata = fs_err::read(
        upstream_root
            .join("files")
            .join(format!("{}.metadata", wheel_name("1.0.0"))),
    )
    .unwrap();
    assert_eq!(
        file("1.0.0")["core-metadata"]["sha256"],
        sha256_hex(&metadata)
    );
}

// ---------------------------------------------------------------------------------------
// The real PyPI (through this machine's mirror)

const PYPI: &str = "https://pypi.org/simple/";

#[test]
fn against_public_pypi_yanked_releases_and_upload_times_resolve_as_on_pypi() {
    require_tool!(clients());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (server, token, index) = lading_over(root, "public:pypi", None, Vec::new());

    // attrs 21.1.0 is yanked ("Installable but not importable on Python 3.4."): `attrs<21.2`
    // is 20.3.0 on PyPI, `==21.1.0` is 21.1.0; on 2021-01-01 the newest was 20.3.0.
    uv_agrees(
        root,
        PYPI,
        &index,
        &[
            ("attrs<21.2", &[][..], "20.3.0"),
            ("attrs==21.1.0", &[], "21.1.0"),
            ("attrs", &["--exclude-newer", NEWEST_IN_2020], "20.3.0"),
        ],
    );
    pip_agrees(
        root,
        PYPI,
        &index,
        &[
            ("attrs<21.2", &[][..], "20.3.0"),
            ("attrs", &["--uploaded-prior-to", NEWEST_IN_2020], "20.3.0"),
        ],
    );

    // With no core metadata on the page (the mirror's, so lading's for a file it does not
    // hold yet), uv reads a wheel's metadata by range requests, and lading answers them.
    let scratch_dir = scratch(root, "uv-ranges");
    fs_err::write(scratch_dir.join("requirements.in"), "idna==3.4\n").unwrap();
    let mut command = support::clean_command(uv().unwrap(), &scratch_dir);
    command
        .current_dir(&scratch_dir)
        .args([
            "pip",
            "compile",
            "requirements.in",
            "--no-config",
            "--verbose",
        ])
        .args(["--no-header", "--no-annotate", "--index-url", &index])
        .arg("--python")
        .arg(support::python().unwrap())
        .arg("--cache-dir")
        .arg(scratch_dir.join("cache"))
        .env("RUST_LOG", "uv_client=trace");
    let output = support::run_ok(&mut command);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Getting metadata for `idna-3.4-py3-none-any.whl` by range request"),
        "{stderr}"
    );
    assert!(!stderr.to_lowercase().contains("falling back"), "{stderr}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("idna==3.4"));

    // Byte for byte on what the mirror carries (it has no core metadata; lading adds its
    // own for the wheels it now holds).
    let mirror = json_page(&format!("{PYPI}attrs/"), None);
    let through = json_page(
        &format!("{}/d/local/pypi/main/simple/attrs/", server.url),
        Some(&token),
    );
    assert_same_facts(&mirror, &through, false);
    let yanked = through["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|file| file["filename"] == "attrs-21.1.0-py2.py3-none-any.whl")
        .unwrap();
    assert_eq!(
        yanked["yanked"],
        "Installable but not importable on Python 3.4."
    );
}

// ---------------------------------------------------------------------------------------
// Local uploads look like pulled-through files; files answer range requests

#[test]
fn uploaded_wheels_carry_upload_time_size_core_metadata_and_answer_ranges() {
    require_tool!(support::python());
    require_tool!(curl());
    let twine = require_tool!(crate::serve_pypi::twine());
    let python = support::python().unwrap();
    let (dir, server) = support::serve(ServerSpec::with_config(
        "domains:\n  - name: local\n    repositories: [main]\n",
    ));
    let root = dir.path();
    let token = server.token();
    let endpoint = format!("{}/d/local/pypi/main/", server.url);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/pypi_wheel.py");
    let mut command = support::clean_command(&python, root);
    command.arg(&script).arg(root.join("dist")).args([
        "Range.Demo",
        "3.1.4",
        ">=3.9",
        "range_demo",
        "ranges",
    ]);
    let wheel =
        PathBuf::from(String::from_utf8_lossy(&support::run_ok(&mut command).stdout).trim());
    let mut command = support::clean_command(&twine, root);
    command
        .args(["upload", "--non-interactive", "--repository-url", &endpoint])
        .arg(&wheel)
        .env("TWINE_USERNAME", "aws")
        .env("TWINE_PASSWORD", &token);
    support::run_ok(&mut command);
    let content = fs_err::read(&wheel).unwrap();
    let metadata = {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&content)).unwrap();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut archive
                .by_name("range_demo-3.1.4.dist-info/METADATA")
                .unwrap(),
            &mut bytes,
        )
        .unwrap();
        bytes
    };

    let page = json_page(&format!("{endpoint}simple/range-demo/"), Some(&token));
    assert_eq!(page["versions"], json!(["3.1.4"]));
    let file = &page["files"][0];
    assert_eq!(file["filename"], "range_demo-3.1.4-py3-none-any.whl");
    assert_eq!(file["size"], content.len());
    assert_eq!(file["hashes"], json!({ "sha256": sha256_hex(&content) }));
    assert_eq!(file["requires-python"], ">=3.9");
    assert_eq!(file["yanked"], false);
    assert_eq!(
        file["core-metadata"],
        json!({ "sha256": sha256_hex(&metadata) })
    );
    assert_eq!(file["data-dist-info-metadata"], file["core-metadata"]);
    let upload_time = file["upload-time"].as_str().unwrap();
    assert!(
        time::PrimitiveDateTime::parse(
            upload_time,
            time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
            )
        )
        .is_ok(),
        "{upload_time}"
    );
    let url = file["url"].as_str().unwrap();
    let (status, _, body) = curl_get(&format!("{url}.metadata"), Some(&token), &[]);
    assert_eq!(status, 200);
    assert_eq!(body, metadata);

    // Ranges, as pip's and uv's lazy wheel readers ask for them.
    let length = content.len();
    let (status, headers, _) = curl_get(url, Some(&token), &["-I"]);
    assert_eq!(status, 200);
    assert!(headers.contains("accept-ranges: bytes"), "{headers}");
    assert!(
        headers.contains(&format!("content-length: {length}")),
        "{headers}"
    );
    let (status, headers, body) = curl_get(url, Some(&token), &["-r", "0-9"]);
    assert_eq!(status, 206);
    assert!(
        headers.contains(&format!("content-range: bytes 0-9/{length}")),
        "{headers}"
    );
    assert_eq!(body, content[..10]);
    let (status, headers, body) = curl_get(url, Some(&token), &["-r", "-22"]);
    assert_eq!(status, 206);
    assert!(
        headers.contains(&format!(
            "content-range: bytes {}-{}/{length}",
            length - 22,
            length - 1
        )),
        "{headers}"
    );
    assert_eq!(body, content[length - 22..]);
    let (status, _, body) = curl_get(url, Some(&token), &["-r", "100-"]);
    assert_eq!(status, 206);
    assert_eq!(body, content[100..]);
    let (status, headers, _) = curl_get(url, Some(&token), &["-r", &format!("{length}-")]);
    assert_eq!(status, 416);
    assert!(
        headers.contains(&format!("content-range: bytes */{length}")),
        "{headers}"
    );
    let (status, _, body) = curl_get(url, Some(&token), &[]);
    assert_eq!(status, 200);
    assert_eq!(body, content);
}

/// The other formats' file downloads share the blob response, ranges included.
#[test]
fn generic_and_maven_files_answer_ranges_too() {
    require_tool!(curl());
    let (dir, server) = support::serve(ServerSpec::with_config(
        "domains:\n  - name: local\n    repositories: [main]\n",
    ));
    let root = dir.path();
    let token = server.token();
    let content: Vec<u8> = (0..3000_u32)
        .flat_map(|index| (index * 7).to_le_bytes().into_iter().take(1))
        .collect();
    let file = root.join("payload.bin");
    fs_err::write(&file, &content).unwrap();
    let upload = format!("@{}", file.display());
    for url in [
        format!(
            "{}/d/local/generic/main/tools/payload/1.0.0/payload.bin",
            server.url
        ),
        format!(
            "{}/d/local/maven/main/com/example/payload/1.0.0/payload-1.0.0.jar",
            server.url
        ),
    ] {
        let (status, _, body) =
            curl_get(&url, Some(&token), &["-X", "PUT", "--data-binary", &upload]);
        assert!(
            (200..300).contains(&status),
            "{url}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        let (status, headers, body) = curl_get(&url, Some(&token), &["-r", "5-14"]);
        assert_eq!(status, 206, "{url}");
        assert!(
            headers.contains("content-range: bytes 5-14/3000"),
            "{headers}"
        );
        assert!(headers.contains("accept-ranges: bytes"), "{headers}");
        assert_eq!(body, content[5..15], "{url}");
        let (status, _, _) = curl_get(&url, Some(&token), &["-r", "3000-"]);
        assert_eq!(status, 416, "{url}");
    }
}
