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
//!
//! This module is a leaf: it imports nothing from the rest of the crate. Each error type
//! says what the user can do about it by implementing [`Diagnostic`] where it is defined,
//! and its module exposes a [`Probe`] (a function named `diagnostic`) that recognises its
//! own types, and its child modules', in an error chain. The crate root collects the
//! top-level modules' probes into one [`Diagnostics`] (`lading::DIAGNOSTICS`), which
//! `main` uses to render. Errors travel inside `anyhow::Error` chains, where only concrete
//! types can be downcast, never a trait object: the probe is the one place that names
//! the concrete type, next to its definition.

use std::error::Error;
use std::fmt::Write as _;

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

/// An error that knows what the user can do about it. Its message is its `Display`.
pub trait Diagnostic: Error {
    /// A one-line suggestion, shown after the error chain.
    fn hint(&self) -> Option<String> {
        None
    }

    /// The exit code this error calls for, when it has an opinion ([`EXIT_TRANSIENT`] for
    /// a failure the CI job may retry); `None` leaves it to the rest of the chain, and
    /// [`EXIT_FAILURE`] when no link has one.
    fn exit_code(&self) -> Option<u8> {
        None
    }
}

/// One link of an error chain, as `anyhow::Error::chain` yields it.
pub type Cause = dyn Error + 'static;

/// Recognises one module's error types in one link of an error chain.
///
/// An error and its causes on one line, joined by `: ` (for logs and messages that carry
/// a library error whose `Display` alone does not say what failed).
#[must_use]
pub fn one_line(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Each module that defines a [`Diagnostic`] exposes one as `pub fn diagnostic`, built
/// from [`as_diagnostic`]; a module with children tries theirs too.
pub type Probe = fn(&Cause) -> Option<&dyn Diagnostic>;

/// One error type's part of a [`Probe`]: `as_diagnostic::<ConfigError>(error)`.
///
/// A `#[source] Box<T>` field (how large errors are kept small) is a link of type `Box<T>`
/// in the chain, so that is recognised as `T` too.
#[must_use]
pub fn as_diagnostic<T: Diagnostic + 'static>(error: &Cause) -> Option<&dyn Diagnostic> {
    if let Some(known) = error.downcast_ref::<T>() {
        return Some(known);
    }
    error
        .downcast_ref::<Box<T>>()
        .map(|boxed| &**boxed as &dyn Diagnostic)
}

/// The errors this module defines, which every [`Diagnostics`] recognises.
fn own(error: &Cause) -> Option<&dyn Diagnostic> {
    as_diagnostic::<HintedError>(error).or_else(|| as_diagnostic::<ChildExit>(error))
}

/// The renderer: hints and exit codes of an `anyhow::Error` chain, through the probes of
/// every module that defines errors.
#[derive(Debug, Clone, Copy)]
pub struct Diagnostics {
    probes: &'static [Probe],
}

impl Diagnostics {
    /// A renderer that recognises what `probes` recognise, plus [`HintedError`] and
    /// [`ChildExit`].
    #[must_use]
    pub const fn new(probes: &'static [Probe]) -> Self {
        Self { probes }
    }

    /// What one link of a chain knows about itself, if it is a known [`Diagnostic`].
    fn diagnostic<'e>(&self, cause: &'e Cause) -> Option<&'e dyn Diagnostic> {
        own(cause).or_else(|| self.probes.iter().find_map(|probe| probe(cause)))
    }

    /// The first hint any error in the chain offers, outermost first.
    #[must_use]
    pub fn hint(&self, error: &anyhow::Error) -> Option<String> {
        error
            .chain()
            .find_map(|cause| self.diagnostic(cause)?.hint())
    }

    /// The exit code for an error: the outermost link that names one decides ([`ChildExit`]
    /// its child's code, a transient failure [`EXIT_TRANSIENT`]), else [`EXIT_FAILURE`].
    #[must_use]
    pub fn exit_code(&self, error: &anyhow::Error) -> u8 {
        error
            .chain()
            .find_map(|cause| self.diagnostic(cause)?.exit_code())
            .unwrap_or(EXIT_FAILURE)
    }

    /// Render `error:` / `Caused by:` / `hint:` text.
    #[must_use]
    pub fn render(&self, error: &anyhow::Error, color: bool) -> String {
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
        if let Some(hint) = self.hint(error) {
            let _ = write!(out, "\n{yellow_bold}hint{reset}: {hint}\n");
        }
        out
    }
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

impl Diagnostic for HintedError {
    fn hint(&self) -> Option<String> {
        Some(self.hint.clone())
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

impl Diagnostic for ChildExit {
    fn exit_code(&self) -> Option<u8> {
        Some(self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module the renderer has never heard of: it only implements [`Diagnostic`] and
    /// exposes its probe, as every error module of the crate does.
    mod uploads {
        use crate::diagnostics::{Cause, Diagnostic, EXIT_TRANSIENT, as_diagnostic};

        #[derive(Debug, thiserror::Error)]
        pub enum UploadError {
            #[error("the registry throttled the upload")]
            Throttled,
            #[error("`{0}` is already published")]
            Conflict(String),
            /// No hint and no exit code of its own: defers to its source (boxed, so the
            /// link in the chain is a `Box<UploadError>`).
            #[error("the upload failed")]
            Failed(#[source] Box<UploadError>),
            /// Overrides whatever its source says.
            #[error("the upload was aborted")]
            Aborted(#[source] Box<UploadError>),
        }

        impl Diagnostic for UploadError {
            fn hint(&self) -> Option<String> {
                match self {
                    Self::Throttled => Some("the CI job can be retried".to_owned()),
                    Self::Conflict(name) => Some(format!("bump the version of `{name}`")),
                    Self::Aborted(_) => Some("see the step's log".to_owned()),
                    Self::Failed(_) => None,
                }
            }

            fn exit_code(&self) -> Option<u8> {
                match self {
                    Self::Throttled => Some(EXIT_TRANSIENT),
                    Self::Aborted(_) => Some(7),
                    Self::Conflict(_) | Self::Failed(_) => None,
                }
            }
        }

        /// An error that knows nothing about diagnostics, wrapping one that does.
        #[derive(Debug, thiserror::Error)]
        #[error("step `publish` failed")]
        pub struct StepError(#[source] pub UploadError);

        pub fn diagnostic(error: &Cause) -> Option<&dyn Diagnostic> {
            as_diagnostic::<UploadError>(error)
        }
    }

    use uploads::{StepError, UploadError};

    const REGISTERED: Diagnostics = Diagnostics::new(&[uploads::diagnostic]);
    const UNREGISTERED: Diagnostics = Diagnostics::new(&[]);

    #[test]
    fn renders_chain_and_hint() {
        let error = anyhow::Error::new(HintedError::new(
            "token file `tok` is empty",
            "write the token into `tok`",
        ))
        .context("failed to log in to `main`");
        let text = UNREGISTERED.render(&error, false);
        assert_eq!(
            text,
            "error: failed to log in to `main`\n  Caused by: token file `tok` is empty\n\nhint: write the token into `tok`\n"
        );
        assert_eq!(UNREGISTERED.exit_code(&error), EXIT_FAILURE);
    }

    #[test]
    fn child_exit_passes_the_childs_code_through() {
        let error = anyhow::Error::new(ChildExit {
            message: "step `pack` failed with exit code 9".to_owned(),
            code: 9,
        })
        .context("`lading run` stopped");
        assert_eq!(UNREGISTERED.exit_code(&error), 9);
        assert_eq!(UNREGISTERED.hint(&error), None);
    }

    #[test]
    fn an_unknown_modules_error_brings_its_hint_and_exit_code_through_its_probe() {
        let error = anyhow::Error::new(UploadError::Throttled).context("failed to publish `app`");
        assert_eq!(
            REGISTERED.render(&error, false),
            "error: failed to publish `app`\n  Caused by: the registry throttled the upload\n\nhint: the CI job can be retried\n"
        );
        assert_eq!(REGISTERED.exit_code(&error), EXIT_TRANSIENT);

        // Without the module's probe the same chain renders bare: the probe is what finds it.
        assert_eq!(UNREGISTERED.hint(&error), None);
        assert_eq!(UNREGISTERED.exit_code(&error), EXIT_FAILURE);
    }

    #[test]
    fn a_diagnostic_is_found_as_the_source_of_an_error_that_is_not_one() {
        let error = anyhow::Error::new(StepError(UploadError::Conflict("app".to_owned())));
        assert_eq!(
            REGISTERED.render(&error, false),
            "error: step `publish` failed\n  Caused by: `app` is already published\n\nhint: bump the version of `app`\n"
        );
        assert_eq!(REGISTERED.exit_code(&error), EXIT_FAILURE);

        let error = anyhow::Error::new(StepError(UploadError::Throttled));
        assert_eq!(REGISTERED.exit_code(&error), EXIT_TRANSIENT);
    }

    #[test]
    fn the_outermost_link_with_an_opinion_decides() {
        // A link without a hint or exit code defers to the links below it...
        let error = anyhow::Error::new(UploadError::Failed(Box::new(UploadError::Throttled)));
        assert_eq!(
            REGISTERED.hint(&error).as_deref(),
            Some("the CI job can be retried")
        );
        assert_eq!(REGISTERED.exit_code(&error), EXIT_TRANSIENT);

        // ...and one with an opinion overrides them.
        let error = anyhow::Error::new(UploadError::Aborted(Box::new(UploadError::Throttled)));
        assert_eq!(
            REGISTERED.hint(&error).as_deref(),
            Some("see the step's log")
        );
        assert_eq!(REGISTERED.exit_code(&error), 7);
    }

    #[test]
    fn colour_wraps_only_the_labels() {
        let error = anyhow::Error::new(HintedError::new("bad", "do this"));
        assert_eq!(
            UNREGISTERED.render(&error, true),
            "\x1b[1;31merror\x1b[0m: bad\n\n\x1b[1;36mhint\x1b[0m: do this\n"
        );
    }
}
