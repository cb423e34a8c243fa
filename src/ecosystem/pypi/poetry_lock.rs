//! `poetry.lock` read as hash-pinned requirements, restored like `uv.lock` (see
//! [`super::lock`]): the configured index's project page lists the files, and only those
//! whose sha256 the lock pins are downloaded, verified and placed in the wheelhouse.
//!
//! Poetry writes each package as `[[package]]` with `name`, `version`, `files = [{file,
//! hash = "sha256:…"}]` (lock 2.x; lock 1.x kept them in `[metadata.files]`), `markers`
//! (a string, or one per dependency group) and, for a package not from PyPI, a
//! `[package.source]` whose `type` is `legacy` (another index: the configured repository
//! serves it instead, as for npm's `resolved`) or `git`, `directory`, `file`, `url`, which
//! are left to poetry and reported as skipped.

use std::path::Path;

use toml_edit::{Item, Value};

use super::restore::{Requirement, RequirementsError};
use crate::cas::{Algorithm, Digest};

/// The file name poetry writes.
pub const FILE_NAME: &str = "poetry.lock";

/// Parse a `poetry.lock`.
///
/// # Errors
/// TOML syntax errors (with line and column), and index packages without a version or
/// without a sha256, naming the file and line.
pub fn parse(
    path: &Path,
    text: &str,
) -> Result<(Vec<Requirement>, Vec<String>), RequirementsError> {
    let document = toml_edit::Document::parse(text).map_err(|error| RequirementsError {
        origin: path.display().to_string(),
        message: format!("not valid TOML: {error}"),
    })?;
    let Some(packages) = document.get("package") else {
        return Ok((Vec::new(), Vec::new()));
    };
    let packages = packages
        .as_array_of_tables()
        .ok_or_else(|| RequirementsError {
            origin: path.display().to_string(),
            message: "`package` is not an array of tables (`[[package]]`)".to_owned(),
        })?;
    // Lock 1.x: `[metadata.files]`, one array per package name.
    let metadata_files = document
        .get("metadata")
        .and_then(|metadata| metadata.get("files"))
        .and_then(Item::as_table_like);
    let mut requirements = Vec::new();
    let mut notes = Vec::new();
    for package in packages {
        let line = package
            .span()
            .map_or(0, |span| crate::ecosystem::line_at(text, span.start));
        let origin = format!("{}:{line}", path.display());
        let error = |message: String| RequirementsError {
            origin: origin.clone(),
            message,
        };
        let name = package
            .get("name")
            .and_then(Item::as_str)
            .ok_or_else(|| error("a package without a `name`".to_owned()))?
            .to_owned();
        let source_type = package
            .get("source")
            .and_then(|source| source.get("type"))
            .and_then(Item::as_str);
        if let Some(kind) = source_type.filter(|kind| *kind != "legacy") {
            notes.push(format!(
                "{origin}: `{name}` comes from a {kind} source, not an index; poetry installs it"
            ));
            continue;
        }
        let version = package
            .get("version")
            .and_then(Item::as_str)
            .ok_or_else(|| error(format!("`{name}` has no `version`")))?
            .to_owned();
        let files = package
            .get("files")
            .or_else(|| metadata_files.and_then(|files| files.get(&name)))
            .and_then(Item::as_array);
        let mut hashes = Vec::new();
        for file in files.into_iter().flatten() {
            let Some(value) = file
                .as_inline_table()
                .and_then(|file| file.get("hash"))
                .and_then(Value::as_str)
            else {
                continue;
            };
            let digest = value
                .split_once(':')
                .and_then(|(algorithm, hex)| Digest::from_hex(Algorithm::parse(algorithm)?, hex))
                .ok_or_else(|| {
                    error(format!(
                        "`{name}=={version}` has a hash `{value}` that is not `sha256:<hex>`"
                    ))
                })?;
            if !hashes.contains(&digest) {
                hashes.push(digest);
            }
        }
        if hashes.is_empty() {
            return Err(error(format!(
                "`{name}=={version}` lists no file with a hash, so lading cannot verify it"
            )));
        }
        requirements.push(Requirement {
            name,
            version,
            hashes,
            marker: markers(package.get("markers")),
            origin,
        });
    }
    Ok((requirements, notes))
}

/// `markers`: one string, or one per dependency group (the package is needed when any
/// holds).
fn markers(item: Option<&Item>) -> Option<String> {
    let item = item?;
    if let Some(marker) = item.as_str() {
        return Some(marker.to_owned());
    }
    let markers: Vec<&str> = item
        .as_table_like()?
        .iter()
        .filter_map(|(_, marker)| marker.as_str())
        .collect();
    match markers.as_slice() {
        [] => None,
        [one] => Some((*one).to_owned()),
        many => Some(
            many.iter()
                .map(|marker| format!("({marker})"))
                .collect::<Vec<_>>()
                .join(" or "),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIX: &str = "8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254";
    const SIX_SDIST: &str = "1e61c37477a1626458e36f7b1d82aa5c9b094fa4802892072e49de9c60c4c926";

    #[test]
    fn packages_become_requirements_with_markers_and_other_sources_are_skipped() {
        // As poetry 2.5.1 wrote it (lock 2.1), plus a git and a legacy-index package.
        let text = format!(
            r#"# This file is automatically @generated by Poetry 2.5.1 and should not be changed by hand.

[[package]]
name = "six"
version = "1.16.0"
description = "Python 2 and 3 compatibility utilities"
optional = false
python-versions = ">=2.7, !=3.0.*, !=3.1.*, !=3.2.*"
groups = ["main"]
markers = "python_version < \"3.11\""
files = [
    {{file = "six-1.16.0-py2.py3-none-any.whl", hash = "sha256:{SIX}"}},
    {{file = "six-1.16.0.tar.gz", hash = "sha256:{SIX_SDIST}"}},
]

[[package]]
name = "tool"
version = "1.0.0"
description = ""
optional = false
python-versions = "*"
groups = ["main"]
files = []

[package.source]
type = "git"
url = "https://example.com/tool.git"
reference = "HEAD"
resolved_reference = "abc"

[[package]]
name = "internal"
version = "2.0"
description = ""
optional = false
python-versions = "*"
groups = ["main", "dev"]
markers = {{main = "sys_platform == \"linux\"", dev = "python_version >= \"3.9\""}}
files = [
    {{file = "internal-2.0-py3-none-any.whl", hash = "sha256:{SIX}"}},
]

[package.source]
type = "legacy"
url = "https://pypi.example.com/simple"
reference = "internal"

[metadata]
lock-version = "2.1"
python-versions = ">=3.9"
content-hash = "0"
"#
        );
        let (requirements, notes) = parse(Path::new("poetry.lock"), &text).unwrap();
        let found: Vec<_> = requirements
            .iter()
            .map(|requirement| {
                (
                    requirement.name.as_str(),
                    requirement.version.as_str(),
                    requirement.hashes.len(),
                    requirement.marker.as_deref(),
                    requirement.origin.as_str(),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                (
                    "six",
                    "1.16.0",
                    2,
                    Some("python_version < \"3.11\""),
                    "poetry.lock:3"
                ),
                (
                    "internal",
                    "2.0",
                    1,
                    Some("(sys_platform == \"linux\") or (python_version >= \"3.9\")"),
                    "poetry.lock:31"
                ),
            ]
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains("`tool` comes from a git source"),
            "{notes:?}"
        );
    }

    #[test]
    fn lock_1_files_are_read_from_metadata_and_a_package_without_hashes_is_refused() {
        let text = format!(
            r#"[[package]]
name = "six"
version = "1.16.0"
description = ""
category = "main"
optional = false
python-versions = "*"

[metadata]
lock-version = "1.1"
python-versions = "^3.8"
content-hash = "0"

[metadata.files]
six = [
    {{file = "six-1.16.0-py2.py3-none-any.whl", hash = "sha256:{SIX}"}},
]
"#
        );
        let (requirements, _) = parse(Path::new("poetry.lock"), &text).unwrap();
        assert_eq!(requirements.len(), 1);
        assert_eq!(requirements[0].hashes[0].hex(), SIX);
        let without = text.replace(&format!("sha256:{SIX}"), "");
        let error = parse(Path::new("poetry.lock"), &without).unwrap_err();
        assert!(error.to_string().contains("poetry.lock:1"), "{error}");
    }
}
