//! The PyPI data plane of `lading serve`, driven by the real AWS CLI (`codeartifact login
//! --tool twine|pip`), twine 7, `python -m build` and pip (the fresh venv's own pip 23):
//! upload of a wheel and an sdist, install into a fresh venv, hash-checked downloads,
//! duplicate and bad uploads, read-only and anonymous access, and the control plane's view.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::Digest as _;

use crate::require_tool;
use crate::support::{self, LadingServer, ServerSpec};

const PROJECT: &str = "Lading.Demo";
const NORMALIZED: &str = "lading-demo";

pub(crate) fn twine() -> Option<PathBuf> {
    support::find_tool("LADING_TEST_TWINE", Some("venv/bin/twine"), None)
}

fn sha256_hex(path: &Path) -> String {
    hex::encode(sha2::Sha256::digest(fs_err::read(path).unwrap()))
}

/// `aws codeartifact login --tool <tool>` for a principal, in `home`; `env` adds variables
/// (`PIP_CONFIG_FILE`, a `PATH` with the pip to run).
pub(crate) fn login(
    server: &LadingServer,
    home: &Path,
    tool: &str,
    credentials: &Path,
    env: &[(&str, String)],
) {
    let aws = support::aws().expect("aws");
    fs_err::create_dir_all(home).unwrap();
    let mut command = support::clean_command(&aws, home);
    command
        .args(["codeartifact", "login", "--tool", tool])
        .args(["--domain", "local", "--domain-owner", "000000000000"])
        .args(["--repository", "main"])
        .args(["--endpoint-url", &server.url, "--region", "us-east-1"])
        .env("AWS_SHARED_CREDENTIALS_FILE", credentials)
        .env("AWS_CONFIG_FILE", "/dev/null");
    for (key, value) in env {
        command.env(key, value);
    }
    support::run_ok(&mut command);
}

pub(crate) fn twine_upload(home: &Path, files: &[&Path]) -> Output {
    let mut command = support::clean_command(twine().expect("twine"), home);
    command
        .args(["upload", "--non-interactive", "-r", "codeartifact"])
        .args(files);
    support::run(&mut command)
}

/// A wheel written by `tests/peers/pypi_wheel.py` (`build --wheel` needs the `wheel`
/// package, which the offline peers venv does not have).
pub(crate) fn wheel(python: &Path, out: &Path, version: &str, value: &str) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/pypi_wheel.py");
    let mut command = support::clean_command(python, out);
    command
        .arg(script)
        .arg(out)
        .args([PROJECT, version, ">=3.8", "lading_demo", value]);
    let output = support::run_ok(&mut command);
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

/// An sdist built by the real `python -m build` (setuptools, no isolation: offline).
fn sdist(python: &Path, root: &Path, version: &str) -> PathBuf {
    let project = root.join(format!("project-{version}"));
    fs_err::create_dir_all(project.join("src/lading_demo")).unwrap();
    fs_err::write(
        project.join("src/lading_demo/__init__.py"),
        "VALUE = 'sdist'\n",
    )
    .unwrap();
    fs_err::write(
        project.join("pyproject.toml"),
        format!(
            "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"{PROJECT}\"\nversion = \"{version}\"\nrequires-python = \">=3.8\"\ndescription = \"lading test project\"\n"
        ),
    )
    .unwrap();
    let out = root.join("dist");
    let mut command = support::clean_command(python, root);
    command
        .args(["-m", "build", "--sdist", "--no-isolation", "--outdir"])
        .arg(&out)
        .arg(&project);
    support::run_ok(&mut command);
    // setuptools 65 keeps the unnormalized project name in the sdist's file name.
    let path = out.join(format!("{PROJECT}-{version}.tar.gz"));
    assert!(path.is_file(), "{} missing", path.display());
    path
}

/// A fresh venv (its own pip, from ensurepip) and a pip config written by `aws codeartifact
/// login --tool pip` for `credentials`.
struct PipUser {
    home: PathBuf,
    venv: PathBuf,
    config: PathBuf,
}

impl PipUser {
    fn new(server: &LadingServer, root: &Path, name: &str, credentials: &Path) -> Self {
        let python = support::python().expect("python");
        let home = root.join(name);
        let venv = root.join(format!("{name}-venv"));
        let mut command = support::clean_command(&python, root);
        command.args(["-m", "venv"]).arg(&venv);
        support::run_ok(&mut command);
        // `aws codeartifact login` runs `pip config set` with the pip on PATH. pip 26 writes
        // to PIP_CONFIG_FILE when that file exists (else to ~/.config/pip/pip.conf); pip
        // 23.2 fails with "Fatal Internal error [id=2]" when it exists. So the login runs
        // the peers venv's pip, and the fresh venv's pip 23 reads the file.
        let config = root.join(format!("{name}-pip.conf"));
        fs_err::write(&config, "").unwrap();
        let path = format!(
            "{}:{}",
            python.parent().unwrap().display(),
            std::env::var_os("PATH")
                .unwrap_or_default()
                .to_string_lossy()
        );
        login(
            server,
            &home,
            "pip",
            credentials,
            &[
                ("PIP_CONFIG_FILE", config.display().to_string()),
                ("PATH", path),
            ],
        );
        Self { home, venv, config }
    }

    fn pip(&self, args: &[&str]) -> Output {
        let mut command = support::clean_command(self.venv.join("bin/pip"), &self.home);
        command
            .args(args)
            .args([
                "--no-cache-dir",
                "--no-input",
                "--disable-pip-version-check",
            ])
            .env("PIP_CONFIG_FILE", &self.config);
        support::run(&mut command)
    }

    fn python(&self, code: &str) -> String {
        let mut command = support::clean_command(self.venv.join("bin/python"), &self.home);
        command.args(["-c", code]);
        String::from_utf8_lossy(&support::run_ok(&mut command).stdout)
            .trim()
            .to_owned()
    }
}

fn aws_json(server: &LadingServer, args: &[&str]) -> serde_json::Value {
    let home = server.data.with_extension("aws-home");
    fs_err::create_dir_all(&home).unwrap();
    let args: Vec<&str> = args
        .iter()
        .copied()
        .chain(["--domain", "local", "--repository", "main"])
        .collect();
    server.aws_json(&home, &args)
}

#[test]
fn twine_uploads_wheel_and_sdist_and_pip_installs_them_with_verified_hashes() {
    require_tool!(support::aws());
    require_tool!(twine());
    let python = require_tool!(support::python());
    let (dir, server) = support::serve(ServerSpec::with_config(support::PRINCIPALS_CONFIG));
    let admin_home = dir.path().join("admin");
    login(
        &server,
        &admin_home,
        "twine",
        &server.credentials_file(),
        &[],
    );
    let pypirc = fs_err::read_to_string(admin_home.join(".pypirc")).unwrap();
    assert!(
        pypirc.contains(&format!("{}/d/local/pypi/main/", server.url)),
        "{pypirc}"
    );

    let wheel = wheel(&python, &dir.path().join("dist"), "1.0.0", "wheel");
    let sdist = sdist(&python, dir.path(), "1.0.0");
    let uploaded = twine_upload(&admin_home, &[&wheel, &sdist]);
    assert!(
        uploaded.status.success(),
        "{}",
        support::describe(&uploaded)
    );

    // Uploading the same file again is refused the way PyPI refuses it.
    let again = twine_upload(&admin_home, &[&wheel]);
    assert!(!again.status.success(), "{}", support::describe(&again));
    let printed = support::describe(&again);
    assert!(
        printed.contains("400 Bad Request") && printed.contains("File already exists"),
        "{}",
        support::describe(&again)
    );

    // pip, configured by `aws codeartifact login --tool pip`, installs into a fresh venv.
    let user = PipUser::new(&server, dir.path(), "consumer", &server.credentials_file());
    let config = fs_err::read_to_string(&user.config).unwrap();
    let index = format!(
        "@{}/d/local/pypi/main/simple/",
        server.url.trim_start_matches("http://")
    );
    assert!(
        config.contains("index-url = http://aws:ldt_") && config.contains(&index),
        "{config}"
    );
    let installed = user.pip(&["install", "--only-binary", ":all:", "lading-demo"]);
    assert!(
        installed.status.success(),
        "{}",
        support::describe(&installed)
    );
    assert_eq!(
        user.python("import lading_demo; print(lading_demo.VALUE)"),
        "wheel"
    );

    // Hash-checking mode: the right hash downloads, a wrong one is refused by pip.
    let good = dir.path().join("good.txt");
    fs_err::write(
        &good,
        format!("lading-demo==1.0.0 --hash=sha256:{}\n", sha256_hex(&wheel)),
    )
    .unwrap();
    let downloads = dir.path().join("downloads");
    let downloaded = user.pip(&[
        "download",
        "--only-binary",
        ":all:",
        "--require-hashes",
        "-r",
        good.to_str().unwrap(),
        "-d",
        downloads.to_str().unwrap(),
    ]);
    assert!(
        downloaded.status.success(),
        "{}",
        support::describe(&downloaded)
    );
    let fetched = downloads.join(wheel.file_name().unwrap());
    assert_eq!(sha256_hex(&fetched), sha256_hex(&wheel));
    let bad = dir.path().join("bad.txt");
    fs_err::write(
        &bad,
        format!("lading-demo==1.0.0 --hash=sha256:{}\n", "0".repeat(64)),
    )
    .unwrap();
    let refused = user.pip(&[
        "download",
        "--only-binary",
        ":all:",
        "--require-hashes",
        "-r",
        bad.to_str().unwrap(),
        "-d",
        dir.path().join("bad-downloads").to_str().unwrap(),
    ]);
    assert!(!refused.status.success(), "{}", support::describe(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("DO NOT MATCH THE HASHES"),
        "{}",
        support::describe(&refused)
    );

    // The control plane sees the version (package = normalized name, no namespace) and both
    // files with the digests of the local files.
    let versions = aws_json(
        &server,
        &[
            "list-package-versions",
            "--format",
            "pypi",
            "--package",
            NORMALIZED,
        ],
    );
    assert_eq!(versions["versions"][0]["version"], "1.0.0", "{versions}");
    assert_eq!(versions["versions"][0]["status"], "Published", "{versions}");
    let assets = aws_json(
        &server,
        &[
            "list-package-version-assets",
            "--format",
            "pypi",
            "--package",
            NORMALIZED,
            "--package-version",
            "1.0.0",
        ],
    );
    let mut found: Vec<(String, String)> = assets["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|asset| {
            (
                asset["name"].as_str().unwrap().to_owned(),
                asset["hashes"]["SHA-256"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    let mut expected: Vec<(String, String)> = [&sdist, &wheel]
        .iter()
        .map(|path| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                sha256_hex(path),
            )
        })
        .collect();
    expected.sort();
    assert_eq!(found, expected);
}

#[test]
fn read_only_principal_installs_but_twine_upload_gets_403() {
    require_tool!(support::aws());
    require_tool!(twine());
    let python = require_tool!(support::python());
    let (dir, server) = support::serve(ServerSpec::with_config(support::PRINCIPALS_CONFIG));
    let admin_home = dir.path().join("admin");
    login(
        &server,
        &admin_home,
        "twine",
        &server.credentials_file(),
        &[],
    );
    let first = wheel(&python, &dir.path().join("dist"), "2.0.0", "two");
    let uploaded = twine_upload(&admin_home, &[&first]);
    assert!(
        uploaded.status.success(),
        "{}",
        support::describe(&uploaded)
    );

    let reader_keys = support::READER.credentials(dir.path());
    let reader = PipUser::new(&server, dir.path(), "reader", &reader_keys);
    let installed = reader.pip(&["install", "lading-demo==2.0.0"]);
    assert!(
        installed.status.success(),
        "a read-only token can install: {}",
        support::describe(&installed)
    );
    assert_eq!(
        reader.python("import lading_demo; print(lading_demo.VALUE)"),
        "two"
    );

    login(&server, &reader.home, "twine", &reader_keys, &[]);
    let next = wheel(&python, &dir.path().join("dist"), "2.0.1", "three");
    let refused = twine_upload(&reader.home, &[&next]);
    assert!(!refused.status.success(), "{}", support::describe(&refused));
    let printed = support::describe(&refused);
    assert!(
        printed.contains("403") && printed.contains("may not publish"),
        "{}",
        support::describe(&refused)
    );
}

#[test]
fn pip_without_credentials_in_the_url_uses_netrc_after_a_basic_challenge() {
    require_tool!(support::aws());
    require_tool!(twine());
    let python = require_tool!(support::python());
    let (dir, server) = support::serve(ServerSpec::default());
    let admin_home = dir.path().join("admin");
    login(
        &server,
        &admin_home,
        "twine",
        &server.credentials_file(),
        &[],
    );
    let file = wheel(&python, &dir.path().join("dist"), "3.0.0", "netrc");
    let uploaded = twine_upload(&admin_home, &[&file]);
    assert!(
        uploaded.status.success(),
        "{}",
        support::describe(&uploaded)
    );
    let pypirc = fs_err::read_to_string(admin_home.join(".pypirc")).unwrap();
    let token = pypirc
        .lines()
        .find_map(|line| line.strip_prefix("password = "))
        .or_else(|| {
            pypirc
                .lines()
                .find_map(|line| line.strip_prefix("password: "))
        })
        .unwrap()
        .trim()
        .to_owned();

    // Anonymous requests get 401 with a Basic-only challenge.
    let index = format!("{}/d/local/pypi/main/simple/", server.url);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let response = runtime.block_on(async { reqwest::get(&index).await.unwrap() });
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(
        response.headers()["www-authenticate"].to_str().unwrap(),
        "Basic realm=\"lading\""
    );

    // pip with a bare index URL and the token in ~/.netrc.
    let home = dir.path().join("netrc-user");
    fs_err::create_dir_all(&home).unwrap();
    let host = server.url.trim_start_matches("http://");
    let host = host.split(':').next().unwrap();
    let netrc = home.join(".netrc");
    fs_err::write(
        &netrc,
        format!("machine {host}\nlogin aws\npassword {token}\n"),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs_err::set_permissions(&netrc, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let venv = dir.path().join("netrc-venv");
    let mut command = support::clean_command(&python, dir.path());
    command.args(["-m", "venv"]).arg(&venv);
    support::run_ok(&mut command);
    let mut command: Command = support::clean_command(venv.join("bin/pip"), &home);
    command
        .args([
            "install",
            "--no-cache-dir",
            "--no-input",
            "--index-url",
            &index,
        ])
        .arg("lading-demo")
        .env("PIP_CONFIG_FILE", "/dev/null");
    let installed = support::run(&mut command);
    assert!(
        installed.status.success(),
        "{}",
        support::describe(&installed)
    );

    // Without the netrc, pip is refused (no prompt with --no-input).
    fs_err::remove_file(&netrc).unwrap();
    let mut command: Command = support::clean_command(venv.join("bin/pip"), &home);
    command
        .args([
            "download",
            "--no-cache-dir",
            "--no-input",
            "--index-url",
            &index,
        ])
        .args(["-d", dir.path().join("anonymous").to_str().unwrap()])
        .arg("lading-demo")
        .env("PIP_CONFIG_FILE", "/dev/null");
    let refused = support::run(&mut command);
    assert!(!refused.status.success(), "{}", support::describe(&refused));
    // pip 23 reports a refused index page as an empty one.
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("from versions: none"),
        "{}",
        support::describe(&refused)
    );
}

/// A twine-shaped form, built by hand so a test can send what twine never would.
fn form(fields: &[(&str, &str)], file: &str, content: &[u8]) -> (String, Vec<u8>) {
    let boundary = "lading-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[test]
fn bad_uploads_are_refused_and_store_nothing_and_pages_negotiate() {
    require_tool!(support::aws());
    let (dir, server) = support::serve(ServerSpec::default());
    let home = dir.path().join("admin");
    login(&server, &home, "twine", &server.credentials_file(), &[]);
    let pypirc = fs_err::read_to_string(home.join(".pypirc")).unwrap();
    let token = pypirc
        .lines()
        .find_map(|line| line.split_once("password").map(|(_, rest)| rest))
        .unwrap()
        .trim_start_matches([' ', '=', ':'])
        .trim()
        .to_owned();
    let endpoint = format!("{}/d/local/pypi/main/", server.url);
    let content = b"not really a wheel";
    let good_sha = hex::encode(sha2::Sha256::digest(content));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let post = |fields: Vec<(&str, &str)>, file: &str| {
        let (content_type, body) = form(&fields, file, content);
        runtime.block_on(async {
            let response = client
                .post(&endpoint)
                .basic_auth("aws", Some(&token))
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        })
    };
    let base = |sha: &'static str| {
        vec![
            (":action", "file_upload"),
            ("protocol_version", "1"),
            ("name", "Bad.Pkg"),
            ("version", "1.0"),
            ("filetype", "bdist_wheel"),
            ("sha256_digest", sha),
        ]
    };
    let wrong = "0".repeat(64);
    let wrong: &'static str = Box::leak(wrong.into_boxed_str());
    let (status, body) = post(base(wrong), "bad_pkg-1.0-py3-none-any.whl");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("does not match `sha256_digest`"), "{body}");
    let (status, body) = post(
        vec![
            (":action", "file_upload"),
            ("name", "Bad.Pkg"),
            ("version", "1.0"),
            ("blake2_256_digest", wrong),
        ],
        "bad_pkg-1.0-py3-none-any.whl",
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("blake2_256_digest"), "{body}");
    let good: &'static str = Box::leak(good_sha.into_boxed_str());
    let (status, body) = post(base(good), "bad_pkg-1.1-py3-none-any.whl");
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("is not a distribution of Bad.Pkg 1.0"),
        "{body}"
    );
    let (status, body) = post(base(good), "other-1.0-py3-none-any.whl");
    assert_eq!(status, 400, "{body}");
    let (status, body) = post(base(good), "bad_pkg-1.0.egg");
    assert_eq!(status, 400, "{body}");

    // Nothing is visible: no project page, no package version, no blob.
    let get = |url: String, accept: &str| {
        runtime.block_on(async {
            let response = client
                .get(url)
                .basic_auth("aws", Some(&token))
                .header("accept", accept)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            (status, headers, response.text().await.unwrap())
        })
    };
    let (status, _, _) = get(format!("{endpoint}simple/bad-pkg/"), "text/html");
    assert_eq!(status, 404);
    let packages = aws_json(&server, &["list-packages", "--format", "pypi"]);
    assert_eq!(packages["packages"], serde_json::json!([]), "{packages}");
    let blobs: usize = walk_files(&server.data.join("blobs-v1"));
    assert_eq!(blobs, 0, "a refused upload left a blob behind");

    // A good upload, then the pages: redirects to the normalized URL, JSON and HTML.
    let (status, body) = post(base(good), "bad_pkg-1.0-py3-none-any.whl");
    assert_eq!(status, 200, "{body}");
    let (status, headers, _) = get(format!("{endpoint}simple/Bad.Pkg"), "text/html");
    assert_eq!(status, 301);
    assert_eq!(
        headers["location"],
        format!("{endpoint}simple/bad-pkg/").as_str()
    );
    let (status, headers, body) = get(
        format!("{endpoint}simple/bad-pkg/"),
        "application/vnd.pypi.simple.v1+json, text/html;q=0.01",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        headers["content-type"],
        "application/vnd.pypi.simple.v1+json"
    );
    let page: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["meta"]["api-version"], "1.1");
    assert_eq!(page["name"], "bad-pkg");
    assert_eq!(page["versions"], serde_json::json!(["1.0"]));
    assert_eq!(page["files"][0]["hashes"]["sha256"], good);
    assert_eq!(page["files"][0]["size"], content.len());
    assert!(
        page["files"][0]["upload-time"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let (status, headers, body) = get(format!("{endpoint}simple/bad-pkg/"), "text/html");
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        body.contains(&format!(
            "files/bad-pkg/1.0/bad_pkg-1.0-py3-none-any.whl#sha256={good}"
        )),
        "{body}"
    );
    let (status, _, body) = get(format!("{endpoint}simple/"), "application/json");
    assert_eq!(status, 406, "{body}");
    let (status, headers, _) = get(
        format!("{endpoint}files/bad-pkg/1.0/bad_pkg-1.0-py3-none-any.whl"),
        "*/*",
    );
    assert_eq!(status, 200);
    assert_eq!(headers["x-checksum-sha256"], good);
}

fn walk_files(dir: &Path) -> usize {
    fs_err::read_dir(dir).map_or(0, |entries| {
        entries
            .map(|entry| {
                let path = entry.unwrap().path();
                if path.is_dir() { walk_files(&path) } else { 1 }
            })
            .sum()
    })
}
