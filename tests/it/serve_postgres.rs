//! `lading serve --index postgres://…`: the index in PostgreSQL (a real cluster, see
//! `tests/support/postgres.rs`), driven by the real npm client and the AWS CLI; several
//! `lading serve` processes on one database behave as one repository; the database going
//! away gives 503s with `Retry-After` and service comes back by itself.

use std::path::Path;
use std::time::Duration;

use crate::require_tool;
use crate::serve_npm::{NpmUser, app, package};
use crate::support::peers::S3Server;
use crate::support::postgres::Postgres;
use crate::support::{self, LadingServer, ServerSpec};

/// A node over `<dir>/<name>` with its index in `database`.
fn node(dir: &Path, name: &str, database: &str) -> LadingServer {
    LadingServer::start(
        &dir.join(name),
        ServerSpec {
            args: vec!["--index", database],
            ..ServerSpec::default()
        },
    )
}

/// Blobs several nodes share: a bucket in a moto server of this test.
struct SharedBlobs {
    s3: S3Server,
    url: String,
}

impl SharedBlobs {
    fn start(dir: &Path) -> Option<Self> {
        let aws = support::aws()?;
        let moto = S3Server::find()?;
        let s3 = S3Server::start(&moto, dir);
        let mut create = support::clean_command(&aws, dir);
        create
            .envs(s3.env())
            .args(["s3api", "create-bucket", "--bucket", "shared"]);
        support::run_ok(&mut create);
        Some(Self {
            s3,
            url: "s3://shared/blobs".to_owned(),
        })
    }

    /// A node over `<dir>/<name>` with its index in `database` and its blobs in the bucket.
    fn node(&self, dir: &Path, name: &str, database: &str) -> LadingServer {
        LadingServer::start(
            &dir.join(name),
            ServerSpec {
                args: vec!["--index", database, "--blobs", &self.url],
                env: self.s3.env(),
                ..ServerSpec::default()
            },
        )
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

/// `GET url` with a bearer token: status, `Retry-After`, body.
fn get(url: &str, token: &str) -> (u16, Option<String>, String) {
    runtime().block_on(async {
        let response = reqwest::Client::new()
            .get(url)
            .bearer_auth(token)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        (
            status,
            retry_after,
            response.text().await.unwrap_or_default(),
        )
    })
}

/// The body of an npm publish (`PUT /<name>`) of `name@version` whose `index.js` is `content`.
fn npm_publish_body(name: &str, version: &str, content: &str) -> serde_json::Value {
    let tarball = support::npm_tarball(name, version, content);
    let file = format!("{}-{version}.tgz", name.rsplit('/').next().unwrap_or(name));
    serde_json::json!({
        "name": name,
        "versions": {version: {"name": name, "version": version,
            "dist": {"tarball": format!("http://ignored/{file}")}}},
        "dist-tags": {"latest": version},
        "_attachments": {file: {
            "data": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &tarball),
            "length": tarball.len(),
        }},
    })
}

#[test]
fn npm_publish_and_install_with_the_index_in_postgres() {
    require_tool!(support::aws());
    require_tool!(support::npm());
    let Some(postgres) = Postgres::get() else {
        return;
    };
    let database = postgres.create_database();
    let dir = tempfile::tempdir().unwrap();
    let server = node(dir.path(), "data", &database);
    let admin = NpmUser::login(
        &server,
        dir.path(),
        "admin",
        &server.credentials_file(),
        "main",
    );
    let source = package(dir.path(), "@acme/pg-widget", "1.0.0", "'from postgres'");
    admin.npm_ok(&source, &["publish"]);
    let consumer = app(dir.path(), "consumer");
    admin.npm_ok(&consumer, &["install", "@acme/pg-widget"]);
    let installed =
        fs_err::read_to_string(consumer.join("node_modules/@acme/pg-widget/index.js")).unwrap();
    assert_eq!(installed, "module.exports = 'from postgres';\n");

    // The rows are in PostgreSQL, not in the data directory.
    assert!(!dir.path().join("data/index-v1.sqlite3").exists());
    let mut client = postgres::Client::connect(&database, postgres::NoTls).unwrap();
    let versions: i64 = client
        .query_one(
            "SELECT COUNT(*) FROM versions WHERE package = 'pg-widget' AND namespace = 'acme'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(versions, 1);
}

#[test]
fn aws_cli_control_plane_with_the_index_in_postgres() {
    require_tool!(support::aws());
    let Some(postgres) = Postgres::get() else {
        return;
    };
    let database = postgres.create_database();
    let dir = tempfile::tempdir().unwrap();
    let server = node(dir.path(), "data", &database);
    server.aws_json(
        dir.path(),
        &[
            "create-repository",
            "--domain",
            "local",
            "--repository",
            "pgrepo",
        ],
    );
    let file = dir.path().join("report.txt");
    fs_err::write(&file, "hello postgres").unwrap();
    let sha256 = lading::server::store::Digests::of(b"hello postgres").sha256;
    let published = server.aws_json(
        dir.path(),
        &support::on_repository(
            "pgrepo",
            &[
                "publish-package-version",
                "--format",
                "generic",
                "--namespace",
                "ns",
                "--package",
                "report",
                "--package-version",
                "1.0.0",
                "--asset-name",
                "report.txt",
                "--asset-content",
                &file.display().to_string(),
                "--asset-sha256",
                &sha256,
            ],
        ),
    );
    assert_eq!(published["status"], "Published", "{published}");
    let listed = server.aws_json(
        dir.path(),
        &support::on_repository(
            "pgrepo",
            &[
                "list-package-versions",
                "--format",
                "generic",
                "--namespace",
                "ns",
                "--package",
                "report",
            ],
        ),
    );
    assert_eq!(listed["versions"][0]["version"], "1.0.0", "{listed}");
    let repositories = server.aws_json(dir.path(), &["list-repositories"]);
    let names: Vec<&str> = repositories["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|repository| repository["name"].as_str())
        .collect();
    assert!(
        names.contains(&"pgrepo") && names.contains(&"main"),
        "{names:?}"
    );

    // `lading serve verify` reads the same index.
    let mut verify = support::clean_command(support::lading_bin(), dir.path());
    verify
        .args(["serve", "verify", "--data"])
        .arg(dir.path().join("data"))
        .args(["--index", &database]);
    let output = support::run_ok(&mut verify);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("checked 1 asset(s)"), "{stderr}");
}

#[test]
fn two_nodes_starting_together_apply_the_schema_once_and_share_everything() {
    require_tool!(support::aws());
    require_tool!(support::npm());
    let Some(postgres) = Postgres::get() else {
        return;
    };
    let database = postgres.create_database();
    let dir = tempfile::tempdir().unwrap();
    let Some(blobs) = SharedBlobs::start(dir.path()) else {
        return;
    };
    // Both start at the same moment against the empty database.
    let (first, second) = std::thread::scope(|scope| {
        let first = scope.spawn(|| blobs.node(dir.path(), "node-a", &database));
        let second = scope.spawn(|| blobs.node(dir.path(), "node-b", &database));
        (first.join().unwrap(), second.join().unwrap())
    });
    let mut client = postgres::Client::connect(&database, postgres::NoTls).unwrap();
    let migrations: Vec<i64> = client
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let expected: Vec<i64> = lading::server::index::schema::MIGRATIONS
        .iter()
        .map(|migration| migration.version)
        .collect();
    assert_eq!(migrations, expected);
    let admins: i64 = client
        .query_one("SELECT COUNT(*) FROM principals WHERE name = 'admin'", &[])
        .unwrap()
        .get(0);
    assert_eq!(admins, 1, "one admin principal, whichever node made it");
    assert_eq!(
        fs_err::read_to_string(first.credentials_file()).unwrap(),
        fs_err::read_to_string(second.credentials_file()).unwrap(),
        "both nodes hand out the same admin keys"
    );

    // Published through one node, installed through the other at once.
    let publisher = NpmUser::login(
        &first,
        dir.path(),
        "publisher",
        &first.credentials_file(),
        "main",
    );
    let source = package(dir.path(), "shared-widget", "2.0.0", "'shared'");
    publisher.npm_ok(&source, &["publish"]);
    let installer = NpmUser::login(
        &second,
        dir.path(),
        "installer",
        &second.credentials_file(),
        "main",
    );
    let consumer = app(dir.path(), "consumer");
    installer.npm_ok(&consumer, &["install", "shared-widget"]);
    assert_eq!(
        fs_err::read_to_string(consumer.join("node_modules/shared-widget/index.js")).unwrap(),
        "module.exports = 'shared';\n"
    );

    // A token minted on the first node works on the second (and the packument it reads
    // there names the version just published).
    let token = publisher.token();
    let (status, _, body) = get(
        &format!("{}/d/local/npm/main/shared-widget", second.url),
        &token,
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"2.0.0\""), "{body}");
    // A token nobody minted is refused by both.
    for node in [&first, &second] {
        let (status, _, _) = get(
            &format!("{}/d/local/npm/main/shared-widget", node.url),
            "ldt_not-a-token",
        );
        assert_eq!(status, 401);
    }
}

#[test]
fn concurrent_publishes_of_one_version_through_two_nodes_one_wins() {
    require_tool!(support::aws());
    let Some(postgres) = Postgres::get() else {
        return;
    };
    let database = postgres.create_database();
    let dir = tempfile::tempdir().unwrap();
    let Some(blobs) = SharedBlobs::start(dir.path()) else {
        return;
    };
    let nodes = [
        blobs.node(dir.path(), "node-a", &database),
        blobs.node(dir.path(), "node-b", &database),
    ];
    let token = nodes[0].admin_token(dir.path());
    let attempts = 8;
    let statuses: Vec<(usize, u16)> = runtime().block_on(async {
        let client = reqwest::Client::new();
        let requests: Vec<_> = (0..attempts)
            .map(|attempt| {
                let url = format!("{}/d/local/npm/main/@acme%2frace", nodes[attempt % 2].url);
                let body = npm_publish_body("@acme/race", "1.0.0", &format!("attempt {attempt}"));
                let request = client.put(url).bearer_auth(&token).json(&body).send();
                tokio::spawn(async move { (attempt, request.await.unwrap().status().as_u16()) })
            })
            .collect();
        let mut statuses = Vec::new();
        for request in requests {
            statuses.push(request.await.unwrap());
        }
        statuses
    });
    let winners: Vec<usize> = statuses
        .iter()
        .filter(|(_, status)| (200..300).contains(status))
        .map(|(attempt, _)| *attempt)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one publish wins: {statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|(_, status)| (200..300).contains(status) || *status == 409),
        "the others get 409: {statuses:?}"
    );
    // Both nodes serve the winner's tarball, and only it.
    let winner = winners[0];
    for node in &nodes {
        let (status, _, packument) = get(
            &format!("{}/d/local/npm/main/@acme%2frace", node.url),
            &token,
        );
        assert_eq!(status, 200, "{packument}");
        let packument: serde_json::Value = serde_json::from_str(&packument).unwrap();
        let tarball = packument["versions"]["1.0.0"]["dist"]["tarball"]
            .as_str()
            .unwrap()
            .to_owned();
        let bytes = runtime().block_on(async {
            reqwest::Client::new()
                .get(&tarball)
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
        });
        assert_eq!(
            bytes.as_ref(),
            support::npm_tarball("@acme/race", "1.0.0", &format!("attempt {winner}")).as_slice()
        );
    }
    let mut client = postgres::Client::connect(&database, postgres::NoTls).unwrap();
    let assets: i64 = client
        .query_one(
            "SELECT COUNT(*) FROM assets a JOIN versions v ON v.id = a.version_id WHERE v.package = 'race'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(assets, 1, "one asset set, never a mix");
}

#[test]
fn the_database_away_gives_503_with_retry_after_then_service_resumes() {
    require_tool!(support::aws());
    let Some(postgres) = Postgres::own() else {
        return;
    };
    let cluster = postgres.cluster.as_ref().unwrap();
    let database = postgres.create_database();
    let dir = tempfile::tempdir().unwrap();
    let server = node(dir.path(), "data", &database);
    let token = server.admin_token(dir.path());
    let packument = format!("{}/d/local/npm/main/@acme%2foutage", server.url);
    let published = runtime().block_on(async {
        reqwest::Client::new()
            .put(&packument)
            .bearer_auth(&token)
            .json(&npm_publish_body("@acme/outage", "1.0.0", "before"))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert!(published.is_success(), "{published}");
    assert_eq!(get(&packument, &token).0, 200);

    cluster.stop();
    let (status, retry_after, body) = get(&format!("{}/readyz", server.url), &token);
    assert_eq!(status, 503, "{body}");
    // A read the caches cannot answer (a package never read) and a write: 503 + Retry-After,
    // no stack trace.
    for url in [
        format!("{}/d/local/npm/main/never-read", server.url),
        packument.clone(),
    ] {
        let (status, retry_after, body) = get(&url, &token);
        assert_eq!(status, 503, "{url}: {body}");
        assert_eq!(retry_after.as_deref(), Some("5"), "{url}");
        assert!(
            !body.contains("panicked") && !body.contains("backtrace"),
            "{body}"
        );
    }
    let write = runtime().block_on(async {
        reqwest::Client::new()
            .put(&packument)
            .bearer_auth(&token)
            .json(&npm_publish_body("@acme/outage", "1.0.1", "during"))
            .send()
            .await
            .unwrap()
    });
    assert_eq!(write.status().as_u16(), 503);
    assert!(write.headers().contains_key("retry-after"));
    let _ = retry_after;

    cluster.start_again();
    // Back without restarting lading: the pool reconnects on the next request.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, _, body) = get(&packument, &token);
        if status == 200 {
            assert!(body.contains("\"1.0.0\""), "{body}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no recovery: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(get(&format!("{}/readyz", server.url), &token).0, 200);
    let published = runtime().block_on(async {
        reqwest::Client::new()
            .put(&packument)
            .bearer_auth(&token)
            .json(&npm_publish_body("@acme/outage", "1.0.1", "after"))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert!(published.is_success(), "{published}");
}

#[test]
fn migrate_copies_an_sqlite_index_into_postgres_verified_and_resumable() {
    require_tool!(support::aws());
    require_tool!(support::npm());
    let Some(postgres) = Postgres::get() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let server = LadingServer::start(&data, ServerSpec::default());
        let admin = NpmUser::login(
            &server,
            dir.path(),
            "admin",
            &server.credentials_file(),
            "main",
        );
        let source = package(dir.path(), "@acme/moved", "1.0.0", "'moved'");
        admin.npm_ok(&source, &["publish"]);
    }
    let database = postgres.create_database();
    let migrate = |expect_written: bool| {
        let mut command = support::clean_command(support::lading_bin(), dir.path());
        command
            .args(["serve", "migrate", "--data"])
            .arg(&data)
            .args(["--index", &database]);
        let output = support::run_ok(&mut command);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(stderr.contains("every table identical"), "{stderr}");
        assert_eq!(
            stderr.contains("versions: 1 row(s), 1 written now"),
            expect_written,
            "{stderr}"
        );
        assert!(!stderr.contains("DIFFERENT"), "{stderr}");
    };
    migrate(true);
    // Again: nothing left to write, still identical (an interrupted copy resumes this way).
    migrate(false);
    // The data directory's blobs with the index in PostgreSQL: the version is there.
    let server = node(dir.path(), "data", &database);
    let admin = NpmUser::login(
        &server,
        dir.path(),
        "again",
        &server.credentials_file(),
        "main",
    );
    let consumer = app(dir.path(), "consumer");
    admin.npm_ok(&consumer, &["install", "@acme/moved"]);
    assert_eq!(
        fs_err::read_to_string(consumer.join("node_modules/@acme/moved/index.js")).unwrap(),
        "module.exports = 'moved';\n"
    );
    // New versions get ids after the copied ones.
    let source = package(dir.path(), "@acme/moved", "1.1.0", "'newer'");
    admin.npm_ok(&source, &["publish"]);
}
