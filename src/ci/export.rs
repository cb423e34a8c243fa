//! Handing login results to later CI steps without leaking the token.
//!
//! - GitHub Actions: `::add-mask::` for the secret before any other output, then
//!   `GITHUB_ENV` / `GITHUB_OUTPUT` file commands in the multi-line form with a random
//!   delimiter (a value can never forge another variable).
//! - Everything else (CodeBuild, Jenkins, a shell): a sourceable env file (0600) and
//!   `--print-env sh` on stdout.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use rand::Rng as _;

use crate::env_vars::EnvVars;
use crate::printer::Printer;
use crate::secret::Secret;

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A file command or env file could not be written.
    #[error("failed to write `{}`", path.display())]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Whether this process runs as a GitHub Actions step.
#[must_use]
pub fn is_github_actions() -> bool {
    EnvVars::get(EnvVars::GITHUB_ACTIONS).is_some_and(|value| value == "true")
}

/// Escape a workflow-command message (`%`, CR, LF).
#[must_use]
pub fn escape_command_data(value: &str) -> String {
    value
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// On GitHub Actions, tell the runner to mask the secret (line by line) in every later
/// log line. Call before printing anything else.
pub fn mask(printer: &Printer, secret: &Secret<String>) {
    if !is_github_actions() {
        return;
    }
    for line in secret
        .expose()
        .lines()
        .filter(|line| !line.trim().is_empty())
    {
        printer.data(&format!("::add-mask::{}", escape_command_data(line)));
    }
}

/// A delimiter that occurs in none of the values.
fn delimiter(values: &[(String, String)]) -> String {
    loop {
        let random: u128 = rand::rng().random();
        let candidate = format!("ghadelimiter_{random:032x}");
        if values
            .iter()
            .all(|(name, value)| !name.contains(&candidate) && !value.contains(&candidate))
        {
            return candidate;
        }
    }
}

/// Render `NAME<<DELIM\nvalue\nDELIM\n` blocks for a GitHub file command.
#[must_use]
pub fn file_command_text(values: &[(String, String)]) -> String {
    let delimiter = delimiter(values);
    let mut out = String::new();
    for (name, value) in values {
        let _ = writeln!(out, "{name}<<{delimiter}\n{value}\n{delimiter}");
    }
    out
}

fn append(path: &Path, text: &str) -> Result<(), ExportError> {
    let wrap = |source| ExportError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut file = fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(wrap)?;
    file.write_all(text.as_bytes()).map_err(wrap)
}

/// Append variables to `GITHUB_ENV` (env for later steps) when set.
///
/// # Errors
/// [`ExportError`] when the file cannot be written.
pub fn github_env(values: &[(String, String)]) -> Result<bool, ExportError> {
    match EnvVars::get(EnvVars::GITHUB_ENV) {
        Some(path) if !values.is_empty() => {
            append(Path::new(&path), &file_command_text(values))?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Append step outputs to `GITHUB_OUTPUT` when set.
///
/// # Errors
/// [`ExportError`] when the file cannot be written.
pub fn github_output(values: &[(String, String)]) -> Result<bool, ExportError> {
    match EnvVars::get(EnvVars::GITHUB_OUTPUT) {
        Some(path) if !values.is_empty() => {
            append(Path::new(&path), &file_command_text(values))?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Quote for POSIX sh: single quotes, `'` as `'\''`.
///
/// ```
/// assert_eq!(lading::ci::export::sh_quote("a'b c"), "'a'\\''b c'");
/// ```
#[must_use]
pub fn sh_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

/// `export NAME='value'` lines, sourceable by sh, bash and zsh.
#[must_use]
pub fn sh_exports(values: &[(String, String)]) -> String {
    let mut out = String::new();
    for (name, value) in values {
        let _ = writeln!(out, "export {name}={}", sh_quote(value));
    }
    out
}

/// Lines to undo [`sh_exports`].
#[must_use]
pub fn sh_unsets(names: &[String]) -> String {
    let mut out = String::new();
    for name in names {
        let _ = writeln!(out, "unset {name}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_commands_use_a_delimiter_absent_from_values() {
        let values = vec![("A".to_owned(), "x\ny".to_owned())];
        let text = file_command_text(&values);
        let first = text.lines().next().unwrap();
        let delimiter = first.strip_prefix("A<<").unwrap();
        assert!(delimiter.starts_with("ghadelimiter_"));
        assert_eq!(text, format!("A<<{delimiter}\nx\ny\n{delimiter}\n"));
    }

    #[test]
    fn sh_exports_quote_everything() {
        let values = vec![("P".to_owned(), "/tmp/a b/$x'".to_owned())];
        assert_eq!(sh_exports(&values), "export P='/tmp/a b/$x'\\'''\n");
        assert_eq!(escape_command_data("a%\nb"), "a%25%0Ab");
    }
}
