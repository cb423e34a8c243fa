//! The unpacked-package store: each verified tarball unpacked once, as pacote unpacks it
//! for `npm ci`, into `npm-unpacked-v1/<algorithm>-<hex>/package/` beside `index.json`
//! (every directory and file with its mode), from where installs link or copy the files.
//!
//! What pacote does, and so what this does (pacote `lib/fetcher.js` `#tarxOptions`,
//! `#entryMode`; node-tar `Unpack`): the first path component is stripped; symlinks and
//! hard links in the tarball are dropped; so are directory entries (pacote's filter lets
//! only files through; directories exist as parents of files, mode `0o777` less the
//! umask); paths with `..` are skipped and leading `/` removed; a file's mode is
//! `(mode | 0o666) | 0o600` less the umask; a `.gitignore` becomes `.npmignore` unless an
//! `.npmignore` came before it; a later entry for the same path replaces an earlier one.
//! Bins are left as the tarball has them: which files npm makes executable depends on the
//! lockfile's `bin`, not the tarball's `package.json` (see `link_bins`).

use fs_err::os::unix::fs::OpenOptionsExt as _;
use std::collections::BTreeMap;
use std::io::{BufRead as _, Read as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::fetcher::RestoreError;

/// What an unpacked package holds.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Index {
    /// Directories, parents first.
    pub dirs: Vec<String>,
    /// Files and their permission bits.
    pub files: Vec<(String, u32)>,
}

/// One unpacked package.
#[derive(Debug, Clone)]
pub struct Unpacked {
    /// Its `package/` folder.
    pub root: PathBuf,
    /// Its contents.
    pub index: std::sync::Arc<Index>,
}

/// The store of unpacked packages.
#[derive(Debug, Clone)]
pub struct UnpackedStore {
    root: PathBuf,
    umask: u32,
}

/// The process's umask, from `/proc/self/status` (npm lets the umask apply); `0o022` when
/// it cannot be read.
#[must_use]
pub fn process_umask() -> u32 {
    fs_err::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| u32::from_str_radix(line.strip_prefix("Umask:")?.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

impl UnpackedStore {
    /// The store under `root` (`<cache>/npm-unpacked-v1`).
    #[must_use]
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            umask: process_umask(),
        }
    }

    /// The mode bin-links gives bins: `0o777` less the umask.
    #[must_use]
    pub fn exec_mode(&self) -> u32 {
        0o777 & !self.umask
    }

    /// The umask in force.
    #[must_use]
    pub fn umask(&self) -> u32 {
        self.umask
    }

    fn dir(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    /// The package unpacked under `key`, when it is there.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<Unpacked> {
        let dir = self.dir(key);
        let text = fs_err::read(dir.join("index.json")).ok()?;
        let index: Index = serde_json::from_slice(&text).ok()?;
        Some(Unpacked {
            root: dir.join("package"),
            index: std::sync::Arc::new(index),
        })
    }

    /// Unpack the verified `tarball` under `key` (a no-op when another process did it
    /// first).
    ///
    /// # Errors
    /// A tarball that does not read, I/O errors.
    pub fn unpack(&self, key: &str, tarball: &Path, spec: &str) -> Result<Unpacked, RestoreError> {
        let temp_root = self.root.join("tmp");
        fs_err::create_dir_all(&temp_root).map_err(RestoreError::io(&temp_root))?;
        let temp = tempfile::Builder::new()
            .prefix("unpack-")
            .tempdir_in(&temp_root)
            .map_err(RestoreError::io(&temp_root))?;
        let package = temp.path().join("package");
        let index = self.unpack_into(tarball, &package, spec)?;
        let index_path = temp.path().join("index.json");
        let text = serde_json::to_vec(&index)
            .map_err(|error| RestoreError::io(&index_path)(std::io::Error::other(error)))?;
        fs_err::write(&index_path, text).map_err(RestoreError::io(&index_path))?;
        let final_dir = self.dir(key);
        let kept = temp.keep();
        match fs_err::rename(&kept, &final_dir) {
            Ok(()) => Ok(Unpacked {
                root: final_dir.join("package"),
                index: std::sync::Arc::new(index),
            }),
            Err(_) if final_dir.join("index.json").is_file() => {
                // Another install unpacked it first: theirs is as good.
                let _ = fs_err::remove_dir_all(&kept);
                self.get(key).ok_or_else(|| {
                    RestoreError::Invalid(format!(
                        "`{spec}`: the unpacked package at `{}` cannot be read back",
                        final_dir.display()
                    ))
                })
            }
            Err(error) => {
                let _ = fs_err::remove_dir_all(&kept);
                Err(RestoreError::io(&final_dir)(error))
            }
        }
    }

    fn unpack_into(
        &self,
        tarball: &Path,
        package: &Path,
        spec: &str,
    ) -> Result<Index, RestoreError> {
        let bad = |error: std::io::Error| {
            RestoreError::Invalid(format!("`{spec}`: the tarball does not unpack: {error}"))
        };
        let file = fs_err::File::open(tarball).map_err(RestoreError::io(tarball))?;
        let mut reader = std::io::BufReader::with_capacity(256 * 1024, file);
        let gzipped = reader.fill_buf().map_err(bad)?.starts_with(&[0x1f, 0x8b]);
        let stream: Box<dyn std::io::Read> = if gzipped {
            Box::new(flate2::read::MultiGzDecoder::new(reader))
        } else {
            Box::new(reader)
        };
        let mut archive = tar::Archive::new(stream);
        fs_err::create_dir_all(package).map_err(RestoreError::io(package))?;
        let mut files: BTreeMap<String, u32> = BTreeMap::new();
        let mut dirs: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        let mut saw_npmignore: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut unpacked_bytes: u64 = 0;
        let mut buffer: Vec<u8> = Vec::new();
        for entry in archive.entries().map_err(bad)? {
            let mut entry = entry.map_err(bad)?;
            let kind = entry.header().entry_type();
            if !(kind.is_file()
                || kind == tar::EntryType::Continuous
                || kind == tar::EntryType::GNUSparse)
            {
                continue;
            }
            let raw = entry.path().map_err(bad)?.to_string_lossy().into_owned();
            let mut raw_path = raw.clone();
            let base = raw.rsplit('/').next().unwrap_or(&raw);
            if base == ".npmignore" {
                saw_npmignore.insert(raw.clone());
            } else if base == ".gitignore" {
                let renamed = format!("{}.npmignore", &raw[..raw.len() - ".gitignore".len()]);
                if saw_npmignore.contains(&renamed) {
                    continue;
                }
                saw_npmignore.insert(renamed.clone());
                raw_path = renamed;
            }
            let Some(relative) = strip_and_check(&raw_path) else {
                continue;
            };
            let header_mode = entry.header().mode().unwrap_or(0o644);
            let mode = ((header_mode | 0o666) | 0o600) & 0o777 & !self.umask;
            let target = package.join(&relative);
            if let Some((parent, _)) = relative.rsplit_once('/') {
                // Each directory once, parents first: no `mkdir` that fails with EEXIST
                // (and the `stat` after it) for every file of a known directory.
                let mut end = 0;
                while end < parent.len() {
                    end = parent[end..]
                        .find('/')
                        .map_or(parent.len(), |slash| end + slash);
                    let at = &parent[..end];
                    if !dirs.contains(at) {
                        let path = package.join(at);
                        match fs_err::create_dir(&path) {
                            Err(error) if error.kind() != std::io::ErrorKind::AlreadyExists => {
                                return Err(RestoreError::io(&path)(error));
                            }
                            _ => {}
                        }
                        dirs.insert(at.to_owned());
                    }
                    end += 1;
                }
            }
            if files.contains_key(&relative) {
                let _ = fs_err::remove_file(&target);
            }
            // The whole entry in one read and one write (npm files are small); the mode
            // given at creation is final: it is already masked by this process's umask,
            // and a duplicate entry was removed above, so no `fchmod` follows.
            let mut out = fs_err::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(mode)
                .open(&target)
                .map_err(RestoreError::io(&target))?;
            let copied = if entry.size() <= WHOLE_ENTRY_BYTES {
                buffer.clear();
                entry.read_to_end(&mut buffer).map_err(bad)?;
                std::io::Write::write_all(&mut out, &buffer).map_err(RestoreError::io(&target))?;
                buffer.len() as u64
            } else {
                std::io::copy(&mut entry, &mut out).map_err(bad)?
            };
            unpacked_bytes += copied;
            if unpacked_bytes > MAX_UNPACKED_BYTES {
                return Err(RestoreError::TooLarge {
                    package: spec.to_owned(),
                    reason: format!("more than {MAX_UNPACKED_BYTES} bytes unpacked"),
                });
            }
            files.insert(relative, mode);
        }
        Ok(Index {
            dirs: dirs.into_iter().collect(),
            files: files.into_iter().collect(),
        })
    }
}

/// Entries up to this size are read whole and written in one call; larger ones stream.
const WHOLE_ENTRY_BYTES: u64 = 4 * 1024 * 1024;

/// Unpacked size allowed per package (as for pnpm's store: a decompression bomb stops here).
const MAX_UNPACKED_BYTES: u64 = 1024 * 1024 * 1024;

/// The files under `directories.bin` as @npmcli/package-json lists them (glob `**`, no
/// dotfiles), paths relative to the package.
#[must_use]
pub fn bin_dir_files<'a>(dir: &str, files: impl Iterator<Item = &'a String>) -> Vec<String> {
    let dir = dir.trim_start_matches("./").trim_end_matches('/');
    let prefix = format!("{dir}/");
    files
        .filter_map(|file| {
            let rest = file.strip_prefix(&prefix)?;
            (!rest.split('/').any(|part| part.starts_with('.'))).then(|| file.clone())
        })
        .collect()
}

/// node-tar's `strip: 1` and path checks: `None` for entries it would not write.
fn strip_and_check(raw: &str) -> Option<String> {
    let (_, rest) = raw.split_once('/')?;
    let parts: Vec<&str> = rest.split('/').collect();
    if parts.contains(&"..") {
        return None;
    }
    let kept: Vec<&str> = parts
        .into_iter()
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    (!kept.is_empty()).then(|| kept.join("/"))
}

/// bin-links' `fixBin`: mode `exec_mode`, and a `#!` line ending in CRLF ends in LF (the
/// file read as UTF-8, as npm reads it).
///
/// # Errors
/// I/O errors.
pub fn fix_bin(path: &Path, exec_mode: u32) -> std::io::Result<()> {
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(exec_mode))?;
    let mut head = [0_u8; 2048];
    let read = {
        let mut file = fs_err::File::open(path)?;
        let mut total = 0;
        loop {
            let count = file.read(&mut head[total..])?;
            if count == 0 || total + count == head.len() {
                break total + count;
            }
            total += count;
        }
    };
    if is_windows_hashbang(&head[..read]) {
        let bytes = fs_err::read(path)?;
        let text = String::from_utf8_lossy(&bytes);
        if let Some(end) = text.find('\n') {
            let fixed = format!("{}\n{}", &text[..end - 1], &text[end + 1..]);
            fs_err::write(path, fixed)?;
            fs_err::set_permissions(path, std::fs::Permissions::from_mode(exec_mode))?;
        }
    }
    Ok(())
}

/// `/^#![^\n]+\r\n/`.
#[must_use]
pub fn is_windows_hashbang(head: &[u8]) -> bool {
    head.starts_with(b"#!")
        && head
            .iter()
            .position(|byte| *byte == b'\n')
            .is_some_and(|newline| newline >= 4 && head[newline - 1] == b'\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tarball(entries: &[(&str, &[u8], u32, tar::EntryType)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data, mode, kind) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_mode(*mode);
            header.set_size(data.len() as u64);
            if *kind == tar::EntryType::Symlink {
                header.set_link_name("index.js").unwrap();
            }
            if path.contains("..") {
                // The builder refuses such paths: write the name field as a hostile packer would.
                header.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
                header.set_cksum();
                builder.append(&header, *data).unwrap();
            } else {
                builder.append_data(&mut header, path, *data).unwrap();
            }
        }
        let raw = builder.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &raw).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn unpacks_as_pacote_does() {
        let dir = tempfile::tempdir().unwrap();
        let file = tar::EntryType::Regular;
        let data = tarball(&[
            (
                "package/package.json",
                br#"{"name":"p","bin":{"p":"cli.js"}}"#,
                0o644,
                file,
            ),
            (
                "package/cli.js",
                b"#!/usr/bin/env node\r\nrun()\r\n",
                0o644,
                file,
            ),
            ("package/tool.sh", b"x", 0o700, file),
            ("package/.gitignore", b"g", 0o644, file),
            ("package/sub/.npmignore", b"n", 0o644, file),
            ("package/sub/.gitignore", b"g", 0o644, file),
            ("package/empty", b"", 0o755, tar::EntryType::Directory),
            ("package/link", b"", 0o777, tar::EntryType::Symlink),
            ("package/../../escape", b"x", 0o644, file),
            ("other/dup.txt", b"first", 0o644, file),
            ("other/dup.txt", b"second", 0o755, file),
        ]);
        let path = dir.path().join("p.tgz");
        fs_err::write(&path, data).unwrap();
        let store = UnpackedStore::new(dir.path().join("store"));
        let unpacked = store.unpack("sha512-00", &path, "p@1.0.0").unwrap();
        let plain = 0o666 & !store.umask();
        let files: BTreeMap<String, u32> = unpacked.index.files.iter().cloned().collect();
        assert_eq!(
            files,
            BTreeMap::from([
                (".npmignore".to_owned(), plain),
                ("cli.js".to_owned(), plain),
                ("dup.txt".to_owned(), 0o777 & !store.umask()),
                ("package.json".to_owned(), plain),
                ("sub/.npmignore".to_owned(), plain),
                ("tool.sh".to_owned(), 0o766 & !store.umask()),
            ])
        );
        assert_eq!(unpacked.index.dirs, ["sub"]);
        assert_eq!(
            fs_err::read(unpacked.root.join("cli.js")).unwrap(),
            b"#!/usr/bin/env node\r\nrun()\r\n"
        );
        // What bin-links does to a linked bin.
        let bin = dir.path().join("bin.js");
        fs_err::copy(unpacked.root.join("cli.js"), &bin).unwrap();
        fix_bin(&bin, 0o755).unwrap();
        assert_eq!(
            fs_err::read(&bin).unwrap(),
            b"#!/usr/bin/env node\nrun()\r\n"
        );
        assert_eq!(
            fs_err::metadata(&bin).unwrap().permissions().mode() & 0o777,
            0o755
        );
        assert_eq!(
            fs_err::read(unpacked.root.join("dup.txt")).unwrap(),
            b"second"
        );
        assert_eq!(
            fs_err::read(unpacked.root.join("sub/.npmignore")).unwrap(),
            b"n"
        );
        assert!(!unpacked.root.join("empty").exists() && !unpacked.root.join("link").exists());
        // Read back from the store by key.
        assert_eq!(store.get("sha512-00").unwrap().index.files.len(), 6);
    }
}
