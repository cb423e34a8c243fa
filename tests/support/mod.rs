//! Test support shared by every integration test binary: locating real peers (npm, the AWS
//! CLI, Python with boto3) and saying so when one is missing, starting `lading serve` on a
//! free loopback port ([`serve`]) with its principals ([`READER`], [`PUBLISHER`]), and
//! running commands with a scrubbed environment so a developer's or CI runner's own
//! credentials never leak into a test. Requests with credentials (curl, reqwest, `.npmrc`s)
//! are in [`client`], fixtures built in memory (tarballs) below, snapshots of command output in
//! [`snapshot`].

#![allow(dead_code, reason = "each test module uses a different subset")]

pub mod client;
pub mod faults;
pub mod peers;
pub mod postgres;
pub mod snapshot;
pub mod webdriver;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The `lading` binary under test.
pub fn lading_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lading"))
}

/// Whether missing peers must fail the test (`LADING_TEST_REQUIRE_TOOLS=1`, set by `.ci/run`).
pub fn tools_required() -> bool {
    #[expect(
        clippy::disallowed_methods,
        reason = "tests read the runner's environment directly"
    )]
    std::env::var("LADING_TEST_REQUIRE_TOOLS").is_ok_and(|value| value == "1")
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The running test's name, for skip messages: libtest names the thread that runs a test after
/// it; nextest also exports `NEXTEST_TEST_NAME`.
pub fn current_test_name() -> String {
    std::thread::current()
        .name()
        .filter(|name| *name != "main")
        .map(str::to_owned)
        .or_else(|| {
            std::env::var_os("NEXTEST_TEST_NAME").map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "this test".to_owned())
}

/// Say that the running test skips (it then returns and passes without having checked
/// anything): `SKIPPED: <test>: <reason>` on stderr, which `.config/nextest.toml` shows at the
/// end of a local `cargo nextest run`. Under `LADING_TEST_REQUIRE_TOOLS=1` (CI) a skip is a
/// failure instead, so in CI "passed" always means "ran".
pub fn skip(reason: &str) {
    let test = current_test_name();
    assert!(
        !tools_required(),
        "{test}: {reason} (`LADING_TEST_REQUIRE_TOOLS=1` requires every peer)"
    );
    #[expect(
        clippy::print_stderr,
        reason = "the skip reason belongs in the test output"
    )]
    {
        eprintln!(
            "SKIPPED: {test}: {reason} (the test returned without running; `LADING_TEST_REQUIRE_TOOLS=1` makes this a failure)"
        );
    }
}

/// Where a peer would be: `$env_var` if set, then `<peers>/<relative>` (what
/// `.ci/install-peers` writes), then `fallback` on `PATH`. Says nothing when it is missing.
pub fn locate_tool(
    env_var: &str,
    peers_relative: Option<&str>,
    fallback: Option<&str>,
) -> Option<PathBuf> {
    let from_env = std::env::var_os(env_var)
        .map(PathBuf::from)
        .filter(|path| path.exists());
    let peers = std::env::var_os("LADING_PEERS_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join(".peers"),
        PathBuf::from,
    );
    let from_peers = peers_relative
        .map(|relative| peers.join(relative))
        .filter(|path| path.exists());
    from_env.or(from_peers).or_else(|| fallback.and_then(which))
}

/// Find a peer the running test needs ([`locate_tool`]). When it is missing: a failure under
/// `LADING_TEST_REQUIRE_TOOLS=1`, otherwise a [`skip`] naming the test and the tool, and `None`.
pub fn find_tool(
    env_var: &str,
    peers_relative: Option<&str>,
    fallback: Option<&str>,
) -> Option<PathBuf> {
    let found = locate_tool(env_var, peers_relative, fallback);
    if found.is_none() {
        let tool = fallback
            .or_else(|| peers_relative.and_then(|relative| relative.rsplit('/').next()))
            .unwrap_or(env_var);
        skip(&format!(
            "`{tool}` not found: set `{env_var}` or run `.ci/install-peers` (looked in `.peers/` for {peers_relative:?} and on PATH for {fallback:?})"
        ));
    }
    found
}

/// Return early from a test when a peer is missing (and not required), after [`find_tool`]
/// has printed `SKIPPED: …`: `let npm = require_tool!(support::npm());`
#[macro_export]
macro_rules! require_tool {
    ($found:expr) => {
        match $found {
            Some(path) => path,
            None => return,
        }
    };
}

/// Python with boto3 (the peers venv).
pub fn python() -> Option<PathBuf> {
    find_tool("LADING_TEST_PYTHON", Some("venv/bin/python"), None)
}

/// The AWS CLI v1.
pub fn aws() -> Option<PathBuf> {
    find_tool("LADING_TEST_AWS", Some("venv/bin/aws"), None)
}

/// npm.
pub fn npm() -> Option<PathBuf> {
    find_tool("LADING_TEST_NPM", None, Some("npm"))
}

/// A command with a clean environment: only `PATH`, a private `HOME`, and what the test adds.
pub fn clean_command(program: impl AsRef<std::ffi::OsStr>, home: &Path) -> Command {
    let mut command = Command::new(program);
    command.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .env("LANG", "C.UTF-8");
    command
}

/// Run and capture; panics with both streams if the command could not start.
pub fn run(command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("failed to run {command:?}: {error}"))
}

/// Run and require success, showing both streams otherwise.
pub fn run_ok(command: &mut Command) -> Output {
    let output = run(command);
    assert!(
        output.status.success(),
        "command failed: {command:?}\n{}",
        describe(&output)
    );
    output
}

/// `output` exited with `code` and its stderr contains `needle` (both streams shown when not).
pub fn assert_exit_with(output: &Output, code: i32, needle: &str) {
    assert_eq!(output.status.code(), Some(code), "{}", describe(output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(needle),
        "{}",
        describe(output)
    );
}

/// `output` failed and its stderr contains `needle` (both streams shown when not).
pub fn assert_fails_with(output: &Output, needle: &str) {
    assert!(!output.status.success(), "{}", describe(output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(needle),
        "{}",
        describe(output)
    );
}

/// Both streams of an output, for assertion messages.
pub fn describe(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Access keys from a `credentials` file's `[default]` profile.
pub fn read_credentials(path: &Path) -> (String, String) {
    let text = fs_err::read_to_string(path).expect("credentials file");
    let value = |key: &str| {
        text.lines()
            .find_map(|line| {
                line.strip_prefix(key)
                    .map(|rest| rest.trim_start().trim_start_matches('=').trim().to_owned())
            })
            .unwrap_or_else(|| panic!("`{key}` missing from {}", path.display()))
    };
    (value("aws_access_key_id"), value("aws_secret_access_key"))
}

/// A running `lading serve` child process, stopped on drop.
pub struct LadingServer {
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// Data directory.
    pub data: PathBuf,
    child: Child,
    log: Arc<Mutex<String>>,
}

/// How to start a server.
#[derive(Default)]
pub struct ServerSpec<'a> {
    /// Config file contents (`--config`).
    pub config: Option<&'a str>,
    /// Extra environment.
    pub env: Vec<(&'a str, String)>,
    /// Extra arguments.
    pub args: Vec<&'a str>,
    /// Listen address (`127.0.0.1:0`, any free port, when `None`).
    pub listen: Option<&'a str>,
    /// Open-file limit (`ulimit -n`) to start the server with, through `prlimit`.
    pub open_file_limit: Option<u64>,
}

impl<'a> ServerSpec<'a> {
    /// A server started with the config file `config`.
    pub fn with_config(config: &'a str) -> Self {
        Self {
            config: Some(config),
            ..Self::default()
        }
    }

    /// A server started with the extra arguments `args`.
    pub fn with_args(args: Vec<&'a str>) -> Self {
        Self {
            args,
            ..Self::default()
        }
    }
}

/// `args` followed by `--domain local --repository <repository>`: an AWS CLI call on one
/// repository of the domain every test uses.
pub fn on_repository<'a>(repository: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    args.iter()
        .copied()
        .chain(["--domain", "local", "--repository", repository])
        .collect()
}

/// A temporary directory and a server started over its `data` subdirectory: the directory is
/// the test's scratch space (homes, credentials files), removed after the server stops.
pub fn serve(spec: ServerSpec<'_>) -> (tempfile::TempDir, LadingServer) {
    let dir = tempfile::tempdir().unwrap();
    let server = LadingServer::start(&dir.path().join("data"), spec);
    (dir, server)
}

impl LadingServer {
    /// Start on a free port over `data`; waits until the server prints its address.
    #[expect(
        clippy::needless_pass_by_value,
        reason = "call sites read better building the spec inline"
    )]
    pub fn start(data: &Path, spec: ServerSpec<'_>) -> Self {
        let mut command = match spec.open_file_limit {
            Some(limit) => {
                let mut command = clean_command("prlimit", data);
                command
                    .arg(format!("--nofile={limit}:{limit}"))
                    .arg("--")
                    .arg(lading_bin());
                command
            }
            None => clean_command(lading_bin(), data),
        };
        command
            .arg("serve")
            .arg("--data")
            .arg(data)
            .arg("--listen")
            .arg(spec.listen.unwrap_or("127.0.0.1:0"));
        if let Some(config) = spec.config {
            let path = data.with_extension("config.yml");
            fs_err::write(&path, config).unwrap();
            command.arg("--config").arg(&path);
        }
        command.args(&spec.args);
        for (key, value) in &spec.env {
            command.env(key, value);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn lading serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (sender, receiver) = std::sync::mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut sender = Some(sender);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                {
                    let mut log = sink.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
                if let Some(rest) = line.split("listening on ").nth(1)
                    && let Some(sender) = sender.take()
                {
                    let url = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    let _ = sender.send(url);
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = loop {
            if let Ok(url) = receiver.recv_timeout(Duration::from_millis(50)) {
                break url;
            }
            if let Ok(Some(status)) = child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "lading serve exited with {status}:\n{}",
                    log.lock().unwrap()
                );
            }
            assert!(
                Instant::now() < deadline,
                "lading serve did not start:\n{}",
                log.lock().unwrap()
            );
        };
        Self {
            url,
            data: data.to_path_buf(),
            child,
            log,
        }
    }

    /// Start over `<dir>/data` with `spec`, whose config names the external connection
    /// `connection`, and associate it with repository `main`: the server and a token the admin
    /// minted with the AWS CLI.
    pub fn start_through(dir: &Path, spec: ServerSpec<'_>, connection: &str) -> (Self, String) {
        let server = Self::start(&dir.join("data"), spec);
        server.associate(dir, "main", connection);
        let token = server.admin_token(dir);
        (server, token)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the server wrote to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The admin credentials file.
    pub fn credentials_file(&self) -> PathBuf {
        self.data.join("credentials")
    }

    /// Environment for AWS clients (CLI, boto3) using the admin principal.
    pub fn aws_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                self.credentials_file().display().to_string(),
            ),
            ("AWS_CONFIG_FILE", "/dev/null".to_owned()),
            ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ]
    }

    /// `aws codeartifact ARGS --endpoint-url <this server> --output json` as the admin, in `home`.
    pub fn aws_command(&self, home: &Path, args: &[&str]) -> Command {
        let aws = aws().expect("aws");
        let mut command = clean_command(aws, home);
        command.arg("codeartifact").args(args).args([
            "--endpoint-url",
            &self.url,
            "--output",
            "json",
        ]);
        command.envs(self.aws_env());
        command
    }

    /// Run [`LadingServer::aws_command`], require success, and parse its JSON (`Null` when
    /// the command prints nothing).
    pub fn aws_json(&self, home: &Path, args: &[&str]) -> serde_json::Value {
        let output = run_ok(&mut self.aws_command(home, args));
        if output.stdout.is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|error| panic!("{error}: {}", describe(&output)))
    }

    /// A repository token for domain `local`, minted by lading's own CodeArtifact client as
    /// the principal whose keys are in `credentials` (the admin's:
    /// [`LadingServer::credentials_file`]); `duration` in seconds, else the server's default.
    pub fn mint_token(&self, credentials: &Path, duration: Option<i64>) -> String {
        use lading::repository::codeartifact::{CodeArtifact, Target};
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let target = Target {
                domain: "local".to_owned(),
                domain_owner: None,
                repository: "main".to_owned(),
                region: Some("us-east-1".to_owned()),
                endpoint_url: Some(self.url.clone()),
            };
            let client = CodeArtifact::connect_with_profile_file(target, credentials).await;
            client
                .authorization_token(duration)
                .await
                .unwrap()
                .0
                .expose()
                .clone()
        })
    }

    /// [`LadingServer::aws_command`] on `repository` of domain `local`: `args` followed by
    /// `--domain local --repository <repository>`.
    pub fn aws_command_on(&self, home: &Path, repository: &str, args: &[&str]) -> Command {
        self.aws_command(home, &on_repository(repository, args))
    }

    /// [`LadingServer::aws_json`] on `repository` of domain `local`: `args` followed by
    /// `--domain local --repository <repository>`.
    pub fn aws_json_on(&self, home: &Path, repository: &str, args: &[&str]) -> serde_json::Value {
        self.aws_json(home, &on_repository(repository, args))
    }

    /// The endpoint of repository `main` for `format`, as the AWS CLI's
    /// `get-repository-endpoint` returns it to the admin.
    pub fn repository_endpoint(&self, home: &Path, format: &str) -> String {
        self.aws_json_on(
            home,
            "main",
            &["get-repository-endpoint", "--format", format],
        )["repositoryEndpoint"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A repository token for domain `local`, minted as the admin by lading's own client, with
    /// the server's default duration.
    pub fn token(&self) -> String {
        self.mint_token(&self.credentials_file(), None)
    }

    /// `aws codeartifact ARGS` signed with the keys in `credentials` (not the admin's), run
    /// and captured.
    pub fn aws_as(&self, home: &Path, credentials: &Path, args: &[&str]) -> Output {
        let mut command = self.aws_command(home, args);
        command.env("AWS_SHARED_CREDENTIALS_FILE", credentials);
        run(&mut command)
    }

    /// A repository token for domain `local`, minted with the AWS CLI as the principal whose
    /// keys are in `credentials`.
    pub fn token_as(&self, home: &Path, credentials: &Path) -> String {
        let output = self.aws_as(
            home,
            credentials,
            &["get-authorization-token", "--domain", "local"],
        );
        assert!(output.status.success(), "{}", describe(&output));
        let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        value["authorizationToken"].as_str().unwrap().to_owned()
    }

    /// A repository token for domain `local`, minted by the admin with the AWS CLI.
    pub fn admin_token(&self, home: &Path) -> String {
        self.aws_json(home, &["get-authorization-token", "--domain", "local"])["authorizationToken"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// `associate-external-connection` of `connection` to `repository` in domain `local`.
    pub fn associate(&self, home: &Path, repository: &str, connection: &str) -> serde_json::Value {
        self.aws_json(
            home,
            &[
                "associate-external-connection",
                "--domain",
                "local",
                "--repository",
                repository,
                "--external-connection",
                connection,
            ],
        )
    }

    /// Kill the server at once (SIGKILL), as a crash would, and wait for it.
    pub fn kill(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log()
    }

    /// Stop the server (SIGTERM, then kill) and wait for it.
    pub fn stop(mut self) -> String {
        self.terminate();
        self.log()
    }

    fn terminate(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LadingServer {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// A config with a read-only and a publish-only principal besides the generated admin.
pub const PRINCIPALS_CONFIG: &str = "
principals:
  - name: reader
    access_key_id: LKIAREADER0000000001
    secret_access_key: reader-secret-0000000000000000000000000
    grants:
      - domain: local
        repository: main
        permissions: [read]
  - name: publisher
    access_key_id: LKIAPUBLISHER0000001
    secret_access_key: publisher-secret-000000000000000000000
    grants:
      - domain: local
        repository: '*'
        permissions: [publish]
domains:
  - name: local
    repositories: [main, other]
";

/// A principal of [`PRINCIPALS_CONFIG`].
pub struct Principal {
    /// Its name, also the credentials file's.
    pub name: &'static str,
    /// Access key id.
    pub access_key_id: &'static str,
    /// Secret access key.
    pub secret_access_key: &'static str,
}

/// `reader` of [`PRINCIPALS_CONFIG`]: reads `main`.
pub const READER: Principal = Principal {
    name: "reader",
    access_key_id: "LKIAREADER0000000001",
    secret_access_key: "reader-secret-0000000000000000000000000",
};

/// `publisher` of [`PRINCIPALS_CONFIG`]: publishes to every repository, reads none.
pub const PUBLISHER: Principal = Principal {
    name: "publisher",
    access_key_id: "LKIAPUBLISHER0000001",
    secret_access_key: "publisher-secret-000000000000000000000",
};

impl Principal {
    /// Write this principal's shared-credentials file in `dir` and return its path.
    pub fn credentials(&self, dir: &Path) -> PathBuf {
        write_credentials(dir, self.name, self.access_key_id, self.secret_access_key)
    }
}

/// Write a shared-credentials file for one key pair and return its path.
pub fn write_credentials(dir: &Path, name: &str, access_key_id: &str, secret: &str) -> PathBuf {
    let path = dir.join(format!("{name}.credentials"));
    fs_err::write(
        &path,
        format!(
            "[default]\naws_access_key_id = {access_key_id}\naws_secret_access_key = {secret}\n"
        ),
    )
    .unwrap();
    path
}

/// A gzipped tarball built in memory, one regular file (mode 0644) at a time.
pub struct TarGz(tar::Builder<flate2::write::GzEncoder<Vec<u8>>>);

impl TarGz {
    /// An empty tarball compressed at `compression`.
    pub fn new(compression: flate2::Compression) -> Self {
        Self(tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            compression,
        )))
    }

    /// Add `path` with the `size` bytes `data` reads.
    #[must_use]
    pub fn file_from(mut self, path: &str, size: u64, data: impl std::io::Read) -> Self {
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(0o644);
        header.set_cksum();
        self.0.append_data(&mut header, path, data).unwrap();
        self
    }

    /// Add `path` holding `data`.
    #[must_use]
    pub fn file(self, path: &str, data: &[u8]) -> Self {
        self.file_from(path, data.len() as u64, data)
    }

    /// The compressed bytes.
    pub fn finish(self) -> Vec<u8> {
        self.0.into_inner().unwrap().finish().unwrap()
    }
}

/// A gzipped tarball of `entries` (path, bytes) compressed at `compression`.
pub fn tar_gz(entries: &[(&str, &[u8])], compression: flate2::Compression) -> Vec<u8> {
    entries
        .iter()
        .fold(TarGz::new(compression), |tarball, (path, data)| {
            tarball.file(path, data)
        })
        .finish()
}

/// A gzipped npm tarball holding `package/package.json` with `name` and `version`, and
/// `package/index.js` with `content` (what makes two tarballs of one version differ).
pub fn npm_tarball(name: &str, version: &str, content: &str) -> Vec<u8> {
    let manifest = serde_json::json!({ "name": name, "version": version }).to_string();
    tar_gz(
        &[
            ("package/package.json", manifest.as_bytes()),
            ("package/index.js", content.as_bytes()),
        ],
        flate2::Compression::fast(),
    )
}

/// A zip of `entries` (name, bytes), deflated: a `.nupkg` when one is a `.nuspec`.
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write as _;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content) in entries {
        writer
            .start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(content).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// Every `(file, outcome, note)` of the report `lading publish --json` prints, in its order
/// (`note` empty when there is none).
pub fn publish_report_files(report: &serde_json::Value) -> Vec<(String, String, String)> {
    report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|package| package["files"].as_array().unwrap().clone())
        .map(|file| {
            (
                file["file"].as_str().unwrap().to_owned(),
                file["outcome"].as_str().unwrap().to_owned(),
                file["note"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Every file under `dir`, at any depth (none when `dir` does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = fs_err::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// The lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// `aws codeartifact publish-package-version` arguments publishing `file` (whose sha256 is
/// `sha256`) as asset `asset` of the generic package `ns/package@version`; the repository
/// and domain come from the command (`LadingServer::aws_command_on`) or further arguments.
pub fn generic_publish_args<'a>(
    package: &'a str,
    version: &'a str,
    asset: &'a str,
    file: &'a str,
    sha256: &'a str,
) -> Vec<&'a str> {
    vec![
        "publish-package-version",
        "--format",
        "generic",
        "--namespace",
        "ns",
        "--package",
        package,
        "--package-version",
        version,
        "--asset-name",
        asset,
        "--asset-content",
        file,
        "--asset-sha256",
        sha256,
    ]
}
