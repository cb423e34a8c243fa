//! `lading doctor` for pip: `pip config list` and `pip config debug`, and the netrc.

use std::ffi::OsStr;
use std::path::PathBuf;

use crate::ecosystem::doctor::{ToolReport, output, redact};
use crate::env_vars::EnvVars;

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

/// What `pip` will use.
pub async fn pip() -> ToolReport {
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

#[cfg(test)]
mod tests {
    use super::*;

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
