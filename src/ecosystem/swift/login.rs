//! `lading login --tool swift`: what `swift package-registry set <url>` and `swift
//! package-registry login <url> --token <token>` write on Linux (SE-0378: "credentials will
//! be persisted to the operating system's credential store if supported, or the user-level
//! netrc file otherwise"): the registry in `registries.json`, `"type" : "token"` for its
//! host in the user-level `registries.json`, and `machine HOST login token password TOKEN`
//! in the netrc. SwiftPM then sends `Authorization: Bearer TOKEN`.
//!
//! `--namespace` names a package scope: the registry is set for that scope instead of
//! `[default]`.

use crate::ecosystem::configure::{Configure, Login, LoginTarget, Plan, absolute, home, not_mine};
use crate::ecosystem::edit::apply_netrc;
use crate::ecosystem::swift::registries::{self, RegistrySet};
use crate::format::Tool;

impl Configure for super::Swift {
    fn configure(&self, tool: Tool, login: &Login<'_>, plan: &mut Plan) -> anyhow::Result<()> {
        match tool {
            Tool::Swift => swift(login, plan),
            other => Err(not_mine(other, crate::format::Format::Swift)),
        }
    }
}

/// The netrc login SwiftPM stores a token under.
const TOKEN_LOGIN: &str = "token";

fn swift(login: &Login<'_>, plan: &mut Plan) -> anyhow::Result<()> {
    let url = login.endpoint.as_str();
    let host = login.endpoint.host_str().unwrap_or_default().to_owned();
    let scope = login
        .namespace
        .as_deref()
        .map_or("[default]", |scope| scope.trim_start_matches('@'));
    let both = RegistrySet {
        scope,
        url: Some(url),
        token_host: Some(&host),
    };
    let (netrc, user_config) = match login.target {
        // `swift build --config-path "$LADING_SWIFTPM_CONFIG_PATH" --netrc-file "$LADING_SWIFT_NETRC"`.
        LoginTarget::Ephemeral => {
            let config = absolute(&login.dir.join("swiftpm-configuration"));
            let netrc = absolute(&login.dir.join("netrc"));
            plan.export("LADING_SWIFTPM_CONFIG_PATH", &config);
            plan.export("LADING_SWIFT_NETRC", &netrc);
            (netrc, config.join("registries.json"))
        }
        LoginTarget::User | LoginTarget::Project => {
            let home = home()?;
            (
                home.join(".netrc"),
                home.join(".swiftpm/configuration/registries.json"),
            )
        }
    };
    if login.target == LoginTarget::Project {
        // `swift package-registry set` without `--global`: the project's file gets the
        // registry; authentication is read from the user-level file only.
        let project = std::path::PathBuf::from(".swiftpm/configuration/registries.json");
        plan.edit(&project, false, None, |file, text| {
            registries::apply(
                file,
                text,
                &RegistrySet {
                    token_host: None,
                    ..both.clone()
                },
            )
        })?;
        plan.edit(&user_config, false, None, |file, text| {
            registries::apply(
                file,
                text,
                &RegistrySet {
                    url: None,
                    ..both.clone()
                },
            )
        })?;
    } else {
        plan.edit(&user_config, false, None, |file, text| {
            registries::apply(file, text, &both)
        })?;
    }
    plan.edit(&netrc, true, None, |file, text| {
        apply_netrc(file, text, &host, TOKEN_LOGIN, login.secret)
    })?;
    Ok(())
}
