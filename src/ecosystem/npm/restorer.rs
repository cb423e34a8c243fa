//! npm's restorers: npm (`package-lock.json`, `npm-shrinkwrap.json` into npm's cache, or
//! with `--install` into `node_modules`), yarn 1 (`yarn.lock` into its offline mirror) and
//! pnpm (`pnpm-lock.yaml` into its store); each client keeps its own cache.

use std::path::{Path, PathBuf};

use crate::ecosystem::restore::{
    Job, LockfileArgs, NpmInstallArgs, OmitType, Recognised, Restore, Restorer, Restoring,
    absolute, home,
};
use crate::env_vars::EnvVars;
use crate::fetcher::{Fetcher, Summary};
use crate::format::Format;
use crate::secret::SafeUrl;

impl Restore for super::Npm {
    fn restorers(&self) -> &'static [&'static dyn Restorer] {
        &[
            &NpmRestorer,
            &YarnRestorer,
            &YarnBerryRestorer,
            &PnpmRestorer,
        ]
    }
}

/// npm lockfiles into npm's cacache (or `node_modules` with `--install`).
#[derive(Debug)]
pub struct NpmRestorer;

/// yarn 1 lockfiles into yarn's offline mirror.
#[derive(Debug)]
pub struct YarnRestorer;

/// yarn 2+ (berry) lockfiles into yarn's zip cache.
#[derive(Debug)]
pub struct YarnBerryRestorer;

/// pnpm lockfiles into pnpm's content-addressable store.
#[derive(Debug)]
pub struct PnpmRestorer;

/// Where npm's cache is: `--npm-cache`, `npm_config_cache`, else `~/.npm`.
#[must_use]
pub fn npm_cache_dir(locations: &LockfileArgs) -> PathBuf {
    locations
        .npm_cache
        .clone()
        .or_else(|| EnvVars::get(EnvVars::NPM_CONFIG_CACHE_LOWER).map(PathBuf::from))
        .or_else(|| EnvVars::get(EnvVars::NPM_CONFIG_CACHE).map(PathBuf::from))
        .unwrap_or_else(|| home().join(".npm"))
}

/// yarn 1's offline mirror: `--yarn-offline-mirror`, `YARN_YARN_OFFLINE_MIRROR`, else
/// `.lading/yarn-offline-mirror`.
#[must_use]
pub fn yarn_offline_mirror(locations: &LockfileArgs) -> PathBuf {
    locations
        .yarn_offline_mirror
        .clone()
        .or_else(|| EnvVars::get(EnvVars::YARN_YARN_OFFLINE_MIRROR).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(".lading/yarn-offline-mirror"))
}

impl Restorer for NpmRestorer {
    fn name(&self) -> &'static str {
        "npm"
    }

    fn format(&self) -> Format {
        Format::Npm
    }

    fn recognise(&self, _path: &Path, name: &str, _explicit: bool) -> Option<Recognised> {
        matches!(name, "package-lock.json" | "npm-shrinkwrap.json")
            .then_some(Recognised::Lockfile { rank: 0 })
    }

    fn lockfile_names(&self) -> &'static str {
        "package-lock.json, npm-shrinkwrap.json"
    }

    fn destination(&self, locations: &LockfileArgs) -> PathBuf {
        npm_cache_dir(locations)
    }

    fn restore<'a>(&'a self, job: Job<'a>) -> Restoring<'a> {
        if !job.options.install {
            return job.restore_into(restore_npm);
        }
        Box::pin(install_npm(
            job.fetcher,
            job.endpoint,
            job.options.npm_install,
            job.lockfiles,
            job.summary,
        ))
    }
}

impl Restorer for YarnRestorer {
    fn name(&self) -> &'static str {
        "yarn"
    }

    fn format(&self) -> Format {
        Format::Npm
    }

    fn recognise(&self, path: &Path, name: &str, _explicit: bool) -> Option<Recognised> {
        // Unreadable: yarn 1's, and its restore reports the I/O error.
        (name == "yarn.lock"
            && !fs_err::read_to_string(path).is_ok_and(|text| super::yarn_berry::is_berry(&text)))
        .then_some(Recognised::Lockfile { rank: 0 })
    }

    fn lockfile_names(&self) -> &'static str {
        "yarn.lock (yarn 1, yarn 4)"
    }

    fn destination(&self, locations: &LockfileArgs) -> PathBuf {
        yarn_offline_mirror(locations)
    }

    fn restore<'a>(&'a self, job: Job<'a>) -> Restoring<'a> {
        Box::pin(async move {
            super::yarn_lock::restore(
                job.fetcher,
                job.endpoint,
                job.destination,
                job.lockfiles,
                job.summary,
            )
            .await?;
            Ok(())
        })
    }

    fn warns_every_skip(&self) -> bool {
        true
    }

    fn offline_hint(&self, destination: &Path) -> Option<String> {
        // Not when the variable already names it.
        EnvVars::get(EnvVars::YARN_YARN_OFFLINE_MIRROR)
            .is_none_or(|value| absolute(Path::new(&value)) != destination)
            .then(|| {
                format!(
                    "yarn: install with `{}='{}' yarn install --offline --frozen-lockfile`",
                    EnvVars::YARN_YARN_OFFLINE_MIRROR,
                    destination.display()
                )
            })
    }
}

impl Restorer for YarnBerryRestorer {
    fn name(&self) -> &'static str {
        "yarn-berry"
    }

    fn format(&self) -> Format {
        Format::Npm
    }

    fn recognise(&self, path: &Path, name: &str, _explicit: bool) -> Option<Recognised> {
        if name != "yarn.lock" {
            return None;
        }
        let text = fs_err::read_to_string(path).ok()?;
        if !super::yarn_berry::is_berry(&text) {
            return None;
        }
        Some(if super::yarn_berry::has_supported_cache_key(&text) {
            Recognised::Lockfile { rank: 0 }
        } else {
            Recognised::Unsupported(
                "yarn 2+ lockfiles are restored only with yarn 4's default cacheKey `10c0` (`compressionLevel: 0`), whose cache archives lading rebuilds byte for byte: rewrite it with yarn 4 (`yarn install`)",
            )
        })
    }

    fn lockfile_names(&self) -> &'static str {
        ""
    }

    fn destination(&self, locations: &LockfileArgs) -> PathBuf {
        locations
            .yarn_berry_cache
            .clone()
            .unwrap_or_else(|| super::yarn_berry::global_folder().join("cache"))
    }

    fn restore<'a>(&'a self, job: Job<'a>) -> Restoring<'a> {
        Box::pin(super::yarn_berry::restore(
            job.fetcher,
            job.endpoint,
            job.destination,
            job.lockfiles,
            job.summary,
        ))
    }

    fn warns_every_skip(&self) -> bool {
        true
    }

    fn offline_hint(&self, destination: &Path) -> Option<String> {
        Some(format!(
            "yarn-berry: install with `yarn install --immutable` (the archives are in `{}`; set `YARN_GLOBAL_FOLDER` to its parent if yarn's global folder is elsewhere)",
            destination.display()
        ))
    }
}

impl Restorer for PnpmRestorer {
    fn name(&self) -> &'static str {
        "pnpm"
    }

    fn format(&self) -> Format {
        Format::Npm
    }

    fn recognise(&self, path: &Path, name: &str, explicit: bool) -> Option<Recognised> {
        if name != "pnpm-lock.yaml" {
            return None;
        }
        // Older ones are skipped when found, not named.
        Some(
            if explicit
                || fs_err::read_to_string(path).is_ok_and(|text| super::pnpm::is_current(&text))
            {
                Recognised::Lockfile { rank: 0 }
            } else {
                Recognised::Unsupported(
                    "lockfiles older than pnpm 8's are not restored (found, so skipped): rewrite it with a current pnpm",
                )
            },
        )
    }

    fn lockfile_names(&self) -> &'static str {
        "pnpm-lock.yaml"
    }

    fn destination(&self, locations: &LockfileArgs) -> PathBuf {
        super::pnpm::default_store_dir(locations.pnpm_store.as_deref())
    }

    fn restore<'a>(&'a self, job: Job<'a>) -> Restoring<'a> {
        job.restore_into(super::pnpm::restore)
    }

    fn warns_every_skip(&self) -> bool {
        true
    }

    fn offline_hint(&self, destination: &Path) -> Option<String> {
        Some(format!(
            "pnpm: install with `pnpm install --offline --frozen-lockfile --store-dir '{}'` (pnpm 12 or 10)",
            destination.display()
        ))
    }
}

async fn restore_npm(
    fetcher: &Fetcher,
    endpoint: &SafeUrl,
    destination: &Path,
    lock_dir: &Path,
    lockfiles: &[PathBuf],
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let mut packages = std::collections::BTreeSet::new();
    for path in lockfiles {
        let lockfile = super::lockfile::read(path)?;
        summary.skipped.extend(
            lockfile
                .skipped
                .iter()
                .map(|reason| format!("{}: {reason}", path.display())),
        );
        packages.extend(lockfile.packages);
    }
    let packages: Vec<_> = packages.into_iter().collect();
    summary.packages =
        super::restore::restore(fetcher, endpoint, destination, lock_dir, &packages).await?;
    Ok(())
}

/// `--install` for npm lockfiles: each one's `node_modules`, as `npm ci` writes it.
async fn install_npm(
    fetcher: &Fetcher,
    endpoint: &SafeUrl,
    install: &NpmInstallArgs,
    lockfiles: &[PathBuf],
    summary: &mut Summary,
) -> anyhow::Result<()> {
    use super::install;
    let mut omit = install::Omit {
        dev: install.omit.contains(&OmitType::Dev),
        optional: install.omit.contains(&OmitType::Optional),
        peer: install.omit.contains(&OmitType::Peer),
    };
    if install.omit.is_empty() && EnvVars::get(EnvVars::NODE_ENV).as_deref() == Some("production") {
        omit.dev = true;
    }
    let options = install::Options {
        link: install.link,
        omit,
        ignore_scripts: install.ignore_scripts,
        unpacked_store: crate::repository::cache_dir().join("npm-unpacked-v1"),
    };
    for lockfile in lockfiles {
        let installed = install::install(fetcher, endpoint, lockfile, &options).await?;
        summary.packages += installed.packages;
        summary.skipped.extend(
            installed
                .skipped
                .iter()
                .map(|reason| format!("{}: {reason}", lockfile.display())),
        );
        summary.warnings.extend(
            installed
                .warnings
                .iter()
                .map(|warning| format!("{}: {warning}", lockfile.display())),
        );
        summary.destination = lockfile
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join("node_modules");
        tracing::info!(
            "{}: placed by {}, install scripts of {} packages",
            lockfile.display(),
            installed.method,
            installed.scripts
        );
    }
    Ok(())
}
