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
    /// Close connections that send no complete request headers within this many seconds
    /// (idle keep-alives, slowloris clients).
    #[arg(long, default_value_t = 30)]
    pub header_timeout_seconds: u64,
    /// Largest accepted request body, in MiB.
    #[arg(long, default_value_t = 1024)]
    pub max_body_mib: usize,
}
