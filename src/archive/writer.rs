//! Reproducible zip and tar.gz writers.
//!
//! Callers hand over entries in the order they want (usually sorted by name; a jar puts its
//! manifest first); every entry gets the same timestamp, mode `0644` or `0755`, owner `0:0`
//! and no user or group name. Directory entries are not written: no consumer we target needs
//! them, and they would only add machine-dependent metadata.

use std::io::{Read as _, Seek, Write};
use std::path::PathBuf;

use crate::env_vars::EnvVars;

/// Why an archive could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// An input file could not be read.
    #[error("failed to read `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The zip writer failed.
    #[error("failed to write zip entry `{name}`")]
    Zip {
        /// Entry name.
        name: String,
        /// Cause.
        #[source]
        source: zip::result::ZipError,
    },
    /// The tar writer failed.
    #[error("failed to write tar entry `{name}`")]
    Tar {
        /// Entry name.
        name: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// `SOURCE_DATE_EPOCH` is not a non-negative integer.
    #[error("`SOURCE_DATE_EPOCH` is `{value}`, not a number of seconds since 1970")]
    BadSourceDateEpoch {
        /// The value.
        value: String,
    },
}

/// Where an entry's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntrySource {
    /// A file on disk.
    File(PathBuf),
    /// Bytes built in memory (a manifest, a rewritten `package.json`).
    Bytes(Vec<u8>),
}

/// One archive member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `/`-separated name inside the archive.
    pub name: String,
    /// Its content.
    pub source: EntrySource,
    /// Mode `0755` instead of `0644`.
    pub executable: bool,
}

impl Entry {
    /// An entry read from a file.
    #[must_use]
    pub fn file(name: impl Into<String>, path: impl Into<PathBuf>, executable: bool) -> Self {
        Self {
            name: name.into(),
            source: EntrySource::File(path.into()),
            executable,
        }
    }

    /// An entry from bytes, mode `0644`.
    #[must_use]
    pub fn bytes(name: impl Into<String>, bytes: Vec<u8>) -> Self {
        Self {
            name: name.into(),
            source: EntrySource::Bytes(bytes),
            executable: false,
        }
    }

    /// `0755` or `0644`.
    #[must_use]
    pub const fn mode(&self) -> u32 {
        if self.executable { 0o755 } else { 0o644 }
    }

    fn read(&self) -> Result<Vec<u8>, ArchiveError> {
        match &self.source {
            EntrySource::Bytes(bytes) => Ok(bytes.clone()),
            EntrySource::File(path) => {
                let mut bytes = Vec::new();
                fs_err::File::open(path)
                    .and_then(|mut file| file.read_to_end(&mut bytes))
                    .map_err(|source| ArchiveError::Read {
                        path: path.clone(),
                        source,
                    })?;
                Ok(bytes)
            }
        }
    }
}

/// Where the fixed timestamp came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceDateOrigin {
    /// The `SOURCE_DATE_EPOCH` environment variable.
    SourceDateEpoch,
    /// `git log -1 --format=%ct` in the base directory.
    GitCommit,
    /// Neither was available: 1980-01-01T00:00:00Z, the earliest time a zip can record.
    Fallback,
}

/// The one timestamp every entry carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SourceDate {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub epoch: i64,
    /// Where it came from.
    pub origin: SourceDateOrigin,
}

/// 1980-01-01T00:00:00Z: zip (DOS) timestamps cannot go earlier.
pub const ZIP_EPOCH: i64 = 315_532_800;

impl SourceDate {
    /// `SOURCE_DATE_EPOCH`, else the commit time of `HEAD` in `dir`, else [`ZIP_EPOCH`].
    ///
    /// # Errors
    /// [`ArchiveError::BadSourceDateEpoch`] when the variable is set but not a number.
    pub fn resolve(dir: &std::path::Path) -> Result<Self, ArchiveError> {
        if let Some(value) = EnvVars::get(EnvVars::SOURCE_DATE_EPOCH) {
            let epoch = value
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|epoch| *epoch >= 0)
                .ok_or(ArchiveError::BadSourceDateEpoch { value })?;
            return Ok(Self {
                epoch,
                origin: SourceDateOrigin::SourceDateEpoch,
            });
        }
        let commit_time = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["log", "-1", "--format=%ct"])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|output| output.status.success())
            .and_then(|output| String::from_utf8(output.stdout).ok())
            .and_then(|text| text.trim().parse::<i64>().ok());
        Ok(match commit_time {
            Some(epoch) => Self {
                epoch,
                origin: SourceDateOrigin::GitCommit,
            },
            None => Self {
                epoch: ZIP_EPOCH,
                origin: SourceDateOrigin::Fallback,
            },
        })
    }

    fn zip_time(self) -> zip::DateTime {
        let clamped = self.epoch.max(ZIP_EPOCH);
        time::OffsetDateTime::from_unix_timestamp(clamped)
            .ok()
            .and_then(|moment| {
                zip::DateTime::from_date_and_time(
                    u16::try_from(moment.year()).ok()?,
                    u8::from(moment.month()),
                    moment.day(),
                    moment.hour(),
                    moment.minute(),
                    moment.second(),
                )
                .ok()
            })
            .unwrap_or_default()
    }
}

/// Write a deflated zip of `entries`, in the order given.
///
/// # Errors
/// [`ArchiveError`] naming the entry or input file.
pub fn write_zip<W: Write + Seek>(
    entries: &[Entry],
    date: SourceDate,
    out: W,
) -> Result<W, ArchiveError> {
    let mut writer = zip::ZipWriter::new(out);
    let modified = date.zip_time();
    for entry in entries {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(modified)
            .unix_permissions(entry.mode());
        let bytes = entry.read()?;
        let zip_error = |source| ArchiveError::Zip {
            name: entry.name.clone(),
            source,
        };
        writer
            .start_file(entry.name.as_str(), options)
            .map_err(zip_error)?;
        writer
            .write_all(&bytes)
            .map_err(|source| zip_error(zip::result::ZipError::Io(source)))?;
    }
    writer.finish().map_err(|source| ArchiveError::Zip {
        name: "(central directory)".to_owned(),
        source,
    })
}

/// Write a gzip-compressed tar of `entries`, in the order given.
///
/// # Errors
/// [`ArchiveError`] naming the entry or input file.
pub fn write_tar_gz<W: Write>(
    entries: &[Entry],
    date: SourceDate,
    out: W,
) -> Result<W, ArchiveError> {
    // The gzip header carries a timestamp and an OS byte; pin both.
    let encoder = flate2::GzBuilder::new()
        .mtime(u32::try_from(date.epoch).unwrap_or(0))
        .operating_system(255)
        .write(out, flate2::Compression::default());
    let mut builder = tar::Builder::new(encoder);
    builder.mode(tar::HeaderMode::Deterministic);
    for entry in entries {
        let bytes = entry.read()?;
        let tar_error = |source| ArchiveError::Tar {
            name: entry.name.clone(),
            source,
        };
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(bytes.len() as u64);
        header.set_mode(entry.mode());
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(u64::try_from(date.epoch).unwrap_or(0));
        header.set_username("").map_err(tar_error)?;
        header.set_groupname("").map_err(tar_error)?;
        builder
            .append_data(&mut header, &entry.name, bytes.as_slice())
            .map_err(tar_error)?;
    }
    let encoder = builder.into_inner().map_err(|source| ArchiveError::Tar {
        name: "(end of archive)".to_owned(),
        source,
    })?;
    encoder.finish().map_err(|source| ArchiveError::Tar {
        name: "(gzip trailer)".to_owned(),
        source,
    })
}

/// Sort entries by name (byte order), the default for reproducible archives.
pub fn sort_entries(entries: &mut [Entry]) {
    entries.sort_by(|left, right| left.name.cmp(&right.name));
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: SourceDate = SourceDate {
        epoch: 1_700_000_000,
        origin: SourceDateOrigin::SourceDateEpoch,
    };

    fn entries() -> Vec<Entry> {
        vec![
            Entry::bytes("a.txt", b"alpha".to_vec()),
            Entry {
                name: "bin/run".to_owned(),
                source: EntrySource::Bytes(b"#!/bin/sh\n".to_vec()),
                executable: true,
            },
        ]
    }

    #[test]
    fn zip_is_byte_identical_and_normalised() {
        let first = write_zip(&entries(), DATE, std::io::Cursor::new(Vec::new()))
            .unwrap()
            .into_inner();
        let second = write_zip(&entries(), DATE, std::io::Cursor::new(Vec::new()))
            .unwrap()
            .into_inner();
        assert_eq!(first, second);
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(first)).unwrap();
        let run = archive.by_name("bin/run").unwrap();
        assert_eq!(run.unix_mode(), Some(0o100_755));
    }

    #[test]
    fn tar_gz_is_byte_identical_with_root_owner() {
        let first = write_tar_gz(&entries(), DATE, Vec::new()).unwrap();
        assert_eq!(first, write_tar_gz(&entries(), DATE, Vec::new()).unwrap());
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(first.as_slice()));
        let headers: Vec<(String, u32, u64, u64)> = archive
            .entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let header = entry.header();
                (
                    entry.path().unwrap().display().to_string(),
                    header.mode().unwrap(),
                    header.uid().unwrap(),
                    header.mtime().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            headers,
            [
                ("a.txt".to_owned(), 0o644, 0, 1_700_000_000),
                ("bin/run".to_owned(), 0o755, 0, 1_700_000_000)
            ]
        );
    }
}
