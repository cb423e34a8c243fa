//! One module per package format, owning everything format-specific. The server shares the
//! parsers here (package names, manifests); client code (config editors, cache writers)
//! joins them as the commands that need it land.

pub mod capabilities;
pub mod cargo;
pub mod configure;
pub mod doctor;
pub mod edit;
pub mod generic;
pub mod maven;
pub mod npm;
pub mod nuget;
pub mod pack;
pub mod publish;
pub mod pypi;
pub mod registry;
pub mod restore;
pub mod ruby;
pub mod swift;

/// Finds this module's errors, and its children's, in an error chain (see
/// [`crate::diagnostics::Probe`]).
pub fn diagnostic(
    error: &crate::diagnostics::Cause,
) -> Option<&dyn crate::diagnostics::Diagnostic> {
    registry::diagnostic(error)
}

/// The 1-based line of byte `offset` in `text` (for `file:line` in messages about a parsed
/// document's element, from its span).
#[must_use]
pub fn line_at(text: &str, offset: usize) -> usize {
    let end = (0..=offset.min(text.len()))
        .rev()
        .find(|at| text.is_char_boundary(*at))
        .unwrap_or(0);
    text[..end].matches('\n').count() + 1
}

/// One file a packer produced, not yet written anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedFile {
    /// File name in the output directory.
    pub file_name: String,
    /// The bytes, or where they were written.
    pub contents: PackedContents,
    /// Package URL naming it in provenance (`pkg:npm/%40acme/tool@1.2.3`), when the format
    /// has one for this file.
    pub purl: Option<String>,
}

/// Where a packed file's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackedContents {
    /// In memory (manifests, poms, packages small enough to build in memory).
    Bytes(Vec<u8>),
    /// Already written to this file, in the staging directory `lading pack` gave the packer
    /// (an archive of build outputs, which may be bigger than memory).
    File(std::path::PathBuf),
}

/// What a packer produced: the package identity and its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    /// Package name as the repository knows it.
    pub name: String,
    /// Version.
    pub version: String,
    /// File-name stem for the provenance and manifest (`acme-tool-1.2.3`).
    pub stem: String,
    /// The files, main artifact first.
    pub files: Vec<PackedFile>,
}

/// A file-name-safe stem: `@acme/tool` + `1.2.3` → `acme-tool-1.2.3`.
#[must_use]
pub fn file_stem(name: &str, version: &str) -> String {
    let name: String = name
        .trim_start_matches('@')
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || matches!(character, '.' | '_' | '-' | '+') {
                character
            } else {
                '-'
            }
        })
        .collect();
    format!("{name}-{version}")
}
pub mod xml_edit;
