//! Archives: selecting build outputs by glob, writing reproducible zip and tar.gz files,
//! and hashing every output with several digests in one pass.
//!
//! Reproducible means the same inputs give the same bytes on every machine: entries are
//! sorted by name, every timestamp is one fixed instant ([`SourceDate`]: `SOURCE_DATE_EPOCH`,
//! else the commit time), modes are normalised to `0644`/`0755` and owners to `0:0`.
//! Nothing about the machine (umask, user, clock, directory order) reaches the archive.

pub mod digest;
pub mod select;
pub mod writer;

pub use self::digest::{Digests, MultiHasher};
pub use self::select::{
    GlobFilter, IgnoreRules, SelectError, SelectedFile, WalkFilter, select, walk,
};
pub use self::writer::{
    ArchiveError, Entry, EntrySource, SourceDate, SourceDateOrigin, sort_entries, write_tar_gz,
    write_zip,
};
