//! Filesystem helpers with the discipline config and cache writes need.
//!
//! Writes are atomic (a temp file in the same directory, fsync, rename), so a reader or a
//! crash never sees half a file; credential files are created `0600`; writes that would not
//! change the bytes do not touch the file or its mtime (cargo's `write_if_changed`), which is
//! what makes a second `lading login` report "unchanged".

use std::io::Write;
use std::path::{Path, PathBuf};

/// Unix mode for files that hold credentials.
pub const PRIVATE_MODE: u32 = 0o600;

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The file did not exist or held other bytes, and now holds the new ones.
    Written,
    /// The file already held exactly these bytes; it was not touched.
    Unchanged,
}

/// Resolve symlinks so a rename replaces the link's target, not the link.
fn resolve_target(path: &Path) -> PathBuf {
    match fs_err::canonicalize(path) {
        Ok(resolved) => resolved,
        Err(_) => path.to_path_buf(),
    }
}

/// Atomically replace `path` with `contents`.
///
/// The mode of an existing file is kept; a new file gets `mode` (or the umask default when
/// `None`). Parent directories are created.
///
/// # Errors
/// Any I/O error, naming the path.
pub fn write_atomic(path: &Path, contents: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    let target = resolve_target(path);
    let parent = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs_err::create_dir_all(&parent)?;
    let existing_mode = existing_mode(&target);
    let mut temp = tempfile::Builder::new()
        .prefix(".lading-tmp-")
        .tempfile_in(&parent)
        .map_err(|error| {
            std::io::Error::new(
                error.kind(),
                format!(
                    "failed to create a temp file in `{}`: {error}",
                    parent.display()
                ),
            )
        })?;
    set_mode(temp.path(), existing_mode.or(mode))?;
    temp.write_all(contents)?;
    temp.as_file().sync_all()?;
    temp.persist(&target).map_err(|error| {
        std::io::Error::new(
            error.error.kind(),
            format!("failed to replace `{}`: {}", target.display(), error.error),
        )
    })?;
    Ok(())
}

/// Atomically replace `path` with `contents` (temp file in the same directory, rename), without
/// an fsync: for cache files whose loss in a crash costs only a refetch (Maven's
/// `_remote.repositories`), where an fsync each made restoring from a warm store take
/// seconds. Readers still never see half a file.
///
/// # Errors
/// Any I/O error, naming the path.
pub fn replace_unsynced(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs_err::create_dir_all(&parent)?;
    let mut temp = tempfile::Builder::new()
        .prefix(".lading-tmp-")
        .tempfile_in(&parent)?;
    temp.write_all(contents)?;
    temp.persist(path).map_err(|error| {
        std::io::Error::new(
            error.error.kind(),
            format!("failed to replace `{}`: {}", path.display(), error.error),
        )
    })?;
    Ok(())
}

/// Write `contents` only if the file does not already hold them.
///
/// # Errors
/// Any I/O error, naming the path.
pub fn write_if_changed(
    path: &Path,
    contents: &[u8],
    mode: Option<u32>,
) -> std::io::Result<WriteOutcome> {
    if let Ok(current) = fs_err::read(path)
        && current == contents
    {
        return Ok(WriteOutcome::Unchanged);
    }
    write_atomic(path, contents, mode)?;
    Ok(WriteOutcome::Written)
}

/// Write a credentials file: atomically, mode `0600`, even if the file existed with a
/// looser mode (a leaked token in a world-readable file is the failure we guard against).
///
/// # Errors
/// Any I/O error, naming the path.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<WriteOutcome> {
    let outcome = write_if_changed(path, contents, Some(PRIVATE_MODE))?;
    set_mode(&resolve_target(path), Some(PRIVATE_MODE))?;
    Ok(outcome)
}

#[cfg(unix)]
fn existing_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    fs_err::metadata(path)
        .ok()
        .map(|metadata| metadata.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn existing_mode(_path: &Path) -> Option<u32> {
    None
}

/// Set a file's Unix mode (`None`: leave it); a no-op elsewhere.
///
/// # Errors
/// I/O errors, naming the path.
#[cfg(unix)]
pub fn set_mode(path: &Path, mode: Option<u32>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(mode) = mode {
        fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// Set a file's Unix mode (`None`: leave it); a no-op elsewhere.
///
/// # Errors
/// Never.
#[cfg(not(unix))]
pub fn set_mode(_path: &Path, _mode: Option<u32>) -> std::io::Result<()> {
    Ok(())
}

/// An exclusive advisory lock on a lock file, released on drop.
#[derive(Debug)]
pub struct FileLock {
    file: fs_err::File,
}

impl FileLock {
    /// Block until the lock on `path` (created if missing) is held.
    ///
    /// # Errors
    /// When the lock file cannot be created or locked.
    pub fn acquire(path: &Path) -> std::io::Result<Self> {
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent)?;
        }
        let file = fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        fs4::fs_std::FileExt::lock_exclusive(file.file())?;
        Ok(Self { file })
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = fs4::fs_std::FileExt::unlock(self.file.file());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_unsynced_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/_remote.repositories");
        replace_unsynced(&path, b"one").unwrap();
        replace_unsynced(&path, b"two").unwrap();
        assert_eq!(fs_err::read(&path).unwrap(), b"two");
        assert_eq!(fs_err::read_dir(dir.path().join("a")).unwrap().count(), 1);
    }

    #[test]
    fn write_if_changed_is_idempotent_and_keeps_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/.npmrc");
        assert_eq!(
            write_if_changed(&path, b"x=1\n", None).unwrap(),
            WriteOutcome::Written
        );
        let before = fs_err::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(
            write_if_changed(&path, b"x=1\n", None).unwrap(),
            WriteOutcome::Unchanged
        );
        assert_eq!(fs_err::metadata(&path).unwrap().modified().unwrap(), before);
        assert_eq!(
            write_if_changed(&path, b"x=2\n", None).unwrap(),
            WriteOutcome::Written
        );
        assert_eq!(fs_err::read(&path).unwrap(), b"x=2\n");
    }

    #[cfg(unix)]
    #[test]
    fn write_private_forces_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        fs_err::write(&path, "old").unwrap();
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"secret").unwrap();
        let mode = fs_err::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn write_atomic_keeps_existing_mode_and_follows_symlinks() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.conf");
        fs_err::write(&real, "a").unwrap();
        fs_err::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("link.conf");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, b"b", Some(0o600)).unwrap();
        assert!(
            fs_err::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs_err::read_to_string(&real).unwrap(), "b");
        assert_eq!(
            fs_err::metadata(&real).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }
}
