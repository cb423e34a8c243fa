//! What restoring means, for every format: the [`Restore`] capability `lading restore` (and
//! `lading cache-key`) asks each format for, the [`Restorer`]s it has (one per client that
//! keeps its own cache: npm, yarn 1 and pnpm all read the npm format), the [`Job`] a restorer
//! is given, and the [`Options`] the command line sets for them (cache locations, `--install`
//! and the npm and pip options that go with it). A leaf below the formats, like
//! [`super::configure`]: `commands/restore.rs` iterates the registry's restorers and names
//! no format.

use std::path::{Path, PathBuf};
use std::pin::Pin;

use clap::Args;

use crate::fetcher::{Fetcher, Summary};
use crate::format::Format;
use crate::secret::SafeUrl;

/// A format's restore capability: its restorers, in the order they run.
pub trait Restore: Sync {
    /// The restorers, one per client cache.
    fn restorers(&self) -> &'static [&'static dyn Restorer];
}

/// What a restorer makes of a file it recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recognised {
    /// One of its lockfiles. `rank` orders its kinds of lockfile (a restorer's files are
    /// read in rank order, then path order).
    Lockfile {
        /// Order among the restorer's kinds of lockfile.
        rank: u8,
    },
    /// A lockfile it knows but does not restore, and why (with what to do instead).
    Unsupported(&'static str),
}

/// What a restore returns.
pub type Restoring<'a> = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>>;

/// One client's restore: the lockfiles it reads, where their packages go, and the restore.
pub trait Restorer: Sync + std::fmt::Debug {
    /// Its name in the summary line and the JSON report (`npm`, `yarn`, `pypi`).
    fn name(&self) -> &'static str;

    /// The repository format its packages come from.
    fn format(&self) -> Format;

    /// Whether `path` (named `name`) is one of its lockfiles. `explicit`: the user named the
    /// file (`--lockfile`) rather than it being found under `--dir`. The first restorer in
    /// the registry's order that recognises a file takes it.
    fn recognise(&self, path: &Path, name: &str, explicit: bool) -> Option<Recognised>;

    /// The lockfiles it reads, for the hint naming every supported one
    /// (`package-lock.json, npm-shrinkwrap.json`).
    fn lockfile_names(&self) -> &'static str;

    /// Where its packages go (the client's own cache, mirror, store or vendor directory).
    fn destination(&self, locations: &LockfileArgs) -> PathBuf;

    /// Restore `job.lockfiles` into `job.destination`, counting into `job.summary`.
    fn restore<'a>(&'a self, job: Job<'a>) -> Restoring<'a>;

    /// Whether every package it skipped is a warning (an offline install from what it
    /// restored would miss it), not only when nothing was restored.
    fn warns_every_skip(&self) -> bool {
        false
    }

    /// The offline install command for what it restored into `destination` (absolute),
    /// where the user would not guess it (a store, mirror or vendor directory to name).
    fn offline_hint(&self, destination: &Path) -> Option<String> {
        let _ = destination;
        None
    }
}

/// One restorer's work.
#[derive(Debug)]
pub struct Job<'a> {
    /// Downloads, verified into the store, with the repository's credentials.
    pub fetcher: &'a Fetcher,
    /// The repository's endpoint for the restorer's format.
    pub endpoint: &'a SafeUrl,
    /// Where the packages go ([`Restorer::destination`]).
    pub destination: &'a Path,
    /// Directory for lock files serialising concurrent restores into one cache.
    pub lock_dir: &'a Path,
    /// Its lockfiles, in order.
    pub lockfiles: &'a [PathBuf],
    /// What the command line says.
    pub options: Options<'a>,
    /// What it did.
    pub summary: &'a mut Summary,
}

impl<'a> Job<'a> {
    /// The restore of a restorer that reads its lockfiles into one cache shared under
    /// [`Self::lock_dir`] (cargo's vendor directory, NuGet's global packages folder, pnpm's
    /// store, npm's cache): `restore` given the job's fetcher, endpoint, destination, lock
    /// directory, lockfiles and summary.
    pub fn restore_into<F, R>(self, restore: F) -> Restoring<'a>
    where
        F: FnOnce(
                &'a Fetcher,
                &'a SafeUrl,
                &'a Path,
                &'a Path,
                &'a [PathBuf],
                &'a mut Summary,
            ) -> R
            + Send
            + 'a,
        R: Future<Output = anyhow::Result<()>> + Send + 'a,
    {
        Box::pin(restore(
            self.fetcher,
            self.endpoint,
            self.destination,
            self.lock_dir,
            self.lockfiles,
            self.summary,
        ))
    }
}

/// What `lading restore`'s command line tells the restorers.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// Cache locations (`--npm-cache`, `--bundle-cache`, ...).
    pub locations: &'a LockfileArgs,
    /// `--install`: install instead of only filling the caches.
    pub install: bool,
    /// npm with `--install`.
    pub npm_install: &'a NpmInstallArgs,
    /// The interpreter pip files are chosen for.
    pub python: &'a PythonTargetArgs,
    /// pip with `--install`: `--venv`.
    pub venv: Option<&'a Path>,
    /// pip with `--install`: `--compile`.
    pub compile: bool,
    /// Maven: `--maven-repository-id`.
    pub maven_repository_id: &'a str,
}

/// Which lockfiles, and where each ecosystem's cache is.
#[derive(Debug, Clone, Args)]
pub struct LockfileArgs {
    /// A lockfile to restore (repeatable); default: every lockfile found under `--dir`.
    #[arg(long = "lockfile", value_name = "PATH")]
    pub lockfiles: Vec<PathBuf>,
    /// Directory searched for lockfiles (`node_modules`, `.git`, `target` are skipped).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// npm cache directory (default: `npm_config_cache`, else `~/.npm`).
    #[arg(long, value_name = "DIR")]
    pub npm_cache: Option<PathBuf>,
    /// pnpm store (default: where pnpm 12 looks: `pnpm_config_store_dir`, `$PNPM_HOME/store`,
    /// `$XDG_DATA_HOME/pnpm/store`, else `~/.local/share/pnpm/store`); install with `pnpm
    /// install --offline --frozen-lockfile --store-dir DIR`.
    #[arg(long, value_name = "DIR")]
    pub pnpm_store: Option<PathBuf>,
    /// yarn 1 offline mirror (default: `YARN_YARN_OFFLINE_MIRROR`, else
    /// `.lading/yarn-offline-mirror`); install with that variable set and
    /// `yarn install --offline --frozen-lockfile`.
    #[arg(long, value_name = "DIR")]
    pub yarn_offline_mirror: Option<PathBuf>,
    /// yarn 2+ (berry) cache for `yarn.lock` files with `__metadata` (default: yarn's global
    /// cache, `YARN_GLOBAL_FOLDER/cache`, else `$XDG_DATA_HOME/yarn/berry/cache`, else
    /// `~/.yarn/berry/cache`, which yarn also reads as the mirror of a project-local cache);
    /// install with `yarn install --immutable`. Only cacheKey `10c0` lockfiles (yarn 4's
    /// default `compressionLevel: 0`): lading rebuilds yarn's zip and checks it against the
    /// lockfile's `checksum`.
    #[arg(long, value_name = "DIR")]
    pub yarn_berry_cache: Option<PathBuf>,
    /// Bundler's gem cache for `Gemfile.lock` gems (default: `vendor/cache` beside each
    /// `Gemfile.lock`, where `bundle install --local` looks).
    #[arg(long, value_name = "DIR")]
    pub bundle_cache: Option<PathBuf>,
    /// Vendor directory for `Cargo.lock` crates (a cargo directory source, as
    /// `cargo vendor --versioned-dirs` writes it).
    #[arg(long, value_name = "DIR", default_value = ".lading/cargo-vendor")]
    pub cargo_vendor: PathBuf,
    /// Wheelhouse for pip (`pip install --no-index --find-links DIR`).
    #[arg(long, value_name = "DIR", default_value = ".lading/wheelhouse")]
    pub wheelhouse: PathBuf,
    /// Maven local repository (default: `-Dmaven.repo.local` in `MAVEN_OPTS`, else
    /// `~/.m2/repository`).
    #[arg(long, value_name = "DIR")]
    pub maven_repo: Option<PathBuf>,
    /// NuGet global packages folder (default: `NUGET_PACKAGES`, else `~/.nuget/packages`).
    #[arg(long, value_name = "DIR")]
    pub nuget_packages: Option<PathBuf>,
}

/// `lading restore --install` options for npm lockfiles.
#[derive(Debug, Clone, Args)]
pub struct NpmInstallArgs {
    /// npm with `--install`: how files get from lading's store into `node_modules`: `auto`
    /// (reflink where the filesystem can, else hard link, else copy), `hardlink`, `reflink`,
    /// `copy`. A hard link shares the file with the store: a build that edits files inside
    /// `node_modules` in place edits the stored copy too (packages with install scripts are
    /// never hard linked).
    #[arg(long, value_enum, default_value = "auto", requires = "install")]
    pub link: LinkMode,
    /// npm with `--install`: leave out a dependency type, as `npm ci --omit` (repeatable, or
    /// comma-separated); default: `dev` when `NODE_ENV=production`, as npm.
    #[arg(long, value_enum, value_delimiter = ',', requires = "install")]
    pub omit: Vec<OmitType>,
    /// npm with `--install`: run no lifecycle scripts (neither the packages' nor the
    /// project's), as `npm ci --ignore-scripts`.
    #[arg(long, requires = "install")]
    pub ignore_scripts: bool,
}

/// A dependency type `--omit` leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OmitType {
    /// `devDependencies` (entries marked `dev`).
    Dev,
    /// `optionalDependencies` (entries marked `optional`).
    Optional,
    /// Peer dependencies (entries marked `peer`).
    Peer,
}

/// How files get from the store into `node_modules`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LinkMode {
    /// The fastest the filesystem allows: reflink, else hard link, else copy.
    #[default]
    Auto,
    /// Hard links (shared with the store: see the README before a build edits `node_modules`).
    Hardlink,
    /// Copy-on-write clones (btrfs, XFS, APFS-like filesystems); an error elsewhere.
    Reflink,
    /// Plain copies.
    Copy,
}

/// Options choosing the interpreter that `lading restore` fetches pip files for.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "pip target")]
pub struct PythonTargetArgs {
    /// pip: fetch every file a requirement pins (wheels for every platform and the sdist),
    /// as a wheelhouse for several machines needs, instead of the one file pip would
    /// install on the target interpreter; environment markers are not evaluated either.
    #[arg(long)]
    pub all_platforms: bool,
    /// pip: the interpreter to fetch for (asked for its version, ABI, platform and C
    /// library); default `python3` on `PATH`.
    #[arg(long, value_name = "PATH", conflicts_with = "all_platforms")]
    pub python: Option<PathBuf>,
    /// pip: the Python version to fetch for, as `pip download --python-version` takes it
    /// (`3.12` or `312`); the ABI becomes `cp312` unless `--abi` is given.
    #[arg(long, value_name = "VERSION", conflicts_with = "all_platforms")]
    pub python_version: Option<String>,
    /// pip: a platform tag to fetch for (`manylinux2014_aarch64`, `macosx_11_0_arm64`,
    /// `win_amd64`), as `pip download --platform` takes it: the tag itself (macOS versions
    /// and `manylinux2014`/`manylinux2010` on x86 also accept older ones), so repeat it to
    /// accept several. Replaces the interpreter's platforms.
    #[arg(long, value_name = "TAG", conflicts_with = "all_platforms")]
    pub platform: Vec<String>,
    /// pip: an ABI tag to fetch for (`cp312`, `abi3`, `none`; repeatable), as
    /// `pip download --abi` takes it.
    #[arg(long, value_name = "TAG", conflicts_with = "all_platforms")]
    pub abi: Vec<String>,
    /// pip: the implementation tag (`cp`, `pp`), as `pip download --implementation`.
    #[arg(long, value_name = "TAG", conflicts_with = "all_platforms")]
    pub implementation: Option<String>,
    /// Print the target's compatible tags, best first (as `pip debug --verbose` lists
    /// them), and exit.
    #[arg(long, hide = true)]
    pub print_python_tags: bool,
}

/// `HOME`, else the current directory (default cache locations live under it).
#[must_use]
pub fn home() -> PathBuf {
    crate::env_vars::EnvVars::get(crate::env_vars::EnvVars::HOME)
        .map_or_else(|| PathBuf::from("."), PathBuf::from)
}

/// Whether a file name ends in `.txt` (any case).
#[must_use]
pub fn has_txt_extension(name: &str) -> bool {
    Path::new(name)
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("txt"))
}

/// `path` made absolute (for commands printed to copy), or as it is.
#[must_use]
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
