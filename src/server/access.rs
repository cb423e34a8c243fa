//! Principals, their per-repository permissions, and repository authorization tokens.
//!
//! A principal holds an access key pair (what SigV4 requests are signed with) and grants of
//! `read`, `publish` or `admin` on `domain/repository` patterns (`*` matches any). Tokens
//! from `GetAuthorizationToken` are random, shown once, and stored only as their SHA-256, so
//! a copy of the data directory does not hand out working tokens.

use std::collections::HashMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::secret::Secret;

/// What a grant allows. `admin` implies `publish`, which implies `read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Read packages, list, describe, mint tokens.
    Read,
    /// Also publish and change version status.
    Publish,
    /// Also create domains and repositories, delete versions.
    Admin,
}

/// Permissions on repositories matching `domain` / `repository` (`*` matches any).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// Domain name or `*`.
    pub domain: String,
    /// Repository name or `*`.
    #[serde(default = "any")]
    pub repository: String,
    /// Granted permissions.
    pub permissions: Vec<Permission>,
}

fn any() -> String {
    "*".to_owned()
}

impl Grant {
    /// A grant of everything everywhere.
    #[must_use]
    pub fn admin_everywhere() -> Self {
        Self {
            domain: any(),
            repository: any(),
            permissions: vec![Permission::Admin],
        }
    }

    fn highest(&self) -> Option<Permission> {
        self.permissions.iter().copied().max()
    }
}

fn matches(pattern: &str, value: &str) -> bool {
    pattern == "*" || pattern == value
}

/// An identity the server knows.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Display name (used in `whoami` and ARNs).
    pub name: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: Secret<String>,
    /// Grants.
    pub grants: Vec<Grant>,
    /// The domain and repository permissions policies in force for this request (attached
    /// by [`with_policies`] once the principal is authenticated; empty otherwise).
    pub policies: std::sync::Arc<super::policy::Policies>,
}

impl Principal {
    /// Whether the principal has `permission` on `domain` / `repository`. With
    /// `repository = None` the question is about the domain: any matching grant counts.
    /// Checked as the action [`permission_action`] names; see [`Principal::may`].
    #[must_use]
    pub fn allows(&self, domain: &str, repository: Option<&str>, permission: Permission) -> bool {
        self.may(
            permission_action(permission, repository.is_some()),
            domain,
            repository,
            permission,
        )
    }

    /// The one access decision: whether the principal may perform `action` (e.g.
    /// `codeartifact:ReadFromRepository`) on `domain` / `repository`, which its grants
    /// cover with `permission`. Evaluated as IAM evaluates resource policies: an explicit
    /// `Deny` in the domain's or the repository's permissions policy refuses whatever the
    /// grants say; otherwise an `Allow` there, or a grant, permits.
    #[must_use]
    pub fn may(
        &self,
        action: &str,
        domain: &str,
        repository: Option<&str>,
        permission: Permission,
    ) -> bool {
        match self.policies.decide(&self.name, action, domain, repository) {
            Some(super::policy::Effect::Deny) => false,
            Some(super::policy::Effect::Allow) => true,
            None => self.granted(domain, repository, permission),
        }
    }

    fn granted(&self, domain: &str, repository: Option<&str>, permission: Permission) -> bool {
        self.grants.iter().any(|grant| {
            matches(&grant.domain, domain)
                && repository.is_none_or(|repository| matches(&grant.repository, repository))
                && grant.highest().is_some_and(|highest| highest >= permission)
        })
    }

    /// Whether the principal may read every repository of `domain` (a `*` repository
    /// grant): what it reads through upstreams is then never narrowed by
    /// [`super::packages::upstream_chain_readable`], so shared read caches serve it.
    #[must_use]
    pub fn reads_every_repository(&self, domain: &str) -> bool {
        self.grants.iter().any(|grant| {
            matches(&grant.domain, domain)
                && grant.repository == "*"
                && grant
                    .highest()
                    .is_some_and(|highest| highest >= Permission::Read)
        })
    }

    /// The IAM-style ARN used in messages.
    #[must_use]
    pub fn arn(&self, account: &str) -> String {
        format!("arn:aws:iam::{account}:user/{}", self.name)
    }
}

/// The CodeArtifact action a data-plane or listing check of `permission` stands for.
#[must_use]
pub fn permission_action(permission: Permission, on_repository: bool) -> &'static str {
    match (permission, on_repository) {
        (Permission::Read, true) => "codeartifact:ReadFromRepository",
        (Permission::Read, false) => "codeartifact:DescribeDomain",
        (Permission::Publish, _) => "codeartifact:PublishPackageVersion",
        (Permission::Admin, true) => "codeartifact:DeletePackageVersions",
        (Permission::Admin, false) => "codeartifact:CreateRepository",
    }
}

/// The policies in force now, from the read cache while the index generation is unchanged.
///
/// # Errors
/// Store failures.
pub async fn current_policies(
    state: &super::AppState,
) -> Result<std::sync::Arc<super::policy::Policies>, super::store::StoreError> {
    let generation = state.store.generation();
    if let Some(cached) =
        generation.and_then(|generation| state.caches.policies.get(&(), generation))
    {
        return Ok(cached);
    }
    let rows = state
        .store
        .with(|connection| -> Result<_, super::store::StoreError> {
            Ok(super::store::all_permission_policies(connection)?)
        })
        .await?;
    let policies = std::sync::Arc::new(super::policy::Policies::new(&state.account, rows));
    if let Some(generation) = generation {
        state
            .caches
            .policies
            .insert((), generation, policies.clone());
    }
    Ok(policies)
}

/// `principal` with the permissions policies in force attached.
///
/// # Errors
/// Store failures.
pub async fn with_policies(
    state: &super::AppState,
    mut principal: Principal,
) -> Result<Principal, super::store::StoreError> {
    principal.policies = current_policies(state).await?;
    Ok(principal)
}

/// All principals, indexed by access key id and by name. Built once at start.
#[derive(Debug, Clone, Default)]
pub struct Principals {
    by_key: HashMap<String, Principal>,
    by_name: HashMap<String, Principal>,
}

impl Principals {
    /// Add a principal; a later one with the same key or name replaces the earlier.
    pub fn insert(&mut self, principal: Principal) {
        self.by_name
            .insert(principal.name.clone(), principal.clone());
        self.by_key
            .insert(principal.access_key_id.clone(), principal);
    }

    /// Look up by access key id.
    #[must_use]
    pub fn by_access_key(&self, access_key_id: &str) -> Option<&Principal> {
        self.by_key.get(access_key_id)
    }

    /// Look up by name.
    #[must_use]
    pub fn by_name(&self, name: &str) -> Option<&Principal> {
        self.by_name.get(name)
    }
}

/// A new random authorization token.
#[must_use]
pub fn new_token() -> Secret<String> {
    let bytes: [u8; 32] = rand::random();
    Secret::new(format!(
        "ldt_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// The stored form of a token.
#[must_use]
pub fn token_hash(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// A new access key pair in AWS's shapes (20-character id, 40-character secret).
#[must_use]
pub fn new_access_key() -> (String, Secret<String>) {
    const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let id_bytes: [u8; 16] = rand::random();
    let id: String = id_bytes
        .iter()
        .map(|byte| char::from(ID_ALPHABET[usize::from(*byte) % ID_ALPHABET.len()]))
        .collect();
    let secret_bytes: [u8; 30] = rand::random();
    (
        format!("LKIA{id}"),
        Secret::new(base64::engine::general_purpose::STANDARD.encode(secret_bytes)),
    )
}

/// Authenticate a data-plane request by its repository token (`Authorization: Bearer
/// <token>`, or Basic with the token as password, as pip, Maven and NuGet send it), for a
/// repository in `domain`. `Ok(None)` means the request carried no credentials.
///
/// # Errors
/// 401 for unknown, expired or wrong-domain tokens.
pub async fn authenticate_token(
    state: &super::AppState,
    headers: &axum::http::HeaderMap,
    domain: &str,
) -> Result<Option<Principal>, super::error::DataError> {
    use super::error::DataError;
    use axum::http::StatusCode;
    let Some(header) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
    else {
        return Ok(None);
    };
    let token = if let Some(token) = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
    {
        token.trim().to_owned()
    } else if let Some(encoded) = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))
    {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| {
                DataError::new(
                    StatusCode::UNAUTHORIZED,
                    "malformed Basic authorization header",
                )
            })?;
        decoded
            .split_once(':')
            .map(|(_, password)| password.to_owned())
            .unwrap_or(decoded)
    } else {
        return Err(DataError::new(
            StatusCode::UNAUTHORIZED,
            "unsupported authorization scheme; send `Bearer <token>`",
        ));
    };
    let (principal, token_domain) = token_principal(state, &token).await?;
    if token_domain != domain {
        return Err(DataError::new(
            StatusCode::UNAUTHORIZED,
            format!("the authorization token is for domain `{token_domain}`, not `{domain}`"),
        ));
    }
    Ok(Some(principal))
}

/// The principal a repository token stands for (with the policies in force) and the domain
/// it was minted for: what [`authenticate_token`] and the web console's token sign-in check.
///
/// # Errors
/// 401 for unknown or expired tokens and for a principal that no longer exists.
pub async fn token_principal(
    state: &super::AppState,
    token: &str,
) -> Result<(Principal, String), super::error::DataError> {
    use super::error::DataError;
    use axum::http::StatusCode;
    let hash = token_hash(token);
    let row = if let Some(row) = state.caches.tokens.get(&hash) {
        row
    } else {
        let lookup = hash.clone();
        let row = state
            .store
            .with(move |connection| -> Result<_, DataError> { Ok(super::store::token(connection, &lookup)?) })
            .await?
            .ok_or_else(|| DataError::new(StatusCode::UNAUTHORIZED, "unknown authorization token; get a new one with `aws codeartifact get-authorization-token` or `lading login`"))?;
        state.caches.tokens.insert(hash, row.clone());
        row
    };
    let now = state.clock.now();
    if row.expires <= now {
        return Err(DataError::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "the authorization token expired at {}; get a new one with `aws codeartifact login` or `lading login`",
                iso8601(row.expires)
            ),
        ));
    }
    let principal = state
        .principals
        .by_name(&row.principal)
        .cloned()
        .ok_or_else(|| {
            DataError::new(
                StatusCode::UNAUTHORIZED,
                format!(
                    "the principal `{}` that owns this token no longer exists",
                    row.principal
                ),
            )
        })?;
    Ok((with_policies(state, principal).await?, row.domain))
}

/// The principal a data-plane read is made for (from its repository token), for the checks
/// that narrow what it may read through upstream repositories. Cheap: token lookups are
/// cached.
///
/// # Errors
/// As [`authenticate_token`].
pub async fn reader(
    state: &super::AppState,
    headers: &axum::http::HeaderMap,
    domain: &str,
) -> Result<Option<Principal>, super::error::DataError> {
    authenticate_token(state, headers, domain).await
}

/// Require `permission` on a repository, turning absence of credentials into 401 and lack
/// of permission into 403.
///
/// # Errors
/// 401 or 403.
pub fn require(
    principal: Option<&Principal>,
    domain: &str,
    repository: &str,
    permission: Permission,
) -> Result<(), super::error::DataError> {
    use axum::http::StatusCode;
    let Some(principal) = principal else {
        return Err(super::error::DataError::new(
            StatusCode::UNAUTHORIZED,
            "authentication required: send a repository token (`aws codeartifact login` or `lading login` configures one)",
        ));
    };
    if principal.allows(domain, Some(repository), permission) {
        Ok(())
    } else {
        let action = match permission {
            Permission::Read => "read from",
            Permission::Publish => "publish to",
            Permission::Admin => "administer",
        };
        Err(super::error::DataError::new(
            StatusCode::FORBIDDEN,
            format!(
                "principal `{}` may not {action} repository `{domain}/{repository}`",
                principal.name
            ),
        ))
    }
}

/// Epoch seconds as RFC 3339 (`2026-11-25T17:20:00.000Z`).
#[must_use]
pub fn iso8601(epoch: f64) -> String {
    #[expect(
        clippy::cast_possible_truncation,
        reason = "epoch milliseconds fit in i128"
    )]
    let nanos = (epoch * 1000.0).round() as i128 * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|moment| {
            moment
                .format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(grants: Vec<Grant>) -> Principal {
        Principal {
            name: "p".into(),
            access_key_id: "K".into(),
            secret_access_key: Secret::new("s".into()),
            grants,
            policies: std::sync::Arc::default(),
        }
    }

    #[test]
    fn permissions_are_ordered_and_scoped() {
        let reader = principal(vec![Grant {
            domain: "local".into(),
            repository: "main".into(),
            permissions: vec![Permission::Read],
        }]);
        assert!(reader.allows("local", Some("main"), Permission::Read));
        assert!(!reader.allows("local", Some("main"), Permission::Publish));
        assert!(!reader.allows("local", Some("other"), Permission::Read));
        assert!(reader.allows("local", None, Permission::Read));
        assert!(!reader.allows("other", None, Permission::Read));
        let admin = principal(vec![Grant::admin_everywhere()]);
        assert!(admin.allows("any", Some("thing"), Permission::Publish));
    }

    #[test]
    fn access_keys_have_aws_shapes() {
        let (id, secret) = new_access_key();
        assert_eq!(id.len(), 20);
        assert_eq!(secret.expose().len(), 40);
    }
}
