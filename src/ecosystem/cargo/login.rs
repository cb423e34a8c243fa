//! `lading login` for Cargo's client tools: the config edits each tool needs, planned
//! into the [`Plan`] `lading login` writes (and `lading logout` undoes).

use std::path::PathBuf;

use crate::diagnostics::HintedError;
use crate::ecosystem::cargo::config as cargo_config;
use crate::ecosystem::configure::{
    Configure, Login, LoginTarget, Plan, absolute, cargo_home, not_mine,
};
use crate::format::Tool;

impl Configure for super::Cargo {
    fn configure(&self, tool: Tool, login: &Login<'_>, plan: &mut Plan) -> anyhow::Result<()> {
        match tool {
            Tool::Cargo => cargo(login, plan),
            other => Err(not_mine(other, crate::format::Format::Cargo)),
        }
    }
}

/// `--tool cargo`: a sparse registry in `.cargo/config.toml` and its token in
/// `credentials.toml`, or `CARGO_REGISTRIES_<NAME>_*` variables for `ephemeral`.
fn cargo(login: &Login<'_>, plan: &mut Plan) -> anyhow::Result<()> {
    let target = login.target;
    let dir = &login.dir;
    let endpoint = &login.endpoint;
    let secret = login.secret;
    let codeartifact = login.codeartifact;
    let name = login.explicit_source_name.clone().unwrap_or_else(|| {
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
                |file, text| cargo_config::apply_credentials(file, text, &name, &cargo_token),
            )?;
        }
    }
    Ok(())
}
