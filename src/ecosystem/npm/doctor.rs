//! `lading doctor` for npm: `npm config get registry` and `npm config list`.

use std::ffi::OsStr;

use crate::ecosystem::doctor::{ToolReport, output, redact};

/// Parse `npm config list` (`; "user" config from FILE` headers, `key = value` lines,
/// secrets shown as `(protected)`).
#[must_use]
pub fn parse_npm_config_list(text: &str, registry: &str) -> (Vec<String>, Option<String>, String) {
    let mut files = Vec::new();
    let mut current = None;
    let mut registry_file = None;
    let mut auth = "none".to_owned();
    let nerf = registry
        .trim()
        .split_once("//")
        .map(|(_, rest)| format!("//{rest}"))
        .unwrap_or_default();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("; \"")
            && let Some((_, file)) = rest.split_once("config from ")
        {
            files.push(file.trim().to_owned());
            current = Some(file.trim().to_owned());
            continue;
        }
        let Some((key, value)) = line.split_once(" = ") else {
            continue;
        };
        let key = key.trim().trim_matches('"');
        if key == "registry" {
            registry_file.clone_from(&current);
        }
        if !nerf.is_empty()
            && key.starts_with(&nerf)
            && ["_authToken", "_auth", "_password"]
                .iter()
                .any(|name| key.ends_with(name))
        {
            let kind = key.rsplit(':').next().unwrap_or_default();
            auth = format!(
                "{kind} for this registry in `{}`{}",
                current.as_deref().unwrap_or("the environment"),
                if value.contains("(protected)") {
                    ""
                } else {
                    " (not protected)"
                }
            );
        }
    }
    (files, registry_file, auth)
}

/// What `npm` will use.
pub async fn npm() -> ToolReport {
    let program = OsStr::new("npm");
    let mut report = ToolReport {
        tool: "npm",
        found: false,
        config_file: None,
        config_files: Vec::new(),
        registry: None,
        auth: "none".to_owned(),
        source: "npm config get registry; npm config list".to_owned(),
    };
    let Some(registry) = output(program, &["config", "get", "registry"]).await else {
        return report;
    };
    report.found = true;
    report.registry = Some(redact(&registry));
    if let Some(list) = output(program, &["config", "list"]).await {
        let (files, winner, auth) = parse_npm_config_list(&list, &registry);
        report.config_files = files;
        report.config_file = winner.or_else(|| Some("npm's default".to_owned()));
        report.auth = auth;
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npm_config_list_names_the_winning_file_and_protected_auth() {
        let text = "; \"user\" config from /tmp/job/npmrc\n\n//127.0.0.1:1/d/local/npm/main/:_authToken = (protected)\nregistry = \"http://127.0.0.1:1/d/local/npm/main/\"\n\n; node bin location = /usr/bin/node\n";
        let (files, winner, auth) =
            parse_npm_config_list(text, "http://127.0.0.1:1/d/local/npm/main/\n");
        assert_eq!(files, ["/tmp/job/npmrc"]);
        assert_eq!(winner.as_deref(), Some("/tmp/job/npmrc"));
        assert_eq!(auth, "_authToken for this registry in `/tmp/job/npmrc`");
    }
}
