//! `lading login` for npm's client tools: the config edits each tool needs, planned
//! into the [`Plan`] `lading login` writes (and `lading logout` undoes).

use std::path::PathBuf;

use crate::diagnostics::HintedError;
use crate::ecosystem::configure::{Configure, Login, LoginTarget, Plan, home, not_mine};
use crate::ecosystem::npm::npmrc;
use crate::ecosystem::npm::yarnrc::{self, YarnLogin};
use crate::env_vars::EnvVars;
use crate::format::Tool;

impl Configure for super::Npm {
    fn configure(&self, tool: Tool, login: &Login<'_>, plan: &mut Plan) -> anyhow::Result<()> {
        match tool {
            Tool::Npm | Tool::Pnpm => npmrc(login, plan),
            Tool::Yarn => yarnrc(login, plan),
            other => Err(not_mine(other, crate::format::Format::Npm)),
        }
    }

    fn doctor(
        &self,
    ) -> crate::ecosystem::configure::BoxFuture<'_, Vec<crate::ecosystem::doctor::ToolReport>> {
        Box::pin(async { vec![super::doctor::npm().await] })
    }
}

/// `--tool npm`, `--tool pnpm`: the registry and its token in `.npmrc`.
fn npmrc(login: &Login<'_>, plan: &mut Plan) -> anyhow::Result<()> {
    let target = login.target;
    let dir = &login.dir;
    let endpoint = &login.endpoint;
    let secret = login.secret;
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
        npmrc::apply(file, text, endpoint, login.namespace.as_deref(), secret)
    })?;
    if target == LoginTarget::Ephemeral {
        plan.export(EnvVars::NPM_CONFIG_USERCONFIG, &path);
    }
    Ok(())
}

/// `--tool yarn` (berry): `.yarnrc.yml`, or `YARN_NPM_*` variables for `ephemeral`.
fn yarnrc(login: &Login<'_>, plan: &mut Plan) -> anyhow::Result<()> {
    let target = login.target;
    let dir = &login.dir;
    let endpoint = &login.endpoint;
    let secret = login.secret;
    let yarn = YarnLogin {
        registry: endpoint.to_string(),
        scope: login.namespace.clone(),
        token: secret.to_owned(),
    };
    let path = match target {
        LoginTarget::Ephemeral => {
            if login.namespace.is_some() {
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
            return Ok(());
        }
        LoginTarget::User => home()?.join(".yarnrc.yml"),
        LoginTarget::Project => PathBuf::from(".yarnrc.yml"),
    };
    plan.edit(&path, true, None, |file, text| {
        yarnrc::apply(file, text, &yarn)
    })?;
    Ok(())
}
