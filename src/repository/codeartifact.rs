//! AWS CodeArtifact through aws-sdk-codeartifact: authorization tokens and repository
//! endpoints, with the normal AWS credential chain (env, profiles incl. SSO and
//! assume-role, web identity, container and instance credentials).

use aws_sdk_codeartifact::error::{ProvideErrorMetadata, SdkError};

use crate::diagnostics::{Cause, Diagnostic, EXIT_TRANSIENT, as_diagnostic};
use crate::secret::{SafeUrl, Secret};

/// Which repository to talk to.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// Domain name.
    pub domain: String,
    /// Owning account, when not the caller's.
    pub domain_owner: Option<String>,
    /// Repository name.
    pub repository: String,
    /// Region; the SDK's chain (env, profile) decides when `None`.
    pub region: Option<String>,
    /// Control-plane endpoint override (VPC endpoint, `lading serve`).
    pub endpoint_url: Option<String>,
}

/// A CodeArtifact call that failed.
#[derive(Debug, thiserror::Error)]
pub enum CodeArtifactError {
    /// The service answered with an error code.
    #[error("CodeArtifact {operation} failed: {code}: {message}")]
    Service {
        /// Operation name.
        operation: &'static str,
        /// Error code (`AccessDeniedException`, ...).
        code: String,
        /// Message.
        message: String,
    },
    /// The request could not be built or signed: usually no AWS credentials were found.
    #[error("CodeArtifact {operation} failed: {message}")]
    Credentials {
        /// Operation name.
        operation: &'static str,
        /// What happened.
        message: String,
    },
    /// The endpoint could not be reached at all (nothing listening, a name that does not
    /// resolve, no connection in time), with what a probe of the address found.
    #[error("cannot reach the CodeArtifact endpoint {endpoint} ({operation}): {reachability}")]
    Unreachable {
        /// Operation name.
        operation: &'static str,
        /// The endpoint URL tried (`--endpoint-url`, else the region's).
        endpoint: String,
        /// Whether anything listens there, in words.
        reachability: String,
        /// Whether `--endpoint-url` named it (else it is the region's AWS endpoint).
        custom: bool,
    },
    /// No answer (a reset, a timeout mid-request, 5xx) after the SDK's retries.
    #[error("CodeArtifact {operation} failed: {message}")]
    Transport {
        /// Operation name.
        operation: &'static str,
        /// What happened.
        message: String,
    },
}

/// Finds this module's errors in an error chain (see [`crate::diagnostics::Probe`]).
pub fn diagnostic(error: &Cause) -> Option<&dyn Diagnostic> {
    as_diagnostic::<CodeArtifactError>(error)
}

impl Diagnostic for CodeArtifactError {
    fn exit_code(&self) -> Option<u8> {
        self.is_transient().then_some(EXIT_TRANSIENT)
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::Service { code, .. } if code == "AccessDeniedException" => {
                Some("the AWS identity lacks `codeartifact:GetAuthorizationToken` / `sts:GetServiceBearerToken` or rights on the repository".to_owned())
            }
            Self::Service { code, .. } if code == "UnrecognizedClientException" || code == "InvalidSignatureException" => {
                Some("check the AWS credentials (`aws sts get-caller-identity`) and that the clock is right".to_owned())
            }
            Self::Service { code, .. } if code == "ResourceNotFoundException" => Some("check `--domain`, `--domain-owner` and `--repository`".to_owned()),
                        Self::Credentials { .. } => Some(
                "no usable AWS credentials: set AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run after aws-actions/configure-aws-credentials".to_owned(),
            ),
            Self::Unreachable { custom: true, .. } => Some(
                "start the embedded repository with `lading serve` (it listens on 127.0.0.1:8470), or pass `--endpoint-url` with the URL of a running one (leave it out for AWS CodeArtifact itself)".to_owned(),
            ),
            Self::Unreachable { custom: false, .. } => Some(
                "check the network and `--region`; for `lading serve` (or a VPC endpoint) pass `--endpoint-url URL`; the CI job can be retried".to_owned(),
            ),
            Self::Transport { .. } => Some("check the network, `--region` and `--endpoint-url`; the CI job can be retried".to_owned()),
            Self::Service { .. } => None,
        }
    }
}

fn classify<E: ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &'static str,
    error: &SdkError<E, aws_sdk_codeartifact::config::http::HttpResponse>,
) -> CodeArtifactError {
    match error {
        // A 5xx or 429 the SDK's own retries did not get past: transient (exit 3), whatever
        // the body says (a proxy's 503 page has no error code).
        SdkError::ServiceError(service)
            if service.raw().status().is_server_error()
                || service.raw().status().as_u16() == 429 =>
        {
            CodeArtifactError::Transport {
                operation,
                message: format!(
                    "HTTP {}: {}: {}",
                    service.raw().status().as_u16(),
                    service.err().code().unwrap_or("Unknown"),
                    service.err().message().unwrap_or_default()
                ),
            }
        }
        SdkError::ServiceError(service) => CodeArtifactError::Service {
            operation,
            code: service.err().code().unwrap_or("Unknown").to_owned(),
            message: service.err().message().unwrap_or_default().to_owned(),
        },
        other => {
            let message = crate::diagnostics::one_line(other);
            if matches!(other, SdkError::ConstructionFailure(_)) {
                CodeArtifactError::Credentials { operation, message }
            } else {
                CodeArtifactError::Transport { operation, message }
            }
        }
    }
}

impl CodeArtifactError {
    /// True when retrying later could succeed (exit code 3): no answer, throttling, 5xx.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport { .. } | Self::Unreachable { .. } => true,
            Self::Service { code, .. } => {
                code == "ThrottlingException" || code == "InternalServerException"
            }
            Self::Credentials { .. } => false,
        }
    }
}

/// A connected client for one target.
#[derive(Debug, Clone)]
pub struct CodeArtifact {
    client: aws_sdk_codeartifact::Client,
    target: Target,
}

/// What a TCP connection to `url`'s host and port finds, in words: whether anything listens.
fn probe(url: &url::Url) -> String {
    use std::net::ToSocketAddrs as _;
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return format!("`{url}` names no host");
    };
    let addresses: Vec<std::net::SocketAddr> = match (host, port).to_socket_addrs() {
        Ok(addresses) => addresses.collect(),
        Err(error) => return format!("the host `{host}` does not resolve ({error})"),
    };
    let mut outcome = format!("the host `{host}` resolves to no address");
    for address in addresses {
        match std::net::TcpStream::connect_timeout(&address, std::time::Duration::from_secs(2)) {
            Ok(_) => {
                return format!(
                    "something listens at {address} but did not answer the request as CodeArtifact does"
                );
            }
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
                outcome = format!("nothing listens at {address} (connection refused)");
            }
            Err(error) if error.kind() == std::io::ErrorKind::TimedOut => {
                outcome = format!("{address} accepted no connection within 2 s");
            }
            Err(error) => outcome = format!("cannot connect to {address}: {error}"),
        }
    }
    outcome
}

impl CodeArtifact {
    /// [`classify`], and for a request that never got an answer (a dispatch failure: no
    /// connection), name the endpoint and say whether anything listens there.
    fn classify<E: ProvideErrorMetadata + std::error::Error + 'static>(
        &self,
        operation: &'static str,
        error: &SdkError<E, aws_sdk_codeartifact::config::http::HttpResponse>,
    ) -> CodeArtifactError {
        let classified = classify(operation, error);
        let SdkError::DispatchFailure(failure) = error else {
            return classified;
        };
        if failure.is_user() {
            return classified;
        }
        tracing::debug!("{classified}");
        let custom = self.target.endpoint_url.is_some();
        let endpoint = self.target.endpoint_url.clone().unwrap_or_else(|| {
            let region = self
                .client
                .config()
                .region()
                .map_or_else(|| "us-east-1".to_owned(), ToString::to_string);
            format!("https://codeartifact.{region}.amazonaws.com")
        });
        let reachability = match url::Url::parse(&endpoint) {
            Ok(url) => probe(&url),
            Err(error) => format!("`{endpoint}` is not a URL: {error}"),
        };
        CodeArtifactError::Unreachable {
            operation,
            endpoint,
            reachability,
            custom,
        }
    }

    /// Load AWS config through the standard chain and build a client.
    pub async fn connect(target: Target) -> Self {
        Self::build(target, None).await
    }

    /// As [`CodeArtifact::connect`], but credentials and profiles come from this shared
    /// credentials file (the `AWS_SHARED_CREDENTIALS_FILE` of one call, without touching the
    /// process environment).
    pub async fn connect_with_profile_file(
        target: Target,
        credentials_file: &std::path::Path,
    ) -> Self {
        Self::build(target, Some(credentials_file)).await
    }

    async fn build(target: Target, credentials_file: Option<&std::path::Path>) -> Self {
        use aws_runtime::env_config::file::{
            EnvConfigFileKind as ProfileFileKind, EnvConfigFiles as ProfileFiles,
        };
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(path) = credentials_file {
            loader = loader.profile_files(
                ProfileFiles::builder()
                    .with_file(ProfileFileKind::Credentials, path)
                    .build(),
            );
        }
        if let Some(region) = &target.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(endpoint) = &target.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        let config = loader.load().await;
        Self {
            client: aws_sdk_codeartifact::Client::new(&config),
            target,
        }
    }

    /// Mint an authorization token valid for `duration_seconds` (0 or 900..=43200).
    ///
    /// # Errors
    /// [`CodeArtifactError`].
    pub async fn authorization_token(
        &self,
        duration_seconds: Option<i64>,
    ) -> Result<(Secret<String>, Option<f64>), CodeArtifactError> {
        let output = self
            .client
            .get_authorization_token()
            .domain(&self.target.domain)
            .set_domain_owner(self.target.domain_owner.clone())
            .set_duration_seconds(duration_seconds)
            .send()
            .await
            .map_err(|error| self.classify("GetAuthorizationToken", &error))?;
        let token = output
            .authorization_token
            .ok_or_else(|| CodeArtifactError::Transport {
                operation: "GetAuthorizationToken",
                message: "the response has no authorizationToken".to_owned(),
            })?;
        let expiration = output.expiration.map(|moment| moment.as_secs_f64());
        Ok((Secret::new(token), expiration))
    }

    /// The data-plane endpoint for a format: a [`crate::format::Format`], or a name as a
    /// config file spells it (CodeArtifact refuses one it does not know).
    ///
    /// # Errors
    /// [`CodeArtifactError`].
    pub async fn repository_endpoint(
        &self,
        format: impl AsRef<str>,
    ) -> Result<SafeUrl, CodeArtifactError> {
        let output = self
            .client
            .get_repository_endpoint()
            .domain(&self.target.domain)
            .set_domain_owner(self.target.domain_owner.clone())
            .repository(&self.target.repository)
            .format(aws_sdk_codeartifact::types::PackageFormat::from(
                format.as_ref(),
            ))
            .send()
            .await
            .map_err(|error| self.classify("GetRepositoryEndpoint", &error))?;
        let text = output.repository_endpoint.unwrap_or_default();
        SafeUrl::parse(&text).map_err(|error| CodeArtifactError::Transport {
            operation: "GetRepositoryEndpoint",
            message: format!("the endpoint `{text}` is not a URL: {error}"),
        })
    }
}

/// One asset of a package version, as ListPackageVersionAssets reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetDigest {
    /// Asset name.
    pub name: String,
    /// Lowercase hex SHA-256.
    pub sha256: String,
}

/// A generic package version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenericVersion {
    /// Namespace.
    pub namespace: String,
    /// Package.
    pub package: String,
    /// Version.
    pub version: String,
}

impl CodeArtifact {
    /// The status of a generic version (`Published`, `Unfinished`...) and its assets, or
    /// `None` when the version does not exist.
    ///
    /// # Errors
    /// [`CodeArtifactError`].
    pub async fn generic_version(
        &self,
        version: &GenericVersion,
    ) -> Result<Option<(String, Vec<AssetDigest>)>, CodeArtifactError> {
        use aws_sdk_codeartifact::types::{HashAlgorithm, PackageFormat};
        let described = self
            .client
            .describe_package_version()
            .domain(&self.target.domain)
            .set_domain_owner(self.target.domain_owner.clone())
            .repository(&self.target.repository)
            .format(PackageFormat::Generic)
            .namespace(&version.namespace)
            .package(&version.package)
            .package_version(&version.version)
            .send()
            .await;
        let status = match described {
            Ok(output) => output
                .package_version
                .and_then(|described| described.status)
                .map(|status| status.as_str().to_owned())
                .unwrap_or_default(),
            Err(error) => {
                let error = self.classify("DescribePackageVersion", &error);
                if matches!(&error, CodeArtifactError::Service { code, .. } if code == "ResourceNotFoundException")
                {
                    return Ok(None);
                }
                return Err(error);
            }
        };
        let mut assets = Vec::new();
        let mut next_token = None;
        loop {
            let output = self
                .client
                .list_package_version_assets()
                .domain(&self.target.domain)
                .set_domain_owner(self.target.domain_owner.clone())
                .repository(&self.target.repository)
                .format(PackageFormat::Generic)
                .namespace(&version.namespace)
                .package(&version.package)
                .package_version(&version.version)
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|error| self.classify("ListPackageVersionAssets", &error))?;
            for asset in output.assets.unwrap_or_default() {
                let sha256 = asset
                    .hashes
                    .as_ref()
                    .and_then(|hashes| hashes.get(&HashAlgorithm::Sha256))
                    .cloned()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                assets.push(AssetDigest {
                    name: asset.name,
                    sha256,
                });
            }
            match output.next_token {
                Some(token) if !token.is_empty() => next_token = Some(token),
                _ => break,
            }
        }
        Ok(Some((status, assets)))
    }

    /// PublishPackageVersion for one asset; `unfinished` keeps the version open.
    ///
    /// # Errors
    /// [`CodeArtifactError`].
    pub async fn publish_generic_asset(
        &self,
        version: &GenericVersion,
        asset: &str,
        bytes: Vec<u8>,
        sha256: &str,
        unfinished: bool,
    ) -> Result<(), CodeArtifactError> {
        self.client
            .publish_package_version()
            .domain(&self.target.domain)
            .set_domain_owner(self.target.domain_owner.clone())
            .repository(&self.target.repository)
            .format(aws_sdk_codeartifact::types::PackageFormat::Generic)
            .namespace(&version.namespace)
            .package(&version.package)
            .package_version(&version.version)
            .asset_name(asset)
            .asset_sha256(sha256)
            .asset_content(aws_sdk_codeartifact::primitives::ByteStream::from(bytes))
            .set_unfinished(unfinished.then_some(true))
            .send()
            .await
            .map(|_| ())
            .map_err(|error| self.classify("PublishPackageVersion", &error))
    }

    /// UpdatePackageVersionsStatus `Unfinished` → `Published` for one generic version.
    ///
    /// # Errors
    /// [`CodeArtifactError`], including a version the service did not move.
    pub async fn finish_generic_version(
        &self,
        version: &GenericVersion,
    ) -> Result<(), CodeArtifactError> {
        use aws_sdk_codeartifact::types::PackageVersionStatus;
        let output = self
            .client
            .update_package_versions_status()
            .domain(&self.target.domain)
            .set_domain_owner(self.target.domain_owner.clone())
            .repository(&self.target.repository)
            .format(aws_sdk_codeartifact::types::PackageFormat::Generic)
            .namespace(&version.namespace)
            .package(&version.package)
            .versions(&version.version)
            .expected_status(PackageVersionStatus::Unfinished)
            .target_status(PackageVersionStatus::Published)
            .send()
            .await
            .map_err(|error| self.classify("UpdatePackageVersionsStatus", &error))?;
        if let Some(failed) = output
            .failed_versions
            .as_ref()
            .and_then(|failed| failed.get(&version.version))
        {
            return Err(CodeArtifactError::Service {
                operation: "UpdatePackageVersionsStatus",
                code: failed
                    .error_code
                    .as_ref()
                    .map_or("Unknown", |code| code.as_str())
                    .to_owned(),
                message: failed.error_message.clone().unwrap_or_default(),
            });
        }
        Ok(())
    }

    /// GetPackageVersionAsset: the bytes of one generic asset.
    ///
    /// # Errors
    /// [`CodeArtifactError`].
    pub async fn generic_asset(
        &self,
        version: &GenericVersion,
        asset: &str,
    ) -> Result<Vec<u8>, CodeArtifactError> {
        let output = self
            .client
            .get_package_version_asset()
            .domain(&self.target.domain)
            .set_domain_owner(self.target.domain_owner.clone())
            .repository(&self.target.repository)
            .format(aws_sdk_codeartifact::types::PackageFormat::Generic)
            .namespace(&version.namespace)
            .package(&version.package)
            .package_version(&version.version)
            .asset(asset)
            .send()
            .await
            .map_err(|error| self.classify("GetPackageVersionAsset", &error))?;
        output
            .asset
            .collect()
            .await
            .map(|data| data.into_bytes().to_vec())
            .map_err(|error| CodeArtifactError::Transport {
                operation: "GetPackageVersionAsset",
                message: error.to_string(),
            })
    }
}
