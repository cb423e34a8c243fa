//! The ten public external connections CodeArtifact offers, on `lading serve`: each one is
//! associated with the AWS CLI, answers with its format, and can be pointed at another URL
//! by declaring it under its own name in the server config. The five Maven connections are
//! pointed at one nginx serving a Maven layout per connection, and each pulls its own
//! artifact through. (npm, PyPI and crates.io against their real registries are in
//! `pull_through_npm`, `pull_through_pypi` and `serve_cargo`; RubyGems.org is not reachable
//! from here.)

use std::fmt::Write as _;
use std::path::Path;

use crate::require_tool;
use crate::support::client::{bearer, curl, curl_status};
use crate::support::peers::Nginx;
use crate::support::{self, LadingServer, ServerSpec};

/// Every public connection, its format, and the repository the test associates it with.
const CONNECTIONS: &[(&str, &str)] = &[
    ("public:npmjs", "npm"),
    ("public:pypi", "pypi"),
    ("public:maven-central", "maven"),
    ("public:maven-googleandroid", "maven"),
    ("public:maven-gradleplugins", "maven"),
    ("public:maven-commonsware", "maven"),
    ("public:maven-clojars", "maven"),
    ("public:nuget-org", "nuget"),
    ("public:crates-io", "cargo"),
    ("public:ruby-gems-org", "ruby"),
];

const GROUP: &str = "com.example.connections";
const GROUP_PATH: &str = "com/example/connections";

/// The repository a connection is associated with: its name without `public:`.
fn repository_of(connection: &str) -> &str {
    connection.trim_start_matches("public:")
}

/// Write `artifact` 1.0 (a POM naming `marker`, with its `.sha1`) under `root`.
fn static_pom(root: &Path, artifact: &str, marker: &str) -> String {
    let directory = root.join(format!("{GROUP_PATH}/{artifact}/1.0"));
    fs_err::create_dir_all(&directory).unwrap();
    let pom = format!(
        "<project xmlns='http://maven.apache.org/POM/4.0.0'>\n  <modelVersion>4.0.0</modelVersion>\n  <groupId>{GROUP}</groupId><artifactId>{artifact}</artifactId><version>1.0</version>\n  <description>{marker}</description>\n</project>\n"
    );
    fs_err::write(directory.join(format!("{artifact}-1.0.pom")), &pom).unwrap();
    fs_err::write(
        directory.join(format!("{artifact}-1.0.pom.sha1")),
        lading::server::store::Digests::of(pom.as_bytes()).sha1,
    )
    .unwrap();
    pom
}

#[test]
fn the_aws_cli_associates_all_ten_public_connections_and_maven_ones_pull_through_their_own_url() {
    require_tool!(support::aws());
    require_tool!(curl());
    let nginx_binary = require_tool!(Nginx::find());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("upstream");
    let maven: Vec<&str> = CONNECTIONS
        .iter()
        .filter(|(_, format)| *format == "maven")
        .map(|(name, _)| *name)
        .collect();
    // One Maven layout per connection, each with the same coordinates and its own content:
    // what comes back proves which URL the connection used.
    let mut poms = Vec::new();
    for name in &maven {
        let prefix = repository_of(name);
        poms.push(static_pom(
            &root.join(prefix),
            "shared",
            &format!("from {prefix}"),
        ));
    }
    let nginx = Nginx::start(&nginx_binary, &dir.path().join("nginx"), &root);
    let mut config = String::from("external_connections:\n");
    for name in &maven {
        writeln!(
            config,
            "  - name: {name}\n    format: maven\n    url: {}{}/",
            nginx.url,
            repository_of(name)
        )
        .unwrap();
    }
    config.push_str("domains:\n  - name: local\n    repositories: [");
    let repositories: Vec<&str> = CONNECTIONS
        .iter()
        .map(|(name, _)| repository_of(name))
        .collect();
    config.push_str(&repositories.join(", "));
    config.push_str("]\n");
    let server = LadingServer::start(&dir.path().join("data"), ServerSpec::with_config(&config));

    for (name, format) in CONNECTIONS {
        let described = server.associate(dir.path(), repository_of(name), name);
        let connections = &described["repository"]["externalConnections"];
        assert_eq!(
            connections[0]["externalConnectionName"], *name,
            "{described}"
        );
        assert_eq!(connections[0]["packageFormat"], *format, "{described}");
        assert_eq!(connections[0]["status"], "Available", "{described}");
    }

    let token = server.admin_token(dir.path());
    for (name, pom) in maven.iter().zip(&poms) {
        let repository = repository_of(name);
        let url = format!(
            "{}/d/local/maven/{repository}/{GROUP_PATH}/shared/1.0/shared-1.0.pom",
            server.url
        );
        let (status, body) = curl_status(dir.path(), &["-H", &bearer(&token), &url]);
        assert_eq!(status, 200, "{name}: {body}\n{}", server.log());
        assert_eq!(&body, pom, "{name} must pull from its own URL");
        if *name != "public:maven-central" {
            continue;
        }
        let listed = server.aws_json_on(
            dir.path(),
            repository,
            &[
                "list-package-versions",
                "--format",
                "maven",
                "--namespace",
                GROUP,
                "--package",
                "shared",
            ],
        );
        assert_eq!(listed["versions"][0]["version"], "1.0", "{name}: {listed}");
        assert_eq!(
            listed["versions"][0]["origin"]["originType"], "EXTERNAL",
            "{name}: {listed}"
        );
    }
    let served: Vec<String> = nginx.requests();
    for name in &maven {
        let prefix = format!("GET /{}/{GROUP_PATH}/shared/1.0/", repository_of(name));
        assert!(
            served.iter().any(|line| line.contains(&prefix)),
            "{name} never reached its URL: {served:#?}"
        );
    }

    // A name the server does not know: refused, and the answer lists the ones it does.
    let output = support::run(&mut server.aws_command_on(
        dir.path(),
        "npmjs",
        &[
            "associate-external-connection",
            "--external-connection",
            "public:nope",
        ],
    ));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("ValidationException"),
        "{}",
        support::describe(&output)
    );
    for (name, _) in CONNECTIONS {
        assert!(stderr.contains(name), "{name} not listed: {stderr}");
    }

    // As in CodeArtifact, a repository has at most one external connection: a Maven
    // connection on the repository already holding `public:npmjs` is refused.
    let output = support::run(&mut server.aws_command_on(
        dir.path(),
        "npmjs",
        &[
            "associate-external-connection",
            "--external-connection",
            "public:maven-central",
        ],
    ));
    assert!(
        !output.status.success()
            && String::from_utf8_lossy(&output.stderr).contains("ConflictException"),
        "{}",
        support::describe(&output)
    );
}

#[test]
fn a_public_connection_redeclared_with_another_format_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yml");
    fs_err::write(
        &config,
        "external_connections:\n  - name: public:maven-clojars\n    format: npm\n    url: http://127.0.0.1:9/\n",
    )
    .unwrap();
    let mut command = support::clean_command(support::lading_bin(), dir.path());
    command
        .arg("serve")
        .arg("--data")
        .arg(dir.path().join("data"))
        .args(["--listen", "127.0.0.1:0", "--config"])
        .arg(&config);
    let output = support::run(&mut command);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success()
            && stderr.contains("`public:maven-clojars` is CodeArtifact's maven connection"),
        "{}",
        support::describe(&output)
    );
}
