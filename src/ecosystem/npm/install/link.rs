//! Placing unpacked files into `node_modules`: by reflink, hard link or copy (`--link`).
//!
//! `auto` tries a reflink first (a copy-on-write clone: as cheap as a link, and a build that
//! writes into `node_modules` changes only its own copy), then a hard link, then a copy,
//! stepping down for the rest of the install the first time the filesystem refuses one.
//! A hard link shares the file with lading's store: a build step that edits a file inside
//! `node_modules` in place (rather than replacing it) edits the stored copy too, and every
//! later install that links it. Packages that run install scripts are therefore never hard
//! linked (they are copied, or reflinked where that works), and bins whose mode or `#!` line
//! npm would change are copied before they are changed.

use fs_err::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};

pub use crate::ecosystem::restore::LinkMode;

const REFLINK: u8 = 0;
const HARDLINK: u8 = 1;
const COPY: u8 = 2;

/// Places files, remembering what the filesystem allows.
#[derive(Debug)]
pub struct Linker {
    mode: LinkMode,
    /// For `auto`: the best method not refused yet.
    best: AtomicU8,
}

fn refused_reflink(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::Unsupported
        || matches!(
            error.raw_os_error(),
            Some(code) if code == rustix::io::Errno::OPNOTSUPP.raw_os_error()
                || code == rustix::io::Errno::XDEV.raw_os_error()
                || code == rustix::io::Errno::INVAL.raw_os_error()
                || code == rustix::io::Errno::NOTTY.raw_os_error()
                || code == rustix::io::Errno::PERM.raw_os_error()
        )
}

fn refused_hardlink(error: &std::io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(code) if code == rustix::io::Errno::XDEV.raw_os_error()
            || code == rustix::io::Errno::PERM.raw_os_error()
            || code == rustix::io::Errno::MLINK.raw_os_error()
            || code == rustix::io::Errno::ACCESS.raw_os_error()
    )
}

impl Linker {
    /// A linker for `mode`.
    #[must_use]
    pub fn new(mode: LinkMode) -> Self {
        Self {
            mode,
            best: AtomicU8::new(REFLINK),
        }
    }

    /// What `auto` settled on, for the summary (`reflink`, `hardlink`, `copy`).
    #[must_use]
    pub fn method(&self) -> &'static str {
        match (self.mode, self.best.load(Ordering::Relaxed)) {
            (LinkMode::Reflink, _) | (LinkMode::Auto, REFLINK) => "reflink",
            (LinkMode::Hardlink, _) | (LinkMode::Auto, HARDLINK) => "hardlink",
            (LinkMode::Copy | LinkMode::Auto, _) => "copy",
        }
    }

    /// Place `source` (permission bits `mode`) at `target`, which must not exist; with
    /// `private`, never as a hard link.
    ///
    /// # Errors
    /// I/O errors; `--link reflink` or `hardlink` where the filesystem refuses them.
    pub fn place(
        &self,
        source: &Path,
        target: &Path,
        mode: u32,
        private: bool,
    ) -> std::io::Result<()> {
        match self.mode {
            LinkMode::Reflink => reflink(source, target, mode),
            LinkMode::Hardlink if !private => match fs_err::hard_link(source, target) {
                Err(error)
                    if error.raw_os_error() == Some(rustix::io::Errno::MLINK.raw_os_error()) =>
                {
                    copy(source, target)
                }
                other => other,
            },
            LinkMode::Hardlink | LinkMode::Copy => copy(source, target),
            LinkMode::Auto => {
                if self.best.load(Ordering::Relaxed) == REFLINK {
                    match reflink(source, target, mode) {
                        Ok(()) => return Ok(()),
                        Err(error) if refused_reflink(&error) => {
                            let _ = fs_err::remove_file(target);
                            self.best.fetch_max(HARDLINK, Ordering::Relaxed);
                        }
                        Err(error) => return Err(error),
                    }
                }
                if !private && self.best.load(Ordering::Relaxed) == HARDLINK {
                    match fs_err::hard_link(source, target) {
                        Ok(()) => return Ok(()),
                        Err(error) if refused_hardlink(&error) => {
                            if error.raw_os_error() != Some(rustix::io::Errno::MLINK.raw_os_error())
                            {
                                self.best.fetch_max(COPY, Ordering::Relaxed);
                            }
                        }
                        Err(error) => return Err(error),
                    }
                }
                copy(source, target)
            }
        }
    }
}

fn copy(source: &Path, target: &Path) -> std::io::Result<()> {
    // std's copy keeps the mode, and on Linux clones where the filesystem can.
    fs_err::copy(source, target).map(drop)
}

fn reflink(source: &Path, target: &Path, mode: u32) -> std::io::Result<()> {
    let from = fs_err::File::open(source)?;
    let to = fs_err::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(target)?;
    clone_file(to.file(), from.file()).inspect_err(|_| {
        let _ = fs_err::remove_file(target);
    })
}

/// `FICLONE`: `to` becomes a copy-on-write clone of `from`.
#[cfg(target_os = "linux")]
fn clone_file(to: &std::fs::File, from: &std::fs::File) -> std::io::Result<()> {
    rustix::fs::ioctl_ficlone(to, from)
        .map_err(|errno| std::io::Error::from_raw_os_error(errno.raw_os_error()))
}

/// Clones are Linux's `FICLONE` only for now (macOS has `clonefile`, by path, not wired up).
#[cfg(not(target_os = "linux"))]
fn clone_file(_to: &std::fs::File, _from: &std::fs::File) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mode_places_the_bytes() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("source");
        fs_err::write(&source, b"bytes").unwrap();
        for (at, mode) in [LinkMode::Auto, LinkMode::Hardlink, LinkMode::Copy]
            .into_iter()
            .enumerate()
        {
            let linker = Linker::new(mode);
            let target = dir.path().join(format!("t{at}"));
            linker.place(&source, &target, 0o644, false).unwrap();
            assert_eq!(fs_err::read(&target).unwrap(), b"bytes");
            let private = dir.path().join(format!("p{at}"));
            linker.place(&source, &private, 0o644, true).unwrap();
            assert_eq!(fs_err::metadata(&private).unwrap().nlink(), 1, "{mode:?}");
        }
        // ext4 and tmpfs refuse clones: `auto` steps down to hard links, `reflink` says so.
        let linker = Linker::new(LinkMode::Auto);
        linker
            .place(&source, &dir.path().join("a"), 0o644, false)
            .unwrap();
        if linker.method() == "hardlink" {
            assert!(
                Linker::new(LinkMode::Reflink)
                    .place(&source, &dir.path().join("r"), 0o644, false)
                    .is_err()
            );
            assert!(!dir.path().join("r").exists());
        }
    }
}
