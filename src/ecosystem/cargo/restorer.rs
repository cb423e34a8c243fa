//! Cargo's restorer: a named `Cargo.lock` into a vendor directory for
//! `cargo build --offline`.

use std::path::{Path, PathBuf};

use crate::ecosystem::restore::{Job, LockfileArgs, Recognised, Restore, Restorer, Restoring};
use crate::format::Format;

impl Restore for super::Cargo {
    fn restorers(&self) -> &'static [&'static dyn Restorer] {
        &[&CargoRestorer]
    }
}

/// `Cargo.lock` crates into a vendor directory.
#[derive(Debug)]
pub struct CargoRestorer;

impl Restorer for CargoRestorer {
    fn name(&self) -> &'static str {
        "cargo"
    }

    fn format(&self) -> Format {
        Format::Cargo
    }

    fn recognise(&self, _path: &Path, name: &str, explicit: bool) -> Option<Recognised> {
        // Named only: its vendor directory does nothing until the build opts in to it
        // (source replacement), and a repository may not hold the crates at all.
        (name == "Cargo.lock").then_some(if explicit {
            Recognised::Lockfile { rank: 0 }
        } else {
            Recognised::Unsupported(
                "Cargo.lock is restored only when named: pass `--lockfile Cargo.lock` to put its crates in a vendor directory for `cargo build --offline`",
            )
        })
    }

    fn lockfile_names(&self) -> &'static str {
        "Cargo.lock"
    }

    fn destination(&self, locations: &LockfileArgs) -> PathBuf {
        locations.cargo_vendor.clone()
    }

    fn restore<'a>(&'a self, job: Job<'a>) -> Restoring<'a> {
        job.restore_into(super::restore::restore)
    }

    fn warns_every_skip(&self) -> bool {
        true
    }

    fn offline_hint(&self, destination: &Path) -> Option<String> {
        Some(format!(
            "cargo: build with `cargo build --offline --config \"source.crates-io.replace-with='lading-vendor'\" --config \"source.lading-vendor.directory='{}'\"`",
            destination.display()
        ))
    }
}
