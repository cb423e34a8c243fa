//! Command-line definitions (clap derive) and nothing else.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::diagnostics::EXIT_CODES_HELP;
use crate::env_vars::EnvVars;

/// A build step for artifact repositories.
///
/// lading authenticates to AWS CodeArtifact or any npm / Maven / NuGet / PyPI registry,
/// and ships `lading serve`, an embedded repository that speaks the CodeArtifact API and
/// the npm and generic protocols, for local use and tests with no cloud account.
#[derive(Debug, Parser)]
#[command(name = "lading", version, after_help = EXIT_CODES_HELP, propagate_version = true)]
pub struct Cli {
    /// More output (`-v` debug, `-vv` trace); `LADING_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the embedded repository: a local stand-in for AWS CodeArtifact.
    ///
    /// On an empty data directory it creates domain `local`, repository `main`, and an
    /// admin principal whose keys it writes to `DATA/credentials` (AWS shared-credentials
    /// format, profile `default`, mode 0600), so this works at once:
    ///
    ///   AWS_SHARED_CREDENTIALS_FILE=DATA/credentials aws codeartifact list-domains \
    ///     --endpoint-url http://127.0.0.1:8470 --region us-east-1
    ///
    /// Data planes live at the URLs GetRepositoryEndpoint returns:
    /// `http://HOST/d/DOMAIN/npm/REPO/` (npm) and `http://HOST/d/DOMAIN/generic/REPO/`.
    #[command(after_help = EXIT_CODES_HELP)]
    Serve(ServeArgs),
    /// Fetch every artifact the lockfiles pin, verify it, and put it where the native tool
    /// looks first, so `npm ci --offline`, `pip install --no-index`, `mvn -o` and NuGet
    /// restores run without the network.
    ///
    /// Lockfiles: `package-lock.json` / `npm-shrinkwrap.json` (npm), `requirements*.txt`
    /// with `--hash` pins (pip), `gradle.lockfile`, maven-lockfile's `lockfile.json`, a
    /// `*.txt` list of `group:artifact:version[:classifier][@ext]` given with `--lockfile`
    /// (Maven), `packages.lock.json` (NuGet). Downloads land first in a content-addressed
    /// store in lading's cache directory, so a second restore makes no request.
    #[command(after_help = EXIT_CODES_HELP)]
    Restore(Box<RestoreArgs>),
    /// Print a cache key for the restored caches (hash of the lockfiles, lading's cache
    /// format, OS and architecture) and the paths to cache; exported to `GITHUB_OUTPUT` as
    /// `key` and `paths` when set.
    #[command(after_help = EXIT_CODES_HELP)]
    CacheKey(CacheKeyArgs),
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

/// `lading restore` options.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Lockfiles and cache locations.
    #[command(flatten)]
    pub lockfiles: LockfileArgs,
    /// The repository to restore from.
    #[command(flatten)]
    pub repository: crate::repository::RepositoryArgs,
    /// Downloads in flight at once.
    #[arg(long, short = 'j', default_value_t = 16)]
    pub jobs: usize,
    /// Retry a download when no data arrives for this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub stall_timeout: u64,
    /// Print a JSON report on stdout.
    #[arg(long)]
    pub json: bool,
    /// Maven: the repository id recorded in `_remote.repositories` (the `<id>` of the
    /// repository in your settings or POM); empty records the files as locally installed,
    /// which Maven accepts whatever repositories a build declares.
    #[arg(long, default_value = "")]
    pub maven_repository_id: String,
}

/// `lading cache-key` options.
#[derive(Debug, Args)]
pub struct CacheKeyArgs {
    /// Lockfiles and cache locations.
    #[command(flatten)]
    pub lockfiles: LockfileArgs,
    /// Prefix of the key.
    #[arg(long, default_value = "lading")]
    pub prefix: String,
}

/// `lading serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Data directory (created if missing); holds the index, blobs and admin credentials.
    #[arg(long, env = EnvVars::LADING_SERVE_DATA, default_value = ".lading/repo")]
    pub data: PathBuf,
    /// Address to listen on; port 0 picks a free port (printed on the first log line).
    #[arg(long, env = EnvVars::LADING_SERVE_LISTEN, default_value = "127.0.0.1:8470")]
    pub listen: SocketAddr,
    /// YAML file declaring principals (access keys and per-repository permissions),
    /// domains and repositories.
    #[arg(long, env = EnvVars::LADING_SERVE_CONFIG)]
    pub config: Option<PathBuf>,
    /// Base URL clients use to reach this server, when it differs from the `Host` header
    /// they send (reverse proxy, port mapping). Repository endpoints are built from it.
    #[arg(long, env = EnvVars::LADING_SERVE_PUBLIC_URL)]
    pub public_url: Option<url::Url>,
    /// Region reported in ARNs when a request does not name one.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Pull through an upstream: `FORMAT=URL` (`npm=https://registry.npmjs.org/`) or
    /// `FORMAT=codeartifact://DOMAIN/REPOSITORY[?region=R&domain-owner=O&endpoint-url=U]`
    /// (tokens minted through the AWS credential chain). Becomes the external connection
    /// `upstream:FORMAT` of every repository that has none. Repeatable.
    #[arg(long, value_name = "FORMAT=URL")]
    pub upstream: Vec<String>,
    /// Largest accepted request body, in MiB.
    #[arg(long, default_value_t = 1024)]
    pub max_body_mib: usize,
}
