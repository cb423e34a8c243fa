//! `lading login` / `logout` / `token` against `lading serve` as CodeArtifact and against
//! third-party registries with a plain token, each checked by the real client (npm, pip,
//! twine, mvn, nuget.exe on mono); side by side with `aws codeartifact login`; a corpus of
//! existing config files through login + logout; trace-level secret hygiene; bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::require_tool;
use crate::support::peers::Nginx;
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

pub(crate) fn value<'a>(env: &'a [(String, String)], name: &str) -> &'a str {
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

pub(crate) fn npm_command(
    npm: &Path,
    sandbox: &Sandbox,
    cwd: &Path,
    npmrc: &str,
    args: &[&str],
) -> Output {
    let mut command = support::clean_command(npm, &sandbox.home);
    command
        .current_dir(cwd)
        .args(args)
        .args(["--no-audit", "--no-fund", "--no-update-notifier"])
        .env("NPM_CONFIG_USERCONFIG", npmrc)
        .env("npm_config_cache", sandbox.root.join("npm-cache"));
    support::run(&mut command)
}

/// [`npm_command`], which must succeed.
pub(crate) fn npm_ok(
    npm: &Path,
    sandbox: &Sandbox,
    cwd: &Path,
    npmrc: &str,
    args: &[&str],
) -> Output {
    let output = npm_command(npm, sandbox, cwd, npmrc, args);
    assert!(output.status.success(), "{}", support::describe(&output));
    output
}

/// npm publishes `name@1.0.0` (its `index.js` exporting `body`) with `npmrc`, then installs
/// it into a fresh app: the app's directory.
fn publish_then_install(
    npm: &Path,
    sandbox: &Sandbox,
    npmrc: &str,
    name: &str,
    body: &str,
) -> PathBuf {
    let source = crate::serve_npm::package(&sandbox.root, name, "1.0.0", body);
    npm_ok(npm, sandbox, &source, npmrc, &["publish"]);
    let app = crate::serve_npm::app(&sandbox.root, "app");
    npm_ok(
        npm,
        sandbox,
        &app,
        npmrc,
        &["install", &format!("{name}@1.0.0")],
    );
    app
}

#[test]
fn login_npm_then_npm_publish_and_install_against_lading_serve_and_logout_removes_it() {
    let npm = require_tool!(support::npm());
    let (dir, server) = support::serve(ServerSpec::default());
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

    let app = publish_then_install(&npm, &sandbox, &npmrc, "@acme/login-widget", "'lw'");
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
fn a_cached_token_is_not_reused_for_a_new_identity_on_the_same_endpoint() {
    // The README's pipeline starts the embedded repository afresh on a free port; an earlier
    // run that cached a token for a server on that same port must not hand it out again.
    let dir = tempfile::tempdir().unwrap();
    let first = LadingServer::start(&dir.path().join("first"), ServerSpec::default());
    let address = first.url.trim_start_matches("http://").to_owned();
    let sandbox = Sandbox::new(dir.path(), "job").with_server(&first);
    let flags = codeartifact(&first);
    let whoami = |url: &str, token: &str| {
        crate::serve_hardening::request(
            "GET",
            &format!("{url}/d/local/npm/main/-/whoami"),
            Some(token),
            Vec::new(),
        )
    };
    let old = token_of(&sandbox, &flags);
    assert_eq!(token_of(&sandbox, &flags), old, "the token is cached");
    assert_eq!(whoami(&first.url, &old).0, 200);
    drop(first);

    // A new server with new keys (a fresh data directory) on the same address.
    let second = LadingServer::start(
        &dir.path().join("second"),
        ServerSpec {
            listen: Some(&address),
            ..ServerSpec::default()
        },
    );
    assert_eq!(codeartifact(&second), flags, "same endpoint flags");
    let sandbox = Sandbox::new(dir.path(), "job").with_server(&second);
    let new = token_of(&sandbox, &flags);
    assert_ne!(new, old, "the first server's token was reused");
    let (status, body) = whoami(&second.url, &new);
    assert_eq!(status, 200, "{body}");
    assert_eq!(whoami(&second.url, &old).0, 401);
}

#[test]
fn login_pip_and_twine_then_twine_upload_and_pip_install_in_a_fresh_venv() {
    let twine = require_tool!(crate::serve_pypi::twine());
    let python = require_tool!(support::python());
    let (dir, server) = support::serve(ServerSpec::default());
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
    twine_upload_then_pip_install(
        &sandbox,
        &python,
        &twine,
        &env,
        &wheel,
        "lading-demo==4.0.0",
    );
}

/// Upload `wheel` with twine through the `.pypirc` login exported, then pip-install
/// `requirement` into a fresh venv through the exported pip config and netrc.
fn twine_upload_then_pip_install(
    sandbox: &Sandbox,
    python: &Path,
    twine: &Path,
    env: &[(String, String)],
    wheel: &Path,
    requirement: &str,
) {
    let mut command = support::clean_command(twine, &sandbox.home);
    command
        .args([
            "upload",
            "--non-interactive",
            "-r",
            "codeartifact",
            "--config-file",
        ])
        .arg(value(env, "LADING_PYPIRC"))
        .arg(wheel);
    support::run_ok(&mut command);
    let venv = sandbox.root.join("venv");
    let mut command = support::clean_command(python, &sandbox.home);
    command.args(["-m", "venv"]).arg(&venv);
    support::run_ok(&mut command);
    let mut command = support::clean_command(venv.join("bin/pip"), &sandbox.home);
    command
        .args(["install", "--no-cache-dir", "--no-input", requirement])
        .env("PIP_CONFIG_FILE", value(env, "PIP_CONFIG_FILE"))
        .env("NETRC", value(env, "NETRC"));
    let installed = support::run(&mut command);
    assert!(
        installed.status.success(),
        "{}",
        support::describe(&installed)
    );
}

/// `~/.m2/settings.xml` of a user who resolves plugins from Debian's repository (Maven
/// Central is unreachable here): login's ephemeral settings start from it.
pub(crate) fn offline_central_settings(home: &Path, maven_repo: &Path) {
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

/// `mvn -s <settings> <goal>` in `project` with the local repository `<sandbox>/<local>`,
/// which must succeed.
fn mvn_ok(mvn: &Path, sandbox: &Sandbox, project: &Path, settings: &str, local: &str, goal: &str) {
    let mut command = support::clean_command(mvn, &sandbox.home);
    command
        .current_dir(project)
        .args(["-B", "-q", "-s", settings])
        .arg(format!(
            "-Dmaven.repo.local={}",
            sandbox.root.join(local).display()
        ))
        .arg(goal)
        .env("MAVEN_OPTS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC");
    support::run_ok(&mut command);
}

#[test]
fn login_maven_then_mvn_deploys_and_a_fresh_consumer_resolves_through_the_settings() {
    let mvn = require_tool!(crate::serve_maven::mvn());
    let maven_repo = require_tool!(crate::serve_maven::maven_repo());
    let (dir, server) = support::serve(ServerSpec::default());
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
    mvn_ok(&mvn, &sandbox, &project, &settings, "m2-a", "deploy");
    let apps = crate::serve_maven::consumers(&sandbox.root, &["1.0.0"]);
    mvn_ok(&mvn, &sandbox, &apps, &settings, "m2-b", "package");
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
    let (dir, server) = support::serve(ServerSpec::default());
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

#[test]
fn user_target_logout_restores_bytes_and_mode_and_refuses_changed_files_unless_forced() {
    let (dir, server) = support::serve(ServerSpec::default());
    let sandbox = Sandbox::new(dir.path(), "dev").with_server(&server);
    let npmrc = sandbox.home.join(".npmrc");
    let original = "; mine\r\nregistry=https://registry.npmjs.org/\r\n@other:registry=https://npm.example.com/\r\n";
    fs_err::write(&npmrc, original).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs_err::set_permissions(&npmrc, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let flags = codeartifact(&server);
    // Dry run: a redacted diff on stdout, nothing written.
    let dry = sandbox.lading_ok(&login_args(
        &flags,
        &["--tool", "npm", "--target", "user", "--dry-run"],
    ));
    let diff = String::from_utf8_lossy(&dry.stdout);
    assert!(diff.contains("+//127.0.0.1:"), "{diff}");
    assert!(diff.contains(":_authToken=****"), "{diff}");
    assert_eq!(fs_err::read_to_string(&npmrc).unwrap(), original);
    assert!(!sandbox.state().exists());

    sandbox.lading_ok(&login_args(
        &flags,
        &["--tool", "npm", "--namespace", "acme", "--target", "user"],
    ));
    let token = token_of(&sandbox, &flags);
    assert!(!diff.contains(&token));
    let edited = fs_err::read_to_string(&npmrc).unwrap();
    assert!(edited.starts_with(original), "{edited}");
    assert!(
        edited.contains(&format!(
            "@acme:registry={}/d/local/npm/main/\r\n",
            server.url
        )),
        "{edited}"
    );
    #[cfg(unix)]
    {
        assert_eq!(mode(&npmrc), 0o600, "a file holding the token is private");
        assert_eq!(mode(&sandbox.state()), 0o600);
    }

    // Changed since login: refused, exit 1, nothing restored.
    fs_err::write(&npmrc, format!("{edited}save-exact=true\r\n")).unwrap();
    let refused = sandbox.lading(&["logout"]);
    assert_eq!(
        refused.status.code(),
        Some(1),
        "{}",
        support::describe(&refused)
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("changed since `lading login`") && stderr.contains("--force"),
        "{stderr}"
    );
    assert!(
        fs_err::read_to_string(&npmrc)
            .unwrap()
            .ends_with("save-exact=true\r\n")
    );

    sandbox.lading_ok(&["logout", "--force"]);
    assert_eq!(fs_err::read_to_string(&npmrc).unwrap(), original);
    #[cfg(unix)]
    assert_eq!(mode(&npmrc), 0o644);
    // Nothing left to undo.
    let nothing = sandbox.lading_ok(&["logout"]);
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("nothing to undo"));
}

#[test]
fn malformed_configs_name_file_and_line_and_nothing_is_written() {
    let (dir, server) = support::serve(ServerSpec::default());
    let sandbox = Sandbox::new(dir.path(), "dev").with_server(&server);
    let flags = codeartifact(&server);
    let cases: [(&str, &str, &str, &str); 3] = [
        (
            ".m2/settings.xml",
            "<settings>\n  <servers>\n  </server>\n</settings>\n",
            "maven",
            "settings.xml`:3",
        ),
        (
            ".nuget/NuGet/NuGet.Config",
            "<?xml version=\"1.0\"?>\n<configuration>\n  <packageSources>\n    <add key=\"a\" value=\"b\">\n</configuration>\n",
            "nuget",
            "NuGet.Config`:5",
        ),
        (
            ".npmrc",
            "registry=https://registry.npmjs.org/\n[broken\n",
            "npm",
            ".npmrc`:2",
        ),
    ];
    for (relative, text, tool, location) in cases {
        let path = sandbox.home.join(relative);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(&path, text).unwrap();
        // pip comes first in the plan's tool order and must not be written either.
        let output = sandbox.lading(&login_args(
            &flags,
            &["--tool", "pip", "--tool", tool, "--target", "user"],
        ));
        assert_eq!(
            output.status.code(),
            Some(1),
            "{}",
            support::describe(&output)
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(location), "{location}: {stderr}");
        assert_eq!(fs_err::read_to_string(&path).unwrap(), text);
        assert!(!sandbox.home.join(".netrc").exists());
        assert!(!sandbox.home.join(".config/pip/pip.conf").exists());
        assert!(!sandbox.state().exists());
        fs_err::remove_file(&path).unwrap();
    }
}

#[test]
fn a_failed_write_rolls_back_the_files_written_before_it() {
    let (dir, server) = support::serve(ServerSpec::default());
    let sandbox = Sandbox::new(dir.path(), "dev").with_server(&server);
    let npmrc = sandbox.home.join(".npmrc");
    fs_err::write(&npmrc, "save-exact=true\n").unwrap();
    // `~/.m2` is a file: settings.xml cannot be written (npm is written first).
    fs_err::write(sandbox.home.join(".m2"), "not a directory").unwrap();
    let flags = codeartifact(&server);
    let output = sandbox.lading(&login_args(
        &flags,
        &["--tool", "npm", "--tool", "maven", "--target", "user"],
    ));
    support::assert_exit_with(&output, 1, "were restored");
    assert_eq!(fs_err::read_to_string(&npmrc).unwrap(), "save-exact=true\n");
    assert!(!sandbox.state().exists());
}

#[test]
fn unknown_access_key_exits_1_with_a_hint_and_a_closed_port_exits_3() {
    let (dir, server) = support::serve(ServerSpec::default());
    let mut sandbox = Sandbox::new(dir.path(), "dev");
    let bogus = support::write_credentials(
        dir.path(),
        "bogus",
        "LKIAUNKNOWN000000000",
        "nope-nope-nope-nope-nope-nope-nope-nope",
    );
    sandbox.set("AWS_SHARED_CREDENTIALS_FILE", bogus.display().to_string());
    let flags = codeartifact(&server);
    let refused = sandbox.lading(&login_args(&flags, &["--tool", "npm", "--target", "user"]));
    assert_eq!(
        refused.status.code(),
        Some(1),
        "{}",
        support::describe(&refused)
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("hint:"), "{stderr}");
    assert!(!sandbox.home.join(".npmrc").exists());

    let port = support::peers::free_port();
    let closed = format!("http://127.0.0.1:{port}");
    let mut flags = codeartifact(&server);
    let index = flags
        .iter()
        .position(|flag| flag == "--endpoint-url")
        .unwrap();
    flags[index + 1] = closed;
    let started = std::time::Instant::now();
    let unreachable = sandbox.lading(&login_args(&flags, &["--tool", "npm", "--target", "user"]));
    assert_eq!(
        unreachable.status.code(),
        Some(3),
        "{}",
        support::describe(&unreachable)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains("hint:"));
}

/// A CI sandbox in `dir` that logs `tool` in to Verdaccio with its user's token (in
/// `VERDACCIO_TOKEN`): the sandbox and the exports `--print-env sh` printed.
pub(crate) fn login_to_verdaccio(
    dir: &Path,
    verdaccio: &support::peers::Verdaccio,
    tool: &str,
) -> (Sandbox, Vec<(String, String)>) {
    let mut sandbox = Sandbox::new(dir, "ci");
    sandbox.set("CI", "true");
    sandbox.set("VERDACCIO_TOKEN", verdaccio.token.clone());
    let output = sandbox.lading_ok(&[
        "login",
        "--registry-url",
        &verdaccio.url,
        "--token-env",
        "VERDACCIO_TOKEN",
        "--tool",
        tool,
        "--print-env",
        "sh",
    ]);
    let env = exports(&output);
    (sandbox, env)
}

#[test]
fn plain_token_login_npm_against_verdaccio_publishes_and_installs() {
    let npm = require_tool!(support::npm());
    let binary = require_tool!(support::peers::Verdaccio::find());
    let dir = tempfile::tempdir().unwrap();
    let verdaccio = support::peers::Verdaccio::start(&binary, &dir.path().join("verdaccio"));
    let (sandbox, env) = login_to_verdaccio(dir.path(), &verdaccio, "npm");
    let npmrc = value(&env, "NPM_CONFIG_USERCONFIG").to_owned();
    let app = publish_then_install(&npm, &sandbox, &npmrc, "verdaccio-login-demo", "'v'");
    // Without lading's config npm is refused (Verdaccio requires auth here).
    let anonymous = sandbox.root.join("anon.npmrc");
    fs_err::write(&anonymous, format!("registry={}\n", verdaccio.url)).unwrap();
    let refused = npm_command(
        &npm,
        &sandbox,
        &app,
        anonymous.to_str().unwrap(),
        &["view", "verdaccio-login-demo"],
    );
    assert!(!refused.status.success());
}

/// pypiserver with one htpasswd user, stopped on drop.
struct PypiServer {
    url: String,
    child: std::process::Child,
}

impl Drop for PypiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pypiserver(python: &Path, dir: &Path, password: &str) -> Option<PypiServer> {
    let binary = support::find_tool("LADING_TEST_PYPISERVER", Some("venv/bin/pypi-server"), None)?;
    fs_err::create_dir_all(dir.join("packages")).unwrap();
    let htpasswd = dir.join("htpasswd");
    let mut command = support::clean_command(python, dir);
    command.args([
        "-c",
        "import sys; from passlib.apache import HtpasswdFile; h = HtpasswdFile(sys.argv[1], new=True); h.set_password('tester', sys.argv[2]); h.save()",
    ]).arg(&htpasswd).arg(password);
    support::run_ok(&mut command);
    let port = support::peers::free_port();
    let mut command = support::clean_command(&binary, dir);
    command
        .args(["run", "-i", "127.0.0.1", "-p", &port.to_string(), "-P"])
        .arg(&htpasswd)
        .args(["-a", "update,download,list", "--disable-fallback"])
        .arg(dir.join("packages"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let child = command.spawn().unwrap();
    let url = format!("http://127.0.0.1:{port}/");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "pypiserver did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Some(PypiServer { url, child })
}

#[test]
fn plain_token_login_pip_and_twine_against_pypiserver() {
    let twine = require_tool!(crate::serve_pypi::twine());
    let python = require_tool!(support::python());
    let dir = tempfile::tempdir().unwrap();
    let server = require_tool!(pypiserver(
        &python,
        &dir.path().join("pypiserver"),
        "pw-secret-123"
    ));
    let mut sandbox = Sandbox::new(dir.path(), "ci");
    sandbox.set("CI", "true");
    sandbox.set("PYPI_PASSWORD", "pw-secret-123");
    let output = sandbox.lading_ok(&[
        "login",
        "--registry-url",
        &server.url,
        "--token-env",
        "PYPI_PASSWORD",
        "--username",
        "tester",
        "--tool",
        "pip",
        "--tool",
        "twine",
        "--print-env",
        "sh",
    ]);
    let env = exports(&output);
    let wheel =
        crate::serve_pypi::wheel(&python, &sandbox.root.join("dist"), "5.0.0", "pypiserver");
    twine_upload_then_pip_install(
        &sandbox,
        &python,
        &twine,
        &env,
        &wheel,
        "lading-demo==5.0.0",
    );
}

/// nginx serving a WebDAV Maven repository under `dir/repo`: anonymous GET, Basic auth
/// (`tester` with `password`) for PUT.
pub(crate) fn nginx(dir: &Path, password: &str) -> Option<Nginx> {
    let binary = Nginx::find()?;
    fs_err::create_dir_all(dir).unwrap();
    let htpasswd = dir.join("htpasswd");
    fs_err::write(&htpasswd, format!("tester:{{PLAIN}}{password}\n")).unwrap();
    Some(Nginx::start_webdav(
        &binary,
        &dir.join("server"),
        &dir.join("repo"),
        Some(&htpasswd),
    ))
}

/// A CI sandbox with Debian's repository as an offline `central` and `DAV_PASSWORD` set,
/// next to an nginx WebDAV Maven repository (`tester` with `password`): mvn, the server
/// and the sandbox.
pub(crate) fn maven_against_nginx(dir: &Path, password: &str) -> Option<(PathBuf, Nginx, Sandbox)> {
    let mvn = crate::serve_maven::mvn()?;
    let maven_repo = crate::serve_maven::maven_repo()?;
    let server = nginx(&dir.join("nginx"), password)?;
    let mut sandbox = Sandbox::new(dir, "ci");
    sandbox.set("CI", "true");
    sandbox.set("DAV_PASSWORD", password);
    offline_central_settings(&sandbox.home, &maven_repo);
    Some((mvn, server, sandbox))
}

/// `lading login --tool maven --source-name lading` to `server` as `tester` with the
/// password in `DAV_PASSWORD`, and `extra`: the settings file it exports.
pub(crate) fn login_maven_to_nginx(sandbox: &Sandbox, server: &Nginx, extra: &[&str]) -> String {
    let mut args = vec![
        "login",
        "--registry-url",
        &server.url,
        "--token-env",
        "DAV_PASSWORD",
        "--username",
        "tester",
        "--tool",
        "maven",
        "--source-name",
        "lading",
    ];
    args.extend_from_slice(extra);
    args.extend(["--print-env", "sh"]);
    let output = sandbox.lading_ok(&args);
    value(&exports(&output), "LADING_MAVEN_SETTINGS").to_owned()
}

#[test]
fn plain_token_login_maven_against_nginx_webdav_deploys_and_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let (mvn, server, sandbox) = require_tool!(maven_against_nginx(dir.path(), "dav-secret-42"));
    let settings = login_maven_to_nginx(&sandbox, &server, &[]);
    let project = crate::serve_maven::library(&sandbox.root, &server.url, "1.0.0", "from-nginx");
    mvn_ok(&mvn, &sandbox, &project, &settings, "m2-a", "deploy");
    assert!(
        dir.path()
            .join("nginx/repo/com/acme/tools/greeter/1.0.0/greeter-1.0.0.jar")
            .is_file()
    );
    let apps = crate::serve_maven::consumers(&sandbox.root, &["1.0.0"]);
    mvn_ok(&mvn, &sandbox, &apps, &settings, "m2-b", "package");
}

#[test]
fn plain_token_login_nuget_against_pynuget_pushes_and_installs_into_a_fresh_folder() {
    let mono = require_tool!(crate::serve_nuget::mono());
    let nuget = require_tool!(crate::serve_nuget::nuget_exe());
    let python = require_tool!(support::peers::Pynuget::find());
    let dir = tempfile::tempdir().unwrap();
    let server = support::peers::Pynuget::start(&python, &dir.path().join("pynuget"));
    let mut sandbox = Sandbox::new(dir.path(), "ci");
    sandbox.set("CI", "true");
    sandbox.set("PYNUGET_KEY", server.api_key.clone());
    let registry = [
        "--registry-url",
        server.url.as_str(),
        "--token-env",
        "PYNUGET_KEY",
    ];
    let mut args = vec!["login"];
    args.extend(registry);
    args.extend(["--tool", "nuget", "--print-env", "sh"]);
    let output = sandbox.lading_ok(&args);
    let env = exports(&output);
    let config = value(&env, "LADING_NUGET_CONFIG").to_owned();
    let text = fs_err::read_to_string(&config).unwrap();
    // A v2 feed: claiming protocolVersion 3 would make nuget.exe parse its XML as JSON.
    assert!(
        text.contains(&format!("<add key=\"lading\" value=\"{}\" />", server.url)),
        "{text}"
    );
    #[cfg(unix)]
    assert_eq!(mode(Path::new(&config)), 0o600);

    let packer = crate::serve_nuget::NuGetUser::new(&sandbox.root, "packer");
    let package = packer.pack("Lading.PynugetDemo", "1.2.3", "");
    // nuget.exe keeps API keys only DPAPI-encrypted (`setapikey`), which lading cannot
    // write, so a v2 push takes the key from `lading token`, the way a script would.
    let mut token_args = vec!["token"];
    token_args.extend(registry);
    let api_key = String::from_utf8(sandbox.lading_ok(&token_args).stdout).unwrap();
    let nuget_command = |args: &[&str]| {
        let mut command = support::clean_command(&mono, &sandbox.home);
        command
            .current_dir(&sandbox.root)
            .arg(&nuget)
            .args(args)
            .args(["-ConfigFile", &config, "-NonInteractive"]);
        support::run(&mut command)
    };
    let pushed = nuget_command(&[
        "push",
        &package.display().to_string(),
        "-Source",
        "lading",
        "-ApiKey",
        api_key.trim(),
    ]);
    assert!(pushed.status.success(), "{}", support::describe(&pushed));
    assert!(
        String::from_utf8_lossy(&pushed.stdout).contains("Created"),
        "{}",
        support::describe(&pushed)
    );
    let fresh = sandbox.root.join("fresh");
    let installed = nuget_command(&[
        "install",
        "Lading.PynugetDemo",
        "-Version",
        "1.2.3",
        "-Source",
        "lading",
        "-OutputDirectory",
        &fresh.display().to_string(),
    ]);
    assert!(
        installed.status.success(),
        "{}",
        support::describe(&installed)
    );
    assert_eq!(
        fs_err::read_to_string(
            fresh.join("Lading.PynugetDemo.1.2.3/content/Lading.PynugetDemo.txt")
        )
        .unwrap(),
        "Lading.PynugetDemo 1.2.3\n"
    );
    // A wrong key is refused by pynuget: the push above really was authenticated.
    let other = packer.pack("Lading.PynugetOther", "1.0.0", "");
    let refused = nuget_command(&[
        "push",
        &other.display().to_string(),
        "-Source",
        "lading",
        "-ApiKey",
        "not-the-key",
    ]);
    assert!(
        !refused.status.success() && support::describe(&refused).contains("401"),
        "{}",
        support::describe(&refused)
    );
    sandbox.lading_ok(&["logout"]);
    assert!(!Path::new(&config).exists());
}

/// Every file under `dir` that holds `needle`, with its mode.
#[cfg(unix)]
pub(crate) fn files_holding(dir: &Path, needle: &str) -> Vec<(PathBuf, u32)> {
    files_where(dir, |text| text.contains(needle))
}

/// Every file under `dir` whose text (lossy UTF-8) satisfies `holds`, with its mode.
#[cfg(unix)]
pub(crate) fn files_where(dir: &Path, holds: impl Fn(&str) -> bool) -> Vec<(PathBuf, u32)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in fs_err::read_dir(&current).unwrap().flatten() {
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file()
                && let Ok(bytes) = fs_err::read(&path)
                && holds(&String::from_utf8_lossy(&bytes))
            {
                found.push((path.clone(), mode(&path)));
            }
        }
    }
    found
}

#[cfg(unix)]
#[test]
fn at_trace_level_the_token_is_in_no_output_and_only_in_0600_files() {
    let (dir, server) = support::serve(ServerSpec::default());
    let mut sandbox = Sandbox::new(dir.path(), "ci").with_server(&server);
    sandbox.set("CI", "true");
    sandbox.set("LADING_LOG", "trace");
    let flags = codeartifact(&server);
    let all = [
        "--tool", "npm", "--tool", "pnpm", "--tool", "pip", "--tool", "twine", "--tool", "maven",
        "--tool", "nuget", "--tool", "yarn", "--tool", "gradle",
    ];
    let mut outputs = Vec::new();
    let mut dry = all.to_vec();
    dry.push("--dry-run");
    outputs.push(sandbox.lading_ok(&login_args(&flags, &dry)));
    let mut with_env = all.to_vec();
    with_env.extend(["--print-env", "sh"]);
    outputs.push(sandbox.lading_ok(&login_args(&flags, &with_env)));
    outputs.push(sandbox.lading_ok(&login_args(&flags, &all)));
    // The token as a script gets it, with logging quiet: the only sanctioned way out.
    let mut token_args = vec!["token"];
    token_args.extend(flags.iter().map(String::as_str));
    let mut command = sandbox.command(&token_args);
    command.env("LADING_LOG", "error");
    let token = String::from_utf8(support::run_ok(&mut command).stdout)
        .unwrap()
        .trim()
        .to_owned();
    assert!(token.len() > 16);
    let holders = files_holding(&sandbox.root, &token);
    assert!(holders.len() >= 5, "{holders:?}");
    for (path, file_mode) in &holders {
        assert_eq!(
            *file_mode,
            0o600,
            "`{}` holds the token with mode {file_mode:o}",
            path.display()
        );
    }
    outputs.push(sandbox.lading_ok(&["logout"]));
    for output in &outputs {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            text.contains("TRACE")
                || text.contains("DEBUG")
                || output.stdout.is_empty()
                || text.contains("export"),
            "{text}"
        );
        assert!(
            !text.contains(&token),
            "the token leaked into output:\n{text}"
        );
    }
    // After logout only lading's own 0600 token cache holds it.
    let holders = files_holding(&sandbox.root, &token);
    assert!(
        holders.iter().all(
            |(path, file_mode)| path.starts_with(sandbox.root.join("cache")) && *file_mode == 0o600
        ),
        "{holders:?}"
    );
}

/// Lines a login may replace: values of the keys lading owns and the elements it rewrites.
const OWNED_MARKERS: &[&str] = &[
    "registry=",
    ":_authToken=",
    "index-url",
    "index-servers",
    "    pypi",
    "    testpypi",
    "    codeartifact",
    "[codeartifact]",
    "repository",
    "username",
    "password",
    "<server",
    "</server>",
    "<servers/>",
    "<id>codeartifact</id>",
    "local/main",
    "local_x002F_main",
    "ClearTextPassword",
    "Username",
];

/// The corpus property for one existing config at `path`: `login_args` changes it, keeps
/// every line `owned` does not claim (in order, and no LF in a CRLF file), a second login
/// changes nothing, and `lading logout` restores every byte.
pub(crate) fn login_logout_round_trip(
    sandbox: &Sandbox,
    path: &Path,
    login_args: &[&str],
    case: &str,
    owned: impl Fn(&str) -> bool,
) {
    let original = fs_err::read(path).unwrap();
    sandbox.lading_ok(login_args);
    let after = fs_err::read(path).unwrap();
    assert_ne!(after, original, "{case}: login changed nothing");
    let original_text = String::from_utf8(original.clone()).unwrap();
    let after_text = String::from_utf8(after.clone()).unwrap();
    let mut remaining = after_text.split_inclusive('\n');
    for line in original_text.split_inclusive('\n') {
        if owned(line) {
            continue;
        }
        let line = line.trim_end_matches(['\r', '\n']);
        assert!(
            remaining.any(|candidate| candidate.trim_end_matches(['\r', '\n']) == line),
            "{case}: line {line:?} lost or reordered:\n{after_text}"
        );
    }
    if original_text.contains("\r\n") {
        assert!(
            !after_text.replace("\r\n", "").contains('\n'),
            "{case}: LF mixed into a CRLF file:\n{after_text:?}"
        );
    }
    sandbox.lading_ok(login_args);
    assert_eq!(
        fs_err::read(path).unwrap(),
        after,
        "{case}: second login changed bytes"
    );
    sandbox.lading_ok(&["logout"]);
    assert_eq!(
        fs_err::read(path).unwrap(),
        original,
        "{case}: logout did not restore"
    );
}

#[test]
fn corpus_of_existing_configs_survives_login_and_logout_byte_for_byte() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/login-corpus");
    let (dir, server) = support::serve(ServerSpec::default());
    let flags = codeartifact(&server);
    let cache = dir.path().join("shared-cache");
    let mut count = 0;
    for (kind, tool, relative) in [
        ("npm", "npm", ".npmrc"),
        ("pip", "pip", ".config/pip/pip.conf"),
        ("twine", "twine", ".pypirc"),
        ("maven", "maven", ".m2/settings.xml"),
        ("nuget", "nuget", ".nuget/NuGet/NuGet.Config"),
    ] {
        let mut names: Vec<_> = fs_err::read_dir(corpus.join(kind))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        names.sort();
        for fixture in names {
            count += 1;
            let case = fixture.file_name().unwrap().to_string_lossy().into_owned();
            let mut sandbox =
                Sandbox::new(dir.path(), &format!("{kind}-{case}")).with_server(&server);
            sandbox.set("LADING_CACHE_DIR", cache.display().to_string());
            let original = fs_err::read(&fixture).unwrap();
            let path = sandbox.home.join(relative);
            fs_err::create_dir_all(path.parent().unwrap()).unwrap();
            fs_err::write(&path, &original).unwrap();
            let args = login_args(&flags, &["--tool", tool, "--target", "user"]);
            let case = format!("{kind}/{case}");
            login_logout_round_trip(&sandbox, &path, &args, &case, |line| {
                OWNED_MARKERS.iter().any(|marker| line.contains(marker))
            });
        }
    }
    assert!(count >= 30, "{count} corpus files");
}

/// Run under `strace -f -e trace=execve`, returning the output and the trace text.
pub(crate) fn traced(command: &mut Command, trace: &Path) -> (Output, String) {
    let program = command.get_program().to_owned();
    let args: Vec<_> = command.get_args().map(std::ffi::OsStr::to_owned).collect();
    let envs: Vec<_> = command
        .get_envs()
        .filter_map(|(key, value)| Some((key.to_owned(), value?.to_owned())))
        .collect();
    let mut wrapped = Command::new("strace");
    wrapped
        .env_clear()
        .envs(envs)
        .args(["-f", "-s", "4096", "-e", "trace=execve", "-o"])
        .arg(trace)
        .arg(program)
        .args(args);
    if let Some(cwd) = command.get_current_dir() {
        wrapped.current_dir(cwd);
    }
    let output = support::run(&mut wrapped);
    (output, fs_err::read_to_string(trace).unwrap_or_default())
}

#[test]
fn side_by_side_with_aws_codeartifact_login_lading_works_the_same_and_keeps_the_token_out_of_argv_and_urls()
 {
    let aws = require_tool!(support::aws());
    let npm = require_tool!(support::npm());
    let twine = require_tool!(crate::serve_pypi::twine());
    let python = require_tool!(support::python());
    if support::find_tool("LADING_TEST_STRACE", None, Some("strace")).is_none() {
        return;
    }
    let (dir, server) = support::serve(ServerSpec::default());
    let flags = codeartifact(&server);

    // The AWS CLI, as users run it today.
    let aws_home = dir.path().join("aws-home");
    fs_err::create_dir_all(&aws_home).unwrap();
    let venv_bin = python.parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        venv_bin.display(),
        std::env::var_os("PATH")
            .unwrap_or_default()
            .to_string_lossy()
    );
    let aws_login = |tool: &str, trace: Option<&Path>| {
        let mut command = support::clean_command(&aws, &aws_home);
        command
            .args(["codeartifact", "login", "--tool", tool])
            .args(&flags)
            .env("AWS_SHARED_CREDENTIALS_FILE", server.credentials_file())
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("PATH", &path);
        match trace {
            Some(trace) => traced(&mut command, trace),
            None => (support::run_ok(&mut command), String::new()),
        }
    };
    let (aws_npm, aws_trace) = aws_login("npm", Some(&dir.path().join("aws.trace")));
    assert!(aws_npm.status.success(), "{}", support::describe(&aws_npm));
    aws_login("pip", None);
    aws_login("twine", None);
    let aws_npmrc = fs_err::read_to_string(aws_home.join(".npmrc")).unwrap();
    let aws_token = crate::serve_npm::npmrc_tokens(&aws_npmrc).remove(0);
    // The AWS CLI hands the token to `npm config set` on the command line...
    assert!(
        aws_trace.contains(&aws_token),
        "expected the token in a child's argv"
    );
    // ...and writes it into pip's index URL.
    // `pip config set` writes the user file.
    let aws_pip_conf = aws_home.join(".config/pip/pip.conf");
    let aws_pip = fs_err::read_to_string(&aws_pip_conf).unwrap();
    // (each `aws codeartifact login` mints its own token)
    let url_token = aws_pip
        .split("://aws:")
        .nth(1)
        .and_then(|rest| rest.split_once('@'))
        .map(|(token, _)| token);
    assert!(url_token.is_some_and(|token| token.len() > 16), "{aws_pip}");

    // lading, under the same tracer.
    let mut sandbox = Sandbox::new(dir.path(), "lading").with_server(&server);
    sandbox.set("CI", "true");
    let mut command = sandbox.command(&login_args(
        &flags,
        &[
            "--tool",
            "npm",
            "--tool",
            "pip",
            "--tool",
            "twine",
            "--print-env",
            "sh",
        ],
    ));
    let (output, trace) = traced(&mut command, &dir.path().join("lading.trace"));
    assert!(output.status.success(), "{}", support::describe(&output));
    let env = exports(&output);
    let token = token_of(&sandbox, &flags);
    let execs = trace
        .lines()
        .filter(|line| line.contains("execve("))
        .count();
    assert_eq!(execs, 1, "lading spawns no child process:\n{trace}");
    assert!(!trace.contains(&token));
    let pip_conf = fs_err::read_to_string(value(&env, "PIP_CONFIG_FILE")).unwrap();
    assert!(
        !pip_conf.contains(&token) && !pip_conf.contains('@'),
        "{pip_conf}"
    );
    #[cfg(unix)]
    for (path, file_mode) in files_holding(&sandbox.root, &token) {
        assert_eq!(file_mode, 0o600, "{}", path.display());
    }

    // The same client commands succeed with either configuration.
    let source = crate::serve_npm::package(&sandbox.root, "side-by-side", "1.0.0", "'s'");
    let lading_npmrc = value(&env, "NPM_CONFIG_USERCONFIG").to_owned();
    let aws_npmrc_path = aws_home.join(".npmrc").display().to_string();
    npm_ok(&npm, &sandbox, &source, &lading_npmrc, &["publish"]);
    for npmrc in [&lading_npmrc, &aws_npmrc_path] {
        let viewed = npm_command(
            &npm,
            &sandbox,
            &sandbox.root,
            npmrc,
            &["view", "side-by-side", "version"],
        );
        assert!(
            viewed.status.success(),
            "{npmrc}: {}",
            support::describe(&viewed)
        );
        assert_eq!(String::from_utf8_lossy(&viewed.stdout).trim(), "1.0.0");
    }
    let dist = sandbox.root.join("dist");
    for (version, config) in [
        ("6.0.0", value(&env, "LADING_PYPIRC").to_owned()),
        ("6.0.1", aws_home.join(".pypirc").display().to_string()),
    ] {
        let wheel = crate::serve_pypi::wheel(&python, &dist, version, "side");
        let mut command = support::clean_command(&twine, &sandbox.home);
        command
            .args([
                "upload",
                "--non-interactive",
                "-r",
                "codeartifact",
                "--config-file",
                &config,
            ])
            .arg(&wheel);
        support::run_ok(&mut command);
    }
    for (name, pip_env) in [
        (
            "lading",
            vec![
                ("PIP_CONFIG_FILE", value(&env, "PIP_CONFIG_FILE").to_owned()),
                ("NETRC", value(&env, "NETRC").to_owned()),
            ],
        ),
        (
            "aws",
            vec![("PIP_CONFIG_FILE", aws_pip_conf.display().to_string())],
        ),
    ] {
        let mut command =
            support::clean_command(python.parent().unwrap().join("pip"), &sandbox.home);
        command
            .args([
                "download",
                "--no-deps",
                "--no-cache-dir",
                "--no-input",
                "-d",
            ])
            .arg(sandbox.root.join(format!("dl-{name}")))
            .args(["lading-demo==6.0.1"]);
        for (key, value) in pip_env {
            command.env(key, value);
        }
        let downloaded = support::run(&mut command);
        assert!(
            downloaded.status.success(),
            "{name}: {}",
            support::describe(&downloaded)
        );
    }
}
