//! The cargo data plane of `lading serve`, driven by the real cargo (1.74 or newer: sparse
//! registries with `auth-required`): `cargo login`, `cargo publish`, `cargo generate-lockfile`,
//! `cargo fetch`, `cargo build --offline`, `cargo yank` / `--undo` against the sparse index
//! and Web API, the tokens lading mints (cargo's scheme-less `Authorization`, and Bearer),
//! origin controls and package status through the AWS CLI, and the `public:crates-io`
//! external connection pulling through from crates.io (reachable from here) and serving its
//! cached index when it is down. Every cargo run has its own `CARGO_HOME`.
//!
//! See: issue #18, "Data planes", cargo.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::require_tool;
use crate::support::client::curl;
use crate::support::{self, LadingServer, ServerSpec, sha256_hex};

pub(crate) fn cargo() -> Option<PathBuf> {
    support::find_tool("LADING_TEST_CARGO", None, Some("cargo"))
}

/// Every peer these tests drive: cargo, curl and the AWS CLI.
fn clients() -> Option<()> {
    cargo()?;
    curl()?;
    support::aws()?;
    Some(())
}

/// cargo with a private `CARGO_HOME` whose `config.toml` names repository `main` of
/// `server` as the sparse registry `lading`.
pub(crate) struct Cargo {
    pub(crate) binary: PathBuf,
    pub(crate) rustup_home: PathBuf,
    root: PathBuf,
    pub(crate) home: PathBuf,
    /// The registry's index URL, without `sparse+`.
    pub(crate) index: String,
}

impl Cargo {
    pub(crate) fn new(root: &Path, server: &LadingServer, name: &str) -> Self {
        let real_home = std::env::var_os("HOME").map(PathBuf::from).unwrap();
        let rustup_home = std::env::var_os("RUSTUP_HOME")
            .map_or_else(|| real_home.join(".rustup"), PathBuf::from);
        let home = root.join(format!("cargo-home-{name}"));
        fs_err::create_dir_all(&home).unwrap();
        let index = format!("{}/d/local/cargo/main/", server.url);
        fs_err::write(
            home.join("config.toml"),
            format!(
                "[registries.lading]\nindex = \"sparse+{index}\"\ncredential-provider = [\"cargo:token\"]\n\n[registry]\nglobal-credential-providers = [\"cargo:token\"]\n\n[net]\nretry = 0\n"
            ),
        )
        .unwrap();
        Self {
            binary: cargo().expect("cargo"),
            rustup_home,
            root: root.to_path_buf(),
            home,
            index,
        }
    }

    /// `cargo ARGS` in `dir`.
    pub(crate) fn command(&self, dir: &Path, args: &[&str]) -> Command {
        let mut command = support::clean_command(&self.binary, &self.root.join("home"));
        command
            .current_dir(dir)
            .args(args)
            .env("CARGO_HOME", &self.home)
            .env("RUSTUP_HOME", &self.rustup_home)
            .env("CARGO_TARGET_DIR", self.root.join("target"))
            .env("CARGO_TERM_COLOR", "never");
        command
    }

    /// `cargo login --registry lading`, the token on stdin: it lands in this home's
    /// `credentials.toml`.
    fn login(&self, token: &str) {
        use std::io::Write as _;
        let mut child = self
            .command(&self.root, &["login", "--registry", "lading"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{token}\n").as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", support::describe(&output));
        let credentials = fs_err::read_to_string(self.home.join("credentials.toml")).unwrap();
        assert!(credentials.contains("[registries.lading]"), "{credentials}");
    }

    /// `cargo publish --registry lading` of the crate in `dir`, the token from `token` in
    /// `CARGO_REGISTRIES_LADING_TOKEN` (else what `cargo login` stored).
    pub(crate) fn publish(&self, dir: &Path, token: Option<&str>) -> Output {
        let mut command = self.command(
            dir,
            &[
                "publish",
                "--registry",
                "lading",
                "--no-verify",
                "--allow-dirty",
            ],
        );
        if let Some(token) = token {
            command.env("CARGO_REGISTRIES_LADING_TOKEN", token);
        }
        support::run(&mut command)
    }

    /// `cargo ARGS` in `dir` with `token` in `CARGO_REGISTRIES_LADING_TOKEN`.
    pub(crate) fn run(&self, dir: &Path, token: &str, args: &[&str]) -> Output {
        support::run(
            self.command(dir, args)
                .env("CARGO_REGISTRIES_LADING_TOKEN", token),
        )
    }
}

/// A crate `name` `version` under `root`, with `extra` appended to its manifest and
/// `lib` as its `src/lib.rs`.
pub(crate) fn fixture(root: &Path, name: &str, version: &str, extra: &str, lib: &str) -> PathBuf {
    let dir = root.join(format!("{name}-{version}-src"));
    fs_err::create_dir_all(dir.join("src")).unwrap();
    fs_err::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\ndescription = \"a lading test fixture\"\nlicense = \"MIT\"\npublish = [\"lading\"]\n{extra}"
        ),
    )
    .unwrap();
    fs_err::write(dir.join("src/lib.rs"), lib).unwrap();
    dir
}

/// A binary project `name` depending on `dependencies` (the `[dependencies]` table body).
pub(crate) fn project(root: &Path, name: &str, dependencies: &str, main: &str) -> PathBuf {
    let dir = root.join(name);
    fs_err::create_dir_all(dir.join("src")).unwrap();
    fs_err::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\n{dependencies}"
        ),
    )
    .unwrap();
    fs_err::write(dir.join("src/main.rs"), main).unwrap();
    dir
}

/// `GET url` with curl, sending the raw header value `authorization` (none when empty):
/// the status, the `x-lading-upstream` header, and the body.
fn get(url: &str, authorization: &str) -> (u16, Option<String>, Vec<u8>) {
    let scratch = tempfile::tempdir().unwrap();
    let (body, headers) = (scratch.path().join("body"), scratch.path().join("headers"));
    let mut command = support::clean_command(curl().expect("curl"), scratch.path());
    command
        .arg("-sS")
        .arg("-o")
        .arg(&body)
        .arg("-D")
        .arg(&headers);
    command.args(["-w", "%{http_code}"]);
    if !authorization.is_empty() {
        command.args(["-H", &format!("Authorization: {authorization}")]);
    }
    let output = support::run_ok(command.arg(url));
    let status = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap();
    let note = fs_err::read_to_string(&headers)
        .unwrap()
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("x-lading-upstream")
                .then(|| value.trim().to_owned())
        });
    (status, note, fs_err::read(&body).unwrap_or_default())
}

/// The index file at `path` under `index`, one JSON value per line, read with cargo's
/// scheme-less `Authorization`.
pub(crate) fn index_lines(index: &str, path: &str, token: &str) -> Vec<Value> {
    let (status, _, body) = get(&format!("{index}{path}"), token);
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    String::from_utf8(body)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

pub(crate) fn assert_ok(output: &Output) {
    assert!(output.status.success(), "{}", support::describe(output));
}

/// The `checksum` Cargo.lock records for `package`.
pub(crate) fn locked_checksum(project: &Path, package: &str) -> String {
    let lock = fs_err::read_to_string(project.join("Cargo.lock")).unwrap();
    let at = lock
        .find(&format!("name = \"{package}\""))
        .unwrap_or_else(|| panic!("{package} not in {lock}"));
    lock[at..]
        .lines()
        .find_map(|line| line.strip_prefix("checksum = \""))
        .map_or_else(
            || panic!("no checksum for {package} in {lock}"),
            |rest| rest.trim_end_matches('"').to_owned(),
        )
}

#[test]
fn cargo_publishes_to_the_sparse_index_and_builds_a_project_from_it() {
    require_tool!(clients());
    let (dir, server) = support::serve(ServerSpec::default());
    let root = dir.path();
    let token = server.token();
    let publisher = Cargo::new(root, &server, "publisher");
    publisher.login(&token);

    // Crates at each kind of index path (1/, 3/x/, ab/cd/), the last with renamed,
    // optional, target-specific and dev dependencies, `dep:` features, `links` and
    // `rust-version`.
    let q = fixture(root, "q", "0.1.0", "", "pub fn value() -> u32 { 40 }\n");
    let qrs = fixture(root, "qrs", "0.1.0", "", "pub fn value() -> u32 { 2 }\n");
    for dir in [&q, &qrs] {
        assert_ok(&publisher.publish(dir, None));
    }
    let b = fixture(
        root,
        "lading-fixture-b",
        "0.2.0",
        "links = \"ladingfixture\"\nrust-version = \"1.70\"\n\n[dependencies]\nrenamed = { package = \"q\", version = \"0.1\", registry = \"lading\", optional = true, default-features = false }\n\n[target.'cfg(unix)'.dependencies]\nqrs = { version = \"0.1\", registry = \"lading\" }\n\n[dev-dependencies]\nqrs = { version = \"0.1\", registry = \"lading\" }\n\n[features]\nextra = [\"dep:renamed\"]\nplain = []\n",
        "#[cfg(feature = \"extra\")]\npub fn answer() -> u32 { renamed::value() + qrs::value() }\n#[cfg(not(feature = \"extra\"))]\npub fn answer() -> u32 { qrs::value() }\n",
    );
    fs_err::write(b.join("build.rs"), "fn main() {}\n").unwrap();
    fs_err::write(b.join("README.md"), "# lading-fixture-b\n\nThe answer.\n").unwrap();
    // `cargo package` builds the same bytes `cargo publish` uploads (packaging is
    // reproducible): what the index's `cksum` and the download must match.
    assert_ok(&publisher.run(
        &b,
        &token,
        &[
            "package",
            "--registry",
            "lading",
            "--no-verify",
            "--allow-dirty",
        ],
    ));
    let packaged = fs_err::read(root.join("target/package/lading-fixture-b-0.2.0.crate")).unwrap();
    assert_ok(&publisher.publish(&b, None));
    let cksum = sha256_hex(&packaged);

    // config.json and the index lines, read with cargo's scheme-less Authorization.
    let (status, _, config) = get(&format!("{}config.json", publisher.index), &token);
    assert_eq!(status, 200);
    let config: Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(
        config,
        json!({
            "dl": format!("{}api/v1/crates", publisher.index),
            "api": publisher.index.trim_end_matches('/'),
            "auth-required": true,
        })
    );
    assert_eq!(index_lines(&publisher.index, "1/q", &token)[0]["name"], "q");
    assert_eq!(
        index_lines(&publisher.index, "3/q/qrs", &token)[0]["name"],
        "qrs"
    );
    let lines = index_lines(&publisher.index, "la/di/lading-fixture-b", &token);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let mut line = lines[0].clone();
    let mut deps = line["deps"].as_array().unwrap().clone();
    deps.sort_by_key(|dep| (dep["name"].to_string(), dep["kind"].to_string()));
    line["deps"] = Value::Array(deps);
    assert_eq!(
        line,
        json!({
            "name": "lading-fixture-b", "vers": "0.2.0", "cksum": cksum, "yanked": false,
            "links": "ladingfixture", "rust_version": "1.70", "v": 2,
            "features": {"plain": []}, "features2": {"extra": ["dep:renamed"]},
            "deps": [
                {"name": "qrs", "req": "^0.1", "features": [], "optional": false,
                 "default_features": true, "target": null, "kind": "dev"},
                {"name": "qrs", "req": "^0.1", "features": [], "optional": false,
                 "default_features": true, "target": "cfg(unix)", "kind": "normal"},
                {"name": "renamed", "package": "q", "req": "^0.1", "features": [],
                 "optional": true, "default_features": false, "target": null, "kind": "normal"}
            ]
        })
    );
    // Read back: the download is the packaged `.crate`, with Bearer as well.
    let (status, _, downloaded) = get(
        &format!(
            "{}api/v1/crates/lading-fixture-b/0.2.0/download",
            publisher.index
        ),
        &format!("Bearer {token}"),
    );
    assert_eq!(status, 200);
    assert_eq!(sha256_hex(&downloaded), cksum);

    // The control plane reads the readme and the dependencies cargo published.
    let on_b = |operation: &str| {
        server.aws_json_on(
            root,
            "main",
            &[
                operation,
                "--format",
                "cargo",
                "--package",
                "lading-fixture-b",
                "--package-version",
                "0.2.0",
            ],
        )
    };
    assert_eq!(
        on_b("get-package-version-readme")["readme"],
        "# lading-fixture-b\n\nThe answer.\n"
    );
    let mut dependencies: Vec<(String, String, String)> = on_b("list-package-version-dependencies")
        ["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|dependency| {
            let field = |name: &str| dependency[name].as_str().unwrap().to_owned();
            (
                field("package"),
                field("dependencyType"),
                field("versionRequirement"),
            )
        })
        .collect();
    dependencies.sort();
    let expected =
        |package: &str, kind: &str| (package.to_owned(), kind.to_owned(), "^0.1".to_owned());
    assert_eq!(
        dependencies,
        [
            expected("q", "normal"),
            expected("qrs", "dev"),
            expected("qrs", "normal")
        ]
    );
    let listed = server.aws_json_on(
        root,
        "main",
        &[
            "list-package-versions",
            "--format",
            "cargo",
            "--package",
            "lading-fixture-b",
        ],
    );
    assert_eq!(listed["versions"][0]["version"], "0.2.0", "{listed}");
    assert_eq!(listed["versions"][0]["status"], "Published", "{listed}");
    assert_eq!(
        listed["versions"][0]["origin"]["originType"], "INTERNAL",
        "{listed}"
    );

    // A consumer with its own CARGO_HOME and the token in CARGO_REGISTRIES_LADING_TOKEN:
    // resolves (the `extra` feature lives in `features2`), fetches, then builds offline.
    let consumer = Cargo::new(root, &server, "consumer");
    let app = project(
        root,
        "consumer",
        "lading-fixture-b = { version = \"0.2\", registry = \"lading\", features = [\"extra\"] }\n",
        "fn main() { println!(\"{}\", lading_fixture_b::answer()); }\n",
    );
    assert_ok(&consumer.run(&app, &token, &["generate-lockfile"]));
    assert_eq!(locked_checksum(&app, "lading-fixture-b"), cksum);
    assert_ok(&consumer.run(&app, &token, &["fetch"]));
    let output = consumer.run(&app, &token, &["run", "--offline", "--quiet"]);
    assert_ok(&output);
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "42");
}

#[test]
fn cargo_yank_maps_to_unlisted_and_a_version_is_published_once() {
    require_tool!(clients());
    let (dir, server) = support::serve(ServerSpec::default());
    let root = dir.path();
    let token = server.token();
    let cargo = Cargo::new(root, &server, "yank");
    let crate_dir = fixture(root, "lading-fixture-y", "1.0.0", "", "pub fn y() {}\n");
    assert_ok(&cargo.publish(&crate_dir, Some(&token)));

    // Republishing: cargo itself sees the version in the index and stops.
    fs_err::write(crate_dir.join("src/lib.rs"), "pub fn y() -> u8 { 1 }\n").unwrap();
    let again = cargo.publish(&crate_dir, Some(&token));
    support::assert_fails_with(
        &again,
        "lading-fixture-y@1.0.0 already exists on `lading` index",
    );

    let locked = project(
        root,
        "locked",
        "lading-fixture-y = { version = \"=1.0.0\", registry = \"lading\" }\n",
        "fn main() {}\n",
    );
    assert_ok(&cargo.run(&locked, &token, &["generate-lockfile"]));
    let status_of = |server: &LadingServer| {
        server.aws_json_on(
            root,
            "main",
            &[
                "list-package-versions",
                "--format",
                "cargo",
                "--package",
                "lading-fixture-y",
            ],
        )["versions"][0]["status"]
            .clone()
    };
    assert_eq!(status_of(&server), "Published");

    // Yanked: Unlisted, still in the index with `yanked: true`, so a new resolution refuses
    // it while a locked project still fetches it.
    assert_ok(&cargo.run(
        root,
        &token,
        &["yank", "--registry", "lading", "lading-fixture-y@1.0.0"],
    ));
    assert_eq!(status_of(&server), "Unlisted");
    let path = "la/di/lading-fixture-y";
    assert_eq!(index_lines(&cargo.index, path, &token)[0]["yanked"], true);
    let fresh = project(
        root,
        "fresh",
        "lading-fixture-y = { version = \"=1.0.0\", registry = \"lading\" }\n",
        "fn main() {}\n",
    );
    let refused = cargo.run(&fresh, &token, &["generate-lockfile"]);
    support::assert_fails_with(&refused, "yanked");
    let other_home = Cargo::new(root, &server, "locked-fetch");
    assert_ok(&other_home.run(&locked, &token, &["fetch", "--locked"]));

    // Unyanked: Published again, and new resolutions take it.
    assert_ok(&cargo.run(
        root,
        &token,
        &[
            "yank",
            "--undo",
            "--registry",
            "lading",
            "lading-fixture-y@1.0.0",
        ],
    ));
    assert_eq!(status_of(&server), "Published");
    assert_eq!(index_lines(&cargo.index, path, &token)[0]["yanked"], false);
    assert_ok(&cargo.run(&fresh, &token, &["generate-lockfile"]));

    // Archived through the control plane: out of the index and out of reach.
    server.aws_json_on(
        root,
        "main",
        &[
            "update-package-versions-status",
            "--format",
            "cargo",
            "--package",
            "lading-fixture-y",
            "--versions",
            "1.0.0",
            "--target-status",
            "Archived",
        ],
    );
    let (status, _, _) = get(&format!("{}{path}", cargo.index), &token);
    assert_eq!(status, 404);
    let (status, _, _) = get(
        &format!(
            "{}api/v1/crates/lading-fixture-y/1.0.0/download",
            cargo.index
        ),
        &token,
    );
    assert_eq!(status, 404);

    // Now cargo no longer sees the version and uploads it: the registry refuses it, as
    // crates.io refuses a version published before, in cargo's error format.
    let again = cargo.publish(&crate_dir, Some(&token));
    support::assert_fails_with(
        &again,
        "crate version `lading-fixture-y@1.0.0` is already uploaded",
    );
}

#[test]
fn cargo_tokens_are_checked_and_origin_controls_block_publishing() {
    require_tool!(clients());
    let (dir, server) = support::serve(ServerSpec::with_config(support::PRINCIPALS_CONFIG));
    let root = dir.path();
    let token = server.token();
    let reader = server.token_as(root, &support::READER.credentials(root));
    let cargo = Cargo::new(root, &server, "auth");
    let config = format!("{}config.json", cargo.index);

    // No token: 401, which is what makes cargo send one; cargo's scheme-less token and
    // Bearer are both accepted; an unknown token is not.
    assert_eq!(get(&config, "").0, 401);
    assert_eq!(get(&config, &token).0, 200);
    assert_eq!(get(&config, &format!("Bearer {token}")).0, 200);
    assert_eq!(get(&config, "ldt_not-a-token").0, 401);

    let crate_dir = fixture(root, "lading-fixture-o", "0.1.0", "", "pub fn o() {}\n");
    assert_ok(&cargo.publish(&crate_dir, Some(&token)));

    // A reader may read but not publish: cargo shows the registry's JSON error.
    let newer = fixture(root, "lading-fixture-o", "0.2.0", "", "pub fn o() {}\n");
    let denied = cargo.publish(&newer, Some(&reader));
    support::assert_fails_with(
        &denied,
        "principal `reader` may not publish to repository `local/main`",
    );
    assert_eq!(get(&config, &reader).0, 200);

    // publish=BLOCK refuses the admin too.
    server.aws_json_on(
        root,
        "main",
        &[
            "put-package-origin-configuration",
            "--format",
            "cargo",
            "--package",
            "lading-fixture-o",
            "--restrictions",
            "publish=BLOCK,upstream=ALLOW",
        ],
    );
    let blocked = cargo.publish(&newer, Some(&token));
    support::assert_fails_with(
        &blocked,
        "blocked by its package origin configuration (publish=BLOCK)",
    );
}

#[test]
fn cargo_pulls_through_crates_io_and_serves_the_cached_index_when_it_is_down() {
    require_tool!(clients());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (server, token) =
        LadingServer::start_through(root, ServerSpec::default(), "public:crates-io");
    let cargo = Cargo::new(root, &server, "crates-io");
    let app = project(
        root,
        "through",
        "itoa = { version = \"=1.0.11\", registry = \"lading\" }\n",
        "fn main() { println!(\"{}\", itoa::Buffer::new().format(7)); }\n",
    );
    assert_ok(&cargo.run(&app, &token, &["generate-lockfile"]));
    assert_ok(&cargo.run(&app, &token, &["fetch"]));
    // The checksum cargo verified is crates.io's, and the version is recorded as pulled
    // from the external connection.
    let upstream = index_lines(&cargo.index, "it/oa/itoa", &token);
    let line = upstream
        .iter()
        .find(|line| line["vers"] == "1.0.11")
        .expect("itoa 1.0.11 in the index");
    assert_eq!(
        locked_checksum(&app, "itoa"),
        line["cksum"].as_str().unwrap()
    );
    let listed = server.aws_json_on(
        root,
        "main",
        &[
            "list-package-versions",
            "--format",
            "cargo",
            "--package",
            "itoa",
        ],
    );
    assert_eq!(listed["versions"][0]["version"], "1.0.11", "{listed}");
    assert_eq!(
        listed["versions"][0]["origin"]["originType"], "EXTERNAL",
        "{listed}"
    );
    drop(server);

    // crates.io unreachable (the connection pointed at a closed port), metadata revalidated
    // on every request: the cached index still serves, and says so.
    let server = LadingServer::start(
        &root.join("data"),
        ServerSpec {
            config: Some(
                "external_connections:\n  - name: public:crates-io\n    format: cargo\n    url: http://127.0.0.1:9/\n",
            ),
            args: vec!["--metadata-ttl", "0"],
            ..ServerSpec::default()
        },
    );
    let cargo = Cargo::new(root, &server, "crates-io-down");
    let (status, note, _) = get(&format!("{}it/oa/itoa", cargo.index), &token);
    assert_eq!(status, 200);
    let note = note.expect("an x-lading-upstream header");
    assert!(
        note.contains("public:crates-io unavailable; served from cache"),
        "{note}"
    );
    fs_err::remove_file(app.join("Cargo.lock")).unwrap();
    assert_ok(&cargo.run(&app, &token, &["generate-lockfile"]));
    assert_ok(&cargo.run(&app, &token, &["fetch"]));
    assert_eq!(
        locked_checksum(&app, "itoa"),
        line["cksum"].as_str().unwrap()
    );
}
