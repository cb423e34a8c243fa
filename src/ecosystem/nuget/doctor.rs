//! `lading doctor` for NuGet: `nuget sources list` and `dotnet nuget list source` on the
//! config `lading login` wrote.

use std::ffi::OsStr;

use crate::ecosystem::doctor::{ToolReport, output, redact};
use crate::env_vars::EnvVars;

/// What `nuget` will use.
pub async fn nuget() -> ToolReport {
    let mut report = ToolReport {
        tool: "nuget",
        found: false,
        config_file: EnvVars::get("LADING_NUGET_CONFIG"),
        config_files: Vec::new(),
        registry: None,
        auth: "none".to_owned(),
        source: "nuget sources list".to_owned(),
    };
    let (program, mut args): (String, Vec<String>) =
        match EnvVars::get(EnvVars::LADING_DOCTOR_NUGET_EXE) {
            Some(exe) => ("mono".to_owned(), vec![exe]),
            None => ("nuget".to_owned(), Vec::new()),
        };
    args.extend(["sources".to_owned(), "list".to_owned()]);
    if let Some(config) = &report.config_file {
        args.extend(["-ConfigFile".to_owned(), config.clone()]);
        report.config_files.push(config.clone());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let Some(list) = output(OsStr::new(&program), &refs).await else {
        return report;
    };
    report.found = true;
    report.registry = enabled_sources(&list).into_iter().next();
    if let Some(config) = &report.config_file
        && fs_err::read_to_string(config).is_ok_and(|text| text.contains("ClearTextPassword"))
    {
        report.auth = format!("ClearTextPassword in `{config}`");
    }
    report
}

/// What `dotnet` will use: `dotnet nuget list source`, whose listing has nuget.exe's shape
/// (`N.  name [Enabled]` then the URL on the next line).
pub async fn dotnet() -> ToolReport {
    let mut report = ToolReport {
        tool: "dotnet",
        found: false,
        config_file: EnvVars::get("LADING_NUGET_CONFIG"),
        config_files: Vec::new(),
        registry: None,
        auth: "none".to_owned(),
        source: "dotnet nuget list source".to_owned(),
    };
    let mut args = vec!["nuget", "list", "source"];
    if let Some(config) = &report.config_file {
        args.extend(["--configfile", config.as_str()]);
    }
    let Some(list) = output(OsStr::new("dotnet"), &args).await else {
        return report;
    };
    report.found = true;
    report.registry = enabled_sources(&list).into_iter().next();
    if let Some(config) = report.config_file.clone() {
        report.config_files.push(config.clone());
        if fs_err::read_to_string(&config).is_ok_and(|text| text.contains("ClearTextPassword")) {
            report.auth = format!("ClearTextPassword in `{config}`");
        }
    }
    report
}

/// The URLs of the enabled sources in a `sources list` listing, redacted.
fn enabled_sources(list: &str) -> Vec<String> {
    let mut enabled = Vec::new();
    let mut lines = list.lines().peekable();
    while let Some(line) = lines.next() {
        if line.contains("[Enabled]")
            && let Some(url) = lines.peek()
        {
            enabled.push(redact(url));
        }
    }
    enabled
}
