//! Where human-facing output goes.
//!
//! stdout carries only data (JSON, checksums, tokens a script asked for); everything else
//! goes to stderr through [`Printer`], which knows the verbosity and whether colour is on.

use std::io::Write;

use crate::env_vars::EnvVars;

/// Verbosity chosen on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// `-q`: errors only.
    Quiet,
    /// Default.
    Normal,
    /// `-v` or more.
    Verbose,
}

/// Writes status lines to stderr and data to stdout.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    verbosity: Verbosity,
    color: bool,
}

impl Printer {
    /// A printer for this verbosity; colour when stderr is a terminal and `NO_COLOR` is unset.
    #[must_use]
    pub fn new(verbosity: Verbosity) -> Self {
        use std::io::IsTerminal;
        let color = EnvVars::get(EnvVars::NO_COLOR).is_none() && std::io::stderr().is_terminal();
        Self { verbosity, color }
    }

    /// Whether colour escapes may be used on stderr.
    #[must_use]
    pub const fn color(&self) -> bool {
        self.color
    }

    /// Whether `-q` suppresses status output.
    #[must_use]
    pub fn quiet(&self) -> bool {
        self.verbosity == Verbosity::Quiet
    }

    /// A status line on stderr (suppressed by `-q`).
    pub fn status(&self, message: &str) {
        if self.verbosity != Verbosity::Quiet {
            let _ = writeln!(std::io::stderr().lock(), "{message}");
        }
    }

    /// A warning the user should act on (always shown).
    pub fn warn(&self, message: &str) {
        let prefix = if self.color {
            "\x1b[1;33mwarning\x1b[0m"
        } else {
            "warning"
        };
        let _ = writeln!(std::io::stderr().lock(), "{prefix}: {message}");
    }

    /// Data on stdout.
    pub fn data(&self, text: &str) {
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }
}
