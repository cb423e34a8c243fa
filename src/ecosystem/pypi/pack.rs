//! PyPI "packing": prebuilt wheels and sdists are published as they are, after checking that
//! the metadata inside (`*.dist-info/METADATA`, `PKG-INFO`) names the same project and version
//! as the file name, and as `--name`/`--version` when given. A mismatch would publish a file
//! pip later refuses to install.

use std::io::Read as _;
use std::path::PathBuf;

use super::{DistributionFile, InvalidFileName, normalize_name, versions_match};
use crate::archive::SelectedFile;
use crate::ecosystem::{Packed, PackedContents, PackedFile};

/// Largest metadata file read.
const MAX_METADATA_BYTES: u64 = 4 * 1024 * 1024;

/// Why a distribution was refused.
#[derive(Debug, thiserror::Error)]
pub enum PypiPackError {
    /// The file name is not a distribution name.
    #[error(transparent)]
    FileName(#[from] InvalidFileName),
    /// The file could not be read.
    #[error("failed to read `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The archive has no readable metadata.
    #[error("`{file}` has no readable {what}: {message}")]
    NoMetadata {
        /// The file.
        file: String,
        /// `METADATA` or `PKG-INFO`.
        what: &'static str,
        /// Why.
        message: String,
    },
    /// Metadata and file name (or the command line) disagree.
    #[error("`{file}`: its metadata says `{found}`, but {against} says `{expected}`")]
    Mismatch {
        /// The file.
        file: String,
        /// From the metadata.
        found: String,
        /// From the file name or the command line.
        expected: String,
        /// `the file name` or `--name/--version`.
        against: &'static str,
    },
    /// Files of several projects or versions in one pack.
    #[error(
        "all files of one pack must belong to one project version; `{file}` is `{found}`, others are `{expected}`"
    )]
    Mixed {
        /// The file.
        file: String,
        /// Its project version.
        found: String,
        /// The first file's.
        expected: String,
    },
    /// Nothing selected.
    #[error("no wheel or sdist selected")]
    Empty,
}

/// `Name` and `Version` from core metadata (RFC 822 headers).
fn name_and_version(text: &str) -> Option<(String, String)> {
    let mut name = None;
    let mut version = None;
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if let Some(value) = line.strip_prefix("Name:") {
            name = Some(value.trim().to_owned());
        } else if let Some(value) = line.strip_prefix("Version:") {
            version = Some(value.trim().to_owned());
        }
    }
    Some((name?, version?))
}

fn read_capped(reader: impl std::io::Read) -> std::io::Result<String> {
    let mut text = String::new();
    reader.take(MAX_METADATA_BYTES).read_to_string(&mut text)?;
    Ok(text)
}

fn zip_metadata(bytes: &[u8], is_wheel: bool) -> Result<String, String> {
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|error| error.to_string())?;
    let wanted = archive
        .file_names()
        .find(|name| {
            let parts: Vec<&str> = name.split('/').collect();
            if is_wheel {
                parts.len() == 2 && parts[0].ends_with(".dist-info") && parts[1] == "METADATA"
            } else {
                parts.len() == 2 && parts[1] == "PKG-INFO"
            }
        })
        .map(ToOwned::to_owned)
        .ok_or("not found")?;
    let entry = archive
        .by_name(&wanted)
        .map_err(|error| error.to_string())?;
    read_capped(entry).map_err(|error| error.to_string())
}

fn tar_metadata(bytes: &[u8]) -> Result<String, String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    for entry in archive.entries().map_err(|error| error.to_string())? {
        let entry = entry.map_err(|error| error.to_string())?;
        let path = entry
            .path()
            .map_err(|error| error.to_string())?
            .to_string_lossy()
            .into_owned();
        let parts: Vec<&str> = path.trim_start_matches("./").split('/').collect();
        if parts.len() == 2 && parts[1] == "PKG-INFO" {
            return read_capped(entry).map_err(|error| error.to_string());
        }
    }
    Err("not found".to_owned())
}

/// The core metadata (`METADATA` / `PKG-INFO`) of a wheel or sdist.
///
/// # Errors
/// A message when the file has none.
pub fn core_metadata(file_name: &str, bytes: &[u8]) -> Result<String, String> {
    let extension = std::path::Path::new(file_name).extension();
    if extension.is_some_and(|extension| extension.eq_ignore_ascii_case("whl")) {
        zip_metadata(bytes, true)
    } else if extension.is_some_and(|extension| extension.eq_ignore_ascii_case("zip")) {
        zip_metadata(bytes, false)
    } else {
        tar_metadata(bytes)
    }
}

/// Check and pass through the selected distributions.
///
/// # Errors
/// [`PypiPackError`].
pub fn pass_through(
    files: &[SelectedFile],
    expected_name: Option<&str>,
    expected_version: Option<&str>,
) -> Result<Packed, PypiPackError> {
    let mut project: Option<(String, String)> = None;
    let mut packed = Vec::new();
    for file in files {
        let file_name = file
            .relative
            .rsplit('/')
            .next()
            .unwrap_or(&file.relative)
            .to_owned();
        let distribution = DistributionFile::parse(&file_name)?;
        let bytes = fs_err::read(&file.path).map_err(|source| PypiPackError::Read {
            path: file.path.clone(),
            source,
        })?;
        let is_wheel = matches!(distribution, DistributionFile::Wheel { .. });
        let (what, metadata) = if is_wheel {
            ("METADATA", zip_metadata(&bytes, true))
        } else if std::path::Path::new(&file_name)
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("zip"))
        {
            ("PKG-INFO", zip_metadata(&bytes, false))
        } else {
            ("PKG-INFO", tar_metadata(&bytes))
        };
        let metadata = metadata.map_err(|message| PypiPackError::NoMetadata {
            file: file_name.clone(),
            what,
            message,
        })?;
        let (name, version) =
            name_and_version(&metadata).ok_or_else(|| PypiPackError::NoMetadata {
                file: file_name.clone(),
                what,
                message: "no `Name:` and `Version:` headers".to_owned(),
            })?;
        if !distribution.matches(&name, &version) {
            return Err(PypiPackError::Mismatch {
                file: file_name,
                found: format!("{name} {version}"),
                expected: file.relative.clone(),
                against: "the file name",
            });
        }
        if expected_name.is_some_and(|expected| normalize_name(expected) != normalize_name(&name))
            || expected_version.is_some_and(|expected| !versions_match(expected, &version))
        {
            return Err(PypiPackError::Mismatch {
                file: file_name,
                found: format!("{name} {version}"),
                expected: format!(
                    "{} {}",
                    expected_name.unwrap_or(&name),
                    expected_version.unwrap_or(&version)
                ),
                against: "--name/--version",
            });
        }
        match &project {
            Some((first_name, first_version))
                if normalize_name(first_name) != normalize_name(&name)
                    || !versions_match(first_version, &version) =>
            {
                return Err(PypiPackError::Mixed {
                    file: file_name,
                    found: format!("{name} {version}"),
                    expected: format!("{first_name} {first_version}"),
                });
            }
            Some(_) => {}
            None => project = Some((name.clone(), version.clone())),
        }
        packed.push(PackedFile {
            purl: Some(format!(
                "pkg:pypi/{}@{version}?filename={file_name}",
                normalize_name(&name)
            )),
            file_name,
            contents: PackedContents::Bytes(bytes),
        });
    }
    let (name, version) = project.ok_or(PypiPackError::Empty)?;
    packed.sort_by(|left, right| left.file_name.cmp(&right.file_name));
    Ok(Packed {
        stem: format!("{}-{version}", normalize_name(&name).replace('-', "_")),
        name,
        version,
        files: packed,
    })
}

impl crate::ecosystem::pack::Pack for super::Pypi {
    fn pack(&self, request: &crate::ecosystem::pack::PackRequest<'_>) -> anyhow::Result<Packed> {
        use anyhow::Context as _;
        let files = crate::ecosystem::pack::select_or_default(
            request.base,
            request.patterns,
            &["*.whl", "*.tar.gz"],
            request.allow_empty,
        )?;
        pass_through(&files, request.name, request.version)
            .context("failed to check the Python distributions")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_metadata_headers() {
        assert_eq!(
            name_and_version("Metadata-Version: 2.1\nName: Demo.Pkg\nVersion: 1.0\n\nName: body\n"),
            Some(("Demo.Pkg".to_owned(), "1.0".to_owned()))
        );
        assert_eq!(name_and_version("Name: x\n"), None);
    }
}
