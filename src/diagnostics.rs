//! Rendering errors for a CI log, and mapping them to exit codes, in one place.
//!
//! ```text
//! error: failed to publish `dist/app-1.4.0.tgz` to https://repo.example.com/npm/npm-local/
//!   Caused by: server returned 401 Unauthorized (x-request-id: 7f3c…)
//!
//! hint: the token in `LADING_NPM_TOKEN` was rejected; check it has deploy rights
//! ```
//!
//! Exit codes (also in `lading --help`):
//! 0 success; 1 actionable failure; 2 usage error; 3 transient failure after retries;
//! 101 panic (always a bug).

use std::fmt::Write as _;

use crate::config::ConfigError;
use crate::http::HttpError;
use crate::repository::RepositoryError;
use crate::repository::codeartifact::CodeArtifactError;

/// Exit code: success, including a no-op.
pub const EXIT_OK: u8 = 0;
/// Exit code: actionable failure (bad credentials, 4xx, checksum mismatch, invalid config).
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: usage error (unknown flag, missing argument).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: transient failure after retries were exhausted; the CI job may be retried.
pub const EXIT_TRANSIENT: u8 = 3;

/// Text for `--help`.
pub const EXIT_CODES_HELP: &str = "Exit codes:
  0    success (including nothing to do)
  1    actionable failure: bad credentials, 4xx, checksum mismatch, invalid config
  2    usage error
  3    transient failure after retries (5xx, timeouts); the CI job may be retried
  101  internal error (a bug in lading: please report it)";

/// An error that knows what the user can do about it.
pub trait Hint {
    /// A one-line suggestion, shown after the error chain.
    fn hint(&self) -> Option<String>;
}

/// An error carrying an explicit hint, for `commands/` code that knows the remedy.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct HintedError {
    /// The error message.
    pub message: String,
    /// The suggestion.
    pub hint: String,
}

impl HintedError {
    /// Build an error with a hint.
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: hint.into(),
        }
    }
}

/// A step run as a child process failed: `lading run` and `lading exec` exit with the
/// child's own code (uv `ExitStatus::External`), so a CI sees what the step reported.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ChildExit {
    /// What failed, e.g. "step `pack` failed with exit code 1".
    pub message: String,
    /// The code to exit with.
    pub code: u8,
}

/// The first hint any error in the chain offers.
fn find_hint(error: &anyhow::Error) -> Option<String> {
    error.chain().find_map(|cause| {
        if let Some(hinted) = cause.downcast_ref::<HintedError>() {
            return Some(hinted.hint.clone());
        }
        if let Some(http) = cause.downcast_ref::<HttpError>() {
            return http.hint();
        }
        if let Some(fetch) = cause.downcast_ref::<crate::fetcher::FetchError>() {
            return fetch.hint();
        }
        if let Some(restore) = cause.downcast_ref::<crate::fetcher::RestoreError>() {
            return restore.hint();
        }
        if let Some(config) = cause.downcast_ref::<ConfigError>() {
            return config.hint();
        }
        if let Some(codeartifact) = cause.downcast_ref::<CodeArtifactError>() {
            return codeartifact.hint();
        }
        if let Some(repository) = cause.downcast_ref::<RepositoryError>() {
            return repository.hint();
        }
        None
    })
}

/// The exit code for an error: 3 when the root cause is transient, else 1.
#[must_use]
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if let Some(child) = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<ChildExit>())
    {
        return child.code;
    }
    let transient = error.chain().any(|cause| {
        cause
            .downcast_ref::<HttpError>()
            .is_some_and(HttpError::is_transient)
            || cause
                .downcast_ref::<CodeArtifactError>()
                .is_some_and(CodeArtifactError::is_transient)
            // `RepositoryError::CodeArtifact` is transparent: the inner error is not a
            // separate link of the chain.
            || matches!(
                cause.downcast_ref::<RepositoryError>(),
                Some(RepositoryError::CodeArtifact(inner)) if inner.is_transient()
            )
    });
    if transient {
        EXIT_TRANSIENT
    } else {
        EXIT_FAILURE
    }
}

/// Render `error:` / `Caused by:` / `hint:` text.
#[must_use]
pub fn render(error: &anyhow::Error, color: bool) -> String {
    let (red, yellow_bold, reset) = if color {
        ("\x1b[1;31m", "\x1b[1;36m", "\x1b[0m")
    } else {
        ("", "", "")
    };
    let mut out = String::new();
    let mut chain = error.chain();
    if let Some(top) = chain.next() {
        let _ = writeln!(out, "{red}error{reset}: {top}");
    }
    let mut previous = error.to_string();
    for cause in chain {
        let text = cause.to_string();
        // Some errors repeat their source's message in their own; don't print it twice.
        if previous.ends_with(&text) {
            continue;
        }
        let _ = writeln!(out, "  Caused by: {text}");
        previous = text;
    }
    if let Some(hint) = find_hint(error) {
        let _ = write!(out, "\n{yellow_bold}hint{reset}: {hint}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_chain_and_hint() {
        let error = anyhow::Error::new(HintedError::new(
            "token file `tok` is empty",
            "write the token into `tok`",
        ))
        .context("failed to log in to `main`");
        let text = render(&error, false);
        assert_eq!(
            text,
            "error: failed to log in to `main`\n  Caused by: token file `tok` is empty\n\nhint: write the token into `tok`\n"
        );
        assert_eq!(exit_code(&error), EXIT_FAILURE);
    }
}
