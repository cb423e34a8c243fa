//! `lading login` for uv, Poetry, gem, Bundler, Swift and dotnet: real uv installs from
//! `lading serve`'s PyPI plane through the user `uv.toml` and netrc (and through the
//! ephemeral variables); real Poetry publishes and locks through the files `lading login`
//! wrote, which are the files `poetry config` writes; gem's and Bundler's files are compared
//! with what `gem` and `bundle config` write and read back by RubyGems and Bundler
//! themselves; Swift's `registries.json` and netrc are checked against the formats of SE-0292
//! and SE-0378 (no Swift toolchain runs here); dotnet gets nuget's `NuGet.Config`. Each
//! `lading logout` restores every byte.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::login::{Sandbox, codeartifact, exports, mode, value};
use crate::require_tool;
use crate::support::{self, ServerSpec};

/// The marker comment lading puts before what it adds.
const MARKER: &str = "added by lading login; `lading logout` removes it";

fn uv() -> Option<PathBuf> {
    support::find_tool("LADING_TEST_UV", Some("venv/bin/uv"), None)
}

fn poetry() -> Option<PathBuf> {
    support::find_tool("LADING_TEST_POETRY", Some("poetry-venv/bin/poetry"), None)
}

fn ruby() -> Option<PathBuf> {
    support::find_tool("LADING_TEST_RUBY", None, Some("ruby"))
}

fn bundle() -> Option<PathBuf> {
    support::find_tool("LADING_TEST_BUNDLE", None, Some("bundle"))
}

fn login<'a>(flags: &'a [String], extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["login"];
    args.extend(flags.iter().map(String::as_str));
    args.extend_from_slice(extra);
    args
}

/// The token `lading login` gave the tools (cached; `lading token` reads it).
fn lading_token(sandbox: &Sandbox, flags: &[String]) -> String {
    let mut args = vec!["token"];
    args.extend(flags.iter().map(String::as_str));
    String::from_utf8(sandbox.lading_ok(&args).stdout)
        .unwrap()
        .trim()
        .to_owned()
}

/// `text` without lading's marker comment lines.
fn without_marker(text: &str) -> String {
    text.split_inclusive('\n')
        .filter(|line| !line.contains(MARKER))
        .collect()
}

fn ok(command: &mut Command) -> Output {
    support::run_ok(command)
}

/// Upload a `lading-demo` wheel of `version` to `local/main` with twine, through
/// `lading login --tool twine`.
fn upload_demo_wheel(sandbox: &Sandbox, flags: &[String], version: &str) {
    let twine = crate::serve_pypi::twine().expect("twine");
    let python = support::python().expect("python");
    let output = sandbox.lading_ok(&login(
        flags,
        &[
            "--tool",
            "twine",
            "--target",
            "ephemeral",
            "--print-env",
            "sh",
        ],
    ));
    let env = exports(&output);
    let wheel = crate::serve_pypi::wheel(&python, &sandbox.root.join("dist"), version, "uv");
    let mut command = support::clean_command(twine, &sandbox.home);
    command
        .args([
            "upload",
            "--non-interactive",
            "-r",
            "codeartifact",
            "--config-file",
        ])
        .arg(value(&env, "LADING_PYPIRC"))
        .arg(wheel);
    ok(&mut command);
    sandbox.lading_ok(&["logout"]);
}

/// `uv pip install lading-demo==VERSION` into a fresh venv, with `env` added.
fn uv_install(
    uv: &Path,
    sandbox: &Sandbox,
    name: &str,
    version: &str,
    env: &[(&str, &str)],
) -> Output {
    let venv = sandbox.root.join(format!("venv-{name}"));
    let mut command = support::clean_command(uv, &sandbox.home);
    command
        .args(["venv", "--no-config", "--python", "python3"])
        .arg(&venv)
        .env("UV_PYTHON_DOWNLOADS", "never");
    ok(&mut command);
    let mut command = support::clean_command(uv, &sandbox.home);
    command
        .args(["pip", "install", "--no-cache", "--python"])
        .arg(venv.join("bin/python"))
        .arg(format!("lading-demo=={version}"))
        .env("UV_PYTHON_DOWNLOADS", "never");
    for (key, value) in env {
        command.env(key, value);
    }
    support::run(&mut command)
}

#[test]
fn uv_installs_from_lading_serve_through_the_user_uv_toml_and_netrc_and_logout_restores_them() {
    let uv = require_tool!(uv());
    require_tool!(crate::serve_pypi::twine());
    require_tool!(support::python());
    let (dir, server) = support::serve(ServerSpec::default());
    let flags = codeartifact(&server);
    let sandbox = Sandbox::new(dir.path(), "uv").with_server(&server);
    upload_demo_wheel(&sandbox, &flags, "7.1.0");
    let anonymous = uv_install(&uv, &sandbox, "before", "7.1.0", &[]);
    assert!(
        !anonymous.status.success(),
        "installed without a login: {}",
        support::describe(&anonymous)
    );

    // The user's own uv.toml, with another index and a comment, is merged into.
    let uv_toml = sandbox.home.join(".config/uv/uv.toml");
    fs_err::create_dir_all(uv_toml.parent().unwrap()).unwrap();
    let original = "# my settings\nnative-tls = false # keep\n\n[[index]]\nname = \"extra\"\nurl = \"http://127.0.0.1:9/extra/simple/\"\nexplicit = true\n";
    fs_err::write(&uv_toml, original).unwrap();
    sandbox.lading_ok(&login(&flags, &["--tool", "uv", "--target", "user"]));
    let written = fs_err::read_to_string(&uv_toml).unwrap();
    let index = format!("{}/d/local/pypi/main/simple/", server.url);
    assert_eq!(
        written,
        format!(
            "{original}\n# {MARKER}\n[[index]]\nname = \"codeartifact\"\nurl = \"{index}\"\ndefault = true\n"
        )
    );
    let netrc = sandbox.home.join(".netrc");
    assert_eq!(mode(&netrc), 0o600);
    let token = lading_token(&sandbox, &flags);
    assert!(!written.contains(&token));
    let installed = uv_install(&uv, &sandbox, "user", "7.1.0", &[]);
    assert!(
        installed.status.success(),
        "{}",
        support::describe(&installed)
    );
    // A second login changes nothing; logout restores the bytes and removes the netrc.
    sandbox.lading_ok(&login(&flags, &["--tool", "uv", "--target", "user"]));
    assert_eq!(fs_err::read_to_string(&uv_toml).unwrap(), written);
    sandbox.lading_ok(&["logout"]);
    assert_eq!(fs_err::read_to_string(&uv_toml).unwrap(), original);
    assert!(!netrc.exists());

    // Ephemeral: `UV_DEFAULT_INDEX` and a 0600 `NETRC`, nothing in the user's files.
    let output = sandbox.lading_ok(&login(
        &flags,
        &["--tool", "uv", "--target", "ephemeral", "--print-env", "sh"],
    ));
    let env = exports(&output);
    assert_eq!(value(&env, "UV_DEFAULT_INDEX"), index);
    assert_eq!(mode(Path::new(value(&env, "NETRC"))), 0o600);
    assert_eq!(fs_err::read_to_string(&uv_toml).unwrap(), original);
    let installed = uv_install(
        &uv,
        &sandbox,
        "ephemeral",
        "7.1.0",
        &[
            ("UV_DEFAULT_INDEX", value(&env, "UV_DEFAULT_INDEX")),
            ("NETRC", value(&env, "NETRC")),
        ],
    );
    assert!(
        installed.status.success(),
        "{}",
        support::describe(&installed)
    );
    sandbox.lading_ok(&["logout"]);
}

#[test]
fn uv_refuses_to_shadow_another_default_index_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut sandbox = Sandbox::new(dir.path(), "uv-default");
    sandbox.set("UV_TOKEN", "uv-token-1");
    let uv_toml = sandbox.home.join(".config/uv/uv.toml");
    fs_err::create_dir_all(uv_toml.parent().unwrap()).unwrap();
    let original =
        "[[index]]\nname = \"corp\"\nurl = \"https://corp.example/simple/\"\ndefault = true\n";
    fs_err::write(&uv_toml, original).unwrap();
    let output = sandbox.lading(&[
        "login",
        "--registry-url",
        "https://pypi.example.com/",
        "--token-env",
        "UV_TOKEN",
        "--tool",
        "uv",
        "--target",
        "user",
    ]);
    support::assert_exit_with(&output, 1, "index `corp` is already the default index");
    assert_eq!(fs_err::read_to_string(&uv_toml).unwrap(), original);
    assert!(!sandbox.home.join(".netrc").exists());
}

fn poetry_command(poetry: &Path, sandbox: &Sandbox, project: &Path) -> Command {
    let mut command = support::clean_command(poetry, &sandbox.home);
    command
        .current_dir(project)
        .env("POETRY_CACHE_DIR", sandbox.root.join("poetry-cache"))
        .env("POETRY_KEYRING_ENABLED", "false")
        .env("POETRY_VIRTUALENVS_CREATE", "false")
        .env("POETRY_NO_INTERACTION", "1");
    command
}

#[test]
fn poetry_publishes_and_locks_through_the_files_poetry_config_writes() {
    let poetry = require_tool!(poetry());
    let (dir, server) = support::serve(ServerSpec::default());
    let flags = codeartifact(&server);
    let sandbox = Sandbox::new(dir.path(), "poetry").with_server(&server);
    sandbox.lading_ok(&login(&flags, &["--tool", "poetry", "--target", "user"]));
    let token = lading_token(&sandbox, &flags);
    let config_dir = sandbox.home.join(".config/pypoetry");
    let config = fs_err::read_to_string(config_dir.join("config.toml")).unwrap();
    let auth = fs_err::read_to_string(config_dir.join("auth.toml")).unwrap();
    assert_eq!(mode(&config_dir.join("auth.toml")), 0o600);

    // The same files as `poetry config` writes, but for the marker comment.
    let endpoint = format!("{}/d/local/pypi/main/", server.url);
    let reference = Sandbox::new(dir.path(), "poetry-reference");
    for args in [
        vec!["config", "repositories.codeartifact", endpoint.as_str()],
        vec!["config", "http-basic.codeartifact", "aws", token.as_str()],
    ] {
        ok(poetry_command(&poetry, &reference, &reference.root).args(&args));
    }
    let reference_dir = reference.home.join(".config/pypoetry");
    assert_eq!(
        without_marker(&config),
        fs_err::read_to_string(reference_dir.join("config.toml")).unwrap()
    );
    assert_eq!(
        without_marker(&auth),
        fs_err::read_to_string(reference_dir.join("auth.toml")).unwrap()
    );

    // `poetry publish -r codeartifact` uploads with those credentials...
    let project = sandbox.root.join("demo");
    fs_err::create_dir_all(project.join("lading_poetry_demo")).unwrap();
    fs_err::write(
        project.join("lading_poetry_demo/__init__.py"),
        "VALUE = 1\n",
    )
    .unwrap();
    fs_err::write(
        project.join("pyproject.toml"),
        "[project]\nname = \"lading-poetry-demo\"\nversion = \"1.2.3\"\ndescription = \"lading test\"\nrequires-python = \">=3.8\"\n\n[build-system]\nrequires = [\"poetry-core>=2.0.0\"]\nbuild-backend = \"poetry.core.masonry.api\"\n",
    )
    .unwrap();
    ok(poetry_command(&poetry, &sandbox, &project).arg("build"));
    ok(poetry_command(&poetry, &sandbox, &project).args(["publish", "-r", "codeartifact"]));

    // ...and a project whose only source is the repository locks against it.
    let consumer = sandbox.root.join("consumer");
    fs_err::create_dir_all(&consumer).unwrap();
    fs_err::write(
        consumer.join("pyproject.toml"),
        format!(
            "[project]\nname = \"consumer\"\nversion = \"0.1.0\"\nrequires-python = \">=3.8\"\ndependencies = [\"lading-poetry-demo==1.2.3\"]\n\n[[tool.poetry.source]]\nname = \"codeartifact\"\nurl = \"{endpoint}simple/\"\npriority = \"primary\"\n"
        ),
    )
    .unwrap();
    ok(poetry_command(&poetry, &sandbox, &consumer).arg("lock"));
    let lock = fs_err::read_to_string(consumer.join("poetry.lock")).unwrap();
    assert!(lock.contains("name = \"lading-poetry-demo\""), "{lock}");
    assert!(lock.contains(&format!("{endpoint}simple")), "{lock}");
    assert!(!lock.contains(&token));

    sandbox.lading_ok(&["logout"]);
    assert!(!config_dir.join("config.toml").exists());
    assert!(!config_dir.join("auth.toml").exists());

    // Ephemeral: the repository and its credentials in Poetry's own variables, the password
    // only in a 0600 file the env file reads; Poetry sees the repository.
    let output = sandbox.lading_ok(&login(
        &flags,
        &[
            "--tool",
            "poetry",
            "--target",
            "ephemeral",
            "--print-env",
            "sh",
        ],
    ));
    let env = exports(&output);
    let token = lading_token(&sandbox, &flags);
    assert_eq!(
        value(&env, "POETRY_REPOSITORIES_CODEARTIFACT_URL"),
        endpoint
    );
    assert_eq!(
        value(&env, "POETRY_HTTP_BASIC_CODEARTIFACT_USERNAME"),
        "aws"
    );
    let env_file = sandbox.root.join("job/env.sh");
    let env_text = fs_err::read_to_string(&env_file).unwrap();
    assert!(!env_text.contains(&token), "{env_text}");
    // Through `sh`, so the env file is sourced as a CI step would.
    let mut shell = support::clean_command("sh", &sandbox.home);
    shell
        .current_dir(&consumer)
        .env("POETRY_CACHE_DIR", sandbox.root.join("poetry-cache-2"))
        .env("POETRY_KEYRING_ENABLED", "false")
        .env("POETRY_VIRTUALENVS_CREATE", "false")
        .env("POETRY_NO_INTERACTION", "1")
        .arg("-c")
        .arg(r#". "$1"; exec "$2" lock --regenerate"#)
        .arg("sh")
        .arg(&env_file)
        .arg(&poetry);
    ok(&mut shell);
    sandbox.lading_ok(&["logout"]);
}

/// What RubyGems' own code writes for `host` (`Gem::ConfigFile#set_api_key`, which `gem
/// signin --host` calls), in a fresh HOME.
fn gem_reference(ruby: &Path, home: &Path, host: &str, key: &str) -> String {
    fs_err::create_dir_all(home.join(".gem")).unwrap();
    ok(support::clean_command(ruby, home).args([
        "-e",
        "require 'rubygems'; Gem.configuration.set_api_key(ARGV[0], ARGV[1])",
        host,
        key,
    ]));
    fs_err::read_to_string(home.join(".gem/credentials")).unwrap_or_else(|_| {
        fs_err::read_to_string(home.join(".local/share/gem/credentials")).unwrap()
    })
}

/// What RubyGems and Bundler read back: the API key `gem push --host HOST` sends (`gem push`
/// sets `@host` from `--host` before asking `api_key`) and the credentials Bundler sends to
/// `source`.
fn ruby_reads(
    ruby: &Path,
    home: &Path,
    host: &str,
    source: &str,
    env: &[(String, String)],
) -> Output {
    let mut command = support::clean_command(ruby, home);
    command.args([
        "-e",
        "require 'rubygems'; require 'rubygems/gemcutter_utilities'; require 'bundler'; require 'bundler/vendored_uri'
         class Reader; include Gem::GemcutterUtilities; def initialize(host); @host = host; end; def options; {}; end; end
         puts Reader.new(ARGV[0]).api_key.to_s
         puts Bundler::Settings.new(nil).credentials_for(Bundler::URI(ARGV[1])).to_s",
        host,
        source,
    ]);
    for (key, value) in env {
        command.env(key, value);
    }
    support::run_ok(&mut command)
}

#[test]
fn gem_and_bundler_files_are_what_gem_and_bundle_config_write_and_both_read_them_back() {
    let ruby = require_tool!(ruby());
    let bundle = require_tool!(bundle());
    let (dir, server) = support::serve(ServerSpec::default());
    let flags = codeartifact(&server);
    let sandbox = Sandbox::new(dir.path(), "ruby").with_server(&server);
    // The user's own settings, which must survive.
    let credentials = sandbox.home.join(".gem/credentials");
    fs_err::create_dir_all(credentials.parent().unwrap()).unwrap();
    fs_err::write(&credentials, "---\n:rubygems_api_key: rubygems_0123\n").unwrap();
    fs_support_private(&credentials);
    let bundle_config = sandbox.home.join(".bundle/config");
    fs_err::create_dir_all(bundle_config.parent().unwrap()).unwrap();
    fs_err::write(&bundle_config, "---\nBUNDLE_JOBS: \"4\"\n").unwrap();

    sandbox.lading_ok(&login(
        &flags,
        &["--tool", "gem", "--tool", "bundler", "--target", "user"],
    ));
    let token = lading_token(&sandbox, &flags);
    let endpoint = format!("{}/d/local/ruby/main/", server.url);
    assert_eq!(mode(&credentials), 0o600);
    assert_eq!(mode(&bundle_config), 0o600);

    // The lines gem and bundle config write, in a HOME that had the same files.
    let reference = Sandbox::new(dir.path(), "ruby-reference");
    fs_err::create_dir_all(reference.home.join(".gem")).unwrap();
    fs_err::write(
        reference.home.join(".gem/credentials"),
        "---\n:rubygems_api_key: rubygems_0123\n",
    )
    .unwrap();
    fs_support_private(&reference.home.join(".gem/credentials"));
    let gem_written = gem_reference(
        &ruby,
        &reference.home,
        &endpoint,
        &format!("Bearer {token}"),
    );
    assert_eq!(
        without_marker(&fs_err::read_to_string(&credentials).unwrap()),
        gem_written
    );
    fs_err::create_dir_all(reference.home.join(".bundle")).unwrap();
    fs_err::write(
        reference.home.join(".bundle/config"),
        "---\nBUNDLE_JOBS: \"4\"\n",
    )
    .unwrap();
    ok(support::clean_command(&bundle, &reference.home).args([
        "config",
        "set",
        "--global",
        &endpoint,
        &format!("aws:{token}"),
    ]));
    assert_eq!(
        without_marker(&fs_err::read_to_string(&bundle_config).unwrap()),
        fs_err::read_to_string(reference.home.join(".bundle/config")).unwrap()
    );

    // RubyGems and Bundler read them back (no permission warning from gem).
    let read = ruby_reads(&ruby, &sandbox.home, &endpoint, &endpoint, &[]);
    assert_eq!(
        String::from_utf8_lossy(&read.stdout),
        format!("Bearer {token}\naws:{token}\n")
    );
    assert!(read.stderr.is_empty(), "{}", support::describe(&read));

    sandbox.lading_ok(&["logout"]);
    assert_eq!(
        fs_err::read_to_string(&credentials).unwrap(),
        "---\n:rubygems_api_key: rubygems_0123\n"
    );
    assert_eq!(
        fs_err::read_to_string(&bundle_config).unwrap(),
        "---\nBUNDLE_JOBS: \"4\"\n"
    );

    // Ephemeral: `RUBYGEMS_HOST`, and the key and credentials only through 0600 files the env
    // file reads into `GEM_HOST_API_KEY` and `BUNDLE_<HOST>`.
    let output = sandbox.lading_ok(&login(
        &flags,
        &[
            "--tool",
            "gem",
            "--tool",
            "bundler",
            "--target",
            "ephemeral",
            "--print-env",
            "sh",
        ],
    ));
    let env = exports(&output);
    // `lading logout` removed the cached token: this login minted another.
    let token = lading_token(&sandbox, &flags);
    assert_eq!(value(&env, "RUBYGEMS_HOST"), endpoint);
    let env_file = sandbox.root.join("job/env.sh");
    let env_text = fs_err::read_to_string(&env_file).unwrap();
    assert!(!env_text.contains(&token), "{env_text}");
    assert!(
        env_text.contains("export BUNDLE_127__0__0__1=\"$(cat "),
        "{env_text}"
    );
    let mut shell = support::clean_command("sh", &sandbox.home);
    shell
        .arg("-c")
        .arg(r#". "$1"; exec "$2" -e "require 'rubygems'; require 'rubygems/gemcutter_utilities'; require 'bundler'; require 'bundler/vendored_uri'; class Reader; include Gem::GemcutterUtilities; def options; {}; end; end; puts Reader.new.host; puts Reader.new.api_key; puts Bundler::Settings.new(nil).credentials_for(Bundler::URI(ARGV[0]))" "$3""#)
        .arg("sh")
        .arg(&env_file)
        .arg(&ruby)
        .arg(&endpoint);
    let read = ok(&mut shell);
    assert_eq!(
        String::from_utf8_lossy(&read.stdout),
        format!("{endpoint}\nBearer {token}\naws:{token}\n")
    );
    sandbox.lading_ok(&["logout"]);
}

#[cfg(unix)]
fn fs_support_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn swift_writes_what_swift_package_registry_set_and_login_write_and_logout_removes_it() {
    let (dir, server) = support::serve(ServerSpec::default());
    let flags = codeartifact(&server);
    let sandbox = Sandbox::new(dir.path(), "swift").with_server(&server);
    let registries = sandbox.home.join(".swiftpm/configuration/registries.json");
    // What SwiftPM wrote for another scope (SE-0292's "Registry configuration" shape).
    let original = "{\n  \"authentication\" : {\n    \"other.example\" : {\n      \"type\" : \"basic\"\n    }\n  },\n  \"registries\" : {\n    \"acme\" : {\n      \"supportsAvailability\" : false,\n      \"url\" : \"https://other.example/\"\n    }\n  },\n  \"version\" : 1\n}\n";
    fs_err::create_dir_all(registries.parent().unwrap()).unwrap();
    fs_err::write(&registries, original).unwrap();
    sandbox.lading_ok(&login(&flags, &["--tool", "swift", "--target", "user"]));
    let token = lading_token(&sandbox, &flags);
    let endpoint = format!("{}/d/local/swift/main/", server.url);
    assert_eq!(
        fs_err::read_to_string(&registries).unwrap(),
        format!(
            "{{\n  \"authentication\" : {{\n    \"127.0.0.1\" : {{\n      \"type\" : \"token\"\n    }},\n    \"other.example\" : {{\n      \"type\" : \"basic\"\n    }}\n  }},\n  \"registries\" : {{\n    \"[default]\" : {{\n      \"supportsAvailability\" : false,\n      \"url\" : \"{endpoint}\"\n    }},\n    \"acme\" : {{\n      \"supportsAvailability\" : false,\n      \"url\" : \"https://other.example/\"\n    }}\n  }},\n  \"version\" : 1\n}}\n"
        )
    );
    // SE-0378, "Token Authentication": `token` as the login, the token as the password.
    let netrc = sandbox.home.join(".netrc");
    assert_eq!(
        without_marker(&fs_err::read_to_string(&netrc).unwrap()),
        format!("machine 127.0.0.1 login token password {token}\n")
    );
    assert_eq!(mode(&netrc), 0o600);
    sandbox.lading_ok(&["logout"]);
    assert_eq!(fs_err::read_to_string(&registries).unwrap(), original);
    assert!(!netrc.exists());

    // A scope (`--namespace`), and the ephemeral files for `--config-path` / `--netrc-file`.
    let output = sandbox.lading_ok(&login(
        &flags,
        &[
            "--tool",
            "swift",
            "--namespace",
            "acme",
            "--target",
            "ephemeral",
            "--print-env",
            "sh",
        ],
    ));
    let env = exports(&output);
    let config = Path::new(value(&env, "LADING_SWIFTPM_CONFIG_PATH")).join("registries.json");
    let json: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(config).unwrap()).unwrap();
    assert_eq!(json["registries"]["acme"]["url"], endpoint.as_str());
    assert_eq!(json["authentication"]["127.0.0.1"]["type"], "token");
    assert_eq!(json["version"], 1);
    assert_eq!(mode(Path::new(value(&env, "LADING_SWIFT_NETRC"))), 0o600);
    sandbox.lading_ok(&["logout"]);
}

#[test]
fn dotnet_gets_the_same_nuget_config_as_nuget() {
    let dir = tempfile::tempdir().unwrap();
    let mut written = Vec::new();
    for tool in ["nuget", "dotnet"] {
        let mut sandbox = Sandbox::new(dir.path(), tool);
        sandbox.set("NUGET_TOKEN", "nuget-token-77");
        sandbox.lading_ok(&[
            "login",
            "--registry-url",
            "https://nuget.example.com/v3/index.json",
            "--token-env",
            "NUGET_TOKEN",
            "--tool",
            tool,
            "--target",
            "user",
        ]);
        let config = sandbox.home.join(".nuget/NuGet/NuGet.Config");
        assert_eq!(mode(&config), 0o600);
        written.push(fs_err::read_to_string(&config).unwrap());
        sandbox.lading_ok(&["logout"]);
        assert!(!config.exists());
    }
    assert!(written[0].contains("nuget-token-77"), "{}", written[0]);
    assert_eq!(written[0], written[1]);
}
