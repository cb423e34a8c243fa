//! The CodeArtifact control plane: rest-json as the botocore model `codeartifact/2018-09-22`
//! defines it (operation routes, query parameter names, body members, error shapes).
//!
//! Every request is SigV4-verified against the principal's secret key, then authorized
//! against the principal's grants, then executed. Authorization comes before existence
//! checks, as in AWS, so a caller cannot probe for resources it may not see.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use super::AppState;
use super::access::{Permission, Principal};
use super::error::{ApiError, request_id};
use super::packages::{self, Restrictions};
use super::sigv4::{self, SigV4Error};
use super::store::new_revision;
use super::store::{self, AssetRow, PackageKey, VersionRow};
use crate::format::Format;

mod lifecycle;
mod package_groups;
mod policies;
mod tags;
/// Readmes and dependencies from stored version metadata are also the web console's.
pub(crate) mod versions;

/// The formats in the order CodeArtifact lists them in its validation message (its API
/// model's order, not [`Format::ALL`]'s).
const FORMATS_AS_CODEARTIFACT_LISTS_THEM: [Format; 8] = [
    Format::Npm,
    Format::Pypi,
    Format::Maven,
    Format::Nuget,
    Format::Generic,
    Format::Ruby,
    Format::Swift,
    Format::Cargo,
];

/// The response for paths that match no route.
#[must_use]
pub fn unknown_route() -> Response {
    ApiError::unknown_operation().into_response()
}

/// The one operation whose body is an upload (capped by `--max-body-mib`, streamed to a
/// temp file) rather than JSON (capped by `--max-metadata-mib`).
const PUBLISH_PATH: &str = "/v1/package/version/publish";

/// Entry point for `/v1/*`.
///
/// The signature is checked before any byte of the body is read whenever the request sends
/// `x-amz-content-sha256` (the payload hash it signed); otherwise the principal and the
/// signature's shape and freshness are checked first, and the signature over the body's
/// hash once the body is in (capped and spooled, so an unsigned client cannot make the
/// server hold more than the route's cap).
pub async fn handle(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let request_id = request_id();
    let result = async {
        let claimed_payload = parts
            .headers
            .get("x-amz-content-sha256")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let signer = Signer {
            state: &state,
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
        };
        let (principal, authorization) = signer.identify()?;
        if let Some(claimed) = &claimed_payload {
            signer.verify(&principal, &authorization, claimed)?;
        }
        // An upload is read only once the request is also authorized
        // (`publish_package_version`), which needs its signature checked first: over the
        // asset hash the request must send in `x-amz-content-sha256`.
        let (body, upload) = if parts.uri.path() == PUBLISH_PATH {
            if claimed_payload.is_none() {
                return Err(missing_asset_sha256());
            }
            (Bytes::new(), Some(body))
        } else {
            let bytes =
                super::ingest::read_small(body, state.limits.max_metadata_bytes, state.limits)
                    .await?;
            if claimed_payload.is_none() {
                let payload_sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
                signer.verify(&principal, &authorization, &payload_sha256)?;
            }
            verify_payload_hash(&parts.method, parts.uri.path(), &parts.headers, &bytes)?;
            (bytes, None)
        };
        let region = authorization.region;
        let principal = super::access::with_policies(&state, principal).await?;
        let context = Context {
            state: &state,
            principal,
            region,
            query: Query::parse(parts.uri.query().unwrap_or("")),
            headers: &parts.headers,
            body,
            upload: std::sync::Mutex::new(upload),
        };
        dispatch(&parts.method, parts.uri.path(), context).await
    }
    .await;
    let mut response = match result {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(code = error.code, message = %error.message, path = parts.uri.path(), "control-plane request refused");
            error.into_response()
        }
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .entry("x-amzn-RequestId")
            .or_insert(value);
    }
    response
}

/// The body must be what the signature's `x-amz-content-sha256` says, except for
/// `PublishPackageVersion`, whose unsigned body (botocore's `v4-unsigned-body`) carries the
/// asset and whose `x-amz-content-sha256` is the asset's `assetSHA256`, which the operation
/// checks itself (a `ValidationException` there, as in AWS).
fn verify_payload_hash(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), ApiError> {
    let unsigned_body_allowed = method == Method::POST && path == "/v1/package/version/publish";
    sigv4::verify_payload_hash(headers, body, unsigned_body_allowed)
        .map_err(|_| ApiError::content_sha256_mismatch())
}

/// `lading serve` issues no temporary credentials (it has no STS): a request signed with a
/// session token (`X-Amz-Security-Token`, header or presigned query) carries a token this
/// server cannot have issued, so it is refused as AWS refuses an unknown one, rather than
/// ignoring the token and accepting whatever long-term key came with it.
fn refuse_session_tokens(uri: &axum::http::Uri, headers: &HeaderMap) -> Result<(), ApiError> {
    let in_query = uri.query().is_some_and(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .any(|(name, _)| name.eq_ignore_ascii_case("x-amz-security-token"))
    });
    if headers.contains_key("x-amz-security-token") || in_query {
        return Err(ApiError::invalid_client_token_id());
    }
    Ok(())
}

/// The SigV4 check of one request, in two steps: who signed it (from the headers alone),
/// then whether the signature holds over the payload hash.
struct Signer<'a> {
    state: &'a AppState,
    method: &'a Method,
    uri: &'a axum::http::Uri,
    headers: &'a HeaderMap,
}

impl Signer<'_> {
    /// The principal named by the `Authorization` header, refusing a missing or malformed
    /// header, an unknown access key, a credential scoped to another service, and a date
    /// outside the clock-skew window, all before the body is read.
    fn identify(&self) -> Result<(Principal, sigv4::Authorization), ApiError> {
        let header = self
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(ApiError::missing_authentication)?;
        let authorization = sigv4::parse_authorization(header)
            .map_err(|error| ApiError::incomplete_signature(error.to_string()))?;
        refuse_session_tokens(self.uri, self.headers)?;
        let principal = self
            .state
            .principals
            .by_access_key(&authorization.access_key_id)
            .ok_or_else(ApiError::unrecognized_client)?;
        if authorization.service != "codeartifact" {
            return Err(ApiError::invalid_signature(format!(
                "Credential should be scoped to correct service: 'codeartifact', got '{}'",
                authorization.service
            )));
        }
        // The date checks of `verify`, with a hash that cannot match: a stale or malformed
        // date is refused now; only a mismatch is left for the real check.
        match self.check(principal, &authorization, "") {
            Ok(()) | Err(SigV4Error::Mismatch) => {}
            Err(error) => return Err(signature_error(error)),
        }
        Ok((principal.clone(), authorization))
    }

    /// Verify the signature over `payload_sha256` (what `x-amz-content-sha256` claims, or
    /// the hash of the body as received).
    fn verify(
        &self,
        principal: &Principal,
        authorization: &sigv4::Authorization,
        payload_sha256: &str,
    ) -> Result<(), ApiError> {
        self.check(principal, authorization, payload_sha256)
            .map_err(signature_error)
    }

    fn check(
        &self,
        principal: &Principal,
        authorization: &sigv4::Authorization,
        payload_sha256: &str,
    ) -> Result<(), SigV4Error> {
        let parts = sigv4::RequestParts {
            method: self.method.as_str(),
            path: self.uri.path(),
            query: self.uri.query().unwrap_or(""),
            headers: self.headers,
            payload_sha256,
        };
        sigv4::verify(
            &parts,
            authorization,
            principal.secret_access_key.expose(),
            self.state.clock.now_seconds(),
        )
    }
}

fn signature_error(error: SigV4Error) -> ApiError {
    match error {
        SigV4Error::Mismatch => ApiError::invalid_signature(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        ),
        SigV4Error::Expired { .. } | SigV4Error::NotYetCurrent { .. } => {
            ApiError::invalid_signature(error.to_string())
        }
        SigV4Error::Missing => ApiError::missing_authentication(),
        SigV4Error::Malformed(message) => ApiError::incomplete_signature(message),
        SigV4Error::ContentSha256Mismatch => ApiError::content_sha256_mismatch(),
    }
}

struct Context<'a> {
    state: &'a AppState,
    principal: Principal,
    region: String,
    query: Query,
    headers: &'a HeaderMap,
    body: Bytes,
    /// The unread body of `PublishPackageVersion`, spooled once it is authorized (in a
    /// mutex only because a body is not `Sync` and the context is shared across awaits).
    upload: std::sync::Mutex<Option<axum::body::Body>>,
}

impl Context<'_> {
    fn account(&self) -> &str {
        &self.state.account
    }

    fn domain_arn(&self, domain: &str) -> String {
        format!(
            "arn:aws:codeartifact:{}:{}:domain/{domain}",
            self.region,
            self.account()
        )
    }

    fn repository_arn(&self, domain: &str, repository: &str) -> String {
        format!(
            "arn:aws:codeartifact:{}:{}:repository/{domain}/{repository}",
            self.region,
            self.account()
        )
    }

    fn authorize(
        &self,
        operation: &str,
        domain: &str,
        repository: Option<&str>,
        permission: Permission,
    ) -> Result<(), ApiError> {
        if self.principal.may(
            &format!("codeartifact:{operation}"),
            domain,
            repository,
            permission,
        ) {
            return Ok(());
        }
        let resource = repository.map_or_else(
            || self.domain_arn(domain),
            |repository| self.repository_arn(domain, repository),
        );
        Err(ApiError::access_denied(format!(
            "User: {} is not authorized to perform: codeartifact:{operation} on resource: {resource}",
            self.principal.arn(self.account())
        )))
    }

    fn check_owner(&self) -> Result<(), ApiError> {
        match self.query.optional("domain-owner") {
            Some(owner) if owner != self.account() => Err(ApiError::not_found(
                format!(
                    "Domain owner {owner} is not the owner of any domain on this server (the owner is {})",
                    self.account()
                ),
                owner,
                "domain",
            )),
            _ => Ok(()),
        }
    }

    /// Page tokens for a listing: `operation` and every query parameter but the paging ones
    /// are what a token is bound to.
    fn page_tokens(&self, operation: &str) -> PageTokens {
        use sha2::Digest as _;
        let mut parameters: Vec<(&str, &str)> = self
            .query
            .0
            .iter()
            .filter(|(name, _)| name.as_str() != "next-token" && name.as_str() != "max-results")
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        parameters.sort_unstable();
        let mut scope = operation.to_owned();
        for (name, value) in parameters {
            scope.push('\0');
            scope.push_str(name);
            scope.push('=');
            scope.push_str(value);
        }
        let secret = self
            .state
            .principals
            .by_name("admin")
            .map(|admin| admin.secret_access_key.expose().clone())
            .unwrap_or_default();
        let key: [u8; 32] = sha2::Sha256::new()
            .chain_update(b"lading pagination key\0")
            .chain_update(secret.as_bytes())
            .finalize()
            .into();
        PageTokens { key, scope }
    }

    fn json_body(&self) -> Result<Value, ApiError> {
        if self.body.is_empty() {
            return Ok(json!({}));
        }
        serde_json::from_slice(&self.body).map_err(|error| {
            ApiError::cannot_parse(format!("the request body is not valid JSON: {error}"))
        })
    }
}

/// Decoded query parameters.
struct Query(HashMap<String, String>);

impl Query {
    fn parse(raw: &str) -> Self {
        Self(
            url::form_urlencoded::parse(raw.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    fn optional(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.optional(name)
            .ok_or_else(|| ApiError::validation(format!("1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null")))
    }
}

async fn dispatch(method: &Method, path: &str, context: Context<'_>) -> Result<Response, ApiError> {
    match (method.as_str(), path) {
        ("POST", "/v1/domain") => create_domain(context).await,
        ("GET", "/v1/domain") => describe_domain(context).await,
        ("POST", "/v1/domains") => list_domains(context).await,
        ("POST", "/v1/repository") => create_repository(context).await,
        ("GET", "/v1/repository") => describe_repository(context).await,
        ("PUT", "/v1/repository") => update_repository(context).await,
        ("POST", "/v1/repository/external-connection") => {
            link_external_connection(context, true).await
        }
        ("DELETE", "/v1/repository/external-connection") => {
            link_external_connection(context, false).await
        }
        ("POST", "/v1/package") => put_package_origin_configuration(context).await,
        ("DELETE", "/v1/package") => delete_package(context).await,
        ("POST", "/v1/repositories") => list_repositories(context, false).await,
        ("POST", "/v1/domain/repositories") => list_repositories(context, true).await,
        ("POST", "/v1/authorization-token") => get_authorization_token(context).await,
        ("GET", "/v1/repository/endpoint") => get_repository_endpoint(context).await,
        ("POST", "/v1/packages") => list_packages(context).await,
        ("GET", "/v1/package") => describe_package(context).await,
        ("POST", "/v1/package/versions") => list_package_versions(context).await,
        ("GET", "/v1/package/version") => describe_package_version(context).await,
        ("POST", "/v1/package/version/assets") => list_package_version_assets(context).await,
        ("GET", "/v1/package/version/asset") => get_package_version_asset(context).await,
        ("POST", "/v1/package/version/publish") => publish_package_version(context).await,
        ("POST", "/v1/package/versions/update_status") => {
            update_package_versions_status(context).await
        }
        ("POST", "/v1/package/versions/delete") => delete_package_versions(context).await,
        ("DELETE", "/v1/domain") => lifecycle::delete_domain(context).await,
        ("DELETE", "/v1/repository") => lifecycle::delete_repository(context).await,
        ("POST", "/v1/package/versions/dispose") => {
            versions::dispose_package_versions(context).await
        }
        ("POST", "/v1/package/versions/copy") => versions::copy_package_versions(context).await,
        ("GET", "/v1/package/version/readme") => {
            versions::get_package_version_readme(context).await
        }
        ("POST", "/v1/package/version/dependencies") => {
            versions::list_package_version_dependencies(context).await
        }
        ("POST", "/v1/tag") => tags::tag_resource(context).await,
        ("POST", "/v1/untag") => tags::untag_resource(context).await,
        ("POST", "/v1/tags") => tags::list_tags_for_resource(context).await,
        ("PUT", "/v1/domain/permissions/policy") => policies::put(context, false).await,
        ("GET", "/v1/domain/permissions/policy") => policies::get(context, false).await,
        ("DELETE", "/v1/domain/permissions/policy") => policies::delete(context, false).await,
        ("PUT", "/v1/repository/permissions/policy") => policies::put(context, true).await,
        ("GET", "/v1/repository/permissions/policy") => policies::get(context, true).await,
        ("DELETE", "/v1/repository/permissions/policies") => policies::delete(context, true).await,
        ("POST", "/v1/package-group") => package_groups::create_package_group(context).await,
        ("PUT", "/v1/package-group") => package_groups::update_package_group(context).await,
        ("DELETE", "/v1/package-group") => package_groups::delete_package_group(context).await,
        ("GET", "/v1/package-group") => package_groups::describe_package_group(context).await,
        ("POST", "/v1/package-groups") => package_groups::list_package_groups(context).await,
        ("POST", "/v1/package-groups/sub-groups") => {
            package_groups::list_sub_package_groups(context).await
        }
        ("PUT", "/v1/package-group-origin-configuration") => {
            package_groups::update_origin_configuration(context).await
        }
        ("GET", "/v1/get-associated-package-group") => {
            package_groups::get_associated_package_group(context).await
        }
        ("GET", "/v1/package-group-allowed-repositories") => {
            package_groups::list_allowed_repositories(context).await
        }
        ("GET", "/v1/list-associated-packages") => {
            package_groups::list_associated_packages(context).await
        }
        _ => Err(ApiError::unknown_operation()),
    }
}

// ----- validation -----

fn constraint(name: &str, value: &str, rule: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value '{value}' at '{name}' failed to satisfy constraint: {rule}"
    ))
}

/// Domain names: 2–50 characters, `[a-z][a-z0-9\-]{0,48}[a-z0-9]`.
///
/// # Errors
/// `ValidationException`.
pub fn validate_domain_name(name: &str) -> Result<(), ApiError> {
    let bytes = name.as_bytes();
    let valid = (2..=50).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || *byte == b'-')
        && bytes[bytes.len() - 1] != b'-';
    if valid {
        Ok(())
    } else {
        Err(constraint(
            "domain",
            name,
            "Member must satisfy regular expression pattern: [a-z][a-z0-9\\-]{0,48}[a-z0-9]",
        ))
    }
}

/// Repository names: 2–100 characters, `[A-Za-z0-9][A-Za-z0-9._\-]{1,99}`.
///
/// # Errors
/// `ValidationException`.
pub fn validate_repository_name(name: &str) -> Result<(), ApiError> {
    let bytes = name.as_bytes();
    let valid = (2..=100).contains(&bytes.len())
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(constraint(
            "repository",
            name,
            "Member must satisfy regular expression pattern: [A-Za-z0-9][A-Za-z0-9._\\-]{1,99}",
        ))
    }
}

/// The format a request names, or CodeArtifact's validation error for a name it does not
/// know.
fn validate_format(format: &str) -> Result<Format, ApiError> {
    format.parse().map_err(|_| {
        let names: Vec<&str> = FORMATS_AS_CODEARTIFACT_LISTS_THEM
            .iter()
            .map(|format| format.name())
            .collect();
        constraint(
            "format",
            format,
            &format!("Member must satisfy enum value set: [{}]", names.join(", ")),
        )
    })
}

/// Package, namespace and version fields: 1–255 characters, `[^#/\s]+`.
fn validate_field(name: &str, value: &str) -> Result<(), ApiError> {
    let valid = (1..=255).contains(&value.chars().count())
        && !value
            .chars()
            .any(|character| character == '#' || character == '/' || character.is_whitespace());
    if valid {
        Ok(())
    } else {
        Err(constraint(
            name,
            value,
            "Member must satisfy regular expression pattern: [^#/\\s]+",
        ))
    }
}

fn validate_asset_name(value: &str) -> Result<(), ApiError> {
    let valid = (1..=255).contains(&value.chars().count())
        && !value.chars().any(char::is_control)
        && !value.contains('/')
        && value != "."
        && value != "..";
    if valid {
        Ok(())
    } else {
        Err(constraint(
            "asset",
            value,
            "Member must satisfy regular expression pattern: \\P{C}+",
        ))
    }
}

/// The rules CodeArtifact applies to a generic package's coordinates: namespace, package
/// and version are 1–255 characters of `[^#/\s]`, no control characters and not `.` or
/// `..`; an asset name is Unicode letters and digits, the characters ``~!@^&()-_+[]{};,.``
/// and single inner spaces, and not `.` or `..`. Used by `PublishPackageVersion` and by the
/// generic data plane alike, so both refuse the same names with the same message.
///
/// # Errors
/// `ValidationException` naming the first field that breaks them.
pub fn validate_generic_coordinates(
    namespace: &str,
    package: &str,
    version: &str,
    asset: &str,
) -> Result<(), ApiError> {
    for (name, value) in [
        ("namespace", namespace),
        ("package", package),
        ("version", version),
    ] {
        validate_field(name, value)?;
        if value == "." || value == ".." || value.chars().any(char::is_control) {
            return Err(constraint(
                name,
                value,
                "Member must satisfy regular expression pattern: [^#/\\s]+ and must not be `.` or `..`",
            ));
        }
    }
    validate_asset_name(asset)?;
    let allowed =
        |character: char| character.is_alphanumeric() || "~!@^&()-_+[]{};,. ".contains(character);
    let valid = asset.chars().all(allowed)
        && !asset.starts_with(' ')
        && !asset.ends_with(' ')
        && !asset.contains("  ");
    if valid {
        Ok(())
    } else {
        Err(constraint(
            "asset",
            asset,
            "generic asset names are Unicode letters and digits, the characters ~!@^&()-_+[]{};,. and single spaces between other characters",
        ))
    }
}

fn domain_and_repository(context: &Context<'_>) -> Result<(String, String), ApiError> {
    let domain = context.query.required("domain")?.to_owned();
    let repository = context.query.required("repository")?.to_owned();
    validate_domain_name(&domain)?;
    validate_repository_name(&repository)?;
    context.check_owner()?;
    Ok((domain, repository))
}

fn package_key(context: &Context<'_>) -> Result<PackageKey, ApiError> {
    let (domain, repository) = domain_and_repository(context)?;
    let format = validate_format(context.query.required("format")?)?
        .name()
        .to_owned();
    let package = context.query.required("package")?.to_owned();
    validate_field("package", &package)?;
    let namespace = context
        .query
        .optional("namespace")
        .unwrap_or_default()
        .to_owned();
    if !namespace.is_empty() {
        validate_field("namespace", &namespace)?;
    }
    Ok(PackageKey {
        domain,
        repository,
        format,
        namespace,
        package,
    })
}

/// Resolve that the repository exists (after authorization).
async fn require_repository(
    context: &Context<'_>,
    domain: &str,
    repository: &str,
) -> Result<store::Repository, ApiError> {
    let (domain_name, repository_name) = (domain.to_owned(), repository.to_owned());
    let found = context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> {
            Ok((
                store::domain(connection, &domain_name)?,
                store::repository(connection, &domain_name, &repository_name)?,
            ))
        })
        .await?;
    match found {
        (None, _) => Err(ApiError::not_found(
            format!("Domain {domain} does not exist"),
            domain,
            "domain",
        )),
        (Some(_), None) => Err(ApiError::not_found(
            format!("Repository {repository} does not exist in domain {domain}"),
            repository,
            "repository",
        )),
        (Some(_), Some(found)) => Ok(found),
    }
}

// ----- pagination -----

/// Signs and checks `nextToken`s. A token is opaque to the caller: the offset of the next
/// page and an HMAC over it and the listing it belongs to (operation and filters), keyed
/// by a secret derived from the admin principal's key, so it survives restarts and is the
/// same on every node sharing the index. A token that was not issued for this listing, or
/// was altered, is a `ValidationException`, as AWS answers a forged one.
struct PageTokens {
    key: [u8; 32],
    scope: String,
}

/// Bytes of the MAC kept in a token.
const PAGE_TOKEN_MAC_BYTES: usize = 16;

impl PageTokens {
    fn mac(&self, offset: u64) -> [u8; PAGE_TOKEN_MAC_BYTES] {
        use hmac::Mac as _;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(b"lading-page-token-v1\0");
        mac.update(self.scope.as_bytes());
        mac.update(b"\0");
        mac.update(&offset.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let mut kept = [0u8; PAGE_TOKEN_MAC_BYTES];
        kept.copy_from_slice(&digest[..PAGE_TOKEN_MAC_BYTES]);
        kept
    }

    fn issue(&self, offset: u64) -> String {
        let mut bytes = offset.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.mac(offset));
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The offset a token stands for, if this server issued it for this listing.
    fn open(&self, token: &str) -> Option<u64> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .ok()?;
        if bytes.len() != 8 + PAGE_TOKEN_MAC_BYTES {
            return None;
        }
        let (offset, mac) = bytes.split_at(8);
        let offset = u64::from_be_bytes(offset.try_into().ok()?);
        let expected = self.mac(offset);
        // Constant time: a MAC compared byte by byte early-exits and leaks its prefix.
        let differs = expected
            .iter()
            .zip(mac)
            .fold(0u8, |acc, (left, right)| acc | (left ^ right));
        (differs == 0).then_some(offset)
    }
}

fn paginate<T>(
    items: Vec<T>,
    max_results: Option<&str>,
    next_token: Option<&str>,
    cap: usize,
    tokens: &PageTokens,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let limit = match max_results {
        Some(text) => {
            let limit: usize = text
                .parse()
                .map_err(|_| constraint("maxResults", text, "Member must be a number"))?;
            if limit == 0 || limit > cap {
                return Err(constraint(
                    "maxResults",
                    text,
                    &format!("Member must have value between 1 and {cap}"),
                ));
            }
            limit
        }
        None => cap,
    };
    let offset = match next_token {
        Some(token) => tokens
            .open(token)
            .and_then(|offset| usize::try_from(offset).ok())
            .ok_or_else(|| ApiError::validation("The nextToken is invalid"))?,
        None => 0,
    };
    let total = items.len();
    let end = offset.saturating_add(limit);
    let page: Vec<T> = items.into_iter().skip(offset).take(limit).collect();
    let next = (end < total).then(|| tokens.issue(end as u64));
    Ok((page, next))
}

fn with_next_token(mut value: Value, next: Option<String>) -> Value {
    if let (Some(next), Some(object)) = (next, value.as_object_mut()) {
        object.insert("nextToken".to_owned(), Value::String(next));
    }
    value
}

#[expect(
    clippy::unnecessary_wraps,
    reason = "handlers end with `ok(...)` for symmetry with their error paths"
)]
fn ok(value: Value) -> Result<Response, ApiError> {
    Ok((StatusCode::OK, axum::Json(value)).into_response())
}

// ----- domains -----

fn domain_json(context: &Context<'_>, domain: &store::Domain, usage: Option<(i64, i64)>) -> Value {
    let mut value = json!({
        "name": domain.name,
        "owner": domain.owner,
        "arn": context.domain_arn(&domain.name),
        "status": "Active",
        "createdTime": domain.created,
    });
    if let Some(key) = &domain.encryption_key {
        value["encryptionKey"] = json!(key);
    }
    if let Some((repositories, bytes)) = usage {
        value["repositoryCount"] = json!(repositories);
        value["assetSizeBytes"] = json!(bytes);
    }
    value
}

async fn create_domain(context: Context<'_>) -> Result<Response, ApiError> {
    let name = context.query.required("domain")?.to_owned();
    validate_domain_name(&name)?;
    context.authorize("CreateDomain", &name, None, Permission::Admin)?;
    let body = context.json_body()?;
    let tags = tags::from_body(&body, "tags")?;
    let domain = store::Domain {
        name: name.clone(),
        owner: context.account().to_owned(),
        created: context.state.clock.now(),
        encryption_key: body
            .get("encryptionKey")
            .and_then(Value::as_str)
            .map(ToOwned::to_owned),
    };
    let row = domain.clone();
    let inserted = context
        .state
        .store
        .with(move |connection| -> Result<bool, ApiError> {
            let transaction = store::write_transaction(connection)?;
            if !store::insert_domain(&transaction, &row)? {
                return Ok(false);
            }
            tags::add(&transaction, &format!("domain/{}", row.name), &tags)?;
            transaction.commit()?;
            Ok(true)
        })
        .await?;
    if !inserted {
        return Err(ApiError::conflict(
            format!("Domain {name} already exists"),
            &name,
            "domain",
        ));
    }
    ok(json!({ "domain": domain_json(&context, &domain, Some((0, 0))) }))
}

async fn describe_domain(context: Context<'_>) -> Result<Response, ApiError> {
    let name = context.query.required("domain")?.to_owned();
    validate_domain_name(&name)?;
    context.check_owner()?;
    context.authorize("DescribeDomain", &name, None, Permission::Read)?;
    let lookup = name.clone();
    let found = context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> {
            match store::domain(connection, &lookup)? {
                Some(domain) => {
                    let usage = store::domain_usage(connection, &lookup)?;
                    Ok(Some((domain, usage)))
                }
                None => Ok(None),
            }
        })
        .await?;
    let (domain, usage) = found.ok_or_else(|| {
        ApiError::not_found(format!("Domain {name} does not exist"), &name, "domain")
    })?;
    ok(json!({ "domain": domain_json(&context, &domain, Some(usage)) }))
}

async fn list_domains(context: Context<'_>) -> Result<Response, ApiError> {
    let body = context.json_body()?;
    let max_results = body.get("maxResults").map(std::string::ToString::to_string);
    let next_token = body
        .get("nextToken")
        .and_then(Value::as_str)
        .map(ToOwned::to_owned);
    let domains = context
        .state
        .store
        .with(|connection| -> Result<_, ApiError> { Ok(store::domains(connection)?) })
        .await?;
    let visible: Vec<_> = domains
        .into_iter()
        .filter(|domain| {
            context
                .principal
                .allows(&domain.name, None, Permission::Read)
        })
        .collect();
    let tokens = context.page_tokens("ListDomains");
    let (page, next) = paginate(
        visible,
        max_results.as_deref(),
        next_token.as_deref(),
        1000,
        &tokens,
    )?;
    let items: Vec<Value> = page
        .iter()
        .map(|domain| domain_json(&context, domain, None))
        .collect();
    ok(with_next_token(json!({ "domains": items }), next))
}

// ----- repositories -----

/// A repository's upstreams and external connections (name, format).
struct Links {
    upstreams: Vec<String>,
    external: Vec<(String, String)>,
}

async fn repository_links(
    context: &Context<'_>,
    domain: &str,
    repository: &str,
) -> Result<Links, ApiError> {
    let (domain, repository) = (domain.to_owned(), repository.to_owned());
    let (upstreams, names) = context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> {
            Ok((
                packages::upstreams(connection, &domain, &repository)?,
                packages::external_connections(connection, &domain, &repository)?,
            ))
        })
        .await?;
    let external = names
        .into_iter()
        .map(|name| {
            let format = context
                .state
                .externals
                .get(&name)
                .map_or("unknown", |connection| connection.format.name())
                .to_owned();
            (name, format)
        })
        .collect();
    Ok(Links {
        upstreams,
        external,
    })
}

fn repository_json(
    context: &Context<'_>,
    repository: &store::Repository,
    links: Option<&Links>,
) -> Value {
    let mut value = json!({
        "name": repository.name,
        "administratorAccount": context.account(),
        "domainName": repository.domain,
        "domainOwner": context.account(),
        "arn": context.repository_arn(&repository.domain, &repository.name),
        "createdTime": repository.created,
    });
    if let Some(description) = &repository.description {
        value["description"] = json!(description);
    }
    if let Some(links) = links {
        value["upstreams"] = links
            .upstreams
            .iter()
            .map(|name| json!({ "repositoryName": name }))
            .collect();
        value["externalConnections"] = links
            .external
            .iter()
            .map(|(name, format)| json!({ "externalConnectionName": name, "packageFormat": format, "status": "Available" }))
            .collect();
    }
    value
}

fn upstream_names(body: &Value) -> Result<Option<Vec<String>>, ApiError> {
    let Some(list) = body.get("upstreams") else {
        return Ok(None);
    };
    let list = list
        .as_array()
        .ok_or_else(|| ApiError::cannot_parse("`upstreams` must be a list"))?;
    list.iter()
        .map(|item| {
            let name = item
                .get("repositoryName")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::cannot_parse("each upstream needs `repositoryName`"))?;
            validate_repository_name(name)?;
            Ok(name.to_owned())
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Check upstreams exist in the domain and do not make a cycle back to `repository`.
fn check_upstreams(
    connection: &super::index::Connection,
    domain: &str,
    repository: &str,
    upstreams: &[String],
) -> Result<(), ApiError> {
    for upstream in upstreams {
        if upstream == repository {
            return Err(ApiError::validation(format!(
                "Repository {repository} cannot be its own upstream"
            )));
        }
        if store::repository(connection, domain, upstream)?.is_none() {
            return Err(ApiError::not_found(
                format!("Upstream repository {upstream} does not exist in domain {domain}"),
                upstream,
                "repository",
            ));
        }
        if packages::search_order(connection, domain, upstream)?
            .iter()
            .any(|name| name == repository)
        {
            return Err(ApiError::validation(format!(
                "Adding {upstream} as an upstream of {repository} would create a cycle"
            )));
        }
    }
    Ok(())
}

/// CodeArtifact requires `codeartifact:AssociateWithDownstreamRepository` on a repository
/// to make it an upstream of another; here that is a `read` grant on it, since an upstream's
/// packages become readable through its downstream. Checked for each upstream the request
/// adds (`already` are those the repository had), before anything is looked up, so the
/// answer does not tell whether the repository exists. Upstreams are named within the
/// request's domain (`UpstreamRepository` has only `repositoryName`), so no upstream can
/// cross domains.
fn authorize_upstreams(
    context: &Context<'_>,
    domain: &str,
    upstreams: &[String],
    already: &[String],
) -> Result<(), ApiError> {
    for upstream in upstreams.iter().filter(|name| !already.contains(name)) {
        context.authorize(
            "AssociateWithDownstreamRepository",
            domain,
            Some(upstream),
            Permission::Read,
        )?;
    }
    Ok(())
}

async fn create_repository(context: Context<'_>) -> Result<Response, ApiError> {
    let (domain, name) = domain_and_repository(&context)?;
    context.authorize("CreateRepository", &domain, Some(&name), Permission::Admin)?;
    let body = context.json_body()?;
    let upstreams = upstream_names(&body)?.unwrap_or_default();
    let tags = tags::from_body(&body, "tags")?;
    authorize_upstreams(&context, &domain, &upstreams, &[])?;
    let repository = store::Repository {
        domain: domain.clone(),
        name: name.clone(),
        description: body
            .get("description")
            .and_then(Value::as_str)
            .map(ToOwned::to_owned),
        created: context.state.clock.now(),
    };
    let row = repository.clone();
    let wanted = upstreams.clone();
    let outcome = context
        .state
        .store
        .with(move |connection| -> Result<Option<bool>, ApiError> {
            let transaction = store::write_transaction(connection)?;
            if store::domain(&transaction, &row.domain)?.is_none() {
                return Ok(None);
            }
            if store::repository(&transaction, &row.domain, &row.name)?.is_some() {
                return Ok(Some(false));
            }
            check_upstreams(&transaction, &row.domain, &row.name, &wanted)?;
            store::insert_repository(&transaction, &row)?;
            packages::set_upstreams(&transaction, &row.domain, &row.name, &wanted)?;
            tags::add(
                &transaction,
                &format!("repository/{}/{}", row.domain, row.name),
                &tags,
            )?;
            transaction.commit()?;
            Ok(Some(true))
        })
        .await?;
    match outcome {
        None => Err(ApiError::not_found(
            format!("Domain {domain} does not exist"),
            &domain,
            "domain",
        )),
        Some(false) => Err(ApiError::conflict(
            format!("Repository {name} already exists in domain {domain}"),
            &name,
            "repository",
        )),
        Some(true) => {
            let links = Links {
                upstreams,
                external: Vec::new(),
            };
            ok(json!({ "repository": repository_json(&context, &repository, Some(&links)) }))
        }
    }
}

async fn describe_repository(context: Context<'_>) -> Result<Response, ApiError> {
    let (domain, name) = domain_and_repository(&context)?;
    context.authorize("DescribeRepository", &domain, Some(&name), Permission::Read)?;
    let repository = require_repository(&context, &domain, &name).await?;
    let links = repository_links(&context, &domain, &name).await?;
    ok(json!({ "repository": repository_json(&context, &repository, Some(&links)) }))
}

async fn update_repository(context: Context<'_>) -> Result<Response, ApiError> {
    let (domain, name) = domain_and_repository(&context)?;
    context.authorize("UpdateRepository", &domain, Some(&name), Permission::Admin)?;
    require_repository(&context, &domain, &name).await?;
    let body = context.json_body()?;
    let upstreams = upstream_names(&body)?;
    if let Some(upstreams) = &upstreams {
        let (lookup_domain, lookup_name) = (domain.clone(), name.clone());
        let already = context
            .state
            .store
            .with(move |connection| -> Result<_, ApiError> {
                Ok(packages::upstreams(
                    connection,
                    &lookup_domain,
                    &lookup_name,
                )?)
            })
            .await?;
        authorize_upstreams(&context, &domain, upstreams, &already)?;
    }
    let description = body
        .get("description")
        .and_then(Value::as_str)
        .map(ToOwned::to_owned);
    let (lookup_domain, lookup_name) = (domain.clone(), name.clone());
    let repository = context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> {
            let transaction = store::write_transaction(connection)?;
            if let Some(upstreams) = &upstreams {
                check_upstreams(&transaction, &lookup_domain, &lookup_name, upstreams)?;
                packages::set_upstreams(&transaction, &lookup_domain, &lookup_name, upstreams)?;
            }
            if let Some(description) = &description {
                store::set_repository_description(
                    &transaction,
                    &lookup_domain,
                    &lookup_name,
                    description,
                )?;
            }
            let repository = store::repository(&transaction, &lookup_domain, &lookup_name)?;
            transaction.commit()?;
            Ok(repository)
        })
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                format!("Repository {name} does not exist in domain {domain}"),
                &name,
                "repository",
            )
        })?;
    let links = repository_links(&context, &domain, &name).await?;
    ok(json!({ "repository": repository_json(&context, &repository, Some(&links)) }))
}

async fn link_external_connection(
    context: Context<'_>,
    attach: bool,
) -> Result<Response, ApiError> {
    let (domain, name) = domain_and_repository(&context)?;
    let connection_name = context.query.required("external-connection")?.to_owned();
    let operation = if attach {
        "AssociateExternalConnection"
    } else {
        "DisassociateExternalConnection"
    };
    context.authorize(operation, &domain, Some(&name), Permission::Admin)?;
    let repository = require_repository(&context, &domain, &name).await?;
    if attach && context.state.externals.get(&connection_name).is_none() {
        let known: Vec<&str> = context.state.externals.names().collect();
        return Err(ApiError::validation(format!(
            "External connection {connection_name} is not known to this server; the available ones are {}; declare others under `external_connections` in the server config",
            known.join(", ")
        )));
    }
    let (lookup_domain, lookup_name, link) =
        (domain.clone(), name.clone(), connection_name.clone());
    let outcome = context
        .state
        .store
        .with(move |connection| -> Result<Result<(), bool>, ApiError> {
            let transaction = store::write_transaction(connection)?;
            let existing =
                packages::external_connections(&transaction, &lookup_domain, &lookup_name)?;
            if attach && !existing.is_empty() && !existing.contains(&link) {
                return Ok(Err(true));
            }
            if !attach && !existing.contains(&link) {
                return Ok(Err(false));
            }
            packages::link_external(&transaction, &lookup_domain, &lookup_name, &link, attach)?;
            transaction.commit()?;
            Ok(Ok(()))
        })
        .await?;
    match outcome {
        Err(true) => {
            return Err(ApiError::conflict(
                format!(
                    "Repository {name} already has an external connection; a repository can have one"
                ),
                &name,
                "repository",
            ));
        }
        Err(false) => {
            return Err(ApiError::not_found(
                format!(
                    "External connection {connection_name} is not associated with repository {name}"
                ),
                &connection_name,
                "repository",
            ));
        }
        Ok(()) => {}
    }
    let links = repository_links(&context, &domain, &name).await?;
    ok(json!({ "repository": repository_json(&context, &repository, Some(&links)) }))
}

async fn list_repositories(context: Context<'_>, in_domain: bool) -> Result<Response, ApiError> {
    let domain = if in_domain {
        let domain = context.query.required("domain")?.to_owned();
        validate_domain_name(&domain)?;
        context.check_owner()?;
        context.authorize("ListRepositoriesInDomain", &domain, None, Permission::Read)?;
        Some(domain)
    } else {
        None
    };
    let lookup = domain.clone();
    let (exists, repositories) = context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> {
            let exists = match &lookup {
                Some(domain) => store::domain(connection, domain)?.is_some(),
                None => true,
            };
            Ok((exists, store::repositories(connection, lookup.as_deref())?))
        })
        .await?;
    if let (false, Some(domain)) = (exists, &domain) {
        return Err(ApiError::not_found(
            format!("Domain {domain} does not exist"),
            domain,
            "domain",
        ));
    }
    let prefix = context
        .query
        .optional("repository-prefix")
        .unwrap_or_default();
    let administrator = context.query.optional("administrator-account");
    let visible: Vec<_> = repositories
        .into_iter()
        .filter(|repository| repository.name.starts_with(prefix))
        .filter(|_| administrator.is_none_or(|account| account == context.account()))
        .filter(|repository| {
            context
                .principal
                .allows(&repository.domain, Some(&repository.name), Permission::Read)
        })
        .collect();
    let (page, next) = paginate(
        visible,
        context.query.optional("max-results"),
        context.query.optional("next-token"),
        1000,
        &context.page_tokens("ListRepositories"),
    )?;
    let items: Vec<Value> = page
        .iter()
        .map(|repository| repository_json(&context, repository, None))
        .collect();
    ok(with_next_token(json!({ "repositories": items }), next))
}

// ----- tokens and endpoints -----

async fn get_authorization_token(context: Context<'_>) -> Result<Response, ApiError> {
    let domain = context.query.required("domain")?.to_owned();
    validate_domain_name(&domain)?;
    context.check_owner()?;
    context.authorize("GetAuthorizationToken", &domain, None, Permission::Read)?;
    let duration: i64 = match context.query.optional("duration") {
        Some(text) => text
            .parse()
            .map_err(|_| constraint("durationSeconds", text, "Member must be a number"))?,
        None => 43_200,
    };
    if duration != 0 && !(900..=43_200).contains(&duration) {
        return Err(constraint(
            "durationSeconds",
            &duration.to_string(),
            "Member must be 0 or have value between 900 and 43200",
        ));
    }
    // 0 means "as long as the caller's session"; static keys have no session, so 12 hours.
    let lifetime = if duration == 0 { 43_200 } else { duration };
    let token = super::access::new_token();
    #[expect(clippy::cast_precision_loss, reason = "lifetimes are at most 43200")]
    let expires = (context.state.clock.now() + lifetime as f64).floor();
    let row = store::TokenRow {
        principal: context.principal.name.clone(),
        domain: domain.clone(),
        expires,
    };
    let hash = super::access::token_hash(token.expose());
    let lookup = domain.clone();
    let found = context
        .state
        .store
        .with(move |connection| -> Result<bool, ApiError> {
            if store::domain(connection, &lookup)?.is_none() {
                return Ok(false);
            }
            store::insert_token(connection, &hash, &row)?;
            Ok(true)
        })
        .await?;
    if !found {
        return Err(ApiError::not_found(
            format!("Domain {domain} does not exist"),
            &domain,
            "domain",
        ));
    }
    tracing::info!(principal = %context.principal.name, %domain, lifetime, "issued an authorization token");
    ok(json!({ "authorizationToken": token.expose(), "expiration": expires }))
}

async fn get_repository_endpoint(context: Context<'_>) -> Result<Response, ApiError> {
    let (domain, repository) = domain_and_repository(&context)?;
    let format = validate_format(context.query.required("format")?)?;
    if let Some(endpoint_type) = context.query.optional("endpointType")
        && endpoint_type != "ipv4"
        && endpoint_type != "dualstack"
    {
        return Err(constraint(
            "endpointType",
            endpoint_type,
            "Member must satisfy enum value set: [dualstack, ipv4]",
        ));
    }
    context.authorize(
        "GetRepositoryEndpoint",
        &domain,
        Some(&repository),
        Permission::Read,
    )?;
    require_repository(&context, &domain, &repository).await?;
    ok(
        json!({ "repositoryEndpoint": context.state.repository_endpoint(context.headers, &domain, format, &repository) }),
    )
}

// ----- packages -----

fn origin_json(origin: Option<&packages::Origin>, repository: &str) -> Value {
    let (origin_type, entry, external) = origin.map_or(("INTERNAL", repository, None), |origin| {
        (
            origin.origin_type.as_str(),
            origin.entry_repository.as_str(),
            origin.external_connection.as_deref(),
        )
    });
    let mut entry_point = json!({ "repositoryName": entry });
    if let Some(external) = external {
        entry_point = json!({ "externalConnectionName": external });
    }
    json!({ "domainEntryPoint": entry_point, "originType": origin_type })
}

fn insert_namespace(value: &mut Value, namespace: &str) {
    if !namespace.is_empty() {
        value["namespace"] = json!(namespace);
    }
}

fn parse_restriction(value: Option<&str>, member: &str) -> Result<Option<String>, ApiError> {
    match value {
        None => Ok(None),
        Some(text @ ("ALLOW" | "BLOCK")) => Ok(Some(text.to_owned())),
        Some(other) => Err(constraint(
            member,
            other,
            "Member must satisfy enum value set: [ALLOW, BLOCK]",
        )),
    }
}

async fn list_packages(context: Context<'_>) -> Result<Response, ApiError> {
    let (domain, repository) = domain_and_repository(&context)?;
    let format = context.query.optional("format").map(ToOwned::to_owned);
    if let Some(format) = &format {
        validate_format(format)?;
    }
    let publish = parse_restriction(context.query.optional("publish"), "publish")?;
    let upstream = parse_restriction(context.query.optional("upstream"), "upstream")?;
    context.authorize("ListPackages", &domain, Some(&repository), Permission::Read)?;
    require_repository(&context, &domain, &repository).await?;
    let namespace = context.query.optional("namespace").map(ToOwned::to_owned);
    let prefix = context
        .query
        .optional("package-prefix")
        .map(ToOwned::to_owned);
    let listed = context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> {
            let mut summaries = store::packages(
                connection,
                &domain,
                &repository,
                format.as_deref(),
                namespace.as_deref(),
                prefix.as_deref(),
            )?;
            for configured in packages::configured_packages(connection, &domain, &repository)? {
                let wanted = format
                    .as_deref()
                    .is_none_or(|format| format == configured.format)
                    && namespace
                        .as_deref()
                        .is_none_or(|namespace| namespace == configured.namespace)
                    && prefix
                        .as_deref()
                        .is_none_or(|prefix| configured.package.starts_with(prefix));
                let known = summaries.iter().any(|summary| {
                    summary.format == configured.format
                        && summary.namespace == configured.namespace
                        && summary.package == configured.package
                });
                if wanted && !known {
                    summaries.push(configured);
                }
            }
            summaries.sort_by(|left, right| {
                (&left.format, &left.namespace, &left.package).cmp(&(
                    &right.format,
                    &right.namespace,
                    &right.package,
                ))
            });
            let mut listed = Vec::new();
            for summary in summaries {
                let key = PackageKey {
                    domain: domain.clone(),
                    repository: repository.clone(),
                    format: summary.format.clone(),
                    namespace: summary.namespace.clone(),
                    package: summary.package.clone(),
                };
                let restrictions = packages::effective_restrictions(connection, &key)?;
                if publish
                    .as_deref()
                    .is_some_and(|wanted| wanted != restrictions.publish)
                    || upstream
                        .as_deref()
                        .is_some_and(|wanted| wanted != restrictions.upstream)
                {
                    continue;
                }
                listed.push((summary, restrictions));
            }
            Ok(listed)
        })
        .await?;
    let (page, next) = paginate(
        listed,
        context.query.optional("max-results"),
        context.query.optional("next-token"),
        1000,
        &context.page_tokens("ListPackages"),
    )?;
    let items: Vec<Value> = page
        .iter()
        .map(|(package, restrictions)| {
            let mut value = json!({ "format": package.format, "package": package.package, "originConfiguration": restrictions.to_json() });
            insert_namespace(&mut value, &package.namespace);
            value
        })
        .collect();
    ok(with_next_token(json!({ "packages": items }), next))
}

/// What the control plane knows about one package.
struct PackageRecord {
    versions: Vec<(VersionRow, Option<packages::Origin>)>,
    tags: Vec<(String, String)>,
    restrictions: Restrictions,
}

/// Load a package, failing with `ResourceNotFoundException` when the repository has no
/// record of it (no versions and no origin configuration).
async fn require_package(
    context: &Context<'_>,
    key: &PackageKey,
) -> Result<PackageRecord, ApiError> {
    require_repository(context, &key.domain, &key.repository).await?;
    let lookup = key.clone();
    let (record, exists) = context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> {
            let tags = if lookup.format == "npm" {
                store::dist_tags(connection, &lookup)?
            } else {
                Vec::new()
            };
            let versions = store::versions(connection, &lookup)?
                .into_iter()
                .map(|row| {
                    let origin = packages::version_origin(connection, row.id)?;
                    Ok((row, origin))
                })
                .collect::<Result<Vec<_>, super::index::Error>>()?;
            let restrictions = packages::effective_restrictions(connection, &lookup)?;
            let exists = packages::package_exists(connection, &lookup)?;
            Ok((
                PackageRecord {
                    versions,
                    tags,
                    restrictions,
                },
                exists,
            ))
        })
        .await?;
    if !exists {
        return Err(ApiError::not_found(
            format!(
                "Package {} not found in repository {}",
                display_package(key),
                key.repository
            ),
            &key.package,
            "package",
        ));
    }
    Ok(record)
}

fn display_package(key: &PackageKey) -> String {
    if key.namespace.is_empty() {
        key.package.clone()
    } else {
        format!("{}/{}", key.namespace, key.package)
    }
}

async fn describe_package(context: Context<'_>) -> Result<Response, ApiError> {
    let key = package_key(&context)?;
    context.authorize(
        "DescribePackage",
        &key.domain,
        Some(&key.repository),
        Permission::Read,
    )?;
    let record = require_package(&context, &key).await?;
    let mut package = json!({ "format": key.format, "name": key.package, "originConfiguration": record.restrictions.to_json() });
    insert_namespace(&mut package, &key.namespace);
    ok(json!({ "package": package }))
}

async fn put_package_origin_configuration(context: Context<'_>) -> Result<Response, ApiError> {
    let key = package_key(&context)?;
    let body = context.json_body()?;
    let restrictions = body.get("restrictions").ok_or_else(|| {
        ApiError::validation("1 validation error detected: Value null at 'restrictions' failed to satisfy constraint: Member must not be null")
    })?;
    let publish = parse_restriction(
        restrictions.get("publish").and_then(Value::as_str),
        "publish",
    )?;
    let upstream = parse_restriction(
        restrictions.get("upstream").and_then(Value::as_str),
        "upstream",
    )?;
    context.authorize(
        "PutPackageOriginConfiguration",
        &key.domain,
        Some(&key.repository),
        Permission::Admin,
    )?;
    require_repository(&context, &key.domain, &key.repository).await?;
    let lookup = key.clone();
    let updated = context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> {
            let transaction = store::write_transaction(connection)?;
            let current = packages::effective_restrictions(&transaction, &lookup)?;
            let updated = Restrictions {
                publish: publish.unwrap_or(current.publish),
                upstream: upstream.unwrap_or(current.upstream),
            };
            packages::set_restrictions(&transaction, &lookup, &updated)?;
            transaction.commit()?;
            Ok(updated)
        })
        .await?;
    tracing::info!(package = %display_package(&key), publish = %updated.publish, upstream = %updated.upstream, "origin configuration changed");
    ok(json!({ "originConfiguration": updated.to_json() }))
}

async fn delete_package(context: Context<'_>) -> Result<Response, ApiError> {
    let key = package_key(&context)?;
    context.authorize(
        "DeletePackage",
        &key.domain,
        Some(&key.repository),
        Permission::Admin,
    )?;
    let record = require_package(&context, &key).await?;
    let lookup = key.clone();
    context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> {
            let transaction = store::write_transaction(connection)?;
            for row in store::versions(&transaction, &lookup)? {
                store::delete_version(&transaction, row.id)?;
            }
            for (tag, _) in store::dist_tags(&transaction, &lookup)? {
                store::set_dist_tag(&transaction, &lookup, &tag, None)?;
            }
            packages::delete_restrictions(&transaction, &lookup)?;
            transaction.commit()?;
            Ok(())
        })
        .await?;
    let mut deleted = json!({ "format": key.format, "package": key.package, "originConfiguration": record.restrictions.to_json() });
    insert_namespace(&mut deleted, &key.namespace);
    ok(json!({ "deletedPackage": deleted }))
}

async fn list_package_versions(context: Context<'_>) -> Result<Response, ApiError> {
    let key = package_key(&context)?;
    context.authorize(
        "ListPackageVersions",
        &key.domain,
        Some(&key.repository),
        Permission::Read,
    )?;
    let record = require_package(&context, &key).await?;
    let default_display = record
        .tags
        .iter()
        .find(|(tag, _)| tag == "latest")
        .map(|(_, version)| version.clone())
        .or_else(|| {
            record
                .versions
                .iter()
                .rev()
                .find(|(row, _)| row.status == "Published")
                .map(|(row, _)| row.version.clone())
        });
    let status = context.query.optional("status");
    let origin_type = context.query.optional("originType");
    let filtered: Vec<(VersionRow, Option<packages::Origin>)> = record
        .versions
        .into_iter()
        .filter(|(row, _)| status.is_none_or(|status| status == row.status))
        .filter(|(_, origin)| {
            origin_type.is_none_or(|wanted| {
                wanted
                    == origin
                        .as_ref()
                        .map_or("INTERNAL", |origin| origin.origin_type.as_str())
            })
        })
        .collect();
    let (page, next) = paginate(
        filtered,
        context.query.optional("max-results"),
        context.query.optional("next-token"),
        1000,
        &context.page_tokens("ListPackageVersions"),
    )?;
    let items: Vec<Value> = page
        .iter()
        .map(|(row, origin)| {
            json!({ "version": row.version, "revision": row.revision, "status": row.status, "origin": origin_json(origin.as_ref(), &key.repository) })
        })
        .collect();
    let mut value = json!({ "format": key.format, "package": key.package, "versions": items });
    insert_namespace(&mut value, &key.namespace);
    if let Some(version) = default_display {
        value["defaultDisplayVersion"] = json!(version);
    }
    ok(with_next_token(value, next))
}

async fn require_version(
    context: &Context<'_>,
    key: &PackageKey,
    version: &str,
) -> Result<VersionRow, ApiError> {
    require_repository(context, &key.domain, &key.repository).await?;
    let (lookup, wanted) = (key.clone(), version.to_owned());
    context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> {
            Ok(store::version(connection, &lookup, &wanted)?)
        })
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                format!(
                    "Package version {} {version} not found",
                    display_package(key)
                ),
                version,
                "package-version",
            )
        })
}

async fn describe_package_version(context: Context<'_>) -> Result<Response, ApiError> {
    let key = package_key(&context)?;
    let version = context.query.required("version")?.to_owned();
    validate_field("version", &version)?;
    context.authorize(
        "DescribePackageVersion",
        &key.domain,
        Some(&key.repository),
        Permission::Read,
    )?;
    let row = require_version(&context, &key, &version).await?;
    let row_id = row.id;
    let origin = context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> {
            Ok(packages::version_origin(connection, row_id)?)
        })
        .await?;
    let manifest: Value = row
        .metadata
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(Value::Null);
    let nuget_id = manifest.get("id").and_then(Value::as_str);
    let display_name = if key.format == "npm" && !key.namespace.is_empty() {
        format!("@{}/{}", key.namespace, key.package)
    } else if let (true, Some(id)) = (key.format == "nuget", nuget_id) {
        // NuGet package names are lowercased ids; the display name keeps the id's case.
        id.to_owned()
    } else {
        key.package.clone()
    };
    let mut description = json!({
        "format": key.format,
        "packageName": key.package,
        "displayName": display_name,
        "version": row.version,
        "publishedTime": row.published,
        "licenses": licenses(&manifest),
        "revision": row.revision,
        "status": row.status,
        "origin": origin_json(origin.as_ref(), &key.repository),
    });
    insert_namespace(&mut description, &key.namespace);
    if let Some(summary) = manifest.get("description").and_then(Value::as_str) {
        description["summary"] = json!(summary);
    }
    if let Some(home) = manifest.get("homepage").and_then(Value::as_str) {
        description["homePage"] = json!(home);
    }
    let source = manifest
        .get("repository")
        .and_then(|repository| repository.get("url").or(Some(repository)))
        .and_then(Value::as_str);
    if let Some(source) = source {
        description["sourceCodeRepository"] = json!(source);
    }
    ok(json!({ "packageVersion": description }))
}

fn licenses(manifest: &Value) -> Value {
    match manifest.get("license") {
        Some(Value::String(name)) => json!([{ "name": name }]),
        Some(Value::Object(object)) => {
            json!([{ "name": object.get("type").cloned().unwrap_or(Value::Null), "url": object.get("url").cloned().unwrap_or(Value::Null) }])
        }
        _ => json!([]),
    }
}

fn asset_json(asset: &AssetRow) -> Value {
    json!({
        "name": asset.name,
        "size": asset.size,
        "hashes": {
            "MD5": asset.digests.md5,
            "SHA-1": asset.digests.sha1,
            "SHA-256": asset.digests.sha256,
            "SHA-512": asset.digests.sha512,
        }
    })
}

async fn list_package_version_assets(context: Context<'_>) -> Result<Response, ApiError> {
    let key = package_key(&context)?;
    let version = context.query.required("version")?.to_owned();
    validate_field("version", &version)?;
    context.authorize(
        "ListPackageVersionAssets",
        &key.domain,
        Some(&key.repository),
        Permission::Read,
    )?;
    let row = require_version(&context, &key, &version).await?;
    let id = row.id;
    let assets = context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> { Ok(store::assets(connection, id)?) })
        .await?;
    let (page, next) = paginate(
        assets,
        context.query.optional("max-results"),
        context.query.optional("next-token"),
        1000,
        &context.page_tokens("ListPackageVersionAssets"),
    )?;
    let items: Vec<Value> = page.iter().map(asset_json).collect();
    let mut value = json!({ "format": key.format, "package": key.package, "version": row.version, "versionRevision": row.revision, "assets": items });
    insert_namespace(&mut value, &key.namespace);
    ok(with_next_token(value, next))
}

async fn get_package_version_asset(context: Context<'_>) -> Result<Response, ApiError> {
    let key = package_key(&context)?;
    let version = context.query.required("version")?.to_owned();
    let asset_name = context.query.required("asset")?.to_owned();
    validate_field("version", &version)?;
    validate_asset_name(&asset_name)?;
    context.authorize(
        "GetPackageVersionAsset",
        &key.domain,
        Some(&key.repository),
        Permission::Read,
    )?;
    let row = require_version(&context, &key, &version).await?;
    if let Some(revision) = context.query.optional("revision")
        && revision != row.revision
    {
        return Err(ApiError::not_found(
            format!("Package version revision {revision} not found"),
            revision,
            "package-version",
        ));
    }
    if row.status == "Disposed" {
        return Err(ApiError::not_found(
            format!("Package version {version} is disposed; its assets are gone"),
            &version,
            "package-version",
        ));
    }
    let id = row.id;
    let assets = context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> { Ok(store::assets(connection, id)?) })
        .await?;
    let asset = assets
        .into_iter()
        .find(|asset| asset.name == asset_name)
        .ok_or_else(|| {
            ApiError::not_found(
                format!("Asset {asset_name} not found in package version {version}"),
                &asset_name,
                "asset",
            )
        })?;
    let mut response = context
        .state
        .store
        .open_blob(asset.digests.sha256.clone())
        .await?
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    for (name, value) in [
        ("X-AssetName", &asset.name),
        ("X-PackageVersion", &row.version),
        ("X-PackageVersionRevision", &row.revision),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    Ok(response)
}

// ----- publishing -----

/// Why adding an asset to a version was refused.
#[derive(Debug)]
pub enum AddAssetError {
    /// The version exists and is no longer `Unfinished`.
    VersionClosed {
        /// Its status.
        status: String,
    },
    /// An asset of that name already exists in the version.
    AssetExists,
    /// The package's origin controls block direct publishing.
    Blocked,
    /// Its package group does not allow publishing it here (why).
    GroupRefused(String),
    /// Storage failed.
    Store(super::store::StoreError),
}

impl From<packages::AdmitError> for AddAssetError {
    fn from(error: packages::AdmitError) -> Self {
        match error {
            packages::AdmitError::Blocked => Self::Blocked,
            error @ packages::AdmitError::Group(_) => Self::GroupRefused(error.to_string()),
            packages::AdmitError::Sqlite(error) => Self::Store(error.into()),
        }
    }
}

impl From<super::index::Error> for AddAssetError {
    fn from(error: super::index::Error) -> Self {
        Self::Store(error.into())
    }
}

impl From<super::store::StoreError> for AddAssetError {
    fn from(error: super::store::StoreError) -> Self {
        Self::Store(error)
    }
}

/// Add an asset (already stored as a blob) to a generic package version in one transaction,
/// creating the version when needed. Returns the version row after the change.
///
/// # Errors
/// [`AddAssetError`].
pub fn add_generic_asset(
    connection: &mut super::index::Connection,
    key: &PackageKey,
    version: &str,
    asset: &AssetRow,
    unfinished: bool,
    now: f64,
) -> Result<VersionRow, AddAssetError> {
    let transaction = store::write_transaction(connection)?;
    let status = if unfinished {
        "Unfinished"
    } else {
        "Published"
    };
    let revision = new_revision();
    let row = match store::version(&transaction, key, version)? {
        Some(existing) if existing.status != "Unfinished" => {
            return Err(AddAssetError::VersionClosed {
                status: existing.status,
            });
        }
        Some(existing) => {
            if store::assets(&transaction, existing.id)?
                .iter()
                .any(|current| current.name == asset.name)
            {
                return Err(AddAssetError::AssetExists);
            }
            store::update_version_status(&transaction, existing.id, status, &revision)?;
            VersionRow {
                status: status.to_owned(),
                revision,
                ..existing
            }
        }
        None => {
            packages::admit_publish(&transaction, key)?;
            let mut row = VersionRow {
                id: 0,
                version: version.to_owned(),
                revision,
                status: status.to_owned(),
                published: now,
                metadata: None,
            };
            row.id = store::insert_version(&transaction, key, &row)?;
            row
        }
    };
    store::insert_asset(&transaction, row.id, asset)?;
    transaction.commit()?;
    Ok(row)
}

fn missing_asset_sha256() -> ApiError {
    ApiError::validation(
        "1 validation error detected: Value null at 'assetSHA256' failed to satisfy constraint: Member must not be null",
    )
}

async fn publish_package_version(context: Context<'_>) -> Result<Response, ApiError> {
    let key = package_key(&context)?;
    let version = context.query.required("version")?.to_owned();
    let asset_name = context.query.required("asset")?.to_owned();
    validate_field("version", &version)?;
    validate_asset_name(&asset_name)?;
    if key.format != "generic" {
        return Err(ApiError::validation(format!(
            "PublishPackageVersion supports only the generic format, not {}",
            key.format
        )));
    }
    if key.namespace.is_empty() {
        return Err(ApiError::validation(
            "namespace is required for generic packages",
        ));
    }
    validate_generic_coordinates(&key.namespace, &key.package, &version, &asset_name)?;
    let unfinished = match context.query.optional("unfinished") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(constraint(
                "unfinished",
                other,
                "Member must be true or false",
            ));
        }
    };
    let claimed = context
        .headers
        .get("x-amz-content-sha256")
        .and_then(|value| value.to_str().ok())
        .ok_or_else(missing_asset_sha256)?
        .to_ascii_lowercase();
    context.authorize(
        "PublishPackageVersion",
        &key.domain,
        Some(&key.repository),
        Permission::Publish,
    )?;
    require_repository(&context, &key.domain, &key.repository).await?;
    let state = context.state;
    let body = context
        .upload
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
        .unwrap_or_default();
    let spool = super::ingest::spool(
        state.store.tmp_dir(),
        body,
        state.limits.max_upload_bytes,
        state.limits,
    )
    .await?;
    // Checked before the blob is placed, so a mismatch leaves nothing behind.
    if spool.digests().sha256 != claimed {
        let calculated = spool.digests().sha256.clone();
        drop(spool);
        let _ = super::ingest::sweep_tmp(state.store.tmp_dir());
        return Err(ApiError::validation(format!(
            "The provided content hashes do not match the calculated content hashes. Hash algorithm 'SHA-256', Expected hash '{claimed}', Calculated hash '{calculated}'"
        )));
    }
    let size = spool.size();
    let placed = state.store.put_spool(spool).await?;
    let asset = AssetRow {
        name: asset_name.clone(),
        size,
        digests: placed.digests.clone(),
    };
    let (lookup, wanted, row_asset, now) = (
        key.clone(),
        version.clone(),
        asset.clone(),
        context.state.clock.now(),
    );
    let result = context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> {
            Ok(add_generic_asset(
                connection, &lookup, &wanted, &row_asset, unfinished, now,
            ))
        })
        .await?;
    let result = match result {
        Ok(row) => {
            drop(placed);
            Ok(row)
        }
        Err(error) => {
            state.store.discard(placed).await?;
            Err(error)
        }
    };
    let row = match result {
        Ok(row) => row,
        Err(AddAssetError::VersionClosed { status }) => {
            return Err(ApiError::conflict(
                format!(
                    "Package version {} {version} already exists with status {status}; only Unfinished versions accept more assets",
                    display_package(&key)
                ),
                &version,
                "package-version",
            ));
        }
        Err(AddAssetError::Blocked) => {
            return Err(ApiError::validation(format!(
                "Publishing {} is blocked by its package origin configuration (publish=BLOCK)",
                display_package(&key)
            )));
        }
        Err(AddAssetError::GroupRefused(message)) => {
            return Err(ApiError::validation(format!(
                "{}: {message}",
                display_package(&key)
            )));
        }
        Err(AddAssetError::AssetExists) => {
            return Err(ApiError::conflict(
                format!("Asset {asset_name} already exists in package version {version}"),
                &asset_name,
                "asset",
            ));
        }
        Err(AddAssetError::Store(error)) => return Err(error.into()),
    };
    tracing::info!(package = %display_package(&key), %version, asset = %asset_name, status = %row.status, "published an asset");
    let mut value = json!({
        "format": key.format,
        "package": key.package,
        "version": row.version,
        "versionRevision": row.revision,
        "status": row.status,
        "asset": asset_json(&asset),
    });
    insert_namespace(&mut value, &key.namespace);
    ok(value)
}

fn string_list(body: &Value, member: &str) -> Result<Vec<String>, ApiError> {
    let list = body
        .get(member)
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::validation(format!("1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null")))?;
    list.iter()
        .map(|item| {
            item.as_str().map(ToOwned::to_owned).ok_or_else(|| {
                ApiError::cannot_parse(format!("`{member}` must be a list of strings"))
            })
        })
        .collect()
}

async fn update_package_versions_status(context: Context<'_>) -> Result<Response, ApiError> {
    let key = package_key(&context)?;
    let body = context.json_body()?;
    let versions = string_list(&body, "versions")?;
    let target = body
        .get("targetStatus")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::validation("targetStatus is required"))?
        .to_owned();
    if !["Published", "Unlisted", "Archived"].contains(&target.as_str()) {
        return Err(constraint(
            "targetStatus",
            &target,
            "Member must satisfy enum value set: [Published, Unlisted, Archived]",
        ));
    }
    let expected = body
        .get("expectedStatus")
        .and_then(Value::as_str)
        .map(ToOwned::to_owned);
    let revisions: HashMap<String, String> = body
        .get("versionRevisions")
        .and_then(Value::as_object)
        .map(|object| {
            object
                .iter()
                .filter_map(|(version, revision)| {
                    revision
                        .as_str()
                        .map(|revision| (version.clone(), revision.to_owned()))
                })
                .collect()
        })
        .unwrap_or_default();
    context.authorize(
        "UpdatePackageVersionsStatus",
        &key.domain,
        Some(&key.repository),
        Permission::Publish,
    )?;
    // A package the repository has no record of is `ResourceNotFoundException`, as in AWS,
    // rather than a 200 listing every version as failed.
    require_package(&context, &key).await?;
    let lookup = key.clone();
    let (successful, failed) = context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> {
            let transaction = store::write_transaction(connection)?;
            let mut successful = serde_json::Map::new();
            let mut failed = serde_json::Map::new();
            for version in versions {
                let failure = |code: &str, message: String| json!({ "errorCode": code, "errorMessage": message });
                let Some(row) = store::version(&transaction, &lookup, &version)? else {
                    failed.insert(version.clone(), failure("NOT_FOUND", format!("version {version} not found")));
                    continue;
                };
                if let Some(expected) = &expected
                    && expected != &row.status
                {
                    failed.insert(version, failure("MISMATCHED_STATUS", format!("expected status {expected}, found {}", row.status)));
                    continue;
                }
                if let Some(revision) = revisions.get(&version)
                    && revision != &row.revision
                {
                    failed.insert(version, failure("MISMATCHED_REVISION", format!("expected revision {revision}, found {}", row.revision)));
                    continue;
                }
                if row.status == "Disposed" || row.status == "Deleted" {
                    failed.insert(version, failure("NOT_ALLOWED", format!("a {} version cannot change status", row.status)));
                    continue;
                }
                if row.status == target {
                    failed.insert(version, failure("SKIPPED", format!("already {target}")));
                    continue;
                }
                store::update_version_status(&transaction, row.id, &target, &row.revision)?;
                successful.insert(version, json!({ "revision": row.revision, "status": target }));
            }
            transaction.commit()?;
            Ok((successful, failed))
        })
        .await?;
    ok(json!({ "successfulVersions": successful, "failedVersions": failed }))
}

async fn delete_package_versions(context: Context<'_>) -> Result<Response, ApiError> {
    let key = package_key(&context)?;
    let body = context.json_body()?;
    let versions = string_list(&body, "versions")?;
    let expected = body
        .get("expectedStatus")
        .and_then(Value::as_str)
        .map(ToOwned::to_owned);
    context.authorize(
        "DeletePackageVersions",
        &key.domain,
        Some(&key.repository),
        Permission::Admin,
    )?;
    require_package(&context, &key).await?;
    let lookup = key.clone();
    let (successful, failed) = context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> {
            let transaction = store::write_transaction(connection)?;
            let mut successful = serde_json::Map::new();
            let mut failed = serde_json::Map::new();
            for version in versions {
                let Some(row) = store::version(&transaction, &lookup, &version)? else {
                    failed.insert(version.clone(), json!({ "errorCode": "NOT_FOUND", "errorMessage": format!("version {version} not found") }));
                    continue;
                };
                if let Some(expected) = &expected
                    && expected != &row.status
                {
                    failed.insert(
                        version,
                        json!({ "errorCode": "MISMATCHED_STATUS", "errorMessage": format!("expected status {expected}, found {}", row.status) }),
                    );
                    continue;
                }
                store::delete_version(&transaction, row.id)?;
                if lookup.format == "npm" {
                    for (tag, tagged) in store::dist_tags(&transaction, &lookup)? {
                        if tagged == version {
                            store::set_dist_tag(&transaction, &lookup, &tag, None)?;
                        }
                    }
                }
                successful.insert(version, json!({ "revision": row.revision, "status": "Deleted" }));
            }
            transaction.commit()?;
            Ok((successful, failed))
        })
        .await?;
    ok(json!({ "successfulVersions": successful, "failedVersions": failed }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_is_valid_and_listed_once_in_the_validation_message() {
        let mut listed = FORMATS_AS_CODEARTIFACT_LISTS_THEM.to_vec();
        listed.sort();
        let mut all = Format::ALL.to_vec();
        all.sort();
        assert_eq!(listed, all);
        for format in Format::ALL {
            assert_eq!(validate_format(format.name()).ok(), Some(format));
        }
        let refused = validate_format("PyPI").err().unwrap();
        assert_eq!(refused.code, "ValidationException");
        assert!(
            refused.message.ends_with(
                "Member must satisfy enum value set: [npm, pypi, maven, nuget, generic, ruby, swift, cargo]"
            ),
            "{}",
            refused.message
        );
    }

    #[test]
    fn names_follow_the_model_patterns() {
        assert!(validate_domain_name("local").is_ok());
        assert!(validate_domain_name("a").is_err());
        assert!(validate_domain_name("Local").is_err());
        assert!(validate_domain_name("local-").is_err());
        assert!(validate_repository_name("main").is_ok());
        assert!(validate_repository_name("My_Repo.1").is_ok());
        assert!(validate_repository_name("-x").is_err());
        assert!(validate_field("package", "a/b").is_err());
        assert!(validate_field("version", "1.0.0").is_ok());
        assert!(validate_asset_name("my file.tgz").is_ok());
        assert!(validate_asset_name("../etc").is_err());
    }

    #[test]
    fn pagination_round_trips() {
        let tokens = PageTokens {
            key: [7; 32],
            scope: "ListThings".into(),
        };
        let items: Vec<u32> = (0..5).collect();
        let (page, next) = paginate(items.clone(), Some("2"), None, 1000, &tokens).unwrap();
        assert_eq!(page, vec![0, 1]);
        let (page, next) =
            paginate(items.clone(), Some("2"), next.as_deref(), 1000, &tokens).unwrap();
        assert_eq!(page, vec![2, 3]);
        let (page, last) =
            paginate(items.clone(), Some("2"), next.as_deref(), 1000, &tokens).unwrap();
        assert_eq!(page, vec![4]);
        assert!(last.is_none());
        // Bound to its listing, and not forgeable from an offset.
        let other = PageTokens {
            key: [7; 32],
            scope: "ListOtherThings".into(),
        };
        assert!(paginate(items.clone(), Some("2"), next.as_deref(), 1000, &other).is_err());
        let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("offset:{}", usize::MAX));
        assert!(paginate(items, Some("2"), Some(&forged), 1000, &tokens).is_err());
    }
}
