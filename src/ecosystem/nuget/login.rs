//! `lading login` for NuGet's client tools: the config edits each tool needs, planned
//! into the [`Plan`] `lading login` writes (and `lading logout` undoes).

use std::path::PathBuf;

use crate::ecosystem::configure::{Configure, Login, LoginTarget, Plan, home, not_mine};
use crate::ecosystem::nuget::config::{self as nuget_config, NuGetLogin};
use crate::format::Tool;

impl Configure for super::Nuget {
    fn configure(&self, tool: Tool, login: &Login<'_>, plan: &mut Plan) -> anyhow::Result<()> {
        match tool {
            // dotnet reads the same `NuGet.Config` files (user-level
            // `~/.nuget/NuGet/NuGet.Config`, project `nuget.config`, `--configfile`).
            Tool::Nuget | Tool::Dotnet => nuget(login, plan),
            other => Err(not_mine(other, crate::format::Format::Nuget)),
        }
    }

    fn doctor(
        &self,
    ) -> crate::ecosystem::configure::BoxFuture<'_, Vec<crate::ecosystem::doctor::ToolReport>> {
        Box::pin(async { vec![super::doctor::nuget().await, super::doctor::dotnet().await] })
    }
}

/// `--tool nuget` and `--tool dotnet`: `nuget.config`.
fn nuget(login: &Login<'_>, plan: &mut Plan) -> anyhow::Result<()> {
    let target = login.target;
    let dir = &login.dir;
    let endpoint = &login.endpoint;
    let secret = login.secret;
    let username = &login.username;
    let codeartifact = login.codeartifact;
    let path = match target {
        LoginTarget::Ephemeral => dir.join("nuget.config"),
        LoginTarget::User => home()?.join(".nuget/NuGet/NuGet.Config"),
        LoginTarget::Project => PathBuf::from("nuget.config"),
    };
    let url = if codeartifact {
        endpoint.join("v3/index.json")?.to_string()
    } else {
        login.registry.expose().to_string()
    };
    let login = NuGetLogin {
        name: login
            .explicit_source_name
            .clone()
            .unwrap_or_else(|| login.repository_label.clone()),
        url,
        username: username.clone(),
        password: secret.to_owned(),
        namespace: login.namespace.clone(),
    };
    plan.edit(&path, true, None, |file, text| {
        nuget_config::apply(file, text, &login)
    })?;
    if target == LoginTarget::Ephemeral {
        plan.export("LADING_NUGET_CONFIG", &path);
    }
    Ok(())
}
