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
use crate::cli::{LoginArgs, LogoutArgs, MavenModeArg, Shell, TokenArgs};
use crate::diagnostics::HintedError;
use crate::ecosystem;
use crate::ecosystem::configure::{Login, LoginTarget, MavenMode, Plan, absolute};
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
    let secret = token.expose().as_str();
    let login_for = |registry: &SafeUrl| Login {
        target,
        dir: dir.clone(),
        endpoint: with_slash(registry.expose()),
        registry: registry.clone(),
        username: username.clone(),
        secret,
        namespace: args.namespace.clone(),
        source_name: args
            .source_name
            .clone()
            .unwrap_or_else(|| "codeartifact".to_owned()),
        explicit_source_name: args.source_name.clone(),
        repository_label: match &repository {
            Repository::CodeArtifact { target, .. } => {
                format!("{}/{}", target.domain, target.repository)
            }
            Repository::Url { .. } => "lading".to_owned(),
        },
        codeartifact: matches!(repository, Repository::CodeArtifact { .. }),
        token_env: match &repository {
            Repository::Url {
                token: TokenSource::Env(variable),
                ..
            } => Some(variable.clone()),
            _ => None,
        },
        maven_password_env: args.maven_password_env.clone(),
        maven_mode: match args.maven_mode {
            MavenModeArg::Profile => MavenMode::Profile,
            MavenModeArg::Mirror => MavenMode::Mirror,
        },
    };
    let mut plan = Plan::default();
    for tool in &tools {
        let registry = endpoints
            .get(&tool.format())
            .context("internal error: endpoint missing")?;
        ecosystem::registry::configurer(tool.format())?.configure(
            *tool,
            &login_for(registry),
            &mut plan,
        )?;
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
