//! `lading login` for PyPI's client tools: the config edits each tool needs, planned
//! into the [`Plan`] `lading login` writes (and `lading logout` undoes).

use std::path::PathBuf;

use crate::diagnostics::HintedError;
use crate::ecosystem::configure::{Configure, Login, LoginTarget, Plan, home, not_mine};
use crate::ecosystem::edit::apply_netrc;
use crate::ecosystem::pypi::client_config;
use crate::env_vars::EnvVars;
use crate::format::Tool;

impl Configure for super::Pypi {
    fn configure(&self, tool: Tool, login: &Login<'_>, plan: &mut Plan) -> anyhow::Result<()> {
        match tool {
            Tool::Pip => pip(login, plan),
            Tool::Twine => twine(login, plan),
            other => Err(not_mine(other, crate::format::Format::Pypi)),
        }
    }

    fn doctor(
        &self,
    ) -> crate::ecosystem::configure::BoxFuture<'_, Vec<crate::ecosystem::doctor::ToolReport>> {
        Box::pin(async { vec![super::doctor::pip().await] })
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
