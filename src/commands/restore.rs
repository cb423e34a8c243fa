//! `lading restore`: find the lockfiles, resolve the repository and its credentials, and
//! hand each ecosystem's packages to its restorer; one summary line per ecosystem on
//! stderr, an optional JSON report on stdout.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::cas::Store;
use crate::cli::{LockfileArgs, RestoreArgs};
use crate::diagnostics::HintedError;
use crate::env_vars::EnvVars;
use crate::fetcher::{Auth, Fetcher, Stats, Summary};
use crate::format::Format;
use crate::http::{HttpClient, HttpOptions};
use crate::printer::Printer;
use crate::repository::{Credentials, Repository};
use crate::secret::SafeUrl;

/// The kinds of lockfile `restore` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `package-lock.json`, `npm-shrinkwrap.json`.
    Npm,
    /// yarn 1 `yarn.lock`.
    Yarn,
    /// yarn 2+ (berry) `yarn.lock`.
    YarnBerry,
    /// `pnpm-lock.yaml`.
    Pnpm,
    /// `requirements*.txt`, `uv.lock`, `pylock.toml`, `poetry.lock`.
    Pip,
    /// `gradle.lockfile`.
    Gradle,
    /// maven-lockfile's `lockfile.json`.
    MavenLockfile,
    /// A plain list of Maven coordinates.
    MavenCoordinates,
    /// `packages.lock.json`.
    NuGet,
    /// `Cargo.lock`.
    Cargo,
    /// `Gemfile.lock`.
    Gemfile,
}

/// The restorers: one per client that keeps its own cache (npm, yarn and pnpm all read
/// the npm format, each into its own store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Restorer {
    /// npm's cacache.
    Npm,
    /// yarn 1's offline mirror.
    Yarn,
    /// yarn 2+'s zip cache.
    YarnBerry,
    /// pnpm's content-addressable store.
    Pnpm,
    /// A wheelhouse (or, with `--install`, a virtual environment).
    Pypi,
    /// Maven's local repository.
    Maven,
    /// NuGet's global packages folder.
    Nuget,
    /// A cargo vendor directory.
    Cargo,
    /// Bundler's gem cache (`vendor/cache`).
    Bundler,
}

impl Restorer {
    /// Its name in the summary line and the JSON report.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Npm => "npm",
            Self::Yarn => "yarn",
            Self::YarnBerry => "yarn-berry",
            Self::Pnpm => "pnpm",
            Self::Pypi => "pypi",
            Self::Maven => "maven",
            Self::Nuget => "nuget",
            Self::Cargo => "cargo",
            Self::Bundler => "bundler",
        }
    }
}

impl Kind {
    /// The restorer that reads it.
    #[must_use]
    pub const fn restorer(self) -> Restorer {
        match self {
            Self::Npm => Restorer::Npm,
            Self::Yarn => Restorer::Yarn,
            Self::YarnBerry => Restorer::YarnBerry,
            Self::Pnpm => Restorer::Pnpm,
            Self::Pip => Restorer::Pypi,
            Self::Gradle | Self::MavenLockfile | Self::MavenCoordinates => Restorer::Maven,
            Self::NuGet => Restorer::Nuget,
            Self::Cargo => Restorer::Cargo,
            Self::Gemfile => Restorer::Bundler,
        }
    }

    /// The ecosystem (restorer) name it belongs to.
    #[must_use]
    pub const fn ecosystem(self) -> &'static str {
        self.restorer().name()
    }

    /// How the Maven restorer reads it (`None`: not a Maven lockfile).
    #[must_use]
    pub const fn maven_format(self) -> Option<crate::ecosystem::maven::restore::Format> {
        use crate::ecosystem::maven::restore::Format as Maven;
        match self {
            Self::Gradle => Some(Maven::Gradle),
            Self::MavenLockfile => Some(Maven::MavenLockfile),
            Self::MavenCoordinates => Some(Maven::Coordinates),
            Self::Npm
            | Self::Yarn
            | Self::YarnBerry
            | Self::Pnpm
            | Self::Pip
            | Self::NuGet
            | Self::Cargo
            | Self::Gemfile => None,
        }
    }

    /// The repository format its packages come from.
    #[must_use]
    pub const fn format(self) -> Format {
        match self {
            Self::Npm | Self::Yarn | Self::YarnBerry | Self::Pnpm => Format::Npm,
            Self::Pip => Format::Pypi,
            Self::Gradle | Self::MavenLockfile | Self::MavenCoordinates => Format::Maven,
            Self::NuGet => Format::Nuget,
            Self::Cargo => Format::Cargo,
            Self::Gemfile => Format::Ruby,
        }
    }

    /// Classify a file by name; `Err` names formats recognised but not supported yet.
    fn of(path: &Path, explicit: bool) -> Option<Result<Self, &'static str>> {
        let name = path.file_name()?.to_str()?;
        Some(match name {
            "package-lock.json" | "npm-shrinkwrap.json" => Ok(Self::Npm),
            "gradle.lockfile" => Ok(Self::Gradle),
            "packages.lock.json" => Ok(Self::NuGet),
            "lockfile.json" => {
                if !explicit && !is_maven_lockfile(path) {
                    return None;
                }
                Ok(Self::MavenLockfile)
            }
            // Older ones are skipped when found, not named.
            "pnpm-lock.yaml"
                if explicit
                    || fs_err::read_to_string(path)
                        .is_ok_and(|text| crate::ecosystem::npm::pnpm::is_current(&text)) =>
            {
                Ok(Self::Pnpm)
            }
            "pnpm-lock.yaml" => Err(
                "lockfiles older than pnpm 8's are not restored (found, so skipped): rewrite it with a current pnpm",
            ),
            "yarn.lock" => {
                // Unreadable: let the restore report the I/O error.
                let text = fs_err::read_to_string(path);
                match text.as_deref() {
                    Ok(text) if crate::ecosystem::npm::yarn_berry::is_berry(text) => {
                        if crate::ecosystem::npm::yarn_berry::has_supported_cache_key(text) {
                            Ok(Self::YarnBerry)
                        } else {
                            Err(
                                "yarn 2+ lockfiles are restored only with yarn 4's default cacheKey `10c0` (`compressionLevel: 0`), whose cache archives lading rebuilds byte for byte: rewrite it with yarn 4 (`yarn install`)",
                            )
                        }
                    }
                    _ => Ok(Self::Yarn),
                }
            }
            // Named only: its vendor directory does nothing until the build opts in to it
            // (source replacement), and a repository may not hold the crates at all.
            "Cargo.lock" if explicit => Ok(Self::Cargo),
            "Cargo.lock" => Err(
                "Cargo.lock is restored only when named: pass `--lockfile Cargo.lock` to put its crates in a vendor directory for `cargo build --offline`",
            ),
            _ if name.starts_with("requirements") && has_txt_extension(name) => Ok(Self::Pip),
            _ if crate::ecosystem::pypi::lock::is_lock_file_name(name) => Ok(Self::Pip),
            crate::ecosystem::pypi::poetry_lock::FILE_NAME => Ok(Self::Pip),
            crate::ecosystem::ruby::gemfile_lock::FILE_NAME => Ok(Self::Gemfile),
            _ if explicit && has_txt_extension(name) => Ok(Self::MavenCoordinates),
            _ => return None,
        })
    }
}

fn has_txt_extension(name: &str) -> bool {
    Path::new(name)
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("txt"))
}

/// Lockfiles found, by kind, and notes on files skipped.
pub type Discovered = (Vec<(Kind, PathBuf)>, Vec<String>);

fn is_maven_lockfile(path: &Path) -> bool {
    fs_err::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .is_some_and(|document| {
            document.get("dependencies").is_some()
                && (document.get("lockFileVersion").is_some()
                    || document.get("groupId").is_some()
                    || document.get("groupID").is_some())
        })
}

const SKIPPED_DIRS: &[&str] = &[
    "node_modules",
    "vendor",
    "target",
    "bin",
    "obj",
    "venv",
    "__pycache__",
];

fn walk(dir: &Path, depth: usize, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs_err::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(fs_err::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            // A vendored crate (`.cargo-checksum.json`) brings its own lockfiles.
            if depth > 0
                && !name.starts_with('.')
                && !SKIPPED_DIRS.contains(&name.as_str())
                && !path.join(".cargo-checksum.json").exists()
            {
                walk(&path, depth - 1, found);
            }
        } else if kind.is_file() {
            found.push(path);
        }
    }
}

/// The lockfiles to restore: those named, else those found under `--dir`, with notes on
/// files recognised but skipped.
///
/// # Errors
/// A named lockfile that is missing or of an unsupported kind.
pub fn discover(args: &LockfileArgs) -> anyhow::Result<Discovered> {
    let mut found = Vec::new();
    let mut notes = Vec::new();
    if args.lockfiles.is_empty() {
        let mut files = Vec::new();
        walk(&args.dir, 6, &mut files);
        for path in files {
            match Kind::of(&path, false) {
                Some(Ok(kind)) => found.push((kind, path)),
                Some(Err(why)) => notes.push(format!("`{}`: {why}", path.display())),
                None => {}
            }
        }
        // npm reads npm-shrinkwrap.json instead of package-lock.json when both exist.
        let shrinkwraps: Vec<PathBuf> = found
            .iter()
            .filter(|(_, path)| path.ends_with("npm-shrinkwrap.json"))
            .filter_map(|(_, path)| path.parent().map(Path::to_path_buf))
            .collect();
        found.retain(|(_, path)| {
            !(path.ends_with("package-lock.json")
                && path
                    .parent()
                    .is_some_and(|parent| shrinkwraps.iter().any(|dir| dir == parent)))
        });
    } else {
        for path in &args.lockfiles {
            if !path.is_file() {
                return Err(HintedError::new(
                    format!("lockfile `{}` does not exist", path.display()),
                    "pass an existing file to `--lockfile`, or drop it to search `--dir`",
                )
                .into());
            }
            match Kind::of(path, true) {
                Some(Ok(kind)) => found.push((kind, path.clone())),
                Some(Err(why)) => {
                    return Err(HintedError::new(
                        format!("`{}`: {why}", path.display()),
                        "restore the lockfiles lading supports and let the native tool fetch the rest",
                    )
                    .into());
                }
                None => {
                    return Err(HintedError::new(
                        format!("`{}` is not a lockfile lading knows", path.display()),
                        "supported: package-lock.json, npm-shrinkwrap.json, pnpm-lock.yaml, yarn.lock (yarn 1, yarn 4), requirements*.txt, uv.lock, pylock.toml, poetry.lock, Gemfile.lock, gradle.lockfile, lockfile.json (maven-lockfile), *.txt Maven coordinates, packages.lock.json, Cargo.lock",
                    )
                    .into());
                }
            }
        }
    }
    found.sort();
    Ok((found, notes))
}

fn home() -> PathBuf {
    EnvVars::get(EnvVars::HOME).map_or_else(|| PathBuf::from("."), PathBuf::from)
}

/// Where npm's cache is: `--npm-cache`, `npm_config_cache`, else `~/.npm`.
#[must_use]
pub fn npm_cache_dir(args: &LockfileArgs) -> PathBuf {
    args.npm_cache
        .clone()
        .or_else(|| EnvVars::get(EnvVars::NPM_CONFIG_CACHE_LOWER).map(PathBuf::from))
        .or_else(|| EnvVars::get(EnvVars::NPM_CONFIG_CACHE).map(PathBuf::from))
        .unwrap_or_else(|| home().join(".npm"))
}

/// yarn 1's offline mirror: `--yarn-offline-mirror`, `YARN_YARN_OFFLINE_MIRROR`, else
/// `.lading/yarn-offline-mirror`.
#[must_use]
pub fn yarn_offline_mirror(args: &LockfileArgs) -> PathBuf {
    args.yarn_offline_mirror
        .clone()
        .or_else(|| EnvVars::get(EnvVars::YARN_YARN_OFFLINE_MIRROR).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(".lading/yarn-offline-mirror"))
}

/// Maven's local repository: `--maven-repo`, `-Dmaven.repo.local` in `MAVEN_OPTS`, else
/// `~/.m2/repository`.
#[must_use]
pub fn maven_repo_dir(args: &LockfileArgs) -> PathBuf {
    args.maven_repo
        .clone()
        .or_else(|| {
            EnvVars::get(EnvVars::MAVEN_OPTS).and_then(|options| {
                options
                    .split_whitespace()
                    .find_map(|option| option.strip_prefix("-Dmaven.repo.local="))
                    .map(|value| PathBuf::from(value.trim_matches('"')))
            })
        })
        .unwrap_or_else(|| home().join(".m2/repository"))
}

/// NuGet's global packages folder: `--nuget-packages`, `NUGET_PACKAGES`, else
/// `~/.nuget/packages`.
#[must_use]
pub fn nuget_packages_dir(args: &LockfileArgs) -> PathBuf {
    args.nuget_packages
        .clone()
        .or_else(|| EnvVars::get(EnvVars::NUGET_PACKAGES).map(PathBuf::from))
        .unwrap_or_else(|| home().join(".nuget/packages"))
}

/// The interpreter a pip restore fetches for (`None` with `--all-platforms`).
fn pip_target(
    args: &crate::ecosystem::pypi::tags::TargetArgs,
) -> anyhow::Result<Option<crate::ecosystem::pypi::tags::Target>> {
    crate::ecosystem::pypi::tags::target(args).map_err(|error| {
        let message = match std::error::Error::source(&error) {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        };
        HintedError::new(message, error.hint()).into()
    })
}

/// The virtual environment `--install` fills from pip lockfiles: `--venv`, `VIRTUAL_ENV`,
/// else `.venv`.
fn pip_venv(args: &RestoreArgs) -> PathBuf {
    args.venv
        .clone()
        .or_else(|| EnvVars::get(EnvVars::VIRTUAL_ENV).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(".venv"))
}

/// Where `kind`'s packages go.
#[must_use]
pub fn destination(kind: Kind, args: &LockfileArgs) -> PathBuf {
    match kind {
        Kind::Npm => npm_cache_dir(args),
        Kind::Yarn => yarn_offline_mirror(args),
        Kind::YarnBerry => args
            .yarn_berry_cache
            .clone()
            .unwrap_or_else(|| crate::ecosystem::npm::yarn_berry::global_folder().join("cache")),
        Kind::Pnpm => crate::ecosystem::npm::pnpm::default_store_dir(args.pnpm_store.as_deref()),
        Kind::Pip => args.wheelhouse.clone(),
        Kind::Gradle | Kind::MavenLockfile | Kind::MavenCoordinates => maven_repo_dir(args),
        Kind::NuGet => nuget_packages_dir(args),
        Kind::Cargo => args.cargo_vendor.clone(),
        Kind::Gemfile => args
            .bundle_cache
            .clone()
            .unwrap_or_else(|| PathBuf::from("vendor/cache")),
    }
}

fn auth_for(format: Format, endpoint: &SafeUrl, credentials: &Credentials) -> Option<Auth> {
    let token = credentials.token.as_ref()?;
    Some(Auth::for_format(
        format,
        endpoint,
        &credentials.username,
        token,
    ))
}

/// A spinner on stderr while one ecosystem restores, counting downloads: only on a
/// terminal, outside CI (`CI` set) and without `-q`; CI logs get the summary line alone.
/// Cleared when dropped, on success or error.
struct Progress {
    bar: indicatif::ProgressBar,
    ticker: tokio::task::JoinHandle<()>,
}

impl Progress {
    fn start(printer: Printer, ecosystem: &'static str, stats: Arc<Stats>) -> Option<Self> {
        use std::io::IsTerminal as _;
        if printer.quiet()
            || EnvVars::get(EnvVars::CI).is_some()
            || !std::io::stderr().is_terminal()
        {
            return None;
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {prefix}: {msg} [{elapsed}]")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.set_prefix(ecosystem);
        bar.enable_steady_tick(Duration::from_millis(100));
        let shown = bar.clone();
        let ticker = tokio::spawn(async move {
            loop {
                shown.set_message(format!(
                    "{} downloaded ({}), {} from the store",
                    stats.downloaded.load(Ordering::Relaxed),
                    mib(stats.bytes.load(Ordering::Relaxed)),
                    stats.from_store.load(Ordering::Relaxed)
                ));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Some(Self { bar, ticker })
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}

fn mib(bytes: u64) -> String {
    #[expect(clippy::cast_precision_loss, reason = "a human-readable size")]
    let value = bytes as f64 / (1024.0 * 1024.0);
    format!("{value:.1} MiB")
}

/// Run `lading restore`.
///
/// # Errors
/// No lockfile, repository or credential problems, and the first failed download.
pub async fn run(args: RestoreArgs, printer: Printer) -> anyhow::Result<()> {
    if args.python.print_python_tags {
        if let Some(target) = pip_target(&args.python)? {
            printer.data(&target.tags.join("\n"));
        }
        return Ok(());
    }
    let (lockfiles, notes) = discover(&args.lockfiles)?;
    for note in &notes {
        printer.warn(note);
    }
    if lockfiles.is_empty() {
        return Err(HintedError::new(
            format!("no lockfile found under `{}`", args.lockfiles.dir.display()),
            "run in the project directory, or pass `--lockfile PATH`",
        )
        .into());
    }
    let repository = Repository::resolve(&args.repository)?;
    let credentials = repository
        .credentials()
        .await
        .context("failed to get credentials for the repository")?;
    let http =
        HttpClient::new(&HttpOptions::default()).context("failed to start the HTTP client")?;
    let store = Store::new(&crate::repository::cache_dir());
    let lock_dir = crate::repository::cache_dir().join("locks");
    let mut summaries = Vec::new();
    let mut restorers: Vec<Restorer> = lockfiles.iter().map(|(kind, _)| kind.restorer()).collect();
    restorers.dedup();
    for restorer in restorers {
        let ecosystem = restorer.name();
        let started = Instant::now();
        let mine: Vec<(Kind, PathBuf)> = lockfiles
            .iter()
            .filter(|(kind, _)| kind.restorer() == restorer)
            .cloned()
            .collect();
        let format = mine[0].0.format();
        let endpoint = repository
            .endpoint(format)
            .await
            .with_context(|| format!("failed to find the repository's {format} endpoint"))?;
        let fetcher = Fetcher::new(
            http.clone(),
            store.clone(),
            auth_for(format, &endpoint, &credentials),
            args.jobs,
            Duration::from_secs(args.stall_timeout.max(1)),
        );
        let destination = destination(mine[0].0, &args.lockfiles);
        let mut summary = Summary::new(ecosystem, destination.clone());
        summary.lockfiles = mine.iter().map(|(_, path)| path.clone()).collect();
        let context = || format!("failed to restore {ecosystem} packages from {endpoint}");
        let progress = Progress::start(printer, ecosystem, fetcher.stats.clone());
        match restorer {
            Restorer::Npm if args.install => {
                install_npm(&fetcher, &endpoint, &args.npm_install, &mine, &mut summary)
                    .await
                    .with_context(context)?;
            }
            Restorer::Npm => restore_npm(
                &fetcher,
                &endpoint,
                &destination,
                &lock_dir,
                &mine,
                &mut summary,
            )
            .await
            .with_context(context)?,
            Restorer::Pnpm => {
                crate::ecosystem::npm::pnpm::restore(
                    &fetcher,
                    &endpoint,
                    &destination,
                    &lock_dir,
                    &mine_paths(&mine),
                    &mut summary,
                )
                .await
                .with_context(context)?;
            }
            Restorer::Yarn => {
                crate::ecosystem::npm::yarn_lock::restore(
                    &fetcher,
                    &endpoint,
                    &destination,
                    &mine_paths(&mine),
                    &mut summary,
                )
                .await
                .with_context(context)?;
            }
            Restorer::YarnBerry => {
                crate::ecosystem::npm::yarn_berry::restore(
                    &fetcher,
                    &endpoint,
                    &destination,
                    &mine_paths(&mine),
                    &mut summary,
                )
                .await
                .with_context(context)?;
            }
            Restorer::Bundler => {
                crate::ecosystem::ruby::gemfile_lock::restore(
                    &fetcher,
                    &endpoint,
                    args.lockfiles.bundle_cache.as_deref(),
                    &mine_paths(&mine),
                    &mut summary,
                )
                .await
                .with_context(context)?;
            }
            Restorer::Cargo => {
                crate::ecosystem::cargo::restore::restore(
                    &fetcher,
                    &endpoint,
                    &destination,
                    &lock_dir,
                    &mine_paths(&mine),
                    &mut summary,
                )
                .await
                .with_context(context)?;
            }
            Restorer::Pypi if args.install => {
                summary.destination = pip_venv(&args);
                crate::ecosystem::pypi::install::install(
                    &fetcher,
                    &endpoint,
                    &mine_paths(&mine),
                    &args.python,
                    &crate::ecosystem::pypi::install::InstallOptions {
                        venv: summary.destination.clone(),
                        compile: args.compile,
                    },
                    &mut summary,
                )
                .await
                .with_context(context)?;
            }
            Restorer::Pypi => {
                let target = pip_target(&args.python)?;
                crate::ecosystem::pypi::restore::restore(
                    &fetcher,
                    &endpoint,
                    &destination,
                    &mine_paths(&mine),
                    &crate::ecosystem::pypi::restore::Selection::new(target.as_ref()),
                    &mut summary,
                )
                .await
                .with_context(context)?;
            }
            Restorer::Maven => {
                let inputs = mine
                    .iter()
                    .filter_map(|(kind, path)| Some((kind.maven_format()?, path.clone())))
                    .collect::<Vec<_>>();
                crate::ecosystem::maven::restore::restore(
                    &fetcher,
                    &endpoint,
                    &destination,
                    &args.maven_repository_id,
                    &inputs,
                    &mut summary,
                )
                .await
                .with_context(context)?;
            }
            Restorer::Nuget => crate::ecosystem::nuget::restore::restore(
                &fetcher,
                &endpoint,
                &destination,
                &lock_dir,
                &mine_paths(&mine),
                &mut summary,
            )
            .await
            .with_context(context)?,
        }
        drop(progress);
        summary.count(&fetcher.stats);
        summary.seconds = started.elapsed().as_secs_f64();
        printer.status(&format!(
            "{ecosystem}: {} packages from {} into `{}` ({} downloaded, {}; {} from the store) in {:.1}s",
            summary.packages,
            summary
                .lockfiles
                .iter()
                .map(|path| format!("`{}`", path.display()))
                .collect::<Vec<_>>()
                .join(", "),
            summary.destination.display(),
            summary.downloaded,
            mib(summary.bytes),
            summary.from_store,
            summary.seconds
        ));
        for skipped in &summary.skipped {
            // Nothing restored, or an offline yarn/cargo install would miss it: say so
            // where it shows.
            if summary.packages == 0
                || matches!(
                    restorer,
                    Restorer::Yarn
                        | Restorer::YarnBerry
                        | Restorer::Pnpm
                        | Restorer::Cargo
                        | Restorer::Bundler
                )
            {
                printer.warn(&format!("{ecosystem}: {skipped}"));
            } else {
                tracing::info!("{ecosystem}: skipped {skipped}");
            }
        }
        if summary.packages > 0
            && let Some(hint) = offline_hint(restorer, &absolute(&summary.destination))
        {
            printer.status(&hint);
        }
        summaries.push(summary);
    }
    if args.json {
        let report = serde_json::json!({
            "store": store.root(),
            "ecosystems": summaries,
        });
        printer.data(&serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}

/// The offline install command for what `restorer` restored into `destination`, where it
/// needs one the user would not guess (a store, mirror or vendor directory to name).
fn offline_hint(restorer: Restorer, destination: &Path) -> Option<String> {
    let shown = destination.display();
    match restorer {
        Restorer::Cargo => Some(format!(
            "cargo: build with `cargo build --offline --config \"source.crates-io.replace-with='lading-vendor'\" --config \"source.lading-vendor.directory='{shown}'\"`"
        )),
        Restorer::Pnpm => Some(format!(
            "pnpm: install with `pnpm install --offline --frozen-lockfile --store-dir '{shown}'` (pnpm 12 or 10)"
        )),
        // Not when the variable already names it.
        Restorer::Yarn
            if EnvVars::get(EnvVars::YARN_YARN_OFFLINE_MIRROR)
                .is_none_or(|value| absolute(Path::new(&value)) != destination) =>
        {
            Some(format!(
                "yarn: install with `{}='{shown}' yarn install --offline --frozen-lockfile`",
                EnvVars::YARN_YARN_OFFLINE_MIRROR
            ))
        }
        Restorer::YarnBerry => Some(format!(
            "yarn-berry: install with `yarn install --immutable` (the archives are in `{shown}`; set `YARN_GLOBAL_FOLDER` to its parent if yarn's global folder is elsewhere)"
        )),
        Restorer::Bundler => Some(format!(
            "bundler: install with `bundle install --local` (the gems are in `{shown}`, Bundler's `vendor/cache` when beside the Gemfile)"
        )),
        Restorer::Yarn | Restorer::Npm | Restorer::Pypi | Restorer::Maven | Restorer::Nuget => None,
    }
}

/// `path` made absolute (for commands printed to copy), or as it is.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn mine_paths(mine: &[(Kind, PathBuf)]) -> Vec<PathBuf> {
    mine.iter().map(|(_, path)| path.clone()).collect()
}

async fn restore_npm(
    fetcher: &Fetcher,
    endpoint: &SafeUrl,
    destination: &Path,
    lock_dir: &Path,
    lockfiles: &[(Kind, PathBuf)],
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let mut packages = std::collections::BTreeSet::new();
    for (_, path) in lockfiles {
        let lockfile = crate::ecosystem::npm::lockfile::read(path)?;
        summary.skipped.extend(
            lockfile
                .skipped
                .iter()
                .map(|reason| format!("{}: {reason}", path.display())),
        );
        packages.extend(lockfile.packages);
    }
    let packages: Vec<_> = packages.into_iter().collect();
    summary.packages = crate::ecosystem::npm::restore::restore(
        fetcher,
        endpoint,
        destination,
        lock_dir,
        &packages,
    )
    .await?;
    Ok(())
}

/// `--install` for npm lockfiles: each one's `node_modules`, as `npm ci` writes it.
async fn install_npm(
    fetcher: &Fetcher,
    endpoint: &SafeUrl,
    install: &crate::cli::NpmInstallArgs,
    lockfiles: &[(Kind, PathBuf)],
    summary: &mut Summary,
) -> anyhow::Result<()> {
    use crate::cli::OmitType;
    use crate::ecosystem::npm::install;
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
    for (_, lockfile) in lockfiles {
        let installed = install::install(fetcher, endpoint, lockfile, &options).await?;
        summary.packages += installed.packages;
        summary.skipped.extend(
            installed
                .skipped
                .iter()
                .map(|reason| format!("{}: {reason}", lockfile.display())),
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
