//! Several `lading serve` nodes are one repository: three nodes on one PostgreSQL index and
//! one S3 bucket (moto's server), behind nginx as the load balancer, as the README's
//! deployment section has it. Driven by real clients through the balancer (npm, pip and
//! twine, mvn, the AWS CLI) and read back through every node directly; raw HTTP for the
//! races (100 publishes of one version, 1,000 distinct ones) and for traffic during faults
//! (a node killed with SIGKILL, PostgreSQL restarted, the object store paused for 10 s).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::require_tool;
use crate::support::peers::{Nginx, S3Server};
use crate::support::postgres::Postgres;
use crate::support::{self, LadingServer, ServerSpec};

/// The bucket every cluster uses (each test has its own moto server).
const BUCKET: &str = "lading-cluster";

/// Three nodes, their shared index and bucket, and the balancer in front of them.
struct Cluster {
    dir: tempfile::TempDir,
    s3: S3Server,
    postgres: Postgres,
    index: String,
    blobs: String,
    config: Option<String>,
    nodes: Vec<Option<LadingServer>>,
    /// Each node's address (`127.0.0.1:PORT`), kept so a node restarts where nginx sends.
    addresses: Vec<String>,
    balancer: Nginx,
    aws: PathBuf,
}

impl Cluster {
    /// Start the peers and `count` nodes. The first node starts alone (it creates the
    /// schema, the admin principal and the default repository); the others then start
    /// together.
    fn start(count: usize, postgres: Postgres) -> Self {
        Self::start_with(count, postgres, None)
    }

    /// [`Cluster::start`] with every node reading the config file `config`.
    fn start_with(count: usize, postgres: Postgres, config: Option<&str>) -> Self {
        let aws = support::aws().expect("aws");
        let dir = tempfile::tempdir().unwrap();
        let s3 = S3Server::start(&S3Server::find().expect("moto"), &dir.path().join("s3"));
        let mut create = support::clean_command(&aws, dir.path());
        create
            .envs(s3.env())
            .args(["s3api", "create-bucket", "--bucket", BUCKET]);
        support::run_ok(&mut create);
        let index = postgres.create_database();
        let blobs = format!("s3://{BUCKET}/blobs");
        let start = |node: usize| {
            start_node(
                dir.path(),
                node,
                "127.0.0.1:0",
                &s3,
                (&index, &blobs),
                config,
            )
        };
        let mut nodes = vec![start(0)];
        nodes.extend(std::thread::scope(|scope| {
            let handles: Vec<_> = (1..count)
                .map(|node| scope.spawn(move || start(node)))
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().unwrap())
                .collect::<Vec<_>>()
        }));
        let addresses: Vec<String> = nodes.iter().map(|node| address_of(&node.url)).collect();
        let backends: Vec<String> = addresses
            .iter()
            .map(|address| format!("http://{address}"))
            .collect();
        let backends: Vec<&str> = backends.iter().map(String::as_str).collect();
        let balancer = Nginx::start_balancer(
            &Nginx::find().expect("nginx"),
            &dir.path().join("nginx"),
            &backends,
        );
        Self {
            config: config.map(str::to_owned),
            nodes: nodes.into_iter().map(Some).collect(),
            addresses,
            balancer,
            index,
            blobs,
            aws,
            s3,
            postgres,
            dir,
        }
    }

    /// Kill node `index` at once (SIGKILL): its log.
    fn kill(&mut self, index: usize) -> String {
        self.nodes[index].take().expect("node running").kill()
    }

    /// Start node `index` again on its address.
    fn restart(&mut self, index: usize) {
        let address = self.addresses[index].clone();
        let node = start_node(
            self.dir.path(),
            index,
            &address,
            &self.s3,
            (&self.index, &self.blobs),
            self.config.as_deref(),
        );
        self.nodes[index] = Some(node);
    }

    fn node(&self, index: usize) -> &LadingServer {
        self.nodes[index].as_ref().expect("node running")
    }

    /// The balancer's base URL, without a trailing slash.
    fn url(&self) -> String {
        self.balancer.url.trim_end_matches('/').to_owned()
    }

    fn home(&self) -> &Path {
        self.dir.path()
    }

    /// The admin credentials: every node writes the same file, from the shared index.
    fn credentials(&self) -> PathBuf {
        self.node(0).credentials_file()
    }

    /// `aws codeartifact ARGS` as the admin, through the balancer.
    fn aws(&self, args: &[&str]) -> Command {
        let mut command = support::clean_command(&self.aws, self.home());
        command
            .arg("codeartifact")
            .args(args)
            .args(["--endpoint-url", &self.url(), "--region", "us-east-1"])
            .env("AWS_SHARED_CREDENTIALS_FILE", self.credentials())
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        command
    }

    fn aws_json(&self, args: &[&str]) -> serde_json::Value {
        let mut command = self.aws(args);
        command.args(["--output", "json"]);
        let output = support::run_ok(&mut command);
        if output.stdout.is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// [`Cluster::aws_json`] on repository `main` of domain `local`.
    fn aws_json_on(&self, args: &[&str]) -> serde_json::Value {
        self.aws_json(&support::on_repository("main", args))
    }

    /// A repository token for domain `local`, minted through the balancer.
    fn token(&self) -> String {
        self.aws_json(&["get-authorization-token", "--domain", "local"])["authorizationToken"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// `aws codeartifact login --tool TOOL` through the balancer, into `home`.
    fn login(&self, home: &Path, tool: &str, env: &[(&str, String)]) {
        fs_err::create_dir_all(home).unwrap();
        let mut command = support::clean_command(&self.aws, home);
        command
            .args(["codeartifact", "login", "--tool", tool])
            .args(["--domain", "local", "--domain-owner", "000000000000"])
            .args(["--repository", "main"])
            .args(["--endpoint-url", &self.url(), "--region", "us-east-1"])
            .env("AWS_SHARED_CREDENTIALS_FILE", self.credentials())
            .env("AWS_CONFIG_FILE", "/dev/null");
        command.envs(env.iter().map(|(key, value)| (*key, value)));
        support::run_ok(&mut command);
    }

    /// Every node's base URL, directly (not through the balancer).
    fn node_urls(&self) -> Vec<String> {
        self.addresses
            .iter()
            .map(|address| format!("http://{address}"))
            .collect()
    }

    /// `lading serve verify` over node `index`'s data directory, the shared index and the
    /// bucket: its JSON report.
    fn verify(&self, index: usize) -> serde_json::Value {
        let mut command = support::clean_command(support::lading_bin(), self.home());
        command
            .args(["serve", "verify", "--json", "--data"])
            .arg(self.dir.path().join(format!("node{index}")).join("data"))
            .args(["--index", &self.index, "--blobs", &self.blobs])
            .envs(self.s3.env());
        let output = support::run(&mut command);
        serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|_| panic!("{}", support::describe(&output)))
    }
}

/// Node `node` of a cluster under `dir`, listening on `listen`, on the shared index and
/// bucket (`storage`), with the config file `config`.
fn start_node(
    dir: &Path,
    node: usize,
    listen: &str,
    s3: &S3Server,
    (index, blobs): (&str, &str),
    config: Option<&str>,
) -> LadingServer {
    let mut env = s3.env();
    env.push(("LADING_LOG", "warn".to_owned()));
    let home = dir.join(format!("node{node}"));
    fs_err::create_dir_all(&home).unwrap();
    LadingServer::start(
        &home.join("data"),
        ServerSpec {
            args: vec!["--index", index, "--blobs", blobs],
            env,
            listen: Some(listen),
            config,
            ..ServerSpec::default()
        },
    )
}

fn address_of(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned()
}

/// The npm registry path of repository `main`.
const NPM: &str = "/d/local/npm/main";

/// What `npm publish` sends for `name@version` whose tarball holds `content`: the status.
async fn npm_put(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    name: &str,
    version: &str,
    content: &str,
) -> Result<u16, reqwest::Error> {
    let tarball = support::npm_tarball(name, version, content);
    let file = format!("{}-{version}.tgz", name.rsplit('/').next().unwrap());
    let body = serde_json::json!({
        "_id": name,
        "name": name,
        "dist-tags": {"latest": version},
        "versions": {version: {
            "name": name,
            "version": version,
        }},
        "_attachments": {file: {
            "content_type": "application/octet-stream",
            "data": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &tarball),
            "length": tarball.len(),
        }},
    });
    let response = client
        .put(format!("{base}{NPM}/{}", name.replace('/', "%2f")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    Ok(response.status().as_u16())
}

/// The packument of `name` from `base`, or its status.
async fn packument(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    name: &str,
) -> Result<serde_json::Value, u16> {
    let response = client
        .get(format!("{base}{NPM}/{}", name.replace('/', "%2f")))
        .bearer_auth(token)
        .send()
        .await
        .map_err(|_| 0_u16)?;
    if !response.status().is_success() {
        return Err(response.status().as_u16());
    }
    response.json().await.map_err(|_| 1_u16)
}

/// The bytes of the tarball the packument from `base` names for `version`, after checking
/// that they hash to its `integrity`.
async fn tarball(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    name: &str,
    version: &str,
) -> Vec<u8> {
    let document = packument(client, base, token, name)
        .await
        .unwrap_or_else(|status| panic!("{name} from {base}: {status}"));
    let dist = &document["versions"][version]["dist"];
    let url = dist["tarball"]
        .as_str()
        .unwrap_or_else(|| panic!("{name}@{version} missing from {base}: {document}"));
    // The URL names whichever host the packument was asked through; read it from `base`.
    let path = &url[url.find(NPM).expect("registry path")..];
    let response = client
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    let bytes = response.bytes().await.unwrap().to_vec();
    let integrity = dist["integrity"].as_str().unwrap();
    let expected = integrity.strip_prefix("sha512-").unwrap();
    let actual = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        <sha2::Sha512 as sha2::Digest>::digest(&bytes),
    );
    assert_eq!(actual, expected, "{name}@{version} from {base}");
    bytes
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn npm_and_the_aws_cli_publish_through_the_balancer_and_every_node_serves_the_same_bytes() {
    require_tool!(support::aws());
    require_tool!(support::npm());
    require_tool!(S3Server::find());
    require_tool!(Nginx::find());
    let postgres = require_tool!(Postgres::get());
    let cluster = Cluster::start(3, postgres);
    let npm = support::npm().unwrap();

    // npm: log in through the balancer, publish, install into a fresh project.
    let home = cluster.home().join("npm-user");
    cluster.login(&home, "npm", &[]);
    let source = cluster.home().join("src");
    fs_err::create_dir_all(&source).unwrap();
    fs_err::write(
        source.join("package.json"),
        r#"{"name":"@acme/spread","version":"1.0.0","main":"index.js","license":"MIT"}"#,
    )
    .unwrap();
    fs_err::write(source.join("index.js"), "module.exports = 'spread';\n").unwrap();
    let npm_run = |cwd: &Path, args: &[&str]| {
        let mut command = support::clean_command(&npm, &home);
        command
            .current_dir(cwd)
            .args(args)
            .args(["--no-audit", "--no-fund", "--no-update-notifier"])
            .env("npm_config_cache", home.join("npm-cache"));
        support::run_ok(&mut command)
    };
    npm_run(&source, &["publish"]);
    let app = cluster.home().join("app");
    fs_err::create_dir_all(&app).unwrap();
    fs_err::write(
        app.join("package.json"),
        r#"{"name":"app","version":"1.0.0","private":true}"#,
    )
    .unwrap();
    npm_run(&app, &["install", "@acme/spread@1.0.0"]);
    assert_eq!(
        fs_err::read_to_string(app.join("node_modules/@acme/spread/index.js")).unwrap(),
        "module.exports = 'spread';\n"
    );

    // The AWS CLI: a generic asset through the balancer.
    let asset = cluster.home().join("report.txt");
    fs_err::write(&asset, "spread over three nodes\n").unwrap();
    let sha256 = support::sha256_hex(b"spread over three nodes\n");
    cluster.aws_json_on(&[
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
        &asset.display().to_string(),
        "--asset-sha256",
        &sha256,
    ]);

    // Every node, directly: the same npm tarball (checked against its integrity) and the
    // same generic asset, byte for byte.
    let token = cluster.token();
    let runtime = runtime();
    let client = reqwest::Client::new();
    let mut tarballs = Vec::new();
    for base in cluster.node_urls() {
        tarballs.push(runtime.block_on(tarball(&client, &base, &token, "@acme/spread", "1.0.0")));
    }
    assert!(tarballs.windows(2).all(|pair| pair[0] == pair[1]));
    for (index, _) in cluster.node_urls().iter().enumerate() {
        let out = cluster.home().join(format!("report-from-{index}.txt"));
        let mut command = support::clean_command(&cluster.aws, cluster.home());
        command
            .args(["codeartifact", "get-package-version-asset"])
            .args([
                "--domain",
                "local",
                "--repository",
                "main",
                "--format",
                "generic",
            ])
            .args([
                "--namespace",
                "ns",
                "--package",
                "report",
                "--package-version",
                "1.0.0",
            ])
            .args(["--asset", "report.txt"])
            .arg(&out)
            .args([
                "--endpoint-url",
                &cluster.node_urls()[index],
                "--region",
                "us-east-1",
            ])
            .env("AWS_SHARED_CREDENTIALS_FILE", cluster.credentials())
            .env("AWS_CONFIG_FILE", "/dev/null");
        support::run_ok(&mut command);
        assert_eq!(
            fs_err::read_to_string(&out).unwrap(),
            "spread over three nodes\n"
        );
    }
}

#[test]
fn a_hundred_concurrent_publishes_of_one_version_over_three_nodes_have_one_winner() {
    require_tool!(support::aws());
    require_tool!(S3Server::find());
    require_tool!(Nginx::find());
    let postgres = require_tool!(Postgres::get());
    let cluster = Cluster::start(3, postgres);
    let token = cluster.token();
    let nodes = cluster.node_urls();
    let runtime = runtime();
    let client = reqwest::Client::new();
    let statuses: Vec<u16> = runtime.block_on(async {
        let mut attempts = tokio::task::JoinSet::new();
        for writer in 0..100 {
            let client = client.clone();
            let base = nodes[writer % nodes.len()].clone();
            let token = token.clone();
            attempts.spawn(async move {
                npm_put(
                    &client,
                    &base,
                    &token,
                    "@acme/contested",
                    "1.0.0",
                    &format!("writer {writer}"),
                )
                .await
                .unwrap()
            });
        }
        attempts.join_all().await
    });
    let winners = statuses.iter().filter(|status| **status < 300).count();
    assert_eq!(winners, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|status| *status < 300 || *status == 409),
        "{statuses:?}"
    );
    // Every node serves the same winner's bytes, whole (the integrity check is in
    // `tarball`).
    let tarballs: Vec<Vec<u8>> = nodes
        .iter()
        .map(|base| runtime.block_on(tarball(&client, base, &token, "@acme/contested", "1.0.0")))
        .collect();
    assert!(tarballs.windows(2).all(|pair| pair[0] == pair[1]));
}

#[test]
fn a_thousand_distinct_publishes_over_three_nodes_are_all_readable_from_every_node() {
    require_tool!(support::aws());
    require_tool!(S3Server::find());
    require_tool!(Nginx::find());
    let postgres = require_tool!(Postgres::get());
    let cluster = Cluster::start(3, postgres);
    let token = cluster.token();
    let nodes = cluster.node_urls();
    let runtime = runtime();
    let client = reqwest::Client::new();
    // 100 packages of 10 versions each, 16 publishes in flight, spread round robin.
    let names: Vec<String> = (0..100).map(|package| format!("bulk-{package}")).collect();
    let jobs: Vec<(usize, String, String)> = (0..1000)
        .map(|job| (job, names[job % 100].clone(), format!("1.0.{}", job / 100)))
        .collect();
    let statuses: Vec<(usize, u16)> = runtime.block_on(async {
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
        let mut publishes = tokio::task::JoinSet::new();
        for (job, name, version) in jobs {
            let client = client.clone();
            let base = nodes[job % nodes.len()].clone();
            let token = token.clone();
            let slot = std::sync::Arc::clone(&slots).acquire_owned().await.unwrap();
            publishes.spawn(async move {
                let status = npm_put(&client, &base, &token, &name, &version, &name)
                    .await
                    .unwrap();
                drop(slot);
                (job, status)
            });
        }
        publishes.join_all().await
    });
    let failed: Vec<_> = statuses
        .iter()
        .filter(|(_, status)| *status >= 300)
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    // Every node lists every version of every package, and serves every tarball whole.
    for base in &nodes {
        let checked: Vec<usize> = runtime.block_on(async {
            let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(8));
            let mut reads = tokio::task::JoinSet::new();
            for name in names.clone() {
                let client = client.clone();
                let token = token.clone();
                let base = base.clone();
                let slot = std::sync::Arc::clone(&slots).acquire_owned().await.unwrap();
                reads.spawn(async move {
                    let document = packument(&client, &base, &token, &name).await.unwrap();
                    let versions = document["versions"].as_object().unwrap();
                    assert_eq!(versions.len(), 10, "{name} from {base}: {document}");
                    for version in versions.keys() {
                        tarball(&client, &base, &token, &name, version).await;
                    }
                    drop(slot);
                    versions.len()
                });
            }
            reads.join_all().await
        });
        assert_eq!(checked.iter().sum::<usize>(), 1000, "{base}");
    }
}

/// What a client saw for one publish during the fault test.
#[derive(Debug)]
enum Outcome {
    /// Published (2xx), or 409 for bytes that turn out to be its own (an earlier attempt
    /// committed before its answer was lost).
    Published,
    /// What a client retries: 502, 503 or 504 from the balancer or a node, or a connection
    /// error.
    Retryable(u16),
}

#[test]
fn a_killed_node_a_restarted_database_and_a_paused_object_store_lose_nothing() {
    require_tool!(support::aws());
    require_tool!(S3Server::find());
    require_tool!(Nginx::find());
    // A cluster of this test's own, to restart.
    let postgres = require_tool!(Postgres::own());
    let mut cluster = Cluster::start(3, postgres);
    let token = cluster.token();
    let base = cluster.url();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));

    // Traffic through the balancer: one writer publishing versions one after the other as a
    // client would, retrying what is retryable, and recording every answer.
    let writer = {
        let stop = std::sync::Arc::clone(&stop);
        let token = token.clone();
        let base = base.clone();
        std::thread::spawn(move || {
            let runtime = runtime();
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap();
            let mut published = Vec::new();
            let mut seen = Vec::new();
            let mut version = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let number = format!("2.0.{version}");
                let content = format!("fault tolerant {version}");
                let outcome = runtime.block_on(async {
                    match npm_put(&client, &base, &token, "faults", &number, &content).await {
                        Ok(status) if status < 300 => Outcome::Published,
                        Ok(409) => Outcome::Published,
                        Ok(status) => Outcome::Retryable(status),
                        Err(_) => Outcome::Retryable(0),
                    }
                });
                match outcome {
                    Outcome::Published => {
                        published.push((number, content));
                        version += 1;
                    }
                    Outcome::Retryable(status) => {
                        seen.push(status);
                        std::thread::sleep(Duration::from_millis(200));
                    }
                }
            }
            (published, seen)
        })
    };
    let pause = |seconds: u64| std::thread::sleep(Duration::from_secs(seconds));

    pause(2);
    // A node dies mid-traffic and comes back.
    cluster.kill(1);
    pause(2);
    cluster.restart(1);
    pause(2);
    // The database restarts.
    let database = cluster.postgres.cluster.as_ref().expect("own cluster");
    database.stop();
    database.start_again();
    pause(2);
    // The object store stops answering for 10 s (a paused process: connections open, no
    // answers), then resumes.
    cluster.s3.pause();
    pause(10);
    cluster.s3.resume();
    pause(4);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (published, seen) = writer.join().unwrap();

    assert!(published.len() >= 10, "only {} published", published.len());
    assert!(
        seen.iter()
            .all(|status| matches!(status, 0 | 502 | 503 | 504)),
        "a client saw a non-retryable answer: {seen:?}"
    );
    // Nothing published is lost, and every node serves it whole and identical.
    let runtime = runtime();
    let client = reqwest::Client::new();
    for node in cluster.node_urls() {
        let document = runtime
            .block_on(packument(&client, &node, &token, "faults"))
            .unwrap();
        for (version, content) in &published {
            assert!(
                document["versions"][version].is_object(),
                "{version} lost on {node}"
            );
            let bytes = runtime.block_on(tarball(&client, &node, &token, "faults", version));
            assert_eq!(
                bytes,
                support::npm_tarball("faults", version, content),
                "{version} on {node}"
            );
        }
    }
    let report = cluster.verify(0);
    assert_eq!(
        report["problems"].as_array().map(Vec::len),
        Some(0),
        "{report}"
    );
}

#[test]
fn two_nodes_pulling_one_upstream_package_at_once_store_one_copy() {
    require_tool!(support::aws());
    require_tool!(S3Server::find());
    require_tool!(Nginx::find());
    let postgres = require_tool!(Postgres::get());
    // The public npm registry answers here (a mirror); every node declares it.
    let cluster = Cluster::start_with(
        3,
        postgres,
        Some(
            "external_connections:\n  - name: npmjs\n    format: npm\n    url: https://registry.npmjs.org/\ndomains:\n  - name: local\n    repositories: [main]\n",
        ),
    );
    cluster.aws_json_on(&[
        "associate-external-connection",
        "--external-connection",
        "npmjs",
    ]);
    let token = cluster.token();
    let nodes = cluster.node_urls();
    let runtime = runtime();
    let client = reqwest::Client::new();
    // Every node asks for the same package and tarball at the same moment.
    let tarballs: Vec<Vec<u8>> = runtime.block_on(async {
        let mut reads = tokio::task::JoinSet::new();
        for base in nodes.clone() {
            let client = client.clone();
            let token = token.clone();
            reads.spawn(async move { tarball(&client, &base, &token, "is-number", "7.0.0").await });
        }
        reads.join_all().await
    });
    assert!(tarballs.windows(2).all(|pair| pair[0] == pair[1]));
    // One version, with one asset, in the shared index.
    let versions = cluster.aws_json_on(&[
        "list-package-versions",
        "--format",
        "npm",
        "--package",
        "is-number",
    ]);
    let listed: Vec<&str> = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|version| version["version"].as_str())
        .collect();
    assert_eq!(listed, vec!["7.0.0"], "{versions}");
    let assets = cluster.aws_json_on(&[
        "list-package-version-assets",
        "--format",
        "npm",
        "--package",
        "is-number",
        "--package-version",
        "7.0.0",
    ]);
    assert_eq!(
        assets["assets"].as_array().map(Vec::len),
        Some(1),
        "{assets}"
    );
}
