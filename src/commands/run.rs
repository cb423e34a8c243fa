//! `lading run`: the whole pipeline from `lading.yml`, each step a child `lading` process.
//!
//! Steps, in order: `login` (when `pipeline.tools` names tools) → `restore` (one per
//! `pipeline.restore` directory) → the build command (after `--`, else `pipeline.build`) →
//! `pack` (one per `packages:` entry) → `publish` (one per packed directory) → `logout`.
//! The first failing step stops the run, `logout` still runs, and `lading run` exits with
//! the failed step's own exit code.
//!
//! Each step is a child invocation of this same executable rather than a function call, so
//! a step behaves exactly as it does when a CI script runs it by hand (same flags, same
//! exit codes, same output), and a step's crash cannot take the embedded repository down.
//!
//! With no repository on the command line or in `lading.yml`, the run starts the embedded
//! repository ([`crate::server::Server`]) in this process on a loopback port over
//! `.lading/repo/` next to the config, and points every step at it through the
//! CodeArtifact flags and `AWS_SHARED_CREDENTIALS_FILE`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::Context as _;

use crate::cli::RunArgs;
use crate::config::{Config, PackageConfig};
use crate::diagnostics::{ChildExit, HintedError};
use crate::env_vars::EnvVars;
use crate::printer::Printer;
use crate::server::{
    CREDENTIALS_FILE, DEFAULT_ACCOUNT, DEFAULT_DOMAIN, DEFAULT_REPOSITORY, Server, ServerOptions,
};

/// Region the embedded repository is addressed with.
const EMBEDDED_REGION: &str = "us-east-1";

/// What a step runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// This executable with these arguments.
    Lading(Vec<OsString>),
    /// A shell command line (`sh -c`).
    Shell(String),
    /// A program and its arguments.
    Argv(Vec<OsString>),
}

/// One step of the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `login`, `restore`, `build`, `pack`, `publish`.
    pub name: &'static str,
    /// What it runs.
    pub program: Program,
}

/// How the steps reach the repository: flags for repository-aware steps, and environment.
#[derive(Debug, Clone, Default)]
pub struct RepositoryWiring {
    /// Flags appended to `login`, `restore`, `publish`.
    pub flags: Vec<OsString>,
    /// Variables set for every step.
    pub env: Vec<(String, OsString)>,
    /// Variables removed for every step (ambient AWS credentials that would win over ours).
    pub remove: Vec<&'static str>,
}

/// The flags that point a step at the embedded repository listening at `base`.
#[must_use]
pub fn embedded_wiring(base: &str, data_dir: &Path) -> RepositoryWiring {
    let flags = [
        "--endpoint-url",
        base,
        "--domain",
        DEFAULT_DOMAIN,
        "--repository",
        DEFAULT_REPOSITORY,
        "--domain-owner",
        DEFAULT_ACCOUNT,
        "--region",
        EMBEDDED_REGION,
    ]
    .into_iter()
    .map(OsString::from)
    .collect();
    RepositoryWiring {
        flags,
        env: vec![
            (
                EnvVars::AWS_SHARED_CREDENTIALS_FILE.to_owned(),
                data_dir.join(CREDENTIALS_FILE).into_os_string(),
            ),
            // An empty config: no profile from the user's `~/.aws/config` applies.
            (
                EnvVars::AWS_CONFIG_FILE.to_owned(),
                OsString::from("/dev/null"),
            ),
            (
                EnvVars::LADING_REPOSITORY_URL.to_owned(),
                OsString::from(base),
            ),
        ],
        remove: vec![
            EnvVars::AWS_PROFILE,
            EnvVars::AWS_ACCESS_KEY_ID,
            EnvVars::AWS_SECRET_ACCESS_KEY,
            EnvVars::AWS_SESSION_TOKEN,
        ],
    }
}

/// Forward the repository flags the user gave `lading run` to the steps.
#[must_use]
pub fn forwarded_flags(args: &crate::repository::RepositoryArgs, config: &Path) -> Vec<OsString> {
    let mut flags: Vec<OsString> = Vec::new();
    let mut push = |flag: &str, value: Option<OsString>| {
        if let Some(value) = value {
            flags.push(flag.into());
            flags.push(value);
        }
    };
    push("--domain", args.domain.clone().map(Into::into));
    push("--domain-owner", args.domain_owner.clone().map(Into::into));
    push("--repository", args.repository.clone().map(Into::into));
    push("--region", args.region.clone().map(Into::into));
    push("--endpoint-url", args.endpoint_url.clone().map(Into::into));
    push(
        "--duration-seconds",
        args.duration_seconds
            .map(|seconds| seconds.to_string().into()),
    );
    push(
        "--registry-url",
        args.registry_url.as_ref().map(|url| url.as_str().into()),
    );
    push("--token-env", args.token_env.clone().map(Into::into));
    push(
        "--token-file",
        args.token_file.clone().map(PathBuf::into_os_string),
    );
    push(
        "--repository-name",
        args.repository_name.clone().map(Into::into),
    );
    push("--config", Some(config.as_os_str().to_owned()));
    flags
}

/// Where `lading run` keeps its files, relative to the config's directory.
const STATE_DIR: &str = ".lading";

/// The directory packages are packed into, one subdirectory each.
fn package_dir(out: &Path, index: usize, package: &PackageConfig) -> PathBuf {
    let label: String = package
        .name
        .as_deref()
        .unwrap_or(&package.format)
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || character == '-' || character == '.' {
                character
            } else {
                '_'
            }
        })
        .collect();
    out.join(format!("{index}-{label}"))
}

/// Plan the steps between login and logout.
#[must_use]
pub fn plan(
    config: &Config,
    build: &[String],
    wiring: &RepositoryWiring,
    publish: bool,
) -> Vec<Step> {
    let pipeline = config.pipeline.clone().unwrap_or_default();
    let mut steps = Vec::new();
    for dir in &pipeline.restore {
        let mut args: Vec<OsString> = vec!["restore".into(), "--dir".into(), dir.into()];
        args.extend(wiring.flags.iter().cloned());
        steps.push(Step {
            name: "restore",
            program: Program::Lading(args),
        });
    }
    match build {
        [] => {
            if let Some(command) = &pipeline.build {
                steps.push(Step {
                    name: "build",
                    program: Program::Shell(command.clone()),
                });
            }
        }
        // One word after `--` is a shell command line (`lading run -- 'npm ci && npm test'`).
        [command] => steps.push(Step {
            name: "build",
            program: Program::Shell(command.clone()),
        }),
        argv => steps.push(Step {
            name: "build",
            program: Program::Argv(argv.iter().map(OsString::from).collect()),
        }),
    }
    let out = pipeline
        .out
        .clone()
        .unwrap_or_else(|| Path::new(STATE_DIR).join("out"));
    let mut packed = Vec::new();
    for (index, package) in config.packages.iter().enumerate() {
        let dir = package_dir(&out, index, package);
        let mut args: Vec<OsString> =
            vec!["pack".into(), "--format".into(), (&package.format).into()];
        if let Some(name) = &package.name {
            args.extend(["--name".into(), name.into()]);
        }
        if let Some(version) = &package.version {
            args.extend(["--version".into(), version.into()]);
        }
        if let Some(base) = &package.base {
            args.extend(["--base".into(), base.into()]);
        }
        args.extend(["--out".into(), dir.clone().into_os_string()]);
        if let Some(nuspec) = &package.nuspec {
            args.extend(["--nuspec".into(), nuspec.into()]);
        }
        if let Some(pom) = &package.pom {
            args.extend(["--pom".into(), pom.into()]);
        }
        for lockfile in &package.lockfiles {
            args.extend(["--lockfile".into(), lockfile.into()]);
        }
        if !package.files.is_empty() {
            args.push("--".into());
            args.extend(package.files.iter().map(OsString::from));
        }
        steps.push(Step {
            name: "pack",
            program: Program::Lading(args),
        });
        packed.push(dir);
    }
    if publish && pipeline.publish.unwrap_or(true) {
        for dir in packed {
            let mut args: Vec<OsString> = vec!["publish".into(), dir.into_os_string()];
            args.extend(wiring.flags.iter().cloned());
            // The report tells the summary what was sent and what was already there.
            args.push("--json".into());
            steps.push(Step {
                name: "publish",
                program: Program::Lading(args),
            });
        }
    }
    steps
}

/// Parse `export NAME='value'` lines (what `lading login --print-env sh` prints).
#[must_use]
pub fn parse_sh_exports(text: &str) -> Vec<(String, String)> {
    let mut exports = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("export ") else {
            continue;
        };
        let Some((name, quoted)) = rest.split_once('=') else {
            continue;
        };
        let mut value = String::new();
        let mut in_quotes = false;
        let mut characters = quoted.chars().peekable();
        while let Some(character) = characters.next() {
            match (character, in_quotes) {
                ('\'', _) => in_quotes = !in_quotes,
                ('\\', false) => {
                    if let Some(next) = characters.next() {
                        value.push(next);
                    }
                }
                (other, _) => value.push(other),
            }
        }
        exports.push((name.to_owned(), value));
    }
    exports
}

fn describe_program(program: &Program) -> String {
    let join = |parts: &[OsString]| {
        parts
            .iter()
            .map(|part| part.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    };
    match program {
        Program::Lading(args) => format!("lading {}", join(args)),
        Program::Shell(command) => format!("sh -c {command:?}"),
        Program::Argv(argv) => join(argv),
    }
}

/// Runs steps as children in one directory with one environment.
struct Runner {
    binary: PathBuf,
    root: PathBuf,
    wiring: RepositoryWiring,
    exported: Vec<(String, String)>,
    printer: Printer,
    /// Per published directory (as the step names it): whether every file was already in
    /// the repository (nothing sent).
    already_published: Vec<(PathBuf, bool)>,
}

impl Runner {
    fn command(&self, program: &Program) -> tokio::process::Command {
        let mut command = match program {
            Program::Lading(args) => {
                let mut command = tokio::process::Command::new(&self.binary);
                command.args(args);
                command
            }
            Program::Shell(line) => {
                let mut command = tokio::process::Command::new("sh");
                command.arg("-c").arg(line);
                command
            }
            Program::Argv(argv) => {
                let mut command = tokio::process::Command::new(&argv[0]);
                command.args(&argv[1..]);
                command
            }
        };
        command.current_dir(&self.root).stdin(Stdio::null());
        for name in &self.wiring.remove {
            command.env_remove(name);
        }
        for (name, value) in &self.wiring.env {
            command.env(name, value);
        }
        for (name, value) in &self.exported {
            command.env(name, value);
        }
        command
    }

    /// Run a step; its stdout goes to our stderr (our stdout carries only the summary).
    async fn run(&mut self, step: &Step) -> anyhow::Result<()> {
        if step.name == "publish" {
            return self.publish(step).await;
        }
        self.printer.status(&format!(
            "lading run: step `{}`: {}",
            step.name,
            describe_program(&step.program)
        ));
        let mut command = self.command(&step.program);
        command.stdout(stderr_stdio()?).stderr(Stdio::inherit());
        let status = command
            .status()
            .await
            .with_context(|| format!("failed to start step `{}`", step.name))?;
        check(step.name, status)
    }

    /// Announce `step`, run it with stdout captured and stderr passed through, and wait.
    async fn run_capturing_stdout(&self, step: &Step) -> anyhow::Result<std::process::Output> {
        self.printer.status(&format!(
            "lading run: step `{}`: {}",
            step.name,
            describe_program(&step.program)
        ));
        let mut command = self.command(&step.program);
        command.stdout(Stdio::piped()).stderr(Stdio::inherit());
        // `spawn` + `wait_with_output`, not `output`: tokio's `output` pipes stderr too, and
        // the step's messages would be lost.
        command
            .spawn()
            .with_context(|| format!("failed to start step `{}`", step.name))?
            .wait_with_output()
            .await
            .with_context(|| format!("failed to wait for step `{}`", step.name))
    }

    /// Run `lading publish --json` and keep from its report whether it sent anything.
    async fn publish(&mut self, step: &Step) -> anyhow::Result<()> {
        let output = self.run_capturing_stdout(step).await?;
        check(step.name, output.status)?;
        if let Program::Lading(args) = &step.program
            && let Some(dir) = args.get(1)
        {
            let report: serde_json::Value =
                serde_json::from_slice(&output.stdout).unwrap_or_default();
            let files: Vec<&serde_json::Value> = report["packages"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|package| package["files"].as_array().into_iter().flatten())
                .collect();
            let already = !files.is_empty()
                && files
                    .iter()
                    .all(|file| file["outcome"] == "already_published");
            self.already_published.push((PathBuf::from(dir), already));
        }
        Ok(())
    }

    /// Run `lading login --print-env sh` and keep its exports for later steps.
    async fn login(&mut self, step: &Step) -> anyhow::Result<()> {
        let output = self.run_capturing_stdout(step).await?;
        let text = String::from_utf8_lossy(&output.stdout);
        // `::add-mask::` and any other runner command must still reach the runner.
        for line in text.lines().filter(|line| !line.starts_with("export ")) {
            self.printer.data(line);
        }
        check(step.name, output.status)?;
        self.exported = parse_sh_exports(&text);
        Ok(())
    }
}

fn stderr_stdio() -> anyhow::Result<Stdio> {
    use std::os::fd::AsFd as _;
    let fd = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .context("failed to duplicate stderr for a step")?;
    Ok(Stdio::from(fd))
}

fn check(name: &str, status: std::process::ExitStatus) -> anyhow::Result<()> {
    if status.success() {
        return Ok(());
    }
    let code = status
        .code()
        .and_then(|code| u8::try_from(code).ok())
        .filter(|code| *code != 0)
        .unwrap_or(crate::diagnostics::EXIT_FAILURE);
    Err(ChildExit {
        message: format!("step `{name}` failed ({status})"),
        code,
    }
    .into())
}

/// Run the pipeline.
///
/// # Errors
/// The config cannot be loaded, the embedded repository cannot start, or a step failed
/// ([`ChildExit`] with that step's exit code).
pub async fn run(args: RunArgs, printer: Printer) -> anyhow::Result<()> {
    let config_path = std::path::absolute(&args.repository.config)
        .with_context(|| format!("failed to resolve `{}`", args.repository.config.display()))?;
    if !config_path.is_file() {
        return Err(HintedError::new(
            format!("no pipeline config at `{}`", args.repository.config.display()),
            "create `lading.yml` with `packages:` (and optionally `pipeline:`), or pass `--config FILE`",
        )
        .into());
    }
    let config = Config::load(&config_path)?;
    let root = config_path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let flags_name_repository = args.repository.domain.is_some()
        || args.repository.repository.is_some()
        || args.repository.registry_url.is_some();
    let mut server = None;
    let wiring = if flags_name_repository || !config.repositories.is_empty() {
        RepositoryWiring {
            flags: forwarded_flags(&args.repository, &config_path),
            ..RepositoryWiring::default()
        }
    } else {
        let data_dir = root.join(STATE_DIR).join("repo");
        let started = Server::start(ServerOptions {
            data_dir: data_dir.clone(),
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            config: None,
            public_url: None,
            region: EMBEDDED_REGION.to_owned(),
            limits: crate::server::ingest::Limits::default(),
            header_timeout: std::time::Duration::from_secs(30),
            connections: crate::server::ConnectionLimits::default(),
            upstreams: Vec::new(),
            metadata_ttl: crate::server::upstream::DEFAULT_METADATA_TTL,
            data_planes: crate::ecosystem::registry::data_planes(),
            blobs: None,
            index: None,
        })
        .await
        .context("failed to start the embedded repository")?;
        let base = format!("http://{}", started.local_addr());
        printer.status(&format!(
            "lading run: no repository configured; using the embedded repository at {base} (data in `{}`)",
            data_dir.display()
        ));
        server = Some(started);
        embedded_wiring(&base, &data_dir)
    };
    let binary = match EnvVars::get(EnvVars::LADING_RUN_BINARY) {
        Some(path) => PathBuf::from(path),
        None => std::env::current_exe().context("failed to find the lading executable")?,
    };
    let steps = plan(&config, &args.build, &wiring, !args.no_publish);
    let mut runner = Runner {
        binary,
        root: root.clone(),
        wiring: wiring.clone(),
        exported: Vec::new(),
        printer,
        already_published: Vec::new(),
    };
    let tools = config
        .pipeline
        .as_ref()
        .map(|pipeline| pipeline.tools.clone())
        .unwrap_or_default();
    let login_dir = Path::new(STATE_DIR).join("run").join("login");
    let state_file = login_dir.join("state.json");
    let mut result = Ok(());
    let logged_in = if tools.is_empty() {
        false
    } else {
        let mut login: Vec<OsString> = vec!["login".into()];
        for tool in &tools {
            login.extend(["--tool".into(), tool.into()]);
        }
        login.extend([
            "--target".into(),
            "ephemeral".into(),
            "--dir".into(),
            login_dir.clone().into_os_string(),
            "--state-file".into(),
            state_file.clone().into_os_string(),
            "--print-env".into(),
            "sh".into(),
        ]);
        login.extend(wiring.flags.iter().cloned());
        result = runner
            .login(&Step {
                name: "login",
                program: Program::Lading(login),
            })
            .await;
        // A failed login may still have written files; logout undoes whatever it recorded.
        true
    };
    if result.is_ok() {
        for step in &steps {
            result = runner.run(step).await;
            if result.is_err() {
                break;
            }
        }
    }
    if logged_in && root.join(&state_file).exists() {
        let logout = Step {
            name: "logout",
            program: Program::Lading(vec![
                "logout".into(),
                "--state-file".into(),
                state_file.into_os_string(),
            ]),
        };
        let logout_result = runner.run(&logout).await;
        if result.is_ok() {
            result = logout_result;
        } else if let Err(error) = logout_result {
            printer.warn(&format!("{error:#}"));
        }
    }
    if let Some(server) = server {
        server.shutdown().await;
    }
    result?;
    print_summary(&config, &root, &runner.already_published, printer);
    Ok(())
}

/// List what was packed (and published) from the manifests `lading pack` wrote.
/// A package whose files were all in the repository already (a rerun of the same job) is
/// listed as `already published ... identical`.
fn print_summary(
    config: &Config,
    root: &Path,
    already_published: &[(PathBuf, bool)],
    printer: Printer,
) {
    let published = !already_published.is_empty();
    let out = config
        .pipeline
        .as_ref()
        .and_then(|pipeline| pipeline.out.clone())
        .unwrap_or_else(|| Path::new(STATE_DIR).join("out"));
    let verb = if published { "published" } else { "packed" };
    let mut listed = Vec::new();
    for (index, package) in config.packages.iter().enumerate() {
        let relative = package_dir(&out, index, package);
        let already = already_published
            .iter()
            .any(|(dir, already)| *already && *dir == relative);
        let dir = root.join(&relative);
        let manifest = fs_err::read_dir(&dir).ok().and_then(|entries| {
            entries.filter_map(Result::ok).find_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !name.ends_with(".manifest.json") {
                    return None;
                }
                let text = fs_err::read_to_string(entry.path()).ok()?;
                serde_json::from_str::<serde_json::Value>(&text).ok()
            })
        });
        if let Some(manifest) = manifest {
            listed.push(serde_json::json!({
                "name": manifest["name"],
                "version": manifest["version"],
                "format": manifest["format"],
                "already_published": published.then_some(already),
            }));
            let line = format!(
                "{} {} ({})",
                manifest["name"].as_str().unwrap_or_default(),
                manifest["version"].as_str().unwrap_or_default(),
                manifest["format"].as_str().unwrap_or_default()
            );
            if already {
                printer.data(&format!(
                    "already published {line}, identical: nothing sent"
                ));
            } else {
                printer.data(&format!("{verb} {line}"));
            }
        }
    }
    if published {
        let json = serde_json::Value::Array(listed).to_string();
        if let Err(error) = crate::ci::export::github_output(&[("published".to_owned(), json)]) {
            printer.warn(&format!("failed to write the `published` output: {error}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sh_exports_round_trip() {
        let values = vec![
            ("A".to_owned(), "/tmp/a b/$x'y".to_owned()),
            ("B".to_owned(), String::new()),
        ];
        let text = crate::ci::export::sh_exports(&values);
        assert_eq!(parse_sh_exports(&format!("::add-mask::x\n{text}")), values);
    }

    #[test]
    fn plan_orders_restore_build_pack_publish() {
        let text = "pipeline:\n  tools: [npm]\n  restore: [npm]\n  build: make\npackages:\n  - format: tar.gz\n    name: '@acme/app'\n    version: 1.0.0\n    base: generic\n    files: ['dist/**']\n";
        let config = Config::parse(Path::new("lading.yml"), text).unwrap();
        let wiring = embedded_wiring("http://127.0.0.1:1", Path::new("/data"));
        let steps = plan(&config, &[], &wiring, true);
        let names: Vec<_> = steps.iter().map(|step| step.name).collect();
        assert_eq!(names, ["restore", "build", "pack", "publish"]);
        assert_eq!(
            describe_program(&steps[2].program),
            "lading pack --format tar.gz --name @acme/app --version 1.0.0 --base generic --out .lading/out/0-_acme_app -- dist/**"
        );
        assert_eq!(
            describe_program(&steps[3].program),
            "lading publish .lading/out/0-_acme_app --endpoint-url http://127.0.0.1:1 --domain local --repository main --domain-owner 000000000000 --region us-east-1 --json"
        );
        let argv = plan(
            &config,
            &["npm".to_owned(), "ci".to_owned()],
            &wiring,
            false,
        );
        assert_eq!(
            argv[1].program,
            Program::Argv(vec!["npm".into(), "ci".into()])
        );
        assert!(argv.iter().all(|step| step.name != "publish"));
    }
}
