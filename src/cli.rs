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
    /// Get a token and point package managers at the repository (undo with `lading logout`).
    ///
    /// Flags are named as `aws codeartifact login` names them; `--tool` is repeatable.
    /// By default (`CI` set) the config goes to per-job files wired through the tools' own
    /// env vars (`NPM_CONFIG_USERCONFIG`, `PIP_CONFIG_FILE`, `NETRC`), exported to later
    /// steps (`GITHUB_ENV`, the env file, `--print-env sh`); `mvn -s "$LADING_MAVEN_SETTINGS"`,
    /// `nuget -ConfigFile "$LADING_NUGET_CONFIG"`, `twine --config-file "$LADING_PYPIRC"`.
    #[command(after_help = EXIT_CODES_HELP)]
    Login(LoginArgs),
    /// Return every file `lading login` changed to its bytes before login.
    #[command(after_help = EXIT_CODES_HELP)]
    Logout(LogoutArgs),
    /// Print a repository token on stdout, for scripts that need one.
    #[command(after_help = EXIT_CODES_HELP)]
    Token(TokenArgs),
}

/// A package manager `lading login` configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Tool {
    /// npm (`.npmrc`).
    Npm,
    /// pnpm (reads `.npmrc`).
    Pnpm,
    /// pip (`pip.conf` index-url, credentials in a 0600 netrc).
    Pip,
    /// twine (`.pypirc`, 0600).
    Twine,
    /// Maven (`settings.xml`).
    Maven,
    /// NuGet (`nuget.config`).
    Nuget,
}

/// Where `lading login` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LoginTarget {
    /// Per-job files under `--dir`, wired through env vars (default when `CI` is set).
    Ephemeral,
    /// The user's own files (`~/.npmrc`, `~/.m2/settings.xml`, ...): default outside CI.
    User,
    /// Files in the working directory (`.npmrc`, `nuget.config`, `settings.xml`).
    Project,
}

/// How Maven reaches the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MavenModeArg {
    /// An active profile with the repository and plugin repository.
    Profile,
    /// A mirror of everything.
    Mirror,
}

/// Shell syntax for `--print-env`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    /// POSIX sh (`export NAME='value'`).
    Sh,
}

/// `lading login` options.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Repository selection.
    #[command(flatten)]
    pub repository: crate::repository::RepositoryArgs,
    /// Package manager to configure; repeatable.
    #[arg(long = "tool", value_enum, required = true)]
    pub tools: Vec<Tool>,
    /// npm scope (`@acme`) / NuGet package-id prefix routed to this repository.
    #[arg(long)]
    pub namespace: Option<String>,
    /// Which files to write (default: `ephemeral` when `CI` is set, else `user`).
    #[arg(long, value_enum)]
    pub target: Option<LoginTarget>,
    /// Directory for ephemeral files.
    #[arg(long, env = EnvVars::LADING_LOGIN_DIR)]
    pub dir: Option<PathBuf>,
    /// State file recording what login changed (what `logout` undoes).
    #[arg(long, env = EnvVars::LADING_LOGIN_STATE)]
    pub state_file: Option<PathBuf>,
    /// Print a unified diff (token redacted) of every file and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also print the exported variables on stdout in this shell's syntax.
    #[arg(long, value_enum)]
    pub print_env: Option<Shell>,
    /// Maven: a profile (default) or a mirror of everything.
    #[arg(long, value_enum, default_value = "profile")]
    pub maven_mode: MavenModeArg,
    /// Name of the Maven server/profile, `.pypirc` section and NuGet source (default:
    /// `codeartifact`; NuGet: `DOMAIN/REPOSITORY` as `aws codeartifact login` names it).
    #[arg(long)]
    pub source_name: Option<String>,
    /// User name for Basic auth (default: `aws` for CodeArtifact, `token` otherwise).
    #[arg(long)]
    pub username: Option<String>,
}

/// `lading logout` options.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// State file written by `lading login`.
    #[arg(long, env = EnvVars::LADING_LOGIN_STATE)]
    pub state_file: Option<PathBuf>,
    /// Restore files even if they changed after login.
    #[arg(long)]
    pub force: bool,
    /// Show what would be restored and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `lading token` options.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Repository selection.
    #[command(flatten)]
    pub repository: crate::repository::RepositoryArgs,
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
