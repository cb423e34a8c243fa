//! `lading publish` against real registries: Verdaccio (npm), pypiserver (PyPI), nginx
//! WebDAV (Maven, then `mvn` resolves the artifact), pynuget (NuGet v2, then `nuget.exe
//! install`), and `lading serve` for every format plus generic. Each checks that a re-run is
//! a no-op (exit 0, nothing sent) and that other bytes under the same version fail naming
//! both digests. A fault-injecting proxy in front of `lading serve` checks retries.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::login::codeartifact;
use crate::require_tool;

use crate::serve_nuget::{NuGetUser, mono, nuget_exe};
use crate::support::faults::{Fault, FaultProxy, Rule};
use crate::support::peers::{Nginx, Pynuget, PypiServer, Verdaccio};
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
        self.pack(
            &format!("npm-{body}"),
            &["--format", "npm", "--base", &base],
        )
    }

    fn maven_package(&self, coordinates: &str, version: &str, body: &str) -> PathBuf {
        let classes = self.root.join(format!("classes-{body}"));
        fs_err::create_dir_all(classes.join("acme")).unwrap();
        fs_err::write(classes.join("acme/data.txt"), body).unwrap();
        let base = classes.display().to_string();
        self.pack(
            &format!("maven-{body}"),
            &[
                "--format",
                "maven",
                "--name",
                coordinates,
                "--version",
                version,
                "--base",
                &base,
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
    let mut found: Vec<(String, String)> = support::publish_report_files(report)
        .into_iter()
        .map(|(file, outcome, _)| (file, outcome))
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
    let mut args: Vec<String> = vec![
        "publish".into(),
        first.display().to_string(),
        "--json".into(),
    ];
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
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        support::describe(&output)
    );
    let text = stderr(&output);
    assert!(
        text.contains("differs from what the repository already has"),
        "{text}"
    );
    assert!(
        text.contains("the repository has") && text.contains("the local file is"),
        "{text}"
    );
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
    let first = bench.pack(
        "one",
        &[
            "--format",
            "zip",
            "--name",
            "app",
            "--version",
            "1.0.0",
            "--base",
            "dist",
        ],
    );
    bench.write("dist/app.js", "console.log(2)\n");
    let other = bench.pack(
        "two",
        &[
            "--format",
            "zip",
            "--name",
            "app",
            "--version",
            "1.0.0",
            "--base",
            "dist",
        ],
    );
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
            "codeartifact",
            "publish-package-version",
            "--domain",
            "local",
            "--repository",
            "main",
            "--format",
            "generic",
            "--namespace",
            "acme",
            "--package",
            "half",
            "--package-version",
            "2.0.0",
            "--asset-name",
            "other.txt",
            "--unfinished",
            "--endpoint-url",
            &server.url,
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
            "codeartifact",
            "describe-package-version",
            "--domain",
            "local",
            "--repository",
            "main",
            "--format",
            "generic",
            "--namespace",
            "acme",
            "--package",
            "half",
            "--package-version",
            "2.0.0",
            "--endpoint-url",
            &server.url,
        ]);
        for (key, value) in server.aws_env() {
            command.env(key, value);
        }
        let described = support::run_ok(&mut command);
        let described: serde_json::Value = serde_json::from_slice(&described.stdout).unwrap();
        assert_eq!(
            described["packageVersion"]["status"], "Published",
            "{described:#}"
        );
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
    bench
        .env
        .push(("NPM_TOKEN".to_owned(), verdaccio.token.clone()));
    let first = bench.npm_package("@acme/published", "1.0.0", "one");
    let other = bench.npm_package("@acme/published", "1.0.0", "two");
    let flags = url_flags(&verdaccio.url, "NPM_TOKEN", None);
    let report = publish_twice_then_conflict(&bench, &flags, &first, &other);
    let skipped: Vec<_> = outcomes(&report)
        .into_iter()
        .filter(|(_, outcome)| outcome == "skipped")
        .collect();
    assert_eq!(
        skipped.len(),
        1,
        "provenance has no place on a plain npm registry"
    );

    // At trace level the token never shows.
    let mut args = vec![
        "-vv".to_owned(),
        "publish".to_owned(),
        first.display().to_string(),
    ];
    args.extend(flags.clone());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = bench.lading(&argv);
    assert!(output.status.success(), "{}", support::describe(&output));
    let everything = format!(
        "{}{}",
        stderr(&output),
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(everything.contains("already published"), "{everything}");
    assert!(
        !everything.contains(&verdaccio.token),
        "the token leaked into the output"
    );

    let consumer = bench.root.join("consumer");
    fs_err::create_dir_all(&consumer).unwrap();
    fs_err::write(
        consumer.join("package.json"),
        "{\"name\":\"consumer\",\"version\":\"1.0.0\"}\n",
    )
    .unwrap();
    fs_err::write(consumer.join(".npmrc"), verdaccio.npmrc()).unwrap();
    let mut command = support::clean_command(&npm, &bench.home);
    command.current_dir(&consumer).args([
        "install",
        "--no-audit",
        "--no-fund",
        "@acme/published@1.0.0",
    ]);
    support::run_ok(&mut command);
    assert_eq!(
        fs_err::read_to_string(consumer.join("node_modules/@acme/published/index.js")).unwrap(),
        "module.exports = 'one'\n"
    );
}

#[test]
fn publish_pypi_to_pypiserver_then_pip_downloads_it() {
    let pypiserver = require_tool!(PypiServer::find());
    let python = require_tool!(support::python());
    let mut bench = Bench::new();
    let server = PypiServer::start(&pypiserver, &python, &bench.root.join("pypi"));
    bench
        .env
        .push(("PYPI_PASSWORD".to_owned(), server.password.clone()));
    let first = bench.pypi_package("publish-probe", "1.0.0", "one").unwrap();
    let other = bench.pypi_package("publish-probe", "1.0.0", "two").unwrap();
    let flags = url_flags(&server.upload_url, "PYPI_PASSWORD", Some(&server.username));
    publish_twice_then_conflict(&bench, &flags, &first, &other);
    // pip downloads it from the simple index, checking the listed #sha256.
    let downloads = bench.root.join("downloads");
    let index = server.simple_url.replace(
        "http://",
        &format!("http://{}:{}@", server.username, server.password),
    );
    support::run_ok(
        support::clean_command(&python, &bench.home)
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--disable-pip-version-check",
                "--index-url",
            ])
            .arg(&index)
            .arg("-d")
            .arg(&downloads)
            .arg("publish-probe==1.0.0"),
    );
    assert_eq!(
        fs_err::read(downloads.join("publish_probe-1.0.0-py3-none-any.whl")).unwrap(),
        fs_err::read(first.join("publish_probe-1.0.0-py3-none-any.whl")).unwrap()
    );
}

fn maven_settings(bench: &Bench, repository_url: &str) -> Option<PathBuf> {
    let maven_repo = support::find_tool("LADING_TEST_MAVEN_REPO", None, None)?;
    let central = format!("file://{}", maven_repo.display());
    let settings = bench.root.join("settings.xml");
    fs_err::write(
        &settings,
        format!(
            "<settings><profiles><profile><id>local</id>
  <repositories>
    <repository><id>central</id><url>{central}</url><releases><checksumPolicy>ignore</checksumPolicy></releases><snapshots><enabled>false</enabled></snapshots></repository>
    <repository><id>published</id><url>{repository_url}</url><releases><checksumPolicy>fail</checksumPolicy></releases><snapshots><checksumPolicy>fail</checksumPolicy></snapshots></repository>
  </repositories>
  <pluginRepositories><pluginRepository><id>central</id><url>{central}</url><releases><checksumPolicy>ignore</checksumPolicy></releases></pluginRepository></pluginRepositories>
</profile></profiles><activeProfiles><activeProfile>local</activeProfile></activeProfiles></settings>
"
        ),
    )
    .unwrap();
    Some(settings)
}

/// `mvn compile` of a consumer depending on `com.acme:published:<version>` resolves it from
/// the repository (checksums enforced); returns the resolved jar.
fn mvn_resolves(bench: &Bench, settings: &Path, version: &str) -> Vec<u8> {
    let mvn = support::find_tool("LADING_TEST_MVN", None, Some("mvn")).unwrap();
    let consumer = bench.root.join(format!("consumer-{version}"));
    fs_err::create_dir_all(&consumer).unwrap();
    fs_err::write(
        consumer.join("pom.xml"),
        format!("<project xmlns='http://maven.apache.org/POM/4.0.0'><modelVersion>4.0.0</modelVersion>
  <groupId>com.acme.apps</groupId><artifactId>app</artifactId><version>1.0</version>
  <properties><maven.compiler.source>17</maven.compiler.source><maven.compiler.target>17</maven.compiler.target></properties>
  <dependencies><dependency><groupId>com.acme</groupId><artifactId>published</artifactId><version>{version}</version></dependency></dependencies>
</project>
"),
    )
    .unwrap();
    let local = bench.root.join(format!("m2-{version}"));
    support::run_ok(
        support::clean_command(&mvn, &bench.home)
            .current_dir(&consumer)
            .args(["-B", "-q", "-s"])
            .arg(settings)
            .arg(format!("-Dmaven.repo.local={}", local.display()))
            .arg("compile")
            .env("MAVEN_OPTS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"),
    );
    let dir = local.join(format!("com/acme/published/{version}"));
    let jar = fs_err::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|extension| extension == "jar"))
        .unwrap_or_else(|| panic!("no jar resolved into {}", dir.display()));
    fs_err::read(jar).unwrap()
}

#[test]
fn publish_maven_to_nginx_webdav_then_mvn_resolves_it() {
    let nginx = require_tool!(Nginx::find());
    require_tool!(support::find_tool("LADING_TEST_MVN", None, Some("mvn")));
    let bench = Bench::new();
    let root = bench.root.join("webdav");
    let server = Nginx::start_webdav(&nginx, &bench.root.join("nginx"), &root, None);
    let first = bench.maven_package("com.acme:published", "1.0.0", "one");
    let other = bench.maven_package("com.acme:published", "1.0.0", "two");
    let flags = vec!["--registry-url".to_owned(), server.url.clone()];
    publish_twice_then_conflict(&bench, &flags, &first, &other);
    let version_dir = root.join("com/acme/published/1.0.0");
    assert!(
        version_dir
            .join("published-1.0.0-provenance.intoto.jsonl")
            .is_file()
    );
    assert!(version_dir.join("published-1.0.0.jar.sha1").is_file());
    let metadata =
        fs_err::read_to_string(root.join("com/acme/published/maven-metadata.xml")).unwrap();
    assert!(metadata.contains("<version>1.0.0</version>"), "{metadata}");

    // A second version merges into maven-metadata.xml; a SNAPSHOT gets a timestamped name.
    let second = bench.maven_package("com.acme:published", "1.1.0", "three");
    let mut args = vec!["publish".to_owned(), second.display().to_string()];
    args.extend(flags.clone());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = bench.lading(&argv);
    assert!(output.status.success(), "{}", support::describe(&output));
    let metadata =
        fs_err::read_to_string(root.join("com/acme/published/maven-metadata.xml")).unwrap();
    assert!(
        metadata.contains("<version>1.0.0</version>")
            && metadata.contains("<version>1.1.0</version>"),
        "{metadata}"
    );
    let snapshot = bench.maven_package("com.acme:published", "2.0.0-SNAPSHOT", "four");
    let mut args = vec![
        "publish".to_owned(),
        snapshot.display().to_string(),
        "--json".to_owned(),
    ];
    args.extend(flags.clone());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = bench.lading(&argv);
    assert!(output.status.success(), "{}", support::describe(&output));
    let output = bench.lading(&argv);
    assert!(
        outcomes(&json(&output))
            .iter()
            .all(|(_, outcome)| outcome == "already_published"),
        "{}",
        support::describe(&output)
    );
    let snapshot_files: Vec<String> =
        fs_err::read_dir(root.join("com/acme/published/2.0.0-SNAPSHOT"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
    assert!(
        snapshot_files
            .iter()
            .any(|name| name.starts_with("published-2.0.0-") && name.ends_with("-1.jar")),
        "{snapshot_files:?}"
    );

    let settings = maven_settings(&bench, &server.url).unwrap();
    assert_eq!(
        mvn_resolves(&bench, &settings, "1.0.0"),
        fs_err::read(first.join("published-1.0.0.jar")).unwrap()
    );
    assert_eq!(
        mvn_resolves(&bench, &settings, "2.0.0-SNAPSHOT"),
        fs_err::read(snapshot.join("published-2.0.0-SNAPSHOT.jar")).unwrap()
    );
}

#[test]
fn publish_nuget_to_pynuget_then_nuget_exe_installs_it() {
    let python = require_tool!(Pynuget::find());
    require_tool!(nuget_exe());
    require_tool!(mono());
    let mut bench = Bench::new();
    let server = Pynuget::start(&python, &bench.root.join("pynuget"));
    bench
        .env
        .push(("NUGET_API_KEY".to_owned(), server.api_key.clone()));
    let first = bench.nuget_package("Acme.Published", "1.0.0", "one");
    let other = bench.nuget_package("Acme.Published", "1.0.0", "two");
    let flags = url_flags(&server.url, "NUGET_API_KEY", None);
    publish_twice_then_conflict(&bench, &flags, &first, &other);

    let user = NuGetUser::new(&bench.root, "consumer");
    let installed = bench.root.join("installed");
    user.nuget_ok(&[
        "install",
        "Acme.Published",
        "-Version",
        "1.0.0",
        "-Source",
        &server.url,
        "-OutputDirectory",
        &installed.display().to_string(),
        "-ConfigFile",
        &user.config(),
    ]);
    assert_eq!(
        fs_err::read_to_string(installed.join("Acme.Published.1.0.0/content/data.txt")).unwrap(),
        "one"
    );
}

#[test]
fn publish_every_format_to_lading_serve_with_provenance_as_a_generic_package() {
    let bench = Bench::new();
    let server = LadingServer::start(&bench.root.join("serve"), ServerSpec::default());
    let bench = bench.with_server(&server);
    let flags = codeartifact(&server);
    let npm_first = bench.npm_package("@acme/served", "1.0.0", "one");
    let npm_other = bench.npm_package("@acme/served", "1.0.0", "two");
    publish_twice_then_conflict(&bench, &flags, &npm_first, &npm_other);
    let maven_first = bench.maven_package("com.acme:published", "1.0.0", "one");
    let maven_other = bench.maven_package("com.acme:published", "1.0.0", "two");
    publish_twice_then_conflict(&bench, &flags, &maven_first, &maven_other);
    let nuget_first = bench.nuget_package("Acme.Served", "1.0.0", "one");
    let nuget_other = bench.nuget_package("Acme.Served", "1.0.0", "two");
    publish_twice_then_conflict(&bench, &flags, &nuget_first, &nuget_other);
    if let (Some(pypi_first), Some(pypi_other)) = (
        bench.pypi_package("served-probe", "1.0.0", "one"),
        bench.pypi_package("served-probe", "1.0.0", "two"),
    ) {
        publish_twice_then_conflict(&bench, &flags, &pypi_first, &pypi_other);
    }

    // The npm provenance is the generic package `npm/acme-served.provenance` 1.0.0.
    let Some(aws) = support::aws() else { return };
    let mut command = support::clean_command(&aws, &bench.home);
    command.args([
        "codeartifact",
        "list-package-version-assets",
        "--domain",
        "local",
        "--repository",
        "main",
        "--format",
        "generic",
        "--namespace",
        "npm",
        "--package",
        "acme-served.provenance",
        "--package-version",
        "1.0.0",
        "--endpoint-url",
        &server.url,
    ]);
    for (key, value) in server.aws_env() {
        command.env(key, value);
    }
    let listed: serde_json::Value =
        serde_json::from_slice(&support::run_ok(&mut command).stdout).unwrap();
    assert_eq!(
        listed["assets"][0]["name"], "acme-served-1.0.0.intoto.jsonl",
        "{listed:#}"
    );
    assert_eq!(
        listed["assets"][0]["hashes"]["SHA-256"].as_str().unwrap(),
        sha256_hex(&fs_err::read(npm_first.join("acme-served-1.0.0.intoto.jsonl")).unwrap())
    );
}

fn rule(method: &'static str, path: &'static str, fault: Fault, times: usize) -> Rule {
    Rule {
        method: Some(method),
        path,
        fault,
        times,
    }
}

fn proxied_flags(proxy: &FaultProxy) -> Vec<String> {
    let mut flags = codeartifact_at(&proxy.url);
    flags.extend(["--retries".to_owned(), "5".to_owned()]);
    flags
}

fn codeartifact_at(url: &str) -> Vec<String> {
    [
        "--domain",
        "local",
        "--domain-owner",
        "000000000000",
        "--repository",
        "main",
        "--endpoint-url",
        url,
        "--region",
        "us-east-1",
    ]
    .iter()
    .map(|text| (*text).to_owned())
    .collect()
}

fn run_publish(bench: &Bench, dir: &Path, flags: &[String]) -> Output {
    let mut args = vec![
        "publish".to_owned(),
        dir.display().to_string(),
        "--json".to_owned(),
    ];
    args.extend_from_slice(flags);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    bench.lading(&argv)
}

#[test]
fn publish_retries_503_429_resets_and_truncated_bodies_and_verifies_what_landed() {
    let bench = Bench::new();
    let server = LadingServer::start(&bench.root.join("serve"), ServerSpec::default());
    let bench = bench.with_server(&server);
    let proxy = FaultProxy::start(
        &server.url,
        vec![
            rule(
                "GET",
                "/npm/main/@acme%2ffaulty",
                Fault::TooManyRequests(1),
                1,
            ),
            rule(
                "PUT",
                "/npm/main/@acme%2ffaulty",
                Fault::ServiceUnavailable,
                1,
            ),
            rule(
                "PUT",
                "/npm/main/@acme%2ffaulty",
                Fault::ResetAfterForward,
                1,
            ),
            rule("GET", "/-/", Fault::Truncate, 1),
            rule("PUT", "/maven/main/", Fault::Reset, 2),
            rule("GET", "faulty-1.0.0.jar", Fault::Truncate, 1),
            rule(
                "POST",
                "/v1/package/version/publish",
                Fault::ServiceUnavailable,
                1,
            ),
        ],
    );
    let npm = bench.npm_package("@acme/faulty", "1.0.0", "one");
    let output = run_publish(&bench, &npm, &proxied_flags(&proxy));
    assert!(
        output.status.success(),
        "{}\n{:#?}",
        support::describe(&output),
        proxy.log()
    );
    assert!(
        outcomes(&json(&output))
            .contains(&("acme-faulty-1.0.0.tgz".to_owned(), "published".to_owned()))
    );
    let maven = bench.maven_package("com.acme:faulty", "1.0.0", "one");
    let output = run_publish(&bench, &maven, &proxied_flags(&proxy));
    assert!(
        output.status.success(),
        "{}\n{:#?}",
        support::describe(&output),
        proxy.log()
    );
    let log = proxy.log();
    for fault in [
        "TooManyRequests",
        "ServiceUnavailable",
        "ResetAfterForward",
        "Truncate",
        "Reset",
    ] {
        assert!(
            log.iter().any(|line| line
                .rsplit(' ')
                .next()
                .is_some_and(|last| last.starts_with(fault))),
            "{fault} never fired: {log:#?}"
        );
    }
    // What landed reads back right through the server directly.
    let output = run_publish(&bench, &npm, &codeartifact(&server));
    assert!(output.status.success(), "{}", support::describe(&output));
    assert!(
        outcomes(&json(&output))
            .iter()
            .all(|(_, outcome)| outcome == "already_published")
    );
    let output = run_publish(&bench, &maven, &codeartifact(&server));
    assert!(output.status.success(), "{}", support::describe(&output));
    assert!(
        outcomes(&json(&output))
            .iter()
            .all(|(_, outcome)| outcome == "already_published")
    );
}

#[test]
fn publish_exhausting_retries_exits_3_and_a_rerun_finishes_the_version() {
    let bench = Bench::new();
    let server = LadingServer::start(&bench.root.join("serve"), ServerSpec::default());
    let bench = bench.with_server(&server);
    // Maven: the jar lands, then every later PUT fails: exit 3, half a version.
    let proxy = FaultProxy::start(
        &server.url,
        vec![
            rule("PUT", ".jar.sha1", Fault::ServiceUnavailable, usize::MAX),
            rule(
                "POST",
                "/v1/package/version/publish",
                Fault::ServiceUnavailable,
                usize::MAX,
            ),
        ],
    );
    let maven = bench.maven_package("com.acme:stuck", "1.0.0", "one");
    let mut flags = codeartifact_at(&proxy.url);
    flags.extend(["--retries".to_owned(), "2".to_owned()]);
    let output = run_publish(&bench, &maven, &flags);
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        support::describe(&output)
    );
    assert!(
        stderr(&output).contains("503"),
        "{}",
        support::describe(&output)
    );

    // Generic through the SDK: 503 on every publish call, exit 3, nothing published.
    bench.write("dist/app.js", "console.log(1)\n");
    let generic = bench.pack(
        "generic",
        &[
            "--format",
            "zip",
            "--name",
            "stuck",
            "--version",
            "1.0.0",
            "--base",
            "dist",
        ],
    );
    let mut generic_flags = flags.clone();
    generic_flags.extend(["--namespace".to_owned(), "acme".to_owned()]);
    let output = run_publish(&bench, &generic, &generic_flags);
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        support::describe(&output)
    );

    // The re-run (faults gone) finishes both versions and reads them back.
    proxy.set_rules(Vec::new());
    let output = run_publish(&bench, &maven, &flags);
    assert!(output.status.success(), "{}", support::describe(&output));
    // The jar that landed is kept (same digest), the rest is sent now.
    let report = outcomes(&json(&output));
    assert_eq!(
        report,
        vec![
            (
                "stuck-1.0.0-provenance.intoto.jsonl".to_owned(),
                "published".to_owned()
            ),
            ("stuck-1.0.0.jar".to_owned(), "already_published".to_owned()),
            ("stuck-1.0.0.pom".to_owned(), "published".to_owned()),
        ]
    );
    let output = run_publish(&bench, &maven, &flags);
    assert!(
        outcomes(&json(&output))
            .iter()
            .all(|(_, outcome)| outcome == "already_published")
    );
    let output = run_publish(&bench, &generic, &generic_flags);
    assert!(output.status.success(), "{}", support::describe(&output));
    let output = run_publish(&bench, &generic, &generic_flags);
    assert!(
        outcomes(&json(&output))
            .iter()
            .all(|(_, outcome)| outcome == "already_published")
    );
}

#[test]
fn publish_maven_modules_in_one_run_with_a_step_summary() {
    let bench = Bench::new();
    let server = LadingServer::start(&bench.root.join("serve"), ServerSpec::default());
    let mut bench = bench.with_server(&server);
    let summary = bench.root.join("summary.md");
    bench.env.push((
        "GITHUB_STEP_SUMMARY".to_owned(),
        summary.display().to_string(),
    ));
    let core = bench.maven_package("com.acme:core", "1.0.0", "core");
    let core_api = bench.maven_package("com.acme:core-api", "1.0.0", "api");
    let mut args: Vec<String> = vec![
        "publish".into(),
        "--json".into(),
        "--format".into(),
        "maven".into(),
    ];
    for (dir, stem) in [(&core, "core-1.0.0"), (&core_api, "core-api-1.0.0")] {
        for extension in ["pom", "jar"] {
            args.push(
                dir.join(format!("{stem}.{extension}"))
                    .display()
                    .to_string(),
            );
        }
    }
    args.extend(codeartifact(&server));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = bench.lading(&argv);
    assert!(output.status.success(), "{}", support::describe(&output));
    let report = json(&output);
    let packages: Vec<&str> = report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|package| package["package"].as_str().unwrap())
        .collect();
    assert_eq!(packages, ["com.acme:core", "com.acme:core-api"]);
    let table = fs_err::read_to_string(&summary).unwrap();
    assert!(
        table.contains("| package | version | file | sha256 | result |"),
        "{table}"
    );
    assert!(
        table.contains("| `com.acme:core-api` | 1.0.0 | `core-api-1.0.0.jar` |"),
        "{table}"
    );
    assert_eq!(table.matches("| published |").count(), 4, "{table}");
}
