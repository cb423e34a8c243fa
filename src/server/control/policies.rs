//! `Put`, `Get` and `Delete` of domain and repository permissions policies. The documents
//! are checked by [`crate::server::policy::Policy::parse`] when put (a policy this server
//! cannot evaluate fully is refused, never half-applied) and evaluated for every request by
//! [`crate::server::access::Principal::may`]. A `policyRevision` that is not the current
//! one is a `ConflictException`, so concurrent editors do not overwrite each other.

use axum::response::Response;
use serde_json::{Value, json};

use super::super::access::Permission;
use super::super::error::ApiError;
use super::super::policy::Policy;
use super::super::store::{self, PolicyRow};
use super::{Context, ok};

/// The largest document the model allows.
const MAX_DOCUMENT_CHARS: usize = 7168;

/// What one request addresses: a domain's policy (`repository` empty) or a repository's.
struct Target {
    domain: String,
    repository: String,
}

impl Target {
    fn operation(&self, verb: &str) -> String {
        let kind = if self.repository.is_empty() {
            "Domain"
        } else {
            "Repository"
        };
        format!("{verb}{kind}PermissionsPolicy")
    }

    fn arn(&self, context: &Context<'_>) -> String {
        if self.repository.is_empty() {
            context.domain_arn(&self.domain)
        } else {
            context.repository_arn(&self.domain, &self.repository)
        }
    }

    fn repository(&self) -> Option<&str> {
        (!self.repository.is_empty()).then_some(self.repository.as_str())
    }

    fn not_found(&self) -> ApiError {
        match self.repository() {
            None => ApiError::not_found(
                format!("Domain {} has no permissions policy", self.domain),
                &self.domain,
                "domain",
            ),
            Some(repository) => ApiError::not_found(
                format!(
                    "Repository {repository} in domain {} has no permissions policy",
                    self.domain
                ),
                repository,
                "repository",
            ),
        }
    }

    /// Authorize, then check the domain or repository exists.
    async fn require(
        &self,
        context: &Context<'_>,
        verb: &str,
        permission: Permission,
    ) -> Result<(), ApiError> {
        context.authorize(
            &self.operation(verb),
            &self.domain,
            self.repository(),
            permission,
        )?;
        if let Some(repository) = self.repository() {
            super::require_repository(context, &self.domain, repository).await?;
            return Ok(());
        }
        let lookup = self.domain.clone();
        let exists = context
            .state
            .store
            .with(move |connection| -> Result<_, ApiError> {
                Ok(store::domain(connection, &lookup)?.is_some())
            })
            .await?;
        if !exists {
            return Err(ApiError::not_found(
                format!("Domain {} does not exist", self.domain),
                &self.domain,
                "domain",
            ));
        }
        Ok(())
    }
}

/// The target of a request. `PutDomainPermissionsPolicy` names its domain in the body; the
/// others in the query.
fn target(
    context: &Context<'_>,
    repository: bool,
    body: Option<&Value>,
) -> Result<Target, ApiError> {
    if repository {
        let (domain, repository) = super::domain_and_repository(context)?;
        return Ok(Target { domain, repository });
    }
    let domain = match body {
        Some(body) => body
            .get("domain")
            .and_then(Value::as_str)
            .map(ToOwned::to_owned)
            .ok_or_else(|| ApiError::validation("1 validation error detected: Value null at 'domain' failed to satisfy constraint: Member must not be null"))?,
        None => context.query.required("domain")?.to_owned(),
    };
    super::validate_domain_name(&domain)?;
    let owner = body
        .and_then(|body| body.get("domainOwner"))
        .and_then(Value::as_str);
    if let Some(owner) = owner
        && owner != context.account()
    {
        return Err(ApiError::not_found(
            format!("Domain owner {owner} is not the owner of any domain on this server"),
            owner,
            "domain",
        ));
    }
    context.check_owner()?;
    Ok(Target {
        domain,
        repository: String::new(),
    })
}

fn policy_json(context: &Context<'_>, target: &Target, policy: &PolicyRow) -> Value {
    json!({ "policy": { "resourceArn": target.arn(context), "revision": policy.revision, "document": policy.document } })
}

fn revision_conflict(target: &Target, expected: &str, current: Option<&PolicyRow>) -> ApiError {
    let current = current.map_or("none", |policy| policy.revision.as_str());
    ApiError::conflict(
        format!(
            "The policy revision {expected} is not the current one ({current}); read the policy again and retry"
        ),
        target.repository().unwrap_or(&target.domain),
        if target.repository.is_empty() {
            "domain"
        } else {
            "repository"
        },
    )
}

pub(super) async fn put(context: Context<'_>, repository: bool) -> Result<Response, ApiError> {
    let body = context.json_body()?;
    let target = target(&context, repository, (!repository).then_some(&body))?;
    let document = body
        .get("policyDocument")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::validation("1 validation error detected: Value null at 'policyDocument' failed to satisfy constraint: Member must not be null"))?
        .to_owned();
    if document.is_empty() || document.chars().count() > MAX_DOCUMENT_CHARS {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at 'policyDocument' failed to satisfy constraint: Member must have length between 1 and {MAX_DOCUMENT_CHARS}"
        )));
    }
    Policy::parse(&document).map_err(|error| ApiError::validation(error.to_string()))?;
    let expected = body
        .get("policyRevision")
        .and_then(Value::as_str)
        .map(ToOwned::to_owned);
    target.require(&context, "Put", Permission::Admin).await?;
    let row = PolicyRow {
        document,
        revision: store::new_revision(),
    };
    let (domain, repository_name, stored, wanted) = (
        target.domain.clone(),
        target.repository.clone(),
        row.clone(),
        expected.clone(),
    );
    let outcome = context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> {
            let transaction = store::write_transaction(connection)?;
            let current = store::permission_policy(&transaction, &domain, &repository_name)?;
            if let Some(wanted) = &wanted
                && current.as_ref().map(|policy| &policy.revision) != Some(wanted)
            {
                return Ok(Err(current));
            }
            store::set_permission_policy(&transaction, &domain, &repository_name, Some(&stored))?;
            transaction.commit()?;
            Ok(Ok(()))
        })
        .await?;
    if let Err(current) = outcome {
        return Err(revision_conflict(
            &target,
            expected.as_deref().unwrap_or_default(),
            current.as_ref(),
        ));
    }
    tracing::info!(domain = %target.domain, repository = %target.repository, "permissions policy put");
    ok(policy_json(&context, &target, &row))
}

pub(super) async fn get(context: Context<'_>, repository: bool) -> Result<Response, ApiError> {
    let target = target(&context, repository, None)?;
    target.require(&context, "Get", Permission::Read).await?;
    let (domain, repository_name) = (target.domain.clone(), target.repository.clone());
    let policy = context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> {
            Ok(store::permission_policy(
                connection,
                &domain,
                &repository_name,
            )?)
        })
        .await?
        .ok_or_else(|| target.not_found())?;
    ok(policy_json(&context, &target, &policy))
}

pub(super) async fn delete(context: Context<'_>, repository: bool) -> Result<Response, ApiError> {
    let target = target(&context, repository, None)?;
    let expected = context
        .query
        .optional("policy-revision")
        .map(ToOwned::to_owned);
    target
        .require(&context, "Delete", Permission::Admin)
        .await?;
    let (domain, repository_name, wanted) = (
        target.domain.clone(),
        target.repository.clone(),
        expected.clone(),
    );
    let outcome = context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> {
            let transaction = store::write_transaction(connection)?;
            let current = store::permission_policy(&transaction, &domain, &repository_name)?;
            let Some(current) = current else {
                return Ok(Err(None));
            };
            if let Some(wanted) = &wanted
                && wanted != &current.revision
            {
                return Ok(Err(Some(current)));
            }
            store::set_permission_policy(&transaction, &domain, &repository_name, None)?;
            transaction.commit()?;
            Ok(Ok(current))
        })
        .await?;
    match outcome {
        Ok(policy) => {
            tracing::info!(domain = %target.domain, repository = %target.repository, "permissions policy deleted");
            ok(policy_json(&context, &target, &policy))
        }
        Err(None) => Err(target.not_found()),
        Err(Some(current)) => Err(revision_conflict(
            &target,
            expected.as_deref().unwrap_or_default(),
            Some(&current),
        )),
    }
}
