//! A plain HTTP data plane for generic packages, at
//! `/d/{domain}/generic/{repository}/{namespace}/{package}/{version}/{asset}`.
//!
//! `GET` downloads an asset of a published (or unfinished) version; `PUT` uploads one, the
//! same operation as `PublishPackageVersion` for clients that speak plain HTTP with a
//! repository token (curl, CI upload steps). `?unfinished=true` keeps the version open for
//! more assets; an `x-checksum-sha256` header, when sent, must match the body.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::server::AppState;
use crate::server::access::{self, Permission};
use crate::server::control::{AddAssetError, add_generic_asset};
use crate::server::data_plane::{DataPlane, Handling};
use crate::server::decode_segment as decode;
use crate::server::error::DataError;
use crate::server::store::{self, AssetRow, PackageKey};

fn valid_component(text: &str) -> bool {
    !text.is_empty()
        && text != "."
        && text != ".."
        && !text.contains('/')
        && !text.chars().any(char::is_control)
}

/// The generic data plane, as `lading serve` mounts it.
#[derive(Debug)]
pub struct GenericDataPlane;

impl DataPlane for GenericDataPlane {
    fn format(&self) -> crate::format::Format {
        crate::format::Format::Generic
    }

    fn handle(&self, state: Arc<AppState>, request: Request) -> Handling {
        Box::pin(handle(State(state), request))
    }
}

/// Entry point for `/d/{domain}/generic/{repository}/{*rest}`.
pub async fn handle(State(state): State<Arc<AppState>>, request: Request) -> Response {
    serve(&state, request)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn serve(state: &AppState, request: Request) -> Result<Response, DataError> {
    let (parts, body) = request.into_parts();
    let segments: Vec<String> = parts.uri.path().split('/').skip(1).map(decode).collect();
    // d, domain, generic, repository, namespace, package, version, asset
    let [_, domain, _, repository, namespace, package, version, asset] = segments.as_slice() else {
        return Err(DataError::not_found(
            "expected /d/{domain}/generic/{repository}/{namespace}/{package}/{version}/{asset}",
        ));
    };
    if ![namespace, package, version, asset]
        .iter()
        .all(|component| valid_component(component))
    {
        return Err(DataError::bad_request(
            "invalid namespace, package, version or asset name",
        ));
    }
    let principal = access::authenticate_token(state, &parts.headers, domain).await?;
    let key = PackageKey {
        domain: domain.clone(),
        repository: repository.clone(),
        format: "generic".to_owned(),
        namespace: namespace.clone(),
        package: package.clone(),
    };
    match parts.method.as_str() {
        "GET" | "HEAD" => {
            access::require(principal.as_ref(), domain, repository, Permission::Read)?;
            let (lookup, wanted) = (key.clone(), version.clone());
            let row = state
                .store
                .with(move |connection| -> Result<_, DataError> {
                    Ok(store::version(connection, &lookup, &wanted)?)
                })
                .await?;
            let row = row
                .filter(|row| {
                    row.status == "Published"
                        || row.status == "Unfinished"
                        || row.status == "Unlisted"
                })
                .ok_or_else(|| {
                    DataError::not_found(format!("{namespace}/{package}@{version} not found"))
                })?;
            let id = row.id;
            let assets = state
                .store
                .with(move |connection| -> Result<_, DataError> {
                    Ok(store::assets(connection, id)?)
                })
                .await?;
            let found = assets
                .into_iter()
                .find(|candidate| &candidate.name == asset)
                .ok_or_else(|| DataError::not_found(format!("asset `{asset}` not found")))?;
            let mut response = state
                .store
                .open_blob(found.digests.sha256.clone())
                .await?
                .respond(&parts.headers);
            let headers = response.headers_mut();
            headers.insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            if let Ok(value) = HeaderValue::from_str(&found.digests.sha256) {
                headers.insert("x-checksum-sha256", value);
            }
            Ok(response)
        }
        "PUT" => {
            access::require(principal.as_ref(), domain, repository, Permission::Publish)?;
            crate::server::control::validate_generic_coordinates(
                namespace, package, version, asset,
            )
            .map_err(|error| DataError::bad_request(error.message))?;
            state.require_repository(domain, repository).await?;
            let unfinished = parts
                .uri
                .query()
                .is_some_and(|query| query.split('&').any(|pair| pair == "unfinished=true"));
            let spool = crate::server::ingest::spool(
                state.store.tmp_dir(),
                body,
                state.limits.max_upload_bytes,
                state.limits,
            )
            .await?;
            let size = spool.size();
            // Checked before the blob is placed, so a mismatch leaves nothing behind.
            if let Some(claimed) = parts
                .headers
                .get("x-checksum-sha256")
                .and_then(|value| value.to_str().ok())
                && !claimed.eq_ignore_ascii_case(&spool.digests().sha256)
            {
                let sha256 = spool.digests().sha256.clone();
                drop(spool);
                let _ = crate::server::ingest::sweep_tmp(state.store.tmp_dir());
                return Err(DataError::bad_request(format!(
                    "the body's sha256 {sha256} does not match x-checksum-sha256 {claimed}"
                )));
            }
            let placed = state.store.put_spool(spool).await?;
            let digests = placed.digests.clone();
            let asset_row = AssetRow {
                name: asset.clone(),
                size,
                digests: digests.clone(),
            };
            let (lookup, wanted, now) = (key.clone(), version.clone(), state.clock.now());
            let result = state
                .store
                .with(move |connection| -> Result<_, DataError> {
                    Ok(add_generic_asset(
                        connection, &lookup, &wanted, &asset_row, unfinished, now,
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
            match result {
                Ok(row) => Ok((StatusCode::CREATED, axum::Json(json!({ "version": row.version, "status": row.status, "sha256": digests.sha256 }))).into_response()),
                Err(AddAssetError::VersionClosed { status }) => {
                    Err(DataError::new(StatusCode::CONFLICT, format!("{namespace}/{package}@{version} is already {status}")))
                }
                                Err(AddAssetError::Blocked) => Err(DataError::new(
                    StatusCode::FORBIDDEN,
                    format!("publishing {namespace}/{package} is blocked by its package origin configuration (publish=BLOCK)"),
                )),
                Err(AddAssetError::GroupRefused(message)) => Err(DataError::new(StatusCode::FORBIDDEN, format!("{namespace}/{package}: {message}"))),
                Err(AddAssetError::AssetExists) => Err(DataError::new(StatusCode::CONFLICT, format!("asset `{asset}` already exists in {namespace}/{package}@{version}"))),
                Err(AddAssetError::Store(error)) => Err(error.into()),
            }
        }
        method => Err(DataError::method_not_allowed(method)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_components_cannot_traverse_once_decoded() {
        for bad in [
            "",
            ".",
            "..",
            "%2e%2e",
            "a%2fb",
            "..%2F..%2Fetc",
            "a%00b",
            "%0a",
        ] {
            assert!(!valid_component(&decode(bad)), "{bad}");
        }
        for good in ["a", "my%20file.tgz", "1.0.0", "..a", "a..b"] {
            assert!(valid_component(&decode(good)), "{good}");
        }
    }
}
