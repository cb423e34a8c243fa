//! Generic packages: a zip or tar.gz of selected files, named `<name>-<version>.<ext>`.

pub mod publish;
pub mod serve;

use std::path::Path;

use crate::archive::{ArchiveError, Entry, SelectedFile, SourceDate, sort_entries};
use crate::ecosystem::{Packed, PackedContents, PackedFile, file_stem};

/// The container of a generic package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenericFormat {
    /// `.zip`, deflated.
    Zip,
    /// `.tar.gz`.
    TarGz,
}

impl GenericFormat {
    /// The file extension, without the dot.
    #[must_use]
    pub const fn extension(self) -> &'static str {
        match self {
            Self::Zip => "zip",
            Self::TarGz => "tar.gz",
        }
    }
}

/// Why a generic package name is refused.
#[derive(Debug, thiserror::Error)]
pub enum GenericPackError {
    /// Name or version would not make a plain file name.
    #[error(
        "`{value}` is not a valid generic package {what}: use letters, digits, `.`, `_`, `-` and `+`"
    )]
    InvalidName {
        /// `name` or `version`.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// The archive file could not be written.
    #[error("failed to write `{path}`")]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Writing the archive failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

fn check_part(what: &'static str, value: &str) -> Result<(), GenericPackError> {
    let valid = !value.is_empty()
        && !value.starts_with('.')
        && value.chars().all(|character| {
            character.is_ascii_alphanumeric() || matches!(character, '.' | '_' | '-' | '+')
        });
    if valid {
        Ok(())
    } else {
        Err(GenericPackError::InvalidName {
            what,
            value: value.to_owned(),
        })
    }
}

/// Pack `files` into one archive, written as `<name>-<version>.<ext>` in `dir` (the archive
/// of a big build may not fit in memory).
///
/// # Errors
/// [`GenericPackError`].
pub fn pack(
    name: &str,
    version: &str,
    format: GenericFormat,
    files: &[SelectedFile],
    date: SourceDate,
    dir: &Path,
) -> Result<Packed, GenericPackError> {
    check_part("name", name)?;
    check_part("version", version)?;
    let mut entries: Vec<Entry> = files
        .iter()
        .map(|file| Entry::file(file.relative.clone(), file.path.clone(), file.executable))
        .collect();
    sort_entries(&mut entries);
    let stem = file_stem(name, version);
    let file_name = format!("{stem}.{}", format.extension());
    let path = dir.join(&file_name);
    let write_error = |source| GenericPackError::Write {
        path: path.clone(),
        source,
    };
    let file = fs_err::File::create(&path).map_err(write_error)?;
    let out = std::io::BufWriter::with_capacity(1 << 20, file);
    let out = match format {
        GenericFormat::Zip => crate::archive::write_zip(&entries, date, out)?,
        GenericFormat::TarGz => crate::archive::write_tar_gz(&entries, date, out)?,
    };
    out.into_inner()
        .map_err(std::io::IntoInnerError::into_error)
        .and_then(|file| file.sync_all())
        .map_err(write_error)?;
    Ok(Packed {
        name: name.to_owned(),
        version: version.to_owned(),
        files: vec![PackedFile {
            file_name,
            contents: PackedContents::File(path),
            purl: Some(format!("pkg:generic/{name}@{version}")),
        }],
        stem,
    })
}

/// The Generic format's implementation: its capabilities (see [`crate::ecosystem::registry`]).
#[derive(Debug, Clone, Copy)]
pub struct Generic;

impl crate::ecosystem::capabilities::Ecosystem for Generic {
    fn format(&self) -> crate::format::Format {
        crate::format::Format::Generic
    }

    fn pack(&self) -> Option<&dyn crate::ecosystem::pack::Pack> {
        Some(self)
    }

    fn publish(&self) -> Option<&dyn crate::ecosystem::publish::Publish> {
        Some(self)
    }

    fn data_plane(&self) -> Option<&'static dyn crate::server::data_plane::DataPlane> {
        Some(&serve::GenericDataPlane)
    }
}

impl crate::ecosystem::pack::Pack for Generic {
    fn pack(&self, request: &crate::ecosystem::pack::PackRequest<'_>) -> anyhow::Result<Packed> {
        use crate::format::PackFormat;
        let archive = match request.format {
            PackFormat::Zip => GenericFormat::Zip,
            PackFormat::TarGz => GenericFormat::TarGz,
            PackFormat::Package(_) => anyhow::bail!(crate::diagnostics::HintedError::new(
                "generic assets are packed as an archive",
                "pass `--format zip` or `--format tar.gz`"
            )),
        };
        let name = request.required(request.name, "name")?;
        let version = request.required(request.version, "version")?;
        let files = crate::ecosystem::pack::select_or_default(
            request.base,
            request.patterns,
            &[],
            request.allow_empty,
        )?;
        Ok(pack(
            &name,
            &version,
            archive,
            &files,
            request.date,
            request.staging,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::SourceDateOrigin;

    #[test]
    fn names_and_versions_cannot_be_paths() {
        let date = SourceDate {
            epoch: crate::archive::writer::ZIP_EPOCH,
            origin: SourceDateOrigin::Fallback,
        };
        let dir = tempfile::tempdir().unwrap();
        for (name, version) in [
            ("../x", "1.0.0"),
            ("a/b", "1.0.0"),
            (".hidden", "1.0.0"),
            ("..", "1.0.0"),
            ("a", "../1"),
            ("a", "1/0"),
            ("a", ""),
            ("a\\b", "1"),
        ] {
            assert!(
                matches!(
                    pack(name, version, GenericFormat::Zip, &[], date, dir.path()),
                    Err(GenericPackError::InvalidName { .. })
                ),
                "{name} {version}"
            );
        }
        let packed = pack("a", "1.0.0", GenericFormat::TarGz, &[], date, dir.path()).unwrap();
        assert!(!packed.files[0].file_name.contains('/'));
    }
}
