//! `lading login`, `lading logout` and `lading token`.
//!
//! Login plans every file edit in memory first (the editors live in `ecosystem/*`), then
//! writes them atomically under a lock, rolling back the ones already written if a later
//! one fails. A state file (0600) records, for each file, its bytes and mode before the
//! first login (or that it did not exist) and a digest of what login wrote, so logout can
//! restore exactly, and refuse to clobber a file someone changed since.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::ci::export;
use crate::cli::{LoginArgs, LoginTarget, LogoutArgs, MavenModeArg, Shell, TokenArgs, Tool};
use crate::diagnostics::HintedError;
use crate::ecosystem::cargo::config as cargo_config;
use crate::ecosystem::edit::{EditError, apply_netrc};
use crate::ecosystem::maven::gradle::{self, GradleLogin};
use crate::ecosystem::maven::settings::{self as maven_settings, MavenLogin, MavenMode};
use crate::ecosystem::npm::npmrc;
use crate::ecosystem::npm::yarnrc::{self, YarnLogin};
use crate::ecosystem::nuget::config::{self as nuget_config, NuGetLogin};
use crate::ecosystem::pypi::client_config;
use crate::env_vars::EnvVars;
use crate::format::Format;
use crate::fsx;
use crate::printer::Printer;
use crate::repository::{Repository, TokenSource, cache_dir};
use crate::secret::{SafeUrl, Secret};

/// The state file format.
const STATE_VERSION: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    version: u32,
    files: Vec<StateFile>,
    /// Variables exported to later steps, in order.
    env: Vec<(String, String)>,
    /// Variables holding a token: in the env file only, read from their 0600 file there.
    #[serde(default)]
    sourced: Vec<(String, PathBuf)>,
    /// Token cache files login read or wrote: `lading logout` removes them.
    #[serde(default)]
    token_caches: Vec<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StateFile {
    path: PathBuf,
    /// Base64 of the bytes before the first login; `None`: the file did not exist.
    before: Option<String>,
    /// Unix mode before the first login.
    before_mode: Option<u32>,
    /// SHA-256 of the bytes login last wrote.
    after_sha256: String,
}

/// One planned file change.
#[derive(Debug)]
struct Planned {
    path: PathBuf,
    before: Option<Vec<u8>>,
    before_mode: Option<u32>,
    after: Vec<u8>,
    /// Where the text being edited came from (the file, or the seed it was copied from),
    /// for error messages.
    origin: PathBuf,
    /// Holds a secret: written 0600.
    private: bool,
}

#[derive(Debug, Default)]
struct Plan {
    files: Vec<Planned>,
    env: Vec<(String, String)>,
    /// Token variables: `export NAME="$(cat FILE)"` in the env file, never in `GITHUB_ENV`.
    sourced: Vec<(String, PathBuf)>,
}

impl Plan {
    /// The text the file will have so far (planned, else on disk, else `seed`).
    fn edit(
        &mut self,
        path: &Path,
        private: bool,
        seed: Option<&Path>,
        edit: impl FnOnce(&Path, &str) -> Result<String, EditError>,
    ) -> anyhow::Result<()> {
        let index = if let Some(index) = self.files.iter().position(|file| file.path == path) {
            index
        } else {
            {
                let before = match fs_err::read(path) {
                    Ok(bytes) => Some(bytes),
                    // A parent that is a file: the file cannot exist (the write will say why).
                    Err(error)
                        if matches!(
                            error.kind(),
                            std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                        ) =>
                    {
                        None
                    }
                    Err(error) => return Err(error.into()),
                };
                let (after, origin) = match (&before, seed) {
                    (Some(bytes), _) => (bytes.clone(), path.to_path_buf()),
                    (None, Some(seed)) => (fs_err::read(seed)?, seed.to_path_buf()),
                    (None, None) => (Vec::new(), path.to_path_buf()),
                };
                self.files.push(Planned {
                    path: path.to_path_buf(),
                    before_mode: mode_of(path),
                    before,
                    after,
                    origin,
                    private,
                });
                self.files.len() - 1
            }
        };
        let file = &mut self.files[index];
        file.private |= private;
        let text = crate::ecosystem::edit::decode(&file.origin, &file.after)?.to_owned();
        let new = edit(&file.origin, &text)?;
        file.after = new.into_bytes();
        Ok(())
    }

    fn export(&mut self, name: &str, value: &Path) {
        self.export_value(name, &value.display().to_string());
    }

    fn export_value(&mut self, name: &str, value: &str) {
        self.env.retain(|(existing, _)| existing != name);
        self.env.push((name.to_owned(), value.to_owned()));
    }

    /// A 0600 file holding only the token (what a `cat`-style credential helper reads).
    fn token_file(&mut self, path: &Path, token: &str) -> anyhow::Result<()> {
        self.edit(path, true, None, |_, _| Ok(token.to_owned()))
    }
}

/// `export NAME="$(cat 'FILE')"` lines: the variable gets the token when sourced, and the
/// env file itself never holds it.
fn sourced_exports(sourced: &[(String, PathBuf)]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for (name, file) in sourced {
        let _ = writeln!(
            out,
            "export {name}=\"$(cat {})\"",
            export::sh_quote(&file.display().to_string())
        );
    }
    out
}

fn cargo_home() -> anyhow::Result<PathBuf> {
    match EnvVars::get(EnvVars::CARGO_HOME) {
        Some(path) => Ok(PathBuf::from(path)),
        None => Ok(home()?.join(".cargo")),
    }
}

fn home() -> anyhow::Result<PathBuf> {
    EnvVars::get(EnvVars::HOME)
        .map(PathBuf::from)
        .ok_or_else(|| {
            HintedError::new(
                "`HOME` is not set",
                "set `HOME`, or use `--target ephemeral`",
            )
            .into()
        })
}

fn state_path(explicit: Option<&PathBuf>) -> PathBuf {
    explicit
        .cloned()
        .unwrap_or_else(|| cache_dir().join("login-v1").join("state.json"))
}

fn ephemeral_dir(explicit: Option<&PathBuf>) -> PathBuf {
    if let Some(dir) = explicit {
        return dir.clone();
    }
    if let Some(temp) = EnvVars::get(EnvVars::RUNNER_TEMP) {
        return Path::new(&temp).join("lading-login");
    }
    cache_dir().join("login-v1").join("ephemeral")
}

fn with_slash(url: &url::Url) -> url::Url {
    let mut url = url.clone();
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64())
}

/// `lading login`.
///
/// # Errors
/// Repository, editing and write failures; nothing is left half-written.
pub async fn login(args: LoginArgs, printer: Printer) -> anyhow::Result<()> {
    let repository = Repository::resolve(&args.repository)?;
    let credentials = repository
        .credentials_with(!args.dry_run)
        .await
        .context("failed to get a token for the repository")?;
    let token = credentials
        .token
        .clone()
        .unwrap_or_else(|| Secret::new(String::new()));
    // Before anything else reaches the log.
    export::mask(&printer, &token);
    let username = args
        .username
        .clone()
        .unwrap_or_else(|| credentials.username.clone());
    let target = args
        .target
        .unwrap_or(if EnvVars::get(EnvVars::CI).is_some() {
            LoginTarget::Ephemeral
        } else {
            LoginTarget::User
        });
    let dir = ephemeral_dir(args.dir.as_ref());
    let mut tools = args.tools.clone();
    tools.sort();
    tools.dedup();
    let mut endpoints: BTreeMap<Format, SafeUrl> = BTreeMap::new();
    for tool in &tools {
        let format = tool.format();
        if let std::collections::btree_map::Entry::Vacant(slot) = endpoints.entry(format) {
            let endpoint = repository
                .endpoint(format)
                .await
                .with_context(|| format!("failed to get the {format} endpoint"))?;
            tracing::debug!(%format, endpoint = %endpoint, "repository endpoint");
            slot.insert(endpoint);
        }
    }
    let codeartifact = matches!(repository, Repository::CodeArtifact { .. });
    let source_name = args
        .source_name
        .clone()
        .unwrap_or_else(|| "codeartifact".to_owned());
    let nuget_name = args
        .source_name
        .clone()
        .unwrap_or_else(|| match &repository {
            Repository::CodeArtifact { target, .. } => {
                format!("{}/{}", target.domain, target.repository)
            }
            Repository::Url { .. } => "lading".to_owned(),
        });
    let secret = token.expose().as_str();
    let mut plan = Plan::default();
    for tool in &tools {
        let endpoint = endpoints
            .get(&tool.format())
            .map(|url| with_slash(url.expose()))
            .context("internal error: endpoint missing")?;
        match tool {
            Tool::Npm | Tool::Pnpm => {
                let (path, seed) = match target {
                    LoginTarget::Ephemeral => {
                        let user = EnvVars::get(EnvVars::NPM_CONFIG_USERCONFIG)
                            .map_or_else(
                                || home().map(|home| home.join(".npmrc")),
                                |path| Ok(PathBuf::from(path)),
                            )
                            .ok();
                        (dir.join("npmrc"), user)
                    }
                    LoginTarget::User => (
                        EnvVars::get(EnvVars::NPM_CONFIG_USERCONFIG).map_or_else(
                            || home().map(|home| home.join(".npmrc")),
                            |path| Ok(PathBuf::from(path)),
                        )?,
                        None,
                    ),
                    LoginTarget::Project => (PathBuf::from(".npmrc"), None),
                };
                let seed = seed.filter(|seed| *seed != path && seed.is_file());
                plan.edit(&path, true, seed.as_deref(), |file, text| {
                    npmrc::apply(file, text, &endpoint, args.namespace.as_deref(), secret)
                })?;
                if target == LoginTarget::Ephemeral {
                    plan.export(EnvVars::NPM_CONFIG_USERCONFIG, &path);
                }
            }
            Tool::Pip => {
                let index = endpoint.join("simple/")?;
                let host = endpoint.host_str().unwrap_or_default().to_owned();
                let (conf, netrc) = match target {
                    LoginTarget::Ephemeral => (dir.join("pip.conf"), dir.join("netrc")),
                    LoginTarget::User => {
                        let home = home()?;
                        let config = EnvVars::get(EnvVars::XDG_CONFIG_HOME)
                            .map_or_else(|| home.join(".config"), PathBuf::from);
                        (config.join("pip/pip.conf"), home.join(".netrc"))
                    }
                    LoginTarget::Project => {
                        return Err(HintedError::new(
                            "pip has no project-level config file",
                            "use `--target ephemeral` (PIP_CONFIG_FILE) or `--target user`",
                        )
                        .into());
                    }
                };
                plan.edit(&conf, false, None, |file, text| {
                    client_config::apply_pip_conf(file, text, index.as_str())
                })?;
                plan.edit(&netrc, true, None, |file, text| {
                    apply_netrc(file, text, &host, &username, secret)
                })?;
                if target == LoginTarget::Ephemeral {
                    plan.export("PIP_CONFIG_FILE", &conf);
                    plan.export("NETRC", &netrc);
                }
            }
            Tool::Twine => {
                let path = match target {
                    LoginTarget::Ephemeral => dir.join("pypirc"),
                    LoginTarget::User => home()?.join(".pypirc"),
                    LoginTarget::Project => {
                        return Err(HintedError::new(
                            "twine has no project-level config file",
                            "use `--target ephemeral` (`twine --config-file \"$LADING_PYPIRC\"`) or `--target user`",
                        )
                        .into());
                    }
                };
                plan.edit(&path, true, None, |file, text| {
                    client_config::apply_pypirc(
                        file,
                        text,
                        &source_name,
                        endpoint.as_str(),
                        &username,
                        secret,
                    )
                })?;
                if target == LoginTarget::Ephemeral {
                    plan.export("LADING_PYPIRC", &path);
                }
            }
            Tool::Maven => {
                let (path, seed) = match target {
                    LoginTarget::Ephemeral => (
                        dir.join("settings.xml"),
                        home().ok().map(|home| home.join(".m2/settings.xml")),
                    ),
                    LoginTarget::User => (home()?.join(".m2/settings.xml"), None),
                    LoginTarget::Project => (PathBuf::from("settings.xml"), None),
                };
                let seed = seed.filter(|seed| seed.is_file());
                let password = match &args.maven_password_env {
                    Some(variable) => {
                        let valid = variable
                            .chars()
                            .next()
                            .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
                            && variable.chars().all(|character| {
                                character.is_ascii_alphanumeric() || character == '_'
                            });
                        if !valid {
                            return Err(HintedError::new(
                                format!("`{variable}` is not an environment variable name"),
                                "pass a name such as `MAVEN_REPO_TOKEN` to `--maven-password-env`",
                            )
                            .into());
                        }
                        // Maven interpolates `${env.NAME}` in settings.xml when it runs.
                        format!("${{env.{variable}}}")
                    }
                    None => secret.to_owned(),
                };
                let login = MavenLogin {
                    id: source_name.clone(),
                    url: endpoint.to_string(),
                    username: username.clone(),
                    password,
                    mode: match args.maven_mode {
                        MavenModeArg::Profile => MavenMode::Profile,
                        MavenModeArg::Mirror => MavenMode::Mirror,
                    },
                };
                plan.edit(&path, true, seed.as_deref(), |file, text| {
                    maven_settings::apply(file, text, &login)
                })?;
                if target == LoginTarget::Ephemeral {
                    plan.export("LADING_MAVEN_SETTINGS", &path);
                }
            }
            Tool::Nuget => {
                let path = match target {
                    LoginTarget::Ephemeral => dir.join("nuget.config"),
                    LoginTarget::User => home()?.join(".nuget/NuGet/NuGet.Config"),
                    LoginTarget::Project => PathBuf::from("nuget.config"),
                };
                let url = if codeartifact {
                    endpoint.join("v3/index.json")?.to_string()
                } else {
                    endpoints
                        .get(&Format::Nuget)
                        .map(|url| url.expose().to_string())
                        .unwrap_or_default()
                };
                let login = NuGetLogin {
                    name: nuget_name.clone(),
                    url,
                    username: username.clone(),
                    password: secret.to_owned(),
                    namespace: args.namespace.clone(),
                };
                plan.edit(&path, true, None, |file, text| {
                    nuget_config::apply(file, text, &login)
                })?;
                if target == LoginTarget::Ephemeral {
                    plan.export("LADING_NUGET_CONFIG", &path);
                }
            }
            Tool::Yarn => {
                let login = YarnLogin {
                    registry: endpoint.to_string(),
                    scope: args.namespace.clone(),
                    token: secret.to_owned(),
                };
                let path = match target {
                    LoginTarget::Ephemeral => {
                        if args.namespace.is_some() {
                            return Err(HintedError::new(
                                "yarn has no environment variable for a scoped registry",
                                "use `--target user` (`~/.yarnrc.yml`) or `--target project` (`.yarnrc.yml`) with `--namespace`",
                            )
                            .into());
                        }
                        let token_file = dir.join("yarn-token");
                        plan.token_file(&token_file, secret)?;
                        plan.export_value("YARN_NPM_REGISTRY_SERVER", endpoint.as_str());
                        plan.export_value("YARN_NPM_ALWAYS_AUTH", "true");
                        plan.sourced
                            .push(("YARN_NPM_AUTH_TOKEN".to_owned(), token_file));
                        continue;
                    }
                    LoginTarget::User => home()?.join(".yarnrc.yml"),
                    LoginTarget::Project => PathBuf::from(".yarnrc.yml"),
                };
                plan.edit(&path, true, None, |file, text| {
                    yarnrc::apply(file, text, &login)
                })?;
            }
            Tool::Cargo => {
                let name = args.source_name.clone().unwrap_or_else(|| {
                    if codeartifact {
                        "codeartifact".to_owned()
                    } else {
                        "lading".to_owned()
                    }
                });
                let index = cargo_config::sparse_index(endpoint.as_str());
                // CodeArtifact wants the scheme in cargo's token; other registries take it raw.
                let cargo_token = if codeartifact {
                    format!("Bearer {secret}")
                } else {
                    secret.to_owned()
                };
                match target {
                    LoginTarget::Ephemeral => {
                        let token_file = absolute(&dir.join(format!("cargo-{name}-token")));
                        // Cargo splits a credential-provider string on whitespace.
                        if token_file
                            .display()
                            .to_string()
                            .contains(char::is_whitespace)
                        {
                            return Err(HintedError::new(
                                format!(
                                    "cargo cannot run a credential provider from `{}` (the path has a space)",
                                    token_file.display()
                                ),
                                "pass `--dir` (or `LADING_LOGIN_DIR`) without spaces, or use `--target user`",
                            )
                            .into());
                        }
                        plan.token_file(&token_file, &cargo_token)?;
                        let variable = cargo_config::env_name(&name);
                        plan.export_value(&format!("CARGO_REGISTRIES_{variable}_INDEX"), &index);
                        // `cargo:token-from-stdout` runs the command when cargo needs the
                        // token: the environment never holds it.
                        plan.export_value(
                            &format!("CARGO_REGISTRIES_{variable}_CREDENTIAL_PROVIDER"),
                            &format!("cargo:token-from-stdout cat {}", token_file.display()),
                        );
                    }
                    LoginTarget::User | LoginTarget::Project => {
                        let cargo_home = cargo_home()?;
                        let config = if target == LoginTarget::User {
                            cargo_home.join("config.toml")
                        } else {
                            PathBuf::from(".cargo/config.toml")
                        };
                        plan.edit(&config, false, None, |file, text| {
                            cargo_config::apply_config(file, text, &name, &index)
                        })?;
                        plan.edit(
                            &cargo_home.join("credentials.toml"),
                            true,
                            None,
                            |file, text| {
                                cargo_config::apply_credentials(file, text, &name, &cargo_token)
                            },
                        )?;
                    }
                }
            }
            Tool::Gradle => {
                let (script, token_file) = match target {
                    LoginTarget::Ephemeral => (dir.join("init.gradle"), dir.join("gradle-token")),
                    LoginTarget::User => {
                        let gradle = EnvVars::get(EnvVars::GRADLE_USER_HOME).map_or_else(
                            || home().map(|home| home.join(".gradle")),
                            |path| Ok(PathBuf::from(path)),
                        )?;
                        (
                            gradle.join(format!("init.d/lading-{source_name}.gradle")),
                            gradle.join(format!("lading-{source_name}.token")),
                        )
                    }
                    LoginTarget::Project => {
                        return Err(HintedError::new(
                            "Gradle has no project-level init script",
                            "use `--target ephemeral` (`gradle --init-script \"$LADING_GRADLE_INIT_SCRIPT\"`) or `--target user` (`~/.gradle/init.d/`)",
                        )
                        .into());
                    }
                };
                let token_env = match &repository {
                    Repository::Url {
                        token: TokenSource::Env(variable),
                        ..
                    } => variable.clone(),
                    _ => "CODEARTIFACT_AUTH_TOKEN".to_owned(),
                };
                plan.token_file(&token_file, secret)?;
                let login = GradleLogin {
                    name: source_name.clone(),
                    url: endpoint.to_string(),
                    username: username.clone(),
                    token_env,
                    token_file: Some(absolute(&token_file).display().to_string()),
                };
                plan.edit(&script, false, None, |_, _| Ok(gradle::init_script(&login)))?;
                if target == LoginTarget::Ephemeral {
                    plan.export("LADING_GRADLE_INIT_SCRIPT", &script);
                }
            }
        }
    }

    let state_file = state_path(args.state_file.as_ref());
    if args.dry_run {
        for file in &plan.files {
            let before =
                String::from_utf8_lossy(file.before.as_deref().unwrap_or_default()).into_owned();
            let after = String::from_utf8_lossy(&file.after).into_owned();
            if before == after {
                continue;
            }
            // Every secret-looking value, the user's own included (context lines show them),
            // then the token wherever else it may be.
            let redact = |text: &str| {
                let text = crate::ecosystem::edit::redact_secrets(text);
                if secret.is_empty() {
                    text
                } else {
                    text.replace(secret, "****")
                }
            };
            let (before, after) = (redact(&before), redact(&after));
            let diff = similar::TextDiff::from_lines(&before, &after);
            let name = file.path.display().to_string();
            let old_name = if file.before.is_some() {
                name.clone()
            } else {
                "/dev/null".to_owned()
            };
            printer.data(
                diff.unified_diff()
                    .context_radius(3)
                    .header(&old_name, &name)
                    .to_string()
                    .trim_end(),
            );
        }
        printer.status("dry run: nothing was written");
        return Ok(());
    }

    let _lock = fsx::FileLock::acquire(&state_file.with_extension("lock"))
        .context("failed to lock the login state")?;
    let mut state = read_state(&state_file)?;
    // The env file accumulates over several logins in one job.
    if target == LoginTarget::Ephemeral {
        let mut env = state.env.clone();
        for (name, value) in &plan.env {
            env.retain(|(existing, _)| existing != name);
            env.push((name.clone(), value.clone()));
        }
        if let Some(expires) = credentials.expires {
            env.retain(|(existing, _)| existing != "LADING_TOKEN_EXPIRES");
            env.push(("LADING_TOKEN_EXPIRES".to_owned(), format!("{expires:.0}")));
        }
        let mut sourced = state.sourced.clone();
        for (name, file) in &plan.sourced {
            sourced.retain(|(existing, _)| existing != name);
            sourced.push((name.clone(), file.clone()));
        }
        let env_file = dir.join("env.sh");
        plan.edit(&env_file, true, None, |_, _| {
            Ok(format!(
                "{}{}",
                export::sh_exports(&env),
                sourced_exports(&sourced)
            ))
        })?;
        plan.env = env;
        plan.sourced = sourced;
    }
    let written = apply_plan(&plan, printer)?;
    for file in &plan.files {
        let after_sha256 = hex::encode(sha2::Sha256::digest(&file.after));
        let path = absolute(&file.path);
        match state.files.iter_mut().find(|entry| entry.path == path) {
            Some(entry) => entry.after_sha256 = after_sha256,
            None => state.files.push(StateFile {
                path,
                before: file
                    .before
                    .as_ref()
                    .map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes)),
                before_mode: file.before_mode,
                after_sha256,
            }),
        }
    }
    state.env.clone_from(&plan.env);
    state.sourced.clone_from(&plan.sourced);
    if let Some(cache) = repository.token_cache_file()
        && !state.token_caches.contains(&cache)
    {
        state.token_caches.push(cache);
    }
    state.version = STATE_VERSION;
    if let Err(error) = write_state(&state_file, &state) {
        rollback(&written);
        return Err(error);
    }
    let mut outputs = vec![("state-file".to_owned(), state_file.display().to_string())];
    if let Some(expires) = credentials.expires {
        outputs.push(("token-expires".to_owned(), format!("{expires:.0}")));
        let hours = (expires - now()) / 3600.0;
        printer.status(&format!("the token expires in {hours:.1} h"));
    }
    if target == LoginTarget::Ephemeral {
        outputs.push((
            "env-file".to_owned(),
            dir.join("env.sh").display().to_string(),
        ));
        if export::github_env(&plan.env)? {
            printer.status("exported the config paths to later steps (`GITHUB_ENV`)");
            for (name, _) in &plan.sourced {
                printer.status(&format!(
                    "`{name}` holds the token and is not put in `GITHUB_ENV` (a file the runner does not keep private): source the env file in the step that needs it"
                ));
            }
        }
        printer.status(&format!(
            "to use this config in a shell: `. {}`",
            dir.join("env.sh").display()
        ));
    }
    export::github_output(&outputs)?;
    if args.print_env == Some(Shell::Sh) {
        printer.data(
            format!(
                "{}{}",
                export::sh_exports(&plan.env),
                sourced_exports(&plan.sourced)
            )
            .trim_end(),
        );
    }
    Ok(())
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(unix)]
fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt as _;
    fs_err::metadata(path)
        .ok()
        .map(|metadata| metadata.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn mode_of(_path: &Path) -> Option<u32> {
    None
}

/// What a write replaced, for rollback.
struct Written {
    path: PathBuf,
    before: Option<Vec<u8>>,
    mode: Option<u32>,
}

fn apply_plan(plan: &Plan, printer: Printer) -> anyhow::Result<Vec<Written>> {
    let mut written: Vec<Written> = Vec::new();
    for file in &plan.files {
        let mode = file.before_mode;
        let result = if file.private {
            fsx::write_private(&file.path, &file.after)
        } else {
            fsx::write_if_changed(&file.path, &file.after, Some(0o644))
        };
        match result {
            Ok(outcome) => {
                written.push(Written {
                    path: file.path.clone(),
                    before: file.before.clone(),
                    mode,
                });
                let verb = match outcome {
                    fsx::WriteOutcome::Written if file.before.is_none() => "created",
                    fsx::WriteOutcome::Written => "updated",
                    fsx::WriteOutcome::Unchanged => "unchanged",
                };
                printer.status(&format!("{verb} `{}`", file.path.display()));
            }
            Err(error) => {
                rollback(&written);
                return Err(anyhow::Error::new(error).context(format!(
                    "failed to write `{}`; the files written before it were restored",
                    file.path.display()
                )));
            }
        }
    }
    Ok(written)
}

fn rollback(written: &[Written]) {
    for entry in written.iter().rev() {
        if let Err(error) = restore(&entry.path, entry.before.as_deref(), entry.mode) {
            tracing::warn!(path = %entry.path.display(), error = %error, "rollback failed");
        }
    }
}

fn restore(path: &Path, before: Option<&[u8]>, mode: Option<u32>) -> std::io::Result<()> {
    match before {
        None => match fs_err::remove_file(path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        },
        Some(bytes) => {
            fsx::write_if_changed(path, bytes, mode)?;
            fsx::set_mode(path, mode)
        }
    }
}

fn read_state(path: &Path) -> anyhow::Result<State> {
    match fs_err::read_to_string(path) {
        Ok(text) => {
            let state: State = serde_json::from_str(&text)
                .with_context(|| format!("the login state file `{}` is corrupt", path.display()))?;
            if state.version != STATE_VERSION {
                anyhow::bail!(
                    "the login state file `{}` has version {}, this lading reads {STATE_VERSION}",
                    path.display(),
                    state.version
                );
            }
            Ok(state)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(State {
            version: STATE_VERSION,
            ..State::default()
        }),
        Err(error) => Err(error.into()),
    }
}

fn write_state(path: &Path, state: &State) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(state)?;
    fsx::write_private(path, text.as_bytes())
        .with_context(|| format!("failed to write the login state `{}`", path.display()))?;
    Ok(())
}

/// `lading logout`.
///
/// # Errors
/// Exit 1 when a file changed since login (unless `--force`) or cannot be restored.
pub fn logout(args: &LogoutArgs, printer: Printer) -> anyhow::Result<()> {
    let state_file = state_path(args.state_file.as_ref());
    if !state_file.exists() {
        printer.status(&format!(
            "nothing to undo: no login state at `{}`",
            state_file.display()
        ));
        return Ok(());
    }
    let _lock = fsx::FileLock::acquire(&state_file.with_extension("lock"))
        .context("failed to lock the login state")?;
    let state = read_state(&state_file)?;
    let mut changed = Vec::new();
    for file in &state.files {
        let current = fs_err::read(&file.path).ok();
        let digest = current
            .as_ref()
            .map(|bytes| hex::encode(sha2::Sha256::digest(bytes)));
        if digest.as_deref() != Some(file.after_sha256.as_str()) {
            changed.push(file.path.display().to_string());
        }
    }
    if !changed.is_empty() && !args.force {
        return Err(HintedError::new(
            format!(
                "refusing to restore files changed since `lading login`: {}",
                changed
                    .iter()
                    .map(|path| format!("`{path}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "check the changes, then run `lading logout --force` to restore the files anyway",
        )
        .into());
    }
    for file in state.files.iter().rev() {
        let before = match &file.before {
            Some(encoded) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .with_context(|| format!("corrupt state for `{}`", file.path.display()))?,
            ),
            None => None,
        };
        let verb = if before.is_some() {
            "restored"
        } else {
            "removed"
        };
        if args.dry_run {
            printer.status(&format!("would have {verb} `{}`", file.path.display()));
            continue;
        }
        restore(&file.path, before.as_deref(), file.before_mode)
            .with_context(|| format!("failed to restore `{}`", file.path.display()))?;
        printer.status(&format!("{verb} `{}`", file.path.display()));
    }
    // The cached token outlives the files otherwise: remove it too.
    for cache in &state.token_caches {
        if !cache.exists() {
            continue;
        }
        if args.dry_run {
            printer.status(&format!(
                "would have removed the cached token `{}`",
                cache.display()
            ));
            continue;
        }
        fs_err::remove_file(cache)
            .with_context(|| format!("failed to remove the cached token `{}`", cache.display()))?;
        printer.status(&format!("removed the cached token `{}`", cache.display()));
    }
    if !args.dry_run {
        fs_err::remove_file(&state_file)?;
    }
    Ok(())
}

/// `lading token`: the token on stdout, nothing else there.
///
/// # Errors
/// Repository failures.
pub async fn token(args: &TokenArgs, printer: Printer) -> anyhow::Result<()> {
    let repository = Repository::resolve(&args.repository)?;
    let credentials = repository
        .credentials()
        .await
        .context("failed to get a token for the repository")?;
    let Some(token) = credentials.token else {
        anyhow::bail!("the repository has no token configured");
    };
    export::mask(&printer, &token);
    printer.data(token.expose());
    Ok(())
}
