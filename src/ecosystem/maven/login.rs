//! `lading login` for Maven's client tools: the config edits each tool needs, planned
//! into the [`Plan`] `lading login` writes (and `lading logout` undoes).

use std::path::PathBuf;

use crate::diagnostics::HintedError;
use crate::ecosystem::configure::{Configure, Login, LoginTarget, Plan, absolute, home, not_mine};
use crate::ecosystem::maven::gradle::{self, GradleLogin};
use crate::ecosystem::maven::settings::{self as maven_settings, MavenLogin};
use crate::env_vars::EnvVars;
use crate::format::Tool;

impl Configure for super::Maven {
    fn configure(&self, tool: Tool, login: &Login<'_>, plan: &mut Plan) -> anyhow::Result<()> {
        match tool {
            Tool::Maven => maven(login, plan),
            Tool::Gradle => gradle(login, plan),
            other => Err(not_mine(other, crate::format::Format::Maven)),
        }
    }

    fn doctor(
        &self,
    ) -> crate::ecosystem::configure::BoxFuture<'_, Vec<crate::ecosystem::doctor::ToolReport>> {
        Box::pin(async { vec![super::doctor::maven().await] })
    }
}

/// `--tool maven`: `settings.xml`.
fn maven(login: &Login<'_>, plan: &mut Plan) -> anyhow::Result<()> {
    let target = login.target;
    let dir = &login.dir;
    let endpoint = &login.endpoint;
    let secret = login.secret;
    let username = &login.username;
    let source_name = &login.source_name;
    let (path, seed) = match target {
        LoginTarget::Ephemeral => (
            dir.join("settings.xml"),
            home().ok().map(|home| home.join(".m2/settings.xml")),
        ),
        LoginTarget::User => (home()?.join(".m2/settings.xml"), None),
        LoginTarget::Project => (PathBuf::from("settings.xml"), None),
    };
    let seed = seed.filter(|seed| seed.is_file());
    let password = match &login.maven_password_env {
        Some(variable) => {
            let valid = variable
                .chars()
                .next()
                .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
                && variable
                    .chars()
                    .all(|character| character.is_ascii_alphanumeric() || character == '_');
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
        mode: login.maven_mode,
    };
    plan.edit(&path, true, seed.as_deref(), |file, text| {
        maven_settings::apply(file, text, &login)
    })?;
    if target == LoginTarget::Ephemeral {
        plan.export("LADING_MAVEN_SETTINGS", &path);
    }
    Ok(())
}

/// `--tool gradle`: an init script reading the token from the environment or a 0600 file.
fn gradle(login: &Login<'_>, plan: &mut Plan) -> anyhow::Result<()> {
    let target = login.target;
    let dir = &login.dir;
    let endpoint = &login.endpoint;
    let secret = login.secret;
    let username = &login.username;
    let source_name = &login.source_name;
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
    let token_env = login
        .token_env
        .clone()
        .unwrap_or_else(|| "CODEARTIFACT_AUTH_TOKEN".to_owned());
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
    Ok(())
}
