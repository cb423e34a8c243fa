//! `lading login` / `logout` / `token` against `lading serve` as CodeArtifact and against
//! third-party registries with a plain token, each checked by the real client (npm, pip,
//! twine, mvn, nuget.exe on mono); side by side with `aws codeartifact login`; a corpus of
//! existing config files through login + logout; trace-level secret hygiene; bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::require_tool;
use crate::support::{self, LadingServer, ServerSpec};

/// A sandbox for one user of `lading login`: private HOME, cache, ephemeral dir and state.
pub(crate) struct Sandbox {
    pub(crate) root: PathBuf,
    pub(crate) home: PathBuf,
    env: Vec<(String, String)>,
}

impl Sandbox {
    pub(crate) fn new(root: &Path, name: &str) -> Self {
        let root = root.join(name);
        let home = root.join("home");
        fs_err::create_dir_all(&home).unwrap();
        let env = vec![
            (
                "LADING_CACHE_DIR".to_owned(),
                root.join("cache").display().to_string(),
            ),
            (
                "LADING_LOGIN_DIR".to_owned(),
                root.join("job").display().to_string(),
            ),
            (
                "LADING_LOGIN_STATE".to_owned(),
                root.join("state.json").display().to_string(),
            ),
            ("AWS_CONFIG_FILE".to_owned(), "/dev/null".to_owned()),
            ("AWS_EC2_METADATA_DISABLED".to_owned(), "true".to_owned()),
        ];
        Self { root, home, env }
    }

    /// Use `lading serve`'s admin keys.
    pub(crate) fn with_server(mut self, server: &LadingServer) -> Self {
        self.env.push((
            "AWS_SHARED_CREDENTIALS_FILE".to_owned(),
            server.credentials_file().display().to_string(),
        ));
        self
    }

    pub(crate) fn set(&mut self, key: &str, value: impl Into<String>) {
        self.env.push((key.to_owned(), value.into()));
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = support::clean_command(support::lading_bin(), &self.home);
        command.current_dir(&self.root).args(args);
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    pub(crate) fn lading(&self, args: &[&str]) -> Output {
        support::run(&mut self.command(args))
    }

    pub(crate) fn lading_ok(&self, args: &[&str]) -> Output {
        support::run_ok(&mut self.command(args))
    }

    pub(crate) fn state(&self) -> PathBuf {
        self.root.join("state.json")
    }
}

/// CodeArtifact flags for `lading serve`'s `local/main`.
pub(crate) fn codeartifact(server: &LadingServer) -> Vec<String> {
    [
        "--domain",
        "local",
        "--domain-owner",
        "000000000000",
        "--repository",
        "main",
        "--endpoint-url",
        &server.url,
        "--region",
        "us-east-1",
    ]
    .iter()
    .map(|text| (*text).to_owned())
    .collect()
}

/// `export NAME='value'` lines from `--print-env sh`.
pub(crate) fn exports(output: &Output) -> Vec<(String, String)> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("export ")?;
            let (name, value) = rest.split_once('=')?;
            Some((
                name.to_owned(),
                value.trim_matches('\'').replace("'\\''", "'"),
            ))
        })
        .collect()
}

fn value<'a>(env: &'a [(String, String)], name: &str) -> &'a str {
    env.iter().find(|(key, _)| key == name).map_or_else(
        || panic!("`{name}` not exported: {env:?}"),
        |(_, value)| value.as_str(),
    )
}

fn login_args<'a>(flags: &'a [String], extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["login"];
    args.extend(flags.iter().map(String::as_str));
    args.extend_from_slice(extra);
    args
}

/// The token lading caches for the repository (what the clients were given).
fn token_of(sandbox: &Sandbox, flags: &[String]) -> String {
    let mut args = vec!["token"];
    args.extend(flags.iter().map(String::as_str));
    let output = sandbox.lading_ok(&args);
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[cfg(unix)]
pub(crate) fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    fs_err::metadata(path).unwrap().permissions().mode() & 0o777
}

fn npm_command(npm: &Path, sandbox: &Sandbox, cwd: &Path, npmrc: &str, args: &[&str]) -> Output {
    let mut command = support::clean_command(npm, &sandbox.home);
    command
        .current_dir(cwd)
        .args(args)
        .args(["--no-audit", "--no-fund", "--no-update-notifier"])
        .env("NPM_CONFIG_USERCONFIG", npmrc)
        .env("npm_config_cache", sandbox.root.join("npm-cache"));
    support::run(&mut command)
}

#[test]
fn login_npm_then_npm_publish_and_install_against_lading_serve_and_logout_removes_it() {
    let npm = require_tool!(support::npm());
    let dir = tempfile::tempdir().unwrap();
    let server = LadingServer::start(&dir.path().join("data"), ServerSpec::default());
    let mut sandbox = Sandbox::new(dir.path(), "ci").with_server(&server);
    sandbox.set("CI", "true");
    let flags = codeartifact(&server);
    let output = sandbox.lading_ok(&login_args(&flags, &["--tool", "npm", "--print-env", "sh"]));
    let env = exports(&output);
    let npmrc = value(&env, "NPM_CONFIG_USERCONFIG").to_owned();
    assert!(npmrc.starts_with(&sandbox.root.join("job").display().to_string()));
    let text = fs_err::read_to_string(&npmrc).unwrap();
    assert!(
        text.contains(&format!("registry={}/d/local/npm/main/\n", server.url)),
        "{text}"
    );
    #[cfg(unix)]
    assert_eq!(mode(Path::new(&npmrc)), 0o600);

    let source = crate::serve_npm::package(&sandbox.root, "@acme/login-widget", "1.0.0", "'lw'");
    let published = npm_command(&npm, &sandbox, &source, &npmrc, &["publish"]);
    assert!(
        published.status.success(),
        "{}",
        support::describe(&published)
    );
    let app = crate::serve_npm::app(&sandbox.root, "app");
    let installed = npm_command(
        &npm,
        &sandbox,
        &app,
        &npmrc,
        &["install", "@acme/login-widget@1.0.0"],
    );
    assert!(
        installed.status.success(),
        "{}",
        support::describe(&installed)
    );
    assert!(
        app.join("node_modules/@acme/login-widget/index.js")
            .is_file()
    );

    // A second login reuses the cached token and changes no byte.
    let again = sandbox.lading_ok(&login_args(&flags, &["--tool", "npm"]));
    assert_eq!(fs_err::read_to_string(&npmrc).unwrap(), text);
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("unchanged"),
        "{}",
        support::describe(&again)
    );

    sandbox.lading_ok(&["logout"]);
    assert!(!Path::new(&npmrc).exists());
    assert!(!sandbox.state().exists());
}

#[test]
fn login_pip_and_twine_then_twine_upload_and_pip_install_in_a_fresh_venv() {
    let twine = require_tool!(crate::serve_pypi::twine());
    let python = require_tool!(support::python());
    let dir = tempfile::tempdir().unwrap();
    let server = LadingServer::start(&dir.path().join("data"), ServerSpec::default());
    let mut sandbox = Sandbox::new(dir.path(), "ci").with_server(&server);
    sandbox.set("CI", "true");
    let flags = codeartifact(&server);
    let output = sandbox.lading_ok(&login_args(
        &flags,
        &["--tool", "pip", "--tool", "twine", "--print-env", "sh"],
    ));
    let env = exports(&output);
    let pip_conf = fs_err::read_to_string(value(&env, "PIP_CONFIG_FILE")).unwrap();
    let token = token_of(&sandbox, &flags);
    assert!(
        !pip_conf.contains(&token),
        "the token must not be in the index URL: {pip_conf}"
    );
    assert!(
        pip_conf.contains(&format!(
            "index-url = {}/d/local/pypi/main/simple/",
            server.url
        )),
        "{pip_conf}"
    );
    #[cfg(unix)]
    {
        assert_eq!(mode(Path::new(value(&env, "NETRC"))), 0o600);
        assert_eq!(mode(Path::new(value(&env, "LADING_PYPIRC"))), 0o600);
    }

    let wheel = crate::serve_pypi::wheel(&python, &sandbox.root.join("dist"), "4.0.0", "login");
    let mut command = support::clean_command(&twine, &sandbox.home);
    command
        .args([
            "upload",
            "--non-interactive",
            "-r",
            "codeartifact",
            "--config-file",
        ])
        .arg(value(&env, "LADING_PYPIRC"))
        .arg(&wheel);
    support::run_ok(&mut command);

    let venv = sandbox.root.join("venv");
    let mut command = support::clean_command(&python, &sandbox.home);
    command.args(["-m", "venv"]).arg(&venv);
    support::run_ok(&mut command);
    let mut command = support::clean_command(venv.join("bin/pip"), &sandbox.home);
    command
        .args([
            "install",
            "--no-cache-dir",
            "--no-input",
            "lading-demo==4.0.0",
        ])
        .env("PIP_CONFIG_FILE", value(&env, "PIP_CONFIG_FILE"))
        .env("NETRC", value(&env, "NETRC"));
    let installed = support::run(&mut command);
    assert!(
        installed.status.success(),
        "{}",
        support::describe(&installed)
    );
}

/// `~/.m2/settings.xml` of a user who resolves plugins from Debian's repository (Maven
/// Central is unreachable here): login's ephemeral settings start from it.
fn offline_central_settings(home: &Path, maven_repo: &Path) {
    let central = format!("file://{}", maven_repo.display());
    fs_err::create_dir_all(home.join(".m2")).unwrap();
    fs_err::write(
        home.join(".m2/settings.xml"),
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<!-- the team's settings -->
<settings xmlns=\"http://maven.apache.org/SETTINGS/1.2.0\">
  <profiles>
    <profile>
      <id>offline-central</id>
      <repositories>
        <repository><id>central</id><url>{central}</url>
          <releases><checksumPolicy>ignore</checksumPolicy></releases><snapshots><enabled>false</enabled></snapshots></repository>
      </repositories>
      <pluginRepositories>
        <pluginRepository><id>central</id><url>{central}</url>
          <releases><checksumPolicy>ignore</checksumPolicy></releases><snapshots><enabled>false</enabled></snapshots></pluginRepository>
      </pluginRepositories>
    </profile>
  </profiles>
  <activeProfiles>
    <activeProfile>offline-central</activeProfile>
  </activeProfiles>
</settings>
"
        ),
    )
    .unwrap();
}

pub(crate) fn mvn_run(
    mvn: &Path,
    home: &Path,
    project: &Path,
    settings: &str,
    local: &Path,
    goal: &str,
) -> Output {
    let mut command = support::clean_command(mvn, home);
    command
        .current_dir(project)
        .args(["-B", "-q", "-s", settings])
        .arg(format!("-Dmaven.repo.local={}", local.display()))
        .arg(goal)
        .env("MAVEN_OPTS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC");
    support::run(&mut command)
}

#[test]
fn login_maven_then_mvn_deploys_and_a_fresh_consumer_resolves_through_the_settings() {
    let mvn = require_tool!(crate::serve_maven::mvn());
    let maven_repo = require_tool!(crate::serve_maven::maven_repo());
    let dir = tempfile::tempdir().unwrap();
    let server = LadingServer::start(&dir.path().join("data"), ServerSpec::default());
    let mut sandbox = Sandbox::new(dir.path(), "ci").with_server(&server);
    sandbox.set("CI", "true");
    offline_central_settings(&sandbox.home, &maven_repo);
    let flags = codeartifact(&server);
    let output = sandbox.lading_ok(&login_args(
        &flags,
        &[
            "--tool",
            "maven",
            "--source-name",
            "lading",
            "--print-env",
            "sh",
        ],
    ));
    let env = exports(&output);
    let settings = value(&env, "LADING_MAVEN_SETTINGS").to_owned();
    let text = fs_err::read_to_string(&settings).unwrap();
    assert!(text.contains("<!-- the team's settings -->"), "{text}");
    assert!(
        text.contains("<activeProfile>lading</activeProfile>"),
        "{text}"
    );

    let endpoint = format!("{}/d/local/maven/main/", server.url);
    let project = crate::serve_maven::library(&sandbox.root, &endpoint, "1.0.0", "from-login");
    let deployed = mvn_run(
        &mvn,
        &sandbox.home,
        &project,
        &settings,
        &sandbox.root.join("m2-a"),
        "deploy",
    );
    assert!(
        deployed.status.success(),
        "{}",
        support::describe(&deployed)
    );
    let apps = crate::serve_maven::consumers(&sandbox.root, &["1.0.0"]);
    let resolved = mvn_run(
        &mvn,
        &sandbox.home,
        &apps,
        &settings,
        &sandbox.root.join("m2-b"),
        "package",
    );
    assert!(
        resolved.status.success(),
        "{}",
        support::describe(&resolved)
    );
    assert!(
        sandbox
            .root
            .join("m2-b/com/acme/tools/greeter/1.0.0/greeter-1.0.0.jar")
            .is_file()
    );
}

#[test]
fn login_nuget_then_nuget_exe_lists_the_source_with_its_credentials() {
    let mono = require_tool!(crate::serve_nuget::mono());
    let nuget = require_tool!(crate::serve_nuget::nuget_exe());
    let dir = tempfile::tempdir().unwrap();
    let server = LadingServer::start(&dir.path().join("data"), ServerSpec::default());
    let mut sandbox = Sandbox::new(dir.path(), "ci").with_server(&server);
    sandbox.set("CI", "true");
    let flags = codeartifact(&server);
    let output = sandbox.lading_ok(&login_args(
        &flags,
        &["--tool", "nuget", "--print-env", "sh"],
    ));
    let env = exports(&output);
    let config = value(&env, "LADING_NUGET_CONFIG").to_owned();
    let text = fs_err::read_to_string(&config).unwrap();
    assert!(text.contains("<local_x002F_main>"), "{text}");
    let mut command = support::clean_command(&mono, &sandbox.home);
    command.current_dir(&sandbox.root).arg(&nuget).args([
        "sources",
        "list",
        "-ConfigFile",
        &config,
        "-NonInteractive",
    ]);
    let listed = support::run_ok(&mut command);
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(stdout.contains("local/main [Enabled]"), "{stdout}");
    assert!(
        stdout.contains(&format!("{}/d/local/nuget/main/v3/index.json", server.url)),
        "{stdout}"
    );
}
