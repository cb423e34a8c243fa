//! Upstream repositories and external connections for PyPI, Maven and NuGet: real
//! pypiserver behind `pip`, real nginx serving a Maven repository behind `mvn`, and
//! repository upstreams within the domain for NuGet.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::require_tool;
use crate::serve_upstream::get;
use crate::support::peers::{Nginx, PypiServer, StaticServer};
use crate::support::{self, LadingServer, ServerSpec};

fn set_upstream(server: &LadingServer, home: &Path, repository: &str, upstream: &str) {
    server.aws_json_on(
        home,
        repository,
        &[
            "update-repository",
            "--upstreams",
            &format!("repositoryName={upstream}"),
        ],
    );
}

/// `list-package-versions` (`Null` when the package does not exist).
pub(crate) fn versions(
    server: &LadingServer,
    home: &Path,
    repository: &str,
    format: &str,
    namespace: Option<&str>,
    package: &str,
) -> serde_json::Value {
    let aws = support::aws().expect("aws");
    let mut command = support::clean_command(&aws, home);
    command.args([
        "codeartifact",
        "list-package-versions",
        "--domain",
        "local",
        "--repository",
        repository,
        "--format",
        format,
        "--package",
        package,
        "--endpoint-url",
        &server.url,
        "--output",
        "json",
    ]);
    if let Some(namespace) = namespace {
        command.args(["--namespace", namespace]);
    }
    for (key, value) in server.aws_env() {
        command.env(key, value);
    }
    let output = support::run(&mut command);
    if output.status.success() {
        serde_json::from_slice(&output.stdout).unwrap()
    } else {
        serde_json::Value::Null
    }
}

/// A download through `main` or `team` that the external connection's content fails:
/// 502 naming `why`, and no version of the package in either repository.
#[expect(
    clippy::too_many_arguments,
    reason = "one call per refused package reads plainly"
)]
fn assert_refused_and_not_stored(
    server: &LadingServer,
    home: &Path,
    url: &str,
    token: &str,
    why: &str,
    format: &str,
    namespace: Option<&str>,
    package: &str,
) {
    let (status, _, body) = get(url, token);
    assert_eq!(status, 502, "{body}");
    assert!(
        body.contains(why) && body.contains("nothing was stored"),
        "{body}"
    );
    for repository in ["main", "team"] {
        let listed = versions(server, home, repository, format, namespace, package);
        assert!(
            listed.is_null() || listed["versions"].as_array().is_some_and(Vec::is_empty),
            "{repository}: {listed}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// PyPI

/// A wheel of `name` written by `tests/peers/pypi_wheel.py`.
fn wheel(python: &Path, out: &Path, name: &str, module: &str, value: &str) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/pypi_wheel.py");
    fs_err::create_dir_all(out).unwrap();
    let mut command = support::clean_command(python, out);
    command
        .arg(script)
        .arg(out)
        .args([name, "1.0.0", ">=3.8", module, value]);
    let output = support::run_ok(&mut command);
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

/// `pip install` in a fresh venv with `index` as the only index.
fn pip_install(root: &Path, name: &str, index: &str, requirement: &str) -> (PathBuf, Output) {
    let python = support::python().expect("python");
    let venv = root.join(format!("{name}-venv"));
    let mut command = support::clean_command(&python, root);
    command.args(["-m", "venv"]).arg(&venv);
    support::run_ok(&mut command);
    let mut command = support::clean_command(venv.join("bin/pip"), root);
    command
        .args([
            "install",
            "--no-cache-dir",
            "--no-input",
            "--disable-pip-version-check",
        ])
        .arg(requirement)
        .env("PIP_INDEX_URL", index);
    (venv.clone(), support::run(&mut command))
}

#[test]
fn pip_installs_through_a_pypiserver_external_connection_and_from_cache_when_it_is_down() {
    require_tool!(support::aws());
    let python = require_tool!(support::python());
    let twine = require_tool!(support::find_tool(
        "LADING_TEST_TWINE",
        Some("venv/bin/twine"),
        None
    ));
    let binary = require_tool!(PypiServer::find());
    let dir = tempfile::tempdir().unwrap();
    let mut pypiserver = PypiServer::start(&binary, &python, &dir.path().join("pypiserver"));
    let dist = dir.path().join("dist");
    let only = wheel(
        &python,
        &dist,
        "Only.Upstream",
        "only_upstream",
        "from pypiserver",
    );
    let blocked = wheel(&python, &dist, "blocked-pkg", "blocked_pkg", "never");
    let mut command = support::clean_command(&twine, dir.path());
    command
        .args([
            "upload",
            "--non-interactive",
            "--repository-url",
            &pypiserver.upload_url,
        ])
        .arg(&only)
        .arg(&blocked)
        .env("TWINE_USERNAME", &pypiserver.username)
        .env("TWINE_PASSWORD", &pypiserver.password);
    support::run_ok(&mut command);

    let config = format!(
        "external_connections:\n  - name: pypiserver\n    format: pypi\n    url: {}\n    username: {}\n    password_env: PYPISERVER_PASSWORD\ndomains:\n  - name: local\n    repositories: [main, team]\n",
        pypiserver.simple_url, pypiserver.username
    );
    let server = LadingServer::start(
        &dir.path().join("data"),
        ServerSpec {
            config: Some(&config),
            // Revalidate on every request, so the outage below is seen at once.
            args: vec!["--metadata-ttl", "0"],
            env: vec![("PYPISERVER_PASSWORD", pypiserver.password.clone())],
            ..ServerSpec::default()
        },
    );
    server.associate(dir.path(), "main", "pypiserver");
    set_upstream(&server, dir.path(), "team", "main");
    server.aws_json_on(
        dir.path(),
        "team",
        &[
            "put-package-origin-configuration",
            "--format",
            "pypi",
            "--package",
            "blocked-pkg",
            "--restrictions",
            "publish=ALLOW,upstream=BLOCK",
        ],
    );
    let token = server.admin_token(dir.path());
    let host = server.url.trim_start_matches("http://");
    let index = format!("http://aws:{token}@{host}/d/local/pypi/team/simple/");

    // A consumer of `team` (upstream: main, which owns the connection) installs a project
    // only pypiserver has.
    let (venv, installed) = pip_install(dir.path(), "first", &index, "only-upstream==1.0.0");
    assert!(
        installed.status.success(),
        "{}",
        support::describe(&installed)
    );
    let mut command = support::clean_command(venv.join("bin/python"), dir.path());
    command.args(["-c", "import only_upstream; print(only_upstream.VALUE)"]);
    assert_eq!(
        String::from_utf8_lossy(&support::run_ok(&mut command).stdout).trim(),
        "from pypiserver"
    );
    for repository in ["main", "team"] {
        let listed = versions(
            &server,
            dir.path(),
            repository,
            "pypi",
            None,
            "only-upstream",
        );
        assert_eq!(
            listed["versions"][0]["version"], "1.0.0",
            "{repository}: {listed}"
        );
        assert_eq!(
            listed["versions"][0]["origin"]["originType"], "EXTERNAL",
            "{repository}: {listed}"
        );
    }
    // The ingested project takes CodeArtifact's ingest defaults (publish BLOCK).
    let described = server.aws_json_on(
        dir.path(),
        "main",
        &[
            "describe-package",
            "--format",
            "pypi",
            "--package",
            "only-upstream",
        ],
    );
    assert_eq!(
        described["package"]["originConfiguration"]["restrictions"],
        serde_json::json!({"publish": "BLOCK", "upstream": "ALLOW"})
    );

    // upstream=BLOCK: a clear refusal, nothing fetched.
    let (_, refused) = pip_install(dir.path(), "blocked", &index, "blocked-pkg");
    assert!(!refused.status.success(), "{}", support::describe(&refused));
    let (status, _, body) = get(
        &format!("{}/d/local/pypi/team/simple/blocked-pkg/", server.url),
        &token,
    );
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("upstream=BLOCK"), "{body}");
    assert_eq!(
        versions(&server, dir.path(), "main", "pypi", None, "blocked-pkg"),
        serde_json::Value::Null
    );

    // pypiserver goes down: a fresh install still works from lading, and the page says so.
    pypiserver.stop();
    let (venv, installed) = pip_install(dir.path(), "offline", &index, "only-upstream==1.0.0");
    assert!(
        installed.status.success(),
        "{}",
        support::describe(&installed)
    );
    assert!(
        std::fs::read_dir(venv.join("lib"))
            .unwrap()
            .filter_map(Result::ok)
            .any(|python| python.path().join("site-packages/only_upstream").is_dir())
    );
    let (status, note, body) = get(
        &format!("{}/d/local/pypi/team/simple/only-upstream/", server.url),
        &token,
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("#sha256="), "{body}");
    assert!(
        note.as_deref()
            .is_some_and(|note| note.contains("pypiserver unavailable")),
        "the response reports the outage: {note:?}"
    );
}

#[test]
fn pypi_files_without_a_matching_sha256_upstream_are_refused_and_nothing_is_stored() {
    require_tool!(support::aws());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("liar");
    let project = root.join("simple/liar-pkg");
    fs_err::create_dir_all(&project).unwrap();
    fs_err::write(
        root.join("liar_pkg-1.0.0-py3-none-any.whl"),
        b"tampered bytes",
    )
    .unwrap();
    fs_err::write(root.join("liar_pkg-1.0.0.tar.gz"), b"no digest at all").unwrap();
    let claimed = lading::server::store::Digests::of(b"the real thing").sha256;
    fs_err::write(
        project.join("index.html"),
        format!(
            "<!DOCTYPE html><html><body>\n<a href=\"../../liar_pkg-1.0.0-py3-none-any.whl#sha256={claimed}\">liar_pkg-1.0.0-py3-none-any.whl</a><br/>\n<a href=\"/liar_pkg-1.0.0.tar.gz\">liar_pkg-1.0.0.tar.gz</a>\n</body></html>\n"
        ),
    )
    .unwrap();
    let files = StaticServer::start(&root);
    let config = format!(
        "external_connections:\n  - name: liar\n    format: pypi\n    url: {}simple/\n",
        files.url
    );
    let (server, token) = LadingServer::start_through(
        dir.path(),
        ServerSpec {
            config: Some(&config),
            ..ServerSpec::default()
        },
        "liar",
    );
    let (status, _, page) = get(
        &format!("{}/d/local/pypi/main/simple/liar-pkg/", server.url),
        &token,
    );
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&format!("#sha256={claimed}")), "{page}");
    for (file, why) in [
        ("liar_pkg-1.0.0-py3-none-any.whl", "upstream claims"),
        ("liar_pkg-1.0.0.tar.gz", "no digest"),
    ] {
        let (status, _, body) = get(
            &format!(
                "{}/d/local/pypi/main/files/liar-pkg/1.0.0/{file}",
                server.url
            ),
            &token,
        );
        assert_eq!(status, 502, "{body}");
        assert!(
            body.contains(why) && body.contains("nothing was stored"),
            "{body}"
        );
    }
    assert_eq!(
        versions(&server, dir.path(), "main", "pypi", None, "liar-pkg"),
        serde_json::Value::Null
    );
}

// ---------------------------------------------------------------------------------------
// Maven

const UPSTREAM_GROUP: &str = "com.example.upstream";
const UPSTREAM_GROUP_PATH: &str = "com/example/upstream";

/// The smallest valid jar: an empty zip archive (end-of-central-directory record only).
const EMPTY_JAR: &[u8] = b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

/// Write `artifact`'s `version` into a static Maven repository under `root`; `sidecar`
/// gives the `.sha1` body to write for the jar (`None`: no sidecar).
fn static_artifact(
    root: &Path,
    artifact: &str,
    version: &str,
    jar: &[u8],
    sidecar: Option<String>,
) {
    let directory = root.join(format!("{UPSTREAM_GROUP_PATH}/{artifact}/{version}"));
    fs_err::create_dir_all(&directory).unwrap();
    let pom = format!(
        "<project xmlns='http://maven.apache.org/POM/4.0.0'>\n  <modelVersion>4.0.0</modelVersion>\n  <groupId>{UPSTREAM_GROUP}</groupId><artifactId>{artifact}</artifactId><version>{version}</version>\n</project>\n"
    );
    let base = directory.join(format!("{artifact}-{version}"));
    fs_err::write(base.with_extension("pom"), &pom).unwrap();
    fs_err::write(
        directory.join(format!("{artifact}-{version}.pom.sha1")),
        lading::server::store::Digests::of(pom.as_bytes()).sha1,
    )
    .unwrap();
    fs_err::write(directory.join(format!("{artifact}-{version}.jar")), jar).unwrap();
    if let Some(sidecar) = sidecar {
        fs_err::write(
            directory.join(format!("{artifact}-{version}.jar.sha1")),
            sidecar,
        )
        .unwrap();
    }
}

fn mvn_settings(dir: &Path, endpoint: &str) -> Option<PathBuf> {
    let default = Path::new("/usr/share/maven-repo");
    let central = if std::env::var_os("LADING_TEST_MAVEN_REPO").is_none() && default.is_dir() {
        default.to_path_buf()
    } else {
        support::find_tool("LADING_TEST_MAVEN_REPO", None, None)?
    };
    let text = format!(
        r"<settings xmlns='http://maven.apache.org/SETTINGS/1.2.0'>
  <servers>
    <server><id>lading</id><username>aws</username><password>${{env.CODEARTIFACT_AUTH_TOKEN}}</password></server>
  </servers>
  <profiles>
    <profile>
      <id>offline-central</id>
      <repositories>
        <repository><id>central</id><url>file://{central}</url>
          <releases><checksumPolicy>ignore</checksumPolicy></releases><snapshots><enabled>false</enabled></snapshots></repository>
        <repository><id>lading</id><url>{endpoint}</url>
          <releases><checksumPolicy>fail</checksumPolicy></releases></repository>
      </repositories>
      <pluginRepositories>
        <pluginRepository><id>central</id><url>file://{central}</url>
          <releases><checksumPolicy>ignore</checksumPolicy></releases><snapshots><enabled>false</enabled></snapshots></pluginRepository>
      </pluginRepositories>
    </profile>
  </profiles>
  <activeProfiles><activeProfile>offline-central</activeProfile></activeProfiles>
</settings>
",
        central = central.display()
    );
    let path = dir.join("settings.xml");
    fs_err::write(&path, text).unwrap();
    Some(path)
}

/// `mvn compile` of a project depending on `only-upstream:1.0`, with a fresh local repository.
fn mvn_resolve(mvn: &Path, dir: &Path, settings: &Path, token: &str, run: &str) -> Output {
    let project = dir.join(format!("consumer-{run}"));
    fs_err::create_dir_all(&project).unwrap();
    fs_err::write(
        project.join("pom.xml"),
        format!(
            "<project xmlns='http://maven.apache.org/POM/4.0.0'>
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.example.apps</groupId><artifactId>consumer</artifactId><version>1.0</version>
  <properties><maven.compiler.source>17</maven.compiler.source><maven.compiler.target>17</maven.compiler.target></properties>
  <dependencies><dependency><groupId>{UPSTREAM_GROUP}</groupId><artifactId>only-upstream</artifactId><version>1.0</version></dependency></dependencies>
</project>
"
        ),
    )
    .unwrap();
    let local = dir.join(format!("m2-{run}"));
    let mut command = support::clean_command(mvn, dir);
    command
        .current_dir(&project)
        .args(["-B", "-q", "-s"])
        .arg(settings)
        .arg(format!("-Dmaven.repo.local={}", local.display()))
        .arg("compile")
        .env("CODEARTIFACT_AUTH_TOKEN", token)
        .env("MAVEN_OPTS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC");
    let output = support::run(&mut command);
    if output.status.success() {
        let jar = local.join(format!(
            "{UPSTREAM_GROUP_PATH}/only-upstream/1.0/only-upstream-1.0.jar"
        ));
        assert_eq!(fs_err::read(&jar).unwrap(), EMPTY_JAR, "{}", jar.display());
    }
    output
}

#[test]
fn mvn_resolves_through_an_nginx_external_connection_and_from_cache_when_it_is_down() {
    require_tool!(support::aws());
    let mvn = require_tool!(support::find_tool("LADING_TEST_MVN", None, Some("mvn")));
    let nginx_binary = require_tool!(Nginx::find());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("upstream-repo");
    static_artifact(
        &root,
        "only-upstream",
        "1.0",
        EMPTY_JAR,
        Some(lading::server::store::Digests::of(EMPTY_JAR).sha1),
    );
    // Listed upstream but not yet fetched by anyone: shows in the merged metadata.
    fs_err::write(
        root.join(format!("{UPSTREAM_GROUP_PATH}/only-upstream/maven-metadata.xml")),
        format!("<metadata><groupId>{UPSTREAM_GROUP}</groupId><artifactId>only-upstream</artifactId><versioning><release>2.0</release><versions><version>1.0</version><version>2.0</version></versions></versioning></metadata>\n"),
    )
    .unwrap();
    let claimed = lading::server::store::Digests::of(b"the real jar").sha1;
    static_artifact(
        &root,
        "tampered",
        "1.0",
        b"tampered jar",
        Some(format!("{claimed}  tampered-1.0.jar")),
    );
    static_artifact(&root, "unverifiable", "1.0", EMPTY_JAR, None);
    let mut nginx = Nginx::start(&nginx_binary, &dir.path().join("nginx"), &root);

    let config = format!(
        "external_connections:\n  - name: nginx-maven\n    format: maven\n    url: {}\ndomains:\n  - name: local\n    repositories: [main, team]\n",
        nginx.url
    );
    let (server, token) = LadingServer::start_through(
        dir.path(),
        ServerSpec {
            config: Some(&config),
            // Revalidate on every request, so the outage below is seen at once.
            args: vec!["--metadata-ttl", "0"],
            ..ServerSpec::default()
        },
        "nginx-maven",
    );
    set_upstream(&server, dir.path(), "team", "main");
    let endpoint = format!("{}/d/local/maven/team/", server.url);
    let settings = require_tool!(mvn_settings(dir.path(), &endpoint));

    let resolved = mvn_resolve(&mvn, dir.path(), &settings, &token, "first");
    assert!(
        resolved.status.success(),
        "{}",
        support::describe(&resolved)
    );
    for repository in ["main", "team"] {
        let listed = versions(
            &server,
            dir.path(),
            repository,
            "maven",
            Some(UPSTREAM_GROUP),
            "only-upstream",
        );
        assert_eq!(
            listed["versions"][0]["version"], "1.0",
            "{repository}: {listed}"
        );
        assert_eq!(
            listed["versions"][0]["origin"]["originType"], "EXTERNAL",
            "{repository}: {listed}"
        );
    }
    let metadata_url = format!("{endpoint}{UPSTREAM_GROUP_PATH}/only-upstream/maven-metadata.xml");
    let (status, _, body) = get(&metadata_url, &token);
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("<version>1.0</version>") && body.contains("<version>2.0</version>"),
        "{body}"
    );

    // A jar whose bytes do not match the upstream's .sha1, and one without any sidecar.
    for (artifact, why) in [
        ("tampered", "upstream claims"),
        ("unverifiable", "no checksum sidecar"),
    ] {
        assert_refused_and_not_stored(
            &server,
            dir.path(),
            &format!("{endpoint}{UPSTREAM_GROUP_PATH}/{artifact}/1.0/{artifact}-1.0.jar"),
            &token,
            why,
            "maven",
            Some(UPSTREAM_GROUP),
            artifact,
        );
    }

    // nginx goes down: a fresh local repository still resolves, and metadata says so.
    nginx.stop();
    let resolved = mvn_resolve(&mvn, dir.path(), &settings, &token, "offline");
    assert!(
        resolved.status.success(),
        "{}",
        support::describe(&resolved)
    );
    let (status, note, body) = get(&metadata_url, &token);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<version>2.0</version>"), "{body}");
    assert!(
        note.as_deref()
            .is_some_and(|note| note.contains("nginx-maven unavailable")),
        "the response reports the outage: {note:?}"
    );
}

// ---------------------------------------------------------------------------------------
// NuGet

#[test]
fn nuget_exe_installs_through_a_downstream_repository_which_retains_the_packages() {
    use crate::serve_nuget::{NuGetUser, mono, nuget_exe};
    require_tool!(support::aws());
    require_tool!(mono());
    require_tool!(nuget_exe());
    let (dir, server) = support::serve(ServerSpec::with_config(
        "domains:\n  - name: local\n    repositories: [main, team]\n",
    ));
    set_upstream(&server, dir.path(), "team", "main");
    let token = server.admin_token(dir.path());
    let main_source = format!("{}/d/local/nuget/main/v3/index.json", server.url);
    let team_source = format!("{}/d/local/nuget/team/v3/index.json", server.url);

    let publisher = NuGetUser::new(dir.path(), "publisher");
    publisher.add_source(&main_source, &token);
    let package_b = publisher.pack("Lading.Up.B", "2.0", "");
    let package_a = publisher.pack(
        "Lading.Up.A",
        "1.0.0",
        r#"<dependency id="Lading.Up.B" version="2.0" />"#,
    );
    let package_c = publisher.pack("Lading.Up.C", "1.0.0", "");
    for package in [&package_b, &package_a, &package_c] {
        let pushed = publisher.push(package, &main_source, &token);
        assert!(pushed.status.success(), "{}", support::describe(&pushed));
    }
    server.aws_json_on(
        dir.path(),
        "team",
        &[
            "put-package-origin-configuration",
            "--format",
            "nuget",
            "--package",
            "lading.up.c",
            "--restrictions",
            "publish=ALLOW,upstream=BLOCK",
        ],
    );

    // A consumer of `team` (nothing pushed there) searches and installs from `main`.
    let consumer = NuGetUser::new(dir.path(), "consumer");
    consumer.add_source(&team_source, &token);
    let found = consumer.nuget_ok(&["search", "Lading.Up", "-Source", "local/main"]);
    assert!(
        found.contains("> Lading.Up.A | 1.0.0") && found.contains("> Lading.Up.B | 2.0.0"),
        "{found}"
    );
    assert!(
        !found.contains("Lading.Up.C"),
        "upstream=BLOCK hides C: {found}"
    );
    let installed = consumer.home.join("packages");
    let output = consumer.nuget_ok(&[
        "install",
        "Lading.Up.A",
        "-OutputDirectory",
        &installed.display().to_string(),
        "-ConfigFile",
        &consumer.config(),
    ]);
    assert!(
        output.contains("Successfully installed 'Lading.Up.A 1.0.0'"),
        "{output}"
    );
    assert_eq!(
        fs_err::read(installed.join("Lading.Up.B.2.0.0/Lading.Up.B.2.0.0.nupkg")).unwrap(),
        fs_err::read(&package_b).unwrap()
    );
    // Both are now retained in `team`, keeping the origin they had in `main`.
    for package in ["lading.up.a", "lading.up.b"] {
        let listed = versions(&server, dir.path(), "team", "nuget", None, package);
        assert_eq!(
            listed["versions"].as_array().map(Vec::len),
            Some(1),
            "{package}: {listed}"
        );
        assert_eq!(
            listed["versions"][0]["origin"]["originType"], "INTERNAL",
            "{listed}"
        );
    }
    // upstream=BLOCK: C is not served through `team`, and nothing was retained.
    let blocked = consumer.nuget(&[
        "install",
        "Lading.Up.C",
        "-OutputDirectory",
        &installed.display().to_string(),
        "-ConfigFile",
        &consumer.config(),
    ]);
    assert!(!blocked.status.success(), "{}", support::describe(&blocked));
    let (status, _, body) = get(
        &format!(
            "{}/d/local/nuget/team/v3/registration/lading.up.c/index.json",
            server.url
        ),
        &token,
    );
    assert_eq!(status, 404, "{body}");
    assert!(
        versions(&server, dir.path(), "team", "nuget", None, "lading.up.c")["versions"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );
}

/// A registration leaf as a static NuGet v3 feed (sleet-style files on a web server) writes
/// it: `hash` is the base64 SHA-512 inlined in the catalog entry, `catalog` the catalog
/// leaf the entry links to instead.
fn static_leaf(
    feed: &str,
    id: &str,
    version: &str,
    dependencies: &[(&str, &str)],
    hash: Option<&str>,
    catalog: Option<&str>,
) -> serde_json::Value {
    let lower = id.to_lowercase();
    let mut entry = serde_json::json!({
        "@id": catalog.map_or_else(|| format!("{feed}reg/{lower}/{version}.json#catalogentry"), str::to_owned),
        "id": id,
        "version": version,
        "authors": "Upstream Authors",
        "description": format!("{id} from the static feed"),
        "listed": true,
        "dependencyGroups": [{
            "targetFramework": "",
            "dependencies": dependencies.iter().map(|(id, range)| serde_json::json!({"id": id, "range": range})).collect::<Vec<_>>(),
        }],
    });
    if let Some(hash) = hash {
        entry["packageHash"] = serde_json::json!(hash);
        entry["packageHashAlgorithm"] = serde_json::json!("SHA512");
    }
    serde_json::json!({
        "@id": format!("{feed}reg/{lower}/{version}.json"),
        "packageContent": format!("{feed}flat/{lower}/{version}/{lower}.{version}.nupkg"),
        "catalogEntry": entry,
    })
}

/// Write one package into the static feed under `root`: flat container files and a
/// registration index with one inlined page (gzip-compressed when `gzip`, as nuget.org
/// stores its registration hives).
fn static_package(root: &Path, feed: &str, nupkg: &[u8], leaf: &serde_json::Value, gzip: bool) {
    let id = leaf["catalogEntry"]["id"].as_str().unwrap().to_lowercase();
    let version = leaf["catalogEntry"]["version"].as_str().unwrap();
    let flat = root.join("flat").join(&id);
    fs_err::create_dir_all(flat.join(version)).unwrap();
    fs_err::write(
        flat.join("index.json"),
        serde_json::json!({ "versions": [version] }).to_string(),
    )
    .unwrap();
    fs_err::write(flat.join(format!("{version}/{id}.{version}.nupkg")), nupkg).unwrap();
    let registration = serde_json::json!({
        "@id": format!("{feed}reg/{id}/index.json"),
        "count": 1,
        "items": [{
            "@id": format!("{feed}reg/{id}/index.json#page/{version}/{version}"),
            "count": 1,
            "lower": version,
            "upper": version,
            "items": [leaf],
        }],
    })
    .to_string();
    let body = if gzip {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut encoder, registration.as_bytes()).unwrap();
        encoder.finish().unwrap()
    } else {
        registration.into_bytes()
    };
    fs_err::create_dir_all(root.join("reg").join(&id)).unwrap();
    fs_err::write(root.join(format!("reg/{id}/index.json")), body).unwrap();
}

fn sha512_base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(bytes))
}

#[test]
fn nuget_exe_installs_through_a_static_v3_feed_external_connection_and_from_cache_when_it_is_down()
{
    use crate::serve_nuget::{NuGetUser, mono, nuget_exe};
    require_tool!(support::aws());
    require_tool!(mono());
    require_tool!(nuget_exe());
    let nginx_binary = require_tool!(Nginx::find());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("feed");
    fs_err::create_dir_all(&root).unwrap();
    let mut nginx = Nginx::start(&nginx_binary, &dir.path().join("nginx"), &root);
    let feed = nginx.url.clone();

    // The packages, packed by nuget.exe.
    let packer = NuGetUser::new(dir.path(), "packer");
    let lib = fs_err::read(packer.pack("Lading.Ext.Lib", "1.0.0", "")).unwrap();
    let app = fs_err::read(packer.pack(
        "Lading.Ext.App",
        "2.0.0",
        r#"<dependency id="Lading.Ext.Lib" version="1.0.0" />"#,
    ))
    .unwrap();
    let evil = fs_err::read(packer.pack("Lading.Ext.Evil", "1.0.0", "")).unwrap();
    let unhashed = fs_err::read(packer.pack("Lading.Ext.Unhashed", "1.0.0", "")).unwrap();

    // The static feed: Lib's hash inline (and its registration gzipped), App's in the
    // catalog leaf its entry links to, Evil's hash belonging to other bytes, Unhashed none.
    fs_err::write(
        root.join("index.json"),
        serde_json::json!({"version": "3.0.0", "resources": [
            {"@id": format!("{feed}flat/"), "@type": "PackageBaseAddress/3.0.0"},
            {"@id": format!("{feed}reg/"), "@type": "RegistrationsBaseUrl/3.6.0"},
        ]})
        .to_string(),
    )
    .unwrap();
    let leaf = static_leaf(
        &feed,
        "Lading.Ext.Lib",
        "1.0.0",
        &[],
        Some(&sha512_base64(&lib)),
        None,
    );
    static_package(&root, &feed, &lib, &leaf, true);
    fs_err::create_dir_all(root.join("catalog")).unwrap();
    fs_err::write(
        root.join("catalog/app.json"),
        serde_json::json!({"packageHash": sha512_base64(&app), "packageHashAlgorithm": "SHA512"})
            .to_string(),
    )
    .unwrap();
    let leaf = static_leaf(
        &feed,
        "Lading.Ext.App",
        "2.0.0",
        &[("Lading.Ext.Lib", "[1.0.0, )")],
        None,
        Some(&format!("{feed}catalog/app.json")),
    );
    static_package(&root, &feed, &app, &leaf, false);
    let leaf = static_leaf(
        &feed,
        "Lading.Ext.Evil",
        "1.0.0",
        &[],
        Some(&sha512_base64(&lib)),
        None,
    );
    static_package(&root, &feed, &evil, &leaf, false);
    let leaf = static_leaf(&feed, "Lading.Ext.Unhashed", "1.0.0", &[], None, None);
    static_package(&root, &feed, &unhashed, &leaf, false);

    let config = format!(
        "external_connections:\n  - name: static-nuget\n    format: nuget\n    url: {feed}index.json\ndomains:\n  - name: local\n    repositories: [main, team]\n"
    );
    let (server, token) = LadingServer::start_through(
        dir.path(),
        ServerSpec {
            config: Some(&config),
            // Revalidate on every request, so the outage below is seen at once.
            args: vec!["--metadata-ttl", "0"],
            ..ServerSpec::default()
        },
        "static-nuget",
    );
    set_upstream(&server, dir.path(), "team", "main");
    let team = format!("{}/d/local/nuget/team/", server.url);
    let install = |user: &str, out: &str| {
        let consumer = NuGetUser::new(dir.path(), user);
        consumer.add_source(&format!("{team}v3/index.json"), &token);
        let installed = consumer.home.join(out);
        let output = consumer.nuget_ok(&[
            "install",
            "Lading.Ext.App",
            "-OutputDirectory",
            &installed.display().to_string(),
            "-ConfigFile",
            &consumer.config(),
        ]);
        assert!(
            output.contains("Successfully installed 'Lading.Ext.App 2.0.0'"),
            "{output}"
        );
        assert_eq!(
            fs_err::read(installed.join("Lading.Ext.Lib.1.0.0/Lading.Ext.Lib.1.0.0.nupkg"))
                .unwrap(),
            lib
        );
        assert_eq!(
            fs_err::read(installed.join("Lading.Ext.App.2.0.0/Lading.Ext.App.2.0.0.nupkg"))
                .unwrap(),
            app
        );
    };
    install("consumer", "packages");
    for repository in ["main", "team"] {
        for package in ["lading.ext.lib", "lading.ext.app"] {
            let listed = versions(&server, dir.path(), repository, "nuget", None, package);
            assert_eq!(
                listed["versions"][0]["origin"]["originType"], "EXTERNAL",
                "{repository} {package}: {listed}"
            );
        }
    }

    // Bytes that do not match the feed's hash, and a package the feed gives no hash for.
    for (package, why) in [
        ("lading.ext.evil", "its sha512 is"),
        ("lading.ext.unhashed", "no SHA-512"),
    ] {
        assert_refused_and_not_stored(
            &server,
            dir.path(),
            &format!("{team}v3/package/{package}/1.0.0/{package}.1.0.0.nupkg"),
            &token,
            why,
            "nuget",
            None,
            package,
        );
    }

    // The feed goes down: another user (no NuGet caches) still installs, and the
    // registration says where it came from.
    nginx.stop();
    install("offline-consumer", "packages");
    let (status, note, body) = get(
        &format!("{team}v3/registration/lading.ext.app/index.json"),
        &token,
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"packageHash\""), "{body}");
    assert!(
        note.as_deref()
            .is_some_and(|note| note.contains("static-nuget unavailable")),
        "the response reports the outage: {note:?}"
    );
}
