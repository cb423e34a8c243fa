//! `lading restore` for pip and Maven against real registries and real clients: wheels
//! uploaded with twine to `lading serve` and to pypiserver, restored into a wheelhouse that
//! `pip install --no-index --find-links` installs from with the server stopped; Maven
//! artifacts deployed to `lading serve`, restored into a fresh local repository that
//! `mvn -o` builds a project from.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest as _;

use crate::require_tool;
use crate::support::peers::{Nginx, PypiServer};
use crate::support::{self, LadingServer, ServerSpec};

fn lading(home: &Path, cwd: &Path) -> Command {
    let mut command = support::clean_command(support::lading_bin(), home);
    command
        .current_dir(cwd)
        .env("LADING_CACHE_DIR", home.join("lading-cache"));
    command
}

fn codeartifact_flags(command: &mut Command, server: &LadingServer) {
    command
        .args(["--domain", "local", "--repository", "main"])
        .args(["--domain-owner", "000000000000", "--region", "us-east-1"])
        .args(["--endpoint-url", &server.url]);
    for (key, value) in server.aws_env() {
        command.env(key, value);
    }
}

fn sha256_hex(path: &Path) -> String {
    hex::encode(sha2::Sha256::digest(fs_err::read(path).unwrap()))
}

/// Pure-Python wheels (`tests/peers/pypi_wheel.py`): project name, version, module, value.
const WHEELS: &[(&str, &str, &str, &str)] = &[
    ("Lading.Alpha", "1.0.0", "lading_alpha", "alpha-1"),
    ("Lading.Alpha", "1.1.0", "lading_alpha", "alpha-newer"),
    ("lading_beta", "2.0", "lading_beta", "beta-2"),
    ("lading-gamma", "0.3.1", "lading_gamma", "gamma"),
];

fn write_wheels(python: &Path, out: &Path) -> Vec<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/pypi_wheel.py");
    WHEELS
        .iter()
        .map(|(name, version, module, value)| {
            let mut command = support::clean_command(python, out);
            command
                .arg(&script)
                .arg(out)
                .args([name, version, ">=3.8", module, value]);
            let output = support::run_ok(&mut command);
            PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
        })
        .collect()
}

/// A hash-pinned requirements file for all but the newer Alpha, spelled the ways people
/// write names (not normalized), with a continuation, a marker and a comment.
fn requirements(project: &Path, wheels: &[PathBuf]) -> PathBuf {
    fs_err::create_dir_all(project).unwrap();
    let path = project.join("requirements.txt");
    fs_err::write(
        &path,
        format!(
            "# pinned by hand\nLading_Alpha==1.0.0 \\\n    --hash=sha256:{}\nlading.beta==2.0 ; python_version >= \"3.8\" --hash=sha256:{}\nLADING-GAMMA==0.3.1 --hash=sha256:{}  # last\n",
            sha256_hex(&wheels[0]),
            sha256_hex(&wheels[2]),
            sha256_hex(&wheels[3]),
        ),
    )
    .unwrap();
    path
}

/// `pip install --no-index --find-links WHEELHOUSE -r requirements.txt` (into a target
/// directory), then import every module.
fn pip_install_offline(python: &Path, home: &Path, project: &Path, wheelhouse: &Path) {
    let target = project.join("site");
    let mut command = support::clean_command(python, home);
    command
        .current_dir(project)
        .args(["-m", "pip", "install", "--no-index", "--find-links"])
        .arg(wheelhouse)
        .args(["-r", "requirements.txt", "--target"])
        .arg(&target)
        .args([
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--no-input",
        ]);
    support::run_ok(&mut command);
    let mut command = support::clean_command(python, home);
    command.env("PYTHONPATH", &target).args([
        "-c",
        "import lading_alpha, lading_beta, lading_gamma; print(lading_alpha.VALUE, lading_beta.VALUE, lading_gamma.VALUE)",
    ]);
    let output = support::run_ok(&mut command);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "alpha-1 beta-2 gamma"
    );
}

fn wheelhouse_names(wheelhouse: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs_err::read_dir(wheelhouse)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

const EXPECTED_WHEELS: [&str; 3] = [
    "lading_alpha-1.0.0-py3-none-any.whl",
    "lading_beta-2.0-py3-none-any.whl",
    "lading_gamma-0.3.1-py3-none-any.whl",
];

/// `lading serve` over `dir/data` with `wheels` uploaded by twine (after `aws codeartifact
/// login --tool twine` in `home`).
fn lading_serve_with_wheels(dir: &Path, home: &Path, wheels: &[PathBuf]) -> LadingServer {
    let server = LadingServer::start(&dir.join("data"), ServerSpec::default());
    crate::serve_pypi::login(&server, home, "twine", &server.credentials_file(), &[]);
    let uploaded = crate::serve_pypi::twine_upload(
        home,
        &wheels.iter().map(PathBuf::as_path).collect::<Vec<_>>(),
    );
    assert!(
        uploaded.status.success(),
        "{}",
        support::describe(&uploaded)
    );
    server
}

#[test]
fn pip_requirements_restore_from_lading_serve_then_pip_installs_offline() {
    let python = require_tool!(support::python());
    require_tool!(support::aws());
    require_tool!(crate::serve_pypi::twine());
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let wheels = write_wheels(&python, &dir.path().join("dist"));
    let server = lading_serve_with_wheels(dir.path(), &home, &wheels);
    let project = dir.path().join("project");
    requirements(&project, &wheels);
    let wheelhouse = dir.path().join("wheelhouse");
    let mut command = lading(&home, &project);
    command
        .args(["restore", "--json", "--wheelhouse"])
        .arg(&wheelhouse);
    codeartifact_flags(&mut command, &server);
    let output = support::run_ok(&mut command);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ecosystems"][0]["ecosystem"], "pypi", "{report}");
    assert_eq!(report["ecosystems"][0]["packages"], 3, "{report}");
    assert_eq!(wheelhouse_names(&wheelhouse), EXPECTED_WHEELS);
    // A second restore into an empty wheelhouse comes from the store: the project pages
    // were remembered too, so not one request (the token aside).
    let second = dir.path().join("wheelhouse-2");
    let mut command = lading(&home, &project);
    command
        .args(["restore", "--json", "--wheelhouse"])
        .arg(&second);
    codeartifact_flags(&mut command, &server);
    let report: serde_json::Value =
        serde_json::from_slice(&support::run_ok(&mut command).stdout).unwrap();
    assert_eq!(report["ecosystems"][0]["downloaded"], 0, "{report}");
    assert_eq!(wheelhouse_names(&second), EXPECTED_WHEELS);
    drop(server);
    pip_install_offline(&python, &home, &project, &wheelhouse);
}

fn upload_to_pypiserver(twine: &Path, home: &Path, pypiserver: &PypiServer, wheels: &[PathBuf]) {
    let mut command = support::clean_command(twine, home);
    command
        .args(["upload", "--non-interactive", "--repository-url"])
        .arg(&pypiserver.upload_url)
        .args(["-u", &pypiserver.username])
        .env("TWINE_PASSWORD", &pypiserver.password)
        .args(wheels);
    support::run_ok(&mut command);
}

/// pypiserver's simple URL with its user and password in it (for uv and pip).
fn pypiserver_index_with_password(pypiserver: &PypiServer) -> String {
    pypiserver.simple_url.replacen(
        "http://",
        &format!("http://{}:{}@", pypiserver.username, pypiserver.password),
        1,
    )
}

/// `lading restore --lockfile LOCKFILE` in `project` from pypiserver (its htpasswd user
/// named in the URL, the password from a variable) into `wheelhouse`, which then holds
/// [`EXPECTED_WHEELS`].
fn restore_from_pypiserver(
    home: &Path,
    project: &Path,
    lockfile: &str,
    pypiserver: &PypiServer,
    wheelhouse: &Path,
) {
    let registry =
        pypiserver
            .simple_url
            .replacen("http://", &format!("http://{}@", pypiserver.username), 1);
    let output = support::run_ok(
        lading(home, project)
            .args(["restore", "--lockfile", lockfile, "--wheelhouse"])
            .arg(wheelhouse)
            .args(["--registry-url", &registry, "--token-env", "PYPI_PASSWORD"])
            .env("PYPI_PASSWORD", &pypiserver.password),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("pypi: 3 packages"), "{stderr}");
    assert!(!stderr.contains(&pypiserver.password), "{stderr}");
    assert_eq!(wheelhouse_names(wheelhouse), EXPECTED_WHEELS);
}

fn uv() -> Option<PathBuf> {
    support::find_tool("LADING_TEST_UV", Some("venv/bin/uv"), None)
}

#[test]
fn uv_lock_and_pylock_written_by_uv_and_pip_restore_then_pip_installs_offline() {
    let python = require_tool!(support::python());
    let twine = require_tool!(crate::serve_pypi::twine());
    let binary = require_tool!(PypiServer::find());
    let uv = require_tool!(uv());
    require_tool!(support::aws());
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let wheels = write_wheels(&python, &dir.path().join("dist"));

    // The locks, as uv and pip write them against pypiserver.
    let mut pypiserver = PypiServer::start(&binary, &python, &dir.path().join("pypiserver"));
    upload_to_pypiserver(&twine, &home, &pypiserver, &wheels);
    let index = pypiserver_index_with_password(&pypiserver);
    let project = dir.path().join("project");
    fs_err::create_dir_all(&project).unwrap();
    fs_err::write(
        project.join("pyproject.toml"),
        "[project]\nname = \"demo-app\"\nversion = \"0.1.0\"\nrequires-python = \">=3.8\"\ndependencies = [\"Lading.Alpha==1.0.0\", \"lading_beta\", \"LADING-GAMMA\"]\n",
    )
    .unwrap();
    let mut command = support::clean_command(&uv, &home);
    command
        .current_dir(&project)
        .args(["lock", "--no-config", "--index-url", &index, "--python"])
        .arg(&python)
        .env("UV_CACHE_DIR", dir.path().join("uv-cache"))
        .env("UV_PYTHON_DOWNLOADS", "never");
    support::run_ok(&mut command);
    let pylock_dir = dir.path().join("pylock");
    fs_err::create_dir_all(&pylock_dir).unwrap();
    fs_err::write(
        pylock_dir.join("requirements.in"),
        "Lading.Alpha==1.0.0\nlading_beta\nLADING-GAMMA\n",
    )
    .unwrap();
    let mut command = support::clean_command(&python, &home);
    command.current_dir(&pylock_dir).args([
        "-m",
        "pip",
        "lock",
        "--disable-pip-version-check",
        "--no-cache-dir",
        "--index-url",
        &index,
        "-r",
        "requirements.in",
        "-o",
        "pylock.toml",
    ]);
    support::run_ok(&mut command);

    // pylock.toml, restored from pypiserver.
    restore_from_pypiserver(
        &home,
        &pylock_dir,
        "pylock.toml",
        &pypiserver,
        &dir.path().join("wheelhouse-pylock"),
    );
    pypiserver.stop();

    // uv.lock (found under --dir), restored from lading serve: the lock's pypiserver URLs
    // are not what is fetched.
    let server = lading_serve_with_wheels(dir.path(), &dir.path().join("upload-home"), &wheels);
    let wheelhouse = dir.path().join("wheelhouse-uv");
    let mut command = lading(&home, &project);
    command
        .args(["restore", "--json", "--wheelhouse"])
        .arg(&wheelhouse);
    codeartifact_flags(&mut command, &server);
    let output = support::run_ok(&mut command);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ecosystems"][0]["packages"], 3, "{report}");
    let skipped = report["ecosystems"][0]["skipped"].to_string();
    assert!(skipped.contains("`demo-app` comes from a"), "{report}");
    assert_eq!(wheelhouse_names(&wheelhouse), EXPECTED_WHEELS);
    drop(server);

    // pip installs each wheelhouse with no index.
    let installer = dir.path().join("installer");
    fs_err::create_dir_all(&installer).unwrap();
    fs_err::write(
        installer.join("requirements.txt"),
        "lading-alpha==1.0.0\nlading-beta==2.0\nlading-gamma==0.3.1\n",
    )
    .unwrap();
    for wheelhouse in ["wheelhouse-pylock", "wheelhouse-uv"] {
        pip_install_offline(&python, &home, &installer, &dir.path().join(wheelhouse));
        fs_err::remove_dir_all(installer.join("site")).unwrap();
    }
}

#[test]
fn pip_requirements_restore_from_pypiserver_then_pip_installs_offline() {
    let python = require_tool!(support::python());
    let twine = require_tool!(crate::serve_pypi::twine());
    let binary = require_tool!(PypiServer::find());
    let dir = tempfile::tempdir().unwrap();
    let mut pypiserver = PypiServer::start(&binary, &python, &dir.path().join("pypiserver"));
    let home = dir.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let wheels = write_wheels(&python, &dir.path().join("dist"));
    upload_to_pypiserver(&twine, &home, &pypiserver, &wheels);
    let project = dir.path().join("project");
    requirements(&project, &wheels);
    let wheelhouse = dir.path().join("wheelhouse");
    restore_from_pypiserver(
        &home,
        &project,
        "requirements.txt",
        &pypiserver,
        &wheelhouse,
    );
    pypiserver.stop();
    pip_install_offline(&python, &home, &project, &wheelhouse);
}

const MAVEN_GROUP: &str = "com.acme.restore";

/// A POM; `body` goes after the coordinates.
fn pom(artifact: &str, version: &str, body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<project xmlns=\"http://maven.apache.org/POM/4.0.0\">\n  <modelVersion>4.0.0</modelVersion>\n  <groupId>{MAVEN_GROUP}</groupId><artifactId>{artifact}</artifactId><version>{version}</version>\n  {body}\n</project>\n"
    )
}

/// Compile `Core` and `Util` (Util calls Core) with javac and return both jars.
fn compiled_jars(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let source = dir.join("src/com/acme/restore");
    fs_err::create_dir_all(&source).unwrap();
    fs_err::write(
        source.join("Core.java"),
        "package com.acme.restore;\npublic final class Core { public static String name() { return \"core-1.0\"; } }\n",
    )
    .unwrap();
    fs_err::write(
        source.join("Util.java"),
        "package com.acme.restore;\npublic final class Util { public static String shout() { return Core.name().toUpperCase(); } }\n",
    )
    .unwrap();
    let classes = dir.join("classes");
    let mut command = support::clean_command("javac", dir);
    command
        .args(["--release", "17", "-d"])
        .arg(&classes)
        .arg(source.join("Core.java"))
        .arg(source.join("Util.java"));
    support::run_ok(&mut command);
    let class =
        |name: &str| fs_err::read(classes.join(format!("com/acme/restore/{name}.class"))).unwrap();
    let manifest = b"Manifest-Version: 1.0\r\n\r\n".as_slice();
    let core = crate::support::zip_of(&[
        ("META-INF/MANIFEST.MF", manifest),
        ("com/acme/restore/Core.class", &class("Core")),
    ]);
    let util = crate::support::zip_of(&[
        ("META-INF/MANIFEST.MF", manifest),
        ("com/acme/restore/Util.class", &class("Util")),
    ]);
    (core, util)
}

/// Deploy, as mvn does (file then its `.sha1`): a parent POM, a BOM, `core` (child of the
/// parent) and `util` (imports the BOM, depends on `core` with the version from the BOM).
fn deploy_maven_artifacts(endpoint: &str, token: &str, dir: &Path) {
    let (core_jar, util_jar) = compiled_jars(dir);
    let parent = pom(
        "parent",
        "1.0",
        "<packaging>pom</packaging><properties><project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>",
    );
    let bom = pom(
        "bom",
        "1.0",
        &format!(
            "<packaging>pom</packaging><dependencyManagement><dependencies><dependency><groupId>{MAVEN_GROUP}</groupId><artifactId>core</artifactId><version>1.0</version></dependency></dependencies></dependencyManagement>"
        ),
    );
    let core = format!(
        "<?xml version=\"1.0\"?>\n<project xmlns=\"http://maven.apache.org/POM/4.0.0\">\n  <modelVersion>4.0.0</modelVersion>\n  <parent><groupId>{MAVEN_GROUP}</groupId><artifactId>parent</artifactId><version>1.0</version></parent>\n  <artifactId>core</artifactId><version>1.0</version>\n</project>\n"
    );
    let util = pom(
        "util",
        "2.0",
        &format!(
            "<dependencyManagement><dependencies><dependency><groupId>{MAVEN_GROUP}</groupId><artifactId>bom</artifactId><version>1.0</version><type>pom</type><scope>import</scope></dependency></dependencies></dependencyManagement><dependencies><dependency><groupId>{MAVEN_GROUP}</groupId><artifactId>core</artifactId></dependency></dependencies>"
        ),
    );
    let files: Vec<(String, Vec<u8>)> = vec![
        ("parent/1.0/parent-1.0.pom".to_owned(), parent.into_bytes()),
        ("bom/1.0/bom-1.0.pom".to_owned(), bom.into_bytes()),
        ("core/1.0/core-1.0.pom".to_owned(), core.into_bytes()),
        ("core/1.0/core-1.0.jar".to_owned(), core_jar),
        ("util/2.0/util-2.0.pom".to_owned(), util.into_bytes()),
        ("util/2.0/util-2.0.jar".to_owned(), util_jar),
    ];
    for (path, body) in files {
        let url = format!("{endpoint}com/acme/restore/{path}");
        let sha1 = hex::encode(sha1::Sha1::digest(&body));
        for (url, body) in [
            (url.clone(), body),
            (format!("{url}.sha1"), sha1.into_bytes()),
        ] {
            let (status, _) = crate::support::client::put_basic(&url, token, None, body);
            assert!(status.is_success(), "PUT {url}: {status}");
        }
    }
}

/// A project using `Util` (and, through it, `Core`) built by `mvn -o`: Debian's plugin
/// repository as `central` (a file repository, which offline mode allows only with
/// `aether.offline.protocols=file`) and the lading repository as `lading`.
fn maven_consumer(dir: &Path, maven_repo: &Path) -> (PathBuf, PathBuf) {
    let central = format!("file://{}", maven_repo.display());
    let settings = dir.join("settings.xml");
    fs_err::write(
        &settings,
        format!(
            "<settings xmlns='http://maven.apache.org/SETTINGS/1.2.0'>
  <profiles>
    <profile>
      <id>offline-central</id>
      <repositories>
        <repository><id>central</id><url>{central}</url>
          <releases><checksumPolicy>ignore</checksumPolicy></releases><snapshots><enabled>false</enabled></snapshots></repository>
        <repository><id>lading</id><url>http://127.0.0.1:9/unreachable/</url></repository>
      </repositories>
      <pluginRepositories>
        <pluginRepository><id>central</id><url>{central}</url>
          <releases><checksumPolicy>ignore</checksumPolicy></releases><snapshots><enabled>false</enabled></snapshots></pluginRepository>
      </pluginRepositories>
    </profile>
  </profiles>
  <activeProfiles><activeProfile>offline-central</activeProfile></activeProfiles>
</settings>
"
        ),
    )
    .unwrap();
    let project = dir.join("consumer");
    let source = project.join("src/main/java/app");
    fs_err::create_dir_all(&source).unwrap();
    fs_err::write(
        project.join("pom.xml"),
        format!(
            "<project xmlns='http://maven.apache.org/POM/4.0.0'>
  <modelVersion>4.0.0</modelVersion>
  <groupId>app</groupId><artifactId>consumer</artifactId><version>1.0</version>
  <properties><maven.compiler.source>17</maven.compiler.source><maven.compiler.target>17</maven.compiler.target><project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>
  <dependencies><dependency><groupId>{MAVEN_GROUP}</groupId><artifactId>util</artifactId><version>2.0</version></dependency></dependencies>
</project>
"
        ),
    )
    .unwrap();
    fs_err::write(
        source.join("Main.java"),
        "package app;\npublic class Main { public static String both() { return com.acme.restore.Util.shout() + com.acme.restore.Core.name(); } }\n",
    )
    .unwrap();
    (settings, project)
}

fn mvn_offline(mvn: &Path, home: &Path, settings: &Path, project: &Path, local: &Path) -> Command {
    let mut command = support::clean_command(mvn, home);
    command
        .current_dir(project)
        .args(["-o", "-B", "-q", "-s"])
        .arg(settings)
        .arg(format!("-Dmaven.repo.local={}", local.display()))
        .arg("-Daether.offline.protocols=file")
        .arg("compile")
        .env("MAVEN_OPTS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC");
    command
}

#[test]
fn maven_coordinates_and_gradle_lockfile_restore_then_mvn_offline_builds() {
    require_tool!(support::aws());
    let mvn = require_tool!(crate::serve_maven::mvn());
    let maven_repo = require_tool!(crate::serve_maven::maven_repo());
    require_tool!(support::find_tool("LADING_TEST_JAVAC", None, Some("javac")));
    let (dir, server) = support::serve(ServerSpec::default());
    let home = dir.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let token = crate::serve_maven::token(&server, &home, &server.credentials_file());
    let endpoint = format!("{}/d/local/maven/main/", server.url);
    deploy_maven_artifacts(&endpoint, &token, dir.path());
    let project = dir.path().join("locks");
    fs_err::create_dir_all(&project).unwrap();
    fs_err::write(
        project.join("dependencies.txt"),
        format!("# what the consumer needs\n{MAVEN_GROUP}:util:2.0\n{MAVEN_GROUP}:core:1.0@jar\n"),
    )
    .unwrap();
    fs_err::write(
        project.join("gradle.lockfile"),
        format!("# This is a Gradle generated file for dependency locking.\n# Manual edits can break the build and are not advised.\n# This file is expected to be part of source control.\n{MAVEN_GROUP}:core:1.0=compileClasspath,runtimeClasspath\n{MAVEN_GROUP}:util:2.0=compileClasspath,runtimeClasspath\nempty=annotationProcessor\n"),
    )
    .unwrap();
    // Coordinates into one fresh local repository (files recorded as locally installed),
    // the Gradle lockfile into another (recorded for the repository id `lading`).
    let from_list = dir.path().join("m2-list");
    let from_gradle = dir.path().join("m2-gradle");
    for (lockfile, local, id) in [
        ("dependencies.txt", &from_list, ""),
        ("gradle.lockfile", &from_gradle, "lading"),
    ] {
        let mut command = lading(&home, &project);
        command
            .args(["restore", "--json", "--lockfile", lockfile, "--maven-repo"])
            .arg(local)
            .args(["--maven-repository-id", id]);
        codeartifact_flags(&mut command, &server);
        let output = support::run_ok(&mut command);
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["ecosystems"][0]["ecosystem"], "maven", "{report}");
        assert_eq!(report["ecosystems"][0]["packages"], 2, "{report}");
        for file in [
            "parent/1.0/parent-1.0.pom",
            "bom/1.0/bom-1.0.pom",
            "core/1.0/core-1.0.jar",
            "util/2.0/util-2.0.jar",
            "util/2.0/_remote.repositories",
        ] {
            assert!(
                local.join("com/acme/restore").join(file).is_file(),
                "{file} missing from {}",
                local.display()
            );
        }
    }
    // A second restore into an empty local repository comes from the store: the `.sha1`
    // sidecars were remembered once their files verified, so not one request.
    let second = dir.path().join("m2-second");
    let mut command = lading(&home, &project);
    command
        .args([
            "restore",
            "--json",
            "--lockfile",
            "dependencies.txt",
            "--maven-repo",
        ])
        .arg(&second);
    codeartifact_flags(&mut command, &server);
    let report: serde_json::Value =
        serde_json::from_slice(&support::run_ok(&mut command).stdout).unwrap();
    assert_eq!(report["ecosystems"][0]["downloaded"], 0, "{report}");
    assert!(
        second
            .join("com/acme/restore/util/2.0/util-2.0.jar")
            .is_file()
    );
    drop(server);
    for local in [&from_list, &from_gradle] {
        let work = local.with_extension("work");
        fs_err::create_dir_all(&work).unwrap();
        let (settings, consumer) = maven_consumer(&work, &maven_repo);
        support::run_ok(&mut mvn_offline(&mvn, &home, &settings, &consumer, local));
        assert!(consumer.join("target/classes/app/Main.class").is_file());
    }
    // Files recorded for `lading` are offered only to builds that declare a repository
    // `lading` (Maven Resolver's enhanced local repository): without it, mvn -o refuses.
    let work = dir.path().join("undeclared");
    fs_err::create_dir_all(&work).unwrap();
    let (settings, consumer) = maven_consumer(&work, &maven_repo);
    let text = fs_err::read_to_string(&settings).unwrap();
    let without = text.replace(
        "<repository><id>lading</id><url>http://127.0.0.1:9/unreachable/</url></repository>",
        "",
    );
    assert_ne!(text, without);
    fs_err::write(&settings, without).unwrap();
    let output = support::run(&mut mvn_offline(
        &mvn,
        &home,
        &settings,
        &consumer,
        &from_gradle,
    ));
    assert!(!output.status.success(), "{}", support::describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout)
            .contains("Could not find artifact com.acme.restore:util:jar:2.0"),
        "{}",
        support::describe(&output)
    );
}

// ---------------------------------------------------------------------------------------
// Cargo

/// A `.crate` cargo itself downloaded (lading's own build fetched these), as (name,
/// version, bytes): the newest of `name` in `$CARGO_HOME/registry/cache`.
fn cached_crate(cargo_home: &Path, name: &str) -> Option<(String, Vec<u8>)> {
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for registry in fs_err::read_dir(cargo_home.join("registry/cache")).ok()? {
        for entry in fs_err::read_dir(registry.ok()?.path()).ok()? {
            let path = entry.ok()?.path();
            let file = path.file_name()?.to_string_lossy().into_owned();
            let Some(version) = file
                .strip_prefix(&format!("{name}-"))
                .and_then(|rest| rest.strip_suffix(".crate"))
            else {
                continue;
            };
            if version
                .chars()
                .next()
                .is_some_and(|first| first.is_ascii_digit())
            {
                found.push((version.to_owned(), path));
            }
        }
    }
    found.sort();
    let (version, path) = found.pop()?;
    Some((version, fs_err::read(path).ok()?))
}

#[test]
fn cargo_lock_restores_into_a_vendor_directory_that_cargo_builds_offline_from_and_a_warm_restore_asks_nothing()
 {
    let cargo = require_tool!(support::find_tool("LADING_TEST_CARGO", None, Some("cargo")));
    let nginx_binary = require_tool!(Nginx::find());
    let real_home = std::env::var_os("HOME").map(PathBuf::from).unwrap();
    let cargo_home =
        std::env::var_os("CARGO_HOME").map_or_else(|| real_home.join(".cargo"), PathBuf::from);
    let rustup_home =
        std::env::var_os("RUSTUP_HOME").map_or_else(|| real_home.join(".rustup"), PathBuf::from);
    let itoa = require_tool!(cached_crate(&cargo_home, "itoa"));
    let cfg_if = require_tool!(cached_crate(&cargo_home, "cfg-if"));
    let dir = tempfile::tempdir().unwrap();

    // A static sparse registry on nginx holding the two crates.
    let root = dir.path().join("registry");
    fs_err::create_dir_all(&root).unwrap();
    let mut nginx = Nginx::start(&nginx_binary, &dir.path().join("nginx"), &root);
    fs_err::write(
        root.join("config.json"),
        format!(
            r#"{{"dl": "{}crates/{{crate}}/{{version}}/download"}}"#,
            nginx.url
        ),
    )
    .unwrap();
    for (name, index_path, (version, bytes)) in [
        ("itoa", "it/oa/itoa", &itoa),
        ("cfg-if", "cf/g-/cfg-if", &cfg_if),
    ] {
        let line = serde_json::json!({"name": name, "vers": version, "deps": [], "cksum": hex::encode(sha2::Sha256::digest(bytes)), "features": {}, "yanked": false});
        fs_err::create_dir_all(root.join(index_path).parent().unwrap()).unwrap();
        fs_err::write(root.join(index_path), format!("{line}\n")).unwrap();
        let download = root.join(format!("crates/{name}/{version}/download"));
        fs_err::create_dir_all(download.parent().unwrap()).unwrap();
        fs_err::write(download, bytes).unwrap();
    }

    // A project locked by real cargo against it (crates.io replaced by the registry).
    let project = dir.path().join("app");
    fs_err::create_dir_all(project.join("src")).unwrap();
    fs_err::create_dir_all(project.join(".cargo")).unwrap();
    fs_err::write(
        project.join("Cargo.toml"),
        format!(
            "[package]\nname = \"offline-app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nitoa = \"={}\"\ncfg-if = \"={}\"\n",
            itoa.0, cfg_if.0
        ),
    )
    .unwrap();
    fs_err::write(
        project.join("src/main.rs"),
        "cfg_if::cfg_if! { if #[cfg(unix)] { const OS: &str = \"unix\"; } else { const OS: &str = \"other\"; } }\nfn main() { println!(\"{} {}\", itoa::Buffer::new().format(42), OS); }\n",
    )
    .unwrap();
    fs_err::write(
        project.join(".cargo/config.toml"),
        format!("[source.crates-io]\nreplace-with = \"static\"\n\n[source.static]\nregistry = \"sparse+{}\"\n", nginx.url),
    )
    .unwrap();
    let cargo_command = |home: &str| {
        let mut command = support::clean_command(&cargo, &dir.path().join("home"));
        command
            .current_dir(&project)
            .env("CARGO_HOME", dir.path().join(home))
            .env("RUSTUP_HOME", &rustup_home)
            .env("CARGO_TARGET_DIR", dir.path().join("target"));
        command
    };
    support::run_ok(cargo_command("cargo-home-lock").arg("generate-lockfile"));
    fs_err::remove_dir_all(project.join(".cargo")).unwrap();
    let lock = fs_err::read_to_string(project.join("Cargo.lock")).unwrap();
    assert!(lock.contains("checksum = "), "{lock}");

    let home = dir.path().join("home");
    let vendor = dir.path().join("vendor");
    // Found under --dir it is only named (vendoring is opt-in); named, it is restored.
    let found =
        support::run(lading(&home, &project).args(["restore", "--registry-url", &nginx.url]));
    let stderr = String::from_utf8_lossy(&found.stderr);
    assert!(
        !found.status.success() && stderr.contains("pass `--lockfile Cargo.lock`"),
        "{stderr}"
    );
    let output = support::run_ok(
        lading(&home, &project)
            .args(["restore", "--json", "--lockfile", "Cargo.lock"])
            .args(["--registry-url", &nginx.url, "--cargo-vendor"])
            .arg(&vendor),
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ecosystems"][0]["ecosystem"], "cargo", "{report}");
    assert_eq!(report["ecosystems"][0]["packages"], 2, "{report}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cargo build --offline --config"),
        "{stderr}"
    );

    // Again, with the URL as cargo writes it in `.cargo/config.toml` (`sparse+http://...`),
    // into a fresh vendor directory: everything comes from lading's store, so nginx answers
    // no request at all (not even `config.json`).
    let requests = nginx.requests().len();
    assert!(requests > 0, "the access log records requests");
    let warm = dir.path().join("vendor-warm");
    let sparse = format!("sparse+{}", nginx.url);
    let output = support::run_ok(
        lading(&home, &project)
            .args(["restore", "--json", "--lockfile", "Cargo.lock"])
            .args(["--registry-url", &sparse, "--cargo-vendor"])
            .arg(&warm),
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ecosystems"][0]["packages"], 2, "{report}");
    assert_eq!(
        nginx.requests()[requests..],
        [] as [String; 0],
        "the warm restore made requests"
    );
    for (name, (version, _)) in [("itoa", &itoa), ("cfg-if", &cfg_if)] {
        assert_eq!(
            fs_err::read_to_string(vendor.join(format!("{name}-{version}/Cargo.toml"))).unwrap(),
            fs_err::read_to_string(warm.join(format!("{name}-{version}/Cargo.toml"))).unwrap()
        );
    }

    // The registry goes away; a fresh CARGO_HOME builds from the vendor directory alone.
    nginx.stop();
    let built = support::run_ok(
        cargo_command("cargo-home-build")
            .args(["run", "--frozen", "--quiet", "--config"])
            .arg("source.crates-io.replace-with='lading-vendor'")
            .arg("--config")
            .arg(format!(
                "source.lading-vendor.directory='{}'",
                vendor.display()
            )),
    );
    assert_eq!(String::from_utf8_lossy(&built.stdout).trim(), "42 unix");
}
