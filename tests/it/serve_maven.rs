//! The Maven data plane of `lading serve`, driven by the real mvn 3.8.7 (deploy of releases
//! and SNAPSHOTs, resolution from a fresh local repository), the real AWS CLI (token,
//! endpoint, ListPackageVersions / ListPackageVersionAssets), and raw HTTP for what mvn
//! never sends (bad checksums, conflicting re-uploads, anonymous reads).

use std::path::{Path, PathBuf};

use lading::server::store::Digests;

use crate::require_tool;
use crate::support::{self, LadingServer, ServerSpec};

pub(crate) const GROUP: &str = "com.acme.tools";
const GROUP_PATH: &str = "com/acme/tools";

pub(crate) fn mvn() -> Option<PathBuf> {
    support::find_tool("LADING_TEST_MVN", None, Some("mvn"))
}

/// Debian's plugin repository, used as `central` (Maven Central is unreachable).
pub(crate) fn maven_repo() -> Option<PathBuf> {
    let default = Path::new("/usr/share/maven-repo");
    if std::env::var_os("LADING_TEST_MAVEN_REPO").is_none() && default.is_dir() {
        return Some(default.to_path_buf());
    }
    support::find_tool("LADING_TEST_MAVEN_REPO", None, None)
}

/// `aws codeartifact get-authorization-token` with the given credentials file.
pub(crate) fn token(server: &LadingServer, home: &Path, credentials: &Path) -> String {
    let aws = support::aws().expect("aws");
    let mut command = support::clean_command(&aws, home);
    command
        .args([
            "codeartifact",
            "get-authorization-token",
            "--domain",
            "local",
            "--domain-owner",
            "000000000000",
            "--query",
            "authorizationToken",
            "--output",
            "text",
        ])
        .args(["--endpoint-url", &server.url, "--region", "us-east-1"])
        .env("AWS_SHARED_CREDENTIALS_FILE", credentials)
        .env("AWS_CONFIG_FILE", "/dev/null");
    let output = support::run_ok(&mut command);
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// The repository endpoint, as `aws codeartifact get-repository-endpoint --format maven`
/// returns it.
fn endpoint(server: &LadingServer, home: &Path) -> String {
    let endpoint = server.repository_endpoint(home, "maven");
    assert_eq!(endpoint, format!("{}/d/local/maven/main/", server.url));
    endpoint
}

/// settings.xml as TESTBED.md describes it: Debian's repository as `central` for plugins
/// and dependencies (checksums ignored: it has none), the lading repository, its server.
fn settings(dir: &Path, maven_repo: &Path, endpoint: &str) -> PathBuf {
    let central = format!("file://{}", maven_repo.display());
    let text = format!(
        r"<settings xmlns='http://maven.apache.org/SETTINGS/1.2.0'>
  <servers>
    <server><id>lading</id><username>aws</username><password>${{env.CODEARTIFACT_AUTH_TOKEN}}</password></server>
  </servers>
  <profiles>
    <profile>
      <id>offline-central</id>
      <repositories>
        <repository><id>central</id><url>{central}</url>
          <releases><checksumPolicy>ignore</checksumPolicy></releases><snapshots><enabled>false</enabled></snapshots></repository>
        <repository><id>lading</id><url>{endpoint}</url>
          <releases><enabled>true</enabled></releases><snapshots><enabled>true</enabled></snapshots></repository>
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
    );
    let path = dir.join("settings.xml");
    fs_err::write(&path, text).unwrap();
    path
}

const PROPERTIES: &str = "<properties><maven.compiler.source>17</maven.compiler.source><maven.compiler.target>17</maven.compiler.target><project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>";

/// The library project at `version`; `greeting` goes into the class so builds differ.
pub(crate) fn library(dir: &Path, endpoint: &str, version: &str, greeting: &str) -> PathBuf {
    let root = dir.join("greeter");
    let source = root.join("src/main/java/com/acme");
    fs_err::create_dir_all(&source).unwrap();
    fs_err::write(
        root.join("pom.xml"),
        format!(
            "<project xmlns='http://maven.apache.org/POM/4.0.0'>
  <modelVersion>4.0.0</modelVersion>
  <groupId>{GROUP}</groupId><artifactId>greeter</artifactId><version>{version}</version>
  {PROPERTIES}
  <distributionManagement>
    <repository><id>lading</id><url>{endpoint}</url></repository>
    <snapshotRepository><id>lading</id><url>{endpoint}</url></snapshotRepository>
  </distributionManagement>
</project>
"
        ),
    )
    .unwrap();
    fs_err::write(
        source.join("Greeter.java"),
        format!(
            "package com.acme;\npublic final class Greeter {{ public static String greet() {{ return \"{greeting}\"; }} }}\n"
        ),
    )
    .unwrap();
    root
}

/// A reactor of consumers, one module per `greeter` version, each compiling against it
/// (one mvn run resolves them all).
pub(crate) fn consumers(dir: &Path, versions: &[&str]) -> PathBuf {
    let root = dir.join("apps");
    let modules = (0..versions.len())
        .map(|index| format!("<module>app{index}</module>"))
        .collect::<Vec<_>>()
        .concat();
    fs_err::create_dir_all(&root).unwrap();
    fs_err::write(
        root.join("pom.xml"),
        format!(
            "<project xmlns='http://maven.apache.org/POM/4.0.0'>
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.acme.apps</groupId><artifactId>apps</artifactId><version>1.0</version>
  <packaging>pom</packaging>
  <modules>{modules}</modules>
</project>
"
        ),
    )
    .unwrap();
    for (index, version) in versions.iter().enumerate() {
        let module = root.join(format!("app{index}"));
        let source = module.join("src/main/java/app");
        fs_err::create_dir_all(&source).unwrap();
        fs_err::write(
            module.join("pom.xml"),
            format!(
                "<project xmlns='http://maven.apache.org/POM/4.0.0'>
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.acme.apps</groupId><artifactId>app{index}</artifactId><version>1.0</version>
  {PROPERTIES}
  <dependencies><dependency><groupId>{GROUP}</groupId><artifactId>greeter</artifactId><version>{version}</version></dependency></dependencies>
</project>
"
            ),
        )
        .unwrap();
        fs_err::write(
            source.join("Main.java"),
            "package app;\npublic class Main { public static void main(String[] args) { System.out.println(com.acme.Greeter.greet()); } }\n",
        )
        .unwrap();
    }
    root
}

struct Maven {
    mvn: PathBuf,
    home: PathBuf,
    settings: PathBuf,
    token: String,
}

impl Maven {
    /// `mvn -B -q -s settings.xml -Dmaven.repo.local=<local> <goal>` in `project`.
    fn run(&self, project: &Path, local: &Path, goal: &str) {
        let mut command = support::clean_command(&self.mvn, &self.home);
        command
            .current_dir(project)
            .args(["-B", "-q", "-s"])
            .arg(&self.settings)
            .arg(format!("-Dmaven.repo.local={}", local.display()))
            .arg(goal)
            .env("CODEARTIFACT_AUTH_TOKEN", &self.token)
            // Short JVM runs: skipping the optimising JIT roughly halves mvn's start-up.
            .env("MAVEN_OPTS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC");
        support::run_ok(&mut command);
    }
}

struct Http {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Http {
    fn new() -> Self {
        Self {
            runtime: tokio::runtime::Runtime::new().unwrap(),
            client: reqwest::Client::new(),
        }
    }

    /// Send and return status, `WWW-Authenticate`, body.
    fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> (u16, Option<String>, Vec<u8>) {
        self.runtime.block_on(async {
            let mut request = self.client.request(method, url);
            if let Some(token) = token {
                request = request.basic_auth("aws", Some(token));
            }
            if let Some(body) = body {
                request = request.body(body);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let challenge = response
                .headers()
                .get("www-authenticate")
                .map(|value| value.to_str().unwrap().to_owned());
            (status, challenge, response.bytes().await.unwrap().to_vec())
        })
    }

    fn get(&self, url: &str, token: &str) -> (u16, String) {
        let (status, _, body) = self.send(reqwest::Method::GET, url, Some(token), None);
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    fn put(&self, url: &str, token: &str, body: &[u8]) -> u16 {
        self.send(reqwest::Method::PUT, url, Some(token), Some(body.to_vec()))
            .0
    }
}

fn tag<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    xml.split(&format!("<{name}>"))
        .skip(1)
        .filter_map(|rest| rest.split_once(&format!("</{name}>")).map(|(text, _)| text))
        .collect()
}

#[test]
fn mvn_deploys_releases_and_snapshots_that_a_fresh_consumer_resolves() {
    require_tool!(support::aws());
    let mvn = require_tool!(mvn());
    let maven_repo = require_tool!(maven_repo());
    let dir = tempfile::tempdir().unwrap();
    let server = LadingServer::start(
        &dir.path().join("data"),
        ServerSpec {
            env: vec![(
                "LADING_LOG",
                "lading::ecosystem::maven::serve=debug".to_owned(),
            )],
            ..ServerSpec::default()
        },
    );
    let home = dir.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let endpoint = endpoint(&server, &home);
    let maven = Maven {
        mvn,
        settings: settings(dir.path(), &maven_repo, &endpoint),
        token: token(&server, &home, &server.credentials_file()),
        home,
    };
    let http = Http::new();
    let deployer_repository = dir.path().join("m2-deployer");

    // Two releases, then the same SNAPSHOT twice (builds 1 and 2).
    for (version, greeting) in [
        ("1.0.0", "one"),
        ("1.1.0", "one-one"),
        ("2.0-SNAPSHOT", "snapshot-1"),
        ("2.0-SNAPSHOT", "snapshot-2"),
    ] {
        let project = library(dir.path(), &endpoint, version, greeting);
        maven.run(&project, &deployer_repository, "deploy");
    }
    let log = server.log();

    // The artifact-level metadata is the server's, listing every published version.
    let metadata_url = format!("{endpoint}{GROUP_PATH}/greeter/maven-metadata.xml");
    let (status, metadata) = http.get(&metadata_url, &maven.token);
    assert_eq!(status, 200, "{metadata}");
    assert_eq!(
        tag(&metadata, "version"),
        vec!["1.0.0", "1.1.0", "2.0-SNAPSHOT"],
        "{metadata}"
    );
    assert_eq!(tag(&metadata, "release"), vec!["1.1.0"], "{metadata}");
    assert_eq!(tag(&metadata, "latest"), vec!["2.0-SNAPSHOT"], "{metadata}");
    assert_eq!(tag(&metadata, "lastUpdated").len(), 1, "{metadata}");
    let (_, sha1) = http.get(&format!("{metadata_url}.sha1"), &maven.token);
    assert_eq!(sha1, Digests::of(metadata.as_bytes()).sha1);

    // The SNAPSHOT's version-level metadata points at build 2, which mvn numbered from
    // the build-1 metadata it read back.
    let (status, snapshot) = http.get(
        &format!("{endpoint}{GROUP_PATH}/greeter/2.0-SNAPSHOT/maven-metadata.xml"),
        &maven.token,
    );
    assert_eq!(status, 200, "{snapshot}");
    assert_eq!(tag(&snapshot, "buildNumber"), vec!["2"], "{snapshot}");
    let values = tag(&snapshot, "value");
    assert_eq!(values.len(), 2, "jar and pom: {snapshot}");
    assert!(
        values.iter().all(|value| value.ends_with("-2")),
        "{snapshot}"
    );

    // The control plane sees the versions, their assets and digests.
    let versions = server.aws_json_on(
        &maven.home,
        "main",
        &[
            "list-package-versions",
            "--format",
            "maven",
            "--namespace",
            GROUP,
            "--package",
            "greeter",
        ],
    );
    let mut listed: Vec<(String, String)> = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|version| {
            (
                version["version"].as_str().unwrap().to_owned(),
                version["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    listed.sort();
    assert_eq!(listed.len(), 4, "{versions}");
    assert_eq!(listed[0], ("1.0.0".to_owned(), "Published".to_owned()));
    assert_eq!(listed[1], ("1.1.0".to_owned(), "Published".to_owned()));
    // The retired build 1 is an Unlisted version named after its timestamp.
    assert!(
        listed[2].1 == "Unlisted" && listed[2].0.starts_with("2.0-2"),
        "{versions}"
    );
    assert_eq!(
        listed[3],
        ("2.0-SNAPSHOT".to_owned(), "Published".to_owned())
    );
    assert_eq!(
        versions["namespace"], GROUP,
        "namespace is the groupId: {versions}"
    );
    let assets = server.aws_json_on(
        &maven.home,
        "main",
        &[
            "list-package-version-assets",
            "--format",
            "maven",
            "--namespace",
            GROUP,
            "--package",
            "greeter",
            "--package-version",
            "1.1.0",
        ],
    );
    let names: Vec<&str> = assets["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|asset| asset["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["greeter-1.1.0.jar", "greeter-1.1.0.pom"],
        "only real files, no sidecars: {assets}"
    );
    let jar_bytes = http
        .send(
            reqwest::Method::GET,
            &format!("{endpoint}{GROUP_PATH}/greeter/1.1.0/greeter-1.1.0.jar"),
            Some(&maven.token),
            None,
        )
        .2;
    let digests = Digests::of(&jar_bytes);
    assert_eq!(assets["assets"][0]["hashes"]["SHA-256"], digests.sha256);
    assert_eq!(assets["assets"][0]["hashes"]["SHA-1"], digests.sha1);
    assert_eq!(assets["assets"][0]["hashes"]["MD5"], digests.md5);
    assert!(
        assets["assets"][0]["hashes"]["SHA-512"]
            .as_str()
            .is_some_and(|hash| hash.len() == 128)
    );
    let retired = server.aws_json_on(
        &maven.home,
        "main",
        &[
            "list-package-version-assets",
            "--format",
            "maven",
            "--namespace",
            GROUP,
            "--package",
            "greeter",
            "--package-version",
            &listed[2].0,
        ],
    );
    assert_eq!(
        retired["assets"].as_array().map(Vec::len),
        Some(2),
        "build 1 keeps its jar and pom: {retired}"
    );

    // A fresh local repository resolves the release and the SNAPSHOT (its newest build).
    let local = dir.path().join("m2-consumer");
    maven.run(
        &consumers(dir.path(), &["1.1.0", "2.0-SNAPSHOT"]),
        &local,
        "package",
    );
    for (version, file) in [
        ("1.1.0", "greeter-1.1.0.jar".to_owned()),
        ("2.0-SNAPSHOT", format!("greeter-{}.jar", values[0])),
    ] {
        let cached = local.join(format!("{GROUP_PATH}/greeter/{version}"));
        assert!(
            cached.join(&file).is_file(),
            "{file} missing from {}",
            cached.display()
        );
    }

    // What mvn sent (PROTOCOLS.md §3.2): PUTs carry Basic pre-emptively, a consumer's first
    // GET of each file comes without credentials and is answered with the Basic challenge.
    let log = format!("{log}{}", server.log());
    assert!(
        log.contains("method=PUT")
            && log.contains(&format!(
                "path=/d/local/maven/main/{GROUP_PATH}/greeter/1.0.0/greeter-1.0.0.pom authorization=\"Basic\""
            )),
        "{log}"
    );
    assert!(
        log.contains("method=GET")
            && log.contains("authorization=\"none\"")
            && log.contains("status=401"),
        "{log}"
    );
}

#[test]
fn maven_uploads_are_checked_and_anonymous_reads_are_challenged() {
    require_tool!(support::aws());
    let (dir, server) = support::serve(ServerSpec::with_config(support::PRINCIPALS_CONFIG));
    let home = dir.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let endpoint = endpoint(&server, &home);
    let admin = token(&server, &home, &server.credentials_file());
    let reader_keys = support::READER.credentials(dir.path());
    let reader = token(&server, &home, &reader_keys);
    let http = Http::new();
    let base = format!("{endpoint}com/acme/raw/3.0.0/raw-3.0.0");
    let jar = b"PK\x03\x04 not really a jar".to_vec();
    let digests = Digests::of(&jar);

    // No credentials: 401 with a Basic challenge (what makes mvn send them).
    let (status, challenge, _) =
        http.send(reqwest::Method::GET, &format!("{base}.jar"), None, None);
    assert_eq!(status, 401);
    let challenge = challenge.expect("a WWW-Authenticate header");
    assert!(
        challenge.starts_with("Basic realm=\"") && !challenge.contains("Bearer"),
        "{challenge}"
    );
    assert_eq!(
        http.send(
            reqwest::Method::PUT,
            &format!("{base}.jar"),
            None,
            Some(jar.clone())
        )
        .0,
        401
    );

    // A checksum before its file: 404, and no version appears.
    assert_eq!(
        http.put(&format!("{base}.jar.sha1"), &admin, digests.sha1.as_bytes()),
        404
    );
    assert_eq!(http.get(&format!("{base}.jar"), &admin).0, 404);

    // Read-only tokens cannot publish.
    assert_eq!(http.put(&format!("{base}.jar"), &reader, &jar), 403);

    // Upload, then sidecars: matching ones pass, a mismatch is refused and changes nothing.
    assert_eq!(http.put(&format!("{base}.jar"), &admin, &jar), 201);
    assert_eq!(
        http.put(&format!("{base}.jar.sha1"), &admin, digests.sha1.as_bytes()),
        200
    );
    assert_eq!(
        http.put(
            &format!("{base}.jar.sha256"),
            &admin,
            format!("{}  raw-3.0.0.jar\n", digests.sha256).as_bytes()
        ),
        200
    );
    let wrong = "0".repeat(32);
    assert_eq!(
        http.put(&format!("{base}.jar.md5"), &admin, wrong.as_bytes()),
        400
    );
    for algorithm in ["md5", "sha1", "sha256", "sha512"] {
        let (status, body) = http.get(&format!("{base}.jar.{algorithm}"), &admin);
        let expected = match algorithm {
            "md5" => &digests.md5,
            "sha1" => &digests.sha1,
            "sha256" => &digests.sha256,
            _ => &digests.sha512,
        };
        assert_eq!((status, body.as_str()), (200, expected.as_str()));
    }

    // The same bytes again: 200, nothing changes; other bytes: 409; the reader can read.
    assert_eq!(http.put(&format!("{base}.jar"), &admin, &jar), 200);
    assert_eq!(
        http.put(&format!("{base}.jar"), &admin, b"other bytes"),
        409
    );
    let (status, _, body) = http.send(
        reqwest::Method::GET,
        &format!("{base}.jar"),
        Some(&reader),
        None,
    );
    assert_eq!((status, body), (200, jar.clone()));
    let (status, _, body) = http.send(
        reqwest::Method::HEAD,
        &format!("{base}.jar"),
        Some(&reader),
        None,
    );
    assert_eq!((status, body.len()), (200, 0));

    // File names must belong to the version directory.
    assert_eq!(
        http.put(
            &format!("{endpoint}com/acme/raw/3.0.0/raw-3.0.1.jar"),
            &admin,
            &jar
        ),
        400
    );

    // The version stays Unfinished (no artifact metadata) until a client's metadata lists
    // it; what is served is always generated, whatever the client sent.
    let metadata_url = format!("{endpoint}com/acme/raw/maven-metadata.xml");
    assert_eq!(http.get(&metadata_url, &admin).0, 404);
    assert_eq!(http.put(&metadata_url, &admin, b"<metadata><broken"), 400);
    let client_metadata = b"<?xml version=\"1.0\"?><metadata><groupId>com.acme</groupId><artifactId>raw</artifactId><versioning><release>9.9</release><versions><version>3.0.0</version><version>9.9</version></versions><lastUpdated>19990101000000</lastUpdated></versioning></metadata>";
    assert_eq!(http.put(&metadata_url, &admin, client_metadata), 201);
    assert_eq!(
        http.put(&format!("{metadata_url}.sha1"), &admin, b"0123"),
        201
    );
    let (status, generated) = http.get(&metadata_url, &admin);
    assert_eq!(status, 200);
    assert_eq!(tag(&generated, "version"), vec!["3.0.0"], "{generated}");
    assert_eq!(tag(&generated, "release"), vec!["3.0.0"], "{generated}");
    assert!(!generated.contains("19990101000000"), "{generated}");
    for (algorithm, expected) in [
        ("md5", Digests::of(generated.as_bytes()).md5),
        ("sha512", Digests::of(generated.as_bytes()).sha512),
    ] {
        assert_eq!(
            http.get(&format!("{metadata_url}.{algorithm}"), &admin),
            (200, expected)
        );
    }
    let versions = server.aws_json_on(
        &home,
        "main",
        &[
            "list-package-versions",
            "--format",
            "maven",
            "--namespace",
            "com.acme",
            "--package",
            "raw",
        ],
    );
    assert_eq!(versions["versions"][0]["status"], "Published", "{versions}");
    assert_eq!(
        versions["versions"].as_array().map(Vec::len),
        Some(1),
        "{versions}"
    );
}
