//! `buildspec-examples/*.yml` and `examples/jenkins/Jenkinsfile*` run as CodeBuild and Jenkins
//! run them, against `lading serve` and the example projects.
//!
//! CodeBuild (buildspec 0.2): `env.variables`, then the project's overrides, then CodeBuild's
//! own variables; the commands of `install`, `pre_build`, `build`, `post_build` run in order
//! in one shell (so exports and `cd` carry over), stopping at the first failure. The endpoint
//! is redirected with the AWS SDK's `AWS_ENDPOINT_URL_CODEARTIFACT`, so the buildspecs run
//! unchanged. Jenkins: each `sh '...'` step runs in a fresh `sh -c` with `environment {}` and
//! Jenkins' variables; `post { always { ... } }` steps run last.
//!
//! The Maven and Gradle builds resolve their plugins and libraries through `lading serve`,
//! whose repositories pull through a Maven Central stand-in (nginx over Debian's
//! `/usr/share/maven-repo`, with Central's `.sha1` sidecars), as a CodeArtifact repository
//! with an external connection to `public:maven-central` does.

use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::ci_action::serve_binary;
use crate::run::copy_tree;
use crate::support::peers::Nginx;
use crate::support::{self, LadingServer, ServerSpec, clean_command, describe, lading_bin};

const BUILD_ARN: &str = "arn:aws:codebuild:us-east-1:111122223333:build/lading-example:0f1e2d3c";

struct Environment {
    work: tempfile::TempDir,
    server: LadingServer,
    _assets: support::peers::StaticServer,
    _central: Option<Nginx>,
    url: String,
    sha256: String,
}

impl Environment {
    fn new() -> Self {
        Self::start(false)
    }

    /// With Maven Central's stand-in as every repository's upstream (`mvn`, `gradle`).
    fn with_maven_central() -> Self {
        Self::start(true)
    }

    fn start(maven_central: bool) -> Self {
        let work = tempfile::tempdir().unwrap();
        let central = maven_central.then(|| {
            let nginx = Nginx::find().expect("nginx");
            Nginx::start_maven_central(&nginx, &work.path().join("central"))
        });
        let upstream = central
            .as_ref()
            .map(|central| format!("maven={}", central.url));
        let server = LadingServer::start(
            &work.path().join("repo"),
            ServerSpec {
                args: upstream
                    .iter()
                    .flat_map(|upstream| ["--upstream", upstream.as_str()])
                    .collect(),
                ..ServerSpec::default()
            },
        );
        let (assets, url, sha256) = serve_binary(&work.path().join("assets"));
        copy_tree(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
            &work.path().join("src/examples"),
        );
        fs_err::create_dir_all(work.path().join("home")).unwrap();
        Self {
            work,
            server,
            _assets: assets,
            _central: central,
            url,
            sha256,
        }
    }

    fn src(&self) -> PathBuf {
        self.work.path().join("src")
    }

    /// The environment every step sees after the buildspec's or Jenkinsfile's own: the
    /// project's overrides (`start-build --environment-variables-override`: the binary's
    /// URL and sha256, lading serve's domain) and the AWS wiring to lading serve.
    fn common(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .server
            .aws_env()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
        env.extend(
            [
                ("LADING_URL", self.url.clone()),
                ("LADING_SHA256", self.sha256.clone()),
                (
                    "LADING_BIN_DIR",
                    self.work.path().join("bin").display().to_string(),
                ),
                ("CODEARTIFACT_DOMAIN", "local".to_owned()),
                ("CODEARTIFACT_DOMAIN_OWNER", "000000000000".to_owned()),
                ("CODEARTIFACT_REPOSITORY", "main".to_owned()),
                ("AWS_REGION", "us-east-1".to_owned()),
                ("AWS_ENDPOINT_URL_CODEARTIFACT", self.server.url.clone()),
                (
                    "LADING_CACHE_DIR",
                    self.work.path().join("cache").display().to_string(),
                ),
                // The JVM takes its home from the password database, not `HOME`: keep
                // Maven's local repository and Gradle's caches inside the test.
                (
                    "MAVEN_OPTS",
                    format!("-Duser.home={}", self.work.path().join("home").display()),
                ),
                (
                    "GRADLE_USER_HOME",
                    self.work.path().join("home/.gradle").display().to_string(),
                ),
            ]
            .map(|(name, value)| (name.to_owned(), value)),
        );
        env
    }
}

/// Run one buildspec's phases (`phases` limits which).
fn run_buildspec(environment: &Environment, name: &str, phases: &[&str]) -> std::process::Output {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("buildspec-examples")
        .join(name);
    let spec: serde_yaml::Value =
        serde_yaml::from_str(&fs_err::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(spec["version"], 0.2, "{name}");
    let mut script = String::from("set -eo pipefail\n");
    for phase in phases {
        let Some(commands) = spec["phases"][*phase]["commands"].as_sequence() else {
            continue;
        };
        for command in commands {
            script.push_str(command.as_str().unwrap());
            script.push('\n');
        }
    }
    let mut shell = clean_command("bash", &environment.work.path().join("home"));
    shell.arg("-c").arg(&script).current_dir(environment.src());
    if let Some(variables) = spec["env"]["variables"].as_mapping() {
        for (key, value) in variables {
            let value = match value {
                serde_yaml::Value::String(text) => text.clone(),
                other => serde_yaml::to_string(other).unwrap().trim().to_owned(),
            };
            shell.env(key.as_str().unwrap(), value);
        }
    }
    for (name, value) in environment.common() {
        shell.env(name, value);
    }
    // CodeBuild's own.
    shell
        .env("CODEBUILD_BUILD_ARN", BUILD_ARN)
        .env("CODEBUILD_BUILD_ID", "lading-example:0f1e2d3c")
        .env("CODEBUILD_BUILD_NUMBER", "7")
        .env("CODEBUILD_SRC_DIR", environment.src())
        .env(
            "CODEBUILD_RESOLVED_SOURCE_VERSION",
            "0123456789abcdef0123456789abcdef01234567",
        )
        .env("CODEBUILD_SOURCE_VERSION", "refs/heads/main")
        .env("CODEBUILD_INITIATOR", "codepipeline/lading")
        .env("CODEBUILD_CI", "true");
    support::run(&mut shell)
}

/// `lading pack` wrote DIR, its provenance names the CodeBuild build, and `lading verify` agrees.
fn check_packed(dir: &Path) {
    check_packed_by(dir, BUILD_ARN);
}

/// `lading pack` wrote DIR, its provenance names `builder`, and `lading verify` agrees.
fn check_packed_by(dir: &Path, builder: &str) {
    assert!(dir.join("SHA256SUMS").is_file(), "{}", dir.display());
    let provenance = fs_err::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.to_string_lossy().ends_with(".intoto.jsonl"))
        .unwrap();
    let envelope: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(provenance).unwrap()).unwrap();
    let payload = base64::engine::general_purpose::STANDARD
        .decode(envelope["payload"].as_str().unwrap())
        .unwrap();
    let payload = String::from_utf8(payload).unwrap();
    assert!(payload.contains(builder), "{payload}");
    let home = tempfile::tempdir().unwrap();
    support::run_ok(
        clean_command(lading_bin(), home.path())
            .arg("verify")
            .arg(dir),
    );
}

/// `package` `version` is in the server's `main` repository, published.
fn check_published(
    environment: &Environment,
    format: &str,
    namespace: Option<&str>,
    package: &str,
    version: &str,
) {
    let mut args = vec![
        "list-package-versions",
        "--domain",
        "local",
        "--repository",
        "main",
        "--format",
        format,
        "--package",
        package,
    ];
    if let Some(namespace) = namespace {
        args.extend(["--namespace", namespace]);
    }
    let listed = environment
        .server
        .aws_json(&environment.work.path().join("home"), &args);
    let found = listed["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["version"] == version);
    assert!(
        found.is_some_and(|entry| entry["status"] == "Published"),
        "{format} {package} {version}: {listed}"
    );
}

const ALL_PHASES: [&str; 4] = ["install", "pre_build", "build", "post_build"];

#[test]
fn every_buildspec_parses_with_the_standard_phases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("buildspec-examples");
    let mut names: Vec<String> = fs_err::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "generic.yml",
            "gradle.yml",
            "maven.yml",
            "monorepo.yml",
            "npm.yml",
            "nuget.yml",
            "pypi.yml"
        ]
    );
    for name in names {
        let spec: serde_yaml::Value =
            serde_yaml::from_str(&fs_err::read_to_string(dir.join(&name)).unwrap()).unwrap();
        assert_eq!(spec["version"], 0.2, "{name}");
        let phases = spec["phases"].as_mapping().unwrap();
        for (phase, body) in phases {
            assert!(
                ALL_PHASES.contains(&phase.as_str().unwrap()),
                "{name}: unknown phase {phase:?}"
            );
            assert!(
                body["commands"]
                    .as_sequence()
                    .is_some_and(|c| !c.is_empty()),
                "{name}"
            );
        }
        let install = serde_yaml::to_string(&spec["phases"]["install"]).unwrap();
        assert!(
            install.contains("sha256sum -c"),
            "{name}: the binary must be checked"
        );
    }
}

#[test]
fn npm_buildspec_runs_against_lading_serve() {
    let environment = Environment::new();
    let output = run_buildspec(&environment, "npm.yml", &ALL_PHASES);
    assert!(output.status.success(), "{}", describe(&output));
    check_packed(&environment.src().join(".lading/out/npm"));
    check_published(&environment, "npm", None, "lading-example-npm", "1.0.0");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("npm: 0 packages from"), "{stderr}");
    // Logout removed the per-job npmrc.
    assert!(!environment.src().join(".lading/login/npmrc").exists());
}

#[test]
fn pypi_generic_and_nuget_buildspecs_run_against_lading_serve() {
    let environment = Environment::new();
    for (name, out) in [
        ("pypi.yml", ".lading/out/pypi"),
        ("generic.yml", ".lading/out/generic"),
        ("nuget.yml", ".lading/out/nuget"),
    ] {
        let output = run_buildspec(&environment, name, &ALL_PHASES);
        assert!(output.status.success(), "{name}: {}", describe(&output));
        check_packed(&environment.src().join(out));
    }
    check_published(&environment, "pypi", None, "lading-example", "1.0.0");
    check_published(
        &environment,
        "generic",
        Some("lading-example-generic"),
        "lading-example-generic",
        "1.0.7",
    );
    check_published(&environment, "nuget", None, "lading.example", "1.0.0");
    // The generic version came from CODEBUILD_BUILD_NUMBER.
    assert!(
        environment
            .src()
            .join(".lading/out/generic/lading-example-generic-1.0.7.tar.gz")
            .is_file()
    );
}

#[test]
fn monorepo_buildspec_runs_the_pipeline_against_lading_serve() {
    let environment = Environment::new();
    let output = run_buildspec(&environment, "monorepo.yml", &ALL_PHASES);
    assert!(output.status.success(), "{}", describe(&output));
    let out = environment.src().join("examples/.lading/out");
    let mut dirs: Vec<String> = fs_err::read_dir(&out)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 5, "{dirs:?}");
    for dir in dirs {
        check_packed(&out.join(dir));
    }
    // The configured repository was used, not an embedded one.
    assert!(!environment.src().join("examples/.lading/repo").exists());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--domain local --domain-owner 000000000000 --repository main"),
        "{stderr}"
    );
}

#[test]
fn maven_buildspec_builds_through_lading_serve_and_publishes() {
    let environment = Environment::with_maven_central();
    let output = run_buildspec(&environment, "maven.yml", &ALL_PHASES);
    assert!(output.status.success(), "{}", describe(&output));
    // `lading restore` put the pinned dependency into the local repository, through
    // lading serve, which cached it from upstream; mvn fetched its plugins the same way.
    let local = environment
        .work
        .path()
        .join("home/.m2/repository/commons-io/commons-io/2.11.0");
    assert!(local.join("commons-io-2.11.0.jar").is_file());
    assert!(
        fs_err::read_to_string(local.join("_remote.repositories"))
            .unwrap()
            .contains("commons-io-2.11.0.jar>"),
        "not recorded as restored"
    );
    check_published(
        &environment,
        "maven",
        Some("commons-io"),
        "commons-io",
        "2.11.0",
    );
    check_published(
        &environment,
        "maven",
        Some("org.apache.maven.plugins"),
        "maven-compiler-plugin",
        "3.10.1",
    );
    assert!(
        environment
            .src()
            .join("examples/maven/target/classes/com/example/Example.class")
            .is_file()
    );
    check_packed(&environment.src().join(".lading/out/maven"));
    check_published(
        &environment,
        "maven",
        Some("com.example"),
        "lading-example",
        "1.0.0",
    );
    // `lading logout` removed the per-job settings.
    assert!(
        !environment
            .src()
            .join(".lading/login/settings.xml")
            .exists()
    );
}

#[test]
fn gradle_buildspec_builds_through_lading_serve_and_publishes() {
    let environment = Environment::with_maven_central();
    let output = run_buildspec(&environment, "gradle.yml", &ALL_PHASES);
    assert!(output.status.success(), "{}", describe(&output));
    // The example declares no repository: commons-io came through lading's init script.
    check_published(
        &environment,
        "maven",
        Some("commons-io"),
        "commons-io",
        "2.11.0",
    );
    let packed = environment.src().join(".lading/out/gradle");
    check_packed(&packed);
    check_published(
        &environment,
        "maven",
        Some("com.example"),
        "lading-example-gradle",
        "1.0.0",
    );
    assert!(!environment.src().join(".lading/login/init.gradle").exists());
}

/// The `sh` steps of a Jenkinsfile, in order (`post { always }` last), and its `environment {}`.
pub fn jenkins_steps(text: &str) -> (Vec<String>, Vec<(String, String)>) {
    let mut steps = Vec::new();
    let mut post = Vec::new();
    let mut environment = Vec::new();
    let mut in_post = false;
    let mut in_environment = false;
    let mut rest = text;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("environment {") {
            in_environment = true;
            continue;
        }
        if in_environment {
            if trimmed == "}" {
                in_environment = false;
            } else if let Some((name, value)) = trimmed.split_once('=') {
                let value = value.trim().trim_matches('\'').trim_matches('"');
                environment.push((name.trim().to_owned(), value.to_owned()));
            }
        }
    }
    // `sh '...'` / `sh '''...'''` with single quotes only: Groovy does not interpolate them.
    while let Some(start) = rest.find("sh '") {
        let before = &rest[..start];
        if before.contains("post {") || before.contains("finally {") {
            in_post = true;
        }
        let after = &rest[start + 3..];
        let (body, next) = if let Some(stripped) = after.strip_prefix("'''") {
            let end = stripped.find("'''").unwrap();
            (&stripped[..end], &stripped[end + 3..])
        } else {
            let stripped = &after[1..];
            let end = stripped.find('\'').unwrap();
            (&stripped[..end], &stripped[end + 1..])
        };
        if in_post {
            post.push(body.to_owned());
        } else {
            steps.push(body.to_owned());
        }
        rest = next;
    }
    steps.extend(post);
    (steps, environment)
}

fn run_jenkinsfile(file: &str) {
    let environment = Environment::new();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/jenkins")
        .join(file);
    let (steps, variables) = jenkins_steps(&fs_err::read_to_string(&path).unwrap());
    assert!(steps.len() >= 5, "{file}: {steps:?}");
    for command in &steps {
        let mut shell = clean_command("sh", &environment.work.path().join("home"));
        shell.args(["-xec", command]).current_dir(environment.src());
        for (name, value) in &variables {
            shell.env(name, value);
        }
        for (name, value) in environment.common() {
            shell.env(name, value);
        }
        shell
            .env("JENKINS_URL", "https://jenkins.example.com/")
            .env("BUILD_URL", "https://jenkins.example.com/job/lading/12/")
            .env("BUILD_ID", "12")
            .env("BUILD_NUMBER", "12")
            .env("JOB_NAME", "lading")
            .env("WORKSPACE", environment.src())
            .env("GIT_COMMIT", "0123456789abcdef0123456789abcdef01234567")
            .env("GIT_BRANCH", "origin/main");
        let output = support::run(&mut shell);
        assert!(
            output.status.success(),
            "{file}: `{command}`\n{}",
            describe(&output)
        );
    }
    // The provenance names the Jenkins build.
    check_packed_by(
        &environment.src().join(".lading/out/npm"),
        "https://jenkins.example.com/job/lading/12/",
    );
    check_published(&environment, "npm", None, "lading-example-npm", "1.0.0");
    // `post { always }` logged out: the per-job npmrc is gone.
    assert!(!environment.src().join(".lading/login/npmrc").exists());
}

#[test]
fn declarative_jenkinsfile_sh_steps_run_against_lading_serve() {
    run_jenkinsfile("Jenkinsfile");
}

#[test]
fn scripted_jenkinsfile_sh_steps_run_against_lading_serve() {
    run_jenkinsfile("Jenkinsfile.scripted");
}
