//! `lading publish` against real registries: Verdaccio (npm), pypiserver (PyPI), nginx
//! WebDAV (Maven, then `mvn` resolves the artifact), pynuget (NuGet v2, then `nuget.exe
//! install`), and `lading serve` for every format plus generic. Each checks that a re-run is
//! a no-op (exit 0, nothing sent) and that other bytes under the same version fail naming
//! both digests. A fault-injecting proxy in front of `lading serve` checks retries.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::login::codeartifact;
use crate::require_tool;

use crate::support::peers::{PypiServer, Verdaccio};
use crate::support::{self, LadingServer, ServerSpec};

struct Bench {
    _temp: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
    env: Vec<(String, String)>,
}

impl Bench {
    fn new() -> Self {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().to_path_buf();
        let home = root.join("home");
        fs_err::create_dir_all(&home).unwrap();
        Self {
            _temp: temp,
            root,
            home,
            env: Vec::new(),
        }
    }

    fn with_server(mut self, server: &LadingServer) -> Self {
        for (key, value) in server.aws_env() {
            self.env.push((key.to_owned(), value));
        }
        self.env.push((
            "LADING_CACHE_DIR".to_owned(),
            self.root.join("cache").display().to_string(),
        ));
        self
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = support::clean_command(support::lading_bin(), &self.home);
        command.current_dir(&self.root).args(args);
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    fn lading(&self, args: &[&str]) -> Output {
        support::run(&mut self.command(args))
    }

    fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.root.join(relative);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(&path, text).unwrap();
        path
    }

    /// `lading pack` into `out/<out>`.
    fn pack(&self, out: &str, args: &[&str]) -> PathBuf {
        let dir = self.root.join("out").join(out);
        let mut full = vec!["pack"];
        full.extend_from_slice(args);
        let dir_text = dir.display().to_string();
        full.extend_from_slice(&["--out", &dir_text]);
        let output = self.lading(&full);
        assert!(output.status.success(), "{}", support::describe(&output));
        dir
    }

    fn npm_package(&self, name: &str, version: &str, body: &str) -> PathBuf {
        let dir = self.root.join(format!("src-npm-{body}"));
        fs_err::create_dir_all(&dir).unwrap();
        fs_err::write(
            dir.join("package.json"),
            format!("{{\"name\":\"{name}\",\"version\":\"{version}\",\"main\":\"index.js\",\"description\":\"publish test\"}}\n"),
        )
        .unwrap();
        fs_err::write(dir.join("index.js"), format!("module.exports = '{body}'\n")).unwrap();
        let base = dir.display().to_string();
        self.pack(&format!("npm-{body}"), &["--format", "npm", "--base", &base])
    }

    fn maven_package(&self, coordinates: &str, version: &str, body: &str) -> PathBuf {
        let classes = self.root.join(format!("classes-{body}"));
        fs_err::create_dir_all(classes.join("acme")).unwrap();
        fs_err::write(classes.join("acme/data.txt"), body).unwrap();
        let base = classes.display().to_string();
        self.pack(
            &format!("maven-{body}"),
            &[
                "--format", "maven", "--name", coordinates, "--version", version, "--base", &base,
            ],
        )
    }

    fn nuget_package(&self, id: &str, version: &str, body: &str) -> PathBuf {
        let base = self.root.join(format!("nuget-{body}"));
        fs_err::create_dir_all(base.join("content")).unwrap();
        fs_err::write(base.join("content/data.txt"), body).unwrap();
        fs_err::write(
            base.join(format!("{id}.nuspec")),
            format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<package xmlns=\"http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd\">\n  <metadata>\n    <id>{id}</id>\n    <version>{version}</version>\n    <authors>Acme</authors>\n    <description>publish test</description>\n  </metadata>\n</package>\n"),
        )
        .unwrap();
        let base_text = base.display().to_string();
        self.pack(
            &format!("nuget-{body}"),
            &["--format", "nuget", "--base", &base_text],
        )
    }

    fn pypi_package(&self, name: &str, version: &str, body: &str) -> Option<PathBuf> {
        let python = support::python()?;
        let dist = self.root.join(format!("dist-{body}"));
        fs_err::create_dir_all(&dist).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/pypi_wheel.py");
        support::run_ok(
            support::clean_command(&python, &self.home)
                .arg(&script)
                .arg(&dist)
                .args([name, version, ">=3.8", "publish_probe", body]),
        );
        let base = dist.display().to_string();
        Some(self.pack(
            &format!("pypi-{body}"),
            &["--format", "pypi", "--base", &base],
        ))
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", support::describe(output)))
}

/// Every file's outcome in a `--json` report.
fn outcomes(report: &serde_json::Value) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|package| package["files"].as_array().unwrap().clone())
        .map(|file| {
            (
                file["file"].as_str().unwrap().to_owned(),
                file["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

/// Publish, publish again (no-op), then publish other bytes (exit 1 with both digests).
fn publish_twice_then_conflict(
    bench: &Bench,
    flags: &[String],
    first: &Path,
    other: &Path,
) -> serde_json::Value {
    let mut args: Vec<String> = vec!["publish".into(), first.display().to_string(), "--json".into()];
    args.extend_from_slice(flags);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = bench.lading(&argv);
    assert!(output.status.success(), "{}", support::describe(&output));
    let report = json(&output);
    assert!(
        outcomes(&report)
            .iter()
            .any(|(_, outcome)| outcome == "published"),
        "{report:#}"
    );

    let output = bench.lading(&argv);
    assert!(output.status.success(), "{}", support::describe(&output));
    let again = json(&output);
    for (file, outcome) in outcomes(&again) {
        assert!(
            outcome == "already_published" || outcome == "skipped",
            "{file} was {outcome} on the re-run: {again:#}"
        );
    }

    let mut args: Vec<String> = vec!["publish".into(), other.display().to_string()];
    args.extend_from_slice(flags);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = bench.lading(&argv);
    assert_eq!(output.status.code(), Some(1), "{}", support::describe(&output));
    let text = stderr(&output);
    assert!(text.contains("differs from what the repository already has"), "{text}");
    assert!(text.contains("the repository has") && text.contains("the local file is"), "{text}");
    report
}

fn url_flags(url: &str, token_env: &str, username: Option<&str>) -> Vec<String> {
    let mut flags = vec![
        "--registry-url".to_owned(),
        url.to_owned(),
        "--token-env".to_owned(),
        token_env.to_owned(),
    ];
    if let Some(username) = username {
        flags.push("--username".to_owned());
        flags.push(username.to_owned());
    }
    flags
}

#[test]
fn publish_generic_to_lading_serve_is_idempotent_and_finishes_unfinished_versions() {
    let bench = Bench::new();
    let server = LadingServer::start(&bench.root.join("serve"), ServerSpec::default());
    let bench = bench.with_server(&server);
    bench.write("dist/app.js", "console.log(1)\n");
    let first = bench.pack("one", &["--format", "zip", "--name", "app", "--version", "1.0.0", "--base", "dist"]);
    bench.write("dist/app.js", "console.log(2)\n");
    let other = bench.pack("two", &["--format", "zip", "--name", "app", "--version", "1.0.0", "--base", "dist"]);
    let mut flags = codeartifact(&server);
    flags.extend(["--namespace".to_owned(), "acme".to_owned()]);
    let report = publish_twice_then_conflict(&bench, &flags, &first, &other);
    assert_eq!(
        outcomes(&report),
        vec![
            ("app-1.0.0.intoto.jsonl".to_owned(), "published".to_owned()),
            ("app-1.0.0.zip".to_owned(), "published".to_owned()),
        ]
    );

    // A version left Unfinished by an interrupted run (one asset landed): the re-run adds
    // the missing asset and finishes it.
    let aws = support::aws();
    let zip = first.join("app-1.0.0.zip");
    let mut args: Vec<String> = vec![
        "publish".into(),
        "--format".into(),
        "generic".into(),
        "--namespace".into(),
        "acme".into(),
        "--name".into(),
        "half".into(),
        "--version".into(),
        "2.0.0".into(),
        zip.display().to_string(),
    ];
    args.extend(codeartifact(&server));
    if let Some(aws) = aws {
        let sha256 = sha256_hex(&fs_err::read(&zip).unwrap());
        let mut command = support::clean_command(&aws, &bench.home);
        command.args([
            "codeartifact", "publish-package-version", "--domain", "local", "--repository", "main",
            "--format", "generic", "--namespace", "acme", "--package", "half", "--package-version",
            "2.0.0", "--asset-name", "other.txt", "--unfinished", "--endpoint-url", &server.url,
            "--asset-content",
        ]);
        let other_file = bench.write("other.txt", "other\n");
        command.arg(&other_file);
        command.args(["--asset-sha256", &sha256_hex(b"other\n")]);
        for (key, value) in server.aws_env() {
            command.env(key, value);
        }
        support::run_ok(&mut command);
        let _ = sha256;
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = bench.lading(&argv);
        assert!(output.status.success(), "{}", support::describe(&output));
        let mut command = support::clean_command(&aws, &bench.home);
        command.args([
            "codeartifact", "describe-package-version", "--domain", "local", "--repository", "main",
            "--format", "generic", "--namespace", "acme", "--package", "half", "--package-version",
            "2.0.0", "--endpoint-url", &server.url,
        ]);
        for (key, value) in server.aws_env() {
            command.env(key, value);
        }
        let described = support::run_ok(&mut command);
        let described: serde_json::Value = serde_json::from_slice(&described.stdout).unwrap();
        assert_eq!(described["packageVersion"]["status"], "Published", "{described:#}");
    }

    // --dry-run lists and sends nothing.
    let mut args: Vec<String> = vec![
        "publish".into(),
        "--dry-run".into(),
        "--json".into(),
        "--format".into(),
        "generic".into(),
        "--namespace".into(),
        "acme".into(),
        "--name".into(),
        "dry".into(),
        "--version".into(),
        "1.0.0".into(),
        zip.display().to_string(),
    ];
    args.extend(codeartifact(&server));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = bench.lading(&argv);
    assert!(output.status.success(), "{}", support::describe(&output));
    assert_eq!(
        outcomes(&json(&output)),
        vec![("app-1.0.0.zip".to_owned(), "would_publish".to_owned())]
    );
    args.retain(|arg| arg != "--dry-run");
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = bench.lading(&argv);
    assert_eq!(
        outcomes(&json(&output)),
        vec![("app-1.0.0.zip".to_owned(), "published".to_owned())],
        "the dry run must not have sent anything"
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn publish_npm_to_verdaccio_then_npm_installs_it() {
    let verdaccio_bin = require_tool!(Verdaccio::find());
    let npm = require_tool!(support::npm());
    let mut bench = Bench::new();
    let verdaccio = Verdaccio::start(&verdaccio_bin, &bench.root.join("verdaccio"));
    bench.env.push(("NPM_TOKEN".to_owned(), verdaccio.token.clone()));
    let first = bench.npm_package("@acme/published", "1.0.0", "one");
    let other = bench.npm_package("@acme/published", "1.0.0", "two");
    let flags = url_flags(&verdaccio.url, "NPM_TOKEN", None);
    let report = publish_twice_then_conflict(&bench, &flags, &first, &other);
    let skipped: Vec<_> = outcomes(&report)
        .into_iter()
        .filter(|(_, outcome)| outcome == "skipped")
        .collect();
    assert_eq!(skipped.len(), 1, "provenance has no place on a plain npm registry");

    let consumer = bench.root.join("consumer");
    fs_err::create_dir_all(&consumer).unwrap();
    fs_err::write(consumer.join("package.json"), "{\"name\":\"consumer\",\"version\":\"1.0.0\"}\n").unwrap();
    fs_err::write(consumer.join(".npmrc"), verdaccio.npmrc()).unwrap();
    let mut command = support::clean_command(&npm, &bench.home);
    command
        .current_dir(&consumer)
        .args(["install", "--no-audit", "--no-fund", "@acme/published@1.0.0"]);
    support::run_ok(&mut command);
    assert_eq!(
        fs_err::read_to_string(consumer.join("node_modules/@acme/published/index.js")).unwrap(),
        "module.exports = 'one'\n"
    );
}

#[test]
fn publish_pypi_to_pypiserver_then_pip_sees_the_digest() {
    let pypiserver = require_tool!(PypiServer::find());
    let python = require_tool!(support::python());
    let mut bench = Bench::new();
    let server = PypiServer::start(&pypiserver, &python, &bench.root.join("pypi"));
    bench.env.push(("PYPI_PASSWORD".to_owned(), server.password.clone()));
    let first = bench.pypi_package("publish-probe", "1.0.0", "one").unwrap();
    let other = bench.pypi_package("publish-probe", "1.0.0", "two").unwrap();
    let flags = url_flags(&server.upload_url, "PYPI_PASSWORD", Some(&server.username));
    publish_twice_then_conflict(&bench, &flags, &first, &other);
    let stored = bench.root.join("pypi/packages/publish_probe-1.0.0-py3-none-any.whl");
    assert_eq!(
        fs_err::read(&stored).unwrap(),
        fs_err::read(first.join("publish_probe-1.0.0-py3-none-any.whl")).unwrap()
    );
}
