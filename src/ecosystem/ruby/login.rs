//! `lading login` for RubyGems' client tools: the config edits each tool needs, planned
//! into the [`Plan`] `lading login` writes (and `lading logout` undoes).

use crate::diagnostics::HintedError;
use crate::ecosystem::configure::{Configure, Login, LoginTarget, Plan, not_mine};
use crate::ecosystem::ruby::config::{self, bundler_config_path, gem_credentials_path};
use crate::format::Tool;

impl Configure for super::Ruby {
    fn configure(&self, tool: Tool, login: &Login<'_>, plan: &mut Plan) -> anyhow::Result<()> {
        match tool {
            Tool::Gem => gem(login, plan),
            Tool::Bundler => bundler(login, plan),
            other => Err(not_mine(other, crate::format::Format::Ruby)),
        }
    }

    fn doctor(
        &self,
    ) -> crate::ecosystem::configure::BoxFuture<'_, Vec<crate::ecosystem::doctor::ToolReport>> {
        Box::pin(async { vec![super::doctor::gem().await, super::doctor::bundler().await] })
    }
}

/// `--tool gem`: the repository's API key for `gem push --host <endpoint>` in RubyGems'
/// credentials file (0600, which `gem` requires), keyed by the endpoint as `gem signin
/// --host` keys it; `RUBYGEMS_HOST` and `GEM_HOST_API_KEY` for `ephemeral`. CodeArtifact
/// takes the key as `Bearer <token>`, other registries the token itself.
fn gem(login: &Login<'_>, plan: &mut Plan) -> anyhow::Result<()> {
    let host = login.endpoint.as_str();
    let key = if login.codeartifact {
        format!("Bearer {}", login.secret)
    } else {
        login.secret.to_owned()
    };
    match login.target {
        LoginTarget::Ephemeral => {
            let key_file = login.dir.join("gem-api-key");
            plan.token_file(&key_file, &key)?;
            plan.export_value("RUBYGEMS_HOST", host);
            plan.sourced
                .retain(|(existing, _)| existing != "GEM_HOST_API_KEY");
            plan.sourced.push(("GEM_HOST_API_KEY".to_owned(), key_file));
        }
        LoginTarget::User => {
            plan.edit(&gem_credentials_path()?, true, None, |file, text| {
                config::apply_key(file, text, host, &config::yaml_scalar(&key))
            })?;
        }
        LoginTarget::Project => {
            return Err(HintedError::new(
                "gem has no project-level credentials file",
                "use `--target user` (`~/.gem/credentials`) or `--target ephemeral` (`GEM_HOST_API_KEY`)",
            )
            .into());
        }
    }
    Ok(())
}

/// `--tool bundler`: `user:token` for the endpoint in Bundler's user config (0600), as
/// `bundle config set --global <endpoint> user:token` writes it; for `ephemeral`, the
/// `BUNDLE_<HOST>` variable Bundler reads for every source on that host.
fn bundler(login: &Login<'_>, plan: &mut Plan) -> anyhow::Result<()> {
    let credentials = format!("{}:{}", login.username, login.secret);
    match login.target {
        LoginTarget::Ephemeral => {
            let host = login.endpoint.host_str().unwrap_or_default();
            let variable = config::bundler_key(host);
            let file = login.dir.join("bundler-credentials");
            plan.token_file(&file, &credentials)?;
            plan.sourced.retain(|(existing, _)| *existing != variable);
            plan.sourced.push((variable, file));
        }
        LoginTarget::User => {
            let key = config::bundler_key(login.endpoint.as_str());
            plan.edit(&bundler_config_path()?, true, None, |file, text| {
                config::apply_key(file, text, &key, &config::ruby_inspect(&credentials))
            })?;
        }
        LoginTarget::Project => {
            return Err(HintedError::new(
                "lading does not write bundler credentials into the project's `.bundle/config`",
                "use `--target user` (`~/.bundle/config`) or `--target ephemeral` (`BUNDLE_<HOST>`)",
            )
            .into());
        }
    }
    Ok(())
}
