//! The npm data plane of `lading serve`, driven by the real AWS CLI (`codeartifact login
//! --tool npm`) and the real npm client: publish, install from a fresh cache, read-only
//! tokens, missing tokens, republishing.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::require_tool;
use crate::support::{self, LadingServer, ServerSpec};

pub(crate) struct NpmUser {
    pub(crate) home: PathBuf,
    pub(crate) npm: PathBuf,
}

/// Every `:_authToken=` value of an `.npmrc`, in order.
pub(crate) fn npmrc_tokens(npmrc: &str) -> Vec<String> {
    npmrc
        .lines()
        .filter_map(|line| {
            line.split_once(":_authToken=")
                .map(|(_, token)| token.to_owned())
        })
        .collect()
}

impl NpmUser {
    /// A user whose `~/.npmrc` was written by `aws codeartifact login --tool npm`.
    pub(crate) fn login(
        server: &LadingServer,
        root: &Path,
        name: &str,
        credentials: &Path,
        repository: &str,
    ) -> Self {
        let aws = support::aws().expect("aws");
        let npm = support::npm().expect("npm");
        let home = root.join(name);
        fs_err::create_dir_all(&home).unwrap();
        let mut command = support::clean_command(&aws, &home);
        command
            .args([
                "codeartifact",
                "login",
                "--tool",
                "npm",
                "--domain",
                "local",
                "--domain-owner",
                "000000000000",
                "--repository",
                repository,
            ])
            .args(["--endpoint-url", &server.url, "--region", "us-east-1"])
            .env("AWS_SHARED_CREDENTIALS_FILE", credentials)
            .env("AWS_CONFIG_FILE", "/dev/null");
        support::run_ok(&mut command);
        Self { home, npm }
    }

    pub(crate) fn npmrc(&self) -> String {
        fs_err::read_to_string(self.home.join(".npmrc")).unwrap()
    }

    /// The token `aws codeartifact login` put in the user's `.npmrc`.
    pub(crate) fn token(&self) -> String {
        npmrc_tokens(&self.npmrc()).remove(0)
    }

    /// [`NpmUser::npm`], which must succeed.
    pub(crate) fn npm_ok(&self, cwd: &Path, args: &[&str]) -> std::process::Output {
        let output = self.npm(cwd, args);
        assert!(output.status.success(), "{}", support::describe(&output));
        output
    }

    pub(crate) fn npm(&self, cwd: &Path, args: &[&str]) -> std::process::Output {
        let mut command: Command = support::clean_command(&self.npm, &self.home);
        command.current_dir(cwd).args(args).args([
            "--no-audit",
            "--no-fund",
            "--no-update-notifier",
        ]);
        command.env("npm_config_cache", self.home.join("npm-cache"));
        support::run(&mut command)
    }
}

pub(crate) fn package(root: &Path, name: &str, version: &str, body: &str) -> PathBuf {
    let dir = root.join(format!(
        "src-{}-{version}",
        name.replace('/', "-").replace('@', "")
    ));
    fs_err::create_dir_all(&dir).unwrap();
    fs_err::write(dir.join("package.json"), format!(r#"{{"name":"{name}","version":"{version}","description":"test package","main":"index.js","license":"MIT"}}"#)).unwrap();
    fs_err::write(dir.join("index.js"), format!("module.exports = {body};\n")).unwrap();
    dir
}

pub(crate) fn app(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    fs_err::create_dir_all(&dir).unwrap();
    fs_err::write(
        dir.join("package.json"),
        r#"{"name":"app","version":"1.0.0","private":true}"#,
    )
    .unwrap();
    dir
}

#[test]
fn aws_cli_login_then_npm_publish_and_install_scoped_and_unscoped() {
    require_tool!(support::aws());
    let npm = require_tool!(support::npm());
    let (dir, server) = support::serve(ServerSpec::with_config(support::PRINCIPALS_CONFIG));
    let admin = NpmUser::login(
        &server,
        dir.path(),
        "admin",
        &server.credentials_file(),
        "main",
    );
    let npmrc = admin.npmrc();
    let registry = format!("{}/d/local/npm/main/", server.url);
    assert!(npmrc.contains(&format!("registry={registry}")), "{npmrc}");
    assert!(npmrc.contains(":_authToken=ldt_"), "{npmrc}");

    for (name, body) in [("@acme/widget", "'scoped'"), ("lading-plain", "'plain'")] {
        let source = package(dir.path(), name, "1.0.0", body);
        let published = admin.npm(&source, &["publish"]);
        assert!(
            published.status.success(),
            "npm publish {name}: {}",
            support::describe(&published)
        );
    }
    // Republishing a version is refused.
    let again = admin.npm(&dir.path().join("src-acme-widget-1.0.0"), &["publish"]);
    assert!(
        !again.status.success(),
        "republish must fail: {}",
        support::describe(&again)
    );
    // npm 11 checks the packument first; the server would answer 409 to the PUT itself.
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("cannot publish over the previously published versions")
            || stderr.contains("E409"),
        "{stderr}"
    );

    // A second version and a dist-tag.
    let source = package(dir.path(), "@acme/widget", "1.1.0-beta.1", "'beta'");
    admin.npm_ok(&source, &["publish", "--tag", "beta"]);
    let tags = admin.npm_ok(dir.path(), &["dist-tag", "ls", "@acme/widget"]);
    let tags = String::from_utf8_lossy(&tags.stdout);
    assert!(
        tags.contains("beta: 1.1.0-beta.1") && tags.contains("latest: 1.0.0"),
        "{tags}"
    );

    // A fresh consumer with an empty cache installs both; latest resolves to 1.0.0.
    let consumer = app(dir.path(), "consumer");
    admin.npm_ok(&consumer, &["install", "@acme/widget", "lading-plain"]);
    let mut node = Command::new(npm.with_file_name("node"));
    if !node.get_program().to_string_lossy().contains('/')
        || !Path::new(node.get_program()).exists()
    {
        node = Command::new("node");
    }
    node.current_dir(&consumer).args([
        "-e",
        "console.log(require('@acme/widget') + ' ' + require('lading-plain'))",
    ]);
    let output = support::run_ok(&mut node);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "scoped plain"
    );
    let lock = fs_err::read_to_string(consumer.join("package-lock.json")).unwrap();
    assert!(
        lock.contains(&format!("{registry}@acme/widget/-/widget-1.0.0.tgz")),
        "{lock}"
    );
    assert!(lock.contains("\"integrity\": \"sha512-"), "{lock}");

    // npm view shows both versions.
    let view = admin.npm(dir.path(), &["view", "@acme/widget", "versions", "--json"]);
    let versions: Vec<String> = serde_json::from_slice(&view.stdout)
        .unwrap_or_else(|_| panic!("{}", support::describe(&view)));
    assert_eq!(versions, vec!["1.0.0", "1.1.0-beta.1"]);
    let whoami = admin.npm(dir.path(), &["whoami"]);
    assert_eq!(
        String::from_utf8_lossy(&whoami.stdout).trim(),
        "admin",
        "{}",
        support::describe(&whoami)
    );
}

#[test]
fn read_only_token_installs_but_cannot_publish_and_no_token_gets_e401() {
    require_tool!(support::aws());
    require_tool!(support::npm());
    let (dir, server) = support::serve(ServerSpec::with_config(support::PRINCIPALS_CONFIG));
    let admin = NpmUser::login(
        &server,
        dir.path(),
        "admin",
        &server.credentials_file(),
        "main",
    );
    let source = package(dir.path(), "@acme/readonly", "2.0.0", "2");
    admin.npm_ok(&source, &["publish"]);

    let reader_keys = support::READER.credentials(dir.path());
    let reader = NpmUser::login(&server, dir.path(), "reader", &reader_keys, "main");
    let consumer = app(dir.path(), "reader-app");
    let installed = reader.npm(&consumer, &["install", "@acme/readonly@2.0.0"]);
    assert!(
        installed.status.success(),
        "a read-only token can install: {}",
        support::describe(&installed)
    );
    assert!(
        consumer
            .join("node_modules/@acme/readonly/index.js")
            .is_file()
    );

    let source = package(dir.path(), "@acme/readonly", "2.0.1", "3");
    let refused = reader.npm(&source, &["publish"]);
    assert!(
        !refused.status.success(),
        "a read-only token must not publish: {}",
        support::describe(&refused)
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("E403") && stderr.contains("may not publish"),
        "{stderr}"
    );

    // No token at all: same registry, no _authToken line.
    let anonymous_home = dir.path().join("anonymous");
    fs_err::create_dir_all(&anonymous_home).unwrap();
    fs_err::write(
        anonymous_home.join(".npmrc"),
        format!("registry={}/d/local/npm/main/\n", server.url),
    )
    .unwrap();
    let anonymous = NpmUser {
        home: anonymous_home,
        npm: support::npm().unwrap(),
    };
    let consumer = app(dir.path(), "anonymous-app");
    let refused = anonymous.npm(&consumer, &["install", "@acme/readonly@2.0.0"]);
    assert!(!refused.status.success(), "{}", support::describe(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("E401"),
        "{}",
        support::describe(&refused)
    );
}

#[test]
fn concurrent_npm_publishes_of_different_versions_both_land() {
    require_tool!(support::aws());
    require_tool!(support::npm());
    let (dir, server) = support::serve(ServerSpec::default());
    let admin = NpmUser::login(
        &server,
        dir.path(),
        "admin",
        &server.credentials_file(),
        "main",
    );
    let sources: Vec<PathBuf> = ["3.0.0", "3.0.1", "3.0.2"]
        .iter()
        .map(|version| package(dir.path(), "@acme/racy", version, "1"))
        .collect();
    let children: Vec<_> = sources
        .iter()
        .map(|source| {
            let mut command = support::clean_command(&admin.npm, &admin.home);
            command
                .current_dir(source)
                // An explicit tag: npm 11 refuses to apply `latest` implicitly to a version
                // lower than one already published, which a race makes likely here.
                .args([
                    "publish",
                    "--tag",
                    "racing",
                    "--no-audit",
                    "--no-update-notifier",
                ])
                .env(
                    "npm_config_cache",
                    admin
                        .home
                        .join(format!("cache-{}", source.display().to_string().len())),
                );
            command
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", support::describe(&output));
    }
    let view = admin.npm(dir.path(), &["view", "@acme/racy", "versions", "--json"]);
    let versions: Vec<String> = serde_json::from_slice(&view.stdout)
        .unwrap_or_else(|_| panic!("{}", support::describe(&view)));
    assert_eq!(versions, vec!["3.0.0", "3.0.1", "3.0.2"]);

    // The server itself refuses a republish (npm checks first; a raw PUT does not).
    let token = admin.token();
    let tarball = support::npm_tarball("@acme/racy", "3.0.0", "hello");
    let body = serde_json::json!({
        "name": "@acme/racy",
        "versions": {"3.0.0": {"name": "@acme/racy", "version": "3.0.0"}},
        "_attachments": {"@acme/racy-3.0.0.tgz": {
            "data": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &tarball),
            "length": tarball.len(),
        }},
    });
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let status = runtime.block_on(async {
        reqwest::Client::new()
            .put(format!("{}/d/local/npm/main/@acme%2fracy", server.url))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status.as_u16(), 409);
}
