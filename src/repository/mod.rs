//! Where packages live, resolved from command-line flags or `lading.yml`: an AWS
//! CodeArtifact repository (tokens minted through aws-sdk-codeartifact and the normal AWS
//! credential chain) or any registry reachable by URL with a token.
//!
//! Every command that talks to a repository (`login`, `token`, `restore`, `publish`) takes
//! the same [`RepositoryArgs`] and calls [`Repository::resolve`], then asks for
//! [`Repository::endpoint`] per format and [`Repository::credentials`]. Tokens are cached
//! on disk (0600, keyed by the target and where the AWS credentials come from, never by
//! the token) and reused until [`TOKEN_REUSE_MARGIN_SECONDS`] before they expire, so a
//! second `login` in the same job makes no CodeArtifact call.

pub mod codeartifact;

use std::path::{Path, PathBuf};

use clap::Args;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use self::codeartifact::{CodeArtifact, CodeArtifactError, Target};
use crate::config::{Config, RepositoryConfig, RepositoryKind};
use crate::diagnostics::{Cause, Diagnostic, as_diagnostic};
use crate::env_vars::EnvVars;
use crate::secret::{SafeUrl, Secret};

/// A cached token is reused only while it has at least this long to live.
pub const TOKEN_REUSE_MARGIN_SECONDS: f64 = 15.0 * 60.0;

/// Repository selection flags, shared by every command that talks to a repository. The
/// CodeArtifact flags are named as `aws codeartifact login` names them.
#[derive(Debug, Clone, Default, Args)]
pub struct RepositoryArgs {
    /// CodeArtifact domain.
    #[arg(long, help_heading = "Repository")]
    pub domain: Option<String>,
    /// 12-digit account that owns the domain (default: the caller's).
    #[arg(long, help_heading = "Repository")]
    pub domain_owner: Option<String>,
    /// CodeArtifact repository.
    #[arg(long, help_heading = "Repository")]
    pub repository: Option<String>,
    /// AWS region (default: the AWS chain's: AWS_REGION, the profile...).
    #[arg(long, help_heading = "Repository")]
    pub region: Option<String>,
    /// Control-plane endpoint override: a VPC endpoint, or `lading serve`.
    #[arg(long, help_heading = "Repository")]
    pub endpoint_url: Option<String>,
    /// Token lifetime in seconds: 0 (the role session's) or 900..43200 (default 43200).
    #[arg(long, help_heading = "Repository")]
    pub duration_seconds: Option<u64>,
    /// Any other registry: its URL (npm registry, Maven repository, PyPI index, NuGet v3 index,
    /// cargo sparse index, also as cargo writes it: `sparse+https://...`);
    /// `https://USER@host/...` names the user for Basic auth.
    #[arg(long, help_heading = "Repository", conflicts_with_all = ["domain", "repository"], value_parser = parse_registry_url)]
    pub registry_url: Option<url::Url>,
    /// Environment variable holding the registry token (never pass a token as an argument).
    #[arg(long, help_heading = "Repository", requires = "registry_url")]
    pub token_env: Option<String>,
    /// File holding the registry token.
    #[arg(
        long,
        help_heading = "Repository",
        requires = "registry_url",
        conflicts_with = "token_env"
    )]
    pub token_file: Option<PathBuf>,
    /// A repository from `lading.yml` (`repositories.<NAME>`); default: `default`, or the only one.
    #[arg(long = "repository-name", help_heading = "Repository")]
    pub repository_name: Option<String>,
    /// The pipeline config file.
    #[arg(long = "config", env = EnvVars::LADING_CONFIG, help_heading = "Repository", default_value = crate::config::DEFAULT_FILE_NAME)]
    pub config: PathBuf,
}

/// Errors resolving a repository or its credentials.
#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    /// Neither flags nor `lading.yml` name a repository.
    #[error("no repository given")]
    NotConfigured,
    /// `--repository-name` names nothing in `lading.yml`.
    #[error("`{name}` is not a repository in `{path}` (it has: {known})")]
    UnknownName {
        /// The name asked for.
        name: String,
        /// The config file.
        path: PathBuf,
        /// The names it has.
        known: String,
    },
    /// Flags or config are incomplete.
    #[error("{0}")]
    Incomplete(String),
    /// The token variable is unset or empty.
    #[error("environment variable `{0}` is not set or empty")]
    TokenEnvMissing(String),
    /// The token file cannot be read or is empty.
    #[error("failed to read a token from `{path}`")]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// CodeArtifact refused or could not be reached.
    #[error(transparent)]
    CodeArtifact(#[from] CodeArtifactError),
    /// `lading.yml` is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

/// Finds this module's errors, and [`codeartifact`]'s, in an error chain (see
/// [`crate::diagnostics::Probe`]).
pub fn diagnostic(error: &Cause) -> Option<&dyn Diagnostic> {
    as_diagnostic::<RepositoryError>(error).or_else(|| codeartifact::diagnostic(error))
}

impl Diagnostic for RepositoryError {
    // `CodeArtifact` and `Config` are transparent: the inner error is not a link of its own
    // in the chain, so its hint and exit code are asked for here.
    fn exit_code(&self) -> Option<u8> {
        match self {
            Self::CodeArtifact(error) => error.exit_code(),
            Self::Config(error) => error.exit_code(),
            Self::NotConfigured
            | Self::UnknownName { .. }
            | Self::Incomplete(_)
            | Self::TokenEnvMissing(_)
            | Self::TokenFile { .. } => None,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::NotConfigured => Some(
                "pass `--domain D --repository R` (CodeArtifact) or `--registry-url URL --token-env VAR`, or add `repositories:` to `lading.yml`".to_owned(),
            ),
            Self::TokenEnvMissing(variable) => Some(format!("export `{variable}` in the CI step, e.g. from the CI's secret store")),
            Self::TokenFile { .. } => Some("write the token into the file (mode 0600) or use `--token-env`".to_owned()),
            Self::CodeArtifact(error) => error.hint(),
            Self::Config(error) => error.hint(),
            Self::UnknownName { .. } | Self::Incomplete(_) => None,
        }
    }
}

/// Where the token of a plain registry comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// An environment variable.
    Env(String),
    /// A file.
    File(PathBuf),
    /// No token (anonymous reads).
    None,
}

/// A resolved repository.
#[derive(Debug, Clone)]
pub enum Repository {
    /// AWS CodeArtifact (or `lading serve`).
    CodeArtifact {
        /// Which repository.
        target: Target,
        /// Token lifetime.
        duration_seconds: Option<u64>,
    },
    /// Any registry by URL.
    Url {
        /// Its URL (used for every format).
        url: SafeUrl,
        /// The token's source.
        token: TokenSource,
    },
}

/// Credentials for a repository's data plane.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// User name for Basic auth (`aws` for CodeArtifact).
    pub username: String,
    /// The token (Bearer, or the Basic password).
    pub token: Option<Secret<String>>,
    /// Expiry, epoch seconds, when known.
    pub expires: Option<f64>,
    /// Whether the token came from the on-disk cache.
    pub cached: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct CachedToken {
    token: String,
    expires: f64,
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64())
}

/// lading's cache directory: `LADING_CACHE_DIR`, else `$XDG_CACHE_HOME/lading`, else
/// `~/.cache/lading`.
#[must_use]
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = EnvVars::get(EnvVars::LADING_CACHE_DIR) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = EnvVars::get("XDG_CACHE_HOME") {
        return Path::new(&dir).join("lading");
    }
    EnvVars::get("HOME").map_or_else(
        || PathBuf::from(".lading/cache"),
        |home| Path::new(&home).join(".cache/lading"),
    )
}

/// Where the AWS credential chain will take its credentials from, as a hash: the access
/// key id in the environment, the profile, the web-identity role, and the bytes of the
/// shared credentials and config files. It changes when the keys rotate or the source
/// changes, yet needs no call (resolving the credentials themselves would cost an STS or
/// SSO round trip on every run, and give temporary credentials a new key id each time).
#[must_use]
pub fn credential_source_fingerprint() -> String {
    let home = EnvVars::get(EnvVars::HOME).map(PathBuf::from);
    let file = |variable: &str, default: &str| {
        EnvVars::get(variable)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|home| home.join(default)))
            .and_then(|path| fs_err::read(path).ok())
            .map(|bytes| hex::encode(sha2::Sha256::digest(bytes)))
            .unwrap_or_default()
    };
    let text = [
        EnvVars::get(EnvVars::AWS_ACCESS_KEY_ID).unwrap_or_default(),
        EnvVars::get(EnvVars::AWS_PROFILE).unwrap_or_default(),
        EnvVars::get(EnvVars::AWS_ROLE_ARN).unwrap_or_default(),
        file(EnvVars::AWS_SHARED_CREDENTIALS_FILE, ".aws/credentials"),
        file(EnvVars::AWS_CONFIG_FILE, ".aws/config"),
    ]
    .join("\n");
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// Parse a registry URL, taking cargo's `sparse+` prefix off (`.cargo/config.toml` writes
/// `index = "sparse+https://..."`; the index itself is plain HTTP(S)).
///
/// # Errors
/// Not a URL, or not `http`/`https` once the prefix is off.
pub fn parse_registry_url(text: &str) -> Result<url::Url, String> {
    let plain = text.strip_prefix("sparse+").unwrap_or(text);
    let url = url::Url::parse(plain).map_err(|error| format!("`{text}` is not a URL: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "`{text}`: lading reaches registries over `http` or `https` (a cargo index as `sparse+https://...` is fine), not `{}`",
            url.scheme()
        ));
    }
    Ok(url)
}

impl Repository {
    /// Resolve from flags first, then `lading.yml` (a missing file is fine when flags suffice).
    ///
    /// # Errors
    /// [`RepositoryError`] saying what is missing.
    pub fn resolve(args: &RepositoryArgs) -> Result<Self, RepositoryError> {
        if let Some(url) = &args.registry_url {
            let token = match (&args.token_env, &args.token_file) {
                (Some(variable), _) => TokenSource::Env(variable.clone()),
                (None, Some(path)) => TokenSource::File(path.clone()),
                (None, None) => TokenSource::None,
            };
            return Ok(Self::Url {
                url: SafeUrl::from(url.clone()),
                token,
            });
        }
        if args.domain.is_some() || args.repository.is_some() {
            let (Some(domain), Some(repository)) = (&args.domain, &args.repository) else {
                return Err(RepositoryError::Incomplete(
                    "CodeArtifact needs both `--domain` and `--repository`".to_owned(),
                ));
            };
            return Ok(Self::CodeArtifact {
                target: Target {
                    domain: domain.clone(),
                    domain_owner: args.domain_owner.clone(),
                    repository: repository.clone(),
                    region: args.region.clone(),
                    endpoint_url: args.endpoint_url.clone(),
                },
                duration_seconds: args.duration_seconds,
            });
        }
        if !args.config.exists() {
            return Err(RepositoryError::NotConfigured);
        }
        let config = Config::load(&args.config)?;
        let (name, entry) = Self::pick(&config, args)?;
        Self::from_config(&args.config, &name, &entry)
    }

    fn pick(
        config: &Config,
        args: &RepositoryArgs,
    ) -> Result<(String, RepositoryConfig), RepositoryError> {
        let known = || {
            config
                .repositories
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Some(name) = &args.repository_name {
            return config
                .repositories
                .get(name)
                .map(|entry| (name.clone(), entry.clone()))
                .ok_or_else(|| RepositoryError::UnknownName {
                    name: name.clone(),
                    path: args.config.clone(),
                    known: known(),
                });
        }
        if let Some(entry) = config.repositories.get("default") {
            return Ok(("default".to_owned(), entry.clone()));
        }
        match config.repositories.iter().collect::<Vec<_>>().as_slice() {
            [(name, entry)] => Ok(((*name).clone(), (*entry).clone())),
            [] => Err(RepositoryError::NotConfigured),
            _ => Err(RepositoryError::Incomplete(format!(
                "`{}` has several repositories ({}); pick one with `--repository-name`",
                args.config.display(),
                known()
            ))),
        }
    }

    fn from_config(
        path: &Path,
        name: &str,
        entry: &RepositoryConfig,
    ) -> Result<Self, RepositoryError> {
        match entry.kind {
            RepositoryKind::Codeartifact => Ok(Self::CodeArtifact {
                target: Target {
                    domain: entry.domain.clone().unwrap_or_default(),
                    domain_owner: entry.domain_owner.clone(),
                    repository: entry.repository.clone().unwrap_or_default(),
                    region: entry.region.clone(),
                    endpoint_url: entry.endpoint_url.clone(),
                },
                duration_seconds: entry.duration_seconds,
            }),
            RepositoryKind::Url => {
                let text = entry.url.clone().unwrap_or_default();
                let text = text.strip_prefix("sparse+").unwrap_or(&text);
                let url = SafeUrl::parse(text).map_err(|error| {
                    RepositoryError::Incomplete(format!(
                        "{}: repositories.{name}.url: {error}",
                        path.display()
                    ))
                })?;
                let token = match (&entry.token_env, &entry.token_file) {
                    (Some(variable), _) => TokenSource::Env(variable.clone()),
                    (None, Some(file)) => TokenSource::File(file.clone()),
                    (None, None) => TokenSource::None,
                };
                Ok(Self::Url { url, token })
            }
        }
    }

    /// A stable key for caches: identifies the target, never includes a secret.
    #[must_use]
    pub fn cache_key(&self) -> String {
        let text = match self {
            Self::CodeArtifact {
                target,
                duration_seconds,
            } => format!(
                "codeartifact\n{}\n{}\n{}\n{}\n{}\n{duration_seconds:?}",
                target.domain,
                target.domain_owner.as_deref().unwrap_or_default(),
                target.repository,
                target.region.as_deref().unwrap_or_default(),
                target.endpoint_url.as_deref().unwrap_or_default()
            ),
            Self::Url { url, .. } => format!("url\n{}", url.redacted()),
        };
        hex::encode(sha2::Sha256::digest(text.as_bytes()))
    }

    /// The token cache's key: the target and [`credential_source_fingerprint`].
    fn token_cache_key(&self, fingerprint: &str) -> String {
        hex::encode(sha2::Sha256::digest(
            format!("{}\n{fingerprint}", self.cache_key()).as_bytes(),
        ))
    }

    /// The data-plane URL for a format: GetRepositoryEndpoint for CodeArtifact, the registry
    /// URL otherwise.
    ///
    /// # Errors
    /// CodeArtifact failures.
    pub async fn endpoint(
        &self,
        format: crate::format::Format,
    ) -> Result<SafeUrl, RepositoryError> {
        match self {
            Self::CodeArtifact { target, .. } => Ok(CodeArtifact::connect(target.clone())
                .await
                .repository_endpoint(format)
                .await?),
            Self::Url { url, .. } => {
                // The user name, if any, goes into the Authorization header, not the URL.
                let mut bare = url.expose().clone();
                let _ = bare.set_username("");
                let _ = bare.set_password(None);
                Ok(SafeUrl::from(bare))
            }
        }
    }

    /// The file a CodeArtifact token for this repository is cached in (`tokens-v2/`, keyed by
    /// the target and [`credential_source_fingerprint`]); `None` for a plain registry.
    #[must_use]
    pub fn token_cache_file(&self) -> Option<PathBuf> {
        match self {
            Self::CodeArtifact { .. } => Some(cache_dir().join("tokens-v2").join(format!(
                "{}.json",
                self.token_cache_key(&credential_source_fingerprint())
            ))),
            Self::Url { .. } => None,
        }
    }

    /// Credentials for the data plane: a cached CodeArtifact token while it has more than
    /// [`TOKEN_REUSE_MARGIN_SECONDS`] left, else a fresh one (then cached, 0600); for a plain
    /// registry the token from its env var or file.
    ///
    /// # Errors
    /// Missing token sources and CodeArtifact failures.
    pub async fn credentials(&self) -> Result<Credentials, RepositoryError> {
        self.credentials_with(true).await
    }

    /// [`Repository::credentials`], writing a freshly minted token to the cache only when
    /// `write_cache` (a dry run writes nothing).
    ///
    /// # Errors
    /// As [`Repository::credentials`].
    pub async fn credentials_with(
        &self,
        write_cache: bool,
    ) -> Result<Credentials, RepositoryError> {
        match self {
            Self::Url { url, token } => {
                let token = match token {
                    TokenSource::Env(variable) => {
                        Some(Secret::new(EnvVars::get(variable).ok_or_else(|| {
                            RepositoryError::TokenEnvMissing(variable.clone())
                        })?))
                    }
                    TokenSource::File(path) => {
                        let text = fs_err::read_to_string(path).map_err(|source| {
                            RepositoryError::TokenFile {
                                path: path.clone(),
                                source,
                            }
                        })?;
                        let text = text.trim().to_owned();
                        if text.is_empty() {
                            return Err(RepositoryError::TokenFile {
                                path: path.clone(),
                                source: std::io::Error::new(
                                    std::io::ErrorKind::InvalidData,
                                    "the file is empty",
                                ),
                            });
                        }
                        Some(Secret::new(text))
                    }
                    TokenSource::None => None,
                };
                // `https://USER@host/...` names the Basic user (pypiserver, nginx, Nexus);
                // else `token`, which token-only registries ignore.
                let username = match url.expose().username() {
                    "" => "token".to_owned(),
                    name => percent_encoding::percent_decode_str(name)
                        .decode_utf8_lossy()
                        .into_owned(),
                };
                Ok(Credentials {
                    username,
                    token,
                    expires: None,
                    cached: false,
                })
            }
            Self::CodeArtifact {
                target,
                duration_seconds,
            } => {
                // A token belongs to the principal that minted it: keyed by where the AWS
                // credentials come from too, a cached token never outlives them (rotated
                // keys, another profile or role, a `lading serve` started afresh on a port
                // an earlier one used).
                let cache = cache_dir().join("tokens-v2").join(format!(
                    "{}.json",
                    self.token_cache_key(&credential_source_fingerprint())
                ));
                if let Ok(text) = fs_err::read_to_string(&cache)
                    && let Ok(cached) = serde_json::from_str::<CachedToken>(&text)
                    && cached.expires - TOKEN_REUSE_MARGIN_SECONDS > now()
                {
                    tracing::debug!(
                        expires = cached.expires,
                        "reusing a cached CodeArtifact token"
                    );
                    return Ok(Credentials {
                        username: "aws".to_owned(),
                        token: Some(Secret::new(cached.token)),
                        expires: Some(cached.expires),
                        cached: true,
                    });
                }
                let client = CodeArtifact::connect(target.clone()).await;
                let duration =
                    duration_seconds.map(|seconds| i64::try_from(seconds).unwrap_or(43_200));
                let (token, expires) = client.authorization_token(duration).await?;
                if let Some(expires) = expires.filter(|_| write_cache) {
                    let record = CachedToken {
                        token: token.expose().clone(),
                        expires,
                    };
                    if let Ok(text) = serde_json::to_string(&record)
                        && let Err(error) = crate::fsx::write_private(&cache, text.as_bytes())
                    {
                        tracing::warn!(error = %error, "failed to cache the token");
                    }
                    // Tokens cached by an earlier lading (keyed by the target alone).
                    let _ = fs_err::remove_dir_all(cache_dir().join("tokens-v1"));
                }
                Ok(Credentials {
                    username: "aws".to_owned(),
                    token: Some(token),
                    expires,
                    cached: false,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_config_and_incomplete_flags_are_named() {
        let args = RepositoryArgs {
            domain: Some("local".into()),
            ..RepositoryArgs::default()
        };
        let error = Repository::resolve(&args).unwrap_err();
        assert!(error.to_string().contains("--repository"), "{error}");
        let args = RepositoryArgs {
            domain: Some("local".into()),
            repository: Some("main".into()),
            ..RepositoryArgs::default()
        };
        assert!(matches!(
            Repository::resolve(&args).unwrap(),
            Repository::CodeArtifact { .. }
        ));
    }

    #[test]
    fn config_repositories_are_picked_by_name_or_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lading.yml");
        fs_err::write(&path, "repositories:\n  npm:\n    kind: url\n    url: http://127.0.0.1:4873/\n    token_env: NPM_TOKEN\n  ca:\n    kind: codeartifact\n    domain: local\n    repository: main\n").unwrap();
        let args = RepositoryArgs {
            config: path.clone(),
            ..RepositoryArgs::default()
        };
        assert!(
            Repository::resolve(&args)
                .unwrap_err()
                .to_string()
                .contains("--repository-name")
        );
        let args = RepositoryArgs {
            config: path.clone(),
            repository_name: Some("npm".into()),
            ..RepositoryArgs::default()
        };
        assert!(matches!(
            Repository::resolve(&args).unwrap(),
            Repository::Url {
                token: TokenSource::Env(_),
                ..
            }
        ));
        let args = RepositoryArgs {
            config: path,
            repository_name: Some("nope".into()),
            ..RepositoryArgs::default()
        };
        assert!(
            Repository::resolve(&args)
                .unwrap_err()
                .to_string()
                .contains("it has: ca, npm")
        );
    }

    #[test]
    fn cache_key_never_contains_the_token() {
        let repository = Repository::Url {
            url: SafeUrl::parse("https://user:secret@example.com/").unwrap(),
            token: TokenSource::None,
        };
        assert!(!repository.cache_key().contains("secret"));
        assert_eq!(repository.cache_key().len(), 64);
    }
}
