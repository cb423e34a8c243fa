//! `lading login` for PyPI's client tools: the config edits each tool needs, planned
//! into the [`Plan`] `lading login` writes (and `lading logout` undoes).

use std::path::PathBuf;

use crate::diagnostics::HintedError;
use crate::ecosystem::configure::{Configure, Login, LoginTarget, Plan, home, not_mine};
use crate::ecosystem::edit::apply_netrc;
use crate::ecosystem::pypi::uv::UvFile;
use crate::ecosystem::pypi::{client_config, poetry as poetry_config, uv as uv_config};
use crate::env_vars::EnvVars;
use crate::format::Tool;

impl Configure for super::Pypi {
    fn configure(&self, tool: Tool, login: &Login<'_>, plan: &mut Plan) -> anyhow::Result<()> {
        match tool {
            Tool::Pip => pip(login, plan),
            Tool::Twine => twine(login, plan),
            Tool::Uv => uv(login, plan),
            Tool::Poetry => poetry(login, plan),
            other => Err(not_mine(other, crate::format::Format::Pypi)),
        }
    }

    fn doctor(
        &self,
    ) -> crate::ecosystem::configure::BoxFuture<'_, Vec<crate::ecosystem::doctor::ToolReport>> {
        Box::pin(async {
            vec![
                super::doctor::pip().await,
                super::doctor::uv().await,
                super::doctor::poetry().await,
            ]
        })
    }
}

/// `--tool pip`: `pip.conf` and the credentials in a 0600 netrc.
fn pip(login: &Login<'_>, plan: &mut Plan) -> anyhow::Result<()> {
    let target = login.target;
    let dir = &login.dir;
    let endpoint = &login.endpoint;
    let secret = login.secret;
    let username = &login.username;
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
        apply_netrc(file, text, &host, username, secret)
    })?;
    if target == LoginTarget::Ephemeral {
        plan.export("PIP_CONFIG_FILE", &conf);
        plan.export("NETRC", &netrc);
    }
    Ok(())
}

/// `--tool twine`: `.pypirc` (0600).
fn twine(login: &Login<'_>, plan: &mut Plan) -> anyhow::Result<()> {
    let target = login.target;
    let dir = &login.dir;
    let endpoint = &login.endpoint;
    let secret = login.secret;
    let username = &login.username;
    let source_name = &login.source_name;
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
        client_config::apply_pypirc(file, text, source_name, endpoint.as_str(), username, secret)
    })?;
    if target == LoginTarget::Ephemeral {
        plan.export("LADING_PYPIRC", &path);
    }
    Ok(())
}

/// The netrc file holding the credentials pip and uv read: `NETRC` in the job directory
/// for `ephemeral`, else `~/.netrc`.
fn netrc_path(login: &Login<'_>) -> anyhow::Result<PathBuf> {
    Ok(match login.target {
        LoginTarget::Ephemeral => login.dir.join("netrc"),
        LoginTarget::User | LoginTarget::Project => home()?.join(".netrc"),
    })
}

/// `$XDG_CONFIG_HOME`, else `~/.config`.
fn config_home() -> anyhow::Result<PathBuf> {
    match EnvVars::get(EnvVars::XDG_CONFIG_HOME) {
        Some(path) => Ok(PathBuf::from(path)),
        None => Ok(home()?.join(".config")),
    }
}

/// `--tool uv`: the repository as uv's default index (`[[index]]` with `default = true` in
/// the user's `uv.toml`, or the project's `uv.toml` / `pyproject.toml`; `UV_DEFAULT_INDEX`
/// for `ephemeral`), the credentials in a 0600 netrc (the one pip's login writes too).
fn uv(login: &Login<'_>, plan: &mut Plan) -> anyhow::Result<()> {
    let index = login.endpoint.join("simple/")?;
    let host = login.endpoint.host_str().unwrap_or_default().to_owned();
    let name = &login.source_name;
    let netrc = netrc_path(login)?;
    plan.edit(&netrc, true, None, |file, text| {
        apply_netrc(file, text, &host, &login.username, login.secret)
    })?;
    let (path, file) = match login.target {
        LoginTarget::Ephemeral => {
            plan.export_value("UV_DEFAULT_INDEX", index.as_str());
            plan.export("NETRC", &netrc);
            return Ok(());
        }
        LoginTarget::User => (config_home()?.join("uv/uv.toml"), UvFile::UvToml),
        // uv reads a project's `uv.toml` instead of its `pyproject.toml`'s `[tool.uv]`:
        // edit the one it reads, and never add a `uv.toml` that would shadow `[tool.uv]`.
        LoginTarget::Project => {
            let uv_toml = PathBuf::from("uv.toml");
            let pyproject = PathBuf::from("pyproject.toml");
            if uv_toml.exists() || !pyproject.exists() {
                (uv_toml, UvFile::UvToml)
            } else {
                (pyproject, UvFile::Pyproject)
            }
        }
    };
    plan.edit(&path, false, None, |path, text| {
        uv_config::apply_index(path, text, file, name, index.as_str())
    })?;
    Ok(())
}

/// Poetry's config directory: `POETRY_CONFIG_DIR`, else the platform's user config
/// directory (`$XDG_CONFIG_HOME/pypoetry`, `~/.config/pypoetry`; `~/Library/Application
/// Support/pypoetry` on macOS).
fn poetry_config_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = EnvVars::get(EnvVars::POETRY_CONFIG_DIR) {
        return Ok(PathBuf::from(dir));
    }
    if cfg!(target_os = "macos") {
        return Ok(home()?.join("Library/Application Support/pypoetry"));
    }
    Ok(config_home()?.join("pypoetry"))
}

/// `--tool poetry`: `repositories.<name>.url` (the endpoint, for `poetry publish -r <name>`
/// and every source under it) and `http-basic.<name>`, as `poetry config` writes them without
/// a keyring; `POETRY_REPOSITORIES_<NAME>_URL` and `POETRY_HTTP_BASIC_<NAME>_*` for
/// `ephemeral`, the password read from a 0600 file by the env file.
fn poetry(login: &Login<'_>, plan: &mut Plan) -> anyhow::Result<()> {
    let name = &login.source_name;
    let url = login.endpoint.as_str();
    match login.target {
        LoginTarget::Ephemeral => {
            let Some(variable) = poetry_config::env_name(name) else {
                return Err(HintedError::new(
                    format!("poetry cannot read a repository named `{name}` from its environment (only lowercase letters and `_`)"),
                    "pass `--source-name` with lowercase letters and `_` only, or use `--target user`",
                )
                .into());
            };
            let token_file = login.dir.join(format!("poetry-{name}-password"));
            plan.token_file(&token_file, login.secret)?;
            plan.export_value(&format!("POETRY_REPOSITORIES_{variable}_URL"), url);
            plan.export_value(
                &format!("POETRY_HTTP_BASIC_{variable}_USERNAME"),
                &login.username,
            );
            plan.sourced.retain(|(existing, _)| {
                *existing != format!("POETRY_HTTP_BASIC_{variable}_PASSWORD")
            });
            plan.sourced
                .push((format!("POETRY_HTTP_BASIC_{variable}_PASSWORD"), token_file));
        }
        LoginTarget::User => {
            let dir = poetry_config_dir()?;
            plan.edit(&dir.join("config.toml"), true, None, |file, text| {
                poetry_config::apply(file, text, "repositories", name, &[("url", url)])
            })?;
            plan.edit(&dir.join("auth.toml"), true, None, |file, text| {
                poetry_config::apply(
                    file,
                    text,
                    "http-basic",
                    name,
                    &[("username", &login.username), ("password", login.secret)],
                )
            })?;
        }
        LoginTarget::Project => {
            return Err(HintedError::new(
                "lading does not write poetry credentials into the project",
                "use `--target user` (poetry's `config.toml` and `auth.toml`) or `--target ephemeral`",
            )
            .into());
        }
    }
    Ok(())
}
