//! What every Python lockfile reader yields: hash-pinned [`Requirement`]s, or a
//! [`RequirementsError`] naming the file and line. A leaf, so the readers
//! (`requirements.txt` in [`super::restore`], [`super::lock`], [`super::poetry_lock`]) and
//! the restore that dispatches to them do not import each other in a cycle.

use crate::cas::Digest;

/// A pinned requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// Project name as written.
    pub name: String,
    /// The pinned version.
    pub version: String,
    /// Allowed file digests.
    pub hashes: Vec<Digest>,
    /// The environment marker (`python_full_version < '3.12'`), when it has one.
    pub marker: Option<String>,
    /// `file:line` for messages.
    pub origin: String,
}

/// A requirements file lading cannot use.
#[derive(Debug, thiserror::Error)]
#[error("`{origin}`: {message}")]
pub struct RequirementsError {
    /// `file:line`.
    pub origin: String,
    /// What is wrong.
    pub message: String,
}
