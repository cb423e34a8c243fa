//! `DeleteDomain` and `DeleteRepository`, with the service's rules: a domain that still
//! holds repositories cannot be deleted (`ConflictException`), and neither can a repository
//! that another repository uses as an upstream (remove it from their upstreams first).
//! Deleting a repository removes its package versions, origin controls, upstream and external
//! links, permissions policy and tags in one transaction; blobs no other row names are left
//! to the orphan sweep, since content-addressed blobs may be shared.

use axum::response::Response;
use serde_json::json;

use super::super::access::Permission;
use super::super::error::ApiError;
use super::super::store;
use super::{Context, domain_and_repository, domain_json, ok, repository_json, repository_links};

/// Why a deletion was refused inside its transaction.
enum Refusal {
    Missing,
    Busy(Vec<String>),
}

pub(super) async fn delete_domain(context: Context<'_>) -> Result<Response, ApiError> {
    let name = context.query.required("domain")?.to_owned();
    super::validate_domain_name(&name)?;
    context.check_owner()?;
    context.authorize("DeleteDomain", &name, None, Permission::Admin)?;
    let lookup = name.clone();
    let outcome = context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> {
            let transaction = store::write_transaction(connection)?;
            let Some(domain) = store::domain(&transaction, &lookup)? else {
                return Ok(Err(Refusal::Missing));
            };
            let repositories: Vec<String> = store::repositories(&transaction, Some(&lookup))?
                .into_iter()
                .map(|repository| repository.name)
                .collect();
            if !repositories.is_empty() {
                return Ok(Err(Refusal::Busy(repositories)));
            }
            store::delete_domain(&transaction, &lookup)?;
            transaction.commit()?;
            Ok(Ok(domain))
        })
        .await?;
    match outcome {
        Ok(domain) => {
            tracing::info!(domain = %name, "deleted a domain");
            let mut value = domain_json(&context, &domain, Some((0, 0)));
            value["status"] = json!("Deleted");
            ok(json!({ "domain": value }))
        }
        Err(Refusal::Missing) => Err(ApiError::not_found(
            format!("Domain {name} does not exist"),
            &name,
            "domain",
        )),
        Err(Refusal::Busy(repositories)) => Err(ApiError::conflict(
            format!(
                "Domain {name} cannot be deleted while it contains repositories ({}); delete them first",
                repositories.join(", ")
            ),
            &name,
            "domain",
        )),
    }
}

pub(super) async fn delete_repository(context: Context<'_>) -> Result<Response, ApiError> {
    let (domain, name) = domain_and_repository(&context)?;
    context.authorize("DeleteRepository", &domain, Some(&name), Permission::Admin)?;
    let repository = super::require_repository(&context, &domain, &name).await?;
    let links = repository_links(&context, &domain, &name).await?;
    let (lookup_domain, lookup_name) = (domain.clone(), name.clone());
    let outcome = context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> {
            let transaction = store::write_transaction(connection)?;
            if store::repository(&transaction, &lookup_domain, &lookup_name)?.is_none() {
                return Ok(Err(Refusal::Missing));
            }
            let downstream =
                store::downstream_repositories(&transaction, &lookup_domain, &lookup_name)?;
            if !downstream.is_empty() {
                return Ok(Err(Refusal::Busy(downstream)));
            }
            store::delete_repository(&transaction, &lookup_domain, &lookup_name)?;
            transaction.commit()?;
            Ok(Ok(()))
        })
        .await?;
    match outcome {
        Ok(()) => {
            tracing::info!(%domain, repository = %name, "deleted a repository");
            ok(json!({ "repository": repository_json(&context, &repository, Some(&links)) }))
        }
        Err(Refusal::Missing) => Err(ApiError::not_found(
            format!("Repository {name} does not exist in domain {domain}"),
            &name,
            "repository",
        )),
        Err(Refusal::Busy(downstream)) => Err(ApiError::conflict(
            format!(
                "Repository {name} is an upstream of {}; remove it from their upstreams (update-repository) before deleting it",
                downstream.join(", ")
            ),
            &name,
            "repository",
        )),
    }
}
