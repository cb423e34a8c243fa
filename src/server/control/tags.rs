//! Resource tags: `TagResource`, `UntagResource`, `ListTagsForResource`, and the `tags`
//! member of `CreateDomain` / `CreateRepository` / `CreatePackageGroup`.
//!
//! Tags are keyed by the resource part of the ARN (`domain/NAME`,
//! `repository/DOMAIN/NAME`, `package-group/DOMAIN/PATTERN`), not the whole ARN, so the
//! region a client signs for does not change which tags it sees. At most 50 tags per
//! resource, as in AWS; keys starting with `aws:` are reserved.

use axum::response::Response;
use serde_json::{Value, json};

use super::super::access::Permission;
use super::super::error::ApiError;
use super::super::store;
use super::{Context, constraint, ok};

/// Tags a resource may carry.
const MAX_TAGS: usize = 50;

/// A taggable resource, parsed from its ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Resource {
    Domain(String),
    Repository(String, String),
    PackageGroup(String, String),
}

impl Resource {
    /// The key its tags are stored under (the ARN's resource part).
    pub(super) fn key(&self) -> String {
        match self {
            Self::Domain(domain) => format!("domain/{domain}"),
            Self::Repository(domain, repository) => format!("repository/{domain}/{repository}"),
            Self::PackageGroup(domain, pattern) => format!("package-group/{domain}{pattern}"),
        }
    }

    fn domain(&self) -> &str {
        match self {
            Self::Domain(domain) | Self::Repository(domain, _) | Self::PackageGroup(domain, _) => {
                domain
            }
        }
    }

    fn repository(&self) -> Option<&str> {
        match self {
            Self::Repository(_, repository) => Some(repository),
            _ => None,
        }
    }
}

/// Parse `arn:aws:codeartifact:REGION:ACCOUNT:RESOURCE` for this server's account.
fn parse_arn(arn: &str, account: &str) -> Result<Resource, ApiError> {
    let invalid = || {
        ApiError::validation(format!(
            "{arn} is not a valid CodeArtifact resource ARN (arn:aws:codeartifact:REGION:ACCOUNT:domain/NAME, repository/DOMAIN/NAME or package-group/DOMAIN/PATTERN)"
        ))
    };
    let mut parts = arn.splitn(6, ':');
    let (
        Some("arn"),
        Some(_partition),
        Some("codeartifact"),
        Some(_region),
        Some(owner),
        Some(resource),
    ) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    )
    else {
        return Err(invalid());
    };
    let parsed = if let Some(domain) = resource.strip_prefix("domain/") {
        super::validate_domain_name(domain)?;
        Resource::Domain(domain.to_owned())
    } else if let Some(rest) = resource.strip_prefix("repository/") {
        let (domain, repository) = rest.split_once('/').ok_or_else(invalid)?;
        super::validate_domain_name(domain)?;
        super::validate_repository_name(repository)?;
        Resource::Repository(domain.to_owned(), repository.to_owned())
    } else if let Some(rest) = resource.strip_prefix("package-group/") {
        let slash = rest.find('/').ok_or_else(invalid)?;
        let (domain, pattern) = rest.split_at(slash);
        super::validate_domain_name(domain)?;
        Resource::PackageGroup(domain.to_owned(), pattern.to_owned())
    } else {
        return Err(invalid());
    };
    if owner != account {
        return Err(ApiError::not_found(
            format!(
                "Resource {arn} does not exist: its account {owner} is not this server's ({account})"
            ),
            arn,
            "domain",
        ));
    }
    Ok(parsed)
}

/// The `tags` member of a request body (`None` when absent), validated.
pub(super) fn from_body(body: &Value, member: &str) -> Result<Vec<(String, String)>, ApiError> {
    let Some(list) = body.get(member) else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| ApiError::cannot_parse(format!("`{member}` must be a list of tags")))?;
    let mut tags: Vec<(String, String)> = Vec::new();
    for tag in list {
        let key = tag.get("key").and_then(Value::as_str).ok_or_else(|| {
            ApiError::validation(format!("1 validation error detected: Value null at '{member}.member.key' failed to satisfy constraint: Member must not be null"))
        })?;
        let value = tag.get("value").and_then(Value::as_str).ok_or_else(|| {
            ApiError::validation(format!("1 validation error detected: Value null at '{member}.member.value' failed to satisfy constraint: Member must not be null"))
        })?;
        validate_key(key)?;
        if value.chars().count() > 256 || value.chars().any(char::is_control) {
            return Err(constraint(
                "tags.member.value",
                value,
                "Member must have length less than or equal to 256 and satisfy regular expression pattern: \\P{C}*",
            ));
        }
        tags.retain(|(existing, _)| existing != key);
        tags.push((key.to_owned(), value.to_owned()));
    }
    Ok(tags)
}

fn validate_key(key: &str) -> Result<(), ApiError> {
    if !(1..=128).contains(&key.chars().count()) || key.chars().any(char::is_control) {
        return Err(constraint(
            "tags.member.key",
            key,
            "Member must have length between 1 and 128 and satisfy regular expression pattern: \\P{C}+",
        ));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(ApiError::validation(format!(
            "Tag key {key} is reserved: keys starting with aws: are for AWS use"
        )));
    }
    Ok(())
}

/// Store `tags` on a resource inside the caller's transaction, refusing more than
/// [`MAX_TAGS`] in all.
pub(super) fn add(
    connection: &crate::server::index::Connection,
    resource: &str,
    tags: &[(String, String)],
) -> Result<(), ApiError> {
    let existing = store::tags(connection, resource)?;
    let added = tags
        .iter()
        .filter(|(key, _)| !existing.iter().any(|(held, _)| held == key))
        .count();
    if existing.len() + added > MAX_TAGS {
        return Err(ApiError::quota_exceeded(
            format!(
                "A resource can have at most {MAX_TAGS} tags; {resource} has {} and the request adds {added}",
                existing.len()
            ),
            resource,
            if resource.starts_with("repository/") {
                "repository"
            } else {
                "domain"
            },
        ));
    }
    store::set_tags(connection, resource, tags)?;
    Ok(())
}

fn tags_json(tags: &[(String, String)]) -> Value {
    tags.iter()
        .map(|(key, value)| json!({ "key": key, "value": value }))
        .collect()
}

/// The ARN query parameter, parsed, authorized for `permission`, and checked to exist.
async fn resource(
    context: &Context<'_>,
    operation: &str,
    permission: Permission,
) -> Result<Resource, ApiError> {
    let arn = context.query.required("resourceArn")?.to_owned();
    let resource = parse_arn(&arn, context.account())?;
    context.authorize(
        operation,
        resource.domain(),
        resource.repository(),
        permission,
    )?;
    let lookup = resource.clone();
    let exists = context
        .state
        .store
        .with(move |connection| -> Result<bool, ApiError> {
            Ok(match &lookup {
                Resource::Domain(domain) => store::domain(connection, domain)?.is_some(),
                Resource::Repository(domain, repository) => {
                    store::repository(connection, domain, repository)?.is_some()
                }
                Resource::PackageGroup(domain, pattern) => {
                    // The root group exists in every domain, stored or not.
                    store::package_group(connection, domain, pattern)?.is_some()
                        || (pattern == super::super::groups::ROOT
                            && store::domain(connection, domain)?.is_some())
                }
            })
        })
        .await?;
    if !exists {
        let kind = match resource {
            Resource::Repository(..) => "repository",
            _ => "domain",
        };
        return Err(ApiError::not_found(
            format!("Resource {arn} does not exist"),
            &arn,
            kind,
        ));
    }
    Ok(resource)
}

pub(super) async fn tag_resource(context: Context<'_>) -> Result<Response, ApiError> {
    let body = context.json_body()?;
    if body.get("tags").is_none() {
        return Err(ApiError::validation(
            "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null",
        ));
    }
    let tags = from_body(&body, "tags")?;
    let resource = resource(&context, "TagResource", Permission::Admin).await?;
    let key = resource.key();
    context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> {
            let transaction = store::write_transaction(connection)?;
            add(&transaction, &key, &tags)?;
            transaction.commit()?;
            Ok(())
        })
        .await?;
    ok(json!({}))
}

pub(super) async fn untag_resource(context: Context<'_>) -> Result<Response, ApiError> {
    let body = context.json_body()?;
    let keys = super::string_list(&body, "tagKeys")?;
    for key in &keys {
        if !(1..=128).contains(&key.chars().count()) || key.chars().any(char::is_control) {
            return Err(constraint(
                "tagKeys.member",
                key,
                "Member must have length between 1 and 128 and satisfy regular expression pattern: \\P{C}+",
            ));
        }
    }
    let resource = resource(&context, "UntagResource", Permission::Admin).await?;
    let key = resource.key();
    context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> {
            Ok(store::remove_tags(connection, &key, &keys)?)
        })
        .await?;
    ok(json!({}))
}

pub(super) async fn list_tags_for_resource(context: Context<'_>) -> Result<Response, ApiError> {
    let resource = resource(&context, "ListTagsForResource", Permission::Read).await?;
    let key = resource.key();
    let tags = context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> { Ok(store::tags(connection, &key)?) })
        .await?;
    ok(json!({ "tags": tags_json(&tags) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_name_domains_repositories_and_package_groups() {
        let account = "000000000000";
        assert_eq!(
            parse_arn(
                "arn:aws:codeartifact:eu-west-1:000000000000:domain/local",
                account
            )
            .unwrap(),
            Resource::Domain("local".into())
        );
        assert_eq!(
            parse_arn(
                "arn:aws:codeartifact:us-east-1:000000000000:repository/local/main",
                account
            )
            .unwrap()
            .key(),
            "repository/local/main"
        );
        assert_eq!(
            parse_arn(
                "arn:aws:codeartifact:us-east-1:000000000000:package-group/local/npm/acme/*",
                account
            )
            .unwrap(),
            Resource::PackageGroup("local".into(), "/npm/acme/*".into())
        );
        assert!(parse_arn("arn:aws:s3:::bucket", account).is_err());
        assert!(
            parse_arn(
                "arn:aws:codeartifact:us-east-1:111111111111:domain/local",
                account
            )
            .is_err()
        );
    }
}
