//! External connections: registries outside the domain that a repository pulls through.
//!
//! CodeArtifact names its external connections (`public:npmjs`, `public:pypi`, ...).
//! `lading serve` keeps those names for the public registries and lets the server config
//! declare more, each a URL with optional credentials, so the server can sit in front of a
//! private registry (Verdaccio, Artifactory) or another CodeArtifact as a pull-through cache.
//!
//! Metadata fetched from an upstream (an npm packument, a PyPI project page) is cached on
//! disk; when the upstream is down the cached copy is used and the response says so in the
//! `x-lading-upstream` header. Content is never cached here unverified: callers check every
//! downloaded byte against the upstream's own digest before storing it as a version.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use sha2::Digest as _;

use crate::env_vars::EnvVars;
use crate::http::{HttpClient, HttpError, HttpOptions, RetryPolicy};
use crate::secret::{SafeUrl, Secret};

/// The response header that reports upstream trouble to clients.
pub const UPSTREAM_HEADER: &str = "x-lading-upstream";

/// An external connection as declared in the server config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalConnectionConfig {
    /// Name used with AssociateExternalConnection (`public:npmjs`, `verdaccio`, ...).
    pub name: String,
    /// Package format it serves: `npm`, `pypi`, `maven`, `nuget`.
    pub format: String,
    /// Base URL: npm registry root, PyPI simple index, Maven repository root, NuGet v3 index.
    pub url: url::Url,
    /// Bearer token from this environment variable.
    #[serde(default)]
    pub token_env: Option<String>,
    /// Basic auth user name.
    #[serde(default)]
    pub username: Option<String>,
    /// Basic auth password from this environment variable.
    #[serde(default)]
    pub password_env: Option<String>,
}

/// Credentials for an upstream.
#[derive(Debug, Clone)]
pub enum UpstreamAuth {
    /// `Authorization: Bearer`.
    Bearer(Secret<String>),
    /// `Authorization: Basic`.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: Secret<String>,
    },
}

/// A resolved external connection.
#[derive(Debug, Clone)]
pub struct ExternalConnection {
    /// Name.
    pub name: String,
    /// Format.
    pub format: String,
    /// Base URL (ends in `/`).
    pub url: url::Url,
    /// Credentials.
    pub auth: Option<UpstreamAuth>,
}

/// The public registries CodeArtifact offers as external connections.
fn builtin() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        ("public:npmjs", "npm", "https://registry.npmjs.org/"),
        ("public:pypi", "pypi", "https://pypi.org/simple/"),
        (
            "public:maven-central",
            "maven",
            "https://repo1.maven.org/maven2/",
        ),
        (
            "public:nuget-org",
            "nuget",
            "https://api.nuget.org/v3/index.json",
        ),
    ]
}

/// What an upstream fetch produced.
#[derive(Debug)]
pub enum Fetched {
    /// Fresh from the upstream.
    Fresh(bytes::Bytes),
    /// The upstream failed; this is the cached copy.
    Stale(bytes::Bytes),
    /// The upstream says it does not have it.
    NotFound,
    /// The upstream failed and nothing is cached.
    Unavailable(String),
}

/// All external connections plus the HTTP client and cache that serve them.
#[derive(Debug)]
pub struct Externals {
    connections: BTreeMap<String, ExternalConnection>,
    http: HttpClient,
    cache_dir: PathBuf,
}

impl Externals {
    /// Build from the built-ins and the config's declarations (which may override them).
    ///
    /// # Errors
    /// When a declared credential variable is unset or the HTTP client cannot be built.
    pub fn new(declared: &[ExternalConnectionConfig], cache_dir: PathBuf) -> anyhow::Result<Self> {
        let mut connections = BTreeMap::new();
        for (name, format, url) in builtin() {
            let url = url::Url::parse(url)?;
            connections.insert(
                name.to_owned(),
                ExternalConnection {
                    name: name.to_owned(),
                    format: format.to_owned(),
                    url,
                    auth: None,
                },
            );
        }
        for declared in declared {
            if !super::control::FORMATS.contains(&declared.format.as_str()) {
                anyhow::bail!(
                    "external connection `{}`: unknown format `{}`",
                    declared.name,
                    declared.format
                );
            }
            let secret = |variable: &String| {
                EnvVars::get(variable).map(Secret::new).ok_or_else(|| {
                    anyhow::anyhow!(
                        "external connection `{}`: environment variable `{variable}` is not set",
                        declared.name
                    )
                })
            };
            let auth = match (
                &declared.token_env,
                &declared.username,
                &declared.password_env,
            ) {
                (Some(variable), None, None) => Some(UpstreamAuth::Bearer(secret(variable)?)),
                (None, Some(username), Some(variable)) => Some(UpstreamAuth::Basic {
                    username: username.clone(),
                    password: secret(variable)?,
                }),
                (None, None, None) => None,
                _ => anyhow::bail!(
                    "external connection `{}`: use either `token_env`, or `username` with `password_env`",
                    declared.name
                ),
            };
            let mut url = declared.url.clone();
            if !url.path().ends_with('/') && !url.path().to_ascii_lowercase().ends_with(".json") {
                url.set_path(&format!("{}/", url.path()));
            }
            connections.insert(
                declared.name.clone(),
                ExternalConnection {
                    name: declared.name.clone(),
                    format: declared.format.clone(),
                    url,
                    auth,
                },
            );
        }
        let http = HttpClient::new(&HttpOptions {
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(120),
            retry: RetryPolicy {
                max_attempts: 2,
                base_delay: Duration::from_millis(200),
                max_delay: Duration::from_secs(2),
            },
        })?;
        Ok(Self {
            connections,
            http,
            cache_dir,
        })
    }

    /// Look a connection up by name.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&ExternalConnection> {
        self.connections.get(name)
    }

    fn cache_path(&self, connection: &ExternalConnection, key: &str) -> PathBuf {
        let digest = hex::encode(sha2::Sha256::digest(
            format!("{}\n{key}", connection.url).as_bytes(),
        ));
        self.cache_dir
            .join(connection.name.replace([':', '/'], "_"))
            .join(&digest[..2])
            .join(digest)
    }

    fn authorize(
        connection: &ExternalConnection,
        url: &url::Url,
        request: reqwest::RequestBuilder,
    ) -> reqwest::RequestBuilder {
        // Credentials go only to the upstream's own origin, never to a host its metadata names.
        if url.origin() != connection.url.origin() {
            return request;
        }
        match &connection.auth {
            Some(UpstreamAuth::Bearer(token)) => request.bearer_auth(token.expose()),
            Some(UpstreamAuth::Basic { username, password }) => {
                request.basic_auth(username, Some(password.expose()))
            }
            None => request,
        }
    }

    /// Fetch metadata (`url` relative to the connection, or absolute) with `accept`, caching
    /// a successful answer under `cache_key` and falling back to it when the upstream fails.
    pub async fn fetch_metadata(
        &self,
        connection: &ExternalConnection,
        url: &url::Url,
        accept: &str,
        cache_key: &str,
    ) -> Fetched {
        let cache = self.cache_path(connection, cache_key);
        let safe = SafeUrl::from(url.clone());
        let result = self
            .http
            .send(reqwest::Method::GET, &safe, |request| {
                Self::authorize(connection, url, request).header(reqwest::header::ACCEPT, accept)
            })
            .await;
        let failure = match result {
            Ok(response) => match response.bytes().await {
                Ok(body) => {
                    if let Err(error) = crate::fsx::write_atomic(&cache, &body, None) {
                        tracing::warn!(error = %error, "failed to cache upstream metadata");
                    }
                    return Fetched::Fresh(body);
                }
                Err(error) => format!("failed to read {safe}: {error}"),
            },
            Err(HttpError::Status { status, .. })
                if status == reqwest::StatusCode::NOT_FOUND
                    || status == reqwest::StatusCode::GONE =>
            {
                return Fetched::NotFound;
            }
            Err(error) => error.to_string(),
        };
        tracing::warn!(connection = %connection.name, %failure, "upstream unavailable");
        match fs_err::read(&cache) {
            Ok(bytes) => Fetched::Stale(bytes::Bytes::from(bytes)),
            Err(_) => Fetched::Unavailable(failure),
        }
    }

    /// Download content from an upstream (not cached here: the caller verifies and stores it).
    ///
    /// # Errors
    /// [`HttpError`] after bounded retries.
    pub async fn fetch_content(
        &self,
        connection: &ExternalConnection,
        url: &url::Url,
    ) -> Result<bytes::Bytes, HttpError> {
        let safe = SafeUrl::from(url.clone());
        let response = self
            .http
            .send(reqwest::Method::GET, &safe, |request| {
                Self::authorize(connection, url, request)
            })
            .await?;
        response
            .bytes()
            .await
            .map_err(|source| HttpError::Transport {
                method: reqwest::Method::GET,
                url: safe,
                attempts: 1,
                source,
            })
    }
}
