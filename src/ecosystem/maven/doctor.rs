//! `lading doctor` for Maven: `mvn help:effective-settings`, else the settings file.

use std::ffi::OsStr;
use std::path::PathBuf;

use crate::ecosystem::doctor::{ToolReport, output, redact};
use crate::env_vars::EnvVars;

fn xml_values(text: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    text.split(&open)
        .skip(1)
        .filter_map(|rest| {
            rest.split(&close)
                .next()
                .map(|value| value.trim().to_owned())
        })
        .collect()
}

/// What `maven` will use.
pub async fn maven() -> ToolReport {
    let settings = EnvVars::get("LADING_MAVEN_SETTINGS")
        .map(PathBuf::from)
        .or_else(|| {
            EnvVars::get(EnvVars::HOME).map(|home| PathBuf::from(home).join(".m2/settings.xml"))
        });
    let mut report = ToolReport {
        tool: "maven",
        found: false,
        config_file: None,
        config_files: Vec::new(),
        registry: None,
        auth: "none".to_owned(),
        source: "mvn help:effective-settings (else the settings file)".to_owned(),
    };
    let mut args = vec!["-B", "-q", "-o"];
    let settings_text = settings.as_ref().map(|path| path.display().to_string());
    if let Some(path) = &settings_text
        && EnvVars::get("LADING_MAVEN_SETTINGS").is_some()
    {
        args.extend(["-s", path.as_str()]);
    }
    args.extend(["help:effective-settings", "-Doutput=/dev/stdout"]);
    let effective = output(OsStr::new("mvn"), &args).await;
    report.found = effective.is_some() || output(OsStr::new("mvn"), &["-v"]).await.is_some();
    let text = effective.or_else(|| {
        "the settings file (maven-help-plugin unavailable)".clone_into(&mut report.source);
        settings
            .as_ref()
            .and_then(|path| fs_err::read_to_string(path).ok())
    });
    if let Some(path) = settings.filter(|path| path.is_file()) {
        report.config_file = Some(path.display().to_string());
        report.config_files.push(path.display().to_string());
    }
    if let Some(text) = text {
        let urls = xml_values(&text, "url");
        report.registry = urls.first().map(|url| redact(url));
        let with_password: Vec<String> = text
            .split("<server>")
            .skip(1)
            .filter(|server| server.contains("<password>"))
            .filter_map(|server| xml_values(server, "id").into_iter().next())
            .collect();
        if !with_password.is_empty() {
            report.auth = format!("password for server id(s) {}", with_password.join(", "));
        }
    }
    report
}
