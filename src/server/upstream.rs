//! External connections: registries outside the domain that a repository pulls through.
//!
//! CodeArtifact names its external connections (`public:npmjs`, `public:pypi`, ...).
//! `lading serve` keeps those names for the public registries and lets the server config
//! declare more, each a URL with optional credentials, so the server can sit in front of a
//! private registry (Verdaccio, Artifactory) or another CodeArtifact as a pull-through cache.
//!
//! Metadata fetched from an upstream (an npm packument, a PyPI project page, a Maven
//! `maven-metadata.xml`, a NuGet registration) goes through one cache, [`Externals::fetch_metadata`]:
//!
//! - the key is (external connection name, format, package), not the URL it came from, so
//!   pointing a connection at another mirror keeps (and does not double) the cache;
//! - an entry younger than the metadata TTL (`lading serve --metadata-ttl`, default
//!   [`DEFAULT_METADATA_TTL`]) is served without asking the upstream at all;
//! - an older one is revalidated with `If-None-Match` (its `ETag`) and `If-Modified-Since`
//!   (its `Last-Modified`): a `304` makes it fresh again without a transfer;
//! - when the upstream fails, the entry is served whatever its age ([`Fetched::Stale`]) and
//!   the caller reports it in the `x-lading-upstream` header ([`add_notes`]).
//!
//! Entries are files under the data directory (`upstream-v2/`), each one JSON header line
//! (fetch time, validators) then the body as received, written atomically: they survive a
//! restart, so "upstream down" works after one. Content is never cached here unverified:
//! callers check every downloaded byte against the upstream's own digest before storing it
//! as a version.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use sha2::Digest as _;

use crate::env_vars::EnvVars;
use crate::format::{AuthScheme, Format};
use crate::http::{HttpClient, HttpError, HttpOptions, RetryPolicy};
use crate::secret::{SafeUrl, Secret};

/// The response header that reports upstream trouble to clients.
pub const UPSTREAM_HEADER: &str = "x-lading-upstream";

/// How long fetched metadata is served from the cache before the upstream is asked again.
pub const DEFAULT_METADATA_TTL: Duration = Duration::from_secs(300);

/// Parse a duration for `--metadata-ttl`: a whole number with an optional unit, `s`
/// (default), `m`, `h` or `d` (`0` revalidates on every request).
///
/// # Errors
/// A message saying what is wrong with `text`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; expected e.g. `300`, `5m`, `1h`"))?;
    let seconds = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        other => {
            return Err(format!(
                "`{text}`: unknown unit `{other}`; use `s`, `m`, `h` or `d`"
            ));
        }
    };
    Ok(Duration::from_secs(number.saturating_mul(seconds)))
}

/// An external connection as declared in the server config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalConnectionConfig {
    /// Name used with AssociateExternalConnection (`public:npmjs`, `verdaccio`, ...).
    pub name: String,
    /// Package format it serves (`npm`, `pypi`, `maven`, `nuget`, ...).
    pub format: Format,
    /// Base URL: npm registry root, PyPI simple index, Maven repository root, NuGet v3
    /// service index (`.../index.json`).
    /// Not needed with `codeartifact`, whose endpoint comes from GetRepositoryEndpoint.
    #[serde(default)]
    pub url: Option<url::Url>,
    /// Pull through an AWS CodeArtifact repository, with tokens minted through the normal
    /// AWS credential chain and refreshed before they expire.
    #[serde(default)]
    pub codeartifact: Option<CodeArtifactUpstream>,
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

/// A CodeArtifact repository used as an upstream.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeArtifactUpstream {
    /// Domain.
    pub domain: String,
    /// Repository.
    pub repository: String,
    /// Owning account.
    #[serde(default)]
    pub domain_owner: Option<String>,
    /// Region.
    #[serde(default)]
    pub region: Option<String>,
    /// Control-plane endpoint override.
    #[serde(default)]
    pub endpoint_url: Option<String>,
}

impl ExternalConnectionConfig {
    /// Parse a `--upstream FORMAT=URL` or `--upstream FORMAT=codeartifact://DOMAIN/REPOSITORY
    /// [?region=R&domain-owner=O&endpoint-url=U]` flag into the connection `upstream:FORMAT`.
    ///
    /// # Errors
    /// A message saying what is wrong with the flag.
    pub fn from_flag(flag: &str) -> Result<Self, String> {
        let (format, target) = flag.split_once('=').ok_or_else(|| {
            format!(
                "`--upstream {flag}`: expected FORMAT=URL, e.g. npm=https://registry.npmjs.org/"
            )
        })?;
        let format: Format = format
            .parse()
            .map_err(|error| format!("`--upstream {flag}`: {error}"))?;
        let url = url::Url::parse(target)
            .map_err(|error| format!("`--upstream {flag}`: `{target}` is not a URL: {error}"))?;
        let mut config = Self {
            name: format!("upstream:{format}"),
            format,
            url: None,
            codeartifact: None,
            token_env: None,
            username: None,
            password_env: None,
        };
        if url.scheme() == "codeartifact" {
            let domain = url.host_str().unwrap_or_default().to_owned();
            let repository = url.path().trim_matches('/').to_owned();
            if domain.is_empty() || repository.is_empty() || repository.contains('/') {
                return Err(format!(
                    "`--upstream {flag}`: expected codeartifact://DOMAIN/REPOSITORY"
                ));
            }
            let query = |name: &str| {
                url.query_pairs()
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| value.into_owned())
            };
            config.codeartifact = Some(CodeArtifactUpstream {
                domain,
                repository,
                domain_owner: query("domain-owner"),
                region: query("region"),
                endpoint_url: query("endpoint-url"),
            });
        } else {
            config.url = Some(url);
        }
        Ok(config)
    }
}

/// A CodeArtifact token minted on demand and reused until five minutes before it expires.
#[derive(Debug)]
pub struct MintedToken {
    client: crate::repository::codeartifact::CodeArtifact,
    cached: tokio::sync::Mutex<Option<(Secret<String>, f64)>>,
}

/// How long before expiry a minted token is replaced.
const TOKEN_REFRESH_MARGIN_SECONDS: f64 = 300.0;

impl MintedToken {
    async fn token(
        &self,
    ) -> Result<Secret<String>, crate::repository::codeartifact::CodeArtifactError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |elapsed| elapsed.as_secs_f64());
        let mut cached = self.cached.lock().await;
        if let Some((token, expires)) = cached.as_ref()
            && *expires - TOKEN_REFRESH_MARGIN_SECONDS > now
        {
            return Ok(token.clone());
        }
        let (token, expires) = self.client.authorization_token(None).await?;
        *cached = Some((token.clone(), expires.unwrap_or(now + 3600.0)));
        Ok(token)
    }
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
    /// CodeArtifact tokens minted through the AWS credential chain (Bearer for npm, Basic
    /// `aws:<token>` for the other formats).
    CodeArtifact(std::sync::Arc<MintedToken>),
}

/// A resolved external connection.
#[derive(Debug, Clone)]
pub struct ExternalConnection {
    /// Name.
    pub name: String,
    /// Format.
    pub format: Format,
    /// Base URL (ends in `/`).
    pub url: url::Url,
    /// Credentials.
    pub auth: Option<UpstreamAuth>,
}

/// The public registries CodeArtifact offers as external connections (every one
/// `AssociateExternalConnection` documents) as (name, format, default URL), each at the
/// registry's real URL: the npm registry root, PyPI's simple index, a Maven repository root, NuGet's v3 service index,
/// crates.io's sparse index and RubyGems.org's root. A connection declared in the server
/// config under the same name replaces the URL (and credentials), so a test or an air-gapped
/// site can point `public:maven-central` at its own mirror; it must keep the format.
pub const BUILTIN: &[(&str, Format, &str)] = &[
    ("public:npmjs", Format::Npm, "https://registry.npmjs.org/"),
    ("public:pypi", Format::Pypi, "https://pypi.org/simple/"),
    (
        "public:maven-central",
        Format::Maven,
        "https://repo1.maven.org/maven2/",
    ),
    (
        "public:maven-googleandroid",
        Format::Maven,
        "https://maven.google.com/",
    ),
    (
        "public:maven-gradleplugins",
        Format::Maven,
        "https://plugins.gradle.org/m2/",
    ),
    (
        "public:maven-commonsware",
        Format::Maven,
        "https://s3.amazonaws.com/repo.commonsware.com/",
    ),
    (
        "public:maven-clojars",
        Format::Maven,
        "https://repo.clojars.org/",
    ),
    (
        "public:nuget-org",
        Format::Nuget,
        "https://api.nuget.org/v3/index.json",
    ),
    (
        "public:crates-io",
        Format::Cargo,
        "https://index.crates.io/",
    ),
    (
        "public:ruby-gems-org",
        Format::Ruby,
        "https://rubygems.org/",
    ),
];

/// Where a format's clients start reading below a CodeArtifact repository endpoint, when
/// not at the endpoint itself: an external connection through CodeArtifact reads there.
const fn index_below_endpoint(format: Format) -> Option<&'static str> {
    match format {
        Format::Pypi => Some("simple/"),
        Format::Nuget => Some("v3/index.json"),
        Format::Npm
        | Format::Maven
        | Format::Generic
        | Format::Cargo
        | Format::Ruby
        | Format::Swift => None,
    }
}

/// What an upstream fetch produced.
#[derive(Debug)]
pub enum Fetched {
    /// Fresh: from the upstream now, revalidated by it now, or cached less than the
    /// metadata TTL ago.
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
    metadata_ttl: Duration,
}

/// The header line of a cached metadata entry; the body follows it.
#[derive(Debug, serde::Serialize, Deserialize)]
struct EntryHeader {
    /// When the upstream last answered for it (fetched or revalidated), epoch seconds.
    checked: f64,
    /// The upstream's `ETag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    etag: Option<String>,
    /// The upstream's `Last-Modified`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_modified: Option<String>,
}

/// A cached metadata entry.
#[derive(Debug)]
struct Entry {
    header: EntryHeader,
    body: bytes::Bytes,
}

impl Entry {
    fn read(path: &std::path::Path) -> Option<Self> {
        let bytes = bytes::Bytes::from(fs_err::read(path).ok()?);
        let newline = bytes.iter().position(|byte| *byte == b'\n')?;
        let header = serde_json::from_slice(&bytes[..newline]).ok()?;
        Some(Self {
            header,
            body: bytes.slice(newline + 1..),
        })
    }

    fn write(&self, path: &std::path::Path) {
        let mut bytes = serde_json::to_vec(&self.header).unwrap_or_default();
        bytes.push(b'\n');
        bytes.extend_from_slice(&self.body);
        if let Err(error) = crate::fsx::write_atomic(path, &bytes, None) {
            tracing::warn!(error = %error, "failed to cache upstream metadata");
        }
    }
}

fn epoch_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64())
}

impl Externals {
    /// Build from the built-ins and the config's declarations (which may override them).
    ///
    /// # Errors
    /// When a declared credential variable is unset or the HTTP client cannot be built.
    pub async fn new(
        declared: &[ExternalConnectionConfig],
        cache_dir: PathBuf,
        metadata_ttl: Duration,
    ) -> anyhow::Result<Self> {
        let mut connections = BTreeMap::new();
        for &(name, format, url) in BUILTIN {
            let url = url::Url::parse(url)?;
            connections.insert(
                name.to_owned(),
                ExternalConnection {
                    name: name.to_owned(),
                    format,
                    url,
                    auth: None,
                },
            );
        }
        for declared in declared {
            if let Some(builtin) = connections.get(&declared.name)
                && builtin.format != declared.format
            {
                return Err(anyhow::Error::new(crate::diagnostics::HintedError::new(
                    format!(
                        "external connection `{}` is CodeArtifact's {} connection; it cannot be redeclared as `{}`",
                        declared.name, builtin.format, declared.format
                    ),
                    format!(
                        "keep `format: {}` to point it at another URL, or give the connection another name",
                        builtin.format
                    ),
                )));
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
                _ if declared.codeartifact.is_some() => None,
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
            let (mut url, auth) =
                match (&declared.codeartifact, &declared.url) {
                    (Some(target), None) => {
                        let client = crate::repository::codeartifact::CodeArtifact::connect(
                            crate::repository::codeartifact::Target {
                                domain: target.domain.clone(),
                                domain_owner: target.domain_owner.clone(),
                                repository: target.repository.clone(),
                                region: target.region.clone(),
                                endpoint_url: target.endpoint_url.clone(),
                            },
                        )
                        .await;
                        let endpoint = client.repository_endpoint(&declared.format).await.map_err(
                            |error| {
                                anyhow::anyhow!("external connection `{}`: {error}", declared.name)
                            },
                        )?;
                        let minted = MintedToken {
                            client,
                            cached: tokio::sync::Mutex::new(None),
                        };
                        (
                            endpoint.expose().clone(),
                            Some(UpstreamAuth::CodeArtifact(std::sync::Arc::new(minted))),
                        )
                    }
                    (None, Some(url)) => (url.clone(), auth),
                    _ => anyhow::bail!(
                        "external connection `{}`: set exactly one of `url` and `codeartifact`",
                        declared.name
                    ),
                };
            if let (Some(_), Some(document)) = (
                &declared.codeartifact,
                index_below_endpoint(declared.format),
            ) {
                url = url.join(document)?;
            }
            if !url.path().ends_with('/') && !url.path().to_ascii_lowercase().ends_with(".json") {
                url.set_path(&format!("{}/", url.path()));
            }
            connections.insert(
                declared.name.clone(),
                ExternalConnection {
                    name: declared.name.clone(),
                    format: declared.format,
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
            metadata_ttl,
        })
    }

    /// Look a connection up by name.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&ExternalConnection> {
        self.connections.get(name)
    }

    /// Every connection's name, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.connections.keys().map(String::as_str)
    }

    /// Where the metadata of `package` from `connection` is cached: keyed by the
    /// connection's name and format and the package, never by its URL.
    fn cache_path(&self, connection: &ExternalConnection, package: &str) -> PathBuf {
        let digest = hex::encode(sha2::Sha256::digest(
            format!("{}\n{}\n{package}", connection.name, connection.format).as_bytes(),
        ));
        self.cache_dir
            .join(connection.name.replace([':', '/'], "_"))
            .join(&digest[..2])
            .join(digest)
    }

    /// The `Authorization` value for a request to `url`, if the connection has credentials
    /// and `url` is on the connection's own origin (credentials never go to a host that
    /// upstream metadata names).
    async fn authorization(
        connection: &ExternalConnection,
        url: &url::Url,
    ) -> Result<Option<String>, String> {
        use base64::Engine as _;
        if url.origin() != connection.url.origin() {
            return Ok(None);
        }
        let basic = |username: &str, password: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            )
        };
        Ok(match &connection.auth {
            Some(UpstreamAuth::Bearer(token)) => Some(format!("Bearer {}", token.expose())),
            Some(UpstreamAuth::Basic { username, password }) => {
                Some(basic(username, password.expose()))
            }
            Some(UpstreamAuth::CodeArtifact(minted)) => {
                let token = minted.token().await.map_err(|error| error.to_string())?;
                Some(match connection.format.auth_scheme() {
                    AuthScheme::Bearer => format!("Bearer {}", token.expose()),
                    AuthScheme::Basic => basic("aws", token.expose()),
                })
            }
            None => None,
        })
    }

    /// Metadata for `package` from `connection`, fetched from `url` with `accept`, through
    /// the metadata cache (see the module docs): served from the cache while younger than
    /// the TTL, else revalidated (`ETag` / `Last-Modified`) or fetched, and served stale when
    /// the upstream fails. `package` is the cache key within the connection: the package's
    /// normalized name, or for several documents per package a name plus a suffix.
    pub async fn fetch_metadata(
        &self,
        connection: &ExternalConnection,
        url: &url::Url,
        accept: &str,
        package: &str,
    ) -> Fetched {
        let cache = self.cache_path(connection, package);
        let cached = Entry::read(&cache);
        let now = epoch_seconds();
        if let Some(entry) = &cached
            && now - entry.header.checked < self.metadata_ttl.as_secs_f64()
            && entry.header.checked <= now
        {
            return Fetched::Fresh(entry.body.clone());
        }
        let safe = SafeUrl::from(url.clone());
        let authorization = match Self::authorization(connection, url).await {
            Ok(authorization) => authorization,
            Err(failure) => return Self::stale_or_unavailable(connection, cached, failure),
        };
        tracing::debug!(connection = %connection.name, url = %safe, revalidating = cached.is_some(), "upstream request");
        let validators = cached.as_ref().map(|entry| {
            (
                entry.header.etag.clone(),
                entry.header.last_modified.clone(),
            )
        });
        let result = self
            .http
            .send(reqwest::Method::GET, &safe, |request| {
                let mut request = request.header(reqwest::header::ACCEPT, accept);
                if let Some(value) = &authorization {
                    request = request.header(reqwest::header::AUTHORIZATION, value);
                }
                if let Some((etag, last_modified)) = &validators {
                    if let Some(etag) = etag {
                        request = request.header(reqwest::header::IF_NONE_MATCH, etag);
                    }
                    if let Some(last_modified) = last_modified {
                        request = request.header(reqwest::header::IF_MODIFIED_SINCE, last_modified);
                    }
                }
                request
            })
            .await;
        let failure = match result {
            Ok(response) if response.status() == reqwest::StatusCode::NOT_MODIFIED => {
                super::metrics::upstream(&connection.name, 0);
                if let Some(mut entry) = cached {
                    entry.header.checked = now;
                    entry.write(&cache);
                    return Fetched::Fresh(entry.body);
                }
                format!("{safe} answered 304 to a request without validators")
            }
            Ok(response) if response.status().is_success() => {
                let header_text = |name| {
                    response
                        .headers()
                        .get(name)
                        .and_then(|value| value.to_str().ok())
                        .map(str::to_owned)
                };
                let header = EntryHeader {
                    checked: now,
                    etag: header_text(reqwest::header::ETAG),
                    last_modified: header_text(reqwest::header::LAST_MODIFIED),
                };
                match response.bytes().await {
                    Ok(body) => {
                        super::metrics::upstream(&connection.name, body.len() as u64);
                        let entry = Entry { header, body };
                        entry.write(&cache);
                        return Fetched::Fresh(entry.body);
                    }
                    Err(error) => format!("failed to read {safe}: {error}"),
                }
            }
            Ok(response) => format!("{safe} answered {}", response.status()),
            Err(HttpError::Status { status, .. })
                if status == reqwest::StatusCode::NOT_FOUND
                    || status == reqwest::StatusCode::GONE =>
            {
                return Fetched::NotFound;
            }
            Err(error) => error.to_string(),
        };
        Self::stale_or_unavailable(connection, cached, failure)
    }

    fn stale_or_unavailable(
        connection: &ExternalConnection,
        cached: Option<Entry>,
        failure: String,
    ) -> Fetched {
        tracing::warn!(connection = %connection.name, %failure, "upstream unavailable");
        match cached {
            Some(entry) => Fetched::Stale(entry.body),
            None => Fetched::Unavailable(failure),
        }
    }

    /// Download content and check it against the digest the upstream claims for it
    /// (`(algorithm, hex)`: `sha1`, `sha256` or `sha512`). Content without a claimed digest
    /// is refused, so nothing unverified is ever stored.
    ///
    /// # Errors
    /// What failed, as a sentence fragment for the client: the download, a missing digest,
    /// or a mismatch (expected and actual).
    pub async fn fetch_verified(
        &self,
        connection: &ExternalConnection,
        url: &url::Url,
        claimed: Option<(&str, &str)>,
    ) -> Result<(bytes::Bytes, crate::archive::Digests), String> {
        let Some((algorithm, expected)) = claimed else {
            return Err("the upstream gives no digest to verify it against".to_owned());
        };
        let bytes = self.fetch_content(connection, url).await?;
        let digests = crate::archive::Digests::of(&bytes);
        verify_hex(&digests, algorithm, expected)?;
        Ok((bytes, digests))
    }

    /// Download content that may be absent: `Ok(None)` on 404 or 410.
    ///
    /// # Errors
    /// Any other failure, after bounded retries.
    pub async fn fetch_optional(
        &self,
        connection: &ExternalConnection,
        url: &url::Url,
    ) -> Result<Option<bytes::Bytes>, String> {
        let safe = SafeUrl::from(url.clone());
        let authorization = Self::authorization(connection, url).await?;
        tracing::debug!(connection = %connection.name, url = %safe, "upstream request");
        let result = self
            .http
            .send(
                reqwest::Method::GET,
                &safe,
                |request| match &authorization {
                    Some(value) => request.header(reqwest::header::AUTHORIZATION, value),
                    None => request,
                },
            )
            .await;
        match result {
            Ok(response) => response
                .bytes()
                .await
                .map(|body| {
                    super::metrics::upstream(&connection.name, body.len() as u64);
                    Some(body)
                })
                .map_err(|error| format!("failed to read {safe}: {error}")),
            Err(HttpError::Status { status, .. })
                if status == reqwest::StatusCode::NOT_FOUND
                    || status == reqwest::StatusCode::GONE =>
            {
                Ok(None)
            }
            Err(error) => Err(error.to_string()),
        }
    }

    /// Download content from an upstream (not cached here: the caller verifies and stores it).
    ///
    /// # Errors
    /// What failed: minting credentials, or the request after bounded retries.
    pub async fn fetch_content(
        &self,
        connection: &ExternalConnection,
        url: &url::Url,
    ) -> Result<bytes::Bytes, String> {
        self.fetch_optional(connection, url)
            .await?
            .ok_or_else(|| format!("{} answered 404 Not Found", SafeUrl::from(url.clone())))
    }
}

/// Report upstream trouble (`notes`) on a response in the [`UPSTREAM_HEADER`] header.
pub fn add_notes(response: &mut axum::response::Response, notes: &[String]) {
    if !notes.is_empty()
        && let Ok(value) = axum::http::HeaderValue::from_str(&notes.join("; "))
    {
        response.headers_mut().insert(UPSTREAM_HEADER, value);
    }
}

/// Append upstream trouble to an error's message, so a client sees why a miss was a miss.
#[must_use]
pub fn with_notes(
    error: crate::server::error::DataError,
    notes: &[String],
) -> crate::server::error::DataError {
    if notes.is_empty() {
        error
    } else {
        crate::server::error::DataError::new(
            error.status,
            format!("{} ({})", error.message, notes.join("; ")),
        )
    }
}

/// Check `digests` against a hex digest the upstream claims (`sha1`, `sha256`, `sha512`).
///
/// # Errors
/// A message naming the algorithm, the actual and the claimed digest.
pub fn verify_hex(
    digests: &crate::archive::Digests,
    algorithm: &str,
    claimed: &str,
) -> Result<(), String> {
    let actual = match algorithm {
        "sha1" => &digests.sha1,
        "sha256" => &digests.sha256,
        "sha512" => &digests.sha512,
        other => {
            return Err(format!(
                "the upstream's digest algorithm `{other}` is not supported"
            ));
        }
    };
    let claimed = claimed.trim();
    if actual.eq_ignore_ascii_case(claimed) {
        Ok(())
    } else {
        Err(format!(
            "its {algorithm} is {actual}, the upstream claims {claimed}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_ttls_parse_with_units_and_refuse_the_rest() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn cache_entries_round_trip_their_validators_and_body() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/entry");
        let entry = Entry {
            header: EntryHeader {
                checked: 12.5,
                etag: Some("\"x\"".to_owned()),
                last_modified: None,
            },
            body: bytes::Bytes::from_static(b"{\"a\":\n1}"),
        };
        entry.write(&path);
        let read = Entry::read(&path).unwrap();
        assert!((read.header.checked - 12.5).abs() < f64::EPSILON);
        assert_eq!(read.header.etag.as_deref(), Some("\"x\""));
        assert_eq!(read.body, entry.body);
    }

    #[test]
    fn hex_digests_are_compared_case_insensitively_and_unknown_algorithms_refused() {
        let digests = crate::archive::Digests::of(b"abc");
        assert!(verify_hex(&digests, "sha256", &digests.sha256.to_uppercase()).is_ok());
        assert!(verify_hex(&digests, "sha1", &digests.sha1).is_ok());
        let mismatch = verify_hex(&digests, "sha512", &"0".repeat(128)).unwrap_err();
        assert!(mismatch.contains("upstream claims"), "{mismatch}");
        assert!(verify_hex(&digests, "md5", &digests.md5).is_err());
    }
}
