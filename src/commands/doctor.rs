//! `lading doctor`: what registry and auth each package manager will actually use, and which
//! config file decides it, asked of the tools themselves (npm, pip, Maven, NuGet) rather than
//! guessed from lading's own files. Values that are secrets are never printed: auth is
//! reported as present or absent, and URLs are redacted.

use std::ffi::OsStr;
use std::path::PathBuf;

use serde::Serialize;

use crate::cli::DoctorArgs;
use crate::env_vars::EnvVars;
use crate::printer::Printer;
use crate::secret::SafeUrl;

/// What one tool will use.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ToolReport {
    /// `npm`, `pip`, `maven`, `nuget`.
    pub tool: &'static str,
    /// Whether the tool was found.
    pub found: bool,
    /// The config file that decides the registry, when known.
    pub config_file: Option<String>,
    /// Every config file the tool reads, in the order it reports them.
    pub config_files: Vec<String>,
    /// The registry (redacted).
    pub registry: Option<String>,
    /// How it authenticates (never the secret).
    pub auth: String,
    /// How this was found out (the command run).
    pub source: String,
}

fn redact(url: &str) -> String {
    SafeUrl::parse(url.trim()).map_or_else(|_| url.trim().to_owned(), |url| url.redacted())
}

/// A tool that has not answered by then is reported as not found (Debian's nuget 2.8 spins
/// forever on `sources list`).
const TOOL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

async fn output(program: &OsStr, args: &[&str]) -> Option<String> {
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let Ok(result) = tokio::time::timeout(TOOL_TIMEOUT, child).await else {
        tracing::warn!(program = %program.to_string_lossy(), "no answer in 60 s; skipped");
        return None;
    };
    let output = result.ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

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

async fn npm() -> ToolReport {
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

/// Parse `pip config debug`/`pip config list` output.
#[must_use]
pub fn parse_pip_config(list: &str, debug: &str) -> (Option<String>, Vec<String>, Option<String>) {
    let index = list.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        key.ends_with(".index-url")
            .then(|| value.trim().trim_matches('\'').to_owned())
    });
    let mut files = Vec::new();
    let mut winner = None;
    let mut current = None;
    for line in debug.lines() {
        let trimmed = line.trim();
        if let Some((path, exists)) = trimmed.split_once(", exists: ") {
            if exists.trim() == "True" {
                files.push(path.to_owned());
                current = Some(path.to_owned());
            }
            continue;
        }
        if trimmed.contains(".index-url:") || trimmed.starts_with("index-url") {
            winner.clone_from(&current);
        }
        if trimmed.starts_with("PIP_INDEX_URL=") {
            winner = Some("environment variable `PIP_INDEX_URL`".to_owned());
        }
    }
    (index, files, winner)
}

async fn pip() -> ToolReport {
    let python =
        EnvVars::get(EnvVars::LADING_DOCTOR_PYTHON).unwrap_or_else(|| "python3".to_owned());
    let program = OsStr::new(&python);
    let mut report = ToolReport {
        tool: "pip",
        found: false,
        config_file: None,
        config_files: Vec::new(),
        registry: None,
        auth: "none".to_owned(),
        source: format!("{python} -m pip config list; pip config debug"),
    };
    let Some(list) = output(program, &["-m", "pip", "config", "list"]).await else {
        return report;
    };
    report.found = true;
    let debug = output(program, &["-m", "pip", "config", "debug"])
        .await
        .unwrap_or_default();
    let (index, files, winner) = parse_pip_config(&list, &debug);
    report.registry = Some(index.as_deref().map_or_else(
        || "https://pypi.org/simple (pip's default)".to_owned(),
        redact,
    ));
    report.config_files = files;
    report.config_file = winner;
    if let Some(index) = index
        && let Ok(url) = url::Url::parse(&index)
    {
        report.auth =
            if url.password().is_some() {
                "password in the index URL".to_owned()
            } else if let Some(netrc) = EnvVars::get("NETRC").map(PathBuf::from).or_else(|| {
                EnvVars::get(EnvVars::HOME).map(|home| PathBuf::from(home).join(".netrc"))
            }) && fs_err::read_to_string(&netrc).is_ok_and(|text| {
                url.host_str()
                    .is_some_and(|host| text.contains(&format!("machine {host}")))
            }) {
                format!("netrc entry for the host in `{}`", netrc.display())
            } else {
                "none".to_owned()
            };
    }
    report
}

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

async fn maven() -> ToolReport {
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

async fn nuget() -> ToolReport {
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
    let mut enabled = Vec::new();
    let mut lines = list.lines().peekable();
    while let Some(line) = lines.next() {
        if line.contains("[Enabled]")
            && let Some(url) = lines.peek()
        {
            enabled.push(redact(url));
        }
    }
    report.registry = enabled.first().cloned();
    if let Some(config) = &report.config_file
        && fs_err::read_to_string(config).is_ok_and(|text| text.contains("ClearTextPassword"))
    {
        report.auth = format!("ClearTextPassword in `{config}`");
    }
    report
}

/// Run `lading doctor`.
///
/// # Errors
/// Only when the report cannot be serialised.
pub async fn run(args: &DoctorArgs, printer: Printer) -> anyhow::Result<()> {
    let reports = vec![npm().await, pip().await, maven().await, nuget().await];
    if args.json {
        printer.data(&serde_json::to_string_pretty(&reports)?);
        return Ok(());
    }
    for report in &reports {
        if !report.found {
            printer.data(&format!("{}: not found", report.tool));
            continue;
        }
        printer.data(&format!(
            "{}:\n  registry:    {}\n  config file: {}\n  auth:        {}\n  reads:       {}\n  (from: {})",
            report.tool,
            report.registry.as_deref().unwrap_or("?"),
            report.config_file.as_deref().unwrap_or("?"),
            report.auth,
            if report.config_files.is_empty() {
                "-".to_owned()
            } else {
                report.config_files.join(", ")
            },
            report.source
        ));
    }
    Ok(())
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

    #[test]
    fn pip_config_gives_the_index_and_the_files() {
        let list = "global.index-url='http://127.0.0.1:1/d/local/pypi/main/simple/'\n";
        let debug = "env_var:\nenv:\n  PIP_CONFIG_FILE, exists: True\n/tmp/job/pip.conf, exists: True\n    global.index-url: http://127.0.0.1:1/d/local/pypi/main/simple/\nglobal:\n  /etc/pip.conf, exists: False\n";
        let (index, files, winner) = parse_pip_config(list, debug);
        assert_eq!(
            index.as_deref(),
            Some("http://127.0.0.1:1/d/local/pypi/main/simple/")
        );
        assert!(files.contains(&"/tmp/job/pip.conf".to_owned()), "{files:?}");
        assert_eq!(winner.as_deref(), Some("/tmp/job/pip.conf"));
    }
}
