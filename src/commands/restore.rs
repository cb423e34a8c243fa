//! `lading restore`: find the lockfiles (each recognised by the first of the registry's
//! restorers that knows it), resolve the repository and its credentials, and hand each
//! restorer its lockfiles; one summary line per restorer on stderr, an optional JSON report
//! on stdout. No format is named here: see [`crate::ecosystem::restore`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::cas::Store;
use crate::cli::{LockfileArgs, RestoreArgs};
use crate::diagnostics::HintedError;
use crate::ecosystem::registry;
use crate::ecosystem::restore::{Job, Options, Recognised, Restorer, absolute};
use crate::env_vars::EnvVars;
use crate::fetcher::{Auth, Fetcher, Stats, Summary};
use crate::format::Format;
use crate::http::{HttpClient, HttpOptions};
use crate::printer::Printer;
use crate::repository::{Credentials, Repository};
use crate::secret::SafeUrl;

/// A kind of lockfile: the restorer that reads it and, among its kinds, which. Orders as
/// `lading restore` runs them: by restorer in the registry's order, then by `rank`.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    /// The restorer (the registry's, through its format).
    pub restorer: &'static dyn Restorer,
    /// The restorer's position in [`registry::restorers`].
    order: usize,
    /// Its rank among the restorer's kinds.
    rank: u8,
}

impl PartialEq for Kind {
    fn eq(&self, other: &Self) -> bool {
        (self.order, self.rank) == (other.order, other.rank)
    }
}

impl Eq for Kind {}

impl PartialOrd for Kind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Kind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.order, self.rank).cmp(&(other.order, other.rank))
    }
}

impl Kind {
    /// Classify a file: the first restorer that recognises it takes it; `Err` names
    /// lockfiles recognised but not supported (yet).
    fn of(path: &Path, explicit: bool) -> Option<Result<Self, &'static str>> {
        let name = path.file_name()?.to_str()?;
        registry::restorers()
            .enumerate()
            .find_map(|(order, restorer)| {
                Some(match restorer.recognise(path, name, explicit)? {
                    Recognised::Lockfile { rank } => Ok(Self {
                        restorer,
                        order,
                        rank,
                    }),
                    Recognised::Unsupported(why) => Err(why),
                })
            })
    }
}

/// Lockfiles found, by kind, and notes on files skipped.
pub type Discovered = (Vec<(Kind, PathBuf)>, Vec<String>);

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
                        format!(
                            "supported: {}",
                            registry::restorers()
                                .map(Restorer::lockfile_names)
                                .filter(|names| !names.is_empty())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                    .into());
                }
            }
        }
    }
    found.sort();
    Ok((found, notes))
}

/// Where `kind`'s packages go.
#[must_use]
pub fn destination(kind: Kind, args: &LockfileArgs) -> PathBuf {
    kind.restorer.destination(args)
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
        if let Some(target) = crate::ecosystem::pypi::restorer::pip_target(&args.python)? {
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
    let options = Options {
        locations: &args.lockfiles,
        install: args.install,
        npm_install: &args.npm_install,
        python: &args.python,
        venv: args.venv.as_deref(),
        compile: args.compile,
        maven_repository_id: &args.maven_repository_id,
    };
    let mut summaries = Vec::new();
    let mut restorers: Vec<Kind> = lockfiles.iter().map(|(kind, _)| *kind).collect();
    restorers.dedup_by_key(|kind| kind.order);
    for first in restorers {
        let restorer = first.restorer;
        let ecosystem = restorer.name();
        let started = Instant::now();
        let mine: Vec<PathBuf> = lockfiles
            .iter()
            .filter(|(kind, _)| kind.order == first.order)
            .map(|(_, path)| path.clone())
            .collect();
        let format = restorer.format();
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
        let destination = restorer.destination(&args.lockfiles);
        let mut summary = Summary::new(ecosystem, destination.clone());
        summary.lockfiles.clone_from(&mine);
        let progress = Progress::start(printer, ecosystem, fetcher.stats.clone());
        restorer
            .restore(Job {
                fetcher: &fetcher,
                endpoint: &endpoint,
                destination: &destination,
                lock_dir: &lock_dir,
                lockfiles: &mine,
                options,
                summary: &mut summary,
            })
            .await
            .with_context(|| format!("failed to restore {ecosystem} packages from {endpoint}"))?;
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
            if summary.packages == 0 || restorer.warns_every_skip() {
                printer.warn(&format!("{ecosystem}: {skipped}"));
            } else {
                tracing::info!("{ecosystem}: skipped {skipped}");
            }
        }
        for warning in &summary.warnings {
            printer.warn(&format!("{ecosystem}: {warning}"));
        }
        if summary.packages > 0
            && let Some(hint) = restorer.offline_hint(&absolute(&summary.destination))
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
