//! `lading doctor` for RubyGems: `gem env` (the push host and credentials file) and
//! `bundle config` (the credentials Bundler holds, which it prints redacted).

use std::ffi::OsStr;

use crate::ecosystem::doctor::{ToolReport, output, redact};
use crate::env_vars::EnvVars;

/// What `gem push` will use.
pub async fn gem() -> ToolReport {
    let mut report = ToolReport {
        tool: "gem",
        found: false,
        config_file: None,
        config_files: Vec::new(),
        registry: None,
        auth: "none".to_owned(),
        source: "gem --version; RUBYGEMS_HOST, GEM_HOST_API_KEY, the credentials file".to_owned(),
    };
    if output(OsStr::new("gem"), &["--version"]).await.is_none() {
        return report;
    }
    report.found = true;
    report.registry = Some(EnvVars::get("RUBYGEMS_HOST").map_or_else(
        || "https://rubygems.org (gem's default; `gem push --host URL` overrides)".to_owned(),
        |host| redact(&host),
    ));
    if EnvVars::get("GEM_HOST_API_KEY").is_some() {
        "API key from `GEM_HOST_API_KEY`".clone_into(&mut report.auth);
    } else if let Ok(path) = super::config::gem_credentials_path()
        && let Ok(text) = fs_err::read_to_string(&path)
    {
        report.config_files.push(path.display().to_string());
        report.config_file = Some(path.display().to_string());
        let hosts = text.lines().filter(|line| line.starts_with("http")).count();
        report.auth = format!("API keys for {hosts} host(s) in `{}`", path.display());
    }
    report
}

/// The sources Bundler holds credentials for, from `bundle config` (which prints each
/// setting's name, then where it is set with the value redacted).
#[must_use]
pub fn bundler_credentials(list: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = list.lines().peekable();
    while let Some(line) = lines.next() {
        let name = line.trim();
        if !(name.starts_with("http://") || name.starts_with("https://")) {
            continue;
        }
        if let Some(next) = lines.peek()
            && let Some(rest) = next.trim().strip_prefix("Set for ")
        {
            let place = rest.split_once(':').map_or(rest, |(place, _)| place);
            out.push((name.to_owned(), place.to_owned()));
        }
    }
    out
}

/// What `bundle install` will authenticate with.
pub async fn bundler() -> ToolReport {
    let mut report = ToolReport {
        tool: "bundler",
        found: false,
        config_file: None,
        config_files: Vec::new(),
        registry: None,
        auth: "none".to_owned(),
        source: "bundle config".to_owned(),
    };
    let Some(list) = output(OsStr::new("bundle"), &["config"]).await else {
        return report;
    };
    report.found = true;
    report.registry = Some("the Gemfile's `source`".to_owned());
    if let Some((source, place)) = bundler_credentials(&list).into_iter().next() {
        report.auth = format!("credentials for `{}` ({place})", redact(&source));
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `bundle config` as Bundler 2.3.15 printed it after `bundle config set --global`.
    #[test]
    fn bundle_config_listing_gives_the_credential_sources() {
        let list = "Settings are listed in order of priority. The top value will be used.\nhttp://127.0.0.1:8080/d/dom/ruby/repo/\nSet for the current user (/tmp/home/.bundle/config): \"aws:[REDACTED]\"\n\nrubygems.pkg.github.com\nSet for the current user (/tmp/home/.bundle/config): \"user:[REDACTED]\"\n";
        assert_eq!(
            bundler_credentials(list),
            [(
                "http://127.0.0.1:8080/d/dom/ruby/repo/".to_owned(),
                "the current user (/tmp/home/.bundle/config)".to_owned()
            )]
        );
    }
}
