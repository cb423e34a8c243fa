//! NuGet's restorer: `packages.lock.json` into NuGet's global packages folder.

use std::path::{Path, PathBuf};

use crate::ecosystem::restore::{
    Job, LockfileArgs, Recognised, Restore, Restorer, Restoring, home,
};
use crate::env_vars::EnvVars;
use crate::format::Format;

impl Restore for super::Nuget {
    fn restorers(&self) -> &'static [&'static dyn Restorer] {
        &[&NugetRestorer]
    }
}

/// NuGet lockfiles into the global packages folder.
#[derive(Debug)]
pub struct NugetRestorer;

/// NuGet's global packages folder: `--nuget-packages`, `NUGET_PACKAGES`, else
/// `~/.nuget/packages`.
#[must_use]
pub fn nuget_packages_dir(locations: &LockfileArgs) -> PathBuf {
    locations
        .nuget_packages
        .clone()
        .or_else(|| EnvVars::get(EnvVars::NUGET_PACKAGES).map(PathBuf::from))
        .unwrap_or_else(|| home().join(".nuget/packages"))
}

impl Restorer for NugetRestorer {
    fn name(&self) -> &'static str {
        "nuget"
    }

    fn format(&self) -> Format {
        Format::Nuget
    }

    fn recognise(&self, _path: &Path, name: &str, _explicit: bool) -> Option<Recognised> {
        (name == "packages.lock.json").then_some(Recognised::Lockfile { rank: 0 })
    }

    fn lockfile_names(&self) -> &'static str {
        "packages.lock.json"
    }

    fn destination(&self, locations: &LockfileArgs) -> PathBuf {
        nuget_packages_dir(locations)
    }

    fn restore<'a>(&'a self, job: Job<'a>) -> Restoring<'a> {
        job.restore_into(super::restore::restore)
    }
}
