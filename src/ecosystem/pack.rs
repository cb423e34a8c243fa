//! What packing means, for every format: the [`Pack`] capability `lading pack` asks the
//! format of `--format` for, and the [`PackRequest`] it is given (the selection, the
//! name and version, the source date, the staging directory, the per-format inputs). A leaf
//! below the formats, like [`super::configure`]: `commands/pack.rs` hashes, attests and
//! writes what a packer returns, and names no format.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::archive::{SelectedFile, SourceDate, select};
use crate::diagnostics::HintedError;
use crate::ecosystem::Packed;
use crate::format::PackFormat;

/// A format's pack capability.
pub trait Pack: Sync {
    /// Build the package `request` describes.
    ///
    /// # Errors
    /// Bad inputs (selection, manifests, names) and I/O failures.
    fn pack(&self, request: &PackRequest<'_>) -> anyhow::Result<Packed>;

    /// The lockfile whose dependencies go into the provenance when `--lockfile` names none
    /// (npm: `package-lock.json` in the package directory).
    fn default_lockfile(&self, base: &Path) -> Option<PathBuf> {
        let _ = base;
        None
    }
}

/// What `lading pack` asks a packer for.
#[derive(Debug, Clone, Copy)]
pub struct PackRequest<'a> {
    /// `--format` as given (generic: `zip` or `tar.gz`).
    pub format: PackFormat,
    /// `--base`: the build outputs (for npm: the package directory).
    pub base: &'a Path,
    /// Globs relative to `base`; `!glob` excludes.
    pub patterns: &'a [String],
    /// `--allow-empty`.
    pub allow_empty: bool,
    /// `--name`, rendered.
    pub name: Option<&'a str>,
    /// `--version`, rendered.
    pub version: Option<&'a str>,
    /// The source date every timestamp in the package gets.
    pub date: SourceDate,
    /// Where a packer writes files too big for memory (renamed into `--out` afterwards).
    pub staging: &'a Path,
    /// nuget: `--nuspec`.
    pub nuspec: Option<&'a Path>,
    /// maven: `--pom`.
    pub pom: Option<&'a Path>,
    /// maven: `--sources`.
    pub sources: Option<&'a Path>,
    /// maven: `--javadoc`.
    pub javadoc: Option<&'a Path>,
}

impl PackRequest<'_> {
    /// `value` (`--name`, `--version`), or the error saying `--format` needs `--flag`.
    ///
    /// # Errors
    /// When `value` is `None`.
    pub fn required(&self, value: Option<&str>, flag: &str) -> anyhow::Result<String> {
        value.map(ToOwned::to_owned).ok_or_else(|| {
            anyhow::Error::new(HintedError::new(
                format!("`--format {}` needs `--{flag}`", self.format.name()),
                format!("pass `--{flag}` (it may be a template such as `{{{{ ci.ref_name }}}}`)"),
            ))
        })
    }
}

/// The files `patterns` select under `base`; when every pattern excludes (or there is
/// none), `default` first.
///
/// # Errors
/// A bad pattern, an empty selection without `allow_empty`, or an unreadable directory.
pub fn select_or_default(
    base: &Path,
    patterns: &[String],
    default: &[&str],
    allow_empty: bool,
) -> anyhow::Result<Vec<SelectedFile>> {
    let patterns: Vec<String> = if patterns.iter().any(|pattern| !pattern.starts_with('!')) {
        patterns.to_vec()
    } else {
        default
            .iter()
            .map(|pattern| (*pattern).to_owned())
            .chain(patterns.iter().cloned())
            .collect()
    };
    select(base, &patterns, allow_empty)
        .with_context(|| format!("failed to select files under `{}`", base.display()))
}
