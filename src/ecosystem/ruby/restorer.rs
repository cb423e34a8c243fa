//! RubyGems' restorer: `Gemfile.lock` gems into Bundler's `vendor/cache`, for
//! `bundle install --local`.

use std::path::{Path, PathBuf};

use crate::ecosystem::restore::{Job, LockfileArgs, Recognised, Restore, Restorer, Restoring};
use crate::format::Format;

impl Restore for super::Ruby {
    fn restorers(&self) -> &'static [&'static dyn Restorer] {
        &[&BundlerRestorer]
    }
}

/// `Gemfile.lock` gems into Bundler's gem cache.
#[derive(Debug)]
pub struct BundlerRestorer;

impl Restorer for BundlerRestorer {
    fn name(&self) -> &'static str {
        "bundler"
    }

    fn format(&self) -> Format {
        Format::Ruby
    }

    fn recognise(&self, _path: &Path, name: &str, _explicit: bool) -> Option<Recognised> {
        (name == super::gemfile_lock::FILE_NAME).then_some(Recognised::Lockfile { rank: 0 })
    }

    fn lockfile_names(&self) -> &'static str {
        super::gemfile_lock::FILE_NAME
    }

    fn destination(&self, locations: &LockfileArgs) -> PathBuf {
        locations
            .bundle_cache
            .clone()
            .unwrap_or_else(|| PathBuf::from("vendor/cache"))
    }

    fn restore<'a>(&'a self, job: Job<'a>) -> Restoring<'a> {
        // Without `--bundle-cache`, each lockfile's own `vendor/cache`.
        Box::pin(super::gemfile_lock::restore(
            job.fetcher,
            job.endpoint,
            job.options.locations.bundle_cache.as_deref(),
            job.lockfiles,
            job.summary,
        ))
    }

    fn warns_every_skip(&self) -> bool {
        true
    }

    fn offline_hint(&self, destination: &Path) -> Option<String> {
        Some(format!(
            "bundler: install with `bundle install --local` (the gems are in `{}`, Bundler's `vendor/cache` when beside the Gemfile)",
            destination.display()
        ))
    }
}
