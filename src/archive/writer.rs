//! Reproducible zip and tar.gz writers.
//!
//! Callers hand over entries in the order they want (usually sorted by name; a jar puts its
//! manifest first); every entry gets the same timestamp, mode `0644` or `0755`, owner `0:0`
//! and no user or group name. Directory entries are not written: no consumer we target needs
//! them, and they would only add machine-dependent metadata.

use std::collections::BTreeMap;
use std::io::{Read as _, Seek, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError, mpsc};

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
    /// Two entries have the same name.
    #[error("two archive entries are named `{name}`")]
    DuplicateEntry {
        /// The name.
        name: String,
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

    #[cfg(test)]
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

/// Compressed entries at most this big stay in memory until written; bigger ones go to a
/// temp file (`TMPDIR`), so a big input never sits in memory whole.
const SPOOL_IN_MEMORY: usize = 256 << 10;

/// How many entries the workers may run ahead of the one being written: with
/// [`SPOOL_IN_MEMORY`] this bounds the memory held by finished entries waiting for their turn.
const fn window(threads: usize) -> usize {
    let window = threads * 16;
    if window < 32 {
        32
    } else if window > 512 {
        512
    } else {
        window
    }
}

/// How many threads compress: every core, but no more than there are entries.
fn worker_count(entries: usize) -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(entries)
        .max(1)
}

fn zip_options(entry: &Entry, modified: zip::DateTime) -> zip::write::SimpleFileOptions {
    zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(modified)
        .unix_permissions(entry.mode())
}

/// One entry deflated on its own, as a one-entry zip (local header, data, central record).
/// The writer copies its header and data verbatim, which is what writing the entry in place
/// would have produced: deflate output depends only on the bytes and the level.
fn compress_entry(
    entry: &Entry,
    modified: zip::DateTime,
) -> Result<zip::ZipArchive<tempfile::SpooledTempFile>, ArchiveError> {
    let zip_error = |source| ArchiveError::Zip {
        name: entry.name.clone(),
        source,
    };
    let mut writer = zip::ZipWriter::new(tempfile::SpooledTempFile::new(SPOOL_IN_MEMORY));
    writer
        .start_file(entry.name.as_str(), zip_options(entry, modified))
        .map_err(zip_error)?;
    match &entry.source {
        EntrySource::Bytes(bytes) => writer
            .write_all(bytes)
            .map_err(|source| zip_error(zip::result::ZipError::Io(source)))?,
        EntrySource::File(path) => {
            let read_error = |source| ArchiveError::Read {
                path: path.clone(),
                source,
            };
            let mut file = fs_err::File::open(path).map_err(read_error)?;
            let mut buffer = vec![0; 256 << 10];
            loop {
                let read = file.read(&mut buffer).map_err(read_error)?;
                if read == 0 {
                    break;
                }
                writer
                    .write_all(&buffer[..read])
                    .map_err(|source| zip_error(zip::result::ZipError::Io(source)))?;
            }
        }
    }
    let mut spool = writer.finish().map_err(zip_error)?;
    spool
        .seek(std::io::SeekFrom::Start(0))
        .map_err(|source| zip_error(zip::result::ZipError::Io(source)))?;
    zip::ZipArchive::new(spool).map_err(zip_error)
}

/// Wakes every waiting worker when a worker panics, so none waits for an entry that will
/// never be written.
struct StopOnPanic<'a>(&'a AtomicBool, &'a Condvar);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
            self.1.notify_all();
        }
    }
}

/// Write a deflated zip of `entries`, in the order given.
///
/// Entries are deflated on every core (each on its own, as a serial writer would) and
/// written in order, so the bytes are the same whatever the number of cores.
///
/// # Errors
/// [`ArchiveError`] naming the entry or input file.
pub fn write_zip<W: Write + Seek>(
    entries: &[Entry],
    date: SourceDate,
    out: W,
) -> Result<W, ArchiveError> {
    let mut names = std::collections::HashSet::new();
    if let Some(entry) = entries
        .iter()
        .find(|entry| !names.insert(entry.name.as_str()))
    {
        return Err(ArchiveError::DuplicateEntry {
            name: entry.name.clone(),
        });
    }
    let modified = date.zip_time();
    let mut writer = zip::ZipWriter::new(out);
    let threads = worker_count(entries.len());
    let window = window(threads);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let written = (Mutex::new(0_usize), Condvar::new());
    let result = std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::channel();
        for _ in 0..threads {
            let sender = sender.clone();
            let (next, stop, written) = (&next, &stop, &written);
            scope.spawn(move || {
                let _stop_on_panic = StopOnPanic(stop, &written.1);
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= entries.len() {
                        break;
                    }
                    {
                        let (count, turn) = written;
                        let mut count = count.lock().unwrap_or_else(PoisonError::into_inner);
                        while index >= *count + window && !stop.load(Ordering::Relaxed) {
                            count = turn.wait(count).unwrap_or_else(PoisonError::into_inner);
                        }
                    }
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let compressed = compress_entry(&entries[index], modified);
                    if sender.send((index, compressed)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let mut pending = BTreeMap::new();
        let mut next_to_write = 0;
        let outcome = (|| {
            for (index, compressed) in &receiver {
                pending.insert(index, compressed);
                while let Some(compressed) = pending.remove(&next_to_write) {
                    let entry: &Entry = &entries[next_to_write];
                    writer
                        .merge_archive(compressed?)
                        .map_err(|source| ArchiveError::Zip {
                            name: entry.name.clone(),
                            source,
                        })?;
                    next_to_write += 1;
                    let (count, turn) = &written;
                    *count.lock().unwrap_or_else(PoisonError::into_inner) = next_to_write;
                    turn.notify_all();
                }
            }
            Ok(())
        })();
        if outcome.is_err() {
            stop.store(true, Ordering::Relaxed);
            written.1.notify_all();
        }
        outcome
    });
    result?;
    if stop.load(Ordering::Relaxed) {
        return Err(ArchiveError::Zip {
            name: "(a compressing thread failed)".to_owned(),
            source: zip::result::ZipError::Io(std::io::Error::other("worker stopped")),
        });
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
        // Files stream through (a big one is never held whole); the size goes in the header
        // first, so a file that shrinks meanwhile is an error rather than a corrupt archive.
        let (size, mut data): (u64, Box<dyn std::io::Read + '_>) = match &entry.source {
            EntrySource::Bytes(bytes) => (bytes.len() as u64, Box::new(bytes.as_slice())),
            EntrySource::File(path) => {
                let read_error = |source| ArchiveError::Read {
                    path: path.clone(),
                    source,
                };
                let file = fs_err::File::open(path).map_err(read_error)?;
                let size = file.metadata().map_err(read_error)?.len();
                (size, Box::new(ExactLength::new(file, size)))
            }
        };
        let tar_error = |source| ArchiveError::Tar {
            name: entry.name.clone(),
            source,
        };
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(size);
        header.set_mode(entry.mode());
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(u64::try_from(date.epoch).unwrap_or(0));
        header.set_username("").map_err(tar_error)?;
        header.set_groupname("").map_err(tar_error)?;
        builder
            .append_data(&mut header, &entry.name, &mut data)
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

/// Exactly `length` bytes of a file: stops there if it grew, fails if it ends sooner.
struct ExactLength<R> {
    inner: std::io::Take<R>,
    left: u64,
}

impl<R: std::io::Read> ExactLength<R> {
    fn new(inner: R, length: u64) -> Self {
        Self {
            inner: inner.take(length),
            left: length,
        }
    }
}

impl<R: std::io::Read> std::io::Read for ExactLength<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buffer)?;
        if read == 0 && self.left > 0 && !buffer.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file got shorter while it was being packed",
            ));
        }
        self.left -= read as u64;
        Ok(read)
    }
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

    /// The single-threaded writer `write_zip` replaced: every entry written in place.
    fn write_zip_serially(entries: &[Entry], date: SourceDate) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for entry in entries {
            writer
                .start_file(entry.name.as_str(), zip_options(entry, date.zip_time()))
                .unwrap();
            writer.write_all(&entry.read().unwrap()).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn parallel_zip_is_byte_identical_to_the_serial_writer() {
        let temp = tempfile::tempdir().unwrap();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut noise = |length: usize| -> Vec<u8> {
            (0..length)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state.to_le_bytes()[0]
                })
                .collect()
        };
        let text: Vec<u8> = b"export const value = require('./module');\n"
            .iter()
            .copied()
            .cycle()
            .take(3 << 20)
            .collect();
        let mut entries = vec![
            Entry::bytes("empty", Vec::new()),
            Entry::bytes("caf\u{e9}/\u{fc}nicode.txt", b"non-ASCII name".to_vec()),
        ];
        // Bigger than the read buffer and the in-memory spool, compressible and not.
        for (name, bytes) in [("big.js", text), ("big.bin", noise(1 << 20))] {
            let path = temp.path().join(name);
            fs_err::write(&path, &bytes).unwrap();
            entries.push(Entry::file(format!("lib/{name}"), path, false));
        }
        // More entries than the workers may run ahead of the writer.
        for index in 0..600 {
            let mut bytes = format!("class {index} {{}}\n")
                .repeat(index % 50)
                .into_bytes();
            bytes.extend(noise(index % 7 * 100));
            entries.push(Entry {
                name: format!("classes/C{index:04}.class"),
                source: EntrySource::Bytes(bytes),
                executable: index % 3 == 0,
            });
        }
        let parallel = write_zip(&entries, DATE, std::io::Cursor::new(Vec::new()))
            .unwrap()
            .into_inner();
        assert!(parallel == write_zip_serially(&entries, DATE));
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(parallel)).unwrap();
        assert_eq!(archive.len(), entries.len());
        let mut big = Vec::new();
        archive
            .by_name("lib/big.js")
            .unwrap()
            .read_to_end(&mut big)
            .unwrap();
        assert_eq!(big.len(), 3 << 20);
        let empty = write_zip(&[], DATE, std::io::Cursor::new(Vec::new()))
            .unwrap()
            .into_inner();
        assert_eq!(empty, write_zip_serially(&[], DATE));
    }

    #[test]
    fn zip_refuses_duplicate_names_and_names_unreadable_files() {
        let entries = [
            Entry::bytes("a.txt", b"one".to_vec()),
            Entry::bytes("a.txt", b"two".to_vec()),
        ];
        let error = write_zip(&entries, DATE, std::io::Cursor::new(Vec::new())).unwrap_err();
        assert_eq!(error.to_string(), "two archive entries are named `a.txt`");
        let entries = [
            Entry::bytes("a.txt", b"one".to_vec()),
            Entry::file("b.txt", "/nonexistent/lading/b.txt", false),
        ];
        let error = write_zip(&entries, DATE, std::io::Cursor::new(Vec::new())).unwrap_err();
        assert_eq!(
            error.to_string(),
            "failed to read `/nonexistent/lading/b.txt`"
        );
    }

    #[test]
    fn tar_gz_streams_files_to_the_same_bytes() {
        let temp = tempfile::tempdir().unwrap();
        let text = b"line of a build output\n".repeat(20_000);
        let path = temp.path().join("out.txt");
        fs_err::write(&path, &text).unwrap();
        let from_file = write_tar_gz(&[Entry::file("out.txt", &path, false)], DATE, Vec::new());
        let from_bytes = write_tar_gz(&[Entry::bytes("out.txt", text)], DATE, Vec::new());
        assert_eq!(from_file.unwrap(), from_bytes.unwrap());
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
