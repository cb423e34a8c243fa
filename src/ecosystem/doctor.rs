//! What `lading doctor` reports for one client tool, and the helpers every format's
//! check uses: it asks the tools themselves (`npm config list`, `pip config debug`,
//! `mvn help:effective-settings`, `nuget sources list`) rather than guessing from
//! lading's own files. Secrets are never printed: auth is reported as present or absent,
//! and URLs are redacted.

use std::ffi::OsStr;

use serde::Serialize;

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

/// A URL with its secrets masked, or the text as it is.
#[must_use]
pub fn redact(url: &str) -> String {
    SafeUrl::parse(url.trim()).map_or_else(|_| url.trim().to_owned(), |url| url.redacted())
}

/// A tool that has not answered by then is reported as not found (Debian's nuget 2.8 spins
/// forever on `sources list`).
pub const TOOL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// What `program ARGS` prints on stdout, when it runs and succeeds within [`TOOL_TIMEOUT`].
pub async fn output(program: &OsStr, args: &[&str]) -> Option<String> {
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
