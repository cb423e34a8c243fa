//! `lading doctor` for pip (`pip config list` and `pip config debug`, and the netrc), uv
//! (its environment and user `uv.toml`) and Poetry (`poetry config --list`).

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

/// Whether a netrc (`NETRC`, else `~/.netrc`) has an entry for `url`'s host; its path if so.
fn netrc_entry_for(url: &str) -> Option<PathBuf> {
    let url = url::Url::parse(url).ok()?;
    let host = url.host_str()?.to_owned();
    let netrc = EnvVars::get("NETRC")
        .map(PathBuf::from)
        .or_else(|| EnvVars::get(EnvVars::HOME).map(|home| PathBuf::from(home).join(".netrc")))?;
    fs_err::read_to_string(&netrc)
        .is_ok_and(|text| text.contains(&format!("machine {host}")))
        .then_some(netrc)
}

/// The URL of the first `[[index]]` marked `default = true` in a `uv.toml`.
#[must_use]
pub fn uv_default_index(text: &str) -> Option<String> {
    let document: toml_edit::DocumentMut = text.parse().ok()?;
    document
        .get("index")?
        .as_array_of_tables()?
        .iter()
        .find(|table| table.get("default").and_then(toml_edit::Item::as_bool) == Some(true))?
        .get("url")?
        .as_str()
        .map(ToOwned::to_owned)
}

/// What `uv` will use: `UV_DEFAULT_INDEX`, else the default index of the user's `uv.toml`
/// (uv has no command printing its resolved settings), and the netrc entry for its host.
pub async fn uv() -> ToolReport {
    let mut report = ToolReport {
        tool: "uv",
        found: false,
        config_file: None,
        config_files: Vec::new(),
        registry: None,
        auth: "none".to_owned(),
        source: "uv --version; UV_DEFAULT_INDEX, the user's uv.toml".to_owned(),
    };
    if output(OsStr::new("uv"), &["--version"]).await.is_none() {
        return report;
    }
    report.found = true;
    let user = EnvVars::get(EnvVars::XDG_CONFIG_HOME)
        .map(PathBuf::from)
        .or_else(|| EnvVars::get(EnvVars::HOME).map(|home| PathBuf::from(home).join(".config")))
        .map(|config| config.join("uv/uv.toml"));
    let index = if let Some(index) = EnvVars::get(EnvVars::UV_DEFAULT_INDEX) {
        report.config_file = Some("environment variable `UV_DEFAULT_INDEX`".to_owned());
        Some(index)
    } else if let Some(user) = user
        && let Ok(text) = fs_err::read_to_string(&user)
    {
        report.config_files.push(user.display().to_string());
        let index = uv_default_index(&text);
        if index.is_some() {
            report.config_file = Some(user.display().to_string());
        }
        index
    } else {
        None
    };
    report.registry = Some(index.as_deref().map_or_else(
        || "https://pypi.org/simple (uv's default)".to_owned(),
        redact,
    ));
    if let Some(netrc) = index.as_deref().and_then(netrc_entry_for) {
        report.auth = format!("netrc entry for the host in `{}`", netrc.display());
    }
    report
}

/// The repositories in `poetry config --list` (`repositories.NAME.url = "URL"`).
#[must_use]
pub fn poetry_repositories(list: &str) -> Vec<(String, String)> {
    list.lines()
        .filter_map(|line| {
            let (key, value) = line.split_once(" = ")?;
            let name = key
                .trim()
                .strip_prefix("repositories.")?
                .strip_suffix(".url")?;
            Some((name.to_owned(), value.trim().trim_matches('"').to_owned()))
        })
        .collect()
}

/// What `poetry` will use for publishing and private sources: `poetry config --list`.
pub async fn poetry() -> ToolReport {
    let mut report = ToolReport {
        tool: "poetry",
        found: false,
        config_file: None,
        config_files: Vec::new(),
        registry: None,
        auth: "none".to_owned(),
        source: "poetry config --list".to_owned(),
    };
    let Some(list) = output(OsStr::new("poetry"), &["config", "--list"]).await else {
        return report;
    };
    report.found = true;
    if let Some((name, url)) = poetry_repositories(&list).into_iter().next() {
        report.registry = Some(format!("{} (repository `{name}`)", redact(&url)));
        let variable = format!(
            "POETRY_HTTP_BASIC_{}_PASSWORD",
            name.to_ascii_uppercase().replace('-', "_")
        );
        if EnvVars::get(&variable).is_some() {
            report.auth = format!("http-basic from `{variable}`");
        } else {
            report.auth = format!("http-basic.{name} if set (`poetry config http-basic.{name}`)");
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uv_and_poetry_settings_are_read() {
        let text = "[[index]]\nname = \"x\"\nurl = \"https://x/simple\"\n\n[[index]]\nname = \"codeartifact\"\nurl = \"http://h/simple/\"\ndefault = true\n";
        assert_eq!(uv_default_index(text).as_deref(), Some("http://h/simple/"));
        let list =
            "cache-dir = \"/c\"\nrepositories.codeartifact.url = \"http://h/d/dom/pypi/r/\"\n";
        assert_eq!(
            poetry_repositories(list),
            [(
                "codeartifact".to_owned(),
                "http://h/d/dom/pypi/r/".to_owned()
            )]
        );
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
