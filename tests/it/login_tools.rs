//! `lading login` for yarn berry, cargo and Gradle, and its GitHub Actions exports: yarn
//! (real yarn 4) installs from Verdaccio through the variables and through a project
//! `.yarnrc.yml`; real cargo parses the registry lading configured; `GITHUB_ENV` and
//! `GITHUB_OUTPUT` get heredoc-delimited values, `::add-mask::` comes first, and the token
//! stays in 0600 files.

use std::path::{Path, PathBuf};

use crate::login::{Sandbox, exports, mode, npm_ok, value};
use crate::require_tool;
use crate::support;

fn yarn_berry() -> Option<PathBuf> {
    support::find_tool(
        "LADING_TEST_YARN_BERRY",
        Some("yarn/node_modules/@yarnpkg/cli-dist/bin/yarn.js"),
        None,
    )
}

pub(crate) fn yarn_classic() -> Option<PathBuf> {
    support::find_tool(
        "LADING_TEST_YARN1",
        Some("yarn/node_modules/yarn/bin/yarn.js"),
        None,
    )
}

/// A yarn project depending on `dependencies` (JSON), allowed to use plain HTTP on
/// loopback (yarn refuses it otherwise, and lading does not weaken that for the user) and
/// to install packages published seconds ago (yarn 4.18's `npmMinimalAgeGate`).
fn yarn_project(dir: &Path, dependencies: &str) -> PathBuf {
    fs_err::create_dir_all(dir).unwrap();
    fs_err::write(
        dir.join("package.json"),
        format!(
            r#"{{"name":"app","version":"1.0.0","private":true,"dependencies":{dependencies}}}"#
        ),
    )
    .unwrap();
    fs_err::write(dir.join("yarn.lock"), "").unwrap();
    fs_err::write(
        dir.join(".yarnrc.yml"),
        "# the project's own settings\nnodeLinker: node-modules\nenableGlobalCache: false\nnpmMinimalAgeGate: 0\nunsafeHttpWhitelist:\n  - \"127.0.0.1\"\n",
    )
    .unwrap();
    dir.to_path_buf()
}

/// `yarn install` in `project`, after sourcing `env_file` when given.
fn yarn_install(
    yarn: &Path,
    home: &Path,
    project: &Path,
    env_file: Option<&Path>,
) -> std::process::Output {
    let mut command = support::clean_command("sh", home);
    command
        .current_dir(project)
        .arg("-c")
        .arg(r#"if [ -n "$1" ]; then . "$1"; fi; exec node "$2" install"#)
        .arg("sh")
        .arg(
            env_file
                .map(|path| path.display().to_string())
                .unwrap_or_default(),
        )
        .arg(yarn);
    support::run(&mut command)
}

#[test]
fn yarn_berry_installs_from_verdaccio_through_the_env_file_and_a_scoped_project_yarnrc() {
    let npm = require_tool!(support::npm());
    let yarn = require_tool!(yarn_berry());
    let binary = require_tool!(support::peers::Verdaccio::find());
    let dir = tempfile::tempdir().unwrap();
    let verdaccio = support::peers::Verdaccio::start(&binary, &dir.path().join("verdaccio"));
    let publisher = Sandbox::new(dir.path(), "publisher");
    let publisher_npmrc = publisher.root.join("publisher.npmrc");
    fs_err::write(&publisher_npmrc, verdaccio.npmrc()).unwrap();
    for (name, body) in [
        ("yarn-login-demo", "'plain'"),
        ("@acme/yarn-scoped", "'scoped'"),
    ] {
        let source = crate::serve_npm::package(&publisher.root, name, "1.0.0", body);
        npm_ok(
            &npm,
            &publisher,
            &source,
            publisher_npmrc.to_str().unwrap(),
            &["publish"],
        );
    }

    // Ephemeral: variables, the token only through a 0600 file the env file reads.
    let (sandbox, env) = crate::login::login_to_verdaccio(dir.path(), &verdaccio, "yarn");
    assert_eq!(value(&env, "YARN_NPM_REGISTRY_SERVER"), verdaccio.url);
    let env_file = sandbox.root.join("job/env.sh");
    let env_text = fs_err::read_to_string(&env_file).unwrap();
    assert!(!env_text.contains(&verdaccio.token), "{env_text}");
    assert!(
        env_text.contains("export YARN_NPM_AUTH_TOKEN=\"$(cat "),
        "{env_text}"
    );
    assert_eq!(mode(&sandbox.root.join("job/yarn-token")), 0o600);
    let project = yarn_project(&sandbox.root.join("app"), r#"{"yarn-login-demo":"1.0.0"}"#);
    let anonymous = yarn_install(&yarn, &sandbox.home, &project, None);
    assert!(
        !anonymous.status.success(),
        "{}",
        support::describe(&anonymous)
    );
    let installed = yarn_install(&yarn, &sandbox.home, &project, Some(&env_file));
    assert!(
        installed.status.success(),
        "{}",
        support::describe(&installed)
    );
    assert_eq!(
        fs_err::read_to_string(project.join("node_modules/yarn-login-demo/index.js")).unwrap(),
        "module.exports = 'plain';\n"
    );

    // Yarn 1 reads npm's user config: `--tool npm` configures it. It sends the token for
    // scoped packages; for unscoped ones only with `always-auth=true`, which npm 11 reports
    // as an unknown config, so lading does not write it.
    if let Some(yarn1) = yarn_classic() {
        let output = sandbox.lading_ok(&[
            "login",
            "--registry-url",
            &verdaccio.url,
            "--token-env",
            "VERDACCIO_TOKEN",
            "--tool",
            "npm",
            "--print-env",
            "sh",
        ]);
        let npmrc = value(&exports(&output), "NPM_CONFIG_USERCONFIG").to_owned();
        let classic = sandbox.root.join("classic");
        fs_err::create_dir_all(&classic).unwrap();
        fs_err::write(
            classic.join("package.json"),
            r#"{"name":"classic","version":"1.0.0","private":true,"dependencies":{"@acme/yarn-scoped":"1.0.0"}}"#,
        )
        .unwrap();
        let mut command = support::clean_command("node", &sandbox.home);
        command
            .current_dir(&classic)
            .arg(&yarn1)
            .args(["install", "--non-interactive", "--no-progress"])
            .arg("--cache-folder")
            .arg(sandbox.root.join("yarn1-cache"))
            .env("NPM_CONFIG_USERCONFIG", &npmrc);
        let installed = support::run(&mut command);
        assert!(
            installed.status.success(),
            "{}",
            support::describe(&installed)
        );
        assert!(
            classic
                .join("node_modules/@acme/yarn-scoped/index.js")
                .is_file()
        );
    }

    // Project target with a scope: lading edits the project's `.yarnrc.yml` and logout
    // gives back its bytes.
    let mut sandbox = Sandbox::new(dir.path(), "dev");
    sandbox.set("VERDACCIO_TOKEN", verdaccio.token.clone());
    let project = yarn_project(&sandbox.root, r#"{"@acme/yarn-scoped":"1.0.0"}"#);
    let original = fs_err::read(project.join(".yarnrc.yml")).unwrap();
    // The default registry is unreachable: only the scope can resolve the package.
    let mut yarnrc = original.clone();
    // A scope has its own age gate (the top-level one does not reach it).
    yarnrc.extend_from_slice(
        b"npmRegistryServer: \"http://127.0.0.1:9/\"\nnpmScopes:\n  acme:\n    npmMinimalAgeGate: 0\n",
    );
    fs_err::write(project.join(".yarnrc.yml"), &yarnrc).unwrap();
    sandbox.lading_ok(&[
        "login",
        "--registry-url",
        &verdaccio.url,
        "--token-env",
        "VERDACCIO_TOKEN",
        "--tool",
        "yarn",
        "--target",
        "project",
        "--namespace",
        "@acme",
    ]);
    let text = fs_err::read_to_string(project.join(".yarnrc.yml")).unwrap();
    assert!(
        text.starts_with("# the project's own settings\nnodeLinker: node-modules\n"),
        "{text}"
    );
    assert!(
        text.ends_with(&format!(
            "npmScopes:\n  acme:\n    npmMinimalAgeGate: 0\n    # {marker}\n    npmRegistryServer: \"{url}\"\n    # {marker}\n    npmAlwaysAuth: true\n    # {marker}\n    npmAuthToken: \"{token}\"\n",
            marker = lading::ecosystem::edit::MARKER,
            url = verdaccio.url,
            token = verdaccio.token,
        )),
        "{text}"
    );
    let installed = yarn_install(&yarn, &sandbox.home, &project, None);
    assert!(
        installed.status.success(),
        "{}",
        support::describe(&installed)
    );
    assert!(
        project
            .join("node_modules/@acme/yarn-scoped/index.js")
            .is_file()
    );
    sandbox.lading_ok(&["logout"]);
    assert_eq!(fs_err::read(project.join(".yarnrc.yml")).unwrap(), yarnrc);
}

/// A crate depending on `foo` from the registry `lading`.
fn cargo_app(dir: &Path) -> PathBuf {
    fs_err::create_dir_all(dir.join("src")).unwrap();
    fs_err::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nfoo = { version = \"1\", registry = \"lading\" }\n",
    )
    .unwrap();
    fs_err::write(dir.join("src/lib.rs"), "").unwrap();
    dir.to_path_buf()
}

/// `cargo metadata --no-deps --offline`: parses the manifest, which resolves the registry
/// name through the config (no network).
fn cargo_metadata(sandbox: &Sandbox, app: &Path, env: &[(String, String)]) -> serde_json::Value {
    let mut command = support::clean_command(env!("CARGO"), &sandbox.home);
    command
        .current_dir(app)
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .env("CARGO_HOME", sandbox.root.join("cargo-home"));
    for (key, value) in env {
        command.env(key, value);
    }
    let output = support::run_ok(&mut command);
    serde_json::from_slice(&output.stdout).unwrap()
}

#[cfg(unix)]
#[test]
fn cargo_parses_the_registry_lading_configured_in_files_and_in_variables() {
    let dir = tempfile::tempdir().unwrap();
    let registry = "http://127.0.0.1:9/api/cargo/main";
    let mut sandbox = Sandbox::new(dir.path(), "user");
    sandbox.set(
        "CARGO_HOME",
        sandbox.root.join("cargo-home").display().to_string(),
    );
    sandbox.set("CARGO_TOKEN", "cargo-secret-77");
    let cargo_home = sandbox.root.join("cargo-home");
    fs_err::create_dir_all(&cargo_home).unwrap();
    let original = "# my settings\n[net]\ngit-fetch-with-cli = true # corporate proxy\n";
    fs_err::write(cargo_home.join("config.toml"), original).unwrap();
    let app = cargo_app(&sandbox.root.join("app"));
    let login = [
        "login",
        "--registry-url",
        registry,
        "--token-env",
        "CARGO_TOKEN",
        "--tool",
        "cargo",
    ];
    let mut args = login.to_vec();
    args.extend(["--target", "user"]);
    sandbox.lading_ok(&args);
    let config = fs_err::read_to_string(cargo_home.join("config.toml")).unwrap();
    assert!(config.starts_with(original), "{config}");
    assert!(
        config.ends_with(
            "[registries.lading]\nindex = \"sparse+http://127.0.0.1:9/api/cargo/main/\"\n"
        ),
        "{config}"
    );
    let credentials = cargo_home.join("credentials.toml");
    assert!(
        fs_err::read_to_string(&credentials)
            .unwrap()
            .contains("token = \"cargo-secret-77\"")
    );
    assert_eq!(mode(&credentials), 0o600);
    let metadata = cargo_metadata(&sandbox, &app, &[]);
    let dependency = &metadata["packages"][0]["dependencies"][0];
    assert_eq!(
        dependency["registry"], "sparse+http://127.0.0.1:9/api/cargo/main/",
        "{dependency}"
    );
    // Cargo reads back what lading wrote (its unstable `config get`, on this stable cargo).
    let mut command = support::clean_command(env!("CARGO"), &sandbox.home);
    command
        .current_dir(&app)
        .args(["-Zunstable-options", "config", "get", "registries"])
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_HOME", &cargo_home);
    let shown = support::run_ok(&mut command);
    assert_eq!(
        String::from_utf8_lossy(&shown.stdout),
        "registries.lading.index = \"sparse+http://127.0.0.1:9/api/cargo/main/\"\n"
    );
    sandbox.lading_ok(&args);
    assert_eq!(
        fs_err::read_to_string(cargo_home.join("config.toml")).unwrap(),
        config
    );
    sandbox.lading_ok(&["logout"]);
    assert_eq!(
        fs_err::read_to_string(cargo_home.join("config.toml")).unwrap(),
        original
    );
    assert!(!credentials.exists());

    // Ephemeral: only variables, the token behind a credential provider reading a 0600 file.
    let mut sandbox = Sandbox::new(dir.path(), "ci");
    sandbox.set("CI", "true");
    sandbox.set("CARGO_TOKEN", "cargo-secret-77");
    let mut args = login.to_vec();
    args.extend(["--print-env", "sh"]);
    let env = exports(&sandbox.lading_ok(&args));
    assert!(!format!("{env:?}").contains("cargo-secret-77"), "{env:?}");
    let metadata = cargo_metadata(&sandbox, &cargo_app(&sandbox.root.join("app")), &env);
    assert_eq!(
        metadata["packages"][0]["dependencies"][0]["registry"],
        "sparse+http://127.0.0.1:9/api/cargo/main/"
    );
    let provider = value(&env, "CARGO_REGISTRIES_LADING_CREDENTIAL_PROVIDER");
    let command_line = provider.strip_prefix("cargo:token-from-stdout ").unwrap();
    let token_file = Path::new(command_line.strip_prefix("cat ").unwrap());
    assert_eq!(
        fs_err::read_to_string(token_file).unwrap(),
        "cargo-secret-77"
    );
    assert_eq!(mode(token_file), 0o600);
}

/// `NAME<<DELIM` ... `DELIM` blocks of a GitHub file command, checking each delimiter.
fn file_command_values(text: &str) -> Vec<(String, String)> {
    let mut values = Vec::new();
    let mut lines = text.lines();
    while let Some(header) = lines.next() {
        let (name, delimiter) = header
            .split_once("<<")
            .unwrap_or_else(|| panic!("not a heredoc header: {header:?} in\n{text}"));
        assert!(
            delimiter.starts_with("ghadelimiter_") && delimiter.len() == "ghadelimiter_".len() + 32,
            "{delimiter}"
        );
        let mut value = Vec::new();
        loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("unterminated `{name}` in\n{text}"));
            if line == delimiter {
                break;
            }
            value.push(line);
        }
        values.push((name.to_owned(), value.join("\n")));
    }
    values
}

#[cfg(unix)]
#[test]
fn on_github_actions_the_mask_comes_first_exports_use_heredocs_and_the_token_stays_in_0600_files() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let token = "gh-secret-%-9f3a7c";
    let mut sandbox = Sandbox::new(dir.path(), "ci");
    let github = sandbox.root.join("github");
    fs_err::create_dir_all(&github).unwrap();
    // The runner's files are ordinary 0644 files: the token must never land in them.
    for name in ["env", "output"] {
        fs_err::write(github.join(name), "").unwrap();
        fs_err::set_permissions(github.join(name), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    sandbox.set("CI", "true");
    sandbox.set("GITHUB_ACTIONS", "true");
    sandbox.set("GITHUB_ENV", github.join("env").display().to_string());
    sandbox.set("GITHUB_OUTPUT", github.join("output").display().to_string());
    sandbox.set("REGISTRY_TOKEN", token);
    sandbox.set("LADING_LOG", "trace");
    let output = sandbox.lading_ok(&[
        "login",
        "--registry-url",
        "http://127.0.0.1:9/repo/",
        "--token-env",
        "REGISTRY_TOKEN",
        "--tool",
        "npm",
        "--tool",
        "pip",
        "--tool",
        "twine",
        "--tool",
        "maven",
        "--tool",
        "nuget",
        "--tool",
        "yarn",
        "--tool",
        "cargo",
        "--tool",
        "gradle",
        "--print-env",
        "sh",
    ]);
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    assert_eq!(
        stdout.lines().next(),
        Some("::add-mask::gh-secret-%25-9f3a7c"),
        "the mask must be the first thing on stdout:\n{stdout}"
    );
    assert!(
        !stdout.contains(token) && !stderr.contains(token),
        "{stdout}\n{stderr}"
    );

    let env = file_command_values(&fs_err::read_to_string(github.join("env")).unwrap());
    let printed = exports(&output);
    let names: Vec<&str> = env.iter().map(|(name, _)| name.as_str()).collect();
    for expected in [
        "NPM_CONFIG_USERCONFIG",
        "PIP_CONFIG_FILE",
        "NETRC",
        "LADING_PYPIRC",
        "LADING_MAVEN_SETTINGS",
        "LADING_NUGET_CONFIG",
        "YARN_NPM_REGISTRY_SERVER",
        "YARN_NPM_ALWAYS_AUTH",
        "CARGO_REGISTRIES_LADING_INDEX",
        "CARGO_REGISTRIES_LADING_CREDENTIAL_PROVIDER",
        "LADING_GRADLE_INIT_SCRIPT",
    ] {
        assert!(
            names.contains(&expected),
            "`{expected}` not in GITHUB_ENV: {names:?}"
        );
        assert_eq!(
            value(&env, expected),
            value(&printed, expected),
            "{expected}"
        );
    }
    // The token variable yarn needs is only in the 0600 env file, read from a 0600 file.
    assert!(!names.contains(&"YARN_NPM_AUTH_TOKEN"), "{names:?}");
    assert!(
        stderr.contains("`YARN_NPM_AUTH_TOKEN` holds the token"),
        "{stderr}"
    );
    let outputs = file_command_values(&fs_err::read_to_string(github.join("output")).unwrap());
    assert_eq!(
        value(&outputs, "env-file"),
        sandbox.root.join("job/env.sh").display().to_string()
    );
    assert_eq!(
        value(&outputs, "state-file"),
        sandbox.state().display().to_string()
    );

    let holders = crate::login::files_holding(&sandbox.root, token);
    assert!(holders.len() >= 8, "{holders:?}");
    for (path, file_mode) in &holders {
        assert_eq!(
            *file_mode,
            0o600,
            "`{}` holds the token with mode {file_mode:o}",
            path.display()
        );
    }
    sandbox.lading_ok(&["logout"]);
    assert!(crate::login::files_holding(&sandbox.root, token).is_empty());
}

#[test]
fn yarn_and_cargo_corpus_survives_login_and_logout_byte_for_byte() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/login-corpus");
    let dir = tempfile::tempdir().unwrap();
    let mut count = 0;
    for (kind, relative, namespace, owned) in [
        (
            "yarn",
            ".yarnrc.yml",
            None,
            &["npmRegistryServer", "npmAlwaysAuth", "npmAuthToken"][..],
        ),
        ("yarn", ".yarnrc.yml", Some("@acme"), &[][..]),
        ("cargo", "cargo-home/config.toml", None, &["index = "][..]),
    ] {
        let mut fixtures: Vec<_> = fs_err::read_dir(corpus.join(kind))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        fixtures.sort();
        for fixture in fixtures {
            count += 1;
            let case = format!(
                "{kind}-{}-{}",
                namespace.unwrap_or("default").trim_start_matches('@'),
                fixture.file_name().unwrap().to_string_lossy()
            );
            let mut sandbox = Sandbox::new(dir.path(), &case);
            sandbox.set(
                "CARGO_HOME",
                sandbox.home.join("cargo-home").display().to_string(),
            );
            sandbox.set("CORPUS_TOKEN", "corpus-token-5150");
            let original = fs_err::read(&fixture).unwrap();
            let path = sandbox.home.join(relative);
            fs_err::create_dir_all(path.parent().unwrap()).unwrap();
            fs_err::write(&path, &original).unwrap();
            let mut args = vec![
                "login",
                "--registry-url",
                "https://registry.example.com/npm/",
                "--token-env",
                "CORPUS_TOKEN",
                "--tool",
                kind,
                "--target",
                "user",
            ];
            if let Some(namespace) = namespace {
                args.extend(["--namespace", namespace]);
            }
            crate::login::login_logout_round_trip(&sandbox, &path, &args, &case, |line| {
                owned
                    .iter()
                    .any(|marker| line.trim_start().starts_with(marker))
            });
        }
    }
    assert!(count >= 17, "{count} corpus cases");
}

#[test]
fn maven_password_env_keeps_the_token_out_of_settings_and_mvn_still_deploys() {
    let dir = tempfile::tempdir().unwrap();
    let (mvn, server, sandbox) = require_tool!(crate::login::maven_against_nginx(
        dir.path(),
        "dav-env-secret-8"
    ));
    let settings = crate::login::login_maven_to_nginx(
        &sandbox,
        &server,
        &["--maven-password-env", "DAV_PASSWORD"],
    );
    let text = fs_err::read_to_string(&settings).unwrap();
    assert!(
        text.contains("<password>${env.DAV_PASSWORD}</password>"),
        "{text}"
    );
    assert!(!text.contains("dav-env-secret-8"), "{text}");
    let project = crate::serve_maven::library(&sandbox.root, &server.url, "2.0.0", "from-env");
    let deploy = |password: Option<&str>, local: &str| {
        let mut command = support::clean_command(&mvn, &sandbox.home);
        command
            .current_dir(&project)
            .args(["-B", "-q", "-s", &settings])
            .arg(format!(
                "-Dmaven.repo.local={}",
                sandbox.root.join(local).display()
            ))
            .arg("deploy")
            .env("MAVEN_OPTS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC");
        if let Some(password) = password {
            command.env("DAV_PASSWORD", password);
        }
        support::run(&mut command)
    };
    let refused = deploy(None, "m2");
    assert!(!refused.status.success(), "{}", support::describe(&refused));
    let deployed = deploy(Some("dav-env-secret-8"), "m2");
    assert!(
        deployed.status.success(),
        "{}",
        support::describe(&deployed)
    );
    assert!(
        dir.path()
            .join("nginx/repo/com/acme/tools/greeter/2.0.0/greeter-2.0.0.jar")
            .is_file()
    );
    let bad = sandbox.lading(&[
        "login",
        "--registry-url",
        &server.url,
        "--token-env",
        "DAV_PASSWORD",
        "--tool",
        "maven",
        "--maven-password-env",
        "not a name",
    ]);
    assert_eq!(bad.status.code(), Some(1), "{}", support::describe(&bad));
}
